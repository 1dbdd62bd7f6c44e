/* tests/unit/test_agent_parse.c - the VMM's reader of a Linux guest's
 * agent lines (kvm/agent.c): console bytes written to the 16550A model's
 * THR as a guest would, tapped into the reader; lines cut, CRs, kernel
 * lines between, garbage, overlong lines, NULs, error and BAD lines, the
 * stall window; and the destination's verdict from what it read
 * (postcopy/agentcheck.c). The agent's own format and parser are
 * tests/unit/test_agent.c's. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "kvm/agent.h"
#include "kvm/dev/uart.h"
#include "postcopy/agentcheck.h"

struct rig {
	struct uart u;
	struct kvm_agent a;
	int fd[2];            /* the console: what the guest printed */
};

static int rig_setup(void **state)
{
	struct rig *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	assert_int_equal(pipe2(r->fd, O_CLOEXEC), 0);
	assert_int_equal(fcntl(r->fd[0], F_SETFL, O_NONBLOCK), 0);
	uart_init(&r->u, r->fd[1]);
	kvm_agent_init(&r->a);
	uart_set_tap(&r->u, kvm_agent_byte, &r->a);
	*state = r;
	return 0;
}

static int rig_teardown(void **state)
{
	struct rig *r = *state;

	uart_destroy(&r->u);
	kvm_agent_destroy(&r->a);
	close(r->fd[0]);
	close(r->fd[1]);
	free(r);
	return 0;
}

/* The guest's console output, byte by byte through THR (offset 0). */
static void guest_print(struct rig *r, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		uart_out(&r->u, 0, (uint8_t)s[i]);
}

static void guest_puts(struct rig *r, const char *s)
{
	guest_print(r, s, strlen(s));
}

static struct machine_guest_report report(struct rig *r)
{
	struct machine_guest_report g;

	kvm_agent_report(&r->a, &g);
	return g;
}

static void test_no_agent(void **state)
{
	struct rig *r = *state;
	struct machine_guest_report g;

	guest_puts(r, "[    0.000000] Linux version 6.1.0\r\n");
	guest_puts(r, "PCM-L2: tick 5\r\n");
	guest_puts(r, "no newline yet PCM-AGENT: t=1 ops=1");   /* not ended */
	g = report(r);
	assert_int_equal(g.agent, MACHINE_AGENT_NONE);
	assert_int_equal(g.status_lines, 0);
	assert_int_equal(g.garbled, 0);
	assert_false(g.checks_ok);
	/* loopback (MCR bit 4) keeps the bytes: nothing was transmitted */
	guest_puts(r, "\n");
	uart_out(&r->u, 4, 0x10);
	guest_puts(r, "PCM-AGENT: start mem_mib=64\n");
	uart_out(&r->u, 4, 0);
	assert_int_equal(report(r).agent, MACHINE_AGENT_NONE);
	guest_puts(r, "PCM-AGENT: start mem_mib=64\n");
	assert_int_equal(report(r).agent, MACHINE_AGENT_RUNS);
}

static void test_status_lines(void **state)
{
	struct rig *r = *state;
	struct machine_guest_report g;
	char con[1024];
	const char *l1 = "PCM-AGENT: start mem_mib=64 disk=none blocks=0 direct=0 period_ms=100\r\n";
	const char *l2 = "PCM-AGENT: t=100 ops=500 max_gap_us=700 gap_us=300 ram=ok disk=none\r\n";
	const char *l3 = "PCM-AGENT: t=200 ops=900 max_gap_us=4100 gap_us=4100 ram=ok disk=ok\r\n";
	const char *l4 = "PCM-AGENT: t=300 ops=1300 max_gap_us=4100 gap_us=250 ram=ok disk=ok\r\n";
	ssize_t n;

	guest_puts(r, l1);
	g = report(r);
	assert_int_equal(g.agent, MACHINE_AGENT_RUNS);
	assert_int_equal(g.status_lines, 0);
	assert_false(g.checks_ok);   /* nothing checked yet */
	guest_puts(r, l2);
	guest_puts(r, l3);
	guest_puts(r, l4);
	g = report(r);
	assert_int_equal(g.status_lines, 3);
	assert_int_equal(g.t_ms, 300);
	assert_int_equal(g.ops, 1300);
	assert_int_equal(g.max_gap_us, 4100);
	assert_int_equal(g.window_gap_us, 4100);
	assert_true(g.checks_ok);
	assert_string_equal(g.checks, "ram=ok disk=ok");
	assert_true(g.last_ns > 0);
	/* the console got every byte, unchanged */
	n = read(r->fd[0], con, sizeof(con) - 1);
	assert_true(n > 0);
	con[n] = 0;
	assert_int_equal((size_t)n, strlen(l1) + strlen(l2) + strlen(l3) + strlen(l4));
	assert_non_null(strstr(con, "t=200 ops=900"));
}

/* The console is one byte stream across a migration: the destination
 * hears a line's tail first, which is no line; the next is whole. */
static void test_cut_line(void **state)
{
	struct rig *r = *state;
	struct machine_guest_report g;

	guest_puts(r, "_gap_us=9 gap_us=9 ram=BAD(3) disk=none\r\n");
	guest_puts(r, "ENT: t=150 ops=7 max_gap_us=1 gap_us=1 ram=BAD(4) disk=none\r\n");
	g = report(r);
	assert_int_equal(g.agent, MACHINE_AGENT_NONE);
	guest_puts(r, "PCM-AGENT: t=250 ops=700 max_gap_us=90000 gap_us=90000 ram=ok disk=none\r\n");
	g = report(r);
	assert_int_equal(g.status_lines, 1);
	assert_int_equal(g.window_gap_us, 90000);
	assert_true(g.checks_ok);
	/* what precedes the prefix is skipped, as a console's remains */
	guest_puts(r, "s=none\rPCM-AGENT: t=360 ops=900 max_gap_us=90000 gap_us=5 ram=ok disk=none\n");
	g = report(r);
	assert_int_equal(g.status_lines, 2);
	assert_int_equal(g.t_ms, 360);
	/* a line's head, then a whole line in the same one: the first
	 * prefix counts, and its words do not parse */
	guest_puts(r, "PCM-AGENT: t=450 ops=8PCM-AGENT: t=460 ops=900 max_gap_us=90000 gap_us=5 "
		      "ram=ok disk=none\n");
	g = report(r);
	assert_int_equal(g.status_lines, 2);
	assert_int_equal(g.garbled, 1);
}

/* The kernel's lines between the agent's, CRs alone, LF without CR. */
static void test_interleaved(void **state)
{
	struct rig *r = *state;
	struct machine_guest_report g;

	guest_puts(r, "\r\r\n[   12.5] random: crng init done\r\n");
	guest_puts(r, "PCM-AGENT: t=10 ops=1 max_gap_us=2 gap_us=2 ram=ok disk=none\n");
	guest_puts(r, "\r[   13.1] virtio_blk virtio1: [vda] 16384 512-byte sectors\n");
	guest_puts(r, "\rPCM-AGENT: t=20 ops=2 max_gap_us=3 gap_us=3 ram=ok disk=none\r\r\n");
	g = report(r);
	assert_int_equal(g.status_lines, 2);
	assert_int_equal(g.t_ms, 20);
	assert_int_equal(g.garbled, 0);
	/* a kernel message landing inside the agent's line garbles it */
	guest_puts(r, "PCM-AGENT: t=30 ops=3 max_g[   14.0] kernel says hello\r\n");
	g = report(r);
	assert_int_equal(g.status_lines, 2);
	assert_int_equal(g.garbled, 1);
	assert_true(g.checks_ok);   /* garbage is no verdict */
}

static void test_overlong_and_nul(void **state)
{
	struct rig *r = *state;
	struct machine_guest_report g;
	char big[3 * AGENT_LINE_MAX];
	const char good[] = "PCM-AGENT: t=40 ops=4 max_gap_us=5 gap_us=5 ram=ok disk=none";
	const char nul[] = "PCM-AGENT: t=41 ops=4 max_gap_us=5 gap_us=5 ram=ok disk=none\0x\n";

	/* a valid line padded past what the agent ever writes: dropped whole */
	memset(big, ' ', sizeof(big));
	memcpy(big, good, strlen(good));
	big[sizeof(big) - 1] = '\n';
	guest_print(r, big, sizeof(big));
	g = report(r);
	assert_int_equal(g.status_lines, 0);
	assert_int_equal(g.garbled, 1);
	/* noise without a prefix, as long: not even garbled */
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\n';
	guest_print(r, big, sizeof(big));
	assert_int_equal(report(r).garbled, 1);
	/* a NUL: the line would parse up to it, and is refused */
	guest_print(r, nul, sizeof(nul) - 1);
	g = report(r);
	assert_int_equal(g.status_lines, 0);
	assert_int_equal(g.garbled, 2);
	/* the reader is back in step at once */
	guest_puts(r, "PCM-AGENT: t=42 ops=4 max_gap_us=5 gap_us=5 ram=ok disk=none\n");
	g = report(r);
	assert_int_equal(g.status_lines, 1);
	assert_int_equal(g.t_ms, 42);
	/* exactly AGENT_LINE_MAX bytes before the newline still is a line */
	memset(big, ' ', AGENT_LINE_MAX);
	memcpy(big, good, strlen(good));
	big[AGENT_LINE_MAX] = '\n';
	guest_print(r, big, AGENT_LINE_MAX + 1);
	assert_int_equal(report(r).status_lines, 2);
}

static void test_bad_and_error(void **state)
{
	struct rig *r = *state;
	struct machine_guest_report g;

	guest_puts(r, "PCM-AGENT: t=10 ops=1 max_gap_us=2 gap_us=2 ram=ok disk=ok\n");
	guest_puts(r, "PCM-AGENT: error page 12: word 3 is 0x1\x07\x1b[0m, not 0x2\r\n");
	g = report(r);
	assert_int_equal(g.errors, 1);
	assert_false(g.checks_ok);   /* an error line stands, whatever follows */
	assert_string_equal(g.error, "page 12: word 3 is 0x1??[0m, not 0x2");
	guest_puts(r, "PCM-AGENT: t=20 ops=2 max_gap_us=2 gap_us=2 ram=BAD(12) disk=ok\n");
	guest_puts(r, "PCM-AGENT: error a second one\n");
	g = report(r);
	assert_int_equal(g.errors, 2);
	assert_string_equal(g.error, "page 12: word 3 is 0x1??[0m, not 0x2");   /* the first */
	assert_string_equal(g.checks, "ram=BAD(12) disk=ok");
	assert_false(g.checks_ok);
	/* "errors" is not an error line */
	guest_puts(r, "PCM-AGENT: errorless\n");
	assert_int_equal(report(r).errors, 2);
	assert_int_equal(report(r).garbled, 1);
}

static void test_bad_disk_widest(void **state)
{
	struct rig *r = *state;
	struct machine_guest_report g;

	guest_puts(r, "PCM-AGENT: t=1 ops=1 max_gap_us=1 gap_us=1 ram=BAD(9223372036854775807) "
		      "disk=BAD(9223372036854775807)\n");
	g = report(r);
	assert_int_equal(g.status_lines, 1);
	assert_false(g.checks_ok);
	assert_string_equal(g.checks, "ram=BAD(9223372036854775807) disk=BAD(9223372036854775807)");
}

static void test_done_and_window(void **state)
{
	struct rig *r = *state;
	struct machine_guest_report g;

	guest_puts(r, "PCM-AGENT: t=100 ops=1 max_gap_us=800000 gap_us=800000 ram=ok disk=none\n");
	assert_int_equal(report(r).window_gap_us, 800000);   /* the boot's long gap */
	kvm_agent_window_reset(&r->a);                        /* the move begins */
	assert_int_equal(report(r).window_gap_us, 0);
	guest_puts(r, "PCM-AGENT: t=200 ops=2 max_gap_us=800000 gap_us=1200 ram=ok disk=none\n");
	guest_puts(r, "PCM-AGENT: t=300 ops=3 max_gap_us=800000 gap_us=35000 ram=ok disk=none\n");
	guest_puts(r, "PCM-AGENT: t=400 ops=4 max_gap_us=800000 gap_us=900 ram=ok disk=none\n");
	g = report(r);
	assert_int_equal(g.window_gap_us, 35000);
	assert_int_equal(g.max_gap_us, 800000);
	guest_puts(r, "PCM-AGENT: done ops=5 max_gap_us=800000 ram=ok disk=none\n");
	g = report(r);
	assert_int_equal(g.agent, MACHINE_AGENT_DONE);
	assert_int_equal(g.ops, 5);
	assert_int_equal(g.t_ms, 400);   /* the last status line's */
	assert_true(g.checks_ok);
}

/* Whatever chunks the bytes come in, the same report. */
static void test_chunking(void **state)
{
	static const char s[] =
		"junk\r\nPCM-AGENT: start mem_mib=8\r\n"
		"PCM-AGENT: t=5 ops=9 max_gap_us=7 gap_us=7 ram=ok disk=none\r\n"
		"PCM-AGENT: error x\r\nPCM-AGENT: t=6 ops=10 max_gap_us=7 gap_us=3 ram=ok disk=none\r\n"
		"PCM-AGENT: t=bad\r\nPCM-AGENT: done ops=11 max_gap_us=7 ram=ok disk=none\r\n";
	struct machine_guest_report whole, g;
	struct kvm_agent b;

	(void)state;
	kvm_agent_init(&b);
	kvm_agent_feed(&b, s, sizeof(s) - 1);
	kvm_agent_report(&b, &whole);
	kvm_agent_destroy(&b);
	assert_int_equal(whole.agent, MACHINE_AGENT_DONE);
	assert_int_equal(whole.status_lines, 2);
	assert_int_equal(whole.errors, 1);
	assert_int_equal(whole.garbled, 1);
	for (size_t cut = 0; cut < sizeof(s); cut += 7) {
		kvm_agent_init(&b);
		kvm_agent_feed(&b, s, cut);
		kvm_agent_feed(&b, s + cut, sizeof(s) - 1 - cut);
		kvm_agent_report(&b, &g);
		kvm_agent_destroy(&b);
		assert_int_equal(g.agent, whole.agent);
		assert_int_equal(g.status_lines, whole.status_lines);
		assert_int_equal(g.t_ms, whole.t_ms);
		assert_int_equal(g.ops, whole.ops);
		assert_int_equal(g.max_gap_us, whole.max_gap_us);
		assert_int_equal(g.window_gap_us, whole.window_gap_us);
		assert_int_equal(g.errors, whole.errors);
		assert_int_equal(g.garbled, whole.garbled);
		assert_int_equal(g.checks_ok, whole.checks_ok);
		assert_string_equal(g.checks, whole.checks);
		assert_string_equal(g.error, whole.error);
	}
}

/* A vCPU thread prints while another thread reads reports: every report
 * is one line's whole (t and ops of the same line), never going back. */
#define RACE_LINES 2000

static void *race_writer(void *arg)
{
	struct rig *r = arg;
	char line[AGENT_LINE_MAX];

	for (unsigned i = 1; i <= RACE_LINES; i++) {
		snprintf(line, sizeof(line),
			 "PCM-AGENT: t=%u ops=%u max_gap_us=%u gap_us=%u ram=ok disk=none\r\n", i, i,
			 i, i);
		guest_puts(r, line);
	}
	return NULL;
}

static void test_concurrent_report(void **state)
{
	struct rig *r = *state;
	struct machine_guest_report g;
	uint64_t seen = 0;
	pthread_t th;
	char drain[4096];

	assert_int_equal(fcntl(r->fd[1], F_SETFL, O_NONBLOCK), 0);   /* drops, never blocks */
	assert_int_equal(pthread_create(&th, NULL, race_writer, r), 0);
	do {
		g = report(r);
		assert_true(g.status_lines >= seen);
		seen = g.status_lines;
		assert_int_equal(g.t_ms, g.ops);
		assert_int_equal(g.t_ms, g.status_lines);
		assert_int_equal(g.window_gap_us, g.t_ms);
		while (read(r->fd[0], drain, sizeof(drain)) > 0)
			;
	} while (seen < RACE_LINES);
	pthread_join(th, NULL);
	assert_int_equal(report(r).status_lines, RACE_LINES);
}

/* ------------------------------------------------ the destination's word -- */

static struct machine_guest_report fed(const char *s)
{
	struct machine_guest_report g;
	struct kvm_agent a;

	kvm_agent_init(&a);
	kvm_agent_feed(&a, s, strlen(s));
	kvm_agent_report(&a, &g);
	kvm_agent_destroy(&a);
	return g;
}

static void test_verdict(void **state)
{
	struct machine_guest_report g;
	char d[160];
	uint64_t stall = 1;

	(void)state;
	g = fed("PCM-AGENT: t=5100 ops=88000 max_gap_us=91000 gap_us=41000 ram=ok disk=ok\n"
		"PCM-AGENT: t=5200 ops=89000 max_gap_us=91000 gap_us=300 ram=ok disk=ok\n");
	assert_true(pm_agent_verdict(&g, d, sizeof(d), &stall));
	assert_string_equal(d, "agent: t=5200ms ops=89000 checks ok since the move (ram=ok disk=ok)");
	assert_int_equal(stall, 41000ull * 1000);   /* the window's, not max_gap_us */

	g = fed("PCM-AGENT: t=5100 ops=1 max_gap_us=9 gap_us=9 ram=BAD(77) disk=none\n");
	assert_false(pm_agent_verdict(&g, d, sizeof(d), &stall));
	assert_string_equal(d, "agent: t=5100ms ops=1 checks FAILED since the move (ram=BAD(77) disk=none)");

	g = fed("PCM-AGENT: error read block 3: Input/output error\n"
		"PCM-AGENT: t=5100 ops=1 max_gap_us=9 gap_us=9 ram=ok disk=ok\n");
	assert_false(pm_agent_verdict(&g, d, sizeof(d), &stall));
	assert_non_null(strstr(d, "checks FAILED"));
	assert_non_null(strstr(d, "; error: read block 3: Input/output error"));

	/* an agent seen (its start, an error) but no status line here */
	g = fed("PCM-AGENT: start mem_mib=64\n");
	assert_false(pm_agent_verdict(&g, d, sizeof(d), &stall));
	assert_string_equal(d, "agent: no status line here within 2 s of the move");
	assert_int_equal(stall, 0);

	/* only the done line came here: verified, the stall not measured */
	g = fed("PCM-AGENT: done ops=9 max_gap_us=9 ram=ok disk=none\n");
	assert_true(pm_agent_verdict(&g, d, sizeof(d), &stall));
	assert_string_equal(d, "agent: done ops=9 checks ok since the move (ram=ok disk=none)");
	assert_int_equal(stall, 0);

	/* the widest detail still ends in a NUL inside the report's field */
	g = fed("PCM-AGENT: error xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
		"PCM-AGENT: t=18446744073709551615 ops=18446744073709551615 max_gap_us=1 gap_us=1 "
		"ram=BAD(9223372036854775807) disk=BAD(9223372036854775807)\n");
	memset(d, 'z', sizeof(d));
	assert_false(pm_agent_verdict(&g, d, sizeof(d), &stall));
	assert_true(strnlen(d, sizeof(d)) < sizeof(d));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_agent, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_status_lines, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_cut_line, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_interleaved, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_overlong_and_nul, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_bad_and_error, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_bad_disk_widest, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_done_and_window, rig_setup, rig_teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_report, rig_setup, rig_teardown),
		cmocka_unit_test(test_chunking),
		cmocka_unit_test(test_verdict),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
