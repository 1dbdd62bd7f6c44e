/* postcopy/auth.h - proving that both ends hold the same key.
 *
 * With --psk-file, before HELLO the control channel runs a mutual
 * challenge-response: the source sends a fresh nonce, the destination
 * answers with its own nonce and an HMAC-SHA-256 over both, the source
 * proves itself with an HMAC over both in the other order. Each MAC names
 * its side, so one answer never serves as the other. The page channels
 * carry an HMAC binding them to the session and its nonces. Nothing about
 * the VM crosses before the destination has checked the source's proof.
 * With --encrypt, each channel's two directions get their own AEAD keys,
 * derived from the key and the handshake's two fresh nonces (pm_chan_keys).
 * (libsodium: crypto_auth_hmacsha256, randombytes, constant-time compare.)
 */
#ifndef POSTCOPY_AUTH_H
#define POSTCOPY_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PM_NONCE_LEN 32
#define PM_MAC_LEN   32

struct pm_key {
	bool set;
	uint8_t k[32];
};

/* The key from a file of at least 16 bytes (hashed to 32), readable by
 * its owner only. 0, or negative errno with the reason in why. */
int pm_key_load(const char *path, struct pm_key *key, char *why, size_t len);

void pm_nonce(uint8_t nonce[PM_NONCE_LEN]);
/* MAC over label || a || b (a, b nonces; b may be NULL) || extra. */
void pm_mac(const struct pm_key *key, const char *label, const uint8_t *a, const uint8_t *b,
	    const void *extra, size_t extra_len, uint8_t mac[PM_MAC_LEN]);
/* Constant-time: true when the MAC is the one we compute. */
bool pm_mac_ok(const struct pm_key *key, const char *label, const uint8_t *a, const uint8_t *b,
	       const void *extra, size_t extra_len, const uint8_t mac[PM_MAC_LEN]);

#define PM_CHAN_KEY_LEN 32

/* The AEAD keys of one channel (its number as the protocol counts them)
 * for net_encrypt: HMAC-SHA-256 under the key over a direction label
 * ("pcm-enc-s2d" or "pcm-enc-d2s"), both nonces (source's first) and the
 * channel number. Both ends pass the same nonces in the same order; the
 * source's tx is the destination's rx. Keys differ per channel and per
 * direction, so sequence numbers as nonces never meet twice under one key,
 * and fresh handshake nonces make every migration's keys new. */
void pm_chan_keys(const struct pm_key *key, const uint8_t nonce_src[PM_NONCE_LEN],
		  const uint8_t nonce_dst[PM_NONCE_LEN], unsigned channel, bool is_source,
		  uint8_t tx[PM_CHAN_KEY_LEN], uint8_t rx[PM_CHAN_KEY_LEN]);

#endif
