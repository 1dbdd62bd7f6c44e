/* postcopy/auth.h - proving that both ends hold the same key.
 *
 * With --psk-file, before HELLO the control channel runs a mutual
 * challenge-response: the source sends a fresh nonce, the destination
 * answers with its own nonce and an HMAC-SHA-256 over both, the source
 * proves itself with an HMAC over both in the other order. Each MAC names
 * its side, so one answer never serves as the other. The page channels
 * carry an HMAC binding them to the session and its nonces. Nothing about
 * the VM crosses before the destination has checked the source's proof.
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

#endif
