/* guest/workload.c - workload registry, parameters, boot and dispatch to
 * the workloads (which call only guest/common.c back).
 *
 * Freestanding: no libc calls (only <stdint.h> and errno numbers).
 */
#include "guest/internal.h"
#include "guest/rng.h"

static const char *const wl_names[WL_MAX + 1] = {
	[WL_IDLE] = "idle",
	[WL_SWEEP] = "sweep",
	[WL_KV] = "kv",
};

static int str_eq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

uint32_t wl_lookup(const char *name)
{
	if (!name)
		return 0;
	for (uint32_t id = 1; id <= WL_MAX; id++)
		if (str_eq(name, wl_names[id]))
			return id;
	return 0;
}

const char *wl_name(uint32_t id)
{
	return id >= 1 && id <= WL_MAX ? wl_names[id] : 0;
}

static int bad(const char **why, const char *msg)
{
	*why = msg;
	return -EINVAL;
}

int wl_params_fix(struct wl_params *p, uint64_t ram_size, unsigned nvcpus,
		  const char **why)
{
	const char *dummy;
	uint64_t data, slice;

	if (!why)
		why = &dummy;
	*why = 0;
	if (p->workload < 1 || p->workload > WL_MAX)
		return bad(why, "unknown workload (use idle, sweep or kv)");
	if (nvcpus < 1 || nvcpus > GUEST_MAX_VCPUS)
		return bad(why, "vCPU count must be between 1 and 64");
	if (ram_size % GUEST_PAGE)
		return bad(why, "--mem must be a multiple of 4 KiB");
	if (ram_size < GUEST_DATA_OFF + GUEST_PAGE)
		return bad(why, "--mem too small: the first 2 MiB are the boot page, stats and firmware");
	if (p->write_permille > 1000)
		return bad(why, "--write-permille must be at most 1000");
	if (p->kv_put_permille > 1000)
		return bad(why, "--put-permille must be at most 1000");

	data = ram_size - GUEST_DATA_OFF;
	if (!p->working_set)
		p->working_set = data;
	if (p->working_set > data)
		return bad(why, "--working-set larger than the data area (--mem minus 2 MiB)");
	slice = wl_slice_bytes(p, nvcpus);

	switch (p->workload) {
	case WL_IDLE:
		break;
	case WL_SWEEP:
		if (!p->write_permille)
			p->write_permille = 500;
		if (slice < GUEST_MIN_PAGES * GUEST_PAGE)
			return bad(why, p->working_set == data
				   ? "--mem too small for this many vCPUs of sweep (4 data pages per vCPU)"
				   : "--working-set too small for this many vCPUs of sweep (4 pages per vCPU)");
		break;
	case WL_KV: {
		uint64_t cap;

		if (!p->kv_value_size)
			p->kv_value_size = 128;
		if (p->kv_value_size % 8 || p->kv_value_size > 4096)
			return bad(why, "--value-size must be a multiple of 8 between 8 and 4096");
		if (!p->kv_put_permille)
			p->kv_put_permille = 200;
		cap = kv_capacity(slice, p->kv_value_size);
		if (slice < GUEST_MIN_PAGES * GUEST_PAGE || cap < 16)
			return bad(why, p->working_set == data
				   ? "--mem too small for this many vCPUs of kv (each needs a shard of 4 pages and 16 slots)"
				   : "--working-set too small for this many vCPUs of kv (each needs a shard of 4 pages and 16 slots)");
		if (!p->kv_keys)
			p->kv_keys = cap / 2;
		if (p->kv_keys > cap / 8 * 7 || p->kv_keys > 0xffffffffull)
			return bad(why, "--kv-keys too many for a vCPU's shard (at most 7/8 of its slots)");
		break;
	}
	}
	return 0;
}

void wl_boot_write(uint8_t *ram, uint64_t ram_size, unsigned nvcpus,
		   const struct wl_params *p)
{
	struct guest_boot *b = guest_boot_of(ram);

	wl_zero(ram, GUEST_PAGE);
	wl_zero(ram + GUEST_STATS_OFF, GUEST_FW_OFF - GUEST_STATS_OFF);
	b->magic = GUEST_BOOT_MAGIC;
	b->abi_version = GUEST_ABI_VERSION;
	b->nvcpus = nvcpus;
	b->ram_size = ram_size;
	b->params = *p;
	b->stall_epoch = 0;
}

void wl_regs_init(struct wl_regs *r, const struct guest_boot *b, unsigned vcpu)
{
	wl_zero(r, sizeof(*r));
	r->workload = b->params.workload;
	r->vcpu = vcpu;
	rng_seed(r->rng, b->params.seed, vcpu);
}

void wl_step(struct guest_cpu *c, struct wl_regs *r)
{
	const struct guest_boot *b = guest_boot_of(c->ram);

	/* A boot page that is not ours (memory gone: a VM being discarded
	 * whose missing pages now read as zero) stops the guest here rather
	 * than letting it divide by a zero vCPU count. */
	if (b->magic != GUEST_BOOT_MAGIC || b->nvcpus == 0) {
		c->ops->idle(c->ctx, GUEST_MS);
		return;
	}
	switch (r->workload) {
	case WL_IDLE:
		idle_step(c, r);
		break;
	case WL_SWEEP:
		sweep_step(c, r);
		break;
	case WL_KV:
		kv_step(c, r);
		break;
	default:
		/* No such workload: halt politely. */
		c->ops->idle(c->ctx, GUEST_MS);
		break;
	}
}

int wl_check(const uint8_t *ram, uint64_t ram_size, char *why, unsigned whylen)
{
	return wl_check_sparse(ram, ram_size, 0, why, whylen);
}

int wl_check_sparse(const uint8_t *ram, uint64_t ram_size, const struct wl_holes *holes,
		    char *why, unsigned whylen)
{
	struct wl_why w = { why, whylen, 0 };
	const struct guest_boot *b = (const struct guest_boot *)ram;
	struct wl_params p;
	const char *pwhy = 0;

	if (why && whylen)
		why[0] = 0;
	if (ram_size < GUEST_DATA_OFF) {
		why_str(&w, "RAM smaller than the boot and stats area");
		return -EBADMSG;
	}
	if (b->magic != GUEST_BOOT_MAGIC || b->abi_version != GUEST_ABI_VERSION) {
		why_str(&w, "boot page: bad magic or ABI version");
		return -EBADMSG;
	}
	if (b->ram_size != ram_size || b->nvcpus < 1 || b->nvcpus > GUEST_MAX_VCPUS) {
		why_str(&w, "boot page: RAM size or vCPU count does not match");
		return -EBADMSG;
	}
	p = b->params;
	if (wl_params_fix(&p, ram_size, b->nvcpus, &pwhy)) {
		why_str(&w, "boot page params: ");
		why_str(&w, pwhy);
		return -EBADMSG;
	}
	switch (p.workload) {
	case WL_SWEEP:
		return sweep_check(ram, b, holes, &w);
	case WL_KV:
		return kv_check(ram, b, &w);
	default:
		return 0;
	}
}
