/* tests/unit/test_virtio_blk.c - virtio-blk (kvm/dev/virtio_blk.c) driven
 * as Linux's virtio_mmio and virtio_blk drivers drive it: through the MMIO
 * bus handler over a fake guest RAM, on temporary image files in /tmp.
 * Requests complete on the device's I/O thread, so every wait is on the
 * interrupt callback with a deadline; a request is held in flight by
 * making its IN buffer a userfaultfd-missing page. Also the image checks
 * of the open, quiesce, and the state section's save, load and refusals.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
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

#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "kvm/bus.h"
#include "kvm/dev/dev.h"
#include "kvm/dev/virtio.h"

#define RAM_SIZE (1u << 20)
#define BASE     0xd0001000ull
#define GSI      17
#define QSIZE    16
#define DESC     0x1000u
#define AVAIL    0x2000u
#define USED     0x3000u
#define ITABLE   0x4000u
#define HDRS     0x5000u         /* request headers, 16 bytes per head */
#define STS      0x6000u         /* status bytes, one per head */
#define BUF      0x10000u
#define FAULTPG  0x80000u        /* a page held missing by userfaultfd */
#define PATTERN  0xaa
#define IMG_SIZE (3u << 20)      /* more than the two fingerprinted MiB */
#define SECTORS  (IMG_SIZE / 512)
#define WAIT_S   5

enum {
	DEVICE_ID = 0x008, DEV_FEAT = 0x010, DEV_FEAT_SEL = 0x014, DRV_FEAT = 0x020,
	DRV_FEAT_SEL = 0x024, QSEL = 0x030, QNUM_MAX = 0x034, QNUM = 0x038, QREADY = 0x044,
	QNOTIFY = 0x050, ISR = 0x060, ACK = 0x064, STATUS = 0x070,
	QDESC_LO = 0x080, QDRV_LO = 0x090, QDEV_LO = 0x0a0, CONFIG = 0x100,
};

#define F_V1_HI 1u
#define F_BLK   ((1u << KVM_VIRTIO_BLK_F_SEG_MAX) | (1u << KVM_VIRTIO_BLK_F_BLK_SIZE) | \
		 (1u << KVM_VIRTIO_BLK_F_FLUSH))
#define R 0
#define W KVM_VIRTQ_DESC_F_WRITE

struct t {
	uint8_t *ram;
	struct kvm_bus bus;
	struct kvm_devs devs;
	struct kvm_virtio *d;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int level;
	unsigned irq_calls;
	int irq_off_main;            /* an interrupt came from another thread */
	pthread_t main;
	uint16_t avail_idx;
	char why[160];
	_Atomic uint64_t dirty[RAM_SIZE / 4096 / 64];
};

struct seg { uint64_t gpa; uint32_t len; uint16_t flags; };

/* ---- images ---- */

static uint8_t img_byte(uint64_t off, unsigned seed)
{
	return (uint8_t)((off / 512) * 31 + off % 509 + seed);
}

static void img_new(char *path, uint64_t size, unsigned seed, mode_t mode)
{
	uint8_t *b = malloc(size ? size : 1);
	int fd;

	strcpy(path, "/tmp/pcm-test-blk-XXXXXX");
	assert_non_null(b);
	assert_true((fd = mkstemp(path)) >= 0);
	for (uint64_t i = 0; i < size; i++)
		b[i] = img_byte(i, seed);
	assert_int_equal(write(fd, b, size), (ssize_t)size);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	free(b);
}

static void img_read(const char *path, uint64_t off, void *dst, size_t n)
{
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, dst, n, (off_t)off), (ssize_t)n);
	close(fd);
}

static void img_poke(const char *path, uint64_t off, uint8_t v)
{
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, &v, 1, (off_t)off), 1);
	close(fd);
}

static void assert_img_orig(const char *path, uint64_t off, size_t n, unsigned seed)
{
	uint8_t *b = malloc(n);

	img_read(path, off, b, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(b[i], img_byte(off + i, seed));
	free(b);
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

static void ram_free(uint8_t *r)
{
	munmap(r, RAM_SIZE);
}

static int page_dirty(const struct t *t, uint64_t gpa)
{
	return (int)(t->dirty[gpa / 4096 / 64] >> (gpa / 4096 % 64) & 1);
}

static void t_irq(void *ctx, unsigned gsi, int level)
{
	struct t *t = ctx;

	pthread_mutex_lock(&t->mu);
	t->level = level && gsi == GSI;
	t->irq_calls++;
	if (!pthread_equal(pthread_self(), t->main))
		t->irq_off_main = 1;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

static int t_attach_rc(struct t *t, uint8_t *ram, const char *path, int ro, const char *serial)
{
	struct kvm_virtio_mmio_config c = {
		.mem = { ram, RAM_SIZE, t->dirty }, .base = BASE, .gsi = GSI, .irq = t_irq,
		.irq_ctx = t,
	};
	struct kvm_virtio_blk_config bc = { .path = path, .read_only = ro, .serial = serial };

	memset(t, 0, sizeof(*t));
	t->ram = ram;
	t->main = pthread_self();
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	return kvm_virtio_blk_attach(&t->bus, &t->devs, &c, &bc, t->why, sizeof(t->why), &t->d);
}

static void t_attach(struct t *t, uint8_t *ram, const char *path, int ro, const char *serial)
{
	assert_int_equal(t_attach_rc(t, ram, path, ro, serial), 0);
	assert_int_equal(t->devs.n, 1);
	assert_int_equal(t->devs.d[0].ops->kind, KVM_DEV_VIRTIO_BLK);
}

static void t_done(struct t *t)
{
	kvm_devs_destroy(&t->devs);
	assert_int_equal(t->devs.n, 0);
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

static void driver_init(struct t *t, uint32_t feat_lo)
{
	wr(t, STATUS, 0);
	wr(t, STATUS, KVM_VIRTIO_S_ACKNOWLEDGE);
	wr(t, STATUS, KVM_VIRTIO_S_ACKNOWLEDGE | KVM_VIRTIO_S_DRIVER);
	wr(t, DRV_FEAT_SEL, 1);
	wr(t, DRV_FEAT, F_V1_HI);
	wr(t, DRV_FEAT_SEL, 0);
	wr(t, DRV_FEAT, feat_lo);
	wr(t, STATUS, KVM_VIRTIO_S_ACKNOWLEDGE | KVM_VIRTIO_S_DRIVER | KVM_VIRTIO_S_FEATURES_OK);
	assert_true(rd(t, STATUS) & KVM_VIRTIO_S_FEATURES_OK);
	memset(t->ram + DESC, 0, 0x3000);
	memset(t->ram + STS, PATTERN, 4096);
	wr(t, QSEL, 0);
	assert_int_equal(rd(t, QNUM_MAX), KVM_VIRTIO_BLK_QUEUE_MAX);
	wr(t, QNUM, QSIZE);
	wr(t, QDESC_LO, DESC);
	wr(t, QDRV_LO, AVAIL);
	wr(t, QDEV_LO, USED);
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
	__atomic_store_n((uint16_t *)(t->ram + AVAIL + 2), t->avail_idx, __ATOMIC_RELEASE);
}

static uint16_t used_idx(struct t *t)
{
	return __atomic_load_n((uint16_t *)(t->ram + USED + 2), __ATOMIC_ACQUIRE);
}

static void used_elem(struct t *t, unsigned slot, uint32_t *id, uint32_t *len)
{
	memcpy(id, t->ram + USED + 4 + 8 * (slot % QSIZE), 4);
	memcpy(len, t->ram + USED + 8 + 8 * (slot % QSIZE), 4);
}

static void hdr_put(struct t *t, uint64_t gpa, uint32_t type, uint64_t sector)
{
	memset(t->ram + gpa, 0, 16);
	memcpy(t->ram + gpa, &type, 4);
	memcpy(t->ram + gpa + 8, &sector, 8);
}

/* Descriptors head.. for segs, linked, made available (no notify). */
static void chain(struct t *t, unsigned head, const struct seg *s, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		desc_set(t, DESC, head + i, s[i].gpa, s[i].len,
			 (uint16_t)(s[i].flags | (i + 1 < n ? KVM_VIRTQ_DESC_F_NEXT : 0)),
			 (uint16_t)(head + i + 1));
	avail_add(t, (uint16_t)head);
}

/* The usual three descriptors: header, data (if len), status. */
static void req(struct t *t, unsigned head, uint32_t type, uint64_t sector,
		uint64_t data, uint32_t len, uint16_t dflags)
{
	struct seg s[3] = { { HDRS + 16 * head, 16, R } };
	unsigned n = 1;

	hdr_put(t, HDRS + 16 * head, type, sector);
	if (len)
		s[n++] = (struct seg){ data, len, dflags };
	s[n++] = (struct seg){ STS + head, 1, W };
	chain(t, head, s, n);
}

static uint8_t status_of(struct t *t, unsigned head)
{
	return t->ram[STS + head];
}

/* Wait, on the interrupt callback, until cond(t) or the deadline. */
static int wait_for(struct t *t, int (*cond)(struct t *, unsigned), unsigned arg)
{
	struct timespec end, slice;
	int ok;

	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += WAIT_S;
	pthread_mutex_lock(&t->mu);
	while (!(ok = cond(t, arg))) {
		clock_gettime(CLOCK_REALTIME, &slice);
		if (slice.tv_sec > end.tv_sec ||
		    (slice.tv_sec == end.tv_sec && slice.tv_nsec >= end.tv_nsec))
			break;
		pthread_cond_timedwait(&t->cv, &t->mu, &end);
	}
	pthread_mutex_unlock(&t->mu);
	return ok;
}

static int used_at_least(struct t *t, unsigned n)
{
	return used_idx(t) >= n && t->level;
}

static int config_irq(struct t *t, unsigned n)
{
	(void)n;
	return t->level;
}

/* Until used->idx reaches n with the interrupt raised; then ack it. */
static void wait_used(struct t *t, unsigned n)
{
	if (!wait_for(t, used_at_least, n))
		fail_msg("used idx %u after %ds, not %u (line %d)", used_idx(t), WAIT_S, n, t->level);
	wr(t, ACK, rd(t, ISR));
}

static void wait_needs_reset(struct t *t)
{
	if (!wait_for(t, config_irq, 0))
		fail_msg("no configuration interrupt after %ds", WAIT_S);
	assert_true(rd(t, STATUS) & KVM_VIRTIO_S_NEEDS_RESET);
	assert_true(rd(t, ISR) & KVM_VIRTIO_INT_CONFIG);
	wr(t, ACK, rd(t, ISR));
}

/* One request through the ring: its status, its used length in *len. */
static uint8_t run(struct t *t, unsigned head, uint32_t type, uint64_t sector,
		   uint64_t data, uint32_t len, uint16_t dflags, uint32_t *used_len)
{
	uint16_t n = used_idx(t);
	uint32_t id, l;

	req(t, head, type, sector, data, len, dflags);
	wr(t, QNOTIFY, 0);
	wait_used(t, (uint16_t)(n + 1));
	used_elem(t, n, &id, &l);
	assert_int_equal(id, head);
	if (used_len)
		*used_len = l;
	return status_of(t, head);
}

static void fill(struct t *t, uint64_t gpa, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		t->ram[gpa + i] = (uint8_t)(i * 13 + seed);
}

static void assert_pattern(struct t *t, uint64_t gpa, size_t n)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(t->ram[gpa + i], PATTERN);
}

/* ---- configuration and features ---- */

static void test_config(void **state)
{
	uint8_t *ram = ram_new();
	uint64_t cap = 0;
	char img[64];
	struct t t;

	(void)state;
	img_new(img, IMG_SIZE, 1, 0644);
	t_attach(&t, ram, img, 0, NULL);
	assert_int_equal(rd(&t, DEVICE_ID), 2);
	assert_int_equal(rd(&t, QNUM_MAX), KVM_VIRTIO_BLK_QUEUE_MAX);
	assert_int_equal(rd(&t, CONFIG), SECTORS);              /* capacity, low */
	assert_int_equal(rd(&t, CONFIG + 4), 0);                /* capacity, high */
	assert_int_equal(kvm_bus_access(&t.bus, NULL, BASE + CONFIG, (uint8_t *)&cap, 8, 0), 0);
	assert_int_equal(cap, SECTORS);
	assert_int_equal(rd(&t, CONFIG + 8), 0);                /* size_max: not offered */
	assert_int_equal(rd(&t, CONFIG + 12), KVM_VIRTQ_MAX_SEGS - 2);   /* seg_max */
	assert_int_equal(rd(&t, CONFIG + 20), 512);             /* blk_size */
	assert_int_equal(rd(&t, CONFIG + 24), 0);               /* past the end */
	t_done(&t);
	unlink(img);
	ram_free(ram);
}

static void test_features(void **state)
{
	uint8_t *ram = ram_new();
	char img[64];
	struct t t;

	(void)state;
	img_new(img, IMG_SIZE, 1, 0644);
	t_attach(&t, ram, img, 0, NULL);
	wr(&t, DEV_FEAT_SEL, 0);
	assert_int_equal(rd(&t, DEV_FEAT) & 0xffffff, F_BLK);
	wr(&t, DEV_FEAT_SEL, 1);
	assert_int_equal(rd(&t, DEV_FEAT), F_V1_HI);
	driver_init(&t, F_BLK);
	t_done(&t);
	t_attach(&t, ram, img, 1, NULL);
	wr(&t, DEV_FEAT_SEL, 0);
	assert_int_equal(rd(&t, DEV_FEAT) & 0xffffff, F_BLK | (1u << KVM_VIRTIO_BLK_F_RO));
	driver_init(&t, F_BLK | (1u << KVM_VIRTIO_BLK_F_RO));
	t_done(&t);
	unlink(img);
	ram_free(ram);
}

/* ---- requests ---- */

static void test_write_read(void **state)
{
	uint8_t *ram = ram_new(), file[1024];
	uint32_t len;
	char img[64];
	struct t t;

	(void)state;
	img_new(img, IMG_SIZE, 1, 0644);
	t_attach(&t, ram, img, 0, NULL);
	driver_init(&t, F_BLK);
	fill(&t, BUF, 1024, 7);
	assert_int_equal(run(&t, 0, KVM_VIRTIO_BLK_T_OUT, 4, BUF, 1024, R, &len),
			 KVM_VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1);
	img_read(img, 4 * 512, file, sizeof(file));
	assert_memory_equal(file, ram + BUF, 1024);
	assert_img_orig(img, 3 * 512, 512, 1);                  /* neighbours untouched */
	assert_img_orig(img, 6 * 512, 512, 1);
	assert_int_equal(run(&t, 3, KVM_VIRTIO_BLK_T_IN, 4, BUF + 0x2000, 1024, W, &len),
			 KVM_VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1025);
	assert_memory_equal(ram + BUF + 0x2000, ram + BUF, 1024);
	assert_pattern(&t, BUF + 0x2000 + 1024, 64);
	/* the last sector of the disk reads as the image has it */
	assert_int_equal(run(&t, 6, KVM_VIRTIO_BLK_T_IN, SECTORS - 1, BUF + 0x3000, 512, W, NULL),
			 KVM_VIRTIO_BLK_S_OK);
	img_read(img, IMG_SIZE - 512, file, 512);
	assert_memory_equal(ram + BUF + 0x3000, file, 512);
	assert_true(t.irq_off_main);        /* completed on the I/O thread */
	t_done(&t);
	unlink(img);
	ram_free(ram);
}

/* Free framing (2.6.4): header in two pieces, data in several, the
 * status sharing the last data descriptor; and an indirect table. */
static void test_multi_seg(void **state)
{
	uint8_t *ram = ram_new(), file[2048];
	uint32_t id, len;
	char img[64];
	struct t t;
	const struct seg out[] = {
		{ HDRS, 8, R }, { HDRS + 8, 8, R },
		{ BUF, 512, R }, { BUF + 0x1000, 1024, R }, { BUF + 0x3000, 512, R },
		{ STS, 1, W },
	};
	const struct seg in[] = {
		{ HDRS + 16, 16, R },
		{ BUF + 0x8000, 512, W }, { BUF + 0x9000, 1000, W }, { BUF + 0xa000, 24, W },
		{ BUF + 0xb000, 513, W },     /* 512 bytes of data, then the status */
	};

	(void)state;
	img_new(img, IMG_SIZE, 1, 0644);
	t_attach(&t, ram, img, 0, NULL);
	driver_init(&t, F_BLK | (1u << KVM_VIRTIO_F_INDIRECT_DESC));
	fill(&t, BUF, 512, 1);
	fill(&t, BUF + 0x1000, 1024, 2);
	fill(&t, BUF + 0x3000, 512, 3);
	hdr_put(&t, HDRS, KVM_VIRTIO_BLK_T_OUT, 100);
	chain(&t, 0, out, 6);
	wr(&t, QNOTIFY, 0);
	wait_used(&t, 1);
	assert_int_equal(status_of(&t, 0), KVM_VIRTIO_BLK_S_OK);
	img_read(img, 100 * 512, file, sizeof(file));
	assert_memory_equal(file, ram + BUF, 512);
	assert_memory_equal(file + 512, ram + BUF + 0x1000, 1024);
	assert_memory_equal(file + 1536, ram + BUF + 0x3000, 512);
	hdr_put(&t, HDRS + 16, KVM_VIRTIO_BLK_T_IN, 100);
	chain(&t, 8, in, 5);
	wr(&t, QNOTIFY, 0);
	wait_used(&t, 2);
	used_elem(&t, 1, &id, &len);
	assert_int_equal(id, 8);
	assert_int_equal(len, 2049);
	assert_int_equal(ram[BUF + 0xb000 + 512], KVM_VIRTIO_BLK_S_OK);
	assert_memory_equal(ram + BUF + 0x8000, file, 512);
	assert_memory_equal(ram + BUF + 0x9000, file + 512, 1000);
	assert_memory_equal(ram + BUF + 0xa000, file + 1512, 24);
	assert_memory_equal(ram + BUF + 0xb000, file + 1536, 512);
	/* the same read through an indirect table */
	for (unsigned i = 0; i < 5; i++)
		desc_set(&t, ITABLE, i, in[i].gpa + (i ? 0x10000 : 0), in[i].len,
			 (uint16_t)(in[i].flags | (i < 4 ? KVM_VIRTQ_DESC_F_NEXT : 0)),
			 (uint16_t)(i + 1));
	desc_set(&t, DESC, 14, ITABLE, 5 * 16, KVM_VIRTQ_DESC_F_INDIRECT, 0);
	avail_add(&t, 14);
	wr(&t, QNOTIFY, 0);
	wait_used(&t, 3);
	assert_int_equal(ram[BUF + 0x1b000 + 512], KVM_VIRTIO_BLK_S_OK);
	assert_memory_equal(ram + BUF + 0x19000, file + 512, 1000);
	t_done(&t);
	unlink(img);
	ram_free(ram);
}

static void test_flush_get_id(void **state)
{
	uint8_t *ram = ram_new();
	const char *full = "0123456789abcdefghij";       /* 20 bytes: no NUL */
	uint32_t len;
	char img[64];
	struct t t;

	(void)state;
	img_new(img, IMG_SIZE, 1, 0644);
	t_attach(&t, ram, img, 0, "pcm-disk-0");
	driver_init(&t, F_BLK);
	assert_int_equal(run(&t, 0, KVM_VIRTIO_BLK_T_FLUSH, 0, 0, 0, 0, &len), KVM_VIRTIO_BLK_S_OK);
	assert_int_equal(len, 1);
	assert_int_equal(run(&t, 3, KVM_VIRTIO_BLK_T_GET_ID, 0, BUF, 20, W, &len),
			 KVM_VIRTIO_BLK_S_OK);
	assert_int_equal(len, 21);
	assert_memory_equal(ram + BUF, "pcm-disk-0\0\0\0\0\0\0\0\0\0\0", 20);
	assert_int_equal(ram[BUF + 20], PATTERN);
	t_done(&t);
	t_attach(&t, ram, img, 0, full);
	driver_init(&t, F_BLK);
	assert_int_equal(run(&t, 0, KVM_VIRTIO_BLK_T_GET_ID, 0, BUF + 0x100, 64, W, &len),
			 KVM_VIRTIO_BLK_S_OK);
	assert_int_equal(len, 21);                  /* 20 bytes at most */
	assert_memory_equal(ram + BUF + 0x100, full, 20);
	assert_pattern(&t, BUF + 0x100 + 20, 44);
	t_done(&t);
	unlink(img);
	ram_free(ram);
}

static void test_out_of_range(void **state)
{
	uint8_t *ram = ram_new();
	char img[64];
	struct t t;

	(void)state;
	img_new(img, IMG_SIZE, 1, 0644);
	t_attach(&t, ram, img, 0, NULL);
	driver_init(&t, F_BLK);
	fill(&t, BUF, 4096, 9);
	/* one sector in, one past the end: nothing is written */
	assert_int_equal(run(&t, 0, KVM_VIRTIO_BLK_T_OUT, SECTORS - 1, BUF, 1024, R, NULL),
			 KVM_VIRTIO_BLK_S_IOERR);
	assert_img_orig(img, IMG_SIZE - 512, 512, 1);
	assert_int_equal(run(&t, 3, KVM_VIRTIO_BLK_T_OUT, (1ull << 55) + 1, BUF, 512, R, NULL),
			 KVM_VIRTIO_BLK_S_IOERR);      /* sector * 512 wraps to 512 */
	assert_img_orig(img, 512, 512, 1);
	assert_int_equal(run(&t, 6, KVM_VIRTIO_BLK_T_OUT, 0, BUF, 100, R, NULL),
			 KVM_VIRTIO_BLK_S_IOERR);      /* not a multiple of 512 */
	assert_img_orig(img, 0, 512, 1);
	assert_int_equal(run(&t, 9, KVM_VIRTIO_BLK_T_IN, SECTORS, BUF + 0x2000, 512, W, NULL),
			 KVM_VIRTIO_BLK_S_IOERR);
	assert_pattern(&t, BUF + 0x2000, 512);
	assert_int_equal(run(&t, 12, KVM_VIRTIO_BLK_T_IN, SECTORS - 1, BUF + 0x2000, 512, W, NULL),
			 KVM_VIRTIO_BLK_S_OK);         /* the last sector is in */
	t_done(&t);
	unlink(img);
	ram_free(ram);
}

static void test_read_only(void **state)
{
	uint8_t *ram = ram_new(), file[512];
	char img[64];
	struct t t;

	(void)state;
	img_new(img, IMG_SIZE, 1, 0644);
	t_attach(&t, ram, img, 1, NULL);
	driver_init(&t, F_BLK | (1u << KVM_VIRTIO_BLK_F_RO));
	fill(&t, BUF, 512, 5);
	assert_int_equal(run(&t, 0, KVM_VIRTIO_BLK_T_OUT, 0, BUF, 512, R, NULL),
			 KVM_VIRTIO_BLK_S_IOERR);
	assert_img_orig(img, 0, 512, 1);
	assert_int_equal(run(&t, 3, KVM_VIRTIO_BLK_T_IN, 0, BUF + 0x1000, 512, W, NULL),
			 KVM_VIRTIO_BLK_S_OK);
	img_read(img, 0, file, 512);
	assert_memory_equal(ram + BUF + 0x1000, file, 512);
	assert_int_equal(run(&t, 6, KVM_VIRTIO_BLK_T_FLUSH, 0, 0, 0, 0, NULL), KVM_VIRTIO_BLK_S_OK);
	t_done(&t);
	unlink(img);
	ram_free(ram);
}

static void test_unsupported(void **state)
{
	uint8_t *ram = ram_new();
	uint32_t len;
	char img[64];
	struct t t;

	(void)state;
	img_new(img, IMG_SIZE, 1, 0644);
	t_attach(&t, ram, img, 0, NULL);
	driver_init(&t, F_BLK);
	assert_int_equal(run(&t, 0, 11 /* DISCARD */, 0, BUF, 16, R, &len), KVM_VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(len, 1);
	assert_int_equal(run(&t, 3, 0x12345, 0, 0, 0, 0, NULL), KVM_VIRTIO_BLK_S_UNSUPP);
	assert_img_orig(img, 0, 4096, 1);
	t_done(&t);
	unlink(img);
	ram_free(ram);
}

/* Each chain the device cannot frame: DEVICE_NEEDS_RESET, nothing used,
 * and after a reset the device works again. */
static void test_malformed(void **state)
{
	uint8_t *ram = ram_new();
	char img[64];
	struct t t;
	const struct seg bad[][3] = {
		{ { HDRS, 16, R }, { BUF, 512, R } },                  /* no status */
		{ { HDRS, 8, R }, { STS, 1, W } },                     /* header short */
		{ { HDRS, 16, W }, { STS, 1, W } },                    /* header writable */
		{ { HDRS, 16, R }, { STS, 1, R } },                    /* status readable */
		{ { HDRS, 16, R }, { BUF, 512, W }, { STS, 1, R } },   /* ... after data */
	};
	const unsigned nsegs[] = { 2, 2, 2, 2, 3 };

	(void)state;
	img_new(img, IMG_SIZE, 1, 0644);
	t_attach(&t, ram, img, 0, NULL);
	for (unsigned i = 0; i < sizeof(nsegs) / sizeof(nsegs[0]); i++) {
		driver_init(&t, F_BLK);
		hdr_put(&t, HDRS, KVM_VIRTIO_BLK_T_OUT, 0);
		fill(&t, BUF, 512, 3);
		chain(&t, 0, bad[i], nsegs[i]);
		wr(&t, QNOTIFY, 0);
		wait_needs_reset(&t);
		assert_int_equal(used_idx(&t), 0);
		assert_int_equal(status_of(&t, 0), PATTERN);
		assert_img_orig(img, 0, 512, 1);
	}
	driver_init(&t, F_BLK);
	assert_false(rd(&t, STATUS) & KVM_VIRTIO_S_NEEDS_RESET);
	assert_int_equal(run(&t, 0, KVM_VIRTIO_BLK_T_IN, 0, BUF, 512, W, NULL), KVM_VIRTIO_BLK_S_OK);
	t_done(&t);
	unlink(img);
	ram_free(ram);
}

/* What the device wrote is marked for pre-copy; what it only read is not. */
static void test_dirty(void **state)
{
	uint8_t *ram = ram_new();
	char img[64];
	struct t t;

	(void)state;
	img_new(img, IMG_SIZE, 1, 0644);
	t_attach(&t, ram, img, 0, NULL);
	driver_init(&t, F_BLK);
	fill(&t, BUF + 0x4000, 512, 1);
	assert_int_equal(run(&t, 0, KVM_VIRTIO_BLK_T_OUT, 8, BUF + 0x4000, 512, R, NULL),
			 KVM_VIRTIO_BLK_S_OK);
	assert_true(page_dirty(&t, STS));
	assert_true(page_dirty(&t, USED));
	assert_false(page_dirty(&t, BUF + 0x4000));       /* read only */
	assert_false(page_dirty(&t, HDRS));
	assert_false(page_dirty(&t, DESC));
	memset(t.dirty, 0, sizeof(t.dirty));
	/* an IN over two pages: both marked, the next one not */
	assert_int_equal(run(&t, 3, KVM_VIRTIO_BLK_T_IN, 8, BUF + 0x7e00, 1024, W, NULL),
			 KVM_VIRTIO_BLK_S_OK);
	assert_true(page_dirty(&t, BUF + 0x7000));
	assert_true(page_dirty(&t, BUF + 0x8000));
	assert_false(page_dirty(&t, BUF + 0x9000));
	assert_false(page_dirty(&t, BUF + 0x6000));
	assert_true(page_dirty(&t, STS));
	t_done(&t);
	unlink(img);
	ram_free(ram);
}

/* ---- a request held in flight: its IN buffer is a missing page ---- */

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

/* The I/O thread faulted on the page: it is inside the request. */
static void uffd_wait(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	struct uffd_msg m;

	assert_int_equal(poll(&p, 1, WAIT_S * 1000), 1);
	assert_int_equal(read(fd, &m, sizeof(m)), sizeof(m));
	assert_int_equal(m.event, UFFD_EVENT_PAGEFAULT);
}

static void uffd_release(int fd, uint8_t *page)
{
	struct uffdio_zeropage z = { .range = { (uintptr_t)page, 4096 } };

	assert_int_equal(ioctl(fd, UFFDIO_ZEROPAGE, &z), 0);
	close(fd);
}

static void *quiesce_main(void *arg)
{
	return (void *)(intptr_t)kvm_virtio_devs_quiesce(arg, 1);
}

static void *reset_main(void *arg)
{
	wr(arg, STATUS, 0);
	return NULL;
}

static void join_in_time(pthread_t th, void **ret)
{
	struct timespec end;

	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += WAIT_S;
	if (pthread_timedjoin_np(th, ret, &end))
		fail_msg("the thread did not finish in %ds: deadlock?", WAIT_S);
}

static size_t state_size(struct t *t)
{
	return t->devs.d[0].ops->state_size(t->devs.d[0].priv);
}

static int save(struct t *t, uint8_t *buf, size_t n)
{
	return t->devs.d[0].ops->save(t->devs.d[0].priv, buf, n);
}

/* quiesce waits for the request in flight, then takes no new one. */
static void test_quiesce(void **state)
{
	uint8_t *ram = ram_new(), *blob;
	pthread_t th;
	void *ret;
	char img[64];
	struct t t;
	int fd;

	(void)state;
	img_new(img, IMG_SIZE, 1, 0644);
	t_attach(&t, ram, img, 0, NULL);
	driver_init(&t, F_BLK);
	blob = malloc(state_size(&t));
	if ((fd = uffd_hold(ram + FAULTPG)) < 0)
		skip();
	req(&t, 0, KVM_VIRTIO_BLK_T_IN, 0, FAULTPG, 4096, W);
	wr(&t, QNOTIFY, 0);
	uffd_wait(fd);
	assert_int_equal(save(&t, blob, state_size(&t)), -EBUSY);
	assert_int_equal(pthread_create(&th, NULL, quiesce_main, &t.devs), 0);
	assert_int_equal(pthread_tryjoin_np(th, NULL), EBUSY);   /* the page is still held */
	uffd_release(fd, ram + FAULTPG);
	join_in_time(th, &ret);
	assert_int_equal((intptr_t)ret, 0);
	assert_int_equal(used_idx(&t), 1);          /* drained: completed and pushed */
	assert_int_equal(status_of(&t, 0), KVM_VIRTIO_BLK_S_OK);
	assert_int_equal(ram[FAULTPG], img_byte(0, 1));
	assert_int_equal(save(&t, blob, state_size(&t)), 0);
	/* quiesced: a new request waits, the section still saves */
	req(&t, 3, KVM_VIRTIO_BLK_T_IN, 0, BUF, 512, W);
	wr(&t, QNOTIFY, 0);
	assert_int_equal(save(&t, blob, state_size(&t)), 0);
	assert_int_equal(kvm_virtio_devs_quiesce(&t.devs, 0), 0);
	wait_used(&t, 2);
	assert_int_equal(status_of(&t, 3), KVM_VIRTIO_BLK_S_OK);
	free(blob);
	t_done(&t);
	unlink(img);
	ram_free(ram);
}

/* Reset while the I/O thread is inside a request: no deadlock, and the
 * request's status and used entry are never written. */
static void test_reset_in_flight(void **state)
{
	uint8_t *ram = ram_new();
	pthread_t th;
	char img[64];
	struct t t;
	int fd;

	(void)state;
	img_new(img, IMG_SIZE, 1, 0644);
	t_attach(&t, ram, img, 0, NULL);
	driver_init(&t, F_BLK);
	if ((fd = uffd_hold(ram + FAULTPG)) < 0)
		skip();
	req(&t, 0, KVM_VIRTIO_BLK_T_IN, 0, FAULTPG, 4096, W);
	req(&t, 3, KVM_VIRTIO_BLK_T_IN, 0, BUF, 512, W);        /* pending behind it */
	wr(&t, QNOTIFY, 0);
	uffd_wait(fd);
	assert_int_equal(pthread_create(&th, NULL, reset_main, &t), 0);
	join_in_time(th, NULL);                     /* reset did not wait for the I/O */
	assert_int_equal(rd(&t, STATUS), 0);
	uffd_release(fd, ram + FAULTPG);
	assert_int_equal(kvm_virtio_quiesce(t.d, 1), 0);   /* the thread is done with it */
	assert_int_equal(used_idx(&t), 0);
	assert_int_equal(status_of(&t, 0), PATTERN);
	assert_int_equal(status_of(&t, 3), PATTERN);
	assert_pattern(&t, BUF, 512);
	assert_int_equal(t.level, 0);
	assert_int_equal(kvm_virtio_quiesce(t.d, 0), 0);
	driver_init(&t, F_BLK);
	assert_int_equal(run(&t, 0, KVM_VIRTIO_BLK_T_IN, 0, BUF, 512, W, NULL), KVM_VIRTIO_BLK_S_OK);
	t_done(&t);
	unlink(img);
	ram_free(ram);
}

/* ---- state ---- */

#define SEC_FIXED 76             /* the transport's part for one queue */
#define KEPT_AT (SEC_FIXED + 37) /* size, ro, serial, print, then kept */

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
	uint8_t *b;

	*n = state_size(t);
	assert_non_null(b = malloc(*n));
	assert_int_equal(save(t, b, *n), 0);
	return b;
}

static void test_save_load(void **state)
{
	uint8_t *ram = ram_new(), *blob, *again;
	char img[64];
	struct t a, b;
	size_t n, m;

	(void)state;
	img_new(img, IMG_SIZE, 1, 0644);
	t_attach(&a, ram, img, 0, "sn1");
	driver_init(&a, F_BLK);
	fill(&a, BUF, 512, 4);
	assert_int_equal(run(&a, 0, KVM_VIRTIO_BLK_T_OUT, 20, BUF, 512, R, NULL), KVM_VIRTIO_BLK_S_OK);
	assert_int_equal(kvm_virtio_devs_quiesce(&a.devs, 1), 0);
	req(&a, 3, KVM_VIRTIO_BLK_T_IN, 20, BUF + 0x1000, 512, W);   /* notified, not taken */
	wr(&a, QNOTIFY, 0);
	blob = save_new(&a, &n);
	assert_int_equal(n, SEC_FIXED + KVM_VIRTIO_BLK_STATE_SIZE);
	assert_int_equal(used_idx(&a), 1);
	t_done(&a);

	t_attach(&b, ram, img, 0, "sn1");
	assert_int_equal(load(&b, blob, n), 0);
	wait_used(&b, 2);                /* served after the load, without a notify */
	assert_int_equal(status_of(&b, 3), KVM_VIRTIO_BLK_S_OK);
	assert_memory_equal(ram + BUF + 0x1000, ram + BUF, 512);
	b.avail_idx = 2;
	assert_int_equal(run(&b, 6, KVM_VIRTIO_BLK_T_IN, 20, BUF + 0x2000, 512, W, NULL),
			 KVM_VIRTIO_BLK_S_OK);
	assert_memory_equal(ram + BUF + 0x2000, ram + BUF, 512);
	assert_int_equal(kvm_virtio_devs_quiesce(&b.devs, 1), 0);
	again = save_new(&b, &m);
	assert_int_equal(m, n);
	/* the same identity; only the kept flag may differ (b took its print
	 * at the load, a's write came after its print) */
	assert_memory_equal(again + SEC_FIXED, blob + SEC_FIXED, KEPT_AT - SEC_FIXED);
	free(again);
	t_done(&b);
	free(blob);
	unlink(img);
	ram_free(ram);
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
	char img[64], other[64], small[64];
	const char *differs = "the disk differs from the source's";
	struct t a, b;
	size_t n;
	uint32_t bl;

	(void)state;
	img_new(img, IMG_SIZE, 1, 0644);
	img_new(other, IMG_SIZE, 1, 0644);
	img_new(small, IMG_SIZE - 512, 1, 0644);
	t_attach(&a, ram, img, 0, "s");
	driver_init(&a, F_BLK);
	blob = save_new(&a, &n);
	t_done(&a);
	assert_non_null(bad = malloc(n));

	t_attach(&b, ram, small, 0, "s");           /* another size */
	refused(&b, blob, n, differs);
	t_done(&b);
	t_attach(&b, ram, img, 1, "s");             /* read-only here, not there */
	refused(&b, blob, n, differs);
	t_done(&b);
	t_attach(&b, ram, img, 0, "t");             /* another serial */
	refused(&b, blob, n, differs);
	t_done(&b);
	img_poke(other, IMG_SIZE - 1, 0);           /* the last MiB differs */
	t_attach(&b, ram, other, 0, "s");
	refused(&b, blob, n, differs);
	t_done(&b);
	img_poke(other, IMG_SIZE - 1, img_byte(IMG_SIZE - 1, 1));
	img_poke(other, 5, 0);                      /* the first MiB differs */
	t_attach(&b, ram, other, 0, "s");
	refused(&b, blob, n, differs);
	t_done(&b);

	t_attach(&b, ram, img, 0, "s");
	refused(&b, blob, n - 1, "length");         /* the section cut short */
	memcpy(bad, blob, n);                       /* the disk's bytes cut short */
	bl = KVM_VIRTIO_BLK_STATE_SIZE - 1;
	memcpy(bad + SEC_FIXED - 4, &bl, 4);
	refused(&b, bad, n - 1, "length");
	memcpy(bad, blob, n);
	bad[SEC_FIXED + 8] = 2;                     /* read-only flag neither 0 nor 1 */
	refused(&b, bad, n, "flags");
	memcpy(bad, blob, n);
	bad[KEPT_AT] = 2;                           /* kept flag neither 0 nor 1 */
	refused(&b, bad, n, "flags");
	assert_int_equal(load(&b, blob, n), 0);     /* the real one still loads */
	t_done(&b);
	free(bad);
	free(blob);
	unlink(img);
	unlink(other);
	unlink(small);
	ram_free(ram);
}


static int save_prepare(struct t *t)
{
	return t->devs.d[0].ops->save_prepare(t->devs.d[0].priv);
}

/* Saves a's disk with a write into sector `sector` after save_prepare;
 * the destination b (on image dst) opened before that write. */
static uint8_t *save_after_write(struct t *a, struct t *b, uint8_t *ram, const char *src,
				 const char *dst, uint64_t sector, size_t *n)
{
	uint8_t *blob;

	t_attach(a, ram, src, 0, "s");
	driver_init(a, F_BLK);
	fill(a, BUF, 512, 4);              /* a span written before: print taken again */
	assert_int_equal(run(a, 0, KVM_VIRTIO_BLK_T_OUT, 1, BUF, 512, R, NULL),
			 KVM_VIRTIO_BLK_S_OK);
	assert_int_equal(save_prepare(a), 0);
	t_attach(b, ram, dst, 0, "s");
	assert_int_equal(run(a, 3, KVM_VIRTIO_BLK_T_OUT, sector, BUF, 512, R, NULL),
			 KVM_VIRTIO_BLK_S_OK);
	assert_int_equal(kvm_virtio_devs_quiesce(&a->devs, 1), 0);
	blob = save_new(a, n);
	t_done(a);
	return blob;
}

/* The fingerprint is read before the pause (at opening, at save_prepare)
 * and kept while no write touches the first or last MiB: then neither end
 * reads the disk inside the pause. A write there makes both read again. */
static void test_print_kept(void **state)
{
	uint8_t *ram = ram_new(), *blob;
	char img[64], copy[64];
	struct t a, b;
	size_t n;

	(void)state;
	img_new(img, IMG_SIZE, 1, 0644);
	img_new(copy, IMG_SIZE, 1, 0644);

	/* middle of the disk: kept; a change behind both devices' backs goes
	 * unseen, which shows that the load did not read the disk */
	blob = save_after_write(&a, &b, ram, img, img, (IMG_SIZE / 2) / 512, &n);
	assert_int_equal(blob[KEPT_AT], 1);
	img_poke(img, 700, 0x5a);
	assert_int_equal(load(&b, blob, n), 0);
	t_done(&b);
	free(blob);

	/* the first MiB: not kept; the destination on the same image reads
	 * it again and takes the state... */
	blob = save_after_write(&a, &b, ram, img, img, 8, &n);
	assert_int_equal(blob[KEPT_AT], 0);
	assert_int_equal(load(&b, blob, n), 0);
	t_done(&b);
	free(blob);
	/* ...one on a copy from before the write reads it again and refuses */
	blob = save_after_write(&a, &b, ram, img, copy, (IMG_SIZE - 4096) / 512, &n);
	assert_int_equal(blob[KEPT_AT], 0);
	assert_int_equal(load(&b, blob, n), -EINVAL);
	if (!strstr(b.why, "the disk differs from the source's"))
		fail_msg("refused with \"%s\"", b.why);
	t_done(&b);
	free(blob);
	unlink(img);
	unlink(copy);
	ram_free(ram);
}

/* The identity HELLO carries: the device list's entries, checked on the
 * destination before anything moves. */
static void test_identity(void **state)
{
	uint8_t *ram = ram_new(), id[256], bad[256];
	char img[64], other[64], why[200];
	struct kvm_devs none = { .n = 0 };
	struct t a, b;
	long n;

	(void)state;
	img_new(img, IMG_SIZE, 1, 0644);
	img_new(other, IMG_SIZE, 1, 0644);
	img_poke(other, 5, 0);                  /* same size, another first MiB */
	t_attach(&a, ram, img, 0, "s");
	assert_int_equal(save_prepare(&a), 0);
	n = kvm_devs_identity(&a.devs, id, sizeof(id));
	assert_int_equal(n, 12 + KVM_VIRTIO_BLK_STATE_SIZE);
	assert_int_equal(id[12 + KEPT_AT - SEC_FIXED], 1);
	assert_int_equal(kvm_devs_identity(&a.devs, id, (size_t)n - 1), -ENOSPC);

	t_attach(&b, ram, img, 0, "s");         /* the same image: taken */
	assert_int_equal(kvm_devs_identity_check(&b.devs, id, (size_t)n, why, sizeof(why)), 0);
	assert_int_equal(kvm_devs_identity_check(&b.devs, id, (size_t)n - 1, why, sizeof(why)),
			 -EINVAL);
	assert_int_equal(kvm_devs_identity_check(&b.devs, id, 0, why, sizeof(why)), -ENODEV);
	assert_non_null(strstr(why, "disk 1: the source named no such device"));
	memcpy(bad, id, (size_t)n);
	bad[4] = 1;                             /* the second disk: not here */
	assert_int_equal(kvm_devs_identity_check(&b.devs, bad, (size_t)n, why, sizeof(why)),
			 -ENODEV);
	assert_int_equal(kvm_devs_identity_check(&none, id, (size_t)n, why, sizeof(why)), -ENODEV);
	t_done(&b);
	t_attach(&b, ram, other, 0, "s");       /* another image: refused, by its print */
	assert_int_equal(kvm_devs_identity_check(&b.devs, id, (size_t)n, why, sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, "disk 1: the disk differs from the source's: its first"));
	memcpy(bad, id, (size_t)n);
	bad[12 + KEPT_AT - SEC_FIXED] = 0;      /* a print not kept: left to the pause */
	assert_int_equal(kvm_devs_identity_check(&b.devs, bad, (size_t)n, why, sizeof(why)), 0);
	t_done(&b);
	t_done(&a);
	unlink(img);
	unlink(other);
	ram_free(ram);
}

/* ---- opening ---- */

static void open_fails(uint8_t *ram, const char *path, int ro, const char *serial, int err)
{
	struct t t;

	assert_int_equal(t_attach_rc(&t, ram, path, ro, serial), err);
	assert_int_equal(t.devs.n, 0);
	assert_int_equal(t.bus.n, 0);
	if (!strstr(t.why, path))
		fail_msg("reason \"%s\" does not name %s", t.why, path);
	pthread_cond_destroy(&t.cv);
	pthread_mutex_destroy(&t.mu);
}

static void test_open_errors(void **state)
{
	uint8_t *ram = ram_new();
	char odd[64], empty[64], ro[64], ok[64];
	struct t t;

	(void)state;
	img_new(odd, 1000, 1, 0644);
	img_new(empty, 0, 1, 0644);
	img_new(ro, IMG_SIZE, 1, 0444);
	img_new(ok, IMG_SIZE, 1, 0644);
	open_fails(ram, "/tmp/pcm-test-blk-no-such-file", 0, NULL, -ENOENT);
	open_fails(ram, "/tmp/pcm-test-blk-no-such-file", 1, NULL, -ENOENT);
	open_fails(ram, "/tmp", 0, NULL, -EISDIR);
	open_fails(ram, "/tmp", 1, NULL, -EISDIR);
	open_fails(ram, "/dev/null", 1, NULL, -EINVAL);   /* not a regular file */
	open_fails(ram, odd, 0, NULL, -EINVAL);
	open_fails(ram, empty, 1, NULL, -EINVAL);
	open_fails(ram, ro, 0, NULL, -EACCES);            /* writable open of a 0444 file */
	open_fails(ram, ok, 0, "0123456789abcdefghijk", -EINVAL);   /* serial of 21 */
	if (geteuid()) {                                  /* root reads anything */
		chmod(ok, 0);
		open_fails(ram, ok, 1, NULL, -EACCES);
		chmod(ok, 0644);
	}
	t_attach(&t, ram, ro, 1, NULL);                   /* read-only is fine */
	t_done(&t);
	unlink(odd);
	unlink(empty);
	unlink(ro);
	unlink(ok);
	ram_free(ram);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_features),
		cmocka_unit_test(test_write_read),
		cmocka_unit_test(test_multi_seg),
		cmocka_unit_test(test_flush_get_id),
		cmocka_unit_test(test_out_of_range),
		cmocka_unit_test(test_read_only),
		cmocka_unit_test(test_unsupported),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_dirty),
		cmocka_unit_test(test_quiesce),
		cmocka_unit_test(test_reset_in_flight),
		cmocka_unit_test(test_save_load),
		cmocka_unit_test(test_load_refusals),
		cmocka_unit_test(test_print_kept),
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_open_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
