/*
 * chaos.c -- make stress: many clients doing lock, rlock, rwlock,
 * semaphore, event and counter work against one psyncd while the parent
 * SIGKILLs one at random every half second and starts a replacement.
 * Every client logs what it did (CLOCK_MONOTONIC, system-wide) to shared
 * memory; afterwards a checker asserts:
 *
 *   - no two holds of one lock overlap: sorted by token, each grant of a
 *     lock came after the previous holder released it or was killed;
 *   - tokens strictly increase in each lock's grant order, all distinct;
 *   - the counter equals the acknowledged increments (plus at most one
 *     unacknowledged one per killed client);
 *   - every request got its reply: no client stalls (all waits have
 *     timeouts, so a stall is a lost reply);
 *   - at quiescence nothing is held, waited on, or left over.
 *
 * The restart variant kill -9s psyncd itself 20 times under the same
 * load (with a --state-file): clients see EOF and reconnect; within each
 * daemon's life the same checks hold, and every token it grants is above
 * every token of the daemons before it.
 *
 *   chaos PSYNCD SECONDS CLIENTS [restart]
 */
#include <sys/mman.h>
#include <sys/wait.h>

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
#define MAX_HOLDS	10000		/* per slot */
#define NLOCKS		4

struct hold_rec {
	int		epoch;		/* which daemon granted it */
	uint64_t	token;
	double		t_acq;		/* reply received */
	double		t_rel;		/* release sent; 0: killed holding */
	int		lock;
};

struct slot {
	pid_t		pid;
	double		t_killed;	/* 0 if it ended on its own */
	_Atomic long	progress;	/* requests answered */
	long		adds_acked;
	int		adding;		/* an add is in flight */
	int		nholds;
	struct hold_rec	holds[MAX_HOLDS];
};

struct shared {
	_Atomic int	nslots;
	_Atomic int	stop;
	_Atomic int	epoch;		/* daemon restarts so far */
	bool		restarting;	/* the daemon-restart variant */
	struct slot	slots[MAX_SLOTS];
};

static struct shared	*sh;
static const char	*sock;
static jmp_buf		 retry;		/* restart variant: start over */

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static void
fail(const char *what, int rc, psync_t *h)
{
	/* Restart variant: the daemon vanishing is the point. */
	if (sh->restarting && (rc == PSYNC_EIO ||
	    rc == PSYNC_ESHUTTING_DOWN || rc == PSYNC_ENOT_OWNER ||
	    rc == PSYNC_ENOT_FOUND))
		longjmp(retry, 1);
	fprintf(stderr, "chaos: %s: %s (%s)\n", what, psync_strerror(rc),
	    h != NULL ? psync_errmsg(h) : "");
	_exit(3);
}

/*
 * The daemon went away (restart variant): connect again, and learn which
 * daemon this is only once connected (a connection made to a daemon since
 * killed can grant nothing, so it cannot be misattributed).
 */
static void
reconnect(psync_t *h, volatile int *epoch)
{
	while (psync_reconnect(h) != PSYNC_OK) {
		if (atomic_load(&sh->stop))
			_exit(0);
		usleep(5000);	/* the daemon is restarting */
	}
	*epoch = atomic_load(&sh->epoch);
}

static void
client(struct slot *s, unsigned seed)
{
	psync_t		*h = psync_connect(sock);
	char		 name[16];
	struct hold_rec	*r;
	uint64_t	 token;
	uint32_t	 depth;
	int		 rc, k, i;
	volatile int	 epoch = atomic_load(&sh->epoch);	/* longjmp */

	if (h == NULL && !sh->restarting)
		_exit(2);
	if (h == NULL) {
		if ((h = psync_connect("/nonexistent")) == NULL)
			_exit(2);
	}
	(void)setjmp(retry);
	while (!atomic_load(&sh->stop) && s->nholds < MAX_HOLDS) {
		if (psync_fd(h) == -1) {
			if (!sh->restarting)
				_exit(4);
			reconnect(h, &epoch);
		}
		k = (int)(rand_r(&seed) % NLOCKS);
		switch (rand_r(&seed) % 6) {
		case 0:
		case 1:		/* a lock, held briefly */
			snprintf(name, sizeof(name), "L%d", k);
			rc = psync_lock_acquire(h, name, 0.5, &token);
			if (rc == PSYNC_TIMEDOUT || rc == PSYNC_EWOULD_DEADLOCK)
				break;
			if (rc != PSYNC_OK)
				fail("lock.acquire", rc, h);
			r = &s->holds[s->nholds];
			r->epoch = epoch;
			r->token = token;
			r->lock = k;
			r->t_acq = now();
			r->t_rel = 0;
			s->nholds++;
			for (i = rand_r(&seed) % 3; i > 0; i--)
				if ((rc = psync_ping(h)) != PSYNC_OK)
					fail("ping", rc, h);
			r->t_rel = now();
			if ((rc = psync_lock_release(h, name)) != PSYNC_OK)
				fail("lock.release", rc, h);
			break;
		case 2:		/* the shared counter */
			s->adding = 1;
			if ((rc = psync_counter_add(h, "hits", 1, NULL)) !=
			    PSYNC_OK)
				fail("counter.add", rc, h);
			s->adds_acked++;
			s->adding = 0;
			break;
		case 3:		/* a bounded semaphore of 3 */
			rc = psync_sem_acquire(h, "pool", 0.5, NULL);
			if (rc == PSYNC_ENOT_FOUND) {
				/* A restarted daemon forgot it. */
				psync_sem_open(h, "pool", 3, true, NULL);
				break;
			}
			if (rc == PSYNC_OK) {
				if ((rc = psync_sem_release(h, "pool", 1,
				    NULL)) != PSYNC_OK)
					fail("sem.release", rc, h);
			} else if (rc != PSYNC_TIMEDOUT)
				fail("sem.acquire", rc, h);
			break;
		case 4:		/* rlock twice, rwlock read */
			rc = psync_rlock_acquire(h, "R", 0.5, &depth, NULL);
			if (rc == PSYNC_OK) {
				rc = psync_rlock_acquire(h, "R", 0, &depth, NULL);
				if (rc != PSYNC_OK)
					fail("rlock re-entry", rc, h);
				if (depth != 2)
					fail("rlock depth", PSYNC_EPROTO, h);
				psync_rlock_release(h, "R", NULL);
				psync_rlock_release(h, "R", NULL);
			} else if (rc != PSYNC_TIMEDOUT &&
			    rc != PSYNC_EWOULD_DEADLOCK)
				fail("rlock", rc, h);
			rc = psync_rwlock_acquire(h, "W", rand_r(&seed) % 2 ?
			    PSYNC_READ : PSYNC_WRITE, 0.5, NULL);
			if (rc == PSYNC_OK)
				psync_rwlock_release(h, "W");
			else if (rc != PSYNC_TIMEDOUT &&
			    rc != PSYNC_EWOULD_DEADLOCK)
				fail("rwlock", rc, h);
			break;
		default:	/* events */
			snprintf(name, sizeof(name), "E%d", k);
			if (rand_r(&seed) % 2)
				rc = psync_event_set(h, name);
			else
				rc = psync_event_wait(h, name, 0.05);
			if (rc != PSYNC_OK && rc != PSYNC_TIMEDOUT)
				fail("event", rc, h);
			if (rand_r(&seed) % 3 == 0)
				psync_event_clear(h, name);
			break;
		}
		atomic_fetch_add(&s->progress, 1);
	}
	psync_close(h);
	_exit(0);
}

static int
spawn(unsigned seed)
{
	int	n = atomic_fetch_add(&sh->nslots, 1);
	pid_t	pid;

	if (n >= MAX_SLOTS)
		return (-1);
	if ((pid = fork()) == 0)
		client(&sh->slots[n], seed);
	sh->slots[n].pid = pid;
	return (n);
}

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

static int
cmp_hold(const void *a, const void *b)
{
	const struct hold_rec	*x = *(const struct hold_rec *const *)a;
	const struct hold_rec	*y = *(const struct hold_rec *const *)b;

	return (x->token < y->token ? -1 : x->token > y->token);
}

int
main(int argc, char **argv)
{
	struct hold_rec		**all;
	int			 live[MAX_CLIENTS], nclients, i, k, status;
	int			 kills = 0, n, errors = 0, nall;
	double			 seconds, end, next_kill;
	long			 acked = 0, last_progress[MAX_SLOTS];
	bool			 stall_seen[MAX_SLOTS] = { false };
	double			 next_stall_check;
	int64_t			 counter = 0;
	unsigned		 seed = 1;
	char			 dir[] = "/tmp/psync-chaos.XXXXXX", path[96];
	char			 state[96];
	double			 death[64], next_restart = 0;
	int			 restarts = 0, e;
	pid_t			 daemon;
	psync_t			*h;
	char			*json;
	json_t			*j;

	if (argc != 4 && argc != 5)
		return (2);
	seconds = atof(argv[2]);
	nclients = atoi(argv[3]);
	if (nclients < 2 || nclients > MAX_CLIENTS)
		return (2);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || mkdtemp(dir) == NULL)
		return (2);
	snprintf(path, sizeof(path), "%s/psyncd.sock", dir);
	sock = path;
	sh->restarting = argc == 5 && strcmp(argv[4], "restart") == 0;
	snprintf(state, sizeof(state), "%s/tokens", dir);
	daemon = start_daemon(argv[1], path, state);
	for (i = 0; i < 500 && (h = psync_connect(sock)) == NULL; i++)
		usleep(10000);	/* waiting for the daemon, bounded */
	if (h == NULL || psync_sem_open(h, "pool", 3, true, NULL) != PSYNC_OK)
		return (2);
	for (i = 0; i < nclients; i++)
		live[i] = spawn(seed++);
	memset(last_progress, 0, sizeof(last_progress));
	end = now() + seconds;
	next_kill = now() + 0.5;
	next_stall_check = now() + 3;
	next_restart = now() + seconds / 22;
	while (now() < end) {
		usleep(50000);	/* the chaos schedule's tick */
		if (sh->restarting && now() >= next_restart && restarts < 20) {
			/* kill -9 the daemon itself, and start it again. */
			next_restart = now() + seconds / 22;
			if (restarts > 0 || next_restart > 0) {
				kill(daemon, SIGKILL);
				waitpid(daemon, &status, 0);
				death[atomic_load(&sh->epoch)] = now();
				atomic_fetch_add(&sh->epoch, 1);
				daemon = start_daemon(argv[1], path, state);
				restarts++;
			}
		}
		if (!sh->restarting && now() >= next_kill) {
			next_kill += 0.5;
			k = (int)(rand_r(&seed) % (unsigned)nclients);
			if (live[k] >= 0) {
				kill(sh->slots[live[k]].pid, SIGKILL);
				sh->slots[live[k]].t_killed = now();
				waitpid(sh->slots[live[k]].pid, &status, 0);
				kills++;
			}
			live[k] = spawn(seed++);
		}
		/*
		 * Every wait has a timeout under a second, so a client that
		 * answered nothing for 3 s lost a reply.
		 */
		if (now() >= next_stall_check) {
			for (i = 0; i < nclients; i++) {
				long	p;

				if ((n = live[i]) < 0 ||
				    sh->slots[n].nholds >= MAX_HOLDS)
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

	/* Mutual exclusion and token order, lock by lock. */
	all = calloc((size_t)MAX_SLOTS * MAX_HOLDS, sizeof(*all));
	for (k = 0; k < NLOCKS; k++) {
		nall = 0;
		for (n = 0; n < atomic_load(&sh->nslots); n++)
			for (i = 0; i < sh->slots[n].nholds; i++)
				if (sh->slots[n].holds[i].lock == k) {
					all[nall] = &sh->slots[n].holds[i];
					/* Killed while holding: ends at the kill. */
					if (all[nall]->t_rel == 0)
						all[nall]->t_rel =
						    sh->slots[n].t_killed > 0 ?
						    sh->slots[n].t_killed : now();
					/* Its daemon's death ends it too. */
					e = all[nall]->epoch;
					if (e < atomic_load(&sh->epoch) &&
					    all[nall]->t_rel > death[e])
						all[nall]->t_rel = death[e];
					nall++;
				}
		qsort(all, (size_t)nall, sizeof(all[0]), cmp_hold);
		for (i = 1; i < nall; i++) {
			if (all[i]->token == all[i - 1]->token) {
				fprintf(stderr, "chaos: token %llu granted "
				    "twice\n", (unsigned long long)all[i]->token);
				errors++;
			}
			if (all[i]->epoch < all[i - 1]->epoch) {
				fprintf(stderr, "chaos: token %llu of daemon %d "
				    "is below token %llu of daemon %d\n",
				    (unsigned long long)all[i]->token,
				    all[i]->epoch,
				    (unsigned long long)all[i - 1]->token,
				    all[i - 1]->epoch);
				errors++;
			}
			if (all[i]->epoch == all[i - 1]->epoch &&
			    all[i]->t_acq < all[i - 1]->t_rel) {
				fprintf(stderr, "chaos: L%d: grant %llu at %.6f "
				    "before %llu ended at %.6f\n", k,
				    (unsigned long long)all[i]->token,
				    all[i]->t_acq,
				    (unsigned long long)all[i - 1]->token,
				    all[i - 1]->t_rel);
				errors++;
			}
		}
		printf("chaos: L%d: %d grants checked\n", k, nall);
	}
	free(all);

	/* The counter: acknowledged adds, plus in-flight ones of the killed. */
	n = 0;
	for (i = 0; i < atomic_load(&sh->nslots); i++) {
		acked += sh->slots[i].adds_acked;
		n += sh->slots[i].adding;
	}
	if (sh->restarting)
		(void)psync_reconnect(h);	/* the daemon it knew is gone */
	if (psync_counter_get(h, "hits", &counter) != PSYNC_OK ||
	    (!sh->restarting && (counter < acked || counter > acked + n))) {
		fprintf(stderr, "chaos: counter %lld, acknowledged %ld (+%d "
		    "in flight)\n", (long long)counter, acked, n);
		errors++;
	}
	/*
	 * Quiescence: once the daemon has seen every client go (within 2 s),
	 * nothing is held or waited on.
	 */
	for (k = 0; k < 200; k++) {
		size_t	 idx;
		json_t	*o;
		int	 busy = 0;

		if (psync_list(h, NULL, &json) != PSYNC_OK) {
			errors++;
			break;
		}
		j = json_loads(json, 0, NULL);
		json_array_foreach(json_object_get(j, "objects"), idx, o)
			busy += json_integer_value(json_object_get(o,
			    "holders")) > 0 || json_integer_value(
			    json_object_get(o, "waiters")) > 0;
		json_decref(j);
		if (busy == 0) {
			free(json);
			break;
		}
		if (k == 199) {
			fprintf(stderr, "chaos: still held 2 s after every "
			    "client left: %s\n", json);
			errors++;
		}
		free(json);
		usleep(10000);	/* polling for quiescence, bounded */
	}
	psync_close(h);
	kill(daemon, SIGTERM);
	waitpid(daemon, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "chaos: psyncd exited with %d\n", status);
		errors++;
	}
	rmdir(dir);
	printf("chaos: %d clients, %.0f s, %d killed, %d daemon restarts, %ld "
	    "adds acknowledged, counter %lld\n", nclients, seconds, kills,
	    restarts, acked, (long long)counter);
	printf("chaos: %d passed, %d failed\n", errors == 0 ? 1 : 0, errors);
	return (errors == 0 ? 0 : 1);
}
