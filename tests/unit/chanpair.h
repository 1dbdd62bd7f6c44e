/* tests/unit/chanpair.h - a connected pair of channels over loopback TCP,
 * for the channel tests (test_chan, test_crypt). Include after cmocka.h.
 */
#ifndef TESTS_UNIT_CHANPAIR_H
#define TESTS_UNIT_CHANPAIR_H

#include <unistd.h>
#include "net/chan.h"

/* valgrind <= 3.20 does not treat io_uring_enter as blocking: a thread that
 * waits in it holds valgrind's lock and its peer thread never runs
 * (liburing issue #657). Threaded tests skip themselves there. */
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#define MAXT 20   /* the highest message type the tests accept */

struct pair {
	struct net_chan *a, *b;   /* a connected, b accepted */
};

static inline void pair_open(struct pair *p)
{
	uint16_t port;
	int lfd;

	assert_int_equal(net_listen("127.0.0.1", 0, &lfd, &port), 0);
	assert_true(port != 0);
	/* The kernel finishes the handshake from the backlog: no thread needed. */
	assert_int_equal(net_connect("127.0.0.1", port, 2000, MAXT, &p->a), 0);
	assert_int_equal(net_accept(lfd, 2000, MAXT, &p->b), 0);
	close(lfd);
}

static inline void pair_close(struct pair *p)
{
	net_close(p->a);
	net_close(p->b);
}

#endif
