/*
 * main.c -- psync(1): global options, the command table, errors.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Every subcommand: its name, its function, a line for psync --help. */
#define CLI_COMMANDS(X)							\
	X("lock",    cli_lock,    "NAME [-w S] [-s|-x] -- CMD...  run CMD holding a lock") \
	X("rlock",   cli_lock,    "NAME [-w S] -- CMD...  run CMD holding an rlock") \
	X("sem",     cli_sem,     "NAME --value N [-w S] -- CMD...  at most N such CMDs at once") \
	X("barrier", cli_barrier, "NAME --parties N [-w S]  wait for N parties; print the index") \
	X("event",   cli_event,   "set|clear|wait|is-set NAME [-w S]") \
	X("counter", cli_counter, "get|set|add|cas NAME [...]  an atomic 64-bit counter") \
	X("ping",    cli_ping,    "is psyncd there?") \
	X("stat",    cli_stat,    "the daemon's counts and limits") \
	X("ls",      cli_ls,      "[PREFIX]  the objects, with holders and waiters") \
	X("info",    cli_info,    "NAME  who holds it, who waits, for how long") \
	X("top",     cli_top,     "a live view of the busiest objects (q to quit)") \
	X("delete",  cli_delete,  "NAME [--force]  remove an object") \
	X("raw",     cli_raw,     "[JSON...]  send requests (else stdin), print replies")

struct cli_command {
	const char	*name;
	cli_cmd_fn	 fn;
	const char	*summary;
};

static const struct cli_command commands[] = {
#define CLI_COMMAND_ENTRY(name, fn, summary) { name, fn, summary },
	CLI_COMMANDS(CLI_COMMAND_ENTRY)
#undef CLI_COMMAND_ENTRY
	{ NULL, NULL, NULL }
};

static const char exit_help[] =
"Exit status:\n"
"  0    success (for lock, rlock and sem: CMD's own status)\n"
"  1    not acquired within the timeout (--conflict-exit-code N changes\n"
"       it), event not set, cas not swapped, barrier wait timed out\n"
"  2    the barrier is broken\n"
"  64   bad usage\n"
"  65   the daemon refused the request (a bad name, a type mismatch...)\n"
"  69   no psyncd on the socket\n"
"  70   a reply that made no sense\n"
"  75   the hold was lost while CMD ran (a cluster lease, or psyncd gone)\n"
"  126  CMD cannot be run; 127  CMD not found\n"
"  128+N  CMD was killed by signal N\n";

static void
usage(FILE *f)
{
	const struct cli_command	*c;

	fprintf(f, "usage: psync [--socket PATH] [--json] COMMAND [ARGS...]\n"
	    "       psync COMMAND --help | psync --version\n\nCommands:\n");
	for (c = commands; c->name != NULL; c++)
		fprintf(f, "  %-8s %s\n", c->name, c->summary);
	fprintf(f, "\nThe socket: --socket, else $PSYNC_SOCKET, else "
	    "/run/psync/psyncd.sock for root,\nelse "
	    "$XDG_RUNTIME_DIR/psync/psyncd.sock, else "
	    "/tmp/psync-$UID/psyncd.sock.\n\n%s", exit_help);
}

psync_t *
cli_connect(struct cli *c)
{
	char	err[512];

	if (c->h != NULL)
		return (c->h);
	if ((c->h = psync_connect_err(c->socket, err, sizeof(err))) == NULL) {
		fprintf(stderr, "psync: unavailable: %s\n", err);
		exit(CLI_UNAVAILABLE);
	}
	return (c->h);
}

/* The <code> of "psync: <code>: <message>" for a library result. */
static const char *
result_code(int rc)
{
	switch (rc) {
	case PSYNC_TIMEDOUT:	return ("timeout");
	case PSYNC_EIO:		return ("unavailable");
	case PSYNC_EPROTO:	return ("protocol");
	case PSYNC_EFORK:	return ("fork");
	case PSYNC_EINVAL:	return ("invalid");
	case PSYNC_ENOMEM:	return ("out_of_memory");
	case PSYNC_EINTR:	return ("interrupted");
	case PSYNC_EAGAIN:	return ("no_reply");
	default:		return (psync_strerror(rc));
	}
}

int
cli_fail(struct cli *c, int rc)
{
	const char	*msg = c->h != NULL ? psync_errmsg(c->h) : "";

	fprintf(stderr, "psync: %s: %s\n", result_code(rc),
	    *msg != '\0' ? msg : psync_strerror(rc));
	switch (rc) {
	case PSYNC_TIMEDOUT:
		return (CLI_TIMEOUT);
	case PSYNC_EBROKEN:
		return (CLI_BROKEN);
	case PSYNC_EIO:
		return (CLI_UNAVAILABLE);
	case PSYNC_EPROTO:
	case PSYNC_ENOMEM:
		return (CLI_SOFTWARE);
	case PSYNC_EINVAL:
		return (CLI_USAGE);
	default:
		return (CLI_REFUSED);
	}
}

int
cli_usage(const char *cmd, const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "psync%s%s: usage: ", cmd != NULL ? " " : "",
	    cmd != NULL ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(psync %s --help for more)\n", cmd != NULL ? cmd :
	    "");
	return (CLI_USAGE);
}

bool
cli_seconds(const char *s, double *out)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno != 0 || isnan(v) || v < 0)
		return (false);
	*out = v;
	return (true);
}

bool
cli_integer(const char *s, long long min, long long max, long long *out)
{
	char		*end;
	long long	 v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		return (false);
	*out = v;
	return (true);
}

bool
cli_wants_help(int argc, char **argv, const char *text)
{
	int	i;

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			fputs(text, stdout);
			return (true);
		}
	}
	return (false);
}

const char *
cli_duration(double secs, char *buf, size_t size)
{
	long	s = (long)secs;

	if (secs < 10)
		snprintf(buf, size, "%.1fs", secs);
	else if (secs < 60)
		snprintf(buf, size, "%lds", s);
	else if (secs < 3600)
		snprintf(buf, size, "%ldm%02lds", s / 60, s % 60);
	else if (secs < 86400)
		snprintf(buf, size, "%ldh%02ldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, size, "%ldd%02ldh", s / 86400, s % 86400 / 3600);
	return (buf);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket",	required_argument,	NULL, 'S' },
		{ "json",	no_argument,		NULL, 'j' },
		{ "help",	no_argument,		NULL, 'h' },
		{ "version",	no_argument,		NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const struct cli_command	*cmd;
	struct cli			 c;
	int				 ch, rc, at;

	memset(&c, 0, sizeof(c));
	/* "+": the first non-option is the command; its options are its own. */
	while ((ch = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (ch) {
		case 'S':
			c.socket = optarg;
			break;
		case 'j':
			c.json = true;
			break;
		case 'h':
			usage(stdout);
			return (CLI_OK);
		case 'V':
			printf("psync %s (protocol 1)\n", PSYNC_VERSION);
			return (CLI_OK);
		default:
			usage(stderr);
			return (CLI_USAGE);
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return (CLI_USAGE);
	}
	for (cmd = commands; cmd->name != NULL; cmd++)
		if (strcmp(cmd->name, argv[optind]) == 0)
			break;
	if (cmd->name == NULL)
		return (cli_usage(NULL, "unknown command '%s'", argv[optind]));
	/*
	 * Each command parses its own argv from 1 (argv[0]: its name);
	 * optind 0 makes glibc's getopt start over.
	 */
	at = optind;
	optind = 0;
	rc = cmd->fn(&c, argc - at, argv + at);
	psync_close(c.h);
	return (rc);
}
