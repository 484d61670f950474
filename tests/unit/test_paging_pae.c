/* The PAE page walk (mmu/paging.c) against the Intel SDM, vol. 3, ch. 4:
 * 4.4 for the PDPTEs (loaded at MOV CR3 and cached), the directories and
 * tables of 8-byte entries and their reserved bits, 4.6 for the access
 * rights and XD, 4.7 for the #PF error code (I/D only with EFER.NXE),
 * 4.8 for the accessed and dirty bits. The virtual CPU reports a physical
 * address width of 32 bits and no PAT, so bits 62:32 of every entry, bit
 * 12 of a 2 MiB PDE and bit 7 of a PTE are reserved. */
#include "check.h"
#include "isa/vcpu.h"
#include "mmu/guest_ram.h"
#include "mmu/paging.h"

#include <stdlib.h>

#define PDPT 0x1020u      /* the PDPT: 32-byte aligned, not page aligned */
#define PD 0x2000u        /* the directory of PDPTE 1 (1 GiB to 2 GiB) */
#define PT 0x3000u
#define FRAME 0x30000u
#define LARGE 0x400000u   /* a 2 MiB frame */
#define LIN 0x40605abcu   /* PDPTE 1, PDE 3, PTE 5 */

static struct guest_ram ram;

static void put64(uint32_t gpa, uint64_t v)
{
	memcpy(ram.host + gpa, &v, 8);
}

static uint64_t get64(uint32_t gpa)
{
	uint64_t v;
	memcpy(&v, ram.host + gpa, 8);
	return v;
}

static uint32_t pde_of(uint32_t linear)
{
	return PD + ((linear >> 21) & 0x1ff) * 8;
}

static uint32_t pte_of(uint32_t linear)
{
	return PT + ((linear >> 12) & 0x1ff) * 8;
}

static void clear_tables(void)
{
	memset(ram.host + 0x1000, 0, 3 * 4096);
}

/* PDPTE 1 names PD; linear's 4 KiB page maps FRAME through PT. */
static void map4k(uint32_t linear, uint64_t pde_flags, uint64_t pte_flags)
{
	clear_tables();
	put64(PDPT + 8, PD | PTE_P);
	put64(pde_of(linear), PT | pde_flags);
	put64(pte_of(linear), FRAME | pte_flags);
}

static void map2m(uint32_t linear, uint64_t pde_flags)
{
	clear_tables();
	put64(PDPT + 8, PD | PTE_P);
	put64(pde_of(linear), LARGE | PDE_PS | pde_flags);
}

static struct paging_regs regs(uint32_t cr0, bool nxe)
{
	struct paging_regs pr = { CR0_PE | CR0_PG | cr0, PDPT, CR4_PAE, 0, nxe, { 0 } };
	CHECK(paging_load_pdptes(&ram, PDPT, 0, pr.pdpte));
	return pr;
}

static bool walk(uint32_t cr0, bool nxe, uint32_t linear, unsigned access, struct walk *w,
		 uint32_t *err)
{
	struct paging_regs pr = regs(cr0, nxe);
	*err = 0xdeadu;
	return paging_walk(&ram, &pr, linear, access, w, err);
}

static void expect_fault(uint32_t cr0, bool nxe, uint32_t linear, unsigned access, uint32_t want,
			 int line)
{
	struct walk w;
	uint32_t err;
	bool ok = walk(cr0, nxe, linear, access, &w, &err);
	check_count++;
	if (ok || err != want) {
		check_failures++;
		fprintf(stderr, "%s:%d: walk of 0x%08x access %u: %s error 0x%x, want fault 0x%x\n",
			__FILE__, line, linear, access, ok ? "no fault," : "fault", ok ? 0 : err, want);
	}
}
#define EXPECT_FAULT(cr0, nxe, linear, access, want) \
	expect_fault(cr0, nxe, linear, access, want, __LINE__)

static void expect_ok(uint32_t cr0, bool nxe, uint32_t linear, unsigned access, int line)
{
	struct walk w;
	uint32_t err;
	check_count++;
	if (!walk(cr0, nxe, linear, access, &w, &err)) {
		check_failures++;
		fprintf(stderr, "%s:%d: walk of 0x%08x access %u faulted 0x%x\n", __FILE__, line,
			linear, access, err);
	}
}
#define EXPECT_OK(cr0, nxe, linear, access) expect_ok(cr0, nxe, linear, access, __LINE__)

/* 4.4.2: PDPTE from CR3[31:5] and linear[31:30], PDE from PDPTE[51:12] and
 * linear[29:21], PTE from PDE[51:12] and linear[20:12]. */
static void test_translation(void)
{
	struct walk w;
	uint32_t err;
	map4k(LIN, PTE_P | PTE_W | PTE_U, PTE_P | PTE_W | PTE_U);
	CHECK(walk(0, false, LIN, ACCESS_READ, &w, &err));
	CHECK_EQ(w.gpa, FRAME | 0xabc);
	CHECK_EQ(w.pde_gpa, PD + 3 * 8);
	CHECK_EQ(w.pte_gpa, PT + 5 * 8);
	CHECK(!w.large && w.writable && w.user && !w.no_exec);

	map2m(LIN, PTE_P | PTE_W);
	CHECK(walk(0, false, LIN, ACCESS_READ, &w, &err));
	CHECK_EQ(w.gpa, LARGE | (LIN & 0x1fffff));
	CHECK_EQ(w.pte_gpa, ~0ull);
	CHECK(w.large && !w.user);

	/* PS counts without CR4.PSE (4.4.2); G with PGE only at the leaf. */
	map2m(LIN, PTE_P | PTE_G);
	struct paging_regs pr = regs(0, false);
	pr.cr4 |= CR4_PGE;
	CHECK(paging_walk(&ram, &pr, LIN, ACCESS_READ, &w, &err));
	CHECK(w.global);

	/* PDPTEs are cached: the table in memory changes nothing until the
	 * next load. */
	map4k(LIN, PTE_P | PTE_W | PTE_U, PTE_P | PTE_W | PTE_U);
	pr = regs(0, false);
	put64(PDPT + 8, 0);
	CHECK(paging_walk(&ram, &pr, LIN, ACCESS_READ, &w, &err));
	CHECK(paging_load_pdptes(&ram, PDPT, 0, pr.pdpte));
	CHECK(!paging_walk(&ram, &pr, LIN, ACCESS_READ, &w, &err));
	CHECK_EQ(err, 0);
}

/* 4.4.1: a present PDPTE with a reserved bit makes the load fail (#GP). */
static void test_pdpte_load(void)
{
	uint64_t p[4] = { 1, 2, 3, 4 };
	clear_tables();
	CHECK(paging_load_pdptes(&ram, PDPT, 0, p));
	CHECK_EQ(p[0], 0);
	static const uint64_t bad[] = { 0x2, 0x4, 0x20, 0x40, 0x80, 0x100, 1ull << 36, 1ull << 51, 1ull << 63 };
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put64(PDPT + 24, PD | PTE_P | bad[i]);
		p[0] = 7;
		CHECK(!paging_load_pdptes(&ram, PDPT, 0, p));
		CHECK_EQ(p[0], 7);   /* nothing loaded */
		put64(PDPT + 24, PD | bad[i]);   /* not present: anything goes */
		CHECK(paging_load_pdptes(&ram, PDPT, 0, p));
	}
	/* PWT, PCD and the ignored bits 11:9 are allowed. */
	put64(PDPT + 24, PD | PTE_P | 0x18 | 0xe00);
	CHECK(paging_load_pdptes(&ram, PDPT, 0, p));
	/* Outside RAM the table reads all ones. */
	CHECK(!paging_load_pdptes(&ram, 0xffffffe0u, 0, p));
}

/* 4.7: P clear at each level, with W/R and U/S as the access. */
static void test_not_present(void)
{
	clear_tables();
	EXPECT_FAULT(0, false, LIN, ACCESS_READ, 0);   /* PDPTE */
	EXPECT_FAULT(0, true, LIN, ACCESS_WRITE | ACCESS_USER, PFERR_W | PFERR_U);
	put64(PDPT + 8, PD | PTE_P);
	EXPECT_FAULT(0, false, LIN, ACCESS_USER, PFERR_U);   /* PDE */
	map4k(LIN, PTE_P | PTE_W | PTE_U, 0);
	EXPECT_FAULT(0, false, LIN, ACCESS_WRITE, PFERR_W);   /* PTE */
	/* A fetch: I/D only with NXE (4.7; AMD's APM 8.4.2 alike). */
	EXPECT_FAULT(0, false, LIN, ACCESS_FETCH, 0);
	EXPECT_FAULT(0, true, LIN, ACCESS_FETCH | ACCESS_USER, PFERR_I | PFERR_U);
}

static void test_reserved(void)
{
	const uint32_t rsvd = PFERR_P | PFERR_RSVD;
	/* Bits above the 36-bit physical address (MAXPHYADDR, CPUID
	 * 0x80000008), in a PDE and a PTE: 36 up to 62. */
	for (unsigned bit = 36; bit < 63; bit += 5) {
		map4k(LIN, PTE_P | PTE_W | PTE_U | (1ull << bit), PTE_P | PTE_W | PTE_U);
		EXPECT_FAULT(0, false, LIN, ACCESS_READ, rsvd);
		map4k(LIN, PTE_P | PTE_W | PTE_U, PTE_P | PTE_W | PTE_U | (1ull << bit));
		EXPECT_FAULT(0, true, LIN, ACCESS_WRITE | ACCESS_USER, rsvd | PFERR_W | PFERR_U);
		EXPECT_FAULT(0, true, LIN, ACCESS_FETCH, rsvd | PFERR_I);
	}
	/* XD without NXE is reserved, at either level. */
	map4k(LIN, PTE_P | PTE_W | PTE_U | PAE_XD, PTE_P | PTE_W | PTE_U);
	EXPECT_FAULT(0, false, LIN, ACCESS_READ, rsvd);
	EXPECT_OK(0, true, LIN, ACCESS_READ);
	map4k(LIN, PTE_P | PTE_W | PTE_U, PTE_P | PTE_W | PTE_U | PAE_XD);
	EXPECT_FAULT(0, false, LIN, ACCESS_READ, rsvd);
	EXPECT_OK(0, true, LIN, ACCESS_WRITE);
	/* PAT of a PTE, and bits 20:12 of a 2 MiB PDE (PAT and the rest). */
	map4k(LIN, PTE_P | PTE_W | PTE_U, PTE_P | PTE_W | PTE_U | PAE_PTE_RSVD);
	EXPECT_FAULT(0, false, LIN, ACCESS_READ, rsvd);
	for (unsigned bit = 12; bit <= 20; bit += 4) {
		map2m(LIN, PTE_P | PTE_W | (1ull << bit));
		EXPECT_FAULT(0, false, LIN, ACCESS_READ, rsvd);
	}
	/* Bits 35:32 are address bits: a frame above 4 GiB, a 2 MiB page
	 * too, and a table there (outside RAM: it reads all ones, whose
	 * reserved bits fault). */
	struct walk w;
	uint32_t err;
	map4k(LIN, PTE_P | PTE_W | PTE_U, PTE_P | PTE_W | PTE_U | (0xfull << 32));
	CHECK(walk(0, false, LIN, ACCESS_READ, &w, &err));
	CHECK_EQ(w.gpa, (0xfull << 32) | FRAME | (LIN & 0xfff));
	map2m(LIN, PTE_P | PTE_W | (1ull << 33));
	CHECK(walk(0, false, LIN, ACCESS_READ, &w, &err));
	CHECK_EQ(w.gpa, (1ull << 33) | LARGE | (LIN & 0x1fffff));
	map4k(LIN, PTE_P | PTE_W | (1ull << 32), 0);
	EXPECT_FAULT(0, false, LIN, ACCESS_READ, rsvd);
	/* A PDE with reserved bits beats a not-present PTE under it. */
	map4k(LIN, PTE_P | (1ull << 40), 0);
	EXPECT_FAULT(0, false, LIN, ACCESS_READ, rsvd);
	/* A not-present entry's other bits are ignored. */
	map4k(LIN, PTE_P | PTE_W, (1ull << 40) | PAE_XD);
	EXPECT_FAULT(0, false, LIN, ACCESS_READ, 0);
}

/* 4.6: U/S and R/W of the PDE and PTE combined, CR0.WP, and XD (either
 * level) for fetches with NXE. */
static void test_rights(void)
{
	const uint32_t p = PFERR_P;
	map4k(LIN, PTE_P | PTE_W | PTE_U, PTE_P | PTE_U);
	EXPECT_FAULT(CR0_WP, false, LIN, ACCESS_WRITE, p | PFERR_W);
	EXPECT_OK(0, false, LIN, ACCESS_WRITE);   /* WP clear: supervisor writes go */
	EXPECT_FAULT(0, false, LIN, ACCESS_WRITE | ACCESS_USER, p | PFERR_W | PFERR_U);
	map4k(LIN, PTE_P | PTE_U, PTE_P | PTE_W | PTE_U);   /* the PDE forbids */
	EXPECT_FAULT(CR0_WP, false, LIN, ACCESS_WRITE, p | PFERR_W);
	map4k(LIN, PTE_P | PTE_W, PTE_P | PTE_W | PTE_U);   /* supervisor PDE */
	EXPECT_FAULT(0, false, LIN, ACCESS_USER, p | PFERR_U);
	EXPECT_FAULT(0, true, LIN, ACCESS_USER | ACCESS_FETCH, p | PFERR_U | PFERR_I);
	EXPECT_OK(0, false, LIN, ACCESS_READ);

	map4k(LIN, PTE_P | PTE_W | PTE_U, PTE_P | PTE_W | PTE_U | PAE_XD);
	EXPECT_FAULT(0, true, LIN, ACCESS_FETCH, p | PFERR_I);
	EXPECT_FAULT(0, true, LIN, ACCESS_FETCH | ACCESS_USER, p | PFERR_I | PFERR_U);
	struct walk w;
	uint32_t err;
	CHECK(walk(0, true, LIN, ACCESS_READ, &w, &err));
	CHECK(w.no_exec);
	map4k(LIN, PTE_P | PTE_W | PTE_U | PAE_XD, PTE_P | PTE_W | PTE_U);
	EXPECT_FAULT(0, true, LIN, ACCESS_FETCH, p | PFERR_I);
	map2m(LIN, PTE_P | PTE_W | PAE_XD);
	EXPECT_FAULT(0, true, LIN, ACCESS_FETCH, p | PFERR_I);
	map4k(LIN, PTE_P | PTE_W | PTE_U, PTE_P | PTE_W | PTE_U);
	EXPECT_OK(0, true, LIN, ACCESS_FETCH);
	CHECK(walk(0, true, LIN, ACCESS_READ, &w, &err));
	CHECK(!w.no_exec);
}

/* 4.8: A at each level used, D at the leaf on a write; only the low
 * dword changes, the high one (XD, here) stays. A fault sets nothing. */
static void test_accessed_dirty(void)
{
	struct walk w;
	uint32_t err;
	map4k(LIN, PTE_P | PTE_W | PAE_XD, PTE_P | PTE_W | PAE_XD);
	CHECK(walk(0, true, LIN, ACCESS_READ, &w, &err));
	CHECK_EQ(get64(pde_of(LIN)), PT | PTE_P | PTE_W | PTE_A | PAE_XD);
	CHECK_EQ(get64(pte_of(LIN)), FRAME | PTE_P | PTE_W | PTE_A | PAE_XD);
	CHECK(walk(0, true, LIN, ACCESS_WRITE, &w, &err));
	CHECK_EQ(get64(pde_of(LIN)), PT | PTE_P | PTE_W | PTE_A | PAE_XD);   /* no D in a PDE */
	CHECK_EQ(get64(pte_of(LIN)), FRAME | PTE_P | PTE_W | PTE_A | PTE_D | PAE_XD);
	CHECK(w.dirty);
	CHECK_EQ(get64(PDPT + 8), PD | PTE_P);   /* a PDPTE has no A bit */

	map2m(LIN, PTE_P | PTE_W);
	CHECK(walk(0, false, LIN, ACCESS_WRITE, &w, &err));
	CHECK_EQ(get64(pde_of(LIN)), LARGE | PDE_PS | PTE_P | PTE_W | PTE_A | PTE_D);

	map4k(LIN, PTE_P | PTE_W, PTE_P);
	EXPECT_FAULT(CR0_WP, false, LIN, ACCESS_WRITE, PFERR_P | PFERR_W);
	CHECK(walk(CR0_WP, false, LIN, ACCESS_PEEK, &w, &err) == false);   /* A clear: a look fails */
	CHECK_EQ(get64(pte_of(LIN)), FRAME | PTE_P);
}

int main(void)
{
	if (guest_ram_init(&ram, GUEST_RAM_MIN_MIB, 0)) {
		fprintf(stderr, "guest_ram_init failed\n");
		return 1;
	}
	test_translation();
	test_pdpte_load();
	test_not_present();
	test_reserved();
	test_rights();
	test_accessed_dirty();
	guest_ram_destroy(&ram);
	return check_report("test_paging_pae");
}
