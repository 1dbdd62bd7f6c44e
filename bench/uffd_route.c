/* bench/uffd_route.c - which route installs post-copy pages faster?
 *
 * copy route:  UFFDIO_COPY from a user buffer into the registered mapping.
 * minor route: write the page into a second (unregistered) mapping of the
 *              same memfd, i.e. into the page cache, then UFFDIO_CONTINUE
 *              maps it into the registered mapping.
 *
 * Both are measured in the same run, interleaved rep by rep, on fresh
 * memfds, and every result is checked byte for byte through the alias.
 *
 *   (a)/(b) fault round trip: one thread touches N missing pages in order,
 *           a handler thread (another CPU) resolves each with one page.
 *   (c)     bulk installation of 64-page runs, no faulting thread.
 *
 * usage: uffd_route [fault_pages [bulk_mib [reps]]]
 * defaults: 6000 faults x 3 reps, 256 MiB x 5 reps; about 12 s.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "uffd/uffd.h"
#include "lib/clock.h"

#define RUN_PAGES    64
#define BOUNCE_BYTES (256u << 10)   /* a recv buffer pool: stays in cache */
#define MAX_REPS     16

enum route {
	R_COPY,        /* UFFDIO_COPY straight from the source buffer */
	R_BOUNCE,      /* memcpy into a hot bounce buffer, then UFFDIO_COPY */
	R_ALIAS,       /* memcpy into the alias (faults it in), CONTINUE */
	R_PWRITE,      /* pwrite into the memfd, CONTINUE */
	R_PREPOP,      /* alias populated beforehand, memcpy, CONTINUE */
	R_ZERO,        /* UFFDIO_ZEROPAGE, for reference */
	R_NR
};

static const char *const route_name[R_NR] = {
	[R_COPY]   = "copy: UFFDIO_COPY",
	[R_BOUNCE] = "copy: memcpy->bounce + UFFDIO_COPY",
	[R_ALIAS]  = "minor: memcpy->alias + CONTINUE",
	[R_PWRITE] = "minor: pwrite(memfd) + CONTINUE",
	[R_PREPOP] = "minor: prepopulated alias + CONTINUE",
	[R_ZERO]   = "zero: UFFDIO_ZEROPAGE",
};

struct region {
	struct uffd u;
	int memfd;
	unsigned char *map;    /* registered: what the guest touches */
	unsigned char *alias;  /* unregistered: what the receiver writes */
	size_t len;
	unsigned char *bounce;
	double t_fill, t_map;  /* seconds spent writing data / in the ioctl */
};

static void die(const char *what, long err)
{
	fprintf(stderr, "uffd_route: %s: %s\n", what, strerror((int)-err));
	exit(1);
}

static void pin(int cpu)
{
	cpu_set_t s;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	CPU_ZERO(&s);
	CPU_SET(cpu, &s);
	pthread_setaffinity_np(pthread_self(), sizeof(s), &s);
}

static void region_new(struct region *r, size_t len, unsigned modes)
{
	long err;

	memset(r, 0, sizeof(*r));
	r->len = len;
	r->memfd = memfd_create("uffd_route", MFD_CLOEXEC);
	if (r->memfd < 0 || ftruncate(r->memfd, len) < 0)
		die("memfd", -errno);
	r->map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
		      r->memfd, 0);
	r->alias = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
			r->memfd, 0);
	r->bounce = mmap(NULL, BOUNCE_BYTES, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (r->map == MAP_FAILED || r->alias == MAP_FAILED ||
	    r->bounce == MAP_FAILED)
		die("mmap", -errno);
	err = uffd_open(&r->u);
	if (err)
		die("uffd_open", err);
	err = uffd_register(&r->u, r->map, len, modes);
	if (err)
		die("uffd_register", err);
}

static void region_free(struct region *r)
{
	uffd_close(&r->u);
	munmap(r->map, r->len);
	munmap(r->alias, r->len);
	munmap(r->bounce, BOUNCE_BYTES);
	close(r->memfd);
}

/* Data is checked through the alias: a page never installed reads as
 * zeros there instead of blocking on the registered mapping. */
static void region_check(struct region *r, const unsigned char *src,
			 enum route k)
{
	if (k == R_ZERO) {
		for (size_t i = 0; i < r->len; i += 8)
			if (*(uint64_t *)(r->alias + i))
				goto bad;
		return;
	}
	if (!memcmp(r->alias, src, r->len))
		return;
bad:
	fprintf(stderr, "uffd_route: %s installed wrong data\n",
		route_name[k]);
	exit(1);
}

/* Prepopulation is setup work (it could happen at reservation time),
 * so it is timed separately and returns its duration. */
static double region_prepopulate(struct region *r)
{
	double t = (pcm_now_ns() / 1e9);

	if (madvise(r->alias, r->len, MADV_POPULATE_WRITE))
		die("MADV_POPULATE_WRITE", -errno);
	return (pcm_now_ns() / 1e9) - t;
}

/* Install [off, off+len) by route k; returns pages installed. */
static long resolve(struct region *r, enum route k, const unsigned char *src,
		    size_t off, size_t len)
{
	unsigned char *dst = r->map + off;
	double t0 = (pcm_now_ns() / 1e9), t1;
	long n;

	switch (k) {
	case R_COPY:
		t1 = t0;
		n = uffd_copy(&r->u, dst, src + off, len, true);
		break;
	case R_BOUNCE:
		memcpy(r->bounce, src + off, len);
		t1 = (pcm_now_ns() / 1e9);
		n = uffd_copy(&r->u, dst, r->bounce, len, true);
		break;
	case R_ALIAS:
	case R_PREPOP:
		memcpy(r->alias + off, src + off, len);
		t1 = (pcm_now_ns() / 1e9);
		n = uffd_continue(&r->u, dst, len, true);
		break;
	case R_PWRITE:
		if (pwrite(r->memfd, src + off, len, off) != (ssize_t)len)
			die("pwrite", -errno);
		t1 = (pcm_now_ns() / 1e9);
		n = uffd_continue(&r->u, dst, len, true);
		break;
	default:
		t1 = t0;
		n = uffd_zero(&r->u, dst, len, true);
		break;
	}
	r->t_fill += t1 - t0;
	r->t_map += (pcm_now_ns() / 1e9) - t1;
	return n;
}

static unsigned modes_for(enum route k)
{
	/* The minor route registers both: holes raise MISSING faults that
	 * CONTINUE resolves once the alias holds the data. */
	if (k == R_ALIAS || k == R_PWRITE || k == R_PREPOP)
		return UFFD_MODE_MISSING | UFFD_MODE_MINOR;
	return UFFD_MODE_MISSING;
}

/* ---- (a)/(b) fault round trip ---- */

struct trip {
	struct region *r;
	enum route k;
	const unsigned char *src;
	size_t n;
	bool spin;             /* handler busy-polls instead of poll(2) */
	uint64_t *handler_ns;  /* fault read -> resolve ioctl returned */
	uint64_t *thread_ns;   /* faulting thread: before touch -> after */
	long err;
};

static void *trip_toucher(void *arg)
{
	struct trip *t = arg;
	volatile unsigned char *p = t->r->map;

	pin(0);
	for (size_t i = 0; i < t->n; i++) {
		uint64_t a = pcm_now_ns();

		(void)p[i * UFFD_PAGE];
		t->thread_ns[i] = pcm_now_ns() - a;
	}
	return NULL;
}

static void *trip_handler(void *arg)
{
	struct trip *t = arg;
	struct region *r = t->r;
	size_t done = 0;

	pin(1);
	while (done < t->n) {
		struct pollfd pfd = { .fd = r->u.fd, .events = POLLIN };
		struct uffd_fault ev[8];
		int got;

		if (!t->spin && poll(&pfd, 1, 2000) != 1) {
			t->err = -ETIMEDOUT;
			return NULL;
		}
		got = uffd_read(&r->u, ev, 8);
		if (got < 0) {
			t->err = got;
			return NULL;
		}
		for (int i = 0; i < got; i++) {
			uint64_t a = pcm_now_ns();
			size_t off = ev[i].addr - (uintptr_t)r->map;
			long n = resolve(r, t->k, t->src, off, UFFD_PAGE);

			if (n < 0) {
				t->err = n;
				return NULL;
			}
			/* n == 0: a repeated event for a page already in. */
			if (n == 1)
				t->handler_ns[done++] = pcm_now_ns() - a;
		}
	}
	return NULL;
}

static void trip_run(enum route k, bool spin, const unsigned char *src,
		     size_t n, uint64_t *handler_ns, uint64_t *thread_ns)
{
	struct region r;
	struct trip t = { &r, k, src, n, spin, handler_ns, thread_ns, 0 };
	pthread_t th, tt;

	region_new(&r, n * UFFD_PAGE, modes_for(k));
	pthread_create(&th, NULL, trip_handler, &t);
	pthread_create(&tt, NULL, trip_toucher, &t);
	pthread_join(th, NULL);
	if (t.err) {
		/* Closing the uffd lets a stuck toucher finish. */
		uffd_close(&r.u);
		pthread_join(tt, NULL);
		die(route_name[k], t.err);
	}
	pthread_join(tt, NULL);
	region_check(&r, src, k);
	region_free(&r);
}

/* ---- (c) bulk ---- */

/* Returns seconds spent installing; *setup gets prepopulation time. */
static double bulk_run(enum route k, const unsigned char *src, size_t len,
		       double *setup, double *fill, double *map)
{
	struct region r;
	double t;

	region_new(&r, len, modes_for(k));
	*setup = k == R_PREPOP ? region_prepopulate(&r) : 0;
	t = (pcm_now_ns() / 1e9);
	for (size_t off = 0; off < len; off += RUN_PAGES * UFFD_PAGE) {
		long n = resolve(&r, k, src, off, RUN_PAGES * UFFD_PAGE);

		if (n != RUN_PAGES)
			die(route_name[k], n < 0 ? n : -EEXIST);
	}
	t = (pcm_now_ns() / 1e9) - t;
	*fill = r.t_fill;
	*map = r.t_map;
	region_check(&r, src, k);
	region_free(&r);
	return t;
}

/* ---- statistics and output ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(uint64_t *v, size_t n, double p)
{
	size_t i = (size_t)(p / 100.0 * (n - 1) + 0.5);

	return v[i] / 1000.0;
}

static double mean_us(const uint64_t *v, size_t n)
{
	double s = 0;

	for (size_t i = 0; i < n; i++)
		s += v[i];
	return s / n / 1000.0;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_dbl);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void print_lat(const char *name, const char *what, uint64_t *v,
		      size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	printf("  %-34s %-8s %8.2f %8.2f %8.2f %8.2f %9.2f\n", name, what,
	       pct(v, n, 50), pct(v, n, 90), pct(v, n, 99), mean_us(v, n),
	       v[n - 1] / 1000.0);
}

static unsigned char *source_new(size_t len)
{
	unsigned char *s = mmap(NULL, len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
				-1, 0);
	uint64_t x = 0x9e3779b97f4a7c15ull;

	if (s == MAP_FAILED)
		die("mmap source", -errno);
	/* Non-zero, non-repeating data, so a misplaced page shows. */
	for (size_t i = 0; i < len; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(s + i, &x, 8);
	}
	return s;
}

static const struct {
	enum route k;
	bool spin;
} trip_routes[] = {
	{ R_COPY, false }, { R_ALIAS, false }, { R_PWRITE, false },
	/* Not a route: how much of the round trip is the handler's own
	 * wake-up from poll(2). */
	{ R_COPY, true },
};
#define NTRIP (sizeof(trip_routes) / sizeof(trip_routes[0]))

static void bench_trips(const unsigned char *src, size_t n, int reps)
{
	uint64_t *h[NTRIP], *t[NTRIP], *wh = malloc(n * 8), *wt = malloc(n * 8);
	size_t total = n * reps;

	/* Warm-up: first-touch costs of the code paths, not measured. */
	for (size_t j = 0; j < NTRIP; j++)
		trip_run(trip_routes[j].k, trip_routes[j].spin, src,
			 n < 2000 ? n : 2000, wh, wt);
	for (size_t j = 0; j < NTRIP; j++) {
		h[j] = malloc(total * 8);
		t[j] = malloc(total * 8);
	}
	/* Interleave routes rep by rep, each rep starting one route later,
	 * so drift and the host's own noise hit all of them alike. */
	for (int rep = 0; rep < reps; rep++) {
		for (size_t i = 0; i < NTRIP; i++) {
			size_t j = (i + rep) % NTRIP;

			trip_run(trip_routes[j].k, trip_routes[j].spin, src,
				 n, h[j] + rep * n, t[j] + rep * n);
		}
	}

	printf("\n(a)/(b) fault round trip, 1 page per fault, %zu faults x %d reps"
	       " per route (us)\n", n, reps);
	printf("  %-34s %-8s %8s %8s %8s %8s %9s\n", "route", "measure",
	       "p50", "p90", "p99", "mean", "max");
	for (size_t j = 0; j < NTRIP; j++) {
		const char *name = route_name[trip_routes[j].k];

		if (trip_routes[j].spin) {
			printf("  (reference: same copy route, handler "
			       "spinning on read(2), no poll)\n");
			name = "copy: UFFDIO_COPY, spin handler";
		}
		print_lat(name, "handler", h[j], total);
		print_lat("", "thread", t[j], total);
		free(h[j]);
		free(t[j]);
	}
	printf("  handler = fault read -> resolve ioctl returned (wake "
	       "included); thread = the\n  faulting thread's own clock "
	       "around the touch (fault entry .. back in user).\n");
	free(wh);
	free(wt);
}

static const enum route bulk_routes[] = {
	R_COPY, R_BOUNCE, R_ALIAS, R_PWRITE, R_PREPOP, R_ZERO
};
#define NBULK (sizeof(bulk_routes) / sizeof(bulk_routes[0]))

static void bench_bulk(const unsigned char *src, size_t len, int reps)
{
	double gbs[NBULK][MAX_REPS], setup[NBULK][MAX_REPS];
	double fill[NBULK] = { 0 }, map[NBULK] = { 0 };

	for (size_t j = 0; j < NBULK; j++) {    /* warm-up */
		double s, f, m;

		bulk_run(bulk_routes[j], src, len / 8, &s, &f, &m);
	}
	for (int rep = 0; rep < reps; rep++) {
		for (size_t i = 0; i < NBULK; i++) {
			size_t j = (i + rep) % NBULK;
			double s, f, m;
			double t = bulk_run(bulk_routes[j], src, len, &s, &f,
					    &m);

			gbs[j][rep] = len / t / 1e9;
			setup[j][rep] = s > 0 ? len / s / 1e9 : 0;
			fill[j] += f;
			map[j] += m;
		}
	}
	printf("\n(c) bulk install, runs of %d pages, %zu MiB x %d reps per "
	       "route, no faulting thread\n", RUN_PAGES, len >> 20, reps);
	printf("  %-38s %8s %8s %8s   %-14s\n", "route", "GB/s", "min",
	       "max", "time: data/ioctl");
	for (size_t j = 0; j < NBULK; j++) {
		double lo = gbs[j][0], hi = gbs[j][0], tot = fill[j] + map[j];

		for (int rep = 1; rep < reps; rep++) {
			lo = gbs[j][rep] < lo ? gbs[j][rep] : lo;
			hi = gbs[j][rep] > hi ? gbs[j][rep] : hi;
		}
		printf("  %-38s %8.2f %8.2f %8.2f   %3.0f%% / %3.0f%%\n",
		       route_name[bulk_routes[j]], median(gbs[j], reps), lo,
		       hi, 100 * fill[j] / tot, 100 * map[j] / tot);
		if (bulk_routes[j] == R_PREPOP)
			printf("  %-38s %8.2f   (setup, not in the row "
			       "above)\n", "  MADV_POPULATE_WRITE of the alias",
			       median(setup[j], reps));
	}
	printf("  GB/s = 1e9 bytes/s, median over reps; data = the memcpy/"
	       "pwrite part,\n  ioctl = UFFDIO_COPY/CONTINUE/ZEROPAGE part.\n");
}

int main(int argc, char **argv)
{
	size_t faults = argc > 1 ? strtoul(argv[1], NULL, 0) : 6000;
	size_t bulk = (argc > 2 ? strtoul(argv[2], NULL, 0) : 256) << 20;
	/* Bulk reps are cheap and the host is noisy (a rep now and then
	 * runs at a third of the speed): more of them, median reported. */
	int reps = argc > 3 ? atoi(argv[3]) : 3;
	int bulk_reps = argc > 3 ? reps : 5;
	size_t srclen = bulk > faults * UFFD_PAGE ? bulk : faults * UFFD_PAGE;
	unsigned char *src;
	double t0 = (pcm_now_ns() / 1e9);

	if (!faults || bulk < (RUN_PAGES * UFFD_PAGE << 3) || reps < 1 ||
	    reps > MAX_REPS || bulk % (RUN_PAGES * UFFD_PAGE << 3)) {
		fprintf(stderr, "usage: uffd_route [fault_pages [bulk_mib "
			"[reps<=%d]]]\n", MAX_REPS);
		return 2;
	}
	src = source_new(srclen);
	printf("uffd_route: %ld CPUs online, page %lu, fault thread on CPU 0, "
	       "handler on CPU 1;\nshmem (memfd) guest RAM; every install "
	       "verified byte for byte.\n", sysconf(_SC_NPROCESSORS_ONLN),
	       UFFD_PAGE);
	bench_trips(src, faults, reps);
	bench_bulk(src, bulk, bulk_reps);
	printf("\ntotal %.1f s\n", (pcm_now_ns() / 1e9) - t0);
	munmap(src, srclen);
	return 0;
}
