/* tests/tools/snapdigest.c - a lazy restore lands the same RAM as an
 * eager one.
 *
 *   snapdigest FILE [--touchers N]
 *
 * Restores the snapshot FILE twice into new machines of its engine,
 * never started: once eagerly (snap_load_eager), once lazily
 * (snap_load_lazy) while N threads (default 2) read pages at random
 * through the registered mapping, so real userfaultfd faults race the
 * filler. Once every page is in, each machine's RAM is digested (XXH3-64
 * of every region, in order) and the two are compared. Prints both and
 * the lazy fill's counts; exit 0 when equal, 1 when not or on an error,
 * 2 on bad usage.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "lib/clock.h"
#include "snap/load.h"
#include "snap/read.h"

struct lazy_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool ended;
	int err;
	uint64_t bad;
};

struct toucher {
	const struct machine_region *rg;
	atomic_bool *stop;
	unsigned seed;
	uint64_t sum;
	pthread_t th;
};

static void on_end(void *arg, int err, uint64_t bad)
{
	struct lazy_wait *w = arg;

	pthread_mutex_lock(&w->lock);
	w->ended = true;
	w->err = err;
	w->bad = bad;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static void *touch_main(void *arg)
{
	struct toucher *t = arg;
	uint64_t np = t->rg->size / 4096;

	while (!atomic_load(t->stop)) {
		uint64_t p = (uint64_t)rand_r(&t->seed) % np;

		t->sum += ((const volatile uint8_t *)t->rg->host)[p * 4096 + 123];
	}
	return NULL;
}

static uint64_t ram_digest_of(struct machine *m)
{
	const struct machine_region *rg;
	unsigned n = machine_regions(m, &rg);
	XXH3_state_t *st = XXH3_createState();
	uint64_t d;

	XXH3_64bits_reset(st);
	for (unsigned i = 0; i < n; i++)
		XXH3_64bits_update(st, rg[i].host, rg[i].size);
	d = XXH3_64bits_digest(st);
	XXH3_freeState(st);
	return d;
}

static int new_machine(const struct snap_file *f, struct machine **m)
{
	struct machine_config cfg;
	char why[300];
	int err;

	snap_meta_config(snap_meta_of(f), &cfg);
	if ((err = machine_create_incoming_why(&cfg, m, why, sizeof(why))))
		fprintf(stderr, "snapdigest: cannot create the VM: %s\n", why);
	return err;
}

static int eager(const struct snap_file *f, uint64_t *digest)
{
	struct machine *m;
	uint64_t bad = UINT64_MAX;
	int err = new_machine(f, &m);

	if (err)
		return err;
	if ((err = snap_load_eager(f, m, NULL, &bad, NULL)))
		fprintf(stderr, "snapdigest: eager load: %s (page %lld)\n", strerror(-err),
			(long long)bad);
	else
		*digest = ram_digest_of(m);
	machine_destroy(m);
	return err;
}

static int lazy_wait_end(struct lazy_wait *w)
{
	pthread_mutex_lock(&w->lock);
	while (!w->ended)
		pthread_cond_wait(&w->cond, &w->lock);
	pthread_mutex_unlock(&w->lock);
	if (w->err)
		fprintf(stderr, "snapdigest: lazy fill: %s (page %lld)\n", strerror(-w->err),
			(long long)w->bad);
	return w->err;
}

static int lazy(const struct snap_file *f, unsigned ntouch, uint64_t *digest)
{
	struct lazy_wait w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0 };
	const struct pages_hooks h = { on_end, &w };
	struct toucher t[16];
	const struct machine_region *rg;
	struct pages_lazy *lz = NULL;
	struct pages_stats st;
	atomic_bool stop = false;
	struct machine *m;
	int err = new_machine(f, &m);

	if (err)
		return err;
	machine_regions(m, &rg);
	if ((err = snap_load_lazy(f, m, &h, NULL, &lz))) {
		fprintf(stderr, "snapdigest: lazy load: %s\n", strerror(-err));
		machine_destroy(m);
		return err;
	}
	for (unsigned i = 0; i < ntouch; i++) {
		t[i] = (struct toucher){ &rg[0], &stop, 7 + i, 0, 0 };
		pthread_create(&t[i].th, NULL, touch_main, &t[i]);
	}
	err = lazy_wait_end(&w);
	atomic_store(&stop, true);
	if (!err)
		for (unsigned i = 0; i < ntouch; i++)
			pthread_join(t[i].th, NULL);
	pages_lazy_stats(lz, &st);
	printf("lazy: %llu faults, %llu data pages faulted, %llu filled, %llu zero mapped for a "
	       "fault, every page in after %.1f ms\n", (unsigned long long)st.faults,
	       (unsigned long long)st.faulted, (unsigned long long)st.filled,
	       (unsigned long long)st.faulted_zero,
	       st.resident_ns ? (st.resident_ns - st.started_ns) / 1e6 : -1.0);
	if (!err)
		*digest = ram_digest_of(m);
	if (err)
		exit(1);   /* a toucher may wait on the page that failed */
	pages_lazy_destroy(lz);
	machine_destroy(m);
	return err;
}

int main(int argc, char **argv)
{
	struct snap_file *f;
	uint64_t de = 0, dl = 0;
	unsigned ntouch = 2;
	int err;

	if (argc == 4 && !strcmp(argv[2], "--touchers"))
		ntouch = (unsigned)atoi(argv[3]);
	else if (argc != 2)
		return fprintf(stderr, "usage: snapdigest FILE [--touchers N]\n"), 2;
	if (ntouch > 16)
		return fprintf(stderr, "snapdigest: at most 16 touchers\n"), 2;
	if ((err = snap_open(argv[1], &f)))
		return fprintf(stderr, "snapdigest: %s: %s\n", argv[1], strerror(-err)), 1;
	if (eager(f, &de) || lazy(f, ntouch, &dl))
		return 1;
	printf("eager digest %016llx, lazy digest %016llx: %s\n", (unsigned long long)de,
	       (unsigned long long)dl, de == dl ? "equal" : "DIFFERENT");
	snap_close(f);
	return de == dl ? 0 : 1;
}
