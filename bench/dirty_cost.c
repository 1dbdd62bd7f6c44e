/* bench/dirty_cost.c - what the thread engine's dirty tracking costs its
 * guest.
 *
 * For each workload (sweep writing every page it touches, and kv with its
 * default mix; both over a 256 MiB working set, 2 vCPUs), one machine runs
 * five windows back to back:
 *
 *   base0 | async | base1 | sync | base2
 *
 * base: no tracking. async/sync: machine_dirty_start (sync forced with
 * PCM_DIRTY_SYNC=1), a fetch every 100 ms as a pre-copy round would, then
 * machine_dirty_stop. A tracked window's ops/s is compared with the mean
 * of the two untracked windows around it, so a drift of the host shows
 * instead of passing for a cost. Also per path: time per fetch (mean,
 * max), dirty pages per fetch, time to start tracking, and what pre-copy's
 * stop-and-copy pays inside the downtime: with the vCPUs paused, the last
 * fetch and the stop.
 *
 * One JSON object on stdout, a table on stderr.
 * Usage: dirty_cost [--quick]   (about 20 s; --quick about 7 s)
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guest/layout.h"
#include "vm/machine.h"
#include "vm/thread_int.h"
#include "lib/clock.h"

#define RAM_BYTES   (258ull << 20)
#define WS_BYTES    (256ull << 20)
#define VCPUS       2
#define FETCH_NS    100000000ull      /* 100 ms: one pre-copy round */
#define PAGE        4096ull

struct tracked {
	const char *path;                 /* what the engine says it used */
	double ops_s;
	unsigned fetches;
	double fetch_ms_sum, fetch_ms_max;
	double dirty_sum;
	double start_ms;
	double final_fetch_ms, stop_ms;   /* paused, as at stop-and-copy */
};

struct result {
	const char *workload;
	double base[3];                   /* ops/s: base0, base1, base2 */
	struct tracked t[2];              /* async, sync */
};

static void sleep_until(uint64_t t)
{
	uint64_t n = pcm_now_ns();
	struct timespec ts;

	if (n >= t)
		return;
	ts.tv_sec = (time_t)((t - n) / 1000000000ull);
	ts.tv_nsec = (long)((t - n) % 1000000000ull);
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static uint64_t ops_of(struct machine *m)
{
	struct machine_stats s;

	machine_stats(m, &s);
	return s.ops;
}

static double window_ops(struct machine *m, uint64_t ns)
{
	uint64_t o0 = ops_of(m), t0 = pcm_now_ns();

	sleep_until(t0 + ns);
	return (double)(ops_of(m) - o0) * 1e9 / (double)(pcm_now_ns() - t0);
}

static uint64_t popcount(const uint64_t *bm, uint64_t words)
{
	uint64_t n = 0;

	for (uint64_t w = 0; w < words; w++)
		n += (uint64_t)__builtin_popcountll(bm[w]);
	return n;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "dirty_cost: %s: %s\n", what, strerror(-err));
	exit(1);
}

/* One fetch, timed, into a cleared bitmap. */
static void fetch_once(struct machine *m, uint64_t *bm, uint64_t npages, struct tracked *t)
{
	uint64_t t0, words = (npages + 63) / 64;
	double ms;
	int err;

	memset(bm, 0, words * 8);
	t0 = pcm_now_ns();
	if ((err = machine_dirty_fetch(m, bm, npages)))
		die("machine_dirty_fetch", err);
	ms = (double)(pcm_now_ns() - t0) / 1e6;
	t->fetches++;
	t->fetch_ms_sum += ms;
	if (ms > t->fetch_ms_max)
		t->fetch_ms_max = ms;
	t->dirty_sum += (double)popcount(bm, words);
}

static void window_tracked(struct machine *m, bool sync, uint64_t ns, struct tracked *t)
{
	uint64_t npages = RAM_BYTES / PAGE, o0, t0, t1, next;
	uint64_t *bm = calloc((npages + 63) / 64, 8);
	int err;

	if (!bm)
		die("calloc", -ENOMEM);
	if (sync)
		setenv("PCM_DIRTY_SYNC", "1", 1);
	else
		unsetenv("PCM_DIRTY_SYNC");
	t0 = pcm_now_ns();
	if ((err = machine_dirty_start(m)))
		die("machine_dirty_start", err);
	t->start_ms = (double)(pcm_now_ns() - t0) / 1e6;
	t->path = thread_dirty_mode(m);
	o0 = ops_of(m);
	t0 = pcm_now_ns();
	for (next = t0 + FETCH_NS; next < t0 + ns; next += FETCH_NS) {
		sleep_until(next);
		fetch_once(m, bm, npages, t);
	}
	/* The last round ends in stop-and-copy: pause, fetch, stop. */
	sleep_until(next);
	t->ops_s = (double)(ops_of(m) - o0) * 1e9 / (double)(pcm_now_ns() - t0);
	if ((err = machine_pause(m)))
		die("machine_pause", err);
	memset(bm, 0, (npages + 63) / 64 * 8);
	t1 = pcm_now_ns();
	if ((err = machine_dirty_fetch(m, bm, npages)))
		die("machine_dirty_fetch", err);
	t->final_fetch_ms = (double)(pcm_now_ns() - t1) / 1e6;
	t1 = pcm_now_ns();
	if ((err = machine_dirty_stop(m)))
		die("machine_dirty_stop", err);
	t->stop_ms = (double)(pcm_now_ns() - t1) / 1e6;
	if ((err = machine_resume(m)))
		die("machine_resume", err);
	unsetenv("PCM_DIRTY_SYNC");
	free(bm);
}

static void wait_ready(struct machine *m)
{
	const struct machine_region *r;

	machine_regions(m, &r);
	for (int i = 0; i < 3000; i++) {
		unsigned ready = 0;

		for (unsigned v = 0; v < VCPUS; v++)
			ready += __atomic_load_n(&guest_stats_of(r[0].host, v)->ready,
						 __ATOMIC_RELAXED) != 0;
		if (ready == VCPUS)
			return;
		sleep_until(pcm_now_ns() + 10000000ull);
	}
	die("workload set-up (30 s)", -ETIMEDOUT);
}

static void run_workload(uint32_t wl, uint64_t win_ns, struct result *res)
{
	struct machine_config c;
	struct machine *m;
	int err;

	memset(&c, 0, sizeof(c));
	c.engine = MACHINE_ENGINE_THREAD;
	c.ram_bytes = RAM_BYTES;
	c.vcpus = VCPUS;
	c.params.workload = wl;
	c.params.working_set = WS_BYTES;
	c.params.write_permille = 1000;       /* sweep: write fraction 1.0 */
	c.params.seed = 7;
	res->workload = wl == WL_SWEEP ? "sweep" : "kv";
	if ((err = machine_create(&c, &m)) || (err = machine_start(m)))
		die("machine_create/start", err);
	wait_ready(m);
	/* Warm-up: every page of the working set populated once. */
	window_ops(m, win_ns);
	res->base[0] = window_ops(m, win_ns);
	window_tracked(m, false, win_ns, &res->t[0]);
	res->base[1] = window_ops(m, win_ns);
	window_tracked(m, true, win_ns, &res->t[1]);
	res->base[2] = window_ops(m, win_ns);
	machine_destroy(m);
}

static void print_tracked(const struct tracked *t, double base, bool last)
{
	double ratio = base > 0 ? t->ops_s / base : 0;
	unsigned n = t->fetches ? t->fetches : 1;

	printf("\"%s\":{\"path\":\"%s\",\"ops_s\":%.0f,\"baseline_ops_s\":%.0f,"
	       "\"throughput_ratio\":%.3f,\"slowdown_pct\":%.1f,\"fetches\":%u,"
	       "\"fetch_ms_mean\":%.3f,\"fetch_ms_max\":%.3f,\"dirty_pages_per_fetch\":%.0f,"
	       "\"start_ms\":%.3f,\"paused_final_fetch_ms\":%.3f,\"paused_stop_ms\":%.3f}%s",
	       last ? "sync" : "async", t->path ? t->path : "none", t->ops_s, base,
	       ratio, (1 - ratio) * 100, t->fetches, t->fetch_ms_sum / n, t->fetch_ms_max,
	       t->dirty_sum / n, t->start_ms, t->final_fetch_ms, t->stop_ms, last ? "" : ",");
	fprintf(stderr, "  %-6s %-5s %12.0f %12.0f %7.1f%% %9.3f %9.3f %9.0f %8.3f %8.3f %8.3f\n",
		"", t->path ? t->path : "none", t->ops_s, base, (1 - ratio) * 100,
		t->fetch_ms_sum / n, t->fetch_ms_max, t->dirty_sum / n, t->start_ms,
		t->final_fetch_ms, t->stop_ms);
}

static void print_result(const struct result *r, bool last)
{
	fprintf(stderr, "%-6s base ops/s %.0f %.0f %.0f\n", r->workload,
		r->base[0], r->base[1], r->base[2]);
	printf("{\"workload\":\"%s\",\"untracked_ops_s\":[%.0f,%.0f,%.0f],", r->workload,
	       r->base[0], r->base[1], r->base[2]);
	print_tracked(&r->t[0], (r->base[0] + r->base[1]) / 2, false);
	print_tracked(&r->t[1], (r->base[1] + r->base[2]) / 2, true);
	printf("}%s", last ? "" : ",");
}

int main(int argc, char **argv)
{
	bool quick = argc > 1 && !strcmp(argv[1], "--quick");
	uint64_t win_ns = quick ? 500000000ull : 1500000000ull;
	struct result res[2];

	memset(res, 0, sizeof(res));
	run_workload(WL_SWEEP, win_ns, &res[0]);
	run_workload(WL_KV, win_ns, &res[1]);
	fprintf(stderr, "  %-6s %-5s %12s %12s %8s %9s %9s %9s %8s %8s %8s\n", "", "path",
		"ops/s", "untracked", "slowdown", "fetch ms", "max ms", "pages",
		"start ms", "last ms", "stop ms");
	fprintf(stderr, "  (last, stop: the final fetch and the stop with the vCPUs paused)\n");
	printf("{\"bench\":\"dirty_cost\",\"engine\":\"%s\",\"vcpus\":%d,"
	       "\"ram_mib\":%llu,\"working_set_mib\":%llu,\"sweep_write_fraction\":1.0,"
	       "\"window_s\":%.1f,\"fetch_every_ms\":%llu,\"workloads\":[",
	       machine_engine_name(MACHINE_ENGINE_THREAD), VCPUS, RAM_BYTES >> 20, WS_BYTES >> 20,
	       win_ns / 1e9, FETCH_NS / 1000000);
	for (int i = 0; i < 2; i++)
		print_result(&res[i], i == 1);
	printf("]}\n");
	return 0;
}
