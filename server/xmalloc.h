/*
 * xmalloc.h -- allocation that cannot fail.
 *
 * The daemon cannot answer anyone once the heap is gone, so, like tmux,
 * it aborts with a message instead of threading NULL through every path.
 * (The one exception is the name table, which rolls back an insert that
 * fails and answers "internal".)  The client library never uses these.
 *
 * Layer 0, util: includes log.h.
 */
#ifndef PSYNCD_XMALLOC_H
#define PSYNCD_XMALLOC_H

#include <stddef.h>

void	*xmalloc(size_t size);
void	*xcalloc(size_t nmemb, size_t size);
/* Resize ptr to nmemb * size bytes, checked for overflow. */
void	*xreallocarray(void *ptr, size_t nmemb, size_t size);
char	*xstrndup(const char *s, size_t len);
char	*xstrdup(const char *s);

#endif
