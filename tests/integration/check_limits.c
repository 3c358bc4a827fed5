/*
 * check_limits.c -- resource limits: connections, output, descriptors.
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collide.h"
#include "harness.h"

static void
raise_nofile(rlim_t want)
{
	struct rlimit	rl;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max < want)
		want = rl.rlim_max;
	rl.rlim_cur = want;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

START_TEST(test_max_connections)
{
	struct daemon	 d;
	struct tc	*t[101], *extra;
	json_t		*r;
	double		 t0;
	int		 i;

	daemon_start(&d, "--max-connections", "100", NULL);
	for (i = 0; i < 100; i++) {
		t[i] = tc_open(d.sock);
		if (i == 0)
			tc_wait_connections(t[0], 1);
		r = tc_call(t[i], "{\"op\":\"ping\"}");
		ck_ok(r);
		json_decref(r);
	}
	/* The 101st gets one unasked limit line and is closed. */
	t[100] = tc_open(d.sock);
	r = tc_reply(t[100]);
	ck_err(r, "limit");
	ck_assert_ptr_null(json_object_get(r, "id"));
	json_decref(r);
	tc_expect_eof(t[100]);
	tc_close(t[100]);
	/* As soon as one closes, a new connection is served. */
	tc_close(t[0]);
	t0 = now_s();
	for (i = 0;; i++) {
		extra = tc_open(d.sock);
		/* Until the daemon sees t[0] go, it may refuse and close. */
		(void)send(extra->fd, "{\"op\":\"ping\"}\n", 14, MSG_NOSIGNAL);
		r = tc_recv(extra, 10, NULL);
		if (j_ok(r))
			break;
		json_decref(r);
		tc_close(extra);
		ck_assert_msg(i < 500, "no slot freed");
		tc_expect_silence(t[1], 0.01);
	}
	json_decref(r);
	printf("limits: --max-connections 100: 100 served, the 101st got "
	    "limit; after a close, a new one served within %.1f ms\n",
	    (now_s() - t0) * 1e3);
	tc_close(extra);
	for (i = 1; i < 100; i++)
		tc_close(t[i]);
	daemon_finish(&d);
}
END_TEST

START_TEST(test_output_cap_cuts_non_reader)
{
	struct daemon	 d;
	struct tc	*lazy, *waiter;
	char		*burst;
	const char	*ping = "{\"op\":\"ping\"}\n";
	size_t		 plen = strlen(ping), n = 1000000, i, off = 0;
	double		 deadline;
	json_t		*r;
	long		 rss0, grown;
	bool		 granted = false;

	/* The default --max-output, 1 MiB: about 80,000 replies. */
	daemon_start(&d, NULL);
	rss0 = rss_kib(d.pid);
	lazy = tc_open(d.sock);
	waiter = tc_open(d.sock);
	json_decref(tc_call(lazy, "{\"op\":\"lock.acquire\",\"name\":\"held\"}"));
	tc_send(waiter, "{\"op\":\"lock.acquire\",\"name\":\"held\",\"id\":1}");
	json_decref(tc_call(waiter, "{\"op\":\"ping\"}"));
	/* Pipeline up to 1,000,000 pings and never read the replies. */
	burst = malloc(n * plen);
	for (i = 0; i < n; i++)
		memcpy(burst + i * plen, ping, plen);
	ck_assert_int_eq(fcntl(lazy->fd, F_SETFL, O_NONBLOCK), 0);
	deadline = now_s() + 20 * test_slow();
	for (;;) {
		ssize_t w = send(lazy->fd, burst + off, n * plen - off,
		    MSG_NOSIGNAL);

		if (w > 0)
			off += (size_t)w;
		else if (w == -1 && errno != EAGAIN)
			break;		/* cut off: EPIPE or ECONNRESET */
		ck_assert_msg(off < n * plen, "1,000,000 pings taken in");
		r = tc_recv(waiter, 0.005, NULL);
		if (r != NULL) {
			granted = true;
			break;
		}
		ck_assert_msg(now_s() < deadline, "never cut off");
	}
	free(burst);
	/*
	 * The send can fail before the waiter's grant is read: the cut and
	 * the grant are one event for the daemon, two for this process.
	 */
	if (!granted)
		r = tc_recv(waiter, 10 * test_slow(), NULL);
	ck_assert_msg(r != NULL, "the waiter never got the lock");
	/* Its lock went to the waiter. */
	ck_assert_int_eq(j_int(r, "id"), 1);
	ck_assert(j_bool(r, "acquired"));
	json_decref(r);
	/* Memory stayed bounded by the cap, not by what was sent. */
	grown = rss_kib(d.pid) - rss0;
	printf("limits: a client that never reads: cut off after %zu of "
	    "%zu pings sent; RSS +%ld KiB\n", off / plen, n, grown);
	if (rss_meaningful())
		ck_assert_msg(grown <= 4096, "RSS grew %ld KiB", grown);
	r = tc_call(waiter, "{\"op\":\"stat\"}");
	ck_assert_int_le(j_int(r, "connections"), 2);
	json_decref(r);
	tc_close(lazy);
	tc_close(waiter);
	daemon_finish(&d);
}
END_TEST

START_TEST(test_ten_thousand_connections)
{
	struct daemon	 d;
	struct tc	**t;
	const int	 n = 10000;
	json_t		*r;
	int		 i;

	raise_nofile(n + 200);
	daemon_start(&d, "--max-connections", "10000", NULL);
	t = calloc(n, sizeof(*t));
	/* First let the daemon see the start-up probe's connection go. */
	t[0] = tc_open(d.sock);
	tc_wait_connections(t[0], 1);
	tc_send(t[0], "{\"op\":\"ping\"}");
	for (i = 1; i < n; i++) {
		t[i] = tc_open(d.sock);
		tc_send(t[i], "{\"op\":\"ping\"}");
	}
	for (i = 0; i < n; i++) {
		r = tc_reply(t[i]);
		ck_ok(r);
		json_decref(r);
	}
	r = tc_call(t[0], "{\"op\":\"stat\"}");
	ck_assert_int_eq(j_int(r, "connections"), n);
	json_decref(r);
	for (i = 0; i < n; i++)
		tc_close(t[i]);
	free(t);
	daemon_finish(&d);
}
END_TEST

/* The daemon's CPU seconds so far, from /proc. */
static double
cpu_of(pid_t pid)
{
	char		 path[64], buf[1024], *p;
	unsigned long	 ut, st;
	FILE		*f;
	size_t		 n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u "
	    "%*u %*u %lu %lu", &ut, &st), 2);
	return ((double)(ut + st) / (double)sysconf(_SC_CLK_TCK));
}

START_TEST(test_emfile_backoff)
{
	struct daemon	 d;
	struct tc	*t[200];
	json_t		*r;
	double		 cpu0, cpu1, t0;
	bool		 answered[200];
	int		 i, served = 0;

	if (getenv("PSYNC_TEST_WRAPPER") != NULL) {
		/* valgrind needs descriptors of its own below the limit */
		fprintf(stderr, "emfile_backoff: skipped under a wrapper\n");
		return;
	}
	setenv("PSYNC_TEST_NOFILE", "64", 1);
	daemon_start(&d, NULL);
	unsetenv("PSYNC_TEST_NOFILE");
	/* 200 connections against 64 descriptors. */
	for (i = 0; i < 200; i++) {
		t[i] = tc_open(d.sock);
		tc_send(t[i], "{\"op\":\"ping\"}");
	}
	for (i = 0; i < 200; i++) {
		r = tc_recv(t[i], i < 30 ? 5 : 0.01, NULL);
		answered[i] = r != NULL;
		served += answered[i];
		json_decref(r);
	}
	ck_assert_int_gt(served, 30);
	ck_assert_int_lt(served, 200);
	/* Out of descriptors, it must not spin: under 5 % of a CPU. */
	cpu0 = cpu_of(d.pid);
	tc_expect_silence(t[199], 1.0);
	cpu1 = cpu_of(d.pid);
	ck_assert_msg(cpu1 - cpu0 < 0.05, "daemon burned %.2f s of CPU in 1 s",
	    cpu1 - cpu0);
	/* Descriptors free up: the rest are served within a second. */
	for (i = 0; i < 200; i++) {
		if (answered[i]) {
			tc_close(t[i]);
			t[i] = NULL;
		}
	}
	t0 = now_s();
	for (i = 0; i < 200; i++) {
		if (t[i] == NULL)
			continue;
		r = tc_recv(t[i], 5, NULL);
		ck_assert_msg(r != NULL, "connection %d never served", i);
		ck_ok(r);
		json_decref(r);
		tc_close(t[i]);
		t[i] = NULL;
		/* Each batch of freed descriptors is picked up in time. */
		if (i % 40 == 39)
			ck_assert_msg(now_s() - t0 < test_bound(1.0) *
			    (1 + i / 40), "accepting resumed too late");
	}
	printf("limits: RLIMIT_NOFILE 64, 200 connects: %d served at once, "
	    "%.1f %% of a CPU while accepts failed, the other %d served "
	    "%.0f ms after descriptors freed\n", served, (cpu1 - cpu0) * 100,
	    200 - served, (now_s() - t0) * 1e3);
	daemon_finish(&d);
}
END_TEST

START_TEST(test_input_budget)
{
	enum { CONNS = 1000, PARTIAL = 65535, BUDGET = 4 << 20 };
	static const char STAT[] = "{\"op\":\"stat\"}";
	struct daemon	 d;
	static struct tc *t[CONNS];
	static bool	 refused[CONNS];
	struct tc	*other;
	char		*partial, budget[16];
	json_t		*r;
	int		 i, nrefused = 0, a_kept = -1;
	long long	 kept = 0, buffered = 0;
	long		 rss0, rss1;
	double		 t0;
	bool		 eof;

	/*
	 * 1,000 connections each send 64 KiB - 1 of an unfinished line
	 * against a 4 MiB --max-input-total: 64 such lines fit, and every
	 * connection that would take the total over gets limit and is closed.
	 */
	raise_nofile(CONNS + 200);
	snprintf(budget, sizeof(budget), "%d", BUDGET);
	daemon_start(&d, "--max-input-total", budget, NULL);
	partial = malloc(PARTIAL);
	memset(partial, ' ', PARTIAL);
	partial[0] = '{';
	other = tc_open(d.sock);
	rss0 = rss_kib(d.pid);
	for (i = 0; i < CONNS; i++) {
		t[i] = tc_open(d.sock);
		/* The daemon may refuse and close it while the send goes on. */
		tc_send_until_closed(t[i], partial, PARTIAL);
	}
	/*
	 * Settled once every connection is either refused or kept with all
	 * its bytes read: the daemon then holds PARTIAL for each one kept.
	 */
	t0 = now_s();
	for (;;) {
		for (i = 0; i < CONNS; i++) {
			if (refused[i] || (r = tc_recv(t[i], 0, &eof)) == NULL)
				continue;
			ck_err(r, "limit");
			json_decref(r);
			tc_expect_eof(t[i]);
			refused[i] = true;
			nrefused++;
		}
		r = tc_call(other, STAT);
		kept = j_int(r, "connections") - 1;
		/* It counts the stat request's own line too. */
		buffered = j_int(r, "input_buffered") -
		    (long long)strlen(STAT) - 1;
		json_decref(r);
		if (kept + nrefused == CONNS && buffered == kept * PARTIAL)
			break;
		ck_assert_msg(now_s() - t0 < 20 * test_slow(), "not settled: "
		    "%lld kept, %d refused, %lld bytes", kept, nrefused,
		    buffered);
		tc_expect_silence(other, 0.01);
	}
	rss1 = rss_kib(d.pid);
	printf("limits: %d connections x %d bytes against a %d MiB input "
	    "budget: %lld kept (%lld bytes), %d refused; RSS +%ld KiB\n",
	    CONNS, PARTIAL, BUDGET >> 20, kept, buffered, nrefused,
	    rss1 - rss0);
	ck_assert_int_le(buffered, BUDGET);
	ck_assert_int_ge(kept, BUDGET / PARTIAL - 4);
	/*
	 * Memory follows the budget, not the 64 MB offered: 9 to 18 MiB
	 * here (libevent's buffer chains are powers of two, the reads of
	 * connections refused later fragment the heap, and each connection
	 * has a fixed cost of about 5 KiB), where holding the offered bytes
	 * would take over 80 MiB.  Asserted: under half of those bytes.
	 */
	if (rss_meaningful())
		ck_assert_int_lt(rss1 - rss0, (long)CONNS * PARTIAL / 1024 / 2);
	/* The kept ones are fine: finishing a line still works. */
	for (i = 0; i < CONNS && a_kept == -1; i++)
		if (!refused[i])
			a_kept = i;
	tc_send_raw(t[a_kept], "}\n", 2);
	r = tc_reply(t[a_kept]);
	ck_err(r, "bad_request");	/* '{' + spaces + '}' has no op */
	json_decref(r);
	r = tc_call(other, "{\"op\":\"ping\"}");
	ck_ok(r);
	json_decref(r);
	for (i = 0; i < CONNS; i++)
		tc_close(t[i]);
	tc_close(other);
	free(partial);
	daemon_finish(&d);
}
END_TEST

/*
 * Poll stat on o until the daemon has no objects left, within secs on an
 * idle machine (test_bound).
 */
static void
wait_no_objects(struct tc *o, double secs)
{
	double	t0 = now_s();
	int	left;
	json_t	*r;

	for (;;) {
		r = tc_call(o, "{\"op\":\"stat\"}");
		left = (int)j_int(r, "objects");
		json_decref(r);
		if (left == 0)
			return;
		ck_assert_msg(now_s() - t0 < test_bound(secs), "%d left",
		    left);
		tc_expect_silence(o, 0.01);
	}
}

START_TEST(test_million_locks_one_connection)
{
	struct daemon	 d;
	struct tc	*t, *o;
	json_t		*r;
	char		 line[96];
	int		 i, n;
	double		 t0;

	/* N objects allowed: N held by one connection, the next refused.
	 * A million natively; fewer under valgrind, for time. */
	n = getenv("PSYNC_TEST_WRAPPER") != NULL ? 100000 : 1000000;
	snprintf(line, sizeof(line), "%d", n);
	daemon_start(&d, "--max-objects", line, NULL);
	t = tc_open(d.sock);
	for (i = 0; i < n; i++) {
		snprintf(line, sizeof(line), "{\"op\":\"lock.acquire\","
		    "\"name\":\"m%d\"}\n", i);
		tc_send_raw(t, line, strlen(line));
		if (i % 64 == 63 || i == n - 1) {
			int k;

			for (k = i - (i % 64); k <= i; k++) {
				r = tc_reply(t);
				ck_assert(j_bool(r, "acquired"));
				json_decref(r);
			}
		}
	}
	o = tc_open(d.sock);
	r = tc_call(o, "{\"op\":\"lock.acquire\",\"name\":\"one-more\"}");
	ck_err(r, "limit");
	json_decref(r);
	/* All gone within 2 s of its close (on an idle machine). */
	tc_close(t);
	t0 = now_s();
	wait_no_objects(o, 2);
	printf("limits: %d locks held by one connection, the next got limit; "
	    "all gone %.0f ms after its close\n", n, (now_s() - t0) * 1e3);
	r = tc_call(o, "{\"op\":\"lock.acquire\",\"name\":\"one-more\"}");
	ck_assert(j_bool(r, "acquired"));
	json_decref(r);
	tc_close(o);
	daemon_finish(&d);
}
END_TEST

/*
 * Take a lock on each of n names, 64 requests per write, on a fresh
 * connection; returns the CPU seconds the daemon spent on it (wall time
 * would measure the machine's load as much).  Closing it frees them all.
 */
static double
lock_names(pid_t daemon, const char *sock, const char *names, size_t n)
{
	struct tc	*t = tc_open(sock);
	char		 batch[64 * (COLLIDE_NAME_SIZE + 40)];
	size_t		 i, k, len = 0;
	double		 t0 = cpu_of(daemon), dt;
	json_t		*r;

	for (i = 0; i < n; i++) {
		len += (size_t)snprintf(batch + len, sizeof(batch) - len,
		    "{\"op\":\"lock.acquire\",\"name\":\"%s\"}\n",
		    names + i * COLLIDE_NAME_SIZE);
		if (i % 64 != 63 && i != n - 1)
			continue;
		tc_send_raw(t, batch, len);
		len = 0;
		for (k = i - (i % 64); k <= i; k++) {
			r = tc_reply(t);
			ck_assert_msg(j_bool(r, "acquired"), "%s", j_dump(r));
			json_decref(r);
		}
	}
	dt = cpu_of(daemon) - t0;
	tc_close(t);
	return (dt);
}

START_TEST(test_crafted_collisions_throughput)
{
	struct daemon	 d;
	struct tc	*o;
	char		*crafted, *random;
	size_t		 n;
	double		 best[2] = { 1e9, 1e9 }, dt;
	int		 round, rounds;

	/*
	 * 104,976 names with one hash under uthash's stock hash (a chain
	 * that long makes every lookup a walk of it), against random names
	 * of the same length: taking all of them costs the same, within 2x.
	 * Under valgrind, fewer, for time.
	 */
	ck_assert_ptr_nonnull(crafted = collide_names(&n));
	rounds = 4;
	if (getenv("PSYNC_TEST_WRAPPER") != NULL) {
		n = 20000;
		rounds = 2;
	}
	ck_assert_ptr_nonnull(random = collide_random_names(n, 7));
	daemon_start(&d, NULL);
	o = tc_open(d.sock);
	for (round = 0; round < rounds; round++) {
		dt = lock_names(d.pid, d.sock, round % 2 ? random : crafted, n);
		if (dt < best[round % 2])
			best[round % 2] = dt;
		wait_no_objects(o, 10);
	}
	printf("limits: %zu names crafted to collide: %.0f ms of the daemon's "
	    "CPU, random names: %.0f ms, ratio %.2f (bound 2)\n", n, best[0] * 1e3, best[1] * 1e3,
	    best[0] / best[1]);
	ck_assert_double_lt(best[0], 2 * best[1]);
	tc_close(o);
	daemon_finish(&d);
	free(crafted);
	free(random);
}
END_TEST

Suite *
limits_suite(void)
{
	Suite	*s = suite_create("limits");

	ADD_TEST(s, test_max_connections, 30);
	ADD_TEST(s, test_output_cap_cuts_non_reader, 60);
	ADD_TEST(s, test_ten_thousand_connections, 120);
	ADD_TEST(s, test_emfile_backoff, 30);
	ADD_TEST(s, test_input_budget, 60);
	ADD_TEST(s, test_million_locks_one_connection, 120);
	ADD_TEST(s, test_crafted_collisions_throughput, 120);
	return (s);
}
