/* snap/load.h - a snapshot file into the RAM of a machine made for it,
 * every page checked against the file's index, then its state. Eager:
 * the VM starts only once every page is in. Lazy: guest RAM is filled
 * through userfaultfd (pages/lazy.h) with the file as the page source,
 * so the VM starts as soon as the state is loaded; a page a vCPU touches
 * is read, checked and installed at once, a filler brings in the rest.
 *
 * The machine is the caller's: machine_create_incoming on snap_meta_config
 * of the file's meta. Functions return 0 or negative errno.
 */
#ifndef SNAP_LOAD_H
#define SNAP_LOAD_H

#include <stdint.h>

#include "guest/workload.h"
#include "pages/lazy.h"
#include "snap/read.h"
#include "vm/machine.h"

struct snap_load_stats {
	uint64_t data_pages;      /* read from the file and checked */
	uint64_t zero_pages;      /* holes of the file, left untouched in RAM */
	uint64_t pages_ns;        /* reading and checking the pages */
	uint64_t state_ns;        /* the state blob: read, checked, loaded */
};

/* Told now and then (every 1 MiB run) how far a load is, in pages of
 * the file; may be NULL. */
struct snap_load_progress {
	void (*fn)(void *arg, uint64_t pages_done, uint64_t npages);
	void *arg;
};

/* Can machine m take f: the same RAM regions (so a pfn names the same
 * guest byte on both) and, when the file names them, the same devices
 * (machine_identity_check)? 0; -ENOEXEC for another layout; the
 * identity check's error, with machine_why naming the device. */
int snap_load_fits(const struct snap_file *f, struct machine *m);

/* Every page of f into m's RAM, then machine_load of its state. m must be
 * new (its RAM all zero): a zero page is left alone, as writing it would
 * allocate it. A full snapshot only: -ENOENT for a page f does not hold
 * (an incremental layer: chains are not restored yet). -EILSEQ for bytes
 * that fail their checksum, with *bad_pfn the page, UINT64_MAX for the
 * state blob; machine_load's errors (machine_why says which part); the
 * errno of a failed read. pr, bad_pfn and st may be NULL. */
int snap_load_eager(const struct snap_file *f, struct machine *m,
		    const struct snap_load_progress *pr, uint64_t *bad_pfn,
		    struct snap_load_stats *st);

/* The lazy restore: m's RAM registered with userfaultfd and filled from
 * f (which must outlive *out), then machine_load of the state; h's end
 * hook says when every page is in, or the first page that failed (the
 * errors of snap_pages_read: -EILSEQ a checksum, -EBADMSG the file cut
 * short since it was opened). m must be new; a full snapshot only
 * (-ENOENT for a layer). On an error nothing is left running (for a
 * state that machine_load refuses, machine_why says why). first (may be
 * NULL): pages the filler brings in before the others (--prefetch). The caller
 * starts m, and ends with pages_lazy_halt before it destroys m, then
 * pages_lazy_destroy. */
int snap_load_lazy(const struct snap_file *f, struct machine *m, const struct pages_hooks *h,
		   const struct pages_first *first, struct pages_lazy **out);

/* The guest-physical address of page pfn of f's RAM (region order). */
uint64_t snap_pfn_gpa(const struct snap_file *f, uint64_t pfn);

/* The zero pages of f, for wl_check_sparse over the first region (a
 * payload guest's RAM at 0): the self-check then skips the pages the
 * restore left untouched rather than allocate them by reading. */
struct wl_holes snap_load_holes(const struct snap_file *f);

#endif
