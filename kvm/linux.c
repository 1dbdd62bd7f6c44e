/* kvm/linux.c - booting a Linux guest on the KVM engine: read the
 * bzImage and initrd, write the ACPI tables (kvm/x86/acpi.c) and what the
 * 64-bit boot protocol asks for (kvm/x86/linux.c) into guest RAM, and set
 * up the vCPUs as firmware would leave them: vCPU 0 (the BSP) at the
 * kernel's 64-bit entry; the others in KVM's wait-for-SIPI state, which
 * KVM gives every vCPU but the BSP when the irqchip is in the kernel, so
 * the guest starts them with INIT/SIPI as it would on a PC.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kvm/dev/virtio.h"
#include "kvm/vmm.h"
#include "kvm/x86/acpi.h"
#include "kvm/x86/linux.h"

#define LINUX_FILE_MAX (1ull << 30)    /* a kernel or initrd larger is a mistake */
#define APIC_LVT_LINT0 0x350
#define APIC_LVT_LINT1 0x360
#define APIC_MODE_EXTINT (7u << 8)
#define APIC_MODE_NMI    (4u << 8)

/* The virtio-mmio devices of a Linux guest: in the hole below 4 GiB (RAM
 * below 3 GiB ends by 0xc0000000; PC_MMIO_BASE, the IOAPIC and LAPIC are
 * higher up), one 4 KiB step each, level-triggered on IOAPIC pins 16 and
 * up, which under KVM's default routing reach the IOAPIC only. The DSDT
 * declares exactly these, so the guest finds them as LNRO0005. */
#define LINUX_VIRTIO_BASE 0xd0000000ull
#define LINUX_VIRTIO_GSI  16

/* Device i: 0 the entropy source, 1.. the disks in --disk order, then
 * the network cards in --net order. */
static struct kvm_acpi_mmio_dev linux_virtio(unsigned i)
{
	return (struct kvm_acpi_mmio_dev){ LINUX_VIRTIO_BASE + 0x1000ull * i,
					   KVM_VIRTIO_MMIO_SIZE, LINUX_VIRTIO_GSI + i, 1 };
}


/* The whole of path into a new buffer. */
static int file_read(struct kvm_vm *vm, const char *what, const char *path,
		     uint8_t **out, size_t *len)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0)
		return kvm_why_set(vm, -errno, "%s %s: %s", what, path, strerror(errno));
	if (fstat(fd, &st) < 0)
		err = -errno;
	else if (!S_ISREG(st.st_mode))
		err = -EINVAL;
	else
		err = (uint64_t)st.st_size > LINUX_FILE_MAX ? -EFBIG : 0;
	if (err) {
		close(fd);
		return kvm_why_set(vm, err, "%s %s: %s", what, path,
			    err == -EINVAL ? "not a regular file" : strerror(-err));
	}
	*len = (size_t)st.st_size;
	if (!(*out = malloc(*len ? *len : 1))) {
		close(fd);
		return -ENOMEM;
	}
	while (got < *len && (n = read(fd, *out + got, *len - got)) > 0)
		got += (size_t)n;
	err = got == *len ? 0 : -EIO;
	close(fd);
	if (err) {
		free(*out);
		*out = NULL;
		return kvm_why_set(vm, err, "%s %s: short read", what, path);
	}
	return 0;
}

static int acpi_write(struct kvm_vm *vm, const struct machine_config *c, uint64_t *rsdp)
{
	struct kvm_acpi_mmio_dev devs[1 + MACHINE_MAX_DISKS + MACHINE_MAX_NICS];
	struct kvm_acpi_config a = {
		.ncpus = vm->n,
		.com1 = 1,
		.devs = devs,
		.ndevs = 1 + c->lx.ndisks + c->lx.nnics,
		.sleep_port = KVM_POWER_PORT,
		.reset_port = KVM_POWER_PORT,
	};
	ssize_t n;

	for (unsigned i = 0; i < a.ndevs; i++)
		devs[i] = linux_virtio(i);
	n = kvm_acpi_build(vm->ram + KVM_ACPI_BIOS_AREA,
				   KVM_ACPI_BIOS_AREA_END - KVM_ACPI_BIOS_AREA,
				   KVM_ACPI_BIOS_AREA, &a, rsdp);

	return n < 0 ? kvm_why_set(vm, (int)n, "writing the ACPI tables: %s", strerror((int)-n)) : 0;
}

/* As firmware leaves a PC: x87 and SSE in their reset state, the BSP's
 * LINT0 taking the 8259's ExtINT and LINT1 the NMI (kvmtool and
 * Firecracker do the same). */
static int bsp_regs(struct kvm_vcpu *v, const struct kvm_linux_entry *e)
{
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
	struct kvm_lapic_state la;
	struct kvm_sregs sr;
	uint32_t lvt;

	if (ioctl(v->fd, KVM_GET_SREGS, &sr) < 0)
		return -errno;
	kvm_linux_sregs(e, &sr);
	if (ioctl(v->fd, KVM_SET_SREGS, &sr) < 0 || ioctl(v->fd, KVM_SET_REGS, &e->regs) < 0 ||
	    ioctl(v->fd, KVM_SET_FPU, &fpu) < 0 || ioctl(v->fd, KVM_GET_LAPIC, &la) < 0)
		return -errno;
	memcpy(&lvt, la.regs + APIC_LVT_LINT0, 4);
	lvt = (lvt & ~0x700u & ~(1u << 16)) | APIC_MODE_EXTINT;
	memcpy(la.regs + APIC_LVT_LINT0, &lvt, 4);
	memcpy(&lvt, la.regs + APIC_LVT_LINT1, 4);
	lvt = (lvt & ~0x700u & ~(1u << 16)) | APIC_MODE_NMI;
	memcpy(la.regs + APIC_LVT_LINT1, &lvt, 4);
	return ioctl(v->fd, KVM_SET_LAPIC, &la) < 0 ? -errno : 0;
}

/* The 8259s masked, as the kernel's real-mode setup would leave them: a
 * hardware-reduced guest entered at 64 bits never programs them, and an
 * unmasked one with vector base 0 would turn ISA IRQs (COM1's 4, which
 * also reaches the IOAPIC) into exceptions through the BSP's ExtINT LINT0.
 * The master keeps the cascade (IRQ 2) open, as Linux's setup does. */
static int pic_mask(struct kvm_vm *vm)
{
	static const struct { uint32_t chip; uint8_t imr; } m[] = {
		{ KVM_IRQCHIP_PIC_MASTER, 0xfb }, { KVM_IRQCHIP_PIC_SLAVE, 0xff },
	};

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		struct kvm_irqchip ic = { .chip_id = m[i].chip };

		if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &ic) < 0)
			return -errno;
		ic.chip.pic.imr = m[i].imr;
		if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &ic) < 0)
			return -errno;
	}
	return 0;
}

/* The same on a booting and on an incoming VM: a state blob's device
 * sections must find their devices. */
int kvm_linux_devs_add(struct kvm_vm *vm, const struct machine_config *c)
{
	struct kvm_acpi_mmio_dev d = linux_virtio(0);
	int r;

	if ((r = kvm_com1_add(vm, vm->console_fd, 0)) || (r = kvm_power_add(vm)) ||
	    (r = kvm_virtio_rng_add(vm, d.base, d.gsi)))
		return r;
	for (unsigned i = 0; i < c->lx.ndisks; i++) {
		struct kvm_virtio_blk_config b = { .path = c->lx.disks[i].path,
						   .read_only = c->lx.disks[i].read_only };
		char why[sizeof(vm->why)];

		d = linux_virtio(1 + i);
		if ((r = kvm_virtio_blk_add(vm, d.base, d.gsi, &b))) {
			snprintf(why, sizeof(why), "%s", vm->why);
			if (why[0])   /* it names the image already */
				return kvm_why_set(vm, r, "%s (--disk %u)", why, i + 1);
			return kvm_why_set(vm, r, "disk %s: %s (--disk %u)", b.path, strerror(-r), i + 1);
		}
	}
	for (unsigned i = 0; i < c->lx.nnics; i++) {
		const struct machine_nic *nic = &c->lx.nics[i];
		struct kvm_virtio_net_config n = { .tap = nic->tap, .mac_set = nic->mac_set };

		memcpy(n.mac, nic->mac, sizeof(n.mac));
		d = linux_virtio(1 + c->lx.ndisks + i);
		if ((r = kvm_virtio_net_add(vm, d.base, d.gsi, &n))) {
			char why[sizeof(vm->why)];

			snprintf(why, sizeof(why), "%s", vm->why);   /* it names the tap */
			return kvm_why_set(vm, r, "%s (--net %u)", why, i + 1);
		}
	}
	return 0;
}

int kvm_linux_boot(struct kvm_vm *vm, const struct machine_config *c)
{
	struct kvm_linux_boot b = { .cmdline = c->lx.cmdline };
	struct kvm_linux_image k;
	struct kvm_linux_entry e;
	uint8_t *img = NULL, *initrd = NULL;
	size_t img_len, initrd_len = 0;
	char why[sizeof(vm->why) - 32];
	int err;

	if ((err = file_read(vm, "kernel", c->lx.kernel, &img, &img_len)))
		return err;
	if ((err = kvm_linux_parse(img, img_len, &k, why, sizeof(why)))) {
		kvm_why_set(vm, err, "kernel %s: %s", c->lx.kernel, why);
		goto out;
	}
	if (c->lx.initrd &&
	    (err = file_read(vm, "initrd", c->lx.initrd, &initrd, &initrd_len)))
		goto out;
	b.initrd = initrd;
	b.initrd_len = initrd_len;
	if ((err = acpi_write(vm, c, &b.rsdp_gpa)))
		goto out;
	if ((err = kvm_linux_load(vm->ram, vm->ram_size, &k, &b, &e, vm->why, sizeof(vm->why))))
		goto out;
	if ((err = bsp_regs(&vm->v[0], &e)))
		kvm_why_set(vm, err, "setting up vCPU 0: %s", strerror(-err));
	else if ((err = pic_mask(vm)))
		kvm_why_set(vm, err, "masking the 8259s: %s", strerror(-err));
out:
	free(initrd);
	free(img);
	return err;
}
