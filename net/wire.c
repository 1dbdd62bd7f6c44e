/* net/wire.c - the frame header, its checks and the payload checksum. */
#include "net/wire.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

#define XXH_STATIC_LINKING_ONLY   /* XXH3_state_t on the stack, no malloc */
#include <xxhash.h>

uint64_t wire_csum(const void *payload, size_t len)
{
	return XXH3_64bits(payload, len);
}

uint64_t wire_csumv(const struct iovec *iov, int niov)
{
	XXH3_state_t st;

	/* One piece is the common case and the one-shot hash is faster. */
	if (niov <= 0)
		return XXH3_64bits(NULL, 0);
	if (niov == 1)
		return XXH3_64bits(iov[0].iov_base, iov[0].iov_len);
	XXH3_64bits_reset(&st);
	for (int i = 0; i < niov; i++)
		XXH3_64bits_update(&st, iov[i].iov_base, iov[i].iov_len);
	return XXH3_64bits_digest(&st);
}

void wire_hdr_init(struct wire_hdr *h, uint16_t type, uint32_t len,
		   uint64_t seq, uint64_t csum)
{
	h->magic = htole32(WIRE_MAGIC);
	h->version = htole16(WIRE_VERSION);
	h->type = htole16(type);
	h->len = htole32(len);
	h->flags = 0;
	h->seq = htole64(seq);
	h->csum = htole64(csum);
}

int wire_hdr_check(const struct wire_hdr *h, uint16_t max_type)
{
	uint16_t type = le16toh(h->type);
	uint32_t flags = le32toh(h->flags);

	/* Order matters: a stranger fails on magic before anything else. */
	if (le32toh(h->magic) != WIRE_MAGIC)
		return -EPROTO;
	if (le16toh(h->version) != WIRE_VERSION)
		return -EPROTONOSUPPORT;
	/* A flag we do not know changes what the frame means: a newer wire. */
	if (flags & ~WIRE_F_SEALED)
		return -EPROTONOSUPPORT;
	if (le32toh(h->len) > ((flags & WIRE_F_SEALED) ? WIRE_MAX_LEN : WIRE_MAX_PAYLOAD))
		return -EMSGSIZE;
	if (type == 0 || type > max_type)
		return -EBADMSG;
	return 0;
}

int wire_payload_check(const struct wire_hdr *h, const void *payload)
{
	uint64_t got = XXH3_64bits(payload, le32toh(h->len));

	return got == le64toh(h->csum) ? 0 : -EILSEQ;
}

const char *wire_strerror(int err)
{
	const char *s;

	switch (err < 0 ? -err : err) {
	case EPROTO:
		return "bad magic: peer does not speak postcopy-move";
	case EPROTONOSUPPORT:
		return "wire version mismatch";
	case EMSGSIZE:
		return "message too long";
	case EBADMSG:
		return "unknown message type";
	case EILSEQ:
		return "payload checksum mismatch";
	case ERANGE:
		return "message sequence out of order";
	case ECONNABORTED:
		return "connection closed inside a message (truncated)";
	case ENOTCONN:
		return "connection closed by the peer";
	case ESHUTDOWN:
		return "connection shut down locally";
	case EKEYREJECTED:
		return "message failed authentication (tampered or wrong key)";
	case ENOKEY:
		return "message encryption mismatch (one end encrypts, the other does not)";
	}
	/* strerrordesc_np returns static text: safe from any thread. */
	s = strerrordesc_np(err < 0 ? -err : err);
	return s ? s : "unknown error";
}
