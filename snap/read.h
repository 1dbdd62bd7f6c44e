/* snap/read.h - reading a snapshot file.
 *
 * snap_open checks the whole frame of the file before anything in it is
 * used: the header, the commit record at the end (so a torn or
 * half-written file is refused), the checksums of header + configuration
 * and of the page index. Pages are checked one by one as they are read,
 * so a lazy restore pays for a page's checksum only when it needs the
 * page; snap_verify reads them all beforehand.
 *
 * Errors: -EPROTO not a snapshot file; -EPROTONOSUPPORT another format
 * version or an unknown flag; -EBADMSG torn, truncated or damaged
 * structure; -EILSEQ a page (or the state blob) whose content fails its
 * checksum; -ENOENT a page an incremental layer does not hold (look in
 * its parent); -EINVAL a pfn past the end. Page reads and the accessors
 * are safe from several threads at once.
 */
#ifndef SNAP_READ_H
#define SNAP_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snap/format.h"
#include "snap/meta.h"

struct snap_file;

int snap_open(const char *path, struct snap_file **out);
/* The same on a descriptor open for reading, which stays the caller's
 * (the file keeps a duplicate). */
int snap_open_fd(int fd, struct snap_file **out);
void snap_close(struct snap_file *f);

const struct snap_meta *snap_meta_of(const struct snap_file *f);
const struct snap_hdr *snap_hdr_of(const struct snap_file *f);
const struct snap_commit *snap_commit_of(const struct snap_file *f);
const struct snap_id *snap_id_of(const struct snap_file *f);
/* Zero for a full snapshot. */
const struct snap_id *snap_parent_id_of(const struct snap_file *f);
bool snap_is_incremental(const struct snap_file *f);
/* What a layer written on top of f names as its parent; and whether f is
 * the parent that layer child names (id and commit checksum). */
void snap_as_parent(const struct snap_file *f, struct snap_parent *p);
bool snap_is_parent_of(const struct snap_file *parent, const struct snap_file *child);

uint64_t snap_npages(const struct snap_file *f);
bool snap_page_held(const struct snap_file *f, uint64_t pfn);
/* Held and zero: no bytes in the file (a restore installs a zero page). */
bool snap_page_zero(const struct snap_file *f, uint64_t pfn);
/* Where page pfn's bytes are, for a reader of its own (io_uring): check
 * what it read with snap_page_check. */
int snap_fd(const struct snap_file *f);
uint64_t snap_page_off(const struct snap_file *f, uint64_t pfn);
int snap_page_check(const struct snap_file *f, uint64_t pfn, const void *page);
/* Pages first..first+n-1, each held with bytes in the file (not zero),
 * with one read into buf (n * 4 KiB), each checked: 0, or the error with
 * *bad its page: -EILSEQ a checksum, -EBADMSG the file ends before them
 * (cut since it was opened), -ENOENT a page not held, -EINVAL a zero
 * page or one past the end. */
int snap_pages_read(const struct snap_file *f, uint64_t first, uint64_t n, void *buf,
		    uint64_t *bad);
/* Page pfn's 4 KiB into buf, checked. */
int snap_page_read(const struct snap_file *f, uint64_t pfn, void *buf);

/* The state blob, checked, in a malloc()ed buffer the caller frees. */
int snap_state(const struct snap_file *f, void **blob, size_t *len);
/* Every page the file holds bytes for, and the state. 0, or the first
 * error, with its page in *bad_pfn (UINT64_MAX when it is not a page;
 * bad_pfn may be NULL). */
int snap_verify(const struct snap_file *f, uint64_t *bad_pfn);

#endif
