/* net/chan.h - one TCP connection driven by its own io_uring.
 *
 * A channel carries framed messages (net/wire.h) in both directions. It is
 * used by one thread at a time. Sending can be batched: net_queue adds a
 * message to the pending batch (header plus payload pieces, no copy of the
 * payload) and net_flush sends the whole batch with one submission, so the
 * bulk path costs one syscall per batch, not per page. Receiving reads large
 * chunks into the channel's buffer and hands out messages from it.
 *
 * Every function returns 0 (or a count) on success, negative errno on
 * failure; see net/wire.h for the frame errors.
 */
#ifndef NET_CHAN_H
#define NET_CHAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct net_chan;

struct net_msg {
	uint16_t type;
	uint32_t len;
	uint64_t seq;
	const void *payload;   /* valid until the next net_recv on the channel;
				* no alignment promised (frames follow each
				* other byte by byte): memcpy fields out */
};

struct net_stats {
	uint64_t bytes_sent;   /* headers included */
	uint64_t bytes_recv;
	uint64_t msgs_sent;
	uint64_t msgs_recv;
	uint64_t submits;      /* io_uring submissions made for sending */
	uint64_t recvs;        /* recv operations that brought bytes */
};

/* Parse "HOST:PORT" (IPv4 literal, "localhost", or a name getaddrinfo knows;
 * [v6]:port too). */
int net_parse_addr(const char *s, char *host, size_t hostlen, uint16_t *port);

/* Listening socket on host:port (port 0 picks one; *bound gets it). */
int net_listen(const char *host, uint16_t port, int *lfd, uint16_t *bound);

/* Accept one connection on lfd within timeout_ms (-1: wait forever). */
int net_accept(int lfd, int timeout_ms, uint16_t max_type, struct net_chan **out);

/* Connect to host:port within timeout_ms. */
int net_connect(const char *host, uint16_t port, int timeout_ms,
		uint16_t max_type, struct net_chan **out);

/* Send one message now (payload in niov pieces; niov may be 0). */
int net_sendv(struct net_chan *c, uint16_t type, const struct iovec *iov, int niov);
int net_send(struct net_chan *c, uint16_t type, const void *payload, uint32_t len);

/* Add a message to the pending batch; flushes by itself when the batch is
 * full. The payload memory must stay unchanged until net_flush returns. */
int net_queue(struct net_chan *c, uint16_t type, const struct iovec *iov, int niov);
int net_flush(struct net_chan *c);

/* Next message, checked (frame, sequence, checksum). timeout_ms: -1 waits
 * forever, 0 only returns what is already buffered or readable (-EAGAIN if
 * no whole message), >0 waits that long (-ETIMEDOUT). A clean close by the
 * peer between messages is -ENOTCONN; inside a message -ECONNABORTED. */
int net_recv(struct net_chan *c, struct net_msg *m, int timeout_ms);

/* True when a whole message is already buffered (no syscall). */
int net_pending(const struct net_chan *c);

int net_fd(const struct net_chan *c);
void net_get_stats(const struct net_chan *c, struct net_stats *s);
/* Shut the connection down (both directions) without freeing it, so a
 * thread blocked in net_recv (-ESHUTDOWN) or net_flush (-EPIPE) on it
 * returns. The one call that may come from another thread. */
void net_shutdown(struct net_chan *c);
/* Free everything. A batch not yet flushed is dropped, not sent. */
void net_close(struct net_chan *c);

#endif
