/* Guest memory as the monitor, the debugger and a live migration see it
 * (machine/control.h): linear addresses through a vCPU's page tables as
 * they are (no fault raised, no translation cached), reads of RAM and
 * device memory, writes to RAM that keep the shadow's traces and drop the
 * translations they change, and all of memory with RAM's write log for
 * copying it whole. */
#include "machine/board_internal.h"

#include <string.h>

#include "mmu/paging.h"

bool board_linear_to_phys(struct board *board, unsigned vcpu, uint32_t linear, uint64_t *gpa)
{
	const struct vcpu_state *s = &board->vcpus[vcpu].cpu.s;
	if (!(s->cr0 & CR0_PG)) {
		*gpa = linear & ~s->a20_cleared;
		return true;
	}
	struct paging_regs pr = paging_regs_of(s);
	struct walk w;
	uint32_t error;
	/* PEEK fails where an accessed bit is clear: walk for real then, as
	 * the CPU itself would on the next access. */
	if (paging_walk(&board->ram, &pr, linear, ACCESS_PEEK, &w, &error) ||
	    paging_walk(&board->ram, &pr, linear, ACCESS_READ, &w, &error)) {
		*gpa = w.gpa;
		return true;
	}
	return false;
}

const uint8_t *board_phys_ptr(struct board *board, uint64_t gpa, uint64_t len)
{
	if (guest_ram_contains(&board->ram, gpa, len))
		return guest_ram_ptr(&board->ram, gpa, len);
	const struct guest_ram *r = &board->ram;
	if (r->devmem_size && gpa >= r->devmem_gpa && gpa + len <= r->devmem_gpa + r->devmem_size)
		return guest_devmem_ptr(r, gpa - r->devmem_gpa);
	return NULL;
}

bool board_read_memory(struct board *board, unsigned vcpu, uint64_t addr, bool physical,
		       uint8_t *dst, uint32_t len, uint64_t *bad)
{
	if (!physical)
		addr = (uint32_t)addr;   /* linear addresses are 32-bit, and wrap */
	while (len) {
		uint32_t chunk = GUEST_PAGE_SIZE - (uint32_t)(addr & (GUEST_PAGE_SIZE - 1));
		uint64_t gpa = addr;
		if (chunk > len)
			chunk = len;
		const uint8_t *p = NULL;
		if (physical || board_linear_to_phys(board, vcpu, (uint32_t)addr, &gpa))
			p = board_phys_ptr(board, gpa, chunk);
		if (!p) {
			*bad = addr;
			return false;
		}
		memcpy(dst, p, chunk);
		dst += chunk;
		addr = physical ? addr + chunk : (uint32_t)(addr + chunk);
		len -= chunk;
	}
	return true;
}

/* The physical address of byte at of a write at start: a linear one's
 * (its low 32 bits, wrapping) through vcpu's tables, or start + at. */
static bool write_target(struct board *board, unsigned vcpu, uint64_t start, bool physical,
			 uint32_t at, uint64_t *addr, uint64_t *gpa)
{
	if (physical) {
		*addr = *gpa = start + at;
		return true;
	}
	*addr = (uint32_t)(start + at);
	return board_linear_to_phys(board, vcpu, (uint32_t)*addr, gpa);
}

bool board_write_memory(struct board *board, unsigned vcpu, uint64_t start, bool physical,
			const uint8_t *src, uint32_t len, uint64_t *bad)
{
	/* Every page first: a write that cannot be whole changes nothing. */
	for (uint32_t at = 0; at < len;) {
		uint64_t addr, gpa;
		bool mapped = write_target(board, vcpu, start, physical, at, &addr, &gpa);
		uint32_t chunk = GUEST_PAGE_SIZE - (uint32_t)(addr & (GUEST_PAGE_SIZE - 1));
		if (chunk > len - at)
			chunk = len - at;
		if (!mapped || !guest_ram_contains(&board->ram, gpa, chunk)) {
			*bad = addr;
			return false;
		}
		at += chunk;
	}
	for (uint32_t at = 0; at < len;) {
		uint64_t addr, gpa;
		bool mapped = write_target(board, vcpu, start, physical, at, &addr, &gpa);
		uint32_t chunk = GUEST_PAGE_SIZE - (uint32_t)(addr & (GUEST_PAGE_SIZE - 1));
		if (chunk > len - at)
			chunk = len - at;
		if (!mapped) {
			*bad = addr;   /* the check above saw it map: never taken */
			return false;
		}
		/* As the monitor's own stores: page-table traces and code
		 * translations see it. A debugger writes the BIOS area
		 * whatever the PAM registers say (a breakpoint's INT3 in
		 * the firmware's code), as QEMU's gdb stub writes ROM. */
		cpu_write_phys_debug(&board->vcpus[vcpu].cpu, gpa, src + at, chunk);
		at += chunk;
	}
	return true;
}

void board_memory(struct board *board, struct board_memory *mem)
{
	mem->host = board->ram.host;
	mem->memfd = board->ram.memfd;
	mem->ram_size = board->ram.size;
	mem->devmem_size = board->ram.devmem_size;
}

int board_ram_log(struct board *board, bool on)
{
	return shadow_ram_log(&board->sh, on);
}

unsigned board_ram_harvest(struct board *board, uint8_t *bitmap)
{
	return shadow_ram_harvest(&board->sh, bitmap);
}
