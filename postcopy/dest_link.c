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
 * Once every page is in, the source is only owed DONE: if it does not
 * come back for it within a short grace, the VM stays here all the same.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "net/chan.h"
#include "net/wire.h"
#include "postcopy/clock.h"
#include "postcopy/dest_int.h"

int dst_link_timeout_ms(const struct dst *d)
{
	return d->o->link_timeout_ms > 0 ? d->o->link_timeout_ms : LINK_TIMEOUT_MS;
}

static int dst_recover_timeout_ms(const struct dst *d)
{
	int full = d->o->recover_timeout_ms > 0 ? d->o->recover_timeout_ms : RECOVER_TIMEOUT_MS;
	int grace = 2 * dst_link_timeout_ms(d) + 5000;

	/* Finished: a source still waiting for DONE notices within a link
	 * timeout and is back within its first backoff steps. */
	return d->finished && grace < full ? grace : full;
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
				    .pages_in = bitmap_count(&d->received) };
	struct iovec iov[2] = { { &a, sizeof(a) },
				{ (void *)bitmap_words(&d->received), bitmap_bytes(&d->received) } };
	int err = net_sendv(d->ch[PM_CH_CONTROL], PM_RECOVER_ACK, iov, 2);

	return err ? pm_fail_set(d->fail, err, "sending RECOVER_ACK: %s", wire_strerror(err)) : 0;
}

/* Who knocked: our source resuming its session, or someone to turn away. */
static int dst_check_recover(struct dst *d, const struct net_msg *m)
{
	struct pm_recover r;
	char why[PM_WHY_LEN];

	if (m->type == PM_HELLO) {
		snprintf(why, sizeof(why), "this destination is busy: it waits for VM '%s' to "
			 "come back from a broken link", d->hello.name);
		return dst_refuse(d, -EBUSY, why);
	}
	if (m->type != PM_RECOVER || pm_decode_fixed(m->payload, m->len, &r, sizeof(r), NULL))
		return dst_refuse(d, -EPROTO, "expected RECOVER on a new connection");
	if (r.session != d->hello.session)
		return dst_refuse(d, -ESRCH, "no migration with that session is waiting here");
	return 0;
}

/* One connection on the listening socket. Its steps are the first
 * handshake's own, so their failures go to a scratch record (why), not
 * the migration's. */
static int dst_attempt(struct dst *d, int timeout_ms, char *why, size_t n)
{
	struct pm_fail *keep = d->fail, scratch;
	struct net_msg m;
	int err;

	pm_fail_init(&scratch);
	d->fail = &scratch;
	atomic_store(&d->activated, false);
	err = net_accept(d->o->lfd, timeout_ms, PM_TYPE_MAX, &d->ch[PM_CH_CONTROL]);
	if (err == -ETIMEDOUT)
		err = -EAGAIN;         /* nobody came: nothing to tell */
	else if (err)
		pm_fail_set(d->fail, err, "%s", wire_strerror(err));
	else
		link_attempt(d->link);
	if (!err)
		err = dst_recv(d, &m, dst_link_timeout_ms(d), "RECOVER");
	if (!err)
		err = dst_auth(d, &m, "RECOVER");
	if (!err)
		err = dst_check_recover(d, &m);
	if (!err)
		err = dst_send_ack(d);
	if (!err)
		err = dst_channels(d);
	d->fail = keep;
	atomic_store(&d->activated, true);
	if (scratch.why[0])
		snprintf(why, n, "%s", scratch.why);
	if (err)
		dst_chan_close_all(d);
	return err;
}

int dst_recover(struct dst *d)
{
	uint64_t limit = (uint64_t)dst_recover_timeout_ms(d) * 1000000ull;
	char last[320] = "nobody connected";

	dst_threads_stop(d);
	dst_chan_close_all(d);
	dst_note(d, "link lost: %s; the VM runs on, waiting up to %d s for the source",
		 d->link->why, (int)(limit / 1000000000ull));
	for (;;) {
		uint64_t down = link_down_ns(d->link);

		if (down >= limit || link_given_up(d->link))
			break;
		/* In slices, so that the operator's give-up is heard. */
		int ms = (int)((limit - down) / 1000000) + 1;
		int err = dst_attempt(d, ms < 500 ? ms : 500, last, sizeof(last));

		if (!err)
			goto back;
		if (err != -EAGAIN)
			dst_note(d, "turned a connection away: %s", last);
	}
	if (d->finished) {
		d->unconfirmed = true;
		dst_note(d, "the source did not come back for DONE; every page is here, the VM "
			 "stays");
		return 0;
	}
	if (link_given_up(d->link))
		return pm_fail_set(d->fail, d->link->err, "link lost (%s); waiting for the source "
				   "given up by the operator after %.2f s (last: %s)", d->link->why,
				   link_down_ns(d->link) / 1e9, last);
	return pm_fail_set(d->fail, d->link->err, "link lost (%s) and the source did not come "
			   "back within %d s (last: %s)", d->link->why,
			   (int)(limit / 1000000000ull), last);
back:
	bitmap_clear_all(&d->requested);
	d->t_seen = clock_now_ns();
	dst_note(d, "link restored after %.2f s", link_down_ns(d->link) / 1e9);
	link_restored(d->link);
	return d->finished ? 0 : dst_threads_start(d);
}
