/* kvm/dev/virtio.h - virtio devices of the KVM engine: guest-memory view,
 * split virtqueues (virtq.c), the virtio-mmio transport (virtio_mmio.c)
 * and the API a device back-end (virtio_rng.c; later -blk, -net) uses.
 *
 * Transport: virtio-mmio version 2 only (virtio 1.2, 4.2.2), a 0x200-byte
 * register block, one level-triggered interrupt line: high while
 * InterruptStatus != 0, lowered when InterruptACK clears it. The transport
 * offers VIRTIO_F_VERSION_1 (and refuses FEATURES_OK without it),
 * VIRTIO_F_INDIRECT_DESC and VIRTIO_F_EVENT_IDX; never packed rings,
 * notification data, queue reset or shared memory regions.
 *
 * Hostile guests: every index, address and length the guest supplies is
 * checked against guest RAM and the queue size; nothing outside guest RAM
 * is read or written. A malformed chain (loop, index past the queue,
 * buffer outside RAM, nested indirect, readable after writable, a buffer
 * the device cannot use) sets DEVICE_NEEDS_RESET with a configuration
 * change interrupt; the device then processes nothing until the driver
 * resets it (Status = 0).
 *
 * Threads: every access of a device's registers, and a back-end's notify,
 * runs under the device's mutex, on the vCPU thread that made the access.
 * A cheap back-end (rng) does its work there. One with slow work (blk)
 * makes notify only wake its own I/O thread and return 0; that thread
 * takes kvm_virtio_lock() around kvm_virtio_queue()/kvm_virtq_pop()/
 * kvm_virtq_push()/kvm_virtio_used() and does the I/O itself unlocked, on
 * host pointers from kvm_virtq_pop (they stay valid: guest RAM is mapped
 * for the VM's life). Its reset() runs with the lock held and must forget
 * in-flight requests without waiting for its thread.
 *
 * Migration: a device's state section (its kind from the back-end) is
 * saved while the vCPUs are paused and holds the transport's registers,
 * every queue's addresses and indices, and the back-end's own bytes. It
 * describes no request in flight: rng has none at a pause, because it
 * completes each request inside the QueueNotify access; a back-end with
 * its own thread must have drained (completed and pushed) its requests
 * before save (kvm_virtio_quiesce, by its quiesce callback): the
 * section's save refuses with -EBUSY while any queue has
 * a request taken (last_avail) but not returned (used_idx). A request the
 * guest made available but the device had not taken is simply still in
 * the avail ring after load (last_avail is saved); the next notify takes
 * it.
 */
#ifndef KVM_DEV_VIRTIO_H
#define KVM_DEV_VIRTIO_H

#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/uio.h>

#include "kvm/bus.h"
#include "kvm/dev/dev.h"

struct kvm_vm;

/* ---- guest memory (virtq.c) ---- */

/* Guest RAM as the VMM maps it: RAM offset x at ram + x; guest-physical
 * addresses below PC_LOW_END are RAM offsets, the rest of RAM continues
 * at PC_HIGH_START (guest/pc/pc.h). vm/engine.h's machine_gpa does the
 * same for a struct machine, which devices do not have. */
struct kvm_guest_mem {
	uint8_t *ram;
	uint64_t size;
	/* One bit per RAM page, RAM order, set for every page a device
	 * writes: KVM's dirty log sees only the vCPUs' writes, and pre-copy
	 * must resend what a device put into guest RAM. NULL: not tracked. */
	_Atomic uint64_t *dirty;
};

/* A device wrote [host, host + len) of guest RAM (host from kvm_gpa). */
void kvm_gpa_wrote(const struct kvm_guest_mem *m, const void *host, uint64_t len);

/* Host address of [gpa, gpa + len) when all of it is RAM, else NULL: a
 * range past RAM's end, crossing the hole at 3..4 GiB or wrapping is
 * refused. len 0 asks only that gpa be in (or at the end of) a region. */
void *kvm_gpa(const struct kvm_guest_mem *m, uint64_t gpa, uint64_t len);

/* ---- split virtqueues (virtq.c; virtio 1.2, 2.7) ---- */

#define KVM_VIRTQ_MAX      32768   /* largest queue size the spec allows */
#define KVM_VIRTQ_MAX_SEGS 256     /* buffers in one chain; more is malformed */

#define KVM_VIRTQ_DESC_F_NEXT       1
#define KVM_VIRTQ_DESC_F_WRITE      2
#define KVM_VIRTQ_DESC_F_INDIRECT   4
#define KVM_VIRTQ_AVAIL_F_NO_INTERRUPT 1

/* One queue as the driver configured it. Ring memory stays the guest's:
 * each pop or push looks the rings up again through kvm_gpa. */
struct kvm_virtq {
	uint16_t size;          /* QueueNum: 0 (unset) or a power of two */
	uint8_t ready;          /* QueueReady */
	uint8_t indirect;       /* VIRTIO_F_INDIRECT_DESC negotiated */
	uint8_t event_idx;      /* VIRTIO_F_EVENT_IDX negotiated */
	uint64_t desc, avail, used;   /* guest-physical: table, driver, device areas */
	uint16_t last_avail;    /* next avail ring entry the device takes */
	uint16_t used_idx;      /* used->idx as the device last published it */
};

/* One request: iov[0, nread) are device-readable buffers, then nwrite
 * device-writable ones (host pointers into guest RAM). */
struct kvm_virtq_req {
	uint16_t head;          /* descriptor index, for kvm_virtq_push */
	unsigned nread, nwrite;
	uint64_t read_len, write_len;   /* bytes in each part */
	struct iovec iov[KVM_VIRTQ_MAX_SEGS];
};

/* 0 when q may be made ready: a size that is a power of two, its three
 * areas aligned (16, 2, 4), in guest RAM and apart; -EINVAL otherwise. */
int kvm_virtq_check(const struct kvm_virtq *q, const struct kvm_guest_mem *m);
/* Take the next available request: 1 and *r filled, 0 when none is
 * available, negative errno when the ring or chain is malformed (-ELOOP
 * loop, -EFAULT outside RAM, -E2BIG too many buffers, -EINVAL other);
 * then q is unchanged and the device must be marked DEVICE_NEEDS_RESET. */
int kvm_virtq_pop(struct kvm_virtq *q, const struct kvm_guest_mem *m, struct kvm_virtq_req *r);
/* Return request head to the driver with len bytes written; publishes
 * the used index. 0 or -EFAULT. */
int kvm_virtq_push(struct kvm_virtq *q, const struct kvm_guest_mem *m, uint16_t head, uint32_t len);
/* Does the driver want an interrupt for what was pushed since used index
 * old (VIRTIO_F_EVENT_IDX's used_event, else VIRTQ_AVAIL_F_NO_INTERRUPT)? */
int kvm_virtq_need_irq(const struct kvm_virtq *q, const struct kvm_guest_mem *m, uint16_t old);

/* ---- the virtio-mmio transport (virtio_mmio.c) ---- */

#define KVM_VIRTIO_MMIO_SIZE   0x200
#define KVM_VIRTIO_VENDOR_ID   0x564d4350   /* "PCMV" as the register reads */
#define KVM_VIRTIO_MAX_QUEUES  8

/* Device status bits (virtio 1.2, 2.1) and InterruptStatus bits. */
#define KVM_VIRTIO_S_ACKNOWLEDGE  0x01
#define KVM_VIRTIO_S_DRIVER       0x02
#define KVM_VIRTIO_S_DRIVER_OK    0x04
#define KVM_VIRTIO_S_FEATURES_OK  0x08
#define KVM_VIRTIO_S_NEEDS_RESET  0x40
#define KVM_VIRTIO_S_FAILED       0x80
#define KVM_VIRTIO_INT_VRING      0x1
#define KVM_VIRTIO_INT_CONFIG     0x2

#define KVM_VIRTIO_F_INDIRECT_DESC 28
#define KVM_VIRTIO_F_EVENT_IDX     29
#define KVM_VIRTIO_F_VERSION_1     32

/* The section's version: the transport's layout in the high 16 bits, the
 * back-end's in the low 16. Either changing changes the section's. */
#define KVM_VIRTIO_STATE_VERSION   1

struct kvm_virtio;

/* What a device type supplies. Callbacks get be_ctx and run with the
 * device's lock held; optional ones may be NULL. */
struct kvm_virtio_backend {
	const char *name;         /* in messages: "entropy source" */
	uint32_t kind;            /* enum kvm_dev_kind of its state section */
	uint16_t version;         /* of the back-end's own bytes in the section */
	uint32_t device_id;       /* virtio device ID: 4 entropy, 2 block, 1 net */
	uint64_t features;        /* device-type bits offered (0..23, 50..) */
	unsigned nqueues;         /* 1..KVM_VIRTIO_MAX_QUEUES */
	uint16_t queue_max;       /* QueueNumMax: a power of two <= KVM_VIRTQ_MAX */
	uint32_t config_size;     /* bytes of device configuration at 0x100 */
	/* Configuration space; reads past config_size (or without config_read)
	 * give 0, writes there go nowhere. */
	void (*config_read)(void *ctx, uint32_t off, uint8_t *data, unsigned len);
	void (*config_write)(void *ctx, uint32_t off, const uint8_t *data, unsigned len);
	/* The driver notified queue q (ready, DRIVER_OK, no NEEDS_RESET).
	 * Negative errno: the queue is malformed, the device needs reset. */
	int (*notify)(void *ctx, struct kvm_virtio *d, unsigned q);
	void (*reset)(void *ctx);                 /* the driver wrote Status 0 */
	size_t (*state_size)(void *ctx);          /* NULL: no bytes of its own */
	int (*save)(void *ctx, uint8_t *buf, size_t len);
	/* Refuse (-EINVAL, reason in why, back-end unchanged) or take. */
	int (*load)(void *ctx, const uint8_t *buf, size_t len, char *why, size_t wlen);
	void (*destroy)(void *ctx);
	/* Optional, for a back-end with its own thread; unlike the others it
	 * runs WITHOUT the device's lock (kvm_virtio_quiesce). on: wait until
	 * no request is in flight and take none until called with on 0;
	 * then serve what is pending. 0 or negative errno. */
	int (*quiesce)(void *ctx, int on);
	/* Optional, without the lock: the state was loaded and the vCPUs'
	 * too (kvm_dev_ops.activate): take up requests made available
	 * before the pause. */
	void (*activate)(void *ctx);
	/* Optional, without the lock, while the guest runs: a save will
	 * follow (kvm_dev_ops.save_prepare). 0 or negative errno. */
	int (*save_prepare)(void *ctx);
	/* Optional: what names the back-end's backing (a disk image),
	 * identity_size bytes, taken while the guest runs as a migration
	 * begins (HELLO carries it), and the destination's check of it
	 * before READY: -EINVAL with the reason in why. */
	uint32_t identity_size;
	int (*identity)(void *ctx, uint8_t *buf, size_t len);
	int (*identity_check)(void *ctx, const uint8_t *buf, size_t len, char *why, size_t wlen);
};

/* Where the device sits and how it signals. */
struct kvm_virtio_mmio_config {
	struct kvm_guest_mem mem;
	uint64_t base;            /* of the 0x200-byte register block */
	unsigned gsi;
	void (*irq)(void *irq_ctx, unsigned gsi, int level);
	void *irq_ctx;
};

/* Register a device: base..base+0x200 on mmio, and the device on devs
 * (kind be->kind, instance = count of earlier ones of that kind). From a
 * successful registration on, devs owns it (kvm_devs_destroy frees it and
 * calls be->destroy); on failure nothing stays registered on devs, and
 * be->destroy(be_ctx) has been called. -EINVAL for a back-end or config
 * out of the limits above, -ENOMEM, or kvm_bus_add/kvm_devs_add's error.
 * *out (if not NULL) receives the device. */
int kvm_virtio_mmio_attach(struct kvm_bus *mmio, struct kvm_devs *devs,
			   const struct kvm_virtio_mmio_config *c,
			   const struct kvm_virtio_backend *be, void *be_ctx,
			   struct kvm_virtio **out);
/* Where a device of the VM sits and how it signals: its RAM (set up
 * before), base, gsi, and KVM_IRQ_LINE on the VM's in-kernel irqchip. */
void kvm_virtio_vm_config(struct kvm_vm *vm, uint64_t base, unsigned gsi,
			  struct kvm_virtio_mmio_config *c);
/* The same on a VM: kvm_virtio_vm_config's, on vm->mmio and vm->devs. */
int kvm_virtio_mmio_add(struct kvm_vm *vm, uint64_t base, unsigned gsi,
			const struct kvm_virtio_backend *be, void *be_ctx);

/* The register block's bus handler (what kvm_bus_access reaches). */
void kvm_virtio_mmio_io(void *dev, struct kvm_vcpu *v, uint64_t off, uint8_t *data,
			unsigned len, int is_write);

/* For a back-end, with the lock held (inside a callback, or between
 * kvm_virtio_lock and kvm_virtio_unlock on its own thread). */
void kvm_virtio_lock(struct kvm_virtio *d);
void kvm_virtio_unlock(struct kvm_virtio *d);
/* Queue q (NULL past nqueues) and the guest memory view. */
struct kvm_virtq *kvm_virtio_queue(struct kvm_virtio *d, unsigned q);
const struct kvm_guest_mem *kvm_virtio_mem(const struct kvm_virtio *d);
/* Buffers were pushed on queue q since used index old: interrupt the
 * driver if it wants one. */
void kvm_virtio_used(struct kvm_virtio *d, unsigned q, uint16_t old);
/* Set DEVICE_NEEDS_RESET and, once DRIVER_OK is set (2.1.2), send a
 * configuration change interrupt. */
void kvm_virtio_needs_reset(struct kvm_virtio *d);
/* The state section's operations (what kvm_devs holds for d). */
const struct kvm_dev_ops *kvm_virtio_ops(const struct kvm_virtio *d);
/* Drain before a save (on 1: returns once no request is in flight; the
 * device takes no new one) and resume after (on 0), by the back-end's
 * quiesce (0 without one). Call without the lock, vCPUs paused. The
 * devs form does it for every virtio device on ds (others are skipped);
 * on a failure of on 1 the ones already quiesced are resumed. */
int kvm_virtio_quiesce(struct kvm_virtio *d, int on);
int kvm_virtio_devs_quiesce(struct kvm_devs *ds, int on);

/* ---- devices ---- */

/* virtio-rng (virtio 1.2, 5.4): device ID 4, one request queue, no
 * configuration; each writable buffer gets getrandom(2) bytes, at most
 * KVM_VIRTIO_RNG_MAX per request (the spec lets the device fill less). A
 * request with a device-readable buffer is malformed. */
#define KVM_VIRTIO_RNG_QUEUE_MAX 256
#define KVM_VIRTIO_RNG_MAX       4096
extern const struct kvm_virtio_backend kvm_virtio_rng;
int kvm_virtio_rng_add(struct kvm_vm *vm, uint64_t base, unsigned gsi);

/* ==== virtio-blk (virtio_blk.c; virtio 1.2, 5.2) ====
 * Device ID 2, one request queue, a raw image file (regular, a multiple
 * of 512 bytes) read and written with preadv/pwritev (buffered, no
 * O_DIRECT; VIRTIO_BLK_T_FLUSH is fdatasync). Offers SEG_MAX, BLK_SIZE
 * (512), FLUSH and, read-only, RO. Requests: IN, OUT, FLUSH, GET_ID;
 * other types get UNSUPP; one past the disk's end, with a length not a
 * multiple of 512, or a write to a read-only disk gets IOERR. Framing is
 * free (2.6.4): the header is the first 16 readable bytes, the status the
 * last writable byte; a chain with fewer is malformed (DEVICE_NEEDS_RESET).
 * Requests are served one at a time by the device's own I/O thread
 * (notify only wakes it). Reset drops a request in flight: its status
 * and used entry are never written (IN data may still land in the
 * driver's buffers). quiesce drains it for a save. State: the disk's
 * identity (size, read-only, serial, XXH3-64 over its first and last MiB
 * as at save, and whether that print was kept from before the save: no
 * write touched those MiB since it was taken at opening or at
 * save_prepare); load refuses another disk, and kicks the queue so that
 * requests made available before the pause are served. A kept print
 * saves reading the two MiB inside the pause, on either end. */
#define KVM_VIRTIO_BLK_ID_BYTES   20
#define KVM_VIRTIO_BLK_QUEUE_MAX  256
#define KVM_VIRTIO_BLK_SEG_MAX    (KVM_VIRTQ_MAX_SEGS - 2)  /* plus header, status */
#define KVM_VIRTIO_BLK_CONFIG_SIZE 24       /* capacity .. blk_size */
#define KVM_VIRTIO_BLK_STATE_SIZE  38       /* the back-end's own bytes */

#define KVM_VIRTIO_BLK_F_SEG_MAX  2
#define KVM_VIRTIO_BLK_F_RO       5
#define KVM_VIRTIO_BLK_F_BLK_SIZE 6
#define KVM_VIRTIO_BLK_F_FLUSH    9

#define KVM_VIRTIO_BLK_T_IN     0
#define KVM_VIRTIO_BLK_T_OUT    1
#define KVM_VIRTIO_BLK_T_FLUSH  4
#define KVM_VIRTIO_BLK_T_GET_ID 8
#define KVM_VIRTIO_BLK_S_OK     0
#define KVM_VIRTIO_BLK_S_IOERR  1
#define KVM_VIRTIO_BLK_S_UNSUPP 2

struct kvm_virtio_blk_config {
	const char *path;         /* the raw image */
	int read_only;            /* open O_RDONLY, offer VIRTIO_BLK_F_RO */
	const char *serial;       /* GET_ID's answer, up to 20 bytes; NULL: "" */
};

/* Open the image and register the device as kvm_virtio_mmio_attach does
 * (mc gives RAM, base, gsi, irq). Negative errno with the reason in why:
 * -ENOENT/-EACCES/... from open, -EISDIR, -EINVAL (not a regular file,
 * size not a multiple of 512 or 0, serial too long), -EACCES for a
 * writable open of an image without write permission bits (root too). */
int kvm_virtio_blk_attach(struct kvm_bus *mmio, struct kvm_devs *devs,
			  const struct kvm_virtio_mmio_config *mc,
			  const struct kvm_virtio_blk_config *c, char *why, size_t wlen,
			  struct kvm_virtio **out);
/* The same on a VM (its RAM, vm->mmio, vm->devs, KVM_IRQ_LINE); the
 * reason goes to vm->why. */
int kvm_virtio_blk_add(struct kvm_vm *vm, uint64_t base, unsigned gsi,
		       const struct kvm_virtio_blk_config *c);


/* ==== virtio-net (virtio_net.c; virtio 1.2, 5.1) ====
 * Device ID 1 on a tap (kvm/dev/tap.h): queue 0 receives, queue 1
 * transmits; no control queue, one queue pair. Offers MAC and STATUS only
 * (no offloads, no mergeable buffers): the configuration space is the MAC
 * and a status that always says link up. Every buffer starts with the
 * 12-byte struct virtio_net_hdr_v1 (VERSION_1 is required); frames go to
 * the tap with an all-zero header whatever the driver wrote there (it may
 * ask for nothing), and come to the driver with one that asks nothing
 * (num_buffers 1). A transmit chain with a device-writable buffer or
 * fewer readable bytes than the header, and a receive chain with a
 * device-readable buffer or fewer writable bytes than the header, are
 * malformed like a bad ring: DEVICE_NEEDS_RESET, and the device takes
 * nothing from either queue until reset. A frame larger than the receive
 * buffer at the head of the ring is dropped, the buffer left for the
 * next; frames arriving while the driver is not running are dropped.
 * Both queues are served by the device's own thread, polling the tap and
 * an eventfd that notify writes; the frame and buffer copies run outside
 * the device lock. quiesce waits for the frame in hand. State: the MAC,
 * the link status and the features offered; a load adopts the source's
 * MAC unless this end was given one (mac=) and it differs. */
#define KVM_VIRTIO_NET_QUEUE_MAX   256
#define KVM_VIRTIO_NET_HDR_LEN     12       /* struct virtio_net_hdr_v1 */
#define KVM_VIRTIO_NET_FRAME_MAX   65536    /* bytes after the header */
#define KVM_VIRTIO_NET_CONFIG_SIZE 8        /* mac, status */
#define KVM_VIRTIO_NET_STATE_SIZE  17       /* the back-end's own bytes */
#define KVM_VIRTIO_NET_RXQ         0
#define KVM_VIRTIO_NET_TXQ         1

#define KVM_VIRTIO_NET_F_MAC       5
#define KVM_VIRTIO_NET_F_STATUS    16
#define KVM_VIRTIO_NET_S_LINK_UP   1

struct kvm_virtio_net_config {
	const char *tap;          /* interface name: opened, or created */
	uint8_t mac[6];
	int mac_set;              /* 0: a random locally administered MAC */
};

/* Open the tap and register the device as kvm_virtio_mmio_attach does.
 * Negative errno with the reason, naming the tap, in why (tap.h's
 * errors, -EINVAL for a multicast or all-zero MAC). */
int kvm_virtio_net_attach(struct kvm_bus *mmio, struct kvm_devs *devs,
			  const struct kvm_virtio_mmio_config *mc,
			  const struct kvm_virtio_net_config *c, char *why, size_t wlen,
			  struct kvm_virtio **out);
/* The same on a VM; the reason goes to vm->why. */
int kvm_virtio_net_add(struct kvm_vm *vm, uint64_t base, unsigned gsi,
		       const struct kvm_virtio_net_config *c);

#endif
