/* tests/tools/fakepeer.c - a misbehaving migration peer for the bad-input
 * tests: listens on loopback, takes one connection, reads what the source
 * sends first and answers it wrongly in the way MODE names:
 *   garbage    text of another protocol (bad magic)
 *   version    a frame of another wire version
 *   badsum     a READY whose payload checksum is wrong
 *   truncated  a frame header promising more payload than ever comes
 *   close      closes the connection without a word
 * Writes the port it listens on to PORTFILE. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "net/chan.h"
#include "net/wire.h"

static void frame(int fd, uint16_t version, uint16_t type, const void *p,
		  uint32_t len, uint32_t sent, uint64_t csum)
{
	struct wire_hdr h;

	wire_hdr_init(&h, type, len, 1, csum);
	h.version = version;
	if (write(fd, &h, sizeof(h)) != sizeof(h) || (sent && write(fd, p, sent) != (ssize_t)sent))
		perror("fakepeer: write");
}

int main(int argc, char **argv)
{
	char buf[65536] = "0123456789abcdef";
	uint16_t port;
	int lfd, fd;
	FILE *f;

	if (argc != 3 || net_listen("127.0.0.1", 0, &lfd, &port)) {
		fprintf(stderr, "usage: fakepeer MODE PORTFILE\n");
		return 2;
	}
	if (!(f = fopen(argv[2], "w")) || fprintf(f, "%u\n", port) < 0 || fclose(f))
		return 1;
	if ((fd = accept(lfd, NULL, NULL)) < 0)
		return 1;
	if (read(fd, buf + 16, sizeof(buf) - 16) < 0)
		return 1;
	if (!strcmp(argv[1], "garbage"))
		dprintf(fd, "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
	else if (!strcmp(argv[1], "version"))
		frame(fd, WIRE_VERSION + 1, 2, NULL, 0, 0, wire_csum(NULL, 0));
	else if (!strcmp(argv[1], "badsum"))
		frame(fd, WIRE_VERSION, 2, buf, 8, 8, wire_csum(buf, 8) ^ 1);
	else if (!strcmp(argv[1], "truncated"))
		frame(fd, WIRE_VERSION, 2, buf, 4096, 100, wire_csum(buf, 4096));
	else if (strcmp(argv[1], "close"))
		return 2;
	usleep(100000);
	close(fd);
	close(lfd);
	return 0;
}
