/* postcopy/source.c - the source side of a post-copy migration.
 *
 * Stages: reservation (HELLO/READY on control, then the urgent and bulk
 * connections), stop-and-copy (pause, save, STATE), commitment (RESUMED),
 * then serving: the urgent thread answers page requests ahead of anything
 * else, the pusher streams every page not yet sent, the main thread
 * relays progress until DONE and releases the VM. From the state on, a
 * broken link is an outage to recover from (source_link.c).
 */
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "net/chan.h"
#include "net/wire.h"
#include "lib/bitmap.h"
#include "lib/clock.h"
#include "postcopy/migrate.h"
#include "postcopy/pusher.h"
#include "postcopy/ram.h"
#include "postcopy/source_int.h"

/* The guest's operation count, for the report's guest_rate. */
static uint64_t src_guest_ops(struct machine *m)
{
	struct machine_stats st;

	machine_stats(m, &st);
	return st.ops;
}

/* The engine's rate over the last second, while the guest still runs. */
static void src_rate_before(struct src *s)
{
	struct machine_stats st;

	machine_stats(s->m, &st);
	s->rate_before = st.ops_rate;
	s->rate_before_ns = st.ops_rate_ns;
}

int src_recv(struct src *s, struct net_msg *m, int timeout_ms, const char *what)
{
	int err = net_recv(s->ch[PM_CH_CONTROL], m, timeout_ms);

	if (err == -ETIMEDOUT)
		return src_link_fail(s, err, "destination did not answer %s within %d ms",
				     what, timeout_ms);
	if (err)
		return src_link_fail(s, err, "control channel, waiting for %s: %s",
				     what, wire_strerror(err));
	return src_heard(s, m);
}

int src_heard(struct src *s, const struct net_msg *m)
{
	s->t_seen = pcm_now_ns();
	if (m->type == PM_ERROR) {
		struct pm_error e;
		int code = pm_decode_error(m->payload, m->len, &e);

		return pm_fail_set(s->fail, code, "destination failed: %s", e.why);
	}
	return 0;
}

static int src_expect(struct src *s, struct net_msg *m, uint16_t type,
		      int timeout_ms, void *out, size_t size)
{
	const char *why;
	int err = src_recv(s, m, timeout_ms, pm_type_name(type));

	if (err)
		return err;
	if (m->type != type)
		return pm_fail_set(s->fail, -EPROTO, "expected %s from destination, got %s",
				   pm_type_name(type), pm_type_name(m->type));
	if (out && pm_decode_fixed(m->payload, m->len, out, size, &why))
		return pm_fail_set(s->fail, -EBADMSG, "bad %s from destination: %s",
				   pm_type_name(type), why);
	return 0;
}

static void src_hello_fill(struct src *s, struct pm_hello *h)
{
	const struct machine_config *c = machine_config_of(s->m);

	memset(h, 0, sizeof(*h));
	h->proto_version = PM_PROTO_VERSION;
	h->session = s->session;
	h->engine = c->engine;
	pm_strset(h->name, sizeof(h->name), s->o->name);
	machine_features(s->m, h->cpu_features);
	h->mode = s->o->mode;
	h->ram_bytes = c->ram_bytes;
	h->page_size = PM_PAGE;
	h->vcpus = c->vcpus;
	h->guest_abi = GUEST_ABI_VERSION;
	h->nregions = s->ram.n;
	for (unsigned i = 0; i < s->ram.n; i++) {
		h->regions[i].gpa = s->ram.r[i].gpa;
		h->regions[i].size = s->ram.r[i].size;
	}
	h->params = c->params;
	h->guest = c->guest;
	h->ndisks = c->guest == MACHINE_GUEST_LINUX ? c->lx.ndisks : 0;
}

/* Round trip on the control channel, for the one-way latency estimate. */
static int src_ping(struct src *s)
{
	struct pm_ping p = { .t_ns = pcm_now_ns() }, back;
	struct net_msg m;
	int err = net_send(s->ch[PM_CH_CONTROL], PM_PING, &p, sizeof(p));

	if (err)
		return pm_fail_set(s->fail, err, "sending PING: %s", wire_strerror(err));
	err = src_expect(s, &m, PM_PING, s->o->reply_timeout_ms, &back, sizeof(back));
	if (err)
		return err;
	s->rtt_ns = pcm_now_ns() - p.t_ns;
	return 0;
}

/* --encrypt: channel ch's frames are sealed from the next one on. */
static int src_seal(struct src *s, enum pm_channel ch)
{
	uint8_t tx[PM_CHAN_KEY_LEN], rx[PM_CHAN_KEY_LEN];
	int err;

	if (!(s->cipher.flags & PM_AUTH_ENCRYPT))
		return 0;
	pm_chan_keys(&s->key, s->nonce_src, s->nonce_dst, ch, true, tx, rx);
	err = net_encrypt(s->ch[ch], (enum net_aead)s->cipher.aead, tx, rx);
	sodium_memzero(tx, sizeof(tx));
	sodium_memzero(rx, sizeof(rx));
	return err;
}

int src_connect(struct src *s, enum pm_channel ch)
{
	static const char *const names[] = { "control", "urgent", "bulk" };
	int err = net_connect(s->host, s->port, s->o->connect_timeout_ms,
			      PM_TYPE_MAX, &s->ch[ch]);

	if (err)
		return pm_fail_set(s->fail, err, "cannot connect %s channel to %s:%u: %s",
				   names[ch], s->host, s->port, wire_strerror(err));
	if (ch != PM_CH_CONTROL) {
		struct pm_channel_msg c = { .session = s->session, .channel = ch };

		if (s->key.set)
			pm_mac(&s->key, "pcm-chan", s->nonce_src, s->nonce_dst, &c, 16, c.mac);
		err = net_send(s->ch[ch], PM_CHANNEL, &c, sizeof(c));
		if (!err)
			err = src_seal(s, ch);
		if (err)
			return pm_fail_set(s->fail, err, "opening %s channel: %s",
					   names[ch], wire_strerror(err));
	}
	return 0;
}

/* The destination's REFUSE, at the handshake or at HELLO, in words. */
int src_refused(struct src *s, const struct net_msg *m)
{
	struct pm_refuse r;

	if (pm_decode_fixed(m->payload, m->len, &r, sizeof(r), NULL))
		return pm_fail_set(s->fail, -EBADMSG, "destination refused (malformed REFUSE)");
	r.why[sizeof(r.why) - 1] = 0;
	return pm_fail_set(s->fail, r.err < 0 ? r.err : -EPERM, "destination refused the VM: %s",
			   r.why);
}

/* --psk-file: a fresh nonce; the destination's nonce and MAC over both,
 * checked; our MAC over both the other way round. */
/* The destination's answer: its MAC, and the cipher we asked for. */
static int src_auth_check(struct src *s, const struct pm_auth_challenge *c,
			  const struct pm_auth_response *r)
{
	const char *bad = NULL;

	if (!pm_mac_ok(&s->key, "pcm-dst", s->nonce_src, s->nonce_dst, &r->use, sizeof(r->use),
		       r->mac))
		bad = "the keys differ (wrong --psk-file on one side)";
	else if ((r->use.flags & PM_AUTH_ENCRYPT) != (c->want.flags & PM_AUTH_ENCRYPT) ||
		 ((r->use.flags & PM_AUTH_ENCRYPT) && r->use.aead != NET_AEAD_AES256GCM &&
		  r->use.aead != NET_AEAD_XCHACHA20))
		bad = "the destination answered with another cipher than asked for";
	if (!bad)
		return 0;
	struct pm_error e = { .err = -EACCES };

	pm_strset(e.why, sizeof(e.why), bad);
	/* Best effort: we refuse this destination whether it hears why. */
	(void)!net_send(s->ch[PM_CH_CONTROL], PM_ERROR, &e, sizeof(e));
	return pm_fail_set(s->fail, -EACCES, "%s", strstr(bad, "keys") ?
			   "the destination does not hold this key (wrong --psk-file on one side)"
			   : bad);
}

int src_auth(struct src *s)
{
	struct pm_auth_challenge c;
	struct pm_auth_response r;
	struct pm_auth_proof p;
	struct net_msg m;
	int err;

	if (!s->key.set)
		return 0;
	pm_nonce(s->nonce_src);
	memcpy(c.nonce, s->nonce_src, sizeof(c.nonce));
	c.want = (struct pm_cipher){ s->o->encrypt ? PM_AUTH_ENCRYPT : 0,
				     s->o->encrypt ? net_aead_best() : NET_AEAD_NONE };
	if ((err = net_send(s->ch[PM_CH_CONTROL], PM_AUTH_CHALLENGE, &c, sizeof(c))))
		return pm_fail_set(s->fail, err, "authenticating: %s", wire_strerror(err));
	if ((err = src_recv(s, &m, s->o->reply_timeout_ms, "AUTH_RESPONSE")))
		return err;
	if (m.type == PM_REFUSE)
		return src_refused(s, &m);
	if (m.type != PM_AUTH_RESPONSE || pm_decode_fixed(m.payload, m.len, &r, sizeof(r), NULL))
		return pm_fail_set(s->fail, -EPROTO, "expected AUTH_RESPONSE, got %s",
				   pm_type_name(m.type));
	memcpy(s->nonce_dst, r.nonce, sizeof(r.nonce));
	if ((err = src_auth_check(s, &c, &r)))
		return err;
	s->cipher = r.use;
	pm_mac(&s->key, "pcm-src", s->nonce_dst, s->nonce_src, &r.use, sizeof(r.use), p.mac);
	err = net_send(s->ch[PM_CH_CONTROL], PM_AUTH_PROOF, &p, sizeof(p));
	if (!err)
		err = src_seal(s, PM_CH_CONTROL);
	return err ? pm_fail_set(s->fail, err, "authenticating: %s", wire_strerror(err)) : 0;
}

/* Stage 1: nothing on the source changes here. */
static int src_reserve(struct src *s)
{
	uint8_t wire[PM_HELLO_WIRE_MAX];
	struct pm_hello h;
	size_t len;
	struct net_msg m;
	long il;
	int err;

	if ((err = src_connect(s, PM_CH_CONTROL)) || (err = src_auth(s)))
		return err;
	src_hello_fill(s, &h);
	/* What the engine prepares (a disk's fingerprint) must be older than
	 * anything the destination reads of its own disks, which it does on
	 * HELLO (kvm/dev/virtio_blk.c, ident_check). */
	if ((err = machine_save_prepare(s->m)))
		return pm_fail_set(s->fail, err, "%s", machine_why(s->m) ? machine_why(s->m) :
				   strerror(-err));
	if ((il = machine_identity(s->m, h.identity, sizeof(h.identity))) < 0)
		return pm_fail_set(s->fail, (int)il, "naming the VM's disks: %s",
				   strerror((int)-il));
	h.identity_len = (uint32_t)il;
	len = pm_encode_hello(&h, wire);
	err = net_send(s->ch[PM_CH_CONTROL], PM_HELLO, wire, len);
	if (err)
		return pm_fail_set(s->fail, err, "sending HELLO: %s", wire_strerror(err));
	err = src_recv(s, &m, s->o->reply_timeout_ms, "READY");
	if (err)
		return err;
	if (m.type == PM_REFUSE)
		return src_refused(s, &m);
	if (m.type != PM_READY)
		return pm_fail_set(s->fail, -EPROTO, "expected READY from destination, got %s",
				   pm_type_name(m.type));
	/* The destination echoes the first PING once it holds both page
	 * channels: the VM is not paused while it cannot yet take the state
	 * (its delay would be a pause the downtime does not see). The second
	 * measures the round trip without that delay in it. */
	if ((err = src_connect(s, PM_CH_URGENT)) || (err = src_connect(s, PM_CH_BULK)) ||
	    (err = src_ping(s)))
		return err;
	return src_ping(s);
}

/* precopy --verify-ram: all of RAM is on its way; its digest goes ahead
 * of the state, for the destination to check before it resumes. */
static int src_verify_ram(struct src *s)
{
	struct pm_digest d = { .off = 0 };
	int err;

	if (!s->o->verify_ram || s->o->mode != PM_MODE_PRECOPY || src_switched(s))
		return 0;
	d.digest = ram_digest(&s->ram, 0);
	d.len = s->ram.npages * PM_PAGE;
	err = net_send(s->ch[PM_CH_CONTROL], PM_DIGEST, &d, sizeof(d));
	return err ? pm_fail_set(s->fail, err, "sending the RAM digest: %s", wire_strerror(err)) : 0;
}

/* Stage 3: pause, save, send. The clock runs from the pause request. */
static int src_stop_and_copy(struct src *s)
{
	struct pm_state_hdr sh = { 0 };   /* pad too: stack bytes never go out */
	struct iovec iov[2];
	size_t cap = machine_state_size(s->m);
	ssize_t len;
	int err;

	s->blob = malloc(cap);
	if (!s->blob)
		return pm_fail_set(s->fail, -ENOMEM, "no memory for the state blob");
	machine_stall_reset(s->m);
	src_rate_before(s);
	s->t_pause = pcm_now_ns();
	if ((err = machine_pause(s->m)))
		return pm_fail_set(s->fail, err, "pausing the VM: %s", strerror(-err));
	s->paused = true;
	s->t_paused = s->t_final = pcm_now_ns();
	s->ops_paused = src_guest_ops(s->m);
	if (s->o->mode != PM_MODE_POSTCOPY && (err = src_precopy_final(s)))
		return err;
	if ((err = src_verify_ram(s)))
		return err;
	s->t_final = pcm_now_ns();
	len = machine_save(s->m, s->blob, cap);
	if (len < 0)
		return pm_fail_set(s->fail, (int)len, "saving VM state: %s", strerror((int)-len));
	sh.state_len = (uint64_t)len;
	s->state_bytes = (uint64_t)len;
	s->t_sent = pcm_now_ns();
	iov[0] = (struct iovec){ &sh, sizeof(sh) };
	iov[1] = (struct iovec){ s->blob, (size_t)len };
	err = net_sendv(s->ch[PM_CH_CONTROL], PM_STATE, iov, 2);
	if (err)
		return pm_fail_set(s->fail, err, "sending state: %s", wire_strerror(err));
	/* The destination may run the VM from here on: no going back
	 * without asking it first (src_recover). */
	atomic_store(&s->activated, true);
	atomic_store(&s->link->phase, LINK_UP);
	if (s->tracking) {
		machine_dirty_stop(s->m);
		s->tracking = false;
	}
	/* Serving starts once the state is on its way: the pusher would only
	 * compete with it for the CPU and the link during the downtime. */
	return src_serve_start(s);
}

/* Stage 4: commitment. */
static int src_commit(struct src *s)
{
	struct pm_resumed r;
	struct net_msg m;
	int err = src_expect(s, &m, PM_RESUMED, s->o->reply_timeout_ms, &r, sizeof(r));

	if (err)
		return err;
	s->committed = true;
	/* Destination's own interval plus the one-way trip of the state:
	 * neither side's clock needs to agree with the other's. */
	s->dst_ns = r.dst_ns;
	s->downtime_ns = (s->t_sent - s->t_pause) + s->rtt_ns / 2 + r.dst_ns;
	return 0;
}

static int src_send_digest(struct src *s)
{
	const struct machine_config *c = machine_config_of(s->m);
	struct pm_digest d = { .off = GUEST_DATA_OFF };
	int err;

	if (c->params.workload != WL_IDLE) {
		s->digest_sent = true;
		return 0;
	}
	d.digest = ram_digest(&s->ram, GUEST_DATA_OFF / PM_PAGE);
	d.len = c->ram_bytes - GUEST_DATA_OFF;
	err = net_send(s->ch[PM_CH_CONTROL], PM_DIGEST, &d, sizeof(d));
	if (err)
		return src_link_fail(s, err, "sending digest: %s", wire_strerror(err));
	s->digest_sent = true;
	return 0;
}

int src_done(struct src *s, const struct net_msg *m)
{
	const char *why;

	if (pm_decode_done(m->payload, m->len, s->done, &why))
		return src_link_fail(s, -EBADMSG, "bad DONE: %s", why);
	s->committed = true;
	/* DONE is what lets the VM go here; a RELEASED lost on the way only
	 * costs the destination its wait for it. */
	(void)!net_send(s->ch[PM_CH_CONTROL], PM_RELEASED, NULL, 0);
	return 0;
}

/* Stage 5 from the source's side: relay progress until DONE. */
static int src_wait_done(struct src *s)
{
	struct net_msg m;
	unsigned act;
	const char *why;
	int err;

	for (;;) {
		if ((err = src_recv_live(s, &m)))
			return err;
		if (m.type == PM_DONE)
			break;
		if (m.type != PM_PROGRESS)
			return src_link_fail(s, -EPROTO, "unexpected %s while waiting for DONE",
					     pm_type_name(m.type));
		struct pm_progress p;

		if (pm_decode_fixed(m.payload, m.len, &p, sizeof(p), &why))
			return src_link_fail(s, -EBADMSG, "bad PROGRESS: %s", why);
		if (s->o->progress)
			s->o->progress(s->o->progress_arg, &p, s->ram.npages,
				       (pcm_now_ns() - s->t_start) / 1e9);
	}
	if ((err = src_done(s, &m)))
		return err;
	s->oc = oc_src_step(s->oc, OCE_DONE, &act);
	return 0;
}

/* Stages 4 and 5 through any number of outages: commitment (or, after an
 * outage before it, the destination's word that it runs the VM), the
 * digest, DONE (on control, or as the answer to a reconnection). */
static int src_finish(struct src *s, struct pm_done *done)
{
	s->done = done;
	s->oc = OCS_SENT;
	for (;;) {
		unsigned act;
		int err = s->committed ? 0 : src_commit(s);

		if (!err && s->oc == OCS_SENT)
			s->oc = oc_src_step(s->oc, OCE_RESUMED, &act);
		if (!err && !s->digest_sent)
			err = src_send_digest(s);
		if (!err)
			err = src_wait_done(s);
		if (!err || pm_failed(s->fail) || !link_is_down(s->link))
			return err;
		if ((err = src_recover(s)) || s->oc == OCS_DONE)
			return err;
	}
}

void src_chan_close(struct src *s, enum pm_channel ch)
{
	struct net_stats st;

	if (!s->ch[ch])
		return;
	net_get_stats(s->ch[ch], &st);
	s->bytes[ch] += st.bytes_sent + st.bytes_recv;
	net_close(s->ch[ch]);
	s->ch[ch] = NULL;
}

static void src_close(struct src *s)
{
	src_serve_stop(s);
	for (int i = 0; i < PM_CH_COUNT; i++)
		src_chan_close(s, i);
	atomic_store(&s->link->phase, LINK_NONE);
	pcm_bitmap_free(&s->pending);
	free(s->blob);
	s->blob = NULL;
}

/* Failing before commitment: the VM goes on where it was. */
static void src_abort(struct src *s)
{
	if (s->tracking) {
		machine_dirty_stop(s->m);
		s->tracking = false;
	}
	if (s->paused && !s->committed && !s->unsure) {
		int err;

		src_serve_stop(s);
		/* The report says the VM runs on here only if it does. */
		if ((err = machine_resume(s->m)))
			s->fail->resume_err = err;
		else
			s->paused = false;
	}
}

static void src_free(struct src *s)
{
	pcm_bitmap_free(&s->sent);
	if (s->link == &s->own_link)
		link_destroy(&s->own_link);
	free(s);
}

/* Everything a migration needs before it talks to anyone. */
static int src_new(struct machine *m, const struct migrate_opts *o, struct pm_fail *fail,
		   struct src **out)
{
	struct src *s = calloc(1, sizeof(*s));
	char why[300];
	int err;

	if (!s)
		return pm_fail_set(fail, -ENOMEM, "no memory");
	s->m = m;
	s->o = o;
	s->fail = fail;
	pm_strset(s->host, sizeof(s->host), o->host);
	s->port = o->port;
	s->t_start = pcm_now_ns();
	s->ops_start = src_guest_ops(m);
	err = ram_init(&s->ram, m);
	s->session = ((uint64_t)getpid() << 32) ^ s->t_start;
	pcm_ratelimit_init(&s->rl, o->pc.max_bandwidth);
	s->link = o->link ? o->link : &s->own_link;
	if (err) {
		s->link = NULL;
		pm_fail_set(fail, err, "the VM's memory regions are not page-aligned");
	} else if (!o->link && (err = link_init(&s->own_link))) {
		s->link = NULL;
		pm_fail_set(fail, err, "cannot set up the link: %s", strerror(-err));
	} else if (o->psk_file[0] && (err = pm_key_load(o->psk_file, &s->key, why, sizeof(why)))) {
		pm_fail_set(fail, err, "%s", why);
	} else if ((err = pcm_bitmap_init(&s->sent, s->ram.npages))) {
		pm_fail_set(fail, err, "no memory for the page bitmap");
	}
	if (err) {
		src_free(s);
		return err;
	}
	link_start(s->link);
	*out = s;
	return 0;
}

int source_migrate(struct machine *m, const struct migrate_opts *o,
		   struct report *r, struct pm_fail *fail)
{
	struct pm_done done;
	struct src *s = NULL;
	int err = src_new(m, o, fail, &s);

	if (err)
		return err;
	err = src_reserve(s);
	s->t_ready = pcm_now_ns();
	if (!err && o->mode != PM_MODE_POSTCOPY)
		err = src_precopy(s);
	if (!err)
		err = src_stop_and_copy(s);
	if (!err)
		err = src_finish(s, &done);
	if (err)
		src_abort(s);
	src_close(s);
	if (err) {
		fail->after_commit = s->committed || s->unsure;
		fail->session = s->session;
	} else
		src_report(s, &done, r);
	src_free(s);
	return err ? err : fail->err;
}

/* QUERY's answer: an ANSWER, or a REFUSE of the session (it does not hold
 * it); anything else is no answer. */
static int src_query_answer(struct src *s, const struct net_msg *m, enum oc_answer *a)
{
	struct pm_answer an;

	if (m->type == PM_REFUSE) {
		src_refused(s, m);
		*a = OCQ_NOT_THERE;
		return 0;
	}
	if (m->type != PM_ANSWER || pm_decode_fixed(m->payload, m->len, &an, sizeof(an), NULL) ||
	    (an.state != OCQ_RUNS_FINISHED && an.state != OCQ_RUNS_WAITING))
		return pm_fail_set(s->fail, -EPROTO, "expected ANSWER, got %s", pm_type_name(m->type));
	*a = (enum oc_answer)an.state;
	return 0;
}

int source_ask(struct machine *m, const struct migrate_opts *o, uint64_t session,
	       enum oc_answer *a, char *why, size_t n)
{
	struct pm_fail fail;
	struct migrate_opts q = *o;
	struct net_msg msg;
	struct src *s = NULL;
	int err;

	q.link = NULL;   /* a question, not the migration: its link stays as it is */
	pm_fail_init(&fail);
	*a = OCQ_UNREACHABLE;
	if ((err = src_new(m, &q, &fail, &s))) {
		snprintf(why, n, "%s", fail.why);
		return err;
	}
	s->session = session;
	err = src_reopen(s, PM_QUERY);
	if (!err)
		err = src_recv(s, &msg, s->o->reply_timeout_ms, "ANSWER");
	if (!err)
		err = src_query_answer(s, &msg, a);
	if (err)
		*a = OCQ_UNREACHABLE;
	/* It has every page: the migration is over, our copy goes. */
	if (*a == OCQ_RUNS_FINISHED)
		(void)!net_send(s->ch[PM_CH_CONTROL], PM_RELEASED, NULL, 0);
	snprintf(why, n, "%s", fail.why[0] ? fail.why : "answered");
	src_close(s);
	src_free(s);
	return 0;
}
