/* cli/vmopts.c - the machine options `run` and `demo` share. */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <net/if.h>
#include "cli/cli.h"
#include "cli/vmopts.h"

void vm_opts_default(struct vm_opts *v, uint64_t mem, unsigned vcpus, const char *wl)
{
	memset(v, 0, sizeof(*v));
	v->cfg.engine = MACHINE_ENGINE_AUTO;
	v->cfg.ram_bytes = mem;
	v->cfg.vcpus = vcpus;
	pm_strset(v->workload, sizeof(v->workload), wl);
}

static int permille(const char *cmd, const char *what, const char *arg, uint32_t *out)
{
	double f;

	/* 0 is how the guest spells "not set" (the default), so it cannot
	 * also mean "none": the smallest share is 0.001. */
	if (pcm_parse_double(arg, &f) || f > 1 || f < 0.0005)
		return cli_usage_error(cmd, "%s must be a fraction between 0.001 and 1, not '%s'",
				       what, arg);
	*out = (uint32_t)(f * 1000 + 0.5);
	return 1;
}

int vm_opts_parse(struct vm_opts *v, const char *cmd, int opt, const char *arg)
{
	struct wl_params *p = &v->cfg.params;
	uint64_t x;
	double d;

	switch (opt) {
	case VMOPT_MEM:
		if (pcm_parse_size(arg, &v->cfg.ram_bytes))
			return cli_usage_error(cmd, "invalid --mem '%s' (use e.g. 256M, 1G)", arg);
		return 1;
	case VMOPT_VCPUS:
		if (pcm_parse_u64(arg, GUEST_MAX_VCPUS, &x) || x == 0)
			return cli_usage_error(cmd, "invalid --vcpus '%s' (1..%d)", arg, GUEST_MAX_VCPUS);
		v->cfg.vcpus = (unsigned)x;
		return 1;
	case VMOPT_WORKLOAD:
		if (!wl_lookup(arg))
			return cli_usage_error(cmd, "unknown workload '%s' (idle, sweep, kv)", arg);
		pm_strset(v->workload, sizeof(v->workload), arg);
		v->workload_set = true;
		return 1;
	case VMOPT_KERNEL:
		v->cfg.guest = MACHINE_GUEST_LINUX;
		v->cfg.lx.kernel = arg;   /* argv outlives the VM */
		return 1;
	case VMOPT_INITRD:
		v->cfg.lx.initrd = arg;
		return 1;
	case VMOPT_CMDLINE:
		v->cfg.lx.cmdline = arg;
		return 1;
	case VMOPT_DISK:
		return vm_disk_parse(cmd, (char *)arg, v->cfg.lx.disks, &v->cfg.lx.ndisks);
	case VMOPT_NET:
		return vm_net_parse(cmd, (char *)arg, v->cfg.lx.nics, &v->cfg.lx.nnics);
	case VMOPT_ENGINE:
		if (machine_engine_parse(arg, &v->cfg.engine))
			return cli_usage_error(cmd, "unknown engine '%s' (auto, kvm, thread)", arg);
		return 1;
	case VMOPT_CONSOLE:
		pm_strset(v->console, sizeof(v->console), arg);
		v->cfg.console = strcmp(arg, "none") ? v->console : NULL;
		return 1;
	case VMOPT_WSET:
		if (pcm_parse_size(arg, &p->working_set))
			return cli_usage_error(cmd, "invalid --working-set '%s'", arg);
		return 1;
	case VMOPT_WRITE:
		return permille(cmd, "--write-fraction", arg, &p->write_permille);
	case VMOPT_PUT:
		return permille(cmd, "--kv-put-fraction", arg, &p->kv_put_permille);
	case VMOPT_RATE:
		if (pcm_parse_double(arg, &d))
			return cli_usage_error(cmd, "invalid --dirty-rate '%s' (MB/s)", arg);
		p->rate_bps = (uint64_t)(d * 1e6);
		return 1;
	case VMOPT_KEYS:
		if (pcm_parse_u64(arg, 1ull << 40, &p->kv_keys))
			return cli_usage_error(cmd, "invalid --kv-keys '%s'", arg);
		return 1;
	case VMOPT_SEED:
		if (pcm_parse_u64(arg, ~0ull, &p->seed))
			return cli_usage_error(cmd, "invalid --seed '%s'", arg);
		return 1;
	}
	return 0;
}

int vm_disk_parse(const char *cmd, char *arg, struct machine_disk *d, unsigned *n)
{
	char *comma = strrchr(arg, ',');
	int ro = 0;

	if (comma && !strcmp(comma, ",ro")) {
		*comma = 0;   /* optarg is argv's, which outlives the VM */
		ro = 1;
	} else if (comma && comma[1] && !strchr(comma + 1, '/')) {
		return cli_usage_error(cmd, "--disk %s: unknown flag '%s' (only ro)", arg, comma + 1);
	}
	if (!*arg)
		return cli_usage_error(cmd, "--disk needs a file");
	if (*n == MACHINE_MAX_DISKS)
		return cli_usage_error(cmd, "at most %d --disk", MACHINE_MAX_DISKS);
	d[*n] = (struct machine_disk){ arg, ro };
	(*n)++;
	return 1;
}

/* MAC as six hex bytes a:b:c:d:e:f (one or two digits each): 0 or -EINVAL. */
static int mac_parse(const char *s, uint8_t mac[6])
{
	for (unsigned i = 0; i < 6; i++) {
		unsigned v = 0, k = 0;

		for (; k < 2 && isxdigit((unsigned char)s[k]); k++)
			v = v * 16 + (unsigned)(isdigit((unsigned char)s[k]) ? s[k] - '0'
							    : (tolower((unsigned char)s[k]) - 'a' + 10));
		if (!k || s[k] != (i < 5 ? ':' : 0))
			return -EINVAL;
		mac[i] = (uint8_t)v;
		s += k + (i < 5);
	}
	return 0;
}

int vm_net_parse(const char *cmd, char *arg, struct machine_nic *nics, unsigned *n)
{
	struct machine_nic c = { 0 };
	char *save = NULL, *kv;

	if (*n == MACHINE_MAX_NICS)
		return cli_usage_error(cmd, "at most %d --net", MACHINE_MAX_NICS);
	for (kv = strtok_r(arg, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		if (!strncmp(kv, "tap=", 4)) {
			c.tap = kv + 4;   /* argv's, which outlives the VM */
		} else if (!strncmp(kv, "mac=", 4)) {
			if (mac_parse(kv + 4, c.mac))
				return cli_usage_error(cmd, "--net: invalid mac '%s' (six hex bytes, "
						       "e.g. 52:54:00:12:34:56)", kv + 4);
			if ((c.mac[0] & 1) || !memcmp(c.mac, "\0\0\0\0\0\0", 6))
				return cli_usage_error(cmd, "--net: mac %s is not a unicast address "
						       "(the first byte must be even, not all 0)", kv + 4);
			c.mac_set = 1;
		} else {
			return cli_usage_error(cmd, "--net: unknown '%s' (tap=NAME, mac=MAC)", kv);
		}
	}
	if (!c.tap || !*c.tap)
		return cli_usage_error(cmd, "--net needs tap=NAME");
	if (strlen(c.tap) >= IFNAMSIZ)
		return cli_usage_error(cmd, "--net: tap name '%s' is longer than %d characters",
				       c.tap, IFNAMSIZ - 1);
	nics[(*n)++] = c;
	return 1;
}

/* A Linux guest has no workload; what only a kernel takes needs one. */
static int linux_finish(struct vm_opts *v, const char *cmd)
{
	if (v->cfg.guest != MACHINE_GUEST_LINUX) {
		if (v->cfg.lx.initrd || v->cfg.lx.cmdline || v->cfg.lx.ndisks || v->cfg.lx.nnics)
			return cli_usage_error(cmd, "--initrd, --cmdline, --disk and --net need --kernel");
		return 0;
	}
	if (v->workload_set)
		return cli_usage_error(cmd, "--workload runs the project's payload; a guest "
				       "booted with --kernel runs its own");
	if (v->cfg.ram_bytes < (256u << 20))
		return cli_usage_error(cmd, "a Linux guest needs --mem of at least 256M");
	if (!v->cfg.lx.cmdline)
		v->cfg.lx.cmdline = VMOPTS_LINUX_CMDLINE;
	if (v->cfg.engine == MACHINE_ENGINE_AUTO)   /* only KVM boots a kernel */
		v->cfg.engine = MACHINE_ENGINE_KVM;
	pm_strset(v->workload, sizeof(v->workload), "linux");
	return 0;
}

int vm_opts_finish(struct vm_opts *v, const char *cmd)
{
	const char *why = "invalid workload parameters";
	char reason[200];
	int err;

	if ((err = linux_finish(v, cmd)))
		return err;
	machine_engine_pick(&v->cfg, v->engine_note, sizeof(v->engine_note));
	if (machine_probe(&v->cfg, reason, sizeof(reason)))
		return cli_error("%s: --engine %s cannot run here: %s", cmd,
				 machine_engine_name(v->cfg.engine), reason);
	if (v->cfg.ram_bytes < (16u << 20) || v->cfg.ram_bytes % (2u << 20))
		return cli_usage_error(cmd, "--mem must be a multiple of 2 MiB and at least 16 MiB");
	if (v->cfg.guest == MACHINE_GUEST_LINUX)
		return 0;
	v->cfg.params.workload = wl_lookup(v->workload);
	if (wl_params_fix(&v->cfg.params, v->cfg.ram_bytes, v->cfg.vcpus, &why))
		return cli_usage_error(cmd, "%s", why);
	return 0;
}

bool vm_ready(struct machine *m)
{
	const struct machine_region *r;
	const struct machine_config *c = machine_config_of(m);

	machine_regions(m, &r);
	for (unsigned i = 0; i < c->vcpus; i++)
		if (!guest_stats_of(r[0].host, i)->ready)
			return false;
	return true;
}
