/* postcopy/vmhost.c - a running VM's process: its control socket loop.
 *
 * `run` and `receive` end here once their VM runs. Requests: status, stop,
 * migrate HOST:PORT MODE JSON. A migration runs in this process (it is the
 * source); its progress and report travel back to the client as lines.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "net/chan.h"
#include "postcopy/cli.h"
#include "postcopy/clock.h"
#include "postcopy/ctl.h"
#include "postcopy/migrate.h"

struct vmhost {
	struct machine *m;
	const char *name;
	uint64_t t_start;
	bool paused;          /* after a failure past commitment */
	bool released;
};

static void host_status(struct vmhost *h, FILE *f)
{
	const struct machine_config *c = machine_config_of(h->m);
	struct machine_stats st;

	machine_stats(h->m, &st);
	fprintf(f, "name: %s\nstate: %s\nengine: %s\nmem_bytes: %llu\nvcpus: %u\n"
		   "workload: %s\nops: %llu\nheartbeats: %llu\nuptime_s: %.1f\nOK\n",
		h->name, h->paused ? "paused" : "running", c->engine,
		(unsigned long long)c->ram_bytes, c->vcpus, wl_name(c->params.workload),
		(unsigned long long)st.ops, (unsigned long long)st.heartbeats,
		(clock_now_ns() - h->t_start) / 1e9);
}

static void host_progress(void *arg, const struct pm_progress *p, uint64_t npages,
			  double elapsed)
{
	char line[200];

	cli_progress_format(line, sizeof(line), p, npages, elapsed);
	fprintf(arg, "P %s\n", line);
	fflush(arg);
}

/* Report lines, each prefixed so the client can tell them from progress. */
static void host_report(FILE *f, const struct report *r, bool json)
{
	char *text = NULL, *line, *save;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);

	if (!mem)
		return;
	if (json)
		report_print_json(mem, r);
	else
		report_print_human(mem, r);
	fclose(mem);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		fprintf(f, "R %s\n", line);
	free(text);
}

static void host_migrate(struct vmhost *h, FILE *f, const char *args)
{
	struct migrate_opts o = { .connect_timeout_ms = 5000, .reply_timeout_ms = 30000,
				  .progress = host_progress, .progress_arg = f };
	char to[300], mode[16];
	struct pm_fail fail;
	struct report r;
	int json = 0;

	if (sscanf(args, "%299s %15s %d", to, mode, &json) != 3 ||
	    net_parse_addr(to, o.host, sizeof(o.host), &o.port)) {
		fprintf(f, "ERR bad migrate request '%s'\n", args);
		return;
	}
	if (h->paused) {
		fprintf(f, "ERR the VM is paused after a failed migration; it cannot move again\n");
		return;
	}
	pm_strset(o.mode, sizeof(o.mode), mode);
	pm_strset(o.name, sizeof(o.name), h->name);
	pm_fail_init(&fail);
	if (source_migrate(h->m, &o, &r, &fail)) {
		h->paused = fail.after_commit;
		fprintf(f, "ERR %s%s\n", fail.why, fail.after_commit ?
			"; the VM had been committed to the destination, this source keeps "
			"its paused copy" : "; the VM keeps running here");
		return;
	}
	host_report(f, &r, json);
	fprintf(f, "OK released\n");
	h->released = true;
}

/* One client, one request. Returns true when the host should exit. */
static bool host_client(struct vmhost *h, int fd)
{
	FILE *f = fdopen(fd, "r+");
	char line[512] = "";

	if (!f) {
		close(fd);
		return false;
	}
	if (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (!strcmp(line, "status"))
			host_status(h, f);
		else if (!strcmp(line, "stop"))
			fprintf(f, "OK stopped\n");
		else if (!strncmp(line, "migrate ", 8))
			host_migrate(h, f, line + 8);
		else
			fprintf(f, "ERR unknown request '%s'\n", line);
	}
	fclose(f);
	return !strcmp(line, "stop") || h->released;
}

int vmhost_serve(struct machine *m, const char *name)
{
	struct vmhost h = { .m = m, .name = name, .t_start = clock_now_ns() };
	sigset_t sigs;
	int lfd, sfd, err = ctl_listen(name, &lfd);

	if (err == -EADDRINUSE)
		return cli_error("a VM named '%s' is already running here", name);
	if (err)
		return cli_error("cannot create the control socket for '%s': %s", name, strerror(-err));
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	for (bool done = false; !done;) {
		struct pollfd p[2] = { { .fd = lfd, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents) {
			fprintf(stderr, "%s: signal received, stopping VM '%s'\n", CLI_PROG, name);
			break;
		}
		if (p[0].revents) {
			int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			if (c >= 0)
				done = host_client(&h, c);
		}
	}
	close(lfd);
	close(sfd);
	ctl_unlink(name);
	machine_destroy(m);
	return 0;
}
