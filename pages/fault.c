/* pages/fault.c - the fault thread of a lazy fill: reads userfaultfd
 * events, gets each missing page from the source and installs it; once
 * every page is in and the RAM unregistered, it only wakes late faults
 * until the fill is destroyed.
 *
 * A page the filler installed since the fault was raised is only woken
 * (its install woke the waiters it knew of; a wake more is harmless). A
 * zero page is mapped with UFFDIO_ZEROPAGE, nothing read. A page whose
 * read or check fails is never installed: the fill fails, this thread
 * ends, and the vCPU waiting for the page waits on (pages/lazy.h).
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "lib/clock.h"
#include "pages/lazy_int.h"

static void fault_note_time(struct pages_lazy *lz, uint64_t t0)
{
	uint64_t dt = pcm_now_ns() - t0, max = atomic_load(&lz->fault_ns_max);

	atomic_fetch_add(&lz->fault_ns_sum, dt);
	while (dt > max && !atomic_compare_exchange_weak(&lz->fault_ns_max, &max, dt))
		;
}

/* Page pfn in from the source; 0, or the error (already recorded). */
static int fault_install(struct pages_lazy *lz, uint64_t pfn, uint8_t *buf)
{
	uint8_t *dst = pages_map_addr(&lz->map, pfn);
	uint64_t bad = pfn;
	int kind = lz->src.kind(lz->src.arg, pfn);
	long got;

	if (kind == PAGES_ZERO) {
		if ((got = uffd_zero(&lz->uffd, dst, UFFD_PAGE, true)) < 0)
			goto fail;
		atomic_fetch_add(&lz->faulted_zero, (uint64_t)got);
	} else if (kind == PAGES_DATA) {
		if ((got = lz->src.read(lz->src.arg, pfn, 1, buf, &bad)) < 0)
			goto fail;
		if ((got = uffd_copy(&lz->uffd, dst, buf, UFFD_PAGE, true)) < 0)
			goto fail;
		atomic_fetch_add(&lz->faulted, (uint64_t)got);
	} else {
		got = kind < 0 ? kind : -EINVAL;
		goto fail;
	}
	pcm_bitmap_set(&lz->in, pfn);
	return 0;
fail:
	pages_fail(lz, (int)got, bad);
	return (int)got;
}

/* The order pages were first asked for: the entry is written before
 * the count that publishes it. */
static void fault_log(struct pages_lazy *lz, uint64_t pfn)
{
	uint64_t n = atomic_load(&lz->ntouched);

	if (n < lz->map.npages) {
		lz->touched[n] = pfn;
		atomic_store(&lz->ntouched, n + 1);
	}
}

static int fault_serve(struct pages_lazy *lz, const struct uffd_fault *ev, uint8_t *buf)
{
	uint64_t pfn, t0 = pcm_now_ns();
	int err;

	atomic_fetch_add(&lz->faults, 1);
	if (pages_map_page_of(&lz->map, ev->addr, &pfn)) {
		pages_fail(lz, -EFAULT, UINT64_MAX);
		return -EFAULT;
	}
	/* Once the RAM is let go, a fault that still reaches us raced the
	 * unregistration (below): woken, it retries on unregistered RAM. */
	if (atomic_load(&lz->released)) {
		uffd_wake(&lz->uffd, pages_map_addr(&lz->map, pfn), UFFD_PAGE);
		return 0;
	}
	fault_log(lz, pfn);
	if (pcm_bitmap_test(&lz->in, pfn)) {
		uffd_wake(&lz->uffd, pages_map_addr(&lz->map, pfn), UFFD_PAGE);
		return 0;
	}
	if ((err = fault_install(lz, pfn, buf)))
		return err;
	fault_note_time(lz, t0);
	return 0;
}

void *pages_fault_main(void *arg)
{
	struct pages_lazy *lz = arg;
	struct pollfd p[2] = { { .fd = lz->uffd.fd, .events = POLLIN },
			       { .fd = lz->stop_fd, .events = POLLIN } };
	static _Thread_local uint8_t buf[UFFD_PAGE] __attribute__((aligned(4096)));

	while (!atomic_load(&lz->err)) {
		struct uffd_fault ev[64];
		int n;

		if (poll(p, 2, -1) < 0 && errno != EINTR) {
			pages_fail(lz, -errno, UINT64_MAX);
			break;
		}
		if (p[1].revents)
			break;
		if ((n = uffd_read(&lz->uffd, ev, 64)) < 0) {
			pages_fail(lz, n, UINT64_MAX);
			break;
		}
		for (int i = 0; i < n; i++)
			if (fault_serve(lz, &ev[i], buf))
				return NULL;
	}
	return NULL;
}

void pages_fault_stop(struct pages_lazy *lz)
{
	uint64_t one = 1;

	if (!lz->fault_running)
		return;
	if (write(lz->stop_fd, &one, sizeof(one)) < 0)
		(void)0;   /* overflow only: it is readable anyway */
	pthread_join(lz->fault_thr, NULL);
	lz->fault_running = false;
}
