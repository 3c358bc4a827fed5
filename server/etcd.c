/*
 * etcd.c -- etcd's v3 gateway over libevent's HTTP client.
 *
 * The pool: ETCD_POOL keep-alive connections to the current member, each
 * carrying one request at a time; calls beyond that queue in order.  A
 * transport failure (connect refused, reset, timeout) fails the call and
 * moves every later call to the next member; the connections are made
 * again there.  A watch has a connection of its own, with a long timeout,
 * and its chunks are cut into lines here (one chunk is not one message).
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sodium.h>

#include "etcd.h"
#include "log.h"
#include "xmalloc.h"

#define ETCD_MEMBERS_MAX	16
#define ETCD_POOL		4
#define ETCD_WATCH_TIMEOUT	(24 * 3600)	/* progress is watched above */

struct etcd_member {
	char			*url;
	char			*host;
	int			 port;
};

struct etcd_conn {
	struct evhttp_connection *evcon;	/* to members[member] */
	int			 fd;		/* whose TCP_NODELAY is set */
	unsigned		 member;
	struct etcd_call	*call;		/* in flight, or NULL */
};

struct etcd_call {
	TAILQ_ENTRY(etcd_call)	 entry;		/* queued: not yet sent */
	struct etcd		*e;
	struct etcd_conn	*conn;		/* sent on it, or NULL */
	char			*path;
	char			*body;		/* JSON text, owned */
	etcd_reply_fn		 fn;		/* NULL: cancelled */
	void			*arg;
	struct event		*late;		/* a probe's deadline, or NULL */
	int			 late_ms;
};

TAILQ_HEAD(etcd_call_list, etcd_call);

struct etcd_watch {
	TAILQ_ENTRY(etcd_watch)	 entry;		/* on its etcd's watches */
	struct etcd		*e;
	struct evhttp_connection *evcon;
	unsigned		 member;	/* watched there */
	struct evbuffer		*lines;		/* bytes not yet a whole line */
	struct event		*failed;	/* its member failed: tell fn */
	etcd_watch_fn		 fn;
	void			*arg;
	bool			 ended;
};

TAILQ_HEAD(etcd_watch_list, etcd_watch);

const char ETCD_CLOSING[] = "psyncd is closing its etcd client";

struct etcd {
	struct event_base	*base;
	bool			 closing;	/* in etcd_free */
	struct etcd_member	 members[ETCD_MEMBERS_MAX];
	unsigned		 nmembers;
	unsigned		 current;
	struct etcd_conn	 pool[ETCD_POOL];
	struct etcd_call_list	 queue;
	struct etcd_watch_list	 watches;
	struct timeval		 call_timeout;
	bool			 connected;
};

static void	etcd_send_queued(struct etcd *);
static void	etcd_nodelay(struct evhttp_connection *, int *);
static void	etcd_call_failed_cb(evutil_socket_t, short, void *);

static int
etcd_parse_member(struct etcd_member *m, const char *url, char *cause,
    size_t size)
{
	struct evhttp_uri	*u;
	const char		*host, *scheme;

	if ((u = evhttp_uri_parse(url)) == NULL ||
	    (scheme = evhttp_uri_get_scheme(u)) == NULL ||
	    strcmp(scheme, "http") != 0 ||
	    (host = evhttp_uri_get_host(u)) == NULL) {
		snprintf(cause, size, "--cluster: '%s' is not an http:// URL "
		    "of an etcd member", url);
		if (u != NULL)
			evhttp_uri_free(u);
		return (-1);
	}
	m->url = xstrdup(url);
	m->host = xstrdup(host);
	m->port = evhttp_uri_get_port(u) > 0 ? evhttp_uri_get_port(u) : 2379;
	evhttp_uri_free(u);
	return (0);
}

struct etcd *
etcd_new(struct event_base *base, const char *urls, int timeout_ms,
    char *cause, size_t size)
{
	struct etcd	*e;
	char		*copy, *p, *tok;

	e = xcalloc(1, sizeof(*e));
	e->base = base;
	e->call_timeout.tv_sec = timeout_ms / 1000;
	e->call_timeout.tv_usec = (timeout_ms % 1000) * 1000;
	TAILQ_INIT(&e->queue);
	TAILQ_INIT(&e->watches);
	copy = xstrdup(urls);
	for (p = copy; (tok = strsep(&p, ",")) != NULL;) {
		if (*tok == '\0')
			continue;
		if (e->nmembers == ETCD_MEMBERS_MAX) {
			snprintf(cause, size, "--cluster: more than %d URLs",
			    ETCD_MEMBERS_MAX);
			goto fail;
		}
		if (etcd_parse_member(&e->members[e->nmembers], tok, cause,
		    size) == -1)
			goto fail;
		e->nmembers++;
	}
	if (e->nmembers == 0) {
		snprintf(cause, size, "--cluster: no etcd URL given");
		goto fail;
	}
	free(copy);
	if (sodium_init() < 0) {
		snprintf(cause, size, "cannot initialise libsodium");
		etcd_free(e);
		return (NULL);
	}
	e->connected = true;
	return (e);
fail:
	free(copy);
	etcd_free(e);
	return (NULL);
}

static void
etcd_call_free(struct etcd_call *c)
{
	if (c->late != NULL)
		event_free(c->late);
	free(c->path);
	free(c->body);
	free(c);
}

void
etcd_free(struct etcd *e)
{
	struct etcd_call	*c;
	struct etcd_watch	*w;
	unsigned		 i;

	if (e == NULL)
		return;
	e->closing = true;
	/*
	 * Freeing a connection frees its request without calling it back:
	 * the calls in flight and queued are answered here instead.
	 */
	for (i = 0; i < ETCD_POOL; i++) {
		if (e->pool[i].evcon != NULL)
			evhttp_connection_free(e->pool[i].evcon);
		if ((c = e->pool[i].call) != NULL) {
			if (c->fn != NULL)
				c->fn(c->arg, NULL, ETCD_CLOSING);
			etcd_call_free(c);
		}
	}
	while ((c = TAILQ_FIRST(&e->queue)) != NULL) {
		TAILQ_REMOVE(&e->queue, c, entry);
		if (c->fn != NULL)
			c->fn(c->arg, NULL, ETCD_CLOSING);
		etcd_call_free(c);
	}
	/* Watches still open are closed, without a call back. */
	while ((w = TAILQ_FIRST(&e->watches)) != NULL)
		etcd_watch_close(w);
	for (i = 0; i < e->nmembers; i++) {
		free(e->members[i].url);
		free(e->members[i].host);
	}
	free(e);
}

const char *
etcd_member(const struct etcd *e)
{
	return (e->members[e->current].url);
}

int
etcd_connected(const struct etcd *e)
{
	return (e->connected);
}

/*
 * The current member failed: later calls go to the next one, and the
 * calls still in flight to it fail now (from the loop) rather than wait
 * out their timeout on a member that is gone.
 */
static void
etcd_fail_over(struct etcd *e, const char *why)
{
	struct etcd_conn	*k;
	struct etcd_call	*c;
	struct etcd_watch	*w;
	struct timeval		 now = { 0, 0 };
	unsigned		 i, failed = e->current;

	if (e->connected)
		log_warn("cluster: etcd member %s: %s; trying the next",
		    etcd_member(e), why);
	e->connected = false;
	e->current = (e->current + 1) % e->nmembers;
	if (e->current == failed)
		return;			/* one member: nothing else to try */
	/*
	 * A stalled member keeps its watch stream open and silent: a watch
	 * there ends with the member, to be opened again on the next.
	 */
	TAILQ_FOREACH(w, &e->watches, entry) {
		if (w->member == failed && !w->ended) {
			w->ended = true;
			evtimer_add(w->failed, &now);
		}
	}
	for (i = 0; i < ETCD_POOL; i++) {
		k = &e->pool[i];
		if (k->member != failed || (c = k->call) == NULL)
			continue;
		/* Freeing the connection drops its request unanswered. */
		evhttp_connection_free(k->evcon);
		k->evcon = NULL;
		k->call = NULL;
		c->conn = NULL;
		if (event_base_once(e->base, -1, EV_TIMEOUT,
		    etcd_call_failed_cb, c, NULL) == -1) {
			log_error("etcd: cannot fail a call");
			etcd_call_free(c);
		}
	}
}

/* The message of an HTTP error reply: etcd's "message" if it has one. */
static void
etcd_error_text(struct evhttp_request *req, const char *body, size_t len,
    char *buf, size_t size)
{
	json_t		*j;
	const char	*msg = NULL;

	if ((j = json_loadb(body, len, 0, NULL)) != NULL)
		msg = json_string_value(json_object_get(j, "message"));
	snprintf(buf, size, "etcd: HTTP %d%s%s",
	    evhttp_request_get_response_code(req), msg != NULL ? ": " : "",
	    msg != NULL ? msg : "");
	json_decref(j);
}

static void
etcd_done_cb(struct evhttp_request *req, void *arg)
{
	struct etcd_call	*c = arg;
	struct etcd		*e = c->e;
	struct evbuffer		*in;
	const char		*body = "";
	size_t			 len = 0;
	char			 err[256];
	json_t			*j = NULL;
	int			 code;

	if (c->conn != NULL)
		c->conn->call = NULL;
	code = req != NULL ? evhttp_request_get_response_code(req) : 0;
	log_debug("etcd: %s: HTTP %d", c->path, code);
	if (req != NULL && (in = evhttp_request_get_input_buffer(req)) !=
	    NULL && (len = evbuffer_get_length(in)) > 0)
		body = (const char *)evbuffer_pullup(in, -1);
	if (code == 0) {
		snprintf(err, sizeof(err), "etcd member %s unreachable",
		    etcd_member(e));
		etcd_fail_over(e, "unreachable");
	} else {
		e->connected = true;
		if (code != 200)
			etcd_error_text(req, body, len, err, sizeof(err));
		else if ((j = json_loadb(body, len, 0, NULL)) == NULL ||
		    !json_is_object(j))
			snprintf(err, sizeof(err), "etcd: a reply that is "
			    "not a JSON object");
	}
	if (c->fn != NULL)
		c->fn(c->arg, j != NULL && json_is_object(j) ? j : NULL,
		    j != NULL && json_is_object(j) ? NULL : err);
	json_decref(j);
	etcd_call_free(c);
	etcd_send_queued(e);
}

/*
 * No Nagle on etcd's connections: a request or a release must not sit a
 * delayed ACK's 40 ms behind the previous one.  evhttp makes a new
 * socket on each reconnect, so this runs after each request is made
 * and acts when the socket is new.
 */
static void
etcd_nodelay(struct evhttp_connection *evcon, int *last)
{
	struct bufferevent	*bev = evhttp_connection_get_bufferevent(evcon);
	int			 fd, on = 1;

	if (bev == NULL || (fd = bufferevent_getfd(bev)) == -1 || fd == *last)
		return;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) == -1)
		log_debug("etcd: TCP_NODELAY: %s", strerror(errno));
	*last = fd;
}

/* A connection of the pool to the current member, idle; or NULL. */
static struct etcd_conn *
etcd_idle_conn(struct etcd *e)
{
	struct etcd_member	*m = &e->members[e->current];
	struct etcd_conn	*k;
	unsigned		 i;

	for (i = 0; i < ETCD_POOL; i++) {
		k = &e->pool[i];
		if (k->call != NULL)
			continue;
		/* A connection left from a failed member is made again. */
		if (k->evcon != NULL && k->member != e->current) {
			evhttp_connection_free(k->evcon);
			k->evcon = NULL;
		}
		if (k->evcon == NULL) {
			k->member = e->current;
			k->fd = -1;
			k->evcon = evhttp_connection_base_new(e->base, NULL,
			    m->host, (unsigned short)m->port);
			if (k->evcon == NULL)
				return (NULL);
			evhttp_connection_set_timeout_tv(k->evcon,
			    &e->call_timeout);
		}
		return (k);
	}
	return (NULL);
}

static struct evhttp_request *
etcd_request(struct etcd *e, void (*cb)(struct evhttp_request *, void *),
    void *arg, const char *body)
{
	struct evhttp_request	*req;
	struct evkeyvalq	*h;
	char			 host[300];

	if ((req = evhttp_request_new(cb, arg)) == NULL)
		return (NULL);
	h = evhttp_request_get_output_headers(req);
	snprintf(host, sizeof(host), "%s:%d", e->members[e->current].host,
	    e->members[e->current].port);
	if (evhttp_add_header(h, "Host", host) == -1 ||
	    evhttp_add_header(h, "Content-Type", "application/json") == -1 ||
	    evbuffer_add(evhttp_request_get_output_buffer(req), body,
	    strlen(body)) == -1) {
		evhttp_request_free(req);
		return (NULL);
	}
	return (req);
}

static void
etcd_send_queued(struct etcd *e)
{
	struct etcd_call	*c;
	struct etcd_conn	*k;
	struct evhttp_request	*req;

	while ((c = TAILQ_FIRST(&e->queue)) != NULL) {
		if ((k = etcd_idle_conn(e)) == NULL)
			return;
		TAILQ_REMOVE(&e->queue, c, entry);
		if ((req = etcd_request(e, etcd_done_cb, c, c->body)) == NULL ||
		    evhttp_make_request(k->evcon, req, EVHTTP_REQ_POST,
		    c->path) == -1) {
			/*
			 * evhttp frees req on a failed make_request.  The
			 * call fails from the loop, never inside etcd_post.
			 */
			if (event_base_once(e->base, -1, EV_TIMEOUT,
			    etcd_call_failed_cb, c, NULL) == -1) {
				log_error("etcd: cannot fail a call");
				etcd_call_free(c);
			}
			continue;
		}
		c->conn = k;
		k->call = c;
		etcd_nodelay(k->evcon, &k->fd);
		log_debug("etcd: %s sent on connection %d", c->path,
		    (int)(k - e->pool));
	}
}

static void
etcd_call_failed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct etcd_call	*c = arg;

	(void)fd;
	(void)what;
	if (c->fn != NULL)
		c->fn(c->arg, NULL, "etcd: cannot make a request");
	etcd_call_free(c);
}

struct etcd_call *
etcd_post(struct etcd *e, const char *path, json_t *body, etcd_reply_fn fn,
    void *arg)
{
	struct etcd_call	*c;

	if (e->closing) {
		json_decref(body);
		return (NULL);
	}
	c = xcalloc(1, sizeof(*c));
	c->e = e;
	c->path = xstrdup(path);
	c->body = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (c->body == NULL)
		c->body = xstrdup("{}");
	c->fn = fn;
	c->arg = arg;
	TAILQ_INSERT_TAIL(&e->queue, c, entry);
	etcd_send_queued(e);
	return (c);
}

/* A probe went unanswered too long: its member is stalled, leave it. */
static void
etcd_call_late_cb(evutil_socket_t fd, short what, void *arg)
{
	struct etcd_call	*c = arg;
	struct etcd		*e = c->e;
	char			 why[96];

	(void)fd;
	(void)what;
	if (c->conn != NULL && c->conn->member != e->current)
		return;			/* it has failed over already */
	snprintf(why, sizeof(why), "%s unanswered for %d ms", c->path,
	    c->late_ms);
	etcd_fail_over(e, why);
}

struct etcd_call *
etcd_post_probe(struct etcd *e, const char *path, json_t *body, int late_ms,
    etcd_reply_fn fn, void *arg)
{
	struct etcd_call	*c;
	struct timeval		 tv;

	if ((c = etcd_post(e, path, body, fn, arg)) == NULL)
		return (NULL);
	tv.tv_sec = late_ms / 1000;
	tv.tv_usec = (late_ms % 1000) * 1000;
	c->late_ms = late_ms;
	if ((c->late = evtimer_new(e->base, etcd_call_late_cb, c)) == NULL ||
	    evtimer_add(c->late, &tv) == -1)
		log_warn("etcd: cannot time %s; it is not a probe", path);
	return (c);
}

void
etcd_cancel(struct etcd_call *c)
{
	c->fn = NULL;
}

/* Whole lines of the watch's stream: one JSON object each. */
static void
etcd_watch_chunk_cb(struct evhttp_request *req, void *arg)
{
	struct etcd_watch	*w = arg;
	json_t			*j, *result;
	char			*line;
	size_t			 len;

	if (evbuffer_add_buffer(w->lines,
	    evhttp_request_get_input_buffer(req)) == -1)
		return;
	while (!w->ended && (line = evbuffer_readln(w->lines, &len,
	    EVBUFFER_EOL_LF)) != NULL) {
		j = json_loadb(line, len, 0, NULL);
		free(line);
		if (j == NULL)
			continue;
		if ((result = json_object_get(j, "result")) != NULL)
			w->fn(w->arg, result, NULL);
		else if (json_object_get(j, "error") != NULL) {
			w->ended = true;
			w->fn(w->arg, NULL, "etcd ended the watch with an "
			    "error");
		}
		json_decref(j);
	}
}

static void
etcd_watch_failed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct etcd_watch	*w = arg;

	(void)fd;
	(void)what;
	w->fn(w->arg, NULL, "its etcd member failed");
}

static void
etcd_watch_done_cb(struct evhttp_request *req, void *arg)
{
	struct etcd_watch	*w = arg;

	(void)req;
	if (!w->ended) {
		w->ended = true;
		etcd_fail_over(w->e, "the watch stream ended");
		w->fn(w->arg, NULL, "the watch stream ended");
	}
}

struct etcd_watch *
etcd_watch_open(struct etcd *e, json_t *create_request, etcd_watch_fn fn,
    void *arg)
{
	struct etcd_member	*m = &e->members[e->current];
	struct etcd_watch	*w;
	struct evhttp_request	*req;
	json_t			*body;
	char			*text;
	int			 fd;

	body = json_pack("{s:o}", "create_request", create_request);
	text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text == NULL)
		return (NULL);
	w = xcalloc(1, sizeof(*w));
	w->e = e;
	w->fn = fn;
	w->arg = arg;
	w->member = e->current;
	TAILQ_INSERT_TAIL(&e->watches, w, entry);
	if ((w->lines = evbuffer_new()) == NULL ||
	    (w->failed = evtimer_new(e->base, etcd_watch_failed_cb,
	    w)) == NULL ||
	    (w->evcon = evhttp_connection_base_new(e->base, NULL, m->host,
	    (unsigned short)m->port)) == NULL)
		goto fail;
	evhttp_connection_set_timeout(w->evcon, ETCD_WATCH_TIMEOUT);
	if ((req = etcd_request(e, etcd_watch_done_cb, w, text)) == NULL)
		goto fail;
	evhttp_request_set_chunked_cb(req, etcd_watch_chunk_cb);
	if (evhttp_make_request(w->evcon, req, EVHTTP_REQ_POST,
	    "/v3/watch") == -1)
		goto fail;
	fd = -1;
	etcd_nodelay(w->evcon, &fd);
	free(text);
	return (w);
fail:
	free(text);
	etcd_watch_close(w);
	return (NULL);
}

void
etcd_watch_close(struct etcd_watch *w)
{
	if (w == NULL)
		return;
	w->ended = true;
	TAILQ_REMOVE(&w->e->watches, w, entry);
	if (w->failed != NULL)
		event_free(w->failed);
	/* Freeing the connection cancels the request without its callback. */
	if (w->evcon != NULL)
		evhttp_connection_free(w->evcon);
	if (w->lines != NULL)
		evbuffer_free(w->lines);
	free(w);
}

json_t *
etcd_b64(const void *bytes, size_t len)
{
	size_t	 n = sodium_base64_encoded_len(len,
		    sodium_base64_VARIANT_ORIGINAL);
	char	*buf = xmalloc(n);
	json_t	*j;

	sodium_bin2base64(buf, n, bytes, len, sodium_base64_VARIANT_ORIGINAL);
	j = json_string(buf);
	free(buf);
	return (j);
}

ssize_t
etcd_unb64(const json_t *v, char *buf, size_t size)
{
	const char	*s;
	size_t		 len;

	if (!json_is_string(v) || size == 0)
		return (-1);
	s = json_string_value(v);
	if (sodium_base642bin((unsigned char *)buf, size - 1, s,
	    json_string_length(v), NULL, &len, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0)
		return (-1);
	buf[len] = '\0';
	return ((ssize_t)len);
}

int64_t
etcd_int(const json_t *obj, const char *key)
{
	json_t	*v = json_object_get(obj, key);

	if (json_is_integer(v))
		return (json_integer_value(v));
	if (json_is_string(v))
		return (strtoll(json_string_value(v), NULL, 10));
	return (0);
}

json_t *
etcd_int_json(int64_t v)
{
	char	buf[32];

	snprintf(buf, sizeof(buf), "%lld", (long long)v);
	return (json_string(buf));
}
