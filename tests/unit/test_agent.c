/* tests/unit/test_agent.c - the in-guest agent's checks, options and
 * console lines (guest/linux/agent.h), on the host: every page and block
 * fault it must name, every option error, and the status lines a host
 * will parse, written and read back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "guest/linux/agent.h"

static void test_page(void **state)
{
	uint64_t w[AGENT_WORDS];

	(void)state;
	agent_page_fill(w, 7, 3);
	assert_int_equal(agent_page_check(w, 7, 3), -1);
	assert_int_equal(agent_page_check(w, 8, 3), 0);    /* another page */
	assert_int_equal(agent_page_check(w, 7, 2), 1);    /* an older write */
	w[300] ^= 1;
	assert_int_equal(agent_page_check(w, 7, 3), 300);
	/* generations differ in every payload word, not only in w[1] */
	{
		uint64_t v[AGENT_WORDS];

		agent_page_fill(v, 7, 4);
		for (size_t i = 2; i < AGENT_WORDS; i++)
			assert_true(v[i] != w[i] || i == 300);
	}
	/* a zero page (fresh RAM the agent never wrote) is never good */
	memset(w, 0, sizeof(w));
	assert_int_equal(agent_page_check(w, 0, 0), 0);
}

static void test_block(void **state)
{
	uint64_t w[AGENT_WORDS], v[AGENT_WORDS];

	(void)state;
	agent_block_fill(w, 5, 2);
	assert_int_equal(agent_block_check(w, 5, 2), AGENT_OK);
	assert_int_equal(agent_block_check(w, 6, 2), AGENT_BAD_INDEX);
	assert_int_equal(agent_block_check(w, 5, 1), AGENT_BAD_GEN);
	assert_int_equal(agent_block_check(w, 5, 3), AGENT_BAD_GEN);
	memcpy(v, w, sizeof(w));
	v[100] ^= 1ull << 40;                       /* a torn or corrupt block */
	assert_int_equal(agent_block_check(v, 5, 2), AGENT_BAD_SUM);
	v[3] = agent_block_sum(v);                  /* its sum made to fit */
	assert_int_equal(agent_block_check(v, 5, 2), AGENT_BAD_DATA);
	memcpy(v, w, sizeof(w));
	v[3] ^= 1;
	assert_int_equal(agent_block_check(v, 5, 2), AGENT_BAD_SUM);
	memset(v, 0, sizeof(v));                    /* never written */
	assert_int_equal(agent_block_check(v, 5, 2), AGENT_BAD_MAGIC);
	assert_string_equal(agent_bad_name(AGENT_BAD_SUM), "sum");
	assert_string_equal(agent_bad_name((enum agent_bad)99), "?");
}

static int parse(struct agent_opts *o, char *err, const char *a0, ...)
{
	char *argv[32] = { "pcm-agent" };
	int argc = 1;
	va_list ap;

	va_start(ap, a0);
	for (const char *a = a0; a && argc < 31; a = va_arg(ap, const char *))
		argv[argc++] = (char *)a;
	va_end(ap);
	err[0] = 0;
	return agent_parse_args(argc, argv, o, err, 160);
}

static void test_options(void **state)
{
	struct agent_opts o;
	char err[160];

	(void)state;
	assert_int_equal(parse(&o, err, NULL), 0);
	assert_int_equal(o.mem_mib, 64);
	assert_int_equal(o.period_ms, 100);
	assert_int_equal(o.kv_permille, 300);
	assert_int_equal(o.seconds, 0);
	assert_null(o.disk);

	assert_int_equal(parse(&o, err, "--mem", "16", "--disk=/dev/vda", "--offset", "4",
			       "--disk-mib=3", "--period-ms", "250", "--seconds", "30",
			       "--kv-permille=1000", "--disk-every", "8", "--seed", "9", NULL), 0);
	assert_int_equal(o.mem_mib, 16);
	assert_string_equal(o.disk, "/dev/vda");
	assert_int_equal(o.offset_mib, 4);
	assert_int_equal(o.disk_mib, 3);
	assert_int_equal(o.period_ms, 250);
	assert_int_equal(o.seconds, 30);
	assert_int_equal(o.kv_permille, 1000);
	assert_int_equal(o.disk_every, 8);
	assert_int_equal(o.seed, 9);
}

static void test_option_errors(void **state)
{
	struct agent_opts o;
	char err[160];

	(void)state;
	assert_int_equal(parse(&o, err, "--mem", "0", NULL), -1);
	assert_non_null(strstr(err, "--mem"));
	assert_int_equal(parse(&o, err, "--kv-permille", "1001", NULL), -1);
	assert_int_equal(parse(&o, err, "--period-ms", "0", NULL), -1);
	assert_int_equal(parse(&o, err, "--disk-every", "0", NULL), -1);
	assert_int_equal(parse(&o, err, "--mem", "12x", NULL), -1);
	assert_int_equal(parse(&o, err, "--mem", "-1", NULL), -1);
	assert_int_equal(parse(&o, err, "--mem=", NULL), -1);
	assert_int_equal(parse(&o, err, "--seconds", NULL), -1);
	assert_non_null(strstr(err, "needs a value"));
	assert_int_equal(parse(&o, err, "--disk=", NULL), -1);
	assert_int_equal(parse(&o, err, "--memory", "4", NULL), -1);
	assert_non_null(strstr(err, "unknown option --memory"));
	assert_int_equal(parse(&o, err, "--me", "4", NULL), -1);
	assert_int_equal(parse(&o, err, "64", NULL), -1);
	assert_non_null(strstr(err, "unexpected argument '64'"));
}

static void test_format_parse(void **state)
{
	struct agent_status s = { .t_ms = 1234, .ops = 99, .max_gap_us = 350000, .gap_us = 20,
				  .ram_bad = -1, .disk_bad = -1, .has_disk = 1 };
	struct agent_status r;
	char line[256];

	(void)state;
	assert_true(agent_format(line, sizeof(line), AGENT_LINE_STATUS, &s) > 0);
	assert_string_equal(line, "PCM-AGENT: t=1234 ops=99 max_gap_us=350000 gap_us=20 ram=ok disk=ok\n");
	assert_int_equal(agent_parse_line(line, &r), AGENT_LINE_STATUS);
	assert_int_equal(r.t_ms, 1234);
	assert_int_equal(r.ops, 99);
	assert_int_equal(r.max_gap_us, 350000);
	assert_int_equal(r.gap_us, 20);
	assert_true(agent_status_ok(&r));
	assert_int_equal(r.has_disk, 1);

	s.ram_bad = 17;
	s.has_disk = 0;
	assert_true(agent_format(line, sizeof(line), AGENT_LINE_DONE, &s) > 0);
	assert_string_equal(line, "PCM-AGENT: done ops=99 max_gap_us=350000 ram=BAD(17) disk=none\n");
	assert_int_equal(agent_parse_line(line, &r), AGENT_LINE_DONE);
	assert_int_equal(r.ram_bad, 17);
	assert_int_equal(r.has_disk, 0);
	assert_false(agent_status_ok(&r));

	s.ram_bad = -1;
	s.disk_bad = 4;
	s.has_disk = 1;
	assert_true(agent_format(line, sizeof(line), AGENT_LINE_DONE, &s) > 0);
	assert_int_equal(agent_parse_line(line, &r), AGENT_LINE_DONE);
	assert_int_equal(r.disk_bad, 4);
	assert_false(agent_status_ok(&r));

	/* too small a buffer is refused, never cut */
	assert_int_equal(agent_format(line, 20, AGENT_LINE_STATUS, &s), -1);
	assert_int_equal(agent_format(line, 60, AGENT_LINE_STATUS, &s), -1);
}

/* Lines as a console gives them: CR LF, another line's remains in front,
 * keys a later agent adds. */
static void test_parse_console(void **state)
{
	struct agent_status r;

	(void)state;
	assert_int_equal(agent_parse_line("PCM-AGENT: done ops=5 max_gap_us=7 ram=ok disk=ok\r\n", &r),
			 AGENT_LINE_DONE);
	assert_int_equal(r.max_gap_us, 7);
	assert_int_equal(agent_parse_line("[  12.5] x\rPCM-AGENT: t=1 ops=2 max_gap_us=3 gap_us=4 "
					  "ram=ok disk=none later=9", &r), AGENT_LINE_STATUS);
	assert_int_equal(r.gap_us, 4);
	assert_int_equal(r.has_disk, 0);
	assert_int_equal(agent_parse_line("PCM-AGENT: start mem_mib=64 disk=none", &r), AGENT_LINE_START);
	assert_int_equal(agent_parse_line("PCM-AGENT: error page 3", &r), AGENT_LINE_OTHER);
	assert_int_equal(agent_parse_line("PCM-L2: tick 5", &r), AGENT_LINE_NONE);
	/* a key missing, a bad value, a cut line */
	assert_int_equal(agent_parse_line("PCM-AGENT: done ops=5 ram=ok disk=ok", &r), AGENT_LINE_OTHER);
	assert_int_equal(agent_parse_line("PCM-AGENT: t=1 ops=2 max_gap_us=3 gap_us=4 ram=ok", &r),
			 AGENT_LINE_OTHER);
	assert_int_equal(agent_parse_line("PCM-AGENT: done ops=x max_gap_us=7 ram=ok disk=ok", &r),
			 AGENT_LINE_OTHER);
	assert_int_equal(agent_parse_line("PCM-AGENT: done ops=5 max_gap_us=7 ram=none disk=ok", &r),
			 AGENT_LINE_OTHER);
	assert_int_equal(agent_parse_line("PCM-AGENT: done ops=5 max_gap_us=7 ram=ok disk=BAD()", &r),
			 AGENT_LINE_OTHER);
	assert_int_equal(agent_parse_line("PCM-AGENT: done ops=5 max_gap_us=7 ram=ok disk=BAD(3", &r),
			 AGENT_LINE_OTHER);
	assert_int_equal(agent_parse_line("PCM-AGENT: done ops=5 max_gap_us=7 ram=ok disk=BAD(-3)", &r),
			 AGENT_LINE_OTHER);
	assert_int_equal(agent_parse_line("PCM-AGENT: done ops=5 max_gap_us= ram=ok disk=ok", &r),
			 AGENT_LINE_OTHER);
	assert_int_equal(agent_parse_line("PCM-AGENT: done ops=5 max_gap_us=7 ram disk=ok", &r),
			 AGENT_LINE_OTHER);
	assert_int_equal(agent_parse_line("PCM-AGENT: done ops=5 max_gap_us=99999999999999999999999 "
					  "ram=ok disk=ok", &r), AGENT_LINE_OTHER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_page),
		cmocka_unit_test(test_block),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_option_errors),
		cmocka_unit_test(test_format_parse),
		cmocka_unit_test(test_parse_console),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
