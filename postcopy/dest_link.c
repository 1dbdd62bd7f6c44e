/* postcopy/dest_link.c - the destination's link once its vCPUs run:
 * failures become outages, and an outage is waited out.
 *
 * The VM keeps running through an outage: vCPUs that touch a page still
 * missing wait in userfaultfd, the others go on. The page threads stop;
 * the main thread waits on the listening socket for the source to come
 * back (up to the recover timeout), checks it as at the first handshake
 * (the key, then the session in RECOVER), answers with a bitmap of the
 * pages it holds, accepts new page channels and starts the threads again,
 * the fault thread first asking for every page a vCPU still waits for.
 *
 * Once every page is in, the source is only owed DONE: the VM stays here
 * whatever happens, and its host answers the source's reconnection with
 * DONE until it says RELEASED (dst_linger), so the source learns that the
 * migration succeeded however late it gets through. The decisions are
 * postcopy/outcome.c's.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "net/chan.h"
#include "net/wire.h"
#include "lib/clock.h"
#include "postcopy/dest_int.h"

int dst_link_timeout_ms(const struct dst *d)
{
	return d->o->link_timeout_ms > 0 ? d->o->link_timeout_ms : LINK_TIMEOUT_MS;
}

static int dst_recover_timeout_ms(const struct dst *d)
{
	return d->o->recover_timeout_ms > 0 ? d->o->recover_timeout_ms : RECOVER_TIMEOUT_MS;
}

int dst_link_fail(struct dst *d, int err, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return link_chan_fail(d->link, d->fail, atomic_load(&d->activated), d->ch, PM_CH_COUNT,
			      err, why);
}

void dst_note(struct dst *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	link_note(d->o->note, d->o->arg, fmt, ap);
	va_end(ap);
}

bool dst_source_knocks(struct dst *d)
{
	struct pollfd p = { .fd = d->o->lfd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

/* RECOVER_ACK: one bit per page we hold. */
static int dst_send_ack(struct dst *d)
{
	struct pm_recover_ack a = { .npages = d->ram.npages,
				    .pages_in = pcm_bitmap_count(&d->received) };
	struct iovec iov[2] = { { &a, sizeof(a) },
				{ (void *)pcm_bitmap_words(&d->received), pcm_bitmap_bytes(&d->received) } };
	int err = net_sendv(d->ch[PM_CH_CONTROL], PM_RECOVER_ACK, iov, 2);

	return err ? pm_fail_set(d->fail, err, "sending RECOVER_ACK: %s", wire_strerror(err)) : 0;
}

/* What a connection on the listening socket wants, once it has greeted
 * us as our source: pages again (RECOVER) or to know (QUERY, from
 * `resume`). */
enum dst_knock { KNOCK_RECOVER, KNOCK_QUERY };

/* QUERY: the VM runs here, with every page or still waiting for some. */
static int dst_answer(struct dst *d)
{
	struct pm_answer a = { .state = d->oc == OCD_FINISHED_PAUSED || d->oc == OCD_FINISHED
					? OCQ_RUNS_FINISHED : OCQ_RUNS_WAITING };
	int err = net_send(d->ch[PM_CH_CONTROL], PM_ANSWER, &a, sizeof(a));

	return err ? pm_fail_set(d->fail, err, "sending ANSWER: %s", wire_strerror(err)) : 0;
}

/* Who knocked: our source resuming its session or asking about it, or
 * someone to turn away. */
static int dst_check_recover(struct dst *d, const struct net_msg *m, enum dst_knock *kind)
{
	struct pm_recover r;
	char why[PM_WHY_LEN];

	if (m->type == PM_HELLO) {
		snprintf(why, sizeof(why), "this destination is busy: it hosts VM '%s' and answers "
			 "for its migration", d->hello.name);
		return dst_refuse(d, -EBUSY, why);
	}
	if ((m->type != PM_RECOVER && m->type != PM_QUERY) ||
	    pm_decode_fixed(m->payload, m->len, &r, sizeof(r), NULL))
		return dst_refuse(d, -EPROTO, "expected RECOVER on a new connection");
	if (r.session != d->hello.session)
		return dst_refuse(d, -ESRCH, "no migration with that session is waiting here");
	*kind = m->type == PM_QUERY ? KNOCK_QUERY : KNOCK_RECOVER;
	return *kind == KNOCK_QUERY ? dst_answer(d) : 0;
}

/* The next connection, greeted and checked: the one that superseded the
 * last attempt, or a new one from the listening socket within
 * timeout_ms (-EAGAIN: nobody came). */
static int dst_greet_again(struct dst *d, int timeout_ms, enum dst_knock *kind)
{
	struct net_msg m;
	int err = 0;

	d->authenticated = false;
	if (d->next_ctl) {
		d->ch[PM_CH_CONTROL] = d->next_ctl;
		m = d->next_m;
		d->next_ctl = NULL;
	} else {
		err = net_accept(d->o->lfd, timeout_ms, PM_TYPE_MAX, &d->ch[PM_CH_CONTROL]);
		if (err == -ETIMEDOUT)
			return -EAGAIN;        /* nobody came: nothing to tell */
		if (err)
			return pm_fail_set(d->fail, err, "%s", wire_strerror(err));
		err = dst_recv(d, &m, dst_link_timeout_ms(d), "RECOVER");
	}
	link_attempt(d->link);
	if (!err)
		err = dst_auth(d, &m, "RECOVER");
	if (!err)
		err = dst_check_recover(d, &m, kind);
	return err;
}

/* One connection on the listening socket. Its steps are the first
 * handshake's own, so their failures go to a scratch record (why), not
 * the migration's. -EAGAIN: nobody came, or a QUERY was answered;
 * -EALREADY: a newer reconnection came while this one took its page
 * channels (it is next, in d->next_ctl). */
static int dst_attempt(struct dst *d, int timeout_ms, char *why, size_t n)
{
	struct pm_fail *keep = d->fail, scratch;
	enum dst_knock kind = KNOCK_RECOVER;
	int err;

	pm_fail_init(&scratch);
	d->fail = &scratch;
	atomic_store(&d->activated, false);
	err = dst_greet_again(d, timeout_ms, &kind);
	if (!err && kind == KNOCK_QUERY) {
		dst_note(d, "answered the source's question: the VM runs here");
		err = -EAGAIN;
	}
	if (!err)
		err = dst_send_ack(d);
	if (!err)
		err = dst_channels(d, true);
	d->fail = keep;
	atomic_store(&d->activated, true);
	if (scratch.why[0])
		snprintf(why, n, "%s", scratch.why);
	if (err)
		dst_chan_close_all(d);
	return err;
}

/* The wait is over with nobody back: the VM goes, unless every page is
 * here already (then it stays, and the host answers for it). */
static int dst_recover_end(struct dst *d, uint64_t limit, const char *last)
{
	enum oc_dst_event ev = link_given_up(d->link) ? OCDE_GIVE_UP : OCDE_TIMEOUT;
	unsigned act;

	if (atomic_load(&d->pages_in) == d->ram.npages)
		ev = OCDE_ALL_IN;
	d->oc = oc_dst_step(d->oc, ev, &act);
	if (act & OCDA_HOST) {
		dst_note(d, "the source did not come back, but every page is here: the VM stays");
		return 0;
	}
	if (ev == OCDE_GIVE_UP)
		return pm_fail_set(d->fail, d->link->err, "link lost (%s); waiting for the source "
				   "given up by the operator after %.2f s (last: %s)", d->link->why,
				   link_down_ns(d->link) / 1e9, last);
	return pm_fail_set(d->fail, d->link->err, "link lost (%s) and the source did not come "
			   "back within %d s (last: %s)", d->link->why,
			   (int)(limit / 1000000000ull), last);
}

int dst_recover(struct dst *d)
{
	uint64_t limit = (uint64_t)dst_recover_timeout_ms(d) * 1000000ull;
	char last[320] = "nobody connected";
	unsigned act;

	dst_threads_stop(d);
	dst_chan_close_all(d);
	dst_note(d, "link lost: %s; the VM runs on, waiting up to %d s for the source",
		 d->link->why, (int)(limit / 1000000000ull));
	for (;;) {
		uint64_t down = link_down_ns(d->link);

		if (down >= limit || link_given_up(d->link))
			return dst_recover_end(d, limit, last);
		/* In slices, so that the operator's give-up is heard. */
		int ms = (int)((limit - down) / 1000000) + 1;
		int err = dst_attempt(d, ms < 500 ? ms : 500, last, sizeof(last));

		if (!err)
			break;
		if (err == -EALREADY)
			dst_note(d, "the source reconnected again while its last attempt took its page "
				 "channels: taking the newer connection");
		else if (err != -EAGAIN)
			dst_note(d, "turned a connection away: %s", last);
	}
	d->oc = oc_dst_step(d->oc, OCDE_RECOVER, &act);
	pcm_bitmap_clear_all(&d->requested);
	d->t_seen = pcm_now_ns();
	dst_note(d, "link restored after %.2f s", link_down_ns(d->link) / 1e9);
	link_restored(d->link);
	return dst_threads_start(d);
}

/* One knock while every page is here: DONE for RECOVER (then RELEASED),
 * ANSWER for QUERY (then maybe RELEASED). 0 once the source released. */
static int dst_linger_one(struct dst *d, char *why, size_t n)
{
	struct pm_fail *keep = d->fail, scratch;
	enum dst_knock kind = KNOCK_RECOVER;
	struct net_msg m;
	unsigned act;
	int err;

	pm_fail_init(&scratch);
	d->fail = &scratch;
	atomic_store(&d->activated, false);
	err = dst_greet_again(d, 100, &kind);
	if (!err && kind == KNOCK_RECOVER) {
		d->oc = oc_dst_step(d->oc, OCDE_RECOVER, &act);
		err = dst_send_done(d);
	} else if (!err) {
		err = dst_recv(d, &m, dst_link_timeout_ms(d), "RELEASED");
		if (!err && m.type != PM_RELEASED)
			err = pm_fail_set(d->fail, -EPROTO, "expected RELEASED, got %s",
					  pm_type_name(m.type));
	}
	if (!err)
		d->oc = oc_dst_step(d->oc, OCDE_RELEASED, &act);
	else if (d->oc == OCD_FINISHED)
		d->oc = oc_dst_step(d->oc, OCDE_LINK_LOST, &act);
	d->fail = keep;
	snprintf(why, n, "%s", scratch.why);
	dst_chan_close_all(d);
	return err;
}

int dst_linger(struct dst *d, int stop_fd, uint64_t deadline_ns)
{
	char why[320];

	for (;;) {
		struct pollfd p[2] = { { .fd = d->o->lfd, .events = POLLIN },
				       { .fd = stop_fd, .events = POLLIN } };
		uint64_t now = pcm_now_ns();
		int ms = 500, err;

		if (deadline_ns && now >= deadline_ns)
			return -ETIMEDOUT;
		if (deadline_ns && (deadline_ns - now) / 1000000 < 500)
			ms = (int)((deadline_ns - now) / 1000000) + 1;
		if (poll(p, stop_fd >= 0 ? 2 : 1, ms) < 0 && errno != EINTR)
			return -errno;
		if (stop_fd >= 0 && (p[1].revents & POLLIN))
			return -ECANCELED;
		if (!(p[0].revents & POLLIN))
			continue;
		why[0] = '\0';
		err = dst_linger_one(d, why, sizeof(why));
		if (!err) {
			dst_note(d, "the source came back and released the VM: the migration is over");
			return 0;
		}
		if (err != -EAGAIN && why[0])
			dst_note(d, "turned a connection away: %s", why);
	}
}
