/*
 * collide.h -- object names crafted to collide in the name table's hash.
 */
#ifndef PSYNC_TEST_COLLIDE_H
#define PSYNC_TEST_COLLIDE_H

#include <stddef.h>

#define COLLIDE_NAME_LEN	96		/* bytes, without the NUL */
#define COLLIDE_NAME_SIZE	(COLLIDE_NAME_LEN + 1)

/*
 * 104,976 distinct valid names of COLLIDE_NAME_LEN printable ASCII bytes
 * (no '"' or '\\', so they go into JSON as they are) that all have the
 * same hash under uthash's stock HASH_JEN: what a client would send to
 * turn an unkeyed name table into one chain.  Returns a malloc'd array of
 * *n names, COLLIDE_NAME_SIZE bytes apart, NUL-terminated; the caller
 * frees it.  NULL if out of memory.
 */
char	*collide_names(size_t *n);

/*
 * n random names like those (same length and alphabet), from seed: the
 * baseline.  Returns a malloc'd array as collide_names does, or NULL.
 */
char	*collide_random_names(size_t n, unsigned seed);

#endif
