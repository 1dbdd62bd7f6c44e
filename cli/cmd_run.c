/* cli/cmd_run.c - `postcopy-move run`: boot a VM and host it. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "cli/cli.h"
#include "host/ctl.h"
#include "cli/vmopts.h"

static const char run_help[] =
"usage: postcopy-move run --mem SIZE --vcpus N --workload NAME [options]\n"
"       postcopy-move run --engine kvm --kernel BZIMAGE [--initrd FILE] [options]\n"
"\n"
"Boot a VM and keep it running in this process, with a control socket\n"
"(in $POSTCOPY_MOVE_RUN_DIR or /run/postcopy-move, mode 0600) that\n"
"`status`, `stop` and `migrate` use. Stops on `stop`, Ctrl-C or SIGTERM,\n"
"and when the guest powers off or asks for a reset (exit status 0).\n"
"\n"
"  --name NAME            name of the VM (default: vm)\n"
VMOPTS_HELP
VMOPTS_LINUX_HELP
"  -h, --help             this help\n";

int cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		VMOPTS_LONG, VMOPTS_LINUX_LONG, { "name", required_argument, 0, 'n' },
		{ "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
	struct vm_opts v;
	const char *name = "vm";
	char why[300];
	struct machine *m;
	int opt, err;

	vm_opts_default(&v, 1ull << 30, 2, "kv");
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(run_help, stdout);
			return 0;
		}
		if (opt == 'n') {
			name = optarg;
			continue;
		}
		if ((err = vm_opts_parse(&v, "run", opt, optarg)) != 1)
			return err ? err : cli_usage_error("run", "unknown option");
	}
	if (optind < argc)
		return cli_usage_error("run", "unexpected argument '%s'", argv[optind]);
	if (ctl_name_check(name))
		return cli_usage_error("run", "invalid VM name '%s' (1-63 of A-Z a-z 0-9 . _ -)", name);
	if ((err = vm_opts_finish(&v, "run")))
		return err;
	if (ctl_precheck(name, why, sizeof(why)))
		return cli_error("%s", why);
	cli_signals_block();
	if ((err = machine_create_why(&v.cfg, &m, why, sizeof(why))))
		return cli_error("cannot create the VM: %s", why);
	if ((err = machine_start(m))) {
		machine_destroy(m);
		return cli_error("cannot start the VM: %s", strerror(-err));
	}
	if (v.cfg.guest == MACHINE_GUEST_LINUX)
		printf("VM '%s' running: engine %s, %llu MiB, %u vCPUs, Linux kernel %s\n", name,
		       v.engine_note, (unsigned long long)(v.cfg.ram_bytes >> 20), v.cfg.vcpus,
		       v.cfg.lx.kernel);
	else
		printf("VM '%s' running: engine %s, %llu MiB, %u vCPUs, workload %s\n", name,
		       v.engine_note, (unsigned long long)(v.cfg.ram_bytes >> 20), v.cfg.vcpus,
		       v.workload);
	fflush(stdout);
	return vmhost_serve(m, name);
}
