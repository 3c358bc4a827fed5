/*
 * check_contract.c -- PROTOCOL.md to the letter: the places where the
 * daemon once did something else.  Each test failed before its fix.
 */
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* A call whose reply must be ok; returns it. */
static json_t *
ok_call(struct tc *t, const char *line)
{
	json_t	*r = tc_call(t, line);

	ck_ok(r);
	return (r);
}

static void	expect_message(struct tc *, const char *, const char *,
		    const char *);

/* Assert name is not an object. */
static void
expect_missing(struct tc *t, const char *name)
{
	char	 line[128];
	json_t	*r;

	snprintf(line, sizeof(line), "{\"op\":\"info\",\"name\":\"%s\"}", name);
	r = tc_call(t, line);
	ck_err(r, "not_found");
	json_decref(r);
}

/*
 * A bounded semaphore of 1 held by Z: a release from C, which holds
 * nothing, would make a second holder possible; it is would_exceed.
 */
START_TEST(test_bounded_sem_counts_held_units)
{
	struct daemon	 d;
	struct tc	*z, *c, *dd;
	json_t		*r;

	daemon_start(&d, NULL);
	z = tc_open(d.sock);
	c = tc_open(d.sock);
	dd = tc_open(d.sock);
	r = ok_call(z, "{\"op\":\"sem.acquire\",\"name\":\"b1\",\"value\":1,"
	    "\"bounded\":true}");
	ck_assert(j_bool(r, "acquired"));
	json_decref(r);
	r = tc_call(c, "{\"op\":\"sem.release\",\"name\":\"b1\"}");
	ck_err(r, "would_exceed");
	ck_assert_ptr_nonnull(strstr(j_str(r, "message"), "'b1'"));
	ck_assert_ptr_nonnull(strstr(j_str(r, "message"), "1 held"));
	json_decref(r);
	r = ok_call(dd, "{\"op\":\"sem.acquire\",\"name\":\"b1\",\"timeout\":0}");
	ck_assert(!j_bool(r, "acquired"));
	ck_assert_int_eq(j_int(r, "value"), 0);
	json_decref(r);
	/* The holder's own release is fine, and then it is full again. */
	r = ok_call(z, "{\"op\":\"sem.release\",\"name\":\"b1\"}");
	ck_assert_int_eq(j_int(r, "value"), 1);
	json_decref(r);
	r = tc_call(c, "{\"op\":\"sem.release\",\"name\":\"b1\"}");
	ck_err(r, "would_exceed");
	json_decref(r);
	/* A mismatch says which parameter differs. */
	expect_message(c, "{\"op\":\"sem.value\",\"name\":\"b1\",\"value\":1}",
	    "param_mismatch", "exists with value 1, bounded true, owned true; "
	    "this request has value 1, bounded false, owned true");
	json_decref(ok_call(c, "{\"op\":\"counter.set\",\"name\":\"big\","
	    "\"value\":9223372036854775807}"));
	expect_message(c, "{\"op\":\"counter.add\",\"name\":\"big\","
	    "\"delta\":1}", "would_exceed", "counter 'big': ");
	/* An unbounded one still takes plain signals, as in Python. */
	json_decref(ok_call(z, "{\"op\":\"sem.acquire\",\"name\":\"u1\","
	    "\"value\":1}"));
	r = ok_call(c, "{\"op\":\"sem.release\",\"name\":\"u1\"}");
	ck_assert_int_eq(j_int(r, "value"), 1);
	json_decref(r);
	tc_close(z);
	tc_close(c);
	tc_close(dd);
	daemon_finish(&d);
}
END_TEST

/* A refused request creates nothing. */
START_TEST(test_refused_requests_create_nothing)
{
	struct daemon	 d;
	struct tc	*t, *o;
	json_t		*r;

	daemon_start(&d, "--max-pending", "1", NULL);
	t = tc_open(d.sock);
	o = tc_open(d.sock);
	r = tc_call(t, "{\"op\":\"sem.release\",\"name\":\"r-pool\","
	    "\"value\":1,\"bounded\":true}");
	ck_err(r, "would_exceed");
	json_decref(r);
	expect_missing(o, "r-pool");
	/* One pending allowed: the next blocking request is refused. */
	tc_send(t, "{\"op\":\"event.wait\",\"name\":\"e\",\"id\":1}");
	r = tc_call(t, "{\"op\":\"sem.acquire\",\"name\":\"s0\",\"value\":0}");
	ck_err(r, "limit");
	json_decref(r);
	r = tc_call(t, "{\"op\":\"barrier.wait\",\"name\":\"b3\","
	    "\"parties\":3}");
	ck_err(r, "limit");
	json_decref(r);
	expect_missing(o, "s0");
	expect_missing(o, "b3");
	r = ok_call(o, "{\"op\":\"stat\"}");
	ck_assert_int_eq(j_int(r, "objects"), 1);		/* the event */
	json_decref(r);
	/* A parameter mismatch on a new name cannot happen; a bad one: */
	r = tc_call(t, "{\"op\":\"sem.acquire\",\"name\":\"s1\",\"value\":-1}");
	ck_err(r, "bad_request");
	json_decref(r);
	expect_missing(o, "s1");
	tc_close(t);
	tc_close(o);
	daemon_finish(&d);
}
END_TEST

/* Blank lines, whitespace only included, get no reply at all. */
START_TEST(test_blank_lines_ignored)
{
	struct daemon	 d;
	struct tc	*t;
	json_t		*r;
	bool		 eof;
	static const char lines[] = "   \n\t\n \t \r\n\n{\"op\":\"ping\","
	    "\"id\":1}\n  ";

	daemon_start(&d, NULL);
	t = tc_open(d.sock);
	tc_send_raw(t, lines, sizeof(lines) - 1);
	ck_assert_int_eq(shutdown(t->fd, SHUT_WR), 0);
	r = tc_reply(t);
	ck_assert_int_eq(j_int(r, "id"), 1);
	json_decref(r);
	/* The final "  " before end of input is blank too. */
	r = tc_recv(t, 10, &eof);
	ck_assert_msg(r == NULL && eof, "unexpected: %s", j_dump(r));
	tc_close(t);
	daemon_finish(&d);
}
END_TEST

/* A lock that a pending cond.wait will take back counts as waited on. */
START_TEST(test_cond_wait_counts_as_lock_waiter)
{
	struct daemon	 d;
	struct tc	*t, *o;
	json_t		*r, *objs, *waiters;

	daemon_start(&d, NULL);
	t = tc_open(d.sock);
	o = tc_open(d.sock);
	json_decref(ok_call(t, "{\"op\":\"lock.acquire\",\"name\":\"cl\"}"));
	tc_send(t, "{\"op\":\"cond.wait\",\"name\":\"cv\",\"lock\":\"cl\","
	    "\"id\":1}");
	json_decref(ok_call(t, "{\"op\":\"ping\"}"));
	r = ok_call(o, "{\"op\":\"list\",\"prefix\":\"cl\"}");
	objs = json_object_get(r, "objects");
	ck_assert_uint_eq(json_array_size(objs), 1);
	ck_assert_int_eq(j_int(json_array_get(objs, 0), "waiters"), 1);
	ck_assert_int_eq(j_int(json_array_get(objs, 0), "holders"), 0);
	json_decref(r);
	r = ok_call(o, "{\"op\":\"info\",\"name\":\"cl\"}");
	waiters = json_object_get(r, "waiters");
	ck_assert_uint_eq(json_array_size(waiters), 1);
	ck_assert_str_eq(j_str(json_array_get(waiters, 0), "condition"), "cv");
	json_decref(r);
	r = tc_call(o, "{\"op\":\"delete\",\"name\":\"cl\"}");
	ck_err(r, "busy");
	ck_assert_ptr_nonnull(strstr(j_str(r, "message"), "1 waiter"));
	json_decref(r);
	tc_close(t);
	tc_close(o);
	daemon_finish(&d);
}
END_TEST

/* input_buffered counts what is not yet handled: the stat line only. */
START_TEST(test_input_buffered_after_handled_lines)
{
	static const char batch[] = "{\"op\":\"ping\"}\n{\"op\":\"ping\"}\n"
	    "{\"op\":\"ping\"}\n{\"op\":\"stat\"}\n";
	struct daemon	 d;
	struct tc	*t;
	json_t		*r;
	int		 i;

	daemon_start(&d, NULL);
	t = tc_open(d.sock);
	tc_send_raw(t, batch, sizeof(batch) - 1);
	for (i = 0; i < 3; i++)
		json_decref(tc_reply(t));
	r = tc_reply(t);
	ck_assert_int_eq(j_int(r, "input_buffered"), 14);
	json_decref(r);
	tc_close(t);
	daemon_finish(&d);
}
END_TEST

/*
 * A refused peer still sending (socat with its input) must be able to
 * finish its writes and read its line: no EPIPE, no reset.
 */
START_TEST(test_refusal_line_survives_unread_input)
{
	enum { JUNK = 256 << 10 };
	struct daemon	 d;
	struct tc	*t;
	json_t		*r;
	char		*junk;
	int		 i;

	junk = malloc(JUNK);
	memset(junk, ' ', JUNK);
	daemon_start(&d, "--allow-uid", "4242424", NULL);
	for (i = 0; i < 10; i++) {
		t = tc_open(d.sock);
		tc_send_raw(t, junk, JUNK);	/* fails on EPIPE */
		r = tc_reply(t);
		ck_err(r, "forbidden");
		ck_assert_ptr_nonnull(strstr(j_str(r, "message"),
		    "--allow-uid"));
		json_decref(r);
		tc_expect_eof(t);
		tc_close(t);
	}
	free(junk);
	daemon_finish(&d);
}
END_TEST

/* The message of the reply to line, which must fail with code. */
static void
expect_message(struct tc *t, const char *line, const char *code,
    const char *part)
{
	json_t	*r = tc_call(t, line);

	ck_err(r, code);
	ck_assert_msg(strstr(j_str(r, "message"), part) != NULL,
	    "%s: no \"%s\" in %s", line, part, j_dump(r));
	json_decref(r);
}

/* Refuse what must not appear in a message (library internals). */
static void
expect_no_jargon(struct tc *t, const void *line, size_t len)
{
	json_t		*r;
	const char	*m;

	tc_send_raw(t, line, len);
	tc_send_raw(t, "\n", 1);
	r = tc_reply(t);
	ck_err(r, "bad_request");
	m = j_str(r, "message");
	ck_assert_msg(strstr(m, "JSON_ALLOW_NUL") == NULL &&
	    strstr(m, "end of file") == NULL, "jargon: %s", m);
	ck_assert_msg(strstr(m, "NUL") != NULL, "no NUL named: %s", m);
	json_decref(r);
}

START_TEST(test_messages_name_what_they_are_about)
{
	struct daemon	 d;
	struct tc	*t, *u;

	daemon_start(&d, "--max-pending", "1", "--max-objects", "2", NULL);
	t = tc_open(d.sock);
	u = tc_open(d.sock);
	json_decref(ok_call(t, "{\"op\":\"event.set\",\"name\":\"e\"}"));
	expect_message(t, "{\"op\":\"lock.acquire\",\"name\":\"e\"}",
	    "type_mismatch", "'e' is an event, not a lock");
	expect_message(t, "{\"op\":\"rwlock.acquire\",\"name\":\"e\","
	    "\"mode\":\"read\"}", "type_mismatch", "not an rwlock");
	expect_message(t, "{\"op\":\"lock.aquire\",\"name\":\"x\"}",
	    "unknown_op", "did you mean 'lock.acquire'?");
	expect_message(t, "{\"op\":\"lock.acquire\",\"name\":\"a\\nb\"}",
	    "bad_name", "control character: byte 1 is 0x0a, after 'a'");
	expect_no_jargon(t, "{\"op\":\"ping\"}\0", 14);
	expect_no_jargon(t, "{\"op\":\"ping\",\"x\":\"\\u0000\"}", 27);
	json_decref(ok_call(t, "{\"op\":\"lock.acquire\",\"name\":\"h\"}"));
	expect_message(u, "{\"op\":\"delete\",\"name\":\"h\"}", "busy",
	    "lock 'h' has 1 holder and 0 waiters");
	/* Limits name what they refused. */
	tc_send(u, "{\"op\":\"lock.acquire\",\"name\":\"h\",\"id\":1}");
	expect_message(u, "{\"op\":\"event.wait\",\"name\":\"w\"}", "limit",
	    "cannot wait for event 'w'");
	expect_message(t, "{\"op\":\"counter.add\",\"name\":\"n1\",\"delta\":1}",
	    "limit", "cannot create counter 'n1'");
	tc_close(t);
	json_decref(tc_reply(u));		/* h, handed on */
	tc_close(u);
	daemon_finish(&d);
}
END_TEST

/* A cond.wait told apart: its condition deleted, or its lock. */
START_TEST(test_cond_wait_deleted_messages)
{
	struct daemon	 d;
	struct tc	*t, *o;
	json_t		*r;

	daemon_start(&d, NULL);
	t = tc_open(d.sock);
	o = tc_open(d.sock);
	json_decref(ok_call(t, "{\"op\":\"lock.acquire\",\"name\":\"cl\"}"));
	tc_send(t, "{\"op\":\"cond.wait\",\"name\":\"cv\",\"lock\":\"cl\","
	    "\"id\":1}");
	json_decref(ok_call(t, "{\"op\":\"ping\"}"));
	json_decref(ok_call(o, "{\"op\":\"delete\",\"name\":\"cv\","
	    "\"force\":true}"));
	r = tc_reply(t);
	ck_err(r, "deleted");
	ck_assert_ptr_nonnull(strstr(j_str(r, "message"),
	    "condition 'cv' was deleted"));
	json_decref(r);
	json_decref(ok_call(t, "{\"op\":\"lock.acquire\",\"name\":\"cl\"}"));
	tc_send(t, "{\"op\":\"cond.wait\",\"name\":\"cv\",\"lock\":\"cl\","
	    "\"id\":2}");
	json_decref(ok_call(t, "{\"op\":\"ping\"}"));
	json_decref(ok_call(o, "{\"op\":\"delete\",\"name\":\"cl\","
	    "\"force\":true}"));
	r = tc_reply(t);
	ck_err(r, "deleted");
	ck_assert_ptr_nonnull(strstr(j_str(r, "message"), "lock 'cl', which "
	    "this cond.wait was to take back"));
	json_decref(r);
	tc_close(t);
	tc_close(o);
	daemon_finish(&d);
}
END_TEST

/* A party that leaves a barrier is named, later waits told why. */
START_TEST(test_barrier_names_who_broke_it)
{
	struct daemon	 d;
	struct tc	*t, *u;
	json_t		*r;
	char		 who[64];
	long long	 session;

	daemon_start(&d, NULL);
	t = tc_open(d.sock);
	u = tc_open(d.sock);
	r = ok_call(u, "{\"op\":\"hello\"}");
	session = j_int(r, "session");
	json_decref(r);
	snprintf(who, sizeof(who), "session %lld (pid %ld) left", session,
	    (long)getpid());
	tc_send(t, "{\"op\":\"barrier.wait\",\"name\":\"b\",\"parties\":3,"
	    "\"id\":1}");
	json_decref(ok_call(t, "{\"op\":\"ping\"}"));	/* b exists */
	tc_send(u, "{\"op\":\"barrier.wait\",\"name\":\"b\",\"id\":2}");
	json_decref(ok_call(u, "{\"op\":\"ping\"}"));
	tc_close(u);
	r = tc_reply(t);
	ck_err(r, "broken");
	ck_assert_msg(strstr(j_str(r, "message"), who) != NULL, "%s",
	    j_dump(r));
	json_decref(r);
	expect_message(t, "{\"op\":\"barrier.wait\",\"name\":\"b\"}", "broken",
	    who);
	tc_close(t);
	daemon_finish(&d);
}
END_TEST

/* At debug, a connection's close says what it released. */
START_TEST(test_close_log_says_what_was_released)
{
	struct daemon	 d;
	struct tc	*t, *o;
	char		 log[16384];
	size_t		 n;
	FILE		*f;

	daemon_start(&d, "--log-level", "debug", NULL);
	o = tc_open(d.sock);
	t = tc_open(d.sock);
	json_decref(ok_call(t, "{\"op\":\"lock.acquire\",\"name\":\"rel-1\"}"));
	json_decref(ok_call(t, "{\"op\":\"sem.acquire\",\"name\":\"rel-s\","
	    "\"value\":2}"));
	tc_close(t);
	/* Logged before the count drops. */
	tc_wait_connections(o, 1);
	ck_assert_ptr_nonnull(f = fopen(d.log, "r"));
	n = fread(log, 1, sizeof(log) - 1, f);
	fclose(f);
	log[n] = '\0';
	ck_assert_msg(strstr(log, "released lock 'rel-1', semaphore "
	    "'rel-s'; 0 pending requests dropped") != NULL, "%s", log);
	tc_close(o);
	daemon_finish(&d);
}
END_TEST

/*
 * An unowned semaphore consumes the units taken: a consumer that takes a
 * producer's signal and dies does not give it back (Python's counting
 * semaphore); an owned one (the default) returns them.
 */
START_TEST(test_unowned_semaphore_consumes_units)
{
	struct daemon	 d;
	struct tc	*producer, *consumer, *o;
	json_t		*r;

	daemon_start(&d, NULL);
	producer = tc_open(d.sock);
	consumer = tc_open(d.sock);
	o = tc_open(d.sock);
	tc_send(consumer, "{\"op\":\"sem.acquire\",\"name\":\"items\","
	    "\"value\":0,\"owned\":false,\"id\":1}");
	json_decref(ok_call(consumer, "{\"op\":\"ping\"}"));
	r = ok_call(producer, "{\"op\":\"sem.release\",\"name\":\"items\"}");
	ck_assert_int_eq(j_int(r, "value"), 0);		/* taken at once */
	json_decref(r);
	r = tc_reply(consumer);
	ck_assert(j_bool(r, "acquired"));
	json_decref(r);
	/* Nobody holds a consumed unit. */
	r = ok_call(o, "{\"op\":\"info\",\"name\":\"items\"}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "holders")), 0);
	ck_assert(!j_bool(r, "owned"));
	json_decref(r);
	tc_close(consumer);
	tc_wait_connections(o, 2);
	r = ok_call(o, "{\"op\":\"sem.value\",\"name\":\"items\"}");
	ck_assert_int_eq(j_int(r, "value"), 0);		/* still consumed */
	json_decref(r);
	/* Bounded and unowned: BoundedSemaphore(1)'s over-release. */
	json_decref(ok_call(o, "{\"op\":\"sem.acquire\",\"name\":\"b\","
	    "\"value\":1,\"bounded\":true,\"owned\":false}"));
	json_decref(ok_call(producer, "{\"op\":\"sem.release\",\"name\":\"b\"}"));
	expect_message(producer, "{\"op\":\"sem.release\",\"name\":\"b\"}",
	    "would_exceed", "initial value 1");
	/* The kind is a creation parameter like the others. */
	expect_message(o, "{\"op\":\"sem.value\",\"name\":\"b\",\"value\":1,"
	    "\"bounded\":true}", "param_mismatch", "owned false; this request "
	    "has value 1, bounded true, owned true");
	tc_close(producer);
	tc_close(o);
	daemon_finish(&d);
}
END_TEST

/*
 * A temporary object is deleted when the session that created it ends:
 * a program that makes 1,000 anonymous semaphores and exits leaves none.
 */
START_TEST(test_temporary_objects_go_with_their_creator)
{
	enum { N = 1000 };
	struct daemon	 d;
	struct tc	*t, *o, *w;
	json_t		*r;
	char		 line[128];
	long long	 session;
	int		 i;

	daemon_start(&d, NULL);
	t = tc_open(d.sock);
	o = tc_open(d.sock);
	w = tc_open(d.sock);
	r = ok_call(t, "{\"op\":\"hello\"}");
	session = j_int(r, "session");
	json_decref(r);
	for (i = 0; i < N; i++) {
		snprintf(line, sizeof(line), "{\"op\":\"sem.value\",\"name\":"
		    "\"anon-%d\",\"value\":1,\"temporary\":true}", i);
		tc_send(t, line);
	}
	for (i = 0; i < N; i++)
		json_decref(tc_reply(t));
	json_decref(ok_call(t, "{\"op\":\"barrier.info\",\"name\":\"tb\","
	    "\"parties\":2,\"temporary\":true}"));
	json_decref(ok_call(t, "{\"op\":\"counter.add\",\"name\":\"tc\","
	    "\"delta\":5,\"temporary\":true}"));
	/* One goes first, deleted by hand: nothing dangles. */
	json_decref(ok_call(o, "{\"op\":\"delete\",\"name\":\"anon-7\"}"));
	/* Others use them meanwhile; info says whose they are. */
	tc_send(w, "{\"op\":\"barrier.wait\",\"name\":\"tb\",\"id\":1}");
	r = ok_call(w, "{\"op\":\"sem.acquire\",\"name\":\"anon-3\"}");
	ck_assert(j_bool(r, "acquired"));
	json_decref(r);
	r = ok_call(o, "{\"op\":\"info\",\"name\":\"tb\"}");
	ck_assert_int_eq(j_int(r, "temporary"), session);
	json_decref(r);
	r = ok_call(o, "{\"op\":\"stat\"}");
	ck_assert_int_eq(j_int(r, "objects"), N - 1 + 2);
	json_decref(r);
	tc_close(t);
	/* The waiter is told, and nothing is left. */
	r = tc_reply(w);
	ck_err(r, "deleted");
	ck_assert_ptr_nonnull(strstr(j_str(r, "message"), "barrier 'tb'"));
	json_decref(r);
	tc_wait_connections(o, 2);
	r = ok_call(o, "{\"op\":\"stat\"}");
	ck_assert_int_eq(j_int(r, "objects"), 0);
	json_decref(r);
	/* A bad flag is a bad request, and creates nothing. */
	expect_message(o, "{\"op\":\"sem.value\",\"name\":\"x\",\"value\":1,"
	    "\"temporary\":1}", "bad_request", "'temporary'");
	expect_missing(o, "x");
	tc_close(w);
	tc_close(o);
	daemon_finish(&d);
}
END_TEST

Suite *
contract_suite(void)
{
	Suite	*s = suite_create("contract");

	ADD_TEST(s, test_bounded_sem_counts_held_units, 20);
	ADD_TEST(s, test_refused_requests_create_nothing, 20);
	ADD_TEST(s, test_blank_lines_ignored, 20);
	ADD_TEST(s, test_cond_wait_counts_as_lock_waiter, 20);
	ADD_TEST(s, test_input_buffered_after_handled_lines, 20);
	ADD_TEST(s, test_refusal_line_survives_unread_input, 20);
	ADD_TEST(s, test_messages_name_what_they_are_about, 20);
	ADD_TEST(s, test_cond_wait_deleted_messages, 20);
	ADD_TEST(s, test_barrier_names_who_broke_it, 20);
	ADD_TEST(s, test_close_log_says_what_was_released, 20);
	ADD_TEST(s, test_unowned_semaphore_consumes_units, 20);
	ADD_TEST(s, test_temporary_objects_go_with_their_creator, 30);
	return (s);
}
