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
/* XXH3-64 of guest RAM from byte off (of the first region) to the end. */
uint64_t ram_digest(const struct ram *ram, uint64_t off);

#endif
