/* tests/fuzz/fuzz_json.c - libFuzzer target: arbitrary bytes as one line
 * of the JSON-lines control channel, through pcm_json_parse (lib/json.c),
 * then what it accepted back out through the writer and in again.
 *
 * The input is the whole text, in a buffer that ends where it ends so
 * ASan sees any read past len. The parser must keep its promises
 * (lib/json.h):
 *   refused   -EINVAL or -E2BIG, a reason, an offset inside the input,
 *             nothing left to read in the document
 *   accepted  a tree whose indexes stay in range and point forward (parents
 *             before children, in document order), each container's
 *             count its children, every value reached once from the root,
 *             at most PCM_JSON_MAX_DEPTH containers deep; names present
 *             exactly for members, unique in their object and found by
 *             pcm_json_get; strings NUL-terminated inside the document's
 *             text with len == strlen; numbers finite, i == num when is_int
 * Then the writer must take the tree (it always fits the buffer here),
 * and its output must parse to the same shape: types, counts, names,
 * strings byte for byte, integers exactly and other numbers to the bit.
 * Written once more, that output must come out the same bytes: the
 * writer is a fixed point after one pass (one pass may turn 1.0 into 1,
 * or -0 as an integer into 0).
 *
 * A broken promise aborts, so libFuzzer keeps the input.
 *
 * tests/unit/test_json.c includes this file (FUZZ_NO_MAIN) to replay the
 * seeds and saved inputs through fuzz_json_one.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"
#include "postcopy/migopts.h"
#include "postcopy/migrate.h"
#include "tests/fuzz/fuzz_check.h"

/* The writer's worst case: every text byte a control character (6 bytes
 * as \u00XX), and per value its quotes, colon, comma, brackets and at
 * most 24 characters of number. */
#define FZJ_OUT_MAX (6 * PCM_JSON_MAX_TEXT + 64 * PCM_JSON_MAX_NODES)

static struct pcm_json_doc fzj_doc[2];
static char fzj_out[2][FZJ_OUT_MAX];

static void fzj_refused(const struct pcm_json_doc *d, int r, size_t size)
{
	FZ_CHECK(r == -EINVAL || r == -E2BIG);
	FZ_CHECK(d->why && strlen(d->why) > 0);
	FZ_CHECK(d->err_off <= size);
	FZ_CHECK(d->n == 0 && pcm_json_root(d) == NULL);
}

/* p lies with its NUL inside what the document's text holds. */
static void fzj_in_text(const struct pcm_json_doc *d, const char *p, size_t len)
{
	FZ_CHECK(p >= d->text && p + len < d->text + d->text_len);
	FZ_CHECK(strlen(p) == len);
}

static void fzj_scalar(const struct pcm_json_doc *d, const struct pcm_json *v)
{
	FZ_CHECK(v->child == -1 && v->count == 0);
	if (v->type == PCM_JSON_STRING) {
		FZ_CHECK(v->str != NULL);
		fzj_in_text(d, v->str, v->len);
	} else {
		FZ_CHECK(v->str == NULL && v->len == 0);
	}
	if (v->type == PCM_JSON_NUMBER) {
		FZ_CHECK(isfinite(v->num));
		/* Both round the same exact integer to nearest: equal. */
		FZ_CHECK(!v->is_int || (double)v->i == v->num);
		FZ_CHECK(v->is_int || v->i == 0);
	} else {
		FZ_CHECK(!v->is_int && v->i == 0 && v->num == 0);
	}
	FZ_CHECK(v->type == PCM_JSON_BOOL || !v->b);
}

/* The subtree at index i, depth containers above it; returns how many
 * values it holds. */
static unsigned fzj_walk(const struct pcm_json_doc *d, int i, int depth)
{
	const struct pcm_json *v = &d->v[i], *c, *o;
	unsigned seen = 1, kids = 0, sub;
	int ci;

	FZ_CHECK(v->type >= PCM_JSON_NULL && v->type <= PCM_JSON_OBJECT);
	FZ_CHECK(strcmp(pcm_json_type_name(v->type), "?") != 0);
	FZ_CHECK(v->next == -1 || (v->next > i && (unsigned)v->next < d->n));
	if (v->type != PCM_JSON_ARRAY && v->type != PCM_JSON_OBJECT) {
		fzj_scalar(d, v);
		return seen;
	}
	FZ_CHECK(depth < PCM_JSON_MAX_DEPTH);
	FZ_CHECK(v->str == NULL && !v->is_int && !v->b);
	FZ_CHECK(v->child == -1 || (v->child == i + 1 && (unsigned)v->child < d->n));
	FZ_CHECK(pcm_json_first(d, v) == (v->child < 0 ? NULL : &d->v[v->child]));
	for (ci = v->child; ci >= 0; ci = d->v[ci].next) {
		c = &d->v[ci];
		FZ_CHECK(c->parent == i);
		FZ_CHECK(pcm_json_next(d, c) == (c->next < 0 ? NULL : &d->v[c->next]));
		if (v->type == PCM_JSON_OBJECT) {
			FZ_CHECK(c->key != NULL);
			fzj_in_text(d, c->key, strlen(c->key));
			/* Unique in the object, so the lookup finds this one. */
			FZ_CHECK(pcm_json_get(d, v, c->key) == c);
			for (o = pcm_json_first(d, v); o != c; o = pcm_json_next(d, o))
				FZ_CHECK(strcmp(o->key, c->key) != 0);
		} else {
			FZ_CHECK(c->key == NULL);
		}
		kids++;
		sub = fzj_walk(d, ci, depth + 1);
		seen += sub;
		/* Document order: the next sibling follows this subtree. */
		FZ_CHECK(c->next == -1 || (unsigned)c->next == (unsigned)ci + sub);
	}
	FZ_CHECK(kids == v->count);
	return seen;
}

static void fzj_check_tree(const struct pcm_json_doc *d)
{
	const struct pcm_json *r = pcm_json_root(d);

	FZ_CHECK(d->why == NULL);
	FZ_CHECK(d->n >= 1 && d->n <= PCM_JSON_MAX_NODES && r == &d->v[0]);
	FZ_CHECK(d->text_len <= PCM_JSON_MAX_TEXT);
	FZ_CHECK(r->parent == -1 && r->next == -1 && r->key == NULL);
	/* Every value once: the walk from the root reaches all of v[]. */
	FZ_CHECK(fzj_walk(d, 0, 0) == d->n);
}

/* The whole document as JSON text into out; its length. */
static size_t fzj_rewrite(const struct pcm_json_doc *d, char *out)
{
	struct pcm_jw w;
	long n;

	pcm_jw_init(&w, out, FZJ_OUT_MAX);
	pcm_jw_value(&w, NULL, d, pcm_json_root(d));
	n = pcm_jw_finish(&w);
	FZ_CHECK(n > 0 && (size_t)n < FZJ_OUT_MAX);
	FZ_CHECK(out[n] == '\0' && strlen(out) == (size_t)n);
	return (size_t)n;
}

/* a and b (of documents da, db) hold the same values. */
static void fzj_same(const struct pcm_json_doc *da, const struct pcm_json *a,
		     const struct pcm_json_doc *db, const struct pcm_json *b)
{
	const struct pcm_json *ca, *cb;

	FZ_CHECK(a->type == b->type);
	FZ_CHECK((a->key == NULL) == (b->key == NULL));
	FZ_CHECK(!a->key || !strcmp(a->key, b->key));
	switch (a->type) {
	case PCM_JSON_BOOL:
		FZ_CHECK(a->b == b->b);
		break;
	case PCM_JSON_STRING:
		FZ_CHECK(a->len == b->len && !memcmp(a->str, b->str, a->len + 1));
		break;
	case PCM_JSON_NUMBER:
		/* An integer stays one; a double written as "1" becomes
		 * one, with the same value. */
		if (a->is_int)
			FZ_CHECK(b->is_int && a->i == b->i);
		else
			FZ_CHECK(a->num == b->num && signbit(a->num) == signbit(b->num));
		break;
	case PCM_JSON_ARRAY:
	case PCM_JSON_OBJECT:
		FZ_CHECK(a->count == b->count);
		ca = pcm_json_first(da, a);
		cb = pcm_json_first(db, b);
		for (; ca && cb; ca = pcm_json_next(da, ca), cb = pcm_json_next(db, cb))
			fzj_same(da, ca, db, cb);
		FZ_CHECK(!ca && !cb);
		break;
	default:
		break;
	}
}

/* The document as a migrate request's "options" (the control socket's
 * other decoder of outside input): accepted or refused with a reason,
 * and what it accepts is what the command line could have set, written
 * out again to the same options. */
static void fzj_migopts(const struct pcm_json_doc *d)
{
	const struct pcm_json *root = pcm_json_root(d);
	struct migrate_opts o = { .mode = PM_MODE_POSTCOPY }, o2 = { .mode = PM_MODE_POSTCOPY };
	static struct pcm_json_doc back;
	static char out[8192], out2[8192];
	char why[400] = "";
	struct pcm_jw w;
	long n;

	if (migopts_from_json(&o, d, root, why, sizeof(why))) {
		FZ_CHECK(why[0]);
		return;
	}
	FZ_CHECK(root->type == PCM_JSON_OBJECT);
	FZ_CHECK(memchr(o.psk_file, 0, sizeof(o.psk_file)));
	FZ_CHECK(o.mode >= PM_MODE_POSTCOPY && o.mode <= PM_MODE_HYBRID);
	FZ_CHECK(!o.psk_file[0] || o.psk_file[0] == '/');
	FZ_CHECK(o.link_timeout_ms >= 0 && o.recover_timeout_ms >= 0);
	pcm_jw_init(&w, out, sizeof(out));
	pcm_jw_obj(&w, NULL);
	migopts_to_json(&o, &w);
	pcm_jw_end(&w);
	n = pcm_jw_finish(&w);
	FZ_CHECK(n > 0);
	FZ_CHECK(pcm_json_parse(&back, out, (size_t)n) == 0);
	FZ_CHECK(migopts_from_json(&o2, &back, pcm_json_root(&back), why, sizeof(why)) == 0);
	pcm_jw_init(&w, out2, sizeof(out2));
	pcm_jw_obj(&w, NULL);
	migopts_to_json(&o2, &w);
	pcm_jw_end(&w);
	FZ_CHECK(pcm_jw_finish(&w) == n && !memcmp(out, out2, (size_t)n));
}

static int fuzz_json_one(const uint8_t *data, size_t size)
{
	struct pcm_json_doc *d = &fzj_doc[0], *e = &fzj_doc[1];
	size_t n1, n2;
	char *buf;
	int r;

	/* Exactly size bytes, so ASan sees a read past len. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);
	r = pcm_json_parse(d, buf, size);
	free(buf);
	if (r) {
		fzj_refused(d, r, size);
		return 0;
	}
	fzj_check_tree(d);

	/* Out and in again: the same values. */
	n1 = fzj_rewrite(d, fzj_out[0]);
	r = pcm_json_parse(e, fzj_out[0], n1);
	if (r)
		fprintf(stderr, "fuzz_json: rewrite refused: %d at %zu: %s\n", r, e->err_off,
			e->why);
	FZ_CHECK(r == 0);
	fzj_check_tree(e);
	FZ_CHECK(e->n == d->n && e->text_len == d->text_len);
	fzj_same(d, pcm_json_root(d), e, pcm_json_root(e));

	/* And once more: now the same bytes. */
	n2 = fzj_rewrite(e, fzj_out[1]);
	FZ_CHECK(pcm_json_parse(d, fzj_out[1], n2) == 0);
	n1 = fzj_rewrite(d, fzj_out[0]);
	FZ_CHECK(n1 == n2 && !memcmp(fzj_out[0], fzj_out[1], n1));
	fzj_migopts(d);
	return 0;
}

#ifndef FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_json_one(data, size);
}
#endif
