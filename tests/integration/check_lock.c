/*
 * check_lock.c -- locks over real sockets, between real processes.
 */
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

START_TEST(test_ten_waiters_in_arrival_order)
{
	struct daemon	 d;
	struct tc	*holder, *w[10];
	json_t		*r;
	char		 line[128];
	long long	 token, prev;
	int		 i, j;

	daemon_start(&d, NULL);
	holder = tc_open(d.sock);
	r = tc_call(holder, "{\"op\":\"lock.acquire\",\"name\":\"q\"}");
	prev = j_int(r, "token");
	json_decref(r);
	for (i = 0; i < 10; i++) {
		w[i] = tc_open(d.sock);
		snprintf(line, sizeof(line), "{\"op\":\"lock.acquire\","
		    "\"name\":\"q\",\"id\":%d}", i);
		tc_send(w[i], line);
		/* Arrival order: each is queued before the next is sent. */
		json_decref(tc_call(w[i], "{\"op\":\"ping\"}"));
	}
	json_decref(tc_call(holder, "{\"op\":\"lock.release\",\"name\":\"q\"}"));
	for (i = 0; i < 10; i++) {
		r = tc_reply(w[i]);
		ck_assert_int_eq(j_int(r, "id"), i);
		ck_assert(j_bool(r, "acquired"));
		token = j_int(r, "token");
		ck_assert_int_gt(token, prev);
		prev = token;
		json_decref(r);
		/* Only the head was granted. */
		for (j = i + 1; j < 10; j++)
			tc_expect_silence(w[j], 0.01);
		json_decref(tc_call(w[i], "{\"op\":\"lock.release\",\"name\":\"q\"}"));
	}
	for (i = 0; i < 10; i++)
		tc_close(w[i]);
	tc_close(holder);
	daemon_finish(&d);
}
END_TEST

/* A child that takes name, says so on fd, and waits to be killed. */
static pid_t
spawn_holder(const char *sock, const char *name, int *ready_fd)
{
	int	 p[2];
	pid_t	 pid;

	ck_assert_int_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {
		struct tc	*t = tc_open(sock);
		char		 line[128];
		json_t		*r;

		close(p[0]);
		snprintf(line, sizeof(line), "{\"op\":\"lock.acquire\","
		    "\"name\":\"%s\"}", name);
		r = tc_call(t, line);
		if (!j_bool(r, "acquired"))
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	*ready_fd = p[0];
	return (pid);
}

START_TEST(test_sigkill_holder_hands_over)
{
	struct daemon	 d;
	struct tc	*w1, *w2;
	json_t		*r;
	char		 c;
	int		 fd, status;
	pid_t		 pid;

	daemon_start(&d, NULL);
	pid = spawn_holder(d.sock, "K", &fd);
	ck_assert_int_eq(read(fd, &c, 1), 1);
	close(fd);
	w1 = tc_open(d.sock);
	w2 = tc_open(d.sock);
	tc_send(w1, "{\"op\":\"lock.acquire\",\"name\":\"K\",\"id\":1}");
	json_decref(tc_call(w1, "{\"op\":\"ping\"}"));
	tc_send(w2, "{\"op\":\"lock.acquire\",\"name\":\"K\",\"id\":2}");
	json_decref(tc_call(w2, "{\"op\":\"ping\"}"));
	tc_expect_silence(w1, 0.05);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	/* The next waiter, and only it, gets the lock. */
	r = tc_reply(w1);
	ck_assert_int_eq(j_int(r, "id"), 1);
	ck_assert(j_bool(r, "acquired"));
	json_decref(r);
	tc_expect_silence(w2, 0.2);
	r = tc_call(w2, "{\"op\":\"info\",\"name\":\"K\"}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "holders")), 1);
	ck_assert_uint_eq(json_array_size(json_object_get(r, "waiters")), 1);
	json_decref(r);
	tc_close(w1);
	r = tc_reply(w2);
	ck_assert_int_eq(j_int(r, "id"), 2);
	ck_assert(j_bool(r, "acquired"));
	json_decref(r);
	tc_close(w2);
	daemon_finish(&d);
}
END_TEST

START_TEST(test_timeout_bounds)
{
	struct daemon	 d;
	struct tc	*a, *b;
	json_t		*r;
	double		 t0, dt;

	daemon_start(&d, NULL);
	a = tc_open(d.sock);
	b = tc_open(d.sock);
	json_decref(tc_call(a, "{\"op\":\"lock.acquire\",\"name\":\"T\"}"));
	t0 = now_s();
	r = tc_call(b, "{\"op\":\"lock.acquire\",\"name\":\"T\",\"timeout\":0.2}");
	dt = now_s() - t0;
	ck_ok(r);
	ck_assert(!j_bool(r, "acquired"));
	ck_assert_ptr_null(json_object_get(r, "token"));
	json_decref(r);
	ck_assert_msg(dt >= 0.2, "returned after %.3f s", dt);
	ck_assert_msg(dt < test_bound(1.0), "returned after %.3f s", dt);
	/* Integer timeouts are numbers too; 0 tries once. */
	r = tc_call(b, "{\"op\":\"lock.acquire\",\"name\":\"T\",\"timeout\":0}");
	ck_assert(!j_bool(r, "acquired"));
	json_decref(r);
	r = tc_call(b, "{\"op\":\"lock.acquire\",\"name\":\"T\",\"timeout\":-0.0}");
	ck_ok(r);
	ck_assert(!j_bool(r, "acquired"));
	json_decref(r);
	tc_close(a);
	tc_close(b);
	daemon_finish(&d);
}
END_TEST

START_TEST(test_pipelined_out_of_order)
{
	struct daemon	 d;
	struct tc	*a, *b;
	json_t		*r;
	double		 t0;

	daemon_start(&d, NULL);
	a = tc_open(d.sock);
	b = tc_open(d.sock);
	json_decref(tc_call(a, "{\"op\":\"lock.acquire\",\"name\":\"P\"}"));
	/* b's acquire blocks; the ping behind it is answered at once. */
	tc_send(b, "{\"op\":\"lock.acquire\",\"name\":\"P\",\"id\":\"acq\"}\n"
	    "{\"op\":\"ping\",\"id\":\"png\"}");
	t0 = now_s();
	r = tc_reply(b);
	ck_assert_str_eq(j_str(r, "id"), "png");
	ck_assert(now_s() - t0 < test_bound(1.0));
	json_decref(r);
	json_decref(tc_call(a, "{\"op\":\"lock.release\",\"name\":\"P\"}"));
	r = tc_reply(b);
	ck_assert_str_eq(j_str(r, "id"), "acq");
	ck_assert(j_bool(r, "acquired"));
	json_decref(r);
	tc_close(a);
	tc_close(b);
	daemon_finish(&d);
}
END_TEST

START_TEST(test_would_deadlock_across_processes)
{
	struct daemon	 d;
	struct tc	*a, *b;
	json_t		*r;

	daemon_start(&d, NULL);
	a = tc_open(d.sock);
	b = tc_open(d.sock);
	json_decref(tc_call(a, "{\"op\":\"lock.acquire\",\"name\":\"x\"}"));
	json_decref(tc_call(b, "{\"op\":\"lock.acquire\",\"name\":\"y\"}"));
	tc_send(a, "{\"op\":\"lock.acquire\",\"name\":\"y\",\"id\":1}");
	json_decref(tc_call(a, "{\"op\":\"ping\"}"));
	r = tc_call(b, "{\"op\":\"lock.acquire\",\"name\":\"x\",\"id\":2}");
	ck_err(r, "would_deadlock");
	ck_assert_int_eq(j_int(r, "id"), 2);
	ck_assert_msg(strstr(j_str(r, "message"), "'x'") != NULL &&
	    strstr(j_str(r, "message"), "'y'") != NULL, "%s", j_dump(r));
	json_decref(r);
	/* b is not queued: when b releases y, a gets it. */
	json_decref(tc_call(b, "{\"op\":\"lock.release\",\"name\":\"y\"}"));
	r = tc_reply(a);
	ck_assert_int_eq(j_int(r, "id"), 1);
	ck_assert(j_bool(r, "acquired"));
	json_decref(r);
	r = tc_call(b, "{\"op\":\"info\",\"name\":\"x\"}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "waiters")), 0);
	json_decref(r);
	tc_close(a);
	tc_close(b);
	daemon_finish(&d);
}
END_TEST

START_TEST(test_errors_of_lock_ops)
{
	struct daemon	 d;
	struct tc	*t;
	json_t		*r;

	daemon_start(&d, NULL);
	t = tc_open(d.sock);
	r = tc_call(t, "{\"op\":\"lock.acquire\"}");
	ck_err(r, "bad_request");
	json_decref(r);
	r = tc_call(t, "{\"op\":\"lock.acquire\",\"name\":5}");
	ck_err(r, "bad_request");
	json_decref(r);
	r = tc_call(t, "{\"op\":\"lock.acquire\",\"name\":\"\"}");
	ck_err(r, "bad_name");
	json_decref(r);
	r = tc_call(t, "{\"op\":\"lock.acquire\",\"name\":\"a\\u0001b\"}");
	ck_err(r, "bad_name");
	json_decref(r);
	r = tc_call(t, "{\"op\":\"lock.acquire\",\"name\":\"x\",\"timeout\":-1}");
	ck_err(r, "bad_request");
	json_decref(r);
	r = tc_call(t, "{\"op\":\"lock.acquire\",\"name\":\"x\",\"timeout\":\"1\"}");
	ck_err(r, "bad_request");
	json_decref(r);
	/* None of the refused requests created anything. */
	r = tc_call(t, "{\"op\":\"stat\"}");
	ck_assert_int_eq(j_int(r, "objects"), 0);
	json_decref(r);
	/* Unknown fields are ignored; a huge timeout is "forever". */
	r = tc_call(t, "{\"op\":\"lock.acquire\",\"name\":\"x\",\"future\":[1],"
	    "\"timeout\":1e300}");
	ck_assert(j_bool(r, "acquired"));
	json_decref(r);
	r = tc_call(t, "{\"op\":\"lock.release\",\"name\":\"x\",\"id\":\"r\"}");
	ck_ok(r);
	ck_assert_uint_eq(json_object_size(r), 2);
	json_decref(r);
	tc_close(t);
	daemon_finish(&d);
}
END_TEST

START_TEST(test_admin_errors_over_socket)
{
	struct daemon	 d;
	struct tc	*a, *b;
	json_t		*r;

	daemon_start(&d, NULL);
	a = tc_open(d.sock);
	b = tc_open(d.sock);
	json_decref(tc_call(a, "{\"op\":\"event.set\",\"name\":\"E\"}"));
	r = tc_call(a, "{\"op\":\"lock.acquire\",\"name\":\"E\"}");
	ck_err(r, "type_mismatch");
	json_decref(r);
	json_decref(tc_call(a, "{\"op\":\"lock.acquire\",\"name\":\"L\"}"));
	tc_send(b, "{\"op\":\"lock.acquire\",\"name\":\"L\",\"id\":\"w1\"}");
	tc_send(b, "{\"op\":\"lock.acquire\",\"name\":\"L\",\"id\":\"w2\"}");
	r = tc_reply(b);
	ck_err(r, "would_deadlock");	/* b already waits for L */
	ck_assert_str_eq(j_str(r, "id"), "w2");
	json_decref(r);
	r = tc_call(a, "{\"op\":\"delete\",\"name\":\"L\"}");
	ck_err(r, "busy");
	json_decref(r);
	tc_send(b, "{\"op\":\"cancel\",\"target\":\"w1\"}");
	r = tc_reply(b);
	ck_err(r, "cancelled");
	json_decref(r);
	r = tc_reply(b);
	ck_assert(j_bool(r, "cancelled"));
	json_decref(r);
	tc_send(b, "{\"op\":\"lock.acquire\",\"name\":\"L\",\"id\":\"w3\"}");
	json_decref(tc_call(b, "{\"op\":\"ping\"}"));
	json_decref(tc_call(a, "{\"op\":\"delete\",\"name\":\"L\",\"force\":true}"));
	r = tc_reply(b);
	ck_err(r, "deleted");
	ck_assert_str_eq(j_str(r, "id"), "w3");
	json_decref(r);
	r = tc_call(a, "{\"op\":\"delete\",\"name\":\"L\"}");
	ck_err(r, "not_found");
	json_decref(r);
	tc_close(a);
	tc_close(b);
	daemon_finish(&d);
}
END_TEST

Suite *
lock_suite(void)
{
	Suite	*s = suite_create("lock");

	ADD_TEST(s, test_ten_waiters_in_arrival_order, 20);
	ADD_TEST(s, test_sigkill_holder_hands_over, 20);
	ADD_TEST(s, test_timeout_bounds, 20);
	ADD_TEST(s, test_pipelined_out_of_order, 20);
	ADD_TEST(s, test_would_deadlock_across_processes, 20);
	ADD_TEST(s, test_errors_of_lock_ops, 20);
	ADD_TEST(s, test_admin_errors_over_socket, 20);
	return (s);
}
