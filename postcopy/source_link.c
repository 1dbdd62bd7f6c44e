/* postcopy/source_link.c - the source's link once the destination may run
 * the VM: failures become outages, heartbeats find a silent destination,
 * and reconnection resumes the migration where the destination stands.
 *
 * An outage stops the serving threads and closes every channel; then,
 * with backoff (or at once on the operator's `recover`, maybe to a new
 * address), the source connects a new control channel, authenticates
 * afresh, names its session (RECOVER) and gets back the destination's
 * received-page bitmap (RECOVER_ACK). That bitmap becomes "sent", so the
 * pusher sends exactly the pages lost in flight and everything after;
 * the destination asks again for the pages its vCPUs wait for. A page
 * that arrives twice is refused by userfaultfd (EEXIST), never applied
 * twice.
 *
 * Before commitment (state sent, RESUMED not seen) the source does not
 * know whether the destination runs the VM. An answer settles it: an
 * acknowledgement commits, a refusal or a closed door (connection
 * refused, or closed without an answer) means the destination does not
 * hold it and the VM resumes here. No answer at all until the recover
 * timeout leaves the VM paused here: resuming could run it twice.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "net/chan.h"
#include "net/wire.h"
#include "lib/clock.h"
#include "postcopy/source_int.h"

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS   2000

static int link_timeout_ms(const struct src *s)
{
	return s->o->link_timeout_ms > 0 ? s->o->link_timeout_ms : LINK_TIMEOUT_MS;
}

static int recover_timeout_ms(const struct src *s)
{
	return s->o->recover_timeout_ms > 0 ? s->o->recover_timeout_ms : RECOVER_TIMEOUT_MS;
}

int src_link_fail(struct src *s, int err, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return link_chan_fail(s->link, s->fail, atomic_load(&s->activated), s->ch, PM_CH_COUNT,
			      err, why);
}

void src_note(struct src *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	link_note(s->o->note, s->o->progress_arg, fmt, ap);
	va_end(ap);
}

/* The destination's PROGRESS comes every 250 ms; ours is a PING every
 * quarter of the link timeout, which it takes as a sign of life. */
int src_recv_live(struct src *s, struct net_msg *m)
{
	int lt = link_timeout_ms(s), hb = lt / 4 > 50 ? lt / 4 : 50;
	uint64_t last_ping = 0;

	for (;;) {
		uint64_t now = pcm_now_ns();
		int err;

		if (now - last_ping >= (uint64_t)hb * 1000000ull) {
			struct pm_ping p = { .t_ns = now };

			if ((err = net_send(s->ch[PM_CH_CONTROL], PM_PING, &p, sizeof(p))))
				return src_link_fail(s, err, "sending a heartbeat: %s",
						     wire_strerror(err));
			last_ping = now;
		}
		err = net_recv(s->ch[PM_CH_CONTROL], m, hb);
		if (err == -ETIMEDOUT && pcm_now_ns() - s->t_seen < (uint64_t)lt * 1000000ull)
			continue;
		if (err == -ETIMEDOUT) {
			err = src_link_fail(s, err, "the destination has been silent for %.1f s",
					    (pcm_now_ns() - s->t_seen) / 1e9);
			link_backdate(s->link, s->t_seen);
			return err;
		}
		if (err)
			return src_link_fail(s, err, "control channel: %s", wire_strerror(err));
		return src_heard(s, m);
	}
}

/* The answer to RECOVER: the destination's pages become our "sent". */
static int src_recover_ack(struct src *s, const struct net_msg *m)
{
	struct pm_recover_ack a;
	const uint8_t *words;
	const char *why;
	uint64_t sent;

	if (m->type != PM_RECOVER_ACK)
		return pm_fail_set(s->fail, -EPROTO, "expected RECOVER_ACK, got %s",
				   pm_type_name(m->type));
	if (pm_decode_recover_ack(m->payload, m->len, s->ram.npages, &a, &words, &why))
		return pm_fail_set(s->fail, -EBADMSG, "bad RECOVER_ACK: %s", why);
	sent = pcm_bitmap_count(&s->sent);
	if (sent > a.pages_in)
		s->link_resent += sent - a.pages_in;
	pcm_bitmap_load(&s->sent, words);
	return 0;
}

/* The one error that means nobody there holds the VM: nothing listens
 * where the destination was (its process, and the VM with it, is gone).
 * A connection reset or closed without an answer is not that: a link
 * fault or a middlebox does it too, to a destination that runs the VM
 * (seen: the RECOVER_ACK of a destination running the VM reset on its
 * way, and the source, counting that as a closed door, resumed its own
 * copy), so it is no answer, and the source asks again. */
static bool src_gone(int err)
{
	return err == -ECONNREFUSED;
}

/* A control connection authenticated afresh, with req (RECOVER or QUERY)
 * for our session sent on it. */
int src_reopen(struct src *s, uint16_t req)
{
	struct pm_recover rq = { .session = s->session };
	int err = src_connect(s, PM_CH_CONTROL);

	if (!err)
		err = src_auth(s);
	if (!err && (err = net_send(s->ch[PM_CH_CONTROL], req, &rq, sizeof(rq))))
		pm_fail_set(s->fail, err, "sending %s: %s", pm_type_name(req), wire_strerror(err));
	return err;
}

/* What an answer to RECOVER means for the outcome. */
static enum oc_src_event src_answer(struct src *s, int err, const struct net_msg *m)
{
	if (err)
		return src_gone(err) ? OCE_GONE : OCE_NO_ANSWER;
	if (m->type == PM_REFUSE) {
		src_refused(s, m);
		return OCE_REFUSED;
	}
	if (m->type == PM_DONE)
		return src_done(s, m) ? OCE_NO_ANSWER : OCE_DONE;
	return src_recover_ack(s, m) ? OCE_NO_ANSWER : OCE_ACK;
}

/* One reconnection, as the event it comes to. Its steps are the
 * reservation's own, so their failures go to a scratch record (why), not
 * the migration's: only the last word of the whole recovery is the
 * migration's. */
static enum oc_src_event src_attempt(struct src *s, bool *chan_failed, char *why, size_t n)
{
	struct pm_fail *keep = s->fail, scratch;
	enum oc_src_event ev;
	struct net_msg m;
	int err;

	pm_fail_init(&scratch);
	s->fail = &scratch;
	atomic_store(&s->activated, false);
	link_attempt(s->link);
	err = src_reopen(s, PM_RECOVER);
	if (!err)
		err = src_recv(s, &m, link_timeout_ms(s), "RECOVER_ACK");
	ev = src_answer(s, err, &m);
	*chan_failed = false;
	if (ev == OCE_ACK) {
		s->committed = true;   /* it holds the VM, whatever happens next */
		if (!(err = src_connect(s, PM_CH_URGENT)))
			err = src_connect(s, PM_CH_BULK);
		*chan_failed = err != 0;
	}
	s->fail = keep;
	atomic_store(&s->activated, true);
	snprintf(why, n, "%s", scratch.why[0] ? scratch.why : "answered");
	if (ev != OCE_ACK || *chan_failed)
		for (int i = 0; i < PM_CH_COUNT; i++)
			src_chan_close(s, i);
	return ev;
}

/* Out of time, given up by the operator, or the destination does not
 * hold the VM: the outage becomes the migration's failure, in the link's
 * words. */
static int src_recover_fail(struct src *s, const char *last)
{
	int err = s->link->err ? s->link->err : -ETIMEDOUT;
	const char *tail = s->committed ? "" : "; the destination may be running the VM";

	if (s->oc == OCS_RESUMED_HERE)
		return pm_fail_set(s->fail, err, "%s (the destination does not hold the VM: %s)",
				   s->link->why, last);
	if (!s->committed)
		s->unsure = true;
	if (link_given_up(s->link))
		return pm_fail_set(s->fail, err, "link lost (%s); recovery given up by the operator "
				   "after %.2f s (last attempt: %s)%s", s->link->why,
				   link_down_ns(s->link) / 1e9, last, tail);
	return pm_fail_set(s->fail, err, "link lost (%s) and not recovered within %d s "
			   "(last attempt: %s)%s", s->link->why, recover_timeout_ms(s) / 1000, last,
			   tail);
}

/* Between attempts: the backoff, or the operator's poke. The event that
 * ends the wait, if any (time out, give-up). */
static int src_backoff(struct src *s, uint64_t t0, int *backoff, enum oc_src_event *ev)
{
	uint64_t limit = (uint64_t)recover_timeout_ms(s) * 1000000ull, el = pcm_now_ns() - t0;
	uint64_t left_ms = el >= limit ? 0 : (limit - el) / 1000000;
	bool moved, poked;

	if (!left_ms) {
		*ev = OCE_TIMEOUT;
		return 1;
	}
	/* A give-up during the attempt left its poke pending: no wait. */
	poked = link_wait(s->link, left_ms < (uint64_t)*backoff ? (int)left_ms : *backoff,
			  s->host, sizeof(s->host), &s->port, &moved);
	if (link_given_up(s->link)) {
		*ev = OCE_GIVE_UP;
		return 1;
	}
	if (poked) {
		*backoff = BACKOFF_FIRST_MS;
		src_note(s, "reconnecting now%s%s:%u", moved ? ", to " : " to ", s->host, s->port);
	} else if ((*backoff *= 2) > BACKOFF_MAX_MS) {
		*backoff = BACKOFF_MAX_MS;
	}
	return 0;
}

int src_recover(struct src *s)
{
	uint64_t t0 = pcm_now_ns();
	int backoff = BACKOFF_FIRST_MS;
	char last[320] = "none";
	unsigned act;

	s->oc = oc_src_step(s->committed ? OCS_COMMITTED : OCS_SENT, OCE_LINK_LOST, &act);
	src_serve_stop(s);
	for (int i = 0; i < PM_CH_COUNT; i++)
		src_chan_close(s, i);
	src_note(s, "link lost: %s; reconnecting to %s:%u", s->link->why, s->host, s->port);
	while (act & OCA_RECONNECT) {
		bool chan_failed;
		enum oc_src_event ev = src_attempt(s, &chan_failed, last, sizeof(last));

		s->oc = oc_src_step(s->oc, ev, &act);
		if (chan_failed)   /* committed now, and the link broke again */
			s->oc = oc_src_step(s->oc, OCE_LINK_LOST, &act);
		if ((act & OCA_RECONNECT) && src_backoff(s, t0, &backoff, &ev))
			s->oc = oc_src_step(s->oc, ev, &act);
	}
	if (act & OCA_RELEASE) {
		src_note(s, "the destination has every page (it finished during the outage): "
			 "the migration is over");
		link_restored(s->link);
		return 0;
	}
	if (!(act & OCA_SERVE))
		return src_recover_fail(s, last);
	s->digest_sent = false;
	s->t_seen = pcm_now_ns();
	src_note(s, "link restored after %.2f s; the migration goes on", link_down_ns(s->link) / 1e9);
	link_restored(s->link);
	return src_serve_start(s);
}
