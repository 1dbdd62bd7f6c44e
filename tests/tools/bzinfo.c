/* tests/tools/bzinfo.c - a bzImage's setup header as JSON, as
 * kvm_linux_parse reads it; with --load, where kvm_linux_load puts
 * everything in a guest of RAM_MIB and the boot vCPU's entry registers.
 *
 *   bzinfo FILE [--load RAM_MIB [--initrd FILE] [--cmdline STRING]]
 *
 * Prints one JSON object on a line and exits 0; on a refused image or
 * load prints "bzinfo: FILE: reason" on stderr and exits 1; 2 on bad
 * usage. Used by tests/integration/test_bzimage.sh on Debian's kernels. */
#include <asm/bootparam.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "kvm/x86/linux.h"
#include "lib/json.h"

struct opts {
	const char *file, *initrd, *cmdline;
	unsigned long ram_mib;               /* 0: no --load */
};

static int usage(void)
{
	fprintf(stderr, "usage: bzinfo FILE [--load RAM_MIB [--initrd FILE] [--cmdline STRING]]\n");
	return 2;
}

static int opts_read(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	for (int i = 1; i < argc; i++) {
		char *end;

		if (!strcmp(argv[i], "--load") && i + 1 < argc) {
			o->ram_mib = strtoul(argv[++i], &end, 10);
			if (*end || !o->ram_mib || o->ram_mib > (1ul << 20))
				return -1;
		} else if (!strcmp(argv[i], "--initrd") && i + 1 < argc) {
			o->initrd = argv[++i];
		} else if (!strcmp(argv[i], "--cmdline") && i + 1 < argc) {
			o->cmdline = argv[++i];
		} else if (argv[i][0] != '-' && !o->file) {
			o->file = argv[i];
		} else {
			return -1;
		}
	}
	return o->file && (o->ram_mib || (!o->initrd && !o->cmdline)) ? 0 : -1;
}

/* The whole file in a malloc'd buffer (*len bytes), or NULL with errno. */
static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL, *b;
	size_t cap = 0, n = 0, got;

	if (!f)
		return NULL;
	do {
		if (n == cap) {
			if (!(b = realloc(buf, cap = cap ? cap * 2 : 1 << 20))) {
				free(buf);
				fclose(f);
				errno = ENOMEM;
				return NULL;
			}
			buf = b;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
	} while (got);
	if (ferror(f)) {
		free(buf);
		buf = NULL;
		errno = EIO;
	}
	fclose(f);
	*len = n;
	return buf;
}

static void header_json(struct pcm_jw *w, const struct kvm_linux_image *k)
{
	char ver[16], kver[256];

	snprintf(ver, sizeof(ver), "%u.%02u", k->version >> 8, k->version & 0xff);
	snprintf(kver, sizeof(kver), "%.*s", (int)k->kver_len, k->kver ? k->kver : "");
	pcm_jw_u64(w, "file_len", k->img_len);
	pcm_jw_str(w, "version", ver);
	pcm_jw_u64(w, "protocol", k->version);
	pcm_jw_str(w, "kernel_version", k->kver ? kver : NULL);
	pcm_jw_u64(w, "setup_sects", k->setup_sects);
	pcm_jw_u64(w, "setup_len", k->setup_len);
	pcm_jw_u64(w, "kernel_len", k->kernel_len);
	pcm_jw_u64(w, "trailer_len", k->img_len - k->setup_len - k->kernel_len);
	pcm_jw_u64(w, "hdr_end", k->hdr_end);
	pcm_jw_u64(w, "loadflags", k->loadflags);
	pcm_jw_u64(w, "xloadflags", k->xloadflags);
	pcm_jw_bool(w, "kernel_64", k->xloadflags & XLF_KERNEL_64);
	pcm_jw_bool(w, "above_4g", k->xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G);
	pcm_jw_bool(w, "relocatable", k->relocatable);
	pcm_jw_u64(w, "pref_address", k->pref_address);
	pcm_jw_u64(w, "kernel_alignment", k->kernel_alignment);
	pcm_jw_u64(w, "min_alignment", k->min_alignment);
	pcm_jw_u64(w, "init_size", k->init_size);
	pcm_jw_u64(w, "initrd_addr_max", k->initrd_addr_max);
	pcm_jw_u64(w, "cmdline_size", k->cmdline_size);
}

static void load_json(struct pcm_jw *w, const uint8_t *ram, uint64_t ram_bytes,
		      const struct kvm_linux_entry *e)
{
	const struct boot_params *bp = (const void *)(ram + e->zero_page_gpa);

	pcm_jw_obj(w, "load");
	pcm_jw_u64(w, "ram_bytes", ram_bytes);
	pcm_jw_u64(w, "rip", e->regs.rip);
	pcm_jw_u64(w, "rsi", e->regs.rsi);
	pcm_jw_u64(w, "rsp", e->regs.rsp);
	pcm_jw_u64(w, "cr0", e->cr0);
	pcm_jw_u64(w, "cr3", e->cr3);
	pcm_jw_u64(w, "cr4", e->cr4);
	pcm_jw_u64(w, "efer", e->efer);
	pcm_jw_u64(w, "cs", e->cs.selector);
	pcm_jw_u64(w, "ds", e->ds.selector);
	pcm_jw_u64(w, "kernel_gpa", e->kernel_gpa);
	pcm_jw_u64(w, "kernel_end", e->kernel_end);
	pcm_jw_u64(w, "zero_page", e->zero_page_gpa);
	pcm_jw_u64(w, "cmdline", e->cmdline_gpa);
	pcm_jw_u64(w, "cmdline_len", e->cmdline_len);
	pcm_jw_u64(w, "initrd_gpa", e->initrd_gpa);
	pcm_jw_u64(w, "initrd_len", e->initrd_len);
	pcm_jw_u64(w, "type_of_loader", bp->hdr.type_of_loader);
	pcm_jw_u64(w, "zp_loadflags", bp->hdr.loadflags);
	pcm_jw_u64(w, "zp_init_size", bp->hdr.init_size);
	pcm_jw_arr(w, "e820");
	for (unsigned i = 0; i < bp->e820_entries; i++) {
		pcm_jw_arr(w, NULL);
		pcm_jw_u64(w, NULL, bp->e820_table[i].addr);
		pcm_jw_u64(w, NULL, bp->e820_table[i].size);
		pcm_jw_u64(w, NULL, bp->e820_table[i].type);
		pcm_jw_end(w);
	}
	pcm_jw_end(w);
	pcm_jw_end(w);
}

/* kvm_linux_load into a fresh mapping of o->ram_mib; 0 or 1 (said why). */
static int load(struct pcm_jw *w, const struct opts *o, const struct kvm_linux_image *k)
{
	uint64_t ram_bytes = (uint64_t)o->ram_mib << 20;
	struct kvm_linux_boot b = { .cmdline = o->cmdline, .rsdp_gpa = KVM_LINUX_ACPI_GPA };
	struct kvm_linux_entry e;
	uint8_t *rd = NULL, *ram;
	char why[256];
	int err;

	if (o->initrd && !(rd = slurp(o->initrd, &b.initrd_len)))
		return fprintf(stderr, "bzinfo: %s: %s\n", o->initrd, strerror(errno)), 1;
	b.initrd = rd;
	ram = mmap(NULL, ram_bytes, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (ram == MAP_FAILED)
		return free(rd), fprintf(stderr, "bzinfo: mmap %lu MiB: %s\n", o->ram_mib, strerror(errno)), 1;
	err = kvm_linux_load(ram, ram_bytes, k, &b, &e, why, sizeof(why));
	if (err)
		fprintf(stderr, "bzinfo: %s: load into %lu MiB: %s (%s)\n", o->file, o->ram_mib, why,
			strerror(-err));
	else
		load_json(w, ram, ram_bytes, &e);
	munmap(ram, ram_bytes);
	free(rd);
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	static char out[16384];
	struct kvm_linux_image k;
	struct pcm_jw w;
	struct opts o;
	uint8_t *img;
	size_t len;
	char why[256];
	int err, rc = 0;

	if (opts_read(argc, argv, &o))
		return usage();
	if (!(img = slurp(o.file, &len)))
		return fprintf(stderr, "bzinfo: %s: %s\n", o.file, strerror(errno)), 1;
	if ((err = kvm_linux_parse(img, len, &k, why, sizeof(why)))) {
		fprintf(stderr, "bzinfo: %s: %s (%s)\n", o.file, why, strerror(-err));
		free(img);
		return 1;
	}
	pcm_jw_init(&w, out, sizeof(out));
	pcm_jw_obj(&w, NULL);
	pcm_jw_str(&w, "file", o.file);
	header_json(&w, &k);
	if (o.ram_mib)
		rc = load(&w, &o, &k);
	pcm_jw_end(&w);
	if (!rc && pcm_jw_finish(&w) < 0) {
		fprintf(stderr, "bzinfo: JSON output does not fit\n");
		rc = 1;
	}
	if (!rc)
		printf("%s\n", out);
	free(img);
	return rc;
}
