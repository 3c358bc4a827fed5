/*
 * check_prims.c -- every primitive between real processes over real
 * sockets: the seed's barrier, the shared counter, semaphores and
 * barriers whose holders are killed, a condition-variable queue, and a
 * reader-writer interval check.
 */
#include <sys/wait.h>

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* Fork a child running fn(sock, arg, out_fd) and exiting 0 on success. */
static pid_t
spawn(void (*fn)(const char *, int, int), const char *sock, int arg,
    int *out_fd)
{
	int	p[2];
	pid_t	pid;

	ck_assert_int_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {
		close(p[0]);
		fn(sock, arg, p[1]);
		_exit(0);
	}
	ck_assert_int_gt(pid, 0);
	close(p[1]);
	if (out_fd != NULL)
		*out_fd = p[0];
	else
		close(p[0]);
	return (pid);
}

static void
reap_ok(pid_t pid)
{
	int	status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "child %ld failed: status %d", (long)pid, status);
}

static void
put_line(int fd, const char *fmt, ...)
{
	char	buf[256];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (write(fd, buf, (size_t)n) != n)
		_exit(9);
}

/* Read everything a child wrote to fd (caller frees). */
static char *
slurp(int fd)
{
	size_t	 cap = 4096, len = 0;
	char	*buf = malloc(cap);
	ssize_t	 n;

	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (cap - len < 2)
			buf = realloc(buf, cap *= 2);
	}
	buf[len] = '\0';
	close(fd);
	return (buf);
}

/* ---- the seed's barrier: 2 processes through it, 2 without ---- */

static void
seed_with_barrier(const char *sock, int go_fd, int out)
{
	struct tc	*t = tc_open(sock);
	json_t		*r;
	char		 c;

	/* The second party waits for the test's word before arriving. */
	if (go_fd >= 0 && read(go_fd, &c, 1) != 1)
		_exit(2);
	put_line(out, "arrive %.6f\n", now_s());
	r = tc_call(t, "{\"op\":\"barrier.wait\",\"name\":\"synchronizer\","
	    "\"parties\":2}");
	if (!j_ok(r))
		_exit(3);
	json_decref(r);
	put_line(out, "leave %.6f\n", now_s());
	/* with serializer: print under the lock */
	json_decref(tc_call(t, "{\"op\":\"lock.acquire\",\"name\":\"serializer\"}"));
	put_line(out, "print %.6f\n", now_s());
	json_decref(tc_call(t, "{\"op\":\"lock.release\",\"name\":\"serializer\"}"));
	tc_close(t);
}

static void
seed_without_barrier(const char *sock, int arg, int out)
{
	(void)sock;
	(void)arg;
	put_line(out, "print %.6f\n", now_s());
}

START_TEST(test_seed_barrier_example)
{
	struct daemon	 d;
	struct tc	*t;
	pid_t		 p1, p2, p3, p4;
	int		 o1, o2, o3, o4, go[2];
	char		*s1, *s2, *s3, *s4;
	double		 a2, l1, l2, pr3, pr4;
	json_t		*r;

	daemon_start(&d, NULL);
	ck_assert_int_eq(pipe(go), 0);
	p1 = spawn(seed_with_barrier, d.sock, -1, &o1);
	p2 = spawn(seed_with_barrier, d.sock, go[0], &o2);
	close(go[0]);
	p3 = spawn(seed_without_barrier, d.sock, 0, &o3);
	p4 = spawn(seed_without_barrier, d.sock, 0, &o4);
	/* The processes without the barrier finish while p1 is held. */
	reap_ok(p3);
	reap_ok(p4);
	t = tc_open(d.sock);
	for (;;) {
		r = tc_call(t, "{\"op\":\"barrier.info\",\"name\":\"synchronizer\"}");
		if (j_ok(r) && j_int(r, "n_waiting") == 1)
			break;
		json_decref(r);
		tc_expect_silence(t, 0.005);
	}
	json_decref(r);
	ck_assert_int_eq(write(go[1], "g", 1), 1);
	close(go[1]);
	reap_ok(p1);
	reap_ok(p2);
	s1 = slurp(o1);
	s2 = slurp(o2);
	s3 = slurp(o3);
	s4 = slurp(o4);
	ck_assert_int_eq(sscanf(strstr(s1, "leave"), "leave %lf", &l1), 1);
	ck_assert_int_eq(sscanf(s2, "arrive %lf", &a2), 1);
	ck_assert_int_eq(sscanf(strstr(s2, "leave"), "leave %lf", &l2), 1);
	ck_assert_int_eq(sscanf(s3, "print %lf", &pr3), 1);
	ck_assert_int_eq(sscanf(s4, "print %lf", &pr4), 1);
	/* The parties leave together: neither before the second arrives. */
	ck_assert_msg(l1 >= a2 && l2 >= a2, "left before the last arrival");
	/* The others did not wait for the barrier. */
	ck_assert(pr3 < a2 && pr4 < a2);
	ck_assert_ptr_nonnull(strstr(s1, "print"));
	ck_assert_ptr_nonnull(strstr(s2, "print"));
	free(s1);
	free(s2);
	free(s3);
	free(s4);
	tc_close(t);
	daemon_finish(&d);
}
END_TEST

/* ---- the seed's counter with counter.add ---- */

static void
adder(const char *sock, int n, int out)
{
	struct tc	*t = tc_open(sock);
	json_t		*r;
	int		 i;

	(void)out;
	for (i = 0; i < n; i++) {
		r = tc_call(t, "{\"op\":\"counter.add\",\"name\":\"hits\","
		    "\"delta\":1}");
		if (!j_ok(r))
			_exit(2);
		json_decref(r);
	}
	tc_close(t);
}

START_TEST(test_counter_four_by_thousand)
{
	struct daemon	 d;
	struct tc	*t;
	pid_t		 pids[4];
	json_t		*r;
	int		 i;

	daemon_start(&d, NULL);
	for (i = 0; i < 4; i++)
		pids[i] = spawn(adder, d.sock, 1000, NULL);
	for (i = 0; i < 4; i++)
		reap_ok(pids[i]);
	t = tc_open(d.sock);
	r = tc_call(t, "{\"op\":\"counter.get\",\"name\":\"hits\"}");
	ck_assert_int_eq(j_int(r, "value"), 4000);
	json_decref(r);
	tc_close(t);
	daemon_finish(&d);
}
END_TEST

/* ---- semaphores ---- */

static void
sem_holder(const char *sock, int arg, int out)
{
	struct tc	*t = tc_open(sock);
	json_t		*r;

	(void)arg;
	r = tc_call(t, "{\"op\":\"sem.acquire\",\"name\":\"pool\",\"value\":1}");
	if (!j_bool(r, "acquired"))
		_exit(2);
	json_decref(r);
	put_line(out, "held\n");
	for (;;)
		pause();
}

START_TEST(test_sem_holder_killed_returns_unit)
{
	struct daemon	 d;
	struct tc	*t;
	json_t		*r;
	pid_t		 pid;
	int		 fd, status;
	char		 buf[8];

	daemon_start(&d, NULL);
	pid = spawn(sem_holder, d.sock, 0, &fd);
	ck_assert_int_eq(read(fd, buf, 5), 5);
	close(fd);
	t = tc_open(d.sock);
	tc_send(t, "{\"op\":\"sem.acquire\",\"name\":\"pool\",\"id\":\"w\"}");
	tc_expect_silence(t, 0.05);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	r = tc_reply(t);
	ck_assert_str_eq(j_str(r, "id"), "w");
	ck_assert(j_bool(r, "acquired"));
	ck_assert_int_eq(j_int(r, "value"), 0);
	json_decref(r);
	tc_close(t);
	daemon_finish(&d);
}
END_TEST

START_TEST(test_bounded_sem_over_release)
{
	struct daemon	 d;
	struct tc	*t;
	json_t		*r;

	daemon_start(&d, NULL);
	t = tc_open(d.sock);
	r = tc_call(t, "{\"op\":\"sem.acquire\",\"name\":\"b\",\"value\":2,"
	    "\"bounded\":true}");
	ck_assert_int_eq(j_int(r, "value"), 1);
	json_decref(r);
	r = tc_call(t, "{\"op\":\"sem.release\",\"name\":\"b\"}");
	ck_assert_int_eq(j_int(r, "value"), 2);
	json_decref(r);
	r = tc_call(t, "{\"op\":\"sem.release\",\"name\":\"b\"}");
	ck_err(r, "would_exceed");
	json_decref(r);
	r = tc_call(t, "{\"op\":\"sem.value\",\"name\":\"b\"}");
	ck_assert_int_eq(j_int(r, "value"), 2);
	json_decref(r);
	tc_close(t);
	daemon_finish(&d);
}
END_TEST

/* ---- a barrier party killed ---- */

static void
barrier_party(const char *sock, int arg, int out)
{
	struct tc	*t = tc_open(sock);

	(void)arg;
	tc_send(t, "{\"op\":\"barrier.wait\",\"name\":\"kb\",\"parties\":3}");
	json_decref(tc_call(t, "{\"op\":\"ping\"}"));
	put_line(out, "waiting\n");
	for (;;)
		pause();
}

START_TEST(test_barrier_party_killed_breaks_it)
{
	struct daemon	 d;
	struct tc	*t;
	json_t		*r;
	pid_t		 pid;
	int		 fd, status;
	char		 buf[8];
	double		 t0;

	daemon_start(&d, NULL);
	pid = spawn(barrier_party, d.sock, 0, &fd);
	ck_assert_int_eq(read(fd, buf, 8), 8);
	close(fd);
	t = tc_open(d.sock);
	tc_send(t, "{\"op\":\"barrier.wait\",\"name\":\"kb\",\"id\":1}");
	json_decref(tc_call(t, "{\"op\":\"ping\"}"));
	t0 = now_s();
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	r = tc_reply(t);
	printf("prims: a barrier party's kill -9 broke it after %.1f ms\n",
	    (now_s() - t0) * 1e3);
	/* Under a ms here; 1 s is generous and still not a deadline's. */
	ck_assert_msg(now_s() - t0 < test_bound(1), "broken after %.3f s",
	    now_s() - t0);
	ck_err(r, "broken");
	ck_assert_int_eq(j_int(r, "id"), 1);
	json_decref(r);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	tc_close(t);
	daemon_finish(&d);
}
END_TEST

/* ---- condition variable: a queue with 4 consumers ---- */

#define ITEMS	200

static void
consumer(const char *sock, int id, int out)
{
	struct tc	*t = tc_open(sock);
	json_t		*r;
	long long	 head, tail, item;
	char		 line[160];

	(void)id;
	json_decref(tc_call(t, "{\"op\":\"lock.acquire\",\"name\":\"q.lock\"}"));
	for (;;) {
		r = tc_call(t, "{\"op\":\"counter.get\",\"name\":\"q.head\"}");
		head = j_int(r, "value");
		json_decref(r);
		r = tc_call(t, "{\"op\":\"counter.get\",\"name\":\"q.tail\"}");
		tail = j_int(r, "value");
		json_decref(r);
		if (head < tail) {
			snprintf(line, sizeof(line), "{\"op\":\"counter.get\","
			    "\"name\":\"q.item.%lld\"}", head);
			r = tc_call(t, line);
			item = j_int(r, "value");
			json_decref(r);
			json_decref(tc_call(t, "{\"op\":\"counter.add\","
			    "\"name\":\"q.head\",\"delta\":1}"));
			put_line(out, "%lld\n", item);
			continue;
		}
		if (tail == ITEMS)
			break;
		r = tc_call(t, "{\"op\":\"cond.wait\",\"name\":\"q.cond\","
		    "\"lock\":\"q.lock\"}");
		if (!j_bool(r, "notified"))
			_exit(2);
		json_decref(r);
	}
	json_decref(tc_call(t, "{\"op\":\"lock.release\",\"name\":\"q.lock\"}"));
	tc_close(t);
}

START_TEST(test_cond_producer_consumers)
{
	struct daemon	 d;
	struct tc	*t;
	pid_t		 pids[4];
	int		 fds[4], i, seen[ITEMS + 1];
	char		 line[200], *s, *p;
	long		 v;

	daemon_start(&d, NULL);
	for (i = 0; i < 4; i++)
		pids[i] = spawn(consumer, d.sock, i, &fds[i]);
	t = tc_open(d.sock);
	for (i = 1; i <= ITEMS; i++) {
		json_decref(tc_call(t, "{\"op\":\"lock.acquire\",\"name\":\"q.lock\"}"));
		snprintf(line, sizeof(line), "{\"op\":\"counter.set\","
		    "\"name\":\"q.item.%d\",\"value\":%d}", i - 1, i);
		json_decref(tc_call(t, line));
		json_decref(tc_call(t, "{\"op\":\"counter.add\",\"name\":\"q.tail\","
		    "\"delta\":1}"));
		json_decref(tc_call(t, i == ITEMS ?
		    "{\"op\":\"cond.notify_all\",\"name\":\"q.cond\"}" :
		    "{\"op\":\"cond.notify\",\"name\":\"q.cond\"}"));
		json_decref(tc_call(t, "{\"op\":\"lock.release\",\"name\":\"q.lock\"}"));
	}
	memset(seen, 0, sizeof(seen));
	for (i = 0; i < 4; i++) {
		s = slurp(fds[i]);
		for (p = s; *p != '\0'; p = strchr(p, '\n') + 1) {
			v = strtol(p, NULL, 10);
			ck_assert(v >= 1 && v <= ITEMS);
			seen[v]++;
		}
		free(s);
		reap_ok(pids[i]);
	}
	/* Every item delivered exactly once. */
	for (i = 1; i <= ITEMS; i++)
		ck_assert_msg(seen[i] == 1, "item %d seen %d times", i, seen[i]);
	tc_close(t);
	daemon_finish(&d);
}
END_TEST

/* ---- rwlock: no writer overlaps anything ---- */

static void
rw_worker(const char *sock, int id, int out)
{
	struct tc	*t = tc_open(sock);
	json_t		*r;
	unsigned	 seed = (unsigned)id * 7919u + 1;
	double		 a, b;
	int		 i, write;

	for (i = 0; i < 60; i++) {
		write = rand_r(&seed) % 3 == 0;
		r = tc_call(t, write ?
		    "{\"op\":\"rwlock.acquire\",\"name\":\"rw\",\"mode\":\"write\"}" :
		    "{\"op\":\"rwlock.acquire\",\"name\":\"rw\",\"mode\":\"read\"}");
		if (!j_bool(r, "acquired"))
			_exit(2);
		json_decref(r);
		a = now_s();
		json_decref(tc_call(t, "{\"op\":\"counter.add\",\"name\":\"work\","
		    "\"delta\":1}"));
		b = now_s();
		put_line(out, "%c %.9f %.9f\n", write ? 'w' : 'r', a, b);
		json_decref(tc_call(t, "{\"op\":\"rwlock.release\",\"name\":\"rw\"}"));
	}
	tc_close(t);
}

struct interval {
	char	mode;
	double	a, b;
};

START_TEST(test_rwlock_intervals)
{
	struct daemon	 d;
	pid_t		 pids[4];
	int		 fds[4], i, j, n = 0;
	struct interval	 iv[4 * 60];
	char		*s, *p;

	daemon_start(&d, NULL);
	for (i = 0; i < 4; i++)
		pids[i] = spawn(rw_worker, d.sock, i, &fds[i]);
	for (i = 0; i < 4; i++) {
		s = slurp(fds[i]);
		for (p = s; *p != '\0'; p = strchr(p, '\n') + 1) {
			ck_assert_int_eq(sscanf(p, "%c %lf %lf", &iv[n].mode,
			    &iv[n].a, &iv[n].b), 3);
			n++;
		}
		free(s);
		reap_ok(pids[i]);
	}
	ck_assert_int_eq(n, 240);
	for (i = 0; i < n; i++)
		for (j = 0; j < n; j++) {
			if (i == j || (iv[i].mode != 'w' && iv[j].mode != 'w'))
				continue;
			ck_assert_msg(iv[i].b <= iv[j].a || iv[j].b <= iv[i].a,
			    "%c [%f,%f] overlaps %c [%f,%f]", iv[i].mode,
			    iv[i].a, iv[i].b, iv[j].mode, iv[j].a, iv[j].b);
		}
	daemon_finish(&d);
}
END_TEST

Suite *
primitives_int_suite(void)
{
	Suite	*s = suite_create("primitives-int");

	ADD_TEST(s, test_seed_barrier_example, 30);
	ADD_TEST(s, test_counter_four_by_thousand, 60);
	ADD_TEST(s, test_sem_holder_killed_returns_unit, 30);
	ADD_TEST(s, test_bounded_sem_over_release, 30);
	ADD_TEST(s, test_barrier_party_killed_breaks_it, 30);
	ADD_TEST(s, test_cond_producer_consumers, 60);
	ADD_TEST(s, test_rwlock_intervals, 60);
	return (s);
}
