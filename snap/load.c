/* snap/load.c - loading a snapshot file into a new machine. Eager: runs
 * of data pages read straight into guest RAM, each page checked, zero
 * pages left as the new machine's holes, then the state. Lazy: the file
 * as a page source (pages/source.h) for a lazy fill of guest RAM
 * through userfaultfd (pages/lazy.h), then the state. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/clock.h"
#include "pages/lazy.h"
#include "snap/load.h"

/* Pages per read: a run of data pages costs one pread, not one each. */
#define LOAD_RUN 256u

static int layout_fits(const struct snap_file *f, const struct machine *m)
{
	const struct snap_meta *sm = snap_meta_of(f);
	const struct machine_region *r;
	unsigned n = machine_regions(m, &r);

	if (n != sm->nregions)
		return -ENOEXEC;
	for (unsigned i = 0; i < n; i++)
		if (r[i].gpa != sm->regions[i].gpa || r[i].size != sm->regions[i].size)
			return -ENOEXEC;
	return 0;
}

int snap_load_fits(const struct snap_file *f, struct machine *m)
{
	const struct snap_meta *sm = snap_meta_of(f);
	int r = layout_fits(f, m);

	if (r)
		return r;
	/* A file that names no devices leaves them to the state's own
	 * check at machine_load. */
	if (!sm->devids_len)
		return 0;
	return machine_identity_check(m, sm->devids, sm->devids_len);
}

static bool has_bytes(const struct snap_file *f, uint64_t pfn)
{
	return snap_page_held(f, pfn) && !snap_page_zero(f, pfn);
}

/* Pages [0, np) of region g, whose first page is pfn base. */
static int load_region(const struct snap_file *f, const struct machine_region *g,
		       uint64_t base, const struct snap_load_progress *pr, uint64_t *bad,
		       struct snap_load_stats *st)
{
	uint64_t np = g->size / SNAP_PAGE;

	for (uint64_t p = 0; p < np;) {
		uint64_t n = 0;
		int r;

		for (; p < np && !has_bytes(f, base + p); p++) {
			if (!snap_page_held(f, base + p)) {
				*bad = base + p;
				return -ENOENT;
			}
			st->zero_pages++;
		}
		while (p + n < np && n < LOAD_RUN && has_bytes(f, base + p + n))
			n++;
		if (!n)
			break;
		if ((r = snap_pages_read(f, base + p, n, g->host + p * SNAP_PAGE, bad)))
			return r;
		st->data_pages += n;
		p += n;
		if (pr && pr->fn)
			pr->fn(pr->arg, base + p, snap_npages(f));
	}
	return 0;
}

static int load_state(const struct snap_file *f, struct machine *m)
{
	void *blob;
	size_t len;
	int r = snap_state(f, &blob, &len);

	if (r)
		return r;
	r = machine_load(m, blob, len);
	free(blob);
	return r;
}

int snap_load_eager(const struct snap_file *f, struct machine *m,
		    const struct snap_load_progress *pr, uint64_t *bad_pfn,
		    struct snap_load_stats *st)
{
	const struct machine_region *rg;
	unsigned n = machine_regions(m, &rg);
	struct snap_load_stats mine;
	uint64_t bad = UINT64_MAX, pfn = 0, t0 = pcm_now_ns();
	int r = layout_fits(f, m);

	st = st ? st : &mine;
	memset(st, 0, sizeof(*st));
	for (unsigned i = 0; i < n && !r; i++) {
		r = load_region(f, &rg[i], pfn, pr, &bad, st);
		pfn += rg[i].size / SNAP_PAGE;
	}
	st->pages_ns = pcm_now_ns() - t0;
	if (!r) {
		t0 = pcm_now_ns();
		r = load_state(f, m);
		st->state_ns = pcm_now_ns() - t0;
	}
	if (bad_pfn)
		*bad_pfn = bad;
	return r;
}

/* ---- lazy: the file as a page source ---- */

static int file_kind(void *arg, uint64_t pfn)
{
	const struct snap_file *f = arg;

	if (!snap_page_held(f, pfn))
		return pfn < snap_npages(f) ? -ENOENT : -EINVAL;
	return snap_page_zero(f, pfn) ? PAGES_ZERO : PAGES_DATA;
}

static int file_read(void *arg, uint64_t first, uint64_t n, void *buf, uint64_t *bad)
{
	return snap_pages_read(arg, first, n, buf, bad);
}

int snap_load_lazy(const struct snap_file *f, struct machine *m, const struct pages_hooks *h,
		   const struct pages_first *first, struct pages_lazy **out)
{
	const struct pages_source src = { file_kind, file_read, (void *)f, LOAD_RUN };
	const struct machine_region *rg;
	unsigned n = machine_regions(m, &rg);
	int r = layout_fits(f, m);

	*out = NULL;
	if (r)
		return r;
	if (snap_is_incremental(f))
		return -ENOENT;   /* a chain's pages are in its parents: not built yet */
	/* Registered before the state loads: whatever the load reads or
	 * writes of guest RAM faults and is served from the file. */
	if ((r = pages_lazy_start(rg, n, &src, h, first, out)))
		return r;
	if ((r = load_state(f, m))) {
		pages_lazy_destroy(*out);
		*out = NULL;
	}
	return r;
}

uint64_t snap_pfn_gpa(const struct snap_file *f, uint64_t pfn)
{
	const struct snap_meta *m = snap_meta_of(f);

	for (unsigned i = 0; i < m->nregions; i++) {
		uint64_t np = m->regions[i].size / SNAP_PAGE;

		if (pfn < np)
			return m->regions[i].gpa + pfn * SNAP_PAGE;
		pfn -= np;
	}
	return UINT64_MAX;
}

/* wl_holes' next_data over f's index: [*first, *end) the next run of
 * pages with bytes at or after page; the zero pages before it are
 * holes. */
static void holes_next(void *arg, uint64_t page, uint64_t *first, uint64_t *end)
{
	const struct snap_file *f = arg;
	uint64_t np = snap_npages(f);

	while (page < np && !has_bytes(f, page))
		page++;
	*first = page;
	while (page < np && has_bytes(f, page))
		page++;
	*end = page;
}

struct wl_holes snap_load_holes(const struct snap_file *f)
{
	return (struct wl_holes){ holes_next, (void *)f };
}
