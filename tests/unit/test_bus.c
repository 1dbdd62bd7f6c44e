/* tests/unit/test_bus.c - the KVM engine's I/O bus (kvm/bus.h), device
 * list (kvm/dev/dev.h) and power device (kvm/dev/power.c): decoding,
 * overlaps, the floating bus, instances, how a guest ends its VM. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "kvm/bus.h"
#include "kvm/dev/dev.h"
#include "kvm/vmm.h"
#include "kvm/x86/acpi.h"

struct rec {
	uint64_t off;
	unsigned len, calls;
	int is_write;
	uint8_t last[8];
};

static void rec_io(void *dev, struct kvm_vcpu *v, uint64_t off, uint8_t *data,
		   unsigned len, int is_write)
{
	struct rec *r = dev;

	(void)v;
	r->off = off;
	r->len = len;
	r->is_write = is_write;
	r->calls++;
	if (is_write)
		memcpy(r->last, data, len);
	else
		memset(data, 0x5a, len);
}

static void test_add_rules(void **state)
{
	struct kvm_bus b = { 0 };
	struct rec r = { 0 };

	(void)state;
	assert_int_equal(kvm_bus_add(&b, 0x3f8, 8, rec_io, &r), 0);
	assert_int_equal(kvm_bus_add(&b, 0x3f8, 8, rec_io, &r), -EEXIST);
	assert_int_equal(kvm_bus_add(&b, 0x3ff, 1, rec_io, &r), -EEXIST);
	assert_int_equal(kvm_bus_add(&b, 0x3f0, 9, rec_io, &r), -EEXIST);
	assert_int_equal(kvm_bus_add(&b, 0x3f0, 8, rec_io, &r), 0);   /* touching is fine */
	assert_int_equal(kvm_bus_add(&b, 0x400, 0, rec_io, &r), -EINVAL);
	assert_int_equal(kvm_bus_add(&b, UINT64_MAX - 1, 4, rec_io, &r), -EINVAL);
	assert_int_equal(kvm_bus_add(&b, 0x500, 1, NULL, &r), -EINVAL);
	for (unsigned i = b.n; i < KVM_BUS_MAX_RANGES; i++)
		assert_int_equal(kvm_bus_add(&b, 0x1000 + i, 1, rec_io, &r), 0);
	assert_int_equal(kvm_bus_add(&b, 0x9000, 1, rec_io, &r), -ENOSPC);
}

static void test_dispatch(void **state)
{
	struct kvm_bus b = { 0 };
	struct rec lo = { 0 }, hi = { 0 };
	uint8_t d[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	(void)state;
	assert_int_equal(kvm_bus_add(&b, 0xfeb00000, 8, rec_io, &lo), 0);
	assert_int_equal(kvm_bus_add(&b, 0xfeb00100, 0xf00, rec_io, &hi), 0);
	assert_int_equal(kvm_bus_access(&b, NULL, 0xfeb00104, d, 4, 1), 0);
	assert_int_equal(hi.calls, 1);
	assert_int_equal(hi.off, 4);
	assert_int_equal(hi.len, 4);
	assert_memory_equal(hi.last, d, 4);
	assert_int_equal(lo.calls, 0);
	/* a read of a register */
	assert_int_equal(kvm_bus_access(&b, NULL, 0xfeb00003, d, 1, 0), 0);
	assert_int_equal(lo.off, 3);
	assert_int_equal(d[0], 0x5a);
	/* nothing there: all ones, writes vanish */
	memset(d, 0, sizeof(d));
	assert_int_equal(kvm_bus_access(&b, NULL, 0xfeb00010, d, 8, 0), -ENOENT);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(d[i], 0xff);
	assert_int_equal(kvm_bus_access(&b, NULL, 0xfeb00010, d, 8, 1), -ENOENT);
	assert_int_equal(lo.calls + hi.calls, 2);
	/* an access that runs past its range's end is cut to fit; the
	 * rest reads as the floating bus */
	memset(d, 0, sizeof(d));
	assert_int_equal(kvm_bus_access(&b, NULL, 0xfeb00006, d, 4, 0), 0);
	assert_int_equal(lo.len, 2);
	assert_int_equal(d[0], 0x5a);
	assert_int_equal(d[1], 0x5a);
	assert_int_equal(d[2], 0xff);
	assert_int_equal(d[3], 0xff);
}

static size_t no_state(void *dev)
{
	(void)dev;
	return 0;
}

static int destroyed[4], order;

static void note_destroy(void *dev)
{
	destroyed[(intptr_t)dev] = ++order;
}

static void test_devices(void **state)
{
	static const struct kvm_dev_ops a = { .name = "a", .kind = 1, .version = 1,
					      .state_size = no_state, .destroy = note_destroy };
	static const struct kvm_dev_ops b = { .name = "b", .kind = 2, .version = 1,
					      .destroy = note_destroy };
	struct kvm_devs ds = { 0 };

	(void)state;
	assert_int_equal(kvm_devs_add(&ds, &a, (void *)0), 0);
	assert_int_equal(kvm_devs_add(&ds, &b, (void *)1), 0);
	assert_int_equal(kvm_devs_add(&ds, &a, (void *)2), 0);
	/* instances count per kind */
	assert_ptr_equal(kvm_devs_find(&ds, 1, 0)->priv, (void *)0);
	assert_ptr_equal(kvm_devs_find(&ds, 1, 1)->priv, (void *)2);
	assert_ptr_equal(kvm_devs_find(&ds, 2, 0)->priv, (void *)1);
	assert_null(kvm_devs_find(&ds, 2, 1));
	assert_null(kvm_devs_find(&ds, 3, 0));
	while (ds.n < KVM_MAX_DEVS)
		assert_int_equal(kvm_devs_add(&ds, &b, (void *)3), 0);
	assert_int_equal(kvm_devs_add(&ds, &b, (void *)3), -ENOSPC);
	ds.n = 3;
	kvm_devs_destroy(&ds);
	assert_int_equal(ds.n, 0);
	/* last registered first */
	assert_int_equal(destroyed[2], 1);
	assert_int_equal(destroyed[1], 2);
	assert_int_equal(destroyed[0], 3);
}

/* A VM with only what the power device touches. */
static struct kvm_vm *power_vm(struct kvm_vcpu *v)
{
	struct kvm_vm *vm = aligned_alloc(64, (sizeof(*vm) + 63) & ~(size_t)63);

	assert_non_null(vm);
	memset(vm, 0, sizeof(*vm));
	vm->vm_fd = -1;
	vm->crash.end_fd = eventfd(0, EFD_NONBLOCK);
	assert_true(vm->crash.end_fd >= 0);
	assert_int_equal(kvm_power_add(vm), 0);
	memset(v, 0, sizeof(*v));
	v->vm = vm;
	return vm;
}

static void power_free(struct kvm_vm *vm)
{
	kvm_devs_destroy(&vm->devs);
	close(vm->crash.end_fd);
	free(vm);
}

static int readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

static void out8(struct kvm_vcpu *v, uint16_t port, uint8_t val)
{
	kvm_bus_access(&v->vm->pio, v, port, &val, 1, 1);
}

/* What Linux writes on poweroff and reboot (kvm/x86/acpi.h) ends the VM,
 * and the first end is the one reported. */
static void test_power(void **state)
{
	struct kvm_vcpu v;
	struct kvm_vm *vm = power_vm(&v);
	uint8_t b = 0x5a;

	(void)state;
	kvm_bus_access(&vm->pio, &v, KVM_POWER_PORT, &b, 1, 0);
	assert_int_equal(b, 0);   /* WAK_STS clear */
	out8(&v, KVM_POWER_PORT, KVM_ACPI_WAK_STS);
	out8(&v, KVM_POWER_PORT, (3 << 2) | KVM_ACPI_SLP_EN);   /* S3: not an end */
	assert_int_equal(atomic_load(&vm->crash.ended), MACHINE_RUNS);
	assert_false(readable(vm->crash.end_fd));
	out8(&v, KVM_POWER_PORT, KVM_ACPI_SLEEP_S5);
	assert_int_equal(atomic_load(&vm->crash.ended), MACHINE_POWEROFF);
	assert_true(readable(vm->crash.end_fd));
	assert_true(kvm_stopped(vm));
	out8(&v, KVM_POWER_PORT, KVM_ACPI_RESET_VALUE);
	kvm_crash_set(vm, "late");
	assert_int_equal(atomic_load(&vm->crash.ended), MACHINE_POWEROFF);
	assert_int_equal(atomic_load(&vm->crash.crashed), 0);
	power_free(vm);

	vm = power_vm(&v);
	out8(&v, 0x64, 0xfe);   /* the i8042 pulses the reset line */
	assert_int_equal(atomic_load(&vm->crash.ended), MACHINE_RESET);
	power_free(vm);
	vm = power_vm(&v);
	out8(&v, KVM_POWER_PORT, KVM_ACPI_RESET_VALUE);
	assert_int_equal(atomic_load(&vm->crash.ended), MACHINE_RESET);
	power_free(vm);
	/* a crash first: the guest's later poweroff does not hide it */
	vm = power_vm(&v);
	kvm_crash_set(vm, "triple fault");
	out8(&v, KVM_POWER_PORT, KVM_ACPI_SLEEP_S5);
	assert_int_equal(atomic_load(&vm->crash.ended), MACHINE_RUNS);
	assert_int_equal(atomic_load(&vm->crash.crashed), 1);
	assert_true(readable(vm->crash.end_fd));
	power_free(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_rules),
		cmocka_unit_test(test_dispatch),
		cmocka_unit_test(test_devices),
		cmocka_unit_test(test_power),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
