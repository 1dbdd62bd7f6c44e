/* kvm/bus.c - address decoding for the port I/O and MMIO buses (bus.h). */
#include <errno.h>
#include <string.h>

#include "kvm/bus.h"

int kvm_bus_add(struct kvm_bus *b, uint64_t base, uint64_t len, kvm_io_fn *fn, void *dev)
{
	if (!len || base + len < base || !fn)
		return -EINVAL;
	for (unsigned i = 0; i < b->n; i++)
		if (base < b->r[i].base + b->r[i].len && b->r[i].base < base + len)
			return -EEXIST;
	if (b->n == KVM_BUS_MAX_RANGES)
		return -ENOSPC;
	b->r[b->n++] = (struct kvm_io_range){ base, len, fn, dev };
	return 0;
}

static const struct kvm_io_range *bus_find(const struct kvm_bus *b, uint64_t addr)
{
	for (unsigned i = 0; i < b->n; i++)
		if (addr - b->r[i].base < b->r[i].len)
			return &b->r[i];
	return NULL;
}

int kvm_bus_access(const struct kvm_bus *b, struct kvm_vcpu *v, uint64_t addr,
		   uint8_t *data, unsigned len, int is_write)
{
	const struct kvm_io_range *r = bus_find(b, addr);
	uint64_t off;

	if (!r) {
		if (!is_write)
			memset(data, 0xff, len);
		return -ENOENT;
	}
	off = addr - r->base;
	if (len > r->len - off) {
		if (!is_write)
			memset(data + (r->len - off), 0xff, len - (r->len - off));
		len = (unsigned)(r->len - off);
	}
	r->fn(r->dev, v, off, data, len, is_write);
	return 0;
}
