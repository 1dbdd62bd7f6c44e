/* postcopy/dest_pages.c - pages arriving at the destination.
 *
 * Two threads install pages through userfaultfd. The fault thread reads
 * fault events, asks the source for each missing page once (the
 * "requested" bitmap) on the urgent channel and installs the replies; the
 * bulk thread installs the pusher's stream. Whichever install wins counts
 * the page (uffd_* report pages newly installed; the loser sees EEXIST),
 * so pushed + requested + zero is exactly every page. A fault's latency
 * runs from reading the event to its page being mapped, by either path.
 * A channel failing under them is the link's failure (dst_link_fail):
 * both stop, and start again on the new channels once the source is back.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include "net/chan.h"
#include "net/wire.h"
#include "lib/clock.h"
#include "postcopy/dest_int.h"

/* Map a page the destination knows is zero. For a page already installed
 * this is EEXIST plus a wake, so it is also how a late fault is let go. */
static void dst_map_zero(struct dst *d, uint64_t page)
{
	uffd_zero(&d->uffd, pages_map_addr(&d->ram, page), PM_PAGE, true);
}

/* Faults waiting on pages first..first+n-1 are over; zero pages were
 * never installed, so their waiters get the page mapped here. */
static void dst_faults_done(struct dst *d, uint64_t first, uint64_t n, bool zero)
{
	uint64_t now;

	if (atomic_load(&d->npend) == 0)
		return;
	now = pcm_now_ns();
	pthread_mutex_lock(&d->lock);
	for (unsigned i = 0; i < atomic_load(&d->npend);) {
		struct dst_fault *f = &d->pend[i];

		if (f->page - first < n) {
			if (zero)
				dst_map_zero(d, f->page);
			pcm_hist_add(&d->lat, now - f->t0);
			d->blocktime_ns += now - f->t0;
			*f = d->pend[atomic_fetch_sub(&d->npend, 1) - 1];
		} else {
			i++;
		}
	}
	pthread_mutex_unlock(&d->lock);
}

static uint64_t dst_pages_in(struct dst *d, uint64_t first, uint64_t n, bool zero)
{
	uint64_t fresh = pcm_bitmap_set_range(&d->received, first, n);

	atomic_fetch_add(&d->pages_in, fresh);
	dst_faults_done(d, first, n, zero);
	return fresh;
}

static int dst_install_data(struct dst *d, uint64_t first, uint64_t n,
			    const uint8_t *data, atomic_uint_fast64_t *count)
{
	long got = uffd_copy(&d->uffd, pages_map_addr(&d->ram, first), data, n * PM_PAGE, true);

	if (got < 0)
		return pm_fail_set(d->fail, (int)got, "installing pages %llu..%llu: %s",
				   (unsigned long long)first, (unsigned long long)(first + n - 1),
				   strerror((int)-got));
	atomic_fetch_add(count, (uint64_t)got);
	dst_pages_in(d, first, n, false);
	return 0;
}

/* Zero pages are not installed: they stay holes of the memfd, which read
 * as zero once userfaultfd lets go of guest RAM. Only a page a vCPU waits
 * for (now or later) gets a zero page mapped. This keeps a mostly empty
 * guest's migration, and its memory on the destination, small. */
static void dst_install_zero(struct dst *d, uint64_t first, uint64_t n, bool pre)
{
	if (pre)
		pcm_bitmap_set_range(&d->zeroed, first, n);
	atomic_fetch_add(&d->zero, dst_pages_in(d, first, n, true));
}

/* Pages first..first+n-1 are no longer what the guest last wrote: back to
 * missing (a hole) and uncounted. Before activation only. Returns how many
 * had arrived, or negative errno. */
static int64_t dst_drop(struct dst *d, uint64_t first, uint64_t n)
{
	int64_t dropped = 0;
	int err;

	for (uint64_t p = first; p < first + n; p++) {
		if (!pcm_bitmap_test(&d->received, p))
			continue;
		pcm_bitmap_clear(&d->received, p);
		atomic_fetch_sub(&d->pages_in, 1);
		if (pcm_bitmap_test(&d->zeroed, p)) {
			pcm_bitmap_clear(&d->zeroed, p);
			atomic_fetch_sub(&d->zero, 1);
		} else {
			atomic_fetch_sub(&d->precopied, 1);
		}
		dropped++;
	}
	if (dropped && (err = ram_punch(&d->ram, first, n)))
		return err;
	return dropped;
}

static int dst_discard(struct dst *d, const struct pm_range *r, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		int64_t got = dst_drop(d, r[i].first, r[i].count);

		if (got < 0)
			return pm_fail_set(d->fail, (int)got, "discarding pages: %s",
					   strerror((int)-got));
	}
	return 0;
}

static int dst_discard_msg(struct dst *d, const struct net_msg *m)
{
	struct pm_range r[PM_ZERO_MAX];
	const char *why;
	unsigned n;

	if (pm_decode_ranges(m->payload, m->len, d->ram.npages, r, &n, &why))
		return pm_fail_set(d->fail, -EBADMSG, "bad DISCARD message: %s", why);
	return dst_discard(d, r, n);
}

/* Before activation nothing runs on guest RAM: a pre-copy round's pages go
 * straight into the memfd's page cache, mapped nowhere. The guest's first
 * touch maps them without a fault reaching us, a page sent again is just
 * written again, and a discard (dst_drop) frees a page no process maps,
 * which costs no TLB shootdown: that is what keeps hybrid's downtime
 * short when the guest wrote many pre-copied pages again. */
static int dst_pre_data(struct dst *d, uint64_t first, uint64_t n, const uint8_t *data)
{
	uint64_t fresh = 0;
	int err = ram_pwrite(&d->ram, first, n, data);

	if (err)
		return pm_fail_set(d->fail, err, "writing pre-copied pages %llu..%llu: %s",
				   (unsigned long long)first, (unsigned long long)(first + n - 1),
				   strerror(-err));
	for (uint64_t p = first; p < first + n; p++) {
		if (!pcm_bitmap_set(&d->received, p)) {
			fresh++;
			continue;
		}
		atomic_fetch_add(&d->resent, 1);
		if (pcm_bitmap_test(&d->zeroed, p)) {       /* was a hole, counted zero */
			pcm_bitmap_clear(&d->zeroed, p);
			atomic_fetch_sub(&d->zero, 1);
			atomic_fetch_add(&d->precopied, 1);
		}
	}
	atomic_fetch_add(&d->precopied, fresh);
	atomic_fetch_add(&d->pages_in, fresh);
	return 0;
}

/* A zero range in a pre-copy round: pages already here become holes. */
static int dst_pre_zero(struct dst *d, uint64_t first, uint64_t n)
{
	int64_t dropped = dst_drop(d, first, n);

	if (dropped < 0)
		return pm_fail_set(d->fail, (int)dropped, "dropping pages: %s",
				   strerror((int)-dropped));
	atomic_fetch_add(&d->resent, (uint64_t)dropped);
	dst_install_zero(d, first, n, true);
	return 0;
}

/* PAGES or ZERO from either channel; pre: a pre-copy round's (bulk,
 * before PRECOPY_END), which may replace pages already here. */
static int dst_install_msg(struct dst *d, const struct net_msg *m, atomic_uint_fast64_t *count,
			   bool pre)
{
	const char *why;

	if (m->type == PM_PAGES) {
		struct pm_pages_hdr h;
		const uint8_t *data;

		if (pm_decode_pages(m->payload, m->len, d->ram.npages, &h, &data, &why))
			return dst_link_fail(d, -EBADMSG, "bad PAGES message: %s", why);
		if (pre)
			return dst_pre_data(d, h.first, h.count, data);
		return dst_install_data(d, h.first, h.count, data, count);
	}
	if (m->type == PM_ZERO) {
		struct pm_range r[PM_ZERO_MAX];
		unsigned n;

		if (pm_decode_ranges(m->payload, m->len, d->ram.npages, r, &n, &why))
			return dst_link_fail(d, -EBADMSG, "bad ZERO message: %s", why);
		for (unsigned i = 0; i < n; i++) {
			int err = pre ? dst_pre_zero(d, r[i].first, r[i].count) : 0;

			if (err)
				return err;
			if (!pre)
				dst_install_zero(d, r[i].first, r[i].count, false);
		}
		return 0;
	}
	return dst_link_fail(d, -EPROTO, "unexpected %s on a page channel",
			     pm_type_name(m->type));
}

/* Note a fault; true when its page must be asked for. A page already
 * known (installed since it faulted, or zero) is mapped or woken here: a
 * zero page has no install that would wake its waiter. */
static bool dst_fault_note(struct dst *d, uint64_t page, uint64_t t0)
{
	if (pcm_bitmap_test(&d->received, page)) {
		dst_map_zero(d, page);
		return false;
	}
	atomic_fetch_add(&d->remote_faults, 1);
	pthread_mutex_lock(&d->lock);
	if (atomic_load(&d->npend) < DST_PENDING_MAX) {
		d->pend[atomic_load(&d->npend)] = (struct dst_fault){ page, t0 };
		atomic_fetch_add(&d->npend, 1);
	}
	pthread_mutex_unlock(&d->lock);
	/* The page may have landed between the test and the table entry. */
	if (pcm_bitmap_test(&d->received, page))
		dst_faults_done(d, page, 1, true);
	return !pcm_bitmap_set(&d->requested, page);
}

static int dst_faults_read(struct dst *d)
{
	struct uffd_fault ev[64];
	uint64_t req[PM_REQ_MAX];
	unsigned nreq = 0;
	int n = uffd_read(&d->uffd, ev, 64);

	if (n < 0)
		return pm_fail_set(d->fail, n, "reading userfaultfd: %s", strerror(-n));
	for (int i = 0; i < n; i++) {
		uint64_t page, t0 = pcm_now_ns();

		if (pages_map_page_of(&d->ram, ev[i].addr, &page))
			return pm_fail_set(d->fail, -EFAULT, "fault outside guest RAM at %#llx",
					   (unsigned long long)ev[i].addr);
		if (dst_fault_note(d, page, t0))
			req[nreq++] = page;
	}
	if (nreq) {
		int err = net_send(d->ch[PM_CH_URGENT], PM_REQ, req, nreq * sizeof(req[0]));

		if (err)
			return dst_link_fail(d, err, "sending a page request: %s", wire_strerror(err));
	}
	return n;
}

/* Install every reply already here; returns how many. */
static int dst_urgent_drain(struct dst *d)
{
	struct net_msg m;
	int err, n = 0;

	while ((err = net_recv(d->ch[PM_CH_URGENT], &m, 0)) == 0) {
		if ((err = dst_install_msg(d, &m, &d->requested_in, false)))
			return err;
		n++;
	}
	if (err == -EAGAIN)
		return n;
	return dst_link_fail(d, err, "urgent channel: %s", wire_strerror(err));
}

/* After an outage the requests in flight are lost: ask again for every
 * page a vCPU still waits for. */
static int dst_rerequest(struct dst *d)
{
	uint64_t req[PM_REQ_MAX];
	unsigned n = 0;
	int err = 0;

	pthread_mutex_lock(&d->lock);
	for (unsigned i = 0; i < atomic_load(&d->npend) && n < PM_REQ_MAX; i++) {
		uint64_t page = d->pend[i].page;

		if (!pcm_bitmap_test(&d->received, page) && !pcm_bitmap_set(&d->requested, page))
			req[n++] = page;
	}
	pthread_mutex_unlock(&d->lock);
	if (n && (err = net_send(d->ch[PM_CH_URGENT], PM_REQ, req, n * sizeof(req[0]))))
		return dst_link_fail(d, err, "asking again for pages: %s", wire_strerror(err));
	return 0;
}

uint64_t dst_oldest_fault_ns(struct dst *d)
{
	uint64_t oldest = 0, now;

	/* The clock is read under the lock: every entry's t0 was taken
	 * before it went in, so none is newer than now (before the lock, a
	 * fault noted meanwhile came out as a wait of ~2^64 ns). */
	pthread_mutex_lock(&d->lock);
	now = pcm_now_ns();
	for (unsigned i = 0; i < atomic_load(&d->npend); i++)
		if (now > d->pend[i].t0 && now - d->pend[i].t0 > oldest)
			oldest = now - d->pend[i].t0;
	pthread_mutex_unlock(&d->lock);
	return oldest;
}

static void *dst_fault_main(void *arg)
{
	struct dst *d = arg;
	struct pollfd p[2] = {
		{ .fd = d->uffd.fd, .events = POLLIN },
		{ .fd = net_fd(d->ch[PM_CH_URGENT]), .events = POLLIN },
	};

	uint64_t busy = 0;
	int nf, nr;

	if (dst_rerequest(d))
		return NULL;
	while (!atomic_load(&d->stop) && !link_is_down(d->link)) {
		/* While a vCPU waits and replies are coming, poll without
		 * sleeping for a little: waking from poll() is most of a fault's
		 * tail on a busy host. */
		bool spin = atomic_load(&d->npend) && pcm_now_ns() - busy < DST_SPIN_NS;

		if (!spin && !net_pending(d->ch[PM_CH_URGENT]) && poll(p, 2, 20) < 0 &&
		    errno != EINTR) {
			pm_fail_set(d->fail, -errno, "poll: %s", strerror(errno));
			break;
		}
		if ((nf = dst_faults_read(d)) < 0 || (nr = dst_urgent_drain(d)) < 0)
			break;
		if (nf || nr)
			busy = pcm_now_ns();
	}
	return NULL;
}

static void *dst_bulk_main(void *arg)
{
	struct dst *d = arg;
	struct net_msg m;
	bool pre = d->precopy && !atomic_load(&d->precopy_ended);   /* not after an outage */

	while (!atomic_load(&d->stop)) {
		int err = net_recv(d->ch[PM_CH_BULK], &m, -1);

		atomic_store(&d->bulk_seen_ns, pcm_now_ns());
		if (err) {
			if (!atomic_load(&d->stop))
				dst_link_fail(d, err, "bulk channel: %s", wire_strerror(err));
			break;
		}
		if (m.type == PM_BULK_END) {
			atomic_store(&d->bulk_ended, true);
			break;
		}
		if (m.type == PM_PRECOPY_END && pre) {
			pre = false;
			atomic_store(&d->precopy_ended, true);
			continue;
		}
		if (pre && m.type == PM_PING) {   /* the source waits for us */
			if (net_send(d->ch[PM_CH_BULK], PM_PING, m.payload, m.len))
				break;
			continue;
		}
		if (pre && m.type == PM_DISCARD) {
			if (dst_discard_msg(d, &m))
				break;
			continue;
		}
		if (pre) {
			if (dst_install_msg(d, &m, &d->precopied, true))
				break;
			continue;
		}
		if (!d->t_bulk_first)
			d->t_bulk_first = pcm_now_ns();
		if (dst_install_msg(d, &m, &d->pushed, false))
			break;
		d->t_bulk_last = pcm_now_ns();
	}
	return NULL;
}

int dst_threads_start(struct dst *d)
{
	int err;

	atomic_store(&d->stop, false);
	atomic_store(&d->bulk_ended, false);
	err = -pthread_create(&d->fault_thr, NULL, dst_fault_main, d);

	if (err)
		return pm_fail_set(d->fail, err, "starting the fault thread");
	d->fault_running = true;
	err = -pthread_create(&d->bulk_thr, NULL, dst_bulk_main, d);
	if (err)
		return pm_fail_set(d->fail, err, "starting the bulk thread");
	d->bulk_running = true;
	return 0;
}

void dst_threads_stop(struct dst *d)
{
	atomic_store(&d->stop, true);
	if (d->bulk_running && !atomic_load(&d->bulk_ended))
		net_shutdown(d->ch[PM_CH_BULK]);
	if (d->fault_running)
		pthread_join(d->fault_thr, NULL);
	if (d->bulk_running)
		pthread_join(d->bulk_thr, NULL);
	d->fault_running = d->bulk_running = false;
}
