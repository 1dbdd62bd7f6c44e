/* cli/cmd_engines.c - `postcopy-move engines`: which engines can run
 * a guest on this host, and why not. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "cli/cli.h"
#include "vm/machine.h"

static const char engines_help[] =
"usage: postcopy-move engines [--check ENGINE]\n"
"\n"
"List the engines that can run a guest here (kvm needs a working /dev/kvm;\n"
"thread runs anywhere) and which one --engine auto picks.\n"
"\n"
"  --check ENGINE         print nothing; exit 0 if ENGINE works here, 1 if not\n"
"  -h, --help             this help\n";

/* In the order listed. */
static const enum machine_engine_kind kinds[] = { MACHINE_ENGINE_KVM, MACHINE_ENGINE_THREAD };

int cmd_engines(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "check", required_argument, 0, 'c' }, { "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 } };
	const char *check = NULL;
	struct machine_config c = { .ram_bytes = 0, .vcpus = 1 };
	char why[200];
	int opt;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			fputs(engines_help, stdout);
			return 0;
		case 'c':
			check = optarg;
			break;
		default:
			return cli_usage_error("engines", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_error("engines", "unexpected argument '%s'", argv[optind]);
	if (check)   /* no such engine, or auto (no engine yet): 1 */
		return machine_engine_parse(check, &c.engine) ||
		       machine_probe(&c, why, sizeof(why)) ? 1 : 0;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		const char *name = machine_engine_name(kinds[i]);

		c.engine = kinds[i];
		if (machine_probe(&c, why, sizeof(why)))
			printf("%-8s unavailable: %s\n", name, why);
		else
			printf("%-8s available\n", name);
	}
	c.engine = MACHINE_ENGINE_AUTO;
	machine_engine_pick(&c, why, sizeof(why));
	printf("%-8s -> %s\n", machine_engine_name(MACHINE_ENGINE_AUTO), why);
	return 0;
}
