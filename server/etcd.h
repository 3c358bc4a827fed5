/*
 * etcd.h -- a client of etcd's v3 HTTP/JSON gateway on the daemon's loop.
 *
 * Layer 0, util: libevent's evhttp, jansson and libsodium only.
 *
 * A unary call is one POST /v3/... with a JSON object each way, over a
 * small pool of keep-alive connections to the current member (evhttp
 * runs one request per connection at a time).  A watch is one long
 * chunked response whose lines are results.  When a member cannot be
 * reached the client moves on to the next URL; the call fails and the
 * caller decides whether to retry.  Nothing here knows psync's keys.
 */
#ifndef PSYNCD_ETCD_H
#define PSYNCD_ETCD_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct etcd;
struct etcd_call;
struct etcd_watch;
struct event_base;

/*
 * A call's one answer: reply (borrowed for the callback) with err NULL,
 * or reply NULL and err saying why (unreachable, an HTTP error, etcd's
 * own message).
 */
typedef void	(*etcd_reply_fn)(void *arg, json_t *reply, const char *err);

/*
 * A watch's results, one at a time (borrowed), until it ends: then once
 * with result NULL and why it ended in err.
 */
typedef void	(*etcd_watch_fn)(void *arg, json_t *result, const char *err);

/*
 * A client of the members at urls ("http://host:port[,http://...]") on
 * base.  A call unanswered after timeout_ms fails, and the member with
 * it: later calls, and the watches, move to the next one.  Returns it
 * (owned by the caller: etcd_free), or NULL with a message in cause if
 * a URL does not parse.
 */
struct etcd	*etcd_new(struct event_base *base, const char *urls,
		    int timeout_ms, char *cause, size_t size);

/*
 * Free e.  Every call still pending is answered first, with reply NULL
 * and err ETCD_CLOSING, so that its owner can free what it holds; a
 * callback must not post from there (etcd_post then does nothing).
 * Watches are closed without a call back.
 */
void		 etcd_free(struct etcd *e);

/* The err of the calls that etcd_free answers (compare the pointer). */
extern const char ETCD_CLOSING[];

/*
 * POST body (a JSON object; the reference is stolen) to path, such as
 * "/v3/kv/txn".  fn is called once, never before this returns.  Returns
 * the call, valid until fn is called or etcd_cancel; NULL (body freed,
 * fn never called) while etcd_free runs.
 */
struct etcd_call *etcd_post(struct etcd *e, const char *path, json_t *body,
		    etcd_reply_fn fn, void *arg);

/*
 * etcd_post for a call whose lateness says its member is stalled (a
 * keepalive): unanswered after late_ms, the member is left, as when it
 * fails (its calls in flight fail; later calls and watches move on).
 */
struct etcd_call *etcd_post_probe(struct etcd *e, const char *path,
		    json_t *body, int late_ms, etcd_reply_fn fn, void *arg);

/* Forget c: its fn will not be called (the request may still land). */
void		 etcd_cancel(struct etcd_call *c);

/*
 * Open a watch with create_request (stolen): {"key", "range_end",
 * "start_revision", "prev_kv", ...}.  Returns it, or NULL if the request
 * cannot be made.  The caller frees it with etcd_watch_close, after fn's
 * end call too, but never from inside fn.
 */
struct etcd_watch *etcd_watch_open(struct etcd *e, json_t *create_request,
		    etcd_watch_fn fn, void *arg);

/* Close w without calling back. */
void		 etcd_watch_close(struct etcd_watch *w);

/* The URL of the member in use, for stat and logs. */
const char	*etcd_member(const struct etcd *e);

/* Whether the last call reached a member (none failed since). */
int		 etcd_connected(const struct etcd *e);

/* bytes[0..len) as etcd's base64, a new JSON string. */
json_t		*etcd_b64(const void *bytes, size_t len);

/*
 * Decode the base64 string v into buf (size bytes, NUL-terminated).
 * Returns the length, or -1 if v is not a string, not base64, or longer.
 */
ssize_t		 etcd_unb64(const json_t *v, char *buf, size_t size);

/* obj's int64 field key (etcd sends them as strings); 0 if absent. */
int64_t		 etcd_int(const json_t *obj, const char *key);

/* An int64 as etcd wants it: a new JSON string. */
json_t		*etcd_int_json(int64_t v);

#endif
