/* postcopy/ram.c - page numbering over machine regions. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>
#include "postcopy/proto.h"
#include "postcopy/ram.h"

int ram_init(struct pages_map *ram, const struct machine *m)
{
	const struct machine_region *r;
	unsigned n = machine_regions(m, &r);

	return pages_map_init(ram, r, n);
}

uint64_t ram_run_limit(const struct pages_map *ram, uint64_t page, uint64_t max)
{
	uint64_t left = pages_map_left(ram, page);

	return left < max ? left : max;
}

bool ram_page_is_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;

	for (unsigned i = 0; i < PM_PAGE / 8; i += 4)
		if (w[i] | w[i + 1] | w[i + 2] | w[i + 3])
			return false;
	return true;
}

void ram_next_data(const struct pages_map *ram, uint64_t page, uint64_t *first, uint64_t *end)
{
	unsigned i = pages_map_region(ram, page);

	pages_region_next_data(&ram->r[i], page - ram->first[i], first, end);
	*first += ram->first[i];
	*end += ram->first[i];
}

static void digest_zeros(XXH3_state_t *st, uint64_t n)
{
	static const uint64_t marker[64];

	for (; n >= 64; n -= 64)
		XXH3_64bits_update(st, marker, sizeof(marker));
	XXH3_64bits_update(st, marker, n * sizeof(marker[0]));
}

uint64_t ram_digest(const struct pages_map *ram, uint64_t from)
{
	XXH3_state_t *st = XXH3_createState();
	uint64_t d, page = from, first, end;

	if (!st)
		return 0;
	XXH3_64bits_reset(st);
	while (page < ram->npages) {
		ram_next_data(ram, page, &first, &end);
		digest_zeros(st, first - page);
		for (page = first; page < end; page++) {
			const uint8_t *p = pages_map_addr(ram, page);

			if (ram_page_is_zero(p))
				digest_zeros(st, 1);
			else
				XXH3_64bits_update(st, p, PM_PAGE);
		}
	}
	d = XXH3_64bits_digest(st);
	XXH3_freeState(st);
	return d;
}

/* The memfd and file offset behind page. */
static off_t ram_file_off(const struct pages_map *ram, uint64_t page, int *fd)
{
	unsigned i = pages_map_region(ram, page);

	*fd = ram->r[i].memfd;
	return (off_t)(ram->r[i].memfd_off + (page - ram->first[i]) * PM_PAGE);
}

int ram_punch(const struct pages_map *ram, uint64_t first, uint64_t n)
{
	while (n) {
		uint64_t k = ram_run_limit(ram, first, n);
		int fd;
		off_t off = ram_file_off(ram, first, &fd);

		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off,
			      (off_t)(k * PM_PAGE)) < 0)
			return -errno;
		first += k;
		n -= k;
	}
	return 0;
}

int ram_pwrite(const struct pages_map *ram, uint64_t first, uint64_t n, const uint8_t *data)
{
	while (n) {
		uint64_t k = ram_run_limit(ram, first, n);
		int fd;
		off_t off = ram_file_off(ram, first, &fd);
		size_t len = k * PM_PAGE, done = 0;

		while (done < len) {
			ssize_t w = pwrite(fd, data + done, len - done, off + (off_t)done);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return w < 0 ? -errno : -EIO;
			done += (size_t)w;
		}
		first += k;
		n -= k;
		data += len;
	}
	return 0;
}
