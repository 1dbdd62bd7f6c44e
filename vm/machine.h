/* vm/machine.h - what an engine offers the migration.
 *
 * A machine is a VM: guest RAM in one or more regions (each a memfd mapped
 * shared into this process, so userfaultfd can register it and a second
 * mapping of the same memfd can reach its page cache), vCPUs that can be
 * started, paused at a clean point, saved to a blob, loaded and resumed.
 * The interface is engine-neutral: the thread engine implements it here,
 * the KVM engine implements the same operations on /dev/kvm.
 *
 * Functions return 0 or negative errno; machine_strerror-style words are
 * the caller's job.
 */
#ifndef VM_MACHINE_H
#define VM_MACHINE_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "guest/layout.h"
#include "lib/attr.h"

#define MACHINE_MAX_REGIONS 4
#define MACHINE_ENGINE_LEN  16   /* the snapshot file's engine name field */
#define MACHINE_FEATURE_WORDS 16

struct machine;

/* Which engine runs the VM. THREAD and KVM are also HELLO's engine codes
 * and a state blob's engine (docs/protocol.md): fixed, never renumbered.
 * AUTO is only asked for (machine_engine_pick resolves it); no VM runs on
 * it. The names are for the command line, files, JSON and reports. */
enum machine_engine_kind {
	MACHINE_ENGINE_AUTO = 0,
	MACHINE_ENGINE_THREAD = 1,
	MACHINE_ENGINE_KVM = 2,
};
/* "auto", "thread", "kvm"; "?" for anything else. */
const char *machine_engine_name(enum machine_engine_kind k);
/* 0 with *k set, or -EINVAL for a name of no engine. */
int machine_engine_parse(const char *name, enum machine_engine_kind *k);
/* Does k name an engine a VM runs on (THREAD, KVM; not AUTO)? What HELLO
 * and the snapshot file may carry. */
bool machine_engine_known(enum machine_engine_kind k);

/* What runs inside the VM. Payload guests run a workload of guest/ and
 * keep the boot page and stats area of guest/layout.h, which this module
 * reads; a Linux guest's RAM is its own, and nothing here reads it. */
enum machine_guest {
	MACHINE_GUEST_PAYLOAD = 0,
	MACHINE_GUEST_LINUX = 1,
};

#define MACHINE_MAX_DISKS 4

/* A disk: a raw image file, the same one on both ends of a migration
 * (shared storage); its identity travels in the state and is checked. */
struct machine_disk {
	const char *path;
	int read_only;
};

#define MACHINE_MAX_NICS 2

/* A network card: a virtio-net device on a tap interface of this host,
 * opened if it exists, else created. */
struct machine_nic {
	const char *tap;
	uint8_t mac[6];
	int mac_set;                       /* 0: the device picks one */
};

/* A Linux guest: the files are read when the VM is created (not for an
 * incoming VM, whose RAM arrives); the disks are opened on both ends. */
struct machine_linux {
	const char *kernel;                /* bzImage */
	const char *initrd;                /* NULL: none */
	const char *cmdline;               /* NULL: empty */
	struct machine_disk disks[MACHINE_MAX_DISKS];
	unsigned ndisks;
	struct machine_nic nics[MACHINE_MAX_NICS];
	unsigned nnics;
};

struct machine_config {
	enum machine_engine_kind engine;   /* AUTO: see machine_engine_pick */
	enum machine_guest guest;
	struct machine_linux lx;           /* guest linux only */
	uint64_t ram_bytes;                /* multiple of 2 MiB */
	unsigned vcpus;
	struct wl_params params;
	const char *console;               /* kvm: serial console file, "-" for
					    * stdout, NULL for none */
};

struct machine_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;       /* where the vCPUs see it */
	int memfd;
	uint64_t memfd_off;
};

struct machine_stats {
	uint64_t heartbeats;     /* host-side count of heartbeat calls */
	uint64_t ops;            /* sum of the workload's operation counters */
	uint64_t max_gap_ns;     /* longest guest-visible gap in this window */
	uint64_t pause_ns_last;  /* how long the last pause took to take hold */
	uint64_t pause_ns_max;
	/* The guest's operations per second over the last half second to
	 * second up to now, and that window (0: the engine keeps no history
	 * of its counts; the thread engine does): what a migration report
	 * calls the rate before the migration. */
	double ops_rate;
	uint64_t ops_rate_ns;
};

/* A payload workload's parameters, field by field (48 bytes): HELLO and
 * the snapshot file carry them so (vm/params.c). */
struct pcm_enc;
struct pcm_dec;
void machine_params_put(struct pcm_enc *e, const struct wl_params *p);
void machine_params_get(struct pcm_dec *d, struct wl_params *p);

/* Can this host run c? 0, or negative errno with the reason in why (e.g.
 * "/dev/kvm: No such file or directory", a vCPU count KVM refuses). */
int machine_probe(const struct machine_config *c, char *why, size_t len);
/* Resolve engine AUTO: kvm where it works, else thread; note says which
 * and why. Other engines are left alone. */
void machine_engine_pick(struct machine_config *c, char *note, size_t len);

/* A new VM, booted (boot page written) but not started. */
int machine_create(const struct machine_config *c, struct machine **out);
/* The same, with the reason of a failure in why (e.g. "kernel FILE: No
 * such file or directory", a bzImage the loader refuses). */
int machine_create_why(const struct machine_config *c, struct machine **out,
		       char *why, size_t len);
/* An empty VM for an incoming migration: RAM allocated, never touched,
 * vCPUs not started. machine_load then machine_start bring it to life. */
int machine_create_incoming(const struct machine_config *c, struct machine **out);
int machine_create_incoming_why(const struct machine_config *c, struct machine **out,
				char *why, size_t len);
void machine_destroy(struct machine *m);

const struct machine_config *machine_config_of(const struct machine *m);
unsigned machine_regions(const struct machine *m, const struct machine_region **r);

int machine_start(struct machine *m) PCM_MUST_CHECK;
/* Stop every vCPU at a clean point; returns once all have stopped. */
int machine_pause(struct machine *m) PCM_MUST_CHECK;
int machine_resume(struct machine *m) PCM_MUST_CHECK;

/* Size a state blob needs; save into buf (-ENOSPC if cap too small). */
/* A save will follow soon (a migration or a snapshot begins) while the
 * guest still runs: the engine does now what would lengthen the pause (a
 * disk reads its fingerprint). Optional for the caller; 0 or negative
 * errno, with the reason in machine_why. */
int machine_save_prepare(struct machine *m) PCM_MUST_CHECK;
/* What the VM's devices stand on and another host must have the same of
 * (a disk image's size, serial and fingerprint): at most
 * MACHINE_IDENTITY_MAX bytes, opaque but for the engine, taken while the
 * guest runs (after machine_save_prepare); the count, or negative errno.
 * An engine without such devices gives 0 bytes. */
#define MACHINE_IDENTITY_MAX 256
long machine_identity(struct machine *m, void *buf, size_t cap);
/* On an incoming VM: are the devices given here the ones the identity
 * names? 0, or -ENODEV/-EINVAL with the reason in machine_why. */
int machine_identity_check(struct machine *m, const void *buf, size_t len) PCM_MUST_CHECK;
size_t machine_state_size(const struct machine *m);
ssize_t machine_save(struct machine *m, void *buf, size_t cap);
/* Load a blob saved by machine_save of the same engine; -EINVAL (bad
 * magic/version/length) or -ENOEXEC (another engine or shape) otherwise. */
int machine_load(struct machine *m, const void *blob, size_t len) PCM_MUST_CHECK;

/* The reason of the last failed call on m, when the engine has one
 * (e.g. which part of a state blob it refused), else NULL. */
const char *machine_why(const struct machine *m);
/* Why the guest stopped on its own (an exception, a triple fault), or NULL
 * while it runs. */
const char *machine_crashed(const struct machine *m);

/* How a guest ended that stopped itself on purpose: it powered off or
 * asked to be reset (this VMM does not reboot a guest: the VM stops). */
enum machine_end {
	MACHINE_RUNS = 0,
	MACHINE_POWEROFF,
	MACHINE_RESET,
};
enum machine_end machine_ended(const struct machine *m);
/* A descriptor that polls readable once the guest has ended or crashed,
 * or -1 when the engine has none. Owned by m. */
int machine_end_fd(const struct machine *m);
const char *machine_end_name(enum machine_end e);

/* What runs in the guest, for reports: "linux", or the payload's
 * workload name ("?" for none). */
const char *machine_guest_label(uint32_t guest, uint32_t workload);

/* The CPU-feature fingerprint of the guest (all 0 for engines without
 * one), and whether this host's engine can host such a guest: 0, or
 * -ENOEXEC with the missing features named in why. */
void machine_features(const struct machine *m, uint32_t w[MACHINE_FEATURE_WORDS]);
int machine_features_check(enum machine_engine_kind engine,
			   const uint32_t w[MACHINE_FEATURE_WORDS], char *why, size_t len);

/* Dirty-page tracking (pre-copy): start logging, fetch the pages written
 * since the last fetch (or the start) into bitmap (one bit per page in
 * region order, ORed in; the log is cleared), stop. -EOPNOTSUPP when the
 * engine cannot track. */
int machine_dirty_start(struct machine *m);
int machine_dirty_fetch(struct machine *m, uint64_t *bitmap, uint64_t npages);
int machine_dirty_stop(struct machine *m);

/* Counters; reads guest RAM (the stats area), so on a machine whose pages
 * are still arriving it may fault like a vCPU. A Linux guest has no stats
 * area: only the engine's own counters are filled in. */
void machine_stats(struct machine *m, struct machine_stats *s);
/* Start a new stall window: the guest resets its longest-gap record
 * (payload guests; for a Linux guest, the window of its agent's gaps in
 * machine_guest_report). */
void machine_stall_reset(struct machine *m);

/* What an agent inside the guest says of itself: a Linux guest running
 * the project's agent (guest/linux/agent.c), whose console lines the KVM
 * engine reads as they pass its serial port. Lines read on this machine
 * only (a migrated VM's destination starts with none). Every other guest
 * and engine: agent NONE, the rest zero. */
enum machine_agent {
	MACHINE_AGENT_NONE = 0,    /* no agent line read here */
	MACHINE_AGENT_RUNS,        /* its start, status or error lines */
	MACHINE_AGENT_DONE,        /* its done line, after its final check */
};

struct machine_guest_report {
	enum machine_agent agent;
	uint64_t status_lines;     /* status lines read (done not counted) */
	uint64_t last_ns;          /* pcm_now_ns() as the last one was read */
	uint64_t t_ms, ops;        /* the last status line (ops: or done) */
	uint64_t max_gap_us;       /* the agent's own longest gap, its whole run */
	/* The longest gap_us (one status period's longest gap) of the
	 * status lines read since the stall window began (machine_stall_reset,
	 * or this machine's creation): the guest's stall across a move. */
	uint64_t window_gap_us;
	uint64_t errors;           /* "error" lines read */
	uint64_t garbled;          /* agent lines that did not parse (ignored) */
	int checks_ok;             /* the last status/done line: ram=ok and disk
				    * ok or none; and no error line read */
	char checks[64];           /* its words: "ram=ok disk=none" */
	char error[96];            /* the first error line's text */
};
void machine_guest_report(struct machine *m, struct machine_guest_report *r);

#endif
