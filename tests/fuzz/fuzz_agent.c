/* tests/fuzz/fuzz_agent.c - libFuzzer target: a Linux guest's console
 * bytes are outside input to the VMM's agent reader (kvm/agent.c) and the
 * destination's verdict on them (postcopy/agentcheck.c).
 *
 * Input byte 0 says where to cut the rest in two (as a migration cuts the
 * console: the reader gets both parts one after the other); the rest is
 * what the guest transmits. Promises: the report is the same whole or cut
 * anywhere; it counts exactly the status, error and done lines an
 * independent split of the bytes into lines finds with agent_parse_line
 * (lines no longer than AGENT_LINE_MAX, no NUL); its strings end inside
 * their fields and the error text is printable; checks_ok only with a
 * status or done line and no error line; the verdict's detail ends
 * inside a DONE's verify_detail (160 bytes) and says verified exactly
 * when checks_ok.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kvm/agent.h"
#include "postcopy/agentcheck.h"
#include "tests/fuzz/fuzz_check.h"

struct fza_count {
	uint64_t status, errors, done;
};

/* The oracle: lines cut here, each parsed alone. */
static void fza_count(const uint8_t *p, size_t n, struct fza_count *c)
{
	char line[AGENT_LINE_MAX + 1];
	struct agent_status s;
	size_t start = 0;

	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < n; i++) {
		size_t len = i - start;
		const char *q;

		if (p[i] != '\n')
			continue;
		if (len <= AGENT_LINE_MAX && !memchr(p + start, 0, len)) {
			memcpy(line, p + start, len);
			line[len] = 0;
			switch (agent_parse_line(line, &s)) {
			case AGENT_LINE_STATUS:
				c->status++;
				break;
			case AGENT_LINE_DONE:
				c->done++;
				break;
			case AGENT_LINE_OTHER:
				q = strstr(line, AGENT_PREFIX) + strlen(AGENT_PREFIX);
				c->errors += !strncmp(q, "error", 5) &&
					     (q[5] == ' ' || !q[5] || q[5] == '\r');
				break;
			default:
				break;
			}
		}
		start = i + 1;
	}
}

static void fza_report(const uint8_t *p, size_t n, size_t cut, struct machine_guest_report *r)
{
	struct kvm_agent a;

	kvm_agent_init(&a);
	kvm_agent_feed(&a, p, cut);
	kvm_agent_feed(&a, p + cut, n - cut);
	kvm_agent_report(&a, r);
	kvm_agent_destroy(&a);
}

static void fza_same(const struct machine_guest_report *a, const struct machine_guest_report *b)
{
	FZ_CHECK(a->agent == b->agent && a->status_lines == b->status_lines);
	FZ_CHECK(a->t_ms == b->t_ms && a->ops == b->ops && a->max_gap_us == b->max_gap_us);
	FZ_CHECK(a->window_gap_us == b->window_gap_us && a->errors == b->errors);
	FZ_CHECK(a->garbled == b->garbled && a->checks_ok == b->checks_ok);
	FZ_CHECK(!strcmp(a->checks, b->checks) && !strcmp(a->error, b->error));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct machine_guest_report whole, cut;
	struct fza_count c;
	char detail[160];
	uint64_t stall;
	bool ok;

	if (size < 1)
		return 0;
	fza_report(data + 1, size - 1, 0, &whole);
	fza_report(data + 1, size - 1, (size - 1) * data[0] / 255, &cut);
	fza_same(&whole, &cut);

	fza_count(data + 1, size - 1, &c);
	FZ_CHECK(whole.status_lines == c.status && whole.errors == c.errors);
	FZ_CHECK(whole.agent != MACHINE_AGENT_DONE || c.done);
	FZ_CHECK(memchr(whole.checks, 0, sizeof(whole.checks)));
	FZ_CHECK(memchr(whole.error, 0, sizeof(whole.error)));
	for (const char *e = whole.error; *e; e++)
		FZ_CHECK(*e >= 0x20 && *e < 0x7f);
	FZ_CHECK(!whole.checks_ok || (!whole.errors && (whole.status_lines || c.done)));
	if (whole.agent == MACHINE_AGENT_NONE) {
		FZ_CHECK(!whole.status_lines && !whole.errors && !c.done);
		return 0;
	}
	memset(detail, 'z', sizeof(detail));
	ok = pm_agent_verdict(&whole, detail, sizeof(detail), &stall);
	FZ_CHECK(memchr(detail, 0, sizeof(detail)));
	FZ_CHECK(ok == (bool)whole.checks_ok);
	FZ_CHECK(stall == (whole.window_gap_us > UINT64_MAX / 1000 ? UINT64_MAX
								  : whole.window_gap_us * 1000));
	return 0;
}
