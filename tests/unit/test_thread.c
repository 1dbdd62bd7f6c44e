/* tests/unit/test_thread.c - the thread engine: run, pause, save, load on
 * a second machine (RAM copied by hand, as a migration would), malformed
 * blobs, the guest clock across a load, pause latency. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "guest/workload.h"
#include "lib/clock.h"
#include "vm/engine.h"
#include "vm/machine.h"

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
	c.engine = MACHINE_ENGINE_THREAD;
	c.ram_bytes = mib << 20;
	c.vcpus = vcpus;
	c.params.workload = wl;
	c.params.seed = 1234;
	return c;
}

static uint8_t *ram_of(struct machine *m, uint64_t *size)
{
	const struct machine_region *r;

	assert_int_equal(machine_regions(m, &r), 1);
	assert_int_equal(r[0].gpa, 0);
	if (size)
		*size = r[0].size;
	return r[0].host;
}

static uint64_t ops_of(struct machine *m)
{
	struct machine_stats s;

	machine_stats(m, &s);
	return s.ops;
}

/* How many of the VM's vCPUs have their stats' field at off above x. */
static unsigned vcpus_above(struct machine *m, size_t off, uint64_t x)
{
	uint8_t *ram = ram_of(m, NULL);
	unsigned n = machine_config_of(m)->vcpus, past = 0;

	for (unsigned v = 0; v < n; v++) {
		const uint64_t *f = (const uint64_t *)((uint8_t *)guest_stats_of(ram, v) + off);

		past += __atomic_load_n(f, __ATOMIC_RELAXED) > x;
	}
	return past;
}

static bool ops_above(struct machine *m, uint64_t n)
{
	return ops_of(m) > n;
}

/* every vCPU ended an operation after guest time ns */
static bool vcpus_past(struct machine *m, uint64_t ns)
{
	return vcpus_above(m, offsetof(struct guest_vcpu_stats, last_op_ns), ns) ==
	       machine_config_of(m)->vcpus;
}

/* every vCPU's workload finished its set-up */
static bool vcpus_ready(struct machine *m, uint64_t unused)
{
	(void)unused;
	return vcpus_above(m, offsetof(struct guest_vcpu_stats, ready), 0) ==
	       machine_config_of(m)->vcpus;
}

/* Wait up to 30 s (sanitizers and a loaded machine are slow: a fixed
 * sleep is not enough for a vCPU thread at nice 5 beside a busy core)
 * until ok(m, x) holds; fail naming what did not happen. */
static void wait_until(bool (*ok)(struct machine *, uint64_t), struct machine *m,
		       uint64_t x, const char *what)
{
	for (int t = 0; t < 30000; t++) {
		if (ok(m, x))
			return;
		sleep_ms(1);
	}
	fail_msg("%s in 30 s", what);
}

static void wait_ops_above(struct machine *m, uint64_t n)
{
	wait_until(ops_above, m, n, "no operation past the mark");
}

static void wait_vcpus_past(struct machine *m, uint64_t ns)
{
	wait_until(vcpus_past, m, ns, "a vCPU ran no operation");
}

static void wait_ready(struct machine *m)
{
	wait_until(vcpus_ready, m, 0, "set-up did not finish");
}

static void check_ram(struct machine *m)
{
	uint64_t size;
	uint8_t *ram = ram_of(m, &size);
	char why[200] = "";
	int r = wl_check(ram, size, why, sizeof(why));

	if (r)
		fail_msg("wl_check: %s", why);
}

/* The engines' names, both ways; nothing else is a name. */
static void test_engine_names(void **state)
{
	static const struct { enum machine_engine_kind k; const char *name; } all[] = {
		{ MACHINE_ENGINE_AUTO, "auto" },
		{ MACHINE_ENGINE_THREAD, "thread" },
		{ MACHINE_ENGINE_KVM, "kvm" },
	};
	enum machine_engine_kind k;

	(void)state;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		assert_string_equal(machine_engine_name(all[i].k), all[i].name);
		k = (enum machine_engine_kind)99;
		assert_int_equal(machine_engine_parse(all[i].name, &k), 0);
		assert_int_equal(k, all[i].k);
		assert_int_equal(machine_engine_parse(machine_engine_name(k), &k), 0);
		assert_int_equal(k, all[i].k);
	}
	k = MACHINE_ENGINE_KVM;
	assert_int_equal(machine_engine_parse("bogus", &k), -EINVAL);
	assert_int_equal(machine_engine_parse("", &k), -EINVAL);
	assert_int_equal(machine_engine_parse("KVM", &k), -EINVAL);
	assert_int_equal(machine_engine_parse("?", &k), -EINVAL);
	assert_int_equal(k, MACHINE_ENGINE_KVM);         /* untouched */
	assert_string_equal(machine_engine_name((enum machine_engine_kind)3), "?");
	assert_string_equal(machine_engine_name((enum machine_engine_kind)99), "?");
	assert_string_equal(machine_engine_name((enum machine_engine_kind)-1), "?");
	assert_true(machine_engine_known(MACHINE_ENGINE_THREAD));
	assert_true(machine_engine_known(MACHINE_ENGINE_KVM));
	assert_false(machine_engine_known(MACHINE_ENGINE_AUTO));      /* asked for, never run */
	assert_false(machine_engine_known((enum machine_engine_kind)3));
	assert_false(machine_engine_known((enum machine_engine_kind)-1));
}

static void test_config_errors(void **state)
{
	struct machine_config c = cfg(64, 2, WL_KV);
	struct machine *m = (struct machine *)1;

	(void)state;
	c.engine = (enum machine_engine_kind)99;          /* no such engine */
	assert_int_equal(machine_create(&c, &m), -ENOENT);
	assert_null(m);
	assert_int_equal(machine_create_incoming(&c, &m), -ENOENT);
	c = cfg(64, 2, WL_KV);
	c.engine = MACHINE_ENGINE_AUTO;                    /* not resolved */
	assert_int_equal(machine_create(&c, &m), -ENOENT);
	assert_int_equal(machine_create_incoming(&c, &m), -ENOENT);
	c = cfg(3, 2, WL_KV);
	c.ram_bytes = 3ull << 20;                          /* not 2 MiB multiple */
	assert_int_equal(machine_create(&c, &m), -EINVAL);
	c = cfg(64, 0, WL_KV);
	assert_int_equal(machine_create(&c, &m), -EINVAL);
	c = cfg(64, GUEST_MAX_VCPUS + 1, WL_KV);
	assert_int_equal(machine_create(&c, &m), -EINVAL);
	c = cfg(64, 64, WL_KV);                            /* too small for kv */
	c.params.working_set = 64 * 8192;
	assert_int_equal(machine_create(&c, &m), -EINVAL);
	c = cfg(64, 2, 0);                                 /* no workload */
	assert_int_equal(machine_create(&c, &m), -EINVAL);
	/* ... which is fine for an incoming machine: the blob brings it. */
	assert_int_equal(machine_create_incoming(&c, &m), 0);
	assert_int_equal(machine_start(m), -EINVAL);       /* nothing loaded */
	machine_destroy(m);
	machine_destroy(NULL);
}

static void test_vcpu_names(void **state)
{
	struct machine_config c = cfg(8, 3, WL_IDLE);
	struct machine *m;
	DIR *d;
	struct dirent *e;
	int found = 0;

	(void)state;
	assert_int_equal(machine_create(&c, &m), 0);
	assert_int_equal(machine_start(m), 0);
	assert_int_equal(machine_start(m), -EBUSY);
	d = opendir("/proc/self/task");
	assert_non_null(d);
	while ((e = readdir(d))) {
		char path[300], name[32] = "";
		FILE *f;

		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(name, sizeof(name), f) && !strncmp(name, "vcpu-", 5))
			found++;
		fclose(f);
	}
	closedir(d);
	assert_int_equal(found, 3);
	machine_destroy(m);
}

/* The main path: run, pause, save, migrate by hand, resume elsewhere. */
static void test_run_pause_save_load(void **state)
{
	struct machine_config c = cfg(64, 2, WL_KV);
	struct machine *m1, *m2;
	struct machine_stats s, s2;
	uint64_t ops_paused, size, last_op[2], saved_gns;
	size_t need;
	ssize_t n;
	void *blob;
	struct thread_state_body body;
	const unsigned migrate_ms = 300;

	(void)state;
	assert_int_equal(machine_create(&c, &m1), 0);
	assert_int_equal(machine_config_of(m1)->params.kv_value_size, 128);  /* fixed */
	assert_int_equal(machine_start(m1), 0);
	wait_ready(m1);
	sleep_ms(200);
	machine_stats(m1, &s);
	assert_true(s.ops > 0);
	assert_true(s.heartbeats > 0);

	assert_int_equal(machine_pause(m1), 0);
	for (unsigned v = 0; v < 2; v++)
		assert_true(guest_stats_of(ram_of(m1, NULL), v)->ready);
	machine_stats(m1, &s);
	printf("      pause took %.1f us; %llu ops (set-up + 200 ms)\n", s.pause_ns_last / 1e3,
	       (unsigned long long)s.ops);
	/* a sanity bound: bench-core measures how long pauses take */
	assert_true(s.pause_ns_last < 1000000000ull);
	ops_paused = s.ops;
	assert_int_equal(s.heartbeats, ops_paused);       /* one per op */
	sleep_ms(50);
	machine_stats(m1, &s2);
	assert_int_equal(s2.ops, ops_paused);             /* still while paused */
	assert_int_equal(s2.heartbeats, s.heartbeats);
	assert_int_equal(machine_pause(m1), 0);           /* idempotent */

	assert_int_equal(machine_resume(m1), 0);
	wait_ops_above(m1, ops_paused);
	/* save and load refuse a running machine */
	need = machine_state_size(m1);
	blob = calloc(1, need);
	assert_int_equal(machine_save(m1, blob, need), -EBUSY);
	assert_int_equal(machine_pause(m1), 0);
	check_ram(m1);
	ops_paused = ops_of(m1);

	assert_int_equal(machine_save(m1, blob, need - 1), -ENOSPC);
	n = machine_save(m1, blob, need);
	assert_int_equal(n, (ssize_t)need);
	printf("      state blob: %zu bytes for 2 vCPUs\n", need);
	memcpy(&body, (uint8_t *)blob + sizeof(struct machine_state_hdr), sizeof(body));
	saved_gns = body.guest_ns;
	for (unsigned v = 0; v < 2; v++) {
		last_op[v] = guest_stats_of(ram_of(m1, NULL), v)->last_op_ns;
		assert_true(last_op[v] <= saved_gns);
	}

	/* The destination: RAM never touched by the engine; we copy it. */
	c.params.workload = 0;   /* learnt from the blob */
	assert_int_equal(machine_create_incoming(&c, &m2), 0);
	{
		uint8_t *from = ram_of(m1, &size);

		memcpy(ram_of(m2, NULL), from, size);
	}
	sleep_ms(migrate_ms);
	assert_int_equal(machine_load(m2, blob, (size_t)n), 0);
	assert_int_equal(machine_config_of(m2)->params.workload, WL_KV);
	assert_int_equal(machine_config_of(m2)->params.kv_keys,
			 machine_config_of(m1)->params.kv_keys);
	machine_stats(m2, &s);
	assert_int_equal(s.ops, ops_paused);
	assert_int_equal(s.heartbeats, 0);
	assert_int_equal(machine_start(m2), 0);
	assert_int_equal(machine_load(m2, blob, (size_t)n), -EBUSY);
	sleep_ms(100);
	wait_vcpus_past(m2, saved_gns + migrate_ms * 1000000ull);
	assert_int_equal(machine_pause(m2), 0);
	machine_stats(m2, &s);
	printf("      after load: ops %llu -> %llu, max gap %.1f ms (migration took >= %u ms)\n",
	       (unsigned long long)ops_paused, (unsigned long long)s.ops,
	       s.max_gap_ns / 1e6, migrate_ms);
	assert_true(s.ops > ops_paused);
	assert_int_equal(s.heartbeats, s.ops - ops_paused);
	/* The guest saw the migration as a stall, and its clock went on. */
	assert_true(s.max_gap_ns >= migrate_ms * 1000000ull);
	for (unsigned v = 0; v < 2; v++) {
		struct guest_vcpu_stats *g = guest_stats_of(ram_of(m2, NULL), v);

		assert_true(g->last_op_ns > saved_gns + migrate_ms * 1000000ull);
		assert_int_equal(g->check_fail, 0);
	}
	check_ram(m2);
	/* A new stall window on the destination, opened while it runs. */
	assert_int_equal(machine_resume(m2), 0);
	sleep_ms(10);
	machine_stall_reset(m2);
	sleep_ms(50);
	assert_int_equal(machine_pause(m2), 0);
	machine_stats(m2, &s);
	printf("      fresh stall window: max gap %.2f ms\n", s.max_gap_ns / 1e6);
	assert_true(s.max_gap_ns > 0 && s.max_gap_ns < migrate_ms * 1000000ull);
	check_ram(m2);

	/* The source can still go on (as before commitment). */
	assert_int_equal(machine_resume(m1), 0);
	wait_ops_above(m1, ops_paused);
	machine_destroy(m1);
	machine_destroy(m2);
	free(blob);
}

static int load_mod(struct machine *m, const void *blob, size_t len,
		    void (*mod)(uint8_t *b, size_t *len))
{
	uint8_t *b = malloc(len + 64);
	size_t l = len;
	int r;

	memcpy(b, blob, len);
	memset(b + len, 0, 64);
	mod(b, &l);
	r = machine_load(m, b, l);
	free(b);
	return r;
}

static struct machine_state_hdr *H(uint8_t *b) { return (struct machine_state_hdr *)b; }
static struct thread_state_body *B(uint8_t *b)
{
	return (struct thread_state_body *)(b + sizeof(struct machine_state_hdr));
}
static void m_magic(uint8_t *b, size_t *l) { (void)l; H(b)->magic ^= 1; }
static void m_version(uint8_t *b, size_t *l) { (void)l; H(b)->version = 2; }
static void m_trunc(uint8_t *b, size_t *l) { (void)b; *l -= 1; }
static void m_trunc_hdr(uint8_t *b, size_t *l) { (void)b; *l = 10; }
static void m_past_end(uint8_t *b, size_t *l) { (void)l; H(b)->total_len += 8; }
static void m_trailing(uint8_t *b, size_t *l) { (void)b; *l += 8; }
static void m_hdr_size(uint8_t *b, size_t *l) { H(b)->hdr_size = (uint32_t)*l + 1; }
static void m_hdr_small(uint8_t *b, size_t *l) { (void)l; H(b)->hdr_size = 8; }
static void m_engine(uint8_t *b, size_t *l) { (void)l; H(b)->engine = MACHINE_ENGINE_KVM; }
static void m_nvcpus(uint8_t *b, size_t *l) { (void)l; H(b)->nvcpus = 3; }
static void m_ram(uint8_t *b, size_t *l) { (void)l; B(b)->ram_bytes <<= 1; }
static void m_regsize(uint8_t *b, size_t *l) { (void)l; B(b)->regs_size = 72; }
static void m_workload(uint8_t *b, size_t *l) { (void)l; B(b)->params.workload = WL_SWEEP; }
static void m_badwl(uint8_t *b, size_t *l) { (void)l; B(b)->params.workload = 77; }
static void m_regs_vcpu(uint8_t *b, size_t *l)
{
	struct wl_regs *r = (struct wl_regs *)(B(b) + 1);

	(void)l;
	r[1].vcpu = 0;
}
static void m_none(uint8_t *b, size_t *l) { (void)b; (void)l; }

static void test_bad_blobs(void **state)
{
	struct machine_config c = cfg(16, 2, WL_KV), c4 = cfg(16, 4, WL_KV), c32 = cfg(32, 2, WL_KV);
	struct machine *src, *dst, *dst4, *dst32;
	uint8_t blob[4096];
	ssize_t n;
	uint64_t size;

	(void)state;
	assert_int_equal(machine_create(&c, &src), 0);
	assert_int_equal(machine_start(src), 0);
	sleep_ms(20);
	assert_int_equal(machine_pause(src), 0);
	n = machine_save(src, blob, sizeof(blob));
	assert_true(n > 0);
	assert_int_equal(machine_create_incoming(&c, &dst), 0);
	assert_int_equal(machine_create_incoming(&c4, &dst4), 0);
	assert_int_equal(machine_create_incoming(&c32, &dst32), 0);

	assert_int_equal(machine_load(dst, NULL, 0), -EINVAL);
	assert_int_equal(load_mod(dst, blob, n, m_magic), -EINVAL);
	assert_int_equal(load_mod(dst, blob, n, m_version), -EINVAL);
	assert_int_equal(load_mod(dst, blob, n, m_trunc), -EINVAL);
	assert_int_equal(load_mod(dst, blob, n, m_trunc_hdr), -EINVAL);
	assert_int_equal(load_mod(dst, blob, n, m_past_end), -EINVAL);
	assert_int_equal(load_mod(dst, blob, n, m_trailing), -EINVAL);
	assert_int_equal(load_mod(dst, blob, n, m_hdr_size), -EINVAL);
	assert_int_equal(load_mod(dst, blob, n, m_hdr_small), -EINVAL);
	assert_int_equal(load_mod(dst, blob, n, m_badwl), -EINVAL);
	assert_int_equal(load_mod(dst, blob, n, m_regs_vcpu), -EINVAL);
	assert_int_equal(load_mod(dst, blob, n, m_engine), -ENOEXEC);
	assert_int_equal(load_mod(dst, blob, n, m_nvcpus), -ENOEXEC);
	assert_int_equal(load_mod(dst, blob, n, m_ram), -ENOEXEC);
	assert_int_equal(load_mod(dst, blob, n, m_regsize), -ENOEXEC);
	assert_int_equal(load_mod(dst, blob, n, m_workload), -ENOEXEC);   /* cfg says kv */
	assert_int_equal(load_mod(dst4, blob, n, m_none), -ENOEXEC);      /* 4 vCPUs */
	assert_int_equal(load_mod(dst32, blob, n, m_none), -ENOEXEC);     /* 32 MiB */
	/* Nothing above changed the machine: it still cannot start ... */
	assert_int_equal(machine_start(dst), -EINVAL);
	/* ... and the good blob still loads and runs. */
	{
		uint8_t *from = ram_of(src, &size);

		memcpy(ram_of(dst, NULL), from, size);
	}
	assert_int_equal(load_mod(dst, blob, n, m_none), 0);
	assert_int_equal(machine_start(dst), 0);
	sleep_ms(20);
	assert_int_equal(machine_pause(dst), 0);
	assert_true(ops_of(dst) > ops_of(src));
	check_ram(dst);
	machine_destroy(src);
	machine_destroy(dst);
	machine_destroy(dst4);
	machine_destroy(dst32);
}

/* Guest clock across load: the wall time since the save shows; a
 * destination realtime clock behind the source's does not step back. */
static void test_clock_across_load(void **state)
{
	struct machine_config c = cfg(8, 1, WL_IDLE);
	struct machine *src, *d1, *d2;
	uint8_t blob[1024];
	ssize_t n;
	uint64_t size, saved_gns, last, saved_real, late;
	struct machine_stats s;

	(void)state;
	assert_int_equal(machine_create(&c, &src), 0);
	assert_int_equal(machine_start(src), 0);
	sleep_ms(20);
	assert_int_equal(machine_pause(src), 0);
	n = machine_save(src, blob, sizeof(blob));
	assert_true(n > 0);
	saved_gns = B(blob)->guest_ns;
	saved_real = B(blob)->realtime_ns;
	last = guest_stats_of(ram_of(src, &size), 0)->last_op_ns;
	assert_true(last <= saved_gns);

	/* The source's realtime is 10 s ahead of ours: no time passes, but
	 * the clock does not go back either. */
	B(blob)->realtime_ns += 10000000000ull;
	assert_int_equal(machine_create_incoming(&c, &d1), 0);
	memcpy(ram_of(d1, NULL), ram_of(src, NULL), size);
	machine_stall_reset(d1);
	assert_int_equal(machine_load(d1, blob, n), 0);
	late = pcm_now_ns();
	assert_int_equal(machine_start(d1), 0);
	wait_vcpus_past(d1, saved_gns);
	late = pcm_now_ns() - late;   /* start to an operation seen: the gap's bulk */
	assert_int_equal(machine_pause(d1), 0);
	assert_true(guest_stats_of(ram_of(d1, NULL), 0)->last_op_ns > saved_gns);
	machine_stats(d1, &s);
	assert_true(s.max_gap_ns < late + 500000000ull);

	/* The save was 2 s before it was (wall time): the guest sees a
	 * stall of 2 s plus the wall time since the real save until its
	 * first operation here, which on a loaded machine is not small (the
	 * part above waits for a vCPU too): measured, not assumed. */
	B(blob)->realtime_ns -= 12000000000ull;
	assert_int_equal(machine_create_incoming(&c, &d2), 0);
	memcpy(ram_of(d2, NULL), ram_of(src, NULL), size);
	machine_stall_reset(d2);
	assert_int_equal(machine_load(d2, blob, n), 0);
	assert_int_equal(machine_start(d2), 0);
	wait_vcpus_past(d2, saved_gns + 2000000000ull);
	late = pcm_clock_ns(CLOCK_REALTIME) - saved_real;
	assert_int_equal(machine_pause(d2), 0);
	machine_stats(d2, &s);
	printf("      2 s old save -> guest max gap %.3f s (the real save %.3f s before the"
	       " first operation was seen)\n", s.max_gap_ns / 1e9, late / 1e9);
	assert_true(s.max_gap_ns >= 2000000000ull && s.max_gap_ns < 2000000000ull + late + 500000000ull);
	assert_true(guest_stats_of(ram_of(d2, NULL), 0)->last_op_ns > saved_gns + 2000000000ull);

	/* Loading an older blob into a machine that already ran further
	 * does not step its clock back. */
	last = guest_stats_of(ram_of(d2, NULL), 0)->last_op_ns;
	B(blob)->realtime_ns += 2000000000ull;
	assert_int_equal(machine_load(d2, blob, n), 0);
	assert_int_equal(machine_resume(d2), 0);
	wait_vcpus_past(d2, last);
	assert_int_equal(machine_pause(d2), 0);
	assert_true(guest_stats_of(ram_of(d2, NULL), 0)->last_op_ns > last);
	machine_destroy(src);
	machine_destroy(d1);
	machine_destroy(d2);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The floor a pause stands on here and now: n threads spinning,
 * scheduled as vCPUs are, asked at once to say they saw a request; the
 * time until the last has. Each vCPU of the thread engine must run to
 * stop, so a pause cannot beat this hand-shake, and on a loaded machine
 * both grow alike: the bound below grows with it (a pause that lost a
 * wake-up would still fail). */
struct spin_gate {
	atomic_uint gen, acked;
	atomic_bool quit;
	int nice;
};

static void *spin_main(void *arg)
{
	struct spin_gate *g = arg;
	unsigned seen = 0;

	machine_vcpu_sched(g->nice);
	while (!atomic_load(&g->quit)) {
		unsigned gen = atomic_load(&g->gen);

		if (gen != seen) {
			seen = gen;
			atomic_fetch_add(&g->acked, 1);
		}
	}
	return NULL;
}

static uint64_t spin_floor_ns(unsigned n, int rounds)
{
	struct spin_gate g = { .nice = machine_vcpu_nice() };
	pthread_t th[64];
	uint64_t lat[100];
	struct timespec tick = { 0, 20000 };

	assert_true(n <= 64 && rounds <= 100);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(pthread_create(&th[i], NULL, spin_main, &g), 0);
	sleep_ms(20);
	for (int r = 0; r < rounds; r++) {
		uint64_t t0 = pcm_now_ns();

		atomic_store(&g.acked, 0);
		atomic_fetch_add(&g.gen, 1);
		while (atomic_load(&g.acked) < n)
			nanosleep(&tick, NULL);
		lat[r] = pcm_now_ns() - t0;
		sleep_ms(3);
	}
	atomic_store(&g.quit, true);
	for (unsigned i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	qsort(lat, rounds, sizeof(lat[0]), cmp_u64);
	return lat[rounds / 2];
}

static void pause_series(unsigned vcpus, uint32_t wl, uint64_t mib, int N)
{
	uint64_t floor = spin_floor_ns(vcpus, 9);
	struct machine_config c = cfg(mib, vcpus, wl);
	struct machine *m;
	struct machine_stats s;
	uint64_t lat[100], before;

	assert_int_equal(machine_create(&c, &m), 0);
	assert_int_equal(machine_start(m), 0);
	sleep_ms(50);
	for (int i = 0; i < N; i++) {
		assert_int_equal(machine_pause(m), 0);
		machine_stats(m, &s);
		lat[i] = s.pause_ns_last;
		before = s.ops;
		sleep_ms(1);
		assert_int_equal(ops_of(m), before);
		assert_int_equal(machine_resume(m), 0);
		sleep_ms(3);
	}
	assert_int_equal(machine_pause(m), 0);
	check_ram(m);
	machine_destroy(m);
	qsort(lat, N, sizeof(lat[0]), cmp_u64);
	printf("      %2u vCPUs %-5s: pause p50 %6.1f us  p90 %6.1f us  max %7.1f us"
	       " (%u threads' hand-shake p50 %.1f us)\n", vcpus, wl_name(wl), lat[N / 2] / 1e3,
	       lat[N * 9 / 10] / 1e3, lat[N - 1] / 1e3, vcpus, floor / 1e3);
	/* never stricter than the 20 ms this bound was before */
	assert_true(lat[N / 2] < 20000000ull || lat[N / 2] < 3 * floor + 5000000ull);
}

static void test_pause_latency(void **state)
{
	(void)state;
	pause_series(2, WL_KV, 64, 100);
	pause_series(8, WL_KV, 64, 100);
	pause_series(2, WL_SWEEP, 64, 100);
	pause_series(8, WL_SWEEP, 64, 100);
	pause_series(8, WL_IDLE, 8, 100);
	pause_series(32, WL_KV, 64, 20);
}

static void test_sweep_rate_limited(void **state)
{
	struct machine_config c = cfg(32, 4, WL_SWEEP);
	struct machine *m;
	uint64_t size, written = 0;
	uint8_t *ram;

	(void)state;
	c.params.write_permille = 1000;
	c.params.rate_bps = 4096ull * 2000;       /* 2000 pages/s in all */
	assert_int_equal(machine_create(&c, &m), 0);
	assert_int_equal(machine_start(m), 0);
	sleep_ms(500);
	assert_int_equal(machine_pause(m), 0);
	ram = ram_of(m, &size);
	for (uint64_t off = GUEST_DATA_OFF; off < size; off += 4096)
		written += *(uint64_t *)(ram + off) != 0;
	printf("      sweep at 8 MB/s: %llu distinct pages written in 0.5 s (expect ~1000)\n",
	       (unsigned long long)written);
	assert_true(written > 700 && written < 1300);
	check_ram(m);
	machine_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine_names),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_vcpu_names),
		cmocka_unit_test(test_run_pause_save_load),
		cmocka_unit_test(test_bad_blobs),
		cmocka_unit_test(test_clock_across_load),
		cmocka_unit_test(test_sweep_rate_limited),
		cmocka_unit_test(test_pause_latency),
	};

	return cmocka_run_group_tests_name("thread engine", tests, NULL, NULL);
}
