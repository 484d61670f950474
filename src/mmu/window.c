/* Reservation, RAM mapping and activation of guest address-space windows. */
#define _GNU_SOURCE
#include "mmu/window.h"

#include <asm/prctl.h>
#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int window_reserve(struct window *win, const struct guest_ram *ram)
{
	/* Over-reserve so a 4 GiB aligned start can be carved out of it. */
	uint64_t span = WINDOW_SIZE + WINDOW_GUARD;
	uint64_t reserve = span + WINDOW_SIZE;
	uint8_t *raw = mmap(NULL, reserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			    -1, 0);
	if (raw == MAP_FAILED)
		return -errno;
	uintptr_t start = ((uintptr_t)raw + WINDOW_SIZE - 1) & ~(uintptr_t)(WINDOW_SIZE - 1);
	uint8_t *base = (uint8_t *)start;
	if (base > raw)
		munmap(raw, (size_t)(base - raw));
	uint8_t *end = base + span, *raw_end = raw + reserve;
	if (raw_end > end)
		munmap(end, (size_t)(raw_end - end));
	win->base = base;
	win->ram = ram;
	return 0;
}

int window_create(struct window *win, const struct guest_ram *ram)
{
	int err = window_reserve(win, ram);
	if (err)
		return err;
	uint8_t *base = win->base;

	/* RAM below 4 GiB only: the rest is where only PAE reaches it. */
	if (mmap(base, ram->low_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, ram->memfd, 0) ==
	    MAP_FAILED) {
		err = -errno;
		window_destroy(win);
		return err;
	}
	/* The firmware's ROM alias, read-only: a write faults and goes to
	 * the bus, where the ROM's region drops it. */
	if (ram->rom_size &&
	    mmap(base + ((1ull << 32) - ram->rom_size), ram->rom_size, PROT_READ,
		 MAP_SHARED | MAP_FIXED, ram->memfd,
		 (off_t)(GUEST_ROM_ALIAS_END - ram->rom_size)) == MAP_FAILED) {
		err = -errno;
		window_destroy(win);
		return err;
	}
	return 0;
}

void window_destroy(struct window *win)
{
	if (win->base)
		munmap(win->base, WINDOW_SIZE + WINDOW_GUARD);
	win->base = NULL;
}

int window_activate(const struct window *win)
{
	if (syscall(SYS_arch_prctl, ARCH_SET_GS, (unsigned long)win->base) < 0)
		return -errno;
	return 0;
}

int window_protect_page(struct window *win, uint32_t gpa, bool writable)
{
	uint32_t page = gpa & ~(GUEST_PAGE_SIZE - 1);
	uint32_t mem_page;
	if (!guest_mem_page(win->ram, page, &mem_page))
		return -EINVAL;
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	if (mprotect(win->base + page, GUEST_PAGE_SIZE, prot) < 0)
		return -errno;
	return 0;
}
