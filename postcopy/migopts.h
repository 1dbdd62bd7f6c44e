/* postcopy/migopts.h - getopt codes and help text of the migration
 * options that `migrate` and `demo` share (mig_opts_parse in cli.h), and
 * their one-line form on a VM's control socket. */
#ifndef POSTCOPY_MIGOPTS_H
#define POSTCOPY_MIGOPTS_H

#include <getopt.h>

enum {
	MIGOPT_MODE = 1100, MIGOPT_DOWNTIME, MIGOPT_ROUNDS, MIGOPT_PRE_ROUNDS,
	MIGOPT_PRE_SECONDS, MIGOPT_BANDWIDTH, MIGOPT_VERIFY_RAM, MIGOPT_PSK,
	MIGOPT_RECOVER_TIMEOUT, MIGOPT_LINK_TIMEOUT, MIGOPT_ENCRYPT,
};

#define MIGOPTS_LONG \
	{ "mode", required_argument, 0, MIGOPT_MODE }, \
	{ "max-downtime", required_argument, 0, MIGOPT_DOWNTIME }, \
	{ "max-rounds", required_argument, 0, MIGOPT_ROUNDS }, \
	{ "precopy-rounds", required_argument, 0, MIGOPT_PRE_ROUNDS }, \
	{ "precopy-seconds", required_argument, 0, MIGOPT_PRE_SECONDS }, \
	{ "max-bandwidth", required_argument, 0, MIGOPT_BANDWIDTH }, \
	{ "verify-ram", no_argument, 0, MIGOPT_VERIFY_RAM }, \
	{ "psk-file", required_argument, 0, MIGOPT_PSK }, \
	{ "recover-timeout", required_argument, 0, MIGOPT_RECOVER_TIMEOUT }, \
	{ "link-timeout", required_argument, 0, MIGOPT_LINK_TIMEOUT }, \
	{ "encrypt", no_argument, 0, MIGOPT_ENCRYPT }

#define MIGOPTS_HELP \
"  --mode MODE            postcopy (default), precopy, or hybrid\n" \
"  --max-downtime MS      precopy: stop-and-copy once the rest would cross\n" \
"                         in MS at the last round's rate (default 300)\n" \
"  --max-rounds N         precopy: give up converging after N rounds (30)\n" \
"  --precopy-rounds N     hybrid: pre-copy rounds before post-copy (1)\n" \
"  --precopy-seconds S    hybrid: or pre-copy for S seconds\n" \
"  --max-bandwidth RATE   cap the background stream (pre-copy rounds and the\n" \
"                         post-copy pusher) at RATE bytes/s, e.g. 100M;\n" \
"                         page replies to faulting vCPUs are never capped\n" \
"  --verify-ram           precopy: before resuming, the destination compares\n" \
"                         a digest of all guest RAM with the source's at the\n" \
"                         pause (proves the dirty tracking; adds to downtime)\n" \
"  --psk-file FILE        prove to the destination that both hold the key in\n" \
"                         FILE (mode 600, 16+ bytes) before any VM data flows\n" \
"  --encrypt              with --psk-file: seal all three channels (AES-256-GCM\n" \
"                         with AES-NI, else XChaCha20-Poly1305)\n" \
"  --link-timeout SECONDS once the destination runs the VM, silence this long\n" \
"                         counts as a broken link (5)\n" \
"  --recover-timeout SECONDS\n" \
"                         after a broken link, keep reconnecting this long\n" \
"                         (600); `postcopy-move recover NAME` retries now\n"

#endif
