/* guest/layout.h - what lives where in guest RAM.
 *
 * Page 0 is the boot page the VMM writes before the first instruction: the
 * workload and its parameters. Then one stats record per vCPU, written only
 * by the guest: its operation count, the time of its last operation and the
 * longest gap between two consecutive operations (the guest-visible stall),
 * and for kv a per-operation latency histogram; after them kv's latency
 * timeline (below). Because all of it is guest RAM, the numbers survive a
 * migration like any other page. Everything from GUEST_DATA_OFF on is the
 * workload's data area. Between the stats and the data, [GUEST_FW_OFF,
 * GUEST_DATA_OFF) belongs to the engine: the KVM engine puts its payload
 * there (page tables, code, stacks); the thread engine leaves it untouched.
 */
#ifndef GUEST_LAYOUT_H
#define GUEST_LAYOUT_H

#include <stdint.h>

#define GUEST_BOOT_MAGIC   0x31544f4f42564d50ull   /* "PMVBOOT1" */
#define GUEST_ABI_VERSION  2
#define GUEST_MAX_VCPUS    64
#define GUEST_STATS_OFF    4096ul
#define GUEST_FW_OFF       (64ul << 10)            /* 64 KiB */
#define GUEST_DATA_OFF     (2ul << 20)             /* 2 MiB */
#define GUEST_LAT_BUCKETS  64                      /* log2(ns) buckets */

enum wl_id {
	WL_IDLE = 1,
	WL_SWEEP = 2,
	WL_KV = 3,
	WL_MAX = WL_KV,
};

struct wl_params {
	uint32_t workload;        /* enum wl_id */
	uint32_t write_permille;  /* sweep: share of touched pages written */
	uint64_t working_set;     /* sweep/kv: bytes of data area used (0: all) */
	uint64_t rate_bps;        /* sweep: dirty-rate limit in bytes/s (0: none) */
	uint64_t kv_keys;         /* kv: keys per vCPU (0: fill working set) */
	uint32_t kv_value_size;   /* kv: value bytes (default 128) */
	uint32_t kv_put_permille; /* kv: share of operations that are puts */
	uint64_t seed;
};

struct guest_boot {
	uint64_t magic;
	uint32_t abi_version;
	uint32_t nvcpus;
	uint64_t ram_size;
	struct wl_params params;
	/* The VMM bumps this to start a new max-gap window (e.g. when a
	 * migration starts); each vCPU resets its max_gap_ns on seeing it. */
	volatile uint64_t stall_epoch;
};

struct guest_vcpu_stats {
	volatile uint64_t ops;
	volatile uint64_t last_op_ns;
	volatile uint64_t max_gap_ns;
	volatile uint64_t epoch;
	volatile uint64_t ready;        /* set once the workload's set-up is done */
	volatile uint64_t check_fail;   /* self-check failures seen in service */
	/* RAM offset + 1 of the object (kv slot, sweep page) this vCPU is
	 * changing, 0 when none: a KVM guest can be paused mid-operation,
	 * and the self-check must not call a half-written object corrupt. */
	volatile uint64_t inflight;
	uint64_t pad;
	volatile uint64_t lat_hist[GUEST_LAT_BUCKETS];
};

/* The kv latency timeline, right after the last vCPU's stats: a ring with
 * one slot per interval of 2^GUEST_LATRING_SHIFT ns of guest time (8.4 ms,
 * a shift rather than a division on every operation), shared by all
 * vCPUs. A slot keeps two maxima of the operations that ended in its
 * interval: op (clock before/after the operation, as lat_hist) and resp
 * (the previous operation's end to this one's: what a client issuing
 * one request after another waits, including any pause between two
 * operations). Each word packs the interval number's low 28 bits above
 * the nanoseconds (36 bits, saturating at 68 s), so one compare-and-swap
 * updates it and a reader can tell a stale slot from a current one. The
 * ring covers 8.6 s; a reader that wants more polls. */
#define GUEST_LATRING_OFF   (GUEST_STATS_OFF + GUEST_MAX_VCPUS * sizeof(struct guest_vcpu_stats))
#define GUEST_LATRING_SLOTS 1024u
#define GUEST_LATRING_SHIFT 23
#define GUEST_LATRING_VBITS 36
#define GUEST_LATRING_VMAX  ((1ull << GUEST_LATRING_VBITS) - 1)
#define GUEST_LATRING_TMASK ((1ull << (64 - GUEST_LATRING_VBITS)) - 1)

struct guest_lat_slot {
	volatile uint64_t op;
	volatile uint64_t resp;
};

_Static_assert(GUEST_LATRING_OFF + GUEST_LATRING_SLOTS * sizeof(struct guest_lat_slot)
	       <= GUEST_FW_OFF, "stats and latency ring overlap the engine's area");

static inline struct guest_boot *guest_boot_of(uint8_t *ram)
{
	return (struct guest_boot *)ram;
}

static inline struct guest_vcpu_stats *guest_stats_of(uint8_t *ram, unsigned vcpu)
{
	return (struct guest_vcpu_stats *)(ram + GUEST_STATS_OFF) + vcpu;
}

/* The timeline slot of guest time ns. */
static inline struct guest_lat_slot *guest_latring_of(uint8_t *ram, uint64_t ns)
{
	return (struct guest_lat_slot *)(ram + GUEST_LATRING_OFF) +
	       (ns >> GUEST_LATRING_SHIFT) % GUEST_LATRING_SLOTS;
}

#endif
