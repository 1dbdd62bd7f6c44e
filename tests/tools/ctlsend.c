/* tests/tools/ctlsend.c - one raw request on a VM's control socket.
 *
 *   ctlsend SOCKET [--wait-ms N]   < request bytes
 *
 * Sends stdin as it is (no newline added, so a test can send a line
 * without one, an oversized line, or nothing at all), half-closes the
 * connection unless --wait-ms is given (then it sends and stays silent
 * until the process answers or N ms pass, and only then half-closes: a
 * client that never finishes its line), and copies every
 * byte the VM process answers to stdout until it closes. Exit 0 once the
 * process closed, 1 on a socket error, 2 on bad usage. The tests check
 * the answer with jq; this program only moves bytes. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <poll.h>
#include <unistd.h>

static int copy_in(int fd)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(0, buf, sizeof(buf))) > 0)
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(fd, buf + off, (size_t)(n - off));

			if (w < 0)
				return errno == EPIPE ? 0 : -1;   /* it may close first */
			off += w;
		}
	return n < 0 ? -1 : 0;
}

static int copy_out(int fd)
{
	char buf[65536];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			return -1;
	return n < 0 && errno != ECONNRESET ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	long wait_ms = -1;
	int fd;

	if (argc == 4 && !strcmp(argv[2], "--wait-ms"))
		wait_ms = strtol(argv[3], NULL, 10);
	else if (argc != 2)
		return fprintf(stderr, "usage: ctlsend SOCKET [--wait-ms N] < request\n"), 2;
	if (strlen(argv[1]) >= sizeof(a.sun_path))
		return fprintf(stderr, "ctlsend: socket path too long\n"), 2;
	strcpy(a.sun_path, argv[1]);
	signal(SIGPIPE, SIG_IGN);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
		return perror("ctlsend: connect"), 1;
	if (copy_in(fd))
		return perror("ctlsend: send"), 1;
	if (wait_ms >= 0) {   /* silent, until the process answers or wait_ms */
		struct pollfd p = { .fd = fd, .events = POLLIN };

		poll(&p, 1, (int)wait_ms);
	}
	shutdown(fd, SHUT_WR);
	if (copy_out(fd))
		return perror("ctlsend: receive"), 1;
	fflush(stdout);
	return 0;
}
