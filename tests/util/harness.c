/*
 * harness.c -- test daemon and test client.
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

double
test_slow(void)
{
	const char	*s = getenv("PSYNC_TEST_SLOW");
	double		 f;

	if (s == NULL || (f = atof(s)) < 1)
		return (1);
	return (f);
}

double
test_load_factor(void)
{
	char	 buf[128];
	double	 load1 = 0;
	long	 running = 0, ncpu;
	FILE	*f;

	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 1)
		ncpu = 1;
	if ((f = fopen("/proc/loadavg", "r")) == NULL)
		return (1);
	/* "0.52 0.58 0.59 3/712 4242": the 1-minute load, then runnable. */
	if (fgets(buf, sizeof(buf), f) == NULL ||
	    sscanf(buf, "%lf %*f %*f %ld/", &load1, &running) != 2)
		load1 = running = 0;
	fclose(f);
	/* This process is one of the runnable ones. */
	if ((double)(running - 1) > load1)
		load1 = (double)(running - 1);
	return (load1 / (double)ncpu > 1 ? load1 / (double)ncpu : 1);
}

double
test_bound(double secs)
{
	return (secs * test_slow() * test_load_factor());
}

double
now_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

static int
try_connect(const char *sock)
{
	struct sockaddr_un	sun;
	int			fd;

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return (-1);
	}
	return (fd);
}

static void
daemon_vstart(struct daemon *d, const char *sock, va_list ap)
{
	const char	*argv[64], *bin, *wrap, *a;
	char		*wrapcopy = NULL, *tok, *save;
	int		 argc = 0, fd, status;
	double		 deadline;
	pid_t		 parent = getpid();

	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/psync-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(d->dir));
	if (sock != NULL)
		snprintf(d->sock, sizeof(d->sock), "%s", sock);
	else
		snprintf(d->sock, sizeof(d->sock), "%s/psyncd.sock", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/psyncd.log", d->dir);

	if ((wrap = getenv("PSYNC_TEST_WRAPPER")) != NULL && *wrap != '\0') {
		wrapcopy = strdup(wrap);
		for (tok = strtok_r(wrapcopy, " ", &save); tok != NULL;
		    tok = strtok_r(NULL, " ", &save))
			argv[argc++] = tok;
	}
	bin = getenv("PSYNCD") != NULL ? getenv("PSYNCD") : "build/psyncd";
	argv[argc++] = bin;
	argv[argc++] = "--socket";
	argv[argc++] = d->sock;
	while ((a = va_arg(ap, const char *)) != NULL && argc < 62)
		argv[argc++] = a;
	argv[argc] = NULL;

	d->pid = fork();
	ck_assert_int_ne(d->pid, -1);
	if (d->pid == 0) {
		/* Die with the test process, even if it fails half-way. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		/* $PSYNC_TEST_NOFILE: a low descriptor limit it cannot raise. */
		if (getenv("PSYNC_TEST_NOFILE") != NULL) {
			struct rlimit	rl;

			rl.rlim_cur = rl.rlim_max =
			    (rlim_t)atoi(getenv("PSYNC_TEST_NOFILE"));
			if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
				_exit(126);
		}
		fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd != -1) {
			dup2(fd, 2);
			close(fd);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	free(wrapcopy);
	deadline = now_s() + 10 * test_slow();
	for (;;) {
		if ((fd = try_connect(d->sock)) != -1) {
			close(fd);
			return;
		}
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			d->pid = 0;
			ck_abort_msg("psyncd exited at startup (status %d); "
			    "see %s", status, d->log);
		}
		ck_assert_msg(now_s() < deadline, "psyncd did not start");
		usleep(2000);	/* polling the socket, bounded by deadline */
	}
}

void
daemon_start(struct daemon *d, ...)
{
	va_list	ap;

	va_start(ap, d);
	daemon_vstart(d, NULL, ap);
	va_end(ap);
}

void
daemon_start_at(struct daemon *d, const char *sock, ...)
{
	va_list	ap;

	va_start(ap, sock);
	daemon_vstart(d, sock, ap);
	va_end(ap);
}

static int
reap(pid_t pid, double secs)
{
	double	deadline = now_s() + secs;
	int	status;

	while (now_s() < deadline) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return (status);
		usleep(2000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return (-1);
}

int
daemon_stop(struct daemon *d)
{
	int	status;

	if (d->pid <= 0)
		return (-1);
	ck_assert_int_eq(kill(d->pid, SIGTERM), 0);
	status = reap(d->pid, 20 * test_slow());
	d->pid = 0;
	if (status == -1 || !WIFEXITED(status))
		return (-1);
	return (WEXITSTATUS(status));
}

static void
remove_dir(const char *dir)
{
	char	cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

static void
dump_log(const char *path)
{
	char	 line[512];
	FILE	*f;

	if ((f = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		fprintf(stderr, "psyncd log: %s", line);
	fclose(f);
}

void
daemon_finish(struct daemon *d)
{
	int	code;

	code = daemon_stop(d);
	if (code != 0)
		dump_log(d->log);
	ck_assert_msg(code == 0, "psyncd exited with %d (99: valgrind "
	    "errors; see log above)", code);
	remove_dir(d->dir);
}

bool
rss_meaningful(void)
{
	/* ASan's quarantine and valgrind hold freed memory on purpose. */
	return (getenv("PSYNC_TEST_WRAPPER") == NULL &&
	    getenv("ASAN_OPTIONS") == NULL);
}

long
rss_kib(pid_t pid)
{
	char	 path[64], line[256];
	long	 kib = -1;
	FILE	*f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return (kib);
}

void
daemon_kill(struct daemon *d)
{
	int	status;

	kill(d->pid, SIGKILL);
	waitpid(d->pid, &status, 0);
	d->pid = 0;
}

struct tc *
tc_open_within(const char *sock, double secs)
{
	double	deadline = now_s() + secs * test_slow();
	int	fd;

	while ((fd = try_connect(sock)) == -1) {
		ck_assert_msg(now_s() < deadline, "nobody serves %s", sock);
		usleep(2000);	/* polling the socket, bounded by deadline */
	}
	close(fd);
	return (tc_open(sock));
}

struct tc *
tc_open(const char *sock)
{
	struct tc	*t;
	int		 fd;

	fd = try_connect(sock);
	ck_assert_msg(fd != -1, "connect %s: %s", sock, strerror(errno));
	t = calloc(1, sizeof(*t));
	ck_assert_ptr_nonnull(t);
	t->fd = fd;
	return (t);
}

void
tc_close(struct tc *t)
{
	if (t == NULL)
		return;
	close(t->fd);
	free(t);
}

/* Send all of buf; 0, or -1 with errno if the peer stopped taking it. */
static int
send_all(struct tc *t, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = send(t->fd, p, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return (-1);
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

void
tc_send_raw(struct tc *t, const void *buf, size_t len)
{
	ck_assert_msg(send_all(t, buf, len) == 0, "send: %s", strerror(errno));
}

void
tc_send_until_closed(struct tc *t, const void *buf, size_t len)
{
	(void)send_all(t, buf, len);	/* the peer closing is expected */
}

void
tc_send(struct tc *t, const char *line)
{
	tc_send_raw(t, line, strlen(line));
	tc_send_raw(t, "\n", 1);
}

json_t *
tc_recv(struct tc *t, double timeout, bool *eof)
{
	struct pollfd	 pfd = { t->fd, POLLIN, 0 };
	double		 deadline = now_s() + timeout * test_slow();
	char		*nl;
	size_t		 n;
	ssize_t		 r;
	json_t		*j;
	json_error_t	 err;
	int		 ms;

	if (eof != NULL)
		*eof = false;
	for (;;) {
		if ((nl = memchr(t->buf, '\n', t->len)) != NULL) {
			n = (size_t)(nl - t->buf);
			j = json_loadb(t->buf, n, 0, &err);
			ck_assert_msg(j != NULL, "unparsable reply: %.*s",
			    (int)n, t->buf);
			memmove(t->buf, nl + 1, t->len - n - 1);
			t->len -= n + 1;
			return (j);
		}
		/* Timeout 0 still takes what has already arrived. */
		if ((ms = (int)((deadline - now_s()) * 1000)) < 0)
			ms = 0;
		if ((r = poll(&pfd, 1, ms)) == 0 && ms == 0)
			return (NULL);
		if (r <= 0)
			continue;
		ck_assert_msg(t->len < sizeof(t->buf), "reply too long");
		r = recv(t->fd, t->buf + t->len, sizeof(t->buf) - t->len, 0);
		if (r == 0 || (r == -1 && errno == ECONNRESET)) {
			if (eof != NULL)
				*eof = true;
			return (NULL);
		}
		if (r == -1 && errno == EINTR)
			continue;
		ck_assert_msg(r > 0, "recv: %s", strerror(errno));
		t->len += (size_t)r;
	}
}

json_t *
tc_reply(struct tc *t)
{
	json_t	*j;
	bool	 eof;

	j = tc_recv(t, 10, &eof);
	ck_assert_msg(j != NULL, eof ? "connection closed, no reply" :
	    "no reply within 10 s");
	return (j);
}

json_t *
tc_call(struct tc *t, const char *line)
{
	tc_send(t, line);
	return (tc_reply(t));
}

void
tc_expect_silence(struct tc *t, double secs)
{
	json_t	*j;

	j = tc_recv(t, secs, NULL);
	ck_assert_msg(j == NULL, "unexpected reply: %s", j_dump(j));
}

void
tc_expect_eof(struct tc *t)
{
	json_t	*j;
	bool	 eof;

	for (;;) {
		j = tc_recv(t, 10, &eof);
		if (j == NULL)
			break;
		json_decref(j);
	}
	ck_assert_msg(eof, "connection not closed within 10 s");
}

void
tc_wait_connections(struct tc *t, long long n)
{
	double		 deadline = now_s() + 10 * test_slow();
	json_t		*r;
	long long	 have;

	for (;;) {
		r = tc_call(t, "{\"op\":\"stat\"}");
		have = j_int(r, "connections");
		json_decref(r);
		if (have == n)
			return;
		ck_assert_msg(now_s() < deadline, "%lld connections, not %lld",
		    have, n);
		tc_expect_silence(t, 0.005);
	}
}

bool
j_ok(json_t *r)
{
	return (r != NULL && json_is_true(json_object_get(r, "ok")));
}

const char *
j_err(json_t *r)
{
	json_t	*e = json_object_get(r, "error");

	return (json_is_string(e) ? json_string_value(e) : "");
}

long long
j_int(json_t *r, const char *key)
{
	json_t	*v = json_object_get(r, key);

	ck_assert_msg(json_is_integer(v), "no integer '%s' in %s", key,
	    j_dump(r));
	return (json_integer_value(v));
}

bool
j_bool(json_t *r, const char *key)
{
	json_t	*v = json_object_get(r, key);

	ck_assert_msg(json_is_boolean(v), "no boolean '%s' in %s", key,
	    j_dump(r));
	return (json_is_true(v));
}

const char *
j_str(json_t *r, const char *key)
{
	json_t	*v = json_object_get(r, key);

	ck_assert_msg(json_is_string(v), "no string '%s' in %s", key,
	    j_dump(r));
	return (json_string_value(v));
}

const char *
j_dump(json_t *r)
{
	static char	buf[2048];
	size_t		n;

	if (r == NULL)
		return ("(null)");
	n = json_dumpb(r, buf, sizeof(buf) - 1, JSON_COMPACT);
	if (n >= sizeof(buf) - 1)
		snprintf(buf + sizeof(buf) - 5, 5, "...");
	else
		buf[n] = '\0';
	return (buf);
}

void
add_test(Suite *s, const char *name, const TTest *fn, double secs)
{
	TCase	*tc;

	tc = tcase_create(strncmp(name, "test_", 5) == 0 ? name + 5 : name);
	tcase_set_timeout(tc, secs * test_slow());
	tcase_add_test(tc, fn);
	suite_add_tcase(s, tc);
}
