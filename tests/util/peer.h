/*
 * peer.h -- in-process server and clients for the unit tests (peer.c).
 */
#ifndef PSYNC_TEST_PEER_H
#define PSYNC_TEST_PEER_H

#include <sys/types.h>

#include <jansson.h>

struct config;
struct evbuffer;
struct conn;
struct server;

struct peer {
	struct server	*srv;
	struct conn	*c;
	int		 fd;		/* the client's end of a socketpair */
	struct evbuffer	*in;		/* what it has read, not yet a line */
};

/* A server context (no listener) with defaults, tweaked by tweak. */
void	 srv_start(struct server *, void (*tweak)(struct config *));

/* Free n peers' ends and the server. */
void	 srv_finish(struct server *, struct peer *peers, int n);

/* Connect p as a client with the given pid. */
void	 peer_open(struct server *, struct peer *p, pid_t pid);

/* Send a line; the server handles it before this returns. */
void	 peer_send(struct server *, struct peer *p, const char *line);

/* The next reply already queued for p, or NULL. */
json_t	*peer_recv(struct peer *p);

/* Run the loop (timers included) until p has a reply or secs pass. */
json_t	*peer_wait(struct server *, struct peer *p, double secs);

/* Send line; its reply must be immediate. */
json_t	*peer_call(struct server *, struct peer *p, const char *line);

/* The same, asserting ok: true. */
json_t	*ok_call(struct server *, struct peer *p, const char *line);

/* Assert that p has no reply queued. */
void	 expect_nothing(struct peer *p);

/*
 * Make p's connection back up at once: the smallest socket buffers, so
 * that replies p does not read pile up in the daemon's output buffer.
 */
void	 peer_shrink_buffers(struct peer *p);

#endif
