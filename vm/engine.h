/* vm/engine.h - inside vm/: what machine.c expects of an engine.
 *
 * machine.c owns the engine-neutral parts: the engine table, config checks,
 * the outer state-blob header, the guest-RAM counters (stats area) and the
 * stall epoch. An engine fills in its regions and implements the rest.
 */
#ifndef VM_ENGINE_H
#define VM_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "vm/machine.h"

struct machine_engine {
	enum machine_engine_kind kind;   /* also a state blob's engine */
	/* Can this host run c (NULL: any config) on this engine? 0, or
	 * negative errno with the reason in why. */
	int (*probe)(const struct machine_config *c, char *why, size_t len);
	/* Fill m->regions / m->nregions and m->priv. incoming: RAM must not
	 * be touched and no boot page written. */
	int (*create)(struct machine *m, int incoming);
	void (*destroy)(struct machine *m);
	int (*start)(struct machine *m);
	int (*pause)(struct machine *m);
	int (*resume)(struct machine *m);
	/* The body of the state blob (after the outer header). */
	size_t (*body_size)(const struct machine *m);
	ssize_t (*save_body)(struct machine *m, void *buf, size_t cap);
	int (*load_body)(struct machine *m, const void *body, size_t len);
	/* heartbeats and pause timings (machine.c adds the guest counters). */
	void (*stats)(struct machine *m, struct machine_stats *s);
	/* Optional. Why the guest stopped on its own, or NULL. */
	const char *(*crashed)(const struct machine *m);
	/* Optional. How the guest ended on purpose, and a descriptor that
	 * polls readable when it ends or crashes. */
	enum machine_end (*ended)(const struct machine *m);
	int (*end_fd)(const struct machine *m);
	/* Optional. The CPU features the guest was given; and whether this
	 * host can give a guest those (0, or -ENOEXEC naming what lacks). */
	void (*features)(const struct machine *m, uint32_t *w);
	int (*features_check)(const uint32_t *w, char *why, size_t len);
	/* Optional. Dirty-page tracking for pre-copy (machine.h). */
	int (*dirty_log)(struct machine *m, int on);
	int (*dirty_fetch)(struct machine *m, uint64_t *bitmap, uint64_t npages);
	/* Optional. The VMM itself wrote guest page `page` (not the guest):
	 * an engine whose dirty log only sees guest writes must report it at
	 * the next fetch. */
	void (*host_wrote)(struct machine *m, uint64_t page);
	/* Optional. A save follows soon: slow work out of the pause. */
	int (*save_prepare)(struct machine *m);
	/* Optional. What the VM's devices stand on (machine_identity). */
	long (*identity)(struct machine *m, void *buf, size_t cap);
	int (*identity_check)(struct machine *m, const void *buf, size_t len);
	/* Optional. What the guest's agent said (machine_guest_report; r is
	 * zeroed first), and a new window for its gaps (machine_stall_reset). */
	void (*guest_report)(struct machine *m, struct machine_guest_report *r);
	void (*stall_reset)(struct machine *m);
};

struct machine {
	const struct machine_engine *eng;
	struct machine_config cfg;
	int incoming;
	unsigned nregions;
	struct machine_region regions[MACHINE_MAX_REGIONS];
	void *priv;
	char why[160];        /* reason of the last failed load; engines may fill it */
};

/* Outer header of every state blob; all fields host (little) endian. */
#define MACHINE_STATE_MAGIC    0x4554415453564d50ull   /* "PMVSTATE" */
#define MACHINE_STATE_VERSION  1

struct machine_state_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t engine;      /* enum machine_engine_kind */
	uint32_t hdr_size;    /* the body starts here */
	uint32_t nvcpus;
	uint64_t total_len;   /* header + body */
};

/* Thread engine body: shape, guest clock, then nvcpus x struct wl_regs. */
struct thread_state_body {
	uint64_t ram_bytes;
	uint32_t regs_size;   /* sizeof(struct wl_regs) */
	uint32_t reserved;
	struct wl_params params;
	/* guest clock record */
	uint64_t guest_ns;    /* guest clock at save */
	uint64_t realtime_ns; /* CLOCK_REALTIME at save */
};

extern const struct machine_engine machine_engine_thread;
extern const struct machine_engine machine_engine_kvm;

/* How vCPU threads of every engine are scheduled: vCPUs are CPU hogs and
 * the VMM's own threads (the one pausing or resuming them, fault
 * handlers, the network) must not wait behind them. SCHED_BATCH (a waking
 * vCPU does not preempt anyone, so a resume wakes all vCPUs at once) at
 * nice machine_vcpu_nice(): PCM_VCPU_NICE (0..19), default 5. The nice
 * value is read once by the controlling thread; vCPU threads apply it to
 * themselves. */
int machine_vcpu_nice(void);
void machine_vcpu_sched(int nice);
/* Start vCPU thread idx running fn(arg), named "vcpu-<idx>", with every
 * signal blocked (an engine that needs one unblocks it in the thread).
 * 0 or negative errno. */
int machine_vcpu_thread(pthread_t *th, void *(*fn)(void *), void *arg, unsigned idx);
/* Record how long a pause took to take hold (the last one and the worst). */
void machine_pause_note(_Atomic uint64_t *last, _Atomic uint64_t *max, uint64_t ns);

/* Host address of guest-physical gpa (len bytes inside one region), or
 * NULL. */
uint8_t *machine_gpa(const struct machine *m, uint64_t gpa, uint64_t len);

#endif
