/* postcopy/migopts.c - the migration options `migrate` and `demo` share,
 * and their form on a control socket. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "postcopy/cli.h"
#include "postcopy/migopts.h"
#include "postcopy/migrate.h"

static int u32_opt(const char *cmd, const char *name, const char *arg, uint64_t max,
		   uint32_t *out)
{
	uint64_t x;

	if (pcm_parse_u64(arg, max, &x) || x == 0)
		return cli_usage_error(cmd, "invalid %s '%s' (1..%llu)", name, arg,
				       (unsigned long long)max);
	*out = (uint32_t)x;
	return 1;
}

int mig_opts_parse(struct migrate_opts *o, const char *cmd, int opt, const char *arg)
{
	double d;

	switch (opt) {
	case MIGOPT_MODE:
		if (strcmp(arg, "postcopy") && strcmp(arg, "precopy") && strcmp(arg, "hybrid"))
			return cli_usage_error(cmd, "unknown --mode '%s' (postcopy, precopy, hybrid)",
					       arg);
		pm_strset(o->mode, sizeof(o->mode), arg);
		return 1;
	case MIGOPT_DOWNTIME:
		return u32_opt(cmd, "--max-downtime", arg, 3600000, &o->pc.max_downtime_ms);
	case MIGOPT_ROUNDS:
		return u32_opt(cmd, "--max-rounds", arg, 10000, &o->pc.max_rounds);
	case MIGOPT_PRE_ROUNDS:
		return u32_opt(cmd, "--precopy-rounds", arg, 10000, &o->pc.rounds);
	case MIGOPT_PRE_SECONDS:
		if (pcm_parse_double(arg, &d) || d <= 0 || d > 86400)
			return cli_usage_error(cmd, "invalid --precopy-seconds '%s'", arg);
		o->pc.seconds_ms = (uint32_t)(d * 1000 + 0.5);
		return 1;
	case MIGOPT_PSK:
		if (strlen(arg) >= sizeof(o->psk_file) || strchr(arg, ' '))
			return cli_usage_error(cmd, "--psk-file path too long or with a space: '%s'", arg);
		if (arg[0] != '/') {   /* the VM's process may run elsewhere */
			char *abs = realpath(arg, NULL);

			if (!abs)
				return cli_error("%s: --psk-file %s: %s", cmd, arg, strerror(errno));
			pm_strset(o->psk_file, sizeof(o->psk_file), abs);
			free(abs);
			return 1;
		}
		pm_strset(o->psk_file, sizeof(o->psk_file), arg);
		return 1;
	case MIGOPT_RECOVER_TIMEOUT:
		if (pcm_parse_seconds_ms(arg, 86400, &o->recover_timeout_ms))
			return cli_usage_error(cmd, "invalid --recover-timeout '%s' (seconds)", arg);
		return 1;
	case MIGOPT_LINK_TIMEOUT:
		if (pcm_parse_seconds_ms(arg, 3600, &o->link_timeout_ms))
			return cli_usage_error(cmd, "invalid --link-timeout '%s' (seconds)", arg);
		return 1;
	case MIGOPT_ENCRYPT:
		o->encrypt = true;
		return 1;
	case MIGOPT_VERIFY_RAM:
		o->verify_ram = true;
		return 1;
	case MIGOPT_BANDWIDTH:
		if (pcm_parse_size(arg, &o->pc.max_bandwidth) || !o->pc.max_bandwidth)
			return cli_usage_error(cmd, "invalid --max-bandwidth '%s' (bytes/s, e.g. 100M)",
					       arg);
		return 1;
	}
	return 0;
}

int mig_opts_check(const struct migrate_opts *o, const char *cmd)
{
	struct pm_key key;
	char why[300];

	if (o->psk_file[0] && pm_key_load(o->psk_file, &key, why, sizeof(why)))
		return cli_error("%s: %s", cmd, why);
	if (o->encrypt && !o->psk_file[0])
		return cli_usage_error(cmd, "--encrypt needs --psk-file (the keys come from it)");
	if (o->verify_ram && strcmp(o->mode, "precopy"))
		return cli_usage_error(cmd, "--verify-ram needs --mode precopy");
	return 0;
}

void mig_opts_format(const struct migrate_opts *o, char *buf, size_t len)
{
	snprintf(buf, len, "max_downtime_ms=%u max_rounds=%u rounds=%u seconds_ms=%u "
		 "max_bandwidth=%llu verify_ram=%d recover_ms=%d link_ms=%d encrypt=%d%s%s",
		 o->pc.max_downtime_ms, o->pc.max_rounds, o->pc.rounds, o->pc.seconds_ms,
		 (unsigned long long)o->pc.max_bandwidth, o->verify_ram, o->recover_timeout_ms,
		 o->link_timeout_ms, o->encrypt, o->psk_file[0] ? " psk_file=" : "", o->psk_file);
}

int mig_opts_scan(struct migrate_opts *o, const char *words, char *why, size_t len)
{
	char copy[512], *save, *w;

	pm_strset(copy, sizeof(copy), words);
	for (w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		unsigned long long v;
		char key[32];

		if (!strncmp(w, "psk_file=", 9)) {
			pm_strset(o->psk_file, sizeof(o->psk_file), w + 9);
			continue;
		}
		if (sscanf(w, "%31[a-z_]=%llu", key, &v) != 2)
			goto bad;
		if (!strcmp(key, "max_downtime_ms"))
			o->pc.max_downtime_ms = (uint32_t)v;
		else if (!strcmp(key, "max_rounds"))
			o->pc.max_rounds = (uint32_t)v;
		else if (!strcmp(key, "rounds"))
			o->pc.rounds = (uint32_t)v;
		else if (!strcmp(key, "seconds_ms"))
			o->pc.seconds_ms = (uint32_t)v;
		else if (!strcmp(key, "max_bandwidth"))
			o->pc.max_bandwidth = v;
		else if (!strcmp(key, "verify_ram"))
			o->verify_ram = v != 0;
		else if (!strcmp(key, "encrypt"))
			o->encrypt = v != 0;
		else if (!strcmp(key, "recover_ms") && v <= 86400000)
			o->recover_timeout_ms = (int)v;
		else if (!strcmp(key, "link_ms") && v <= 3600000)
			o->link_timeout_ms = (int)v;
		else
			goto bad;
	}
	return 0;
bad:
	snprintf(why, len, "bad migration option '%s'", w);
	return -EINVAL;
}
