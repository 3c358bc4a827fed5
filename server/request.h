/*
 * request.h -- one parsed request, field validation, reply builders.
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

struct conn;
struct server;

/* What every handler, and every step a handler delegates to, returns. */
enum hret {
	HR_DONE,		/* answered: rq->reply goes out */
	HR_PENDING,		/* a struct wait answers it later */
	HR_ERROR		/* rq_fail() said why: an error reply */
};

struct request {
	struct server	*srv;
	struct conn	*conn;
	json_t		*json;		/* the request object, owned */
	json_t		*id;		/* borrowed from json, or NULL */
	enum psync_op	 op;
	struct reply	 reply;		/* the success reply, filled by handlers */
	struct object	*created;	/* by this request: undone if it fails */
	enum psync_err	 err;
	char		 msg[1024];	/* a deadlock cycle can be long */
};

/* Parse and run one line of c's input (len bytes, no terminator). */
void		 request_line(struct conn *c, const char *line, size_t len);

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
