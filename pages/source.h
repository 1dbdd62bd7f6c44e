/* pages/source.h - where the pages of a lazily filled guest RAM come from.
 *
 * A page source answers two questions about page pfn (pages numbered
 * 0..npages-1 across the machine's RAM regions in order): what it is
 * (bytes to fetch, or zero), and its bytes. The snapshot file is one
 * (snap/lazy.c: a pread at the page's offset, checked against the file's
 * index); the network could be another: kind answers PAGES_DATA for every
 * page not known zero, and read asks the source host on the urgent
 * channel and returns once the reply is in and checked.
 *
 * The callbacks are called from two threads at once (pages/fault.c and
 * pages/fill.c) and must be safe so. Negative errno on failure: the lazy
 * fill stops at the first one and names the page.
 */
#ifndef PAGES_SOURCE_H
#define PAGES_SOURCE_H

#include <stdint.h>

enum pages_kind {
	PAGES_DATA = 1,      /* bytes to read and install */
	PAGES_ZERO = 2,      /* all zero: mapped without reading anything */
};

struct pages_source {
	/* What page pfn is, or negative errno (a page the source lacks). */
	int (*kind)(void *arg, uint64_t pfn);
	/* Data pages first..first+n-1 into buf (n * 4 KiB), each checked:
	 * 0, or negative errno with *bad the page that failed. */
	int (*read)(void *arg, uint64_t first, uint64_t n, void *buf, uint64_t *bad);
	void *arg;
	/* The most pages one read should take (the filler's run; 0: 256). */
	uint64_t run_max;
};

#endif
