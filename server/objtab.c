/*
 * objtab.c -- the name table.
 *
 * uthash keyed by name, with SipHash-2-4 (libsodium) under a key drawn at
 * startup in place of uthash's fixed hash: a client that crafts colliding
 * names cannot predict the buckets, so lookups stay O(1).  uthash is built
 * with HASH_NONFATAL_OOM, so a failed bucket allocation rolls the insert
 * back instead of calling exit().
 *
 * The hash is computed here and handed to uthash's _BYHASHVALUE macros
 * (uthash keeps it in each handle for its table doubling), so
 * HASH_FUNCTION is never overridden.  This is the one file that uses
 * uthash; the rest of the daemon sees the table through the functions
 * below.
 */
#include <sodium.h>

#include "objtab.h"

unsigned
objtab_hash(const struct objtab *tab, const void *key, size_t len)
{
	unsigned char	out[crypto_shorthash_BYTES];
	unsigned	h;

	crypto_shorthash(out, key, len, tab->key);
	memcpy(&h, out, sizeof(h));
	return (h);
}

int
objtab_init(struct objtab *tab)
{
	memset(tab, 0, sizeof(*tab));
	if (sodium_init() < 0)
		return (-1);
	randombytes_buf(tab->key, sizeof(tab->key));
	return (0);
}

struct objtab_link *
objtab_find(struct objtab *tab, const char *name, size_t len)
{
	struct objtab_link	*l;

	HASH_FIND_BYHASHVALUE(hh, tab->head, name, len,
	    objtab_hash(tab, name, len), l);
	return (l);
}

int
objtab_insert(struct objtab *tab, struct objtab_link *l, const char *name,
    size_t len)
{
	HASH_ADD_KEYPTR_BYHASHVALUE(hh, tab->head, name, len,
	    objtab_hash(tab, name, len), l);
	if (l->hh.tbl == NULL)
		return (-1);		/* uthash rolled the insert back */
	tab->count++;
	return (0);
}

void
objtab_remove(struct objtab *tab, struct objtab_link *l)
{
	HASH_DELETE(hh, tab->head, l);
	tab->count--;
}

struct objtab_link *
objtab_first(const struct objtab *tab)
{
	return (tab->head);
}

struct objtab_link *
objtab_next(const struct objtab_link *l)
{
	return (l->hh.next);
}
