/* kvm/dev/virtq.c - guest-physical to host addresses for devices, and
 * split virtqueues (virtio 1.2, 2.7): taking descriptor chains (direct and
 * indirect) from the available ring, returning them on the used ring,
 * interrupt suppression (VIRTIO_F_EVENT_IDX or the NO_INTERRUPT flag).
 *
 * The rings are guest memory that other vCPUs change while we read: every
 * descriptor is copied once before it is checked and used, the avail index
 * is read with acquire order and the used index published with release
 * order. Descriptor indices from the guest are checked against the
 * table's size, never wrapped; each address and length against guest RAM.
 * Fields are little-endian in guest memory, as on the x86 host.
 */
#include <errno.h>
#include <string.h>

#include "guest/pc/pc.h"
#include "kvm/dev/virtio.h"

void *kvm_gpa(const struct kvm_guest_mem *m, uint64_t gpa, uint64_t len)
{
	uint64_t low = m->size < PC_LOW_END ? m->size : PC_LOW_END;
	uint64_t high = m->size - low;

	if (gpa <= low && len <= low - gpa)
		return m->ram + gpa;
	if (gpa >= PC_HIGH_START && gpa - PC_HIGH_START <= high &&
	    len <= high - (gpa - PC_HIGH_START))
		return m->ram + low + (gpa - PC_HIGH_START);
	return NULL;
}

void kvm_gpa_wrote(const struct kvm_guest_mem *m, const void *host, uint64_t len)
{
	uint64_t off = (uint64_t)((const uint8_t *)host - m->ram);

	if (!m->dirty || !len)
		return;
	for (uint64_t p = off / 4096; p <= (off + len - 1) / 4096; p++)
		atomic_fetch_or_explicit(&m->dirty[p / 64], 1ull << (p % 64),
					 memory_order_relaxed);
}

/* Ring layout (2.7.6, 2.7.8): flags, idx, ring[size], then the event
 * field; the areas are 6 + 2 * size and 6 + 8 * size bytes. */
static uint64_t avail_bytes(uint16_t size) { return 6 + 2ull * size; }
static uint64_t used_bytes(uint16_t size) { return 6 + 8ull * size; }

static uint16_t ld16(const uint8_t *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE);
}

static void st16(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, v, __ATOMIC_RELEASE);
}

static int overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;   /* both ranges are in RAM: no wrap */
}

int kvm_virtq_check(const struct kvm_virtq *q, const struct kvm_guest_mem *m)
{
	uint64_t dl = 16ull * q->size, al = avail_bytes(q->size), ul = used_bytes(q->size);

	if (!q->size || q->size > KVM_VIRTQ_MAX || (q->size & (q->size - 1)))
		return -EINVAL;
	if ((q->desc & 15) || (q->avail & 1) || (q->used & 3))
		return -EINVAL;
	if (!kvm_gpa(m, q->desc, dl) || !kvm_gpa(m, q->avail, al) || !kvm_gpa(m, q->used, ul))
		return -EINVAL;
	if (overlap(q->desc, dl, q->avail, al) || overlap(q->desc, dl, q->used, ul) ||
	    overlap(q->avail, al, q->used, ul))
		return -EINVAL;              /* unset (all 0) or scribbling on itself */
	return 0;
}

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static struct desc desc_read(const uint8_t *table, uint32_t i)
{
	struct desc d;
	uint8_t b[16];

	memcpy(b, table + 16ull * i, 16);   /* once: the guest may change it */
	memcpy(&d.addr, b, 8);
	memcpy(&d.len, b + 8, 4);
	memcpy(&d.flags, b + 12, 2);
	memcpy(&d.next, b + 14, 2);
	return d;
}

static int seg_add(const struct kvm_guest_mem *m, const struct desc *d,
		   struct kvm_virtq_req *r)
{
	int w = !!(d->flags & KVM_VIRTQ_DESC_F_WRITE);
	unsigned n = r->nread + r->nwrite;
	void *p;

	if (!w && r->nwrite)
		return -EINVAL;          /* readable after writable (2.7.4.2) */
	if (n == KVM_VIRTQ_MAX_SEGS)
		return -E2BIG;
	if (!(p = kvm_gpa(m, d->addr, d->len)))
		return -EFAULT;
	r->iov[n] = (struct iovec){ .iov_base = p, .iov_len = d->len };
	if (w) {
		r->nwrite++;
		r->write_len += d->len;
	} else {
		r->nread++;
		r->read_len += d->len;
	}
	return 0;
}

/* Walk the chain starting at first in a table of n descriptors; indirect
 * says whether a descriptor here may point at an indirect table. */
static int walk(const struct kvm_guest_mem *m, const uint8_t *table, uint32_t n,
		uint32_t first, int indirect, struct kvm_virtq_req *r)
{
	uint32_t i = first;
	int err;

	for (uint32_t steps = 0;; steps++) {
		struct desc d;

		if (i >= n)
			return -EINVAL;
		if (steps == n)
			return -ELOOP;       /* more links than descriptors */
		d = desc_read(table, i);
		if (d.flags & KVM_VIRTQ_DESC_F_INDIRECT) {
			const uint8_t *t;

			if (!indirect || (d.flags & KVM_VIRTQ_DESC_F_NEXT) ||
			    !d.len || d.len % 16 || d.len / 16 > KVM_VIRTQ_MAX)
				return -EINVAL;
			if (!(t = kvm_gpa(m, d.addr, d.len)))
				return -EFAULT;
			return walk(m, t, d.len / 16, 0, 0, r);
		}
		if ((err = seg_add(m, &d, r)))
			return err;
		if (!(d.flags & KVM_VIRTQ_DESC_F_NEXT))
			return 0;
		i = d.next;
	}
}

/* Is an entry available? With EVENT_IDX, an empty ring first asks the
 * driver to notify at the next one (avail_event), then looks again. */
static int avail_pending(const struct kvm_virtq *q, const struct kvm_guest_mem *m,
			 const uint8_t *av, uint8_t *used, uint16_t *idx)
{
	*idx = ld16(av + 2);
	if (*idx == q->last_avail && q->event_idx) {
		st16(used + 4 + 8ull * q->size, q->last_avail);
		kvm_gpa_wrote(m, used + 4 + 8ull * q->size, 2);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		*idx = ld16(av + 2);
	}
	if ((uint16_t)(*idx - q->last_avail) > q->size)
		return -EINVAL;          /* more entries than the ring holds */
	return *idx != q->last_avail;
}

int kvm_virtq_pop(struct kvm_virtq *q, const struct kvm_guest_mem *m, struct kvm_virtq_req *r)
{
	uint8_t *av, *used, *table;
	uint16_t idx, head;
	int err;

	if (kvm_virtq_check(q, m))
		return -EINVAL;
	av = kvm_gpa(m, q->avail, avail_bytes(q->size));
	used = kvm_gpa(m, q->used, used_bytes(q->size));
	table = kvm_gpa(m, q->desc, 16ull * q->size);
	if ((err = avail_pending(q, m, av, used, &idx)) <= 0)
		return err;
	memcpy(&head, av + 4 + 2ull * (q->last_avail & (q->size - 1)), 2);
	r->head = head;
	r->nread = r->nwrite = 0;
	r->read_len = r->write_len = 0;
	if ((err = walk(m, table, q->size, head, q->indirect, r)))
		return err;
	q->last_avail++;
	return 1;
}

int kvm_virtq_push(struct kvm_virtq *q, const struct kvm_guest_mem *m, uint16_t head, uint32_t len)
{
	uint8_t *u, *e;
	uint32_t id = head;

	if (kvm_virtq_check(q, m))
		return -EFAULT;
	u = kvm_gpa(m, q->used, used_bytes(q->size));
	e = u + 4 + 8ull * (q->used_idx & (q->size - 1));
	memcpy(e, &id, 4);
	memcpy(e + 4, &len, 4);
	q->used_idx++;
	st16(u + 2, q->used_idx);    /* release: the element is seen first */
	kvm_gpa_wrote(m, u + 2, 2);
	kvm_gpa_wrote(m, e, 8);
	return 0;
}

int kvm_virtq_need_irq(const struct kvm_virtq *q, const struct kvm_guest_mem *m, uint16_t old)
{
	const uint8_t *av;
	uint16_t ev;

	if (q->used_idx == old || kvm_virtq_check(q, m))
		return 0;
	/* The used index is out before the driver's wish is read (2.7.10). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	av = kvm_gpa(m, q->avail, avail_bytes(q->size));
	if (!q->event_idx)
		return !(ld16(av) & KVM_VIRTQ_AVAIL_F_NO_INTERRUPT);
	ev = ld16(av + 4 + 2ull * q->size);
	return (uint16_t)(q->used_idx - ev - 1) < (uint16_t)(q->used_idx - old);
}
