/*
 * main.c -- psyncd: flags, startup, and the exit code.
 *
 * Layer 8, daemon.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server.h"
#include "systemd.h"
#include "version.h"

static void
usage(FILE *f)
{
	fprintf(f,
"usage: psyncd [options]\n"
"\n"
"Serve locks, events and other synchronization objects to local processes\n"
"over a Unix-domain socket (newline-delimited JSON, see PROTOCOL.md).\n"
"\n"
"  --socket PATH          socket path (default: $PSYNC_SOCKET, else\n"
"                         /run/psync/psyncd.sock for root, else\n"
"                         $XDG_RUNTIME_DIR/psync/psyncd.sock, else\n"
"                         /tmp/psync-$UID/psyncd.sock)\n"
"  --socket-mode MODE     octal mode of the socket (default 0660)\n"
"  --max-connections N    concurrent connections (default 4096)\n"
"  --max-objects N        named objects (default 1000000)\n"
"  --max-line BYTES       request line length (default 65536)\n"
"  --max-pending N        pending requests per connection (default 1024)\n"
"  --max-output BYTES     unread replies per connection before it is\n"
"                         cut off (default 1048576)\n"
"  --max-input-total BYTES  unfinished request lines over all connections\n"
"                         (default 268435456)\n"
"  --state-file PATH      keep fencing tokens increasing across restarts\n"
"  --allow-uid UID        only this user may connect (name or number;\n"
"                         repeatable; with --allow-gid, either passes)\n"
"  --allow-gid GID        only this primary group may connect (repeatable)\n"
"  --log-level LEVEL      error, warn, info or debug (default info)\n"
"  --cluster URL[,URL...] share names under the cluster prefix through the\n"
"                         etcd members at these client URLs (lock, rlock,\n"
"                         rwlock, event, counter)\n"
"  --cluster-prefix P     names that live in the cluster (default cluster/)\n"
"  --cluster-ttl SECS     how long a vanished host's holds survive\n"
"                         (default 5; at least 2)\n"
"  --version              print the version and exit\n"
"  --help                 print this help and exit\n");
}

/* Parse a decimal count in [min, max]; -1 if it is not one. */
static int
parse_count(const char *s, uintmax_t min, uintmax_t max, uintmax_t *out)
{
	char		*end;
	uintmax_t	 v;

	if (*s < '0' || *s > '9')
		return (-1);
	errno = 0;
	v = strtoumax(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return (-1);
	*out = v;
	return (0);
}

static void
bad_flag(const char *flag, const char *value, const char *what)
{
	fprintf(stderr, "psyncd: invalid %s '%s': %s\n", flag, value, what);
	exit(2);
}

enum {
	OPT_SOCKET = 256, OPT_SOCKET_MODE, OPT_MAX_CONNECTIONS,
	OPT_MAX_OBJECTS, OPT_MAX_LINE, OPT_MAX_PENDING, OPT_MAX_OUTPUT,
	OPT_STATE_FILE, OPT_LOG_LEVEL, OPT_VERSION, OPT_HELP, OPT_ALLOW_UID,
	OPT_ALLOW_GID, OPT_MAX_INPUT_TOTAL, OPT_CLUSTER, OPT_CLUSTER_PREFIX,
	OPT_CLUSTER_TTL
};

static const struct option long_options[] = {
	{ "socket",		required_argument, NULL, OPT_SOCKET },
	{ "socket-mode",	required_argument, NULL, OPT_SOCKET_MODE },
	{ "max-connections",	required_argument, NULL, OPT_MAX_CONNECTIONS },
	{ "max-objects",	required_argument, NULL, OPT_MAX_OBJECTS },
	{ "max-line",		required_argument, NULL, OPT_MAX_LINE },
	{ "max-pending",	required_argument, NULL, OPT_MAX_PENDING },
	{ "max-output",		required_argument, NULL, OPT_MAX_OUTPUT },
	{ "max-input-total",	required_argument, NULL, OPT_MAX_INPUT_TOTAL },
	{ "state-file",		required_argument, NULL, OPT_STATE_FILE },
	{ "log-level",		required_argument, NULL, OPT_LOG_LEVEL },
	{ "allow-uid",		required_argument, NULL, OPT_ALLOW_UID },
	{ "allow-gid",		required_argument, NULL, OPT_ALLOW_GID },
	{ "cluster",		required_argument, NULL, OPT_CLUSTER },
	{ "cluster-prefix",	required_argument, NULL, OPT_CLUSTER_PREFIX },
	{ "cluster-ttl",	required_argument, NULL, OPT_CLUSTER_TTL },
	{ "version",		no_argument,	   NULL, OPT_VERSION },
	{ "help",		no_argument,	   NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 }
};

static void
parse_flags(int argc, char **argv, struct config *cfg)
{
	const char	*socket_flag = NULL;
	struct passwd	*pw;
	struct group	*gr;
	uintmax_t	 v;
	char		*end;
	unsigned long	 mode;
	int		 ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		switch (ch) {
		case OPT_SOCKET:
			socket_flag = optarg;
			if (*optarg == '\0')
				bad_flag("--socket", optarg, "empty path");
			break;
		case OPT_SOCKET_MODE:
			errno = 0;
			mode = strtoul(optarg, &end, 8);
			if (*optarg < '0' || *optarg > '7' || errno != 0 ||
			    *end != '\0' || mode > 0777)
				bad_flag("--socket-mode", optarg,
				    "expected an octal mode such as 0660");
			cfg->socket_mode = (mode_t)mode;
			break;
		case OPT_MAX_CONNECTIONS:
			if (parse_count(optarg, 1, 1000000, &v) == -1)
				bad_flag("--max-connections", optarg,
				    "expected 1 to 1000000");
			cfg->max_connections = (unsigned)v;
			break;
		case OPT_MAX_OBJECTS:
			if (parse_count(optarg, 1, 1000000000, &v) == -1)
				bad_flag("--max-objects", optarg,
				    "expected 1 to 1000000000");
			cfg->max_objects = (size_t)v;
			break;
		case OPT_MAX_LINE:
			if (parse_count(optarg, 64, 64 * 1024 * 1024, &v) == -1)
				bad_flag("--max-line", optarg,
				    "expected 64 to 67108864 bytes");
			cfg->max_line = (size_t)v;
			break;
		case OPT_MAX_PENDING:
			if (parse_count(optarg, 1, 1000000, &v) == -1)
				bad_flag("--max-pending", optarg,
				    "expected 1 to 1000000");
			cfg->max_pending = (unsigned)v;
			break;
		case OPT_MAX_OUTPUT:
			if (parse_count(optarg, 1024, SIZE_MAX / 2, &v) == -1)
				bad_flag("--max-output", optarg,
				    "expected at least 1024 bytes");
			cfg->max_output = (size_t)v;
			break;
		case OPT_MAX_INPUT_TOTAL:
			if (parse_count(optarg, 65536, SIZE_MAX / 2, &v) == -1)
				bad_flag("--max-input-total", optarg,
				    "expected at least 65536 bytes");
			cfg->max_input_total = (size_t)v;
			break;
		case OPT_STATE_FILE:
			if (*optarg == '\0')
				bad_flag("--state-file", optarg, "empty path");
			cfg->state_file = optarg;
			break;
		case OPT_LOG_LEVEL:
			if (log_level_parse(optarg, &cfg->log_level) == -1)
				bad_flag("--log-level", optarg,
				    "expected error, warn, info or debug");
			break;
		case OPT_ALLOW_UID:
			if (cfg->n_allow_uid == CONFIG_ALLOW_MAX)
				bad_flag("--allow-uid", optarg, "too many");
			if (parse_count(optarg, 0, UINT32_MAX - 1, &v) == 0)
				cfg->allow_uid[cfg->n_allow_uid++] = (uid_t)v;
			else if ((pw = getpwnam(optarg)) != NULL)
				cfg->allow_uid[cfg->n_allow_uid++] = pw->pw_uid;
			else
				bad_flag("--allow-uid", optarg,
				    "no such user");
			break;
		case OPT_ALLOW_GID:
			if (cfg->n_allow_gid == CONFIG_ALLOW_MAX)
				bad_flag("--allow-gid", optarg, "too many");
			if (parse_count(optarg, 0, UINT32_MAX - 1, &v) == 0)
				cfg->allow_gid[cfg->n_allow_gid++] = (gid_t)v;
			else if ((gr = getgrnam(optarg)) != NULL)
				cfg->allow_gid[cfg->n_allow_gid++] = gr->gr_gid;
			else
				bad_flag("--allow-gid", optarg,
				    "no such group");
			break;
		case OPT_CLUSTER:
			if (*optarg == '\0')
				bad_flag("--cluster", optarg, "no etcd URL");
			cfg->cluster_urls = optarg;
			break;
		case OPT_CLUSTER_PREFIX:
			if (!psync_name_check(optarg, strlen(optarg), NULL, 0))
				bad_flag("--cluster-prefix", optarg,
				    "not the start of a valid name");
			cfg->cluster_prefix = optarg;
			break;
		case OPT_CLUSTER_TTL:
			/* etcd grants no lease under 2 s at its defaults. */
			if (parse_count(optarg, 2, 3600, &v) == -1)
				bad_flag("--cluster-ttl", optarg,
				    "expected 2 to 3600 seconds");
			cfg->cluster_ttl = (int)v;
			break;
		case OPT_VERSION:
			printf("psyncd %s (protocol %d)\n", PSYNCD_VERSION,
			    PSYNC_PROTOCOL_VERSION);
			exit(0);
		case OPT_HELP:
			usage(stdout);
			exit(0);
		default:
			if (optopt != 0 && optopt < 256)
				fprintf(stderr, "psyncd: unknown option "
				    "'-%c'\n", optopt);
			else
				fprintf(stderr, "psyncd: unknown option or "
				    "missing value: '%s'\n", argv[optind - 1]);
			fprintf(stderr, "try 'psyncd --help'\n");
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "psyncd: unexpected argument '%s'\n",
		    argv[optind]);
		exit(2);
	}
	if (psync_socket_path(socket_flag, cfg->socket_path,
	    sizeof(cfg->socket_path), &cfg->socket_per_user) == -1) {
		fprintf(stderr, "psyncd: socket path too long\n");
		exit(2);
	}
}

int
main(int argc, char **argv)
{
	struct config	cfg;
	struct server	srv;
	char		cause[512];
	int		code;

	config_defaults(&cfg);
	parse_flags(argc, argv, &cfg);
	log_init(cfg.log_level, getenv("JOURNAL_STREAM") != NULL);
	listener_raise_nofile(&cfg);

	if (server_init(&srv, &cfg, cause, sizeof(cause)) == -1) {
		log_error("%s", cause);
		server_free(&srv);
		return (1);
	}
	if (listener_open(&srv, cause, sizeof(cause)) == -1) {
		log_error("%s", cause);
		server_free(&srv);
		return (1);
	}
	systemd_init(&srv);
	log_info("psyncd %s ready (pid %ld)", PSYNCD_VERSION, (long)getpid());
	/* Ready means accepting: the listener is set up above. */
	systemd_notify(&srv, "READY=1\nSTATUS=ready, no connections yet");
	code = server_run(&srv);
	server_free(&srv);
	log_info("stopped");
	return (code);
}
