/* pages/lazy.c - the lazy fill's life: registering guest RAM with a new
 * userfaultfd, starting and stopping the fault thread and the filler,
 * counters, and the holes a check skips. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/clock.h"
#include "pages/lazy_int.h"

static int lazy_register(struct pages_lazy *lz)
{
	int err = uffd_open(&lz->uffd);

	for (unsigned i = 0; !err && i < lz->map.n; i++)
		if ((err = uffd_register(&lz->uffd, lz->rg[i].host, lz->rg[i].size,
					 UFFD_MODE_MISSING)))
			while (i-- > 0)
				uffd_unregister(&lz->uffd, lz->rg[i].host, lz->rg[i].size);
	return err;
}

static int lazy_init(struct pages_lazy *lz, const struct machine_region *rg, unsigned n)
{
	int err;

	lz->uffd.fd = -1;
	if (!n || n > MACHINE_MAX_REGIONS)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		lz->rg[i] = rg[i];
	if ((err = pages_map_init(&lz->map, lz->rg, n)))
		return err;
	if (!lz->src.run_max)
		lz->src.run_max = PAGES_RUN_DEFAULT;
	lz->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (lz->stop_fd < 0)
		return -errno;
	return pcm_bitmap_init(&lz->in, lz->map.npages);
}

static int lazy_threads(struct pages_lazy *lz)
{
	int err = -pthread_create(&lz->fault_thr, NULL, pages_fault_main, lz);

	if (err)
		return err;
	lz->fault_running = true;
	err = -pthread_create(&lz->fill_thr, NULL, pages_fill_main, lz);
	if (err)
		return err;
	lz->fill_running = true;
	return 0;
}

/* The filler's first pass and the fault log. */
static int lazy_lists(struct pages_lazy *lz, const struct pages_first *first)
{
	lz->touched = calloc(lz->map.npages, sizeof(*lz->touched));
	if (!lz->touched)
		return -ENOMEM;
	if (!first || !first->n)
		return 0;
	lz->ws = malloc(first->n * sizeof(*lz->ws));
	if (!lz->ws)
		return -ENOMEM;
	memcpy(lz->ws, first->pfn, first->n * sizeof(*lz->ws));
	lz->nws = first->n;
	return 0;
}

int pages_lazy_start(const struct machine_region *rg, unsigned n, const struct pages_source *src,
		     const struct pages_hooks *hooks, const struct pages_first *first,
		     struct pages_lazy **out)
{
	struct pages_lazy *lz = calloc(1, sizeof(*lz));
	int err;

	*out = NULL;
	if (!lz)
		return -ENOMEM;
	lz->src = *src;
	if (hooks)
		lz->hooks = *hooks;
	lz->started_ns = pcm_now_ns();
	lz->stop_fd = -1;
	err = lazy_init(lz, rg, n);
	if (!err)
		err = lazy_lists(lz, first);
	if (!err)
		err = lazy_register(lz);
	if (!err)
		err = lazy_threads(lz);
	if (err) {
		/* Nothing was installed or told: let go of it all. */
		atomic_store(&lz->ended, true);
		pages_lazy_destroy(lz);
		return err;
	}
	*out = lz;
	return 0;
}

void pages_lazy_stats(const struct pages_lazy *lz, struct pages_stats *st)
{
	struct pages_lazy *l = (struct pages_lazy *)lz;   /* atomics only read */

	*st = (struct pages_stats){
		.npages = lz->map.npages,
		.faults = atomic_load(&l->faults),
		.faulted = atomic_load(&l->faulted),
		.faulted_zero = atomic_load(&l->faulted_zero),
		.filled = atomic_load(&l->filled),
		.prefetched = atomic_load(&l->prefetched),
		.fault_ns_max = atomic_load(&l->fault_ns_max),
		.fault_ns_sum = atomic_load(&l->fault_ns_sum),
		.started_ns = lz->started_ns,
		.resident_ns = atomic_load(&l->resident_ns),
		.err = atomic_load(&l->err),
		.bad_pfn = atomic_load(&l->bad_pfn),
	};
	st->in = st->faulted + st->faulted_zero + st->filled;
}

void pages_lazy_halt(struct pages_lazy *lz)
{
	if (!lz || !lz->fill_running)
		return;
	atomic_store(&lz->halt, true);
	pthread_join(lz->fill_thr, NULL);
	lz->fill_running = false;
}

void pages_lazy_destroy(struct pages_lazy *lz)
{
	if (!lz)
		return;
	pages_lazy_halt(lz);
	pages_fault_stop(lz);
	/* After a failure a vCPU may wait for the page that failed: closing
	 * the uffd would let it run on a hole. The process's end frees it. */
	if (!atomic_load(&lz->err))
		uffd_close(&lz->uffd);
	if (lz->stop_fd >= 0)
		close(lz->stop_fd);
	pcm_bitmap_free(&lz->in);
	free(lz->ws);
	free(lz->touched);
	free(lz);
}

uint64_t pages_lazy_touched(const struct pages_lazy *lz, const uint64_t **pfn)
{
	*pfn = lz->touched;
	return atomic_load(&((struct pages_lazy *)lz)->ntouched);
}

/* wl_holes' next_data over a region's memfd. */
static void memfd_next_data(void *arg, uint64_t page, uint64_t *first, uint64_t *end)
{
	pages_region_next_data(arg, page, first, end);
}

struct wl_holes pages_memfd_holes(const struct machine_region *r)
{
	return (struct wl_holes){ memfd_next_data, (void *)r };
}
