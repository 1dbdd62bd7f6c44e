/* kvm/agent.c - console bytes into lines, the agent's lines into what
 * machine_guest_report says (kvm/agent.h). */
#include "kvm/agent.h"

#include <string.h>

#include "lib/clock.h"

void kvm_agent_init(struct kvm_agent *a)
{
	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->lock, NULL);
}

void kvm_agent_destroy(struct kvm_agent *a)
{
	pthread_mutex_destroy(&a->lock);
}

/* "error <text>" after the prefix: the agent says a check failed. */
static bool is_error_line(const char *line)
{
	const char *p = strstr(line, AGENT_PREFIX);

	if (!p)
		return false;
	p += strlen(AGENT_PREFIX);
	return !strncmp(p, "error", 5) && (p[5] == ' ' || !p[5] || p[5] == '\r');
}

/* The first error's text, printable bytes only (it is shown to users). */
static void keep_error(struct machine_guest_report *r, const char *line)
{
	const char *p = strstr(line, AGENT_PREFIX) + strlen(AGENT_PREFIX) + 5;
	size_t n = 0;

	if (r->errors++)
		return;
	while (*p == ' ')
		p++;
	for (; *p && *p != '\r' && n + 1 < sizeof(r->error); p++)
		r->error[n++] = *p >= 0x20 && *p < 0x7f ? *p : '?';
	r->error[n] = 0;
}

static void keep_checks(struct kvm_agent *a, const struct agent_status *s)
{
	struct machine_guest_report *r = &a->r;
	int n = agent_fmt_check(r->checks, sizeof(r->checks), "ram", 1, s->ram_bad);

	agent_fmt_check(r->checks + n, sizeof(r->checks) - (size_t)n, "disk", s->has_disk,
			s->disk_bad);
	memmove(r->checks, r->checks + 1, strlen(r->checks));   /* the leading space */
	a->last_ok = agent_status_ok(s);
	r->ops = s->ops;
	r->max_gap_us = s->max_gap_us;
}

static void line_end(struct kvm_agent *a)
{
	struct machine_guest_report *r = &a->r;
	struct agent_status s;
	enum agent_line kind;

	a->line[a->len] = 0;
	kind = a->overlong || a->nul ? (strstr(a->line, AGENT_PREFIX) ? AGENT_LINE_OTHER
								      : AGENT_LINE_NONE)
				     : agent_parse_line(a->line, &s);
	switch (kind) {
	case AGENT_LINE_NONE:
		return;
	case AGENT_LINE_START:
		r->agent = MACHINE_AGENT_RUNS;
		return;
	case AGENT_LINE_STATUS:
		r->agent = MACHINE_AGENT_RUNS;
		r->status_lines++;
		r->last_ns = pcm_now_ns();
		r->t_ms = s.t_ms;
		if (s.gap_us > r->window_gap_us)
			r->window_gap_us = s.gap_us;
		keep_checks(a, &s);
		return;
	case AGENT_LINE_DONE:
		r->agent = MACHINE_AGENT_DONE;
		keep_checks(a, &s);
		return;
	case AGENT_LINE_OTHER:
		if (a->overlong || a->nul || !is_error_line(a->line)) {
			r->garbled++;
			return;
		}
		if (r->agent == MACHINE_AGENT_NONE)
			r->agent = MACHINE_AGENT_RUNS;
		keep_error(r, a->line);
		return;
	}
}

static void byte_locked(struct kvm_agent *a, uint8_t c)
{
	if (c == '\n') {
		line_end(a);
		a->len = 0;
		a->overlong = a->nul = false;
		return;
	}
	if (a->len == AGENT_LINE_MAX) {
		a->overlong = true;
		return;
	}
	a->nul |= c == 0;
	a->line[a->len++] = (char)c;
}

void kvm_agent_byte(void *ctx, uint8_t c)
{
	struct kvm_agent *a = ctx;

	pthread_mutex_lock(&a->lock);
	byte_locked(a, c);
	pthread_mutex_unlock(&a->lock);
}

void kvm_agent_feed(struct kvm_agent *a, const void *buf, size_t n)
{
	const uint8_t *p = buf;

	pthread_mutex_lock(&a->lock);
	for (size_t i = 0; i < n; i++)
		byte_locked(a, p[i]);
	pthread_mutex_unlock(&a->lock);
}

void kvm_agent_report(struct kvm_agent *a, struct machine_guest_report *r)
{
	pthread_mutex_lock(&a->lock);
	*r = a->r;
	r->checks_ok = a->last_ok && !r->errors &&
		       (r->status_lines || r->agent == MACHINE_AGENT_DONE);
	pthread_mutex_unlock(&a->lock);
}

void kvm_agent_window_reset(struct kvm_agent *a)
{
	pthread_mutex_lock(&a->lock);
	a->r.window_gap_us = 0;
	pthread_mutex_unlock(&a->lock);
}
