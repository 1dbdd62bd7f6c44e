/* host/host.h - the process that hosts a VM: serving its control socket
 * (host/ctl.h) until it stops or moves away, and the one place that
 * process's errors become a line on stderr. */
#ifndef HOST_HOST_H
#define HOST_HOST_H

#include <stdarg.h>

#define PCM_PROG "postcopy-move"

struct machine;
struct receive_opts;

/* Serve a running VM's control socket until `stop`, a signal, or a
 * migration that released it. Returns the process exit status. */
int vmhost_serve(struct machine *m, const char *name);
/* A VM restored from a snapshot file: status names the file and what the
 * restore's check of the guest said. The strings must outlive the call. */
struct vmhost_restored {
	const char *file;         /* absolute path */
	const char *check;        /* e.g. "kv self-check passed, ..." */
};
/* vmhost_serve for it; r NULL is vmhost_serve. */
int vmhost_serve_restored(struct machine *m, const char *name, const struct vmhost_restored *r);
/* `receive`: take one VM on lfd (dest_receive on a thread, the control
 * socket up from HELLO on, so status shows it arriving), then serve it
 * like vmhost_serve. name: NULL for the name the source sends. */
int vmhost_receive(int lfd, const struct receive_opts *o, const char *name);

/* "postcopy-move: error: ..." on stderr; returns exit status 1. */
int host_verror(const char *fmt, va_list ap);
int host_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
