/*
 * request.h -- one parsed request, field validation, reply builders.
 *
 * Layer 1, request: includes reply.h and proto/ only; the model and the
 * session it names are opaque here.
 *
 * A handler gets a struct request, reads its fields through the rq_*
 * helpers and returns HR_DONE (its reply is rq->reply), HR_PENDING (a
 * struct wait now stands for it) or HR_ERROR (after rq_fail()).
 */
#ifndef PSYNCD_REQUEST_H
#define PSYNCD_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "psync_proto.h"
#include "reply.h"

struct model;
struct object;
struct session;

/* What every handler, and every step a handler delegates to, returns. */
enum hret {
	HR_DONE,		/* answered: rq->reply goes out */
	HR_PENDING,		/* a struct wait answers it later */
	HR_ERROR		/* rq_fail() said why: an error reply */
};

struct request {
	struct model	*model;
	struct session	*sess;		/* whose request */
	json_t		*json;		/* the request object, owned */
	json_t		*id;		/* borrowed from json, or NULL */
	enum psync_op	 op;
	struct reply	 reply;		/* the success reply, filled by handlers */
	struct object	*created;	/* by this request: undone if it fails */
	enum psync_err	 err;
	char		 msg[1024];	/* a deadlock cycle can be long */
};

/* A handler: one op of one primitive (see dispatch.c). */
typedef enum hret (*handler_fn)(struct request *);

/*
 * Start rq as a request of s in m, with nothing decoded yet.  The caller
 * owns rq (usually on its stack) and ends it with request_done.
 */
void		 request_init(struct request *rq, struct model *m,
		    struct session *s);

/*
 * Decode line (len bytes, no terminator) into rq: a JSON object with a
 * valid id and an op that handlers serves (non-NULL).  HR_DONE, or
 * HR_ERROR with rq failed (bad_request, unknown_op).
 */
enum hret	 request_decode(struct request *rq, const char *line,
		    size_t len, const handler_fn handlers[]);

/* Free what rq owns (its JSON and reply). */
void		 request_done(struct request *rq);

/* Fail the request with err and a printf-style message; HR_ERROR. */
enum hret	 rq_fail(struct request *, enum psync_err err, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));

/* The success reply {id, ok: true, ...} that the handler fills. */
#define rq_reply(rq)	(&(rq)->reply)

/*
 * Field readers.  Each returns HR_DONE and stores the value, or HR_ERROR
 * with the request failed (bad_request, or bad_name for names), like a
 * handler.
 */
enum hret	 rq_name(struct request *, const char *key, const char **name,
		    size_t *len);
enum hret	 rq_timeout(struct request *, double *timeout);
enum hret	 rq_bool(struct request *, const char *key, bool dflt,
		    bool *out);
enum hret	 rq_int(struct request *, const char *key, bool required,
		    json_int_t dflt, json_int_t *out);
enum hret	 rq_opt_string(struct request *, const char *key,
		    const char **s, size_t *len);

/*
 * A name made safe to quote in a message: valid UTF-8, cut short with
 * "..." past 92 bytes.  Returned by value, so that each quote in one
 * message has its own buffer and no caller declares one.
 */
struct quoted {
	char	s[96];
};

/* s[0..len) quoted. */
struct quoted	 quoted(const char *s, size_t len);

/* The request's valid "name" quoted; "" if it has none. */
struct quoted	 rq_quoted_name(const struct request *);

/*
 * Quoted text for a message's %s.  The buffer is a temporary that lives
 * to the end of the full expression (C11 6.2.4p8): pass it straight to
 * the printf-like call, never keep the pointer.
 */
#define QUOTED(str, len) (quoted((str), (len)).s)
#define QUOTED_OBJ(o)	(quoted(object_name(o), (o)->namelen).s)
#define QUOTED_NAME(rq)	(rq_quoted_name(rq).s)

#endif
