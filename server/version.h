/* version.h -- the daemon's version, reported by hello and --version. */
#ifndef PSYNCD_VERSION_H
#define PSYNCD_VERSION_H

#define PSYNCD_VERSION	"0.1.0"

#endif
