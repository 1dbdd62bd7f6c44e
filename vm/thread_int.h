/* vm/thread_int.h - inside the thread engine: what thread.c and
 * thread_dirty.c share.
 *
 * thread_dirty.c tracks the pages written in one mapping with userfaultfd
 * write-protect, for pre-copy (machine_dirty_*). It knows nothing of vCPUs:
 * thread.c hands it the guest RAM mapping and serializes its calls.
 */
#ifndef VM_THREAD_INT_H
#define VM_THREAD_INT_H

#include <stdint.h>
#include "vm/machine.h"

struct thread_dirty;

/* Force the synchronous way even where the asynchronous one works. */
#define THREAD_DIRTY_SYNC 1u

/* Start tracking writes to [ram, ram+size) (page-aligned, shared memfd
 * or anonymous memory, not registered with another userfaultfd: -EBUSY
 * then). The asynchronous way (UFFD_FEATURE_WP_ASYNC + PAGEMAP_SCAN) where
 * the kernel has it and flags lack THREAD_DIRTY_SYNC, else the synchronous
 * one (write-protect faults resolved by a handler thread). */
int thread_dirty_start(struct thread_dirty **out, uint8_t *ram, uint64_t size,
		       unsigned flags);
/* OR the pages written since the last fetch (or the start) into bitmap
 * (bit i = page i of the range; npages must be size / 4096, else -EINVAL)
 * and clear the log. A write racing a fetch is reported by it or by the
 * next one. A failure leaves the log broken: stop, and start again. */
int thread_dirty_fetch(struct thread_dirty *td, uint64_t *bitmap, uint64_t npages);
/* End tracking: the range is writable again and no longer registered.
 * td may be NULL. */
void thread_dirty_stop(struct thread_dirty *td);
/* "async" or "sync". */
const char *thread_dirty_kind(const struct thread_dirty *td);

/* Which way machine m (thread engine) tracks now: "async", "sync", or
 * NULL when it is not tracking (or is not a thread-engine machine).
 * machine_dirty_start reads PCM_DIRTY_SYNC=1 from the environment to force
 * "sync" (tests, benchmarks). */
const char *thread_dirty_mode(const struct machine *m);

#endif
