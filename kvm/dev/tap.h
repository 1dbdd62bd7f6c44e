/* kvm/dev/tap.h - the host side of a virtio-net device: a Linux tap
 * interface opened through /dev/net/tun (kvm/dev/tap.c).
 *
 * The tap is opened IFF_TAP | IFF_NO_PI | IFF_VNET_HDR: every frame read
 * or written carries a virtio-net header of the size given here (the one
 * the guest's driver negotiated), and no offload is enabled (TUNSETOFFLOAD
 * 0), so the kernel hands over only whole frames with their checksums
 * done and accepts only such. An interface of that name that exists is
 * attached to (it must be a tap this process may open); one that does not
 * is created, and disappears when the descriptor is closed unless it was
 * made persistent (ip tuntap add). The descriptor is non-blocking.
 */
#ifndef KVM_DEV_TAP_H
#define KVM_DEV_TAP_H

#include <stddef.h>

/* Longest interface name, as IFNAMSIZ less its terminating 0. */
#define KVM_TAP_NAME_MAX 15

/* Open or create the tap name: the descriptor, or negative errno with the
 * reason, naming the tap, in why: -ENOENT without /dev/net/tun, -EPERM
 * when this process may not attach to it or create it, -EBUSY when
 * another process holds it, -EINVAL for a name too long or an interface
 * of that name that is not a tap. */
int kvm_tap_open(const char *name, size_t vnet_hdr_len, char *why, size_t wlen);

#endif
