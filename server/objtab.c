/*
 * objtab.c -- the name table.
 *
 * uthash keyed by name, with SipHash-2-4 (libsodium) under a key drawn at
 * startup in place of uthash's fixed hash: a client that crafts colliding
 * names cannot predict the buckets, so lookups stay O(1).  uthash is built
 * with HASH_NONFATAL_OOM, so a failed bucket allocation rolls the insert
 * back instead of calling exit().
 */
#include <sodium.h>

#include "objtab.h"

#undef HASH_FUNCTION
#define HASH_FUNCTION(keyptr, keylen, hashv)				\
	((hashv) = objtab_hash(tab, (keyptr), (keylen)))

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

struct object *
objtab_find(struct objtab *tab, const char *name, size_t len)
{
	struct object	*o;

	HASH_FIND(hh, tab->head, name, len, o);
	return (o);
}

int
objtab_insert(struct objtab *tab, struct object *o)
{
	HASH_ADD_KEYPTR(hh, tab->head, object_name(o), o->namelen, o);
	if (o->hh.tbl == NULL)
		return (-1);		/* uthash rolled the insert back */
	tab->count++;
	tab->per_kind[o->type->kind]++;
	return (0);
}

void
objtab_remove(struct objtab *tab, struct object *o)
{
	HASH_DELETE(hh, tab->head, o);
	tab->count--;
	tab->per_kind[o->type->kind]--;
}
