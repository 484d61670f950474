/* Creation and teardown of the guest RAM memfd and its monitor mapping. */
#define _GNU_SOURCE
#include "mmu/guest_ram.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <unistd.h>

int guest_ram_init(struct guest_ram *ram, uint64_t size_mib, uint64_t devmem_bytes)
{
	int err;

	ram->memfd = -1;
	ram->host = NULL;
	ram->size = 0;
	ram->low_size = 0;
	ram->devmem_size = 0;
	ram->devmem_gpa = GUEST_DEVMEM_UNMAPPED;
	ram->rom_size = 0;
	ram->pam_locked = 0;
	if (size_mib < GUEST_RAM_MIN_MIB || size_mib > GUEST_RAM_MAX_MIB ||
	    devmem_bytes % 4096 || devmem_bytes > GUEST_MEMFD_MAX - (size_mib << 20))
		return -EINVAL;

	uint64_t ram_size = size_mib << 20;
	uint64_t size = ram_size + devmem_bytes;
	int fd = memfd_create("btvm-guest-ram", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		err = -errno;
		goto close_fd;
	}
	/* MAP_NORESERVE: the guest touches RAM lazily, as a real machine's
	 * memory is only "used" once written. */
	void *host = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
	if (host == MAP_FAILED) {
		err = -errno;
		goto close_fd;
	}
	ram->memfd = fd;
	ram->host = host;
	ram->size = ram_size;
	ram->low_size = ram_size < GUEST_RAM_LOW_MAX ? ram_size : GUEST_RAM_LOW_MAX;
	ram->devmem_size = devmem_bytes;
	return 0;

close_fd:
	close(fd);
	return err;
}

void guest_ram_destroy(struct guest_ram *ram)
{
	if (ram->host)
		munmap(ram->host, ram->size + ram->devmem_size);
	if (ram->memfd >= 0)
		close(ram->memfd);
	ram->host = NULL;
	ram->memfd = -1;
	ram->size = 0;
	ram->low_size = 0;
	ram->devmem_size = 0;
	ram->devmem_gpa = GUEST_DEVMEM_UNMAPPED;
}

bool guest_ram_has_data(struct guest_ram_extents *c, uint64_t off)
{
	if (c->none)
		return false;
	if (off < c->end)
		return off >= c->start;
	off_t d = lseek(c->fd, (off_t)off, SEEK_DATA);
	if (d < 0) {
		/* ENXIO: only holes from here; anything else: assume data. */
		if (errno == ENXIO) {
			c->none = true;
			return false;
		}
		c->start = off;
		c->end = UINT64_MAX;
		return true;
	}
	off_t h = lseek(c->fd, d, SEEK_HOLE);
	c->start = (uint64_t)d;
	c->end = h < 0 ? UINT64_MAX : (uint64_t)h;
	return off >= c->start && off < c->end;
}
