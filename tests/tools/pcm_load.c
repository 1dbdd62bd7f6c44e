/* tests/tools/pcm_load.c - many vCPUs faulting at once: a reliability run.
 *
 * One process, one real post-copy migration over loopback TCP: a thread
 * engine VM (default 16 vCPUs, 4 GiB) runs sweep with every touched page
 * written, so each vCPU walks its own slice of all of RAM and, once the VM
 * is on the destination, faults on page after page while the others do the
 * same. The source migrates it in one thread, the destination receives it
 * in another, and this thread watches the destination's vCPUs:
 *
 *   - from /proc/self/task/TID/wchan, which of them sit in
 *     handle_userfault (a vCPU blocked on a missing page), and how many at
 *     once;
 *   - from their own operation counters in the destination's guest RAM
 *     (read only when mincore says the stats pages are in, so the monitor
 *     itself never faults), how long each stays in one fault.
 *
 * Checks (PASS/FAIL lines, exit status 1 if any fails): the migration
 * succeeded and verified; pushed + requested + zero + precopied = total;
 * remote faults with every vCPU seen blocked in one; no vCPU blocked in a
 * single fault longer than --stuck-ms; every vCPU advances after the
 * migration within 5 s; and a watchdog fails the run (with the stuck
 * threads' state) if it does not finish within --timeout: a lost wake-up
 * shows up as a hang or as a vCPU stuck in one fault.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include "guest/layout.h"
#include "guest/workload.h"
#include "cli/cli.h"
#include "tests/tools/looppair.h"

#define LOAD_AFTER_MS 5000u      /* every vCPU must advance within this */
#define LOAD_TICK_MS  5u         /* monitor sampling interval */

static const char load_help[] =
"usage: pcm_load [--vcpus N] [--mem SIZE] [--seconds S] [--timeout S] [--stuck-ms MS] [--json]\n"
"\n"
"A post-copy migration of a sweep VM whose vCPUs all fault at once, in one\n"
"process over loopback TCP, with checks for lost wake-ups and stuck vCPUs.\n"
"\n"
"  --vcpus N       vCPUs (default 16)\n"
"  --mem SIZE      guest RAM (default 4G)\n"
"  --seconds S     run on this long after every vCPU swept its slice once (2)\n"
"  --timeout S     watchdog over migration and checks (default 120)\n"
"  --stuck-ms MS   longest a vCPU may stay blocked in one fault (default 2000)\n"
"  --json          one JSON object on stdout (PASS/FAIL lines on stderr)\n";

struct load_opts {
	unsigned vcpus;
	uint64_t mem;
	double seconds;
	double timeout;
	double stuck_ms;
	bool json;
};

/* The monitor's view of one destination vCPU. */
struct vmon {
	int tid;                  /* its thread, 0 until found */
	bool have_ops;
	bool seen_fault;          /* ever seen in handle_userfault */
	uint64_t ops;             /* last sample */
	uint64_t ops_act;         /* first sample after activation */
	uint64_t blk_since;       /* blocked in this fault since (0: not) */
	uint64_t blk_worst_ns;    /* longest time in one fault */
	bool told;                /* its stuck fault was reported */
	uint64_t after_ms;        /* advanced this long after the migration */
};

/* Thread ids already looked at, so each comm is read once. */
struct tidset {
	int tid[1024];
	unsigned n;
};

struct load {
	struct load_opts o;
	struct lp_mig mig;
	FILE *out;                          /* PASS/FAIL lines */
	bool failed;
	/* from the source thread's progress callback */
	_Atomic uint64_t pages_in, faults;
	/* monitor */
	struct tidset skip;                 /* threads that are not the dest's vCPUs */
	uint8_t *dram;                      /* destination RAM, once found */
	struct vmon v[GUEST_MAX_VCPUS];
	unsigned ntids, peak_blocked;
	uint64_t samples, blocked_samples;  /* vCPU-samples, in a fault */
	double warm_s, wall_s;
	uint64_t t_run0;
};

/* One PASS/FAIL line of this run. */
#define load_check(l, ok, ...) lp_check((l)->out, &(l)->failed, ok, __VA_ARGS__)

/* ---- options ---- */

static int load_parse(int argc, char **argv, struct load_opts *o)
{
	static const struct option lo[] = {
		{ "vcpus", required_argument, 0, 'c' }, { "mem", required_argument, 0, 'm' },
		{ "seconds", required_argument, 0, 's' }, { "timeout", required_argument, 0, 't' },
		{ "stuck-ms", required_argument, 0, 'k' }, { "json", no_argument, 0, 'j' },
		{ "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
	uint64_t x;
	int opt;

	*o = (struct load_opts){ .vcpus = 16, .mem = 4ull << 30, .seconds = 2,
				 .timeout = 120, .stuck_ms = 2000 };
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (opt == 'h') {
			fputs(load_help, stdout);
			exit(0);
		}
		if ((opt == 'c' && (pcm_parse_u64(optarg, GUEST_MAX_VCPUS, &x) || !x)) ||
		    (opt == 'm' && pcm_parse_size(optarg, &o->mem)) ||
		    (opt == 's' && (pcm_parse_double(optarg, &o->seconds) || o->seconds < 0)) ||
		    (opt == 't' && (pcm_parse_double(optarg, &o->timeout) || o->timeout < 1)) ||
		    (opt == 'k' && (pcm_parse_double(optarg, &o->stuck_ms) || o->stuck_ms < 1)) ||
		    opt == '?') {
			fprintf(stderr, "pcm_load: bad option (see --help)\n");
			return 2;
		}
		if (opt == 'c')
			o->vcpus = (unsigned)x;
		o->json |= opt == 'j';
	}
	return optind < argc ? (fprintf(stderr, "pcm_load: unexpected '%s'\n", argv[optind]), 2) : 0;
}

/* ---- threads of this process, by name ---- */

/* One line of /proc/self/task/TID/FILE; "" when the thread is gone. */
static void task_read(int tid, const char *file, char *buf, size_t n)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/%s", tid, file);
	buf[0] = 0;
	if ((f = fopen(path, "r"))) {
		if (!fgets(buf, (int)n, f))
			buf[0] = 0;
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = 0;
}

static bool tid_in(const struct tidset *t, int tid)
{
	for (unsigned i = 0; i < t->n; i++)
		if (t->tid[i] == tid)
			return true;
	return false;
}

static void tid_add(struct tidset *t, int tid)
{
	if (t->n < sizeof(t->tid) / sizeof(t->tid[0]))
		t->tid[t->n++] = tid;
}

/* Every "vcpu-N" thread not in skip: tids[N] = its id. Every thread
 * looked at joins skip, except those still under the process's own name:
 * a vCPU thread has that name until its creator renames it. Returns how
 * many tids are set. */
static unsigned vcpu_tids(int *tids, unsigned n, struct tidset *skip)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	unsigned found = 0;
	char comm[32], self[32];

	task_read(getpid(), "comm", self, sizeof(self));
	while (d && (e = readdir(d))) {
		int tid = atoi(e->d_name);
		unsigned idx;

		if (tid <= 0 || tid_in(skip, tid))
			continue;
		task_read(tid, "comm", comm, sizeof(comm));
		if (sscanf(comm, "vcpu-%u", &idx) == 1 && idx < n && !tids[idx])
			tids[idx] = tid;
		if (strcmp(comm, self))
			tid_add(skip, tid);
	}
	if (d)
		closedir(d);
	for (unsigned v = 0; v < n; v++)
		found += tids[v] != 0;
	return found;
}

/* ---- warm-up ---- */

static uint64_t vcpu_ops(uint8_t *ram, unsigned v)
{
	return __atomic_load_n(&guest_stats_of(ram, v)->ops, __ATOMIC_RELAXED);
}

/* Until every vCPU swept its whole slice once (so all of RAM holds data,
 * not zero pages), then --seconds more. 0 or exit status. */
static int load_warm(struct load *l, struct machine *m)
{
	const struct machine_config *c = machine_config_of(m);
	const struct machine_region *r;
	uint64_t slice = c->params.working_set / c->vcpus / 4096, t0 = pcm_now_ns();
	unsigned done = 0;

	machine_regions(m, &r);
	while (done < c->vcpus) {
		if (pcm_now_ns() - t0 > 300 * 1000000000ull)
			return fprintf(stderr, "pcm_load: warm-up did not finish in 300 s\n"), 1;
		lp_sleep_ms(50);
		done = 0;
		for (unsigned v = 0; v < c->vcpus; v++)
			done += vcpu_ops(r[0].host, v) >= slice;
	}
	l->warm_s = (pcm_now_ns() - t0) / 1e9;
	fprintf(stderr, "pcm_load: every vCPU swept its %llu MiB slice once in %.1f s; "
		"running %.1f s more\n", (unsigned long long)(slice >> 8), l->warm_s,
		l->o.seconds);
	lp_sleep_ms((unsigned)(l->o.seconds * 1000));
	return 0;
}

static int load_boot(struct load *l, struct machine **out)
{
	struct machine_config c = { .engine = MACHINE_ENGINE_THREAD, .ram_bytes = l->o.mem,
				    .vcpus = l->o.vcpus,
				    .params = { .workload = WL_SWEEP, .write_permille = 1000,
						.seed = 42 } };

	if (lp_boot("pcm_load", &c, 60, out))
		return 1;
	return load_warm(l, *out);
}

/* ---- monitor ---- */

static void load_progress(void *arg, const struct pm_progress *p, uint64_t npages, double t)
{
	struct load *l = arg;

	(void)npages;
	(void)t;
	atomic_store(&l->pages_in, p->pages_in);
	atomic_store(&l->faults, p->remote_faults);
}

/* The destination's guest RAM: the other "guest-ram" memfd mapping of the
 * VM's size. NULL until the destination made it. */
static uint8_t *find_dest_ram(uint8_t *src_ram, uint64_t size)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi;
	uint8_t *found = NULL;
	char line[512];

	while (f && !found && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && hi - lo == size &&
		    strstr(line, "/memfd:guest-ram") && (uint8_t *)lo != src_ram)
			found = (uint8_t *)lo;
	if (f)
		fclose(f);
	return found;
}

/* Are the stats records of n vCPUs in (so reading them cannot fault)? */
static bool stats_resident(uint8_t *ram, unsigned n)
{
	size_t len = (size_t)n * sizeof(struct guest_vcpu_stats);
	unsigned char vec[8];
	unsigned npg = (unsigned)((GUEST_STATS_OFF + len + 4095) / 4096 - 1);

	if (npg > sizeof(vec) || mincore(ram + GUEST_STATS_OFF, len, vec))
		return false;
	for (unsigned i = 0; i < npg; i++)
		if (!(vec[i] & 1))
			return false;
	return true;
}

/* The destination's vCPU threads (they appear at activation), then its
 * RAM. True once both are known. */
static bool load_attach(struct load *l)
{
	const struct machine_region *r;
	int tids[GUEST_MAX_VCPUS];

	if (l->ntids < l->o.vcpus) {
		for (unsigned v = 0; v < l->o.vcpus; v++)
			tids[v] = l->v[v].tid;
		l->ntids = vcpu_tids(tids, l->o.vcpus, &l->skip);
		for (unsigned v = 0; v < l->o.vcpus; v++)
			l->v[v].tid = tids[v];
	}
	if (l->ntids == l->o.vcpus && !l->dram) {
		machine_regions(l->mig.src, &r);
		l->dram = find_dest_ram(r[0].host, r[0].size);
	}
	return l->dram != NULL;
}

/* A vCPU over the bound: say so at once, with its kernel stack (which
 * fault, which wait), before the end of post-copy wakes it anyway. */
static void load_tell_stuck(struct load *l, unsigned v)
{
	char path[64], line[160];
	FILE *f;

	fprintf(stderr, "pcm_load: vCPU %u (tid %d) blocked in one fault for %.0f ms, ops %llu; "
		"kernel stack:\n", v, l->v[v].tid, l->v[v].blk_worst_ns / 1e6,
		(unsigned long long)l->v[v].ops);
	snprintf(path, sizeof(path), "/proc/self/task/%d/stack", l->v[v].tid);
	if ((f = fopen(path, "r"))) {
		while (fgets(line, sizeof(line), f))
			fprintf(stderr, "    %s", line);
		fclose(f);
	}
	l->v[v].told = true;
}

/* One sample of vCPU v: in a fault now? How long in this one? */
static bool load_sample_vcpu(struct load *l, unsigned v, bool have_ops, uint64_t now)
{
	struct vmon *m = &l->v[v];
	char wchan[64];
	uint64_t ops = have_ops ? vcpu_ops(l->dram, v) : 0;
	bool in_fault;

	task_read(m->tid, "wchan", wchan, sizeof(wchan));
	in_fault = !strcmp(wchan, "handle_userfault");
	m->seen_fault |= in_fault;
	if (have_ops && !m->have_ops) {
		m->have_ops = true;
		m->ops_act = ops;
	}
	/* The same fault: still blocked, and no operation finished since. */
	if (!in_fault || !have_ops)
		m->blk_since = 0;
	else if (!m->blk_since || ops != m->ops)
		m->blk_since = now;
	else if (now - m->blk_since > m->blk_worst_ns)
		m->blk_worst_ns = now - m->blk_since;
	if (!m->told && m->blk_worst_ns >= l->o.stuck_ms * 1e6)
		load_tell_stuck(l, v);
	m->ops = ops;
	return in_fault;
}

static void load_sample(struct load *l)
{
	uint64_t now = pcm_now_ns();
	unsigned blocked = 0;
	bool have_ops;

	if (!load_attach(l))
		return;
	have_ops = stats_resident(l->dram, l->o.vcpus);
	for (unsigned v = 0; v < l->o.vcpus; v++)
		blocked += load_sample_vcpu(l, v, have_ops, now);
	l->samples += l->ntids;
	l->blocked_samples += blocked;
	if (blocked > l->peak_blocked)
		l->peak_blocked = blocked;
}

/* The watchdog's diagnosis: where the migration and each vCPU stand. */
static void load_diag(void *arg)
{
	struct load *l = arg;
	char wchan[64];

	fprintf(stderr, "pcm_load: %d of the 2 migration threads still running; pages in "
		"%llu of %llu, remote faults %llu (last progress report)\n",
		atomic_load(&l->mig.left), (unsigned long long)atomic_load(&l->pages_in),
		(unsigned long long)(l->o.mem / 4096), (unsigned long long)atomic_load(&l->faults));
	for (unsigned v = 0; v < l->o.vcpus; v++) {
		task_read(l->v[v].tid, "wchan", wchan, sizeof(wchan));
		fprintf(stderr, "  vCPU %2u tid %d: wchan %s, ops %llu, blocked in one fault "
			"%.0f ms at most\n", v, l->v[v].tid, wchan[0] ? wchan : "?",
			(unsigned long long)l->v[v].ops, l->v[v].blk_worst_ns / 1e6);
	}
}

/* ---- after the migration ---- */

/* Does every vCPU advance on the destination within LOAD_AFTER_MS?
 * Fills after_ms; returns how many did. */
static unsigned load_after(struct load *l, uint8_t *ram)
{
	uint64_t base[GUEST_MAX_VCPUS], t0 = pcm_now_ns();
	unsigned n = l->o.vcpus, moved = 0;
	bool done[GUEST_MAX_VCPUS] = { false };

	for (unsigned v = 0; v < n; v++)
		base[v] = vcpu_ops(ram, v);
	while (moved < n && pcm_now_ns() - t0 < LOAD_AFTER_MS * 1000000ull) {
		lp_sleep_ms(1);
		for (unsigned v = 0; v < n; v++)
			if (!done[v] && vcpu_ops(ram, v) != base[v]) {
				done[v] = true;
				l->v[v].after_ms = (pcm_now_ns() - t0) / 1000000;
				moved++;
			}
	}
	return moved;
}

static uint64_t check_fails(uint8_t *ram, unsigned n)
{
	uint64_t bad = 0;

	for (unsigned v = 0; v < n; v++)
		bad += __atomic_load_n(&guest_stats_of(ram, v)->check_fail, __ATOMIC_RELAXED);
	return bad;
}

static void load_check_pages(struct load *l)
{
	const struct report *r = &l->mig.rep;
	uint64_t sum = r->pages_pushed + r->pages_requested + r->pages_zero + r->pages_precopied;

	load_check(l, sum == r->pages_total,
		   "pages: pushed %llu + requested %llu + zero %llu + precopied %llu = %llu "
		   "of %llu", (unsigned long long)r->pages_pushed,
		   (unsigned long long)r->pages_requested, (unsigned long long)r->pages_zero,
		   (unsigned long long)r->pages_precopied, (unsigned long long)sum,
		   (unsigned long long)r->pages_total);
}

static void load_check_faults(struct load *l)
{
	unsigned seen = 0, n = l->o.vcpus, moved = 0;

	for (unsigned v = 0; v < n; v++) {
		seen += l->v[v].seen_fault;
		moved += l->v[v].have_ops && l->v[v].ops > l->v[v].ops_act;
	}
	load_check(l, l->mig.rep.remote_faults > 0 && seen == n && moved == n,
		   "concurrent faults: %llu remote faults; %u of %u vCPUs seen blocked in "
		   "userfaultfd, up to %u at once; %u of %u made progress during post-copy",
		   (unsigned long long)l->mig.rep.remote_faults, seen, n, l->peak_blocked,
		   moved, n);
}

static void load_check_stuck(struct load *l)
{
	uint64_t worst = 0;
	unsigned wv = 0;

	for (unsigned v = 0; v < l->o.vcpus; v++)
		if (l->v[v].blk_worst_ns > worst) {
			worst = l->v[v].blk_worst_ns;
			wv = v;
		}
	if (!l->samples) {
		load_check(l, false, "no stuck vCPU during post-copy: cannot tell, the monitor "
			   "never saw the destination (%u of %u vCPU threads, RAM %s)", l->ntids,
			   l->o.vcpus, l->dram ? "found" : "not found");
		return;
	}
	load_check(l, worst < l->o.stuck_ms * 1e6,
		   "no stuck vCPU during post-copy: longest in one fault %.1f ms (vCPU %u), "
		   "bound %.0f ms; %llu samples", worst / 1e6, wv, l->o.stuck_ms,
		   (unsigned long long)l->samples);
}

static void load_check_after(struct load *l)
{
	const struct machine_region *r;
	unsigned moved, slow = 0;

	machine_regions(l->mig.dst, &r);
	moved = load_after(l, r[0].host);
	for (unsigned v = 0; v < l->o.vcpus; v++)
		if (l->v[v].after_ms > l->v[slow].after_ms)
			slow = v;
	load_check(l, moved == l->o.vcpus,
		   "every vCPU advanced after the migration: %u of %u within %u ms "
		   "(slowest vCPU %u after %llu ms)", moved, l->o.vcpus, LOAD_AFTER_MS, slow,
		   (unsigned long long)l->v[slow].after_ms);
	load_check(l, !check_fails(r[0].host, l->o.vcpus),
		   "no vCPU saw a bad page stamp in service (check_fail 0)");
}

static void load_checks(struct load *l)
{
	const struct report *r = &l->mig.rep;
	bool ok = !l->mig.serr && !l->mig.derr && l->mig.dst;

	load_check(l, ok, "migration succeeded%s%s", ok ? "" : ": ", lp_why(&l->mig));
	if (!ok)
		return;
	load_check(l, r->verified, "verified: %s", r->verify_detail);
	load_check_pages(l);
	load_check_faults(l);
	load_check_stuck(l);
	load_check_after(l);
}

/* ---- output ---- */

static void load_print_human(const struct load *l)
{
	const struct report *r = &l->mig.rep;

	printf("fault latency: p50 %.0f us, p90 %.0f us, p99 %.0f us, max %.0f us\n",
	       r->fault_p50_us, r->fault_p90_us, r->fault_p99_us, r->fault_max_us);
	printf("remote faults %llu, blocktime %.1f ms, downtime %.1f ms, max stall %.1f ms, "
	       "total %.0f ms\n", (unsigned long long)r->remote_faults, r->blocktime_us / 1e3,
	       r->downtime_us / 1e3, r->max_stall_us / 1e3, r->total_ms);
	printf("vCPUs in a fault: %.0f%% of samples, up to %u at once; wall %.1f s "
	       "(warm-up %.1f s, migration %.1f s)\n",
	       l->samples ? 100.0 * l->blocked_samples / l->samples : 0, l->peak_blocked,
	       l->wall_s, l->warm_s, (l->mig.t1_ns - l->mig.t0_ns) / 1e9);
}

static void load_print_json(const struct load *l)
{
	const struct report *r = &l->mig.rep;
	uint64_t worst = 0;
	unsigned seen = 0;

	for (unsigned v = 0; v < l->o.vcpus; v++) {
		worst = l->v[v].blk_worst_ns > worst ? l->v[v].blk_worst_ns : worst;
		seen += l->v[v].seen_fault;
	}
	printf("{\"ok\":%s,\"vcpus\":%u,\"ram_bytes\":%llu,\"verified\":%s,"
	       "\"remote_faults\":%llu,\"fault_latency_us\":{\"p50\":%.1f,\"p90\":%.1f,"
	       "\"p99\":%.1f,\"max\":%.1f},\"blocktime_us\":%.1f,\"downtime_us\":%.1f,"
	       "\"max_stall_us\":%.1f,\"total_ms\":%.1f,\"vcpus_seen_faulting\":%u,"
	       "\"peak_blocked\":%u,\"longest_fault_ms\":%.1f,\"migration_s\":%.2f,"
	       "\"wall_s\":%.2f,\"lost_pages\":%lld}\n", l->failed ? "false" : "true", l->o.vcpus,
	       (unsigned long long)l->o.mem, r->verified ? "true" : "false",
	       (unsigned long long)r->remote_faults, r->fault_p50_us, r->fault_p90_us,
	       r->fault_p99_us, r->fault_max_us, r->blocktime_us, r->downtime_us,
	       r->max_stall_us, r->total_ms, seen, l->peak_blocked, worst / 1e6,
	       (l->mig.t1_ns - l->mig.t0_ns) / 1e9, l->wall_s,
	       (long long)r->pages_total - (long long)(r->pages_pushed + r->pages_requested +
						       r->pages_zero + r->pages_precopied));
}

/* ---- the run ---- */

static int load_migrate(struct load *l, struct machine *src)
{
	int src_tids[GUEST_MAX_VCPUS] = { 0 };
	struct lp_watchdog wd;
	int err;

	vcpu_tids(src_tids, l->o.vcpus, &l->skip);   /* the source's: skipped */
	lp_init(&l->mig, src, "postcopy");
	l->mig.mo.progress = load_progress;
	l->mig.mo.progress_arg = l;
	if ((err = lp_watchdog_start(&wd, l->out, l->o.timeout, "the migration and its checks",
				     load_diag, l)))
		return fprintf(stderr, "pcm_load: watchdog: %s\n", strerror(-err)), 1;
	if ((err = lp_start(&l->mig))) {
		lp_watchdog_stop(&wd);
		return fprintf(stderr, "pcm_load: cannot start: %s\n", wire_strerror(err)), 1;
	}
	while (!lp_finished(&l->mig)) {
		load_sample(l);
		lp_sleep_ms(LOAD_TICK_MS);
	}
	lp_join(&l->mig);
	load_checks(l);
	lp_watchdog_stop(&wd);
	l->wall_s = (pcm_now_ns() - l->t_run0) / 1e9;
	load_check(l, true, "finished within the watchdog: migration %.1f s, run %.1f s "
		   "(bound %.0f s)", (l->mig.t1_ns - l->mig.t0_ns) / 1e9, l->wall_s, l->o.timeout);
	return 0;
}

int main(int argc, char **argv)
{
	static struct load l;
	struct machine *src = NULL;
	int err = load_parse(argc, argv, &l.o);

	if (err)
		return err;
	l.out = l.o.json ? stderr : stdout;
	l.t_run0 = pcm_now_ns();
	fprintf(stderr, "pcm_load: %u vCPUs, %llu MiB, sweep writing every page, thread engine\n",
		l.o.vcpus, (unsigned long long)(l.o.mem >> 20));
	if ((err = load_boot(&l, &src)) || (err = load_migrate(&l, src))) {
		machine_destroy(src);
		return err;
	}
	machine_destroy(src);
	machine_destroy(l.mig.dst);
	(l.o.json ? load_print_json : load_print_human)(&l);
	return l.failed ? 1 : 0;
}
