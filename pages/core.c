/* pages/core.c - what both threads of a lazy fill share: the page
 * numbering across regions, the first failure, the end hook told once.
 * (Below fault.c and fill.c, so no two files call each other.) */
#include <errno.h>
#include <unistd.h>

#include "pages/lazy_int.h"

uint8_t *pages_addr(const struct pages_lazy *lz, uint64_t pfn)
{
	unsigned i = lz->nrg - 1;

	while (i && pfn < lz->first[i])
		i--;
	return lz->rg[i].host + (pfn - lz->first[i]) * UFFD_PAGE;
}

int pages_pfn_of(const struct pages_lazy *lz, uint64_t addr, uint64_t *pfn)
{
	for (unsigned i = 0; i < lz->nrg; i++) {
		uint64_t base = (uintptr_t)lz->rg[i].host;

		if (addr >= base && addr - base < lz->rg[i].size) {
			*pfn = lz->first[i] + (addr - base) / UFFD_PAGE;
			return 0;
		}
	}
	return -EFAULT;
}

uint64_t pages_region_left(const struct pages_lazy *lz, uint64_t pfn)
{
	for (unsigned i = lz->nrg; i-- > 0;)
		if (pfn >= lz->first[i])
			return lz->first[i] + lz->rg[i].size / UFFD_PAGE - pfn;
	return 0;
}

void pages_end(struct pages_lazy *lz, int err, uint64_t pfn)
{
	if (atomic_exchange(&lz->ended, true))
		return;
	if (lz->hooks.end)
		lz->hooks.end(lz->hooks.arg, err, pfn);
}

void pages_fail(struct pages_lazy *lz, int err, uint64_t pfn)
{
	int none = 0;
	uint64_t one = 1;

	if (!atomic_compare_exchange_strong(&lz->err, &none, err))
		return;
	atomic_store(&lz->bad_pfn, pfn);
	atomic_store(&lz->halt, true);
	if (write(lz->stop_fd, &one, sizeof(one)) < 0)
		(void)0;   /* an eventfd write fails only on overflow */
	pages_end(lz, err, pfn);
}
