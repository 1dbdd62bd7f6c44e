/* kvm/dev/power.c - how a Linux guest ends its VM. One port,
 * KVM_POWER_PORT, is the hardware-reduced ACPI sleep control, sleep status
 * and reset register at once (kvm/x86/acpi.h: the values differ, so one
 * port tells them apart): SLP_TYP 5 with SLP_EN is a poweroff, the reset
 * value a reboot. The i8042's command port 0x64 takes 0xfe (pulse the
 * reset line), the reboot of last resort. Reads give 0: WAK_STS is never
 * set, since a guest that slept in S5 does not wake. No state: an ended VM
 * does not migrate.
 */
#include "kvm/vmm.h"
#include "kvm/x86/acpi.h"
#include "vm/machine.h"

#define I8042_CMD_PORT   0x64
#define I8042_PULSE_RESET 0xfe

static void power_io(void *dev, struct kvm_vcpu *v, uint64_t off, uint8_t *data,
		     unsigned len, int is_write)
{
	(void)dev;
	(void)off;
	if (!is_write) {
		for (unsigned i = 0; i < len; i++)
			data[i] = 0;
		return;
	}
	if ((data[0] & (KVM_ACPI_SLP_EN | 0x1c)) == KVM_ACPI_SLEEP_S5)   /* SLP_TYP: bits 2-4 */
		kvm_end_set(v->vm, MACHINE_POWEROFF);
	else if (data[0] == KVM_ACPI_RESET_VALUE)
		kvm_end_set(v->vm, MACHINE_RESET);
	/* WAK_STS (clearing the status) and other sleep states: nothing */
}

static void i8042_io(void *dev, struct kvm_vcpu *v, uint64_t off, uint8_t *data,
		     unsigned len, int is_write)
{
	(void)dev;
	(void)off;
	if (!is_write) {
		for (unsigned i = 0; i < len; i++)
			data[i] = 0;   /* status: no data, input buffer empty */
		return;
	}
	if (data[0] == I8042_PULSE_RESET)
		kvm_end_set(v->vm, MACHINE_RESET);
}

static const struct kvm_dev_ops power_ops = {
	.name = "power control",
	.kind = KVM_DEV_POWER,
	.version = 1,
};

int kvm_power_add(struct kvm_vm *vm)
{
	int r;

	if ((r = kvm_devs_add(&vm->devs, &power_ops, NULL)) ||
	    (r = kvm_bus_add(&vm->pio, KVM_POWER_PORT, 1, power_io, NULL)) ||
	    (r = kvm_bus_add(&vm->pio, I8042_CMD_PORT, 1, i8042_io, NULL)))
		return r;
	return 0;
}
