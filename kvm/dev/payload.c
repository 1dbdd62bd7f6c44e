/* kvm/dev/payload.c - the pseudo-device only payload guests have
 * (guest/pc/pc.h): ring 3's heartbeat, ready and idle registers in the
 * MMIO page at PC_MMIO_BASE (after the UART's alias), and ring 0's panic
 * port, where the payload's exception handler names the vector. It has no
 * guest-visible state to migrate: heartbeats are the host's counters, and
 * what the workloads keep lives in guest RAM.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "guest/pc/pc.h"
#include "lib/futex.h"
#include "kvm/vmm.h"

#define PC_IDLE_MAX_NS 1000000   /* the guest's timer ticks every ms anyway */
#define PAYLOAD_MMIO_FIRST PC_MMIO_HEARTBEAT

/* An exception in the payload: name the vector and the faulting RIP, which
 * the exception frame on the vCPU's stack holds (one word further when the
 * CPU pushed an error code). */
static void payload_panic(struct kvm_vcpu *v, uint32_t vector)
{
	static const uint32_t with_code = (1u << 8) | (0x1fu << 10) | (1u << 17) |
					  (1u << 21) | (1u << 29) | (1u << 30);
	struct kvm_regs r;
	uint64_t rip = 0, at;

	if (ioctl(v->fd, KVM_GET_REGS, &r) == 0) {
		at = r.rsp + ((vector < 32 && (with_code >> vector) & 1) ? 8 : 0);
		if (at + 8 <= v->vm->ram_size && at < PC_LOW_END)
			memcpy(&rip, v->vm->ram + at, 8);
	}
	kvm_crash_set(v->vm, "guest exception %u on vCPU %u at rip %#llx", vector,
		      v->idx, (unsigned long long)rip);
}

/* The payload's idle: sleep until the deadline or a pause, whichever
 * comes first (pause wakes the futex on go). */
static void payload_idle(struct kvm_vcpu *v, uint64_t ns)
{
	struct timespec ts;

	if (ns > PC_IDLE_MAX_NS)
		ns = PC_IDLE_MAX_NS;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)ns;
	pcm_futex_wait(&v->vm->go, VCPU_GO, &ts);
}

static uint64_t le_value(const uint8_t *data, unsigned len)
{
	uint64_t val = 0;

	memcpy(&val, data, len < 8 ? len : 8);
	return val;
}

static void payload_mmio(void *dev, struct kvm_vcpu *v, uint64_t off, uint8_t *data,
			 unsigned len, int is_write)
{
	(void)dev;
	if (!is_write) {
		memset(data, 0xff, len);   /* write-only registers */
		return;
	}
	switch (off + PAYLOAD_MMIO_FIRST) {
	case PC_MMIO_HEARTBEAT:
		atomic_fetch_add_explicit(&v->heartbeats, 1, memory_order_relaxed);
		break;
	case PC_MMIO_READY:
		atomic_store(&v->ready, 1);
		break;
	case PC_MMIO_IDLE:
		payload_idle(v, le_value(data, len));
		break;
	}
}

static void payload_pio(void *dev, struct kvm_vcpu *v, uint64_t off, uint8_t *data,
			unsigned len, int is_write)
{
	(void)dev;
	if (!is_write)
		memset(data, 0xff, len);
	else if (off == 0)
		payload_panic(v, (uint32_t)le_value(data, len));
}

static const struct kvm_dev_ops payload_ops = {
	.name = "payload device",
	.kind = KVM_DEV_PAYLOAD,
	.version = 1,
};

int kvm_payload_dev_add(struct kvm_vm *vm)
{
	int r;

	if ((r = kvm_devs_add(&vm->devs, &payload_ops, NULL)) ||
	    (r = kvm_bus_add(&vm->mmio, PC_MMIO_BASE + PAYLOAD_MMIO_FIRST,
			     4096 - PAYLOAD_MMIO_FIRST, payload_mmio, NULL)) ||
	    (r = kvm_bus_add(&vm->pio, PC_PORT_PANIC, 4, payload_pio, NULL)))
		return r;
	return 0;
}
