/* host/ctl.c - control sockets: naming, permissions, one call, and
 * the JSON lines both ends write (ctl.h, docs/control.md). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "lib/json.h"
#include "host/ctl.h"

int ctl_name_check(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > CTL_NAME_MAX || name[0] == '.')
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
			    name[i]))
			return -EINVAL;
	return 0;
}

/* The directory must be ours and closed to others: a world-writable one
 * would let another user swap a socket in. */
static int ctl_dir(char *buf, size_t n)
{
	const char *dir = getenv("POSTCOPY_MOVE_RUN_DIR");
	struct stat st;

	snprintf(buf, n, "%s", dir && *dir ? dir : "/run/postcopy-move");
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	if (stat(buf, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 0022))
		return -EACCES;
	return 0;
}

int ctl_path(const char *name, char *buf, size_t n)
{
	char dir[200];
	int err = ctl_name_check(name);

	if (err)
		return err;
	if ((err = ctl_dir(dir, sizeof(dir))))
		return err;
	if ((size_t)snprintf(buf, n, "%s/%s.sock", dir, name) >= n)
		return -ENAMETOOLONG;
	return 0;
}

static int ctl_addr(const char *name, struct sockaddr_un *a)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	return ctl_path(name, a->sun_path, sizeof(a->sun_path));
}

int ctl_connect(const char *name, int *fd)
{
	struct sockaddr_un a;
	int err = ctl_addr(name, &a);

	if (err)
		return err;
	*fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*fd < 0)
		return -errno;
	if (connect(*fd, (struct sockaddr *)&a, sizeof(a))) {
		err = errno == ECONNREFUSED ? -ENOENT : -errno;
		close(*fd);
		return err;
	}
	return 0;
}

int ctl_listen(const char *name, int *fd)
{
	struct sockaddr_un a;
	int probe, err = ctl_addr(name, &a);

	if (err)
		return err;
	if (ctl_connect(name, &probe) == 0) {
		close(probe);
		return -EADDRINUSE;
	}
	unlink(a.sun_path);                 /* stale socket of a dead VM */
	*fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*fd < 0)
		return -errno;
	if (bind(*fd, (struct sockaddr *)&a, sizeof(a)) || chmod(a.sun_path, 0600) ||
	    listen(*fd, 8)) {
		err = -errno;
		close(*fd);
		return err;
	}
	return 0;
}

int ctl_precheck(const char *name, char *why, size_t n)
{
	const char *dir = getenv("POSTCOPY_MOVE_RUN_DIR");
	char path[256];
	int fd, err = name ? ctl_path(name, path, sizeof(path)) : ctl_dir(path, sizeof(path));

	if (err == -EINVAL)
		snprintf(why, n, "invalid VM name '%s' (1-63 of A-Z a-z 0-9 . _ -)", name);
	else if (err == -EACCES)
		snprintf(why, n, "the run directory %s is not private to this user (it must be "
			 "owned by us and not writable by others)", dir && *dir ? dir :
			 "/run/postcopy-move");
	else if (err)
		snprintf(why, n, "cannot use the run directory: %s", strerror(-err));
	else if (name && ctl_connect(name, &fd) == 0) {
		close(fd);
		snprintf(why, n, "a VM named '%s' is already running here", name);
		err = -EADDRINUSE;
	}
	return err;
}

void ctl_unlink(const char *name)
{
	char path[256];

	if (ctl_path(name, path, sizeof(path)) == 0)
		unlink(path);
}

int ctl_read_line(FILE *f, char *buf, size_t cap, size_t *len)
{
	size_t n = 0;
	int c;

	for (;;) {
		c = getc(f);
		/* A read with SO_RCVTIMEO is not restarted after a signal or
		 * io_uring task work lands on this thread: it fails with
		 * EINTR, and the request is still there to read. */
		if (c == EOF && ferror(f) && errno == EINTR) {
			clearerr(f);
			continue;
		}
		if (c == EOF || c == '\n')
			break;
		if (n + 1 >= cap || n + 1 >= CTL_LINE_MAX)
			return -E2BIG;
		buf[n++] = (char)c;
	}
	if (c == EOF && (ferror(f) || !n))
		return ferror(f) ? (errno ? -errno : -EIO) : -ENODATA;
	buf[n] = 0;
	*len = n;
	return 0;
}

int ctl_send(FILE *f, struct pcm_jw *w)
{
	long n = pcm_jw_finish(w);

	if (n < 0) {
		ctl_err(f, "the reply did not fit in %d bytes", CTL_LINE_MAX);
		return (int)n;
	}
	fprintf(f, "%s\n", w->buf);
	fflush(f);
	return 0;
}

/* A reply of a few members and a text: small enough for the stack. */
static void send_small(FILE *f, const char *k1, bool v1, const char *k2, const char *text)
{
	char buf[4096];
	struct pcm_jw w;

	pcm_jw_init(&w, buf, sizeof(buf));
	pcm_jw_obj(&w, NULL);
	if (k1)
		pcm_jw_bool(&w, k1, v1);
	if (k2 && text)
		pcm_jw_str(&w, k2, text);
	pcm_jw_end(&w);
	(void)!ctl_send(f, &w);
}

void ctl_event(FILE *f, const char *kind, const char *text)
{
	char buf[4096];
	struct pcm_jw w;

	pcm_jw_init(&w, buf, sizeof(buf));
	pcm_jw_obj(&w, NULL);
	pcm_jw_str(&w, "event", kind);
	pcm_jw_str(&w, "text", text);
	pcm_jw_end(&w);
	(void)!ctl_send(f, &w);
}

void ctl_event_lines(FILE *f, const char *kind, const char *text)
{
	char line[4000];

	for (const char *nl; *text; text = nl + 1) {
		size_t n;

		if (!(nl = strchr(text, '\n')))
			nl = text + strlen(text);
		n = (size_t)(nl - text) < sizeof(line) ? (size_t)(nl - text) : sizeof(line) - 1;
		memcpy(line, text, n);
		line[n] = 0;
		ctl_event(f, kind, line);
		if (!*nl)
			break;
	}
}

void ctl_ok(FILE *f, const char *text)
{
	send_small(f, "ok", true, "text", text);
}

void ctl_err(FILE *f, const char *fmt, ...)
{
	char why[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	send_small(f, "ok", false, "error", why);
}

/* One reply or event line from the VM process: 1 an event (handed on),
 * 0 the reply (rc set), -EPROTO what is neither. */
static int client_line(const struct ctl_client *c, struct pcm_json_doc *d, const char *line,
		       size_t len, int *rc, char *err, size_t errlen)
{
	const struct pcm_json *root, *ok, *ev, *txt;

	if (pcm_json_parse(d, line, len) || (root = pcm_json_root(d))->type != PCM_JSON_OBJECT) {
		snprintf(err, errlen, "the VM process answered with a line that is not a JSON object");
		return -EPROTO;
	}
	ev = pcm_json_get(d, root, "event");
	txt = pcm_json_get(d, root, "text");
	if (ev && ev->type == PCM_JSON_STRING) {
		if (c && c->event)
			c->event(c->arg, ev->str, txt && txt->type == PCM_JSON_STRING ? txt->str : "");
		return 1;
	}
	if (!(ok = pcm_json_get(d, root, "ok")) || ok->type != PCM_JSON_BOOL) {
		snprintf(err, errlen, "the VM process answered with an object that is neither "
			 "an event nor a reply");
		return -EPROTO;
	}
	if (ok->b) {
		*rc = 0;
		if (c && c->result)
			c->result(c->arg, d, pcm_json_get(d, root, "result"));
	} else {
		const struct pcm_json *e = pcm_json_get(d, root, "error");

		*rc = -EIO;
		snprintf(err, errlen, "%s", e && e->type == PCM_JSON_STRING ? e->str : "(no reason given)");
	}
	return 0;
}

int ctl_call(const char *name, const char *request, const struct ctl_client *c,
	     char *err, size_t errlen)
{
	struct pcm_json_doc *d = malloc(sizeof(*d));
	char *line = malloc(CTL_LINE_MAX);
	int fd = -1, rc = d && line ? ctl_connect(name, &fd) : -ENOMEM, r = 1;
	size_t len;
	FILE *f = NULL;

	if (!rc && (dprintf(fd, "%s\n", request) < 0 || !(f = fdopen(fd, "r"))))
		rc = -EIO;
	if (!rc) {
		rc = -ECONNRESET;
		snprintf(err, errlen, "the VM process closed its control socket without an answer");
		int rd = 0;

		while (r == 1 && !(rd = ctl_read_line(f, line, CTL_LINE_MAX, &len)))
			r = client_line(c, d, line, len, &rc, err, errlen);
		if (r < 0)
			rc = r;
		else if (r == 1 && rd == -E2BIG) {
			rc = -EPROTO;
			snprintf(err, errlen, "the VM process answered with a line longer than %d bytes",
				 CTL_LINE_MAX - 1);
		}
	}
	if (f)
		fclose(f);
	else if (fd >= 0)
		close(fd);
	free(line);
	free(d);
	return rc;
}
