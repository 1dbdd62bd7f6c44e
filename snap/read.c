/* snap/read.c - the snapshot reader: opening checks header, commit record
 * and the checksums of the metadata and the index; pages and the state
 * are read with pread at their offsets and checked as they are read. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "snap/read.h"

struct snap_file {
	int fd;
	struct snap_hdr h;
	struct snap_commit c;
	struct snap_index x;
	struct snap_meta meta;
};

/* len bytes at off, or -EBADMSG when the file ends first (it was cut,
 * or changed under us). */
static int pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EBADMSG;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* The header, then the commit record that must end the file. */
static int open_frame(struct snap_file *f, uint64_t size)
{
	uint8_t hb[SNAP_HDR_LEN], cb[SNAP_COMMIT_LEN];
	size_t hl = size < SNAP_HDR_LEN ? (size_t)size : SNAP_HDR_LEN;
	int r;

	if ((r = pread_all(f->fd, hb, hl, 0)) || (r = snap_hdr_decode(hb, hl, &f->h)))
		return r;
	if (size < SNAP_HDR_LEN + SNAP_COMMIT_LEN)
		return -EBADMSG;
	if ((r = pread_all(f->fd, cb, sizeof(cb), size - SNAP_COMMIT_LEN)) ||
	    (r = snap_commit_decode(cb, sizeof(cb), &f->c)) ||
	    (r = snap_commit_check(&f->h, &f->c)))
		return r;
	return f->c.file_size == size ? 0 : -EBADMSG;
}

/* Header + configuration against their checksum, then the configuration
 * decoded; it must describe as many pages as the header says. */
static int open_meta(struct snap_file *f)
{
	size_t len = f->c.config_off + f->c.config_len;
	uint8_t *b = malloc(len);
	int r;

	if (!b)
		return -ENOMEM;
	r = pread_all(f->fd, b, len, 0);
	if (!r && XXH3_64bits(b, len) != f->c.meta_sum)
		r = -EBADMSG;
	if (!r)
		r = snap_config_decode(b + f->c.config_off, f->c.config_len, &f->meta);
	if (!r && snap_meta_pages(&f->meta) != f->h.npages)
		r = -EBADMSG;
	free(b);
	return r;
}

static int open_index(struct snap_file *f)
{
	uint64_t present, data;
	uint8_t *b = malloc(f->c.index_len);
	int r;

	if (!b)
		return -ENOMEM;
	r = pread_all(f->fd, b, f->c.index_len, f->c.index_off);
	if (!r && XXH3_64bits(b, f->c.index_len) != f->c.index_sum)
		r = -EBADMSG;
	if (!r)
		r = snap_index_init(&f->x, f->h.npages);
	if (!r)
		r = snap_index_decode(b, f->c.index_len, f->h.flags, &f->x, &present, &data);
	if (!r && (present != f->c.present || data != f->c.data_pages))
		r = -EBADMSG;
	free(b);
	return r;
}

int snap_open_fd(int fd, struct snap_file **out)
{
	struct snap_file *f;
	struct stat st;
	int r;

	*out = NULL;
	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	r = f->fd < 0 ? -errno : open_frame(f, (uint64_t)st.st_size);
	if (!r)
		r = open_meta(f);
	if (!r)
		r = open_index(f);
	if (r) {
		snap_close(f);
		return r;
	}
	*out = f;
	return 0;
}

int snap_open(const char *path, struct snap_file **out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	*out = NULL;
	if (fd < 0)
		return -errno;
	r = snap_open_fd(fd, out);
	close(fd);
	return r;
}

void snap_close(struct snap_file *f)
{
	if (!f)
		return;
	if (f->fd >= 0)
		close(f->fd);
	snap_index_free(&f->x);
	free(f);
}

const struct snap_meta *snap_meta_of(const struct snap_file *f) { return &f->meta; }
const struct snap_hdr *snap_hdr_of(const struct snap_file *f) { return &f->h; }
const struct snap_commit *snap_commit_of(const struct snap_file *f) { return &f->c; }
const struct snap_id *snap_id_of(const struct snap_file *f) { return &f->h.id; }
const struct snap_id *snap_parent_id_of(const struct snap_file *f) { return &f->h.parent_id; }
uint64_t snap_npages(const struct snap_file *f) { return f->h.npages; }
int snap_fd(const struct snap_file *f) { return f->fd; }

bool snap_is_incremental(const struct snap_file *f)
{
	return f->h.flags & SNAP_F_INCREMENTAL;
}

void snap_as_parent(const struct snap_file *f, struct snap_parent *p)
{
	p->id = f->h.id;
	p->commit = f->c.sum;
}

bool snap_is_parent_of(const struct snap_file *parent, const struct snap_file *child)
{
	return snap_is_incremental(child) &&
	       !memcmp(parent->h.id.b, child->h.parent_id.b, SNAP_ID_LEN) &&
	       parent->c.sum.lo == child->h.parent_commit.lo &&
	       parent->c.sum.hi == child->h.parent_commit.hi;
}

bool snap_page_held(const struct snap_file *f, uint64_t pfn)
{
	return pfn < f->h.npages && pcm_bitmap_test(&f->x.present, pfn);
}

bool snap_page_zero(const struct snap_file *f, uint64_t pfn)
{
	return pfn < f->h.npages && pcm_bitmap_test(&f->x.zero, pfn);
}

uint64_t snap_page_off(const struct snap_file *f, uint64_t pfn)
{
	return f->h.ram_off + pfn * SNAP_PAGE;
}

int snap_page_check(const struct snap_file *f, uint64_t pfn, const void *page)
{
	if (pfn >= f->h.npages)
		return -EINVAL;
	if (!pcm_bitmap_test(&f->x.present, pfn))
		return -ENOENT;
	return snap_page_sum(page) == f->x.sum[pfn] ? 0 : -EILSEQ;
}

int snap_page_read(const struct snap_file *f, uint64_t pfn, void *buf)
{
	int r;

	if (pfn >= f->h.npages)
		return -EINVAL;
	if (!pcm_bitmap_test(&f->x.present, pfn))
		return -ENOENT;
	/* A zero page is a hole: the index, whose checksum held, says so,
	 * and no byte of the file is read. */
	if (pcm_bitmap_test(&f->x.zero, pfn)) {
		memset(buf, 0, SNAP_PAGE);
		return 0;
	}
	r = pread_all(f->fd, buf, SNAP_PAGE, snap_page_off(f, pfn));
	return r ? r : snap_page_check(f, pfn, buf);
}

int snap_state(const struct snap_file *f, void **blob, size_t *len)
{
	void *b = malloc(f->c.state_len);
	int r;

	*blob = NULL;
	*len = 0;
	if (!b)
		return -ENOMEM;
	r = pread_all(f->fd, b, f->c.state_len, f->c.state_off);
	if (!r && XXH3_64bits(b, f->c.state_len) != f->c.state_sum)
		r = -EILSEQ;
	if (r) {
		free(b);
		return r;
	}
	*blob = b;
	*len = f->c.state_len;
	return 0;
}

static bool has_bytes(const struct snap_file *f, uint64_t pfn)
{
	return pcm_bitmap_test(&f->x.present, pfn) && !pcm_bitmap_test(&f->x.zero, pfn);
}

int snap_pages_read(const struct snap_file *f, uint64_t first, uint64_t n, void *buf,
		    uint64_t *bad)
{
	uint8_t *b = buf;
	int r;

	if (first >= f->h.npages || n > f->h.npages - first) {
		*bad = first;
		return -EINVAL;
	}
	for (uint64_t i = 0; i < n; i++)
		if (!has_bytes(f, first + i)) {
			*bad = first + i;
			return pcm_bitmap_test(&f->x.present, first + i) ? -EINVAL : -ENOENT;
		}
	if ((r = pread_all(f->fd, b, n * SNAP_PAGE, snap_page_off(f, first)))) {
		*bad = first;
		return r;
	}
	for (uint64_t i = 0; i < n; i++)
		if ((r = snap_page_check(f, first + i, b + i * SNAP_PAGE))) {
			*bad = first + i;
			return r;
		}
	return 0;
}

/* Pages with bytes in the file, a run of at most 256 (1 MiB) per read. */
static int verify_pages(const struct snap_file *f, uint8_t *buf, uint64_t *bad)
{
	const uint64_t max = 256;

	for (uint64_t p = 0; p < f->h.npages;) {
		uint64_t n = 0;
		int r;

		while (p < f->h.npages && !has_bytes(f, p))
			p++;
		while (p + n < f->h.npages && n < max && has_bytes(f, p + n))
			n++;
		if (!n)
			break;
		if ((r = snap_pages_read(f, p, n, buf, bad)))
			return r;
		p += n;
	}
	return 0;
}

int snap_verify(const struct snap_file *f, uint64_t *bad_pfn)
{
	uint64_t bad = UINT64_MAX;
	uint8_t *buf = malloc(256 * SNAP_PAGE);
	void *blob;
	size_t len;
	int r;

	if (!buf)
		return -ENOMEM;
	r = verify_pages(f, buf, &bad);
	free(buf);
	if (!r && !(r = snap_state(f, &blob, &len)))
		free(blob);
	if (bad_pfn)
		*bad_pfn = bad;
	return r;
}
