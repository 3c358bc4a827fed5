/*
 * counter_add.c -- the seed's shared counter done with counter.add: the
 * atomic increment that multiprocessing.Value lacks.  Four processes add
 * 1 a thousand times each; the counter ends at exactly 4000.
 */
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <psync.h>

#define WORKERS		4
#define MAX_COUNT	1000

static int
work(void)
{
	psync_t	*h;
	int	 i, rc;

	if ((h = psync_connect(NULL)) == NULL) {
		perror("psync_connect");
		return (1);
	}
	for (i = 0; i < MAX_COUNT; i++) {
		if ((rc = psync_counter_add(h, "example.count", 1,
		    NULL)) != PSYNC_OK) {
			fprintf(stderr, "counter.add: %s\n", psync_strerror(rc));
			return (1);
		}
	}
	psync_close(h);
	return (0);
}

int
main(void)
{
	psync_t	*h;
	pid_t	 pids[WORKERS];
	int	 i, status, failed = 0;
	int64_t	 n = 0;

	if ((h = psync_connect(NULL)) == NULL) {
		perror("psync_connect");
		return (1);
	}
	psync_counter_set(h, "example.count", 0);
	for (i = 0; i < WORKERS; i++) {
		if ((pids[i] = fork()) == 0) {
			/* The parent's connection is not ours: drop our copy. */
			psync_close(h);
			_exit(work());
		}
	}
	for (i = 0; i < WORKERS; i++) {
		if (waitpid(pids[i], &status, 0) == -1 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			failed = 1;
	}
	psync_counter_get(h, "example.count", &n);
	psync_counter_set(h, "example.count", 0);
	psync_close(h);
	printf("counter.add: expected %d, got %lld\n", WORKERS * MAX_COUNT,
	    (long long)n);
	return (failed);
}
