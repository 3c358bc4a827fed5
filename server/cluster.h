/*
 * cluster.h -- objects shared through etcd by every psyncd pointed at it.
 *
 * Layer 5, primitives: includes the model, request and etcd.
 *
 * Names under the cluster prefix ("cluster/" unless --cluster-prefix)
 * live in etcd under psync/o/<name>/; every other name stays local.  A
 * cluster object is also a local object of its own type, whose waiters
 * and holders are this daemon's sessions: waits, deadlines, cancel,
 * info and a session's end work as for a local one, while who is granted
 * is decided from one mirror of etcd's psync/ keys, kept by one watch.
 * Each session that touches a cluster object gets an etcd lease,
 * revoked when the session ends (its keys go in that one write) and
 * kept alive every TTL/3 while it lasts.
 */
#ifndef PSYNCD_CLUSTER_H
#define PSYNCD_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "request.h"

struct cluster;
struct event_base;
struct model;

/*
 * Start a cluster backend for model m on base: the etcd members at urls,
 * names starting with prefix, leases of ttl seconds.  It loads the
 * mirror and opens its watch in the background; until then cluster
 * requests wait.  Returns it (m->cluster is set), or NULL with a message
 * in cause.
 */
struct cluster	*cluster_new(struct model *m, struct event_base *base,
		    const char *urls, const char *prefix, int ttl,
		    char *cause, size_t size);

/* Revoke every lease (best effort, not waited for) and free c. */
void		 cluster_free(struct cluster *c);

/*
 * The handler for rq if it names a cluster object (its "name" starts
 * with the prefix), or NULL: the op is then served locally.  An op the
 * cluster does not serve gets a handler that refuses it clearly.
 */
handler_fn	 cluster_route(struct cluster *c, const struct request *rq);

/*
 * Append to list an entry for each cluster name under prefix (NULL: all)
 * that the mirror knows and m has no local object for: {name, type,
 * holders, waiters, cluster: true}, and an event's set, a counter's
 * value.  Other hosts' objects, as list shows local ones.
 */
void		 cluster_list(struct cluster *c, struct model *m,
		    const char *prefix, size_t plen, json_t *list);

/* Add {member, connected, revision, sessions} to a stat reply's out. */
void		 cluster_describe(const struct cluster *c, json_t *out);

#endif
