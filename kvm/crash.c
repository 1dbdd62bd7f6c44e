/* kvm/crash.c - the record of why a VM stopped on its own: a crash (not a
 * host error) or an end the guest chose. The first reason wins, later ones
 * are echoes. Any vCPU thread or device may set it; end_fd tells whoever
 * hosts the VM without polling. Also the reason of the last failed call
 * (vm->why), which the state loader and the Linux boot fill in. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "kvm/vmm.h"

static void end_notify(struct kvm_vm *vm)
{
	uint64_t one = 1;

	if (vm->crash.end_fd >= 0 && write(vm->crash.end_fd, &one, sizeof(one)) < 0)
		return;   /* an eventfd write fails only on overflow: already readable */
}

void kvm_crash_set(struct kvm_vm *vm, const char *fmt, ...)
{
	va_list ap;
	int expected = 0;

	if (atomic_load(&vm->crash.ended) ||
	    !atomic_compare_exchange_strong(&vm->crash.crashed, &expected, 1))
		return;   /* the first reason is the one that matters */
	va_start(ap, fmt);
	vsnprintf(vm->crash.why, sizeof(vm->crash.why), fmt, ap);
	va_end(ap);
	end_notify(vm);
}

int kvm_why_set(struct kvm_vm *vm, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(vm->why, sizeof(vm->why), fmt, ap);
	va_end(ap);
	return err;
}

void kvm_end_set(struct kvm_vm *vm, int how)
{
	int expected = 0;

	if (atomic_load(&vm->crash.crashed) ||
	    !atomic_compare_exchange_strong(&vm->crash.ended, &expected, how))
		return;
	end_notify(vm);
}
