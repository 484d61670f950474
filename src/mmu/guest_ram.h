/* Guest physical RAM: one memfd, mapped once into the monitor for its own
 * accesses (loaders, devices, page walks). Windows map the same memfd
 * again for translated code, so the two views share the pages.
 *
 * RAM is laid out as a PC's: up to GUEST_RAM_LOW_MAX below 4 GiB, from 0
 * (the PCI hole above it), the rest from 4 GiB up, where only PAE paging
 * reaches it. In the memfd (and the monitor's mapping) the two ranges
 * follow each other: a guest physical address of RAM is at memfd offset
 * guest_ram_offset(), 1:1 below 4 GiB, low_size + (gpa - 4 GiB) above.
 * Memfd page numbers are what the shadow keeps as frames.
 *
 * The memfd may also hold one device's memory after RAM (a display's
 * VRAM): the guest sees it wherever the device's BAR puts it, and
 * translated code reaches it through the windows at native speed like
 * RAM. For the monitor it is not RAM (guest_ram_contains and
 * guest_ram_ptr say no): the monitor's accesses go through the device's
 * bus region, so that the device sees them. */
#ifndef BTVM_MMU_GUEST_RAM_H
#define BTVM_MMU_GUEST_RAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define GUEST_RAM_MIN_MIB 4u
/* As much RAM as the CPU's 36 physical address bits (CPUID 0x80000008)
 * reach: 3 GiB below 4 GiB and the 60 GiB from 4 GiB to 64 GiB, where a
 * PAE guest's tables can name it. The memfd (RAM, then device memory)
 * stays within 64 GiB: the shadow keeps a memfd page in 28 bits of an
 * entry (shadow_entry) and a callout descriptor a code address in 36
 * (callout_desc_gpa). The host's own means (MemTotal + SwapTotal) are
 * main.c's check. */
#define GUEST_RAM_MAX_MIB (63u << 10)
#define GUEST_MEMFD_MAX (1ull << 36)
/* RAM below 4 GiB stops at 3 GiB: the top GiB is the PCI hole (LAPIC,
 * IOAPIC, BARs, the firmware ROM). QEMU 7.2's pc keeps up to 3.5 GiB low
 * when all of RAM fits there; btvm's PCI window starts at 3 GiB whatever
 * the size, so it splits at 3 GiB, as QEMU does from 3.5 GiB up. */
#define GUEST_RAM_LOW_MAX (3ull << 30)
#define GUEST_RAM_HIGH_BASE (1ull << 32)

/* devmem_gpa when the device memory is not where the guest can see it */
#define GUEST_DEVMEM_UNMAPPED UINT64_MAX

struct guest_ram {
	int memfd;
	uint8_t *host;   /* monitor's mapping of all of RAM, then device memory */
	uint64_t size;   /* bytes of RAM, both ranges: the memfd's RAM part */
	uint64_t low_size;   /* bytes of RAM from guest physical 0; size - low_size from 4 GiB */
	uint64_t devmem_size;  /* bytes of device memory after RAM, or 0 */
	uint64_t devmem_gpa;   /* where the guest sees it, or GUEST_DEVMEM_UNMAPPED */
	/* While RAM writes are logged (a live migration's pre-copy): a byte
	 * per RAM page, set by whoever writes it: the shadow's write faults
	 * for translated code, guest_ram_written for the monitor's own
	 * writes (page walks' A/D bits, callouts, devices' DMA, from any
	 * thread). NULL when not logging. */
	uint8_t *written;
	/* Firmware booted from a ROM (boot/firmware.h): the last rom_size
	 * bytes below 4 GiB read what RAM holds in the last rom_size bytes
	 * below 1 MiB, where the ROM image is copied at every reset, and
	 * ignore writes. 0: no such alias (a directly booted kernel). */
	uint32_t rom_size;
	/* The BIOS area's pages whose writes the chipset drops (the host
	 * bridge's PAM registers with their write enable clear): bit n for
	 * the page at GUEST_PAM_BASE + n * 4 KiB. Set by the board only
	 * (board__pam_update), which tells the shadow of every change; read
	 * by every path that writes RAM for the CPU or a device. */
	uint64_t pam_locked;
};

/* Returns 0 or a negative errno; -EINVAL for a size outside the limits.
 * devmem_bytes (a multiple of the page size, may be 0) of device memory
 * follow RAM in the memfd, unmapped at first. */
int guest_ram_init(struct guest_ram *ram, uint64_t size_mib, uint64_t devmem_bytes);
void guest_ram_destroy(struct guest_ram *ram);

/* Bytes of RAM from 4 GiB up. */
static inline uint64_t guest_ram_high_size(const struct guest_ram *ram)
{
	return ram->size - ram->low_size;
}

/* Whether [gpa, gpa+len) is all RAM, and then its memfd offset in *off:
 * the one place that knows where each range lies. A range never spans
 * both (the hole lies between). */
static inline bool guest_ram_offset(const struct guest_ram *ram, uint64_t gpa, uint64_t len,
				    uint64_t *off)
{
	if (gpa <= ram->low_size && len <= ram->low_size - gpa) {
		*off = gpa;
		return true;
	}
	uint64_t high = guest_ram_high_size(ram);
	if (gpa >= GUEST_RAM_HIGH_BASE && gpa - GUEST_RAM_HIGH_BASE <= high &&
	    len <= high - (gpa - GUEST_RAM_HIGH_BASE)) {
		*off = ram->low_size + (gpa - GUEST_RAM_HIGH_BASE);
		return true;
	}
	return false;
}

static inline bool guest_ram_contains(const struct guest_ram *ram, uint64_t gpa, uint64_t len)
{
	uint64_t off;
	return guest_ram_offset(ram, gpa, len, &off);
}

/* Host pointer for [gpa, gpa+len) or NULL when the range is not all RAM. */
static inline void *guest_ram_ptr(const struct guest_ram *ram, uint64_t gpa, uint64_t len)
{
	uint64_t off;
	return guest_ram_offset(ram, gpa, len, &off) ? ram->host + off : NULL;
}

/* The memfd page of RAM behind gpa, or GUEST_RAM_NO_PAGE where no RAM is:
 * above every page the shadow counts as RAM, and none of its markers. */
#define GUEST_RAM_NO_PAGE 0xfffffff0u
static inline uint32_t guest_ram_page(const struct guest_ram *ram, uint64_t gpa)
{
	uint64_t off;
	return guest_ram_offset(ram, gpa, 1, &off) ? (uint32_t)(off >> 12) : GUEST_RAM_NO_PAGE;
}

/* The page of the memfd (RAM pages first, then device memory) behind
 * guest physical address gpa; false when no memory answers there. */
static inline bool guest_mem_page(const struct guest_ram *ram, uint64_t gpa, uint32_t *page)
{
	uint64_t off;
	if (guest_ram_offset(ram, gpa, 1, &off)) {
		*page = (uint32_t)(off >> 12);
		return true;
	}
	if (ram->devmem_gpa != GUEST_DEVMEM_UNMAPPED && gpa >= ram->devmem_gpa &&
	    gpa - ram->devmem_gpa < ram->devmem_size) {
		*page = (uint32_t)((ram->size + (gpa - ram->devmem_gpa)) >> 12);
		return true;
	}
	return false;
}

/* The guest physical address of memfd page page, or
 * GUEST_DEVMEM_UNMAPPED for device memory the guest cannot see now. */
static inline uint64_t guest_mem_page_gpa(const struct guest_ram *ram, uint32_t page)
{
	uint64_t off = (uint64_t)page << 12;
	if (off < ram->low_size)
		return off;
	if (off < ram->size)
		return GUEST_RAM_HIGH_BASE + (off - ram->low_size);
	if (ram->devmem_gpa == GUEST_DEVMEM_UNMAPPED)
		return GUEST_DEVMEM_UNMAPPED;
	return ram->devmem_gpa + (off - ram->size);
}

/* Whether [off, off+len) of the memfd is RAM of one range (low or high):
 * code is translated and its translations keyed by memfd offset, which is
 * the physical address below 4 GiB and follows the low range above. */
static inline bool guest_ram_code_range(const struct guest_ram *ram, uint64_t off, uint64_t len)
{
	uint64_t end = off < ram->low_size ? ram->low_size : ram->size;
	return off <= end && len <= end - off;
}

#define GUEST_ROM_ALIAS_END 0x100000u   /* the alias's RAM ends at 1 MiB */

/* The firmware ROM at the top of the 32-bit physical space is an alias of
 * the top of the first MiB of RAM, as a PC shows its BIOS at both places
 * after reset: true with the RAM address behind gpa, false outside it. */
static inline bool guest_rom_alias(const struct guest_ram *ram, uint64_t gpa, uint32_t *ram_gpa)
{
	uint64_t start = (1ull << 32) - ram->rom_size;
	if (!ram->rom_size || gpa < start || gpa >= (1ull << 32))
		return false;
	*ram_gpa = (uint32_t)(GUEST_ROM_ALIAS_END - ram->rom_size + (gpa - start));
	return true;
}

/* The BIOS area the PAM registers control: 0xC0000-0xFFFFF, 64 pages. */
#define GUEST_PAM_BASE 0xc0000u
#define GUEST_PAM_PAGES 64u

/* Whether the chipset drops writes to RAM page page (PAM write enable
 * clear). One subtraction and a compare for any page outside the area. */
static inline bool guest_ram_page_locked(const struct guest_ram *ram, uint64_t page)
{
	uint64_t i = page - GUEST_PAM_BASE / 4096;
	return i < GUEST_PAM_PAGES && (ram->pam_locked >> i & 1);
}

/* Whether any page of [gpa, gpa+len) is locked (len > 0). */
static inline bool guest_ram_range_locked(const struct guest_ram *ram, uint64_t gpa, uint64_t len)
{
	if (!ram->pam_locked || gpa >= GUEST_ROM_ALIAS_END || gpa + len <= GUEST_PAM_BASE)
		return false;
	for (uint64_t p = gpa / 4096; p <= (gpa + len - 1) / 4096; p++)
		if (guest_ram_page_locked(ram, p))
			return true;
	return false;
}

/* A device's DMA write of [gpa, gpa+len) of RAM (the caller checked it
 * is RAM, in either range): copied, except into locked pages, whose bytes the chipset
 * drops as it drops the CPU's (QEMU's DMA goes through the same PAM
 * regions). Returns whether anything was dropped. */
static inline bool guest_ram_dma_write(const struct guest_ram *ram, uint64_t gpa,
				       const void *src, uint64_t len)
{
	if (!guest_ram_range_locked(ram, gpa, len)) {
		memcpy(guest_ram_ptr(ram, gpa, len), src, len);
		return false;
	}
	const uint8_t *s = src;
	while (len) {
		uint64_t n = 4096 - gpa % 4096;
		if (n > len)
			n = len;
		if (!guest_ram_page_locked(ram, gpa / 4096))
			memcpy(ram->host + gpa, s, n);
		gpa += n;
		s += n;
		len -= n;
	}
	return true;
}

/* Any thread: the monitor wrote [gpa, gpa+len) of RAM behind the windows'
 * write protection; the write log (if on) must see it. */
static inline void guest_ram_written(const struct guest_ram *ram, uint64_t gpa, uint64_t len)
{
	uint8_t *log = ram->written;
	uint64_t off;
	if (!log || !len || !guest_ram_offset(ram, gpa, 1, &off))
		return;
	uint64_t end = gpa < GUEST_RAM_HIGH_BASE ? ram->low_size : ram->size;   /* the range's end */
	uint64_t last = len - 1 < end - off ? off + len - 1 : end - 1;
	for (uint64_t p = off >> 12; p <= last >> 12; p++)
		__atomic_store_n(&log[p], 1, __ATOMIC_RELAXED);
}

/* Whether the memfd page at offset off may hold data (ascending offsets,
 * one cursor per pass): a hole reads zeros, and reading it through a
 * mapping would give it a page of host memory, so snapshots and live
 * migration look at the memfd's extents (SEEK_DATA) first: a large guest
 * that touched little costs little to save or move. The cursor keeps the
 * data extent found last so each is asked for once. */
struct guest_ram_extents {
	int fd;
	uint64_t start, end;   /* [start, end): data; pages before start are holes */
	bool none;             /* no data at or after start */
};
bool guest_ram_has_data(struct guest_ram_extents *c, uint64_t off);

/* Whether the 4 KiB page at p is all zeros: snapshots and live migration
 * send such pages as a mark only. */
static inline bool guest_page_is_zero(const uint8_t *p)
{
	static const uint8_t zero[4096];
	return !memcmp(p, zero, sizeof(zero));
}

/* The monitor's pointer to device memory at offset off. */
static inline uint8_t *guest_devmem_ptr(const struct guest_ram *ram, uint64_t off)
{
	return ram->host + ram->size + off;
}

#endif
