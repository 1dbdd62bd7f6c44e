/* snap/write.c - the snapshot writer: header and configuration at open,
 * pages at their fixed offsets (zero pages left as holes), the state blob
 * after RAM, and at commit the index and the commit record, each step
 * synced before the next, then PATH.tmp renamed onto PATH. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "lib/clock.h"
#include "snap/write.h"

struct snap_writer {
	int fd;                   /* PATH.tmp, flock()ed */
	unsigned flags;
	char *path, *tmp;
	dev_t dev;                /* the inode we own at tmp */
	ino_t ino;
	struct snap_hdr h;
	struct snap_index x;
	uint64_t zero_sum;
	uint64_t meta_sum;
	uint64_t state_len, state_sum;
	int err;                  /* first failed write: commit refuses */
};

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Keep the first error of any thread; return err. */
static int fail(struct snap_writer *w, int err)
{
	int none = 0;

	if (err)
		__atomic_compare_exchange_n(&w->err, &none, err, false, __ATOMIC_ACQ_REL,
					    __ATOMIC_ACQUIRE);
	return err;
}

static int random_id(struct snap_id *id)
{
	size_t got = 0;

	while (got < sizeof(id->b)) {
		ssize_t n = getrandom(id->b + got, sizeof(id->b) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		got += (size_t)n;
	}
	/* The all-zero id means "no parent": never give it out. */
	return snap_id_is_zero(id) ? random_id(id) : 0;
}

/* Does the name tmp still lead to the inode we hold? Another process may
 * have removed it and made its own. */
static bool own_tmp(const struct snap_writer *w)
{
	struct stat st;

	return lstat(w->tmp, &st) == 0 && st.st_dev == w->dev && st.st_ino == w->ino;
}

/* Open and lock PATH.tmp. A file there whose lock is free was left by a
 * writer that died: it is ours to truncate. The name is checked after the
 * lock, so a file that a finished writer renamed away meanwhile is never
 * the one truncated. */
static int tmp_open(struct snap_writer *w)
{
	for (int tries = 0; tries < 8; tries++) {
		struct stat st;
		int fd = open(w->tmp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

		if (fd < 0)
			return -errno;
		if (flock(fd, LOCK_EX | LOCK_NB)) {
			int e = errno == EWOULDBLOCK ? -EBUSY : -errno;

			close(fd);
			return e;
		}
		if (fstat(fd, &st)) {
			close(fd);
			return -errno;
		}
		w->fd = fd;
		w->dev = st.st_dev;
		w->ino = st.st_ino;
		if (own_tmp(w))
			return ftruncate(fd, 0) ? -errno : 0;
		close(fd);
		w->fd = -1;
	}
	return -EBUSY;
}

static char *cat(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + lb + 1);

	if (s) {
		memcpy(s, a, la);
		memcpy(s + la, b, lb + 1);
	}
	return s;
}

static void writer_free(struct snap_writer *w)
{
	if (w->fd >= 0)
		close(w->fd);
	snap_index_free(&w->x);
	free(w->path);
	free(w->tmp);
	free(w);
}

/* The header and the configuration, one write at offset 0; their
 * checksum goes into the commit record. */
static int write_meta(struct snap_writer *w, const struct snap_meta *m)
{
	size_t cap = SNAP_HDR_LEN + snap_config_max(), clen;
	uint8_t *buf = calloc(1, cap);
	int r;

	if (!buf)
		return -ENOMEM;
	clen = snap_config_encode(m, buf + SNAP_HDR_LEN, cap - SNAP_HDR_LEN);
	if (!clen) {
		free(buf);
		return -EINVAL;
	}
	w->h.config_len = (uint32_t)clen;
	w->h.ram_off = (SNAP_HDR_LEN + clen + SNAP_PAGE - 1) / SNAP_PAGE * SNAP_PAGE;
	snap_hdr_encode(&w->h, buf);
	w->meta_sum = XXH3_64bits(buf, SNAP_HDR_LEN + clen);
	r = pwrite_all(w->fd, buf, SNAP_HDR_LEN + clen, 0);
	free(buf);
	return r;
}

static int writer_start(struct snap_writer *w, const struct snap_meta *m,
			const struct snap_parent *parent)
{
	int r;

	w->h.version = SNAP_VERSION;
	w->h.hdr_len = SNAP_HDR_LEN;
	w->h.page_size = SNAP_PAGE;
	w->h.npages = snap_meta_pages(m);
	w->h.created_ns = pcm_clock_ns(CLOCK_REALTIME);
	if (parent) {
		if (snap_id_is_zero(&parent->id))
			return -EINVAL;
		w->h.flags |= SNAP_F_INCREMENTAL;
		w->h.parent_id = parent->id;
		w->h.parent_commit = parent->commit;
	}
	w->zero_sum = snap_zero_sum();
	if ((r = random_id(&w->h.id)) || (r = snap_index_init(&w->x, w->h.npages)))
		return r;
	if ((r = tmp_open(w)))
		return r;
	return write_meta(w, m);
}

int snap_writer_open(const char *path, const struct snap_meta *m,
		     const struct snap_parent *parent, unsigned flags,
		     struct snap_writer **out)
{
	struct snap_writer *w;
	int r;

	*out = NULL;
	if (!path || !*path || snap_meta_check(m))
		return -EINVAL;
	/* Refused now rather than after the whole write; the rename at
	 * commit refuses again, without a window. */
	if (!(flags & SNAP_W_REPLACE) && access(path, F_OK) == 0)
		return -EEXIST;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->fd = -1;
	w->flags = flags;
	w->path = strdup(path);
	w->tmp = cat(path, ".tmp");
	r = w->path && w->tmp ? writer_start(w, m, parent) : -ENOMEM;
	if (r) {
		snap_writer_abort(w);
		return r;
	}
	*out = w;
	return 0;
}

static uint64_t page_off(const struct snap_writer *w, uint64_t pfn)
{
	return w->h.ram_off + pfn * SNAP_PAGE;
}

/* A zero page: no bytes in the file. One that held data before (a page
 * written twice) has its old bytes punched out, or overwritten with zeros
 * where the file system cannot punch. */
static int page_zero(struct snap_writer *w, uint64_t pfn)
{
	bool had_data = pcm_bitmap_test(&w->x.present, pfn) && !pcm_bitmap_test(&w->x.zero, pfn);
	static const uint8_t zeros[SNAP_PAGE];

	w->x.sum[pfn] = w->zero_sum;
	pcm_bitmap_set(&w->x.zero, pfn);
	pcm_bitmap_set(&w->x.present, pfn);
	if (!had_data)
		return 0;
	if (fallocate(w->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)page_off(w, pfn), SNAP_PAGE) == 0)
		return 0;
	return pwrite_all(w->fd, zeros, SNAP_PAGE, page_off(w, pfn));
}

/* Pages [first, first + n) of a run of non-zero pages at p. */
static int run_flush(struct snap_writer *w, uint64_t first, uint64_t n, const uint8_t *p)
{
	if (!n)
		return 0;
	return pwrite_all(w->fd, p, n * SNAP_PAGE, page_off(w, first));
}

int snap_writer_pages(struct snap_writer *w, uint64_t pfn, uint64_t n, const void *pages)
{
	const uint8_t *p = pages;
	uint64_t run = 0;
	int r = 0;

	if (pfn > w->h.npages || n > w->h.npages - pfn)
		return -EINVAL;
	for (uint64_t i = 0; i < n && !r; i++) {
		const uint8_t *pg = p + i * SNAP_PAGE;

		if (!snap_page_is_zero(pg)) {
			w->x.sum[pfn + i] = snap_page_sum(pg);
			pcm_bitmap_clear(&w->x.zero, pfn + i);
			pcm_bitmap_set(&w->x.present, pfn + i);
			run++;
			continue;
		}
		r = run_flush(w, pfn + i - run, run, pg - run * SNAP_PAGE);
		run = 0;
		if (!r)
			r = page_zero(w, pfn + i);
	}
	if (!r)
		r = run_flush(w, pfn + n - run, run, p + (n - run) * SNAP_PAGE);
	return fail(w, r);
}

int snap_writer_zero(struct snap_writer *w, uint64_t pfn, uint64_t n)
{
	int r = 0;

	if (pfn > w->h.npages || n > w->h.npages - pfn)
		return -EINVAL;
	for (uint64_t i = 0; i < n && !r; i++)
		r = page_zero(w, pfn + i);
	return fail(w, r);
}

int snap_writer_page(struct snap_writer *w, uint64_t pfn, const void *page)
{
	return snap_writer_pages(w, pfn, 1, page);
}

static uint64_t state_off(const struct snap_writer *w)
{
	return page_off(w, w->h.npages);
}

int snap_writer_state(struct snap_writer *w, const void *blob, size_t len)
{
	int r;

	if (w->state_len)
		return -EALREADY;
	if (!len || len > SNAP_STATE_MAX)
		return -EINVAL;
	r = pwrite_all(w->fd, blob, len, state_off(w));
	if (r)
		return fail(w, r);
	w->state_len = len;
	w->state_sum = XXH3_64bits(blob, len);
	return 0;
}

static uint64_t round8(uint64_t v)
{
	return (v + 7) & ~7ull;
}

/* The index after the state, then the record at the end. Everything
 * before the record is synced first, so no crash can leave a record that
 * vouches for bytes that never reached the disk; the record is synced
 * before the rename makes it visible at PATH. */
static int write_tail(struct snap_writer *w, struct snap_commit *c)
{
	uint8_t rec[SNAP_COMMIT_LEN];
	uint8_t *idx;
	int r;

	c->version = SNAP_VERSION;
	c->id = w->h.id;
	c->config_off = SNAP_HDR_LEN;
	c->config_len = w->h.config_len;
	c->ram_off = w->h.ram_off;
	c->ram_len = w->h.npages * SNAP_PAGE;
	c->state_off = state_off(w);
	c->state_len = w->state_len;
	c->index_off = round8(c->state_off + c->state_len);
	c->index_len = snap_index_len(w->h.npages);
	c->npages = w->h.npages;
	c->present = pcm_bitmap_count(&w->x.present);
	c->data_pages = c->present - pcm_bitmap_count(&w->x.zero);
	c->meta_sum = w->meta_sum;
	c->state_sum = w->state_sum;
	c->file_size = round8(c->index_off + c->index_len) + SNAP_COMMIT_LEN;
	idx = malloc(c->index_len);
	if (!idx)
		return -ENOMEM;
	snap_index_encode(&w->x, idx, c->index_len);
	c->index_sum = XXH3_64bits(idx, c->index_len);
	r = pwrite_all(w->fd, idx, c->index_len, c->index_off);
	free(idx);
	if (r || fdatasync(w->fd))
		return r ? r : -errno;
	snap_commit_encode(c, rec);
	r = pwrite_all(w->fd, rec, sizeof(rec), c->file_size - SNAP_COMMIT_LEN);
	if (r || fdatasync(w->fd))
		return r ? r : -errno;
	return 0;
}

/* tmp onto path; without SNAP_W_REPLACE never over an existing file, by
 * RENAME_NOREPLACE or, where the file system lacks it, link + unlink. */
static int publish(struct snap_writer *w)
{
	if (w->flags & SNAP_W_REPLACE)
		return rename(w->tmp, w->path) ? -errno : 0;
	if (renameat2(AT_FDCWD, w->tmp, AT_FDCWD, w->path, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	if (link(w->tmp, w->path))
		return -errno;
	return unlink(w->tmp) ? -errno : 0;
}

/* The directory's entry, so the new name survives a crash too. */
static int dir_sync(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	int fd, r = 0;

	if (!dir)
		return -ENOMEM;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return -errno;
	if (fsync(fd))
		r = -errno;
	close(fd);
	return r;
}

int snap_writer_commit(struct snap_writer *w, struct snap_parent *as_parent)
{
	struct snap_commit c;
	int r = __atomic_load_n(&w->err, __ATOMIC_ACQUIRE);

	if (!r && !w->state_len)
		r = -EINVAL;
	if (!r && !(w->h.flags & SNAP_F_INCREMENTAL) && !pcm_bitmap_full(&w->x.present))
		r = -EINVAL;
	if (!r)
		r = write_tail(w, &c);
	if (!r)
		r = publish(w);
	if (r) {
		snap_writer_abort(w);
		return r;
	}
	if (as_parent) {
		as_parent->id = c.id;
		as_parent->commit = c.sum;
	}
	r = dir_sync(w->path) ? -EIO : 0;
	writer_free(w);
	return r;
}

void snap_writer_abort(struct snap_writer *w)
{
	if (!w)
		return;
	/* Only while the name is still ours: unlink before close, so no
	 * other writer can have taken the lock over in between. */
	if (w->fd >= 0 && own_tmp(w))
		unlink(w->tmp);
	writer_free(w);
}

/* Pages [p, np) of region g from pfn base: the next extent that may hold
 * data, [*first, *end), from the memfd's SEEK_DATA/SEEK_HOLE; everything
 * may when the memfd cannot tell. */
void snap_region_next_data(const struct machine_region *g, uint64_t p, uint64_t np,
			   uint64_t *first, uint64_t *end)
{
	off_t at = (off_t)(g->memfd_off + p * SNAP_PAGE), d, h;

	*first = p;
	*end = np;
	if (g->memfd < 0)
		return;
	d = lseek(g->memfd, at, SEEK_DATA);
	if (d < 0) {
		if (errno == ENXIO)              /* a hole to the end */
			*first = np;
		return;
	}
	h = lseek(g->memfd, d, SEEK_HOLE);
	*first = ((uint64_t)d - g->memfd_off) / SNAP_PAGE;
	if (h > d)
		*end = ((uint64_t)h - g->memfd_off + SNAP_PAGE - 1) / SNAP_PAGE;
	*first = *first < np ? *first : np;
	*end = *end < np ? *end : np;
}

/* One region's pages from pfn base: holes as zero pages, the rest read
 * from the guest's mapping a chunk at a time. */
static int write_region(struct snap_writer *w, const struct machine_region *g, uint64_t base)
{
	const uint64_t chunk = 512;     /* 2 MiB per call */
	uint64_t np = g->size / SNAP_PAGE, first, end;
	int r;

	for (uint64_t p = 0; p < np; p = end) {
		snap_region_next_data(g, p, np, &first, &end);
		if (end <= first)
			end = first + (first < np);
		if ((r = snap_writer_zero(w, base + p, first - p)))
			return r;
		for (uint64_t q = first; q < end; q += chunk) {
			uint64_t k = end - q < chunk ? end - q : chunk;

			r = snap_writer_pages(w, base + q, k, g->host + q * SNAP_PAGE);
			if (r)
				return r;
		}
	}
	return 0;
}

static int write_regions(struct snap_writer *w, struct machine *m)
{
	const struct machine_region *rg;
	unsigned n = machine_regions(m, &rg);
	uint64_t pfn = 0;

	for (unsigned i = 0; i < n; i++) {
		int r = write_region(w, &rg[i], pfn);

		if (r)
			return r;
		pfn += rg[i].size / SNAP_PAGE;
	}
	return 0;
}

static int prefault_region(const struct machine_region *g)
{
	uint64_t np = g->size / SNAP_PAGE, first, end;

	for (uint64_t p = 0; p < np; p = end) {
		snap_region_next_data(g, p, np, &first, &end);
		if (end <= first)
			break;
		if (madvise(g->host + first * SNAP_PAGE, (end - first) * SNAP_PAGE,
			    MADV_POPULATE_READ))
			return -errno;
	}
	return 0;
}

int snap_machine_prefault(struct machine *m)
{
	const struct machine_region *rg;
	unsigned n = machine_regions(m, &rg);

	for (unsigned i = 0; i < n; i++) {
		int r = prefault_region(&rg[i]);

		if (r)
			return r;
	}
	return 0;
}

int snap_writer_machine_state(struct snap_writer *w, struct machine *m)
{
	size_t cap = machine_state_size(m);
	void *blob = malloc(cap ? cap : 1);
	ssize_t n;
	int r;

	if (!blob)
		return -ENOMEM;
	n = machine_save(m, blob, cap);
	r = n < 0 ? (int)n : snap_writer_state(w, blob, (size_t)n);
	free(blob);
	return r;
}

int snap_writer_machine(struct snap_writer *w, struct machine *m)
{
	/* The state first: machine_save refuses a running machine, and
	 * finding that out costs nothing before the pages are written. */
	int r = snap_writer_machine_state(w, m);

	return r ? r : write_regions(w, m);
}

int snap_write_paused(struct machine *m, const char *name, const char *path,
		      unsigned flags, struct snap_parent *as_parent)
{
	struct snap_meta *meta = malloc(sizeof(*meta));
	struct snap_writer *w;
	int r;

	if (!meta)
		return -ENOMEM;
	r = snap_meta_from_machine(m, name, meta);
	if (!r)
		r = snap_writer_open(path, meta, NULL, flags, &w);
	free(meta);
	if (r)
		return r;
	r = snap_writer_machine(w, m);
	if (r) {
		snap_writer_abort(w);
		return r;
	}
	return snap_writer_commit(w, as_parent);
}
