/* kvm/dev/virtio_blk.c - the virtio block device (virtio 1.2, 5.2) as a
 * virtio-mmio back-end over a raw image file: opening and checking the
 * image, the configuration space, the I/O thread that takes requests off
 * the queue and serves them with preadv/pwritev/fdatasync, quiesce for a
 * save, and the section that names the disk (size, read-only, serial,
 * fingerprint) so that a load onto another disk is refused.
 *
 * Locks: the transport's device lock (kvm_virtio_lock) guards the queue,
 * epoch and broken; the back-end's own mutex m guards the thread's
 * flags. m may be taken under the device lock (callbacks), never the
 * other way round, so a callback never waits for the thread's I/O.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <xxhash.h>

#include "kvm/dev/virtio.h"
#include "kvm/vmm.h"
#include "lib/codec.h"

#define SECTOR     512ull
#define HDR_BYTES  16
#define PRINT_SPAN (1ull << 20)   /* fingerprint: first and last MiB */

struct blk {
	int fd;
	uint64_t size;                     /* bytes */
	int ro;
	char serial[KVM_VIRTIO_BLK_ID_BYTES];
	/* Under the device lock. */
	uint64_t epoch;                    /* bumped by every reset */
	int broken;                        /* a malformed chain: wait for reset */
	/* Under m. */
	pthread_mutex_t m;
	pthread_cond_t wake, idle;
	struct kvm_virtio *d;
	int kick, busy, quiesced, stop;
	/* The fingerprint as last taken, and whether it still holds: every
	 * write into a fingerprinted span bumps span_gen before and after,
	 * so a print taken while one was in flight is never kept. */
	uint64_t print, print_gen, span_gen;
	int print_ok;
	pthread_t thread;
	/* The I/O thread's alone. */
	struct kvm_virtq_req req;
	struct iovec data[KVM_VIRTQ_MAX_SEGS];
};

static int reason(char *why, size_t wlen, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int reason(char *why, size_t wlen, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (why && wlen)
		vsnprintf(why, wlen, fmt, ap);
	va_end(ap);
	return err;
}

/* ---- iovecs ---- */

/* out = the bytes [skip, skip + len) of in[0, n); the count of out. */
static unsigned slice(const struct iovec *in, unsigned n, uint64_t skip, uint64_t len,
		      struct iovec *out)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n && len; i++) {
		uint64_t l = in[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		l -= skip;
		if (l > len)
			l = len;
		out[k++] = (struct iovec){ (uint8_t *)in[i].iov_base + skip, l };
		len -= l;
		skip = 0;
	}
	return k;
}

static void gather(const struct iovec *in, unsigned n, uint8_t *dst, uint64_t len)
{
	struct iovec s[HDR_BYTES];
	unsigned k = slice(in, n, 0, len, s);

	for (unsigned i = 0; i < k; i++) {
		memcpy(dst, s[i].iov_base, s[i].iov_len);
		dst += s[i].iov_len;
	}
}

/* All of iov[0, n) at off, looping on short transfers (iov is consumed).
 * Bytes done, or negative errno; -EIO at the file's end. */
static int64_t rw_all(int fd, struct iovec *iov, unsigned n, uint64_t off, int write)
{
	uint64_t done = 0;

	while (n) {
		ssize_t k = write ? pwritev(fd, iov, (int)n, (off_t)(off + done))
				  : preadv(fd, iov, (int)n, (off_t)(off + done));

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? -errno : -EIO;
		done += (uint64_t)k;
		while (n && (size_t)k >= iov->iov_len) {
			k -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n) {
			iov->iov_base = (uint8_t *)iov->iov_base + k;
			iov->iov_len -= (size_t)k;
		}
	}
	return (int64_t)done;
}

static void mark(const struct kvm_guest_mem *m, const struct iovec *iov, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		kvm_gpa_wrote(m, iov[i].iov_base, iov[i].iov_len);
}

/* ---- one request (5.2.6) ---- */

struct job {
	uint32_t type;
	uint64_t sector;
	uint8_t *status;                   /* the last writable byte */
	uint8_t st;
	uint32_t used;                     /* bytes written for the used ring */
};

/* Header in the first 16 readable bytes, status the last writable one. */
static int parse(const struct kvm_virtq_req *r, struct job *j)
{
	uint8_t h[HDR_BYTES];
	const struct iovec *w = r->iov + r->nread;
	unsigned last = r->nwrite;

	if (r->read_len < HDR_BYTES || !r->write_len)
		return -EINVAL;
	gather(r->iov, r->nread, h, HDR_BYTES);
	memcpy(&j->type, h, 4);
	memcpy(&j->sector, h + 8, 8);
	j->type = le32toh(j->type);
	j->sector = le64toh(j->sector);
	while (!w[last - 1].iov_len)
		last--;
	j->status = (uint8_t *)w[last - 1].iov_base + w[last - 1].iov_len - 1;
	j->used = 1;
	return 0;
}

static int in_range(const struct blk *b, uint64_t sector, uint64_t len)
{
	return len % SECTOR == 0 && sector <= b->size / SECTOR &&
	       len <= b->size - sector * SECTOR;
}

/* IN (write 1) or OUT: the data part of the request. */
/* Does [off, off + len) touch the first or the last MiB (fingerprint)? */
static int in_span(const struct blk *b, uint64_t off, uint64_t len)
{
	uint64_t span = b->size < PRINT_SPAN ? b->size : PRINT_SPAN;

	return off < span || off + len > b->size - span;
}

static void span_bump(struct blk *b)
{
	pthread_mutex_lock(&b->m);
	b->span_gen++;
	pthread_mutex_unlock(&b->m);
}

static uint8_t do_rw(struct blk *b, const struct kvm_guest_mem *m, struct job *j, int out)
{
	const struct kvm_virtq_req *r = &b->req;
	uint64_t len = out ? r->read_len - HDR_BYTES : r->write_len - 1;
	unsigned n = out ? slice(r->iov, r->nread, HDR_BYTES, len, b->data)
			 : slice(r->iov + r->nread, r->nwrite, 0, len, b->data);
	int64_t got;
	int span;

	if (!in_range(b, j->sector, len) || (out && b->ro))
		return KVM_VIRTIO_BLK_S_IOERR;
	span = out && in_span(b, j->sector * SECTOR, len);
	if (span)
		span_bump(b);
	got = rw_all(b->fd, b->data, n, j->sector * SECTOR, out);
	if (span)
		span_bump(b);
	if (!out)                          /* rw_all consumed b->data: again */
		mark(m, b->data, slice(r->iov + r->nread, r->nwrite, 0, len, b->data));
	if (got < 0)
		return KVM_VIRTIO_BLK_S_IOERR;
	if (!out)
		j->used += (uint32_t)len;
	return KVM_VIRTIO_BLK_S_OK;
}

static uint8_t do_get_id(struct blk *b, const struct kvm_guest_mem *m, struct job *j)
{
	const struct kvm_virtq_req *r = &b->req;
	uint64_t len = r->write_len - 1;
	unsigned n;
	const uint8_t *src = (const uint8_t *)b->serial;

	if (len > KVM_VIRTIO_BLK_ID_BYTES)
		len = KVM_VIRTIO_BLK_ID_BYTES;
	n = slice(r->iov + r->nread, r->nwrite, 0, len, b->data);
	for (unsigned i = 0; i < n; i++) {
		memcpy(b->data[i].iov_base, src, b->data[i].iov_len);
		src += b->data[i].iov_len;
	}
	mark(m, b->data, n);
	j->used += (uint32_t)len;
	return KVM_VIRTIO_BLK_S_OK;
}

static void serve(struct blk *b, const struct kvm_guest_mem *m, struct job *j)
{
	switch (j->type) {
	case KVM_VIRTIO_BLK_T_IN:
		j->st = do_rw(b, m, j, 0);
		break;
	case KVM_VIRTIO_BLK_T_OUT:
		j->st = do_rw(b, m, j, 1);
		break;
	case KVM_VIRTIO_BLK_T_FLUSH:
		j->st = !b->ro && fdatasync(b->fd) ? KVM_VIRTIO_BLK_S_IOERR : KVM_VIRTIO_BLK_S_OK;
		break;
	case KVM_VIRTIO_BLK_T_GET_ID:
		j->st = do_get_id(b, m, j);
		break;
	default:
		j->st = KVM_VIRTIO_BLK_S_UNSUPP;
	}
}

/* ---- the I/O thread ---- */

static void broke(struct blk *b, struct kvm_virtio *d)
{
	b->broken = 1;
	kvm_virtio_needs_reset(d);
}

/* Take the next request under the lock: 1 (with *ep the epoch it was
 * taken in), 0 for none; a malformed one is put back and breaks. */
static int take(struct blk *b, struct kvm_virtio *d, struct job *j, uint64_t *ep)
{
	struct kvm_virtq *q = kvm_virtio_queue(d, 0);
	int r = 0;

	kvm_virtio_lock(d);
	if (q->ready && !b->broken) {
		r = kvm_virtq_pop(q, kvm_virtio_mem(d), &b->req);
		if (r > 0 && parse(&b->req, j)) {
			q->last_avail--;           /* leave the queue as it was */
			r = -EINVAL;
		}
		if (r < 0)
			broke(b, d);
	}
	*ep = b->epoch;
	kvm_virtio_unlock(d);
	return r > 0;
}

/* Status and used entry, unless a reset came meanwhile. */
static void complete(struct blk *b, struct kvm_virtio *d, const struct job *j, uint64_t ep)
{
	struct kvm_virtq *q = kvm_virtio_queue(d, 0);
	const struct kvm_guest_mem *m = kvm_virtio_mem(d);
	uint16_t old;

	kvm_virtio_lock(d);
	if (ep == b->epoch) {
		*j->status = j->st;
		kvm_gpa_wrote(m, j->status, 1);
		old = q->used_idx;
		if (kvm_virtq_push(q, m, b->req.head, j->used))
			broke(b, d);
		else
			kvm_virtio_used(d, 0, old);
	}
	kvm_virtio_unlock(d);
}

/* One request taken, served unlocked, completed: 1; 0 when none. */
static int serve_one(struct blk *b, struct kvm_virtio *d)
{
	struct job j = { 0 };
	uint64_t ep;

	if (!d || !take(b, d, &j, &ep))
		return 0;
	serve(b, kvm_virtio_mem(d), &j);
	complete(b, d, &j, ep);
	return 1;
}

static void *io_main(void *arg)
{
	struct blk *b = arg;
	struct kvm_virtio *d;
	int got;

	pthread_mutex_lock(&b->m);
	for (;;) {
		while (!b->stop && (b->quiesced || !b->kick))
			pthread_cond_wait(&b->wake, &b->m);
		if (b->stop)
			break;
		b->kick = 0;                   /* a notify from now on sets it again */
		b->busy = 1;
		d = b->d;
		pthread_mutex_unlock(&b->m);
		got = serve_one(b, d);
		pthread_mutex_lock(&b->m);
		b->busy = 0;
		b->kick |= got;                /* look for the next one */
		pthread_cond_broadcast(&b->idle);
	}
	pthread_mutex_unlock(&b->m);
	return NULL;
}

static void kick(struct blk *b, struct kvm_virtio *d)
{
	pthread_mutex_lock(&b->m);
	if (d)
		b->d = d;
	b->kick = 1;
	pthread_cond_signal(&b->wake);
	pthread_mutex_unlock(&b->m);
}

/* ---- back-end callbacks ---- */

static int blk_notify(void *ctx, struct kvm_virtio *d, unsigned q)
{
	(void)q;
	kick(ctx, d);
	return 0;
}

static void blk_reset(void *ctx)
{
	struct blk *b = ctx;

	b->epoch++;                        /* what is in flight is dropped */
	b->broken = 0;
	pthread_mutex_lock(&b->m);
	b->kick = 0;
	pthread_mutex_unlock(&b->m);
}

static int blk_quiesce(void *ctx, int on)
{
	struct blk *b = ctx;

	pthread_mutex_lock(&b->m);
	b->quiesced = on;
	if (on)
		while (b->busy)
			pthread_cond_wait(&b->idle, &b->m);
	else
		pthread_cond_signal(&b->wake);
	pthread_mutex_unlock(&b->m);
	return 0;
}

static void put32(uint8_t *p, uint32_t v) { v = htole32(v); memcpy(p, &v, 4); }

static void blk_config_read(void *ctx, uint32_t off, uint8_t *data, unsigned len)
{
	const struct blk *b = ctx;
	uint8_t c[KVM_VIRTIO_BLK_CONFIG_SIZE] = { 0 };
	uint64_t cap = htole64(b->size / SECTOR);

	memcpy(c, &cap, 8);                           /* capacity */
	put32(c + 12, KVM_VIRTIO_BLK_SEG_MAX);        /* seg_max */
	put32(c + 20, SECTOR);                        /* blk_size */
	memcpy(data, c + off, len);
}

/* ---- identity and state ---- */

static int hash_span(int fd, XXH3_state_t *h, uint8_t *buf, uint64_t off, uint64_t len)
{
	struct iovec v = { buf, len };
	int64_t got = rw_all(fd, &v, 1, off, 0);

	if (got < 0)
		return (int)got;
	XXH3_64bits_update(h, buf, len);
	return 0;
}

/* XXH3-64 over the first and the last MiB (the whole of a smaller disk). */
static int fingerprint(const struct blk *b, uint64_t *out)
{
	uint64_t span = b->size < PRINT_SPAN ? b->size : PRINT_SPAN;
	XXH3_state_t *h = XXH3_createState();
	uint8_t *buf = malloc(span ? span : 1);
	int err = -ENOMEM;

	if (h && buf && XXH3_64bits_reset(h) == XXH_OK &&
	    !(err = hash_span(b->fd, h, buf, 0, span)) &&
	    !(err = hash_span(b->fd, h, buf, b->size - span, span)))
		*out = XXH3_64bits_digest(h);
	free(buf);
	XXH3_freeState(h);
	return err;
}

/* Take the fingerprint now and keep it, unless a write into a span
 * overlapped the reading. */
static int print_take(struct blk *b, uint64_t *fp)
{
	uint64_t gen;
	int err;

	pthread_mutex_lock(&b->m);
	gen = b->span_gen;
	pthread_mutex_unlock(&b->m);
	if ((err = fingerprint(b, fp)))
		return err;
	pthread_mutex_lock(&b->m);
	if (gen == b->span_gen) {
		b->print = *fp;
		b->print_gen = gen;
		b->print_ok = 1;
	}
	pthread_mutex_unlock(&b->m);
	return 0;
}

/* The kept fingerprint, if no write into a span came after it: 1. */
static int print_kept(struct blk *b, uint64_t *fp)
{
	int kept;

	pthread_mutex_lock(&b->m);
	kept = b->print_ok && b->print_gen == b->span_gen;
	if (kept)
		*fp = b->print;
	pthread_mutex_unlock(&b->m);
	return kept;
}

/* A save is coming (a migration begins): have a fingerprint that holds,
 * read now while the guest runs rather than inside the pause. */
static int blk_save_prepare(void *ctx)
{
	struct blk *b = ctx;
	uint64_t fp;

	return print_kept(b, &fp) ? 0 : print_take(b, &fp);
}

/* The disk's identity, as the state and HELLO carry it: size, read-only,
 * serial, the print and whether it was kept (KVM_VIRTIO_BLK_STATE_SIZE). */
static int ident_put(const struct blk *b, uint8_t *buf, size_t len, uint64_t fp, int kept)
{
	struct pcm_enc e = { buf, len, 0, false };

	pcm_put_u64(&e, b->size);
	pcm_put_u8(&e, (uint8_t)b->ro);
	pcm_put_bytes(&e, b->serial, sizeof(b->serial));
	pcm_put_u64(&e, fp);
	pcm_put_u8(&e, (uint8_t)kept);
	return e.over || e.pos != len ? -EINVAL : 0;
}

#define DIFFERS "the disk differs from the source's: "

/* Is the identity in buf this disk's? at_pause: the source's print is
 * the disk at the pause, read again there unless kept; before it (HELLO)
 * an unkept print is already stale, and only the pause can compare. */
static int ident_check(struct blk *b, const uint8_t *buf, size_t len, int at_pause,
		       char *why, size_t wlen)
{
	struct pcm_dec dc = { buf, len, 0, false };
	char serial[KVM_VIRTIO_BLK_ID_BYTES];
	uint64_t size = pcm_get_u64(&dc), fp, here;
	uint8_t ro = pcm_get_u8(&dc), kept;
	int err;

	pcm_get_bytes(&dc, serial, sizeof(serial));
	fp = pcm_get_u64(&dc);
	kept = pcm_get_u8(&dc);
	if (dc.over || dc.pos != len || ro > 1 || kept > 1)
		return reason(why, wlen, -EINVAL, "its length or flags are wrong");
	if (size != b->size)
		return reason(why, wlen, -EINVAL, DIFFERS "%llu bytes here, %llu there",
			      (unsigned long long)b->size, (unsigned long long)size);
	if (ro != b->ro)
		return reason(why, wlen, -EINVAL, DIFFERS "read-only %s here, %s there",
			      b->ro ? "yes" : "no", ro ? "yes" : "no");
	if (memcmp(serial, b->serial, sizeof(serial)))
		return reason(why, wlen, -EINVAL, DIFFERS "another serial");
	if (!kept && !at_pause)
		return 0;
	/* kept: the source wrote no span since before this disk was opened
	 * here (its print dates from the migration's start at the latest), so
	 * the print taken here at opening is this disk as it is now, shared
	 * or copied. Otherwise read it again, inside the pause. */
	if (!(kept && print_kept(b, &here)) && (err = print_take(b, &here)))
		return reason(why, wlen, -EINVAL, "reading the disk: %s", strerror(-err));
	if (here != fp)
		return reason(why, wlen, -EINVAL, DIFFERS "its first or last MiB differ");
	return 0;
}

static size_t blk_state_size(void *ctx)
{
	(void)ctx;
	return KVM_VIRTIO_BLK_STATE_SIZE;
}

static int blk_save(void *ctx, uint8_t *buf, size_t len)
{
	struct blk *b = ctx;
	uint64_t fp;
	int err, kept;

	/* Quiesced: no write is in flight, so a kept print is the disk now. */
	if (!(kept = print_kept(b, &fp)) && (err = print_take(b, &fp)))
		return err;
	return ident_put(b, buf, len, fp, kept);
}

static int blk_load(void *ctx, const uint8_t *buf, size_t len, char *why, size_t wlen)
{
	return ident_check(ctx, buf, len, 1, why, wlen);
}

/* Before HELLO, the guest running: the print as kept (save_prepare has
 * just taken it), or taken once more. */
static int blk_identity(void *ctx, uint8_t *buf, size_t len)
{
	struct blk *b = ctx;
	uint64_t fp = 0;
	int kept = print_kept(b, &fp), err;

	if (!kept && (err = print_take(b, &fp)))
		return err;
	return ident_put(b, buf, len, fp, kept || print_kept(b, &fp));
}

static int blk_identity_check(void *ctx, const uint8_t *buf, size_t len, char *why,
			      size_t wlen)
{
	return ident_check(ctx, buf, len, 0, why, wlen);
}

/* After the vCPUs are loaded: requests made available before the pause. */
static void blk_activate(void *ctx)
{
	kick(ctx, NULL);
}

static void blk_destroy(void *ctx)
{
	struct blk *b = ctx;

	pthread_mutex_lock(&b->m);
	b->stop = 1;
	pthread_cond_signal(&b->wake);
	pthread_mutex_unlock(&b->m);
	pthread_join(b->thread, NULL);
	pthread_cond_destroy(&b->wake);
	pthread_cond_destroy(&b->idle);
	pthread_mutex_destroy(&b->m);
	close(b->fd);
	free(b);
}

#define BLK_BACKEND(feat) {                                             \
	.name = "disk", .kind = KVM_DEV_VIRTIO_BLK, .version = 2,       \
	.device_id = 2, .nqueues = 1,                                   \
	.features = (1ull << KVM_VIRTIO_BLK_F_SEG_MAX) |                \
		    (1ull << KVM_VIRTIO_BLK_F_BLK_SIZE) |               \
		    (1ull << KVM_VIRTIO_BLK_F_FLUSH) | (feat),          \
	.queue_max = KVM_VIRTIO_BLK_QUEUE_MAX,                          \
	.config_size = KVM_VIRTIO_BLK_CONFIG_SIZE,                      \
	.config_read = blk_config_read, .notify = blk_notify,           \
	.reset = blk_reset, .state_size = blk_state_size,               \
	.save = blk_save, .load = blk_load, .destroy = blk_destroy,     \
	.quiesce = blk_quiesce, .activate = blk_activate,               \
	.save_prepare = blk_save_prepare, .identity = blk_identity,     \
	.identity_check = blk_identity_check,                           \
	.identity_size = KVM_VIRTIO_BLK_STATE_SIZE,                     \
}

static const struct kvm_virtio_backend blk_rw = BLK_BACKEND(0);
static const struct kvm_virtio_backend blk_ro = BLK_BACKEND(1ull << KVM_VIRTIO_BLK_F_RO);

/* ---- opening ---- */

static int image_check(int fd, const struct kvm_virtio_blk_config *c, uint64_t *size,
		       char *why, size_t wlen)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return reason(why, wlen, -errno, "disk %s: %s", c->path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return reason(why, wlen, -EISDIR, "disk %s: a directory", c->path);
	if (!S_ISREG(st.st_mode))
		return reason(why, wlen, -EINVAL, "disk %s: not a regular file", c->path);
	if (!c->read_only && !(st.st_mode & 0222))
		return reason(why, wlen, -EACCES, "disk %s: the file is read-only (use ro)",
			      c->path);
	if (!st.st_size || st.st_size % (off_t)SECTOR)
		return reason(why, wlen, -EINVAL, "disk %s: %lld bytes, not a multiple of 512",
			      c->path, (long long)st.st_size);
	*size = (uint64_t)st.st_size;
	return 0;
}

static int blk_open(const struct kvm_virtio_blk_config *c, struct blk **out,
		    char *why, size_t wlen)
{
	size_t sl = c->serial ? strlen(c->serial) : 0;
	struct blk *b;
	uint64_t fp;
	int fd, err;

	if (!c->path)
		return reason(why, wlen, -EINVAL, "disk: no image path");
	if (sl > KVM_VIRTIO_BLK_ID_BYTES)
		return reason(why, wlen, -EINVAL, "disk %s: a serial longer than %d bytes",
			      c->path, KVM_VIRTIO_BLK_ID_BYTES);
	if ((fd = open(c->path, (c->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC)) < 0)
		return reason(why, wlen, -errno, "disk %s: %s", c->path, strerror(errno));
	if (!(b = calloc(1, sizeof(*b)))) {
		close(fd);
		return reason(why, wlen, -ENOMEM, "disk %s: out of memory", c->path);
	}
	b->fd = fd;
	b->ro = !!c->read_only;
	memcpy(b->serial, c->serial ? c->serial : "", sl);
	if ((err = image_check(fd, c, &b->size, why, wlen)))
		goto fail;
	pthread_mutex_init(&b->m, NULL);
	pthread_cond_init(&b->wake, NULL);
	pthread_cond_init(&b->idle, NULL);
	/* Nobody writes through this device yet: a destination's print is
	 * its disk until the state arrives (blk_load). */
	if ((err = print_take(b, &fp)))
		reason(why, wlen, err, "disk %s: reading it: %s", c->path, strerror(-err));
	else if ((err = -pthread_create(&b->thread, NULL, io_main, b)))
		reason(why, wlen, err, "disk %s: no I/O thread: %s", c->path, strerror(-err));
	if (err) {
		pthread_cond_destroy(&b->wake);
		pthread_cond_destroy(&b->idle);
		pthread_mutex_destroy(&b->m);
		goto fail;
	}
	*out = b;
	return 0;
fail:
	close(fd);
	free(b);
	return err;
}

int kvm_virtio_blk_attach(struct kvm_bus *mmio, struct kvm_devs *devs,
			  const struct kvm_virtio_mmio_config *mc,
			  const struct kvm_virtio_blk_config *c, char *why, size_t wlen,
			  struct kvm_virtio **out)
{
	struct kvm_virtio *d = NULL;
	struct blk *b = NULL;
	int err;

	if ((err = blk_open(c, &b, why, wlen)))
		return err;
	if ((err = kvm_virtio_mmio_attach(mmio, devs, mc, b->ro ? &blk_ro : &blk_rw, b, &d)))
		return reason(why, wlen, err, "disk %s: registering the device: %s",
			      c->path, strerror(-err));
	pthread_mutex_lock(&b->m);
	b->d = d;
	pthread_mutex_unlock(&b->m);
	if (out)
		*out = d;
	return 0;
}

int kvm_virtio_blk_add(struct kvm_vm *vm, uint64_t base, unsigned gsi,
		       const struct kvm_virtio_blk_config *c)
{
	struct kvm_virtio_mmio_config mc;

	kvm_virtio_vm_config(vm, base, gsi, &mc);
	return kvm_virtio_blk_attach(&vm->mmio, &vm->devs, &mc, c, vm->why, sizeof(vm->why), NULL);
}
