/* cli/cmd_receive.c - `postcopy-move receive`: wait for one VM,
 * then host it. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "net/chan.h"
#include "net/wire.h"
#include "cli/cli.h"
#include "host/ctl.h"
#include "postcopy/migopts.h"
#include "postcopy/migrate.h"

static const char receive_help_head[] =
"usage: postcopy-move receive --listen ADDR:PORT [--name NAME] [options]\n"
"\n"
"Wait for one incoming VM, take it over post-copy, then keep running it\n"
"here with a control socket like `run` (use `status`, `stop`, `migrate`).\n"
"A peer refused before the VM is admitted (no key, wrong key, garbage, a\n"
"VM too large, a name already running here) gets the reason and is noted\n"
"here; the wait goes on until a source is admitted or Ctrl-C.\n"
"\n"
"  --listen ADDR:PORT     address to listen on, e.g. 127.0.0.1:7000\n"
"  --name NAME            name here (default: the name the source sends)\n"
"  --mem-limit SIZE       refuse VMs with more RAM than SIZE\n"
"  --timeout SECONDS      give up when the source is silent this long (30)\n"
"  --console FILE         kvm guests: serial console to FILE ('-': stdout)\n"
"  --disk FILE[,ro]       a Linux guest's disk here, in the source's order: the\n"
"                         same image (shared storage); a VM with another number\n"
"                         of disks is refused before anything moves\n"
"  --net tap=NAME[,mac=MAC]  a Linux guest's network card here, in the source's\n"
"                         order, on tap NAME (opened, or created); the MAC\n"
"                         comes with the VM (mac= here must be the same)\n"
"  --insecure             listen beyond loopback without a key\n";
/* then the session's options shared with migrate (postcopy/migopts.c) */

static void receive_help(void)
{
	fputs(receive_help_head, stdout);
	migopts_help_receive(stdout);
	fputs("  -h, --help             this help\n", stdout);
}

static bool addr_is_loopback(const char *host)
{
	struct in_addr a;

	if (!strcmp(host, "localhost") || !strcmp(host, "::1"))
		return true;
	return inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

/* Parse the options into o; 0, or an exit status after printing why. */
static int receive_parse(int argc, char **argv, struct receive_opts *o,
			 char *host, uint16_t *port, const char **name)
{
	enum { NOWN = 9 };
	static struct option longopts[NOWN + MIGOPT_COUNT + 1] = {
		{ "listen", required_argument, 0, 'l' }, { "name", required_argument, 0, 'n' },
		{ "mem-limit", required_argument, 0, 'm' }, { "timeout", required_argument, 0, 't' },
		{ "console", required_argument, 0, 'c' }, { "disk", required_argument, 0, 'd' },
		{ "insecure", no_argument, 0, 'i' }, { "net", required_argument, 0, 'N' },
		{ "help", no_argument, 0, 'h' } };
	bool have_listen = false, insecure = false;
	char why[300];
	uint64_t secs;
	int opt, r;

	migopts_getopt_receive(longopts + NOWN);
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if ((r = migopts_set_receive(o, opt, optarg, why, sizeof(why))) == 1)
			continue;
		if (r == -EINVAL)
			return cli_usage_error("receive", "%s", why);
		if (r < 0)
			return cli_error("receive: %s", why);
		switch (opt) {
		case 'h':
			receive_help();
			return -1;
		case 'l':
			if (net_parse_addr(optarg, host, 256, port))
				return cli_usage_error("receive", "invalid --listen '%s' (want ADDR:PORT)", optarg);
			have_listen = true;
			break;
		case 'n':
			if (ctl_name_check(optarg))
				return cli_usage_error("receive", "invalid VM name '%s'", optarg);
			*name = optarg;
			break;
		case 'm':
			if (pcm_parse_size(optarg, &o->mem_limit))
				return cli_usage_error("receive", "invalid --mem-limit '%s'", optarg);
			break;
		case 'c':
			o->console = strcmp(optarg, "none") ? optarg : NULL;
			break;
		case 'd': {
			int r = vm_disk_parse("receive", optarg, o->disks, &o->ndisks);

			if (r != 1)
				return r;
			break;
		}
		case 'N': {
			int r = vm_net_parse("receive", optarg, o->nics, &o->nnics);

			if (r != 1)
				return r;
			break;
		}
		case 'i':
			insecure = true;
			break;
		case 't':
			if (pcm_parse_u64(optarg, 86400, &secs) || secs == 0)
				return cli_usage_error("receive", "invalid --timeout '%s'", optarg);
			o->reply_timeout_ms = (int)secs * 1000;
			break;
		default:
			return cli_usage_error("receive", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_error("receive", "unexpected argument '%s'", argv[optind]);
	if (!have_listen)
		return cli_usage_error("receive", "--listen ADDR:PORT is required");
	if (o->encrypt && !o->key.set)
		return cli_usage_error("receive", "--encrypt needs --psk-file (the keys come from it)");
	if (!o->key.set && !insecure && !addr_is_loopback(host))
		return cli_error("receive: refusing to listen on %s without a key: anyone who can "
				 "reach it could push a VM here (give --psk-file, or --insecure)", host);
	return 0;
}

/* Receive on an already listening socket; used by `receive` and `demo`.
 * On success *m runs and *hello says what came. */
int receive_on(int lfd, const struct receive_opts *base, struct machine **m,
	       struct pm_hello *hello, struct pm_done *done)
{
	struct receive_opts o = *base;
	struct pm_fail fail;

	o.lfd = lfd;
	pm_fail_init(&fail);
	if (dest_receive(&o, m, hello, done, &fail, NULL))
		return cli_error("receiving the VM failed: %s", fail.why);
	return 0;
}

int cmd_receive(int argc, char **argv)
{
	struct receive_opts o = { .accept_timeout_ms = 10000, .reply_timeout_ms = 30000,
				  .keep_listening = true };
	char host[256];
	uint16_t port, bound;
	const char *name = NULL;
	char why[300];
	int lfd, err = receive_parse(argc, argv, &o, host, &port, &name);

	if (err)
		return err < 0 ? 0 : err;
	if (ctl_precheck(name, why, sizeof(why)))
		return cli_error("%s", why);
	cli_signals_block();
	if ((err = net_listen(host, port, &lfd, &bound)))
		return cli_error("cannot listen on %s:%u: %s", host, port, wire_strerror(err));
	printf("waiting for a VM on %s:%u\n", host, bound);
	fflush(stdout);
	return vmhost_receive(lfd, &o, name);
}
