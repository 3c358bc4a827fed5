/*
 * request.c -- a line becomes a request: decode, validate fields, fail.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "request.h"

struct quoted
quoted(const char *s, size_t len)
{
	struct quoted	q;
	size_t		n;

	n = psync_utf8_prefix(s, len, sizeof(q.s) - 4);
	memcpy(q.s, s, n);
	if (n < len)
		memcpy(q.s + n, "...", 3), n += 3;
	q.s[n] = '\0';
	return (q);
}

enum hret
rq_fail(struct request *rq, enum psync_err err, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	rq->err = err;
	va_start(ap, fmt);
	n = vsnprintf(rq->msg, sizeof(rq->msg), fmt, ap);
	va_end(ap);
	/* A truncated message must still end on a UTF-8 boundary. */
	if (n >= (int)sizeof(rq->msg))
		rq->msg[psync_utf8_prefix(rq->msg, sizeof(rq->msg) - 1,
		    sizeof(rq->msg) - 2)] = '\0';
	return (HR_ERROR);
}

enum hret
rq_name(struct request *rq, const char *key, const char **name, size_t *len)
{
	json_t		*v;
	char		 why[160];

	v = json_object_get(rq->json, key);
	if (v == NULL)
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST,
		    "missing field '%s'", key));
	if (!json_is_string(v))
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST,
		    "field '%s' must be a string", key));
	*name = json_string_value(v);
	*len = json_string_length(v);
	if (!psync_name_check(*name, *len, why, sizeof(why)))
		return (rq_fail(rq, PSYNC_ERR_BAD_NAME, "field '%s': %s", key,
		    why));
	return (HR_DONE);
}

struct quoted
rq_quoted_name(const struct request *rq)
{
	json_t	*v = json_object_get(rq->json, "name");

	if (!json_is_string(v))
		return (quoted("", 0));
	return (quoted(json_string_value(v), json_string_length(v)));
}

enum hret
rq_timeout(struct request *rq, double *timeout)
{
	json_t	*v;
	double	 t;

	v = json_object_get(rq->json, "timeout");
	if (v == NULL || json_is_null(v)) {
		*timeout = -1.0;
		return (HR_DONE);
	}
	if (!json_is_number(v))
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST,
		    "field 'timeout' must be a number of seconds or null"));
	t = json_number_value(v);
	if (!(t >= 0))		/* negative; -0 compares equal to 0 */
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST,
		    "field 'timeout' must not be negative"));
	*timeout = t == 0 ? 0.0 : t;
	return (HR_DONE);
}

enum hret
rq_bool(struct request *rq, const char *key, bool dflt, bool *out)
{
	json_t	*v;

	v = json_object_get(rq->json, key);
	if (v == NULL) {
		*out = dflt;
		return (HR_DONE);
	}
	if (!json_is_boolean(v))
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST,
		    "field '%s' must be true or false", key));
	*out = json_is_true(v);
	return (HR_DONE);
}

enum hret
rq_int(struct request *rq, const char *key, bool required, json_int_t dflt,
    json_int_t *out)
{
	json_t	*v;

	v = json_object_get(rq->json, key);
	if (v == NULL) {
		if (required)
			return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST,
			    "missing field '%s'", key));
		*out = dflt;
		return (HR_DONE);
	}
	if (!json_is_integer(v))
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST,
		    "field '%s' must be an integer", key));
	*out = json_integer_value(v);
	return (HR_DONE);
}

enum hret
rq_opt_string(struct request *rq, const char *key, const char **s,
    size_t *len)
{
	json_t	*v;

	v = json_object_get(rq->json, key);
	if (v == NULL || json_is_null(v)) {
		*s = NULL;
		*len = 0;
		return (HR_DONE);
	}
	if (!json_is_string(v))
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST,
		    "field '%s' must be a string", key));
	*s = json_string_value(v);
	*len = json_string_length(v);
	return (HR_DONE);
}

/*
 * Why line does not parse, in the protocol's words rather than
 * jansson's (which names its own flags and says "end of file" for a
 * NUL byte).  jansson's "near '...'" context is kept where it helps.
 */
static enum hret
rq_fail_json(struct request *rq, const char *line, size_t len,
    const json_error_t *jerr)
{
	const char	*near = strstr(jerr->text, " near ");
	int		 pos = jerr->position;

	if (near == NULL)
		near = "";
	switch (json_error_code(jerr)) {
	case json_error_null_character:
	case json_error_null_byte_in_key:
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST, "invalid JSON at "
		    "byte %d: \\u0000 (a NUL) is not allowed in a string",
		    pos));
	case json_error_end_of_input_expected:
		if (pos > 0 && (size_t)pos <= len && line[pos - 1] == '\0')
			return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST, "a NUL byte "
			    "at byte %d, after the JSON object", pos));
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST, "text after the "
		    "JSON object at byte %d%s", pos, near));
	case json_error_premature_end_of_input:
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST, "the line ends "
		    "inside the JSON object (at byte %d)", pos));
	case json_error_duplicate_key:
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST, "invalid JSON at "
		    "byte %d: a key appears twice%s", pos, near));
	case json_error_numeric_overflow:
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST, "invalid JSON at "
		    "byte %d: a number out of range%s", pos, near));
	case json_error_stack_overflow:
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST, "invalid JSON at "
		    "byte %d: nested too deep", pos));
	default:
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST, "invalid JSON at "
		    "byte %d: %s", pos, jerr->text));
	}
}

void
request_init(struct request *rq, struct model *m, struct session *s)
{
	/* Field by field: the message buffer is written only on failure. */
	rq->model = m;
	rq->sess = s;
	rq->json = NULL;
	rq->id = NULL;
	rq->op = PSYNC_OP_NONE;
	rq->created = NULL;
	rq->err = PSYNC_ERR_NONE;
	rq->msg[0] = '\0';
	reply_init(&rq->reply, NULL);
}

void
request_done(struct request *rq)
{
	reply_clear(&rq->reply);
	json_decref(rq->json);
	rq->json = NULL;
	rq->id = NULL;
}

enum hret
request_decode(struct request *rq, const char *line, size_t len,
    const handler_fn handlers[])
{
	json_error_t	 jerr;
	json_t		*op, *id;
	enum psync_op	 code;

	/*
	 * json_loadb on the measured line: json_loads would stop at a NUL
	 * byte and accept what follows it.  Duplicate keys are refused so a
	 * request cannot mean two things.
	 */
	rq->json = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (rq->json == NULL)
		return (rq_fail_json(rq, line, len, &jerr));
	if (!json_is_object(rq->json))
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST,
		    "a request must be a JSON object"));
	id = json_object_get(rq->json, "id");
	if (id != NULL && !json_is_string(id) && !json_is_integer(id))
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST,
		    "field 'id' must be a string or an integer"));
	rq->id = id;
	reply_init(&rq->reply, id);
	op = json_object_get(rq->json, "op");
	if (op == NULL)
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST,
		    "missing field 'op'"));
	if (!json_is_string(op))
		return (rq_fail(rq, PSYNC_ERR_BAD_REQUEST,
		    "field 'op' must be a string"));
	code = psync_op_lookup(json_string_value(op), json_string_length(op));
	if (code == PSYNC_OP_NONE || handlers[code] == NULL)
		return (rq_fail(rq, PSYNC_ERR_UNKNOWN_OP, "unknown op '%s'; "
		    "did you mean '%s'?", QUOTED(json_string_value(op), json_string_length(op)),
		    psync_op_name(psync_op_nearest(json_string_value(op),
		    json_string_length(op)))));
	rq->op = code;
	return (HR_DONE);
}
