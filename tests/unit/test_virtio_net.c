/* tests/unit/test_virtio_net.c - virtio-net (kvm/dev/virtio_net.c) driven
 * as Linux's virtio_mmio and virtio_net drivers drive it: through the MMIO
 * bus handler over a fake guest RAM, on real tap interfaces in a network
 * namespace of the test's own (unshare(CLONE_NEWNET) first thing; without
 * one, or without /dev/net/tun, every test skips saying why). The tap's
 * other side is a packet socket bound to the interface: what the guest
 * transmits is read there, and a frame sent there is what the tap gives
 * the device to receive. Frames carry a local experimental EtherType, and
 * IPv6 is off in the namespace so the kernel sends none of its own. Also
 * the configuration space, malformed chains (NEEDS_RESET, the VMM goes on),
 * the state section's round trip and refusals, and the tap's open errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <linux/capability.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/userfaultfd.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kvm/bus.h"
#include "kvm/dev/dev.h"
#include "kvm/dev/tap.h"
#include "kvm/dev/virtio.h"

#define RAM_SIZE (1u << 20)
#define BASE     0xd0002000ull
#define GSI      18
#define QSIZE    16
#define ITABLE   0x7000u
#define FAULTPG  0x80000u            /* a page held missing by userfaultfd */
#define BUF      0x10000u
#define PATTERN  0xaa
#define HDR      KVM_VIRTIO_NET_HDR_LEN
#define RXBUF    (HDR + 1518)        /* what Linux posts without mergeable buffers */
#define ETYPE    0x88b5              /* IEEE local experimental */
#define WAIT_S   5
#define TAP0     "pcmt0"
#define TAP1     "pcmt1"

enum {
	DEVICE_ID = 0x008, DEV_FEAT = 0x010, DEV_FEAT_SEL = 0x014, DRV_FEAT = 0x020,
	DRV_FEAT_SEL = 0x024, QSEL = 0x030, QNUM_MAX = 0x034, QNUM = 0x038, QREADY = 0x044,
	QNOTIFY = 0x050, ISR = 0x060, ACK = 0x064, STATUS = 0x070,
	QDESC_LO = 0x080, QDRV_LO = 0x090, QDEV_LO = 0x0a0, CONFIG = 0x100,
};

#define F_V1_HI 1u
#define F_NET   ((1u << KVM_VIRTIO_NET_F_MAC) | (1u << KVM_VIRTIO_NET_F_STATUS))
#define R 0
#define W KVM_VIRTQ_DESC_F_WRITE
#define RX KVM_VIRTIO_NET_RXQ
#define TX KVM_VIRTIO_NET_TXQ

static const uint8_t MAC_A[6] = { 0x52, 0x54, 0x00, 0x0a, 0x0b, 0x0c };
static const uint8_t MAC_B[6] = { 0x52, 0x54, 0x00, 0x0d, 0x0e, 0x0f };
static char no_net[200];            /* why the namespace or the tap is impossible */

/* Ring areas of queue q: descriptors, avail, used, 4 KiB apart. */
static uint64_t q_desc(unsigned q)  { return 0x1000u + 0x3000u * q; }
static uint64_t q_avail(unsigned q) { return 0x2000u + 0x3000u * q; }
static uint64_t q_used(unsigned q)  { return 0x3000u + 0x3000u * q; }

struct t {
	uint8_t *ram;
	struct kvm_bus bus;
	struct kvm_devs devs;
	struct kvm_virtio *d;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int level;
	int irq_off_main;            /* an interrupt came from another thread */
	pthread_t main;
	uint16_t avail_idx[2];
	int pkt;                     /* packet socket on the tap */
	char why[200];
	_Atomic uint64_t dirty[RAM_SIZE / 4096 / 64];
};

struct seg { uint64_t gpa; uint32_t len; uint16_t flags; };

/* ---- the tap's other side ---- */

static void if_up(const char *name)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(s >= 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	assert_int_equal(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	assert_int_equal(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
	close(s);
}

static int pkt_open(const char *name)
{
	struct sockaddr_ll sa = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	int s = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));

	assert_true(s >= 0);
	assert_true((sa.sll_ifindex = (int)if_nametoindex(name)) > 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return s;
}

/* A frame to the broadcast address from src: EtherType ETYPE, then body
 * bytes of seed; its length. */
static size_t frame_make(uint8_t *f, size_t len, const uint8_t src[6], uint8_t seed)
{
	memset(f, 0xff, 6);
	memcpy(f + 6, src, 6);
	f[12] = ETYPE >> 8;
	f[13] = ETYPE & 0xff;
	for (size_t i = 14; i < len; i++)
		f[i] = (uint8_t)(i * 7 + seed);
	return len;
}

/* The next frame of ours the interface received (what the guest sent):
 * its length, or 0 when none came within ms. */
static size_t pkt_recv(int s, uint8_t *buf, size_t cap, int ms)
{
	struct pollfd p = { s, POLLIN, 0 };

	while (poll(&p, 1, ms) == 1) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t k = recvfrom(s, buf, cap, 0, (struct sockaddr *)&from, &fl);

		assert_true(k >= 0);
		if (from.sll_pkttype != PACKET_OUTGOING && k >= 14 &&
		    buf[12] == ETYPE >> 8 && buf[13] == (ETYPE & 0xff))
			return (size_t)k;
	}
	return 0;
}

/* A frame out of the interface: into the tap, to the device's receive. */
static void pkt_send(int s, const uint8_t *f, size_t len)
{
	assert_int_equal(send(s, f, len, 0), (ssize_t)len);
}

/* ---- fake guest RAM and the device ---- */

static uint8_t *ram_new(void)
{
	uint8_t *r = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);

	assert_true(r != MAP_FAILED);
	memset(r, PATTERN, RAM_SIZE);
	return r;
}

static void t_irq(void *ctx, unsigned gsi, int level)
{
	struct t *t = ctx;

	pthread_mutex_lock(&t->mu);
	t->level = level && gsi == GSI;
	if (!pthread_equal(pthread_self(), t->main))
		t->irq_off_main = 1;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

static int t_attach_rc(struct t *t, uint8_t *ram, const char *tap, const uint8_t *mac)
{
	struct kvm_virtio_mmio_config c = {
		.mem = { ram, RAM_SIZE, t->dirty }, .base = BASE, .gsi = GSI, .irq = t_irq,
		.irq_ctx = t,
	};
	struct kvm_virtio_net_config nc = { .tap = tap, .mac_set = !!mac };

	if (mac)
		memcpy(nc.mac, mac, 6);
	memset(t, 0, sizeof(*t));
	t->ram = ram;
	t->pkt = -1;
	t->main = pthread_self();
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	return kvm_virtio_net_attach(&t->bus, &t->devs, &c, &nc, t->why, sizeof(t->why), &t->d);
}

/* A device on tap (up, with a packet socket on it). */
static void t_attach(struct t *t, uint8_t *ram, const char *tap, const uint8_t *mac)
{
	int r = t_attach_rc(t, ram, tap, mac);

	if (r)
		fail_msg("attach on %s: %s (%d)", tap, t->why, r);
	assert_int_equal(t->devs.n, 1);
	assert_int_equal(t->devs.d[0].ops->kind, KVM_DEV_VIRTIO_NET);
	if_up(tap);
	t->pkt = pkt_open(tap);
}

static void t_done(struct t *t)
{
	kvm_devs_destroy(&t->devs);
	assert_int_equal(t->devs.n, 0);
	if (t->pkt >= 0)
		close(t->pkt);
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
}

static uint32_t rd(struct t *t, uint64_t off)
{
	uint32_t v;

	assert_int_equal(kvm_bus_access(&t->bus, NULL, BASE + off, (uint8_t *)&v, 4, 0), 0);
	return v;
}

static void wr(struct t *t, uint64_t off, uint32_t v)
{
	assert_int_equal(kvm_bus_access(&t->bus, NULL, BASE + off, (uint8_t *)&v, 4, 1), 0);
}

static void queue_init(struct t *t, unsigned q)
{
	memset(t->ram + q_desc(q), 0, 0x3000);
	wr(t, QSEL, q);
	assert_int_equal(rd(t, QNUM_MAX), KVM_VIRTIO_NET_QUEUE_MAX);
	wr(t, QNUM, QSIZE);
	wr(t, QDESC_LO, (uint32_t)q_desc(q));
	wr(t, QDRV_LO, (uint32_t)q_avail(q));
	wr(t, QDEV_LO, (uint32_t)q_used(q));
	wr(t, QREADY, 1);
	assert_int_equal(rd(t, QREADY), 1);
	t->avail_idx[q] = 0;
}

/* As virtio_net's probe: features, both queues; DRIVER_OK if ok. */
static void driver_init(struct t *t, int ok)
{
	wr(t, STATUS, 0);
	wr(t, STATUS, KVM_VIRTIO_S_ACKNOWLEDGE);
	wr(t, STATUS, KVM_VIRTIO_S_ACKNOWLEDGE | KVM_VIRTIO_S_DRIVER);
	wr(t, DRV_FEAT_SEL, 1);
	wr(t, DRV_FEAT, F_V1_HI);
	wr(t, DRV_FEAT_SEL, 0);
	wr(t, DRV_FEAT, F_NET);
	wr(t, STATUS, KVM_VIRTIO_S_ACKNOWLEDGE | KVM_VIRTIO_S_DRIVER | KVM_VIRTIO_S_FEATURES_OK);
	assert_true(rd(t, STATUS) & KVM_VIRTIO_S_FEATURES_OK);
	queue_init(t, RX);
	queue_init(t, TX);
	if (ok)
		wr(t, STATUS, rd(t, STATUS) | KVM_VIRTIO_S_DRIVER_OK);
}

static void desc_set(struct t *t, uint64_t table, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	uint8_t *p = t->ram + table + 16 * i;

	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
}

static void avail_add(struct t *t, unsigned q, uint16_t head)
{
	memcpy(t->ram + q_avail(q) + 4 + 2 * (t->avail_idx[q] % QSIZE), &head, 2);
	t->avail_idx[q]++;
	__atomic_store_n((uint16_t *)(t->ram + q_avail(q) + 2), t->avail_idx[q], __ATOMIC_RELEASE);
}

static uint16_t used_idx(struct t *t, unsigned q)
{
	return __atomic_load_n((uint16_t *)(t->ram + q_used(q) + 2), __ATOMIC_ACQUIRE);
}

static void used_elem(struct t *t, unsigned q, unsigned slot, uint32_t *id, uint32_t *len)
{
	memcpy(id, t->ram + q_used(q) + 4 + 8 * (slot % QSIZE), 4);
	memcpy(len, t->ram + q_used(q) + 8 + 8 * (slot % QSIZE), 4);
}

/* Descriptors head.. of queue q for segs, linked, made available. */
static void chain(struct t *t, unsigned q, unsigned head, const struct seg *s, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		desc_set(t, q_desc(q), head + i, s[i].gpa, s[i].len,
			 (uint16_t)(s[i].flags | (i + 1 < n ? KVM_VIRTQ_DESC_F_NEXT : 0)),
			 (uint16_t)(head + i + 1));
	avail_add(t, q, (uint16_t)head);
}

/* Wait until cond(t) or the deadline: woken by the interrupt callback,
 * and every 10 ms for what comes without one. cond reads RAM only: the
 * device calls t_irq with its lock held. */
static int wait_for(struct t *t, int (*cond)(struct t *, unsigned, unsigned), unsigned q,
		    unsigned arg)
{
	struct timespec now, tick;
	int64_t end;
	int ok;

	clock_gettime(CLOCK_REALTIME, &now);
	end = now.tv_sec * 1000000000ll + now.tv_nsec + WAIT_S * 1000000000ll;
	pthread_mutex_lock(&t->mu);
	while (!(ok = cond(t, q, arg))) {
		int64_t at;

		clock_gettime(CLOCK_REALTIME, &now);
		at = now.tv_sec * 1000000000ll + now.tv_nsec;
		if (at >= end)
			break;
		at = at + 10000000 < end ? at + 10000000 : end;
		tick = (struct timespec){ at / 1000000000, at % 1000000000 };
		pthread_cond_timedwait(&t->cv, &t->mu, &tick);
	}
	pthread_mutex_unlock(&t->mu);
	return ok;
}

static int used_at_least(struct t *t, unsigned q, unsigned n)
{
	return used_idx(t, q) >= n && t->level;
}

static int line_high(struct t *t, unsigned q, unsigned n)
{
	(void)q;
	(void)n;
	return t->level;
}

/* Until queue q's used->idx reaches n with the interrupt raised; ack it. */
static void wait_used(struct t *t, unsigned q, unsigned n)
{
	if (!wait_for(t, used_at_least, q, n))
		fail_msg("queue %u: used idx %u after %ds, not %u (line %d)", q, used_idx(t, q),
			 WAIT_S, n, t->level);
	wr(t, ACK, rd(t, ISR));
}

static void wait_needs_reset(struct t *t)
{
	if (!wait_for(t, line_high, 0, 0))
		fail_msg("no configuration interrupt after %ds", WAIT_S);
	assert_true(rd(t, STATUS) & KVM_VIRTIO_S_NEEDS_RESET);
	assert_true(rd(t, ISR) & KVM_VIRTIO_INT_CONFIG);
	wr(t, ACK, rd(t, ISR));
}

/* ---- the guest's side of a frame ---- */

/* Transmit frame f at head: the header (12 bytes of hdr_fill) in its own
 * descriptor or split across two (split), then the frame in two parts. */
static void tx_post(struct t *t, unsigned head, const uint8_t *f, size_t len, int split,
		    uint8_t hdr_fill)
{
	uint64_t at = BUF + 0x8000u + 0x800u * head;
	size_t half = len / 2;
	struct seg s[4];
	unsigned n = 0;

	memset(t->ram + at, hdr_fill, HDR);
	memcpy(t->ram + at + HDR, f, len);
	if (split) {
		s[n++] = (struct seg){ at, 5, R };
		s[n++] = (struct seg){ at + 5, HDR - 5 + (uint32_t)half, R };
	} else {
		s[n++] = (struct seg){ at, HDR, R };
		s[n++] = (struct seg){ at + HDR, (uint32_t)half, R };
	}
	s[n++] = (struct seg){ at + HDR + half, (uint32_t)(len - half), R };
	chain(t, TX, head, s, n);
}

/* One frame through the transmit queue to the packet socket. */
static void tx_check(struct t *t, unsigned head, size_t len, uint8_t seed, int split)
{
	uint8_t f[2048], got[2048];
	uint16_t n = used_idx(t, TX);
	uint32_t id, l;

	frame_make(f, len, MAC_A, seed);
	tx_post(t, head, f, len, split, split ? 0x5a : 0);
	wr(t, QNOTIFY, TX);
	wait_used(t, TX, (uint16_t)(n + 1));
	used_elem(t, TX, n, &id, &l);
	assert_int_equal(id, head);
	assert_int_equal(l, 0);
	assert_int_equal(pkt_recv(t->pkt, got, sizeof(got), WAIT_S * 1000), len);
	assert_memory_equal(got, f, len);
}

/* Post receive buffer head at gpa: len bytes, in two descriptors (the
 * first split at cut) when cut. */
static void rx_post(struct t *t, unsigned head, uint64_t gpa, uint32_t len, uint32_t cut)
{
	struct seg s[2] = { { gpa, cut ? cut : len, W }, { gpa + cut, len - cut, W } };

	memset(t->ram + gpa, PATTERN, len);
	chain(t, RX, head, s, cut ? 2 : 1);
}

/* The frame in buffer gpa: a clean header (num_buffers 1), then f. */
static void assert_rx_frame(struct t *t, uint64_t gpa, const uint8_t *f, size_t len)
{
	uint8_t hdr[HDR] = { 0 };

	hdr[10] = 1;
	assert_memory_equal(t->ram + gpa, hdr, HDR);
	assert_memory_equal(t->ram + gpa + HDR, f, len);
	assert_int_equal(t->ram[gpa + HDR + len], PATTERN);   /* nothing past it */
}

static int page_dirty(const struct t *t, uint64_t gpa)
{
	return (int)(t->dirty[gpa / 4096 / 64] >> (gpa / 4096 % 64) & 1);
}

#define NEED_NET() do { if (no_net[0]) { print_message("skip: %s\n", no_net); skip(); } } while (0)

/* ---- configuration and features ---- */

static void test_config(void **state)
{
	uint8_t *ram = ram_new(), mac[6], b;
	uint16_t st = 0;
	struct t t;

	(void)state;
	NEED_NET();
	t_attach(&t, ram, TAP0, MAC_A);
	assert_int_equal(rd(&t, DEVICE_ID), 1);
	wr(&t, DEV_FEAT_SEL, 0);
	assert_int_equal(rd(&t, DEV_FEAT) & 0xffffff, F_NET);   /* no offload, no MRG_RXBUF */
	wr(&t, DEV_FEAT_SEL, 1);
	assert_int_equal(rd(&t, DEV_FEAT), F_V1_HI);
	for (unsigned i = 0; i < 6; i++) {                      /* as the driver reads it */
		assert_int_equal(kvm_bus_access(&t.bus, NULL, BASE + CONFIG + i, &b, 1, 0), 0);
		mac[i] = b;
	}
	assert_memory_equal(mac, MAC_A, 6);
	assert_int_equal(kvm_bus_access(&t.bus, NULL, BASE + CONFIG + 6, (uint8_t *)&st, 2, 0), 0);
	assert_int_equal(st, KVM_VIRTIO_NET_S_LINK_UP);
	assert_int_equal(rd(&t, CONFIG + 8), 0);                /* past the end */
	wr(&t, CONFIG, 0x11223344);                             /* the MAC is not writable */
	assert_int_equal(kvm_bus_access(&t.bus, NULL, BASE + CONFIG, mac, 6, 0), 0);
	assert_memory_equal(mac, MAC_A, 6);
	driver_init(&t, 1);
	t_done(&t);
	munmap(ram, RAM_SIZE);
}

/* Without mac= the device picks a unicast, locally administered MAC. */
static void test_mac_random(void **state)
{
	uint8_t *ram = ram_new(), mac[6];
	struct t t;

	(void)state;
	NEED_NET();
	t_attach(&t, ram, TAP0, NULL);
	assert_int_equal(kvm_bus_access(&t.bus, NULL, BASE + CONFIG, mac, 6, 0), 0);
	assert_int_equal(mac[0] & 1, 0);
	assert_int_equal(mac[0] & 2, 2);
	t_done(&t);
	munmap(ram, RAM_SIZE);
}

/* ---- transmit and receive ---- */

static void test_tx(void **state)
{
	uint8_t *ram = ram_new();
	struct t t;

	(void)state;
	NEED_NET();
	t_attach(&t, ram, TAP0, MAC_A);
	driver_init(&t, 1);
	tx_check(&t, 0, 60, 1, 0);
	/* a header split across buffers, filled with junk the device must
	 * not pass to the tap (it would ask for GSO and checksums) */
	tx_check(&t, 4, 1514, 2, 1);
	for (unsigned i = 0; i < 3; i++)
		tx_check(&t, 8, 100 + i, (uint8_t)(3 + i), 0);
	assert_int_equal(t.irq_off_main, 1);     /* from the device's thread */
	t_done(&t);
	munmap(ram, RAM_SIZE);
}

static void test_rx(void **state)
{
	uint8_t *ram = ram_new(), f[1514], g[80];
	struct t t;
	uint32_t id, l;

	(void)state;
	NEED_NET();
	t_attach(&t, ram, TAP0, MAC_A);
	driver_init(&t, 1);
	memset((void *)t.dirty, 0, sizeof(t.dirty));
	rx_post(&t, 0, BUF, RXBUF, 0);
	rx_post(&t, 2, BUF + 0x1000, RXBUF, 7);          /* the header split */
	wr(&t, QNOTIFY, RX);
	pkt_send(t.pkt, f, frame_make(f, sizeof(f), MAC_B, 9));
	wait_used(&t, RX, 1);
	used_elem(&t, RX, 0, &id, &l);
	assert_int_equal(id, 0);
	assert_int_equal(l, HDR + sizeof(f));
	assert_rx_frame(&t, BUF, f, sizeof(f));
	assert_true(page_dirty(&t, BUF));
	pkt_send(t.pkt, g, frame_make(g, sizeof(g), MAC_B, 10));
	wait_used(&t, RX, 2);
	used_elem(&t, RX, 1, &id, &l);
	assert_int_equal(id, 2);
	assert_int_equal(l, HDR + sizeof(g));
	assert_rx_frame(&t, BUF + 0x1000, g, sizeof(g));
	t_done(&t);
	munmap(ram, RAM_SIZE);
}

/* A frame that comes before any buffer is kept for the next one. */
static void test_rx_waits_for_buffer(void **state)
{
	uint8_t *ram = ram_new(), f[200];
	struct t t;

	(void)state;
	NEED_NET();
	t_attach(&t, ram, TAP0, MAC_A);
	driver_init(&t, 1);
	pkt_send(t.pkt, f, frame_make(f, sizeof(f), MAC_B, 11));
	usleep(100 * 1000);
	assert_int_equal(used_idx(&t, RX), 0);
	rx_post(&t, 0, BUF, RXBUF, 0);
	wr(&t, QNOTIFY, RX);
	wait_used(&t, RX, 1);
	assert_rx_frame(&t, BUF, f, sizeof(f));
	t_done(&t);
	munmap(ram, RAM_SIZE);
}

/* Before DRIVER_OK nothing is taken (3.1.1) and frames are dropped; a
 * frame larger than the buffer at the head is dropped, the buffer kept. */
static void test_rx_drops(void **state)
{
	uint8_t *ram = ram_new(), f[300], g[64];
	struct t t;
	uint32_t id, l;
	uint16_t done;

	(void)state;
	NEED_NET();
	t_attach(&t, ram, TAP0, MAC_A);
	driver_init(&t, 0);
	rx_post(&t, 0, BUF, RXBUF, 0);
	wr(&t, QNOTIFY, RX);
	pkt_send(t.pkt, f, frame_make(f, sizeof(f), MAC_B, 12));
	usleep(100 * 1000);
	assert_int_equal(used_idx(&t, RX), 0);
	assert_int_equal(t.ram[BUF], PATTERN);
	wr(&t, STATUS, rd(&t, STATUS) | KVM_VIRTIO_S_DRIVER_OK);
	pkt_send(t.pkt, g, frame_make(g, sizeof(g), MAC_B, 13));
	wait_used(&t, RX, 1);
	/* the early frame is gone, unless the device read it from the tap
	 * only after DRIVER_OK (nothing here can tell when it read it) */
	used_elem(&t, RX, 0, &id, &l);
	if (l == HDR + sizeof(f)) {
		print_message("note: the early frame was read after DRIVER_OK\n");
		assert_rx_frame(&t, BUF, f, sizeof(f));
		rx_post(&t, 3, BUF + 0x2000, RXBUF, 0);
		wr(&t, QNOTIFY, RX);
		wait_used(&t, RX, 2);
		assert_rx_frame(&t, BUF + 0x2000, g, sizeof(g));
	} else {
		assert_rx_frame(&t, BUF, g, sizeof(g));
	}

	rx_post(&t, 1, BUF + 0x1000, HDR + 100, 0);
	wr(&t, QNOTIFY, RX);
	done = used_idx(&t, RX);
	pkt_send(t.pkt, f, frame_make(f, sizeof(f), MAC_B, 14));   /* 300 > 100 */
	pkt_send(t.pkt, g, frame_make(g, sizeof(g), MAC_B, 15));
	wait_used(&t, RX, done + 1u);
	used_elem(&t, RX, done, &id, &l);
	assert_int_equal(id, 1);
	assert_int_equal(l, HDR + sizeof(g));
	assert_rx_frame(&t, BUF + 0x1000, g, sizeof(g));
	t_done(&t);
	munmap(ram, RAM_SIZE);
}

/* ---- malformed chains ---- */

/* After NEEDS_RESET neither queue is served; a reset brings it back. */
static void assert_stopped_then_reset(struct t *t)
{
	uint8_t f[64], got[64];

	frame_make(f, sizeof(f), MAC_A, 20);
	tx_post(t, 12, f, sizeof(f), 0, 0);
	wr(t, QNOTIFY, TX);
	assert_int_equal(pkt_recv(t->pkt, got, sizeof(got), 100), 0);
	driver_init(t, 1);
	assert_false(rd(t, STATUS) & KVM_VIRTIO_S_NEEDS_RESET);
	tx_check(t, 0, 64, 21, 0);
}

static void test_malformed_tx(void **state)
{
	uint8_t *ram = ram_new(), f[64], got[64];
	struct t t;

	(void)state;
	NEED_NET();
	frame_make(f, sizeof(f), MAC_A, 22);
	t_attach(&t, ram, TAP0, MAC_A);

	driver_init(&t, 1);                 /* a head past the queue */
	avail_add(&t, TX, QSIZE + 3);
	wr(&t, QNOTIFY, TX);
	wait_needs_reset(&t);
	assert_int_equal(used_idx(&t, TX), 0);
	assert_stopped_then_reset(&t);

	driver_init(&t, 1);                 /* a loop: 0 -> 1 -> 0 */
	desc_set(&t, q_desc(TX), 0, BUF, 64, KVM_VIRTQ_DESC_F_NEXT, 1);
	desc_set(&t, q_desc(TX), 1, BUF, 64, KVM_VIRTQ_DESC_F_NEXT, 0);
	avail_add(&t, TX, 0);
	wr(&t, QNOTIFY, TX);
	wait_needs_reset(&t);
	assert_stopped_then_reset(&t);

	driver_init(&t, 1);                 /* a write-only transmit buffer */
	memset(t.ram + BUF, 0, HDR);
	memcpy(t.ram + BUF + HDR, f, sizeof(f));
	chain(&t, TX, 0, (struct seg[]){ { BUF, HDR, R }, { BUF + HDR, sizeof(f), W } }, 2);
	wr(&t, QNOTIFY, TX);
	wait_needs_reset(&t);
	assert_int_equal(pkt_recv(t.pkt, got, sizeof(got), 100), 0);
	assert_stopped_then_reset(&t);

	driver_init(&t, 1);                 /* all of it write-only */
	chain(&t, TX, 0, (struct seg[]){ { BUF, HDR + sizeof(f), W } }, 1);
	wr(&t, QNOTIFY, TX);
	wait_needs_reset(&t);
	assert_stopped_then_reset(&t);

	driver_init(&t, 1);                 /* shorter than the header */
	chain(&t, TX, 0, (struct seg[]){ { BUF, HDR - 1, R } }, 1);
	wr(&t, QNOTIFY, TX);
	wait_needs_reset(&t);
	assert_stopped_then_reset(&t);

	driver_init(&t, 1);                 /* a buffer outside guest RAM */
	chain(&t, TX, 0, (struct seg[]){ { RAM_SIZE - 8, 64, R } }, 1);
	wr(&t, QNOTIFY, TX);
	wait_needs_reset(&t);
	assert_stopped_then_reset(&t);
	t_done(&t);
	munmap(ram, RAM_SIZE);
}

static void rx_malformed(struct t *t, const struct seg *s, unsigned n)
{
	uint8_t f[64];

	driver_init(t, 1);
	chain(t, RX, 0, s, n);
	wr(t, QNOTIFY, RX);
	pkt_send(t->pkt, f, frame_make(f, sizeof(f), MAC_B, 23));
	wait_needs_reset(t);
	assert_int_equal(used_idx(t, RX), 0);
	assert_stopped_then_reset(t);
}

static void test_malformed_rx(void **state)
{
	uint8_t *ram = ram_new();
	struct t t;

	(void)state;
	NEED_NET();
	t_attach(&t, ram, TAP0, MAC_A);
	rx_malformed(&t, (struct seg[]){ { BUF, RXBUF, R } }, 1);                /* readable */
	rx_malformed(&t, (struct seg[]){ { BUF, HDR, R }, { BUF + HDR, RXBUF, W } }, 2);
	rx_malformed(&t, (struct seg[]){ { BUF, HDR, W }, { BUF + HDR, 64, R } }, 2);
	rx_malformed(&t, (struct seg[]){ { BUF, HDR - 2, W } }, 1);              /* too short */
	rx_malformed(&t, (struct seg[]){ { RAM_SIZE + 4096, RXBUF, W } }, 1);    /* not RAM */
	t_done(&t);
	munmap(ram, RAM_SIZE);
}

/* An indirect table is followed like a direct chain. */
static void test_indirect(void **state)
{
	uint8_t *ram = ram_new(), f[100], got[128];
	struct t t;

	(void)state;
	NEED_NET();
	frame_make(f, sizeof(f), MAC_A, 24);
	t_attach(&t, ram, TAP0, MAC_A);
	wr(&t, STATUS, 0);
	wr(&t, STATUS, KVM_VIRTIO_S_ACKNOWLEDGE | KVM_VIRTIO_S_DRIVER);
	wr(&t, DRV_FEAT_SEL, 1);
	wr(&t, DRV_FEAT, F_V1_HI);
	wr(&t, DRV_FEAT_SEL, 0);
	wr(&t, DRV_FEAT, F_NET | (1u << KVM_VIRTIO_F_INDIRECT_DESC));
	wr(&t, STATUS, KVM_VIRTIO_S_ACKNOWLEDGE | KVM_VIRTIO_S_DRIVER | KVM_VIRTIO_S_FEATURES_OK);
	queue_init(&t, RX);
	queue_init(&t, TX);
	wr(&t, STATUS, rd(&t, STATUS) | KVM_VIRTIO_S_DRIVER_OK);
	memset(t.ram + BUF, 0, HDR);
	memcpy(t.ram + BUF + HDR, f, sizeof(f));
	desc_set(&t, ITABLE, 0, BUF, HDR, KVM_VIRTQ_DESC_F_NEXT, 1);
	desc_set(&t, ITABLE, 1, BUF + HDR, sizeof(f), 0, 0);
	desc_set(&t, q_desc(TX), 0, ITABLE, 32, KVM_VIRTQ_DESC_F_INDIRECT, 0);
	avail_add(&t, TX, 0);
	wr(&t, QNOTIFY, TX);
	wait_used(&t, TX, 1);
	assert_int_equal(pkt_recv(t.pkt, got, sizeof(got), WAIT_S * 1000), sizeof(f));
	assert_memory_equal(got, f, sizeof(f));
	t_done(&t);
	munmap(ram, RAM_SIZE);
}

/* With VIRTIO_F_EVENT_IDX (Linux's choice): a receive queue found empty
 * asks the driver to notify at the next buffer (avail_event), and a
 * used_event the device has not reached yet holds the interrupt back. */
static int used_reached(struct t *t, unsigned q, unsigned n)
{
	return used_idx(t, q) >= n;
}

static void test_event_idx(void **state)
{
	uint8_t *ram = ram_new(), f[80];
	uint16_t ev = 5, avail_event;
	struct t t;

	(void)state;
	NEED_NET();
	t_attach(&t, ram, TAP0, MAC_A);
	wr(&t, STATUS, 0);
	wr(&t, STATUS, KVM_VIRTIO_S_ACKNOWLEDGE | KVM_VIRTIO_S_DRIVER);
	wr(&t, DRV_FEAT_SEL, 1);
	wr(&t, DRV_FEAT, F_V1_HI);
	wr(&t, DRV_FEAT_SEL, 0);
	wr(&t, DRV_FEAT, F_NET | (1u << KVM_VIRTIO_F_EVENT_IDX));
	wr(&t, STATUS, KVM_VIRTIO_S_ACKNOWLEDGE | KVM_VIRTIO_S_DRIVER | KVM_VIRTIO_S_FEATURES_OK);
	queue_init(&t, RX);
	queue_init(&t, TX);
	wr(&t, STATUS, rd(&t, STATUS) | KVM_VIRTIO_S_DRIVER_OK);
	rx_post(&t, 0, BUF, RXBUF, 0);
	wr(&t, QNOTIFY, RX);
	pkt_send(t.pkt, f, frame_make(f, sizeof(f), MAC_B, 70));
	wait_used(&t, RX, 1);                    /* used_event 0: interrupt */
	pkt_send(t.pkt, f, frame_make(f, sizeof(f), MAC_B, 71));
	usleep(100 * 1000);                      /* the device finds no buffer */
	memcpy(&avail_event, t.ram + q_used(RX) + 4 + 8 * QSIZE, 2);
	assert_int_equal(avail_event, 1);
	memcpy(t.ram + q_avail(RX) + 4 + 2 * QSIZE, &ev, 2);   /* used_event 5 */
	rx_post(&t, 1, BUF + 0x1000, RXBUF, 0);
	wr(&t, QNOTIFY, RX);
	if (!wait_for(&t, used_reached, RX, 2))
		fail_msg("the held frame did not arrive");
	assert_rx_frame(&t, BUF + 0x1000, f, sizeof(f));
	usleep(50 * 1000);
	assert_int_equal(t.level, 0);            /* held back: used idx 2 < 6 */
	t_done(&t);
	munmap(ram, RAM_SIZE);
}

/* ---- state ---- */

#define SEC_FIXED (40 + 32 * 2 + 4)   /* the transport's part for two queues */

static int load(struct t *t, const uint8_t *buf, size_t n)
{
	const struct kvm_dev_ops *o = t->devs.d[0].ops;
	int r;

	t->why[0] = 0;
	r = o->load(t->devs.d[0].priv, o->version, buf, n, t->why, sizeof(t->why));
	if (!r)   /* as kvm_state_load does once the vCPUs are in */
		o->activate(t->devs.d[0].priv);
	return r;
}

static uint8_t *save_new(struct t *t, size_t *n)
{
	const struct kvm_dev_ops *o = t->devs.d[0].ops;
	uint8_t *b;

	*n = o->state_size(t->devs.d[0].priv);
	assert_non_null(b = malloc(*n));
	assert_int_equal(o->save(t->devs.d[0].priv, b, *n), 0);
	return b;
}

/* Traffic both ways on a, a frame queued for transmit while quiesced,
 * the section onto b (another tap, a random MAC): b has a's MAC, sends
 * the queued frame without a notify, and goes on from a's indices. */
static void test_save_load(void **state)
{
	uint8_t *ram = ram_new(), *blob, *again, f[90], got[128], mac[6];
	struct t a, b;
	size_t n, m;

	(void)state;
	NEED_NET();
	t_attach(&a, ram, TAP0, MAC_A);
	driver_init(&a, 1);
	tx_check(&a, 0, 70, 30, 0);
	rx_post(&a, 0, BUF, RXBUF, 0);
	rx_post(&a, 1, BUF + 0x1000, RXBUF, 0);
	wr(&a, QNOTIFY, RX);
	pkt_send(a.pkt, f, frame_make(f, sizeof(f), MAC_B, 31));
	wait_used(&a, RX, 1);
	assert_int_equal(kvm_virtio_devs_quiesce(&a.devs, 1), 0);
	frame_make(f, sizeof(f), MAC_A, 32);
	tx_post(&a, 4, f, sizeof(f), 0, 0);
	wr(&a, QNOTIFY, TX);                 /* notified, not taken: quiesced */
	blob = save_new(&a, &n);
	assert_int_equal(n, SEC_FIXED + KVM_VIRTIO_NET_STATE_SIZE);
	assert_int_equal(used_idx(&a, TX), 1);
	t_done(&a);

	t_attach(&b, ram, TAP1, NULL);
	b.avail_idx[RX] = 2;
	b.avail_idx[TX] = 2;
	assert_int_equal(load(&b, blob, n), 0);
	assert_int_equal(kvm_bus_access(&b.bus, NULL, BASE + CONFIG, mac, 6, 0), 0);
	assert_memory_equal(mac, MAC_A, 6);
	wait_used(&b, TX, 2);                /* sent after the load, without a notify */
	assert_int_equal(pkt_recv(b.pkt, got, sizeof(got), WAIT_S * 1000), sizeof(f));
	assert_memory_equal(got, f, sizeof(f));
	pkt_send(b.pkt, f, frame_make(f, sizeof(f), MAC_B, 33));   /* into a's buffer 1 */
	wait_used(&b, RX, 2);
	assert_rx_frame(&b, BUF + 0x1000, f, sizeof(f));
	tx_check(&b, 8, 64, 34, 0);
	assert_int_equal(kvm_virtio_devs_quiesce(&b.devs, 1), 0);
	again = save_new(&b, &m);
	assert_int_equal(m, n);
	assert_memory_equal(again + SEC_FIXED, blob + SEC_FIXED, KVM_VIRTIO_NET_STATE_SIZE);
	free(again);
	t_done(&b);
	free(blob);
	munmap(ram, RAM_SIZE);
}

/* ---- requests held in flight: a buffer on a page userfaultfd holds ---- */

static int uffd_hold(uint8_t *page)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = {
		.range = { (uintptr_t)page, 4096 }, .mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -1;
	assert_int_equal(ioctl(fd, UFFDIO_API, &api), 0);
	assert_int_equal(madvise(page, 4096, MADV_DONTNEED), 0);
	assert_int_equal(ioctl(fd, UFFDIO_REGISTER, &reg), 0);
	return fd;
}

/* The device's thread has faulted on the page. */
static void uffd_wait(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct uffd_msg m;

	assert_int_equal(poll(&p, 1, WAIT_S * 1000), 1);
	assert_int_equal(read(fd, &m, sizeof(m)), sizeof(m));
	assert_int_equal(m.event, UFFD_EVENT_PAGEFAULT);
}

/* The page arrives holding f at its start. */
static void uffd_release(int fd, uint8_t *page, const uint8_t *f, size_t len)
{
	static uint8_t src[4096] __attribute__((aligned(4096)));
	struct uffdio_copy c = { (uintptr_t)page, (uintptr_t)src, 4096, 0, 0 };

	memset(src, 0, sizeof(src));
	memcpy(src, f, len);
	assert_int_equal(ioctl(fd, UFFDIO_COPY, &c), 0);
	close(fd);
}

static void *quiesce_main(void *arg)
{
	return (void *)(intptr_t)kvm_virtio_devs_quiesce(arg, 1);
}

static void join_in_time(pthread_t th, void **ret)
{
	struct timespec end;

	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += WAIT_S;
	if (pthread_timedjoin_np(th, ret, &end))
		fail_msg("the thread did not finish in %ds: deadlock?", WAIT_S);
}

/* A transmit frame whose body is on the held page: header at BUF. */
static int tx_held(struct t *t, uint8_t *f, size_t len, uint8_t seed)
{
	int fd = uffd_hold(t->ram + FAULTPG);

	if (fd < 0)
		return -1;
	frame_make(f, len, MAC_A, seed);
	memset(t->ram + BUF, 0, HDR);
	chain(t, TX, 0, (struct seg[]){ { BUF, HDR, R }, { FAULTPG, (uint32_t)len, R } }, 2);
	wr(t, QNOTIFY, TX);
	uffd_wait(fd);
	return fd;
}

/* quiesce waits for the frame in hand, which is then sent and returned;
 * while quiesced nothing is taken, and the section saves. */
static void test_quiesce(void **state)
{
	uint8_t *ram = ram_new(), f[64], got[64], *blob;
	struct t t;
	pthread_t th;
	void *ret;
	size_t n;
	int fd;

	(void)state;
	NEED_NET();
	t_attach(&t, ram, TAP0, MAC_A);
	driver_init(&t, 1);
	if ((fd = tx_held(&t, f, sizeof(f), 50)) < 0)
		skip();
	assert_int_equal(pthread_create(&th, NULL, quiesce_main, &t.devs), 0);
	usleep(50 * 1000);
	assert_int_equal(pthread_tryjoin_np(th, &ret), EBUSY);   /* waiting for it */
	uffd_release(fd, ram + FAULTPG, f, sizeof(f));
	join_in_time(th, &ret);
	assert_int_equal((intptr_t)ret, 0);
	assert_int_equal(used_idx(&t, TX), 1);                  /* drained */
	assert_int_equal(pkt_recv(t.pkt, got, sizeof(got), WAIT_S * 1000), sizeof(f));
	assert_memory_equal(got, f, sizeof(f));
	frame_make(f, sizeof(f), MAC_A, 51);
	tx_post(&t, 4, f, sizeof(f), 0, 0);
	wr(&t, QNOTIFY, TX);
	usleep(50 * 1000);
	assert_int_equal(used_idx(&t, TX), 1);                  /* not taken */
	blob = save_new(&t, &n);
	free(blob);
	assert_int_equal(kvm_virtio_devs_quiesce(&t.devs, 0), 0);
	wait_used(&t, TX, 2);
	assert_int_equal(pkt_recv(t.pkt, got, sizeof(got), WAIT_S * 1000), sizeof(f));
	assert_memory_equal(got, f, sizeof(f));
	t_done(&t);
	munmap(ram, RAM_SIZE);
}

/* Reset while the thread is inside a request: no deadlock, the request
 * is never returned, and the device serves the driver that comes next. */
static void test_reset_in_flight(void **state)
{
	uint8_t *ram = ram_new(), f[64], got[64];
	struct t t;
	int fd;

	(void)state;
	NEED_NET();
	t_attach(&t, ram, TAP0, MAC_A);
	driver_init(&t, 1);
	if ((fd = tx_held(&t, f, sizeof(f), 52)) < 0)
		skip();
	wr(&t, STATUS, 0);                       /* returns: the copy holds no lock */
	assert_int_equal(rd(&t, STATUS), 0);
	driver_init(&t, 1);                      /* a new driver, the same rings */
	uffd_release(fd, ram + FAULTPG, f, sizeof(f));
	assert_int_equal(kvm_virtio_quiesce(t.d, 1), 0);   /* the thread is done with it */
	assert_int_equal(used_idx(&t, TX), 0);   /* not returned to the new driver */
	assert_false(rd(&t, STATUS) & KVM_VIRTIO_S_NEEDS_RESET);
	assert_int_equal(t.level, 0);
	/* the frame was read before the reset: it leaves, its buffers stay */
	assert_int_equal(pkt_recv(t.pkt, got, sizeof(got), WAIT_S * 1000), sizeof(f));
	assert_int_equal(kvm_virtio_quiesce(t.d, 0), 0);
	tx_check(&t, 0, 60, 53, 0);
	t_done(&t);
	munmap(ram, RAM_SIZE);
}

/* The load refuses, with a reason, and changes nothing. */
static void refused(struct t *t, const uint8_t *buf, size_t n, const char *why)
{
	size_t m;
	uint8_t *before = save_new(t, &m), *after;

	assert_int_equal(load(t, buf, n), -EINVAL);
	if (!strstr(t->why, why))
		fail_msg("refused with \"%s\", not \"%s\"", t->why, why);
	after = save_new(t, &m);
	assert_memory_equal(before, after, m);
	free(before);
	free(after);
}

static void test_load_refusals(void **state)
{
	uint8_t *ram = ram_new(), *blob, *bad;
	struct t a, b;
	size_t n;

	(void)state;
	NEED_NET();
	t_attach(&a, ram, TAP0, MAC_A);
	driver_init(&a, 1);
	blob = save_new(&a, &n);
	t_done(&a);
	assert_non_null(bad = malloc(n));

	t_attach(&b, ram, TAP0, MAC_B);               /* mac= given here, another */
	refused(&b, blob, n, "differs from this end's mac=");
	t_done(&b);
	t_attach(&b, ram, TAP0, NULL);
	refused(&b, blob, n - 1, "length");
	memcpy(bad, blob, n);
	bad[SEC_FIXED] |= 1;                          /* a multicast MAC */
	refused(&b, bad, n, "unicast");
	memcpy(bad, blob, n);
	bad[SEC_FIXED + 6] = 2;                       /* link status: unknown bit */
	refused(&b, bad, n, "flags");
	memcpy(bad, blob, n);
	bad[SEC_FIXED + 8 + 2] |= 0x80;               /* a feature never offered (23) */
	refused(&b, bad, n, "features");
	memcpy(bad, blob, n);
	bad[SEC_FIXED + 16] = 2;                      /* live neither 0 nor 1 */
	refused(&b, bad, n, "flags");
	assert_int_equal(load(&b, blob, n), 0);       /* the real one still loads */
	t_done(&b);
	t_attach(&b, ram, TAP0, MAC_A);               /* the same mac= loads */
	assert_int_equal(load(&b, blob, n), 0);
	t_done(&b);
	free(bad);
	free(blob);
	munmap(ram, RAM_SIZE);
}

/* The tap deleted under a running device: its thread does not spin on
 * the dead descriptor, frames sent are dropped and their buffers
 * returned, and the VMM goes on. */
static void test_tap_deleted(void **state)
{
	uint8_t *ram = ram_new(), f[64];
	struct timespec a, b;
	struct t t;
	long spent_ms;

	(void)state;
	NEED_NET();
	t_attach(&t, ram, TAP0, MAC_A);
	driver_init(&t, 1);
	close(t.pkt);
	t.pkt = -1;
	if (system("ip link del " TAP0 " 2>/dev/null")) {
		t_done(&t);
		munmap(ram, RAM_SIZE);
		print_message("skip: 'ip link del' failed (no iproute2?)\n");
		skip();
	}
	usleep(50 * 1000);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
	usleep(300 * 1000);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
	spent_ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	if (spent_ms > 50)
		fail_msg("%ld ms of CPU in 300 ms with the tap gone: the device spins", spent_ms);
	frame_make(f, sizeof(f), MAC_A, 60);
	tx_post(&t, 0, f, sizeof(f), 0, 0);
	wr(&t, QNOTIFY, TX);
	wait_used(&t, TX, 1);
	assert_false(rd(&t, STATUS) & KVM_VIRTIO_S_NEEDS_RESET);
	t_done(&t);
	munmap(ram, RAM_SIZE);
}

/* ---- opening the tap ---- */

/* Drop CAP_NET_ADMIN (and everything else) in a child and try to create
 * a tap there: the status 0 when refused with EPERM naming it. */
static int open_without_caps(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2] = { { 0 } };
	char why[200] = "";
	int fd;

	if (syscall(SYS_capset, &h, d))
		return 2;
	fd = kvm_tap_open("pcmnocap", HDR, why, sizeof(why));
	if (fd != -EPERM || !strstr(why, "tap pcmnocap") || !strstr(why, "not permitted"))
		return 1;
	return 0;
}

static void test_open_errors(void **state)
{
	uint8_t *ram = ram_new();
	struct ifreq ifr = { 0 };
	struct t t, u;
	int fd, st;
	pid_t pid;

	(void)state;
	NEED_NET();
	assert_int_equal(t_attach_rc(&t, ram, "a-name-much-too-long", MAC_A), -EINVAL);
	assert_non_null(strstr(t.why, "a name of 1 to 15 characters"));
	assert_int_equal(t.devs.n, 0);
	assert_int_equal(t_attach_rc(&t, ram, "lo", MAC_A), -EINVAL);
	assert_non_null(strstr(t.why, "tap lo: an interface of that name exists and is not a tap"));
	assert_int_equal(t_attach_rc(&t, ram, TAP0, (const uint8_t *)"\x01\x02\x03\x04\x05\x06"),
			 -EINVAL);
	assert_non_null(strstr(t.why, "unicast"));
	assert_int_equal(t_attach_rc(&t, ram, TAP0, (const uint8_t *)"\0\0\0\0\0\0"), -EINVAL);

	t_attach(&t, ram, TAP0, MAC_A);                /* held by one device */
	assert_int_equal(t_attach_rc(&u, ram, TAP0, MAC_B), -EBUSY);
	assert_non_null(strstr(u.why, "tap " TAP0 ": another process has it open"));
	t_done(&t);

	/* an existing, persistent tap is attached to, and stays */
	assert_true((fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) >= 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "pcmpers");
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	assert_int_equal(ioctl(fd, TUNSETIFF, &ifr), 0);
	assert_int_equal(ioctl(fd, TUNSETPERSIST, 1), 0);
	close(fd);
	t_attach(&t, ram, "pcmpers", MAC_A);
	driver_init(&t, 1);
	tx_check(&t, 0, 60, 40, 0);
	t_done(&t);
	assert_true(if_nametoindex("pcmpers") > 0);
	assert_true((fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) >= 0);
	assert_int_equal(ioctl(fd, TUNSETIFF, &ifr), 0);
	assert_int_equal(ioctl(fd, TUNSETPERSIST, 0), 0);
	close(fd);
	assert_int_equal(if_nametoindex("pcmpers"), 0);

	/* one this process may not create: refused, naming it */
	assert_true((pid = fork()) >= 0);
	if (!pid)
		_exit(open_without_caps());
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	munmap(ram, RAM_SIZE);
}

/* A namespace of our own, IPv6 off in it, and /dev/net/tun usable; else
 * no_net says why not. */
static void net_setup(void)
{
	static const char *v6[] = { "/proc/sys/net/ipv6/conf/all/disable_ipv6",
				    "/proc/sys/net/ipv6/conf/default/disable_ipv6" };
	char why[120] = "";
	int fd;

	if (unshare(CLONE_NEWNET)) {
		snprintf(no_net, sizeof(no_net), "no network namespace: unshare: %s",
			 strerror(errno));
		return;
	}
	for (unsigned i = 0; i < 2; i++)
		if ((fd = open(v6[i], O_WRONLY)) >= 0) {
			(void)!write(fd, "1", 1);
			close(fd);
		}
	if ((fd = kvm_tap_open("pcmprobe", HDR, why, sizeof(why))) < 0) {
		snprintf(no_net, sizeof(no_net), "no tap device here: %s", why);
		return;
	}
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_mac_random),
		cmocka_unit_test(test_tx),
		cmocka_unit_test(test_rx),
		cmocka_unit_test(test_rx_waits_for_buffer),
		cmocka_unit_test(test_rx_drops),
		cmocka_unit_test(test_malformed_tx),
		cmocka_unit_test(test_malformed_rx),
		cmocka_unit_test(test_indirect),
		cmocka_unit_test(test_event_idx),
		cmocka_unit_test(test_quiesce),
		cmocka_unit_test(test_reset_in_flight),
		cmocka_unit_test(test_save_load),
		cmocka_unit_test(test_load_refusals),
		cmocka_unit_test(test_tap_deleted),
		cmocka_unit_test(test_open_errors),
	};

	net_setup();
	if (no_net[0])
		fprintf(stderr, "test_virtio_net: skipping: %s\n", no_net);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
