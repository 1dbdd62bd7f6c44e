/* cli/cmd_demo.c - `postcopy-move demo`: a whole live migration on
 * this machine. The destination is a child process receiving on a loopback
 * port; the parent boots the VM, lets its workload run, migrates it over
 * TCP and prints the report. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "net/chan.h"
#include "net/wire.h"
#include "cli/cli.h"
#include "lib/clock.h"
#include "postcopy/migopts.h"
#include "postcopy/migrate.h"
#include "cli/vmopts.h"

static const char demo_help[] =
"usage: postcopy-move demo [--mem SIZE] [--vcpus N] [--workload NAME] [--mode MODE] [--json]\n"
"\n"
"Live migration on this machine: source and destination are two\n"
"processes talking TCP over loopback. Boots the VM, runs its workload for\n"
"--warmup seconds, migrates it, shows progress and the report, and checks\n"
"the guest on the destination. Defaults: 1G, 2 vCPUs, kv.\n"
"\n"
"  --warmup SECONDS       run the workload this long before migrating (1)\n"
"  --json                 print the report as one JSON object\n"
VMOPTS_HELP;

/* The destination: receive, run the VM a little on its own, stop. */
static int demo_child(int lfd, bool quiet, const char *console, const char *psk_file)
{
	struct receive_opts o = { .accept_timeout_ms = 10000, .reply_timeout_ms = 30000,
				  .console = console };
	char why[300];

	if (psk_file[0] && pm_key_load(psk_file, &o.key, why, sizeof(why)))
		return cli_error("destination: %s", why);
	struct machine_stats a, b;
	struct pm_hello hello;
	struct pm_done done;
	struct machine *m;
	int err = receive_on(lfd, &o, &m, &hello, &done);

	close(lfd);
	if (err)
		return err;
	machine_stats(m, &a);
	nanosleep(&(struct timespec){ 0, 300000000 }, NULL);
	machine_stats(m, &b);
	if (!quiet)
		fprintf(stderr, "destination: VM ran on after the migration (%llu more operations)\n",
			(unsigned long long)(b.ops - a.ops));
	machine_destroy(m);
	if (hello.params.workload != WL_IDLE && b.ops <= a.ops)
		return cli_error("destination: the VM made no progress after the migration");
	return done.verified ? 0 : cli_error("destination: verification failed: %s",
					     done.verify_detail);
}

static void demo_progress(void *arg, const struct pm_progress *p, uint64_t npages, double t)
{
	char line[200];

	report_progress_format(line, sizeof(line), p, npages, t);
	cli_progress_show(arg, line, t);
}

/* Boot, warm up, migrate; 0 or exit status. */
static void demo_round(void *arg, unsigned round, uint64_t pages, uint64_t bytes,
		       uint64_t pending)
{
	cli_progress_end(arg);
	fprintf(stderr, "source: pre-copy round %u: %llu pages, %.1f MiB; %llu pages written since\n",
		round, (unsigned long long)pages, bytes / 1048576.0, (unsigned long long)pending);
}

static int demo_source(struct vm_opts *v, struct migrate_opts *mo, double warmup, bool json)
{
	struct migrate_opts o = *mo;
	struct cli_progress pr;
	struct pm_fail fail;
	struct report r;
	struct machine *m;
	uint64_t t0;
	int err = machine_create(&v->cfg, &m);

	if (err)
		return cli_error("cannot create the VM: %s", strerror(-err));
	if ((err = machine_start(m))) {
		machine_destroy(m);
		return cli_error("cannot start the VM: %s", strerror(-err));
	}
	fprintf(stderr, "source: VM booted (engine %s, %llu MiB, %u vCPUs, %s); setting up the workload\n",
		v->engine_note, (unsigned long long)(v->cfg.ram_bytes >> 20), v->cfg.vcpus, v->workload);
	t0 = pcm_now_ns();
	while (!vm_ready(m) && pcm_now_ns() - t0 < 120000000000ull)
		nanosleep(&(struct timespec){ 0, 20000000 }, NULL);
	fprintf(stderr, "source: workload running; migrating in %.1f s\n", warmup);
	nanosleep(&(struct timespec){ (time_t)warmup, (long)((warmup - (time_t)warmup) * 1e9) }, NULL);
	pm_strset(o.host, sizeof(o.host), "127.0.0.1");
	pm_strset(o.name, sizeof(o.name), "demo");
	cli_progress_init(&pr, stderr);
	o.progress_arg = &pr;
	pm_fail_init(&fail);
	err = source_migrate(m, &o, &r, &fail);
	cli_progress_end(&pr);
	machine_destroy(m);
	if (err)
		return cli_error("migration failed: %s", fail.why);
	(json ? report_print_json : report_print_human)(stdout, &r);
	return r.verified ? 0 : cli_error("the migrated VM did not verify: %s", r.verify_detail);
}

int cmd_demo(int argc, char **argv)
{
	static const struct option own[] = {
		VMOPTS_LONG, { "json", no_argument, 0, 'j' },
		{ "warmup", required_argument, 0, 'w' }, { "help", no_argument, 0, 'h' } };
	enum { NOWN = sizeof(own) / sizeof(own[0]) };
	struct option longopts[NOWN + MIGOPT_COUNT + 1] = { 0 };
	struct migrate_opts o = { .connect_timeout_ms = 5000, .reply_timeout_ms = 30000,
				  .progress = demo_progress, .round_done = demo_round,
				  .mode = PM_MODE_POSTCOPY };
	struct vm_opts v;
	double warmup = 1;
	bool json = false;
	uint16_t port;
	int opt, err, lfd, status;
	pid_t child;

	vm_opts_default(&v, 1ull << 30, 2, "kv");
	memcpy(longopts, own, sizeof(own));
	migopts_getopt(longopts + NOWN);
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(demo_help, stdout);
			migopts_help(stdout);
			fputs("  -h, --help             this help\n", stdout);
			return 0;
		}
		if (opt == 'j')
			json = true;
		else if (opt == 'w' && (pcm_parse_double(optarg, &warmup) || warmup > 3600))
			return cli_usage_error("demo", "invalid --warmup '%s'", optarg);
		else if (opt != 'w' && (err = vm_opts_parse(&v, "demo", opt, optarg)) != 1 &&
			 (err = err ? err : cli_migopt(&o, "demo", opt, optarg)) != 1)
			return err ? err : cli_usage_error("demo", "unknown option");
	}
	if (optind < argc)
		return cli_usage_error("demo", "unexpected argument '%s'", argv[optind]);
	if ((err = vm_opts_finish(&v, "demo")) || (err = cli_migopts_check(&o, "demo")))
		return err;
	if ((err = net_listen("127.0.0.1", 0, &lfd, &port)))
		return cli_error("cannot listen on loopback: %s", wire_strerror(err));
	fflush(NULL);
	child = fork();
	if (child < 0)
		return cli_error("fork failed");
	if (child == 0)
		_exit(demo_child(lfd, json, v.cfg.console, o.psk_file));
	close(lfd);
	o.port = port;
	err = demo_source(&v, &o, warmup, json);
	if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		return err ? err : cli_error("the destination process failed");
	return err;
}
