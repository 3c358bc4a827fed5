/*
 * check_model.c -- a randomized model test.  A seeded generator drives
 * thousands of random ops (lock acquire and release, blocking or not,
 * events, counters, a semaphore, and killing connections) from several
 * connections against the daemon and against a small reference model
 * written here; every reply must match the model's.  $PSYNC_MODEL_SEED
 * replays a run.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define NCONN	6
#define NLOCK	3
#define NEVENT	2
#define NCTR	2
#define STEPS	3000
#define SEM_INIT 2

/* One pending blocking request per connection at most. */
enum pend { P_NONE, P_LOCK, P_SEM };

struct mconn {
	struct tc	*t;
	enum pend	 pend;
	int		 pend_obj;	/* lock index */
	int		 pend_id;
	int		 units;		/* semaphore units held */
};

struct model {
	struct mconn	 c[NCONN];
	struct tc	*observer;		/* stat only: never waits */
	int		 holder[NLOCK];		/* conn or -1 */
	int		 q[NLOCK][NCONN];	/* FIFO of conns */
	int		 qlen[NLOCK];
	int		 semq[NCONN];
	int		 semqlen;
	int		 sem;
	bool		 ev[NEVENT];
	long long	 ctr[NCTR];
	long long	 last_token;	/* the largest token seen */
	long long	 floor;		/* the largest before this step */
	int		 next_id;
	unsigned	 seed;
};

static int
rnd(struct model *m, int n)
{
	return (rand_r(&m->seed) % n);
}

static void
q_remove(int *q, int *len, int c)
{
	int	i, j;

	for (i = 0; i < *len; i++) {
		if (q[i] == c) {
			for (j = i; j + 1 < *len; j++)
				q[j] = q[j + 1];
			(*len)--;
			return;
		}
	}
}

/* Read conn c's next reply and check it is the grant of a pending wait. */
static void
expect_grant(struct model *m, int c, const char *what)
{
	json_t		*r = tc_reply(m->c[c].t);
	long long	 tok;

	ck_assert_msg(j_ok(r) && j_bool(r, "acquired"), "seed %u: %s grant "
	    "to conn %d: %s", m->seed, what, c, j_dump(r));
	ck_assert_int_eq(j_int(r, "id"), m->c[c].pend_id);
	if (m->c[c].pend == P_LOCK) {
		/* Grants of one step may be read in another order. */
		tok = j_int(r, "token");
		ck_assert_int_gt(tok, m->floor);
		if (tok > m->last_token)
			m->last_token = tok;
	} else
		ck_assert_int_eq(j_int(r, "value"), m->sem);
	json_decref(r);
	m->c[c].pend = P_NONE;
}

/* Lock k is free: hand it to its queue's head. */
static void
lock_handoff(struct model *m, int k)
{
	int	c;

	if (m->holder[k] != -1 || m->qlen[k] == 0)
		return;
	c = m->q[k][0];
	q_remove(m->q[k], &m->qlen[k], c);
	m->holder[k] = c;
	expect_grant(m, c, "lock");
}

/*
 * Give semaphore units to waiters; each sees the value after all.  The
 * grant to skip (the releasing connection's own wait) is read by the
 * caller, in whatever order it comes beside the release's reply.
 */
static bool
sem_handoff(struct model *m, int skip)
{
	int	granted[NCONN], n = 0, i;
	bool	skipped = false;

	while (m->sem > 0 && m->semqlen > 0) {
		granted[n] = m->semq[0];
		q_remove(m->semq, &m->semqlen, granted[n]);
		m->c[granted[n]].units++;
		m->sem--;
		n++;
	}
	for (i = 0; i < n; i++) {
		if (granted[i] == skip)
			skipped = true;
		else
			expect_grant(m, granted[i], "semaphore");
	}
	return (skipped);
}

/* Would c waiting for lock k close a cycle?  (The daemon's rule.) */
static bool
would_cycle(struct model *m, int c, int k)
{
	int	stack[64], sp = 0, x, i, lk;
	bool	seen[NCONN] = { false };

	if (m->holder[k] != -1)
		stack[sp++] = m->holder[k];
	for (i = 0; i < m->qlen[k]; i++)
		stack[sp++] = m->q[k][i];
	while (sp > 0) {
		x = stack[--sp];
		if (x == c)
			return (true);
		if (seen[x])
			continue;
		seen[x] = true;
		if (m->c[x].pend != P_LOCK)
			continue;
		lk = m->c[x].pend_obj;
		if (m->holder[lk] != -1)
			stack[sp++] = m->holder[lk];
		for (i = 0; i < m->qlen[lk] && m->q[lk][i] != x; i++)
			stack[sp++] = m->q[lk][i];
	}
	return (false);
}

static json_t *
call(struct model *m, int c, const char *fmt, ...)
{
	char	line[256];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	(void)m;
	return (tc_call(m->c[c].t, line));
}

/*
 * Send a blocking request that the model says must queue, and wait until
 * the daemon has queued it: requests on a connection start in order, so
 * once a ping sent after it is answered, it is in its queue.  Otherwise
 * another connection's next step could be served first.
 */
static void
send_queued(struct model *m, int c, const char *line)
{
	json_t	*r;

	tc_send(m->c[c].t, line);
	r = tc_call(m->c[c].t, "{\"op\":\"ping\",\"id\":\"queued\"}");
	ck_assert_msg(strcmp(j_str(r, "id"), "queued") == 0, "seed %u: conn "
	    "%d: expected the ping's reply, got %s", m->seed, c, j_dump(r));
	json_decref(r);
}

static void
step_lock_acquire(struct model *m, int c, int k)
{
	bool	 block = m->c[c].pend == P_NONE && rnd(m, 2) == 0;
	int	 id = ++m->next_id;
	json_t	*r;
	char	 line[160];

	snprintf(line, sizeof(line), "{\"op\":\"lock.acquire\",\"name\":\"L%d\","
	    "\"id\":%d%s}", k, id, block ? "" : ",\"timeout\":0");
	if (m->holder[k] == c) {
		r = tc_call(m->c[c].t, line);
		ck_err(r, "would_deadlock");
		json_decref(r);
		return;
	}
	if (m->holder[k] == -1 && m->qlen[k] == 0) {
		r = tc_call(m->c[c].t, line);
		ck_assert_msg(j_bool(r, "acquired"), "seed %u: %s", m->seed,
		    j_dump(r));
		ck_assert_int_gt(j_int(r, "token"), m->last_token);
		m->last_token = j_int(r, "token");
		json_decref(r);
		m->holder[k] = c;
		return;
	}
	if (!block) {
		r = tc_call(m->c[c].t, line);
		ck_assert_msg(j_ok(r) && !j_bool(r, "acquired"), "seed %u: %s",
		    m->seed, j_dump(r));
		json_decref(r);
		return;
	}
	if (would_cycle(m, c, k)) {
		r = tc_call(m->c[c].t, line);
		ck_assert_msg(strcmp(j_err(r), "would_deadlock") == 0,
		    "seed %u: expected would_deadlock: %s", m->seed, j_dump(r));
		json_decref(r);
		return;
	}
	send_queued(m, c, line);
	m->c[c].pend = P_LOCK;
	m->c[c].pend_obj = k;
	m->c[c].pend_id = id;
	m->q[k][m->qlen[k]++] = c;
}

static void
step_lock_release(struct model *m, int c, int k)
{
	json_t	*r = call(m, c, "{\"op\":\"lock.release\",\"name\":\"L%d\"}", k);

	if (m->holder[k] != c) {
		ck_err(r, "not_owner");
		json_decref(r);
		return;
	}
	ck_ok(r);
	json_decref(r);
	m->holder[k] = -1;
	lock_handoff(m, k);
}

/* Semaphore units held by all connections. */
static int
held_units(const struct model *m)
{
	int	c, n = 0;

	for (c = 0; c < NCONN; c++)
		n += m->c[c].units;
	return (n);
}

static void
step_sem(struct model *m, int c)
{
	json_t	*r;
	int	 id;

	if (rnd(m, 2) == 0) {
		char	 line[96];
		bool	 own, replied = false;

		id = ++m->next_id;
		snprintf(line, sizeof(line), "{\"op\":\"sem.release\","
		    "\"name\":\"S\",\"id\":%d}", id);
		tc_send(m->c[c].t, line);
		/* Units held count toward the bound, the caller's aside. */
		if (m->sem + held_units(m) - (m->c[c].units > 0) + 1 >
		    SEM_INIT) {
			r = tc_reply(m->c[c].t);
			ck_err(r, "would_exceed");
			json_decref(r);
			return;
		}
		if (m->c[c].units > 0)
			m->c[c].units--;
		m->sem++;
		own = sem_handoff(m, c);
		/* Its own grant (if any) and its reply, in either order. */
		while (!replied || own) {
			r = tc_reply(m->c[c].t);
			if (j_int(r, "id") == id) {
				ck_ok(r);
				replied = true;
			} else {
				ck_assert_msg(own, "seed %u: %s", m->seed,
				    j_dump(r));
				ck_assert_int_eq(j_int(r, "id"),
				    m->c[c].pend_id);
				ck_assert(j_bool(r, "acquired"));
				m->c[c].pend = P_NONE;
				own = false;
			}
			ck_assert_int_eq(j_int(r, "value"), m->sem);
			json_decref(r);
		}
		return;
	}
	if (m->sem > 0 && m->semqlen == 0) {
		r = call(m, c, "{\"op\":\"sem.acquire\",\"name\":\"S\"}");
		m->sem--;
		m->c[c].units++;
		ck_assert(j_bool(r, "acquired"));
		ck_assert_int_eq(j_int(r, "value"), m->sem);
		json_decref(r);
		return;
	}
	if (m->c[c].pend != P_NONE || rnd(m, 2) == 0) {
		r = call(m, c, "{\"op\":\"sem.acquire\",\"name\":\"S\",\"timeout\":0}");
		ck_assert(!j_bool(r, "acquired"));
		ck_assert_int_eq(j_int(r, "value"), m->sem);
		json_decref(r);
		return;
	}
	id = ++m->next_id;
	{
		char	line[96];

		snprintf(line, sizeof(line), "{\"op\":\"sem.acquire\","
		    "\"name\":\"S\",\"id\":%d}", id);
		send_queued(m, c, line);
	}
	m->c[c].pend = P_SEM;
	m->c[c].pend_id = id;
	m->semq[m->semqlen++] = c;
}

static void
step_event(struct model *m, int c, int k)
{
	json_t	*r;

	switch (rnd(m, 3)) {
	case 0:
		json_decref(call(m, c, "{\"op\":\"event.set\",\"name\":\"E%d\"}", k));
		m->ev[k] = true;
		break;
	case 1:
		json_decref(call(m, c, "{\"op\":\"event.clear\",\"name\":\"E%d\"}", k));
		m->ev[k] = false;
		break;
	default:
		r = call(m, c, "{\"op\":\"event.wait\",\"name\":\"E%d\","
		    "\"timeout\":0}", k);
		ck_assert_int_eq(j_bool(r, "set"), m->ev[k]);
		json_decref(r);
	}
}

static void
step_counter(struct model *m, int c, int k)
{
	int	 delta = rnd(m, 7) - 3;
	json_t	*r;

	r = call(m, c, "{\"op\":\"counter.add\",\"name\":\"N%d\",\"delta\":%d}",
	    k, delta);
	m->ctr[k] += delta;
	ck_assert_int_eq(j_int(r, "value"), m->ctr[k]);
	json_decref(r);
}

/* Conn c dies: its wait is dropped, its holds handed on. */
static void
step_kill(struct model *m, int c, const char *sock)
{
	int	k;

	tc_close(m->c[c].t);
	m->c[c].t = NULL;
	/* The daemon has released it once it no longer counts it. */
	tc_wait_connections(m->observer, NCONN);
	if (m->c[c].pend == P_LOCK)
		q_remove(m->q[m->c[c].pend_obj], &m->qlen[m->c[c].pend_obj], c);
	else if (m->c[c].pend == P_SEM)
		q_remove(m->semq, &m->semqlen, c);
	m->c[c].pend = P_NONE;
	m->sem += m->c[c].units;
	m->c[c].units = 0;
	for (k = 0; k < NLOCK; k++) {
		if (m->holder[k] == c) {
			m->holder[k] = -1;
			lock_handoff(m, k);
		}
	}
	sem_handoff(m, -1);
	m->c[c].t = tc_open(sock);
}

START_TEST(test_random_ops_match_model)
{
	struct daemon	 d;
	struct model	 m;
	const char	*env = getenv("PSYNC_MODEL_SEED");
	int		 i, c, op;
	json_t		*r;

	memset(&m, 0, sizeof(m));
	m.seed = env != NULL ? (unsigned)strtoul(env, NULL, 10) : 20261123u;
	for (i = 0; i < NLOCK; i++)
		m.holder[i] = -1;
	m.sem = SEM_INIT;
	daemon_start(&d, NULL);
	for (c = 0; c < NCONN; c++)
		m.c[c].t = tc_open(d.sock);
	m.observer = tc_open(d.sock);
	json_decref(call(&m, 0, "{\"op\":\"sem.value\",\"name\":\"S\",\"value\":%d,"
	    "\"bounded\":true}", SEM_INIT));
	for (i = 0; i < STEPS; i++) {
		m.floor = m.last_token;
		c = rnd(&m, NCONN);
		op = rnd(&m, 20);
		if (op < 6)
			step_lock_acquire(&m, c, rnd(&m, NLOCK));
		else if (op < 11)
			step_lock_release(&m, c, rnd(&m, NLOCK));
		else if (op < 14)
			step_sem(&m, c);
		else if (op < 16)
			step_event(&m, c, rnd(&m, NEVENT));
		else if (op < 19)
			step_counter(&m, c, rnd(&m, NCTR));
		else
			step_kill(&m, c, d.sock);
	}
	/* Final state agrees too. */
	for (i = 0; i < NCTR; i++) {
		r = call(&m, 0, "{\"op\":\"counter.get\",\"name\":\"N%d\"}", i);
		ck_assert_int_eq(j_int(r, "value"), m.ctr[i]);
		json_decref(r);
	}
	r = call(&m, 0, "{\"op\":\"sem.value\",\"name\":\"S\"}");
	ck_assert_int_eq(j_int(r, "value"), m.sem);
	json_decref(r);
	for (i = 0; i < NLOCK; i++) {
		r = call(&m, 0, "{\"op\":\"list\",\"prefix\":\"L%d\"}", i);
		ck_assert_uint_eq(json_array_size(json_object_get(r, "objects")),
		    m.holder[i] != -1 || m.qlen[i] > 0 ? 1 : 0);
		json_decref(r);
	}
	for (c = 0; c < NCONN; c++)
		tc_close(m.c[c].t);
	tc_close(m.observer);
	daemon_finish(&d);
}
END_TEST

Suite *
model_suite(void)
{
	Suite	*s = suite_create("model");

	ADD_TEST(s, test_random_ops_match_model, 120);
	return (s);
}
