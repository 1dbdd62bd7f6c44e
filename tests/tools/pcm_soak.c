/* tests/tools/pcm_soak.c - one VM migrated back and forth, many times in a
 * row, in one long-running process: a leak and reliability run.
 *
 * A thread engine VM (default 256 MiB, 2 vCPUs, kv) moves from side A to
 * side B and back --count times (default 50), each a real migration over
 * loopback TCP with source_migrate in one thread and dest_receive in
 * another. The machine dest_receive returns is the next source; the
 * released source is destroyed. After each migration the tool records
 * whether it verified, pages lost (total minus the sum of the kinds),
 * downtime, this process's open descriptors, and its RSS without the guest
 * RAM's shared memory (VmRSS - RssShmem) as well as VmRSS.
 *
 * Checks (PASS/FAIL, exit status 1 if any fails): every migration
 * succeeded, verified and lost no page; the VM still makes progress at
 * the end; the descriptor count after the last migration equals the count
 * after the first; and RSS minus shared memory grew by less than
 * SOAK_RSS_BOUND_KB from migration 5 to the last (see there for why;
 * skipped under AddressSanitizer, whose LeakSanitizer checks at exit).
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include "guest/layout.h"
#include "guest/workload.h"
#include "cli/cli.h"
#include "tests/tools/looppair.h"

/* RSS growth allowed from migration SOAK_RSS_FROM to the last. The first
 * migrations may grow the heap for good: glibc makes a malloc arena per
 * thread that allocates (up to 8 per core) and raises its mmap threshold
 * after the first large free, so later buffers come from arenas that stay
 * resident; from migration 5 on the process should be at its plateau.
 * 8 MiB over 45 migrations is about 180 KiB a migration: less than what
 * leaking any of one migration's touched buffers would cost (a channel's
 * send buffer is over 1 MiB, the source's bulk bounce buffer 4 MiB, a
 * 4 GiB VM's page bitmaps 128 KiB each), and far more than allocator
 * noise (a few tens of KiB measured). A leaked buffer never touched does
 * not show in RSS, and exact leaks of small objects are LeakSanitizer's
 * job (the build/asan build of this tool). */
#define SOAK_RSS_BOUND_KB (8u << 10)
#define SOAK_RSS_FROM     5u
#define SOAK_TIMEOUT_S    120.0      /* per migration */

/* AddressSanitizer keeps freed memory in its quarantine (256 MiB), so RSS
 * says nothing about leaks there; LeakSanitizer does that job instead. */
#if defined(__SANITIZE_ADDRESS__)
#define SOAK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SOAK_ASAN 1
#endif
#endif
#ifndef SOAK_ASAN
#define SOAK_ASAN 0
#endif

static const char soak_help[] =
"usage: pcm_soak [--count N] [--mem SIZE] [--vcpus N] [--workload NAME]\n"
"                [--mode postcopy|precopy|hybrid] [--settle-ms MS] [--json]\n"
"\n"
"Migrates one VM back and forth N times in one process over loopback TCP\n"
"and checks every migration verified and the process leaks no descriptor\n"
"and no memory.\n"
"\n"
"  --count N        migrations (default 50)\n"
"  --mem SIZE       guest RAM (default 256M)\n"
"  --vcpus N        vCPUs (default 2)\n"
"  --workload NAME  idle | sweep | kv (default kv)\n"
"  --mode MODE      postcopy | precopy | hybrid (default postcopy)\n"
"  --settle-ms MS   let the VM run this long between migrations (default 100)\n"
"  --json           one JSON object on stdout (PASS/FAIL lines on stderr)\n";

struct soak_opts {
	unsigned count, vcpus, settle_ms;
	uint64_t mem;
	char workload[16];
	char mode[16];
	bool json;
};

/* What one migration left behind. */
struct soak_row {
	bool ok, verified;
	int64_t lost;             /* total - (pushed+requested+zero+precopied) */
	double downtime_us, total_ms, wall_ms, fault_p99_us;
	uint64_t remote_faults;
	int fds;
	uint64_t rss_kb, anon_kb;  /* VmRSS, VmRSS - RssShmem */
	char why[160];
};

struct soak {
	struct soak_opts o;
	struct soak_row *rows;
	unsigned done;            /* rows filled */
	FILE *out;
	bool failed;
	struct lp_mig mig;        /* the migration under way */
	double wall_s;
	uint64_t ops_before, ops_after;
};

/* One PASS/FAIL line of this run. */
#define soak_check(s, ok, ...) lp_check((s)->out, &(s)->failed, ok, __VA_ARGS__)

/* ---- options ---- */

static bool mode_ok(const char *m)
{
	enum pm_mode unused;

	return pm_mode_parse(m, &unused) == 0;
}

static int soak_opt(struct soak_opts *o, int opt, const char *arg)
{
	uint64_t x = 0;

	switch (opt) {
	case 'n':
		if (pcm_parse_u64(arg, 100000, &x) || !x)
			return 2;
		o->count = (unsigned)x;
		return 0;
	case 'c':
		if (pcm_parse_u64(arg, GUEST_MAX_VCPUS, &x) || !x)
			return 2;
		o->vcpus = (unsigned)x;
		return 0;
	case 's':
		if (pcm_parse_u64(arg, 600000, &x))
			return 2;
		o->settle_ms = (unsigned)x;
		return 0;
	case 'm':
		return pcm_parse_size(arg, &o->mem) ? 2 : 0;
	case 'w':
		return wl_lookup(arg) ? (pm_strset(o->workload, sizeof(o->workload), arg), 0) : 2;
	case 'M':
		return mode_ok(arg) ? (pm_strset(o->mode, sizeof(o->mode), arg), 0) : 2;
	case 'j':
		o->json = true;
		return 0;
	}
	return 2;
}

static int soak_parse(int argc, char **argv, struct soak_opts *o)
{
	static const struct option lo[] = {
		{ "count", required_argument, 0, 'n' }, { "mem", required_argument, 0, 'm' },
		{ "vcpus", required_argument, 0, 'c' }, { "workload", required_argument, 0, 'w' },
		{ "mode", required_argument, 0, 'M' }, { "settle-ms", required_argument, 0, 's' },
		{ "json", no_argument, 0, 'j' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
	int opt;

	*o = (struct soak_opts){ .count = 50, .vcpus = 2, .settle_ms = 100, .mem = 256ull << 20,
				 .workload = "kv", .mode = "postcopy" };
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (opt == 'h') {
			fputs(soak_help, stdout);
			exit(0);
		}
		if (soak_opt(o, opt, optarg)) {
			fprintf(stderr, "pcm_soak: bad option or value (see --help)\n");
			return 2;
		}
	}
	return optind < argc ? (fprintf(stderr, "pcm_soak: unexpected '%s'\n", argv[optind]), 2) : 0;
}

/* ---- the VM ---- */

static uint64_t vm_ops(struct machine *m)
{
	struct machine_stats st;

	machine_stats(m, &st);
	return st.ops;
}

static int soak_boot(struct soak *s, struct machine **out)
{
	struct machine_config c = { .engine = MACHINE_ENGINE_THREAD, .ram_bytes = s->o.mem,
				    .vcpus = s->o.vcpus,
				    .params = { .workload = wl_lookup(s->o.workload), .seed = 7 } };

	if (lp_boot("pcm_soak", &c, 120, out))
		return 1;
	lp_sleep_ms(s->o.settle_ms);
	return 0;
}

/* ---- one migration ---- */

static void soak_diag(void *arg)
{
	struct soak *s = arg;

	fprintf(stderr, "pcm_soak: migration %u: %d of the 2 migration threads still running\n",
		s->done + 1, atomic_load(&s->mig.left));
}

static void soak_record(struct soak *s, struct soak_row *row)
{
	const struct report *r = &s->mig.rep;

	row->ok = !s->mig.serr && !s->mig.derr && s->mig.dst;
	row->verified = row->ok && r->verified;
	row->lost = row->ok ? (int64_t)(r->pages_total - r->pages_pushed - r->pages_requested -
					 r->pages_zero - r->pages_precopied) : -1;
	row->downtime_us = r->downtime_us;
	row->total_ms = r->total_ms;
	row->fault_p99_us = r->fault_p99_us;
	row->remote_faults = r->remote_faults;
	row->wall_ms = (s->mig.t1_ns - s->mig.t0_ns) / 1e6;
	pm_strset(row->why, sizeof(row->why), row->ok ? r->verify_detail : lp_why(&s->mig));
}

/* Move *m to the other side; *m becomes the moved VM. 0, or 1 when the
 * migration failed (the row says why). */
static int soak_one(struct soak *s, struct machine **m, struct soak_row *row)
{
	struct lp_watchdog wd;
	uint64_t shmem;
	int err;

	lp_init(&s->mig, *m, s->o.mode);
	if ((err = lp_watchdog_start(&wd, s->out, SOAK_TIMEOUT_S, "a migration", soak_diag, s))) {
		snprintf(row->why, sizeof(row->why), "watchdog: %s", strerror(-err));
		return 1;
	}
	if ((err = lp_start(&s->mig))) {
		lp_watchdog_stop(&wd);
		snprintf(row->why, sizeof(row->why), "cannot start: %s", strerror(-err));
		return 1;
	}
	lp_join(&s->mig);
	lp_watchdog_stop(&wd);
	soak_record(s, row);
	if (!row->ok) {
		machine_destroy(s->mig.dst);   /* NULL unless only the source failed */
		return 1;
	}
	machine_destroy(*m);
	*m = s->mig.dst;
	lp_sleep_ms(s->o.settle_ms);
	row->fds = lp_count_fds();
	lp_rss_kb(&row->rss_kb, &shmem);
	row->anon_kb = row->rss_kb - shmem;
	return 0;
}

static void soak_print_row(const struct soak *s, unsigned i)
{
	const struct soak_row *w = &s->rows[i];

	fprintf(s->out, "%3u %s  %-8s %s  lost %lld  downtime %8.1f us  total %7.1f ms  "
		"faults %6llu  p99 %7.0f us  fds %3d  rss-shmem %7llu KiB  rss %8llu KiB\n",
		i + 1, i % 2 ? "B->A" : "A->B", w->ok ? "ok" : "FAILED",
		w->verified ? "verified" : "NOT-VERIFIED", (long long)w->lost, w->downtime_us,
		w->total_ms, (unsigned long long)w->remote_faults, w->fault_p99_us, w->fds,
		(unsigned long long)w->anon_kb, (unsigned long long)w->rss_kb);
	if (!w->ok || !w->verified)
		fprintf(s->out, "    why: %s\n", w->why);
	fflush(s->out);
}

/* Every migration in a row; stops at the first that fails. */
static void soak_run(struct soak *s, struct machine **m)
{
	s->ops_before = vm_ops(*m);
	for (unsigned i = 0; i < s->o.count; i++) {
		int err = soak_one(s, m, &s->rows[i]);

		s->done = i + 1;
		soak_print_row(s, i);
		if (err)
			return;
	}
	s->ops_after = vm_ops(*m);
}

/* ---- summary ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* p50 and max of the downtimes of the first n rows. */
static void soak_downtime(const struct soak *s, unsigned n, double *p50, double *max)
{
	double *d = calloc(n ? n : 1, sizeof(*d));

	*p50 = *max = 0;
	if (!d || !n) {
		free(d);
		return;
	}
	for (unsigned i = 0; i < n; i++)
		d[i] = s->rows[i].downtime_us;
	qsort(d, n, sizeof(*d), cmp_double);
	*p50 = d[(n - 1) / 2];
	*max = d[n - 1];
	free(d);
}

/* The RSS check: PASS, FAIL, or SKIP (printed, never failing) when it
 * cannot say anything. */
static void soak_check_rss(struct soak *s, bool all_ok)
{
	unsigned n = s->done;
	const struct soak_row *from = &s->rows[SOAK_RSS_FROM - 1], *last = &s->rows[n - 1];
	int64_t growth = (int64_t)last->anon_kb - (int64_t)from->anon_kb;

	if (SOAK_ASAN || n <= SOAK_RSS_FROM) {
		fprintf(s->out, "SKIP  RSS minus shared memory: %s (%llu -> %llu KiB)\n",
			SOAK_ASAN ? "not meaningful under AddressSanitizer (its quarantine keeps "
			"freed memory; LeakSanitizer checks leaks at exit)" :
			"needs more than 5 migrations", (unsigned long long)s->rows[0].anon_kb,
			(unsigned long long)last->anon_kb);
		return;
	}
	soak_check(s, all_ok && growth < (int64_t)SOAK_RSS_BOUND_KB,
		   "RSS minus shared memory grew %lld KiB from migration %u to %u (bound %u KiB); "
		   "%llu KiB after the first", (long long)growth, SOAK_RSS_FROM, n,
		   SOAK_RSS_BOUND_KB, (unsigned long long)s->rows[0].anon_kb);
}

static void soak_checks(struct soak *s)
{
	unsigned n = s->done, ok = 0, lost = 0;
	const struct soak_row *first = &s->rows[0], *last = &s->rows[n - 1];
	bool all_ok;

	for (unsigned i = 0; i < n; i++) {
		ok += s->rows[i].ok && s->rows[i].verified;
		lost += s->rows[i].lost != 0;
	}
	all_ok = ok == s->o.count;
	soak_check(s, all_ok, "%u of %u migrations succeeded and verified", ok, s->o.count);
	soak_check(s, n == s->o.count && !lost, "no page lost in any migration "
		   "(pushed + requested + zero + precopied = total every time)");
	soak_check(s, all_ok && s->ops_after > s->ops_before,
		   "the VM kept running: %llu operations over the whole run",
		   (unsigned long long)(s->ops_after - s->ops_before));
	soak_check(s, all_ok && last->fds == first->fds,
		   "open descriptors flat: %d after the first migration, %d after the last",
		   first->fds, last->fds);
	soak_check_rss(s, all_ok);
}

static void soak_summary(const struct soak *s)
{
	const struct soak_row *first = &s->rows[0], *last = &s->rows[s->done - 1];
	double p50, max;
	int fmin = first->fds, fmax = first->fds;

	for (unsigned i = 0; i < s->done; i++) {
		fmin = s->rows[i].fds < fmin ? s->rows[i].fds : fmin;
		fmax = s->rows[i].fds > fmax ? s->rows[i].fds : fmax;
	}
	soak_downtime(s, s->done, &p50, &max);
	fprintf(s->out, "summary: %u migrations (%s, %s, %llu MiB, %u vCPUs) in %.1f s; "
		"downtime p50 %.1f us, max %.1f us; fds %d..%d; rss-shmem %llu -> %llu KiB; "
		"rss %llu -> %llu KiB\n", s->done, s->o.mode, s->o.workload,
		(unsigned long long)(s->o.mem >> 20), s->o.vcpus, s->wall_s, p50, max, fmin, fmax,
		(unsigned long long)first->anon_kb, (unsigned long long)last->anon_kb,
		(unsigned long long)first->rss_kb, (unsigned long long)last->rss_kb);
}

static void soak_json_row(const struct soak_row *w, bool comma)
{
	printf("{\"ok\":%s,\"verified\":%s,\"lost\":%lld,\"downtime_us\":%.1f,\"total_ms\":%.1f,"
	       "\"wall_ms\":%.1f,\"remote_faults\":%llu,\"fault_p99_us\":%.1f,\"fds\":%d,"
	       "\"rss_kb\":%llu,\"rss_minus_shmem_kb\":%llu}%s", w->ok ? "true" : "false",
	       w->verified ? "true" : "false", (long long)w->lost, w->downtime_us, w->total_ms,
	       w->wall_ms, (unsigned long long)w->remote_faults, w->fault_p99_us, w->fds,
	       (unsigned long long)w->rss_kb, (unsigned long long)w->anon_kb, comma ? "," : "");
}

static void soak_json(const struct soak *s)
{
	const struct soak_row *first = &s->rows[0], *last = &s->rows[s->done - 1];
	bool rss_checked = !SOAK_ASAN && s->done > SOAK_RSS_FROM;
	int64_t growth = rss_checked ? (int64_t)last->anon_kb -
				       (int64_t)s->rows[SOAK_RSS_FROM - 1].anon_kb : 0;
	unsigned ok = 0;
	double p50, max;

	for (unsigned i = 0; i < s->done; i++)
		ok += s->rows[i].ok && s->rows[i].verified;
	soak_downtime(s, s->done, &p50, &max);
	printf("{\"ok\":%s,\"count\":%u,\"done\":%u,\"mode\":\"%s\",\"workload\":\"%s\","
	       "\"ram_bytes\":%llu,\"vcpus\":%u,\"verified_all\":%s,\"fds_first\":%d,"
	       "\"fds_last\":%d,\"rss_first_kb\":%llu,\"rss_last_kb\":%llu,"
	       "\"rss_minus_shmem_first_kb\":%llu,\"rss_minus_shmem_last_kb\":%llu,"
	       "\"rss_checked\":%s,\"rss_growth_kb\":%lld,\"rss_bound_kb\":%u,\"downtime_us\":{\"p50\":%.1f,\"max\":%.1f},\"wall_s\":%.2f,"
	       "\"migrations\":[", s->failed ? "false" : "true", s->o.count, s->done, s->o.mode,
	       s->o.workload, (unsigned long long)s->o.mem, s->o.vcpus,
	       ok == s->o.count ? "true" : "false", first->fds, last->fds,
	       (unsigned long long)first->rss_kb, (unsigned long long)last->rss_kb,
	       (unsigned long long)first->anon_kb, (unsigned long long)last->anon_kb,
	       rss_checked ? "true" : "false", (long long)growth, SOAK_RSS_BOUND_KB, p50, max,
	       s->wall_s);
	for (unsigned i = 0; i < s->done; i++)
		soak_json_row(&s->rows[i], i + 1 < s->done);
	printf("]}\n");
}

int main(int argc, char **argv)
{
	static struct soak s;
	struct machine *m = NULL;
	uint64_t t0 = pcm_now_ns();
	int err = soak_parse(argc, argv, &s.o);

	if (err)
		return err;
	s.out = s.o.json ? stderr : stdout;
	s.rows = calloc(s.o.count, sizeof(*s.rows));
	if (!s.rows)
		return fprintf(stderr, "pcm_soak: no memory\n"), 1;
	fprintf(stderr, "pcm_soak: %u %s migrations of a %llu MiB, %u-vCPU %s VM (thread engine)\n",
		s.o.count, s.o.mode, (unsigned long long)(s.o.mem >> 20), s.o.vcpus, s.o.workload);
	if ((err = soak_boot(&s, &m))) {
		machine_destroy(m);
		free(s.rows);
		return err;
	}
	soak_run(&s, &m);
	machine_destroy(m);
	s.wall_s = (pcm_now_ns() - t0) / 1e9;
	soak_checks(&s);
	soak_summary(&s);
	if (s.o.json)
		soak_json(&s);
	free(s.rows);
	return s.failed ? 1 : 0;
}
