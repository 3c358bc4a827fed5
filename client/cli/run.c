/*
 * run.c -- psync lock/rlock/sem: run a command under a primitive, like
 * flock(1); and the shell primitives: barrier, event, counter.
 *
 * The hold lives as long as psync's connection: psync waits for CMD and
 * then releases.  If psync is killed the daemon releases at once (psync
 * is the process that connected, and CMD, forked after the library's
 * fork handler closed the socket in it, has no copy).  SIGTERM, SIGINT
 * and SIGHUP to psync while CMD runs are passed on to CMD as SIGTERM;
 * psync still waits for it.  While waiting for the primitive they cancel
 * the wait and psync exits 128 + the signal.
 */
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/*
 * The signal that asked psync to stop (0: none), the running CMD (0:
 * none) and whether it was told: the handler itself passes the signal
 * on, so none can slip in between a check and a blocking waitpid().
 */
static volatile sig_atomic_t	stop_signal, cmd_pid, cmd_told;

static void
on_stop_signal(int sig)
{
	int	saved = errno;

	stop_signal = sig;
	if (cmd_pid > 0 && !cmd_told) {
		cmd_told = 1;
		kill((pid_t)cmd_pid, SIGTERM);
	}
	errno = saved;
}

/* Catch SIGTERM, SIGINT, SIGHUP without SA_RESTART: waits return EINTR. */
static void
catch_stop_signals(void)
{
	struct sigaction	sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static void
default_stop_signals(void)
{
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/* What one of lock, rlock or sem was asked to do. */
struct under {
	const char	*cmdname;	/* "lock" */
	const char	*name;
	char		**argv;		/* CMD and its arguments */
	double		 timeout;	/* PSYNC_FOREVER by default */
	int		 conflict;	/* exit status on timeout */
	const char	*token_env;
	int		 mode;		/* lock: 0 plain, PSYNC_READ/WRITE */
	long long	 value;		/* sem: --value; -1 if not given */
	bool		 bounded;
};

static const char lock_help[] =
"usage: psync lock NAME [-w|--timeout S] [-n] [-s|--shared | -x|--exclusive]\n"
"                  [-E|--conflict-exit-code N] [--token-env VAR] -- CMD [ARGS...]\n"
"       psync rlock NAME [-w S] [-n] [-E N] [--token-env VAR] -- CMD [ARGS...]\n"
"\n"
"Acquire lock NAME, run CMD, release it, and exit with CMD's status\n"
"(128 + N if a signal N killed it).  The fencing token of the hold is in\n"
"$PSYNC_TOKEN (--token-env changes the name).  If psync is killed the\n"
"daemon releases the lock at once; SIGTERM, SIGINT or SIGHUP to psync\n"
"are passed on to CMD as SIGTERM.  If psyncd says a cluster lock is no\n"
"longer held (its etcd lease could not be kept), or psyncd goes away,\n"
"CMD gets SIGTERM and psync exits 75.\n"
"\n"
"  -w, --timeout S   give up after S seconds (fractions allowed) and exit 1;\n"
"                    0 tries once.  Default: wait forever.\n"
"  -n, --nonblock    the same as --timeout 0 (flock -n)\n"
"  -s, --shared      a shared (read) hold of rwlock NAME: readers run\n"
"                    together, writers alone\n"
"  -x, --exclusive   an exclusive (write) hold of rwlock NAME\n"
"                    (a plain lock and an rwlock of one name conflict:\n"
"                    type_mismatch)\n"
"  -E, --conflict-exit-code N   exit N, not 1, when not acquired in time\n"
"      --token-env VAR          export the token as VAR\n";

static const char sem_help[] =
"usage: psync sem NAME --value N [--bounded] [-w|--timeout S] [-n]\n"
"                 [-E|--conflict-exit-code N] -- CMD [ARGS...]\n"
"\n"
"Take one unit of semaphore NAME (created with N units if missing), run\n"
"CMD, give it back, and exit with CMD's status: at most N such commands\n"
"run at once on the host, a job-slot pool for scripts and cron.  A unit\n"
"comes back if psync dies.  Options as for psync lock.\n";

/*
 * Parse "NAME [OPTIONS] -- CMD..." (options anywhere before "--"), or
 * without "--", "[OPTIONS] NAME CMD...".
 */
static int
parse_under(int argc, char **argv, bool is_sem, bool is_lock,
    struct under *u)
{
	static const struct option opts[] = {
		{ "timeout",		required_argument,	NULL, 'w' },
		{ "nonblock",		no_argument,		NULL, 'n' },
		{ "shared",		no_argument,		NULL, 's' },
		{ "exclusive",		no_argument,		NULL, 'x' },
		{ "conflict-exit-code",	required_argument,	NULL, 'E' },
		{ "token-env",		required_argument,	NULL, 'T' },
		{ "value",		required_argument,	NULL, 'v' },
		{ "bounded",		no_argument,		NULL, 'b' },
		{ NULL, 0, NULL, 0 }
	};
	long long	 n;
	int		 ch, dd, end;

	for (dd = 1; dd < argc && strcmp(argv[dd], "--") != 0; dd++)
		;
	end = dd < argc ? dd : argc;
	opterr = 0;
	while ((ch = getopt_long(end, argv, dd < argc ? "w:nsxE:" : "+w:nsxE:",
	    opts, NULL)) != -1) {
		switch (ch) {
		case 'w':
			if (!cli_seconds(optarg, &u->timeout))
				return (cli_usage(u->cmdname, "--timeout wants "
				    "seconds, not '%s'", optarg));
			break;
		case 'n':
			u->timeout = 0;
			break;
		case 's':
		case 'x':
			if (!is_lock)
				return (cli_usage(u->cmdname, "-%c is for psync "
				    "lock", ch));
			u->mode = ch == 's' ? PSYNC_READ : PSYNC_WRITE;
			break;
		case 'E':
			if (!cli_integer(optarg, 0, 255, &n))
				return (cli_usage(u->cmdname, "--conflict-exit-"
				    "code wants 0 to 255, not '%s'", optarg));
			u->conflict = (int)n;
			break;
		case 'T':
			u->token_env = optarg;
			break;
		case 'v':
			if (!is_sem || !cli_integer(optarg, 0, 1LL << 53, &n))
				return (cli_usage(u->cmdname, "--value wants a "
				    "count from 0, for psync sem"));
			u->value = n;
			break;
		case 'b':
			if (!is_sem)
				return (cli_usage(u->cmdname, "--bounded is for "
				    "psync sem"));
			u->bounded = true;
			break;
		default:
			return (cli_usage(u->cmdname, "unknown option '%s'",
			    argv[optind - 1]));
		}
	}
	if (optind >= end)
		return (cli_usage(u->cmdname, "NAME is missing"));
	u->name = argv[optind++];
	if (dd < argc) {
		if (optind != end)
			return (cli_usage(u->cmdname, "one NAME before --, not "
			    "'%s' too", argv[optind]));
		u->argv = argv + dd + 1;
	} else
		u->argv = argv + optind;
	if (u->argv[0] == NULL)
		return (cli_usage(u->cmdname, "CMD is missing (psync %s NAME "
		    "-- CMD [ARGS...])", u->cmdname));
	if (is_sem && u->value < 0)
		return (cli_usage(u->cmdname, "--value N is required"));
	return (CLI_OK);
}

/* A cluster hold was lost: say so; run_cmd stops CMD. */
static void
on_lost(psync_t *h, const char *name, const char *type, uint64_t token,
    const char *message, void *arg)
{
	(void)h;
	(void)arg;
	fprintf(stderr, "psync: %s '%s' (token %" PRIu64 ") is no longer "
	    "held: %s; stopping the command\n", type, name, token, message);
}

/*
 * Wait for CMD (pid) while watching h: if psyncd says a cluster hold is
 * lost, or the connection goes (and the hold with it), CMD is sent
 * SIGTERM and *lost set.  With no pidfd (kernels before 5.3), a plain
 * waitpid: then nothing is watched.
 */
static int
wait_cmd(psync_t *h, pid_t pid, int *status, bool *lost)
{
	struct pollfd	 pfd[2];
	uint64_t	 n = 0;
	pid_t		 r;
	int		 pidfd;

	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	pfd[0].fd = pidfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = psync_fd(h);
	pfd[1].events = POLLIN;
	if (pidfd != -1 && psync_poll_notices(h, &n) == PSYNC_OK && n > 0)
		pfd[1].fd = -1;		/* lost with the acquire's reply */
	for (;;) {
		if (n > 0 && !*lost) {
			*lost = true;
			kill(pid, SIGTERM);
		}
		if ((r = waitpid(pid, status, pidfd == -1 ? 0 : WNOHANG)) ==
		    pid)
			break;
		if (r == -1 && errno != EINTR) {
			fprintf(stderr, "psync: waitpid: %s\n", strerror(errno));
			if (pidfd != -1)
				close(pidfd);
			return (-1);
		}
		if (r != 0 || poll(pfd, 2, -1) <= 0 ||
		    (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) == 0)
			continue;
		if (psync_poll_notices(h, &n) != PSYNC_OK) {
			fprintf(stderr, "psync: the connection to psyncd is "
			    "gone, and what it held with it; stopping the "
			    "command\n");
			n = 1;
		}
		if (n > 0)
			pfd[1].fd = -1;
	}
	if (pidfd != -1)
		close(pidfd);
	return (0);
}

/* Run CMD to its end; its status as a shell reports it. */
static int
run_cmd(psync_t *h, struct under *u, bool has_token, uint64_t token)
{
	sigset_t stop, old;
	char	 tok[24];
	pid_t	 pid;
	int	 status;
	bool	 lost = false;

	if ((pid = fork()) == -1) {
		fprintf(stderr, "psync: fork: %s\n", strerror(errno));
		return (CLI_SOFTWARE);
	}
	if (pid == 0) {
		default_stop_signals();
		if (has_token) {
			snprintf(tok, sizeof(tok), "%" PRIu64, token);
			setenv(u->token_env, tok, 1);
		}
		execvp(u->argv[0], u->argv);
		fprintf(stderr, "psync: cannot run %s: %s\n", u->argv[0],
		    strerror(errno));
		_exit(errno == ENOENT ? CLI_NOT_FOUND : CLI_CANNOT_EXEC);
	}
	/* A stop signal that came before CMD was known goes on now. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop, &old);
	cmd_pid = pid;
	if (stop_signal != 0 && !cmd_told) {
		cmd_told = 1;
		kill(pid, SIGTERM);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (wait_cmd(h, pid, &status, &lost) == -1)
		return (CLI_SOFTWARE);
	cmd_pid = 0;
	if (lost)
		return (CLI_LOST);
	if (WIFSIGNALED(status))
		return (128 + WTERMSIG(status));
	return (WEXITSTATUS(status));
}

/* Name the connection after what it runs, for info and top. */
static void
hello(psync_t *h, const struct under *u)
{
	char	 name[128];
	size_t	 i;

	snprintf(name, sizeof(name), "psync %s: %s", u->cmdname, u->argv[0]);
	for (i = 0; name[i] != '\0'; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			name[i] = '?';
	(void)psync_hello(h, name, NULL);	/* cosmetic: errors ignored */
}

static int
run_under(struct cli *c, struct under *u, bool is_sem)
{
	psync_t		*h = cli_connect(c);
	uint64_t	 token = 0;
	uint32_t	 depth;
	int		 rc, status;

	hello(h, u);
	/* Told at once if a cluster hold is lost (local ones never are). */
	(void)psync_set_lost_handler(h, on_lost, NULL);
	catch_stop_signals();
	psync_set_interruptible(h, true);
	if (is_sem) {
		rc = psync_sem_open(h, u->name, u->value, u->bounded, NULL);
		if (rc == PSYNC_OK)
			rc = psync_sem_acquire(h, u->name, u->timeout, NULL);
	} else if (strcmp(u->cmdname, "rlock") == 0)
		rc = psync_rlock_acquire(h, u->name, u->timeout, &depth, &token);
	else if (u->mode != 0)
		rc = psync_rwlock_acquire(h, u->name, u->mode, u->timeout,
		    &token);
	else
		rc = psync_lock_acquire(h, u->name, u->timeout, &token);
	if (rc == PSYNC_TIMEDOUT)
		return (u->conflict);		/* silent, as flock -w */
	if (rc == PSYNC_EINTR || (rc == PSYNC_OK && stop_signal != 0))
		return (128 + stop_signal);	/* closing releases it */
	if (rc != PSYNC_OK)
		return (cli_fail(c, rc));
	status = run_cmd(h, u, !is_sem, token);
	/* Release explicitly; closing the connection would do it too. */
	psync_set_interruptible(h, false);
	if (is_sem)
		(void)psync_sem_release(h, u->name, 1, NULL);
	else if (strcmp(u->cmdname, "rlock") == 0)
		(void)psync_rlock_release(h, u->name, &depth);
	else if (u->mode != 0)
		(void)psync_rwlock_release(h, u->name);
	else
		(void)psync_lock_release(h, u->name);
	return (status);
}

int
cli_lock(struct cli *c, int argc, char **argv)
{
	struct under	u = { .cmdname = argv[0], .timeout = PSYNC_FOREVER,
			    .conflict = CLI_TIMEOUT, .token_env = "PSYNC_TOKEN",
			    .value = -1 };
	int		rc;

	if (cli_wants_help(argc, argv, lock_help))
		return (CLI_OK);
	if ((rc = parse_under(argc, argv, false, strcmp(argv[0], "lock") == 0,
	    &u)) != CLI_OK)
		return (rc);
	return (run_under(c, &u, false));
}

int
cli_sem(struct cli *c, int argc, char **argv)
{
	struct under	u = { .cmdname = "sem", .timeout = PSYNC_FOREVER,
			    .conflict = CLI_TIMEOUT, .token_env = "PSYNC_TOKEN",
			    .value = -1 };
	int		rc;

	if (cli_wants_help(argc, argv, sem_help))
		return (CLI_OK);
	if ((rc = parse_under(argc, argv, true, false, &u)) != CLI_OK)
		return (rc);
	return (run_under(c, &u, true));
}

/* ---- barrier ---- */

static const char barrier_help[] =
"usage: psync barrier NAME [--parties N] [-w|--timeout S]\n"
"\n"
"Wait at barrier NAME (created for N parties if missing) until N have\n"
"arrived; print this party's index (0 to N-1, in arrival order).\n"
"Exit 0; 1 if the wait timed out (which breaks the barrier for every\n"
"party, as in Python); 2 if it is broken (another party timed out, left\n"
"or died, or it was aborted).\n";

int
cli_barrier(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "parties",	required_argument,	NULL, 'p' },
		{ "timeout",	required_argument,	NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	long long	 parties = 0;
	double		 timeout = PSYNC_FOREVER, t0;
	unsigned	 index;
	int		 ch, rc;

	if (cli_wants_help(argc, argv, barrier_help))
		return (CLI_OK);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "p:w:", opts, NULL)) != -1) {
		if (ch == 'p' && cli_integer(optarg, 1, 1000000, &parties))
			continue;
		if (ch == 'w' && cli_seconds(optarg, &timeout))
			continue;
		return (cli_usage("barrier", "bad option or value '%s'",
		    argv[optind - 1]));
	}
	if (optind != argc - 1)
		return (cli_usage("barrier", "one NAME, please"));
	cli_connect(c);
	catch_stop_signals();
	psync_set_interruptible(c->h, true);
	if (parties > 0 && (rc = psync_barrier_open(c->h, argv[optind],
	    (unsigned)parties)) != PSYNC_OK)
		return (cli_fail(c, rc));
	t0 = now();
	rc = psync_barrier_wait(c->h, argv[optind], timeout, &index);
	if (rc == PSYNC_OK) {
		printf("%u\n", index);
		return (CLI_OK);
	}
	if (rc == PSYNC_EINTR)
		return (128 + stop_signal);
	/* Our own timeout breaks it too: only time tells the two apart. */
	if (rc == PSYNC_EBROKEN && timeout >= 0 && now() - t0 >= timeout) {
		fprintf(stderr, "psync: timeout: %s\n", psync_errmsg(c->h));
		return (CLI_TIMEOUT);
	}
	return (cli_fail(c, rc));
}

/* ---- event ---- */

static const char event_help[] =
"usage: psync event set NAME\n"
"       psync event clear NAME\n"
"       psync event wait NAME [-w|--timeout S]   exit 0 once set, 1 on timeout\n"
"       psync event is-set NAME [-q]            print set or clear; exit 0 if set\n";

int
cli_event(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout",	required_argument,	NULL, 'w' },
		{ "quiet",	no_argument,		NULL, 'q' },
		{ NULL, 0, NULL, 0 }
	};
	double		 timeout = PSYNC_FOREVER;
	bool		 quiet = false, set;
	const char	*verb, *name;
	int		 ch, rc;

	if (cli_wants_help(argc, argv, event_help))
		return (CLI_OK);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "w:q", opts, NULL)) != -1) {
		if (ch == 'w' && cli_seconds(optarg, &timeout))
			continue;
		if (ch == 'q') {
			quiet = true;
			continue;
		}
		return (cli_usage("event", "bad option or value '%s'",
		    argv[optind - 1]));
	}
	if (optind != argc - 2)
		return (cli_usage("event", "set|clear|wait|is-set NAME"));
	verb = argv[optind];
	name = argv[optind + 1];
	cli_connect(c);
	if (strcmp(verb, "set") == 0)
		rc = psync_event_set(c->h, name);
	else if (strcmp(verb, "clear") == 0)
		rc = psync_event_clear(c->h, name);
	else if (strcmp(verb, "wait") == 0) {
		catch_stop_signals();
		psync_set_interruptible(c->h, true);
		rc = psync_event_wait(c->h, name, timeout);
		if (rc == PSYNC_TIMEDOUT)
			return (CLI_TIMEOUT);
		if (rc == PSYNC_EINTR)
			return (128 + stop_signal);
	} else if (strcmp(verb, "is-set") == 0) {
		if ((rc = psync_event_is_set(c->h, name, &set)) != PSYNC_OK)
			return (cli_fail(c, rc));
		if (!quiet)
			puts(set ? "set" : "clear");
		return (set ? CLI_OK : CLI_TIMEOUT);
	} else
		return (cli_usage("event", "unknown verb '%s'", verb));
	return (rc == PSYNC_OK ? CLI_OK : cli_fail(c, rc));
}

/* ---- counter ---- */

static const char counter_help[] =
"usage: psync counter get NAME\n"
"       psync counter set NAME VALUE\n"
"       psync counter add NAME [DELTA]      (default 1; prints the new value)\n"
"       psync counter cas NAME EXPECT VALUE (exit 0 if swapped, 1 if not)\n"
"A signed 64-bit integer, 0 until set; each prints the value after.\n";

int
cli_counter(struct cli *c, int argc, char **argv)
{
	const long long	 lo = INT64_MIN, hi = INT64_MAX;
	long long	 a = 1, b = 0;
	int64_t		 v = 0;
	bool		 swapped = true;
	const char	*verb;
	int		 rc, want;

	if (cli_wants_help(argc, argv, counter_help))
		return (CLI_OK);
	if (argc < 3)
		return (cli_usage("counter", "get|set|add|cas NAME ..."));
	verb = argv[1];
	want = strcmp(verb, "get") == 0 ? 3 : strcmp(verb, "set") == 0 ? 4 :
	    strcmp(verb, "add") == 0 ? (argc == 3 ? 3 : 4) :
	    strcmp(verb, "cas") == 0 ? 5 : 0;
	if (want == 0)
		return (cli_usage("counter", "unknown verb '%s'", verb));
	if (argc != want)
		return (cli_usage("counter", "wrong number of arguments for "
		    "%s", verb));
	if ((argc > 3 && !cli_integer(argv[3], lo, hi, &a)) ||
	    (argc > 4 && !cli_integer(argv[4], lo, hi, &b)))
		return (cli_usage("counter", "values are 64-bit integers"));
	cli_connect(c);
	switch (verb[0]) {
	case 'g':
		rc = psync_counter_get(c->h, argv[2], &v);
		break;
	case 's':
		rc = psync_counter_set(c->h, argv[2], a);
		v = a;
		break;
	case 'a':
		rc = psync_counter_add(c->h, argv[2], a, &v);
		break;
	default:
		rc = psync_counter_cas(c->h, argv[2], a, b, &swapped, &v);
		break;
	}
	if (rc != PSYNC_OK)
		return (cli_fail(c, rc));
	printf("%" PRId64 "\n", v);
	return (swapped ? CLI_OK : CLI_TIMEOUT);
}
