/*
 * harness.h -- what the tests share: a psyncd of their own on a temporary
 * socket, and a line-at-a-time JSON client over a real socket.
 */
#ifndef PSYNC_TEST_HARNESS_H
#define PSYNC_TEST_HARNESS_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

#include <check.h>
#include <jansson.h>

struct daemon {
	pid_t	 pid;
	char	 dir[64];		/* private temporary directory */
	char	 sock[128];		/* dir/psyncd.sock */
	char	 log[128];		/* dir/psyncd.log: its stderr */
};

/* Slowdown factor for deadlines under valgrind or ASan ($PSYNC_TEST_SLOW). */
double	 test_slow(void);

/*
 * How much busier than one runnable task per CPU the machine is now (the
 * 1-minute load or the tasks runnable at this instant, whichever is more,
 * per CPU; at least 1), from /proc/loadavg.
 */
double	 test_load_factor(void);

/*
 * A latency bound of secs on an idle machine, scaled for this run:
 * secs * test_slow() * test_load_factor().  For bounds that a loaded
 * 2-CPU machine could otherwise break; the figure is printed either way.
 */
double	 test_bound(double secs);

/* Monotonic seconds. */
double	 now_s(void);

/*
 * Start psyncd ($PSYNCD, run through $PSYNC_TEST_WRAPPER if set) on a new
 * temporary socket with the extra arguments (NULL-terminated), and wait
 * until it accepts a connection.  Fails the test if it does not.
 */
void	 daemon_start(struct daemon *, ...);

/* Like daemon_start on a socket path chosen by the caller. */
void	 daemon_start_at(struct daemon *, const char *sock, ...);

/* SIGTERM the daemon and reap it; returns its exit status (or -1). */
int	 daemon_stop(struct daemon *);

/* Stop the daemon, assert it exited 0, remove its directory. */
void	 daemon_finish(struct daemon *);

/* False under valgrind or a sanitizer: RSS bounds mean nothing there. */
bool	 rss_meaningful(void);

/* A process's resident memory in KiB, from /proc (-1 if unknown). */
long	 rss_kib(pid_t pid);

/* SIGKILL it and reap it (for restart tests). */
void	 daemon_kill(struct daemon *);

/* A test client: one connection and its read buffer. */
struct tc {
	int	 fd;
	size_t	 len;
	char	 buf[1 << 17];
};

/* Connect to sock; fails the test on error.  Free with tc_close. */
struct tc *tc_open(const char *sock);
void	 tc_close(struct tc *);

/* Connect, retrying until someone serves sock or secs pass. */
struct tc *tc_open_within(const char *sock, double secs);

/* Send raw bytes; fails the test on error. */
void	 tc_send_raw(struct tc *, const void *buf, size_t len);

/* Send what the peer may refuse midway: stop quietly if it closes. */
void	 tc_send_until_closed(struct tc *, const void *buf, size_t len);

/* Send a line (a "\n" is added). */
void	 tc_send(struct tc *, const char *line);

/*
 * Receive the next line within timeout seconds (scaled by test_slow; 0:
 * only what has arrived already) and
 * parse it.  Returns a new reference, or NULL on timeout or EOF
 * (*eof set when the peer closed).
 */
json_t	*tc_recv(struct tc *, double timeout, bool *eof);

/* Receive a reply within a generous deadline; fails the test on timeout. */
json_t	*tc_reply(struct tc *);

/* Send line and return its reply. */
json_t	*tc_call(struct tc *, const char *line);

/* Assert that no line arrives within secs. */
void	 tc_expect_silence(struct tc *, double secs);

/* Assert that the connection is closed by the peer within a deadline. */
void	 tc_expect_eof(struct tc *);

/* Poll stat on t until the daemon counts n connections (deadline). */
void	 tc_wait_connections(struct tc *, long long n);

/* Reply field helpers: they fail the test if the field is absent. */
bool		 j_ok(json_t *r);
const char	*j_err(json_t *r);		/* "error" or "" */
long long	 j_int(json_t *r, const char *key);
bool		 j_bool(json_t *r, const char *key);
const char	*j_str(json_t *r, const char *key);

/* Assert r is ok: true, else print it. */
#define ck_ok(r)	ck_assert_msg(j_ok(r), "not ok: %s", j_dump(r))
/* Assert r failed with code. */
#define ck_err(r, code)	ck_assert_msg(strcmp(j_err(r), (code)) == 0,	\
			    "expected %s: %s", (code), j_dump(r))

/* A compact dump for messages (static buffer: one at a time). */
const char	*j_dump(json_t *r);

/* Suites. */
Suite	*proto_suite(void);
Suite	*objects_suite(void);
Suite	*session_suite(void);
Suite	*primitives_suite(void);
Suite	*primitives_int_suite(void);
Suite	*model_suite(void);
Suite	*client_suite(void);
Suite	*systemd_suite(void);
Suite	*server_suite(void);
Suite	*lock_suite(void);
Suite	*event_suite(void);
Suite	*input_suite(void);
Suite	*limits_suite(void);
Suite	*fork_suite(void);
Suite	*contract_suite(void);

/* Add a test case named after the function with a scaled timeout. */
void	 add_test(Suite *, const char *name, const TTest *fn, double secs);
#define ADD_TEST(s, fn, secs)	add_test((s), #fn, fn, (secs))

#endif
