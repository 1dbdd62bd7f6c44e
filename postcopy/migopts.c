/* postcopy/migopts.c - the migration options' table and what is made of
 * it (migopts.h). Values keep the unit of their field: the command line
 * takes seconds and sizes with suffixes, JSON carries milliseconds and
 * bytes, so each kind below says how its text reads. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "lib/parse.h"
#include "postcopy/auth.h"
#include "postcopy/migopts.h"
#include "postcopy/migrate.h"

enum migopt_kind {
	MOK_MODE,        /* enum pm_mode: postcopy, precopy, hybrid */
	MOK_COUNT,       /* uint32_t, 1..max */
	MOK_SECONDS32,   /* uint32_t ms; text: seconds with fractions, up to max s */
	MOK_SECONDS,     /* int ms; text: seconds with fractions, up to max s */
	MOK_RATE,        /* uint64_t bytes/s, above 0; text: a size */
	MOK_FLAG,        /* bool; no argument on the command line */
	MOK_PATH,        /* char[256]; made absolute (the VM's process may run elsewhere) */
};

struct migopt {
	const char *name;     /* --name */
	const char *key;      /* JSON member */
	enum migopt_kind kind;
	const char *arg;      /* the argument's name in --help; NULL for a flag */
	uint64_t max;
	size_t off;           /* in struct migrate_opts */
	const char *help;     /* lines, '\n' between them */
	/* The session's options receive takes too (the same name, kind and
	 * bounds; a key file is loaded, not kept as a path): their field in
	 * struct receive_opts and their --help there. NULL: migrate's only. */
	size_t roff;
	const char *rhelp;
};

#define OFF(f) offsetof(struct migrate_opts, f)
#define ROFF(f) offsetof(struct receive_opts, f)
#define MIGRATE_ONLY 0, NULL

static const struct migopt migopts[MIGOPT_COUNT] = {
	{ "mode", "mode", MOK_MODE, "MODE", 0, OFF(mode),
	  "postcopy (default), precopy, or hybrid", MIGRATE_ONLY },
	{ "max-downtime", "max_downtime_ms", MOK_COUNT, "MS", 3600000, OFF(pc.max_downtime_ms),
	  "precopy: stop-and-copy once the rest would cross\n"
	  "in MS at the last round's rate (default 300)",
	  MIGRATE_ONLY },
	{ "max-rounds", "max_rounds", MOK_COUNT, "N", 10000, OFF(pc.max_rounds),
	  "precopy: give up converging after N rounds (30)",
	  MIGRATE_ONLY },
	{ "precopy-rounds", "precopy_rounds", MOK_COUNT, "N", 10000, OFF(pc.rounds),
	  "hybrid: pre-copy rounds before post-copy (1)",
	  MIGRATE_ONLY },
	{ "precopy-seconds", "precopy_seconds_ms", MOK_SECONDS32, "S", 86400, OFF(pc.seconds_ms),
	  "hybrid: or pre-copy for S seconds",
	  MIGRATE_ONLY },
	{ "max-bandwidth", "max_bandwidth", MOK_RATE, "RATE", 0, OFF(pc.max_bandwidth),
	  "cap the background stream (pre-copy rounds and the\n"
	  "post-copy pusher) at RATE bytes/s, e.g. 100M;\n"
	  "page replies to faulting vCPUs are never capped",
	  MIGRATE_ONLY },
	{ "verify-ram", "verify_ram", MOK_FLAG, NULL, 0, OFF(verify_ram),
	  "precopy: before resuming, the destination compares\n"
	  "a digest of all guest RAM with the source's at the\n"
	  "pause (proves the dirty tracking; adds to downtime)",
	  MIGRATE_ONLY },
	{ "psk-file", "psk_file", MOK_PATH, "FILE", 0, OFF(psk_file),
	  "prove to the destination that both hold the key in\n"
	  "FILE (mode 600, 16+ bytes) before any VM data flows",
	  ROFF(key), "accept only a source that proves it holds the key\n"
	  "in FILE (mode 600, 16+ bytes); required when ADDR\n"
	  "is not loopback, unless --insecure" },
	{ "encrypt", "encrypt", MOK_FLAG, NULL, 0, OFF(encrypt),
	  "with --psk-file: seal all three channels (AES-256-GCM\n"
	  "with AES-NI, else XChaCha20-Poly1305)",
	  ROFF(encrypt), "accept only sources that seal all three channels\n"
	  "(migrate --encrypt); needs --psk-file" },
	{ "link-timeout", "link_timeout_ms", MOK_SECONDS, "SECONDS", 3600, OFF(link_timeout_ms),
	  "once the destination runs the VM, silence this long\n"
	  "counts as a broken link (5)",
	  ROFF(link_timeout_ms), "once the VM runs here, a source silent this long\n"
	  "counts as a broken link (5)" },
	{ "recover-timeout", "recover_timeout_ms", MOK_SECONDS, "SECONDS", 86400,
	  OFF(recover_timeout_ms),
	  "after a broken link, keep reconnecting this long\n"
	  "(600); `postcopy-move recover NAME` retries now",
	  ROFF(recover_timeout_ms), "after a broken link the VM runs on and waits this\n"
	  "long for the source to reconnect (600)" },
};

#define HELP_COL 25

unsigned migopts_getopt(struct option *out)
{
	for (unsigned i = 0; i < MIGOPT_COUNT; i++)
		out[i] = (struct option){ migopts[i].name,
					  migopts[i].arg ? required_argument : no_argument,
					  NULL, MIGOPT_CODE + (int)i };
	return MIGOPT_COUNT;
}

static void help_one(FILE *f, const struct migopt *m, const char *h)
{
	int w = fprintf(f, "  --%s%s%s", m->name, m->arg ? " " : "", m->arg ? m->arg : "");

	if (w >= HELP_COL)
		fprintf(f, "\n%*s", HELP_COL, "");
	else
		fprintf(f, "%*s", HELP_COL - w, "");
	for (const char *nl; (nl = strchr(h, '\n')); h = nl + 1)
		fprintf(f, "%.*s\n%*s", (int)(nl - h), h, HELP_COL, "");
	fprintf(f, "%s\n", h);
}

void migopts_help(FILE *f)
{
	for (unsigned i = 0; i < MIGOPT_COUNT; i++)
		help_one(f, &migopts[i], migopts[i].help);
}

unsigned migopts_getopt_receive(struct option *out)
{
	unsigned n = 0;

	for (unsigned i = 0; i < MIGOPT_COUNT; i++)
		if (migopts[i].rhelp)
			out[n++] = (struct option){ migopts[i].name,
						    migopts[i].arg ? required_argument : no_argument,
						    NULL, MIGOPT_CODE + (int)i };
	return n;
}

void migopts_help_receive(FILE *f)
{
	for (unsigned i = 0; i < MIGOPT_COUNT; i++)
		if (migopts[i].rhelp)
			help_one(f, &migopts[i], migopts[i].rhelp);
}

static void *field(struct migrate_opts *o, const struct migopt *m)
{
	return (char *)o + m->off;
}

static const void *cfield(const struct migrate_opts *o, const struct migopt *m)
{
	return (const char *)o + m->off;
}

static int bad_value(const struct migopt *m, const char *arg, char *why, size_t n)
{
	switch (m->kind) {
	case MOK_MODE:
		snprintf(why, n, "unknown --mode '%s' (postcopy, precopy, hybrid)", arg);
		break;
	case MOK_COUNT:
		snprintf(why, n, "invalid --%s '%s' (1..%llu)", m->name, arg,
			 (unsigned long long)m->max);
		break;
	case MOK_SECONDS:
	case MOK_SECONDS32:
		snprintf(why, n, "invalid --%s '%s' (seconds)", m->name, arg);
		break;
	case MOK_RATE:
		snprintf(why, n, "invalid --%s '%s' (bytes/s, e.g. 100M)", m->name, arg);
		break;
	case MOK_PATH:
		snprintf(why, n, "--%s path too long or with a space: '%s'", m->name, arg);
		break;
	case MOK_FLAG:
		snprintf(why, n, "--%s takes no value", m->name);
		break;
	}
	return -EINVAL;
}

static int set_path(struct migrate_opts *o, const struct migopt *m, const char *arg,
		    char *why, size_t n)
{
	char *abs;
	int err;

	if (strlen(arg) >= sizeof(o->psk_file) || strchr(arg, ' '))
		return bad_value(m, arg, why, n);
	if (arg[0] == '/') {
		pm_strset(field(o, m), sizeof(o->psk_file), arg);
		return 1;
	}
	if (!(abs = realpath(arg, NULL))) {
		err = -errno;
		snprintf(why, n, "--%s %s: %s", m->name, arg, strerror(-err));
		return err;
	}
	err = strlen(abs) < sizeof(o->psk_file) ? 1 : bad_value(m, abs, why, n);
	if (err == 1)
		pm_strset(field(o, m), sizeof(o->psk_file), abs);
	free(abs);
	return err;
}

int migopts_set(struct migrate_opts *o, int code, const char *arg, char *why, size_t n)
{
	const struct migopt *m;
	uint64_t v;
	double d;
	int ms;

	if (code < MIGOPT_CODE || code >= MIGOPT_CODE + MIGOPT_COUNT)
		return 0;
	m = &migopts[code - MIGOPT_CODE];
	switch (m->kind) {
	case MOK_MODE:
		if (pm_mode_parse(arg, field(o, m)))
			return bad_value(m, arg, why, n);
		return 1;
	case MOK_COUNT:
		if (pcm_parse_u64(arg, m->max, &v) || v == 0)
			return bad_value(m, arg, why, n);
		*(uint32_t *)field(o, m) = (uint32_t)v;
		return 1;
	case MOK_SECONDS32:
		if (pcm_parse_double(arg, &d) || d <= 0 || d > (double)m->max)
			return bad_value(m, arg, why, n);
		*(uint32_t *)field(o, m) = (uint32_t)(d * 1000 + 0.5);
		return 1;
	case MOK_SECONDS:
		if (pcm_parse_seconds_ms(arg, (unsigned)m->max, &ms))
			return bad_value(m, arg, why, n);
		*(int *)field(o, m) = ms;
		return 1;
	case MOK_RATE:
		if (pcm_parse_size(arg, &v) || !v)
			return bad_value(m, arg, why, n);
		*(uint64_t *)field(o, m) = v;
		return 1;
	case MOK_FLAG:
		*(bool *)field(o, m) = true;
		return 1;
	case MOK_PATH:
		return set_path(o, m, arg, why, n);
	}
	return 0;
}

/* Receive's kinds are a subset: the values read as migrate's do, into
 * receive_opts; the key file is loaded here (receive keeps no path). */
int migopts_set_receive(struct receive_opts *o, int code, const char *arg, char *why, size_t n)
{
	const struct migopt *m;
	void *f;
	int ms;

	if (code < MIGOPT_CODE || code >= MIGOPT_CODE + MIGOPT_COUNT ||
	    !migopts[code - MIGOPT_CODE].rhelp)
		return 0;
	m = &migopts[code - MIGOPT_CODE];
	f = (char *)o + m->roff;
	switch (m->kind) {
	case MOK_PATH:
		return pm_key_load(arg, f, why, n) ? -EACCES : 1;
	case MOK_FLAG:
		*(bool *)f = true;
		return 1;
	case MOK_SECONDS:
		if (pcm_parse_seconds_ms(arg, (unsigned)m->max, &ms))
			return bad_value(m, arg, why, n);
		*(int *)f = ms;
		return 1;
	default:
		return 0;   /* no receive option is of another kind */
	}
}

int migopts_check(const struct migrate_opts *o, char *why, size_t n)
{
	struct pm_key key;

	if (o->psk_file[0] && pm_key_load(o->psk_file, &key, why, n))
		return -EACCES;
	if (o->encrypt && !o->psk_file[0]) {
		snprintf(why, n, "--encrypt needs --psk-file (the keys come from it)");
		return -EINVAL;
	}
	if (o->verify_ram && o->mode != PM_MODE_PRECOPY) {
		snprintf(why, n, "--verify-ram needs --mode precopy");
		return -EINVAL;
	}
	return 0;
}

void migopts_to_json(const struct migrate_opts *o, struct pcm_jw *w)
{
	for (unsigned i = 0; i < MIGOPT_COUNT; i++) {
		const struct migopt *m = &migopts[i];
		const void *f = cfield(o, m);

		switch (m->kind) {
		case MOK_MODE:
			pcm_jw_str(w, m->key, pm_mode_name(*(const enum pm_mode *)f));
			break;
		case MOK_PATH:
			pcm_jw_str(w, m->key, f);
			break;
		case MOK_COUNT:
		case MOK_SECONDS32:
			pcm_jw_u64(w, m->key, *(const uint32_t *)f);
			break;
		case MOK_SECONDS:
			pcm_jw_i64(w, m->key, *(const int *)f);
			break;
		case MOK_RATE:
			pcm_jw_u64(w, m->key, *(const uint64_t *)f);
			break;
		case MOK_FLAG:
			pcm_jw_bool(w, m->key, *(const bool *)f);
			break;
		}
	}
}

static const struct migopt *by_key(const char *key)
{
	for (unsigned i = 0; i < MIGOPT_COUNT; i++)
		if (!strcmp(migopts[i].key, key))
			return &migopts[i];
	return NULL;
}

/* Integers in JSON: 0 means "the default" for the counts, as a field left
 * unset does; the upper bound is the command line's, in the field's unit. */
static int json_int(const struct pcm_json *v, uint64_t max, uint64_t *out)
{
	if (v->type != PCM_JSON_NUMBER || !v->is_int || v->i < 0 || (uint64_t)v->i > max)
		return -EINVAL;
	*out = (uint64_t)v->i;
	return 0;
}

static int from_json_one(struct migrate_opts *o, const struct migopt *m, const struct pcm_json *v)
{
	void *f = field(o, m);
	uint64_t x;

	switch (m->kind) {
	case MOK_MODE:
		if (v->type != PCM_JSON_STRING)
			return -EINVAL;
		return pm_mode_parse(v->str, f);
	case MOK_PATH:
		if (v->type != PCM_JSON_STRING || v->len >= sizeof(o->psk_file) ||
		    (v->len && v->str[0] != '/'))
			return -EINVAL;
		pm_strset(f, sizeof(o->psk_file), v->str);
		return 0;
	case MOK_COUNT:
		if (json_int(v, m->max, &x))
			return -EINVAL;
		*(uint32_t *)f = (uint32_t)x;
		return 0;
	case MOK_SECONDS32:
	case MOK_SECONDS:
		if (json_int(v, m->max * 1000, &x))
			return -EINVAL;
		if (m->kind == MOK_SECONDS)
			*(int *)f = (int)x;
		else
			*(uint32_t *)f = (uint32_t)x;
		return 0;
	case MOK_RATE:
		if (json_int(v, INT64_MAX, &x))
			return -EINVAL;
		*(uint64_t *)f = x;
		return 0;
	case MOK_FLAG:
		if (v->type != PCM_JSON_BOOL)
			return -EINVAL;
		*(bool *)f = v->b;
		return 0;
	}
	return -EINVAL;
}

/* What a member of this kind must be, for the error reply. */
static void json_want(const struct migopt *m, char *why, size_t n)
{
	int k = snprintf(why, n, "bad value of migration option \"%s\": want ", m->key);
	size_t left = k > 0 && (size_t)k < n ? n - (size_t)k : 0;
	char *p = why + (n - left);

	switch (m->kind) {
	case MOK_MODE: snprintf(p, left, "\"postcopy\", \"precopy\" or \"hybrid\""); break;
	case MOK_COUNT: snprintf(p, left, "an integer 0..%llu", (unsigned long long)m->max); break;
	case MOK_SECONDS:
	case MOK_SECONDS32:
		snprintf(p, left, "an integer of ms 0..%llu", (unsigned long long)m->max * 1000);
		break;
	case MOK_RATE: snprintf(p, left, "an integer of bytes/s"); break;
	case MOK_FLAG: snprintf(p, left, "true or false"); break;
	case MOK_PATH: snprintf(p, left, "an absolute path, or \"\""); break;
	}
}

int migopts_from_json(struct migrate_opts *o, const struct pcm_json_doc *d,
		      const struct pcm_json *obj, char *why, size_t n)
{
	if (!obj || obj->type != PCM_JSON_OBJECT) {
		snprintf(why, n, "\"options\" must be an object");
		return -EINVAL;
	}
	for (const struct pcm_json *v = pcm_json_first(d, obj); v; v = pcm_json_next(d, v)) {
		const struct migopt *m = by_key(v->key);

		if (!m) {
			snprintf(why, n, "unknown migration option \"%s\"", v->key);
			return -EINVAL;
		}
		if (from_json_one(o, m, v)) {
			json_want(m, why, n);
			return -EINVAL;
		}
	}
	return 0;
}
