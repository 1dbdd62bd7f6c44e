/* kvm/dev/dev.c - the VM's list of devices (dev.h). */
#include <errno.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/ioctl.h>

#include "kvm/dev/dev.h"
#include "lib/codec.h"

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

static size_t ident_size(const struct kvm_dev *d)
{
	return d->ops->identity_size ? d->ops->identity_size(d->priv) : 0;
}

long kvm_devs_identity(struct kvm_devs *ds, void *buf, size_t cap)
{
	struct pcm_enc e = { buf, cap, 0, false };

	for (unsigned i = 0; i < ds->n; i++) {
		struct kvm_dev *d = &ds->d[i];
		size_t n = ident_size(d);
		void *at;
		int err;

		if (!n)
			continue;
		pcm_put_u32(&e, d->ops->kind);
		pcm_put_u32(&e, d->instance);
		pcm_put_u32(&e, (uint32_t)n);
		if (!(at = pcm_enc_take(&e, n)))
			return -ENOSPC;
		if ((err = d->ops->identity(d->priv, at, n)))
			return err;
	}
	return e.over ? -ENOSPC : (long)e.pos;
}

/* One entry: its device's check, the reason naming the device. */
static int ident_entry(struct kvm_devs *ds, struct pcm_dec *dc, bool *seen, char *why,
		       size_t wlen)
{
	uint32_t kind = pcm_get_u32(dc), inst = pcm_get_u32(dc), n = pcm_get_u32(dc);
	const uint8_t *at = pcm_dec_take(dc, n);
	struct kvm_dev *d = kvm_devs_find(ds, kind, inst);
	char r[160] = "";
	int err;

	if (!at) {
		snprintf(why, wlen, "device identities cut short");
		return -EINVAL;
	}
	if (!d || !ident_size(d)) {
		snprintf(why, wlen, "the VM has a device (kind %u, #%u) this destination was not "
			 "given", kind, inst + 1);
		return -ENODEV;
	}
	if (seen[d - ds->d]) {
		snprintf(why, wlen, "%s %u: named twice", d->ops->name, inst + 1);
		return -EINVAL;
	}
	seen[d - ds->d] = true;
	if ((err = d->ops->identity_check(d->priv, at, n, r, sizeof(r))))
		snprintf(why, wlen, "%s %u: %s", d->ops->name, inst + 1, r);
	return err;
}

int kvm_devs_identity_check(struct kvm_devs *ds, const void *buf, size_t len,
			    char *why, size_t wlen)
{
	struct pcm_dec dc = { buf, len, 0, false };
	bool seen[KVM_MAX_DEVS] = { false };
	int err;

	while (dc.pos < len)
		if ((err = ident_entry(ds, &dc, seen, why, wlen)))
			return err;
	for (unsigned i = 0; i < ds->n; i++)
		if (ident_size(&ds->d[i]) && !seen[i]) {
			snprintf(why, wlen, "%s %u: the source named no such device",
				 ds->d[i].ops->name, ds->d[i].instance + 1);
			return -ENODEV;
		}
	return 0;
}

void kvm_dev_irq(int vm_fd, unsigned gsi, int level)
{
	struct kvm_irq_level l = { .irq = gsi, .level = (uint32_t)level };

	ioctl(vm_fd, KVM_IRQ_LINE, &l);   /* fails only on a VM being torn down */
}
