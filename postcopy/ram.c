/* postcopy/ram.c - page numbering over machine regions. */
#include <errno.h>
#include <xxhash.h>
#include "postcopy/proto.h"
#include "postcopy/ram.h"

void ram_init(struct ram *ram, const struct machine *m)
{
	uint64_t page = 0;

	ram->n = machine_regions(m, &ram->r);
	for (unsigned i = 0; i < ram->n; i++) {
		ram->first[i] = page;
		page += ram->r[i].size / PM_PAGE;
	}
	ram->npages = page;
}

static unsigned ram_region_of(const struct ram *ram, uint64_t page)
{
	unsigned i = ram->n - 1;

	while (i > 0 && page < ram->first[i])
		i--;
	return i;
}

uint8_t *ram_page(const struct ram *ram, uint64_t page)
{
	unsigned i = ram_region_of(ram, page);

	return ram->r[i].host + (page - ram->first[i]) * PM_PAGE;
}

int ram_page_of(const struct ram *ram, uint64_t addr, uint64_t *page)
{
	for (unsigned i = 0; i < ram->n; i++) {
		uint64_t base = (uint64_t)ram->r[i].host;

		if (addr >= base && addr - base < ram->r[i].size) {
			*page = ram->first[i] + (addr - base) / PM_PAGE;
			return 0;
		}
	}
	return -EFAULT;
}

uint64_t ram_run_limit(const struct ram *ram, uint64_t page, uint64_t max)
{
	unsigned i = ram_region_of(ram, page);
	uint64_t end = ram->first[i] + ram->r[i].size / PM_PAGE;

	return end - page < max ? end - page : max;
}

bool ram_page_is_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;

	for (unsigned i = 0; i < PM_PAGE / 8; i += 4)
		if (w[i] | w[i + 1] | w[i + 2] | w[i + 3])
			return false;
	return true;
}

uint64_t ram_digest(const struct ram *ram, uint64_t off)
{
	XXH3_state_t *st = XXH3_createState();
	uint64_t d;

	XXH3_64bits_reset(st);
	for (unsigned i = 0; i < ram->n; i++) {
		uint64_t skip = i == 0 ? off : 0;

		if (skip < ram->r[i].size)
			XXH3_64bits_update(st, ram->r[i].host + skip, ram->r[i].size - skip);
	}
	d = XXH3_64bits_digest(st);
	XXH3_freeState(st);
	return d;
}
