/* kvm/dev/dev.c - the VM's list of devices (dev.h). */
#include <errno.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>

#include "kvm/dev/dev.h"

int kvm_devs_add(struct kvm_devs *ds, const struct kvm_dev_ops *ops, void *priv)
{
	uint32_t inst = 0;

	if (ds->n == KVM_MAX_DEVS)
		return -ENOSPC;
	for (unsigned i = 0; i < ds->n; i++)
		inst += ds->d[i].ops->kind == ops->kind;
	ds->d[ds->n++] = (struct kvm_dev){ ops, priv, inst };
	return 0;
}

struct kvm_dev *kvm_devs_find(struct kvm_devs *ds, uint32_t kind, uint32_t instance)
{
	for (unsigned i = 0; i < ds->n; i++)
		if (ds->d[i].ops->kind == kind && ds->d[i].instance == instance)
			return &ds->d[i];
	return NULL;
}

void kvm_devs_destroy(struct kvm_devs *ds)
{
	while (ds->n) {
		struct kvm_dev *d = &ds->d[--ds->n];

		if (d->ops->destroy)
			d->ops->destroy(d->priv);
	}
}

int kvm_devs_save_prepare(struct kvm_devs *ds, const char **who)
{
	for (unsigned i = 0; i < ds->n; i++) {
		struct kvm_dev *d = &ds->d[i];
		int err;

		if (d->ops->save_prepare && (err = d->ops->save_prepare(d->priv))) {
			*who = d->ops->name;
			return err;
		}
	}
	return 0;
}

void kvm_dev_irq(int vm_fd, unsigned gsi, int level)
{
	struct kvm_irq_level l = { .irq = gsi, .level = (uint32_t)level };

	ioctl(vm_fd, KVM_IRQ_LINE, &l);   /* fails only on a VM being torn down */
}
