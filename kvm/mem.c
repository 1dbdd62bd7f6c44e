/* kvm/mem.c - guest RAM: one memfd mapped once in the VMM, given to KVM as
 * memory slots around the hole below 4 GiB; and the dirty log.
 *
 * The VMM's mapping is contiguous (RAM offset x at ram + x) while guest
 * physical addresses skip [PC_LOW_END, PC_HIGH_START) where the LAPIC,
 * IOAPIC and KVM's TSS live. The machine regions say both, in RAM order,
 * so page numbers over the regions equal RAM offsets / 4096.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest/pc/pc.h"
#include "kvm/vmm.h"

static int slot_set(struct kvm_vm *vm, unsigned slot, uint32_t flags)
{
	uint64_t low = vm->ram_size < PC_LOW_END ? vm->ram_size : PC_LOW_END;
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.flags = flags,
		.guest_phys_addr = slot ? PC_HIGH_START : 0,
		.memory_size = slot ? vm->ram_size - low : low,
		.userspace_addr = (uint64_t)(uintptr_t)(vm->ram + (slot ? low : 0)),
	};

	return ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0 ? -errno : 0;
}

int kvm_mem_create(struct kvm_vm *vm, uint64_t ram_size)
{
	int err;

	vm->ram_size = ram_size;
	vm->dev_dirty = calloc((ram_size / 4096 + 63) / 64, sizeof(*vm->dev_dirty));
	if (!vm->dev_dirty)
		return -ENOMEM;
	vm->memfd = memfd_create("guest-ram", MFD_CLOEXEC);
	if (vm->memfd < 0)
		return -errno;
	if (ftruncate(vm->memfd, (off_t)ram_size) < 0)
		return -errno;
	vm->ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->memfd, 0);
	if (vm->ram == MAP_FAILED) {
		vm->ram = NULL;
		return -errno;
	}
	/* The guest's memory is not the VMM's: keep it out of core dumps. */
	madvise(vm->ram, ram_size, MADV_DONTDUMP);
	vm->nslots = ram_size > PC_LOW_END ? 2 : 1;
	for (unsigned s = 0; s < vm->nslots; s++)
		if ((err = slot_set(vm, s, 0)))
			return err;
	return 0;
}

void kvm_mem_destroy(struct kvm_vm *vm)
{
	if (vm->ram)
		munmap(vm->ram, vm->ram_size);
	if (vm->memfd >= 0)
		close(vm->memfd);
	vm->ram = NULL;
	vm->memfd = -1;
	free(vm->dev_dirty);
	vm->dev_dirty = NULL;
}

unsigned kvm_mem_regions(const struct kvm_vm *vm, struct machine_region *r)
{
	uint64_t low = vm->ram_size < PC_LOW_END ? vm->ram_size : PC_LOW_END;

	r[0] = (struct machine_region){ .gpa = 0, .size = low, .host = vm->ram,
					.memfd = vm->memfd, .memfd_off = 0 };
	if (vm->nslots == 1)
		return 1;
	r[1] = (struct machine_region){ .gpa = PC_HIGH_START, .size = vm->ram_size - low,
					.host = vm->ram + low, .memfd = vm->memfd,
					.memfd_off = low };
	return 2;
}

/* Dirty logging on or off for every slot. */
int kvm_mem_dirty_log(struct kvm_vm *vm, int on)
{
	int err;

	for (unsigned s = 0; s < vm->nslots; s++)
		if ((err = slot_set(vm, s, on ? KVM_MEM_LOG_DIRTY_PAGES : 0)))
			return err;
	return 0;
}

/* OR the pages written since the last call into bitmap (one bit per RAM
 * page, RAM order) and clear KVM's log. Slot 1 starts at PC_LOW_END, a
 * multiple of 64 pages, so its words line up. */
int kvm_mem_dirty_get(struct kvm_vm *vm, uint64_t *bitmap, uint64_t npages)
{
	uint64_t low_pages = (vm->ram_size < PC_LOW_END ? vm->ram_size : PC_LOW_END) / 4096;
	uint64_t *tmp;
	int err = 0;

	if (npages != vm->ram_size / 4096)
		return -EINVAL;
	tmp = calloc((low_pages + 63) / 64 > (npages - low_pages + 63) / 64
		     ? (low_pages + 63) / 64 : (npages - low_pages + 63) / 64 + 1, 8);
	if (!tmp)
		return -ENOMEM;
	/* KVM's log sees the guest's writes only; the VMM's own (the boot
	 * page's stall epoch, what devices put in guest RAM) are added here. */
	if (atomic_exchange(&vm->host_dirty0, 0))
		bitmap[0] |= 1;
	for (uint64_t w = 0; w < (npages + 63) / 64; w++)
		bitmap[w] |= atomic_exchange_explicit(&vm->dev_dirty[w], 0, memory_order_relaxed);
	for (unsigned s = 0; s < vm->nslots && !err; s++) {
		uint64_t first = s ? low_pages : 0;
		uint64_t words = ((s ? npages - low_pages : low_pages) + 63) / 64;
		struct kvm_dirty_log d = { .slot = s, .dirty_bitmap = tmp };

		memset(tmp, 0, words * 8);
		if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &d) < 0) {
			err = -errno;
			break;
		}
		for (uint64_t w = 0; w < words; w++)
			bitmap[first / 64 + w] |= tmp[w];
	}
	free(tmp);
	return err;
}
