/* cli/cmd_restore.c - `postcopy-move restore`: start a VM from a snapshot
 * file and host it as `run` does.
 *
 * Lazy by default (snap_load_lazy): the VM starts once its state is
 * loaded, its pages come in through userfaultfd as it runs, and the
 * host polls the restore until every page is in; then the workload
 * checks itself. A page that fails its checksum then stops the VM and
 * the process (exit 1), naming the page and the file. --eager reads and
 * checks every page first (snap_load_eager). A torn or foreign file is
 * refused before anything runs either way. A restore is a copy, not a
 * move: the same file may be restored twice, under two names.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "cli/cli.h"
#include "cli/vmopts.h"
#include "host/ctl.h"
#include "lib/clock.h"
#include "lib/json.h"
#include "pages/lazy.h"
#include "snap/load.h"
#include "snap/read.h"
#include "snap/wset.h"

static const char restore_help[] =
"usage: postcopy-move restore FILE [--lazy [--prefetch] | --eager] [--name NAME] [--engine E]\n"
"                             [--console FILE] [--disk FILE[,ro]]...\n"
"                             [--net tap=NAME[,mac=MAC]]...\n"
"\n"
"Start a VM from the snapshot file FILE (written by `snapshot`) and keep it\n"
"running in this process, with a control socket like `run` (`status`,\n"
"`stop`, `migrate`, `snapshot`). A torn or foreign file is refused, naming\n"
"the cause, and nothing runs. Lazy (the default): the VM starts as soon as\n"
"its state is loaded; a page it touches is read from the file, checked and\n"
"installed through userfaultfd, and a background filler brings in the rest.\n"
"A page that fails its checksum stops the VM and this process (exit 1),\n"
"naming the page; the VM never runs on a wrong page. Eager: every page is\n"
"read and checked before the VM starts. Once every page is in, a payload\n"
"guest's workload checks itself (`status` shows restore_check, the times\n"
"to start and to every page resident, and pages faulted and filled). The\n"
"copy is independent of the VM the snapshot was taken from.\n"
"\n"
"  --lazy                 pages on demand while the VM runs (default)\n"
"  --prefetch             lazy: the filler first brings in the pages the last\n"
"                         lazy restore of FILE saw touched first (FILE.ws,\n"
"                         which every lazy restore writes once all is in)\n"
"  --eager                every page in and checked before the VM starts\n"
"  --name NAME            name of the VM (default: the name in the snapshot)\n"
"  --engine auto|kvm|thread  must be the snapshot's engine (default auto: it)\n"
"  --console FILE         kvm: the guest's serial console to FILE ('-' is\n"
"                         stdout; default: none)\n"
"  --disk FILE[,ro]       a Linux guest's disks here, in the snapshot's order\n"
"                         (default: the paths the snapshot names)\n"
"  --net tap=NAME[,mac=MAC]  a Linux guest's network cards here, in the order\n"
"                         they had (the snapshot does not name them); the MAC\n"
"                         comes with the VM\n"
"  -h, --help             this help\n";

struct restore {
	const char *file;
	char path[PATH_MAX];          /* absolute, for status */
	const char *name;
	struct vm_opts v;             /* --engine --console --disk --net */
	struct snap_file *f;
	struct machine_config cfg;
	struct machine *m;
	struct snap_load_stats st;
	struct cli_progress pr;
	char check[200];
	uint64_t t0, t_started, t_resident;   /* pcm_now_ns; 0: not yet */
	bool eager, prefetch;
	uint64_t *ws, nws;            /* --prefetch: FILE.ws */
	/* lazy: the fill, and what its end hook says (from its thread) */
	struct pages_lazy *lz;
	int evfd;
	atomic_bool ended;
	atomic_int lazy_err;
	_Atomic uint64_t bad_pfn;
	struct vmhost_restore_ops ops;
};

static int restore_args(struct restore *r, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "name", required_argument, 0, 'n' },
		{ "engine", required_argument, 0, VMOPT_ENGINE },
		{ "console", required_argument, 0, VMOPT_CONSOLE },
		{ "disk", required_argument, 0, VMOPT_DISK },
		{ "net", required_argument, 0, VMOPT_NET },
		{ "lazy", no_argument, 0, 'L' }, { "eager", no_argument, 0, 'E' },
		{ "prefetch", no_argument, 0, 'P' },
		{ "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
	int modes = 0;
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
		if (opt == 'P') {
			r->prefetch = true;
			continue;
		}
		if (opt == 'L' || opt == 'E') {
			modes |= opt == 'L' ? 1 : 2;
			r->eager = opt == 'E';
			continue;
		}
		if ((err = vm_opts_parse(&r->v, "restore", opt, optarg)) != 1)
			return err ? err : cli_usage_error("restore", "unknown option");
	}
	if (modes == 3)
		return cli_usage_error("restore", "--lazy and --eager exclude each other");
	if (r->prefetch && r->eager)
		return cli_usage_error("restore", "--prefetch is for a lazy restore, not --eager");
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
	const char *engine = machine_engine_name(sm->engine);
	char why[300];

	if (r->v.cfg.engine != MACHINE_ENGINE_AUTO && r->v.cfg.engine != sm->engine)
		return cli_error("%s holds a VM of the %s engine: it cannot run on --engine %s",
				 r->file, engine, machine_engine_name(r->v.cfg.engine));
	if (machine_probe(&r->cfg, why, sizeof(why)))
		return cli_error("%s holds a VM of the %s engine, which cannot run here: %s",
				 r->file, engine, why);
	if (machine_features_check(sm->engine, sm->features, why, sizeof(why)))
		return cli_error("%s: %s", r->file, why);
	return 0;
}

/* The machine_config the snapshot describes, with this command's
 * console, disks and network cards; can this host run it? */
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
	/* A card's state is in the snapshot, its tap is this host's. */
	if (r->v.cfg.lx.nnics && sm->guest != MACHINE_GUEST_LINUX)
		return cli_error("%s holds a payload guest, which has no network card; "
				 "--net is for a Linux guest", r->file);
	memcpy(r->cfg.lx.nics, r->v.cfg.lx.nics, sizeof(r->cfg.lx.nics));
	r->cfg.lx.nnics = r->v.cfg.lx.nnics;
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
static void restore_why(struct restore *r, int err, uint64_t bad, char *out, size_t len)
{
	const char *why = machine_why(r->m) && *machine_why(r->m) ? machine_why(r->m) : NULL;
	unsigned long long pfn = bad, gpa = bad != UINT64_MAX ? snap_pfn_gpa(r->f, bad) : 0;

	if (err == -EILSEQ && bad != UINT64_MAX)
		snprintf(out, len, "page %llu (guest address 0x%llx) of %s fails its checksum: the "
			 "file is damaged", pfn, gpa, r->file);
	else if (err == -EILSEQ)
		snprintf(out, len, "the state of %s fails its checksum: the file is damaged", r->file);
	else if (err == -EBADMSG && bad != UINT64_MAX)
		snprintf(out, len, "%s ends before page %llu (guest address 0x%llx): the file was "
			 "cut short after the restore opened it", r->file, pfn, gpa);
	else if (err == -ENOEXEC && !why)
		snprintf(out, len, "the %s engine here lays out %llu MiB of RAM differently from %s",
			 machine_engine_name(r->cfg.engine), (unsigned long long)(r->cfg.ram_bytes >> 20),
			 r->file);
	else if (why)
		snprintf(out, len, "cannot restore %s: %s", r->file, why);
	else if (bad != UINT64_MAX)
		snprintf(out, len, "cannot restore page %llu of %s: %s", pfn, r->file,
			 strerror(-err));
	else
		snprintf(out, len, "cannot restore %s: %s", r->file, strerror(-err));
}

static int restore_load_error(struct restore *r, int err, uint64_t bad)
{
	char why[600];

	restore_why(r, err, bad, why, sizeof(why));
	return cli_error("%s", why);
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

/* The lazy fill's end (on its thread): noted for the host, which polls
 * evfd and asks restore_over. */
static void restore_lazy_end(void *arg, int err, uint64_t bad)
{
	struct restore *r = arg;
	uint64_t one = 1;

	atomic_store(&r->bad_pfn, bad);
	atomic_store(&r->lazy_err, err);
	atomic_store(&r->ended, true);
	if (write(r->evfd, &one, sizeof(one)) < 0)
		(void)0;   /* overflow only: it is readable anyway */
}

/* --prefetch: FILE.ws, or a note saying why there is nothing to
 * prefetch (a missing or stale record is no reason not to restore). */
static void restore_prefetch(struct restore *r)
{
	int err = snap_wset_read(r->file, r->f, &r->ws, &r->nws);

	if (!err)
		printf("prefetch: %llu pages the last lazy restore touched first (%s%s)\n",
		       (unsigned long long)r->nws, r->file, SNAP_WSET_SUFFIX);
	else if (err == -ENOENT)
		printf("prefetch: no %s%s yet (a lazy restore writes it): nothing prefetched\n",
		       r->file, SNAP_WSET_SUFFIX);
	else if (err == -ESTALE)
		printf("prefetch: %s%s is the record of another snapshot: ignored\n", r->file,
		       SNAP_WSET_SUFFIX);
	else
		printf("prefetch: %s%s cannot be used (%s): ignored\n", r->file, SNAP_WSET_SUFFIX,
		       err == -EBADMSG ? "damaged" : strerror(-err));
	fflush(stdout);
}

/* The new VM with its state, not started: every page in (eager), or its
 * RAM registered and filling (lazy). */
static int restore_load(struct restore *r)
{
	struct snap_load_progress pr = { restore_progress, r };
	const struct pages_hooks hooks = { restore_lazy_end, r };
	char why[300];
	uint64_t bad = UINT64_MAX;
	int err;

	if ((err = machine_create_incoming_why(&r->cfg, &r->m, why, sizeof(why))))
		return cli_error("cannot create the VM: %s", why);
	if ((err = snap_load_fits(r->f, r->m)))
		return restore_load_error(r, err, bad);
	if (!r->eager) {
		if ((r->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
			return cli_error("cannot restore: eventfd: %s", strerror(errno));
		struct pages_first first;

		if (r->prefetch)
			restore_prefetch(r);
		first = (struct pages_first){ r->ws, r->nws };
		if ((err = snap_load_lazy(r->f, r->m, &hooks, &first, &r->lz)))
			return restore_load_error(r, err, bad);
		/* A small VM's fill may be over already: a failure stops
		 * it here, before anything runs. */
		if (atomic_load(&r->ended) && (err = atomic_load(&r->lazy_err)))
			return restore_load_error(r, err, atomic_load(&r->bad_pfn));
		return 0;
	}
	cli_progress_init(&r->pr, stderr);
	err = snap_load_eager(r->f, r->m, &pr, &bad, &r->st);
	cli_progress_end(&r->pr);
	r->t_resident = pcm_now_ns();
	return err ? restore_load_error(r, err, bad) : 0;
}

/* The words of a check that cannot be run: a Linux guest, idle; NULL
 * for a workload that checks itself. */
static const char *restore_check_none(const struct restore *r)
{
	if (r->cfg.guest == MACHINE_GUEST_LINUX)
		return "not checked: a Linux guest has no agent to check itself yet (every page "
		       "matched its checksum)";
	if (r->cfg.params.workload == WL_IDLE)
		return "idle keeps no data to check; every page matched its checksum";
	return NULL;
}

static void restore_check_say(struct restore *r, int err, const char *why)
{
	uint32_t wl = r->cfg.params.workload;

	if (err)
		snprintf(r->check, sizeof(r->check), "%s self-check FAILED: %s", wl_name(wl), why);
	else
		snprintf(r->check, sizeof(r->check), "%s self-check passed, every payload checksum "
			 "matched", wl_name(wl));
}

/* Eager: the workload's self-check on the RAM as loaded, before anything
 * runs (as a migration's destination checks it): the words go to status. */
static void restore_check(struct restore *r)
{
	const struct machine_region *rg;
	struct wl_holes holes = snap_load_holes(r->f);
	const char *none = restore_check_none(r);
	char why[160];
	int err;

	if (none) {
		snprintf(r->check, sizeof(r->check), "%s", none);
		return;
	}
	machine_regions(r->m, &rg);
	err = wl_check_sparse(rg[0].host, rg[0].size, &holes, why, sizeof(why));
	restore_check_say(r, err, why);
}

/* Lazy, once every page is in: the check on the paused VM (its vCPUs
 * write RAM), skipping the memfd's holes as they are now. */
static void restore_check_running(struct restore *r)
{
	const struct machine_region *rg;
	struct wl_holes holes;
	const char *none = restore_check_none(r);
	char why[160];
	int err;

	if (none) {
		snprintf(r->check, sizeof(r->check), "%s", none);
		return;
	}
	machine_regions(r->m, &rg);
	holes = pages_memfd_holes(&rg[0]);
	if ((err = machine_pause(r->m))) {
		snprintf(r->check, sizeof(r->check), "%s self-check not run: pausing the VM "
			 "failed: %s", wl_name(r->cfg.params.workload), strerror(-err));
		return;
	}
	err = wl_check_sparse(rg[0].host, rg[0].size, &holes, why, sizeof(why));
	restore_check_say(r, err, why);
	if ((err = machine_resume(r->m))) {
		size_t n = strlen(r->check);

		snprintf(r->check + n, sizeof(r->check) - n, "; resuming the VM failed (%s)",
			 strerror(-err));
	}
}

static double ms_since(uint64_t t0, uint64_t t)
{
	return (t - t0) / 1e6;
}

static void restore_print(const struct restore *r)
{
	const struct snap_commit *c = snap_commit_of(r->f);
	char id[2 * SNAP_ID_LEN + 1];

	snap_id_hex(snap_id_of(r->f), id);
	printf("VM '%s' running: restored %sfrom %s in %.1f ms (snapshot %s)\n", r->name,
	       r->eager ? "" : "lazily ", r->file, ms_since(r->t0, r->t_started), id);
	printf("  engine %s, %llu MiB, %u vCPUs, %s %s\n", machine_engine_name(r->cfg.engine),
	       (unsigned long long)(r->cfg.ram_bytes >> 20), r->cfg.vcpus,
	       r->cfg.guest == MACHINE_GUEST_LINUX ? "Linux kernel" : "workload",
	       r->cfg.guest == MACHINE_GUEST_LINUX ? snap_meta_of(r->f)->kernel :
	       wl_name(r->cfg.params.workload));
	if (!r->eager) {
		printf("  pages: %llu data and %llu zero to come from the file as the VM runs "
		       "(faults first, a filler for the rest)\n", (unsigned long long)c->data_pages,
		       (unsigned long long)(c->npages - c->data_pages));
		fflush(stdout);
		return;
	}
	printf("  pages: %llu read and checked (%.1f MiB in %.1f ms), %llu zero (left as "
	       "holes); state loaded in %.1f ms\n", (unsigned long long)r->st.data_pages,
	       r->st.data_pages * (double)SNAP_PAGE / 1048576.0, r->st.pages_ns / 1e6,
	       (unsigned long long)r->st.zero_pages, r->st.state_ns / 1e6);
	printf("  check: %s\n", r->check);
	fflush(stdout);
}

/* ---- what the host asks of the restore (host.h) ---- */

struct restore_counts {
	uint64_t faulted, filled, zero, left, prefetched;
};

static void restore_counts(const struct restore *r, struct restore_counts *n)
{
	const struct snap_commit *c = snap_commit_of(r->f);
	struct pages_stats st;

	if (!r->lz) {
		*n = (struct restore_counts){ 0, r->st.data_pages, r->st.zero_pages, 0, 0 };
		return;
	}
	pages_lazy_stats(r->lz, &st);
	*n = (struct restore_counts){ st.faulted, st.filled, c->npages - c->data_pages,
				      c->data_pages - st.faulted - st.filled, st.prefetched };
}

static void restore_status(void *arg, struct pcm_jw *w)
{
	struct restore *r = arg;
	struct restore_counts n;
	char pending[120];

	restore_counts(r, &n);
	snprintf(pending, sizeof(pending), "pending: %llu data pages still to come from the file",
		 (unsigned long long)n.left);
	pcm_jw_str(w, "restore_check", r->t_resident ? r->check : pending);
	pcm_jw_str(w, "restore_mode", r->eager ? "eager" : "lazy");
	pcm_jw_num(w, "restore_started_ms", ms_since(r->t0, r->t_started));
	if (r->t_resident)
		pcm_jw_num(w, "restore_resident_ms", ms_since(r->t0, r->t_resident));
	else
		pcm_jw_null(w, "restore_resident_ms");
	pcm_jw_u64(w, "restore_pages_faulted", n.faulted);
	pcm_jw_u64(w, "restore_pages_filled", n.filled);
	pcm_jw_u64(w, "restore_pages_prefetched", n.prefetched);
	pcm_jw_u64(w, "restore_pages_zero", n.zero);
	pcm_jw_u64(w, "restore_pages_left", n.left);
}

/* Every page is in: the pages faults asked for, in order, beside the
 * file for the next --prefetch. A file that cannot be written there is
 * said, not an error: the VM runs on. */
static void restore_record(struct restore *r)
{
	const uint64_t *pfn;
	uint64_t n = pages_lazy_touched(r->lz, &pfn);
	int err = snap_wset_write(r->file, r->f, pfn, n);

	if (err)
		printf("  working set not recorded: %s%s: %s\n", r->file, SNAP_WSET_SUFFIX,
		       strerror(-err));
	else
		printf("  working set: %llu pages recorded in %s%s (for --prefetch)\n",
		       (unsigned long long)n, r->file, SNAP_WSET_SUFFIX);
}

/* The host saw evfd: 1 not over yet; 0 every page in (the check run, its
 * result printed); a failure in why. */
static int restore_over(void *arg, char *why, size_t len)
{
	struct restore *r = arg;
	struct restore_counts n;
	struct pages_stats st;
	uint64_t v;
	int err;

	if (read(r->evfd, &v, sizeof(v)) < 0 || !atomic_load(&r->ended))
		return 1;
	if ((err = atomic_load(&r->lazy_err))) {
		restore_why(r, err, atomic_load(&r->bad_pfn), why, len);
		return err;
	}
	pages_lazy_stats(r->lz, &st);
	r->t_resident = st.resident_ns;
	restore_check_running(r);
	restore_counts(r, &n);
	printf("VM '%s': every page resident %.1f ms after the restore began (started at "
	       "%.1f ms): %llu faulted, %llu filled, %llu zero (%llu mapped for a fault, the "
	       "rest left as holes)\n  check: %s\n", r->name, ms_since(r->t0, r->t_resident),
	       ms_since(r->t0, r->t_started), (unsigned long long)n.faulted,
	       (unsigned long long)n.filled, (unsigned long long)n.zero,
	       (unsigned long long)st.faulted_zero, r->check);
	restore_record(r);
	fflush(stdout);
	return 0;
}

static void restore_halt(void *arg)
{
	struct restore *r = arg;

	pages_lazy_halt(r->lz);
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
	if (r->eager)
		restore_check(r);
	if ((err = machine_start(r->m)))
		return cli_error("cannot start the VM: %s", strerror(-err));
	r->t_started = pcm_now_ns();
	return 0;
}

static void restore_free(struct restore *r)
{
	pages_lazy_destroy(r->lz);   /* before the VM's RAM goes */
	if (r->evfd >= 0)
		close(r->evfd);
	free(r->ws);
	snap_close(r->f);
	free(r);
}

int cmd_restore(int argc, char **argv)
{
	struct restore *r = calloc(1, sizeof(*r));
	struct vmhost_restored from;
	int err;

	if (!r)
		return cli_error("out of memory");
	r->t0 = pcm_now_ns();
	r->evfd = -1;
	err = restore_args(r, argc, argv);
	if (!err)
		err = restore_start(r);
	if (err) {
		pages_lazy_destroy(r->lz);
		r->lz = NULL;
		if (r->m)
			machine_destroy(r->m);
		restore_free(r);
		return err < 0 ? 0 : err;
	}
	restore_print(r);
	r->ops = (struct vmhost_restore_ops){ restore_status, r->eager ? -1 : r->evfd,
					      restore_over, restore_halt, r };
	/* The file stays open: the name and the configuration's strings
	 * (disk paths) point into its meta. */
	from = (struct vmhost_restored){ r->path, r->check, &r->ops };
	err = vmhost_serve_restored(r->m, r->name, &from);
	restore_free(r);
	return err;
}
