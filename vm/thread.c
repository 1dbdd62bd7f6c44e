/* vm/thread.c - the thread engine: each vCPU is a host thread running a
 * guest/ workload directly over guest RAM.
 *
 * Guest RAM is one memfd mapped shared at gpa 0. A vCPU thread loops:
 *
 *     in_step = 1; if (run != GO) { in_step = 0; park; } else { step; in_step = 0; }
 *
 * with sequentially consistent accesses on in_step and run (a Dekker pair):
 * once the pauser has stored run = PAUSE and then seen in_step == 0 for a
 * vCPU, that vCPU is between steps and will not begin another until resume.
 * A vCPU in the middle of a step finishes it (steps are microseconds) and
 * wakes the pauser through a futex on its in_step; idling vCPUs wait on a
 * futex on run, so a pause interrupts their idle at once. Parked vCPUs leave
 * the run queue, so even with many more vCPUs than cores the pause only
 * waits for the few that were preempted mid-step.
 *
 * Scheduling: vCPU threads run SCHED_BATCH at nice PCM_VCPU_NICE (default
 * 5), so on a host with fewer cores than vCPUs the VMM's own threads (the
 * migration's fault handler, pusher, network) still get the CPU at once.
 *
 * Guest clock: CLOCK_MONOTONIC + clock_off. It starts at 1 s at create, and
 * machine_load sets clock_off so that the guest time continues from the
 * saved guest time plus the wall (CLOCK_REALTIME) time since the save.
 *
 * Dirty log (pre-copy): userfaultfd write-protect over guest RAM, in
 * vm/thread_dirty.c; PCM_DIRTY_SYNC=1 forces its synchronous way.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/futex.h"
#include "guest/workload.h"
#include "vm/engine.h"
#include "vm/thread_int.h"

enum { RUN_GO = 0, RUN_PAUSE = 1, RUN_STOP = 2 };
enum { TS_CREATED, TS_RUNNING, TS_PAUSED };


struct thread_vm;

#define RATE_SLOTS      4
#define RATE_SAMPLE_NS  250000000ull
#define RATE_CHECK_MASK 63   /* look at the clock every 64 operations */

struct tvcpu {
	_Alignas(64) _Atomic uint32_t in_step;   /* futex */
	_Atomic uint64_t heartbeats;
	/* (time, heartbeats) samples for machine_stats' ops_rate, one every
	 * RATE_SAMPLE_NS into a ring the vCPU writes alone (rate_t 0: slot
	 * empty or being written); the oldest is up to a second old. */
	_Atomic uint64_t rate_t[RATE_SLOTS], rate_hb[RATE_SLOTS];
	uint64_t rate_last;
	unsigned rate_next;
	struct thread_vm *tm;
	struct guest_cpu cpu;
	struct wl_regs regs;
	pthread_t th;
	unsigned idx;
};

struct thread_vm {
	_Alignas(64) _Atomic uint32_t run;       /* futex: RUN_* */
	_Atomic int64_t clock_off;               /* guest = monotonic + off */
	_Alignas(64) pthread_mutex_t lock;       /* control operations */
	int state;
	int have_regs;                           /* regs hold a guest */
	unsigned nthreads;                       /* threads created */
	_Atomic uint64_t pause_last, pause_max;
	int vcpu_nice;                           /* machine_vcpu_nice() at start */
	int memfd;
	uint8_t *ram;
	uint64_t ram_size;
	unsigned n;
	struct tvcpu *v;
	struct thread_dirty *dirty;              /* dirty log, NULL when off */
};

static uint64_t guest_now(struct thread_vm *tm)
{
	return pcm_now_ns() +
	       (uint64_t)atomic_load_explicit(&tm->clock_off, memory_order_relaxed);
}

/* ---- guest_ops ---- */

static uint64_t op_clock(void *ctx)
{
	return guest_now(((struct tvcpu *)ctx)->tm);
}

/* A sample every RATE_SAMPLE_NS, over the oldest slot. rate_t is cleared
 * first and set last, so a reader that sees the same nonzero rate_t
 * before and after reading rate_hb has a matching pair. */
static void rate_note(struct tvcpu *v, uint64_t hb)
{
	uint64_t now = pcm_now_ns();
	unsigned i = v->rate_next;

	if (v->rate_last && now - v->rate_last < RATE_SAMPLE_NS)
		return;
	atomic_store_explicit(&v->rate_t[i], 0, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&v->rate_hb[i], hb, memory_order_relaxed);
	atomic_store_explicit(&v->rate_t[i], now, memory_order_release);
	v->rate_last = now;
	v->rate_next = (i + 1) % RATE_SLOTS;
}

static void op_heartbeat(void *ctx, uint64_t progress)
{
	struct tvcpu *v = ctx;
	uint64_t hb = atomic_load_explicit(&v->heartbeats, memory_order_relaxed) + 1;

	(void)progress;
	/* One writer per counter: no locked instruction needed. */
	atomic_store_explicit(&v->heartbeats, hb, memory_order_relaxed);
	if (!(hb & RATE_CHECK_MASK) || hb == 1)
		rate_note(v, hb);
}

static void op_idle(void *ctx, uint64_t ns)
{
	struct thread_vm *tm = ((struct tvcpu *)ctx)->tm;
	struct timespec ts = {
		.tv_sec = (time_t)(ns / 1000000000ull),
		.tv_nsec = (long)(ns % 1000000000ull),
	};

	if (!ns || atomic_load(&tm->run) != RUN_GO)
		return;
	/* Returns at once if run already changed; pause/stop wake it. */
	pcm_futex_wait(&tm->run, RUN_GO, &ts);
}

static const struct guest_ops thread_ops = {
	.clock_ns = op_clock,
	.heartbeat = op_heartbeat,
	.idle = op_idle,
};

/* ---- vCPU threads ---- */

static void *vcpu_main(void *arg)
{
	struct tvcpu *v = arg;
	struct thread_vm *tm = v->tm;
	uint32_t run;

	/* vCPUs are CPU hogs and the VMM's own threads (the one pausing or
	 * resuming us, fault handlers, the network) must not wait behind
	 * them: SCHED_BATCH (a waking vCPU does not preempt anyone, so a
	 * resume wakes all vCPUs at once) and a lower priority. */
	machine_vcpu_sched(tm->vcpu_nice);
	for (;;) {
		atomic_store(&v->in_step, 1);
		run = atomic_load(&tm->run);
		if (run != RUN_GO) {
			atomic_store(&v->in_step, 0);
			pcm_futex_wake(&v->in_step, 1);
			while ((run = atomic_load(&tm->run)) == RUN_PAUSE)
				pcm_futex_wait(&tm->run, RUN_PAUSE, NULL);
			if (run == RUN_STOP)
				break;
			continue;
		}
		wl_step(&v->cpu, &v->regs);
		atomic_store(&v->in_step, 0);
		if (atomic_load(&tm->run) != RUN_GO)
			pcm_futex_wake(&v->in_step, 1);
	}
	return NULL;
}

/* Stop and join every thread created so far. */
static void threads_stop(struct thread_vm *tm)
{
	atomic_store(&tm->run, RUN_STOP);
	pcm_futex_wake(&tm->run, INT_MAX);
	for (unsigned i = 0; i < tm->nthreads; i++)
		pthread_join(tm->v[i].th, NULL);
	tm->nthreads = 0;
}

/* ---- engine ---- */

static int thread_create(struct machine *m, int incoming)
{
	struct thread_vm *tm;
	unsigned n = m->cfg.vcpus;
	int r;

	if (m->cfg.guest != MACHINE_GUEST_PAYLOAD)
		return -EOPNOTSUPP;   /* thread_probe says why */
	tm = aligned_alloc(64, (sizeof(*tm) + 63) & ~(size_t)63);
	if (!tm)
		return -ENOMEM;
	memset(tm, 0, sizeof(*tm));
	tm->v = aligned_alloc(64, n * sizeof(struct tvcpu));
	if (!tm->v) {
		free(tm);
		return -ENOMEM;
	}
	memset(tm->v, 0, n * sizeof(struct tvcpu));
	pthread_mutex_init(&tm->lock, NULL);
	tm->n = n;
	tm->ram_size = m->cfg.ram_bytes;
	tm->memfd = memfd_create("guest-ram", MFD_CLOEXEC);
	if (tm->memfd < 0) {
		r = -errno;
		goto fail;
	}
	if (ftruncate(tm->memfd, (off_t)tm->ram_size) < 0) {
		r = -errno;
		goto fail;
	}
	tm->ram = mmap(NULL, tm->ram_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       tm->memfd, 0);
	if (tm->ram == MAP_FAILED) {
		tm->ram = NULL;
		r = -errno;
		goto fail;
	}
	atomic_store(&tm->run, RUN_GO);
	atomic_store(&tm->clock_off,
		     (int64_t)(1000000000ull - pcm_now_ns()));
	for (unsigned i = 0; i < n; i++) {
		struct tvcpu *v = &tm->v[i];

		v->tm = tm;
		v->idx = i;
		v->cpu.ram = tm->ram;
		v->cpu.ram_size = tm->ram_size;
		v->cpu.vcpu = i;
		v->cpu.nvcpus = n;
		v->cpu.ops = &thread_ops;
		v->cpu.ctx = v;
	}
	if (!incoming) {
		wl_boot_write(tm->ram, tm->ram_size, n, &m->cfg.params);
		for (unsigned i = 0; i < n; i++)
			wl_regs_init(&tm->v[i].regs, guest_boot_of(tm->ram), i);
		tm->have_regs = 1;
	}
	tm->state = TS_CREATED;
	m->nregions = 1;
	m->regions[0] = (struct machine_region){
		.gpa = 0,
		.size = tm->ram_size,
		.host = tm->ram,
		.memfd = tm->memfd,
		.memfd_off = 0,
	};
	m->priv = tm;
	return 0;
fail:
	if (tm->memfd >= 0)
		close(tm->memfd);
	pthread_mutex_destroy(&tm->lock);
	free(tm->v);
	free(tm);
	return r;
}

static void thread_destroy(struct machine *m)
{
	struct thread_vm *tm = m->priv;

	if (!tm)
		return;
	thread_dirty_stop(tm->dirty);   /* no vCPU left blocked on it */
	threads_stop(tm);
	if (tm->ram)
		munmap(tm->ram, tm->ram_size);
	if (tm->memfd >= 0)
		close(tm->memfd);
	pthread_mutex_destroy(&tm->lock);
	free(tm->v);
	free(tm);
	m->priv = NULL;
	m->nregions = 0;
}

static int thread_start(struct machine *m)
{
	struct thread_vm *tm = m->priv;
	int r = 0;

	pthread_mutex_lock(&tm->lock);
	if (tm->state != TS_CREATED) {
		r = -EBUSY;
		goto out;
	}
	if (!tm->have_regs) {   /* incoming machine that was never loaded */
		r = -EINVAL;
		goto out;
	}
	atomic_store(&tm->run, RUN_GO);
	tm->vcpu_nice = machine_vcpu_nice();
	/* vCPU threads take no asynchronous signals. */
	for (unsigned i = 0; i < tm->n; i++) {
		if ((r = machine_vcpu_thread(&tm->v[i].th, vcpu_main, &tm->v[i], i)))
			break;
		tm->nthreads++;
	}
	if (r) {
		threads_stop(tm);
		atomic_store(&tm->run, RUN_GO);
		goto out;
	}
	tm->state = TS_RUNNING;
out:
	pthread_mutex_unlock(&tm->lock);
	return r;
}

static int thread_pause(struct machine *m)
{
	struct thread_vm *tm = m->priv;
	uint64_t t0, dt;

	pthread_mutex_lock(&tm->lock);
	if (tm->state != TS_RUNNING) {   /* not started, or already paused */
		pthread_mutex_unlock(&tm->lock);
		return 0;
	}
	t0 = pcm_now_ns();
	atomic_store(&tm->run, RUN_PAUSE);
	pcm_futex_wake(&tm->run, INT_MAX);   /* idlers */
	for (unsigned i = 0; i < tm->n; i++) {
		struct tvcpu *v = &tm->v[i];
		/* The timeout only guards against a lost wake-up. */
		const struct timespec ts = { 0, 10 * 1000 * 1000 };

		while (atomic_load(&v->in_step))
			pcm_futex_wait(&v->in_step, 1, &ts);
	}
	dt = pcm_now_ns() - t0;
	machine_pause_note(&tm->pause_last, &tm->pause_max, dt);
	tm->state = TS_PAUSED;
	pthread_mutex_unlock(&tm->lock);
	return 0;
}

static int thread_resume(struct machine *m)
{
	struct thread_vm *tm = m->priv;
	int r = 0;

	pthread_mutex_lock(&tm->lock);
	if (tm->state == TS_PAUSED) {
		atomic_store(&tm->run, RUN_GO);
		pcm_futex_wake(&tm->run, INT_MAX);
		tm->state = TS_RUNNING;
	} else if (tm->state == TS_CREATED) {
		r = -EINVAL;    /* never started: use machine_start */
	}
	pthread_mutex_unlock(&tm->lock);
	return r;
}

static size_t thread_body_size(const struct machine *m)
{
	return sizeof(struct thread_state_body) + m->cfg.vcpus * sizeof(struct wl_regs);
}

static ssize_t thread_save_body(struct machine *m, void *buf, size_t cap)
{
	struct thread_vm *tm = m->priv;
	struct thread_state_body b;
	size_t need = thread_body_size(m);
	ssize_t r = (ssize_t)need;

	if (cap < need)
		return -ENOSPC;
	pthread_mutex_lock(&tm->lock);
	if (tm->state == TS_RUNNING) {
		r = -EBUSY;
		goto out;
	}
	if (!tm->have_regs) {
		r = -EINVAL;
		goto out;
	}
	memset(&b, 0, sizeof(b));
	b.ram_bytes = m->cfg.ram_bytes;
	b.regs_size = sizeof(struct wl_regs);
	b.params = m->cfg.params;
	b.guest_ns = guest_now(tm);
	b.realtime_ns = pcm_clock_ns(CLOCK_REALTIME);
	memcpy(buf, &b, sizeof(b));
	for (unsigned i = 0; i < tm->n; i++)
		memcpy((uint8_t *)buf + sizeof(b) + i * sizeof(struct wl_regs),
		       &tm->v[i].regs, sizeof(struct wl_regs));
out:
	pthread_mutex_unlock(&tm->lock);
	return r;
}

static int thread_load_body(struct machine *m, const void *body, size_t len)
{
	struct thread_vm *tm = m->priv;
	struct thread_state_body b;
	const uint8_t *regs = (const uint8_t *)body + sizeof(b);
	uint64_t now_real, now_mono, target;
	int r = 0;

	if (len < sizeof(b))
		return -EINVAL;
	memcpy(&b, body, sizeof(b));
	if (b.regs_size != sizeof(struct wl_regs) || b.ram_bytes != m->cfg.ram_bytes)
		return -ENOEXEC;
	if (len != sizeof(b) + (uint64_t)tm->n * b.regs_size)
		return -EINVAL;
	if (b.params.workload < 1 || b.params.workload > WL_MAX)
		return -EINVAL;
	if (m->cfg.params.workload && m->cfg.params.workload != b.params.workload)
		return -ENOEXEC;
	for (unsigned i = 0; i < tm->n; i++) {
		struct wl_regs w;

		memcpy(&w, regs + i * sizeof(w), sizeof(w));
		if (w.vcpu != i || w.workload != b.params.workload)
			return -EINVAL;
	}

	pthread_mutex_lock(&tm->lock);
	if (tm->state == TS_RUNNING) {
		r = -EBUSY;
		goto out;
	}
	for (unsigned i = 0; i < tm->n; i++)
		memcpy(&tm->v[i].regs, regs + i * sizeof(struct wl_regs),
		       sizeof(struct wl_regs));
	if (!m->cfg.params.workload)
		m->cfg.params = b.params;

	/* Guest time = saved guest time + wall time since the save; a
	 * realtime clock behind the source's counts as no time at all, and a
	 * machine that already ran this guest never steps back. */
	now_real = pcm_clock_ns(CLOCK_REALTIME);
	now_mono = pcm_now_ns();
	target = b.guest_ns + (now_real > b.realtime_ns ? now_real - b.realtime_ns : 0);
	if (tm->have_regs) {
		uint64_t cur = now_mono + (uint64_t)atomic_load(&tm->clock_off);

		if (cur > target)
			target = cur;
	}
	atomic_store(&tm->clock_off, (int64_t)(target - now_mono));
	tm->have_regs = 1;
out:
	pthread_mutex_unlock(&tm->lock);
	return r;
}

/* A vCPU's oldest whole sample at least RATE_SAMPLE_NS old: 0, or -1. */
static int rate_oldest(struct tvcpu *v, uint64_t now, uint64_t *t0, uint64_t *hb0)
{
	*t0 = UINT64_MAX;
	for (unsigned i = 0; i < RATE_SLOTS; i++) {
		uint64_t t = atomic_load_explicit(&v->rate_t[i], memory_order_acquire);
		uint64_t hb = atomic_load_explicit(&v->rate_hb[i], memory_order_relaxed);

		atomic_thread_fence(memory_order_acquire);
		if (t && t == atomic_load_explicit(&v->rate_t[i], memory_order_relaxed) &&
		    t < *t0 && t < now && now - t >= RATE_SAMPLE_NS) {
			*t0 = t;
			*hb0 = hb;
		}
	}
	return *t0 == UINT64_MAX ? -1 : 0;
}

/* The sum of the vCPUs' operation rates from their oldest samples to now,
 * over the shortest of their windows (up to a second); none if a vCPU has
 * no sample yet. Heartbeats count the workload's operations. */
static void thread_ops_rate(struct thread_vm *tm, struct machine_stats *s)
{
	uint64_t now = pcm_now_ns(), win = UINT64_MAX;
	double rate = 0;

	for (unsigned i = 0; i < tm->n; i++) {
		struct tvcpu *v = &tm->v[i];
		uint64_t t0, hb0 = 0, hb = atomic_load_explicit(&v->heartbeats, memory_order_relaxed);

		if (rate_oldest(v, now, &t0, &hb0) || hb < hb0)
			return;
		rate += (hb - hb0) * 1e9 / (double)(now - t0);
		if (now - t0 < win)
			win = now - t0;
	}
	if (tm->n) {
		s->ops_rate = rate;
		s->ops_rate_ns = win;
	}
}

static void thread_stats(struct machine *m, struct machine_stats *s)
{
	struct thread_vm *tm = m->priv;

	thread_ops_rate(tm, s);
	for (unsigned i = 0; i < tm->n; i++)
		s->heartbeats += atomic_load_explicit(&tm->v[i].heartbeats,
						      memory_order_relaxed);
	s->pause_ns_last = atomic_load_explicit(&tm->pause_last, memory_order_relaxed);
	s->pause_ns_max = atomic_load_explicit(&tm->pause_max, memory_order_relaxed);
}

/* ---- dirty log: vm/thread_dirty.c, calls serialized by tm->lock ---- */

static int thread_log_dirty(struct machine *m, int on)
{
	struct thread_vm *tm = m->priv;
	const char *e = getenv("PCM_DIRTY_SYNC");
	unsigned flags = e && !strcmp(e, "1") ? THREAD_DIRTY_SYNC : 0;
	int r = 0;

	pthread_mutex_lock(&tm->lock);
	if (on && !tm->dirty) {
		r = thread_dirty_start(&tm->dirty, tm->ram, tm->ram_size, flags);
	} else if (!on) {
		thread_dirty_stop(tm->dirty);
		tm->dirty = NULL;
	}
	pthread_mutex_unlock(&tm->lock);
	return r;
}

static int thread_fetch_dirty(struct machine *m, uint64_t *bitmap, uint64_t npages)
{
	struct thread_vm *tm = m->priv;
	int r;

	pthread_mutex_lock(&tm->lock);
	r = thread_dirty_fetch(tm->dirty, bitmap, npages);
	pthread_mutex_unlock(&tm->lock);
	return r;
}

const char *thread_dirty_mode(const struct machine *m)
{
	struct thread_vm *tm;
	const char *k = NULL;

	if (!m || m->eng != &machine_engine_thread || !(tm = m->priv))
		return NULL;
	pthread_mutex_lock(&tm->lock);
	if (tm->dirty)
		k = thread_dirty_kind(tm->dirty);
	pthread_mutex_unlock(&tm->lock);
	return k;
}

/* Host threads run guest/ workloads, not a kernel. */
static int thread_probe(const struct machine_config *c, char *why, size_t len)
{
	if (c && c->guest != MACHINE_GUEST_PAYLOAD) {
		snprintf(why, len, "the thread engine runs only the project's workloads, "
			 "not a Linux kernel (use --engine kvm)");
		return -EOPNOTSUPP;
	}
	return 0;
}

const struct machine_engine machine_engine_thread = {
	.kind = MACHINE_ENGINE_THREAD,
	.probe = thread_probe,
	.create = thread_create,
	.destroy = thread_destroy,
	.start = thread_start,
	.pause = thread_pause,
	.resume = thread_resume,
	.body_size = thread_body_size,
	.save_body = thread_save_body,
	.load_body = thread_load_body,
	.stats = thread_stats,
	.dirty_log = thread_log_dirty,
	.dirty_fetch = thread_fetch_dirty,
};
