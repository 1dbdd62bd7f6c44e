/* guest/linux/agent.c - pcm-agent, the project's workload inside a Linux guest.
 *
 *   pcm-agent [--mem MIB] [--disk DEV] [--offset MIB] [--disk-mib MIB]
 *             [--period-ms MS] [--seconds N] [--kv-permille W]
 *             [--disk-every N] [--seed S]
 *
 * A static program (libc only) that a Linux guest's initramfs runs
 * (tests/kvm-nested/l2-init, pcm.agent=SECONDS). It fills MIB (64) of
 * anonymous RAM with pages whose words follow from (page, generation),
 * then loops over a kv-like random mix: a read checks a random page
 * whole, a write (W per mille of RAM operations, 300) bumps the page's
 * generation in a table and rewrites it. With --disk, every Nth (32)
 * operation is a disk one on 4 KiB checksummed blocks from --offset MIB
 * on, --disk-mib long (to the device's end by default): a write of a random
 * block at its next generation, read back at once, or a read of a random
 * block checked against its generation when it has been written. Disk I/O
 * is O_DIRECT (where the device refuses it, buffered with fdatasync after
 * each write; reads then may come from the guest's page cache). The
 * patterns are in agent.h.
 *
 * The mix runs --seconds N after the fill (0: until a signal); the
 * fill's time shows as the first status line's t.
 *
 * It keeps the longest gap between the ends of consecutive operations
 * (CLOCK_MONOTONIC, which a migration's pause moves on, so the pause shows
 * as a gap; a gap includes its operation, and the status line written
 * before it: the floor of max_gap_us is one line's write to the console;
 * gaps count from the end of the fill).
 * At the end of the mix or on SIGTERM/SIGINT it checks every page
 * and every block written, says so, and exits 0 if every check passed, 1
 * if one failed, 2 on bad options or a set-up failure.
 *
 * Console lines, on stdout, one write(2) each (a host parses them,
 * agent.h's agent_parse_line(); keep them stable, add keys only at the
 * end of a line):
 *
 *   PCM-AGENT: start mem_mib=<n> disk=<dev>|none blocks=<n> direct=0|1
 *              period_ms=<n> seconds=<n> kv_permille=<n> boot_ms=<n>
 *       once, before the fill; boot_ms is CLOCK_BOOTTIME (the guest's
 *       uptime: boot to the agent's first line)
 *   PCM-AGENT: t=<ms since start> ops=<n> max_gap_us=<longest gap so far>
 *              gap_us=<longest gap in this period> ram=ok|BAD(<page>)
 *              disk=ok|BAD(<block>)|none
 *       every period from the end of the fill; BAD names the first page
 *       or block that failed, and stays
 *   PCM-AGENT: done ops=<n> max_gap_us=<n> ram=ok|BAD(<page>)
 *              disk=ok|BAD(<block>)|none
 *       last, after the full check
 *   PCM-AGENT: error <text>
 *       what went wrong, when it does (a bad page's found words, an I/O
 *       error), before the status line that says BAD
 *
 * (each is one line on the console; wrapped here).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "guest/linux/agent.h"

/* The one piece of global state: a signal handler can only set a flag. */
static volatile sig_atomic_t agent_stop;

struct agent {
	struct agent_opts o;
	/* RAM */
	uint8_t *ram;
	uint64_t pages;
	uint64_t *page_gen;
	/* disk */
	int fd;               /* -1: no disk */
	int direct;           /* O_DIRECT, else fdatasync after writes */
	uint64_t base;        /* byte offset of block 0 */
	uint64_t blocks;
	uint64_t *block_gen;  /* 0: never written by this run */
	uint64_t *buf;        /* one aligned block */
	/* the run */
	uint64_t rng[2];
	uint64_t ops;
	int64_t ram_bad, disk_bad;
	uint64_t errors;      /* error lines asked for */
	uint64_t t0, last, max_gap, period_gap;
};

static uint64_t now_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Everything goes to stdout (the console) in one write per line, so that
 * lines from other writers never cut into ours. */
__attribute__((format(printf, 1, 2)))
static void say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(STDOUT_FILENO, line, (size_t)n);
}

/* An error line about a check or an I/O, the first AGENT_MAX_ERRORS only:
 * a disk gone bad fails every read, and the console is slow. */
#define AGENT_MAX_ERRORS 10

__attribute__((format(printf, 2, 3)))
static void error_line(struct agent *a, const char *fmt, ...)
{
	char line[400];
	va_list ap;

	if (++a->errors > AGENT_MAX_ERRORS) {
		if (a->errors == AGENT_MAX_ERRORS + 1)
			say(AGENT_PREFIX "error (%d errors shown; no more)", AGENT_MAX_ERRORS);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	say(AGENT_PREFIX "error %s", line);
}

static void on_signal(int sig)
{
	(void)sig;
	agent_stop = 1;
}

/* ------------------------------------------------------------------ RAM -- */

static int ram_setup(struct agent *a)
{
	size_t bytes = (size_t)a->o.mem_mib << 20;

	a->pages = bytes / AGENT_PAGE;
	a->ram = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a->ram == MAP_FAILED) {
		say(AGENT_PREFIX "error cannot map %llu MiB: %s", (unsigned long long)a->o.mem_mib,
		    strerror(errno));
		return -1;
	}
	a->page_gen = calloc(a->pages, sizeof(*a->page_gen));
	if (!a->page_gen) {
		say(AGENT_PREFIX "error out of memory for the page table");
		return -1;
	}
	return 0;
}

static uint64_t *page_at(const struct agent *a, uint64_t p)
{
	return (uint64_t *)(a->ram + p * AGENT_PAGE);
}

static void ram_fill(struct agent *a)
{
	for (uint64_t p = 0; p < a->pages; p++)
		agent_page_fill(page_at(a, p), p, 0);
}

/* Check page p; the first failure is named on the console and kept. */
static void ram_check(struct agent *a, uint64_t p)
{
	const uint64_t *w = page_at(a, p);
	long bad = agent_page_check(w, p, a->page_gen[p]);

	if (bad < 0)
		return;
	error_line(a, "page %llu gen %llu: word %ld wrong (page word %llx, gen word %llu)",
	    (unsigned long long)p, (unsigned long long)a->page_gen[p], bad,
	    (unsigned long long)(w[0] ^ AGENT_PAGE_MAGIC), (unsigned long long)w[1]);
	if (a->ram_bad < 0)
		a->ram_bad = (int64_t)p;
}

static void ram_op(struct agent *a)
{
	uint64_t p = rng_below(a->rng, a->pages);

	if (rng_below(a->rng, 1000) < a->o.kv_permille) {
		a->page_gen[p]++;
		agent_page_fill(page_at(a, p), p, a->page_gen[p]);
	} else {
		ram_check(a, p);
	}
}

/* ----------------------------------------------------------------- disk -- */

static void disk_fail(struct agent *a, uint64_t b, const char *what)
{
	error_line(a, "block %llu gen %llu: %s", (unsigned long long)b,
	    (unsigned long long)a->block_gen[b], what);
	if (a->disk_bad < 0)
		a->disk_bad = (int64_t)b;
}

/* O_DIRECT where the device takes it; the block span inside the device. */
static int disk_setup(struct agent *a)
{
	const char *dev = a->o.disk;
	off_t size;

	a->direct = 1;
	a->fd = open(dev, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (a->fd < 0 && errno == EINVAL) {
		a->direct = 0;
		a->fd = open(dev, O_RDWR | O_CLOEXEC);
	}
	if (a->fd < 0) {
		say(AGENT_PREFIX "error cannot open %s: %s", dev, strerror(errno));
		return -1;
	}
	size = lseek(a->fd, 0, SEEK_END);
	a->base = a->o.offset_mib << 20;
	if (size < 0 || (uint64_t)size <= a->base) {
		say(AGENT_PREFIX "error %s: %lld bytes, nothing past --offset %llu MiB", dev,
		    (long long)size, (unsigned long long)a->o.offset_mib);
		return -1;
	}
	a->blocks = (a->o.disk_mib ? a->o.disk_mib << 20 : (uint64_t)size - a->base) / AGENT_PAGE;
	if (!a->blocks || a->base + a->blocks * AGENT_PAGE > (uint64_t)size) {
		say(AGENT_PREFIX "error %s: %lld bytes, too small for %llu MiB at %llu MiB", dev,
		    (long long)size, (unsigned long long)a->o.disk_mib,
		    (unsigned long long)a->o.offset_mib);
		return -1;
	}
	a->block_gen = calloc(a->blocks, sizeof(*a->block_gen));
	if (!a->block_gen || posix_memalign((void **)&a->buf, AGENT_PAGE, AGENT_PAGE)) {
		say(AGENT_PREFIX "error out of memory for the disk");
		return -1;
	}
	return 0;
}

static int disk_io(struct agent *a, uint64_t b, int write)
{
	off_t off = (off_t)(a->base + b * AGENT_PAGE);
	ssize_t n = write ? pwrite(a->fd, a->buf, AGENT_PAGE, off)
			  : pread(a->fd, a->buf, AGENT_PAGE, off);
	char why[96];

	if (n == AGENT_PAGE && (!write || a->direct || !fdatasync(a->fd)))
		return 0;
	snprintf(why, sizeof(why), "%s: %s", write ? "write" : "read",
		 n < 0 || n == AGENT_PAGE ? strerror(errno) : "short");
	disk_fail(a, b, why);
	return -1;
}

/* Read block b and check it against its generation (unwritten: read only). */
static void disk_check(struct agent *a, uint64_t b)
{
	enum agent_bad bad;

	if (disk_io(a, b, 0) || !a->block_gen[b])
		return;
	bad = agent_block_check(a->buf, b, a->block_gen[b]);
	if (bad == AGENT_OK)
		return;
	error_line(a, "block %llu gen %llu: %s wrong (block word %llu, gen word %llu)",
	    (unsigned long long)b, (unsigned long long)a->block_gen[b], agent_bad_name(bad),
	    (unsigned long long)a->buf[1], (unsigned long long)a->buf[2]);
	if (a->disk_bad < 0)
		a->disk_bad = (int64_t)b;
}

static void disk_op(struct agent *a)
{
	uint64_t b = rng_below(a->rng, a->blocks);

	if (rng_below(a->rng, 2)) {
		a->block_gen[b]++;
		agent_block_fill(a->buf, b, a->block_gen[b]);
		if (disk_io(a, b, 1))
			return;
	}
	disk_check(a, b);
}

/* -------------------------------------------------------------- the run -- */

static void status(struct agent *a, enum agent_line kind, uint64_t now)
{
	struct agent_status s = {
		.t_ms = (now - a->t0) / 1000000, .ops = a->ops,
		.max_gap_us = a->max_gap / 1000, .gap_us = a->period_gap / 1000,
		.ram_bad = a->ram_bad, .disk_bad = a->disk_bad, .has_disk = a->fd >= 0,
	};
	char line[AGENT_LINE_MAX];
	int n = agent_format(line, sizeof(line), kind, &s);

	if (n > 0)
		(void)!write(STDOUT_FILENO, line, (size_t)n);
}

/* One operation, and the gap since the one before. */
static uint64_t step(struct agent *a)
{
	uint64_t now, gap;

	if (a->fd >= 0 && a->ops % a->o.disk_every == a->o.disk_every - 1)
		disk_op(a);
	else
		ram_op(a);
	a->ops++;
	now = now_ns(CLOCK_MONOTONIC);
	gap = now - a->last;
	a->last = now;
	if (gap > a->max_gap)
		a->max_gap = gap;
	if (gap > a->period_gap)
		a->period_gap = gap;
	return now;
}

static void loop(struct agent *a)
{
	uint64_t period = a->o.period_ms * 1000000;
	uint64_t now = now_ns(CLOCK_MONOTONIC);
	uint64_t end = a->o.seconds ? now + a->o.seconds * 1000000000ull : UINT64_MAX;
	uint64_t next = now + period;

	a->last = now;
	while (!agent_stop && now < end) {
		now = step(a);
		if (now < next)
			continue;
		status(a, AGENT_LINE_STATUS, now);
		a->period_gap = 0;
		/* after a long stall, the next line is a period on, not a burst */
		next = next + period > now ? next + period : now + period;
	}
}

/* The end: every page, and every block this run wrote. */
static void final_check(struct agent *a)
{
	for (uint64_t p = 0; p < a->pages; p++)
		ram_check(a, p);
	for (uint64_t b = 0; a->fd >= 0 && b < a->blocks; b++)
		if (a->block_gen[b])
			disk_check(a, b);
}

static int setup(struct agent *a, int argc, char **argv)
{
	char err[160];
	struct sigaction sa = { .sa_handler = on_signal };

	if (agent_parse_args(argc, argv, &a->o, err, sizeof(err))) {
		fprintf(stderr, "pcm-agent: %s\n" AGENT_USAGE, err);
		return -1;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (ram_setup(a) || (a->o.disk && disk_setup(a)))
		return -1;
	rng_seed(a->rng, a->o.seed, 0);
	return 0;
}

static void teardown(struct agent *a)
{
	if (a->ram && a->ram != MAP_FAILED)
		munmap(a->ram, (size_t)a->o.mem_mib << 20);
	if (a->fd >= 0)
		close(a->fd);
	free(a->page_gen);
	free(a->block_gen);
	free(a->buf);
}

int main(int argc, char **argv)
{
	struct agent a = { .fd = -1, .ram_bad = -1, .disk_bad = -1 };
	int rc;

	a.t0 = now_ns(CLOCK_MONOTONIC);
	if (setup(&a, argc, argv)) {
		teardown(&a);
		return 2;
	}
	say(AGENT_PREFIX "start mem_mib=%llu disk=%s blocks=%llu direct=%d period_ms=%llu "
	    "seconds=%llu kv_permille=%llu boot_ms=%llu",
	    (unsigned long long)a.o.mem_mib, a.o.disk ? a.o.disk : "none",
	    (unsigned long long)a.blocks, a.fd >= 0 && a.direct,
	    (unsigned long long)a.o.period_ms, (unsigned long long)a.o.seconds,
	    (unsigned long long)a.o.kv_permille,
	    (unsigned long long)(now_ns(CLOCK_BOOTTIME) / 1000000));
	ram_fill(&a);
	loop(&a);
	final_check(&a);
	status(&a, AGENT_LINE_DONE, now_ns(CLOCK_MONOTONIC));
	rc = a.ram_bad < 0 && a.disk_bad < 0 ? 0 : 1;
	teardown(&a);
	return rc;
}
