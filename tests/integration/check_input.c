/*
 * check_input.c -- hostile and malformed input: each gets its error, the
 * connection stays usable (unless the line is too long), nothing changes,
 * and the daemon stays up.
 */
#include <sys/socket.h>

#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* Send raw bytes plus "\n"; assert the error code; assert no id. */
static void
expect_error(struct tc *t, const void *bytes, size_t len, const char *code)
{
	json_t	*r;

	tc_send_raw(t, bytes, len);
	tc_send_raw(t, "\n", 1);
	r = tc_reply(t);
	ck_assert_msg(!j_ok(r), "accepted %.*s", (int)len, (const char *)bytes);
	ck_err(r, code);
	ck_assert(json_is_string(json_object_get(r, "message")));
	json_decref(r);
}

#define EXPECT(t, s, code)	expect_error((t), (s), sizeof(s) - 1, (code))

START_TEST(test_malformed_requests)
{
	struct daemon	 d;
	struct tc	*t;
	json_t		*r;

	daemon_start(&d, NULL);
	t = tc_open(d.sock);
	EXPECT(t, "not json", "bad_request");
	EXPECT(t, "{\"op\":\"ping\"", "bad_request");
	EXPECT(t, "[1,2]", "bad_request");
	EXPECT(t, "\"ping\"", "bad_request");
	EXPECT(t, "42", "bad_request");
	EXPECT(t, "null", "bad_request");
	EXPECT(t, "{}", "bad_request");
	EXPECT(t, "{\"op\":7}", "bad_request");
	EXPECT(t, "{\"op\":\"nope\"}", "unknown_op");
	EXPECT(t, "{\"op\":\"lock\"}", "unknown_op");
	EXPECT(t, "{\"op\":\"ping\",\"id\":1.5}", "bad_request");
	EXPECT(t, "{\"op\":\"ping\",\"id\":[1]}", "bad_request");
	EXPECT(t, "{\"op\":\"ping\",\"id\":null}", "bad_request");
	/* Duplicate keys could mean two things: refused. */
	EXPECT(t, "{\"op\":\"ping\",\"op\":\"stat\"}", "bad_request");
	/* Two objects on one line. */
	EXPECT(t, "{\"op\":\"ping\"}{\"op\":\"ping\"}", "bad_request");
	/* Invalid UTF-8, a raw NUL, an escaped NUL, a lone surrogate. */
	EXPECT(t, "{\"op\":\"ping\",\"x\":\"\xff\xfe\"}", "bad_request");
	EXPECT(t, "{\"op\":\"ping\"}\0junk", "bad_request");
	EXPECT(t, "{\"op\":\"ping\",\"x\":\"a\\u0000b\"}", "bad_request");
	EXPECT(t, "{\"op\":\"ping\",\"x\":\"\\uD800\"}", "bad_request");
	/* Numbers out of range. */
	EXPECT(t, "{\"op\":\"ping\",\"x\":1e999}", "bad_request");
	EXPECT(t, "{\"op\":\"ping\",\"id\":9223372036854775808}", "bad_request");
	/* An error reply echoes a valid id. */
	tc_send(t, "{\"op\":\"nope\",\"id\":\"z\"}");
	r = tc_reply(t);
	ck_err(r, "unknown_op");
	ck_assert_str_eq(j_str(r, "id"), "z");
	json_decref(r);
	/* Blank lines and CRLF are fine; the connection still works. */
	tc_send_raw(t, "\n\r\n{\"op\":\"ping\",\"id\":3}\r\n", 25);
	r = tc_reply(t);
	ck_ok(r);
	ck_assert_int_eq(j_int(r, "id"), 3);
	json_decref(r);
	tc_close(t);
	daemon_finish(&d);
}
END_TEST

START_TEST(test_deep_nesting)
{
	struct daemon	 d;
	struct tc	*t;
	char		*buf;
	size_t		 n = 60000;
	json_t		*r;

	daemon_start(&d, NULL);
	t = tc_open(d.sock);
	buf = malloc(n);
	memset(buf, '[', n);
	expect_error(t, buf, n, "bad_request");
	free(buf);
	r = tc_call(t, "{\"op\":\"ping\"}");
	ck_ok(r);
	json_decref(r);
	tc_close(t);
	daemon_finish(&d);
}
END_TEST

/* A ping padded to exactly len bytes. */
static char *
ping_of_len(size_t len)
{
	char	*buf = malloc(len + 2);
	size_t	 head = strlen("{\"op\":\"ping\",\"pad\":\"");

	memcpy(buf, "{\"op\":\"ping\",\"pad\":\"", head);
	memset(buf + head, 'p', len - head - 2);
	memcpy(buf + len - 2, "\"}", 2);
	buf[len] = '\0';
	return (buf);
}

START_TEST(test_line_limit)
{
	struct daemon	 d;
	struct tc	*t;
	char		*line;
	json_t		*r;

	daemon_start(&d, NULL);
	/* 65,536 bytes: parsed. */
	t = tc_open(d.sock);
	line = ping_of_len(65536);
	r = tc_call(t, line);
	ck_ok(r);
	json_decref(r);
	/* With "\r\n" too. */
	tc_send_raw(t, line, 65536);
	tc_send_raw(t, "\r\n", 2);
	r = tc_reply(t);
	ck_ok(r);
	json_decref(r);
	free(line);
	/* 65,537 bytes: too_large, then closed (maybe before all is sent). */
	line = ping_of_len(65537);
	tc_send_until_closed(t, line, 65537);
	tc_send_until_closed(t, "\n", 1);
	r = tc_reply(t);
	ck_err(r, "too_large");
	json_decref(r);
	tc_expect_eof(t);
	tc_close(t);
	free(line);
	printf("limits: a line of 65,536 bytes parsed (with \\n or \\r\\n); "
	    "65,537 bytes: too_large, closed\n");
	daemon_finish(&d);
}
END_TEST

START_TEST(test_megabyte_line)
{
	struct daemon	 d;
	struct tc	*t, *other;
	char		*buf;
	size_t		 n = 1 << 20;
	json_t		*r;

	daemon_start(&d, NULL);
	other = tc_open(d.sock);
	json_decref(tc_call(other, "{\"op\":\"lock.acquire\",\"name\":\"keep\"}"));
	t = tc_open(d.sock);
	buf = malloc(n);
	memset(buf, 'a', n);
	/* The daemon closes after the limit: the send may fail midway. */
	tc_send_until_closed(t, buf, n);
	free(buf);
	r = tc_reply(t);
	ck_err(r, "too_large");
	json_decref(r);
	tc_expect_eof(t);
	tc_close(t);
	/* The daemon and the other client are unaffected. */
	r = tc_call(other, "{\"op\":\"info\",\"name\":\"keep\"}");
	ck_ok(r);
	ck_assert_uint_eq(json_array_size(json_object_get(r, "holders")), 1);
	json_decref(r);
	tc_close(other);
	daemon_finish(&d);
}
END_TEST

START_TEST(test_gigabyte_without_newline)
{
	struct daemon	 d;
	struct tc	*t;
	char		*chunk;
	size_t		 sent = 0, limit = (size_t)1 << 30, n = 1 << 20;
	ssize_t		 w;
	long		 before, after;
	json_t		*r;

	if (!rss_meaningful()) {
		fprintf(stderr, "gigabyte_without_newline: skipped under "
		    "valgrind or a sanitizer (RSS is theirs)\n");
		return;
	}
	daemon_start(&d, NULL);
	t = tc_open(d.sock);
	json_decref(tc_call(t, "{\"op\":\"ping\"}"));
	before = rss_kib(d.pid);
	chunk = malloc(n);
	memset(chunk, 'x', n);
	/* Up to 1 GiB with no newline: the daemon must stop it early. */
	while (sent < limit) {
		w = send(t->fd, chunk, n, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		sent += (size_t)w;
	}
	free(chunk);
	after = rss_kib(d.pid);
	r = tc_reply(t);
	ck_err(r, "too_large");
	json_decref(r);
	tc_expect_eof(t);
	/* Closed after one line's worth (plus what socket buffers held). */
	ck_assert_msg(sent < (size_t)16 << 20, "sent %zu bytes", sent);
	ck_assert_msg(after - before <= 2048, "RSS grew %ld KiB", after - before);
	printf("limits: 1 GiB without a newline: closed after %zu bytes "
	    "sent; RSS %+ld KiB\n", sent, after - before);
	tc_close(t);
	daemon_finish(&d);
}
END_TEST

START_TEST(test_small_max_line)
{
	struct daemon	 d;
	struct tc	*t;
	json_t		*r;

	daemon_start(&d, "--max-line", "100", NULL);
	t = tc_open(d.sock);
	r = tc_call(t, "{\"op\":\"ping\"}");
	ck_ok(r);
	json_decref(r);
	{
		static const char long_line[] = "{\"op\":\"ping\",\"pad\":\""
		    "........................................................"
		    "..........................................\"}\n";

		tc_send_until_closed(t, long_line, sizeof(long_line) - 1);
	}
	r = tc_reply(t);
	ck_err(r, "too_large");
	json_decref(r);
	tc_expect_eof(t);
	tc_close(t);
	daemon_finish(&d);
}
END_TEST

Suite *
input_suite(void)
{
	Suite	*s = suite_create("input");

	ADD_TEST(s, test_malformed_requests, 20);
	ADD_TEST(s, test_deep_nesting, 20);
	ADD_TEST(s, test_line_limit, 20);
	ADD_TEST(s, test_megabyte_line, 20);
	ADD_TEST(s, test_small_max_line, 20);
	ADD_TEST(s, test_gigabyte_without_newline, 30);
	return (s);
}
