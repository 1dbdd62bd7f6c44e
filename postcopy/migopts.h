/* postcopy/migopts.h - the migration options, one table for all their
 * forms: the getopt options and --help lines of `migrate` and `demo` (and
 * of `receive`, for the session's options it shares), the
 * text each takes on the command line, and the JSON members a control
 * request carries them in. An option is added in migopts.c's table only.
 * Nothing here prints; errors come back as -errno with the words in why. */
#ifndef POSTCOPY_MIGOPTS_H
#define POSTCOPY_MIGOPTS_H

#include <getopt.h>
#include <stdio.h>
#include "lib/json.h"

struct migrate_opts;
struct receive_opts;

/* getopt codes of the table's options: MIGOPT_CODE + index. */
#define MIGOPT_CODE 1100
#define MIGOPT_COUNT 11

/* Append the table's options to a getopt_long table at out (room for
 * MIGOPT_COUNT); returns how many. */
unsigned migopts_getopt(struct option *out);
/* The --help lines of the table's options. */
void migopts_help(FILE *f);
/* A getopt code and its argument into o: 1 taken, 0 not a migration
 * option, -EINVAL (bad value) or -errno (e.g. the key file's path cannot
 * be resolved) with why. */
int migopts_set(struct migrate_opts *o, int code, const char *arg, char *why, size_t n);
/* The session's options that `receive` shares (--psk-file, --encrypt,
 * --link-timeout, --recover-timeout), from the same table: getopt entries
 * (room for MIGOPT_COUNT; returns how many), their --help as receive
 * words them, and a code and argument into o (as migopts_set; the key
 * file is loaded, -EACCES with why when it cannot be used). */
unsigned migopts_getopt_receive(struct option *out);
void migopts_help_receive(FILE *f);
int migopts_set_receive(struct receive_opts *o, int code, const char *arg, char *why, size_t n);
/* The whole before anything starts: -EINVAL for options that do not fit
 * together, -EACCES for a key file that cannot be used; why says which. */
int migopts_check(const struct migrate_opts *o, char *why, size_t n);
/* Every option as a member of the open JSON object w, and back: members
 * of obj other than the table's are refused (-EINVAL, naming it), as are
 * values of the wrong type or out of range. */
void migopts_to_json(const struct migrate_opts *o, struct pcm_jw *w);
int migopts_from_json(struct migrate_opts *o, const struct pcm_json_doc *d,
		      const struct pcm_json *obj, char *why, size_t n);

#endif
