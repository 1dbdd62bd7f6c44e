/* postcopy/source_int.h - the source's state, shared by its files:
 * source.c (stages), source_serve.c (urgent thread and pusher),
 * source_report.c (the report). */
#ifndef POSTCOPY_SOURCE_INT_H
#define POSTCOPY_SOURCE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include "postcopy/bitmap.h"
#include "postcopy/migrate.h"
#include "postcopy/pusher.h"
#include "postcopy/ram.h"

struct net_chan;

struct src {
	struct machine *m;
	const struct migrate_opts *o;
	struct pm_fail *fail;
	struct ram ram;
	uint64_t session;
	struct net_chan *ch[PM_CH_COUNT];
	struct bitmap sent;
	struct pusher pusher;
	struct pm_pages_hdr urgent_hdr[PM_REQ_MAX];   /* live until a flush */
	void *blob;
	uint64_t state_bytes;

	pthread_t urgent_thr, push_thr;
	bool serving;
	atomic_bool stop;

	uint64_t t_start, t_ready, t_pause, t_paused, t_sent;
	uint64_t rtt_ns, downtime_ns, dst_ns;
	uint64_t bytes[PM_CH_COUNT];
	bool paused, committed;
};

int src_serve_start(struct src *s);
void src_serve_stop(struct src *s);
void src_report(const struct src *s, const struct pm_done *d, struct report *r);

#endif
