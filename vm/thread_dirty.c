/* vm/thread_dirty.c - the thread engine's dirty log: userfaultfd
 * write-protect over guest RAM.
 *
 * async (UFFD_FEATURE_WP_ASYNC): the whole range is write-protected once;
 * a first write to a protected page is resolved by the kernel itself,
 * which clears the page's protection and lets the writer go on. A fetch is
 * one PAGEMAP_SCAN that reports the pages without protection and protects
 * them again, page by page under the page-table lock, so a write is
 * either before the scan saw its page (reported now) or faults afresh
 * (reported next time). Never-touched memfd pages carry a protection
 * marker, so their first write is caught too.
 *
 * sync (kernels without it, or THREAD_DIRTY_SYNC): a first write to a
 * protected page blocks in a fault that our handler thread resolves: it
 * sets the page's bit in pending, then un-protects the page (which wakes
 * the writer). A fetch protects again every page whose bit is set, then
 * hands over and clears pending. Both happen under td->lock, which keeps
 * this invariant outside it: a page that is not protected has its bit set
 * in pending. So every write lands between an un-protect (bit set) and the
 * next fetch's re-protect, and that fetch collects the bit.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "uffd/uffd.h"
#include "vm/thread_int.h"

/* A fetch re-protects each run of set bits with its own ioctl up to this
 * many runs, and the whole range with one beyond: walking every page
 * table is cheaper than hundreds of small calls. */
#define SYNC_RUNS_MAX 64
/* Fault messages read per wake-up of the handler. */
#define SYNC_BATCH 64
/* UFFDIO_WRITEPROTECT retries on EAGAIN (the mm changing under it). */
#define WP_SPINS 1000

struct thread_dirty {
	struct uffd u;
	uint8_t *ram;
	uint64_t size, npages;
	int async;
	int registered;
	int pagemap_fd;             /* async */
	_Atomic int err;            /* first failure: the log is broken */
	/* sync only */
	pthread_mutex_t lock;       /* record+unprotect vs re-protect+collect */
	uint64_t *pending;          /* pages un-protected since the last fetch */
	int stop_fd;                /* eventfd: the handler ends */
	pthread_t th;
	int have_th;
};

static void fail_once(struct thread_dirty *td, int err)
{
	int none = 0;

	atomic_compare_exchange_strong(&td->err, &none, err);
}

static int wp_range(struct thread_dirty *td, uint64_t first, uint64_t n, bool protect)
{
	int r, spins = 0;

	do
		r = uffd_wp(&td->u, td->ram + first * UFFD_PAGE, n * UFFD_PAGE, protect, true);
	while (r == -EAGAIN && ++spins < WP_SPINS);
	return r;
}

/* Register the range and protect all of it, never-touched pages included
 * (shmem keeps a marker in their page-table entry). */
static int protect_all(struct thread_dirty *td)
{
	int err = uffd_register(&td->u, td->ram, td->size, UFFD_MODE_WP);

	if (err)
		return err;
	td->registered = 1;
	return wp_range(td, 0, td->npages, true);
}

static int async_start(struct thread_dirty *td)
{
	uint64_t peek = 0;
	long r;
	int err;

	err = uffd_open_features(&td->u, UFFD_FEAT_WP_ASYNC_ALL, UFFD_FEAT_WP_UNPOPULATED);
	if (err)
		return err;
	td->pagemap_fd = uffd_pagemap_open();
	if (td->pagemap_fd < 0)
		return td->pagemap_fd;
	if ((err = protect_all(td)))
		return err;
	/* Does the kernel have PAGEMAP_SCAN (-ENOTTY), and does it see the
	 * range as async? Only looks: protects nothing. */
	r = uffd_wp_scan(td->pagemap_fd, td->ram, UFFD_PAGE, &peek, 0, false);
	if (r < 0)
		return (int)r;
	td->async = 1;
	return 0;
}

static void sync_resolve(struct thread_dirty *td, const struct uffd_fault *ev, int n)
{
	pthread_mutex_lock(&td->lock);
	for (int i = 0; i < n; i++) {
		uint64_t p = (ev[i].addr - (uintptr_t)td->ram) / UFFD_PAGE;
		int r;

		if (ev[i].addr < (uintptr_t)td->ram || p >= td->npages)
			continue;         /* not ours: cannot happen */
		if (!ev[i].wp) {          /* only WP is registered; just retry */
			r = uffd_wake(&td->u, td->ram + p * UFFD_PAGE, UFFD_PAGE);
		} else {
			/* The bit first: the page is writable only with it. */
			td->pending[p / 64] |= 1ull << (p % 64);
			r = wp_range(td, p, 1, false);
		}
		if (r)
			fail_once(td, r);
	}
	pthread_mutex_unlock(&td->lock);
}

static void *sync_handler(void *arg)
{
	struct thread_dirty *td = arg;
	struct uffd_fault ev[SYNC_BATCH];
	struct pollfd p[2] = {
		{ .fd = td->u.fd, .events = POLLIN },
		{ .fd = td->stop_fd, .events = POLLIN },
	};

	for (;;) {
		int n = poll(p, 2, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fail_once(td, -errno);
			break;
		}
		if (p[1].revents)
			break;
		n = uffd_read(&td->u, ev, SYNC_BATCH);
		if (n < 0) {
			/* Writers would stay blocked until stop: say so. */
			fail_once(td, n);
			break;
		}
		sync_resolve(td, ev, n);
	}
	return NULL;
}

static int sync_start(struct thread_dirty *td)
{
	sigset_t all, old;
	int err;

	err = uffd_open_features(&td->u, UFFD_FEAT_WP_SYNC, UFFD_FEAT_WP_UNPOPULATED);
	if (err)
		return err;
	td->pending = calloc((td->npages + 63) / 64, 8);
	if (!td->pending)
		return -ENOMEM;
	td->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (td->stop_fd < 0)
		return -errno;
	if ((err = protect_all(td)))
		return err;
	/* The handler takes no asynchronous signals, like the vCPUs. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&td->th, NULL, sync_handler, td);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return err;
	td->have_th = 1;
	pthread_setname_np(td->th, "dirty-wp");
	return 0;
}

/* Undo whatever of a start took place; leaves td reusable for another. */
static void teardown(struct thread_dirty *td)
{
	uint64_t one = 1;

	if (td->registered) {
		/* Unregistering also clears every protection (markers
		 * included) and wakes any blocked writer; an explicit
		 * un-protect first would only walk the page tables twice
		 * (stop runs inside pre-copy's downtime). If it fails,
		 * closing the uffd below does the same. */
		uffd_unregister(&td->u, td->ram, td->size);
		td->registered = 0;
	}
	if (td->have_th) {
		if (write(td->stop_fd, &one, sizeof(one)) != sizeof(one))
			pthread_cancel(td->th);   /* cannot happen; never hang */
		pthread_join(td->th, NULL);
		td->have_th = 0;
	}
	uffd_close(&td->u);
	if (td->pagemap_fd >= 0)
		close(td->pagemap_fd);
	if (td->stop_fd >= 0)
		close(td->stop_fd);
	free(td->pending);
	td->pagemap_fd = td->stop_fd = -1;
	td->pending = NULL;
	td->async = 0;
	atomic_store(&td->err, 0);
}

int thread_dirty_start(struct thread_dirty **out, uint8_t *ram, uint64_t size,
		       unsigned flags)
{
	struct thread_dirty *td;
	int err = -EOPNOTSUPP;

	if (!size || (((uintptr_t)ram | size) & (UFFD_PAGE - 1)))
		return -EINVAL;
	td = calloc(1, sizeof(*td));
	if (!td)
		return -ENOMEM;
	td->u.fd = td->pagemap_fd = td->stop_fd = -1;
	td->ram = ram;
	td->size = size;
	td->npages = size / UFFD_PAGE;
	pthread_mutex_init(&td->lock, NULL);
	if (!(flags & THREAD_DIRTY_SYNC)) {
		err = async_start(td);
		if (err)
			teardown(td);
	}
	if (err && (err = sync_start(td)))
		teardown(td);
	if (err) {
		pthread_mutex_destroy(&td->lock);
		free(td);
		return err;
	}
	*out = td;
	return 0;
}

static int pending_at(const struct thread_dirty *td, uint64_t p)
{
	return (td->pending[p / 64] >> (p % 64)) & 1;
}

/* Protect again the pages whose bit is set (the only ones that can be
 * writable), run by run, or all at once when the runs are many. */
static int sync_reprotect(struct thread_dirty *td)
{
	uint64_t runs = 0, p = 0, n = td->npages;
	int err = 0;

	for (uint64_t i = 0; i < n; i++)
		if (pending_at(td, i) && (i == 0 || !pending_at(td, i - 1)) &&
		    ++runs > SYNC_RUNS_MAX)
			return wp_range(td, 0, n, true);
	while (!err && p < n) {
		uint64_t e;

		if (!(p % 64) && !td->pending[p / 64]) {
			p += 64;
			continue;
		}
		if (!pending_at(td, p)) {
			p++;
			continue;
		}
		for (e = p + 1; e < n && pending_at(td, e); e++)
			;
		err = wp_range(td, p, e - p, true);
		p = e;
	}
	return err;
}

static int sync_fetch(struct thread_dirty *td, uint64_t *bitmap)
{
	int err;

	pthread_mutex_lock(&td->lock);
	err = sync_reprotect(td);
	if (!err) {
		for (uint64_t w = 0; w < (td->npages + 63) / 64; w++) {
			bitmap[w] |= td->pending[w];
			td->pending[w] = 0;
		}
	}
	pthread_mutex_unlock(&td->lock);
	return err;
}

int thread_dirty_fetch(struct thread_dirty *td, uint64_t *bitmap, uint64_t npages)
{
	long r;
	int err;

	if (!td)
		return -EINVAL;     /* not tracking */
	if (npages != td->npages)
		return -EINVAL;
	if ((err = atomic_load(&td->err)))
		return err;
	if (td->async) {
		r = uffd_wp_scan(td->pagemap_fd, td->ram, td->size, bitmap, 0, true);
		err = r < 0 ? (int)r : 0;
	} else {
		err = sync_fetch(td, bitmap);
	}
	if (err)
		fail_once(td, err);
	return err;
}

void thread_dirty_stop(struct thread_dirty *td)
{
	if (!td)
		return;
	teardown(td);
	pthread_mutex_destroy(&td->lock);
	free(td);
}

const char *thread_dirty_kind(const struct thread_dirty *td)
{
	return td->async ? "async" : "sync";
}
