/* vm/machine.h - what an engine offers the migration.
 *
 * A machine is a VM: guest RAM in one or more regions (each a memfd mapped
 * shared into this process, so userfaultfd can register it and a second
 * mapping of the same memfd can reach its page cache), vCPUs that can be
 * started, paused at a clean point, saved to a blob, loaded and resumed.
 * The interface is engine-neutral: the thread engine implements it here,
 * the KVM engine implements the same operations on /dev/kvm.
 *
 * Functions return 0 or negative errno; machine_strerror-style words are
 * the caller's job.
 */
#ifndef VM_MACHINE_H
#define VM_MACHINE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "guest/layout.h"

#define MACHINE_MAX_REGIONS 4
#define MACHINE_ENGINE_LEN  16

struct machine;

struct machine_config {
	char engine[MACHINE_ENGINE_LEN];   /* "thread" */
	uint64_t ram_bytes;                /* multiple of 2 MiB */
	unsigned vcpus;
	struct wl_params params;
};

struct machine_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;       /* where the vCPUs see it */
	int memfd;
	uint64_t memfd_off;
};

struct machine_stats {
	uint64_t heartbeats;     /* host-side count of heartbeat calls */
	uint64_t ops;            /* sum of the workload's operation counters */
	uint64_t max_gap_ns;     /* longest guest-visible gap in this window */
	uint64_t pause_ns_last;  /* how long the last pause took to take hold */
	uint64_t pause_ns_max;
};

/* A new VM, booted (boot page written) but not started. */
int machine_create(const struct machine_config *c, struct machine **out);
/* An empty VM for an incoming migration: RAM allocated, never touched,
 * vCPUs not started. machine_load then machine_start bring it to life. */
int machine_create_incoming(const struct machine_config *c, struct machine **out);
void machine_destroy(struct machine *m);

const struct machine_config *machine_config_of(const struct machine *m);
unsigned machine_regions(const struct machine *m, const struct machine_region **r);

int machine_start(struct machine *m);
/* Stop every vCPU at a clean point; returns once all have stopped. */
int machine_pause(struct machine *m);
int machine_resume(struct machine *m);

/* Size a state blob needs; save into buf (-ENOSPC if cap too small). */
size_t machine_state_size(const struct machine *m);
ssize_t machine_save(struct machine *m, void *buf, size_t cap);
/* Load a blob saved by machine_save of the same engine; -EINVAL (bad
 * magic/version/length) or -ENOEXEC (another engine or shape) otherwise. */
int machine_load(struct machine *m, const void *blob, size_t len);

/* Counters; reads guest RAM (the stats area), so on a machine whose pages
 * are still arriving it may fault like a vCPU. */
void machine_stats(struct machine *m, struct machine_stats *s);
/* Start a new stall window: the guest resets its longest-gap record. */
void machine_stall_reset(struct machine *m);

#endif
