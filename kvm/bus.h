/* kvm/bus.h - the VMM's two I/O buses: port I/O and MMIO.
 *
 * As in kvmtool, a device registers the address ranges it decodes on a
 * bus, with one handler; a vCPU exit for an address goes to the device
 * that owns it. An access nobody decodes reads as all ones and a write to
 * it goes nowhere, as on a PC's floating bus: the guest probes ports that
 * are not there, and that must not stop it.
 *
 * Ranges are registered while the VM is built, before any vCPU runs, and
 * never change after: lookups take no lock. A handler runs on the vCPU's
 * thread, so several may run at once; a device serialises itself.
 */
#ifndef KVM_BUS_H
#define KVM_BUS_H

#include <stdint.h>

#define KVM_BUS_MAX_RANGES 32

struct kvm_vcpu;

/* One access of len (1, 2, 4 or 8) bytes at offset off inside the range;
 * data holds what is written, or receives what is read. */
typedef void kvm_io_fn(void *dev, struct kvm_vcpu *v, uint64_t off, uint8_t *data,
		       unsigned len, int is_write);

struct kvm_io_range {
	uint64_t base, len;
	kvm_io_fn *fn;
	void *dev;
};

struct kvm_bus {
	struct kvm_io_range r[KVM_BUS_MAX_RANGES];
	unsigned n;
};

/* -EINVAL for an empty or wrapping range, -EEXIST when it overlaps one
 * already there, -ENOSPC when the bus is full. */
int kvm_bus_add(struct kvm_bus *b, uint64_t base, uint64_t len, kvm_io_fn *fn, void *dev);

/* Dispatch one access; 0, or -ENOENT when nothing decodes addr (a read
 * then gets all ones). An access that straddles the end of a range goes to
 * the range it starts in, cut to fit. */
int kvm_bus_access(const struct kvm_bus *b, struct kvm_vcpu *v, uint64_t addr,
		   uint8_t *data, unsigned len, int is_write);

#endif
