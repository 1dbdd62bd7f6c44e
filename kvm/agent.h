/* kvm/agent.h - the VMM's ear on a Linux guest's agent.
 *
 * The project's agent (guest/linux/agent.c) prints status lines on the
 * guest's console; the serial port hands every byte the guest transmits
 * here (uart_set_tap), where they are cut into lines and the agent's are
 * parsed with guest/linux/agent.h's agent_parse_line (the line format is
 * agent.c's header comment). What they said is kept for
 * machine_guest_report (vm/machine.h).
 *
 * The bytes are the guest's: a line is bounded (one longer than any the
 * agent writes is dropped whole), a NUL makes a line unparsable, and a
 * line cut by a migration has its head on the source: its tail here has
 * no prefix and is no agent line. Bytes come on vCPU threads, reports are
 * read by any thread: the lock covers both.
 */
#ifndef KVM_AGENT_H
#define KVM_AGENT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest/linux/agent.h"
#include "vm/machine.h"

struct kvm_agent {
	pthread_mutex_t lock;
	char line[AGENT_LINE_MAX + 1];   /* the line being read, NUL room */
	unsigned len;
	bool overlong;                   /* past AGENT_LINE_MAX: dropped at '\n' */
	bool nul;                        /* held a NUL: not parsed */
	bool last_ok;                    /* the last status/done line's checks */
	struct machine_guest_report r;
};

void kvm_agent_init(struct kvm_agent *a);
void kvm_agent_destroy(struct kvm_agent *a);
/* One transmitted byte; a uart_tap_fn (ctx is the struct kvm_agent). */
void kvm_agent_byte(void *ctx, uint8_t c);
/* n bytes at once, as kvm_agent_byte one by one. */
void kvm_agent_feed(struct kvm_agent *a, const void *buf, size_t n);
/* What was read so far (vm/machine.h says what each field means). */
void kvm_agent_report(struct kvm_agent *a, struct machine_guest_report *r);
/* A new stall window: window_gap_us counts from the next status line. */
void kvm_agent_window_reset(struct kvm_agent *a);

#endif
