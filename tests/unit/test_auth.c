/* tests/unit/test_auth.c - the pre-shared key: loading it (permissions,
 * length), the MACs of the handshake (deterministic, bound to their
 * label, nonces and order, any flipped bit refused), and the channel keys
 * derived from it (both ends agree; directions, channels, nonces and keys
 * all give other keys). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "postcopy/auth.h"

static char dir[] = "/tmp/pcm-auth-XXXXXX";

static const char *key_file(const char *name, const char *data, size_t len, mode_t mode)
{
	static char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	chmod(path, mode);
	return path;
}

static void test_key_load(void **state)
{
	struct pm_key k;
	char why[300];

	(void)state;
	assert_int_equal(pm_key_load(key_file("ok", "0123456789abcdef", 16, 0600), &k, why,
				     sizeof(why)), 0);
	assert_true(k.set);
	assert_int_equal(pm_key_load(key_file("open", "0123456789abcdef", 16, 0644), &k, why,
				     sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "readable by others"));
	assert_false(k.set);
	assert_int_equal(pm_key_load(key_file("short", "0123", 4, 0600), &k, why, sizeof(why)),
			 -EINVAL);
	assert_non_null(strstr(why, "16 bytes"));
	assert_int_equal(pm_key_load("/nonexistent/key", &k, why, sizeof(why)), -ENOENT);
}

static void test_macs(void **state)
{
	struct pm_key a, b;
	uint8_t n1[PM_NONCE_LEN], n2[PM_NONCE_LEN], m[PM_MAC_LEN], m2[PM_MAC_LEN];
	char why[300];

	(void)state;
	assert_int_equal(pm_key_load(key_file("a", "aaaaaaaaaaaaaaaaaaaa", 20, 0600), &a, why,
				     sizeof(why)), 0);
	assert_int_equal(pm_key_load(key_file("b", "aaaaaaaaaaaaaaaaaaab", 20, 0600), &b, why,
				     sizeof(why)), 0);
	pm_nonce(n1);
	pm_nonce(n2);
	assert_memory_not_equal(n1, n2, PM_NONCE_LEN);      /* fresh */
	pm_mac(&a, "pcm-dst", n1, n2, NULL, 0, m);
	pm_mac(&a, "pcm-dst", n1, n2, NULL, 0, m2);
	assert_memory_equal(m, m2, PM_MAC_LEN);            /* deterministic */
	assert_true(pm_mac_ok(&a, "pcm-dst", n1, n2, NULL, 0, m));
	assert_false(pm_mac_ok(&b, "pcm-dst", n1, n2, NULL, 0, m));  /* other key */
	assert_false(pm_mac_ok(&a, "pcm-src", n1, n2, NULL, 0, m));  /* other side */
	assert_false(pm_mac_ok(&a, "pcm-dst", n2, n1, NULL, 0, m));  /* other order */
	for (unsigned i = 0; i < PM_MAC_LEN * 8; i += 37) {
		m2[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_false(pm_mac_ok(&a, "pcm-dst", n1, n2, NULL, 0, m2));
		m2[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	/* channel binding: the extra bytes count */
	pm_mac(&a, "pcm-chan", n1, n2, "session1", 8, m);
	assert_false(pm_mac_ok(&a, "pcm-chan", n1, n2, "session2", 8, m));
}

static void test_chan_keys(void **state)
{
	uint8_t ns[PM_NONCE_LEN], nd[PM_NONCE_LEN], n2[PM_NONCE_LEN];
	uint8_t stx[PM_CHAN_KEY_LEN], srx[PM_CHAN_KEY_LEN];
	uint8_t dtx[PM_CHAN_KEY_LEN], drx[PM_CHAN_KEY_LEN];
	uint8_t x[PM_CHAN_KEY_LEN], y[PM_CHAN_KEY_LEN];
	struct pm_key a, b;
	char why[300];

	(void)state;
	assert_int_equal(pm_key_load(key_file("ka", "cccccccccccccccccccc", 20, 0600), &a, why,
				     sizeof(why)), 0);
	assert_int_equal(pm_key_load(key_file("kb", "cccccccccccccccccccd", 20, 0600), &b, why,
				     sizeof(why)), 0);
	pm_nonce(ns);
	pm_nonce(nd);
	pm_nonce(n2);
	/* the two ends agree, crosswise */
	pm_chan_keys(&a, ns, nd, 1, true, stx, srx);
	pm_chan_keys(&a, ns, nd, 1, false, dtx, drx);
	assert_memory_equal(stx, drx, PM_CHAN_KEY_LEN);
	assert_memory_equal(srx, dtx, PM_CHAN_KEY_LEN);
	/* the two directions differ, and neither is a handshake MAC */
	assert_memory_not_equal(stx, srx, PM_CHAN_KEY_LEN);
	pm_mac(&a, "pcm-chan", ns, nd, NULL, 0, x);
	assert_memory_not_equal(stx, x, PM_CHAN_KEY_LEN);
	/* deterministic */
	pm_chan_keys(&a, ns, nd, 1, true, x, y);
	assert_memory_equal(x, stx, PM_CHAN_KEY_LEN);
	assert_memory_equal(y, srx, PM_CHAN_KEY_LEN);
	/* every channel its own keys */
	for (unsigned ch = 0; ch < 4; ch++) {
		if (ch == 1)
			continue;
		pm_chan_keys(&a, ns, nd, ch, true, x, y);
		assert_memory_not_equal(x, stx, PM_CHAN_KEY_LEN);
		assert_memory_not_equal(y, srx, PM_CHAN_KEY_LEN);
		assert_memory_not_equal(x, srx, PM_CHAN_KEY_LEN);
	}
	pm_chan_keys(&a, ns, nd, 1u << 16, true, x, y);   /* all 32 bits count */
	assert_memory_not_equal(x, stx, PM_CHAN_KEY_LEN);
	/* a new nonce on either side: new keys; the nonces' order counts */
	pm_chan_keys(&a, n2, nd, 1, true, x, y);
	assert_memory_not_equal(x, stx, PM_CHAN_KEY_LEN);
	assert_memory_not_equal(y, srx, PM_CHAN_KEY_LEN);
	pm_chan_keys(&a, ns, n2, 1, true, x, y);
	assert_memory_not_equal(x, stx, PM_CHAN_KEY_LEN);
	pm_chan_keys(&a, nd, ns, 1, true, x, y);
	assert_memory_not_equal(x, stx, PM_CHAN_KEY_LEN);
	/* another pre-shared key */
	pm_chan_keys(&b, ns, nd, 1, true, x, y);
	assert_memory_not_equal(x, stx, PM_CHAN_KEY_LEN);
	assert_memory_not_equal(y, srx, PM_CHAN_KEY_LEN);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[160];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_load),
		cmocka_unit_test(test_macs),
		cmocka_unit_test(test_chan_keys),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
