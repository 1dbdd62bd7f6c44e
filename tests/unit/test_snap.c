/* tests/unit/test_snap.c - snap/: the snapshot file written from a fake
 * RAM buffer and read back; zero pages as holes; every damaged, torn,
 * truncated or newer file refused at open with its own error; a damaged
 * page found when read and by snap_verify; interrupted writers leave
 * nothing at PATH; incremental layers name their parent; a paused
 * thread-engine VM saved with snap_write_paused and restored from the
 * file into a new machine whose workload self-check passes.
 *
 * Files live in a mkdtemp directory under /tmp, removed at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "guest/workload.h"
#include "lib/clock.h"
#include "snap/format.h"
#include "snap/read.h"
#include "snap/write.h"

#define NP      256u                 /* fake guest: 1 MiB in two regions */
#define STATE_N 1000u

static char dir[64];
static uint8_t ram[NP * SNAP_PAGE];
static uint8_t state_blob[STATE_N];

static const char *in_dir(const char *name)
{
	static char path[4][512];
	static unsigned k;
	char *p = path[k++ % 4];

	snprintf(p, sizeof(path[0]), "%s/%s", dir, name);
	return p;
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Every third page zero, the others numbered noise; state noise too. */
static void fill_ram(uint64_t seed)
{
	uint64_t s = seed | 1;

	for (unsigned p = 0; p < NP; p++) {
		uint8_t *pg = ram + (size_t)p * SNAP_PAGE;

		if (p % 3 == 0) {
			memset(pg, 0, SNAP_PAGE);
			continue;
		}
		for (unsigned i = 0; i < SNAP_PAGE; i += 8) {
			uint64_t v = rng_next(&s);

			memcpy(pg + i, &v, 8);
		}
	}
	for (unsigned i = 0; i < STATE_N; i++)
		state_blob[i] = (uint8_t)rng_next(&s);
}

static unsigned zero_pages(void)
{
	return (NP + 2) / 3;
}

static void fake_meta(struct snap_meta *m)
{
	memset(m, 0, sizeof(*m));
	strcpy(m->name, "vm1");
	m->engine = MACHINE_ENGINE_THREAD;
	m->guest = MACHINE_GUEST_PAYLOAD;
	m->guest_abi = GUEST_ABI_VERSION;
	m->vcpus = 2;
	m->ram_bytes = (uint64_t)NP * SNAP_PAGE;
	m->nregions = 2;
	m->regions[0] = (struct snap_region){ 0, NP / 2 * SNAP_PAGE };
	m->regions[1] = (struct snap_region){ 4ull << 30, NP / 2 * SNAP_PAGE };
	m->features[3] = 0xabcdef;
	m->params.workload = WL_KV;
	m->params.kv_value_size = 128;
	m->params.seed = 77;
}

/* A full snapshot of ram: the first half page by page in reverse order,
 * the rest as one run, so order and batching must not matter. */
static void write_full(const char *path, struct snap_parent *as_parent)
{
	struct snap_meta m;
	struct snap_writer *w;

	fake_meta(&m);
	assert_int_equal(snap_writer_open(path, &m, NULL, 0, &w), 0);
	for (unsigned p = NP / 2; p-- > 0;)
		assert_int_equal(snap_writer_page(w, p, ram + (size_t)p * SNAP_PAGE), 0);
	assert_int_equal(snap_writer_pages(w, NP / 2, NP / 2, ram + NP / 2 * SNAP_PAGE), 0);
	assert_int_equal(snap_writer_state(w, state_blob, STATE_N), 0);
	assert_int_equal(snap_writer_state(w, state_blob, STATE_N), -EALREADY);
	assert_int_equal(snap_writer_commit(w, as_parent), 0);
	{
		char tmp[600];

		snprintf(tmp, sizeof(tmp), "%s.tmp", path);
		assert_false(exists(tmp));
	}
}

static struct snap_file *open_ok(const char *path)
{
	struct snap_file *f;

	assert_int_equal(snap_open(path, &f), 0);
	return f;
}

static void test_round_trip(void **st)
{
	const char *path = in_dir("full.snap");
	struct snap_meta m;
	struct snap_parent par, par2;
	struct snap_file *f;
	uint8_t page[SNAP_PAGE];
	void *blob;
	size_t len;
	uint64_t bad = 0;

	(void)st;
	fill_ram(1);
	write_full(path, &par);
	f = open_ok(path);
	fake_meta(&m);
	assert_memory_equal(snap_meta_of(f), &m, sizeof(m));
	assert_false(snap_is_incremental(f));
	assert_true(snap_id_is_zero(snap_parent_id_of(f)));
	assert_false(snap_id_is_zero(snap_id_of(f)));
	snap_as_parent(f, &par2);
	assert_memory_equal(&par, &par2, sizeof(par));
	assert_int_equal(snap_npages(f), NP);
	assert_int_equal(snap_commit_of(f)->present, NP);
	assert_int_equal(snap_commit_of(f)->data_pages, NP - zero_pages());
	for (unsigned p = 0; p < NP; p++) {
		assert_true(snap_page_held(f, p));
		assert_int_equal(snap_page_zero(f, p), p % 3 == 0);
		assert_int_equal(snap_page_read(f, p, page), 0);
		assert_memory_equal(page, ram + (size_t)p * SNAP_PAGE, SNAP_PAGE);
	}
	assert_int_equal(snap_page_read(f, NP, page), -EINVAL);
	assert_int_equal(snap_state(f, &blob, &len), 0);
	assert_int_equal(len, STATE_N);
	assert_memory_equal(blob, state_blob, STATE_N);
	free(blob);
	assert_int_equal(snap_verify(f, &bad), 0);
	assert_true(bad == UINT64_MAX);
	snap_close(f);
	unlink(path);
}

/* Zero pages take no blocks: SEEK_DATA from one lands past it, and the
 * file's blocks are about its data pages alone. A page written with data
 * and then again as zero is punched back to a hole. */
static void test_holes(void **st)
{
	const char *path = in_dir("holes.snap");
	struct snap_file *f;
	struct stat sb;
	int fd;
	uint64_t data = (uint64_t)(NP - zero_pages()) * SNAP_PAGE;

	(void)st;
	fill_ram(2);
	write_full(path, NULL);
	f = open_ok(path);
	fd = snap_fd(f);
	for (unsigned p = 0; p < NP; p++) {
		off_t off = (off_t)snap_page_off(f, p);
		off_t d = lseek(fd, off, SEEK_DATA);

		assert_true(off % SNAP_PAGE == 0);
		if (p % 3 == 0)
			assert_true(d != off);
		else
			assert_true(d == off);
	}
	assert_int_equal(fstat(fd, &sb), 0);
	print_message("      %u pages, %u zero: file %lld bytes, %lld allocated (data %llu)\n",
		      NP, zero_pages(), (long long)sb.st_size, (long long)sb.st_blocks * 512,
		      (unsigned long long)data);
	assert_true((uint64_t)sb.st_blocks * 512 < data + 64 * 1024);
	assert_true((uint64_t)sb.st_size > (uint64_t)NP * SNAP_PAGE);
	snap_close(f);
	unlink(path);
}

static void test_rewrite_to_zero(void **st)
{
	const char *path = in_dir("rewrite.snap");
	static const uint8_t zeros[SNAP_PAGE];
	struct snap_meta m;
	struct snap_writer *w;
	struct snap_file *f;
	uint8_t page[SNAP_PAGE];

	(void)st;
	fill_ram(3);
	fake_meta(&m);
	assert_int_equal(snap_writer_open(path, &m, NULL, 0, &w), 0);
	assert_int_equal(snap_writer_pages(w, 0, NP, ram), 0);
	assert_int_equal(snap_writer_page(w, 1, zeros), 0);      /* had data */
	assert_int_equal(snap_writer_page(w, 3, ram + SNAP_PAGE), 0); /* was zero */
	assert_int_equal(snap_writer_state(w, state_blob, STATE_N), 0);
	assert_int_equal(snap_writer_commit(w, NULL), 0);
	f = open_ok(path);
	assert_true(snap_page_zero(f, 1));
	assert_int_equal(snap_page_read(f, 1, page), 0);
	assert_memory_equal(page, zeros, SNAP_PAGE);
	assert_true(lseek(snap_fd(f), (off_t)snap_page_off(f, 1), SEEK_DATA) !=
		    (off_t)snap_page_off(f, 1));
	assert_int_equal(snap_page_read(f, 3, page), 0);
	assert_memory_equal(page, ram + SNAP_PAGE, SNAP_PAGE);
	assert_int_equal(snap_verify(f, NULL), 0);
	snap_close(f);
	unlink(path);
}

static void copy_file(const char *from, const char *to)
{
	int a = open(from, O_RDONLY), b = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	static uint8_t buf[1 << 16];
	ssize_t n;

	assert_true(a >= 0 && b >= 0);
	while ((n = read(a, buf, sizeof(buf))) > 0)
		assert_int_equal(write(b, buf, (size_t)n), n);
	close(a);
	close(b);
}

static int open_err(const char *path)
{
	struct snap_file *f = NULL;
	int r = snap_open(path, &f);

	if (!r)
		snap_close(f);
	return r;
}

/* Every length short of the whole: the first 400 bytes one by one, then
 * every 509 bytes (no alignment the format has), and the last 400. */
static void test_truncated(void **st)
{
	const char *path = in_dir("trunc.snap"), *cut = in_dir("cut.snap");
	struct stat sb;
	unsigned tried = 0;

	(void)st;
	fill_ram(4);
	write_full(path, NULL);
	copy_file(path, cut);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(open_err(cut), 0);
	for (off_t len = sb.st_size - 1; len >= 0; len--) {
		bool probe = len < 400 || sb.st_size - len <= 400 || len % 509 == 0;

		if (!probe)
			continue;
		assert_int_equal(truncate(cut, len), 0);
		if (open_err(cut) != -EBADMSG)
			fail_msg("cut at %lld of %lld: %d", (long long)len, (long long)sb.st_size,
				 open_err(cut));
		tried++;
	}
	print_message("      %u lengths refused with EBADMSG\n", tried);
	/* the right length, its commit record overwritten with zeros: torn */
	copy_file(path, cut);
	{
		int fd = open(cut, O_WRONLY);
		static const uint8_t z[SNAP_COMMIT_LEN];

		assert_int_equal(pwrite(fd, z, sizeof(z), sb.st_size - SNAP_COMMIT_LEN),
				 SNAP_COMMIT_LEN);
		close(fd);
	}
	assert_int_equal(open_err(cut), -EBADMSG);
	/* bytes appended after the commit record: it is no longer last */
	copy_file(path, cut);
	{
		int fd = open(cut, O_WRONLY | O_APPEND);

		assert_int_equal(write(fd, "x", 1), 1);
		close(fd);
	}
	assert_int_equal(open_err(cut), -EBADMSG);
	unlink(cut);
	unlink(path);
}

static void flip(const char *path, uint64_t off, unsigned bit)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
	b ^= (uint8_t)(1u << bit);
	assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
	close(fd);
}

/* What a flipped bit at header offset off must give. */
static void hdr_flip_ok(uint64_t off, unsigned bit, int r)
{
	if (off < 8)
		assert_int_equal(r, -EPROTO);
	else if (off < 12 && !(off == 8 && bit == 0))      /* version 1 -> another */
		assert_int_equal(r, -EPROTONOSUPPORT);
	else if (off >= 12 && off < 16 && !(off == 12 && bit == 0))  /* unknown flag */
		assert_int_equal(r, -EPROTONOSUPPORT);
	else if (r != -EBADMSG)
		fail_msg("header byte %llu bit %u: %d", (unsigned long long)off, bit, r);
}

static unsigned flip_range(const char *path, uint64_t from, uint64_t to, bool header)
{
	unsigned n = 0;

	for (uint64_t off = from; off < to; off++)
		for (unsigned bit = 0; bit < 8; bit++) {
			int r;

			flip(path, off, bit);
			r = open_err(path);
			if (header)
				hdr_flip_ok(off, bit, r);
			else if (r != -EBADMSG)
				fail_msg("byte %llu bit %u: %d", (unsigned long long)off, bit, r);
			flip(path, off, bit);
			n++;
		}
	return n;
}

/* Every bit of the header, the configuration, the index and the commit
 * record, one at a time: each is refused at open. */
static void test_meta_bitflips(void **st)
{
	const char *path = in_dir("flip.snap");
	struct snap_commit c;
	struct snap_file *f;
	unsigned n = 0;

	(void)st;
	fill_ram(5);
	write_full(path, NULL);
	f = open_ok(path);
	c = *snap_commit_of(f);
	snap_close(f);
	n += flip_range(path, 0, SNAP_HDR_LEN, true);
	n += flip_range(path, c.config_off, c.config_off + c.config_len, false);
	n += flip_range(path, c.index_off, c.index_off + c.index_len, false);
	n += flip_range(path, c.file_size - SNAP_COMMIT_LEN, c.file_size, false);
	print_message("      %u single-bit flips refused\n", n);
	assert_int_equal(open_err(path), 0);
	unlink(path);
}

/* A damaged page opens (the frame is sound) but is found when it is read
 * and by snap_verify; a damaged state blob the same way. */
static void test_page_bitflip(void **st)
{
	const char *path = in_dir("page.snap");
	struct snap_file *f;
	uint8_t page[SNAP_PAGE];
	uint64_t bad, off;
	void *blob;
	size_t len;

	(void)st;
	fill_ram(6);
	write_full(path, NULL);
	f = open_ok(path);
	off = snap_page_off(f, 100) + 1234;      /* 100 % 3 != 0: a data page */
	snap_close(f);
	flip(path, off, 5);
	f = open_ok(path);
	assert_int_equal(snap_page_read(f, 100, page), -EILSEQ);
	assert_int_equal(snap_page_read(f, 101, page), 0);
	assert_int_equal(snap_verify(f, &bad), -EILSEQ);
	assert_int_equal(bad, 100);
	snap_close(f);
	flip(path, off, 5);                      /* mended */
	f = open_ok(path);
	assert_int_equal(snap_verify(f, &bad), 0);
	off = snap_commit_of(f)->state_off + 17;
	snap_close(f);
	flip(path, off, 0);
	f = open_ok(path);
	assert_int_equal(snap_page_read(f, 100, page), 0);
	assert_int_equal(snap_state(f, &blob, &len), -EILSEQ);
	assert_null(blob);
	assert_int_equal(snap_verify(f, &bad), -EILSEQ);
	assert_true(bad == UINT64_MAX);
	snap_close(f);
	unlink(path);
}

static void put_u32_at(const char *path, uint64_t off, uint32_t v)
{
	int fd = open(path, O_RDWR);
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, b, 4, (off_t)off), 4);
	close(fd);
}

/* Another version is named as such, before anything else is looked at:
 * a reader of version 1 does not know where a version 2 puts its record. */
static void test_version(void **st)
{
	const char *path = in_dir("ver.snap");
	uint8_t hb[SNAP_HDR_LEN];
	struct snap_hdr h;
	int fd;

	(void)st;
	fill_ram(7);
	write_full(path, NULL);
	put_u32_at(path, 8, SNAP_VERSION + 1);
	assert_int_equal(open_err(path), -EPROTONOSUPPORT);
	put_u32_at(path, 8, 0);
	assert_int_equal(open_err(path), -EBADMSG);
	put_u32_at(path, 8, SNAP_VERSION);
	assert_int_equal(open_err(path), 0);
	put_u32_at(path, 12, 0x80);                       /* a flag from the future */
	assert_int_equal(open_err(path), -EPROTONOSUPPORT);
	put_u32_at(path, 12, 0);
	/* the header decoder on the first 12 bytes alone */
	fd = open(path, O_RDONLY);
	assert_int_equal(pread(fd, hb, sizeof(hb), 0), sizeof(hb));
	close(fd);
	hb[8] = SNAP_VERSION + 1;
	assert_int_equal(snap_hdr_decode(hb, 12, &h), -EPROTONOSUPPORT);
	assert_int_equal(h.version, SNAP_VERSION + 1);
	hb[8] = SNAP_VERSION;
	assert_int_equal(snap_hdr_decode(hb, 12, &h), -EBADMSG);
	assert_int_equal(snap_hdr_decode(hb, sizeof(hb), &h), 0);
	assert_int_equal(snap_hdr_decode(hb, 7, &h), -EBADMSG);
	unlink(path);
}

static void put_text(const char *path, const char *s, unsigned times)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	while (times--)
		fputs(s, f);
	fclose(f);
}

static void test_not_snapshot(void **st)
{
	const char *path = in_dir("text");

	(void)st;
	put_text(path, "not a snapshot at all\n", 1000);
	assert_int_equal(open_err(path), -EPROTO);
	put_text(path, "", 0);
	assert_int_equal(open_err(path), -EBADMSG);
	unlink(path);
	assert_int_equal(open_err(path), -ENOENT);
	assert_int_equal(open_err(dir), -EINVAL);
}

/* Write pages and state of a full snapshot to an open writer. */
static void fill_writer(struct snap_writer *w)
{
	assert_int_equal(snap_writer_pages(w, 0, NP, ram), 0);
	assert_int_equal(snap_writer_state(w, state_blob, STATE_N), 0);
}

static struct snap_writer *writer(const char *path, unsigned flags)
{
	struct snap_meta m;
	struct snap_writer *w;

	fake_meta(&m);
	assert_int_equal(snap_writer_open(path, &m, NULL, flags, &w), 0);
	return w;
}

static void test_abort(void **st)
{
	const char *path = in_dir("abort.snap"), *tmp = in_dir("abort.snap.tmp");
	struct snap_writer *w, *w2;
	struct snap_meta m;

	(void)st;
	fill_ram(8);
	fake_meta(&m);
	w = writer(path, 0);
	fill_writer(w);
	assert_true(exists(tmp));
	/* a second writer of the same file waits its turn */
	assert_int_equal(snap_writer_open(path, &m, NULL, 0, &w2), -EBUSY);
	assert_null(w2);
	snap_writer_abort(w);
	assert_false(exists(path));
	assert_false(exists(tmp));
	/* no state: refused, nothing left */
	w = writer(path, 0);
	assert_int_equal(snap_writer_pages(w, 0, NP, ram), 0);
	assert_int_equal(snap_writer_commit(w, NULL), -EINVAL);
	assert_false(exists(path) || exists(tmp));
	/* a full snapshot lacking a page: refused */
	w = writer(path, 0);
	assert_int_equal(snap_writer_pages(w, 0, NP - 1, ram), 0);
	assert_int_equal(snap_writer_state(w, state_blob, STATE_N), 0);
	assert_int_equal(snap_writer_commit(w, NULL), -EINVAL);
	assert_false(exists(path) || exists(tmp));
	/* pages past the end, a bad layout */
	w = writer(path, 0);
	assert_int_equal(snap_writer_pages(w, NP - 1, 2, ram), -EINVAL);
	assert_int_equal(snap_writer_page(w, NP, ram), -EINVAL);
	snap_writer_abort(w);
	m.regions[1].gpa = 4096;                          /* overlaps region 0 */
	assert_int_equal(snap_writer_open(path, &m, NULL, 0, &w), -EINVAL);
	assert_false(exists(path) || exists(tmp));
}

/* A writer that dies before its commit leaves PATH.tmp, never PATH; the
 * leftover is no snapshot, and the next writer takes it over. */
static void test_died(void **st)
{
	const char *path = in_dir("died.snap"), *tmp = in_dir("died.snap.tmp");
	struct snap_writer *w;
	int status;
	pid_t pid;

	(void)st;
	fill_ram(9);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		w = writer(path, 0);
		fill_writer(w);
		_exit(0);                                 /* no commit, no abort */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_false(exists(path));
	assert_true(exists(tmp));
	assert_int_equal(open_err(tmp), -EBADMSG);
	w = writer(path, 0);
	fill_writer(w);
	assert_int_equal(snap_writer_commit(w, NULL), 0);
	assert_int_equal(open_err(path), 0);
	assert_false(exists(tmp));
	unlink(path);
}

static void sleep_us(unsigned us)
{
	struct timespec ts = { us / 1000000, (long)(us % 1000000) * 1000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Writers killed at random moments, commit and rename included: PATH
 * is either absent or a file that opens and verifies. */
static void test_killed(void **st)
{
	const char *path = in_dir("killed.snap");
	unsigned absent = 0, valid = 0;
	uint64_t s = 12345;

	(void)st;
	fill_ram(10);
	for (int run = 0; run < 20; run++) {
		int status;
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			struct snap_writer *w = writer(path, SNAP_W_REPLACE);

			fill_writer(w);
			_exit(snap_writer_commit(w, NULL) ? 1 : 0);
		}
		sleep_us((unsigned)(rng_next(&s) % 6000));
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (!exists(path)) {
			absent++;
			continue;
		}
		{
			struct snap_file *f = open_ok(path);

			assert_int_equal(snap_verify(f, NULL), 0);
			snap_close(f);
		}
		valid++;
		unlink(path);
	}
	print_message("      20 kills: %u left no file, %u a valid one\n", absent, valid);
}

static void read_all(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, cap - 1, f);
	buf[n] = 0;
	fclose(f);
}

/* An existing PATH: refused at open, and at commit when it appeared in
 * the meantime; replaced only when asked. */
static void test_exists(void **st)
{
	const char *path = in_dir("exists.snap"), *tmp = in_dir("exists.snap.tmp");
	struct snap_meta m;
	struct snap_writer *w;
	struct snap_file *f;
	struct snap_id first;
	char buf[64];

	(void)st;
	fill_ram(11);
	fake_meta(&m);
	w = writer(path, 0);
	fill_writer(w);
	put_text(path, "keep me\n", 1);
	assert_int_equal(snap_writer_commit(w, NULL), -EEXIST);
	read_all(path, buf, sizeof(buf));
	assert_string_equal(buf, "keep me\n");
	assert_false(exists(tmp));
	assert_int_equal(snap_writer_open(path, &m, NULL, 0, &w), -EEXIST);
	unlink(path);
	write_full(path, NULL);
	f = open_ok(path);
	first = *snap_id_of(f);
	snap_close(f);
	w = writer(path, SNAP_W_REPLACE);
	fill_writer(w);
	assert_int_equal(snap_writer_commit(w, NULL), 0);
	f = open_ok(path);
	assert_memory_not_equal(&first, snap_id_of(f), sizeof(first));
	snap_close(f);
	unlink(path);
}

/* A layer on a full snapshot: it holds the pages given (a zero one
 * among them), names its parent by id and commit checksum, and says
 * -ENOENT for the rest. */
static void test_incremental(void **st)
{
	const char *base = in_dir("base.snap"), *top = in_dir("top.snap");
	const char *other = in_dir("other.snap");
	struct snap_parent par, mine, zero;
	struct snap_file *fb, *ft, *fo;
	struct snap_meta m;
	struct snap_writer *w;
	uint8_t page[SNAP_PAGE];
	struct stat sb;

	(void)st;
	fill_ram(12);
	write_full(base, &par);
	write_full(other, NULL);
	fill_ram(13);                                    /* the guest ran on */
	fake_meta(&m);
	memset(&zero, 0, sizeof(zero));
	assert_int_equal(snap_writer_open(top, &m, &zero, 0, &w), -EINVAL);
	assert_int_equal(snap_writer_open(top, &m, &par, 0, &w), 0);
	assert_int_equal(snap_writer_page(w, 5, ram + 5 * SNAP_PAGE), 0);
	assert_int_equal(snap_writer_page(w, 6, ram + 6 * SNAP_PAGE), 0);   /* zero */
	assert_int_equal(snap_writer_pages(w, 200, 10, ram + 200 * SNAP_PAGE), 0);
	assert_int_equal(snap_writer_state(w, state_blob, STATE_N), 0);
	assert_int_equal(snap_writer_commit(w, &mine), 0);
	fb = open_ok(base);
	ft = open_ok(top);
	fo = open_ok(other);
	assert_true(snap_is_incremental(ft));
	assert_memory_equal(snap_parent_id_of(ft), snap_id_of(fb), SNAP_ID_LEN);
	assert_true(snap_hdr_of(ft)->parent_commit.lo == par.commit.lo &&
		    snap_hdr_of(ft)->parent_commit.hi == par.commit.hi);
	assert_true(snap_is_parent_of(fb, ft));
	assert_false(snap_is_parent_of(fo, ft));
	assert_false(snap_is_parent_of(ft, fb));
	assert_memory_equal(&mine.id, snap_id_of(ft), SNAP_ID_LEN);
	assert_int_equal(snap_commit_of(ft)->present, 12);
	assert_int_equal(snap_commit_of(ft)->data_pages, 8);   /* 6, 201, 204, 207: zero */
	for (unsigned p = 0; p < NP; p++) {
		bool held = p == 5 || p == 6 || (p >= 200 && p < 210);
		int r = snap_page_read(ft, p, page);

		assert_int_equal(snap_page_held(ft, p), held);
		assert_int_equal(r, held ? 0 : -ENOENT);
		if (held)
			assert_memory_equal(page, ram + (size_t)p * SNAP_PAGE, SNAP_PAGE);
	}
	assert_int_equal(snap_verify(ft, NULL), 0);
	assert_int_equal(fstat(snap_fd(ft), &sb), 0);
	print_message("      layer of 12 pages over %u: %lld bytes allocated of %lld\n", NP,
		      (long long)sb.st_blocks * 512, (long long)sb.st_size);
	assert_true(sb.st_blocks * 512 < 16 * SNAP_PAGE + 64 * 1024);
	snap_close(fb);
	snap_close(ft);
	snap_close(fo);
	unlink(base);
	unlink(top);
	unlink(other);
}

static void fill_str(char *s, size_t field, char c)
{
	memset(s, c, field - 1);
	s[field - 1] = 0;
}

/* A Linux guest's configuration with every string at its longest. */
static void linux_meta(struct snap_meta *m)
{
	fake_meta(m);
	m->guest = MACHINE_GUEST_LINUX;
	fill_str(m->name, sizeof(m->name), 'n');
	fill_str(m->kernel, sizeof(m->kernel), 'k');
	strcpy(m->initrd, "/boot/initrd.img");
	fill_str(m->cmdline, sizeof(m->cmdline), 'c');
	m->ndisks = MACHINE_MAX_DISKS;
	for (unsigned i = 0; i < MACHINE_MAX_DISKS; i++) {
		snprintf(m->disks[i].path, sizeof(m->disks[i].path), "/var/disk%u.img", i);
		m->disks[i].read_only = i & 1;
	}
	m->devids_len = SNAP_DEVIDS_MAX;
	for (unsigned i = 0; i < SNAP_DEVIDS_MAX; i++)
		m->devids[i] = (uint8_t)(i * 7);
}

static void test_config(void **st)
{
	static struct snap_meta m, out;
	size_t cap = snap_config_max() + 8, n;
	uint8_t *buf = malloc(cap), *eng;
	struct machine_config c;

	(void)st;
	assert_non_null(buf);
	linux_meta(&m);
	n = snap_config_encode(&m, buf, cap);
	assert_true(n > 2 * SNAP_PATH_MAX && n <= snap_config_max());
	assert_int_equal(snap_config_decode(buf, n, &out), 0);
	assert_memory_equal(&m, &out, sizeof(m));
	assert_int_equal(snap_config_encode(&m, buf, n - 1), 0);
	assert_int_equal(snap_config_decode(buf, n - 1, &out), -EBADMSG);   /* cut */
	assert_int_equal(snap_config_decode(buf, n + 1, &out), -EBADMSG);   /* trailing */
	assert_int_equal(snap_config_decode(buf, 0, &out), -EBADMSG);
	/* The engine is its name in the file, after the VM's name. */
	eng = buf + 2 + strlen(m.name);
	assert_string_equal((char *)eng, "thread");
	memcpy(eng, "kvm\0\0\0", 6);
	assert_int_equal(snap_config_decode(buf, n, &out), 0);
	assert_int_equal(out.engine, MACHINE_ENGINE_KVM);
	memcpy(eng, "xen", 3);                            /* no such engine */
	assert_int_equal(snap_config_decode(buf, n, &out), -EBADMSG);
	memcpy(eng, "auto", 4);                           /* not an engine of a VM */
	assert_int_equal(snap_config_decode(buf, n, &out), -EBADMSG);
	eng[0] = 0;                                       /* none */
	assert_int_equal(snap_config_decode(buf, n, &out), -EBADMSG);
	memcpy(eng, "thread", 6);
	assert_int_equal(snap_config_decode(buf, n, &out), 0);
	buf[2] = 0;                                       /* a NUL inside the name */
	assert_int_equal(snap_config_decode(buf, n, &out), -EBADMSG);
	snap_meta_config(&m, &c);
	assert_int_equal(c.engine, MACHINE_ENGINE_THREAD);
	assert_int_equal(c.guest, MACHINE_GUEST_LINUX);
	assert_ptr_equal(c.lx.kernel, m.kernel);
	assert_string_equal(c.lx.initrd, "/boot/initrd.img");
	assert_int_equal(c.lx.ndisks, MACHINE_MAX_DISKS);
	assert_int_equal(c.lx.disks[1].read_only, 1);
	assert_int_equal(c.ram_bytes, (uint64_t)NP * SNAP_PAGE);
	m.initrd[0] = 0;
	snap_meta_config(&m, &c);
	assert_null(c.lx.initrd);
	/* a payload guest has no disks */
	fake_meta(&m);
	m.ndisks = 1;
	assert_int_equal(snap_meta_check(&m), -EINVAL);
	/* nor a VM an engine it cannot have */
	fake_meta(&m);
	assert_int_equal(snap_meta_check(&m), 0);
	m.engine = MACHINE_ENGINE_AUTO;
	assert_int_equal(snap_meta_check(&m), -EINVAL);
	m.engine = (enum machine_engine_kind)99;
	assert_int_equal(snap_meta_check(&m), -EINVAL);
	free(buf);
}

static void sleep_ms(unsigned ms)
{
	sleep_us(ms * 1000);
}

/* A new machine from the file: RAM page by page (zero pages skipped: the
 * incoming memfd is zero and reading a hole would allocate it), state. */
static struct machine *restore(struct snap_file *f)
{
	struct machine_config c;
	struct machine *m;
	const struct machine_region *rg;
	void *blob;
	size_t len;
	uint64_t pfn = 0;
	char why[200] = "";
	unsigned n;

	snap_meta_config(snap_meta_of(f), &c);
	if (machine_create_incoming_why(&c, &m, why, sizeof(why)))
		fail_msg("incoming machine: %s", why);
	n = machine_regions(m, &rg);
	for (unsigned i = 0; i < n; i++)
		for (uint64_t p = 0; p < rg[i].size / SNAP_PAGE; p++, pfn++)
			if (!snap_page_zero(f, pfn))
				assert_int_equal(snap_page_read(f, pfn, rg[i].host + p * SNAP_PAGE), 0);
	assert_int_equal(pfn, snap_npages(f));
	assert_int_equal(snap_state(f, &blob, &len), 0);
	assert_int_equal(machine_load(m, blob, len), 0);
	free(blob);
	return m;
}

static void check_wl(struct machine *m)
{
	const struct machine_region *rg;
	char why[200] = "";

	assert_int_equal(machine_regions(m, &rg), 1);
	if (wl_check(rg[0].host, rg[0].size, why, sizeof(why)))
		fail_msg("wl_check: %s", why);
}

static uint64_t ops_of(struct machine *m)
{
	struct machine_stats s;

	machine_stats(m, &s);
	return s.ops;
}

/* A kv guest on the thread engine, paused, saved, restored from the file
 * into a new machine: same RAM, its self-check passes, and it runs on. */
static void test_write_paused(void **st)
{
	const char *path = in_dir("vm.snap");
	struct machine_config c;
	struct machine *m, *m2;
	struct snap_file *f;
	struct stat sb;
	uint64_t ops, t0;

	(void)st;
	memset(&c, 0, sizeof(c));
	c.engine = MACHINE_ENGINE_THREAD;
	c.ram_bytes = 32ull << 20;
	c.vcpus = 2;
	c.params.workload = WL_KV;
	c.params.seed = 99;
	assert_int_equal(machine_create(&c, &m), 0);
	assert_int_equal(machine_start(m), 0);
	sleep_ms(200);
	/* a running machine cannot be saved: nothing is written */
	assert_int_equal(snap_write_paused(m, "kv1", path, 0, NULL), -EBUSY);
	assert_false(exists(path));
	assert_int_equal(machine_pause(m), 0);
	ops = ops_of(m);
	check_wl(m);
	t0 = pcm_now_ns();
	assert_int_equal(snap_write_paused(m, "kv1", path, 0, NULL), 0);
	t0 = pcm_now_ns() - t0;
	f = open_ok(path);
	assert_string_equal(snap_meta_of(f)->name, "kv1");
	assert_int_equal(snap_meta_of(f)->engine, MACHINE_ENGINE_THREAD);
	assert_int_equal(snap_meta_of(f)->ram_bytes, c.ram_bytes);
	assert_int_equal(snap_verify(f, NULL), 0);
	assert_int_equal(stat(path, &sb), 0);
	print_message("      32 MiB kv guest: %llu data pages of %llu; file %lld bytes, %lld "
		      "allocated; written in %.1f ms\n",
		      (unsigned long long)snap_commit_of(f)->data_pages,
		      (unsigned long long)snap_npages(f), (long long)sb.st_size,
		      (long long)sb.st_blocks * 512, t0 / 1e6);
	m2 = restore(f);
	check_wl(m2);
	assert_int_equal(ops_of(m2), ops);
	{
		const struct machine_region *a, *b;

		machine_regions(m, &a);
		machine_regions(m2, &b);
		assert_memory_equal(a[0].host, b[0].host, a[0].size);
	}
	assert_int_equal(machine_start(m2), 0);
	sleep_ms(100);
	assert_int_equal(machine_pause(m2), 0);
	assert_true(ops_of(m2) > ops);
	check_wl(m2);
	snap_close(f);
	machine_destroy(m2);
	machine_destroy(m);
	unlink(path);
}

/* An idle guest is mostly holes of its memfd: they become zero pages
 * without being read, so the snapshot neither allocates the guest's RAM
 * nor writes it, and the restored guest still checks out. */
static void test_write_paused_sparse(void **st)
{
	const char *path = in_dir("idle.snap");
	const struct machine_region *rg;
	struct machine_config c;
	struct machine *m, *m2;
	struct snap_file *f;
	struct stat before, after, sb;
	uint64_t t0;

	(void)st;
	memset(&c, 0, sizeof(c));
	c.engine = MACHINE_ENGINE_THREAD;
	c.ram_bytes = 256ull << 20;
	c.vcpus = 2;
	c.params.workload = WL_IDLE;
	assert_int_equal(machine_create(&c, &m), 0);
	assert_int_equal(machine_start(m), 0);
	sleep_ms(50);
	assert_int_equal(machine_pause(m), 0);
	assert_int_equal(machine_regions(m, &rg), 1);
	assert_int_equal(fstat(rg[0].memfd, &before), 0);
	t0 = pcm_now_ns();
	assert_int_equal(snap_write_paused(m, NULL, path, 0, NULL), 0);
	t0 = pcm_now_ns() - t0;
	assert_int_equal(fstat(rg[0].memfd, &after), 0);
	assert_int_equal(after.st_blocks, before.st_blocks);
	assert_int_equal(stat(path, &sb), 0);
	f = open_ok(path);
	print_message("      256 MiB idle guest: %llu data pages; file %lld bytes, %lld allocated; "
		      "guest memfd %lld bytes allocated, unchanged; written in %.1f ms\n",
		      (unsigned long long)snap_commit_of(f)->data_pages, (long long)sb.st_size,
		      (long long)sb.st_blocks * 512, (long long)after.st_blocks * 512, t0 / 1e6);
	assert_true((uint64_t)sb.st_blocks * 512 < (uint64_t)after.st_blocks * 512 + (4u << 20));
	assert_int_equal(snap_verify(f, NULL), 0);
	m2 = restore(f);
	check_wl(m2);
	snap_close(f);
	machine_destroy(m2);
	machine_destroy(m);
	unlink(path);
}

static int setup(void **st)
{
	(void)st;
	strcpy(dir, "/tmp/test_snap.XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **st)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	(void)st;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			unlink(in_dir(e->d_name));
	if (d)
		closedir(d);
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_holes),
		cmocka_unit_test(test_rewrite_to_zero),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_meta_bitflips),
		cmocka_unit_test(test_page_bitflip),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_not_snapshot),
		cmocka_unit_test(test_abort),
		cmocka_unit_test(test_died),
		cmocka_unit_test(test_killed),
		cmocka_unit_test(test_exists),
		cmocka_unit_test(test_incremental),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_write_paused),
		cmocka_unit_test(test_write_paused_sparse),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
