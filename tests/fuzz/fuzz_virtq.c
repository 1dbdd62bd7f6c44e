/* tests/fuzz/fuzz_virtq.c - libFuzzer target: a guest's virtqueue and a
 * virtio device's state section are outside input (kvm/dev/virtq.c,
 * kvm/dev/virtio_mmio.c).
 *
 * Input byte 0 picks the decoder:
 *   even  the split-virtqueue walker. Bytes 1..16 are the queue: size
 *         (a power of two from its low bits), the three ring offsets in
 *         guest RAM, EVENT_IDX and INDIRECT; the rest is guest RAM itself
 *         (descriptor tables, rings and buffers, all guest-written), in a
 *         buffer exactly that long so ASan sees any access outside it.
 *         The device pops, "serves" (writes every writable buffer, reads
 *         every readable one) and pushes until the ring is empty or a
 *         chain is refused. Promises: pop returns 1, 0 or a negative
 *         errno; every buffer it hands out lies inside guest RAM; a
 *         refused chain leaves the queue unchanged; push only after a pop.
 *   odd   a virtio-rng device's state section: the rest goes to the
 *         device's load, which must refuse it or take it; a section it
 *         took saves back to bytes it takes again.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvm/bus.h"
#include "kvm/dev/dev.h"
#include "kvm/dev/virtio.h"
#include "tests/fuzz/fuzz_check.h"

#define FZV_RAM_MAX (64u << 10)
#define FZV_POPS    64

static struct kvm_virtq_req fzv_req;

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int inside(const struct kvm_guest_mem *m, const void *p, size_t len)
{
	const uint8_t *b = p;

	return b >= m->ram && len <= m->size && (size_t)(b - m->ram) <= m->size - len;
}

static void fzv_walk(const uint8_t *data, size_t len)
{
	struct kvm_guest_mem m = { NULL, 0, NULL };
	struct kvm_virtq q = { 0 };
	size_t ram_len;

	if (len < 17)
		return;
	ram_len = len - 17 > FZV_RAM_MAX ? FZV_RAM_MAX : len - 17;
	if (!ram_len)
		return;
	m.ram = malloc(ram_len);
	FZ_CHECK(m.ram);
	memcpy(m.ram, data + 17, ram_len);
	m.size = ram_len;
	q.size = (uint16_t)(1u << (data[1] % 9));          /* 1..256 */
	q.desc = le32(data + 2) % ram_len;
	q.avail = le32(data + 6) % ram_len;
	q.used = le32(data + 10) % ram_len;
	q.event_idx = data[14] & 1;
	q.indirect = data[14] >> 1 & 1;
	q.ready = 1;
	q.last_avail = (uint16_t)(data[15] | data[16] << 8);
	q.used_idx = q.last_avail;
	if (kvm_virtq_check(&q, &m) == 0) {
		for (int i = 0; i < FZV_POPS; i++) {
			struct kvm_virtq before = q;
			uint16_t old = q.used_idx;
			int r = kvm_virtq_pop(&q, &m, &fzv_req);
			uint32_t wrote = 0;
			volatile uint8_t sink = 0;

			FZ_CHECK(r >= -ELOOP && r <= 1);
			if (r <= 0) {
				if (r < 0)
					FZ_CHECK(!memcmp(&before, &q, sizeof(q)));
				break;
			}
			FZ_CHECK(fzv_req.nread + fzv_req.nwrite <= KVM_VIRTQ_MAX_SEGS);
			for (unsigned s = 0; s < fzv_req.nread + fzv_req.nwrite; s++) {
				struct iovec *v = &fzv_req.iov[s];

				FZ_CHECK(inside(&m, v->iov_base, v->iov_len));
				if (s < fzv_req.nread) {
					for (size_t b = 0; b < v->iov_len; b++)
						sink ^= ((uint8_t *)v->iov_base)[b];
				} else {
					memset(v->iov_base, 0xa5, v->iov_len);
					wrote += (uint32_t)v->iov_len;
				}
			}
			(void)sink;
			FZ_CHECK(kvm_virtq_push(&q, &m, fzv_req.head, wrote) == 0);
			(void)kvm_virtq_need_irq(&q, &m, old);
		}
	}
	free(m.ram);
}

static void fzv_irq(void *ctx, unsigned gsi, int level)
{
	(void)ctx;
	(void)gsi;
	(void)level;
}

static void fzv_state(const uint8_t *data, size_t len)
{
	static uint8_t ram[FZV_RAM_MAX];
	struct kvm_virtio_mmio_config c = {
		.mem = { ram, sizeof(ram), NULL }, .base = 0xd0000000, .gsi = 16, .irq = fzv_irq,
	};
	struct kvm_bus bus = { 0 };
	struct kvm_devs devs = { 0 };
	struct kvm_virtio *d;
	char why[200] = "";
	const struct kvm_dev_ops *ops;
	uint8_t *copy = malloc(len ? len : 1), *back;
	size_t n;

	FZ_CHECK(copy);
	memcpy(copy, data, len);
	FZ_CHECK(kvm_virtio_mmio_attach(&bus, &devs, &c, &kvm_virtio_rng, NULL, &d) == 0);
	ops = devs.d[0].ops;
	if (ops->load(devs.d[0].priv, ops->version, copy, len, why, sizeof(why)) == 0) {
		ops->activate(devs.d[0].priv);
		n = ops->state_size(devs.d[0].priv);
		back = malloc(n ? n : 1);
		FZ_CHECK(back);
		FZ_CHECK(ops->save(devs.d[0].priv, back, n) == 0);
		FZ_CHECK(ops->load(devs.d[0].priv, ops->version, back, n, why, sizeof(why)) == 0);
		free(back);
	} else {
		FZ_CHECK(why[0]);
	}
	kvm_devs_destroy(&devs);
	free(copy);
}

int fuzz_virtq_one(const uint8_t *data, size_t len)
{
	if (!len)
		return 0;
	if (data[0] & 1)
		fzv_state(data + 1, len - 1);
	else
		fzv_walk(data, len);
	return 0;
}

#ifndef FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	return fuzz_virtq_one(data, len);
}
#endif
