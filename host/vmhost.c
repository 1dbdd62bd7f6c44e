/* host/vmhost.c - a VM's process: its control socket loop.
 *
 * `run` ends here once its VM runs, `receive` as soon as the incoming VM
 * has a name. The socket speaks JSON lines (docs/control.md): one request
 * object per connection, answered by the handler host_reqs[] names for
 * its "req": status, stop, migrate, switch, recover, give-up, resume,
 * latency (read only: the kv latency histogram and timeline, for bench/),
 * snapshot (live: the VM paused only to save its state and write-protect
 * its RAM, which is then written as it runs; or paused while written; on
 * this thread, so nothing else touches the VM meanwhile).
 * A migration, outgoing or incoming, runs on its own thread, so the
 * socket still answers status (including a link outage), switch
 * (pre-copy to post-copy), recover and give-up meanwhile; an outgoing
 * one's progress and report travel back to the migrate client as events.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "net/chan.h"
#include "guest/workload.h"
#include "host/host.h"
#include "postcopy/report.h"
#include "lib/attr.h"
#include "lib/clock.h"
#include "host/ctl.h"
#include "postcopy/migrate.h"
#include "postcopy/migopts.h"
#include "lib/json.h"
#include "snap/live.h"
#include "snap/read.h"
#include "snap/write.h"

struct vmhost {
	struct machine *m;        /* NULL while it is being received */
	char name[PM_NAME_LEN];
	const char *name_opt;     /* receive --name */
	atomic_int ctl_fd;        /* the control socket, once named (-1 before) */
	uint64_t t_start;
	struct pm_link link;      /* the running migration's, either way */
	/* Incoming: dest_receive on the migration thread. */
	bool receiving;
	struct receive_opts ro;
	struct pm_hello hello;
	struct pm_done done;
	struct pm_fail rfail;
	struct machine *m_in;     /* what dest_receive returned */
	/* The source never heard RELEASED's cue: answer it on the listening
	 * socket from a thread of its own while the VM is here. */
	struct dest_linger *linger;
	pthread_t linger_thr;
	bool lingering;
	atomic_bool owed;         /* the source has not said RELEASED yet */
	int linger_stop;          /* eventfd: the host exits */
	int rerr;
	bool abandoned;           /* exit while the receive thread runs */
	atomic_bool mig_done;     /* the migration thread finished */
	int status;               /* the process's exit status */
	bool paused;          /* after a failure past commitment, or a failed resume */
	bool paused_here;     /* paused before commitment: the destination never ran it */
	bool paused_snap;     /* paused_here by a snapshot whose resume failed */
	bool released;
	/* A migration runs on its own thread so that the socket keeps
	 * answering (status, and switch while it pre-copies). */
	bool migrating;
	pthread_t mig_thr;
	FILE *mig_f;          /* the migrate client's connection */
	int mig_json;
	struct migrate_opts mig_o;
	uint64_t mig_session;     /* the last outgoing migration's, for `resume` */
	atomic_bool switch_req;
	int wake_fd;          /* eventfd: the migration thread finished */
	struct vmhost_restored restored;   /* file NULL: not restored */
	bool restoring;           /* its ops->fd is still polled */
	bool restore_failed;      /* the VM is left to the process's exit */
};

static const char *host_state(struct vmhost *h)
{
	if (h->migrating && atomic_load(&h->mig_done) && !h->receiving)
		return h->paused ? "paused" : h->released ? "released" : "running";
	if (h->migrating && atomic_load(&h->link.phase) == LINK_PAUSED)
		return "postcopy-paused";
	if (h->receiving)   /* running here once the link is up */
		return atomic_load(&h->link.phase) == LINK_UP ? "postcopy-active" : "receiving";
	if (h->migrating)
		return atomic_load(&h->switch_req) ? "migrating (switched to post-copy)" : "migrating";
	if (h->m && machine_crashed(h->m))
		return "crashed";
	return h->paused ? "paused" : "running";
}

/* While a VM is received it has no machine here yet: what HELLO said. */
static void host_status_incoming(struct vmhost *h, struct pcm_jw *w)
{
	const char *wl = machine_guest_label(h->hello.guest, h->hello.params.workload);

	pcm_jw_str(w, "engine", machine_engine_name(h->hello.engine));
	pcm_jw_u64(w, "mem_bytes", h->hello.ram_bytes);
	pcm_jw_u64(w, "vcpus", h->hello.vcpus);
	pcm_jw_str(w, "workload", wl ? wl : "?");
}

/* A Linux guest's agent as its console lines say (machine_guest_report):
 * its last status line, or nothing when none was read here. */
static void host_status_agent(struct machine *m, struct pcm_jw *w)
{
	struct machine_guest_report g;
	char s[320];   /* every number at its widest, checks and error too */

	machine_guest_report(m, &g);
	if (g.agent == MACHINE_AGENT_NONE)
		return;
	snprintf(s, sizeof(s), "%s t=%llums ops=%llu max_gap_us=%llu %s%s%s",
		 g.agent == MACHINE_AGENT_DONE ? "done" : "running", (unsigned long long)g.t_ms,
		 (unsigned long long)g.ops, (unsigned long long)g.max_gap_us,
		 g.checks[0] ? g.checks : "no status line yet", g.errors ? "; error: " : "",
		 g.errors ? g.error : "");
	pcm_jw_str(w, "agent", s);
}

/* The status object: its keys are stable (docs/control.md); `status`
 * prints them as "key: value" lines in this order. */
static void host_status(struct vmhost *h, FILE *f)
{
	char buf[12288], link[300];   /* restored_from: a path, up to 4 KiB */
	struct pcm_jw w;

	pcm_jw_init(&w, buf, sizeof(buf));
	pcm_jw_obj(&w, NULL);
	pcm_jw_bool(&w, "ok", true);
	pcm_jw_obj(&w, "result");
	pcm_jw_str(&w, "name", h->name);
	pcm_jw_str(&w, "state", host_state(h));
	if (h->m && machine_crashed(h->m))
		pcm_jw_str(&w, "crashed", machine_crashed(h->m));
	if (atomic_load(&h->owed))
		pcm_jw_str(&w, "source", "owed DONE (it has not said RELEASED; its reconnection gets it)");
	if (h->migrating) {
		link_describe(&h->link, link, sizeof(link));
		pcm_jw_str(&w, "link", link);
	}
	if (h->m) {
		const struct machine_config *c = machine_config_of(h->m);
		struct machine_stats st;

		machine_stats(h->m, &st);
		pcm_jw_str(&w, "engine", machine_engine_name(c->engine));
		pcm_jw_u64(&w, "mem_bytes", c->ram_bytes);
		pcm_jw_u64(&w, "vcpus", c->vcpus);
		pcm_jw_str(&w, "workload", machine_guest_label(c->guest, c->params.workload));
		pcm_jw_u64(&w, "ops", st.ops);
		pcm_jw_u64(&w, "heartbeats", st.heartbeats);
		host_status_agent(h->m, &w);
		if (h->restored.file) {
			pcm_jw_str(&w, "restored_from", h->restored.file);
			if (h->restored.ops && h->restored.ops->status)
				h->restored.ops->status(h->restored.ops->arg, &w);
			else
				pcm_jw_str(&w, "restore_check", h->restored.check);
		}
	} else {
		host_status_incoming(h, &w);
	}
	pcm_jw_num(&w, "uptime_s", (double)((pcm_now_ns() - h->t_start) / 100000000) / 10);
	pcm_jw_end(&w);
	pcm_jw_end(&w);
	(void)!ctl_send(f, &w);
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
static int host_latency_text(struct vmhost *h, FILE *f)
{
	const struct machine_config *c = machine_config_of(h->m);
	const struct machine_region *r;
	unsigned n = machine_regions(h->m, &r), ready = 0;
	uint64_t hist[GUEST_LAT_BUCKETS] = { 0 }, now = 0, ops = 0, cur;
	struct timespec ts;
	uint8_t *ram = NULL;

	if (c->guest != MACHINE_GUEST_PAYLOAD)
		return -EOPNOTSUPP;   /* a Linux guest keeps no stats area */
	for (unsigned i = 0; i < n; i++)
		if (r[i].gpa == 0 && r[i].size >= GUEST_DATA_OFF)
			ram = r[i].host;
	if (!ram)
		return -ENXIO;
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
	return 0;
}

static void host_latency(struct vmhost *h, FILE *f)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	int err;

	if (!mem) {
		ctl_err(f, "out of memory");
		return;
	}
	err = host_latency_text(h, mem);
	fclose(mem);
	if (err == -EOPNOTSUPP) {
		ctl_err(f, "a Linux guest keeps no latency record (only payload workloads do)");
	} else if (err) {
		ctl_err(f, "guest RAM at address 0 is not mapped here");
	} else {
		ctl_event_lines(f, "output", text);
		ctl_ok(f, NULL);
	}
	free(text);
}

static void host_progress(void *arg, const struct pm_progress *p, uint64_t npages,
			  double elapsed)
{
	char line[200];

	report_progress_format(line, sizeof(line), p, npages, elapsed);
	ctl_event(arg, "progress", line);
}

/* The report, one "report" event a line: the client prints them as they
 * are (human text, or the JSON object when it asked for --json). */
static void host_report(FILE *f, const struct report *r, bool json)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);

	if (!mem)
		return;
	if (json)
		report_print_json(mem, r);
	else
		report_print_human(mem, r);
	fclose(mem);
	ctl_event_lines(f, "report", text);
	free(text);
}

static void host_note(void *arg, const char *line)
{
	ctl_event(arg, "note", line);
}

static void host_round(void *arg, unsigned round, uint64_t pages, uint64_t bytes,
		       uint64_t pending)
{
	char line[200];

	snprintf(line, sizeof(line), "pre-copy round %u: %llu pages, %.1f MiB; %llu pages "
		 "written since", round, (unsigned long long)pages, bytes / 1048576.0,
		 (unsigned long long)pending);
	ctl_event(arg, "note", line);
}

static void *host_migrate_main(void *arg)
{
	struct vmhost *h = arg;
	uint64_t one = 1;
	struct pm_fail fail;
	struct report r;
	FILE *f = h->mig_f;
	int err;

	pm_fail_init(&fail);
	err = source_migrate(h->m, &h->mig_o, &r, &fail);
	h->paused = err && (fail.after_commit || fail.resume_err);
	h->paused_here = err && !fail.after_commit && fail.resume_err;
	h->mig_session = fail.session;
	h->released = !err;
	/* The VM's new state first, then the client's answer: a client that
	 * asks for status right after it must see the migration over. */
	atomic_store(&h->mig_done, true);
	if (write(h->wake_fd, &one, sizeof(one)) < 0)
		perror("eventfd");
	if (err) {
		if (fail.after_commit)
			ctl_err(f, "%s; the VM had been committed to the destination, this "
				"source keeps its paused copy", fail.why);
		else if (fail.resume_err)
			ctl_err(f, "%s; the destination never ran the VM, but resuming it here "
				"failed (%s): it stays paused here; `resume` tries again",
				fail.why, strerror(-fail.resume_err));
		else
			ctl_err(f, "%s; the VM keeps running here", fail.why);
	} else {
		host_report(f, &r, h->mig_json);
		ctl_ok(f, "released");
	}
	fclose(f);
	return NULL;
}

/* A request member that must be a string / a boolean, or absent. */
static const char *req_str(const struct pcm_json_doc *d, const struct pcm_json *req,
			   const char *key, bool *bad)
{
	const struct pcm_json *v = pcm_json_get(d, req, key);

	*bad = v && v->type != PCM_JSON_STRING;
	return v && !*bad ? v->str : NULL;
}

static bool req_bool(const struct pcm_json_doc *d, const struct pcm_json *req,
		     const char *key, bool *bad)
{
	const struct pcm_json *v = pcm_json_get(d, req, key);

	*bad = v && v->type != PCM_JSON_BOOL;
	return v && !*bad && v->b;
}

/* {"req": "migrate", "to": "HOST:PORT", "json": BOOL, "options": {...}}:
 * started on its own thread, which answers the client; false if it could
 * not start (answered here). */
static bool host_migrate(struct vmhost *h, FILE *f, const struct pcm_json_doc *d,
			 const struct pcm_json *req)
{
	struct migrate_opts *o = &h->mig_o;
	const struct pcm_json *opts = pcm_json_get(d, req, "options");
	bool bad_to, bad_json, json;
	const char *to = req_str(d, req, "to", &bad_to);
	char why[400];

	json = req_bool(d, req, "json", &bad_json);
	memset(o, 0, sizeof(*o));
	*o = (struct migrate_opts){ .connect_timeout_ms = 5000, .reply_timeout_ms = 30000,
				    .progress = host_progress, .progress_arg = f,
				    .round_done = host_round, .note = host_note,
				    .switch_req = &h->switch_req, .link = &h->link,
				    .mode = PM_MODE_POSTCOPY };
	if (!to || bad_to || net_parse_addr(to, o->host, sizeof(o->host), &o->port)) {
		ctl_err(f, "migrate needs \"to\": \"HOST:PORT\"");
		return false;
	}
	if (bad_json) {
		ctl_err(f, "\"json\" must be true or false");
		return false;
	}
	if (opts && migopts_from_json(o, d, opts, why, sizeof(why))) {
		ctl_err(f, "%s", why);
		return false;
	}
	if (migopts_check(o, why, sizeof(why))) {
		ctl_err(f, "%s", why);
		return false;
	}
	if (h->migrating) {
		ctl_err(f, "a migration of this VM is already running");
		return false;
	}
	if (!h->m) {
		ctl_err(f, "this VM is still arriving here");
		return false;
	}
	if (h->paused) {
		ctl_err(f, "the VM is paused after a failed migration; it cannot move again");
		return false;
	}
	if (h->restoring) {
		ctl_err(f, "the VM is still being restored lazily (its pages are arriving from "
			"the file): migrate it once every page is in (status: restore_resident_ms)");
		return false;
	}
	pm_strset(o->name, sizeof(o->name), h->name);
	atomic_store(&h->switch_req, false);
	h->mig_f = f;
	h->mig_json = json;
	if (pthread_create(&h->mig_thr, NULL, host_migrate_main, h)) {
		ctl_err(f, "cannot start the migration thread");
		return false;
	}
	h->migrating = true;
	return true;
}

/* "recover [HOST:PORT]": a paused outgoing migration reconnects now,
 * maybe to another address of the destination. */
static void host_recover(struct vmhost *h, FILE *f, const char *to)
{
	char host[256];
	uint16_t port;

	if (!h->migrating || h->receiving) {
		ctl_err(f, "%s", h->receiving ? "this VM is arriving here: run recover on "
			"the source, which reconnects" : "no migration of this VM is running");
		return;
	}
	if (*to && net_parse_addr(to, host, sizeof(host), &port)) {
		ctl_err(f, "invalid address '%s' (want HOST:PORT)", to);
		return;
	}
	if (atomic_load(&h->link.phase) != LINK_PAUSED) {
		ctl_err(f, "the migration's link is up: nothing to recover");
		return;
	}
	link_poke(&h->link, *to ? host : NULL, *to ? port : 0);
	ctl_ok(f, *to ? "reconnecting now to the new address" : "reconnecting now");
}

/* "give-up": a paused migration, at either end, stops reconnecting (or
 * waiting for the source) now and fails as when its recover timeout runs
 * out; the source's copy stays paused for `resume`. */
static void host_give_up(struct vmhost *h, FILE *f)
{
	if (!h->migrating) {
		ctl_err(f, "no migration of this VM is running");
		return;
	}
	if (atomic_load(&h->link.phase) != LINK_PAUSED) {
		ctl_err(f, "the migration's link is up: nothing to give up");
		return;
	}
	link_give_up(&h->link);
	ctl_ok(f, h->receiving ? "giving up waiting for the source" : "giving up reconnecting");
}

/* "resume": the paused copy a failed migration left here runs again.
 * The operator's call: the destination had the VM after the pause, so
 * this rolls it back to the pause, and it must not run there too. */
static void host_resume_now(struct vmhost *h, FILE *f, const char *because)
{
	int err = machine_resume(h->m);

	if (err) {
		ctl_err(f, "cannot resume the VM: %s", strerror(-err));
		return;
	}
	h->paused = false;
	h->paused_here = h->paused_snap = false;
	ctl_event(f, "output", because);
	ctl_ok(f, "resumed from its state at the pause");
}

/* "resume [force]": run the paused copy again only once the destination
 * says it does not hold the VM (outcome.h's oc_resume_decide); when it
 * cannot be asked, only with force. */
static void host_resume(struct vmhost *h, FILE *f, bool force)
{
	const char *to = h->mig_o.host;
	enum oc_answer a;
	char why[320], line[400];
	int err;

	if (h->migrating || !h->paused) {
		ctl_err(f, "%s", h->migrating ? "a migration of this VM is running" :
			"the VM is not paused: nothing to resume");
		return;
	}
	if (h->paused_here) {
		host_resume_now(h, f, h->paused_snap ? "the VM had been paused for a snapshot" :
				"the migration failed before the destination ran this VM");
		return;
	}
	if ((err = source_ask(h->m, &h->mig_o, h->mig_session, &a, why, sizeof(why)))) {
		ctl_err(f, "cannot ask the destination: %s", why);
		return;
	}
	switch (oc_resume_decide(a, force)) {
	case OCR_REFUSE:
		ctl_err(f, "the destination %s:%u runs this VM and waits for its pages: resuming "
			"here would run it twice", to, h->mig_o.port);
		return;
	case OCR_RELEASE:
		h->paused = false;
		h->released = true;
		snprintf(line, sizeof(line), "the destination %s:%u runs this VM with every page: "
			 "the migration had succeeded", to, h->mig_o.port);
		ctl_event(f, "output", line);
		ctl_ok(f, "released");
		return;
	case OCR_NEED_FORCE:
		ctl_err(f, "cannot ask the destination %s:%u whether it runs this VM (%s); if its "
			"copy is gone for certain, resume --force", to, h->mig_o.port, why);
		return;
	case OCR_RESUME:
		host_resume_now(h, f, a == OCQ_NOT_THERE ? "the destination says it does not hold "
				"this VM" : "--force: the destination could not be asked");
		return;
	}
}

static void host_switch(struct vmhost *h, FILE *f)
{
	if (!h->migrating || h->receiving) {
		ctl_err(f, "no migration of this VM is running");
		return;
	}
	atomic_store(&h->switch_req, true);
	ctl_ok(f, "switching to post-copy at the next page run");
}

/* ---- snapshot (issue 13; live, or the VM paused while it is written) ---- */

/* What a snapshot request answers: snap_open's reading of the file as
 * committed, and the times. */
struct host_snap {
	const char *path;
	uint64_t t0, paused_ns;
	bool live;
	struct snap_live_stats ls;     /* live only */
	struct snap_id id;
	uint64_t data_pages, zero_pages, state_bytes, file_bytes, disk_bytes;
};

/* Why this VM cannot be snapshotted now, or NULL. */
static const char *host_snap_refusal(struct vmhost *h)
{
	if (!h->m)
		return "this VM is still arriving here";
	if (h->migrating)
		return "a migration of this VM is running: its RAM is in flight, and a snapshot "
		       "now would not be safe; take it once the migration ends";
	if (h->restoring)
		return "the VM is still being restored lazily (its pages are arriving from the "
		       "file): take it once every page is in (status: restore_resident_ms)";
	if (machine_crashed(h->m))
		return "the guest crashed (status says why): there is no running VM to snapshot";
	if (h->paused)
		return h->paused_snap ? "the VM is paused (it did not resume after the last "
		       "snapshot): see resume" : "the VM is paused after a failed migration (its "
		       "copy may run at the destination): see resume";
	return NULL;
}

/* A writer's errno for the file at path, in words. */
static void host_snap_why(int err, const char *path, char *why, size_t n)
{
	if (err == -EEXIST)
		snprintf(why, n, "%s exists (snapshot --force replaces it)", path);
	else if (err == -EBUSY)
		snprintf(why, n, "another snapshot of %s is being written (%s.tmp is locked)", path,
			 path);
	else
		snprintf(why, n, "cannot write %s: %s", path, strerror(-err));
}

/* The writer for path, with the VM's configuration and its devices'
 * identities, taken while the guest still runs (a disk reads its
 * fingerprint in machine_save_prepare: not inside the pause). */
static int host_snap_open(struct vmhost *h, const char *path, unsigned flags,
			  struct snap_writer **w, char *why, size_t n)
{
	struct snap_meta *meta = malloc(sizeof(*meta));
	long il;
	int err;

	if (!meta) {
		snprintf(why, n, "out of memory");
		return -ENOMEM;
	}
	if ((err = machine_save_prepare(h->m))) {
		snprintf(why, n, "preparing the VM's devices for the save: %s",
			 machine_why(h->m) ? machine_why(h->m) : strerror(-err));
	} else if ((err = snap_meta_from_machine(h->m, h->name, meta))) {
		snprintf(why, n, "the VM's configuration does not fit a snapshot: %s",
			 strerror(-err));
	} else if ((il = machine_identity(h->m, meta->devids, sizeof(meta->devids))) < 0) {
		err = (int)il;
		snprintf(why, n, "reading the VM's device identities: %s",
			 machine_why(h->m) ? machine_why(h->m) : strerror(-err));
	} else {
		meta->devids_len = (uint32_t)il;
		if ((err = snap_writer_open(path, meta, NULL, flags, w)))
			host_snap_why(err, path, why, n);
		else    /* a failure only makes the pause longer */
			(void)snap_machine_prefault(h->m);
	}
	free(meta);
	return err;
}

/* Pause, the state and every page into w, resume. The pause holds no
 * sync: once written, the pages are in the file's page cache, and the
 * commit syncs them while the VM runs. *rerr: a failed resume. */
static int host_snap_write(struct vmhost *h, struct snap_writer *w, struct host_snap *s,
			   int *rerr, char *why, size_t n)
{
	uint64_t t = pcm_now_ns();
	int err = machine_pause(h->m);

	if (err) {
		snprintf(why, n, "cannot pause the VM: %s", strerror(-err));
		return err;
	}
	err = snap_writer_machine(w, h->m);
	*rerr = machine_resume(h->m);
	s->paused_ns = pcm_now_ns() - t;
	if (err == -EBUSY)
		snprintf(why, n, "saving the VM's state for %s: the VM had not stopped", s->path);
	else if (err)
		host_snap_why(err, s->path, why, n);
	return err;
}

/* Why the live copy could not start, in words. */
static void host_snap_live_why(int err, char *why, size_t n)
{
	const char *miss = err == -EOPNOTSUPP ? snap_live_missing_feature() : NULL;

	if (miss)
		snprintf(why, n, "a live snapshot needs userfaultfd write-protect on shared memory "
			 "and this kernel lacks %s: use --pause", miss);
	else if (err == -EBUSY)
		snprintf(why, n, "the VM's RAM is held by another userfaultfd (a restore or a "
			 "dirty log still registered): use --pause");
	else
		snprintf(why, n, "cannot write-protect the VM's RAM for a live snapshot: %s",
			 strerror(-err));
}

/* Live: pause, the state and every data page write-protected, resume;
 * then RAM into w as the VM runs (snap/live.h). The pause holds neither
 * the pages nor a sync. *rerr: a failed resume. */
static int host_snap_write_live(struct vmhost *h, struct snap_writer *w, struct host_snap *s,
				int *rerr, char *why, size_t n)
{
	const struct machine_region *rg;
	unsigned nr = machine_regions(h->m, &rg);
	struct snap_live *l;
	uint64_t t;
	int err = snap_live_open(w, rg, nr, &l);

	if (err) {
		host_snap_live_why(err, why, n);
		return err;
	}
	t = pcm_now_ns();
	if ((err = machine_pause(h->m))) {
		snap_live_close(l);
		snprintf(why, n, "cannot pause the VM: %s", strerror(-err));
		return err;
	}
	err = snap_writer_machine_state(w, h->m);
	if (!err && (err = snap_live_freeze(l)))
		host_snap_live_why(err, why, n);
	*rerr = machine_resume(h->m);
	s->paused_ns = pcm_now_ns() - t;
	if (!err && (err = snap_live_copy(l)))
		host_snap_why(err, s->path, why, n);
	snap_live_stats(l, &s->ls);
	snap_live_close(l);
	if (err == -EBUSY)
		snprintf(why, n, "saving the VM's state for %s: the VM had not stopped", s->path);
	else if (err && !why[0])
		host_snap_why(err, s->path, why, n);
	return err;
}

/* The file as committed, read back: what the reply reports. */
static int host_snap_stats(struct host_snap *s, char *why, size_t n)
{
	struct snap_file *sf;
	const struct snap_commit *c;
	struct stat st;
	int err = snap_open(s->path, &sf);

	if (err) {
		snprintf(why, n, "%s was written but does not read back: %s", s->path,
			 strerror(-err));
		return err;
	}
	c = snap_commit_of(sf);
	s->id = *snap_id_of(sf);
	s->data_pages = c->data_pages;
	s->zero_pages = c->present - c->data_pages;
	s->state_bytes = c->state_len;
	if (!fstat(snap_fd(sf), &st)) {
		s->file_bytes = (uint64_t)st.st_size;
		s->disk_bytes = (uint64_t)st.st_blocks * 512;
	}
	snap_close(sf);
	return 0;
}

static double host_ms(uint64_t ns)
{
	return (double)(ns / 1000) / 1000;
}

/* {"ok": true, "result": {...}}: docs/control.md lists the keys. */
static void host_snap_reply(struct vmhost *h, FILE *f, const struct host_snap *s)
{
	char buf[12288], id[2 * SNAP_ID_LEN + 1];
	struct pcm_jw w;

	snap_id_hex(&s->id, id);
	pcm_jw_init(&w, buf, sizeof(buf));
	pcm_jw_obj(&w, NULL);
	pcm_jw_bool(&w, "ok", true);
	pcm_jw_obj(&w, "result");
	pcm_jw_str(&w, "name", h->name);
	pcm_jw_str(&w, "file", s->path);
	pcm_jw_str(&w, "id", id);
	pcm_jw_u64(&w, "ram_bytes", machine_config_of(h->m)->ram_bytes);
	pcm_jw_u64(&w, "file_bytes", s->file_bytes);
	pcm_jw_u64(&w, "disk_bytes", s->disk_bytes);
	pcm_jw_u64(&w, "data_pages", s->data_pages);
	pcm_jw_u64(&w, "zero_pages", s->zero_pages);
	pcm_jw_u64(&w, "state_bytes", s->state_bytes);
	pcm_jw_bool(&w, "live", s->live);
	pcm_jw_num(&w, "paused_ms", host_ms(s->paused_ns));
	pcm_jw_num(&w, "total_ms", host_ms(pcm_now_ns() - s->t0));
	if (s->live) {
		pcm_jw_num(&w, "copy_ms", host_ms(s->ls.copy_ns));
		pcm_jw_u64(&w, "early_pages", s->ls.early_pages);
		pcm_jw_u64(&w, "wp_faults", s->ls.faults);
	}
	pcm_jw_end(&w);
	pcm_jw_end(&w);
	(void)!ctl_send(f, &w);
}

/* Write, commit, read back; whatever fails, the VM runs on as it was
 * (or, when it would not resume, stays paused for `resume`). */
static void host_snapshot(struct vmhost *h, FILE *f, const char *path, unsigned flags,
			  bool live)
{
	struct host_snap s = { .path = path, .t0 = pcm_now_ns(), .live = live };
	struct snap_writer *w;
	char why[600] = "";
	int err, rerr = 0;

	if (host_snap_open(h, path, flags, &w, why, sizeof(why))) {
		ctl_err(f, "%s; the VM runs on", why);
		return;
	}
	err = live ? host_snap_write_live(h, w, &s, &rerr, why, sizeof(why)) :
		     host_snap_write(h, w, &s, &rerr, why, sizeof(why));
	if (err) {
		size_t l = strlen(why);

		snap_writer_abort(w);
		snprintf(why + l, sizeof(why) - l, "; nothing was left there");
	} else if ((err = snap_writer_commit(w, NULL))) {
		snprintf(why, sizeof(why), "cannot commit %s: %s", path, strerror(-err));
	}
	if (!err)
		err = host_snap_stats(&s, why, sizeof(why));
	if (rerr) {
		h->paused = h->paused_here = h->paused_snap = true;
		ctl_err(f, "%s; resuming the VM afterwards failed (%s): it stays paused here; "
			"`resume` tries again", err ? why : "the snapshot was written",
			strerror(-rerr));
	} else if (err) {
		ctl_err(f, "%s; the VM runs on", why);
	} else {
		host_snap_reply(h, f, &s);
	}
}

/* ---- requests (docs/control.md) ---- */

enum host_after {
	HA_CLOSE,      /* answered: close the connection */
	HA_OWNED,      /* the migration thread answers and closes it */
	HA_EXIT,       /* answered, and this process ends (stop) */
};

typedef enum host_after (*host_req_fn)(struct vmhost *h, FILE *f,
				       const struct pcm_json_doc *d, const struct pcm_json *req);

static enum host_after req_status(struct vmhost *h, FILE *f, const struct pcm_json_doc *d,
				  const struct pcm_json *req)
{
	(void)d, (void)req;
	host_status(h, f);
	return HA_CLOSE;
}

static enum host_after req_stop(struct vmhost *h, FILE *f, const struct pcm_json_doc *d,
				const struct pcm_json *req)
{
	(void)d, (void)req;
	if (h->migrating) {
		ctl_err(f, "a migration of this VM is running; stop it once it ends");
		return HA_CLOSE;
	}
	ctl_ok(f, "stopped");
	return HA_EXIT;
}

static enum host_after req_latency(struct vmhost *h, FILE *f, const struct pcm_json_doc *d,
				   const struct pcm_json *req)
{
	(void)d, (void)req;
	if (!h->m)
		ctl_err(f, "this VM is still arriving here");
	else
		host_latency(h, f);
	return HA_CLOSE;
}

static enum host_after req_switch(struct vmhost *h, FILE *f, const struct pcm_json_doc *d,
				  const struct pcm_json *req)
{
	(void)d, (void)req;
	host_switch(h, f);
	return HA_CLOSE;
}

static enum host_after req_resume(struct vmhost *h, FILE *f, const struct pcm_json_doc *d,
				  const struct pcm_json *req)
{
	bool bad, force = req_bool(d, req, "force", &bad);

	if (bad)
		ctl_err(f, "\"force\" must be true or false");
	else
		host_resume(h, f, force);
	return HA_CLOSE;
}

static enum host_after req_give_up(struct vmhost *h, FILE *f, const struct pcm_json_doc *d,
				   const struct pcm_json *req)
{
	(void)d, (void)req;
	host_give_up(h, f);
	return HA_CLOSE;
}

static enum host_after req_recover(struct vmhost *h, FILE *f, const struct pcm_json_doc *d,
				   const struct pcm_json *req)
{
	bool bad;
	const char *to = req_str(d, req, "to", &bad);

	if (bad)
		ctl_err(f, "\"to\" must be a string \"HOST:PORT\"");
	else
		host_recover(h, f, to ? to : "");
	return HA_CLOSE;
}

static enum host_after req_migrate(struct vmhost *h, FILE *f, const struct pcm_json_doc *d,
				   const struct pcm_json *req)
{
	return host_migrate(h, f, d, req) ? HA_OWNED : HA_CLOSE;
}

/* {"req": "snapshot", "file": ABSOLUTE PATH, "pause": BOOL, "force": BOOL}:
 * answered here once the file is committed; "pause" false (or absent):
 * live. */
static enum host_after req_snapshot(struct vmhost *h, FILE *f, const struct pcm_json_doc *d,
				    const struct pcm_json *req)
{
	bool bad_file, bad_pause, bad_force;
	const char *path = req_str(d, req, "file", &bad_file), *no;
	bool pause = req_bool(d, req, "pause", &bad_pause);
	bool force = req_bool(d, req, "force", &bad_force);

	/* The path is this process's: a relative one would name a file
	 * under its working directory, not the client's. */
	if (!path || bad_file || path[0] != '/' || strlen(path) >= SNAP_PATH_MAX - 8)
		ctl_err(f, "snapshot needs \"file\": an absolute path (shorter than %d bytes)",
			SNAP_PATH_MAX - 8);
	else if (bad_pause || bad_force)
		ctl_err(f, "\"%s\" must be true or false", bad_pause ? "pause" : "force");
	else if ((no = host_snap_refusal(h)))
		ctl_err(f, "%s", no);
	else
		host_snapshot(h, f, path, force ? SNAP_W_REPLACE : 0, !pause);
	return HA_CLOSE;
}

static const struct host_req {
	const char *name;
	host_req_fn fn;
	const char *members[4];   /* besides "req" */
} host_reqs[] = {
	{ "status", req_status, { NULL } },
	{ "stop", req_stop, { NULL } },
	{ "latency", req_latency, { NULL } },
	{ "switch", req_switch, { NULL } },
	{ "resume", req_resume, { "force", NULL } },
	{ "give-up", req_give_up, { NULL } },
	{ "recover", req_recover, { "to", NULL } },
	{ "migrate", req_migrate, { "to", "json", "options", NULL } },
	{ "snapshot", req_snapshot, { "file", "pause", "force", NULL } },
};

/* The request's handler, or NULL with an error reply sent. */
static const struct host_req *req_find(FILE *f, const struct pcm_json_doc *d,
				       const struct pcm_json *req)
{
	const struct pcm_json *name = pcm_json_get(d, req, "req");
	const struct host_req *r = NULL;

	if (!name || name->type != PCM_JSON_STRING) {
		ctl_err(f, "a request needs \"req\": a string naming it");
		return NULL;
	}
	for (size_t i = 0; i < sizeof(host_reqs) / sizeof(host_reqs[0]) && !r; i++)
		if (!strcmp(host_reqs[i].name, name->str))
			r = &host_reqs[i];
	if (!r) {
		ctl_err(f, "unknown request \"%s\"", name->str);
		return NULL;
	}
	for (const struct pcm_json *m = pcm_json_first(d, req); m; m = pcm_json_next(d, m)) {
		bool known = !strcmp(m->key, "req");

		for (unsigned k = 0; !known && r->members[k]; k++)
			known = !strcmp(m->key, r->members[k]);
		if (!known) {
			ctl_err(f, "request \"%s\" has no member \"%s\"", r->name, m->key);
			return NULL;
		}
	}
	return r;
}

/* One line from the client, answered; what then. */
static enum host_after host_request(struct vmhost *h, FILE *f, struct pcm_json_doc *d,
				    char *line)
{
	const struct host_req *r;
	size_t len;
	int err = ctl_read_line(f, line, CTL_LINE_MAX, &len);

	if (err == -ENODATA)
		return HA_CLOSE;
	if (err == -E2BIG) {
		ctl_err(f, "request line longer than %d bytes", CTL_LINE_MAX - 1);
		return HA_CLOSE;
	}
	if (err) {
		ctl_err(f, "reading the request: %s", strerror(err == -EAGAIN ? ETIMEDOUT : -err));
		return HA_CLOSE;
	}
	if ((err = pcm_json_parse(d, line, len))) {
		if (err == -E2BIG)
			ctl_err(f, "request too large: %s", d->why);
		else
			ctl_err(f, "malformed JSON at byte %zu: %s", d->err_off, d->why);
		return HA_CLOSE;
	}
	if (pcm_json_root(d)->type != PCM_JSON_OBJECT) {
		ctl_err(f, "a request is a JSON object, not a %s",
			pcm_json_type_name(pcm_json_root(d)->type));
		return HA_CLOSE;
	}
	if (!(r = req_find(f, d, pcm_json_root(d))))
		return HA_CLOSE;
	return r->fn(h, f, d, pcm_json_root(d));
}

/* One client, one request. A client gets CTL_CLIENT_TIMEOUT_S to send
 * its line: the loop that serves the VM does not wait on a silent one.
 * Returns true when the host should exit. */
#define CTL_CLIENT_TIMEOUT_S 5
static bool host_client(struct vmhost *h, int fd)
{
	struct timeval tv = { CTL_CLIENT_TIMEOUT_S, 0 };
	struct pcm_json_doc *d = malloc(sizeof(*d));
	char *line = malloc(CTL_LINE_MAX);
	FILE *f = d && line ? fdopen(fd, "r+") : NULL;
	enum host_after a = HA_CLOSE;

	if (!f) {
		close(fd);
	} else {
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		a = host_request(h, f, d, line);
		if (a != HA_OWNED)
			fclose(f);
	}
	free(line);
	free(d);
	if (a == HA_OWNED)
		return false;
	return a == HA_EXIT || (h->released && !h->migrating);
}

static void *host_linger_main(void *arg)
{
	struct vmhost *h = arg;

	if (!dest_linger_run(h->linger, h->linger_stop))
		atomic_store(&h->owed, false);
	return NULL;
}

/* Every page is here but the source may not know: until it says
 * RELEASED, its reconnection gets DONE and its `resume` the answer that
 * the VM runs here. */
static void host_linger_start(struct vmhost *h)
{
	h->linger_stop = eventfd(0, EFD_CLOEXEC);
	atomic_store(&h->owed, true);
	h->lingering = h->linger_stop >= 0 &&
		       !pthread_create(&h->linger_thr, NULL, host_linger_main, h);
	if (!h->lingering)
		fprintf(stderr, "%s: warning: cannot answer the source's reconnection: it keeps "
			"its paused copy\n", PCM_PROG);
	else
		printf("the source has not said RELEASED: its reconnection on the listening "
		       "address gets DONE while the VM runs here\n");
}

static void host_linger_stop(struct vmhost *h)
{
	uint64_t one = 1;

	if (h->lingering) {
		if (write(h->linger_stop, &one, sizeof(one)) < 0)
			perror("eventfd");
		pthread_join(h->linger_thr, NULL);
		h->lingering = false;
	}
	if (h->linger) {
		close(h->ro.lfd);
		dest_linger_free(h->linger);
		h->linger = NULL;
	}
	if (h->linger_stop > 0)
		close(h->linger_stop);
	h->linger_stop = -1;
}

/* The migration thread ended. Returns true when the host should exit. */
static bool host_mig_done(struct vmhost *h)
{
	pthread_join(h->mig_thr, NULL);
	h->migrating = false;
	atomic_store(&h->mig_done, false);
	if (!h->receiving)
		return h->released;
	h->receiving = false;
	if (h->linger && !h->rerr)
		host_linger_start(h);
	else
		close(h->ro.lfd);   /* the VM is here or lost: nobody is to come back */
	if (h->rerr) {
		h->status = host_error("receiving the VM failed: %s", h->rfail.why);
		return true;
	}
	h->m = h->m_in;
	printf("VM '%s' %s here: every page in (%llu pushed, %llu requested, %llu zero), "
	       "verified: %s (%s)\n", h->name, h->rfail.resume_err ? "PAUSED" : "running",
	       (unsigned long long)h->done.pages_pushed,
	       (unsigned long long)h->done.pages_requested, (unsigned long long)h->done.pages_zero,
	       h->done.verified ? "yes" : "NO", h->done.verify_detail);
	fflush(stdout);
	return false;
}

/* SIGINT/SIGTERM: stop the VM, but never in the middle of moving it. An
 * incoming VM not yet running here is simply abandoned (the source keeps
 * it). Returns true when the host should exit now. */
static bool host_signal(struct vmhost *h)
{
	if (h->receiving && atomic_load(&h->link.phase) == LINK_NONE) {
		if (atomic_load(&h->ctl_fd) < 0)
			fprintf(stderr, "%s: signal received: stopped waiting for a VM\n", PCM_PROG);
		else
			fprintf(stderr, "%s: signal received: abandoning the incoming VM (the "
				"source keeps it)\n", PCM_PROG);
		h->status = 1;
		h->abandoned = true;
		return true;
	}
	if (h->migrating) {
		fprintf(stderr, "%s: signal received: VM '%s' is migrating; it stops once the "
			"migration ends\n", PCM_PROG, h->name);
		host_mig_done(h);
	}
	if (h->m)
		fprintf(stderr, "%s: signal received, stopping VM '%s'\n", PCM_PROG, h->name);
	return true;
}

/* The guest stopped itself. A poweroff or reset ends the VM and this
 * host, successfully: that is what the guest asked for. A crash does not:
 * the VM stays, paused for good, so `status` can say why. */
static bool host_guest_end(struct vmhost *h, int fd)
{
	enum machine_end e = machine_ended(h->m);
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0)
		n = 0;
	if (e == MACHINE_RUNS || h->migrating || h->receiving)
		return false;   /* a migration's thread still holds the VM */
	fprintf(stderr, "%s: VM '%s': the guest %s; the VM stopped\n", PCM_PROG, h->name,
		machine_end_name(e));
	h->status = 0;
	return true;
}

/* The restore's fd is readable. Returns true when the host should exit
 * (the restore failed: a page, the file). */
static bool host_restore_event(struct vmhost *h)
{
	const struct vmhost_restore_ops *o = h->restored.ops;
	char why[600] = "";
	int r = o->over(o->arg, why, sizeof(why));

	if (r > 0)
		return false;
	h->restoring = false;
	if (!r)
		return false;
	h->status = host_error("%s", why);
	fprintf(stderr, "%s: VM '%s' stopped: it cannot run without that page\n", PCM_PROG,
		h->name);
	h->restore_failed = true;
	return true;
}

static void host_loop(struct vmhost *h)
{
	sigset_t sigs;
	int sfd;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	for (bool done = false; !done;) {
		struct pollfd p[5] = { { .fd = atomic_load(&h->ctl_fd), .events = POLLIN },
				       { .fd = sfd, .events = POLLIN },
				       { .fd = h->wake_fd, .events = POLLIN },
				       { .fd = h->m ? machine_end_fd(h->m) : -1, .events = POLLIN },
				       { .fd = h->restoring ? h->restored.ops->fd : -1,
					 .events = POLLIN } };

		if (poll(p, 5, -1) < 0 && errno != EINTR)
			break;
		if (p[4].revents && host_restore_event(h))
			break;
		if (p[3].revents && host_guest_end(h, p[3].fd))
			break;
		if (p[2].revents) {
			uint64_t n;

			if (read(h->wake_fd, &n, sizeof(n)) < 0)
				n = 0;
			if (atomic_load(&h->mig_done))
				done = host_mig_done(h);
		}
		if (p[1].revents && host_signal(h))
			break;
		if (p[0].revents && !done) {
			int c = accept4(p[0].fd, NULL, NULL, SOCK_CLOEXEC);

			if (c >= 0)
				done = host_client(h, c);
		}
	}
	close(sfd);
}

static int host_init(struct vmhost *h)
{
	memset(h, 0, sizeof(*h));
	h->t_start = pcm_now_ns();
	h->linger_stop = -1;
	atomic_store(&h->ctl_fd, -1);
	h->wake_fd = eventfd(0, EFD_CLOEXEC);
	if (h->wake_fd < 0 || link_init(&h->link))
		return host_error("cannot set up the VM host: %s", strerror(errno));
	return 0;
}

static int host_exit(struct vmhost *h)
{
	int fd = atomic_load(&h->ctl_fd);

	if (fd >= 0) {
		close(fd);
		ctl_unlink(h->name);
	}
	if (h->abandoned)
		return h->status;   /* the receive thread may still use what follows */
	if (h->restore_failed) {
		pcm_leave_to_exit(h->m);   /* a vCPU may wait on a page: the exit ends it */
		return h->status;
	}
	if (h->restored.ops && h->restored.ops->halt)
		h->restored.ops->halt(h->restored.ops->arg);
	host_linger_stop(h);
	close(h->wake_fd);
	link_destroy(&h->link);
	if (h->m)
		machine_destroy(h->m);
	return h->status;
}

int vmhost_serve(struct machine *m, const char *name)
{
	return vmhost_serve_restored(m, name, NULL);
}

int vmhost_serve_restored(struct machine *m, const char *name, const struct vmhost_restored *r)
{
	struct vmhost h;
	int fd, err = host_init(&h);

	if (err) {
		machine_destroy(m);
		return err;
	}
	h.m = m;
	if (r)
		h.restored = *r;
	h.restoring = r && r->ops && r->ops->fd >= 0;
	pm_strset(h.name, sizeof(h.name), name);
	err = ctl_listen(name, &fd);
	if (err == -EADDRINUSE)
		h.status = host_error("a VM named '%s' is already running here", name);
	else if (err)
		h.status = host_error("cannot create the control socket for '%s': %s", name,
				     strerror(-err));
	else
		atomic_store(&h.ctl_fd, fd);
	if (!err)
		host_loop(&h);
	return host_exit(&h);
}

/* Before READY (receive thread): name the VM here and open its control
 * socket, so `status` sees it arrive, or refuse it. */
static int host_on_hello(void *arg, const struct pm_hello *hello, char *why)
{
	struct vmhost *h = arg;
	const char *name = h->name_opt ? h->name_opt : hello->name;
	uint64_t one = 1;
	int fd, err;

	printf("incoming VM '%s': engine %s, %llu MiB, %u vCPUs, workload %s, mode %s\n",
	       hello->name, machine_engine_name(hello->engine),
	       (unsigned long long)(hello->ram_bytes >> 20),
	       hello->vcpus, machine_guest_label(hello->guest, hello->params.workload),
	       pm_mode_name(hello->mode));
	fflush(stdout);
	if (ctl_name_check(name)) {
		snprintf(why, PM_WHY_LEN, "the VM's name '%s' is not valid here", name);
		return -EINVAL;
	}
	err = ctl_listen(name, &fd);
	if (err == -EADDRINUSE)
		snprintf(why, PM_WHY_LEN, "a VM named '%s' already runs on the destination", name);
	else if (err)
		snprintf(why, PM_WHY_LEN, "cannot create the control socket for '%s': %s", name,
			 strerror(-err));
	if (err)
		return err == -EADDRINUSE ? -EEXIST : err;
	pm_strset(h->name, sizeof(h->name), name);
	h->hello = *hello;
	atomic_store(&h->ctl_fd, fd);   /* publishes name and hello to the loop */
	if (write(h->wake_fd, &one, sizeof(one)) < 0)
		return 0;
	return 0;
}

static void host_receive_note(void *arg, const char *line)
{
	(void)arg;
	printf("%s\n", line);
	fflush(stdout);
}

static void *host_receive_main(void *arg)
{
	struct vmhost *h = arg;
	uint64_t one = 1;

	h->rerr = dest_receive(&h->ro, &h->m_in, &h->hello, &h->done, &h->rfail, &h->linger);
	atomic_store(&h->mig_done, true);
	if (write(h->wake_fd, &one, sizeof(one)) < 0)
		perror("eventfd");
	return NULL;
}

int vmhost_receive(int lfd, const struct receive_opts *o, const char *name)
{
	struct vmhost h;
	int err = host_init(&h);

	if (err)
		return err;
	h.name_opt = name;
	h.ro = *o;
	h.ro.lfd = lfd;
	h.ro.link = &h.link;
	h.ro.on_hello = host_on_hello;
	h.ro.note = host_receive_note;
	h.ro.arg = &h;
	pm_fail_init(&h.rfail);
	h.receiving = h.migrating = true;
	if (pthread_create(&h.mig_thr, NULL, host_receive_main, &h)) {
		h.status = host_error("cannot start the receive thread");
		return host_exit(&h);
	}
	host_loop(&h);
	return host_exit(&h);
}

int host_verror(const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: error: ", PCM_PROG);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	return 1;
}

int host_error(const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = host_verror(fmt, ap);
	va_end(ap);
	return rc;
}
