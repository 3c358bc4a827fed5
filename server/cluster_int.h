/*
 * cluster_int.h -- what the cluster backend's files share: the mirror,
 * sessions' leases, waits and holds (cluster.c), used by the primitives
 * on it (cluster_lock.c, cluster_call.c, cluster_rec.c, cluster_cond.c).
 * Internal to psyncd's cluster backend: nothing else includes it.
 *
 * Layer 5, primitives: includes the model, request and etcd.
 */
#ifndef PSYNCD_CLUSTER_INT_H
#define PSYNCD_CLUSTER_INT_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "object.h"
#include "objtab.h"
#include "request.h"
#include "wait.h"

struct cluster_session;
struct etcd;
struct etcd_watch;
struct event;
struct event_base;
struct model;
struct session;

#define ROOT		"psync/"
#define ROOT_END	"psync0"	/* "psync/" + 1: the range's end */
#define OBJ_ROOT	"psync/o/"
#define QUEUE_SEP	"/q/"
#define KEY_MAX		512
#define RETRY_MS	100		/* reload, lease, delete retries */
#define CALL_TIMEOUT_MS	5000		/* an etcd call's, but keepalives' */
#define DELETE_TRIES	100		/* about 10 s of retries */
#define RCALL_TRIES	1000		/* others' changes came between */
#define MODE_READ	1		/* rwlock read: shares with readers */
#define MODE_WRITE	2		/* lock, rlock, rwlock write */

/* One queue key of the mirror. */
struct ckey {
	TAILQ_ENTRY(ckey)	 entry;		/* in create-revision order */
	int64_t			 rev;		/* create revision: the token */
	int64_t			 lease;
	uint8_t			 mode;		/* MODE_READ or MODE_WRITE */
	char			 type[16];	/* "lock" ... "semaphore", "barrier" */
	json_int_t		 round;		/* a barrier party's round */
	bool			 notified;	/* a cond waiter's, by a notify */
	char			*key;		/* the full etcd key */
	char			*value;		/* who: JSON text */
};

TAILQ_HEAD(ckey_list, ckey);

/* What a key under psync/o/<name>/ is. */
enum ckind {
	CK_QUEUE,		/* .../q/<lease>.<seq>.<r|w> */
	CK_SET,			/* .../set: the event is set */
	CK_VALUE,		/* .../v: the counter's decimal value */
	CK_SEM,			/* .../sem: a semaphore's record */
	CK_BAR			/* .../bar: a barrier's record */
};

/*
 * A semaphore's or a barrier's record: its whole shared state in one
 * key (not leased), so that every change is one compare-and-swap on its
 * mod revision.
 */
struct crecord {
	bool			 present;
	enum ckind		 kind;		/* CK_SEM or CK_BAR */
	int64_t			 mod;		/* mod revision; 0: absent */
	/* A semaphore. */
	json_int_t		 initial;
	json_int_t		 units;		/* owned: value + held; else value */
	bool			 bounded, owned;
	/* A barrier. */
	json_int_t		 parties;
	json_int_t		 round;		/* from 1; a trip or reset adds 1 */
	json_int_t		 arrived;	/* parties in this round */
	bool			 broken;
	bool			 was_reset;	/* the last round ended by a reset */
	char			 why[256];	/* what broke or reset it */
};

/* A name with keys in the mirror. */
struct cname {
	struct objtab_link	 link;
	struct ckey_list	 keys;		/* a lock type's queue */
	size_t			 nkeys;
	bool			 set;		/* an event's .../set exists */
	bool			 has_value;	/* a counter's .../v exists */
	int64_t			 value;
	int64_t			 value_mod;	/* its mod revision */
	struct crecord		 rec;		/* a semaphore's or barrier's */
	bool			 breaking;	/* a barrier's break in flight */
	size_t			 namelen;
	char			 name[];
};

struct ccall;
struct cnotify;
struct cop;
struct rcall;
struct cwait;
TAILQ_HEAD(cop_list, cop);
TAILQ_HEAD(cwait_list, cwait);

/* A session's cluster state: its lease. */
struct cluster_session {
	struct cluster		*c;
	struct session		*s;		/* NULL once it ended */
	int64_t			 lease;		/* 0 until granted */
	bool			 granting;
	int64_t			 sent_us;	/* the grant's send, monotonic */
	int64_t			 acked_us;	/* send of the last acked renewal */
	bool			 lost;		/* holds were lost with a lease */
	uint64_t		 seq;		/* of its queue keys */
	struct cop_list		 waiting;	/* enqueues awaiting the lease */
	TAILQ_ENTRY(cluster_session) entry;
};

TAILQ_HEAD(csess_list, cluster_session);

/* A cluster waiter: its key once put. */
struct cwait {
	struct wait		 w;
	TAILQ_ENTRY(cwait)	 entry;		/* on the cluster's queued */
	bool			 queued;	/* its key is put: on the list */
	struct cop		*op;		/* its put in flight, or NULL */
	char			*key;		/* owned once put */
	int64_t			 rev;		/* its create revision; 0: not yet */
	bool			 try;		/* timeout 0: judged once */
	struct ccall		*call;		/* an event or counter call */
	struct rcall		*rcall;		/* a record call in flight */
	int64_t			 take_failed;	/* a take lost at this mod */
	json_int_t		 round;		/* a barrier party's round */
	bool			 resolved;	/* the barrier's round ended */
	json_int_t		 index;		/* its index; -1: broken */
	char			 why[256];	/* what broke it */
	struct object		*lock;		/* a cond.wait's, pinned */
	char			**lock_keys;	/* its keys, until deleted */
	uint32_t		 nlock_keys;
	uint32_t		 depth;		/* the rlock depth released */
	bool			 notified;
	struct cnotify		*notify;	/* a cond.notify in flight */
};

/* An enqueue on etcd for a wait; outlives the wait if it must. */
struct cop {
	TAILQ_ENTRY(cop)	 entry;		/* on its session's waiting */
	bool			 waiting;	/* on it: not sent yet */
	struct cluster		*c;
	struct cluster_session	*cs;
	struct cwait		*cw;		/* NULL once the wait ended */
	char			*key;
};

/* A key to delete, retried while etcd cannot be reached. */
struct cdel {
	struct cluster		*c;
	char			*key;
	int			 tries;
};

struct cluster {
	struct model		*m;
	struct etcd		*etcd;
	struct event_base	*base;
	char			*prefix;
	size_t			 prefix_len;
	int			 ttl;
	char			 host[128];
	struct objtab		 names;		/* the mirror: struct cname */
	int64_t			 revision;	/* applied up to; 0: not loaded */
	struct etcd_watch	*watch;
	struct event		*reload;	/* range and watch again */
	struct event		*keepalive;
	struct csess_list	 sessions;
	unsigned		 nsessions;
	struct cwait_list	 queued;	/* local waits with a key put */
};

/*
 * One session's hold: its keys in etcd (one for a lock type; one per
 * unit of an owned semaphore, hold.count of them).
 */
struct chold {
	struct hold	 hold;		/* token: the first key's revision */
	char		**keys;		/* owned */
	uint32_t	 nkeys;
};

#define CHOLD(h)	((struct chold *)(void *)(h))

#define CW(w)		((struct cwait *)(w))

extern const struct objtype cluster_lock_type;
extern const struct objtype cluster_rlock_type;
extern const struct objtype cluster_rwlock_type;

extern const struct objtype cluster_event_type;
extern const struct objtype cluster_counter_type;
extern const struct objtype cluster_sem_type;
extern const struct objtype cluster_barrier_type;
extern const struct objtype cluster_cond_type;

/*
 * cluster.c: the mirror, deletes, sessions' leases, holds and waits.
 * Functions that end or fail a wait leave settling to their caller.
 */

/* The mirror's entry for name, or NULL. */
struct cname	*cluster_name_find(struct cluster *, const char *name,
		    size_t len);

/* n's queue key created at rev, or NULL; *pos (if not NULL): keys ahead. */
struct ckey	*cluster_key_find(const struct cname *n, int64_t rev,
		    json_int_t *pos);

/* A range of every key under prefix (one of KEY_MAX at most): new. */
json_t		*cluster_prefix_range(const char *prefix);

/*
 * Is name another type than t in the cluster (the first comer's, by
 * revision)?  If so, msg says so as a refusal does.
 */
bool		 cluster_type_clash_say(struct cluster *, const char *name,
		    size_t len, const struct objtype *t, char *msg,
		    size_t size);

/* Refuse rq if its name is another type in the cluster, or temporary. */
enum hret	 cluster_admit(struct request *rq, const struct objtype *t);

/* Delete key in etcd (taken over), retried while etcd is unreachable. */
void		 cluster_delete(struct cluster *, char *key);

/* A record's JSON text at revision mod into r; r as etcd's base64. */
void		 cluster_record_parse(const char *text, enum ckind kind,
		    int64_t mod, struct crecord *r);
json_t		*cluster_record_b64(const struct crecord *r);

/* A semaphore's value from its record and its queue's size. */
json_int_t	 cluster_sem_value_of(const struct crecord *r,
		    json_int_t queued);

/*
 * Put cw's queue key once its session has a lease (a barrier's arrival
 * and a cond.wait send their txns instead); it is judged once the mirror
 * has it.
 */
void		 cluster_wait_enqueue(struct cluster *, struct cwait *cw);

/* cw is over: its put, key and record call let go (keys deleted). */
void		 cluster_wait_abandon(struct cluster *, struct cwait *cw);

/* Take cw off the list of waits with a key put. */
void		 cluster_wait_unqueue(struct cluster *, struct cwait *cw);

/* The answer to a queue key's put or a cond.wait's txn (etcd_reply_fn). */
void		 cluster_put_cb(void *arg, json_t *reply, const char *err);

/* Add key (taken over) to s's hold on o, made under token if none. */
struct chold	*cluster_hold_add(struct object *o, struct session *s,
		    char *key, uint64_t token, uint8_t mode);

/* Delete h's last n keys in etcd. */
void		 cluster_hold_give(struct cluster *, struct hold *h, uint32_t n);

/* Unlink and free h; its keys are deleted in etcd if delete. */
void		 cluster_hold_free(struct model *, struct hold *h, bool delete);

/* The objtype hook: h's session is gone. */
void		 cluster_hold_lost(struct model *, struct object *,
		    struct hold *h);

/* Has s lost cluster holds with its lease?  (An expired one is let go.) */
bool		 cluster_session_lost(struct session *s);

bool		 cluster_is_queue(const struct object *o);	/* lock types */
bool		 cluster_is_held(const struct object *o);	/* + owned sem */
const char	*cluster_mode_name(uint8_t mode);		/* read, write */

/* The describe hook of every cluster type: {"cluster": true}. */
void		 cluster_flag_describe(const struct object *o, json_t *out);

/* Every cluster type's verbs: none (cluster_route routes them). */
extern const struct verb cluster_none[];

/* cluster_lock.c, cluster_call.c, cluster_rec.c, cluster_cond.c: ops. */
enum hret	 cluster_lock_acquire(struct request *);
enum hret	 cluster_lock_release(struct request *);
enum hret	 cluster_rlock_acquire(struct request *);
enum hret	 cluster_rlock_release(struct request *);
enum hret	 cluster_rwlock_acquire(struct request *);
enum hret	 cluster_rwlock_release(struct request *);
enum hret	 cluster_event_set(struct request *);
enum hret	 cluster_event_clear(struct request *);
enum hret	 cluster_event_is_set(struct request *);
enum hret	 cluster_event_wait(struct request *);
enum hret	 cluster_counter_get(struct request *);
enum hret	 cluster_counter_set(struct request *);
enum hret	 cluster_counter_add(struct request *);
enum hret	 cluster_counter_cas(struct request *);
enum hret	 cluster_sem_acquire(struct request *);
enum hret	 cluster_sem_release(struct request *);
enum hret	 cluster_sem_value(struct request *);
enum hret	 cluster_barrier_wait(struct request *);
enum hret	 cluster_barrier_abort(struct request *);
enum hret	 cluster_barrier_reset(struct request *);
enum hret	 cluster_barrier_info(struct request *);
enum hret	 cluster_cond_wait(struct request *);
enum hret	 cluster_cond_notify(struct request *);
enum hret	 cluster_cond_notify_all(struct request *);

/* cluster_rec.c: a record call k waiting on its wait's session. */
void		 cluster_rec_start(struct rcall *k, int64_t lease);
void		 cluster_rec_detach(struct rcall *k);	/* its wait ended */
void		 cluster_rec_drop(struct rcall *k);	/* failed unsent */

/*
 * The mirror applied a change of n's barrier record from old: its local
 * parties learn how their round ended, in revision order.
 */
void		 cluster_barrier_transition(struct cluster *, struct cname *n,
		    const struct crecord *old);

/* cluster_cond.c: a cond.wait's txn, and its end. */
void		 cluster_cond_send(struct cop *op);
void		 cluster_cond_leave(struct cluster *, struct cwait *cw);
void		 cluster_cond_drop_keys(struct cluster *, struct cwait *cw,
		    bool delete);
void		 cluster_cond_notify_detach(struct cnotify *k);

#endif
