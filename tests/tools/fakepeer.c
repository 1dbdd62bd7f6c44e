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
 * or plays the protocol correctly up to a point and then fails there
 * (the fault tests):
 *   drop-hello     reads the HELLO, then closes without answering
 *   drop-channels  answers READY, then closes everything when the source
 *                  opens its first page channel
 *   drop-state     goes on until the source has sent its state (the VM is
 *                  paused there), then closes everything instead of RESUMED
 *   silent         reads the HELLO and never answers
 *   silent-state   goes on until the source has sent its state and never
 *                  answers it
 * The silent modes hold the connection until the source closes it (at
 * most 120 s) and print how long that took ("source gave up after S s").
 * Writes the port it listens on to PORTFILE.
 *
 * As a proxy (fakepeer proxy-MODE PORTFILE HOST:PORT [PID]): listens on
 * loopback, relays every connection to a real `receive` at HOST:PORT frame
 * by frame, and interferes in the way MODE names:
 *   proxy-badsum       flips one payload byte of the 50th PAGES message
 *                      from the source (its checksum no longer matches)
 *   proxy-kill-state   SIGKILLs PID (the receive) when the source's STATE
 *                      arrives, before passing it on: a destination crash
 *                      just before commitment
 *   proxy-kill-resumed passes the destination's RESUMED on, then SIGKILLs
 *                      PID: a destination crash just after commitment
 * It prints what it did, and exits once every relayed connection ended.
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
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "guest/layout.h"
#include "guest/workload.h"
#include "kvm/cpufeat.h"
#include "net/chan.h"
#include "net/wire.h"
#include "lib/clock.h"
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

static double now_s(void)
{
	return pcm_now_ns() / 1e9;
}

static int listen_portfile(const char *portfile, int *lfd)
{
	uint16_t port;
	FILE *f;

	if (net_listen("127.0.0.1", 0, lfd, &port)) {
		fprintf(stderr, "fakepeer: cannot listen on 127.0.0.1\n");
		return 1;
	}
	if (!(f = fopen(portfile, "w")) || fprintf(f, "%u\n", port) < 0 || fclose(f))
		return 1;
	return 0;
}

/* Next message of type want on ch (others are skipped), within 30 s. */
static int expect_msg(struct net_chan *ch, uint16_t want, struct net_msg *m)
{
	int err;

	while (!(err = net_recv(ch, m, 30000)) && m->type != want)
		;
	if (err)
		fprintf(stderr, "fakepeer: waiting for %s: %s\n", pm_type_name(want),
			wire_strerror(err));
	return err;
}

/* Hold the connection, reading and dropping whatever comes, until the
 * source closes it; print how long it held on. */
static void hold_until_closed(int fd, double t0)
{
	char buf[65536];

	while (now_s() - t0 < 120) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 1000) > 0 && read(fd, buf, sizeof(buf)) <= 0)
			break;
	}
	printf("source gave up after %.1f s\n", now_s() - t0);
	fflush(stdout);
}

/* Page channel contents are not looked at: a thread drains them so that
 * the source never blocks on a full socket. */
static void *drain_main(void *arg)
{
	char buf[65536];
	int fd = (int)(intptr_t)arg;

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	return NULL;
}

/* The protocol played right up to the failure point of mode. */
static int as_faulty_destination(const char *mode, int lfd)
{
	struct net_chan *ctl = NULL, *page[2] = { NULL, NULL };
	pthread_t drain[2];
	bool draining[2] = { false, false };
	struct net_msg m;
	double t0;
	int rc = 1;

	if (net_accept(lfd, 30000, PM_TYPE_MAX, &ctl))
		return 1;
	t0 = now_s();
	if (expect_msg(ctl, PM_HELLO, &m))
		goto out;
	if (!strcmp(mode, "drop-hello")) {
		rc = 0;
		goto out;
	}
	if (!strcmp(mode, "silent")) {
		hold_until_closed(net_fd(ctl), t0);
		rc = 0;
		goto out;
	}
	if (net_send(ctl, PM_READY, NULL, 0) || net_accept(lfd, 30000, PM_TYPE_MAX, &page[0]))
		goto out;
	if (!strcmp(mode, "drop-channels")) {
		rc = 0;
		goto out;
	}
	if (net_accept(lfd, 30000, PM_TYPE_MAX, &page[1]))
		goto out;
	for (int i = 0; i < 2; i++)
		if (expect_msg(ctl, PM_PING, &m) || net_send(ctl, PM_PING, m.payload, m.len))
			goto out;
	for (int i = 0; i < 2; i++)
		draining[i] = !pthread_create(&drain[i], NULL, drain_main,
					      (void *)(intptr_t)net_fd(page[i]));
	if (expect_msg(ctl, PM_STATE, &m))
		goto out;
	t0 = now_s();
	if (!strcmp(mode, "silent-state"))
		hold_until_closed(net_fd(ctl), t0);
	rc = 0;
out:
	/* Shut down first: that ends the drain threads' reads. */
	for (int i = 0; i < 2; i++)
		if (page[i])
			shutdown(net_fd(page[i]), SHUT_RDWR);
	if (ctl)
		shutdown(net_fd(ctl), SHUT_RDWR);
	for (int i = 0; i < 2; i++) {
		if (draining[i])
			pthread_join(drain[i], NULL);
		if (page[i])
			net_close(page[i]);
	}
	if (ctl)
		net_close(ctl);
	close(lfd);
	return rc;
}

static int as_destination(const char *mode, const char *portfile)
{
	char buf[65536] = "0123456789abcdef";
	int lfd, fd;

	if (strcmp(mode, "garbage") && strcmp(mode, "version") && strcmp(mode, "badsum") &&
	    strcmp(mode, "truncated") && strcmp(mode, "close") && strcmp(mode, "drop-hello") &&
	    strcmp(mode, "drop-channels") && strcmp(mode, "drop-state") &&
	    strcmp(mode, "silent") && strcmp(mode, "silent-state"))
		return 2;
	if (listen_portfile(portfile, &lfd))
		return 1;
	if (!strncmp(mode, "drop-", 5) || !strncmp(mode, "silent", 6))
		return as_faulty_destination(mode, lfd);
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
	h.engine = MACHINE_ENGINE_KVM;
	pm_strset(h.name, sizeof(h.name), "fakepeer");
	h.mode = PM_MODE_POSTCOPY;
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
	{
		uint8_t wire[PM_HELLO_WIRE_MAX];

		err = net_send(ch, PM_HELLO, wire, pm_encode_hello(&h, wire));
	}
	if (err) {
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

/* ---- proxy ------------------------------------------------------- */

enum proxy_mode { PX_BADSUM, PX_KILL_STATE, PX_KILL_RESUMED };

#define PX_BADSUM_NTH 50      /* which PAGES message from the source to spoil */

#define PX_CONNS 8            /* a migration opens 3 */

struct relay { int in, out; bool to_dest; };

static struct {
	enum proxy_mode mode;
	pid_t pid;
	atomic_uint pages_msgs;
	atomic_int active;        /* relay threads running */
	struct relay relay[2 * PX_CONNS];
} px;

static int read_full(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t n)
{
	while (n) {
		ssize_t r = send(fd, buf, n, MSG_NOSIGNAL);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		buf = (const char *)buf + r;
		n -= (size_t)r;
	}
	return 0;
}

static void px_kill(const char *when)
{
	if (kill(px.pid, SIGKILL))
		fprintf(stderr, "fakepeer: kill %d: %s\n", (int)px.pid, strerror(errno));
	else
		printf("killed the destination (pid %d) %s\n", (int)px.pid, when);
	fflush(stdout);
}

/* One direction of one connection, a frame at a time. */
static void *relay_main(void *arg)
{
	struct relay *r = arg;
	uint8_t *buf = malloc(WIRE_HDR_SIZE + WIRE_MAX_PAYLOAD);
	struct wire_hdr h;

	while (buf && !read_full(r->in, buf, WIRE_HDR_SIZE)) {
		memcpy(&h, buf, sizeof(h));
		if (h.magic != WIRE_MAGIC || h.len > WIRE_MAX_PAYLOAD ||
		    read_full(r->in, buf + WIRE_HDR_SIZE, h.len))
			break;
		if (r->to_dest && px.mode == PX_KILL_STATE && h.type == PM_STATE) {
			px_kill("as the source's STATE arrived");
			break;
		}
		if (r->to_dest && px.mode == PX_BADSUM && h.type == PM_PAGES && h.len > 0 &&
		    atomic_fetch_add(&px.pages_msgs, 1) + 1 == PX_BADSUM_NTH) {
			buf[WIRE_HDR_SIZE + h.len - 1] ^= 0x5a;
			printf("spoiled PAGES message %u from the source\n", PX_BADSUM_NTH);
			fflush(stdout);
		}
		if (write_full(r->out, buf, WIRE_HDR_SIZE + h.len))
			break;
		if (!r->to_dest && px.mode == PX_KILL_RESUMED && h.type == PM_RESUMED) {
			px_kill("once its RESUMED was passed on");
			break;
		}
	}
	/* Either side gone: end both directions of this connection. */
	shutdown(r->in, SHUT_RDWR);
	shutdown(r->out, SHUT_RDWR);
	free(buf);
	atomic_fetch_sub(&px.active, 1);
	return NULL;
}

static int connect_upstream(const char *hostport)
{
	char host[256];
	uint16_t port;
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd;

	if (net_parse_addr(hostport, host, sizeof(host), &port) ||
	    inet_pton(AF_INET, host, &a.sin_addr) != 1)
		return -1;
	a.sin_port = htons(port);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

static int as_proxy(const char *mode, const char *portfile, const char *upstream,
		    const char *pidstr)
{
	int lfd, conns = 0;
	double t0 = now_s();

	if (!strcmp(mode, "proxy-badsum") && !pidstr)
		px.mode = PX_BADSUM;
	else if (!strcmp(mode, "proxy-kill-state") && pidstr)
		px.mode = PX_KILL_STATE;
	else if (!strcmp(mode, "proxy-kill-resumed") && pidstr)
		px.mode = PX_KILL_RESUMED;
	else
		return 2;
	px.pid = pidstr ? (pid_t)atoi(pidstr) : 0;
	if (pidstr && px.pid <= 0)
		return 2;
	if (listen_portfile(portfile, &lfd))
		return 1;
	/* Until every relayed connection ended (and at least one came), or
	 * two minutes. */
	while ((!conns || atomic_load(&px.active)) && now_s() - t0 < 120) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		struct relay *r;
		int in, out;

		if (poll(&p, 1, 100) <= 0 || conns == PX_CONNS)
			continue;
		if ((in = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		if ((out = connect_upstream(upstream)) < 0) {
			fprintf(stderr, "fakepeer: cannot connect to %s\n", upstream);
			close(in);
			continue;
		}
		r = &px.relay[2 * conns++];
		r[0] = (struct relay){ in, out, true };
		r[1] = (struct relay){ out, in, false };
		for (int i = 0; i < 2; i++) {
			pthread_t t;

			atomic_fetch_add(&px.active, 1);
			if (pthread_create(&t, NULL, relay_main, &r[i])) {
				atomic_fetch_sub(&px.active, 1);
				shutdown(in, SHUT_RDWR);
				shutdown(out, SHUT_RDWR);
			} else {
				pthread_detach(t);
			}
		}
	}
	close(lfd);
	return 0;
}

int main(int argc, char **argv)
{
	int rc = 2;

	if ((argc == 4 || argc == 5) && !strncmp(argv[1], "proxy-", 6))
		rc = as_proxy(argv[1], argv[2], argv[3], argc == 5 ? argv[4] : NULL);
	else if (argc == 3)
		rc = as_destination(argv[1], argv[2]);
	else if (argc == 4)
		rc = as_source(argv[1], argv[2], argv[3]);
	if (rc == 2)
		fprintf(stderr, "usage: fakepeer MODE PORTFILE\n"
				"       fakepeer hello-features|hello-version HOST PORT\n"
				"       fakepeer proxy-badsum PORTFILE HOST:PORT\n"
				"       fakepeer proxy-kill-state|proxy-kill-resumed PORTFILE HOST:PORT PID\n");
	return rc;
}
