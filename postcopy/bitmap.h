/* postcopy/bitmap.h - page bitmaps shared between threads.
 *
 * One bit per guest page: sent, requested, received. Bits are set
 * atomically so the pusher, the urgent server and the fault handler can
 * claim pages without a lock; a set returns the old value so exactly one
 * claimant wins.
 */
#ifndef POSTCOPY_BITMAP_H
#define POSTCOPY_BITMAP_H

#include <stdbool.h>
#include <stdint.h>

struct bitmap {
	uint64_t nbits;
	uint64_t *w;          /* accessed with __atomic builtins */
};

int bitmap_init(struct bitmap *b, uint64_t nbits);   /* all clear */
void bitmap_free(struct bitmap *b);

bool bitmap_test(const struct bitmap *b, uint64_t i);
/* Set bit i; returns its previous value. */
bool bitmap_set(struct bitmap *b, uint64_t i);
void bitmap_clear(struct bitmap *b, uint64_t i);
void bitmap_clear_all(struct bitmap *b);
/* Set n bits from first; returns how many were clear before. */
uint64_t bitmap_set_range(struct bitmap *b, uint64_t first, uint64_t n);
uint64_t bitmap_count(const struct bitmap *b);
/* First clear (set) bit at or after from; nbits when there is none. */
uint64_t bitmap_next_clear(const struct bitmap *b, uint64_t from);
uint64_t bitmap_next_set(const struct bitmap *b, uint64_t from);
bool bitmap_full(const struct bitmap *b);
/* Replace every bit with (nbits + 63) / 64 little-endian words from a
 * message (no alignment needed). Not concurrent with other writers. */
void bitmap_load(struct bitmap *b, const uint8_t *words);
/* The bitmap's words, for a message (bitmap_bytes of them). */
const void *bitmap_words(const struct bitmap *b);
uint64_t bitmap_bytes(const struct bitmap *b);

#endif
