/*
 * check_proto.c -- proto/: framing, names, op and error tables, paths.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "psync_proto.h"

/* Feed s in pieces of step bytes; collect the lines found, joined by '|'. */
static enum psync_frame
frame_all(const char *s, size_t step, size_t max, bool eof, char *out,
    size_t outsize)
{
	char			 buf[512];
	size_t			 have = 0, fed = 0, total = strlen(s), o = 0;
	struct psync_line	 line;
	enum psync_frame	 f = PSYNC_FRAME_PARTIAL;

	out[0] = '\0';
	while (fed < total || have > 0) {
		size_t n = total - fed < step ? total - fed : step;

		memcpy(buf + have, s + fed, n);
		have += n;
		fed += n;
		for (;;) {
			f = psync_frame_next(buf, have, max,
			    eof && fed == total, &line);
			if (f != PSYNC_FRAME_LINE)
				break;
			o += (size_t)snprintf(out + o, outsize - o, "%.*s|",
			    (int)line.len, line.start);
			memmove(buf, buf + line.consumed, have - line.consumed);
			have -= line.consumed;
		}
		if (f == PSYNC_FRAME_TOO_LARGE)
			return (f);
		if (fed == total)
			break;
	}
	return (have == 0 ? PSYNC_FRAME_LINE : f);
}

START_TEST(test_frame_split_reads)
{
	char	out[256];
	size_t	step;

	/* The same lines whatever the read sizes. */
	for (step = 1; step <= 40; step++) {
		frame_all("{\"op\":\"ping\"}\n\n{\"a\":1}\r\nx\n", step, 64,
		    false, out, sizeof(out));
		ck_assert_str_eq(out, "{\"op\":\"ping\"}||{\"a\":1}|x|");
	}
}
END_TEST

START_TEST(test_frame_crlf_and_eof)
{
	struct psync_line	line;

	ck_assert_int_eq(psync_frame_next("abc\r\n", 5, 64, false, &line),
	    PSYNC_FRAME_LINE);
	ck_assert_uint_eq(line.len, 3);
	ck_assert_uint_eq(line.consumed, 5);
	/* A lone "\r" inside a line is data. */
	ck_assert_int_eq(psync_frame_next("a\rb\n", 4, 64, false, &line),
	    PSYNC_FRAME_LINE);
	ck_assert_uint_eq(line.len, 3);
	/* Without "\n": partial, unless the input has ended. */
	ck_assert_int_eq(psync_frame_next("abc", 3, 64, false, &line),
	    PSYNC_FRAME_PARTIAL);
	ck_assert_int_eq(psync_frame_next("abc", 3, 64, true, &line),
	    PSYNC_FRAME_LINE);
	ck_assert_uint_eq(line.len, 3);
	ck_assert_uint_eq(line.consumed, 3);
	ck_assert_int_eq(psync_frame_next("", 0, 64, true, &line),
	    PSYNC_FRAME_PARTIAL);
}
END_TEST

START_TEST(test_frame_limit)
{
	char			buf[80];
	struct psync_line	line;

	/* Exactly max bytes: a line, with "\n" or "\r\n". */
	memset(buf, 'a', sizeof(buf));
	buf[10] = '\n';
	ck_assert_int_eq(psync_frame_next(buf, 11, 10, false, &line),
	    PSYNC_FRAME_LINE);
	ck_assert_uint_eq(line.len, 10);
	buf[10] = '\r';
	buf[11] = '\n';
	ck_assert_int_eq(psync_frame_next(buf, 12, 10, false, &line),
	    PSYNC_FRAME_LINE);
	ck_assert_uint_eq(line.len, 10);
	/* max + "\r" so far: still possibly valid. */
	ck_assert_int_eq(psync_frame_next(buf, 11, 10, false, &line),
	    PSYNC_FRAME_PARTIAL);
	/* max + 1 bytes: too large, known before any "\n" arrives. */
	memset(buf, 'a', sizeof(buf));
	ck_assert_int_eq(psync_frame_next(buf, 11, 10, false, &line),
	    PSYNC_FRAME_TOO_LARGE);
	ck_assert_int_eq(psync_frame_next(buf, 80, 10, false, &line),
	    PSYNC_FRAME_TOO_LARGE);
	buf[11] = '\n';
	ck_assert_int_eq(psync_frame_next(buf, 12, 10, false, &line),
	    PSYNC_FRAME_TOO_LARGE);
	/* At EOF, an unterminated over-long line is too large too. */
	ck_assert_int_eq(psync_frame_next(buf, 11, 10, true, &line),
	    PSYNC_FRAME_TOO_LARGE);
}
END_TEST

START_TEST(test_names)
{
	char		long_name[300];
	const char	*why = NULL;

	ck_assert(psync_name_valid("x", 1, NULL));
	ck_assert(psync_name_valid("job/42:lock", 11, NULL));
	ck_assert(psync_name_valid("\xc3\xa9t\xc3\xa9", 5, NULL));	/* été */
	ck_assert(psync_name_valid("\xf0\x9f\x94\x92", 4, NULL));	/* 🔒 */
	memset(long_name, 'n', sizeof(long_name));
	ck_assert(psync_name_valid(long_name, 255, NULL));

	ck_assert(!psync_name_valid("", 0, &why));
	ck_assert_str_eq(why, "name is empty");
	ck_assert(!psync_name_valid(long_name, 256, &why));
	ck_assert_str_eq(why, "name is longer than 255 bytes");
	ck_assert(!psync_name_valid("a\nb", 3, &why));
	ck_assert_str_eq(why, "name contains a control character");
	ck_assert(!psync_name_valid("a\x7f", 2, NULL));
	ck_assert(!psync_name_valid("a\0b", 3, NULL));
	ck_assert(!psync_name_valid("\xc2\x85", 2, NULL));	/* C1 NEL */
	ck_assert(!psync_name_valid("\xff", 1, &why));
	ck_assert_str_eq(why, "name is not valid UTF-8");
	ck_assert(!psync_name_valid("\xc0\xaf", 2, NULL));	/* overlong */
	ck_assert(!psync_name_valid("\xed\xa0\x80", 3, NULL));	/* surrogate */
	ck_assert(!psync_name_valid("\xe2\x82", 2, NULL));	/* truncated */
	ck_assert(!psync_name_valid("\xf4\x90\x80\x80", 4, NULL)); /* > max */
}
END_TEST

START_TEST(test_utf8_prefix)
{
	/* "aé" is 61 c3 a9: cutting at 2 must not split the é. */
	ck_assert_uint_eq(psync_utf8_prefix("a\xc3\xa9", 3, 2), 1);
	ck_assert_uint_eq(psync_utf8_prefix("a\xc3\xa9", 3, 3), 3);
	ck_assert_uint_eq(psync_utf8_prefix("abc", 3, 10), 3);
}
END_TEST

START_TEST(test_op_table)
{
	int	op;

	for (op = 0; op < PSYNC_OP__COUNT; op++) {
		const char *name = psync_op_name((enum psync_op)op);

		ck_assert_ptr_nonnull(name);
		ck_assert_int_eq(psync_op_lookup(name, strlen(name)), op);
	}
	ck_assert_int_eq(psync_op_lookup("lock.acquire", 12),
	    PSYNC_OP_LOCK_ACQUIRE);
	ck_assert_int_eq(psync_op_lookup("lock.acquir", 11), PSYNC_OP_NONE);
	ck_assert_int_eq(psync_op_lookup("lock.acquire2", 13), PSYNC_OP_NONE);
	ck_assert_int_eq(psync_op_lookup("", 0), PSYNC_OP_NONE);
	ck_assert_ptr_null(psync_op_name(PSYNC_OP__COUNT));
}
END_TEST

START_TEST(test_error_table)
{
	static const char *const codes[] = {
		"bad_request", "unknown_op", "bad_name", "not_found",
		"type_mismatch", "param_mismatch", "not_owner",
		"would_deadlock", "would_exceed", "broken", "busy", "deleted",
		"cancelled", "limit", "forbidden", "too_large",
		"shutting_down", "internal", "unavailable"
	};
	size_t	i;

	/* Every code of the contract, in its order, and back. */
	ck_assert_int_eq(PSYNC_ERR__COUNT - 1, sizeof(codes) / sizeof(codes[0]));
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		ck_assert_str_eq(psync_err_code((enum psync_err)(i + 1)),
		    codes[i]);
		ck_assert_int_eq(psync_err_lookup(codes[i]), (int)i + 1);
	}
	ck_assert_ptr_null(psync_err_code(PSYNC_ERR_NONE));
	ck_assert_int_eq(psync_err_lookup("nope"), PSYNC_ERR_NONE);
}
END_TEST

START_TEST(test_socket_path)
{
	char	buf[108], big[200];
	bool	per_user;

	unsetenv("PSYNC_SOCKET");
	ck_assert_int_eq(psync_socket_path("/x/y.sock", buf, sizeof(buf),
	    &per_user), 0);
	ck_assert_str_eq(buf, "/x/y.sock");
	ck_assert(!per_user);
	setenv("PSYNC_SOCKET", "/env/s.sock", 1);
	ck_assert_int_eq(psync_socket_path(NULL, buf, sizeof(buf), NULL), 0);
	ck_assert_str_eq(buf, "/env/s.sock");
	/* The flag wins over the environment. */
	ck_assert_int_eq(psync_socket_path("/flag", buf, sizeof(buf), NULL), 0);
	ck_assert_str_eq(buf, "/flag");
	unsetenv("PSYNC_SOCKET");
	ck_assert_int_eq(psync_socket_path(NULL, buf, sizeof(buf), &per_user),
	    0);
	if (geteuid() == 0) {
		ck_assert_str_eq(buf, "/run/psync/psyncd.sock");
		ck_assert(!per_user);
	} else
		ck_assert(per_user);
	memset(big, 'a', sizeof(big));
	big[0] = '/';
	big[sizeof(big) - 1] = '\0';
	ck_assert_int_eq(psync_socket_path(big, buf, sizeof(buf), NULL), -1);
}
END_TEST

Suite *
proto_suite(void)
{
	Suite	*s = suite_create("proto");

	ADD_TEST(s, test_frame_split_reads, 5);
	ADD_TEST(s, test_frame_crlf_and_eof, 5);
	ADD_TEST(s, test_frame_limit, 5);
	ADD_TEST(s, test_names, 5);
	ADD_TEST(s, test_utf8_prefix, 5);
	ADD_TEST(s, test_op_table, 5);
	ADD_TEST(s, test_error_table, 5);
	ADD_TEST(s, test_socket_path, 5);
	return (s);
}
