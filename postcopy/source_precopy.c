/* postcopy/source_precopy.c - pre-copy rounds, for modes precopy and
 * hybrid, while the VM runs.
 *
 * Round 1 sends every page (the memfd's holes as zero ranges, without
 * reading them); each later round sends the pages the guest wrote since
 * the previous one (the engine's dirty log). precopy stops when what is
 * left would cross in --max-downtime at the last round's rate, or after
 * --max-rounds, and sends the rest while the VM is paused. hybrid stops
 * after --precopy-rounds or --precopy-seconds (or when the operator
 * switches), and hands over to post-copy: pre-copied pages the guest wrote
 * again are discarded on the destination and fetched again on demand.
 *
 * Pages travel on the bulk channel like the post-copy pusher's; the sent
 * bitmap is shared with it, so a page pre-copied and not written again is
 * never sent twice.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "net/chan.h"
#include "net/wire.h"
#include "lib/clock.h"
#include "postcopy/pcpolicy.h"
#include "postcopy/source_int.h"


static bool mode_is(const struct src *s, enum pm_mode mode)
{
	return s->o->mode == mode;
}

static void policy_of(const struct src *s, struct pc_policy *p, struct pc_state *st)
{
	const struct precopy_round *r = &s->pc.round[(s->pc.rounds ? s->pc.rounds - 1 : 0) %
						    PC_ROUNDS_MAX];

	*p = (struct pc_policy){ .hybrid = mode_is(s, PM_MODE_HYBRID),
				 .max_downtime_ms = s->o->pc.max_downtime_ms,
				 .max_rounds = s->o->pc.max_rounds, .rounds = s->o->pc.rounds,
				 .seconds_ms = s->o->pc.seconds_ms };
	*st = (struct pc_state){ .rounds = s->pc.rounds, .last_bytes = r->bytes,
				 .last_ns = r->ns,
				 .pending_bytes = pcm_bitmap_count(&s->pending) * PM_PAGE,
				 .elapsed_ns = pcm_now_ns() - s->t_ready,
				 .switched = src_switched(s) };
}

static bool interrupted(const struct src *s)
{
	struct pc_policy p;
	struct pc_state st;

	policy_of(s, &p, &st);
	return pc_interrupt(&p, &st);
}

/* Send the pending pages in runs, clearing them and marking them sent;
 * stops early (leaving the rest pending) when can_stop and interrupted. */
static int send_pending(struct src *s, struct bulk_batch *b, struct precopy_round *r,
			bool can_stop)
{
	uint64_t p = 0, npages = s->ram.npages;
	unsigned runs = 0;
	int err = 0;

	while (!err && (p = pcm_bitmap_next_set(&s->pending, p)) < npages) {
		uint64_t e = pcm_bitmap_next_clear(&s->pending, p), n;

		n = ram_run_limit(&s->ram, p, e - p < PM_RUN_MAX ? e - p : PM_RUN_MAX);
		for (uint64_t i = p; i < p + n; i++) {
			pcm_bitmap_clear(&s->pending, i);
			if (pcm_bitmap_set(&s->sent, i))
				s->pc.resent++;
		}
		err = bulk_run(s, b, p, n);
		r->pages += n;
		p += n;
		if (can_stop && ++runs % 64 == 0 && interrupted(s))
			break;
	}
	return err ? err : bulk_flush(s, b);
}

static uint64_t bulk_bytes(const struct src *s)
{
	struct net_stats st;

	net_get_stats(s->ch[PM_CH_BULK], &st);
	return st.bytes_sent;
}

/* Round 1's set: every page backed by memory (holes go separately). */
static void pending_all_data(struct src *s)
{
	uint64_t page = 0, first, end;

	while (page < s->ram.npages) {
		ram_next_data(&s->ram, page, &first, &end);
		if (end > first)
			pcm_bitmap_set_range(&s->pending, first, end - first);
		page = end;
	}
}

/* A send that fails mid-round is usually the destination giving up: its
 * reason, when it sent one on the control channel, says more than ours. */
static int round_failed(struct src *s, int err)
{
	struct net_msg m;
	struct pm_error e;

	if (net_recv(s->ch[PM_CH_CONTROL], &m, 500) == 0 && m.type == PM_ERROR) {
		int code = pm_decode_error(m.payload, m.len, &e);

		return pm_fail_set(s->fail, code, "destination failed: %s", e.why);
	}
	return pm_fail_set(s->fail, err, "pre-copy round %u: %s", s->pc.rounds + 1,
			   wire_strerror(err));
}

static int round_run(struct src *s, struct bulk_batch *b)
{
	struct precopy_round r = { 0 };
	uint64_t t0 = pcm_now_ns(), b0 = bulk_bytes(s);
	int err = 0;

	if (s->pc.rounds == 0) {
		err = bulk_holes(s, b);
		pending_all_data(s);
	}
	if (!err)
		err = send_pending(s, b, &r, true);
	if (err)
		return round_failed(s, err);
	r.ns = pcm_now_ns() - t0;
	r.bytes = bulk_bytes(s) - b0;
	if (s->pc.rounds < PC_ROUNDS_MAX)
		s->pc.round[s->pc.rounds] = r;
	s->pc.rounds++;
	err = machine_dirty_fetch(s->m, s->pending.w, s->ram.npages);
	if (err)
		return pm_fail_set(s->fail, err, "reading the dirty log: %s", strerror(-err));
	if (s->o->round_done)
		s->o->round_done(s->o->progress_arg, s->pc.rounds, r.pages, r.bytes,
				 pcm_bitmap_count(&s->pending));
	return 0;
}

/* Why pre-copy should end now, or NULL to run another round. */
static const char *should_stop(struct src *s)
{
	struct pc_policy p;
	struct pc_state st;

	policy_of(s, &p, &st);
	return pc_decide(&p, &st, &s->pc.converged);
}

/* Ranges of pages both sent and written again: the destination drops them
 * and they go back to being unsent. They travel on the bulk channel, behind
 * the pre-copy pages they cancel and ahead of the post-copy stream, so the
 * destination applies them in exactly that order. */
static int send_discards(struct src *s)
{
	struct pm_range r[PM_ZERO_MAX];
	uint64_t p = 0;
	unsigned n = 0;
	int err = 0;

	while (!err && (p = pcm_bitmap_next_set(&s->pending, p)) < s->ram.npages) {
		uint64_t e = pcm_bitmap_next_clear(&s->pending, p), q = p;

		for (; q < e && !err; q++) {
			bool was_sent = pcm_bitmap_test(&s->sent, q);

			if (was_sent) {
				pcm_bitmap_clear(&s->sent, q);
				s->pc.discarded++;
			}
			if (was_sent && n && r[n - 1].first + r[n - 1].count == q) {
				r[n - 1].count++;
			} else if (was_sent) {
				if (n == PM_ZERO_MAX) {
					err = net_send(s->ch[PM_CH_BULK], PM_DISCARD, r, sizeof(r));
					n = 0;
				}
				r[n++] = (struct pm_range){ q, 1 };
			}
		}
		p = e;
	}
	if (!err && n)
		err = net_send(s->ch[PM_CH_BULK], PM_DISCARD, r, n * sizeof(r[0]));
	return err ? pm_fail_set(s->fail, err, "sending discards: %s", wire_strerror(err)) : 0;
}

/* Before the pause: wait until the destination has applied everything
 * sent so far (a PING on the bulk channel comes back once its bulk thread
 * reached it), so the downtime does not include it catching up on the
 * last round and the discards. Bounded: a slow link must not hold the
 * switch back for long. */
static void sync_bulk(struct src *s)
{
	struct pm_ping p = { .t_ns = pcm_now_ns() };
	struct net_msg m;

	if (net_send(s->ch[PM_CH_BULK], PM_PING, &p, sizeof(p)))
		return;
	if (net_recv(s->ch[PM_CH_BULK], &m, 2000) == 0 && m.type != PM_PING)
		pm_fail_set(s->fail, -EPROTO, "unexpected %s on the bulk channel",
			    pm_type_name(m.type));
}

int src_precopy(struct src *s)
{
	struct bulk_batch *b;
	int err;

	if ((err = pcm_bitmap_init(&s->pending, s->ram.npages)))
		return pm_fail_set(s->fail, err, "no memory for the dirty bitmap");
	err = machine_dirty_start(s->m);
	if (err == -EOPNOTSUPP)
		return pm_fail_set(s->fail, err, "the %s engine cannot track dirty pages, "
				   "which %s mode needs",
				   machine_engine_name(machine_config_of(s->m)->engine),
				   pm_mode_name(s->o->mode));
	if (err)
		return pm_fail_set(s->fail, err, "starting dirty tracking: %s", strerror(-err));
	s->tracking = true;
	b = calloc(1, sizeof(*b));
	if (b)
		b->bounce = malloc(BULK_BOUNCE_BYTES);
	if (!b || !b->bounce) {
		free(b);
		return pm_fail_set(s->fail, -ENOMEM, "no memory");
	}
	while (!(err = round_run(s, b)) && !(s->pc.stop = should_stop(s)))
		;
	/* Going post-copy: the pages written during the last round are known
	 * now, so drop them on the destination while the VM still runs; the
	 * pause then only has the last few milliseconds' writes to drop. */
	if (!err && (mode_is(s, PM_MODE_HYBRID) || src_switched(s))) {
		err = send_discards(s);
		pcm_bitmap_clear_all(&s->pending);
	}
	if (!err)
		sync_bulk(s);
	free(b->bounce);
	free(b);
	return err;
}

/* With the VM paused: the last dirty pages. precopy sends them now;
 * hybrid (or a switch) discards the pre-copied ones. Then the marker that
 * ends pre-copy on the bulk channel. */
int src_precopy_final(struct src *s)
{
	struct precopy_round r = { 0 };
	struct bulk_batch *b;
	int err = machine_dirty_fetch(s->m, s->pending.w, s->ram.npages);

	/* Tracking stops once the state is on its way (src_stop_and_copy):
	 * with the VM paused nothing is written, and stopping takes
	 * milliseconds on large guests that would count as downtime. */
	if (err)
		return pm_fail_set(s->fail, err, "reading the dirty log: %s", strerror(-err));
	s->pc.ns = pcm_now_ns() - s->t_ready;
	if (mode_is(s, PM_MODE_PRECOPY) && !src_switched(s)) {
		if (!(b = calloc(1, sizeof(*b))))
			return pm_fail_set(s->fail, -ENOMEM, "no memory");
		err = send_pending(s, b, &r, false);
		free(b);
		s->pc.final_pages = r.pages;
		if (err)
			return pm_fail_set(s->fail, err, "sending the last dirty pages: %s",
					   wire_strerror(err));
	} else if ((err = send_discards(s))) {
		return err;
	}
	err = net_send(s->ch[PM_CH_BULK], PM_PRECOPY_END, NULL, 0);
	return err ? pm_fail_set(s->fail, err, "ending pre-copy: %s", wire_strerror(err)) : 0;
}
