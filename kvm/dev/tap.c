/* kvm/dev/tap.c - opening a tap interface for a virtio-net device: the
 * TUNSETIFF that attaches to (or creates) it with a virtio-net header on
 * every frame, the header's size, and offloads off. tap.h says what is
 * asked of the interface and what each failure means.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/if.h>
#include <linux/if_tun.h>

#include "kvm/dev/tap.h"

#define TUN_DEV "/dev/net/tun"

/* TUNSETIFF's errors in words: what the kernel's tun_set_iff means by them. */
static const char *setiff_words(int err)
{
	switch (err) {
	case EPERM:  return "not permitted to attach to or create it (needs CAP_NET_ADMIN "
			    "or the tap's owner)";
	case EBUSY:  return "another process has it open";
	case EINVAL: return "an interface of that name exists and is not a tap";
	}
	return strerror(err);
}

int kvm_tap_open(const char *name, size_t vnet_hdr_len, char *why, size_t wlen)
{
	struct ifreq ifr = { 0 };
	int fd, hdr = (int)vnet_hdr_len, err;

	if (!name || !*name || strlen(name) > KVM_TAP_NAME_MAX) {
		snprintf(why, wlen, "tap '%s': a name of 1 to %d characters", name ? name : "",
			 KVM_TAP_NAME_MAX);
		return -EINVAL;
	}
	if ((fd = open(TUN_DEV, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0) {
		err = errno;
		snprintf(why, wlen, "tap %s: %s: %s", name, TUN_DEV, strerror(err));
		return -err;
	}
	memcpy(ifr.ifr_name, name, strlen(name));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		err = errno;
		close(fd);
		snprintf(why, wlen, "tap %s: %s", name, setiff_words(err));
		return -err;
	}
	/* Without offloads the kernel resolves partial checksums and splits
	 * GSO frames before they reach us, and refuses ours unless whole. */
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0 || ioctl(fd, TUNSETOFFLOAD, 0) < 0) {
		err = errno;
		close(fd);
		snprintf(why, wlen, "tap %s: setting its virtio-net header: %s", name,
			 strerror(err));
		return -err;
	}
	return fd;
}
