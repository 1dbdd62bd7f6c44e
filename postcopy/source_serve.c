/* postcopy/source_serve.c - the source's two serving threads.
 *
 * The urgent thread answers page requests the moment they arrive, on a
 * channel of their own, so a faulting vCPU never waits behind bulk data;
 * each request also hints the pusher to continue just past the faulting
 * page. The pusher first sends the memfd's holes as zero ranges (no page
 * to read), then claims runs of unsent pages and sends them in batches,
 * one submission per batch (source_bulk.c). Both run only once the
 * destination may run the VM, so a channel failing under them is an
 * outage (src_link_fail), which stops them until the link is back.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "net/chan.h"
#include "net/wire.h"
#include "postcopy/source_int.h"


/* Sends a page as data or, when it is all zero, as a one-page range. */
static int urgent_reply(struct src *s, uint64_t page, struct pm_pages_hdr *h)
{
	uint8_t *p = pages_map_addr(&s->ram, page);
	struct iovec iov[2];

	if (ram_page_is_zero(p)) {
		struct pm_range r = { page, 1 };

		iov[0] = (struct iovec){ &r, sizeof(r) };
		return net_queue(s->ch[PM_CH_URGENT], PM_ZERO, iov, 1) ? : net_flush(s->ch[PM_CH_URGENT]);
	}
	*h = (struct pm_pages_hdr){ .first = page, .count = 1 };
	iov[0] = (struct iovec){ h, sizeof(*h) };
	iov[1] = (struct iovec){ p, PM_PAGE };
	return net_queue(s->ch[PM_CH_URGENT], PM_PAGES, iov, 2);
}

static int urgent_handle(struct src *s, const struct net_msg *m)
{
	uint64_t pages[PM_REQ_MAX];
	const char *why;
	unsigned n;
	int err;

	if (m->type != PM_REQ)
		return src_link_fail(s, -EPROTO, "unexpected %s on the urgent channel",
				     pm_type_name(m->type));
	if (pm_decode_req(m->payload, m->len, s->ram.npages, pages, &n, &why))
		return src_link_fail(s, -EBADMSG, "bad page request: %s", why);
	for (unsigned i = 0; i < n; i++) {
		pcm_bitmap_set(&s->sent, pages[i]);
		pusher_hint(&s->pusher, pages[i]);
		if ((err = urgent_reply(s, pages[i], &s->urgent_hdr[i])))
			return src_link_fail(s, err, "answering a page request: %s",
					     wire_strerror(err));
	}
	err = net_flush(s->ch[PM_CH_URGENT]);
	if (err)
		return src_link_fail(s, err, "answering a page request: %s", wire_strerror(err));
	return 0;
}

static void *urgent_main(void *arg)
{
	struct src *s = arg;
	struct net_msg m;

	while (!atomic_load(&s->stop)) {
		int err = net_recv(s->ch[PM_CH_URGENT], &m, 200);

		if (err == -ETIMEDOUT)
			continue;
		if (err) {
			if (!atomic_load(&s->stop))
				src_link_fail(s, err, "urgent channel: %s", wire_strerror(err));
			break;
		}
		if (urgent_handle(s, &m))
			break;
	}
	return NULL;
}

static void *push_main(void *arg)
{
	struct src *s = arg;
	struct bulk_batch *b = calloc(1, sizeof(*b));
	uint64_t first, n;
	int err = b ? 0 : -ENOMEM;

	if (!err)
		err = bulk_holes(s, b);
	while (!err && !atomic_load(&s->stop)) {
		n = pusher_next(&s->pusher, PM_RUN_MAX, &first);
		if (n == 0)
			break;
		err = bulk_run(s, b, first, n);
	}
	if (!err)
		err = bulk_flush(s, b);
	if (!err && !atomic_load(&s->stop))
		err = net_send(s->ch[PM_CH_BULK], PM_BULK_END, NULL, 0);
	if (err == -ENOMEM) {
		pm_fail_set(s->fail, err, "no memory for the pusher");
		net_shutdown(s->ch[PM_CH_CONTROL]);
	} else if (err && !atomic_load(&s->stop)) {
		src_link_fail(s, err, "bulk channel: %s", wire_strerror(err));
	}
	free(b);
	return NULL;
}

int src_serve_start(struct src *s)
{
	int err;

	pusher_init(&s->pusher, &s->sent);
	atomic_store(&s->stop, false);
	err = -pthread_create(&s->urgent_thr, NULL, urgent_main, s);
	if (err)
		return pm_fail_set(s->fail, err, "starting the urgent thread");
	err = -pthread_create(&s->push_thr, NULL, push_main, s);
	if (err) {
		atomic_store(&s->stop, true);
		net_shutdown(s->ch[PM_CH_URGENT]);
		pthread_join(s->urgent_thr, NULL);
		return pm_fail_set(s->fail, err, "starting the pusher");
	}
	s->serving = true;
	return 0;
}

void src_serve_stop(struct src *s)
{
	if (!s->serving)
		return;
	atomic_store(&s->stop, true);
	net_shutdown(s->ch[PM_CH_URGENT]);
	net_shutdown(s->ch[PM_CH_BULK]);
	pthread_join(s->urgent_thr, NULL);
	pthread_join(s->push_thr, NULL);
	s->serving = false;
}
