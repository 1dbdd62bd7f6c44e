/* tests/unit/test_acpi.c - the ACPI tables: every checksum and length,
 * pointers that stay inside the tables, the MADT's entries, the DSDT's
 * devices byte by byte (and its PkgLengths decoded), the FADT's sleep and
 * reset registers, -ENOSPC at every short size without a byte written
 * past it, and the configs that must be refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "kvm/x86/acpi.h"

#define GPA     KVM_ACPI_BIOS_AREA
#define BUFSZ   8192
#define HDR     36

struct built {
	uint8_t buf[BUFSZ];
	ssize_t n;
	uint64_t gpa, rsdp;
};

static const struct kvm_acpi_mmio_dev three_devs[] = {
	{ .base = 0xd0000000, .size = 0x1000, .gsi = 16, .level = 1 },
	{ .base = 0xd0001000, .size = 0x200, .gsi = 17, .level = 0 },
	{ .base = 0xd0002000, .size = 0x1000, .gsi = 5, .level = 1 },
};

static struct kvm_acpi_config full_config(void)
{
	return (struct kvm_acpi_config){
		.ncpus = 4, .devs = three_devs, .ndevs = 3, .com1 = 1,
		.sleep_port = 0x600, .reset_port = 0x601,
	};
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return le16(p) | (uint32_t)le16(p + 2) << 16;
}

static uint64_t le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static void build(struct built *b, uint64_t gpa, const struct kvm_acpi_config *c)
{
	memset(b->buf, 0xa5, sizeof(b->buf));
	b->gpa = gpa;
	b->rsdp = 0;
	b->n = kvm_acpi_build(b->buf, sizeof(b->buf), gpa, c, &b->rsdp);
	assert_true(b->n > 0);
	assert_int_equal(b->rsdp, gpa);
}

/* The table at guest-physical a, checked: inside what was written, its
 * length inside too, its checksum zero, its signature sig. */
static const uint8_t *table(const struct built *b, uint64_t a, const char *sig)
{
	const uint8_t *t;
	uint32_t len;

	assert_true(a >= b->gpa && a - b->gpa + HDR <= (uint64_t)b->n);
	t = b->buf + (a - b->gpa);
	len = le32(t + 4);
	assert_true(len >= HDR && a - b->gpa + len <= (uint64_t)b->n);
	assert_memory_equal(t, sig, 4);
	assert_int_equal(sum(t, len), 0);
	assert_memory_equal(t + 10, "PCMOVE", 6);
	assert_memory_equal(t + 16, "PCMV", 4);
	assert_memory_equal(t + 20, sig, 4);
	return t;
}

static const uint8_t *xsdt_entry(const struct built *b, unsigned i, const char *sig)
{
	const uint8_t *r = b->buf + (b->rsdp - b->gpa);
	const uint8_t *x = table(b, le64(r + 24), "XSDT");

	assert_true(HDR + 8 * (i + 1) <= le32(x + 4));
	return table(b, le64(x + HDR + 8 * i), sig);
}

static const uint8_t *fadt(const struct built *b)
{
	return xsdt_entry(b, 0, "FACP");
}

static const uint8_t *madt(const struct built *b)
{
	return xsdt_entry(b, 1, "APIC");
}

static const uint8_t *dsdt(const struct built *b)
{
	return table(b, le64(fadt(b) + 140), "DSDT");
}

static void test_rsdp_xsdt(void **st)
{
	struct kvm_acpi_config c = full_config();
	struct built b;
	const uint8_t *r, *x;

	(void)st;
	build(&b, GPA, &c);
	r = b.buf;
	assert_memory_equal(r, "RSD PTR ", 8);
	assert_int_equal(sum(r, 20), 0);
	assert_int_equal(sum(r, 36), 0);
	assert_memory_equal(r + 9, "PCMOVE", 6);
	assert_int_equal(r[15], 2);
	assert_int_equal(le32(r + 16), 0);                  /* no RSDT */
	assert_int_equal(le32(r + 20), 36);
	x = table(&b, le64(r + 24), "XSDT");
	assert_int_equal(le32(x + 4), HDR + 2 * 8);
	assert_int_equal((le64(r + 24) & 15), 0);
	fadt(&b);
	madt(&b);
	dsdt(&b);
}

/* Every table inside what was written, aligned, none overlapping. */
static void test_layout(void **st)
{
	struct kvm_acpi_config c = full_config();
	struct built b;
	const uint8_t *t[4];
	size_t end = 36;

	(void)st;
	build(&b, GPA, &c);
	t[0] = b.buf + (le64(b.buf + 24) - GPA);
	t[1] = fadt(&b);
	t[2] = madt(&b);
	t[3] = dsdt(&b);
	for (int i = 0; i < 4; i++) {
		size_t off = (size_t)(t[i] - b.buf);

		assert_int_equal(off % 16, 0);
		assert_true(off >= end);
		end = off + le32(t[i] + 4);
	}
	assert_int_equal(end, (size_t)b.n);
}

static void test_fadt(void **st)
{
	struct kvm_acpi_config c = full_config();
	struct built b;
	const uint8_t *f;

	(void)st;
	build(&b, GPA, &c);
	f = fadt(&b);
	assert_int_equal(le32(f + 4), 276);
	assert_int_equal(f[8], 6);
	assert_int_equal(f[131], 4);                        /* minor: 6.4 */
	assert_int_equal(le32(f + 112), 1u << 20 | 1u << 10 | 1u << 5 | 1u << 4);
	assert_int_equal(le16(f + 109), 1u << 0 | 1u << 2 | 1u << 5);
	assert_int_equal(le32(f + 36), 0);                  /* no FACS */
	assert_int_equal(le64(f + 132), 0);
	assert_int_equal(le32(f + 40), le64(f + 140));      /* DSDT = X_DSDT */
	assert_int_equal(le16(f + 46), 0);                  /* no SCI */
	/* RESET_REG, SLEEP_CONTROL_REG, SLEEP_STATUS_REG: SystemIO, 8 bits */
	static const uint8_t io8[4] = { 1, 8, 0, 1 };
	assert_memory_equal(f + 116, io8, 4);
	assert_int_equal(le64(f + 120), 0x601);
	assert_int_equal(f[128], KVM_ACPI_RESET_VALUE);
	assert_memory_equal(f + 244, io8, 4);
	assert_int_equal(le64(f + 248), 0x600);
	assert_memory_equal(f + 256, io8, 4);
	assert_int_equal(le64(f + 260), 0x600);
	assert_memory_equal(f + 268, "PCMOVEVM", 8);
}

static void test_fadt_no_ports(void **st)
{
	struct kvm_acpi_config c = { .ncpus = 1 };
	static const uint8_t zero[12];
	struct built b;
	const uint8_t *f, *d;

	(void)st;
	build(&b, GPA, &c);
	f = fadt(&b);
	assert_int_equal(le32(f + 112), 1u << 20 | 1u << 5 | 1u << 4);
	assert_int_equal(le16(f + 109), 1u << 2 | 1u << 5);
	assert_memory_equal(f + 116, zero, 12);
	assert_int_equal(f[128], 0);
	assert_memory_equal(f + 244, zero, 12);
	assert_memory_equal(f + 256, zero, 12);
	d = dsdt(&b);
	assert_null(memmem(d, le32(d + 4), "_S5_", 4));
	assert_null(memmem(d, le32(d + 4), "COM1", 4));
}

/* Counts the MADT's entries by type; every entry's length adds up. */
static void madt_count(const uint8_t *m, unsigned count[8])
{
	uint32_t len = le32(m + 4), off = 44;

	memset(count, 0, 8 * sizeof(count[0]));
	while (off < len) {
		assert_true(m[off + 1] >= 2 && off + m[off + 1] <= len);
		if (m[off] < 8)
			count[m[off]]++;
		off += m[off + 1];
	}
	assert_int_equal(off, len);
}

static void check_madt(unsigned ncpus, int irq0)
{
	struct kvm_acpi_config c = { .ncpus = ncpus, .ioapic_id = 7, .irq0_override = irq0 };
	unsigned count[8];
	struct built b;
	const uint8_t *m, *e;

	build(&b, GPA, &c);
	m = madt(&b);
	assert_int_equal(m[8], 5);
	assert_int_equal(le32(m + 36), KVM_ACPI_LAPIC_BASE);
	assert_int_equal(le32(m + 40), 1);                  /* PCAT_COMPAT */
	madt_count(m, count);
	assert_int_equal(count[0], ncpus);
	assert_int_equal(count[1], 1);
	assert_int_equal(count[2], irq0 ? 1 : 0);
	assert_int_equal(count[4], 1);
	for (unsigned i = 0; i < ncpus; i++) {
		e = m + 44 + 8 * i;
		assert_int_equal(e[0], 0);
		assert_int_equal(e[2], i);
		assert_int_equal(e[3], i);
		assert_int_equal(le32(e + 4), 1);
	}
	e = m + 44 + 8 * ncpus;
	assert_int_equal(e[0], 1);
	assert_int_equal(e[2], 7);
	assert_int_equal(le32(e + 4), KVM_ACPI_IOAPIC_BASE);
	assert_int_equal(le32(e + 8), 0);
	e += 12;
	if (irq0) {
		static const uint8_t iso[10] = { 2, 10, 0, 0, 2, 0, 0, 0, 0, 0 };
		assert_memory_equal(e, iso, 10);
		e += 10;
	}
	static const uint8_t nmi[6] = { 4, 6, 0xff, 0, 0, 1 };
	assert_memory_equal(e, nmi, 6);
}

static void test_madt(void **st)
{
	(void)st;
	check_madt(1, 0);
	check_madt(2, 1);
	check_madt(255, 0);
}

static void test_madt_bases(void **st)
{
	struct kvm_acpi_config c = { .ncpus = 1, .lapic_base = 0xfed00000,
				     .ioapic_base = 0xfec10000 };
	struct built b;
	const uint8_t *m;

	(void)st;
	build(&b, GPA, &c);
	m = madt(&b);
	assert_int_equal(le32(m + 36), 0xfed00000);
	assert_int_equal(le32(m + 44 + 8 + 4), 0xfec10000);
}

/* A PkgLength at p: its value, and in *n how many bytes it took. */
static size_t pkglen(const uint8_t *p, size_t *n)
{
	size_t v, extra = p[0] >> 6;

	*n = extra + 1;
	if (!extra)
		return p[0] & 0x3f;
	v = p[0] & 0x0f;
	for (size_t i = 1; i <= extra; i++)
		v |= (size_t)p[i] << (4 + 8 * (i - 1));
	return v;
}

/* The DSDT: Scope (_SB_) fills the body up to _S5; each Device's
 * PkgLength ends where the next Device (or the scope) does. */
static void walk_scope(const uint8_t *d, unsigned ndev)
{
	size_t len = le32(d + 4), n, scope_end, off, dlen;
	unsigned seen = 0;

	assert_int_equal(d[HDR], 0x10);
	scope_end = HDR + 1 + pkglen(d + HDR + 1, &n);
	assert_true(scope_end <= len);
	off = HDR + 1 + n;
	assert_memory_equal(d + off, "_SB_", 4);
	for (off += 4; off < scope_end; off += 2 + dlen, seen++) {
		assert_int_equal(d[off], 0x5b);
		assert_int_equal(d[off + 1], 0x82);
		dlen = pkglen(d + off + 2, &n);
		assert_true(off + 2 + dlen <= scope_end);
	}
	assert_int_equal(off, scope_end);
	assert_int_equal(seen, ndev);
}

static void check_virtio(const uint8_t *d, size_t len, unsigned i,
			 const struct kvm_acpi_mmio_dev *v)
{
	char seg[5] = { 'V', 'R', (char)('0' + i / 10), (char)('0' + i % 10), 0 };
	const uint8_t *dev = memmem(d, len, seg, 4), *uid, *crs;
	uint8_t mem[12] = { 0x86, 9, 0, 1 }, irq[9] = { 0x89, 6, 0, 0, 1 };
	static const uint8_t hid[15] = "\x08_HID\x0dLNRO0005";
	size_t left;

	assert_non_null(dev);
	left = len - (size_t)(dev - d);
	assert_memory_equal(dev + 4, hid, sizeof(hid));
	uid = dev + 4 + sizeof(hid);
	assert_memory_equal(uid, "\x08_UID", 5);
	if (i <= 1) {                                       /* ZeroOp, OneOp */
		assert_int_equal(uid[5], i);
	} else {                                            /* BytePrefix */
		assert_int_equal(uid[5], 0x0a);
		assert_int_equal(uid[6], i);
	}
	assert_non_null(memmem(dev, left, "\x08_CCA\x01", 6));
	crs = memmem(dev, left, "\x08_CRS\x11", 6);
	assert_non_null(crs);
	memcpy(mem + 4, &(uint32_t){ (uint32_t)v->base }, 4);
	memcpy(mem + 8, &v->size, 4);
	irq[3] = v->level ? 0x01 : 0x03;
	memcpy(irq + 5, &v->gsi, 4);
	/* Buffer: PkgLength, BytePrefix 23, Memory32Fixed, Interrupt, End */
	assert_int_equal(crs[7], 0x0a);
	assert_int_equal(crs[8], 23);
	assert_memory_equal(crs + 9, mem, 12);
	assert_memory_equal(crs + 21, irq, 9);
	assert_int_equal(crs[30], 0x79);
	assert_int_equal(crs[31], 0);
}

static void test_dsdt_devices(void **st)
{
	struct kvm_acpi_config c = full_config();
	static const uint8_t com1[] = {
		0x08, '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01,  /* EisaId PNP0501 */
		0x08, '_', 'U', 'I', 'D', 0x01,
		0x08, '_', 'C', 'R', 'S', 0x11, 0x10, 0x0a, 0x0d,
		0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08,        /* IO 0x3f8, 8 */
		0x22, 0x10, 0x00,                                      /* IRQNoFlags {4} */
		0x79, 0x00,
	};
	static const uint8_t s5[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x07, 0x04,
				      0x0a, 0x05, 0x00, 0x00, 0x00 };
	struct built b;
	const uint8_t *d, *p;
	size_t len;

	(void)st;
	build(&b, GPA, &c);
	d = dsdt(&b);
	len = le32(d + 4);
	assert_int_equal(d[8], 2);
	walk_scope(d, 4);
	p = memmem(d, len, "COM1", 4);
	assert_non_null(p);
	assert_memory_equal(p + 4, com1, sizeof(com1));
	for (unsigned i = 0; i < c.ndevs; i++)
		check_virtio(d, len, i, &c.devs[i]);
	assert_memory_equal(d + len - sizeof(s5), s5, sizeof(s5));
}

/* The most there can be: 255 vCPUs, 21 devices, COM1, both ports, the
 * IRQ0 override, in under 4 KiB; the scope's PkgLength takes two bytes. */
static void test_dsdt_many(void **st)
{
	struct kvm_acpi_mmio_dev devs[KVM_ACPI_MAX_DEVS];
	struct kvm_acpi_config c = { .ncpus = 255, .devs = devs, .com1 = 1, .irq0_override = 1,
				     .sleep_port = 0x600, .reset_port = 0x600 };
	struct built b;
	const uint8_t *d;
	size_t n;

	(void)st;
	for (uint32_t gsi = 1; gsi < KVM_ACPI_IOAPIC_PINS; gsi++) {
		if (gsi == 2 || gsi == 4)
			continue;
		devs[c.ndevs] = (struct kvm_acpi_mmio_dev){
			.base = 0xd0000000 + 0x1000 * c.ndevs, .size = 0x1000,
			.gsi = gsi, .level = gsi & 1 };
		c.ndevs++;
	}
	assert_int_equal(c.ndevs, 21);
	build(&b, GPA, &c);
	assert_true(b.n <= 4096);
	d = dsdt(&b);
	pkglen(d + HDR + 1, &n);
	assert_int_equal(n, 2);
	walk_scope(d, 22);
	for (unsigned i = 0; i < c.ndevs; i++)
		check_virtio(d, le32(d + 4), i, &devs[i]);
}

/* Above 4 GiB the FADT's 32-bit DSDT stays zero; X_DSDT says where. */
static void test_high_gpa(void **st)
{
	struct kvm_acpi_config c = full_config();
	struct built b;
	const uint8_t *f;

	(void)st;
	build(&b, 0x100000000ull, &c);
	f = fadt(&b);
	assert_int_equal(le32(f + 40), 0);
	assert_true(le64(f + 140) > 0x100000000ull);
	dsdt(&b);
}

/* Same config, same bytes, whatever the buffer held before. */
static void test_deterministic(void **st)
{
	struct kvm_acpi_config c = full_config();
	static uint8_t a[BUFSZ], z[BUFSZ];
	ssize_t na, nz;

	(void)st;
	memset(a, 0xff, sizeof(a));
	memset(z, 0, sizeof(z));
	na = kvm_acpi_build(a, sizeof(a), GPA, &c, NULL);
	nz = kvm_acpi_build(z, sizeof(z), GPA, &c, NULL);
	assert_true(na > 0);
	assert_int_equal(na, nz);
	assert_memory_equal(a, z, (size_t)na);
}

/* Every size short of what is needed: -ENOSPC, nothing written past it. */
static void test_enospc(void **st)
{
	struct kvm_acpi_config c = full_config();
	static uint8_t buf[BUFSZ];
	ssize_t need = kvm_acpi_build(buf, sizeof(buf), GPA, &c, NULL);

	(void)st;
	assert_true(need > 0);
	assert_int_equal(kvm_acpi_build(NULL, 0, GPA, &c, NULL), -ENOSPC);
	for (size_t cap = 0; cap < (size_t)need; cap++) {
		memset(buf, 0x5a, sizeof(buf));
		assert_int_equal(kvm_acpi_build(buf, cap, GPA, &c, NULL), -ENOSPC);
		for (size_t i = cap; i < sizeof(buf); i++)
			assert_int_equal(buf[i], 0x5a);
	}
	assert_int_equal(kvm_acpi_build(buf, (size_t)need, GPA, &c, NULL), need);
}

static void expect_einval(const struct kvm_acpi_config *c)
{
	static uint8_t buf[BUFSZ];
	uint64_t rsdp = 0x1234;

	assert_int_equal(kvm_acpi_build(buf, sizeof(buf), GPA, c, &rsdp), -EINVAL);
	assert_int_equal(rsdp, 0x1234);
}

static void expect_dev_einval(struct kvm_acpi_mmio_dev d, int com1)
{
	struct kvm_acpi_mmio_dev devs[2] = { three_devs[0], d };
	struct kvm_acpi_config c = { .ncpus = 1, .devs = devs, .ndevs = 2, .com1 = com1 };

	expect_einval(&c);
}

static void test_einval_config(void **st)
{
	struct kvm_acpi_config c = { .ncpus = 0 };
	static uint8_t buf[BUFSZ];

	(void)st;
	expect_einval(NULL);
	expect_einval(&c);
	c.ncpus = 256;
	expect_einval(&c);
	c.ncpus = 255;
	assert_true(kvm_acpi_build(buf, sizeof(buf), GPA, &c, NULL) > 0);
	assert_int_equal(kvm_acpi_build(buf, sizeof(buf), GPA + 8, &c, NULL), -EINVAL);
	assert_int_equal(kvm_acpi_build(NULL, 64, GPA, &c, NULL), -EINVAL);
	assert_int_equal(kvm_acpi_build(buf, 64, UINT64_MAX - 47, &c, NULL), -EINVAL);
	c = (struct kvm_acpi_config){ .ncpus = 1, .lapic_base = 0x100000000ull };
	expect_einval(&c);
	c.lapic_base = 0xfee00800;                           /* not a page */
	expect_einval(&c);
	c = (struct kvm_acpi_config){ .ncpus = 1, .ioapic_base = 0xfffff800 };
	expect_einval(&c);
	c = (struct kvm_acpi_config){ .ncpus = 1, .ndevs = 1 };      /* devs NULL */
	expect_einval(&c);
	c.devs = three_devs;
	c.ndevs = KVM_ACPI_MAX_DEVS + 1;
	expect_einval(&c);
}

static void test_einval_devices(void **st)
{
	const struct kvm_acpi_mmio_dev ok = { .base = 0xd0100000, .size = 0x200, .gsi = 18 };
	struct kvm_acpi_mmio_dev d;

	(void)st;
	d = ok, d.gsi = 0;
	expect_dev_einval(d, 0);                             /* the PIT */
	d = ok, d.gsi = 2;
	expect_dev_einval(d, 0);                             /* the cascade */
	d = ok, d.gsi = KVM_ACPI_IOAPIC_PINS;
	expect_dev_einval(d, 0);
	d = ok, d.gsi = 4;
	expect_dev_einval(d, 1);                             /* COM1's */
	d = ok, d.gsi = three_devs[0].gsi;
	expect_dev_einval(d, 0);                             /* shared */
	d = ok, d.base = three_devs[0].base + 0xfff;
	expect_dev_einval(d, 0);                             /* overlapping */
	d = ok, d.size = 0;
	expect_dev_einval(d, 0);
	d = ok, d.base = 0xfffff000, d.size = 0x2000;
	expect_dev_einval(d, 0);                             /* past 4 GiB */
	d = ok, d.base = 0x100000000ull;
	expect_dev_einval(d, 0);
	d = ok, d.base = KVM_ACPI_IOAPIC_BASE;
	expect_dev_einval(d, 0);
	d = ok, d.base = KVM_ACPI_LAPIC_BASE - 0x100, d.size = 0x200;
	expect_dev_einval(d, 0);
	d = ok, d.level = 2;
	expect_dev_einval(d, 0);

	/* GSI 4 is free without COM1; GSI 1 and 23 are usable. */
	struct kvm_acpi_mmio_dev devs[3] = { ok, ok, ok };
	struct kvm_acpi_config c = { .ncpus = 1, .devs = devs, .ndevs = 3 };
	static uint8_t buf[BUFSZ];

	devs[0].gsi = 4;
	devs[1].gsi = 1, devs[1].base += 0x1000;
	devs[2].gsi = 23, devs[2].base += 0x2000;
	assert_true(kvm_acpi_build(buf, sizeof(buf), GPA, &c, NULL) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rsdp_xsdt),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_fadt),
		cmocka_unit_test(test_fadt_no_ports),
		cmocka_unit_test(test_madt),
		cmocka_unit_test(test_madt_bases),
		cmocka_unit_test(test_dsdt_devices),
		cmocka_unit_test(test_dsdt_many),
		cmocka_unit_test(test_high_gpa),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_enospc),
		cmocka_unit_test(test_einval_config),
		cmocka_unit_test(test_einval_devices),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
