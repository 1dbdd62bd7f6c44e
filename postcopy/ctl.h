/* postcopy/ctl.h - a VM's control socket.
 *
 * Every running VM (from `run` or `receive`) listens on a Unix socket named
 * after it in the run directory ($POSTCOPY_MOVE_RUN_DIR, else
 * /run/postcopy-move): the directory is created 0700, the socket 0600, and
 * a name is checked so it cannot leave that directory. Requests are one
 * text line; answers are lines, the last "OK ..." or "ERR <why>".
 */
#ifndef POSTCOPY_CTL_H
#define POSTCOPY_CTL_H

#include <stddef.h>
#include <stdio.h>

#define CTL_NAME_MAX 63

/* 0 when name is 1..63 of [A-Za-z0-9._-] and does not start with '.'. */
int ctl_name_check(const char *name);
int ctl_path(const char *name, char *buf, size_t n);
/* Listen on the VM's socket; -EADDRINUSE if a live VM has that name. */
int ctl_listen(const char *name, int *fd);
void ctl_unlink(const char *name);
/* Before a VM is started under name: 0, or why it could not have its
 * socket (bad name, a run directory others can write to, the name taken
 * by a live VM) in words. name NULL: the directory only. */
int ctl_precheck(const char *name, char *why, size_t n);
/* Connect to a VM's socket; -ENOENT when no VM has that name. */
int ctl_connect(const char *name, int *fd);

/* Send one request line and hand every answer line to fn (without the
 * newline); returns 0 on "OK", the ERR text in err otherwise. */
int ctl_call(const char *name, const char *request,
	     void (*fn)(void *arg, const char *line), void *arg,
	     char *err, size_t errlen);

#endif
