/* The 32-bit and PAE page walks (SDM vol. 3, 4.3, 4.4 and 4.6). */
#include "mmu/paging.h"

#include <string.h>

#include "isa/vcpu.h"

/* An entry outside RAM reads as what a PC's bus gives for an address no
 * device claims: all ones (a present entry pointing at the top page; with
 * CR4.PSE an entry with reserved bits set, at either level). Device
 * registers are not consulted: the walk has no bus, and no OS keeps its
 * tables there. */
static uint32_t read_entry(const struct guest_ram *ram, uint64_t gpa)
{
	const void *p = guest_ram_ptr(ram, gpa, 4);
	uint32_t e = ~0u;
	if (p)
		memcpy(&e, p, 4);
	return e;
}

static void set_bits(const struct guest_ram *ram, uint64_t gpa, uint32_t e, uint32_t bits)
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

static uint64_t read_entry64(const struct guest_ram *ram, uint64_t gpa)
{
	const void *p = guest_ram_ptr(ram, gpa, 8);
	uint64_t e = ~0ull;
	if (p)
		memcpy(&e, p, 8);
	return e;
}

/* The tail both walks share once the entries are read and their reserved
 * bits checked: the permission checks (SDM 4.6), the accessed and dirty
 * bits, and *w. flags holds the combined W and U of both levels; the
 * byte's address is the leaf's bits under page_mask and the linear
 * address's below it. err holds the W, U and I bits of the access. */
static inline bool walk_finish(const struct guest_ram *ram, const struct paging_regs *pr,
			       uint32_t linear, unsigned access, uint64_t pde, uint64_t pte,
			       uint64_t flags, bool large, bool no_exec, uint64_t page_mask,
			       uint64_t pde_gpa, uint64_t pte_gpa, struct walk *w, uint32_t err,
			       uint32_t *error)
{
	bool write = access & ACCESS_WRITE, user = access & ACCESS_USER;
	bool fetch = access & ACCESS_FETCH;
	err |= PFERR_P;
	bool user_ok = flags & PTE_U;
	bool writable = (flags & PTE_W) || (!user && !(pr->cr0 & CR0_WP));
	if ((user && !user_ok) || (write && !writable) || (fetch && no_exec) ||
	    ((access & ACCESS_PEEK) && (!(pde & PTE_A) || (!large && !(pte & PTE_A))))) {
		*error = err;
		return false;
	}
	set_bits(ram, pde_gpa, (uint32_t)pde, PTE_A | (large && write ? PTE_D : 0));
	if (!large)
		set_bits(ram, pte_gpa, (uint32_t)pte, PTE_A | (write ? PTE_D : 0));
	uint64_t leaf = large ? pde : pte;
	w->gpa = ((leaf & page_mask) | (linear & ~page_mask & 0xfffffffful)) & ~(uint64_t)pr->a20_cleared;
	w->pde_gpa = pde_gpa;
	w->pte_gpa = pte_gpa;
	w->writable = writable;
	w->user = user_ok;
	w->dirty = write || (leaf & PTE_D);
	w->global = (leaf & PTE_G) && (pr->cr4 & CR4_PGE);
	w->large = large;
	w->no_exec = no_exec;
	return true;
}

bool paging_load_pdptes(const struct guest_ram *ram, uint32_t cr3, uint32_t a20_cleared,
			uint64_t pdpte[4])
{
	uint64_t e[4];
	for (unsigned i = 0; i < 4; i++) {
		e[i] = read_entry64(ram, ((cr3 & 0xffffffe0u) + i * 8) & ~a20_cleared);
		if ((e[i] & PTE_P) && (e[i] & PAE_PDPTE_RSVD))
			return false;
	}
	memcpy(pdpte, e, sizeof(e));
	return true;
}

/* PAE paging (SDM 4.4): the cached PDPTE, then a directory and a table of
 * 8-byte entries, or a 2 MiB page. PS of a PDE counts whatever CR4.PSE
 * says. The accessed and dirty bits are in an entry's low dword, so their
 * update is an atomic OR on it as on a 32-bit entry. */
static bool pae_walk(const struct guest_ram *ram, const struct paging_regs *pr, uint32_t linear,
		     unsigned access, struct walk *w, uint32_t *error)
{
	bool write = access & ACCESS_WRITE, user = access & ACCESS_USER;
	bool fetch = access & ACCESS_FETCH;
	uint32_t err = (write ? PFERR_W : 0) | (user ? PFERR_U : 0) | (fetch && pr->nxe ? PFERR_I : 0);
	uint64_t a20 = ~(uint64_t)pr->a20_cleared;
	uint64_t rsvd = PAE_ADDR_RSVD | (pr->nxe ? 0 : PAE_XD);
	uint64_t pdpte = pr->pdpte[linear >> 30], pte = 0;
	if (!(pdpte & PTE_P))
		goto fault;   /* its reserved bits were checked when it was loaded */
	uint64_t pde_gpa = ((pdpte & PAE_FRAME) + ((linear >> 21) & 0x1ff) * 8) & a20;
	uint64_t pde = read_entry64(ram, pde_gpa);
	if (!(pde & PTE_P))
		goto fault;
	bool large = pde & PDE_PS;
	if (pde & (rsvd | (large ? PAE_LARGE_RSVD : 0))) {
		err |= PFERR_P | PFERR_RSVD;
		goto fault;
	}
	uint64_t pte_gpa = ~0ull;
	uint64_t flags;
	if (large) {
		flags = pde;
	} else {
		pte_gpa = ((pde & PAE_FRAME) + ((linear >> 12) & 0x1ff) * 8) & a20;
		pte = read_entry64(ram, pte_gpa);
		if (!(pte & PTE_P))
			goto fault;
		if (pte & (rsvd | PAE_PTE_RSVD)) {
			err |= PFERR_P | PFERR_RSVD;
			goto fault;
		}
		/* Both levels must allow a write and a user access, either may
		 * forbid execution. */
		flags = ((pde & pte) & (PTE_W | PTE_U)) | (pte & ~(uint64_t)(PTE_W | PTE_U)) | (pde & PAE_XD);
	}
	return walk_finish(ram, pr, linear, access, pde, pte, flags, large, pr->nxe && (flags & PAE_XD),
			   large ? PAE_LARGE_FRAME : PAE_FRAME, pde_gpa, pte_gpa, w, err, error);

fault:
	*error = err;
	return false;
}

bool paging_walk(const struct guest_ram *ram, const struct paging_regs *pr, uint32_t linear,
		 unsigned access, struct walk *w, uint32_t *error)
{
	bool write = access & ACCESS_WRITE, user = access & ACCESS_USER;
	uint32_t err = (write ? PFERR_W : 0) | (user ? PFERR_U : 0);
	uint32_t a20 = ~pr->a20_cleared;
	if (!(pr->cr0 & CR0_PG)) {
		*w = (struct walk){ .gpa = linear & a20, .pde_gpa = ~0ull, .pte_gpa = ~0ull,
				    .writable = true, .user = true, .dirty = true };
		return true;
	}
	if (pr->cr4 & CR4_PAE)
		return pae_walk(ram, pr, linear, access, w, error);
	uint32_t pde_gpa = ((pr->cr3 & 0xfffff000u) + (linear >> 22) * 4) & a20;
	uint32_t pde = read_entry(ram, pde_gpa), pte = 0;

	if (!(pde & PTE_P))
		goto fault;
	bool large = (pde & PDE_PS) && (pr->cr4 & CR4_PSE);
	uint64_t pte_gpa = ~0ull;
	uint32_t flags;
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
	return walk_finish(ram, pr, linear, access, pde, pte, flags, large, false,
			   large ? 0xffc00000u : 0xfffff000u, pde_gpa, pte_gpa, w, err, error);

fault:
	*error = err;
	return false;
}
