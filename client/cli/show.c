/*
 * show.c -- psync's look-and-act commands: ping, stat, ls, info, top,
 * delete, raw.  Aligned tables for people; --json prints the daemon's
 * reply as one JSON document instead.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "psync_proto.h"

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/* Parse the JSON text a psync_stat/list/info call returned (and free it). */
static json_t *
parse_reply(char *text)
{
	json_t	*j = json_loads(text, 0, NULL);

	free(text);
	return (j);
}

/* Print j as one JSON document, for jq. */
static void
print_json(const json_t *j)
{
	char	*s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(12));

	if (s != NULL)
		puts(s);
	free(s);
}

/* A value as a short cell: integers, reals, booleans, strings, null. */
static const char *
cell(const json_t *v, char *buf, size_t size)
{
	if (json_is_string(v))
		return (json_string_value(v));
	if (json_is_integer(v))
		snprintf(buf, size, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, size, "%.3f", json_real_value(v));
	else if (json_is_boolean(v))
		snprintf(buf, size, "%s", json_is_true(v) ? "yes" : "no");
	else
		snprintf(buf, size, "-");
	return (buf);
}

/* Is key one of the NULL-terminated list? */
static bool
listed(const char *key, const char *const *list)
{
	for (; list != NULL && *list != NULL; list++)
		if (strcmp(key, *list) == 0)
			return (true);
	return (false);
}

/* An object's members but those in skip, as "k=v k=v", into buf. */
static const char *
pairs(const json_t *o, const char *const *skip, char *buf, size_t size)
{
	const char	*key;
	json_t		*v;
	size_t		 len = 0;
	char		 c[64];

	buf[0] = '\0';
	json_object_foreach((json_t *)o, key, v) {
		if (!listed(key, skip) && len < size)
			len += (size_t)snprintf(buf + len, size - len,
			    "%s%s=%s", len > 0 ? " " : "", key,
			    cell(v, c, sizeof(c)));
	}
	return (buf);
}

/* The type's state, from a list or info entry: its own fields. */
static const char *
state_of(const json_t *o, char *buf, size_t size)
{
	static const char *const generic[] = { "name", "type", "holders",
	    "waiters", NULL };

	return (pairs(o, generic, buf, size));
}

/* ---- ping ---- */

static const char ping_help[] =
"usage: psync [--json] ping\n"
"Whether psyncd answers on the socket, its version and the round trip.\n"
"Exit 0, or 69 if nobody is there.\n";

int
cli_ping(struct cli *c, int argc, char **argv)
{
	double	 t0;
	int	 rc;
	char	*json;
	json_t	*j;

	if (cli_wants_help(argc, argv, ping_help))
		return (CLI_OK);
	if (argc != 1)
		return (cli_usage("ping", "no arguments"));
	cli_connect(c);
	t0 = now();
	if ((rc = psync_ping(c->h)) != PSYNC_OK)
		return (cli_fail(c, rc));
	t0 = now() - t0;
	if ((rc = psync_stat(c->h, &json)) != PSYNC_OK)
		return (cli_fail(c, rc));
	j = parse_reply(json);
	if (c->json) {
		json_object_set_new(j, "rtt", json_real(t0));
		print_json(j);
	} else
		printf("psyncd %s answered in %.3f ms\n",
		    json_string_value(json_object_get(j, "version")), t0 * 1e3);
	json_decref(j);
	return (CLI_OK);
}

/* ---- stat ---- */

static const char stat_help[] =
"usage: psync [--json] stat\n"
"The daemon's version, uptime, connections, objects (per type), requests\n"
"served, input buffered and limits.\n";

int
cli_stat(struct cli *c, int argc, char **argv)
{
	const char	*key;
	json_t		*j, *v;
	char		*json, buf[1024], c1[64];
	int		 rc;

	if (cli_wants_help(argc, argv, stat_help))
		return (CLI_OK);
	if (argc != 1)
		return (cli_usage("stat", "no arguments"));
	cli_connect(c);
	if ((rc = psync_stat(c->h, &json)) != PSYNC_OK)
		return (cli_fail(c, rc));
	j = parse_reply(json);
	if (c->json)
		print_json(j);
	else {
		json_object_foreach(j, key, v) {
			if (json_is_object(v))
				pairs(v, NULL, buf, sizeof(buf));
			else if (strcmp(key, "uptime") == 0)
				cli_duration(json_number_value(v), buf,
				    sizeof(buf));
			else
				snprintf(buf, sizeof(buf), "%s",
				    cell(v, c1, sizeof(c1)));
			printf("%-15s %s\n", key, buf);
		}
	}
	json_decref(j);
	return (CLI_OK);
}

/* ---- ls ---- */

static const char ls_help[] =
"usage: psync [--json] ls [PREFIX]\n"
"Every object (or those whose name starts with PREFIX), sorted by name:\n"
"its type, how many hold it and wait for it, and its state.\n";

/* The width of the longest name in objects, at least min. */
static int
name_width(const json_t *objects, const char *key, int min)
{
	size_t		 i, w = (size_t)min, n;
	const char	*s;

	for (i = 0; i < json_array_size(objects); i++) {
		s = json_string_value(json_object_get(json_array_get(objects,
		    i), key));
		if ((n = s != NULL ? strlen(s) : 0) > w)
			w = n;
	}
	return (w > 60 ? 60 : (int)w);
}

int
cli_ls(struct cli *c, int argc, char **argv)
{
	json_t		*j, *objs, *o;
	char		*json, st[512];
	size_t		 i;
	int		 rc, w;

	if (cli_wants_help(argc, argv, ls_help))
		return (CLI_OK);
	if (argc > 2)
		return (cli_usage("ls", "at most one PREFIX"));
	cli_connect(c);
	if ((rc = psync_list(c->h, argc == 2 ? argv[1] : NULL, &json)) !=
	    PSYNC_OK)
		return (cli_fail(c, rc));
	j = parse_reply(json);
	if (c->json) {
		print_json(j);
		json_decref(j);
		return (CLI_OK);
	}
	objs = json_object_get(j, "objects");
	w = name_width(objs, "name", 4);
	printf("%-*s  %-9s  %7s  %7s  %s\n", w, "NAME", "TYPE", "HOLDERS",
	    "WAITERS", "STATE");
	for (i = 0; i < json_array_size(objs); i++) {
		o = json_array_get(objs, i);
		printf("%-*s  %-9s  %7" JSON_INTEGER_FORMAT "  %7"
		    JSON_INTEGER_FORMAT "  %s\n", w,
		    json_string_value(json_object_get(o, "name")),
		    json_string_value(json_object_get(o, "type")),
		    json_integer_value(json_object_get(o, "holders")),
		    json_integer_value(json_object_get(o, "waiters")),
		    state_of(o, st, sizeof(st)));
	}
	json_decref(j);
	return (CLI_OK);
}

/* ---- info ---- */

static const char info_help[] =
"usage: psync [--json] info NAME\n"
"Who holds NAME and who waits for it, in order: session, pid, uid, the\n"
"client's hello name, how long it has held or waited, and per-type\n"
"details (token, rlock count, rwlock mode, semaphore units, the\n"
"condition a cond.wait waits on).\n";

/* One holder or waiter row; rank 0 for holders. */
static void
info_row(const json_t *e, size_t rank, const char *age_key)
{
	static const char *const shown[] = { "session", "pid", "uid",
	    "client", "held_for", "waiting_for", NULL };
	char		 d[32], rk[16], detail[256];

	pairs(e, shown, detail, sizeof(detail));
	snprintf(rk, sizeof(rk), "%zu", rank);
	printf("  %-4s %7" JSON_INTEGER_FORMAT " %8" JSON_INTEGER_FORMAT
	    " %6" JSON_INTEGER_FORMAT "  %-24s %8s  %s\n",
	    rank == 0 ? "" : rk,
	    json_integer_value(json_object_get(e, "session")),
	    json_integer_value(json_object_get(e, "pid")),
	    json_integer_value(json_object_get(e, "uid")),
	    json_is_string(json_object_get(e, "client")) ?
	    json_string_value(json_object_get(e, "client")) : "-",
	    cli_duration(json_number_value(json_object_get(e, age_key)), d,
	    sizeof(d)), detail);
}

int
cli_info(struct cli *c, int argc, char **argv)
{
	json_t		*j, *list;
	char		*json, st[512];
	size_t		 i;
	int		 rc;

	if (cli_wants_help(argc, argv, info_help))
		return (CLI_OK);
	if (argc != 2)
		return (cli_usage("info", "one NAME"));
	cli_connect(c);
	if ((rc = psync_info(c->h, argv[1], &json)) != PSYNC_OK)
		return (cli_fail(c, rc));
	j = parse_reply(json);
	if (c->json) {
		print_json(j);
		json_decref(j);
		return (CLI_OK);
	}
	printf("%s: %s%s%s\n", json_string_value(json_object_get(j, "name")),
	    json_string_value(json_object_get(j, "type")),
	    *state_of(j, st, sizeof(st)) != '\0' ? ", " : "", st);
	list = json_object_get(j, "holders");
	printf("holders: %zu\n", json_array_size(list));
	if (json_array_size(list) > 0)
		printf("  %-4s %7s %8s %6s  %-24s %8s  %s\n", "", "SESSION",
		    "PID", "UID", "CLIENT", "HELD", "DETAIL");
	for (i = 0; i < json_array_size(list); i++)
		info_row(json_array_get(list, i), 0, "held_for");
	list = json_object_get(j, "waiters");
	printf("waiters: %zu%s\n", json_array_size(list),
	    json_array_size(list) > 1 ? ", first in line first" : "");
	if (json_array_size(list) > 0)
		printf("  %-4s %7s %8s %6s  %-24s %8s  %s\n", "#", "SESSION",
		    "PID", "UID", "CLIENT", "WAITING", "DETAIL");
	for (i = 0; i < json_array_size(list); i++)
		info_row(json_array_get(list, i), i + 1, "waiting_for");
	json_decref(j);
	return (CLI_OK);
}

/* ---- delete ---- */

static const char delete_help[] =
"usage: psync delete NAME [-f|--force]\n"
"Remove object NAME.  One that is held or waited on only with --force:\n"
"its waiters then get \"deleted\" and its holders no longer hold it.\n";

int
cli_delete(struct cli *c, int argc, char **argv)
{
	bool	force = false;
	int	i, rc;
	char	*name = NULL;

	if (cli_wants_help(argc, argv, delete_help))
		return (CLI_OK);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0 || strcmp(argv[i], "-f") == 0)
			force = true;
		else if (name == NULL)
			name = argv[i];
		else
			return (cli_usage("delete", "one NAME [--force]"));
	}
	if (name == NULL)
		return (cli_usage("delete", "NAME [--force]"));
	cli_connect(c);
	if ((rc = psync_delete(c->h, name, force)) != PSYNC_OK)
		return (cli_fail(c, rc));
	return (CLI_OK);
}

/* ---- top ---- */

static volatile sig_atomic_t	top_quit;

static void
on_top_signal(int sig)
{
	(void)sig;
	top_quit = 1;
}

struct top_row {
	json_t	*obj;		/* list entry, borrowed */
	double	 longest;	/* longest wait, seconds */
	double	 held;		/* longest hold */
	long	 pid;		/* first holder's pid, or 0 */
};

static int
top_cmp(const void *a, const void *b)
{
	const struct top_row	*x = a, *y = b;
	json_int_t		 wx, wy;

	wx = json_integer_value(json_object_get(x->obj, "waiters"));
	wy = json_integer_value(json_object_get(y->obj, "waiters"));
	if (wx != wy)
		return (wx > wy ? -1 : 1);
	if (x->longest != y->longest)
		return (x->longest > y->longest ? -1 : 1);
	return (x->held > y->held ? -1 : x->held < y->held);
}

/* The holder and wait times of row's object, from info. */
static void
top_detail(struct cli *c, struct top_row *row)
{
	const char	*name = json_string_value(json_object_get(row->obj,
			    "name"));
	json_t		*j, *list, *e;
	char		*json;
	size_t		 i;
	double		 t;

	if (psync_info(c->h, name, &json) != PSYNC_OK)
		return;
	j = parse_reply(json);
	list = json_object_get(j, "holders");
	for (i = 0; i < json_array_size(list); i++) {
		e = json_array_get(list, i);
		if ((t = json_number_value(json_object_get(e, "held_for"))) >
		    row->held) {
			row->held = t;
			row->pid = (long)json_integer_value(json_object_get(e,
			    "pid"));
		}
	}
	list = json_object_get(j, "waiters");
	for (i = 0; i < json_array_size(list); i++) {
		e = json_array_get(list, i);
		if ((t = json_number_value(json_object_get(e,
		    "waiting_for"))) > row->longest)
			row->longest = t;
	}
	json_decref(j);
}

/* One screen: the header line, then the busiest objects. */
static int
top_snapshot(struct cli *c, int rows, double *last_t, json_int_t *last_ops)
{
	struct top_row	*v;
	json_t		*stat, *list, *objs, *o;
	char		*json, up[32], held[32], wait[32], pid[16];
	size_t		 i, n = 0, shown;
	double		 t = now(), rate = 0;
	json_int_t	 ops;
	int		 rc, w;

	if ((rc = psync_stat(c->h, &json)) != PSYNC_OK)
		return (cli_fail(c, rc));
	stat = parse_reply(json);
	if ((rc = psync_list(c->h, NULL, &json)) != PSYNC_OK) {
		json_decref(stat);
		return (cli_fail(c, rc));
	}
	list = parse_reply(json);
	objs = json_object_get(list, "objects");
	ops = json_integer_value(json_object_get(stat, "ops"));
	if (*last_t > 0 && t > *last_t)
		rate = (double)(ops - *last_ops) / (t - *last_t);
	*last_t = t;
	*last_ops = ops;
	printf("psyncd %s  up %s  %" JSON_INTEGER_FORMAT " connections  %"
	    JSON_INTEGER_FORMAT " objects  %.0f ops/s\n",
	    json_string_value(json_object_get(stat, "version")),
	    cli_duration(json_number_value(json_object_get(stat, "uptime")),
	    up, sizeof(up)),
	    json_integer_value(json_object_get(stat, "connections")),
	    json_integer_value(json_object_get(stat, "objects")), rate);
	/* Objects someone holds or waits for; the details of the first. */
	v = calloc(json_array_size(objs) + 1, sizeof(*v));
	for (i = 0; v != NULL && i < json_array_size(objs); i++) {
		o = json_array_get(objs, i);
		if (json_integer_value(json_object_get(o, "holders")) > 0 ||
		    json_integer_value(json_object_get(o, "waiters")) > 0)
			v[n++].obj = o;
	}
	if (v != NULL)
		qsort(v, n, sizeof(*v), top_cmp);
	shown = rows > 3 && n > (size_t)rows - 3 ? (size_t)rows - 3 : n;
	for (i = 0; i < shown; i++)
		top_detail(c, &v[i]);
	if (v != NULL)
		qsort(v, shown, sizeof(*v), top_cmp);
	w = name_width(objs, "name", 4);
	printf("\n%-*s  %-9s  %7s  %7s  %12s  %8s  %10s\n", w, "NAME", "TYPE",
	    "HOLDERS", "WAITERS", "LONGEST WAIT", "HOLDER", "HELD FOR");
	for (i = 0; i < shown; i++) {
		o = v[i].obj;
		snprintf(pid, sizeof(pid), "%ld", v[i].pid);
		printf("%-*s  %-9s  %7" JSON_INTEGER_FORMAT "  %7"
		    JSON_INTEGER_FORMAT "  %12s  %8s  %10s\n", w,
		    json_string_value(json_object_get(o, "name")),
		    json_string_value(json_object_get(o, "type")),
		    json_integer_value(json_object_get(o, "holders")),
		    json_integer_value(json_object_get(o, "waiters")),
		    v[i].longest > 0 ? cli_duration(v[i].longest, wait,
		    sizeof(wait)) : "-", v[i].pid > 0 ? pid : "-",
		    v[i].pid > 0 ? cli_duration(v[i].held, held,
		    sizeof(held)) : "-");
	}
	if (n > shown)
		printf("... and %zu more\n", n - shown);
	free(v);
	json_decref(list);
	json_decref(stat);
	fflush(stdout);
	return (CLI_OK);
}

static const char top_help[] =
"usage: psync top [-d|--delay S]\n"
"A live view, refreshed every second (-d changes it): the daemon's\n"
"connections, objects and ops per second, then the held or awaited\n"
"objects, most waiters and longest waits first, with the longest holder's\n"
"pid and hold time.  q or Ctrl-C quits.  Piped, it prints one snapshot.\n";

int
cli_top(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "delay",	required_argument,	NULL, 'd' },
		{ NULL, 0, NULL, 0 }
	};
	struct termios	 saved, raw;
	struct winsize	 ws;
	struct sigaction sa;
	struct pollfd	 pfd = { STDIN_FILENO, POLLIN, 0 };
	double		 delay = 1, last_t = 0;
	json_int_t	 last_ops = 0;
	bool		 tty_in;
	char		 key;
	int		 ch, rc, rows = 24;

	if (cli_wants_help(argc, argv, top_help))
		return (CLI_OK);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
		if (ch == 'd' && cli_seconds(optarg, &delay) && delay >= 0.1)
			continue;
		return (cli_usage("top", "-d wants seconds, at least 0.1"));
	}
	cli_connect(c);
	if (!isatty(STDOUT_FILENO))
		return (top_snapshot(c, 1 << 30, &last_t, &last_ops));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_top_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* Keys without Enter, not echoed; restored on the way out. */
	tty_in = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	if (tty_in) {
		raw = saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	rc = CLI_OK;
	while (!top_quit) {
		if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0)
			rows = ws.ws_row;
		printf("\033[H\033[2J");
		if ((rc = top_snapshot(c, rows, &last_t, &last_ops)) != CLI_OK)
			break;
		if (poll(&pfd, tty_in ? 1 : 0, (int)(delay * 1000)) > 0 &&
		    read(STDIN_FILENO, &key, 1) == 1 && (key == 'q' ||
		    key == 'Q'))
			break;
	}
	if (tty_in)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	return (rc);
}

/* ---- raw ---- */

static const char raw_help[] =
"usage: psync raw [JSON...]\n"
"Send each JSON request (one per argument, else each line of standard\n"
"input) and print each reply as it comes, byte for byte: a built-in\n"
"socat.  It ends once every request has its reply.\n";

/* Connect a plain socket where the library would. */
static int
raw_connect(struct cli *c)
{
	struct sockaddr_un	sun;
	char			path[sizeof(sun.sun_path)];
	int			fd;

	if (psync_socket_path(c->socket, path, sizeof(path), NULL) == -1) {
		fprintf(stderr, "psync: unavailable: socket path too long\n");
		exit(CLI_UNAVAILABLE);
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "psync: unavailable: cannot connect to %s: "
		    "%s\n", path, strerror(errno));
		exit(CLI_UNAVAILABLE);
	}
	return (fd);
}

static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = send(fd, buf, len, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		buf += n;
		len -= (size_t)n;
	}
	return (0);
}

/* Send one request line; counts it unless it is blank. */
static int
raw_send(int fd, const char *line, size_t len, size_t *sent)
{
	if (psync_line_blank(line, len))
		return (0);
	if (write_all(fd, line, len) == -1 || write_all(fd, "\n", 1) == -1)
		return (-1);
	(*sent)++;
	return (0);
}

int
cli_raw(struct cli *c, int argc, char **argv)
{
	struct pollfd	 pfd[2];
	char		 in[65536 + 2], out[65536];
	size_t		 inlen = 0, outlen = 0, sent = 0, got = 0, k;
	bool		 in_open = argc == 1;
	ssize_t		 n;
	char		*nl;
	int		 fd, i;

	if (cli_wants_help(argc, argv, raw_help))
		return (CLI_OK);
	(void)c;
	fd = raw_connect(c);
	for (i = 1; i < argc; i++)
		if (raw_send(fd, argv[i], strlen(argv[i]), &sent) == -1)
			break;
	while (in_open || got < sent) {
		pfd[0].fd = fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = in_open ? STDIN_FILENO : -1;
		pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents != 0) {
			n = read(STDIN_FILENO, in + inlen, sizeof(in) - inlen);
			if (n <= 0) {
				in_open = false;
				if (inlen > 0)
					raw_send(fd, in, inlen, &sent);
				inlen = 0;
			} else
				inlen += (size_t)n;
			while ((nl = memchr(in, '\n', inlen)) != NULL) {
				k = (size_t)(nl - in);
				if (raw_send(fd, in, k > 0 && in[k - 1] == '\r' ?
				    k - 1 : k, &sent) == -1)
					in_open = false;
				memmove(in, nl + 1, inlen - k - 1);
				inlen -= k + 1;
			}
			if (inlen == sizeof(in)) {
				/* Longer than the daemon takes: send anyway. */
				raw_send(fd, in, inlen, &sent);
				inlen = 0;
			}
		}
		if (pfd[0].revents != 0) {
			n = recv(fd, out + outlen, sizeof(out) - outlen, 0);
			if (n <= 0)
				break;		/* the daemon closed: done */
			outlen += (size_t)n;
			while ((nl = memchr(out, '\n', outlen)) != NULL) {
				k = (size_t)(nl - out) + 1;
				fwrite(out, 1, k, stdout);
				memmove(out, out + k, outlen - k);
				outlen -= k;
				got++;
			}
			fflush(stdout);
			if (outlen == sizeof(out)) {
				fwrite(out, 1, outlen, stdout);
				outlen = 0;
			}
		}
	}
	if (outlen > 0)
		fwrite(out, 1, outlen, stdout);
	close(fd);
	return (got >= sent ? CLI_OK : CLI_UNAVAILABLE);
}
