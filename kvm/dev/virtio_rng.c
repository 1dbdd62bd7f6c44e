/* kvm/dev/virtio_rng.c - the virtio entropy device (virtio 1.2, 5.4) as a
 * virtio-mmio back-end: device ID 4, one request queue, no configuration,
 * no state of its own. Each request is completed inside the QueueNotify
 * access that announced it, so none is ever in flight at a pause.
 */
#include <errno.h>
#include <sys/random.h>

#include "kvm/dev/virtio.h"

/* Fill up to len bytes at p; bytes written, or negative errno. */
static ssize_t fill(void *p, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = getrandom((uint8_t *)p + done, len - done, 0);

		if (n < 0 && errno != EINTR)
			return -errno;
		if (n > 0)
			done += (size_t)n;
	}
	return (ssize_t)done;
}

/* One request: its writable buffers in order, KVM_VIRTIO_RNG_MAX bytes at
 * most. A readable buffer means the driver is not an rng driver. */
static int serve(const struct kvm_guest_mem *m, const struct kvm_virtq_req *r, uint32_t *used)
{
	size_t left = KVM_VIRTIO_RNG_MAX;

	*used = 0;
	if (r->nread)
		return -EINVAL;
	for (unsigned i = 0; i < r->nwrite && left; i++) {
		size_t n = r->iov[i].iov_len < left ? r->iov[i].iov_len : left;
		ssize_t got = fill(r->iov[i].iov_base, n);

		if (got < 0)
			return (int)got;
		kvm_gpa_wrote(m, r->iov[i].iov_base, (uint64_t)got);
		*used += (uint32_t)got;
		left -= (size_t)got;
	}
	return 0;
}

static int rng_notify(void *ctx, struct kvm_virtio *d, unsigned qi)
{
	struct kvm_virtq *q = kvm_virtio_queue(d, qi);
	const struct kvm_guest_mem *m = kvm_virtio_mem(d);
	struct kvm_virtq_req r;
	uint16_t old = q->used_idx;
	uint32_t used;
	int err;

	(void)ctx;
	while ((err = kvm_virtq_pop(q, m, &r)) > 0) {
		if ((err = serve(m, &r, &used)) ||
		    (err = kvm_virtq_push(q, m, r.head, used)))
			break;
	}
	kvm_virtio_used(d, qi, old);
	return err;
}

const struct kvm_virtio_backend kvm_virtio_rng = {
	.name = "entropy source",
	.kind = KVM_DEV_VIRTIO_RNG,
	.version = 1,
	.device_id = 4,
	.nqueues = 1,
	.queue_max = KVM_VIRTIO_RNG_QUEUE_MAX,
	.notify = rng_notify,
};

int kvm_virtio_rng_add(struct kvm_vm *vm, uint64_t base, unsigned gsi)
{
	return kvm_virtio_mmio_add(vm, base, gsi, &kvm_virtio_rng, NULL);
}
