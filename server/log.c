/*
 * log.c -- leveled logging to stderr.
 *
 * One line per event.  Under systemd (journal mode) each line starts with
 * the sd-daemon(3) "<N>" priority and has no timestamp of its own, since
 * journald adds one; otherwise lines carry an ISO 8601 time and the level.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

/*
 * The logging configuration is the one piece of file-level state outside
 * the server context: it is written once by log_init() before the event
 * loop starts and only read afterwards, so that every module can log
 * without carrying the server around.
 */
static struct {
	enum log_level	level;
	int		journal;
} log_cfg = { LOG_LEVEL_INFO, 0 };

static const char *const level_names[] = { "error", "warn", "info", "debug" };
static const int syslog_prio[] = { 3, 4, 6, 7 };

void
log_init(enum log_level level, int journal)
{
	log_cfg.level = level;
	log_cfg.journal = journal;
}

int
log_level_parse(const char *s, enum log_level *level)
{
	size_t	i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*level = (enum log_level)i;
			return (0);
		}
	}
	return (-1);
}

int
log_enabled(enum log_level level)
{
	return (level <= log_cfg.level);
}

static void
log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char		 line[1024], stamp[32];
	struct timespec	 ts;
	struct tm	 tm;

	if (!log_enabled(level))
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_cfg.journal) {
		fprintf(stderr, "<%d>%s\n", syslog_prio[level], line);
		return;
	}
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 ||
	    gmtime_r(&ts.tv_sec, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		stamp[0] = '\0';
	fprintf(stderr, "%s.%03ldZ psyncd %s: %s\n", stamp,
	    ts.tv_nsec / 1000000, level_names[level], line);
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

bool
log_limit_pass(struct log_limit *l, time_t now, unsigned long *dropped)
{
	if (now != l->second) {
		l->second = now;
		l->logged = 0;
	}
	if (l->logged >= LOG_BURST) {
		l->dropped++;
		return (false);
	}
	l->logged++;
	*dropped = l->dropped;
	l->dropped = 0;
	return (true);
}

void
log_limited(struct log_limit *l, enum log_level level, const char *fmt, ...)
{
	struct timespec	 ts;
	unsigned long	 dropped;
	char		 line[1024];
	va_list		 ap;

	if (!log_enabled(level))
		return;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		ts.tv_sec = 0;
	if (!log_limit_pass(l, ts.tv_sec, &dropped))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (dropped > 0)
		log_msg(level, "%s (and %lu more like it not logged)", line,
		    dropped);
	else
		log_msg(level, "%s", line);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LEVEL_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}
