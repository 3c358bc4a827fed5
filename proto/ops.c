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

const char *
psync_op_name(enum psync_op op)
{
	if (op < 0 || op >= PSYNC_OP__COUNT)
		return (NULL);
	return (op_table[op].name);
}
