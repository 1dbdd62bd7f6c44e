/* kvm/sys.c - /dev/kvm itself: opening it with a reason when it cannot be
 * used, the CPUID table the host offers, and the MSRs a state blob carries.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kvm/vmm.h"

#define MSR_IA32_TSC          0x10
#define MSR_IA32_TSC_DEADLINE 0x6e0

/* The capabilities the engine cannot do without. */
static const struct { int cap; const char *name; } needed[] = {
	{ KVM_CAP_IRQCHIP, "in-kernel irqchip" },
	{ KVM_CAP_PIT2, "in-kernel PIT" },
	{ KVM_CAP_USER_MEMORY, "user memory slots" },
	{ KVM_CAP_IMMEDIATE_EXIT, "immediate_exit" },
	{ KVM_CAP_VCPU_EVENTS, "vCPU events" },
	{ KVM_CAP_DEBUGREGS, "debug registers" },
	{ KVM_CAP_XSAVE, "XSAVE state" },
	{ KVM_CAP_XCRS, "XCRs" },
	{ KVM_CAP_MP_STATE, "MP state" },
	{ KVM_CAP_ADJUST_CLOCK, "KVM clock" },
	{ KVM_CAP_SET_TSS_ADDR, "TSS address" },
	{ KVM_CAP_GET_TSC_KHZ, "TSC frequency" },
};

/* An fd on /dev/kvm that speaks API 12 with every capability we need, or
 * negative errno with the reason in why. */
int kvm_sys_open(char *why, size_t len)
{
	int fd, api, err;

	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		snprintf(why, len, "/dev/kvm: %s", strerror(-err));
		return err;
	}
	api = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (api < 0) {
		err = -errno;
		snprintf(why, len, "/dev/kvm is not a KVM device (%s)", strerror(-err));
		close(fd);
		return -ENOTSUP;
	}
	if (api != KVM_API_VERSION) {
		snprintf(why, len, "/dev/kvm speaks API %d, not %d", api, KVM_API_VERSION);
		close(fd);
		return -ENOTSUP;
	}
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		if (ioctl(fd, KVM_CHECK_EXTENSION, needed[i].cap) <= 0) {
			snprintf(why, len, "/dev/kvm lacks %s", needed[i].name);
			close(fd);
			return -ENOTSUP;
		}
	}
	return fd;
}

/* Leaf 1 ECX bit 31: "running under a hypervisor". KVM's supported table
 * leaves it to the VMM; without it Linux never looks at KVM's leaves at
 * 0x40000000, so it finds no kvmclock and, on a machine without PIT, HPET
 * or PM timer, cannot calibrate its TSC. QEMU, Firecracker and kvmtool
 * set it too. */
#define CPUID_1_ECX_HYPERVISOR (1u << 31)

static void cpuid_hypervisor(struct kvm_cpuid2 *c)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == 1)
			c->entries[i].ecx |= CPUID_1_ECX_HYPERVISOR;
}

/* What a guest may be given: KVM_GET_SUPPORTED_CPUID, into a table sized
 * to fit (KVM answers E2BIG until it is), with the hypervisor bit. */
int kvm_sys_cpuid(int sys_fd, struct kvm_cpuid2 **out)
{
	for (unsigned n = 64; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));

		if (!c)
			return -ENOMEM;
		c->nent = n;
		if (ioctl(sys_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			cpuid_hypervisor(c);
			*out = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG)
			return -errno;
	}
	return -E2BIG;
}

static int msr_try(int vcpu_fd, uint32_t index)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} m = { .h.nmsrs = 1, .e.index = index };

	if (ioctl(vcpu_fd, KVM_GET_MSRS, &m) != 1)
		return 0;
	return ioctl(vcpu_fd, KVM_SET_MSRS, &m) == 1;
}

/* The MSRs a blob carries: those KVM lists that vCPU 0 lets us both read
 * and write back (some listed ones are read-only or absent on this CPU).
 * TSC goes first and TSC_DEADLINE last: a deadline is only meaningful
 * against the TSC it was armed on. Run before the first KVM_RUN. */
int kvm_sys_msrs(struct kvm_vm *vm)
{
	struct kvm_msr_list *l;
	int have_deadline = 0;
	unsigned n = 0;

	l = calloc(1, sizeof(*l) + 1024 * sizeof(uint32_t));
	if (!l)
		return -ENOMEM;
	l->nmsrs = 1024;
	if (ioctl(vm->sys_fd, KVM_GET_MSR_INDEX_LIST, l) < 0) {
		int err = -errno;

		free(l);
		return err;
	}
	if (msr_try(vm->v[0].fd, MSR_IA32_TSC))
		vm->msrs[n++] = MSR_IA32_TSC;
	for (unsigned i = 0; i < l->nmsrs && n < KVM_MAX_MSRS - 1; i++) {
		uint32_t idx = l->indices[i];

		if (idx == MSR_IA32_TSC)
			continue;
		if (idx == MSR_IA32_TSC_DEADLINE) {
			have_deadline = msr_try(vm->v[0].fd, idx);
			continue;
		}
		if (msr_try(vm->v[0].fd, idx))
			vm->msrs[n++] = idx;
	}
	if (have_deadline)
		vm->msrs[n++] = MSR_IA32_TSC_DEADLINE;
	vm->nmsrs = n;
	free(l);
	return 0;
}
