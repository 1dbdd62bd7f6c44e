/* bench/net_tput.c - loopback throughput of 256 KiB messages.
 *
 * Three ways over 127.0.0.1, a sender thread and a receiver thread each:
 *   batch  net_queue every message, net_flush at the end (auto-flush ~1 MiB)
 *   send   net_send per message (one submission each)
 *   plain  blocking send()/recv(MSG_WAITALL) of the bare payload: no header,
 *          no checksum, no io_uring; the yardstick
 * Usage: net_tput [MiB per run, default 2048]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/clock.h"
#include "net/chan.h"

#define MSG (256u << 10)

struct run {
	const char *mode;
	int n;                /* messages */
	int lfd;
	uint16_t port;
	uint8_t *buf;
	struct net_stats tx, rx;
	double secs;
	double cpu_tx, cpu_rx;   /* CPU seconds of each thread */
	int err;
};


static int plain_connect(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	return fd;
}

static int plain_send(struct run *r)
{
	int fd = plain_connect(r->port);

	for (int i = 0; i < r->n && fd >= 0; i++)
		for (size_t off = 0; off < MSG;) {
			ssize_t k = send(fd, r->buf + off, MSG - off, MSG_NOSIGNAL);

			if (k <= 0)
				return -1;
			off += (size_t)k;
		}
	if (fd >= 0)
		close(fd);
	return fd < 0 ? -1 : 0;
}

static int chan_send(struct run *r)
{
	struct iovec v = { r->buf, MSG };
	struct net_chan *c;
	int e = net_connect("127.0.0.1", r->port, 5000, 10, &c);
	int batch = !strcmp(r->mode, "batch");

	for (int i = 0; i < r->n && !e; i++)
		e = batch ? net_queue(c, 1, &v, 1) : net_sendv(c, 1, &v, 1);
	if (!e)
		e = net_flush(c);
	if (!e)
		net_get_stats(c, &r->tx);
	if (!e)
		net_close(c);
	return e;
}

static int plain_recv(struct run *r, uint8_t *buf)
{
	int fd = accept(r->lfd, NULL, NULL);
	double t0 = 0;

	for (int i = 0; i < r->n && fd >= 0; i++) {
		if (recv(fd, buf, MSG, MSG_WAITALL) != (ssize_t)MSG)
			return -1;
		if (i == 0)
			t0 = now_s();
	}
	r->secs = now_s() - t0;
	close(fd);
	return fd < 0 ? -1 : 0;
}

static int chan_recv(struct run *r)
{
	struct net_chan *c;
	struct net_msg m;
	double t0 = 0;
	int e = net_accept(r->lfd, 5000, 10, &c);

	for (int i = 0; i < r->n && !e; i++) {
		e = net_recv(c, &m, 10000);
		if (i == 0)
			t0 = now_s();
	}
	r->secs = now_s() - t0;
	if (!e) {
		net_get_stats(c, &r->rx);
		net_close(c);
	}
	return e;
}

static void *receiver(void *arg)
{
	struct run *r = arg;
	uint8_t *buf = malloc(MSG);
	double c0 = cpu_s();

	r->err = strcmp(r->mode, "plain") ? chan_recv(r) : plain_recv(r, buf);
	r->cpu_rx = cpu_s() - c0;
	free(buf);
	return NULL;
}

static void run_one(struct run *r)
{
	pthread_t t;
	int e;

	memset(&r->tx, 0, sizeof(r->tx));
	memset(&r->rx, 0, sizeof(r->rx));
	if (net_listen("127.0.0.1", 0, &r->lfd, &r->port) < 0) {
		r->err = -1;
		return;
	}
	pthread_create(&t, NULL, receiver, r);
	r->cpu_tx = cpu_s();
	e = strcmp(r->mode, "plain") ? chan_send(r) : plain_send(r);
	r->cpu_tx = cpu_s() - r->cpu_tx;
	pthread_join(t, NULL);
	close(r->lfd);
	if (e)
		r->err = e;
}

static void report(const struct run *r)
{
	/* The first message starts the clock: n-1 messages were timed. */
	double mb = (double)(r->n - 1) * MSG / 1e6;

	if (r->err) {
		printf("%-6s error %d\n", r->mode, r->err);
		return;
	}
	printf("%-6s %6.0f MB/s %6.3f s  cpu tx %5.2f rx %5.2f s"
	       "  submits %5llu  recvs %5llu\n",
	       r->mode, mb / r->secs, r->secs, r->cpu_tx, r->cpu_rx,
	       (unsigned long long)r->tx.submits, (unsigned long long)r->rx.recvs);
}

int main(int argc, char **argv)
{
	const char *modes[] = { "batch", "send", "plain" };
	long mib = argc > 1 ? atol(argv[1]) : 2048;
	struct run r = { .buf = malloc(MSG) };

	if (mib < 1 || !r.buf)
		return 2;
	for (size_t i = 0; i < MSG; i++)
		r.buf[i] = (uint8_t)(i * 131);
	r.n = (int)(mib * 4);
	printf("%d messages of %u KiB over 127.0.0.1\n", r.n, MSG >> 10);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		r.mode = modes[i];
		r.err = 0;
		run_one(&r);
		report(&r);
	}
	free(r.buf);
	return 0;
}
