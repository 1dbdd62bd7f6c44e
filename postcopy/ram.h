/* postcopy/ram.h - guest pages as the migration numbers them.
 *
 * Pages are numbered 0..npages-1 across the machine's regions in order, so
 * a hole in the guest-physical map (the KVM engine has one below 4 GiB)
 * costs nothing on the wire. Runs never cross a region boundary.
 */
#ifndef POSTCOPY_RAM_H
#define POSTCOPY_RAM_H

#include <stdbool.h>
#include <stdint.h>
#include "vm/machine.h"

struct ram {
	unsigned n;
	const struct machine_region *r;
	uint64_t first[MACHINE_MAX_REGIONS];   /* first page of each region */
	uint64_t npages;
};

void ram_init(struct ram *ram, const struct machine *m);
uint8_t *ram_page(const struct ram *ram, uint64_t page);
/* Page number of a host address inside a region; -EFAULT if outside. */
int ram_page_of(const struct ram *ram, uint64_t addr, uint64_t *page);
/* Pages from page to the end of its region, at most max. */
uint64_t ram_run_limit(const struct ram *ram, uint64_t page, uint64_t max);
bool ram_page_is_zero(const uint8_t *p);
/* The next extent of pages backed by memory at or after page, within its
 * region: [*first, *end). Pages before *first are holes of the memfd,
 * never written, so zero without being read. *first == *end == the
 * region's end when the rest of the region is a hole. */
void ram_next_data(const struct ram *ram, uint64_t page, uint64_t *first, uint64_t *end);
/* Write n pages of data into the memfd at page first, without mapping
 * them anywhere: the guest's first touch finds them in the page cache.
 * 0 or negative errno. */
int ram_pwrite(const struct ram *ram, uint64_t first, uint64_t n, const uint8_t *data);
/* Drop pages first..first+n-1 from the memfd (a hole again): the next
 * touch faults as if the page had never arrived. 0 or negative errno. */
int ram_punch(const struct ram *ram, uint64_t first, uint64_t n);
/* XXH3-64 of guest RAM from page `from` to the end, content-defined: a
 * zero page counts as an 8-byte marker whether it is a hole or a written
 * page of zeros, so both sides agree and holes are never read (reading a
 * hole of a memfd would allocate it). */
uint64_t ram_digest(const struct ram *ram, uint64_t from);

#endif
