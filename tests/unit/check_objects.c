/*
 * check_objects.c -- lock and event semantics, the object table, FIFO
 * queues, deadlines and owner death, driven through the server's own
 * request path over socketpairs: no listener, no daemon process.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "collide.h"
#include "conn.h"
#include "harness.h"
#include "log.h"
#include "objtab.h"
#include "peer.h"
#include "reply.h"
#include "server.h"

START_TEST(test_lock_fifo_handoff)
{
	struct server	 srv;
	struct peer	 p[5];
	json_t		*r;
	long long	 last;
	int		 i;

	srv_start(&srv, NULL);
	for (i = 0; i < 5; i++)
		peer_open(&srv, &p[i], 100 + i);
	r = ok_call(&srv, &p[0], "{\"op\":\"lock.acquire\",\"name\":\"L\"}");
	ck_assert(j_bool(r, "acquired"));
	last = j_int(r, "token");
	json_decref(r);
	/* Four waiters queue up; none is answered yet. */
	for (i = 1; i < 5; i++) {
		peer_send(&srv, &p[i], "{\"op\":\"lock.acquire\",\"name\":\"L\","
		    "\"id\":7}");
		expect_nothing(&p[i]);
	}
	/* Each release hands the lock to the oldest waiter, and only it. */
	for (i = 0; i < 4; i++) {
		json_decref(ok_call(&srv, &p[i],
		    "{\"op\":\"lock.release\",\"name\":\"L\"}"));
		r = peer_recv(&p[i + 1]);
		ck_ok(r);
		ck_assert(j_bool(r, "acquired"));
		ck_assert_int_eq(j_int(r, "id"), 7);
		ck_assert_int_gt(j_int(r, "token"), last);
		last = j_int(r, "token");
		json_decref(r);
		if (i + 2 < 5)
			expect_nothing(&p[i + 2]);
	}
	json_decref(ok_call(&srv, &p[4], "{\"op\":\"lock.release\",\"name\":\"L\"}"));
	/* Free and unwaited: the lock is gone. */
	ck_assert_uint_eq(srv.model.objects.count, 0);
	srv_finish(&srv, p, 5);
}
END_TEST

START_TEST(test_lock_owner_death)
{
	struct server	 srv;
	struct peer	 p[3];
	json_t		*r;
	int		 i;

	srv_start(&srv, NULL);
	for (i = 0; i < 3; i++)
		peer_open(&srv, &p[i], 100 + i);
	json_decref(ok_call(&srv, &p[0], "{\"op\":\"lock.acquire\",\"name\":\"L\"}"));
	json_decref(ok_call(&srv, &p[0], "{\"op\":\"lock.acquire\",\"name\":\"M\"}"));
	peer_send(&srv, &p[1], "{\"op\":\"lock.acquire\",\"name\":\"L\"}");
	peer_send(&srv, &p[2], "{\"op\":\"lock.acquire\",\"name\":\"L\"}");
	/* The holder dies: the next waiter has the lock when conn_lost returns. */
	conn_lost(p[0].c, false);
	r = peer_recv(&p[1]);
	ck_ok(r);
	ck_assert(j_bool(r, "acquired"));
	json_decref(r);
	expect_nothing(&p[2]);
	/* M was released and vanished; L is held by p[1]. */
	ck_assert_uint_eq(srv.model.objects.count, 1);
	/* A waiter that dies leaves the queue: p[1]'s release skips it. */
	conn_lost(p[2].c, false);
	json_decref(ok_call(&srv, &p[1], "{\"op\":\"lock.release\",\"name\":\"L\"}"));
	ck_assert_uint_eq(srv.model.objects.count, 0);
	srv_finish(&srv, p, 3);
}
END_TEST

START_TEST(test_lock_timeout_timer)
{
	struct server	 srv;
	struct peer	 p[2];
	json_t		*r;
	double		 t0;

	srv_start(&srv, NULL);
	peer_open(&srv, &p[0], 100);
	peer_open(&srv, &p[1], 101);
	json_decref(ok_call(&srv, &p[0], "{\"op\":\"lock.acquire\",\"name\":\"L\"}"));
	t0 = now_s();
	peer_send(&srv, &p[1], "{\"op\":\"lock.acquire\",\"name\":\"L\","
	    "\"timeout\":0.05,\"id\":\"t\"}");
	expect_nothing(&p[1]);
	r = peer_wait(&srv, &p[1], 5);
	ck_ok(r);
	ck_assert(!j_bool(r, "acquired"));
	ck_assert_ptr_null(json_object_get(r, "token"));
	ck_assert_str_eq(j_str(r, "id"), "t");
	ck_assert(now_s() - t0 >= 0.05);
	json_decref(r);
	/* The timed-out waiter left the queue. */
	ck_assert_uint_eq(p[1].c->sess.npending, 0);
	srv_finish(&srv, p, 2);
}
END_TEST

START_TEST(test_lock_try_and_not_owner)
{
	struct server	 srv;
	struct peer	 p[2];
	json_t		*r;

	srv_start(&srv, NULL);
	peer_open(&srv, &p[0], 100);
	peer_open(&srv, &p[1], 101);
	/* Releasing a lock that does not exist, or that another holds. */
	r = peer_call(&srv, &p[0], "{\"op\":\"lock.release\",\"name\":\"L\"}");
	ck_err(r, "not_owner");
	json_decref(r);
	ck_assert_uint_eq(srv.model.objects.count, 0);
	json_decref(ok_call(&srv, &p[0], "{\"op\":\"lock.acquire\",\"name\":\"L\"}"));
	r = peer_call(&srv, &p[1], "{\"op\":\"lock.release\",\"name\":\"L\"}");
	ck_err(r, "not_owner");
	json_decref(r);
	/* A try never queues. */
	r = ok_call(&srv, &p[1], "{\"op\":\"lock.acquire\",\"name\":\"L\",\"timeout\":0}");
	ck_assert(!j_bool(r, "acquired"));
	json_decref(r);
	ck_assert_uint_eq(p[1].c->sess.npending, 0);
	/* The holder acquiring again: would_deadlock, try or not. */
	r = peer_call(&srv, &p[0], "{\"op\":\"lock.acquire\",\"name\":\"L\",\"timeout\":0}");
	ck_err(r, "would_deadlock");
	json_decref(r);
	srv_finish(&srv, p, 2);
}
END_TEST

START_TEST(test_deadlock_cycle)
{
	struct server	 srv;
	struct peer	 p[3];
	json_t		*r;
	const char	*msg;

	srv_start(&srv, NULL);
	peer_open(&srv, &p[0], 100);
	peer_open(&srv, &p[1], 101);
	peer_open(&srv, &p[2], 102);
	json_decref(ok_call(&srv, &p[0], "{\"op\":\"lock.acquire\",\"name\":\"x\"}"));
	json_decref(ok_call(&srv, &p[1], "{\"op\":\"lock.acquire\",\"name\":\"y\"}"));
	json_decref(ok_call(&srv, &p[2], "{\"op\":\"lock.acquire\",\"name\":\"z\"}"));
	/* 1 waits for y (held by 2), 2 waits for z (held by 3). */
	peer_send(&srv, &p[0], "{\"op\":\"lock.acquire\",\"name\":\"y\"}");
	peer_send(&srv, &p[1], "{\"op\":\"lock.acquire\",\"name\":\"z\"}");
	expect_nothing(&p[0]);
	expect_nothing(&p[1]);
	/* 3 asking for x closes 3 -> 1 -> 2 -> 3. */
	r = peer_call(&srv, &p[2], "{\"op\":\"lock.acquire\",\"name\":\"x\"}");
	ck_err(r, "would_deadlock");
	msg = j_str(r, "message");
	ck_assert_msg(strstr(msg, "session 3 (pid 102) waits for 'x' held by "
	    "session 1 (pid 100)")
	    != NULL, "%s", msg);
	ck_assert_msg(strstr(msg, "session 1 (pid 100) waits for 'y' held by "
	    "session 2 (pid 101)")
	    != NULL, "%s", msg);
	ck_assert_msg(strstr(msg, "session 2 (pid 101) waits for 'z' held by "
	    "session 3 (pid 102)")
	    != NULL, "%s", msg);
	json_decref(r);
	/* Nothing changed: 3 is not queued, x has no waiter. */
	ck_assert_uint_eq(p[2].c->sess.npending, 0);
	/* A try that cannot be granted is just "not acquired". */
	r = ok_call(&srv, &p[2], "{\"op\":\"lock.acquire\",\"name\":\"x\",\"timeout\":0}");
	ck_assert(!j_bool(r, "acquired"));
	json_decref(r);
	/* Without the cycle, the same request simply waits. */
	json_decref(ok_call(&srv, &p[2], "{\"op\":\"lock.release\",\"name\":\"z\"}"));
	r = peer_recv(&p[1]);
	ck_assert(j_bool(r, "acquired"));
	json_decref(r);
	peer_send(&srv, &p[2], "{\"op\":\"lock.acquire\",\"name\":\"w\"}");
	r = peer_recv(&p[2]);
	ck_assert(j_bool(r, "acquired"));
	json_decref(r);
	srv_finish(&srv, p, 3);
}
END_TEST

START_TEST(test_deadlock_through_queue)
{
	struct server	 srv;
	struct peer	 p[3];
	json_t		*r;

	srv_start(&srv, NULL);
	peer_open(&srv, &p[0], 100);
	peer_open(&srv, &p[1], 101);
	peer_open(&srv, &p[2], 102);
	/* A holds x; B queues for x; C holds y and queues for x behind B. */
	json_decref(ok_call(&srv, &p[0], "{\"op\":\"lock.acquire\",\"name\":\"x\"}"));
	json_decref(ok_call(&srv, &p[2], "{\"op\":\"lock.acquire\",\"name\":\"y\"}"));
	peer_send(&srv, &p[1], "{\"op\":\"lock.acquire\",\"name\":\"x\"}");
	peer_send(&srv, &p[2], "{\"op\":\"lock.acquire\",\"name\":\"x\"}");
	/* B asking for y waits for C, which waits behind B: a cycle. */
	r = peer_call(&srv, &p[1], "{\"op\":\"lock.acquire\",\"name\":\"y\"}");
	ck_err(r, "would_deadlock");
	ck_assert_msg(strstr(j_str(r, "message"), "queued behind") != NULL,
	    "%s", j_dump(r));
	json_decref(r);
	srv_finish(&srv, p, 3);
}
END_TEST

START_TEST(test_names_vanish)
{
	struct server	 srv;
	struct peer	 p;
	char		 line[128];
	json_t		*r;
	int		 i;

	srv_start(&srv, NULL);
	peer_open(&srv, &p, 100);
	/* Many distinct names used once leave nothing behind. */
	for (i = 0; i < 20000; i++) {
		snprintf(line, sizeof(line), "{\"op\":\"lock.acquire\","
		    "\"name\":\"job-%d\"}", i);
		json_decref(ok_call(&srv, &p, line));
		snprintf(line, sizeof(line), "{\"op\":\"lock.release\","
		    "\"name\":\"job-%d\"}", i);
		json_decref(ok_call(&srv, &p, line));
		snprintf(line, sizeof(line), "{\"op\":\"event.set\","
		    "\"name\":\"ev-%d\"}", i);
		json_decref(ok_call(&srv, &p, line));
		snprintf(line, sizeof(line), "{\"op\":\"event.clear\","
		    "\"name\":\"ev-%d\"}", i);
		json_decref(ok_call(&srv, &p, line));
	}
	ck_assert_uint_eq(srv.model.objects.count, 0);
	/* Reads create nothing. */
	r = ok_call(&srv, &p, "{\"op\":\"event.is_set\",\"name\":\"nope\"}");
	ck_assert(!j_bool(r, "set"));
	json_decref(r);
	r = ok_call(&srv, &p, "{\"op\":\"event.wait\",\"name\":\"nope\",\"timeout\":0}");
	ck_assert(!j_bool(r, "set"));
	json_decref(r);
	ck_assert_uint_eq(srv.model.objects.count, 0);
	srv_finish(&srv, &p, 1);
}
END_TEST

START_TEST(test_event_set_wakes_all)
{
	struct server	 srv;
	struct peer	 p[4];
	json_t		*r;
	int		 i;

	srv_start(&srv, NULL);
	for (i = 0; i < 4; i++)
		peer_open(&srv, &p[i], 100 + i);
	for (i = 1; i < 4; i++) {
		peer_send(&srv, &p[i], "{\"op\":\"event.wait\",\"name\":\"E\"}");
		expect_nothing(&p[i]);
	}
	r = ok_call(&srv, &p[0], "{\"op\":\"info\",\"name\":\"E\"}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "waiters")), 3);
	ck_assert(!j_bool(r, "set"));
	json_decref(r);
	json_decref(ok_call(&srv, &p[0], "{\"op\":\"event.set\",\"name\":\"E\"}"));
	for (i = 1; i < 4; i++) {
		r = peer_recv(&p[i]);
		ck_ok(r);
		ck_assert(j_bool(r, "set"));
		json_decref(r);
	}
	/* Set: later waits return at once; it stays until cleared. */
	r = ok_call(&srv, &p[1], "{\"op\":\"event.wait\",\"name\":\"E\"}");
	ck_assert(j_bool(r, "set"));
	json_decref(r);
	ck_assert_uint_eq(srv.model.objects.count, 1);
	json_decref(ok_call(&srv, &p[0], "{\"op\":\"event.clear\",\"name\":\"E\"}"));
	ck_assert_uint_eq(srv.model.objects.count, 0);
	srv_finish(&srv, p, 4);
}
END_TEST

START_TEST(test_event_wait_timeout)
{
	struct server	 srv;
	struct peer	 p;
	json_t		*r;

	srv_start(&srv, NULL);
	peer_open(&srv, &p, 100);
	peer_send(&srv, &p, "{\"op\":\"event.wait\",\"name\":\"E\",\"timeout\":0.02}");
	expect_nothing(&p);
	ck_assert_uint_eq(srv.model.objects.count, 1);
	r = peer_wait(&srv, &p, 5);
	ck_ok(r);
	ck_assert(!j_bool(r, "set"));
	json_decref(r);
	ck_assert_uint_eq(srv.model.objects.count, 0);
	srv_finish(&srv, &p, 1);
}
END_TEST

START_TEST(test_type_mismatch)
{
	struct server	 srv;
	struct peer	 p;
	json_t		*r;

	srv_start(&srv, NULL);
	peer_open(&srv, &p, 100);
	json_decref(ok_call(&srv, &p, "{\"op\":\"event.set\",\"name\":\"N\"}"));
	r = peer_call(&srv, &p, "{\"op\":\"lock.acquire\",\"name\":\"N\"}");
	ck_err(r, "type_mismatch");
	json_decref(r);
	r = peer_call(&srv, &p, "{\"op\":\"lock.release\",\"name\":\"N\"}");
	ck_err(r, "type_mismatch");
	json_decref(r);
	json_decref(ok_call(&srv, &p, "{\"op\":\"lock.acquire\",\"name\":\"K\"}"));
	r = peer_call(&srv, &p, "{\"op\":\"event.wait\",\"name\":\"K\"}");
	ck_err(r, "type_mismatch");
	json_decref(r);
	/* Once K is released and gone, the name is free for any type. */
	json_decref(ok_call(&srv, &p, "{\"op\":\"lock.release\",\"name\":\"K\"}"));
	json_decref(ok_call(&srv, &p, "{\"op\":\"event.set\",\"name\":\"K\"}"));
	srv_finish(&srv, &p, 1);
}
END_TEST

START_TEST(test_delete_busy_and_force)
{
	struct server	 srv;
	struct peer	 p[2];
	json_t		*r;

	srv_start(&srv, NULL);
	peer_open(&srv, &p[0], 100);
	peer_open(&srv, &p[1], 101);
	r = peer_call(&srv, &p[0], "{\"op\":\"delete\",\"name\":\"L\"}");
	ck_err(r, "not_found");
	json_decref(r);
	json_decref(ok_call(&srv, &p[0], "{\"op\":\"lock.acquire\",\"name\":\"L\"}"));
	peer_send(&srv, &p[1], "{\"op\":\"lock.acquire\",\"name\":\"L\",\"id\":9}");
	r = peer_call(&srv, &p[0], "{\"op\":\"delete\",\"name\":\"L\"}");
	ck_err(r, "busy");
	json_decref(r);
	ck_assert_uint_eq(srv.model.objects.count, 1);
	r = peer_call(&srv, &p[0], "{\"op\":\"delete\",\"name\":\"L\",\"force\":1}");
	ck_err(r, "bad_request");
	json_decref(r);
	json_decref(ok_call(&srv, &p[0], "{\"op\":\"delete\",\"name\":\"L\",\"force\":true}"));
	r = peer_recv(&p[1]);
	ck_err(r, "deleted");
	ck_assert_int_eq(j_int(r, "id"), 9);
	json_decref(r);
	ck_assert_uint_eq(srv.model.objects.count, 0);
	/* The old holder no longer holds it. */
	r = peer_call(&srv, &p[0], "{\"op\":\"lock.release\",\"name\":\"L\"}");
	ck_err(r, "not_owner");
	json_decref(r);
	/* A set event is not busy: delete clears it away. */
	json_decref(ok_call(&srv, &p[0], "{\"op\":\"event.set\",\"name\":\"E\"}"));
	json_decref(ok_call(&srv, &p[0], "{\"op\":\"delete\",\"name\":\"E\"}"));
	r = ok_call(&srv, &p[0], "{\"op\":\"event.is_set\",\"name\":\"E\"}");
	ck_assert(!j_bool(r, "set"));
	json_decref(r);
	srv_finish(&srv, p, 2);
}
END_TEST

START_TEST(test_cancel)
{
	struct server	 srv;
	struct peer	 p[2];
	json_t		*r;

	srv_start(&srv, NULL);
	peer_open(&srv, &p[0], 100);
	peer_open(&srv, &p[1], 101);
	json_decref(ok_call(&srv, &p[0], "{\"op\":\"lock.acquire\",\"name\":\"L\"}"));
	peer_send(&srv, &p[1], "{\"op\":\"lock.acquire\",\"name\":\"L\",\"id\":\"a\"}");
	peer_send(&srv, &p[1], "{\"op\":\"event.wait\",\"name\":\"E\",\"id\":\"a\"}");
	/* The oldest pending "a" is cancelled; its reply comes first. */
	peer_send(&srv, &p[1], "{\"op\":\"cancel\",\"target\":\"a\",\"id\":\"c\"}");
	r = peer_recv(&p[1]);
	ck_err(r, "cancelled");
	ck_assert_str_eq(j_str(r, "id"), "a");
	json_decref(r);
	r = peer_recv(&p[1]);
	ck_ok(r);
	ck_assert_str_eq(j_str(r, "id"), "c");
	ck_assert(j_bool(r, "cancelled"));
	json_decref(r);
	ck_assert_uint_eq(p[1].c->sess.npending, 1);
	/* The lock's queue is empty again: release frees it. */
	json_decref(ok_call(&srv, &p[0], "{\"op\":\"lock.release\",\"name\":\"L\"}"));
	expect_nothing(&p[1]);
	r = ok_call(&srv, &p[1], "{\"op\":\"cancel\",\"target\":\"zzz\"}");
	ck_assert(!j_bool(r, "cancelled"));
	json_decref(r);
	r = peer_call(&srv, &p[1], "{\"op\":\"cancel\"}");
	ck_err(r, "bad_request");
	json_decref(r);
	r = peer_call(&srv, &p[1], "{\"op\":\"cancel\",\"target\":1.5}");
	ck_err(r, "bad_request");
	json_decref(r);
	srv_finish(&srv, p, 2);
}
END_TEST

static void
small_limits(struct config *cfg)
{
	cfg->max_objects = 2;
	cfg->max_pending = 2;
	cfg->max_output = 1024;
}

START_TEST(test_object_and_pending_limits)
{
	struct server	 srv;
	struct peer	 p[2];
	json_t		*r;

	srv_start(&srv, small_limits);
	peer_open(&srv, &p[0], 100);
	peer_open(&srv, &p[1], 101);
	json_decref(ok_call(&srv, &p[0], "{\"op\":\"lock.acquire\",\"name\":\"a\"}"));
	json_decref(ok_call(&srv, &p[0], "{\"op\":\"lock.acquire\",\"name\":\"b\"}"));
	/* N objects allowed, the next refused; reads still answered. */
	r = peer_call(&srv, &p[0], "{\"op\":\"lock.acquire\",\"name\":\"c\"}");
	ck_err(r, "limit");
	json_decref(r);
	ck_assert_uint_eq(srv.model.objects.count, 2);
	r = ok_call(&srv, &p[0], "{\"op\":\"event.is_set\",\"name\":\"c\"}");
	json_decref(r);
	/* Pending: 2 allowed per connection, the third refused. */
	json_decref(ok_call(&srv, &p[0], "{\"op\":\"lock.release\",\"name\":\"b\"}"));
	peer_send(&srv, &p[1], "{\"op\":\"event.wait\",\"name\":\"e\"}");
	peer_send(&srv, &p[1], "{\"op\":\"lock.acquire\",\"name\":\"a\"}");
	expect_nothing(&p[1]);
	r = peer_call(&srv, &p[1], "{\"op\":\"event.wait\",\"name\":\"e\",\"id\":3}");
	ck_err(r, "limit");
	ck_assert_int_eq(j_int(r, "id"), 3);
	json_decref(r);
	ck_assert_uint_eq(p[1].c->sess.npending, 2);
	srv_finish(&srv, p, 2);
}
END_TEST

START_TEST(test_output_cap)
{
	struct server	 srv;
	struct peer	 p[2];
	json_t		*r;
	int		 i;

	srv_start(&srv, small_limits);
	peer_open(&srv, &p[0], 100);
	peer_open(&srv, &p[1], 101);
	json_decref(ok_call(&srv, &p[0], "{\"op\":\"lock.acquire\",\"name\":\"a\"}"));
	peer_send(&srv, &p[1], "{\"op\":\"lock.acquire\",\"name\":\"a\"}");
	/*
	 * p[0] stops reading while its replies pile up past the cap: once
	 * the (smallest) socket buffers are full, in the daemon's output.
	 */
	peer_shrink_buffers(&p[0]);
	for (i = 0; i < 100000 && srv.clients.n == 2; i++)
		peer_send(&srv, &p[0], "{\"op\":\"ping\"}");
	event_base_loop(srv.base, EVLOOP_NONBLOCK);
	/* Cut off: its lock went to the waiter. */
	ck_assert_uint_eq(srv.clients.n, 1);
	r = peer_recv(&p[1]);
	ck_ok(r);
	ck_assert(j_bool(r, "acquired"));
	json_decref(r);
	srv_finish(&srv, p, 2);
}
END_TEST

/* Count the replies p has, reading all the socket holds. */
static int
count_replies(struct peer *p)
{
	json_t	*r;
	int	 n = 0;

	while ((r = peer_recv(p)) != NULL) {
		ck_ok(r);
		json_decref(r);
		n++;
	}
	return (n);
}

START_TEST(test_output_backs_up_and_drains)
{
	struct server	 srv;
	struct peer	 p;
	int		 sent = 0, got = 0, round;

	srv_start(&srv, NULL);
	peer_open(&srv, &p, 100);
	peer_shrink_buffers(&p);
	/* Until the replies back up into the daemon's output buffer. */
	while (evbuffer_get_length(p.c->out) == 0 && sent < 100000) {
		peer_send(&srv, &p, "{\"op\":\"ping\"}");
		sent++;
	}
	ck_assert_uint_gt(evbuffer_get_length(p.c->out), 0);
	ck_assert(event_pending(&p.c->wev, EV_WRITE, NULL));
	/*
	 * Reading and asking in turn: replies go out both through the write
	 * event and through the end-of-turn flush, which may empty the
	 * buffer while the write event is still armed.
	 */
	for (round = 0; round < 200; round++) {
		got += count_replies(&p);
		peer_send(&srv, &p, "{\"op\":\"ping\"}");
		sent++;
	}
	while (got < sent && srv.clients.n == 1) {
		event_base_loop(srv.base, EVLOOP_NONBLOCK);
		got += count_replies(&p);
	}
	ck_assert_uint_eq(srv.clients.n, 1);
	ck_assert_int_eq(got, sent);
	/* Drained, the write event is no longer watched. */
	ck_assert_uint_eq(evbuffer_get_length(p.c->out), 0);
	ck_assert(!event_pending(&p.c->wev, EV_WRITE, NULL));
	/*
	 * Write readiness with nothing queued (the end-of-turn flush can
	 * empty the buffer after the poll saw the socket full) closes
	 * nothing: evbuffer_write calls an empty buffer an error.
	 */
	errno = 0;	/* not a stale EAGAIN from this test's own reads */
	event_active(&p.c->wev, EV_WRITE, 0);
	event_base_loop(srv.base, EVLOOP_NONBLOCK);
	ck_assert_uint_eq(srv.clients.n, 1);
	json_decref(ok_call(&srv, &p, "{\"op\":\"ping\"}"));
	srv_finish(&srv, &p, 1);
}
END_TEST

START_TEST(test_shutdown_fails_waits)
{
	struct server	 srv;
	struct peer	 p[2];
	json_t		*r;

	srv_start(&srv, NULL);
	peer_open(&srv, &p[0], 100);
	peer_open(&srv, &p[1], 101);
	json_decref(ok_call(&srv, &p[0], "{\"op\":\"lock.acquire\",\"name\":\"a\"}"));
	peer_send(&srv, &p[1], "{\"op\":\"lock.acquire\",\"name\":\"a\",\"id\":1}");
	peer_send(&srv, &p[1], "{\"op\":\"event.wait\",\"name\":\"e\",\"id\":2}");
	server_stop(&srv);
	r = peer_recv(&p[1]);
	ck_err(r, "shutting_down");
	ck_assert_int_eq(j_int(r, "id"), 1);
	json_decref(r);
	r = peer_recv(&p[1]);
	ck_err(r, "shutting_down");
	ck_assert_int_eq(j_int(r, "id"), 2);
	json_decref(r);
	/* The holder was not handed anything: no grant after shutdown. */
	expect_nothing(&p[1]);
	srv_finish(&srv, p, 2);
}
END_TEST

START_TEST(test_hash_is_seeded)
{
	struct objtab	a, b;
	int		i, same = 0;
	char		key[16];

	ck_assert_int_eq(objtab_init(&a), 0);
	ck_assert_int_eq(objtab_init(&b), 0);
	/* Two tables hash the same names differently: not predictable. */
	for (i = 0; i < 64; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		same += objtab_hash(&a, key, strlen(key)) ==
		    objtab_hash(&b, key, strlen(key));
	}
	ck_assert_int_lt(same, 4);
}
END_TEST

START_TEST(test_log_limit)
{
	struct log_limit	l = { 0 };
	unsigned long		dropped = 99;
	int			i, passed = 0;

	/* A flood in one second: LOG_BURST pass, the rest are counted. */
	for (i = 0; i < 1000; i++)
		passed += log_limit_pass(&l, 100, &dropped);
	ck_assert_int_eq(passed, LOG_BURST);
	ck_assert_uint_eq(dropped, 0);
	/* The next second's first message reports them, once. */
	ck_assert(log_limit_pass(&l, 101, &dropped));
	ck_assert_uint_eq(dropped, 1000 - LOG_BURST);
	ck_assert(log_limit_pass(&l, 101, &dropped));
	ck_assert_uint_eq(dropped, 0);
}
END_TEST

/* uthash's stock table, hashing with HASH_JEN: what psyncd does not use. */
struct stock_entry {
	UT_hash_handle	hh;
};

/* The longest chain in a uthash table. */
static unsigned
longest_chain(const UT_hash_table *tbl)
{
	unsigned	i, most = 0;

	for (i = 0; i < tbl->num_buckets; i++)
		if (tbl->buckets[i].count > most)
			most = tbl->buckets[i].count;
	return (most);
}

static int
cmp_name(const void *a, const void *b)
{
	return (memcmp(a, b, COLLIDE_NAME_SIZE));
}

START_TEST(test_crafted_collisions_spread)
{
	struct stock_entry	*stock = NULL, *e;
	struct objtab		 tab;
	struct object		*objs, *o;
	static const struct objtype fake = { .name = "fake", .kind = OBJ_LOCK,
	    .size = sizeof(struct object) };
	char			*names, *sorted;
	const char		*why;
	size_t			 n, i;
	unsigned		 hv, hv0 = 0, crafted, baseline;

	ck_assert_ptr_nonnull(names = collide_names(&n));
	ck_assert_uint_ge(n, 100000);
	/* Distinct, valid, and one full hash under uthash's own HASH_JEN. */
	ck_assert_ptr_nonnull(sorted = malloc(n * COLLIDE_NAME_SIZE));
	memcpy(sorted, names, n * COLLIDE_NAME_SIZE);
	qsort(sorted, n, COLLIDE_NAME_SIZE, cmp_name);
	for (i = 0; i < n; i++) {
		const char *nm = names + i * COLLIDE_NAME_SIZE;

		ck_assert(psync_name_valid(nm, COLLIDE_NAME_LEN, &why));
		HASH_JEN(nm, COLLIDE_NAME_LEN, hv);
		if (i == 0)
			hv0 = hv;
		ck_assert_uint_eq(hv, hv0);
		if (i > 0)
			ck_assert(memcmp(sorted + (i - 1) * COLLIDE_NAME_SIZE,
			    sorted + i * COLLIDE_NAME_SIZE,
			    COLLIDE_NAME_SIZE) != 0);
	}
	free(sorted);
	/* So the stock table is one chain of them all ... */
	ck_assert_ptr_nonnull(e = calloc(n, sizeof(*e)));
	for (i = 0; i < n; i++)
		HASH_ADD_KEYPTR(hh, stock, names + i * COLLIDE_NAME_SIZE,
		    COLLIDE_NAME_LEN, &e[i]);
	ck_assert_uint_eq(longest_chain(stock->hh.tbl), n);
	HASH_CLEAR(hh, stock);
	free(e);
	/* ... while psyncd's keyed table spreads them like random names. */
	ck_assert_ptr_nonnull(objs = calloc(n, sizeof(*objs)));
	ck_assert_int_eq(objtab_init(&tab), 0);
	for (i = 0; i < n; i++) {
		o = &objs[i];
		o->type = &fake;
		o->namelen = COLLIDE_NAME_LEN;
		ck_assert_int_eq(objtab_insert(&tab, &o->link,
		    names + i * COLLIDE_NAME_SIZE, COLLIDE_NAME_LEN), 0);
	}
	crafted = longest_chain(tab.head->hh.tbl);
	ck_assert_uint_eq(tab.head->hh.tbl->noexpand, 0);
	ck_assert_ptr_eq(objtab_find(&tab, names + 7 * COLLIDE_NAME_SIZE,
	    COLLIDE_NAME_LEN), &objs[7].link);
	HASH_CLEAR(hh, tab.head);
	free(names);
	ck_assert_ptr_nonnull(names = collide_random_names(n, 1));
	ck_assert_int_eq(objtab_init(&tab), 0);
	for (i = 0; i < n; i++) {
		o = &objs[i];
		ck_assert_int_eq(objtab_insert(&tab, &o->link,
		    names + i * COLLIDE_NAME_SIZE, COLLIDE_NAME_LEN), 0);
	}
	baseline = longest_chain(tab.head->hh.tbl);
	HASH_CLEAR(hh, tab.head);
	printf("objects: %zu crafted names: longest chain %u under the keyed "
	    "hash (%u for random names), %zu under uthash's stock hash\n", n,
	    crafted, baseline, n);
	ck_assert_uint_le(crafted, 2 * baseline + 4);
	free(names);
	free(objs);
}
END_TEST

/* Encode r into a fresh string, checking the retry contract on the way. */
static char *
encode(const struct reply *r)
{
	char	small[8], *buf;
	size_t	need, again;

	need = reply_encode(r, small, sizeof(small));
	ck_assert_uint_gt(need, 0);
	buf = malloc(need + 1);
	again = reply_encode(r, buf, need);
	ck_assert_uint_eq(again, need);
	buf[need] = '\0';
	return (buf);
}

START_TEST(test_reply_encoding)
{
	struct reply	 r;
	json_t		*id, *parsed;
	char		*s;

	/* Integer ids and fields, written without jansson, in field order. */
	id = json_integer(-42);
	reply_init(&r, id);
	reply_int(&r, "value", INT64_MIN);
	reply_int(&r, "max", INT64_MAX);
	reply_int(&r, "zero", 0);
	reply_bool(&r, "acquired", true);
	reply_bool(&r, "set", false);
	reply_literal(&r, "mode", "read");
	s = encode(&r);
	ck_assert_str_eq(s, "{\"id\":-42,\"ok\":true,"
	    "\"value\":-9223372036854775808,\"max\":9223372036854775807,"
	    "\"zero\":0,\"acquired\":true,\"set\":false,\"mode\":\"read\"}");
	free(s);
	reply_clear(&r);
	json_decref(id);

	/* A string id and a members object go through jansson. */
	id = json_string("a\"b\\\\c\n\xc3\xa9");
	reply_init(&r, id);
	reply_int(&r, "n", 1);
	json_object_set_new(reply_members(&r), "name", json_string("x\"y"));
	json_object_set_new(reply_members(&r), "list", json_pack("[i,i]", 1, 2));
	s = encode(&r);
	ck_assert_str_eq(s, "{\"id\":\"a\\\"b\\\\\\\\c\\n\xc3\xa9\",\"ok\":true,"
	    "\"n\":1,\"name\":\"x\\\"y\",\"list\":[1,2]}");
	parsed = json_loads(s, 0, NULL);
	ck_assert_ptr_nonnull(parsed);
	json_decref(parsed);
	free(s);
	reply_clear(&r);

	/* An empty members object adds nothing. */
	reply_init(&r, NULL);
	reply_members(&r);
	s = encode(&r);
	ck_assert_str_eq(s, "{\"ok\":true}");
	free(s);
	reply_clear(&r);

	/* An error drops the fields and escapes its message. */
	reply_init(&r, id);
	reply_int(&r, "value", 3);
	reply_set_error(&r, PSYNC_ERR_NOT_OWNER, "lock 'a\"b' is \\ held");
	s = encode(&r);
	ck_assert_str_eq(s, "{\"id\":\"a\\\"b\\\\\\\\c\\n\xc3\xa9\",\"ok\":false,"
	    "\"error\":\"not_owner\",\"message\":\"lock 'a\\\"b' is \\\\ held\"}");
	free(s);
	reply_clear(&r);
	json_decref(id);
}
END_TEST

Suite *
objects_suite(void)
{
	Suite	*s = suite_create("objects");

	ADD_TEST(s, test_lock_fifo_handoff, 10);
	ADD_TEST(s, test_lock_owner_death, 10);
	ADD_TEST(s, test_lock_timeout_timer, 10);
	ADD_TEST(s, test_lock_try_and_not_owner, 10);
	ADD_TEST(s, test_deadlock_cycle, 10);
	ADD_TEST(s, test_deadlock_through_queue, 10);
	ADD_TEST(s, test_names_vanish, 60);
	ADD_TEST(s, test_event_set_wakes_all, 10);
	ADD_TEST(s, test_event_wait_timeout, 10);
	ADD_TEST(s, test_type_mismatch, 10);
	ADD_TEST(s, test_delete_busy_and_force, 10);
	ADD_TEST(s, test_cancel, 10);
	ADD_TEST(s, test_object_and_pending_limits, 10);
	ADD_TEST(s, test_output_cap, 10);
	ADD_TEST(s, test_output_backs_up_and_drains, 10);
	ADD_TEST(s, test_shutdown_fails_waits, 10);
	ADD_TEST(s, test_hash_is_seeded, 10);
	ADD_TEST(s, test_crafted_collisions_spread, 60);
	ADD_TEST(s, test_log_limit, 10);
	ADD_TEST(s, test_reply_encoding, 10);
	return (s);
}
