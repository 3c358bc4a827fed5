/*
 * check_client.c -- libpsync-client against a real psyncd: every function
 * and the results it can return, timeouts, daemon restarts, fork, signals,
 * threads, and the asynchronous interface.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "psync.h"

#define CK_RC(call, want)						\
	do {								\
		int rc_ = (call);					\
		ck_assert_msg(rc_ == (want), "%s: %s (%s), want %s",	\
		    #call, psync_strerror(rc_), psync_errmsg(h),	\
		    psync_strerror(want));				\
	} while (0)

static psync_t *
open_h(const struct daemon *d)
{
	psync_t	*h = psync_connect(d->sock);

	ck_assert_msg(h != NULL, "psync_connect: %s", strerror(errno));
	return (h);
}

START_TEST(test_connect_and_server_ops)
{
	struct daemon	 d;
	psync_t		*h;
	uint64_t	 session = 0;
	char		*json = NULL;
	json_t		*j;

	/* No daemon: NULL with errno. */
	errno = 0;
	ck_assert_ptr_null(psync_connect("/nonexistent/psyncd.sock"));
	ck_assert_int_eq(errno, ENOENT);
	{
		char	err[256] = "";

		ck_assert_ptr_null(psync_connect_err("/nonexistent/psyncd.sock",
		    err, sizeof(err)));
		ck_assert_int_eq(errno, ENOENT);
		ck_assert_str_eq(err, "cannot connect to /nonexistent/psyncd."
		    "sock: No such file or directory (is psyncd running "
		    "there?)");
	}
	daemon_start(&d, NULL);
	setenv("PSYNC_SOCKET", d.sock, 1);
	h = psync_connect(NULL);		/* the default path */
	ck_assert_ptr_nonnull(h);
	ck_assert_int_ge(psync_fd(h), 0);
	CK_RC(psync_ping(h), PSYNC_OK);
	CK_RC(psync_hello(h, "client-test", &session), PSYNC_OK);
	ck_assert_int_gt(session, 0);
	/* One version: the daemon reports the header's. */
	CK_RC(psync_stat(h, &json), PSYNC_OK);
	j = json_loads(json, 0, NULL);
	ck_assert_str_eq(j_str(j, "version"), PSYNC_VERSION);
	json_decref(j);
	free(json);
	CK_RC(psync_counter_add(h, "c", 1, NULL), PSYNC_OK);
	CK_RC(psync_stat(h, &json), PSYNC_OK);
	j = json_loads(json, 0, NULL);
	ck_assert_int_eq(j_int(j, "objects"), 1);
	ck_assert_ptr_null(json_object_get(j, "ok"));
	json_decref(j);
	free(json);
	CK_RC(psync_list(h, "c", &json), PSYNC_OK);
	j = json_loads(json, 0, NULL);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "objects")), 1);
	json_decref(j);
	free(json);
	CK_RC(psync_info(h, "c", &json), PSYNC_OK);
	j = json_loads(json, 0, NULL);
	ck_assert_str_eq(j_str(j, "type"), "counter");
	json_decref(j);
	free(json);
	CK_RC(psync_info(h, "nothing", &json), PSYNC_ENOT_FOUND);
	ck_assert_str_eq(psync_errmsg(h), "no object 'nothing'");
	CK_RC(psync_info(h, "c", NULL), PSYNC_EINVAL);
	CK_RC(psync_delete(h, "c", false), PSYNC_OK);
	CK_RC(psync_delete(h, "c", false), PSYNC_ENOT_FOUND);
	CK_RC(psync_ping(NULL), PSYNC_EINVAL);
	psync_close(h);
	psync_close(NULL);
	daemon_finish(&d);
}
END_TEST

START_TEST(test_locks)
{
	struct daemon	 d;
	psync_t		*h, *g;
	uint64_t	 t1 = 0, t2 = 0;
	uint32_t	 count = 0;

	daemon_start(&d, NULL);
	h = open_h(&d);
	g = open_h(&d);
	CK_RC(psync_lock_acquire(h, "L", PSYNC_FOREVER, &t1), PSYNC_OK);
	ck_assert_int_gt(t1, 0);
	CK_RC(psync_lock_acquire(h, "L", 0, NULL), PSYNC_EWOULD_DEADLOCK);
	ck_assert_ptr_nonnull(strstr(psync_errmsg(h), "already holds"));
	CK_RC(psync_lock_acquire(g, "L", 0.05, &t2), PSYNC_TIMEDOUT);
	CK_RC(psync_lock_release(g, "L"), PSYNC_ENOT_OWNER);
	CK_RC(psync_lock_release(h, "L"), PSYNC_OK);
	CK_RC(psync_lock_acquire(g, "L", 0, &t2), PSYNC_OK);
	ck_assert_int_gt(t2, t1);
	CK_RC(psync_lock_acquire(h, "", 0, NULL), PSYNC_EBAD_NAME);
	CK_RC(psync_lock_acquire(h, NULL, 0, NULL), PSYNC_EINVAL);
	/* rlock */
	CK_RC(psync_rlock_acquire(h, "R", PSYNC_FOREVER, &count, &t1), PSYNC_OK);
	ck_assert_int_eq(count, 1);
	CK_RC(psync_rlock_acquire(h, "R", PSYNC_FOREVER, &count, &t2), PSYNC_OK);
	ck_assert_int_eq(count, 2);
	ck_assert_int_eq(t1, t2);
	CK_RC(psync_rlock_acquire(g, "R", 0, NULL, NULL), PSYNC_TIMEDOUT);
	CK_RC(psync_rlock_release(h, "R", &count), PSYNC_OK);
	ck_assert_int_eq(count, 1);
	CK_RC(psync_rlock_release(h, "R", &count), PSYNC_OK);
	ck_assert_int_eq(count, 0);
	CK_RC(psync_rlock_release(h, "R", NULL), PSYNC_ENOT_OWNER);
	/* rwlock */
	CK_RC(psync_rwlock_acquire(h, "W", PSYNC_READ, 0, NULL), PSYNC_OK);
	CK_RC(psync_rwlock_acquire(g, "W", PSYNC_READ, 0, NULL), PSYNC_OK);
	CK_RC(psync_rwlock_acquire(h, "W", 7, 0, NULL), PSYNC_EINVAL);
	CK_RC(psync_rwlock_release(g, "W"), PSYNC_OK);
	CK_RC(psync_rwlock_acquire(g, "W", PSYNC_WRITE, 0, NULL), PSYNC_TIMEDOUT);
	CK_RC(psync_rwlock_release(h, "W"), PSYNC_OK);
	CK_RC(psync_rwlock_acquire(g, "W", PSYNC_WRITE, 0, NULL), PSYNC_OK);
	CK_RC(psync_rwlock_release(h, "W"), PSYNC_ENOT_OWNER);
	/* a name of another type */
	CK_RC(psync_counter_add(h, "N", 1, NULL), PSYNC_OK);
	CK_RC(psync_lock_acquire(h, "N", 0, NULL), PSYNC_ETYPE_MISMATCH);
	psync_close(g);
	psync_close(h);
	daemon_finish(&d);
}
END_TEST

START_TEST(test_event_sem_barrier_counter)
{
	struct daemon	 d;
	psync_t		*h;
	bool		 set = true, broken = true, swapped = false;
	int64_t		 v = -1;
	unsigned	 idx = 9, parties = 0, nw = 9;

	daemon_start(&d, NULL);
	h = open_h(&d);
	CK_RC(psync_event_is_set(h, "E", &set), PSYNC_OK);
	ck_assert(!set);
	CK_RC(psync_event_wait(h, "E", 0.02), PSYNC_TIMEDOUT);
	CK_RC(psync_event_set(h, "E"), PSYNC_OK);
	CK_RC(psync_event_wait(h, "E", PSYNC_FOREVER), PSYNC_OK);
	CK_RC(psync_event_clear(h, "E"), PSYNC_OK);
	CK_RC(psync_event_is_set(h, "E", &set), PSYNC_OK);
	ck_assert(!set);

	CK_RC(psync_sem_acquire(h, "S", 0, NULL), PSYNC_ENOT_FOUND);
	CK_RC(psync_sem_open(h, "S", 1, true, &v), PSYNC_OK);
	ck_assert_int_eq(v, 1);
	CK_RC(psync_sem_open(h, "S", 2, true, NULL), PSYNC_EPARAM_MISMATCH);
	CK_RC(psync_sem_release(h, "S", 1, NULL), PSYNC_EWOULD_EXCEED);
	CK_RC(psync_sem_acquire(h, "S", 0, &v), PSYNC_OK);
	ck_assert_int_eq(v, 0);
	CK_RC(psync_sem_acquire(h, "S", 0.01, &v), PSYNC_TIMEDOUT);
	CK_RC(psync_sem_release(h, "S", 0, NULL), PSYNC_EBAD_REQUEST);
	CK_RC(psync_sem_release(h, "S", 1, &v), PSYNC_OK);
	ck_assert_int_eq(v, 1);
	CK_RC(psync_sem_value(h, "S", &v), PSYNC_OK);
	ck_assert_int_eq(v, 1);
	CK_RC(psync_delete(h, "S", false), PSYNC_OK);

	CK_RC(psync_barrier_open(h, "B", 1), PSYNC_OK);
	CK_RC(psync_barrier_open(h, "B", 2), PSYNC_EPARAM_MISMATCH);
	CK_RC(psync_barrier_wait(h, "B", PSYNC_FOREVER, &idx), PSYNC_OK);
	ck_assert_int_eq(idx, 0);
	CK_RC(psync_barrier_abort(h, "B"), PSYNC_OK);
	CK_RC(psync_barrier_info(h, "B", &parties, &nw, &broken), PSYNC_OK);
	ck_assert_int_eq(parties, 1);
	ck_assert_int_eq(nw, 0);
	ck_assert(broken);
	CK_RC(psync_barrier_wait(h, "B", 0, NULL), PSYNC_EBROKEN);
	CK_RC(psync_barrier_reset(h, "B"), PSYNC_OK);
	CK_RC(psync_barrier_wait(h, "B", 0, NULL), PSYNC_OK);
	CK_RC(psync_barrier_open(h, "B2", 2), PSYNC_OK);
	CK_RC(psync_barrier_wait(h, "B2", 0.01, NULL), PSYNC_EBROKEN);

	CK_RC(psync_counter_get(h, "N", &v), PSYNC_OK);
	ck_assert_int_eq(v, 0);
	CK_RC(psync_counter_add(h, "N", 5, &v), PSYNC_OK);
	ck_assert_int_eq(v, 5);
	CK_RC(psync_counter_set(h, "N", INT64_MAX), PSYNC_OK);
	CK_RC(psync_counter_add(h, "N", 1, &v), PSYNC_EWOULD_EXCEED);
	CK_RC(psync_counter_cas(h, "N", 3, 4, &swapped, &v), PSYNC_OK);
	ck_assert(!swapped);
	ck_assert_int_eq(v, INT64_MAX);
	CK_RC(psync_counter_cas(h, "N", INT64_MAX, 4, &swapped, &v), PSYNC_OK);
	ck_assert(swapped);
	ck_assert_int_eq(v, 4);
	psync_close(h);
	daemon_finish(&d);
}
END_TEST

/* ---- threads: a condition, and two handles contending ---- */

struct notifier {
	const char	*sock;
	int		 rounds;
};

static void *
notify_thread(void *arg)
{
	struct notifier	*n = arg;
	psync_t		*h = psync_connect(n->sock);
	int		 i, woken;

	for (i = 0; i < n->rounds; i++) {
		/* Take the lock so the waiter is surely waiting, then notify. */
		if (psync_lock_acquire(h, "cl", PSYNC_FOREVER, NULL) != PSYNC_OK)
			break;
		woken = 0;
		psync_cond_notify(h, "cv", 1, &woken);
		psync_lock_release(h, "cl");
		if (woken == 0)
			i--;		/* the waiter was not there yet */
	}
	psync_close(h);
	return (NULL);
}

START_TEST(test_cond_with_threads)
{
	struct daemon	 d;
	struct notifier	 n;
	pthread_t	 th;
	psync_t		*h;
	uint64_t	 token = 0;
	int		 i, woken = -1;

	daemon_start(&d, NULL);
	h = open_h(&d);
	CK_RC(psync_cond_wait(h, "cv", "cl", 0, NULL), PSYNC_ENOT_OWNER);
	CK_RC(psync_cond_wait(h, "cv", NULL, 0, NULL), PSYNC_EINVAL);
	CK_RC(psync_lock_acquire(h, "cl", PSYNC_FOREVER, NULL), PSYNC_OK);
	CK_RC(psync_cond_wait(h, "cv", "cl", 0.02, NULL), PSYNC_TIMEDOUT);
	n.sock = d.sock;
	n.rounds = 20;
	ck_assert_int_eq(pthread_create(&th, NULL, notify_thread, &n), 0);
	for (i = 0; i < 20; i++) {
		CK_RC(psync_cond_wait(h, "cv", "cl", PSYNC_FOREVER, &token),
		    PSYNC_OK);
		ck_assert_int_gt(token, 0);
	}
	CK_RC(psync_lock_release(h, "cl"), PSYNC_OK);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	CK_RC(psync_cond_notify_all(h, "cv", &woken), PSYNC_OK);
	ck_assert_int_eq(woken, 0);
	psync_close(h);
	daemon_finish(&d);
}
END_TEST

static void *
contend_thread(void *arg)
{
	const char	*sock = arg;
	psync_t		*h = psync_connect(sock);
	int64_t		 v;
	int		 i;

	for (i = 0; i < 500; i++) {
		if (psync_lock_acquire(h, "shared", PSYNC_FOREVER, NULL) !=
		    PSYNC_OK)
			break;
		/* read-modify-write under the lock: must never interleave */
		psync_counter_get(h, "plain", &v);
		psync_counter_set(h, "plain", v + 1);
		psync_lock_release(h, "shared");
	}
	psync_close(h);
	return (NULL);
}

START_TEST(test_two_threads_two_handles)
{
	struct daemon	 d;
	pthread_t	 a, b;
	psync_t		*h;
	int64_t		 v = 0;

	daemon_start(&d, NULL);
	ck_assert_int_eq(pthread_create(&a, NULL, contend_thread, d.sock), 0);
	ck_assert_int_eq(pthread_create(&b, NULL, contend_thread, d.sock), 0);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	h = open_h(&d);
	CK_RC(psync_counter_get(h, "plain", &v), PSYNC_OK);
	ck_assert_int_eq(v, 1000);
	psync_close(h);
	daemon_finish(&d);
}
END_TEST

/* ---- the daemon goes away ---- */

START_TEST(test_reconnect_after_restart)
{
	struct daemon	 d, d2;
	psync_t		*h;
	char		 sock[128];
	double		 t0;

	daemon_start(&d, NULL);
	snprintf(sock, sizeof(sock), "%s", d.sock);
	h = open_h(&d);
	CK_RC(psync_lock_acquire(h, "L", PSYNC_FOREVER, NULL), PSYNC_OK);
	ck_assert_int_eq(daemon_stop(&d), 0);
	t0 = now_s();
	CK_RC(psync_ping(h), PSYNC_EIO);
	CK_RC(psync_ping(h), PSYNC_EIO);
	ck_assert(now_s() - t0 < test_bound(1.0));
	CK_RC(psync_reconnect(h), PSYNC_EIO);	/* nobody there yet */
	daemon_start_at(&d2, sock, NULL);
	CK_RC(psync_reconnect(h), PSYNC_OK);
	/* The old connection's lock is gone: free for the new one. */
	CK_RC(psync_lock_acquire(h, "L", 0, NULL), PSYNC_OK);
	psync_close(h);
	daemon_finish(&d2);
	rmdir(d.dir);
}
END_TEST

START_TEST(test_shutdown_during_wait)
{
	struct daemon	 d;
	psync_t		*h, *g;
	pid_t		 pid;
	int		 status;

	daemon_start(&d, NULL);
	h = open_h(&d);
	g = open_h(&d);
	CK_RC(psync_lock_acquire(g, "L", PSYNC_FOREVER, NULL), PSYNC_OK);
	/* A child stops the daemon once h is queued. */
	if ((pid = fork()) == 0) {
		struct tc	*t = tc_open(d.sock);
		json_t		*r;

		for (;;) {
			r = tc_call(t, "{\"op\":\"info\",\"name\":\"L\"}");
			if (json_array_size(json_object_get(r, "waiters")) == 1)
				break;
			json_decref(r);
			tc_expect_silence(t, 0.005);
		}
		kill(d.pid, SIGTERM);
		tc_close(t);
		json_decref(r);
		psync_close(g);		/* the parent's: our copies only */
		psync_close(h);
		_exit(0);
	}
	CK_RC(psync_lock_acquire(h, "L", PSYNC_FOREVER, NULL),
	    PSYNC_ESHUTTING_DOWN);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(daemon_stop(&d), 0);	/* stopped cleanly */
	psync_close(g);
	psync_close(h);
}
END_TEST

/* ---- fork ---- */

START_TEST(test_fork_is_refused)
{
	struct daemon	 d;
	psync_t		*h;
	pid_t		 pid;
	int		 status;

	daemon_start(&d, NULL);
	h = open_h(&d);
	CK_RC(psync_lock_acquire(h, "L", PSYNC_FOREVER, NULL), PSYNC_OK);
	if ((pid = fork()) == 0) {
		/* The lock is the parent's: every call refused, nothing sent. */
		if (psync_lock_release(h, "L") != PSYNC_EFORK ||
		    psync_ping(h) != PSYNC_EFORK ||
		    strstr(psync_errmsg(h), "forked child") == NULL)
			_exit(1);
		/* A connection of its own. */
		if (psync_reconnect(h) != PSYNC_OK ||
		    psync_lock_acquire(h, "L", 0, NULL) != PSYNC_TIMEDOUT)
			_exit(2);
		psync_close(h);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "child: %d", status);
	/* The parent still holds it, its connection intact. */
	CK_RC(psync_lock_release(h, "L"), PSYNC_OK);
	psync_close(h);
	daemon_finish(&d);
}
END_TEST

/* ---- signals ---- */

static volatile sig_atomic_t alarms;

static void
on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

struct releaser {
	psync_t		*g;
	int		 after;		/* release once this many alarms */
};

static void *
release_thread(void *arg)
{
	struct releaser	*r = arg;
	double		 deadline = now_s() + 10 * test_slow();

	while (alarms < r->after && now_s() < deadline)
		usleep(1000);	/* polling the signal count, bounded */
	psync_lock_release(r->g, "L");
	return (NULL);
}

START_TEST(test_eintr_retried_or_cancelled)
{
	struct daemon		 d;
	struct sigaction	 sa;
	struct itimerval	 it = { { 0, 20000 }, { 0, 20000 } };
	struct itimerval	 off = { { 0, 0 }, { 0, 0 } };
	struct releaser		 rel;
	pthread_t		 th;
	psync_t			*h, *g;
	sigset_t		 set;

	daemon_start(&d, NULL);
	h = open_h(&d);
	g = open_h(&d);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;		/* no SA_RESTART */
	ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
	/* The releasing thread must not take the alarms. */
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	CK_RC(psync_lock_acquire(g, "L", PSYNC_FOREVER, NULL), PSYNC_OK);
	rel.g = g;
	rel.after = 3;
	ck_assert_int_eq(pthread_create(&th, NULL, release_thread, &rel), 0);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	/* Default: signals do not abort the wait. */
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
	CK_RC(psync_lock_acquire(h, "L", PSYNC_FOREVER, NULL), PSYNC_OK);
	ck_assert_int_ge(alarms, 3);
	pthread_join(th, NULL);
	/* Interruptible: the wait is cancelled and PSYNC_EINTR returned. */
	psync_set_interruptible(g, true);
	alarms = 0;
	CK_RC(psync_lock_acquire(g, "L", PSYNC_FOREVER, NULL), PSYNC_EINTR);
	ck_assert_int_eq(setitimer(ITIMER_REAL, &off, NULL), 0);
	ck_assert_int_ge(alarms, 1);
	/* g is not queued: h's release leaves the lock free. */
	CK_RC(psync_lock_release(h, "L"), PSYNC_OK);
	CK_RC(psync_lock_acquire(h, "L", 0, NULL), PSYNC_OK);
	psync_close(g);
	psync_close(h);
	daemon_finish(&d);
}
END_TEST

/* ---- async ---- */

START_TEST(test_async_send_recv_cancel)
{
	struct daemon	 d;
	psync_t		*h, *g;
	struct pollfd	 pfd;
	uint64_t	 id1 = 0, id2 = 0, id = 0;
	char		*reply = NULL;
	json_t		*j;

	daemon_start(&d, NULL);
	h = open_h(&d);
	g = open_h(&d);
	CK_RC(psync_lock_acquire(g, "L", PSYNC_FOREVER, NULL), PSYNC_OK);
	CK_RC(psync_send(h, "{\"op\":\"lock.acquire\",\"name\":\"L\"}", &id1),
	    PSYNC_OK);
	CK_RC(psync_send(h, "{\"op\":\"event.wait\",\"name\":\"E\"}", &id2),
	    PSYNC_OK);
	ck_assert_int_ne(id1, id2);
	CK_RC(psync_send(h, "not json", NULL), PSYNC_EINVAL);
	CK_RC(psync_recv(h, 0, &reply, &id), PSYNC_EAGAIN);
	/* A synchronous call in between keeps the others' replies. */
	CK_RC(psync_event_set(g, "E"), PSYNC_OK);
	CK_RC(psync_ping(h), PSYNC_OK);
	CK_RC(psync_lock_release(g, "L"), PSYNC_OK);
	/* poll() on the fd, then read: both replies, by id. */
	pfd.fd = psync_fd(h);
	pfd.events = POLLIN;
	ck_assert_int_eq(poll(&pfd, 1, (int)(5000 * test_slow())), 1);
	CK_RC(psync_recv(h, 5, &reply, &id), PSYNC_OK);
	ck_assert_int_eq(id, id2);
	j = json_loads(reply, 0, NULL);
	ck_assert(j_bool(j, "set"));
	json_decref(j);
	free(reply);
	CK_RC(psync_recv(h, 5, &reply, &id), PSYNC_OK);
	ck_assert_int_eq(id, id1);
	j = json_loads(reply, 0, NULL);
	ck_assert(j_bool(j, "acquired"));
	json_decref(j);
	free(reply);
	/* Cancel a pending one. */
	CK_RC(psync_send(g, "{\"op\":\"lock.acquire\",\"name\":\"L\"}", &id1),
	    PSYNC_OK);
	CK_RC(psync_cancel(g, id1), PSYNC_OK);
	CK_RC(psync_recv(g, 5, &reply, &id), PSYNC_OK);
	ck_assert_int_eq(id, id1);
	ck_assert_ptr_nonnull(strstr(reply, "\"cancelled\""));
	free(reply);
	CK_RC(psync_recv(g, 5, &reply, &id), PSYNC_OK);
	ck_assert_int_eq(id, 0);
	ck_assert_ptr_nonnull(strstr(reply, "\"cancelled\":true"));
	free(reply);
	/* Unknown op: the reply says so. */
	CK_RC(psync_send(g, "{\"op\":\"nope\"}", &id1), PSYNC_OK);
	CK_RC(psync_recv(g, 5, &reply, &id), PSYNC_OK);
	ck_assert_ptr_nonnull(strstr(reply, "unknown_op"));
	free(reply);
	psync_close(g);
	psync_close(h);
	daemon_finish(&d);
}
END_TEST

/* ---- the remaining results ---- */

START_TEST(test_result_codes)
{
	struct daemon	 d;
	psync_t		*h, *g;
	char		*big;
	uint64_t	 id;
	int		 r;

	for (r = PSYNC_OK; r <= PSYNC_EAGAIN; r++)
		ck_assert_str_ne(psync_strerror(r), "unknown result");
	ck_assert_str_eq(psync_strerror(PSYNC_EWOULD_DEADLOCK), "would_deadlock");
	ck_assert_str_eq(psync_strerror(-1), "unknown result");

	daemon_start(&d, "--max-pending", "1", NULL);
	h = open_h(&d);
	g = open_h(&d);
	/* limit: one pending allowed, the next refused */
	CK_RC(psync_lock_acquire(g, "L", PSYNC_FOREVER, NULL), PSYNC_OK);
	CK_RC(psync_send(h, "{\"op\":\"lock.acquire\",\"name\":\"L\"}", &id),
	    PSYNC_OK);
	CK_RC(psync_event_wait(h, "E", PSYNC_FOREVER), PSYNC_ELIMIT);
	/* busy, then deleted for the pending one */
	CK_RC(psync_delete(g, "L", false), PSYNC_EBUSY);
	CK_RC(psync_delete(g, "L", true), PSYNC_OK);
	/* deadlock through a cycle */
	CK_RC(psync_lock_acquire(g, "x", 0, NULL), PSYNC_OK);
	CK_RC(psync_lock_acquire(h, "y", 0, NULL), PSYNC_OK);
	psync_close(g);
	g = open_h(&d);
	CK_RC(psync_lock_acquire(g, "x", 0, NULL), PSYNC_OK);
	/* too_large: the connection is then closed: EIO after */
	big = malloc(70000);
	memset(big, ' ', 69999);
	memcpy(big, "{\"op\":\"ping\"", 12);
	big[69998] = '}';
	big[69999] = '\0';
	CK_RC(psync_send(g, big, &id), PSYNC_OK);
	CK_RC(psync_ping(g), PSYNC_ETOO_LARGE);
	CK_RC(psync_ping(g), PSYNC_EIO);
	free(big);
	psync_close(g);
	psync_close(h);
	daemon_finish(&d);
}
END_TEST

/* NaN is refused; negatives other than PSYNC_FOREVER try once. */
START_TEST(test_timeouts_nan_and_negative)
{
	static const double tries[] = { -2, -1e-300, -0.5, -INFINITY,
	    -1.0000001 };
	struct daemon	 d;
	psync_t		*h, *g;
	char		*reply = NULL;
	unsigned	 i;
	double		 t0;

	daemon_start(&d, NULL);
	h = open_h(&d);
	g = open_h(&d);
	CK_RC(psync_lock_acquire(g, "T", PSYNC_FOREVER, NULL), PSYNC_OK);
	CK_RC(psync_lock_acquire(h, "T", NAN, NULL), PSYNC_EINVAL);
	ck_assert_ptr_nonnull(strstr(psync_errmsg(h), "NaN"));
	CK_RC(psync_lock_acquire(h, "T", -NAN, NULL), PSYNC_EINVAL);
	CK_RC(psync_event_wait(h, "E", NAN), PSYNC_EINVAL);
	CK_RC(psync_recv(h, NAN, &reply, NULL), PSYNC_EINVAL);
	for (i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		t0 = now_s();
		CK_RC(psync_lock_acquire(h, "T", tries[i], NULL),
		    PSYNC_TIMEDOUT);
		CK_RC(psync_sem_acquire(h, "none", tries[i], NULL),
		    PSYNC_ENOT_FOUND);
		CK_RC(psync_recv(h, tries[i], &reply, NULL), PSYNC_EAGAIN);
		ck_assert_msg(now_s() - t0 < test_bound(1), "timeout %g "
		    "blocked", tries[i]);
	}
	/* Nothing was left queued by any of them. */
	CK_RC(psync_ping(h), PSYNC_OK);
	CK_RC(psync_recv(h, 0, &reply, NULL), PSYNC_EAGAIN);
	psync_close(g);
	psync_close(h);
	daemon_finish(&d);
}
END_TEST

/* A bad name is PSYNC_EBAD_NAME, named, with nothing sent. */
START_TEST(test_bad_names_in_the_library)
{
	struct daemon	 d;
	psync_t		*h;
	char		 long_name[300];
	uint64_t	 id;

	daemon_start(&d, NULL);
	h = open_h(&d);
	CK_RC(psync_lock_acquire(h, "ab\xff", 0, NULL), PSYNC_EBAD_NAME);
	ck_assert_str_eq(psync_errmsg(h), "bad name: name is not valid "
	    "UTF-8: byte 2 is 0xff, after 'ab'");
	CK_RC(psync_counter_add(h, "a\nb", 1, NULL), PSYNC_EBAD_NAME);
	ck_assert_ptr_nonnull(strstr(psync_errmsg(h), "control character: "
	    "byte 1 is 0x0a"));
	CK_RC(psync_event_set(h, ""), PSYNC_EBAD_NAME);
	memset(long_name, 'n', 299);
	long_name[299] = '\0';
	CK_RC(psync_event_set(h, long_name), PSYNC_EBAD_NAME);
	ck_assert_ptr_nonnull(strstr(psync_errmsg(h), "255"));
	CK_RC(psync_event_set(h, NULL), PSYNC_EINVAL);
	CK_RC(psync_cond_wait(h, "c", "\xc3", 0, NULL), PSYNC_EBAD_NAME);
	ck_assert_ptr_nonnull(strstr(psync_errmsg(h), "bad lock name"));
	CK_RC(psync_hello(h, "\x01", NULL), PSYNC_EBAD_NAME);
	{
		char	*json = NULL;

		CK_RC(psync_list(h, "\xff", &json), PSYNC_EINVAL);
		ck_assert_ptr_nonnull(strstr(psync_errmsg(h), "prefix"));
		ck_assert_ptr_null(json);
	}
	/* A request with an id of its own is refused before it is sent. */
	CK_RC(psync_send(h, "{\"op\":\"ping\",\"id\":7}", &id), PSYNC_EINVAL);
	ck_assert_ptr_nonnull(strstr(psync_errmsg(h), "id"));
	CK_RC(psync_send(h, "{\"op\":\"ping\",\"\\u0069d\":7}", &id),
	    PSYNC_EINVAL);
	/* ...but "id" inside a value is just text. */
	CK_RC(psync_send(h, "{\"op\":\"event.set\",\"name\":\"\\\"id\\\"\"}",
	    &id), PSYNC_OK);
	CK_RC(psync_ping(h), PSYNC_OK);
	{
		char	*reply;

		CK_RC(psync_recv(h, 0, &reply, NULL), PSYNC_OK);
		ck_assert_str_eq(reply, "{\"id\":1,\"ok\":true}");
		free(reply);
		CK_RC(psync_recv(h, 0, &reply, NULL), PSYNC_EAGAIN);
	}
	psync_close(h);
	daemon_finish(&d);
}
END_TEST

START_TEST(test_forbidden)
{
	struct daemon	 d;
	psync_t		*h;

	/* Nobody runs the tests as uid 4242424: every peer is refused. */
	daemon_start(&d, "--allow-uid", "4242424", NULL);
	h = open_h(&d);
	CK_RC(psync_ping(h), PSYNC_EFORBIDDEN);
	ck_assert_ptr_nonnull(strstr(psync_errmsg(h), "may not"));
	CK_RC(psync_ping(h), PSYNC_EIO);
	psync_close(h);
	daemon_finish(&d);
}
END_TEST

/* A fake psyncd for the notice tests: answers a script on one connection. */
static void
notice_peer(int lfd)
{
	const char	*lost = "{\"ok\":true,\"event\":\"lost\",\"name\":"
			    "\"cluster/x\",\"type\":\"lock\",\"token\":41,"
			    "\"message\":\"the session's etcd lease went "
			    "unrenewed\"}\n";
	char		 buf[4096], out[256];
	ssize_t		 n;
	size_t		 len = 0;
	json_t		*r;
	int		 fd, step = 0;
	char		*nl;

	if ((fd = accept(lfd, NULL, NULL)) == -1)
		_exit(1);
	for (;;) {
		while ((nl = memchr(buf, '\n', len)) == NULL) {
			if ((n = read(fd, buf + len, sizeof(buf) - len)) <= 0)
				_exit(0);
			len += (size_t)n;
		}
		r = json_loadb(buf, (size_t)(nl - buf), 0, NULL);
		memmove(buf, nl + 1, len - (size_t)(nl + 1 - buf));
		len -= (size_t)(nl + 1 - buf);
		snprintf(out, sizeof(out), "{\"id\":%lld,\"ok\":true}\n",
		    (long long)json_integer_value(json_object_get(r, "id")));
		json_decref(r);
		/*
		 * 0: hello; 1: a notice, the reply, two unasked; 2: a
		 * notice, then the reply.
		 */
		if (step >= 1 && write(fd, lost, strlen(lost)) == -1)
			_exit(1);
		if (write(fd, out, strlen(out)) == -1)
			_exit(1);
		if (step == 1 && (write(fd, lost, strlen(lost)) == -1 ||
		    write(fd, lost, strlen(lost)) == -1))
			_exit(1);
		step++;
	}
}

struct lost_seen {
	int		 calls;
	uint64_t	 token;
	char		 name[64], type[16], message[128];
};

static void
on_lost(psync_t *h, const char *name, const char *type, uint64_t token,
    const char *message, void *arg)
{
	struct lost_seen	*seen = arg;

	(void)h;
	seen->calls++;
	seen->token = token;
	snprintf(seen->name, sizeof(seen->name), "%s", name);
	snprintf(seen->type, sizeof(seen->type), "%s", type);
	snprintf(seen->message, sizeof(seen->message), "%s", message);
}

START_TEST(test_lost_notices)
{
	struct sockaddr_un	 sun;
	struct lost_seen	 seen = { 0 };
	struct pollfd		 pfd;
	psync_t			*h;
	uint64_t		 lost = 0, sent, id;
	char			 path[108], *reply;
	pid_t			 pid;
	int			 lfd, status;

	snprintf(path, sizeof(path), "/tmp/psync-notice.%ld.sock",
	    (long)getpid());
	(void)unlink(path);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ne(lfd, -1);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(lfd, 1), 0);
	if ((pid = fork()) == 0)
		notice_peer(lfd);
	ck_assert_int_ne(pid, -1);
	close(lfd);
	h = psync_connect(path);
	ck_assert_ptr_nonnull(h);
	CK_RC(psync_set_lost_handler(h, on_lost, &seen), PSYNC_OK);
	/* A notice read while waiting for a reply: handled, then the reply. */
	CK_RC(psync_ping(h), PSYNC_OK);
	ck_assert_int_eq(seen.calls, 1);
	ck_assert_str_eq(seen.name, "cluster/x");
	ck_assert_str_eq(seen.type, "lock");
	ck_assert_uint_eq(seen.token, 41);
	ck_assert_ptr_nonnull(strstr(seen.message, "unrenewed"));
	/*
	 * Unasked: the ones the ping's read took in already, then what
	 * polling the descriptor finds.
	 */
	CK_RC(psync_poll_notices(h, &lost), PSYNC_OK);
	pfd.fd = psync_fd(h);
	pfd.events = POLLIN;
	while (lost < 3) {
		ck_assert_int_eq(poll(&pfd, 1, 10000), 1);
		CK_RC(psync_poll_notices(h, &lost), PSYNC_OK);
	}
	ck_assert_uint_eq(lost, 3);
	ck_assert_int_eq(seen.calls, 3);
	/* psync_recv hands a notice back too (id 0), handled as well. */
	CK_RC(psync_send(h, "{\"op\":\"ping\"}", &sent), PSYNC_OK);
	CK_RC(psync_recv(h, 10, &reply, &id), PSYNC_OK);
	ck_assert_uint_eq(id, 0);
	ck_assert_ptr_nonnull(strstr(reply, "\"lost\""));
	free(reply);
	ck_assert_int_eq(seen.calls, 4);
	CK_RC(psync_recv(h, 10, &reply, &id), PSYNC_OK);
	ck_assert_uint_eq(id, sent);
	free(reply);
	psync_close(h);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	(void)unlink(path);
}
END_TEST

Suite *
client_suite(void)
{
	Suite	*s = suite_create("client");

	ADD_TEST(s, test_connect_and_server_ops, 20);
	ADD_TEST(s, test_locks, 20);
	ADD_TEST(s, test_event_sem_barrier_counter, 20);
	ADD_TEST(s, test_cond_with_threads, 30);
	ADD_TEST(s, test_two_threads_two_handles, 60);
	ADD_TEST(s, test_reconnect_after_restart, 30);
	ADD_TEST(s, test_shutdown_during_wait, 30);
	ADD_TEST(s, test_fork_is_refused, 20);
	ADD_TEST(s, test_eintr_retried_or_cancelled, 30);
	ADD_TEST(s, test_async_send_recv_cancel, 20);
	ADD_TEST(s, test_result_codes, 20);
	ADD_TEST(s, test_forbidden, 20);
	ADD_TEST(s, test_timeouts_nan_and_negative, 20);
	ADD_TEST(s, test_bad_names_in_the_library, 20);
	ADD_TEST(s, test_lost_notices, 20);
	return (s);
}
