/* tests/unit/test_chan.c - channels over real loopback TCP. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/chan.h"
#include "net/wire.h"
#include "tests/unit/chanpair.h"

#define BIG  (256u << 10)

/* A plain socket on one end and a channel on the other, for raw bytes. */
static int raw_open(struct net_chan **c)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	uint16_t port;
	int lfd, fd;

	assert_int_equal(net_listen("127.0.0.1", 0, &lfd, &port), 0);
	sa.sin_port = htons(port);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(net_accept(lfd, 2000, MAXT, c), 0);
	close(lfd);
	return fd;
}

static void raw_write(int fd, const void *p, size_t n)
{
	assert_int_equal(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void raw_frame(int fd, uint16_t type, const void *p, uint32_t len, uint64_t seq)
{
	struct wire_hdr h;

	wire_hdr_init(&h, type, len, seq, wire_csum(p, len));
	raw_write(fd, &h, sizeof(h));
	if (len)
		raw_write(fd, p, len);
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + seed);
}

/* ---- happy paths ---------------------------------------------------- */

static void test_small(void **st)
{
	struct pair p;
	struct net_msg m;

	(void)st;
	pair_open(&p);
	assert_int_equal(net_send(p.a, 2, "hello", 5), 0);
	assert_int_equal(net_recv(p.b, &m, 2000), 0);
	assert_int_equal(m.type, 2);
	assert_int_equal(m.len, 5);
	assert_int_equal(m.seq, 1);
	assert_memory_equal(m.payload, "hello", 5);
	/* and back the other way, with its own sequence */
	assert_int_equal(net_send(p.b, 3, "yo", 2), 0);
	assert_int_equal(net_recv(p.a, &m, 2000), 0);
	assert_int_equal(m.type, 3);
	assert_int_equal(m.seq, 1);
	assert_int_equal(net_send(p.a, 2, "again", 5), 0);
	assert_int_equal(net_recv(p.b, &m, 2000), 0);
	assert_int_equal(m.seq, 2);
	pair_close(&p);
}

static void test_big(void **st)
{
	uint8_t *buf = malloc(BIG);
	struct iovec v[2] = { { buf, 4096 }, { buf + 4096, BIG - 4096 } };
	struct pair p;
	struct net_msg m;

	(void)st;
	fill(buf, BIG, 5);
	pair_open(&p);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(net_sendv(p.a, 4, v, 2), 0);
		assert_int_equal(net_recv(p.b, &m, 2000), 0);
		assert_int_equal(m.len, BIG);
		assert_int_equal(m.seq, (uint64_t)i + 1);
		assert_memory_equal(m.payload, buf, BIG);
	}
	pair_close(&p);
	free(buf);
}

static void test_zero_len(void **st)
{
	struct pair p;
	struct net_msg m;

	(void)st;
	pair_open(&p);
	assert_int_equal(net_send(p.a, 1, NULL, 0), 0);
	assert_int_equal(net_sendv(p.a, 1, NULL, 0), 0);
	assert_int_equal(net_recv(p.b, &m, 2000), 0);
	assert_int_equal(m.len, 0);
	assert_int_equal(net_recv(p.b, &m, 2000), 0);
	assert_int_equal(m.len, 0);
	assert_int_equal(m.seq, 2);
	pair_close(&p);
}

static void test_batch(void **st)
{
	uint32_t vals[1000];
	struct net_stats s0, s1, r;
	struct pair p;
	struct net_msg m;

	(void)st;
	pair_open(&p);
	net_get_stats(p.a, &s0);
	for (uint32_t i = 0; i < 1000; i++) {
		struct iovec v = { &vals[i], sizeof(vals[i]) };

		vals[i] = i * 3;
		assert_int_equal(net_queue(p.a, 5, &v, 1), 0);
	}
	assert_int_equal(net_flush(p.a), 0);
	net_get_stats(p.a, &s1);
	/* 2000 iovecs: one auto-flush at IOV_MAX and the final one. */
	assert_in_range(s1.submits - s0.submits, 1, 3);
	assert_int_equal(s1.msgs_sent - s0.msgs_sent, 1000);
	assert_int_equal(s1.bytes_sent - s0.bytes_sent, 1000 * (WIRE_HDR_SIZE + 4));
	for (uint32_t i = 0; i < 1000; i++) {
		assert_int_equal(net_recv(p.b, &m, 2000), 0);
		assert_int_equal(m.seq, i + 1);
		assert_int_equal(m.len, 4);
		assert_memory_equal(m.payload, &vals[i], 4);
	}
	net_get_stats(p.b, &r);
	assert_int_equal(r.msgs_recv, 1000);
	assert_int_equal(r.bytes_recv, 1000 * (WIRE_HDR_SIZE + 4));
	assert_false(net_pending(p.b));
	pair_close(&p);
}

/* 1000 empty messages are 1000 iovecs: exactly one submission. */
static void test_batch_one_submit(void **st)
{
	struct net_stats s0, s1;
	struct pair p;
	struct net_msg m;

	(void)st;
	pair_open(&p);
	net_get_stats(p.a, &s0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(net_queue(p.a, 6, NULL, 0), 0);
	assert_int_equal(net_flush(p.a), 0);
	net_get_stats(p.a, &s1);
	assert_int_equal(s1.submits - s0.submits, 1);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(net_recv(p.b, &m, 2000), 0);
	assert_int_equal(m.seq, 1000);
	pair_close(&p);
}

struct bulk {
	struct net_chan *c;
	uint8_t *buf;
	int n;
};

static void *bulk_send(void *arg)
{
	struct bulk *b = arg;

	for (int i = 0; i < b->n; i++) {
		struct iovec v = { b->buf + (size_t)(i % 4) * 4096, BIG - 4 * 4096 };

		if (net_queue(b->c, 7, &v, 1) < 0)
			return (void *)1;
	}
	return net_flush(b->c) < 0 ? (void *)1 : NULL;
}

/* 32 MiB of 256 KiB messages through auto-flush, big reads, compaction. */
static void test_bulk(void **st)
{
	struct bulk b = { .buf = malloc(BIG), .n = 128 };
	struct net_stats s;
	struct pair p;
	struct net_msg m;
	pthread_t t;
	void *ret;

	(void)st;
	if (RUNNING_ON_VALGRIND) {
		free(b.buf);
		skip();
	}
	fill(b.buf, BIG, 9);
	pair_open(&p);
	b.c = p.a;
	pthread_create(&t, NULL, bulk_send, &b);
	for (int i = 0; i < b.n; i++) {
		assert_int_equal(net_recv(p.b, &m, 60000), 0);
		assert_int_equal(m.len, BIG - 4 * 4096);
		assert_memory_equal(m.payload, b.buf + (size_t)(i % 4) * 4096, m.len);
	}
	pthread_join(t, &ret);
	assert_null(ret);
	net_get_stats(p.a, &s);
	assert_true(s.submits <= 40);   /* ~1 per MiB, not per message */
	pair_close(&p);
	free(b.buf);
}

/* More pieces than IOV_MAX in one message: it straddles flushes. */
static void test_many_pieces(void **st)
{
	enum { N = 3000 };
	static uint8_t buf[N * 16];
	static struct iovec v[N];
	struct pair p;
	struct net_msg m;

	(void)st;
	fill(buf, sizeof(buf), 1);
	for (int i = 0; i < N; i++)
		v[i] = (struct iovec){ buf + i * 16, 16 };
	pair_open(&p);
	assert_int_equal(net_sendv(p.a, 8, v, N), 0);
	assert_int_equal(net_recv(p.b, &m, 2000), 0);
	assert_int_equal(m.len, sizeof(buf));
	assert_memory_equal(m.payload, buf, sizeof(buf));
	pair_close(&p);
}

/* ---- timeouts ------------------------------------------------------- */

static void test_timeout_then_recv(void **st)
{
	struct pair p;
	struct net_msg m;

	(void)st;
	pair_open(&p);
	/* The first call leaves a recv in flight; the next ones reuse it. */
	assert_int_equal(net_recv(p.b, &m, 30), -ETIMEDOUT);
	assert_int_equal(net_recv(p.b, &m, 0), -EAGAIN);
	assert_int_equal(net_recv(p.b, &m, 30), -ETIMEDOUT);
	/* sending on the same ring while its recv is pending */
	assert_int_equal(net_send(p.b, 9, "ping", 4), 0);
	assert_int_equal(net_send(p.a, 9, "later", 5), 0);
	assert_int_equal(net_recv(p.b, &m, 2000), 0);
	assert_int_equal(m.len, 5);
	assert_memory_equal(m.payload, "later", 5);
	assert_int_equal(net_recv(p.a, &m, 2000), 0);
	assert_memory_equal(m.payload, "ping", 4);
	pair_close(&p);
}

static void test_timeout_zero(void **st)
{
	struct pair p;
	struct net_msg m;

	(void)st;
	pair_open(&p);
	assert_int_equal(net_recv(p.b, &m, 0), -EAGAIN);
	assert_false(net_pending(p.b));
	assert_int_equal(net_send(p.a, 1, "x", 1), 0);
	assert_int_equal(net_send(p.a, 1, "y", 1), 0);
	usleep(20000);
	assert_int_equal(net_recv(p.b, &m, 0), 0);       /* readable, no wait */
	assert_memory_equal(m.payload, "x", 1);
	assert_true(net_pending(p.b));                    /* "y" came in the same read */
	assert_int_equal(net_recv(p.b, &m, 0), 0);
	assert_memory_equal(m.payload, "y", 1);
	assert_int_equal(net_recv(p.b, &m, 0), -EAGAIN);
	pair_close(&p);
}

/* A frame that arrives in pieces across timeouts is still whole. */
static void test_timeout_mid_frame(void **st)
{
	struct net_chan *c;
	struct wire_hdr h;
	struct net_msg m;
	int fd = raw_open(&c);

	(void)st;
	wire_hdr_init(&h, 2, 6, 1, wire_csum("abcdef", 6));
	raw_write(fd, &h, 10);
	assert_int_equal(net_recv(c, &m, 30), -ETIMEDOUT);
	raw_write(fd, (char *)&h + 10, sizeof(h) - 10);
	raw_write(fd, "abc", 3);
	assert_int_equal(net_recv(c, &m, 0), -EAGAIN);
	assert_int_equal(net_recv(c, &m, 30), -ETIMEDOUT);
	raw_write(fd, "def", 3);
	assert_int_equal(net_recv(c, &m, 2000), 0);
	assert_memory_equal(m.payload, "abcdef", 6);
	close(fd);
	net_close(c);
}

static void test_accept_timeout(void **st)
{
	struct net_chan *c;
	uint16_t port;
	int lfd;

	(void)st;
	assert_int_equal(net_listen("127.0.0.1", 0, &lfd, &port), 0);
	assert_int_equal(net_accept(lfd, 30, MAXT, &c), -ETIMEDOUT);
	close(lfd);
}

/* ---- broken input ----------------------------------------------------- */

static void test_bad_magic(void **st)
{
	struct net_chan *c;
	struct net_msg m;
	int fd = raw_open(&c);

	(void)st;
	raw_write(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n....", 32);
	assert_int_equal(net_recv(c, &m, 2000), -EPROTO);
	assert_int_equal(net_recv(c, &m, 2000), -EPROTO);   /* stays failed */
	close(fd);
	net_close(c);
}

static void test_bad_csum(void **st)
{
	struct net_chan *c;
	struct wire_hdr h;
	struct net_msg m;
	int fd = raw_open(&c);

	(void)st;
	wire_hdr_init(&h, 2, 4, 1, wire_csum("good", 4));
	raw_write(fd, &h, sizeof(h));
	raw_write(fd, "evil", 4);
	assert_int_equal(net_recv(c, &m, 2000), -EILSEQ);
	close(fd);
	net_close(c);
}

static void test_oversize(void **st)
{
	struct net_chan *c;
	struct wire_hdr h;
	struct net_msg m;
	int fd = raw_open(&c);

	(void)st;
	wire_hdr_init(&h, 2, WIRE_MAX_PAYLOAD + 1, 1, 0);
	raw_write(fd, &h, sizeof(h));
	assert_int_equal(net_recv(c, &m, 2000), -EMSGSIZE);
	close(fd);
	net_close(c);
}

static void test_bad_type_seq(void **st)
{
	struct net_chan *c, *d;
	struct net_msg m;
	int fd = raw_open(&c), fd2 = raw_open(&d);

	(void)st;
	raw_frame(fd, MAXT + 1, "t", 1, 1);
	assert_int_equal(net_recv(c, &m, 2000), -EBADMSG);
	raw_frame(fd2, 1, "a", 1, 1);
	raw_frame(fd2, 1, "b", 1, 3);
	assert_int_equal(net_recv(d, &m, 2000), 0);
	assert_int_equal(net_recv(d, &m, 2000), -ERANGE);
	close(fd);
	close(fd2);
	net_close(c);
	net_close(d);
}

static void test_truncated(void **st)
{
	struct net_chan *c;
	struct wire_hdr h;
	struct net_msg m;
	int fd = raw_open(&c);

	(void)st;
	wire_hdr_init(&h, 2, 100, 1, 0);
	raw_write(fd, &h, sizeof(h));
	raw_write(fd, "only part", 9);
	close(fd);
	assert_int_equal(net_recv(c, &m, 2000), -ECONNABORTED);
	net_close(c);
}

static void test_clean_close(void **st)
{
	struct net_chan *c;
	struct net_msg m;
	int fd = raw_open(&c);

	(void)st;
	raw_frame(fd, 3, "last", 4, 1);
	close(fd);
	assert_int_equal(net_recv(c, &m, 2000), 0);
	assert_memory_equal(m.payload, "last", 4);
	assert_int_equal(net_recv(c, &m, 2000), -ENOTCONN);
	assert_int_equal(net_recv(c, &m, 0), -ENOTCONN);
	net_close(c);
}

/* Sending to a closed peer is an error, not SIGPIPE (which kills us). */
static void test_broken_pipe(void **st)
{
	uint8_t *buf = calloc(1, BIG);
	struct pair p;
	int r = 0;

	(void)st;
	pair_open(&p);
	net_close(p.b);
	for (int i = 0; i < 100 && r == 0; i++)
		r = net_send(p.a, 1, buf, BIG);
	assert_true(r == -EPIPE || r == -ECONNRESET);
	assert_int_equal(net_send(p.a, 1, "x", 1), r);   /* sticky */
	net_close(p.a);
	free(buf);
}

static void test_refused(void **st)
{
	struct net_chan *c;
	uint16_t port;
	int lfd;

	(void)st;
	assert_int_equal(net_listen("127.0.0.1", 0, &lfd, &port), 0);
	close(lfd);
	assert_int_equal(net_connect("127.0.0.1", port, 2000, MAXT, &c), -ECONNREFUSED);
}

/* A listener whose accept queue is full drops SYNs: the connect hangs. */
static void test_connect_timeout(void **st)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	struct net_chan *a, *c;
	int lfd = socket(AF_INET, SOCK_STREAM, 0);

	(void)st;
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 0), 0);
	getsockname(lfd, (struct sockaddr *)&sa, &sl);
	assert_int_equal(net_connect("127.0.0.1", ntohs(sa.sin_port), 2000, MAXT, &a), 0);
	assert_int_equal(net_connect("127.0.0.1", ntohs(sa.sin_port), 100, MAXT, &c),
			 -ETIMEDOUT);
	net_close(a);
	close(lfd);
}

static void *shut_later(void *arg)
{
	usleep(50000);
	net_shutdown(arg);
	return NULL;
}

static void test_shutdown_wakes(void **st)
{
	struct pair p;
	struct net_msg m;
	pthread_t t;

	(void)st;
	if (RUNNING_ON_VALGRIND)
		skip();
	pair_open(&p);
	pthread_create(&t, NULL, shut_later, p.b);
	assert_int_equal(net_recv(p.b, &m, -1), -ESHUTDOWN);
	pthread_join(t, NULL);
	pair_close(&p);
}

/* A sender stuck on a peer that does not read is woken the same way. */
static void test_shutdown_wakes_flush(void **st)
{
	uint8_t *buf = calloc(1, BIG);
	struct pair p;
	pthread_t t;
	int r = 0;

	(void)st;
	if (RUNNING_ON_VALGRIND) {
		free(buf);
		skip();
	}
	pair_open(&p);
	pthread_create(&t, NULL, shut_later, p.a);
	for (int i = 0; i < 1000 && r == 0; i++)   /* 250 MiB: more than fits */
		r = net_send(p.a, 1, buf, BIG);
	pthread_join(t, NULL);
	assert_true(r == -EPIPE || r == -ECONNRESET);
	pair_close(&p);
	free(buf);
}

/* Closing with a recv still in flight must not leave it writing freed memory. */
static void test_close_inflight(void **st)
{
	struct pair p;
	struct net_msg m;

	(void)st;
	pair_open(&p);
	assert_int_equal(net_recv(p.b, &m, 10), -ETIMEDOUT);
	assert_int_equal(net_send(p.a, 1, "late", 4), 0);
	pair_close(&p);
}

/* ---- addresses -------------------------------------------------------- */

static void test_parse_addr(void **st)
{
	char h[64];
	uint16_t port;

	(void)st;
	assert_int_equal(net_parse_addr("127.0.0.1:4000", h, sizeof(h), &port), 0);
	assert_string_equal(h, "127.0.0.1");
	assert_int_equal(port, 4000);
	assert_int_equal(net_parse_addr("localhost:0", h, sizeof(h), &port), 0);
	assert_string_equal(h, "localhost");
	assert_int_equal(port, 0);
	assert_int_equal(net_parse_addr("[::1]:65535", h, sizeof(h), &port), 0);
	assert_string_equal(h, "::1");
	assert_int_equal(port, 65535);
	assert_int_equal(net_parse_addr("[fe80::1%eth0]:22", h, sizeof(h), &port), 0);
	assert_string_equal(h, "fe80::1%eth0");

	const char *bad[] = { "", "host", "host:", ":80", "host:65536", "host:8x",
			      "host:-1", "::1:80", "[::1]80", "[::1]", "[]:80",
			      "[::1:80", "a:b:c", "host:123456" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(net_parse_addr(bad[i], h, sizeof(h), &port), -EINVAL);
	assert_int_equal(net_parse_addr("longhostname:1", h, 5, &port), -ENAMETOOLONG);
}

static void test_localhost_name(void **st)
{
	struct net_chan *a, *b;
	uint16_t port;
	int lfd;

	(void)st;
	assert_int_equal(net_listen("127.0.0.1", 0, &lfd, &port), 0);
	assert_int_equal(net_connect("localhost", port, 2000, MAXT, &a), 0);
	assert_int_equal(net_accept(lfd, 2000, MAXT, &b), 0);
	close(lfd);
	net_close(a);
	net_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small),
		cmocka_unit_test(test_big),
		cmocka_unit_test(test_zero_len),
		cmocka_unit_test(test_batch),
		cmocka_unit_test(test_batch_one_submit),
		cmocka_unit_test(test_bulk),
		cmocka_unit_test(test_many_pieces),
		cmocka_unit_test(test_timeout_then_recv),
		cmocka_unit_test(test_timeout_zero),
		cmocka_unit_test(test_timeout_mid_frame),
		cmocka_unit_test(test_accept_timeout),
		cmocka_unit_test(test_bad_magic),
		cmocka_unit_test(test_bad_csum),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_bad_type_seq),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_clean_close),
		cmocka_unit_test(test_broken_pipe),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_connect_timeout),
		cmocka_unit_test(test_shutdown_wakes),
		cmocka_unit_test(test_shutdown_wakes_flush),
		cmocka_unit_test(test_close_inflight),
		cmocka_unit_test(test_parse_addr),
		cmocka_unit_test(test_localhost_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
