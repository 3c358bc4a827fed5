/*
 * ops.c -- the op table: wire names <-> enum psync_op.
 */
#include <string.h>

#include "psync_proto.h"

struct op_entry {
	const char	*name;
	size_t		 len;
};

static const struct op_entry op_table[PSYNC_OP__COUNT] = {
#define PSYNC_OP_ENTRY(sym, str) [PSYNC_OP_##sym] = { str, sizeof(str) - 1 },
	PSYNC_OPS(PSYNC_OP_ENTRY)
#undef PSYNC_OP_ENTRY
};

/*
 * A scan comparing lengths first: with a few dozen ops it costs a few tens
 * of nanoseconds, less than hashing the name would.
 */
enum psync_op
psync_op_lookup(const char *name, size_t len)
{
	int	op;

	for (op = 0; op < PSYNC_OP__COUNT; op++) {
		if (op_table[op].len == len &&
		    memcmp(op_table[op].name, name, len) == 0)
			return ((enum psync_op)op);
	}
	return (PSYNC_OP_NONE);
}

/* Edit distance of a[0..n) and b[0..m), n and m at most OP_FUZZY_MAX. */
#define OP_FUZZY_MAX	32

static size_t
edit_distance(const char *a, size_t n, const char *b, size_t m)
{
	size_t	row[OP_FUZZY_MAX + 1], i, j, diag, up, best;

	for (j = 0; j <= m; j++)
		row[j] = j;
	for (i = 1; i <= n; i++) {
		diag = row[0];
		row[0] = i;
		for (j = 1; j <= m; j++) {
			up = row[j];
			best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return (row[m]);
}

enum psync_op
psync_op_nearest(const char *name, size_t len)
{
	size_t	d, best = (size_t)-1;
	int	op, found = PSYNC_OP_PING;

	if (len > OP_FUZZY_MAX)
		len = OP_FUZZY_MAX;
	for (op = 0; op < PSYNC_OP__COUNT; op++) {
		d = edit_distance(name, len, op_table[op].name,
		    op_table[op].len);
		if (d < best) {
			best = d;
			found = op;
		}
	}
	return ((enum psync_op)found);
}

const char *
psync_op_name(enum psync_op op)
{
	if (op < 0 || op >= PSYNC_OP__COUNT)
		return (NULL);
	return (op_table[op].name);
}
