/* host/ctl.h - a VM's control socket.
 *
 * Every running VM (from `run` or `receive`) listens on a Unix socket named
 * after it in the run directory ($POSTCOPY_MOVE_RUN_DIR, else
 * /run/postcopy-move): the directory is created 0700, the socket 0600, and
 * a name is checked so it cannot leave that directory. It speaks JSON
 * lines (docs/control.md): one request object on one line; back come any
 * number of event objects ({"event": KIND, "text": ...}), then one reply,
 * {"ok": true, ...} or {"ok": false, "error": WHY}.
 */
#ifndef HOST_CTL_H
#define HOST_CTL_H

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

/* The longest request or reply line, newline included. */
#define CTL_LINE_MAX 65536

struct pcm_json_doc;
struct pcm_json;
struct pcm_jw;

/* What a caller of ctl_call hears: events in order, then, for an ok
 * reply, its "result" (NULL when the reply has none). Either may be NULL. */
struct ctl_client {
	void (*event)(void *arg, const char *kind, const char *text);
	void (*result)(void *arg, const struct pcm_json_doc *d, const struct pcm_json *result);
	void *arg;
};

/* Send one request object (JSON text, no newline) and read up to the
 * reply: 0 on ok; -EIO with the reply's error in err; -ECONNRESET when
 * the VM process closed without a reply; -EPROTO for a line that is not
 * a reply or an event (err says why). */
int ctl_call(const char *name, const char *request, const struct ctl_client *c,
	     char *err, size_t errlen);

/* Server side. One line of at most CTL_LINE_MAX bytes into buf (cap at
 * least that), newline stripped: 0; -E2BIG longer; -ENODATA end of stream
 * first; -errno of the read (EAGAIN: the client's timeout ran out). */
int ctl_read_line(FILE *f, char *buf, size_t cap, size_t *len);
/* Write a finished w as one line: 0, or -ENOSPC when w overflowed (a
 * short error reply goes instead). */
int ctl_send(FILE *f, struct pcm_jw *w);
void ctl_event(FILE *f, const char *kind, const char *text);
/* One event of kind per line of text. */
void ctl_event_lines(FILE *f, const char *kind, const char *text);
/* {"ok": true} with "text" when text is not NULL. */
void ctl_ok(FILE *f, const char *text);
/* {"ok": false, "error": ...}. */
void ctl_err(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
