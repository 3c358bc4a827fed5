/*
 * reply.h -- one reply line, built on the stack and encoded straight into
 * the connection's output buffer.
 *
 * Layer 0, util: includes jansson and proto/ only.
 *
 * A reply is {"id":..., "ok":true, <fields>...} or {"id":..., "ok":false,
 * "error":..., "message":...}.  The fields every hot request answers with
 * are integers, booleans and literal strings under literal keys, so they
 * are kept as plain values and written without a json_t: no allocation,
 * no hash table, no snprintf per request.  Anything richer (info, stat,
 * list, hello) goes into a members object, a json_t that jansson encodes
 * after the plain fields.  Keys are string literals that need no escaping.
 */
#ifndef PSYNCD_REPLY_H
#define PSYNCD_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "psync_proto.h"

/* The most plain fields a reply carries (cond.wait's is the widest: 4). */
#define REPLY_FIELDS	6

enum reply_kind {
	REPLY_INT,
	REPLY_BOOL,
	REPLY_LITERAL		/* a string literal that needs no escaping */
};

struct reply_field {
	const char	*key;
	enum reply_kind	 kind;
	union {
		json_int_t	 i;
		bool		 b;
		const char	*s;
	}		 u;
};

struct reply {
	const json_t		*id;	/* borrowed; NULL: no "id" */
	enum psync_err		 err;	/* PSYNC_ERR_NONE: ok */
	const char		*msg;	/* the error's message, borrowed */
	json_t			*members; /* owned, or NULL */
	unsigned		 n;
	struct reply_field	 f[REPLY_FIELDS];
};

/* Start r as {id, ok: true}; id is borrowed until r is encoded. */
void		 reply_init(struct reply *r, const json_t *id);

/* Make r {id, ok: false, error, message}; msg borrowed until encoded. */
void		 reply_set_error(struct reply *r, enum psync_err err,
		    const char *msg);

/* Add one plain field; the key and a literal value must outlive r. */
void		 reply_int(struct reply *r, const char *key, json_int_t v);
void		 reply_bool(struct reply *r, const char *key, bool v);
void		 reply_literal(struct reply *r, const char *key,
		    const char *s);

/*
 * The members object, created on first use (owned by r, freed by
 * reply_clear): its keys follow the plain fields in the line.  Borrowed.
 */
json_t		*reply_members(struct reply *r);

/* Free what r owns; r may be started again. */
void		 reply_clear(struct reply *r);

/*
 * Encode r as one JSON object (no newline) into buf[0..size).  Returns
 * the length the whole object needs: when that is >= size, buf holds
 * nothing useful and the caller tries again with that much room plus
 * one.  Returns 0 if a member cannot be encoded.
 */
size_t		 reply_encode(const struct reply *r, char *buf, size_t size);

#endif
