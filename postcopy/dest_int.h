/* postcopy/dest_int.h - the destination's state, shared by dest.c
 * (stages) and dest_pages.c (fault and bulk threads, page installation). */
#ifndef POSTCOPY_DEST_INT_H
#define POSTCOPY_DEST_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include "postcopy/bitmap.h"
#include "postcopy/hist.h"
#include "postcopy/migrate.h"
#include "postcopy/ram.h"
#include "uffd/uffd.h"

struct net_chan;

#define DST_PENDING_MAX 1024    /* faults waiting at once (vCPUs x few) */
#define DST_SPIN_NS     100000ull  /* busy-poll this long after activity */

struct dst_fault { uint64_t page, t0; };

struct dst {
	const struct receive_opts *o;
	struct pm_fail *fail;
	struct pm_hello hello;
	uint8_t nonce_src[32], nonce_dst[32];    /* --psk-file handshake */
	bool authenticated;
	struct machine *m;
	struct ram ram;
	struct uffd uffd;
	bool registered;
	struct net_chan *ch[PM_CH_COUNT];
	struct bitmap received, requested;

	pthread_t fault_thr, bulk_thr;
	bool fault_running, bulk_running;
	atomic_bool stop;
	atomic_bool bulk_ended;
	atomic_bool precopy_ended;               /* bulk thread saw PRECOPY_END */
	bool precopy;                            /* the mode has pre-copy rounds */
	struct pm_digest pre_dg;                 /* --verify-ram: source's RAM */
	bool have_pre_dg, ram_verified;
	struct bitmap zeroed;                    /* received as zero (pre-copy) */

	atomic_uint_fast64_t pages_in;
	atomic_uint_fast64_t pushed, requested_in, zero, remote_faults;
	atomic_uint_fast64_t precopied, resent;
	uint64_t t_bulk_first, t_bulk_last;      /* bulk thread only */
	atomic_uint_fast64_t bulk_seen_ns;       /* last bulk message, any kind */

	pthread_mutex_t lock;                    /* guards the fault table */
	atomic_uint npend;
	struct dst_fault pend[DST_PENDING_MAX];
	struct hist lat;
	uint64_t blocktime_ns;
};

int dst_threads_start(struct dst *d);
void dst_threads_stop(struct dst *d);

#endif
