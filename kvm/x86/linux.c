/* kvm/x86/linux.c - the bzImage loader: the setup header read and checked
 * against the file, then the guest's memory and the boot vCPU's registers
 * for the kernel's 64-bit entry. Layout and errors: kvm/x86/linux.h. The
 * zero page is <asm/bootparam.h>'s struct boot_params (linux-libc-dev);
 * the asserts below pin the offsets the boot protocol gives.
 */
#include <asm/bootparam.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "guest/pc/pc.h"
#include "kvm/x86/linux.h"
#include "kvm/x86/cpu.h"

/* PTE_*, CR0_*, CR4_*, EFER_*: kvm/x86/cpu.h */

#define HDR_OFF        0x1f1        /* the setup header in the image and the zero page */
#define HDR_ROOM       0x290        /* the zero page's room for it ends here */
#define HDR_NEED       0x264        /* we read up to init_size (0x260) */
#define MIN_VERSION    0x020c       /* 2.12: xloadflags */
#define ENTRY64_OFF    0x200        /* startup_64 in the protected-mode kernel */
#define LOADER_UNDEF   0xff         /* type_of_loader: none assigned */
#define HEAP_END_PTR   0xfe00       /* the real-mode setup's heap, never run */

_Static_assert(sizeof(struct boot_params) == 4096, "the zero page is one page");
_Static_assert(offsetof(struct boot_params, acpi_rsdp_addr) == 0x070, "acpi_rsdp_addr");
_Static_assert(offsetof(struct boot_params, ext_ramdisk_image) == 0x0c0, "ext_ramdisk_image");
_Static_assert(offsetof(struct boot_params, ext_cmd_line_ptr) == 0x0c8, "ext_cmd_line_ptr");
_Static_assert(offsetof(struct boot_params, e820_entries) == 0x1e8, "e820_entries");
_Static_assert(offsetof(struct boot_params, hdr) == HDR_OFF, "hdr");
_Static_assert(offsetof(struct boot_params, edd_mbr_sig_buffer) == HDR_ROOM, "end of hdr room");
_Static_assert(offsetof(struct boot_params, e820_table) == 0x2d0, "e820_table");
#define HOFF(f) (HDR_OFF + offsetof(struct setup_header, f))
_Static_assert(HOFF(boot_flag) == 0x1fe && HOFF(header) == 0x202 && HOFF(version) == 0x206 &&
	       HOFF(kernel_version) == 0x20e && HOFF(type_of_loader) == 0x210 &&
	       HOFF(loadflags) == 0x211 && HOFF(code32_start) == 0x214 &&
	       HOFF(ramdisk_image) == 0x218 && HOFF(heap_end_ptr) == 0x224 &&
	       HOFF(cmd_line_ptr) == 0x228 && HOFF(initrd_addr_max) == 0x22c &&
	       HOFF(kernel_alignment) == 0x230 && HOFF(relocatable_kernel) == 0x234 &&
	       HOFF(xloadflags) == 0x236 && HOFF(cmdline_size) == 0x238 &&
	       HOFF(setup_data) == 0x250 && HOFF(pref_address) == 0x258 &&
	       HOFF(init_size) == 0x260, "setup header offsets of boot.rst");
_Static_assert(HDR_OFF + sizeof(struct setup_header) <= HDR_ROOM, "setup header fits");
_Static_assert(KVM_LINUX_CMDLINE_GPA + KVM_LINUX_CMDLINE_MAX <= KVM_LINUX_EBDA_GPA &&
	       KVM_LINUX_PT_GPA + KVM_LINUX_PT_PAGES * 4096 <= KVM_LINUX_CMDLINE_GPA &&
	       KVM_LINUX_ZERO_PAGE_GPA + 4096 <= KVM_LINUX_PT_GPA &&
	       KVM_LINUX_TSS_GPA + 104 <= KVM_LINUX_STACK_GPA &&
	       KVM_LINUX_GDT_GPA + KVM_LINUX_SEL_TSS + 16 <= KVM_LINUX_TSS_GPA,
	       "the fixed areas below 640 KiB do not overlap");

static int fail(char *why, size_t wlen, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *why, size_t wlen, int err, const char *fmt, ...)
{
	va_list ap;

	if (why && wlen) {
		va_start(ap, fmt);
		vsnprintf(why, wlen, fmt, ap);
		va_end(ap);
	}
	return err;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

/* The first checks, up to the protocol version: enough of a header to
 * read the rest. */
static int magic_check(const uint8_t *p, size_t len, char *why, size_t wlen)
{
	size_t end;

	if (len < 0x200)
		return fail(why, wlen, -EINVAL, "truncated: %zu bytes, shorter than a boot sector", len);
	if (le16(p + 0x1fe) != 0xaa55)
		return fail(why, wlen, -ENOEXEC, "no boot-sector magic 0xAA55 at 0x1fe: not a bzImage");
	if (len < 0x208)
		return fail(why, wlen, -EINVAL, "truncated: %zu bytes end inside the setup header", len);
	if (memcmp(p + 0x202, "HdrS", 4))
		return fail(why, wlen, -ENOEXEC, "no \"HdrS\" at 0x202: not a bzImage (or older than boot protocol 2.00)");
	if (le16(p + 0x206) < MIN_VERSION)
		return fail(why, wlen, -ENOEXEC, "boot protocol %u.%02u is older than 2.12 (no xloadflags)",
			    p[0x207], p[0x206]);
	end = 0x202u + p[0x201];
	if (end < HDR_NEED)
		return fail(why, wlen, -EINVAL, "the setup header ends at %#zx, before init_size (0x260)", end);
	if (end > len)
		return fail(why, wlen, -EINVAL, "truncated: the setup header ends at %#zx, the file at %#zx",
			    end, len);
	return 0;
}

static void header_read(const uint8_t *p, struct kvm_linux_image *k)
{
	struct setup_header h;
	size_t n = k->hdr_end - HDR_OFF;

	memset(&h, 0, sizeof(h));
	memcpy(&h, p + HDR_OFF, n < sizeof(h) ? n : sizeof(h));
	k->version = h.version;
	k->setup_sects = h.setup_sects ? h.setup_sects : 4;
	k->loadflags = h.loadflags;
	k->syssize = h.syssize;
	k->initrd_addr_max = h.initrd_addr_max;
	k->kernel_alignment = h.kernel_alignment;
	k->relocatable = h.relocatable_kernel;
	k->min_alignment = h.min_alignment;
	k->xloadflags = h.xloadflags;
	k->cmdline_size = h.cmdline_size;
	k->pref_address = h.pref_address;
	k->init_size = h.init_size;
	k->setup_len = ((size_t)k->setup_sects + 1) * 512;
}

/* The header's fields against the file and each other. */
static int fields_check(const struct kvm_linux_image *k, size_t len, char *why, size_t wlen)
{
	uint64_t sys = (uint64_t)k->syssize * 16, align = k->kernel_alignment;

	if (!(k->xloadflags & XLF_KERNEL_64))
		return fail(why, wlen, -ENOEXEC, "no 64-bit entry: XLF_KERNEL_64 clear in xloadflags %#x",
			    k->xloadflags);
	if (k->setup_len >= len)
		return fail(why, wlen, -EINVAL,
			    "setup_sects %u puts the kernel at %#zx, past the end of the %zu-byte file",
			    k->setup_sects, k->setup_len, len);
	if (!sys)
		return fail(why, wlen, -EINVAL, "syssize is 0: no protected-mode kernel");
	if (sys > len - k->setup_len)
		return fail(why, wlen, -EINVAL,
			    "truncated: syssize says %llu bytes of kernel after %zu of setup, the file has %zu",
			    (unsigned long long)sys, k->setup_len, len);
	if (k->init_size < sys)
		return fail(why, wlen, -EINVAL, "init_size %u is smaller than the %llu-byte kernel",
			    k->init_size, (unsigned long long)sys);
	if (k->relocatable && (align < 4096 || align > (1u << 30) || (align & (align - 1))))
		return fail(why, wlen, -EINVAL,
			    "relocatable kernel with kernel_alignment %#x (not a power of two from 4 KiB to 1 GiB)",
			    k->kernel_alignment);
	if (!k->relocatable && k->pref_address < KVM_LINUX_HIGH_GPA)
		return fail(why, wlen, -ENOEXEC,
			    "not relocatable, and pref_address %#llx is inside the first MiB this loader uses",
			    (unsigned long long)k->pref_address);
	return 0;
}

/* The kernel_version string (0x20e: its offset - 0x200), when it lies in
 * the setup code, ends there and is printable. */
static void kver_read(const uint8_t *p, struct kvm_linux_image *k)
{
	size_t at = (size_t)le16(p + 0x20e) + 0x200, n = 0;

	k->kver = NULL;
	k->kver_len = 0;
	if (at == 0x200 || at >= k->setup_len)
		return;
	while (at + n < k->setup_len && p[at + n] >= 0x20 && p[at + n] < 0x7f)
		n++;
	if (at + n < k->setup_len && !p[at + n] && n) {
		k->kver = (const char *)p + at;
		k->kver_len = n;
	}
}

int kvm_linux_parse(const void *img, size_t len, struct kvm_linux_image *out,
		    char *why, size_t wlen)
{
	const uint8_t *p = img;
	struct kvm_linux_image k;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = magic_check(p, len, why, wlen)))
		return err;
	memset(&k, 0, sizeof(k));
	k.img = p;
	k.img_len = len;
	k.hdr_end = 0x202u + p[0x201];
	if (k.hdr_end > HDR_ROOM)
		k.hdr_end = HDR_ROOM;
	header_read(p, &k);
	if ((err = fields_check(&k, len, why, wlen)))
		return err;
	k.kernel = p + k.setup_len;
	k.kernel_len = (size_t)k.syssize * 16;
	kver_read(p, &k);
	*out = k;
	return 0;
}

static uint64_t low_end(uint64_t ram_bytes)
{
	return ram_bytes < PC_LOW_END ? ram_bytes : PC_LOW_END;
}

/* The load address: pref_address, or for a relocatable kernel whose
 * pref_address is in the first MiB or misaligned, the first aligned address
 * from 16 MiB. Never lower: 6.1's startup_64 moves a kernel loaded below
 * LOAD_PHYSICAL_ADDR (= pref_address) up to it. */
static int kernel_place(const struct kvm_linux_image *k, uint64_t ram_bytes, uint64_t *at,
			char *why, size_t wlen)
{
	uint64_t a = k->pref_address, align = k->kernel_alignment, low = low_end(ram_bytes);

	if (k->relocatable && (a < KVM_LINUX_HIGH_GPA || (a & (align - 1)))) {
		if (a < KVM_LINUX_KERNEL_GPA)
			a = KVM_LINUX_KERNEL_GPA;
		if (a < low)
			a = (a + align - 1) & ~(align - 1);
	}
	if (a >= low || k->init_size > low - a)
		return fail(why, wlen, -ENOSPC, "a guest of %llu MiB is too small: the kernel needs [%#llx, %#llx) "
			    "(load address + init_size %u MiB), RAM below 3 GiB ends at %#llx",
			    (unsigned long long)(ram_bytes >> 20), (unsigned long long)a,
			    (unsigned long long)(a + k->init_size), k->init_size >> 20,
			    (unsigned long long)low);
	*at = a;
	return 0;
}

static int cmdline_check(const struct kvm_linux_image *k, const char *s, size_t *out,
			 char *why, size_t wlen)
{
	size_t n = s ? strlen(s) : 0;

	if (n > k->cmdline_size)
		return fail(why, wlen, -E2BIG, "the command line of %zu bytes is longer than the kernel's cmdline_size %u",
			    n, k->cmdline_size);
	if (n >= KVM_LINUX_CMDLINE_MAX)
		return fail(why, wlen, -E2BIG, "the command line of %zu bytes is longer than the %llu this loader keeps",
			    n, KVM_LINUX_CMDLINE_MAX - 1);
	*out = n;
	return 0;
}

/* As high as it fits below RAM's end under 3 GiB and initrd_addr_max,
 * page aligned, above the kernel's init_size range. */
static int initrd_place(const struct kvm_linux_image *k, const struct kvm_linux_boot *b,
			uint64_t ram_bytes, uint64_t kernel_end, uint64_t *at, char *why, size_t wlen)
{
	uint64_t top = low_end(ram_bytes), floor = (kernel_end + 4095) & ~4095ull;
	uint64_t len = b->initrd_len, a;

	*at = 0;
	if (!len)
		return 0;
	if (!b->initrd)
		return fail(why, wlen, -EINVAL, "initrd_len %zu without an initrd", b->initrd_len);
	if ((uint64_t)k->initrd_addr_max + 1 < top)
		top = (uint64_t)k->initrd_addr_max + 1;
	a = len <= top ? (top - len) & ~4095ull : 0;
	if (len > top || a < floor)
		return fail(why, wlen, -ENOSPC, "an initrd of %llu bytes does not fit: [%#llx, %#llx) is free "
			    "between the kernel's init_size and min(initrd_addr_max %#x + 1, RAM below 3 GiB)",
			    (unsigned long long)len, (unsigned long long)floor,
			    (unsigned long long)(top > floor ? top : floor), k->initrd_addr_max);
	*at = a;
	return 0;
}

static void e820_add(struct boot_params *bp, uint64_t addr, uint64_t size, uint32_t type)
{
	unsigned n = bp->e820_entries++;

	bp->e820_table[n].addr = addr;
	bp->e820_table[n].size = size;
	bp->e820_table[n].type = type;
}

static void e820_write(struct boot_params *bp, uint64_t ram_bytes)
{
	uint64_t low = low_end(ram_bytes);

	e820_add(bp, 0, KVM_LINUX_EBDA_GPA, KVM_LINUX_E820_RAM);
	e820_add(bp, KVM_LINUX_EBDA_GPA, KVM_LINUX_HIGH_GPA - KVM_LINUX_EBDA_GPA,
		 KVM_LINUX_E820_RESERVED);
	e820_add(bp, KVM_LINUX_HIGH_GPA, low - KVM_LINUX_HIGH_GPA, KVM_LINUX_E820_RAM);
	if (ram_bytes > low)
		e820_add(bp, PC_HIGH_START, ram_bytes - low, KVM_LINUX_E820_RAM);
}

/* The zero page: a clean struct boot_params, the image's setup header
 * copied in, then what the boot loader writes. */
static void zero_page_write(uint8_t *ram, uint64_t ram_bytes, const struct kvm_linux_image *k,
			    const struct kvm_linux_boot *b, const struct kvm_linux_entry *e)
{
	struct boot_params *bp = (struct boot_params *)(ram + KVM_LINUX_ZERO_PAGE_GPA);

	memset(bp, 0, sizeof(*bp));
	memcpy((uint8_t *)bp + HDR_OFF, k->img + HDR_OFF, k->hdr_end - HDR_OFF);
	bp->hdr.type_of_loader = LOADER_UNDEF;
	bp->hdr.loadflags |= LOADED_HIGH | CAN_USE_HEAP;
	bp->hdr.heap_end_ptr = HEAP_END_PTR;
	bp->hdr.code32_start = (uint32_t)e->kernel_gpa;
	bp->hdr.cmd_line_ptr = (uint32_t)e->cmdline_gpa;
	bp->ext_cmd_line_ptr = (uint32_t)(e->cmdline_gpa >> 32);
	bp->hdr.ramdisk_image = (uint32_t)e->initrd_gpa;
	bp->ext_ramdisk_image = (uint32_t)(e->initrd_gpa >> 32);
	bp->hdr.ramdisk_size = (uint32_t)e->initrd_len;
	bp->ext_ramdisk_size = (uint32_t)((uint64_t)e->initrd_len >> 32);
	bp->hdr.setup_data = 0;                     /* no list unless we write one */
	bp->hdr.hardware_subarch = X86_SUBARCH_PC;
	bp->hdr.hardware_subarch_data = 0;
	bp->acpi_rsdp_addr = b->rsdp_gpa;
	e820_write(bp, ram_bytes);
}

/* null, null, __BOOT_CS, __BOOT_DS, then a 64-bit TSS (busy, as LTR
 * leaves it) with no I/O bitmap. */
static void gdt_write(uint8_t *ram)
{
	uint64_t *gdt = (uint64_t *)(ram + KVM_LINUX_GDT_GPA), tss = KVM_LINUX_TSS_GPA;
	uint16_t iomap = 104;

	memset(gdt, 0, 4096);
	gdt[KVM_LINUX_SEL_CS / 8] = 0x00af9b000000ffffull;
	gdt[KVM_LINUX_SEL_DS / 8] = 0x00cf93000000ffffull;
	gdt[KVM_LINUX_SEL_TSS / 8] = 0x67 | (tss & 0xffffff) << 16 | 0x8bull << 40 |
				     ((tss >> 24) & 0xff) << 56;
	gdt[KVM_LINUX_SEL_TSS / 8 + 1] = tss >> 32;
	memcpy(ram + KVM_LINUX_TSS_GPA + 102, &iomap, 2);
}

static void page_tables_write(uint8_t *ram)
{
	uint64_t *pml4 = (uint64_t *)(ram + KVM_LINUX_PT_GPA), *pdpt = pml4 + 512;

	memset(pml4, 0, KVM_LINUX_PT_PAGES * 4096ul);
	pml4[0] = (KVM_LINUX_PT_GPA + 4096) | PTE_P | PTE_RW;
	for (uint64_t i = 0; i < 4; i++) {
		uint64_t *pd = pml4 + 512 * (2 + i);
		/* The top GiB is the hole: LAPIC, IOAPIC, device MMIO. */
		uint64_t attr = PTE_P | PTE_RW | PTE_PS | (i == 3 ? PTE_PCD | PTE_PWT : 0);

		pdpt[i] = (KVM_LINUX_PT_GPA + (2 + i) * 4096) | PTE_P | PTE_RW;
		for (uint64_t j = 0; j < 512; j++)
			pd[j] = (i << 30 | j << 21) | attr;
	}
}

static struct kvm_segment flat_seg(uint16_t sel, uint8_t type, int code)
{
	return (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type, .present = 1,
		.dpl = 0, .db = code ? 0 : 1, .s = 1, .l = code ? 1 : 0, .g = 1,
	};
}

static void regs_fill(struct kvm_linux_entry *e)
{
	memset(&e->regs, 0, sizeof(e->regs));
	e->regs.rip = e->kernel_gpa + ENTRY64_OFF;
	e->regs.rsi = e->zero_page_gpa;
	e->regs.rsp = KVM_LINUX_STACK_TOP;
	e->regs.rflags = 2;                         /* interrupts off */
	e->cs = flat_seg(KVM_LINUX_SEL_CS, 0xb, 1);
	e->ds = flat_seg(KVM_LINUX_SEL_DS, 0x3, 0);
	e->tr = (struct kvm_segment){ .base = KVM_LINUX_TSS_GPA, .limit = 0x67,
				      .selector = KVM_LINUX_SEL_TSS, .type = 0xb, .present = 1 };
	e->gdt = (struct kvm_dtable){ .base = KVM_LINUX_GDT_GPA, .limit = KVM_LINUX_SEL_TSS + 16 - 1 };
	e->idt = (struct kvm_dtable){ .base = 0, .limit = 0 };
	e->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	e->cr3 = KVM_LINUX_PT_GPA;
	e->cr4 = CR4_PAE;
	e->efer = EFER_LME | EFER_LMA;
}

/* Where everything goes, all checked; nothing written yet. */
static int plan(uint64_t ram_bytes, const struct kvm_linux_image *k,
		const struct kvm_linux_boot *b, struct kvm_linux_entry *e, char *why, size_t wlen)
{
	int err;

	memset(e, 0, sizeof(*e));
	if (!k->img || !k->kernel || !k->kernel_len || k->kernel_len > k->init_size ||
	    k->hdr_end < HDR_NEED || k->hdr_end > HDR_ROOM)
		return fail(why, wlen, -EINVAL, "the image was not parsed by kvm_linux_parse");
	if ((err = kernel_place(k, ram_bytes, &e->kernel_gpa, why, wlen)))
		return err;
	e->kernel_end = e->kernel_gpa + k->init_size;
	if ((err = cmdline_check(k, b->cmdline, &e->cmdline_len, why, wlen)))
		return err;
	if ((err = initrd_place(k, b, ram_bytes, e->kernel_end, &e->initrd_gpa, why, wlen)))
		return err;
	e->initrd_len = e->initrd_gpa ? b->initrd_len : 0;
	e->zero_page_gpa = KVM_LINUX_ZERO_PAGE_GPA;
	e->cmdline_gpa = KVM_LINUX_CMDLINE_GPA;
	return 0;
}

int kvm_linux_load(uint8_t *ram, uint64_t ram_bytes, const struct kvm_linux_image *k,
		   const struct kvm_linux_boot *b, struct kvm_linux_entry *e,
		   char *why, size_t wlen)
{
	static const struct kvm_linux_boot none;
	int err;

	if (!b)
		b = &none;
	if ((err = plan(ram_bytes, k, b, e, why, wlen)))
		return err;
	gdt_write(ram);
	memset(ram + KVM_LINUX_STACK_GPA, 0, KVM_LINUX_STACK_TOP - KVM_LINUX_STACK_GPA);
	zero_page_write(ram, ram_bytes, k, b, e);
	page_tables_write(ram);
	memset(ram + e->cmdline_gpa, 0, e->cmdline_len + 1);
	if (e->cmdline_len)
		memcpy(ram + e->cmdline_gpa, b->cmdline, e->cmdline_len);
	memcpy(ram + e->kernel_gpa, k->kernel, k->kernel_len);
	if (e->initrd_len)
		memcpy(ram + e->initrd_gpa, b->initrd, e->initrd_len);
	e->e820_entries = ((struct boot_params *)(ram + KVM_LINUX_ZERO_PAGE_GPA))->e820_entries;
	regs_fill(e);
	return 0;
}

void kvm_linux_sregs(const struct kvm_linux_entry *e, struct kvm_sregs *sr)
{
	sr->cs = e->cs;
	sr->ds = sr->es = sr->fs = sr->gs = sr->ss = e->ds;
	sr->tr = e->tr;
	sr->gdt = e->gdt;
	sr->idt = e->idt;
	sr->cr0 = e->cr0;
	sr->cr3 = e->cr3;
	sr->cr4 = e->cr4;
	sr->efer = e->efer;
}
