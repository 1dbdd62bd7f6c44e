/* tests/unit/test_dirty.c - the thread engine's dirty log (userfaultfd
 * write-protect) on real memory: the raw uffd scan, vm/thread_dirty.c in
 * both ways (async: WP_ASYNC + PAGEMAP_SCAN; sync: faults resolved by a
 * handler thread), writers racing fetches, and the machine API on sweep.
 *
 * A broken sync path leaves writers blocked in the kernel: writers are
 * joined with a timeout, and main() arms an alarm as the last resort.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "guest/workload.h"
#include "uffd/uffd.h"
#include "vm/engine.h"
#include "vm/machine.h"
#include "vm/thread_int.h"

#define PAGE    4096ull
#define NPAGES  256ull
#define LEN     (NPAGES * PAGE)
#define WORDS(n) (((n) + 63) / 64)

static const unsigned want_async = 0, want_sync = THREAD_DIRTY_SYNC;

static void sleep_us(unsigned us)
{
	struct timespec ts = { us / 1000000, (long)(us % 1000000) * 1000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int bit(const uint64_t *bm, uint64_t p)
{
	return (bm[p / 64] >> (p % 64)) & 1;
}

static uint64_t bits_in(const uint64_t *bm, uint64_t from, uint64_t to)
{
	uint64_t n = 0;

	for (uint64_t p = from; p < to; p++)
		n += bit(bm, p);
	return n;
}

static int async_offered(void)
{
	uint64_t f = 0;

	assert_int_equal(uffd_offered(&f), 0);
	return (f & UFFD_FEAT_WP_ASYNC_ALL) == UFFD_FEAT_WP_ASYNC_ALL;
}

/* A fresh memfd of NPAGES, mapped shared and never touched. */
static uint8_t *ram_new(void)
{
	int fd = memfd_create("test_dirty", MFD_CLOEXEC);
	uint8_t *p;

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, LEN), 0);
	p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	assert_true(p != MAP_FAILED);
	close(fd);
	return p;
}

/* ---- 1. the raw uffd functions (async way) ---- */

struct raw {
	struct uffd u;
	int pm;
	uint8_t *ram;
};

static void raw_start(struct raw *r)
{
	r->ram = ram_new();
	assert_int_equal(uffd_open_features(&r->u, UFFD_FEAT_WP_ASYNC_ALL,
					    UFFD_FEAT_WP_UNPOPULATED), 0);
	r->pm = uffd_pagemap_open();
	assert_true(r->pm >= 0);
}

static void raw_protect(struct raw *r)
{
	assert_int_equal(uffd_register(&r->u, r->ram, LEN, UFFD_MODE_WP), 0);
	assert_int_equal(uffd_wp(&r->u, r->ram, LEN, true, true), 0);
}

static long raw_scan(struct raw *r, uint64_t *bm, bool reprotect)
{
	memset(bm, 0, WORDS(NPAGES) * 8);
	return uffd_wp_scan(r->pm, r->ram, LEN, bm, 0, reprotect);
}

static void raw_end(struct raw *r)
{
	uffd_close(&r->u);
	close(r->pm);
	munmap(r->ram, LEN);
}

/* Written after protection: reported, never-populated pages too; pages
 * only read, or written before, or never touched: not. */
static void test_raw_written(void **state)
{
	struct raw r;
	uint64_t bm[WORDS(NPAGES)];
	const unsigned written[] = { 0, 3, 64, 100, 101, 255 };
	volatile uint8_t sink;

	(void)state;
	if (!async_offered())
		skip();
	raw_start(&r);
	r.ram[10] = 1;                  /* page 0: populated before */
	r.ram[20 * PAGE] = 1;           /* page 20: written before only */
	raw_protect(&r);
	assert_int_equal(raw_scan(&r, bm, true), 0);
	assert_int_equal(bits_in(bm, 0, NPAGES), 0);
	sink = r.ram[50 * PAGE];        /* read a never-populated page */
	sink = r.ram[20 * PAGE];        /* and a populated one */
	(void)sink;
	for (unsigned i = 0; i < sizeof(written) / sizeof(written[0]); i++)
		r.ram[written[i] * PAGE + 7] = (uint8_t)(i + 1);
	assert_int_equal(raw_scan(&r, bm, true), 6);
	for (unsigned i = 0; i < sizeof(written) / sizeof(written[0]); i++)
		assert_true(bit(bm, written[i]));
	assert_int_equal(bits_in(bm, 0, NPAGES), 6);
	/* The bit lands at first + page. */
	memset(bm, 0, sizeof(bm));
	r.ram[5 * PAGE] = 9;
	assert_int_equal(uffd_wp_scan(r.pm, r.ram, LEN, bm, 64, true), 1);
	assert_true(bit(bm, 69));
	assert_int_equal(bits_in(bm, 0, NPAGES), 1);
	raw_end(&r);
}

/* Twice between scans: once; a clean scan: nothing. A look-only scan
 * reports without clearing. */
static void test_raw_twice(void **state)
{
	struct raw r;
	uint64_t bm[WORDS(NPAGES)];

	(void)state;
	if (!async_offered())
		skip();
	raw_start(&r);
	raw_protect(&r);
	r.ram[7 * PAGE] = 1;
	r.ram[7 * PAGE + 100] = 2;
	assert_int_equal(raw_scan(&r, bm, true), 1);
	assert_true(bit(bm, 7));
	assert_int_equal(raw_scan(&r, bm, true), 0);
	r.ram[7 * PAGE] = 3;            /* protected again: caught again */
	r.ram[8 * PAGE] = 3;
	assert_int_equal(raw_scan(&r, bm, false), 2);
	assert_int_equal(raw_scan(&r, bm, false), 2);
	assert_true(bit(bm, 7) && bit(bm, 8));
	assert_int_equal(raw_scan(&r, bm, true), 2);
	assert_int_equal(raw_scan(&r, bm, true), 0);
	/* Not registered: refused, not silently empty. */
	assert_int_equal(uffd_unregister(&r.u, r.ram, LEN), 0);
	assert_int_equal(raw_scan(&r, bm, true), -EPERM);
	assert_int_equal(uffd_wp_scan(r.pm, r.ram + 1, PAGE, bm, 0, true), -EINVAL);
	raw_end(&r);
}

/* ---- 2. vm/thread_dirty.c on real memory, both ways ---- */

static void td_kind_check(struct thread_dirty *td, unsigned flags)
{
	if (flags & THREAD_DIRTY_SYNC)
		assert_string_equal(thread_dirty_kind(td), "sync");
	else
		assert_string_equal(thread_dirty_kind(td), "async");
}

static void td_skip_unless(unsigned flags)
{
	if (!(flags & THREAD_DIRTY_SYNC) && !async_offered())
		skip();
}

static void test_td_basic(void **state)
{
	unsigned flags = *(const unsigned *)*state;
	struct thread_dirty *td = NULL;
	uint64_t bm[WORDS(NPAGES)];
	uint8_t *ram;

	td_skip_unless(flags);
	ram = ram_new();
	ram[0] = 1;
	assert_int_equal(thread_dirty_start(&td, ram + 1, LEN, flags), -EINVAL);
	assert_int_equal(thread_dirty_start(&td, ram, LEN, flags), 0);
	td_kind_check(td, flags);
	memset(bm, 0, sizeof(bm));
	assert_int_equal(thread_dirty_fetch(td, bm, NPAGES - 1), -EINVAL);
	assert_int_equal(thread_dirty_fetch(td, bm, NPAGES), 0);
	assert_int_equal(bits_in(bm, 0, NPAGES), 0);
	ram[0] = 2;                          /* populated before start */
	ram[33 * PAGE] = 1;                  /* never populated */
	ram[33 * PAGE + 9] = 1;              /* twice */
	ram[200 * PAGE] = ram[199 * PAGE];   /* a read, then a write */
	/* ORed in: a bit set before stays set. */
	bm[WORDS(NPAGES) - 1] |= 1ull << 63;
	assert_int_equal(thread_dirty_fetch(td, bm, NPAGES), 0);
	assert_true(bit(bm, 0) && bit(bm, 33) && bit(bm, 200) && bit(bm, 255));
	assert_int_equal(bits_in(bm, 0, NPAGES), 4);
	memset(bm, 0, sizeof(bm));
	assert_int_equal(thread_dirty_fetch(td, bm, NPAGES), 0);
	assert_int_equal(bits_in(bm, 0, NPAGES), 0);
	ram[33 * PAGE] = 5;                  /* caught again after a fetch */
	assert_int_equal(thread_dirty_fetch(td, bm, NPAGES), 0);
	assert_int_equal(bits_in(bm, 0, NPAGES), 1);
	assert_true(bit(bm, 33));
	thread_dirty_stop(td);
	assert_int_equal(ram[33 * PAGE + 9], 1);
	munmap(ram, LEN);
}

/* Writers race fetches. Fetch k (from 1) bumps started to k before it
 * reads and done to k after. A write begun after fetch d was done and
 * over before fetch s+1 started must be in some fetch of [d+1, s+1]. */
#define RACE_PAGES    1024ull
#define RACE_WRITERS  3
#define RACE_FETCHES  300
#define RACE_EVENTS   (1u << 20)

struct race_ev {
	uint32_t page, lo, hi;
};

struct race {
	uint8_t *ram;
	_Atomic uint32_t started, done;
	atomic_int stop;
	uint64_t *bm;                         /* RACE_FETCHES + 2 bitmaps */
};

struct writer {
	struct race *r;
	struct race_ev *ev;
	uint32_t nev;
	uint64_t rng;
	pthread_t th;
};

static void *writer_run(void *arg)
{
	struct writer *w = arg;
	struct race *r = w->r;

	while (!atomic_load(&r->stop) && w->nev < RACE_EVENTS) {
		struct race_ev *e = &w->ev[w->nev++];

		w->rng = w->rng * 6364136223846793005ull + 1442695040888963407ull;
		e->page = (uint32_t)((w->rng >> 33) % RACE_PAGES);
		e->lo = atomic_load(&r->done) + 1;
		((volatile uint8_t *)r->ram)[e->page * PAGE + (w->rng >> 20) % PAGE] =
			(uint8_t)w->rng;
		e->hi = atomic_load(&r->started) + 1;
		/* Spread the writes over all the fetches. */
		for (volatile int i = 0; i < 300; i++)
			;
	}
	return NULL;
}

static int join_timed(pthread_t th, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return pthread_timedjoin_np(th, NULL, &ts);
}

static uint64_t *race_bm(struct race *r, uint32_t k)
{
	return r->bm + (uint64_t)k * WORDS(RACE_PAGES);
}

static void race_fetch(struct race *r, struct thread_dirty *td, uint32_t k)
{
	atomic_store(&r->started, k);
	assert_int_equal(thread_dirty_fetch(td, race_bm(r, k), RACE_PAGES), 0);
	atomic_store(&r->done, k);
}

static uint64_t race_check(struct race *r, struct writer *w, uint32_t last)
{
	uint64_t lost = 0;

	for (int i = 0; i < RACE_WRITERS; i++)
		for (uint32_t j = 0; j < w[i].nev; j++) {
			const struct race_ev *e = &w[i].ev[j];
			int seen = 0;

			assert_true(e->lo <= e->hi && e->hi <= last);
			for (uint32_t k = e->lo; k <= e->hi && !seen; k++)
				seen = bit(race_bm(r, k), e->page);
			lost += !seen;
		}
	return lost;
}

static void test_td_race(void **state)
{
	unsigned flags = *(const unsigned *)*state;
	struct thread_dirty *td = NULL;
	struct writer w[RACE_WRITERS];
	struct race r = { 0 };
	uint64_t events = 0, lost, dirty = 0;
	uint32_t k;

	td_skip_unless(flags);
	r.ram = mmap(NULL, RACE_PAGES * PAGE, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(r.ram != MAP_FAILED);
	r.bm = calloc((RACE_FETCHES + 2) * WORDS(RACE_PAGES), 8);
	assert_non_null(r.bm);
	assert_int_equal(thread_dirty_start(&td, r.ram, RACE_PAGES * PAGE, flags), 0);
	td_kind_check(td, flags);
	for (int i = 0; i < RACE_WRITERS; i++) {
		w[i] = (struct writer){ .r = &r, .rng = 77 + i };
		w[i].ev = malloc(RACE_EVENTS * sizeof(struct race_ev));
		assert_non_null(w[i].ev);
		assert_int_equal(pthread_create(&w[i].th, NULL, writer_run, &w[i]), 0);
	}
	for (k = 1; k <= RACE_FETCHES; k++) {
		race_fetch(&r, td, k);
		dirty += bits_in(race_bm(&r, k), 0, RACE_PAGES);
		sleep_us(300);
	}
	atomic_store(&r.stop, 1);
	for (int i = 0; i < RACE_WRITERS; i++) {
		assert_int_equal(join_timed(w[i].th, 5000), 0);
		events += w[i].nev;
	}
	race_fetch(&r, td, k);               /* after the last write */
	lost = race_check(&r, w, k);
	print_message("      %s: %llu writes, %u fetches, %.0f pages each, %llu lost\n",
		      thread_dirty_kind(td), (unsigned long long)events, k,
		      (double)dirty / RACE_FETCHES, (unsigned long long)lost);
	assert_int_equal(lost, 0);
	/* A race test that never raced proves nothing. */
	assert_true(events > 1000);
	assert_true(dirty > 0);
	thread_dirty_stop(td);
	for (int i = 0; i < RACE_WRITERS; i++)
		free(w[i].ev);
	free(r.bm);
	munmap(r.ram, RACE_PAGES * PAGE);
}

/* After stop every page is writable at once, protected or not before,
 * and a second uffd can register the range (nothing is left registered). */
static void *write_all(void *arg)
{
	uint8_t *ram = arg;

	for (uint64_t p = 0; p < NPAGES; p++)
		ram[p * PAGE + 1] = 0xee;
	return NULL;
}

/* Pages of [ram, ram+len) whose pagemap entry has bit 57 (uffd-wp)
 * set, markers of never-populated pages included. */
static uint64_t wp_bits(const uint8_t *ram, uint64_t npages)
{
	uint64_t e[NPAGES], n = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	off_t off = (off_t)((uintptr_t)ram / PAGE * 8);

	assert_true(fd >= 0 && npages <= NPAGES);
	assert_int_equal(pread(fd, e, npages * 8, off), (ssize_t)(npages * 8));
	close(fd);
	for (uint64_t p = 0; p < npages; p++)
		n += (e[p] >> 57) & 1;
	return n;
}

static void test_td_stop(void **state)
{
	unsigned flags = *(const unsigned *)*state;
	struct thread_dirty *td = NULL;
	uint64_t bm[WORDS(NPAGES)] = { 0 };
	struct uffd u;
	pthread_t th;
	uint8_t *ram;

	td_skip_unless(flags);
	ram = ram_new();
	assert_int_equal(thread_dirty_start(&td, ram, LEN, flags), 0);
	ram[3 * PAGE] = 1;                   /* writable, then... */
	assert_int_equal(thread_dirty_fetch(td, bm, NPAGES), 0);
	assert_true(bit(bm, 3));             /* ...protected again */
	/* Another uffd cannot take a tracked range. */
	assert_int_equal(uffd_open(&u), 0);
	assert_int_equal(uffd_register(&u, ram, LEN, UFFD_MODE_MISSING), -EBUSY);
	/* Every page is protected, the one written again since the fetch,
	 * the never-touched ones by a marker. */
	assert_int_equal(wp_bits(ram, NPAGES), NPAGES);
	thread_dirty_stop(td);
	assert_int_equal(wp_bits(ram, NPAGES), 0);
	assert_int_equal(pthread_create(&th, NULL, write_all, ram), 0);
	assert_int_equal(join_timed(th, 2000), 0);
	for (uint64_t p = 0; p < NPAGES; p++)
		assert_int_equal(ram[p * PAGE + 1], 0xee);
	assert_int_equal(uffd_register(&u, ram, LEN, UFFD_MODE_MISSING), 0);
	/* ...and the other way round (a destination's RAM still arriving). */
	assert_int_equal(thread_dirty_start(&td, ram, LEN, flags), -EBUSY);
	uffd_close(&u);
	munmap(ram, LEN);
}

/* ---- 3. the thread engine through the machine API ---- */

static struct machine_config sweep_cfg(void)
{
	struct machine_config c;

	memset(&c, 0, sizeof(c));
	c.engine = MACHINE_ENGINE_THREAD;
	c.ram_bytes = 32ull << 20;
	c.vcpus = 2;
	c.params.workload = WL_SWEEP;
	c.params.seed = 99;
	c.params.working_set = 8ull << 20;
	c.params.write_permille = 1000;
	return c;
}

static uint8_t *ram_of(struct machine *m)
{
	const struct machine_region *r;

	assert_int_equal(machine_regions(m, &r), 1);
	assert_int_equal(r[0].gpa, 0);
	return r[0].host;
}

static uint64_t ops_of(struct machine *m)
{
	struct machine_stats s;

	machine_stats(m, &s);
	return s.ops;
}

static void wait_ready(struct machine *m)
{
	unsigned n = machine_config_of(m)->vcpus, ready = 0;

	for (int t = 0; t < 1000 && ready < n; t++) {
		ready = 0;
		for (unsigned v = 0; v < n; v++)
			ready += __atomic_load_n(&guest_stats_of(ram_of(m), v)->ready,
						 __ATOMIC_RELAXED) != 0;
		sleep_us(10000);
	}
	assert_int_equal(ready, n);
}

/* The guest went on past n operations: a loaded host may starve its
 * vCPUs for a while (a fixed 100 ms was not enough in a CI run beside a
 * nested QEMU, 2026-12-04), so this waits up to 30 s. */
static void wait_ops_past(struct machine *m, uint64_t n)
{
	for (int t = 0; t < 3000 && ops_of(m) <= n; t++)
		sleep_us(10000);
	if (ops_of(m) <= n)
		fail_msg("the guest ran %llu operations, not past %llu, in 30 s",
			 (unsigned long long)ops_of(m), (unsigned long long)n);
}

static void set_mode_env(unsigned flags)
{
	if (flags & THREAD_DIRTY_SYNC)
		setenv("PCM_DIRTY_SYNC", "1", 1);
	else
		unsetenv("PCM_DIRTY_SYNC");
}

/* Fetch until the whole working set showed up (one pass takes far less
 * than 100 ms, but a loaded host may starve a vCPU): up to 2 s more. */
static uint64_t fetch_ws(struct machine *m, uint64_t *bm, uint64_t npages,
			 uint64_t ws_first, uint64_t ws_end)
{
	uint64_t in_ws;

	assert_int_equal(machine_dirty_fetch(m, bm, npages), 0);
	in_ws = bits_in(bm, ws_first, ws_end);
	for (int i = 0; i < 200 && in_ws < ws_end - ws_first; i++) {
		sleep_us(10000);
		assert_int_equal(machine_dirty_fetch(m, bm, npages), 0);
		in_ws = bits_in(bm, ws_first, ws_end);
	}
	return in_ws;
}

static void test_machine_sweep(void **state)
{
	unsigned flags = *(const unsigned *)*state;
	struct machine_config c = sweep_cfg();
	const uint64_t npages = c.ram_bytes / PAGE, sentinel = npages - 1;
	const uint64_t ws_first = GUEST_DATA_OFF / PAGE;
	const uint64_t ws_end = (GUEST_DATA_OFF + c.params.working_set) / PAGE;
	const uint64_t st_first = GUEST_STATS_OFF / PAGE;
	const uint64_t st_end = (GUEST_STATS_OFF + c.vcpus * sizeof(struct guest_vcpu_stats)
				 + PAGE - 1) / PAGE;
	uint64_t *bm = calloc(WORDS(npages), 8), in_ws, low, ops;
	struct machine *m;
	char why[200] = "";

	td_skip_unless(flags);
	assert_non_null(bm);
	set_mode_env(flags);
	assert_int_equal(machine_create(&c, &m), 0);
	assert_null(thread_dirty_mode(m));
	assert_int_equal(machine_dirty_fetch(m, bm, npages), -EINVAL);   /* not on */
	assert_int_equal(machine_start(m), 0);
	wait_ready(m);
	assert_int_equal(machine_dirty_start(m), 0);
	assert_int_equal(machine_dirty_start(m), 0);                     /* idempotent */
	assert_string_equal(thread_dirty_mode(m),
			    flags & THREAD_DIRTY_SYNC ? "sync" : "async");
	sleep_us(100000);
	bm[sentinel / 64] |= 1ull << (sentinel % 64);
	assert_int_equal(machine_dirty_fetch(m, bm, npages - 1), -EINVAL);
	in_ws = fetch_ws(m, bm, npages, ws_first, ws_end);
	low = bits_in(bm, 0, ws_first);
	print_message("      %s: %llu of %llu working-set pages, %llu below (stats: %llu..%llu), "
		      "%llu beyond\n", thread_dirty_mode(m), (unsigned long long)in_ws,
		      (unsigned long long)(ws_end - ws_first), (unsigned long long)low,
		      (unsigned long long)st_first, (unsigned long long)st_end,
		      (unsigned long long)bits_in(bm, ws_end, sentinel));
	assert_true(bit(bm, sentinel));
	assert_int_equal(in_ws, ws_end - ws_first);
	assert_int_equal(bits_in(bm, ws_end, sentinel), 0);
	assert_true(bits_in(bm, st_first, st_end) > 0);     /* the stats pages */
	assert_int_equal(low, bits_in(bm, st_first, st_end));

	/* Paused: one fetch clears the log, the next is empty. */
	assert_int_equal(machine_pause(m), 0);
	memset(bm, 0, WORDS(npages) * 8);
	assert_int_equal(machine_dirty_fetch(m, bm, npages), 0);
	memset(bm, 0, WORDS(npages) * 8);
	sleep_us(50000);
	assert_int_equal(machine_dirty_fetch(m, bm, npages), 0);
	assert_int_equal(bits_in(bm, 0, npages), 0);
	/* Resumed: caught again (once the guest has run). */
	assert_int_equal(machine_resume(m), 0);
	wait_ops_past(m, ops_of(m) + 100);
	assert_int_equal(machine_dirty_fetch(m, bm, npages), 0);
	assert_true(bits_in(bm, ws_first, ws_end) > 0);

	/* Stopped: no mode, no log, and the sweep runs on. */
	assert_int_equal(machine_dirty_stop(m), 0);
	assert_null(thread_dirty_mode(m));
	assert_int_equal(machine_dirty_fetch(m, bm, npages), -EINVAL);
	assert_int_equal(machine_dirty_stop(m), 0);
	ops = ops_of(m);
	wait_ops_past(m, ops + 1000);
	assert_int_equal(machine_pause(m), 0);
	if (wl_check(ram_of(m), c.ram_bytes, why, sizeof(why)))
		fail_msg("wl_check: %s", why);
	machine_destroy(m);
	unsetenv("PCM_DIRTY_SYNC");
	free(bm);
}

/* Destroying a machine that still tracks leaves nothing behind (the
 * sync handler thread ends, vCPUs blocked on it are released). */
static void test_machine_destroy_tracking(void **state)
{
	unsigned flags = *(const unsigned *)*state;
	struct machine_config c = sweep_cfg();
	struct machine *m;

	td_skip_unless(flags);
	set_mode_env(flags);
	assert_int_equal(machine_create(&c, &m), 0);
	assert_int_equal(machine_start(m), 0);
	assert_int_equal(machine_dirty_start(m), 0);
	sleep_us(20000);
	machine_destroy(m);
	unsetenv("PCM_DIRTY_SYNC");
}

#define BOTH(fn) cmocka_unit_test_prestate(fn, (void *)&want_async), \
		 cmocka_unit_test_prestate(fn, (void *)&want_sync)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_raw_written),
		cmocka_unit_test(test_raw_twice),
		BOTH(test_td_basic),
		BOTH(test_td_race),
		BOTH(test_td_stop),
		BOTH(test_machine_sweep),
		BOTH(test_machine_destroy_tracking),
	};

	/* Last resort if a writer stays blocked on a broken sync path. */
	alarm(120);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
