/* kvm/vcpu.c - vCPU threads: creation, the KVM_RUN loop and its exits,
 * and pause/resume of all vCPUs from the control thread.
 *
 * The threads exist from the VM's creation, parked; start is the first
 * resume. Pause protocol (the control thread against each
 * vCPU thread, all sequentially consistent):
 *
 *   pauser: go = PAUSE; run->immediate_exit = 1; kick signal; wait parked
 *   vCPU:   top: if go != GO -> park;  KVM_RUN;  handle exit;  goto top
 *           park: complete a pending I/O (KVM_RUN with immediate_exit),
 *                 parked = 1, wait while go == PAUSE (on the gen futex,
 *                 bumped by every change of go), parked = 0,
 *                 immediate_exit = 0, goto top (which reads go again)
 *
 * A vCPU that reads GO just before the pause either gets the signal inside
 * KVM_RUN (which then returns EINTR) or enters KVM_RUN with immediate_exit
 * already set (which returns at once), so the pause always takes hold. The
 * re-read of go after clearing immediate_exit closes the window in which a
 * new pause set it before the vCPU cleared it.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "lib/clock.h"
#include "lib/futex.h"
#include "kvm/vmm.h"


static int kick_signal(void)
{
	return SIGRTMIN;
}

static void kick_handler(int sig)
{
	(void)sig;   /* its only job is to interrupt KVM_RUN */
}

int kvm_vcpu_create(struct kvm_vm *vm, struct kvm_vcpu *v, unsigned idx)
{
	int sz;

	v->vm = vm;
	v->idx = idx;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)idx);
	if (v->fd < 0)
		return -errno;
	sz = ioctl(vm->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz < (int)sizeof(struct kvm_run))
		return sz < 0 ? -errno : -EINVAL;
	v->run_size = (size_t)sz;
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return -errno;
	}
	return 0;
}

static size_t cpuid_bytes(const struct kvm_cpuid2 *c)
{
	return sizeof(*c) + c->nent * sizeof(c->entries[0]);
}

/* Give the vCPU the CPUID table c; with own_apic_id, patched to name the
 * vCPU's own APIC ID (leaf 1 and the x2APIC leaves), as at boot. Setting
 * the table KVM already has is skipped: KVM_SET_CPUID2 is the slowest
 * part of a restore, and an incoming vCPU already holds its table. */
int kvm_vcpu_cpuid(struct kvm_vcpu *v, const struct kvm_cpuid2 *c, int own_apic_id)
{
	struct kvm_cpuid2 *t = malloc(cpuid_bytes(c));

	if (!t)
		return -ENOMEM;
	memcpy(t, c, cpuid_bytes(c));
	for (uint32_t i = 0; own_apic_id && i < t->nent; i++) {
		struct kvm_cpuid_entry2 *e = &t->entries[i];

		if (e->function == 1)
			e->ebx = (e->ebx & 0x00ffffff) | (v->idx << 24);
		else if (e->function == 0xb || e->function == 0x1f)
			e->edx = v->idx;
	}
	if (v->cpuid && cpuid_bytes(v->cpuid) == cpuid_bytes(t) &&
	    !memcmp(v->cpuid, t, cpuid_bytes(t))) {
		free(t);
		return 0;
	}
	if (ioctl(v->fd, KVM_SET_CPUID2, t) < 0) {
		int err = -errno;

		free(t);
		return err;
	}
	free(v->cpuid);
	v->cpuid = t;
	return 0;
}

void kvm_vcpu_destroy(struct kvm_vcpu *v)
{
	free(v->cpuid);
	v->cpuid = NULL;
	if (v->run)
		munmap(v->run, v->run_size);
	if (v->fd > 0)
		close(v->fd);
	v->run = NULL;
	v->fd = -1;
}

/* ---- exits ---- */

static void exit_io(struct kvm_vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;

	v->io_pending = 1;
	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
		kvm_bus_access(&v->vm->pio, v, run->io.port, data, run->io.size,
			       run->io.direction == KVM_EXIT_IO_OUT);
}

static void exit_mmio(struct kvm_vcpu *v)
{
	struct kvm_run *run = v->run;
	unsigned len = run->mmio.len <= 8 ? run->mmio.len : 8;

	v->io_pending = !run->mmio.is_write;
	kvm_bus_access(&v->vm->mmio, v, run->mmio.phys_addr, run->mmio.data, len,
		       run->mmio.is_write);
}

static uint64_t vcpu_rip(struct kvm_vcpu *v)
{
	struct kvm_regs r;

	return ioctl(v->fd, KVM_GET_REGS, &r) == 0 ? r.rip : 0;
}

/* 0: keep running; anything else: this vCPU stops (the VM crashed). */
static int exit_handle(struct kvm_vcpu *v)
{
	struct kvm_run *run = v->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		exit_io(v);
		return 0;
	case KVM_EXIT_MMIO:
		exit_mmio(v);
		return 0;
	case KVM_EXIT_HLT:
	case KVM_EXIT_INTR:
		return 0;
	case KVM_EXIT_SHUTDOWN:
		kvm_crash_set(v->vm, "vCPU %u: triple fault (guest shut down) at rip %#llx",
			      v->idx, (unsigned long long)vcpu_rip(v));
		return -1;
	case KVM_EXIT_FAIL_ENTRY:
		kvm_crash_set(v->vm, "vCPU %u: entry failed, reason %#llx", v->idx,
			      (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return -1;
	case KVM_EXIT_INTERNAL_ERROR:
		kvm_crash_set(v->vm, "vCPU %u: KVM internal error, suberror %u at rip %#llx (data %u: %#llx %#llx %#llx %#llx)",
			      v->idx, run->internal.suberror, (unsigned long long)vcpu_rip(v), run->internal.ndata, (unsigned long long)run->internal.data[0], (unsigned long long)run->internal.data[1], (unsigned long long)run->internal.data[2], (unsigned long long)run->internal.data[3]);
		return -1;
	case KVM_EXIT_SYSTEM_EVENT:
		kvm_crash_set(v->vm, "vCPU %u: system event %u", v->idx, run->system_event.type);
		return -1;
	default:
		kvm_crash_set(v->vm, "vCPU %u: unexpected exit %u", v->idx, run->exit_reason);
		return -1;
	}
}

/* ---- the thread ---- */

/* Finish an exit KVM expects completed on the next KVM_RUN (an IN's data,
 * an MMIO read), so that the registers a save reads are whole. */
static void io_complete(struct kvm_vcpu *v)
{
	if (!v->io_pending)
		return;
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	ioctl(v->fd, KVM_RUN, 0);
	v->io_pending = 0;
}

/* Tell parked vCPUs to look at go again. */
static void vcpus_poke(struct kvm_vm *vm)
{
	atomic_fetch_add(&vm->gen, 1);
	pcm_futex_wake(&vm->gen, INT_MAX);
}

/* Parked until go says run or stop. Returns VCPU_STOP when the thread
 * must end. */
static uint32_t vcpu_park(struct kvm_vcpu *v)
{
	struct kvm_vm *vm = v->vm;
	uint32_t go, gen;

	io_complete(v);
	atomic_store(&v->parked, 1);
	pcm_futex_wake(&v->parked, 1);
	for (;;) {
		gen = atomic_load(&vm->gen);
		go = atomic_load(&vm->go);
		if (go == VCPU_STOP)
			return go;
		if (go == VCPU_GO && !kvm_stopped(vm))
			break;
		pcm_futex_wait(&vm->gen, gen, NULL);
	}
	atomic_store(&v->parked, 0);
	__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
	return go;
}

static void *vcpu_main(void *arg)
{
	struct kvm_vcpu *v = arg;
	struct kvm_vm *vm = v->vm;
	sigset_t kick;

	machine_vcpu_sched(vm->vcpu_nice);
	sigemptyset(&kick);
	sigaddset(&kick, kick_signal());
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	for (;;) {
		if (atomic_load(&vm->go) != VCPU_GO || kvm_stopped(vm)) {
			if (vcpu_park(v) == VCPU_STOP)
				break;
			continue;
		}
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			kvm_crash_set(vm, "vCPU %u: KVM_RUN: %s", v->idx, strerror(errno));
			continue;
		}
		v->io_pending = 0;
		if (exit_handle(v))
			continue;   /* crashed: the top of the loop parks us */
	}
	atomic_store(&v->parked, 1);
	pcm_futex_wake(&v->parked, 1);
	return NULL;
}

/* The vCPU threads, born parked: a VM's threads exist from its creation,
 * so that starting an incoming VM (inside the downtime) is a wake-up, not
 * a round of thread creation. */
int kvm_vcpus_spawn(struct kvm_vm *vm)
{
	struct sigaction sa = { .sa_handler = kick_handler };
	int r = 0;

	sigemptyset(&sa.sa_mask);
	if (sigaction(kick_signal(), &sa, NULL) < 0)
		return -errno;
	atomic_store(&vm->go, VCPU_PAUSE);
	vm->vcpu_nice = machine_vcpu_nice();
	/* vCPU threads take no signal but the kick, which they unblock. */
	for (unsigned i = 0; i < vm->n; i++) {
		atomic_store(&vm->v[i].parked, 0);
		if ((r = machine_vcpu_thread(&vm->v[i].th, vcpu_main, &vm->v[i], i)))
			break;
		vm->nthreads++;
	}
	if (r)
		kvm_vcpus_stop(vm);
	return r;
}

static void vcpus_kick(struct kvm_vm *vm)
{
	for (unsigned i = 0; i < vm->nthreads; i++) {
		__atomic_store_n(&vm->v[i].run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		pthread_kill(vm->v[i].th, kick_signal());
	}
}

void kvm_vcpus_stop(struct kvm_vm *vm)
{
	atomic_store(&vm->go, VCPU_STOP);
	pcm_futex_wake(&vm->go, INT_MAX);
	vcpus_poke(vm);
	vcpus_kick(vm);
	for (unsigned i = 0; i < vm->nthreads; i++)
		pthread_join(vm->v[i].th, NULL);
	vm->nthreads = 0;
}

int kvm_vcpus_pause(struct kvm_vm *vm)
{
	uint64_t t0 = pcm_now_ns(), dt;

	atomic_store(&vm->go, VCPU_PAUSE);
	pcm_futex_wake(&vm->go, INT_MAX);   /* idlers */
	vcpus_kick(vm);
	for (unsigned i = 0; i < vm->nthreads; i++) {
		struct kvm_vcpu *v = &vm->v[i];
		/* The timeout re-kicks: a vCPU blocked on a page that is still
		 * arriving takes the signal only once the page is there. */
		const struct timespec ts = { 0, 10 * 1000 * 1000 };

		while (!atomic_load(&v->parked)) {
			if (pcm_futex_wait(&v->parked, 0, &ts) < 0 && errno == ETIMEDOUT)
				pthread_kill(v->th, kick_signal());
		}
	}
	dt = pcm_now_ns() - t0;
	machine_pause_note(&vm->pause_last, &vm->pause_max, dt);
	return 0;
}

void kvm_vcpus_resume(struct kvm_vm *vm)
{
	atomic_store(&vm->go, VCPU_GO);
	pcm_futex_wake(&vm->go, INT_MAX);
	vcpus_poke(vm);
}
