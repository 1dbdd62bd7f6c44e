/* tests/unit/test_linux.c - the bzImage loader on synthetic images: a good
 * header parses; each bad field, and every truncation, is refused with a
 * reason and without reading past the file; the zero page, e820 map,
 * command line, initrd placement, page tables, GDT and entry registers of
 * 256 MiB, 3 GiB and 5 GiB guests. */
#include <asm/bootparam.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>

#include "kvm/x86/linux.h"

#define MiB (1ull << 20)
#define GiB (1ull << 30)

#define SETUP_SECTS 4
#define SETUP_LEN   ((SETUP_SECTS + 1) * 512)
#define KERNEL_LEN  (16u << 10)
#define TRAILER     1024u                  /* like a signature after the kernel */
#define IMG_LEN     (SETUP_LEN + KERNEL_LEN + TRAILER)
#define INIT_SIZE   (4u << 20)
#define KVER        "6.1.0-test (synthetic) #1 SMP"

static uint8_t img[IMG_LEN];

/* A 2.15 bzImage: relocatable, 64-bit, 2 MiB aligned, pref 16 MiB. */
static struct setup_header good_header(void)
{
	struct setup_header h;

	memset(&h, 0, sizeof(h));
	h.setup_sects = SETUP_SECTS;
	h.syssize = KERNEL_LEN / 16;
	h.vid_mode = 0xffff;
	h.boot_flag = 0xaa55;
	h.jump = 0x6aeb;                       /* header ends at 0x26c */
	memcpy(&h.header, "HdrS", 4);
	h.version = 0x020f;
	h.kernel_version = 0x800 - 0x200;
	h.loadflags = LOADED_HIGH;
	h.code32_start = 0x100000;
	h.initrd_addr_max = 0x7fffffff;
	h.kernel_alignment = 0x200000;
	h.relocatable_kernel = 1;
	h.min_alignment = 21;
	h.xloadflags = XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G;
	h.cmdline_size = 2047;
	h.pref_address = 16 * MiB;
	h.init_size = INIT_SIZE;
	return h;
}

static void build(const struct setup_header *h)
{
	memset(img, 0, sizeof(img));
	memcpy(img + 0x1f1, h, sizeof(*h));
	memcpy(img + 0x800, KVER, sizeof(KVER));
	for (size_t i = 0; i < KERNEL_LEN + TRAILER; i++)
		img[SETUP_LEN + i] = (uint8_t)(i * 7 + (i >> 8));
}

static void build_good(void)
{
	struct setup_header h = good_header();

	build(&h);
}

static uint8_t *ram_map(uint64_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	assert_true(p != MAP_FAILED);
	return p;
}

static struct boot_params *zp(uint8_t *ram)
{
	return (struct boot_params *)(ram + KVM_LINUX_ZERO_PAGE_GPA);
}

static void test_parse_good(void **state)
{
	struct kvm_linux_image k;
	char why[256] = "";

	(void)state;
	build_good();
	assert_int_equal(kvm_linux_parse(img, sizeof(img), &k, why, sizeof(why)), 0);
	assert_ptr_equal(k.img, img);
	assert_ptr_equal(k.kernel, img + SETUP_LEN);
	assert_int_equal(k.kernel_len, KERNEL_LEN);     /* the trailer is not kernel */
	assert_int_equal(k.setup_len, SETUP_LEN);
	assert_int_equal(k.hdr_end, 0x26c);
	assert_int_equal(k.version, 0x020f);
	assert_int_equal(k.setup_sects, SETUP_SECTS);
	assert_int_equal(k.relocatable, 1);
	assert_int_equal(k.kernel_alignment, 0x200000);
	assert_int_equal(k.min_alignment, 21);
	assert_int_equal(k.xloadflags, XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G);
	assert_int_equal(k.cmdline_size, 2047);
	assert_int_equal(k.pref_address, 16 * MiB);
	assert_int_equal(k.init_size, INIT_SIZE);
	assert_int_equal(k.initrd_addr_max, 0x7fffffff);
	assert_int_equal(k.loadflags, LOADED_HIGH);
	assert_non_null(k.kver);
	assert_int_equal(k.kver_len, strlen(KVER));
	assert_memory_equal(k.kver, KVER, strlen(KVER));
}

/* setup_sects 0 means 4; a version string that runs off the setup code,
 * or is not printable, is absent, not an error. */
static void test_parse_quirks(void **state)
{
	struct setup_header h = good_header();
	struct kvm_linux_image k;

	(void)state;
	h.setup_sects = 0;
	build(&h);
	assert_int_equal(kvm_linux_parse(img, sizeof(img), &k, NULL, 0), 0);
	assert_int_equal(k.setup_len, 5 * 512);
	assert_int_equal(k.setup_sects, 4);

	h = good_header();
	h.kernel_version = SETUP_LEN - 0x200 - 3;   /* "abc" then the kernel, no NUL */
	build(&h);
	memcpy(img + SETUP_LEN - 3, "abc", 3);
	img[SETUP_LEN] = 'd';
	assert_int_equal(kvm_linux_parse(img, sizeof(img), &k, NULL, 0), 0);
	assert_null(k.kver);

	h.kernel_version = 0xffff;                  /* past the setup code */
	build(&h);
	assert_int_equal(kvm_linux_parse(img, sizeof(img), &k, NULL, 0), 0);
	assert_null(k.kver);
	h.kernel_version = 0;
	build(&h);
	assert_int_equal(kvm_linux_parse(img, sizeof(img), &k, NULL, 0), 0);
	assert_null(k.kver);
}

struct bad {
	const char *name;
	int err;
	const char *says;
	void (*mutate)(struct setup_header *h);
};

static void m_boot_flag(struct setup_header *h) { h->boot_flag = 0x55aa; }
static void m_hdrs(struct setup_header *h) { memcpy(&h->header, "HdrZ", 4); }
static void m_old(struct setup_header *h) { h->version = 0x020b; }
static void m_no64(struct setup_header *h) { h->xloadflags = XLF_CAN_BE_LOADED_ABOVE_4G; }
static void m_sects(struct setup_header *h) { h->setup_sects = 200; }
static void m_syssize(struct setup_header *h) { h->syssize = KERNEL_LEN / 16 + TRAILER / 16 + 1; }
static void m_sys0(struct setup_header *h) { h->syssize = 0; }
static void m_init(struct setup_header *h) { h->init_size = KERNEL_LEN - 1; }
static void m_align(struct setup_header *h) { h->kernel_alignment = 0x300000; }
static void m_align0(struct setup_header *h) { h->kernel_alignment = 0; }
static void m_short_hdr(struct setup_header *h) { h->jump = 0x40eb; }   /* ends at 0x242 */
static void m_fixed_low(struct setup_header *h) { h->relocatable_kernel = 0; h->pref_address = 0x10000; }

static void test_parse_bad_fields(void **state)
{
	static const struct bad bad[] = {
		{ "boot flag", -ENOEXEC, "0xAA55", m_boot_flag },
		{ "HdrS", -ENOEXEC, "HdrS", m_hdrs },
		{ "protocol 2.11", -ENOEXEC, "2.11 is older than 2.12", m_old },
		{ "no 64-bit entry", -ENOEXEC, "XLF_KERNEL_64", m_no64 },
		{ "setup_sects past the file", -EINVAL, "setup_sects 200", m_sects },
		{ "syssize past the file", -EINVAL, "syssize says", m_syssize },
		{ "syssize 0", -EINVAL, "syssize is 0", m_sys0 },
		{ "init_size below the kernel", -EINVAL, "init_size", m_init },
		{ "alignment not a power of two", -EINVAL, "kernel_alignment 0x300000", m_align },
		{ "alignment 0", -EINVAL, "kernel_alignment", m_align0 },
		{ "header before init_size", -EINVAL, "before init_size", m_short_hdr },
		{ "fixed address in the first MiB", -ENOEXEC, "not relocatable", m_fixed_low },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct setup_header h = good_header();
		struct kvm_linux_image k;
		char why[256] = "";
		int err;

		bad[i].mutate(&h);
		build(&h);
		err = kvm_linux_parse(img, sizeof(img), &k, why, sizeof(why));
		if (err != bad[i].err || !strstr(why, bad[i].says))
			fail_msg("%s: got %d \"%s\", want %d \"...%s...\"", bad[i].name, err, why,
				 bad[i].err, bad[i].says);
		assert_null(k.kernel);
	}
}

/* Every prefix of a good image shorter than setup + kernel is refused with
 * a reason; each is parsed from a buffer of exactly its length, so a read
 * past the end is a fault under ASan. */
static void test_parse_truncated(void **state)
{
	(void)state;
	build_good();
	for (size_t len = 0; len <= sizeof(img); len++) {
		uint8_t *copy = malloc(len ? len : 1);
		struct kvm_linux_image k;
		char why[256] = "";
		int err;

		assert_non_null(copy);
		memcpy(copy, img, len);
		err = kvm_linux_parse(copy, len, &k, why, sizeof(why));
		if (len < SETUP_LEN + KERNEL_LEN) {
			if (err != -EINVAL || (!strstr(why, "truncated") && !strstr(why, "past the end")))
				fail_msg("len %zu: got %d \"%s\"", len, err, why);
		} else {
			assert_int_equal(err, 0);
		}
		free(copy);
	}
}

static void parse_good(struct kvm_linux_image *k)
{
	build_good();
	assert_int_equal(kvm_linux_parse(img, sizeof(img), k, NULL, 0), 0);
}

static void e820_is(const struct boot_params *bp, unsigned i, uint64_t addr, uint64_t size,
		    uint32_t type)
{
	assert_true(i < bp->e820_entries);
	assert_int_equal(bp->e820_table[i].addr, addr);
	assert_int_equal(bp->e820_table[i].size, size);
	assert_int_equal(bp->e820_table[i].type, type);
}

static void e820_low(const struct boot_params *bp, uint64_t low_end)
{
	e820_is(bp, 0, 0, 0x9fc00, KVM_LINUX_E820_RAM);
	e820_is(bp, 1, 0x9fc00, 0x100000 - 0x9fc00, KVM_LINUX_E820_RESERVED);
	e820_is(bp, 2, 0x100000, low_end - 0x100000, KVM_LINUX_E820_RAM);
}

/* The 256 MiB guest in full: zero page fields, copied header, e820,
 * command line, kernel bytes, and what is left alone. */
static void test_load_256m(void **state)
{
	const uint64_t ram_bytes = 256 * MiB;
	const char *cmd = "console=ttyS0 root=/dev/vda";
	struct kvm_linux_boot b = { .cmdline = cmd, .rsdp_gpa = 0xe0000 };
	uint8_t *ram = ram_map(ram_bytes);
	struct kvm_linux_image k;
	struct kvm_linux_entry e;
	struct boot_params *bp = zp(ram);
	char why[256] = "";

	(void)state;
	parse_good(&k);
	memset(ram, 0xcc, 4096);                               /* page 0 */
	memset(ram + 0xe0000, 0xa5, 0x20000);                  /* the ACPI area */
	memset(ram + KVM_LINUX_ZERO_PAGE_GPA, 0x77, 4096);     /* must be cleared */
	assert_int_equal(kvm_linux_load(ram, ram_bytes, &k, &b, &e, why, sizeof(why)), 0);

	for (size_t i = 0; i < 4096; i++)
		assert_int_equal(ram[i], 0xcc);
	for (size_t i = 0xe0000; i < 0x100000; i++)
		assert_int_equal(ram[i], 0xa5);

	assert_int_equal(e.kernel_gpa, 16 * MiB);
	assert_int_equal(e.kernel_end, 16 * MiB + INIT_SIZE);
	assert_memory_equal(ram + 16 * MiB, img + SETUP_LEN, KERNEL_LEN);
	assert_int_equal(e.zero_page_gpa, KVM_LINUX_ZERO_PAGE_GPA);
	assert_int_equal(e.cmdline_gpa, KVM_LINUX_CMDLINE_GPA);
	assert_int_equal(e.cmdline_len, strlen(cmd));
	assert_string_equal((char *)ram + KVM_LINUX_CMDLINE_GPA, cmd);
	assert_int_equal(e.initrd_gpa, 0);
	assert_int_equal(e.initrd_len, 0);

	/* The header as the image has it, then what the loader writes. */
	assert_memory_equal((uint8_t *)bp + 0x1f1, img + 0x1f1, 0x210 - 0x1f1);
	assert_int_equal(bp->hdr.version, 0x020f);
	assert_int_equal(bp->hdr.init_size, INIT_SIZE);
	assert_int_equal(bp->hdr.kernel_alignment, 0x200000);
	assert_int_equal(bp->hdr.pref_address, 16 * MiB);
	assert_int_equal(bp->hdr.xloadflags, XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G);
	assert_int_equal(bp->hdr.type_of_loader, 0xff);
	assert_int_equal(bp->hdr.loadflags, LOADED_HIGH | CAN_USE_HEAP);
	assert_int_equal(bp->hdr.heap_end_ptr, 0xfe00);
	assert_int_equal(bp->hdr.code32_start, 16 * MiB);
	assert_int_equal(bp->hdr.cmd_line_ptr, KVM_LINUX_CMDLINE_GPA);
	assert_int_equal(bp->ext_cmd_line_ptr, 0);
	assert_int_equal(bp->hdr.ramdisk_image, 0);
	assert_int_equal(bp->hdr.ramdisk_size, 0);
	assert_int_equal(bp->hdr.setup_data, 0);
	assert_int_equal(bp->acpi_rsdp_addr, 0xe0000);
	assert_int_equal(bp->sentinel, 0);
	assert_int_equal(bp->screen_info.orig_video_isVGA, 0);
	/* Nothing past the header but the e820 map. */
	for (size_t i = 0x26c; i < 0x290; i++)
		assert_int_equal(((uint8_t *)bp)[i], 0);

	assert_int_equal(bp->e820_entries, 3);
	assert_int_equal(e.e820_entries, 3);
	e820_low(bp, ram_bytes);
	munmap(ram, ram_bytes);
}

static void test_e820_3g_5g(void **state)
{
	struct kvm_linux_image k;
	struct kvm_linux_entry e;
	char why[256] = "";
	uint8_t *ram;

	(void)state;
	parse_good(&k);
	ram = ram_map(3 * GiB);
	assert_int_equal(kvm_linux_load(ram, 3 * GiB, &k, NULL, &e, why, sizeof(why)), 0);
	assert_int_equal(zp(ram)->e820_entries, 3);
	e820_low(zp(ram), 3 * GiB);
	munmap(ram, 3 * GiB);

	ram = ram_map(5 * GiB);
	assert_int_equal(kvm_linux_load(ram, 5 * GiB, &k, NULL, &e, why, sizeof(why)), 0);
	assert_int_equal(zp(ram)->e820_entries, 4);
	e820_low(zp(ram), 3 * GiB);
	e820_is(zp(ram), 3, 4 * GiB, 2 * GiB, KVM_LINUX_E820_RAM);
	munmap(ram, 5 * GiB);

	/* Just over 3 GiB: one page above 4 GiB. */
	ram = ram_map(3 * GiB + 4096);
	assert_int_equal(kvm_linux_load(ram, 3 * GiB + 4096, &k, NULL, &e, why, sizeof(why)), 0);
	e820_is(zp(ram), 3, 4 * GiB, 4096, KVM_LINUX_E820_RAM);
	munmap(ram, 3 * GiB + 4096);
}

/* Load with an initrd of len bytes into a guest of ram_bytes whose kernel
 * says initrd_addr_max; check it landed whole, page aligned, above the
 * kernel and below limit; return where. */
static uint64_t initrd_at(uint64_t ram_bytes, uint32_t addr_max, size_t len, uint64_t limit)
{
	struct setup_header h = good_header();
	uint8_t *rd = malloc(len), *ram = ram_map(ram_bytes);
	struct kvm_linux_boot b = { .initrd = rd, .initrd_len = len };
	struct kvm_linux_image k;
	struct kvm_linux_entry e;
	char why[256] = "";
	uint64_t at;

	assert_non_null(rd);
	for (size_t i = 0; i < len; i++)
		rd[i] = (uint8_t)(i ^ (i >> 9));
	h.initrd_addr_max = addr_max;
	build(&h);
	assert_int_equal(kvm_linux_parse(img, sizeof(img), &k, NULL, 0), 0);
	if (kvm_linux_load(ram, ram_bytes, &k, &b, &e, why, sizeof(why)))
		fail_msg("load: %s", why);
	at = e.initrd_gpa;
	assert_int_equal(at % 4096, 0);
	assert_true(at >= e.kernel_end);
	assert_true(at + len <= limit);
	assert_true(at + len + 4096 > limit);             /* as high as it goes */
	assert_int_equal(e.initrd_len, len);
	assert_memory_equal(ram + at, rd, len);
	assert_int_equal(zp(ram)->hdr.ramdisk_image, (uint32_t)at);
	assert_int_equal(zp(ram)->ext_ramdisk_image, at >> 32);
	assert_int_equal(zp(ram)->hdr.ramdisk_size, len);
	assert_int_equal(zp(ram)->ext_ramdisk_size, 0);
	munmap(ram, ram_bytes);
	free(rd);
	return at;
}

static void test_initrd_placement(void **state)
{
	(void)state;
	/* Top of a 256 MiB guest; an odd length still starts on a page. */
	assert_int_equal(initrd_at(256 * MiB, 0x7fffffff, MiB + 123, 256 * MiB),
			 (256 * MiB - MiB - 123) & ~4095ull);
	/* 3 GiB of RAM: initrd_addr_max (2 GiB - 1) is the limit. */
	initrd_at(3 * GiB, 0x7fffffff, 3 * MiB, 2 * GiB);
	/* A kernel that takes initrds up to 4 GiB in a 5 GiB guest: below 3 GiB. */
	initrd_at(5 * GiB, 0xffffffff, 3 * MiB, 3 * GiB);
	/* A low initrd_addr_max in a big guest. */
	initrd_at(5 * GiB, 64 * MiB - 1, 2 * MiB, 64 * MiB);
	/* Exactly the room between the kernel's init_size and RAM's end. */
	assert_int_equal(initrd_at(24 * MiB, 0x7fffffff, 4 * MiB, 24 * MiB), 20 * MiB);
}

static void expect_load_fails(uint64_t ram_bytes, const struct kvm_linux_image *k,
			      const struct kvm_linux_boot *b, int want, const char *says)
{
	uint8_t *ram = ram_map(ram_bytes);
	struct kvm_linux_entry e;
	char why[256] = "";
	int err;

	memset(ram, 0x5a, 0x30000);                 /* the fixed area below 640 KiB */
	err = kvm_linux_load(ram, ram_bytes, k, b, &e, why, sizeof(why));
	if (err != want || !strstr(why, says))
		fail_msg("got %d \"%s\", want %d \"...%s...\"", err, why, want, says);
	for (size_t i = 0; i < 0x30000; i++)        /* nothing written on failure */
		if (ram[i] != 0x5a)
			fail_msg("byte %#zx written by a failed load", i);
	munmap(ram, ram_bytes);
}

static void test_initrd_too_big(void **state)
{
	struct setup_header h = good_header();
	static uint8_t rd[4096];
	struct kvm_linux_boot b = { .initrd = rd, .initrd_len = 250 * MiB };
	struct kvm_linux_image k;

	(void)state;
	parse_good(&k);
	/* 256 MiB - (16 MiB + 4 MiB) is free: 250 MiB is not (the buffer is
	 * never read: the check comes first). */
	expect_load_fails(256 * MiB, &k, &b, -ENOSPC, "initrd of 262144000 bytes does not fit");
	b.initrd_len = 236 * MiB + 1;          /* 236 MiB would fit exactly */
	expect_load_fails(256 * MiB, &k, &b, -ENOSPC, "does not fit");
	/* initrd_addr_max below the kernel's end. */
	h.initrd_addr_max = 18 * MiB;
	build(&h);
	assert_int_equal(kvm_linux_parse(img, sizeof(img), &k, NULL, 0), 0);
	b.initrd_len = sizeof(rd);
	expect_load_fails(256 * MiB, &k, &b, -ENOSPC, "initrd_addr_max 0x1200000");
	/* A length without data. */
	b.initrd = NULL;
	expect_load_fails(256 * MiB, &k, &b, -EINVAL, "without an initrd");
}

static void test_cmdline_limits(void **state)
{
	struct setup_header h = good_header();
	struct kvm_linux_boot b = { .cmdline = "0123456789abcdefX" };   /* 17 */
	struct kvm_linux_image k;
	struct kvm_linux_entry e;
	uint8_t *ram;
	char *big;

	(void)state;
	h.cmdline_size = 16;
	build(&h);
	assert_int_equal(kvm_linux_parse(img, sizeof(img), &k, NULL, 0), 0);
	expect_load_fails(256 * MiB, &k, &b, -E2BIG, "17 bytes is longer than the kernel's cmdline_size 16");
	b.cmdline = "0123456789abcdef";
	ram = ram_map(256 * MiB);
	memset(ram + KVM_LINUX_CMDLINE_GPA, 'x', 64);
	assert_int_equal(kvm_linux_load(ram, 256 * MiB, &k, &b, &e, NULL, 0), 0);
	assert_string_equal((char *)ram + KVM_LINUX_CMDLINE_GPA, b.cmdline);
	munmap(ram, 256 * MiB);

	/* A kernel that takes more than this layout keeps. */
	h.cmdline_size = 0xffffffff;
	build(&h);
	assert_int_equal(kvm_linux_parse(img, sizeof(img), &k, NULL, 0), 0);
	big = malloc(KVM_LINUX_CMDLINE_MAX + 1);
	assert_non_null(big);
	memset(big, 'a', KVM_LINUX_CMDLINE_MAX);
	big[KVM_LINUX_CMDLINE_MAX] = 0;
	b.cmdline = big;
	expect_load_fails(256 * MiB, &k, &b, -E2BIG, "this loader keeps");
	free(big);
}

static void test_ram_too_small(void **state)
{
	struct kvm_linux_image k;
	struct kvm_linux_entry e;
	uint8_t *ram;

	(void)state;
	parse_good(&k);
	/* The kernel needs [16 MiB, 20 MiB). */
	expect_load_fails(20 * MiB - 4096, &k, NULL, -ENOSPC, "too small");
	expect_load_fails(8 * MiB, &k, NULL, -ENOSPC, "[0x1000000, 0x1400000)");
	ram = ram_map(20 * MiB);
	assert_int_equal(kvm_linux_load(ram, 20 * MiB, &k, NULL, &e, NULL, 0), 0);
	munmap(ram, 20 * MiB);

	/* A load of something kvm_linux_parse did not accept. */
	memset(&k, 0, sizeof(k));
	expect_load_fails(256 * MiB, &k, NULL, -EINVAL, "not parsed");
}

static uint64_t placed(uint64_t pref, uint32_t align, int reloc)
{
	struct setup_header h = good_header();
	struct kvm_linux_image k;
	struct kvm_linux_entry e;
	uint8_t *ram = ram_map(256 * MiB);
	char why[256] = "";

	h.pref_address = pref;
	h.kernel_alignment = align;
	h.relocatable_kernel = (uint8_t)reloc;
	build(&h);
	assert_int_equal(kvm_linux_parse(img, sizeof(img), &k, why, sizeof(why)), 0);
	if (kvm_linux_load(ram, 256 * MiB, &k, NULL, &e, why, sizeof(why)))
		fail_msg("load: %s", why);
	assert_memory_equal(ram + e.kernel_gpa, img + SETUP_LEN, KERNEL_LEN);
	assert_int_equal(e.regs.rip, e.kernel_gpa + 0x200);
	munmap(ram, 256 * MiB);
	return e.kernel_gpa;
}

static void test_kernel_placement(void **state)
{
	(void)state;
	assert_int_equal(placed(16 * MiB, 2 * MiB, 1), 16 * MiB);
	assert_int_equal(placed(32 * MiB, 2 * MiB, 1), 32 * MiB);
	/* Relocatable, pref in the first MiB or misaligned: from 16 MiB, aligned. */
	assert_int_equal(placed(0x100000, 2 * MiB, 1), 16 * MiB);
	assert_int_equal(placed(0, 2 * MiB, 1), 16 * MiB);
	assert_int_equal(placed(17 * MiB, 2 * MiB, 1), 18 * MiB);
	assert_int_equal(placed(0x100000, 32 * MiB, 1), 32 * MiB);
	/* Not relocatable: exactly where it says, aligned or not. */
	assert_int_equal(placed(0x100000, 2 * MiB, 0), 0x100000);
	assert_int_equal(placed(17 * MiB, 2 * MiB, 0), 17 * MiB);
}

/* Walk the guest's 4-level tables for va: its physical address, or ~0 when
 * not mapped; *attr gets the leaf entry's flags. */
static uint64_t walk(const uint8_t *ram, uint64_t cr3, uint64_t va, uint64_t *attr)
{
	uint64_t t = cr3 & ~0xfffull;

	for (int level = 3; level >= 0; level--) {
		uint64_t ent;

		memcpy(&ent, ram + t + ((va >> (12 + 9 * level)) & 511) * 8, 8);
		if (!(ent & 1))
			return ~0ull;
		if (level == 0 || (level <= 2 && (ent & 0x80))) {
			uint64_t page = 1ull << (12 + 9 * level);

			*attr = ent & 0xfff;
			return (ent & ~0xfffull & ~(page - 1) & ((1ull << 52) - 1)) | (va & (page - 1));
		}
		t = ent & ~0xfffull & ((1ull << 52) - 1);
	}
	return ~0ull;
}

static void test_page_tables(void **state)
{
	const char *cmd = "console=ttyS0";
	struct kvm_linux_boot b = { .cmdline = cmd };
	uint8_t *ram = ram_map(256 * MiB);
	struct kvm_linux_image k;
	struct kvm_linux_entry e;
	uint64_t va[] = { 0, KVM_LINUX_GDT_GPA, KVM_LINUX_TSS_GPA, KVM_LINUX_STACK_TOP - 8,
			  KVM_LINUX_ZERO_PAGE_GPA, KVM_LINUX_ZERO_PAGE_GPA + 4095,
			  KVM_LINUX_CMDLINE_GPA, 0, 0, 0, 255 * MiB, 3 * GiB - 1, 0xfee00000 };
	uint64_t attr;

	(void)state;
	parse_good(&k);
	assert_int_equal(kvm_linux_load(ram, 256 * MiB, &k, &b, &e, NULL, 0), 0);
	va[7] = e.regs.rip;
	va[8] = e.kernel_gpa;
	va[9] = e.kernel_end - 1;
	for (size_t i = 0; i < sizeof(va) / sizeof(va[0]); i++) {
		assert_int_equal(walk(ram, e.cr3, va[i], &attr), va[i]);
		assert_true((attr & 3) == 3);           /* present, writable */
		assert_int_equal(attr & 0x18, va[i] >= 3 * GiB ? 0x18 : 0);
	}
	assert_int_equal(walk(ram, e.cr3, 4 * GiB, &attr), ~0ull);
	munmap(ram, 256 * MiB);
}

static void test_entry_registers(void **state)
{
	uint8_t *ram = ram_map(256 * MiB);
	struct kvm_linux_image k;
	struct kvm_linux_entry e;
	struct kvm_sregs sr;
	uint64_t gdt[6];

	(void)state;
	parse_good(&k);
	assert_int_equal(kvm_linux_load(ram, 256 * MiB, &k, NULL, &e, NULL, 0), 0);
	assert_int_equal(e.regs.rip, 16 * MiB + 0x200);
	assert_int_equal(e.regs.rsi, KVM_LINUX_ZERO_PAGE_GPA);
	assert_int_equal(e.regs.rsp, KVM_LINUX_STACK_TOP);
	assert_int_equal(e.regs.rflags, 2);
	assert_int_equal(e.regs.rax | e.regs.rbx | e.regs.rcx | e.regs.rdx | e.regs.rdi | e.regs.rbp, 0);
	assert_int_equal(e.cr0 & 0x80000001u, 0x80000001u);     /* PG, PE */
	assert_int_equal(e.cr3, KVM_LINUX_PT_GPA);
	assert_int_equal(e.cr4 & 0x20, 0x20);                    /* PAE */
	assert_int_equal(e.efer, 0x500);                          /* LME, LMA */

	/* The GDT in memory holds what the segment registers say. */
	memcpy(gdt, ram + KVM_LINUX_GDT_GPA, sizeof(gdt));
	assert_int_equal(gdt[0] | gdt[1], 0);
	assert_int_equal(gdt[2], 0x00af9b000000ffffull);          /* __BOOT_CS: L, DPL 0, code r/x */
	assert_int_equal(gdt[3], 0x00cf93000000ffffull);          /* __BOOT_DS: 4 GiB flat r/w */
	assert_int_equal((gdt[4] >> 40) & 0xff, 0x8b);            /* busy 64-bit TSS */
	assert_int_equal((gdt[4] >> 16 & 0xffffff) | (gdt[4] >> 56) << 24 | gdt[5] << 32,
			 KVM_LINUX_TSS_GPA);

	memset(&sr, 0xee, sizeof(sr));
	sr.apic_base = 0xfee00900;
	kvm_linux_sregs(&e, &sr);
	assert_int_equal(sr.apic_base, 0xfee00900);               /* kept */
	assert_int_equal(sr.cs.selector, 0x10);
	assert_int_equal(sr.cs.l, 1);
	assert_int_equal(sr.cs.db, 0);
	assert_int_equal(sr.cs.type, 0xb);
	assert_int_equal(sr.cs.present, 1);
	assert_int_equal(sr.cs.s, 1);
	assert_int_equal(sr.cs.dpl, 0);
	assert_int_equal(sr.cs.base, 0);
	assert_int_equal(sr.cs.limit, 0xffffffff);
	assert_int_equal(sr.cs.g, 1);
	assert_int_equal(sr.cs.unusable, 0);
	const struct kvm_segment *data[] = { &sr.ds, &sr.es, &sr.fs, &sr.gs, &sr.ss };
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(data[i]->selector, 0x18);
		assert_int_equal(data[i]->type, 0x3);
		assert_int_equal(data[i]->db, 1);
		assert_int_equal(data[i]->limit, 0xffffffff);
		assert_int_equal(data[i]->present, 1);
		assert_int_equal(data[i]->unusable, 0);
	}
	assert_int_equal(sr.tr.selector, 0x20);
	assert_int_equal(sr.tr.type, 0xb);
	assert_int_equal(sr.tr.base, KVM_LINUX_TSS_GPA);
	assert_int_equal(sr.tr.present, 1);
	assert_int_equal(sr.gdt.base, KVM_LINUX_GDT_GPA);
	assert_int_equal(sr.gdt.limit, 0x2f);
	assert_int_equal(sr.idt.limit, 0);
	assert_int_equal(sr.cr0, e.cr0);
	assert_int_equal(sr.cr3, e.cr3);
	assert_int_equal(sr.cr4, e.cr4);
	assert_int_equal(sr.efer, e.efer);
	munmap(ram, 256 * MiB);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_quirks),
		cmocka_unit_test(test_parse_bad_fields),
		cmocka_unit_test(test_parse_truncated),
		cmocka_unit_test(test_load_256m),
		cmocka_unit_test(test_e820_3g_5g),
		cmocka_unit_test(test_initrd_placement),
		cmocka_unit_test(test_initrd_too_big),
		cmocka_unit_test(test_cmdline_limits),
		cmocka_unit_test(test_ram_too_small),
		cmocka_unit_test(test_kernel_placement),
		cmocka_unit_test(test_page_tables),
		cmocka_unit_test(test_entry_registers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
