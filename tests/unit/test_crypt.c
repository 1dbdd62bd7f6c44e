/* tests/unit/test_crypt.c - sealed channels over real loopback TCP.
 *
 * Each channel test runs once per algorithm (AES-256-GCM skips itself on
 * a CPU without AES-NI). Tampering goes through a proxy: the sender's
 * channel talks to a plain socket, the test reads each frame off it, may
 * change bytes, and writes it to a plain socket whose peer is the
 * receiving channel.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/chan.h"
#include "net/crypt.h"
#include "net/wire.h"
#include "tests/unit/chanpair.h"

#define BIG  (256u << 10)
#define TAG  WIRE_TAG_SIZE

static enum net_aead alg_aes = NET_AEAD_AES256GCM, alg_xc = NET_AEAD_XCHACHA20;
static uint8_t k1[32], k2[32], k3[32];

/* The algorithm of this run; skips AES-256-GCM where the CPU lacks it. */
static enum net_aead alg_of(void **st)
{
	enum net_aead alg = *(enum net_aead *)*st;

	if (alg == NET_AEAD_AES256GCM && !crypto_aead_aes256gcm_is_available())
		skip();
	return alg;
}

/* a sends with k1 and receives with k2; b the other way round. */
static void pair_seal(struct pair *p, enum net_aead alg)
{
	assert_int_equal(net_encrypt(p->a, alg, k1, k2), 0);
	assert_int_equal(net_encrypt(p->b, alg, k2, k1), 0);
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + seed + i / 251);
}

/* ---- the proxy ------------------------------------------------------ */

struct proxy {
	struct net_chan *tx;   /* sends into in_fd */
	int in_fd, out_fd;
	struct net_chan *rx;   /* receives what out_fd writes */
};

static int plain_connect(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void proxy_open(struct proxy *x)
{
	uint16_t port;
	int lfd;

	assert_int_equal(net_listen("127.0.0.1", 0, &lfd, &port), 0);
	assert_int_equal(net_connect("127.0.0.1", port, 2000, MAXT, &x->tx), 0);
	x->in_fd = accept(lfd, NULL, NULL);
	assert_true(x->in_fd >= 0);
	close(lfd);
	assert_int_equal(net_listen("127.0.0.1", 0, &lfd, &port), 0);
	x->out_fd = plain_connect(port);
	assert_int_equal(net_accept(lfd, 2000, MAXT, &x->rx), 0);
	close(lfd);
}

static void proxy_seal(struct proxy *x, enum net_aead alg)
{
	assert_int_equal(net_encrypt(x->tx, alg, k1, k2), 0);
	assert_int_equal(net_encrypt(x->rx, alg, k2, k1), 0);
}

static void proxy_close(struct proxy *x)
{
	net_close(x->tx);
	net_close(x->rx);
	close(x->in_fd);
	if (x->out_fd >= 0)
		close(x->out_fd);
}

/* Send one message through tx and read its frame off the wire: the
 * frame's size (header included). */
static size_t proxy_take(struct proxy *x, const void *p, uint32_t len, uint8_t *frame)
{
	struct wire_hdr h;
	size_t n;

	assert_int_equal(net_send(x->tx, 2, p, len), 0);
	assert_int_equal(recv(x->in_fd, &h, sizeof(h), MSG_WAITALL), (ssize_t)sizeof(h));
	n = le32toh(h.len);
	memcpy(frame, &h, sizeof(h));
	if (n)
		assert_int_equal(recv(x->in_fd, frame + sizeof(h), n, MSG_WAITALL), (ssize_t)n);
	return sizeof(h) + n;
}

static void proxy_give(struct proxy *x, const uint8_t *frame, size_t n)
{
	assert_int_equal(send(x->out_fd, frame, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* ---- round trips ---------------------------------------------------- */

static void test_single(void **st)
{
	enum net_aead alg = alg_of(st);
	struct net_stats s0, s1;
	struct pair p;
	struct net_msg m;

	pair_open(&p);
	/* one clear message first: the sealed ones keep its sequence */
	assert_int_equal(net_send(p.a, 2, "clear", 5), 0);
	assert_int_equal(net_recv(p.b, &m, 2000), 0);
	pair_seal(&p, alg);
	net_get_stats(p.a, &s0);
	assert_int_equal(net_send(p.a, 3, "hello", 5), 0);
	net_get_stats(p.a, &s1);
	assert_int_equal(s1.bytes_sent - s0.bytes_sent, WIRE_HDR_SIZE + 5 + TAG);
	assert_int_equal(net_recv(p.b, &m, 2000), 0);
	assert_int_equal(m.type, 3);
	assert_int_equal(m.len, 5);
	assert_int_equal(m.seq, 2);
	assert_memory_equal(m.payload, "hello", 5);
	/* and back, with its own sequence and key */
	assert_int_equal(net_send(p.b, 4, "yo", 2), 0);
	assert_int_equal(net_recv(p.a, &m, 2000), 0);
	assert_int_equal(m.type, 4);
	assert_int_equal(m.seq, 1);
	assert_memory_equal(m.payload, "yo", 2);
	assert_false(net_pending(p.b));
	pair_close(&p);
}

static void test_zero_len(void **st)
{
	enum net_aead alg = alg_of(st);
	struct net_stats s;
	struct pair p;
	struct net_msg m;

	pair_open(&p);
	pair_seal(&p, alg);
	assert_int_equal(net_send(p.a, 5, NULL, 0), 0);
	assert_int_equal(net_send(p.a, 5, "x", 1), 0);
	assert_int_equal(net_recv(p.b, &m, 2000), 0);
	assert_int_equal(m.len, 0);
	assert_int_equal(net_recv(p.b, &m, 2000), 0);
	assert_int_equal(m.len, 1);
	assert_memory_equal(m.payload, "x", 1);
	net_get_stats(p.b, &s);
	assert_int_equal(s.bytes_recv, 2 * (WIRE_HDR_SIZE + TAG) + 1);
	pair_close(&p);
}

/* 1000 small sealed messages in one batch: they lie end to end in the
 * channel's buffer, so one iovec and one submission carry them all. */
static void test_batch(void **st)
{
	enum net_aead alg = alg_of(st);
	uint32_t vals[1000];
	struct net_stats s0, s1;
	struct pair p;
	struct net_msg m;

	pair_open(&p);
	pair_seal(&p, alg);
	net_get_stats(p.a, &s0);
	for (uint32_t i = 0; i < 1000; i++) {
		struct iovec v = { &vals[i], sizeof(vals[i]) };

		vals[i] = i * 7;
		assert_int_equal(net_queue(p.a, 5, &v, 1), 0);
	}
	assert_int_equal(net_flush(p.a), 0);
	net_get_stats(p.a, &s1);
	assert_int_equal(s1.submits - s0.submits, 1);
	assert_int_equal(s1.bytes_sent - s0.bytes_sent, 1000 * (WIRE_HDR_SIZE + 4 + TAG));
	for (uint32_t i = 0; i < 1000; i++) {
		assert_int_equal(net_recv(p.b, &m, 2000), 0);
		assert_int_equal(m.seq, i + 1);
		assert_int_equal(m.len, 4);
		assert_memory_equal(m.payload, &vals[i], 4);
	}
	pair_close(&p);
}

struct bulk {
	struct net_chan *c;
	uint8_t *buf;
	size_t len;     /* per message */
	int n;
};

/* PAGES-like: a small header piece, then the data (several pieces are
 * gathered before sealing). Which slice of buf goes out varies. */
static void *bulk_send(void *arg)
{
	struct bulk *b = arg;

	for (int i = 0; i < b->n; i++) {
		uint32_t tag = (uint32_t)i;
		struct iovec v[2] = {
			{ &tag, sizeof(tag) },
			{ b->buf + (size_t)(i % 4) * 4096, b->len - sizeof(tag) },
		};

		if (net_queue(b->c, 7, v, 2) < 0)
			return (void *)1;
	}
	return net_flush(b->c) < 0 ? (void *)1 : NULL;
}

static void bulk_run(enum net_aead alg, size_t len, int n, uint64_t max_submits)
{
	struct bulk b = { .buf = malloc(len + 4 * 4096), .len = len, .n = n };
	struct net_stats s;
	struct pair p;
	struct net_msg m;
	pthread_t t;
	void *ret;

	assert_non_null(b.buf);
	fill(b.buf, len + 4 * 4096, 9);
	pair_open(&p);
	pair_seal(&p, alg);
	b.c = p.a;
	pthread_create(&t, NULL, bulk_send, &b);
	for (int i = 0; i < n; i++) {
		uint32_t tag;

		assert_int_equal(net_recv(p.b, &m, 60000), 0);
		assert_int_equal(m.len, len);
		memcpy(&tag, m.payload, sizeof(tag));
		assert_int_equal(tag, i);
		assert_memory_equal((const uint8_t *)m.payload + sizeof(tag),
				    b.buf + (size_t)(i % 4) * 4096, len - sizeof(tag));
	}
	pthread_join(t, &ret);
	assert_null(ret);
	net_get_stats(p.a, &s);
	assert_true(s.submits <= max_submits);
	pair_close(&p);
	free(b.buf);
}

/* 32 MiB of 256 KiB messages: many batches, auto-flush, compaction. */
static void test_bulk(void **st)
{
	enum net_aead alg = alg_of(st);

	if (RUNNING_ON_VALGRIND)
		skip();
	bulk_run(alg, BIG, 128, 40);   /* ~1 submission per MiB */
}

/* The largest payload, sealed: WIRE_MAX_PAYLOAD of plaintext plus the tag
 * on the wire, twice in a row (the second lands after the first in the
 * receive buffer). One byte more is refused before anything is sent. */
static void test_largest(void **st)
{
	enum net_aead alg = alg_of(st);
	static uint8_t big[WIRE_MAX_PAYLOAD + 1];
	struct iovec v = { big, sizeof(big) };
	struct pair p;

	if (RUNNING_ON_VALGRIND)
		skip();
	bulk_run(alg, WIRE_MAX_PAYLOAD, 3, 20);
	pair_open(&p);
	pair_seal(&p, alg);
	assert_int_equal(net_sendv(p.a, 2, &v, 1), -EMSGSIZE);
	pair_close(&p);
}

/* More pieces than IOV_MAX in one sealed message: gathered, then sealed. */
static void test_many_pieces(void **st)
{
	enum { N = 3000 };
	enum net_aead alg = alg_of(st);
	static uint8_t buf[N * 16];
	static struct iovec v[N];
	struct pair p;
	struct net_msg m;

	fill(buf, sizeof(buf), 1);
	for (int i = 0; i < N; i++)
		v[i] = (struct iovec){ buf + i * 16, 16 };
	pair_open(&p);
	pair_seal(&p, alg);
	assert_int_equal(net_sendv(p.a, 8, v, N), 0);
	assert_int_equal(net_recv(p.b, &m, 2000), 0);
	assert_int_equal(m.len, sizeof(buf));
	assert_memory_equal(m.payload, buf, sizeof(buf));
	pair_close(&p);
}

/* Messages queued before net_encrypt go out clear, those after sealed, in
 * one batch; the receiver switches between the two at the same message. */
static void test_switch_mid_batch(void **st)
{
	enum net_aead alg = alg_of(st);
	struct net_stats s0, s1;
	struct iovec v = { "abcd", 4 };
	struct pair p;
	struct net_msg m;

	pair_open(&p);
	net_get_stats(p.a, &s0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(net_queue(p.a, 2, &v, 1), 0);
	assert_int_equal(net_encrypt(p.a, alg, k1, k2), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(net_queue(p.a, 3, &v, 1), 0);
	assert_int_equal(net_flush(p.a), 0);
	net_get_stats(p.a, &s1);
	assert_int_equal(s1.submits - s0.submits, 1);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(net_recv(p.b, &m, 2000), 0);
		assert_int_equal(m.type, 2);
	}
	assert_int_equal(net_encrypt(p.b, alg, k2, k1), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(net_recv(p.b, &m, 2000), 0);
		assert_int_equal(m.type, 3);
		assert_int_equal(m.seq, 4 + i);
		assert_memory_equal(m.payload, "abcd", 4);
	}
	pair_close(&p);
}

/* New keys at the same point on both ends: the sequence goes on. */
static void test_rekey(void **st)
{
	enum net_aead alg = alg_of(st);
	struct pair p;
	struct net_msg m;

	pair_open(&p);
	pair_seal(&p, alg);
	assert_int_equal(net_send(p.a, 2, "one", 3), 0);
	assert_int_equal(net_recv(p.b, &m, 2000), 0);
	assert_int_equal(net_encrypt(p.a, alg, k3, k2), 0);
	assert_int_equal(net_encrypt(p.b, alg, k2, k3), 0);
	assert_int_equal(net_send(p.a, 2, "two", 3), 0);
	assert_int_equal(net_recv(p.b, &m, 2000), 0);
	assert_int_equal(m.seq, 2);
	assert_memory_equal(m.payload, "two", 3);
	pair_close(&p);
}

/* ---- refusals ------------------------------------------------------- */

/* A frame that fails: the error, again on the next call, and no payload. */
static void expect_refused(struct net_chan *c, int err)
{
	struct net_msg m = { .type = 0xdead, .payload = NULL };

	assert_int_equal(net_recv(c, &m, 2000), err);
	assert_int_equal(m.type, 0xdead);
	assert_null(m.payload);
	assert_true(net_pending(c));
	assert_int_equal(net_recv(c, &m, 0), err);
	assert_null(m.payload);
}

/* One changed byte of a sealed frame, at off (XOR x), through the proxy. */
static void tamper_one(enum net_aead alg, size_t off, uint8_t x, int err)
{
	static uint8_t frame[WIRE_HDR_SIZE + 64 + TAG];
	uint8_t msg[64];
	struct proxy px;
	size_t n;

	fill(msg, sizeof(msg), 3);
	proxy_open(&px);
	proxy_seal(&px, alg);
	n = proxy_take(&px, msg, sizeof(msg), frame);
	assert_int_equal(n, sizeof(frame));
	frame[off] ^= x;
	proxy_give(&px, frame, n);
	expect_refused(px.rx, err);
	proxy_close(&px);
}

/* Every byte of payload and tag, and the header fields the header checks
 * let through, are covered by the tag; the others fail their own check
 * first. Either way nothing is handed out. */
static void test_tamper(void **st)
{
	enum net_aead alg = alg_of(st);
	const size_t ct = WIRE_HDR_SIZE, tag = WIRE_HDR_SIZE + 64;

	/* ciphertext: first, middle, last byte; tag: first and last byte */
	tamper_one(alg, ct, 0x01, -EKEYREJECTED);
	tamper_one(alg, ct + 33, 0x80, -EKEYREJECTED);
	tamper_one(alg, ct + 63, 0x10, -EKEYREJECTED);
	tamper_one(alg, tag, 0x01, -EKEYREJECTED);
	tamper_one(alg, tag + TAG - 1, 0x40, -EKEYREJECTED);
	/* header: type (2 -> 3), seq, csum */
	tamper_one(alg, offsetof(struct wire_hdr, type), 0x01, -EKEYREJECTED);
	tamper_one(alg, offsetof(struct wire_hdr, seq), 0x02, -EKEYREJECTED);
	tamper_one(alg, offsetof(struct wire_hdr, seq) + 7, 0x80, -EKEYREJECTED);
	tamper_one(alg, offsetof(struct wire_hdr, csum), 0x01, -EKEYREJECTED);
	tamper_one(alg, offsetof(struct wire_hdr, csum) + 7, 0x01, -EKEYREJECTED);
	/* len 0x50 -> 0x40: a shorter frame, the tag is not where it was */
	tamper_one(alg, offsetof(struct wire_hdr, len), 0x10, -EKEYREJECTED);
	/* the sealed flag cleared: a clear frame here is refused as such */
	tamper_one(alg, offsetof(struct wire_hdr, flags), 0x01, -ENOKEY);
	tamper_one(alg, offsetof(struct wire_hdr, flags), 0x02, -EPROTONOSUPPORT);
	tamper_one(alg, offsetof(struct wire_hdr, magic), 0x01, -EPROTO);
	tamper_one(alg, offsetof(struct wire_hdr, version), 0x01, -EPROTONOSUPPORT);
}

/* A tampered frame after good ones: the good ones arrive, it does not. */
static void test_tamper_later(void **st)
{
	enum net_aead alg = alg_of(st);
	uint8_t f1[WIRE_HDR_SIZE + 5 + TAG], f2[sizeof(f1)];
	struct proxy px;
	struct net_msg m;

	proxy_open(&px);
	proxy_seal(&px, alg);
	proxy_take(&px, "first", 5, f1);
	proxy_take(&px, "never", 5, f2);
	f2[sizeof(f2) - 1] ^= 1;
	proxy_give(&px, f1, sizeof(f1));
	proxy_give(&px, f2, sizeof(f2));
	assert_int_equal(net_recv(px.rx, &m, 2000), 0);
	assert_memory_equal(m.payload, "first", 5);
	expect_refused(px.rx, -EKEYREJECTED);
	proxy_close(&px);
}

/* The same authentic frame twice, or a later one first: out of order. */
static void test_replay(void **st)
{
	enum net_aead alg = alg_of(st);
	uint8_t f1[WIRE_HDR_SIZE + 3 + TAG], f2[sizeof(f1)];
	struct proxy px;
	struct net_msg m;

	proxy_open(&px);
	proxy_seal(&px, alg);
	proxy_take(&px, "one", 3, f1);
	proxy_take(&px, "two", 3, f2);
	proxy_give(&px, f1, sizeof(f1));
	proxy_give(&px, f1, sizeof(f1));
	assert_int_equal(net_recv(px.rx, &m, 2000), 0);
	expect_refused(px.rx, -ERANGE);
	proxy_close(&px);

	proxy_open(&px);
	proxy_seal(&px, alg);
	proxy_take(&px, "one", 3, f1);
	proxy_take(&px, "two", 3, f2);
	proxy_give(&px, f2, sizeof(f2));
	expect_refused(px.rx, -ERANGE);
	proxy_close(&px);
}

/* A frame of another channel (other keys), at the right sequence number. */
static void test_cross_channel(void **st)
{
	enum net_aead alg = alg_of(st);
	uint8_t f[WIRE_HDR_SIZE + 3 + TAG];
	struct proxy x, y;

	proxy_open(&x);
	proxy_open(&y);
	proxy_seal(&x, alg);
	assert_int_equal(net_encrypt(y.tx, alg, k3, k2), 0);
	assert_int_equal(net_encrypt(y.rx, alg, k2, k3), 0);
	proxy_take(&y, "yyy", 3, f);
	proxy_give(&x, f, sizeof(f));
	expect_refused(x.rx, -EKEYREJECTED);
	proxy_close(&x);
	proxy_close(&y);
}

static void test_wrong_key(void **st)
{
	enum net_aead alg = alg_of(st);
	enum net_aead other = alg == NET_AEAD_XCHACHA20 ? NET_AEAD_AES256GCM : NET_AEAD_XCHACHA20;
	struct pair p;

	pair_open(&p);
	assert_int_equal(net_encrypt(p.a, alg, k1, k2), 0);
	assert_int_equal(net_encrypt(p.b, alg, k2, k3), 0);
	assert_int_equal(net_send(p.a, 2, "secret", 6), 0);
	expect_refused(p.b, -EKEYREJECTED);
	pair_close(&p);
	/* the right key under the other algorithm is just as wrong */
	if (!crypto_aead_aes256gcm_is_available())
		return;
	pair_open(&p);
	assert_int_equal(net_encrypt(p.a, alg, k1, k2), 0);
	assert_int_equal(net_encrypt(p.b, other, k2, k1), 0);
	assert_int_equal(net_send(p.a, 2, "secret", 6), 0);
	expect_refused(p.b, -EKEYREJECTED);
	pair_close(&p);
}

/* Encryption on one end only, either end: refused at the header. */
static void test_mismatch(void **st)
{
	enum net_aead alg = alg_of(st);
	struct pair p;

	pair_open(&p);
	assert_int_equal(net_encrypt(p.b, alg, k2, k1), 0);
	assert_int_equal(net_send(p.a, 2, "clear", 5), 0);
	expect_refused(p.b, -ENOKEY);
	pair_close(&p);

	pair_open(&p);
	assert_int_equal(net_encrypt(p.a, alg, k1, k2), 0);
	assert_int_equal(net_send(p.a, 2, "sealed", 6), 0);
	expect_refused(p.b, -ENOKEY);
	pair_close(&p);
}

/* ---- the API itself ------------------------------------------------- */

static void test_api(void **st)
{
	struct pair p;
	struct net_msg m;

	(void)st;
	assert_int_equal(net_aead_best(), crypto_aead_aes256gcm_is_available() ?
			 NET_AEAD_AES256GCM : NET_AEAD_XCHACHA20);
	assert_string_equal(net_aead_name(NET_AEAD_AES256GCM), "aes-256-gcm");
	assert_string_equal(net_aead_name(NET_AEAD_XCHACHA20), "xchacha20-poly1305");
	assert_string_equal(net_aead_name(NET_AEAD_NONE), "none");
	assert_string_equal(net_aead_name((enum net_aead)42), "unknown");
	assert_string_equal(wire_strerror(-EKEYREJECTED),
			    "message failed authentication (tampered or wrong key)");
	assert_non_null(strstr(wire_strerror(-ENOKEY), "encryption mismatch"));
	/* refused algorithms leave the channel as it was: clear */
	pair_open(&p);
	assert_int_equal(net_encrypt(p.a, NET_AEAD_NONE, k1, k2), -EINVAL);
	assert_int_equal(net_encrypt(p.a, (enum net_aead)42, k1, k2), -EINVAL);
	assert_int_equal(net_send(p.a, 2, "still clear", 11), 0);
	assert_int_equal(net_recv(p.b, &m, 2000), 0);
	assert_int_equal(m.len, 11);
	pair_close(&p);
}

/* seal/open without a channel: pieces, nonce and additional data count. */
static void test_seal_open(void **st)
{
	enum net_aead alg = alg_of(st);
	uint8_t ad[WIRE_HDR_SIZE], msg[100], out[100 + TAG], copy[sizeof(out)];
	struct iovec v[3] = { { msg, 1 }, { msg + 1, 60 }, { msg + 61, 39 } };
	struct net_crypt k, w;

	fill(ad, sizeof(ad), 5);
	fill(msg, sizeof(msg), 6);
	assert_int_equal(net_crypt_init(&k, alg, k1), 0);
	assert_int_equal(net_crypt_init(&w, alg, k2), 0);
	net_crypt_seal(&k, 7, ad, sizeof(ad), v, 3, sizeof(msg), out);
	assert_memory_not_equal(out, msg, sizeof(msg));
	memcpy(copy, out, sizeof(out));
	assert_int_equal(net_crypt_open(&k, 7, ad, sizeof(ad), copy, sizeof(copy)), 0);
	assert_memory_equal(copy, msg, sizeof(msg));
	/* the same bytes in one piece seal the same way (nonce = sequence) */
	net_crypt_seal(&k, 7, ad, sizeof(ad), &(struct iovec){ msg, sizeof(msg) }, 1,
		       sizeof(msg), copy);
	assert_memory_equal(copy, out, sizeof(out));
	net_crypt_seal(&k, 8, ad, sizeof(ad), v, 3, sizeof(msg), copy);
	assert_memory_not_equal(copy, out, sizeof(msg));
	memcpy(copy, out, sizeof(out));
	assert_int_equal(net_crypt_open(&k, 8, ad, sizeof(ad), copy, sizeof(copy)), -EKEYREJECTED);
	memcpy(copy, out, sizeof(out));
	assert_int_equal(net_crypt_open(&w, 7, ad, sizeof(ad), copy, sizeof(copy)), -EKEYREJECTED);
	memcpy(copy, out, sizeof(out));
	ad[0] ^= 1;
	assert_int_equal(net_crypt_open(&k, 7, ad, sizeof(ad), copy, sizeof(copy)), -EKEYREJECTED);
	assert_int_equal(net_crypt_open(&k, 7, ad, sizeof(ad), copy, TAG - 1), -EKEYREJECTED);
	net_crypt_wipe(&k);
	assert_int_equal(k.alg, NET_AEAD_NONE);
	net_crypt_wipe(&w);
}

static int setup(void **st)
{
	(void)st;
	if (sodium_init() < 0)
		return -1;
	randombytes_buf(k1, sizeof(k1));
	randombytes_buf(k2, sizeof(k2));
	randombytes_buf(k3, sizeof(k3));
	return 0;
}

#define BOTH(f)                                                  \
	{ #f "/aes-256-gcm", f, NULL, NULL, &alg_aes },         \
	{ #f "/xchacha20-poly1305", f, NULL, NULL, &alg_xc }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_api),
		BOTH(test_seal_open),
		BOTH(test_single),
		BOTH(test_zero_len),
		BOTH(test_batch),
		BOTH(test_bulk),
		BOTH(test_largest),
		BOTH(test_many_pieces),
		BOTH(test_switch_mid_batch),
		BOTH(test_rekey),
		BOTH(test_tamper),
		BOTH(test_tamper_later),
		BOTH(test_replay),
		BOTH(test_cross_channel),
		BOTH(test_wrong_key),
		BOTH(test_mismatch),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
