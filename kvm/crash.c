/* kvm/crash.c - the record of why a VM stopped on its own (a guest crash
 * is not a host error): the first reason wins, later ones are echoes. Any
 * vCPU thread or device may set it. */
#include <stdarg.h>
#include <stdio.h>

#include "kvm/vmm.h"

void kvm_crash_set(struct kvm_vm *vm, const char *fmt, ...)
{
	va_list ap;
	int expected = 0;

	if (!atomic_compare_exchange_strong(&vm->crash.crashed, &expected, 1))
		return;   /* the first reason is the one that matters */
	va_start(ap, fmt);
	vsnprintf(vm->crash.why, sizeof(vm->crash.why), fmt, ap);
	va_end(ap);
}
