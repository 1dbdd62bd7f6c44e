/* cli/cmd_client.c - `migrate`, `status`, `stop`: talk to a running
 * VM's control socket. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "net/chan.h"
#include "cli/cli.h"
#include "lib/clock.h"
#include "host/ctl.h"
#include "postcopy/migopts.h"
#include "postcopy/migrate.h"
#include "lib/json.h"

/* Events the VM process sends a plain client: its "output" lines go to
 * stdout, "note" lines to stderr. */
static void print_event(void *arg, const char *kind, const char *text)
{
	(void)arg;
	if (!strcmp(kind, "note"))
		fprintf(stderr, "%s\n", text);
	else
		puts(text);
}

static const struct ctl_client plain = { .event = print_event };

/* {"req": req} with one optional string or boolean member. */
static const char *request(char *buf, size_t n, const char *req, const char *skey,
			   const char *sval, const char *bkey, bool bval)
{
	struct pcm_jw w;

	pcm_jw_init(&w, buf, n);
	pcm_jw_obj(&w, NULL);
	pcm_jw_str(&w, "req", req);
	if (skey && sval)
		pcm_jw_str(&w, skey, sval);
	if (bkey)
		pcm_jw_bool(&w, bkey, bval);
	pcm_jw_end(&w);
	return pcm_jw_finish(&w) < 0 ? "{}" : buf;
}

/* NAME as the only positional argument, --help, nothing else. */
static int client_args(int argc, char **argv, const char *cmd, const char *help,
		       const char **name)
{
	static const struct option longopts[] = {
		{ "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
	int opt;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(help, stdout);
			return -1;
		}
		return cli_usage_error(cmd, "unknown option");
	}
	if (optind != argc - 1)
		return cli_usage_error(cmd, "expects exactly one VM name");
	*name = argv[optind];
	return 0;
}

struct status_view { bool json; bool printed; };

/* The status object as "key: value" lines in its order, or as JSON. */
static void status_result(void *arg, const struct pcm_json_doc *d, const struct pcm_json *r)
{
	struct status_view *v = arg;

	if (!r || r->type != PCM_JSON_OBJECT)
		return;
	v->printed = true;
	if (v->json) {
		cli_json_print(d, r);
		return;
	}
	for (const struct pcm_json *m = pcm_json_first(d, r); m; m = pcm_json_next(d, m)) {
		if (m->type == PCM_JSON_STRING)
			printf("%s: %s\n", m->key, m->str);
		else if (m->type == PCM_JSON_NUMBER && m->is_int)
			printf("%s: %lld\n", m->key, (long long)m->i);
		else if (m->type == PCM_JSON_NUMBER)
			printf("%s: %.1f\n", m->key, m->num);
		else if (m->type == PCM_JSON_BOOL)
			printf("%s: %s\n", m->key, m->b ? "true" : "false");
	}
}

static const char status_help[] =
"usage: postcopy-move status NAME [--json]\n"
"\n"
"Show a running VM's state and counters, one \"key: value\" line each.\n"
"\n"
"  --json                 print them as one JSON object (docs/control.md)\n";

int cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, 0, 'j' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
	struct status_view v = { 0 };
	struct ctl_client c = { .event = print_event, .result = status_result, .arg = &v };
	char why[400], req[64];
	int opt, err;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(status_help, stdout);
			return 0;
		}
		if (opt != 'j')
			return cli_usage_error("status", "unknown option");
		v.json = true;
	}
	if (optind != argc - 1)
		return cli_usage_error("status", "expects exactly one VM name");
	err = ctl_call(argv[optind], request(req, sizeof(req), "status", NULL, NULL, NULL, false),
		       &c, why, sizeof(why));
	if (!err && !v.printed)
		return cli_error("VM '%s' answered status without its state", argv[optind]);
	return err ? cli_ctl_fail(argv[optind], err, why) : 0;
}

int cmd_stop(int argc, char **argv)
{
	const char *name = NULL;
	char why[400], req[64];
	int err = client_args(argc, argv, "stop",
			      "usage: postcopy-move stop NAME\n\nStop a running VM and free it.\n",
			      &name);

	if (err)
		return err < 0 ? 0 : err;
	err = ctl_call(name, request(req, sizeof(req), "stop", NULL, NULL, NULL, false), &plain,
		       why, sizeof(why));
	if (err)
		return cli_ctl_fail(name, err, why);
	printf("VM '%s' stopped\n", name);
	return 0;
}

static const char migrate_help[] =
"usage: postcopy-move migrate NAME --to HOST:PORT [--mode MODE] [options] [--json]\n"
"       postcopy-move migrate NAME --switch-to-postcopy\n"
"\n"
"Move the running VM NAME to a destination started with\n"
"`postcopy-move receive --listen HOST:PORT`. In post-copy the VM pauses\n"
"only for its vCPU state to cross; memory follows on demand and in the\n"
"background. precopy copies memory in rounds while the VM runs and pauses\n"
"it for the rest; hybrid does a few rounds, then post-copy. Before the\n"
"destination has the VM any failure leaves it running here.\n"
"\n"
"  --to HOST:PORT         the destination\n"
"  --json                 print the report as one JSON object\n";
static const char migrate_help_end[] =
"  --switch-to-postcopy   (alone) switch NAME's running pre-copy to post-copy now\n"
"  -h, --help             this help\n";

struct migrate_view { struct cli_progress pr; uint64_t t0; };

static void migrate_event(void *arg, const char *kind, const char *text)
{
	struct migrate_view *v = arg;

	if (!strcmp(kind, "progress")) {
		cli_progress_show(&v->pr, text, (pcm_now_ns() - v->t0) / 1e9);
		return;
	}
	cli_progress_end(&v->pr);
	if (!strcmp(kind, "note"))
		fprintf(stderr, "%s\n", text);
	else
		puts(text);
}

static int migrate_switch(const char *name, const char *to)
{
	char why[400], req[64];
	int err;

	if (to)
		return cli_usage_error("migrate", "--switch-to-postcopy takes no --to: the "
				       "migration already has its destination");
	err = ctl_call(name, request(req, sizeof(req), "switch", NULL, NULL, NULL, false), &plain,
		       why, sizeof(why));
	if (err == -EIO)
		return cli_error("cannot switch '%s': %s", name, why);
	if (err)
		return cli_ctl_fail(name, err, why);
	printf("VM '%s': switching its migration to post-copy\n", name);
	return 0;
}

int cmd_migrate(int argc, char **argv)
{
	static const struct option own[] = {
		{ "to", required_argument, 0, 't' }, { "switch-to-postcopy", no_argument, 0, 's' },
		{ "json", no_argument, 0, 'j' }, { "help", no_argument, 0, 'h' } };
	struct option longopts[4 + MIGOPT_COUNT + 1] = { 0 };
	struct migrate_opts o = { .mode = PM_MODE_POSTCOPY };
	const char *to = NULL;
	char host[256], req[2048], why[400];
	struct migrate_view v = { .t0 = pcm_now_ns() };
	struct ctl_client c = { .event = migrate_event, .arg = &v };
	struct pcm_jw w;
	bool do_switch = false;
	uint16_t port;
	int opt, json = 0, err;

	memcpy(longopts, own, sizeof(own));
	migopts_getopt(longopts + 4);
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			fputs(migrate_help, stdout);
			migopts_help(stdout);
			fputs(migrate_help_end, stdout);
			return 0;
		case 't': to = optarg; break;
		case 'j': json = 1; break;
		case 's': do_switch = true; break;
		default:
			if ((err = cli_migopt(&o, "migrate", opt, optarg)) != 1)
				return err ? err : cli_usage_error("migrate", "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("migrate", "expects exactly one VM name");
	if (do_switch)
		return migrate_switch(argv[optind], to);
	if (!to || net_parse_addr(to, host, sizeof(host), &port))
		return cli_usage_error("migrate", "--to HOST:PORT is required (got '%s')", to ? to : "");
	if ((err = cli_migopts_check(&o, "migrate")))
		return err;
	cli_progress_init(&v.pr, stderr);
	pcm_jw_init(&w, req, sizeof(req));
	pcm_jw_obj(&w, NULL);
	pcm_jw_str(&w, "req", "migrate");
	pcm_jw_str(&w, "to", to);
	pcm_jw_bool(&w, "json", json);
	pcm_jw_obj(&w, "options");
	migopts_to_json(&o, &w);
	pcm_jw_end(&w);
	pcm_jw_end(&w);
	if (pcm_jw_finish(&w) < 0)
		return cli_error("migrate: the request does not fit in %zu bytes", sizeof(req));
	err = ctl_call(argv[optind], req, &c, why, sizeof(why));
	cli_progress_end(&v.pr);
	if (err == -EIO)
		return cli_error("migration failed: %s", why);
	return err ? cli_ctl_fail(argv[optind], err, why) : 0;
}

static const char recover_help[] =
"usage: postcopy-move recover NAME [--to HOST:PORT | --give-up]\n"
"\n"
"NAME's migration lost its link after the destination took the VM over\n"
"(`status` says postcopy-paused). The source keeps reconnecting with\n"
"backoff for --recover-timeout; this makes it try now, and with --to at\n"
"another address of the destination (which must be listening there).\n"
"Run it where the VM came from.\n"
"\n"
"--give-up ends the wait at either end at once, as if --recover-timeout\n"
"ran out: the source keeps its paused copy (see `resume`); the\n"
"destination keeps the VM only if every page had arrived.\n"
"\n"
"  --to HOST:PORT         reconnect to this address from now on\n"
"  --give-up              stop reconnecting (source) or waiting (destination)\n"
"  -h, --help             this help\n";

int cmd_recover(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "to", required_argument, 0, 't' }, { "give-up", no_argument, 0, 'g' },
		{ "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
	const char *to = NULL;
	char host[256], req[600], why[400];
	bool give_up = false;
	uint16_t port;
	int opt, err;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(recover_help, stdout);
			return 0;
		}
		if (opt == 'g')
			give_up = true;
		else if (opt == 't')
			to = optarg;
		else
			return cli_usage_error("recover", "unknown option");
	}
	if (optind != argc - 1)
		return cli_usage_error("recover", "expects exactly one VM name");
	if (to && give_up)
		return cli_usage_error("recover", "--to and --give-up exclude each other");
	if (to && net_parse_addr(to, host, sizeof(host), &port))
		return cli_usage_error("recover", "invalid --to '%s' (want HOST:PORT)", to);
	request(req, sizeof(req), give_up ? "give-up" : "recover", "to", to, NULL, false);
	err = ctl_call(argv[optind], req, &plain, why, sizeof(why));
	if (err == -EIO)
		return cli_error("cannot %s '%s': %s", give_up ? "give up recovering" : "recover",
				 argv[optind], why);
	if (err)
		return cli_ctl_fail(argv[optind], err, why);
	if (give_up)
		printf("VM '%s': giving up the migration's recovery\n", argv[optind]);
	else
		printf("VM '%s': reconnecting now%s%s\n", argv[optind], to ? " to " : "",
		       to ? to : "");
	return 0;
}

static const char resume_help[] =
"usage: postcopy-move resume NAME [--force]\n"
"\n"
"A migration that failed after the destination took the VM over leaves\n"
"the source's copy paused (`status` says paused), as it was at the pause:\n"
"resuming it could run the VM twice. resume first asks the destination\n"
"(at the address it migrated to, with the same key) whether it runs the\n"
"VM:\n"
"  - it does not hold it: this copy runs again from the pause;\n"
"  - it runs it, waiting for pages: refused (it would run twice);\n"
"  - it runs it with every page: the migration had succeeded, this copy\n"
"    is released and the source's process exits.\n"
"When nobody answers there, resume refuses unless --force is given: use\n"
"it only when you know the destination's copy is gone (its host died).\n"
"\n"
"  --force                resume even if the destination cannot be asked\n"
"  -h, --help             this help\n";

int cmd_resume(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "force", no_argument, 0, 'f' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
	bool force = false;
	char why[600], req[64];
	int opt, err;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (opt == 'h') {
			fputs(resume_help, stdout);
			return 0;
		}
		if (opt != 'f')
			return cli_usage_error("resume", "unknown option");
		force = true;
	}
	if (optind != argc - 1)
		return cli_usage_error("resume", "expects exactly one VM name");
	err = ctl_call(argv[optind], request(req, sizeof(req), "resume", NULL, NULL, "force", force),
		       &plain, why, sizeof(why));
	if (err == -EIO)
		return cli_error("cannot resume '%s': %s", argv[optind], why);
	if (err)
		return cli_ctl_fail(argv[optind], err, why);
	return 0;
}
