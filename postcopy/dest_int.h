/* postcopy/dest_int.h - the destination's state, shared by dest.c
 * (stages), dest_pages.c (fault and bulk threads, page installation) and
 * dest_link.c (outages after activation: waiting for the source to come
 * back). */
#ifndef POSTCOPY_DEST_INT_H
#define POSTCOPY_DEST_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include "lib/bitmap.h"
#include "lib/hist.h"
#include "postcopy/migrate.h"
#include "postcopy/outcome.h"
#include "postcopy/ram.h"
#include "uffd/uffd.h"

struct net_chan;
struct net_msg;

#define DST_PENDING_MAX 1024    /* faults waiting at once (vCPUs x few) */
#define DST_SPIN_NS     100000ull  /* busy-poll this long after activity */

struct dst_fault { uint64_t page, t0; };

struct dst {
	const struct receive_opts *o;
	struct pm_fail *fail;
	struct pm_hello hello;
	uint8_t nonce_src[32], nonce_dst[32];    /* --psk-file handshake */
	struct pm_cipher cipher;                 /* what it settled */
	bool authenticated;
	struct machine *m;
	struct pages_map ram;
	struct uffd uffd;
	bool registered;
	struct net_chan *ch[PM_CH_COUNT];
	struct pcm_bitmap received, requested;
	struct pm_link *link, own_link;          /* o->link, or our own */
	/* The vCPUs run here: a channel failing from now on is an outage,
	 * not the end (dest_link.c). Read by the page threads. */
	atomic_bool activated;
	bool finished;                           /* every page in and checked */
	enum oc_dst_state oc;                    /* postcopy/outcome.h, once active */
	struct pm_done done;                     /* what DONE says, once finished */
	/* A reconnection that came while an earlier one was still taking its
	 * page channels: the newer one wins (the source gave up the other),
	 * with its first message. */
	struct net_chan *next_ctl;
	struct net_msg next_m;
	uint64_t t_seen;                         /* last message on control (liveness) */
	uint64_t t_resume;                       /* the vCPUs started here */

	pthread_t fault_thr, bulk_thr;
	bool fault_running, bulk_running;
	atomic_bool stop;
	atomic_bool bulk_ended;
	atomic_bool precopy_ended;               /* bulk thread saw PRECOPY_END */
	bool precopy;                            /* the mode has pre-copy rounds */
	struct pm_digest pre_dg;                 /* --verify-ram: source's RAM */
	bool have_pre_dg, ram_verified;
	struct pcm_bitmap zeroed;                    /* received as zero (pre-copy) */

	atomic_uint_fast64_t pages_in;
	atomic_uint_fast64_t pushed, requested_in, zero, remote_faults;
	atomic_uint_fast64_t precopied, resent;
	uint64_t t_bulk_first, t_bulk_last;      /* bulk thread only */
	atomic_uint_fast64_t bulk_seen_ns;       /* last bulk message, any kind */

	pthread_mutex_t lock;                    /* guards the fault table */
	atomic_uint npend;
	struct dst_fault pend[DST_PENDING_MAX];
	struct pcm_hist lat;
	uint64_t blocktime_ns;
};

/* dest_pages.c. Start also after an outage: the fault thread first asks
 * again for every page a vCPU still waits for. */
int dst_threads_start(struct dst *d);
void dst_threads_stop(struct dst *d);
/* Oldest wait of a vCPU for a page, ns (0: none waits). */
uint64_t dst_oldest_fault_ns(struct dst *d);

/* dest.c, for reconnection */
int dst_recv(struct dst *d, struct net_msg *m, int timeout_ms, const char *what);
int dst_auth(struct dst *d, struct net_msg *m, const char *next);
int dst_refuse(struct dst *d, int err, const char *why);
/* The urgent and bulk connections. recovering: a new control connection
 * among them supersedes the attempt (-EALREADY, it is in d->next_ctl). */
int dst_channels(struct dst *d, bool recovering);
void dst_chan_close_all(struct dst *d);

/* dest_link.c */
int dst_link_timeout_ms(const struct dst *d);
/* A channel failed: before activation the migration's failure, after it
 * an outage (every channel is shut down so all threads notice). Any
 * thread; returns err. */
int dst_link_fail(struct dst *d, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void dst_note(struct dst *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True when the source knocks on the listening socket again: it lost
 * the link even if we have not noticed. */
bool dst_source_knocks(struct dst *d);
/* After an outage: wait for the source to reconnect, give it our pages.
 * 0 with d->oc OCD_ACTIVE (serving again) or OCD_FINISHED_PAUSED (every
 * page was here: the VM stays, the host answers for it). */
int dst_recover(struct dst *d);
/* Every page in: the source's RECOVER gets DONE, its QUERY an ANSWER,
 * until RELEASED (0), stop_fd readable (-ECANCELED) or deadline_ns on
 * pcm_now_ns (-ETIMEDOUT; 0: none). */
int dst_linger(struct dst *d, int stop_fd, uint64_t deadline_ns);
/* DONE on control, then RELEASED awaited (a PING or DIGEST on the way is
 * skipped). */
int dst_send_done(struct dst *d);
/* Every page is in: stop the page threads, let go of guest RAM, check the
 * guest and fill d->done, keeping the source's link alive meanwhile. */
void dst_complete(struct dst *d, const struct pm_digest *dg, bool have_dg);

#endif
