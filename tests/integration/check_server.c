/*
 * check_server.c -- a real psyncd: server ops, startup, flags, signals,
 * end of input, fencing tokens across restarts.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* Run psyncd with args to completion; its exit status (or -1). */
static int
run_psyncd(const char *errfile, ...)
{
	const char	*argv[32], *a;
	va_list		 ap;
	int		 argc = 0, status;
	pid_t		 pid;

	argv[argc++] = getenv("PSYNCD") != NULL ? getenv("PSYNCD") :
	    "build/psyncd";
	va_start(ap, errfile);
	while ((a = va_arg(ap, const char *)) != NULL && argc < 30)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	if ((pid = fork()) == 0) {
		if (freopen(errfile, "w", stderr) == NULL ||
		    freopen("/dev/null", "w", stdout) == NULL)
			_exit(126);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return (-1);
	return (WEXITSTATUS(status));
}

static bool
file_contains(const char *path, const char *needle)
{
	char	 buf[4096];
	size_t	 n;
	FILE	*f;

	if ((f = fopen(path, "r")) == NULL)
		return (false);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return (strstr(buf, needle) != NULL);
}

START_TEST(test_ping_hello_stat)
{
	struct daemon	 d;
	struct tc	*t;
	json_t		*r, *types;

	daemon_start(&d, NULL);
	t = tc_open(d.sock);
	r = tc_call(t, "{\"op\":\"ping\",\"id\":41}");
	ck_ok(r);
	ck_assert_int_eq(j_int(r, "id"), 41);
	ck_assert_uint_eq(json_object_size(r), 2);
	json_decref(r);
	/* No id in, no id out. */
	r = tc_call(t, "{\"op\":\"ping\"}");
	ck_assert_ptr_null(json_object_get(r, "id"));
	json_decref(r);
	r = tc_call(t, "{\"op\":\"hello\",\"client\":\"tester\",\"id\":\"h\"}");
	ck_ok(r);
	ck_assert_str_eq(j_str(r, "server"), "psyncd");
	ck_assert_int_eq(j_int(r, "protocol"), 1);
	ck_assert_int_ge(j_int(r, "session"), 1);
	ck_assert_ptr_nonnull(json_object_get(r, "version"));
	json_decref(r);
	r = tc_call(t, "{\"op\":\"hello\",\"client\":7}");
	ck_err(r, "bad_request");
	json_decref(r);
	json_decref(tc_call(t, "{\"op\":\"lock.acquire\",\"name\":\"s\"}"));
	r = tc_call(t, "{\"op\":\"stat\"}");
	ck_ok(r);
	ck_assert_int_eq(j_int(r, "connections"), 1);
	ck_assert_int_eq(j_int(r, "objects"), 1);
	ck_assert_int_ge(j_int(r, "ops"), 5);
	types = json_object_get(r, "types");
	ck_assert_int_eq(j_int(types, "lock"), 1);
	ck_assert_int_eq(j_int(types, "event"), 0);
	ck_assert_int_eq(j_int(json_object_get(r, "limits"), "max_connections"),
	    4096);
	ck_assert(json_is_number(json_object_get(r, "uptime")));
	json_decref(r);
	tc_close(t);
	daemon_finish(&d);
}
END_TEST

START_TEST(test_list_and_info)
{
	struct daemon	 d;
	struct tc	*a, *b;
	json_t		*r, *objs, *h, *w;
	long long	 sa, sb;

	daemon_start(&d, NULL);
	a = tc_open(d.sock);
	b = tc_open(d.sock);
	r = tc_call(a, "{\"op\":\"hello\",\"client\":\"alpha\"}");
	sa = j_int(r, "session");
	json_decref(r);
	r = tc_call(b, "{\"op\":\"hello\"}");
	sb = j_int(r, "session");
	ck_assert_int_ne(sa, sb);
	json_decref(r);
	json_decref(tc_call(a, "{\"op\":\"lock.acquire\",\"name\":\"job/1\"}"));
	json_decref(tc_call(a, "{\"op\":\"event.set\",\"name\":\"job/ready\"}"));
	json_decref(tc_call(a, "{\"op\":\"lock.acquire\",\"name\":\"other\"}"));
	tc_send(b, "{\"op\":\"lock.acquire\",\"name\":\"job/1\"}");
	/* b's wait is in before the list: a ping on b comes back after it. */
	json_decref(tc_call(b, "{\"op\":\"ping\"}"));

	r = tc_call(a, "{\"op\":\"list\",\"prefix\":\"job/\"}");
	ck_ok(r);
	objs = json_object_get(r, "objects");
	ck_assert_uint_eq(json_array_size(objs), 2);
	ck_assert_str_eq(j_str(json_array_get(objs, 0), "name"), "job/1");
	ck_assert_str_eq(j_str(json_array_get(objs, 0), "type"), "lock");
	ck_assert_int_eq(j_int(json_array_get(objs, 0), "holders"), 1);
	ck_assert_int_eq(j_int(json_array_get(objs, 0), "waiters"), 1);
	ck_assert_str_eq(j_str(json_array_get(objs, 1), "type"), "event");
	ck_assert(j_bool(json_array_get(objs, 1), "set"));
	json_decref(r);
	r = tc_call(a, "{\"op\":\"list\"}");
	ck_assert_uint_eq(json_array_size(json_object_get(r, "objects")), 3);
	json_decref(r);

	r = tc_call(b, "{\"op\":\"info\",\"name\":\"job/1\"}");
	ck_ok(r);
	ck_assert_str_eq(j_str(r, "type"), "lock");
	h = json_array_get(json_object_get(r, "holders"), 0);
	ck_assert_str_eq(j_str(h, "client"), "alpha");
	ck_assert_int_eq(j_int(h, "pid"), getpid());
	ck_assert_int_eq(j_int(h, "uid"), getuid());
	ck_assert_int_eq(j_int(h, "session"), sa);
	w = json_array_get(json_object_get(r, "waiters"), 0);
	ck_assert(json_is_null(json_object_get(w, "client")));
	ck_assert_int_eq(j_int(w, "session"), sb);
	/* How long each has held or waited, in seconds. */
	ck_assert(json_is_real(json_object_get(h, "held_for")));
	ck_assert(json_real_value(json_object_get(h, "held_for")) >= 0);
	ck_assert(json_real_value(json_object_get(h, "held_for")) < 60);
	ck_assert(json_is_real(json_object_get(w, "waiting_for")));
	ck_assert(json_real_value(json_object_get(w, "waiting_for")) <=
	    json_real_value(json_object_get(h, "held_for")));
	json_decref(r);
	r = tc_call(b, "{\"op\":\"info\",\"name\":\"missing\"}");
	ck_err(r, "not_found");
	json_decref(r);
	r = tc_call(b, "{\"op\":\"info\"}");
	ck_err(r, "bad_request");
	json_decref(r);
	r = tc_call(b, "{\"op\":\"list\",\"prefix\":3}");
	ck_err(r, "bad_request");
	json_decref(r);
	tc_close(a);
	tc_close(b);
	daemon_finish(&d);
}
END_TEST

START_TEST(test_refuses_live_daemon)
{
	struct daemon	 d;
	char		 err[160];

	daemon_start(&d, NULL);
	snprintf(err, sizeof(err), "%s/second.err", d.dir);
	ck_assert_int_eq(run_psyncd(err, "--socket", d.sock, NULL), 1);
	ck_assert_msg(file_contains(err, "another psyncd is running") ||
	    file_contains(err, "already serving"), "no clear message");
	/* The first one still serves. */
	struct tc *t = tc_open(d.sock);
	json_t *r = tc_call(t, "{\"op\":\"ping\"}");
	ck_ok(r);
	json_decref(r);
	tc_close(t);
	daemon_finish(&d);
}
END_TEST

START_TEST(test_two_daemons_racing)
{
	char		 dir[] = "/tmp/psync-race.XXXXXX", sock[64], err[64];
	const char	*bin;
	pid_t		 pid[2];
	int		 i, status, exited = -1;
	double		 deadline;
	struct tc	*t;
	json_t		*r;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/s.sock", dir);
	bin = getenv("PSYNCD") != NULL ? getenv("PSYNCD") : "build/psyncd";
	/* Two daemons on one path at the same moment: exactly one wins. */
	for (i = 0; i < 2; i++) {
		if ((pid[i] = fork()) == 0) {
			snprintf(err, sizeof(err), "%s/err%d", dir, i);
			if (freopen(err, "w", stderr) == NULL)
				_exit(126);
			execl(bin, bin, "--socket", sock, (char *)NULL);
			_exit(127);
		}
	}
	deadline = now_s() + 10 * test_slow();
	while (exited == -1) {
		for (i = 0; i < 2; i++) {
			if (waitpid(pid[i], &status, WNOHANG) == pid[i]) {
				ck_assert_msg(WIFEXITED(status) &&
				    WEXITSTATUS(status) == 1, "loser: %d",
				    status);
				exited = i;
			}
		}
		ck_assert_msg(now_s() < deadline, "neither daemon gave way");
		usleep(2000);	/* polling waitpid, bounded by deadline */
	}
	t = tc_open_within(sock, 10);
	r = tc_call(t, "{\"op\":\"ping\"}");
	ck_ok(r);
	json_decref(r);
	tc_close(t);
	kill(pid[1 - exited], SIGTERM);
	ck_assert_int_eq(waitpid(pid[1 - exited], &status, 0), pid[1 - exited]);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	snprintf(err, sizeof(err), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(err), 0);
}
END_TEST

START_TEST(test_stale_socket_replaced)
{
	struct daemon		 d;
	struct sockaddr_un	 sun;
	char			 dir[] = "/tmp/psync-stale.XXXXXX", path[64];
	int			 fd;
	struct tc		*t;
	json_t			*r;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	/* A socket file nobody listens on: what a crashed daemon leaves. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	close(fd);
	daemon_start_at(&d, path, NULL);
	t = tc_open(path);
	r = tc_call(t, "{\"op\":\"ping\"}");
	ck_ok(r);
	json_decref(r);
	tc_close(t);
	daemon_finish(&d);
	/* Stopped: the socket is gone. */
	ck_assert_int_eq(access(path, F_OK), -1);
	rmdir(dir);
}
END_TEST

START_TEST(test_refuses_unsafe_paths)
{
	char		dir[] = "/tmp/psync-unsafe.XXXXXX", path[128], err[128];
	struct stat	st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(err, sizeof(err), "%s/err", dir);
	/* Not a socket. */
	snprintf(path, sizeof(path), "%s/file", dir);
	fclose(fopen(path, "w"));
	ck_assert_int_eq(run_psyncd(err, "--socket", path, NULL), 1);
	ck_assert(file_contains(err, "not a socket"));
	/* A directory others can write to. */
	snprintf(path, sizeof(path), "%s/open", dir);
	ck_assert_int_eq(mkdir(path, 0777), 0);
	ck_assert_int_eq(chmod(path, 0777), 0);
	snprintf(path, sizeof(path), "%s/open/s.sock", dir);
	ck_assert_int_eq(run_psyncd(err, "--socket", path, NULL), 1);
	ck_assert(file_contains(err, "writable by others"));
	ck_assert_int_eq(access(path, F_OK), -1);
	/* A missing directory is created, private to us. */
	snprintf(path, sizeof(path), "%s/new/s.sock", dir);
	{
		struct daemon	 d;

		daemon_start_at(&d, path, NULL);
		snprintf(path, sizeof(path), "%s/new", dir);
		ck_assert_int_eq(stat(path, &st), 0);
		ck_assert(S_ISDIR(st.st_mode));
		ck_assert_int_eq(st.st_mode & 022, 0);
		daemon_finish(&d);
	}
	snprintf(err, sizeof(err), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(err), 0);
}
END_TEST

START_TEST(test_socket_mode)
{
	struct daemon	d;
	struct stat	st;

	daemon_start(&d, "--socket-mode", "0600", NULL);
	ck_assert_int_eq(stat(d.sock, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	daemon_finish(&d);
	daemon_start(&d, NULL);
	ck_assert_int_eq(stat(d.sock, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0660);
	daemon_finish(&d);
}
END_TEST

START_TEST(test_bad_flags)
{
	static const char *const bad[][2] = {
		{ "--max-connections", "0" },
		{ "--max-connections", "ten" },
		{ "--max-objects", "-5" },
		{ "--max-line", "1x" },
		{ "--max-pending", "" },
		{ "--max-output", "12" },
		{ "--socket-mode", "999" },
		{ "--log-level", "loud" },
		{ "--no-such-flag", "1" },
	};
	char	err[] = "/tmp/psync-flags.XXXXXX";
	size_t	i;
	int	fd;

	ck_assert_int_ne(fd = mkstemp(err), -1);
	close(fd);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(run_psyncd(err, bad[i][0], bad[i][1], NULL) == 2,
		    "%s %s not refused with 2", bad[i][0], bad[i][1]);
		ck_assert(file_contains(err, "psyncd: "));
	}
	ck_assert_int_eq(run_psyncd(err, "--version", NULL), 0);
	ck_assert_int_eq(run_psyncd(err, "--help", NULL), 0);
	unlink(err);
}
END_TEST

START_TEST(test_sigterm_with_waiters)
{
	struct daemon	 d;
	struct tc	*a, *b;
	json_t		*r;
	int		 status;

	daemon_start(&d, NULL);
	a = tc_open(d.sock);
	b = tc_open(d.sock);
	json_decref(tc_call(a, "{\"op\":\"lock.acquire\",\"name\":\"L\"}"));
	tc_send(b, "{\"op\":\"lock.acquire\",\"name\":\"L\",\"id\":1}");
	tc_send(b, "{\"op\":\"event.wait\",\"name\":\"E\",\"id\":2}");
	json_decref(tc_call(b, "{\"op\":\"ping\"}"));
	status = daemon_stop(&d);
	r = tc_reply(b);
	ck_err(r, "shutting_down");
	json_decref(r);
	r = tc_reply(b);
	ck_err(r, "shutting_down");
	json_decref(r);
	tc_expect_eof(b);
	tc_expect_eof(a);
	ck_assert_int_eq(status, 0);
	ck_assert_int_eq(access(d.sock, F_OK), -1);
	tc_close(a);
	tc_close(b);
}
END_TEST

START_TEST(test_eof_answers_then_releases)
{
	struct daemon	 d;
	struct tc	*a, *b;
	json_t		*r;

	daemon_start(&d, NULL);
	a = tc_open(d.sock);
	b = tc_open(d.sock);
	tc_send(b, "{\"op\":\"lock.acquire\",\"name\":\"L\",\"id\":\"first\"}");
	r = tc_reply(b);
	ck_assert(j_bool(r, "acquired"));
	json_decref(r);
	tc_send(a, "{\"op\":\"lock.acquire\",\"name\":\"L\",\"id\":\"w\"}");
	json_decref(tc_call(a, "{\"op\":\"ping\"}"));
	/* b sends a last line without "\n" and shuts its write side. */
	tc_send_raw(b, "{\"op\":\"ping\",\"id\":\"last\"}", 25);
	ck_assert_int_eq(shutdown(b->fd, SHUT_WR), 0);
	r = tc_reply(b);
	ck_ok(r);
	ck_assert_str_eq(j_str(r, "id"), "last");
	json_decref(r);
	tc_expect_eof(b);
	/* Its lock went to a. */
	r = tc_reply(a);
	ck_assert_str_eq(j_str(r, "id"), "w");
	ck_assert(j_bool(r, "acquired"));
	json_decref(r);
	tc_close(a);
	tc_close(b);
	daemon_finish(&d);
}
END_TEST

static long long
token_of(const char *sock)
{
	struct tc	*t = tc_open(sock);
	json_t		*r;
	long long	 tok;

	r = tc_call(t, "{\"op\":\"lock.acquire\",\"name\":\"T\"}");
	ck_assert(j_bool(r, "acquired"));
	tok = j_int(r, "token");
	ck_assert_int_ge(tok, 1);
	ck_assert_int_lt(tok, 1LL << 53);
	json_decref(r);
	tc_close(t);
	return (tok);
}

START_TEST(test_tokens_across_restart)
{
	struct daemon	 d;
	char		 state[160], sock[160], sock_err[160];
	long long	 t1, t2, t3;
	FILE		*f;

	daemon_start(&d, NULL);
	snprintf(state, sizeof(state), "%s/tokens", d.dir);
	snprintf(sock, sizeof(sock), "%s", d.sock);
	t1 = token_of(sock);
	ck_assert_int_gt(token_of(sock), t1);
	daemon_stop(&d);

	/* A restart with a state file whose mark is far ahead of the clock. */
	f = fopen(state, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%lld\n", t1 + 500000000000LL);
	fclose(f);
	{
		struct daemon	d2;

		daemon_start_at(&d2, sock, "--state-file", state, NULL);
		t2 = token_of(sock);
		ck_assert_int_gt(t2, t1 + 500000000000LL);
		/* Killed without a chance to save: still no repeat. */
		daemon_kill(&d2);
		daemon_start_at(&d2, sock, "--state-file", state, NULL);
		t3 = token_of(sock);
		ck_assert_int_gt(t3, t2);
		daemon_finish(&d2);
	}
	/* A corrupt state file is refused rather than risking repeats. */
	f = fopen(state, "w");
	fprintf(f, "garbage\n");
	fclose(f);
	snprintf(sock_err, sizeof(sock_err), "%s/err", d.dir);
	ck_assert_int_eq(run_psyncd(sock_err, "--socket", sock, "--state-file",
	    state, NULL), 1);
	ck_assert(file_contains(sock_err, "not a token count"));
	snprintf(state, sizeof(state), "rm -rf '%s'", d.dir);
	ck_assert_int_eq(system(state), 0);
}
END_TEST

/* As uid/gid 65534 (nobody), connect and return the first reply. */
static int
connect_as_nobody(const char *sock, char *code, size_t size)
{
	int	p[2], status;
	pid_t	pid;
	ssize_t	n;

	ck_assert_int_eq(pipe(p), 0);
	if ((pid = fork()) == 0) {
		struct tc	*t;
		json_t		*r;

		close(p[0]);
		if (setgroups(0, NULL) == -1 || setgid(65534) == -1 ||
		    setuid(65534) == -1)
			_exit(2);
		t = tc_open(sock);
		/* A refused peer may be closed before this gets through. */
		(void)send(t->fd, "{\"op\":\"ping\"}\n", 14, MSG_NOSIGNAL);
		r = tc_recv(t, 10, NULL);
		dprintf(p[1], "%s", r == NULL ? "none" : j_ok(r) ? "ok" :
		    j_err(r));
		_exit(0);
	}
	close(p[1]);
	n = read(p[0], code, size - 1);
	code[n > 0 ? n : 0] = '\0';
	close(p[0]);
	waitpid(pid, &status, 0);
	return (status);
}

START_TEST(test_allow_uid_gid)
{
	struct daemon	 d;
	struct tc	*t;
	json_t		*r;
	char		 code[64], log[8192];
	FILE		*f;
	size_t		 n;

	if (geteuid() != 0) {
		fprintf(stderr, "allow_uid_gid: skipped: needs root to act "
		    "as a second user\n");
		return;
	}
	/* Only root listed: nobody is refused, root served. */
	daemon_start(&d, "--allow-uid", "0", "--socket-mode", "0666", NULL);
	ck_assert_int_eq(chmod(d.dir, 0711), 0);
	ck_assert_int_eq(connect_as_nobody(d.sock, code, sizeof(code)), 0);
	ck_assert_str_eq(code, "forbidden");
	t = tc_open(d.sock);
	r = tc_call(t, "{\"op\":\"ping\"}");
	ck_ok(r);
	json_decref(r);
	tc_close(t);
	f = fopen(d.log, "r");
	n = fread(log, 1, sizeof(log) - 1, f);
	fclose(f);
	log[n] = '\0';
	ck_assert_ptr_nonnull(strstr(log, "refusing pid"));
	ck_assert_ptr_nonnull(strstr(log, "uid 65534"));
	daemon_finish(&d);
	/* Only nobody's group listed: nobody served, root refused too. */
	daemon_start(&d, "--allow-gid", "65534", "--socket-mode", "0666",
	    NULL);
	ck_assert_int_eq(chmod(d.dir, 0711), 0);
	ck_assert_int_eq(connect_as_nobody(d.sock, code, sizeof(code)), 0);
	ck_assert_str_eq(code, "ok");
	t = tc_open(d.sock);
	r = tc_reply(t);			/* unasked */
	ck_err(r, "forbidden");
	ck_assert_ptr_null(json_object_get(r, "id"));
	json_decref(r);
	tc_expect_eof(t);
	tc_close(t);
	daemon_finish(&d);
}
END_TEST

Suite *
server_suite(void)
{
	Suite	*s = suite_create("server");

	ADD_TEST(s, test_ping_hello_stat, 20);
	ADD_TEST(s, test_list_and_info, 20);
	ADD_TEST(s, test_refuses_live_daemon, 20);
	ADD_TEST(s, test_two_daemons_racing, 20);
	ADD_TEST(s, test_stale_socket_replaced, 20);
	ADD_TEST(s, test_refuses_unsafe_paths, 20);
	ADD_TEST(s, test_socket_mode, 20);
	ADD_TEST(s, test_bad_flags, 20);
	ADD_TEST(s, test_sigterm_with_waiters, 20);
	ADD_TEST(s, test_eof_answers_then_releases, 20);
	ADD_TEST(s, test_tokens_across_restart, 30);
	ADD_TEST(s, test_allow_uid_gid, 30);
	return (s);
}
