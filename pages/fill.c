/* pages/fill.c - the filler of a lazy fill: every page not yet in, in
 * pfn order, a run of data pages per read of the source (at most
 * run_max, never across a region), installed with one UFFDIO_COPY. Zero
 * pages are skipped: they stay holes of the memfd, which read as zero
 * once the RAM is let go. When the last data page is in, it unregisters
 * the RAM and tells the end hook.
 */
#include <errno.h>
#include <stdlib.h>

#include "lib/clock.h"
#include "pages/lazy_int.h"

/* The data run at pfn: pages not in, of kind data, in one region. 0 for
 * a zero page or one already in; negative errno from the source. */
static int64_t fill_run(struct pages_lazy *lz, uint64_t pfn)
{
	uint64_t max = pages_map_left(&lz->map, pfn), n = 0;

	if (max > lz->src.run_max)
		max = lz->src.run_max;
	while (n < max && !pcm_bitmap_test(&lz->in, pfn + n)) {
		int kind = lz->src.kind(lz->src.arg, pfn + n);

		if (kind < 0) {
			if (n)
				break;   /* this run first; the bad page next */
			pages_fail(lz, kind, pfn);
			return kind;
		}
		if (kind != PAGES_DATA)
			break;
		n++;
	}
	return (int64_t)n;
}

/* Run [pfn, pfn + n) from the source into guest RAM. */
static int fill_install(struct pages_lazy *lz, uint64_t pfn, uint64_t n, uint8_t *buf)
{
	uint64_t bad = pfn;
	long got;
	int err = lz->src.read(lz->src.arg, pfn, n, buf, &bad);

	if (err) {
		pages_fail(lz, err, bad);
		return err;
	}
	got = uffd_copy(&lz->uffd, pages_map_addr(&lz->map, pfn), buf, n * UFFD_PAGE, true);
	if (got < 0) {
		pages_fail(lz, (int)got, pfn);
		return (int)got;
	}
	atomic_fetch_add(&lz->filled, (uint64_t)got);
	pcm_bitmap_set_range(&lz->in, pfn, n);
	return 0;
}

/* pages_first, in its order: each with the data run it begins (its
 * neighbours are likely wanted soon too). */
static int fill_first(struct pages_lazy *lz, uint8_t *buf)
{
	for (uint64_t i = 0; i < lz->nws; i++) {
		uint64_t pfn = lz->ws[i], before;
		int64_t n;

		if (atomic_load(&lz->halt))
			return -ECANCELED;
		if (pfn >= lz->map.npages || pcm_bitmap_test(&lz->in, pfn))
			continue;
		if ((n = fill_run(lz, pfn)) < 0)
			return (int)n;
		if (!n)
			continue;   /* zero: a hole until touched */
		before = atomic_load(&lz->filled);
		if (fill_install(lz, pfn, (uint64_t)n, buf))
			return -EIO;
		atomic_fetch_add(&lz->prefetched, atomic_load(&lz->filled) - before);
	}
	return 0;
}

static int fill_all(struct pages_lazy *lz, uint8_t *buf)
{
	int err = fill_first(lz, buf);

	if (err)
		return err;
	for (uint64_t pfn = 0; pfn < lz->map.npages;) {
		int64_t n;

		if (atomic_load(&lz->halt))
			return -ECANCELED;
		if (pcm_bitmap_test(&lz->in, pfn)) {
			pfn++;
			continue;
		}
		if ((n = fill_run(lz, pfn)) < 0)
			return (int)n;
		if (!n) {   /* a zero page: a hole, unless a fault maps it */
			pfn++;
			continue;
		}
		if (fill_install(lz, pfn, (uint64_t)n, buf))
			return -EIO;
		pfn += (uint64_t)n;
	}
	return 0;
}

/* Every data page is in: no fault can want the source any more.
 *
 * The kernel wakes a range's waiters as it unregisters it, but a fault
 * under the VMA's own lock (not the mmap lock unregistering holds) can
 * queue itself just after that wake and sleep for good. So the fault
 * thread stays, waking whatever reaches it from now on (released), and
 * every region is woken once more after its unregistration. */
static void fill_done(struct pages_lazy *lz)
{
	int err = 0;

	atomic_store(&lz->released, true);
	if (atomic_load(&lz->err))
		return;   /* the fault thread failed on its last page */
	for (unsigned i = 0; i < lz->map.n; i++) {
		int e = uffd_unregister(&lz->uffd, lz->rg[i].host, lz->rg[i].size);

		if (!e)
			e = uffd_wake(&lz->uffd, lz->rg[i].host, lz->rg[i].size);
		err = err ? err : e;
	}
	if (err) {
		pages_fail(lz, err, UINT64_MAX);
		return;
	}
	atomic_store(&lz->resident_ns, pcm_now_ns());
	pages_end(lz, 0, UINT64_MAX);
}

void *pages_fill_main(void *arg)
{
	struct pages_lazy *lz = arg;
	uint8_t *buf = aligned_alloc(UFFD_PAGE, lz->src.run_max * UFFD_PAGE);

	if (!buf) {
		pages_fail(lz, -ENOMEM, UINT64_MAX);
		return NULL;
	}
	if (!fill_all(lz, buf))
		fill_done(lz);
	free(buf);
	return NULL;
}
