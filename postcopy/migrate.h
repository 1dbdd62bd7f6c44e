/* postcopy/migrate.h - the two ends of a migration.
 *
 * source_migrate moves a running machine to a destination and fills the
 * report; dest_receive accepts one incoming machine and returns it running
 * with every page in. Both return 0 or negative errno with the cause in
 * *fail. Before commitment (the destination's RESUMED) a failing source
 * resumes its VM untouched; a failing destination discards its half.
 */
#ifndef POSTCOPY_MIGRATE_H
#define POSTCOPY_MIGRATE_H

#include <stdint.h>
#include "postcopy/fail.h"
#include "postcopy/proto.h"
#include "postcopy/report.h"
#include "vm/machine.h"

typedef void (*pm_progress_fn)(void *arg, const struct pm_progress *p,
			       uint64_t npages, double elapsed_s);

struct migrate_opts {
	char host[256];
	uint16_t port;
	char mode[16];             /* "postcopy" */
	char name[PM_NAME_LEN];
	int connect_timeout_ms;
	int reply_timeout_ms;      /* silence on control before giving up */
	pm_progress_fn progress;
	void *progress_arg;
};

struct receive_opts {
	int lfd;                   /* listening socket */
	int accept_timeout_ms;     /* for the urgent and bulk connections */
	int reply_timeout_ms;
	uint64_t mem_limit;        /* refuse VMs larger than this (0: RAM) */
	const char *console;       /* kvm guests' serial console (NULL: none) */
	void (*on_hello)(void *arg, const struct pm_hello *h);
	void *arg;
};

int source_migrate(struct machine *m, const struct migrate_opts *o,
		   struct report *r, struct pm_fail *fail);

int dest_receive(const struct receive_opts *o, struct machine **out,
		 struct pm_hello *hello, struct pm_done *done, struct pm_fail *fail);

#endif
