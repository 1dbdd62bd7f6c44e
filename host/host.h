/* host/host.h - the process that hosts a VM: serving its control socket
 * (host/ctl.h) until it stops or moves away, and the one place that
 * process's errors become a line on stderr. */
#ifndef HOST_HOST_H
#define HOST_HOST_H

#include <stdarg.h>
#include <stddef.h>

#define PCM_PROG "postcopy-move"

struct machine;
struct receive_opts;

/* Serve a running VM's control socket until `stop`, a signal, or a
 * migration that released it. Returns the process exit status. */
int vmhost_serve(struct machine *m, const char *name);
/* A VM restored from a snapshot file: status names the file and what the
 * restore's check of the guest said. The strings must outlive the call. */
struct pcm_jw;
struct vmhost_restore_ops;
struct vmhost_restored {
	const char *file;         /* absolute path */
	const char *check;        /* e.g. "kv self-check passed, ..." */
	const struct vmhost_restore_ops *ops;   /* NULL: none */
};
/* What a restore still doing its work while the VM runs (lazy) gives the
 * host. status adds the restore's keys, restore_check among them (check
 * is then unused). While fd is not -1 the restore goes on: the host
 * polls it and, once readable, over() says 0 (done: fd is done with),
 * > 0 (not yet) or a failure, with its words in why: the host says them,
 * leaves the VM (a vCPU may wait for a page that never comes; the
 * process's exit ends it) and exits 1. Until done, snapshot and migrate
 * are refused. halt() is called before the host destroys the VM. */
struct vmhost_restore_ops {
	void (*status)(void *arg, struct pcm_jw *w);
	int fd;
	int (*over)(void *arg, char *why, size_t len);
	void (*halt)(void *arg);
	void *arg;
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
