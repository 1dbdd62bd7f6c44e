/* kvm/x86/cpu.h - x86-64 architectural bits the VMM sets when it enters
 * long mode for a guest (the payload's boot in kvm/boot.c, a Linux
 * kernel's 64-bit entry in kvm/x86/linux.c): page-table entry flags,
 * control registers, EFER. Values from the Intel SDM vol. 3, 2.5, 4.5. */
#ifndef KVM_X86_CPU_H
#define KVM_X86_CPU_H

#define PTE_P     0x001ull
#define PTE_RW    0x002ull
#define PTE_US    0x004ull
#define PTE_PWT   0x008ull
#define PTE_PCD   0x010ull
#define PTE_PS    0x080ull

#define CR0_PE    (1ull << 0)
#define CR0_MP    (1ull << 1)
#define CR0_ET    (1ull << 4)
#define CR0_NE    (1ull << 5)
#define CR0_WP    (1ull << 16)
#define CR0_PG    (1ull << 31)
#define CR4_PAE   (1ull << 5)
#define CR4_OSFXSR (1ull << 9)
#define CR4_OSXMMEXCPT (1ull << 10)
#define CR4_OSXSAVE (1ull << 18)
#define EFER_SCE  (1ull << 0)
#define EFER_LME  (1ull << 8)
#define EFER_LMA  (1ull << 10)

#endif
