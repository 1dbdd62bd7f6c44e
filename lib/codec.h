/* lib/codec.h - field-by-field little-endian encoding of wire formats and
 * state sections.
 *
 * A message is written and read one field at a time through a cursor,
 * never by copying an in-memory struct, so padding, another compiler's
 * layout or another module's struct never reach the wire. Running past the
 * buffer does not write or read out of bounds: the cursor remembers it
 * (over), later calls do nothing, and the caller checks once at the end.
 * Reads past the end give zeros.
 */
#ifndef LIB_CODEC_H
#define LIB_CODEC_H

#include <endian.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct pcm_enc {
	uint8_t *p;
	size_t cap, pos;
	bool over;
};

struct pcm_dec {
	const uint8_t *p;
	size_t len, pos;
	bool over;
};

static inline void *pcm_enc_take(struct pcm_enc *e, size_t n)
{
	void *at;

	if (e->over || n > e->cap - e->pos) {
		e->over = true;
		return NULL;
	}
	at = e->p + e->pos;
	e->pos += n;
	return at;
}

static inline void pcm_put_bytes(struct pcm_enc *e, const void *src, size_t n)
{
	void *at = pcm_enc_take(e, n);

	if (at)
		memcpy(at, src, n);
}

static inline void pcm_put_u8(struct pcm_enc *e, uint8_t v) { pcm_put_bytes(e, &v, 1); }
static inline void pcm_put_u16(struct pcm_enc *e, uint16_t v) { v = htole16(v); pcm_put_bytes(e, &v, 2); }
static inline void pcm_put_u32(struct pcm_enc *e, uint32_t v) { v = htole32(v); pcm_put_bytes(e, &v, 4); }
static inline void pcm_put_u64(struct pcm_enc *e, uint64_t v) { v = htole64(v); pcm_put_bytes(e, &v, 8); }

/* A string in a fixed field of n bytes, NUL-padded (cut to n - 1). */
static inline void pcm_put_str(struct pcm_enc *e, const char *s, size_t n)
{
	uint8_t *at = pcm_enc_take(e, n);
	size_t l = s ? strnlen(s, n - 1) : 0;

	if (!at)
		return;
	memset(at, 0, n);
	memcpy(at, s, l);
}

/* The next n bytes in place, or NULL (and over) past the end. */
static inline const uint8_t *pcm_dec_take(struct pcm_dec *d, size_t n)
{
	const uint8_t *at;

	if (d->over || n > d->len - d->pos) {
		d->over = true;
		return NULL;
	}
	at = d->p + d->pos;
	d->pos += n;
	return at;
}

static inline void pcm_get_bytes(struct pcm_dec *d, void *dst, size_t n)
{
	if (d->over || n > d->len - d->pos) {
		d->over = true;
		memset(dst, 0, n);
		return;
	}
	memcpy(dst, d->p + d->pos, n);
	d->pos += n;
}

static inline uint8_t pcm_get_u8(struct pcm_dec *d) { uint8_t v; pcm_get_bytes(d, &v, 1); return v; }
static inline uint16_t pcm_get_u16(struct pcm_dec *d) { uint16_t v; pcm_get_bytes(d, &v, 2); return le16toh(v); }
static inline uint32_t pcm_get_u32(struct pcm_dec *d) { uint32_t v; pcm_get_bytes(d, &v, 4); return le32toh(v); }
static inline uint64_t pcm_get_u64(struct pcm_dec *d) { uint64_t v; pcm_get_bytes(d, &v, 8); return le64toh(v); }

/* A fixed field of n bytes into dst[n]; false when it holds no NUL. */
static inline bool pcm_get_str(struct pcm_dec *d, char *dst, size_t n)
{
	pcm_get_bytes(d, dst, n);
	return memchr(dst, 0, n) != NULL;
}

#endif
