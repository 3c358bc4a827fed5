/*
 * server.c -- the server context: init, signals, the loop, an orderly stop.
 */
#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "cluster.h"
#include "dispatch.h"
#include "object.h"
#include "server.h"
#include "session.h"
#include "systemd.h"
#include "wait.h"

/* How long a stopping daemon lets clients read their last replies. */
#define STOP_GRACE_SECS	2

static void	server_signal_cb(evutil_socket_t, short, void *);
static void	server_stop_timer_cb(evutil_socket_t, short, void *);
static void	server_conn_gone(struct conn_set *);
static void	server_describe(const struct model *, json_t *);

void
config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->socket_mode = 0660;
	cfg->max_connections = 4096;
	cfg->max_objects = 1000000;
	cfg->max_line = PSYNC_MAX_LINE_DEFAULT;
	cfg->max_pending = 1024;
	cfg->max_output = 1024 * 1024;
	cfg->max_input_total = 256 * 1024 * 1024;
	cfg->log_level = LOG_LEVEL_INFO;
	cfg->cluster_prefix = "cluster/";
	cfg->cluster_ttl = 5;
}

int
server_init(struct server *srv, const struct config *cfg, char *cause,
    size_t size)
{
	memset(srv, 0, sizeof(*srv));
	srv->cfg = *cfg;
	srv->lock_fd = -1;
	srv->notify_fd = -1;
	TAILQ_INIT(&srv->refused);
	if (clock_gettime(CLOCK_MONOTONIC, &srv->started) == -1) {
		snprintf(cause, size, "clock_gettime: %s", strerror(errno));
		return (-1);
	}
	/* A write to a vanished client must be an error, never a death. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		snprintf(cause, size, "signal(SIGPIPE): %s", strerror(errno));
		return (-1);
	}
	if ((srv->base = event_base_new()) == NULL) {
		snprintf(cause, size, "cannot create the event base");
		return (-1);
	}
	/*
	 * libevent restores the disposition it found when its signal events
	 * go: make that "ignore", so that a second SIGTERM or ^C during
	 * teardown cannot kill the daemon half-way (socket left behind).
	 */
	if (signal(SIGTERM, SIG_IGN) == SIG_ERR ||
	    signal(SIGINT, SIG_IGN) == SIG_ERR) {
		snprintf(cause, size, "signal: %s", strerror(errno));
		return (-1);
	}
	srv->sig_term = evsignal_new(srv->base, SIGTERM, server_signal_cb, srv);
	srv->sig_int = evsignal_new(srv->base, SIGINT, server_signal_cb, srv);
	srv->stop_timer = evtimer_new(srv->base, server_stop_timer_cb, srv);
	if (srv->sig_term == NULL || srv->sig_int == NULL ||
	    srv->stop_timer == NULL ||
	    evsignal_add(srv->sig_term, NULL) == -1 ||
	    evsignal_add(srv->sig_int, NULL) == -1) {
		snprintf(cause, size, "cannot set up signal events");
		return (-1);
	}
	if (model_init(&srv->model, srv->base, cfg->state_file, cause,
	    size) == -1)
		return (-1);
	srv->model.max_objects = cfg->max_objects;
	srv->model.max_pending = cfg->max_pending;
	srv->model.describe_owner = server_describe;
	dispatch_init(srv->model.handlers);
	if (conn_set_init(&srv->clients, srv->base, &srv->model) == -1) {
		snprintf(cause, size, "cannot set up the connection events");
		return (-1);
	}
	srv->clients.max_line = cfg->max_line;
	srv->clients.max_output = cfg->max_output;
	srv->clients.max_input_total = cfg->max_input_total;
	srv->clients.gone = server_conn_gone;
	if (cfg->cluster_urls != NULL && cluster_new(&srv->model, srv->base,
	    cfg->cluster_urls, cfg->cluster_prefix, cfg->cluster_ttl, cause,
	    size) == NULL)
		return (-1);
	return (0);
}

int
server_run(struct server *srv)
{
	if (event_base_dispatch(srv->base) == -1) {
		log_error("server_run: event_base_dispatch failed");
		return (1);
	}
	return (srv->exit_code);
}

static void
server_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct server	*srv = arg;

	(void)what;
	log_info("%s received; stopping", sig == SIGTERM ? "SIGTERM" :
	    "SIGINT");
	server_stop(srv);
}

void
server_stop(struct server *srv)
{
	struct conn	*c, *next;
	struct timeval	 grace = { STOP_GRACE_SECS, 0 };

	if (srv->stopping)
		return;
	srv->stopping = true;
	srv->clients.stopping = true;
	systemd_notify(srv, "STOPPING=1");
	listener_close(srv);
	/*
	 * Every pending wait gets shutting_down first, all of them, so that
	 * no hold released below is handed to anyone; then each connection
	 * flushes its replies and closes.
	 */
	TAILQ_FOREACH(c, &srv->clients.all, entry)
		session_fail_waits(&c->sess, WAIT_SHUTDOWN);
	for (c = TAILQ_FIRST(&srv->clients.all); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		conn_lost(c, true);
	}
	if (srv->clients.n == 0)
		event_base_loopbreak(srv->base);
	else if (evtimer_add(srv->stop_timer, &grace) == -1)
		event_base_loopbreak(srv->base);
}

/* stat's transport half: uptime, connections, input, its limits. */
static void
server_describe(const struct model *m, json_t *out)
{
	const struct server	*srv = (const struct server *)(const void *)
				    ((const char *)m -
				    offsetof(struct server, model));
	struct timespec		 now;
	json_t			*limits;

	if (clock_gettime(CLOCK_MONOTONIC, &now) == -1)
		now = srv->started;
	json_object_set_new(out, "uptime", json_real(
	    (double)(now.tv_sec - srv->started.tv_sec) +
	    (double)(now.tv_nsec - srv->started.tv_nsec) / 1e9));
	json_object_set_new(out, "connections", json_integer(srv->clients.n));
	/* What unfinished lines hold of --max-input-total now. */
	json_object_set_new(out, "input_buffered",
	    json_integer((json_int_t)srv->clients.input_total));
	if ((limits = json_object_get(out, "limits")) == NULL)
		return;
	json_object_set_new(limits, "max_connections",
	    json_integer(srv->cfg.max_connections));
	json_object_set_new(limits, "max_line",
	    json_integer((json_int_t)srv->cfg.max_line));
	json_object_set_new(limits, "max_output",
	    json_integer((json_int_t)srv->cfg.max_output));
	json_object_set_new(limits, "max_input_total",
	    json_integer((json_int_t)srv->cfg.max_input_total));
	if (srv->model.cluster != NULL)
		cluster_describe(srv->model.cluster, out);
}

/* A conn has been freed: the stop completes when the last one goes. */
static void
server_conn_gone(struct conn_set *set)
{
	struct server	*srv = (struct server *)(void *)((char *)set -
			    offsetof(struct server, clients));

	if (srv->stopping && srv->clients.n == 0)
		event_base_loopbreak(srv->base);
}

static void
server_stop_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server	*srv = arg;

	(void)fd;
	(void)what;
	log_warn("%u clients did not read their last replies within %d s",
	    srv->clients.n, STOP_GRACE_SECS);
	event_base_loopbreak(srv->base);
}

void
server_free(struct server *srv)
{
	/* From here on SIGTERM and SIGINT are ignored (see server_init). */
	if (srv->sig_term != NULL)
		event_free(srv->sig_term);
	if (srv->sig_int != NULL)
		event_free(srv->sig_int);
	srv->sig_term = srv->sig_int = NULL;

	conn_set_free(&srv->clients);
	object_free_all(&srv->model);
	cluster_free(srv->model.cluster);
	listener_cleanup(srv);
	systemd_free(srv);
	if (srv->stop_timer != NULL)
		event_free(srv->stop_timer);
	if (srv->base != NULL)
		event_base_free(srv->base);
	srv->base = NULL;
}
