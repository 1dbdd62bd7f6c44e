/* tests/unit/test_cpufeat.c - CPU-feature fingerprint: words picked from a
 * CPUID table, missing features named in order and cut with "...", the
 * volatile mask, and the real host's offer through /dev/kvm. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <linux/kvm.h>

#include "kvm/cpufeat.h"

#define SIG KVM_CPUID_FLAG_SIGNIFCANT_INDEX

static struct kvm_cpuid2 *table(const struct kvm_cpuid_entry2 *e, unsigned n)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(*e));

	assert_non_null(c);
	c->nent = n;
	if (n)
		memcpy(c->entries, e, n * sizeof(*e));
	return c;
}

static void test_from_cpuid(void **state)
{
	/* Subleaf 1 of 7 and 0xd come before subleaf 0 so that taking the
	 * first entry of a leaf would pick the wrong one. */
	const struct kvm_cpuid_entry2 e[] = {
		{ .function = 0, .eax = 0xd, .ebx = 0x756e6547 },
		{ .function = 7, .index = 1, .flags = SIG, .eax = 0x71a, .ebx = 0xbad },
		{ .function = 7, .index = 0, .flags = SIG, .eax = 1,
		  .ebx = 0x70b, .ecx = 0x70c, .edx = 0x70d },
		{ .function = 1, .eax = 0x806f8, .ebx = 0x800,
		  .ecx = 0x1c, .edx = 0x1d },
		{ .function = 0xd, .index = 1, .flags = SIG, .eax = 0xd1a },
		{ .function = 0xd, .index = 0, .flags = SIG, .eax = 0xd0a },
		{ .function = 0x80000001, .ecx = 0x81c, .edx = 0x81d },
		{ .function = 0x80000008, .eax = 0x3030, .ebx = 0x88b },
	};
	struct kvm_cpuid2 *c = table(e, sizeof(e) / sizeof(e[0]));
	struct cpufeat f;

	(void)state;
	memset(&f, 0xff, sizeof(f));     /* everything must be written */
	cpufeat_from_cpuid(c, &f);
	assert_int_equal(f.w[CPUF_1_ECX], 0x1c);
	assert_int_equal(f.w[CPUF_1_EDX], 0x1d);
	assert_int_equal(f.w[CPUF_7_0_EBX], 0x70b);
	assert_int_equal(f.w[CPUF_7_0_ECX], 0x70c);
	assert_int_equal(f.w[CPUF_7_0_EDX], 0x70d);
	assert_int_equal(f.w[CPUF_7_1_EAX], 0x71a);
	assert_int_equal(f.w[CPUF_D_1_EAX], 0xd1a);
	assert_int_equal(f.w[CPUF_80000001_ECX], 0x81c);
	assert_int_equal(f.w[CPUF_80000001_EDX], 0x81d);
	assert_int_equal(f.w[CPUF_80000007_EDX], 0);    /* leaf absent */
	assert_int_equal(f.w[CPUF_80000008_EBX], 0x88b);
	for (int i = CPUF_WORDS; i < CPUFEAT_MAX_WORDS; i++)
		assert_int_equal(f.w[i], 0);
	free(c);

	/* An empty table gives an empty fingerprint. */
	c = table(NULL, 0);
	memset(&f, 0xff, sizeof(f));
	cpufeat_from_cpuid(c, &f);
	for (int i = 0; i < CPUFEAT_MAX_WORDS; i++)
		assert_int_equal(f.w[i], 0);
	free(c);
}

static void test_missing_names(void **state)
{
	struct cpufeat need = { 0 }, have = { 0 };
	char buf[256];

	(void)state;
	need.w[CPUF_7_0_EBX] = 1u << 5;
	assert_int_equal(cpufeat_missing(&need, &have, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "avx2");

	need = (struct cpufeat){ 0 };
	need.w[CPUF_1_ECX] = 1u << 20;
	assert_int_equal(cpufeat_missing(&need, &have, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "sse4_2");

	/* Word order, then bit order; what have offers is not listed. */
	need.w[CPUF_7_0_EBX] = 1u << 29 | 1u << 5 | 1u << 3;
	need.w[CPUF_1_EDX] = 1u << 26;
	need.w[CPUF_80000001_ECX] = 1u << 8;
	have.w[CPUF_7_0_EBX] = 1u << 3;
	assert_int_equal(cpufeat_missing(&need, &have, buf, sizeof(buf)), 5);
	assert_string_equal(buf, "sse4_2, sse2, avx2, sha_ni, 3dnowprefetch");

	/* Spellings that differ from the macro names. */
	need = (struct cpufeat){ 0 };
	have = (struct cpufeat){ 0 };
	need.w[CPUF_1_ECX] = 1u << 0;
	need.w[CPUF_80000001_EDX] = 1u << 26;
	need.w[CPUF_80000007_EDX] = 1u << 8;
	need.w[CPUF_D_1_EAX] = 1u << 3;
	assert_int_equal(cpufeat_missing(&need, &have, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "pni, xsaves, pdpe1gb, constant_tsc");
}

static void test_missing_unnamed(void **state)
{
	struct cpufeat need = { 0 }, have = { 0 };
	char buf[256];

	(void)state;
	need.w[CPUF_7_0_EBX] = 1u << 22;
	assert_int_equal(cpufeat_missing(&need, &have, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "cpuid.7.0.ebx[22]");

	need.w[CPUF_1_EDX] = 1u << 10;
	need.w[CPUF_D_1_EAX] = 1u << 31;
	need.w[CPUF_80000001_EDX] = 1u << 0;
	/* A word from a newer source that this build cannot check. */
	need.w[CPUF_WORDS] = 1u << 3;
	assert_int_equal(cpufeat_missing(&need, &have, buf, sizeof(buf)), 5);
	assert_string_equal(buf, "cpuid.1.edx[10], cpuid.7.0.ebx[22], "
			    "cpuid.d.1.eax[31], cpuid.80000001.edx[0], "
			    "cpufeat.w11[3]");
}

static void test_missing_truncated(void **state)
{
	struct cpufeat need = { 0 }, have = { 0 };
	char full[512], buf[512];
	size_t n;

	(void)state;
	need.w[CPUF_1_EDX] = 0xffffffff;
	need.w[CPUF_7_0_EBX] = 0xffffffff;
	assert_int_equal(cpufeat_missing(&need, &have, full, sizeof(full)), 64);
	n = strlen(full);
	assert_true(n > 100 && n < sizeof(full) - 1);
	assert_memory_equal(full, "fpu, vme, de, pse, ", 19);

	/* Exactly enough room: no cut. */
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(cpufeat_missing(&need, &have, buf, n + 1), 64);
	assert_string_equal(buf, full);

	/* One byte short: cut after a whole name, and the count stays. */
	for (size_t len = n; len >= 6; len--) {
		size_t m;

		memset(buf, 'x', sizeof(buf));
		assert_int_equal(cpufeat_missing(&need, &have, buf, len), 64);
		m = strlen(buf);
		assert_true(m < len);
		assert_string_equal(buf + m - 3, "...");
		if (m > 3) {
			assert_memory_equal(buf + m - 5, ", ...", 5);
			assert_memory_equal(buf, full, m - 5);
			assert_true(full[m - 5] == ',');
		}
	}

	memset(buf, 'x', sizeof(buf));
	cpufeat_missing(&need, &have, buf, 24);
	assert_string_equal(buf, "fpu, vme, de, pse, ...");

	/* Too small for any name. */
	memset(buf, 'x', sizeof(buf));
	cpufeat_missing(&need, &have, buf, 4);
	assert_string_equal(buf, "...");
	memset(buf, 'x', sizeof(buf));
	cpufeat_missing(&need, &have, buf, 1);
	assert_string_equal(buf, "");
	assert_int_equal(cpufeat_missing(&need, &have, NULL, 0), 64);
}

static void test_missing_none(void **state)
{
	struct cpufeat need = { 0 }, have = { 0 };
	char buf[64];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(cpufeat_missing(&need, &have, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");

	need.w[CPUF_7_0_EBX] = 1u << 5;
	have.w[CPUF_7_0_EBX] = 1u << 5 | 1u << 29;
	have.w[CPUF_1_ECX] = 0xffffffff;
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(cpufeat_missing(&need, &have, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(cpufeat_missing(&need, &have, NULL, 0), 0);
}

static void test_mask_volatile(void **state)
{
	struct cpufeat need = { 0 }, have = { 0 };
	char buf[64];

	(void)state;
	need.w[CPUF_1_ECX] = 1u << 27 | 1u << 20 | 1u << 31;  /* osxsave */
	need.w[CPUF_7_0_EBX] = 1u << 5;
	have.w[CPUF_1_ECX] = 1u << 20 | 1u << 31;
	have.w[CPUF_7_0_EBX] = 1u << 5;
	assert_int_equal(cpufeat_missing(&need, &have, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "osxsave");

	cpufeat_mask_volatile(&need);
	cpufeat_mask_volatile(&have);
	assert_int_equal(need.w[CPUF_1_ECX], 1u << 20 | 1u << 31);
	assert_int_equal(need.w[CPUF_7_0_EBX], 1u << 5);
	assert_int_equal(cpufeat_missing(&need, &have, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");

	/* The hypervisor bit may be required. */
	have.w[CPUF_1_ECX] = 1u << 20;
	cpufeat_mask_volatile(&have);
	assert_int_equal(cpufeat_missing(&need, &have, buf, sizeof(buf)), 1);
	assert_string_equal(buf, "hypervisor");
}

static void test_host_badfd(void **state)
{
	struct cpufeat f;

	(void)state;
	assert_int_equal(cpufeat_host(-1, &f), -EBADF);
}

static void test_host(void **state)
{
	struct cpufeat f, m;
	char buf[128];
	int fd;

	(void)state;
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		skip();
	assert_int_equal(cpufeat_host(fd, &f), 0);
	close(fd);

	assert_int_not_equal(f.w[CPUF_1_ECX], 0);
	assert_int_not_equal(f.w[CPUF_1_EDX], 0);
	assert_int_not_equal(f.w[CPUF_80000001_EDX], 0);
	assert_true(f.w[CPUF_1_EDX] & 1u << 0);              /* fpu */
	assert_true(f.w[CPUF_80000001_EDX] & 1u << 29);      /* lm */
	for (int i = CPUF_WORDS; i < CPUFEAT_MAX_WORDS; i++)
		assert_int_equal(f.w[i], 0);

	memset(buf, 'x', sizeof(buf));
	assert_int_equal(cpufeat_missing(&f, &f, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");

	m = f;
	cpufeat_mask_volatile(&m);
	assert_int_equal(cpufeat_missing(&m, &f, buf, sizeof(buf)), 0);
	assert_int_equal(m.w[CPUF_1_ECX] & 1u << 27, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_from_cpuid),
		cmocka_unit_test(test_missing_names),
		cmocka_unit_test(test_missing_unnamed),
		cmocka_unit_test(test_missing_truncated),
		cmocka_unit_test(test_missing_none),
		cmocka_unit_test(test_mask_volatile),
		cmocka_unit_test(test_host_badfd),
		cmocka_unit_test(test_host),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
