/* net/chan.h - one TCP connection driven by its own io_uring.
 *
 * A channel carries framed messages (net/wire.h) in both directions. It is
 * used by one thread at a time. Sending can be batched: net_queue adds a
 * message to the pending batch (header plus payload pieces, no copy of the
 * payload) and net_flush sends the whole batch with one submission, so the
 * bulk path costs one syscall per batch, not per page. Receiving reads large
 * chunks into the channel's buffer and hands out messages from it.
 *
 * net_encrypt seals every later frame in both directions (net/crypt.h):
 * then net_queue copies each payload, encrypted, into a channel buffer
 * and net_recv authenticates a frame before it hands out its plaintext.
 *
 * Every function returns 0 (or a count) on success, negative errno on
 * failure; see net/wire.h for the frame errors.
 */
#ifndef NET_CHAN_H
#define NET_CHAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "net/crypt.h"
#include "lib/attr.h"

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
int net_send(struct net_chan *c, uint16_t type, const void *payload, uint32_t len) PCM_MUST_CHECK;

/* Add a message to the pending batch; flushes by itself when the batch is
 * full. The payload memory must stay unchanged until net_flush returns
 * (sealed, it is copied at once, but callers need not know). */
int net_queue(struct net_chan *c, uint16_t type, const struct iovec *iov, int niov);
int net_flush(struct net_chan *c);

/* Next message, checked (frame, sequence, checksum or authentication).
 * timeout_ms: -1 waits forever, 0 only returns what is already buffered or
 * readable (-EAGAIN if no whole message), >0 waits that long (-ETIMEDOUT).
 * A clean close by the peer between messages is -ENOTCONN; inside a
 * message -ECONNABORTED. A frame error is final: every later call returns
 * it again. On a sealed channel m->len is the plaintext's length and a
 * frame that fails authentication is -EKEYREJECTED, its payload never
 * handed out; a clear frame there (or a sealed one before) is -ENOKEY. */
int net_recv(struct net_chan *c, struct net_msg *m, int timeout_ms);

/* Seal every frame from the next one on, both directions, with alg and
 * 32-byte keys for each direction (the peer's rx key is our tx key). Both
 * ends call it at the same point of their protocol. Sequence numbers keep
 * counting and are the nonces, so a key must serve one direction of one
 * channel only. Frames queued before go out as they were. Calling it again
 * changes keys (rekey), never back to clear: NET_AEAD_NONE is -EINVAL.
 * -ENOTSUP: AES-256-GCM on a CPU without AES-NI. */
int net_encrypt(struct net_chan *c, enum net_aead alg, const uint8_t tx_key[NET_AEAD_KEY_LEN],
		const uint8_t rx_key[NET_AEAD_KEY_LEN]);

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
