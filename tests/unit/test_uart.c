/* tests/unit/test_uart.c - the 16550A model: reset values, DLAB, the
 * line-buffered console, THRE interrupt rules, loopback, save/load and
 * several vCPU threads writing at once. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "kvm/dev/uart.h"

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2,
       LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

/* A pipe whose read end never blocks, so "nothing written yet" is a read
 * that finds nothing. */
static void pipe_open(int fd[2])
{
	assert_int_equal(pipe2(fd, O_CLOEXEC), 0);
	assert_int_equal(fcntl(fd[0], F_SETFL, O_NONBLOCK), 0);
}

static void pipe_close(int fd[2])
{
	close(fd[0]);
	close(fd[1]);
}

static size_t pipe_drain(int fd, char *buf, size_t max)
{
	ssize_t n = read(fd, buf, max);

	if (n < 0)
		assert_int_equal(errno, EAGAIN);
	return n < 0 ? 0 : (size_t)n;
}

static void put_str(struct uart *u, const char *s)
{
	while (*s)
		uart_out(u, THR, (uint8_t)*s++);
}

struct irq_log {
	int level[64];
	int n;
};

static void irq_record(void *ctx, int level)
{
	struct irq_log *l = ctx;

	if (l->n < 64)
		l->level[l->n++] = level;
}

static void test_reset(void **st)
{
	struct uart u;

	(void)st;
	uart_init(&u, -1);
	assert_int_equal(uart_in(&u, IER), 0x00);
	assert_int_equal(uart_in(&u, IIR), 0x01);
	assert_int_equal(uart_in(&u, LCR), 0x00);
	assert_int_equal(uart_in(&u, MCR), 0x00);
	assert_int_equal(uart_in(&u, LSR), 0x60);
	assert_int_equal(uart_in(&u, MSR), 0xb0);
	assert_int_equal(uart_in(&u, SCR), 0x00);
	assert_int_equal(uart_in(&u, RBR), 0x00);
	assert_int_equal(uart_irq_level(&u), 0);
	assert_int_equal(u.s.version, UART_STATE_VERSION);
	assert_int_equal(sizeof(u.s) % 8, 0);

	/* Outside the eight ports: reads float high, writes go nowhere. */
	assert_int_equal(uart_in(&u, UART_NPORTS), 0xff);
	assert_int_equal(uart_in(&u, 1000), 0xff);
	uart_out(&u, UART_NPORTS, 'x');
	uart_out(&u, UART_NPORTS + 7, 0x55);
	assert_int_equal(uart_in(&u, SCR), 0x00);
	assert_int_equal(u.tx_bytes, 0);
	uart_destroy(&u);
}

static void test_dlab(void **st)
{
	struct uart u;

	(void)st;
	uart_init(&u, -1);
	uart_out(&u, LCR, 0x83);
	assert_int_equal(uart_in(&u, DLL), 0x0c);       /* 9600 baud at reset */
	uart_out(&u, DLL, 0x01);
	uart_out(&u, DLM, 0x02);
	assert_int_equal(uart_in(&u, DLL), 0x01);
	assert_int_equal(uart_in(&u, DLM), 0x02);
	assert_int_equal(u.tx_bytes, 0);                 /* DLL is not THR */
	assert_int_equal(uart_in(&u, LCR), 0x83);

	uart_out(&u, LCR, 0x03);
	assert_int_equal(uart_in(&u, IER), 0x00);        /* DLM was not IER */
	uart_out(&u, IER, 0x05);
	uart_out(&u, THR, 'x');
	assert_int_equal(u.tx_bytes, 1);
	assert_int_equal(uart_in(&u, IER), 0x05);

	uart_out(&u, LCR, 0x83);
	assert_int_equal(uart_in(&u, DLL), 0x01);        /* neither touched */
	assert_int_equal(uart_in(&u, DLM), 0x02);
	uart_destroy(&u);
}

static void test_line_buffered(void **st)
{
	char got[64];
	struct uart u;
	int fd[2];

	(void)st;
	pipe_open(fd);
	uart_init(&u, fd[1]);
	put_str(&u, "hello");
	assert_int_equal(u.tx_bytes, 5);
	assert_int_equal(pipe_drain(fd[0], got, sizeof(got)), 0);
	assert_int_equal(uart_in(&u, LSR) & 0x60, 0x60);  /* never busy */
	uart_out(&u, THR, '\n');
	assert_int_equal(pipe_drain(fd[0], got, sizeof(got)), 6);
	assert_memory_equal(got, "hello\n", 6);

	put_str(&u, "abc");
	uart_flush(&u);
	assert_int_equal(pipe_drain(fd[0], got, sizeof(got)), 3);
	assert_memory_equal(got, "abc", 3);
	uart_flush(&u);                                   /* nothing left */
	assert_int_equal(pipe_drain(fd[0], got, sizeof(got)), 0);

	put_str(&u, "tail");
	uart_destroy(&u);                                 /* flushes */
	assert_int_equal(pipe_drain(fd[0], got, sizeof(got)), 4);
	assert_memory_equal(got, "tail", 4);
	assert_int_equal(u.tx_bytes, 13);
	assert_int_equal(u.tx_dropped, 0);
	pipe_close(fd);
}

static void test_flush_when_full(void **st)
{
	char got[1024];
	struct uart u;
	size_t cap = sizeof(u.buf), i;
	int fd[2];

	(void)st;
	pipe_open(fd);
	uart_init(&u, fd[1]);
	for (i = 0; i < cap - 1; i++)
		uart_out(&u, THR, 'a' + i % 26);
	assert_int_equal(pipe_drain(fd[0], got, sizeof(got)), 0);
	uart_out(&u, THR, '#');
	assert_int_equal(pipe_drain(fd[0], got, sizeof(got)), cap);
	for (i = 0; i < cap - 1; i++)
		assert_int_equal(got[i], 'a' + i % 26);
	assert_int_equal(got[cap - 1], '#');
	uart_out(&u, THR, 'z');                           /* starts afresh */
	assert_int_equal(pipe_drain(fd[0], got, sizeof(got)), 0);
	uart_destroy(&u);
	assert_int_equal(pipe_drain(fd[0], got, sizeof(got)), 1);
	pipe_close(fd);
}

/* A console that is full or gone costs output, never a stuck vCPU. */
static void test_console_trouble(void **st)
{
	struct uart u;
	int fd[2], i;

	(void)st;
	alarm(10);                       /* a console that spins kills us */
	signal(SIGPIPE, SIG_IGN);        /* as cli_signals_block does */
	assert_int_equal(pipe2(fd, O_CLOEXEC | O_NONBLOCK), 0);
	assert_true(fcntl(fd[1], F_SETPIPE_SZ, 4096) > 0);
	uart_init(&u, fd[1]);
	for (i = 0; i < 100000; i++)
		uart_out(&u, THR, i % 64 == 63 ? '\n' : '.');
	assert_int_equal(u.tx_bytes, 100000);
	assert_true(u.tx_dropped > 0 && u.tx_dropped < 100000);
	close(fd[0]);                    /* reader went away: EPIPE */
	put_str(&u, "lost\n");
	assert_int_equal(u.tx_bytes, 100005);
	assert_int_equal(uart_in(&u, LSR), 0x60);
	uart_destroy(&u);
	close(fd[1]);

	uart_init(&u, -1);               /* no console: counted, discarded */
	put_str(&u, "void\n");
	assert_int_equal(u.tx_bytes, 5);
	uart_destroy(&u);
	alarm(0);
}

static void test_thre_irq(void **st)
{
	struct irq_log log = { .n = 0 };
	struct uart u;

	(void)st;
	uart_init(&u, -1);
	uart_set_irq(&u, irq_record, &log);
	assert_int_equal(log.n, 1);
	assert_int_equal(log.level[0], 0);

	uart_out(&u, IER, 0x02);
	assert_int_equal(uart_irq_level(&u), 1);
	assert_int_equal(log.n, 2);
	assert_int_equal(log.level[1], 1);

	/* IIR read acknowledges; a second read sees nothing. */
	assert_int_equal(uart_in(&u, IIR), 0x02);
	assert_int_equal(uart_irq_level(&u), 0);
	assert_int_equal(uart_in(&u, IIR), 0x01);
	assert_int_equal(log.n, 3);
	assert_int_equal(log.level[2], 0);

	/* The byte leaves at once: THRE again. */
	uart_out(&u, THR, 'a');
	assert_int_equal(uart_irq_level(&u), 1);
	assert_int_equal(log.n, 4);
	assert_int_equal(log.level[3], 1);

	/* A write while THRE is pending acknowledges it too: the line
	 * drops and rises again, a fresh edge. */
	uart_out(&u, THR, 'b');
	assert_int_equal(uart_irq_level(&u), 1);
	assert_int_equal(log.n, 6);
	assert_int_equal(log.level[4], 0);
	assert_int_equal(log.level[5], 1);

	/* Masked: no interrupt, and no stale one when unmasked... */
	uart_out(&u, IER, 0x00);
	assert_int_equal(uart_irq_level(&u), 0);
	uart_out(&u, THR, 'c');
	assert_int_equal(uart_irq_level(&u), 0);
	assert_int_equal(uart_in(&u, IIR), 0x01);
	/* ...but enabling THRI with THR empty raises it (Linux's THRE test). */
	uart_out(&u, IER, 0x02);
	assert_int_equal(uart_in(&u, IIR), 0x02);
	uart_out(&u, IER, 0x02);          /* no rising edge: stays acknowledged */
	assert_int_equal(uart_in(&u, IIR), 0x01);
	assert_int_equal(u.tx_bytes, 3);
	uart_destroy(&u);
}

static void test_loopback(void **st)
{
	char got[16];
	struct uart u;
	int fd[2];

	(void)st;
	pipe_open(fd);
	uart_init(&u, fd[1]);
	/* Linux's probe: RTS|OUT2 in loopback must read back CTS|DCD. */
	uart_out(&u, MCR, 0x10 | 0x0a);
	assert_int_equal(uart_in(&u, MSR) & 0xf0, 0x90);
	uart_out(&u, MCR, 0x10 | 0x05);                   /* DTR|OUT1 */
	assert_int_equal(uart_in(&u, MSR) & 0xf0, 0x60);

	uart_out(&u, THR, 'Z');
	uart_out(&u, THR, '\n');
	uart_flush(&u);
	assert_int_equal(pipe_drain(fd[0], got, sizeof(got)), 0);
	assert_int_equal(u.tx_bytes, 0);
	/* Two bytes unread: the second overran the first. */
	assert_int_equal(uart_in(&u, LSR), 0x63);
	assert_int_equal(uart_in(&u, LSR), 0x61);         /* OE read-cleared */
	assert_int_equal(uart_in(&u, RBR), '\n');
	assert_int_equal(uart_in(&u, LSR), 0x60);

	/* Received data interrupts like on the real part. */
	uart_out(&u, IER, 0x01);
	assert_int_equal(uart_irq_level(&u), 0);
	uart_out(&u, THR, 'Q');
	assert_int_equal(uart_irq_level(&u), 1);
	assert_int_equal(uart_in(&u, IIR), 0x04);
	assert_int_equal(uart_in(&u, RBR), 'Q');
	assert_int_equal(uart_irq_level(&u), 0);

	/* Out of loopback the console gets bytes again; MSR shows the
	 * terminal, with deltas for the lines that moved. */
	uart_out(&u, IER, 0x00);
	uart_out(&u, MCR, 0x03);
	assert_int_equal(uart_in(&u, MSR), 0xb0 | 0x01 | 0x04 | 0x08);
	assert_int_equal(uart_in(&u, MSR), 0xb0);
	put_str(&u, "ok\n");
	assert_int_equal(pipe_drain(fd[0], got, sizeof(got)), 3);
	assert_memory_equal(got, "ok\n", 3);
	assert_int_equal(uart_in(&u, LSR), 0x60);
	uart_destroy(&u);
	pipe_close(fd);
}

/* The registers Linux's 8250 autoconfig looks at to call this a 16550A. */
static void test_probe_16550a(void **st)
{
	struct uart u;

	(void)st;
	uart_init(&u, -1);
	uart_out(&u, SCR, 0xa5);
	assert_int_equal(uart_in(&u, SCR), 0xa5);
	uart_out(&u, SCR, 0x5a);
	assert_int_equal(uart_in(&u, SCR), 0x5a);
	uart_out(&u, IER, 0xff);
	assert_int_equal(uart_in(&u, IER), 0x0f);         /* no UUE, no 16750 */
	uart_out(&u, IER, 0x00);

	uart_out(&u, FCR, 0x01);
	assert_int_equal(uart_in(&u, IIR), 0xc1);
	uart_out(&u, FCR, 0xc7);                          /* clear bits self-clear */
	assert_int_equal(u.s.fcr, 0xc1);
	/* The 16750 test: bit 5 with DLAB set must not stick. */
	uart_out(&u, LCR, 0x80);
	uart_out(&u, FCR, 0x21);
	assert_int_equal(uart_in(&u, IIR) >> 5, 6);
	uart_out(&u, LCR, 0x00);
	assert_int_equal(uart_in(&u, IIR) >> 5, 6);
	/* Without the enable bit nothing else takes. */
	uart_out(&u, FCR, 0xc0);
	assert_int_equal(uart_in(&u, IIR), 0x01);
	assert_int_equal(u.s.fcr, 0x00);
	uart_destroy(&u);
}

/* Registers in every interesting place: divisor, FIFOs, loopback with an
 * overrun, all interrupts enabled and pending, modem deltas. */
static void busy_state(struct uart *u)
{
	uart_out(u, LCR, 0x83);
	uart_out(u, DLL, 0x01);
	uart_out(u, DLM, 0x00);
	uart_out(u, LCR, 0x1b);
	uart_out(u, SCR, 0x5a);
	uart_out(u, FCR, 0xc1);
	uart_out(u, MCR, 0x15);            /* loop, OUT1, DTR */
	uart_out(u, IER, 0x0f);
	uart_out(u, THR, 'A');
	uart_out(u, THR, 'B');
}

static void test_save_load(void **st)
{
	static const unsigned seq[] = { IIR, LSR, IIR, RBR, IIR, IIR, IIR,
					MSR, IIR, LSR, IER, LCR, MCR, SCR, RBR };
	struct irq_log log = { .n = 0 };
	struct uart_state sa, sb;
	struct uart a, b;
	size_t i;

	(void)st;
	uart_init(&a, -1);
	uart_init(&b, -1);
	busy_state(&a);
	uart_set_irq(&b, irq_record, &log);
	uart_save(&a, &sa);
	assert_int_equal(uart_load(&b, &sa), 0);
	uart_save(&b, &sb);
	assert_memory_equal(&sa, &sb, sizeof(sa));
	assert_int_equal(log.n, 2);                       /* load raised the line */
	assert_int_equal(log.level[1], 1);

	/* Same reads, same answers, same line, down the priority chain. */
	for (i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		uint8_t va = uart_in(&a, seq[i]), vb = uart_in(&b, seq[i]);

		assert_int_equal(va, vb);
		assert_int_equal(uart_irq_level(&a), uart_irq_level(&b));
		if (i == 0)
			assert_int_equal(va, 0xc6);       /* line status (OE) */
		if (i == 2)
			assert_int_equal(va, 0xc4);       /* data ready */
		if (i == 3)
			assert_int_equal(va, 'B');
		if (i == 4)
			assert_int_equal(va, 0xc2);       /* THRE survived */
		if (i == 6)
			assert_int_equal(va, 0xc0);       /* modem status */
	}
	assert_int_equal(uart_irq_level(&b), 0);
	uart_out(&a, THR, 'C');
	uart_out(&b, THR, 'C');
	uart_save(&a, &sa);
	uart_save(&b, &sb);
	assert_memory_equal(&sa, &sb, sizeof(sa));
	uart_destroy(&a);
	uart_destroy(&b);
}

static void expect_refused(struct uart *u, const struct uart_state *s)
{
	struct uart_state before, after;

	uart_save(u, &before);
	assert_int_equal(uart_load(u, s), -EINVAL);
	uart_save(u, &after);
	assert_memory_equal(&before, &after, sizeof(before));
}

static void test_load_refuses(void **st)
{
	struct uart_state good, s;
	struct uart u, v;

	(void)st;
	uart_init(&u, -1);
	busy_state(&u);
	uart_save(&u, &good);
	uart_init(&v, -1);
	uart_out(&v, SCR, 0x77);

	s = good, s.version = 2;
	expect_refused(&v, &s);
	s = good, s.version = 0;
	expect_refused(&v, &s);
	s = good, s.iir |= 0x10;                          /* reserved IIR bits */
	expect_refused(&v, &s);
	s = good, s.iir = 0xc2;                           /* hides the overrun */
	expect_refused(&v, &s);
	s = good, s.pad[2] = 1;
	expect_refused(&v, &s);
	s = good, s.ier |= 0x40;
	expect_refused(&v, &s);
	s = good, s.lsr &= ~0x20;                         /* THR never busy */
	expect_refused(&v, &s);
	s = good, s.msr ^= 0x80;                          /* DCD is OUT2 in loop */
	expect_refused(&v, &s);
	s = good, s.fcr = 0x40;                           /* trigger without enable */
	expect_refused(&v, &s);
	s = good, s.thre_pending = 2;
	expect_refused(&v, &s);

	assert_int_equal(uart_in(&v, SCR), 0x77);
	assert_int_equal(uart_load(&v, &good), 0);
	assert_int_equal(uart_in(&v, SCR), 0x5a);
	uart_destroy(&u);
	uart_destroy(&v);
}

#define WRITERS   4
#define LINES     5000
#define LINE_LEN  40          /* 39 letters and a newline */

struct writer {
	struct uart *u;
	pthread_barrier_t *go;
	char c;
};

static void *writer_run(void *arg)
{
	struct writer *w = arg;
	int i, j;

	pthread_barrier_wait(w->go);
	for (i = 0; i < LINES; i++) {
		for (j = 0; j < LINE_LEN - 1; j++)
			uart_out(w->u, THR, w->c);
		uart_out(w->u, THR, '\n');
	}
	return NULL;
}

struct reader {
	int fd;
	uint64_t count[256];
};

static void *reader_run(void *arg)
{
	struct reader *r = arg;
	unsigned char buf[4096];
	ssize_t n, i;

	while ((n = read(r->fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		for (i = 0; i < n; i++)
			r->count[buf[i]]++;
	}
	return NULL;
}

static void test_concurrent_writers(void **st)
{
	struct writer w[WRITERS];
	struct reader r = { .fd = -1 };
	pthread_t wt[WRITERS], rt;
	pthread_barrier_t go;
	uint64_t total = 0;
	struct uart u;
	int fd[2], k, c;

	(void)st;
	assert_int_equal(pipe2(fd, O_CLOEXEC), 0);
	r.fd = fd[0];
	assert_int_equal(pthread_create(&rt, NULL, reader_run, &r), 0);
	uart_init(&u, fd[1]);
	assert_int_equal(pthread_barrier_init(&go, NULL, WRITERS), 0);
	for (k = 0; k < WRITERS; k++) {
		w[k] = (struct writer){ .u = &u, .go = &go, .c = 'a' + k };
		assert_int_equal(pthread_create(&wt[k], NULL, writer_run, &w[k]), 0);
	}
	for (k = 0; k < WRITERS; k++)
		assert_int_equal(pthread_join(wt[k], NULL), 0);
	uart_destroy(&u);
	close(fd[1]);
	assert_int_equal(pthread_join(rt, NULL), 0);
	close(fd[0]);
	pthread_barrier_destroy(&go);

	assert_int_equal(u.tx_bytes, WRITERS * LINES * LINE_LEN);
	assert_int_equal(u.tx_dropped, 0);
	for (c = 0; c < 256; c++)
		total += r.count[c];
	assert_int_equal(total, WRITERS * LINES * LINE_LEN);
	for (k = 0; k < WRITERS; k++)
		assert_int_equal(r.count['a' + k], LINES * (LINE_LEN - 1));
	assert_int_equal(r.count['\n'], WRITERS * LINES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_dlab),
		cmocka_unit_test(test_line_buffered),
		cmocka_unit_test(test_flush_when_full),
		cmocka_unit_test(test_console_trouble),
		cmocka_unit_test(test_thre_irq),
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_probe_16550a),
		cmocka_unit_test(test_save_load),
		cmocka_unit_test(test_load_refuses),
		cmocka_unit_test(test_concurrent_writers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
