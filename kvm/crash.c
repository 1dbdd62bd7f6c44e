/* kvm/crash.c - the record of why a VM stopped on its own: a crash (not a
 * host error) or an end the guest chose. The first reason wins, later ones
 * are echoes. Any vCPU thread or device may set it; end_fd tells whoever
 * hosts the VM without polling. */
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

void kvm_end_set(struct kvm_vm *vm, int how)
{
	int expected = 0;

	if (atomic_load(&vm->crash.crashed) ||
	    !atomic_compare_exchange_strong(&vm->crash.ended, &expected, how))
		return;
	end_notify(vm);
}
