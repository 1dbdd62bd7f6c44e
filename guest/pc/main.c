/* guest/pc/main.c - the KVM payload: per-vCPU set-up in ring 0 (IDT,
 * x2APIC timer, serial), then the workload's step loop in ring 3 on the
 * guest_ops below.
 *
 * Runs freestanding in long mode; the VMM has already built the page
 * tables, GDT and TSSs (guest/pc/pc.h). Everything a vCPU keeps lives in
 * this image's bss or in guest RAM, so a migration carries it like any
 * page. Ring 3 reaches the VMM through MMIO (see x86.h for why), idles by
 * asking the VMM to, and reads the clock with rdtsc.
 */
#include "guest/pc/pc.h"
#include "guest/pc/x86.h"
#include "guest/internal.h"

#define COM1        0x3f8
#define MSR_APICBASE 0x1b
#define X2APIC_SVR  0x80f
#define X2APIC_LVTT 0x832
#define X2APIC_TICR 0x838
#define X2APIC_TDCR 0x83e

struct pc_cpu {
	struct guest_cpu cpu;
	struct wl_regs regs;
	uint64_t last_heartbeat;
	uint64_t last_print;
};

static struct pc_cpu cpus[GUEST_MAX_VCPUS];
static uint64_t idt[256 * 2] __attribute__((aligned(16)));
static volatile uint32_t idt_ready;
static uint64_t ns_mult;   /* guest ns = TSC * ns_mult >> 32 */

extern void pc_isr_timer(void);
extern void pc_isr_spurious(void);
extern void pc_enter_user(void (*rip)(unsigned), uint64_t rsp, unsigned arg)
	__attribute__((noreturn));
extern const uint64_t pc_exc_table[32];

static struct pc_info *info(void)
{
	return (struct pc_info *)PC_INFO_OFF;
}

/* ---- serial (polled; set up in ring 0, only vCPU 0 prints, in ring 3) ---- */

static void serial_init(void)
{
	outb(COM1 + 1, 0x00);   /* no UART interrupts */
	outb(COM1 + 3, 0x80);   /* DLAB: 115200 baud */
	outb(COM1 + 0, 0x01);
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03);   /* 8N1 */
	outb(COM1 + 2, 0xc7);   /* FIFOs on, cleared */
	outb(COM1 + 4, 0x03);   /* DTR, RTS */
}

static void serial_putc(char c)
{
	while (!(mmio_read8(PC_MMIO_UART + 5) & 0x20))
		;
	mmio_write8(PC_MMIO_UART, (uint8_t)c);
}

static void serial_puts(const char *s)
{
	while (*s)
		serial_putc(*s++);
}

static void serial_u64(uint64_t v)
{
	char tmp[24];
	struct wl_why w = { tmp, sizeof(tmp), 0 };

	why_u64(&w, v);
	serial_puts(tmp);
}

/* ---- guest_ops ---- */

static uint64_t op_clock(void *ctx)
{
	(void)ctx;
	return (uint64_t)(((unsigned __int128)rdtsc() * ns_mult) >> 32);
}

static void op_heartbeat(void *ctx, uint64_t progress)
{
	struct pc_cpu *p = ctx;
	uint64_t now = op_clock(ctx);

	(void)progress;
	/* An exit per operation would cost more than the operation. */
	if (now - p->last_heartbeat >= info()->heartbeat_us * 1000ull) {
		p->last_heartbeat = now;
		mmio_write32(PC_MMIO_HEARTBEAT, p->cpu.vcpu);
	}
}

static void op_idle(void *ctx, uint64_t ns)
{
	(void)ctx;
	if (ns)
		mmio_write64(PC_MMIO_IDLE, ns);
}

static const struct guest_ops pc_ops = {
	.clock_ns = op_clock,
	.heartbeat = op_heartbeat,
	.idle = op_idle,
};

/* ---- interrupts ---- */

static void idt_set(unsigned vec, uint64_t handler, unsigned dpl)
{
	idt[vec * 2] = (handler & 0xffff) | ((uint64_t)PC_SEL_CODE << 16) |
		       ((0x8eull | dpl << 5) << 40) | ((handler >> 16) & 0xffff) << 48;
	idt[vec * 2 + 1] = handler >> 32;
}

static void idt_build(void)
{
	for (unsigned v = 0; v < 256; v++)
		idt_set(v, (uint64_t)pc_isr_spurious, 0);
	for (unsigned v = 0; v < 32; v++)
		idt_set(v, pc_exc_table[v], 0);
	idt_set(PC_TIMER_VECTOR, (uint64_t)pc_isr_timer, 0);
}

static void idt_load(void)
{
	struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} d = { sizeof(idt) - 1, (uint64_t)idt };

	asm volatile("lidt %0" :: "m"(d));
}

/* Periodic x2APIC timer at timer_hz: its state (LVT, counts, pending
 * interrupts) is what a migration must restore for the tick to go on. */
static void timer_start(const struct pc_info *pi)
{
	wrmsr(MSR_APICBASE, rdmsr(MSR_APICBASE) | (1u << 11) | (1u << 10));
	wrmsr(X2APIC_SVR, 0x100 | PC_SPURIOUS);
	wrmsr(X2APIC_TDCR, 0xb);                      /* divide by 1 */
	wrmsr(X2APIC_LVTT, PC_TIMER_VECTOR | (1u << 17));   /* periodic */
	wrmsr(X2APIC_TICR, pi->apic_hz / pi->timer_hz);
}

/* ---- main ---- */

static void console_status(struct pc_cpu *p, uint64_t now)
{
	const struct guest_vcpu_stats *s = guest_stats_of(p->cpu.ram, 0);

	serial_puts("[");
	serial_u64(now / 1000000000ull);
	serial_puts("s] ops ");
	serial_u64(s->ops);
	serial_puts(" ticks ");
	serial_u64(info()->ticks[0]);
	serial_puts("\n");
}

void pc_main(unsigned vcpu);

/* Ring 3 from here on. */
static void __attribute__((noreturn)) user_main(unsigned vcpu)
{
	struct pc_info *pi = info();
	struct pc_cpu *p = &cpus[vcpu];

	if (vcpu == 0) {
		serial_puts("postcopy-move payload: ");
		serial_u64(pi->nvcpus);
		serial_puts(" vCPUs, workload ");
		serial_puts(wl_name(guest_boot_of(p->cpu.ram)->params.workload));
		serial_puts(", RAM ");
		serial_u64(pi->ram_size >> 20);
		serial_puts(" MiB\n");
	}
	mmio_write32(PC_MMIO_READY, vcpu);
	for (;;) {
		wl_step(&p->cpu, &p->regs);
		if (vcpu == 0 && pi->console_period_ms) {
			uint64_t now = op_clock(p);

			if (now - p->last_print >= pi->console_period_ms * 1000000ull) {
				p->last_print = now;
				console_status(p, now);
			}
		}
	}
}

void pc_main(unsigned vcpu)
{
	struct pc_info *pi = info();
	struct pc_cpu *p = &cpus[vcpu];
	uint8_t *ram = (uint8_t *)PC_LINEAR_VA;

	if (vcpu == 0) {
		ns_mult = (1000000ull << 32) / pi->tsc_khz;
		idt_build();
		outb(0x21, 0xff);   /* the PIC stays masked: the LAPIC ticks */
		outb(0xa1, 0xff);
		serial_init();
		__atomic_store_n(&idt_ready, 1, __ATOMIC_RELEASE);
	}
	while (!__atomic_load_n(&idt_ready, __ATOMIC_ACQUIRE))
		asm volatile("pause");
	idt_load();
	timer_start(pi);
	p->cpu = (struct guest_cpu){
		.ram = ram,
		.ram_size = pi->ram_size,
		.vcpu = vcpu,
		.nvcpus = pi->nvcpus,
		.ops = &pc_ops,
		.ctx = p,
	};
	wl_regs_init(&p->regs, guest_boot_of(ram), vcpu);
	/* The top half of the vCPU's stack block is the user stack (this
	 * frame is abandoned); the bottom half takes interrupts (TSS RSP0). */
	pc_enter_user(user_main, PC_STACK_OFF + (vcpu + 1) * PC_STACK_SIZE, vcpu);
}
