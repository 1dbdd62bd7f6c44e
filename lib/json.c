/* lib/json.c - a strict JSON parser into a fixed document, and a compact
 * writer.
 *
 * The parser is recursive descent, one function per production; the
 * depth limit bounds the recursion, so a peer's "[[[[..." costs at most
 * PCM_JSON_MAX_DEPTH frames. Values are appended to d->v in document
 * order, each container's children linked through next. Strings are
 * unescaped and validated byte by byte straight into d->text, so a member
 * name is compared with its siblings' in the form the caller will look it
 * up in: {"a":1,"\u0061":2} is a duplicate.
 *
 * Everything reads through pos < len checks: the input need not end in a
 * NUL, and a number is copied out (into the unused text) before strtod
 * sees it, which would read on past len.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"

struct parser {
	struct pcm_json_doc *d;
	const unsigned char *s;
	size_t len, pos;
	int depth;                      /* containers open */
};

static int fail(struct parser *p, int err, size_t off, const char *why)
{
	p->d->err_off = off;
	p->d->why = why;
	return err;
}

static void skip_ws(struct parser *p)
{
	while (p->pos < p->len) {
		unsigned char c = p->s[p->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			return;
		p->pos++;
	}
}

/* The next byte, or -1 at the end. */
static int peek(const struct parser *p)
{
	return p->pos < p->len ? p->s[p->pos] : -1;
}

/* A new value of type t under parent, its index in *idx. */
static int new_node(struct parser *p, enum pcm_json_type t, int parent, const char *key, int *idx)
{
	struct pcm_json_doc *d = p->d;
	struct pcm_json *v;

	if (d->n >= PCM_JSON_MAX_NODES)
		return fail(p, -E2BIG, p->pos, "more values than PCM_JSON_MAX_NODES");
	v = &d->v[d->n];
	memset(v, 0, sizeof(*v));
	v->type = t;
	v->key = key;
	v->parent = parent;
	v->child = -1;
	v->next = -1;
	*idx = (int)d->n++;
	return 0;
}

/* ---- strings ---- */

static int put_text(struct parser *p, unsigned char c)
{
	struct pcm_json_doc *d = p->d;

	/* One byte always stays for the string's NUL. */
	if (d->text_len + 1 >= PCM_JSON_MAX_TEXT)
		return fail(p, -E2BIG, p->pos, "strings longer in all than PCM_JSON_MAX_TEXT");
	d->text[d->text_len++] = (char)c;
	return 0;
}

static int put_utf8(struct parser *p, uint32_t cp)
{
	unsigned char b[4];
	int n, i, r;

	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | cp >> 6);
		b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | cp >> 12);
		b[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | cp >> 18);
		b[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		b[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	for (i = 0; i < n; i++)
		if ((r = put_text(p, b[i])))
			return r;
	return 0;
}

/* Length of the well-formed UTF-8 sequence at s[0..n), n >= 1, whose
 * first byte is >= 0x80; 0 if ill-formed. The second byte's range is
 * what rules out overlong forms, UTF-16 surrogates (ED A0..BF) and code
 * points above U+10FFFF (Unicode table 3-7). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t want, i;

	if (c >= 0xc2 && c <= 0xdf)
		want = 2;
	else if (c >= 0xe0 && c <= 0xef)
		want = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		want = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < want || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < want; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return want;
}

/* Four hex digits at s[at..], into *cp. */
static bool hex4(const struct parser *p, size_t at, uint32_t *cp)
{
	uint32_t v = 0;
	size_t i;

	if (at > p->len || p->len - at < 4)
		return false;
	for (i = at; i < at + 4; i++) {
		unsigned char c = p->s[i];

		if (c >= '0' && c <= '9')
			v = v << 4 | (uint32_t)(c - '0');
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			v = v << 4 | (uint32_t)((c | 0x20) - 'a' + 10);
		else
			return false;
	}
	*cp = v;
	return true;
}

/* \uXXXX at p->pos (on the backslash), a surrogate pair as one. p->pos
 * moves past it only once it is stored, so any error is at its start. */
static int unicode_escape(struct parser *p)
{
	size_t at = p->pos, n = 6;
	uint32_t cp, lo;
	int r;

	if (!hex4(p, at + 2, &cp))
		return fail(p, -EINVAL, at, "expected four hex digits after \\u");
	if (!cp)
		return fail(p, -EINVAL, at, "\\u0000 in a string");
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return fail(p, -EINVAL, at, "lone surrogate in a \\u escape");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (p->len - at < 12 || p->s[at + 6] != '\\' || p->s[at + 7] != 'u' ||
		    !hex4(p, at + 8, &lo) || lo < 0xdc00 || lo > 0xdfff)
			return fail(p, -EINVAL, at, "lone surrogate in a \\u escape");
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		n = 12;
	}
	if ((r = put_utf8(p, cp)))
		return r;
	p->pos += n;
	return 0;
}

static int escape(struct parser *p)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *e;
	int r;

	if (p->pos + 1 >= p->len)
		return fail(p, -EINVAL, p->pos, "unterminated string");
	if (p->s[p->pos + 1] == 'u')
		return unicode_escape(p);
	e = p->s[p->pos + 1] ? strchr(from, p->s[p->pos + 1]) : NULL;
	if (!e)
		return fail(p, -EINVAL, p->pos, "invalid escape in a string");
	if ((r = put_text(p, (unsigned char)to[e - from])))
		return r;
	p->pos += 2;
	return 0;
}

/* One more byte, or sequence, of raw string content at p->pos. */
static int raw_char(struct parser *p)
{
	unsigned char c = p->s[p->pos];
	size_t n, i;
	int r;

	if (c < 0x20)
		return fail(p, -EINVAL, p->pos, "control character in a string");
	if (c < 0x80) {
		if ((r = put_text(p, c)))
			return r;
		p->pos++;
		return 0;
	}
	n = utf8_len(p->s + p->pos, p->len - p->pos);
	if (!n)
		return fail(p, -EINVAL, p->pos, "invalid UTF-8 in a string");
	for (i = 0; i < n; i++)
		if ((r = put_text(p, p->s[p->pos + i])))
			return r;
	p->pos += n;
	return 0;
}

/* The string at p->pos (on its quote) into the document's text: *out the
 * NUL-terminated copy, *outlen its length. */
static int string(struct parser *p, const char **out, size_t *outlen)
{
	struct pcm_json_doc *d = p->d;
	size_t start = d->text_len, at = p->pos;
	int r;

	/* Room for the NUL, which an empty string needs too. */
	if (d->text_len >= PCM_JSON_MAX_TEXT)
		return fail(p, -E2BIG, at, "strings longer in all than PCM_JSON_MAX_TEXT");
	p->pos++;
	for (;;) {
		if (p->pos >= p->len)
			return fail(p, -EINVAL, at, "unterminated string");
		if (p->s[p->pos] == '"')
			break;
		r = p->s[p->pos] == '\\' ? escape(p) : raw_char(p);
		if (r)
			return r;
	}
	p->pos++;
	/* put_text, or the check above, kept this byte free. */
	d->text[d->text_len++] = '\0';
	*out = d->text + start;
	*outlen = d->text_len - start - 1;
	return 0;
}

/* ---- numbers ---- */

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* Digits of [from, to) as an int64 with the sign, if it fits. */
static bool to_int64(const unsigned char *s, size_t from, size_t to, bool neg, int64_t *v)
{
	uint64_t m = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	size_t i;

	for (i = from; i < to; i++) {
		unsigned dig = s[i] - '0';

		if (m > (lim - dig) / 10)
			return false;
		m = m * 10 + dig;
	}
	/* -2^63 has no positive int64: negate in unsigned, then convert. */
	*v = neg ? (int64_t)(0 - m) : (int64_t)m;
	return true;
}

/* The token's value through strtod, on a NUL-terminated copy in the
 * document's unused text (not kept; see PCM_JSON_NUM_ROOM). */
static int to_double(struct parser *p, size_t start, double *v)
{
	struct pcm_json_doc *d = p->d;
	size_t n = p->pos - start;
	char *tmp = d->text + d->text_len;

	if (n >= sizeof(d->text) - d->text_len)
		return fail(p, -E2BIG, start, "number longer than the text space left");
	memcpy(tmp, p->s + start, n);
	tmp[n] = '\0';
	*v = strtod(tmp, NULL);
	/* Underflow rounds to 0 or a subnormal, which is a value; overflow
	 * would be infinity, which JSON and the writer have no form for. */
	if (isinf(*v))
		return fail(p, -EINVAL, start, "number too large for a double");
	return 0;
}

/* Digits at p->pos, at least one, or -EINVAL with why. */
static int digits(struct parser *p, const char *why)
{
	if (!is_digit(peek(p)))
		return fail(p, -EINVAL, p->pos, why);
	while (is_digit(peek(p)))
		p->pos++;
	return 0;
}

static int number(struct parser *p, struct pcm_json *v)
{
	size_t start = p->pos, int_from;
	bool neg = false, integral = true;
	int r;

	if (peek(p) == '-') {
		neg = true;
		p->pos++;
		if (peek(p) == 'I' || peek(p) == 'N')
			return fail(p, -EINVAL, start, "NaN and Infinity are not JSON numbers");
	}
	int_from = p->pos;
	if (peek(p) == '0') {
		p->pos++;
		if (is_digit(peek(p)))
			return fail(p, -EINVAL, int_from, "leading zero in a number");
	} else if ((r = digits(p, "expected a digit after '-'"))) {
		return r;
	}
	v->i = 0;
	integral = to_int64(p->s, int_from, p->pos, neg, &v->i);
	if (peek(p) == '.') {
		p->pos++;
		integral = false;
		if ((r = digits(p, "expected a digit after '.'")))
			return r;
	}
	if (peek(p) == 'e' || peek(p) == 'E') {
		p->pos++;
		integral = false;
		if (peek(p) == '+' || peek(p) == '-')
			p->pos++;
		if ((r = digits(p, "expected a digit in the exponent")))
			return r;
	}
	v->is_int = integral;
	if (!integral)
		v->i = 0;
	return to_double(p, start, &v->num);
}

/* ---- values ---- */

static int value(struct parser *p, int parent, const char *key, int *idx);

static bool literal(struct parser *p, const char *word)
{
	size_t n = strlen(word);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n))
		return false;
	p->pos += n;
	return true;
}

/* Link child idx as the last of parent's children. */
static void link_child(struct pcm_json_doc *d, int parent, int *last, int idx)
{
	if (*last < 0)
		d->v[parent].child = idx;
	else
		d->v[*last].next = idx;
	*last = idx;
	d->v[parent].count++;
}

/* Whether name is already a member of object obj. */
static bool has_member(const struct pcm_json_doc *d, int obj, const char *name)
{
	int c;

	for (c = d->v[obj].child; c >= 0; c = d->v[c].next)
		if (!strcmp(d->v[c].key, name))
			return true;
	return false;
}

static int member(struct parser *p, int obj, int *last)
{
	const char *name;
	size_t at = p->pos, n;
	int idx, r;

	if (peek(p) != '"')
		return fail(p, -EINVAL, p->pos, "expected a member name (a string)");
	if ((r = string(p, &name, &n)))
		return r;
	if (has_member(p->d, obj, name))
		return fail(p, -EINVAL, at, "duplicate member name");
	skip_ws(p);
	if (peek(p) != ':')
		return fail(p, -EINVAL, p->pos, "expected ':' after a member name");
	p->pos++;
	if ((r = value(p, obj, name, &idx)))
		return r;
	link_child(p->d, obj, last, idx);
	return 0;
}

static int element(struct parser *p, int arr, int *last)
{
	int idx, r;

	if ((r = value(p, arr, NULL, &idx)))
		return r;
	link_child(p->d, arr, last, idx);
	return 0;
}

/* The members or elements of the container idx, p->pos just past its
 * opening bracket, up to and past the closing one. */
static int container(struct parser *p, int idx, bool obj)
{
	int close = obj ? '}' : ']', last = -1, r;
	const char *sep = obj ? "expected ',' or '}' after a member"
			      : "expected ',' or ']' after an element";

	if (p->depth >= PCM_JSON_MAX_DEPTH)
		return fail(p, -E2BIG, p->pos - 1, "nested deeper than PCM_JSON_MAX_DEPTH");
	p->depth++;
	skip_ws(p);
	if (peek(p) == close) {
		p->pos++;
		p->depth--;
		return 0;
	}
	for (;;) {
		skip_ws(p);
		r = obj ? member(p, idx, &last) : element(p, idx, &last);
		if (r)
			return r;
		skip_ws(p);
		if (peek(p) == close)
			break;
		if (peek(p) != ',')
			return fail(p, -EINVAL, p->pos, sep);
		p->pos++;
		/* Say so rather than "expected a value": it is a common slip. */
		skip_ws(p);
		if (peek(p) == close)
			return fail(p, -EINVAL, p->pos, "trailing comma");
	}
	p->pos++;
	p->depth--;
	return 0;
}

static int scalar_or_container(struct parser *p, struct pcm_json *v, int idx)
{
	switch (v->type) {
	case PCM_JSON_OBJECT:
		p->pos++;
		return container(p, idx, true);
	case PCM_JSON_ARRAY:
		p->pos++;
		return container(p, idx, false);
	case PCM_JSON_STRING:
		return string(p, &v->str, &v->len);
	case PCM_JSON_NUMBER:
		return number(p, v);
	default:
		return 0;
	}
}

/* The type of the value that starts with c, having consumed a literal
 * (true, false, null); -1 if no value starts there. */
static int value_type(struct parser *p, int c, bool *b)
{
	if (c == '{')
		return PCM_JSON_OBJECT;
	if (c == '[')
		return PCM_JSON_ARRAY;
	if (c == '"')
		return PCM_JSON_STRING;
	if (c == '-' || is_digit(c))
		return PCM_JSON_NUMBER;
	if (literal(p, "true")) {
		*b = true;
		return PCM_JSON_BOOL;
	}
	if (literal(p, "false")) {
		*b = false;
		return PCM_JSON_BOOL;
	}
	if (literal(p, "null"))
		return PCM_JSON_NULL;
	return -1;
}

static int value(struct parser *p, int parent, const char *key, int *idx)
{
	struct pcm_json *v;
	size_t at;
	bool b = false;
	int t, r;

	skip_ws(p);
	at = p->pos;
	t = value_type(p, peek(p), &b);
	if (t < 0) {
		if (peek(p) == 'N' || peek(p) == 'I')
			return fail(p, -EINVAL, at, "NaN and Infinity are not JSON numbers");
		return fail(p, -EINVAL, at, "expected a value");
	}
	/* The node is taken before its children: parents come first in v[].
	 * A literal has been consumed already: its offset is at. */
	if ((r = new_node(p, (enum pcm_json_type)t, parent, key, idx)))
		return fail(p, r, at, p->d->why);
	v = &p->d->v[*idx];
	v->b = b;
	/* v stays valid: d->v does not move as nodes are added. */
	return scalar_or_container(p, v, *idx);
}

int pcm_json_parse(struct pcm_json_doc *d, const char *text, size_t len)
{
	struct parser p = { .d = d, .s = (const unsigned char *)text, .len = text ? len : 0 };
	int idx, r;

	d->n = 0;
	d->text_len = 0;
	d->err_off = 0;
	d->why = NULL;
	r = value(&p, -1, NULL, &idx);
	if (!r) {
		skip_ws(&p);
		if (p.pos < p.len)
			r = fail(&p, -EINVAL, p.pos, "unexpected text after the value");
	}
	if (r)
		d->n = 0;
	return r;
}

const struct pcm_json *pcm_json_root(const struct pcm_json_doc *d)
{
	return d->n ? &d->v[0] : NULL;
}

const struct pcm_json *pcm_json_get(const struct pcm_json_doc *d, const struct pcm_json *obj,
				    const char *key)
{
	const struct pcm_json *c;

	if (!obj || obj->type != PCM_JSON_OBJECT || !key)
		return NULL;
	for (c = pcm_json_first(d, obj); c; c = pcm_json_next(d, c))
		if (!strcmp(c->key, key))
			return c;
	return NULL;
}

/* An index from a node, checked against the document. */
static const struct pcm_json *at_index(const struct pcm_json_doc *d, int i)
{
	return i >= 0 && (unsigned)i < d->n ? &d->v[i] : NULL;
}

const struct pcm_json *pcm_json_first(const struct pcm_json_doc *d, const struct pcm_json *v)
{
	return v ? at_index(d, v->child) : NULL;
}

const struct pcm_json *pcm_json_next(const struct pcm_json_doc *d, const struct pcm_json *v)
{
	return v ? at_index(d, v->next) : NULL;
}

const char *pcm_json_type_name(enum pcm_json_type t)
{
	switch (t) {
	case PCM_JSON_NULL: return "null";
	case PCM_JSON_BOOL: return "boolean";
	case PCM_JSON_NUMBER: return "number";
	case PCM_JSON_STRING: return "string";
	case PCM_JSON_ARRAY: return "array";
	case PCM_JSON_OBJECT: return "object";
	}
	return "?";
}

/* ---- writer ---- */

_Static_assert(PCM_JSON_MAX_DEPTH < 32, "in_obj has a bit per depth");

void pcm_jw_init(struct pcm_jw *w, char *buf, size_t cap)
{
	memset(w, 0, sizeof(*w));
	w->buf = buf;
	w->cap = buf ? cap : 0;
	w->first[0] = true;
	if (w->cap)
		buf[0] = '\0';
}

/* n bytes of s, always leaving room for the NUL. */
static void put(struct pcm_jw *w, const char *s, size_t n)
{
	if (w->err)
		return;
	if (n >= w->cap - w->len) {      /* cap > len always: the NUL's byte */
		w->err = -ENOSPC;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

static void put_c(struct pcm_jw *w, char c)
{
	put(w, &c, 1);
}

/* s as a JSON string: runs that need no escape go in one put. */
static void put_string(struct pcm_jw *w, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;
	char esc[6];

	put_c(w, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		size_t n = 2;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		put(w, run, (size_t)(s - run));
		run = s + 1;
		esc[0] = '\\';
		switch (c) {
		case '"': case '\\': esc[1] = (char)c; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
		}
		put(w, esc, n);
	}
	put(w, run, (size_t)(s - run));
	put_c(w, '"');
}

static bool in_obj(const struct pcm_jw *w)
{
	return w->depth > 0 && (w->in_obj >> w->depth & 1);
}

/* Before any value: the comma and the key, or -EINVAL when the key does
 * not match where the value goes. false when nothing is to be written. */
static bool begin(struct pcm_jw *w, const char *key)
{
	if (w->err)
		return false;
	if ((key != NULL) != in_obj(w) || (!w->depth && !w->first[0])) {
		w->err = -EINVAL;
		return false;
	}
	if (!w->first[w->depth])
		put_c(w, ',');
	w->first[w->depth] = false;
	if (key) {
		put_string(w, key);
		put_c(w, ':');
	}
	return !w->err;
}

static void jw_open(struct pcm_jw *w, const char *key, bool obj)
{
	if (!begin(w, key))
		return;
	if (w->depth >= PCM_JSON_MAX_DEPTH) {
		w->err = -EINVAL;
		return;
	}
	put_c(w, obj ? '{' : '[');
	w->depth++;
	w->first[w->depth] = true;
	if (obj)
		w->in_obj |= 1u << w->depth;
	else
		w->in_obj &= ~(1u << w->depth);
}

void pcm_jw_obj(struct pcm_jw *w, const char *key)
{
	jw_open(w, key, true);
}

void pcm_jw_arr(struct pcm_jw *w, const char *key)
{
	jw_open(w, key, false);
}

void pcm_jw_end(struct pcm_jw *w)
{
	if (w->err)
		return;
	if (!w->depth) {
		w->err = -EINVAL;
		return;
	}
	put_c(w, in_obj(w) ? '}' : ']');
	w->depth--;
}

void pcm_jw_str(struct pcm_jw *w, const char *key, const char *s)
{
	if (!s) {
		pcm_jw_null(w, key);
		return;
	}
	if (begin(w, key))
		put_string(w, s);
}

/* Decimal digits of m, with a '-' first when neg. */
static void put_mag(struct pcm_jw *w, uint64_t m, bool neg)
{
	char b[21];
	size_t i = sizeof(b);

	do {
		b[--i] = (char)('0' + m % 10);
		m /= 10;
	} while (m);
	if (neg)
		b[--i] = '-';
	put(w, b + i, sizeof(b) - i);
}

void pcm_jw_u64(struct pcm_jw *w, const char *key, uint64_t v)
{
	if (begin(w, key))
		put_mag(w, v, false);
}

void pcm_jw_i64(struct pcm_jw *w, const char *key, int64_t v)
{
	/* The magnitude in unsigned: -INT64_MIN overflows an int64. */
	if (begin(w, key))
		put_mag(w, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, v < 0);
}

void pcm_jw_num(struct pcm_jw *w, const char *key, double v)
{
	char b[32];
	int prec, n = 0;

	if (!isfinite(v)) {
		pcm_jw_null(w, key);
		return;
	}
	if (!begin(w, key))
		return;
	/* 17 significant digits always read back as the same double; fewer
	 * usually do and read better (0.1, not 0.10000000000000001). */
	for (prec = 15; prec <= 17; prec++) {
		n = snprintf(b, sizeof(b), "%.*g", prec, v);
		if (strtod(b, NULL) == v)
			break;
	}
	put(w, b, (size_t)n);
}

void pcm_jw_bool(struct pcm_jw *w, const char *key, bool b)
{
	if (begin(w, key))
		put(w, b ? "true" : "false", b ? 4 : 5);
}

void pcm_jw_null(struct pcm_jw *w, const char *key)
{
	if (begin(w, key))
		put(w, "null", 4);
}

long pcm_jw_finish(struct pcm_jw *w)
{
	if (w->err)
		return w->err;
	if (w->depth || w->first[0])
		return -EINVAL;
	return (long)w->len;
}

void pcm_jw_value(struct pcm_jw *w, const char *key, const struct pcm_json_doc *d,
		  const struct pcm_json *v)
{
	switch (v->type) {
	case PCM_JSON_NULL: pcm_jw_null(w, key); break;
	case PCM_JSON_BOOL: pcm_jw_bool(w, key, v->b); break;
	case PCM_JSON_STRING: pcm_jw_str(w, key, v->str); break;
	case PCM_JSON_NUMBER:
		if (v->is_int)
			pcm_jw_i64(w, key, v->i);
		else
			pcm_jw_num(w, key, v->num);
		break;
	case PCM_JSON_ARRAY:
	case PCM_JSON_OBJECT:
		if (v->type == PCM_JSON_ARRAY)
			pcm_jw_arr(w, key);
		else
			pcm_jw_obj(w, key);
		for (const struct pcm_json *c = pcm_json_first(d, v); c; c = pcm_json_next(d, c))
			pcm_jw_value(w, c->key, d, c);
		pcm_jw_end(w);
		break;
	}
}
