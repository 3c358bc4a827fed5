/*
 * objtab.h -- the name table: name -> object, a seeded hash.
 *
 * Layer: util.  The only module that uses uthash (object.h embeds its
 * handle type; nothing else touches it).
 */
#ifndef PSYNCD_OBJTAB_H
#define PSYNCD_OBJTAB_H

#include <stddef.h>
#include <stdint.h>

#include "object.h"

struct objtab {
	struct object	*head;			/* uthash head */
	unsigned char	 key[16];		/* SipHash key, random per run */
	size_t		 count;
	size_t		 per_kind[OBJ__COUNT];
};

/* Initialise an empty table with a fresh random key.  Returns 0 or -1. */
int		 objtab_init(struct objtab *);

/* Find name[0..len); NULL if absent. */
struct object	*objtab_find(struct objtab *, const char *name, size_t len);

/*
 * Insert o under name (o->namelen bytes, NUL-terminated, owned by o and
 * alive as long as it is; object_name(o) is it from now on).  Returns 0,
 * or -1 if the table could not grow (nothing changed).
 */
int		 objtab_insert(struct objtab *, struct object *o,
		    const char *name);

/* Remove o. */
void		 objtab_remove(struct objtab *, struct object *o);

/*
 * Every object, in no particular order: for (o = objtab_first(t); o !=
 * NULL; o = objtab_next(o)).  Nothing may be inserted or removed during
 * the walk (take objtab_first() again after a removal).
 */
struct object	*objtab_first(const struct objtab *);
struct object	*objtab_next(const struct object *);

/* The keyed hash of a name (SipHash-2-4 under the table's key). */
unsigned	 objtab_hash(const struct objtab *, const void *key, size_t len);

#endif
