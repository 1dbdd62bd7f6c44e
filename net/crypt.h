/* net/crypt.h - the AEAD that seals a channel's frames (libsodium).
 *
 * Owns the choice of algorithm, the per-direction key state and sealing or
 * opening one frame's payload. The frame's 32-byte header is the additional
 * data, so what it says (type, length, sequence, flags) is authenticated
 * with the payload. The nonce is the header's sequence number: a key is
 * used for one direction of one channel only and a channel's sequence
 * strictly increases, so a (key, nonce) pair never repeats.
 *
 * Knows nothing of channels or sockets: net/chan.c decides where the bytes
 * live and when a frame is sealed.
 */
#ifndef NET_CRYPT_H
#define NET_CRYPT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define NET_AEAD_KEY_LEN 32
#define NET_AEAD_TAG_LEN 16   /* both algorithms: Poly1305 and GHASH tags */

enum net_aead {
	NET_AEAD_NONE,
	NET_AEAD_AES256GCM,    /* needs AES-NI and CLMUL (libsodium's rule) */
	NET_AEAD_XCHACHA20,    /* XChaCha20-Poly1305-IETF, any CPU */
};

/* Key state for one direction: the key, or for AES-256-GCM its expanded
 * round keys (libsodium's crypto_aead_aes256gcm_state, kept opaque so this
 * header does not pull in <sodium.h>), made once, not per message, which
 * matters for small messages. */
struct net_crypt {
	enum net_aead alg;
	_Alignas(16) uint8_t state[512];
};

/* AES-256-GCM when this CPU runs it in hardware, else XChaCha20-Poly1305. */
enum net_aead net_aead_best(void);

/* "aes-256-gcm", "xchacha20-poly1305", "none"; "unknown" otherwise. */
const char *net_aead_name(enum net_aead alg);

/* Set up k for alg with a 32-byte key. -EINVAL for NET_AEAD_NONE or an
 * unknown alg, -ENOTSUP for AES-256-GCM without AES-NI, -EIO when
 * libsodium cannot initialise. */
int net_crypt_init(struct net_crypt *k, enum net_aead alg, const uint8_t key[NET_AEAD_KEY_LEN]);

/* Wipe the key material (k is NET_AEAD_NONE after). */
void net_crypt_wipe(struct net_crypt *k);

/* Seal len plaintext bytes given as pieces: out receives the ciphertext
 * (len bytes) then the tag (NET_AEAD_TAG_LEN). ad is the frame header
 * (adlen bytes) as it goes on the wire. out must not overlap the pieces. */
void net_crypt_seal(const struct net_crypt *k, uint64_t seq, const void *ad, size_t adlen,
		    const struct iovec *iov, int niov, size_t len, uint8_t *out);

/* Open in place: buf holds ciphertext then tag (len bytes in all). On
 * success buf starts with the len - NET_AEAD_TAG_LEN plaintext bytes.
 * -EKEYREJECTED when it does not authenticate (tampered, wrong key, wrong
 * sequence, or too short to hold a tag); then no plaintext is left in buf. */
int net_crypt_open(const struct net_crypt *k, uint64_t seq, const void *ad, size_t adlen,
		   uint8_t *buf, size_t len);

#endif
