/* kvm/dev/virtio_net.c - the virtio network device (virtio 1.2, 5.1) as a
 * virtio-mmio back-end on a tap interface (kvm/dev/tap.c): the MAC and
 * link status in configuration space, the device thread that moves frames
 * between the tap and the two queues, quiesce for a save, and the section
 * that carries the MAC. virtio.h says what is offered and refused.
 *
 * Locks: the transport's device lock (kvm_virtio_lock) guards the queues,
 * epoch, live and broken; the back-end's mutex m guards the thread's
 * flags. m may be taken under the device lock, never the other way round.
 * A request is taken and returned under the device lock and its bytes are
 * copied between them without it: guest RAM may be missing at a post-copy
 * destination, and a fault must not hold up the vCPUs' register accesses.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

#include "kvm/dev/tap.h"
#include "kvm/dev/virtio.h"
#include "kvm/vmm.h"
#include "lib/codec.h"

#define HDR      KVM_VIRTIO_NET_HDR_LEN
#define NUM_BUFS 10                        /* num_buffers' offset in the header */
#define BATCH    64                        /* frames each way before the other way */
#define FEATURES ((1ull << KVM_VIRTIO_NET_F_MAC) | (1ull << KVM_VIRTIO_NET_F_STATUS))

struct net {
	int tap, kick;                     /* the tap; an eventfd notify writes */
	int mac_set;                       /* given here: a load must match it */
	/* Under the device lock. */
	uint8_t mac[6];
	uint64_t epoch;                    /* bumped by every reset */
	int live;                          /* a notify came since the last reset:
					    * the driver set DRIVER_OK */
	int broken;                        /* a malformed chain: wait for reset */
	/* Under m. */
	pthread_mutex_t m;
	pthread_cond_t wake, idle;
	struct kvm_virtio *d;
	int busy, quiesced, stop;
	pthread_t thread;
	/* The thread's alone. */
	int tap_gone;                      /* the interface was deleted */
	struct kvm_virtq_req req;
	size_t frame_len;                  /* a frame read, waiting for a buffer */
	uint8_t frame[HDR + KVM_VIRTIO_NET_FRAME_MAX];
};

/* Copy len bytes between buf and the bytes of iov[0, n) from skip on
 * (into the iovecs when to_iov); the count copied. */
static size_t iov_copy(const struct iovec *iov, unsigned n, size_t skip, uint8_t *buf,
		       size_t len, int to_iov)
{
	size_t done = 0;

	for (unsigned i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len, k;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		k = l - skip < len - done ? l - skip : len - done;
		if (to_iov)
			memcpy((uint8_t *)iov[i].iov_base + skip, buf + done, k);
		else
			memcpy(buf + done, (uint8_t *)iov[i].iov_base + skip, k);
		done += k;
		skip = 0;
	}
	return done;
}

static void kick(struct net *n)
{
	uint64_t one = 1;

	(void)!write(n->kick, &one, sizeof(one));   /* full: a wake-up is pending */
}

/* ---- taking and returning requests ---- */

enum take { TAKE_NONE, TAKE_OK, TAKE_BAD };

/* Is a request's shape right for queue qi: rx all writable, tx all
 * readable, and room for the header either way? */
static int shape_ok(const struct kvm_virtq_req *r, unsigned qi)
{
	if (qi == KVM_VIRTIO_NET_RXQ)
		return !r->nread && r->write_len >= HDR;
	return !r->nwrite && r->read_len >= HDR;
}

/* The next request of queue qi into n->req, with *ep the epoch it was
 * taken in. A malformed one is left on the ring and breaks the device. */
static enum take take(struct net *n, struct kvm_virtio *d, unsigned qi, uint64_t *ep)
{
	struct kvm_virtq *q = kvm_virtio_queue(d, qi);
	enum take t = TAKE_NONE;
	int r = 0;

	kvm_virtio_lock(d);
	if (n->live && !n->broken && q->ready) {
		r = kvm_virtq_pop(q, kvm_virtio_mem(d), &n->req);
		if (r > 0 && !shape_ok(&n->req, qi)) {
			q->last_avail--;           /* leave the queue as it was */
			r = -EINVAL;
		}
		if (r < 0) {
			n->broken = 1;
			kvm_virtio_needs_reset(d);
		}
		t = r > 0 ? TAKE_OK : r < 0 ? TAKE_BAD : TAKE_NONE;
	}
	*ep = n->epoch;
	kvm_virtio_unlock(d);
	return t;
}

/* Put the request back untouched (a frame too large for it). */
static void untake(struct net *n, struct kvm_virtio *d, unsigned qi, uint64_t ep)
{
	kvm_virtio_lock(d);
	if (ep == n->epoch)
		kvm_virtio_queue(d, qi)->last_avail--;
	kvm_virtio_unlock(d);
}

/* Return the request with len bytes written, unless a reset came. */
static void complete(struct net *n, struct kvm_virtio *d, unsigned qi, uint32_t len,
		     uint64_t ep)
{
	struct kvm_virtq *q = kvm_virtio_queue(d, qi);
	uint16_t old;

	kvm_virtio_lock(d);
	if (ep == n->epoch) {
		old = q->used_idx;
		if (kvm_virtq_push(q, kvm_virtio_mem(d), n->req.head, len)) {
			n->broken = 1;
			kvm_virtio_needs_reset(d);
		} else {
			kvm_virtio_used(d, qi, old);
		}
	}
	kvm_virtio_unlock(d);
}

static int quiescing(struct net *n)
{
	return __atomic_load_n(&n->quiesced, __ATOMIC_RELAXED);
}

/* ---- transmit: the guest's frames out of the tap ---- */

/* One frame from the driver, sent with an all-zero header: 1, or 0 when
 * there is none. A frame the tap refuses (too short, the link down) is
 * dropped and its buffers returned, as a NIC on a dead wire would. */
static int tx_one(struct net *n, struct kvm_virtio *d)
{
	struct kvm_virtq_req *r = &n->req;
	uint64_t ep;
	size_t len;

	if (take(n, d, KVM_VIRTIO_NET_TXQ, &ep) != TAKE_OK)
		return 0;
	len = r->read_len - HDR;
	if (len <= KVM_VIRTIO_NET_FRAME_MAX) {
		memset(n->frame, 0, HDR);
		iov_copy(r->iov, r->nread, HDR, n->frame + HDR, len, 0);
		(void)!write(n->tap, n->frame, HDR + len);
	}
	complete(n, d, KVM_VIRTIO_NET_TXQ, 0, ep);
	return 1;
}

/* ---- receive: the tap's frames into the guest's buffers ---- */

/* A frame from the tap into n->frame unless one is there already: 1 when
 * one is in hand, 0 when the tap has none. Frames with a GSO header
 * (offloads are off: never) or shorter than one are dropped. */
static int rx_frame(struct net *n)
{
	while (!n->frame_len && !n->tap_gone) {
		ssize_t k = read(n->tap, n->frame, sizeof(n->frame));

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return 0;                  /* EAGAIN, or the tap went away */
		if (k > HDR && n->frame[1] == 0)   /* gso_type VIRTIO_NET_HDR_GSO_NONE */
			n->frame_len = (size_t)k;
	}
	return !!n->frame_len;
}

/* The frame in hand into the next receive buffer: 1 done (delivered or
 * dropped), 0 when no buffer is available (the frame is kept). */
static int rx_one(struct net *n, struct kvm_virtio *d)
{
	struct kvm_virtq_req *r = &n->req;
	const struct kvm_guest_mem *m = kvm_virtio_mem(d);
	size_t len = n->frame_len;
	uint16_t one = htole16(1);
	uint64_t ep;
	enum take t = take(n, d, KVM_VIRTIO_NET_RXQ, &ep);

	if (t == TAKE_NONE && n->live && !n->broken)
		return 0;                          /* wait for the driver's buffers */
	n->frame_len = 0;                          /* from here on it is gone */
	if (t != TAKE_OK)
		return 1;                          /* no driver to take it */
	if (r->write_len < len) {
		untake(n, d, KVM_VIRTIO_NET_RXQ, ep);
		return 1;
	}
	memset(n->frame, 0, HDR);                  /* the driver asked for no offload */
	memcpy(n->frame + NUM_BUFS, &one, 2);
	iov_copy(r->iov + r->nread, r->nwrite, 0, n->frame, len, 1);
	for (unsigned i = 0; i < r->nwrite; i++)
		kvm_gpa_wrote(m, r->iov[i].iov_base, r->iov[i].iov_len);
	complete(n, d, KVM_VIRTIO_NET_RXQ, (uint32_t)len, ep);
	return 1;
}

/* ---- the device thread ---- */

/* Serve both queues, a batch of each in turn so that neither starves
 * the other, until neither has work: 1 when a received frame waits for
 * a buffer (then the tap is not polled until the driver notifies). */
static int work(struct net *n, struct kvm_virtio *d)
{
	for (;;) {
		unsigned tx = 0, rx = 0;
		int blocked = 0;

		while (tx < BATCH && !quiescing(n) && tx_one(n, d))
			tx++;
		while (!blocked && rx < BATCH && !quiescing(n) && rx_frame(n))
			if (rx_one(n, d))
				rx++;
			else
				blocked = 1;
		if (quiescing(n) || (tx < BATCH && (blocked || rx < BATCH)))
			return blocked;
	}
}

/* Wait for the tap (unless a frame waits for a buffer, or the tap is
 * gone) or a kick. A tap deleted under us polls as an error for ever:
 * from then on frames sent are dropped and none arrive. */
static void wait_io(struct net *n, int rx_blocked)
{
	struct pollfd p[2] = {
		{ n->kick, POLLIN, 0 }, { rx_blocked || n->tap_gone ? -1 : n->tap, POLLIN, 0 },
	};
	uint64_t v;

	if (poll(p, 2, -1) <= 0)
		return;
	if (p[0].revents & POLLIN)
		(void)!read(n->kick, &v, sizeof(v));
	if (p[1].revents & (POLLERR | POLLHUP | POLLNVAL))
		n->tap_gone = 1;
}

static void *net_main(void *arg)
{
	struct net *n = arg;
	struct kvm_virtio *d;
	int blocked;

	for (;;) {
		pthread_mutex_lock(&n->m);
		while (!n->stop && n->quiesced)
			pthread_cond_wait(&n->wake, &n->m);
		if (n->stop) {
			pthread_mutex_unlock(&n->m);
			return NULL;
		}
		n->busy = 1;
		d = n->d;
		pthread_mutex_unlock(&n->m);
		blocked = d ? work(n, d) : 0;
		pthread_mutex_lock(&n->m);
		n->busy = 0;
		pthread_cond_broadcast(&n->idle);
		pthread_mutex_unlock(&n->m);
		wait_io(n, blocked || !d);
	}
}

/* ---- back-end callbacks ---- */

static int net_notify(void *ctx, struct kvm_virtio *d, unsigned q)
{
	struct net *n = ctx;

	(void)d;
	(void)q;
	n->live = 1;          /* the transport notifies only after DRIVER_OK */
	kick(n);
	return 0;
}

static void net_reset(void *ctx)
{
	struct net *n = ctx;

	n->epoch++;           /* a request in hand is dropped */
	n->live = n->broken = 0;
}

static int net_quiesce(void *ctx, int on)
{
	struct net *n = ctx;

	pthread_mutex_lock(&n->m);
	__atomic_store_n(&n->quiesced, on, __ATOMIC_RELAXED);
	if (on)
		while (n->busy)
			pthread_cond_wait(&n->idle, &n->m);
	else
		pthread_cond_signal(&n->wake);
	pthread_mutex_unlock(&n->m);
	if (!on)
		kick(n);
	return 0;
}

static void net_config_read(void *ctx, uint32_t off, uint8_t *data, unsigned len)
{
	const struct net *n = ctx;
	uint8_t c[KVM_VIRTIO_NET_CONFIG_SIZE];
	uint16_t st = htole16(KVM_VIRTIO_NET_S_LINK_UP);

	memcpy(c, n->mac, 6);
	memcpy(c + 6, &st, 2);
	memcpy(data, c + off, len);
}

/* ---- state: MAC, link status, features offered, live ---- */

static size_t net_state_size(void *ctx)
{
	(void)ctx;
	return KVM_VIRTIO_NET_STATE_SIZE;
}

static int net_save(void *ctx, uint8_t *buf, size_t len)
{
	struct net *n = ctx;
	struct pcm_enc e = { buf, len, 0, false };

	pcm_put_bytes(&e, n->mac, 6);
	pcm_put_u16(&e, KVM_VIRTIO_NET_S_LINK_UP);
	pcm_put_u64(&e, FEATURES);
	pcm_put_u8(&e, (uint8_t)n->live);
	return e.over || e.pos != len ? -EINVAL : 0;
}

static int net_load(void *ctx, const uint8_t *buf, size_t len, char *why, size_t wlen)
{
	struct net *n = ctx;
	struct pcm_dec dc = { buf, len, 0, false };
	uint8_t mac[6];
	uint16_t st;
	uint64_t feat;
	uint8_t live;

	pcm_get_bytes(&dc, mac, 6);
	st = pcm_get_u16(&dc);
	feat = pcm_get_u64(&dc);
	live = pcm_get_u8(&dc);
	if (dc.over || dc.pos != len || live > 1 || (st & ~KVM_VIRTIO_NET_S_LINK_UP))
		snprintf(why, wlen, "its length or flags are wrong");
	else if (feat & ~FEATURES)
		snprintf(why, wlen, "the source's device offered features this one lacks");
	else if ((mac[0] & 1) || !memcmp(mac, "\0\0\0\0\0\0", 6))
		snprintf(why, wlen, "its MAC is not a unicast address");
	else if (n->mac_set && memcmp(mac, n->mac, 6))
		snprintf(why, wlen, "the VM's MAC %02x:%02x:%02x:%02x:%02x:%02x differs from "
			 "this end's mac=", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	else {
		memcpy(n->mac, mac, 6);
		n->live = live;
		n->broken = 0;
		return 0;
	}
	return -EINVAL;
}

/* After the vCPUs are loaded: frames the driver queued before the pause. */
static void net_activate(void *ctx)
{
	kick(ctx);
}

static void net_destroy(void *ctx)
{
	struct net *n = ctx;

	pthread_mutex_lock(&n->m);
	n->stop = 1;
	pthread_cond_signal(&n->wake);
	pthread_mutex_unlock(&n->m);
	kick(n);
	pthread_join(n->thread, NULL);
	pthread_cond_destroy(&n->wake);
	pthread_cond_destroy(&n->idle);
	pthread_mutex_destroy(&n->m);
	close(n->kick);
	close(n->tap);
	free(n);
}

static const struct kvm_virtio_backend net_backend = {
	.name = "network card", .kind = KVM_DEV_VIRTIO_NET, .version = 1,
	.device_id = 1, .nqueues = 2, .features = FEATURES,
	.queue_max = KVM_VIRTIO_NET_QUEUE_MAX,
	.config_size = KVM_VIRTIO_NET_CONFIG_SIZE, .config_read = net_config_read,
	.notify = net_notify, .reset = net_reset,
	.state_size = net_state_size, .save = net_save, .load = net_load,
	.destroy = net_destroy, .quiesce = net_quiesce, .activate = net_activate,
};

/* ---- opening ---- */

/* 52:54:00 (QEMU's prefix: locally administered, unicast) and three
 * random bytes, so that two VMs on one segment rarely collide. */
static void mac_pick(uint8_t mac[6])
{
	mac[0] = 0x52;
	mac[1] = 0x54;
	mac[2] = 0x00;
	if (getrandom(mac + 3, 3, 0) != 3)
		memcpy(mac + 3, "\x12\x34\x56", 3);
}

static int net_open(const struct kvm_virtio_net_config *c, struct net **out, char *why,
		    size_t wlen)
{
	struct net *n;
	int err;

	if (c->mac_set && ((c->mac[0] & 1) || !memcmp(c->mac, "\0\0\0\0\0\0", 6))) {
		snprintf(why, wlen, "tap %s: mac= must be a unicast address", c->tap);
		return -EINVAL;
	}
	if (!(n = calloc(1, sizeof(*n)))) {
		snprintf(why, wlen, "tap %s: out of memory", c->tap);
		return -ENOMEM;
	}
	if ((n->tap = kvm_tap_open(c->tap, HDR, why, wlen)) < 0) {
		err = n->tap;
		free(n);
		return err;
	}
	n->mac_set = c->mac_set;
	if (c->mac_set)
		memcpy(n->mac, c->mac, 6);
	else
		mac_pick(n->mac);
	pthread_mutex_init(&n->m, NULL);
	pthread_cond_init(&n->wake, NULL);
	pthread_cond_init(&n->idle, NULL);
	if ((n->kick = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0)
		err = -errno;
	else
		err = -pthread_create(&n->thread, NULL, net_main, n);
	if (!err) {
		*out = n;
		return 0;
	}
	snprintf(why, wlen, "tap %s: no device thread: %s", c->tap, strerror(-err));
	if (n->kick >= 0)
		close(n->kick);
	pthread_cond_destroy(&n->wake);
	pthread_cond_destroy(&n->idle);
	pthread_mutex_destroy(&n->m);
	close(n->tap);
	free(n);
	return err;
}

int kvm_virtio_net_attach(struct kvm_bus *mmio, struct kvm_devs *devs,
			  const struct kvm_virtio_mmio_config *mc,
			  const struct kvm_virtio_net_config *c, char *why, size_t wlen,
			  struct kvm_virtio **out)
{
	struct kvm_virtio *d = NULL;
	struct net *n = NULL;
	int err;

	if ((err = net_open(c, &n, why, wlen)))
		return err;
	if ((err = kvm_virtio_mmio_attach(mmio, devs, mc, &net_backend, n, &d))) {
		snprintf(why, wlen, "tap %s: registering the device: %s", c->tap, strerror(-err));
		return err;
	}
	pthread_mutex_lock(&n->m);
	n->d = d;
	pthread_mutex_unlock(&n->m);
	kick(n);
	if (out)
		*out = d;
	return 0;
}

int kvm_virtio_net_add(struct kvm_vm *vm, uint64_t base, unsigned gsi,
		       const struct kvm_virtio_net_config *c)
{
	struct kvm_virtio_mmio_config mc;

	kvm_virtio_vm_config(vm, base, gsi, &mc);
	return kvm_virtio_net_attach(&vm->mmio, &vm->devs, &mc, c, vm->why, sizeof(vm->why), NULL);
}
