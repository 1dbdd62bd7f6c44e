/* kvm/engine.c - the KVM engine as the rest of the project sees it
 * (struct machine_engine, vm/engine.h): create a VM on /dev/kvm with its
 * RAM, irqchip, PIT, devices and vCPUs; start, pause, resume; state blob;
 * the CPU-feature fingerprint.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "guest/pc/pc.h"
#include "kvm/agent.h"
#include "kvm/cpufeat.h"
#include "kvm/dev/virtio.h"
#include "kvm/vmm.h"

#define KVM_TSS_ADDR   0xfffbd000ul   /* 3 pages, in the hole below 4 GiB */
#define KVM_IDMAP_ADDR 0xfffbc000ul

static int console_open(const char *path)
{
	if (!path || !*path)
		return -1;
	if (!strcmp(path, "-"))
		return dup(STDOUT_FILENO);
	return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

/* The devices of each guest kind. Payload guests: ring 3 reaches the UART
 * through MMIO, beside the pseudo-device's registers. */
static int devs_add(struct kvm_vm *vm, const struct machine_config *c)
{
	int r;

	if (c->guest == MACHINE_GUEST_PAYLOAD) {
		if ((r = kvm_com1_add(vm, vm->console_fd, PC_MMIO_BASE + PC_MMIO_UART)))
			return r;
		return kvm_payload_dev_add(vm);
	}
	return kvm_linux_devs_add(vm, c);
}

static int vm_setup(struct kvm_vm *vm, const struct machine_config *c)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t idmap = KVM_IDMAP_ADDR;
	int r;

	vm->vm_fd = ioctl(vm->sys_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return -errno;
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, KVM_TSS_ADDR) < 0 ||
	    ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0 ||
	    ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0 ||
	    ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return -errno;
	if ((r = kvm_mem_create(vm, c->ram_bytes)))
		return r;
	if ((r = kvm_sys_cpuid(vm->sys_fd, &vm->cpuid)))
		return r;
	for (unsigned i = 0; i < vm->n; i++) {
		if ((r = kvm_vcpu_create(vm, &vm->v[i], i)))
			return r;
		if ((r = kvm_vcpu_cpuid(&vm->v[i], vm->cpuid, 1)))
			return r;
	}
	r = ioctl(vm->v[0].fd, KVM_GET_TSC_KHZ, 0);
	if (r <= 0)
		return r < 0 ? -errno : -EINVAL;
	vm->tsc_khz = (uint64_t)r;
	r = ioctl(vm->sys_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	vm->xsave_size = r > (int)sizeof(struct kvm_xsave) ? (size_t)r : sizeof(struct kvm_xsave);
	if ((r = kvm_sys_msrs(vm)))
		return r;
	return devs_add(vm, c);
}

static void vm_free(struct kvm_vm *vm)
{
	for (unsigned i = 0; i < vm->n; i++)
		kvm_vcpu_destroy(&vm->v[i]);
	kvm_mem_destroy(vm);
	kvm_devs_destroy(&vm->devs);   /* COM1 first: it feeds the agent reader */
	if (vm->agent) {
		kvm_agent_destroy(vm->agent);
		free(vm->agent);
	}
	if (vm->console_fd >= 0)
		close(vm->console_fd);
	if (vm->crash.end_fd >= 0)
		close(vm->crash.end_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->sys_fd >= 0)
		close(vm->sys_fd);
	pthread_mutex_destroy(&vm->lock);
	free(vm->cpuid);
	free(vm->v);
	free(vm);
}

static int boot(struct kvm_vm *vm, const struct machine_config *c)
{
	int r;

	if (c->guest == MACHINE_GUEST_LINUX)
		return kvm_linux_boot(vm, c);
	if ((r = kvm_boot_write(vm, vm->n, &c->params)))
		return r;
	for (unsigned i = 0; i < vm->n; i++)
		if ((r = kvm_boot_vcpu(vm, &vm->v[i])))
			return r;
	return 0;
}

static int kvm_create(struct machine *m, int incoming)
{
	struct kvm_vm *vm = aligned_alloc(64, (sizeof(*vm) + 63) & ~(size_t)63);
	int r;

	if (!vm)
		return -ENOMEM;
	memset(vm, 0, sizeof(*vm));
	vm->n = m->cfg.vcpus;
	vm->vm_fd = vm->memfd = vm->console_fd = -1;
	vm->crash.end_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&vm->lock, NULL);
	vm->v = calloc(vm->n, sizeof(*vm->v));
	if (!vm->v) {
		free(vm);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < vm->n; i++)
		vm->v[i].fd = -1;
	vm->console_fd = console_open(m->cfg.console);
	vm->sys_fd = kvm_sys_open(vm->why, sizeof(vm->why));
	if (vm->sys_fd < 0) {
		r = vm->sys_fd;
		goto fail;
	}
	if (m->cfg.guest == MACHINE_GUEST_LINUX) {
		/* before the devices: COM1 taps it as it is added */
		if (!(vm->agent = malloc(sizeof(*vm->agent)))) {
			r = -ENOMEM;
			goto fail;
		}
		kvm_agent_init(vm->agent);
	}
	if ((r = vm_setup(vm, &m->cfg)))
		goto fail;
	if (!incoming) {
		if ((r = boot(vm, &m->cfg)))
			goto fail;
		vm->loaded = 1;
	}
	if ((r = kvm_vcpus_spawn(vm)))
		goto fail;
	vm->state = KS_CREATED;
	m->nregions = kvm_mem_regions(vm, m->regions);
	m->priv = vm;
	return 0;
fail:
	snprintf(m->why, sizeof(m->why), "%s", vm->why);
	vm_free(vm);
	return r;
}

static void kvm_destroy(struct machine *m)
{
	struct kvm_vm *vm = m->priv;

	if (!vm)
		return;
	kvm_vcpus_stop(vm);
	vm_free(vm);
	m->priv = NULL;
	m->nregions = 0;
}

/* Tell a guest that uses kvmclock it was stopped (KVM_KVMCLOCK_CTRL), so
 * the time it lost does not read as a soft lockup: a post-copy pause and
 * the faults after it can be long. Called with the vCPUs parked; a guest
 * that never enabled kvmclock makes KVM answer EINVAL, which is fine. */
static void kvmclock_stopped(struct kvm_vm *vm)
{
	for (unsigned i = 0; i < vm->n; i++)
		(void)ioctl(vm->v[i].fd, KVM_KVMCLOCK_CTRL, 0);
}

static int kvm_start(struct machine *m)
{
	struct kvm_vm *vm = m->priv;
	int r = 0;

	pthread_mutex_lock(&vm->lock);
	if (vm->state != KS_CREATED)
		r = -EBUSY;
	else if (!vm->loaded)
		r = -EINVAL;    /* an incoming VM that never got its state */
	else {
		if (m->incoming)
			kvmclock_stopped(vm);   /* it was paused on the source */
		vm->ran = 1;
		kvm_vcpus_resume(vm);
		vm->state = KS_RUNNING;
	}
	pthread_mutex_unlock(&vm->lock);
	return r;
}

static int kvm_save_prepare(struct machine *m)
{
	struct kvm_vm *vm = m->priv;
	const char *who = NULL;
	int err = kvm_devs_save_prepare(&vm->devs, &who);

	if (err) {
		kvm_why_set(vm, err, "%s: preparing the save: %s", who, strerror(-err));
		snprintf(m->why, sizeof(m->why), "%s", vm->why);
	}
	return err;
}

static long kvm_identity(struct machine *m, void *buf, size_t cap)
{
	struct kvm_vm *vm = m->priv;

	return kvm_devs_identity(&vm->devs, buf, cap);
}

static int kvm_identity_check(struct machine *m, const void *buf, size_t len)
{
	struct kvm_vm *vm = m->priv;

	return kvm_devs_identity_check(&vm->devs, buf, len, m->why, sizeof(m->why));
}

static int kvm_pause(struct machine *m)
{
	struct kvm_vm *vm = m->priv;

	pthread_mutex_lock(&vm->lock);
	if (vm->state == KS_RUNNING) {
		kvm_vcpus_pause(vm);
		/* Devices with their own threads (a disk) finish what they
		 * have in flight and take nothing new: a saved state holds no
		 * half-done request. */
		kvm_virtio_devs_quiesce(&vm->devs, 1);
		vm->state = KS_PAUSED;
	}
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

static int kvm_resume(struct machine *m)
{
	struct kvm_vm *vm = m->priv;
	int r = 0;

	pthread_mutex_lock(&vm->lock);
	if (vm->state == KS_PAUSED) {
		kvmclock_stopped(vm);
		kvm_virtio_devs_quiesce(&vm->devs, 0);
		kvm_vcpus_resume(vm);
		vm->state = KS_RUNNING;
	} else if (vm->state == KS_CREATED) {
		r = -EINVAL;
	}
	pthread_mutex_unlock(&vm->lock);
	return r;
}

static size_t kvm_body_size(const struct machine *m)
{
	return kvm_state_size(m->priv);
}

static ssize_t kvm_save_body(struct machine *m, void *buf, size_t cap)
{
	struct kvm_vm *vm = m->priv;
	ssize_t r;

	pthread_mutex_lock(&vm->lock);
	if (vm->state == KS_RUNNING)
		r = -EBUSY;
	else if (!vm->loaded)
		r = -EINVAL;
	else
		r = kvm_state_save(vm, &m->cfg, buf, cap);
	pthread_mutex_unlock(&vm->lock);
	return r;
}

static int kvm_load_body(struct machine *m, const void *body, size_t len)
{
	struct kvm_vm *vm = m->priv;
	int r;

	pthread_mutex_lock(&vm->lock);
	if (vm->state == KS_RUNNING || vm->ran) {
		/* KVM takes CPUID only before a vCPU first runs. */
		r = -EBUSY;
	} else {
		r = kvm_state_load(vm, &m->cfg, body, len);
		if (!r)
			vm->loaded = 1;
		else
			snprintf(m->why, sizeof(m->why), "%s", vm->why);
	}
	pthread_mutex_unlock(&vm->lock);
	return r;
}

static void kvm_stats(struct machine *m, struct machine_stats *s)
{
	struct kvm_vm *vm = m->priv;

	for (unsigned i = 0; i < vm->n; i++)
		s->heartbeats += atomic_load_explicit(&vm->v[i].heartbeats, memory_order_relaxed);
	s->pause_ns_last = atomic_load_explicit(&vm->pause_last, memory_order_relaxed);
	s->pause_ns_max = atomic_load_explicit(&vm->pause_max, memory_order_relaxed);
}

static void kvm_guest_report(struct machine *m, struct machine_guest_report *r)
{
	struct kvm_vm *vm = m->priv;

	if (vm->agent)
		kvm_agent_report(vm->agent, r);
}

static void kvm_stall_reset(struct machine *m)
{
	struct kvm_vm *vm = m->priv;

	if (vm->agent)
		kvm_agent_window_reset(vm->agent);
}

static const char *kvm_crashed(const struct machine *m)
{
	struct kvm_vm *vm = m->priv;

	return vm && atomic_load(&vm->crash.crashed) ? vm->crash.why : NULL;
}

static enum machine_end kvm_ended(const struct machine *m)
{
	struct kvm_vm *vm = m->priv;

	return vm ? (enum machine_end)atomic_load(&vm->crash.ended) : MACHINE_RUNS;
}

static int kvm_end_fd(const struct machine *m)
{
	struct kvm_vm *vm = m->priv;

	return vm ? vm->crash.end_fd : -1;
}

/* Can this host run c on KVM at all? The reason when not. */
static int kvm_probe(const struct machine_config *c, char *why, size_t len)
{
	int fd = kvm_sys_open(why, len), max;

	if (fd < 0)
		return fd;
	max = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max <= 0)
		max = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	close(fd);
	if (c && max > 0 && c->vcpus > (unsigned)max) {
		snprintf(why, len, "KVM on this host allows at most %d vCPUs, not %u", max, c->vcpus);
		return -EINVAL;
	}
	if (c && c->ram_bytes > PC_RAM_MAX) {
		snprintf(why, len, "the kvm engine maps at most %llu GiB of guest RAM",
			 (unsigned long long)(PC_RAM_MAX >> 30));
		return -E2BIG;
	}
	return 0;
}

static void kvm_features(const struct machine *m, uint32_t *w)
{
	const struct kvm_vm *vm = m->priv;
	struct cpufeat f;

	cpufeat_from_cpuid(vm->cpuid, &f);
	cpufeat_mask_volatile(&f);
	memcpy(w, f.w, sizeof(f.w));
}

static int kvm_features_check(const uint32_t *need, char *why, size_t len)
{
	struct cpufeat want, have;
	char names[256];
	int fd, r;

	fd = kvm_sys_open(why, len);
	if (fd < 0)
		return fd;
	r = cpufeat_host(fd, &have);
	close(fd);
	if (r) {
		snprintf(why, len, "reading this host's CPUID: %s", strerror(-r));
		return r;
	}
	memcpy(want.w, need, sizeof(want.w));
	cpufeat_mask_volatile(&want);
	cpufeat_mask_volatile(&have);
	if (cpufeat_missing(&want, &have, names, sizeof(names))) {
		snprintf(why, len, "this host's CPU lacks features the guest was given: %s", names);
		return -ENOEXEC;
	}
	return 0;
}

static int kvm_dirty_log(struct machine *m, int on)
{
	return kvm_mem_dirty_log(m->priv, on);
}

static int kvm_dirty_fetch(struct machine *m, uint64_t *bitmap, uint64_t npages)
{
	return kvm_mem_dirty_get(m->priv, bitmap, npages);
}

static void kvm_host_wrote(struct machine *m, uint64_t page)
{
	struct kvm_vm *vm = m->priv;

	if (page == 0)
		atomic_store(&vm->host_dirty0, 1);
}

const struct machine_engine machine_engine_kvm = {
	.kind = MACHINE_ENGINE_KVM,
	.probe = kvm_probe,
	.create = kvm_create,
	.destroy = kvm_destroy,
	.start = kvm_start,
	.pause = kvm_pause,
	.resume = kvm_resume,
	.body_size = kvm_body_size,
	.save_body = kvm_save_body,
	.load_body = kvm_load_body,
	.stats = kvm_stats,
	.crashed = kvm_crashed,
	.ended = kvm_ended,
	.end_fd = kvm_end_fd,
	.features = kvm_features,
	.features_check = kvm_features_check,
	.dirty_log = kvm_dirty_log,
	.dirty_fetch = kvm_dirty_fetch,
	.host_wrote = kvm_host_wrote,
	.save_prepare = kvm_save_prepare,
	.identity = kvm_identity,
	.identity_check = kvm_identity_check,
	.guest_report = kvm_guest_report,
	.stall_reset = kvm_stall_reset,
};
