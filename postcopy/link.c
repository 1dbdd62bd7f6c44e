/* postcopy/link.c - outages of a migration's link and their count. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "net/chan.h"
#include "lib/clock.h"
#include "postcopy/fail.h"
#include "postcopy/link.h"

int link_init(struct pm_link *l)
{
	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->lock, NULL);
	l->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return l->wake_fd < 0 ? -errno : 0;
}

void link_destroy(struct pm_link *l)
{
	if (l->wake_fd >= 0)
		close(l->wake_fd);
	l->wake_fd = -1;
	pthread_mutex_destroy(&l->lock);
}

void link_start(struct pm_link *l)
{
	uint64_t n;

	pthread_mutex_lock(&l->lock);
	l->err = 0;
	l->why[0] = '\0';
	l->attempts = l->pauses = 0;
	l->paused_ns = l->longest_ns = 0;
	l->retarget = false;
	atomic_store(&l->give_up, false);
	atomic_store(&l->down, false);
	pthread_mutex_unlock(&l->lock);
	while (read(l->wake_fd, &n, sizeof(n)) == sizeof(n))
		;   /* a poke meant for an earlier migration */
}

int link_lost(struct pm_link *l, int err, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&l->lock);
	if (!atomic_load(&l->down)) {
		l->err = err;
		va_start(ap, fmt);
		vsnprintf(l->why, sizeof(l->why), fmt, ap);
		va_end(ap);
		l->t_down = pcm_now_ns();
		l->attempts = 0;
		atomic_store(&l->down, true);
		atomic_store(&l->phase, LINK_PAUSED);
	}
	pthread_mutex_unlock(&l->lock);
	return err;
}

bool link_is_down(struct pm_link *l)
{
	return atomic_load(&l->down);
}

void link_backdate(struct pm_link *l, uint64_t t)
{
	pthread_mutex_lock(&l->lock);
	if (atomic_load(&l->down) && t < l->t_down)
		l->t_down = t;
	pthread_mutex_unlock(&l->lock);
}

int link_chan_fail(struct pm_link *l, struct pm_fail *f, bool activated,
		   struct net_chan *const *ch, int n, int err, const char *why)
{
	if (!activated)
		return pm_fail_set(f, err, "%s", why);
	link_lost(l, err, "%s", why);
	for (int i = 0; i < n; i++)
		if (ch[i])
			net_shutdown(ch[i]);
	return err;
}

void link_note(void (*note)(void *arg, const char *line), void *arg, const char *fmt,
	       va_list ap)
{
	char line[300];

	if (!note)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	note(arg, line);
}

void link_attempt(struct pm_link *l)
{
	pthread_mutex_lock(&l->lock);
	l->attempts++;
	pthread_mutex_unlock(&l->lock);
}

void link_restored(struct pm_link *l)
{
	pthread_mutex_lock(&l->lock);
	if (atomic_load(&l->down)) {
		uint64_t d = pcm_now_ns() - l->t_down;

		l->pauses++;
		l->paused_ns += d;
		if (d > l->longest_ns)
			l->longest_ns = d;
		atomic_store(&l->down, false);
		atomic_store(&l->phase, LINK_UP);
	}
	pthread_mutex_unlock(&l->lock);
}

uint64_t link_down_ns(struct pm_link *l)
{
	uint64_t d = 0;

	pthread_mutex_lock(&l->lock);
	if (atomic_load(&l->down))
		d = pcm_now_ns() - l->t_down;
	pthread_mutex_unlock(&l->lock);
	return d;
}

bool link_wait(struct pm_link *l, int ms, char *host, size_t hostlen, uint16_t *port,
	       bool *moved)
{
	struct pollfd p = { .fd = l->wake_fd, .events = POLLIN };
	uint64_t n;

	*moved = false;
	if (poll(&p, 1, ms) <= 0)
		return false;
	if (read(l->wake_fd, &n, sizeof(n)) < 0)
		return false;
	pthread_mutex_lock(&l->lock);
	if (l->retarget) {
		snprintf(host, hostlen, "%s", l->host);
		*port = l->port;
		l->retarget = false;
		*moved = true;
	}
	pthread_mutex_unlock(&l->lock);
	return true;
}

void link_poke(struct pm_link *l, const char *host, uint16_t port)
{
	uint64_t one = 1;

	pthread_mutex_lock(&l->lock);
	if (host) {
		snprintf(l->host, sizeof(l->host), "%s", host);
		l->port = port;
		l->retarget = true;
	}
	pthread_mutex_unlock(&l->lock);
	if (write(l->wake_fd, &one, sizeof(one)) < 0)
		return;   /* the counter is full: a wake is pending anyway */
}

void link_give_up(struct pm_link *l)
{
	atomic_store(&l->give_up, true);
	link_poke(l, NULL, 0);
}

bool link_given_up(struct pm_link *l)
{
	return atomic_load(&l->give_up);
}

void link_describe(struct pm_link *l, char *buf, size_t n)
{
	pthread_mutex_lock(&l->lock);
	if (atomic_load(&l->down))
		snprintf(buf, n, "paused for %.1f s: %s (reconnection attempt %u)",
			 (pcm_now_ns() - l->t_down) / 1e9, l->why, l->attempts);
	else
		snprintf(buf, n, "up (%u outage%s recovered, %.1f s paused in all)", l->pauses,
			 l->pauses == 1 ? "" : "s", l->paused_ns / 1e9);
	pthread_mutex_unlock(&l->lock);
}
