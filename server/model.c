/*
 * model.c -- the model's context: its start and its clock.
 */
#include <sys/time.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "model.h"

int
model_init(struct model *m, struct event_base *base, const char *state_file,
    char *cause, size_t size)
{
	struct timespec	 res;

	memset(m, 0, sizeof(*m));
	m->base = base;
	TAILQ_INIT(&m->sessions);
	m->max_objects = 1000000;
	m->max_pending = 1024;
	/*
	 * libevent keeps time with CLOCK_MONOTONIC_COARSE (a tick behind
	 * the true clock), and its precise-timer mode would cost a
	 * timerfd_settime per loop turn; instead wait.c pads each deadline
	 * by the coarse clock's resolution, so that no timeout ends early.
	 */
	if (clock_getres(CLOCK_MONOTONIC_COARSE, &res) == -1)
		res.tv_sec = 0, res.tv_nsec = 10000000;
	m->timer_slack = (double)res.tv_sec + (double)res.tv_nsec / 1e9 +
	    0.001;
	if (objtab_init(&m->objects) == -1) {
		snprintf(cause, size, "cannot initialise libsodium");
		return (-1);
	}
	return (tokens_init(&m->tokens, state_file, cause, size));
}

int64_t
model_now_us(const struct model *m)
{
	struct timeval	tv;

	if (event_base_gettimeofday_cached(m->base, &tv) == -1)
		return (0);
	return ((int64_t)tv.tv_sec * 1000000 + tv.tv_usec);
}

double
model_age(const struct model *m, int64_t since)
{
	int64_t	d = model_now_us(m) - since;

	/* The wall clock may step back: an age is never negative. */
	return (d > 0 ? (double)d / 1e6 : 0);
}
