/* kvm/dev/dev.h - what every device of the KVM engine offers besides the
 * bus ranges it decodes (kvm/bus.h): a name, and its guest-visible state as
 * one versioned section of the state blob, saved and loaded beside the
 * device's own code (Firecracker's rule: the device knows its state, the
 * blob only carries it).
 *
 * A section is named by (kind, instance): the kind says which code reads
 * it, the instance which of several devices of one kind (the second disk).
 * A device's load refuses a version it does not read and state it could
 * not have written, leaving the device unchanged: a blob from another
 * build is refused whole, never half applied.
 */
#ifndef KVM_DEV_DEV_H
#define KVM_DEV_DEV_H

#include <stddef.h>
#include <stdint.h>

#define KVM_MAX_DEVS 16

/* Kinds as the state blob names them; never renumber. */
enum kvm_dev_kind {
	KVM_DEV_COM1 = 1,       /* the 16550A console UART */
	KVM_DEV_PAYLOAD = 2,    /* the payload guest's pseudo-device */
	KVM_DEV_POWER = 3,      /* ACPI sleep/reset port, i8042 reset */
	KVM_DEV_VIRTIO_RNG = 4, /* virtio-mmio entropy device (virtio.h) */
	KVM_DEV_VIRTIO_BLK = 5, /* virtio-mmio block device */
	KVM_DEV_VIRTIO_NET = 6, /* virtio-mmio network device */
};

struct kvm_dev_ops {
	const char *name;       /* in messages: "serial port" */
	uint32_t kind;          /* enum kvm_dev_kind */
	uint32_t version;       /* of the section this code writes */
	/* Bytes of state; 0: the device has no section. */
	size_t (*state_size)(void *dev);
	/* Exactly state_size bytes into buf. 0 or negative errno. */
	int (*save)(void *dev, void *buf, size_t len);
	/* -EINVAL with the reason in why, device unchanged, when the section
	 * is not one this code wrote (version, length, contents). */
	int (*load)(void *dev, uint32_t version, const void *buf, size_t len,
		    char *why, size_t wlen);
	/* Optional. After a load, once every vCPU's state is in: raise the
	 * interrupts the state holds and take up the work it left pending.
	 * Not inside load: an interrupt delivered before the LAPICs are
	 * restored is overwritten by them and lost, and a level-triggered
	 * pin then waits for an EOI that never comes. */
	void (*activate)(void *dev);
	/* Optional. A save will follow soon (a migration begins), the guest
	 * still running: do now what would otherwise lengthen the pause (a
	 * disk reads its fingerprint). 0 or negative errno. */
	int (*save_prepare)(void *dev);
	/* Optional: the backing's identity (a disk image: size, serial, a
	 * fingerprint), identity_size bytes, taken as a migration begins;
	 * and the destination's check of it before anything moves (-EINVAL,
	 * reason in why). */
	size_t (*identity_size)(void *dev);
	int (*identity)(void *dev, void *buf, size_t len);
	int (*identity_check)(void *dev, const void *buf, size_t len, char *why, size_t wlen);
	void (*destroy)(void *dev);
};

struct kvm_dev {
	const struct kvm_dev_ops *ops;
	void *priv;
	uint32_t instance;
};

struct kvm_devs {
	struct kvm_dev d[KVM_MAX_DEVS];
	unsigned n;
};

/* Register a device; its instance is the count of earlier ones of its
 * kind. -ENOSPC when full (the device is not destroyed). */
int kvm_devs_add(struct kvm_devs *ds, const struct kvm_dev_ops *ops, void *priv);
/* The device of this kind and instance, or NULL. */
struct kvm_dev *kvm_devs_find(struct kvm_devs *ds, uint32_t kind, uint32_t instance);
/* Every device's save_prepare; on a failure, *who names the device. */
int kvm_devs_save_prepare(struct kvm_devs *ds, const char **who);
/* Every device's identity as entries {kind u32, instance u32, len u32,
 * bytes}: bytes written, or negative errno (-ENOSPC: cap too small). */
long kvm_devs_identity(struct kvm_devs *ds, void *buf, size_t cap);
/* Does every device with an identity find its own in buf, and accept it?
 * 0, or -EINVAL/-ENODEV with the reason (naming the device) in why. */
int kvm_devs_identity_check(struct kvm_devs *ds, const void *buf, size_t len,
			    char *why, size_t wlen);
/* Destroy every device, last registered first. */
void kvm_devs_destroy(struct kvm_devs *ds);

/* Drive interrupt line gsi of the VM's in-kernel irqchip to level. */
void kvm_dev_irq(int vm_fd, unsigned gsi, int level);

#endif
