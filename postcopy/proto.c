/* postcopy/proto.c - decoders for the migration's messages. */
#include <errno.h>
#include <string.h>
#include "lib/codec.h"
#include "postcopy/proto.h"

static const char *const type_names[] = {
	[PM_HELLO] = "HELLO", [PM_READY] = "READY", [PM_REFUSE] = "REFUSE",
	[PM_PING] = "PING", [PM_CHANNEL] = "CHANNEL", [PM_STATE] = "STATE",
	[PM_RESUMED] = "RESUMED", [PM_REQ] = "REQ", [PM_PAGES] = "PAGES",
	[PM_ZERO] = "ZERO", [PM_BULK_END] = "BULK_END", [PM_DIGEST] = "DIGEST",
	[PM_PROGRESS] = "PROGRESS", [PM_DONE] = "DONE",
	[PM_RELEASED] = "RELEASED", [PM_ERROR] = "ERROR",
	[PM_PRECOPY_END] = "PRECOPY_END", [PM_DISCARD] = "DISCARD",
	[PM_AUTH_CHALLENGE] = "AUTH_CHALLENGE", [PM_AUTH_RESPONSE] = "AUTH_RESPONSE",
	[PM_AUTH_PROOF] = "AUTH_PROOF", [PM_RECOVER] = "RECOVER",
	[PM_RECOVER_ACK] = "RECOVER_ACK", [PM_QUERY] = "QUERY", [PM_ANSWER] = "ANSWER",
};

const char *pm_type_name(uint16_t type)
{
	if (type == 0 || type > PM_TYPE_MAX)
		return "unknown";
	return type_names[type];
}

void pm_strset(char *dst, size_t size, const char *src)
{
	if (!size)
		return;
	strncpy(dst, src ? src : "", size - 1);
	dst[size - 1] = 0;
}

static int bad(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return -EBADMSG;
}

int pm_decode_fixed(const void *payload, uint32_t len, void *out, size_t size,
		    const char **why)
{
	if (len != size)
		return bad(why, "message has the wrong length for its type");
	memcpy(out, payload, size);
	return 0;
}

/* A layout is possible when its regions are page-aligned, do not overlap,
 * fit the vCPU limits and add up to the RAM size. */
static int hello_layout_check(const struct pm_hello *h, const char **why)
{
	uint64_t sum = 0, end = 0;

	if (h->page_size != PM_PAGE)
		return bad(why, "page size is not 4096");
	if (h->vcpus == 0 || h->vcpus > GUEST_MAX_VCPUS)
		return bad(why, "impossible vCPU count");
	if (h->nregions == 0 || h->nregions > MACHINE_MAX_REGIONS)
		return bad(why, "impossible number of memory regions");
	for (uint32_t i = 0; i < h->nregions; i++) {
		const struct pm_region *r = &h->regions[i];

		if (r->size == 0 || (r->gpa | r->size) % PM_PAGE)
			return bad(why, "memory region not page-aligned");
		if (r->gpa < end || r->gpa + r->size < r->gpa)
			return bad(why, "memory regions overlap");
		end = r->gpa + r->size;
		sum += r->size;
	}
	if (sum != h->ram_bytes || h->ram_bytes < GUEST_DATA_OFF)
		return bad(why, "memory regions do not add up to the RAM size");
	return 0;
}

/* Codes on the wire; the names are for the edges. The engine's code is
 * its enum machine_engine_kind, THREAD or KVM; 0 is no engine. */
static const char *const mode_codes[] = {
	[PM_MODE_POSTCOPY] = "postcopy", [PM_MODE_PRECOPY] = "precopy", [PM_MODE_HYBRID] = "hybrid",
};
#define NCODES(a) (sizeof(a) / sizeof((a)[0]))

const char *pm_mode_name(enum pm_mode m)
{
	return (unsigned)m < NCODES(mode_codes) && mode_codes[m] ? mode_codes[m] : "?";
}

int pm_mode_parse(const char *name, enum pm_mode *m)
{
	for (size_t i = 1; i < NCODES(mode_codes); i++)
		if (!strcmp(mode_codes[i], name)) {
			*m = (enum pm_mode)i;
			return 0;
		}
	return -EINVAL;
}

#define PAD8(n) (((n) + 7u) & ~7u)

size_t pm_encode_hello(const struct pm_hello *h, uint8_t buf[PM_HELLO_WIRE_MAX])
{
	struct pcm_enc e = { buf, PM_HELLO_WIRE_MAX, 0, false };
	uint32_t il = h->identity_len <= MACHINE_IDENTITY_MAX ? h->identity_len : 0;
	uint8_t *pad;

	pcm_put_u32(&e, h->proto_version);
	pcm_put_u32(&e, h->guest_abi);
	pcm_put_u64(&e, h->session);
	pcm_put_u8(&e, machine_engine_known(h->engine) ? (uint8_t)h->engine : 0);
	pcm_put_u8(&e, (unsigned)h->mode < NCODES(mode_codes) ? (uint8_t)h->mode : 0);
	pcm_put_u8(&e, (uint8_t)h->guest);
	pcm_put_u8(&e, (uint8_t)h->ndisks);
	pcm_put_u32(&e, h->vcpus);
	pcm_put_u64(&e, h->ram_bytes);
	pcm_put_u32(&e, h->page_size);
	pcm_put_u32(&e, h->nregions);
	for (unsigned i = 0; i < MACHINE_MAX_REGIONS; i++) {
		pcm_put_u64(&e, i < h->nregions ? h->regions[i].gpa : 0);
		pcm_put_u64(&e, i < h->nregions ? h->regions[i].size : 0);
	}
	for (unsigned i = 0; i < MACHINE_FEATURE_WORDS; i++)
		pcm_put_u32(&e, h->cpu_features[i]);
	pcm_put_str(&e, h->name, PM_NAME_LEN);
	machine_params_put(&e, &h->params);
	pcm_put_u32(&e, h->identity_len);
	pcm_put_u32(&e, 0);
	if (il != h->identity_len)
		return 0;
	pcm_put_bytes(&e, h->identity, il);
	if ((pad = pcm_enc_take(&e, PAD8(il) - il)))
		memset(pad, 0, PAD8(il) - il);
	return e.over ? 0 : e.pos;
}

/* The codes and strings of a HELLO whose length is right. */
static int hello_fields(struct pcm_dec *d, struct pm_hello *h, const char **why)
{
	uint8_t engine, mode, guest, ndisks;

	h->guest_abi = pcm_get_u32(d);
	h->session = pcm_get_u64(d);
	engine = pcm_get_u8(d);
	mode = pcm_get_u8(d);
	guest = pcm_get_u8(d);
	ndisks = pcm_get_u8(d);
	if (!machine_engine_known((enum machine_engine_kind)engine))
		return bad(why, "HELLO names an unknown engine");
	if (!mode || mode >= NCODES(mode_codes))
		return bad(why, "HELLO names an unknown migration mode");
	if (guest != MACHINE_GUEST_PAYLOAD && guest != MACHINE_GUEST_LINUX)
		return bad(why, "HELLO names an unknown guest kind");
	if (ndisks > MACHINE_MAX_DISKS || (ndisks && guest != MACHINE_GUEST_LINUX))
		return bad(why, "HELLO names more disks than a VM can have");
	h->ndisks = ndisks;
	h->engine = (enum machine_engine_kind)engine;
	h->mode = (enum pm_mode)mode;
	h->guest = guest;
	h->vcpus = pcm_get_u32(d);
	h->ram_bytes = pcm_get_u64(d);
	h->page_size = pcm_get_u32(d);
	h->nregions = pcm_get_u32(d);
	for (unsigned i = 0; i < MACHINE_MAX_REGIONS; i++) {
		h->regions[i].gpa = pcm_get_u64(d);
		h->regions[i].size = pcm_get_u64(d);
	}
	for (unsigned i = 0; i < MACHINE_FEATURE_WORDS; i++)
		h->cpu_features[i] = pcm_get_u32(d);
	if (!pcm_get_str(d, h->name, PM_NAME_LEN))
		return bad(why, "unterminated string in HELLO");
	machine_params_get(d, &h->params);
	return 0;
}

/* The identity after the fixed part: its length says the message's. */
static int hello_identity(struct pcm_dec *d, uint32_t len, struct pm_hello *h,
			  const char **why)
{
	uint32_t il = pcm_get_u32(d), reserved = pcm_get_u32(d);
	const uint8_t *pad;

	if (reserved || il > MACHINE_IDENTITY_MAX)
		return bad(why, "HELLO names devices beyond what it can carry");
	if (len != PM_HELLO_WIRE_LEN + PAD8(il))
		return bad(why, "message has the wrong length for its type");
	h->identity_len = il;
	pcm_get_bytes(d, h->identity, il);
	pad = pcm_dec_take(d, PAD8(il) - il);
	for (uint32_t i = 0; pad && i < PAD8(il) - il; i++)
		if (pad[i])
			return bad(why, "HELLO padding is not zero");
	return d->over ? bad(why, "message has the wrong length for its type") : 0;
}

int pm_decode_hello(const void *payload, uint32_t len, struct pm_hello *h,
		    const char **why)
{
	struct pcm_dec d = { payload, len, 0, false };
	int err;

	memset(h, 0, sizeof(*h));
	h->proto_version = pcm_get_u32(&d);
	if (d.over)
		return bad(why, "HELLO shorter than its version");
	if (h->proto_version != PM_PROTO_VERSION) {
		if (why)
			*why = "another protocol version";
		return -EPROTONOSUPPORT;
	}
	if (len < PM_HELLO_WIRE_LEN)
		return bad(why, "message has the wrong length for its type");
	if ((err = hello_fields(&d, h, why)) || (err = hello_identity(&d, len, h, why)))
		return err;
	return hello_layout_check(h, why);
}

/* DONE's integers, in wire order, without the verdict, text and histogram. */
#define DONE_COUNTS(d) { &(d)->pages_pushed, &(d)->pages_requested, &(d)->pages_zero, \
	&(d)->pages_precopied, &(d)->pages_resent, &(d)->remote_faults, &(d)->blocktime_ns, \
	&(d)->max_stall_ns, &(d)->overhead_bytes, &(d)->bulk_ns }
#define DONE_GUEST(d) { &(d)->guest_ops_in, &(d)->guest_in_ns, &(d)->guest_ops_end, \
	&(d)->guest_end_ns }

void pm_encode_done(const struct pm_done *d, uint8_t buf[PM_DONE_WIRE_LEN])
{
	struct pcm_enc e = { buf, PM_DONE_WIRE_LEN, 0, false };
	const uint64_t *counts[] = DONE_COUNTS(d), *guest[] = DONE_GUEST(d);
	const struct pcm_hist *h = &d->fault_lat;

	for (size_t i = 0; i < NCODES(counts); i++)
		pcm_put_u64(&e, *counts[i]);
	pcm_put_u32(&e, d->verified);
	pcm_put_u32(&e, 0);
	pcm_put_str(&e, d->verify_detail, sizeof(d->verify_detail));
	pcm_put_u64(&e, h->count);
	pcm_put_u64(&e, h->sum);
	pcm_put_u64(&e, h->min);
	pcm_put_u64(&e, h->max);
	for (unsigned i = 0; i < PCM_HIST_BUCKETS; i++)
		pcm_put_u64(&e, h->b[i]);
	for (size_t i = 0; i < NCODES(guest); i++)
		pcm_put_u64(&e, *guest[i]);
}

int pm_decode_done(const void *payload, uint32_t len, struct pm_done *d, const char **why)
{
	struct pcm_dec dec = { payload, len, 0, false };
	uint64_t *counts[] = DONE_COUNTS(d), *guest[] = DONE_GUEST(d);
	struct pcm_hist *h = &d->fault_lat;

	memset(d, 0, sizeof(*d));
	if (len != PM_DONE_WIRE_LEN)
		return bad(why, "message has the wrong length for its type");
	for (size_t i = 0; i < NCODES(counts); i++)
		*counts[i] = pcm_get_u64(&dec);
	d->verified = pcm_get_u32(&dec);
	(void)pcm_get_u32(&dec);
	(void)pcm_get_str(&dec, d->verify_detail, sizeof(d->verify_detail));
	d->verify_detail[sizeof(d->verify_detail) - 1] = 0;
	h->count = pcm_get_u64(&dec);
	h->sum = pcm_get_u64(&dec);
	h->min = pcm_get_u64(&dec);
	h->max = pcm_get_u64(&dec);
	for (unsigned i = 0; i < PCM_HIST_BUCKETS; i++)
		h->b[i] = pcm_get_u64(&dec);
	for (size_t i = 0; i < NCODES(guest); i++)
		*guest[i] = pcm_get_u64(&dec);
	return dec.over ? bad(why, "DONE shorter than its fields") : 0;
}

int pm_decode_pages(const void *payload, uint32_t len, uint64_t npages,
		    struct pm_pages_hdr *h, const uint8_t **data, const char **why)
{
	if (len < sizeof(*h))
		return bad(why, "PAGES message shorter than its header");
	memcpy(h, payload, sizeof(*h));
	if (h->count == 0 || h->count > PM_RUN_MAX)
		return bad(why, "PAGES run length out of range");
	if ((uint64_t)len != sizeof(*h) + (uint64_t)h->count * PM_PAGE)
		return bad(why, "PAGES length does not match its page count");
	if (h->first >= npages || h->count > npages - h->first)
		return bad(why, "page number outside guest RAM");
	*data = (const uint8_t *)payload + sizeof(*h);
	return 0;
}

/* Arrays are copied out: a payload has no alignment guarantee (frames
 * follow each other byte by byte in a receive buffer). */
int pm_decode_ranges(const void *payload, uint32_t len, uint64_t npages,
		     struct pm_range r[PM_ZERO_MAX], unsigned *n, const char **why)
{
	if (len == 0 || len % sizeof(*r) || len / sizeof(*r) > PM_ZERO_MAX)
		return bad(why, "ZERO message has a bad length");
	*n = len / sizeof(*r);
	memcpy(r, payload, len);
	for (unsigned i = 0; i < *n; i++)
		if (r[i].count == 0 || r[i].first >= npages || r[i].count > npages - r[i].first)
			return bad(why, "zero range outside guest RAM");
	return 0;
}

int pm_decode_req(const void *payload, uint32_t len, uint64_t npages,
		  uint64_t pages[PM_REQ_MAX], unsigned *n, const char **why)
{
	if (len == 0 || len % sizeof(*pages) || len / sizeof(*pages) > PM_REQ_MAX)
		return bad(why, "REQ message has a bad length");
	*n = len / sizeof(*pages);
	memcpy(pages, payload, len);
	for (unsigned i = 0; i < *n; i++)
		if (pages[i] >= npages)
			return bad(why, "request for a page outside guest RAM");
	return 0;
}

int pm_decode_recover_ack(const void *payload, uint32_t len, uint64_t npages,
			  struct pm_recover_ack *h, const uint8_t **words, const char **why)
{
	uint64_t nw = (npages + 63) / 64, count = 0, w;
	const uint8_t *p = (const uint8_t *)payload + sizeof(*h);

	if (len < sizeof(*h))
		return bad(why, "RECOVER_ACK shorter than its header");
	memcpy(h, payload, sizeof(*h));
	if (h->npages != npages)
		return bad(why, "RECOVER_ACK is for another number of pages");
	if ((uint64_t)len != sizeof(*h) + nw * 8)
		return bad(why, "RECOVER_ACK length does not match its page count");
	for (uint64_t i = 0; i < nw; i++) {
		memcpy(&w, p + i * 8, 8);
		if (i == nw - 1 && npages % 64 && (w >> (npages % 64)))
			return bad(why, "RECOVER_ACK marks pages outside guest RAM");
		count += (uint64_t)__builtin_popcountll(w);
	}
	if (count != h->pages_in)
		return bad(why, "RECOVER_ACK's page count does not match its bitmap");
	*words = p;
	return 0;
}

int pm_decode_error(const void *payload, uint32_t len, struct pm_error *e)
{
	if (pm_decode_fixed(payload, len, e, sizeof(*e), NULL)) {
		pm_strset(e->why, sizeof(e->why), "(malformed ERROR)");
		return -EPROTO;
	}
	e->why[sizeof(e->why) - 1] = 0;
	return e->err < 0 ? e->err : -EPROTO;
}
