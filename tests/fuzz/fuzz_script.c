/*
 * fuzz_script.c -- a script over 8 virtual connections.  Each step of the
 * input picks a connection and either closes it (and reconnects it) or
 * sends it one of the ops below on one of a few shared names, with
 * fuzzer-chosen numbers; after every step the daemon's invariants are
 * checked, and at the end everything is freed under LeakSanitizer.
 */
#include <stdio.h>
#include <string.h>


#include "fuzz_common.h"

#define NCLIENTS	8

static const char *const names[] = { "a", "b", "c", "d" };

static const char *const ops[] = {
	"{\"op\":\"lock.acquire\",\"name\":\"%s\",\"id\":%d%s}",
	"{\"op\":\"lock.release\",\"name\":\"%s\",\"id\":%d%s}",
	"{\"op\":\"rlock.acquire\",\"name\":\"%s\",\"id\":%d%s}",
	"{\"op\":\"rlock.release\",\"name\":\"%s\",\"id\":%d%s}",
	"{\"op\":\"rwlock.acquire\",\"name\":\"%s\",\"mode\":\"read\",\"id\":%d%s}",
	"{\"op\":\"rwlock.acquire\",\"name\":\"%s\",\"mode\":\"write\",\"id\":%d%s}",
	"{\"op\":\"rwlock.release\",\"name\":\"%s\",\"id\":%d%s}",
	"{\"op\":\"event.set\",\"name\":\"%s\",\"id\":%d%s}",
	"{\"op\":\"event.clear\",\"name\":\"%s\",\"id\":%d%s}",
	"{\"op\":\"event.wait\",\"name\":\"%s\",\"id\":%d%s}",
	"{\"op\":\"cond.wait\",\"name\":\"%s\",\"lock\":\"a\",\"id\":%d%s}",
	"{\"op\":\"cond.wait\",\"name\":\"%s\",\"lock\":\"b\",\"id\":%d%s}",
	"{\"op\":\"cond.notify\",\"name\":\"%s\",\"n\":2,\"id\":%d%s}",
	"{\"op\":\"cond.notify_all\",\"name\":\"%s\",\"id\":%d%s}",
	"{\"op\":\"sem.acquire\",\"name\":\"%s\",\"value\":2,\"bounded\":true,\"id\":%d%s}",
	"{\"op\":\"sem.release\",\"name\":\"%s\",\"value\":2,\"bounded\":true,\"id\":%d%s}",
	"{\"op\":\"barrier.wait\",\"name\":\"%s\",\"parties\":3,\"id\":%d%s}",
	"{\"op\":\"barrier.reset\",\"name\":\"%s\",\"parties\":3,\"id\":%d%s}",
	"{\"op\":\"barrier.abort\",\"name\":\"%s\",\"parties\":3,\"id\":%d%s}",
	"{\"op\":\"counter.add\",\"name\":\"%s\",\"delta\":1,\"id\":%d%s}",
	"{\"op\":\"counter.cas\",\"name\":\"%s\",\"expect\":1,\"value\":0,\"id\":%d%s}",
	"{\"op\":\"delete\",\"name\":\"%s\",\"force\":true,\"id\":%d%s}",
	"{\"op\":\"delete\",\"name\":\"%s\",\"id\":%d%s}",
	"{\"op\":\"info\",\"name\":\"%s\",\"id\":%d%s}",
	"{\"op\":\"cancel\",\"target\":%d,\"x\":\"%s\"%s}",
	"{\"op\":\"list\",\"prefix\":\"%s\",\"id\":%d%s}",
};

static const char *const timeouts[] = {
	"", ",\"timeout\":0", ",\"timeout\":0.001", ",\"timeout\":null"
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct server		*srv;
	struct fz_client	 k[NCLIENTS];
	char			 line[256];
	size_t			 i;
	int			 c, op, n, pid = 100;

	srv = fz_server();
	for (c = 0; c < NCLIENTS; c++)
		fz_open(srv, &k[c], pid++);
	for (i = 0; i + 2 < size && i < 3 * 256; i += 3) {
		c = data[i] % NCLIENTS;
		op = data[i + 1] % (int)(sizeof(ops) / sizeof(ops[0]) + 1);
		if (op == (int)(sizeof(ops) / sizeof(ops[0]))) {
			fz_close(srv, &k[c]);
			fz_open(srv, &k[c], pid++);
		} else {
			if (strstr(ops[op], "\"target\"") != NULL)
				n = snprintf(line, sizeof(line), ops[op],
				    data[i + 2] % 8, "x", "");
			else
				n = snprintf(line, sizeof(line), ops[op],
				    names[data[i + 2] % 4], data[i + 2] % 8,
				    timeouts[(data[i + 2] >> 3) % 4]);
			line[n++] = '\n';
			fz_send(srv, &k[c], line, (size_t)n);
		}
		fz_check(srv);
	}
	fz_free(srv, k, NCLIENTS);
	return (0);
}
