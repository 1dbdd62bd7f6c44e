/* postcopy/link.h - a migration's link once the VM runs on the
 * destination: outages, liveness and recovery bookkeeping.
 *
 * After activation neither side gives up on a broken or silent link: the
 * first thread that sees a channel fail records the cause here and shuts
 * every channel down, so the others stop too; the main thread then
 * reconnects (source) or waits for the source to (destination), for up to
 * the recover timeout. The operator's `recover` pokes the source's wait
 * (optionally with a new address) from another thread. Counters feed the
 * report and `status`.
 */
#ifndef POSTCOPY_LINK_H
#define POSTCOPY_LINK_H

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LINK_TIMEOUT_MS   5000       /* silence that counts as a broken link */
#define RECOVER_TIMEOUT_MS 600000    /* how long to try reconnecting */

enum link_phase {
	LINK_NONE,         /* no migration on this link */
	LINK_UP,           /* a migration runs, its channels work */
	LINK_PAUSED,       /* channels broke; reconnecting or waiting for the peer */
};

struct pm_link {
	pthread_mutex_t lock;
	atomic_int phase;
	atomic_bool down;          /* set at the first failure of an outage */
	int err;                   /* that failure, negative errno */
	char why[200];
	uint64_t t_down;           /* ns, when the current outage began (its
				    * detection, or the last sign of a peer
				    * that fell silent) */
	unsigned attempts;         /* reconnections tried in this outage */
	unsigned pauses;           /* outages recovered from */
	uint64_t paused_ns, longest_ns;
	/* The operator's `recover [--to HOST:PORT | --give-up]`. */
	int wake_fd;               /* eventfd */
	atomic_bool give_up;
	bool retarget;
	char host[256];
	uint16_t port;
};

int link_init(struct pm_link *l);
void link_destroy(struct pm_link *l);
/* A new migration on l: no outage, nothing counted, no poke pending (a
 * VM host keeps one link for all its migrations). */
void link_start(struct pm_link *l);
/* A channel failed (or fell silent); the first call of an outage records
 * why. Returns err. Any thread. */
int link_lost(struct pm_link *l, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool link_is_down(struct pm_link *l);
/* The outage found by silence began when the peer was last heard (t, ns
 * on pcm_now_ns), before it was detected: count it from there. */
void link_backdate(struct pm_link *l, uint64_t t);
struct net_chan;
struct pm_fail;
/* A channel of a migration failed, for the reason why. Before activation
 * that is the migration's failure (recorded in f); after it, an outage of
 * l, and every channel of ch[0..n) is shut down so that all the threads
 * using them notice. Returns err. Any thread; both ends use it. */
int link_chan_fail(struct pm_link *l, struct pm_fail *f, bool activated,
		   struct net_chan *const *ch, int n, int err, const char *why);
/* One line for the operator through a migration's note callback (none:
 * nothing). */
void link_note(void (*note)(void *arg, const char *line), void *arg, const char *fmt,
	       va_list ap) __attribute__((format(printf, 3, 0)));

/* One more reconnection tried in this outage. */
void link_attempt(struct pm_link *l);
/* The outage is over: count it. */
void link_restored(struct pm_link *l);
/* ns since the current outage began (0 when up). */
uint64_t link_down_ns(struct pm_link *l);
/* Sleep up to ms or until poked; true when poked. A poke with a new
 * address puts it in host/port (returns true, *moved set). */
bool link_wait(struct pm_link *l, int ms, char *host, size_t hostlen, uint16_t *port,
	       bool *moved);
/* From the operator: retry now, at host:port when host is not NULL. */
void link_poke(struct pm_link *l, const char *host, uint16_t port);
/* From the operator: stop reconnecting or waiting; the outage ends the
 * migration now, as when the recover timeout runs out. */
void link_give_up(struct pm_link *l);
bool link_given_up(struct pm_link *l);
/* One line for `status`: "paused for 2.3 s: <why> (attempt 4)". */
void link_describe(struct pm_link *l, char *buf, size_t n);

#endif
