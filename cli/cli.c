/* cli/cli.c - error words, progress display, signals. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"
#include "host/ctl.h"
#include "lib/json.h"
#include "postcopy/migopts.h"

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

int cli_ctl_fail(const char *name, int err, const char *why)
{
	if (err == -ENOENT)
		return cli_error("no VM named '%s' is running here", name);
	if (err == -EINVAL)
		return cli_error("invalid VM name '%s'", name);
	if (err == -EACCES)
		return cli_error("the run directory is not private to this user");
	if (err == -EIO || err == -ECONNRESET || err == -EPROTO)
		return cli_error("%s", why);
	return cli_error("cannot reach VM '%s': %s", name, strerror(-err));
}

void cli_json_print(const struct pcm_json_doc *d, const struct pcm_json *r)
{
	static char buf[CTL_LINE_MAX];
	struct pcm_jw w;

	pcm_jw_init(&w, buf, sizeof(buf));
	pcm_jw_value(&w, NULL, d, r);
	if (pcm_jw_finish(&w) >= 0)
		puts(buf);
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

int cli_migopt(struct migrate_opts *o, const char *cmd, int opt, const char *arg)
{
	char why[400];
	int r = migopts_set(o, opt, arg, why, sizeof(why));

	if (r >= 0)
		return r;
	return r == -EINVAL ? cli_usage_error(cmd, "%s", why) : cli_error("%s: %s", cmd, why);
}

int cli_migopts_check(const struct migrate_opts *o, const char *cmd)
{
	char why[400];
	int r = migopts_check(o, why, sizeof(why));

	if (!r)
		return 0;
	return r == -EINVAL ? cli_usage_error(cmd, "%s", why) : cli_error("%s: %s", cmd, why);
}
