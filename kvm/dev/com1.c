/* kvm/dev/com1.c - the console: the 16550A model (uart.h) as COM1 on the
 * port I/O bus at 0x3f8, raising IRQ 4 on the in-kernel irqchip, with its
 * registers as the state section KVM_DEV_COM1. Payload guests also reach
 * the same registers through MMIO (guest/pc/pc.h: ring 3 has no ports).
 * A Linux guest's transmitted bytes also go to its agent reader
 * (vm->agent, kvm/agent.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvm/agent.h"
#include "kvm/dev/uart.h"
#include "kvm/vmm.h"

struct com1 {
	struct uart u;
	int vm_fd;
};

static void com1_irq(void *ctx, int level)
{
	struct com1 *c = ctx;

	kvm_dev_irq(c->vm_fd, UART_COM1_IRQ, level);
}

/* The UART's registers are bytes: a wider access is that many byte
 * accesses to consecutive registers, as an ISA bus splits it. */
static void com1_io(void *dev, struct kvm_vcpu *v, uint64_t off, uint8_t *data,
		    unsigned len, int is_write)
{
	struct com1 *c = dev;

	(void)v;
	for (unsigned i = 0; i < len; i++) {
		if (is_write)
			uart_out(&c->u, (unsigned)(off + i), data[i]);
		else
			data[i] = uart_in(&c->u, (unsigned)(off + i));
	}
}

static size_t com1_state_size(void *dev)
{
	(void)dev;
	return sizeof(struct uart_state);
}

static int com1_save(void *dev, void *buf, size_t len)
{
	struct com1 *c = dev;
	struct uart_state s;

	if (len != sizeof(s))
		return -EINVAL;
	uart_save(&c->u, &s);
	memcpy(buf, &s, sizeof(s));
	return 0;
}

static int com1_load(void *dev, uint32_t version, const void *buf, size_t len,
		     char *why, size_t wlen)
{
	struct com1 *c = dev;
	struct uart_state s;

	if (version != UART_STATE_VERSION || len != sizeof(s)) {
		snprintf(why, wlen, "serial port state version %u (%zu bytes), this build reads %u",
			 version, len, UART_STATE_VERSION);
		return -EINVAL;
	}
	memcpy(&s, buf, sizeof(s));
	if (uart_load(&c->u, &s)) {
		snprintf(why, wlen, "the serial port's registers are impossible");
		return -EINVAL;
	}
	return 0;
}

static void com1_destroy(void *dev)
{
	struct com1 *c = dev;

	uart_destroy(&c->u);
	free(c);
}

static const struct kvm_dev_ops com1_ops = {
	.name = "serial port",
	.kind = KVM_DEV_COM1,
	.version = UART_STATE_VERSION,
	.state_size = com1_state_size,
	.save = com1_save,
	.load = com1_load,
	.destroy = com1_destroy,
};

int kvm_com1_add(struct kvm_vm *vm, int out_fd, uint64_t mmio_base)
{
	struct com1 *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->vm_fd = vm->vm_fd;
	uart_init(&c->u, out_fd);
	if ((r = kvm_devs_add(&vm->devs, &com1_ops, c))) {
		com1_destroy(c);
		return r;
	}
	/* Registered: from here the device list owns c. */
	if ((r = kvm_bus_add(&vm->pio, UART_COM1_BASE, UART_NPORTS, com1_io, c)))
		return r;
	if (mmio_base && (r = kvm_bus_add(&vm->mmio, mmio_base, UART_NPORTS, com1_io, c)))
		return r;
	uart_set_irq(&c->u, com1_irq, c);
	if (vm->agent)
		uart_set_tap(&c->u, kvm_agent_byte, vm->agent);
	return 0;
}
