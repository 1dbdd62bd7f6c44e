/* bench/raw.c - the baselines the post-copy path is measured against.
 *
 * Three yardsticks, all measured in one run on this machine and loopback:
 *
 *   tcp_rtt_us       raw TCP 4 KiB request/response: a server thread on
 *                    plain blocking sockets (TCP_NODELAY) answers each
 *                    8-byte request with 4096 bytes; the client times
 *                    every round trip.
 *   tcp_stream_mbps  raw TCP stream: a sender thread writes 1 GiB in
 *                    256 KiB send() calls, the receiver recv()s into a
 *                    4 MiB buffer; default socket buffers, no tuning.
 *   fault_rtt_us     local userfaultfd round trip: a "vCPU" thread reads
 *                    the first byte of each missing page of a 64 MiB memfd
 *                    mapping, a handler thread poll()s the uffd, reads the
 *                    fault and resolves it with a 4 KiB UFFDIO_COPY; the
 *                    time is the faulting thread's own clock around the
 *                    touch, and each page's content is checked.
 *
 * Threads are not pinned: the post-copy path is not either, so both see
 * the same scheduler. Warm-up rounds are run and discarded.
 *
 * --busy N keeps N threads spinning through all three, scheduled exactly
 * as the engines schedule vCPU threads (machine_vcpu_sched: SCHED_BATCH at
 * nice PCM_VCPU_NICE). A migration with N busy vCPUs shares the cores with
 * them, so the fair yardstick for it is the baseline beside N spinners,
 * not the baseline on an idle machine.
 *
 * One JSON object on stdout, a table on stderr.
 * Usage: raw [--quick] [--busy N]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "uffd/uffd.h"
#include "lib/clock.h"
#include "lib/parse.h"
#include "vm/engine.h"     /* machine_vcpu_sched: the vCPUs' priority */

#define REQ_BYTES     8
#define RESP_BYTES    4096
#define SEND_CHUNK    (256ul << 10)
#define RECV_BUF      (4ul << 20)
#define FAULT_MAP     (64ul << 20)
#define FAULT_BYTE    0x5a
#define SOCK_TIMEOUT  10       /* s: a stuck peer fails the run */
#define POLL_MS       2000
#define MAX_RUNS      3
#define MAX_BUSY      256

struct params {
	size_t rtt_warm, rtt_n;
	size_t fault_warm, fault_n;
	size_t stream_bytes;
	int stream_runs;
	unsigned busy;       /* spinning threads beside every baseline */
};

struct lat {
	double p50, p90, p99, max;   /* us */
};

static void die(const char *what, long err)
{
	fprintf(stderr, "raw: %s: %s\n", what, strerror((int)-err));
	exit(1);
}

/* Two sides of one test: report every side that failed, then exit. */
static void check2(const char *a, long ea, const char *b, long eb)
{
	if (ea)
		fprintf(stderr, "raw: %s: %s\n", a, strerror((int)-ea));
	if (eb)
		fprintf(stderr, "raw: %s: %s\n", b, strerror((int)-eb));
	if (ea || eb)
		exit(1);
}

static void *alloc_filled(size_t len, int byte)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap", -errno);
	memset(p, byte, len);   /* fault it in before any clock runs */
	return p;
}

/* ---- statistics ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct_us(const uint64_t *v, size_t n, double p)
{
	return v[(size_t)(p / 100.0 * (n - 1) + 0.5)] / 1000.0;
}

static struct lat lat_of(uint64_t *ns, size_t n)
{
	qsort(ns, n, sizeof(*ns), cmp_u64);
	return (struct lat){ pct_us(ns, n, 50), pct_us(ns, n, 90),
			     pct_us(ns, n, 99), ns[n - 1] / 1000.0 };
}

static double median(const double *v, int n)
{
	double s[MAX_RUNS];

	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_dbl);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* ---- sockets ---- */

/* A socket timeout shows up as EAGAIN; call it what it is. */
static long io_err(void)
{
	return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
}

static void sock_timeout(int fd)
{
	struct timeval tv = { .tv_sec = SOCK_TIMEOUT };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int sock_nodelay(int fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		return -errno;
	return 0;
}

/* Listen on 127.0.0.1, kernel-chosen port; returns the fd or -errno. */
static int tcp_listen(uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int err;

	if (fd < 0)
		return -errno;
	sock_timeout(fd);           /* bounds accept() too */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 1) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static int tcp_connect(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int err;

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	sock_timeout(fd);
	return fd;
}

/* On failure the listener is shut down: that resets a client already
 * queued on it, which would otherwise wait out its timeout. */
static int tcp_accept(int lfd)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	long err;

	if (fd < 0) {
		err = io_err();
		shutdown(lfd, SHUT_RDWR);
		return err;
	}
	sock_timeout(fd);
	return fd;
}

/* Connect to our own listener; on failure shut the listener down so the
 * peer thread's accept() returns instead of waiting out its timeout. */
static int tcp_connect_peer(int lfd, uint16_t port)
{
	int fd = tcp_connect(port);

	if (fd < 0)
		shutdown(lfd, SHUT_RDWR);
	return fd;
}

static long send_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return io_err();
		p += n;
		len -= n;
	}
	return 0;
}

/* Returns bytes received: len, fewer at end of stream, or -errno. */
static long recv_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, (char *)buf + got, len - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return io_err();
		if (n == 0)
			break;
		got += n;
	}
	return got;
}

/* ---- 1. TCP 4 KiB request/response ---- */

struct rtt_server {
	int lfd;
	long err;
};

static long rtt_serve(int fd)
{
	char req[REQ_BYTES];
	char *resp = alloc_filled(RESP_BYTES, 0xa5);
	long err = sock_nodelay(fd);

	while (!err) {
		long n = recv_full(fd, req, sizeof(req));

		if (n == 0)
			break;          /* client done */
		if (n < 0)
			err = n;
		else if (n < (long)sizeof(req))
			err = -ECONNRESET;
		else
			err = send_full(fd, resp, RESP_BYTES);
	}
	munmap(resp, RESP_BYTES);
	return err;
}

static void *rtt_server_main(void *arg)
{
	struct rtt_server *s = arg;
	int fd = tcp_accept(s->lfd);

	if (fd < 0) {
		s->err = fd;
		return NULL;
	}
	s->err = rtt_serve(fd);
	close(fd);
	return NULL;
}

static long rtt_client(int fd, uint64_t *ns, size_t n)
{
	char req[REQ_BYTES] = "4k-page";
	char resp[RESP_BYTES];
	long err = sock_nodelay(fd);

	for (size_t i = 0; i < n && !err; i++) {
		uint64_t t = pcm_now_ns();
		long got;

		err = send_full(fd, req, sizeof(req));
		if (err)
			break;
		got = recv_full(fd, resp, sizeof(resp));
		ns[i] = pcm_now_ns() - t;
		if (got < 0)
			err = got;
		else if (got < (long)sizeof(resp) || resp[RESP_BYTES - 1] !=
			 (char)0xa5)
			err = -ECONNRESET;
	}
	return err;
}

static struct lat bench_tcp_rtt(const struct params *p)
{
	size_t total = p->rtt_warm + p->rtt_n;
	uint64_t *ns = calloc(total, sizeof(*ns));
	struct rtt_server s = { .lfd = -1 };
	pthread_t th;
	uint16_t port;
	long err;
	int fd;
	struct lat l;

	if (!ns)
		die("tcp rtt", -ENOMEM);
	s.lfd = tcp_listen(&port);
	if (s.lfd < 0)
		die("tcp rtt: listen", s.lfd);
	err = pthread_create(&th, NULL, rtt_server_main, &s);
	if (err)
		die("tcp rtt: server thread", -err);
	fd = tcp_connect_peer(s.lfd, port);
	err = fd < 0 ? fd : rtt_client(fd, ns, total);
	if (fd >= 0)
		close(fd);          /* EOF lets the server finish */
	pthread_join(th, NULL);
	close(s.lfd);
	/* If we never connected, the server only failed because we said so. */
	check2("tcp rtt: client", err, "tcp rtt: server", fd < 0 ? 0 : s.err);
	l = lat_of(ns + p->rtt_warm, p->rtt_n);
	free(ns);
	return l;
}

/* ---- 2. TCP stream ---- */

struct stream_sender {
	int lfd;
	size_t bytes;
	const char *chunk;   /* SEND_CHUNK bytes */
	long err;
};

static long stream_send(struct stream_sender *s, int fd)
{
	char go;
	long n = recv_full(fd, &go, 1);   /* receiver's clock is running */

	if (n != 1)
		return n < 0 ? n : -ECONNRESET;
	for (size_t off = 0; off < s->bytes; off += SEND_CHUNK) {
		size_t len = s->bytes - off < SEND_CHUNK ? s->bytes - off :
			     SEND_CHUNK;

		n = send_full(fd, s->chunk, len);
		if (n)
			return n;
	}
	return 0;
}

static void *stream_sender_main(void *arg)
{
	struct stream_sender *s = arg;
	int fd = tcp_accept(s->lfd);

	if (fd < 0) {
		s->err = fd;
		return NULL;
	}
	s->err = stream_send(s, fd);
	close(fd);
	return NULL;
}

/* MB/s, or 0 with *err set; the clock runs from "go" to the last byte. */
static double stream_recv(int fd, char *buf, size_t bytes, long *err)
{
	size_t got = 0;
	uint64_t t;

	t = pcm_now_ns();
	*err = send_full(fd, "g", 1);
	while (!*err && got < bytes) {
		size_t want = bytes - got < RECV_BUF ? bytes - got : RECV_BUF;
		ssize_t n = recv(fd, buf, want, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			*err = io_err();
		else if (n == 0)
			*err = -ECONNRESET;
		else
			got += n;
	}
	t = pcm_now_ns() - t;
	return *err ? 0 : bytes / (t / 1e9) / 1e6;
}

static double stream_run(struct stream_sender *s, char *buf)
{
	pthread_t th;
	uint16_t port;
	double mbps = 0;
	long err;
	int fd;

	s->err = 0;
	s->lfd = tcp_listen(&port);
	if (s->lfd < 0)
		die("tcp stream: listen", s->lfd);
	err = pthread_create(&th, NULL, stream_sender_main, s);
	if (err)
		die("tcp stream: sender thread", -err);
	fd = tcp_connect_peer(s->lfd, port);
	if (fd < 0)
		err = fd;
	else
		mbps = stream_recv(fd, buf, s->bytes, &err);
	if (fd >= 0)
		close(fd);
	pthread_join(th, NULL);
	close(s->lfd);
	check2("tcp stream: receiver", err, "tcp stream: sender",
	       fd < 0 ? 0 : s->err);
	return mbps;
}

static void bench_tcp_stream(const struct params *p, double *runs)
{
	char *chunk = alloc_filled(SEND_CHUNK, 0xc3);
	char *buf = alloc_filled(RECV_BUF, 0);
	struct stream_sender s = { .bytes = p->stream_bytes, .chunk = chunk };

	for (int i = 0; i < p->stream_runs; i++)
		runs[i] = stream_run(&s, buf);
	munmap(chunk, SEND_CHUNK);
	munmap(buf, RECV_BUF);
}

/* ---- 3. userfaultfd fault round trip ---- */

struct fault_run {
	struct uffd u;
	unsigned char *map;        /* registered, MISSING mode */
	const unsigned char *page; /* what every fault installs */
	size_t n;                  /* pages touched, warm-up included */
	uint64_t *ns;
	int stop;                  /* atomic: the toucher gives up */
	long handler_err, toucher_err;
};

static void *fault_toucher(void *arg)
{
	struct fault_run *f = arg;
	volatile unsigned char *p = f->map;

	for (size_t i = 0; i < f->n; i++) {
		uint64_t t;
		unsigned char v;

		if (__atomic_load_n(&f->stop, __ATOMIC_RELAXED))
			return NULL;
		t = pcm_now_ns();
		v = p[i * UFFD_PAGE];
		f->ns[i] = pcm_now_ns() - t;
		if (v != FAULT_BYTE) {
			/* After a handler failure the uffd is gone and pages
			 * read as zeros: not this thread's error to report. */
			if (!__atomic_load_n(&f->stop, __ATOMIC_RELAXED))
				f->toucher_err = -EIO;   /* wrong content */
			__atomic_store_n(&f->stop, 1, __ATOMIC_RELAXED);
			return NULL;
		}
	}
	return NULL;
}

/* Wait for the uffd to be readable: 0, or -errno. */
static long fault_wait(struct fault_run *f)
{
	struct pollfd pfd = { .fd = f->u.fd, .events = POLLIN };

	for (;;) {
		int r = poll(&pfd, 1, POLL_MS);

		if (r > 0)
			return 0;
		if (r < 0 && errno == EINTR)
			continue;
		return r < 0 ? -errno : -ETIMEDOUT;
	}
}

static long fault_handle(struct fault_run *f)
{
	size_t done = 0;

	while (done < f->n) {
		struct uffd_fault ev[8];
		long err = fault_wait(f);
		int got;

		if (err)
			return __atomic_load_n(&f->stop, __ATOMIC_RELAXED) ?
			       0 : err;
		got = uffd_read(&f->u, ev, 8);
		if (got < 0)
			return got;
		for (int i = 0; i < got; i++) {
			long n = uffd_copy(&f->u, (void *)(uintptr_t)ev[i].addr,
					   f->page, UFFD_PAGE, true);

			if (n < 0)
				return n;
			done += n;     /* 0: a repeated event, page is in */
		}
	}
	return 0;
}

static void *fault_handler(void *arg)
{
	struct fault_run *f = arg;

	f->handler_err = fault_handle(f);
	return NULL;
}

static void fault_setup(struct fault_run *f, int *memfd)
{
	long err;

	*memfd = memfd_create("raw-fault", MFD_CLOEXEC);
	if (*memfd < 0 || ftruncate(*memfd, FAULT_MAP) < 0)
		die("fault: memfd", -errno);
	f->map = mmap(NULL, FAULT_MAP, PROT_READ | PROT_WRITE, MAP_SHARED,
		      *memfd, 0);
	if (f->map == MAP_FAILED)
		die("fault: mmap memfd", -errno);
	err = uffd_open(&f->u);
	if (err)
		die("fault: uffd_open", err);
	err = uffd_register(&f->u, f->map, FAULT_MAP, UFFD_MODE_MISSING);
	if (err)
		die("fault: uffd_register", err);
}

static void fault_threads(struct fault_run *f)
{
	pthread_t th, tt;
	long err;

	err = pthread_create(&th, NULL, fault_handler, f);
	if (err)
		die("fault: handler thread", -err);
	err = pthread_create(&tt, NULL, fault_toucher, f);
	if (err)
		die("fault: vCPU thread", -err);
	pthread_join(th, NULL);
	if (f->handler_err) {
		/* Closing the uffd releases a toucher stuck in a fault. */
		__atomic_store_n(&f->stop, 1, __ATOMIC_RELAXED);
		uffd_close(&f->u);
	}
	pthread_join(tt, NULL);
	check2("fault: handler", f->handler_err,
	       "fault: vCPU thread (page content check)", f->toucher_err);
}

static struct lat bench_fault_rtt(const struct params *p)
{
	struct fault_run f = { .n = p->fault_warm + p->fault_n };
	unsigned char *page = alloc_filled(UFFD_PAGE, FAULT_BYTE);
	int memfd;
	struct lat l;

	if (f.n > FAULT_MAP / UFFD_PAGE)
		die("fault: too many faults for the mapping", -EINVAL);
	f.ns = calloc(f.n, sizeof(*f.ns));
	if (!f.ns)
		die("fault", -ENOMEM);
	f.page = page;
	fault_setup(&f, &memfd);
	fault_threads(&f);
	l = lat_of(f.ns + p->fault_warm, p->fault_n);
	uffd_close(&f.u);
	munmap(f.map, FAULT_MAP);
	close(memfd);
	munmap(page, UFFD_PAGE);
	free(f.ns);
	return l;
}

/* ---- busy threads: stand-ins for busy vCPUs ---- */

struct busy {
	pthread_t th[MAX_BUSY];
	unsigned n;
	int nice;
	int stop;            /* atomic */
};

static void *busy_main(void *arg)
{
	struct busy *b = arg;
	volatile uint64_t spins = 0;

	machine_vcpu_sched(b->nice);
	while (!__atomic_load_n(&b->stop, __ATOMIC_RELAXED))
		spins++;
	return NULL;
}

static void busy_start(struct busy *b, unsigned n)
{
	b->n = n;
	b->nice = machine_vcpu_nice();
	b->stop = 0;
	for (unsigned i = 0; i < n; i++) {
		int err = pthread_create(&b->th[i], NULL, busy_main, b);

		if (err)
			die("busy thread", -err);
	}
}

static void busy_stop(struct busy *b)
{
	__atomic_store_n(&b->stop, 1, __ATOMIC_RELAXED);
	for (unsigned i = 0; i < b->n; i++)
		pthread_join(b->th[i], NULL);
}

/* ---- output ---- */

static void print_json(const struct busy *b, const struct lat *rtt,
		       const double *runs, int nruns, const struct lat *fault)
{
	printf("{\"busy\":%u,\"busy_nice\":%d,", b->n, b->nice);
	printf("\"tcp_rtt_us\":{\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,"
	       "\"max\":%.2f},", rtt->p50, rtt->p90, rtt->p99, rtt->max);
	printf("\"tcp_stream_mbps\":{\"median\":%.1f,\"runs\":[",
	       median(runs, nruns));
	for (int i = 0; i < nruns; i++)
		printf("%s%.1f", i ? "," : "", runs[i]);
	printf("]},\"fault_rtt_us\":{\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,"
	       "\"max\":%.2f}}\n", fault->p50, fault->p90, fault->p99,
	       fault->max);
}

static void print_lat_row(const char *name, size_t n, const struct lat *l)
{
	fprintf(stderr, "  %-34s %6zu %8.2f %8.2f %8.2f %9.2f\n", name, n,
		l->p50, l->p90, l->p99, l->max);
}

static void print_table(const struct params *p, const struct busy *b,
			const struct lat *rtt, const double *runs,
			const struct lat *fault, double secs)
{
	fprintf(stderr, "raw: baselines, %ld CPUs online, loopback, threads "
		"not pinned, %u busy threads (SCHED_BATCH, nice %d)\n",
		sysconf(_SC_NPROCESSORS_ONLN), b->n, b->nice);
	fprintf(stderr, "  %-34s %6s %8s %8s %8s %9s\n", "latency (us)", "n",
		"p50", "p90", "p99", "max");
	print_lat_row("TCP 8 B req / 4 KiB resp RTT", p->rtt_n, rtt);
	print_lat_row("uffd fault RTT (UFFDIO_COPY 4K)", p->fault_n, fault);
	fprintf(stderr, "  TCP stream, %zu MiB in 256 KiB sends: median "
		"%.1f MB/s, runs", p->stream_bytes >> 20,
		median(runs, p->stream_runs));
	for (int i = 0; i < p->stream_runs; i++)
		fprintf(stderr, " %.1f", runs[i]);
	fprintf(stderr, "\n  (MB/s = 1e6 bytes/s; warm-up: %zu RTTs, %zu "
		"faults, discarded)\ntotal %.1f s\n", p->rtt_warm,
		p->fault_warm, secs);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: raw [--quick] [--busy N] [--help]\n"
		"  Measures the raw baselines for post-copy: TCP 4 KiB round "
		"trip,\n  TCP stream throughput and the local userfaultfd "
		"fault round trip,\n  over loopback on this machine. Prints one "
		"JSON object on stdout and\n  a table on stderr.\n"
		"  --quick   fewer samples and one 256 MiB stream (< 8 s)\n"
		"  --busy N  N threads spinning beside every baseline, at the "
		"priority\n            vCPU threads run (SCHED_BATCH, nice "
		"PCM_VCPU_NICE, default 5)\n"
		"  --help    this text\n");
}

static void usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "raw: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	usage(stderr);
	exit(2);
}

static unsigned parse_busy(const char *s)
{
	uint64_t n;

	if (!s)
		usage_error("--busy needs a thread count%s", "");
	if (pcm_parse_u64(s, MAX_BUSY, &n))
		usage_error("--busy '%s': want a thread count from 0 to 256",
			    s);
	return (unsigned)n;
}

static void parse_args(int argc, char **argv, struct params *p)
{
	unsigned busy = 0;

	*p = (struct params){ .rtt_warm = 1000, .rtt_n = 20000,
			      .fault_warm = 1000, .fault_n = 10000,
			      .stream_bytes = 1ul << 30, .stream_runs = 3 };
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			*p = (struct params){ .rtt_warm = 300, .rtt_n = 5000,
					      .fault_warm = 300,
					      .fault_n = 3000,
					      .stream_bytes = 256ul << 20,
					      .stream_runs = 1 };
		} else if (!strcmp(argv[i], "--busy")) {
			busy = parse_busy(i + 1 < argc ? argv[++i] : NULL);
		} else if (!strcmp(argv[i], "--help") ||
			   !strcmp(argv[i], "-h")) {
			usage(stdout);
			exit(0);
		} else {
			usage_error("unknown option '%s'", argv[i]);
		}
	}
	p->busy = busy;
}

int main(int argc, char **argv)
{
	static struct busy busy;
	struct params p;
	struct lat rtt, fault;
	double runs[MAX_RUNS];
	uint64_t t0;

	parse_args(argc, argv, &p);
	busy_start(&busy, p.busy);
	t0 = pcm_now_ns();
	rtt = bench_tcp_rtt(&p);
	bench_tcp_stream(&p, runs);
	fault = bench_fault_rtt(&p);
	busy_stop(&busy);
	print_table(&p, &busy, &rtt, runs, &fault, (pcm_now_ns() - t0) / 1e9);
	print_json(&busy, &rtt, runs, p.stream_runs, &fault);
	return 0;
}
