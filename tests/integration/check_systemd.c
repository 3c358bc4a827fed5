/*
 * check_systemd.c -- running under systemd: socket activation, readiness
 * and stop notifications, the watchdog, and the units' verification and
 * security score.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static const char *
psyncd_bin(void)
{
	return (getenv("PSYNCD") != NULL ? getenv("PSYNCD") : "build/psyncd");
}

static bool
have(const char *prog)
{
	char	cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return (system(cmd) == 0);
}

static pid_t
spawn_argv(const char *const argv[], const char *errfile)
{
	pid_t	pid;

	if ((pid = fork()) == 0) {
		if (freopen(errfile, "w", stderr) == NULL)
			_exit(126);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	ck_assert_int_gt(pid, 0);
	return (pid);
}

/* Reap pid (already told to stop); its exit code, or -1 if killed. */
static int
reap_pid(pid_t pid)
{
	int	status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return (WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static int
stop_pid(pid_t pid)
{
	kill(pid, SIGTERM);
	return (reap_pid(pid));
}

START_TEST(test_socket_activation)
{
	char		 dir[] = "/tmp/psync-sd.XXXXXX", sock[64], err[64];
	char		 cmd[128];
	const char	*argv[6];
	struct tc	*t;
	json_t		*r;
	pid_t		 pid;
	FILE		*f;
	char		 log[4096];
	size_t		 n;

	if (!have("systemd-socket-activate")) {
		fprintf(stderr, "socket_activation: skipped: no "
		    "systemd-socket-activate\n");
		return;
	}
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/act.sock", dir);
	snprintf(err, sizeof(err), "%s/err", dir);
	argv[0] = "systemd-socket-activate";
	argv[1] = "-l";
	argv[2] = sock;
	argv[3] = psyncd_bin();
	argv[4] = NULL;
	pid = spawn_argv(argv, err);
	/* systemd-socket-activate listens; psyncd starts on first connect. */
	t = tc_open_within(sock, 10);
	r = tc_call(t, "{\"op\":\"lock.acquire\",\"name\":\"activated\"}");
	ck_assert(j_bool(r, "acquired"));
	json_decref(r);
	r = tc_call(t, "{\"op\":\"info\",\"name\":\"activated\"}");
	ck_assert_int_eq(j_int(json_array_get(json_object_get(r, "holders"), 0),
	    "pid"), getpid());
	json_decref(r);
	tc_close(t);
	ck_assert_int_eq(stop_pid(pid), 0);
	f = fopen(err, "r");
	n = fread(log, 1, sizeof(log) - 1, f);
	fclose(f);
	log[n] = '\0';
	ck_assert_msg(strstr(log, "using the socket passed by systemd") != NULL,
	    "%s", log);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* Receive one notification datagram within secs; NULL on timeout. */
static bool
recv_notify(int fd, char *buf, size_t size, double secs)
{
	struct pollfd	pfd = { fd, POLLIN, 0 };
	ssize_t		n;

	if (poll(&pfd, 1, (int)(secs * 1000 * test_slow())) != 1)
		return (false);
	n = recv(fd, buf, size - 1, 0);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	return (true);
}

START_TEST(test_notify_ready_watchdog_stopping)
{
	char			 dir[] = "/tmp/psync-notify.XXXXXX";
	char			 nsock[64], sock[64], err[64], buf[512], cmd[96];
	const char		*argv[4];
	struct sockaddr_un	 sun;
	struct tc		*t;
	json_t			*r;
	int			 fd, i;
	bool			 watchdog = false, stopping = false;
	pid_t			 pid;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(nsock, sizeof(nsock), "%s/notify", dir);
	snprintf(sock, sizeof(sock), "%s/psyncd.sock", dir);
	snprintf(err, sizeof(err), "%s/err", dir);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", nsock);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	setenv("NOTIFY_SOCKET", nsock, 1);
	setenv("WATCHDOG_USEC", "200000", 1);
	argv[0] = psyncd_bin();
	argv[1] = "--socket";
	argv[2] = sock;
	argv[3] = NULL;
	pid = spawn_argv(argv, err);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	/* READY=1 comes when it already accepts: connect at once. */
	ck_assert_msg(recv_notify(fd, buf, sizeof(buf), 10), "no READY=1");
	ck_assert_msg(strncmp(buf, "READY=1\n", 8) == 0, "%s", buf);
	ck_assert_ptr_nonnull(strstr(buf, "STATUS="));
	t = tc_open(sock);
	r = tc_call(t, "{\"op\":\"ping\"}");
	ck_ok(r);
	json_decref(r);
	tc_close(t);
	/* The watchdog pings at half of WATCHDOG_USEC. */
	for (i = 0; i < 20 && !watchdog; i++)
		if (recv_notify(fd, buf, sizeof(buf), 1))
			watchdog = strcmp(buf, "WATCHDOG=1") == 0;
	ck_assert_msg(watchdog, "no WATCHDOG=1");
	kill(pid, SIGTERM);
	for (i = 0; i < 40 && !stopping; i++)
		if (recv_notify(fd, buf, sizeof(buf), 1))
			stopping = strcmp(buf, "STOPPING=1") == 0;
	ck_assert_msg(stopping, "no STOPPING=1");
	ck_assert_int_eq(reap_pid(pid), 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(test_units_verify_and_score)
{
	char	 dir[] = "/tmp/psync-units.XXXXXX", cmd[1024], line[512];
	char	 bin[256];
	FILE	*p;
	double	 score = 99;

	if (!have("systemd-analyze")) {
		fprintf(stderr, "units_verify_and_score: skipped: no "
		    "systemd-analyze\n");
		return;
	}
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_ptr_nonnull(realpath(psyncd_bin(), bin));
	/* The units as installed, ExecStart pointing at this build. */
	snprintf(cmd, sizeof(cmd), "sed 's|/usr/local/sbin/psyncd|%s|' "
	    "systemd/psyncd.service > %s/psyncd.service && "
	    "cp systemd/psyncd.socket %s/", bin, dir, dir);
	ck_assert_int_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "systemd-analyze verify %s/psyncd.socket "
	    "%s/psyncd.service 2>&1", dir, dir);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	while (fgets(line, sizeof(line), p) != NULL)
		ck_abort_msg("systemd-analyze verify: %s", line);
	ck_assert_int_eq(pclose(p), 0);
	snprintf(cmd, sizeof(cmd), "systemd-analyze security --offline=true "
	    "%s/psyncd.service 2>&1", dir);
	p = popen(cmd, "r");
	while (fgets(line, sizeof(line), p) != NULL) {
		char *s = strstr(line, "Overall exposure level for "
		    "psyncd.service: ");

		if (s != NULL)
			score = strtod(s + strlen("Overall exposure level for "
			    "psyncd.service: "), NULL);
	}
	pclose(p);
	ck_assert_msg(score <= 1.0, "exposure %.1f > 1.0", score);
	/* sysusers.d makes the psync user and group; tmpfiles.d /run/psync. */
	if (have("systemd-sysusers") && have("systemd-tmpfiles")) {
		snprintf(cmd, sizeof(cmd), "mkdir -p %s/root/etc && "
		    "systemd-sysusers --root=%s/root $PWD/systemd/psync.sysusers "
		    ">/dev/null 2>&1 && grep -q '^psync:x:[0-9]*:[0-9]*:.*"
		    "/usr/sbin/nologin$' %s/root/etc/passwd && "
		    "grep -q '^psync:' %s/root/etc/group && "
		    "systemd-tmpfiles --root=%s/root --create "
		    "$PWD/systemd/psync.tmpfiles >/dev/null 2>&1 && "
		    "test -d %s/root/run/psync", dir, dir, dir, dir, dir, dir);
		ck_assert_msg(system(cmd) == 0, "sysusers/tmpfiles entries");
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

Suite *
systemd_suite(void)
{
	Suite	*s = suite_create("systemd");

	ADD_TEST(s, test_socket_activation, 30);
	ADD_TEST(s, test_notify_ready_watchdog_stopping, 60);
	ADD_TEST(s, test_units_verify_and_score, 60);
	return (s);
}
