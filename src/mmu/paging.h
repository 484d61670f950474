/* The guest's page tables, two-level 32-bit or PAE (three levels of 8-byte
 * entries, the four top ones cached in the vCPU): the walk that turns a
 * linear address into a physical one, checks the access against the
 * entries' present, writable and user bits the way the processor does,
 * and sets the accessed and dirty bits the processor would set. Both the
 * shadow filler (a host fault in a window) and the monitor's own guest
 * accesses use it. */
#ifndef BTVM_MMU_PAGING_H
#define BTVM_MMU_PAGING_H

#include <stdbool.h>
#include <stdint.h>

#include "isa/vcpu.h"
#include "mmu/guest_ram.h"

#define PTE_P 0x001u
#define PTE_W 0x002u
#define PTE_U 0x004u
#define PTE_A 0x020u
#define PTE_D 0x040u
#define PDE_PS 0x080u
#define PTE_G 0x100u
/* Reserved with CR4.PSE (SDM vol. 3, 4.3), for the features the virtual
 * CPU does not report: bits 21:13 of a 4 MiB PDE (physical address bits
 * 39:32 with PSE-36). Bit 12 of a 4 MiB PDE and bit 7 of a PTE select
 * the PAT entry (CPUID reports PAT). With CR4.PSE clear, 32-bit paging
 * has no reserved bits. */
#define PDE_LARGE_RSVD 0x003fe000u
#define PTE_RSVD 0x000u

/* PAE paging (SDM vol. 3, 4.4) with a physical-address width
 * (MAXPHYADDR, CPUID 0x80000008 EAX[7:0]) of 36 bits: an entry names a
 * frame in bits 35:12, bits 62:36 are reserved in every entry, bit 63 is
 * XD with EFER.NXE and reserved without, and with no PAT reported bit 12
 * of a 2 MiB PDE and bit 7 of a PTE are reserved too, as in 32-bit
 * paging. */
#define PAE_XD 0x8000000000000000ull
#define PAE_ADDR_RSVD 0x7ffffff000000000ull          /* bits 62:36 */
#define PAE_FRAME 0x0000000ffffff000ull              /* bits 35:12 */
#define PAE_LARGE_FRAME 0x0000000fffe00000ull        /* bits 35:21 of a 2 MiB PDE */
#define PAE_LARGE_RSVD 0x00000000001ff000ull         /* bits 20:12 of a 2 MiB PDE */
#define PAE_PTE_RSVD 0x0000000000000080ull           /* PAT of a PTE */
/* A PDPTE: bits 2:1 and 8:5 and everything above the address (bit 63 too). */
#define PAE_PDPTE_RSVD 0xfffffff0000001e6ull

/* #PF error code bits. */
#define PFERR_P 0x1u
#define PFERR_W 0x2u
#define PFERR_U 0x4u
#define PFERR_RSVD 0x8u
#define PFERR_I 0x10u      /* an instruction fetch, with PAE and EFER.NXE (SDM 4.7) */

enum access_kind {
	ACCESS_READ = 0,
	ACCESS_WRITE = 1,
	ACCESS_USER = 2,    /* a CPL 3 access (not implicit supervisor) */
	ACCESS_PEEK = 4,    /* change nothing: fail where an accessed bit is clear */
	ACCESS_FETCH = 8,   /* an instruction fetch: XD applies, and I/D in the error code */
};

/* What a successful walk found: where the translation came from, so the
 * shadow can trace the tables it was derived from. */
struct walk {
	uint64_t gpa;          /* physical address of the byte (above 4 GiB only under PAE) */
	uint64_t pde_gpa;      /* physical address of the directory entry (its low dword under PAE) */
	uint64_t pte_gpa;      /* of the table entry; ~0 for a 4 MiB page */
	bool writable;         /* a write of this privilege would be allowed */
	bool user;             /* both levels allow CPL 3 */
	bool dirty;            /* the mapping's dirty bit is set (after the walk) */
	bool global;           /* G set and CR4.PGE on */
	bool large;            /* a 4 MiB page, or 2 MiB under PAE */
	bool no_exec;          /* PAE with EFER.NXE: XD set at either level */
};

struct paging_regs {
	uint32_t cr0, cr3, cr4;
	uint32_t a20_cleared;   /* vcpu_state's: address bits the A20 gate forces to 0 */
	bool nxe;               /* EFER.NXE */
	uint64_t pdpte[4];      /* with CR4.PAE: the cached PDPTEs, not memory at CR3 */
};

static inline struct paging_regs paging_regs_of(const struct vcpu_state *s)
{
	return (struct paging_regs){ s->cr0, s->cr3, s->cr4, s->a20_cleared, (s->efer & EFER_NXE) != 0,
				     { s->pdpte[0], s->pdpte[1], s->pdpte[2], s->pdpte[3] } };
}

/* Walks for one access. true and *w filled (accessed, and on a write dirty,
 * bits set in guest memory), or false with the #PF error code in *error.
 * An entry outside RAM reads as all ones, as an unclaimed bus read.
 * Every physical address it makes, the entries' and the byte's, has the
 * A20 gate's bits cleared, as the processor's own walk has under A20M#
 * (and QEMU's). With CR0.PG clear it is the identity, A20 applied: a
 * writable user page without tables (pde_gpa and pte_gpa ~0, not large),
 * which the shadow's window for unpaged code with A20 masked fills from. */
bool paging_walk(const struct guest_ram *ram, const struct paging_regs *pr, uint32_t linear,
		 unsigned access, struct walk *w, uint32_t *error);

/* PAE paging is on: CR0.PG and CR4.PAE. */
static inline bool paging_pae(uint32_t cr0, uint32_t cr4)
{
	return (cr0 & CR0_PG) && (cr4 & CR4_PAE);
}

/* Loads the four PDPTEs from the table at cr3 (bits 31:5, A20 applied:
 * a20_cleared), as MOV CR3 does with PAE paging on, or a MOV CR0/CR4 that
 * turns it on or changes it. False when a present one has a reserved bit
 * set: the MOV then raises #GP(0) and changes nothing. A table outside
 * RAM reads all ones (present, reserved bits set). */
bool paging_load_pdptes(const struct guest_ram *ram, uint32_t cr3, uint32_t a20_cleared,
			uint64_t pdpte[4]);

#endif
