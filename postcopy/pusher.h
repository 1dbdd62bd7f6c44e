/* postcopy/pusher.h - the order the background pusher sends pages in.
 *
 * The pusher walks guest pages with a cursor and claims runs of pages not
 * yet sent (the shared "sent" bitmap, which urgent replies also set). A
 * remote fault is a hint: the cursor jumps just past the faulting page,
 * because a vCPU that faulted on page N is likely to touch N+1.. next
 * (pre-paging). After the walk reaches the end it wraps around until every
 * page is claimed.
 */
#ifndef POSTCOPY_PUSHER_H
#define POSTCOPY_PUSHER_H

#include <stdint.h>
#include "lib/bitmap.h"

struct pusher {
	struct pcm_bitmap *sent;
	uint64_t npages;
	uint64_t cursor;
	uint64_t hint;        /* page + 1 of the latest fault; 0 none (atomic) */
	uint64_t hints_taken;
};

void pusher_init(struct pusher *p, struct pcm_bitmap *sent);
/* From any thread: a remote fault happened at page. */
void pusher_hint(struct pusher *p, uint64_t page);
/* Claim the next run of at most max unsent, consecutive pages; returns
 * its length (0 when every page is sent) and its first page in *first. */
uint64_t pusher_next(struct pusher *p, uint64_t max, uint64_t *first);

#endif
