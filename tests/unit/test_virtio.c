/* tests/unit/test_virtio.c - the virtio-mmio transport, split virtqueues
 * and virtio-rng (kvm/dev/virtio.h), driven as Linux's virtio_mmio and
 * virtio_rng drivers drive them: through the MMIO bus handler, over a
 * malloc'ed fake guest RAM, with the interrupt line observed through the
 * transport's irq callback. Also the gpa helper over a layout with the
 * 3-4 GiB hole, and the state section's save, load and refusals.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <stdlib.h>
#include <sys/mman.h>

#include "guest/pc/pc.h"
#include "kvm/bus.h"
#include "kvm/dev/dev.h"
#include "kvm/dev/virtio.h"
#define FUZZ_NO_MAIN
#include "tests/fuzz/fuzz_virtq.c"

#define RAM_SIZE (1u << 20)
#define BASE     0xd0000000ull
#define GSI      16
#define QSIZE    8
#define DESC     0x1000u
#define AVAIL    0x2000u
#define USED     0x3000u
#define ITABLE   0x4000u
#define BUF      0x10000u
#define PATTERN  0xaa

/* Register offsets (virtio 1.2, 4.2.2). */
enum {
	MAGIC = 0x000, VERSION = 0x004, DEVICE_ID = 0x008, VENDOR_ID = 0x00c,
	DEV_FEAT = 0x010, DEV_FEAT_SEL = 0x014, DRV_FEAT = 0x020, DRV_FEAT_SEL = 0x024,
	QSEL = 0x030, QNUM_MAX = 0x034, QNUM = 0x038, QREADY = 0x044, QNOTIFY = 0x050,
	ISR = 0x060, ACK = 0x064, STATUS = 0x070,
	QDESC_LO = 0x080, QDESC_HI = 0x084, QDRV_LO = 0x090, QDRV_HI = 0x094,
	QDEV_LO = 0x0a0, QDEV_HI = 0x0a4, SHM_LEN_LO = 0x0b0, CONFIG_GEN = 0x0fc,
};

#define F_INDIRECT (1u << 28)
#define F_EVENT    (1u << 29)
#define F_V1_HI    1u            /* VERSION_1 is bit 32: bit 0 of the high word */

struct t {
	uint8_t *ram;
	struct kvm_bus bus;
	struct kvm_devs devs;
	struct kvm_virtio *d;
	int level;
	unsigned irq_calls;
	uint16_t avail_idx;          /* the driver's next avail index */
	_Atomic uint64_t dirty[RAM_SIZE / 4096 / 64];   /* pages the device wrote */
};

static int page_dirty(const struct t *t, uint64_t gpa)
{
	return (int)(t->dirty[gpa / 4096 / 64] >> (gpa / 4096 % 64) & 1);
}

static void t_irq(void *ctx, unsigned gsi, int level)
{
	struct t *t = ctx;

	assert_int_equal(gsi, GSI);
	t->level = level;
	t->irq_calls++;
}

static void t_attach(struct t *t, uint8_t *ram)
{
	struct kvm_virtio_mmio_config c = {
		.mem = { ram, RAM_SIZE, t->dirty }, .base = BASE, .gsi = GSI, .irq = t_irq,
		.irq_ctx = t,
	};

	memset(t, 0, sizeof(*t));
	t->ram = ram;
	assert_int_equal(kvm_virtio_mmio_attach(&t->bus, &t->devs, &c, &kvm_virtio_rng, NULL, &t->d), 0);
	assert_int_equal(t->devs.n, 1);
	assert_int_equal(t->devs.d[0].ops->kind, KVM_DEV_VIRTIO_RNG);
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

static void setup_ring_regs(struct t *t, uint64_t desc, uint64_t avail, uint64_t used)
{
	wr(t, QDESC_LO, (uint32_t)desc);
	wr(t, QDESC_HI, (uint32_t)(desc >> 32));
	wr(t, QDRV_LO, (uint32_t)avail);
	wr(t, QDRV_HI, (uint32_t)(avail >> 32));
	wr(t, QDEV_LO, (uint32_t)used);
	wr(t, QDEV_HI, (uint32_t)(used >> 32));
}

/* Linux's virtio_mmio probe + virtio core: reset, ACKNOWLEDGE, DRIVER,
 * features, FEATURES_OK read back, queue 0 set up, DRIVER_OK. */
static void driver_init(struct t *t, uint32_t feat_lo)
{
	wr(t, STATUS, 0);
	wr(t, STATUS, KVM_VIRTIO_S_ACKNOWLEDGE);
	wr(t, STATUS, KVM_VIRTIO_S_ACKNOWLEDGE | KVM_VIRTIO_S_DRIVER);
	wr(t, DEV_FEAT_SEL, 1);
	assert_true(rd(t, DEV_FEAT) & F_V1_HI);
	wr(t, DEV_FEAT_SEL, 0);
	assert_int_equal(rd(t, DEV_FEAT) & feat_lo, feat_lo);
	wr(t, DRV_FEAT_SEL, 1);
	wr(t, DRV_FEAT, F_V1_HI);
	wr(t, DRV_FEAT_SEL, 0);
	wr(t, DRV_FEAT, feat_lo);
	wr(t, STATUS, KVM_VIRTIO_S_ACKNOWLEDGE | KVM_VIRTIO_S_DRIVER | KVM_VIRTIO_S_FEATURES_OK);
	assert_true(rd(t, STATUS) & KVM_VIRTIO_S_FEATURES_OK);
	memset(t->ram + DESC, 0, 0x3000);
	wr(t, QSEL, 0);
	assert_int_equal(rd(t, QREADY), 0);
	assert_int_equal(rd(t, QNUM_MAX), KVM_VIRTIO_RNG_QUEUE_MAX);
	wr(t, QNUM, QSIZE);
	setup_ring_regs(t, DESC, AVAIL, USED);
	wr(t, QREADY, 1);
	assert_int_equal(rd(t, QREADY), 1);
	wr(t, STATUS, rd(t, STATUS) | KVM_VIRTIO_S_DRIVER_OK);
	t->avail_idx = 0;
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

static void avail_add(struct t *t, uint16_t head)
{
	memcpy(t->ram + AVAIL + 4 + 2 * (t->avail_idx % QSIZE), &head, 2);
	t->avail_idx++;
	memcpy(t->ram + AVAIL + 2, &t->avail_idx, 2);
}

static uint16_t used_idx(struct t *t)
{
	uint16_t v;

	memcpy(&v, t->ram + USED + 2, 2);
	return v;
}

static void used_elem(struct t *t, unsigned slot, uint32_t *id, uint32_t *len)
{
	memcpy(id, t->ram + USED + 4 + 8 * (slot % QSIZE), 4);
	memcpy(len, t->ram + USED + 8 + 8 * (slot % QSIZE), 4);
}

/* Random bytes replaced the pattern: few bytes still equal it. */
static void assert_filled(struct t *t, uint64_t gpa, uint32_t len)
{
	unsigned same = 0;

	for (uint32_t i = 0; i < len; i++)
		same += t->ram[gpa + i] == PATTERN;
	assert_true(same <= len / 4);
}

static void assert_untouched(struct t *t, uint64_t gpa, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		assert_int_equal(t->ram[gpa + i], PATTERN);
}

static uint8_t *ram_new(void)
{
	uint8_t *r = malloc(RAM_SIZE);

	assert_non_null(r);
	memset(r, PATTERN, RAM_SIZE);
	return r;
}

static void t_done(struct t *t)
{
	kvm_devs_destroy(&t->devs);
	assert_int_equal(t->devs.n, 0);
}

/* ---- the guest-memory view ---- */

static void test_gpa(void **state)
{
	uint64_t big = 5ull << 30;   /* 3 GiB low, 2 GiB at 4 GiB */
	uint8_t *v = mmap(NULL, big, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	struct kvm_guest_mem m = { v, big, NULL }, s = { v, RAM_SIZE, NULL };

	(void)state;
	assert_true(v != MAP_FAILED);
	assert_ptr_equal(kvm_gpa(&m, 0, 4096), v);
	assert_ptr_equal(kvm_gpa(&m, PC_LOW_END - 8, 8), v + PC_LOW_END - 8);
	assert_null(kvm_gpa(&m, PC_LOW_END - 8, 16));              /* into the hole */
	assert_null(kvm_gpa(&m, PC_LOW_END, 1));                   /* in the hole */
	assert_null(kvm_gpa(&m, PC_HIGH_START - 8, 16));           /* out of it */
	assert_ptr_equal(kvm_gpa(&m, PC_HIGH_START, 16), v + PC_LOW_END);
	assert_ptr_equal(kvm_gpa(&m, PC_HIGH_START + (2ull << 30) - 8, 8), v + big - 8);
	assert_null(kvm_gpa(&m, PC_HIGH_START + (2ull << 30) - 8, 9));   /* past the end */
	assert_null(kvm_gpa(&m, PC_HIGH_START + (2ull << 30), 1));
	assert_null(kvm_gpa(&m, UINT64_MAX - 4, 16));              /* wraps */
	assert_null(kvm_gpa(&m, 16, UINT64_MAX));
	assert_ptr_equal(kvm_gpa(&s, RAM_SIZE - 1, 1), v + RAM_SIZE - 1);
	assert_ptr_equal(kvm_gpa(&s, RAM_SIZE, 0), v + RAM_SIZE);
	assert_null(kvm_gpa(&s, RAM_SIZE, 1));
	assert_null(kvm_gpa(&s, PC_HIGH_START, 1));                /* no high RAM */
	munmap(v, big);
}

/* ---- the virtqueue alone: what kvm_virtq_pop says of each chain ---- */

static void test_virtq_pop(void **state)
{
	uint8_t *ram = ram_new();
	struct kvm_guest_mem m = { ram, RAM_SIZE, NULL };
	struct kvm_virtq q = { .size = QSIZE, .ready = 1, .desc = DESC, .avail = AVAIL, .used = USED };
	const uint16_t W = KVM_VIRTQ_DESC_F_WRITE, N = KVM_VIRTQ_DESC_F_NEXT;
	struct kvm_virtq_req *r = malloc(sizeof(*r));
	struct t t = { .ram = ram };

	(void)state;
	assert_non_null(r);
	memset(ram + DESC, 0, 0x3000);
	assert_int_equal(kvm_virtq_check(&q, &m), 0);
	assert_int_equal(kvm_virtq_pop(&q, &m, r), 0);          /* empty */
	/* Readable then writable: fine, in that order. */
	desc_set(&t, DESC, 0, BUF, 10, N, 1);
	desc_set(&t, DESC, 1, BUF + 0x100, 20, W, 0);
	avail_add(&t, 0);
	assert_int_equal(kvm_virtq_pop(&q, &m, r), 1);
	assert_int_equal(r->head, 0);
	assert_int_equal(r->nread, 1);
	assert_int_equal(r->nwrite, 1);
	assert_int_equal(r->read_len, 10);
	assert_int_equal(r->write_len, 20);
	assert_ptr_equal(r->iov[0].iov_base, ram + BUF);
	assert_ptr_equal(r->iov[1].iov_base, ram + BUF + 0x100);
	assert_int_equal(q.last_avail, 1);
	assert_int_equal(kvm_virtq_push(&q, &m, r->head, 20), 0);
	assert_int_equal(used_idx(&t), 1);
	/* Each malformed chain: its own error, the queue unchanged. */
	desc_set(&t, DESC, 0, BUF, 10, W | N, 1);
	desc_set(&t, DESC, 1, BUF + 0x100, 20, 0, 0);
	avail_add(&t, 0);
	assert_int_equal(kvm_virtq_pop(&q, &m, r), -EINVAL);     /* readable after writable */
	desc_set(&t, DESC, 1, BUF, 16, W | N, 0);
	assert_int_equal(kvm_virtq_pop(&q, &m, r), -ELOOP);
	desc_set(&t, DESC, 0, RAM_SIZE - 4, 8, W, 0);
	assert_int_equal(kvm_virtq_pop(&q, &m, r), -EFAULT);
	desc_set(&t, DESC, 0, ITABLE, 16, KVM_VIRTQ_DESC_F_INDIRECT, 0);
	assert_int_equal(kvm_virtq_pop(&q, &m, r), -EINVAL);     /* indirect not negotiated */
	assert_int_equal(q.last_avail, 1);
	assert_int_equal(q.used_idx, 1);
	/* A long indirect table that links back to itself: a loop, not a
	 * walk of KVM_VIRTQ_MAX_SEGS buffers. */
	q.indirect = 1;
	for (unsigned i = 0; i < 4; i++)
		desc_set(&t, ITABLE, i, BUF, 1, W | N, (uint16_t)((i + 1) % 4));
	desc_set(&t, DESC, 0, ITABLE, 4 * 16, KVM_VIRTQ_DESC_F_INDIRECT, 0);
	assert_int_equal(kvm_virtq_pop(&q, &m, r), -ELOOP);
	/* Rings that do not fit. */
	q.used = RAM_SIZE - 8;
	assert_int_equal(kvm_virtq_check(&q, &m), -EINVAL);
	assert_int_equal(kvm_virtq_pop(&q, &m, r), -EINVAL);
	free(r);
	free(ram);
}

/* ---- identification and negotiation ---- */

static void test_ids(void **state)
{
	uint8_t *ram = ram_new(), b[8];
	struct t t;

	(void)state;
	t_attach(&t, ram);
	assert_int_equal(rd(&t, MAGIC), 0x74726976);
	assert_int_equal(rd(&t, VERSION), 2);
	assert_int_equal(rd(&t, DEVICE_ID), 4);
	assert_int_equal(rd(&t, VENDOR_ID), KVM_VIRTIO_VENDOR_ID);
	wr(&t, DEV_FEAT_SEL, 0);
	assert_int_equal(rd(&t, DEV_FEAT), F_INDIRECT | F_EVENT);
	wr(&t, DEV_FEAT_SEL, 1);
	assert_int_equal(rd(&t, DEV_FEAT), F_V1_HI);
	wr(&t, DEV_FEAT_SEL, 2);
	assert_int_equal(rd(&t, DEV_FEAT), 0);
	assert_int_equal(rd(&t, QNUM_MAX), KVM_VIRTIO_RNG_QUEUE_MAX);
	wr(&t, QSEL, 1);                            /* rng has one queue */
	assert_int_equal(rd(&t, QNUM_MAX), 0);
	assert_int_equal(rd(&t, SHM_LEN_LO), 0xffffffffu);
	assert_int_equal(rd(&t, CONFIG_GEN), 0);
	assert_int_equal(rd(&t, 0x100), 0);         /* no configuration space */
	memset(b, 0xff, sizeof(b));                 /* narrow register read: 0 */
	assert_int_equal(kvm_bus_access(&t.bus, NULL, BASE + MAGIC, b, 1, 0), 0);
	assert_int_equal(b[0], 0);
	assert_int_equal(kvm_bus_access(&t.bus, NULL, BASE + MAGIC + 2, b, 4, 0), 0);
	assert_int_equal(b[0] | b[1] | b[2] | b[3], 0);
	t_done(&t);
	free(ram);
}

static void test_features(void **state)
{
	uint8_t *ram = ram_new();
	struct t t;

	(void)state;
	t_attach(&t, ram);
	memset(ram + DESC, 0, 0x3000);
	/* A legacy driver: VERSION_1 not accepted, FEATURES_OK refused, and
	 * a queue cannot be made ready. */
	wr(&t, STATUS, KVM_VIRTIO_S_ACKNOWLEDGE | KVM_VIRTIO_S_DRIVER);
	wr(&t, DRV_FEAT_SEL, 0);
	wr(&t, DRV_FEAT, F_INDIRECT);
	wr(&t, STATUS, KVM_VIRTIO_S_ACKNOWLEDGE | KVM_VIRTIO_S_DRIVER | KVM_VIRTIO_S_FEATURES_OK);
	assert_int_equal(rd(&t, STATUS), KVM_VIRTIO_S_ACKNOWLEDGE | KVM_VIRTIO_S_DRIVER);
	wr(&t, QNUM, QSIZE);
	setup_ring_regs(&t, DESC, AVAIL, USED);
	wr(&t, QREADY, 1);
	assert_int_equal(rd(&t, QREADY), 0);
	/* A feature never offered (bit 0) is refused as well. */
	wr(&t, DRV_FEAT_SEL, 1);
	wr(&t, DRV_FEAT, F_V1_HI);
	wr(&t, DRV_FEAT_SEL, 0);
	wr(&t, DRV_FEAT, 1);
	wr(&t, STATUS, KVM_VIRTIO_S_ACKNOWLEDGE | KVM_VIRTIO_S_DRIVER | KVM_VIRTIO_S_FEATURES_OK);
	assert_false(rd(&t, STATUS) & KVM_VIRTIO_S_FEATURES_OK);
	/* VERSION_1 alone: accepted, and features are then fixed. */
	wr(&t, DRV_FEAT, 0);
	wr(&t, STATUS, KVM_VIRTIO_S_ACKNOWLEDGE | KVM_VIRTIO_S_DRIVER | KVM_VIRTIO_S_FEATURES_OK);
	assert_true(rd(&t, STATUS) & KVM_VIRTIO_S_FEATURES_OK);
	wr(&t, DRV_FEAT, F_INDIRECT);
	wr(&t, QREADY, 1);
	assert_int_equal(rd(&t, QREADY), 1);
	/* Indirect was not accepted: an indirect descriptor is malformed. */
	wr(&t, STATUS, rd(&t, STATUS) | KVM_VIRTIO_S_DRIVER_OK);
	desc_set(&t, ITABLE, 0, BUF, 16, KVM_VIRTQ_DESC_F_WRITE, 0);
	desc_set(&t, DESC, 0, ITABLE, 16, KVM_VIRTQ_DESC_F_INDIRECT, 0);
	avail_add(&t, 0);
	wr(&t, QNOTIFY, 0);
	assert_true(rd(&t, STATUS) & KVM_VIRTIO_S_NEEDS_RESET);
	assert_int_equal(used_idx(&t), 0);
	t_done(&t);
	free(ram);
}

/* ---- requests ---- */

static void test_one_buffer(void **state)
{
	uint8_t *ram = ram_new();
	uint32_t id, len;
	struct t t;

	(void)state;
	t_attach(&t, ram);
	driver_init(&t, 0);
	assert_int_equal(t.irq_calls, 0);
	wr(&t, QNUM, 2);                            /* ready: its registers are fixed */
	wr(&t, QDESC_LO, 0x5000);
	assert_int_equal(rd(&t, QNUM), QSIZE);
	assert_int_equal(rd(&t, QDESC_LO), DESC);
	desc_set(&t, DESC, 3, BUF, 64, KVM_VIRTQ_DESC_F_WRITE, 0);
	avail_add(&t, 3);
	wr(&t, QNOTIFY, 0);
	assert_int_equal(used_idx(&t), 1);
	used_elem(&t, 0, &id, &len);
	assert_int_equal(id, 3);
	assert_int_equal(len, 64);
	assert_filled(&t, BUF, 64);
	assert_untouched(&t, BUF + 64, 64);
	/* what the device wrote is marked for pre-copy (KVM's log misses
	 * it), and nothing else: not the rings it only read */
	assert_true(page_dirty(&t, BUF));
	assert_true(page_dirty(&t, USED));
	assert_false(page_dirty(&t, DESC));
	assert_false(page_dirty(&t, AVAIL));
	assert_false(page_dirty(&t, BUF + 4096));
	assert_int_equal(rd(&t, ISR), KVM_VIRTIO_INT_VRING);
	assert_int_equal(t.level, 1);
	assert_int_equal(t.irq_calls, 1);
	wr(&t, ACK, KVM_VIRTIO_INT_VRING);
	assert_int_equal(rd(&t, ISR), 0);
	assert_int_equal(t.level, 0);
	assert_int_equal(t.irq_calls, 2);
	wr(&t, QNOTIFY, 0);                         /* nothing new: no interrupt */
	assert_int_equal(used_idx(&t), 1);
	assert_int_equal(t.irq_calls, 2);
	t_done(&t);
	free(ram);
}

static void test_chain(void **state)
{
	uint8_t *ram = ram_new();
	uint32_t id, len;
	struct t t;

	(void)state;
	t_attach(&t, ram);
	driver_init(&t, 0);
	desc_set(&t, DESC, 0, BUF, 16, KVM_VIRTQ_DESC_F_WRITE | KVM_VIRTQ_DESC_F_NEXT, 5);
	desc_set(&t, DESC, 5, BUF + 0x100, 32, KVM_VIRTQ_DESC_F_WRITE | KVM_VIRTQ_DESC_F_NEXT, 2);
	desc_set(&t, DESC, 2, BUF + 0x200, 8, KVM_VIRTQ_DESC_F_WRITE, 0);
	desc_set(&t, DESC, 6, BUF + 0x300, 16, KVM_VIRTQ_DESC_F_WRITE, 0);
	avail_add(&t, 0);
	avail_add(&t, 6);                           /* two requests, one notify */
	wr(&t, QNOTIFY, 0);
	assert_int_equal(used_idx(&t), 2);
	used_elem(&t, 0, &id, &len);
	assert_int_equal(id, 0);
	assert_int_equal(len, 56);
	used_elem(&t, 1, &id, &len);
	assert_int_equal(id, 6);
	assert_int_equal(len, 16);
	assert_filled(&t, BUF, 16);
	assert_filled(&t, BUF + 0x100, 32);
	assert_filled(&t, BUF + 0x200, 8);
	assert_untouched(&t, BUF + 0x208, 8);
	assert_filled(&t, BUF + 0x300, 16);
	assert_int_equal(t.irq_calls, 1);           /* one interrupt for both */
	t_done(&t);
	free(ram);
}

static void test_indirect(void **state)
{
	uint8_t *ram = ram_new();
	uint32_t id, len;
	struct t t;

	(void)state;
	t_attach(&t, ram);
	driver_init(&t, F_INDIRECT);
	desc_set(&t, ITABLE, 0, BUF, 24, KVM_VIRTQ_DESC_F_WRITE | KVM_VIRTQ_DESC_F_NEXT, 2);
	desc_set(&t, ITABLE, 2, BUF + 0x100, 40, KVM_VIRTQ_DESC_F_WRITE, 0);
	desc_set(&t, DESC, 1, ITABLE, 3 * 16, KVM_VIRTQ_DESC_F_INDIRECT, 0);
	avail_add(&t, 1);
	wr(&t, QNOTIFY, 0);
	assert_int_equal(rd(&t, STATUS) & KVM_VIRTIO_S_NEEDS_RESET, 0);
	assert_int_equal(used_idx(&t), 1);
	used_elem(&t, 0, &id, &len);
	assert_int_equal(id, 1);
	assert_int_equal(len, 64);
	assert_filled(&t, BUF, 24);
	assert_filled(&t, BUF + 0x100, 40);
	t_done(&t);
	free(ram);
}

static void test_rng_cap(void **state)
{
	uint8_t *ram = ram_new();
	uint32_t id, len;
	struct t t;

	(void)state;
	t_attach(&t, ram);
	driver_init(&t, 0);
	desc_set(&t, DESC, 0, BUF, 2 * KVM_VIRTIO_RNG_MAX, KVM_VIRTQ_DESC_F_WRITE, 0);
	avail_add(&t, 0);
	wr(&t, QNOTIFY, 0);
	used_elem(&t, 0, &id, &len);
	assert_int_equal(len, KVM_VIRTIO_RNG_MAX);
	assert_filled(&t, BUF, KVM_VIRTIO_RNG_MAX);
	assert_untouched(&t, BUF + KVM_VIRTIO_RNG_MAX, KVM_VIRTIO_RNG_MAX);
	t_done(&t);
	free(ram);
}

/* Notifications before DRIVER_OK are not served; DRIVER_OK serves them. */
static void test_before_driver_ok(void **state)
{
	uint8_t *ram = ram_new();
	struct t t;

	(void)state;
	t_attach(&t, ram);
	driver_init(&t, 0);
	wr(&t, STATUS, 0);
	wr(&t, STATUS, KVM_VIRTIO_S_ACKNOWLEDGE | KVM_VIRTIO_S_DRIVER);
	wr(&t, DRV_FEAT_SEL, 1);
	wr(&t, DRV_FEAT, F_V1_HI);
	wr(&t, STATUS, KVM_VIRTIO_S_ACKNOWLEDGE | KVM_VIRTIO_S_DRIVER | KVM_VIRTIO_S_FEATURES_OK);
	wr(&t, QNUM, QSIZE);
	setup_ring_regs(&t, DESC, AVAIL, USED);
	wr(&t, QREADY, 1);
	memset(ram + USED, 0, 16);
	t.avail_idx = 0;
	desc_set(&t, DESC, 0, BUF, 16, KVM_VIRTQ_DESC_F_WRITE, 0);
	avail_add(&t, 0);
	wr(&t, QNOTIFY, 0);
	assert_int_equal(used_idx(&t), 0);
	wr(&t, STATUS, rd(&t, STATUS) | KVM_VIRTIO_S_DRIVER_OK);
	assert_int_equal(used_idx(&t), 1);
	assert_int_equal(t.level, 1);
	t_done(&t);
	free(ram);
}

/* VIRTIO_F_EVENT_IDX: the device asks for a notify at its next entry
 * (avail_event) and interrupts only when used_event is crossed. Without
 * it, VIRTQ_AVAIL_F_NO_INTERRUPT suppresses interrupts. */
static void test_event_idx(void **state)
{
	uint8_t *ram = ram_new();
	uint16_t ev;
	struct t t;

	(void)state;
	t_attach(&t, ram);
	driver_init(&t, F_EVENT);
	for (unsigned i = 0; i < 3; i++)
		desc_set(&t, DESC, i, BUF + 0x100 * i, 16, KVM_VIRTQ_DESC_F_WRITE, 0);
	ev = 5;                                   /* used_event: after ring[QSIZE] */
	memcpy(ram + AVAIL + 4 + 2 * QSIZE, &ev, 2);
	avail_add(&t, 0);
	wr(&t, QNOTIFY, 0);
	assert_int_equal(used_idx(&t), 1);
	assert_int_equal(t.irq_calls, 0);         /* driver wants one at 6 */
	memcpy(&ev, ram + USED + 4 + 8 * QSIZE, 2);
	assert_int_equal(ev, 1);                  /* avail_event = last_avail */
	ev = 1;                                   /* wants one when entry 1 is used */
	memcpy(ram + AVAIL + 4 + 2 * QSIZE, &ev, 2);
	avail_add(&t, 1);
	wr(&t, QNOTIFY, 0);
	assert_int_equal(used_idx(&t), 2);
	assert_int_equal(t.irq_calls, 1);
	assert_int_equal(t.level, 1);
	wr(&t, ACK, 1);
	/* Again without EVENT_IDX: the NO_INTERRUPT flag. */
	driver_init(&t, 0);
	uint16_t flags = KVM_VIRTQ_AVAIL_F_NO_INTERRUPT;
	memcpy(ram + AVAIL, &flags, 2);
	desc_set(&t, DESC, 2, BUF + 0x200, 16, KVM_VIRTQ_DESC_F_WRITE, 0);
	avail_add(&t, 2);
	unsigned calls = t.irq_calls;
	wr(&t, QNOTIFY, 0);
	assert_int_equal(used_idx(&t), 1);
	assert_int_equal(t.irq_calls, calls);
	assert_int_equal(t.level, 0);
	t_done(&t);
	free(ram);
}

/* ---- malformed chains: DEVICE_NEEDS_RESET and a config interrupt ---- */

enum bad {
	BAD_LOOP, BAD_OUT_OF_RAM, BAD_READ_ONLY, BAD_HEAD, BAD_NEXT, BAD_AVAIL_JUMP,
	BAD_NESTED_INDIRECT, BAD_INDIRECT_LEN, BAD_INDIRECT_OUT, BAD_INDIRECT_NEXT,
	BAD_INDIRECT_LOOP, BAD_READ_AFTER_WRITE, BAD_RING_WRAP_LEN, BAD_N
};

static void make_bad(struct t *t, enum bad b)
{
	const uint16_t W = KVM_VIRTQ_DESC_F_WRITE, N = KVM_VIRTQ_DESC_F_NEXT,
		       I = KVM_VIRTQ_DESC_F_INDIRECT;
	uint16_t idx;

	switch (b) {
	case BAD_LOOP:
		desc_set(t, DESC, 0, BUF, 16, W | N, 1);
		desc_set(t, DESC, 1, BUF, 16, W | N, 0);
		break;
	case BAD_OUT_OF_RAM:
		desc_set(t, DESC, 0, RAM_SIZE - 8, 16, W, 0);
		break;
	case BAD_READ_ONLY:
		desc_set(t, DESC, 0, BUF, 16, 0, 0);
		break;
	case BAD_HEAD:
		avail_add(t, QSIZE);
		return;
	case BAD_NEXT:
		desc_set(t, DESC, 0, BUF, 16, W | N, QSIZE);
		break;
	case BAD_AVAIL_JUMP:                      /* more entries than the ring */
		desc_set(t, DESC, 0, BUF, 16, W, 0);
		idx = QSIZE + 1;
		memcpy(t->ram + AVAIL + 2, &idx, 2);
		return;
	case BAD_NESTED_INDIRECT:
		desc_set(t, ITABLE, 0, ITABLE + 0x100, 16, I, 0);
		desc_set(t, DESC, 0, ITABLE, 16, I, 0);
		break;
	case BAD_INDIRECT_LEN:
		desc_set(t, DESC, 0, ITABLE, 24, I, 0);
		break;
	case BAD_INDIRECT_OUT:
		desc_set(t, DESC, 0, RAM_SIZE - 16, 32, I, 0);
		break;
	case BAD_INDIRECT_NEXT:
		desc_set(t, ITABLE, 0, BUF, 16, W, 0);
		desc_set(t, DESC, 0, ITABLE, 16, I | N, 1);
		desc_set(t, DESC, 1, BUF, 16, W, 0);
		break;
	case BAD_INDIRECT_LOOP:
		desc_set(t, ITABLE, 0, BUF, 16, W | N, 1);
		desc_set(t, ITABLE, 1, BUF, 16, W | N, 0);
		desc_set(t, DESC, 0, ITABLE, 32, I, 0);
		break;
	case BAD_READ_AFTER_WRITE:
		desc_set(t, DESC, 0, BUF, 16, W | N, 1);
		desc_set(t, DESC, 1, BUF + 0x100, 16, 0, 0);
		break;
	case BAD_RING_WRAP_LEN:                   /* addr + len wraps */
		desc_set(t, DESC, 0, UINT64_MAX - 4, 16, W, 0);
		break;
	case BAD_N:
		break;
	}
	avail_add(t, 0);
}

static void test_malformed(void **state)
{
	uint8_t *ram = ram_new();

	(void)state;
	for (int b = 0; b < BAD_N; b++) {
		struct t t;

		memset(ram, PATTERN, RAM_SIZE);
		t_attach(&t, ram);
		driver_init(&t, F_INDIRECT);
		make_bad(&t, (enum bad)b);
		wr(&t, QNOTIFY, 0);
		if (!(rd(&t, STATUS) & KVM_VIRTIO_S_NEEDS_RESET))
			fail_msg("malformed case %d did not set DEVICE_NEEDS_RESET", b);
		assert_int_equal(used_idx(&t), 0);
		assert_int_equal(rd(&t, ISR), KVM_VIRTIO_INT_CONFIG);
		assert_int_equal(t.level, 1);
		assert_untouched(&t, BUF, 32);
		/* Nothing is processed until a reset, even a good request. */
		wr(&t, ACK, KVM_VIRTIO_INT_CONFIG);
		assert_int_equal(t.level, 0);
		desc_set(&t, DESC, 4, BUF + 0x400, 16, KVM_VIRTQ_DESC_F_WRITE, 0);
		avail_add(&t, 4);
		wr(&t, QNOTIFY, 0);
		assert_int_equal(used_idx(&t), 0);
		/* The driver cannot clear the bit; a reset does. */
		wr(&t, STATUS, KVM_VIRTIO_S_ACKNOWLEDGE);
		assert_true(rd(&t, STATUS) & KVM_VIRTIO_S_NEEDS_RESET);
		driver_init(&t, 0);
		assert_int_equal(rd(&t, STATUS) & KVM_VIRTIO_S_NEEDS_RESET, 0);
		t_done(&t);
	}
	free(ram);
}

/* Queue set-up the device cannot use: needs reset, no interrupt before
 * DRIVER_OK (2.1.2). */
static void test_bad_setup(void **state)
{
	uint8_t *ram = ram_new();
	struct t t;

	(void)state;
	t_attach(&t, ram);
	wr(&t, STATUS, KVM_VIRTIO_S_ACKNOWLEDGE | KVM_VIRTIO_S_DRIVER);
	wr(&t, DRV_FEAT_SEL, 1);
	wr(&t, DRV_FEAT, F_V1_HI);
	wr(&t, STATUS, KVM_VIRTIO_S_ACKNOWLEDGE | KVM_VIRTIO_S_DRIVER | KVM_VIRTIO_S_FEATURES_OK);
	wr(&t, QNUM, 3);
	assert_true(rd(&t, STATUS) & KVM_VIRTIO_S_NEEDS_RESET);
	assert_int_equal(rd(&t, QNUM), 0);
	assert_int_equal(t.irq_calls, 0);
	wr(&t, STATUS, 0);
	wr(&t, STATUS, KVM_VIRTIO_S_ACKNOWLEDGE | KVM_VIRTIO_S_DRIVER);
	wr(&t, DRV_FEAT_SEL, 1);
	wr(&t, DRV_FEAT, F_V1_HI);
	wr(&t, STATUS, KVM_VIRTIO_S_ACKNOWLEDGE | KVM_VIRTIO_S_DRIVER | KVM_VIRTIO_S_FEATURES_OK);
	wr(&t, QNUM, QSIZE);
	setup_ring_regs(&t, DESC, AVAIL, RAM_SIZE - 16);   /* used ring past RAM */
	wr(&t, QREADY, 1);
	assert_int_equal(rd(&t, QREADY), 0);
	assert_true(rd(&t, STATUS) & KVM_VIRTIO_S_NEEDS_RESET);
	t_done(&t);
	free(ram);
}

/* ---- reset ---- */

static void test_reset(void **state)
{
	uint8_t *ram = ram_new();
	struct t t;

	(void)state;
	t_attach(&t, ram);
	driver_init(&t, F_INDIRECT);
	desc_set(&t, DESC, 0, BUF, 16, KVM_VIRTQ_DESC_F_WRITE, 0);
	avail_add(&t, 0);
	wr(&t, QNOTIFY, 0);
	assert_int_equal(t.level, 1);
	wr(&t, STATUS, 0);
	assert_int_equal(rd(&t, STATUS), 0);
	assert_int_equal(rd(&t, ISR), 0);
	assert_int_equal(t.level, 0);
	assert_int_equal(rd(&t, QREADY), 0);
	assert_int_equal(rd(&t, QNUM), 0);
	assert_int_equal(rd(&t, QDESC_LO), 0);
	assert_int_equal(rd(&t, QDEV_LO), 0);
	/* Accepted features are gone: FEATURES_OK needs VERSION_1 again. */
	wr(&t, STATUS, KVM_VIRTIO_S_ACKNOWLEDGE | KVM_VIRTIO_S_DRIVER | KVM_VIRTIO_S_FEATURES_OK);
	assert_false(rd(&t, STATUS) & KVM_VIRTIO_S_FEATURES_OK);
	/* A fresh set-up starts at index 0 again. */
	driver_init(&t, 0);
	desc_set(&t, DESC, 0, BUF, 16, KVM_VIRTQ_DESC_F_WRITE, 0);
	avail_add(&t, 0);
	wr(&t, QNOTIFY, 0);
	assert_int_equal(used_idx(&t), 1);
	t_done(&t);
	free(ram);
}

/* ---- state ---- */

static size_t t_save(struct t *t, uint8_t **out)
{
	const struct kvm_dev_ops *o = t->devs.d[0].ops;
	size_t n = o->state_size(t->devs.d[0].priv);

	*out = malloc(n);
	assert_non_null(*out);
	assert_int_equal(o->save(t->devs.d[0].priv, *out, n), 0);
	return n;
}

static int t_load(struct t *t, const uint8_t *buf, size_t n, uint32_t version)
{
	char why[160] = "";
	int r = t->devs.d[0].ops->load(t->devs.d[0].priv, version, buf, n, why, sizeof(why));

	if (r)
		assert_true(strlen(why) > 0);
	else   /* as kvm_state_load does once the vCPUs are in */
		t->devs.d[0].ops->activate(t->devs.d[0].priv);
	return r;
}

static void test_save_load(void **state)
{
	uint8_t *ram = ram_new(), *blob, *again;
	uint32_t id, len, version;
	struct t a, b;
	size_t n;

	(void)state;
	t_attach(&a, ram);
	driver_init(&a, F_INDIRECT | F_EVENT);
	for (unsigned i = 0; i < 3; i++)
		desc_set(&a, DESC, i, BUF + 0x100 * i, 16, KVM_VIRTQ_DESC_F_WRITE, 0);
	avail_add(&a, 0);
	avail_add(&a, 1);
	wr(&a, QNOTIFY, 0);
	assert_int_equal(used_idx(&a), 2);
	avail_add(&a, 2);                  /* made available, not yet notified */
	version = a.devs.d[0].ops->version;
	assert_int_equal(version, (KVM_VIRTIO_STATE_VERSION << 16) | 1);
	n = t_save(&a, &blob);
	assert_int_equal(n, 76);
	t_done(&a);

	t_attach(&b, ram);
	assert_int_equal(t_load(&b, blob, n, version), 0);
	assert_int_equal(b.level, 1);      /* InterruptStatus was not yet acked */
	assert_int_equal(rd(&b, ISR), KVM_VIRTIO_INT_VRING);
	assert_int_equal(rd(&b, STATUS), KVM_VIRTIO_S_ACKNOWLEDGE | KVM_VIRTIO_S_DRIVER |
			 KVM_VIRTIO_S_FEATURES_OK | KVM_VIRTIO_S_DRIVER_OK);
	assert_int_equal(rd(&b, QREADY), 1);
	assert_int_equal(rd(&b, QNUM), QSIZE);
	assert_int_equal(rd(&b, QDRV_LO), AVAIL);
	t_save(&b, &again);                /* saved again: the same bytes */
	assert_memory_equal(again, blob, n);
	free(again);
	b.avail_idx = 3;
	/* EVENT_IDX came along: the driver asks for an interrupt at entry 2. */
	uint16_t ev = 2;
	memcpy(ram + AVAIL + 4 + 2 * QSIZE, &ev, 2);
	wr(&b, ACK, 1);
	assert_int_equal(b.level, 0);
	wr(&b, QNOTIFY, 0);
	assert_int_equal(used_idx(&b), 3);
	used_elem(&b, 2, &id, &len);
	assert_int_equal(id, 2);
	assert_int_equal(len, 16);
	assert_filled(&b, BUF + 0x200, 16);
	assert_int_equal(b.level, 1);
	free(blob);
	t_done(&b);
	free(ram);
}

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Field offsets of the section (virtio_mmio.c writes them in this order). */
enum {
	S_DEVICE_ID = 0, S_STATUS = 4, S_ISR = 8, S_ACKED = 24, S_NQUEUES = 36,
	S_Q_SIZE = 40, S_Q_READY = 42, S_Q_PAD = 43, S_Q_DESC = 44, S_Q_AVAIL = 52,
	S_Q_USED = 60, S_Q_LAST = 68, S_Q_USED_IDX = 70, S_BE_LEN = 72, S_LEN = 76,
};

struct mut {
	const char *what;
	unsigned off, width;
	uint64_t value;
	int dlen;                            /* change of length */
	int dversion;
};

static const struct mut muts[] = {
	{ "version", 0, 0, 0, 0, 1 },
	{ "transport version", 0, 0, 0, 0, 1 << 16 },
	{ "short", 0, 0, 0, -1, 0 },
	{ "long", 0, 0, 0, 1, 0 },
	{ "empty", 0, 0, 0, -S_LEN, 0 },
	{ "device id", S_DEVICE_ID, 4, 2, 0, 0 },
	{ "unknown status bit", S_STATUS, 4, 0x1f, 0, 0 },
	{ "interrupt bit", S_ISR, 4, 4, 0, 0 },
	{ "feature never offered", S_ACKED, 8, (1ull << 32) | 1, 0, 0 },
	{ "no VERSION_1", S_ACKED, 8, 0, 0, 0 },
	{ "queue count", S_NQUEUES, 4, 2, 0, 0 },
	{ "size not a power of two", S_Q_SIZE, 2, 6, 0, 0 },
	{ "size over the maximum", S_Q_SIZE, 2, 512, 0, 0 },
	{ "ready without a size", S_Q_SIZE, 2, 0, 0, 0 },
	{ "ready 2", S_Q_READY, 1, 2, 0, 0 },
	{ "pad", S_Q_PAD, 1, 1, 0, 0 },
	{ "desc outside RAM", S_Q_DESC, 8, RAM_SIZE, 0, 0 },
	{ "desc in the hole", S_Q_DESC, 8, PC_LOW_END, 0, 0 },
	{ "desc misaligned", S_Q_DESC, 8, DESC + 8, 0, 0 },
	{ "used ring crossing RAM's end", S_Q_USED, 8, RAM_SIZE - 32, 0, 0 },
	{ "ready without addresses", S_Q_AVAIL, 8, DESC, 0, 0 },
	{ "ready before FEATURES_OK", S_STATUS, 4, KVM_VIRTIO_S_ACKNOWLEDGE | KVM_VIRTIO_S_DRIVER, 0, 0 },
	{ "in flight", S_Q_LAST, 2, 9, 0, 0 },
	{ "own bytes rng does not have", S_BE_LEN, 4, 1, 1, 0 },
};

static void test_load_refusals(void **state)
{
	uint8_t *ram = ram_new(), *good, *fresh, *after, buf[S_LEN + 8];
	uint32_t version;
	struct t a, c;
	size_t n;

	(void)state;
	t_attach(&a, ram);
	driver_init(&a, F_INDIRECT | F_EVENT);
	desc_set(&a, DESC, 0, BUF, 16, KVM_VIRTQ_DESC_F_WRITE, 0);
	avail_add(&a, 0);
	wr(&a, QNOTIFY, 0);
	version = a.devs.d[0].ops->version;
	n = t_save(&a, &good);
	assert_int_equal(n, S_LEN);
	/* Save refuses while a request is in flight (a back-end that has not
	 * drained). */
	kvm_virtio_queue(a.d, 0)->last_avail++;
	assert_int_equal(a.devs.d[0].ops->save(a.devs.d[0].priv, buf, n), -EBUSY);
	t_done(&a);

	t_attach(&c, ram);
	assert_int_equal(t_load(&c, good, n, version), 0);   /* the base case loads */
	t_done(&c);
	for (size_t i = 0; i < sizeof(muts) / sizeof(muts[0]); i++) {
		const struct mut *m = &muts[i];

		t_attach(&c, ram);
		t_save(&c, &fresh);
		memset(buf, 0, sizeof(buf));
		memcpy(buf, good, n);
		if (m->width)
			put_le(buf + m->off, m->value, m->width);
		if (!strcmp(m->what, "ready without addresses")) {
			put_le(buf + S_Q_DESC, 0, 8);
			put_le(buf + S_Q_AVAIL, 0, 8);
			put_le(buf + S_Q_USED, 0, 8);
		}
		if (!strcmp(m->what, "in flight"))
			put_le(buf + S_Q_USED_IDX, 8, 2);
		if (t_load(&c, buf, (size_t)((int)n + m->dlen), version + (uint32_t)m->dversion) != -EINVAL)
			fail_msg("load took a section with %s", m->what);
		assert_int_equal(c.irq_calls, 0);
		t_save(&c, &after);                /* the device is unchanged */
		assert_memory_equal(after, fresh, n);
		free(after);
		free(fresh);
		t_done(&c);
	}
	/* A queue that is not ready keeps no indices. */
	t_attach(&c, ram);
	memcpy(buf, good, n);
	put_le(buf + S_Q_READY, 0, 1);
	assert_int_equal(t_load(&c, buf, n, version), -EINVAL);
	put_le(buf + S_Q_LAST, 0, 2);
	put_le(buf + S_Q_USED_IDX, 0, 2);
	assert_int_equal(t_load(&c, buf, n, version), 0);
	assert_int_equal(rd(&c, QREADY), 0);
	t_done(&c);
	free(good);
	free(ram);
}

/* ---- a hostile driver: random rings, seeded; RAM sits between guard
 * areas that must stay untouched, and the device either makes progress or
 * says it needs a reset ---- */

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static void test_hostile(void **state)
{
	const size_t guard = 1u << 16;
	uint8_t *all = malloc(RAM_SIZE + 2 * guard), *ram = all + guard;
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	unsigned resets = 0, served = 0;

	(void)state;
	assert_non_null(all);
	memset(all, 0x5a, RAM_SIZE + 2 * guard);
	for (unsigned round = 0; round < 2000; round++) {
		struct t t;

		t_attach(&t, ram);
		driver_init(&t, F_INDIRECT | F_EVENT);
		for (unsigned i = 0; i < 2 * QSIZE; i++) {
			uint64_t x = xorshift(&seed), y = xorshift(&seed);
			/* In RAM, around its end, or anywhere. */
			uint64_t addr = (x & 3) == 0 ? y : (x & 3) == 1 ? RAM_SIZE - 512 + y % 1024
						       : y % RAM_SIZE;
			uint32_t len = (uint32_t)((x >> 8) & 3 ? (x >> 16) % 512 : x >> 32);
			uint16_t flags = (uint16_t)((x >> 40) & 7), next = (uint16_t)((x >> 44) % (QSIZE + 2));

			desc_set(&t, i < QSIZE ? DESC : ITABLE, i % QSIZE, addr, len, flags, next);
		}
		for (unsigned k = 0, n = (unsigned)(xorshift(&seed) % 4) + 1; k < n; k++)
			avail_add(&t, (uint16_t)(xorshift(&seed) % (QSIZE + 1)));
		wr(&t, QNOTIFY, 0);
		resets += !!(rd(&t, STATUS) & KVM_VIRTIO_S_NEEDS_RESET);
		served += used_idx(&t);
		if (!(rd(&t, STATUS) & KVM_VIRTIO_S_NEEDS_RESET))
			assert_int_equal(used_idx(&t), t.avail_idx);
		t_done(&t);
	}
	for (size_t i = 0; i < guard; i++) {
		assert_int_equal(all[i], 0x5a);
		assert_int_equal(all[guard + RAM_SIZE + i], 0x5a);
	}
	assert_true(resets > 0 && served > 0);     /* both outcomes were reached */
	free(all);
}

/* ---- registration ---- */

static void test_attach(void **state)
{
	uint8_t *ram = ram_new();
	struct kvm_virtio_mmio_config cfg = {
		.mem = { ram, RAM_SIZE, NULL }, .base = BASE + 0x100, .gsi = GSI, .irq = t_irq,
	};
	struct kvm_virtio_backend bad = kvm_virtio_rng;
	struct t t;

	(void)state;
	t_attach(&t, ram);
	cfg.irq_ctx = &t;
	/* Overlapping the first one's range: refused, nothing left behind. */
	assert_int_equal(kvm_virtio_mmio_attach(&t.bus, &t.devs, &cfg, &kvm_virtio_rng, NULL, NULL),
			 -EEXIST);
	assert_int_equal(t.devs.n, 1);
	assert_int_equal(t.bus.n, 1);
	bad.queue_max = 100;
	cfg.base = BASE + 0x1000;
	assert_int_equal(kvm_virtio_mmio_attach(&t.bus, &t.devs, &cfg, &bad, NULL, NULL), -EINVAL);
	cfg.base = BASE + 0x200;            /* the next one: instance 1 */
	assert_int_equal(kvm_virtio_mmio_attach(&t.bus, &t.devs, &cfg, &kvm_virtio_rng, NULL, NULL), 0);
	assert_int_equal(t.devs.n, 2);
	assert_int_equal(t.devs.d[1].instance, 1);
	assert_ptr_equal(kvm_devs_find(&t.devs, KVM_DEV_VIRTIO_RNG, 0)->ops, kvm_virtio_ops(t.d));
	t_done(&t);
	free(ram);
}

/* The fuzz target's kept inputs (tests/fuzz/corpus/virtq) again, so a
 * regression shows in make test, not only under make fuzz. */
static int not_dot(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

static void test_fuzz_inputs(void **state)
{
	const char *d = getenv("PCM_FUZZ_DIR");
	struct dirent **names;
	char dir[4096];
	int n;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/corpus/virtq", d && *d ? d : "tests/fuzz");
	n = scandir(dir, &names, not_dot, alphasort);
	if (n <= 0)
		fail_msg("no inputs in %s (run from the project root)", dir);
	for (int i = 0; i < n; i++) {
		static uint8_t in[1 << 20];
		char path[4400];
		size_t len;
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		free(names[i]);
		assert_non_null(f = fopen(path, "rb"));
		len = fread(in, 1, sizeof(in), f);
		fclose(f);
		assert_int_equal(fuzz_virtq_one(in, len), 0);
	}
	free(names);
	print_message("      virtq: %d fuzz inputs replayed\n", n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gpa),
		cmocka_unit_test(test_virtq_pop),
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_features),
		cmocka_unit_test(test_one_buffer),
		cmocka_unit_test(test_chain),
		cmocka_unit_test(test_indirect),
		cmocka_unit_test(test_rng_cap),
		cmocka_unit_test(test_before_driver_ok),
		cmocka_unit_test(test_event_idx),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_bad_setup),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_save_load),
		cmocka_unit_test(test_load_refusals),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_attach),
		cmocka_unit_test(test_fuzz_inputs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
