/* bench/kvm_state.c - the KVM engine's state blob: bytes, save time and
 * restore time as the vCPU count grows (1, 2, 4, 8), for a running kv
 * guest. Prints one JSON object; the per-vCPU figures are the slope of a
 * least-squares line through the counts, so fixed costs (devices, clock)
 * stay out of them.
 *
 *   kvm_state [--reps N] [--mem SIZE_MIB]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vm/machine.h"
#include "lib/clock.h"

static const unsigned counts[] = { 1, 2, 4, 8 };
#define NCOUNTS (sizeof(counts) / sizeof(counts[0]))

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* Least-squares slope of y over x. */
static double slope(const double *x, const double *y, unsigned n)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0;

	for (unsigned i = 0; i < n; i++) {
		sx += x[i];
		sy += y[i];
		sxx += x[i] * x[i];
		sxy += x[i] * y[i];
	}
	return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

struct point { double bytes, save_us, load_us; };

static int measure(unsigned vcpus, uint64_t mem, int reps, struct point *p)
{
	struct machine_config c = { .engine = MACHINE_ENGINE_KVM, .ram_bytes = mem, .vcpus = vcpus,
				    .params = { .workload = 3 /* kv */ } };
	struct machine *m, *in;
	double save[reps], load[reps];
	size_t cap;
	ssize_t n = 0;
	void *blob;
	int err;

	if ((err = machine_create(&c, &m)) || (err = machine_start(m)))
		return err;
	usleep(300000);
	if ((err = machine_pause(m)))
		return err;
	cap = machine_state_size(m);
	blob = malloc(cap);
	c.params.workload = 0;
	if (!blob || (err = machine_create_incoming(&c, &in)))
		return err ? err : -ENOMEM;
	for (int r = 0; r < reps; r++) {
		double t0 = (pcm_now_ns() / 1e3);

		n = machine_save(m, blob, cap);
		save[r] = (pcm_now_ns() / 1e3) - t0;
		if (n < 0)
			return (int)n;
		t0 = (pcm_now_ns() / 1e3);
		err = machine_load(in, blob, (size_t)n);
		load[r] = (pcm_now_ns() / 1e3) - t0;
		if (err) {
			fprintf(stderr, "load: %s\n", machine_why(in) ? machine_why(in) : strerror(-err));
			return err;
		}
	}
	p->bytes = (double)n;
	p->save_us = median(save, reps);
	p->load_us = median(load, reps);
	machine_destroy(in);
	machine_destroy(m);
	free(blob);
	return 0;
}

int main(int argc, char **argv)
{
	double x[NCOUNTS], b[NCOUNTS], s[NCOUNTS], l[NCOUNTS];
	uint64_t mem = 64ull << 20;
	int reps = 20;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--mem") && i + 1 < argc)
			mem = strtoull(argv[++i], NULL, 10) << 20;
		else {
			fprintf(stderr, "usage: kvm_state [--reps N] [--mem MIB]\n");
			return 2;
		}
	}
	if (reps < 1)
		reps = 1;
	printf("{\"points\":[");
	for (unsigned i = 0; i < NCOUNTS; i++) {
		struct point p = { 0 };
		int err = measure(counts[i], mem, reps, &p);

		if (err) {
			fprintf(stderr, "kvm_state: %u vCPUs: %s\n", counts[i], strerror(-err));
			return 1;
		}
		x[i] = counts[i];
		b[i] = p.bytes;
		s[i] = p.save_us;
		l[i] = p.load_us;
		printf("%s{\"vcpus\":%u,\"bytes\":%.0f,\"save_us\":%.1f,\"load_us\":%.1f}",
		       i ? "," : "", counts[i], p.bytes, p.save_us, p.load_us);
	}
	printf("],\"per_vcpu\":{\"bytes\":%.0f,\"save_us\":%.1f,\"load_us\":%.1f},\"reps\":%d}\n",
	       slope(x, b, NCOUNTS), slope(x, s, NCOUNTS), slope(x, l, NCOUNTS), reps);
	return 0;
}
