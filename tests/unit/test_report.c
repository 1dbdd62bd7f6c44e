/* tests/unit/test_report.c - the report: its JSON is one valid object on
 * one line with every stable key, strings escaped; the human summary
 * carries the headline numbers. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "postcopy/report.h"

/* A strict little JSON checker (RFC 8259 grammar, no decoding): enough
 * to know a script's parser will take the line. */
struct jp {
	const char *s;
};

static void jp_ws(struct jp *j)
{
	while (*j->s == ' ' || *j->s == '\t' || *j->s == '\n' || *j->s == '\r')
		j->s++;
}

static int jp_value(struct jp *j, int depth);

static int jp_string(struct jp *j)
{
	if (*j->s++ != '"')
		return -1;
	for (;;) {
		unsigned char c = (unsigned char)*j->s++;

		if (c == '"')
			return 0;
		if (c < 0x20)           /* also the NUL at the end */
			return -1;
		if (c != '\\')
			continue;
		c = (unsigned char)*j->s++;
		if (c == 'u') {
			int k;

			for (k = 0; k < 4; k++)
				if (!strchr("0123456789abcdefABCDEF", *j->s++) ||
				    !j->s[-1])
					return -1;
		} else if (!c || !strchr("\"\\/bfnrt", c)) {
			return -1;
		}
	}
}

static int jp_digits(struct jp *j)
{
	const char *start = j->s;

	while (*j->s >= '0' && *j->s <= '9')
		j->s++;
	return j->s > start ? 0 : -1;
}

static int jp_number(struct jp *j)
{
	if (*j->s == '-')
		j->s++;
	if (*j->s == '0')
		j->s++;
	else if (jp_digits(j))
		return -1;
	if (*j->s == '.') {
		j->s++;
		if (jp_digits(j))
			return -1;
	}
	if (*j->s == 'e' || *j->s == 'E') {
		j->s++;
		if (*j->s == '+' || *j->s == '-')
			j->s++;
		if (jp_digits(j))
			return -1;
	}
	return 0;
}

static int jp_word(struct jp *j, const char *w)
{
	size_t n = strlen(w);

	if (strncmp(j->s, w, n))
		return -1;
	j->s += n;
	return 0;
}

static int jp_object(struct jp *j, int depth)
{
	j->s++;                         /* '{' */
	jp_ws(j);
	if (*j->s == '}') {
		j->s++;
		return 0;
	}
	for (;;) {
		jp_ws(j);
		if (jp_string(j))
			return -1;
		jp_ws(j);
		if (*j->s++ != ':')
			return -1;
		if (jp_value(j, depth + 1))
			return -1;
		jp_ws(j);
		if (*j->s == '}') {
			j->s++;
			return 0;
		}
		if (*j->s++ != ',')
			return -1;
	}
}

static int jp_array(struct jp *j, int depth)
{
	j->s++;                         /* '[' */
	jp_ws(j);
	if (*j->s == ']') {
		j->s++;
		return 0;
	}
	for (;;) {
		if (jp_value(j, depth + 1))
			return -1;
		jp_ws(j);
		if (*j->s == ']') {
			j->s++;
			return 0;
		}
		if (*j->s++ != ',')
			return -1;
	}
}

static int jp_value(struct jp *j, int depth)
{
	if (depth > 32)
		return -1;
	jp_ws(j);
	switch (*j->s) {
	case '{': return jp_object(j, depth);
	case '[': return jp_array(j, depth);
	case '"': return jp_string(j);
	case 't': return jp_word(j, "true");
	case 'f': return jp_word(j, "false");
	case 'n': return jp_word(j, "null");
	default:  return jp_number(j);
	}
}

/* 0 when s is exactly one JSON object followed by one newline. */
static int json_check_line(const char *s)
{
	struct jp j = { .s = s };

	if (*s != '{' || jp_value(&j, 0))
		return -1;
	return strcmp(j.s, "\n") ? -1 : 0;
}

static char *capture(void (*print)(FILE *, const struct report *),
		     const struct report *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	print(f, r);
	assert_int_equal(fclose(f), 0);
	assert_non_null(buf);
	return buf;
}

static void report_fill(struct report *r)
{
	memset(r, 0, sizeof(*r));
	strcpy(r->mode, "postcopy");
	strcpy(r->engine, "thread");
	strcpy(r->workload, "memtouch");
	r->ram_bytes = 1ULL << 30;
	r->vcpus = 4;
	r->setup_ms = 12.5;
	r->downtime_us = 1234.5678;
	r->pause_us = 100.25;
	r->max_stall_us = 5000;
	r->total_ms = 2048.0;
	r->bytes_control = 4096;
	r->bytes_urgent = 3 << 20;
	r->bytes_bulk = 1000ULL << 20;
	r->pages_pushed = 250000;
	r->pages_requested = 744;
	r->pages_zero = 11400;
	r->pages_total = 262144;
	r->remote_faults = 744;
	r->fault_p50_us = 80;
	r->fault_p90_us = 120;
	r->fault_p99_us = 400;
	r->fault_max_us = 900;
	r->blocktime_us = 70000;
	r->state_bytes = 8192;
	r->bulk_mbps = 950.5;
	r->dest_overhead_bytes = 65536;
	r->verified = true;
	strcpy(r->verify_detail, "all 262144 pages match");
}

static const char *const keys[] = {
	"mode", "engine", "workload", "ram_bytes", "vcpus", "setup_ms",
	"precopy_ms", "precopy_rounds", "downtime_us", "pause_us", "final_us", "save_us", "transfer_us", "restore_us",
	"max_stall_us", "total_ms", "bytes", "control", "urgent", "bulk",
	"pages", "pushed", "requested", "zero", "precopied", "resent", "total",
	"remote_faults", "fault_latency_us", "p50", "p90", "p99", "max",
	"blocktime_us", "state_bytes", "bulk_mbps", "dest_overhead_bytes",
	"verified", "verify_detail", "guest_rate", "before", "during", "after",
	"before_ms", "during_ms", "after_ms",
};

static void test_json_keys(void **state)
{
	struct report r;
	char *out, key[64];
	size_t i;

	(void)state;
	report_fill(&r);
	out = capture(report_print_json, &r);
	assert_int_equal(json_check_line(out), 0);
	assert_int_equal(strchr(out, '\n') - out, strlen(out) - 1);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(key, sizeof(key), "\"%s\":", keys[i]);
		if (!strstr(out, key))
			fail_msg("key %s missing in %s", key, out);
	}
	assert_non_null(strstr(out, "\"bytes\":{\"control\":4096,"));
	assert_non_null(strstr(out, "\"downtime_us\":1234.568,"));
	assert_non_null(strstr(out, "\"vcpus\":4,"));
	assert_non_null(strstr(out, "\"verified\":true,"));
	assert_non_null(strstr(out, "\"mode\":\"postcopy\""));
	free(out);
}

static void test_json_escape(void **state)
{
	struct report r;
	char *out;

	(void)state;
	report_fill(&r);
	r.verified = false;
	strcpy(r.verify_detail, "page 7: \"bad\" \\ sum\n\tend\x01");
	out = capture(report_print_json, &r);
	assert_int_equal(json_check_line(out), 0);
	assert_non_null(strstr(out, "\"verified\":false,"));
	assert_non_null(strstr(out,
		"\"verify_detail\":\"page 7: \\\"bad\\\" \\\\ sum\\n\\tend\\u0001\"}"));
	free(out);
}

static void test_json_edge(void **state)
{
	struct report r;
	char *out;

	(void)state;
	/* Fields filled to the brim, no NUL; a NaN from a division by 0. */
	report_fill(&r);
	memset(r.engine, 'k', sizeof(r.engine));
	memset(r.verify_detail, '"', sizeof(r.verify_detail));
	r.bulk_mbps = NAN;
	r.fault_max_us = INFINITY;
	out = capture(report_print_json, &r);
	assert_int_equal(json_check_line(out), 0);
	assert_non_null(strstr(out, "\"engine\":\"kkkkkkkkkkkkkkkk\","));
	assert_non_null(strstr(out, "\"bulk_mbps\":null,"));
	free(out);

	/* All zero: still valid. */
	memset(&r, 0, sizeof(r));
	out = capture(report_print_json, &r);
	assert_int_equal(json_check_line(out), 0);
	free(out);
}

static void test_guest_rate(void **state)
{
	/* ops at start, pause, every page in, self-check; window lengths */
	const uint64_t ops[4] = { 100, 200, 250, 260 };
	const uint64_t ns[3] = { 100000000, 1000000000, 10000000 };
	struct report r;
	char *out;

	(void)state;
	report_fill(&r);
	report_guest_rate(&r, ops, ns);
	out = capture(report_print_json, &r);
	assert_int_equal(json_check_line(out), 0);
	assert_non_null(strstr(out, "\"total_ms\":2048.000,\"guest_rate\":{\"before\":1000.000,"
				    "\"during\":50.000,\"after\":1000.000,\"before_ms\":100.000,"
				    "\"during_ms\":1000.000,\"after_ms\":10.000},"));
	free(out);
	out = capture(report_print_human, &r);
	assert_non_null(strstr(out, "guest ops      before 1000/s (100.0 ms), during 50/s "
				    "(1000.0 ms), after 1000/s (10.0 ms)\n"));
	free(out);

	/* An empty window and a count that went backwards have no rate; a
	 * window without an operation is a rate of 0. */
	report_guest_rate(&r, (const uint64_t[4]){ 100, 90, 90, 95 },
			  (const uint64_t[3]){ 5000000, 0, 1000000 });
	assert_true(isnan(r.guest_rate.before));
	assert_true(isnan(r.guest_rate.during));
	assert_true(r.guest_rate.after == 5000.0);
	report_guest_rate(&r, (const uint64_t[4]){ 7, 7, 7, 7 },
			  (const uint64_t[3]){ 5000000, 1000000, 1000000 });
	assert_true(r.guest_rate.before == 0 && r.guest_rate.during == 0 &&
		    r.guest_rate.after == 0);
	out = capture(report_print_json, &r);
	assert_non_null(strstr(out, "\"guest_rate\":{\"before\":0.000,\"during\":0.000,"));
	free(out);

	/* A guest that counts nothing (Linux): null, and n/a in the summary. */
	report_guest_rate(&r, (const uint64_t[4]){ 0, 0, 0, 0 }, ns);
	out = capture(report_print_json, &r);
	assert_int_equal(json_check_line(out), 0);
	assert_non_null(strstr(out, "\"guest_rate\":{\"before\":null,\"during\":null,"
				    "\"after\":null,\"before_ms\":100.000,"));
	free(out);
	out = capture(report_print_human, &r);
	assert_non_null(strstr(out, "guest ops      before n/a, during n/a, after n/a\n"));
	free(out);
}

static void test_checker_rejects(void **state)
{
	(void)state;
	/* The checker itself must catch what it is there to catch. */
	assert_int_equal(json_check_line("{\"a\":1}\n"), 0);
	assert_int_not_equal(json_check_line("{\"a\":1}"), 0);
	assert_int_not_equal(json_check_line("{\"a\":1\n"), 0);
	assert_int_not_equal(json_check_line("{\"a\":\"x\ny\"}\n"), 0);
	assert_int_not_equal(json_check_line("{\"a\":\"x\"y\"}\n"), 0);
	assert_int_not_equal(json_check_line("{\"a\":nan}\n"), 0);
	assert_int_not_equal(json_check_line("{\"a\":1,}\n"), 0);
	assert_int_not_equal(json_check_line("{\"a\":1}{}\n"), 0);
}

static void test_human(void **state)
{
	struct report r;
	char *out;

	(void)state;
	report_fill(&r);
	out = capture(report_print_human, &r);
	assert_non_null(strstr(out, "downtime"));
	assert_non_null(strstr(out, "1234.568 us"));
	assert_non_null(strstr(out, "pause 100.250, last pages"));
	assert_non_null(strstr(out, "p99 400.000 us"));
	assert_non_null(strstr(out, "bulk 1000.00 MiB"));
	assert_non_null(strstr(out, "verified       yes (all 262144 pages"));
	assert_non_null(strstr(out, "memtouch"));
	free(out);

	/* A newline in the detail stays on the verified line. */
	r.verified = false;
	strcpy(r.verify_detail, "page 9\ndiffers");
	out = capture(report_print_human, &r);
	assert_non_null(strstr(out, "verified       no (page 9 differs)\n"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checker_rejects),
		cmocka_unit_test(test_json_keys),
		cmocka_unit_test(test_json_escape),
		cmocka_unit_test(test_json_edge),
		cmocka_unit_test(test_guest_rate),
		cmocka_unit_test(test_human),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
