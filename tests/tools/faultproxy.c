/* tests/tools/faultproxy.c - a TCP fault-injection proxy for the
 * reliability tests (tests/reliability/inject.sh).
 *
 *   faultproxy --listen HOST:PORT --to HOST:PORT --fault KIND [--seed N]
 *              [--after-bytes N | --after-ms N] [--after-resumed]
 *              [--stall-ms N] [--then-refuse]
 *              [--port-file FILE] [--log FILE]
 *
 * Owns: accepting any number of connections over its lifetime, relaying
 * each to --to in both directions (one thread, poll), telling control,
 * urgent and bulk connections apart, and injecting exactly one fault.
 *
 * Classification: the source opens control first, then two page
 * connections whose first frame from the source is PM_CHANNEL (its
 * payload starts with u64 session, u32 channel: 1 urgent, 2 bulk). A
 * connection whose first source->destination frame is anything else is
 * control. Frame headers (net/wire.h) are followed on every direction by a
 * streaming parser; payloads are never read beyond the first PM_CHANNEL
 * (they may be sealed; a sealed PM_CHANNEL is classified by order: the
 * source opens urgent before bulk). A control connection starts a new
 * generation.
 *
 * The fault: only in generation 1 (after a reconnect everything is relayed
 * cleanly; a generation 2 that begins before the trigger disarms it). The
 * trigger is --after-bytes N source->destination bytes on the bulk
 * connection, or --after-ms N after the control connection's first byte;
 * without either, N bytes drawn from --seed in 1..64 MiB. With
 * --after-resumed a bulk-byte trigger waits, besides, for the destination's
 * RESUMED on generation 1's control connection: the fault then lands after
 * activation however slowly the destination starts the VM. KIND:
 *   none                     relay everything
 *   drop-control|drop-urgent|drop-bulk
 *                            RST both sockets of that connection
 *   corrupt|corrupt-urgent   flip one seeded bit in the payload of the
 *                            first non-empty source->destination frame
 *                            that starts after the trigger, on bulk (urgent)
 *   stall                    relay nothing on every open connection for
 *                            --stall-ms (8000), then go on; connections
 *                            accepted meanwhile are relayed normally
 *   intrude|intrude-silent   when the first page connection arrives, open
 *                            a stranger's connection to the destination
 *                            just before relaying it, so that the
 *                            destination accepts the stranger first: it
 *                            sends 64 seeded random bytes (intrude) or
 *                            nothing (intrude-silent) and stays open until
 *                            the proxy exits; needs no trigger
 *   drop-done|stall-done     at the destination's first DONE on a control
 *                            connection (any generation): reset it, or
 *                            stall every connection for --stall-ms;
 *                            DONE is not passed on (stall: not before the
 *                            stall ends); needs no trigger
 *   drop-resumed             reset control at the destination's RESUMED,
 *                            which is not passed on; needs no trigger
 *   drop-resumed-ack         drop-resumed, then reset the reconnection's
 *                            control connection at the destination's
 *                            RECOVER_ACK (not passed on): the source never
 *                            heard that the destination runs the VM
 *   drop-ack                 drop-control at the trigger, then reset the
 *                            reconnection's control connection at the
 *                            destination's RECOVER_ACK (not passed on)
 * --then-refuse: once the fault fired, every new connection is reset as
 * soon as it is accepted (the only path is gone).
 * It logs one line per connection event and, when the fault fires,
 * "fault: KIND on CHANNEL at byte N / ms T" (N: generation 1's bulk
 * source->destination bytes so far, T: ms since its control connection's
 * first byte). SIGTERM or SIGINT ends it with a summary; exit status 0 when
 * the fault fired (or KIND is none), 3 when it never did, 2 bad usage,
 * 1 when it cannot listen.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "net/chan.h"
#include "net/wire.h"
#include "lib/clock.h"
#include "postcopy/proto.h"

#define BUF_SIZE        (256u << 10)   /* per direction */
#define CLOSE_FLUSH_MS  2000           /* at most this long to pass on the rest */
#define CONNECT_MS      5000
#define DEFAULT_STALL   8000
#define CH_HEAD         12             /* PM_CHANNEL: session u64, channel u32 */
#define SEALED          0x1u           /* header flag: the payload is ciphertext */
#define MAX_LEN         (WIRE_MAX_PAYLOAD + 64)   /* sealed frames add a tag */

enum kind { K_UNKNOWN, K_CONTROL, K_URGENT, K_BULK, K_OTHER };
static const char *const kind_names[] = { "unclassified", "control", "urgent", "bulk", "other" };

enum fault { F_NONE, F_DROP_CONTROL, F_DROP_URGENT, F_DROP_BULK, F_CORRUPT,
	     F_CORRUPT_URGENT, F_STALL, F_INTRUDE, F_INTRUDE_SILENT, F_DROP_DONE, F_STALL_DONE,
	     F_DROP_ACK, F_DROP_RESUMED, F_DROP_RESUMED_ACK };
static const char *const fault_names[] = { "none", "drop-control", "drop-urgent", "drop-bulk",
					   "corrupt", "corrupt-urgent", "stall", "intrude",
					   "intrude-silent", "drop-done", "stall-done", "drop-ack",
					   "drop-resumed", "drop-resumed-ack" };

/* One direction's frame parser. */
struct parser {
	uint8_t hdr[WIRE_HDR_SIZE];
	unsigned have;             /* header bytes collected */
	bool in_payload;
	uint64_t pos;              /* stream offset of the next byte parsed */
	uint64_t hdr_pos;          /* stream offset of the current header */
	uint32_t len, off;         /* current frame's payload length, offset */
	uint16_t type;
	uint32_t flags;
	uint64_t frames;
	bool lost;                 /* bad header: no more parsing */
	uint8_t head[CH_HEAD];     /* first frame's payload start */
	unsigned head_have;
	bool flip;                 /* a bit of this frame's payload to flip */
	uint32_t flip_off;
	uint8_t flip_bit;
};

/* d[0]: read from fd[0] (source), written to fd[1]; d[1] the other way. */
struct dir {
	uint8_t *buf;
	size_t off, len;
	uint64_t bytes;
	struct parser p;
};

struct conn {
	int id, gen;
	int fd[2];
	struct dir d[2];
	enum kind kind;
	bool frozen, closing, dead;
	bool rst;                  /* close with RST (a peer reset, or the fault) */
	uint64_t t_first;          /* ms of the source's first byte, 0 none */
	uint64_t close_by;         /* closing: give up flushing at this ms */
	char why[128];             /* why it is closing */
};

static const char *const side[] = { "source", "destination" };

static struct {
	/* options */
	const char *listen, *to, *port_file, *log_path;
	enum fault fault;
	uint64_t seed, after_bytes, after_ms, stall_ms;
	bool by_ms;
	bool after_resumed;        /* --after-resumed */
	bool then_refuse;          /* --then-refuse */
	bool resumed;              /* generation 1's RESUMED went by */
	/* state */
	FILE *log;
	uint64_t rng, t_start;
	struct sockaddr_storage up;
	socklen_t up_len;
	struct conn **conns;
	int nconns, cap, next_id, gen;
	int gen_pages;             /* page connections in this generation */
	uint64_t t0;               /* ms of generation 1's first control byte */
	uint64_t bulk_bytes;       /* generation 1's bulk, source->destination */
	bool triggered, fired, disarmed, gave_up;
	uint64_t arm_pos;          /* corrupt: the target's stream offset at the trigger */
	bool target_seen;          /* a drop's target connection existed */
	uint64_t stall_until;
	int intruder;              /* intrude: the stranger's socket, -1 none */
	uint64_t total[2];
	volatile sig_atomic_t stop;
} px = { .stall_ms = DEFAULT_STALL, .next_id = 1, .intruder = -1 };

static uint64_t now_ms(void)
{
	return pcm_now_ns() / 1000000;
}

static void plog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void plog(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(px.log, fmt, ap);
	va_end(ap);
	fputc('\n', px.log);
	fflush(px.log);
}

/* splitmix64: reproducible from --seed. */
static uint64_t rnd(void)
{
	uint64_t z = (px.rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t ms_since_t0(void)
{
	return px.t0 ? now_ms() - px.t0 : 0;
}

/* ---- the fault --------------------------------------------------- */

static enum kind fault_target(void)
{
	switch (px.fault) {
	case F_DROP_CONTROL:
	case F_DROP_ACK:
		return K_CONTROL;
	case F_DROP_URGENT:
	case F_CORRUPT_URGENT:
		return K_URGENT;
	case F_DROP_BULK:
	case F_CORRUPT:
		return K_BULK;
	default:
		return K_UNKNOWN;
	}
}

static bool is_target(const struct conn *c)
{
	return c->gen == 1 && c->kind == fault_target() && !c->dead;
}

static void fault_log(const char *channel, const char *detail)
{
	px.fired = true;
	plog("fault: %s on %s at byte %llu / ms %llu%s", fault_names[px.fault], channel,
	     (unsigned long long)px.bulk_bytes, (unsigned long long)ms_since_t0(), detail);
}

static void conn_close(struct conn *c, const char *why);

/* drop-*: reset both sockets of the target (SO_LINGER 0 sends RST). */
static void fault_drop(struct conn *c)
{
	c->rst = true;
	fault_log(kind_names[c->kind], "");
	conn_close(c, "fault: reset both sides");
}

static void fault_stall(void)
{
	char detail[96];
	int n = 0;

	px.stall_until = now_ms() + px.stall_ms;
	for (int i = 0; i < px.nconns; i++)
		if (!px.conns[i]->dead) {
			px.conns[i]->frozen = true;
			n++;
		}
	snprintf(detail, sizeof(detail), " (froze %d connections for %llu ms)", n,
		 (unsigned long long)px.stall_ms);
	fault_log("all", detail);
}

/* Act on a trigger that went off: now, or once the target exists. */
static void fault_act(void)
{
	if (!px.triggered || px.fired || px.disarmed || px.gave_up)
		return;
	if (px.fault == F_STALL) {
		fault_stall();
		return;
	}
	if (px.fault == F_CORRUPT || px.fault == F_CORRUPT_URGENT)
		return;        /* armed: the parser flips at the next frame */
	for (int i = 0; i < px.nconns; i++)
		if (is_target(px.conns[i])) {
			fault_drop(px.conns[i]);
			return;
		}
	if (px.target_seen) {
		px.gave_up = true;
		plog("fault: %s cannot fire: the %s connection is already closed",
		     fault_names[px.fault], kind_names[fault_target()]);
	}
}

static void fault_trigger(const char *what)
{
	if (px.triggered || px.fault == F_NONE || px.disarmed)
		return;
	px.triggered = true;
	for (int i = 0; i < px.nconns; i++)
		if (is_target(px.conns[i]))
			px.arm_pos = px.conns[i]->d[0].p.pos;
	plog("trigger: %s (bulk byte %llu, ms %llu)", what, (unsigned long long)px.bulk_bytes,
	     (unsigned long long)ms_since_t0());
	fault_act();
}

static void check_bytes_trigger(void)
{
	if (!px.by_ms && px.bulk_bytes >= px.after_bytes && (px.resumed || !px.after_resumed))
		fault_trigger(px.after_resumed ? "bulk bytes, after RESUMED" : "bulk bytes");
}

static void check_time_trigger(void)
{
	if (px.by_ms && px.t0 && !px.triggered && now_ms() - px.t0 >= px.after_ms)
		fault_trigger("time");
}

/* ---- classification and parsing ---------------------------------- */

static void classify(struct conn *c, enum kind k, const char *detail)
{
	c->kind = k;
	if (k == K_CONTROL) {
		c->gen = ++px.gen;
		px.gen_pages = 0;
		if (c->gen == 1)
			px.t0 = c->t_first;
	} else {
		c->gen = px.gen ? px.gen : 1;
	}
	plog("conn %d: %s (generation %d%s)", c->id, kind_names[k], c->gen, detail);
	if (c->gen == 1 && k == fault_target())
		px.target_seen = true;
	if (c->gen > 1 && px.fault != F_NONE && !px.fired && !px.disarmed && !px.gave_up) {
		px.disarmed = true;
		plog("fault: %s disarmed: generation %d began before it fired",
		     fault_names[px.fault], c->gen);
	}
	fault_act();
}

static void classify_channel(struct conn *c, const struct parser *p)
{
	uint64_t session;
	uint32_t ch;
	char detail[64];

	px.gen_pages++;
	if (p->flags & SEALED) {
		/* The source opens urgent, then bulk, one after the other. */
		classify(c, px.gen_pages == 1 ? K_URGENT : px.gen_pages == 2 ? K_BULK : K_OTHER,
			 ", CHANNEL sealed: by order");
		return;
	}
	memcpy(&session, p->head, 8);
	memcpy(&ch, p->head + 8, 4);
	session = le64toh(session);
	ch = le32toh(ch);
	snprintf(detail, sizeof(detail), ", session %016llx, channel %u",
		 (unsigned long long)session, ch);
	classify(c, ch == PM_CH_URGENT ? K_URGENT : ch == PM_CH_BULK ? K_BULK : K_OTHER, detail);
}

/* Faults set off by one message of the destination's on a control
 * connection, not by a trigger: drop-done and stall-done at the first
 * DONE (whatever the generation: the migration's end is what they hit),
 * drop-resumed at RESUMED (the source does not know whether the VM runs
 * there), drop-ack at the first RECOVER_ACK after its drop-control fired (an
 * outage during the reconnection). The message itself is not passed on. */
static void fault_on_message(struct conn *c, uint16_t type)
{
	static bool done;

	if (done)
		return;
	if (type == PM_RESUMED && (px.fault == F_DROP_RESUMED || px.fault == F_DROP_RESUMED_ACK)) {
		done = px.fault == F_DROP_RESUMED;
		px.fired = true;
		c->rst = true;
		fault_log("control", " (RESUMED from the destination, not passed on)");
		conn_close(c, "fault: reset both sides at RESUMED");
	} else if (type == PM_DONE && (px.fault == F_DROP_DONE || px.fault == F_STALL_DONE)) {
		done = true;
		if (px.fault == F_STALL_DONE) {
			fault_stall();
			return;
		}
		c->rst = true;
		fault_log("control", " (DONE from the destination, not passed on)");
		conn_close(c, "fault: reset both sides at DONE");
	} else if (type == PM_RECOVER_ACK && px.fired &&
		   (px.fault == F_DROP_ACK || px.fault == F_DROP_RESUMED_ACK)) {
		done = true;
		c->rst = true;
		plog("fault: drop-ack on control generation %d (RECOVER_ACK, not passed on)",
		     c->gen);
		conn_close(c, "fault: reset both sides at RECOVER_ACK");
	}
}

/* A whole header arrived on direction s. */
static void frame_start(struct conn *c, int s)
{
	struct parser *p = &c->d[s].p;
	struct wire_hdr h;

	memcpy(&h, p->hdr, sizeof(h));
	p->have = 0;
	if (le32toh(h.magic) != WIRE_MAGIC || le32toh(h.len) > MAX_LEN) {
		p->lost = true;
		plog("conn %d: %s->%s: not a frame header at byte %llu; no longer parsing",
		     c->id, side[s], side[!s], (unsigned long long)c->d[s].bytes);
		if (s == 0 && c->kind == K_UNKNOWN)
			classify(c, K_CONTROL, ", first frame unreadable");
		return;
	}
	p->type = le16toh(h.type);
	p->len = le32toh(h.len);
	p->flags = le32toh(h.flags);
	p->off = 0;
	p->in_payload = p->len > 0;
	p->frames++;
	if (s == 0 && c->kind == K_UNKNOWN && (p->type != PM_CHANNEL || p->len < CH_HEAD))
		classify(c, p->type == PM_CHANNEL ? K_OTHER : K_CONTROL, "");
	if (c->kind == K_CONTROL && c->gen == 1 &&
	    ((s == 0 && p->type == PM_STATE) || (s == 1 && p->type == PM_RESUMED)))
		plog("conn %d: %s from the %s (bulk byte %llu, ms %llu)", c->id,
		     pm_type_name(p->type), side[s], (unsigned long long)px.bulk_bytes,
		     (unsigned long long)ms_since_t0());
	if (c->kind == K_CONTROL && s == 1)
		fault_on_message(c, p->type);
	if (c->dead)
		return;
	if (c->kind == K_CONTROL && c->gen == 1 && s == 1 && p->type == PM_RESUMED) {
		px.resumed = true;
		check_bytes_trigger();
	}
	if (s == 0 && px.triggered && !px.fired && is_target(c) && p->len > 0 &&
	    p->hdr_pos >= px.arm_pos &&
	    (px.fault == F_CORRUPT || px.fault == F_CORRUPT_URGENT)) {
		p->flip = true;
		p->flip_off = (uint32_t)(rnd() % p->len);
		p->flip_bit = (uint8_t)(rnd() % 8);
	}
}

/* k payload bytes at b, at offset p->off of the current frame. */
static void payload(struct conn *c, int s, uint8_t *b, uint32_t k)
{
	struct parser *p = &c->d[s].p;

	if (s == 0 && c->kind == K_UNKNOWN && p->frames == 1) {
		uint32_t n = k < CH_HEAD - p->head_have ? k : CH_HEAD - p->head_have;

		memcpy(p->head + p->head_have, b, n);
		if ((p->head_have += n) == CH_HEAD)
			classify_channel(c, p);
	}
	if (p->flip && p->flip_off >= p->off && p->flip_off < p->off + k) {
		char detail[160];

		uint64_t at = p->pos + (p->flip_off - p->off);

		b[p->flip_off - p->off] ^= (uint8_t)(1u << p->flip_bit);
		p->flip = false;
		if (c->kind == K_BULK)
			px.bulk_bytes = at;
		snprintf(detail, sizeof(detail),
			 " (frame %llu %s, %u-byte payload, payload byte %u bit %u, stream byte %llu)",
			 (unsigned long long)p->frames, pm_type_name(p->type), p->len,
			 p->flip_off, p->flip_bit, (unsigned long long)at);
		fault_log(kind_names[c->kind], detail);
	}
	p->off += k;
	if (p->off == p->len)
		p->in_payload = false;
}

/* Walk n bytes just read on direction s (before they are passed on). */
static void parse(struct conn *c, int s, uint8_t *b, size_t n)
{
	struct parser *p = &c->d[s].p;

	while (n && !p->lost) {
		size_t k;

		if (!p->in_payload) {
			if (!p->have)
				p->hdr_pos = p->pos;
			k = WIRE_HDR_SIZE - p->have;
			k = k < n ? k : n;
			memcpy(p->hdr + p->have, b, k);
			if ((p->have += (unsigned)k) == WIRE_HDR_SIZE)
				frame_start(c, s);
		} else {
			k = p->len - p->off;
			k = k < n ? k : n;
			payload(c, s, b, (uint32_t)k);
		}
		b += k;
		n -= k;
		p->pos += k;
	}
}

/* ---- connections ------------------------------------------------- */

static void conn_free(struct conn *c)
{
	free(c->d[0].buf);
	free(c->d[1].buf);
	free(c);
}

/* Close both sockets: with RST when c->rst, else with FIN (unread input
 * is read away first: closing over it would send RST and drop what is
 * still queued for the peer). */
static void conn_close(struct conn *c, const char *why)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };
	char junk[4096];

	if (c->dead)
		return;
	for (int s = 0; s < 2; s++) {
		if (c->rst)
			setsockopt(c->fd[s], SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		for (int i = 0; !c->rst && i < 64; i++)
			if (recv(c->fd[s], junk, sizeof(junk), MSG_DONTWAIT) <= 0)
				break;
		close(c->fd[s]);
	}
	c->dead = true;
	plog("conn %d: closed (%s, generation %d): %s; source->destination %llu bytes "
	     "%llu frames, destination->source %llu bytes %llu frames", c->id,
	     kind_names[c->kind], c->gen, why, (unsigned long long)c->d[0].bytes,
	     (unsigned long long)c->d[0].p.frames, (unsigned long long)c->d[1].bytes,
	     (unsigned long long)c->d[1].p.frames);
	if (c->gen == 1 && c->kind == fault_target() && px.triggered)
		fault_act();   /* a drop still waiting for its target gives up */
}

static bool conn_pending(const struct conn *c)
{
	return c->d[0].len > c->d[0].off || c->d[1].len > c->d[1].off;
}

/* Stop reading; pass on what was read, then close (at most
 * CLOSE_FLUSH_MS). A reset is passed on at once. */
static void conn_closing(struct conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void conn_closing(struct conn *c, const char *fmt, ...)
{
	va_list ap;

	if (c->closing || c->dead)
		return;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	c->closing = true;
	c->close_by = now_ms() + CLOSE_FLUSH_MS;
	if (!conn_pending(c) || c->rst)
		conn_close(c, c->why);
}

/* Write direction s's buffer to the other side. */
static void conn_write(struct conn *c, int s)
{
	struct dir *d = &c->d[s];

	while (!c->dead && !c->frozen && d->off < d->len) {
		ssize_t w = send(c->fd[!s], d->buf + d->off, d->len - d->off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (w < 0) {
			char why[sizeof(c->why)];
			int err = errno;

			c->rst = c->rst || err == ECONNRESET;
			if (c->why[0])
				snprintf(why, sizeof(why), "%s", c->why);
			else
				snprintf(why, sizeof(why), "writing to the %s: %s", side[!s],
					 strerror(err));
			conn_close(c, why);
			return;
		}
		d->off += (size_t)w;
	}
	/* A stall that froze the connection while this buffer was relayed
	 * (its own frames set it off: RESUMED, the trigger byte) holds the
	 * rest until the thaw; dropping it lost RESUMED once, and the source
	 * then read the next frame as out of sequence (2026-12-04). */
	if (c->frozen && d->off < d->len)
		return;
	d->off = d->len = 0;
	if (c->closing && !conn_pending(c))
		conn_close(c, c->why);
}

/* How much of direction s to read now: no further than what classifies
 * a connection (so that the bulk byte count starts right after), and
 * generation 1's bulk stops exactly at the trigger byte. */
static size_t read_room(const struct conn *c, int s)
{
	if (s == 0 && c->kind == K_UNKNOWN && c->d[0].bytes < WIRE_HDR_SIZE + CH_HEAD)
		return WIRE_HDR_SIZE + CH_HEAD - c->d[0].bytes;
	if (s == 0 && c->gen == 1 && c->kind == K_BULK && !px.by_ms && !px.triggered &&
	    px.fault != F_NONE && !px.disarmed && px.after_bytes > c->d[0].bytes)
		return px.after_bytes - c->d[0].bytes < BUF_SIZE ?
		       px.after_bytes - c->d[0].bytes : BUF_SIZE;
	return BUF_SIZE;
}

static void conn_read(struct conn *c, int s)
{
	struct dir *d = &c->d[s];
	ssize_t n = recv(c->fd[s], d->buf, read_room(c, s), 0);

	if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n <= 0) {
		int err = n ? errno : 0;

		c->rst = err == ECONNRESET;   /* pass a reset on */
		if (err)
			conn_closing(c, "reading from the %s: %s", side[s], strerror(err));
		else
			conn_closing(c, "%s closed", side[s]);
		return;
	}
	if (!c->t_first)
		c->t_first = now_ms();
	d->bytes += (uint64_t)n;
	px.total[s] += (uint64_t)n;
	d->off = 0;
	d->len = (size_t)n;
	parse(c, s, d->buf, (size_t)n);
	if (s == 0 && c->gen == 1 && c->kind == K_BULK) {
		px.bulk_bytes = d->bytes;
		check_bytes_trigger();
	}
	if (!c->dead)
		conn_write(c, s);
}

static int connect_upstream(void)
{
	struct timeval tv = { .tv_sec = CONNECT_MS / 1000 };
	int fd = socket(px.up.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&px.up, px.up_len)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static void set_fast(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static int connect_upstream(void);

/* intrude: a stranger connects to the destination just before the first
 * page connection of generation 1 is relayed. */
static void fault_intrude(void)
{
	uint8_t junk[64];
	char detail[96];
	int fd;

	if ((px.fault != F_INTRUDE && px.fault != F_INTRUDE_SILENT) || px.gen != 1 || px.fired)
		return;
	if ((fd = connect_upstream()) < 0) {
		px.gave_up = true;
		plog("fault: %s cannot fire: %s", fault_names[px.fault], strerror(-fd));
		return;
	}
	for (size_t i = 0; i < sizeof(junk); i += 8) {
		uint64_t r = rnd();

		memcpy(junk + i, &r, 8);
	}
	if (px.fault == F_INTRUDE && send(fd, junk, sizeof(junk), MSG_NOSIGNAL) < 0)
		plog("intruder: send: %s", strerror(errno));
	px.intruder = fd;
	snprintf(detail, sizeof(detail), " (a stranger connected%s)",
		 px.fault == F_INTRUDE ? " and sent 64 random bytes" : ", silent");
	fault_log("page connection", detail);
}

static int conn_add(struct conn *c)
{
	if (px.nconns == px.cap) {
		int cap = px.cap ? 2 * px.cap : 16;
		struct conn **a = realloc(px.conns, (size_t)cap * sizeof(*a));

		if (!a)
			return -1;
		px.conns = a;
		px.cap = cap;
	}
	px.conns[px.nconns++] = c;
	return 0;
}

static void accept_one(int in, const struct sockaddr_storage *from)
{
	char host[64] = "?", port[16] = "?";
	struct conn *c = calloc(1, sizeof(*c));
	int out, id = px.next_id++;

	getnameinfo((const struct sockaddr *)from, sizeof(*from), host, sizeof(host), port,
		    sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
	fault_intrude();
	out = connect_upstream();
	if (out < 0 || !c || !(c->d[0].buf = malloc(BUF_SIZE)) ||
	    !(c->d[1].buf = malloc(BUF_SIZE)) || conn_add(c)) {
		struct linger l = { .l_onoff = 1, .l_linger = 0 };

		plog("conn %d: from %s:%s refused: %s", id, host, port,
		     out < 0 ? strerror(-out) : "out of memory");
		setsockopt(in, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
		close(in);
		if (out >= 0)
			close(out);
		if (c)
			conn_free(c);
		return;
	}
	c->id = id;
	c->fd[0] = in;
	c->fd[1] = out;
	set_fast(in);
	set_fast(out);
	plog("conn %d: accepted from %s:%s at %.3f s, relayed to %s", id, host, port,
	     (now_ms() - px.t_start) / 1000.0, px.to);
}

static void accept_all(int lfd)
{
	for (;;) {
		struct sockaddr_storage from;
		socklen_t len = sizeof(from);
		int in = accept4(lfd, (struct sockaddr *)&from, &len, SOCK_CLOEXEC);

		if (in < 0)
			return;
		if (px.then_refuse && px.fired) {
			/* The path is gone: a closed door, with RST. */
			struct linger l = { .l_onoff = 1, .l_linger = 0 };

			setsockopt(in, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
			close(in);
			plog("refused a connection: the fault fired (--then-refuse)");
			continue;
		}
		accept_one(in, &from);
	}
}

/* ---- the loop ---------------------------------------------------- */

/* Milliseconds poll may sleep: until the next timer, at most 1 s. */
static int poll_timeout(void)
{
	uint64_t now = now_ms(), next = now + 1000;

	if (px.stall_until && px.stall_until < next)
		next = px.stall_until;
	if (px.by_ms && px.t0 && !px.triggered && px.t0 + px.after_ms < next)
		next = px.t0 + px.after_ms;
	for (int i = 0; i < px.nconns; i++)
		if (px.conns[i]->closing && !px.conns[i]->frozen && px.conns[i]->close_by < next)
			next = px.conns[i]->close_by;
	return next > now ? (int)(next - now) : 0;
}

static void timers(void)
{
	uint64_t now = now_ms();
	int n = 0;

	check_time_trigger();
	if (px.stall_until && now >= px.stall_until) {
		px.stall_until = 0;
		for (int i = 0; i < px.nconns; i++)
			if (px.conns[i]->frozen) {
				px.conns[i]->frozen = false;
				px.conns[i]->close_by = now + CLOSE_FLUSH_MS;
				n++;
			}
		plog("stall: over, %d connections relayed again", n);
	}
	for (int i = 0; i < px.nconns; i++) {
		struct conn *c = px.conns[i];

		if (c->closing && !c->dead && !c->frozen && now >= c->close_by)
			conn_close(c, c->why);
	}
}

/* pollfd events for side s of c. */
static short events(const struct conn *c, int s)
{
	short ev = 0;

	if (!c->closing && c->d[s].len == 0)
		ev |= POLLIN;
	if (c->d[!s].off < c->d[!s].len)
		ev |= POLLOUT;
	return ev;
}

static void handle(struct conn *c, const struct pollfd *p)
{
	for (int s = 0; s < 2 && !c->dead; s++) {
		if (p[s].revents & POLLOUT)
			conn_write(c, !s);
		if (!c->dead && (p[s].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    p[s].events & POLLIN)
			conn_read(c, s);
		else if (!c->dead && (p[s].revents & (POLLHUP | POLLERR)))
			conn_closing(c, "%s hung up", side[s]);
	}
}

static void reap(void)
{
	int j = 0;

	for (int i = 0; i < px.nconns; i++) {
		if (px.conns[i]->dead)
			conn_free(px.conns[i]);
		else
			px.conns[j++] = px.conns[i];
	}
	px.nconns = j;
}

static int relay_loop(int lfd)
{
	sigset_t none;

	sigemptyset(&none);
	while (!px.stop) {
		int n = px.nconns, np = 1;
		struct pollfd *p = calloc((size_t)(1 + 2 * n), sizeof(*p));
		struct conn **live = calloc((size_t)n + 1, sizeof(*live));
		struct timespec ts;
		int t = poll_timeout();

		if (!p || !live)
			return 1;
		p[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (int i = 0; i < n; i++) {
			struct conn *c = px.conns[i];

			live[i] = c->frozen || c->dead ? NULL : c;
			for (int s = 0; s < 2; s++)
				p[np++] = (struct pollfd){ .fd = live[i] ? c->fd[s] : -1,
							   .events = live[i] ? events(c, s) : 0 };
		}
		ts = (struct timespec){ .tv_sec = t / 1000, .tv_nsec = (t % 1000) * 1000000L };
		if (ppoll(p, (nfds_t)np, &ts, &none) > 0) {
			if (p[0].revents & POLLIN)
				accept_all(lfd);
			for (int i = 0; i < n; i++)
				if (live[i])
					handle(live[i], &p[1 + 2 * i]);
		}
		free(p);
		free(live);
		timers();
		reap();
	}
	return 0;
}

/* ---- setup ------------------------------------------------------- */

static void on_signal(int sig)
{
	(void)sig;
	px.stop = 1;
}

static int usage(const char *why)
{
	if (why)
		fprintf(stderr, "faultproxy: %s\n", why);
	fprintf(stderr,
		"usage: faultproxy --listen HOST:PORT --to HOST:PORT --fault KIND [--seed N]\n"
		"                  [--after-bytes N | --after-ms N] [--after-resumed] [--stall-ms N]\n"
		"                  [--then-refuse]\n"
		"                  [--port-file FILE] [--log FILE]\n"
		"KIND: none drop-control drop-urgent drop-bulk corrupt corrupt-urgent stall\n"
		"      intrude intrude-silent drop-done stall-done drop-ack drop-resumed\n"
		"      drop-resumed-ack\n");
	return 2;
}

/* A count with an optional K/M/G suffix (powers of 1024). */
static int parse_u64(const char *s, bool suffix, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -1;
	if (suffix && *end) {
		const char *units = "KMG", *u = strchr(units, *end);

		if (!u || end[1])
			return -1;
		v <<= 10 * (u - units + 1);
		end++;
	}
	*out = v;
	return *end ? -1 : 0;
}

static int parse_fault(const char *s)
{
	for (unsigned i = 0; i < sizeof(fault_names) / sizeof(fault_names[0]); i++)
		if (!strcmp(s, fault_names[i])) {
			px.fault = (enum fault)i;
			return 0;
		}
	return -1;
}

static int parse_opts(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "listen", 1, NULL, 'l' }, { "to", 1, NULL, 't' }, { "fault", 1, NULL, 'f' },
		{ "seed", 1, NULL, 's' }, { "after-bytes", 1, NULL, 'b' },
		{ "after-ms", 1, NULL, 'm' }, { "stall-ms", 1, NULL, 'S' },
		{ "after-resumed", 0, NULL, 'r' }, { "then-refuse", 0, NULL, 'R' },
		{ "port-file", 1, NULL, 'p' }, { "log", 1, NULL, 'L' }, { "help", 0, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	bool seeded = false, bytes = false, fault = false;
	int o;

	while ((o = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		int bad = 0;

		switch (o) {
		case 'l': px.listen = optarg; break;
		case 't': px.to = optarg; break;
		case 'f': bad = parse_fault(optarg); fault = true; break;
		case 's': bad = parse_u64(optarg, false, &px.seed); seeded = true; break;
		case 'b': bad = parse_u64(optarg, true, &px.after_bytes); bytes = true; break;
		case 'm': bad = parse_u64(optarg, false, &px.after_ms); px.by_ms = true; break;
		case 'S': bad = parse_u64(optarg, false, &px.stall_ms); break;
		case 'r': px.after_resumed = true; break;
		case 'R': px.then_refuse = true; break;
		case 'p': px.port_file = optarg; break;
		case 'L': px.log_path = optarg; break;
		default: return usage(NULL);
		}
		if (bad)
			return usage("bad option value");
	}
	if (optind < argc || !px.listen || !px.to || !fault)
		return usage(optind < argc ? "unexpected argument" : "--listen, --to and --fault are required");
	if (bytes && px.by_ms)
		return usage("--after-bytes and --after-ms exclude each other");
	px.rng = px.seed = seeded ? px.seed : (uint64_t)time(NULL) ^ (uint64_t)getpid();
	if (!bytes && !px.by_ms)
		px.after_bytes = (1ull << 20) + rnd() % (63ull << 20);
	if (bytes && !px.after_bytes)
		px.after_bytes = 1;
	return 0;
}

static int resolve_upstream(void)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	char host[256], port[8];
	uint16_t p;

	if (net_parse_addr(px.to, host, sizeof(host), &p) || !p)
		return -1;
	snprintf(port, sizeof(port), "%u", p);
	if (getaddrinfo(host, port, &hints, &res))
		return -1;
	memcpy(&px.up, res->ai_addr, res->ai_addrlen);
	px.up_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* Listen and publish the port (written whole, then renamed into place). */
static int start_listening(int *lfd)
{
	char host[256], tmp[4096];
	uint16_t port, bound;
	FILE *f;

	if (net_parse_addr(px.listen, host, sizeof(host), &port) ||
	    net_listen(host, port, lfd, &bound)) {
		fprintf(stderr, "faultproxy: cannot listen on %s\n", px.listen);
		return -1;
	}
	fcntl(*lfd, F_SETFL, fcntl(*lfd, F_GETFL) | O_NONBLOCK);
	plog("faultproxy: listening on %s:%u, relaying to %s", host, bound, px.to);
	if (!px.port_file)
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", px.port_file);
	if (!(f = fopen(tmp, "w")) || fprintf(f, "%u\n", bound) < 0 || fclose(f) ||
	    rename(tmp, px.port_file)) {
		fprintf(stderr, "faultproxy: cannot write %s\n", px.port_file);
		return -1;
	}
	return 0;
}

static void log_plan(void)
{
	if (px.fault == F_NONE)
		plog("faultproxy: fault none (relay only)");
	else if (px.by_ms)
		plog("faultproxy: fault %s, seed %llu, trigger %llu ms after the first control byte",
		     fault_names[px.fault], (unsigned long long)px.seed,
		     (unsigned long long)px.after_ms);
	else
		plog("faultproxy: fault %s, seed %llu, trigger at bulk byte %llu",
		     fault_names[px.fault], (unsigned long long)px.seed,
		     (unsigned long long)px.after_bytes);
	if (px.fault == F_STALL || px.fault == F_STALL_DONE)
		plog("faultproxy: stall %llu ms", (unsigned long long)px.stall_ms);
}

static int summary(void)
{
	for (int i = 0; i < px.nconns; i++)
		conn_close(px.conns[i], "proxy exits");
	reap();
	if (px.intruder >= 0)
		close(px.intruder);
	plog("summary: %d connections, %d generations, source->destination %llu bytes, "
	     "destination->source %llu bytes, fault %s %s", px.next_id - 1, px.gen,
	     (unsigned long long)px.total[0], (unsigned long long)px.total[1],
	     fault_names[px.fault], px.fault == F_NONE ? "(none)" : px.fired ? "fired" : "never fired");
	free(px.conns);
	return px.fault == F_NONE || px.fired ? 0 : 3;
}

static void setup_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	sigset_t block;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, NULL);   /* delivered only inside ppoll */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
	int lfd, rc = parse_opts(argc, argv);

	if (rc)
		return rc;
	px.log = stderr;
	if (px.log_path && !(px.log = fopen(px.log_path, "a"))) {
		fprintf(stderr, "faultproxy: cannot open %s: %s\n", px.log_path, strerror(errno));
		return 1;
	}
	px.t_start = now_ms();
	setup_signals();
	if (resolve_upstream()) {
		fprintf(stderr, "faultproxy: cannot resolve --to %s\n", px.to);
		return 2;
	}
	if (start_listening(&lfd))
		return 1;
	log_plan();
	if (relay_loop(lfd)) {
		plog("faultproxy: out of memory");
		return 1;
	}
	close(lfd);
	return summary();
}
