/* postcopy/report.c - the numbers a migration reports.
 *
 * The JSON keys are an interface: users script against them, so a key is
 * never renamed or dropped, and the object is always one line.
 */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "postcopy/proto.h"
#include "postcopy/report.h"

/* The guest-visible stall is the payload workload's own record, or a
 * Linux guest's agent's (dest.c); a Linux guest without an agent keeps
 * none, and its 0 would read as "no stall" (a move's gap never is 0). */
static bool report_stall_known(const struct report *r)
{
	return strcmp(r->workload, "linux") != 0 || r->max_stall_us > 0;
}

#define MIB (1024.0 * 1024.0)

static double mib(uint64_t bytes)
{
	return (double)bytes / MIB;
}

/* The char arrays may be filled by strncpy or from the wire: never read
 * past their end even without a NUL. */
#define FIELD_LEN(a) ((int)strnlen((a), sizeof(a)))

static void human_header(FILE *f, const struct report *r)
{
	fprintf(f, "%.*s migration: engine %.*s, workload %.*s, "
		"%.1f MiB RAM, %u vCPU%s\n",
		FIELD_LEN(r->mode), r->mode, FIELD_LEN(r->engine), r->engine,
		FIELD_LEN(r->workload), r->workload, mib(r->ram_bytes),
		r->vcpus, r->vcpus == 1 ? "" : "s");
}

static void human_times(FILE *f, const struct report *r)
{
	fprintf(f, "  setup          %.3f ms\n", r->setup_ms);
	if (r->precopy_rounds || r->precopy_ms > 0) {
		fprintf(f, "  pre-copy       %.3f ms, %u round%s, %.*s; %" PRIu64
			" pages sent while paused\n", r->precopy_ms, r->precopy_rounds,
			r->precopy_rounds == 1 ? "" : "s", FIELD_LEN(r->precopy_stop),
			r->precopy_stop, r->final_pages);
		for (unsigned i = 0; i < r->nrounds && i < REPORT_ROUNDS; i++)
			fprintf(f, "    round %-3u    %" PRIu64 " pages, %.2f MiB, %.3f ms\n", i + 1,
				r->round[i].pages, mib(r->round[i].bytes), r->round[i].ms);
	}
	fprintf(f, "  downtime       %.3f us (pause %.3f, last pages %.3f, save %.3f, transfer %.3f, "
		"restore %.3f us)\n", r->downtime_us, r->pause_us, r->final_us, r->save_us,
		r->transfer_us, r->restore_us);
	if (report_stall_known(r))
		fprintf(f, "  max stall      %.3f us\n", r->max_stall_us);
	else
		fputs("  max stall      n/a (no agent in the Linux guest measured it)\n", f);
	fprintf(f, "  total          %.3f ms\n", r->total_ms);
}

static void human_rate(FILE *f, const char *name, double rate, double ms, const char *sep)
{
	if (isfinite(rate))
		fprintf(f, "%s %.0f/s (%.1f ms)%s", name, rate, ms, sep);
	else
		fprintf(f, "%s n/a%s", name, sep);
}

static void human_guest_rate(FILE *f, const struct report *r)
{
	fputs("  guest ops      ", f);
	human_rate(f, "before", r->guest_rate.before, r->guest_rate.before_ms, ", ");
	human_rate(f, "during", r->guest_rate.during, r->guest_rate.during_ms, ", ");
	human_rate(f, "after", r->guest_rate.after, r->guest_rate.after_ms, "\n");
}

static void human_traffic(FILE *f, const struct report *r)
{
	uint64_t all = r->bytes_control + r->bytes_urgent + r->bytes_bulk;
	uint64_t kinds = r->pages_pushed + r->pages_requested + r->pages_zero +
			 r->pages_precopied;

	fprintf(f, "  bytes          control %.2f MiB, urgent %.2f MiB, "
		"bulk %.2f MiB, total %.2f MiB\n",
		mib(r->bytes_control), mib(r->bytes_urgent),
		mib(r->bytes_bulk), mib(all));
	fprintf(f, "  pages          pushed %" PRIu64 ", requested %" PRIu64
		", zero %" PRIu64 ", pre-copied %" PRIu64 " = %" PRIu64
		" of %" PRIu64 "; re-sent %" PRIu64 "\n",
		r->pages_pushed, r->pages_requested, r->pages_zero,
		r->pages_precopied, kinds, r->pages_total, r->pages_resent);
	fprintf(f, "  bulk rate      %.1f MB/s\n", r->bulk_mbps);
	fprintf(f, "  state          %" PRIu64 " bytes\n", r->state_bytes);
	fprintf(f, "  dest overhead  %.2f MiB\n", mib(r->dest_overhead_bytes));
}

static void human_faults(FILE *f, const struct report *r)
{
	fprintf(f, "  remote faults  %" PRIu64 "\n", r->remote_faults);
	fprintf(f, "  fault latency  p50 %.3f us, p90 %.3f us, p99 %.3f us, "
		"max %.3f us\n", r->fault_p50_us, r->fault_p90_us,
		r->fault_p99_us, r->fault_max_us);
	fprintf(f, "  blocktime      %.3f us\n", r->blocktime_us);
	fprintf(f, "  encryption     %s\n", r->cipher[0] ? r->cipher : "none");
	fprintf(f, "  link pauses    %u (%.1f ms in all, longest %.1f ms)\n", r->link_pauses,
		r->link_paused_ms, r->link_longest_ms);
}

/* The detail may quote guest data or an error: a control character in
 * it must not break the summary's one-line-per-item layout. */
static void human_detail(FILE *f, const char *s, size_t cap)
{
	size_t i;

	for (i = 0; i < cap && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		fputc(c < 0x20 || c == 0x7f ? ' ' : c, f);
	}
}

void report_print_human(FILE *f, const struct report *r)
{
	human_header(f, r);
	human_times(f, r);
	human_guest_rate(f, r);
	human_traffic(f, r);
	human_faults(f, r);
	fprintf(f, "  verified       %s", r->verified ? "yes" : "no");
	if (FIELD_LEN(r->verify_detail)) {
		fputs(" (", f);
		human_detail(f, r->verify_detail, sizeof(r->verify_detail));
		fputc(')', f);
	}
	fputc('\n', f);
}

static void json_str(FILE *f, const char *s, size_t cap)
{
	size_t i;

	fputc('"', f);
	for (i = 0; i < cap && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '"':  fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		case '\b': fputs("\\b", f); break;
		case '\f': fputs("\\f", f); break;
		default:
			if (c < 0x20 || c == 0x7f)
				fprintf(f, "\\u%04x", c);
			else
				fputc(c, f);
		}
	}
	fputc('"', f);
}

/* JSON has no NaN or infinity: a value that is not a number is null. */
static void json_num(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, "%.3f", v);
	else
		fputs("null", f);
}

#define JSON_STR(f, sep, key, a) \
	(fputs(sep "\"" key "\":", f), json_str(f, a, sizeof(a)))
#define JSON_DBL(f, sep, key, v) \
	(fputs(sep "\"" key "\":", f), json_num(f, v))
#define JSON_U64(f, sep, key, v) \
	fprintf(f, sep "\"" key "\":%" PRIu64, (uint64_t)(v))

static void json_run(FILE *f, const struct report *r)
{
	JSON_STR(f, "", "mode", r->mode);
	JSON_STR(f, ",", "engine", r->engine);
	JSON_STR(f, ",", "workload", r->workload);
	JSON_U64(f, ",", "ram_bytes", r->ram_bytes);
	JSON_U64(f, ",", "vcpus", r->vcpus);
	JSON_DBL(f, ",", "setup_ms", r->setup_ms);
	JSON_DBL(f, ",", "precopy_ms", r->precopy_ms);
	JSON_U64(f, ",", "precopy_rounds", r->precopy_rounds);
	fprintf(f, ",\"precopy\":{\"converged\":%s", r->precopy_converged ? "true" : "false");
	JSON_STR(f, ",", "stop", r->precopy_stop);
	JSON_U64(f, ",", "final_pages", r->final_pages);
	fputs(",\"rounds\":[", f);
	for (unsigned i = 0; i < r->nrounds && i < REPORT_ROUNDS; i++) {
		fputs(i ? ",{" : "{", f);
		JSON_U64(f, "", "pages", r->round[i].pages);
		JSON_U64(f, ",", "bytes", r->round[i].bytes);
		JSON_DBL(f, ",", "ms", r->round[i].ms);
		fputc('}', f);
	}
	fputs("]}", f);
	JSON_DBL(f, ",", "downtime_us", r->downtime_us);
	JSON_DBL(f, ",", "pause_us", r->pause_us);
	JSON_DBL(f, ",", "final_us", r->final_us);
	JSON_DBL(f, ",", "save_us", r->save_us);
	JSON_DBL(f, ",", "transfer_us", r->transfer_us);
	JSON_DBL(f, ",", "restore_us", r->restore_us);
	if (report_stall_known(r))
		JSON_DBL(f, ",", "max_stall_us", r->max_stall_us);
	else
		fputs(",\"max_stall_us\":null", f);
	JSON_DBL(f, ",", "total_ms", r->total_ms);
	JSON_DBL(f, ",\"guest_rate\":{", "before", r->guest_rate.before);
	JSON_DBL(f, ",", "during", r->guest_rate.during);
	JSON_DBL(f, ",", "after", r->guest_rate.after);
	JSON_DBL(f, ",", "before_ms", r->guest_rate.before_ms);
	JSON_DBL(f, ",", "during_ms", r->guest_rate.during_ms);
	JSON_DBL(f, ",", "after_ms", r->guest_rate.after_ms);
	fputc('}', f);
}

static void json_traffic(FILE *f, const struct report *r)
{
	JSON_U64(f, ",\"bytes\":{", "control", r->bytes_control);
	JSON_U64(f, ",", "urgent", r->bytes_urgent);
	JSON_U64(f, ",", "bulk", r->bytes_bulk);
	JSON_U64(f, "},\"pages\":{", "pushed", r->pages_pushed);
	JSON_U64(f, ",", "requested", r->pages_requested);
	JSON_U64(f, ",", "zero", r->pages_zero);
	JSON_U64(f, ",", "precopied", r->pages_precopied);
	JSON_U64(f, ",", "resent", r->pages_resent);
	JSON_U64(f, ",", "total", r->pages_total);
	fputc('}', f);
}

static void json_faults(FILE *f, const struct report *r)
{
	JSON_U64(f, ",", "remote_faults", r->remote_faults);
	JSON_DBL(f, ",\"fault_latency_us\":{", "p50", r->fault_p50_us);
	JSON_DBL(f, ",", "p90", r->fault_p90_us);
	JSON_DBL(f, ",", "p99", r->fault_p99_us);
	JSON_DBL(f, ",", "max", r->fault_max_us);
	fputc('}', f);
	JSON_DBL(f, ",", "blocktime_us", r->blocktime_us);
	JSON_STR(f, ",", "cipher", r->cipher);
	JSON_U64(f, ",\"link\":{", "pauses", r->link_pauses);
	JSON_DBL(f, ",", "paused_ms", r->link_paused_ms);
	JSON_DBL(f, ",", "longest_ms", r->link_longest_ms);
	fputc('}', f);
}

/* Operations per second from a to b over ns; NAN where there is nothing
 * to divide (an empty window, a count that went backwards: not the same
 * guest's counter). A guest that did nothing in the window ran at 0. */
static double per_s(uint64_t a, uint64_t b, uint64_t ns)
{
	return ns && b >= a ? (b - a) / (ns / 1e9) : NAN;
}

void report_guest_rate(struct report *r, const uint64_t ops[4], const uint64_t ns[3])
{
	/* A guest that never counted (a Linux guest keeps no count) has no
	 * rate, not a rate of 0. */
	bool counts = ops[3] != 0;

	r->guest_rate.before = counts ? per_s(ops[0], ops[1], ns[0]) : NAN;
	r->guest_rate.during = counts ? per_s(ops[1], ops[2], ns[1]) : NAN;
	r->guest_rate.after = counts ? per_s(ops[2], ops[3], ns[2]) : NAN;
	r->guest_rate.before_ms = ns[0] / 1e6;
	r->guest_rate.during_ms = ns[1] / 1e6;
	r->guest_rate.after_ms = ns[2] / 1e6;
}

void report_print_json(FILE *f, const struct report *r)
{
	fputc('{', f);
	json_run(f, r);
	json_traffic(f, r);
	json_faults(f, r);
	JSON_U64(f, ",", "state_bytes", r->state_bytes);
	JSON_DBL(f, ",", "bulk_mbps", r->bulk_mbps);
	JSON_U64(f, ",", "dest_overhead_bytes", r->dest_overhead_bytes);
	fprintf(f, ",\"verified\":%s", r->verified ? "true" : "false");
	JSON_STR(f, ",", "verify_detail", r->verify_detail);
	fputs("}\n", f);
}

void report_progress_format(char *buf, size_t n, const struct pm_progress *p,
			    uint64_t npages, double elapsed_s)
{
	double mb = p->pages_in * (double)PM_PAGE / 1e6;

	snprintf(buf, n, "%6.2fs  pages %llu/%llu (%5.1f%%)  %7.1f MB/s  faults %llu  fault p99 %.0f us",
		 elapsed_s, (unsigned long long)p->pages_in, (unsigned long long)npages,
		 npages ? 100.0 * p->pages_in / npages : 0.0, elapsed_s > 0 ? mb / elapsed_s : 0.0,
		 (unsigned long long)p->remote_faults, p->fault_p99_ns / 1e3);
}
