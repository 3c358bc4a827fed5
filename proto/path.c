/*
 * path.c -- socket path resolution, identical in daemon, library and CLI.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "psync_proto.h"

int
psync_socket_path(const char *explicit, char *buf, size_t size, bool *per_user)
{
	struct sockaddr_un	 sun;
	const char		*env;
	int			 n;
	bool			 private_dir = false;

	if (explicit != NULL && *explicit != '\0')
		n = snprintf(buf, size, "%s", explicit);
	else if ((env = getenv("PSYNC_SOCKET")) != NULL && *env != '\0')
		n = snprintf(buf, size, "%s", env);
	else if (geteuid() == 0)
		n = snprintf(buf, size, "/run/psync/psyncd.sock");
	else if ((env = getenv("XDG_RUNTIME_DIR")) != NULL && *env == '/') {
		n = snprintf(buf, size, "%s/psync/psyncd.sock", env);
		private_dir = true;
	} else {
		n = snprintf(buf, size, "/tmp/psync-%lu/psyncd.sock",
		    (unsigned long)geteuid());
		private_dir = true;
	}
	if (n < 0 || (size_t)n >= size || (size_t)n >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	if (per_user != NULL)
		*per_user = private_dir;
	return (0);
}
