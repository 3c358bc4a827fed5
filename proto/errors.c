/*
 * errors.c -- the error-code table: wire codes <-> enum psync_err.
 */
#include <string.h>

#include "psync_proto.h"

static const char *const err_codes[PSYNC_ERR__COUNT] = {
	[PSYNC_ERR_NONE] = NULL,
#define PSYNC_ERR_ENTRY(sym, str) [PSYNC_ERR_##sym] = str,
	PSYNC_ERRORS(PSYNC_ERR_ENTRY)
#undef PSYNC_ERR_ENTRY
};

const char *
psync_err_code(enum psync_err err)
{
	if (err <= PSYNC_ERR_NONE || err >= PSYNC_ERR__COUNT)
		return (NULL);
	return (err_codes[err]);
}

enum psync_err
psync_err_lookup(const char *code)
{
	int	err;

	if (code == NULL)
		return (PSYNC_ERR_NONE);
	for (err = PSYNC_ERR_NONE + 1; err < PSYNC_ERR__COUNT; err++) {
		if (strcmp(err_codes[err], code) == 0)
			return ((enum psync_err)err);
	}
	return (PSYNC_ERR_NONE);
}
