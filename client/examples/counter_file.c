/*
 * counter_file.c -- the seed text's shared counter (examples 9-35 to
 * 9-40), in C over psync.
 *
 * Four processes each add 1, a thousand times, to a number kept in a
 * file: read it, add one, write it back.  Without a lock the processes
 * overwrite each other's updates and the count comes out short; under a
 * psync lock it is exactly 4000.
 *
 *   ./counter_file            under the lock
 *   ./counter_file --no-lock  without it, to see the lost updates
 */
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <psync.h>

#define WORKERS		4
#define MAX_COUNT	1000

/* Read the number; an empty or half-written file reads as 0 (as in the seed). */
static long
read_count(const char *path)
{
	FILE	*f;
	long	 v = 0;

	if ((f = fopen(path, "r")) == NULL)
		return (0);
	if (fscanf(f, "%ld", &v) != 1)
		v = 0;
	fclose(f);
	return (v);
}

static void
write_count(const char *path, long v)
{
	FILE	*f;

	if ((f = fopen(path, "w")) == NULL)
		return;
	fprintf(f, "%ld\n", v);
	fclose(f);
}

static int
work(const char *path, bool locked)
{
	psync_t	*h = NULL;
	int	 i, rc;

	if (locked && (h = psync_connect(NULL)) == NULL) {
		perror("psync_connect");
		return (1);
	}
	for (i = 0; i < MAX_COUNT; i++) {
		if (locked && (rc = psync_lock_acquire(h, "count.txt.lock",
		    PSYNC_FOREVER, NULL)) != PSYNC_OK) {
			fprintf(stderr, "lock: %s\n", psync_strerror(rc));
			return (1);
		}
		write_count(path, read_count(path) + 1);
		if (locked)
			psync_lock_release(h, "count.txt.lock");
	}
	psync_close(h);
	return (0);
}

int
main(int argc, char **argv)
{
	char	path[] = "/tmp/psync-count.XXXXXX";
	bool	locked = !(argc > 1 && strcmp(argv[1], "--no-lock") == 0);
	pid_t	pids[WORKERS];
	int	i, fd, status, failed = 0;
	long	n;

	if ((fd = mkstemp(path)) == -1) {
		perror("mkstemp");
		return (1);
	}
	close(fd);
	write_count(path, 0);
	for (i = 0; i < WORKERS; i++) {
		if ((pids[i] = fork()) == 0)
			_exit(work(path, locked));
	}
	for (i = 0; i < WORKERS; i++) {
		if (waitpid(pids[i], &status, 0) == -1 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			failed = 1;
	}
	n = read_count(path);
	unlink(path);
	printf("%s: expected %d, got %ld\n", locked ?
	    "file counter under a psync lock" : "file counter without a lock",
	    WORKERS * MAX_COUNT, n);
	return (failed);
}
