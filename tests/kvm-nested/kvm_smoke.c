/* kvm_smoke: the nested-KVM harness's own check that /dev/kvm runs a guest.
 *
 * Creates a VM with one 64 KiB memory slot and one vCPU, runs a real-mode
 * guest at 0x1000 that does
 *     mov dx, 0x3f8 ; mov al, 'K' ; out dx, al ; hlt
 * and checks that the vCPU exits first with KVM_EXIT_IO (port 0x3f8, one
 * byte, 'K') and then with KVM_EXIT_HLT. Prints one PASS or FAIL line;
 * exit status 0 on PASS, 1 on FAIL. Built with `cc -static`.
 *
 * kvm_smoke --hold: create a VM with an in-kernel irqchip and one vCPU
 * that never runs, and keep it until killed. /init starts one before the
 * tests, so that KVM's kernel-wide switches stay on for the whole run: KVM
 * flips static keys when the first VM or LAPIC appears and when the last
 * goes away (preempt_notifier_key in the scheduler on every VM create and
 * destroy), and Linux flips a static key by rewriting kernel code with
 * text_poke_bp while the other CPU may be running it. Under QEMU's
 * multi-threaded TCG the other CPU can go on executing a stale translation
 * of the old code: seen as CPU 0 looping forever on an int3 at a jump
 * label in __schedule that memory no longer holds (IRQs off), while CPU 1
 * waited in kvm_destroy_vm for it to answer an IPI. With one VM held, no
 * such key changes while the tests run. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define MEM_SIZE 0x10000
#define CODE_GPA 0x1000

/* fail: a check failed; fail_sys: a system call failed (adds errno). */
static int vfail(int e, const char *fmt, va_list ap)
{
	printf("kvm_smoke: FAIL: ");
	vprintf(fmt, ap);
	if (e)
		printf(" (%s)", strerror(e));
	printf("\n");
	return 1;
}

static int fail(const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfail(0, fmt, ap);
	va_end(ap);
	return r;
}

static int fail_sys(const char *fmt, ...)
{
	va_list ap;
	int e = errno, r;

	va_start(ap, fmt);
	r = vfail(e, fmt, ap);
	va_end(ap);
	return r;
}

static const char *exit_name(uint32_t r)
{
	switch (r) {
	case KVM_EXIT_IO: return "KVM_EXIT_IO";
	case KVM_EXIT_HLT: return "KVM_EXIT_HLT";
	case KVM_EXIT_MMIO: return "KVM_EXIT_MMIO";
	case KVM_EXIT_SHUTDOWN: return "KVM_EXIT_SHUTDOWN";
	case KVM_EXIT_FAIL_ENTRY: return "KVM_EXIT_FAIL_ENTRY";
	case KVM_EXIT_INTERNAL_ERROR: return "KVM_EXIT_INTERNAL_ERROR";
	default: return "other";
	}
}

static int hold(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm, vcpu;

	if (kvm < 0)
		return fail_sys("--hold: open /dev/kvm");
	vm = ioctl(kvm, KVM_CREATE_VM, 0UL);
	if (vm < 0)
		return fail_sys("--hold: KVM_CREATE_VM");
	if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0)
		return fail_sys("--hold: KVM_CREATE_IRQCHIP");
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0UL);
	if (vcpu < 0)
		return fail_sys("--hold: KVM_CREATE_VCPU");
	printf("kvm_smoke: holding a VM with one vCPU (pid %d)\n", (int)getpid());
	fflush(stdout);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	static const uint8_t code[] = {
		0xba, 0xf8, 0x03, /* mov dx, 0x3f8 */
		0xb0, 'K',        /* mov al, 'K'   */
		0xee,             /* out dx, al    */
		0xf4,             /* hlt           */
	};
	struct kvm_userspace_memory_region region;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_run *run;
	int kvm, vm, vcpu, api, run_size;
	uint8_t *mem;

	if (argc == 2 && !strcmp(argv[1], "--hold"))
		return hold();
	if (argc != 1)
		return fail("usage: kvm_smoke [--hold]");
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return fail_sys("open /dev/kvm");
	api = ioctl(kvm, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION)
		return fail("KVM_GET_API_VERSION returned %d, want %d", api, KVM_API_VERSION);
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return fail_sys("KVM_CREATE_VM");

	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return fail_sys("mmap guest memory");
	memcpy(mem + CODE_GPA, code, sizeof(code));
	memset(&region, 0, sizeof(region));
	region.slot = 0;
	region.guest_phys_addr = 0;
	region.memory_size = MEM_SIZE;
	region.userspace_addr = (uintptr_t)mem;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return fail_sys("KVM_SET_USER_MEMORY_REGION");

	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		return fail_sys("KVM_CREATE_VCPU");
	run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < (int)sizeof(*run))
		return fail("KVM_GET_VCPU_MMAP_SIZE returned %d", run_size);
	run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		return fail_sys("mmap kvm_run");

	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		return fail_sys("KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		return fail_sys("KVM_SET_SREGS");
	memset(&regs, 0, sizeof(regs));
	regs.rip = CODE_GPA;
	regs.rflags = 0x2;
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		return fail_sys("KVM_SET_REGS");

	/* First exit: the OUT to the serial port. */
	if (ioctl(vcpu, KVM_RUN, 0) < 0)
		return fail_sys("KVM_RUN (1)");
	if (run->exit_reason != KVM_EXIT_IO)
		return fail("first exit is %s (%u), want KVM_EXIT_IO",
			    exit_name(run->exit_reason), run->exit_reason);
	if (run->io.direction != KVM_EXIT_IO_OUT || run->io.port != 0x3f8 ||
	    run->io.size != 1 || run->io.count != 1)
		return fail("unexpected I/O exit: dir %u port 0x%x size %u count %u",
			    run->io.direction, run->io.port, run->io.size, run->io.count);
	{
		char c = *((char *)run + run->io.data_offset);

		if (c != 'K')
			return fail("guest wrote 0x%02x to 0x3f8, want 'K'", (unsigned char)c);
		printf("kvm_smoke: guest wrote '%c' to port 0x3f8\n", c);
	}

	/* Second exit: HLT. */
	if (ioctl(vcpu, KVM_RUN, 0) < 0)
		return fail_sys("KVM_RUN (2)");
	if (run->exit_reason != KVM_EXIT_HLT)
		return fail("second exit is %s (%u), want KVM_EXIT_HLT",
			    exit_name(run->exit_reason), run->exit_reason);

	printf("kvm_smoke: PASS (KVM_EXIT_IO then KVM_EXIT_HLT)\n");
	return 0;
}
