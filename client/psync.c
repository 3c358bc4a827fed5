/*
 * psync.c -- libpsync-client's typed calls: each builds its request,
 * checks what the library can check itself (names, timeouts, modes),
 * makes it through psync__call() (handle.c) and reads its reply's fields.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "handle.h"
#include "psync_proto.h"

/* A builder's failure: psync__call() reports result with this message. */
static bool
refuse(psync_t *h, int result, const char *fmt, ...)
{
	va_list	ap;

	if (h == NULL)
		return (false);
	va_start(ap, fmt);
	vsnprintf(h->errmsg, sizeof(h->errmsg), fmt, ap);
	va_end(ap);
	h->req_rc = result;
	return (false);
}

/*
 * Is s, the value of field what, a valid object name?  Checked here, so
 * that a bad one is PSYNC_EBAD_NAME with the offending byte named, not a
 * request jansson cannot encode.
 */
static bool
name_ok(psync_t *h, const char *what, const char *s)
{
	char	why[160];

	if (s == NULL)
		return (refuse(h, PSYNC_EINVAL, "%s must not be NULL", what));
	if (!psync_name_check(s, strlen(s), why, sizeof(why)))
		return (refuse(h, PSYNC_EBAD_NAME, "bad %s: %s", what, why));
	return (true);
}

/* Text that goes into a request as a string must be UTF-8. */
static bool
text_ok(psync_t *h, const char *what, const char *s)
{
	json_t	*v;

	if (s == NULL)
		return (true);
	if ((v = json_string(s)) == NULL)
		return (refuse(h, PSYNC_EINVAL, "%s is not valid UTF-8",
		    what));
	json_decref(v);
	return (true);
}

/* A request {op, name}, or with more fields in json_pack format. */
#define REQ(h, op, name)						\
	(name_ok((h), "name", (name)) ? json_pack("{s:s,s:s}", "op",	\
	    (op), "name", (name)) : NULL)

#define REQN(h, op, name, fmt, ...)					\
	(name_ok((h), "name", (name)) ? json_pack("{s:s,s:s," fmt "}",	\
	    "op", (op), "name", (name), __VA_ARGS__) : NULL)

/*
 * A timeout as the wire takes it: PSYNC_FOREVER and +infinity wait
 * forever (no field); any other negative tries once, as
 * multiprocessing's acquire(True, -2) does; NaN is no timeout at all.
 */
static json_t *
with_timeout(psync_t *h, json_t *req, double timeout)
{
	if (req == NULL)
		return (NULL);
	if (isnan(timeout)) {
		json_decref(req);
		refuse(h, PSYNC_EINVAL, "timeout is NaN");
		return (NULL);
	}
	if (timeout == PSYNC_FOREVER || (isinf(timeout) && timeout > 0))
		return (req);
	if (json_object_set_new(req, "timeout",
	    json_real(timeout < 0 ? 0 : timeout)) == -1) {
		json_decref(req);
		return (NULL);
	}
	return (req);
}

static int64_t
int_field(json_t *r, const char *key)
{
	return ((int64_t)json_integer_value(json_object_get(r, key)));
}

static bool
bool_field(json_t *r, const char *key)
{
	return (json_is_true(json_object_get(r, key)));
}

/* Run a request whose reply carries nothing of interest. */
static int
call_simple(psync_t *h, json_t *req)
{
	return (psync__call(h, req, NULL));
}

/* Run a request and return one JSON text of the reply (minus id, ok). */
static int
call_json(psync_t *h, json_t *req, char **json)
{
	json_t	*r;
	int	 rc;

	if (h == NULL || json == NULL) {
		json_decref(req);
		return (h == NULL ? PSYNC_EINVAL :
		    psync__fail(h, PSYNC_EINVAL, "json must not be NULL"));
	}
	if ((rc = psync__call(h, req, &r)) != PSYNC_OK)
		return (rc);
	json_object_del(r, "id");
	json_object_del(r, "ok");
	/* As the daemon wrote them: 0.512, not 0.51200000000000001. */
	*json = json_dumps(r, JSON_COMPACT | JSON_REAL_PRECISION(12));
	json_decref(r);
	return (*json == NULL ? psync__fail(h, PSYNC_ENOMEM, "out of memory") :
	    PSYNC_OK);
}

/* ---- server ops ---- */

PSYNC_EXPORT int
psync_ping(psync_t *h)
{
	return (call_simple(h, json_pack("{s:s}", "op", "ping")));
}

PSYNC_EXPORT int
psync_hello(psync_t *h, const char *client, uint64_t *session)
{
	json_t	*req, *r;
	int	 rc;

	req = client == NULL || name_ok(h, "client name", client) ?
	    json_pack("{s:s}", "op", "hello") : NULL;
	if (req != NULL && client != NULL)
		json_object_set_new(req, "client", json_string(client));
	if ((rc = psync__call(h, req, &r)) != PSYNC_OK)
		return (rc);
	if (session != NULL)
		*session = (uint64_t)int_field(r, "session");
	json_decref(r);
	return (PSYNC_OK);
}

PSYNC_EXPORT int
psync_set_lost_handler(psync_t *h, psync_lost_fn fn, void *arg)
{
	int	rc;

	if (h == NULL)
		return (PSYNC_EINVAL);
	if ((rc = psync__call(h, json_pack("{s:s,s:b}", "op", "hello",
	    "notices", 1), NULL)) != PSYNC_OK)
		return (rc);
	h->lost_fn = fn;
	h->lost_arg = arg;
	return (PSYNC_OK);
}

PSYNC_EXPORT int
psync_stat(psync_t *h, char **json)
{
	return (call_json(h, json_pack("{s:s}", "op", "stat"), json));
}

PSYNC_EXPORT int
psync_list(psync_t *h, const char *prefix, char **json)
{
	json_t	*req;

	req = text_ok(h, "prefix", prefix) ? json_pack("{s:s}", "op", "list") :
	    NULL;
	if (req != NULL && prefix != NULL)
		json_object_set_new(req, "prefix", json_string(prefix));
	return (call_json(h, req, json));
}

PSYNC_EXPORT int
psync_info(psync_t *h, const char *name, char **json)
{
	return (call_json(h, REQ(h, "info", name), json));
}

PSYNC_EXPORT int
psync_delete(psync_t *h, const char *name, bool force)
{
	return (call_simple(h, REQN(h, "delete", name, "s:b", "force", force)));
}

/* ---- acquisitions: {acquired, token?} ---- */

static int
acquired(psync_t *h, json_t *req, uint64_t *token, uint32_t *count,
    int64_t *value)
{
	json_t	*r;
	int	 rc;

	if ((rc = psync__call(h, req, &r)) != PSYNC_OK)
		return (rc);
	if (value != NULL)
		*value = int_field(r, "value");
	if (!bool_field(r, "acquired")) {
		json_decref(r);
		return (PSYNC_TIMEDOUT);
	}
	if (token != NULL)
		*token = (uint64_t)int_field(r, "token");
	if (count != NULL)
		*count = (uint32_t)int_field(r, "count");
	json_decref(r);
	return (PSYNC_OK);
}

PSYNC_EXPORT int
psync_lock_acquire(psync_t *h, const char *name, double timeout,
    uint64_t *token)
{
	return (acquired(h, with_timeout(h, REQ(h, "lock.acquire", name), timeout),
	    token, NULL, NULL));
}

PSYNC_EXPORT int
psync_lock_release(psync_t *h, const char *name)
{
	return (call_simple(h, REQ(h, "lock.release", name)));
}

PSYNC_EXPORT int
psync_rlock_acquire(psync_t *h, const char *name, double timeout,
    uint32_t *count, uint64_t *token)
{
	return (acquired(h, with_timeout(h, REQ(h, "rlock.acquire", name), timeout),
	    token, count, NULL));
}

PSYNC_EXPORT int
psync_rlock_release(psync_t *h, const char *name, uint32_t *count)
{
	json_t	*r;
	int	 rc;

	if ((rc = psync__call(h, REQ(h, "rlock.release", name), &r)) != PSYNC_OK)
		return (rc);
	if (count != NULL)
		*count = (uint32_t)int_field(r, "count");
	json_decref(r);
	return (PSYNC_OK);
}

PSYNC_EXPORT int
psync_rwlock_acquire(psync_t *h, const char *name, int mode, double timeout,
    uint64_t *token)
{
	if (h == NULL)
		return (PSYNC_EINVAL);
	if (mode != PSYNC_READ && mode != PSYNC_WRITE)
		return (psync__fail(h, PSYNC_EINVAL, "mode must be PSYNC_READ or "
		    "PSYNC_WRITE"));
	return (acquired(h, with_timeout(h, REQN(h, "rwlock.acquire", name, "s:s",
	    "mode", mode == PSYNC_READ ? "read" : "write"), timeout), token,
	    NULL, NULL));
}

PSYNC_EXPORT int
psync_rwlock_release(psync_t *h, const char *name)
{
	return (call_simple(h, REQ(h, "rwlock.release", name)));
}

/* ---- event ---- */

PSYNC_EXPORT int
psync_event_set(psync_t *h, const char *name)
{
	return (call_simple(h, REQ(h, "event.set", name)));
}

PSYNC_EXPORT int
psync_event_clear(psync_t *h, const char *name)
{
	return (call_simple(h, REQ(h, "event.clear", name)));
}

/* Run req and read the boolean key; false is PSYNC_TIMEDOUT if waited. */
static int
call_bool(psync_t *h, json_t *req, const char *key, bool *out, bool wait)
{
	json_t	*r;
	int	 rc;
	bool	 v;

	if ((rc = psync__call(h, req, &r)) != PSYNC_OK)
		return (rc);
	v = bool_field(r, key);
	json_decref(r);
	if (out != NULL)
		*out = v;
	return (wait && !v ? PSYNC_TIMEDOUT : PSYNC_OK);
}

PSYNC_EXPORT int
psync_event_is_set(psync_t *h, const char *name, bool *set)
{
	return (call_bool(h, REQ(h, "event.is_set", name), "set", set, false));
}

PSYNC_EXPORT int
psync_event_wait(psync_t *h, const char *name, double timeout)
{
	return (call_bool(h, with_timeout(h, REQ(h, "event.wait", name), timeout),
	    "set", NULL, true));
}

/* ---- condition ---- */

PSYNC_EXPORT int
psync_cond_wait(psync_t *h, const char *name, const char *lock,
    double timeout, uint64_t *token)
{
	json_t	*r;
	int	 rc;
	bool	 notified;

	if (h == NULL)
		return (PSYNC_EINVAL);
	rc = psync__call(h, with_timeout(h, name_ok(h, "lock name", lock) ?
	    REQN(h, "cond.wait", name, "s:s", "lock", lock) : NULL, timeout),
	    &r);
	if (rc != PSYNC_OK)
		return (rc);
	notified = bool_field(r, "notified");
	if (token != NULL)
		*token = (uint64_t)int_field(r, "token");
	json_decref(r);
	return (notified ? PSYNC_OK : PSYNC_TIMEDOUT);
}

static int
call_woken(psync_t *h, json_t *req, int *woken)
{
	json_t	*r;
	int	 rc;

	if ((rc = psync__call(h, req, &r)) != PSYNC_OK)
		return (rc);
	if (woken != NULL)
		*woken = (int)int_field(r, "woken");
	json_decref(r);
	return (PSYNC_OK);
}

PSYNC_EXPORT int
psync_cond_notify(psync_t *h, const char *name, int n, int *woken)
{
	return (call_woken(h, REQN(h, "cond.notify", name, "s:i", "n", n), woken));
}

PSYNC_EXPORT int
psync_cond_notify_all(psync_t *h, const char *name, int *woken)
{
	return (call_woken(h, REQ(h, "cond.notify_all", name), woken));
}

/* ---- semaphore ---- */

static int
call_value(psync_t *h, json_t *req, int64_t *value)
{
	json_t	*r;
	int	 rc;

	if ((rc = psync__call(h, req, &r)) != PSYNC_OK)
		return (rc);
	if (value != NULL)
		*value = int_field(r, "value");
	json_decref(r);
	return (PSYNC_OK);
}

PSYNC_EXPORT int
psync_sem_open(psync_t *h, const char *name, int64_t value, bool bounded,
    int64_t *current)
{
	return (call_value(h, REQN(h, "sem.value", name, "s:I,s:b", "value",
	    (json_int_t)value, "bounded", bounded), current));
}

PSYNC_EXPORT int
psync_sem_acquire(psync_t *h, const char *name, double timeout,
    int64_t *value)
{
	return (acquired(h, with_timeout(h, REQ(h, "sem.acquire", name), timeout),
	    NULL, NULL, value));
}

PSYNC_EXPORT int
psync_sem_release(psync_t *h, const char *name, int64_t n, int64_t *value)
{
	return (call_value(h, REQN(h, "sem.release", name, "s:I", "n",
	    (json_int_t)n), value));
}

PSYNC_EXPORT int
psync_sem_value(psync_t *h, const char *name, int64_t *value)
{
	return (call_value(h, REQ(h, "sem.value", name), value));
}

/* ---- barrier ---- */

PSYNC_EXPORT int
psync_barrier_open(psync_t *h, const char *name, unsigned parties)
{
	return (call_simple(h, REQN(h, "barrier.info", name, "s:I", "parties",
	    (json_int_t)parties)));
}

PSYNC_EXPORT int
psync_barrier_wait(psync_t *h, const char *name, double timeout,
    unsigned *index)
{
	json_t	*r;
	int	 rc;

	rc = psync__call(h, with_timeout(h, REQ(h, "barrier.wait", name), timeout), &r);
	if (rc != PSYNC_OK)
		return (rc);
	if (index != NULL)
		*index = (unsigned)int_field(r, "index");
	json_decref(r);
	return (PSYNC_OK);
}

PSYNC_EXPORT int
psync_barrier_abort(psync_t *h, const char *name)
{
	return (call_simple(h, REQ(h, "barrier.abort", name)));
}

PSYNC_EXPORT int
psync_barrier_reset(psync_t *h, const char *name)
{
	return (call_simple(h, REQ(h, "barrier.reset", name)));
}

PSYNC_EXPORT int
psync_barrier_info(psync_t *h, const char *name, unsigned *parties,
    unsigned *n_waiting, bool *broken)
{
	json_t	*r;
	int	 rc;

	if ((rc = psync__call(h, REQ(h, "barrier.info", name), &r)) != PSYNC_OK)
		return (rc);
	if (parties != NULL)
		*parties = (unsigned)int_field(r, "parties");
	if (n_waiting != NULL)
		*n_waiting = (unsigned)int_field(r, "n_waiting");
	if (broken != NULL)
		*broken = bool_field(r, "broken");
	json_decref(r);
	return (PSYNC_OK);
}

/* ---- counter ---- */

PSYNC_EXPORT int
psync_counter_get(psync_t *h, const char *name, int64_t *value)
{
	return (call_value(h, REQ(h, "counter.get", name), value));
}

PSYNC_EXPORT int
psync_counter_set(psync_t *h, const char *name, int64_t value)
{
	return (call_simple(h, REQN(h, "counter.set", name, "s:I", "value",
	    (json_int_t)value)));
}

PSYNC_EXPORT int
psync_counter_add(psync_t *h, const char *name, int64_t delta,
    int64_t *value)
{
	return (call_value(h, REQN(h, "counter.add", name, "s:I", "delta",
	    (json_int_t)delta), value));
}

PSYNC_EXPORT int
psync_counter_cas(psync_t *h, const char *name, int64_t expect,
    int64_t value, bool *swapped, int64_t *current)
{
	json_t	*r;
	int	 rc;

	rc = psync__call(h, REQN(h, "counter.cas", name, "s:I,s:I", "expect",
	    (json_int_t)expect, "value", (json_int_t)value), &r);
	if (rc != PSYNC_OK)
		return (rc);
	if (swapped != NULL)
		*swapped = bool_field(r, "swapped");
	if (current != NULL)
		*current = int_field(r, "value");
	json_decref(r);
	return (PSYNC_OK);
}

