/* net/wire.h - the frame every message travels in.
 *
 * Owns the fixed 32-byte header (magic, version, type, length, sequence,
 * XXH3-64 of the payload) and its checks. Message types are opaque numbers
 * here: what they mean belongs to the protocol that uses the transport.
 * All fields are little-endian on the wire.
 */
#ifndef NET_WIRE_H
#define NET_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define WIRE_MAGIC       0x564d4350u   /* "PCMV" read as little-endian */
#define WIRE_VERSION     1
#define WIRE_HDR_SIZE    32
#define WIRE_MAX_PAYLOAD (8u << 20)    /* largest payload any message may carry */

struct wire_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t len;      /* payload bytes after the header */
	uint32_t flags;    /* reserved, 0 */
	uint64_t seq;      /* per-channel, per-direction, starts at 1 */
	uint64_t csum;     /* XXH3-64 of the payload */
} __attribute__((packed));

_Static_assert(sizeof(struct wire_hdr) == WIRE_HDR_SIZE, "wire header size");

/* Errors a frame can fail with (negative errno, turned into words once by
 * wire_strerror):
 *   -EPROTO           bad magic (the peer speaks another protocol)
 *   -EPROTONOSUPPORT  another wire version
 *   -EMSGSIZE         length above WIRE_MAX_PAYLOAD
 *   -EBADMSG          type 0 or above the caller's max_type
 *   -EILSEQ           payload checksum mismatch
 *   -ERANGE           sequence number out of order
 *   -ECONNABORTED     stream ended inside a frame (truncated message)
 */

/* Checksum of a payload in one piece. */
uint64_t wire_csum(const void *payload, size_t len);

/* Checksum of a payload given as pieces (the sender's iovec); equals
 * wire_csum() of the pieces laid end to end. */
uint64_t wire_csumv(const struct iovec *iov, int niov);

/* Fill a header for a payload of len bytes with checksum csum. The struct
 * holds wire (little-endian) byte order after this; the checks below read
 * it as such. */
void wire_hdr_init(struct wire_hdr *h, uint16_t type, uint32_t len,
		   uint64_t seq, uint64_t csum);

/* Check magic, version, length and type (1..max_type). */
int wire_hdr_check(const struct wire_hdr *h, uint16_t max_type);

/* Check the payload against the header's checksum. */
int wire_payload_check(const struct wire_hdr *h, const void *payload);

/* Words for a wire error (negative errno; also covers the channel's
 * -ENOTCONN and -ESHUTDOWN); falls back to strerror(). Never NULL. */
const char *wire_strerror(int err);

#endif
