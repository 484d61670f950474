/* Shadow paging. */
#include "mmu/shadow.h"

#include "cache/tcache.h"
#include "cpu/cpu.h"
#include "mmu/window.h"

void shadow_note_write(struct cpu *cpu, uint32_t gpa, unsigned len)
{
	for (uint32_t p = gpa / GUEST_PAGE_SIZE; p <= (gpa + len - 1) / GUEST_PAGE_SIZE; p++)
		if (tcache_page_traced(cpu->tc, p))
			tcache_invalidate_page(cpu->tc, cpu, p);
}

void shadow_after_write(struct cpu *cpu, uint32_t gpa, unsigned len)
{
	(void)cpu;
	(void)gpa;
	(void)len;
}
