/*
 * server.h -- the one server context and its configuration.
 *
 * Layer 8, daemon: includes everything below (conn, model, util).  The
 * server owns the model, the connections and the loop's own events.
 */
#ifndef PSYNCD_SERVER_H
#define PSYNCD_SERVER_H

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "conn.h"
#include "log.h"
#include "model.h"
#include "pidwatch.h"
#include "psync_proto.h"

struct event;
struct event_base;
struct evconnlistener;

#define CONFIG_ALLOW_MAX	64

TAILQ_HEAD(refused_list, refused);

struct config {
	char		 socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	bool		 socket_per_user;	/* a private fallback dir */
	mode_t		 socket_mode;
	unsigned	 max_connections;
	size_t		 max_objects;
	size_t		 max_line;
	unsigned	 max_pending;
	size_t		 max_output;
	size_t		 max_input_total;	/* all connections' partial input */
	enum log_level	 log_level;
	const char	*state_file;		/* NULL: none */
	const char	*cluster_urls;		/* --cluster; NULL: none */
	const char	*cluster_prefix;
	int		 cluster_ttl;
	/* --allow-uid/--allow-gid: with any listed, only they connect. */
	uid_t		 allow_uid[CONFIG_ALLOW_MAX];
	gid_t		 allow_gid[CONFIG_ALLOW_MAX];
	unsigned	 n_allow_uid, n_allow_gid;
};

struct server {
	struct config		 cfg;
	struct event_base	*base;
	struct model		 model;		/* objects, sessions, tokens */

	/* listener.c */
	struct evconnlistener	*listener;
	struct event		*accept_retry;
	int			 lock_fd;	/* flock'd beside the socket */
	bool			 bound;		/* we own the socket path */
	struct log_limit	 refusals;	/* forbidden, limit at accept */
	struct refused_list	 refused;	/* draining before the close */
	unsigned		 nrefused;

	/* systemd.c */
	int			 notify_fd;	/* -1: no $NOTIFY_SOCKET */
	struct sockaddr_un	 notify_addr;
	socklen_t		 notify_len;
	struct event		*status_timer;
	struct event		*watchdog_timer;
	bool			 activated;	/* socket passed by systemd */

	struct event		*sig_term;
	struct event		*sig_int;
	struct event		*stop_timer;


	struct conn_set		 clients;	/* every connection */

	struct timespec		 started;	/* CLOCK_MONOTONIC */
	bool			 stopping;
	int			 exit_code;
};

/* Set the defaults every flag starts from. */
void	config_defaults(struct config *);

/*
 * Initialise srv for cfg (copied): event base, signals, the model (name
 * table, tokens, handler table).  Listens nowhere (see listener_open).  Returns 0,
 * or -1 with a message in cause (size bytes).
 */
int	server_init(struct server *, const struct config *, char *cause,
	    size_t size);

/* Run the event loop until the daemon stops; returns the exit code. */
int	server_run(struct server *);

/* Begin an orderly stop: as on SIGTERM. */
void	server_stop(struct server *);

/* Free everything server_init and the loop made; unlink the socket. */
void	server_free(struct server *);

/* listener.c */

/*
 * Take the socket path: make its directory, lock, bind, listen, and start
 * accepting.  Returns 0, or -1 with a message in cause; exit code 1.
 */
int	listener_open(struct server *, char *cause, size_t size);

/* Stop accepting (shutdown). */
void	listener_close(struct server *);

/* Unlink the socket if this daemon bound it; close the lock file. */
void	listener_cleanup(struct server *);

/* Raise RLIMIT_NOFILE for cfg.max_connections, within the hard limit. */
void	listener_raise_nofile(const struct config *);

#endif
