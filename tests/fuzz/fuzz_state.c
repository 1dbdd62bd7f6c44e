/* tests/fuzz/fuzz_state.c - libFuzzer target: arbitrary bytes as a state
 * blob, through machine_load into incoming machines, the way the
 * destination loads the blob a STATE message carries.
 *
 * The input is the whole blob (outer header included). Its outer engine
 * field picks the machine, so every input reaches the body parser it
 * names:
 *   thread  an incoming thread-engine machine (16 MiB, 2 vCPUs)
 *   kvm     an incoming KVM machine (16 MiB, 1 vCPU) when /dev/kvm works;
 *           elsewhere the KVM engine over a VM with no file descriptors:
 *           the parser (kvm/state.c) runs in full and the first ioctl
 *           fails with EBADF, so the KVM blob parser is fuzzed on hosts
 *           without KVM too. PCM_FUZZ_NO_KVM=1 takes this path where
 *           KVM works.
 * The machines are made once per process (creating one per input would
 * cost more than the load). What a load leaves behind that would make the
 * next input behave differently is put back before each: the workload an
 * incoming machine learns from its first blob.
 *
 * A load must succeed or fail with a negative errno; ASan and UBSan watch
 * the rest. The blob sits at a misalignment taken from its length: the
 * STATE payload it comes in has no alignment promised either.
 *
 * tests/unit/test_fuzzregress.c includes this file (FUZZ_NO_MAIN) to replay
 * saved inputs through fuzz_state_one.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest/layout.h"
#include "kvm/vmm.h"
#include "vm/engine.h"
#include "vm/machine.h"
#include "tests/fuzz/fuzz_check.h"

#define FZS_RAM          (16ull << 20)
#define FZS_THREAD_VCPUS 2
#define FZS_KVM_VCPUS    1
#define FZS_FAKE_XSAVE   (64u << 10)   /* above any XSAVE2 size a blob may carry */

/* The KVM body header of kvm/state.c, which keeps it private (as
 * tests/unit/test_kvm.c copies it too): the fake VM needs its TSC rate. */
struct fzs_kvm_body {
	uint32_t version;
	uint32_t nsections;
	uint64_t ram_bytes;
	struct wl_params params;
	uint64_t tsc_khz;
	uint64_t realtime_ns;
};

static struct {
	int inited;
	struct machine *thread;
	struct machine *kvm;          /* NULL: no usable /dev/kvm */
	struct machine kvm_fake;      /* the KVM engine without KVM */
	struct kvm_vm *fake_vm;
	char kvm_why[160];
} fzs;

static void fzs_config(struct machine_config *c, enum machine_engine_kind engine, unsigned vcpus)
{
	memset(c, 0, sizeof(*c));
	c->engine = engine;
	c->ram_bytes = FZS_RAM;
	c->vcpus = vcpus;
}

/* A kvm_vm as kvm_create leaves it, minus every descriptor: ioctls on it
 * fail with EBADF. Only what kvm_state_load reads before its first ioctl
 * matters: n, v[].fd, xsave_size, tsc_khz (set per input), why. */
static int fzs_fake_init(void)
{
	struct kvm_vm *vm = aligned_alloc(64, (sizeof(*vm) + 63) & ~(size_t)63);

	if (!vm)
		return -ENOMEM;
	memset(vm, 0, sizeof(*vm));
	vm->n = FZS_KVM_VCPUS;
	vm->v = calloc(vm->n, sizeof(*vm->v));
	if (!vm->v) {
		free(vm);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < vm->n; i++) {
		vm->v[i].fd = -1;
		vm->v[i].vm = vm;
		vm->v[i].idx = i;
	}
	vm->sys_fd = vm->vm_fd = vm->memfd = vm->console_fd = -1;
	vm->xsave_size = FZS_FAKE_XSAVE;
	/* The devices kvm_create registers, so their sections find them. */
	if (kvm_com1_add(vm, -1, 0) || kvm_payload_dev_add(vm))
		return -ENOMEM;
	pthread_mutex_init(&vm->lock, NULL);
	fzs.fake_vm = vm;
	fzs.kvm_fake.eng = &machine_engine_kvm;
	fzs_config(&fzs.kvm_fake.cfg, MACHINE_ENGINE_KVM, FZS_KVM_VCPUS);
	fzs.kvm_fake.incoming = 1;
	fzs.kvm_fake.priv = vm;
	return 0;
}

static int fuzz_state_init(void)
{
	struct machine_config c;
	int r;

	if (fzs.inited)
		return 0;
	fzs_config(&c, MACHINE_ENGINE_THREAD, FZS_THREAD_VCPUS);
	r = machine_create_incoming(&c, &fzs.thread);
	if (r) {
		fprintf(stderr, "fuzz_state: cannot create the thread machine: %s\n", strerror(-r));
		return r;
	}
	fzs_config(&c, MACHINE_ENGINE_KVM, FZS_KVM_VCPUS);
	if (getenv("PCM_FUZZ_NO_KVM") && !strcmp(getenv("PCM_FUZZ_NO_KVM"), "1")) {
		/* the path of hosts without KVM, on one that has it */
		snprintf(fzs.kvm_why, sizeof(fzs.kvm_why), "PCM_FUZZ_NO_KVM=1");
	} else if (machine_probe(&c, fzs.kvm_why, sizeof(fzs.kvm_why)) == 0) {
		r = machine_create_incoming(&c, &fzs.kvm);
		if (r) {
			snprintf(fzs.kvm_why, sizeof(fzs.kvm_why), "creating a VM: %s", strerror(-r));
			fzs.kvm = NULL;
		}
	}
	r = fzs_fake_init();
	if (r)
		return r;
	fzs.inited = 1;
	return 0;
}

/* The machine the blob's outer header names (thread for anything else:
 * that machine then refuses it). */
static struct machine *fzs_pick(const uint8_t *b, size_t len)
{
	struct machine_state_hdr h;
	struct fzs_kvm_body kb;

	if (len < sizeof(h))
		return fzs.thread;
	memcpy(&h, b, sizeof(h));
	if (h.engine != MACHINE_ENGINE_KVM)
		return fzs.thread;
	if (fzs.kvm)
		return fzs.kvm;
	/* A real VM takes the blob's TSC rate (KVM_SET_TSC_KHZ); the fake
	 * one, whose ioctls all fail, says it runs at that rate already. */
	fzs.fake_vm->tsc_khz = 0;
	if (h.hdr_size <= len && len - h.hdr_size >= sizeof(kb)) {
		memcpy(&kb, b + h.hdr_size, sizeof(kb));
		fzs.fake_vm->tsc_khz = kb.tsc_khz;
	}
	return &fzs.kvm_fake;
}

static int fuzz_state_one(const uint8_t *data, size_t size)
{
	size_t off = size & 7;
	struct machine *m;
	uint8_t *buf;
	int r;

	if (!fzs.inited && fuzz_state_init())
		abort();
	if (size > SIZE_MAX / 2)    /* tells gcc off + size cannot wrap */
		return 0;
	buf = malloc(off + size);
	if (!buf && off + size)
		return 0;
	memcpy(buf + off, data, size);
	m = fzs_pick(buf + off, size);
	/* An incoming machine without a workload learns it from its first
	 * good blob; forget it, so each input meets the same machine. */
	memset(&m->cfg.params, 0, sizeof(m->cfg.params));

	r = machine_load(m, size ? buf + off : NULL, size);
	FZ_CHECK(r <= 0 && r > -4096);
	if (!r) {
		uint32_t wl = machine_config_of(m)->params.workload;

		FZ_CHECK(wl >= 1 && wl <= WL_MAX);
	}
	free(buf);
	return 0;
}

#ifndef FUZZ_NO_MAIN
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (fuzz_state_init())
		abort();
	if (fzs.kvm)
		fprintf(stderr, "fuzz_state: thread and kvm machines (/dev/kvm works)\n");
	else
		fprintf(stderr, "fuzz_state: thread machine; kvm blobs go to the parser only (%s)\n",
			fzs.kvm_why);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_state_one(data, size);
}
#endif
