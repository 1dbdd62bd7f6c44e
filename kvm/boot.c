/* kvm/boot.c - everything the payload finds at its first instruction:
 * the info page, GDT and TSS, the page tables (identity for the first
 * 4 GiB, RAM linear at PC_LINEAR_VA), the payload image, and each vCPU's
 * registers already in 64-bit long mode. Layout: guest/pc/pc.h.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "guest/pc/pc.h"
#include "guest/workload.h"
#include "kvm/vmm.h"
#include "kvm/x86/cpu.h"

/* PTE_*, CR0_*, CR4_*, EFER_*: kvm/x86/cpu.h */

#define PC_TIMER_HZ     1000
#define PC_APIC_HZ      1000000000ull   /* KVM's APIC bus: 1 ns a cycle */

extern const uint8_t kvm_payload_start[], kvm_payload_end[];

static uint64_t *pt_page(uint8_t *ram, unsigned i)
{
	return (uint64_t *)(ram + PC_PT_OFF + i * 4096ul);
}

/* Guest-physical address of RAM offset x (RAM skips the hole). */
static uint64_t ram_gpa(uint64_t x)
{
	return x < PC_LOW_END ? x : x - PC_LOW_END + PC_HIGH_START;
}

static void page_tables_write(uint8_t *ram, uint64_t ram_size)
{
	uint64_t *pml4 = pt_page(ram, 0), *pdpt_id = pt_page(ram, 1);
	uint64_t *pdpt_lin = pt_page(ram, 6), *small = pt_page(ram, 7);
	unsigned gib = (unsigned)((ram_size + (1ull << 30) - 1) >> 30);

	memset(pml4, 0, 4096ul * (8 + gib));
	pml4[0] = (PC_PT_OFF + 1 * 4096ul) | PTE_P | PTE_RW | PTE_US;
	pml4[PC_LINEAR_VA >> 39] = (PC_PT_OFF + 6 * 4096ul) | PTE_P | PTE_RW | PTE_US;
	for (unsigned i = 0; i < 4; i++) {
		uint64_t *pd = pt_page(ram, 2 + i);
		/* The top GiB is MMIO and KVM's own pages: uncached. */
		uint64_t attr = PTE_P | PTE_RW | PTE_US | PTE_PS | (i == 3 ? PTE_PCD | PTE_PWT : 0);

		pdpt_id[i] = (PC_PT_OFF + (2 + i) * 4096ul) | PTE_P | PTE_RW | PTE_US;
		for (unsigned j = 0; j < 512; j++)
			pd[j] = (((uint64_t)i << 30) + ((uint64_t)j << 21)) | attr;
	}
	for (unsigned g = 0; g < gib; g++) {
		uint64_t *pd = pt_page(ram, 8 + g);

		pdpt_lin[g] = (PC_PT_OFF + (8 + g) * 4096ul) | PTE_P | PTE_RW | PTE_US;
		for (unsigned j = 0; j < 512; j++) {
			uint64_t x = ((uint64_t)g << 30) + ((uint64_t)j << 21);

			if (x < ram_size)
				pd[j] = ram_gpa(x) | PTE_P | PTE_RW | PTE_US | PTE_PS;
		}
	}
	/* The first 2 MiB hold the page tables themselves next to the hot
	 * boot, stats, code and stack pages. Map them with 4 KiB pages in both
	 * views: a shadow MMU write-protects the pages that are page tables,
	 * and must not take their neighbours down with them. */
	for (unsigned j = 0; j < 512; j++)
		small[j] = ((uint64_t)j << 12) | PTE_P | PTE_RW | PTE_US;
	pt_page(ram, 2)[0] = (PC_PT_OFF + 7 * 4096ul) | PTE_P | PTE_RW | PTE_US;
	pt_page(ram, 8)[0] = (PC_PT_OFF + 7 * 4096ul) | PTE_P | PTE_RW | PTE_US;
}

static void gdt_write(uint8_t *ram, unsigned nvcpus)
{
	uint64_t *gdt = (uint64_t *)(ram + PC_GDT_OFF);

	gdt[0] = 0;
	gdt[PC_SEL_CODE / 8] = 0x00af9b000000ffffull;    /* 64-bit code, DPL 0 */
	gdt[PC_SEL_DATA / 8] = 0x00cf93000000ffffull;
	gdt[PC_SEL_UDATA / 8] = 0x00cff3000000ffffull;   /* DPL 3 */
	gdt[PC_SEL_UCODE / 8] = 0x00affb000000ffffull;
	for (unsigned i = 0; i < nvcpus; i++) {
		uint64_t tss = PC_TSS_OFF + i * PC_TSS_STRIDE, limit = 103;
		uint8_t *t = ram + tss;
		uint64_t rsp0 = PC_STACK_OFF + i * PC_STACK_SIZE + PC_STACK_SIZE / 2;

		gdt[PC_SEL_TSS0 / 8 + 2 * i] = (limit & 0xffff) | ((tss & 0xffffff) << 16) |
					       (0x89ull << 40) | ((tss >> 24) & 0xff) << 56;
		gdt[PC_SEL_TSS0 / 8 + 2 * i + 1] = tss >> 32;
		memset(t, 0, 104);
		memcpy(t + 4, &rsp0, 8);                  /* interrupts from ring 3 */
		*(uint16_t *)(t + 102) = 104;             /* no I/O bitmap: IOPL decides */
	}
}

int kvm_boot_write(struct kvm_vm *vm, unsigned nvcpus, const struct wl_params *p)
{
	size_t img = (size_t)(kvm_payload_end - kvm_payload_start);
	struct pc_info *pi = (struct pc_info *)(vm->ram + PC_INFO_OFF);

	if (img > PC_CODE_MAX)
		return -E2BIG;
	if (vm->ram_size > PC_RAM_MAX)
		return -E2BIG;
	wl_boot_write(vm->ram, vm->ram_size, nvcpus, p);
	memset(pi, 0, sizeof(*pi));
	pi->magic = PC_INFO_MAGIC;
	pi->version = PC_INFO_VERSION;
	pi->nvcpus = nvcpus;
	pi->ram_size = vm->ram_size;
	pi->tsc_khz = vm->tsc_khz;
	pi->apic_hz = PC_APIC_HZ;
	pi->timer_hz = PC_TIMER_HZ;
	pi->heartbeat_us = 1000;
	pi->console_period_ms = 1000;
	gdt_write(vm->ram, nvcpus);
	page_tables_write(vm->ram, vm->ram_size);
	memcpy(vm->ram + PC_CODE_OFF, kvm_payload_start, img);
	return 0;
}

static void seg_set(struct kvm_segment *s, uint16_t sel, uint8_t type, int code)
{
	*s = (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
		.present = 1, .dpl = 0, .db = code ? 0 : 1, .s = 1, .l = code ? 1 : 0,
		.g = 1,
	};
}

static int cpuid_has(const struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx,
		     int reg, unsigned bit)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &c->entries[i];
		uint32_t r[4] = { e->eax, e->ebx, e->ecx, e->edx };

		if (e->function == fn && e->index == idx)
			return (r[reg] >> bit) & 1;
	}
	return 0;
}

/* A vCPU's registers at power-on: long mode, paging on, at the payload's
 * entry with its stack and index. */
int kvm_boot_vcpu(struct kvm_vm *vm, struct kvm_vcpu *v)
{
	struct kvm_sregs sr;
	struct kvm_regs r = {
		.rip = PC_CODE_OFF,
		.rsp = PC_STACK_OFF + (v->idx + 1) * PC_STACK_SIZE,
		.rdi = v->idx,
		.rflags = 2,
	};
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
	int xsave = cpuid_has(vm->cpuid, 1, 0, 2, 26);

	if (ioctl(v->fd, KVM_GET_SREGS, &sr) < 0)
		return -errno;
	seg_set(&sr.cs, PC_SEL_CODE, 0xb, 1);
	seg_set(&sr.ds, PC_SEL_DATA, 0x3, 0);
	sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
	sr.tr = (struct kvm_segment){ .base = PC_TSS_OFF + v->idx * PC_TSS_STRIDE,
				      .limit = 103, .selector = PC_SEL_TSS0 + 16 * v->idx,
				      .type = 0xb, .present = 1 };
	sr.gdt.base = PC_GDT_OFF;
	sr.gdt.limit = PC_SEL_TSS0 + 16 * vm->n - 1;
	sr.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	sr.cr3 = PC_PT_OFF;
	sr.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT | (xsave ? CR4_OSXSAVE : 0);
	sr.efer = EFER_SCE | EFER_LME | EFER_LMA;
	if (ioctl(v->fd, KVM_SET_SREGS, &sr) < 0)
		return -errno;
	if (ioctl(v->fd, KVM_SET_REGS, &r) < 0)
		return -errno;
	{
		/* x87 and SSE, plus AVX when the guest has it. */
		struct kvm_xcrs x = { .nr_xcrs = 1, .xcrs[0] = { .xcr = 0, .value = 3 } };

		if (xsave && cpuid_has(vm->cpuid, 1, 0, 2, 28))
			x.xcrs[0].value |= 4;
		if (ioctl(v->fd, KVM_SET_XCRS, &x) < 0)
			return -errno;
	}
	if (ioctl(v->fd, KVM_SET_MP_STATE, &mp) < 0)
		return -errno;
	return 0;
}
