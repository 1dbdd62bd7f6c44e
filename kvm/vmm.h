/* kvm/vmm.h - inside kvm/: the VMM's shared structures.
 *
 * One struct kvm_vm per machine: the /dev/kvm, VM and vCPU descriptors,
 * guest RAM (one memfd, mapped once, contiguous in the VMM; given to KVM as
 * one or two memory slots around the hole below 4 GiB), the I/O buses with
 * the devices on them (kvm/dev/) and the vCPU threads. Files:
 *   sys.c    /dev/kvm: open, probe, capabilities, CPUID and MSR lists
 *   mem.c    guest RAM, memory slots, dirty log
 *   boot.c   page tables, GDT, payload image, first registers
 *   vcpu.c   vCPU threads: run loop, exits, pause/resume
 *   state.c  the state blob: save and restore of vCPUs and devices
 *   engine.c the machine_engine the rest of the project sees
 *   crash.c  why the guest stopped on its own (crash or chosen end)
 *   linux.c  booting a Linux guest (kvm/x86/: boot protocol, ACPI)
 *   agent.c  what a Linux guest's agent says on its console (agent.h)
 *   bus.c    port I/O and MMIO address decoding
 *   dev/     the devices: list and IRQ lines (dev.c), COM1 (com1.c over
 *            the uart.c model), the payload pseudo-device (payload.c)
 */
#ifndef KVM_VMM_H
#define KVM_VMM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>

#include "kvm/bus.h"
#include "kvm/dev/dev.h"
#include "vm/engine.h"

#define KVM_MAX_MSRS    256
#define KVM_MAX_CPUID   256

/* Why a VM stopped on its own: a crash (not a host error), or an end the
 * guest chose (poweroff, reset: enum machine_end). Either parks every
 * vCPU for good and makes end_fd readable. */
struct kvm_crash {
	_Atomic int crashed;
	_Atomic int ended;
	char why[160];
	int end_fd;                              /* eventfd, -1 before set-up */
};

struct kvm_vcpu {
	_Alignas(64) _Atomic uint32_t parked;    /* futex: 1 while parked */
	_Atomic uint64_t heartbeats;
	_Atomic uint32_t ready;                  /* the payload said so */
	struct kvm_vm *vm;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t th;
	unsigned idx;
	int io_pending;                          /* last exit needs completion */
	struct kvm_cpuid2 *cpuid;                /* what KVM_SET_CPUID2 got */
};

struct kvm_agent;

struct kvm_vm {
	_Alignas(64) _Atomic uint32_t go;        /* futex: VCPU_* (idlers wait) */
	_Atomic uint32_t gen;                    /* futex: parked vCPUs wait */
	pthread_mutex_t lock;                    /* control operations */
	int state;                               /* KS_* */
	int sys_fd, vm_fd;
	int memfd;
	uint8_t *ram;                            /* contiguous host view */
	uint64_t ram_size;
	unsigned nslots;
	unsigned n;
	struct kvm_vcpu *v;
	unsigned nthreads;
	struct kvm_cpuid2 *cpuid;                /* what the guest is given */
	uint32_t msrs[KVM_MAX_MSRS];             /* saved MSRs, TSC first */
	unsigned nmsrs;
	uint64_t tsc_khz;
	size_t xsave_size;
	struct kvm_bus pio, mmio;                /* fixed before the vCPUs run */
	struct kvm_devs devs;
	struct kvm_crash crash;
	_Atomic uint64_t pause_last, pause_max;
	int console_fd;                          /* -1: none */
	struct kvm_agent *agent;                 /* Linux guests: what COM1 hears */
	int vcpu_nice;                           /* machine_vcpu_nice() at start */
	int loaded;                              /* incoming VM holds a state */
	int ran;                                 /* vCPUs were started once */
	char why[160];                           /* reason for the last failure */
	_Atomic uint64_t host_dirty0;            /* VMM wrote page 0 (boot page) */
	_Atomic uint64_t *dev_dirty;             /* pages devices wrote (kvm_gpa_wrote) */
};

enum { VCPU_GO = 0, VCPU_PAUSE = 1, VCPU_STOP = 2 };
enum { KS_CREATED, KS_RUNNING, KS_PAUSED };

/* sys.c */
int kvm_sys_open(char *why, size_t len);
int kvm_sys_cpuid(int sys_fd, struct kvm_cpuid2 **out);
int kvm_sys_msrs(struct kvm_vm *vm);

/* mem.c */
int kvm_mem_create(struct kvm_vm *vm, uint64_t ram_size);
void kvm_mem_destroy(struct kvm_vm *vm);
unsigned kvm_mem_regions(const struct kvm_vm *vm, struct machine_region *r);
int kvm_mem_dirty_log(struct kvm_vm *vm, int on);
int kvm_mem_dirty_get(struct kvm_vm *vm, uint64_t *bitmap, uint64_t npages);

/* boot.c */
int kvm_boot_write(struct kvm_vm *vm, unsigned nvcpus, const struct wl_params *p);
int kvm_boot_vcpu(struct kvm_vm *vm, struct kvm_vcpu *v);

/* vcpu.c */
int kvm_vcpu_create(struct kvm_vm *vm, struct kvm_vcpu *v, unsigned idx);
void kvm_vcpu_destroy(struct kvm_vcpu *v);
int kvm_vcpu_cpuid(struct kvm_vcpu *v, const struct kvm_cpuid2 *c, int own_apic_id);
int kvm_vcpus_spawn(struct kvm_vm *vm);
void kvm_vcpus_stop(struct kvm_vm *vm);
int kvm_vcpus_pause(struct kvm_vm *vm);
void kvm_vcpus_resume(struct kvm_vm *vm);

/* state.c */
size_t kvm_state_size(const struct kvm_vm *vm);
ssize_t kvm_state_save(struct kvm_vm *vm, const struct machine_config *c,
		       void *buf, size_t cap);
int kvm_state_load(struct kvm_vm *vm, struct machine_config *c,
		   const void *buf, size_t len);

/* dev/: each registers itself on the VM's buses and device list, which
 * then own it. */
/* COM1 at 0x3f8, IRQ 4, output to out_fd; also at mmio_base when not 0. */
int kvm_com1_add(struct kvm_vm *vm, int out_fd, uint64_t mmio_base);
/* The payload guest's heartbeat/ready/idle MMIO and panic port. */
int kvm_payload_dev_add(struct kvm_vm *vm);
/* Power control at KVM_POWER_PORT (the ACPI sleep and reset registers)
 * and the i8042's reset line at 0x64: the guest's way to end the VM. */
#define KVM_POWER_PORT 0x600
int kvm_power_add(struct kvm_vm *vm);

/* linux.c: load the bzImage, initrd, command line and ACPI tables of
 * c->linux into RAM and point vCPU 0 at the kernel's 64-bit entry; the
 * other vCPUs wait for the guest's INIT/SIPI. The reason in vm->why. */
int kvm_linux_boot(struct kvm_vm *vm, const struct machine_config *c);
/* A Linux guest's devices: COM1, power control, virtio-rng. */
int kvm_linux_devs_add(struct kvm_vm *vm, const struct machine_config *c);

void kvm_crash_set(struct kvm_vm *vm, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Put the reason of a failure in vm->why; returns err. */
int kvm_why_set(struct kvm_vm *vm, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The guest ended itself (how: enum machine_end); the first word wins. */
void kvm_end_set(struct kvm_vm *vm, int how);
/* Crashed or ended: the vCPUs must not run again. */
static inline int kvm_stopped(struct kvm_vm *vm)
{
	return atomic_load(&vm->crash.crashed) || atomic_load(&vm->crash.ended);
}

#endif
