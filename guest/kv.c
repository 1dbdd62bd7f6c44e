/* guest/kv.c - a key-value store living wholly in guest RAM.
 *
 * One shard per vCPU (its slice of the working set), so no locking: a
 * 64-byte header then an open-addressing table with linear probing. A slot
 * is {key, version, value[value_size]}; key 0 means empty; keys are 1..nkeys
 * per shard. The value's bytes are a cheap function of (key, version), so
 * any reader can check a value without keeping a copy.
 *
 * Phase 0 (set-up): each step inserts up to KV_SETUP_BATCH keys with
 * version 1 (regs->cursor = keys inserted). Phase 1 (serving): each step is
 * one get or put (put share kv_put_permille). Key popularity is skewed:
 * k = floor(nkeys * u^3) with u uniform in [0,1), so key rank x (as a
 * fraction of nkeys) is drawn with P(rank < x) = x^(1/3): the hottest 1% of
 * keys get ~22% of operations, the hottest 10% ~46%. A get that finds no
 * key or a wrong value counts in stats->check_fail. Each serving operation's
 * latency (guest clock before/after) lands in stats->lat_hist[log2(ns)],
 * and in the latency timeline of guest/layout.h (the interval's maxima).
 *
 * The store assumes the shard starts zeroed (fresh guest RAM is).
 */
#include "guest/internal.h"
#include "guest/rng.h"

#define KV_MAGIC        0x3148534b56564d50ull   /* "PMVVKSH1" */
#define KV_SETUP_BATCH  16

struct kv_shard {
	uint64_t magic;
	uint32_t vcpu;
	uint32_t value_size;
	uint64_t capacity;
	uint64_t count;       /* occupied slots */
	uint64_t nkeys;       /* keys the set-up inserts */
	uint64_t gets;
	uint64_t puts;
	uint64_t reserved;
};
_Static_assert(sizeof(struct kv_shard) == KV_HDR_BYTES, "kv header size");

struct kv_slot {
	uint64_t key;
	uint64_t version;
	uint64_t value[];
};

struct kv_geom {
	uint64_t base;        /* gpa of the shard */
	uint64_t cap;
	uint64_t slot_bytes;
	uint64_t words;       /* value words */
	uint64_t nkeys;
};

static void kv_geom_of(const struct guest_boot *b, unsigned vcpu, struct kv_geom *g)
{
	const struct wl_params *p = &b->params;
	uint64_t slice = wl_slice_bytes(p, b->nvcpus);

	g->base = wl_slice_base(p, b->nvcpus, vcpu);
	g->cap = kv_capacity(slice, p->kv_value_size);
	g->slot_bytes = kv_slot_bytes(p->kv_value_size);
	g->words = p->kv_value_size / 8;
	g->nkeys = p->kv_keys;
}

static inline struct kv_slot *slot_at(uint8_t *ram, const struct kv_geom *g, uint64_t i)
{
	return (struct kv_slot *)(ram + g->base + KV_HDR_BYTES + i * g->slot_bytes);
}

static inline uint64_t kv_home(uint64_t key, unsigned vcpu, uint64_t cap)
{
	return mix64(key ^ ((uint64_t)(vcpu + 1) << 40) ^ 0x6b76ull) % cap;
}

static inline uint64_t kv_word(uint64_t key, uint64_t version, uint64_t i)
{
	uint64_t x = mix64(key * GUEST_GOLDEN + version) + i * GUEST_GOLDEN;

	x ^= x >> 32;
	x *= 0xd6e8feb86659fd93ull;
	return x ^ (x >> 32);
}

static void value_write(struct kv_slot *s, uint64_t key, uint64_t version, uint64_t words)
{
	for (uint64_t i = 0; i < words; i++)
		s->value[i] = kv_word(key, version, i);
}

static int value_ok(const struct kv_slot *s, uint64_t words)
{
	for (uint64_t i = 0; i < words; i++)
		if (s->value[i] != kv_word(s->key, s->version, i))
			return 0;
	return 1;
}

static struct kv_slot *kv_find(uint8_t *ram, const struct kv_geom *g, unsigned vcpu,
			       uint64_t key, int want_empty)
{
	uint64_t i = kv_home(key, vcpu, g->cap);

	for (uint64_t n = 0; n < g->cap; n++) {
		struct kv_slot *s = slot_at(ram, g, i);

		if (s->key == key)
			return want_empty ? 0 : s;
		if (!s->key)
			return want_empty ? s : 0;
		i = i + 1 < g->cap ? i + 1 : 0;
	}
	return 0;
}

static unsigned log2_bucket(uint64_t ns)
{
	unsigned b = ns ? 63 - (unsigned)__builtin_clzll(ns) : 0;

	return b < GUEST_LAT_BUCKETS ? b : GUEST_LAT_BUCKETS - 1;
}

/* Raise the maximum in a timeline word to ns for interval tag; a word
 * still holding an older interval starts afresh. vCPUs share the ring, so
 * a compare-and-swap; it is rare, since the maximum seldom rises. */
static void latring_max(volatile uint64_t *w, uint64_t tag, uint64_t ns)
{
	uint64_t want = tag << GUEST_LATRING_VBITS |
			(ns < GUEST_LATRING_VMAX ? ns : GUEST_LATRING_VMAX);
	uint64_t old = G_LOAD(*w);

	while ((old ^ want) >> GUEST_LATRING_VBITS ||
	       (old & GUEST_LATRING_VMAX) < (want & GUEST_LATRING_VMAX))
		if (__atomic_compare_exchange_n(w, &old, want, 1, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED))
			break;
}

/* An operation that ended at guest time t1, took op ns, and ended resp ns
 * after the previous one (0: there was none). */
static void latring_note(uint8_t *ram, uint64_t t1, uint64_t op, uint64_t resp)
{
	struct guest_lat_slot *s = guest_latring_of(ram, t1);
	uint64_t tag = (t1 >> GUEST_LATRING_SHIFT) & GUEST_LATRING_TMASK;

	latring_max(&s->op, tag, op);
	latring_max(&s->resp, tag, resp);
}

static void kv_setup(struct guest_cpu *c, struct wl_regs *r, const struct kv_geom *g,
		     struct kv_shard *h, struct guest_vcpu_stats *st)
{
	if (h->magic != KV_MAGIC) {
		wl_zero(h, sizeof(*h));
		h->vcpu = c->vcpu;
		h->value_size = (uint32_t)(g->words * 8);
		h->capacity = g->cap;
		h->nkeys = g->nkeys;
		h->magic = KV_MAGIC;
	}
	for (unsigned n = 0; n < KV_SETUP_BATCH && r->cursor < g->nkeys; n++) {
		uint64_t key = r->cursor + 1;
		struct kv_slot *s = kv_find(c->ram, g, c->vcpu, key, 1);

		if (!s) {               /* full, or the key is already there */
			st->check_fail = st->check_fail + 1;
		} else {
			wl_inflight_begin(st, (uint64_t)((uint8_t *)s - c->ram));
			s->version = 1;
			value_write(s, key, 1, g->words);
			s->key = key;
			h->count++;
			wl_inflight_end(st);
		}
		r->cursor++;
	}
	if (r->cursor >= g->nkeys) {
		r->phase = 1;
		G_STORE(st->ready, 1);
	}
	wl_op_done(c, r, c->ops->clock_ns(c->ctx));
}

void kv_step(struct guest_cpu *c, struct wl_regs *r)
{
	const struct guest_boot *b = guest_boot_of(c->ram);
	struct guest_vcpu_stats *st = guest_stats_of(c->ram, c->vcpu);
	struct kv_geom g;
	struct kv_shard *h;
	struct kv_slot *s;
	uint64_t t0, t1, last, u, key;
	int put;

	kv_geom_of(b, c->vcpu, &g);
	h = (struct kv_shard *)(c->ram + g.base);
	if (!r->phase) {
		kv_setup(c, r, &g, h, st);
		return;
	}

	t0 = c->ops->clock_ns(c->ctx);
	u = rng_next(r->rng) >> 43;                     /* 21 bits */
	key = ((((u * u * u) >> 31) * g.nkeys) >> 32) + 1;
	put = rng_below(r->rng, 1000) < b->params.kv_put_permille;
	s = kv_find(c->ram, &g, c->vcpu, key, 0);
	if (!s) {
		st->check_fail = st->check_fail + 1;
	} else if (put) {
		uint64_t v = s->version + 1;

		wl_inflight_begin(st, (uint64_t)((uint8_t *)s - c->ram));
		s->version = v;
		value_write(s, key, v, g.words);
		wl_inflight_end(st);
		h->puts++;
	} else {
		if (!s->version || !value_ok(s, g.words))
			st->check_fail = st->check_fail + 1;
		h->gets++;
	}
	t1 = c->ops->clock_ns(c->ctx);
	st->lat_hist[log2_bucket(t1 > t0 ? t1 - t0 : 0)]++;
	last = st->last_op_ns;
	latring_note(c->ram, t1, t1 > t0 ? t1 - t0 : 0, last && t1 > last ? t1 - last : 0);
	wl_op_done(c, r, t1);
}

static int fail_at(struct wl_why *w, unsigned vcpu, const char *what, uint64_t slot)
{
	why_str(w, "kv: vcpu ");
	why_u64(w, vcpu);
	why_str(w, ": ");
	why_str(w, what);
	if (slot != ~0ull) {
		why_str(w, " (slot ");
		why_u64(w, slot);
		why_str(w, ")");
	}
	return -EBADMSG;
}

int kv_check(const uint8_t *cram, const struct guest_boot *b, struct wl_why *w)
{
	uint8_t *ram = (uint8_t *)cram;   /* read only */

	for (unsigned v = 0; v < b->nvcpus; v++) {
		const struct guest_vcpu_stats *st = guest_stats_of(ram, v);
		struct kv_geom g;
		const struct kv_shard *h;
		uint64_t count = 0;

		kv_geom_of(b, v, &g);
		h = (const struct kv_shard *)(ram + g.base);
		if (st->check_fail)
			return why_in_service(w, "kv", v, st->check_fail,
					      "bad lookups or values");
		if (h->magic != KV_MAGIC) {
			if (h->magic || st->ready)
				return fail_at(w, v, "shard header has a bad magic", ~0ull);
			continue;       /* set-up not begun */
		}
		if (h->vcpu != v || h->capacity != g.cap || h->nkeys != g.nkeys ||
		    h->value_size != g.words * 8)
			return fail_at(w, v, "shard header does not match the boot parameters", ~0ull);
		for (uint64_t i = 0; i < g.cap; i++) {
			const struct kv_slot *s = slot_at(ram, &g, i);
			uint64_t j;

			if (!s->key)
				continue;
			count++;
			if (st->inflight == (uint64_t)((const uint8_t *)s - ram) + 1)
				continue;       /* paused while changing it */
			if (s->key > g.nkeys)
				return fail_at(w, v, "slot holds a key out of range", i);
			if (!s->version)
				return fail_at(w, v, "slot has version 0", i);
			if (!value_ok(s, g.words)) {
				fail_at(w, v, "value does not match its key and version", i);
				why_str(w, " key ");
				why_u64(w, s->key);
				why_str(w, " version ");
				why_u64(w, s->version);
				return -EBADMSG;
			}
			/* Reachable: no empty slot between its home and it. */
			for (j = kv_home(s->key, v, g.cap); j != i; j = j + 1 < g.cap ? j + 1 : 0)
				if (!slot_at(ram, &g, j)->key)
					return fail_at(w, v, "key not reachable from its home slot", i);
		}
		/* An insert paused between setting the key and counting it. */
		if (count == h->count + 1 && st->inflight && !st->ready)
			count--;
		if (count != h->count) {
			fail_at(w, v, "occupied slots ", ~0ull);
			why_u64(w, count);
			why_str(w, " differ from the header count ");
			why_u64(w, h->count);
			return -EBADMSG;
		}
		if (h->count > g.nkeys || (st->ready && h->count != g.nkeys))
			return fail_at(w, v, "key count does not match kv_keys", ~0ull);
	}
	return 0;
}
