/*
 * fuzz_conn.c -- arbitrary bytes from one client: framing, decoding and
 * every handler, split into two reads at a point the input chooses.
 */
#include "fuzz_common.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct server		*srv;
	struct fz_client	 k[2];
	size_t			 cut;

	if (size == 0)
		return (0);
	srv = fz_server();
	fz_open(srv, &k[0], 100);
	fz_open(srv, &k[1], 101);
	cut = data[0] % size;
	fz_send(srv, &k[0], data + 1, cut > 0 ? cut - 1 : 0);
	fz_check(srv);
	fz_send(srv, &k[0], data + (cut > 0 ? cut : 1),
	    size - (cut > 0 ? cut : 1));
	fz_check(srv);
	/* End of input, then death: everything it held must go. */
	fz_close(srv, &k[0]);
	fz_check(srv);
	fz_free(srv, k, 2);
	return (0);
}
