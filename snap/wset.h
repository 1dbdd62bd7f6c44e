/* snap/wset.h - the working-set record kept beside a snapshot file.
 *
 * FILE.ws lists the pages a lazy restore of FILE saw touched first, in
 * the order they were, so `restore --prefetch` can have the filler bring
 * them in before any other (issue 13). It names the snapshot it belongs
 * to by id and ends with a checksum; it is written as FILE.ws.tmp,
 * synced and renamed, so a reader finds the old record or the new one.
 * Layout (little-endian): "PCMSWS1\0", u32 version (1), u32 0, the
 * snapshot's 16-byte id, u64 count, count u64 page numbers, XXH3-64 of
 * every byte before it. docs/snapshot-format.md has it too.
 *
 * Errors: -ENOENT no record; -EBADMSG damaged (magic, version, length,
 * checksum, a page past the end); -ESTALE the record of another
 * snapshot; else the errno of the file.
 */
#ifndef SNAP_WSET_H
#define SNAP_WSET_H

#include <stddef.h>
#include <stdint.h>

#include "snap/read.h"

#define SNAP_WSET_SUFFIX ".ws"

/* The record's path for snapshot path: path + ".ws" (0, or -ENAMETOOLONG). */
int snap_wset_path(const char *path, char *out, size_t len);
int snap_wset_write(const char *path, const struct snap_file *f, const uint64_t *pfn,
		    uint64_t n);
/* The record of f at path, its pages in a malloc()ed array the caller
 * frees. */
int snap_wset_read(const char *path, const struct snap_file *f, uint64_t **pfn, uint64_t *n);

#endif
