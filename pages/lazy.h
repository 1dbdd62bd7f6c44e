/* pages/lazy.h - guest RAM filled lazily through userfaultfd.
 *
 * pages_lazy_start registers the RAM regions (missing mode) with a new
 * userfaultfd and starts two threads: the fault thread reads each fault,
 * gets its page from the source and installs it (UFFDIO_COPY, or
 * UFFDIO_ZEROPAGE for a zero page) and wakes the waiter; the filler walks
 * every page not yet in, reads runs of data pages from the source and
 * installs them, leaving zero pages as holes of the memfd (they read as
 * zero once userfaultfd lets go). The "in" bitmap says which pages are
 * installed; an install that loses a race to the other thread sees
 * EEXIST, so each page is counted once.
 *
 * Once every data page is in, the filler unregisters the RAM (which lets
 * any waiter on a zero page go on a hole; the fault thread now only wakes
 * late faults) and calls the end hook with 0. At the first failure (a page
 * whose checksum fails, a source cut short) both threads stop, nothing
 * more is installed, and the end hook gets the error and the page: a
 * vCPU waiting for a page keeps waiting, so the guest never runs on a
 * wrong page, and the registration is left in place until the process
 * ends (pages_lazy_destroy does not let the waiters go).
 *
 * Engine-neutral: the regions are vm/machine.h's, whichever engine owns
 * them (KVM's own accesses to guest RAM fault through the same uffd).
 * Functions return 0 or negative errno.
 */
#ifndef PAGES_LAZY_H
#define PAGES_LAZY_H

#include <stdbool.h>
#include <stdint.h>

#include "guest/workload.h"
#include "pages/source.h"
#include "vm/machine.h"

struct pages_lazy;

struct pages_hooks {
	/* Called once from a thread of the fill: err 0 when every page is
	 * in and the RAM let go, or the failure, with bad_pfn its page
	 * (UINT64_MAX when it is not a page's). May be NULL. */
	void (*end)(void *arg, int err, uint64_t bad_pfn);
	void *arg;
};

/* Pages the filler brings in before any other, in this order: the
 * working set a previous fill saw touched first (pages_lazy_touched).
 * Copied; a pfn past the end or already in is skipped. */
struct pages_first {
	const uint64_t *pfn;
	uint64_t n;
};

struct pages_stats {
	uint64_t npages;
	uint64_t faults;         /* fault events read */
	uint64_t faulted;        /* data pages a fault brought in */
	uint64_t faulted_zero;   /* zero pages mapped for a fault */
	uint64_t filled;         /* data pages the filler brought in */
	uint64_t prefetched;     /* of them, in its first pass (pages_first) */
	uint64_t in;             /* pages installed so far, any way */
	uint64_t fault_ns_max;   /* longest fault, event read to page mapped */
	uint64_t fault_ns_sum;
	uint64_t started_ns;     /* pcm_now_ns at pages_lazy_start */
	uint64_t resident_ns;    /* pcm_now_ns when every page was in; 0 before */
	int err;                 /* the failure, 0 while none */
	uint64_t bad_pfn;
};

/* Register rg[0..n) and start filling them from src (copied; src->arg
 * must outlive the fill), first's pages first (may be NULL). The regions
 * must be new (never touched). */
int pages_lazy_start(const struct machine_region *rg, unsigned n, const struct pages_source *src,
		     const struct pages_hooks *hooks, const struct pages_first *first,
		     struct pages_lazy **out);
void pages_lazy_stats(const struct pages_lazy *lz, struct pages_stats *st);
/* The pages faults asked for, in the order they first did (at most one
 * entry a page, but for a fault that raced an install): the working set
 * for a later fill's pages_first. Stable once the end hook said 0. */
uint64_t pages_lazy_touched(const struct pages_lazy *lz, const uint64_t **pfn);
/* Stop the filler (waiting for an end hook that runs); faults are still
 * served, so the owner can stop its vCPUs. */
void pages_lazy_halt(struct pages_lazy *lz);
/* Stop both threads and free lz. After a failure the userfaultfd stays
 * open (see above); else it is closed. */
void pages_lazy_destroy(struct pages_lazy *lz);

/* The pages of region r that are holes of its memfd (never written):
 * wl_check_sparse skips them rather than allocate them by reading. r
 * must outlive the holes. */
struct wl_holes pages_memfd_holes(const struct machine_region *r);

#endif
