/* kvm/cpufeat.h - the CPU-feature fingerprint a migration carries.
 *
 * The source sends the feature words its guest was given; the destination
 * compares them with what its own KVM offers and refuses, naming each
 * missing feature, before anything on the source changes. Words are plain
 * host-order uint32_t; putting them on the wire is the protocol's job.
 */
#ifndef KVM_CPUFEAT_H
#define KVM_CPUFEAT_H

#include <stddef.h>
#include <stdint.h>

struct kvm_cpuid2;   /* from <linux/kvm.h>; only cpufeat.c includes it */

/* The feature words a guest is given (CPUID leaf/subleaf/register); the
 * order is part of the wire format, append only. */
enum cpufeat_word {
	CPUF_1_ECX, CPUF_1_EDX, CPUF_7_0_EBX, CPUF_7_0_ECX, CPUF_7_0_EDX,
	CPUF_7_1_EAX, CPUF_D_1_EAX, CPUF_80000001_ECX, CPUF_80000001_EDX,
	CPUF_80000007_EDX, CPUF_80000008_EBX, CPUF_WORDS
};

#define CPUFEAT_MAX_WORDS 16   /* room on the wire */

struct cpufeat {
	uint32_t w[CPUFEAT_MAX_WORDS];   /* words past CPUF_WORDS are 0 */
};

/* Collect the feature words from a CPUID table (missing leaves give 0). */
void cpufeat_from_cpuid(const struct kvm_cpuid2 *c, struct cpufeat *f);

/* Features in need but not in have, as "avx2, sha_ni, ..." (names as Linux
 * /proc/cpuinfo spells them; an unnamed bit as "cpuid.7.0.ebx[22]"; a bit
 * in a word this build does not know as "cpufeat.w11[3]") into buf (always
 * NUL-terminated, truncated with "..." when long; buf may be NULL when len
 * is 0); returns how many are missing. */
unsigned cpufeat_missing(const struct cpufeat *need, const struct cpufeat *have,
			 char *buf, size_t len);

/* The host's own offer: KVM_GET_SUPPORTED_CPUID on the open /dev/kvm fd;
 * 0 or negative errno. */
int cpufeat_host(int kvm_fd, struct cpufeat *f);

/* Bits that may legitimately differ between hosts and are masked out of
 * the comparison: state the guest itself decides (OSXSAVE, OSPKE, APIC),
 * topology the VMM chooses (HTT, CMP_LEGACY), TSC deadline (emulated by
 * KVM's LAPIC, advertised only by newer kernels) and AMD's copies of
 * CPUID.1.EDX bits in 80000001.EDX (the feature itself is compared in
 * 1.EDX). The hypervisor bit stays. Apply to both sides. */
void cpufeat_mask_volatile(struct cpufeat *f);

#endif
