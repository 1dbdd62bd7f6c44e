/* snap/wset.c - the working-set record beside a snapshot file: encoded
 * field by field, written through a synced temporary file and a rename,
 * read back checked against the snapshot it names. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "lib/codec.h"
#include "snap/wset.h"

#define WSET_MAGIC   "PCMSWS1"
#define WSET_VERSION 1u
#define WSET_HDR     40u   /* magic 8, version 4, pad 4, id 16, count 8 */

int snap_wset_path(const char *path, char *out, size_t len)
{
	int n = snprintf(out, len, "%s%s", path, SNAP_WSET_SUFFIX);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static uint8_t *wset_encode(const struct snap_file *f, const uint64_t *pfn, uint64_t n,
			    size_t *len)
{
	size_t cap = WSET_HDR + n * 8 + 8;
	uint8_t *b = malloc(cap);
	struct pcm_enc e = { b, cap, 0, false };

	if (!b)
		return NULL;
	pcm_put_bytes(&e, WSET_MAGIC, 8);
	pcm_put_u32(&e, WSET_VERSION);
	pcm_put_u32(&e, 0);
	pcm_put_bytes(&e, snap_id_of(f)->b, SNAP_ID_LEN);
	pcm_put_u64(&e, n);
	for (uint64_t i = 0; i < n; i++)
		pcm_put_u64(&e, pfn[i]);
	pcm_put_u64(&e, XXH3_64bits(b, e.pos));
	*len = e.pos;
	return b;
}

int snap_wset_write(const char *path, const struct snap_file *f, const uint64_t *pfn,
		    uint64_t n)
{
	char ws[4096], tmp[4100];
	size_t len;
	uint8_t *b;
	int fd, err;

	if ((err = snap_wset_path(path, ws, sizeof(ws))))
		return err;
	snprintf(tmp, sizeof(tmp), "%s.tmp", ws);
	if (!(b = wset_encode(f, pfn, n, &len)))
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	err = fd < 0 ? -errno : write_all(fd, b, len);
	if (!err && fsync(fd))
		err = -errno;
	if (fd >= 0 && close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, ws))
		err = -errno;
	if (err && fd >= 0)
		unlink(tmp);
	free(b);
	return err;
}

static int wset_decode(const uint8_t *b, size_t len, const struct snap_file *f, uint64_t **pfn,
		       uint64_t *n)
{
	struct pcm_dec d = { b, len, 0, false };
	uint8_t magic[8], id[SNAP_ID_LEN];
	struct pcm_dec sum;
	uint64_t count;

	if (len < WSET_HDR + 8)
		return -EBADMSG;
	sum = (struct pcm_dec){ b + len - 8, 8, 0, false };
	if (XXH3_64bits(b, len - 8) != pcm_get_u64(&sum))
		return -EBADMSG;
	pcm_get_bytes(&d, magic, 8);
	if (memcmp(magic, WSET_MAGIC, 8) || pcm_get_u32(&d) != WSET_VERSION)
		return -EBADMSG;
	(void)pcm_get_u32(&d);
	pcm_get_bytes(&d, id, SNAP_ID_LEN);
	count = pcm_get_u64(&d);
	if (count != (len - WSET_HDR - 8) / 8 || (len - WSET_HDR - 8) % 8)
		return -EBADMSG;
	if (memcmp(id, snap_id_of(f)->b, SNAP_ID_LEN))
		return -ESTALE;
	if (!(*pfn = malloc((count ? count : 1) * sizeof(**pfn))))
		return -ENOMEM;
	for (uint64_t i = 0; i < count; i++)
		if (((*pfn)[i] = pcm_get_u64(&d)) >= snap_npages(f)) {
			free(*pfn);
			*pfn = NULL;
			return -EBADMSG;
		}
	*n = count;
	return 0;
}

int snap_wset_read(const char *path, const struct snap_file *f, uint64_t **pfn, uint64_t *n)
{
	char ws[4096];
	struct stat st;
	uint8_t *b = NULL;
	ssize_t got = -1;
	int fd, err;

	*pfn = NULL;
	*n = 0;
	if ((err = snap_wset_path(path, ws, sizeof(ws))))
		return err;
	if ((fd = open(ws, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	err = fstat(fd, &st) ? -errno : 0;
	if (!err && (st.st_size < 0 || (uint64_t)st.st_size > WSET_HDR + 8 + snap_npages(f) * 8 + 8))
		err = -EBADMSG;   /* more pages than the snapshot has, many times over */
	if (!err && !(b = malloc((size_t)st.st_size + 1)))
		err = -ENOMEM;
	if (!err && (got = pread(fd, b, (size_t)st.st_size, 0)) != st.st_size)
		err = got < 0 ? -errno : -EBADMSG;
	if (!err)
		err = wset_decode(b, (size_t)st.st_size, f, pfn, n);
	free(b);
	close(fd);
	return err;
}
