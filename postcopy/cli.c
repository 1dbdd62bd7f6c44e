/* postcopy/cli.c - argument parsing, error words, progress display. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "postcopy/cli.h"

int cli_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int cli_parse_double(const char *s, double *out)
{
	char *end;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	*out = strtod(s, &end);
	return errno || *end || !isfinite(*out) || *out < 0 ? -EINVAL : 0;
}

int cli_parse_seconds_ms(const char *s, unsigned max_s, int *ms)
{
	double d;

	if (cli_parse_double(s, &d) || d <= 0 || d > max_s)
		return -EINVAL;
	*ms = (int)(d * 1000 + 0.5) ? (int)(d * 1000 + 0.5) : 1;
	return 0;
}

int cli_parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "kmgt";
	char num[32], *end;
	unsigned long long v;
	const char *u;
	size_t n = strspn(s, "0123456789");

	if (n == 0 || n >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, n);
	num[n] = 0;
	errno = 0;
	v = strtoull(num, &end, 10);
	if (errno)
		return -EINVAL;
	s += n;
	if (*s && (u = strchr(units, *s | 0x20))) {
		for (long k = 0; k <= u - units; k++) {
			if (v > (~0ull >> 10))
				return -ERANGE;
			v <<= 10;
		}
		s++;
		if (!strcmp(s, "iB") || !strcmp(s, "B") || !strcmp(s, "ib") || !strcmp(s, "b"))
			s += strlen(s);
	} else if (!strcmp(s, "B") || !strcmp(s, "b")) {
		s++;
	}
	if (*s)
		return -EINVAL;
	*out = v;
	return 0;
}

int cli_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: error: ", CLI_PROG);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s %s: ", CLI_PROG, cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see '%s %s --help')\n", CLI_PROG, cmd);
	return 2;
}

void cli_progress_format(char *buf, size_t n, const struct pm_progress *p,
			 uint64_t npages, double elapsed_s)
{
	double mb = p->pages_in * (double)PM_PAGE / 1e6;

	snprintf(buf, n, "%6.2fs  pages %llu/%llu (%5.1f%%)  %7.1f MB/s  faults %llu  fault p99 %.0f us",
		 elapsed_s, (unsigned long long)p->pages_in, (unsigned long long)npages,
		 npages ? 100.0 * p->pages_in / npages : 0.0, elapsed_s > 0 ? mb / elapsed_s : 0.0,
		 (unsigned long long)p->remote_faults, p->fault_p99_ns / 1e3);
}

void cli_progress_init(struct cli_progress *pr, FILE *f)
{
	pr->f = f;
	pr->tty = isatty(fileno(f));
	pr->last_print = -1;
	pr->open = false;
}

void cli_progress_show(struct cli_progress *pr, const char *line, double elapsed_s)
{
	if (pr->tty) {
		fprintf(pr->f, "\r\033[K%s", line);
		pr->open = true;
	} else if (elapsed_s - pr->last_print >= 1.0) {
		fprintf(pr->f, "%s\n", line);
		pr->last_print = elapsed_s;
	}
	fflush(pr->f);
}

void cli_progress_end(struct cli_progress *pr)
{
	if (pr->open)
		fputc('\n', pr->f);
	pr->open = false;
	fflush(pr->f);
}

void cli_signals_block(void)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGINT);
	sigaddset(&s, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
	signal(SIGPIPE, SIG_IGN);
}
