/* bench/crypt_cost.c - what sealing a channel (net_encrypt) costs.
 *
 * Over 127.0.0.1, clear against AES-256-GCM against XChaCha20-Poly1305,
 * in the same run:
 *   bulk  a sender thread streams PAGES-like messages (16-byte header
 *         piece + 64 pages) with net_queue, net_flush every 16; a
 *         receiver thread takes them. Payload MB/s and each side's CPU.
 *   rtt   an 8-byte request, a 4 KiB reply, one at a time: p50/p99 of
 *         the round trip as the requesting thread sees it.
 * The machine is shared and noisy, so the variants alternate, run after
 * run, and the table shows medians over runs and the ratio to clear.
 *
 * Usage: crypt_cost [--json] [--mib N (1024)] [--runs N (3)] [--rtts N (20000)]
 */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench/clock.h"
#include "net/chan.h"
#include "net/crypt.h"
#include "net/wire.h"

#define PAGES_MSG   (64u * 4096)      /* 64 pages per message */
#define BATCH       16
#define SRC_BYTES   (64u << 20)       /* read pages from here, as from a guest */
#define REQ_BYTES   8
#define REPLY_BYTES 4096
#define MAX_RUNS    15
#define NVAR        3

struct variant {
	const char *name;
	enum net_aead alg;
	int ok;                           /* runs here (AES-NI for GCM) */
	double mbps[MAX_RUNS], cpu_tx[MAX_RUNS], cpu_rx[MAX_RUNS];
	double p50[MAX_RUNS], p99[MAX_RUNS];
};

struct cfg {
	long mib, runs, rtts;
	int json;
};

static uint8_t k_ab[32], k_ba[32];
static uint8_t *src;


/* A connected pair, sealed with alg unless NET_AEAD_NONE. */
static int pair_open(enum net_aead alg, struct net_chan **a, struct net_chan **b)
{
	uint16_t port;
	int lfd, r;

	r = net_listen("127.0.0.1", 0, &lfd, &port);
	if (r < 0)
		return r;
	r = net_connect("127.0.0.1", port, 5000, 10, a);
	if (r == 0 && (r = net_accept(lfd, 5000, 10, b)) < 0)
		net_close(*a);
	close(lfd);
	if (r < 0 || alg == NET_AEAD_NONE)
		return r;
	r = net_encrypt(*a, alg, k_ab, k_ba);
	if (r == 0)
		r = net_encrypt(*b, alg, k_ba, k_ab);
	if (r < 0) {
		net_close(*a);
		net_close(*b);
	}
	return r;
}

/* ---- bulk ----------------------------------------------------------- */

struct bulk {
	struct net_chan *c;
	long n;
	double cpu;
	int err;
};

static void *bulk_send(void *arg)
{
	struct bulk *s = arg;
	uint64_t hdrs[BATCH][2];   /* clear, they are sent from here at the flush */
	double c0 = cpu_s();
	size_t off = 0;

	for (long i = 0; i < s->n && !s->err; i++) {
		uint64_t *hdr = hdrs[i % BATCH];
		struct iovec v[2] = { { hdr, sizeof(hdrs[0]) }, { src + off, PAGES_MSG } };

		hdr[0] = (uint64_t)i * 64;   /* first page, count */
		hdr[1] = 64;

		s->err = net_queue(s->c, 1, v, 2);
		if (!s->err && (i + 1) % BATCH == 0)
			s->err = net_flush(s->c);
		off = (off + PAGES_MSG) % SRC_BYTES;
	}
	if (!s->err)
		s->err = net_flush(s->c);
	s->cpu = cpu_s() - c0;
	return NULL;
}

static int bulk_run(const struct cfg *g, struct variant *v, int run)
{
	struct bulk s = { .n = g->mib * 4 };
	struct net_chan *a, *b;
	struct net_msg m;
	double t0, c0;
	pthread_t t;
	int r = pair_open(v->alg, &a, &b);

	if (r < 0)
		return r;
	s.c = a;
	c0 = cpu_s();
	t0 = now_s();
	pthread_create(&t, NULL, bulk_send, &s);
	for (long i = 0; i < s.n && r == 0; i++)
		r = net_recv(b, &m, 30000);
	v->mbps[run] = (double)s.n * PAGES_MSG / 1e6 / (now_s() - t0);
	v->cpu_rx[run] = cpu_s() - c0;
	if (r < 0)
		net_shutdown(a);   /* a sender stuck in a full socket returns */
	pthread_join(t, NULL);
	v->cpu_tx[run] = s.cpu;
	net_close(a);
	net_close(b);
	return r < 0 ? r : s.err;
}

/* ---- round trips ---------------------------------------------------- */

struct echo {
	struct net_chan *c;
	long n;
	int err;
};

static void *echo_serve(void *arg)
{
	static uint8_t reply[REPLY_BYTES];
	struct echo *e = arg;
	struct net_msg m;

	for (long i = 0; i < e->n && !e->err; i++) {
		e->err = net_recv(e->c, &m, 30000);
		if (!e->err)
			e->err = net_send(e->c, 2, reply, sizeof(reply));
	}
	return NULL;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int rtt_run(const struct cfg *g, struct variant *v, int run, double *lat)
{
	long warm = g->rtts / 20, n = g->rtts + warm;
	struct echo e = { .n = n };
	struct net_chan *a, *b;
	struct net_msg m;
	pthread_t t;
	int r = pair_open(v->alg, &a, &b);

	if (r < 0)
		return r;
	e.c = b;
	pthread_create(&t, NULL, echo_serve, &e);
	for (long i = 0; i < n && r == 0; i++) {
		uint64_t req = (uint64_t)i;
		double t0 = now_s();

		r = net_send(a, 1, &req, sizeof(req));
		if (r == 0)
			r = net_recv(a, &m, 30000);
		if (i >= warm)
			lat[i - warm] = (now_s() - t0) * 1e6;
	}
	if (r < 0)
		net_shutdown(b);
	pthread_join(t, NULL);
	net_close(a);
	net_close(b);
	if (r < 0 || e.err)
		return r < 0 ? r : e.err;
	qsort(lat, (size_t)g->rtts, sizeof(*lat), cmp_dbl);
	v->p50[run] = lat[g->rtts / 2];
	v->p99[run] = lat[g->rtts * 99 / 100];
	return 0;
}

/* ---- report --------------------------------------------------------- */

static double median(const double *x, long n)
{
	double s[MAX_RUNS];

	memcpy(s, x, (size_t)n * sizeof(*x));
	qsort(s, (size_t)n, sizeof(*s), cmp_dbl);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* The machine is shared: say how busy it was. */
static double load1(void)
{
	double l = -1;

	getloadavg(&l, 1);
	return l;
}

static void print_table(const struct cfg *g, struct variant *v)
{
	double base = median(v[0].mbps, g->runs), b50 = median(v[0].p50, g->runs);
	double b99 = median(v[0].p99, g->runs);

	printf("bulk: %ld MiB as %u KiB messages (+16 B header piece), flush every %d,"
	       " median of %ld runs\n", g->mib, PAGES_MSG >> 10, BATCH, g->runs);
	printf("  %-20s %9s %7s %10s %10s\n", "variant", "MB/s", "ratio", "cpu tx s", "cpu rx s");
	for (int i = 0; i < NVAR; i++)
		if (v[i].ok)
			printf("  %-20s %9.0f %7.2f %10.2f %10.2f\n", v[i].name,
			       median(v[i].mbps, g->runs), median(v[i].mbps, g->runs) / base,
			       median(v[i].cpu_tx, g->runs), median(v[i].cpu_rx, g->runs));
	printf("rtt: %d B request, %d B reply, %ld round trips, median of %ld runs\n",
	       REQ_BYTES, REPLY_BYTES, g->rtts, g->runs);
	printf("  %-20s %9s %7s %9s %7s\n", "variant", "p50 us", "ratio", "p99 us", "ratio");
	for (int i = 0; i < NVAR; i++)
		if (v[i].ok)
			printf("  %-20s %9.1f %7.2f %9.1f %7.2f\n", v[i].name,
			       median(v[i].p50, g->runs), median(v[i].p50, g->runs) / b50,
			       median(v[i].p99, g->runs), median(v[i].p99, g->runs) / b99);
	printf("load average %.2f at the end\n", load1());
}

static void print_list(const char *key, const double *x, long n, const char *end)
{
	printf("\"%s\": [", key);
	for (long i = 0; i < n; i++)
		printf("%s%.2f", i ? ", " : "", x[i]);
	printf("]%s", end);
}

static void print_json(const struct cfg *g, struct variant *v)
{
	double base = median(v[0].mbps, g->runs), b50 = median(v[0].p50, g->runs);
	int first = 1;

	printf("{\"mib\": %ld, \"runs\": %ld, \"rtts\": %ld, \"msg_bytes\": %u, \"batch\": %d,"
	       " \"best\": \"%s\", \"load1_end\": %.2f, \"variants\": [", g->mib, g->runs,
	       g->rtts, PAGES_MSG, BATCH, net_aead_name(net_aead_best()), load1());
	for (int i = 0; i < NVAR; i++) {
		if (!v[i].ok)
			continue;
		printf("%s\n  {\"name\": \"%s\", \"mbps_median\": %.1f, \"mbps_ratio\": %.3f,"
		       " \"p50_us_median\": %.2f, \"p50_ratio\": %.3f, \"p99_us_median\": %.2f, ",
		       first ? "" : ",", v[i].name, median(v[i].mbps, g->runs),
		       median(v[i].mbps, g->runs) / base, median(v[i].p50, g->runs),
		       median(v[i].p50, g->runs) / b50, median(v[i].p99, g->runs));
		print_list("mbps", v[i].mbps, g->runs, ", ");
		print_list("cpu_tx_s", v[i].cpu_tx, g->runs, ", ");
		print_list("cpu_rx_s", v[i].cpu_rx, g->runs, ", ");
		print_list("p50_us", v[i].p50, g->runs, ", ");
		print_list("p99_us", v[i].p99, g->runs, "}");
		first = 0;
	}
	printf("\n]}\n");
}

/* ---- main ----------------------------------------------------------- */

static int parse(int argc, char **argv, struct cfg *g)
{
	*g = (struct cfg){ .mib = 1024, .runs = 3, .rtts = 20000 };
	for (int i = 1; i < argc; i++) {
		long *val = !strcmp(argv[i], "--mib") ? &g->mib :
			    !strcmp(argv[i], "--runs") ? &g->runs :
			    !strcmp(argv[i], "--rtts") ? &g->rtts : NULL;

		if (!strcmp(argv[i], "--json"))
			g->json = 1;
		else if (val && i + 1 < argc)
			*val = atol(argv[++i]);
		else
			return -1;
	}
	if (g->mib < 1 || g->runs < 1 || g->runs > MAX_RUNS || g->rtts < 100)
		return -1;
	return 0;
}

/* Every variant once per run, in turn, so drift hits them alike. */
static int run_all(const struct cfg *g, struct variant *v, double *lat)
{
	int r = 0;

	for (int run = 0; run < g->runs && r == 0; run++)
		for (int i = 0; i < NVAR && r == 0; i++)
			if (v[i].ok && (r = bulk_run(g, &v[i], run)) < 0)
				fprintf(stderr, "bulk %s: %s\n", v[i].name, wire_strerror(r));
	for (int run = 0; run < g->runs && r == 0; run++)
		for (int i = 0; i < NVAR && r == 0; i++)
			if (v[i].ok && (r = rtt_run(g, &v[i], run, lat)) < 0)
				fprintf(stderr, "rtt %s: %s\n", v[i].name, wire_strerror(r));
	return r;
}

int main(int argc, char **argv)
{
	static struct variant v[NVAR] = {
		{ .name = "clear", .alg = NET_AEAD_NONE },
		{ .name = "aes-256-gcm", .alg = NET_AEAD_AES256GCM },
		{ .name = "xchacha20-poly1305", .alg = NET_AEAD_XCHACHA20 },
	};
	struct cfg g;
	double *lat;

	if (parse(argc, argv, &g) < 0 || sodium_init() < 0) {
		fprintf(stderr, "usage: crypt_cost [--json] [--mib N] [--runs N<=%d] [--rtts N]\n",
			MAX_RUNS);
		return 2;
	}
	v[0].ok = v[2].ok = 1;
	v[1].ok = crypto_aead_aes256gcm_is_available();
	randombytes_buf(k_ab, sizeof(k_ab));
	randombytes_buf(k_ba, sizeof(k_ba));
	src = malloc(SRC_BYTES);
	lat = malloc((size_t)g.rtts * sizeof(*lat));
	if (!src || !lat)
		return 1;
	randombytes_buf(src, SRC_BYTES);   /* guest memory is not all zeros */
	if (!g.json)
		printf("aead on this cpu: %s%s; load average %.2f at start\n",
		       net_aead_name(net_aead_best()), v[1].ok ? "" : " (no AES-NI: GCM skipped)",
		       load1());
	if (run_all(&g, v, lat) < 0)
		return 1;
	if (g.json)
		print_json(&g, v);
	else
		print_table(&g, v);
	free(lat);
	free(src);
	return 0;
}
