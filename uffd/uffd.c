/* uffd/uffd.c - userfaultfd: open, register, resolve, read faults, track writes.
 *
 * Every function returns a negative errno on failure; nothing here keeps
 * state outside struct uffd, so several uffds can live in one process.
 */
#include "uffd/uffd.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Debian 12 ships 6.1 uapi headers; the running kernel is newer. Only
 * feature bits we actually request are spelled out here. */
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1ull << 13)
#endif

/* Features we want when the kernel offers them. Deliberately absent:
 * EVENT_* (would make us handle fork/remap/unmap messages and would block
 * UFFDIO_COPY with EAGAIN while such an event is pending), SIGBUS (we
 * want faults, not signals), EXACT_ADDRESS (we resolve whole pages),
 * WP_ASYNC (write faults would be resolved silently, never reported). */
#define UFFD_WANTED_FEATURES                                              \
	(UFFD_FEATURE_THREAD_ID | UFFD_FEATURE_PAGEFAULT_FLAG_WP |        \
	 UFFD_FEATURE_MISSING_SHMEM | UFFD_FEATURE_MISSING_HUGETLBFS |    \
	 UFFD_FEATURE_MINOR_SHMEM | UFFD_FEATURE_MINOR_HUGETLBFS |        \
	 UFFD_FEATURE_WP_HUGETLBFS_SHMEM | UFFD_FEATURE_WP_UNPOPULATED)

/* Consecutive zero-progress EAGAINs tolerated before giving up. EAGAIN
 * with nothing done means the mm is changing (an mremap/fork event in
 * flight); without EVENT_* features that window is short. */
#define UFFD_EAGAIN_SPINS 10000

/* No UFFD_USER_MODE_ONLY: KVM touches guest RAM through get_user_pages
 * and vCPU threads pass guest buffers to syscalls, both of which fault
 * in kernel mode, and a user-mode-only uffd would fail those with EFAULT
 * instead of reporting them. */
static int uffd_fd_new(void)
{
	int flags = O_CLOEXEC | O_NONBLOCK;
	int fd, dev;

	fd = syscall(SYS_userfaultfd, flags);
	if (fd >= 0)
		return fd;
	if (errno != EPERM && errno != ENOSYS)
		return -errno;
	/* vm.unprivileged_userfaultfd=0 and no CAP_SYS_PTRACE: the device
	 * node's permissions are the other gate. */
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -errno;
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, flags);
	if (fd < 0)
		fd = -errno;
	close(dev);
	return fd;
}

/* UFFDIO_API may be issued only once per fd, so asking what the kernel
 * offers costs a throwaway fd. */
int uffd_offered(uint64_t *offered)
{
	struct uffdio_api api = { .api = UFFD_API, .features = 0 };
	int fd, err = 0;

	fd = uffd_fd_new();
	if (fd < 0)
		return fd;
	if (ioctl(fd, UFFDIO_API, &api) < 0)
		err = -errno;
	else
		*offered = api.features;
	close(fd);
	return err;
}

int uffd_open_features(struct uffd *u, uint64_t need, uint64_t like)
{
	struct uffdio_api api = { .api = UFFD_API };
	uint64_t offered = 0;
	int fd, err;

	u->fd = -1;
	u->features = 0;
	err = uffd_offered(&offered);
	if (err)
		return err;
	if ((offered & need) != need)
		return -EOPNOTSUPP;
	fd = uffd_fd_new();
	if (fd < 0)
		return fd;
	api.features = need | (offered & like);
	if (ioctl(fd, UFFDIO_API, &api) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	u->fd = fd;
	u->features = api.features;
	return 0;
}

int uffd_open(struct uffd *u)
{
	return uffd_open_features(u, 0, UFFD_WANTED_FEATURES);
}

void uffd_close(struct uffd *u)
{
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
}

static uint64_t uffd_mode_bits(unsigned modes)
{
	uint64_t m = 0;

	if (modes & UFFD_MODE_MISSING)
		m |= UFFDIO_REGISTER_MODE_MISSING;
	if (modes & UFFD_MODE_MINOR)
		m |= UFFDIO_REGISTER_MODE_MINOR;
	if (modes & UFFD_MODE_WP)
		m |= UFFDIO_REGISTER_MODE_WP;
	return m;
}

/* The resolution ioctls a caller of these modes will need. ZEROPAGE is
 * left out on purpose: hugetlbfs ranges do not offer it, and uffd_zero
 * reports that itself. */
static uint64_t uffd_ioctls_needed(unsigned modes)
{
	uint64_t need = 1ull << _UFFDIO_WAKE;

	if (modes & UFFD_MODE_MISSING)
		need |= 1ull << _UFFDIO_COPY;
	if (modes & UFFD_MODE_MINOR)
		need |= 1ull << _UFFDIO_CONTINUE;
	if (modes & UFFD_MODE_WP)
		need |= 1ull << _UFFDIO_WRITEPROTECT;
	return need;
}

int uffd_register(struct uffd *u, void *addr, size_t len, unsigned modes)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)addr, .len = len },
		.mode = uffd_mode_bits(modes),
	};
	uint64_t need = uffd_ioctls_needed(modes);

	if (!reg.mode || (modes & ~7u))
		return -EINVAL;
	if (ioctl(u->fd, UFFDIO_REGISTER, &reg) < 0)
		return -errno;
	if ((reg.ioctls & need) != need) {
		/* Registered but unusable: undo, so the range does not
		 * stall faults nobody can resolve. */
		uffd_unregister(u, addr, len);
		return -EOPNOTSUPP;
	}
	return 0;
}

int uffd_unregister(struct uffd *u, void *addr, size_t len)
{
	struct uffdio_range r = { .start = (uintptr_t)addr, .len = len };

	return ioctl(u->fd, UFFDIO_UNREGISTER, &r) < 0 ? -errno : 0;
}

int uffd_wake(struct uffd *u, void *addr, size_t len)
{
	struct uffdio_range r = { .start = (uintptr_t)addr, .len = len };

	return ioctl(u->fd, UFFDIO_WAKE, &r) < 0 ? -errno : 0;
}

/* One resolution ioctl over [start, start+len). The three ioctls share a
 * shape: range in, mode in, a signed byte count (or -errno) out. */
enum uffd_op { UFFD_OP_COPY, UFFD_OP_ZERO, UFFD_OP_CONTINUE };

struct uffd_req {
	enum uffd_op op;
	uint64_t dst, src, len;
	bool wake;
};

/* Returns bytes installed (> 0), or -errno if nothing was installed. */
static int64_t uffd_ioctl_once(int fd, const struct uffd_req *q)
{
	union {
		struct uffdio_copy c;
		struct uffdio_zeropage z;
		struct uffdio_continue k;
	} a;
	__s64 *out;
	unsigned long req;
	int rc, err;

	memset(&a, 0, sizeof(a));
	switch (q->op) {
	case UFFD_OP_COPY:
		a.c = (struct uffdio_copy){ .dst = q->dst, .src = q->src,
			.len = q->len,
			.mode = q->wake ? 0 : UFFDIO_COPY_MODE_DONTWAKE };
		out = &a.c.copy;
		req = UFFDIO_COPY;
		break;
	case UFFD_OP_ZERO:
		a.z = (struct uffdio_zeropage){
			.range = { .start = q->dst, .len = q->len },
			.mode = q->wake ? 0 : UFFDIO_ZEROPAGE_MODE_DONTWAKE };
		out = &a.z.zeropage;
		req = UFFDIO_ZEROPAGE;
		break;
	default:
		a.k = (struct uffdio_continue){
			.range = { .start = q->dst, .len = q->len },
			.mode = q->wake ? 0 : UFFDIO_CONTINUE_MODE_DONTWAKE };
		out = &a.k.mapped;
		req = UFFDIO_CONTINUE;
		break;
	}
	rc = ioctl(fd, req, &a);
	if (rc == 0)
		return (int64_t)q->len;
	err = errno;
	/* A partial result comes back as EAGAIN with the byte count in the
	 * out field; the caller treats any positive count as progress. */
	if (*out > 0)
		return *out;
	return -err;
}

/* Drive one op over a multi-page range: EAGAIN retries the rest, EEXIST
 * skips the page that is already there. Returns pages newly installed. */
static long uffd_fill(struct uffd *u, struct uffd_req q)
{
	uint64_t end = q.dst + q.len, dst0 = q.dst, src0 = q.src;
	long pages = 0;
	bool skipped = false;
	int spins = 0;

	if ((q.dst | q.len) & (UFFD_PAGE - 1))
		return -EINVAL;
	while (q.dst < end) {
		int64_t n;

		q.len = end - q.dst;
		q.src = src0 + (q.dst - dst0);
		n = uffd_ioctl_once(u->fd, &q);
		if (n > 0) {
			pages += n / UFFD_PAGE;
			q.dst += n;
			spins = 0;
		} else if (n == -EEXIST) {
			/* Someone else installed it; not ours to count. */
			q.dst += UFFD_PAGE;
			skipped = true;
		} else if (n == -EAGAIN && ++spins < UFFD_EAGAIN_SPINS) {
			sched_yield();
		} else {
			return n;
		}
	}
	/* A skipped page may have been installed with DONTWAKE by another
	 * path whose sleeper is still waiting; the caller asked for a wake,
	 * and a spurious one is harmless. */
	if (skipped && q.wake)
		uffd_wake(u, (void *)(uintptr_t)dst0, end - dst0);
	return pages;
}

long uffd_copy(struct uffd *u, void *dst, const void *src, size_t len,
	       bool wake)
{
	return uffd_fill(u, (struct uffd_req){ .op = UFFD_OP_COPY,
		.dst = (uintptr_t)dst, .src = (uintptr_t)src, .len = len,
		.wake = wake });
}

long uffd_zero(struct uffd *u, void *dst, size_t len, bool wake)
{
	return uffd_fill(u, (struct uffd_req){ .op = UFFD_OP_ZERO,
		.dst = (uintptr_t)dst, .len = len, .wake = wake });
}

long uffd_continue(struct uffd *u, void *dst, size_t len, bool wake)
{
	return uffd_fill(u, (struct uffd_req){ .op = UFFD_OP_CONTINUE,
		.dst = (uintptr_t)dst, .len = len, .wake = wake });
}

int uffd_wp(struct uffd *u, void *addr, size_t len, bool protect, bool wake)
{
	struct uffdio_writeprotect w = {
		.range = { .start = (uintptr_t)addr, .len = len },
		.mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	/* DONTWAKE only means something when un-protecting: protecting
	 * never wakes anyone. */
	if (!protect && !wake)
		w.mode |= UFFDIO_WRITEPROTECT_MODE_DONTWAKE;
	return ioctl(u->fd, UFFDIO_WRITEPROTECT, &w) < 0 ? -errno : 0;
}

static void uffd_fault_from_msg(const struct uffd_msg *m, uint64_t features,
				struct uffd_fault *f)
{
	uint64_t fl = m->arg.pagefault.flags;

	f->addr = m->arg.pagefault.address & ~(uint64_t)(UFFD_PAGE - 1);
	/* ptid is only filled in when THREAD_ID was granted. */
	f->tid = (features & UFFD_FEATURE_THREAD_ID) ?
		 m->arg.pagefault.feat.ptid : 0;
	f->write = !!(fl & UFFD_PAGEFAULT_FLAG_WRITE);
	f->wp = !!(fl & UFFD_PAGEFAULT_FLAG_WP);
	f->minor = !!(fl & UFFD_PAGEFAULT_FLAG_MINOR);
}

/* Messages read per read(2); bounds the stack buffer, not the caller. */
#define UFFD_READ_BATCH 64

int uffd_read(struct uffd *u, struct uffd_fault *ev, int max)
{
	struct uffd_msg msg[UFFD_READ_BATCH];
	int got = 0;

	while (got < max) {
		int want = max - got < UFFD_READ_BATCH ? max - got :
			   UFFD_READ_BATCH;
		ssize_t n = read(u->fd, msg, want * sizeof(msg[0]));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return got ? got : -errno;
		n /= sizeof(msg[0]);
		for (ssize_t i = 0; i < n; i++)
			if (msg[i].event == UFFD_EVENT_PAGEFAULT)
				uffd_fault_from_msg(&msg[i], u->features,
						    &ev[got++]);
		/* A short read means the queue is drained. */
		if (n < want)
			break;
	}
	return got;
}

/* ---- async write-protect tracking: PAGEMAP_SCAN ---- */

/* The kernel's struct pm_scan_arg and struct page_region (linux/fs.h
 * since 6.7; Debian 12's uapi headers are older), under our own names so
 * newer headers do not clash. */
struct uffd_scan_arg {
	uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
	uint64_t category_inverted, category_mask, category_anyof_mask;
	uint64_t return_mask;
};

struct uffd_region {
	uint64_t start, end, categories;
};

#define UFFD_PAGEMAP_SCAN    _IOWR('f', 16, struct uffd_scan_arg)
#define UFFD_SCAN_WP_MATCHING   (1ull << 0)  /* protect what matched */
#define UFFD_SCAN_CHECK_WPASYNC (1ull << 1)  /* fail on non-async-wp VMAs */
#define UFFD_PAGE_IS_WRITTEN    (1ull << 1)
/* Regions (runs of written pages) read per ioctl; bounds the stack. */
#define UFFD_SCAN_VEC 256

_Static_assert(sizeof(struct uffd_scan_arg) == 96, "pm_scan_arg layout");
_Static_assert(UFFD_FEAT_PAGEFAULT_FLAG_WP == UFFD_FEATURE_PAGEFAULT_FLAG_WP &&
	       UFFD_FEAT_THREAD_ID == UFFD_FEATURE_THREAD_ID &&
	       UFFD_FEAT_WP_HUGETLBFS_SHMEM == UFFD_FEATURE_WP_HUGETLBFS_SHMEM &&
	       UFFD_FEAT_WP_UNPOPULATED == UFFD_FEATURE_WP_UNPOPULATED,
	       "UFFD_FEAT_* drifted from the kernel's bits");
#ifdef UFFD_FEATURE_WP_ASYNC
_Static_assert(UFFD_FEAT_WP_ASYNC == UFFD_FEATURE_WP_ASYNC, "WP_ASYNC bit");
#endif

int uffd_pagemap_open(void)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static void bits_set(uint64_t *bm, uint64_t from, uint64_t to)
{
	for (; from < to && (from & 63); from++)
		bm[from / 64] |= 1ull << (from & 63);
	for (; from + 64 <= to; from += 64)
		bm[from / 64] = ~0ull;
	for (; from < to; from++)
		bm[from / 64] |= 1ull << (from & 63);
}

/* The category filter is exactly WRITTEN in and out: that is the kernel's
 * fast path, which re-protects a page only if it was output, so a full
 * vec stops the walk (walk_end) without losing a page to it. */
long uffd_wp_scan(int pagemap_fd, void *addr, size_t len, uint64_t *bitmap,
		  uint64_t first, bool reprotect)
{
	struct uffd_region vec[UFFD_SCAN_VEC];
	uint64_t base = (uintptr_t)addr;
	struct uffd_scan_arg a = {
		.size = sizeof(a),
		.flags = UFFD_SCAN_CHECK_WPASYNC |
			 (reprotect ? UFFD_SCAN_WP_MATCHING : 0),
		.start = base,
		.end = base + len,
		.vec = (uintptr_t)vec,
		.vec_len = UFFD_SCAN_VEC,
		.category_mask = UFFD_PAGE_IS_WRITTEN,
		.return_mask = UFFD_PAGE_IS_WRITTEN,
	};
	long pages = 0;

	if ((base | len) & (UFFD_PAGE - 1))
		return -EINVAL;
	while (a.start < a.end) {
		int n = ioctl(pagemap_fd, UFFD_PAGEMAP_SCAN, &a);

		/* No retry on error: pages already re-protected by this
		 * call may be lost with its output, so the caller must
		 * treat the log as broken. */
		if (n < 0)
			return -errno;
		for (int i = 0; i < n; i++) {
			uint64_t s = (vec[i].start - base) / UFFD_PAGE;
			uint64_t e = (vec[i].end - base) / UFFD_PAGE;

			bits_set(bitmap, first + s, first + e);
			pages += (long)(e - s);
		}
		if (a.walk_end <= a.start || a.walk_end > a.end)
			return -EIO;    /* no progress: never loop forever */
		a.start = a.walk_end;
	}
	return pages;
}
