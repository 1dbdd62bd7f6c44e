/* snap/live.c - the live snapshot: write-protect at the instant, then the
 * in-order copy and the fault thread, which serves the guest's first
 * write to a page not yet copied (snap/live.h says why it is one instant).
 *
 * One rule keeps each page's bytes those of the instant: a page is
 * un-protected only once its bytes are copied out of guest RAM (into the
 * file or a bounce buffer), and the copy and the setting of its bit in
 * saved happen together under lock. So whoever finds a page's bit set,
 * the walk or the fault thread, knows its bytes are safe and may let the
 * guest write it.
 *
 * The freeze protects each region whole, holes included (shmem keeps a
 * marker in their page-table entries), with one ioctl: protecting only
 * the memfd's data extents costs an ioctl, and a TLB flush, per extent,
 * and a guest that has touched its RAM here and there has thousands. So
 * no hole map is taken at the instant: the walk asks the memfd as it
 * goes. A page that is a hole when the walk looks and still has no bit
 * in saved when it claims it has not been written since the instant,
 * since writing it takes a fault that sets the bit first; it is a zero
 * page, recorded without being read (a read would allocate it). A page a guest read allocated
 * since is zero, and a zero page is a hole in the file either way.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/bitmap.h"
#include "lib/clock.h"
#include "snap/live.h"
#include "uffd/uffd.h"

/* Pages the walk claims, writes and un-protects at a time (2 MiB). */
#define LIVE_CHUNK 512u
/* Fault messages read per wake-up of the fault thread. */
#define LIVE_BATCH 64
/* UFFDIO_WRITEPROTECT retries on EAGAIN (the mm changing under it). */
#define LIVE_WP_SPINS 1000

struct live_region {
	struct machine_region g;
	uint64_t npages, base;      /* its pages are base.. in the file */
};

struct snap_live {
	struct snap_writer *w;
	struct uffd u;
	struct live_region rg[MACHINE_MAX_REGIONS];
	unsigned nr;
	uint64_t npages;
	struct pcm_bitmap saved;    /* bytes copied out: the guest may write it */
	pthread_mutex_t lock;       /* a page's copy + its bit in saved, as one step */
	uint8_t *bounce;            /* the walk's chunk */
	int stop_fd;                /* eventfd: the fault thread ends */
	pthread_t th;
	bool have_th, frozen;
	uint64_t t_frozen;
	_Atomic int err;            /* the fault thread's first failure */
	_Atomic uint64_t early, faults;
	uint64_t walked, holes;     /* the walk's */
	struct snap_live_stats st;
};

const char *snap_live_missing_feature(void)
{
	uint64_t f = 0;

	if (uffd_offered(&f))
		return "userfaultfd";
	if (!(f & UFFD_FEAT_PAGEFAULT_FLAG_WP))
		return "UFFD_FEATURE_PAGEFAULT_FLAG_WP";
	if (!(f & UFFD_FEAT_WP_HUGETLBFS_SHMEM))
		return "UFFD_FEATURE_WP_HUGETLBFS_SHMEM";
	return NULL;
}

static int wp(struct snap_live *l, uint8_t *addr, uint64_t npages, bool protect)
{
	int r, spins = 0;

	do
		r = uffd_wp(&l->u, addr, npages * SNAP_PAGE, protect, true);
	while (r == -EAGAIN && ++spins < LIVE_WP_SPINS);
	return r;
}

/* The region and pfn of a faulting address; NULL outside guest RAM. */
static struct live_region *region_of(struct snap_live *l, uint64_t addr, uint64_t *pfn)
{
	for (unsigned i = 0; i < l->nr; i++) {
		struct live_region *r = &l->rg[i];
		uint64_t h = (uint64_t)(uintptr_t)r->g.host;

		if (addr >= h && addr < h + r->g.size) {
			*pfn = r->base + (addr - h) / SNAP_PAGE;
			return r;
		}
	}
	return NULL;
}

/* One fault: the page copied out if nobody did yet, un-protected (which
 * wakes the writer), then written to the file. */
static void serve(struct snap_live *l, const struct uffd_fault *f)
{
	uint8_t page[SNAP_PAGE];
	uint64_t pfn;
	struct live_region *r = region_of(l, f->addr, &pfn);
	bool copied = false;
	int e;

	atomic_fetch_add(&l->faults, 1);
	if (!r) {
		(void)uffd_wake(&l->u, (void *)(uintptr_t)f->addr, SNAP_PAGE);
		return;
	}
	pthread_mutex_lock(&l->lock);
	if (!pcm_bitmap_set(&l->saved, pfn)) {
		memcpy(page, (void *)(uintptr_t)f->addr, SNAP_PAGE);
		copied = true;
	}
	pthread_mutex_unlock(&l->lock);
	e = wp(l, (uint8_t *)(uintptr_t)f->addr, 1, false);
	if (!e && copied) {
		e = snap_writer_page(l->w, pfn, page);
		atomic_fetch_add(&l->early, 1);
	}
	if (e) {
		int none = 0;

		atomic_compare_exchange_strong(&l->err, &none, e);
	}
}

static void *fault_thread(void *arg)
{
	struct snap_live *l = arg;
	struct pollfd pf[2] = { { .fd = l->u.fd, .events = POLLIN },
				{ .fd = l->stop_fd, .events = POLLIN } };
	struct uffd_fault ev[LIVE_BATCH];

	for (;;) {
		int n;

		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pf[1].revents)
			break;
		n = uffd_read(&l->u, ev, LIVE_BATCH);
		if (n < 0) {
			/* The guest would wait forever: the copy sees the
			 * error and closes the userfaultfd, which wakes it. */
			atomic_compare_exchange_strong(&l->err, &(int){ 0 }, n);
			break;
		}
		for (int i = 0; i < n; i++)
			serve(l, &ev[i]);
	}
	return NULL;
}

static int live_setup(struct snap_live *l, const struct machine_region *rg, unsigned n)
{
	int r;

	for (unsigned i = 0; i < n; i++) {
		l->rg[i].g = rg[i];
		l->rg[i].npages = rg[i].size / SNAP_PAGE;
		l->rg[i].base = l->npages;
		l->npages += l->rg[i].npages;
	}
	l->nr = n;
	if ((r = pcm_bitmap_init(&l->saved, l->npages)))
		return r;
	l->bounce = malloc((size_t)LIVE_CHUNK * SNAP_PAGE);
	if (!l->bounce)
		return -ENOMEM;
	r = uffd_open_features(&l->u, UFFD_FEAT_WP_SYNC, UFFD_FEAT_THREAD_ID);
	if (r)
		return r;
	for (unsigned i = 0; i < n; i++)
		if ((r = uffd_register(&l->u, rg[i].host, rg[i].size, UFFD_MODE_WP)))
			return r;
	l->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (l->stop_fd < 0)
		return -errno;
	if ((r = pthread_create(&l->th, NULL, fault_thread, l)))
		return -r;
	l->have_th = true;
	return 0;
}

int snap_live_open(struct snap_writer *w, const struct machine_region *rg, unsigned n,
		   struct snap_live **out)
{
	struct snap_live *l;
	int r;

	*out = NULL;
	if (!n || n > MACHINE_MAX_REGIONS)
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->w = w;
	l->u.fd = -1;
	l->stop_fd = -1;
	pthread_mutex_init(&l->lock, NULL);
	r = live_setup(l, rg, n);
	if (r) {
		snap_live_close(l);
		return r;
	}
	*out = l;
	return 0;
}

int snap_live_freeze(struct snap_live *l)
{
	int e;

	if (l->frozen)
		return -EALREADY;
	for (unsigned i = 0; i < l->nr; i++)
		if ((e = wp(l, l->rg[i].g.host, l->rg[i].npages, true)))
			return e;
	l->frozen = true;
	l->t_frozen = pcm_now_ns();
	return 0;
}

enum live_claim { CLAIM_NONE, CLAIM_COPY, CLAIM_HOLE };

/* Page i of region r, claimed if nobody saved it yet: copied into
 * slot dst when it held data when the walk looked, else marked a hole.
 * The lock is held for one page at a time, so a fault waits at most one
 * 4 KiB copy, even when the walk is preempted. The memfd is asked
 * outside it: a page that was a hole then and is unclaimed now has not
 * been written since the instant (a write claims it first), so it is
 * still zero. */
static uint8_t claim_page(struct snap_live *l, struct live_region *r, uint64_t i, bool hole,
			  uint8_t *dst)
{
	uint8_t c = CLAIM_NONE;

	pthread_mutex_lock(&l->lock);
	if (!pcm_bitmap_set(&l->saved, r->base + i)) {
		c = hole ? CLAIM_HOLE : CLAIM_COPY;
		if (!hole)
			memcpy(dst, r->g.host + i * SNAP_PAGE, SNAP_PAGE);
	}
	pthread_mutex_unlock(&l->lock);
	return c;
}

/* Pages [q, q + k) of region r that nobody saved yet, claimed: the ones
 * holding data copied into the bounce buffer, the holes marked. */
static void claim_chunk(struct snap_live *l, struct live_region *r, uint64_t q, uint64_t k,
			uint8_t *claim)
{
	uint64_t end = q + k, first, dend;

	for (uint64_t p = q; p < end; p = dend) {
		snap_region_next_data(&r->g, p, end, &first, &dend);
		if (dend <= first)
			dend = first + (first < end);
		for (uint64_t i = p; i < dend; i++)
			claim[i - q] = claim_page(l, r, i, i < first,
						  l->bounce + (i - q) * SNAP_PAGE);
	}
}

/* Pages [q, q + k) of region r: claimed, runs of copies into the file,
 * holes recorded as zero pages, and the chunk un-protected. */
static int copy_chunk(struct snap_live *l, struct live_region *r, uint64_t q, uint64_t k)
{
	uint8_t claim[LIVE_CHUNK];
	uint64_t base = r->base + q, run = 0;
	int e = 0;

	claim_chunk(l, r, q, k, claim);
	for (uint64_t i = 0; i <= k && !e; i++) {
		if (i < k && claim[i] == CLAIM_COPY) {
			run++;
			continue;
		}
		if (run)
			e = snap_writer_pages(l->w, base + i - run, run,
					      l->bounce + (i - run) * SNAP_PAGE);
		l->walked += run;
		run = 0;
		if (!e && i < k && claim[i] == CLAIM_HOLE) {
			e = snap_writer_zero(l->w, base + i, 1);
			l->holes++;
		}
	}
	/* Every page of the chunk is saved now, by us or the fault thread:
	 * the guest may write them all. */
	return e ? e : wp(l, r->g.host + q * SNAP_PAGE, k, false);
}

static int copy_all(struct snap_live *l)
{
	for (unsigned i = 0; i < l->nr; i++) {
		struct live_region *r = &l->rg[i];

		for (uint64_t q = 0; q < r->npages; q += LIVE_CHUNK) {
			uint64_t k = r->npages - q < LIVE_CHUNK ? r->npages - q : LIVE_CHUNK;
			int e = atomic_load(&l->err);

			if (e || (e = copy_chunk(l, r, q, k)))
				return e;
		}
	}
	return 0;
}

static void stop_thread(struct snap_live *l)
{
	uint64_t one = 1;

	if (!l->have_th)
		return;
	(void)!write(l->stop_fd, &one, sizeof(one));
	pthread_join(l->th, NULL);
	l->have_th = false;
}

int snap_live_copy(struct snap_live *l)
{
	int e = l->frozen ? copy_all(l) : -EINVAL;

	/* The fault thread may still be writing a page it copied: joined
	 * before the writer is committed. Closing the userfaultfd lifts
	 * whatever protection an error left. */
	stop_thread(l);
	uffd_close(&l->u);
	if (!e)
		e = atomic_load(&l->err);
	l->st.walked_pages = l->walked;
	l->st.hole_pages = l->holes;
	l->st.early_pages = atomic_load(&l->early);
	l->st.faults = atomic_load(&l->faults);
	l->st.copy_ns = pcm_now_ns() - l->t_frozen;
	return e;
}

void snap_live_stats(const struct snap_live *l, struct snap_live_stats *st)
{
	*st = l->st;
}

void snap_live_close(struct snap_live *l)
{
	if (!l)
		return;
	stop_thread(l);
	uffd_close(&l->u);
	if (l->stop_fd >= 0)
		close(l->stop_fd);
	pcm_bitmap_free(&l->saved);
	free(l->bounce);
	pthread_mutex_destroy(&l->lock);
	free(l);
}
