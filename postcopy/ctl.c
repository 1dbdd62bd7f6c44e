/* postcopy/ctl.c - control sockets: naming, permissions, one call. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "postcopy/ctl.h"

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

int ctl_call(const char *name, const char *request,
	     void (*fn)(void *arg, const char *line), void *arg,
	     char *err, size_t errlen)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int fd, rc = ctl_connect(name, &fd);
	FILE *f;

	if (rc)
		return rc;
	if (dprintf(fd, "%s\n", request) < 0 || !(f = fdopen(fd, "r"))) {
		close(fd);
		return -EIO;
	}
	rc = -ECONNRESET;
	snprintf(err, errlen, "the VM process closed its control socket without an answer");
	while ((n = getline(&line, &cap, f)) > 0) {
		line[strcspn(line, "\n")] = 0;
		if (!strncmp(line, "OK", 2)) {
			rc = 0;
			break;
		}
		if (!strncmp(line, "ERR ", 4)) {
			snprintf(err, errlen, "%s", line + 4);
			rc = -EIO;
			break;
		}
		fn(arg, line);
	}
	free(line);
	fclose(f);
	return rc;
}
