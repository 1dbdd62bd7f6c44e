/* net/chan.c - one TCP connection driven by its own io_uring.
 *
 * Sending: net_queue appends a header (kept in c->hdrs) and the caller's
 * payload pieces to c->iov; net_flush hands the whole array to the kernel as
 * one sendmsg SQE. Receiving: one recv at a time reads as much as fits (up to
 * NET_RX_CHUNK) into c->rbuf; net_recv cuts frames out of it.
 *
 * A recv may outlive the net_recv that issued it (timeout): it stays in
 * flight, c->rx_inflight says so, and the next call waits for the same CQE.
 * CQEs are told apart by user_data, so a send can complete while a recv is
 * pending and vice versa.
 *
 * Sealed (after net_encrypt): net_queue writes header and ciphertext into
 * c->tx_buf instead of pointing at the caller's memory, frame after frame,
 * so a batch of them is one contiguous run and one iovec; net_recv opens
 * each frame in place in c->rbuf and hands out the plaintext. The clear
 * path pays one branch for this, no copy.
 */
#include "lib/clock.h"
#include "net/chan.h"
#include "net/crypt.h"
#include "net/wire.h"

#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <liburing.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Memcheck cannot see the kernel fill rbuf through io_uring; tell it, so
 * callers' valgrind runs stay clean. A no-op outside valgrind. */
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#else
#define VALGRIND_MAKE_MEM_DEFINED(p, n) ((void)(p), (void)(n))
#endif

#define NET_RING_ENTRIES 8
#define NET_BATCH_IOV    IOV_MAX          /* sendmsg's own limit */
#define NET_BATCH_BYTES  (1u << 20)       /* flush a batch past this */
#define NET_RX_CAP       (2 * (WIRE_HDR_SIZE + WIRE_MAX_LEN))
/* Sealed batch: below NET_BATCH_BYTES before a frame is queued (net_queue
 * flushes past it), plus one largest frame. Pages are touched only as used. */
#define NET_TX_CAP       (NET_BATCH_BYTES + WIRE_HDR_SIZE + WIRE_MAX_LEN)
#define NET_RX_CHUNK     (4u << 20)       /* largest single recv */
#define NET_RX_MIN       (64u << 10)      /* compact if less room is left */

enum { TAG_RECV = 1, TAG_SEND, TAG_OP, TAG_LTO, TAG_CANCEL };

struct net_chan {
	int fd;
	uint16_t max_type;
	atomic_int shut;              /* set by net_shutdown, maybe another thread */
	struct io_uring ring;
	struct net_stats st;

	/* send side */
	int tx_err;                   /* sticky: the stream is unusable */
	int tx_niov, tx_first, tx_nhdr;
	int tx_inflight, tx_res;
	size_t tx_bytes;              /* bytes in the pending batch */
	uint64_t tx_seq;
	struct msghdr tx_msg;
	struct iovec iov[NET_BATCH_IOV];
	struct wire_hdr hdrs[NET_BATCH_IOV];
	struct net_crypt tx_key;      /* NET_AEAD_NONE: frames go out clear */
	uint8_t *tx_buf;              /* sealed frames of the batch, NET_TX_CAP */
	size_t tx_used;

	/* receive side: bytes rbuf[rhead, rtail) are unparsed */
	uint8_t *rbuf;
	size_t rhead, rtail;
	int rx_inflight, rx_nowait, rx_res, rx_eof;
	int rx_err;                   /* sticky frame error */
	uint64_t rx_seq;
	struct net_crypt rx_key;      /* NET_AEAD_NONE: frames must come clear */

	int op_inflight, op_res;      /* connect / accept */
};

/* ---- time ---------------------------------------------------------- */

/* Deadline for timeout_ms: -1 forever, 0 no wait, else absolute ns. */
static int64_t deadline_of(int timeout_ms)
{
	if (timeout_ms < 0)
		return -1;
	if (timeout_ms == 0)
		return 0;
	return (int64_t)pcm_now_ns() + (int64_t)timeout_ms * 1000000;
}

/* ---- ring ---------------------------------------------------------- */

static void chan_dispatch(struct net_chan *c, uint64_t tag, int res)
{
	switch (tag) {
	case TAG_RECV:
		c->rx_inflight = 0;
		c->rx_res = res;
		if (res > 0) {
			VALGRIND_MAKE_MEM_DEFINED(c->rbuf + c->rtail, res);
			c->rtail += res;
			c->st.bytes_recv += res;
			c->st.recvs++;
		}
		break;
	case TAG_SEND:
		c->tx_inflight = 0;
		c->tx_res = res;
		break;
	case TAG_OP:
		c->op_inflight = 0;
		c->op_res = res;
		break;
	}
	/* TAG_LTO and TAG_CANCEL results say nothing the op's own CQE does not. */
}

/* Wait for one CQE until deadline (see deadline_of) and dispatch it.
 * -ETIMEDOUT when the deadline passed, -EAGAIN when deadline is 0 and
 * nothing is there, -EINTR on a signal. */
static int chan_reap(struct net_chan *c, int64_t deadline)
{
	struct io_uring_cqe *cqe;
	int r;

	if (deadline < 0) {
		r = io_uring_wait_cqe(&c->ring, &cqe);
	} else if (deadline == 0) {
		r = io_uring_peek_cqe(&c->ring, &cqe);
	} else {
		int64_t left = deadline - (int64_t)pcm_now_ns();
		struct __kernel_timespec ts;

		if (left <= 0)
			return -ETIMEDOUT;
		ts.tv_sec = left / 1000000000;
		ts.tv_nsec = left % 1000000000;
		r = io_uring_wait_cqe_timeout(&c->ring, &cqe, &ts);
	}
	if (r == -ETIME)
		return -ETIMEDOUT;
	if (r < 0)
		return r;
	chan_dispatch(c, cqe->user_data, cqe->res);
	io_uring_cqe_seen(&c->ring, cqe);
	return 0;
}

/* Reap until *flag drops (the op it stands for completed). */
static int chan_wait_flag(struct net_chan *c, const int *flag, int64_t deadline)
{
	while (*flag) {
		int r = chan_reap(c, deadline);

		if (r < 0 && r != -EINTR)
			return r;
	}
	return 0;
}

static struct io_uring_sqe *chan_sqe(struct net_chan *c, uint64_t tag)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);

	/* Never more than a handful of ops at once, so this cannot fail
	 * unless the ring itself is broken. */
	if (sqe)
		io_uring_sqe_set_data64(sqe, tag);
	return sqe;
}

static struct net_chan *chan_new(uint16_t max_type, int *err)
{
	struct net_chan *c = calloc(1, sizeof(*c));

	*err = -ENOMEM;
	if (!c)
		return NULL;
	c->fd = -1;
	c->max_type = max_type;
	c->rbuf = malloc(NET_RX_CAP);  /* pages are touched only as used */
	if (!c->rbuf) {
		free(c);
		return NULL;
	}
	*err = io_uring_queue_init(NET_RING_ENTRIES, &c->ring, 0);
	if (*err < 0) {
		free(c->rbuf);
		free(c);
		return NULL;
	}
	return c;
}

/* Submit the op already prepared as TAG_OP, bounded by timeout_ms through a
 * linked timeout, and wait for it. A timeout cancels the op (-ECANCELED),
 * which we report as -ETIMEDOUT. */
static int chan_run_op(struct net_chan *c, struct io_uring_sqe *sqe, int timeout_ms)
{
	struct __kernel_timespec ts = {
		.tv_sec = timeout_ms / 1000,
		.tv_nsec = (long long)(timeout_ms % 1000) * 1000000,
	};
	int r;

	c->op_inflight = 1;
	if (timeout_ms >= 0) {
		sqe->flags |= IOSQE_IO_LINK;
		sqe = chan_sqe(c, TAG_LTO);
		io_uring_prep_link_timeout(sqe, &ts, 0);
	}
	r = io_uring_submit(&c->ring);
	if (r < 0)
		return r;
	/* Drain both CQEs (op and link timeout) so none leaks into later waits. */
	for (int n = timeout_ms >= 0 ? 2 : 1; n > 0; n--) {
		r = chan_reap(c, -1);
		if (r == -EINTR)
			n++;
		else if (r < 0)
			return r;
	}
	if (c->op_inflight)
		return -EIO;
	return c->op_res == -ECANCELED ? -ETIMEDOUT : c->op_res;
}

/* ---- addresses and sockets ----------------------------------------- */

static int parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;

	if (!*s || strlen(s) > 5)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

int net_parse_addr(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	const char *h = s, *colon;
	size_t n;

	if (!s || !host || !port)
		return -EINVAL;
	if (*s == '[') {                         /* [v6]:port */
		const char *end = strchr(s, ']');

		if (!end || end[1] != ':')
			return -EINVAL;
		h = s + 1;
		n = (size_t)(end - h);
		colon = end + 1;
	} else {
		colon = strchr(s, ':');
		/* A second colon means a bare v6 address: ambiguous. */
		if (!colon || strchr(colon + 1, ':'))
			return -EINVAL;
		n = (size_t)(colon - s);
	}
	if (n == 0)
		return -EINVAL;
	if (n >= hostlen)
		return -ENAMETOOLONG;
	if (parse_port(colon + 1, port) < 0)
		return -EINVAL;
	memcpy(host, h, n);
	host[n] = '\0';
	return 0;
}

static int resolve(const char *host, uint16_t port, int passive,
		   struct addrinfo **res)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0),
	};
	char ps[8];
	int r;

	if (host && (!*host || !strcmp(host, "*")))
		host = NULL;                     /* any address */
	snprintf(ps, sizeof(ps), "%u", port);
	r = getaddrinfo(host, ps, &hints, res);
	if (r == EAI_SYSTEM)
		return -errno;
	if (r == EAI_MEMORY)
		return -ENOMEM;
	return r ? -EHOSTUNREACH : 0;        /* name does not resolve */
}

/* Small messages (page requests) must not wait for Nagle. Buffer sizes are
 * left to the kernel's autotuning on purpose: forcing SO_SNDBUF/SO_RCVBUF
 * to 4 MiB locks them (no growth to tcp_rmem's max for a long link) and
 * measured slower on loopback (256 KiB messages, ~1.5 vs ~2.1 GB/s). */
static void sock_tune(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int sock_port(int fd, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return -errno;
	if (ss.ss_family == AF_INET6)
		*port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

int net_listen(const char *host, uint16_t port, int *lfd, uint16_t *bound)
{
	struct addrinfo *res, *ai;
	int r, fd = -1, one = 1;

	r = resolve(host, port, 1, &res);
	if (r < 0)
		return r;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			r = -errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (!bind(fd, ai->ai_addr, ai->ai_addrlen) && !listen(fd, 64))
			break;
		r = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return r;
	if (bound && (r = sock_port(fd, bound)) < 0) {
		close(fd);
		return r;
	}
	*lfd = fd;
	return 0;
}

/* ---- connection setup ---------------------------------------------- */

static void chan_free(struct net_chan *c)
{
	io_uring_queue_exit(&c->ring);
	if (c->fd >= 0)
		close(c->fd);
	net_crypt_wipe(&c->tx_key);
	net_crypt_wipe(&c->rx_key);
	free(c->tx_buf);
	free(c->rbuf);
	free(c);
}

int net_accept(int lfd, int timeout_ms, uint16_t max_type, struct net_chan **out)
{
	struct net_chan *c;
	struct io_uring_sqe *sqe;
	int r;

	c = chan_new(max_type, &r);
	if (!c)
		return r;
	sqe = chan_sqe(c, TAG_OP);
	io_uring_prep_accept(sqe, lfd, NULL, NULL, SOCK_CLOEXEC);
	r = chan_run_op(c, sqe, timeout_ms);
	if (r < 0) {
		chan_free(c);
		return r;
	}
	c->fd = r;
	sock_tune(c->fd);
	*out = c;
	return 0;
}

/* One connect attempt to one address on a fresh socket. */
static int chan_connect_one(struct net_chan *c, const struct addrinfo *ai,
			    int64_t deadline)
{
	struct io_uring_sqe *sqe;
	int ms = -1, r;

	if (deadline > 0) {
		int64_t left = deadline - (int64_t)pcm_now_ns();

		if (left <= 0)
			return -ETIMEDOUT;
		ms = (int)((left + 999999) / 1000000);
	} else if (deadline == 0) {
		ms = 0;
	}
	c->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -errno;
	sock_tune(c->fd);
	sqe = chan_sqe(c, TAG_OP);
	io_uring_prep_connect(sqe, c->fd, ai->ai_addr, ai->ai_addrlen);
	r = chan_run_op(c, sqe, ms);
	if (r < 0) {
		close(c->fd);
		c->fd = -1;
	}
	return r;
}

int net_connect(const char *host, uint16_t port, int timeout_ms,
		uint16_t max_type, struct net_chan **out)
{
	int64_t deadline = deadline_of(timeout_ms);
	struct addrinfo *res, *ai;
	struct net_chan *c;
	int r;

	r = resolve(host, port, 0, &res);
	if (r < 0)
		return r;
	c = chan_new(max_type, &r);
	if (!c) {
		freeaddrinfo(res);
		return r;
	}
	/* "localhost" may give ::1 and 127.0.0.1: try each in turn. */
	for (ai = res; ai; ai = ai->ai_next) {
		r = chan_connect_one(c, ai, deadline);
		if (r >= 0 || r == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	if (r < 0) {
		chan_free(c);
		return r;
	}
	*out = c;
	return 0;
}

/* ---- sending ------------------------------------------------------- */

/* Drop sent bytes off the front of the batch after a short send. */
static void tx_advance(struct net_chan *c, size_t done)
{
	while (done > 0 && c->tx_first < c->tx_niov) {
		struct iovec *v = &c->iov[c->tx_first];

		if (done < v->iov_len) {
			v->iov_base = (char *)v->iov_base + done;
			v->iov_len -= done;
			return;
		}
		done -= v->iov_len;
		c->tx_first++;
	}
}

static void tx_reset(struct net_chan *c)
{
	c->tx_niov = c->tx_first = c->tx_nhdr = 0;
	c->tx_bytes = 0;
	c->tx_used = 0;
}

/* One sendmsg SQE for what is left of the batch, one submit-and-wait.
 * MSG_WAITALL lets io_uring retry short sends itself; we still cope. */
static int tx_send_once(struct net_chan *c)
{
	struct io_uring_sqe *sqe = chan_sqe(c, TAG_SEND);
	int r;

	if (!sqe)
		return -EBUSY;
	c->tx_msg = (struct msghdr){
		.msg_iov = &c->iov[c->tx_first],
		.msg_iovlen = (size_t)(c->tx_niov - c->tx_first),
	};
	io_uring_prep_sendmsg(sqe, c->fd, &c->tx_msg, MSG_NOSIGNAL | MSG_WAITALL);
	c->tx_inflight = 1;
	/* -EINTR here means nothing went in (a count is returned otherwise). */
	do
		r = io_uring_submit_and_wait(&c->ring, 1);
	while (r == -EINTR);
	c->st.submits++;
	if (r < 0) {
		c->tx_inflight = 0;
		return r;
	}
	r = chan_wait_flag(c, &c->tx_inflight, -1);
	if (r < 0)
		return r;
	if (c->tx_res <= 0)
		return c->tx_res ? c->tx_res : -EPIPE;
	c->st.bytes_sent += (uint64_t)c->tx_res;
	tx_advance(c, (size_t)c->tx_res);
	return 0;
}

int net_flush(struct net_chan *c)
{
	int r = 0;

	if (c->tx_err)
		return c->tx_err;
	while (c->tx_first < c->tx_niov && r == 0)
		r = tx_send_once(c);
	tx_reset(c);
	if (r < 0)
		c->tx_err = r;   /* part of a frame may be out: the stream is lost */
	return r;
}

/* Append one piece; a full iovec array is flushed first. A message may
 * straddle two flushes: TCP is a byte stream, the peer cannot tell. */
static int tx_add(struct net_chan *c, void *base, size_t len)
{
	if (c->tx_niov == NET_BATCH_IOV) {
		int r = net_flush(c);

		if (r < 0)
			return r;
	}
	c->iov[c->tx_niov++] = (struct iovec){ .iov_base = base, .iov_len = len };
	c->tx_bytes += len;
	return 0;
}

static int payload_len(const struct iovec *iov, int niov, uint32_t *len)
{
	size_t sum = 0;

	if (niov < 0 || (niov > 0 && !iov))
		return -EINVAL;
	for (int i = 0; i < niov; i++) {
		if (iov[i].iov_len > WIRE_MAX_PAYLOAD - sum)
			return -EMSGSIZE;
		sum += iov[i].iov_len;
	}
	*len = (uint32_t)sum;
	return 0;
}

/* Clear: a header slot plus the caller's pieces, nothing copied. */
static int tx_queue_clear(struct net_chan *c, uint16_t type, const struct iovec *iov,
			  int niov, uint32_t len)
{
	struct wire_hdr *h;
	int r;

	if (c->tx_niov == NET_BATCH_IOV && (r = net_flush(c)) < 0)
		return r;
	/* Header slots never run out first: each one also takes an iovec. */
	h = &c->hdrs[c->tx_nhdr++];
	wire_hdr_init(h, type, len, ++c->tx_seq, wire_csumv(iov, niov));
	r = tx_add(c, h, WIRE_HDR_SIZE);
	for (int i = 0; i < niov && r == 0; i++)
		if (iov[i].iov_len)
			r = tx_add(c, iov[i].iov_base, iov[i].iov_len);
	return r;
}

/* Sealed: header and ciphertext + tag written into tx_buf; the iovec of
 * the previous sealed frame grows over it when they touch. */
static int tx_queue_sealed(struct net_chan *c, uint16_t type, const struct iovec *iov,
			   int niov, uint32_t len)
{
	size_t n = WIRE_HDR_SIZE + (size_t)len + WIRE_TAG_SIZE;
	struct iovec *last;
	struct wire_hdr *h;
	uint8_t *p;
	int r;

	/* The size check cannot fire while net_queue keeps a batch under
	 * NET_BATCH_BYTES; it stays so the buffer can never be overrun. Both
	 * flush before anything is written: a flush empties tx_buf. */
	if (c->tx_used + n > NET_TX_CAP || c->tx_niov == NET_BATCH_IOV) {
		r = net_flush(c);
		if (r < 0)
			return r;
	}
	p = c->tx_buf + c->tx_used;
	h = (struct wire_hdr *)p;
	/* The header is the additional data: complete it before sealing. */
	wire_hdr_init(h, type, len + WIRE_TAG_SIZE, ++c->tx_seq, 0);
	h->flags = htole32(WIRE_F_SEALED);
	net_crypt_seal(&c->tx_key, c->tx_seq, h, WIRE_HDR_SIZE, iov, niov, len,
		       p + WIRE_HDR_SIZE);
	c->tx_used += n;
	c->tx_bytes += n;
	last = c->tx_niov > 0 ? &c->iov[c->tx_niov - 1] : NULL;
	if (last && (uint8_t *)last->iov_base + last->iov_len == p)
		last->iov_len += n;
	else
		c->iov[c->tx_niov++] = (struct iovec){ .iov_base = p, .iov_len = n };
	return 0;
}

int net_queue(struct net_chan *c, uint16_t type, const struct iovec *iov, int niov)
{
	uint32_t len;
	int r;

	if (c->tx_err)
		return c->tx_err;
	if (type == 0)
		return -EINVAL;
	r = payload_len(iov, niov, &len);
	if (r < 0)
		return r;
	if (c->tx_key.alg != NET_AEAD_NONE)
		r = tx_queue_sealed(c, type, iov, niov, len);
	else
		r = tx_queue_clear(c, type, iov, niov, len);
	if (r < 0)
		return r;
	c->st.msgs_sent++;
	return c->tx_bytes >= NET_BATCH_BYTES ? net_flush(c) : 0;
}

int net_sendv(struct net_chan *c, uint16_t type, const struct iovec *iov, int niov)
{
	int r = net_queue(c, type, iov, niov);

	return r < 0 ? r : net_flush(c);
}

int net_send(struct net_chan *c, uint16_t type, const void *payload, uint32_t len)
{
	struct iovec v = { .iov_base = (void *)payload, .iov_len = len };

	return net_sendv(c, type, &v, len ? 1 : 0);
}

/* ---- receiving ----------------------------------------------------- */

/* Make room for at least need more bytes (and a useful chunk) after rtail.
 * Only called with no recv in flight: the kernel may write to rbuf then. */
static void rx_make_room(struct net_chan *c, size_t need)
{
	size_t want = need > NET_RX_MIN ? need : NET_RX_MIN;

	if (c->rhead == c->rtail)
		c->rhead = c->rtail = 0;
	if (NET_RX_CAP - c->rtail >= want)
		return;
	/* Moves less than one frame: we only read when no whole one is here.
	 * The buffer holds two largest frames, so a frame always fits after. */
	memmove(c->rbuf, c->rbuf + c->rhead, c->rtail - c->rhead);
	c->rtail -= c->rhead;
	c->rhead = 0;
}

static int rx_submit(struct net_chan *c, int nowait)
{
	size_t room = NET_RX_CAP - c->rtail;
	struct io_uring_sqe *sqe = chan_sqe(c, TAG_RECV);
	int r;

	if (!sqe)
		return -EBUSY;
	io_uring_prep_recv(sqe, c->fd, c->rbuf + c->rtail,
			   room < NET_RX_CHUNK ? room : NET_RX_CHUNK,
			   nowait ? MSG_DONTWAIT : 0);
	c->rx_inflight = 1;
	c->rx_nowait = nowait;
	r = io_uring_submit(&c->ring);
	if (r < 0)
		c->rx_inflight = 0;
	return r < 0 ? r : 0;
}

/* What the end of the stream means here. */
static int rx_eof_err(const struct net_chan *c)
{
	if (c->rtail > c->rhead)
		return -ECONNABORTED;
	return atomic_load(&c->shut) ? -ESHUTDOWN : -ENOTCONN;
}

/* Read more bytes: need is what the current frame still lacks. */
static int rx_fill(struct net_chan *c, size_t need, int64_t deadline)
{
	int r;

	if (!c->rx_inflight) {
		if (c->rx_eof)
			return rx_eof_err(c);
		rx_make_room(c, need);
		r = rx_submit(c, deadline == 0);
		if (r < 0)
			return r;
	}
	/* A MSG_DONTWAIT recv completes at once: wait for it in full. */
	r = chan_wait_flag(c, &c->rx_inflight, c->rx_nowait ? -1 : deadline);
	if (r < 0)
		return r;   /* -ETIMEDOUT / -EAGAIN: the recv stays in flight */
	if (c->rx_res > 0)
		return 0;
	if (c->rx_res == 0) {
		c->rx_eof = 1;
		return rx_eof_err(c);
	}
	return c->rx_res;
}

/* The header's own checks, and sealed exactly when we expect it: a clear
 * frame on an encrypted channel would bypass the authentication. */
static int rx_hdr_check(const struct net_chan *c, const struct wire_hdr *h)
{
	int r = wire_hdr_check(h, c->max_type);

	if (r < 0)
		return r;
	if (!(le32toh(h->flags) & WIRE_F_SEALED) != (c->rx_key.alg == NET_AEAD_NONE))
		return -ENOKEY;
	return 0;
}

/* Check a whole frame's payload: its checksum, or open it in place and
 * shorten *len to the plaintext. Authentication comes before the sequence
 * check so that any changed header byte reads as tampering. */
static int rx_payload(struct net_chan *c, const struct wire_hdr *h, uint8_t *payload,
		      uint32_t *len)
{
	int r;

	if (c->rx_key.alg == NET_AEAD_NONE)
		return wire_payload_check(h, payload);
	r = net_crypt_open(&c->rx_key, le64toh(h->seq), h, WIRE_HDR_SIZE, payload, *len);
	if (r == 0)
		*len -= WIRE_TAG_SIZE;
	return r;
}

/* Cut the next frame out of the buffer: 1 with *m filled, 0 when more
 * bytes are needed (*need says how many), or a frame error. */
static int rx_parse(struct net_chan *c, struct net_msg *m, size_t *need)
{
	uint8_t *p = c->rbuf + c->rhead;
	size_t avail = c->rtail - c->rhead, total;
	const struct wire_hdr *h = (const void *)p;
	uint32_t len;
	int r;

	if (avail < WIRE_HDR_SIZE) {
		*need = WIRE_HDR_SIZE - avail;
		return 0;
	}
	r = rx_hdr_check(c, h);
	if (r < 0)
		return r;
	len = le32toh(h->len);
	total = WIRE_HDR_SIZE + (size_t)len;
	if (avail < total) {
		*need = total - avail;
		return 0;
	}
	r = rx_payload(c, h, p + WIRE_HDR_SIZE, &len);
	if (r < 0)
		return r;
	if (le64toh(h->seq) != c->rx_seq + 1)
		return -ERANGE;
	c->rx_seq++;
	*m = (struct net_msg){
		.type = le16toh(h->type),
		.len = len,
		.seq = le64toh(h->seq),
		.payload = p + WIRE_HDR_SIZE,
	};
	c->rhead += total;
	c->st.msgs_recv++;
	return 1;
}

int net_recv(struct net_chan *c, struct net_msg *m, int timeout_ms)
{
	int64_t deadline = deadline_of(timeout_ms);
	size_t need = 0;
	int r;

	/* Frame errors stick: the stream is not resynchronised after one,
	 * and a frame opened in place could not be checked twice. */
	if (c->rx_err)
		return c->rx_err;
	while ((r = rx_parse(c, m, &need)) == 0) {
		r = rx_fill(c, need, deadline);
		if (r == -ETIMEDOUT && timeout_ms == 0)
			r = -EAGAIN;
		if (r < 0)
			return r;
	}
	if (r < 0) {
		c->rx_err = r;
		return r;
	}
	return 0;
}

int net_pending(const struct net_chan *c)
{
	const struct wire_hdr *h = (const void *)(c->rbuf + c->rhead);
	size_t avail = c->rtail - c->rhead;

	/* A frame error counts: net_recv would return it at once. */
	if (c->rx_err)
		return 1;
	if (avail < WIRE_HDR_SIZE)
		return 0;
	if (rx_hdr_check(c, h) < 0)
		return 1;
	return avail >= WIRE_HDR_SIZE + (size_t)le32toh(h->len);
}

/* ---- sealing ------------------------------------------------------- */

int net_encrypt(struct net_chan *c, enum net_aead alg, const uint8_t tx_key[NET_AEAD_KEY_LEN],
		const uint8_t rx_key[NET_AEAD_KEY_LEN])
{
	struct net_crypt tx, rx;
	int r;

	r = net_crypt_init(&tx, alg, tx_key);
	if (r == 0)
		r = net_crypt_init(&rx, alg, rx_key);
	else
		memset(&rx, 0, sizeof(rx));
	if (r == 0 && !c->tx_buf) {
		c->tx_buf = malloc(NET_TX_CAP);
		if (!c->tx_buf)
			r = -ENOMEM;
	}
	/* Frames already queued keep their form; the next one is sealed. */
	if (r == 0) {
		c->tx_key = tx;
		c->rx_key = rx;
	}
	net_crypt_wipe(&tx);
	net_crypt_wipe(&rx);
	return r;
}

/* ---- the rest ------------------------------------------------------ */

int net_fd(const struct net_chan *c)
{
	return c->fd;
}

void net_get_stats(const struct net_chan *c, struct net_stats *s)
{
	*s = c->st;
}

void net_shutdown(struct net_chan *c)
{
	atomic_store(&c->shut, 1);
	shutdown(c->fd, SHUT_RDWR);
}

/* A recv left in flight still targets rbuf: cancel it and wait for its
 * CQE before the buffer is freed. */
static void rx_cancel(struct net_chan *c)
{
	struct io_uring_sqe *sqe;

	if (!c->rx_inflight)
		return;
	sqe = chan_sqe(c, TAG_CANCEL);
	if (sqe) {
		io_uring_prep_cancel64(sqe, TAG_RECV, 0);
		io_uring_submit(&c->ring);
	}
	shutdown(c->fd, SHUT_RDWR);   /* in case the cancel could not go out */
	chan_wait_flag(c, &c->rx_inflight, -1);
}

void net_close(struct net_chan *c)
{
	if (!c)
		return;
	rx_cancel(c);
	chan_free(c);
}
