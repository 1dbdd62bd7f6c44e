/* uffd/uffd.h - userfaultfd: open, register, resolve, read faults.
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

#endif
