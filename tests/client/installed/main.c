/* installed.c -- built against the installed <psync.h> and library. */
#include <stdio.h>

#include <psync.h>

int
main(void)
{
	psync_t		*h = psync_connect(NULL);
	uint64_t	 token = 0;
	int64_t		 n = 0;

	if (h == NULL) {
		perror("psync_connect");
		return (1);
	}
	if (psync_lock_acquire(h, "installed", PSYNC_FOREVER, &token) != PSYNC_OK ||
	    psync_counter_add(h, "installed.n", 1, &n) != PSYNC_OK) {
		fprintf(stderr, "%s\n", psync_errmsg(h));
		return (1);
	}
	printf("installed: lock token %s, counter %lld\n", token > 0 ? "ok" :
	    "missing", (long long)n);
	psync_close(h);
	return (0);
}
