/* uffd/uffd.h - userfaultfd: open, register, resolve, read faults, track writes.
 *
 * A thin, checked layer over the userfaultfd ioctls. Resolution helpers
 * handle the kernel's partial results: EAGAIN (the mm changed under us)
 * is retried, EEXIST (page already present) skips that page and goes on,
 * and each returns how many pages it actually installed so a caller can
 * count pages exactly once whichever path won the race.
 */
#ifndef UFFD_UFFD_H
#define UFFD_UFFD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define UFFD_PAGE 4096ul

enum uffd_mode {
	UFFD_MODE_MISSING = 1,
	UFFD_MODE_MINOR   = 2,
	UFFD_MODE_WP      = 4,
};

struct uffd {
	int fd;
	uint64_t features;   /* what UFFDIO_API granted */
};

struct uffd_fault {
	uint64_t addr;       /* page-aligned faulting address */
	uint32_t tid;        /* faulting thread (0 if the kernel does not say) */
	uint8_t minor;       /* a minor fault (page in page cache, not mapped) */
	uint8_t write;
	uint8_t wp;          /* a write-protect fault */
};

/* Open a non-blocking, close-on-exec userfaultfd and negotiate the API,
 * asking for the features the modes need plus the faulting thread's id. */
int uffd_open(struct uffd *u);
void uffd_close(struct uffd *u);

/* modes: an OR of enum uffd_mode. */
int uffd_register(struct uffd *u, void *addr, size_t len, unsigned modes);
int uffd_unregister(struct uffd *u, void *addr, size_t len);

/* Install pages; return pages newly installed (>= 0) or negative errno.
 * wake=false installs without waking waiters (batch, then uffd_wake). */
long uffd_copy(struct uffd *u, void *dst, const void *src, size_t len, bool wake);
long uffd_zero(struct uffd *u, void *dst, size_t len, bool wake);
/* Minor-fault route: map pages already in the page cache. */
long uffd_continue(struct uffd *u, void *dst, size_t len, bool wake);
int uffd_wake(struct uffd *u, void *addr, size_t len);
/* Write-protect (protect=true) or un-protect a range. */
int uffd_wp(struct uffd *u, void *addr, size_t len, bool protect, bool wake);

/* Read up to max pending fault events without blocking; returns the number
 * read (0 if none). Non-pagefault events are skipped. */
int uffd_read(struct uffd *u, struct uffd_fault *ev, int max);

/* ---- write-protect tracking (dirty pages of a running writer) ----
 *
 * Two ways to learn which pages were written since they were protected:
 * sync: uffd_open_features(u, UFFD_FEAT_WP_SYNC, ...), register
 *   UFFD_MODE_WP, uffd_wp(protect); every first write to a protected page
 *   blocks in a fault that a handler records and resolves by un-protecting.
 * async: UFFD_FEAT_WP_ASYNC; the kernel resolves those faults itself by
 *   clearing the page's protection, and uffd_wp_scan reads which pages
 *   lost it and protects them again, page by page atomically. */

/* UFFD_FEATURE_* bits by the kernel's values (the build's uapi headers
 * may predate some of them). */
#define UFFD_FEAT_PAGEFAULT_FLAG_WP   (1ull << 0)
#define UFFD_FEAT_THREAD_ID           (1ull << 8)
#define UFFD_FEAT_WP_HUGETLBFS_SHMEM  (1ull << 12)
#define UFFD_FEAT_WP_UNPOPULATED      (1ull << 13)
#define UFFD_FEAT_WP_ASYNC            (1ull << 15)
/* What each tracking way needs on shmem (memfd) guest RAM. */
#define UFFD_FEAT_WP_SYNC  (UFFD_FEAT_PAGEFAULT_FLAG_WP | UFFD_FEAT_WP_HUGETLBFS_SHMEM)
#define UFFD_FEAT_WP_ASYNC_ALL (UFFD_FEAT_WP_ASYNC | UFFD_FEAT_WP_HUGETLBFS_SHMEM)

/* The features UFFDIO_API offers on this kernel (UFFD_FEATURE_* bits). */
int uffd_offered(uint64_t *features);
/* Open like uffd_open, negotiating need plus whatever of like the kernel
 * offers, and nothing else; -EOPNOTSUPP if a bit of need is not offered. */
int uffd_open_features(struct uffd *u, uint64_t need, uint64_t like);

/* A read-only fd of /proc/self/pagemap for uffd_wp_scan, or -errno. */
int uffd_pagemap_open(void);
/* Async tracking: the pages of [addr, addr+len) written since they were
 * last protected, ORed into bitmap (page addr+i*UFFD_PAGE is bit first+i).
 * reprotect: protect each reported page again in the same step, so a
 * write is reported by this scan or the next, never by neither; without
 * it the scan only looks. The whole range must be registered
 * UFFD_MODE_WP on a uffd opened with UFFD_FEAT_WP_ASYNC (-EPERM
 * otherwise); -ENOTTY if the kernel has no PAGEMAP_SCAN. Returns the
 * pages reported. */
long uffd_wp_scan(int pagemap_fd, void *addr, size_t len, uint64_t *bitmap,
		  uint64_t first, bool reprotect);

#endif
