/* cli/cmd_snapshot.c - `postcopy-move snapshot`: ask a running VM's host
 * process to write it to a file, live or paused (it owns the machine: the
 * request "snapshot" of docs/control.md does the work), and print its
 * answer. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"
#include "host/ctl.h"
#include "lib/json.h"

static const char snapshot_help[] =
"usage: postcopy-move snapshot NAME FILE [--pause] [--force] [--json]\n"
"\n"
"Write the running VM NAME to the snapshot file FILE: its configuration,\n"
"vCPU and device state, and all of guest RAM (zero pages as holes, every\n"
"page with its checksum; docs/snapshot-format.md), as it was at one\n"
"instant. NAME's own process does the work. Live (the default): it pauses\n"
"the VM only to save its state and write-protect its RAM (userfaultfd),\n"
"then writes RAM while the VM runs; a page the guest writes before it is\n"
"in the file is written first, then the guest goes on. With --pause the VM\n"
"stays paused while RAM is written. Either way the file is synced to disk\n"
"while the VM runs, and FILE appears only once it is complete (it is\n"
"written as FILE.tmp and renamed). Refused while the VM migrates or once\n"
"its guest crashed. `restore FILE` starts a copy of the VM.\n"
"\n"
"  --pause                pause the VM while its RAM is written (no write-protect:\n"
"                         for kernels without userfaultfd write-protect on shmem)\n"
"  --force                replace FILE if it exists\n"
"  --json                 print the result as one JSON object\n"
"  -h, --help             this help\n";

struct snap_view { bool json; bool printed; };

static uint64_t get_u64(const struct pcm_json_doc *d, const struct pcm_json *r, const char *k)
{
	const struct pcm_json *v = pcm_json_get(d, r, k);

	return v && v->type == PCM_JSON_NUMBER && v->is_int && v->i >= 0 ? (uint64_t)v->i : 0;
}

static double get_num(const struct pcm_json_doc *d, const struct pcm_json *r, const char *k)
{
	const struct pcm_json *v = pcm_json_get(d, r, k);

	return v && v->type == PCM_JSON_NUMBER ? v->num : 0;
}

static const char *get_str(const struct pcm_json_doc *d, const struct pcm_json *r, const char *k)
{
	const struct pcm_json *v = pcm_json_get(d, r, k);

	return v && v->type == PCM_JSON_STRING ? v->str : "?";
}

/* The answer in lines: the pause first, as the number an operator
 * watches. */
static void snap_result(void *arg, const struct pcm_json_doc *d, const struct pcm_json *r)
{
	struct snap_view *v = arg;
	const struct pcm_json *lv;
	uint64_t ram, data;
	bool live;

	if (!r || r->type != PCM_JSON_OBJECT)
		return;
	v->printed = true;
	ram = get_u64(d, r, "ram_bytes");
	data = get_u64(d, r, "data_pages");
	lv = pcm_json_get(d, r, "live");
	live = lv && lv->type == PCM_JSON_BOOL && lv->b;
	if (v->json) {
		cli_json_print(d, r);
		return;
	}
	printf("VM '%s' written to %s%s\n", get_str(d, r, "name"), get_str(d, r, "file"),
	       live ? " (live)" : "");
	printf("  paused      %.3f ms%s\n", get_num(d, r, "paused_ms"),
	       live ? " (the state saved, RAM write-protected)" : "");
	if (live)
		printf("  RAM copy    %.3f ms as the VM ran: %llu pages written early, the guest "
		       "writing them\n", get_num(d, r, "copy_ms"),
		       (unsigned long long)get_u64(d, r, "early_pages"));
	printf("  total       %.3f ms (the file synced after the VM resumed)\n",
	       get_num(d, r, "total_ms"));
	printf("  RAM         %.1f MiB: %llu pages with data, %llu zero pages (holes)\n",
	       ram / 1048576.0, (unsigned long long)data,
	       (unsigned long long)get_u64(d, r, "zero_pages"));
	printf("  file        %.1f MiB, %.1f MiB on disk (%.0f%% of RAM); state %llu bytes\n",
	       get_u64(d, r, "file_bytes") / 1048576.0, get_u64(d, r, "disk_bytes") / 1048576.0,
	       ram ? 100.0 * (double)get_u64(d, r, "disk_bytes") / (double)ram : 0.0,
	       (unsigned long long)get_u64(d, r, "state_bytes"));
	printf("  id          %s\n", get_str(d, r, "id"));
}

/* FILE as the VM's process must see it: absolute, since that process
 * has its own working directory. */
static int abs_path(const char *file, char *out, size_t n)
{
	char cwd[PATH_MAX];

	if (file[0] == '/')
		return snprintf(out, n, "%s", file) < (int)n ? 0 : -ENAMETOOLONG;
	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	return snprintf(out, n, "%s/%s", cwd, file) < (int)n ? 0 : -ENAMETOOLONG;
}

static int snap_request(char *buf, size_t n, const char *path, bool pause, bool force)
{
	struct pcm_jw w;

	pcm_jw_init(&w, buf, n);
	pcm_jw_obj(&w, NULL);
	pcm_jw_str(&w, "req", "snapshot");
	pcm_jw_str(&w, "file", path);
	pcm_jw_bool(&w, "pause", pause);
	pcm_jw_bool(&w, "force", force);
	pcm_jw_end(&w);
	return pcm_jw_finish(&w) < 0 ? -ENOSPC : 0;
}

int cmd_snapshot(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pause", no_argument, 0, 'p' }, { "force", no_argument, 0, 'f' },
		{ "json", no_argument, 0, 'j' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
	struct snap_view v = { 0 };
	struct ctl_client c = { .result = snap_result, .arg = &v };
	char path[PATH_MAX], req[PATH_MAX + 256], why[1200];
	bool pause = false, force = false;
	int opt, err;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h': fputs(snapshot_help, stdout); return 0;
		case 'p': pause = true; break;
		case 'f': force = true; break;
		case 'j': v.json = true; break;
		default: return cli_usage_error("snapshot", "unknown option");
		}
	}
	if (optind != argc - 2)
		return cli_usage_error("snapshot", "expects a VM name and a file");
	if (!argv[optind + 1][0])
		return cli_usage_error("snapshot", "the file name is empty");
	if ((err = abs_path(argv[optind + 1], path, sizeof(path))))
		return cli_error("snapshot: %s: %s", argv[optind + 1], strerror(-err));
	if (snap_request(req, sizeof(req), path, pause, force))
		return cli_error("snapshot: the file name %s is too long", argv[optind + 1]);
	err = ctl_call(argv[optind], req, &c, why, sizeof(why));
	if (err == -EIO)
		return cli_error("cannot snapshot VM '%s': %s", argv[optind], why);
	if (err)
		return cli_ctl_fail(argv[optind], err, why);
	if (!v.printed)
		return cli_error("VM '%s' answered snapshot without its result", argv[optind]);
	return 0;
}
