/* tests/unit/test_kvm.c - the KVM engine: boot of every workload, the
 * serial console, save/load into a second machine (RAM copied by hand, as
 * a migration would), the shape of the state blob, malformed blobs, limits,
 * the dirty log and a guest crash. Every test skips where /dev/kvm does not
 * work (machine_probe says why). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "guest/pc/pc.h"
#include "guest/workload.h"
#include "vm/engine.h"
#include "vm/machine.h"
#include "lib/clock.h"

/* The KVM body header and section header of kvm/state.c, which keeps them
 * private; test_blob_walk below fails if this copy drifts from theirs. */
struct kvm_body {
	uint32_t version;
	uint32_t nsections;
	uint64_t ram_bytes;
	struct wl_params params;
	uint64_t tsc_khz;
	uint64_t realtime_ns;
};

struct kvm_sec {
	uint32_t type;
	uint32_t vcpu;
	uint32_t len;
	uint32_t reserved;
};

#define HDR_LEN  sizeof(struct machine_state_hdr)
#define PAGE     4096ull

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static struct machine_config cfg(uint64_t mib, unsigned vcpus, uint32_t wl)
{
	struct machine_config c;

	memset(&c, 0, sizeof(c));
	c.engine = MACHINE_ENGINE_KVM;
	c.ram_bytes = mib << 20;
	c.vcpus = vcpus;
	c.params.workload = wl;
	c.params.seed = 4321;
	return c;
}

/* Skip the calling test where the kvm engine cannot run. */
#define NEED_KVM()							\
	do {								\
		struct machine_config pc_ = cfg(32, 2, WL_IDLE);	\
		char why_[200] = "";					\
									\
		if (machine_probe(&pc_, why_, sizeof(why_))) {		\
			print_message("      skipped: %s\n", why_);	\
			skip();						\
		}							\
	} while (0)

/* Guest RAM: for the kvm engine one contiguous host range from region 0. */
static uint8_t *ram_of(struct machine *m)
{
	const struct machine_region *r;

	assert_true(machine_regions(m, &r) >= 1);
	assert_int_equal(r[0].gpa, 0);
	return r[0].host;
}

static struct pc_info *info_of(struct machine *m)
{
	return (struct pc_info *)(ram_of(m) + PC_INFO_OFF);
}

static uint64_t ops_of(struct machine *m)
{
	struct machine_stats s;

	machine_stats(m, &s);
	return s.ops;
}

/* Nested under QEMU TCG (run.sh sets PCM_KVM_NESTED): a timer's rate
 * there is the real host's load, not the timer's programming (boot_one). */
static bool under_emulation(void)
{
	return getenv("PCM_KVM_NESTED") != NULL;
}

/* Nested, a vCPU that stops mid-computation is looked at before the test
 * fails: does L1's KVM still enter it, take exits, inject (the harness's
 * tests/kvm-nested/kvm-trace.sh, run from the project's root there)? */
static void kvm_trace(void)
{
	if (!under_emulation())
		return;
	/* the harness (inner.sh) runs a test whose guest froze once more */
	print_message("PCM-FROZEN: a vCPU made no progress under the emulator\n");
	if (access("tests/kvm-nested/kvm-trace.sh", R_OK))
		return;
	fflush(stdout);
	if (system("sh tests/kvm-nested/kvm-trace.sh 3 2>&1 | sed 's/^/      /'"))
		print_message("      (kvm-trace.sh failed)\n");
}

static uint64_t ticks_of(struct machine *m, unsigned v)
{
	return __atomic_load_n(&info_of(m)->ticks[v], __ATOMIC_RELAXED);
}

/* Every vCPU's workload finishes its set-up. The bound is on progress,
 * not on the total: set-up work moves a vCPU's op count (kv fills its
 * table in batches, one op each), so a vCPU not yet ready whose count
 * has not moved for stall_ms never started or hangs, while one that is
 * only slow (nested under QEMU TCG on a loaded host its set-up took
 * over 5 s once, 2026-12-04, against some 0.1 s here natively) is
 * waited for, up to 10 minutes in all. */
static void wait_ready(struct machine *m, unsigned stall_ms)
{
	uint8_t *ram = ram_of(m);
	unsigned n = machine_config_of(m)->vcpus, ready = 0;
	uint64_t ops[GUEST_MAX_VCPUS] = { 0 }, moved[GUEST_MAX_VCPUS];
	uint64_t t0 = pcm_now_ns(), now;

	for (unsigned v = 0; v < n; v++)
		moved[v] = t0;
	for (;;) {
		now = pcm_now_ns();
		ready = 0;
		for (unsigned v = 0; v < n; v++) {
			const struct guest_vcpu_stats *st = guest_stats_of(ram, v);
			uint64_t o = __atomic_load_n(&st->ops, __ATOMIC_RELAXED);

			if (__atomic_load_n(&st->ready, __ATOMIC_RELAXED)) {
				ready++;
				continue;
			}
			if (o != ops[v])
				ops[v] = o, moved[v] = now;
			else if (now - moved[v] > stall_ms * 1000000ull) {
				kvm_trace();
				fail_msg("vCPU %u: not ready and no set-up progress for %u ms"
					 " (%llu ops; %u of %u ready after %.0f ms)", v, stall_ms,
					 (unsigned long long)o, ready, n, (now - t0) / 1e6);
			}
		}
		if (ready == n)
			return;
		if (machine_crashed(m))
			fail_msg("guest crashed during set-up: %s", machine_crashed(m));
		if (now - t0 > 600 * 1000000000ull)
			fail_msg("only %u of %u vCPUs ready after 600 s, still progressing", ready, n);
		sleep_ms(10);
	}
}

static void check_ram(struct machine *m)
{
	const struct machine_config *c = machine_config_of(m);
	char why[200] = "";

	if (wl_check(ram_of(m), c->ram_bytes, why, sizeof(why)))
		fail_msg("wl_check (%s): %s", wl_name(c->params.workload), why);
}

static void temp_path(char *path, size_t len, const char *tag)
{
	int fd;

	snprintf(path, len, "/tmp/test_kvm_%s_XXXXXX", tag);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
}

/* The whole file as a string (NULL-terminated, caller frees). */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	size_t cap = 1 << 16, n = 0, k;
	char *buf = malloc(cap + 1);

	assert_non_null(f);
	assert_non_null(buf);
	while ((k = fread(buf + n, 1, cap - n, f)) > 0) {
		n += k;
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			assert_non_null(buf);
		}
	}
	fclose(f);
	buf[n] = 0;
	return buf;
}

/* A console transcript: the banner count and the status lines in order. */
struct console {
	unsigned banners;
	unsigned nstatus;
	unsigned other;                     /* lines that are neither */
	uint64_t sec[64], ops[64], ticks[64];
	char banner[160];
};

static void console_parse(const char *path, struct console *con)
{
	char *text = slurp(path), *line, *save = NULL;

	memset(con, 0, sizeof(*con));
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long s, o, t;
		int end = 0;

		if (!strncmp(line, "postcopy-move payload: ", 23)) {
			if (!con->banners++)
				snprintf(con->banner, sizeof(con->banner), "%s", line);
		} else if (sscanf(line, "[%llus] ops %llu ticks %llu%n", &s, &o, &t, &end) == 3 &&
			   !line[end]) {
			if (con->nstatus < 64) {
				con->sec[con->nstatus] = s;
				con->ops[con->nstatus] = o;
				con->ticks[con->nstatus] = t;
			}
			con->nstatus++;
		} else {
			print_message("      console line not understood: \"%s\"\n", line);
			con->other++;
		}
	}
	free(text);
}

/* ---- 1. boot ---- */

/* The CPU clock of this process's thread named vcpu-<v> (the engine names
 * its vCPU threads so); the clock id is the kernel's per-thread CPU clock
 * (CPUCLOCK_SCHED of the thread), which glibc's pthread_getcpuclockid
 * builds the same way. Fails the test when the thread is not found. */
static clockid_t vcpu_clock(unsigned v)
{
	char want[16], path[300], comm[32];
	struct dirent *e;
	DIR *d = opendir("/proc/self/task");
	long tid = -1;

	assert_non_null(d);
	snprintf(want, sizeof(want), "vcpu-%u\n", v);
	while ((e = readdir(d)) && tid < 0) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		if (!(f = fopen(path, "r")))
			continue;
		if (fgets(comm, sizeof(comm), f) && !strcmp(comm, want))
			tid = strtol(e->d_name, NULL, 10);
		fclose(f);
	}
	closedir(d);
	if (tid < 0)
		fail_msg("no thread named vcpu-%u", v);
	return (clockid_t)((~(unsigned long)tid << 3) | 6);
}

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	assert_int_equal(clock_gettime(c, &ts), 0);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One window of ms: every vCPU made progress and took timer ticks at no
 * more than twice the PC timer's rate; returns the slowest vCPU's rate.
 * A busy workload's rate is per second its vCPU thread was on a CPU: ticks
 * that fall due while the thread waits for a CPU arrive as one interrupt,
 * so per wall-clock second the rate says how loaded the host is (276 Hz
 * was seen under ASan with one core kept busy), while per second run it
 * says whether the timer runs at its rate. An idle vCPU sleeps between
 * ticks, so its rate stays per wall-clock second. */
static double boot_window(struct machine *m, unsigned ms, int print)
{
	uint32_t wl = machine_config_of(m)->params.workload;
	uint8_t *ram = ram_of(m);
	struct machine_stats s0, s1;
	uint64_t t0, dt, tk0[2], tk1[2], ops0[2], ops1[2], c0[2], run[2];
	clockid_t clk[2] = { vcpu_clock(0), vcpu_clock(1) };
	double hz[2], rate[2];

	machine_stats(m, &s0);
	t0 = pcm_now_ns();
	for (unsigned v = 0; v < 2; v++) {
		tk0[v] = ticks_of(m, v);
		ops0[v] = guest_stats_of(ram, v)->ops;
		c0[v] = clock_ns(clk[v]);
	}
	sleep_ms(ms);
	machine_stats(m, &s1);
	dt = pcm_now_ns() - t0;
	for (unsigned v = 0; v < 2; v++) {
		tk1[v] = ticks_of(m, v);
		ops1[v] = guest_stats_of(ram, v)->ops;
		run[v] = clock_ns(clk[v]) - c0[v];
		hz[v] = (tk1[v] - tk0[v]) * 1e9 / dt;
		rate[v] = wl == WL_IDLE || !run[v] ? hz[v] : (tk1[v] - tk0[v]) * 1e9 / run[v];
	}
	assert_null(machine_crashed(m));
	if (print)
		print_message("      %-5s: per s: ops %llu, heartbeats %llu, ticks %.0f / %.0f"
			      " (per s run %.0f / %.0f, ran %.0f%% / %.0f%%)\n",
			      wl_name(wl),
			      (unsigned long long)((s1.ops - s0.ops) * 1000000000ull / dt),
			      (unsigned long long)((s1.heartbeats - s0.heartbeats) * 1000000000ull / dt),
			      hz[0], hz[1], rate[0], rate[1],
			      run[0] * 100.0 / dt, run[1] * 100.0 / dt);
	assert_true(s1.heartbeats > s0.heartbeats);
	assert_true(s1.ops > s0.ops);
	for (unsigned v = 0; v < 2; v++) {
		if (ops1[v] <= ops0[v])
			fail_msg("%s: vCPU %u made no progress", wl_name(wl), v);
		if (hz[v] > 2000)
			fail_msg("%s: vCPU %u timer at %.0f Hz, want about 1000", wl_name(wl), v, hz[v]);
		assert_int_equal(guest_stats_of(ram, v)->check_fail, 0);
	}
	return rate[0] < rate[1] ? rate[0] : rate[1];
}

static void boot_one(uint32_t wl)
{
	struct machine_config c = cfg(32, 2, wl);
	struct machine *m;
	uint64_t t0;
	/* An idle vCPU's rate is per wall-clock second: off its host CPU
	 * (asleep in the VMM's futex, then waiting for a CPU) it takes the
	 * ticks that fell due as one interrupt, so it drops with host load.
	 * A busy vCPU's rate is per second run (boot_window), 1000-1260 Hz
	 * idle or beside a spinning core; below 600 the timer is wrong.
	 * Nested under QEMU TCG (run.sh sets PCM_KVM_NESTED), L1's clock
	 * runs at wall speed while its CPUs get what the real host leaves
	 * them, and each tick needs L1 to run its own timer and inject it:
	 * a vCPU that "ran" all of a window took 11 Hz once (2026-12-04,
	 * host loaded). There the rate says nothing of how the timer is
	 * programmed; that it ticks, and not too fast, is what holds. */
	double min_hz = under_emulation() ? 1 : wl == WL_IDLE ? 150 : 600, hz = 0;

	assert_int_equal(machine_create(&c, &m), 0);
	assert_int_equal(info_of(m)->magic, PC_INFO_MAGIC);
	assert_int_equal(info_of(m)->nvcpus, 2);
	assert_int_equal(info_of(m)->timer_hz, 1000);
	t0 = pcm_now_ns();
	assert_int_equal(machine_start(m), 0);
	assert_int_equal(machine_start(m), -EBUSY);
	wait_ready(m, 5000);
	print_message("      %-5s: ready in %.0f ms\n", wl_name(wl), (pcm_now_ns() - t0) / 1e6);
	/* A busy host may starve one window; three chances. */
	for (int i = 0; i < 3 && hz < min_hz; i++) {
		hz = boot_window(m, 700, 1);
		if (hz < min_hz)
			print_message("      %-5s: slowest vCPU at %.0f Hz, below %.0f: again\n",
				      wl_name(wl), hz, min_hz);
	}
	if (hz < min_hz)
		fail_msg("%s: timer at %.0f Hz in the best of 3 windows", wl_name(wl), hz);
	assert_int_equal(machine_pause(m), 0);
	check_ram(m);
	machine_destroy(m);
}

static void test_boot(void **state)
{
	(void)state;
	NEED_KVM();
	boot_one(WL_IDLE);
	boot_one(WL_SWEEP);
	boot_one(WL_KV);
}

/* ---- 2. console ---- */

static void test_console(void **state)
{
	struct machine_config c = cfg(32, 2, WL_KV);
	struct machine *m;
	struct console con0, con;
	unsigned first, n;
	char path[64];

	(void)state;
	NEED_KVM();
	temp_path(path, sizeof(path), "console");
	c.console = path;
	assert_int_equal(machine_create(&c, &m), 0);
	assert_int_equal(machine_start(m), 0);
	/* The 2.5 s window starts once the workload runs: kv's set-up takes
	 * 0.1 s on hardware and 1 to 3 s nested under software emulation,
	 * and prints status lines of its own while it lasts. */
	wait_ready(m, 5000);
	console_parse(path, &con0);
	sleep_ms(2500);
	assert_int_equal(machine_pause(m), 0);
	console_parse(path, &con);
	machine_destroy(m);
	unlink(path);

	first = con0.nstatus;
	n = con.nstatus - first;
	print_message("      banner \"%s\", %u status lines in 2.5 s (%u during set-up)\n",
		      con.banner, n, first);
	assert_int_equal(con.banners, 1);
	assert_string_equal(con.banner, "postcopy-move payload: 2 vCPUs, workload kv, RAM 32 MiB");
	assert_int_equal(con.other, 0);
	assert_true(con.nstatus <= 64);
	/* One a second: 2 or 3 in 2.5 s, give or take. */
	assert_in_range(n, 2, 4);
	for (unsigned i = first + 1; i < con.nstatus; i++) {
		assert_in_range(con.sec[i] - con.sec[i - 1], 1, 2);
		assert_true(con.ops[i] > con.ops[i - 1]);
		/* The rate is test_boot's; a busy host merges ticks. */
		assert_in_range(con.ticks[i] - con.ticks[i - 1], 100, 2000);
	}
}

/* ---- 3. round trip ---- */

static void test_round_trip(void **state)
{
	struct machine_config c = cfg(64, 2, WL_KV), ci;
	struct machine *m1, *m2;
	const struct machine_region *r1, *r2;
	unsigned n1, n2;
	struct machine_stats s;
	struct console con0, con1;
	uint64_t ops_v[2], last_op[2], ticks_v[2], ops_paused;
	char path[64];
	const unsigned migrate_ms = 200;
	size_t need;
	ssize_t n;
	void *blob;

	(void)state;
	NEED_KVM();
	temp_path(path, sizeof(path), "rt");
	c.console = path;
	assert_int_equal(machine_create(&c, &m1), 0);
	assert_int_equal(machine_start(m1), 0);
	wait_ready(m1, 5000);
	sleep_ms(1000);
	assert_int_equal(machine_pause(m1), 0);
	assert_null(machine_crashed(m1));
	/* Nothing moves while paused. */
	ops_paused = ops_of(m1);
	for (unsigned v = 0; v < 2; v++)
		ticks_v[v] = ticks_of(m1, v);
	sleep_ms(30);
	assert_int_equal(ops_of(m1), ops_paused);
	for (unsigned v = 0; v < 2; v++) {
		assert_int_equal(ticks_of(m1, v), ticks_v[v]);
		ops_v[v] = guest_stats_of(ram_of(m1), v)->ops;
		last_op[v] = guest_stats_of(ram_of(m1), v)->last_op_ns;
	}
	check_ram(m1);
	console_parse(path, &con0);
	assert_true(con0.nstatus >= 1);

	need = machine_state_size(m1);
	blob = malloc(need);
	assert_non_null(blob);
	n = machine_save(m1, blob, need);
	assert_int_equal(n, (ssize_t)need);

	/* The destination learns the workload from the blob. */
	ci = c;
	ci.params.workload = 0;
	ci.params.seed = 0;
	assert_int_equal(machine_create_incoming(&ci, &m2), 0);
	assert_int_equal(machine_start(m2), -EINVAL);    /* nothing loaded yet */
	n1 = machine_regions(m1, &r1);
	n2 = machine_regions(m2, &r2);
	assert_int_equal(n1, n2);
	for (unsigned i = 0; i < n1; i++) {
		assert_int_equal(r1[i].gpa, r2[i].gpa);
		assert_int_equal(r1[i].size, r2[i].size);
		memcpy(r2[i].host, r1[i].host, r1[i].size);
	}
	sleep_ms(migrate_ms);
	assert_int_equal(machine_load(m2, blob, (size_t)n), 0);
	assert_null(machine_why(m2));
	assert_int_equal(machine_config_of(m2)->params.workload, WL_KV);
	assert_int_equal(machine_config_of(m2)->params.kv_keys,
			 machine_config_of(m1)->params.kv_keys);
	machine_destroy(m1);
	machine_stats(m2, &s);
	assert_int_equal(s.ops, ops_paused);
	assert_int_equal(s.heartbeats, 0);
	/* A new stall window: the first operation after the load measures
	 * the migration's gap on the guest's own clock. */
	machine_stall_reset(m2);
	assert_int_equal(machine_start(m2), 0);
	assert_int_equal(machine_load(m2, blob, (size_t)n), -EBUSY);
	sleep_ms(1500);
	assert_null(machine_crashed(m2));
	for (unsigned v = 0; v < 2; v++) {
		uint64_t t = ticks_of(m2, v);

		/* 1.5 s at 1000 Hz on top of where it stopped; a busy host
		 * merges ticks (test_boot checks the rate), so ask for 10%;
		 * under emulation, that it ticks on. */
		if (t < ticks_v[v] + (under_emulation() ? 1 : 150))
			fail_msg("vCPU %u ticks %llu -> %llu after load", v,
				 (unsigned long long)ticks_v[v], (unsigned long long)t);
	}
	assert_int_equal(machine_pause(m2), 0);
	machine_stats(m2, &s);
	print_message("      ops %llu -> %llu; guest max gap %.1f ms (migration >= %u ms)\n",
		      (unsigned long long)ops_paused, (unsigned long long)s.ops,
		      s.max_gap_ns / 1e6, migrate_ms);
	assert_true(s.ops > ops_paused);
	assert_true(s.heartbeats > 0);
	/* The guest clock went on by the wall time, not less, not much more. */
	assert_true(s.max_gap_ns >= migrate_ms * 1000000ull);
	assert_true(s.max_gap_ns < 5000000000ull);
	for (unsigned v = 0; v < 2; v++) {
		struct guest_vcpu_stats *g = guest_stats_of(ram_of(m2), v);

		assert_true(g->ops > ops_v[v]);
		assert_true(g->last_op_ns >= last_op[v]);
		assert_int_equal(g->check_fail, 0);
	}
	check_ram(m2);

	/* The console goes on in the same file, counting from where it was. */
	console_parse(path, &con1);
	print_message("      console: %u status lines before the load, %u after\n",
		      con0.nstatus, con1.nstatus - con0.nstatus);
	assert_int_equal(con1.banners, 1);
	assert_int_equal(con1.other, 0);
	assert_true(con1.nstatus >= con0.nstatus + 1);
	assert_true(con1.nstatus <= 64);
	for (unsigned i = con0.nstatus; i < con1.nstatus; i++) {
		assert_true(con1.sec[i] >= con1.sec[i - 1]);
		assert_true(con1.ops[i] >= ops_v[0]);
		assert_true(con1.ticks[i] >= ticks_v[0]);
	}
	machine_destroy(m2);
	free(blob);
	unlink(path);
}

/* ---- 4. blob shape ---- */

static size_t state_size_for(unsigned vcpus)
{
	struct machine_config c = cfg(16, vcpus, WL_IDLE);
	struct machine *m;
	size_t sz;

	assert_int_equal(machine_create(&c, &m), 0);
	sz = machine_state_size(m);
	machine_destroy(m);
	return sz;
}

/* Walk a blob's sections with the copy of the format above. */
static void blob_walk(const uint8_t *blob, size_t len, unsigned vcpus)
{
	const struct machine_state_hdr *h = (const void *)blob;
	struct kvm_body b;
	size_t pos = HDR_LEN + sizeof(b);
	unsigned per_vcpu[64] = { 0 }, dev = 0;

	assert_int_equal(h->magic, MACHINE_STATE_MAGIC);
	assert_int_equal(h->version, MACHINE_STATE_VERSION);
	assert_int_equal(h->engine, MACHINE_ENGINE_KVM);
	assert_int_equal(h->hdr_size, HDR_LEN);
	assert_int_equal(h->nvcpus, vcpus);
	assert_int_equal(h->total_len, len);
	memcpy(&b, blob + HDR_LEN, sizeof(b));
	assert_int_equal(b.version, 2);
	for (uint32_t i = 0; i < b.nsections; i++) {
		struct kvm_sec s;

		assert_true(pos + sizeof(s) <= len);
		memcpy(&s, blob + pos, sizeof(s));
		pos += sizeof(s) + ((s.len + 7) & ~7u);
		assert_true(pos <= len);
		if (s.vcpu == 0xffffffffu)
			dev++;
		else if (s.vcpu < vcpus)
			per_vcpu[s.vcpu]++;
		else
			fail_msg("section %u names vCPU %u", i, s.vcpu);
	}
	assert_int_equal(pos, len);
	assert_true(dev > 0);
	for (unsigned v = 1; v < vcpus; v++)
		assert_int_equal(per_vcpu[v], per_vcpu[0]);
}

static void test_blob_shape(void **state)
{
	struct machine_config c = cfg(32, 2, WL_KV), ci = c;
	struct machine *m, *mi;
	size_t s1, s2, s4, need;
	ssize_t n;
	uint8_t *blob;

	(void)state;
	NEED_KVM();
	s1 = state_size_for(1);
	s2 = state_size_for(2);
	s4 = state_size_for(4);
	print_message("      state blob: %zu / %zu / %zu bytes for 1 / 2 / 4 vCPUs: "
		      "%zu per vCPU, %zu fixed\n", s1, s2, s4, s2 - s1, s1 - (s2 - s1));
	assert_true(s2 > s1);
	assert_int_equal(s4 - s2, 2 * (s2 - s1));
	assert_true(s1 > s2 - s1);                 /* device sections exist */

	assert_int_equal(machine_create(&c, &m), 0);
	need = machine_state_size(m);
	assert_int_equal(need, s2);
	blob = calloc(1, need);
	assert_non_null(blob);
	assert_int_equal(machine_start(m), 0);
	sleep_ms(100);
	assert_int_equal(machine_save(m, blob, need), -EBUSY);
	assert_int_equal(machine_pause(m), 0);
	assert_int_equal(machine_save(m, blob, need - 1), -ENOSPC);
	assert_int_equal(machine_save(m, blob, 0), -ENOSPC);
	assert_int_equal(machine_save(m, NULL, need), -ENOSPC);
	n = machine_save(m, blob, need);
	assert_int_equal(n, (ssize_t)need);
	blob_walk(blob, (size_t)n, 2);
	/* Saving twice while paused gives the same vCPU state. */
	{
		uint8_t *again = calloc(1, need);
		struct kvm_body b1, b2;

		assert_non_null(again);
		assert_int_equal(machine_save(m, again, need), (ssize_t)need);
		memcpy(&b1, blob + HDR_LEN, sizeof(b1));
		memcpy(&b2, again + HDR_LEN, sizeof(b2));
		assert_int_equal(b1.nsections, b2.nsections);
		assert_int_equal(b1.ram_bytes, c.ram_bytes);
		assert_int_equal(b1.params.workload, WL_KV);
		free(again);
	}
	/* A running VM again refuses; an incoming one with nothing loaded has
	 * nothing to save. */
	assert_int_equal(machine_resume(m), 0);
	assert_int_equal(machine_save(m, blob, need), -EBUSY);
	assert_int_equal(machine_pause(m), 0);
	ci.params.workload = 0;
	assert_int_equal(machine_create_incoming(&ci, &mi), 0);
	assert_int_equal(machine_save(mi, blob, machine_state_size(mi)), -EINVAL);
	assert_int_equal(machine_resume(mi), -EINVAL);
	machine_destroy(mi);
	machine_destroy(m);
	free(blob);
}

/* ---- 5. bad blobs ---- */

static struct kvm_body *body_of(uint8_t *b)
{
	return (struct kvm_body *)(b + HDR_LEN);
}

/* Offset of section i (0-based) in the blob. */
static size_t sec_off(const uint8_t *b, unsigned i)
{
	size_t pos = HDR_LEN + sizeof(struct kvm_body);

	while (i--) {
		struct kvm_sec s;

		memcpy(&s, b + pos, sizeof(s));
		pos += sizeof(s) + ((s.len + 7) & ~7u);
	}
	return pos;
}

static int has_word(const char *s, const char *words)
{
	char w[32];
	const char *p = words;

	/* words: '|'-separated, matched case-insensitively. */
	while (*p) {
		size_t n = strcspn(p, "|");

		snprintf(w, sizeof(w), "%.*s", (int)n, p);
		if (strcasestr(s, w))
			return 1;
		p += n + (p[n] == '|');
	}
	return 0;
}

/* Load b (len bytes) into m; it must fail with err, and when words is
 * given, machine_why must say one of them. */
static void refused(struct machine *m, const uint8_t *b, size_t len, int err,
		    const char *words, const char *what)
{
	int r = machine_load(m, b, len);
	const char *why = machine_why(m);

	if (r != err)
		fail_msg("%s: machine_load gave %d (%s), want %d", what, r, why ? why : "no reason", err);
	if (words && (!why || !has_word(why, words)))
		fail_msg("%s: reason \"%s\" does not say %s", what, why ? why : "(none)", words);
}

static void test_bad_blobs(void **state)
{
	struct machine_config c = cfg(32, 2, WL_KV), ci = c, c4, c64;
	struct machine *src, *dst, *dst4, *dst64;
	const struct machine_region *rs, *rd;
	uint8_t *blob, *b;
	size_t need, n, cap;
	ssize_t got;
	uint64_t ops;
	unsigned cuts = 0;

	(void)state;
	NEED_KVM();
	assert_int_equal(machine_create(&c, &src), 0);
	assert_int_equal(machine_start(src), 0);
	wait_ready(src, 5000);
	sleep_ms(200);
	assert_int_equal(machine_pause(src), 0);
	need = machine_state_size(src);
	blob = malloc(need);
	assert_non_null(blob);
	got = machine_save(src, blob, need);
	assert_true(got > 0);
	n = (size_t)got;
	cap = n + 4096;
	b = malloc(cap);
	assert_non_null(b);

	ci.params.workload = 0;
	c4 = ci;
	c4.vcpus = 4;
	c64 = ci;
	c64.ram_bytes = 64ull << 20;
	assert_int_equal(machine_create_incoming(&ci, &dst), 0);
	assert_int_equal(machine_create_incoming(&c4, &dst4), 0);
	assert_int_equal(machine_create_incoming(&c64, &dst64), 0);

#define FRESH() memcpy(b, blob, n)
	/* Outer header: machine.c refuses before the engine sees it. */
	FRESH();
	((struct machine_state_hdr *)b)->magic ^= 1;
	refused(dst, b, n, -EINVAL, NULL, "outer magic");
	FRESH();
	((struct machine_state_hdr *)b)->version = MACHINE_STATE_VERSION + 1;
	refused(dst, b, n, -EINVAL, NULL, "outer version");
	FRESH();
	((struct machine_state_hdr *)b)->engine = MACHINE_ENGINE_THREAD;
	refused(dst, b, n, -ENOEXEC, NULL, "thread engine blob");
	refused(dst4, blob, n, -ENOEXEC, NULL, "2-vCPU blob into 4 vCPUs");

	/* The KVM body. */
	FRESH();
	body_of(b)->version = 99;
	refused(dst, b, n, -EINVAL, "version", "KVM body version");
	FRESH();
	body_of(b)->params.workload = 99;
	refused(dst, b, n, -EINVAL, "workload", "unknown workload");
	FRESH();
	body_of(b)->nsections = 100000;
	refused(dst, b, n, -EINVAL, "sections", "absurd section count");
	refused(dst64, blob, n, -ENOEXEC, "RAM", "32 MiB blob into 64 MiB");
	FRESH();
	body_of(b)->ram_bytes = 64ull << 20;
	refused(dst, b, n, -ENOEXEC, "RAM", "ram_bytes patched");

	/* Truncations that keep the outer header consistent, so the inner
	 * parser must notice: every 997 bytes, and near the end. */
	for (size_t cut = HDR_LEN; cut < n; cut += 997) {
		FRESH();
		((struct machine_state_hdr *)b)->total_len = cut;
		refused(dst, b, cut, -EINVAL, "truncated|past|shorter", "truncated blob");
		cuts++;
	}
	for (size_t d = 1; d <= 24; d++) {
		FRESH();
		((struct machine_state_hdr *)b)->total_len = n - d;
		refused(dst, b, n - d, -EINVAL, "truncated|past|shorter", "blob short by a little");
		cuts++;
	}
	/* Cut at every section boundary: whole sections missing. */
	for (unsigned i = 0; i < body_of(blob)->nsections; i++) {
		size_t at = sec_off(blob, i);

		FRESH();
		((struct machine_state_hdr *)b)->total_len = at;
		refused(dst, b, at, -EINVAL, "truncated|past|shorter", "blob cut at a section");
		cuts++;
	}
	print_message("      %u truncations refused\n", cuts);
	/* Extra bytes after the last section. */
	FRESH();
	memset(b + n, 0, 16);
	((struct machine_state_hdr *)b)->total_len = n + 16;
	refused(dst, b, n + 16, -EINVAL, "after", "trailing bytes");

	/* A section length pointing past the end, for the first and last. */
	FRESH();
	((struct kvm_sec *)(b + sec_off(b, 0)))->len = 0x7ffffff0u;
	refused(dst, b, n, -EINVAL, "past", "first section too long");
	FRESH();
	((struct kvm_sec *)(b + sec_off(b, body_of(b)->nsections - 1)))->len += 8;
	refused(dst, b, n, -EINVAL, "past", "last section too long");
	/* A fixed-size section with a wrong length. */
	FRESH();
	((struct kvm_sec *)(b + sec_off(b, 0)))->len -= 8;
	refused(dst, b, n, -EINVAL, "length", "short fixed-size section");
	/* A section type nobody knows, and a vCPU that does not exist. */
	FRESH();
	((struct kvm_sec *)(b + sec_off(b, 0)))->type = 1000;
	refused(dst, b, n, -EINVAL, "unknown", "unknown section type");
	{
		unsigned last = body_of(blob)->nsections - 1;

		FRESH();
		((struct kvm_sec *)(b + sec_off(b, last)))->vcpu = 7;
		refused(dst, b, n, -EINVAL, "unknown|vCPU", "section of vCPU 7");
	}
	/* The first section again at the end: a duplicate. */
	{
		size_t s0 = sec_off(blob, 0), s1 = sec_off(blob, 1);

		FRESH();
		assert_true(n + (s1 - s0) <= cap);
		memcpy(b + n, blob + s0, s1 - s0);
		body_of(b)->nsections++;
		((struct machine_state_hdr *)b)->total_len = n + (s1 - s0);
		refused(dst, b, n + (s1 - s0), -EINVAL, "twice", "duplicated section");
	}
	/* The serial port's own section (kvm/dev/com1.c): registers no
	 * 16550A holds are refused by the device; a second copy by the
	 * parser. Its data: kind, instance, version, reserved, then the
	 * registers (version, rbr, ier, iir, ...). */
	{
		unsigned i = 0;
		size_t at, next;

		while (i < body_of(blob)->nsections &&
		       ((struct kvm_sec *)(blob + sec_off(blob, i)))->type != 64)
			i++;
		assert_true(i < body_of(blob)->nsections);
		at = sec_off(blob, i);
		next = sec_off(blob, i + 1);
		FRESH();
		b[at + sizeof(struct kvm_sec) + 16 + 3] = 0x0c;   /* IIR: receive timeout */
		refused(dst, b, n, -EINVAL, "serial port", "impossible UART registers");
		FRESH();
		assert_true(n + (next - at) <= cap);
		memcpy(b + n, blob + at, next - at);
		body_of(b)->nsections++;
		((struct machine_state_hdr *)b)->total_len = n + (next - at);
		refused(dst, b, n + (next - at), -EINVAL, "twice", "serial port twice");
	}
	/* Claiming 4 vCPUs in the outer header of a 2-vCPU body: the inner
	 * parser finds vCPUs 2 and 3 missing. */
	FRESH();
	((struct machine_state_hdr *)b)->nvcpus = 4;
	refused(dst4, b, n, -EINVAL, "lacks", "2-vCPU body for 4 vCPUs");
#undef FRESH

	/* None of that left a state behind: dst cannot start ... */
	assert_int_equal(machine_start(dst), -EINVAL);
	/* ... and the source, resumed as a source may before commitment,
	 * runs on. */
	ops = ops_of(src);
	assert_int_equal(machine_resume(src), 0);
	sleep_ms(100);
	assert_true(ops_of(src) > ops);
	assert_null(machine_crashed(src));
	assert_int_equal(machine_pause(src), 0);
	/* The good blob still loads into dst after all the refusals (RAM from
	 * the same moment as the blob is gone: the source ran on, so save
	 * again). */
	got = machine_save(src, blob, need);
	assert_int_equal(got, (ssize_t)n);
	assert_int_equal(machine_regions(src, &rs), machine_regions(dst, &rd));
	for (unsigned i = 0; i < machine_regions(src, NULL); i++)
		memcpy(rd[i].host, rs[i].host, rs[i].size);
	assert_int_equal(machine_load(dst, blob, n), 0);
	assert_int_equal(machine_start(dst), 0);
	sleep_ms(100);
	assert_int_equal(machine_pause(dst), 0);
	assert_null(machine_crashed(dst));
	assert_true(ops_of(dst) > ops_of(src));
	check_ram(dst);

	machine_destroy(dst);
	machine_destroy(dst4);
	machine_destroy(dst64);
	machine_destroy(src);
	free(b);
	free(blob);
}

/* The reason machine_why gives after a refused outer header must not be
 * an older call's: "the reason of the last failed call". */
static void test_why_not_stale(void **state)
{
	struct machine_config c = cfg(16, 1, WL_IDLE), ci = c;
	struct machine *src, *dst;
	uint8_t *blob;
	size_t n;
	const char *why;

	(void)state;
	NEED_KVM();
	assert_int_equal(machine_create(&c, &src), 0);
	n = machine_state_size(src);
	blob = malloc(n);
	assert_non_null(blob);
	assert_int_equal(machine_save(src, blob, n), (ssize_t)n);
	ci.params.workload = 0;
	assert_int_equal(machine_create_incoming(&ci, &dst), 0);
	body_of(blob)->version = 9;
	assert_int_equal(machine_load(dst, blob, n), -EINVAL);
	assert_non_null(machine_why(dst));
	body_of(blob)->version = 2;
	((struct machine_state_hdr *)blob)->magic ^= 1;
	assert_int_equal(machine_load(dst, blob, n), -EINVAL);
	why = machine_why(dst);
	print_message("      after a bad magic, machine_why says: %s\n", why ? why : "(nothing)");
	if (why && strstr(why, "version 9"))
		fail_msg("machine_why still gives the previous failure's reason: \"%s\"", why);
	machine_destroy(dst);
	machine_destroy(src);
	free(blob);
}

/* ---- 6. limits ---- */

static void test_limits(void **state)
{
	struct machine_config c = cfg(64, 64, WL_KV);
	struct machine *m = (struct machine *)1;
	char why[200] = "";
	int r;

	(void)state;
	NEED_KVM();
	r = machine_probe(&c, why, sizeof(why));
	print_message("      probe 64 vCPUs: %d %s\n", r, r ? why : "(fine)");
	if (r) {
		assert_int_equal(r, -EINVAL);
		assert_non_null(strstr(why, "vCPUs"));
	}
	c = cfg(0, 2, WL_KV);
	c.ram_bytes = 65ull << 30;
	why[0] = 0;
	assert_int_equal(machine_probe(&c, why, sizeof(why)), -E2BIG);
	print_message("      probe 65 GiB: %s\n", why);
	assert_non_null(strstr(why, "GiB"));
	c.ram_bytes = 64ull << 30;                         /* the limit itself */
	assert_int_equal(machine_probe(&c, why, sizeof(why)), 0);

	/* Too small for the workload: refused before any VM exists. */
	c = cfg(2, 1, WL_KV);
	assert_int_equal(machine_create(&c, &m), -EINVAL);
	assert_null(m);
	c = cfg(4, 64, WL_KV);
	c.params.working_set = 64 * 8192;                 /* 2 pages per vCPU */
	assert_int_equal(machine_create(&c, &m), -EINVAL);
	assert_null(m);
	c = cfg(8, 2, WL_SWEEP);
	c.params.working_set = 16ull << 20;               /* larger than RAM */
	assert_int_equal(machine_create(&c, &m), -EINVAL);
	assert_null(m);
	c = cfg(8, 2, 0);                                  /* no workload */
	assert_int_equal(machine_create(&c, &m), -EINVAL);
	assert_null(m);
}

/* ---- 7. dirty log ---- */

static uint64_t bits_in(const uint64_t *bm, uint64_t from, uint64_t to)
{
	uint64_t n = 0;

	for (uint64_t p = from; p < to; p++)
		n += (bm[p / 64] >> (p % 64)) & 1;
	return n;
}

static void test_dirty_log(void **state)
{
	struct machine_config c = cfg(32, 2, WL_SWEEP), ct;
	struct machine *m, *mt;
	const uint64_t ws = 8ull << 20, npages = (32ull << 20) / PAGE;
	const uint64_t ws_first = GUEST_DATA_OFF / PAGE, ws_end = (GUEST_DATA_OFF + ws) / PAGE;
	const uint64_t margin = 64;                        /* pages */
	uint64_t *bm = calloc(npages / 64, 8), in_ws, beyond, low, sentinel;

	(void)state;
	assert_non_null(bm);
	/* The same interface on the thread engine (userfaultfd write-protect;
	 * tests/unit/test_dirty.c covers it): a fetch before the start is
	 * refused, start and stop work. */
	ct = c;
	ct.engine = MACHINE_ENGINE_THREAD;
	assert_int_equal(machine_create(&ct, &mt), 0);
	assert_int_equal(machine_dirty_fetch(mt, bm, npages), -EINVAL);
	assert_int_equal(machine_dirty_start(mt), 0);
	assert_int_equal(machine_dirty_stop(mt), 0);
	machine_destroy(mt);
	free(bm);   /* NEED_KVM's skip jumps past any free below (ASan saw the leak) */

	NEED_KVM();
	bm = calloc(npages / 64, 8);
	assert_non_null(bm);
	/* Every page the sweep touches is written, so a pass dirties all of
	 * the working set. */
	c.params.working_set = ws;
	c.params.write_permille = 1000;
	assert_int_equal(machine_create(&c, &m), 0);
	assert_int_equal(machine_start(m), 0);
	wait_ready(m, 5000);
	assert_int_equal(machine_dirty_start(m), 0);
	sleep_ms(100);
	/* The bitmap is ORed into: a bit set before stays set. */
	sentinel = npages - 1;
	bm[sentinel / 64] |= 1ull << (sentinel % 64);
	assert_int_equal(machine_dirty_fetch(m, bm, npages - 1), -EINVAL);
	assert_int_equal(machine_dirty_fetch(m, bm, npages), 0);
	in_ws = bits_in(bm, ws_first, ws_end);
	print_message("      100 ms of sweep: %llu of %llu working-set pages dirty\n",
		      (unsigned long long)in_ws, (unsigned long long)(ws_end - ws_first));
	/* One pass takes far less than 100 ms; on a loaded host a vCPU may
	 * have lost its CPU, so give it up to 2 s more (fetches OR in). */
	for (int i = 0; i < 200 && in_ws < ws_end - ws_first; i++) {
		sleep_ms(10);
		assert_int_equal(machine_dirty_fetch(m, bm, npages), 0);
		in_ws = bits_in(bm, ws_first, ws_end);
	}
	beyond = bits_in(bm, ws_end + margin, npages - 1);
	low = bits_in(bm, 0, ws_first);
	print_message("      then %llu dirty in the working set, %llu below it, %llu beyond it\n",
		      (unsigned long long)in_ws, (unsigned long long)low,
		      (unsigned long long)beyond);
	assert_true((bm[sentinel / 64] >> (sentinel % 64)) & 1);
	assert_int_equal(in_ws, ws_end - ws_first);
	assert_int_equal(beyond, 0);
	assert_true(low > 0);                 /* the stats area at least */

	/* Paused: after one fetch to clear the log, nothing more is dirty. */
	assert_int_equal(machine_pause(m), 0);
	memset(bm, 0, npages / 8);
	assert_int_equal(machine_dirty_fetch(m, bm, npages), 0);
	memset(bm, 0, npages / 8);
	sleep_ms(50);
	assert_int_equal(machine_dirty_fetch(m, bm, npages), 0);
	assert_int_equal(bits_in(bm, 0, npages), 0);
	/* Resumed: the log catches writes again. */
	assert_int_equal(machine_resume(m), 0);
	sleep_ms(50);
	assert_int_equal(machine_dirty_fetch(m, bm, npages), 0);
	assert_true(bits_in(bm, ws_first, ws_end) > 0);
	assert_int_equal(machine_dirty_stop(m), 0);
	/* With logging off the sweep runs on as before. */
	{
		uint64_t ops = ops_of(m);

		sleep_ms(50);
		assert_true(ops_of(m) > ops);
	}
	assert_null(machine_crashed(m));
	assert_int_equal(machine_pause(m), 0);
	check_ram(m);
	machine_destroy(m);
	free(bm);
}

/* ---- 8. a guest crash ---- */

static void test_crash(void **state)
{
	struct machine_config c = cfg(16, 2, WL_KV);
	struct machine *m;
	struct machine_stats s0, s1;
	const char *why = NULL;
	uint64_t t0;

	(void)state;
	NEED_KVM();
	assert_int_equal(machine_create(&c, &m), 0);
	assert_int_equal(machine_start(m), 0);
	wait_ready(m, 5000);
	assert_int_equal(machine_pause(m), 0);
	assert_null(machine_crashed(m));
	/* int3 over the payload's code, data and IDT: the next instruction
	 * traps through a garbage gate, which ends in a triple fault. */
	memset(ram_of(m) + PC_CODE_OFF, 0xcc, PC_CODE_MAX);
	assert_int_equal(machine_resume(m), 0);
	for (int i = 0; i < 200 && !(why = machine_crashed(m)); i++)
		sleep_ms(10);
	print_message("      crashed: %s\n", why ? why : "(not within 2 s)");
	assert_non_null(why);
	assert_true(has_word(why, "vCPU"));
	/* The vCPUs stopped; pause and destroy still work. */
	machine_stats(m, &s0);
	sleep_ms(50);
	machine_stats(m, &s1);
	assert_int_equal(s1.heartbeats, s0.heartbeats);
	assert_int_equal(s1.ops, s0.ops);
	t0 = pcm_now_ns();
	assert_int_equal(machine_pause(m), 0);
	assert_true(pcm_now_ns() - t0 < 1000000000ull);
	machine_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boot),
		cmocka_unit_test(test_console),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_blob_shape),
		cmocka_unit_test(test_bad_blobs),
		cmocka_unit_test(test_why_not_stale),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_dirty_log),
		cmocka_unit_test(test_crash),
	};

	return cmocka_run_group_tests_name("kvm engine", tests, NULL, NULL);
}
