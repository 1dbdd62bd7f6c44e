/* net/wire.h - the frame every message travels in.
 *
 * Owns the fixed 32-byte header (magic, version, type, length, sequence,
 * XXH3-64 of the payload) and its checks. Message types are opaque numbers
 * here: what they mean belongs to the protocol that uses the transport.
 * All fields are little-endian on the wire.
 *
 * A sealed frame (WIRE_F_SEALED, see net/crypt.h and net_encrypt) keeps
 * the header in clear as the AEAD's additional data; len then counts the
 * ciphertext plus its 16-byte tag and csum is 0, unchecked: the tag covers
 * every byte of header and payload, a checksum would add nothing.
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
#define WIRE_TAG_SIZE    16            /* AEAD tag after a sealed payload */
/* Largest len a header may hold: a sealed maximal payload. */
#define WIRE_MAX_LEN     (WIRE_MAX_PAYLOAD + WIRE_TAG_SIZE)

#define WIRE_F_SEALED    0x1u          /* payload is ciphertext + tag */

struct wire_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t type;
	uint32_t len;      /* payload bytes after the header (sealed: + tag) */
	uint32_t flags;    /* WIRE_F_SEALED or 0; other bits reserved, 0 */
	uint64_t seq;      /* per-channel, per-direction, starts at 1 */
	uint64_t csum;     /* XXH3-64 of the payload; 0 when sealed */
} __attribute__((packed));

_Static_assert(sizeof(struct wire_hdr) == WIRE_HDR_SIZE, "wire header size");

/* Errors a frame can fail with (negative errno, turned into words once by
 * wire_strerror):
 *   -EPROTO           bad magic (the peer speaks another protocol)
 *   -EPROTONOSUPPORT  another wire version, or flag bits we do not know
 *   -EMSGSIZE         length above WIRE_MAX_PAYLOAD (sealed: plus the tag)
 *   -EBADMSG          type 0 or above the caller's max_type
 *   -EILSEQ           payload checksum mismatch
 *   -ERANGE           sequence number out of order
 *   -ECONNABORTED     stream ended inside a frame (truncated message)
 *   -EKEYREJECTED     sealed frame failed authentication (net_recv)
 *   -ENOKEY           clear frame where sealed ones are due, or the
 *                     other way round (net_recv)
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

/* Check magic, version, flags, length and type (1..max_type). Whether a
 * sealed frame is welcome is the channel's business, not checked here. */
int wire_hdr_check(const struct wire_hdr *h, uint16_t max_type);

/* Check the payload against the header's checksum. */
int wire_payload_check(const struct wire_hdr *h, const void *payload);

/* Words for a wire error (negative errno; also covers the channel's
 * -ENOTCONN and -ESHUTDOWN); falls back to strerror(). Never NULL. */
const char *wire_strerror(int err);

#endif
