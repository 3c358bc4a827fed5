/*
 * check_primitives.c -- rlock, rwlock, condition, semaphore, barrier and
 * counter state machines, every transition on grant, death, cancel,
 * timeout and delete, through the server's request path without sockets.
 */
#include <stdlib.h>
#include <string.h>


#include "conn.h"
#include "harness.h"
#include "peer.h"
#include "server.h"

#define NPEERS	4

struct fx {
	struct server	srv;
	struct peer	p[NPEERS];
};

static void
fx_start(struct fx *f)
{
	int	i;

	srv_start(&f->srv, NULL);
	for (i = 0; i < NPEERS; i++)
		peer_open(&f->srv, &f->p[i], 100 + i);
}

static void
fx_finish(struct fx *f)
{
	int	i;

	for (i = 0; i < NPEERS; i++) {
		if (f->p[i].c != NULL) {
			expect_nothing(&f->p[i]);
		}
	}
	srv_finish(&f->srv, f->p, NPEERS);
}

/* Peer i's connection dies. */
static void
fx_kill(struct fx *f, int i)
{
	conn_lost(f->p[i].c, false);
	f->p[i].c = NULL;
}

#define CALL(f, i, line)	peer_call(&(f)->srv, &(f)->p[i], (line))
#define OK(f, i, line)		ok_call(&(f)->srv, &(f)->p[i], (line))
#define SEND(f, i, line)	peer_send(&(f)->srv, &(f)->p[i], (line))
#define RECV(f, i)		peer_recv(&(f)->p[i])
#define NONE(f, i)		expect_nothing(&(f)->p[i])

/* Assert the next reply of peer i has err code (or is ok if NULL). */
static void
expect_reply(struct fx *f, int i, const char *err, const char *key,
    long long want)
{
	json_t	*r = RECV(f, i);

	ck_assert_msg(r != NULL, "peer %d has no reply", i);
	if (err == NULL)
		ck_ok(r);
	else
		ck_err(r, err);
	if (key != NULL) {
		json_t *v = json_object_get(r, key);

		ck_assert_msg(v != NULL, "no %s in %s", key, j_dump(r));
		ck_assert_msg(json_is_boolean(v) ? json_is_true(v) == want :
		    json_integer_value(v) == want, "%s != %lld in %s", key,
		    want, j_dump(r));
	}
	json_decref(r);
}

static long long
call_int(struct fx *f, int i, const char *line, const char *key)
{
	json_t		*r = OK(f, i, line);
	long long	 v = j_int(r, key);

	json_decref(r);
	return (v);
}

static bool
call_bool(struct fx *f, int i, const char *line, const char *key)
{
	json_t	*r = OK(f, i, line);
	bool	 v = j_bool(r, key);

	json_decref(r);
	return (v);
}

static void
call_err(struct fx *f, int i, const char *line, const char *code)
{
	json_t	*r = CALL(f, i, line);

	ck_err(r, code);
	json_decref(r);
}

/* ---- rlock ---- */

START_TEST(test_rlock_reentry_and_handoff)
{
	struct fx	f;
	json_t		*r;
	long long	 tok;

	fx_start(&f);
	r = OK(&f, 0, "{\"op\":\"rlock.acquire\",\"name\":\"R\"}");
	ck_assert_int_eq(j_int(r, "count"), 1);
	tok = j_int(r, "token");
	json_decref(r);
	r = OK(&f, 0, "{\"op\":\"rlock.acquire\",\"name\":\"R\"}");
	ck_assert_int_eq(j_int(r, "count"), 2);
	ck_assert_int_eq(j_int(r, "token"), tok);	/* same hold */
	json_decref(r);
	SEND(&f, 1, "{\"op\":\"rlock.acquire\",\"name\":\"R\",\"id\":1}");
	NONE(&f, 1);
	r = OK(&f, 1, "{\"op\":\"rlock.acquire\",\"name\":\"R\",\"timeout\":0}");
	ck_assert(!j_bool(r, "acquired"));
	ck_assert_ptr_null(json_object_get(r, "count"));
	ck_assert_ptr_null(json_object_get(r, "token"));
	json_decref(r);
	call_err(&f, 1, "{\"op\":\"rlock.release\",\"name\":\"R\"}", "not_owner");
	ck_assert_int_eq(call_int(&f, 0, "{\"op\":\"rlock.release\",\"name\":\"R\"}",
	    "count"), 1);
	NONE(&f, 1);
	ck_assert_int_eq(call_int(&f, 0, "{\"op\":\"rlock.release\",\"name\":\"R\"}",
	    "count"), 0);
	r = RECV(&f, 1);
	ck_assert(j_bool(r, "acquired"));
	ck_assert_int_eq(j_int(r, "count"), 1);
	ck_assert_int_gt(j_int(r, "token"), tok);
	json_decref(r);
	call_err(&f, 0, "{\"op\":\"rlock.release\",\"name\":\"R\"}", "not_owner");
	fx_finish(&f);
}
END_TEST

START_TEST(test_rlock_owner_death_releases_fully)
{
	struct fx	f;

	fx_start(&f);
	json_decref(OK(&f, 0, "{\"op\":\"rlock.acquire\",\"name\":\"R\"}"));
	json_decref(OK(&f, 0, "{\"op\":\"rlock.acquire\",\"name\":\"R\"}"));
	json_decref(OK(&f, 0, "{\"op\":\"rlock.acquire\",\"name\":\"R\"}"));
	SEND(&f, 1, "{\"op\":\"rlock.acquire\",\"name\":\"R\"}");
	fx_kill(&f, 0);
	expect_reply(&f, 1, NULL, "count", 1);
	json_decref(OK(&f, 1, "{\"op\":\"rlock.release\",\"name\":\"R\"}"));
	ck_assert_uint_eq(f.srv.model.objects.count, 0);
	fx_finish(&f);
}
END_TEST

/* ---- rwlock ---- */

START_TEST(test_rwlock_fifo_no_writer_starvation)
{
	struct fx	f;
	json_t		*r;

	fx_start(&f);
	json_decref(OK(&f, 0, "{\"op\":\"rwlock.acquire\",\"name\":\"W\",\"mode\":\"read\"}"));
	/* A second reader shares. */
	ck_assert(call_bool(&f, 1, "{\"op\":\"rwlock.acquire\",\"name\":\"W\","
	    "\"mode\":\"read\"}", "acquired"));
	/* A writer waits; a reader after it waits too. */
	SEND(&f, 2, "{\"op\":\"rwlock.acquire\",\"name\":\"W\",\"mode\":\"write\",\"id\":2}");
	SEND(&f, 3, "{\"op\":\"rwlock.acquire\",\"name\":\"W\",\"mode\":\"read\",\"id\":3}");
	NONE(&f, 2);
	NONE(&f, 3);
	r = OK(&f, 0, "{\"op\":\"info\",\"name\":\"W\"}");
	ck_assert_str_eq(j_str(json_array_get(json_object_get(r, "holders"), 0),
	    "mode"), "read");
	ck_assert_str_eq(j_str(json_array_get(json_object_get(r, "waiters"), 0),
	    "mode"), "write");
	ck_assert_int_eq(j_int(r, "readers"), 2);
	json_decref(r);
	json_decref(OK(&f, 0, "{\"op\":\"rwlock.release\",\"name\":\"W\"}"));
	NONE(&f, 2);
	json_decref(OK(&f, 1, "{\"op\":\"rwlock.release\",\"name\":\"W\"}"));
	expect_reply(&f, 2, NULL, "acquired", 1);
	NONE(&f, 3);
	/* Readers queued behind the writer are granted together. */
	SEND(&f, 0, "{\"op\":\"rwlock.acquire\",\"name\":\"W\",\"mode\":\"read\",\"id\":0}");
	SEND(&f, 1, "{\"op\":\"rwlock.acquire\",\"name\":\"W\",\"mode\":\"write\",\"id\":1}");
	json_decref(OK(&f, 2, "{\"op\":\"rwlock.release\",\"name\":\"W\"}"));
	expect_reply(&f, 3, NULL, "acquired", 1);
	expect_reply(&f, 0, NULL, "acquired", 1);
	NONE(&f, 1);
	/* Readers die: the writer gets it. */
	fx_kill(&f, 3);
	NONE(&f, 1);
	fx_kill(&f, 0);
	expect_reply(&f, 1, NULL, "acquired", 1);
	fx_finish(&f);
}
END_TEST

START_TEST(test_rwlock_errors)
{
	struct fx	f;
	json_t		*r;

	fx_start(&f);
	call_err(&f, 0, "{\"op\":\"rwlock.acquire\",\"name\":\"W\"}", "bad_request");
	call_err(&f, 0, "{\"op\":\"rwlock.acquire\",\"name\":\"W\",\"mode\":\"both\"}",
	    "bad_request");
	call_err(&f, 0, "{\"op\":\"rwlock.acquire\",\"name\":\"W\",\"mode\":1}",
	    "bad_request");
	ck_assert_uint_eq(f.srv.model.objects.count, 0);
	json_decref(OK(&f, 0, "{\"op\":\"rwlock.acquire\",\"name\":\"W\",\"mode\":\"read\"}"));
	/* Upgrading would wait for itself. */
	call_err(&f, 0, "{\"op\":\"rwlock.acquire\",\"name\":\"W\",\"mode\":\"write\"}",
	    "would_deadlock");
	call_err(&f, 1, "{\"op\":\"rwlock.release\",\"name\":\"W\"}", "not_owner");
	r = OK(&f, 1, "{\"op\":\"rwlock.acquire\",\"name\":\"W\",\"mode\":\"write\","
	    "\"timeout\":0}");
	ck_assert(!j_bool(r, "acquired"));
	json_decref(r);
	json_decref(OK(&f, 0, "{\"op\":\"rwlock.release\",\"name\":\"W\"}"));
	ck_assert_uint_eq(f.srv.model.objects.count, 0);
	fx_finish(&f);
}
END_TEST

/* ---- condition ---- */

START_TEST(test_cond_wait_notify_reacquire)
{
	struct fx	f;
	json_t		*r;

	fx_start(&f);
	call_err(&f, 0, "{\"op\":\"cond.wait\",\"name\":\"C\",\"lock\":\"L\"}",
	    "not_owner");
	json_decref(OK(&f, 0, "{\"op\":\"event.set\",\"name\":\"E\"}"));
	call_err(&f, 0, "{\"op\":\"cond.wait\",\"name\":\"C\",\"lock\":\"E\"}",
	    "type_mismatch");
	call_err(&f, 0, "{\"op\":\"cond.wait\",\"name\":\"C\"}", "bad_request");
	json_decref(OK(&f, 0, "{\"op\":\"lock.acquire\",\"name\":\"L\"}"));
	call_err(&f, 1, "{\"op\":\"cond.wait\",\"name\":\"C\",\"lock\":\"L\"}",
	    "not_owner");
	/* Waiting releases the lock: another acquirer gets it. */
	SEND(&f, 1, "{\"op\":\"lock.acquire\",\"name\":\"L\",\"id\":\"a\"}");
	SEND(&f, 0, "{\"op\":\"cond.wait\",\"name\":\"C\",\"lock\":\"L\",\"id\":\"w\"}");
	expect_reply(&f, 1, NULL, "acquired", 1);
	NONE(&f, 0);
	/* The lock cannot vanish or be deleted while a wait will need it. */
	call_err(&f, 2, "{\"op\":\"delete\",\"name\":\"L\"}", "busy");
	/* Notified, the waiter queues behind an acquirer already waiting. */
	SEND(&f, 2, "{\"op\":\"lock.acquire\",\"name\":\"L\",\"id\":\"b\"}");
	ck_assert_int_eq(call_int(&f, 3, "{\"op\":\"cond.notify\",\"name\":\"C\"}",
	    "woken"), 1);
	NONE(&f, 0);
	json_decref(OK(&f, 1, "{\"op\":\"lock.release\",\"name\":\"L\"}"));
	expect_reply(&f, 2, NULL, "acquired", 1);
	NONE(&f, 0);
	json_decref(OK(&f, 2, "{\"op\":\"lock.release\",\"name\":\"L\"}"));
	r = RECV(&f, 0);
	ck_ok(r);
	ck_assert(j_bool(r, "notified"));
	ck_assert_int_gt(j_int(r, "token"), 0);
	ck_assert_str_eq(j_str(r, "id"), "w");
	json_decref(r);
	/* It holds the lock again. */
	json_decref(OK(&f, 0, "{\"op\":\"lock.release\",\"name\":\"L\"}"));
	ck_assert_int_eq(call_int(&f, 3, "{\"op\":\"cond.notify\",\"name\":\"C\"}",
	    "woken"), 0);
	fx_finish(&f);
}
END_TEST

START_TEST(test_cond_rlock_depth_and_timeout)
{
	struct fx	f;
	json_t		*r;

	fx_start(&f);
	json_decref(OK(&f, 0, "{\"op\":\"rlock.acquire\",\"name\":\"R\"}"));
	json_decref(OK(&f, 0, "{\"op\":\"rlock.acquire\",\"name\":\"R\"}"));
	SEND(&f, 0, "{\"op\":\"cond.wait\",\"name\":\"C\",\"lock\":\"R\","
	    "\"timeout\":0.02}");
	/* Released fully: another takes it at once. */
	ck_assert(call_bool(&f, 1, "{\"op\":\"rlock.acquire\",\"name\":\"R\","
	    "\"timeout\":0}", "acquired"));
	/* The timeout moves it to the lock's queue; no reply until it has it. */
	ck_assert_ptr_null(peer_wait(&f.srv, &f.p[0], 0.2));
	json_decref(OK(&f, 1, "{\"op\":\"rlock.release\",\"name\":\"R\"}"));
	r = RECV(&f, 0);
	ck_ok(r);
	ck_assert(!j_bool(r, "notified"));
	json_decref(r);
	/* Depth 2 restored: two releases. */
	ck_assert_int_eq(call_int(&f, 0, "{\"op\":\"rlock.release\",\"name\":\"R\"}",
	    "count"), 1);
	ck_assert_int_eq(call_int(&f, 0, "{\"op\":\"rlock.release\",\"name\":\"R\"}",
	    "count"), 0);
	ck_assert_uint_eq(f.srv.model.objects.count, 0);
	fx_finish(&f);
}
END_TEST

START_TEST(test_cond_notify_n_all_cancel_death)
{
	struct fx	f;
	int		i;

	fx_start(&f);
	for (i = 0; i < 3; i++) {
		json_decref(OK(&f, i, "{\"op\":\"lock.acquire\",\"name\":\"L\"}"));
		SEND(&f, i, "{\"op\":\"cond.wait\",\"name\":\"C\",\"lock\":\"L\",\"id\":\"w\"}");
	}
	call_err(&f, 3, "{\"op\":\"cond.notify\",\"name\":\"C\",\"n\":-1}",
	    "bad_request");
	/* Cancel: the reply comes at once and the lock is not re-taken. */
	SEND(&f, 0, "{\"op\":\"cancel\",\"target\":\"w\"}");
	expect_reply(&f, 0, "cancelled", NULL, 0);
	expect_reply(&f, 0, NULL, "cancelled", 1);
	/* Death of a waiter in the condition's queue leaves nothing. */
	fx_kill(&f, 1);
	ck_assert_int_eq(call_int(&f, 3, "{\"op\":\"cond.notify_all\",\"name\":\"C\"}",
	    "woken"), 1);
	expect_reply(&f, 2, NULL, "notified", 1);
	json_decref(OK(&f, 2, "{\"op\":\"lock.release\",\"name\":\"L\"}"));
	ck_assert_uint_eq(f.srv.model.objects.count, 0);
	/* n wakes at most n, oldest first. */
	for (i = 0; i < 3; i++) {
		if (i == 1)
			continue;
		json_decref(OK(&f, i, "{\"op\":\"lock.acquire\",\"name\":\"L\"}"));
		SEND(&f, i, "{\"op\":\"cond.wait\",\"name\":\"C\",\"lock\":\"L\"}");
	}
	ck_assert_int_eq(call_int(&f, 3, "{\"op\":\"cond.notify\",\"name\":\"C\","
	    "\"n\":1}", "woken"), 1);
	expect_reply(&f, 0, NULL, "notified", 1);
	NONE(&f, 2);
	/* Force-deleting the pinned lock ends the remaining wait. */
	json_decref(OK(&f, 0, "{\"op\":\"lock.release\",\"name\":\"L\"}"));
	json_decref(OK(&f, 3, "{\"op\":\"delete\",\"name\":\"L\",\"force\":true}"));
	expect_reply(&f, 2, "deleted", NULL, 0);
	fx_finish(&f);
}
END_TEST

/* ---- semaphore ---- */

START_TEST(test_sem_create_params_and_units)
{
	struct fx	f;
	json_t		*r;

	fx_start(&f);
	call_err(&f, 0, "{\"op\":\"sem.acquire\",\"name\":\"S\"}", "not_found");
	call_err(&f, 0, "{\"op\":\"sem.value\",\"name\":\"S\"}", "not_found");
	call_err(&f, 0, "{\"op\":\"sem.acquire\",\"name\":\"S\",\"value\":-1}",
	    "bad_request");
	call_err(&f, 0, "{\"op\":\"sem.acquire\",\"name\":\"S\",\"value\":1.5}",
	    "bad_request");
	ck_assert_uint_eq(f.srv.model.objects.count, 0);
	r = OK(&f, 0, "{\"op\":\"sem.acquire\",\"name\":\"S\",\"value\":2}");
	ck_assert(j_bool(r, "acquired"));
	ck_assert_int_eq(j_int(r, "value"), 1);
	json_decref(r);
	call_err(&f, 1, "{\"op\":\"sem.acquire\",\"name\":\"S\",\"value\":3}",
	    "param_mismatch");
	call_err(&f, 1, "{\"op\":\"sem.acquire\",\"name\":\"S\",\"value\":2,"
	    "\"bounded\":true}", "param_mismatch");
	ck_assert_int_eq(call_int(&f, 1, "{\"op\":\"sem.acquire\",\"name\":\"S\","
	    "\"value\":2,\"bounded\":false}", "value"), 0);
	/* Empty: a try fails with the value, a blocking acquire waits. */
	r = OK(&f, 2, "{\"op\":\"sem.acquire\",\"name\":\"S\",\"timeout\":0}");
	ck_assert(!j_bool(r, "acquired"));
	ck_assert_int_eq(j_int(r, "value"), 0);
	json_decref(r);
	SEND(&f, 2, "{\"op\":\"sem.acquire\",\"name\":\"S\"}");
	SEND(&f, 3, "{\"op\":\"sem.acquire\",\"name\":\"S\"}");
	/* A holder's death returns its unit to the first waiter. */
	fx_kill(&f, 0);
	expect_reply(&f, 2, NULL, "value", 0);
	NONE(&f, 3);
	/* A release of more than one wakes several; value is after them. */
	r = OK(&f, 1, "{\"op\":\"sem.release\",\"name\":\"S\",\"n\":3}");
	ck_assert_int_eq(j_int(r, "value"), 2);
	json_decref(r);
	expect_reply(&f, 3, NULL, "value", 2);
	r = OK(&f, 1, "{\"op\":\"info\",\"name\":\"S\"}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "holders")), 2);
	ck_assert_int_eq(j_int(json_array_get(json_object_get(r, "holders"), 0),
	    "units"), 1);
	json_decref(r);
	/* Parameterised: it stays when unused, until deleted. */
	json_decref(OK(&f, 2, "{\"op\":\"sem.release\",\"name\":\"S\"}"));
	json_decref(OK(&f, 3, "{\"op\":\"sem.release\",\"name\":\"S\"}"));
	ck_assert_uint_eq(f.srv.model.objects.count, 1);
	ck_assert_int_eq(call_int(&f, 1, "{\"op\":\"sem.value\",\"name\":\"S\"}",
	    "value"), 4);
	json_decref(OK(&f, 1, "{\"op\":\"delete\",\"name\":\"S\"}"));
	call_err(&f, 0 + 1, "{\"op\":\"sem.value\",\"name\":\"S\"}", "not_found");
	fx_finish(&f);
}
END_TEST

START_TEST(test_sem_bounded_and_timeout)
{
	struct fx	f;
	json_t		*r;

	fx_start(&f);
	r = OK(&f, 0, "{\"op\":\"sem.value\",\"name\":\"B\",\"value\":1,\"bounded\":true}");
	ck_assert_int_eq(j_int(r, "value"), 1);
	json_decref(r);
	call_err(&f, 0, "{\"op\":\"sem.release\",\"name\":\"B\"}", "would_exceed");
	ck_assert_int_eq(call_int(&f, 0, "{\"op\":\"sem.value\",\"name\":\"B\"}",
	    "value"), 1);
	json_decref(OK(&f, 0, "{\"op\":\"sem.acquire\",\"name\":\"B\"}"));
	call_err(&f, 0, "{\"op\":\"sem.release\",\"name\":\"B\",\"n\":2}",
	    "would_exceed");
	call_err(&f, 0, "{\"op\":\"sem.release\",\"name\":\"B\",\"n\":0}",
	    "bad_request");
	SEND(&f, 1, "{\"op\":\"sem.acquire\",\"name\":\"B\",\"timeout\":0.02}");
	r = peer_wait(&f.srv, &f.p[1], 5);
	ck_ok(r);
	ck_assert(!j_bool(r, "acquired"));
	ck_assert_int_eq(j_int(r, "value"), 0);
	json_decref(r);
	/* Held units count toward the bound: a plain signal by a
	 * non-holder would let a second holder in; the holder's death
	 * returns the unit. */
	call_err(&f, 1, "{\"op\":\"sem.release\",\"name\":\"B\"}",
	    "would_exceed");
	fx_kill(&f, 0);
	ck_assert_int_eq(call_int(&f, 1, "{\"op\":\"sem.value\",\"name\":\"B\"}",
	    "value"), 1);
	fx_finish(&f);
}
END_TEST

/* ---- barrier ---- */

START_TEST(test_barrier_generations)
{
	struct fx	f;
	json_t		*r;
	int		 gen;

	fx_start(&f);
	call_err(&f, 0, "{\"op\":\"barrier.wait\",\"name\":\"B\"}", "not_found");
	call_err(&f, 0, "{\"op\":\"barrier.wait\",\"name\":\"B\",\"parties\":0}",
	    "bad_request");
	for (gen = 0; gen < 3; gen++) {
		SEND(&f, 0, "{\"op\":\"barrier.wait\",\"name\":\"B\",\"parties\":3}");
		SEND(&f, 1, "{\"op\":\"barrier.wait\",\"name\":\"B\"}");
		NONE(&f, 0);
		r = OK(&f, 3, "{\"op\":\"barrier.info\",\"name\":\"B\"}");
		ck_assert_int_eq(j_int(r, "n_waiting"), 2);
		ck_assert_int_eq(j_int(r, "parties"), 3);
		ck_assert(!j_bool(r, "broken"));
		json_decref(r);
		ck_assert_int_eq(call_int(&f, 2, "{\"op\":\"barrier.wait\","
		    "\"name\":\"B\",\"parties\":3}", "index"), 2);
		expect_reply(&f, 0, NULL, "index", 0);
		expect_reply(&f, 1, NULL, "index", 1);
	}
	call_err(&f, 0, "{\"op\":\"barrier.wait\",\"name\":\"B\",\"parties\":4}",
	    "param_mismatch");
	fx_finish(&f);
}
END_TEST

START_TEST(test_barrier_timeout_death_cancel)
{
	struct fx	f;
	json_t		*r;

	fx_start(&f);
	/* A timeout breaks it for all, the timed-out party included. */
	SEND(&f, 0, "{\"op\":\"barrier.wait\",\"name\":\"B\",\"parties\":3}");
	SEND(&f, 1, "{\"op\":\"barrier.wait\",\"name\":\"B\",\"timeout\":0.02}");
	r = peer_wait(&f.srv, &f.p[1], 5);
	ck_err(r, "broken");
	json_decref(r);
	expect_reply(&f, 0, "broken", NULL, 0);
	call_err(&f, 2, "{\"op\":\"barrier.wait\",\"name\":\"B\"}", "broken");
	ck_assert(call_bool(&f, 2, "{\"op\":\"barrier.info\",\"name\":\"B\"}", "broken"));
	json_decref(OK(&f, 2, "{\"op\":\"barrier.reset\",\"name\":\"B\"}"));
	/* A cancel withdraws a party without breaking it. */
	SEND(&f, 0, "{\"op\":\"barrier.wait\",\"name\":\"B\",\"id\":\"x\"}");
	SEND(&f, 1, "{\"op\":\"barrier.wait\",\"name\":\"B\"}");
	SEND(&f, 0, "{\"op\":\"cancel\",\"target\":\"x\"}");
	expect_reply(&f, 0, "cancelled", NULL, 0);
	expect_reply(&f, 0, NULL, "cancelled", 1);
	r = OK(&f, 3, "{\"op\":\"barrier.info\",\"name\":\"B\"}");
	ck_assert_int_eq(j_int(r, "n_waiting"), 1);
	ck_assert(!j_bool(r, "broken"));
	json_decref(r);
	/* A party's death breaks it for the others. */
	SEND(&f, 2, "{\"op\":\"barrier.wait\",\"name\":\"B\"}");
	fx_kill(&f, 1);
	expect_reply(&f, 2, "broken", NULL, 0);
	/* Reset sends waiters "broken" and makes it usable; abort breaks. */
	json_decref(OK(&f, 3, "{\"op\":\"barrier.reset\",\"name\":\"B\"}"));
	SEND(&f, 0, "{\"op\":\"barrier.wait\",\"name\":\"B\"}");
	json_decref(OK(&f, 3, "{\"op\":\"barrier.abort\",\"name\":\"B\"}"));
	expect_reply(&f, 0, "broken", NULL, 0);
	call_err(&f, 0, "{\"op\":\"barrier.wait\",\"name\":\"B\"}", "broken");
	json_decref(OK(&f, 3, "{\"op\":\"barrier.reset\",\"name\":\"B\"}"));
	SEND(&f, 0, "{\"op\":\"barrier.wait\",\"name\":\"B\"}");
	json_decref(OK(&f, 3, "{\"op\":\"delete\",\"name\":\"B\",\"force\":true}"));
	expect_reply(&f, 0, "deleted", NULL, 0);
	/* Timeout 0 on a barrier that is not complete breaks it too. */
	call_err(&f, 0, "{\"op\":\"barrier.wait\",\"name\":\"B\",\"parties\":2,"
	    "\"timeout\":0}", "broken");
	ck_assert_int_eq(call_int(&f, 0, "{\"op\":\"barrier.wait\",\"name\":\"P\","
	    "\"parties\":1}", "index"), 0);
	fx_finish(&f);
}
END_TEST

/* ---- counter ---- */

START_TEST(test_counter_ops)
{
	struct fx	f;
	json_t		*r;

	fx_start(&f);
	ck_assert_int_eq(call_int(&f, 0, "{\"op\":\"counter.get\",\"name\":\"N\"}",
	    "value"), 0);
	ck_assert_uint_eq(f.srv.model.objects.count, 0);
	ck_assert_int_eq(call_int(&f, 0, "{\"op\":\"counter.add\",\"name\":\"N\","
	    "\"delta\":5}", "value"), 5);
	ck_assert_int_eq(call_int(&f, 1, "{\"op\":\"counter.add\",\"name\":\"N\","
	    "\"delta\":-2}", "value"), 3);
	r = OK(&f, 0, "{\"op\":\"counter.cas\",\"name\":\"N\",\"expect\":4,\"value\":9}");
	ck_assert(!j_bool(r, "swapped"));
	ck_assert_int_eq(j_int(r, "value"), 3);
	json_decref(r);
	r = OK(&f, 0, "{\"op\":\"counter.cas\",\"name\":\"N\",\"expect\":3,\"value\":9}");
	ck_assert(j_bool(r, "swapped"));
	ck_assert_int_eq(j_int(r, "value"), 9);
	json_decref(r);
	ck_assert_int_eq(call_int(&f, 0, "{\"op\":\"counter.set\",\"name\":\"N\","
	    "\"value\":9223372036854775807}", "value"), INT64_MAX);
	call_err(&f, 0, "{\"op\":\"counter.add\",\"name\":\"N\",\"delta\":1}",
	    "would_exceed");
	ck_assert_int_eq(call_int(&f, 0, "{\"op\":\"counter.get\",\"name\":\"N\"}",
	    "value"), INT64_MAX);
	call_err(&f, 0, "{\"op\":\"counter.add\",\"name\":\"N\"}", "bad_request");
	call_err(&f, 0, "{\"op\":\"counter.add\",\"name\":\"N\",\"delta\":1.0}",
	    "bad_request");
	call_err(&f, 0, "{\"op\":\"counter.set\",\"name\":\"N\",\"value\":\"1\"}",
	    "bad_request");
	call_err(&f, 0, "{\"op\":\"counter.cas\",\"name\":\"N\",\"value\":1}",
	    "bad_request");
	/* Back at zero, it vanishes. */
	json_decref(OK(&f, 0, "{\"op\":\"counter.set\",\"name\":\"N\",\"value\":0}"));
	ck_assert_uint_eq(f.srv.model.objects.count, 0);
	r = OK(&f, 0, "{\"op\":\"counter.cas\",\"name\":\"Z\",\"expect\":0,\"value\":0}");
	ck_assert(j_bool(r, "swapped"));
	json_decref(r);
	ck_assert_uint_eq(f.srv.model.objects.count, 0);
	json_decref(OK(&f, 0, "{\"op\":\"lock.acquire\",\"name\":\"K\"}"));
	call_err(&f, 0, "{\"op\":\"counter.add\",\"name\":\"K\",\"delta\":1}",
	    "type_mismatch");
	fx_finish(&f);
}
END_TEST

Suite *
primitives_suite(void)
{
	Suite	*s = suite_create("primitives");

	ADD_TEST(s, test_rlock_reentry_and_handoff, 10);
	ADD_TEST(s, test_rlock_owner_death_releases_fully, 10);
	ADD_TEST(s, test_rwlock_fifo_no_writer_starvation, 10);
	ADD_TEST(s, test_rwlock_errors, 10);
	ADD_TEST(s, test_cond_wait_notify_reacquire, 10);
	ADD_TEST(s, test_cond_rlock_depth_and_timeout, 10);
	ADD_TEST(s, test_cond_notify_n_all_cancel_death, 10);
	ADD_TEST(s, test_sem_create_params_and_units, 10);
	ADD_TEST(s, test_sem_bounded_and_timeout, 10);
	ADD_TEST(s, test_barrier_generations, 10);
	ADD_TEST(s, test_barrier_timeout_death_cancel, 10);
	ADD_TEST(s, test_counter_ops, 10);
	return (s);
}
