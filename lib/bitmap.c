/* lib/bitmap.c - page bitmaps shared between threads.
 *
 * Every access to a word goes through __atomic builtins: the pusher, the
 * urgent server and the fault handler touch the same bitmap without a
 * lock. Bits past nbits in the last word are never set, so counts and
 * searches need no tail mask beyond clamping the result to nbits.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/bitmap.h"

#define BITS_PER_WORD 64

static inline uint64_t word_of(uint64_t i)
{
	return i / BITS_PER_WORD;
}

static inline uint64_t mask_of(uint64_t i)
{
	return 1ULL << (i % BITS_PER_WORD);
}

static inline uint64_t nwords(uint64_t nbits)
{
	return (nbits + BITS_PER_WORD - 1) / BITS_PER_WORD;
}

/* Acquire on load, release on set: a thread that sees a page's "sent" or
 * "received" bit also sees what its setter wrote before setting it. */
static inline uint64_t word_load(const struct pcm_bitmap *b, uint64_t wi)
{
	return __atomic_load_n(&b->w[wi], __ATOMIC_ACQUIRE);
}

static inline uint64_t word_or(struct pcm_bitmap *b, uint64_t wi, uint64_t m)
{
	return __atomic_fetch_or(&b->w[wi], m, __ATOMIC_ACQ_REL);
}

int pcm_bitmap_init(struct pcm_bitmap *b, uint64_t nbits)
{
	uint64_t n = nwords(nbits);

	b->nbits = nbits;
	b->w = NULL;
	if (!n)
		return 0;
	b->w = calloc(n, sizeof(*b->w));
	if (!b->w) {
		b->nbits = 0;
		return -ENOMEM;
	}
	return 0;
}

void pcm_bitmap_free(struct pcm_bitmap *b)
{
	free(b->w);
	b->w = NULL;
	b->nbits = 0;
}

void pcm_bitmap_clear_all(struct pcm_bitmap *b)
{
	for (uint64_t i = 0; i < (b->nbits + 63) / 64; i++)
		__atomic_store_n(&b->w[i], 0, __ATOMIC_RELAXED);
}

bool pcm_bitmap_test(const struct pcm_bitmap *b, uint64_t i)
{
	if (i >= b->nbits)
		return false;
	return word_load(b, word_of(i)) & mask_of(i);
}

bool pcm_bitmap_set(struct pcm_bitmap *b, uint64_t i)
{
	if (i >= b->nbits)
		return false;
	return word_or(b, word_of(i), mask_of(i)) & mask_of(i);
}

void pcm_bitmap_clear(struct pcm_bitmap *b, uint64_t i)
{
	if (i >= b->nbits)
		return;
	__atomic_fetch_and(&b->w[word_of(i)], ~mask_of(i), __ATOMIC_ACQ_REL);
}

/* Bits [lo, hi) of one word, 0 <= lo < hi <= 64. */
static inline uint64_t range_mask(unsigned lo, unsigned hi)
{
	uint64_t upto = hi == BITS_PER_WORD ? ~0ULL : (1ULL << hi) - 1;

	return upto & ~((1ULL << lo) - 1);
}

uint64_t pcm_bitmap_set_range(struct pcm_bitmap *b, uint64_t first, uint64_t n)
{
	uint64_t end, newly = 0;

	if (first >= b->nbits)
		return 0;
	if (n > b->nbits - first)
		n = b->nbits - first;
	end = first + n;

	/* One fetch_or per word, whole words included: a run of zero pages
	 * can cover gigabytes of guest RAM. */
	while (first < end) {
		unsigned lo = first % BITS_PER_WORD;
		uint64_t left = end - first;
		unsigned hi = left >= BITS_PER_WORD - lo ? BITS_PER_WORD
							   : lo + (unsigned)left;
		uint64_t m = range_mask(lo, hi);
		uint64_t old = word_or(b, word_of(first), m);

		newly += (uint64_t)__builtin_popcountll(m & ~old);
		first += hi - lo;
	}
	return newly;
}

uint64_t pcm_bitmap_count(const struct pcm_bitmap *b)
{
	uint64_t wi, n = 0;

	for (wi = 0; wi < nwords(b->nbits); wi++)
		n += (uint64_t)__builtin_popcountll(word_load(b, wi));
	return n;
}

/* First bit at or after from whose value, xor-ed with flip, is 1. */
static uint64_t next_bit(const struct pcm_bitmap *b, uint64_t from, uint64_t flip)
{
	uint64_t wi, last = nwords(b->nbits), word;

	if (from >= b->nbits)
		return b->nbits;
	wi = word_of(from);
	word = (word_load(b, wi) ^ flip) & (~0ULL << (from % BITS_PER_WORD));
	for (;;) {
		if (word) {
			uint64_t i = wi * BITS_PER_WORD +
				     (uint64_t)__builtin_ctzll(word);

			/* Tail bits of the last word read as clear. */
			return i < b->nbits ? i : b->nbits;
		}
		if (++wi >= last)
			return b->nbits;
		word = word_load(b, wi) ^ flip;
	}
}

uint64_t pcm_bitmap_next_clear(const struct pcm_bitmap *b, uint64_t from)
{
	return next_bit(b, from, ~0ULL);
}

uint64_t pcm_bitmap_next_set(const struct pcm_bitmap *b, uint64_t from)
{
	return next_bit(b, from, 0);
}

bool pcm_bitmap_full(const struct pcm_bitmap *b)
{
	return pcm_bitmap_next_clear(b, 0) == b->nbits;
}

void pcm_bitmap_load(struct pcm_bitmap *b, const uint8_t *words)
{
	memcpy(b->w, words, pcm_bitmap_bytes(b));
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

const void *pcm_bitmap_words(const struct pcm_bitmap *b)
{
	return b->w;
}

uint64_t pcm_bitmap_bytes(const struct pcm_bitmap *b)
{
	return (b->nbits + 63) / 64 * 8;
}
