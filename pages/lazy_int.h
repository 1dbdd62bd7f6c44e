/* pages/lazy_int.h - what the lazy fill's files share (pages/lazy.c,
 * fault.c, fill.c); not for outside pages/. */
#ifndef PAGES_LAZY_INT_H
#define PAGES_LAZY_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "lib/bitmap.h"
#include "pages/lazy.h"
#include "pages/map.h"
#include "uffd/uffd.h"

#define PAGES_RUN_DEFAULT 256u   /* 1 MiB per read of the filler */

struct pages_lazy {
	struct uffd uffd;
	struct pages_source src;
	struct pages_hooks hooks;
	struct machine_region rg[MACHINE_MAX_REGIONS];
	struct pages_map map;                  /* page numbers over rg */
	struct pcm_bitmap in;                  /* installed, by either thread */
	int stop_fd;                           /* eventfd: the fault thread ends */
	pthread_t fault_thr, fill_thr;
	bool fault_running, fill_running;
	atomic_bool halt;                      /* the filler stops */
	atomic_bool ended;                     /* the end hook was called */
	atomic_bool released;                  /* every page in: faults are only woken */
	atomic_int err;
	_Atomic uint64_t bad_pfn;
	_Atomic uint64_t faults, faulted, faulted_zero, filled, prefetched;
	uint64_t *ws, nws;                     /* pages_first, copied */
	uint64_t *touched;                     /* pages_lazy_touched: npages slots */
	_Atomic uint64_t ntouched;             /* written by the fault thread only */
	_Atomic uint64_t fault_ns_max, fault_ns_sum, resident_ns;
	uint64_t started_ns;
};

/* pages/core.c (page numbers: lz->map, pages/map.h) */
/* The first failure is kept; both threads stop; the end hook is told. */
void pages_fail(struct pages_lazy *lz, int err, uint64_t pfn);
/* The end hook, once. */
void pages_end(struct pages_lazy *lz, int err, uint64_t pfn);

/* pages/fault.c, pages/fill.c */
void *pages_fault_main(void *arg);
void *pages_fill_main(void *arg);
/* Ask the fault thread to end and join it (pages_lazy_destroy). */
void pages_fault_stop(struct pages_lazy *lz);

#endif
