/* The 32-bit page walk (mmu/paging.c) against the Intel SDM, vol. 3,
 * ch. 4: page directories and tables built by hand in a guest_ram, each
 * expectation taken from the manual (4.3 for the translation and the
 * reserved bits, 4.6 for the access rights, 4.7 for the #PF error code,
 * 4.8 for the accessed and dirty bits, 4.10 for global pages). The
 * virtual CPU reports PSE and PGE but not PSE-36, PAT, SMEP or SMAP
 * (isa/cpuid.c; the PAE walk is test_paging_pae.c's), so here the I/D bit
 * of the error code is always 0 (4.7: only with SMEP or PAE and NXE), and with
 * CR4.PSE the PAT bits are reserved (4.3). */
#include "check.h"
#include "isa/vcpu.h"
#include "mmu/guest_ram.h"
#include "mmu/paging.h"

#include <stdlib.h>

#define PD 0x1000u        /* the page directory */
#define PT 0x2000u        /* a page table */
#define PT2 0x3000u       /* another */
#define FRAME 0x30000u    /* a 4 KiB page the tables map */

static struct guest_ram ram;

static void put(uint32_t gpa, uint32_t v)
{
	memcpy(ram.host + gpa, &v, 4);
}

static uint32_t get(uint32_t gpa)
{
	uint32_t v;
	memcpy(&v, ram.host + gpa, 4);
	return v;
}

static void clear_tables(void)
{
	memset(ram.host + PD, 0, 3 * 4096);
}

static uint32_t pde_of(uint32_t linear)
{
	return PD + (linear >> 22) * 4;
}

static uint32_t pte_of(uint32_t table, uint32_t linear)
{
	return table + ((linear >> 12) & 0x3ff) * 4;
}

/* Maps linear's 4 KiB page to FRAME with the given PDE and PTE flags. */
static void map4k(uint32_t linear, uint32_t pde_flags, uint32_t pte_flags)
{
	clear_tables();
	put(pde_of(linear), PT | pde_flags);
	put(pte_of(PT, linear), FRAME | pte_flags);
}

static bool walk(uint32_t cr0, uint32_t cr4, uint32_t linear, unsigned access, struct walk *w,
		 uint32_t *err)
{
	struct paging_regs pr = { CR0_PE | CR0_PG | cr0, PD, cr4, 0, false, { 0 } };
	*err = 0xdeadu;
	return paging_walk(&ram, &pr, linear, access, w, err);
}

/* A walk that must fault with error code want. */
static void expect_fault(uint32_t cr0, uint32_t cr4, uint32_t linear, unsigned access,
			 uint32_t want, int line)
{
	struct walk w;
	uint32_t err;
	bool ok = walk(cr0, cr4, linear, access, &w, &err);
	check_count++;
	if (ok || err != want) {
		check_failures++;
		fprintf(stderr, "%s:%d: walk of 0x%08x access %u: %s error 0x%x, want fault 0x%x\n",
			__FILE__, line, linear, access, ok ? "no fault," : "fault", ok ? 0 : err,
			want);
	}
}
#define EXPECT_FAULT(cr0, cr4, linear, access, want) \
	expect_fault(cr0, cr4, linear, access, want, __LINE__)

/* SDM 4.3: PDE from CR3[31:12] and linear[31:22], PTE from PDE[31:12] and
 * linear[21:12], the page from PTE[31:12] and linear[11:0]. */
static void test_4k_translation(void)
{
	uint32_t lin = 0x00405abcu;
	map4k(lin, PTE_P | PTE_W | PTE_U, PTE_P | PTE_W | PTE_U);
	struct walk w;
	uint32_t err;
	CHECK(walk(0, 0, lin, ACCESS_READ, &w, &err));
	CHECK_EQ(w.gpa, FRAME | 0xabc);
	CHECK_EQ(w.pde_gpa, PD + 4);
	CHECK_EQ(w.pte_gpa, PT + 5 * 4);
	CHECK(!w.large);
	CHECK(w.writable);
	CHECK(w.user);
	CHECK(!w.global);
	CHECK(!w.dirty);

	/* The top of the address space: PDE 1023, PTE 1023. */
	lin = 0xfffff123u;
	map4k(lin, PTE_P | PTE_W, PTE_P | PTE_W);
	CHECK(walk(0, 0, lin, ACCESS_READ, &w, &err));
	CHECK_EQ(w.gpa, FRAME | 0x123);
	CHECK_EQ(w.pde_gpa, PD + 1023 * 4);
	CHECK_EQ(w.pte_gpa, PT + 1023 * 4);
	CHECK(!w.user);

	/* CR3's low 12 bits (PWT, PCD) do not move the directory. */
	struct paging_regs pr = { CR0_PE | CR0_PG, PD | 0x18, 0, 0, false, { 0 } };
	CHECK(paging_walk(&ram, &pr, lin, ACCESS_READ, &w, &err));
	CHECK_EQ(w.gpa, FRAME | 0x123);

	/* The available bits (11:9) and PWT/PCD of either level change
	 * nothing; neither do the PDE's ignored bits 6 and 8 of a PDE that
	 * references a table (4.3, table 4-5). */
	lin = 0x00405abcu;
	map4k(lin, PTE_P | PTE_W | PTE_U | 0xe18 | PTE_D | PTE_G, PTE_P | PTE_W | PTE_U | 0xe18);
	CHECK(walk(0, CR4_PGE, lin, ACCESS_READ, &w, &err));
	CHECK_EQ(w.gpa, FRAME | 0xabc);
	CHECK(!w.global);   /* G of a PDE that references a table is ignored */
	CHECK(!w.dirty);    /* and so is its bit 6 */
}

/* SDM 4.3: with CR4.PSE and PDE.PS a 4 MiB page from PDE[31:22] and
 * linear[21:0]; with CR4.PSE clear, PS is ignored and the PDE references
 * a page table. */
static void test_4m_translation(void)
{
	uint32_t lin = 0x00b12345u;   /* PDE 2 */
	clear_tables();
	put(pde_of(lin), 0x80000000u | PDE_PS | PTE_P | PTE_W | PTE_U);
	struct walk w;
	uint32_t err;
	CHECK(walk(0, CR4_PSE, lin, ACCESS_READ, &w, &err));
	CHECK_EQ(w.gpa, 0x80000000u | (lin & 0x3fffff));
	CHECK(w.large);
	CHECK_EQ(w.pde_gpa, PD + 2 * 4);
	CHECK_EQ(w.pte_gpa, ~0ull);
	CHECK(w.writable);
	CHECK(w.user);
	CHECK(!w.dirty);
	CHECK(!w.global);

	/* Without CR4.PSE the same PDE references a table at 0x80000000,
	 * outside RAM: an unclaimed read, all ones (paging.h). */
	CHECK(walk(0, 0, lin, ACCESS_READ, &w, &err));
	CHECK(!w.large);
	CHECK_EQ(w.pte_gpa, 0x80000000u + ((lin >> 12) & 0x3ff) * 4);
	CHECK_EQ(w.gpa, 0xfffff000u | (lin & 0xfff));

	/* PS with CR4.PSE clear, table in RAM: an ordinary 4 KiB walk. */
	clear_tables();
	put(pde_of(lin), PT | PDE_PS | PTE_P | PTE_W);
	put(pte_of(PT, lin), FRAME | PTE_P | PTE_W);
	CHECK(walk(0, 0, lin, ACCESS_WRITE, &w, &err));
	CHECK_EQ(w.gpa, FRAME | 0x345);
	CHECK(!w.large);
	CHECK_EQ(get(pte_of(PT, lin)) & (PTE_A | PTE_D), PTE_A | PTE_D);
	CHECK_EQ(get(pde_of(lin)) & (PTE_A | PTE_D), PTE_A);
}

/* SDM 4.7: a not-present entry at either level: P = 0, W/R the access,
 * U/S whether it was a user-mode access, RSVD and I/D 0. */
static void test_not_present(void)
{
	uint32_t lin = 0x00405000u;
	for (unsigned access = 0; access < 4; access++) {
		uint32_t want = (access & ACCESS_WRITE ? PFERR_W : 0) |
				(access & ACCESS_USER ? PFERR_U : 0);
		/* PDE not present (with its other bits set: all ignored). */
		clear_tables();
		put(pde_of(lin), 0xfffffffeu);
		EXPECT_FAULT(0, 0, lin, access, want);
		EXPECT_FAULT(0, CR4_PSE, lin, access, want);
		/* PTE not present under a present PDE. */
		map4k(lin, PTE_P | PTE_W | PTE_U, 0);
		put(pte_of(PT, lin), 0xfffffffeu);
		EXPECT_FAULT(0, 0, lin, access, want);
		EXPECT_FAULT(CR0_WP, CR4_PSE | CR4_PGE, lin, access, want);
		/* A not-present PTE faults even where the PDE would not let the
		 * access through: P = 0 is what the code reports. */
		map4k(lin, PTE_P, 0);
		EXPECT_FAULT(CR0_WP, 0, lin, access, want);
		/* The neighbouring PTE is present: only this page faults. */
		map4k(lin, PTE_P | PTE_W | PTE_U, 0);
		put(pte_of(PT, lin + 4096), FRAME | PTE_P | PTE_W | PTE_U);
		struct walk w;
		uint32_t err;
		CHECK(walk(0, 0, lin + 4096, access, &w, &err));
	}
	/* A not-present walk sets no accessed bit in the PTE it did not use,
	 * and no dirty bit anywhere (4.8: nothing was written). */
	map4k(lin, PTE_P | PTE_W | PTE_U, 0);
	EXPECT_FAULT(0, 0, lin, ACCESS_WRITE, PFERR_W);
	CHECK_EQ(get(pte_of(PT, lin)), FRAME);
	CHECK_EQ(get(pde_of(lin)) & PTE_D, 0);
}

/* SDM 4.6: user-mode accesses need U/S = 1 at both levels, user writes
 * R/W = 1 at both levels whatever CR0.WP; supervisor reads are always
 * allowed (no SMAP); supervisor writes need R/W = 1 at both levels only
 * with CR0.WP = 1. Faults have P = 1. */
static void test_rights(void)
{
	uint32_t lin = 0x00405678u;
	static const uint32_t levels[4] = { 0, PTE_W, PTE_U, PTE_W | PTE_U };
	for (unsigned pd = 0; pd < 4; pd++) {
		for (unsigned pt = 0; pt < 4; pt++) {
			uint32_t both = levels[pd] & levels[pt];
			for (unsigned wp = 0; wp < 2; wp++) {
				for (unsigned access = 0; access < 4; access++) {
					bool write = access & ACCESS_WRITE, user = access & ACCESS_USER;
					bool allowed = user ? (both & PTE_U) && (!write || (both & PTE_W))
							    : !write || !wp || (both & PTE_W);
					uint32_t cr0 = wp ? CR0_WP : 0;
					map4k(lin, PTE_P | levels[pd], PTE_P | levels[pt]);
					if (!allowed) {
						EXPECT_FAULT(cr0, 0, lin, access,
							     PFERR_P | (write ? PFERR_W : 0) |
								     (user ? PFERR_U : 0));
						/* A refused write dirties nothing. */
						CHECK_EQ(get(pte_of(PT, lin)) & PTE_D, 0);
						continue;
					}
					struct walk w;
					uint32_t err;
					bool ok = walk(cr0, 0, lin, access, &w, &err);
					CHECK(ok);
					if (!ok)
						continue;
					CHECK_EQ(w.gpa, FRAME | 0x678);
					CHECK_EQ(w.user, (both & PTE_U) != 0);
					/* writable: a write of this privilege would pass */
					CHECK_EQ(w.writable, user ? (both & PTE_W) != 0
								  : !wp || (both & PTE_W));
				}
			}
		}
	}
	/* The same rules on a 4 MiB page, whose PDE is the only level. */
	lin = 0x00c00010u;
	for (unsigned f = 0; f < 4; f++) {
		for (unsigned wp = 0; wp < 2; wp++) {
			for (unsigned access = 0; access < 4; access++) {
				bool write = access & ACCESS_WRITE, user = access & ACCESS_USER;
				bool allowed = user ? (levels[f] & PTE_U) && (!write || (levels[f] & PTE_W))
						    : !write || !wp || (levels[f] & PTE_W);
				clear_tables();
				put(pde_of(lin), PDE_PS | PTE_P | levels[f]);
				struct walk w;
				uint32_t err;
				bool ok = walk(wp ? CR0_WP : 0, CR4_PSE, lin, access, &w, &err);
				CHECK_EQ(ok, allowed);
				if (!ok)
					CHECK_EQ(err, PFERR_P | (write ? PFERR_W : 0) | (user ? PFERR_U : 0));
				else
					CHECK_EQ(w.gpa, lin & 0x3fffff);
			}
		}
	}
}

/* SDM 4.8: every entry used in a translation gets A; a write sets D in
 * the entry that maps the page (the PTE, or the 4 MiB PDE), never in a
 * PDE that references a table. Bits already set stay set; no other bit
 * of the entry changes. */
static void test_accessed_dirty(void)
{
	uint32_t lin = 0x00405000u;
	struct walk w;
	uint32_t err;

	map4k(lin, PTE_P | PTE_W | PTE_U | 0x200, PTE_P | PTE_W | PTE_U | 0x400);
	CHECK(walk(0, 0, lin, ACCESS_READ | ACCESS_USER, &w, &err));
	CHECK_EQ(get(pde_of(lin)), PT | PTE_P | PTE_W | PTE_U | 0x200 | PTE_A);
	CHECK_EQ(get(pte_of(PT, lin)), FRAME | PTE_P | PTE_W | PTE_U | 0x400 | PTE_A);
	CHECK(!w.dirty);
	CHECK(walk(0, 0, lin, ACCESS_WRITE | ACCESS_USER, &w, &err));
	CHECK_EQ(get(pde_of(lin)), PT | PTE_P | PTE_W | PTE_U | 0x200 | PTE_A);
	CHECK_EQ(get(pte_of(PT, lin)), FRAME | PTE_P | PTE_W | PTE_U | 0x400 | PTE_A | PTE_D);
	CHECK(w.dirty);
	/* A later read sees the dirty mapping and clears nothing. */
	CHECK(walk(0, 0, lin, ACCESS_READ, &w, &err));
	CHECK(w.dirty);
	CHECK_EQ(get(pte_of(PT, lin)) & (PTE_A | PTE_D), PTE_A | PTE_D);

	/* A supervisor write to a read-only page with CR0.WP = 0 is a write:
	 * it dirties the page. */
	map4k(lin, PTE_P, PTE_P);
	CHECK(walk(0, 0, lin, ACCESS_WRITE, &w, &err));
	CHECK_EQ(get(pte_of(PT, lin)) & (PTE_A | PTE_D), PTE_A | PTE_D);
	CHECK_EQ(get(pde_of(lin)) & (PTE_A | PTE_D), PTE_A);

	/* A 4 MiB page: A, and on a write D, in the PDE. */
	lin = 0x00c00000u;
	clear_tables();
	put(pde_of(lin), PDE_PS | PTE_P | PTE_W);
	CHECK(walk(0, CR4_PSE, lin, ACCESS_READ, &w, &err));
	CHECK_EQ(get(pde_of(lin)), PDE_PS | PTE_P | PTE_W | PTE_A);
	CHECK(!w.dirty);
	CHECK(walk(0, CR4_PSE, lin + 0x3ffffc, ACCESS_WRITE, &w, &err));
	CHECK_EQ(get(pde_of(lin)), PDE_PS | PTE_P | PTE_W | PTE_A | PTE_D);
	CHECK(w.dirty);

	/* A refused write (CR0.WP) sets no D (nothing was written). */
	clear_tables();
	put(pde_of(lin), PDE_PS | PTE_P);
	EXPECT_FAULT(CR0_WP, CR4_PSE, lin, ACCESS_WRITE, PFERR_P | PFERR_W);
	CHECK_EQ(get(pde_of(lin)) & PTE_D, 0);

	/* A peek (the monitor's look, not the guest's) changes nothing and
	 * fails where an accessed bit is clear. */
	lin = 0x00405000u;
	map4k(lin, PTE_P | PTE_W, PTE_P | PTE_W);
	CHECK(!walk(0, 0, lin, ACCESS_PEEK, &w, &err));
	CHECK_EQ(get(pde_of(lin)), PT | PTE_P | PTE_W);
	CHECK_EQ(get(pte_of(PT, lin)), FRAME | PTE_P | PTE_W);
	put(pde_of(lin), PT | PTE_P | PTE_W | PTE_A);
	CHECK(!walk(0, 0, lin, ACCESS_PEEK, &w, &err));
	put(pte_of(PT, lin), FRAME | PTE_P | PTE_W | PTE_A);
	CHECK(walk(0, 0, lin, ACCESS_PEEK, &w, &err));
	CHECK_EQ(w.gpa, FRAME);
	CHECK_EQ(get(pte_of(PT, lin)), FRAME | PTE_P | PTE_W | PTE_A);
}

/* SDM 4.3 (reserved bits with 32-bit paging) and 4.7 (RSVD = 1, P = 1,
 * W/R and U/S as for any fault): only with CR4.PSE. Without PSE-36, bits
 * 21:13 of a 4 MiB PDE are reserved; the virtual CPU reports PAT, so bit
 * 12 of a 4 MiB PDE and bit 7 of a PTE select a PAT entry instead. */
static void test_reserved(void)
{
	uint32_t lin = 0x00c00000u;
	struct walk w;
	uint32_t err;
	for (unsigned bit = 13; bit <= 21; bit++) {
		clear_tables();
		put(pde_of(lin), PDE_PS | PTE_P | PTE_W | PTE_U | 1u << bit);
		for (unsigned access = 0; access < 4; access++)
			EXPECT_FAULT(0, CR4_PSE, lin, access,
				     PFERR_P | PFERR_RSVD | (access & ACCESS_WRITE ? PFERR_W : 0) |
					     (access & ACCESS_USER ? PFERR_U : 0));
		/* Reserved bits fault before the rights are looked at. */
		put(pde_of(lin), PDE_PS | PTE_P | 1u << bit);
		EXPECT_FAULT(CR0_WP, CR4_PSE, lin, ACCESS_WRITE | ACCESS_USER,
			     PFERR_P | PFERR_RSVD | PFERR_W | PFERR_U);
		/* and set no accessed bit */
		CHECK_EQ(get(pde_of(lin)) & PTE_A, 0);
	}
	/* The PAT bit of a 4 MiB PDE (bit 12) maps the page. */
	clear_tables();
	put(pde_of(lin), PDE_PS | PTE_P | PTE_W | PTE_U | 1u << 12);
	CHECK(walk(0, CR4_PSE, lin | 0x1234, ACCESS_WRITE | ACCESS_USER, &w, &err));
	CHECK_EQ(w.gpa, 0x1234u);   /* frame 0: bit 12 is no address bit */
	/* The PAT bit of a PTE, with CR4.PSE or without. */
	lin = 0x00405000u;
	map4k(lin, PTE_P | PTE_W | PTE_U, PTE_P | PTE_W | PTE_U | 0x80);
	CHECK(walk(0, CR4_PSE, lin, ACCESS_WRITE | ACCESS_USER, &w, &err));
	CHECK_EQ(w.gpa, FRAME);
	CHECK(walk(0, 0, lin, ACCESS_READ, &w, &err));
	CHECK_EQ(w.gpa, FRAME);
	/* Without CR4.PSE a PDE with bits 21:12 set references a table there. */
	clear_tables();
	put(pde_of(lin), PT | 0x00100000u | PDE_PS | PTE_P | PTE_W);
	put(pte_of(PT | 0x00100000u, lin), FRAME | PTE_P | PTE_W);
	CHECK(walk(0, 0, lin, ACCESS_READ, &w, &err));
	CHECK_EQ(w.gpa, FRAME);
	memset(ram.host + (PT | 0x00100000u), 0, 4096);
	/* Not-present entries have no reserved bits. */
	clear_tables();
	put(pde_of(lin), 0xfffffffeu);
	EXPECT_FAULT(0, CR4_PSE, lin, ACCESS_READ, 0);
	/* The ignored bits 6 and 8 of a PDE that references a table are not
	 * reserved, even with CR4.PSE. */
	map4k(lin, PTE_P | PTE_W | PTE_D | PTE_G, PTE_P | PTE_W);
	CHECK(walk(0, CR4_PSE | CR4_PGE, lin, ACCESS_READ, &w, &err));
}

/* SDM 4.10.2.4 / tables 4-4, 4-6: G in the entry that maps the page, only
 * with CR4.PGE. */
static void test_global(void)
{
	uint32_t lin = 0x00405000u;
	struct walk w;
	uint32_t err;
	map4k(lin, PTE_P | PTE_W, PTE_P | PTE_W | PTE_G);
	CHECK(walk(0, CR4_PGE, lin, ACCESS_READ, &w, &err));
	CHECK(w.global);
	CHECK(walk(0, 0, lin, ACCESS_READ, &w, &err));
	CHECK(!w.global);
	map4k(lin, PTE_P | PTE_W | PTE_G, PTE_P | PTE_W);
	CHECK(walk(0, CR4_PGE, lin, ACCESS_READ, &w, &err));
	CHECK(!w.global);

	lin = 0x00c00000u;
	clear_tables();
	put(pde_of(lin), PDE_PS | PTE_P | PTE_G);
	CHECK(walk(0, CR4_PSE | CR4_PGE, lin, ACCESS_READ, &w, &err));
	CHECK(w.global);
	CHECK(walk(0, CR4_PSE, lin, ACCESS_READ, &w, &err));
	CHECK(!w.global);
}

/* Tables outside RAM read as all ones, and the walk's A/D updates there
 * are dropped (paging.h); none of it may touch memory beyond RAM. */
static void test_outside_ram(void)
{
	uint32_t lin = 0x00405abcu;
	struct walk w;
	uint32_t err;

	/* The directory outside RAM: a present PDE of all ones. Without
	 * PSE it references a table at 0xfffff000, also all ones. */
	struct paging_regs pr = { CR0_PE | CR0_PG, 0xc0000000u, 0, 0, false, { 0 } };
	CHECK(paging_walk(&ram, &pr, lin, ACCESS_WRITE | ACCESS_USER, &w, &err));
	CHECK_EQ(w.pde_gpa, 0xc0000000u + 4);
	CHECK_EQ(w.pte_gpa, 0xfffff000u + 5 * 4);
	CHECK_EQ(w.gpa, 0xfffff000u | 0xabc);
	CHECK(w.writable);
	CHECK(w.user);
	/* With PSE it is a 4 MiB PDE with reserved bits set. */
	pr.cr4 = CR4_PSE;
	CHECK(!paging_walk(&ram, &pr, lin, ACCESS_READ, &w, &err));
	CHECK_EQ(err, PFERR_P | PFERR_RSVD);

	/* The directory's last bytes at the end of RAM, the table outside. */
	uint32_t top = (uint32_t)ram.size - 4096;
	memset(ram.host + top, 0, 4096);
	uint32_t e = 0x80000000u | PTE_P | PTE_W;
	memcpy(ram.host + top + 4092, &e, 4);
	pr = (struct paging_regs){ CR0_PE | CR0_PG, top, 0, 0, false, { 0 } };
	CHECK(paging_walk(&ram, &pr, 0xffc00123u, ACCESS_WRITE, &w, &err));
	CHECK_EQ(w.pde_gpa, top + 4092);
	CHECK_EQ(w.pte_gpa, 0x80000000u);
	CHECK_EQ(w.gpa, 0xfffff123u);
	memcpy(&e, ram.host + top + 4092, 4);
	CHECK_EQ(e, 0x80000000u | PTE_P | PTE_W | PTE_A);   /* the PDE in RAM got A */
	memset(ram.host + top, 0, 4096);
}

/* Page-walk writes (A and D) are the monitor's: the write log sees them. */
static void test_write_log(void)
{
	uint32_t lin = 0x00405000u;
	struct walk w;
	uint32_t err;
	uint8_t *log = calloc(ram.size / 4096, 1);
	CHECK(log != NULL);
	if (!log)
		return;
	map4k(lin, PTE_P | PTE_W, PTE_P | PTE_W);
	ram.written = log;
	CHECK(walk(0, 0, lin, ACCESS_WRITE, &w, &err));
	CHECK_EQ(log[PD / 4096], 1);
	CHECK_EQ(log[PT / 4096], 1);
	CHECK_EQ(log[FRAME / 4096], 0);   /* the data write is not the walk's */
	memset(log, 0, ram.size / 4096);
	CHECK(walk(0, 0, lin, ACCESS_WRITE, &w, &err));   /* nothing left to set */
	CHECK_EQ(log[PD / 4096], 0);
	CHECK_EQ(log[PT / 4096], 0);
	ram.written = NULL;
	free(log);
}

/* With the A20 gate closed every physical address the walk makes has bit
 * 20 cleared, as the processor's under A20M# (and QEMU's): CR3, the
 * directory entry's table address, the result; with paging off it is the
 * identity with the bit cleared. */
static void test_a20(void)
{
	struct paging_regs pr = { CR0_PE | CR0_PG, PD | A20_ADDRESS_BIT, 0, A20_ADDRESS_BIT, false, { 0 } };
	struct walk w;
	uint32_t err;
	clear_tables();
	put(pde_of(0x00400000), (PT + A20_ADDRESS_BIT) | PTE_P | PTE_W);
	put(pte_of(PT, 0x00400000), (FRAME + A20_ADDRESS_BIT) | PTE_P | PTE_W);
	CHECK(paging_walk(&ram, &pr, 0x00400123, ACCESS_READ, &w, &err));
	CHECK_EQ(w.gpa, FRAME + 0x123);
	CHECK_EQ(w.pde_gpa, pde_of(0x00400000));
	CHECK_EQ(w.pte_gpa, pte_of(PT, 0x00400000));
	CHECK(get(pde_of(0x00400000)) & PTE_A);   /* set where it was read */
	/* Open, the directory entry leads 1 MiB up, to a table of zeros. */
	pr.a20_cleared = 0;
	pr.cr3 = PD;
	CHECK(!paging_walk(&ram, &pr, 0x00400123, ACCESS_READ, &w, &err));
	CHECK_EQ(err, 0);   /* not present, a supervisor read */
	/* Paging off. */
	pr = (struct paging_regs){ CR0_PE, 0, 0, A20_ADDRESS_BIT, false, { 0 } };
	CHECK(paging_walk(&ram, &pr, 0x00134567, ACCESS_WRITE | ACCESS_USER, &w, &err));
	CHECK_EQ(w.gpa, 0x00034567);
	CHECK(w.writable && w.user && !w.large);
	pr.a20_cleared = 0;
	CHECK(paging_walk(&ram, &pr, 0x00134567, ACCESS_READ, &w, &err));
	CHECK_EQ(w.gpa, 0x00134567);
}

int main(void)
{
	if (guest_ram_init(&ram, GUEST_RAM_MIN_MIB, 0)) {
		fprintf(stderr, "guest_ram_init failed\n");
		return 1;
	}
	test_4k_translation();
	test_4m_translation();
	test_not_present();
	test_rights();
	test_accessed_dirty();
	test_reserved();
	test_global();
	test_outside_ram();
	test_write_log();
	test_a20();
	guest_ram_destroy(&ram);
	return check_report("test_paging");
}
