/* postcopy/source_report.c - turn the source's timings and the
 * destination's DONE into the report. */
#include <math.h>
#include <string.h>
#include "guest/workload.h"
#include "net/crypt.h"
#include "lib/clock.h"
#include "postcopy/source_int.h"

static double us(uint64_t ns) { return ns / 1e3; }
static double ms(uint64_t ns) { return ns / 1e6; }

/* The count at the pause is also the count the destination resumed
 * from: the counter lives in guest RAM, which the pause froze. The rate
 * before is the engine's over the last second where it keeps one (the
 * thread engine), else from the migration's start to the pause: only
 * the few ms of set-up in post-copy. */
static void src_guest_rate(const struct src *s, const struct pm_done *d, struct report *r)
{
	const uint64_t ops[4] = { s->ops_start, s->ops_paused, d->guest_ops_in, d->guest_ops_end };
	const uint64_t ns[3] = { s->t_pause - s->t_start, d->guest_in_ns, d->guest_end_ns };

	report_guest_rate(r, ops, ns);
	if (s->rate_before_ns && isfinite(r->guest_rate.before)) {
		r->guest_rate.before = s->rate_before;
		r->guest_rate.before_ms = ms(s->rate_before_ns);
	}
}

void src_report(const struct src *s, const struct pm_done *d, struct report *r)
{
	const struct machine_config *c = machine_config_of(s->m);

	memset(r, 0, sizeof(*r));
	pm_strset(r->mode, sizeof(r->mode), pm_mode_name(s->o->mode));
	pm_strset(r->engine, sizeof(r->engine), machine_engine_name(c->engine));
	pm_strset(r->workload, sizeof(r->workload), machine_guest_label(c->guest, c->params.workload));
	r->ram_bytes = c->ram_bytes;
	r->vcpus = c->vcpus;
	r->setup_ms = ms(s->t_ready - s->t_start);
	r->precopy_ms = ms(s->pc.ns);
	r->precopy_rounds = s->pc.rounds;
	r->precopy_converged = s->pc.converged;
	pm_strset(r->precopy_stop, sizeof(r->precopy_stop), s->pc.stop);
	r->final_pages = s->pc.final_pages;
	r->nrounds = s->pc.rounds < REPORT_ROUNDS ? s->pc.rounds : REPORT_ROUNDS;
	for (unsigned i = 0; i < r->nrounds; i++) {
		r->round[i].pages = s->pc.round[i].pages;
		r->round[i].bytes = s->pc.round[i].bytes;
		r->round[i].ms = ms(s->pc.round[i].ns);
	}
	r->downtime_us = us(s->downtime_ns);
	r->pause_us = us(s->t_paused - s->t_pause);
	r->final_us = us(s->t_final - s->t_paused);
	r->save_us = us(s->t_sent - s->t_final);
	r->transfer_us = us(s->rtt_ns / 2);
	r->restore_us = us(s->dst_ns);
	r->max_stall_us = us(d->max_stall_ns);
	r->total_ms = ms(pcm_now_ns() - s->t_start);
	r->bytes_control = s->bytes[PM_CH_CONTROL];
	r->bytes_urgent = s->bytes[PM_CH_URGENT];
	r->bytes_bulk = s->bytes[PM_CH_BULK];
	r->pages_pushed = d->pages_pushed;
	r->pages_requested = d->pages_requested;
	r->pages_zero = d->pages_zero;
	r->pages_precopied = d->pages_precopied;
	r->pages_resent = s->pc.resent + s->pc.discarded + s->link_resent;
	r->pages_total = s->ram.npages;
	r->remote_faults = d->remote_faults;
	r->fault_p50_us = us(pcm_hist_pct(&d->fault_lat, 50));
	r->fault_p90_us = us(pcm_hist_pct(&d->fault_lat, 90));
	r->fault_p99_us = us(pcm_hist_pct(&d->fault_lat, 99));
	r->fault_max_us = us(d->fault_lat.max);
	r->blocktime_us = us(d->blocktime_ns);
	r->state_bytes = s->state_bytes;
	/* The rate pages were installed at on the destination, which is
	 * what a guest waits for; the pusher's own rate only fills buffers. */
	if (d->bulk_ns)
		r->bulk_mbps = d->pages_pushed * (double)PM_PAGE / (d->bulk_ns / 1e9) / 1e6;
	r->dest_overhead_bytes = d->overhead_bytes;
	pm_strset(r->cipher, sizeof(r->cipher), net_aead_name((enum net_aead)s->cipher.aead));
	r->link_pauses = s->link->pauses;
	r->link_paused_ms = ms(s->link->paused_ns);
	r->link_longest_ms = ms(s->link->longest_ns);
	r->verified = d->verified;
	pm_strset(r->verify_detail, sizeof(r->verify_detail), d->verify_detail);
	src_guest_rate(s, d, r);
}
