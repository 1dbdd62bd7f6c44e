/* tests/fuzz/fuzz_proto.c - libFuzzer target: arbitrary bytes through the
 * frame header check (net/wire.c) and the message decoders
 * (postcopy/proto.c), the way a receiver meets them from a peer.
 *
 * Input:
 *   byte  0      bits 0-2: how far the payload sits off 8-byte alignment
 *                (a receive buffer promises none: net/chan.h); rounded
 *                down to a multiple of $FUZZ_PROTO_ALIGN (1, 2, 4 or 8;
 *                default 1) in the fuzzer; the replay takes it as it is
 *   bytes 1-8    npages of the guest the decoders check against (LE)
 *   bytes 9-40   the 32-byte frame header
 *   bytes 41-    the payload
 *
 * The header's type picks the decoder. The payload goes to it even when
 * the header check failed (a decoder must be safe on any bytes) and whatever
 * its checksum: a fuzzer seldom writes a matching XXH3, and the decoders
 * are what a peer that computes one gets to. When the header claims more
 * bytes than the input holds, the receiver would wait for them (or end
 * with -ECONNABORTED): the decoder then sees the bytes that are there.
 *
 * The payload is copied into a buffer that ends where it ends, so ASan
 * sees any read past it. Besides not crashing, a decoder must keep its
 * promises (postcopy/proto.h): what it accepts lies inside guest RAM and
 * inside the message, what it refuses is -EBADMSG with a reason. A broken
 * promise aborts, so libFuzzer keeps the input.
 *
 * tests/unit/test_fuzzregress.c includes this file (FUZZ_NO_MAIN) to replay
 * saved inputs through fuzz_proto_one.
 */
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/wire.h"
#include "lib/hist.h"
#include "postcopy/proto.h"
#include "tests/fuzz/fuzz_check.h"

/* Payload alignment the fuzzer uses (see above). 8 keeps a known
 * misalignment report from stopping every run while it is open. */
static size_t fzp_align = 1;

#define FZP_NPAGES_OFF 1
#define FZP_HDR_OFF    9
#define FZP_MIN        (FZP_HDR_OFF + WIRE_HDR_SIZE)

/* A refusal is -EBADMSG with a reason a person can read. */
static void fzp_refused(int r, const char *why)
{
	FZ_CHECK(r == -EBADMSG || r == -EPROTONOSUPPORT);
	FZ_CHECK(why && strlen(why) > 0);
}

static void fzp_hello(const void *p, uint32_t len)
{
	struct pm_hello h;
	const char *why = NULL;
	uint64_t sum = 0, end = 0;
	int r = pm_decode_hello(p, len, &h, &why);

	if (r) {
		fzp_refused(r, why);
		return;
	}
	FZ_CHECK(h.identity_len <= MACHINE_IDENTITY_MAX &&
		 len == PM_HELLO_WIRE_LEN + ((h.identity_len + 7u) & ~7u));
	FZ_CHECK(h.engine == MACHINE_ENGINE_THREAD || h.engine == MACHINE_ENGINE_KVM);
	FZ_CHECK(memchr(h.name, 0, sizeof(h.name)));
	FZ_CHECK(h.mode >= PM_MODE_POSTCOPY && h.mode <= PM_MODE_HYBRID);
	FZ_CHECK(h.page_size == PM_PAGE);
	FZ_CHECK(h.vcpus >= 1 && h.vcpus <= GUEST_MAX_VCPUS);
	FZ_CHECK(h.nregions >= 1 && h.nregions <= MACHINE_MAX_REGIONS);
	for (uint32_t i = 0; i < h.nregions; i++) {
		const struct pm_region *g = &h.regions[i];

		FZ_CHECK(g->size && !(g->gpa % PM_PAGE) && !(g->size % PM_PAGE));
		FZ_CHECK(g->gpa >= end && g->gpa + g->size > g->gpa);
		end = g->gpa + g->size;
		FZ_CHECK(sum + g->size > sum);
		sum += g->size;
	}
	FZ_CHECK(sum == h.ram_bytes && h.ram_bytes >= GUEST_DATA_OFF);
}

static void fzp_pages(const uint8_t *p, uint32_t len, uint64_t npages)
{
	struct pm_pages_hdr h;
	const uint8_t *data = NULL;
	const char *why = NULL;
	volatile uint8_t sink;
	int r = pm_decode_pages(p, len, npages, &h, &data, &why);

	if (r) {
		fzp_refused(r, why);
		return;
	}
	FZ_CHECK(h.count >= 1 && h.count <= PM_RUN_MAX);
	FZ_CHECK(h.first < npages && h.count <= npages - h.first);
	FZ_CHECK((uint64_t)len == sizeof(h) + (uint64_t)h.count * PM_PAGE);
	FZ_CHECK(data == p + sizeof(h));
	/* What the destination copies: first and last byte of the run. */
	sink = data[0];
	sink = data[(size_t)h.count * PM_PAGE - 1];
	(void)sink;
}

/* ZERO and DISCARD. Elements are read with memcpy here, so an alignment
 * report can only come from the decoder itself. */
static void fzp_ranges(const uint8_t *p, uint32_t len, uint64_t npages)
{
	struct pm_range rp[PM_ZERO_MAX];
	const char *why = NULL;
	unsigned n = 0;
	int r = pm_decode_ranges(p, len, npages, rp, &n, &why);

	if (r) {
		fzp_refused(r, why);
		return;
	}
	FZ_CHECK(n >= 1 && n <= PM_ZERO_MAX && (uint64_t)n * sizeof(*rp) == len);
	for (unsigned i = 0; i < n; i++)
		FZ_CHECK(rp[i].count && rp[i].first < npages && rp[i].count <= npages - rp[i].first);
}

static void fzp_req(const uint8_t *p, uint32_t len, uint64_t npages)
{
	uint64_t pages[PM_REQ_MAX];
	const char *why = NULL;
	unsigned n = 0;
	int r = pm_decode_req(p, len, npages, pages, &n, &why);

	if (r) {
		fzp_refused(r, why);
		return;
	}
	FZ_CHECK(n >= 1 && n <= PM_REQ_MAX && (uint64_t)n * sizeof(*pages) == len);
	for (unsigned i = 0; i < n; i++)
		FZ_CHECK(pages[i] < npages);
}

static void fzp_error(const void *p, uint32_t len)
{
	struct pm_error e;
	int r = pm_decode_error(p, len, &e);

	/* Always a failure code, always a terminated reason to print. */
	FZ_CHECK(r < 0);
	FZ_CHECK(memchr(e.why, 0, sizeof(e.why)) != NULL);
}

/* A fixed-size payload decodes exactly when its length is right. */
static int fzp_fixed(const void *p, uint32_t len, void *out, size_t size)
{
	const char *why = NULL;
	int r = pm_decode_fixed(p, len, out, size, &why);

	if (len == size)
		FZ_CHECK(r == 0);
	else
		fzp_refused(r, why);
	return r;
}

/* DONE carries the destination's fault-latency histogram, which the source
 * reads percentiles from: any counts must give an answer, never a crash. */
static void fzp_done(const void *p, uint32_t len)
{
	static struct pm_done d;     /* 4 KiB of histogram: not on the stack */
	static struct pcm_hist sum;
	const char *why = NULL;
	int r = pm_decode_done(p, len, &d, &why);

	if (r) {
		fzp_refused(r, why);
		return;
	}
	FZ_CHECK(len == PM_DONE_WIRE_LEN && memchr(d.verify_detail, 0, sizeof(d.verify_detail)));
	pcm_hist_init(&sum);
	pcm_hist_merge(&sum, &d.fault_lat);
	for (unsigned q = 0; q <= 100; q += 10) {
		uint64_t v = pcm_hist_pct(&d.fault_lat, q);

		FZ_CHECK(!d.fault_lat.count || v <= d.fault_lat.max);
	}
	(void)pcm_hist_pct(&sum, 99.9);
}

/* RECOVER_ACK becomes the source's "sent" bitmap: no bit past npages,
 * and its count must be the one it claims. */
static void fzp_recover_ack(const uint8_t *p, uint32_t len, uint64_t npages)
{
	struct pm_recover_ack a;
	const uint8_t *words = NULL;
	const char *why = NULL;
	uint64_t count = 0, w;
	int r = pm_decode_recover_ack(p, len, npages, &a, &words, &why);

	if (r) {
		fzp_refused(r, why);
		return;
	}
	FZ_CHECK(a.npages == npages && len == sizeof(a) + (npages + 63) / 64 * 8);
	for (uint64_t i = 0; i < (npages + 63) / 64; i++) {
		memcpy(&w, words + i * 8, 8);
		count += (uint64_t)__builtin_popcountll(w);
	}
	FZ_CHECK(count == a.pages_in && a.pages_in <= npages);
}

static void fzp_decode(uint16_t type, const uint8_t *p, uint32_t len, uint64_t npages)
{
	union {
		struct pm_refuse refuse;
		struct pm_ping ping;
		struct pm_channel_msg chan;
		struct pm_resumed resumed;
		struct pm_digest digest;
		struct pm_progress progress;
		struct pm_recover recover;
		struct pm_answer answer;
	} u;

	switch (type) {
	case PM_HELLO: fzp_hello(p, len); break;
	case PM_PAGES: fzp_pages(p, len, npages); break;
	case PM_ZERO: case PM_DISCARD: fzp_ranges(p, len, npages); break;
	case PM_REQ: fzp_req(p, len, npages); break;
	case PM_RECOVER_ACK: fzp_recover_ack(p, len, npages); break;
	case PM_ERROR: fzp_error(p, len); break;
	case PM_DONE: fzp_done(p, len); break;
	case PM_REFUSE: fzp_fixed(p, len, &u.refuse, sizeof(u.refuse)); break;
	case PM_PING: fzp_fixed(p, len, &u.ping, sizeof(u.ping)); break;
	case PM_CHANNEL: fzp_fixed(p, len, &u.chan, sizeof(u.chan)); break;
	case PM_RESUMED: fzp_fixed(p, len, &u.resumed, sizeof(u.resumed)); break;
	case PM_DIGEST: fzp_fixed(p, len, &u.digest, sizeof(u.digest)); break;
	case PM_PROGRESS: fzp_fixed(p, len, &u.progress, sizeof(u.progress)); break;
	case PM_RECOVER: case PM_QUERY: fzp_fixed(p, len, &u.recover, sizeof(u.recover)); break;
	case PM_ANSWER: fzp_fixed(p, len, &u.answer, sizeof(u.answer)); break;
	default:
		/* READY, BULK_END, ... carry nothing; STATE's blob is
		 * fuzz_state's; anything else is no type at all. */
		break;
	}
}

static int fuzz_proto_one(const uint8_t *data, size_t size)
{
	struct wire_hdr h;
	uint64_t npages;
	size_t avail, off;
	uint32_t hlen, len;
	uint16_t type;
	uint8_t *buf;
	const char *name;
	int r;

	if (size < FZP_MIN)
		return 0;
	off = (data[0] & 7u) & ~(fzp_align - 1);
	memcpy(&npages, data + FZP_NPAGES_OFF, sizeof(npages));
	npages = le64toh(npages);
	memcpy(&h, data + FZP_HDR_OFF, sizeof(h));
	avail = size - FZP_MIN;
	type = le16toh(h.type);
	hlen = le32toh(h.len);

	r = wire_hdr_check(&h, PM_TYPE_MAX);
	FZ_CHECK(r == 0 || r == -EPROTO || r == -EPROTONOSUPPORT || r == -EMSGSIZE ||
		 r == -EBADMSG);
	FZ_CHECK(strlen(wire_strerror(r)) > 0);
	if (!r)
		FZ_CHECK(le32toh(h.magic) == WIRE_MAGIC && le16toh(h.version) == WIRE_VERSION &&
			 hlen <= ((le32toh(h.flags) & WIRE_F_SEALED) ? WIRE_MAX_LEN :
				  WIRE_MAX_PAYLOAD) &&
			 !(le32toh(h.flags) & ~WIRE_F_SEALED) && type >= 1 &&
			 type <= PM_TYPE_MAX);
	name = pm_type_name(type);
	FZ_CHECK(name && strlen(name) > 0);

	len = hlen <= avail ? hlen : (uint32_t)avail;
	buf = malloc(off + len);
	if (!buf && off + len)
		return 0;
	memcpy(buf + off, data + FZP_MIN, len);

	/* The checksum reads exactly the header's length: only when all of
	 * it is here, as the receiver calls it. */
	if (!r && hlen <= avail) {
		int c = wire_payload_check(&h, buf + off);

		FZ_CHECK(c == 0 || c == -EILSEQ);
	}
	fzp_decode(type, buf + off, len, npages);
	free(buf);
	return 0;
}

#ifndef FUZZ_NO_MAIN
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *e = getenv("FUZZ_PROTO_ALIGN");

	(void)argc;
	(void)argv;
	if (e && *e) {
		unsigned long a = strtoul(e, NULL, 10);

		if (a != 1 && a != 2 && a != 4 && a != 8) {
			fprintf(stderr, "fuzz_proto: FUZZ_PROTO_ALIGN must be 1, 2, 4 or 8\n");
			exit(2);
		}
		fzp_align = a;
	}
	fprintf(stderr, "fuzz_proto: payload misalignment in steps of %zu (FUZZ_PROTO_ALIGN%s)\n",
		fzp_align, fzp_align == 8 ? ": aligned only" : "");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_proto_one(data, size);
}
#endif
