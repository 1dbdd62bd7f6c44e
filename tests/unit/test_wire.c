/* tests/unit/test_wire.c - the frame header, its checks, the checksum. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <endian.h>
#include <errno.h>
#include <string.h>

#include "net/wire.h"

#define MAXT 10

static void hdr_ok(struct wire_hdr *h, const void *p, uint32_t len)
{
	wire_hdr_init(h, 3, len, 7, wire_csum(p, len));
}

static void test_round_trip(void **st)
{
	const char p[] = "some payload";
	struct wire_hdr h;
	uint8_t raw[WIRE_HDR_SIZE];

	(void)st;
	hdr_ok(&h, p, sizeof(p));
	assert_int_equal(wire_hdr_check(&h, MAXT), 0);
	assert_int_equal(wire_payload_check(&h, p), 0);
	/* Fixed little-endian layout: magic at 0, type at 6, len at 8, seq at 16. */
	memcpy(raw, &h, sizeof(raw));
	assert_memory_equal(raw, "PCMV", 4);
	assert_int_equal(raw[4], WIRE_VERSION);
	assert_int_equal(raw[6], 3);
	assert_int_equal(raw[8], sizeof(p));
	assert_int_equal(raw[16], 7);
	assert_int_equal(le64toh(h.csum), wire_csum(p, sizeof(p)));
}

static void test_zero_len(void **st)
{
	struct wire_hdr h;

	(void)st;
	wire_hdr_init(&h, 1, 0, 1, wire_csum(NULL, 0));
	assert_int_equal(wire_hdr_check(&h, MAXT), 0);
	assert_int_equal(wire_payload_check(&h, NULL), 0);
	assert_int_equal(wire_csumv(NULL, 0), wire_csum(NULL, 0));
}

static void test_bad_magic(void **st)
{
	struct wire_hdr h;

	(void)st;
	hdr_ok(&h, "x", 1);
	h.magic = htole32(0x50545448);   /* "HTTP" */
	assert_int_equal(wire_hdr_check(&h, MAXT), -EPROTO);
}

static void test_bad_version(void **st)
{
	struct wire_hdr h;

	(void)st;
	hdr_ok(&h, "x", 1);
	h.version = htole16(WIRE_VERSION + 1);
	assert_int_equal(wire_hdr_check(&h, MAXT), -EPROTONOSUPPORT);
}

static void test_bad_len(void **st)
{
	struct wire_hdr h;

	(void)st;
	wire_hdr_init(&h, 1, WIRE_MAX_PAYLOAD, 1, 0);
	assert_int_equal(wire_hdr_check(&h, MAXT), 0);
	wire_hdr_init(&h, 1, WIRE_MAX_PAYLOAD + 1, 1, 0);
	assert_int_equal(wire_hdr_check(&h, MAXT), -EMSGSIZE);
	wire_hdr_init(&h, 1, UINT32_MAX, 1, 0);
	assert_int_equal(wire_hdr_check(&h, MAXT), -EMSGSIZE);
}

static void test_bad_type(void **st)
{
	struct wire_hdr h;

	(void)st;
	wire_hdr_init(&h, 0, 0, 1, 0);
	assert_int_equal(wire_hdr_check(&h, MAXT), -EBADMSG);
	wire_hdr_init(&h, MAXT, 0, 1, 0);
	assert_int_equal(wire_hdr_check(&h, MAXT), 0);
	wire_hdr_init(&h, MAXT + 1, 0, 1, 0);
	assert_int_equal(wire_hdr_check(&h, MAXT), -EBADMSG);
}

static void test_bad_csum(void **st)
{
	char p[] = "page data page data";
	struct wire_hdr h;

	(void)st;
	hdr_ok(&h, p, sizeof(p));
	p[3] ^= 1;
	assert_int_equal(wire_payload_check(&h, p), -EILSEQ);
}

static void test_csumv(void **st)
{
	char p[10000];
	struct iovec v[3] = {
		{ p, 1 }, { p + 1, 4999 }, { p + 5000, 5000 },
	};

	(void)st;
	for (size_t i = 0; i < sizeof(p); i++)
		p[i] = (char)(i * 7);
	assert_int_equal(wire_csumv(v, 3), wire_csum(p, sizeof(p)));
	assert_int_equal(wire_csumv(v, 1), wire_csum(p, 1));
}

static void test_strerror(void **st)
{
	const int errs[] = { -EPROTO, -EPROTONOSUPPORT, -EMSGSIZE, -EBADMSG,
			     -EILSEQ, -ERANGE, -ECONNABORTED, -ENOTCONN,
			     -ETIMEDOUT, -ECONNREFUSED, -123456 };

	(void)st;
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		const char *s = wire_strerror(errs[i]);

		assert_non_null(s);
		assert_true(strlen(s) > 0);
	}
	assert_non_null(strstr(wire_strerror(-EPROTO), "magic"));
	assert_non_null(strstr(wire_strerror(-EILSEQ), "checksum"));
	assert_non_null(strstr(wire_strerror(-ECONNABORTED), "truncated"));
	assert_string_equal(wire_strerror(-EMSGSIZE), wire_strerror(EMSGSIZE));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_zero_len),
		cmocka_unit_test(test_bad_magic),
		cmocka_unit_test(test_bad_version),
		cmocka_unit_test(test_bad_len),
		cmocka_unit_test(test_bad_type),
		cmocka_unit_test(test_bad_csum),
		cmocka_unit_test(test_csumv),
		cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
