/* snap/meta.h - what a snapshot says about the VM it holds: its
 * configuration, in a form that owns its strings (a machine_config only
 * points at them), and the conversions to and from a machine.
 *
 * Page numbers (pfn) throughout snap/ count 4 KiB pages over the regions
 * in region order, as machine_dirty_fetch's bitmap does, so the dirty log
 * of an engine names the pages an incremental layer must hold.
 */
#ifndef SNAP_META_H
#define SNAP_META_H

#include <stddef.h>
#include <stdint.h>

#include "guest/layout.h"
#include "vm/machine.h"

#define SNAP_PAGE        4096u
#define SNAP_NAME_MAX    64
#define SNAP_PATH_MAX    4096
#define SNAP_CMDLINE_MAX 4096      /* x86 Linux takes 2048; room to grow */
#define SNAP_DEVIDS_MAX  4096
/* 1 TiB of guest RAM: bounds the index a reader allocates from a file's
 * word (8 bytes a page: 2 GiB at the limit). */
#define SNAP_MAX_PAGES   (1ull << 28)

struct snap_region {
	uint64_t gpa;
	uint64_t size;
};

struct snap_disk {
	char path[SNAP_PATH_MAX];
	uint32_t read_only;
};

struct snap_meta {
	char name[SNAP_NAME_MAX];          /* the VM's name ("" for none) */
	enum machine_engine_kind engine;   /* THREAD or KVM (the file: its name) */
	uint32_t guest;                    /* enum machine_guest */
	uint32_t guest_abi;                /* GUEST_ABI_VERSION of the writer */
	uint32_t vcpus;
	uint64_t ram_bytes;                /* sum of the regions */
	uint32_t nregions;
	struct snap_region regions[MACHINE_MAX_REGIONS];
	uint32_t features[MACHINE_FEATURE_WORDS];
	struct wl_params params;
	/* A Linux guest's boot files, "" for none; the disks are its own. */
	char kernel[SNAP_PATH_MAX];
	char initrd[SNAP_PATH_MAX];
	char cmdline[SNAP_CMDLINE_MAX];
	uint32_t ndisks;
	struct snap_disk disks[MACHINE_MAX_DISKS];
	/* The devices' backing identities, opaque to snap/ for now. */
	uint32_t devids_len;
	uint8_t devids[SNAP_DEVIDS_MAX];
};

/* Fill m from machine mc (its configuration, regions, CPU features);
 * name may be NULL. -ENAMETOOLONG when a string does not fit its field,
 * -EINVAL for a layout a snapshot cannot hold. */
int snap_meta_from_machine(const struct machine *mc, const char *name, struct snap_meta *m);
/* A machine_config for machine_create_incoming_why: its strings point
 * into m, which must outlive it. The console is the caller's choice. */
void snap_meta_config(const struct snap_meta *m, struct machine_config *c);
/* Is m a layout a snapshot can describe? 0 or -EINVAL (the reader calls
 * it on what it decoded; the writer on what it is given). */
int snap_meta_check(const struct snap_meta *m);
static inline uint64_t snap_meta_pages(const struct snap_meta *m)
{
	return m->ram_bytes / SNAP_PAGE;
}

#endif
