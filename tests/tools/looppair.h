/* tests/tools/looppair.h - one real migration inside this process, for the
 * reliability tools (pcm_load, pcm_soak): a destination thread in
 * dest_receive on a loopback port, a source thread in source_migrate, and
 * a watchdog that ends the process with a diagnosis when something hangs.
 *
 * Header-only (static inline): every tool is one .c file linked with
 * libpcm.a, and these helpers are what two of them share.
 */
#ifndef TESTS_TOOLS_LOOPPAIR_H
#define TESTS_TOOLS_LOOPPAIR_H

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "net/chan.h"
#include "net/wire.h"
#include "cli/cli.h"
#include "lib/clock.h"
#include "postcopy/migrate.h"

/* ---- one migration over loopback ---- */

struct lp_mig {
	struct machine *src;          /* in: the running VM to move */
	struct migrate_opts mo;       /* in: mode, progress; host/port: lp_start */
	struct receive_opts ro;       /* in: timeouts; lfd: lp_start */
	struct machine *dst;          /* out: the VM, running here */
	struct report rep;            /* out: the source's report */
	struct pm_hello hello;
	struct pm_done done;
	struct pm_fail sfail, dfail;
	int serr, derr;
	atomic_int left;              /* threads still running */
	pthread_t sth, dth;
	int lfd;
	uint64_t t0_ns, t1_ns;        /* lp_start, lp_join */
};

static inline void lp_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Defaults as the command line uses them; every field not named is 0,
 * which means "default" for fields added later. An unknown mode is sent
 * as none: the destination refuses it, naming it. */
static inline void lp_init(struct lp_mig *x, struct machine *src, const char *mode)
{
	memset(x, 0, sizeof(*x));
	x->src = src;
	x->mo = (struct migrate_opts){ .connect_timeout_ms = 5000, .reply_timeout_ms = 30000 };
	if (pm_mode_parse(mode, &x->mo.mode))
		x->mo.mode = 0;
	pm_strset(x->mo.host, sizeof(x->mo.host), "127.0.0.1");
	pm_strset(x->mo.name, sizeof(x->mo.name), "pcm-tool");
	x->ro = (struct receive_opts){ .accept_timeout_ms = 10000, .reply_timeout_ms = 30000 };
	x->lfd = -1;
}

static inline void *lp_dest_main(void *arg)
{
	struct lp_mig *x = arg;

	x->derr = dest_receive(&x->ro, &x->dst, &x->hello, &x->done, &x->dfail, NULL);
	atomic_fetch_sub(&x->left, 1);
	return NULL;
}

static inline void *lp_src_main(void *arg)
{
	struct lp_mig *x = arg;

	x->serr = source_migrate(x->src, &x->mo, &x->rep, &x->sfail);
	atomic_fetch_sub(&x->left, 1);
	return NULL;
}

/* Listen on a loopback port, start the destination, then the source.
 * 0, or negative errno (nothing left running). */
static inline int lp_start(struct lp_mig *x)
{
	uint16_t port;
	int err = net_listen("127.0.0.1", 0, &x->lfd, &port);

	if (err)
		return err;
	pm_fail_init(&x->sfail);
	pm_fail_init(&x->dfail);
	x->mo.port = port;
	x->ro.lfd = x->lfd;
	x->t0_ns = pcm_now_ns();
	atomic_store(&x->left, 2);
	if ((err = -pthread_create(&x->dth, NULL, lp_dest_main, x)))
		goto fail;
	if (!(err = -pthread_create(&x->sth, NULL, lp_src_main, x)))
		return 0;
	shutdown(x->lfd, SHUT_RDWR);   /* ends the destination's accept */
	pthread_join(x->dth, NULL);
fail:
	close(x->lfd);
	x->lfd = -1;
	return err;
}

static inline bool lp_finished(struct lp_mig *x)
{
	return atomic_load(&x->left) == 0;
}

/* Join both threads. A source that failed before connecting leaves the
 * destination in accept: shutting the listener down ends it. */
static inline void lp_join(struct lp_mig *x)
{
	pthread_join(x->sth, NULL);
	if (x->serr && !x->sfail.after_commit)
		shutdown(x->lfd, SHUT_RDWR);
	pthread_join(x->dth, NULL);
	close(x->lfd);
	x->lfd = -1;
	x->t1_ns = pcm_now_ns();
}

/* The first failure of the two sides, in words ("" when none). */
static inline const char *lp_why(const struct lp_mig *x)
{
	if (x->serr)
		return x->sfail.why;
	if (x->derr)
		return x->dfail.why;
	return "";
}

/* ---- watchdog ---- */

struct lp_watchdog {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t th;
	bool stop;
	double seconds;
	char what[96];
	FILE *out;                    /* where the FAIL line goes */
	void (*diag)(void *arg);      /* prints what is stuck; may be NULL */
	void *arg;
};

static inline void *lp_watchdog_main(void *arg)
{
	struct lp_watchdog *w = arg;
	struct timespec dl;
	int rc = 0;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += (time_t)w->seconds;
	dl.tv_nsec += (long)((w->seconds - (time_t)w->seconds) * 1e9);
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->lock);
	while (!w->stop && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&w->cond, &w->lock, &dl);
	pthread_mutex_unlock(&w->lock);
	if (w->stop)
		return NULL;
	fprintf(w->out, "FAIL  %s did not finish within %.0f s: a hang (lost wake-up or "
		"stuck thread); state follows on stderr\n", w->what, w->seconds);
	fflush(w->out);
	if (w->diag)
		w->diag(w->arg);
	fflush(NULL);
	_exit(1);
}

/* Start a watchdog: after seconds it prints a FAIL line naming what on
 * out, calls diag and ends the process with status 1. */
static inline int lp_watchdog_start(struct lp_watchdog *w, FILE *out, double seconds,
				    const char *what, void (*diag)(void *), void *arg)
{
	pthread_condattr_t ca;

	memset(w, 0, sizeof(*w));
	w->seconds = seconds;
	w->out = out;
	snprintf(w->what, sizeof(w->what), "%s", what);
	w->diag = diag;
	w->arg = arg;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	return -pthread_create(&w->th, NULL, lp_watchdog_main, w);
}

static inline void lp_watchdog_stop(struct lp_watchdog *w)
{
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->th, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
}

/* ---- the process, seen from /proc ---- */

/* Open descriptors of this process (the directory's own not counted). */
static inline int lp_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

/* VmRSS and RssShmem of this process in KiB. */
static inline void lp_rss_kb(uint64_t *rss, uint64_t *shmem)
{
	FILE *f = fopen("/proc/self/status", "r");
	unsigned long long v;
	char line[128];

	*rss = *shmem = 0;
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "VmRSS: %llu", &v) == 1)
			*rss = v;
		else if (sscanf(line, "RssShmem: %llu", &v) == 1)
			*shmem = v;
	}
	if (f)
		fclose(f);
}

/* ---- the tool's own run ---- */

/* One PASS/FAIL line on out; a failure sets *failed. */
static inline void lp_check(FILE *out, bool *failed, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static inline void lp_check(FILE *out, bool *failed, bool ok, const char *fmt, ...)
{
	va_list ap;

	fputs(ok ? "PASS  " : "FAIL  ", out);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	fflush(out);
	*failed |= !ok;
}

/* Boot the VM c describes and wait up to ready_s for its vCPUs. 0, or 1
 * after saying why on stderr in the tool's name. */
static inline int lp_boot(const char *tool, const struct machine_config *c, int ready_s,
			  struct machine **out)
{
	uint64_t t0 = pcm_now_ns();
	int err = machine_create(c, out);

	if (err)
		return fprintf(stderr, "%s: cannot create the VM: %s\n", tool, strerror(-err)), 1;
	if ((err = machine_start(*out)))
		return fprintf(stderr, "%s: cannot start the VM: %s\n", tool, strerror(-err)), 1;
	while (!vm_ready(*out))
		if (pcm_now_ns() - t0 > (uint64_t)ready_s * 1000000000ull)
			return fprintf(stderr, "%s: vCPUs not ready in %d s\n", tool, ready_s), 1;
		else
			lp_sleep_ms(10);
	return 0;
}

#endif