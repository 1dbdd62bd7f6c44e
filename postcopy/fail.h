/* postcopy/fail.h - the first failure of a migration, with its cause.
 *
 * Threads of a migration can fail at once (a broken link shows up on every
 * channel); the first failure recorded is the cause, later ones are
 * consequences. The reason is written where the failure is understood
 * (which peer, which message) and printed once at the top.
 */
#ifndef POSTCOPY_FAIL_H
#define POSTCOPY_FAIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct pm_fail {
	pthread_mutex_t lock;
	int err;               /* negative errno of the first failure, 0 none */
	char why[320];
	bool after_commit;     /* failed once the destination had the VM */
	uint64_t session;      /* source: the session, for asking the destination later */
	int resume_err;        /* resuming the VM failed (negative errno), so it stays
				* paused: the source's before commitment, the
				* destination's after its end-to-end check */
};

void pm_fail_init(struct pm_fail *f);
/* Record a failure unless one is recorded already; returns err. */
int pm_fail_set(struct pm_fail *f, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool pm_failed(struct pm_fail *f);

#endif
