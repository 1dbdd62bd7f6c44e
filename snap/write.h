/* snap/write.h - writing a snapshot file.
 *
 * The writer takes pages and a state blob, not a machine, so the same
 * code serves a paused VM (snap_write_paused), a live snapshot whose pages
 * come from a write-protect handler, a merge of a chain, and the tests.
 *
 * It writes PATH.tmp (locked with flock, so a second writer of PATH gets
 * -EBUSY and a stale one left by a killed writer is taken over), and only
 * snap_writer_commit makes PATH appear, by rename, after every byte and
 * the commit record are on disk. An interrupted writer never leaves a
 * file at PATH, and a file at PATH is never half-replaced.
 *
 * snap_writer_page(s) may run on several threads at once for different
 * pages; open, state, commit and abort are not concurrent with anything.
 * Functions return 0 or negative errno.
 */
#ifndef SNAP_WRITE_H
#define SNAP_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "snap/format.h"
#include "snap/meta.h"
#include "vm/machine.h"

struct snap_writer;

#define SNAP_W_REPLACE 0x1u   /* commit may replace an existing PATH */

/* Start a snapshot of the VM m describes at path. parent NULL: a full
 * snapshot (every page must be given); else an incremental layer holding
 * only the pages given. -EEXIST when path exists and flags lacks
 * SNAP_W_REPLACE; -EBUSY while another writer of path runs; -EINVAL for
 * a meta that snap_meta_check refuses. */
int snap_writer_open(const char *path, const struct snap_meta *m,
		     const struct snap_parent *parent, unsigned flags,
		     struct snap_writer **out);
/* Page pfn's 4 KiB. An all-zero page is recorded as zero and left a hole
 * in the file (one written before is punched out). */
int snap_writer_page(struct snap_writer *w, uint64_t pfn, const void *page);
/* n consecutive pages from pfn, contiguous in memory: runs of non-zero
 * pages go out in one write each. */
int snap_writer_pages(struct snap_writer *w, uint64_t pfn, uint64_t n, const void *pages);
/* n pages from pfn that are known to be zero (a hole of the guest's
 * memfd): recorded as zero pages without being read. */
int snap_writer_zero(struct snap_writer *w, uint64_t pfn, uint64_t n);
/* The state blob (machine_save's), once; at most SNAP_STATE_MAX bytes. */
int snap_writer_state(struct snap_writer *w, const void *blob, size_t len);
/* Index, commit record, syncs, rename onto path, directory sync. Consumes
 * w whatever it returns; on failure nothing new is at path (a failure of
 * the last directory sync alone leaves the committed file there: -EIO).
 * as_parent (may be NULL) receives what a layer on top names. -EINVAL
 * when no state was given or a full snapshot lacks a page; the first
 * error of an earlier page or state write otherwise. */
int snap_writer_commit(struct snap_writer *w, struct snap_parent *as_parent);
/* Drop everything written; path is left as it was. */
void snap_writer_abort(struct snap_writer *w);

/* The state and every page of machine m, which the caller has paused
 * (machine_save refuses a running one), into w, a full snapshot of m
 * opened with snap_meta_from_machine's meta. Holes of a region's memfd
 * are recorded as zero pages without being touched (a read would
 * allocate them). Once it returns the file's page cache holds everything
 * of m, so the caller may resume m before snap_writer_commit's syncs:
 * the VM's pause need not include them. On failure w is still the
 * caller's to abort. */
int snap_writer_machine(struct snap_writer *w, struct machine *m);

/* The state blob of machine m, which the caller has paused, into w. */
int snap_writer_machine_state(struct snap_writer *w, struct machine *m);

/* Region g's pages from p (of np): the next extent that may hold data,
 * [*first, *end), from its memfd's SEEK_DATA/SEEK_HOLE (everything from
 * p when the memfd cannot tell; *first = np when only holes are left).
 * Pages outside such extents are holes: zero, and a read would allocate
 * them. */
void snap_region_next_data(const struct machine_region *g, uint64_t p, uint64_t np,
			   uint64_t *first, uint64_t *end);

/* Before the pause, while the guest runs: map m's RAM that holds data
 * (its memfds' extents, never the holes, which a read would allocate)
 * into this process's page tables, so the paused snap_writer_machine
 * does not take a fault per page (a KVM guest's RAM is touched through
 * KVM, not through this mapping). It only reads. 0, or the first
 * madvise error (-EINVAL on a kernel without MADV_POPULATE_READ: then
 * the write is only slower). */
int snap_machine_prefault(struct machine *m);

/* A full snapshot of machine m, which the caller has paused (machine_save
 * refuses a running one): every page of every region, its state. Holes of
 * a region's memfd are recorded as zero pages without being touched (a
 * read would allocate them). name may be NULL. */
int snap_write_paused(struct machine *m, const char *name, const char *path,
		      unsigned flags, struct snap_parent *as_parent);

#endif
