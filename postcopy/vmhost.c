/* postcopy/vmhost.c - a running VM's process: its control socket loop.
 *
 * `run` and `receive` end here once their VM runs. Requests: status, stop,
 * migrate HOST:PORT MODE JSON [key=value...], switch, latency (read only:
 * the kv latency histogram and timeline, for bench/). A migration runs in
 * this process (it is the source), on its own thread, so the socket still
 * answers status and switch (pre-copy to post-copy) meanwhile; its
 * progress and report travel back to the migrate client as lines.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "net/chan.h"
#include "postcopy/cli.h"
#include "postcopy/clock.h"
#include "postcopy/ctl.h"
#include "postcopy/migrate.h"
#include "postcopy/migopts.h"

struct vmhost {
	struct machine *m;
	const char *name;
	uint64_t t_start;
	bool paused;          /* after a failure past commitment */
	bool released;
	/* A migration runs on its own thread so that the socket keeps
	 * answering (status, and switch while it pre-copies). */
	bool migrating;
	pthread_t mig_thr;
	FILE *mig_f;          /* the migrate client's connection */
	int mig_json;
	struct migrate_opts mig_o;
	atomic_bool switch_req;
	int wake_fd;          /* eventfd: the migration thread finished */
};

static void host_status(struct vmhost *h, FILE *f)
{
	const struct machine_config *c = machine_config_of(h->m);
	struct machine_stats st;

	machine_stats(h->m, &st);
	fprintf(f, "name: %s\nstate: %s\nengine: %s\nmem_bytes: %llu\nvcpus: %u\n"
		   "workload: %s\nops: %llu\nheartbeats: %llu\nuptime_s: %.1f\nOK\n",
		h->name, h->migrating ? (atomic_load(&h->switch_req) ? "migrating (switched to post-copy)"
					 : "migrating") : h->paused ? "paused" : "running",
		c->engine, (unsigned long long)c->ram_bytes, c->vcpus, wl_name(c->params.workload),
		(unsigned long long)st.ops, (unsigned long long)st.heartbeats,
		(clock_now_ns() - h->t_start) / 1e9);
}

/* "latency": kv's latency numbers as they stand in guest RAM (see
 * guest/layout.h), for the benchmark's timeline. guest_ns is the latest
 * operation's guest time and host_realtime_ns this host's clock now, so a
 * reader can place guest times on its own clock (a running kv vCPU ends
 * an operation every few microseconds). ops and hist sum the operation
 * counts and lat_hist over the vCPUs; each "lat" line is one timeline
 * interval: its start (guest ns), the longest operation and the longest
 * response in it (ns), oldest first. Only reads: on a machine whose pages
 * are still arriving it may fault like a vCPU, as status does. */
static void host_latency(struct vmhost *h, FILE *f)
{
	const struct machine_config *c = machine_config_of(h->m);
	const struct machine_region *r;
	unsigned n = machine_regions(h->m, &r), ready = 0;
	uint64_t hist[GUEST_LAT_BUCKETS] = { 0 }, now = 0, ops = 0, cur;
	struct timespec ts;
	uint8_t *ram = NULL;

	for (unsigned i = 0; i < n; i++)
		if (r[i].gpa == 0 && r[i].size >= GUEST_DATA_OFF)
			ram = r[i].host;
	if (!ram) {
		fprintf(f, "ERR guest RAM at address 0 is not mapped here\n");
		return;
	}
	for (unsigned v = 0; v < c->vcpus; v++) {
		struct guest_vcpu_stats *g = guest_stats_of(ram, v);
		uint64_t t = __atomic_load_n(&g->last_op_ns, __ATOMIC_RELAXED);

		ready += !!__atomic_load_n(&g->ready, __ATOMIC_RELAXED);
		ops += __atomic_load_n(&g->ops, __ATOMIC_RELAXED);
		now = t > now ? t : now;
		for (unsigned b = 0; b < GUEST_LAT_BUCKETS; b++)
			hist[b] += __atomic_load_n(&g->lat_hist[b], __ATOMIC_RELAXED);
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(f, "workload: %s\nready_vcpus: %u/%u\nops: %llu\nguest_ns: %llu\n"
		   "host_realtime_ns: %llu\ninterval_ns: %llu\nhist:", wl_name(c->params.workload),
		ready, c->vcpus, (unsigned long long)ops, (unsigned long long)now,
		(unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec,
		1ull << GUEST_LATRING_SHIFT);
	for (unsigned b = 0; b < GUEST_LAT_BUCKETS; b++)
		fprintf(f, " %llu", (unsigned long long)hist[b]);
	fputc('\n', f);
	/* The last GUEST_LATRING_SLOTS intervals up to now's; a slot whose
	 * tag is another interval's has nothing for this one. */
	cur = now >> GUEST_LATRING_SHIFT;
	for (uint64_t i = cur >= GUEST_LATRING_SLOTS ? cur - GUEST_LATRING_SLOTS + 1 : 0;
	     now && i <= cur; i++) {
		struct guest_lat_slot *s = guest_latring_of(ram, i << GUEST_LATRING_SHIFT);
		uint64_t tag = i & GUEST_LATRING_TMASK, w[2] = {
			__atomic_load_n(&s->op, __ATOMIC_RELAXED),
			__atomic_load_n(&s->resp, __ATOMIC_RELAXED) };

		for (unsigned k = 0; k < 2; k++)
			w[k] = w[k] >> GUEST_LATRING_VBITS == tag ? w[k] & GUEST_LATRING_VMAX : 0;
		if (w[0] || w[1])
			fprintf(f, "lat: %llu %llu %llu\n",
				(unsigned long long)(i << GUEST_LATRING_SHIFT),
				(unsigned long long)w[0], (unsigned long long)w[1]);
	}
	fprintf(f, "OK\n");
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

static void host_round(void *arg, unsigned round, uint64_t pages, uint64_t bytes,
		       uint64_t pending)
{
	fprintf(arg, "I pre-copy round %u: %llu pages, %.1f MiB; %llu pages written since\n",
		round, (unsigned long long)pages, bytes / 1048576.0, (unsigned long long)pending);
	fflush(arg);
}

static void *host_migrate_main(void *arg)
{
	struct vmhost *h = arg;
	uint64_t one = 1;
	struct pm_fail fail;
	struct report r;
	FILE *f = h->mig_f;

	pm_fail_init(&fail);
	if (source_migrate(h->m, &h->mig_o, &r, &fail)) {
		h->paused = fail.after_commit;
		fprintf(f, "ERR %s%s\n", fail.why, fail.after_commit ?
			"; the VM had been committed to the destination, this source keeps "
			"its paused copy" : "; the VM keeps running here");
	} else {
		host_report(f, &r, h->mig_json);
		fprintf(f, "OK released\n");
		h->released = true;
	}
	fclose(f);
	if (write(h->wake_fd, &one, sizeof(one)) < 0)
		perror("eventfd");
	return NULL;
}

/* "migrate HOST:PORT MODE JSON [key=value...]": started on its own thread,
 * which answers the client; false if it could not start (answered here). */
static bool host_migrate(struct vmhost *h, FILE *f, const char *args)
{
	struct migrate_opts *o = &h->mig_o;
	char to[300], mode[16], why[200];
	int json = 0, used = 0;

	memset(o, 0, sizeof(*o));
	*o = (struct migrate_opts){ .connect_timeout_ms = 5000, .reply_timeout_ms = 30000,
				    .progress = host_progress, .progress_arg = f,
				    .round_done = host_round, .switch_req = &h->switch_req };
	if (sscanf(args, "%299s %15s %d%n", to, mode, &json, &used) != 3 ||
	    net_parse_addr(to, o->host, sizeof(o->host), &o->port)) {
		fprintf(f, "ERR bad migrate request '%s'\n", args);
		return false;
	}
	if (mig_opts_scan(o, args + used, why, sizeof(why))) {
		fprintf(f, "ERR %s\n", why);
		return false;
	}
	if (h->migrating) {
		fprintf(f, "ERR a migration of this VM is already running\n");
		return false;
	}
	if (h->paused) {
		fprintf(f, "ERR the VM is paused after a failed migration; it cannot move again\n");
		return false;
	}
	pm_strset(o->mode, sizeof(o->mode), mode);
	pm_strset(o->name, sizeof(o->name), h->name);
	atomic_store(&h->switch_req, false);
	h->mig_f = f;
	h->mig_json = json;
	if (pthread_create(&h->mig_thr, NULL, host_migrate_main, h)) {
		fprintf(f, "ERR cannot start the migration thread\n");
		return false;
	}
	h->migrating = true;
	return true;
}

static void host_switch(struct vmhost *h, FILE *f)
{
	if (!h->migrating) {
		fprintf(f, "ERR no migration of this VM is running\n");
		return;
	}
	atomic_store(&h->switch_req, true);
	fprintf(f, "OK switching to post-copy at the next page run\n");
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
		if (!strcmp(line, "status")) {
			host_status(h, f);
		} else if (!strcmp(line, "stop") && h->migrating) {
			fprintf(f, "ERR a migration of this VM is running; stop it once it ends\n");
			line[0] = 0;
		} else if (!strcmp(line, "stop")) {
			fprintf(f, "OK stopped\n");
		} else if (!strcmp(line, "latency")) {
			host_latency(h, f);
		} else if (!strcmp(line, "switch")) {
			host_switch(h, f);
		} else if (!strncmp(line, "migrate ", 8)) {
			if (host_migrate(h, f, line + 8))
				return false;   /* the migration thread answers */
		} else {
			fprintf(f, "ERR unknown request '%s'\n", line);
		}
	}
	fclose(f);
	return !strcmp(line, "stop");
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
	h.wake_fd = eventfd(0, EFD_CLOEXEC);
	for (bool done = false; !done;) {
		struct pollfd p[3] = { { .fd = lfd, .events = POLLIN }, { .fd = sfd, .events = POLLIN },
				       { .fd = h.wake_fd, .events = POLLIN } };

		if (poll(p, 3, -1) < 0 && errno != EINTR)
			break;
		if (p[2].revents) {
			uint64_t n;

			if (read(h.wake_fd, &n, sizeof(n)) < 0)
				n = 0;
			pthread_join(h.mig_thr, NULL);
			h.migrating = false;
			done = h.released;
		}
		if (p[1].revents) {
			if (h.migrating) {
				fprintf(stderr, "%s: signal received: VM '%s' is migrating; "
					"it stops once the migration ends\n", CLI_PROG, name);
				pthread_join(h.mig_thr, NULL);
				h.migrating = false;
			}
			fprintf(stderr, "%s: signal received, stopping VM '%s'\n", CLI_PROG, name);
			break;
		}
		if (p[0].revents && !done) {
			int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			if (c >= 0)
				done = host_client(&h, c);
		}
	}
	close(lfd);
	close(sfd);
	close(h.wake_fd);
	ctl_unlink(name);
	machine_destroy(m);
	return 0;
}
