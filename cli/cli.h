/* cli/cli.h - what the subcommands share: the one
 * place errors become words, progress display, option helpers. */
#ifndef CLI_CLI_H
#define CLI_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "host/host.h"
#include "lib/parse.h"
#include "postcopy/proto.h"
#include "guest/workload.h"
#include "vm/machine.h"

#define CLI_PROG PCM_PROG

/* Prints "postcopy-move: error: ..." on stderr; returns exit status 1. */
#define cli_error host_error   /* host/host.h: the one printer */
/* An error of ctl_call to VM name, in words (no such VM, an error reply
 * in why, ...); returns exit status 1. */
int cli_ctl_fail(const char *name, int err, const char *why);
/* A reply's object r of document d on stdout as one line of JSON
 * (--json); nothing if it does not fit a control line. */
struct pcm_json_doc;
struct pcm_json;
void cli_json_print(const struct pcm_json_doc *d, const struct pcm_json *r);
/* Prints "postcopy-move CMD: ..." plus a pointer to --help; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* On a terminal one updating line, otherwise a plain line a second. */
struct cli_progress { FILE *f; bool tty; double last_print; bool open; };
void cli_progress_init(struct cli_progress *pr, FILE *f);
void cli_progress_show(struct cli_progress *pr, const char *line, double elapsed_s);
void cli_progress_end(struct cli_progress *pr);

/* Block SIGINT/SIGTERM/SIGPIPE before any thread starts, so they reach the
 * VM host loop through a signalfd and never a vCPU thread. */
void cli_signals_block(void);

/* Common machine options of run and demo. */
struct vm_opts {
	struct machine_config cfg;
	char workload[16];
	char console[256];        /* cfg.console points here */
	char engine_note[240];    /* which engine and, for auto, why */
	bool workload_set;        /* --workload given */
};
void vm_opts_default(struct vm_opts *v, uint64_t mem, unsigned vcpus, const char *wl);
/* Handles --mem --vcpus --workload --working-set --write-fraction
 * --dirty-rate --kv-keys --kv-put-fraction --seed; 1 if it took the option,
 * 0 if not, 2 (after printing why) if its value is bad. */
int vm_opts_parse(struct vm_opts *v, const char *cmd, int opt, const char *arg);
/* --disk FILE[,ro] into d[*n]: 1 taken, else the exit status after
 * printing why. */
int vm_disk_parse(const char *cmd, char *arg, struct machine_disk *d, unsigned *n);
/* --net tap=NAME[,mac=MAC] into nics[*n]: 1 taken, else the exit status
 * after a usage error. */
int vm_net_parse(const char *cmd, char *arg, struct machine_nic *nics, unsigned *n);
/* Check the whole; 0 or exit status 2 after printing why. */
int vm_opts_finish(struct vm_opts *v, const char *cmd);
struct migrate_opts;
/* A migration option (migopts.h) from the command line: 1 taken, 0 not
 * one, else the exit status after printing why. */
int cli_migopt(struct migrate_opts *o, const char *cmd, int opt, const char *arg);
/* migopts_check with its reason printed: 0 or the exit status. */
int cli_migopts_check(const struct migrate_opts *o, const char *cmd);

/* True once every vCPU finished its workload's set-up. */
bool vm_ready(struct machine *m);

struct receive_opts;
struct pm_hello;
struct pm_done;
/* Receive one VM on a listening socket (`receive` and `demo`); 0 with *m
 * running, or an exit status after printing why. */
int receive_on(int lfd, const struct receive_opts *o, struct machine **m,
	       struct pm_hello *hello, struct pm_done *done);

int cmd_run(int argc, char **argv);
int cmd_receive(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_engines(int argc, char **argv);
int cmd_recover(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_snapshot(int argc, char **argv);
int cmd_restore(int argc, char **argv);

#endif
