/* snap/format.c - the snapshot file's header, configuration section,
 * commit record and page index: encoders for the writer, and decoders for
 * the reader that take a file's bytes as outside input (every length and
 * range checked before use; see format.h for the errors). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "lib/codec.h"
#include "snap/format.h"

static const uint8_t zero_page[SNAP_PAGE];

static bool add_ok(uint64_t a, uint64_t b, uint64_t *sum)
{
	return !__builtin_add_overflow(a, b, sum);
}

/* ---- header ---- */

static void put_sum128(struct pcm_enc *e, const struct snap_sum128 *s)
{
	pcm_put_u64(e, s->lo);
	pcm_put_u64(e, s->hi);
}

static void get_sum128(struct pcm_dec *d, struct snap_sum128 *s)
{
	s->lo = pcm_get_u64(d);
	s->hi = pcm_get_u64(d);
}

void snap_hdr_encode(const struct snap_hdr *h, uint8_t buf[SNAP_HDR_LEN])
{
	struct pcm_enc e = { buf, SNAP_HDR_LEN, 0, false };

	pcm_put_bytes(&e, SNAP_MAGIC, 8);
	pcm_put_u32(&e, h->version);
	pcm_put_u32(&e, h->flags);
	pcm_put_u32(&e, h->hdr_len);
	pcm_put_u32(&e, h->page_size);
	pcm_put_bytes(&e, h->id.b, SNAP_ID_LEN);
	pcm_put_bytes(&e, h->parent_id.b, SNAP_ID_LEN);
	put_sum128(&e, &h->parent_commit);
	pcm_put_u64(&e, h->created_ns);
	pcm_put_u64(&e, h->npages);
	pcm_put_u64(&e, h->ram_off);
	pcm_put_u32(&e, h->config_len);
	pcm_put_u32(&e, 0);                        /* reserved */
}

/* The largest configuration section: bounds config_len before anything
 * is allocated for it. */
size_t snap_config_max(void)
{
	return 2 + SNAP_NAME_MAX + MACHINE_ENGINE_LEN + 3 * 4 + 8 + 4 +
	       MACHINE_MAX_REGIONS * 16 + MACHINE_FEATURE_WORDS * 4 + 48 +
	       2 * (2 + SNAP_PATH_MAX) + 2 + SNAP_CMDLINE_MAX +
	       4 + MACHINE_MAX_DISKS * (2 + SNAP_PATH_MAX + 4) + 4 + SNAP_DEVIDS_MAX;
}

/* The fields after the version, which is known to be ours. */
static int hdr_rest(struct pcm_dec *d, struct snap_hdr *h)
{
	uint32_t reserved;
	bool incr, orphan;

	h->flags = pcm_get_u32(d);
	h->hdr_len = pcm_get_u32(d);
	h->page_size = pcm_get_u32(d);
	pcm_get_bytes(d, h->id.b, SNAP_ID_LEN);
	pcm_get_bytes(d, h->parent_id.b, SNAP_ID_LEN);
	get_sum128(d, &h->parent_commit);
	h->created_ns = pcm_get_u64(d);
	h->npages = pcm_get_u64(d);
	h->ram_off = pcm_get_u64(d);
	h->config_len = pcm_get_u32(d);
	reserved = pcm_get_u32(d);
	if (d->over)
		return -EBADMSG;
	if (h->flags & ~SNAP_F_KNOWN)
		return -EPROTONOSUPPORT;
	if (h->hdr_len != SNAP_HDR_LEN || h->page_size != SNAP_PAGE || reserved)
		return -EBADMSG;
	if (!h->npages || h->npages > SNAP_MAX_PAGES || snap_id_is_zero(&h->id))
		return -EBADMSG;
	if (!h->config_len || h->config_len > snap_config_max())
		return -EBADMSG;
	if (h->ram_off != (h->hdr_len + h->config_len + SNAP_PAGE - 1) / SNAP_PAGE * SNAP_PAGE)
		return -EBADMSG;
	/* An incremental layer names its parent; a full one names none. */
	incr = h->flags & SNAP_F_INCREMENTAL;
	orphan = snap_id_is_zero(&h->parent_id);
	if (incr == orphan || (!incr && (h->parent_commit.lo | h->parent_commit.hi)))
		return -EBADMSG;
	return 0;
}

int snap_hdr_decode(const void *buf, size_t len, struct snap_hdr *h)
{
	struct pcm_dec d = { buf, len, 0, false };
	uint8_t magic[8];

	memset(h, 0, sizeof(*h));
	pcm_get_bytes(&d, magic, sizeof(magic));
	if (d.over)
		return -EBADMSG;
	if (memcmp(magic, SNAP_MAGIC, sizeof(magic)))
		return -EPROTO;
	h->version = pcm_get_u32(&d);
	if (d.over || !h->version)
		return -EBADMSG;
	if (h->version != SNAP_VERSION)
		return -EPROTONOSUPPORT;
	return hdr_rest(&d, h);
}

/* ---- configuration ---- */

/* A string as u16 length + bytes, no NUL. */
static void put_lstr(struct pcm_enc *e, const char *s, size_t field)
{
	size_t l = strnlen(s, field - 1);

	pcm_put_u16(e, (uint16_t)l);
	pcm_put_bytes(e, s, l);
}

/* Into dst[field]: shorter than the field, no NUL inside. */
static bool get_lstr(struct pcm_dec *d, char *dst, size_t field)
{
	size_t l = pcm_get_u16(d);

	if (d->over || l >= field || l > d->len - d->pos) {
		d->over = true;
		dst[0] = 0;
		return false;
	}
	pcm_get_bytes(d, dst, l);
	dst[l] = 0;
	return !memchr(dst, 0, l);
}

static void config_put(struct pcm_enc *e, const struct snap_meta *m)
{
	unsigned nreg = m->nregions < MACHINE_MAX_REGIONS ? m->nregions : MACHINE_MAX_REGIONS;
	unsigned ndisks = m->ndisks < MACHINE_MAX_DISKS ? m->ndisks : MACHINE_MAX_DISKS;
	uint32_t devids = m->devids_len < SNAP_DEVIDS_MAX ? m->devids_len : SNAP_DEVIDS_MAX;

	put_lstr(e, m->name, sizeof(m->name));
	pcm_put_str(e, machine_engine_name(m->engine), MACHINE_ENGINE_LEN);
	pcm_put_u32(e, m->guest);
	pcm_put_u32(e, m->guest_abi);
	pcm_put_u32(e, m->vcpus);
	pcm_put_u64(e, m->ram_bytes);
	pcm_put_u32(e, nreg);
	for (unsigned i = 0; i < nreg; i++) {
		pcm_put_u64(e, m->regions[i].gpa);
		pcm_put_u64(e, m->regions[i].size);
	}
	for (unsigned i = 0; i < MACHINE_FEATURE_WORDS; i++)
		pcm_put_u32(e, m->features[i]);
	machine_params_put(e, &m->params);
	put_lstr(e, m->kernel, sizeof(m->kernel));
	put_lstr(e, m->initrd, sizeof(m->initrd));
	put_lstr(e, m->cmdline, sizeof(m->cmdline));
	pcm_put_u32(e, ndisks);
	for (unsigned i = 0; i < ndisks; i++) {
		put_lstr(e, m->disks[i].path, sizeof(m->disks[i].path));
		pcm_put_u32(e, m->disks[i].read_only);
	}
	pcm_put_u32(e, devids);
	pcm_put_bytes(e, m->devids, devids);
}

size_t snap_config_encode(const struct snap_meta *m, uint8_t *buf, size_t cap)
{
	struct pcm_enc e = { buf, cap, 0, false };

	config_put(&e, m);
	return e.over ? 0 : e.pos;
}

static bool config_disks(struct pcm_dec *d, struct snap_meta *m)
{
	m->ndisks = pcm_get_u32(d);
	if (m->ndisks > MACHINE_MAX_DISKS)
		return false;
	for (unsigned i = 0; i < m->ndisks; i++) {
		if (!get_lstr(d, m->disks[i].path, sizeof(m->disks[i].path)))
			return false;
		m->disks[i].read_only = pcm_get_u32(d);
		if (m->disks[i].read_only > 1)
			return false;
	}
	m->devids_len = pcm_get_u32(d);
	if (m->devids_len > SNAP_DEVIDS_MAX)
		return false;
	pcm_get_bytes(d, m->devids, m->devids_len);
	return !d->over;
}

int snap_config_decode(const void *buf, size_t len, struct snap_meta *m)
{
	struct pcm_dec d = { buf, len, 0, false };
	char engine[MACHINE_ENGINE_LEN];   /* the file names it */

	memset(m, 0, sizeof(*m));
	if (!get_lstr(&d, m->name, sizeof(m->name)) ||
	    !pcm_get_str(&d, engine, MACHINE_ENGINE_LEN) ||
	    machine_engine_parse(engine, &m->engine))
		return -EBADMSG;
	m->guest = pcm_get_u32(&d);
	m->guest_abi = pcm_get_u32(&d);
	m->vcpus = pcm_get_u32(&d);
	m->ram_bytes = pcm_get_u64(&d);
	m->nregions = pcm_get_u32(&d);
	if (m->nregions > MACHINE_MAX_REGIONS)
		return -EBADMSG;
	for (unsigned i = 0; i < m->nregions; i++) {
		m->regions[i].gpa = pcm_get_u64(&d);
		m->regions[i].size = pcm_get_u64(&d);
	}
	for (unsigned i = 0; i < MACHINE_FEATURE_WORDS; i++)
		m->features[i] = pcm_get_u32(&d);
	machine_params_get(&d, &m->params);
	if (!get_lstr(&d, m->kernel, sizeof(m->kernel)) ||
	    !get_lstr(&d, m->initrd, sizeof(m->initrd)) ||
	    !get_lstr(&d, m->cmdline, sizeof(m->cmdline)) || !config_disks(&d, m))
		return -EBADMSG;
	if (d.over || d.pos != len)
		return -EBADMSG;
	return snap_meta_check(m) ? -EBADMSG : 0;
}

/* ---- commit record ---- */

static struct snap_sum128 sum128(const void *p, size_t n)
{
	XXH128_hash_t h = XXH3_128bits(p, n);

	return (struct snap_sum128){ h.low64, h.high64 };
}

#define COMMIT_SUM_OFF (SNAP_COMMIT_LEN - 16)

void snap_commit_encode(struct snap_commit *c, uint8_t buf[SNAP_COMMIT_LEN])
{
	struct pcm_enc e = { buf, SNAP_COMMIT_LEN, 0, false };

	pcm_put_bytes(&e, SNAP_COMMIT_MAGIC, 8);
	pcm_put_u32(&e, c->version);
	pcm_put_u32(&e, SNAP_COMMIT_LEN);
	pcm_put_bytes(&e, c->id.b, SNAP_ID_LEN);
	pcm_put_u64(&e, c->config_off);
	pcm_put_u64(&e, c->config_len);
	pcm_put_u64(&e, c->ram_off);
	pcm_put_u64(&e, c->ram_len);
	pcm_put_u64(&e, c->state_off);
	pcm_put_u64(&e, c->state_len);
	pcm_put_u64(&e, c->index_off);
	pcm_put_u64(&e, c->index_len);
	pcm_put_u64(&e, c->npages);
	pcm_put_u64(&e, c->present);
	pcm_put_u64(&e, c->data_pages);
	pcm_put_u64(&e, c->meta_sum);
	pcm_put_u64(&e, c->state_sum);
	pcm_put_u64(&e, c->index_sum);
	pcm_put_u64(&e, c->file_size);
	c->sum = sum128(buf, COMMIT_SUM_OFF);
	put_sum128(&e, &c->sum);
}

int snap_commit_parse(const void *buf, size_t len, struct snap_commit *c)
{
	struct pcm_dec d = { buf, len, 0, false };
	uint8_t magic[8];
	uint32_t clen;

	memset(c, 0, sizeof(*c));
	pcm_get_bytes(&d, magic, sizeof(magic));
	c->version = pcm_get_u32(&d);
	clen = pcm_get_u32(&d);
	if (d.over || len != SNAP_COMMIT_LEN || memcmp(magic, SNAP_COMMIT_MAGIC, sizeof(magic)))
		return -EBADMSG;
	/* The header's version was ours: a record of another is damage. */
	if (c->version != SNAP_VERSION || clen != SNAP_COMMIT_LEN)
		return -EBADMSG;
	pcm_get_bytes(&d, c->id.b, SNAP_ID_LEN);
	c->config_off = pcm_get_u64(&d);
	c->config_len = pcm_get_u64(&d);
	c->ram_off = pcm_get_u64(&d);
	c->ram_len = pcm_get_u64(&d);
	c->state_off = pcm_get_u64(&d);
	c->state_len = pcm_get_u64(&d);
	c->index_off = pcm_get_u64(&d);
	c->index_len = pcm_get_u64(&d);
	c->npages = pcm_get_u64(&d);
	c->present = pcm_get_u64(&d);
	c->data_pages = pcm_get_u64(&d);
	c->meta_sum = pcm_get_u64(&d);
	c->state_sum = pcm_get_u64(&d);
	c->index_sum = pcm_get_u64(&d);
	c->file_size = pcm_get_u64(&d);
	get_sum128(&d, &c->sum);
	return d.over ? -EBADMSG : 0;
}

int snap_commit_decode(const void *buf, size_t len, struct snap_commit *c)
{
	struct snap_sum128 s;
	int r = snap_commit_parse(buf, len, c);

	if (r)
		return r;
	s = sum128(buf, COMMIT_SUM_OFF);
	return s.lo == c->sum.lo && s.hi == c->sum.hi ? 0 : -EBADMSG;
}

/* Sections in file order, none wrapping, the record last at file_size. */
static int commit_order(const struct snap_commit *c)
{
	uint64_t ram_end, state_end, index_end, commit_off;

	if (!add_ok(c->ram_off, c->ram_len, &ram_end) ||
	    !add_ok(c->state_off, c->state_len, &state_end) ||
	    !add_ok(c->index_off, c->index_len, &index_end) ||
	    c->file_size < SNAP_COMMIT_LEN || c->file_size > INT64_MAX)
		return -EBADMSG;
	commit_off = c->file_size - SNAP_COMMIT_LEN;
	if (c->state_off < ram_end || c->index_off < state_end || commit_off < index_end)
		return -EBADMSG;
	return 0;
}

int snap_commit_check(const struct snap_hdr *h, const struct snap_commit *c)
{
	if (c->version != h->version || memcmp(c->id.b, h->id.b, SNAP_ID_LEN))
		return -EBADMSG;
	if (c->config_off != h->hdr_len || c->config_len != h->config_len ||
	    c->ram_off != h->ram_off || c->npages != h->npages ||
	    c->ram_len != h->npages * SNAP_PAGE)
		return -EBADMSG;
	if (c->index_len != snap_index_len(h->npages) || !c->state_len ||
	    c->state_len > SNAP_STATE_MAX)
		return -EBADMSG;
	if (c->present > c->npages || c->data_pages > c->present ||
	    (!(h->flags & SNAP_F_INCREMENTAL) && c->present != c->npages))
		return -EBADMSG;
	return commit_order(c);
}

/* ---- index ---- */

static uint64_t words_of(uint64_t npages)
{
	return (npages + 63) / 64;
}

uint64_t snap_index_len(uint64_t npages)
{
	return 2 * words_of(npages) * 8 + npages * 8;
}

int snap_index_init(struct snap_index *x, uint64_t npages)
{
	memset(x, 0, sizeof(*x));
	if (npages > SNAP_MAX_PAGES)
		return -EINVAL;
	x->npages = npages;
	x->sum = calloc(npages ? npages : 1, sizeof(*x->sum));
	if (!x->sum || pcm_bitmap_init(&x->present, npages) ||
	    pcm_bitmap_init(&x->zero, npages)) {
		snap_index_free(x);
		return -ENOMEM;
	}
	return 0;
}

void snap_index_free(struct snap_index *x)
{
	pcm_bitmap_free(&x->present);
	pcm_bitmap_free(&x->zero);
	free(x->sum);
	memset(x, 0, sizeof(*x));
}

size_t snap_index_encode(const struct snap_index *x, uint8_t *buf, size_t cap)
{
	struct pcm_enc e = { buf, cap, 0, false };
	uint64_t w = words_of(x->npages);

	for (uint64_t i = 0; i < w; i++)
		pcm_put_u64(&e, __atomic_load_n(&x->present.w[i], __ATOMIC_RELAXED));
	for (uint64_t i = 0; i < w; i++)
		pcm_put_u64(&e, __atomic_load_n(&x->zero.w[i], __ATOMIC_RELAXED));
	for (uint64_t p = 0; p < x->npages; p++)
		pcm_put_u64(&e, x->sum[p]);
	return e.over ? 0 : e.pos;
}

/* Bitmap words: no bit past npages, a zero page is a held page, a full
 * layer holds every page. */
static bool index_words_ok(const struct snap_index *x, uint32_t flags)
{
	uint64_t w = words_of(x->npages);
	uint64_t tail = x->npages % 64 ? ~0ull << (x->npages % 64) : 0;

	for (uint64_t i = 0; i < w; i++) {
		uint64_t p = x->present.w[i], z = x->zero.w[i];
		uint64_t past = i == w - 1 ? tail : 0;

		if ((p | z) & past || z & ~p)
			return false;
		if (!(flags & SNAP_F_INCREMENTAL) && p != ~past)
			return false;
	}
	return true;
}

int snap_index_decode(const void *buf, size_t len, uint32_t flags, struct snap_index *x,
		      uint64_t *present, uint64_t *data)
{
	struct pcm_dec d = { buf, len, 0, false };
	uint64_t w = words_of(x->npages), zs = snap_zero_sum(), np = 0, nd = 0;

	if (len != snap_index_len(x->npages))
		return -EBADMSG;
	for (uint64_t i = 0; i < w; i++)
		x->present.w[i] = pcm_get_u64(&d);
	for (uint64_t i = 0; i < w; i++)
		x->zero.w[i] = pcm_get_u64(&d);
	for (uint64_t p = 0; p < x->npages; p++)
		x->sum[p] = pcm_get_u64(&d);
	if (d.over || !index_words_ok(x, flags))
		return -EBADMSG;
	for (uint64_t p = 0; p < x->npages; p++) {
		bool held = pcm_bitmap_test(&x->present, p), zero = pcm_bitmap_test(&x->zero, p);

		if ((!held && x->sum[p]) || (zero && x->sum[p] != zs))
			return -EBADMSG;
		np += held;
		nd += held && !zero;
	}
	if (present)
		*present = np;
	if (data)
		*data = nd;
	return 0;
}

/* ---- pages ---- */

uint64_t snap_page_sum(const void *page)
{
	return XXH3_64bits(page, SNAP_PAGE);
}

bool snap_page_is_zero(const void *page)
{
	return !memcmp(page, zero_page, SNAP_PAGE);
}

uint64_t snap_zero_sum(void)
{
	return XXH3_64bits(zero_page, SNAP_PAGE);
}
