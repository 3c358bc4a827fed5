/*
 * echo-server.c -- the bench's floor: the least a libevent + jansson
 * JSON-lines server over a Unix socket can do per request.  Each line is
 * parsed with jansson and answered {"ok":true} (built and dumped with
 * jansson), through bufferevents, the plainest libevent transport; so
 * psync's cost per request shows as a ratio to this.
 *
 *   echo-server SOCKET
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <jansson.h>

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct evbuffer	*in = bufferevent_get_input(bev);
	struct evbuffer	*out = bufferevent_get_output(bev);
	struct evbuffer_ptr p;
	json_t		*req, *rep;
	char		 buf[256];
	size_t		 n, len;
	const char	*line;

	(void)arg;
	for (;;) {
		p = evbuffer_search_eol(in, NULL, &n, EVBUFFER_EOL_LF);
		if (p.pos < 0)
			break;
		len = (size_t)p.pos;
		line = (const char *)evbuffer_pullup(in, (ev_ssize_t)len + 1);
		req = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
		rep = json_object();
		json_object_set_new(rep, "ok", json_boolean(req != NULL));
		n = json_dumpb(rep, buf, sizeof(buf) - 1, JSON_COMPACT);
		buf[n] = '\n';
		evbuffer_add(out, buf, n + 1);
		json_decref(rep);
		json_decref(req);
		evbuffer_drain(in, len + 1);
	}
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	(void)arg;
	bufferevent_free(bev);
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int len, void *arg)
{
	struct bufferevent	*bev;

	(void)sa;
	(void)len;
	(void)arg;
	bev = bufferevent_socket_new(evconnlistener_get_base(l), fd,
	    BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev, read_cb, NULL, event_cb, NULL);
	bufferevent_enable(bev, EV_READ);
}

static void
stop_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopbreak(arg);
}

int
main(int argc, char **argv)
{
	struct event_base	*base;
	struct evconnlistener	*l;
	struct event		*sig;
	struct sockaddr_un	 sun;

	if (argc != 2) {
		fprintf(stderr, "usage: echo-server SOCKET\n");
		return (2);
	}
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", argv[1]);
	unlink(argv[1]);
	l = evconnlistener_new_bind(base, accept_cb, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 4096,
	    (struct sockaddr *)&sun, sizeof(sun));
	if (l == NULL) {
		perror("echo-server: bind");
		return (1);
	}
	sig = evsignal_new(base, SIGTERM, stop_cb, base);
	evsignal_add(sig, NULL);
	event_base_dispatch(base);
	evconnlistener_free(l);
	event_free(sig);
	event_base_free(base);
	unlink(argv[1]);
	return (0);
}
