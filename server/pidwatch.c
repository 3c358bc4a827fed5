/*
 * pidwatch.c -- one pidfd per connecting process, shared by its
 * connections.
 *
 * Shared, so that a process with a thousand connections costs one
 * descriptor, not a thousand.  The list is searched only at accept and
 * is as long as the number of distinct connecting processes.  A pid can
 * be reused once its process is reaped: a watch whose pidfd already
 * reports an exit is never shared with a newcomer of the same pid.
 */
#include <sys/syscall.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"
#include "pidwatch.h"
#include "xmalloc.h"

struct pidwatch {
	TAILQ_ENTRY(pidwatch)			 entry;
	struct pidtab				*tab;
	pid_t					 pid;
	int					 fd;	/* pidfd */
	struct event				*ev;
	TAILQ_HEAD(, pidwatch_member)		 members;
};

static void	pidwatch_exit_cb(evutil_socket_t, short, void *);

void
pidtab_init(struct pidtab *tab, struct event_base *base, pidwatch_exit_fn fn)
{
	memset(tab, 0, sizeof(*tab));
	tab->base = base;
	tab->exited = fn;
	TAILQ_INIT(&tab->watches);
}

/* Has w's process exited?  (Its pidfd is readable then.) */
static bool
pidwatch_exited(const struct pidwatch *w)
{
	struct pollfd	pfd = { w->fd, POLLIN, 0 };

	return (poll(&pfd, 1, 0) != 0);
}

static struct pidwatch *
pidwatch_find(struct pidtab *tab, pid_t pid)
{
	struct pidwatch	*w;

	TAILQ_FOREACH(w, &tab->watches, entry) {
		if (w->pid == pid && !pidwatch_exited(w))
			return (w);
	}
	return (NULL);
}

static void
pidwatch_free(struct pidwatch *w)
{
	TAILQ_REMOVE(&w->tab->watches, w, entry);
	w->tab->nwatches--;
	event_free(w->ev);
	if (close(w->fd) == -1)
		log_warn("pidwatch: close pidfd of pid %ld: %s", (long)w->pid,
		    strerror(errno));
	free(w);
}

int
pidwatch_attach(struct pidtab *tab, struct pidwatch_member *m, pid_t pid)
{
	struct pidwatch	*w;
	int		 fd, err;

	m->watch = NULL;
	if (pid <= 0 || tab->unsupported)
		return (0);
	if ((w = pidwatch_find(tab, pid)) == NULL) {
		if ((fd = (int)syscall(SYS_pidfd_open, pid, 0)) == -1) {
			if (errno == ESRCH)
				return (1);
			if (errno == ENOSYS || errno == EPERM) {
				/* EPERM: a seccomp filter that lacks it. */
				log_warn("pidfd_open: %s: sessions will end "
				    "with their connection only, not with "
				    "the process that connected",
				    strerror(errno));
				tab->unsupported = true;
				return (0);
			}
			return (-1);
		}
		w = xcalloc(1, sizeof(*w));
		w->tab = tab;
		w->pid = pid;
		w->fd = fd;
		TAILQ_INIT(&w->members);
		w->ev = event_new(tab->base, fd, EV_READ, pidwatch_exit_cb, w);
		if (w->ev == NULL || event_add(w->ev, NULL) == -1) {
			err = errno;
			if (w->ev != NULL)
				event_free(w->ev);
			close(fd);
			free(w);
			errno = err != 0 ? err : ENOMEM;
			return (-1);
		}
		TAILQ_INSERT_TAIL(&tab->watches, w, entry);
		tab->nwatches++;
	}
	TAILQ_INSERT_TAIL(&w->members, m, entry);
	m->watch = w;
	return (0);
}

void
pidwatch_detach(struct pidtab *tab, struct pidwatch_member *m)
{
	struct pidwatch	*w = m->watch;

	(void)tab;
	if (w == NULL)
		return;
	TAILQ_REMOVE(&w->members, m, entry);
	m->watch = NULL;
	if (TAILQ_EMPTY(&w->members))
		pidwatch_free(w);
}

bool
pidwatch_attached(const struct pidwatch_member *m)
{
	return (m->watch != NULL);
}

/*
 * The process has exited: detach every member and tell it.  The callback
 * must not detach other members (it may end its own session, which
 * detaches nothing more: it is detached already).
 */
static void
pidwatch_exit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pidwatch		*w = arg;
	struct pidtab		*tab = w->tab;
	struct pidwatch_member	*m;
	bool			 last;

	(void)fd;
	(void)what;
	log_debug("pid %ld exited", (long)w->pid);
	/* Detaching the last member frees w. */
	do {
		m = TAILQ_FIRST(&w->members);
		last = TAILQ_NEXT(m, entry) == NULL;
		pidwatch_detach(tab, m);
		tab->exited(m);
	} while (!last);
}

void
pidtab_free(struct pidtab *tab)
{
	struct pidwatch		*w;
	struct pidwatch_member	*m;

	while ((w = TAILQ_FIRST(&tab->watches)) != NULL) {
		TAILQ_FOREACH(m, &w->members, entry)
			m->watch = NULL;
		pidwatch_free(w);
	}
}
