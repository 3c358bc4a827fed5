/*
 * fuzz_common.h -- an in-process psyncd for the fuzzers: a server context
 * without a listener, and clients on socketpairs whose other ends are
 * real connections, so bytes take the daemon's own path: its one read
 * path and input budget, framing, parsing, dispatch, every primitive,
 * replies, the output cap, death at end of input.
 */
#ifndef PSYNC_FUZZ_COMMON_H
#define PSYNC_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

struct server;

struct fz_client {
	struct conn	*c;		/* NULL once closed */
	int		 fd;		/* the client's end; -1 once closed */
};

/* A fresh server with small limits; aborts if it cannot be made. */
struct server	*fz_server(void);

/* Connect client k. */
void		 fz_open(struct server *, struct fz_client *, int pid);

/* Send bytes from client k and let the server handle them. */
void		 fz_send(struct server *, struct fz_client *, const void *,
		    size_t);

/* Drop whatever the client has received. */
void		 fz_drain(struct fz_client *);

/*
 * The client goes away: its end is closed and the daemon sees end of
 * input (its holds released, its waits dropped).
 */
void		 fz_close(struct server *, struct fz_client *);

/*
 * Check the daemon's invariants; abort() on a violation, so the fuzzer
 * reports it: no lock with two holders, semaphore values within bounds,
 * every pending request in exactly one queue and on its connection.
 */
void		 fz_check(struct server *);

/* Free everything (LeakSanitizer then checks nothing was lost). */
void		 fz_free(struct server *, struct fz_client *, int n);

int		 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#endif
