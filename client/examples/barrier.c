/*
 * barrier.c -- the seed text's barrier example, in C over psync.
 *
 * Four processes: p1 and p2 meet at a barrier of two parties, then print
 * the time under a lock that serializes their output; p3 and p4 print at
 * once.  p1 and p2 print (almost) the same time; p3 and p4 do not wait.
 *
 *   cc barrier.c $(pkg-config --cflags --libs psync-client)
 *   ./a.out            (psyncd on the default socket, or $PSYNC_SOCKET)
 */
#include <sys/time.h>
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <psync.h>

static void
print_now(const char *name, const struct timeval *tv)
{
	char		stamp[64];
	struct tm	tm;

	localtime_r(&tv->tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	printf("process %s ----> %s.%06ld\n", name, stamp, (long)tv->tv_usec);
	fflush(stdout);
}

static int
test_with_barrier(const char *name)
{
	psync_t		*h;
	struct timeval	 now;
	int		 rc;

	if ((h = psync_connect(NULL)) == NULL) {
		perror("psync_connect");
		return (1);
	}
	if ((rc = psync_barrier_open(h, "synchronizer", 2)) != PSYNC_OK ||
	    (rc = psync_barrier_wait(h, "synchronizer", PSYNC_FOREVER,
	    NULL)) != PSYNC_OK) {
		fprintf(stderr, "%s: barrier: %s\n", name, psync_strerror(rc));
		psync_close(h);
		return (1);
	}
	gettimeofday(&now, NULL);
	/* with serializer: */
	if ((rc = psync_lock_acquire(h, "serializer", PSYNC_FOREVER,
	    NULL)) != PSYNC_OK) {
		fprintf(stderr, "%s: lock: %s\n", name, psync_strerror(rc));
		psync_close(h);
		return (1);
	}
	print_now(name, &now);
	psync_lock_release(h, "serializer");
	psync_close(h);
	return (0);
}

static int
test_without_barrier(const char *name)
{
	struct timeval	now;

	gettimeofday(&now, NULL);
	print_now(name, &now);
	return (0);
}

int
main(void)
{
	static const char *const names[] = {
		"p1 - test_with_barrier", "p2 - test_with_barrier",
		"p3 - test_without_barrier", "p4 - test_without_barrier"
	};
	pid_t	pids[4];
	int	i, status, failed = 0;

	for (i = 0; i < 4; i++) {
		if ((pids[i] = fork()) == -1) {
			perror("fork");
			return (1);
		}
		if (pids[i] == 0)
			_exit(i < 2 ? test_with_barrier(names[i]) :
			    test_without_barrier(names[i]));
	}
	for (i = 0; i < 4; i++) {
		if (waitpid(pids[i], &status, 0) == -1 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			failed = 1;
	}
	return (failed);
}
