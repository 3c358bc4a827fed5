/*
 * collide.c -- names that all collide under uthash's stock hash.
 *
 * HASH_JEN (Bob Jenkins' lookup2) keeps a 96-bit state (i, j, h): each
 * 12-byte block is added to it word by word, then mixed by a bijection.
 * So for two-block pieces X Y from a state S, the state after them is
 * mix(mix(S + X) + Y): pick one piece's pre-mix target T, and any X gives
 * a piece that reaches T with Y = T - mix(S + X), if those 12 bytes happen
 * to be printable (about 1 in 200,000).  18 pieces per stage, 4 stages in
 * a row: 18^4 names of 96 bytes, all ending in the same full state, so
 * the same hash whatever uthash does with it -- unlike names colliding in
 * a few low bits, which uthash's table doubling splits up.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "collide.h"

#define STAGES		4
#define WAYS		18		/* pieces per stage: 18^4 names */
#define PIECE		24		/* two blocks */

struct jen {
	uint32_t	i, j, h;
};

/* Printable ASCII but '"' and '\\': 92 characters. */
static int
allowed(unsigned c)
{
	return (c >= 0x21 && c <= 0x7e && c != '"' && c != '\\');
}

/* xorshift64: a fixed, portable sequence. */
static uint64_t
next(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return (*x);
}

static void
random_block(uint64_t *x, unsigned char *b, size_t len)
{
	size_t	k;
	unsigned c;

	for (k = 0; k < len; k++) {
		do
			c = (unsigned)(next(x) & 0x7f);
		while (!allowed(c));
		b[k] = (unsigned char)c;
	}
}

static uint32_t
word(const unsigned char *b)
{
	return ((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	    (uint32_t)b[3] << 24);
}

static int
put_word(unsigned char *b, uint32_t w)
{
	int	k;

	for (k = 0; k < 4; k++, w >>= 8) {
		if (!allowed(w & 0xff))
			return (0);
		b[k] = (unsigned char)(w & 0xff);
	}
	return (1);
}

/* The state once block b is added to s, before the mix. */
static struct jen
add_block(struct jen s, const unsigned char *b)
{
	s.i += word(b);
	s.j += word(b + 4);
	s.h += word(b + 8);
	return (s);
}

static struct jen
mix(struct jen s)
{
	HASH_JEN_MIX(s.i, s.j, s.h);	/* uthash's own */
	return (s);
}

char *
collide_names(size_t *n)
{
	unsigned char	 piece[STAGES][WAYS][PIECE];
	struct jen	 s = { 0x9e3779b9u, 0x9e3779b9u, 0xfeedbeefu }, t, m;
	uint64_t	 x = 0x5eed0f0c011150e5ULL;
	size_t		 count = 1, idx, rest;
	char		*names, *p;
	int		 st, w;

	for (st = 0; st < STAGES; st++) {
		/* The first piece fixes the target T. */
		random_block(&x, piece[st][0], PIECE);
		t = add_block(mix(add_block(s, piece[st][0])), piece[st][0] +
		    12);
		for (w = 1; w < WAYS; w++) {
			do {
				random_block(&x, piece[st][w], 12);
				m = mix(add_block(s, piece[st][w]));
			} while (!put_word(piece[st][w] + 12, t.i - m.i) ||
			    !put_word(piece[st][w] + 16, t.j - m.j) ||
			    !put_word(piece[st][w] + 20, t.h - m.h));
		}
		s = mix(t);
		count *= WAYS;
	}
	if ((names = malloc(count * COLLIDE_NAME_SIZE)) == NULL)
		return (NULL);
	for (idx = 0; idx < count; idx++) {
		p = names + idx * COLLIDE_NAME_SIZE;
		for (st = 0, rest = idx; st < STAGES; st++, rest /= WAYS)
			memcpy(p + st * PIECE, piece[st][rest % WAYS], PIECE);
		p[COLLIDE_NAME_LEN] = '\0';
	}
	*n = count;
	return (names);
}

char *
collide_random_names(size_t n, unsigned seed)
{
	uint64_t	 x = 0x9e3779b97f4a7c15ULL ^ seed;
	char		*names;
	size_t		 idx;

	if ((names = malloc(n * COLLIDE_NAME_SIZE)) == NULL)
		return (NULL);
	for (idx = 0; idx < n; idx++) {
		random_block(&x, (unsigned char *)names + idx *
		    COLLIDE_NAME_SIZE, COLLIDE_NAME_LEN);
		names[idx * COLLIDE_NAME_SIZE + COLLIDE_NAME_LEN] = '\0';
	}
	return (names);
}
