/* snap/meta.c - a snapshot's description of its VM: taken from a machine,
 * checked, and given back as a machine_config for the restore. */
#include <errno.h>
#include <string.h>

#include "snap/meta.h"

/* Copy s into dst[n]; -ENAMETOOLONG rather than a cut path, which would
 * name another file. NULL is "". */
static int put_str(char *dst, size_t n, const char *s)
{
	size_t l = s ? strlen(s) : 0;

	if (l >= n)
		return -ENAMETOOLONG;
	memcpy(dst, s ? s : "", l);
	dst[l] = 0;
	return 0;
}

static int from_linux(const struct machine_linux *lx, struct snap_meta *m)
{
	int r;

	if (lx->ndisks > MACHINE_MAX_DISKS)
		return -EINVAL;
	if ((r = put_str(m->kernel, sizeof(m->kernel), lx->kernel)) ||
	    (r = put_str(m->initrd, sizeof(m->initrd), lx->initrd)) ||
	    (r = put_str(m->cmdline, sizeof(m->cmdline), lx->cmdline)))
		return r;
	m->ndisks = lx->ndisks;
	for (unsigned i = 0; i < lx->ndisks; i++) {
		r = put_str(m->disks[i].path, sizeof(m->disks[i].path), lx->disks[i].path);
		if (r)
			return r;
		m->disks[i].read_only = lx->disks[i].read_only != 0;
	}
	return 0;
}

int snap_meta_from_machine(const struct machine *mc, const char *name, struct snap_meta *m)
{
	const struct machine_config *c = machine_config_of(mc);
	const struct machine_region *r;
	unsigned n = machine_regions(mc, &r);
	int err;

	memset(m, 0, sizeof(*m));
	if ((err = put_str(m->name, sizeof(m->name), name)))
		return err;
	m->engine = c->engine;
	m->guest = (uint32_t)c->guest;
	m->guest_abi = GUEST_ABI_VERSION;
	m->vcpus = c->vcpus;
	m->params = c->params;
	if (n > MACHINE_MAX_REGIONS)
		return -EINVAL;
	m->nregions = n;
	for (unsigned i = 0; i < n; i++) {
		m->regions[i].gpa = r[i].gpa;
		m->regions[i].size = r[i].size;
		m->ram_bytes += r[i].size;
	}
	machine_features(mc, m->features);
	if (c->guest == MACHINE_GUEST_LINUX && (err = from_linux(&c->lx, m)))
		return err;
	return snap_meta_check(m);
}

static const char *or_null(const char *s)
{
	return s[0] ? s : NULL;
}

void snap_meta_config(const struct snap_meta *m, struct machine_config *c)
{
	memset(c, 0, sizeof(*c));
	c->engine = m->engine;
	c->guest = (enum machine_guest)m->guest;
	c->ram_bytes = m->ram_bytes;
	c->vcpus = m->vcpus;
	c->params = m->params;
	if (m->guest != MACHINE_GUEST_LINUX)
		return;
	c->lx.kernel = or_null(m->kernel);
	c->lx.initrd = or_null(m->initrd);
	c->lx.cmdline = or_null(m->cmdline);
	c->lx.ndisks = m->ndisks;
	for (unsigned i = 0; i < m->ndisks && i < MACHINE_MAX_DISKS; i++) {
		c->lx.disks[i].path = m->disks[i].path;
		c->lx.disks[i].read_only = (int)m->disks[i].read_only;
	}
}

/* Regions page-aligned, not empty, in ascending order without overlap or
 * wrap, adding up to ram_bytes: a pfn then names one byte range. */
static int regions_check(const struct snap_meta *m)
{
	uint64_t sum = 0, end = 0;

	if (m->nregions < 1 || m->nregions > MACHINE_MAX_REGIONS)
		return -EINVAL;
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct snap_region *g = &m->regions[i];

		if (!g->size || (g->gpa | g->size) % SNAP_PAGE)
			return -EINVAL;
		if (g->gpa + g->size < g->gpa || (i && g->gpa < end))
			return -EINVAL;
		end = g->gpa + g->size;
		sum += g->size;
	}
	return sum == m->ram_bytes ? 0 : -EINVAL;
}

int snap_meta_check(const struct snap_meta *m)
{
	if (!machine_engine_known(m->engine))
		return -EINVAL;
	if (m->guest != MACHINE_GUEST_PAYLOAD && m->guest != MACHINE_GUEST_LINUX)
		return -EINVAL;
	if (m->ndisks > MACHINE_MAX_DISKS || (m->ndisks && m->guest != MACHINE_GUEST_LINUX))
		return -EINVAL;
	if (m->vcpus < 1 || m->vcpus > GUEST_MAX_VCPUS)
		return -EINVAL;
	if (!m->ram_bytes || m->ram_bytes % SNAP_PAGE || snap_meta_pages(m) > SNAP_MAX_PAGES)
		return -EINVAL;
	if (m->devids_len > SNAP_DEVIDS_MAX)
		return -EINVAL;
	return regions_check(m);
}
