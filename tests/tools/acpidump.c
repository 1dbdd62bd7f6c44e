/* tests/tools/acpidump.c - the ACPI tables kvm_acpi_build writes for one
 * configuration, one file per table, for iasl -d to read.
 *
 *   acpidump OUTDIR [--cpus N] [--gpa ADDR] [--cap BYTES]
 *            [--dev BASE,SIZE,GSI[,edge]]... [--com1] [--irq0-override]
 *            [--ioapic-id N] [--sleep-port PORT] [--reset-port PORT]
 *
 * Builds the tables as the VMM would (gpa 0xe0000, 1 vCPU, nothing else
 * unless told) and writes rsdp.dat, xsdt.dat, facp.dat, apic.dat and
 * dsdt.dat into OUTDIR, found the way a guest finds them: from the RSDP
 * through the XSDT's entries and the FADT's X_DSDT, so a pointer that
 * leads outside the tables fails here. Devices are level-triggered unless
 * ",edge" follows. Numbers may be decimal or 0x-hex. Prints one line per
 * table (file, length, guest-physical address). Exit 0, 1 when the build
 * or a pointer fails (with the errno's name), 2 on bad usage. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm/x86/acpi.h"

#define MAX_CAP (1u << 20)

static int num(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

/* BASE,SIZE,GSI[,edge] */
static int parse_dev(char *s, struct kvm_acpi_mmio_dev *d)
{
	char *f[4] = { 0 };
	uint64_t base, size, gsi;
	int n = 0;

	for (char *t = strtok(s, ","); t && n < 4; t = strtok(NULL, ","))
		f[n++] = t;
	if (n < 3 || num(f[0], UINT64_MAX, &base) || num(f[1], UINT32_MAX, &size) ||
	    num(f[2], UINT32_MAX, &gsi) || (n == 4 && strcmp(f[3], "edge")))
		return -1;
	*d = (struct kvm_acpi_mmio_dev){ .base = base, .size = (uint32_t)size,
					 .gsi = (uint32_t)gsi, .level = n < 4 };
	return 0;
}

static const uint8_t *at_gpa(const uint8_t *buf, size_t len, uint64_t gpa, uint64_t a,
			     size_t need)
{
	if (a < gpa || a - gpa > len || need > len - (a - gpa))
		return NULL;
	return buf + (a - gpa);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static int dump(const char *dir, const char *name, const uint8_t *p, size_t n, uint64_t a)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.dat", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f)) {
		fprintf(stderr, "acpidump: error: writing %s: %s\n", path, strerror(errno));
		return -1;
	}
	printf("%s.dat %zu 0x%llx\n", name, n, (unsigned long long)a);
	return 0;
}

/* A table at guest-physical a: its header's length says how much. */
static int dump_sdt(const char *dir, const uint8_t *buf, size_t len, uint64_t gpa,
		    uint64_t a, const uint8_t **out)
{
	const uint8_t *t = at_gpa(buf, len, gpa, a, 36);
	char name[5] = { 0 };
	uint32_t tlen;

	if (!t || !(tlen = t[4] | t[5] << 8 | t[6] << 16 | (uint32_t)t[7] << 24) ||
	    !at_gpa(buf, len, gpa, a, tlen)) {
		fprintf(stderr, "acpidump: error: a pointer leads outside the tables: 0x%llx\n",
			(unsigned long long)a);
		return -1;
	}
	for (int i = 0; i < 4; i++)
		name[i] = (char)(t[i] >= 'A' && t[i] <= 'Z' ? t[i] - 'A' + 'a' : t[i]);
	if (out)
		*out = t;
	return dump(dir, name, t, tlen, a);
}

static int walk(const char *dir, const uint8_t *buf, size_t len, uint64_t gpa, uint64_t rsdp)
{
	const uint8_t *r = at_gpa(buf, len, gpa, rsdp, 36), *x, *t;
	uint32_t xlen;

	if (!r || dump(dir, "rsdp", r, 36, rsdp) ||
	    dump_sdt(dir, buf, len, gpa, get64(r + 24), &x))
		return -1;
	xlen = x[4] | x[5] << 8 | x[6] << 16 | (uint32_t)x[7] << 24;
	for (uint32_t off = 36; off + 8 <= xlen; off += 8) {
		if (dump_sdt(dir, buf, len, gpa, get64(x + off), &t))
			return -1;
		if (!memcmp(t, "FACP", 4) && dump_sdt(dir, buf, len, gpa, get64(t + 140), NULL))
			return -1;
	}
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: acpidump OUTDIR [--cpus N] [--gpa ADDR] [--cap BYTES] "
		"[--dev BASE,SIZE,GSI[,edge]]... [--com1] [--irq0-override] [--ioapic-id N] "
		"[--sleep-port PORT] [--reset-port PORT]\n");
	return 2;
}

static int parse_opt(int opt, struct kvm_acpi_config *c, struct kvm_acpi_mmio_dev *devs,
		     uint64_t *gpa, uint64_t *cap)
{
	uint64_t v = 0;

	switch (opt) {
	case 'n': if (num(optarg, UINT32_MAX, &v)) return -1; c->ncpus = (unsigned)v; return 0;
	case 'g': return num(optarg, UINT64_MAX, gpa);
	case 'c': return num(optarg, MAX_CAP, cap);
	case 'd':
		if (c->ndevs == KVM_ACPI_MAX_DEVS + 1)
			return -1;
		return parse_dev(optarg, &devs[c->ndevs++]);
	case '1': c->com1 = 1; return 0;
	case '0': c->irq0_override = 1; return 0;
	case 'i': if (num(optarg, 0xff, &v)) return -1; c->ioapic_id = (uint8_t)v; return 0;
	case 's': if (num(optarg, 0xffff, &v)) return -1; c->sleep_port = (uint16_t)v; return 0;
	case 'r': if (num(optarg, 0xffff, &v)) return -1; c->reset_port = (uint16_t)v; return 0;
	}
	return -1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cpus", 1, 0, 'n' }, { "gpa", 1, 0, 'g' }, { "cap", 1, 0, 'c' },
		{ "dev", 1, 0, 'd' }, { "com1", 0, 0, '1' }, { "irq0-override", 0, 0, '0' },
		{ "ioapic-id", 1, 0, 'i' }, { "sleep-port", 1, 0, 's' },
		{ "reset-port", 1, 0, 'r' }, { 0, 0, 0, 0 },
	};
	/* One more than the builder takes, so that "too many" reaches it. */
	static struct kvm_acpi_mmio_dev devs[KVM_ACPI_MAX_DEVS + 1];
	static uint8_t buf[MAX_CAP];
	struct kvm_acpi_config c = { .ncpus = 1, .devs = devs };
	uint64_t gpa = KVM_ACPI_BIOS_AREA, cap = KVM_ACPI_BIOS_AREA_END - KVM_ACPI_BIOS_AREA;
	uint64_t rsdp;
	ssize_t n;
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1)
		if (opt == '?' || parse_opt(opt, &c, devs, &gpa, &cap))
			return usage();
	if (optind != argc - 1)
		return usage();
	n = kvm_acpi_build(buf, (size_t)cap, gpa, &c, &rsdp);
	if (n < 0) {
		fprintf(stderr, "acpidump: error: kvm_acpi_build: %s\n", strerrorname_np((int)-n));
		return 1;
	}
	return walk(argv[optind], buf, (size_t)n, gpa, rsdp) ? 1 : 0;
}
