/* vm/machine.c - the engine-neutral half of vm/machine.h.
 *
 * Names the engines and picks one, checks the configuration, writes and
 * checks the outer state-blob header, and reads the guest's own counters
 * (the stats area of guest RAM), which every engine lays out the same way.
 *
 * To add an engine: give it a value of enum machine_engine_kind
 * (vm/machine.h), implement struct machine_engine (vm/engine.h) and list
 * it in kind_names[] and engines[] below.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "guest/workload.h"
#include "vm/engine.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* The engines' names: the only place they are spelled. */
static const char *const kind_names[] = {
	[MACHINE_ENGINE_AUTO] = "auto",
	[MACHINE_ENGINE_THREAD] = "thread",
	[MACHINE_ENGINE_KVM] = "kvm",
};

static const struct machine_engine *const engines[] = {
	[MACHINE_ENGINE_THREAD] = &machine_engine_thread,
	[MACHINE_ENGINE_KVM] = &machine_engine_kvm,
};

const char *machine_engine_name(enum machine_engine_kind k)
{
	return (unsigned)k < NELEM(kind_names) && kind_names[k] ? kind_names[k] : "?";
}

int machine_engine_parse(const char *name, enum machine_engine_kind *k)
{
	for (size_t i = 0; name && i < NELEM(kind_names); i++)
		if (kind_names[i] && !strcmp(kind_names[i], name)) {
			*k = (enum machine_engine_kind)i;
			return 0;
		}
	return -EINVAL;
}

/* The engine that runs VMs of kind k, or NULL (AUTO, or no engine). */
static const struct machine_engine *engine_find(enum machine_engine_kind k)
{
	return (unsigned)k < NELEM(engines) ? engines[k] : NULL;
}

bool machine_engine_known(enum machine_engine_kind k)
{
	return engine_find(k) != NULL;
}

#define VCPU_NICE_DEFAULT 5

int machine_vcpu_nice(void)
{
	const char *e = getenv("PCM_VCPU_NICE");
	char *end;
	long n;

	if (!e || !*e)
		return VCPU_NICE_DEFAULT;
	n = strtol(e, &end, 10);
	if (*end || n < 0 || n > 19)
		return VCPU_NICE_DEFAULT;
	return (int)n;
}

void machine_vcpu_sched(int nice)
{
	struct sched_param sp = { .sched_priority = 0 };

	pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
	if (nice)
		setpriority(PRIO_PROCESS, (id_t)gettid(), nice);
}

int machine_vcpu_thread(pthread_t *th, void *(*fn)(void *), void *arg, unsigned idx)
{
	sigset_t all, old;
	char name[16];
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(th, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r)
		return r;
	snprintf(name, sizeof(name), "vcpu-%u", idx);
	pthread_setname_np(*th, name);
	return 0;
}

void machine_pause_note(_Atomic uint64_t *last, _Atomic uint64_t *max, uint64_t ns)
{
	atomic_store_explicit(last, ns, memory_order_relaxed);
	if (ns > atomic_load_explicit(max, memory_order_relaxed))
		atomic_store_explicit(max, ns, memory_order_relaxed);
}

int machine_probe(const struct machine_config *c, char *why, size_t len)
{
	const struct machine_engine *eng;

	if (!(eng = engine_find(c->engine))) {
		snprintf(why, len, "unknown engine (use auto, kvm or thread)");
		return -ENOENT;
	}
	if (!eng->probe)
		return 0;
	return eng->probe(c, why, len);
}

void machine_engine_pick(struct machine_config *c, char *note, size_t len)
{
	char why[160];

	if (c->engine != MACHINE_ENGINE_AUTO) {
		snprintf(note, len, "%s", machine_engine_name(c->engine));
		return;
	}
	if (machine_engine_kvm.probe(c, why, sizeof(why)) == 0) {
		c->engine = MACHINE_ENGINE_KVM;
		snprintf(note, len, "%s (auto: /dev/kvm works)", machine_engine_name(c->engine));
	} else {
		c->engine = MACHINE_ENGINE_THREAD;
		snprintf(note, len, "%s (auto: %s)", machine_engine_name(c->engine), why);
	}
}

static int create(const struct machine_config *c, struct machine **out, int incoming,
		  char *why, size_t wlen)
{
	const struct machine_engine *eng;
	struct machine *m;
	int r;

	if (!c || !out)
		return -EINVAL;
	*out = NULL;
	eng = engine_find(c->engine);
	if (!eng)
		return -ENOENT;
	if (c->vcpus < 1 || c->vcpus > GUEST_MAX_VCPUS)
		return -EINVAL;
	if (!c->ram_bytes || c->ram_bytes % (2ull << 20))
		return -EINVAL;
	if (c->guest == MACHINE_GUEST_LINUX && !incoming && !c->lx.kernel)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->eng = eng;
	m->cfg = *c;
	m->incoming = incoming;
	/* An incoming machine may not know its workload yet (it comes with
	 * the state blob); when given, it must be valid. */
	if (c->guest == MACHINE_GUEST_PAYLOAD && (!incoming || m->cfg.params.workload)) {
		if (wl_params_fix(&m->cfg.params, c->ram_bytes, c->vcpus, NULL)) {
			free(m);
			return -EINVAL;
		}
	}
	r = eng->create(m, incoming);
	if (r) {
		if (why && wlen)
			snprintf(why, wlen, "%s", m->why[0] ? m->why : strerror(-r));
		free(m);
		return r;
	}
	*out = m;
	return 0;
}

int machine_create(const struct machine_config *c, struct machine **out)
{
	return create(c, out, 0, NULL, 0);
}

int machine_create_why(const struct machine_config *c, struct machine **out,
		       char *why, size_t len)
{
	if (why && len)
		snprintf(why, len, "%s", strerror(EINVAL));
	return create(c, out, 0, why, len);
}

int machine_create_incoming_why(const struct machine_config *c, struct machine **out,
				char *why, size_t len)
{
	if (why && len)
		snprintf(why, len, "%s", strerror(EINVAL));
	return create(c, out, 1, why, len);
}

int machine_create_incoming(const struct machine_config *c, struct machine **out)
{
	return create(c, out, 1, NULL, 0);
}

void machine_destroy(struct machine *m)
{
	if (!m)
		return;
	m->eng->destroy(m);
	free(m);
}

const struct machine_config *machine_config_of(const struct machine *m)
{
	return &m->cfg;
}

unsigned machine_regions(const struct machine *m, const struct machine_region **r)
{
	if (r)
		*r = m->regions;
	return m->nregions;
}

uint8_t *machine_gpa(const struct machine *m, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct machine_region *r = &m->regions[i];

		if (gpa >= r->gpa && len <= r->size && gpa - r->gpa <= r->size - len)
			return r->host + (gpa - r->gpa);
	}
	return NULL;
}

int machine_start(struct machine *m)
{
	return m->eng->start(m);
}

int machine_pause(struct machine *m)
{
	return m->eng->pause(m);
}

int machine_resume(struct machine *m)
{
	return m->eng->resume(m);
}

int machine_save_prepare(struct machine *m)
{
	m->why[0] = 0;
	return m->eng->save_prepare ? m->eng->save_prepare(m) : 0;
}

static int load_bad(struct machine *m, int err, const char *why)
{
	snprintf(m->why, sizeof(m->why), "%s", why);
	return err;
}

long machine_identity(struct machine *m, void *buf, size_t cap)
{
	m->why[0] = 0;
	return m->eng->identity ? m->eng->identity(m, buf, cap) : 0;
}

int machine_identity_check(struct machine *m, const void *buf, size_t len)
{
	m->why[0] = 0;
	if (m->eng->identity_check)
		return m->eng->identity_check(m, buf, len);
	if (len)
		return load_bad(m, -ENODEV, "the source names devices this engine does not have");
	return 0;
}

size_t machine_state_size(const struct machine *m)
{
	return sizeof(struct machine_state_hdr) + m->eng->body_size(m);
}

ssize_t machine_save(struct machine *m, void *buf, size_t cap)
{
	struct machine_state_hdr h;
	size_t need = machine_state_size(m);
	ssize_t n;

	if (!buf || cap < need)
		return -ENOSPC;
	n = m->eng->save_body(m, (uint8_t *)buf + sizeof(h), cap - sizeof(h));
	if (n < 0)
		return n;
	memset(&h, 0, sizeof(h));
	h.magic = MACHINE_STATE_MAGIC;
	h.version = MACHINE_STATE_VERSION;
	h.engine = (uint32_t)m->eng->kind;
	h.hdr_size = sizeof(h);
	h.nvcpus = m->cfg.vcpus;
	h.total_len = sizeof(h) + (uint64_t)n;
	memcpy(buf, &h, sizeof(h));
	return (ssize_t)h.total_len;
}

int machine_load(struct machine *m, const void *blob, size_t len)
{
	struct machine_state_hdr h;

	m->why[0] = 0;
	if (!blob || len < sizeof(h))
		return load_bad(m, -EINVAL, "state blob shorter than its header");
	memcpy(&h, blob, sizeof(h));
	if (h.magic != MACHINE_STATE_MAGIC)
		return load_bad(m, -EINVAL, "not a postcopy-move state blob (bad magic)");
	if (h.version != MACHINE_STATE_VERSION)
		return load_bad(m, -EINVAL, "state blob of another format version");
	if (h.hdr_size < sizeof(h) || h.hdr_size > len || h.total_len != len)
		return load_bad(m, -EINVAL, "state blob length does not match its header");
	if (h.engine != (uint32_t)m->eng->kind)
		return load_bad(m, -ENOEXEC, "state blob is from another engine");
	if (h.nvcpus != m->cfg.vcpus)
		return load_bad(m, -ENOEXEC, "state blob has another vCPU count");
	return m->eng->load_body(m, (const uint8_t *)blob + h.hdr_size, len - h.hdr_size);
}

const char *machine_why(const struct machine *m)
{
	return m->why[0] ? m->why : NULL;
}

const char *machine_crashed(const struct machine *m)
{
	return m->eng->crashed ? m->eng->crashed(m) : NULL;
}

enum machine_end machine_ended(const struct machine *m)
{
	return m->eng->ended ? m->eng->ended(m) : MACHINE_RUNS;
}

int machine_end_fd(const struct machine *m)
{
	return m->eng->end_fd ? m->eng->end_fd(m) : -1;
}

const char *machine_guest_label(uint32_t guest, uint32_t workload)
{
	if (guest == MACHINE_GUEST_LINUX)
		return "linux";
	return wl_name(workload) ? wl_name(workload) : "?";
}

const char *machine_end_name(enum machine_end e)
{
	switch (e) {
	case MACHINE_RUNS: return "running";
	case MACHINE_POWEROFF: return "powered off";
	case MACHINE_RESET: return "asked for a reset";
	}
	return "?";
}

void machine_features(const struct machine *m, uint32_t w[MACHINE_FEATURE_WORDS])
{
	memset(w, 0, MACHINE_FEATURE_WORDS * sizeof(w[0]));
	if (m->eng->features)
		m->eng->features(m, w);
}

int machine_features_check(enum machine_engine_kind engine,
			   const uint32_t w[MACHINE_FEATURE_WORDS], char *why, size_t len)
{
	const struct machine_engine *eng = engine_find(engine);

	if (!eng) {
		snprintf(why, len, "unknown engine");
		return -ENOENT;
	}
	return eng->features_check ? eng->features_check(w, why, len) : 0;
}

int machine_dirty_start(struct machine *m)
{
	return m->eng->dirty_log ? m->eng->dirty_log(m, 1) : -EOPNOTSUPP;
}

int machine_dirty_fetch(struct machine *m, uint64_t *bitmap, uint64_t npages)
{
	return m->eng->dirty_fetch ? m->eng->dirty_fetch(m, bitmap, npages) : -EOPNOTSUPP;
}

int machine_dirty_stop(struct machine *m)
{
	return m->eng->dirty_log ? m->eng->dirty_log(m, 0) : -EOPNOTSUPP;
}

/* The payload's boot page, or NULL for a guest that has none. */
static struct guest_boot *boot_page(struct machine *m)
{
	if (m->cfg.guest != MACHINE_GUEST_PAYLOAD)
		return NULL;
	return (struct guest_boot *)machine_gpa(m, 0, GUEST_DATA_OFF);
}

void machine_stats(struct machine *m, struct machine_stats *s)
{
	struct guest_boot *b = boot_page(m);
	uint64_t epoch;

	memset(s, 0, sizeof(*s));
	m->eng->stats(m, s);
	if (!b)
		return;
	epoch = __atomic_load_n(&b->stall_epoch, __ATOMIC_RELAXED);
	for (unsigned v = 0; v < m->cfg.vcpus; v++) {
		struct guest_vcpu_stats *g = guest_stats_of((uint8_t *)b, v);

		uint64_t gap = __atomic_load_n(&g->max_gap_ns, __ATOMIC_RELAXED);

		s->ops += __atomic_load_n(&g->ops, __ATOMIC_RELAXED);
		if (__atomic_load_n(&g->epoch, __ATOMIC_RELAXED) == epoch && gap > s->max_gap_ns)
			s->max_gap_ns = gap;
	}
}

void machine_stall_reset(struct machine *m)
{
	struct guest_boot *b = boot_page(m);

	if (b)
		__atomic_add_fetch(&b->stall_epoch, 1, __ATOMIC_SEQ_CST);
	if (b && m->eng->host_wrote)
		m->eng->host_wrote(m, 0);   /* the boot page is page 0 */
	if (m->eng->stall_reset)
		m->eng->stall_reset(m);
}

void machine_guest_report(struct machine *m, struct machine_guest_report *r)
{
	memset(r, 0, sizeof(*r));
	if (m->eng->guest_report)
		m->eng->guest_report(m, r);
}
