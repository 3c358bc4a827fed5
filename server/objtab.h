/*
 * objtab.h -- the name table: name -> object, a seeded hash.
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
 * Insert o, whose name is set.  Returns 0, or -1 if the table could not
 * grow (nothing changed).
 */
int		 objtab_insert(struct objtab *, struct object *o);

/* Remove o. */
void		 objtab_remove(struct objtab *, struct object *o);

/* The hash of a key, for uthash (see objtab.c). */
unsigned	 objtab_hash(const struct objtab *, const void *key, size_t len);

#endif
