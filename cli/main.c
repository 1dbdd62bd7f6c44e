/* cli/main.c - `postcopy-move`: dispatch to a subcommand. */
#include <stdio.h>
#include <string.h>
#include "cli/cli.h"

static const char main_help[] =
"usage: postcopy-move COMMAND [options]   (COMMAND --help for its options)\n"
"\n"
"Post-copy live migration of virtual machines.\n"
"\n"
"  run       boot a VM and host it (control socket for the commands below)\n"
"  receive   wait for one incoming VM, then host it\n"
"  migrate   move a running VM to a destination\n"
"  status    show a running VM\n"
"  stop      stop a running VM\n"
"  recover   make a migration whose link broke reconnect now (maybe elsewhere)\n"
"  resume    run again the paused copy a failed migration left on the source\n"
"  snapshot  write a running VM to a snapshot file (paused meanwhile)\n"
"  restore   start a VM from a snapshot file and host it\n"
"  demo      a whole migration on this machine, with its report\n"
"  engines   which engines (kvm, thread) can run a guest here\n";

static const struct { const char *name; int (*fn)(int, char **); } commands[] = {
	{ "run", cmd_run }, { "receive", cmd_receive }, { "migrate", cmd_migrate },
	{ "status", cmd_status }, { "stop", cmd_stop }, { "demo", cmd_demo },
	{ "engines", cmd_engines }, { "recover", cmd_recover }, { "resume", cmd_resume },
	{ "snapshot", cmd_snapshot }, { "restore", cmd_restore },
};

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		fputs(main_help, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command '%s' (see '%s --help')\n", CLI_PROG, argv[1], CLI_PROG);
	return 2;
}
