/* pages/core.c - what both threads of a lazy fill share: the page
 * first failure, the end hook told once (the page numbering is map.c's).
 * (Below fault.c and fill.c, so no two files call each other.) */
#include <errno.h>
#include <unistd.h>

#include "pages/lazy_int.h"

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
