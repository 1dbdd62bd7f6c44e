/* lib/bitmap.h - page bitmaps shared between threads.
 *
 * One bit per guest page: sent, requested, received. Bits are set
 * atomically so the pusher, the urgent server and the fault handler can
 * claim pages without a lock; a set returns the old value so exactly one
 * claimant wins.
 */
#ifndef PCM_LIB_BITMAP_H
#define PCM_LIB_BITMAP_H

#include <stdbool.h>
#include <stdint.h>

struct pcm_bitmap {
	uint64_t nbits;
	uint64_t *w;          /* accessed with __atomic builtins */
};

int pcm_bitmap_init(struct pcm_bitmap *b, uint64_t nbits);   /* all clear */
void pcm_bitmap_free(struct pcm_bitmap *b);

bool pcm_bitmap_test(const struct pcm_bitmap *b, uint64_t i);
/* Set bit i; returns its previous value. */
bool pcm_bitmap_set(struct pcm_bitmap *b, uint64_t i);
void pcm_bitmap_clear(struct pcm_bitmap *b, uint64_t i);
void pcm_bitmap_clear_all(struct pcm_bitmap *b);
/* Set n bits from first; returns how many were clear before. */
uint64_t pcm_bitmap_set_range(struct pcm_bitmap *b, uint64_t first, uint64_t n);
uint64_t pcm_bitmap_count(const struct pcm_bitmap *b);
/* First clear (set) bit at or after from; nbits when there is none. */
uint64_t pcm_bitmap_next_clear(const struct pcm_bitmap *b, uint64_t from);
uint64_t pcm_bitmap_next_set(const struct pcm_bitmap *b, uint64_t from);
bool pcm_bitmap_full(const struct pcm_bitmap *b);
/* Replace every bit with (nbits + 63) / 64 little-endian words from a
 * message (no alignment needed). Not concurrent with other writers. */
void pcm_bitmap_load(struct pcm_bitmap *b, const uint8_t *words);
/* The bitmap's words, for a message (pcm_bitmap_bytes of them). */
const void *pcm_bitmap_words(const struct pcm_bitmap *b);
uint64_t pcm_bitmap_bytes(const struct pcm_bitmap *b);

#endif
