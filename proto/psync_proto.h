/*
 * psync_proto.h -- what psyncd and libpsync-client both speak.
 *
 * The op and error-code tables of protocol version 1, name validation,
 * line framing and socket path resolution.  Plain C with no dependency
 * beyond libc, so the daemon, the client library and the CLI can all link
 * it.  The contract itself is proto/PROTOCOL.md.
 */
#ifndef PSYNC_PROTO_H
#define PSYNC_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PSYNC_PROTOCOL_VERSION	1
#define PSYNC_NAME_MAX		255		/* bytes of UTF-8 */
#define PSYNC_MAX_LINE_DEFAULT	65536		/* bytes, without "\r\n" */

/*
 * Every op of the protocol.  The X-macro keeps the enum and the name table
 * in one place: add a line here and the op exists on both sides.
 */
#define PSYNC_OPS(X)						\
	X(PING,			"ping")				\
	X(HELLO,		"hello")			\
	X(STAT,			"stat")				\
	X(LIST,			"list")				\
	X(INFO,			"info")				\
	X(DELETE,		"delete")			\
	X(CANCEL,		"cancel")			\
	X(LOCK_ACQUIRE,		"lock.acquire")			\
	X(LOCK_RELEASE,		"lock.release")			\
	X(EVENT_SET,		"event.set")			\
	X(EVENT_CLEAR,		"event.clear")			\
	X(EVENT_IS_SET,		"event.is_set")			\
	X(EVENT_WAIT,		"event.wait")			\
	X(RLOCK_ACQUIRE,	"rlock.acquire")		\
	X(RLOCK_RELEASE,	"rlock.release")		\
	X(RWLOCK_ACQUIRE,	"rwlock.acquire")		\
	X(RWLOCK_RELEASE,	"rwlock.release")		\
	X(COND_WAIT,		"cond.wait")			\
	X(COND_NOTIFY,		"cond.notify")			\
	X(COND_NOTIFY_ALL,	"cond.notify_all")		\
	X(SEM_ACQUIRE,		"sem.acquire")			\
	X(SEM_RELEASE,		"sem.release")			\
	X(SEM_VALUE,		"sem.value")			\
	X(BARRIER_WAIT,		"barrier.wait")			\
	X(BARRIER_ABORT,	"barrier.abort")		\
	X(BARRIER_RESET,	"barrier.reset")		\
	X(BARRIER_INFO,		"barrier.info")			\
	X(COUNTER_GET,		"counter.get")			\
	X(COUNTER_SET,		"counter.set")			\
	X(COUNTER_ADD,		"counter.add")			\
	X(COUNTER_CAS,		"counter.cas")

enum psync_op {
	PSYNC_OP_NONE = -1,
#define PSYNC_OP_ENUM(sym, str) PSYNC_OP_##sym,
	PSYNC_OPS(PSYNC_OP_ENUM)
#undef PSYNC_OP_ENUM
	PSYNC_OP__COUNT
};

/* Error codes, in the contract's order.  PSYNC_ERR_NONE is success. */
#define PSYNC_ERRORS(X)						\
	X(BAD_REQUEST,		"bad_request")			\
	X(UNKNOWN_OP,		"unknown_op")			\
	X(BAD_NAME,		"bad_name")			\
	X(NOT_FOUND,		"not_found")			\
	X(TYPE_MISMATCH,	"type_mismatch")		\
	X(PARAM_MISMATCH,	"param_mismatch")		\
	X(NOT_OWNER,		"not_owner")			\
	X(WOULD_DEADLOCK,	"would_deadlock")		\
	X(WOULD_EXCEED,		"would_exceed")			\
	X(BROKEN,		"broken")			\
	X(BUSY,			"busy")				\
	X(DELETED,		"deleted")			\
	X(CANCELLED,		"cancelled")			\
	X(LIMIT,		"limit")			\
	X(FORBIDDEN,		"forbidden")			\
	X(TOO_LARGE,		"too_large")			\
	X(SHUTTING_DOWN,	"shutting_down")		\
	X(INTERNAL,		"internal")				\
	X(UNAVAILABLE,		"unavailable")

enum psync_err {
	PSYNC_ERR_NONE = 0,
#define PSYNC_ERR_ENUM(sym, str) PSYNC_ERR_##sym,
	PSYNC_ERRORS(PSYNC_ERR_ENUM)
#undef PSYNC_ERR_ENUM
	PSYNC_ERR__COUNT
};

/* ops.c */

/*
 * Look up an op by its wire name of len bytes (need not be NUL-terminated).
 * Returns the op, or PSYNC_OP_NONE if the name is not an op.
 */
enum psync_op	 psync_op_lookup(const char *name, size_t len);

/*
 * The op whose wire name is nearest to name[0..len) by edit distance
 * (the first of equals, in table order), for "did you mean" messages.
 */
enum psync_op	 psync_op_nearest(const char *name, size_t len);

/* The wire name of op, or NULL if op is out of range. */
const char	*psync_op_name(enum psync_op op);

/* errors.c */

/* The wire code of err ("bad_request"), or NULL if out of range. */
const char	*psync_err_code(enum psync_err err);

/* The error whose wire code is code, or PSYNC_ERR_NONE if there is none. */
enum psync_err	 psync_err_lookup(const char *code);

/* name.c */

/*
 * Check that name[0..len) is a valid object name: 1 to PSYNC_NAME_MAX
 * bytes of well-formed UTF-8 without control characters (C0, DEL, C1).
 * Returns true if valid; otherwise false with *why (if not NULL) pointing
 * at a static English reason.
 */
bool		 psync_name_valid(const char *name, size_t len, const char **why);

/*
 * The same check, explained for a person: false with msg (size bytes)
 * saying what is wrong and naming the offending byte, its offset and the
 * valid text before it ("name is not valid UTF-8: byte 3 is 0xff, after
 * 'job'").  The text before the byte is valid UTF-8 without controls, so
 * msg is too.
 */
bool		 psync_name_check(const char *name, size_t len, char *msg,
		    size_t size);

/*
 * Length of the longest prefix of s[0..len) that is at most max bytes and
 * does not end inside a UTF-8 sequence.  Used to quote client text in
 * messages without producing invalid UTF-8.
 */
size_t		 psync_utf8_prefix(const char *s, size_t len, size_t max);

/* frame.c */

enum psync_frame {
	PSYNC_FRAME_PARTIAL,	/* no complete line yet: read more */
	PSYNC_FRAME_LINE,	/* a line (maybe blank) is at line/len */
	PSYNC_FRAME_TOO_LARGE	/* the line is over max_line: close */
};

struct psync_line {
	const char	*start;		/* first byte of the line */
	size_t		 len;		/* without "\n" and a "\r" before it */
	size_t		 consumed;	/* bytes to drop, "\n" included */
};

/*
 * Find the next line in buf[0..size).  max_line bounds the line length
 * without its terminator.  With at_eof, bytes without a final "\n" form
 * the last line.  A line over max_line is PSYNC_FRAME_TOO_LARGE as soon as
 * that is certain, even before its "\n" arrives, so a reader never has to
 * hold more than max_line + 2 bytes of one line.
 */
enum psync_frame psync_frame_next(const char *buf, size_t size,
		    size_t max_line, bool at_eof, struct psync_line *line);

/*
 * True if line[0..len) is blank: empty or only JSON whitespace (spaces,
 * tabs, carriage returns).  Blank lines are ignored, not answered.
 */
bool		 psync_line_blank(const char *line, size_t len);

/* path.c */

/*
 * Resolve the socket path as the contract says: explicit (a --socket flag
 * or the library's argument) if not NULL, else $PSYNC_SOCKET, else
 * /run/psync/psyncd.sock for root, else $XDG_RUNTIME_DIR/psync/psyncd.sock,
 * else /tmp/psync-$UID/psyncd.sock.  Writes it to buf of size bytes.
 * Returns 0, or -1 with errno ENAMETOOLONG if it does not fit in buf or in
 * a sockaddr_un.  *per_user (if not NULL) is set when the path is one of
 * the per-user fallbacks, whose directory must be private.
 */
int		 psync_socket_path(const char *explicit, char *buf, size_t size,
		    bool *per_user);

#endif /* PSYNC_PROTO_H */
