/*
 * replay.c -- run a fuzz target over files without libFuzzer: how make
 * check replays the corpus (every crash the fuzzers found included).
 *
 *   replay-TARGET FILE...
 */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_common.h"

int
main(int argc, char **argv)
{
	unsigned char	*buf;
	size_t		 n;
	long		 len;
	FILE		*f;
	int		 i;

	for (i = 1; i < argc; i++) {
		if ((f = fopen(argv[i], "rb")) == NULL ||
		    fseek(f, 0, SEEK_END) == -1 || (len = ftell(f)) < 0) {
			perror(argv[i]);
			return (1);
		}
		rewind(f);
		buf = malloc((size_t)len + 1);
		n = fread(buf, 1, (size_t)len, f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, n);
		free(buf);
	}
	printf("replayed %d inputs\n", argc - 1);
	return (0);
}
