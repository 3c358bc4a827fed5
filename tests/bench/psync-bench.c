/*
 * psync-bench.c -- the load generator of make bench.
 *
 * Drives one target with N forked clients through its real client
 * library (libpsync-client for psync, hiredis for Redis, plain syscalls
 * for flock and the echo floor), after a warm-up, for a fixed number of
 * ops per client, several repetitions.  Prints one JSON line:
 *
 *   {"target":..., "scenario":..., "clients":N, "ops":..., "reps":[...ops/s],
 *    "median":..., "min":..., "max":..., "p50_us":..., "p99_us":...}
 *
 * Latencies are per-op CLOCK_MONOTONIC stamps gathered in shared memory.
 *
 *   psync-bench TARGET SCENARIO CLIENTS OPS REPS SOCKET
 *   TARGET: psync echo redis flock
 *   SCENARIO: pair contended handoff barrier event pipeline counter
 *   and, as helpers for the scale rows: fill N (hold N locks), idle N
 *   (hold N idle connections); both wait for SIGTERM.
 */
#include <sys/mman.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "psync.h"

#define MAX_CLIENTS	64
#define EVENT_WAITERS	16

struct shared {
	_Atomic int	ready;
	_Atomic int	go;
	_Atomic int	woken;		/* event scenario */
	double		t0;		/* handoff / event: release time */
	double		wake[EVENT_WAITERS];
	size_t		nlat;
	double		lat[];		/* per-op latencies, seconds */
};

static const char	*target, *scenario, *sock;
static int		 nclients;
static long		 nops;
static struct shared	*sh;

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static void
die(const char *what)
{
	fprintf(stderr, "psync-bench: %s: %s\n", what, strerror(errno));
	_exit(1);
}

static void
check(int rc, psync_t *h, const char *what)
{
	if (rc != PSYNC_OK) {
		fprintf(stderr, "psync-bench: %s: %s (%s)\n", what,
		    psync_strerror(rc), psync_errmsg(h));
		_exit(1);
	}
}

static psync_t *
ps_open(void)
{
	psync_t	*h = psync_connect(sock);

	if (h == NULL)
		die("psync_connect");
	return (h);
}

static redisContext *
rd_open(void)
{
	redisContext	*r = redisConnectUnix(sock);

	if (r == NULL || r->err) {
		fprintf(stderr, "psync-bench: redis: %s\n",
		    r != NULL ? r->errstr : "no context");
		_exit(1);
	}
	return (r);
}

static void
rd_cmd(redisContext *r, const char *fmt, const char *arg)
{
	redisReply	*rep = redisCommand(r, fmt, arg);

	if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
		fprintf(stderr, "psync-bench: redis: %s\n", rep != NULL ?
		    rep->str : r->errstr);
		_exit(1);
	}
	freeReplyObject(rep);
}

/* A raw JSON-lines connection for the echo floor. */
struct raw {
	int	fd;
	char	buf[4096];
	size_t	len;
};

static struct raw *
raw_open(void)
{
	struct sockaddr_un	 sun;
	struct raw		*c = calloc(1, sizeof(*c));

	c->fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		die("connect");
	return (c);
}

static void
raw_send(struct raw *c, const char *line, size_t len)
{
	if (send(c->fd, line, len, MSG_NOSIGNAL) != (ssize_t)len)
		die("send");
}

static void
raw_recv(struct raw *c)
{
	char	*nl;
	ssize_t	 n;

	while ((nl = memchr(c->buf, '\n', c->len)) == NULL) {
		if ((n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len,
		    0)) <= 0)
			die("recv");
		c->len += (size_t)n;
	}
	c->len -= (size_t)(nl + 1 - c->buf);
	memmove(c->buf, nl + 1, c->len);
}

static void
raw_ping(struct raw *c)
{
	static const char	ping[] = "{\"op\":\"ping\",\"id\":1}\n";

	raw_send(c, ping, sizeof(ping) - 1);
	raw_recv(c);
}

static void
record(long i, int client, double lat)
{
	size_t	slot = (size_t)client * (size_t)nops + (size_t)i;

	if (i >= 0 && slot < sh->nlat)
		sh->lat[slot] = lat;
}

/* Wait for the parent's go, after saying we are warmed up. */
static void
ready_then_go(void)
{
	atomic_fetch_add(&sh->ready, 1);
	while (!atomic_load(&sh->go))
		sched_yield();
}

/* ---- one client's work; i < 0 is warm-up ---- */

static void
client_pair(int id)
{
	char		 name[32];
	long		 i, warm = nops / 10;
	double		 t;
	psync_t		*h = NULL;
	redisContext	*r = NULL;
	struct raw	*e = NULL;
	int		 fd = -1;

	snprintf(name, sizeof(name), "bench.%s.%d", scenario, id);
	if (strcmp(scenario, "contended") == 0)
		snprintf(name, sizeof(name), "bench.contended");
	if (strcmp(target, "psync") == 0)
		h = ps_open();
	else if (strcmp(target, "redis") == 0)
		r = rd_open();
	else if (strcmp(target, "echo") == 0)
		e = raw_open();
	else {
		char path[128];

		snprintf(path, sizeof(path), "%s.%s", sock, name);
		if ((fd = open(path, O_RDWR | O_CREAT, 0600)) == -1)
			die(path);
	}
	for (i = -warm; i < nops; i++) {
		if (i == 0)
			ready_then_go();
		t = now();
		if (h != NULL) {
			check(psync_lock_acquire(h, name, PSYNC_FOREVER, NULL),
			    h, "lock.acquire");
			if (strcmp(scenario, "contended") == 0)
				record(i, id, now() - t);
			check(psync_lock_release(h, name), h, "lock.release");
		} else if (r != NULL) {
			rd_cmd(r, "SET %s 1 NX PX 30000", name);
			rd_cmd(r, "DEL %s", name);
		} else if (e != NULL) {
			raw_ping(e);		/* a pair is two requests */
			raw_ping(e);
		} else {
			if (flock(fd, LOCK_EX) == -1)
				die("flock");
			if (strcmp(scenario, "contended") == 0)
				record(i, id, now() - t);
			if (flock(fd, LOCK_UN) == -1)
				die("flock");
		}
		if (strcmp(scenario, "contended") != 0)
			record(i, id, now() - t);
	}
	psync_close(h);
	if (r != NULL)
		redisFree(r);
}

static void
client_handoff(int id)
{
	psync_t	*h = ps_open();
	long	 i;

	/* Client 0 takes it first; then each release hands it over. */
	if (id == 0)
		check(psync_lock_acquire(h, "bench.handoff", PSYNC_FOREVER,
		    NULL), h, "acquire");
	ready_then_go();
	for (i = 0; i < nops; i++) {
		if (id == 0 || i > 0) {
			sh->t0 = now();
			check(psync_lock_release(h, "bench.handoff"), h,
			    "release");
		}
		check(psync_lock_acquire(h, "bench.handoff", PSYNC_FOREVER,
		    NULL), h, "acquire");
		record(i, id, now() - sh->t0);
	}
	psync_lock_release(h, "bench.handoff");
	psync_close(h);
}

static void
client_barrier(int id)
{
	psync_t	*h = ps_open();
	long	 i;

	(void)id;
	check(psync_barrier_open(h, "bench.barrier", (unsigned)nclients), h,
	    "barrier");
	ready_then_go();
	for (i = 0; i < nops; i++)
		check(psync_barrier_wait(h, "bench.barrier", PSYNC_FOREVER,
		    NULL), h, "barrier.wait");
	psync_close(h);
}

/* Client 0 sets; the others wait; latency until the last one woke. */
static void
client_event(int id)
{
	psync_t		*h = ps_open();
	char		 name[32], req[96], *reply;
	uint64_t	 rid;
	int64_t		 n;
	long		 i;
	int		 k;
	double		 last;

	ready_then_go();
	for (i = 0; i < nops; i++) {
		snprintf(name, sizeof(name), "bench.ev.%ld", i);
		if (id != 0) {
			snprintf(req, sizeof(req), "{\"op\":\"event.wait\","
			    "\"name\":\"%s\"}", name);
			check(psync_send(h, req, &rid), h, "send");
			/* In order: once this returns, the wait is queued. */
			check(psync_counter_add(h, "bench.ev.ready", 1, NULL),
			    h, "ready");
			check(psync_recv(h, PSYNC_FOREVER, &reply, &rid), h,
			    "recv");
			sh->wake[id - 1] = now();
			free(reply);
			atomic_fetch_add(&sh->woken, 1);
			while (atomic_load(&sh->woken) != 0)
				sched_yield();	/* next round */
			continue;
		}
		do {
			check(psync_counter_get(h, "bench.ev.ready", &n), h,
			    "get");
		} while (n < (int64_t)(i + 1) * (nclients - 1));
		sh->t0 = now();
		check(psync_event_set(h, name), h, "set");
		while (atomic_load(&sh->woken) < nclients - 1)
			sched_yield();
		last = 0;
		for (k = 0; k < nclients - 1; k++)
			if (sh->wake[k] > last)
				last = sh->wake[k];
		record(i, 0, last - sh->t0);
		check(psync_event_clear(h, name), h, "clear");
		atomic_store(&sh->woken, 0);
	}
	if (id == 0)
		psync_counter_set(h, "bench.ev.ready", 0);
	psync_close(h);
}

/* One client keeps 64 requests in flight. */
static void
client_pipeline(int id)
{
	static const char	add[] = "{\"op\":\"counter.add\","
				    "\"name\":\"bench.pipe\",\"delta\":1}";
	long			sent = 0, got = 0, total = nops;
	const int		depth = 64;
	(void)id;

	if (strcmp(target, "redis") == 0) {
		redisContext	*r = rd_open();
		redisReply	*rep;

		ready_then_go();
		while (got < total) {
			while (sent < total && sent - got < depth) {
				redisAppendCommand(r, "INCR bench.pipe");
				sent++;
			}
			if (redisGetReply(r, (void **)&rep) != REDIS_OK)
				die("redis pipeline");
			freeReplyObject(rep);
			got++;
		}
		redisFree(r);
		return;
	}
	if (strcmp(target, "echo") == 0) {
		struct raw	*e = raw_open();
		char		 line[96];
		int		 n;

		n = snprintf(line, sizeof(line), "%s\n", add);
		ready_then_go();
		while (got < total) {
			while (sent < total && sent - got < depth) {
				raw_send(e, line, (size_t)n);
				sent++;
			}
			raw_recv(e);
			got++;
		}
		return;
	}
	{
		psync_t		*h = ps_open();
		char		*reply;
		uint64_t	 rid;

		ready_then_go();
		while (got < total) {
			while (sent < total && sent - got < depth) {
				check(psync_send(h, add, &rid), h, "send");
				sent++;
			}
			check(psync_recv(h, PSYNC_FOREVER, &reply, &rid), h,
			    "recv");
			free(reply);
			got++;
		}
		psync_close(h);
	}
}

static void
client_counter(int id)
{
	long		 i;
	double		 t;

	if (strcmp(target, "redis") == 0) {
		redisContext	*r = rd_open();

		ready_then_go();
		for (i = 0; i < nops; i++) {
			t = now();
			rd_cmd(r, "INCR %s", "bench.hits");
			record(i, id, now() - t);
		}
		redisFree(r);
		return;
	}
	{
		psync_t	*h = ps_open();

		ready_then_go();
		for (i = 0; i < nops; i++) {
			t = now();
			check(psync_counter_add(h, "bench.hits", 1, NULL), h,
			    "counter.add");
			record(i, id, now() - t);
		}
		psync_close(h);
	}
}

/* ---- helpers for the scale and memory rows ---- */

static void
on_term(int sig)
{
	(void)sig;
	_exit(0);
}

/* Hold n locks on one connection (pipelined), say "ready", wait. */
static void
helper_fill(long n)
{
	psync_t		*h = ps_open();
	char		 req[96], *reply;
	uint64_t	 rid;
	long		 sent = 0, got = 0;

	signal(SIGTERM, on_term);
	while (got < n) {
		while (sent < n && sent - got < 256) {
			snprintf(req, sizeof(req), "{\"op\":\"lock.acquire\","
			    "\"name\":\"fill.%ld\"}", sent);
			check(psync_send(h, req, &rid), h, "send");
			sent++;
		}
		check(psync_recv(h, PSYNC_FOREVER, &reply, &rid), h, "recv");
		free(reply);
		got++;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}

/* Redis: n keys as held locks (SET NX PX), pipelined. */
static void
helper_redis_fill(long n)
{
	redisContext	*r = rd_open();
	redisReply	*rep;
	long		 sent = 0, got = 0;
	char		 key[32];

	while (got < n) {
		while (sent < n && sent - got < 256) {
			snprintf(key, sizeof(key), "fill.%ld", sent++);
			redisAppendCommand(r, "SET %s 1 NX PX 3600000", key);
		}
		if (redisGetReply(r, (void **)&rep) != REDIS_OK)
			die("redis fill");
		freeReplyObject(rep);
		got++;
	}
	redisFree(r);
	printf("ready\n");
}

/* Hold n idle connections, say "ready", wait. */
static void
helper_idle(long n)
{
	struct rlimit	rl;
	long		i;

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	signal(SIGTERM, on_term);
	for (i = 0; i < n; i++)
		(void)raw_open();
	/* The last one answers only once all before it were accepted. */
	raw_ping(raw_open());
	printf("ready\n");
	fflush(stdout);
	for (;;)
		pause();
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return (x < y ? -1 : x > y);
}

static double
percentile(double *v, size_t n, double p)
{
	if (n == 0)
		return (0);
	return (v[(size_t)(p * (double)(n - 1))]);
}

/* One repetition: fork the clients, time them; ops/s. */
static double
run_rep(void (*fn)(int), double *p50, double *p99)
{
	pid_t	pids[MAX_CLIENTS];
	double	t0, t1, *lat;
	size_t	n = 0, i;
	int	c, status;
	long	units;

	atomic_store(&sh->ready, 0);
	atomic_store(&sh->go, 0);
	atomic_store(&sh->woken, 0);
	for (i = 0; i < sh->nlat; i++)
		sh->lat[i] = -1;
	for (c = 0; c < nclients; c++) {
		if ((pids[c] = fork()) == 0) {
			fn(c);
			_exit(0);
		}
	}
	/* A client that dies before it is ready must not hang the bench. */
	while (atomic_load(&sh->ready) < nclients) {
		if (waitpid(-1, &status, WNOHANG) > 0) {
			fprintf(stderr, "psync-bench: a client failed early\n");
			exit(1);
		}
		sched_yield();
	}
	t0 = now();
	atomic_store(&sh->go, 1);
	for (c = 0; c < nclients; c++) {
		if (waitpid(pids[c], &status, 0) == -1 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0) {
			fprintf(stderr, "psync-bench: a client failed\n");
			exit(1);
		}
	}
	t1 = now();
	lat = malloc(sh->nlat * sizeof(*lat));
	for (i = 0; i < sh->nlat; i++)
		if (sh->lat[i] >= 0)
			lat[n++] = sh->lat[i];
	qsort(lat, n, sizeof(*lat), cmp_double);
	*p50 = percentile(lat, n, 0.50) * 1e6;
	*p99 = percentile(lat, n, 0.99) * 1e6;
	free(lat);
	/* Barrier and event count rounds; the others every client's ops. */
	units = (strcmp(scenario, "barrier") == 0 ||
	    strcmp(scenario, "event") == 0 || strcmp(scenario, "pipeline") == 0 ||
	    strcmp(scenario, "handoff") == 0) ? nops : nops * nclients;
	return ((double)units / (t1 - t0));
}

int
main(int argc, char **argv)
{
	void	(*fn)(int);
	double	 reps[32], p50s[32], p99s[32], sorted[32];
	int	 r, nreps;

	if (argc == 4 && strcmp(argv[1], "fill") == 0) {
		sock = argv[3];
		helper_fill(atol(argv[2]));
	}
	if (argc == 4 && strcmp(argv[1], "redis-fill") == 0) {
		sock = argv[3];
		helper_redis_fill(atol(argv[2]));
		return (0);
	}
	if (argc == 4 && strcmp(argv[1], "idle") == 0) {
		sock = argv[3];
		helper_idle(atol(argv[2]));
	}
	if (argc != 7) {
		fprintf(stderr, "usage: psync-bench TARGET SCENARIO CLIENTS "
		    "OPS REPS SOCKET\n");
		return (2);
	}
	target = argv[1];
	scenario = argv[2];
	nclients = atoi(argv[3]);
	nops = atol(argv[4]);
	nreps = atoi(argv[5]);
	sock = argv[6];
	if (nclients < 1 || nclients > MAX_CLIENTS || nops < 1 || nreps < 1 ||
	    nreps > 32)
		return (2);
	if (strcmp(scenario, "pair") == 0 || strcmp(scenario, "contended") == 0)
		fn = client_pair;
	else if (strcmp(scenario, "handoff") == 0)
		fn = client_handoff;
	else if (strcmp(scenario, "barrier") == 0)
		fn = client_barrier;
	else if (strcmp(scenario, "event") == 0)
		fn = client_event;
	else if (strcmp(scenario, "pipeline") == 0)
		fn = client_pipeline;
	else if (strcmp(scenario, "counter") == 0)
		fn = client_counter;
	else
		return (2);
	sh = mmap(NULL, sizeof(*sh) + sizeof(double) * (size_t)nclients *
	    (size_t)nops, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	if (sh == MAP_FAILED)
		die("mmap");
	sh->nlat = (size_t)nclients * (size_t)nops;
	for (r = 0; r < nreps; r++)
		reps[r] = run_rep(fn, &p50s[r], &p99s[r]);
	memcpy(sorted, reps, sizeof(double) * (size_t)nreps);
	qsort(sorted, (size_t)nreps, sizeof(double), cmp_double);
	qsort(p50s, (size_t)nreps, sizeof(double), cmp_double);
	qsort(p99s, (size_t)nreps, sizeof(double), cmp_double);
	printf("{\"target\":\"%s\",\"scenario\":\"%s\",\"clients\":%d,"
	    "\"ops\":%ld,\"reps\":[", target, scenario, nclients, nops);
	for (r = 0; r < nreps; r++)
		printf("%s%.1f", r ? "," : "", reps[r]);
	printf("],\"median\":%.1f,\"min\":%.1f,\"max\":%.1f,\"p50_us\":%.1f,"
	    "\"p99_us\":%.1f}\n", sorted[nreps / 2], sorted[0],
	    sorted[nreps - 1], p50s[nreps / 2], p99s[nreps / 2]);
	return (0);
}
