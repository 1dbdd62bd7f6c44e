/* kvm/cpufeat.c - CPU-feature words: collect them from a CPUID table or
 * from KVM, mask the bits that may differ, and name what a host lacks.
 *
 * Names follow Linux's arch/x86/include/asm/cpufeatures.h: the quoted
 * /proc/cpuinfo name where it has one, else the lower-cased macro name
 * (what /proc/cpuinfo printed for it before Linux 6.11 hid such bits).
 * 80000007.EDX follows x86_power_flags, with bit 8 as Linux and KVM call
 * the invariant TSC: constant_tsc.
 */
#include "kvm/cpufeat.h"
#include "kvm/vmm.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

#define BIT(n) (1u << (n))

enum cpuid_reg { R_EAX, R_EBX, R_ECX, R_EDX };

struct word_src {
	uint32_t leaf;
	int32_t sub;            /* -1: the leaf has no subleaves */
	enum cpuid_reg reg;
	const char *tag;        /* an unnamed bit prints as cpuid.<tag>[n] */
};

static const struct word_src word_src[CPUF_WORDS] = {
	[CPUF_1_ECX]        = { 0x00000001, -1, R_ECX, "1.ecx" },
	[CPUF_1_EDX]        = { 0x00000001, -1, R_EDX, "1.edx" },
	[CPUF_7_0_EBX]      = { 0x00000007,  0, R_EBX, "7.0.ebx" },
	[CPUF_7_0_ECX]      = { 0x00000007,  0, R_ECX, "7.0.ecx" },
	[CPUF_7_0_EDX]      = { 0x00000007,  0, R_EDX, "7.0.edx" },
	[CPUF_7_1_EAX]      = { 0x00000007,  1, R_EAX, "7.1.eax" },
	[CPUF_D_1_EAX]      = { 0x0000000d,  1, R_EAX, "d.1.eax" },
	[CPUF_80000001_ECX] = { 0x80000001, -1, R_ECX, "80000001.ecx" },
	[CPUF_80000001_EDX] = { 0x80000001, -1, R_EDX, "80000001.edx" },
	[CPUF_80000007_EDX] = { 0x80000007, -1, R_EDX, "80000007.edx" },
	[CPUF_80000008_EBX] = { 0x80000008, -1, R_EBX, "80000008.ebx" },
};

_Static_assert(CPUF_WORDS <= CPUFEAT_MAX_WORDS, "fingerprint outgrew the wire");

static const char *const names[CPUF_WORDS][32] = {
	[CPUF_1_ECX] = {
		[0] = "pni", [1] = "pclmulqdq", [2] = "dtes64", [3] = "monitor",
		[4] = "ds_cpl", [5] = "vmx", [6] = "smx", [7] = "est", [8] = "tm2",
		[9] = "ssse3", [10] = "cid", [11] = "sdbg", [12] = "fma",
		[13] = "cx16", [14] = "xtpr", [15] = "pdcm", [17] = "pcid",
		[18] = "dca", [19] = "sse4_1", [20] = "sse4_2", [21] = "x2apic",
		[22] = "movbe", [23] = "popcnt", [24] = "tsc_deadline_timer",
		[25] = "aes", [26] = "xsave", [27] = "osxsave", [28] = "avx",
		[29] = "f16c", [30] = "rdrand", [31] = "hypervisor",
	},
	[CPUF_1_EDX] = {
		[0] = "fpu", [1] = "vme", [2] = "de", [3] = "pse", [4] = "tsc",
		[5] = "msr", [6] = "pae", [7] = "mce", [8] = "cx8", [9] = "apic",
		[11] = "sep", [12] = "mtrr", [13] = "pge", [14] = "mca",
		[15] = "cmov", [16] = "pat", [17] = "pse36", [18] = "pn",
		[19] = "clflush", [21] = "dts", [22] = "acpi", [23] = "mmx",
		[24] = "fxsr", [25] = "sse", [26] = "sse2", [27] = "ss",
		[28] = "ht", [29] = "tm", [30] = "ia64", [31] = "pbe",
	},
	[CPUF_7_0_EBX] = {
		[0] = "fsgsbase", [1] = "tsc_adjust", [2] = "sgx", [3] = "bmi1",
		[4] = "hle", [5] = "avx2", [6] = "fdp_excptn_only", [7] = "smep",
		[8] = "bmi2", [9] = "erms", [10] = "invpcid", [11] = "rtm",
		[12] = "cqm", [13] = "zero_fcs_fds", [14] = "mpx", [15] = "rdt_a",
		[16] = "avx512f", [17] = "avx512dq", [18] = "rdseed", [19] = "adx",
		[20] = "smap", [21] = "avx512ifma", [23] = "clflushopt",
		[24] = "clwb", [25] = "intel_pt", [26] = "avx512pf",
		[27] = "avx512er", [28] = "avx512cd", [29] = "sha_ni",
		[30] = "avx512bw", [31] = "avx512vl",
	},
	[CPUF_7_0_ECX] = {
		[1] = "avx512vbmi", [2] = "umip", [3] = "pku", [4] = "ospke",
		[5] = "waitpkg", [6] = "avx512_vbmi2", [7] = "shstk", [8] = "gfni",
		[9] = "vaes", [10] = "vpclmulqdq", [11] = "avx512_vnni",
		[12] = "avx512_bitalg", [13] = "tme", [14] = "avx512_vpopcntdq",
		[16] = "la57", [22] = "rdpid", [24] = "bus_lock_detect",
		[25] = "cldemote", [27] = "movdiri", [28] = "movdir64b",
		[29] = "enqcmd", [30] = "sgx_lc",
	},
	[CPUF_7_0_EDX] = {
		[2] = "avx512_4vnniw", [3] = "avx512_4fmaps", [4] = "fsrm",
		[8] = "avx512_vp2intersect", [9] = "srbds_ctrl", [10] = "md_clear",
		[11] = "rtm_always_abort", [13] = "tsx_force_abort",
		[14] = "serialize", [15] = "hybrid_cpu", [16] = "tsxldtrk",
		[18] = "pconfig", [19] = "arch_lbr", [20] = "ibt",
		[22] = "amx_bf16", [23] = "avx512_fp16", [24] = "amx_tile",
		[25] = "amx_int8", [26] = "spec_ctrl", [27] = "intel_stibp",
		[28] = "flush_l1d", [29] = "arch_capabilities",
		[30] = "core_capabilities", [31] = "spec_ctrl_ssbd",
	},
	[CPUF_7_1_EAX] = {
		[0] = "sha512", [1] = "sm3", [2] = "sm4", [4] = "avx_vnni",
		[5] = "avx512_bf16", [6] = "lass", [7] = "cmpccxadd",
		[8] = "arch_perfmon_ext", [10] = "fzrm", [11] = "fsrs",
		[12] = "fsrc", [17] = "fred", [18] = "lkgs", [19] = "wrmsrns",
		[21] = "amx_fp16", [23] = "avx_ifma", [26] = "lam", [31] = "movrs",
	},
	[CPUF_D_1_EAX] = {
		[0] = "xsaveopt", [1] = "xsavec", [2] = "xgetbv1", [3] = "xsaves",
		[4] = "xfd",
	},
	[CPUF_80000001_ECX] = {
		[0] = "lahf_lm", [1] = "cmp_legacy", [2] = "svm", [3] = "extapic",
		[4] = "cr8_legacy", [5] = "abm", [6] = "sse4a", [7] = "misalignsse",
		[8] = "3dnowprefetch", [9] = "osvw", [10] = "ibs", [11] = "xop",
		[12] = "skinit", [13] = "wdt", [15] = "lwp", [16] = "fma4",
		[17] = "tce", [19] = "nodeid_msr", [21] = "tbm", [22] = "topoext",
		[23] = "perfctr_core", [24] = "perfctr_nb", [26] = "bpext",
		[27] = "ptsc", [28] = "perfctr_llc", [29] = "mwaitx",
	},
	[CPUF_80000001_EDX] = {
		[11] = "syscall", [19] = "mp", [20] = "nx", [22] = "mmxext",
		[25] = "fxsr_opt", [26] = "pdpe1gb", [27] = "rdtscp", [29] = "lm",
		[30] = "3dnowext", [31] = "3dnow",
	},
	[CPUF_80000007_EDX] = {
		[0] = "ts", [1] = "fid", [2] = "vid", [3] = "ttp", [4] = "tm",
		[5] = "stc", [6] = "100mhzsteps", [7] = "hwpstate",
		[8] = "constant_tsc", [9] = "cpb", [10] = "eff_freq_ro",
		[11] = "proc_feedback", [12] = "acc_power",
	},
	[CPUF_80000008_EBX] = {
		[0] = "clzero", [1] = "irperf", [2] = "xsaveerptr", [3] = "invlpgb",
		[4] = "rdpru", [9] = "wbnoinvd", [12] = "amd_ibpb", [14] = "amd_ibrs",
		[15] = "amd_stibp", [17] = "amd_stibp_always_on",
		[19] = "amd_ibrs_same_mode", [20] = "efer_lmsle_mbz",
		[23] = "amd_ppin", [24] = "amd_ssbd", [25] = "virt_ssbd",
		[26] = "amd_ssb_no", [27] = "cppc", [28] = "amd_psfd",
		[29] = "btc_no", [30] = "amd_ibpb_ret", [31] = "brs",
	},
};

/* See cpufeat_mask_volatile() in the header for why each is here. */
static const uint32_t volatile_bits[CPUF_WORDS] = {
	[CPUF_1_ECX]        = BIT(24) | BIT(27),        /* tsc_deadline, osxsave */
	[CPUF_1_EDX]        = BIT(9) | BIT(28),         /* apic, ht */
	[CPUF_7_0_ECX]      = BIT(4),                   /* ospke */
	[CPUF_80000001_ECX] = BIT(1),                   /* cmp_legacy */
	/* fpu..apic, mtrr..pse36, mmx, fxsr: AMD's copies of 1.EDX */
	[CPUF_80000001_EDX] = 0x3ffu | 0x3f000u | BIT(23) | BIT(24),
};

static const struct kvm_cpuid_entry2 *cpuid_find(const struct kvm_cpuid2 *c,
						 uint32_t leaf, int32_t sub)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function == leaf && (sub < 0 || e->index == (uint32_t)sub))
			return e;
	}
	return NULL;
}

void cpufeat_from_cpuid(const struct kvm_cpuid2 *c, struct cpufeat *f)
{
	memset(f, 0, sizeof(*f));
	for (int i = 0; i < CPUF_WORDS; i++) {
		const struct word_src *s = &word_src[i];
		const struct kvm_cpuid_entry2 *e = cpuid_find(c, s->leaf, s->sub);
		uint32_t r[4];

		if (!e)
			continue;
		r[R_EAX] = e->eax;
		r[R_EBX] = e->ebx;
		r[R_ECX] = e->ecx;
		r[R_EDX] = e->edx;
		f->w[i] = r[s->reg];
	}
}

void cpufeat_mask_volatile(struct cpufeat *f)
{
	for (int i = 0; i < CPUF_WORDS; i++)
		f->w[i] &= ~volatile_bits[i];
}

int cpufeat_host(int kvm_fd, struct cpufeat *f)
{
	struct kvm_cpuid2 *c;
	int err;

	memset(f, 0, sizeof(*f));
	if ((err = kvm_sys_cpuid(kvm_fd, &c)))
		return err;
	cpufeat_from_cpuid(c, f);
	free(c);
	return 0;
}

/* A comma-separated list that ends in "..." rather than in half a name. */
struct list {
	char *buf;
	size_t len;
	size_t pos;
	size_t cut;     /* end of the last name a ", ..." still fits after */
	bool full;
};

static void list_add(struct list *l, const char *item)
{
	size_t sep = l->pos ? 2 : 0, n = strlen(item);

	if (l->full || l->pos + sep + n >= l->len) {
		l->full = true;
		return;
	}
	memcpy(l->buf + l->pos, ", ", sep);
	memcpy(l->buf + l->pos + sep, item, n);
	l->pos += sep + n;
	l->buf[l->pos] = '\0';
	if (l->pos + strlen(", ...") < l->len)
		l->cut = l->pos;
}

static void list_end(struct list *l)
{
	if (l->full)
		snprintf(l->buf + l->cut, l->len - l->cut, "%s",
			 l->cut ? ", ..." : "...");
}

static void bit_name(unsigned w, unsigned b, char *out, size_t len)
{
	if (w >= CPUF_WORDS)
		snprintf(out, len, "cpufeat.w%u[%u]", w, b);
	else if (names[w][b])
		snprintf(out, len, "%s", names[w][b]);
	else
		snprintf(out, len, "cpuid.%s[%u]", word_src[w].tag, b);
}

unsigned cpufeat_missing(const struct cpufeat *need, const struct cpufeat *have,
			 char *buf, size_t len)
{
	struct list l = { .buf = buf, .len = len, .full = !len };
	unsigned count = 0;
	char name[32];

	if (len)
		buf[0] = '\0';
	/* Words this build does not know count too: a newer source asking
	 * for them cannot be checked here, so it must not pass. */
	for (unsigned w = 0; w < CPUFEAT_MAX_WORDS; w++) {
		uint32_t miss = need->w[w] & ~have->w[w];

		count += __builtin_popcount(miss);
		for (; miss && !l.full; miss &= miss - 1) {
			bit_name(w, __builtin_ctz(miss), name, sizeof(name));
			list_add(&l, name);
		}
	}
	if (len)
		list_end(&l);
	return count;
}
