/* snap/format.h - the snapshot file's pieces, encoded and decoded field by
 * field (docs/snapshot-format.md is the reference).
 *
 * Every decoder takes a buffer and its length, reads nothing outside it,
 * and refuses what it cannot take with a distinct errno:
 *   -EPROTO           not a snapshot file (the header's magic)
 *   -EPROTONOSUPPORT  a format version or flag this build does not read
 *   -EBADMSG          damaged: torn, truncated, a checksum or a length
 *                     that does not hold, a field out of range
 * Decoders of whole files (snap/read.h) build on these.
 */
#ifndef SNAP_FORMAT_H
#define SNAP_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/bitmap.h"
#include "snap/meta.h"

#define SNAP_MAGIC        "PCMSNAP"    /* 8 bytes with its NUL */
#define SNAP_COMMIT_MAGIC "PCMSCMT"
#define SNAP_VERSION      1u
#define SNAP_HDR_LEN      104u         /* version 1 */
#define SNAP_COMMIT_LEN   168u         /* version 1 */
#define SNAP_F_INCREMENTAL 0x1u        /* holds only some pages; has a parent */
#define SNAP_F_KNOWN      SNAP_F_INCREMENTAL
#define SNAP_ID_LEN       16
/* The largest state blob a file may hold: bounds what a reader allocates
 * (a KVM guest's is hundreds of KiB). */
#define SNAP_STATE_MAX    (256u << 20)

struct snap_id {
	uint8_t b[SNAP_ID_LEN];
};

/* An XXH3-128 value, as its two 64-bit halves. */
struct snap_sum128 {
	uint64_t lo, hi;
};

/* What a layer names as its parent: the parent's id and the checksum of
 * its commit record (which covers every checksum of that file). */
struct snap_parent {
	struct snap_id id;
	struct snap_sum128 commit;
};

/* The fixed header at offset 0. */
struct snap_hdr {
	uint32_t version;
	uint32_t flags;                /* SNAP_F_* */
	uint32_t hdr_len;
	uint32_t page_size;
	struct snap_id id;
	struct snap_id parent_id;      /* zero for a full snapshot */
	struct snap_sum128 parent_commit;
	uint64_t created_ns;           /* CLOCK_REALTIME */
	uint64_t npages;
	uint64_t ram_off;              /* page pfn at ram_off + pfn * SNAP_PAGE */
	uint32_t config_len;           /* the config section follows the header */
};

/* The commit record: the file's last SNAP_COMMIT_LEN bytes. */
struct snap_commit {
	uint32_t version;
	struct snap_id id;
	uint64_t config_off, config_len;
	uint64_t ram_off, ram_len;
	uint64_t state_off, state_len;
	uint64_t index_off, index_len;
	uint64_t npages, present, data_pages;
	uint64_t meta_sum;             /* XXH3-64 of [0, config_off + config_len) */
	uint64_t state_sum;            /* XXH3-64 of the state blob */
	uint64_t index_sum;            /* XXH3-64 of the index section */
	uint64_t file_size;
	struct snap_sum128 sum;        /* XXH3-128 of the record's bytes before it */
};

/* Per page: does this layer hold it, is it zero, the XXH3-64 of its
 * content (0 for a page not held). */
struct snap_index {
	uint64_t npages;
	struct pcm_bitmap present;
	struct pcm_bitmap zero;
	uint64_t *sum;
};

/* ---- header ---- */
void snap_hdr_encode(const struct snap_hdr *h, uint8_t buf[SNAP_HDR_LEN]);
/* magic, then version (so another version is named as such whatever
 * follows), then the rest; buf may be shorter than a header. */
int snap_hdr_decode(const void *buf, size_t len, struct snap_hdr *h);

/* ---- configuration ---- */
/* The longest section a configuration can take. */
size_t snap_config_max(void);
/* Bytes written, or 0 when cap is too small. */
size_t snap_config_encode(const struct snap_meta *m, uint8_t *buf, size_t cap);
/* Exactly len bytes of one configuration, which snap_meta_check takes. */
int snap_config_decode(const void *buf, size_t len, struct snap_meta *m);

/* ---- commit record ---- */
/* Fills in c->sum, then writes the record. */
void snap_commit_encode(struct snap_commit *c, uint8_t buf[SNAP_COMMIT_LEN]);
/* The fields of a record (magic and version checked, the checksum read
 * into c->sum but not compared): for tools that look at a torn file. */
int snap_commit_parse(const void *buf, size_t len, struct snap_commit *c);
/* parse, and the record's own checksum must hold. */
int snap_commit_decode(const void *buf, size_t len, struct snap_commit *c);
/* Does c describe the file of header h: same id and layout, sections in
 * order inside file_size, nothing wrapping? 0 or -EBADMSG. */
int snap_commit_check(const struct snap_hdr *h, const struct snap_commit *c);

/* ---- index ---- */
uint64_t snap_index_len(uint64_t npages);
int snap_index_init(struct snap_index *x, uint64_t npages);
void snap_index_free(struct snap_index *x);
/* Bytes written (snap_index_len), or 0 when cap is too small. */
size_t snap_index_encode(const struct snap_index *x, uint8_t *buf, size_t cap);
/* Into x (initialised for npages); checks every page's entry against the
 * rules of the format (a zero page is held and has the zero checksum, a
 * page not held has none, a full layer holds every page). present and
 * data (pages held that are not zero) may be NULL. */
int snap_index_decode(const void *buf, size_t len, uint32_t flags, struct snap_index *x,
		      uint64_t *present, uint64_t *data);

/* ---- pages ---- */
uint64_t snap_page_sum(const void *page);
bool snap_page_is_zero(const void *page);
uint64_t snap_zero_sum(void);      /* snap_page_sum of a zero page */

static inline bool snap_id_is_zero(const struct snap_id *id)
{
	for (unsigned i = 0; i < SNAP_ID_LEN; i++)
		if (id->b[i])
			return false;
	return true;
}

/* id as 32 lowercase hex digits, for people and reports. */
static inline void snap_id_hex(const struct snap_id *id, char out[2 * SNAP_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";

	for (unsigned i = 0; i < SNAP_ID_LEN; i++) {
		out[2 * i] = hex[id->b[i] >> 4];
		out[2 * i + 1] = hex[id->b[i] & 15];
	}
	out[2 * SNAP_ID_LEN] = 0;
}

#endif
