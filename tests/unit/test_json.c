/* tests/unit/test_json.c - lib/json: every kind of value and nesting,
 * lookups, each rejection with its reason and offset, the node, depth and
 * text limits, numbers at the int64 and double edges, \u escapes into
 * UTF-8, the writer's exact output, escaping, -ENOSPC and misuse, and
 * writer -> parser round trips. Then the fuzz target's seeds
 * (tests/fuzz/corpus/json/) and any inputs it once crashed on
 * (tests/fuzz/regress/json/) through its own checks, compiled in here.
 *
 * Run from the project root (make unit does); PCM_FUZZ_DIR overrides
 * where tests/fuzz is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/json.h"

#define FUZZ_NO_MAIN
#include "tests/fuzz/fuzz_json.c"

static struct pcm_json_doc doc;   /* 100 KiB: not on the stack */

static const struct pcm_json *parse_ok(const char *s)
{
	int r = pcm_json_parse(&doc, s, strlen(s));

	if (r)
		fail_msg("parse of '%s': %d at %zu: %s", s, r, doc.err_off,
			 doc.why ? doc.why : "(no reason)");
	assert_null(doc.why);
	assert_non_null(pcm_json_root(&doc));
	return pcm_json_root(&doc);
}

static void parse_bad(const char *s, size_t len, int err, size_t off, const char *why)
{
	int r = pcm_json_parse(&doc, s, len);

	if (r != err || doc.err_off != off || !doc.why || strcmp(doc.why, why))
		fail_msg("parse of '%.*s': got %d at %zu (%s), want %d at %zu (%s)",
			 len > 60 ? 60 : (int)len, s ? s : "",
			 r, doc.err_off, doc.why ? doc.why : "NULL", err, off, why);
	/* A failed parse leaves nothing to read. */
	assert_int_equal(doc.n, 0);
	assert_null(pcm_json_root(&doc));
}

static void test_scalars(void **state)
{
	const struct pcm_json *v;

	(void)state;
	v = parse_ok("null");
	assert_int_equal(v->type, PCM_JSON_NULL);
	assert_int_equal(doc.n, 1);
	assert_int_equal(v->parent, -1);
	assert_int_equal(v->child, -1);
	assert_int_equal(v->next, -1);
	assert_null(v->key);
	assert_null(v->str);

	v = parse_ok(" \t\r\ntrue\n");
	assert_int_equal(v->type, PCM_JSON_BOOL);
	assert_true(v->b);
	v = parse_ok("false");
	assert_int_equal(v->type, PCM_JSON_BOOL);
	assert_false(v->b);

	v = parse_ok("42");
	assert_int_equal(v->type, PCM_JSON_NUMBER);
	assert_true(v->is_int);
	assert_int_equal(v->i, 42);
	assert_true(v->num == 42.0);

	v = parse_ok("\"hi\"");
	assert_int_equal(v->type, PCM_JSON_STRING);
	assert_string_equal(v->str, "hi");
	assert_int_equal(v->len, 2);
	v = parse_ok("\"\"");
	assert_string_equal(v->str, "");
	assert_int_equal(v->len, 0);
	/* DEL is not a control character to JSON. */
	v = parse_ok("\"\x7f\"");
	assert_int_equal(v->len, 1);

	assert_string_equal(pcm_json_type_name(PCM_JSON_NULL), "null");
	assert_string_equal(pcm_json_type_name(PCM_JSON_BOOL), "boolean");
	assert_string_equal(pcm_json_type_name(PCM_JSON_NUMBER), "number");
	assert_string_equal(pcm_json_type_name(PCM_JSON_STRING), "string");
	assert_string_equal(pcm_json_type_name(PCM_JSON_ARRAY), "array");
	assert_string_equal(pcm_json_type_name(PCM_JSON_OBJECT), "object");
	assert_string_equal(pcm_json_type_name((enum pcm_json_type)99), "?");
}

/* The tree of one document, index by index. */
static void test_nested(void **state)
{
	const struct pcm_json *v = NULL, *c;
	const struct pcm_json *n = doc.v;
	int i;

	(void)state;
	v = parse_ok("{\"name\":\"vm1\", \"ids\":[1,2,3],\"opts\":{\"x\":true,\"y\":null},"
		     "\"e\":[ ],\"o\":{}}");
	assert_int_equal(doc.n, 11);
	assert_ptr_equal(v, &n[0]);
	assert_int_equal(n[0].type, PCM_JSON_OBJECT);
	assert_int_equal(n[0].count, 5);
	assert_int_equal(n[0].child, 1);

	assert_string_equal(n[1].key, "name");
	assert_string_equal(n[1].str, "vm1");
	assert_int_equal(n[1].next, 2);
	assert_int_equal(n[2].type, PCM_JSON_ARRAY);
	assert_int_equal(n[2].count, 3);
	assert_int_equal(n[2].child, 3);
	assert_int_equal(n[2].next, 6);
	for (i = 3; i <= 5; i++) {
		assert_int_equal(n[i].parent, 2);
		assert_null(n[i].key);
		assert_int_equal(n[i].i, i - 2);
		assert_int_equal(n[i].next, i < 5 ? i + 1 : -1);
	}
	assert_int_equal(n[6].type, PCM_JSON_OBJECT);
	assert_int_equal(n[6].count, 2);
	assert_int_equal(n[6].child, 7);
	assert_int_equal(n[6].next, 9);
	assert_string_equal(n[7].key, "x");
	assert_int_equal(n[7].parent, 6);
	assert_int_equal(n[7].next, 8);
	assert_string_equal(n[8].key, "y");
	assert_int_equal(n[8].type, PCM_JSON_NULL);
	assert_int_equal(n[8].next, -1);
	assert_int_equal(n[9].type, PCM_JSON_ARRAY);
	assert_int_equal(n[9].count, 0);
	assert_int_equal(n[9].child, -1);
	assert_int_equal(n[9].next, 10);
	assert_int_equal(n[10].type, PCM_JSON_OBJECT);
	assert_int_equal(n[10].count, 0);
	assert_int_equal(n[10].next, -1);
	assert_int_equal(n[1].parent, 0);
	assert_int_equal(n[2].parent, 0);
	assert_int_equal(n[6].parent, 0);
	assert_int_equal(n[8].parent, 6);
	assert_int_equal(n[9].parent, 0);
	assert_int_equal(n[10].parent, 0);

	/* The same through first/next. */
	c = pcm_json_first(&doc, v);
	assert_ptr_equal(c, &n[1]);
	c = pcm_json_next(&doc, c);
	assert_ptr_equal(pcm_json_first(&doc, c), &n[3]);
	assert_ptr_equal(pcm_json_next(&doc, &n[5]), NULL);
	assert_null(pcm_json_first(&doc, &n[9]));
	assert_null(pcm_json_first(&doc, &n[1]));
	assert_null(pcm_json_first(&doc, NULL));
	assert_null(pcm_json_next(&doc, NULL));

	/* Arrays of arrays, and a key that is reused in another object. */
	v = parse_ok("[[[]],[{\"a\":{\"a\":[0]}}]]");
	assert_int_equal(doc.n, 8);
	assert_int_equal(v->count, 2);
	assert_int_equal(n[1].count, 1);
	assert_int_equal(n[2].count, 0);
	assert_int_equal(n[3].parent, 0);
	assert_int_equal(n[7].type, PCM_JSON_NUMBER);
	assert_int_equal(n[7].parent, 6);
	assert_string_equal(n[6].key, "a");
	assert_int_equal(n[6].parent, 5);
}

static void test_lookup(void **state)
{
	const struct pcm_json *r, *v;

	(void)state;
	r = parse_ok("{\"cmd\":\"status\",\"args\":{\"vm\":\"a\\\"b\",\"n\":3},"
		     "\"caf\\u00e9\":1,\"list\":[{\"k\":1}]}");
	v = pcm_json_get(&doc, r, "cmd");
	assert_non_null(v);
	assert_string_equal(v->str, "status");
	v = pcm_json_get(&doc, pcm_json_get(&doc, r, "args"), "vm");
	assert_non_null(v);
	assert_string_equal(v->str, "a\"b");
	assert_int_equal(v->len, 3);
	v = pcm_json_get(&doc, pcm_json_get(&doc, r, "args"), "n");
	assert_int_equal(v->i, 3);
	/* Escaped names are looked up unescaped. */
	v = pcm_json_get(&doc, r, "caf\xc3\xa9");
	assert_non_null(v);
	assert_int_equal(v->i, 1);

	assert_null(pcm_json_get(&doc, r, "missing"));
	assert_null(pcm_json_get(&doc, r, "Cmd"));
	assert_null(pcm_json_get(&doc, r, "cm"));
	assert_null(pcm_json_get(&doc, r, NULL));
	/* Not an object: an array holding one, a string, NULL. */
	assert_null(pcm_json_get(&doc, pcm_json_get(&doc, r, "list"), "k"));
	assert_null(pcm_json_get(&doc, pcm_json_get(&doc, r, "cmd"), "cmd"));
	assert_null(pcm_json_get(&doc, NULL, "cmd"));
	assert_null(pcm_json_get(&doc, pcm_json_get(&doc, r, "nope"), "vm"));
}

struct bad {
	const char *in;
	int err;
	size_t off;
	const char *why;
};

#define V "expected a value"
#define U8 "invalid UTF-8 in a string"
#define SUR "lone surrogate in a \\u escape"
#define LZ "leading zero in a number"
#define NAN_ "NaN and Infinity are not JSON numbers"
#define CTL "control character in a string"

static const struct bad bad[] = {
	/* nothing, or more than one value */
	{ "", -EINVAL, 0, V },
	{ "   ", -EINVAL, 3, V },
	{ "1 2", -EINVAL, 2, "unexpected text after the value" },
	{ "{}{}", -EINVAL, 2, "unexpected text after the value" },
	{ "truex", -EINVAL, 4, "unexpected text after the value" },
	{ "\xef\xbb\xbf{}", -EINVAL, 0, V },
	{ "\v1", -EINVAL, 0, V },
	/* duplicate member names, also when only the escapes differ */
	{ "{\"a\":1,\"a\":2}", -EINVAL, 7, "duplicate member name" },
	{ "{\"a\":1,\"b\":2,\"\\u0061\":3}", -EINVAL, 13, "duplicate member name" },
	{ "{\"\":1,\"\":2}", -EINVAL, 6, "duplicate member name" },
	/* \u0000 */
	{ "\"\\u0000\"", -EINVAL, 1, "\\u0000 in a string" },
	{ "{\"a\\u0000\":1}", -EINVAL, 3, "\\u0000 in a string" },
	/* invalid UTF-8: overlong, encoded surrogate, above U+10FFFF, bad
	 * lead or continuation bytes, truncated */
	{ "\"\xc0\x80\"", -EINVAL, 1, U8 },
	{ "\"\xc1\xbf\"", -EINVAL, 1, U8 },
	{ "\"\xe0\x80\x80\"", -EINVAL, 1, U8 },
	{ "\"\xe0\x9f\xbf\"", -EINVAL, 1, U8 },
	{ "\"\xf0\x8f\xbf\xbf\"", -EINVAL, 1, U8 },
	{ "\"\xed\xa0\x80\"", -EINVAL, 1, U8 },
	{ "\"\xed\xbf\xbf\"", -EINVAL, 1, U8 },
	{ "\"\xf4\x90\x80\x80\"", -EINVAL, 1, U8 },
	{ "\"\xf5\x80\x80\x80\"", -EINVAL, 1, U8 },
	{ "\"\xff\"", -EINVAL, 1, U8 },
	{ "\"\x80\"", -EINVAL, 1, U8 },
	{ "\"a\xe2\x82\"", -EINVAL, 2, U8 },
	{ "\"a\xe2\x82", -EINVAL, 2, U8 },
	{ "\"\xc3(\"", -EINVAL, 1, U8 },
	/* lone surrogates */
	{ "\"\\ud800\"", -EINVAL, 1, SUR },
	{ "\"\\udfff\"", -EINVAL, 1, SUR },
	{ "\"x\\ud83d\"", -EINVAL, 2, SUR },
	{ "\"\\ud800\\u0041\"", -EINVAL, 1, SUR },
	{ "\"\\ud800\\ud800\"", -EINVAL, 1, SUR },
	{ "\"\\ud800\\n\"", -EINVAL, 1, SUR },
	{ "\"\\ude00\\ud83d\"", -EINVAL, 1, SUR },
	/* leading zeros */
	{ "01", -EINVAL, 0, LZ },
	{ "-01", -EINVAL, 1, LZ },
	{ "[00]", -EINVAL, 1, LZ },
	{ "{\"a\":007}", -EINVAL, 5, LZ },
	/* NaN, Infinity, and what no double holds */
	{ "NaN", -EINVAL, 0, NAN_ },
	{ "Infinity", -EINVAL, 0, NAN_ },
	{ "-Infinity", -EINVAL, 0, NAN_ },
	{ "[-NaN]", -EINVAL, 1, NAN_ },
	{ "1e400", -EINVAL, 0, "number too large for a double" },
	{ "[-1.8e308]", -EINVAL, 1, "number too large for a double" },
	/* trailing commas */
	{ "[1,]", -EINVAL, 3, "trailing comma" },
	{ "[1, ]", -EINVAL, 4, "trailing comma" },
	{ "{\"a\":1,}", -EINVAL, 7, "trailing comma" },
	{ "{\"a\":[1,2,],\"b\":1}", -EINVAL, 10, "trailing comma" },
	/* control characters in strings */
	{ "\"a\nb\"", -EINVAL, 2, CTL },
	{ "\"\t\"", -EINVAL, 1, CTL },
	{ "\"\x01\"", -EINVAL, 1, CTL },
	{ "\"\x1f\"", -EINVAL, 1, CTL },
	{ "{\"k\r\":1}", -EINVAL, 3, CTL },
	/* structure */
	{ "{\"a\" 1}", -EINVAL, 5, "expected ':' after a member name" },
	{ "{\"a\"", -EINVAL, 4, "expected ':' after a member name" },
	{ "{1:2}", -EINVAL, 1, "expected a member name (a string)" },
	{ "{'a':2}", -EINVAL, 1, "expected a member name (a string)" },
	{ "{,}", -EINVAL, 1, "expected a member name (a string)" },
	{ "{", -EINVAL, 1, "expected a member name (a string)" },
	{ "{\"a\":}", -EINVAL, 5, V },
	{ "{\"a\":1 \"b\":2}", -EINVAL, 7, "expected ',' or '}' after a member" },
	{ "{\"a\":1", -EINVAL, 6, "expected ',' or '}' after a member" },
	{ "{\"a\":1]", -EINVAL, 6, "expected ',' or '}' after a member" },
	{ "[1 2]", -EINVAL, 3, "expected ',' or ']' after an element" },
	{ "[1", -EINVAL, 2, "expected ',' or ']' after an element" },
	{ "[1}", -EINVAL, 2, "expected ',' or ']' after an element" },
	{ "[", -EINVAL, 1, V },
	{ "[,1]", -EINVAL, 1, V },
	{ "[1,,2]", -EINVAL, 3, V },
	{ "]", -EINVAL, 0, V },
	/* literals */
	{ "tru", -EINVAL, 0, V },
	{ "nul", -EINVAL, 0, V },
	{ "True", -EINVAL, 0, V },
	{ "'a'", -EINVAL, 0, V },
	{ "undefined", -EINVAL, 0, V },
	/* strings */
	{ "\"abc", -EINVAL, 0, "unterminated string" },
	{ "[\"abc\\\"]", -EINVAL, 1, "unterminated string" },
	{ "\"\\", -EINVAL, 1, "unterminated string" },
	{ "\"\\x\"", -EINVAL, 1, "invalid escape in a string" },
	{ "\"\\U0041\"", -EINVAL, 1, "invalid escape in a string" },
	{ "\"\\'\"", -EINVAL, 1, "invalid escape in a string" },
	{ "\"\\u12\"", -EINVAL, 1, "expected four hex digits after \\u" },
	{ "\"\\u12g4\"", -EINVAL, 1, "expected four hex digits after \\u" },
	{ "\"\\u", -EINVAL, 1, "expected four hex digits after \\u" },
	/* numbers */
	{ "-", -EINVAL, 1, "expected a digit after '-'" },
	{ "-a", -EINVAL, 1, "expected a digit after '-'" },
	{ "1.", -EINVAL, 2, "expected a digit after '.'" },
	{ "1.e5", -EINVAL, 2, "expected a digit after '.'" },
	{ "1e", -EINVAL, 2, "expected a digit in the exponent" },
	{ "1e+", -EINVAL, 3, "expected a digit in the exponent" },
	{ "1E-x", -EINVAL, 3, "expected a digit in the exponent" },
	{ ".5", -EINVAL, 0, V },
	{ "+1", -EINVAL, 0, V },
	{ "0x10", -EINVAL, 1, "unexpected text after the value" },
	{ "1.5.", -EINVAL, 3, "unexpected text after the value" },
};

static void test_reject(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		parse_bad(bad[i].in, strlen(bad[i].in), bad[i].err, bad[i].off, bad[i].why);
	/* A NUL byte is a control character, not the end. */
	parse_bad("\"a\0b\"", 5, -EINVAL, 2, CTL);
	parse_bad("1\0", 2, -EINVAL, 1, "unexpected text after the value");
	/* A NULL text with a length reads nothing. */
	parse_bad(NULL, 10, -EINVAL, 0, V);
}

/* Only text[0..len) counts: what lies after it is never read. */
static void test_length_bound(void **state)
{
	const struct pcm_json *v;

	(void)state;
	assert_int_equal(pcm_json_parse(&doc, "123456", 3), 0);
	v = pcm_json_root(&doc);
	assert_int_equal(v->i, 123);
	assert_int_equal(pcm_json_parse(&doc, "[1]]", 3), 0);
	assert_int_equal(pcm_json_root(&doc)->count, 1);
	parse_bad("\"abc\"", 4, -EINVAL, 0, "unterminated string");
	parse_bad("true", 3, -EINVAL, 0, V);
	parse_bad("1e5", 2, -EINVAL, 2, "expected a digit in the exponent");
	parse_bad("\"\\u0041\"", 6, -EINVAL, 1, "expected four hex digits after \\u");
	parse_bad("\"\xc3\xa9\"", 2, -EINVAL, 1, U8);
	parse_bad("\"\\ud83d\\ude00\"", 12, -EINVAL, 1, SUR);
}

/* [0,0,...] with n elements, nested in depth arrays, in a malloc'ed
 * buffer the caller frees. */
static char *array_of(unsigned n)
{
	char *s = malloc(2 * n + 2), *p = s;
	unsigned i;

	assert_non_null(s);
	*p++ = '[';
	for (i = 0; i < n; i++) {
		*p++ = '0';
		*p++ = i + 1 < n ? ',' : ']';
	}
	if (!n)
		*p++ = ']';
	*p = '\0';
	return s;
}

static char *nested(unsigned depth, const char *open, const char *close)
{
	size_t lo = strlen(open), lc = strlen(close);
	char *s = malloc(depth * (lo + lc) + 2), *p = s;
	unsigned i;

	assert_non_null(s);
	for (i = 0; i < depth; i++, p += lo)
		memcpy(p, open, lo);
	*p++ = '1';
	for (i = 0; i < depth; i++, p += lc)
		memcpy(p, close, lc);
	*p = '\0';
	return s;
}

static void test_limits(void **state)
{
	char *s;
	size_t n;

	(void)state;
	/* The array and 511 elements are 512 values. */
	s = array_of(PCM_JSON_MAX_NODES - 1);
	assert_int_equal(parse_ok(s)->count, PCM_JSON_MAX_NODES - 1);
	assert_int_equal(doc.n, PCM_JSON_MAX_NODES);
	free(s);
	s = array_of(PCM_JSON_MAX_NODES);
	parse_bad(s, strlen(s), -E2BIG, 1 + 2 * (PCM_JSON_MAX_NODES - 1),
		  "more values than PCM_JSON_MAX_NODES");
	free(s);
	/* Counted in members too, and before a later syntax error. */
	s = array_of(PCM_JSON_MAX_NODES + 10);
	s[strlen(s) - 1] = ',';
	parse_bad(s, strlen(s), -E2BIG, 1 + 2 * (PCM_JSON_MAX_NODES - 1),
		  "more values than PCM_JSON_MAX_NODES");
	free(s);

	/* 16 containers open at once parse, 17 do not; the offset is the
	 * 17th's bracket. */
	s = nested(PCM_JSON_MAX_DEPTH, "[", "]");
	parse_ok(s);
	assert_int_equal(doc.n, PCM_JSON_MAX_DEPTH + 1);
	assert_int_equal(doc.v[PCM_JSON_MAX_DEPTH].parent, PCM_JSON_MAX_DEPTH - 1);
	free(s);
	s = nested(PCM_JSON_MAX_DEPTH + 1, "[", "]");
	parse_bad(s, strlen(s), -E2BIG, PCM_JSON_MAX_DEPTH, "nested deeper than PCM_JSON_MAX_DEPTH");
	free(s);
	s = nested(PCM_JSON_MAX_DEPTH, "{\"a\":", "}");
	parse_ok(s);
	free(s);
	s = nested(PCM_JSON_MAX_DEPTH + 1, "{\"a\":", "}");
	parse_bad(s, strlen(s), -E2BIG, 5 * PCM_JSON_MAX_DEPTH,
		  "nested deeper than PCM_JSON_MAX_DEPTH");
	free(s);
	/* Deep but closed again: depth is what is open, not what was. */
	parse_ok("[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]],[[[[[[[[[[[[[[[2]]]]]]]]]]]]]]]]");

	/* Text: one string of PCM_JSON_MAX_TEXT - 1 bytes and its NUL fill
	 * it exactly. */
	n = PCM_JSON_MAX_TEXT + 16;
	s = malloc(n);
	assert_non_null(s);
	s[0] = '"';
	memset(s + 1, 'a', PCM_JSON_MAX_TEXT - 1);
	s[PCM_JSON_MAX_TEXT] = '"';
	assert_int_equal(pcm_json_parse(&doc, s, PCM_JSON_MAX_TEXT + 1), 0);
	assert_int_equal(pcm_json_root(&doc)->len, PCM_JSON_MAX_TEXT - 1);
	assert_int_equal(strlen(pcm_json_root(&doc)->str), PCM_JSON_MAX_TEXT - 1);
	assert_int_equal(doc.text_len, PCM_JSON_MAX_TEXT);
	/* One byte more does not fit. */
	s[PCM_JSON_MAX_TEXT] = 'a';
	s[PCM_JSON_MAX_TEXT + 1] = '"';
	parse_bad(s, PCM_JSON_MAX_TEXT + 2, -E2BIG, PCM_JSON_MAX_TEXT,
		  "strings longer in all than PCM_JSON_MAX_TEXT");
	/* Escapes count as what they unescape to: \u00e9 is 2 bytes. */
	memset(s + 1, 'a', PCM_JSON_MAX_TEXT - 3);
	memcpy(s + PCM_JSON_MAX_TEXT - 2, "\\u00e9\"", 7);
	assert_int_equal(pcm_json_parse(&doc, s, PCM_JSON_MAX_TEXT + 5), 0);
	assert_int_equal(doc.text_len, PCM_JSON_MAX_TEXT);
	memcpy(s + PCM_JSON_MAX_TEXT - 2, "\\u20ac\"", 7);
	parse_bad(s, PCM_JSON_MAX_TEXT + 5, -E2BIG, PCM_JSON_MAX_TEXT - 2,
		  "strings longer in all than PCM_JSON_MAX_TEXT");
	free(s);

	/* Member names count as well, NULs included: [{"K":""},""] with a
	 * name K of PCM_JSON_MAX_TEXT - 3 bytes fills it exactly. */
	n = PCM_JSON_MAX_TEXT + 64;
	s = malloc(n);
	assert_non_null(s);
	memcpy(s, "[{\"", 3);
	memset(s + 3, 'k', PCM_JSON_MAX_TEXT - 3);
	memcpy(s + PCM_JSON_MAX_TEXT, "\":\"\"},\"\"]", 9);
	assert_int_equal(pcm_json_parse(&doc, s, PCM_JSON_MAX_TEXT + 9), 0);
	assert_int_equal(doc.text_len, PCM_JSON_MAX_TEXT);
	assert_int_equal(doc.n, 4);
	assert_int_equal(strlen(doc.v[2].key), PCM_JSON_MAX_TEXT - 3);
	assert_int_equal(doc.v[3].len, 0);
	/* One more byte of name: the last "", empty as it is, has no room
	 * for its NUL. */
	memset(s + 3, 'k', PCM_JSON_MAX_TEXT - 2);
	memcpy(s + PCM_JSON_MAX_TEXT + 1, "\":\"\"},\"\"]", 9);
	parse_bad(s, PCM_JSON_MAX_TEXT + 10, -E2BIG, PCM_JSON_MAX_TEXT + 7,
		  "strings longer in all than PCM_JSON_MAX_TEXT");
	free(s);

	/* A number has PCM_JSON_NUM_ROOM - 1 characters whatever the strings
	 * took: ["<full text>",1111...] parses with 31 ones, not with 32. */
	n = PCM_JSON_MAX_TEXT + 64;
	s = malloc(n);
	assert_non_null(s);
	memcpy(s, "[\"", 2);
	memset(s + 2, 'a', PCM_JSON_MAX_TEXT - 1);
	memcpy(s + PCM_JSON_MAX_TEXT + 1, "\",", 2);
	memset(s + PCM_JSON_MAX_TEXT + 3, '1', PCM_JSON_NUM_ROOM);
	s[PCM_JSON_MAX_TEXT + 3 + PCM_JSON_NUM_ROOM - 1] = ']';
	assert_int_equal(pcm_json_parse(&doc, s, PCM_JSON_MAX_TEXT + 3 + PCM_JSON_NUM_ROOM), 0);
	assert_int_equal(doc.text_len, PCM_JSON_MAX_TEXT);
	assert_true(doc.v[2].num == 1111111111111111111111111111111.0);
	s[PCM_JSON_MAX_TEXT + 3 + PCM_JSON_NUM_ROOM - 1] = '1';
	s[PCM_JSON_MAX_TEXT + 3 + PCM_JSON_NUM_ROOM] = ']';
	parse_bad(s, PCM_JSON_MAX_TEXT + 4 + PCM_JSON_NUM_ROOM, -E2BIG, PCM_JSON_MAX_TEXT + 3,
		  "number longer than the text space left");
	/* With the text empty, one of 65000 digits still converts. */
	s[0] = '[';
	memset(s + 1, '1', 65000);
	s[65001] = ']';
	assert_int_equal(pcm_json_parse(&doc, s, 65002), -EINVAL);
	assert_string_equal(doc.why, "number too large for a double");
	s[1] = '0';
	s[2] = '.';
	assert_int_equal(pcm_json_parse(&doc, s, 65002), 0);
	assert_true(doc.v[1].num > 0.111 && doc.v[1].num < 0.112);
	free(s);
}

static const struct pcm_json *number_ok(const char *s)
{
	const struct pcm_json *v = parse_ok(s);

	assert_int_equal(v->type, PCM_JSON_NUMBER);
	return v;
}

static void test_numbers(void **state)
{
	const struct pcm_json *v;
	char *s;

	(void)state;
	v = number_ok("0");
	assert_true(v->is_int);
	assert_int_equal(v->i, 0);
	v = number_ok("-0");
	assert_true(v->is_int);
	assert_int_equal(v->i, 0);
	assert_true(v->num == 0 && signbit(v->num));
	v = number_ok("-123");
	assert_true(v->is_int);
	assert_int_equal(v->i, -123);
	assert_true(v->num == -123.0);

	v = number_ok("9223372036854775807");
	assert_true(v->is_int);
	assert_true(v->i == INT64_MAX);
	v = number_ok("-9223372036854775808");
	assert_true(v->is_int);
	assert_true(v->i == INT64_MIN);
	assert_true(v->num == -9223372036854775808.0);
	/* One past either end: still a number, no longer an int64. */
	v = number_ok("9223372036854775808");
	assert_false(v->is_int);
	assert_int_equal(v->i, 0);
	assert_true(v->num == 9223372036854775808.0);
	v = number_ok("-9223372036854775809");
	assert_false(v->is_int);
	assert_true(v->num == -9223372036854775808.0);
	v = number_ok("18446744073709551616");
	assert_false(v->is_int);
	assert_true(v->num == 18446744073709551616.0);
	v = number_ok("100000000000000000000000000000");
	assert_false(v->is_int);
	assert_true(v->num == 1e29);

	/* A fraction or exponent makes it not an integer, whatever its value. */
	v = number_ok("1.5");
	assert_false(v->is_int);
	assert_true(v->num == 1.5);
	v = number_ok("-0.25");
	assert_true(v->num == -0.25);
	v = number_ok("1.0");
	assert_false(v->is_int);
	assert_true(v->num == 1.0);
	v = number_ok("1e3");
	assert_false(v->is_int);
	assert_true(v->num == 1000.0);
	v = number_ok("1E+2");
	assert_true(v->num == 100.0);
	v = number_ok("2.5e-3");
	assert_true(v->num == 0.0025);
	v = number_ok("0.1");
	assert_true(v->num == 0.1);
	v = number_ok("123456789.123456789e-5");
	assert_true(v->num == 1234.56789123456789);
	v = number_ok("1.7976931348623157e308");
	assert_true(v->num == 1.7976931348623157e308);
	/* Below the smallest double: rounds to 0, which is a value. */
	v = number_ok("1e-400");
	assert_false(v->is_int);
	assert_true(v->num == 0);
	v = number_ok("4.9e-324");
	assert_true(v->num > 0);

	/* Many digits: converted whole, not cut. */
	s = malloc(302);
	assert_non_null(s);
	memset(s, '0', 301);
	s[0] = '1';
	s[301] = '\0';
	v = number_ok(s);
	assert_false(v->is_int);
	assert_true(v->num == 1e300);
	free(s);
}

static void test_numbers_range(void **state)
{
	char *s = malloc(1002);

	(void)state;
	assert_non_null(s);
	memset(s, '0', 1001);
	s[0] = '1';
	s[1001] = '\0';
	parse_bad(s, 1001, -EINVAL, 0, "number too large for a double");
	/* 0.000...01 with 1000 digits: fine, about 1e-1000 rounds to 0. */
	s[0] = '0';
	s[1] = '.';
	s[1000] = '1';
	assert_true(number_ok(s)->num == 0);
	free(s);
}

static void test_strings(void **state)
{
	const struct pcm_json *v;

	(void)state;
	v = parse_ok("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"");
	assert_string_equal(v->str, "\"\\/\b\f\n\r\t");
	assert_int_equal(v->len, 8);

	/* \u into UTF-8: 1, 2, 3 bytes, upper and lower case hex. */
	v = parse_ok("\"\\u0041\\u00e9\\u00E9\\u20ac\\uFFFF\"");
	assert_string_equal(v->str, "A\xc3\xa9\xc3\xa9\xe2\x82\xac\xef\xbf\xbf");
	assert_int_equal(v->len, 11);
	v = parse_ok("\"\\u007f\\u0080\\u07ff\\u0800\"");
	assert_string_equal(v->str, "\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80");
	/* Surrogate pairs into 4 bytes: U+1F600, U+10000, U+10FFFF. */
	v = parse_ok("\"\\ud83d\\ude00\"");
	assert_string_equal(v->str, "\xf0\x9f\x98\x80");
	assert_int_equal(v->len, 4);
	v = parse_ok("\"a\\uD800\\uDC00b\\udbff\\udfff\"");
	assert_string_equal(v->str, "a\xf0\x90\x80\x80" "b\xf4\x8f\xbf\xbf");
	assert_int_equal(v->len, 10);

	/* Raw UTF-8 passes as it is, at each length and edge. */
	v = parse_ok("\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xf0\x90\x80\x80"
		     "\xf4\x8f\xbf\xbf\"");
	assert_int_equal(v->len, 21);
	assert_memory_equal(v->str, "\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80"
			    "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf", 22);

	/* Keys unescape the same way. */
	v = parse_ok("{\"\\ud83d\\ude00\\n\":true}");
	assert_string_equal(pcm_json_first(&doc, v)->key, "\xf0\x9f\x98\x80\n");
	assert_null(pcm_json_first(&doc, v)->str);
}

/* ---- writer ---- */

static void expect_out(struct pcm_jw *w, const char *want)
{
	long n = pcm_jw_finish(w);

	if (n < 0)
		fail_msg("writer failed: %ld (want '%s')", n, want);
	if ((size_t)n != strlen(want) || strcmp(w->buf, want))
		fail_msg("writer wrote '%s' (%ld), want '%s'", w->buf, n, want);
}

static void test_writer_exact(void **state)
{
	static const char want[] =
		"{\"op\":\"migrate\",\"pages\":4096,\"delta\":-5,\"ratio\":0.5,\"ok\":true,"
		"\"bad\":false,\"err\":null,\"list\":[1,\"a\",{},[],null,2.25]}";
	struct pcm_jw w;
	char buf[256];

	(void)state;
	pcm_jw_init(&w, buf, sizeof(buf));
	pcm_jw_obj(&w, NULL);
	pcm_jw_str(&w, "op", "migrate");
	pcm_jw_u64(&w, "pages", 4096);
	pcm_jw_i64(&w, "delta", -5);
	pcm_jw_num(&w, "ratio", 0.5);
	pcm_jw_bool(&w, "ok", true);
	pcm_jw_bool(&w, "bad", false);
	pcm_jw_null(&w, "err");
	pcm_jw_arr(&w, "list");
	pcm_jw_u64(&w, NULL, 1);
	pcm_jw_str(&w, NULL, "a");
	pcm_jw_obj(&w, NULL);
	pcm_jw_end(&w);
	pcm_jw_arr(&w, NULL);
	pcm_jw_end(&w);
	pcm_jw_str(&w, NULL, NULL);
	pcm_jw_num(&w, NULL, 2.25);
	pcm_jw_end(&w);
	pcm_jw_end(&w);
	expect_out(&w, want);

	/* A scalar alone is a JSON text too. */
	pcm_jw_init(&w, buf, sizeof(buf));
	pcm_jw_u64(&w, NULL, UINT64_MAX);
	expect_out(&w, "18446744073709551615");
	pcm_jw_init(&w, buf, sizeof(buf));
	pcm_jw_i64(&w, NULL, INT64_MIN);
	expect_out(&w, "-9223372036854775808");
	pcm_jw_init(&w, buf, sizeof(buf));
	pcm_jw_i64(&w, NULL, INT64_MAX);
	expect_out(&w, "9223372036854775807");
	pcm_jw_init(&w, buf, sizeof(buf));
	pcm_jw_i64(&w, NULL, 0);
	expect_out(&w, "0");
	pcm_jw_init(&w, buf, sizeof(buf));
	pcm_jw_str(&w, NULL, "");
	expect_out(&w, "\"\"");
	pcm_jw_init(&w, buf, sizeof(buf));
	pcm_jw_obj(&w, NULL);
	pcm_jw_end(&w);
	expect_out(&w, "{}");
}

static void num_out(double v, const char *want)
{
	struct pcm_jw w;
	char buf[64];

	pcm_jw_init(&w, buf, sizeof(buf));
	pcm_jw_num(&w, NULL, v);
	expect_out(&w, want);
}

static void test_writer_numbers(void **state)
{
	(void)state;
	num_out(0, "0");
	num_out(-0.0, "-0");
	num_out(1, "1");
	num_out(100, "100");
	num_out(0.1, "0.1");
	num_out(-2.5, "-2.5");
	num_out(1e300, "1e+300");
	num_out(1e-300, "1e-300");
	/* 16 digits are enough for a third, 17 needed for 0.1 + 0.2. */
	num_out(1.0 / 3, "0.3333333333333333");
	num_out(0.1 + 0.2, "0.30000000000000004");
	num_out(123456789012345680.0, "1.2345678901234568e+17");
	/* Shortest of 15 to 17 digits, not shortest of all (5e-324). */
	num_out(4.9406564584124654e-324, "4.94065645841247e-324");
	num_out(1.7976931348623157e308, "1.7976931348623157e+308");
	num_out(NAN, "null");
	num_out(INFINITY, "null");
	num_out(-INFINITY, "null");
}

static void test_writer_escape(void **state)
{
	struct pcm_jw w;
	char buf[256];

	(void)state;
	pcm_jw_init(&w, buf, sizeof(buf));
	pcm_jw_str(&w, NULL, "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f\xc3\xa9\xff end");
	expect_out(&w, "\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\xc3\xa9\xff end\"");

	/* Member names are escaped the same way. */
	pcm_jw_init(&w, buf, sizeof(buf));
	pcm_jw_obj(&w, NULL);
	pcm_jw_str(&w, "k\"\n\x10", "v");
	pcm_jw_end(&w);
	expect_out(&w, "{\"k\\\"\\n\\u0010\":\"v\"}");
}

static void test_writer_nospc(void **state)
{
	static const char want[] = "{\"a\":[1,\"xy\\n\"],\"b\":true}";
	struct pcm_jw w;
	char buf[64];
	size_t cap;

	(void)state;
	/* Every capacity short of the text and its NUL fails; the first
	 * that holds both succeeds. */
	for (cap = 0; cap <= sizeof(want); cap++) {
		long r;

		memset(buf, 'Z', sizeof(buf));
		pcm_jw_init(&w, cap ? buf : NULL, cap);
		pcm_jw_obj(&w, NULL);
		pcm_jw_arr(&w, "a");
		pcm_jw_u64(&w, NULL, 1);
		pcm_jw_str(&w, NULL, "xy\n");
		pcm_jw_end(&w);
		pcm_jw_bool(&w, "b", true);
		pcm_jw_end(&w);
		r = pcm_jw_finish(&w);
		if (cap < sizeof(want)) {
			assert_int_equal(r, -ENOSPC);
			/* What is there is a terminated prefix, inside cap. */
			if (cap) {
				assert_non_null(memchr(buf, '\0', cap));
				assert_memory_equal(buf, want, strlen(buf));
			}
			assert_int_equal(buf[cap], 'Z');
		} else {
			assert_int_equal(r, (long)strlen(want));
			assert_string_equal(buf, want);
		}
	}
	/* A NULL buffer holds nothing, whatever cap says. */
	pcm_jw_init(&w, NULL, 100);
	pcm_jw_null(&w, NULL);
	assert_int_equal(pcm_jw_finish(&w), -ENOSPC);
}

static void test_writer_misuse(void **state)
{
	struct pcm_jw w;
	char buf[128];
	unsigned i;

	(void)state;
	/* A key in an array, none in an object, one at the top. */
	pcm_jw_init(&w, buf, sizeof(buf));
	pcm_jw_arr(&w, NULL);
	pcm_jw_u64(&w, "k", 1);
	pcm_jw_end(&w);
	assert_int_equal(pcm_jw_finish(&w), -EINVAL);
	pcm_jw_init(&w, buf, sizeof(buf));
	pcm_jw_obj(&w, NULL);
	pcm_jw_u64(&w, NULL, 1);
	pcm_jw_end(&w);
	assert_int_equal(pcm_jw_finish(&w), -EINVAL);
	pcm_jw_init(&w, buf, sizeof(buf));
	pcm_jw_obj(&w, "top");
	pcm_jw_end(&w);
	assert_int_equal(pcm_jw_finish(&w), -EINVAL);
	/* A key inside an array inside an object: the array decides. */
	pcm_jw_init(&w, buf, sizeof(buf));
	pcm_jw_obj(&w, NULL);
	pcm_jw_arr(&w, "a");
	pcm_jw_obj(&w, "x");
	pcm_jw_end(&w);
	pcm_jw_end(&w);
	pcm_jw_end(&w);
	assert_int_equal(pcm_jw_finish(&w), -EINVAL);
	/* ... and after that array closes, the object wants keys again. */
	pcm_jw_init(&w, buf, sizeof(buf));
	pcm_jw_obj(&w, NULL);
	pcm_jw_arr(&w, "a");
	pcm_jw_end(&w);
	pcm_jw_null(&w, NULL);
	pcm_jw_end(&w);
	assert_int_equal(pcm_jw_finish(&w), -EINVAL);

	/* Unbalanced either way. */
	pcm_jw_init(&w, buf, sizeof(buf));
	pcm_jw_obj(&w, NULL);
	assert_int_equal(pcm_jw_finish(&w), -EINVAL);
	pcm_jw_init(&w, buf, sizeof(buf));
	pcm_jw_arr(&w, NULL);
	pcm_jw_end(&w);
	pcm_jw_end(&w);
	assert_int_equal(pcm_jw_finish(&w), -EINVAL);
	pcm_jw_init(&w, buf, sizeof(buf));
	pcm_jw_end(&w);
	assert_int_equal(pcm_jw_finish(&w), -EINVAL);
	/* Nothing at all, or two values at the top. */
	pcm_jw_init(&w, buf, sizeof(buf));
	assert_int_equal(pcm_jw_finish(&w), -EINVAL);
	pcm_jw_init(&w, buf, sizeof(buf));
	pcm_jw_u64(&w, NULL, 1);
	pcm_jw_u64(&w, NULL, 2);
	assert_int_equal(pcm_jw_finish(&w), -EINVAL);
	pcm_jw_init(&w, buf, sizeof(buf));
	pcm_jw_obj(&w, NULL);
	pcm_jw_end(&w);
	pcm_jw_obj(&w, NULL);
	pcm_jw_end(&w);
	assert_int_equal(pcm_jw_finish(&w), -EINVAL);

	/* As deep as the parser takes, and no deeper. */
	pcm_jw_init(&w, buf, sizeof(buf));
	for (i = 0; i < PCM_JSON_MAX_DEPTH; i++)
		pcm_jw_arr(&w, NULL);
	for (i = 0; i < PCM_JSON_MAX_DEPTH; i++)
		pcm_jw_end(&w);
	assert_int_equal(pcm_jw_finish(&w), 2 * PCM_JSON_MAX_DEPTH);
	assert_int_equal(pcm_json_parse(&doc, buf, 2 * PCM_JSON_MAX_DEPTH), 0);
	pcm_jw_init(&w, buf, sizeof(buf));
	for (i = 0; i <= PCM_JSON_MAX_DEPTH; i++)
		pcm_jw_arr(&w, NULL);
	for (i = 0; i <= PCM_JSON_MAX_DEPTH; i++)
		pcm_jw_end(&w);
	assert_int_equal(pcm_jw_finish(&w), -EINVAL);

	/* The first error sticks: -ENOSPC then misuse is still -ENOSPC. */
	pcm_jw_init(&w, buf, 4);
	pcm_jw_str(&w, NULL, "long enough");
	pcm_jw_end(&w);
	assert_int_equal(pcm_jw_finish(&w), -ENOSPC);
	pcm_jw_init(&w, buf, sizeof(buf));
	pcm_jw_end(&w);
	pcm_jw_u64(&w, NULL, 1);
	assert_int_equal(pcm_jw_finish(&w), -EINVAL);
}

static void test_round_trip(void **state)
{
	static char buf[4096];
	char all[160];
	const struct pcm_json *r, *v;
	struct pcm_jw w;
	long n;
	int i;

	(void)state;
	/* Every byte from 1 to 0x7f, then some UTF-8. */
	for (i = 1; i < 0x80; i++)
		all[i - 1] = (char)i;
	memcpy(all + 0x7f, "\xc3\xa9\xf0\x9f\x98\x80", 7);

	pcm_jw_init(&w, buf, sizeof(buf));
	pcm_jw_obj(&w, NULL);
	pcm_jw_str(&w, all, all);
	pcm_jw_i64(&w, "min", INT64_MIN);
	pcm_jw_i64(&w, "max", INT64_MAX);
	pcm_jw_u64(&w, "big", UINT64_MAX);
	pcm_jw_num(&w, "third", 1.0 / 3);
	pcm_jw_num(&w, "tiny", 5e-324);
	pcm_jw_num(&w, "nan", NAN);
	pcm_jw_arr(&w, "a");
	pcm_jw_bool(&w, NULL, false);
	pcm_jw_obj(&w, NULL);
	pcm_jw_null(&w, "z");
	pcm_jw_end(&w);
	pcm_jw_end(&w);
	pcm_jw_end(&w);
	n = pcm_jw_finish(&w);
	assert_true(n > 0);

	assert_int_equal(pcm_json_parse(&doc, buf, (size_t)n), 0);
	r = pcm_json_root(&doc);
	assert_int_equal(r->count, 8);
	v = pcm_json_get(&doc, r, all);
	assert_non_null(v);
	assert_string_equal(v->str, all);
	assert_int_equal(v->len, strlen(all));
	v = pcm_json_get(&doc, r, "min");
	assert_true(v->is_int && v->i == INT64_MIN);
	v = pcm_json_get(&doc, r, "max");
	assert_true(v->is_int && v->i == INT64_MAX);
	/* Beyond int64: a number still, exact as a double. */
	v = pcm_json_get(&doc, r, "big");
	assert_false(v->is_int);
	assert_true(v->num == 18446744073709551615.0);
	v = pcm_json_get(&doc, r, "third");
	assert_true(v->num == 1.0 / 3);
	v = pcm_json_get(&doc, r, "tiny");
	assert_true(v->num == 5e-324);
	assert_int_equal(pcm_json_get(&doc, r, "nan")->type, PCM_JSON_NULL);
	v = pcm_json_get(&doc, r, "a");
	assert_int_equal(v->count, 2);
	v = pcm_json_next(&doc, pcm_json_first(&doc, v));
	assert_int_equal(pcm_json_get(&doc, v, "z")->type, PCM_JSON_NULL);
}

/* ---- the fuzz target's inputs ---- */

static const char *fuzz_dir(void)
{
	const char *d = getenv("PCM_FUZZ_DIR");

	return d && *d ? d : "tests/fuzz";
}

static int not_dot(const struct dirent *e)
{
	return e->d_name[0] != '.' && strcmp(e->d_name, "README");
}

/* Every file of fuzz_dir()/sub/json through fuzz_json_one; -1 when the
 * folder is missing. */
static int replay_dir(const char *sub)
{
	struct dirent **names;
	char dir[4096];
	int n, i, done = 0;

	snprintf(dir, sizeof(dir), "%s/%s/json", fuzz_dir(), sub);
	n = scandir(dir, &names, not_dot, alphasort);
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++) {
		static char in[1 << 20];
		char path[4400];
		size_t len;
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		free(names[i]);
		f = fopen(path, "rb");
		if (!f)
			continue;
		len = fread(in, 1, sizeof(in), f);
		fclose(f);
		assert_int_equal(fuzz_json_one((const uint8_t *)in, len), 0);
		done++;
	}
	free(names);
	return done;
}

static void test_fuzz_inputs(void **state)
{
	int seeds, found;

	(void)state;
	seeds = replay_dir("corpus");
	if (seeds <= 0)
		fail_msg("no seeds in %s/corpus/json (run from the project root)", fuzz_dir());
	found = replay_dir("regress");
	print_message("      json: %d seeds, %d regression inputs\n", seeds, found < 0 ? 0 : found);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_reject),
		cmocka_unit_test(test_length_bound),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_numbers_range),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_writer_exact),
		cmocka_unit_test(test_writer_numbers),
		cmocka_unit_test(test_writer_escape),
		cmocka_unit_test(test_writer_nospc),
		cmocka_unit_test(test_writer_misuse),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_fuzz_inputs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
