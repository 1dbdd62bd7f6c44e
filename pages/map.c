/* pages/map.c - page numbers over a machine's RAM regions (map.h). */
#include <errno.h>
#include <unistd.h>
#include "pages/map.h"

int pages_map_init(struct pages_map *pm, const struct machine_region *r, unsigned n)
{
	uint64_t page = 0;

	if (!n || n > MACHINE_MAX_REGIONS)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if ((r[i].size | (uintptr_t)r[i].host) & (PAGES_MAP_PAGE - 1))
			return -EINVAL;
		pm->first[i] = page;
		page += r[i].size / PAGES_MAP_PAGE;
	}
	pm->n = n;
	pm->r = r;
	pm->npages = page;
	return 0;
}

unsigned pages_map_region(const struct pages_map *pm, uint64_t page)
{
	unsigned i = pm->n - 1;

	while (i > 0 && page < pm->first[i])
		i--;
	return i;
}

uint8_t *pages_map_addr(const struct pages_map *pm, uint64_t page)
{
	unsigned i = pages_map_region(pm, page);

	return pm->r[i].host + (page - pm->first[i]) * PAGES_MAP_PAGE;
}

int pages_map_page_of(const struct pages_map *pm, uint64_t addr, uint64_t *page)
{
	for (unsigned i = 0; i < pm->n; i++) {
		uint64_t base = (uintptr_t)pm->r[i].host;

		if (addr >= base && addr - base < pm->r[i].size) {
			*page = pm->first[i] + (addr - base) / PAGES_MAP_PAGE;
			return 0;
		}
	}
	return -EFAULT;
}

uint64_t pages_map_left(const struct pages_map *pm, uint64_t page)
{
	unsigned i = pages_map_region(pm, page);

	return pm->first[i] + pm->r[i].size / PAGES_MAP_PAGE - page;
}

void pages_region_next_data(const struct machine_region *r, uint64_t page,
			    uint64_t *first, uint64_t *end)
{
	off_t base = (off_t)r->memfd_off, stop = base + (off_t)r->size;
	off_t data = lseek(r->memfd, base + (off_t)(page * PAGES_MAP_PAGE), SEEK_DATA), hole;

	if (data < 0 || data > stop)
		data = stop;
	hole = data < stop ? lseek(r->memfd, data, SEEK_HOLE) : stop;
	if (hole < 0 || hole > stop)
		hole = stop;
	*first = (uint64_t)(data - base) / PAGES_MAP_PAGE;
	*end = (uint64_t)(hole - base + (off_t)PAGES_MAP_PAGE - 1) / PAGES_MAP_PAGE;
}
