/* postcopy/auth.c - the pre-shared key, its MACs and the channel keys
 * derived from it (libsodium). */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "postcopy/auth.h"

int pm_key_load(const char *path, struct pm_key *key, char *why, size_t len)
{
	uint8_t buf[4096];
	struct stat st;
	ssize_t n;
	int fd, err;

	memset(key, 0, sizeof(*key));
	if (sodium_init() < 0) {
		snprintf(why, len, "libsodium cannot initialise");
		return -EIO;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		snprintf(why, len, "key file %s: %s", path, strerror(-err));
		return err;
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & 077)) {
		close(fd);
		snprintf(why, len, "key file %s is readable by others (chmod 600 it)", path);
		return -EPERM;
	}
	n = read(fd, buf, sizeof(buf));
	err = n < 0 ? -errno : 0;
	close(fd);
	if (n < 16) {
		snprintf(why, len, "key file %s: %s", path,
			 err ? strerror(-err) : "needs at least 16 bytes of key");
		return err ? err : -EINVAL;
	}
	crypto_generichash(key->k, sizeof(key->k), buf, (size_t)n, NULL, 0);
	sodium_memzero(buf, sizeof(buf));
	key->set = true;
	return 0;
}

void pm_nonce(uint8_t nonce[PM_NONCE_LEN])
{
	randombytes_buf(nonce, PM_NONCE_LEN);
}

void pm_mac(const struct pm_key *key, const char *label, const uint8_t *a, const uint8_t *b,
	    const void *extra, size_t extra_len, uint8_t mac[PM_MAC_LEN])
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key->k, sizeof(key->k));
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)label, strlen(label) + 1);
	crypto_auth_hmacsha256_update(&st, a, PM_NONCE_LEN);
	if (b)
		crypto_auth_hmacsha256_update(&st, b, PM_NONCE_LEN);
	if (extra_len)
		crypto_auth_hmacsha256_update(&st, extra, extra_len);
	crypto_auth_hmacsha256_final(&st, mac);
}

bool pm_mac_ok(const struct pm_key *key, const char *label, const uint8_t *a, const uint8_t *b,
	       const void *extra, size_t extra_len, const uint8_t mac[PM_MAC_LEN])
{
	uint8_t want[PM_MAC_LEN];

	pm_mac(key, label, a, b, extra, extra_len, want);
	return sodium_memcmp(want, mac, PM_MAC_LEN) == 0;
}

void pm_chan_keys(const struct pm_key *key, const uint8_t nonce_src[PM_NONCE_LEN],
		  const uint8_t nonce_dst[PM_NONCE_LEN], unsigned channel, bool is_source,
		  uint8_t tx[PM_CHAN_KEY_LEN], uint8_t rx[PM_CHAN_KEY_LEN])
{
	uint32_t ch = htole32((uint32_t)channel);   /* same bytes on any host */
	uint8_t *s2d = is_source ? tx : rx, *d2s = is_source ? rx : tx;

	_Static_assert(PM_CHAN_KEY_LEN == PM_MAC_LEN, "one HMAC per key");
	/* HMAC as a PRF: its own labels keep these apart from the handshake's
	 * MACs, which travel in clear. */
	pm_mac(key, "pcm-enc-s2d", nonce_src, nonce_dst, &ch, sizeof(ch), s2d);
	pm_mac(key, "pcm-enc-d2s", nonce_src, nonce_dst, &ch, sizeof(ch), d2s);
}
