/*
 * cli.h -- psync(1), the command line of psync: what its three files
 * share.  main.c parses the global options and dispatches; run.c runs a
 * command under a primitive and does the shell primitives; show.c looks
 * (ping, stat, ls, info, top) and acts (delete, raw).
 */
#ifndef PSYNC_CLI_H
#define PSYNC_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include <psync.h>

/* Exit statuses, documented in psync --help, psync(1) and the README. */
enum cli_exit {
	CLI_OK = 0,
	CLI_TIMEOUT = 1,	/* not acquired in time; --conflict-exit-code */
	CLI_BROKEN = 2,		/* the barrier is broken */
	CLI_USAGE = 64,		/* EX_USAGE: bad command line */
	CLI_REFUSED = 65,	/* EX_DATAERR: the daemon refused the request */
	CLI_UNAVAILABLE = 69,	/* EX_UNAVAILABLE: no daemon there */
	CLI_SOFTWARE = 70,	/* EX_SOFTWARE: a reply that made no sense */
	CLI_LOST = 75,		/* EX_TEMPFAIL: the hold was lost under CMD */
	CLI_CANNOT_EXEC = 126,	/* CMD found but not runnable, as in sh */
	CLI_NOT_FOUND = 127	/* CMD not found, as in sh */
};

/* The one context: global options and the connection. */
struct cli {
	const char	*socket;	/* --socket, or NULL: $PSYNC_SOCKET... */
	bool		 json;		/* --json: raw replies */
	psync_t		*h;		/* connected by cli_connect */
};

/* A subcommand: argv[0] is its name; returns an enum cli_exit. */
typedef int	(*cli_cmd_fn)(struct cli *, int argc, char **argv);

/* main.c */

/* Connect c->h (once); on failure print why and exit 69. */
psync_t	*cli_connect(struct cli *);

/*
 * Report a failed library call rc as one line, "psync: <code>: <message>",
 * and return its exit status.
 */
int	 cli_fail(struct cli *, int rc);

/* Report a usage error for command cmd ("psync lock: ..."); 64. */
int	 cli_usage(const char *cmd, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* Parse seconds for --timeout; false if s is not a number >= 0. */
bool	 cli_seconds(const char *s, double *out);

/* Parse a decimal integer within [min, max]; false otherwise. */
bool	 cli_integer(const char *s, long long min, long long max,
	    long long *out);

/* Print a help text for command cmd if argv asks for it (-h, --help). */
bool	 cli_wants_help(int argc, char **argv, const char *text);

/* run.c: run a command under a primitive, and the shell primitives. */
int	 cli_lock(struct cli *, int, char **);
int	 cli_sem(struct cli *, int, char **);
int	 cli_barrier(struct cli *, int, char **);
int	 cli_event(struct cli *, int, char **);
int	 cli_counter(struct cli *, int, char **);

/* show.c: look and act. */
int	 cli_ping(struct cli *, int, char **);
int	 cli_stat(struct cli *, int, char **);
int	 cli_ls(struct cli *, int, char **);
int	 cli_info(struct cli *, int, char **);
int	 cli_top(struct cli *, int, char **);
int	 cli_delete(struct cli *, int, char **);
int	 cli_raw(struct cli *, int, char **);

/* Print a duration of secs seconds in a few characters ("12.5s", "3m02s"). */
const char *cli_duration(double secs, char *buf, size_t size);

#endif
