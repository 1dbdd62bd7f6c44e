/* kvm/dev/uart.c - 16550A registers, interrupt rules, loopback and the
 * line-buffered console behind them. */
#include "kvm/dev/uart.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#define IER_RDI   0x01     /* receive data available */
#define IER_THRI  0x02     /* transmitter holding register empty */
#define IER_RLSI  0x04     /* receiver line status */
#define IER_MSI   0x08     /* modem status */
#define IER_MASK  0x0f     /* a 16550A has no more */

#define IIR_NONE  0x01
#define IIR_MSI   0x00
#define IIR_THRI  0x02
#define IIR_RDI   0x04
#define IIR_RLSI  0x06
#define IIR_FIFO  0xc0

#define FCR_ENABLE    0x01
#define FCR_CLEAR_RX  0x02
#define FCR_KEEP      0xc9 /* enable, DMA mode, trigger level */

#define LCR_DLAB  0x80

#define MCR_DTR   0x01
#define MCR_RTS   0x02
#define MCR_OUT1  0x04
#define MCR_OUT2  0x08
#define MCR_LOOP  0x10
#define MCR_MASK  0x1f

#define LSR_DR    0x01
#define LSR_OE    0x02
#define LSR_ERR   0x1e     /* OE, PE, FE, BI: cleared by reading LSR */
#define LSR_THRE  0x20
#define LSR_TEMT  0x40

#define MSR_DCTS  0x01
#define MSR_DDSR  0x02
#define MSR_TERI  0x04
#define MSR_DDCD  0x08
#define MSR_DELTA 0x0f
#define MSR_CTS   0x10
#define MSR_DSR   0x20
#define MSR_RI    0x40
#define MSR_DCD   0x80

/* What the console side drives when not in loopback: a terminal that is
 * there and ready. Linux only looks at these for flow control. */
#define MSR_ATTACHED (MSR_DCD | MSR_DSR | MSR_CTS)

static uint8_t iir_compute(const struct uart_state *s)
{
	uint8_t fifo = s->fcr & FCR_ENABLE ? IIR_FIFO : 0;

	if ((s->ier & IER_RLSI) && (s->lsr & LSR_ERR))
		return fifo | IIR_RLSI;
	if ((s->ier & IER_RDI) && (s->lsr & LSR_DR))
		return fifo | IIR_RDI;
	if ((s->ier & IER_THRI) && s->thre_pending)
		return fifo | IIR_THRI;
	if ((s->ier & IER_MSI) && (s->msr & MSR_DELTA))
		return fifo | IIR_MSI;
	return fifo | IIR_NONE;
}

/* Recompute IIR after any change and tell the engine if the line moved. */
static void irq_update(struct uart *u)
{
	int level;

	u->s.iir = iir_compute(&u->s);
	level = !(u->s.iir & IIR_NONE);
	if (u->irq_fn && level != u->irq_line)
		u->irq_fn(u->irq_ctx, level);
	u->irq_line = level;
}

/* Modem inputs: in loopback the MCR outputs are wired back to them. */
static uint8_t modem_inputs(uint8_t mcr)
{
	if (!(mcr & MCR_LOOP))
		return MSR_ATTACHED;
	return (mcr & MCR_RTS ? MSR_CTS : 0) | (mcr & MCR_DTR ? MSR_DSR : 0) |
	       (mcr & MCR_OUT1 ? MSR_RI : 0) | (mcr & MCR_OUT2 ? MSR_DCD : 0);
}

/* Returns how many bytes the console took. Anything but EINTR ends the
 * attempt: a full non-blocking console or a reader that left must cost
 * the guest output, never time. */
static size_t console_write(int fd, const char *p, size_t n)
{
	size_t done = 0;
	ssize_t w;

	while (done < n) {
		w = write(fd, p + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	return done;
}

static void flush_locked(struct uart *u)
{
	if (!u->len)
		return;
	u->tx_dropped += u->len - console_write(u->out_fd, u->buf, u->len);
	u->len = 0;
}

static void console_put(struct uart *u, uint8_t c)
{
	u->tx_bytes++;
	if (u->tap_fn)
		u->tap_fn(u->tap_ctx, c);
	if (u->out_fd < 0)
		return;
	u->buf[u->len++] = (char)c;
	if (c == '\n' || u->len == sizeof(u->buf))
		flush_locked(u);
}

/* One byte deep: a second byte before the first is read is an overrun,
 * as on a 16550 with its FIFOs off. */
static void loopback_rx(struct uart *u, uint8_t c)
{
	if (u->s.lsr & LSR_DR)
		u->s.lsr |= LSR_OE;
	u->s.rbr = c;
	u->s.lsr |= LSR_DR;
}

static void thr_write(struct uart *u, uint8_t c)
{
	/* Writing THR acknowledges THRE; the line drops before it rises
	 * again so an edge-triggered PIC sees a new interrupt. */
	u->s.thre_pending = 0;
	irq_update(u);
	if (u->s.mcr & MCR_LOOP)
		loopback_rx(u, c);
	else
		console_put(u, c);
	if (u->s.ier & IER_THRI)
		u->s.thre_pending = 1;
}

static void ier_write(struct uart *u, uint8_t val)
{
	uint8_t rose = (val & ~u->s.ier) & IER_THRI;

	u->s.ier = val & IER_MASK;
	/* Enabling THRI with THR empty raises THRE even if it was already
	 * acknowledged: not in the datasheet, but real parts do it, Linux
	 * tests for it at startup (UART_BUG_THRE) and Windows relies on it. */
	if (rose)
		u->s.thre_pending = 1;
	else if (!(u->s.ier & IER_THRI))
		u->s.thre_pending = 0;
}

static void fcr_write(struct uart *u, uint8_t val)
{
	/* Other bits only take with the enable bit; turning FIFOs on or off
	 * empties them, and an empty receive FIFO means no data ready. */
	if (!(val & FCR_ENABLE)) {
		if (u->s.fcr & FCR_ENABLE)
			u->s.lsr &= ~LSR_DR;
		u->s.fcr = 0;
		return;
	}
	if (!(u->s.fcr & FCR_ENABLE) || (val & FCR_CLEAR_RX))
		u->s.lsr &= ~LSR_DR;
	u->s.fcr = val & FCR_KEEP;
}

static void mcr_write(struct uart *u, uint8_t val)
{
	uint8_t old = u->s.msr & ~MSR_DELTA, now, chg, delta;

	u->s.mcr = val & MCR_MASK;
	now = modem_inputs(u->s.mcr);
	chg = old ^ now;
	delta = (chg & MSR_CTS ? MSR_DCTS : 0) | (chg & MSR_DSR ? MSR_DDSR : 0) |
		(chg & MSR_DCD ? MSR_DDCD : 0) |
		((old & MSR_RI) && !(now & MSR_RI) ? MSR_TERI : 0);
	u->s.msr = now | (u->s.msr & MSR_DELTA) | delta;
}

void uart_init(struct uart *u, int out_fd)
{
	memset(u, 0, sizeof(*u));
	u->out_fd = out_fd;
	pthread_mutex_init(&u->lock, NULL);
	u->s.version = UART_STATE_VERSION;
	u->s.lsr = LSR_THRE | LSR_TEMT;
	u->s.msr = MSR_ATTACHED;
	/* The divisor is undefined at reset; 12 is 9600 baud, what a PC
	 * BIOS leaves and what QEMU resets to. */
	u->s.dll = 0x0c;
	u->s.iir = iir_compute(&u->s);
}

void uart_destroy(struct uart *u)
{
	uart_flush(u);
	pthread_mutex_destroy(&u->lock);
}

void uart_set_irq(struct uart *u, uart_irq_fn *fn, void *ctx)
{
	pthread_mutex_lock(&u->lock);
	u->irq_fn = fn;
	u->irq_ctx = ctx;
	u->irq_line = !(u->s.iir & IIR_NONE);
	if (fn)
		fn(ctx, u->irq_line);
	pthread_mutex_unlock(&u->lock);
}

void uart_set_tap(struct uart *u, uart_tap_fn *fn, void *ctx)
{
	pthread_mutex_lock(&u->lock);
	u->tap_fn = fn;
	u->tap_ctx = ctx;
	pthread_mutex_unlock(&u->lock);
}

static void out_locked(struct uart *u, unsigned off, uint8_t val)
{
	bool dlab = u->s.lcr & LCR_DLAB;

	switch (off) {
	case 0:
		if (dlab)
			u->s.dll = val;
		else
			thr_write(u, val);
		break;
	case 1:
		if (dlab)
			u->s.dlm = val;
		else
			ier_write(u, val);
		break;
	case 2:
		fcr_write(u, val);
		break;
	case 3:
		u->s.lcr = val;
		break;
	case 4:
		mcr_write(u, val);
		break;
	case 7:
		u->s.scr = val;
		break;
	}
	/* 5 and 6 (LSR, MSR) are read-only; a write is a factory test. */
}

void uart_out(struct uart *u, unsigned off, uint8_t val)
{
	if (off >= UART_NPORTS)
		return;
	pthread_mutex_lock(&u->lock);
	out_locked(u, off, val);
	irq_update(u);
	pthread_mutex_unlock(&u->lock);
}

/* Reads have side effects: they acknowledge what they report. */
static uint8_t in_locked(struct uart *u, unsigned off)
{
	bool dlab = u->s.lcr & LCR_DLAB;
	uint8_t v;

	switch (off) {
	case 0:
		if (dlab)
			return u->s.dll;
		u->s.lsr &= ~LSR_DR;
		return u->s.rbr;
	case 1:
		return dlab ? u->s.dlm : u->s.ier;
	case 2:
		v = u->s.iir;
		if ((v & ~IIR_FIFO) == IIR_THRI)
			u->s.thre_pending = 0;
		return v;
	case 3:
		return u->s.lcr;
	case 4:
		return u->s.mcr;
	case 5:
		v = u->s.lsr;
		u->s.lsr &= ~LSR_ERR;
		return v;
	case 6:
		v = u->s.msr;
		u->s.msr &= ~MSR_DELTA;
		return v;
	default:
		return u->s.scr;
	}
}

uint8_t uart_in(struct uart *u, unsigned off)
{
	uint8_t v;

	if (off >= UART_NPORTS)
		return 0xff;
	pthread_mutex_lock(&u->lock);
	v = in_locked(u, off);
	irq_update(u);
	pthread_mutex_unlock(&u->lock);
	return v;
}

int uart_irq_level(struct uart *u)
{
	int level;

	pthread_mutex_lock(&u->lock);
	level = !(u->s.iir & IIR_NONE);
	pthread_mutex_unlock(&u->lock);
	return level;
}

void uart_flush(struct uart *u)
{
	pthread_mutex_lock(&u->lock);
	flush_locked(u);
	pthread_mutex_unlock(&u->lock);
}

void uart_save(struct uart *u, struct uart_state *s)
{
	pthread_mutex_lock(&u->lock);
	flush_locked(u);
	*s = u->s;
	pthread_mutex_unlock(&u->lock);
}

/* Could this code have written s? Every field is checked against what
 * the register writes above can produce. */
static bool state_valid(const struct uart_state *s)
{
	static const uint8_t zero[sizeof(s->pad)];

	if (s->version != UART_STATE_VERSION || memcmp(s->pad, zero, sizeof(zero)))
		return false;
	if ((s->ier & ~IER_MASK) || (s->mcr & ~MCR_MASK))
		return false;
	if ((s->fcr & ~FCR_KEEP) || (s->fcr && !(s->fcr & FCR_ENABLE)))
		return false;
	/* THR is always empty; only loopback sets DR and OE. */
	if ((s->lsr & ~(LSR_DR | LSR_OE)) != (LSR_THRE | LSR_TEMT))
		return false;
	if ((s->msr & ~MSR_DELTA) != modem_inputs(s->mcr))
		return false;
	if (s->thre_pending > 1 || (s->thre_pending && !(s->ier & IER_THRI)))
		return false;
	return s->iir == iir_compute(s);
}

int uart_load(struct uart *u, const struct uart_state *s)
{
	if (!state_valid(s))
		return -EINVAL;
	pthread_mutex_lock(&u->lock);
	flush_locked(u);
	u->s = *s;
	irq_update(u);
	pthread_mutex_unlock(&u->lock);
	return 0;
}
