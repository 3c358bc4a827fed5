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
 * Field readers.  Each returns 0 and stores the value, or -1 with the
 * request failed (bad_request, or bad_name for names).
 */
int		 rq_name(struct request *, const char *key, const char **name,
		    size_t *len);
int		 rq_timeout(struct request *, double *timeout);
int		 rq_bool(struct request *, const char *key, bool dflt,
		    bool *out);
int		 rq_int(struct request *, const char *key, bool required,
		    json_int_t dflt, json_int_t *out);
int		 rq_opt_string(struct request *, const char *key,
		    const char **s, size_t *len);

/* Copy s[0..len) into buf as a message-safe quote (UTF-8, truncated). */
const char	*quote(char *buf, size_t size, const char *s, size_t len);

/* The request's valid "name" quoted into buf (size bytes); "" if none. */
const char	*rq_name_quoted(struct request *, char *buf, size_t size);

/* The name of object o quoted into the array buf. */
#define QUOTE(buf, o)	quote((buf), sizeof(buf), object_name(o), (o)->namelen)

#endif
