/* tests/unit/test_guest.c - the guest workloads, run directly over a
 * malloc'd "guest RAM" with fake guest_ops (a counter clock). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "lib/clock.h"
#include "guest/internal.h"
#include "guest/workload.h"

struct fake {
	uint64_t now;        /* ns */
	uint64_t tick;       /* added by every clock read */
	uint64_t heartbeats;
	uint64_t last_progress;
	uint64_t idle_calls;
	uint64_t idle_ns;
	int real;            /* use the real monotonic clock */
};

static uint64_t f_clock(void *ctx)
{
	struct fake *f = ctx;

	if (f->real) {
		return pcm_now_ns();
	}
	f->now += f->tick;
	return f->now;
}

static void f_heartbeat(void *ctx, uint64_t progress)
{
	struct fake *f = ctx;

	f->heartbeats++;
	f->last_progress = progress;
}

static void f_idle(void *ctx, uint64_t ns)
{
	struct fake *f = ctx;

	f->idle_calls++;
	f->idle_ns += ns;
	if (!f->real)
		f->now += ns;
}

static const struct guest_ops fake_ops = { f_clock, f_heartbeat, f_idle };

struct vm {
	uint8_t *ram;
	uint64_t size;
	unsigned n;
	struct fake f;
	struct guest_cpu cpu[GUEST_MAX_VCPUS];
	struct wl_regs regs[GUEST_MAX_VCPUS];
};

static struct vm *vm_new(uint64_t size, unsigned n, struct wl_params p)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	const char *why = NULL;

	assert_non_null(vm);
	vm->ram = calloc(1, size);
	assert_non_null(vm->ram);
	vm->size = size;
	vm->n = n;
	vm->f.now = 1000000000ull;
	vm->f.tick = 1000;
	assert_int_equal(wl_params_fix(&p, size, n, &why), 0);
	wl_boot_write(vm->ram, size, n, &p);
	for (unsigned i = 0; i < n; i++) {
		vm->cpu[i] = (struct guest_cpu){ vm->ram, size, i, n, &fake_ops, &vm->f };
		wl_regs_init(&vm->regs[i], guest_boot_of(vm->ram), i);
	}
	return vm;
}

static void vm_free(struct vm *vm)
{
	free(vm->ram);
	free(vm);
}

static void vm_steps(struct vm *vm, unsigned vcpu, uint64_t n)
{
	while (n--)
		wl_step(&vm->cpu[vcpu], &vm->regs[vcpu]);
}

static int vm_check(struct vm *vm, char *why, unsigned len)
{
	return wl_check(vm->ram, vm->size, why, len);
}

/* ---- names and parameters ---- */

static void test_names(void **state)
{
	(void)state;
	assert_int_equal(wl_lookup("idle"), WL_IDLE);
	assert_int_equal(wl_lookup("sweep"), WL_SWEEP);
	assert_int_equal(wl_lookup("kv"), WL_KV);
	assert_int_equal(wl_lookup("kvx"), 0);
	assert_int_equal(wl_lookup(""), 0);
	assert_int_equal(wl_lookup(NULL), 0);
	assert_string_equal(wl_name(WL_KV), "kv");
	assert_string_equal(wl_name(WL_SWEEP), "sweep");
	assert_null(wl_name(0));
	assert_null(wl_name(WL_MAX + 1));
}

static int fix(struct wl_params p, uint64_t ram, unsigned n, const char **why)
{
	*why = NULL;
	return wl_params_fix(&p, ram, n, why);
}

static void expect_einval(struct wl_params p, uint64_t ram, unsigned n, const char *needle)
{
	const char *why;

	assert_int_equal(fix(p, ram, n, &why), -EINVAL);
	assert_non_null(why);
	if (!strstr(why, needle))
		fail_msg("reason '%s' lacks '%s'", why, needle);
}

static void test_params(void **state)
{
	struct wl_params p = { 0 }, q;
	const char *why;
	uint64_t mib64 = 64ull << 20, data = mib64 - GUEST_DATA_OFF;

	(void)state;
	/* defaults */
	p.workload = WL_SWEEP;
	assert_int_equal(wl_params_fix(&p, mib64, 2, &why), 0);
	assert_int_equal(p.write_permille, 500);
	assert_int_equal(p.working_set, data);
	q = p;
	assert_int_equal(wl_params_fix(&q, mib64, 2, &why), 0);   /* idempotent */
	assert_memory_equal(&p, &q, sizeof(p));

	memset(&p, 0, sizeof(p));
	p.workload = WL_KV;
	assert_int_equal(wl_params_fix(&p, mib64, 4, &why), 0);
	assert_int_equal(p.kv_value_size, 128);
	assert_int_equal(p.kv_put_permille, 200);
	assert_int_equal(p.kv_keys, kv_capacity(wl_slice_bytes(&p, 4), 128) / 2);
	assert_true(p.kv_keys > 1000);

	memset(&p, 0, sizeof(p));
	p.workload = WL_IDLE;
	assert_int_equal(fix(p, 4ull << 20, 64, &why), 0);

	/* errors */
	memset(&p, 0, sizeof(p));
	expect_einval(p, mib64, 2, "unknown workload");
	p.workload = 99;
	expect_einval(p, mib64, 2, "unknown workload");
	p.workload = WL_KV;
	expect_einval(p, mib64, 0, "vCPU");
	expect_einval(p, mib64, GUEST_MAX_VCPUS + 1, "vCPU");
	expect_einval(p, GUEST_DATA_OFF + 8 * 4096, 4, "--mem too small for this many vCPUs of kv");
	p.workload = WL_SWEEP;
	expect_einval(p, GUEST_DATA_OFF + 8 * 4096, 4, "--mem too small for this many vCPUs of sweep");
	expect_einval(p, 64 * 1024, 1, "--mem too small");
	expect_einval(p, mib64 + 100, 1, "multiple of 4 KiB");
	p.working_set = data + 4096;
	expect_einval(p, mib64, 1, "--working-set larger");
	p.working_set = 4096;
	expect_einval(p, mib64, 2, "--working-set too small");
	p.working_set = 0;
	p.write_permille = 1001;
	expect_einval(p, mib64, 1, "--write-permille");
	p.write_permille = 1000;
	assert_int_equal(fix(p, mib64, 1, &why), 0);
	p.workload = WL_KV;
	p.write_permille = 0;
	p.kv_value_size = 12;
	expect_einval(p, mib64, 1, "--value-size");
	p.kv_value_size = 8192;
	expect_einval(p, mib64, 1, "--value-size");
	p.kv_value_size = 0;
	p.kv_put_permille = 1001;
	expect_einval(p, mib64, 1, "--put-permille");
	p.kv_put_permille = 0;
	p.kv_keys = data;   /* far more than slots */
	expect_einval(p, mib64, 1, "--kv-keys");
}

/* ---- kv ---- */

static struct vm *kv_vm(uint64_t size, unsigned n)
{
	struct wl_params p = { .workload = WL_KV, .seed = 42 };

	return vm_new(size, n, p);
}

static void kv_until_ready(struct vm *vm)
{
	for (unsigned v = 0; v < vm->n; v++) {
		uint64_t guard = 1000000;

		while (!guest_stats_of(vm->ram, v)->ready && guard--)
			wl_step(&vm->cpu[v], &vm->regs[v]);
		assert_true(guest_stats_of(vm->ram, v)->ready);
		assert_int_equal(vm->regs[v].phase, 1);
	}
}

/* Host address of slot i of vCPU v's shard. */
static uint8_t *kv_slot(struct vm *vm, unsigned v, uint64_t i)
{
	const struct wl_params *p = &guest_boot_of(vm->ram)->params;

	return vm->ram + wl_slice_base(p, vm->n, v) + KV_HDR_BYTES +
	       i * kv_slot_bytes(p->kv_value_size);
}

static uint64_t kv_find_slot(struct vm *vm, unsigned v, uint64_t key)
{
	const struct wl_params *p = &guest_boot_of(vm->ram)->params;
	uint64_t cap = kv_capacity(wl_slice_bytes(p, vm->n), p->kv_value_size);

	for (uint64_t i = 0; i < cap; i++) {
		uint64_t k;

		memcpy(&k, kv_slot(vm, v, i), 8);
		if (k == key)
			return i;
	}
	fail_msg("key %llu not found", (unsigned long long)key);
	return 0;
}

static void test_kv_ops_and_check(void **state)
{
	struct vm *vm = kv_vm(6ull << 20, 2);
	char why[200];
	uint64_t hist = 0, ops_ready[2];

	(void)state;
	kv_until_ready(vm);
	assert_int_equal(vm_check(vm, why, sizeof(why)), 0);
	for (unsigned v = 0; v < 2; v++) {
		ops_ready[v] = guest_stats_of(vm->ram, v)->ops;
		vm_steps(vm, v, 10000);
	}
	assert_int_equal(vm_check(vm, why, sizeof(why)), 0);
	for (unsigned v = 0; v < 2; v++) {
		struct guest_vcpu_stats *s = guest_stats_of(vm->ram, v);

		assert_int_equal(s->check_fail, 0);
		assert_int_equal(s->ops, ops_ready[v] + 10000);
		assert_int_equal(s->ops, vm->regs[v].step);
		hist = 0;
		for (int b = 0; b < GUEST_LAT_BUCKETS; b++)
			hist += s->lat_hist[b];
		assert_int_equal(hist, 10000);
		/* The fake clock ticks 1000 ns per read: bucket log2(1000) = 9. */
		assert_int_equal(s->lat_hist[9], 10000);
	}
	assert_int_equal(vm->f.heartbeats,
			 guest_stats_of(vm->ram, 0)->ops + guest_stats_of(vm->ram, 1)->ops);

	/* Corrupt one value byte: the check names it. */
	uint64_t i = kv_find_slot(vm, 1, 77);
	uint8_t *val = kv_slot(vm, 1, i) + 16 + 5;

	*val ^= 0x40;
	assert_int_equal(vm_check(vm, why, sizeof(why)), -EBADMSG);
	printf("      corrupt value -> \"%s\"\n", why);
	assert_non_null(strstr(why, "vcpu 1"));
	assert_non_null(strstr(why, "value does not match"));
	assert_non_null(strstr(why, "key 77"));
	*val ^= 0x40;
	assert_int_equal(vm_check(vm, why, sizeof(why)), 0);

	/* Corrupt the hottest key and make (nearly) every operation a get:
	 * the service itself notices and records it. */
	guest_boot_of(vm->ram)->params.kv_put_permille = 1;
	i = kv_find_slot(vm, 0, 1);
	val = kv_slot(vm, 0, i) + 16;
	*val ^= 1;
	vm_steps(vm, 0, 5000);
	assert_true(guest_stats_of(vm->ram, 0)->check_fail > 0);
	assert_int_equal(vm_check(vm, why, sizeof(why)), -EBADMSG);
	assert_non_null(strstr(why, "in service"));
	printf("      in-service detection -> \"%s\"\n", why);
	vm_free(vm);
}

static void test_kv_count_and_version(void **state)
{
	struct vm *vm = kv_vm(4ull << 20, 1);
	char why[200];
	uint64_t i, ver;
	uint64_t *count;
	const struct wl_params *p;

	(void)state;
	kv_until_ready(vm);
	vm_steps(vm, 0, 2000);
	assert_int_equal(vm_check(vm, why, sizeof(why)), 0);
	/* Some hot key has been put at least once. */
	i = kv_find_slot(vm, 0, 1);
	memcpy(&ver, kv_slot(vm, 0, i) + 8, 8);
	assert_true(ver > 1);
	/* Version changed without its value: caught. */
	ver++;
	memcpy(kv_slot(vm, 0, i) + 8, &ver, 8);
	assert_int_equal(vm_check(vm, why, sizeof(why)), -EBADMSG);
	ver--;
	memcpy(kv_slot(vm, 0, i) + 8, &ver, 8);
	/* Header count (offset 24) off by one. */
	p = &guest_boot_of(vm->ram)->params;
	count = (uint64_t *)(vm->ram + wl_slice_base(p, 1, 0) + 24);
	(*count)++;
	assert_int_equal(vm_check(vm, why, sizeof(why)), -EBADMSG);
	assert_non_null(strstr(why, "header count"));
	(*count)--;
	assert_int_equal(vm_check(vm, why, sizeof(why)), 0);
	/* A key moved to a slot its probe cannot reach: count and value stay
	 * right, only the table walk can tell. */
	{
		uint64_t cap = kv_capacity(wl_slice_bytes(p, 1), p->kv_value_size);
		uint64_t sb = kv_slot_bytes(p->kv_value_size), j, k;
		uint8_t tmp[256];

		i = kv_find_slot(vm, 0, 5);
		for (j = i + 2; j < cap; j++) {
			memcpy(&k, kv_slot(vm, 0, j), 8);
			if (!k && !*(uint64_t *)kv_slot(vm, 0, j - 1))
				break;
		}
		assert_true(j < cap);
		memcpy(tmp, kv_slot(vm, 0, i), sb);
		memcpy(kv_slot(vm, 0, j), tmp, sb);
		memset(kv_slot(vm, 0, i), 0, sb);
		assert_int_equal(vm_check(vm, why, sizeof(why)), -EBADMSG);
		printf("      moved key -> \"%s\"\n", why);
		assert_non_null(strstr(why, "not reachable"));
	}
	vm_free(vm);
}

/* ---- sweep ---- */

static uint64_t page_word(struct vm *vm, uint64_t pidx, unsigned w)
{
	uint64_t x;

	memcpy(&x, vm->ram + GUEST_DATA_OFF + pidx * 4096 + w * 8, 8);
	return x;
}

static void test_sweep(void **state)
{
	struct wl_params p = { .workload = WL_SWEEP, .seed = 7 };
	struct vm *vm = vm_new(GUEST_DATA_OFF + (2ull << 20) - (128ull << 10), 2, p);
	uint64_t npages = ((2ull << 20) - (128ull << 10)) / 4096;   /* 480 */
	uint64_t written = 0, zero = 0, pw = ~0ull, pz = ~0ull;
	char why[200];
	uint8_t *b;

	(void)state;
	for (unsigned v = 0; v < 2; v++)
		vm_steps(vm, v, 3 * npages / 2 + 17);
	assert_int_equal(vm_check(vm, why, sizeof(why)), 0);
	for (uint64_t i = 0; i < npages; i++) {
		if (page_word(vm, i, 0)) {
			written++;
			pw = i;
		} else {
			zero++;
			pz = i;
		}
	}
	printf("      sweep: %llu pages written, %llu never written\n",
	       (unsigned long long)written, (unsigned long long)zero);
	assert_true(written > npages / 2);
	assert_true(zero > 0);
	assert_int_equal(guest_stats_of(vm->ram, 0)->check_fail, 0);
	assert_int_equal(guest_stats_of(vm->ram, 0)->ops, 3 * npages / 2 + 17);

	/* A stamp that does not match its page. */
	b = vm->ram + GUEST_DATA_OFF + pw * 4096 + 8;
	*b ^= 1;
	assert_int_equal(vm_check(vm, why, sizeof(why)), -EBADMSG);
	printf("      corrupt stamp -> \"%s\"\n", why);
	assert_non_null(strstr(why, "bad stamp"));
	*b ^= 1;
	/* A stray byte in a never-written page. */
	b = vm->ram + GUEST_DATA_OFF + pz * 4096 + 1000;
	*b = 1;
	assert_int_equal(vm_check(vm, why, sizeof(why)), -EBADMSG);
	*b = 0;
	/* A stray byte in a non-stamp word of a written page. */
	b = vm->ram + GUEST_DATA_OFF + pw * 4096 + 8 * 5;
	*b = 1;
	assert_int_equal(vm_check(vm, why, sizeof(why)), -EBADMSG);
	*b = 0;
	assert_int_equal(vm_check(vm, why, sizeof(why)), 0);

	/* In service: corrupt a written page of vCPU 0, make touches reads
	 * and walk one full pass: the read records the failure. */
	while (!page_word(vm, pw % (npages / 2), 0))
		pw++;
	b = vm->ram + GUEST_DATA_OFF + (pw % (npages / 2)) * 4096 + 8;
	*b ^= 0x80;
	guest_boot_of(vm->ram)->params.write_permille = 1;   /* reads only, nearly */
	vm_steps(vm, 0, npages / 2);
	assert_true(guest_stats_of(vm->ram, 0)->check_fail > 0);
	assert_int_equal(vm_check(vm, why, sizeof(why)), -EBADMSG);
	assert_non_null(strstr(why, "in service"));
	printf("      in-service detection -> \"%s\"\n", why);
	vm_free(vm);
}

static void test_sweep_rate(void **state)
{
	/* 1000 pages/s over 2 vCPUs, every touch a write, fake clock. */
	struct wl_params p = { .workload = WL_SWEEP, .write_permille = 1000,
			       .rate_bps = 4096 * 1000 };
	struct vm *vm = vm_new(16ull << 20, 2, p);
	uint64_t t0 = vm->f.now, steps = 0, touched;

	(void)state;
	while (vm->f.now - t0 < 1000000000ull) {
		wl_step(&vm->cpu[steps & 1], &vm->regs[steps & 1]);
		steps++;
	}
	/* cursor = pages touched so far (the slices are larger than 1000). */
	touched = vm->regs[0].cursor + vm->regs[1].cursor;
	printf("      rate 4 MB/s: %llu pages written in 1 s of guest time (%llu steps)\n",
	       (unsigned long long)touched, (unsigned long long)steps);
	assert_true(touched >= 950 && touched <= 1050);
	assert_true(vm->f.idle_calls > 0);
	assert_int_equal(vm_check(vm, NULL, 0), 0);
	vm_free(vm);
}

/* ---- idle and stall bookkeeping ---- */

static void test_idle(void **state)
{
	struct wl_params p = { .workload = WL_IDLE };
	struct vm *vm = vm_new(4ull << 20, 2, p);

	(void)state;
	vm_steps(vm, 0, 100);
	vm_steps(vm, 1, 50);
	assert_int_equal(guest_stats_of(vm->ram, 0)->ops, 100);
	assert_int_equal(guest_stats_of(vm->ram, 1)->ops, 50);
	assert_true(guest_stats_of(vm->ram, 0)->ready);
	assert_int_equal(vm->f.idle_calls, 150);
	assert_int_equal(vm->f.idle_ns, 150 * 1000000ull);
	assert_int_equal(vm->f.heartbeats, 150);
	assert_int_equal(vm->f.last_progress, 50);
	for (uint64_t i = GUEST_DATA_OFF; i < vm->size; i++)
		if (vm->ram[i])
			fail_msg("idle touched data byte at %llu", (unsigned long long)i);
	assert_int_equal(vm_check(vm, NULL, 0), 0);
	vm_free(vm);
}

static void test_stall(void **state)
{
	struct vm *vm = kv_vm(4ull << 20, 1);
	struct guest_vcpu_stats *s = guest_stats_of(vm->ram, 0);
	struct guest_boot *b = guest_boot_of(vm->ram);
	uint64_t before;

	(void)state;
	vm_steps(vm, 0, 1);
	assert_int_equal(s->max_gap_ns, 0);      /* the first op has no gap */
	vm_steps(vm, 0, 100);
	before = s->max_gap_ns;
	assert_true(before > 0 && before < 1000000);
	vm->f.now += 5000000000ull;               /* a 5 s stall */
	vm_steps(vm, 0, 1);
	assert_true(s->max_gap_ns >= 5000000000ull);
	assert_true(s->max_gap_ns < 5001000000ull);
	vm_steps(vm, 0, 10);
	assert_true(s->max_gap_ns >= 5000000000ull);  /* sticks */
	/* A new window. */
	b->stall_epoch++;
	vm_steps(vm, 0, 10);
	assert_int_equal(s->epoch, b->stall_epoch);
	assert_true(s->max_gap_ns > 0 && s->max_gap_ns < 1000000);
	/* The gap straddling the epoch bump belongs to the new window. */
	vm->f.now += 2000000000ull;
	b->stall_epoch++;
	vm_steps(vm, 0, 1);
	assert_true(s->max_gap_ns >= 2000000000ull && s->max_gap_ns < 2001000000ull);
	/* A clock that went backwards is no gap (and no underflow). */
	vm->f.now -= 3000000000ull;
	b->stall_epoch++;
	vm_steps(vm, 0, 1);
	assert_true(s->max_gap_ns < 1000000);
	vm_free(vm);
}

/* Pages from `hole` on are declared holes: the check must not read them. */
static void holes_from(void *arg, uint64_t page, uint64_t *first, uint64_t *end)
{
	uint64_t hole = *(uint64_t *)arg;

	*first = page < hole ? page : ~0ull;
	*end = page < hole ? hole : ~0ull;
}

static void test_check_sparse(void **state)
{
	struct wl_params p = { .workload = WL_SWEEP };
	struct vm *vm = vm_new(GUEST_DATA_OFF + (1 << 20), 1, p);
	uint64_t hole = GUEST_DATA_OFF / 4096 + 4;
	struct wl_holes h = { holes_from, &hole };
	char why[160];

	(void)state;
	vm_steps(vm, 0, 4);                         /* touches data pages 0..3 */
	assert_int_equal(wl_check_sparse(vm->ram, vm->size, &h, why, sizeof(why)), 0);
	/* garbage in a declared hole is never read ... */
	vm->ram[GUEST_DATA_OFF + 10 * 4096 + 8] = 0x5a;
	assert_int_equal(wl_check_sparse(vm->ram, vm->size, &h, why, sizeof(why)), 0);
	/* ... but the full check reads it, and a bad data page still fails */
	assert_int_equal(wl_check(vm->ram, vm->size, why, sizeof(why)), -EBADMSG);
	vm->ram[GUEST_DATA_OFF + 10 * 4096 + 8] = 0;
	vm->ram[GUEST_DATA_OFF + 2 * 4096 + 8] ^= 0xff;
	assert_int_equal(wl_check_sparse(vm->ram, vm->size, &h, why, sizeof(why)), -EBADMSG);
	vm_free(vm);
}

static void test_check_bad_boot(void **state)
{
	const uint64_t size = 4 << 20;
	uint8_t *ram = calloc(1, 2 * size);
	struct wl_params p = { .workload = WL_KV };
	char why[100];

	(void)state;
	assert_int_equal(wl_check(ram, size, why, sizeof(why)), -EBADMSG);
	assert_non_null(strstr(why, "magic"));
	assert_int_equal(wl_params_fix(&p, size, 1, NULL), 0);
	wl_boot_write(ram, size, 1, &p);
	assert_int_equal(wl_check(ram, size, why, sizeof(why)), 0);
	assert_int_equal(wl_check(ram, 2 * size, why, sizeof(why)), -EBADMSG);
	/* A tiny reason buffer is cut, not overrun. */
	assert_int_equal(wl_check(ram, 2 * size, why, 5), -EBADMSG);
	assert_int_equal(strlen(why), 4);
	free(ram);
}

/* Real-clock step durations over real memory (informative). */
static void test_step_time(void **state)
{
	struct wl_params p[2] = { { .workload = WL_KV }, { .workload = WL_SWEEP } };

	(void)state;
	for (int k = 0; k < 2; k++) {
		struct vm *vm = vm_new(64ull << 20, 1, p[k]);
		uint64_t max = 0, sum = 0, n = 200000;

		vm->f.real = 1;
		memset(vm->ram + GUEST_DATA_OFF, 0, vm->size - GUEST_DATA_OFF);   /* fault in */
		kv_until_ready(vm);
		for (uint64_t i = 0; i < n; i++) {
			uint64_t t0 = f_clock(&vm->f), dt;

			wl_step(&vm->cpu[0], &vm->regs[0]);
			dt = f_clock(&vm->f) - t0;
			sum += dt;
			if (dt > max)
				max = dt;
		}
		printf("      %s step: mean %llu ns, max %llu ns\n", wl_name(p[k].workload),
		       (unsigned long long)(sum / n), (unsigned long long)max);
		assert_int_equal(vm_check(vm, NULL, 0), 0);
		vm_free(vm);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_kv_ops_and_check),
		cmocka_unit_test(test_kv_count_and_version),
		cmocka_unit_test(test_sweep),
		cmocka_unit_test(test_sweep_rate),
		cmocka_unit_test(test_idle),
		cmocka_unit_test(test_stall),
		cmocka_unit_test(test_check_bad_boot),
		cmocka_unit_test(test_check_sparse),
		cmocka_unit_test(test_step_time),
	};

	return cmocka_run_group_tests_name("guest", tests, NULL, NULL);
}
