/* postcopy/ram.h - guest pages as the migration numbers them.
 *
 * Pages are numbered 0..npages-1 across the machine's regions in order, so
 * a hole in the guest-physical map (the KVM engine has one below 4 GiB)
 * costs nothing on the wire. Runs never cross a region boundary. The
 * numbering itself is pages/map.h's (addresses, pages of an address, the
 * rest of a region); this adds what the migration does with pages.
 */
#ifndef POSTCOPY_RAM_H
#define POSTCOPY_RAM_H

#include <stdbool.h>
#include <stdint.h>
#include "lib/attr.h"
#include "pages/map.h"
#include "vm/machine.h"

/* The machine's regions, numbered (0, or -EINVAL for a layout that is
 * not page-aligned). */
int ram_init(struct pages_map *ram, const struct machine *m) PCM_MUST_CHECK;
/* Pages from page to the end of its region, at most max. */
uint64_t ram_run_limit(const struct pages_map *ram, uint64_t page, uint64_t max);
bool ram_page_is_zero(const uint8_t *p);
/* The next extent of pages backed by memory at or after page, within its
 * region: [*first, *end). Pages before *first are holes of the memfd,
 * never written, so zero without being read. *first == *end == the
 * region's end when the rest of the region is a hole. */
void ram_next_data(const struct pages_map *ram, uint64_t page, uint64_t *first, uint64_t *end);
/* Write n pages of data into the memfd at page first, without mapping
 * them anywhere: the guest's first touch finds them in the page cache.
 * 0 or negative errno. */
int ram_pwrite(const struct pages_map *ram, uint64_t first, uint64_t n, const uint8_t *data);
/* Drop pages first..first+n-1 from the memfd (a hole again): the next
 * touch faults as if the page had never arrived. 0 or negative errno. */
int ram_punch(const struct pages_map *ram, uint64_t first, uint64_t n);
/* XXH3-64 of guest RAM from page `from` to the end, content-defined: a
 * zero page counts as an 8-byte marker whether it is a hole or a written
 * page of zeros, so both sides agree and holes are never read (reading a
 * hole of a memfd would allocate it). */
uint64_t ram_digest(const struct pages_map *ram, uint64_t from);

#endif
