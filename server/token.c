/*
 * token.c -- fencing tokens.
 *
 * A token strictly increases with every grant, across restarts too.  The
 * sequence starts above the wall clock in microseconds, and, with a state
 * file, above a high-water mark saved before any token past it is granted:
 * the daemon reserves TOKEN_BLOCK tokens at a time, so the file is written
 * (and fsync'd) once per block, not per grant, and a kill -9 can only skip
 * tokens, never repeat them.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "token.h"

#define TOKEN_BLOCK	UINT64_C(1000000)

/* Read the saved mark; 0 if the file does not exist. */
static int
tokens_load(const char *path, uint64_t *mark, char *cause, size_t size)
{
	FILE			*f;
	char			 line[64], *end;
	unsigned long long	 v;

	*mark = 0;
	if ((f = fopen(path, "re")) == NULL) {
		if (errno == ENOENT)
			return (0);
		snprintf(cause, size, "state file %s: %s", path,
		    strerror(errno));
		return (-1);
	}
	if (fgets(line, sizeof(line), f) == NULL) {
		/* An empty file: a crash between create and write. */
		fclose(f);
		return (0);
	}
	fclose(f);
	errno = 0;
	v = strtoull(line, &end, 10);
	if (errno != 0 || end == line || (*end != '\n' && *end != '\0') ||
	    v > TOKEN_MAX) {
		snprintf(cause, size, "state file %s: not a token count; "
		    "refusing to risk repeating tokens", path);
		return (-1);
	}
	*mark = v;
	return (0);
}

/* Durably replace the saved mark: write a temporary, fsync, rename. */
static int
tokens_save(const char *path, uint64_t mark)
{
	char	 tmp[4096], dir[4096], buf[32];
	int	 fd, n, dfd;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return (-1);
	n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", mark);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		return (-1);
	if (write(fd, buf, (size_t)n) != n || fsync(fd) == -1) {
		close(fd);
		unlink(tmp);
		return (-1);
	}
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		unlink(tmp);
		return (-1);
	}
	snprintf(dir, sizeof(dir), "%s", path);
	if ((dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		if (fsync(dfd) == -1)
			log_warn("tokens_save: fsync %s: %s", dir,
			    strerror(errno));
		close(dfd);
	}
	return (0);
}

int
tokens_init(struct tokens *t, const char *state_file, char *cause,
    size_t size)
{
	struct timespec	ts;
	uint64_t	now, saved = 0;

	memset(t, 0, sizeof(*t));
	t->state_file = state_file;
	if (clock_gettime(CLOCK_REALTIME, &ts) == -1) {
		snprintf(cause, size, "clock_gettime: %s", strerror(errno));
		return (-1);
	}
	now = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	if (state_file != NULL &&
	    tokens_load(state_file, &saved, cause, size) == -1)
		return (-1);
	t->last = now > saved ? now : saved;
	t->reserved = t->last;
	if (state_file != NULL) {
		t->reserved = t->last + TOKEN_BLOCK;
		if (tokens_save(state_file, t->reserved) == -1) {
			snprintf(cause, size, "state file %s: %s", state_file,
			    strerror(errno));
			return (-1);
		}
	}
	return (0);
}

uint64_t
tokens_next(struct tokens *t)
{
	if (t->last >= TOKEN_MAX)
		fatalx("tokens_next: fencing tokens exhausted at 2^53");
	t->last++;
	if (t->state_file != NULL && t->last >= t->reserved) {
		t->reserved = t->last + TOKEN_BLOCK;
		if (tokens_save(t->state_file, t->reserved) == -1)
			log_error("tokens_next: cannot save %s: %s; tokens "
			    "may repeat after a restart", t->state_file,
			    strerror(errno));
	}
	return (t->last);
}
