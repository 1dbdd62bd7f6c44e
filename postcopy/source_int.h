/* postcopy/source_int.h - the source's state, shared by its files:
 * source.c (stages), source_serve.c (urgent thread and pusher),
 * source_link.c (outages after activation: heartbeats, reconnection),
 * source_report.c (the report). */
#ifndef POSTCOPY_SOURCE_INT_H
#define POSTCOPY_SOURCE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include "lib/bitmap.h"
#include "postcopy/migrate.h"
#include "postcopy/outcome.h"
#include "postcopy/pusher.h"
#include "postcopy/ram.h"
#include "lib/ratelimit.h"

struct net_chan;
struct net_msg;

#define BULK_BATCH 16          /* PAGES messages per submission (4 MiB) */

struct bulk_batch {
	struct pm_pages_hdr hdr[BULK_BATCH];
	struct pm_range zero[PM_ZERO_MAX];
	unsigned nhdr, nzero;
	uint64_t bytes;        /* queued since the last flush */
	/* While the VM runs (pre-copy), pages are copied here before they are
	 * checksummed and sent: the guest may write them meanwhile, and the
	 * dirty log sends such a page again. NULL: send from guest RAM. */
	uint8_t *bounce;
	uint64_t bounce_used;
};

#define BULK_BOUNCE_BYTES ((uint64_t)BULK_BATCH * PM_RUN_MAX * PM_PAGE)

#define PC_ROUNDS_MAX 32      /* rounds the report itemizes */

struct precopy_round { uint64_t pages, bytes, ns; };

struct precopy_stats {
	unsigned rounds;
	struct precopy_round round[PC_ROUNDS_MAX];
	uint64_t ns;               /* first round's start to the pause */
	uint64_t final_pages;      /* sent during the downtime (precopy mode) */
	uint64_t discarded;        /* hybrid: pre-copied pages the guest wrote again */
	uint64_t resent;           /* pages sent again in a later round */
	bool converged;
	const char *stop;          /* why pre-copy ended */
};

struct src {
	struct machine *m;
	const struct migrate_opts *o;
	struct pm_fail *fail;
	struct pages_map ram;
	uint64_t session;
	struct pm_key key;                /* --psk-file */
	struct pm_cipher cipher;          /* what the handshake settled */
	uint8_t nonce_src[PM_NONCE_LEN], nonce_dst[PM_NONCE_LEN];
	struct net_chan *ch[PM_CH_COUNT];
	char host[256];                   /* the destination; `recover --to` moves it */
	uint16_t port;
	struct pm_link *link, own_link;   /* o->link, or our own */
	/* The state is on its way, so the destination may run the VM: a
	 * channel failing from here on is an outage (source_link.c). Read by
	 * the serving threads. */
	atomic_bool activated;
	bool unsure;                      /* gave up not knowing if the destination runs it */
	/* Where the outcome stands (postcopy/outcome.h) once the state is
	 * sent; done is where the destination's DONE goes, whichever
	 * connection brings it. */
	enum oc_src_state oc;
	struct pm_done *done;
	bool digest_sent;
	uint64_t t_seen;                  /* last message on control (liveness) */
	uint64_t link_resent;             /* sent, lost in an outage, sent again */
	struct pcm_bitmap sent;
	struct pusher pusher;
	struct pm_pages_hdr urgent_hdr[PM_REQ_MAX];   /* live until a flush */
	void *blob;
	uint64_t state_bytes;

	pthread_t urgent_thr, push_thr;
	bool serving;
	atomic_bool stop;

	uint64_t t_start, t_ready, t_pause, t_paused, t_final, t_sent;
	uint64_t ops_start, ops_paused;   /* the guest's operation count then */
	double rate_before;               /* machine_stats ops_rate before the pause, */
	uint64_t rate_before_ns;          /* over this window (0: none) */
	uint64_t rtt_ns, downtime_ns, dst_ns;
	uint64_t bytes[PM_CH_COUNT];
	bool paused, committed;
	bool tracking;                    /* the engine's dirty log is on */
	struct pcm_ratelimit rl;              /* the bulk channel's cap */
	struct precopy_stats pc;          /* source_precopy.c */
	struct pcm_bitmap pending;            /* pre-copy: written, not yet re-sent */
};

/* The operator asked a running pre-copy to go post-copy. */
static inline bool src_switched(const struct src *s)
{
	return s->o->switch_req && atomic_load(s->o->switch_req);
}

/* source_bulk.c */
int bulk_flush(struct src *s, struct bulk_batch *b);
int bulk_zero(struct src *s, struct bulk_batch *b, uint64_t first, uint64_t count);
int bulk_data(struct src *s, struct bulk_batch *b, uint64_t first, uint64_t count);
int bulk_run(struct src *s, struct bulk_batch *b, uint64_t first, uint64_t n);
int bulk_holes(struct src *s, struct bulk_batch *b);

/* source_precopy.c */
int src_precopy(struct src *s);
int src_precopy_final(struct src *s);

/* source.c, for reconnection */
int src_connect(struct src *s, enum pm_channel ch);
int src_auth(struct src *s);
int src_recv(struct src *s, struct net_msg *m, int timeout_ms, const char *what);
int src_refused(struct src *s, const struct net_msg *m);
/* A control message came: the destination lives; its ERROR is the
 * migration's failure. */
int src_heard(struct src *s, const struct net_msg *m);
void src_chan_close(struct src *s, enum pm_channel ch);

/* source_link.c */
/* A channel failed: before activation the migration's failure, after it
 * an outage (every channel is shut down so all threads notice). Any
 * thread; returns err. */
int src_link_fail(struct src *s, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void src_note(struct src *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Next control message after activation, sending a heartbeat PING when
 * due; silence beyond the link timeout breaks the link. */
int src_recv_live(struct src *s, struct net_msg *m);
/* After an outage: reconnect until it works or the recover timeout. 0
 * with s->oc OCS_COMMITTED (serving again) or OCS_DONE (the destination
 * had every page: *s->done filled, RELEASED sent). */
int src_recover(struct src *s);
/* A control connection authenticated afresh, with req (RECOVER or
 * QUERY) for s->session sent on it. */
int src_reopen(struct src *s, uint16_t req);
/* Decode DONE into *s->done and say RELEASED: the migration is over. */
int src_done(struct src *s, const struct net_msg *m);

int src_serve_start(struct src *s);
void src_serve_stop(struct src *s);
void src_report(const struct src *s, const struct pm_done *d, struct report *r);

#endif
