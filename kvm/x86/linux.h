/* kvm/x86/linux.h - a stock Linux bzImage booted through its 64-bit entry
 * (the kernel's Documentation/arch/x86/boot.rst, "64-bit Boot Protocol",
 * and zero-page.rst). This module owns reading and checking the image's
 * setup header, and writing into guest RAM all the kernel finds at its
 * first instruction: the protected-mode kernel, the zero page (struct
 * boot_params with the e820 map), the command line, the initrd, a GDT with
 * its TSS, a boot stack and identity page tables; and the boot vCPU's
 * registers. Pure code: no KVM ioctls, no printing, nothing allocated. The
 * caller reads the files, makes the ioctls and writes the ACPI tables.
 *
 * Guest RAM is [0, min(ram, 3 GiB)) and, above 3 GiB of RAM, [4 GiB, 4 GiB
 * + rest), as guest/pc/pc.h says (PC_LOW_END, PC_HIGH_START); everything
 * below is written under 3 GiB, where RAM offset = guest-physical address.
 *
 *   0x00000  page 0 is not written (zero in a fresh guest): the IVT and
 *            BIOS data area. No EBDA pointer (0x40e) and no MP floating
 *            pointer, so the kernel finds CPUs, IOAPIC and devices through
 *            ACPI alone; the decompressor then puts its paging trampoline
 *            under 0x9f000.
 *   0x01000  GDT: null, null, __BOOT_CS 0x10 (flat 64-bit code), __BOOT_DS
 *            0x18 (flat data), TSS 0x20; the TSS itself at 0x1080. The
 *            protocol names 0x10 and 0x18; a TSS because VMX wants TR to
 *            hold a busy TSS in long mode.
 *   0x02000  boot stack, one page; RSP = 0x3000 at entry. The protocol
 *            asks for none and 6.1's startup_64 sets its own before its
 *            first push; a valid RSP costs nothing and keeps a kernel
 *            that pushes earlier off random RAM (Firecracker does the same).
 *   0x03000  zero page (struct boot_params); RSI points here.
 *   0x04000  page tables, 6 pages: PML4, one PDPT, four PDs of 2 MiB pages
 *            mapping [0, 4 GiB) virtual = physical (the top GiB, MMIO,
 *            uncached). The protocol asks that the kernel's init_size
 *            range, the zero page and the command line be identity mapped;
 *            all are below 3 GiB. 2 MiB pages need no CPUID feature.
 *   0x20000  command line, NUL-terminated, at most KVM_LINUX_CMDLINE_MAX
 *            bytes with the NUL (and the kernel's cmdline_size, 2047 on
 *            6.1).
 *   0x9fc00  reserved in the e820 map up to 1 MiB: EBDA and BIOS area.
 *   0xe0000  [0xe0000, 0x100000) left to the caller for ACPI tables (the
 *            RSDP where the kernel also scans for it): never written here.
 *   pref_address (16 MiB on Debian's kernels): the protected-mode kernel,
 *            which needs [load, load + init_size) of RAM to decompress.
 *   initrd   as high as it fits below min(initrd_addr_max + 1, RAM below
 *            3 GiB), page aligned, above the kernel's init_size range.
 *
 * The e820 map: usable [0, 0x9fc00), reserved [0x9fc00, 0x100000), usable
 * [1 MiB, min(ram, 3 GiB)) and, with more RAM, usable [4 GiB, 4 GiB +
 * ram - 3 GiB). Nothing below 1 MiB that this module writes is needed
 * after the kernel has copied the zero page and command line; the kernel
 * keeps the first MiB out of its allocator anyway (since 5.13).
 *
 * Errors: -ENOEXEC the file is not a bzImage this loader can boot (magic,
 * protocol older than 2.12, no 64-bit entry); -EINVAL its header does not
 * agree with itself or the file (truncated, setup_sects or syssize past
 * the end, bad alignment); -E2BIG a command line longer than the kernel
 * or this layout takes; -ENOSPC the guest's RAM cannot hold the kernel's
 * init_size or the initrd. Each with a reason in the caller's buffer.
 */
#ifndef KVM_X86_LINUX_H
#define KVM_X86_LINUX_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#define KVM_LINUX_GDT_GPA        0x1000ull
#define KVM_LINUX_TSS_GPA        0x1080ull
#define KVM_LINUX_STACK_GPA      0x2000ull     /* the page below RSP */
#define KVM_LINUX_STACK_TOP      0x3000ull
#define KVM_LINUX_ZERO_PAGE_GPA  0x3000ull
#define KVM_LINUX_PT_GPA         0x4000ull     /* PML4; PDPT, PDs follow */
#define KVM_LINUX_PT_PAGES       6
#define KVM_LINUX_CMDLINE_GPA    0x20000ull
#define KVM_LINUX_CMDLINE_MAX    0x10000ull    /* bytes with the NUL */
#define KVM_LINUX_EBDA_GPA       0x9fc00ull    /* e820 reserved from here */
#define KVM_LINUX_ACPI_GPA       0xe0000ull    /* the caller's, to 1 MiB */
#define KVM_LINUX_HIGH_GPA       0x100000ull   /* 1 MiB: usable again */
#define KVM_LINUX_KERNEL_GPA     0x1000000ull  /* 16 MiB: when pref_address is not usable */

#define KVM_LINUX_SEL_CS         0x10          /* __BOOT_CS */
#define KVM_LINUX_SEL_DS         0x18          /* __BOOT_DS */
#define KVM_LINUX_SEL_TSS        0x20

#define KVM_LINUX_E820_RAM       1
#define KVM_LINUX_E820_RESERVED  2

/* What kvm_linux_parse read from the setup header (offsets in the boot
 * protocol's table). kernel and kver point into the caller's image, which
 * must outlive this. */
struct kvm_linux_image {
	const uint8_t *img;            /* the whole file */
	size_t img_len;
	const uint8_t *kernel;         /* protected-mode kernel: img + setup_len */
	size_t kernel_len;             /* syssize * 16: what follows (a signature) is not loaded */
	size_t setup_len;              /* (setup_sects + 1) * 512 */
	size_t hdr_end;                /* 0x202 + byte at 0x201, at most 0x290: bytes copied */
	uint16_t version;              /* 0x206, e.g. 0x020f = 2.15 */
	uint8_t setup_sects;           /* 0x1f1, 0 read as 4 */
	uint8_t loadflags;             /* 0x211 */
	uint32_t syssize;              /* 0x1f4, 16-byte units */
	uint32_t initrd_addr_max;      /* 0x22c: highest address the initrd may occupy */
	uint32_t kernel_alignment;     /* 0x230 */
	uint8_t relocatable;           /* 0x234 */
	uint8_t min_alignment;         /* 0x235, log2 */
	uint16_t xloadflags;           /* 0x236: XLF_* */
	uint32_t cmdline_size;         /* 0x238: longest command line, without the NUL */
	uint64_t pref_address;         /* 0x258 */
	uint32_t init_size;            /* 0x260 */
	const char *kver;              /* kernel_version string (0x20e), printable ASCII, or NULL */
	size_t kver_len;
};

/* What to boot it with. */
struct kvm_linux_boot {
	const char *cmdline;           /* NULL: empty */
	const void *initrd;            /* NULL with initrd_len 0: none */
	size_t initrd_len;
	uint64_t rsdp_gpa;             /* boot_params.acpi_rsdp_addr; 0: the kernel scans */
};

/* The boot vCPU at the 64-bit entry, and where things went. */
struct kvm_linux_entry {
	struct kvm_regs regs;          /* KVM_SET_REGS as it is: RIP = load + 0x200,
					* RSI = zero page, RSP = boot stack, RFLAGS = 2 */
	struct kvm_segment cs, ds, tr; /* ds also for es, fs, gs, ss */
	struct kvm_dtable gdt, idt;    /* idt empty: a fault before the kernel's own is a triple fault */
	uint64_t cr0, cr3, cr4, efer;
	uint64_t kernel_gpa;           /* load address */
	uint64_t kernel_end;           /* kernel_gpa + init_size */
	uint64_t zero_page_gpa, cmdline_gpa;
	size_t cmdline_len;            /* without the NUL */
	uint64_t initrd_gpa;           /* 0 when none */
	size_t initrd_len;
	unsigned e820_entries;
};

/* Read and check the setup header of the bzImage img[0..len). 0, or
 * -ENOEXEC / -EINVAL with the reason in why[0..wlen) (why may be NULL).
 * Reads nothing outside img[0..len). */
int kvm_linux_parse(const void *img, size_t len, struct kvm_linux_image *out,
		    char *why, size_t wlen);

/* Lay out a guest of ram_bytes (ram: the VMM's contiguous view of it, low
 * part then high part) for k booted with b (NULL: no command line, no
 * initrd, no RSDP address), as the comment above says, and fill *entry.
 * Everything is checked before anything is written: on an error RAM is
 * untouched. 0, -E2BIG or -ENOSPC; -EINVAL for a k that kvm_linux_parse
 * did not fill, or an initrd_len without an initrd (reason in why). */
int kvm_linux_load(uint8_t *ram, uint64_t ram_bytes, const struct kvm_linux_image *k,
		   const struct kvm_linux_boot *b, struct kvm_linux_entry *entry,
		   char *why, size_t wlen);

/* Put the entry's segments, tables and control registers into sr, which
 * holds what KVM_GET_SREGS gave (APIC base, LDT and interrupt bitmap are
 * kept); the caller then calls KVM_SET_SREGS. */
void kvm_linux_sregs(const struct kvm_linux_entry *e, struct kvm_sregs *sr);

#endif
