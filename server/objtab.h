/*
 * objtab.h -- the name table: name -> entry, a seeded hash.
 *
 * Layer 1, objtab: includes util only.  The only module that uses uthash:
 * a tabled thing embeds a struct objtab_link and gets itself back from
 * the link (object.h's object_of); nothing else touches the handle.
 */
#ifndef PSYNCD_OBJTAB_H
#define PSYNCD_OBJTAB_H

#include <stddef.h>
#include <stdint.h>

/* A failed insert is rolled back and reported, never exit() (objtab.c). */
#define HASH_NONFATAL_OOM 1
#include <uthash.h>

struct objtab_link {
	UT_hash_handle	 hh;			/* opaque outside objtab.c */
};

struct objtab {
	struct objtab_link *head;		/* uthash head */
	unsigned char	 key[16];		/* SipHash key, random per run */
	size_t		 count;
};

/* Initialise an empty table with a fresh random key.  Returns 0 or -1. */
int		 objtab_init(struct objtab *);

/* Find name[0..len); NULL if absent. */
struct objtab_link *objtab_find(struct objtab *, const char *name,
		    size_t len);

/*
 * Insert l under name[0..len) (NUL-terminated, owned by l's owner and
 * alive as long as l is tabled).  Returns 0, or -1 if the table could not
 * grow (nothing changed).
 */
int		 objtab_insert(struct objtab *, struct objtab_link *l,
		    const char *name, size_t len);

/* Remove l. */
void		 objtab_remove(struct objtab *, struct objtab_link *l);

/*
 * Every entry, in no particular order: for (l = objtab_first(t); l !=
 * NULL; l = objtab_next(l)).  Nothing may be inserted or removed during
 * the walk (take objtab_first() again after a removal).
 */
struct objtab_link *objtab_first(const struct objtab *);
struct objtab_link *objtab_next(const struct objtab_link *);

/* The keyed hash of a name (SipHash-2-4 under the table's key). */
unsigned	 objtab_hash(const struct objtab *, const void *key, size_t len);

#endif
