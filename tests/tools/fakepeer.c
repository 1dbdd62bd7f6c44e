/* tests/tools/fakepeer.c - a misbehaving migration peer for the bad-input
 * tests.
 *
 * As a destination (fakepeer MODE PORTFILE): listens on loopback, takes
 * one connection, reads what the source sends first and answers it wrongly
 * in the way MODE names:
 *   garbage    text of another protocol (bad magic)
 *   version    a frame of another wire version
 *   badsum     a READY whose payload checksum is wrong
 *   truncated  a frame header promising more payload than ever comes
 *   close      closes the connection without a word
 * Writes the port it listens on to PORTFILE.
 *
 * As a source (fakepeer MODE HOST PORT): connects to a real `receive`,
 * sends a HELLO for a 256 MiB, 2-vCPU kvm guest running sweep (filled as
 * postcopy/source.c fills it) that is wrong in the way MODE names, and
 * prints the destination's answer:
 *   hello-features  cpu_features are this host's KVM offer plus one named
 *                   feature it lacks (prints "feature: NAME" first)
 *   hello-version   proto_version is PM_PROTO_VERSION + 1
 * Prints "refused: REASON" and exits 0 on a REFUSE; exits 1 on any other
 * answer or none, 3 when the host's KVM offers every named feature (no
 * feature to fake: "skip: ..."). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "guest/layout.h"
#include "guest/workload.h"
#include "kvm/cpufeat.h"
#include "net/chan.h"
#include "net/wire.h"
#include "postcopy/proto.h"

static void frame(int fd, uint16_t version, uint16_t type, const void *p,
		  uint32_t len, uint32_t sent, uint64_t csum)
{
	struct wire_hdr h;

	wire_hdr_init(&h, type, len, 1, csum);
	h.version = version;
	if (write(fd, &h, sizeof(h)) != sizeof(h) || (sent && write(fd, p, sent) != (ssize_t)sent))
		perror("fakepeer: write");
}

static int as_destination(const char *mode, const char *portfile)
{
	char buf[65536] = "0123456789abcdef";
	uint16_t port;
	int lfd, fd;
	FILE *f;

	if (net_listen("127.0.0.1", 0, &lfd, &port)) {
		fprintf(stderr, "fakepeer: cannot listen on 127.0.0.1\n");
		return 1;
	}
	if (!(f = fopen(portfile, "w")) || fprintf(f, "%u\n", port) < 0 || fclose(f))
		return 1;
	if ((fd = accept(lfd, NULL, NULL)) < 0)
		return 1;
	if (read(fd, buf + 16, sizeof(buf) - 16) < 0)
		return 1;
	if (!strcmp(mode, "garbage"))
		dprintf(fd, "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
	else if (!strcmp(mode, "version"))
		frame(fd, WIRE_VERSION + 1, 2, NULL, 0, 0, wire_csum(NULL, 0));
	else if (!strcmp(mode, "badsum"))
		frame(fd, WIRE_VERSION, 2, buf, 8, 8, wire_csum(buf, 8) ^ 1);
	else if (!strcmp(mode, "truncated"))
		frame(fd, WIRE_VERSION, 2, buf, 4096, 100, wire_csum(buf, 4096));
	else if (strcmp(mode, "close"))
		return 2;
	usleep(100000);
	close(fd);
	close(lfd);
	return 0;
}

/* This host's KVM offer (volatile bits masked) and the first named
 * feature it lacks, set in need; 0, 3 when there is none, 1 on error. */
static int lacking_feature(struct cpufeat *need, char *name, size_t len)
{
	struct cpufeat have;
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC), err;
	/* Words a kvm guest gets from KVM_GET_SUPPORTED_CPUID as is; the
	 * leaf-7 words first: they hold the features hosts differ in most. */
	static const int order[] = { CPUF_7_0_EBX, CPUF_7_0_ECX, CPUF_7_0_EDX,
				     CPUF_7_1_EAX, CPUF_1_ECX, CPUF_D_1_EAX,
				     CPUF_80000001_ECX, CPUF_80000008_EBX };

	if (fd < 0) {
		fprintf(stderr, "fakepeer: /dev/kvm: %s\n", strerror(errno));
		return 1;
	}
	err = cpufeat_host(fd, &have);
	close(fd);
	if (err) {
		fprintf(stderr, "fakepeer: reading this host's KVM CPUID: %s\n", strerror(-err));
		return 1;
	}
	cpufeat_mask_volatile(&have);
	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		for (int bit = 0; bit < 32; bit++) {
			struct cpufeat one = { { 0 } }, masked;

			if (have.w[order[i]] & (1u << bit))
				continue;
			one.w[order[i]] = 1u << bit;
			masked = one;
			cpufeat_mask_volatile(&masked);
			if (!masked.w[order[i]] || cpufeat_missing(&one, &have, name, len) != 1 ||
			    !strncmp(name, "cpuid.", 6) || !strncmp(name, "cpufeat.", 8))
				continue;
			*need = have;
			need->w[order[i]] |= 1u << bit;
			return 0;
		}
	return 3;
}

static int as_source(const char *mode, const char *host, const char *portstr)
{
	struct pm_hello h;
	struct net_chan *ch;
	struct net_msg m;
	struct pm_refuse r;
	const char *why = NULL;
	char *end;
	unsigned long port = strtoul(portstr, &end, 10);
	int err;

	if (*end || !port || port > 65535)
		return 2;
	memset(&h, 0, sizeof(h));
	h.proto_version = PM_PROTO_VERSION;
	h.session = 0x66616b6570656572ull;
	pm_strset(h.engine, sizeof(h.engine), "kvm");
	pm_strset(h.name, sizeof(h.name), "fakepeer");
	pm_strset(h.mode, sizeof(h.mode), "postcopy");
	h.ram_bytes = 256ull << 20;
	h.page_size = PM_PAGE;
	h.vcpus = 2;
	h.guest_abi = GUEST_ABI_VERSION;
	h.nregions = 1;
	h.regions[0].gpa = 0;
	h.regions[0].size = h.ram_bytes;
	h.params.workload = wl_lookup("sweep");
	if (wl_params_fix(&h.params, h.ram_bytes, h.vcpus, &why)) {
		fprintf(stderr, "fakepeer: workload parameters: %s\n", why);
		return 1;
	}
	if (!strcmp(mode, "hello-features")) {
		struct cpufeat need;
		char name[128];
		int rc = lacking_feature(&need, name, sizeof(name));

		if (rc == 3)
			printf("skip: this host's KVM offers every named feature\n");
		if (rc)
			return rc;
		_Static_assert(sizeof(need.w) == sizeof(h.cpu_features), "feature words");
		memcpy(h.cpu_features, need.w, sizeof(h.cpu_features));
		printf("feature: %s\n", name);
		fflush(stdout);
	} else if (!strcmp(mode, "hello-version")) {
		h.proto_version = PM_PROTO_VERSION + 1;
	} else {
		return 2;
	}
	if ((err = net_connect(host, (uint16_t)port, 5000, PM_TYPE_MAX, &ch))) {
		fprintf(stderr, "fakepeer: connecting to %s:%lu: %s\n", host, port, wire_strerror(err));
		return 1;
	}
	if ((err = net_send(ch, PM_HELLO, &h, sizeof(h)))) {
		fprintf(stderr, "fakepeer: sending HELLO: %s\n", wire_strerror(err));
		return 1;
	}
	if ((err = net_recv(ch, &m, 10000))) {
		fprintf(stderr, "fakepeer: waiting for the answer to HELLO: %s\n", wire_strerror(err));
		return 1;
	}
	if (m.type != PM_REFUSE) {
		fprintf(stderr, "fakepeer: expected REFUSE, got %s\n", pm_type_name(m.type));
		return 1;
	}
	if (pm_decode_fixed(m.payload, m.len, &r, sizeof(r), &why)) {
		fprintf(stderr, "fakepeer: bad REFUSE: %s\n", why);
		return 1;
	}
	r.why[sizeof(r.why) - 1] = 0;
	printf("refused: %s (%s)\n", r.why, strerror(r.err < 0 ? -r.err : r.err));
	net_close(ch);
	return 0;
}

int main(int argc, char **argv)
{
	int rc = 2;

	if (argc == 3)
		rc = as_destination(argv[1], argv[2]);
	else if (argc == 4)
		rc = as_source(argv[1], argv[2], argv[3]);
	if (rc == 2)
		fprintf(stderr, "usage: fakepeer MODE PORTFILE\n"
				"       fakepeer hello-features|hello-version HOST PORT\n");
	return rc;
}
