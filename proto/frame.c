/*
 * frame.c -- newline-delimited framing.
 *
 * One message is one line ending in "\n"; a "\r" before it is tolerated
 * and not counted.  The length limit is enforced before anything is
 * parsed, so an endless line costs at most max_line + 2 bytes of memory.
 */
#include <string.h>

#include "psync_proto.h"

bool
psync_line_blank(const char *line, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			return (false);
	}
	return (true);
}

enum psync_frame
psync_frame_next(const char *buf, size_t size, size_t max_line, bool at_eof,
    struct psync_line *line)
{
	const char	*nl;
	size_t		 scan, len;

	/* A valid line plus "\r\n" fits in max_line + 2 bytes: look no further. */
	scan = size < max_line + 2 ? size : max_line + 2;
	nl = memchr(buf, '\n', scan);
	if (nl == NULL) {
		if (size > max_line + 1 ||
		    (size == max_line + 1 && buf[max_line] != '\r'))
			return (PSYNC_FRAME_TOO_LARGE);
		if (!at_eof || size == 0)
			return (PSYNC_FRAME_PARTIAL);
		len = size;
		line->consumed = size;
	} else {
		len = (size_t)(nl - buf);
		line->consumed = len + 1;
	}
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len > max_line)
		return (PSYNC_FRAME_TOO_LARGE);
	line->start = buf;
	line->len = len;
	return (PSYNC_FRAME_LINE);
}
