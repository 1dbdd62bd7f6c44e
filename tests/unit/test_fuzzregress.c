/* tests/unit/test_fuzzregress.c - what the fuzzers found stays found, and
 * the bad inputs a peer can send get an error code, never a crash.
 *
 * Replays every file of tests/fuzz/regress/{proto,state}/ (inputs that
 * once crashed a fuzz target) and of the seed corpus tests/fuzz/corpus/
 * through the fuzz targets' own entry points, compiled in here. A broken
 * promise aborts; a memory or UB error shows under make test-asan.
 * Then explicit bad inputs test_wire.c, test_proto.c, test_thread.c and
 * test_kvm.c do not cover: header checks in combination, limits of each
 * decoder, duplicates, impossible HELLO layouts, and the KVM blob parser
 * on hosts without /dev/kvm (test_kvm.c skips itself there).
 *
 * Run from the project root (make unit does); PCM_FUZZ_DIR overrides
 * where tests/fuzz is.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_NO_MAIN
#include "tests/fuzz/fuzz_proto.c"
#include "tests/fuzz/fuzz_state.c"

#define NPAGES 4096ull    /* a 16 MiB guest */

#include "tests/unit/fuzzfiles.h"

/* Every file of dir through one; -1 when dir is missing. */
static int replay_dir(const char *dir, int (*one)(const uint8_t *, size_t), int verbose)
{
	struct dirent **names;
	int n = scandir(dir, &names, fuzz_file_input, alphasort), done = 0;

	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		char path[4096];
		uint8_t *b;
		size_t len = 0;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		free(names[i]);
		b = fuzz_file_read(path, &len);
		if (!b)
			continue;   /* a subdirectory, or gone */
		if (verbose)
			print_message("      replay %s (%zu bytes)\n", path, len);
		assert_int_equal(one(b, len), 0);
		free(b);
		done++;
	}
	free(names);
	return done;
}

static void replay(const char *kind, int (*one)(const uint8_t *, size_t))
{
	char dir[4096];
	int seeds, found;

	snprintf(dir, sizeof(dir), "%s/corpus/%s", fuzz_dir(), kind);
	seeds = replay_dir(dir, one, 0);
	if (seeds <= 0)
		fail_msg("no seeds in %s (run from the project root)", dir);
	snprintf(dir, sizeof(dir), "%s/regress/%s", fuzz_dir(), kind);
	found = replay_dir(dir, one, 1);
	print_message("      %s: %d seeds, %d regression inputs\n", kind, seeds,
		      found < 0 ? 0 : found);
}

static void test_replay_proto(void **state)
{
	(void)state;
	replay("proto", fuzz_proto_one);
}

static void test_replay_state(void **state)
{
	(void)state;
	assert_int_equal(fuzz_state_init(), 0);
	replay("state", fuzz_state_one);
}

/* ---- frame header ---- */

static void hdr(struct wire_hdr *h, uint16_t type, uint32_t len)
{
	wire_hdr_init(h, type, len, 1, 0);
}

/* The checks come in a fixed order, so a peer that is wrong in several
 * ways gets the most basic complaint: a stranger is a stranger first. */
static void test_wire_order(void **state)
{
	struct wire_hdr h;

	(void)state;
	hdr(&h, 0, WIRE_MAX_PAYLOAD + 1);
	h.magic = htole32(0x20544547);           /* "GET " */
	h.version = htole16(9);
	assert_int_equal(wire_hdr_check(&h, PM_TYPE_MAX), -EPROTO);
	h.magic = htole32(WIRE_MAGIC);
	assert_int_equal(wire_hdr_check(&h, PM_TYPE_MAX), -EPROTONOSUPPORT);
	h.version = htole16(WIRE_VERSION);
	assert_int_equal(wire_hdr_check(&h, PM_TYPE_MAX), -EMSGSIZE);
	h.len = htole32(0);
	assert_int_equal(wire_hdr_check(&h, PM_TYPE_MAX), -EBADMSG);
	/* the magic read big-endian is still a stranger */
	hdr(&h, PM_PING, 16);
	h.magic = htole32(be32toh(htole32(WIRE_MAGIC)));
	assert_int_equal(wire_hdr_check(&h, PM_TYPE_MAX), -EPROTO);
}

/* Unknown types against the protocol's own bound (test_wire uses 10). */
static void test_wire_unknown_type(void **state)
{
	struct wire_hdr h;

	(void)state;
	hdr(&h, PM_TYPE_MAX, 0);
	assert_int_equal(wire_hdr_check(&h, PM_TYPE_MAX), 0);
	hdr(&h, PM_TYPE_MAX + 1, 0);
	assert_int_equal(wire_hdr_check(&h, PM_TYPE_MAX), -EBADMSG);
	hdr(&h, 0xffff, 0);
	assert_int_equal(wire_hdr_check(&h, PM_TYPE_MAX), -EBADMSG);
	assert_string_equal(pm_type_name(0xffff), "unknown");
	assert_string_equal(pm_type_name(PM_TYPE_MAX), "ANSWER");
	assert_string_equal(pm_type_name(PM_TYPE_MAX + 1), "unknown");
}

/* A checksum off by one bit, for the payload or for no payload. */
static void test_wire_bad_checksum(void **state)
{
	uint64_t req[2] = { 1, 2 };
	struct wire_hdr h;

	(void)state;
	wire_hdr_init(&h, PM_REQ, sizeof(req), 1, wire_csum(req, sizeof(req)) ^ 1);
	assert_int_equal(wire_hdr_check(&h, PM_TYPE_MAX), 0);
	assert_int_equal(wire_payload_check(&h, req), -EILSEQ);
	wire_hdr_init(&h, PM_READY, 0, 1, wire_csum(NULL, 0) ^ (1ull << 63));
	assert_int_equal(wire_payload_check(&h, NULL), -EILSEQ);
	/* the right checksum of fewer bytes is not the checksum of these */
	wire_hdr_init(&h, PM_REQ, sizeof(req), 1, wire_csum(req, sizeof(req[0])));
	assert_int_equal(wire_payload_check(&h, req), -EILSEQ);
}

/* ---- message decoders ---- */

static uint8_t pages_buf[sizeof(struct pm_pages_hdr) + (PM_RUN_MAX + 1) * PM_PAGE];

static int pages(uint64_t first, uint32_t count, size_t len, uint64_t npages)
{
	struct pm_pages_hdr h = { .first = first, .count = count }, out;
	const uint8_t *data;
	const char *why = NULL;
	int r;

	memcpy(pages_buf, &h, sizeof(h));
	r = pm_decode_pages(pages_buf, (uint32_t)len, npages, &out, &data, &why);
	if (r)
		assert_non_null(why);
	return r;
}

#define RUN_LEN(n) (sizeof(struct pm_pages_hdr) + (size_t)(n) * PM_PAGE)

/* Length past the end, oversized runs, pages outside guest RAM. */
static void test_pages_bad(void **state)
{
	(void)state;
	assert_int_equal(pages(0, 1, RUN_LEN(1), NPAGES), 0);
	/* the header says two pages, one follows */
	assert_int_equal(pages(0, 2, RUN_LEN(1), NPAGES), -EBADMSG);
	/* one page and a byte more */
	assert_int_equal(pages(0, 1, RUN_LEN(1) + 1, NPAGES), -EBADMSG);
	/* the longest run, and one page more, each with its bytes */
	assert_int_equal(pages(0, PM_RUN_MAX, RUN_LEN(PM_RUN_MAX), NPAGES), 0);
	assert_int_equal(pages(0, PM_RUN_MAX + 1, RUN_LEN(PM_RUN_MAX + 1), NPAGES), -EBADMSG);
	/* a count whose page bytes would wrap a 32-bit length */
	assert_int_equal(pages(0, 1u << 20, RUN_LEN(1), NPAGES), -EBADMSG);
	/* page numbers at and past the end of guest RAM */
	assert_int_equal(pages(NPAGES - 1, 1, RUN_LEN(1), NPAGES), 0);
	assert_int_equal(pages(NPAGES, 1, RUN_LEN(1), NPAGES), -EBADMSG);
	assert_int_equal(pages(NPAGES - 1, 2, RUN_LEN(2), NPAGES), -EBADMSG);
	assert_int_equal(pages(UINT64_MAX - 1, 2, RUN_LEN(2), NPAGES), -EBADMSG);
	/* a guest with no pages takes none */
	assert_int_equal(pages(0, 1, RUN_LEN(1), 0), -EBADMSG);
}

static int ranges(const struct pm_range *r, size_t n, uint64_t npages, unsigned *got)
{
	struct pm_range rp[PM_ZERO_MAX];
	const char *why = NULL;
	unsigned cnt = 0;
	int ret = pm_decode_ranges(r, (uint32_t)(n * sizeof(*r)), npages, rp, &cnt, &why);

	if (ret)
		assert_non_null(why);
	if (got)
		*got = cnt;
	return ret;
}

static void test_zero_bad(void **state)
{
	static struct pm_range many[PM_ZERO_MAX + 1];
	struct pm_range r[3];
	unsigned n;

	(void)state;
	/* an empty range names no page: refused */
	r[0] = (struct pm_range){ 5, 0 };
	assert_int_equal(ranges(r, 1, NPAGES, NULL), -EBADMSG);
	/* a range that starts inside and runs out; one that starts outside */
	r[0] = (struct pm_range){ NPAGES - 2, 3 };
	assert_int_equal(ranges(r, 1, NPAGES, NULL), -EBADMSG);
	r[0] = (struct pm_range){ NPAGES, 1 };
	assert_int_equal(ranges(r, 1, NPAGES, NULL), -EBADMSG);
	/* one bad range spoils the message, wherever it is */
	r[0] = (struct pm_range){ 0, 1 };
	r[1] = (struct pm_range){ 1, 1 };
	r[2] = (struct pm_range){ UINT64_MAX, 1 };
	assert_int_equal(ranges(r, 3, NPAGES, NULL), -EBADMSG);
	/* the most ranges a message may carry, and one more */
	for (unsigned i = 0; i <= PM_ZERO_MAX; i++)
		many[i] = (struct pm_range){ i, 1 };
	assert_int_equal(ranges(many, PM_ZERO_MAX, NPAGES, &n), 0);
	assert_int_equal(n, PM_ZERO_MAX);
	assert_int_equal(ranges(many, PM_ZERO_MAX + 1, NPAGES, NULL), -EBADMSG);
}

/* A page listed twice. A PAGES run cannot name a page twice (first +
 * count). ZERO (and DISCARD, the same decoder) and REQ do not look for
 * duplicates: they are accepted, and the receivers are idempotent (the
 * destination counts a page once through its received bitmap; the
 * source answers a repeated request twice). Pinned here so a change of
 * that rule is a visible decision. */
static void test_duplicates(void **state)
{
	struct pm_range overlap[2] = { { 0, 4 }, { 2, 4 } };
	struct pm_range same[2] = { { 9, 1 }, { 9, 1 } };
	uint64_t req[3] = { 5, 5, 5 };
	uint64_t pp[PM_REQ_MAX];
	const char *why;
	unsigned n;

	(void)state;
	assert_int_equal(ranges(overlap, 2, NPAGES, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ranges(same, 2, NPAGES, &n), 0);
	assert_int_equal(pm_decode_req(req, sizeof(req), NPAGES, pp, &n, &why), 0);
	assert_int_equal(n, 3);
}

/* Requests for pages that do not exist, and bad request sizes. */
static void test_req_bad(void **state)
{
	static uint64_t many[PM_REQ_MAX + 1];
	uint64_t req[3];
	uint64_t pp[PM_REQ_MAX];
	const char *why = NULL;
	unsigned n;

	(void)state;
	req[0] = NPAGES;
	assert_int_equal(pm_decode_req(req, 8, NPAGES, pp, &n, &why), -EBADMSG);
	assert_non_null(strstr(why, "outside"));
	req[0] = UINT64_MAX;
	assert_int_equal(pm_decode_req(req, 8, NPAGES, pp, &n, &why), -EBADMSG);
	req[0] = 0;
	req[1] = NPAGES - 1;
	req[2] = NPAGES + 1;      /* good, good, bad: the whole message is bad */
	assert_int_equal(pm_decode_req(req, sizeof(req), NPAGES, pp, &n, &why), -EBADMSG);
	assert_int_equal(pm_decode_req(req, 0, NPAGES, pp, &n, &why), -EBADMSG);
	assert_int_equal(pm_decode_req(req, 8, 0, pp, &n, &why), -EBADMSG);
	assert_int_equal(pm_decode_req(many, sizeof(uint64_t) * PM_REQ_MAX, NPAGES, pp, &n, &why), 0);
	assert_int_equal(pm_decode_req(many, sizeof(many), NPAGES, pp, &n, &why), -EBADMSG);
}

static void hello_ok(struct pm_hello *h)
{
	memset(h, 0, sizeof(*h));
	h->proto_version = PM_PROTO_VERSION;
	h->engine = MACHINE_ENGINE_THREAD;
	h->mode = PM_MODE_POSTCOPY;
	h->ram_bytes = 64ull << 20;
	h->page_size = PM_PAGE;
	h->vcpus = 2;
	h->nregions = 2;
	h->regions[0] = (struct pm_region){ 0, 32ull << 20 };
	h->regions[1] = (struct pm_region){ 4ull << 30, 32ull << 20 };
}

/* Decode h; expect err, and a reason with word in it. */
static void hello_is(const struct pm_hello *h, int err, const char *word)
{
	struct pm_hello out;
	const char *why = NULL;

	uint8_t wire[PM_HELLO_WIRE_MAX];
	size_t n = pm_encode_hello(h, wire);

	assert_int_equal(n, PM_HELLO_WIRE_LEN + ((h->identity_len + 7) & ~7u));
	assert_int_equal(pm_decode_hello(wire, (uint32_t)n, &out, &why), err);
	if (word) {
		assert_non_null(why);
		if (!strstr(why, word))
			fail_msg("reason \"%s\" does not say \"%s\"", why, word);
	}
}

static void test_hello_layout(void **state)
{
	struct pm_hello h, out;
	const char *why;

	(void)state;
	hello_ok(&h);                                   /* two regions around a hole */
	hello_is(&h, 0, NULL);
	h.nregions = 0;                                 /* zero regions */
	hello_is(&h, -EBADMSG, "regions");
	hello_ok(&h);
	h.nregions = MACHINE_MAX_REGIONS + 1;
	hello_is(&h, -EBADMSG, "regions");
	hello_ok(&h);
	h.regions[1].size = 0;                          /* an empty region */
	h.ram_bytes = 32ull << 20;
	hello_is(&h, -EBADMSG, NULL);
	hello_ok(&h);
	h.regions[1].gpa += 512;                        /* not page-aligned */
	hello_is(&h, -EBADMSG, "aligned");
	hello_ok(&h);
	h.regions[0].size += 512;
	h.regions[1].size -= 512;
	hello_is(&h, -EBADMSG, "aligned");
	hello_ok(&h);
	h.regions[1].gpa = 16ull << 20;                 /* overlaps region 0 */
	hello_is(&h, -EBADMSG, "overlap");
	hello_ok(&h);
	h.regions[0].gpa = 4ull << 30;                  /* out of order */
	h.regions[1].gpa = 0;
	hello_is(&h, -EBADMSG, "overlap");
	hello_ok(&h);
	h.regions[1].gpa = 32ull << 20;                 /* touching is fine */
	hello_is(&h, 0, NULL);
	hello_ok(&h);
	h.regions[1].gpa = UINT64_MAX - (16ull << 20) + 1;   /* wraps past 2^64 */
	h.regions[1].gpa &= ~(uint64_t)(PM_PAGE - 1);
	hello_is(&h, -EBADMSG, "overlap");
	hello_ok(&h);
	h.ram_bytes += PM_PAGE;                         /* more RAM than regions */
	hello_is(&h, -EBADMSG, "add up");
	h.ram_bytes -= 2 * PM_PAGE;                     /* less */
	hello_is(&h, -EBADMSG, "add up");
	hello_ok(&h);                                   /* smaller than the boot area */
	h.nregions = 1;
	h.ram_bytes = h.regions[0].size = GUEST_DATA_OFF - PM_PAGE;
	hello_is(&h, -EBADMSG, NULL);
	hello_ok(&h);
	h.vcpus = GUEST_MAX_VCPUS + 1;
	hello_is(&h, -EBADMSG, "vCPU");
	hello_ok(&h);
	h.page_size = 0;
	hello_is(&h, -EBADMSG, "page size");
	hello_ok(&h);
	h.mode = (enum pm_mode)99;                     /* a mode nobody has */
	hello_is(&h, -EBADMSG, "mode");
	hello_ok(&h);
	h.engine = (enum machine_engine_kind)99;         /* no such engine */
	hello_is(&h, -EBADMSG, "engine");
	hello_ok(&h);
	h.guest = 7;
	hello_is(&h, -EBADMSG, "guest kind");
	hello_ok(&h);
	{
		uint8_t wire[PM_HELLO_WIRE_MAX + 8] = { 0 };
		uint32_t v;

		/* the name's field (at 168) without its NUL: only a peer that
		 * does not use pm_encode_hello sends it */
		assert_int_equal(pm_encode_hello(&h, wire), PM_HELLO_WIRE_LEN);
		memset(wire + 168, 'n', PM_NAME_LEN);
		assert_int_equal(pm_decode_hello(wire, PM_HELLO_WIRE_LEN, &out, &why), -EBADMSG);
		assert_non_null(strstr(why, "unterminated"));
		/* the disk count after the codes: none for a payload guest,
		 * at most MACHINE_MAX_DISKS for a Linux one */
		assert_int_equal(pm_encode_hello(&h, wire), PM_HELLO_WIRE_LEN);
		wire[19] = 1;
		assert_int_equal(pm_decode_hello(wire, PM_HELLO_WIRE_LEN, &out, &why), -EBADMSG);
		assert_non_null(strstr(why, "disks"));
		wire[18] = MACHINE_GUEST_LINUX;
		assert_int_equal(pm_decode_hello(wire, PM_HELLO_WIRE_LEN, &out, &why), 0);
		assert_int_equal(out.ndisks, 1);
		wire[19] = MACHINE_MAX_DISKS + 1;
		assert_int_equal(pm_decode_hello(wire, PM_HELLO_WIRE_LEN, &out, &why), -EBADMSG);
		/* longer or shorter than a HELLO, or nothing at all */
		assert_int_equal(pm_encode_hello(&h, wire), PM_HELLO_WIRE_LEN);
		assert_int_equal(pm_decode_hello(wire, PM_HELLO_WIRE_LEN + 8, &out, &why), -EBADMSG);
		assert_int_equal(pm_decode_hello(wire, PM_HELLO_WIRE_LEN - 8, &out, &why), -EBADMSG);
		assert_int_equal(pm_decode_hello(wire, 0, &out, &why), -EBADMSG);
		/* another version is named as such whatever its length: the
		 * version comes first */
		v = PM_PROTO_VERSION + 1;
		memcpy(wire, &v, 4);
		assert_int_equal(pm_decode_hello(wire, 4, &out, &why), -EPROTONOSUPPORT);
		assert_int_equal(out.proto_version, PM_PROTO_VERSION + 1);
		assert_int_equal(pm_decode_hello(wire, PM_HELLO_WIRE_LEN, &out, &why),
				 -EPROTONOSUPPORT);
	}
	{
		/* the identity after the fixed part, padded to 8 with zeros:
		 * its length names the message's */
		uint8_t wire[PM_HELLO_WIRE_MAX + 8] = { 0 };
		uint32_t il = 37, v;

		hello_ok(&h);
		h.identity_len = il;
		memset(h.identity, 0xa5, il);
		hello_is(&h, 0, NULL);
		assert_int_equal(pm_encode_hello(&h, wire), PM_HELLO_WIRE_LEN + 40);
		assert_int_equal(pm_decode_hello(wire, PM_HELLO_WIRE_LEN + 40, &out, &why), 0);
		assert_int_equal(out.identity_len, il);
		assert_memory_equal(out.identity, h.identity, il);
		assert_int_equal(pm_decode_hello(wire, PM_HELLO_WIRE_LEN + 48, &out, &why), -EBADMSG);
		assert_int_equal(pm_decode_hello(wire, PM_HELLO_WIRE_LEN + 32, &out, &why), -EBADMSG);
		assert_int_equal(pm_decode_hello(wire, PM_HELLO_WIRE_LEN, &out, &why), -EBADMSG);
		wire[PM_HELLO_WIRE_LEN + il] = 1;               /* padding not zero */
		assert_int_equal(pm_decode_hello(wire, PM_HELLO_WIRE_LEN + 40, &out, &why), -EBADMSG);
		assert_non_null(strstr(why, "padding"));
		wire[PM_HELLO_WIRE_LEN + il] = 0;
		v = MACHINE_IDENTITY_MAX + 8;                   /* longer than HELLO carries */
		memcpy(wire + PM_HELLO_WIRE_LEN - 8, &v, 4);
		assert_int_equal(pm_decode_hello(wire, PM_HELLO_WIRE_LEN + v, &out, &why), -EBADMSG);
		assert_non_null(strstr(why, "beyond"));
		h.identity_len = MACHINE_IDENTITY_MAX + 1;      /* the encoder refuses */
		assert_int_equal(pm_encode_hello(&h, wire), 0);
	}
}

/* ---- state blobs ---- */

/* kvm/state.c's private numbering (as tests/unit/test_kvm.c copies it). */
enum { KS_CPUID_ = 1, KS_XSAVE_ = 5, KS_MSRS_ = 9, KS_PIT2_ = 32, KS_DEVICE_ = 64 };

/* A KS_DEVICE section's data opens with kind, instance, version. */
enum { DEV_KIND_ = 16, DEV_INSTANCE_ = 20, DEV_VERSION_ = 24 };

struct kvm_sec_ {
	uint32_t type, vcpu, len, reserved;
};

#define OUTER sizeof(struct machine_state_hdr)

static uint8_t *kvm_blob(size_t *len)
{
	char path[4096];
	uint8_t *b;

	snprintf(path, sizeof(path), "%s/corpus/state/kvm-idle.bin", fuzz_dir());
	b = fuzz_file_read(path, len);
	if (!b)
		fail_msg("cannot read %s", path);
	return b;
}

/* Offset of the first section of type t in a KVM blob. */
static size_t sec_find(const uint8_t *b, size_t len, uint32_t t)
{
	size_t pos = OUTER + sizeof(struct fzs_kvm_body);

	while (pos + sizeof(struct kvm_sec_) <= len) {
		struct kvm_sec_ s;

		memcpy(&s, b + pos, sizeof(s));
		if (s.type == t)
			return pos;
		pos += sizeof(s) + ((s.len + 7) & ~7u);
	}
	fail_msg("no section %u in the seed blob", t);
	return 0;
}

static void sec_patch(uint8_t *b, size_t off, size_t field, uint32_t v)
{
	memcpy(b + off + field, &v, sizeof(v));
}

/* Load b into the KVM engine over the fake VM (fuzz_state.c): every
 * check of the parser runs, the first ioctl fails with EBADF. */
static int fake_load(const uint8_t *b, size_t len, const char *word)
{
	struct fzs_kvm_body kb;
	const char *why;
	int r;

	memcpy(&kb, b + OUTER, sizeof(kb));
	fzs.fake_vm->tsc_khz = kb.tsc_khz;
	memset(&fzs.kvm_fake.cfg.params, 0, sizeof(fzs.kvm_fake.cfg.params));
	r = machine_load(&fzs.kvm_fake, b, len);
	why = machine_why(&fzs.kvm_fake);
	if (word && (!why || !strstr(why, word)))
		fail_msg("reason \"%s\" does not say \"%s\"", why ? why : "(none)", word);
	return r;
}

/* The KVM blob parser without /dev/kvm: what test_kvm.c cannot reach
 * there, and section shapes it does not try. */
static void test_kvm_blob_bad(void **state)
{
	size_t len, off;
	uint8_t *good, *b;
	uint32_t v;

	(void)state;
	assert_int_equal(fuzz_state_init(), 0);
	good = kvm_blob(&len);
	b = malloc(len);
	assert_non_null(b);
	/* the seed passes the parser: the fake VM's first ioctl refuses */
	assert_int_equal(fake_load(good, len, "PIT"), -EBADF);

	/* another format version, outer and inner */
	memcpy(b, good, len);
	v = MACHINE_STATE_VERSION + 1;
	memcpy(b + offsetof(struct machine_state_hdr, version), &v, sizeof(v));
	assert_int_equal(fake_load(b, len, "version"), -EINVAL);
	memcpy(b, good, len);
	v = 99;
	memcpy(b + OUTER + offsetof(struct fzs_kvm_body, version), &v, sizeof(v));
	assert_int_equal(fake_load(b, len, "version"), -EINVAL);

	/* the serial port's section: a device this VM lacks (another kind,
	 * another instance), a state version this build does not read */
	memcpy(b, good, len);
	off = sec_find(b, len, KS_DEVICE_);
	sec_patch(b, off, DEV_KIND_, 99);
	assert_int_equal(fake_load(b, len, "lacks"), -ENOEXEC);
	memcpy(b, good, len);
	sec_patch(b, off, DEV_INSTANCE_, 1);
	assert_int_equal(fake_load(b, len, "lacks"), -ENOEXEC);
	memcpy(b, good, len);
	sec_patch(b, off, DEV_VERSION_, 77);
	assert_int_equal(fake_load(b, len, "version 77"), -EINVAL);
	memcpy(b, good, len);
	sec_patch(b, off, offsetof(struct kvm_sec_, len), 8);
	assert_int_equal(fake_load(b, len, "device section of 8 bytes"), -EINVAL);

	/* a CPUID table longer than KVM takes, its length to match */
	memcpy(b, good, len);
	off = sec_find(b, len, KS_CPUID_);
	sec_patch(b, off, sizeof(struct kvm_sec_), KVM_MAX_CPUID + 1);
	assert_int_equal(fake_load(b, len, "length"), -EINVAL);
	sec_patch(b, off, sizeof(struct kvm_sec_), UINT32_MAX);
	assert_int_equal(fake_load(b, len, "length"), -EINVAL);
	/* an MSR count past the limit */
	memcpy(b, good, len);
	off = sec_find(b, len, KS_MSRS_);
	sec_patch(b, off, sizeof(struct kvm_sec_), KVM_MAX_MSRS + 1);
	assert_int_equal(fake_load(b, len, "length"), -EINVAL);
	/* XSAVE smaller than KVM's fixed area: another host's shape */
	memcpy(b, good, len);
	off = sec_find(b, len, KS_XSAVE_);
	sec_patch(b, off, offsetof(struct kvm_sec_, len), sizeof(struct kvm_xsave) - 8);
	assert_int_equal(fake_load(b, len, "length"), -ENOEXEC);
	/* a section that claims all of the address space */
	memcpy(b, good, len);
	sec_patch(b, off, offsetof(struct kvm_sec_, len), UINT32_MAX);
	assert_int_equal(fake_load(b, len, "past"), -EINVAL);
	/* a device section that names a vCPU; a vCPU section that names none */
	memcpy(b, good, len);
	sec_patch(b, sec_find(b, len, KS_PIT2_), offsetof(struct kvm_sec_, vcpu), 0);
	assert_int_equal(fake_load(b, len, "unknown"), -EINVAL);
	memcpy(b, good, len);
	sec_patch(b, sec_find(b, len, KS_CPUID_), offsetof(struct kvm_sec_, vcpu), UINT32_MAX);
	assert_int_equal(fake_load(b, len, "unknown"), -EINVAL);
	/* no sections at all, the bytes still there */
	memcpy(b, good, len);
	v = 0;
	memcpy(b + OUTER + offsetof(struct fzs_kvm_body, nsections), &v, sizeof(v));
	assert_int_equal(fake_load(b, len, "after"), -EINVAL);
	free(b);
	free(good);
}

/* Another format version into the thread engine (test_thread.c has the
 * rest): refused with a reason, and the good blob still loads after. */
static void test_thread_blob_version(void **state)
{
	char path[4096];
	uint8_t *b;
	size_t len;
	uint32_t v = MACHINE_STATE_VERSION + 1, old;

	(void)state;
	assert_int_equal(fuzz_state_init(), 0);
	snprintf(path, sizeof(path), "%s/corpus/state/thread-kv.bin", fuzz_dir());
	b = fuzz_file_read(path, &len);
	assert_non_null(b);
	memcpy(&old, b + offsetof(struct machine_state_hdr, version), sizeof(old));
	memcpy(b + offsetof(struct machine_state_hdr, version), &v, sizeof(v));
	memset(&fzs.thread->cfg.params, 0, sizeof(fzs.thread->cfg.params));
	assert_int_equal(machine_load(fzs.thread, b, len), -EINVAL);
	assert_non_null(strstr(machine_why(fzs.thread), "version"));
	memcpy(b + offsetof(struct machine_state_hdr, version), &old, sizeof(old));
	assert_int_equal(machine_load(fzs.thread, b, len), 0);
	assert_int_equal(machine_config_of(fzs.thread)->params.workload, WL_KV);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replay_proto),
		cmocka_unit_test(test_replay_state),
		cmocka_unit_test(test_wire_order),
		cmocka_unit_test(test_wire_unknown_type),
		cmocka_unit_test(test_wire_bad_checksum),
		cmocka_unit_test(test_pages_bad),
		cmocka_unit_test(test_zero_bad),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_req_bad),
		cmocka_unit_test(test_hello_layout),
		cmocka_unit_test(test_kvm_blob_bad),
		cmocka_unit_test(test_thread_blob_version),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
