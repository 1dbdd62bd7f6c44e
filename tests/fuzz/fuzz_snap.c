/* tests/fuzz/fuzz_snap.c - libFuzzer target: arbitrary bytes as a
 * snapshot file (snap/), the outside input a restore or `snapshot check`
 * reads.
 *
 * Each input goes three ways:
 *   1. the decoders of snap/format.h on the bytes themselves (header,
 *      configuration, commit record), as buffers of any length;
 *   2. the whole file, as it is, through snap_open_fd on a memfd; a file
 *      that opens has its pages read, verified and its state read;
 *   3. the same after the input's commit record (its last 168 bytes,
 *      when they parse) was given the checksums the input's bytes have
 *      and its length: mutations then get past the checksums into the
 *      layout, configuration and index checks, which a fuzzer would
 *      almost never reach by guessing XXH3 values.
 * Promises: every call returns 0 or one of the errors snap/read.h names;
 * a file that opens describes a layout snap_meta_check takes, its zero
 * pages read as zeros, and ASan and UBSan see no access outside the
 * buffers (the decoders read only what they were given).
 *
 * The seeds (tests/fuzz/corpus/snap/) are small valid files made by
 * gen_corpus. tests/unit/test_snapfuzz.c includes this file (FUZZ_NO_MAIN)
 * to replay them and tests/fuzz/regress/snap/ through fuzz_snap_one.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include "snap/format.h"
#include "snap/read.h"
#include "tests/fuzz/fuzz_check.h"

#define FZN_READS 64

static int fzn_fd = -1;

static int fzn_err_ok(int r)
{
	return r == 0 || r == -EPROTO || r == -EPROTONOSUPPORT || r == -EBADMSG ||
	       r == -EILSEQ || r == -ENOMEM;
}

static int fzn_init(void)
{
	if (fzn_fd < 0)
		fzn_fd = memfd_create("fuzz_snap", MFD_CLOEXEC);
	return fzn_fd < 0 ? -errno : 0;
}

/* The memfd holds exactly these bytes. */
static void fzn_load(const uint8_t *data, size_t len)
{
	size_t done = 0;

	FZ_CHECK(ftruncate(fzn_fd, 0) == 0);
	while (done < len) {
		ssize_t n = pwrite(fzn_fd, data + done, len - done, (off_t)done);

		FZ_CHECK(n > 0);
		done += (size_t)n;
	}
}

static void fzn_page(const struct snap_file *f, uint64_t pfn, uint8_t *page)
{
	int r = snap_page_read(f, pfn, page);

	FZ_CHECK(r == 0 || r == -EILSEQ || r == -ENOENT || r == -EBADMSG);
	FZ_CHECK((r == -ENOENT) == !snap_page_held(f, pfn));
	if (!r && snap_page_zero(f, pfn))
		FZ_CHECK(snap_page_is_zero(page));
}

/* What a file that opened promises, and its pages and state read. */
static void fzn_use(const struct snap_file *f)
{
	static uint8_t page[SNAP_PAGE];
	const struct snap_meta *m = snap_meta_of(f);
	uint64_t n = snap_npages(f), bad;
	void *blob;
	size_t len;
	int r;

	FZ_CHECK(snap_meta_check(m) == 0);
	FZ_CHECK(snap_meta_pages(m) == n && n >= 1);
	FZ_CHECK(snap_page_read(f, n, page) == -EINVAL);
	for (uint64_t p = 0; p < n && p < FZN_READS; p++)
		fzn_page(f, p, page);
	r = snap_verify(f, &bad);
	FZ_CHECK(r == 0 || r == -EILSEQ || r == -EBADMSG);
	FZ_CHECK(bad < n || bad == UINT64_MAX);
	r = snap_state(f, &blob, &len);
	FZ_CHECK(r == 0 || r == -EILSEQ || r == -EBADMSG);
	FZ_CHECK(r || (blob && len == snap_commit_of(f)->state_len));
	free(blob);
}

static void fzn_open(const uint8_t *data, size_t len)
{
	struct snap_file *f = NULL;
	int r;

	fzn_load(data, len);
	r = snap_open_fd(fzn_fd, &f);
	FZ_CHECK(fzn_err_ok(r) && r != -EILSEQ);
	FZ_CHECK(!r == !!f);
	if (!r)
		fzn_use(f);
	snap_close(f);
}

/* XXH3-64 of [off, off + n) of b[len], or keep when it is not inside. */
static uint64_t fzn_sum(const uint8_t *b, size_t len, uint64_t off, uint64_t n, uint64_t keep)
{
	if (off > len || n > len - off)
		return keep;
	return XXH3_64bits(b + off, n);
}

/* The input with a commit record that its own bytes satisfy. */
static void fzn_fixed(const uint8_t *data, size_t len)
{
	struct snap_commit c;
	uint8_t *b;

	if (len < SNAP_HDR_LEN + SNAP_COMMIT_LEN)
		return;
	if (snap_commit_parse(data + len - SNAP_COMMIT_LEN, SNAP_COMMIT_LEN, &c))
		return;
	b = malloc(len);
	FZ_CHECK(b);
	memcpy(b, data, len);
	c.meta_sum = fzn_sum(b, len, 0, c.config_off + c.config_len, c.meta_sum);
	c.state_sum = fzn_sum(b, len, c.state_off, c.state_len, c.state_sum);
	c.index_sum = fzn_sum(b, len, c.index_off, c.index_len, c.index_sum);
	c.file_size = len;
	snap_commit_encode(&c, b + len - SNAP_COMMIT_LEN);
	fzn_open(b, len);
	free(b);
}

static void fzn_decoders(const uint8_t *data, size_t len)
{
	static struct snap_meta m;
	struct snap_hdr h;
	struct snap_commit c;

	FZ_CHECK(fzn_err_ok(snap_hdr_decode(data, len, &h)));
	FZ_CHECK(fzn_err_ok(snap_config_decode(data, len, &m)));
	FZ_CHECK(fzn_err_ok(snap_commit_decode(data, len, &c)));
}

int fuzz_snap_one(const uint8_t *data, size_t len)
{
	if (fzn_init())
		abort();
	fzn_decoders(data, len);
	fzn_open(data, len);
	fzn_fixed(data, len);
	return 0;
}

#ifndef FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	return fuzz_snap_one(data, len);
}
#endif
