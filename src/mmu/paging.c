/* The 32-bit page walk (SDM vol. 3, 4.3 and 4.6). */
#include "mmu/paging.h"

#include <string.h>

#include "isa/vcpu.h"

/* An entry outside RAM reads as what a PC's bus gives for an address no
 * device claims: all ones (a present entry pointing at the top page; with
 * CR4.PSE an entry with reserved bits set, at either level). Device
 * registers are not consulted: the walk has no bus, and no OS keeps its
 * tables there. */
static uint32_t read_entry(const struct guest_ram *ram, uint32_t gpa)
{
	const void *p = guest_ram_ptr(ram, gpa, 4);
	uint32_t e = ~0u;
	if (p)
		memcpy(&e, p, 4);
	return e;
}

static void set_bits(const struct guest_ram *ram, uint32_t gpa, uint32_t e, uint32_t bits)
{
	if ((e & bits) == bits)
		return;
	/* Only set, never clear: an atomic OR, as the processor's locked update.
	 * Outside RAM the update is dropped, as the bus drops the write (an
	 * entry there reads with A and D set anyway). */
	uint32_t *p = guest_ram_ptr(ram, gpa, 4);
	if (p) {
		__atomic_fetch_or(p, bits, __ATOMIC_SEQ_CST);
		guest_ram_written(ram, gpa, 4);
	}
}

bool paging_walk(const struct guest_ram *ram, const struct paging_regs *pr, uint32_t linear,
		 unsigned access, struct walk *w, uint32_t *error)
{
	bool write = access & ACCESS_WRITE, user = access & ACCESS_USER;
	uint32_t err = (write ? PFERR_W : 0) | (user ? PFERR_U : 0);
	uint32_t a20 = ~pr->a20_cleared;
	if (!(pr->cr0 & CR0_PG)) {
		*w = (struct walk){ .gpa = linear & a20, .pde_gpa = ~0u, .pte_gpa = ~0u,
				    .writable = true, .user = true, .dirty = true };
		return true;
	}
	uint32_t pde_gpa = ((pr->cr3 & 0xfffff000u) + (linear >> 22) * 4) & a20;
	uint32_t pde = read_entry(ram, pde_gpa), pte = 0;

	if (!(pde & PTE_P))
		goto fault;
	bool large = (pde & PDE_PS) && (pr->cr4 & CR4_PSE);
	uint32_t pte_gpa = ~0u, flags;
	if (large) {
		if (pde & PDE_LARGE_RSVD) {
			err |= PFERR_P | PFERR_RSVD;
			goto fault;
		}
		flags = pde;
	} else {
		pte_gpa = ((pde & 0xfffff000u) + ((linear >> 12) & 0x3ff) * 4) & a20;
		pte = read_entry(ram, pte_gpa);
		if (!(pte & PTE_P))
			goto fault;
		if ((pte & PTE_RSVD) && (pr->cr4 & CR4_PSE)) {
			err |= PFERR_P | PFERR_RSVD;
			goto fault;
		}
		flags = pde & pte;   /* both levels must allow */
		flags = (flags & (PTE_W | PTE_U)) | (pte & ~(PTE_W | PTE_U));
	}
	err |= PFERR_P;
	bool user_ok = flags & PTE_U;
	bool writable = (flags & PTE_W) || (!user && !(pr->cr0 & CR0_WP));
	if (user && !user_ok)
		goto fault;
	if (write && !writable)
		goto fault;
	if ((access & ACCESS_PEEK) && (!(pde & PTE_A) || (!large && !(pte & PTE_A))))
		goto fault;

	set_bits(ram, pde_gpa, pde, PTE_A | (large && write ? PTE_D : 0));
	if (!large)
		set_bits(ram, pte_gpa, pte, PTE_A | (write ? PTE_D : 0));
	uint32_t leaf = large ? pde : pte;
	w->gpa = (large ? (pde & 0xffc00000u) | (linear & 0x3fffff) : (pte & 0xfffff000u) | (linear & 0xfff)) &
		 a20;
	w->pde_gpa = pde_gpa;
	w->pte_gpa = pte_gpa;
	w->writable = writable;
	w->user = user_ok;
	w->dirty = write || (leaf & PTE_D);
	w->global = (leaf & PTE_G) && (pr->cr4 & CR4_PGE);
	w->large = large;
	return true;

fault:
	*error = err;
	return false;
}
