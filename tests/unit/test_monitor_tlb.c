/* The monitor's TLB (cpu->tlb, cpu/guest_access.c): the translations the
 * monitor's own accesses walked (descriptor tables, the TSS, exception
 * frames, callouts' operands) are kept as a processor's TLB keeps them.
 * On a board's vCPU with 32-bit paging set up by hand in its RAM: a
 * translation is held until an INVLPG of its page (cpu_tlb_invalidate:
 * of a large page, any address in it), a CR3 load, a change of the
 * paging registers or a page-table write the shadow sees;
 * a write after a read walks again and sets the dirty bit; a supervisor
 * walk is not a user's; a failed walk is not kept, so an entry made
 * present is seen without a flush. */
#include <string.h>

#include "check.h"
/* White-box: the test sets the board's vCPU's registers directly. */
#include "cpu/run_internal.h"
#include "board_harness.h"

#define PD 0x800000u
#define PT 0x801000u
#define PD2 0x802000u
#define FRAME_A 0x900000u
#define FRAME_B 0x901000u
#define FRAME_C 0x902000u
#define LARGE 0x1000000u   /* a 4 MiB frame */
#define LINEAR 0x40000000u   /* directory slot 256, table slot 0 */

static uint32_t *entry(struct board *b, uint32_t gpa)
{
	return (uint32_t *)(b->ram.host + gpa);
}

static void set_up_paging(struct board *b)
{
	memset(b->ram.host + PD, 0, 3 * 4096);
	*entry(b, PD + (LINEAR >> 22) * 4) = PT | PTE_P | PTE_W | PTE_U;
	*entry(b, PT) = FRAME_A | PTE_P | PTE_W;   /* supervisor only */
	*entry(b, PD2 + (LINEAR >> 22) * 4) = LARGE | PTE_P | PTE_W | 0x80u;   /* 4 MiB page */
	struct cpu *cpu = &b->vcpus[0].cpu;
	cpu->s.cr3 = PD;
	cpu->s.cr4 |= CR4_PSE;
	cpu->s.cr0 |= CR0_PG | CR0_PE;
	cpu->s.cpl = 0;
}

static uint64_t translated(struct cpu *cpu, uint32_t linear, unsigned access)
{
	uint64_t gpa = ~0ull;
	cpu->pf.pending = false;
	if (!cpu_translate(cpu, linear, access, &gpa))
		return ~0ull;
	return gpa;
}

static void test_held_until_flushed(struct board *b)
{
	struct cpu *cpu = &b->vcpus[0].cpu;
	cpu_tlb_flush(cpu);
	uint64_t hits = cpu->stats.tlb_hits, walks = cpu->stats.tlb_walks;
	CHECK_EQ(translated(cpu, LINEAR + 0x10, ACCESS_READ), FRAME_A + 0x10);
	CHECK_EQ(*entry(b, PT) & (PTE_A | PTE_D), PTE_A);
	CHECK_EQ(cpu->stats.tlb_walks, walks + 1);
	/* Another page of the table, read. */
	*entry(b, PT + 4) = FRAME_C | PTE_P | PTE_W;
	CHECK_EQ(translated(cpu, LINEAR + 0x1000, ACCESS_READ), FRAME_C);
	/* Changed behind the shadow's back, no INVLPG: the TLB holds it. */
	*entry(b, PT) = FRAME_B | PTE_P | PTE_W;
	CHECK_EQ(translated(cpu, LINEAR + 0x20, ACCESS_READ), FRAME_A + 0x20);
	CHECK_EQ(*entry(b, PT) & PTE_A, 0);   /* no walk made */
	CHECK_EQ(cpu->stats.tlb_hits, hits + 1);
	CHECK_EQ(cpu->stats.tlb_walks, walks + 2);
	/* INVLPG of another page leaves it; of its page, drops it only. */
	cpu_tlb_invalidate(cpu, LINEAR + 0x2000);
	CHECK_EQ(translated(cpu, LINEAR + 0x20, ACCESS_READ), FRAME_A + 0x20);
	*entry(b, PT + 4) = FRAME_A | PTE_P | PTE_W;
	cpu_tlb_invalidate(cpu, LINEAR + 0x123);
	CHECK_EQ(translated(cpu, LINEAR + 0x20, ACCESS_READ), FRAME_B + 0x20);
	CHECK_EQ(*entry(b, PT) & PTE_A, PTE_A);
	CHECK_EQ(translated(cpu, LINEAR + 0x1000, ACCESS_READ), FRAME_C);
	*entry(b, PT + 4) = 0;
	/* A look (ACCESS_PEEK, which sets no bit) neither fills nor uses it. */
	cpu_tlb_flush(cpu);
	CHECK_EQ(translated(cpu, LINEAR, ACCESS_PEEK), FRAME_B);
	*entry(b, PT) = FRAME_A | PTE_P | PTE_W | PTE_A;
	CHECK_EQ(translated(cpu, LINEAR, ACCESS_READ), FRAME_A);
	*entry(b, PT) = FRAME_B | PTE_P | PTE_W | PTE_A;
	CHECK_EQ(translated(cpu, LINEAR, ACCESS_PEEK), FRAME_B);
}

static void test_write_walks_again(struct board *b)
{
	struct cpu *cpu = &b->vcpus[0].cpu;
	*entry(b, PT) = FRAME_A | PTE_P | PTE_W;
	cpu_tlb_flush(cpu);
	CHECK_EQ(translated(cpu, LINEAR, ACCESS_READ), FRAME_A);
	CHECK_EQ(*entry(b, PT) & PTE_D, 0);
	CHECK_EQ(translated(cpu, LINEAR + 4, ACCESS_WRITE), FRAME_A + 4);
	CHECK_EQ(*entry(b, PT) & PTE_D, PTE_D);
	/* Read-only now, flushed: the write faults, the read does not. */
	*entry(b, PT) = FRAME_A | PTE_P | PTE_A | PTE_D;
	cpu_tlb_flush(cpu);
	CHECK_EQ(translated(cpu, LINEAR, ACCESS_READ), FRAME_A);
	cpu->s.cr0 |= CR0_WP;   /* a supervisor write honours R/W */
	CHECK_EQ(translated(cpu, LINEAR, ACCESS_WRITE), ~0ull);
	CHECK(cpu->pf.pending);
	CHECK_EQ(cpu->pf.error, PFERR_P | PFERR_W);
	cpu->s.cr0 &= ~CR0_WP;
	/* CR0.WP is a paging register: its change alone empties the TLB. */
	CHECK_EQ(translated(cpu, LINEAR, ACCESS_WRITE), FRAME_A);
	/* CR0.TS is not (a lazy FPU switch): the TLB keeps the translation. */
	*entry(b, PT) = FRAME_B | PTE_P | PTE_W;
	cpu->s.cr0 |= CR0_TS;
	CHECK_EQ(translated(cpu, LINEAR, ACCESS_WRITE), FRAME_A);
	cpu->s.cr0 &= ~CR0_TS;
}

static void test_privilege(struct board *b)
{
	struct cpu *cpu = &b->vcpus[0].cpu;
	*entry(b, PT) = FRAME_A | PTE_P | PTE_W;
	cpu_tlb_flush(cpu);
	CHECK_EQ(translated(cpu, LINEAR, ACCESS_READ), FRAME_A);
	/* A CPL-3 access to the supervisor page: its own walk, its #PF. */
	cpu->s.cpl = 3;
	CHECK_EQ(translated(cpu, LINEAR, ACCESS_READ), ~0ull);
	CHECK(cpu->pf.pending);
	CHECK_EQ(cpu->pf.error, PFERR_P | PFERR_U);
	CHECK_EQ(cpu->pf.cr2, LINEAR);
	cpu->s.cpl = 0;
}

static void test_no_failure_kept(struct board *b)
{
	struct cpu *cpu = &b->vcpus[0].cpu;
	*entry(b, PT) = 0;
	cpu_tlb_flush(cpu);
	CHECK_EQ(translated(cpu, LINEAR, ACCESS_READ), ~0ull);
	CHECK_EQ(cpu->pf.error, 0);
	/* Made present with no flush, as an OS does on a #PF. */
	*entry(b, PT) = FRAME_B | PTE_P | PTE_W;
	CHECK_EQ(translated(cpu, LINEAR, ACCESS_READ), FRAME_B);
}

static void test_cr3_and_tables(struct board *b)
{
	struct cpu *cpu = &b->vcpus[0].cpu;
	*entry(b, PT) = FRAME_A | PTE_P | PTE_W;
	cpu_tlb_flush(cpu);
	CHECK_EQ(translated(cpu, LINEAR + 0x234, ACCESS_READ), FRAME_A + 0x234);
	/* Another directory: its own translation, a 4 MiB page. */
	cpu->s.cr3 = PD2;
	CHECK_EQ(translated(cpu, LINEAR + 0x1234, ACCESS_READ), LARGE + 0x1234);
	CHECK_EQ(translated(cpu, LINEAR + 0x3ff000, ACCESS_READ), LARGE + 0x3ff000);
	/* An INVLPG anywhere in the 4 MiB page drops its every slot. */
	*entry(b, PD2 + (LINEAR >> 22) * 4) = (LARGE + (4u << 20)) | PTE_P | PTE_W | 0x80u;
	CHECK_EQ(translated(cpu, LINEAR + 0x1234, ACCESS_READ), LARGE + 0x1234);
	cpu_tlb_invalidate(cpu, LINEAR + 0x200000);
	CHECK_EQ(translated(cpu, LINEAR + 0x1234, ACCESS_READ), LARGE + (4u << 20) + 0x1234);
	CHECK_EQ(translated(cpu, LINEAR + 0x3ff000, ACCESS_READ), LARGE + (4u << 20) + 0x3ff000);
	cpu->s.cr3 = PD;
	CHECK_EQ(translated(cpu, LINEAR, ACCESS_READ), FRAME_A);
	/* The same CR3 loaded again (cpu_paging_changed, as MOV CR3 and a
	 * task switch call it) empties the TLB. */
	*entry(b, PT) = FRAME_B | PTE_P | PTE_W;
	CHECK_EQ(translated(cpu, LINEAR, ACCESS_READ), FRAME_A);
	cpu_paging_changed(cpu, cpu->s.cr0, cpu->s.cr4);
	CHECK_EQ(translated(cpu, LINEAR, ACCESS_READ), FRAME_B);

	/* A page-table write the shadow sees empties every vCPU's TLB: the
	 * table is one the shadow derived an entry from, the write a store
	 * it is told of (as a traced store's or a callout's). */
	struct shadow *sh = &b->sh;
	CHECK_EQ(cpu_select_window(cpu), 0);
	uint64_t gpa;
	uint32_t error;
	CHECK_EQ(shadow_fault(sh, &cpu->s, LINEAR, false, &gpa, &error), SHADOW_FILLED);
	CHECK(shadow_page_is_table(sh, PT >> 12));
	CHECK_EQ(translated(cpu, LINEAR, ACCESS_READ), FRAME_B);
	uint32_t old = *entry(b, PT);
	*entry(b, PT) = FRAME_C | PTE_P | PTE_W;
	shadow_after_write(sh, PT, &old, 1);
	CHECK_EQ(translated(cpu, LINEAR, ACCESS_READ), FRAME_C);
	/* And a shadow flush. */
	*entry(b, PT) = FRAME_A | PTE_P | PTE_W;
	CHECK_EQ(translated(cpu, LINEAR, ACCESS_READ), FRAME_C);
	shadow_flush(sh);
	CHECK_EQ(translated(cpu, LINEAR, ACCESS_READ), FRAME_A);
}

int main(int argc, char **argv)
{
	struct board_config cfg = { .ram_mib = 64, .serial = SERIAL_NONE, .tcache_mib = 16 };
	int status = 1;
	struct board *b = harness_board("test_monitor_tlb", argc, argv, cfg, &status);
	if (!b)
		return status;
	set_up_paging(b);
	test_held_until_flushed(b);
	test_write_walks_again(b);
	test_privilege(b);
	test_no_failure_kept(b);
	test_cr3_and_tables(b);
	board_destroy(b);
	return check_report("test_monitor_tlb");
}
