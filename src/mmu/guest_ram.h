/* Guest physical RAM: one memfd, mapped once into the monitor for its own
 * accesses (loaders, devices, page walks). Windows map the same memfd
 * again for translated code, so the two views share the pages. */
#ifndef BTVM_MMU_GUEST_RAM_H
#define BTVM_MMU_GUEST_RAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_RAM_MIN_MIB 4u
/* Leave the top of the 32-bit physical space to MMIO (LAPIC, IOAPIC, PCI). */
#define GUEST_RAM_MAX_MIB 3072u

struct guest_ram {
	int memfd;
	uint8_t *host;   /* monitor's mapping of all of RAM */
	uint64_t size;   /* bytes */
};

/* Returns 0 or a negative errno; -EINVAL for a size outside the limits. */
int guest_ram_init(struct guest_ram *ram, uint64_t size_mib);
void guest_ram_destroy(struct guest_ram *ram);

static inline bool guest_ram_contains(const struct guest_ram *ram, uint64_t gpa, uint64_t len)
{
	return gpa <= ram->size && len <= ram->size - gpa;
}

/* Host pointer for [gpa, gpa+len) or NULL when the range is not all RAM. */
static inline void *guest_ram_ptr(const struct guest_ram *ram, uint64_t gpa, uint64_t len)
{
	return guest_ram_contains(ram, gpa, len) ? ram->host + gpa : NULL;
}

#endif
