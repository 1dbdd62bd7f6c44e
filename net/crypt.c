/* net/crypt.c - one frame's AEAD: algorithm choice, keys, seal, open.
 *
 * Both algorithms use libsodium's detached calls so the tag lands right
 * after the ciphertext, where the frame carries it. Nonces are the
 * sequence number, little-endian, zero-padded to the algorithm's nonce
 * size: unique per key because a key serves one direction of one channel
 * and that direction's sequence only goes up.
 *
 * AES-256-GCM caveat (libsodium's advice): no more than about 350 GB
 * under one key. Keys here last one channel of one migration; a guest
 * whose memory crosses that on one channel would want a rekey (calling
 * net_encrypt again with fresh keys on both ends at the same point).
 */
#include "net/crypt.h"

#include <endian.h>
#include <errno.h>
#include <sodium.h>
#include <stddef.h>
#include <string.h>

_Static_assert(crypto_aead_aes256gcm_ABYTES == NET_AEAD_TAG_LEN, "GCM tag");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_ABYTES == NET_AEAD_TAG_LEN, "Poly1305 tag");
_Static_assert(crypto_aead_aes256gcm_KEYBYTES == NET_AEAD_KEY_LEN, "GCM key");
_Static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == NET_AEAD_KEY_LEN, "XChaCha key");
_Static_assert(sizeof(crypto_aead_aes256gcm_state) <= sizeof(((struct net_crypt *)0)->state),
	       "GCM state fits");
_Static_assert(_Alignof(crypto_aead_aes256gcm_state) <= 16, "GCM state alignment");

static const crypto_aead_aes256gcm_state *gcm(const struct net_crypt *k)
{
	return (const void *)k->state;
}

/* Large enough for either nonce (GCM 12, XChaCha 24). */
#define NONCE_MAX crypto_aead_xchacha20poly1305_ietf_NPUBBYTES

static void nonce_of(uint64_t seq, uint8_t n[NONCE_MAX])
{
	uint64_t le = htole64(seq);

	memset(n, 0, NONCE_MAX);
	memcpy(n, &le, sizeof(le));
}

enum net_aead net_aead_best(void)
{
	/* sodium_init runs the CPU feature probe the test below reads. */
	if (sodium_init() >= 0 && crypto_aead_aes256gcm_is_available())
		return NET_AEAD_AES256GCM;
	return NET_AEAD_XCHACHA20;
}

const char *net_aead_name(enum net_aead alg)
{
	switch (alg) {
	case NET_AEAD_NONE:
		return "none";
	case NET_AEAD_AES256GCM:
		return "aes-256-gcm";
	case NET_AEAD_XCHACHA20:
		return "xchacha20-poly1305";
	}
	return "unknown";
}

int net_crypt_init(struct net_crypt *k, enum net_aead alg, const uint8_t key[NET_AEAD_KEY_LEN])
{
	memset(k, 0, sizeof(*k));
	if (sodium_init() < 0)
		return -EIO;
	switch (alg) {
	case NET_AEAD_AES256GCM:
		if (!crypto_aead_aes256gcm_is_available())
			return -ENOTSUP;
		crypto_aead_aes256gcm_beforenm((crypto_aead_aes256gcm_state *)k->state, key);
		break;
	case NET_AEAD_XCHACHA20:
		memcpy(k->state, key, NET_AEAD_KEY_LEN);
		break;
	default:
		return -EINVAL;
	}
	k->alg = alg;
	return 0;
}

void net_crypt_wipe(struct net_crypt *k)
{
	sodium_memzero(k, sizeof(*k));
}

/* Encrypt len bytes at m into c (c == m allowed: libsodium encrypts in
 * place), tag after the ciphertext. */
static void seal_one(const struct net_crypt *k, const uint8_t *n, const void *ad, size_t adlen,
		     const uint8_t *m, size_t len, uint8_t *c)
{
	if (k->alg == NET_AEAD_AES256GCM)
		crypto_aead_aes256gcm_encrypt_detached_afternm(c, c + len, NULL, m, len,
							       ad, adlen, NULL, n, gcm(k));
	else
		crypto_aead_xchacha20poly1305_ietf_encrypt_detached(c, c + len, NULL, m, len,
								    ad, adlen, NULL, n, k->state);
}

void net_crypt_seal(const struct net_crypt *k, uint64_t seq, const void *ad, size_t adlen,
		    const struct iovec *iov, int niov, size_t len, uint8_t *out)
{
	uint8_t n[NONCE_MAX];
	size_t off = 0;

	nonce_of(seq, n);
	/* One piece encrypts straight from the caller's memory: one pass.
	 * Several are gathered first, since one AEAD call takes one run. */
	if (niov == 1) {
		seal_one(k, n, ad, adlen, iov[0].iov_base, len, out);
		return;
	}
	for (int i = 0; i < niov; i++) {
		memcpy(out + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	seal_one(k, n, ad, adlen, out, len, out);
}

int net_crypt_open(const struct net_crypt *k, uint64_t seq, const void *ad, size_t adlen,
		   uint8_t *buf, size_t len)
{
	uint8_t n[NONCE_MAX];
	size_t mlen;
	int r;

	if (len < NET_AEAD_TAG_LEN)
		return -EKEYREJECTED;
	mlen = len - NET_AEAD_TAG_LEN;
	nonce_of(seq, n);
	/* On failure libsodium leaves no plaintext behind: both check the
	 * tag before they decrypt (newer GCM code wipes what it decrypted). */
	if (k->alg == NET_AEAD_AES256GCM)
		r = crypto_aead_aes256gcm_decrypt_detached_afternm(buf, NULL, buf, mlen, buf + mlen,
								   ad, adlen, n, gcm(k));
	else if (k->alg == NET_AEAD_XCHACHA20)
		r = crypto_aead_xchacha20poly1305_ietf_decrypt_detached(buf, NULL, buf, mlen,
									buf + mlen, ad, adlen, n,
									k->state);
	else
		r = -1;
	return r == 0 ? 0 : -EKEYREJECTED;
}
