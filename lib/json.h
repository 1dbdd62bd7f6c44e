/* lib/json.h - JSON for the JSON-lines control messages: one request
 * object per line in, one reply per line out.
 *
 * The parser reads one JSON text (RFC 8259, strictly: see pcm_json_parse)
 * into a fixed-size document: at most PCM_JSON_MAX_NODES values nested at
 * most PCM_JSON_MAX_DEPTH containers deep, with every member name and
 * string, unescaped, in PCM_JSON_MAX_TEXT bytes. Nothing is allocated, and
 * what a peer sends cannot make it use more than that.
 *
 * A document is about 100 KiB: callers allocate it (heap, or static in
 * tests), not on a thread's stack. Its values point into its own text, so
 * it must not be copied or moved while they are in use.
 *
 * The writer builds one compact JSON text into a caller's buffer; its
 * output parses back to the same values.
 *
 * Numbers are converted with strtod and snprintf, so LC_NUMERIC must be
 * "C" (it is: nothing in this program calls setlocale).
 */
#ifndef PCM_LIB_JSON_H
#define PCM_LIB_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum pcm_json_type {
	PCM_JSON_NULL,
	PCM_JSON_BOOL,
	PCM_JSON_NUMBER,
	PCM_JSON_STRING,
	PCM_JSON_ARRAY,
	PCM_JSON_OBJECT,
};

/* One value of a parsed document. Fields that do not belong to its type
 * are 0, NULL or false. */
struct pcm_json {
	enum pcm_json_type type;
	const char *key;          /* member name when the parent is an object
				   * (unescaped, NUL-terminated), else NULL */
	const char *str;          /* STRING: unescaped, NUL-terminated, valid UTF-8 */
	size_t len;               /* STRING: bytes, without the NUL */
	double num;               /* NUMBER: always finite */
	int64_t i;                /* NUMBER: the value when is_int */
	bool is_int;              /* NUMBER written as an integer (no fraction or
				   * exponent) that fits int64 */
	bool b;                   /* BOOL */
	int parent, child, next;  /* indexes into the document's v[]; -1 for none
				   * (child: first member/element) */
	unsigned count;           /* ARRAY/OBJECT: number of members/elements */
};

#define PCM_JSON_MAX_NODES 512
/* Containers open at once: 16 arrays in arrays parse, 17 do not. */
#define PCM_JSON_MAX_DEPTH 16
/* Every member name and string of a document, unescaped, each with its
 * NUL. */
#define PCM_JSON_MAX_TEXT  65536
/* Bytes past that which no string takes: a number's characters are
 * copied there to be converted. So a number of up to 31 characters always
 * parses (the writer's longest is 24: what it writes parses back whatever
 * the strings), and a longer one borrows what the strings left free too;
 * beyond that it is -E2BIG. */
#define PCM_JSON_NUM_ROOM  32

struct pcm_json_doc {
	struct pcm_json v[PCM_JSON_MAX_NODES];   /* v[0] the root, then document order */
	unsigned n;                              /* values in v[]; 0 after a failure */
	size_t text_len;                         /* bytes of text[] in use */
	char text[PCM_JSON_MAX_TEXT + PCM_JSON_NUM_ROOM];
	size_t err_off;           /* on failure: byte offset where parsing stopped */
	const char *why;          /* on failure: a static English phrase; NULL on success */
};

/* Parse exactly one JSON value (surrounding whitespace allowed, nothing
 * after it) from text[0..len). 0, or -EINVAL malformed (err_off, why set),
 * -E2BIG (more nodes, depth or text than the limits; why says which).
 * Rejects: duplicate member names in one object (compared unescaped),
 * \u0000, invalid UTF-8 (overlong, surrogates, above U+10FFFF, truncated)
 * or lone surrogates, leading zeros, NaN/Infinity, numbers beyond the
 * range of a double (1e400), trailing commas, control characters in
 * strings. Never reads past len; text need not be NUL-terminated. */
int pcm_json_parse(struct pcm_json_doc *d, const char *text, size_t len);
/* The top value, or NULL when nothing has been parsed. */
const struct pcm_json *pcm_json_root(const struct pcm_json_doc *d);
/* Member of obj named key, or NULL (also NULL when obj is not an object
 * or is NULL, so lookups chain). */
const struct pcm_json *pcm_json_get(const struct pcm_json_doc *d, const struct pcm_json *obj,
				    const char *key);
/* First child / next sibling, or NULL (also for v NULL). */
const struct pcm_json *pcm_json_first(const struct pcm_json_doc *d, const struct pcm_json *v);
const struct pcm_json *pcm_json_next(const struct pcm_json_doc *d, const struct pcm_json *v);
/* "null", "boolean", "number", "string", "array", "object"; "?" for
 * anything else. */
const char *pcm_json_type_name(enum pcm_json_type t);

/* Writer: builds one JSON text into a caller's buffer, compact (no
 * spaces), escaping strings and member names (", \, control characters
 * as \b \f \n \r \t or \u00XX; bytes >= 0x80 passed through, so what
 * goes in must be UTF-8 for the output to parse). A key is given for
 * members of an object and must be NULL inside arrays and at the top.
 * No newline is added: a JSON-lines sender appends its own.
 *
 * The first error sticks: later calls do nothing and pcm_jw_finish
 * reports it. Misuse (-EINVAL): a key where none belongs or none where
 * one must be, pcm_jw_end with nothing open, more than
 * PCM_JSON_MAX_DEPTH containers open, a second value at the top. */
struct pcm_jw {
	char *buf;
	size_t cap, len;
	int err;
	int depth;                              /* containers open */
	bool first[PCM_JSON_MAX_DEPTH + 1];     /* nothing written yet at that depth */
	uint32_t in_obj;                        /* bit d: the container at depth d is an object */
};

void pcm_jw_init(struct pcm_jw *w, char *buf, size_t cap);
void pcm_jw_obj(struct pcm_jw *w, const char *key);      /* { */
void pcm_jw_arr(struct pcm_jw *w, const char *key);      /* [ */
void pcm_jw_end(struct pcm_jw *w);                       /* } or ], whichever is open */
/* s NULL writes null. */
void pcm_jw_str(struct pcm_jw *w, const char *key, const char *s);
void pcm_jw_u64(struct pcm_jw *w, const char *key, uint64_t v);
void pcm_jw_i64(struct pcm_jw *w, const char *key, int64_t v);
/* The shortest of %.15g, %.16g, %.17g that reads back as v; non-finite
 * writes null. */
void pcm_jw_num(struct pcm_jw *w, const char *key, double v);
void pcm_jw_bool(struct pcm_jw *w, const char *key, bool b);
void pcm_jw_null(struct pcm_jw *w, const char *key);
/* A parsed value v of d (and all it holds) written again; an integer
 * written as one, every other number as pcm_jw_num writes it. */
void pcm_jw_value(struct pcm_jw *w, const char *key, const struct pcm_json_doc *d,
		  const struct pcm_json *v);
/* Length written (buf NUL-terminated), or -ENOSPC if it did not fit
 * (text and its NUL), -EINVAL on misuse (above; also unbalanced, or
 * nothing written). */
long pcm_jw_finish(struct pcm_jw *w);

#endif
