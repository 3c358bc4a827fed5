/*
 * reply.c -- replies encoded in place: plain fields by hand, the rest by
 * jansson.
 *
 * Why not one json_t per reply: building {id, ok, value} costs three
 * allocations, a hash table and an snprintf per integer, about as much
 * as the daemon's whole logic for a counter.add (see BENCHMARKS.md).
 * The plain fields' keys are literals and their values integers,
 * booleans or literals, so writing them needs no escaping; every string
 * that came from a client (a string id, a message quoting a name) and
 * every members object is still encoded by jansson.
 */
#include <string.h>

#include "log.h"
#include "reply.h"

void
reply_init(struct reply *r, const json_t *id)
{
	r->id = id;
	r->err = PSYNC_ERR_NONE;
	r->msg = NULL;
	r->members = NULL;
	r->n = 0;
}

void
reply_set_error(struct reply *r, enum psync_err err, const char *msg)
{
	r->err = err;
	r->msg = msg;
}

static struct reply_field *
reply_field(struct reply *r, const char *key, enum reply_kind kind)
{
	struct reply_field	*f;

	if (r->n == REPLY_FIELDS)
		fatalx("reply: more than %d fields (adding '%s')",
		    REPLY_FIELDS, key);
	f = &r->f[r->n++];
	f->key = key;
	f->kind = kind;
	return (f);
}

void
reply_int(struct reply *r, const char *key, json_int_t v)
{
	reply_field(r, key, REPLY_INT)->u.i = v;
}

void
reply_bool(struct reply *r, const char *key, bool v)
{
	reply_field(r, key, REPLY_BOOL)->u.b = v;
}

void
reply_literal(struct reply *r, const char *key, const char *s)
{
	reply_field(r, key, REPLY_LITERAL)->u.s = s;
}

json_t *
reply_members(struct reply *r)
{
	if (r->members == NULL && (r->members = json_object()) == NULL)
		fatalx("reply: out of memory");
	return (r->members);
}

void
reply_clear(struct reply *r)
{
	json_decref(r->members);
	r->members = NULL;
	r->n = 0;
}

/* The output so far: buf[0..size), len bytes needed up to now. */
struct out {
	char	*buf;
	size_t	 size;
	size_t	 len;
};

static void
out_add(struct out *o, const char *s, size_t n)
{
	if (o->len + n <= o->size)
		memcpy(o->buf + o->len, s, n);
	o->len += n;
}

#define out_lit(o, s)	out_add((o), (s), sizeof(s) - 1)

static void
out_int(struct out *o, json_int_t v)
{
	char			 tmp[24], *p = tmp + sizeof(tmp);
	unsigned long long	 u;

	/* The magnitude as unsigned: -INT64_MIN does not fit an int64. */
	u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--p = '-';
	out_add(o, p, (size_t)(tmp + sizeof(tmp) - p));
}

/* Let jansson encode j here; false if it cannot. */
static bool
out_json(struct out *o, const json_t *j)
{
	size_t	room = o->len < o->size ? o->size - o->len : 0;
	size_t	n;

	n = json_dumpb(j, room > 0 ? o->buf + o->len : NULL, room,
	    JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(12));
	if (n == 0)
		return (false);
	o->len += n;
	return (true);
}

static void
out_key(struct out *o, const char *key)
{
	out_lit(o, ",\"");
	out_add(o, key, strlen(key));
	out_lit(o, "\":");
}

static bool
out_message(struct out *o, const char *msg)
{
	json_t	*s;
	bool	 ok;

	/* A message quotes client names: jansson escapes it (errors only). */
	if ((s = json_string(msg != NULL ? msg : "")) == NULL)
		return (false);
	ok = out_json(o, s);
	json_decref(s);
	return (ok);
}

size_t
reply_encode(const struct reply *r, char *buf, size_t size)
{
	struct out		 o = { buf, size, 0 };
	const struct reply_field *f;
	size_t			 at;
	unsigned		 k;

	if (r->id == NULL)
		out_lit(&o, "{\"ok\":");
	else {
		out_lit(&o, "{\"id\":");
		if (json_is_integer(r->id))
			out_int(&o, json_integer_value(r->id));
		else if (!out_json(&o, r->id))
			return (0);
		out_lit(&o, ",\"ok\":");
	}
	if (r->err != PSYNC_ERR_NONE) {
		out_lit(&o, "false,\"error\":\"");
		out_add(&o, psync_err_code(r->err),
		    strlen(psync_err_code(r->err)));
		out_lit(&o, "\",\"message\":");
		if (!out_message(&o, r->msg))
			return (0);
		out_lit(&o, "}");
		return (o.len);
	}
	out_lit(&o, "true");
	for (k = 0; k < r->n; k++) {
		f = &r->f[k];
		out_key(&o, f->key);
		switch (f->kind) {
		case REPLY_INT:
			out_int(&o, f->u.i);
			break;
		case REPLY_BOOL:
			if (f->u.b)
				out_lit(&o, "true");
			else
				out_lit(&o, "false");
			break;
		case REPLY_LITERAL:
			out_lit(&o, "\"");
			out_add(&o, f->u.s, strlen(f->u.s));
			out_lit(&o, "\"");
			break;
		}
	}
	if (r->members != NULL && json_object_size(r->members) > 0) {
		/* {"a":1} lands where "," goes; its "}" is the line's. */
		at = o.len;
		if (!out_json(&o, r->members))
			return (0);
		if (at < o.size)
			o.buf[at] = ',';
		return (o.len);
	}
	out_lit(&o, "}");
	return (o.len);
}
