/* pages/map.h - the guest's page numbers over its RAM regions: pages
 * counted from 0 across the regions in their order (the numbering the
 * wire, the bitmaps and the snapshot file share) and the host address of
 * each. The migration (postcopy/) and the lazy fill (pages/lazy.h) both
 * number pages this way; this is the one copy.
 *
 * The map points at its caller's region array, which must outlive it. */
#ifndef PAGES_MAP_H
#define PAGES_MAP_H

#include <stdint.h>
#include "vm/machine.h"

#define PAGES_MAP_PAGE 4096ull

struct pages_map {
	unsigned n;
	const struct machine_region *r;
	uint64_t first[MACHINE_MAX_REGIONS];   /* first page of each region */
	uint64_t npages;
};

/* n regions (1..MACHINE_MAX_REGIONS) in guest order: 0, or -EINVAL for
 * no region, too many, or one not page-aligned. */
int pages_map_init(struct pages_map *pm, const struct machine_region *r, unsigned n);
/* The region holding page (below npages). */
unsigned pages_map_region(const struct pages_map *pm, uint64_t page);
/* Host address of page (below npages). */
uint8_t *pages_map_addr(const struct pages_map *pm, uint64_t page);
/* Page of a host address inside a region; -EFAULT if outside. */
int pages_map_page_of(const struct pages_map *pm, uint64_t addr, uint64_t *page);
/* Pages from page to the end of its region. */
uint64_t pages_map_left(const struct pages_map *pm, uint64_t page);
/* The next run of pages the region's memfd holds data for, at or after
 * page (pages counted from the region's start): [*first, *end), both the
 * region's page count when only holes follow. SEEK_DATA / SEEK_HOLE, so a
 * hole (never written: zero) is skipped without reading it. */
void pages_region_next_data(const struct machine_region *r, uint64_t page,
			    uint64_t *first, uint64_t *end);

#endif
