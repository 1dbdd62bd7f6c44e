/* postcopy/migrate.h - the two ends of a migration.
 *
 * source_migrate moves a running machine to a destination and fills the
 * report; dest_receive accepts one incoming machine and returns it running
 * with every page in. Both return 0 or negative errno with the cause in
 * *fail. Before commitment (the destination's RESUMED) a failing source
 * resumes its VM untouched; a failing destination discards its half.
 * After activation a broken or silent link is an outage, not a failure:
 * the source reconnects (postcopy/link.h) and the destination waits for
 * it, for up to the recover timeout each; only then do they fail.
 */
#ifndef POSTCOPY_MIGRATE_H
#define POSTCOPY_MIGRATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "postcopy/auth.h"
#include "postcopy/fail.h"
#include "postcopy/link.h"
#include "postcopy/outcome.h"
#include "postcopy/proto.h"
#include "postcopy/report.h"
#include "vm/machine.h"

typedef void (*pm_progress_fn)(void *arg, const struct pm_progress *p,
			       uint64_t npages, double elapsed_s);

/* Pre-copy and hybrid knobs (0: the default). */
struct precopy_opts {
	uint32_t max_downtime_ms;  /* precopy: stop when the rest fits (300) */
	uint32_t max_rounds;       /* precopy: give up converging after (30) */
	uint32_t rounds;           /* hybrid: pre-copy rounds, then post-copy */
	uint32_t seconds_ms;       /* hybrid: or pre-copy this long */
	uint64_t max_bandwidth;    /* bytes/s on the bulk channel (0: none) */
};

struct migrate_opts {
	char host[256];
	uint16_t port;
	enum pm_mode mode;
	char name[PM_NAME_LEN];
	int connect_timeout_ms;
	int reply_timeout_ms;      /* silence on control before giving up */
	int link_timeout_ms;       /* after activation: silence that breaks the link (5 s) */
	int recover_timeout_ms;    /* after activation: keep reconnecting this long (10 min) */
	/* The caller's, to watch outages and poke reconnection (`status`,
	 * `recover`); NULL: the migration keeps its own. */
	struct pm_link *link;
	struct precopy_opts pc;
	/* precopy: the destination checks a digest of all guest RAM against
	 * the source's at the pause before it resumes (costs downtime). */
	bool verify_ram;
	char psk_file[256];        /* --psk-file: authenticate (empty: no) */
	bool encrypt;              /* --encrypt: seal every channel (needs the key) */
	/* Set from another thread to switch a running pre-copy to post-copy
	 * (the operator's --switch-to-postcopy); may be NULL. */
	atomic_bool *switch_req;
	pm_progress_fn progress;
	void *progress_arg;
	/* Called once per pre-copy round with its number, pages and bytes. */
	void (*round_done)(void *arg, unsigned round, uint64_t pages, uint64_t bytes,
			   uint64_t pending);
	/* Called (with progress_arg) with one line for the operator: a link
	 * lost, a reconnection, a recovery. May be NULL. */
	void (*note)(void *arg, const char *line);
};

struct receive_opts {
	int lfd;                   /* listening socket */
	int accept_timeout_ms;     /* for the urgent and bulk connections */
	int reply_timeout_ms;
	int link_timeout_ms;       /* as in migrate_opts */
	int recover_timeout_ms;
	struct pm_link *link;      /* as in migrate_opts */
	uint64_t mem_limit;        /* refuse VMs larger than this (0: RAM) */
	const char *console;       /* kvm guests' serial console (NULL: none) */
	/* A Linux guest's disks here: the same images as the source's
	 * (shared storage), as many as it has, in its order. */
	struct machine_disk disks[MACHINE_MAX_DISKS];
	unsigned ndisks;
	/* Its network cards here, in its order: taps of this host; the MAC
	 * comes with the state (a card's mac= here must be the same). */
	struct machine_nic nics[MACHINE_MAX_NICS];
	unsigned nnics;
	struct pm_key key;         /* set: sources must prove they hold it */
	bool encrypt;              /* refuse sources that do not seal the channels */
	/* A peer refused before anything is reserved does not end the wait
	 * (receive); without it the first peer decides (demo, soak). */
	bool keep_listening;
	/* Before READY: 0 to take the VM, or negative errno and the reason
	 * in why (PM_WHY_LEN) to refuse it. May be NULL. */
	int (*on_hello)(void *arg, const struct pm_hello *h, char *why);
	void (*note)(void *arg, const char *line);   /* as in migrate_opts */
	void *arg;
};

int source_migrate(struct machine *m, const struct migrate_opts *o,
		   struct report *r, struct pm_fail *fail);

/* linger: where a destination that has every page but never heard the
 * source's RELEASED (the link broke as it finished) hands over what it
 * needs to keep answering the source's reconnection with DONE; NULL when
 * not. With linger NULL, dest_receive answers for the recover timeout
 * itself before it returns. */
struct dest_linger;
int dest_receive(const struct receive_opts *o, struct machine **out,
		 struct pm_hello *hello, struct pm_done *done, struct pm_fail *fail,
		 struct dest_linger **linger);
/* Answer the source (RECOVER: DONE; QUERY: the VM runs here, finished)
 * on o->lfd until its RELEASED (0) or until stop_fd is readable
 * (-ECANCELED). A VM host runs it on a thread of its own while it hosts
 * the VM. */
int dest_linger_run(struct dest_linger *l, int stop_fd);
void dest_linger_free(struct dest_linger *l);

/* `resume`: ask the destination of a migration that failed after
 * commitment (o's address and key; session from its pm_fail) whether it
 * runs the VM. *a is the answer, OCQ_UNREACHABLE with the reason in why
 * when nobody answered. When it has every page the source says RELEASED
 * (its copy is to be freed). 0, or negative errno for set-up failures. */
int source_ask(struct machine *m, const struct migrate_opts *o, uint64_t session,
	       enum oc_answer *a, char *why, size_t n);

#endif
