/* snap/live.h - a live snapshot: guest RAM written to a snapshot file
 * while the VM runs, as it was at one instant.
 *
 * At the instant (the VM paused by the caller, who saves its state into
 * the same writer) every page of guest RAM that holds data is
 * write-protected through userfaultfd; the VM then runs on. The copy walks
 * RAM in order, writing each page to the file and un-protecting it; a
 * page the guest (a vCPU, a device, KVM) writes first blocks in a
 * synchronous write-protect fault, which the fault thread serves ahead of
 * the walk: it copies the page as it still is, un-protects it, wakes the
 * writer and puts the copy in the file. So every page goes to the file
 * with the bytes it had at the instant. Holes of the memfds are zero
 * pages of the file and never read.
 *
 * Works on regions (engine-neutral): whatever writes through their
 * mapping, this process's threads or KVM, is caught. Functions return 0
 * or negative errno.
 */
#ifndef SNAP_LIVE_H
#define SNAP_LIVE_H

#include <stdint.h>

#include "snap/write.h"
#include "vm/machine.h"

struct snap_live;

struct snap_live_stats {
	uint64_t walked_pages;   /* copied by the walk */
	uint64_t early_pages;    /* copied ahead of it: the guest was writing them */
	uint64_t hole_pages;     /* holes of the memfd, recorded without a read */
	uint64_t faults;         /* write-protect faults served */
	uint64_t copy_ns;        /* from the end of snap_live_freeze to the last page */
};

/* The userfaultfd feature this kernel lacks for a live snapshot of
 * shmem (memfd) RAM, by its uapi name, or NULL when it has them all. */
const char *snap_live_missing_feature(void);

/* While the guest runs: a userfaultfd with the n regions (their memfds
 * mapped shared) registered for write-protect, pages of w numbered over
 * them in order, and the fault thread; nothing is protected yet.
 * -EOPNOTSUPP without the features (snap_live_missing_feature), -EBUSY
 * when another userfaultfd holds some of the RAM. */
int snap_live_open(struct snap_writer *w, const struct machine_region *rg, unsigned n,
		   struct snap_live **out);
/* The instant, the guest stopped by the caller: all of RAM
 * write-protected, one ioctl a region. */
int snap_live_freeze(struct snap_live *l);
/* The guest running again: every page into w, the ones it writes first
 * ahead of the rest. On return (success or not) nothing is protected any
 * more and no guest thread waits on us. */
int snap_live_copy(struct snap_live *l);
void snap_live_stats(const struct snap_live *l, struct snap_live_stats *st);
/* Stop the fault thread, close the userfaultfd (which un-protects
 * everything and wakes any waiter); safe after any step failed. */
void snap_live_close(struct snap_live *l);

#endif
