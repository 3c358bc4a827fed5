/*
 * check_session.c -- the model with no transport: a struct model of its
 * own and fake sessions that collect their replies in memory.  No
 * socket, no connection, no server: what these tests exercise is the
 * model's own contract (grants, hand-offs, a session's end, deadlines,
 * the hooks through which it reaches its owner).
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "dispatch.h"
#include "harness.h"
#include "model.h"
#include "object.h"
#include "reply.h"
#include "session.h"

struct fake {
	struct session	 s;		/* first: the callbacks cast back */
	json_t		*replies;	/* every reply sent, decoded, in order */
	size_t		 next;		/* the first one not yet taken */
	unsigned	 firsts;	/* how many were sent as grants */
	int		 lifetime;	/* -1: never set; else the last value */
};

static void
fake_send(struct session *s, const struct reply *r, bool first)
{
	struct fake	*f = (struct fake *)(void *)s;
	char		 buf[65536];
	size_t		 need;
	json_t		*j;

	need = reply_encode(r, buf, sizeof(buf) - 1);
	ck_assert_uint_gt(need, 0);
	ck_assert_uint_lt(need, sizeof(buf));
	ck_assert_ptr_nonnull(j = json_loadb(buf, need, 0, NULL));
	json_array_append_new(f->replies, j);
	if (first)
		f->firsts++;
}

static int
fake_set_lifetime(struct session *s, bool process)
{
	((struct fake *)(void *)s)->lifetime = process;
	return (0);
}

static bool
fake_process_lifetime(const struct session *s)
{
	return (((const struct fake *)(const void *)s)->lifetime != 0);
}

static const struct session_ops fake_ops = {
	.send = fake_send,
	.set_lifetime = fake_set_lifetime,
	.process_lifetime = fake_process_lifetime,
};

static struct event_base	*base;
static struct model		 model;

#define NFAKES	3
static struct fake		 fk[NFAKES];	/* pids 100, 101, 102 */

static void
fake_open(struct fake *k, pid_t pid)
{
	memset(k, 0, sizeof(*k));
	k->replies = json_array();
	k->lifetime = -1;
	session_open(&model, &k->s, &fake_ops, pid, 1000, 1000);
}

/* Checked fixture: a model of its own and NFAKES sessions in it. */
static void
model_up(void)
{
	char	cause[256];
	int	i;

	ck_assert_ptr_nonnull(base = event_base_new());
	ck_assert_int_eq(model_init(&model, base, NULL, cause,
	    sizeof(cause)), 0);
	dispatch_init(model.handlers);
	for (i = 0; i < NFAKES; i++)
		fake_open(&fk[i], 100 + i);
}

/* Every session ends, and then nothing may be left in the table. */
static void
model_down(void)
{
	int	i;

	for (i = 0; i < NFAKES; i++) {
		session_lost(&fk[i].s);
		json_decref(fk[i].replies);
	}
	ck_assert_uint_eq(model.objects.count, 0);
	object_free_all(&model);
	event_base_free(base);
}

static void
send_line(struct fake *f, const char *line)
{
	dispatch_line(&model, &f->s, line, strlen(line));
}

/* The next reply f got, or NULL; the caller owns it. */
static json_t *
take(struct fake *f)
{
	json_t	*r;

	if (f->next >= json_array_size(f->replies))
		return (NULL);
	r = json_array_get(f->replies, f->next++);
	return (json_incref(r));
}

/* Send line; its reply must come at once. */
static json_t *
call(struct fake *f, const char *line)
{
	json_t	*r;

	send_line(f, line);
	r = take(f);
	ck_assert_msg(r != NULL, "no reply to %s", line);
	return (r);
}

static json_t *
ok(struct fake *f, const char *line)
{
	json_t	*r = call(f, line);

	ck_ok(r);
	return (r);
}

static void
nothing(struct fake *f)
{
	json_t	*r = take(f);

	ck_assert_msg(r == NULL, "unexpected reply %s", r ? j_dump(r) : "");
}

/* f's next reply must be a grant: {ok: true, acquired: true}. */
static void
granted(struct fake *f)
{
	json_t	*r = take(f);

	ck_assert_msg(r != NULL, "no grant");
	ck_ok(r);
	ck_assert(j_bool(r, "acquired"));
	json_decref(r);
}

START_TEST(test_fake_lock_handoff)
{
	json_t		*r;
	long long	 t0;

	r = ok(&fk[0], "{\"op\":\"lock.acquire\",\"name\":\"L\",\"id\":1}");
	ck_assert(j_bool(r, "acquired"));
	ck_assert_int_eq(j_int(r, "id"), 1);
	t0 = j_int(r, "token");
	json_decref(r);
	send_line(&fk[1], "{\"op\":\"lock.acquire\",\"name\":\"L\",\"id\":2}");
	send_line(&fk[2], "{\"op\":\"lock.acquire\",\"name\":\"L\",\"id\":3}");
	nothing(&fk[1]);
	nothing(&fk[2]);
	ck_assert_uint_eq(fk[1].s.npending, 1);
	/* The release hands it to the oldest waiter, as a grant. */
	json_decref(ok(&fk[0], "{\"op\":\"lock.release\",\"name\":\"L\"}"));
	r = take(&fk[1]);
	ck_ok(r);
	ck_assert(j_bool(r, "acquired"));
	ck_assert_int_eq(j_int(r, "id"), 2);
	ck_assert_int_gt(j_int(r, "token"), t0);
	json_decref(r);
	ck_assert_uint_eq(fk[1].firsts, 1);
	ck_assert_uint_eq(fk[0].firsts, 0);
	ck_assert_uint_eq(fk[1].s.npending, 0);
	nothing(&fk[2]);
}
END_TEST

START_TEST(test_session_lost_hands_on_everything)
{
	json_decref(ok(&fk[0], "{\"op\":\"lock.acquire\",\"name\":\"L\"}"));
	json_decref(ok(&fk[0], "{\"op\":\"rwlock.acquire\",\"name\":\"W\","
	    "\"mode\":\"write\"}"));
	json_decref(ok(&fk[0], "{\"op\":\"sem.acquire\",\"name\":\"S\","
	    "\"value\":1}"));
	send_line(&fk[1], "{\"op\":\"lock.acquire\",\"name\":\"L\"}");
	send_line(&fk[1], "{\"op\":\"sem.acquire\",\"name\":\"S\"}");
	send_line(&fk[2], "{\"op\":\"rwlock.acquire\",\"name\":\"W\","
	    "\"mode\":\"read\"}");
	nothing(&fk[1]);
	nothing(&fk[2]);
	/* Everything fk[0] held is granted on before session_lost returns. */
	session_lost(&fk[0].s);
	ck_assert(TAILQ_EMPTY(&fk[0].s.holds));
	granted(&fk[1]);
	granted(&fk[1]);
	granted(&fk[2]);
	/* A lost session is told nothing. */
	nothing(&fk[0]);
	json_decref(ok(&fk[1], "{\"op\":\"delete\",\"name\":\"S\",\"force\":true}"));
}
END_TEST

START_TEST(test_session_lost_drops_its_waits)
{
	json_t		*r;

	json_decref(ok(&fk[0], "{\"op\":\"lock.acquire\",\"name\":\"L\"}"));
	send_line(&fk[1], "{\"op\":\"lock.acquire\",\"name\":\"L\"}");
	session_lost(&fk[1].s);
	ck_assert_uint_eq(fk[1].s.npending, 0);
	nothing(&fk[1]);
	/* Nobody waits: the release frees the lock, and it vanishes. */
	json_decref(ok(&fk[0], "{\"op\":\"lock.release\",\"name\":\"L\"}"));
	ck_assert_uint_eq(model.objects.count, 0);
	/* session_lost is idempotent. */
	session_lost(&fk[1].s);
	r = ok(&fk[0], "{\"op\":\"lock.acquire\",\"name\":\"L\",\"timeout\":0}");
	ck_assert(j_bool(r, "acquired"));
	json_decref(r);
	json_decref(ok(&fk[0], "{\"op\":\"lock.release\",\"name\":\"L\"}"));
}
END_TEST

START_TEST(test_deadline_from_the_model_timer)
{
	json_t		*r;
	double		 t0, deadline;

	json_decref(ok(&fk[0], "{\"op\":\"lock.acquire\",\"name\":\"L\"}"));
	t0 = now_s();
	send_line(&fk[1], "{\"op\":\"lock.acquire\",\"name\":\"L\","
	    "\"timeout\":0.05}");
	/* Run the model's loop until the deadline answers the wait. */
	deadline = t0 + test_bound(5);
	while ((r = take(&fk[1])) == NULL && now_s() < deadline)
		event_base_loop(base, EVLOOP_ONCE);
	ck_assert_ptr_nonnull(r);
	ck_ok(r);
	ck_assert(!j_bool(r, "acquired"));
	ck_assert(now_s() - t0 >= 0.05);
	json_decref(r);
	ck_assert_uint_eq(fk[1].s.npending, 0);
	json_decref(ok(&fk[0], "{\"op\":\"lock.release\",\"name\":\"L\"}"));
}
END_TEST

START_TEST(test_cond_round_trip)
{
	json_t		*r;

	json_decref(ok(&fk[0], "{\"op\":\"lock.acquire\",\"name\":\"L\"}"));
	send_line(&fk[0], "{\"op\":\"cond.wait\",\"name\":\"C\",\"lock\":\"L\"}");
	nothing(&fk[0]);
	/* The wait released the lock: fk[1] takes it, notifies, releases. */
	json_decref(ok(&fk[1], "{\"op\":\"lock.acquire\",\"name\":\"L\"}"));
	r = ok(&fk[1], "{\"op\":\"cond.notify\",\"name\":\"C\"}");
	ck_assert_int_eq(j_int(r, "woken"), 1);
	json_decref(r);
	nothing(&fk[0]);		/* notified, but the lock is still held */
	json_decref(ok(&fk[1], "{\"op\":\"lock.release\",\"name\":\"L\"}"));
	r = take(&fk[0]);
	ck_ok(r);
	ck_assert(j_bool(r, "notified"));
	ck_assert_int_gt(j_int(r, "token"), 0);
	json_decref(r);
	json_decref(ok(&fk[0], "{\"op\":\"lock.release\",\"name\":\"L\"}"));
}
END_TEST

START_TEST(test_barrier_breaks_when_a_party_is_lost)
{
	json_t		*r;

	send_line(&fk[0], "{\"op\":\"barrier.wait\",\"name\":\"B\",\"parties\":3}");
	send_line(&fk[1], "{\"op\":\"barrier.wait\",\"name\":\"B\",\"parties\":3}");
	nothing(&fk[1]);
	session_lost(&fk[0].s);
	r = take(&fk[1]);
	ck_err(r, "broken");
	json_decref(r);
	nothing(&fk[0]);
	json_decref(ok(&fk[2], "{\"op\":\"delete\",\"name\":\"B\",\"force\":true}"));
}
END_TEST

START_TEST(test_hello_and_stat_reach_the_owner_by_hooks)
{
	json_t		*r;

	r = ok(&fk[0], "{\"op\":\"hello\",\"client\":\"t\","
	    "\"lifetime\":\"connection\"}");
	ck_assert_int_eq(fk[0].lifetime, 0);
	ck_assert_str_eq(j_str(r, "lifetime"), "connection");
	ck_assert_int_eq(j_int(r, "session"), (long long)fk[0].s.id);
	ck_assert_str_eq(fk[0].s.client, "t");
	ck_assert(!j_bool(r, "notices"));
	json_decref(r);
	/* Unasked lines only for a session that asks; a later hello keeps it. */
	r = ok(&fk[0], "{\"op\":\"hello\",\"notices\":true}");
	ck_assert(j_bool(r, "notices"));
	ck_assert(fk[0].s.notices);
	json_decref(r);
	r = ok(&fk[0], "{\"op\":\"hello\"}");
	ck_assert(j_bool(r, "notices"));
	json_decref(r);
	r = call(&fk[0], "{\"op\":\"hello\",\"notices\":1}");
	ck_err(r, "bad_request");
	json_decref(r);
	/* Without an owner's hook, stat says only what the model knows. */
	r = ok(&fk[0], "{\"op\":\"stat\"}");
	ck_assert_int_eq(j_int(r, "objects"), 0);
	ck_assert_ptr_null(json_object_get(r, "connections"));
	ck_assert_int_eq(j_int(json_object_get(r, "limits"), "max_pending"),
	    1024);
	json_decref(r);
}
END_TEST

START_TEST(test_bad_input_changes_nothing)
{
	json_t		*r;

	r = call(&fk[0], "{\"op\":\"sem.acquire\",\"name\":\"S\",\"value\":-1}");
	ck_err(r, "bad_request");
	json_decref(r);
	r = call(&fk[0], "not json");
	ck_err(r, "bad_request");
	json_decref(r);
	r = call(&fk[0], "{\"op\":\"lock.frobnicate\",\"name\":\"L\"}");
	ck_err(r, "unknown_op");
	json_decref(r);
	ck_assert_uint_eq(model.objects.count, 0);
	ck_assert_uint_eq(model.ops, 3);
}
END_TEST

Suite *
session_suite(void)
{
	Suite	*s = suite_create("session");
	TCase	*tc = tcase_create("fake");

	tcase_add_checked_fixture(tc, model_up, model_down);
	tcase_add_test(tc, test_fake_lock_handoff);
	tcase_add_test(tc, test_session_lost_hands_on_everything);
	tcase_add_test(tc, test_session_lost_drops_its_waits);
	tcase_add_test(tc, test_deadline_from_the_model_timer);
	tcase_add_test(tc, test_cond_round_trip);
	tcase_add_test(tc, test_barrier_breaks_when_a_party_is_lost);
	tcase_add_test(tc, test_hello_and_stat_reach_the_owner_by_hooks);
	tcase_add_test(tc, test_bad_input_changes_nothing);
	suite_add_tcase(s, tc);
	return (s);
}
