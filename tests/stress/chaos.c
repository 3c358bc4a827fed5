/*
 * chaos.c -- make stress: many clients doing lock, rlock, rwlock,
 * semaphore, condition, event, barrier, counter and file-counter work
 * against one psyncd while the parent SIGKILLs one at random every half
 * second and starts a replacement.  Every client logs every request it
 * makes -- op, object, send time, reply time, result, token -- on
 * CLOCK_MONOTONIC (system-wide) to shared memory; afterwards a checker
 * reads the whole history and asserts:
 *
 *   - every request got exactly one reply: all but a killed client's last
 *     one have a reply, and no client ever received one it did not ask
 *     for;
 *   - no two sessions' holds overlap: a hold runs from the grant's reply
 *     to the release's send (or the holder's kill), and at no instant do
 *     the holds of a lock, the rlock, the condition's lock and the file
 *     lock exceed one, the rwlock's exceed one writer or any readers with
 *     a writer, or the bounded semaphore's exceed its 3 units;
 *   - tokens are all distinct and strictly increase in grant order: each
 *     lock's holds in token order are its holds in time order, and no
 *     grant answered before another was even asked for has the larger
 *     token;
 *   - the shared counters equal the acknowledged increments (plus at most
 *     one in flight per killed client): counter.add, and the seed's file
 *     counter, a number in a file incremented by read-modify-write under
 *     a psync lock;
 *   - at quiescence nothing is held or waited on;
 *   - a dead barrier party breaks the barrier within 100 ms: every two
 *     seconds, two extra processes wait on a barrier of three, and the
 *     parent kills one once both are waiting.
 *
 * The restart variant kill -9s psyncd itself 20 times under the same load
 * (with a --state-file): clients see EOF and reconnect; within each
 * daemon's life the same checks hold, and every token it grants is above
 * every token of the daemons before it.  A daemon's death ends the holds
 * it granted while their holders may still be inside the critical
 * section, so the file counter may lose one update per restart -- the
 * case fencing tokens exist for -- and the checker allows exactly that.
 *
 *   chaos PSYNCD SECONDS CLIENTS [restart]
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "psync.h"

#define MAX_CLIENTS	64
#define MAX_SLOTS	256		/* client processes over the run */
#define MAX_OPS		(1 << 18)	/* logged requests per slot */
#define MAX_EPOCHS	64
#define MAX_PROBES	64
#define PROBE_PERIOD	2.0		/* seconds between barrier probes */
#define PROBE_BOUND	0.100		/* a dead party breaks it within */

/* What a client asks for. */
enum op {
	OP_LOCK, OP_UNLOCK, OP_RLOCK, OP_RUNLOCK, OP_RWREAD, OP_RWWRITE,
	OP_RWUNLOCK, OP_SEM_OPEN, OP_SEM_ACQUIRE, OP_SEM_RELEASE,
	OP_COND_WAIT, OP_COND_NOTIFY, OP_EVENT_SET, OP_EVENT_CLEAR,
	OP_EVENT_WAIT, OP_BARRIER_OPEN, OP_BARRIER_WAIT, OP_BARRIER_RESET,
	OP_COUNTER_ADD, OP_FILE_ADD, OP_PING, OP_UNASKED, OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
	"lock.acquire", "lock.release", "rlock.acquire", "rlock.release",
	"rwlock.acquire(read)", "rwlock.acquire(write)", "rwlock.release",
	"sem.open", "sem.acquire", "sem.release", "cond.wait", "cond.notify",
	"event.set", "event.clear", "event.wait", "barrier.open",
	"barrier.wait", "barrier.reset", "counter.add", "file add", "ping",
	"unasked reply"
};

/* The objects they work on; the first ones are held, with a capacity. */
enum res {
	RES_L0, RES_L1, RES_L2, RES_L3,	/* plain locks */
	RES_FILE,			/* the lock around the file counter */
	RES_CONDLOCK,			/* the condition's lock */
	RES_RLOCK, RES_RWLOCK, RES_POOL,
	RES_HELD,			/* the ones above can be held */
	RES_COND = RES_HELD, RES_E0, RES_E1, RES_E2, RES_E3, RES_BARRIER,
	RES_HITS, RES_NONE, RES_COUNT
};

static const char *const res_names[RES_COUNT] = {
	"L0", "L1", "L2", "L3", "F", "CL", "R", "W", "pool", "C", "E0", "E1",
	"E2", "E3", "B", "hits", "-"
};

#define NLOCKS		4
#define POOL_UNITS	3
#define BARRIER_PARTIES	3
#define WRITER		(MAX_CLIENTS + 1)	/* a writer's weight */

/* One logged request. */
struct op_rec {
	double		t_send;		/* before the request is written */
	double		t_reply;	/* after its reply is read; 0: none */
	uint64_t	token;		/* of a grant */
	int32_t		epoch;		/* which daemon the client talked to */
	int16_t		op;		/* enum op */
	int16_t		res;		/* enum res */
	int16_t		result;		/* PSYNC_* */
	uint16_t	aux;		/* rlock depth after, barrier index */
};

struct slot {
	pid_t		pid;
	double		t_killed;	/* 0 if it ended on its own */
	double		t_exit;		/* 0 if it was killed */
	_Atomic long	progress;	/* replies received */
	int		nops;		/* records in its log */
};

struct probe {
	pid_t		victim, survivor;
	double		t_kill;
	double		t_reply;	/* the survivor's */
	int		result;		/* the survivor's */
};

struct shared {
	_Atomic int	nslots;
	_Atomic int	stop;
	_Atomic int	epoch;		/* daemon restarts so far */
	bool		restarting;	/* the daemon-restart variant */
	struct slot	slots[MAX_SLOTS];
	struct probe	probes[MAX_PROBES];
};

/* A hold, from the logs. */
struct hold {
	double		t_ask;		/* the granted request's send */
	double		t0, t1;		/* grant received .. release sent */
	uint64_t	token;		/* 0: none (semaphore units) */
	int		res, weight, epoch;
};

static struct shared	*sh;
static struct op_rec	*logs;		/* MAX_OPS per slot */
static const char	*sock;
static const char	*counter_file;
static jmp_buf		 retry;		/* restart variant: start over */

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static struct op_rec *
slot_log(int n)
{
	return (&logs[(size_t)n * MAX_OPS]);
}

/* ---- the clients ---- */

struct client {
	struct slot	*slot;
	struct op_rec	*log;
	psync_t		*h;
	unsigned	 seed;
	volatile int	 epoch;
	int		 counter_fd;
	struct op_rec	*cur;		/* CALL's */
	int		 rc;
};

/* Leave, noting when: what the client held ends here. */
static _Noreturn void
client_exit(struct client *c, int status)
{
	c->slot->t_exit = now();
	_exit(status);
}

/* Log a request before it is sent: the record exists from here on. */
static struct op_rec *
op_begin(struct client *c, enum op op, enum res res)
{
	struct op_rec	*r;

	if (c->slot->nops >= MAX_OPS)
		client_exit(c, 0);	/* the log is full: it is done */
	r = &c->log[c->slot->nops];
	r->op = (int16_t)op;
	r->res = (int16_t)res;
	r->epoch = c->epoch;
	r->token = 0;
	r->aux = 0;
	r->t_reply = 0;
	r->t_send = now();
	c->slot->nops++;
	return (r);
}

/*
 * Log the reply.  A result outside the expected ones ends the client
 * with an error -- except, in the restart variant, the daemon vanishing,
 * after which the client reconnects and carries on.
 */
static int
op_end(struct client *c, struct op_rec *r, int rc, uint64_t token,
    unsigned aux, int ok1, int ok2)
{
	r->t_reply = now();
	r->result = (int16_t)rc;
	r->token = token;
	r->aux = (uint16_t)aux;
	atomic_fetch_add(&c->slot->progress, 1);
	if (rc == PSYNC_OK || rc == ok1 || rc == ok2)
		return (rc);
	if (sh->restarting && (rc == PSYNC_EIO ||
	    rc == PSYNC_ESHUTTING_DOWN || rc == PSYNC_ENOT_OWNER ||
	    rc == PSYNC_ENOT_FOUND))
		longjmp(retry, 1);
	fprintf(stderr, "chaos: %s %s: %s (%s)\n", op_names[r->op],
	    res_names[r->res], psync_strerror(rc), psync_errmsg(c->h));
	client_exit(c, 3);
}

/*
 * Log a call around it: the comma operators order begin, call and end,
 * and token and aux are read after the call filled them in.
 */
#define CALL(c, op, res, ok1, ok2, token, aux, expr)			\
	((c)->cur = op_begin((c), (op), (res)), (c)->rc = (expr),	\
	op_end((c), (c)->cur, (c)->rc, (token), (aux), (ok1), (ok2)))

/*
 * The daemon went away (restart variant): connect again, and learn which
 * daemon this is only once connected (a connection made to a daemon since
 * killed can grant nothing, so it cannot be misattributed).
 */
static void
reconnect(struct client *c)
{
	while (psync_reconnect(c->h) != PSYNC_OK) {
		if (atomic_load(&sh->stop))
			client_exit(c, 0);
		usleep(5000);	/* the daemon is restarting */
	}
	c->epoch = atomic_load(&sh->epoch);
}

/* Nothing may arrive that was not asked for: a reply comes exactly once. */
static void
check_unasked(struct client *c)
{
	struct op_rec	*r;
	char		*reply = NULL;
	uint64_t	 id;
	int		 rc;

	rc = psync_recv(c->h, 0, &reply, &id);
	if (rc == PSYNC_EAGAIN)
		return;
	if (rc == PSYNC_EIO && sh->restarting)
		longjmp(retry, 1);
	r = op_begin(c, OP_UNASKED, RES_NONE);
	r->t_reply = now();
	r->result = (int16_t)rc;
	fprintf(stderr, "chaos: pid %d received a reply it did not ask for "
	    "(%s): %s\n", (int)getpid(), psync_strerror(rc),
	    reply != NULL ? reply : "");
	free(reply);
	client_exit(c, 3);
}

/*
 * Stay in a critical section for 0 to 2 round trips: a hold the checker
 * sees must last long enough for a wrong grant to show as an overlap.
 */
static void
hold_a_while(struct client *c)
{
	int	i;

	for (i = rand_r(&c->seed) % 3; i > 0; i--)
		CALL(c, OP_PING, RES_NONE, 0, 0, 0, 0, psync_ping(c->h));
}

/* The seed's shared counter: a number in a file, under a psync lock. */
static void
file_add(struct client *c)
{
	struct op_rec	*r;
	uint64_t	 token = 0;
	char		 buf[32];
	ssize_t		 n;
	long long	 v;

	if (CALL(c, OP_LOCK, RES_FILE, PSYNC_TIMEDOUT, 0, token, 0,
	    psync_lock_acquire(c->h, "F", 0.5, &token)) != PSYNC_OK)
		return;
	r = op_begin(c, OP_FILE_ADD, RES_FILE);
	if ((n = pread(c->counter_fd, buf, sizeof(buf) - 1, 0)) < 0)
		client_exit(c, 5);
	buf[n] = '\0';
	v = strtoll(buf, NULL, 10);
	n = snprintf(buf, sizeof(buf), "%020lld\n", v + 1);
	if (pwrite(c->counter_fd, buf, (size_t)n, 0) != n)
		client_exit(c, 5);
	op_end(c, r, PSYNC_OK, 0, 0, 0, 0);
	CALL(c, OP_UNLOCK, RES_FILE, 0, 0, 0, 0,
	    psync_lock_release(c->h, "F"));
}

static void
client_step(struct client *c)
{
	psync_t		*h = c->h;
	char		 name[16];
	uint64_t	 token = 0;
	uint32_t	 depth = 0;
	unsigned	 index = 0;
	int		 k, i, rc;

	k = (int)(rand_r(&c->seed) % NLOCKS);
	switch (rand_r(&c->seed) % 9) {
	case 0:		/* a lock, held briefly */
		snprintf(name, sizeof(name), "L%d", k);
		if (CALL(c, OP_LOCK, RES_L0 + k, PSYNC_TIMEDOUT, 0, token, 0,
		    psync_lock_acquire(h, name, 0.5, &token)) != PSYNC_OK)
			break;
		hold_a_while(c);
		CALL(c, OP_UNLOCK, RES_L0 + k, 0, 0, 0, 0,
		    psync_lock_release(h, name));
		break;
	case 1:		/* the shared counters */
		CALL(c, OP_COUNTER_ADD, RES_HITS, 0, 0, 0, 0,
		    psync_counter_add(h, "hits", 1, NULL));
		file_add(c);
		break;
	case 2:		/* a bounded semaphore of 3 */
		rc = CALL(c, OP_SEM_ACQUIRE, RES_POOL, PSYNC_TIMEDOUT,
		    PSYNC_ENOT_FOUND, 0, 0,
		    psync_sem_acquire(h, "pool", 0.5, NULL));
		if (rc == PSYNC_ENOT_FOUND)	/* a restarted daemon forgot */
			CALL(c, OP_SEM_OPEN, RES_POOL, 0, 0, 0, 0,
			    psync_sem_open(h, "pool", POOL_UNITS, true, NULL));
		else if (rc == PSYNC_OK) {
			hold_a_while(c);
			CALL(c, OP_SEM_RELEASE, RES_POOL, 0, 0, 0, 0,
			    psync_sem_release(h, "pool", 1, NULL));
		}
		break;
	case 3:		/* an rlock, entered twice */
		if (CALL(c, OP_RLOCK, RES_RLOCK, PSYNC_TIMEDOUT,
		    PSYNC_EWOULD_DEADLOCK, token, depth,
		    psync_rlock_acquire(h, "R", 0.5, &depth, &token)) !=
		    PSYNC_OK)
			break;
		CALL(c, OP_RLOCK, RES_RLOCK, 0, 0, token, depth,
		    psync_rlock_acquire(h, "R", 0, &depth, &token));
		if (depth != 2) {
			fprintf(stderr, "chaos: rlock re-entry: depth %u\n",
			    depth);
			client_exit(c, 3);
		}
		hold_a_while(c);
		for (i = 0; i < 2; i++)
			CALL(c, OP_RUNLOCK, RES_RLOCK, 0, 0, 0, depth,
			    psync_rlock_release(h, "R", &depth));
		break;
	case 4:		/* an rwlock, read or write */
		i = rand_r(&c->seed) % 2;
		if (CALL(c, i ? OP_RWREAD : OP_RWWRITE, RES_RWLOCK,
		    PSYNC_TIMEDOUT, PSYNC_EWOULD_DEADLOCK, token, 0,
		    psync_rwlock_acquire(h, "W", i ? PSYNC_READ : PSYNC_WRITE,
		    0.5, &token)) != PSYNC_OK)
			break;
		hold_a_while(c);
		CALL(c, OP_RWUNLOCK, RES_RWLOCK, 0, 0, 0, 0,
		    psync_rwlock_release(h, "W"));
		break;
	case 5:		/* a condition: wait under its lock, or notify */
		if (rand_r(&c->seed) % 2) {
			CALL(c, OP_COND_NOTIFY, RES_COND, 0, 0, 0, 0,
			    psync_cond_notify(h, "C", 1, NULL));
			break;
		}
		if (CALL(c, OP_LOCK, RES_CONDLOCK, PSYNC_TIMEDOUT, 0, token,
		    0, psync_lock_acquire(h, "CL", 0.5, &token)) != PSYNC_OK)
			break;
		/* Released while waiting, held again on both answers. */
		CALL(c, OP_COND_WAIT, RES_CONDLOCK, PSYNC_TIMEDOUT, 0, token, 0,
		    psync_cond_wait(h, "C", "CL", 0.05, &token));
		hold_a_while(c);
		CALL(c, OP_UNLOCK, RES_CONDLOCK, 0, 0, 0, 0,
		    psync_lock_release(h, "CL"));
		break;
	case 6:		/* a barrier of 3, reset when broken */
		rc = CALL(c, OP_BARRIER_WAIT, RES_BARRIER, PSYNC_EBROKEN,
		    PSYNC_ENOT_FOUND, 0, index,
		    psync_barrier_wait(h, "B", 0.5, &index));
		if (rc == PSYNC_ENOT_FOUND)	/* a restarted daemon forgot */
			CALL(c, OP_BARRIER_OPEN, RES_BARRIER, 0, 0, 0, 0,
			    psync_barrier_open(h, "B", BARRIER_PARTIES));
		else if (rc == PSYNC_EBROKEN)
			CALL(c, OP_BARRIER_RESET, RES_BARRIER, 0, 0, 0, 0,
			    psync_barrier_reset(h, "B"));
		else if (index >= BARRIER_PARTIES) {
			fprintf(stderr, "chaos: barrier index %u\n", index);
			client_exit(c, 3);
		}
		break;
	default:	/* events */
		snprintf(name, sizeof(name), "E%d", k);
		if (rand_r(&c->seed) % 2)
			CALL(c, OP_EVENT_SET, RES_E0 + k, 0, 0, 0, 0,
			    psync_event_set(h, name));
		else
			CALL(c, OP_EVENT_WAIT, RES_E0 + k, PSYNC_TIMEDOUT, 0, 0,
			    0, psync_event_wait(h, name, 0.05));
		if (rand_r(&c->seed) % 3 == 0)
			CALL(c, OP_EVENT_CLEAR, RES_E0 + k, 0, 0, 0, 0,
			    psync_event_clear(h, name));
		break;
	}
}

static void
client(int n, unsigned seed)
{
	struct client	c = {
		.slot = &sh->slots[n], .log = slot_log(n), .seed = seed,
		.epoch = atomic_load(&sh->epoch)
	};
	volatile long	steps = 0;	/* longjmp */

	if ((c.counter_fd = open(counter_file, O_RDWR | O_CLOEXEC)) == -1)
		client_exit(&c, 2);
	c.h = psync_connect(sock);
	if (c.h == NULL && !sh->restarting)
		client_exit(&c, 2);
	/* A handle that is not connected, for reconnect() to fix. */
	if (c.h == NULL && (c.h = psync_connect("/nonexistent")) == NULL)
		client_exit(&c, 2);
	(void)setjmp(retry);
	while (!atomic_load(&sh->stop)) {
		if (psync_fd(c.h) == -1) {
			if (!sh->restarting)
				client_exit(&c, 4);
			reconnect(&c);
		}
		client_step(&c);
		if (++steps % 64 == 0)
			check_unasked(&c);
	}
	check_unasked(&c);
	psync_close(c.h);
	client_exit(&c, 0);
}

static int
spawn(unsigned seed)
{
	int	n = atomic_fetch_add(&sh->nslots, 1);
	pid_t	pid;

	if (n >= MAX_SLOTS)
		return (-1);
	if ((pid = fork()) == 0)
		client(n, seed);
	sh->slots[n].pid = pid;
	return (n);
}

/* ---- the barrier probe: a party dies, the other learns within 100 ms ---- */

static void
probe_party(struct probe *p, const char *name, bool survivor)
{
	psync_t		*h = psync_connect(sock);
	unsigned	 index;
	int		 rc;

	if (h == NULL)
		_exit(2);
	rc = psync_barrier_wait(h, name, 10, &index);
	if (survivor) {
		p->t_reply = now();
		p->result = rc;
	}
	psync_close(h);
	_exit(0);
}

static pid_t
probe_spawn(struct probe *p, const char *name, bool survivor)
{
	pid_t	pid;

	if ((pid = fork()) == 0)
		probe_party(p, name, survivor);
	return (pid);
}

struct prober {
	int	n;		/* probes started */
	bool	armed;		/* the newest one's victim is not dead yet */
	double	next;
};

/* One tick: start a probe, or kill its victim once both parties wait. */
static void
probe_tick(struct prober *pr, psync_t *h)
{
	struct probe	*p;
	char		 name[32];
	unsigned	 waiting = 0;
	bool		 broken;
	int		 status;

	if (!pr->armed) {
		if (now() < pr->next || pr->n >= MAX_PROBES)
			return;
		p = &sh->probes[pr->n];
		snprintf(name, sizeof(name), "D%d", pr->n);
		p->result = -1;
		if (psync_barrier_open(h, name, 3) != PSYNC_OK)
			return;
		p->victim = probe_spawn(p, name, false);
		p->survivor = probe_spawn(p, name, true);
		pr->armed = true;
		pr->n++;
		return;
	}
	p = &sh->probes[pr->n - 1];
	snprintf(name, sizeof(name), "D%d", pr->n - 1);
	if (psync_barrier_info(h, name, NULL, &waiting, &broken) !=
	    PSYNC_OK || waiting < 2)
		return;
	p->t_kill = now();
	kill(p->victim, SIGKILL);
	waitpid(p->victim, &status, 0);
	pr->armed = false;
	pr->next = now() + PROBE_PERIOD;
}

static int
probe_check(struct prober *pr)
{
	double	 worst = 0, lat;
	int	 i, k, status, errors = 0, measured = 0;

	for (i = 0; i < pr->n; i++) {
		struct probe	*p = &sh->probes[i];

		if (i == pr->n - 1 && pr->armed) {
			/* The run ended before both waited: not a probe. */
			kill(p->victim, SIGKILL);
			kill(p->survivor, SIGKILL);
			waitpid(p->victim, &status, 0);
			waitpid(p->survivor, &status, 0);
			break;
		}
		for (k = 0; k < 500; k++) {	/* 5 s, bounded */
			if (waitpid(p->survivor, &status, WNOHANG) ==
			    p->survivor)
				break;
			usleep(10000);
		}
		if (k == 500) {
			kill(p->survivor, SIGKILL);
			waitpid(p->survivor, &status, 0);
		}
		lat = p->t_reply - p->t_kill;
		if (p->result != PSYNC_EBROKEN || lat > PROBE_BOUND) {
			fprintf(stderr, "chaos: barrier probe %d: the survivor "
			    "got %s %.1f ms after the other party's kill\n", i,
			    p->result >= 0 ? psync_strerror(p->result) :
			    "nothing", lat * 1e3);
			errors++;
		}
		if (lat > worst)
			worst = lat;
		measured++;
	}
	if (measured > 0)
		printf("chaos: barrier: %d dead parties, each broke it within "
		    "%.1f ms (bound %.0f ms)\n", measured, worst * 1e3,
		    PROBE_BOUND * 1e3);
	return (errors);
}

/* ---- the history checker ---- */

struct history {
	struct hold	*holds;
	size_t		 nholds;
	long		 requests, replies, unasked;
	long		 cut, eof;	/* no reply: a kill, a daemon's death */
	long		 adds, adds_open, file_adds, file_open;
	long		 adds_last;	/* acknowledged by the last daemon */
	int		 errors;
	double		 death[MAX_EPOCHS];	/* each daemon's kill */
	int		 epochs;		/* daemons killed */
};

static int
res_weight(const struct op_rec *r)
{
	return (r->op == OP_RWWRITE ? WRITER : 1);
}

static int
res_capacity(int res)
{
	return (res == RES_POOL ? POOL_UNITS : res == RES_RWLOCK ? WRITER : 1);
}

/* End a hold at t, no later than its daemon's death. */
static void
hold_end(struct history *hi, struct hold *x, double t)
{
	if (x->epoch < hi->epochs && t > hi->death[x->epoch])
		t = hi->death[x->epoch];
	x->t1 = t;
}

/*
 * Turn one slot's log into holds, and count its requests and replies.
 * A hold starts when the grant was read and ends when the release was
 * sent -- or at the client's kill, or its daemon's death -- so a hold is
 * never longer than it really was: an overlap found is real.
 */
static void
history_slot(struct history *hi, int n, double t_end)
{
	struct slot	*s = &sh->slots[n];
	struct op_rec	*log = slot_log(n), *r;
	struct hold	*open[RES_HELD] = { NULL };	/* one each at most */
	int		 depth = 0, i, res, epoch = 0;
	double		 t_gone = s->t_killed > 0 ? s->t_killed : t_end;

	if (s->t_exit > 0 && s->t_exit < t_gone)
		t_gone = s->t_exit;

	for (i = 0; i < s->nops; i++) {
		r = &log[i];
		res = r->res;
		hi->requests++;
		if (r->t_reply == 0) {
			if (i == s->nops - 1 && s->t_killed > 0)
				hi->cut++;
			else {
				fprintf(stderr, "chaos: slot %d: %s %s got no "
				    "reply\n", n, op_names[r->op],
				    res_names[res]);
				hi->errors++;
			}
		} else if (r->result == PSYNC_EIO && sh->restarting)
			hi->eof++;
		else
			hi->replies++;
		if (r->epoch != epoch) {
			/* A new daemon: the old one's holds died with it. */
			for (res = 0; res < RES_HELD; res++)
				if (open[res] != NULL)
					hold_end(hi, open[res], r->t_send);
			memset(open, 0, sizeof(open));
			depth = 0;
			epoch = r->epoch;
			res = r->res;
		}
		switch (r->op) {
		case OP_UNASKED:	/* a record, not a request */
			hi->requests--;
			hi->replies--;
			hi->unasked++;
			hi->errors++;
			break;
		case OP_COUNTER_ADD:
			hi->adds += r->result == PSYNC_OK && r->t_reply > 0;
			hi->adds_last += r->result == PSYNC_OK &&
			    r->t_reply > 0 && r->epoch == hi->epochs;
			hi->adds_open += r->t_reply == 0;
			break;
		case OP_FILE_ADD:
			hi->file_adds += r->t_reply > 0;
			hi->file_open += r->t_reply == 0;
			break;
		case OP_COND_WAIT:	/* the lock is let go while waiting */
		case OP_UNLOCK:
		case OP_RWUNLOCK:
		case OP_SEM_RELEASE:
		case OP_RUNLOCK:
			if (r->op == OP_RUNLOCK && --depth > 0)
				break;
			if (open[res] != NULL) {
				hold_end(hi, open[res], r->t_send);
				open[res] = NULL;
			}
			if (r->op != OP_COND_WAIT || r->t_reply == 0 ||
			    (r->result != PSYNC_OK &&
			    r->result != PSYNC_TIMEDOUT))
				break;
			/* Taken back on both answers: a new hold. */
			/* FALLTHROUGH */
		case OP_LOCK:
		case OP_RLOCK:
		case OP_RWREAD:
		case OP_RWWRITE:
		case OP_SEM_ACQUIRE:
			if (r->result != PSYNC_OK && r->op != OP_COND_WAIT)
				break;
			if (r->t_reply == 0)
				break;	/* killed: its start is unknown */
			if (r->op == OP_RLOCK && ++depth > 1)
				break;	/* a re-entry: the same hold */
			open[res] = &hi->holds[hi->nholds++];
			*open[res] = (struct hold){
				.t_ask = r->t_send, .t0 = r->t_reply, .t1 = 0,
				.token = r->token, .res = res,
				.weight = res_weight(r), .epoch = r->epoch
			};
			break;
		default:
			break;
		}
	}
	for (res = 0; res < RES_HELD; res++)
		if (open[res] != NULL)
			hold_end(hi, open[res], t_gone);
}

struct edge {
	double	t;
	int	delta;
};

static int
cmp_edge(const void *a, const void *b)
{
	const struct edge	*x = a, *y = b;

	/* At one instant, releases count before grants. */
	if (x->t != y->t)
		return (x->t < y->t ? -1 : 1);
	return (x->delta - y->delta);
}

static int
cmp_token(const void *a, const void *b)
{
	const struct hold	*x = a, *y = b;

	return (x->token < y->token ? -1 : x->token > y->token);
}

/*
 * At no instant do a resource's holds exceed its capacity.  Prints how
 * many there were, and the most held at once -- the evidence that the
 * load reached the capacity at all.
 */
static void
check_exclusion(struct history *hi, int res)
{
	struct edge	*e = calloc(2 * hi->nholds + 1, sizeof(*e));
	size_t		 i, n = 0;
	int		 sum = 0, most = 0, errors = 0;

	if (e == NULL)
		abort();
	for (i = 0; i < hi->nholds; i++)
		if (hi->holds[i].res == res) {
			e[n++] = (struct edge){ hi->holds[i].t0,
			    hi->holds[i].weight };
			e[n++] = (struct edge){ hi->holds[i].t1,
			    -hi->holds[i].weight };
		}
	qsort(e, n, sizeof(*e), cmp_edge);
	for (i = 0; i < n; i++) {
		sum += e[i].delta;
		if (sum > res_capacity(res) && errors++ < 10)
			fprintf(stderr, "chaos: %s: %s at %.6f\n",
			    res_names[res], res == RES_RWLOCK ? "a writer "
			    "not alone" : "held by too many", e[i].t);
		if (sum > most && sum <= res_capacity(res) &&
		    (res != RES_RWLOCK || sum < WRITER))
			most = sum;
	}
	free(e);
	hi->errors += errors;
	if (res == RES_RWLOCK)
		printf("chaos: %s: %zu holds, up to %d readers together, "
		    "writers alone: %s\n", res_names[res], n / 2, most,
		    errors == 0 ? "yes" : "NO");
	else
		printf("chaos: %s: %zu holds, up to %d at once, capacity %d: "
		    "%s\n", res_names[res], n / 2, most, res_capacity(res),
		    errors == 0 ? "kept" : "EXCEEDED");
}

/*
 * Tokens: all distinct; a later daemon's above an earlier one's; an
 * exclusive lock's holds in token order follow one another in time; and
 * no grant read before another was asked for has the larger token.
 */
static void
check_tokens(struct history *hi)
{
	struct hold	*t = calloc(hi->nholds + 1, sizeof(*t)), *last[RES_HELD];
	size_t		 i, n = 0;
	double		 first_reply_above = 1e300;
	int		 errors_before = hi->errors;

	if (t == NULL)
		abort();
	for (i = 0; i < hi->nholds; i++)
		if (hi->holds[i].res != RES_POOL)
			t[n++] = hi->holds[i];
	qsort(t, n, sizeof(*t), cmp_token);
	memset(last, 0, sizeof(last));
	for (i = 0; i < n; i++) {
		if (i > 0 && t[i].token == t[i - 1].token) {
			fprintf(stderr, "chaos: token %" PRIu64 " granted "
			    "twice\n", t[i].token);
			hi->errors++;
		}
		if (i > 0 && t[i].epoch < t[i - 1].epoch) {
			fprintf(stderr, "chaos: token %" PRIu64 " of daemon %d "
			    "is below token %" PRIu64 " of daemon %d\n",
			    t[i].token, t[i].epoch, t[i - 1].token,
			    t[i - 1].epoch);
			hi->errors++;
		}
		if (t[i].res != RES_RWLOCK && last[t[i].res] != NULL &&
		    t[i].epoch == last[t[i].res]->epoch &&
		    t[i].t0 < last[t[i].res]->t1) {
			fprintf(stderr, "chaos: %s: grant %" PRIu64 " at %.6f "
			    "before %" PRIu64 " ended at %.6f\n",
			    res_names[t[i].res], t[i].token, t[i].t0,
			    last[t[i].res]->token, last[t[i].res]->t1);
			hi->errors++;
		}
		last[t[i].res] = &t[i];
	}
	/* From the top token down: the earliest reply among larger ones. */
	for (i = n; i-- > 0;) {
		if (first_reply_above < t[i].t_ask) {
			fprintf(stderr, "chaos: token %" PRIu64 " asked for at "
			    "%.6f, after a larger token was granted at %.6f\n",
			    t[i].token, t[i].t_ask, first_reply_above);
			hi->errors++;
		}
		if (t[i].t0 < first_reply_above)
			first_reply_above = t[i].t0;
	}
	printf("chaos: %zu tokens checked: distinct, in grant order%s: %s\n",
	    n, sh->restarting ? ", rising across daemons" : "",
	    hi->errors == errors_before ? "yes" : "NO");
	free(t);
}

/* Everything the logs say, checked; returns the errors found. */
static int
check_history(struct history *hi)
{
	size_t	total = 0;
	int	n, res;
	double	t_end = now();

	for (n = 0; n < atomic_load(&sh->nslots); n++)
		total += (size_t)sh->slots[n].nops;
	if ((hi->holds = calloc(total + 1, sizeof(*hi->holds))) == NULL)
		abort();
	for (n = 0; n < atomic_load(&sh->nslots); n++)
		history_slot(hi, n, t_end);
	printf("chaos: %ld requests logged: %ld replies, %ld cut off by a "
	    "kill, %ld by a daemon's death, %ld unasked\n", hi->requests,
	    hi->replies, hi->cut, hi->eof, hi->unasked);
	for (res = 0; res < RES_HELD; res++)
		check_exclusion(hi, res);
	check_tokens(hi);
	free(hi->holds);
	return (hi->errors);
}

/*
 * Write every logged request, one per line, in the order each client
 * made them: slot, pid, op, object, send and reply times, result, token,
 * aux (rlock depth, barrier index), daemon.  Returns 0 or -1.
 */
static int
history_write(const char *path)
{
	struct op_rec	*r;
	FILE		*f;
	int		 n, i;

	if ((f = fopen(path, "we")) == NULL)
		return (-1);
	fprintf(f, "# slot pid op object t_send t_reply result token aux "
	    "daemon\n");
	for (n = 0; n < atomic_load(&sh->nslots); n++) {
		if (sh->slots[n].t_killed > 0)
			fprintf(f, "# slot %d killed at %.6f\n", n,
			    sh->slots[n].t_killed);
		for (i = 0; i < sh->slots[n].nops; i++) {
			r = &slot_log(n)[i];
			fprintf(f, "%d %ld %s %s %.6f %.6f \"%s\" %" PRIu64 " %u "
			    "%d\n", n, (long)sh->slots[n].pid, op_names[r->op],
			    res_names[r->res], r->t_send, r->t_reply,
			    r->t_reply > 0 ? psync_strerror(r->result) : "-",
			    r->token, r->aux, r->epoch);
		}
	}
	return (fclose(f) == 0 ? 0 : -1);
}

/* ---- the parent ---- */

static pid_t
start_daemon(const char *bin, const char *path, const char *state)
{
	pid_t	pid;

	if ((pid = fork()) == 0) {
		execl(bin, bin, "--socket", path, "--state-file", state,
		    "--log-level", "error", (char *)NULL);
		_exit(127);
	}
	return (pid);
}

static long long
read_file_counter(void)
{
	char		buf[32];
	ssize_t		n;
	int		fd;

	if ((fd = open(counter_file, O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	if (n <= 0)
		return (-1);
	buf[n] = '\0';
	return (strtoll(buf, NULL, 10));
}

/* Once the daemon has seen every client go (within 2 s), all is free. */
static int
check_quiescence(psync_t *h)
{
	size_t	 idx;
	json_t	*j, *o;
	char	*json;
	int	 k, busy = 0;

	for (k = 0; k < 200; k++) {
		if (psync_list(h, NULL, &json) != PSYNC_OK)
			return (1);
		j = json_loads(json, 0, NULL);
		busy = 0;
		json_array_foreach(json_object_get(j, "objects"), idx, o)
			busy += json_integer_value(json_object_get(o,
			    "holders")) > 0 || json_integer_value(
			    json_object_get(o, "waiters")) > 0;
		json_decref(j);
		if (busy == 0) {
			free(json);
			printf("chaos: quiescent: nothing held or waited "
			    "on\n");
			return (0);
		}
		if (k == 199)
			fprintf(stderr, "chaos: still held 2 s after every "
			    "client left: %s\n", json);
		free(json);
		usleep(10000);	/* polling for quiescence, bounded */
	}
	return (1);
}

/* ---- the checker's own test: histories it must accept or refuse ---- */

/* Append a record to slot n's log; t_reply 0: no reply. */
static void
fake(int n, enum op op, enum res res, double t_send, double t_reply,
    int result, uint64_t token, unsigned aux)
{
	struct slot	*s = &sh->slots[n];
	struct op_rec	*r = &slot_log(n)[s->nops++];

	*r = (struct op_rec){ .t_send = t_send, .t_reply = t_reply,
	    .token = token, .epoch = 0, .op = (int16_t)op,
	    .res = (int16_t)res, .result = (int16_t)result,
	    .aux = (uint16_t)aux };
	if (n >= atomic_load(&sh->nslots))
		atomic_store(&sh->nslots, n + 1);
}

/* Slot n takes res from t0 (asked at t0 - 0.05) to t1 with token. */
static void
fake_hold(int n, enum op op, enum res res, double t0, double t1,
    uint64_t token)
{
	enum op	 rel = res == RES_RWLOCK ? OP_RWUNLOCK : res == RES_POOL ?
	    OP_SEM_RELEASE : OP_UNLOCK;

	fake(n, op, res, t0 - 0.05, t0, PSYNC_OK, token, 0);
	fake(n, rel, res, t1, t1 + 0.01, PSYNC_OK, 0, 0);
}

static void
fake_reset(void)
{
	memset(sh->slots, 0, sizeof(sh->slots));
	atomic_store(&sh->nslots, 0);
	sh->restarting = false;
}

/* Run the checker on the fake history with its reports silenced. */
static int
fake_check(struct history *hi)
{
	int	out = dup(STDOUT_FILENO), err = dup(STDERR_FILENO);
	int	null = open("/dev/null", O_WRONLY | O_CLOEXEC), errors;

	if (out == -1 || err == -1 || null == -1)
		abort();
	fflush(stdout);
	dup2(null, STDOUT_FILENO);
	dup2(null, STDERR_FILENO);
	errors = check_history(hi);
	fflush(stdout);
	dup2(out, STDOUT_FILENO);
	dup2(err, STDERR_FILENO);
	close(out);
	close(err);
	close(null);
	return (errors);
}

static int
selftest(void)
{
	struct history	 hi;
	int		 failed = 0, i, want;
	static const struct {
		const char	*what;
		int		 refused;
	} cases[] = {
		{ "sequential holds of a lock", 0 },
		{ "two holds of a lock overlap", 1 },
		{ "a token granted twice", 1 },
		{ "a lock's tokens against its grant order", 1 },
		{ "a request without a reply", 1 },
		{ "a grant after the holder's kill", 0 },
		{ "a grant before the holder's kill", 1 },
		{ "3 semaphore units held at once", 0 },
		{ "4 semaphore units held at once", 1 },
		{ "two readers together", 0 },
		{ "a writer with a reader", 1 },
		{ "an rlock taken between its two releases", 1 },
		{ "a lock taken while its holder waits on the condition", 0 },
		{ "a lock taken after the waiter got it back", 1 },
		{ "a token below the previous daemon's", 1 },
		{ "a token granted before a smaller one was asked for", 1 },
		{ "a reply nobody asked for", 1 },
	};

	for (i = 0; i < (int)(sizeof(cases) / sizeof(cases[0])); i++) {
		fake_reset();
		memset(&hi, 0, sizeof(hi));
		want = cases[i].refused;
		switch (i) {
		case 0: case 1:
			fake_hold(0, OP_LOCK, RES_L0, 1, 2, 10);
			fake_hold(1, OP_LOCK, RES_L0, i == 0 ? 2.1 : 1.9, 3, 11);
			break;
		case 2: case 3:
			fake_hold(0, OP_LOCK, RES_L0, 1, 2, 10);
			fake_hold(1, OP_LOCK, RES_L1, 1, 2, i == 2 ? 10 : 9);
			fake_hold(2, OP_LOCK, RES_L1, 2.5, 3, i == 2 ? 11 : 8);
			break;
		case 4:
			fake(0, OP_PING, RES_NONE, 1, 0, 0, 0, 0);
			fake(0, OP_PING, RES_NONE, 2, 2.1, 0, 0, 0);
			break;
		case 5: case 6:
			fake(0, OP_LOCK, RES_L0, 0.9, 1, PSYNC_OK, 10, 0);
			sh->slots[0].t_killed = 1.5;
			fake_hold(1, OP_LOCK, RES_L0, i == 5 ? 1.6 : 1.4, 3, 11);
			break;
		case 7: case 8:
			fake_hold(0, OP_SEM_ACQUIRE, RES_POOL, 1, 2, 0);
			fake_hold(1, OP_SEM_ACQUIRE, RES_POOL, 1.1, 2, 0);
			fake_hold(2, OP_SEM_ACQUIRE, RES_POOL, 1.2, 2, 0);
			fake_hold(3, OP_SEM_ACQUIRE, RES_POOL, i == 7 ? 2.1 : 1.9,
			    3, 0);
			break;
		case 9: case 10:
			fake_hold(0, OP_RWREAD, RES_RWLOCK, 1, 2, 10);
			fake_hold(1, i == 9 ? OP_RWREAD : OP_RWWRITE, RES_RWLOCK,
			    1.5, 3, 11);
			break;
		case 11: case 12: case 13:
			if (i == 11) {
				fake(0, OP_RLOCK, RES_RLOCK, 0.9, 1, 0, 10, 1);
				fake(0, OP_RLOCK, RES_RLOCK, 1.1, 1.2, 0, 10, 2);
				fake(0, OP_RUNLOCK, RES_RLOCK, 1.3, 1.4, 0, 0, 1);
				fake(0, OP_RUNLOCK, RES_RLOCK, 2, 2.1, 0, 0, 0);
				fake_hold(1, OP_RLOCK, RES_RLOCK, 1.5, 3, 11);
				break;
			}
			/* Waits from 2 to 3.5, holds again until 4. */
			fake(0, OP_LOCK, RES_CONDLOCK, 0.9, 1, 0, 10, 0);
			fake(0, OP_COND_WAIT, RES_CONDLOCK, 2, 3.5,
			    PSYNC_TIMEDOUT, 12, 0);
			fake(0, OP_UNLOCK, RES_CONDLOCK, 4, 4.1, 0, 0, 0);
			fake_hold(1, OP_LOCK, RES_CONDLOCK, i == 12 ? 2.5 : 3.8,
			    i == 12 ? 3 : 4.5, 11);
			break;
		case 14:
			sh->restarting = true;
			hi.epochs = 1;
			hi.death[0] = 2;
			fake_hold(0, OP_LOCK, RES_L0, 1, 1.5, 100);
			fake_hold(1, OP_LOCK, RES_L0, 3, 4, 50);
			slot_log(1)[0].epoch = slot_log(1)[1].epoch = 1;
			break;
		case 15:
			fake_hold(0, OP_LOCK, RES_L0, 1, 1.5, 20);
			fake_hold(1, OP_LOCK, RES_L1, 2, 2.5, 10);
			break;
		case 16:
			fake(0, OP_PING, RES_NONE, 1, 1.1, PSYNC_OK, 0, 0);
			fake(0, OP_UNASKED, RES_NONE, 1.2, 1.2, PSYNC_OK, 0, 0);
			break;
		}
		if ((fake_check(&hi) > 0) != want) {
			fprintf(stderr, "chaos: selftest: %s: %s, should be %s\n",
			    cases[i].what, want ? "accepted" : "refused",
			    want ? "refused" : "accepted");
			failed++;
		}
	}
	printf("chaos: checker selftest: %d histories, %d passed, %d failed\n",
	    i, i - failed, failed);
	return (failed == 0 ? 0 : 1);
}

int
main(int argc, char **argv)
{
	struct history	 hi = { 0 };
	struct prober	 pr = { 0 };
	int		 live[MAX_CLIENTS], nclients, i, k, n, status, fd;
	int		 kills = 0, errors = 0, restarts = 0;
	double		 seconds, end, next_kill, next_stall_check;
	double		 next_restart;
	long		 last_progress[MAX_SLOTS] = { 0 };
	bool		 stall_seen[MAX_SLOTS] = { false };
	int64_t		 counter = 0;
	long long	 file_value;
	unsigned	 seed = 1;
	char		 dir[] = "/tmp/psync-chaos.XXXXXX", path[96];
	char		 state[96], cfile[96];
	pid_t		 daemon;
	psync_t		*h = NULL;

	if (argc == 2 && strcmp(argv[1], "--selftest") == 0) {
		sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		logs = mmap(NULL, (size_t)4 * MAX_OPS * sizeof(*logs),
		    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (sh == MAP_FAILED || logs == MAP_FAILED)
			return (2);
		return (selftest());
	}
	if (argc != 4 && argc != 5)
		return (2);
	seconds = atof(argv[2]);
	nclients = atoi(argv[3]);
	if (nclients < 2 || nclients > MAX_CLIENTS)
		return (2);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	/* Only the pages the logs use are ever touched. */
	logs = mmap(NULL, (size_t)MAX_SLOTS * MAX_OPS * sizeof(*logs),
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE,
	    -1, 0);
	if (sh == MAP_FAILED || logs == MAP_FAILED || mkdtemp(dir) == NULL)
		return (2);
	snprintf(path, sizeof(path), "%s/psyncd.sock", dir);
	snprintf(state, sizeof(state), "%s/tokens", dir);
	snprintf(cfile, sizeof(cfile), "%s/counter", dir);
	sock = path;
	counter_file = cfile;
	if ((fd = open(cfile, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == -1 ||
	    write(fd, "0\n", 2) != 2 || close(fd) == -1)
		return (2);
	sh->restarting = argc == 5 && strcmp(argv[4], "restart") == 0;
	daemon = start_daemon(argv[1], path, state);
	for (i = 0; i < 500 && (h = psync_connect(sock)) == NULL; i++)
		usleep(10000);	/* waiting for the daemon, bounded */
	if (h == NULL ||
	    psync_sem_open(h, "pool", POOL_UNITS, true, NULL) != PSYNC_OK ||
	    psync_barrier_open(h, "B", BARRIER_PARTIES) != PSYNC_OK)
		return (2);
	for (i = 0; i < nclients; i++)
		live[i] = spawn(seed++);
	end = now() + seconds;
	next_kill = now() + 0.5;
	next_stall_check = now() + 3;
	next_restart = now() + seconds / 22;
	pr.next = now() + 1;
	while (now() < end) {
		usleep(50000);	/* the chaos schedule's tick */
		if (sh->restarting && now() >= next_restart && restarts < 20) {
			/* kill -9 the daemon itself, and start it again. */
			next_restart = now() + seconds / 22;
			kill(daemon, SIGKILL);
			waitpid(daemon, &status, 0);
			hi.death[atomic_load(&sh->epoch)] = now();
			atomic_fetch_add(&sh->epoch, 1);
			daemon = start_daemon(argv[1], path, state);
			restarts++;
		}
		if (!sh->restarting && now() >= next_kill) {
			next_kill += 0.5;
			k = (int)(rand_r(&seed) % (unsigned)nclients);
			if (live[k] >= 0) {
				sh->slots[live[k]].t_killed = now();
				kill(sh->slots[live[k]].pid, SIGKILL);
				waitpid(sh->slots[live[k]].pid, &status, 0);
				kills++;
			}
			live[k] = spawn(seed++);
		}
		if (!sh->restarting)
			probe_tick(&pr, h);
		/*
		 * Every wait has a timeout under a second, so a client that
		 * got no reply for 3 s lost one.
		 */
		if (now() >= next_stall_check) {
			for (i = 0; i < nclients; i++) {
				long	p;

				if ((n = live[i]) < 0 ||
				    sh->slots[n].nops >= MAX_OPS)
					continue;
				p = atomic_load(&sh->slots[n].progress);
				if (p == last_progress[n] && stall_seen[n]) {
					fprintf(stderr, "chaos: client %d made "
					    "no progress in 3 s\n", n);
					errors++;
				}
				stall_seen[n] = true;
				last_progress[n] = p;
			}
			next_stall_check = now() + 3;
		}
	}
	atomic_store(&sh->stop, 1);
	hi.epochs = atomic_load(&sh->epoch);
	for (i = 0; i < nclients; i++) {
		if (live[i] < 0)
			continue;
		/* Waits are bounded: a client that does not stop is stuck. */
		for (k = 0; k < 400; k++) {
			if (waitpid(sh->slots[live[i]].pid, &status, WNOHANG) ==
			    sh->slots[live[i]].pid)
				break;
			usleep(10000);
		}
		if (k == 400) {
			fprintf(stderr, "chaos: client %d stuck: a lost reply\n",
			    live[i]);
			errors++;
			kill(sh->slots[live[i]].pid, SIGKILL);
			waitpid(sh->slots[live[i]].pid, &status, 0);
		} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "chaos: client %d failed (%d)\n",
			    live[i], status);
			errors++;
		}
	}
	errors += probe_check(&pr);
	errors += check_history(&hi);

	/* The counters: acknowledged adds, plus in-flight ones of the killed. */
	if (sh->restarting) {
		/*
		 * The daemon it knew is gone, and the last one may still be
		 * starting (its state file's fsync can take a while on a busy
		 * disk): connect again until it answers, 10 s at most.
		 */
		for (k = 0; k < 1000; k++) {
			if (psync_reconnect(h) == PSYNC_OK &&
			    psync_ping(h) == PSYNC_OK)
				break;
			usleep(10000);
		}
		hi.adds = hi.adds_last;	/* each daemon starts from 0 */
	}
	if (psync_counter_get(h, "hits", &counter) != PSYNC_OK ||
	    counter < hi.adds || counter > hi.adds + hi.adds_open) {
		fprintf(stderr, "chaos: counter %" PRId64 ", acknowledged "
		    "%ld (+%ld in flight)\n", counter, hi.adds, hi.adds_open);
		errors++;
	}
	file_value = read_file_counter();
	if (file_value < hi.file_adds - restarts ||
	    file_value > hi.file_adds + hi.file_open) {
		fprintf(stderr, "chaos: file counter %lld, acknowledged %ld "
		    "(+%ld in flight, -%d daemon deaths)\n", file_value,
		    hi.file_adds, hi.file_open, restarts);
		errors++;
	}
	printf("chaos: counter.add: %" PRId64 " for %ld acknowledged (+%ld in "
	    "flight)%s\n", counter, hi.adds, hi.adds_open, sh->restarting ?
	    " by the last daemon" : "");
	printf("chaos: file counter: %lld for %ld acknowledged (+%ld in "
	    "flight)\n", file_value, hi.file_adds, hi.file_open);
	errors += check_quiescence(h);
	psync_close(h);
	kill(daemon, SIGTERM);
	waitpid(daemon, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "chaos: psyncd exited with %d\n", status);
		errors++;
	}
	if (errors > 0) {
		/* Keep the evidence: the whole history, beside the counter. */
		snprintf(path, sizeof(path), "%s/history", dir);
		if (history_write(path) == 0)
			fprintf(stderr, "chaos: the history is in %s\n", path);
	} else {
		unlink(cfile);
		unlink(state);
		rmdir(dir);
	}
	printf("chaos: %d clients, %.0f s, %d killed, %d daemon restarts\n",
	    nclients, seconds, kills, restarts);
	printf("chaos: %d passed, %d failed\n", errors == 0 ? 1 : 0, errors);
	return (errors == 0 ? 0 : 1);
}
