/* tests/unit/test_codec.c - lib/codec.h: little-endian fields, and a
 * cursor that runs past its buffer neither writes nor reads out of it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "lib/codec.h"

static void test_round_trip(void **state)
{
	uint8_t buf[32];
	struct pcm_enc e = { buf, sizeof(buf), 0, false };
	struct pcm_dec d = { buf, sizeof(buf), 0, false };
	char s[8];

	(void)state;
	pcm_put_u8(&e, 0xab);
	pcm_put_u16(&e, 0x1234);
	pcm_put_u32(&e, 0xdeadbeef);
	pcm_put_u64(&e, 0x0102030405060708ull);
	pcm_put_str(&e, "toolongname", 8);
	assert_false(e.over);
	assert_int_equal(e.pos, 1 + 2 + 4 + 8 + 8);
	/* little-endian whatever the host */
	assert_int_equal(buf[1], 0x34);
	assert_int_equal(buf[3], 0xef);
	assert_int_equal(buf[7], 0x08);
	assert_int_equal(pcm_get_u8(&d), 0xab);
	assert_int_equal(pcm_get_u16(&d), 0x1234);
	assert_int_equal(pcm_get_u32(&d), 0xdeadbeef);
	assert_true(pcm_get_u64(&d) == 0x0102030405060708ull);
	assert_true(pcm_get_str(&d, s, sizeof(s)));
	assert_string_equal(s, "toolong");   /* cut to the field, NUL kept */
	assert_false(d.over);
}

static void test_overrun(void **state)
{
	uint8_t buf[8] = { 0 };
	struct pcm_enc e = { buf, 6, 0, false };
	struct pcm_dec d = { buf, 6, 0, false };
	char s[4];

	(void)state;
	pcm_put_u32(&e, 1);
	pcm_put_u32(&e, 2);   /* does not fit: nothing written */
	pcm_put_u8(&e, 3);    /* fits, but the cursor is already over */
	assert_true(e.over);
	assert_int_equal(e.pos, 4);
	assert_int_equal(buf[4], 0);
	assert_int_equal(buf[6], 0);
	assert_int_equal(pcm_get_u32(&d), 1);
	assert_int_equal(pcm_get_u32(&d), 0);   /* past the end: zero */
	assert_true(d.over);
	assert_int_equal(pcm_get_u8(&d), 0);
	memcpy(buf, "abcd", 4);
	d = (struct pcm_dec){ buf, 4, 0, false };
	assert_false(pcm_get_str(&d, s, sizeof(s)));   /* no NUL in the field */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_overrun),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
