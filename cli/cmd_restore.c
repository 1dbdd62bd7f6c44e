/* cli/cmd_restore.c - `postcopy-move restore`: start a VM from a snapshot
 * file and host it as `run` does.
 *
 * Eager for now: every page is read and checked before the VM starts
 * (snap/load.h); a damaged, torn or foreign file is refused before
 * anything runs. A restore is a copy, not a move: the same file may be
 * restored twice, under two names.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"
#include "cli/vmopts.h"
#include "host/ctl.h"
#include "lib/clock.h"
#include "snap/load.h"
#include "snap/read.h"

static const char restore_help[] =
"usage: postcopy-move restore FILE [--name NAME] [--engine E] [--console FILE]\n"
"                             [--disk FILE[,ro]]...\n"
"\n"
"Start a VM from the snapshot file FILE (written by `snapshot`) and keep it\n"
"running in this process, with a control socket like `run` (`status`,\n"
"`stop`, `migrate`, `snapshot`). Every page is read and checked against the\n"
"file's checksums before the VM starts; a torn, damaged or foreign file is\n"
"refused, naming the cause, and nothing runs. A payload guest's workload\n"
"then checks itself (`status` shows the result as restore_check). The copy\n"
"is independent of the VM the snapshot was taken from.\n"
"\n"
"  --name NAME            name of the VM (default: the name in the snapshot)\n"
"  --engine auto|kvm|thread  must be the snapshot's engine (default auto: it)\n"
"  --console FILE         kvm: the guest's serial console to FILE ('-' is\n"
"                         stdout; default: none)\n"
"  --disk FILE[,ro]       a Linux guest's disks here, in the snapshot's order\n"
"                         (default: the paths the snapshot names)\n"
"  -h, --help             this help\n";

struct restore {
	const char *file;
	char path[PATH_MAX];          /* absolute, for status */
	const char *name;
	struct vm_opts v;             /* --engine --console --disk */
	struct snap_file *f;
	struct machine_config cfg;
	struct machine *m;
	struct snap_load_stats st;
	struct cli_progress pr;
	char check[200];
	uint64_t t0;
};

static int restore_args(struct restore *r, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "name", required_argument, 0, 'n' },
		{ "engine", required_argument, 0, VMOPT_ENGINE },
		{ "console", required_argument, 0, VMOPT_CONSOLE },
		{ "disk", required_argument, 0, VMOPT_DISK },
		{ "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
	int opt, err;

	vm_opts_default(&r->v, 0, 0, "");
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(restore_help, stdout);
			return -1;
		}
		if (opt == 'n') {
			r->name = optarg;
			continue;
		}
		if ((err = vm_opts_parse(&r->v, "restore", opt, optarg)) != 1)
			return err ? err : cli_usage_error("restore", "unknown option");
	}
	if (optind != argc - 1)
		return cli_usage_error("restore", "expects exactly one snapshot file");
	r->file = argv[optind];
	if (r->name && ctl_name_check(r->name))
		return cli_usage_error("restore", "invalid VM name '%s' (1-63 of A-Z a-z 0-9 . _ -)",
				       r->name);
	return 0;
}

/* The version a file's header names (what -EPROTONOSUPPORT refused). */
static unsigned file_version(const char *path)
{
	uint8_t b[12] = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (pread(fd, b, sizeof(b), 0) != (ssize_t)sizeof(b))
			memset(b, 0, sizeof(b));
		close(fd);
	}
	return (unsigned)b[8] | (unsigned)b[9] << 8 | (unsigned)b[10] << 16 |
	       (unsigned)b[11] << 24;
}

/* snap_open's refusals, in words (docs/snapshot-format.md). */
static int restore_open(struct restore *r)
{
	int err = snap_open(r->file, &r->f);
	unsigned ver;

	switch (err) {
	case 0:
		break;
	case -EPROTO:
		return cli_error("%s is not a snapshot file (no PCMSNAP header)", r->file);
	case -EPROTONOSUPPORT:
		ver = file_version(r->file);
		if (ver != SNAP_VERSION)
			return cli_error("%s is a snapshot of format version %u; this build reads "
					 "version %u", r->file, ver, SNAP_VERSION);
		return cli_error("%s has format flags this build does not read", r->file);
	case -EBADMSG:
		return cli_error("%s is torn, truncated or damaged: no valid commit record at its "
				 "end, or a checksum of its header, configuration or index fails",
				 r->file);
	case -EINVAL:
		return cli_error("%s is not a regular file", r->file);
	default:
		return cli_error("cannot read %s: %s", r->file, strerror(-err));
	}
	if (snap_is_incremental(r->f))
		return cli_error("%s is an incremental layer: restoring a chain is not built yet",
				 r->file);
	return 0;
}

/* The snapshot's own engine: --engine may only confirm it, as the state
 * blob is that engine's. */
static int restore_engine(struct restore *r, const struct snap_meta *sm)
{
	char why[300];

	if (strcmp(r->v.cfg.engine, "auto") && strcmp(r->v.cfg.engine, sm->engine))
		return cli_error("%s holds a VM of the %s engine: it cannot run on --engine %s",
				 r->file, sm->engine, r->v.cfg.engine);
	if (machine_probe(&r->cfg, why, sizeof(why)))
		return cli_error("%s holds a VM of the %s engine, which cannot run here: %s",
				 r->file, sm->engine, why);
	if (machine_features_check(sm->engine, sm->features, why, sizeof(why)))
		return cli_error("%s: %s", r->file, why);
	return 0;
}

/* The machine_config the snapshot describes, with this command's
 * console and disks; can this host run it? */
static int restore_config(struct restore *r)
{
	const struct snap_meta *sm = snap_meta_of(r->f);
	int err;

	snap_meta_config(sm, &r->cfg);
	r->cfg.console = r->v.cfg.console;
	if (sm->guest == MACHINE_GUEST_PAYLOAD && sm->guest_abi != GUEST_ABI_VERSION)
		return cli_error("%s holds a guest of ABI %u; this build runs %u", r->file,
				 sm->guest_abi, GUEST_ABI_VERSION);
	if (r->v.cfg.lx.ndisks) {
		if (r->v.cfg.lx.ndisks != sm->ndisks)
			return cli_error("%s names %u disk(s); --disk gave %u", r->file, sm->ndisks,
					 r->v.cfg.lx.ndisks);
		memcpy(r->cfg.lx.disks, r->v.cfg.lx.disks, sizeof(r->cfg.lx.disks));
	}
	if ((err = restore_engine(r, sm)))
		return err;
	if (!r->name)
		r->name = sm->name[0] ? sm->name : "vm";
	if (ctl_name_check(r->name))
		return cli_usage_error("restore", "the snapshot's VM name '%s' is not valid here: "
				       "give --name", r->name);
	return 0;
}

/* A load's failure in words; the pfn names the damaged page. */
static int restore_load_error(struct restore *r, int err, uint64_t bad)
{
	const char *why = machine_why(r->m) && *machine_why(r->m) ? machine_why(r->m) : NULL;

	if (err == -EILSEQ && bad != UINT64_MAX)
		return cli_error("page %llu (guest address 0x%llx) of %s fails its checksum: the "
				 "file is damaged", (unsigned long long)bad,
				 (unsigned long long)snap_pfn_gpa(r->f, bad), r->file);
	if (err == -EILSEQ)
		return cli_error("the state of %s fails its checksum: the file is damaged", r->file);
	if (err == -ENOEXEC && !why)
		return cli_error("the %s engine here lays out %llu MiB of RAM differently from %s",
				 r->cfg.engine, (unsigned long long)(r->cfg.ram_bytes >> 20), r->file);
	if (why)
		return cli_error("cannot restore %s: %s", r->file, why);
	return cli_error("cannot restore %s: %s", r->file, strerror(-err));
}

/* On stderr once the load takes more than a second (a file no longer
 * in the page cache reads at the disk's pace). */
static void restore_progress(void *arg, uint64_t done, uint64_t npages)
{
	struct restore *r = arg;
	double t = (pcm_now_ns() - r->t0) / 1e9;
	char line[160];

	if (t < 1)
		return;
	snprintf(line, sizeof(line), "%6.1fs  restoring: page %llu/%llu (%5.1f%%)", t,
		 (unsigned long long)done, (unsigned long long)npages, 100.0 * done / npages);
	cli_progress_show(&r->pr, line, t);
}

/* The new VM with every page and its state, not started. */
static int restore_load(struct restore *r)
{
	struct snap_load_progress pr = { restore_progress, r };
	char why[300];
	uint64_t bad = UINT64_MAX;
	int err;

	if ((err = machine_create_incoming_why(&r->cfg, &r->m, why, sizeof(why))))
		return cli_error("cannot create the VM: %s", why);
	cli_progress_init(&r->pr, stderr);
	if (!(err = snap_load_fits(r->f, r->m)))
		err = snap_load_eager(r->f, r->m, &pr, &bad, &r->st);
	cli_progress_end(&r->pr);
	return err ? restore_load_error(r, err, bad) : 0;
}

/* The workload's self-check on the RAM as loaded, before anything runs
 * (as a migration's destination checks it): the words go to status. */
static void restore_check(struct restore *r)
{
	const struct machine_region *rg;
	struct wl_holes holes = snap_load_holes(r->f);
	uint32_t wl = r->cfg.params.workload;
	char why[160];

	if (r->cfg.guest == MACHINE_GUEST_LINUX) {
		snprintf(r->check, sizeof(r->check), "not checked: a Linux guest has no agent to "
			 "check itself yet (every page matched its checksum)");
		return;
	}
	if (wl == WL_IDLE) {
		snprintf(r->check, sizeof(r->check), "idle keeps no data to check; every page "
			 "matched its checksum");
		return;
	}
	machine_regions(r->m, &rg);
	if (wl_check_sparse(rg[0].host, rg[0].size, &holes, why, sizeof(why)))
		snprintf(r->check, sizeof(r->check), "%s self-check FAILED: %s", wl_name(wl), why);
	else
		snprintf(r->check, sizeof(r->check), "%s self-check passed, every payload checksum "
			 "matched", wl_name(wl));
}

static void restore_print(const struct restore *r)
{
	char id[2 * SNAP_ID_LEN + 1];

	snap_id_hex(snap_id_of(r->f), id);
	printf("VM '%s' running: restored from %s in %.1f ms (snapshot %s)\n", r->name,
	       r->file, (pcm_now_ns() - r->t0) / 1e6, id);
	printf("  engine %s, %llu MiB, %u vCPUs, %s %s\n", r->cfg.engine,
	       (unsigned long long)(r->cfg.ram_bytes >> 20), r->cfg.vcpus,
	       r->cfg.guest == MACHINE_GUEST_LINUX ? "Linux kernel" : "workload",
	       r->cfg.guest == MACHINE_GUEST_LINUX ? snap_meta_of(r->f)->kernel :
	       wl_name(r->cfg.params.workload));
	printf("  pages: %llu read and checked (%.1f MiB in %.1f ms), %llu zero (left as "
	       "holes); state loaded in %.1f ms\n", (unsigned long long)r->st.data_pages,
	       r->st.data_pages * (double)SNAP_PAGE / 1048576.0, r->st.pages_ns / 1e6,
	       (unsigned long long)r->st.zero_pages, r->st.state_ns / 1e6);
	printf("  check: %s\n", r->check);
	fflush(stdout);
}

/* Everything up to a started VM; an exit status, 0 with r->m running. */
static int restore_start(struct restore *r)
{
	char why[300];
	int err;

	if ((err = restore_open(r)) || (err = restore_config(r)))
		return err;
	if (ctl_precheck(r->name, why, sizeof(why)))
		return cli_error("%s", why);
	if (!realpath(r->file, r->path))
		snprintf(r->path, sizeof(r->path), "%s", r->file);
	cli_signals_block();
	if ((err = restore_load(r)))
		return err;
	restore_check(r);
	if ((err = machine_start(r->m)))
		return cli_error("cannot start the VM: %s", strerror(-err));
	return 0;
}

int cmd_restore(int argc, char **argv)
{
	struct restore *r = calloc(1, sizeof(*r));
	struct vmhost_restored from;
	int err;

	if (!r)
		return cli_error("out of memory");
	r->t0 = pcm_now_ns();
	err = restore_args(r, argc, argv);
	if (!err)
		err = restore_start(r);
	if (err) {
		if (r->m)
			machine_destroy(r->m);
		snap_close(r->f);
		free(r);
		return err < 0 ? 0 : err;
	}
	restore_print(r);
	/* The file stays open: the name and the configuration's strings
	 * (disk paths) point into its meta. */
	from = (struct vmhost_restored){ r->path, r->check };
	err = vmhost_serve_restored(r->m, r->name, &from);
	snap_close(r->f);
	free(r);
	return err;
}
