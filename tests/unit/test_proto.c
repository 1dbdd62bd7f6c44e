/* tests/unit/test_proto.c - message decoders refuse what would be unsafe:
 * wrong lengths, pages outside guest RAM, impossible HELLO layouts. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <endian.h>
#include <string.h>
#include <cmocka.h>
#include "postcopy/proto.h"

static void hello_good(struct pm_hello *h)
{
	memset(h, 0, sizeof(*h));
	h->proto_version = PM_PROTO_VERSION;
	h->engine = MACHINE_ENGINE_THREAD;
	h->mode = PM_MODE_POSTCOPY;
	h->ram_bytes = 64ull << 20;
	h->page_size = PM_PAGE;
	h->vcpus = 2;
	h->nregions = 1;
	h->regions[0].size = h->ram_bytes;
}

/* Encode h and decode it as a peer would receive it, len bytes long. */
static int round_trip(const struct pm_hello *h, int len_delta, struct pm_hello *out,
		      const char **why)
{
	uint8_t wire[PM_HELLO_WIRE_MAX + 16] = { 0 };

	assert_int_equal(pm_encode_hello(h, wire), PM_HELLO_WIRE_LEN);
	return pm_decode_hello(wire, (uint32_t)(PM_HELLO_WIRE_LEN + len_delta), out, why);
}

static void test_hello(void **state)
{
	struct pm_hello h, out;
	const char *why = NULL;

	(void)state;
	hello_good(&h);
	h.session = 0x0123456789abcdefull;
	h.guest = MACHINE_GUEST_LINUX;
	h.ndisks = 2;
	h.guest_abi = 2;
	h.cpu_features[3] = 0xdeadbeef;
	h.params.workload = 3;
	h.params.seed = 99;
	strcpy(h.name, "web-1");
	assert_int_equal(round_trip(&h, 0, &out, &why), 0);
	/* every field comes back, none by accident of layout */
	assert_memory_equal(&out, &h, sizeof(h));
	assert_int_equal(round_trip(&h, -8, &out, &why), -EBADMSG);
	h.vcpus = 0;
	assert_int_equal(round_trip(&h, 0, &out, &why), -EBADMSG);
	assert_non_null(strstr(why, "vCPU"));
	hello_good(&h);
	h.regions[0].size -= PM_PAGE;                  /* does not add up */
	assert_int_equal(round_trip(&h, 0, &out, &why), -EBADMSG);
	hello_good(&h);
	h.nregions = 2;                                 /* overlapping regions */
	h.regions[0].size = h.regions[1].size = 32ull << 20;
	h.regions[1].gpa = 16ull << 20;
	assert_int_equal(round_trip(&h, 0, &out, &why), -EBADMSG);
	assert_non_null(strstr(why, "overlap"));
	hello_good(&h);
	h.engine = MACHINE_ENGINE_KVM;
	assert_int_equal(round_trip(&h, 0, &out, &why), 0);
	assert_int_equal(out.engine, MACHINE_ENGINE_KVM);
	h.engine = (enum machine_engine_kind)99;        /* no such engine */
	{
		uint8_t wire[PM_HELLO_WIRE_MAX] = { 0 };

		assert_int_equal(pm_encode_hello(&h, wire), PM_HELLO_WIRE_LEN);
		assert_int_equal(wire[16], 0);          /* the engine's code: none */
	}
	assert_int_equal(round_trip(&h, 0, &out, &why), -EBADMSG);
	assert_non_null(strstr(why, "engine"));
	h.engine = MACHINE_ENGINE_AUTO;                 /* not resolved */
	assert_int_equal(round_trip(&h, 0, &out, &why), -EBADMSG);
	assert_non_null(strstr(why, "engine"));
	hello_good(&h);
	h.page_size = 8192;
	assert_int_equal(round_trip(&h, 0, &out, &why), -EBADMSG);
	hello_good(&h);
	h.proto_version = PM_PROTO_VERSION - 1;
	assert_int_equal(round_trip(&h, 0, &out, &why), -EPROTONOSUPPORT);
}

static void test_pages(void **state)
{
	static uint8_t buf[sizeof(struct pm_pages_hdr) + 2 * PM_PAGE];
	struct pm_pages_hdr h = { .first = 8, .count = 2 }, out;
	const uint8_t *data;
	const char *why;

	(void)state;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(pm_decode_pages(buf, sizeof(buf), 10, &out, &data, &why), 0);
	assert_ptr_equal(data, buf + sizeof(h));
	/* the run's last page is outside a 9-page guest */
	assert_int_equal(pm_decode_pages(buf, sizeof(buf), 9, &out, &data, &why), -EBADMSG);
	assert_non_null(strstr(why, "outside"));
	/* length does not match the count */
	assert_int_equal(pm_decode_pages(buf, sizeof(buf) - 1, 10, &out, &data, &why), -EBADMSG);
	assert_int_equal(pm_decode_pages(buf, 4, 10, &out, &data, &why), -EBADMSG);
	h.count = 0;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(pm_decode_pages(buf, sizeof(h), 10, &out, &data, &why), -EBADMSG);
	h = (struct pm_pages_hdr){ .first = UINT64_MAX, .count = 2 };
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(pm_decode_pages(buf, sizeof(buf), 10, &out, &data, &why), -EBADMSG);
}

static void test_ranges_and_requests(void **state)
{
	struct pm_range r[2] = { { 0, 4 }, { 6, 4 } };
	uint64_t req[3] = { 0, 9, 10 };
	struct pm_range rp[PM_ZERO_MAX];
	uint64_t pp[PM_REQ_MAX];
	const char *why;
	unsigned n;

	(void)state;
	assert_int_equal(pm_decode_ranges(r, sizeof(r), 10, rp, &n, &why), 0);
	assert_int_equal(n, 2);
	assert_int_equal(pm_decode_ranges(r, sizeof(r), 9, rp, &n, &why), -EBADMSG);
	r[1] = (struct pm_range){ 2, UINT64_MAX };      /* wraps around */
	assert_int_equal(pm_decode_ranges(r, sizeof(r), 10, rp, &n, &why), -EBADMSG);
	assert_int_equal(pm_decode_ranges(r, 12, 10, rp, &n, &why), -EBADMSG);
	assert_int_equal(pm_decode_ranges(r, 0, 10, rp, &n, &why), -EBADMSG);
	assert_int_equal(pm_decode_req(req, 2 * sizeof(req[0]), 10, pp, &n, &why), 0);
	assert_int_equal(pm_decode_req(req, sizeof(req), 10, pp, &n, &why), -EBADMSG);
	assert_non_null(strstr(why, "outside"));
	assert_int_equal(pm_decode_req(req, 5, 10, pp, &n, &why), -EBADMSG);
}

/* RECOVER_ACK turns into the source's "sent" bitmap: it must cover
 * exactly guest RAM and say truly how many pages it marks. */
static void test_recover_ack(void **state)
{
	struct { struct pm_recover_ack a; uint64_t w[2]; } m = { { 100, 3 }, { 0x7, 0 } };
	struct pm_recover_ack a;
	const uint8_t *words;
	const char *why;

	(void)state;
	assert_int_equal(pm_decode_recover_ack(&m, sizeof(m), 100, &a, &words, &why), 0);
	assert_int_equal(a.pages_in, 3);
	assert_ptr_equal(words, (const uint8_t *)&m + sizeof(m.a));
	assert_int_equal(pm_decode_recover_ack(&m, sizeof(m), 101, &a, &words, &why), -EBADMSG);
	assert_int_equal(pm_decode_recover_ack(&m, sizeof(m) - 8, 100, &a, &words, &why),
			 -EBADMSG);
	assert_int_equal(pm_decode_recover_ack(&m, 8, 100, &a, &words, &why), -EBADMSG);
	m.a.pages_in = 4;                       /* claims more than it marks */
	assert_int_equal(pm_decode_recover_ack(&m, sizeof(m), 100, &a, &words, &why), -EBADMSG);
	assert_string_equal(why, "RECOVER_ACK's page count does not match its bitmap");
	m.a.pages_in = 4;
	m.w[1] = 1ull << 40;                    /* page 104: outside guest RAM */
	assert_int_equal(pm_decode_recover_ack(&m, sizeof(m), 100, &a, &words, &why), -EBADMSG);
	assert_string_equal(why, "RECOVER_ACK marks pages outside guest RAM");
}

static void test_fixed_and_names(void **state)
{
	struct pm_ping p = { 1, 0, 0 }, out;
	char s[4];

	(void)state;
	assert_int_equal(pm_decode_fixed(&p, sizeof(p), &out, sizeof(out), NULL), 0);
	assert_int_equal(pm_decode_fixed(&p, sizeof(p) - 1, &out, sizeof(out), NULL), -EBADMSG);
	struct pm_error e = { .err = -ENOMEM }, got;

	memset(e.why, 'x', sizeof(e.why));              /* unterminated */
	assert_int_equal(pm_decode_error(&e, sizeof(e), &got), -ENOMEM);
	assert_int_equal(strlen(got.why), sizeof(got.why) - 1);
	e.err = 0;
	assert_int_equal(pm_decode_error(&e, sizeof(e), &got), -EPROTO);
	assert_int_equal(pm_decode_error(&e, 3, &got), -EPROTO);
	assert_string_equal(got.why, "(malformed ERROR)");
	assert_string_equal(pm_type_name(PM_HELLO), "HELLO");
	assert_string_equal(pm_type_name(0), "unknown");
	assert_string_equal(pm_type_name(PM_TYPE_MAX + 1), "unknown");
	pm_strset(s, sizeof(s), "toolong");
	assert_string_equal(s, "too");
	/* payloads stay 8-byte multiples so they stay aligned in a buffer */
	assert_int_equal(sizeof(struct pm_refuse) % 8, 0);
	assert_int_equal(sizeof(struct pm_error) % 8, 0);
	assert_int_equal(PM_HELLO_WIRE_LEN % 8, 0);
	assert_int_equal(PM_DONE_WIRE_LEN % 8, 0);
}

/* DONE field by field: every field comes back, the bytes sit where
 * docs/protocol.md's table says, a wrong length is refused and a detail
 * with no NUL is cut, not read past. */
static void test_done(void **state)
{
	static struct pm_done d, back;
	static uint8_t w[PM_DONE_WIRE_LEN];
	const char *why = NULL;
	uint64_t v;

	(void)state;
	memset(&d, 0, sizeof(d));
	d.pages_pushed = 1;
	d.pages_requested = 2;
	d.pages_zero = 3;
	d.pages_precopied = 4;
	d.pages_resent = 5;
	d.remote_faults = 6;
	d.blocktime_ns = 7;
	d.max_stall_ns = 8;
	d.overhead_bytes = 9;
	d.bulk_ns = 10;
	d.verified = 1;
	strcpy(d.verify_detail, "kv: 2 shards consistent");
	pcm_hist_init(&d.fault_lat);
	pcm_hist_add(&d.fault_lat, 1000);
	pcm_hist_add(&d.fault_lat, 250000);
	d.guest_ops_in = 11;
	d.guest_in_ns = 12;
	d.guest_ops_end = 13;
	d.guest_end_ns = 14;
	assert_int_equal(PM_DONE_WIRE_LEN, 4408);
	pm_encode_done(&d, w);
	assert_int_equal(pm_decode_done(w, sizeof(w), &back, &why), 0);
	assert_memory_equal(&d, &back, sizeof(d));
	memcpy(&v, w + 72, 8);
	assert_int_equal(le64toh(v), 10);               /* bulk_ns at 72 */
	memcpy(&v, w + 4376, 8);
	assert_int_equal(le64toh(v), 11);               /* guest_ops_in at 4376 */
	assert_string_equal((const char *)w + 88, "kv: 2 shards consistent");
	assert_int_equal(pm_decode_done(w, sizeof(w) - 8, &back, &why), -EBADMSG);
	assert_non_null(strstr(why, "length"));
	memset(w + 88, 'x', 160);
	assert_int_equal(pm_decode_done(w, sizeof(w), &back, &why), 0);
	assert_int_equal(strlen(back.verify_detail), 159);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_pages),
		cmocka_unit_test(test_ranges_and_requests),
		cmocka_unit_test(test_recover_ack),
		cmocka_unit_test(test_fixed_and_names),
		cmocka_unit_test(test_done),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
