/* kvm/x86/acpi.c - RSDP, XSDT, FADT, MADT and an AML DSDT, written byte
 * by byte into the caller's buffer, then linked and checksummed. */
#include "kvm/x86/acpi.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define OEM_ID        "PCMOVE"
#define OEM_TABLE_PFX "PCMV"     /* + the signature: "PCMVFACP" */
#define OEM_REVISION  1
#define CREATOR_ID    "PCMV"
#define CREATOR_REV   1
#define HYPERVISOR_ID "PCMOVEVM" /* FADT's Hypervisor Vendor Identity */

/* 5.2.6 System Description Table Header */
#define SDT_HEADER_LEN 36
#define SDT_LENGTH     4
#define SDT_CHECKSUM   9

/* 5.2.5.3 RSDP */
#define RSDP_LEN       36
#define RSDP_V1_LEN    20        /* what the first checksum covers */
#define RSDP_CHECKSUM  8
#define RSDP_REVISION  15
#define RSDP_LENGTH    20
#define RSDP_XSDT      24
#define RSDP_XCHECKSUM 32

#define XSDT_REVISION 1
#define XSDT_ENTRIES  2          /* FADT, MADT */

/* 5.2.9 FADT: offsets of table 5.9 */
#define FADT_LEN         276
#define FADT_REVISION    6
#define FADT_MINOR       4       /* 6.4 */
#define FADT_DSDT        40
#define FADT_IAPC_BOOT   109
#define FADT_FLAGS       112
#define FADT_RESET_REG   116
#define FADT_RESET_VALUE 128
#define FADT_MINOR_VER   131
#define FADT_X_DSDT      140
#define FADT_SLEEP_CTL   244
#define FADT_SLEEP_STS   256
#define FADT_HYPERVISOR  268

/* 5.2.9.1 table 5.10, fixed feature flags */
#define FADT_F_PWR_BUTTON    (1u << 4)
#define FADT_F_SLP_BUTTON    (1u << 5)
#define FADT_F_RESET_REG_SUP (1u << 10)
#define FADT_F_HW_REDUCED    (1u << 20)

/* 5.2.9.3 table 5.11, IA-PC boot architecture flags */
#define IAPC_LEGACY_DEVICES  (1u << 0)
#define IAPC_VGA_NOT_PRESENT (1u << 2)
#define IAPC_CMOS_RTC_ABSENT (1u << 5)

/* 5.2.3.2 Generic Address Structure */
#define GAS_SYSTEM_IO   1
#define GAS_ACCESS_BYTE 1

/* 5.2.12 MADT */
#define MADT_REVISION    5
#define MADT_PCAT_COMPAT 1u
#define MADT_LAPIC       0       /* 5.2.12.2, 8 bytes */
#define MADT_IOAPIC      1       /* 5.2.12.3, 12 bytes */
#define MADT_ISO         2       /* 5.2.12.5, 10 bytes */
#define MADT_LAPIC_NMI   4       /* 5.2.12.7, 6 bytes */
#define MADT_ENABLED     1u
#define MADT_ALL_CPUS    0xff
#define MADT_LINT1       1
#define MPS_INTI_CONFORM 0       /* ISA: edge, active high */
#define APIC_PAGE        0x1000u

#define DSDT_REVISION 2          /* 64-bit AML integers */

/* 20.2 AML opcodes */
#define AML_ZERO    0x00
#define AML_ONE     0x01
#define AML_NAME    0x08
#define AML_BYTE    0x0a
#define AML_WORD    0x0b
#define AML_DWORD   0x0c
#define AML_STRING  0x0d
#define AML_QWORD   0x0e
#define AML_SCOPE   0x10
#define AML_BUFFER  0x11
#define AML_PACKAGE 0x12
#define AML_EXT     0x5b
#define AML_DEVICE  0x82         /* after AML_EXT */

/* 6.4 resource descriptors */
#define RES_IRQ_NOFLAGS 0x22     /* 6.4.2.1, 3 bytes */
#define RES_IO          0x47     /* 6.4.2.5, 8 bytes */
#define RES_END         0x79     /* 6.4.2.9, 2 bytes */
#define RES_MEM32_FIXED 0x86     /* 6.4.3.4, 12 bytes */
#define RES_EXT_IRQ     0x89     /* 6.4.3.6, 9 bytes with one interrupt */
#define RES_IO_DECODE16 1
#define RES_MEM_RW      1
#define RES_IRQ_CONSUMER 0x01
#define RES_IRQ_EDGE     0x02    /* clear: level; active high, exclusive */

#define COM1_PORTS 8

#define ALIGN 16

/* The output cursor. Once the buffer is full, writes go to the sink, so
 * the writers need not check each step; the caller checks full at the
 * end. No single write is larger than the sink. */
struct out {
	uint8_t *buf;
	size_t cap, len;
	bool full;
	uint8_t sink[FADT_LEN];
};

/* Where each table starts in buf. */
struct layout {
	size_t rsdp, xsdt, fadt, madt, dsdt;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get32(const uint8_t *p)
{
	return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* n zeroed bytes at the cursor. */
static uint8_t *reserve(struct out *o, size_t n)
{
	uint8_t *p;

	if (o->full || n > o->cap - o->len) {
		o->full = true;
		memset(o->sink, 0, n);
		return o->sink;
	}
	p = o->buf + o->len;
	memset(p, 0, n);
	o->len += n;
	return p;
}

static void emit(struct out *o, const void *src, size_t n)
{
	memcpy(reserve(o, n), src, n);
}

static void emit8(struct out *o, uint8_t v)
{
	*reserve(o, 1) = v;
}

static void align(struct out *o)
{
	reserve(o, -o->len & (ALIGN - 1));
}

/* The value that makes the bytes sum to zero. */
static uint8_t checksum(const uint8_t *p, size_t n)
{
	uint8_t sum = 0;

	while (n--)
		sum += *p++;
	return (uint8_t)-sum;
}

/* ---- fixed-layout tables ---- */

/* Length and checksum are filled in later. */
static void sdt_header(uint8_t *h, const char sig[4], uint8_t rev)
{
	memcpy(h, sig, 4);
	h[8] = rev;
	memcpy(h + 10, OEM_ID, 6);
	memcpy(h + 16, OEM_TABLE_PFX, 4);
	memcpy(h + 20, sig, 4);
	put32(h + 24, OEM_REVISION);
	memcpy(h + 28, CREATOR_ID, 4);
	put32(h + 32, CREATOR_REV);
}

static size_t sdt_begin(struct out *o, const char sig[4], uint8_t rev)
{
	size_t at = o->len;

	sdt_header(reserve(o, SDT_HEADER_LEN), sig, rev);
	return at;
}

static void sdt_end(struct out *o, size_t at)
{
	if (!o->full)
		put32(o->buf + at + SDT_LENGTH, (uint32_t)(o->len - at));
}

static size_t rsdp(struct out *o)
{
	size_t at = o->len;
	uint8_t *r = reserve(o, RSDP_LEN);

	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, OEM_ID, 6);
	r[RSDP_REVISION] = 2;
	put32(r + RSDP_LENGTH, RSDP_LEN);
	return at;
}

static size_t xsdt(struct out *o)
{
	size_t at = sdt_begin(o, "XSDT", XSDT_REVISION);

	reserve(o, XSDT_ENTRIES * 8);        /* linked by tables_link() */
	sdt_end(o, at);
	return at;
}

/* An 8-bit register at a SystemIO port. */
static void gas_io8(uint8_t *g, uint16_t port)
{
	g[0] = GAS_SYSTEM_IO;
	g[1] = 8;
	g[2] = 0;
	g[3] = GAS_ACCESS_BYTE;
	put64(g + 4, port);
}

static size_t fadt(struct out *o, const struct kvm_acpi_config *c)
{
	uint32_t flags = FADT_F_HW_REDUCED | FADT_F_PWR_BUTTON | FADT_F_SLP_BUTTON;
	size_t at = o->len;
	uint8_t *f = reserve(o, FADT_LEN);

	sdt_header(f, "FACP", FADT_REVISION);
	put32(f + SDT_LENGTH, FADT_LEN);
	put16(f + FADT_IAPC_BOOT, IAPC_VGA_NOT_PRESENT | IAPC_CMOS_RTC_ABSENT |
	      (c->com1 ? IAPC_LEGACY_DEVICES : 0));
	if (c->reset_port) {
		gas_io8(f + FADT_RESET_REG, c->reset_port);
		f[FADT_RESET_VALUE] = KVM_ACPI_RESET_VALUE;
		flags |= FADT_F_RESET_REG_SUP;
	}
	if (c->sleep_port) {
		gas_io8(f + FADT_SLEEP_CTL, c->sleep_port);
		gas_io8(f + FADT_SLEEP_STS, c->sleep_port);
	}
	put32(f + FADT_FLAGS, flags);
	f[FADT_MINOR_VER] = FADT_MINOR;
	memcpy(f + FADT_HYPERVISOR, HYPERVISOR_ID, 8);
	return at;
}

static uint64_t lapic_base(const struct kvm_acpi_config *c)
{
	return c->lapic_base ? c->lapic_base : KVM_ACPI_LAPIC_BASE;
}

static uint64_t ioapic_base(const struct kvm_acpi_config *c)
{
	return c->ioapic_base ? c->ioapic_base : KVM_ACPI_IOAPIC_BASE;
}

static uint8_t *madt_entry(struct out *o, uint8_t type, uint8_t len)
{
	uint8_t *e = reserve(o, len);

	e[0] = type;
	e[1] = len;
	return e;
}

static void madt_cpus(struct out *o, unsigned ncpus)
{
	for (unsigned i = 0; i < ncpus; i++) {
		uint8_t *e = madt_entry(o, MADT_LAPIC, 8);

		e[2] = (uint8_t)i;                   /* ACPI processor UID */
		e[3] = (uint8_t)i;                   /* APIC ID */
		put32(e + 4, MADT_ENABLED);
	}
}

static size_t madt(struct out *o, const struct kvm_acpi_config *c)
{
	size_t at = sdt_begin(o, "APIC", MADT_REVISION);
	uint8_t *e = reserve(o, 8);

	put32(e, (uint32_t)lapic_base(c));
	put32(e + 4, MADT_PCAT_COMPAT);
	madt_cpus(o, c->ncpus);
	e = madt_entry(o, MADT_IOAPIC, 12);
	e[2] = c->ioapic_id;
	put32(e + 4, (uint32_t)ioapic_base(c));
	put32(e + 8, 0);                             /* GSI base */
	if (c->irq0_override) {
		e = madt_entry(o, MADT_ISO, 10);
		e[2] = 0;                            /* ISA */
		e[3] = 0;                            /* IRQ0 */
		put32(e + 4, 2);                     /* GSI 2 */
		put16(e + 8, MPS_INTI_CONFORM);
	}
	e = madt_entry(o, MADT_LAPIC_NMI, 6);
	e[2] = MADT_ALL_CPUS;
	put16(e + 3, MPS_INTI_CONFORM);
	e[5] = MADT_LINT1;
	sdt_end(o, at);
	return at;
}

/* ---- AML ---- */

/* A package's body is written first; pkg_end then moves it up to make
 * room for its PkgLength (20.2.4), which counts its own bytes too: one
 * byte up to 0x3f, else a lead byte (how many bytes follow in bits 7:6,
 * the low nibble in 3:0) and 1 to 3 bytes of the rest. */
static size_t pkg_begin(struct out *o)
{
	return o->len;
}

static void pkg_end(struct out *o, size_t at)
{
	size_t body = o->len - at, n = 1, total;
	uint8_t *p;

	while (n < 4 && body + n > (n == 1 ? 0x3fu : (1u << (4 + 8 * (n - 1))) - 1))
		n++;
	total = body + n;
	reserve(o, n);
	if (o->full)
		return;
	p = o->buf + at;
	memmove(p + n, p, body);
	if (n == 1) {
		p[0] = (uint8_t)total;
		return;
	}
	p[0] = (uint8_t)((n - 1) << 6 | (total & 0x0f));
	for (size_t i = 1; i < n; i++)
		p[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
}

/* The shortest encoding: ZeroOp, OneOp or a prefixed 1, 2, 4 or 8 bytes. */
static void aml_int(struct out *o, uint64_t v)
{
	uint8_t prefix = AML_QWORD;
	size_t n = 8;

	if (v <= 1) {
		emit8(o, v ? AML_ONE : AML_ZERO);
		return;
	}
	if (v <= 0xff)
		prefix = AML_BYTE, n = 1;
	else if (v <= 0xffff)
		prefix = AML_WORD, n = 2;
	else if (v <= 0xffffffff)
		prefix = AML_DWORD, n = 4;
	emit8(o, prefix);
	for (size_t i = 0; i < n; i++)
		emit8(o, (uint8_t)(v >> (8 * i)));
}

static void aml_string(struct out *o, const char *s)
{
	emit8(o, AML_STRING);
	emit(o, s, strlen(s) + 1);
}

static unsigned hex_digit(char c)
{
	return c <= '9' ? (unsigned)(c - '0') : (unsigned)(c - 'A' + 10);
}

/* EISAID("PNP0501"): three letters of 5 bits and four hex digits, packed
 * big-endian into a DWord (19.6.35). */
static void aml_eisaid(struct out *o, const char id[7])
{
	uint32_t v = (uint32_t)(id[0] & 0x1f) << 26 | (uint32_t)(id[1] & 0x1f) << 21 |
		     (uint32_t)(id[2] & 0x1f) << 16;

	for (int i = 0; i < 4; i++)
		v |= hex_digit(id[3 + i]) << (12 - 4 * i);
	emit8(o, AML_DWORD);
	for (int i = 3; i >= 0; i--)
		emit8(o, (uint8_t)(v >> (8 * i)));
}

/* Name (seg, ...): the value follows. */
static void aml_name(struct out *o, const char seg[4])
{
	emit8(o, AML_NAME);
	emit(o, seg, 4);
}

static size_t aml_device_begin(struct out *o, const char seg[4])
{
	size_t at;

	emit8(o, AML_EXT);
	emit8(o, AML_DEVICE);
	at = pkg_begin(o);
	emit(o, seg, 4);
	return at;
}

/* A resource template's descriptors, gathered before the Buffer around
 * them is written (its size comes first). */
struct res {
	uint8_t b[32];
	size_t n;
};

static uint8_t *res_add(struct res *r, size_t n)
{
	uint8_t *p = r->b + r->n;

	r->n += n;
	return p;
}

static void res_mem32(struct res *r, uint32_t base, uint32_t size)
{
	uint8_t *d = res_add(r, 12);

	d[0] = RES_MEM32_FIXED;
	put16(d + 1, 9);
	d[3] = RES_MEM_RW;
	put32(d + 4, base);
	put32(d + 8, size);
}

static void res_ext_irq(struct res *r, uint32_t gsi, int level)
{
	uint8_t *d = res_add(r, 9);

	d[0] = RES_EXT_IRQ;
	put16(d + 1, 6);
	d[3] = RES_IRQ_CONSUMER | (level ? 0 : RES_IRQ_EDGE);
	d[4] = 1;                                    /* one interrupt */
	put32(d + 5, gsi);
}

static void res_io(struct res *r, uint16_t port, uint8_t len)
{
	uint8_t *d = res_add(r, 8);

	d[0] = RES_IO;
	d[1] = RES_IO_DECODE16;
	put16(d + 2, port);                          /* minimum */
	put16(d + 4, port);                          /* maximum */
	d[6] = 1;                                    /* alignment */
	d[7] = len;
}

static void res_irq_noflags(struct res *r, unsigned irq)
{
	uint8_t *d = res_add(r, 3);

	d[0] = RES_IRQ_NOFLAGS;
	put16(d + 1, (uint16_t)(1u << irq));
}

/* Name (_CRS, ResourceTemplate () { ... }), closed by an End Tag whose
 * checksum 0 means "treat as correct". */
static void aml_crs(struct out *o, struct res *r)
{
	uint8_t *end = res_add(r, 2);
	size_t at;

	end[0] = RES_END;
	end[1] = 0;
	aml_name(o, "_CRS");
	emit8(o, AML_BUFFER);
	at = pkg_begin(o);
	aml_int(o, r->n);
	emit(o, r->b, r->n);
	pkg_end(o, at);
}

static void dsdt_virtio(struct out *o, unsigned i, const struct kvm_acpi_mmio_dev *d)
{
	const char seg[4] = { 'V', 'R', (char)('0' + i / 10), (char)('0' + i % 10) };
	struct res r = { .n = 0 };
	size_t at = aml_device_begin(o, seg);

	aml_name(o, "_HID");
	aml_string(o, "LNRO0005");
	aml_name(o, "_UID");
	aml_int(o, i);
	aml_name(o, "_CCA");
	aml_int(o, 1);
	res_mem32(&r, (uint32_t)d->base, d->size);
	res_ext_irq(&r, d->gsi, d->level);
	aml_crs(o, &r);
	pkg_end(o, at);
}

static void dsdt_com1(struct out *o)
{
	struct res r = { .n = 0 };
	size_t at = aml_device_begin(o, "COM1");

	aml_name(o, "_HID");
	aml_eisaid(o, "PNP0501");
	aml_name(o, "_UID");
	aml_int(o, 1);
	res_io(&r, KVM_ACPI_COM1_PORT, COM1_PORTS);
	res_irq_noflags(&r, KVM_ACPI_COM1_GSI);
	aml_crs(o, &r);
	pkg_end(o, at);
}

/* Name (_S5, Package () { SLP_TYP, 0, 0, 0 }) (7.4.2): only the first
 * value is used on a HW-reduced platform. */
static void dsdt_s5(struct out *o)
{
	size_t at;

	aml_name(o, "_S5_");
	emit8(o, AML_PACKAGE);
	at = pkg_begin(o);
	emit8(o, 4);
	aml_int(o, KVM_ACPI_SLP_TYP_S5);
	for (int i = 0; i < 3; i++)
		aml_int(o, 0);
	pkg_end(o, at);
}

static size_t dsdt(struct out *o, const struct kvm_acpi_config *c)
{
	size_t at = sdt_begin(o, "DSDT", DSDT_REVISION), scope;

	emit8(o, AML_SCOPE);
	scope = pkg_begin(o);
	emit(o, "_SB_", 4);                  /* the DSDT's body is at \ */
	if (c->com1)
		dsdt_com1(o);
	for (unsigned i = 0; i < c->ndevs; i++)
		dsdt_virtio(o, i, &c->devs[i]);
	pkg_end(o, scope);
	if (c->sleep_port)
		dsdt_s5(o);
	sdt_end(o, at);
	return at;
}

/* ---- checks, linking ---- */

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static bool dev_valid(const struct kvm_acpi_config *c, unsigned i)
{
	const struct kvm_acpi_mmio_dev *d = &c->devs[i];

	if (!d->size || d->base > UINT32_MAX || d->size > (1ull << 32) - d->base)
		return false;
	if (d->gsi == 0 || d->gsi == 2 || d->gsi >= KVM_ACPI_IOAPIC_PINS ||
	    (c->com1 && d->gsi == KVM_ACPI_COM1_GSI) || (d->level != 0 && d->level != 1))
		return false;
	if (overlap(d->base, d->size, lapic_base(c), APIC_PAGE) ||
	    overlap(d->base, d->size, ioapic_base(c), APIC_PAGE))
		return false;
	for (unsigned j = 0; j < i; j++)
		if (c->devs[j].gsi == d->gsi ||
		    overlap(d->base, d->size, c->devs[j].base, c->devs[j].size))
			return false;
	return true;
}

static int config_check(const void *buf, size_t cap, uint64_t gpa,
			const struct kvm_acpi_config *c)
{
	if (!c || (!buf && cap) || (gpa & (ALIGN - 1)) || cap > UINT64_MAX - gpa)
		return -EINVAL;
	if (!c->ncpus || c->ncpus > KVM_ACPI_MAX_CPUS)
		return -EINVAL;
	if (lapic_base(c) > UINT32_MAX - APIC_PAGE + 1 || (lapic_base(c) & (APIC_PAGE - 1)) ||
	    ioapic_base(c) > UINT32_MAX - APIC_PAGE + 1)
		return -EINVAL;
	if (c->ndevs > KVM_ACPI_MAX_DEVS || (c->ndevs && !c->devs))
		return -EINVAL;
	for (unsigned i = 0; i < c->ndevs; i++)
		if (!dev_valid(c, i))
			return -EINVAL;
	return 0;
}

static void sdt_checksum(uint8_t *t)
{
	t[SDT_CHECKSUM] = 0;
	t[SDT_CHECKSUM] = checksum(t, get32(t + SDT_LENGTH));
}

/* Pointers between the tables, then every checksum. */
static void tables_link(uint8_t *b, uint64_t gpa, const struct layout *l)
{
	uint8_t *r = b + l->rsdp;

	put64(r + RSDP_XSDT, gpa + l->xsdt);
	put64(b + l->xsdt + SDT_HEADER_LEN, gpa + l->fadt);
	put64(b + l->xsdt + SDT_HEADER_LEN + 8, gpa + l->madt);
	put64(b + l->fadt + FADT_X_DSDT, gpa + l->dsdt);
	if (gpa + l->dsdt <= UINT32_MAX)
		put32(b + l->fadt + FADT_DSDT, (uint32_t)(gpa + l->dsdt));
	sdt_checksum(b + l->xsdt);
	sdt_checksum(b + l->fadt);
	sdt_checksum(b + l->madt);
	sdt_checksum(b + l->dsdt);
	r[RSDP_CHECKSUM] = checksum(r, RSDP_V1_LEN);
	r[RSDP_XCHECKSUM] = checksum(r, RSDP_LEN);
}

ssize_t kvm_acpi_build(void *buf, size_t cap, uint64_t gpa,
		       const struct kvm_acpi_config *c, uint64_t *rsdp_gpa)
{
	struct out o = { .buf = buf, .cap = cap };
	struct layout l;
	int err = config_check(buf, cap, gpa, c);

	if (err)
		return err;
	l.rsdp = rsdp(&o);
	align(&o);
	l.xsdt = xsdt(&o);
	align(&o);
	l.fadt = fadt(&o, c);
	align(&o);
	l.madt = madt(&o, c);
	align(&o);
	l.dsdt = dsdt(&o, c);
	if (o.full)
		return -ENOSPC;
	tables_link(o.buf, gpa, &l);
	if (rsdp_gpa)
		*rsdp_gpa = gpa + l.rsdp;
	return (ssize_t)o.len;
}
