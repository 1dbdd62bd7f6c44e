/* kvm/dev/uart.h - the 16550A serial UART behind the guest's console.
 *
 * A pure device model: the KVM engine routes port I/O exits for
 * UART_COM1_BASE..+7 here and drives UART_COM1_IRQ from the line level;
 * nothing in here knows KVM. The transmitter is infinitely fast (a byte
 * written to THR is on its way out at once, so THR is always empty) and
 * nothing is ever received, except what loopback mode sends to itself.
 *
 * Output is line-buffered into out_fd. Write errors drop output instead of
 * stalling the guest; a console that is a pipe or socket whose reader went
 * away raises SIGPIPE, which the process must ignore (cli_signals_block).
 *
 * Port I/O, flush, save and load take the lock, so vCPU threads may call
 * in at once.
 */
#ifndef KVM_UART_H
#define KVM_UART_H

#include <pthread.h>
#include <stdint.h>

#define UART_COM1_BASE 0x3f8
#define UART_COM1_IRQ  4
#define UART_NPORTS    8

#define UART_STATE_VERSION 1

/* Everything a migration must carry: the guest-visible registers. Fixed
 * layout, only uint8_t fields, no pointers: it is copied into a state blob
 * verbatim. iir is derived from the rest and kept current, so a blob whose
 * iir disagrees with its other fields is refused on load. */
struct uart_state {
	uint8_t version;       /* UART_STATE_VERSION */
	uint8_t rbr;           /* last received byte (only loopback receives) */
	uint8_t ier;
	uint8_t iir;
	uint8_t fcr;           /* as written, self-clearing bits dropped */
	uint8_t lcr;
	uint8_t mcr;
	uint8_t lsr;
	uint8_t msr;           /* modem inputs (high nibble) and their deltas */
	uint8_t scr;
	uint8_t dll;
	uint8_t dlm;
	uint8_t thre_pending;  /* THRE interrupt raised, not yet acknowledged */
	uint8_t pad[3];        /* zero */
};

_Static_assert(sizeof(struct uart_state) % 8 == 0,
	       "uart_state is copied into blobs in 8-byte units");

/* Called with the UART lock held whenever the line level changes; it must
 * not call back into the UART. */
typedef void uart_irq_fn(void *ctx, int level);
/* Called with the UART lock held for each byte the guest transmits (not
 * what loopback keeps), in order, whether or not a console takes it: a
 * reader of the guest's console lines (kvm/agent.c). It must not call
 * back into the UART. */
typedef void uart_tap_fn(void *ctx, uint8_t c);

struct uart {
	struct uart_state s;
	int out_fd;            /* console: bytes the guest transmits; -1 discards */
	pthread_mutex_t lock;  /* several vCPU threads may do port I/O at once */
	char buf[256];         /* output is line-buffered: flushed at '\n' or when full */
	unsigned len;
	uint64_t tx_bytes;     /* bytes transmitted, loopback not counted */
	uint64_t tx_dropped;   /* of those, bytes the console did not take */
	uart_irq_fn *irq_fn;   /* optional, see uart_set_irq */
	void *irq_ctx;
	int irq_line;          /* level last given to irq_fn */
	uart_tap_fn *tap_fn;   /* optional, see uart_set_tap */
	void *tap_ctx;
};

/* Power-on register values (LSR = THRE|TEMT, IIR = 0x01 no interrupt,
 * MCR = 0, MSR = DCD|DSR|CTS: a terminal is attached). */
void uart_init(struct uart *u, int out_fd);
/* Flushes, destroys the lock; does not close out_fd. */
void uart_destroy(struct uart *u);

/* Report every change of the interrupt line's level to fn, starting with
 * the current level now. Lets the engine drive the line from inside the
 * lock, so two vCPUs cannot deliver their levels out of order; a THR write
 * that acknowledges a pending THRE interrupt shows as a 0-then-1 pulse, a
 * fresh edge for an edge-triggered PIC, as on a real 16550. */
void uart_set_irq(struct uart *u, uart_irq_fn *fn, void *ctx);

/* Give every transmitted byte from now on to fn too (NULL: none). */
void uart_set_tap(struct uart *u, uart_tap_fn *fn, void *ctx);

/* Port I/O at offset off (0..7) from the base; an access outside is ignored
 * (reads return 0xff). DLAB (LCR bit 7) switches offsets 0/1 to DLL/DLM. */
void uart_out(struct uart *u, unsigned off, uint8_t val);
uint8_t uart_in(struct uart *u, unsigned off);

/* Level of the interrupt line the UART drives (1 = asserted), per the 16550
 * priorities: line status (loopback overrun) if IER bit 2; data ready (only
 * in loopback) if IER bit 0; THRE if IER bit 1 and not yet acknowledged by
 * an IIR read or a THR write; modem status if IER bit 3 and MSR deltas.
 * MCR OUT2 does not gate the line (QEMU and kvmtool do not either). */
int uart_irq_level(struct uart *u);

/* Write buffered output to out_fd. */
void uart_flush(struct uart *u);

/* Flushes first: output the guest sent before it left belongs here. */
void uart_save(struct uart *u, struct uart_state *s);
/* -EINVAL, and u unchanged, when the state is not one this code wrote
 * (wrong version, bits a 16550A never holds, fields that disagree). */
int uart_load(struct uart *u, const struct uart_state *s);

#endif
