/*
 * token.h -- fencing tokens, strictly increasing across restarts.
 *
 * Layer 0, util: libc only.
 */
#ifndef PSYNCD_TOKEN_H
#define PSYNCD_TOKEN_H

#include <stdint.h>

struct tokens {
	uint64_t	 last;		/* last token granted */
	uint64_t	 reserved;	/* saved high-water mark */
	const char	*state_file;	/* NULL: none */
};

/* The largest token: JSON clients keep integers below 2^53 exact. */
#define TOKEN_MAX	((UINT64_C(1) << 53) - 1)

/*
 * Start the sequence above the current time in microseconds and above
 * the value saved in state_file (if not NULL), and reserve a block there.
 * Returns 0, or -1 with a message in cause.
 */
int		 tokens_init(struct tokens *, const char *state_file,
		    char *cause, size_t size);

/* The next token. */
uint64_t	 tokens_next(struct tokens *);

#endif
