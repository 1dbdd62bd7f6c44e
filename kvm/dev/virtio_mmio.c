/* kvm/dev/virtio_mmio.c - the virtio-mmio transport, version 2 (virtio
 * 1.2, 4.2.2): the register block a driver programs, feature negotiation,
 * the device status, queue set-up, notifications handed to the back-end,
 * the level-triggered interrupt line, and the device's state section
 * (transport registers, queues, then the back-end's bytes). virtio.h says
 * what is offered, how hostile guests are met and the threading rules.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm/dev/virtio.h"
#include "kvm/vmm.h"

/* Register offsets (4.2.2). */
enum {
	R_MAGIC = 0x000, R_VERSION = 0x004, R_DEVICE_ID = 0x008, R_VENDOR_ID = 0x00c,
	R_DEV_FEATURES = 0x010, R_DEV_FEATURES_SEL = 0x014,
	R_DRV_FEATURES = 0x020, R_DRV_FEATURES_SEL = 0x024,
	R_QUEUE_SEL = 0x030, R_QUEUE_NUM_MAX = 0x034, R_QUEUE_NUM = 0x038,
	R_QUEUE_READY = 0x044, R_QUEUE_NOTIFY = 0x050,
	R_INT_STATUS = 0x060, R_INT_ACK = 0x064, R_STATUS = 0x070,
	R_DESC_LOW = 0x080, R_DESC_HIGH = 0x084, R_DRIVER_LOW = 0x090, R_DRIVER_HIGH = 0x094,
	R_DEVICE_LOW = 0x0a0, R_DEVICE_HIGH = 0x0a4,
	R_SHM_SEL = 0x0ac, R_SHM_LEN_LOW = 0x0b0, R_SHM_LEN_HIGH = 0x0b4,
	R_SHM_BASE_LOW = 0x0b8, R_SHM_BASE_HIGH = 0x0bc,
	R_CONFIG_GEN = 0x0fc, R_CONFIG = 0x100,
};

#define STATUS_KNOWN (KVM_VIRTIO_S_ACKNOWLEDGE | KVM_VIRTIO_S_DRIVER | KVM_VIRTIO_S_DRIVER_OK | \
		      KVM_VIRTIO_S_FEATURES_OK | KVM_VIRTIO_S_NEEDS_RESET | KVM_VIRTIO_S_FAILED)
#define TRANSPORT_FEATURES ((1ull << KVM_VIRTIO_F_VERSION_1) | \
			    (1ull << KVM_VIRTIO_F_INDIRECT_DESC) | (1ull << KVM_VIRTIO_F_EVENT_IDX))

struct kvm_virtio {
	pthread_mutex_t lock;
	struct kvm_dev_ops ops;            /* kind, name, version from the back-end */
	const struct kvm_virtio_backend *be;
	void *be_ctx;
	struct kvm_virtio_mmio_config c;
	uint32_t status, isr;
	uint32_t dev_sel, drv_sel, queue_sel;
	uint64_t acked;                    /* DriverFeatures */
	uint32_t generation;               /* ConfigGeneration */
	int line;                          /* level last driven */
	struct kvm_virtq q[KVM_VIRTIO_MAX_QUEUES];
};

static uint64_t offered(const struct kvm_virtio *d)
{
	return d->be->features | TRANSPORT_FEATURES;
}

static int has(uint64_t features, unsigned bit)
{
	return !!(features & (1ull << bit));
}

static struct kvm_virtq *selected(struct kvm_virtio *d)
{
	return d->queue_sel < d->be->nqueues ? &d->q[d->queue_sel] : NULL;
}

static void line_update(struct kvm_virtio *d)
{
	int want = d->isr != 0;

	if (want != d->line) {
		d->line = want;
		d->c.irq(d->c.irq_ctx, d->c.gsi, want);
	}
}

void kvm_virtio_needs_reset(struct kvm_virtio *d)
{
	d->status |= KVM_VIRTIO_S_NEEDS_RESET;
	if (d->status & KVM_VIRTIO_S_DRIVER_OK) {   /* 2.1.2: then notify */
		d->isr |= KVM_VIRTIO_INT_CONFIG;
		line_update(d);
	}
}

void kvm_virtio_used(struct kvm_virtio *d, unsigned q, uint16_t old)
{
	if (q < d->be->nqueues && kvm_virtq_need_irq(&d->q[q], &d->c.mem, old)) {
		d->isr |= KVM_VIRTIO_INT_VRING;
		line_update(d);
	}
}

static void reset(struct kvm_virtio *d)
{
	d->status = d->dev_sel = d->drv_sel = d->queue_sel = 0;
	d->acked = 0;
	memset(d->q, 0, sizeof(d->q));
	d->isr = 0;
	line_update(d);
	if (d->be->reset)
		d->be->reset(d->be_ctx);
}

static void notify(struct kvm_virtio *d, uint32_t q)
{
	if (q >= d->be->nqueues || !d->q[q].ready ||
	    (d->status & (KVM_VIRTIO_S_NEEDS_RESET | KVM_VIRTIO_S_DRIVER_OK)) != KVM_VIRTIO_S_DRIVER_OK)
		return;
	if (d->be->notify(d->be_ctx, d, q) < 0)
		kvm_virtio_needs_reset(d);
}

/* Bits are only ever added (2.1.1: the driver never clears one; 0 is a
 * reset). FEATURES_OK sticks only for features this device can accept;
 * the driver reads Status back to learn that (3.1.1). Buffers queued
 * before DRIVER_OK are taken when it comes. */
static void status_write(struct kvm_virtio *d, uint32_t v)
{
	uint32_t was = d->status, now = (was | v) & STATUS_KNOWN & ~KVM_VIRTIO_S_NEEDS_RESET;

	if (!v) {
		reset(d);
		return;
	}
	now |= was & KVM_VIRTIO_S_NEEDS_RESET;
	if ((now & ~was & KVM_VIRTIO_S_FEATURES_OK) &&
	    (!has(d->acked, KVM_VIRTIO_F_VERSION_1) || (d->acked & ~offered(d))))
		now &= ~KVM_VIRTIO_S_FEATURES_OK;
	d->status = now;
	if (now & ~was & KVM_VIRTIO_S_DRIVER_OK)
		for (unsigned q = 0; q < d->be->nqueues; q++)
			notify(d, q);
}

static void queue_ready(struct kvm_virtio *d, struct kvm_virtq *q, uint32_t v)
{
	if (!v) {
		q->ready = 0;
		q->last_avail = q->used_idx = 0;
		return;
	}
	if (q->ready || !(d->status & KVM_VIRTIO_S_FEATURES_OK))
		return;
	q->indirect = (uint8_t)has(d->acked, KVM_VIRTIO_F_INDIRECT_DESC);
	q->event_idx = (uint8_t)has(d->acked, KVM_VIRTIO_F_EVENT_IDX);
	if (kvm_virtq_check(q, &d->c.mem)) {
		kvm_virtio_needs_reset(d);
		return;
	}
	q->last_avail = q->used_idx = 0;
	q->ready = 1;
}

static void queue_num(struct kvm_virtio *d, struct kvm_virtq *q, uint32_t v)
{
	if (!v || v > d->be->queue_max || (v & (v - 1)))
		kvm_virtio_needs_reset(d);
	else
		q->size = (uint16_t)v;
}

static void set_half(uint64_t *x, int high, uint32_t v)
{
	if (high)
		*x = (*x & 0xffffffffull) | ((uint64_t)v << 32);
	else
		*x = (*x & ~0xffffffffull) | v;
}

/* The queue registers a driver writes only while the queue is not ready. */
static void queue_write(struct kvm_virtio *d, uint64_t off, uint32_t v)
{
	struct kvm_virtq *q = selected(d);

	if (!q)
		return;
	if (off == R_QUEUE_READY) {
		queue_ready(d, q, v);
		return;
	}
	if (q->ready)
		return;
	switch (off) {
	case R_QUEUE_NUM:   queue_num(d, q, v); break;
	case R_DESC_LOW:    case R_DESC_HIGH:   set_half(&q->desc, off == R_DESC_HIGH, v); break;
	case R_DRIVER_LOW:  case R_DRIVER_HIGH: set_half(&q->avail, off == R_DRIVER_HIGH, v); break;
	case R_DEVICE_LOW:  case R_DEVICE_HIGH: set_half(&q->used, off == R_DEVICE_HIGH, v); break;
	}
}

static void reg_write(struct kvm_virtio *d, uint64_t off, uint32_t v)
{
	switch (off) {
	case R_DEV_FEATURES_SEL: d->dev_sel = v; break;
	case R_DRV_FEATURES_SEL: d->drv_sel = v; break;
	case R_DRV_FEATURES:
		if (d->drv_sel < 2 && !(d->status & KVM_VIRTIO_S_FEATURES_OK))
			set_half(&d->acked, d->drv_sel == 1, v);
		break;
	case R_QUEUE_SEL:    d->queue_sel = v; break;
	case R_QUEUE_NOTIFY: notify(d, v); break;
	case R_INT_ACK:
		d->isr &= ~v;
		line_update(d);
		break;
	case R_STATUS:       status_write(d, v); break;
	default:             queue_write(d, off, v); break;
	}
}

static uint32_t queue_read(struct kvm_virtio *d, uint64_t off)
{
	struct kvm_virtq *q = selected(d);

	if (!q)
		return 0;
	switch (off) {
	case R_QUEUE_NUM_MAX: return d->be->queue_max;
	case R_QUEUE_NUM:     return q->size;
	case R_QUEUE_READY:   return q->ready;
	case R_DESC_LOW:      return (uint32_t)q->desc;
	case R_DESC_HIGH:     return (uint32_t)(q->desc >> 32);
	case R_DRIVER_LOW:    return (uint32_t)q->avail;
	case R_DRIVER_HIGH:   return (uint32_t)(q->avail >> 32);
	case R_DEVICE_LOW:    return (uint32_t)q->used;
	case R_DEVICE_HIGH:   return (uint32_t)(q->used >> 32);
	}
	return 0;
}

static uint32_t reg_read(struct kvm_virtio *d, uint64_t off)
{
	switch (off) {
	case R_MAGIC:        return 0x74726976;   /* "virt" */
	case R_VERSION:      return 2;
	case R_DEVICE_ID:    return d->be->device_id;
	case R_VENDOR_ID:    return KVM_VIRTIO_VENDOR_ID;
	case R_DEV_FEATURES:
		return d->dev_sel < 2 ? (uint32_t)(offered(d) >> (32 * d->dev_sel)) : 0;
	case R_INT_STATUS:   return d->isr;
	case R_STATUS:       return d->status;
	case R_SHM_LEN_LOW:  case R_SHM_LEN_HIGH:     /* no shared memory region */
	case R_SHM_BASE_LOW: case R_SHM_BASE_HIGH:
		return 0xffffffffu;
	case R_CONFIG_GEN:   return d->generation;
	}
	return queue_read(d, off);
}

static void config_io(struct kvm_virtio *d, uint32_t off, uint8_t *data, unsigned len,
		      int is_write)
{
	int inside = off <= d->be->config_size && len <= d->be->config_size - off;

	if (is_write) {
		if (inside && d->be->config_write)
			d->be->config_write(d->be_ctx, off, data, len);
		return;
	}
	memset(data, 0, len);
	if (inside && d->be->config_read)
		d->be->config_read(d->be_ctx, off, data, len);
}

/* Registers take aligned 32-bit accesses only (4.2.2.2); any other is
 * dropped (writes) or reads 0. Configuration space takes any width. */
void kvm_virtio_mmio_io(void *dev, struct kvm_vcpu *v, uint64_t off, uint8_t *data,
			unsigned len, int is_write)
{
	struct kvm_virtio *d = dev;
	uint32_t x = 0;

	(void)v;
	pthread_mutex_lock(&d->lock);
	if (off >= R_CONFIG) {
		config_io(d, (uint32_t)(off - R_CONFIG), data, len, is_write);
	} else if (len != 4 || (off & 3)) {
		if (!is_write)
			memset(data, 0, len);
	} else if (is_write) {
		memcpy(&x, data, 4);
		reg_write(d, off, x);
	} else {
		x = reg_read(d, off);
		memcpy(data, &x, 4);
	}
	pthread_mutex_unlock(&d->lock);
}

void kvm_virtio_lock(struct kvm_virtio *d) { pthread_mutex_lock(&d->lock); }
void kvm_virtio_unlock(struct kvm_virtio *d) { pthread_mutex_unlock(&d->lock); }

struct kvm_virtq *kvm_virtio_queue(struct kvm_virtio *d, unsigned q)
{
	return q < d->be->nqueues ? &d->q[q] : NULL;
}

const struct kvm_guest_mem *kvm_virtio_mem(const struct kvm_virtio *d)
{
	return &d->c.mem;
}

const struct kvm_dev_ops *kvm_virtio_ops(const struct kvm_virtio *d)
{
	return &d->ops;
}

/* ---- draining a back-end with its own thread ---- */

static int virtio_save(void *dev, void *buf, size_t len);

int kvm_virtio_quiesce(struct kvm_virtio *d, int on)
{
	return d->be->quiesce ? d->be->quiesce(d->be_ctx, on) : 0;
}

int kvm_virtio_devs_quiesce(struct kvm_devs *ds, int on)
{
	int err;

	for (unsigned i = 0; i < ds->n; i++) {
		if (ds->d[i].ops->save != virtio_save)
			continue;                  /* not a virtio device */
		if ((err = kvm_virtio_quiesce(ds->d[i].priv, on)) && on) {
			while (i--)
				if (ds->d[i].ops->save == virtio_save)
					kvm_virtio_quiesce(ds->d[i].priv, 0);
			return err;
		}
	}
	return 0;
}

/* ---- the state section: fixed-width little-endian fields ---- */

#define HDR_BYTES   40
#define QUEUE_BYTES 32

struct wr { uint8_t *p; };
struct rd { const uint8_t *p; };

static void put(struct wr *w, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		*w->p++ = (uint8_t)(v >> (8 * i));
}

static uint64_t get(struct rd *r, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)*r->p++ << (8 * i);
	return v;
}

static size_t be_size(const struct kvm_virtio *d)
{
	return d->be->state_size ? d->be->state_size(d->be_ctx) : 0;
}

static size_t virtio_state_size(void *dev)
{
	struct kvm_virtio *d = dev;

	return HDR_BYTES + QUEUE_BYTES * d->be->nqueues + 4 + be_size(d);
}

static void save_queue(struct wr *w, const struct kvm_virtq *q)
{
	put(w, q->size, 2);
	put(w, q->ready, 1);
	put(w, 0, 1);
	put(w, q->desc, 8);
	put(w, q->avail, 8);
	put(w, q->used, 8);
	put(w, q->last_avail, 2);
	put(w, q->used_idx, 2);
}

static int virtio_save(void *dev, void *buf, size_t len)
{
	struct kvm_virtio *d = dev;
	struct wr w = { buf };
	size_t bl = be_size(d);
	int err = 0;

	pthread_mutex_lock(&d->lock);
	for (unsigned q = 0; q < d->be->nqueues; q++)
		if (d->q[q].used_idx != d->q[q].last_avail)
			err = -EBUSY;        /* a request in flight: drain first */
	if (!err && len != virtio_state_size(d))
		err = -EINVAL;
	if (!err) {
		put(&w, d->be->device_id, 4);
		put(&w, d->status, 4);
		put(&w, d->isr, 4);
		put(&w, d->dev_sel, 4);
		put(&w, d->drv_sel, 4);
		put(&w, d->queue_sel, 4);
		put(&w, d->acked, 8);
		put(&w, d->generation, 4);
		put(&w, d->be->nqueues, 4);
		for (unsigned q = 0; q < d->be->nqueues; q++)
			save_queue(&w, &d->q[q]);
		put(&w, bl, 4);
		if (bl)
			err = d->be->save(d->be_ctx, w.p, bl);
	}
	pthread_mutex_unlock(&d->lock);
	return err;
}

static int refuse(char *why, size_t wlen, const char *name, const char *what)
{
	snprintf(why, wlen, "%s state: %s", name, what);
	return -EINVAL;
}

/* One queue as this code could have left it, or the reason it could not. */
static const char *load_queue(struct rd *r, struct kvm_virtq *q, const struct kvm_virtio *d,
			      uint32_t status, uint64_t acked)
{
	unsigned pad;

	q->size = (uint16_t)get(r, 2);
	q->ready = (uint8_t)get(r, 1);
	pad = (unsigned)get(r, 1);
	q->desc = get(r, 8);
	q->avail = get(r, 8);
	q->used = get(r, 8);
	q->last_avail = (uint16_t)get(r, 2);
	q->used_idx = (uint16_t)get(r, 2);
	q->indirect = (uint8_t)has(acked, KVM_VIRTIO_F_INDIRECT_DESC);
	q->event_idx = (uint8_t)has(acked, KVM_VIRTIO_F_EVENT_IDX);
	if (pad || q->ready > 1)
		return "a queue's flags are impossible";
	if (q->size > d->be->queue_max || (q->size & (q->size - 1)))
		return "a queue size is not a power of two up to the maximum";
	if (q->used_idx != q->last_avail)
		return "a queue has requests in flight";
	if (!q->ready)
		return q->last_avail ? "a queue that is not ready has indices" : NULL;
	if (!(status & KVM_VIRTIO_S_FEATURES_OK))
		return "a queue is ready before the features were accepted";
	if (kvm_virtq_check(q, &d->c.mem))
		return "a ready queue's rings are not in guest RAM";
	return NULL;
}

static const char *load_transport(struct rd *r, struct kvm_virtio *n, const struct kvm_virtio *d)
{
	const char *bad = NULL;

	if (get(r, 4) != d->be->device_id)
		return "it is another device type";
	n->status = (uint32_t)get(r, 4);
	n->isr = (uint32_t)get(r, 4);
	n->dev_sel = (uint32_t)get(r, 4);
	n->drv_sel = (uint32_t)get(r, 4);
	n->queue_sel = (uint32_t)get(r, 4);
	n->acked = get(r, 8);
	n->generation = (uint32_t)get(r, 4);
	if (get(r, 4) != d->be->nqueues)
		return "the queue count differs";
	if ((n->status & ~STATUS_KNOWN) || (n->isr & ~3u))
		return "status or interrupt bits are unknown";
	if ((n->status & KVM_VIRTIO_S_FEATURES_OK) &&
	    (!has(n->acked, KVM_VIRTIO_F_VERSION_1) || (n->acked & ~offered(d))))
		return "accepted features were never offered";
	for (unsigned q = 0; q < d->be->nqueues && !bad; q++)
		bad = load_queue(r, &n->q[q], d, n->status, n->acked);
	return bad;
}

static int virtio_load(void *dev, uint32_t version, const void *buf, size_t len,
		       char *why, size_t wlen)
{
	struct kvm_virtio *d = dev, n = { 0 };
	size_t fixed = HDR_BYTES + QUEUE_BYTES * d->be->nqueues + 4;
	struct rd r = { buf };
	const char *bad;
	uint32_t bl;
	int err = 0;

	if (version != d->ops.version)
		return refuse(why, wlen, d->be->name, "a version this build does not read");
	if (len < fixed)
		return refuse(why, wlen, d->be->name, "too short");
	if ((bad = load_transport(&r, &n, d)))
		return refuse(why, wlen, d->be->name, bad);
	bl = (uint32_t)get(&r, 4);
	if (len != fixed + bl)
		return refuse(why, wlen, d->be->name, "its length is wrong");
	pthread_mutex_lock(&d->lock);
	if (d->be->load) {
		char bw[160] = "";

		if ((err = d->be->load(d->be_ctx, r.p, bl, bw, sizeof(bw))))
			refuse(why, wlen, d->be->name, bw);
	} else if (bl)
		err = refuse(why, wlen, d->be->name, "the device has no state of its own");
	if (!err) {
		d->status = n.status;
		d->isr = n.isr;
		d->dev_sel = n.dev_sel;
		d->drv_sel = n.drv_sel;
		d->queue_sel = n.queue_sel;
		d->acked = n.acked;
		d->generation = n.generation;
		memcpy(d->q, n.q, sizeof(d->q));
		/* the line follows in virtio_activate, after the vCPUs */
	}
	pthread_mutex_unlock(&d->lock);
	return err;
}

/* Drive the line as the loaded state says, then let the back-end take up
 * what the guest left available. */
static void virtio_activate(void *dev)
{
	struct kvm_virtio *d = dev;

	pthread_mutex_lock(&d->lock);
	line_update(d);
	pthread_mutex_unlock(&d->lock);
	if (d->be->activate)
		d->be->activate(d->be_ctx);
}

static int virtio_save_prepare(void *dev)
{
	struct kvm_virtio *d = dev;

	return d->be->save_prepare ? d->be->save_prepare(d->be_ctx) : 0;
}

static size_t virtio_identity_size(void *dev)
{
	struct kvm_virtio *d = dev;

	return d->be->identity ? d->be->identity_size : 0;
}

static int virtio_identity(void *dev, void *buf, size_t len)
{
	struct kvm_virtio *d = dev;

	return len == virtio_identity_size(d) ? d->be->identity(d->be_ctx, buf, len) : -EINVAL;
}

static int virtio_identity_check(void *dev, const void *buf, size_t len, char *why,
				 size_t wlen)
{
	struct kvm_virtio *d = dev;

	return d->be->identity_check ? d->be->identity_check(d->be_ctx, buf, len, why, wlen)
				     : -EINVAL;
}

static void virtio_destroy(void *dev)
{
	struct kvm_virtio *d = dev;

	if (d->be->destroy)
		d->be->destroy(d->be_ctx);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

/* ---- registration ---- */

static int backend_ok(const struct kvm_virtio_backend *be)
{
	return be->notify && be->nqueues && be->nqueues <= KVM_VIRTIO_MAX_QUEUES &&
	       be->queue_max && be->queue_max <= KVM_VIRTQ_MAX &&
	       !(be->queue_max & (be->queue_max - 1)) &&
	       be->config_size <= KVM_VIRTIO_MMIO_SIZE - R_CONFIG &&
	       (!be->state_size || (be->save && be->load));
}

static struct kvm_virtio *virtio_new(const struct kvm_virtio_mmio_config *c,
				     const struct kvm_virtio_backend *be, void *be_ctx)
{
	struct kvm_virtio *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	pthread_mutex_init(&d->lock, NULL);
	d->be = be;
	d->be_ctx = be_ctx;
	d->c = *c;
	d->ops = (struct kvm_dev_ops){
		.name = be->name,
		.kind = be->kind,
		.version = ((uint32_t)KVM_VIRTIO_STATE_VERSION << 16) | be->version,
		.state_size = virtio_state_size,
		.save = virtio_save,
		.load = virtio_load,
		.activate = virtio_activate,
		.save_prepare = virtio_save_prepare,
		.identity_size = virtio_identity_size,
		.identity = virtio_identity,
		.identity_check = virtio_identity_check,
		.destroy = virtio_destroy,
	};
	return d;
}

int kvm_virtio_mmio_attach(struct kvm_bus *mmio, struct kvm_devs *devs,
			   const struct kvm_virtio_mmio_config *c,
			   const struct kvm_virtio_backend *be, void *be_ctx,
			   struct kvm_virtio **out)
{
	struct kvm_virtio *d;
	int r;

	if (!backend_ok(be) || !c->irq || !c->mem.ram) {
		if (be->destroy)
			be->destroy(be_ctx);
		return -EINVAL;
	}
	if (!(d = virtio_new(c, be, be_ctx))) {
		if (be->destroy)
			be->destroy(be_ctx);
		return -ENOMEM;
	}
	if ((r = kvm_devs_add(devs, &d->ops, d))) {
		virtio_destroy(d);
		return r;
	}
	if ((r = kvm_bus_add(mmio, c->base, KVM_VIRTIO_MMIO_SIZE, kvm_virtio_mmio_io, d))) {
		devs->n--;                 /* it is the last one: take it off again */
		virtio_destroy(d);
		return r;
	}
	if (out)
		*out = d;
	return 0;
}

static void vm_irq(void *ctx, unsigned gsi, int level)
{
	kvm_dev_irq((int)(intptr_t)ctx, gsi, level);
}

void kvm_virtio_vm_config(struct kvm_vm *vm, uint64_t base, unsigned gsi,
			  struct kvm_virtio_mmio_config *c)
{
	*c = (struct kvm_virtio_mmio_config){
		.mem = { vm->ram, vm->ram_size, vm->dev_dirty },
		.base = base,
		.gsi = gsi,
		.irq = vm_irq,
		.irq_ctx = (void *)(intptr_t)vm->vm_fd,
	};
}

int kvm_virtio_mmio_add(struct kvm_vm *vm, uint64_t base, unsigned gsi,
			const struct kvm_virtio_backend *be, void *be_ctx)
{
	struct kvm_virtio_mmio_config c;

	kvm_virtio_vm_config(vm, base, gsi, &c);
	return kvm_virtio_mmio_attach(&vm->mmio, &vm->devs, &c, be, be_ctx, NULL);
}
