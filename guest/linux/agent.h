/* guest/linux/agent.h - what pcm-agent checks and says, without its I/O.
 *
 * The in-guest agent (guest/linux/agent.c) keeps RAM pages and disk blocks
 * whose every word follows from (index, generation), so a reader needs no
 * copy to check them; it parses its options and prints its status lines
 * with the helpers here. All of it is pure (no I/O, no globals), so the
 * unit test (tests/unit/test_agent.c) runs it on the host, and a host
 * that reads the guest's console can parse the lines with
 * agent_parse_line() (guest/ headers are readable by every host folder).
 *
 * Page (4 KiB, 512 words):  w[0] = AGENT_PAGE_MAGIC ^ page, w[1] = gen,
 *                            w[i] = base + i * GOLDEN, base = f(page, gen).
 * Block (4 KiB, 512 words): w[0] = AGENT_BLOCK_MAGIC, w[1] = block,
 *                            w[2] = gen, w[3] = checksum of the other 511
 *                            words, w[4..] = base + i * GOLDEN.
 * A block's checksum lets anyone check an image without the generation
 * table (a word-wise FNV-1a-like chain closed with mix64).
 *
 * The console lines are specified in agent.c's header.
 */
#ifndef GUEST_LINUX_AGENT_H
#define GUEST_LINUX_AGENT_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guest/rng.h"

#define AGENT_PAGE        4096u
#define AGENT_WORDS       (AGENT_PAGE / 8)
#define AGENT_PAGE_MAGIC  0x45474150544e4741ull   /* "AGNTPAGE" */
#define AGENT_BLOCK_MAGIC 0x4b434c42544e4741ull   /* "AGNTBLCK" */
#define AGENT_PREFIX      "PCM-AGENT: "

/* Block check results (0 is good). */
enum agent_bad {
	AGENT_OK = 0,
	AGENT_BAD_MAGIC,      /* not one of our blocks (or never written) */
	AGENT_BAD_INDEX,      /* another block's contents (misdirected I/O) */
	AGENT_BAD_GEN,        /* an older or newer write (lost write) */
	AGENT_BAD_SUM,        /* the checksum does not hold (torn/corrupt) */
	AGENT_BAD_DATA,       /* checksum holds, pattern does not */
};

/* ------------------------------------------------------------ patterns -- */

static inline uint64_t agent_base(uint64_t index, uint64_t gen, uint64_t salt)
{
	return mix64(index * GUEST_GOLDEN ^ (gen << 40) ^ (gen >> 24) ^ salt);
}

static inline void agent_page_fill(uint64_t *w, uint64_t page, uint64_t gen)
{
	uint64_t base = agent_base(page, gen, AGENT_PAGE_MAGIC);

	w[0] = AGENT_PAGE_MAGIC ^ page;
	w[1] = gen;
	for (size_t i = 2; i < AGENT_WORDS; i++)
		w[i] = base + i * GUEST_GOLDEN;
}

/* -1 if the page holds (page, gen), else the index of the first bad word. */
static inline long agent_page_check(const uint64_t *w, uint64_t page, uint64_t gen)
{
	uint64_t base = agent_base(page, gen, AGENT_PAGE_MAGIC);

	if (w[0] != (AGENT_PAGE_MAGIC ^ page))
		return 0;
	if (w[1] != gen)
		return 1;
	for (size_t i = 2; i < AGENT_WORDS; i++)
		if (w[i] != base + i * GUEST_GOLDEN)
			return (long)i;
	return -1;
}

/* The block checksum: every word but w[3] (the checksum itself). */
static inline uint64_t agent_block_sum(const uint64_t *w)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < AGENT_WORDS; i++) {
		if (i == 3)
			continue;
		h = (h ^ w[i]) * 0x100000001b3ull;
		h ^= h >> 29;
	}
	return mix64(h);
}

static inline void agent_block_fill(uint64_t *w, uint64_t block, uint64_t gen)
{
	uint64_t base = agent_base(block, gen, AGENT_BLOCK_MAGIC);

	w[0] = AGENT_BLOCK_MAGIC;
	w[1] = block;
	w[2] = gen;
	for (size_t i = 4; i < AGENT_WORDS; i++)
		w[i] = base + i * GUEST_GOLDEN;
	w[3] = agent_block_sum(w);
}

/* Is w block `block` at generation `gen`? The checksum is checked before
 * the generation, so a torn write says so rather than "wrong gen". */
static inline enum agent_bad agent_block_check(const uint64_t *w, uint64_t block, uint64_t gen)
{
	uint64_t base = agent_base(block, gen, AGENT_BLOCK_MAGIC);

	if (w[0] != AGENT_BLOCK_MAGIC)
		return AGENT_BAD_MAGIC;
	if (w[3] != agent_block_sum(w))
		return AGENT_BAD_SUM;
	if (w[1] != block)
		return AGENT_BAD_INDEX;
	if (w[2] != gen)
		return AGENT_BAD_GEN;
	for (size_t i = 4; i < AGENT_WORDS; i++)
		if (w[i] != base + i * GUEST_GOLDEN)
			return AGENT_BAD_DATA;
	return AGENT_OK;
}

static inline const char *agent_bad_name(enum agent_bad b)
{
	static const char *const names[] = { "ok", "magic", "index", "gen", "sum", "data" };

	return (unsigned)b < sizeof(names) / sizeof(names[0]) ? names[b] : "?";
}

/* ------------------------------------------------------------- options -- */

struct agent_opts {
	uint64_t mem_mib;      /* --mem: RAM to fill and check            (64) */
	const char *disk;      /* --disk: block device or file          (none) */
	uint64_t offset_mib;   /* --offset: where on the disk blocks start (0) */
	uint64_t disk_mib;     /* --disk-mib: blocks' span, 0 = to the end (0) */
	uint64_t period_ms;    /* --period-ms: status line period        (100) */
	uint64_t seconds;      /* --seconds: mix time, 0 = until SIGTERM   (0) */
	uint64_t kv_permille;  /* --kv-permille: writes per 1000 RAM ops (300) */
	uint64_t disk_every;   /* --disk-every: one disk op per N ops     (32) */
	uint64_t seed;         /* --seed: the random stream                (1) */
};

#define AGENT_USAGE \
	"usage: pcm-agent [--mem MIB] [--disk DEV] [--offset MIB] [--disk-mib MIB]\n" \
	"                 [--period-ms MS] [--seconds N] [--kv-permille W]\n" \
	"                 [--disk-every N] [--seed S]\n"

static inline void agent_opts_default(struct agent_opts *o)
{
	*o = (struct agent_opts){ .mem_mib = 64, .period_ms = 100, .kv_permille = 300,
				  .disk_every = 32, .seed = 1 };
}

/* One numeric option; its bounds say what a sane run takes. */
struct agent_num_opt {
	const char *name;
	size_t off;
	uint64_t min, max;
};

static inline int agent_num(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end || errno || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Parse argv[1..]: "--name VALUE" or "--name=VALUE". 0, or -1 with a line
 * in err saying what was wrong. --disk keeps a pointer into argv. */
static inline int agent_parse_args(int argc, char **argv, struct agent_opts *o,
				   char *err, size_t errlen)
{
	static const struct agent_num_opt nums[] = {
		{ "mem",         offsetof(struct agent_opts, mem_mib),     1, 1u << 20 },
		{ "offset",      offsetof(struct agent_opts, offset_mib),  0, 1u << 30 },
		{ "disk-mib",    offsetof(struct agent_opts, disk_mib),    0, 1u << 30 },
		{ "period-ms",   offsetof(struct agent_opts, period_ms),   1, 3600000 },
		{ "seconds",     offsetof(struct agent_opts, seconds),     0, 1u << 30 },
		{ "kv-permille", offsetof(struct agent_opts, kv_permille), 0, 1000 },
		{ "disk-every",  offsetof(struct agent_opts, disk_every),  1, 1u << 30 },
		{ "seed",        offsetof(struct agent_opts, seed),        0, UINT64_MAX },
	};

	agent_opts_default(o);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val, *eq;
		size_t len;
		size_t k;

		if (strncmp(a, "--", 2)) {
			snprintf(err, errlen, "unexpected argument '%s'", a);
			return -1;
		}
		a += 2;
		eq = strchr(a, '=');
		len = eq ? (size_t)(eq - a) : strlen(a);
		if (eq)
			val = eq + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		else {
			snprintf(err, errlen, "--%s needs a value", a);
			return -1;
		}
		if (len == 4 && !strncmp(a, "disk", 4)) {
			if (!*val) {
				snprintf(err, errlen, "--disk needs a device");
				return -1;
			}
			o->disk = val;
			continue;
		}
		for (k = 0; k < sizeof(nums) / sizeof(nums[0]); k++)
			if (strlen(nums[k].name) == len && !strncmp(a, nums[k].name, len))
				break;
		if (k == sizeof(nums) / sizeof(nums[0])) {
			snprintf(err, errlen, "unknown option --%.*s", (int)len, a);
			return -1;
		}
		if (agent_num(val, nums[k].min, nums[k].max,
			      (uint64_t *)((char *)o + nums[k].off))) {
			snprintf(err, errlen, "--%s: '%s' is not a number in %llu..%llu", nums[k].name,
				 val, (unsigned long long)nums[k].min, (unsigned long long)nums[k].max);
			return -1;
		}
	}
	return 0;
}

/* -------------------------------------------------------- status lines -- */

enum agent_line {
	AGENT_LINE_NONE = 0,   /* not an agent line */
	AGENT_LINE_START,
	AGENT_LINE_STATUS,
	AGENT_LINE_DONE,
	AGENT_LINE_OTHER,      /* an agent line of another kind (an error) */
};

/* What a status or done line says. ram_bad/disk_bad: -1 ok, else the
 * first bad page/block; has_disk 0 means disk=none. */
struct agent_status {
	uint64_t t_ms;         /* status lines only */
	uint64_t ops;
	uint64_t max_gap_us;
	uint64_t gap_us;       /* status lines only */
	int64_t ram_bad;
	int64_t disk_bad;
	int has_disk;
};

static inline int agent_fmt_check(char *buf, size_t n, const char *key, int present, int64_t bad)
{
	if (!present)
		return snprintf(buf, n, " %s=none", key);
	if (bad < 0)
		return snprintf(buf, n, " %s=ok", key);
	return snprintf(buf, n, " %s=BAD(%lld)", key, (long long)bad);
}

/* The longest line agent_format can make (every number at its widest). */
#define AGENT_LINE_MAX 256

/* The line (with its newline) for kind STATUS or DONE into buf; its
 * length, or -1 if it does not fit in n (nothing is ever cut). */
static inline int agent_format(char *buf, size_t n, enum agent_line kind,
			       const struct agent_status *s)
{
	char t[AGENT_LINE_MAX];
	int len;

	if (kind == AGENT_LINE_DONE)
		len = snprintf(t, sizeof(t), AGENT_PREFIX "done ops=%llu max_gap_us=%llu",
			       (unsigned long long)s->ops, (unsigned long long)s->max_gap_us);
	else
		len = snprintf(t, sizeof(t), AGENT_PREFIX "t=%llu ops=%llu max_gap_us=%llu gap_us=%llu",
			       (unsigned long long)s->t_ms, (unsigned long long)s->ops,
			       (unsigned long long)s->max_gap_us, (unsigned long long)s->gap_us);
	len += agent_fmt_check(t + len, sizeof(t) - len, "ram", 1, s->ram_bad);
	len += agent_fmt_check(t + len, sizeof(t) - len, "disk", s->has_disk, s->disk_bad);
	t[len++] = '\n';
	if ((size_t)len >= n)
		return -1;
	memcpy(buf, t, (size_t)len);
	buf[len] = 0;
	return len;
}

/* "ok" | "none" | "BAD(<n>)" after key=; -1 if malformed. */
static inline int agent_parse_check(const char *v, size_t len, int *present, int64_t *bad)
{
	uint64_t n;
	char num[24];

	*present = 1;
	*bad = -1;
	if (len == 2 && !strncmp(v, "ok", 2))
		return 0;
	if (len == 4 && !strncmp(v, "none", 4)) {
		*present = 0;
		return 0;
	}
	if (len < 6 || len - 5 >= sizeof(num) || strncmp(v, "BAD(", 4) || v[len - 1] != ')')
		return -1;
	memcpy(num, v + 4, len - 5);
	num[len - 5] = 0;
	if (agent_num(num, 0, INT64_MAX, &n))
		return -1;
	*bad = (int64_t)n;
	return 0;
}

/* One key=value word into s; which keys were seen go into *seen (bits in
 * the order t ops max_gap_us gap_us ram disk). Unknown keys are skipped,
 * so a later agent may add some at the end. */
static inline int agent_parse_word(const char *w, size_t len, struct agent_status *s,
				   unsigned *seen)
{
	static const char *const keys[] = { "t", "ops", "max_gap_us", "gap_us", "ram", "disk" };
	uint64_t *nums[] = { &s->t_ms, &s->ops, &s->max_gap_us, &s->gap_us };
	const char *eq = memchr(w, '=', len);
	char num[24];
	size_t klen, vlen;
	int present;

	if (!eq)
		return -1;
	klen = (size_t)(eq - w);
	vlen = len - klen - 1;
	for (unsigned k = 0; k < 6; k++) {
		if (strlen(keys[k]) != klen || strncmp(w, keys[k], klen))
			continue;
		*seen |= 1u << k;
		if (k == 4)
			return agent_parse_check(eq + 1, vlen, &present, &s->ram_bad) || !present ? -1 : 0;
		if (k == 5)
			return agent_parse_check(eq + 1, vlen, &s->has_disk, &s->disk_bad);
		if (vlen == 0 || vlen >= sizeof(num))
			return -1;
		memcpy(num, eq + 1, vlen);
		num[vlen] = 0;
		return agent_num(num, 0, UINT64_MAX, nums[k]);
	}
	return 0;
}

/* Which kind of line `line` is (a console line: anything before the
 * prefix, e.g. a CR or another line's remains, is skipped; it ends at
 * NUL, CR or LF), and for STATUS and DONE what it says. A STATUS or DONE
 * line missing a key, or with a bad value, is AGENT_LINE_OTHER. */
static inline enum agent_line agent_parse_line(const char *line, struct agent_status *s)
{
	const char *p = strstr(line, AGENT_PREFIX);
	enum agent_line kind;
	unsigned seen = 0, need;

	if (!p)
		return AGENT_LINE_NONE;
	p += strlen(AGENT_PREFIX);
	memset(s, 0, sizeof(*s));
	if (!strncmp(p, "start", 5) && (p[5] == ' ' || !p[5] || p[5] == '\r' || p[5] == '\n'))
		return AGENT_LINE_START;
	if (!strncmp(p, "done ", 5)) {
		kind = AGENT_LINE_DONE;
		need = 0x36;   /* ops max_gap_us ram disk */
		p += 5;
	} else if (!strncmp(p, "t=", 2)) {
		kind = AGENT_LINE_STATUS;
		need = 0x3f;
	} else {
		return AGENT_LINE_OTHER;
	}
	while (*p && *p != '\r' && *p != '\n') {
		size_t len = strcspn(p, " \r\n");

		if (len && agent_parse_word(p, len, s, &seen))
			return AGENT_LINE_OTHER;
		p += len;
		while (*p == ' ')
			p++;
	}
	return (seen & need) == need ? kind : AGENT_LINE_OTHER;
}

/* Did every check the line reports pass? */
static inline int agent_status_ok(const struct agent_status *s)
{
	return s->ram_bad < 0 && s->disk_bad < 0;
}

#endif
