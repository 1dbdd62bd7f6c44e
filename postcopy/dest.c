/* postcopy/dest.c - the destination side of a post-copy migration.
 *
 * Stages: reservation (check HELLO, make the empty VM, register its RAM
 * with userfaultfd, READY), stop-and-copy (load STATE), activation (resume
 * at once, RESUMED), then wait for every page while reporting progress,
 * unregister, verify and say DONE. Before the vCPUs run nothing here is
 * visible to anyone: a failure discards the half-made VM. Once they run,
 * a broken link is an outage: the VM stays, and the source reconnects
 * (dest_link.c).
 */
#include <errno.h>
#include <sodium.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "net/chan.h"
#include "net/wire.h"
#include "guest/workload.h"
#include "lib/clock.h"
#include "postcopy/agentcheck.h"
#include "postcopy/dest_int.h"

/* Next control message. what names the message awaited, and a timeout
 * waiting for it is a failure; what == NULL is a poll, and -ETIMEDOUT
 * only means nothing came. */
int dst_recv(struct dst *d, struct net_msg *m, int timeout_ms, const char *what)
{
	int err = net_recv(d->ch[PM_CH_CONTROL], m, timeout_ms);

	if (err == -ETIMEDOUT && !what)
		return err;
	if (err == -ETIMEDOUT)
		return dst_link_fail(d, err, "source sent no %s within %d ms", what, timeout_ms);
	if (err)
		return dst_link_fail(d, err, "control channel, waiting for %s: %s",
				     what ? what : "the source", wire_strerror(err));
	d->t_seen = pcm_now_ns();
	if (m->type == PM_ERROR) {
		struct pm_error e;
		int code = pm_decode_error(m->payload, m->len, &e);

		return pm_fail_set(d->fail, code, "source failed: %s", e.why);
	}
	return 0;
}

static uint64_t meminfo_kb(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	unsigned long long v = 0;
	size_t kl = strlen(key);

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':') {
			sscanf(line + kl + 1, "%llu", &v);
			break;
		}
	if (f)
		fclose(f);
	return v;
}

/* Can this host run the guest: its engine, its vCPU count and RAM, and
 * every CPU feature it was given? */
static int dst_engine_check(const struct pm_hello *h, char *why, size_t n)
{
	struct machine_config c = { .ram_bytes = h->ram_bytes, .vcpus = h->vcpus,
				    .guest = h->guest };
	char reason[PM_WHY_LEN - 48];
	int err;

	c.engine = h->engine;
	if ((err = machine_probe(&c, reason, sizeof(reason)))) {
		snprintf(why, n, "engine '%s' cannot run here: %s", machine_engine_name(h->engine),
			 reason);
		return -ENODEV;
	}
	if ((err = machine_features_check(h->engine, h->cpu_features, reason, sizeof(reason)))) {
		snprintf(why, n, "%s", reason);
		return err;
	}
	return 0;
}

/* Can this host take the VM? 0, or the refusal in why. */
static int dst_admit(struct dst *d, const struct pm_hello *h, char *why, size_t n)
{
	uint64_t avail = meminfo_kb("MemAvailable") << 10;
	int err;

	if (h->ndisks != d->o->ndisks) {
		snprintf(why, n, "the VM has %u disk(s), this destination was given %u (--disk): "
			 "each must be the same image as the source's", h->ndisks, d->o->ndisks);
		return -ENODEV;
	}
	if (h->guest_abi != GUEST_ABI_VERSION) {
		snprintf(why, n, "guest ABI %u, this destination runs %u",
			 h->guest_abi, GUEST_ABI_VERSION);
		return -ENOEXEC;
	}
	if ((err = dst_engine_check(h, why, n)))
		return err;
	if (h->ram_bytes > avail || (d->o->mem_limit && h->ram_bytes > d->o->mem_limit)) {
		uint64_t lim = d->o->mem_limit && d->o->mem_limit < avail ? d->o->mem_limit : avail;

		snprintf(why, n, "not enough memory: the VM needs %llu MiB, %llu MiB available",
			 (unsigned long long)(h->ram_bytes >> 20), (unsigned long long)(lim >> 20));
		return -ENOMEM;
	}
	return 0;
}

int dst_refuse(struct dst *d, int err, const char *why)
{
	struct pm_refuse r = { .err = err };

	pm_strset(r.why, sizeof(r.why), why);
	/* The refusal is ours either way; a source that does not hear it
	 * sees the channel close and keeps its VM. */
	(void)!net_send(d->ch[PM_CH_CONTROL], PM_REFUSE, &r, sizeof(r));
	return pm_fail_set(d->fail, err, "refused the incoming VM: %s", why);
}

/* The empty VM, its RAM registered so that every first touch faults. */
static int dst_prepare(struct dst *d)
{
	struct machine_config c = { .ram_bytes = d->hello.ram_bytes, .vcpus = d->hello.vcpus,
				    .guest = d->hello.guest, .params = d->hello.params,
				    .console = d->o->console };
	char why[PM_WHY_LEN - 40];
	int err;

	memcpy(c.lx.disks, d->o->disks, sizeof(c.lx.disks));
	c.lx.ndisks = d->o->ndisks;
	memcpy(c.lx.nics, d->o->nics, sizeof(c.lx.nics));
	c.lx.nnics = d->o->nnics;
	c.engine = d->hello.engine;
	if ((err = machine_create_incoming_why(&c, &d->m, why, sizeof(why)))) {
		char r[PM_WHY_LEN];

		snprintf(r, sizeof(r), "cannot create the VM here: %s", why);
		return dst_refuse(d, err, r);
	}
	/* The disks given here are the source's, or nothing moves. */
	if ((err = machine_identity_check(d->m, d->hello.identity, d->hello.identity_len)))
		return dst_refuse(d, err, machine_why(d->m) ? machine_why(d->m) :
				  "the VM's devices differ from the source's");
	if (ram_init(&d->ram, d->m) || d->ram.npages * PM_PAGE != d->hello.ram_bytes)
		return dst_refuse(d, -ENOEXEC, "memory layout differs from the source's");
	if ((err = uffd_open(&d->uffd)))
		return dst_refuse(d, err, "userfaultfd is not available");
	for (unsigned i = 0; i < d->ram.n; i++)
		if ((err = uffd_register(&d->uffd, d->ram.r[i].host, d->ram.r[i].size,
					 UFFD_MODE_MISSING)))
			return dst_refuse(d, err, "cannot register guest RAM with userfaultfd");
	d->registered = true;
	d->precopy = d->hello.mode != PM_MODE_POSTCOPY;
	atomic_store(&d->bulk_seen_ns, pcm_now_ns());
	if (pcm_bitmap_init(&d->received, d->ram.npages) || pcm_bitmap_init(&d->requested, d->ram.npages) ||
	    pcm_bitmap_init(&d->zeroed, d->ram.npages))
		return dst_refuse(d, -ENOMEM, "no memory for page bitmaps");
	return 0;
}

/* A source speaks as soon as it connects, so a new connection gets
 * this long (or the reply timeout, if shorter) for each step of its
 * greeting: a silent stranger cannot hold the one greeting slot for the
 * whole reply timeout while the real source waits behind it. */
#define DST_GREET_MS 5000

static int dst_greet_ms(const struct dst *d)
{
	return d->o->reply_timeout_ms < DST_GREET_MS ? d->o->reply_timeout_ms : DST_GREET_MS;
}

/* --encrypt: channel ch's frames are sealed from the next one on. */
static int dst_seal(struct dst *d, enum pm_channel ch)
{
	uint8_t tx[PM_CHAN_KEY_LEN], rx[PM_CHAN_KEY_LEN];
	int err;

	if (!(d->cipher.flags & PM_AUTH_ENCRYPT))
		return 0;
	pm_chan_keys(&d->o->key, d->nonce_src, d->nonce_dst, ch, false, tx, rx);
	err = net_encrypt(d->ch[ch], (enum net_aead)d->cipher.aead, tx, rx);
	sodium_memzero(tx, sizeof(tx));
	sodium_memzero(rx, sizeof(rx));
	return err;
}

/* What the channels will be: sealed when the source asks (with its AEAD
 * if this CPU runs it too, else XChaCha20-Poly1305, which any CPU does),
 * or refused when this destination demands sealing and it does not ask. */
static int dst_cipher(struct dst *d, const struct pm_auth_challenge *c)
{
	d->cipher = (struct pm_cipher){ 0, NET_AEAD_NONE };
	if (!(c->want.flags & PM_AUTH_ENCRYPT))
		return d->o->encrypt ? dst_refuse(d, -EACCES, "this destination requires "
						  "encrypted channels: migrate with --encrypt") : 0;
	d->cipher.flags = PM_AUTH_ENCRYPT;
	d->cipher.aead = c->want.aead == NET_AEAD_AES256GCM &&
			 net_aead_best() == NET_AEAD_AES256GCM ? NET_AEAD_AES256GCM
							       : NET_AEAD_XCHACHA20;
	return 0;
}

/* --psk-file: the first message must be the source's challenge; answer it
 * with our nonce, the cipher and our MAC over them, then check its proof.
 * A stranger gets one refusal and nothing else. On return m holds the
 * next message (next: HELLO, or RECOVER on a reconnection), which is
 * sealed if the channels are. */
int dst_auth(struct dst *d, struct net_msg *m, const char *next)
{
	struct pm_auth_challenge c;
	struct pm_auth_response r;
	struct pm_auth_proof p;
	int err;

	if (!d->o->key.set) {
		if (m->type == PM_AUTH_CHALLENGE)
			return dst_refuse(d, -EACCES, "the source authenticates with a key; start "
					  "receive with the same --psk-file");
		return 0;
	}
	if (m->type != PM_AUTH_CHALLENGE || pm_decode_fixed(m->payload, m->len, &c, sizeof(c), NULL))
		return dst_refuse(d, -EACCES, "this destination requires a pre-shared key: "
				  "migrate with --psk-file");
	if ((err = dst_cipher(d, &c)))
		return err;
	memcpy(d->nonce_src, c.nonce, sizeof(c.nonce));
	pm_nonce(d->nonce_dst);
	memcpy(r.nonce, d->nonce_dst, sizeof(r.nonce));
	r.use = d->cipher;
	pm_mac(&d->o->key, "pcm-dst", d->nonce_src, d->nonce_dst, &r.use, sizeof(r.use), r.mac);
	if ((err = net_send(d->ch[PM_CH_CONTROL], PM_AUTH_RESPONSE, &r, sizeof(r))))
		return pm_fail_set(d->fail, err, "authenticating: %s", wire_strerror(err));
	if ((err = dst_recv(d, m, dst_greet_ms(d), "AUTH_PROOF")))
		return err;
	if (m->type != PM_AUTH_PROOF || pm_decode_fixed(m->payload, m->len, &p, sizeof(p), NULL) ||
	    !pm_mac_ok(&d->o->key, "pcm-src", d->nonce_dst, d->nonce_src, &r.use, sizeof(r.use),
		       p.mac))
		return dst_refuse(d, -EACCES, "the source does not hold this key "
				  "(wrong --psk-file on one side)");
	d->authenticated = true;
	if ((err = dst_seal(d, PM_CH_CONTROL)))
		return pm_fail_set(d->fail, err, "sealing the control channel: %s", strerror(-err));
	return dst_recv(d, m, dst_greet_ms(d), next);
}

/* One peer, up to the verdict on its HELLO. */
static int dst_greet(struct dst *d)
{
	struct net_msg m;
	const char *bad;
	char why[PM_WHY_LEN];
	int err;

	if ((err = dst_recv(d, &m, dst_greet_ms(d), "HELLO")))
		return err;
	if ((err = dst_auth(d, &m, "HELLO")))
		return err;
	if (m.type == PM_QUERY)   /* `resume` elsewhere asks: nothing of it runs here */
		return dst_refuse(d, -ESRCH, "no VM of that session here: this destination waits "
				  "for one");
	if (m.type != PM_HELLO)
		return pm_fail_set(d->fail, -EPROTO, "expected HELLO, got %s", pm_type_name(m.type));
	if ((err = pm_decode_hello(m.payload, m.len, &d->hello, &bad)) == -EPROTONOSUPPORT) {
		snprintf(why, sizeof(why), "protocol version %u, this destination speaks %u",
			 d->hello.proto_version, PM_PROTO_VERSION);
		return dst_refuse(d, err, why);
	}
	if (err)
		return dst_refuse(d, -EBADMSG, bad);
	if ((err = dst_admit(d, &d->hello, why, sizeof(why))))
		return dst_refuse(d, err, why);
	if (d->o->on_hello && (err = d->o->on_hello(d->o->arg, &d->hello, why)))
		return dst_refuse(d, err, why);
	return 0;
}

/* Peers until one is admitted. With keep_listening a peer turned away
 * (a stranger, a wrong key, garbage, a VM that does not fit) does not
 * end the wait, so that nobody who can reach the port can cancel it; the
 * turned-away peer got its refusal, the operator gets a note. Nothing is
 * reserved before a peer is admitted. */
static int dst_admit_peer(struct dst *d)
{
	for (;;) {
		struct pm_fail *keep = d->fail, scratch;
		int err = net_accept(d->o->lfd, -1, PM_TYPE_MAX, &d->ch[PM_CH_CONTROL]);

		if (err)
			return pm_fail_set(d->fail, err, "accepting a connection: %s",
					   wire_strerror(err));
		pm_fail_init(&scratch);
		d->fail = d->o->keep_listening ? &scratch : keep;
		err = dst_greet(d);
		d->fail = keep;
		if (!err || !d->o->keep_listening)
			return err;
		dst_note(d, "turned a connection away: %s; still waiting for a VM", scratch.why);
		dst_chan_close_all(d);
		d->authenticated = false;
		memset(&d->hello, 0, sizeof(d->hello));
	}
}

static int dst_reserve(struct dst *d)
{
	int err = dst_admit_peer(d);

	if (err || (err = dst_prepare(d)))
		return err;
	err = net_send(d->ch[PM_CH_CONTROL], PM_READY, NULL, 0);
	if (err)
		return pm_fail_set(d->fail, err, "sending READY: %s", wire_strerror(err));
	return 0;
}

static int dst_echo_ping(struct dst *d)
{
	struct net_msg m;
	int err = dst_recv(d, &m, d->o->reply_timeout_ms, "PING");

	if (err)
		return err;
	if (m.type != PM_PING)
		return pm_fail_set(d->fail, -EPROTO, "expected PING, got %s", pm_type_name(m.type));
	err = net_send(d->ch[PM_CH_CONTROL], PM_PING, m.payload, m.len);
	return err ? pm_fail_set(d->fail, err, "answering PING: %s", wire_strerror(err)) : 0;
}

/* Whether c, just accepted, is one of this session's page channels not
 * yet in; on success it is in d->ch. */
static int dst_channel_take(struct dst *d, struct net_chan *c, bool recovering)
{
	struct pm_channel_msg cm;
	struct net_msg m;
	int err = net_recv(c, &m, dst_greet_ms(d));

	if (err)
		return err;
	/* A control connection's greeting while a reconnection takes its page
	 * channels: the source gave that attempt up and tries again. The
	 * newer one is the one it waits on. */
	if (recovering && (m.type == PM_AUTH_CHALLENGE || m.type == PM_RECOVER)) {
		d->next_ctl = c;
		d->next_m = m;
		return -EALREADY;
	}
	if (m.type != PM_CHANNEL || pm_decode_fixed(m.payload, m.len, &cm, sizeof(cm), NULL) ||
	    cm.session != d->hello.session || cm.channel == PM_CH_CONTROL ||
	    cm.channel >= PM_CH_COUNT || d->ch[cm.channel] ||
	    (d->authenticated &&
	     !pm_mac_ok(&d->o->key, "pcm-chan", d->nonce_src, d->nonce_dst, &cm, 16, cm.mac)))
		return -EPROTO;
	d->ch[cm.channel] = c;
	return 0;
}

/* The urgent and bulk connections, in whatever order they come, within
 * the accept timeout. A connection that is not one of them (a stranger
 * on the port, a leftover of an earlier attempt) is closed and noted:
 * it must not cost the migration. */
int dst_channels(struct dst *d, bool recovering)
{
	uint64_t end = pcm_now_ns() + (uint64_t)d->o->accept_timeout_ms * 1000000ull;
	int last = 0;

	while (!d->ch[PM_CH_URGENT] || !d->ch[PM_CH_BULK]) {
		uint64_t now = pcm_now_ns();
		int left = now < end ? (int)((end - now + 999999) / 1000000) : 0;
		struct net_chan *c;
		int err = left ? net_accept(d->o->lfd, left, PM_TYPE_MAX, &c) : -ETIMEDOUT;

		if (err == -ETIMEDOUT && last)
			return pm_fail_set(d->fail, last, "a page channel did not identify "
					   "itself (%s) and no other came within %d ms",
					   wire_strerror(last), d->o->accept_timeout_ms);
		if (err)
			return pm_fail_set(d->fail, err, "waiting for the page channels: %s",
					   wire_strerror(err));
		if ((last = dst_channel_take(d, c, recovering)) == -EALREADY)
			return pm_fail_set(d->fail, last, "a newer reconnection came");
		if (last) {
			dst_note(d, "closed a connection that is not a page channel of this "
				 "migration: %s", wire_strerror(last));
			net_close(c);
		}
	}
	for (int ch = PM_CH_URGENT; ch <= PM_CH_BULK; ch++) {
		int err = dst_seal(d, ch);

		if (err)
			return pm_fail_set(d->fail, err, "sealing a page channel: %s",
					   strerror(-err));
	}
	return 0;
}

/* Pre-copy: everything the source put on the bulk channel before
 * PRECOPY_END must be in before a discard or the state applies. */
static int dst_precopy_wait(struct dst *d)
{
	uint64_t t0 = pcm_now_ns();

	while (d->precopy && !atomic_load(&d->precopy_ended)) {
		if (pm_failed(d->fail))
			return d->fail->err;
		if (pcm_now_ns() - t0 > (uint64_t)d->o->reply_timeout_ms * 1000000ull)
			return pm_fail_set(d->fail, -ETIMEDOUT, "pre-copy did not end within %d ms",
					   d->o->reply_timeout_ms);
		nanosleep(&(struct timespec){ 0, 20000 }, NULL);
	}
	return 0;
}

/* precopy --verify-ram: every page is here and nothing runs yet, so all
 * of RAM must equal the source's at its pause. A mismatch fails before
 * commitment: the source resumes its VM. */
static int dst_verify_ram(struct dst *d)
{
	uint64_t mine;

	if (!d->have_pre_dg)
		return 0;
	mine = ram_digest(&d->ram, 0);
	if (mine != d->pre_dg.digest)
		return pm_fail_set(d->fail, -EILSEQ, "guest RAM after pre-copy differs from the "
				   "source's at the pause (digest %016llx, source %016llx)",
				   (unsigned long long)mine, (unsigned long long)d->pre_dg.digest);
	d->ram_verified = true;
	return 0;
}

/* The control channel until STATE: silent while pre-copy rounds run, as
 * long as pages keep coming on the bulk channel. */
static int dst_wait_state(struct dst *d, struct net_msg *m)
{
	for (;;) {
		int err = dst_recv(d, m, 1000, NULL);

		if (pm_failed(d->fail))   /* e.g. the bulk thread saw a bad page */
			return d->fail->err;
		if (!err && m->type == PM_DIGEST && d->precopy) {   /* --verify-ram */
			if (pm_decode_fixed(m->payload, m->len, &d->pre_dg, sizeof(d->pre_dg), NULL))
				return pm_fail_set(d->fail, -EBADMSG, "bad DIGEST message");
			d->have_pre_dg = true;
			continue;
		}

		if (err == -ETIMEDOUT) {
			/* The bulk thread stamps bulk_seen_ns all through a
			 * round: read it before the clock, and a stamp newer
			 * than our now is no idle time. (The other order let a
			 * stamp land between the two reads, and the negative
			 * difference, unsigned, read as ages: a pre-copy with
			 * pages flowing failed with "no STATE within 420000
			 * ms" after a second, nested, 2026-12-04.) */
			uint64_t seen = atomic_load(&d->bulk_seen_ns), now = pcm_now_ns();
			uint64_t idle = now > seen ? now - seen : 0;

			if (d->precopy && idle < (uint64_t)d->o->reply_timeout_ms * 1000000ull)
				continue;
			return pm_fail_set(d->fail, err, "source sent no STATE within %d ms",
					   d->o->reply_timeout_ms);
		}
		return err;
	}
}

/* Stage 3 and 5: load the state, resume at once, tell the source. */
static int dst_activate(struct dst *d)
{
	struct pm_state_hdr sh;
	struct pm_resumed r;
	struct net_msg m;
	uint64_t t0;
	int err = dst_wait_state(d, &m);

	if (err)
		return err;
	t0 = pcm_now_ns();
	if ((err = dst_precopy_wait(d)) || (err = dst_verify_ram(d)))
		return err;
	if (m.type != PM_STATE || m.len < sizeof(sh))
		return pm_fail_set(d->fail, -EPROTO, "expected STATE, got %s", pm_type_name(m.type));
	memcpy(&sh, m.payload, sizeof(sh));
	if (sh.state_len != m.len - sizeof(sh))
		return pm_fail_set(d->fail, -EBADMSG, "STATE length does not match its blob");
	err = machine_load(d->m, (const uint8_t *)m.payload + sizeof(sh), sh.state_len);
	if (err)
		return pm_fail_set(d->fail, err, "loading the VM state: %s",
				   machine_why(d->m) ? machine_why(d->m) : strerror(-err));
	if ((err = machine_start(d->m)))
		return pm_fail_set(d->fail, err, "starting the vCPUs: %s", strerror(-err));
	d->t_resume = pcm_now_ns();
	/* From here the VM is ours to keep through any outage. */
	atomic_store(&d->activated, true);
	atomic_store(&d->link->phase, LINK_UP);
	r.dst_ns = pcm_now_ns() - t0;
	d->t_seen = pcm_now_ns();
	err = net_send(d->ch[PM_CH_CONTROL], PM_RESUMED, &r, sizeof(r));
	return err ? dst_link_fail(d, err, "sending RESUMED: %s", wire_strerror(err)) : 0;
}

static int dst_progress(struct dst *d)
{
	struct pm_progress p = { .pages_in = atomic_load(&d->pages_in),
				 .remote_faults = atomic_load(&d->remote_faults) };
	int err;

	pthread_mutex_lock(&d->lock);
	p.fault_p99_ns = pcm_hist_pct(&d->lat, 99);
	pthread_mutex_unlock(&d->lock);
	err = net_send(d->ch[PM_CH_CONTROL], PM_PROGRESS, &p, sizeof(p));
	return err ? dst_link_fail(d, err, "sending PROGRESS: %s", wire_strerror(err)) : 0;
}

/* Is the link alive? The source PINGs a few times per link timeout; a
 * vCPU waiting that long for a page means the urgent channel is stuck
 * even if control is not; a new connection means the source lost the
 * link before we noticed. */
static int dst_liveness(struct dst *d)
{
	uint64_t lt = (uint64_t)dst_link_timeout_ms(d) * 1000000ull;
	uint64_t now = pcm_now_ns(), wait = dst_oldest_fault_ns(d);
	int err = 0;

	if (now - d->t_seen > lt) {
		err = dst_link_fail(d, -ETIMEDOUT, "the source has been silent for %.1f s",
				    (now - d->t_seen) / 1e9);
		link_backdate(d->link, d->t_seen);
	} else if (wait > lt) {
		err = dst_link_fail(d, -ETIMEDOUT, "a vCPU has waited %.1f s for a page",
				    wait / 1e9);
		link_backdate(d->link, now - wait);
	}
	if (err)
		return err;
	if (dst_source_knocks(d))
		return dst_link_fail(d, -ECONNRESET, "the source connected again (it lost the link)");
	return 0;
}

/* Until every page is in (and, for idle, the source's DIGEST): progress
 * and a liveness check every 250 ms. */
static int dst_wait_pages(struct dst *d, struct pm_digest *dg, bool *have_dg)
{
	bool need_dg = d->hello.params.workload == WL_IDLE;
	uint64_t last = pcm_now_ns();

	while (!pm_failed(d->fail) && !link_is_down(d->link)) {
		struct net_msg m;
		int err;

		if (atomic_load(&d->pages_in) == d->ram.npages && atomic_load(&d->bulk_ended) &&
		    (*have_dg || !need_dg))
			return 0;
		/* Short waits: the end is noticed within 10 ms of the last page. */
		err = dst_recv(d, &m, 10, NULL);
		if (err == -ETIMEDOUT) {
			if (pcm_now_ns() - last < 250000000ull)
				continue;
			last = pcm_now_ns();
			if ((err = dst_liveness(d)) || (err = dst_progress(d)))
				return err;
			continue;
		}
		if (err)
			return err;
		if (m.type == PM_PING)
			continue;
		if (m.type != PM_DIGEST || pm_decode_fixed(m.payload, m.len, dg, sizeof(*dg), NULL))
			return dst_link_fail(d, -EPROTO, "unexpected %s while pages arrive",
					     pm_type_name(m.type));
		*have_dg = true;
	}
	return d->fail->err ? d->fail->err : d->link->err;
}

static uint64_t dst_overhead_bytes(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	unsigned long long rss = 0, shmem = 0;
	char line[128];

	while (f && fgets(line, sizeof(line), f)) {
		sscanf(line, "VmRSS: %llu", &rss);
		sscanf(line, "RssShmem: %llu", &shmem);
	}
	if (f)
		fclose(f);
	return (rss - shmem) << 10;
}

static void dst_next_data(void *arg, uint64_t page, uint64_t *first, uint64_t *end)
{
	const struct pages_map *ram = arg;

	if (page >= ram->npages) {
		*first = *end = ram->npages;
		return;
	}
	ram_next_data(ram, page, first, end);
}

/* Let go of guest RAM. A vCPU can still fault between the fault thread's
 * end and the unregister: a fault that queued itself while the unregister
 * waited for the VMA (per-VMA fault locking) is not woken by it and would
 * sleep for good. Waking the range and closing the userfaultfd (which
 * wakes every fault still pending on it) lets such a fault retry, now
 * without userfaultfd. Seen as a destination stuck in its final check. */
static void dst_uffd_release(struct dst *d)
{
	for (unsigned i = 0; d->registered && i < d->ram.n; i++) {
		uffd_unregister(&d->uffd, d->ram.r[i].host, d->ram.r[i].size);
		uffd_wake(&d->uffd, d->ram.r[i].host, d->ram.r[i].size);
	}
	d->registered = false;
	if (d->uffd.fd >= 0)
		uffd_close(&d->uffd);
	d->uffd.fd = -1;
}

/* The agent's next status line, read here after this call began: its
 * period then covers the last faults of the move. Bounded: a guest
 * without an agent (no agent line read here) is given PM_AGENT_WAIT_NS
 * from the resume, one with an agent as long from now. */
static void dst_agent_wait(struct dst *d, struct machine_guest_report *g)
{
	uint64_t t0 = pcm_now_ns(), before;

	machine_guest_report(d->m, g);
	before = g->status_lines;
	while (g->status_lines == before && g->agent != MACHINE_AGENT_DONE &&
	       machine_ended(d->m) == MACHINE_RUNS && !machine_crashed(d->m) &&
	       pcm_now_ns() < (g->agent ? t0 : d->t_resume) + PM_AGENT_WAIT_NS) {
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
		machine_guest_report(d->m, g);
	}
}

/* A Linux guest's RAM changes as it runs here: only the agent inside it
 * can say its own data is whole, and it measures the stall the guest
 * saw. Without one, what precopy --verify-ram proved before it ran still
 * stands, and the stall is not known (0). */
static void dst_verify_linux(struct dst *d, struct pm_done *done)
{
	struct machine_guest_report g;

	dst_agent_wait(d, &g);
	if (g.agent != MACHINE_AGENT_NONE) {
		done->verified = pm_agent_verdict(&g, done->verify_detail,
						  sizeof(done->verify_detail), &done->max_stall_ns);
		return;
	}
	done->verified = d->ram_verified;
	snprintf(done->verify_detail, sizeof(done->verify_detail), "%s",
		 d->ram_verified ? "a Linux guest, checked before it ran here"
				 : "not checked: no agent line on the Linux guest's console");
}

/* The end-to-end check: idle's RAM equals the source's at pause; kv and
 * sweep pass their own self-check on a paused VM; a Linux guest's agent
 * says its checks held. */
static void dst_verify(struct dst *d, const struct pm_digest *dg, bool have_dg,
		       struct pm_done *done)
{
	const struct machine_region *r = d->ram.r;
	uint32_t wl = d->hello.params.workload;
	struct wl_holes holes = { dst_next_data, &d->ram };
	char why[160] = "";
	int err;

	if (d->hello.guest == MACHINE_GUEST_LINUX) {
		dst_verify_linux(d, done);
		return;
	}
	if (wl == WL_IDLE) {
		uint64_t mine = ram_digest(&d->ram, GUEST_DATA_OFF / PM_PAGE);

		done->verified = have_dg && dg->digest == mine;
		snprintf(done->verify_detail, sizeof(done->verify_detail),
			 "RAM digest %016llx %s source's %016llx",
			 (unsigned long long)mine, done->verified ? "equals" : "differs from",
			 (unsigned long long)(have_dg ? dg->digest : 0));
		return;
	}
	/* The self-check reads RAM the vCPUs write: only a paused VM gives
	 * an answer, so a pause that failed is no check at all. */
	if ((err = machine_pause(d->m))) {
		done->verified = false;
		snprintf(done->verify_detail, sizeof(done->verify_detail),
			 "%s self-check not run: pausing the VM failed: %s", wl_name(wl),
			 strerror(-err));
		return;
	}
	err = wl_check_sparse(r[0].host, r[0].size, &holes, why, sizeof(why));
	snprintf(done->verify_detail, sizeof(done->verify_detail), "%s self-check %s%s%s",
		 wl_name(wl), err ? "failed: " : "passed", err ? why : "",
		 err ? "" : ", every payload checksum matched");
	done->verified = err == 0;
	if ((err = machine_resume(d->m))) {
		size_t n = strnlen(done->verify_detail, sizeof(done->verify_detail));

		done->verified = false;
		d->fail->resume_err = err;
		snprintf(done->verify_detail + n, sizeof(done->verify_detail) - n,
			 "; resuming the VM after the check failed (%s): it is paused "
			 "on the destination", strerror(-err));
	}
}

/* While the main thread checks the guest (seconds for a large one on a
 * busy host) the source still hears from us: silence longer than its
 * link timeout would break a link that works, just as the migration
 * ends. */
struct dst_keepalive {
	struct dst *d;
	pthread_t thr;
	atomic_bool stop;
};

static void *dst_keepalive_main(void *arg)
{
	struct dst_keepalive *k = arg;

	while (!atomic_load(&k->stop)) {
		for (int i = 0; i < 25 && !atomic_load(&k->stop); i++)
			nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
		if (!atomic_load(&k->stop) && !link_is_down(k->d->link))
			(void)dst_progress(k->d);   /* a failure is the link's, recorded */
	}
	return NULL;
}

void dst_complete(struct dst *d, const struct pm_digest *dg, bool have_dg)
{
	struct pm_done *done = &d->done;
	struct dst_keepalive k = { .d = d };
	struct machine_stats in, st;
	uint64_t t_in = pcm_now_ns();
	bool ka;

	machine_stats(d->m, &in);   /* every page is in: this reads no missing one */
	ka = pthread_create(&k.thr, NULL, dst_keepalive_main, &k) == 0;
	dst_threads_stop(d);
	dst_uffd_release(d);
	memset(done, 0, sizeof(*done));
	machine_stats(d->m, &st);
	done->guest_ops_in = in.ops;
	done->guest_in_ns = t_in - d->t_resume;
	done->guest_ops_end = st.ops;
	done->guest_end_ns = pcm_now_ns() - t_in;
	done->max_stall_ns = st.max_gap_ns;
	done->pages_pushed = atomic_load(&d->pushed);
	done->pages_requested = atomic_load(&d->requested_in);
	done->pages_zero = atomic_load(&d->zero);
	done->pages_precopied = atomic_load(&d->precopied);
	done->pages_resent = atomic_load(&d->resent);
	done->remote_faults = atomic_load(&d->remote_faults);
	done->blocktime_ns = d->blocktime_ns;
	done->fault_lat = d->lat;
	done->bulk_ns = d->t_bulk_last - d->t_bulk_first;
	done->overhead_bytes = dst_overhead_bytes();
	dst_verify(d, dg, have_dg, done);
	if (d->ram_verified) {
		size_t n = strnlen(done->verify_detail, sizeof(done->verify_detail));

		snprintf(done->verify_detail + n, sizeof(done->verify_detail) - n,
			 "; all RAM equal to the source's at the pause");
	}
	if (ka) {
		atomic_store(&k.stop, true);
		pthread_join(k.thr, NULL);
	}
	d->finished = true;
}

int dst_send_done(struct dst *d)
{
	struct net_msg m;
	uint8_t wire[PM_DONE_WIRE_LEN];
	int err;

	pm_encode_done(&d->done, wire);
	err = net_send(d->ch[PM_CH_CONTROL], PM_DONE, wire, sizeof(wire));

	if (err)
		return dst_link_fail(d, err, "sending DONE: %s", wire_strerror(err));
	do {
		err = dst_recv(d, &m, dst_link_timeout_ms(d), "RELEASED");
	} while (!err && (m.type == PM_PING || m.type == PM_DIGEST));
	if (!err && m.type != PM_RELEASED)
		err = pm_fail_set(d->fail, -EPROTO, "expected RELEASED, got %s", pm_type_name(m.type));
	return err;
}

/* Stage 5 through any number of outages, to an outcome (outcome.h):
 * confirmed (RELEASED), finished with the link down (the host answers
 * the source's return with DONE), or, with pages missing and the wait
 * for the source over, a failure that discards the VM. */
static int dst_postcopy(struct dst *d)
{
	struct pm_digest dg;
	bool have_dg = false;
	unsigned act;

	d->oc = OCD_ACTIVE;
	for (;;) {
		int err = d->oc == OCD_ACTIVE ? dst_wait_pages(d, &dg, &have_dg) : 0;

		if (!err && d->oc == OCD_ACTIVE) {
			dst_complete(d, &dg, have_dg);
			d->oc = oc_dst_step(d->oc, OCDE_ALL_IN, &act);
		}
		if (!err)
			err = dst_send_done(d);
		if (!err) {
			d->oc = oc_dst_step(d->oc, OCDE_RELEASED, &act);
			return 0;
		}
		if (pm_failed(d->fail) || !link_is_down(d->link))
			return err;
		d->oc = oc_dst_step(d->oc, OCDE_LINK_LOST, &act);
		if (act & OCDA_HOST) {
			dst_note(d, "link lost: %s; every page is here, the VM stays; the source "
				 "gets DONE when it reconnects", d->link->why);
			return 0;
		}
		if ((err = dst_recover(d)))
			return err;
		if (d->oc == OCD_FINISHED_PAUSED && !d->finished)
			dst_complete(d, &dg, have_dg);   /* all in, the source never back */
		if (d->oc == OCD_FINISHED_PAUSED)
			return 0;
	}
}

static void dst_send_error(struct dst *d)
{
	struct pm_error e = { .err = d->fail->err };

	if (!d->ch[PM_CH_CONTROL] || !d->fail->err)
		return;
	pm_strset(e.why, sizeof(e.why), d->fail->why);
	/* Best effort: the failure is recorded already; ERROR only tells the
	 * source why sooner than its timeout would. */
	(void)!net_send(d->ch[PM_CH_CONTROL], PM_ERROR, &e, sizeof(e));
}

void dst_chan_close_all(struct dst *d)
{
	for (int i = 0; i < PM_CH_COUNT; i++)
		if (d->ch[i]) {
			net_close(d->ch[i]);
			d->ch[i] = NULL;
		}
}

static void dst_close(struct dst *d, bool keep_vm)
{
	dst_threads_stop(d);
	dst_uffd_release(d);
	dst_chan_close_all(d);
	if (d->next_ctl)
		net_close(d->next_ctl);
	d->next_ctl = NULL;
	atomic_store(&d->link->phase, LINK_NONE);
	pcm_bitmap_free(&d->received);
	pcm_bitmap_free(&d->requested);
	pcm_bitmap_free(&d->zeroed);
	if (!keep_vm && d->m)
		machine_destroy(d->m);
}

static void dst_free(struct dst *d)
{
	if (d->link == &d->own_link)
		link_destroy(&d->own_link);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

/* Finished with the link down: the source is still owed DONE. Without a
 * host to answer for it later (linger NULL), answer here for the recover
 * timeout. */
static void dst_hand_over(struct dst *d, struct dest_linger **linger)
{
	uint64_t limit = (uint64_t)(d->o->recover_timeout_ms > 0 ? d->o->recover_timeout_ms
								   : RECOVER_TIMEOUT_MS) * 1000000ull;

	/* Answering is no migration of the host's link: its counts and the
	 * operator's pokes belong to the VM's next migration. */
	if (d->link != &d->own_link && !link_init(&d->own_link))
		d->link = &d->own_link;
	if (linger) {
		*linger = (struct dest_linger *)d;
		return;
	}
	if (dst_linger(d, -1, pcm_now_ns() + limit))
		dst_note(d, "the source did not come back for DONE; every page is here, the VM "
			 "stays");
	dst_free(d);
}

int dest_receive(const struct receive_opts *o, struct machine **out,
		 struct pm_hello *hello, struct pm_done *done, struct pm_fail *fail,
		 struct dest_linger **linger)
{
	struct dst *d = calloc(1, sizeof(*d));
	int err;

	if (linger)
		*linger = NULL;
	if (!d)
		return pm_fail_set(fail, -ENOMEM, "no memory");
	d->o = o;
	d->fail = fail;
	d->uffd.fd = -1;
	d->link = o->link ? o->link : &d->own_link;
	if (!o->link && (err = link_init(&d->own_link))) {
		free(d);
		return pm_fail_set(fail, err, "cannot set up the link: %s", strerror(-err));
	}
	link_start(d->link);
	pthread_mutex_init(&d->lock, NULL);
	pcm_hist_init(&d->lat);
	/* Two PINGs after the page channels: the source pauses the VM only
	 * once the first echo says the channels are in, so that no delay here
	 * (a stranger on the port) is a pause its downtime does not see; the
	 * second is its round-trip measure. */
	err = dst_reserve(d);
	if (!err)
		err = dst_channels(d, false);
	for (int i = 0; i < 2 && !err; i++)
		err = dst_echo_ping(d);
	if (!err)
		err = dst_threads_start(d);
	if (!err)
		err = dst_activate(d);
	if (!err)
		err = dst_postcopy(d);
	if (err)
		dst_send_error(d);
	*hello = d->hello;
	*done = d->done;
	*out = err ? NULL : d->m;
	dst_close(d, !err);
	if (!err && d->oc == OCD_FINISHED_PAUSED)
		dst_hand_over(d, linger);
	else
		dst_free(d);
	return err;
}

int dest_linger_run(struct dest_linger *l, int stop_fd)
{
	return dst_linger((struct dst *)l, stop_fd, 0);
}

void dest_linger_free(struct dest_linger *l)
{
	if (l)
		dst_free((struct dst *)l);
}
