/* kvm/state.c - the KVM engine's state blob: every vCPU's and device's
 * state, length-prefixed sections after a small header.
 *
 *   struct kvm_state_body, then sections: struct kvm_state_sec + data
 *   (padded to 8). Sections may come in any order; load applies them in a
 *   fixed one.
 *
 * Devices (kvm/dev/) each bring one KS_DEVICE section, named by kind and
 * instance and versioned by the device, which saves and loads it.
 *
 * Restore order (as Firecracker and QEMU document it): VM devices first
 * (PIT, PIC, IOAPIC, clock, then kvm/dev/'s devices); then per vCPU CPUID, MP state, REGS,
 * SREGS, XSAVE, XCRS, DEBUGREGS, LAPIC, MSRs (TSC first, TSC_DEADLINE
 * last; after the LAPIC, whose mode decides what a deadline means), and
 * VCPU_EVENTS last (after REGS, so a pending exception lands on the
 * restored RIP). The guest TSC and the KVM clock move on by the wall time
 * between save and load, so the guest's clock runs across the migration.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "guest/workload.h"
#include "kvm/vmm.h"

#define KVM_STATE_VERSION 2   /* 2: devices in KS_DEVICE sections */
#define MSR_IA32_TSC      0x10

enum ks_type {
	KS_CPUID = 1, KS_MP_STATE, KS_REGS, KS_SREGS, KS_XSAVE, KS_XCRS,
	KS_DEBUGREGS, KS_LAPIC, KS_MSRS, KS_EVENTS,
	KS_VCPU_TYPES,              /* per-vCPU types are below this */
	KS_PIT2 = 32, KS_PIC_MASTER, KS_PIC_SLAVE, KS_IOAPIC, KS_CLOCK,
	KS_VM_END,
	KS_DEVICE = 64,             /* struct kvm_state_dev + the device's bytes */
};
#define KS_VM_FIRST KS_PIT2
#define KS_VM_VCPU  0xffffffffu

struct kvm_state_body {
	uint32_t version;
	uint32_t nsections;
	uint64_t ram_bytes;
	struct wl_params params;
	uint64_t tsc_khz;
	uint64_t realtime_ns;       /* CLOCK_REALTIME at save */
};

struct kvm_state_sec {
	uint32_t type;
	uint32_t vcpu;
	uint32_t len;
	uint32_t reserved;
};

/* Opens a KS_DEVICE section's data. */
struct kvm_state_dev {
	uint32_t kind;              /* enum kvm_dev_kind */
	uint32_t instance;
	uint32_t version;           /* the device's own */
	uint32_t reserved;
};

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static size_t pad8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* Fixed section sizes; 0 for the variable ones. */
static size_t sec_fixed(uint32_t type)
{
	switch (type) {
	case KS_MP_STATE: return sizeof(struct kvm_mp_state);
	case KS_REGS: return sizeof(struct kvm_regs);
	case KS_SREGS: return sizeof(struct kvm_sregs);
	case KS_XCRS: return sizeof(struct kvm_xcrs);
	case KS_DEBUGREGS: return sizeof(struct kvm_debugregs);
	case KS_LAPIC: return sizeof(struct kvm_lapic_state);
	case KS_EVENTS: return sizeof(struct kvm_vcpu_events);
	case KS_PIT2: return sizeof(struct kvm_pit_state2);
	case KS_PIC_MASTER: case KS_PIC_SLAVE: case KS_IOAPIC: return sizeof(struct kvm_irqchip);
	case KS_CLOCK: return sizeof(struct kvm_clock_data);
	default: return 0;
	}
}

static size_t vcpu_bytes(const struct kvm_vm *vm)
{
	size_t n = 0;

	for (uint32_t t = KS_CPUID; t < KS_VCPU_TYPES; t++)
		n += sizeof(struct kvm_state_sec) + pad8(sec_fixed(t));
	n += sizeof(struct kvm_cpuid2) + vm->v[0].cpuid->nent * sizeof(struct kvm_cpuid_entry2);
	n += vm->xsave_size;
	n += sizeof(struct kvm_msrs) + vm->nmsrs * sizeof(struct kvm_msr_entry);
	return n;
}

static size_t dev_state_size(const struct kvm_dev *d)
{
	return d->ops->state_size ? d->ops->state_size(d->priv) : 0;
}

size_t kvm_state_size(const struct kvm_vm *vm)
{
	size_t n = sizeof(struct kvm_state_body) + vm->n * vcpu_bytes(vm);

	for (uint32_t t = KS_VM_FIRST; t < KS_VM_END; t++)
		n += sizeof(struct kvm_state_sec) + pad8(sec_fixed(t));
	for (unsigned i = 0; i < vm->devs.n; i++)
		if (dev_state_size(&vm->devs.d[i]))
			n += sizeof(struct kvm_state_sec) +
			     pad8(sizeof(struct kvm_state_dev) + dev_state_size(&vm->devs.d[i]));
	return n;
}

/* ---- save ---- */

struct writer {
	uint8_t *buf;
	size_t cap, pos;
	uint32_t nsec;
};

/* Reserve a section of len bytes; NULL when the buffer is too small. */
static void *sec_add(struct writer *w, uint32_t type, uint32_t vcpu, size_t len)
{
	struct kvm_state_sec h = { type, vcpu, (uint32_t)len, 0 };
	void *data;

	if (w->pos + sizeof(h) + pad8(len) > w->cap)
		return NULL;
	memcpy(w->buf + w->pos, &h, sizeof(h));
	data = w->buf + w->pos + sizeof(h);
	memset(data, 0, pad8(len));
	w->pos += sizeof(h) + pad8(len);
	w->nsec++;
	return data;
}

/* One ioctl that reads a fixed-size section. */
static int sec_ioctl(struct writer *w, int fd, unsigned long req, uint32_t type,
		     uint32_t vcpu)
{
	void *d = sec_add(w, type, vcpu, sec_fixed(type));

	if (!d)
		return -ENOSPC;
	return ioctl(fd, req, d) < 0 ? -errno : 0;
}

static int save_vcpu(struct kvm_vm *vm, struct kvm_vcpu *v, struct writer *w)
{
	size_t clen = sizeof(struct kvm_cpuid2) + v->cpuid->nent * sizeof(struct kvm_cpuid_entry2);
	size_t mlen = sizeof(struct kvm_msrs) + vm->nmsrs * sizeof(struct kvm_msr_entry);
	struct kvm_cpuid2 *c;
	struct kvm_msrs *m;
	void *x;
	int err;

	if (!(c = sec_add(w, KS_CPUID, v->idx, clen)))
		return -ENOSPC;
	memcpy(c, v->cpuid, clen);   /* what we gave KVM, without asking it */
	if ((err = sec_ioctl(w, v->fd, KVM_GET_MP_STATE, KS_MP_STATE, v->idx)) ||
	    (err = sec_ioctl(w, v->fd, KVM_GET_REGS, KS_REGS, v->idx)) ||
	    (err = sec_ioctl(w, v->fd, KVM_GET_SREGS, KS_SREGS, v->idx)))
		return err;
	if (!(x = sec_add(w, KS_XSAVE, v->idx, vm->xsave_size)))
		return -ENOSPC;
	if (ioctl(v->fd, vm->xsave_size > sizeof(struct kvm_xsave) ? KVM_GET_XSAVE2
								  : KVM_GET_XSAVE, x) < 0)
		return -errno;
	if ((err = sec_ioctl(w, v->fd, KVM_GET_XCRS, KS_XCRS, v->idx)) ||
	    (err = sec_ioctl(w, v->fd, KVM_GET_DEBUGREGS, KS_DEBUGREGS, v->idx)) ||
	    (err = sec_ioctl(w, v->fd, KVM_GET_LAPIC, KS_LAPIC, v->idx)))
		return err;
	if (!(m = sec_add(w, KS_MSRS, v->idx, mlen)))
		return -ENOSPC;
	m->nmsrs = vm->nmsrs;
	for (unsigned i = 0; i < vm->nmsrs; i++)
		m->entries[i].index = vm->msrs[i];
	if (ioctl(v->fd, KVM_GET_MSRS, m) != (int)vm->nmsrs)
		return -EIO;
	return sec_ioctl(w, v->fd, KVM_GET_VCPU_EVENTS, KS_EVENTS, v->idx);
}

static int save_chip(struct kvm_vm *vm, struct writer *w, uint32_t type, uint32_t chip)
{
	struct kvm_irqchip *ic = sec_add(w, type, KS_VM_VCPU, sizeof(*ic));

	if (!ic)
		return -ENOSPC;
	ic->chip_id = chip;
	return ioctl(vm->vm_fd, KVM_GET_IRQCHIP, ic) < 0 ? -errno : 0;
}

static int save_dev(struct writer *w, const struct kvm_dev *d)
{
	size_t len = dev_state_size(d);
	struct kvm_state_dev h = { d->ops->kind, d->instance, d->ops->version, 0 };
	uint8_t *p;

	if (!len)
		return 0;
	if (!(p = sec_add(w, KS_DEVICE, KS_VM_VCPU, sizeof(h) + len)))
		return -ENOSPC;
	memcpy(p, &h, sizeof(h));
	return d->ops->save(d->priv, p + sizeof(h), len);
}

static int save_vm(struct kvm_vm *vm, struct writer *w)
{
	struct kvm_clock_data *cd;
	int err;

	if ((err = sec_ioctl(w, vm->vm_fd, KVM_GET_PIT2, KS_PIT2, KS_VM_VCPU)) ||
	    (err = save_chip(vm, w, KS_PIC_MASTER, KVM_IRQCHIP_PIC_MASTER)) ||
	    (err = save_chip(vm, w, KS_PIC_SLAVE, KVM_IRQCHIP_PIC_SLAVE)) ||
	    (err = save_chip(vm, w, KS_IOAPIC, KVM_IRQCHIP_IOAPIC)))
		return err;
	if (!(cd = sec_add(w, KS_CLOCK, KS_VM_VCPU, sizeof(*cd))))
		return -ENOSPC;
	if (ioctl(vm->vm_fd, KVM_GET_CLOCK, cd) < 0)
		return -errno;
	for (unsigned i = 0; i < vm->devs.n; i++)
		if ((err = save_dev(w, &vm->devs.d[i])))
			return err;
	return 0;
}

/* The VM must be paused (or never started). */
ssize_t kvm_state_save(struct kvm_vm *vm, const struct machine_config *c,
		       void *buf, size_t cap)
{
	struct kvm_state_body b = {
		.version = KVM_STATE_VERSION,
		.ram_bytes = c->ram_bytes,
		.params = c->params,
		.tsc_khz = vm->tsc_khz,
	};
	struct writer w = { buf, cap, sizeof(b), 0 };
	int err;

	if (cap < kvm_state_size(vm))
		return -ENOSPC;
	b.realtime_ns = realtime_ns();
	if ((err = save_vm(vm, &w)))
		return err;
	for (unsigned i = 0; i < vm->n; i++)
		if ((err = save_vcpu(vm, &vm->v[i], &w)))
			return err;
	b.nsections = w.nsec;
	memcpy(buf, &b, sizeof(b));
	return (ssize_t)w.pos;
}

/* ---- load ---- */

struct parsed {
	const uint8_t *vm[KS_VM_END - KS_VM_FIRST];
	uint32_t vm_len[KS_VM_END - KS_VM_FIRST];
	const uint8_t *dev[KVM_MAX_DEVS];   /* by index in vm->devs */
	uint32_t dev_len[KVM_MAX_DEVS];
	const uint8_t **vcpu;       /* n * KS_VCPU_TYPES */
	uint32_t *vcpu_len;
};


/* A variable section's length must match the count it declares. */
static int sec_len_ok(struct kvm_vm *vm, uint32_t type, const uint8_t *d, uint32_t len)
{
	uint32_t n;

	switch (type) {
	case KS_CPUID:
		if (len < sizeof(struct kvm_cpuid2))
			return 0;
		memcpy(&n, d, 4);
		return n <= KVM_MAX_CPUID &&
		       len == sizeof(struct kvm_cpuid2) + n * sizeof(struct kvm_cpuid_entry2);
	case KS_MSRS:
		if (len < sizeof(struct kvm_msrs))
			return 0;
		memcpy(&n, d, 4);
		return n <= KVM_MAX_MSRS &&
		       len == sizeof(struct kvm_msrs) + n * sizeof(struct kvm_msr_entry);
	case KS_XSAVE:
		return len >= sizeof(struct kvm_xsave) && len <= vm->xsave_size;
	default:
		return len == sec_fixed(type);
	}
}

/* A device section goes to the device of its kind and instance; one this
 * VM lacks is refused (its state would be lost), as is a second one. */
static int parse_dev(struct kvm_vm *vm, const uint8_t *d, uint32_t len, uint32_t i,
		     struct parsed *ps)
{
	struct kvm_state_dev h;
	struct kvm_dev *dev;
	unsigned at;

	if (len < sizeof(h))
		return kvm_why_set(vm, -EINVAL, "state section %u: a device section of %u bytes", i, len);
	memcpy(&h, d, sizeof(h));
	dev = kvm_devs_find(&vm->devs, h.kind, h.instance);
	if (!dev || !dev_state_size(dev))
		return kvm_why_set(vm, -ENOEXEC, "state blob has a device this VM lacks (kind %u, "
			   "instance %u)", h.kind, h.instance);
	if (h.version != dev->ops->version)
		return kvm_why_set(vm, -EINVAL, "state blob has the %s's state version %u, this build "
			   "reads %u", dev->ops->name, h.version, dev->ops->version);
	at = (unsigned)(dev - vm->devs.d);
	if (ps->dev[at])
		return kvm_why_set(vm, -EINVAL, "state blob has the %s twice", dev->ops->name);
	ps->dev[at] = d;
	ps->dev_len[at] = len;
	return 0;
}

static int parse(struct kvm_vm *vm, const uint8_t *p, size_t len, uint32_t nsec,
		 struct parsed *ps)
{
	size_t pos = 0;

	for (uint32_t i = 0; i < nsec; i++) {
		struct kvm_state_sec h;
		const uint8_t **slot;
		uint32_t *slot_len;

		if (len - pos < sizeof(h))
			return kvm_why_set(vm, -EINVAL, "state blob truncated in section %u", i);
		memcpy(&h, p + pos, sizeof(h));
		pos += sizeof(h);
		if (h.len > len - pos || pad8(h.len) > len - pos)
			return kvm_why_set(vm, -EINVAL, "state section %u (type %u) runs past the blob's end",
				   i, h.type);
		if (h.type == KS_DEVICE && h.vcpu == KS_VM_VCPU) {
			int err = parse_dev(vm, p + pos, h.len, i, ps);

			if (err)
				return err;
			pos += pad8(h.len);
			continue;
		}
		if (h.type >= KS_CPUID && h.type < KS_VCPU_TYPES && h.vcpu < vm->n) {
			slot = &ps->vcpu[h.vcpu * KS_VCPU_TYPES + h.type];
			slot_len = &ps->vcpu_len[h.vcpu * KS_VCPU_TYPES + h.type];
		} else if (h.type >= KS_VM_FIRST && h.type < KS_VM_END && h.vcpu == KS_VM_VCPU) {
			slot = &ps->vm[h.type - KS_VM_FIRST];
			slot_len = &ps->vm_len[h.type - KS_VM_FIRST];
		} else {
			return kvm_why_set(vm, -EINVAL, "state section %u: unknown type %u or vCPU %u",
				   i, h.type, h.vcpu);
		}
		if (*slot)
			return kvm_why_set(vm, -EINVAL, "state section %u: type %u for vCPU %u twice",
				   i, h.type, h.vcpu);
		if (!sec_len_ok(vm, h.type, p + pos, h.len))
			return kvm_why_set(vm, h.type == KS_XSAVE ? -ENOEXEC : -EINVAL,
				   "state section %u (type %u) has a wrong length %u", i, h.type, h.len);
		*slot = p + pos;
		*slot_len = h.len;
		pos += pad8(h.len);
	}
	if (pos != len)
		return kvm_why_set(vm, -EINVAL, "state blob has %zu bytes after its last section", len - pos);
	for (uint32_t t = KS_VM_FIRST; t < KS_VM_END; t++)
		if (!ps->vm[t - KS_VM_FIRST])
			return kvm_why_set(vm, -EINVAL, "state blob lacks device section %u", t);
	for (unsigned d = 0; d < vm->devs.n; d++)
		if (dev_state_size(&vm->devs.d[d]) && !ps->dev[d])
			return kvm_why_set(vm, -EINVAL, "state blob lacks the %s's section",
				   vm->devs.d[d].ops->name);
	for (unsigned v = 0; v < vm->n; v++)
		for (uint32_t t = KS_CPUID; t < KS_VCPU_TYPES; t++)
			if (!ps->vcpu[v * KS_VCPU_TYPES + t])
				return kvm_why_set(vm, -EINVAL, "state blob lacks section %u of vCPU %u", t, v);
	return 0;
}

/* Blob data may sit at any alignment: the ioctls and our reads get an
 * aligned copy, zero-extended to at least min bytes. */
static void *sec_copy(const uint8_t *d, uint32_t len, size_t min)
{
	void *c = calloc(1, len > min ? len : min);

	if (c)
		memcpy(c, d, len);
	return c;
}

static int set_copy(int fd, unsigned long req, const uint8_t *d, uint32_t len, size_t min)
{
	void *c = sec_copy(d, len, min);
	int r;

	if (!c)
		return -ENOMEM;
	r = ioctl(fd, req, c) < 0 ? -errno : 0;
	free(c);
	return r;
}

/* The guest's TSC rate on every vCPU, when this host's differs and KVM
 * can scale it; refused otherwise (the guest clock would drift). */
static int tsc_adopt(struct kvm_vm *vm, uint64_t khz)
{
	if (khz == vm->tsc_khz)
		return 0;
	for (unsigned i = 0; i < vm->n; i++)
		if (ioctl(vm->v[i].fd, KVM_SET_TSC_KHZ, (unsigned long)khz) < 0)
			return kvm_why_set(vm, -ENOEXEC, "guest TSC runs at %llu kHz, this host at %llu and "
				   "cannot scale it", (unsigned long long)khz,
				   (unsigned long long)vm->tsc_khz);
	vm->tsc_khz = khz;
	return 0;
}

/* Each device checks its own section; the data may sit at any alignment,
 * so it gets an aligned copy. */
static int load_devs(struct kvm_vm *vm, const struct parsed *ps)
{
	for (unsigned d = 0; d < vm->devs.n; d++) {
		struct kvm_dev *dev = &vm->devs.d[d];
		struct kvm_state_dev h;
		uint8_t *c;
		int err;

		if (!ps->dev[d])
			continue;
		memcpy(&h, ps->dev[d], sizeof(h));
		if (!(c = sec_copy(ps->dev[d] + sizeof(h), ps->dev_len[d] - (uint32_t)sizeof(h), 1)))
			return -ENOMEM;
		err = dev->ops->load(dev->priv, h.version, c, ps->dev_len[d] - sizeof(h),
				     vm->why, sizeof(vm->why));
		free(c);
		if (err)
			return err;
	}
	return 0;
}

static int load_vm(struct kvm_vm *vm, const struct parsed *ps, uint64_t elapsed)
{
	static const unsigned long chip_req = KVM_SET_IRQCHIP;
	struct kvm_clock_data cd;
	int err;

#define VMSEC(t) ps->vm[(t) - KS_VM_FIRST], ps->vm_len[(t) - KS_VM_FIRST]
	if ((err = set_copy(vm->vm_fd, KVM_SET_PIT2, VMSEC(KS_PIT2), 0)))
		return kvm_why_set(vm, err, "restoring the PIT: %s", strerror(-err));
	for (uint32_t t = KS_PIC_MASTER; t <= KS_IOAPIC; t++)
		if ((err = set_copy(vm->vm_fd, chip_req, VMSEC(t), 0)))
			return kvm_why_set(vm, err, "restoring irqchip %u: %s", t - KS_PIC_MASTER,
				   strerror(-err));
	memcpy(&cd, ps->vm[KS_CLOCK - KS_VM_FIRST], sizeof(cd));
	cd.clock += elapsed;
	cd.flags = 0;
	if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &cd) < 0)
		return kvm_why_set(vm, -errno, "restoring the KVM clock: %s", strerror(errno));
#undef VMSEC
	return load_devs(vm, ps);
}

static int load_msrs(struct kvm_vm *vm, struct kvm_vcpu *v, const uint8_t *d,
		     uint32_t len, uint64_t tsc_delta)
{
	struct kvm_msrs *m = sec_copy(d, len, 0);
	int r;

	if (!m)
		return -ENOMEM;
	for (unsigned i = 0; i < m->nmsrs; i++)
		if (m->entries[i].index == MSR_IA32_TSC)
			m->entries[i].data += tsc_delta;
	r = ioctl(v->fd, KVM_SET_MSRS, m);
	if (r >= 0 && r < (int)m->nmsrs)
		r = kvm_why_set(vm, -ENOEXEC, "vCPU %u: this host refuses MSR %#x", v->idx,
			m->entries[r].index);
	else if (r < 0)
		r = kvm_why_set(vm, -errno, "vCPU %u: restoring MSRs: %s", v->idx, strerror(errno));
	else
		r = 0;
	free(m);
	return r;
}

static int load_cpuid(struct kvm_vcpu *v, const uint8_t *d, uint32_t len)
{
	struct kvm_cpuid2 *c = sec_copy(d, len, 0);
	int r;

	if (!c)
		return -ENOMEM;
	r = kvm_vcpu_cpuid(v, c, 0);   /* the blob's table already names its APIC ID */
	free(c);
	return r;
}

static const struct { uint32_t type; unsigned long req; const char *name; } vcpu_order[] = {
	{ KS_CPUID, KVM_SET_CPUID2, "CPUID" },
	{ KS_MP_STATE, KVM_SET_MP_STATE, "MP state" },
	{ KS_REGS, KVM_SET_REGS, "registers" },
	{ KS_SREGS, KVM_SET_SREGS, "special registers" },
	{ KS_XSAVE, KVM_SET_XSAVE, "XSAVE state" },
	{ KS_XCRS, KVM_SET_XCRS, "XCRs" },
	{ KS_DEBUGREGS, KVM_SET_DEBUGREGS, "debug registers" },
	{ KS_LAPIC, KVM_SET_LAPIC, "LAPIC" },
	{ KS_MSRS, 0, "MSRs" },
	{ KS_EVENTS, KVM_SET_VCPU_EVENTS, "pending events" },
};

static int load_vcpu(struct kvm_vm *vm, struct kvm_vcpu *v, const struct parsed *ps,
		     uint64_t tsc_delta)
{
	for (size_t i = 0; i < sizeof(vcpu_order) / sizeof(vcpu_order[0]); i++) {
		uint32_t t = vcpu_order[i].type;
		const uint8_t *d = ps->vcpu[v->idx * KS_VCPU_TYPES + t];
		uint32_t len = ps->vcpu_len[v->idx * KS_VCPU_TYPES + t];
		int err;

		if (t == KS_MSRS)
			err = load_msrs(vm, v, d, len, tsc_delta);
		else if (t == KS_CPUID)
			err = load_cpuid(v, d, len);
		else
			err = set_copy(v->fd, vcpu_order[i].req, d, len,
				       t == KS_XSAVE ? vm->xsave_size : 0);
		if (err == -ENOEXEC)
			return err;   /* why already says it */
		if (err)
			return kvm_why_set(vm, err, "vCPU %u: restoring %s: %s", v->idx,
				   vcpu_order[i].name, strerror(-err));
	}
	return 0;
}

/* Keep vCPU 0's CPUID as the VM's: a later save sizes and reports it. */
static int cpuid_adopt(struct kvm_vm *vm, const uint8_t *d, uint32_t len)
{
	struct kvm_cpuid2 *c = sec_copy(d, len, 0);

	if (!c)
		return -ENOMEM;
	free(vm->cpuid);
	vm->cpuid = c;
	return 0;
}

int kvm_state_load(struct kvm_vm *vm, struct machine_config *c, const void *buf, size_t len)
{
	struct kvm_state_body b;
	struct parsed ps = { 0 };
	uint64_t now, elapsed;
	int err;

	vm->why[0] = 0;
	if (len < sizeof(b))
		return kvm_why_set(vm, -EINVAL, "state blob shorter than its header");
	memcpy(&b, buf, sizeof(b));
	if (b.version != KVM_STATE_VERSION)
		return kvm_why_set(vm, -EINVAL, "state blob version %u, this build reads %u",
			   b.version, KVM_STATE_VERSION);
	if (b.ram_bytes != c->ram_bytes)
		return kvm_why_set(vm, -ENOEXEC, "state blob is for %llu bytes of RAM, this VM has %llu",
			   (unsigned long long)b.ram_bytes, (unsigned long long)c->ram_bytes);
	if (c->guest == MACHINE_GUEST_PAYLOAD &&
	    (b.params.workload < 1 || b.params.workload > WL_MAX))
		return kvm_why_set(vm, -EINVAL, "state blob names no known workload");
	if (c->guest != MACHINE_GUEST_PAYLOAD && b.params.workload)
		return kvm_why_set(vm, -ENOEXEC, "state blob is of a payload guest, this VM runs Linux");
	if (b.nsections > (vm->n + 1) * 64)
		return kvm_why_set(vm, -EINVAL, "state blob claims %u sections", b.nsections);
	ps.vcpu = calloc((size_t)vm->n * KS_VCPU_TYPES, sizeof(*ps.vcpu));
	ps.vcpu_len = calloc((size_t)vm->n * KS_VCPU_TYPES, sizeof(*ps.vcpu_len));
	if (!ps.vcpu || !ps.vcpu_len) {
		err = -ENOMEM;
		goto out;
	}
	err = parse(vm, (const uint8_t *)buf + sizeof(b), len - sizeof(b), b.nsections, &ps);
	if (err || (err = tsc_adopt(vm, b.tsc_khz)))
		goto out;
	now = realtime_ns();
	elapsed = now > b.realtime_ns ? now - b.realtime_ns : 0;
	if ((err = load_vm(vm, &ps, elapsed)))
		goto out;
	/* On the control thread, not the vCPUs' own: they run at a lower
	 * priority, and on the destination the page stream starts competing
	 * for the CPU as soon as the state is sent. */
	for (unsigned i = 0; i < vm->n && !err; i++)
		err = load_vcpu(vm, &vm->v[i], &ps, elapsed * b.tsc_khz / 1000000);
	if (err)
		goto out;
	if (!err)
		err = cpuid_adopt(vm, ps.vcpu[KS_CPUID], ps.vcpu_len[KS_CPUID]);
	for (unsigned d = 0; d < vm->devs.n && !err; d++)
		if (ps.dev[d] && vm->devs.d[d].ops->activate)
			vm->devs.d[d].ops->activate(vm->devs.d[d].priv);
	if (!err && !c->params.workload && c->guest == MACHINE_GUEST_PAYLOAD)
		c->params = b.params;
out:
	free(ps.vcpu);
	free(ps.vcpu_len);
	return err;
}
