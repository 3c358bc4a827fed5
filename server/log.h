/*
 * log.h -- leveled logging to stderr.
 *
 * Layer 0, util: libc only.
 */
#ifndef PSYNCD_LOG_H
#define PSYNCD_LOG_H

#include <stdbool.h>
#include <time.h>

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG
};

/* Set the threshold and the line format, once, before the loop starts. */
void	log_init(enum log_level level, int journal);

/* Parse "error", "warn", "info" or "debug".  Returns 0, or -1. */
int	log_level_parse(const char *s, enum log_level *level);

/* True if messages of level would be written (to skip costly formatting). */
int	log_enabled(enum log_level level);

void	log_msg(enum log_level level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#define log_error(...)	log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)						\
	do {							\
		if (log_enabled(LOG_LEVEL_DEBUG))		\
			log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__);	\
	} while (0)

/*
 * A burst limit for messages a client can cause at will (refused
 * connections, cut-off clients): at most LOG_BURST a second from one
 * site, and the next one let through says how many were dropped.  Zero
 * it to start; it lives in the server context.
 */
#define LOG_BURST	10

struct log_limit {
	time_t		second;		/* the window, CLOCK_MONOTONIC */
	unsigned	logged;		/* in it */
	unsigned long	dropped;	/* since the last message let through */
};

/*
 * Whether a message at monotonic second now passes l.  If it does,
 * *dropped is how many were held back before it (and l forgets them).
 */
bool	log_limit_pass(struct log_limit *l, time_t now, unsigned long *dropped);

/* log_msg, through l. */
void	log_limited(struct log_limit *l, enum log_level level,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Log at error level and exit(1): startup failures and broken invariants. */
void	fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
