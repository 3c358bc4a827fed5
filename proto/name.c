/*
 * name.c -- object name validation and UTF-8 helpers.
 */
#include <stdint.h>
#include <stdio.h>

#include "psync_proto.h"

/*
 * Length of the well-formed UTF-8 sequence at s (at most avail bytes), or 0
 * if it is malformed: overlong forms, surrogates and code points above
 * U+10FFFF are rejected, as RFC 3629 says.
 */
static size_t
utf8_seq_len(const unsigned char *s, size_t avail, uint32_t *cp)
{
	size_t		n, i;
	uint32_t	c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return (1);
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2; c = s[0] & 0x1f; min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3; c = s[0] & 0x0f; min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4; c = s[0] & 0x07; min = 0x10000;
	} else
		return (0);
	if (n > avail)
		return (0);
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (0);
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return (0);
	*cp = c;
	return (n);
}

/* What is wrong with name (NULL: nothing), and the offending byte's offset. */
static const char *
name_problem(const char *name, size_t len, size_t *at)
{
	const unsigned char	*s = (const unsigned char *)name;
	size_t			 i, n;
	uint32_t		 cp;

	*at = 0;
	if (len == 0)
		return ("name is empty");
	if (len > PSYNC_NAME_MAX) {
		*at = PSYNC_NAME_MAX;
		return ("name is longer than 255 bytes");
	}
	for (i = 0; i < len; i += n) {
		*at = i;
		if ((n = utf8_seq_len(s + i, len - i, &cp)) == 0)
			return ("name is not valid UTF-8");
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return ("name contains a control character");
	}
	return (NULL);
}

bool
psync_name_valid(const char *name, size_t len, const char **why)
{
	const char	*reason;
	size_t		 at;

	if ((reason = name_problem(name, len, &at)) == NULL)
		return (true);
	if (why != NULL)
		*why = reason;
	return (false);
}

bool
psync_name_check(const char *name, size_t len, char *msg, size_t size)
{
	const char	*reason;
	size_t		 at, start;

	if ((reason = name_problem(name, len, &at)) == NULL)
		return (true);
	if (len == 0)
		snprintf(msg, size, "%s", reason);
	else if (len > PSYNC_NAME_MAX)
		snprintf(msg, size, "%s (it has %zu)", reason, len);
	else if (at == 0)
		snprintf(msg, size, "%s: byte 0 is 0x%02x", reason,
		    (unsigned char)name[0]);
	else {
		/* The valid text before it: its last 40 bytes or fewer. */
		start = at > 40 ? at - 40 : 0;
		while (start < at && ((unsigned char)name[start] & 0xc0) == 0x80)
			start++;
		snprintf(msg, size, "%s: byte %zu is 0x%02x, after '%s%.*s'",
		    reason, at, (unsigned char)name[at], start > 0 ? "..." : "",
		    (int)(at - start), name + start);
	}
	return (false);
}

size_t
psync_utf8_prefix(const char *s, size_t len, size_t max)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 n;

	if (len <= max)
		return (len);
	n = max;
	/* Step back over continuation bytes to the start of a sequence. */
	while (n > 0 && (u[n] & 0xc0) == 0x80)
		n--;
	return (n);
}
