/* The shadow's hidden-fault fill (mmu/shadow.c) on its own, with page
 * tables written by hand into guest RAM: how many host mmap calls a fault
 * takes and what they map. The faulting page goes in one host mapping
 * with the neighbours that follow it in frame as in address, and the
 * prefetch maps the rest of what the guest already touched. */
#include "check.h"
#include "isa/vcpu.h"
#include "mmu/guest_ram.h"
#include "mmu/paging.h"
#include "mmu/shadow.h"

static struct guest_ram ram;
static struct shadow sh;

#define PD 0x1000u
#define PT 0x2000u
#define BASE 0x00400000u    /* the table's 4 MiB region */
#define LARGE 0x00800000u   /* a 4 MiB page there, onto physical 4 MiB */

static void put32(uint32_t gpa, uint32_t v)
{
	memcpy(ram.host + gpa, &v, 4);
}

/* Linear page i of the table's region onto frame, accessed (and dirty). */
static void map4k(unsigned i, uint32_t frame)
{
	put32(PT + i * 4, frame << 12 | PTE_P | PTE_W | PTE_A | PTE_D);
}

static bool mapped(uint32_t va)
{
	return shadow_current_ptr(&sh, va, 4, false) != NULL;
}

/* CPL 0 with paging on, CR0.WP set, PSE on, CR3 = PD. */
static struct vcpu_state paged_state(void)
{
	struct vcpu_state s;
	memset(&s, 0, sizeof(s));
	s.cr0 = CR0_PE | CR0_PG | CR0_WP;
	s.cr3 = PD;
	s.cr4 = CR4_PSE;
	return s;
}

static enum shadow_fault_kind fault(const struct vcpu_state *s, uint32_t va)
{
	uint64_t gpa;
	uint32_t err;
	return shadow_fault(&sh, s, va, false, &gpa, &err);
}

/* The host's own protection of addr, from /proc/self/maps: 'w' or not,
 * '?' where nothing maps it. */
static char host_write(const uint8_t *addr)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512], perms[8], result = '?';
	unsigned long lo, hi;
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && (uintptr_t)addr >= lo &&
		    (uintptr_t)addr < hi)
			result = perms[1];
	if (f)
		fclose(f);
	return result;
}

/* RAM and a shadow, with directories PD and pd2 both holding PT for the
 * region at BASE (supervisor). False (a failed check) if set-up fails. */
static bool two_directories(uint32_t pd2)
{
	if (guest_ram_init(&ram, 16, 0) || shadow_init(&sh, &ram)) {
		fprintf(stderr, "setup failed\n");
		CHECK(false);
		return false;
	}
	put32(PD + (BASE >> 22) * 4, PT | PTE_P | PTE_W | PTE_A);
	put32(pd2 + (BASE >> 22) * 4, PT | PTE_P | PTE_W | PTE_A);
	return true;
}

/* Pages that turn code while a window is not in use are read-only there
 * from when it is selected again (held back until then, and applied in
 * address order, neighbours in one call), and one protected and released
 * meanwhile stays writable; in the paging windows and in the identity
 * window alike, whose list of held-back pages may overflow. */
static void test_held_back_protection(void)
{
	const uint32_t pd2 = 0x3000;
	if (!two_directories(pd2))
		return;
	for (unsigned i = 0; i < 16; i++)
		map4k(i, 0x100 + i);
	struct vcpu_state a = paged_state(), b = a;
	b.cr3 = pd2;
	struct window *wa, *wb;
	CHECK_EQ(shadow_select(&sh, &b, true, &wb), 0);
	CHECK_EQ(fault(&b, BASE), SHADOW_FILLED);
	CHECK_EQ(shadow_select(&sh, &a, true, &wa), 0);
	CHECK_EQ(fault(&a, BASE), SHADOW_FILLED);
	CHECK(wa != wb);
	for (unsigned i = 0; i < 16; i++)
		CHECK_EQ(host_write(wb->base + BASE + i * 4096), 'w');

	/* Pages 3, 4 and 8 turn code, 10 turns code and back. */
	const unsigned code[] = { 8, 4, 10, 3 };
	for (unsigned i = 0; i < 4; i++)
		shadow_protect_code(&sh, 0x100 + code[i], true);
	shadow_protect_code(&sh, 0x10a, false);
	CHECK_EQ(host_write(wa->base + BASE + 3 * 4096), '-');
	CHECK_EQ(host_write(wa->base + BASE + 8 * 4096), '-');
	CHECK_EQ(host_write(wb->base + BASE + 3 * 4096), 'w');   /* held back */

	CHECK_EQ(shadow_select(&sh, &b, true, &wb), 0);
	for (unsigned i = 0; i < 16; i++)
		CHECK_EQ(host_write(wb->base + BASE + i * 4096), (i == 3 || i == 4 || i == 8) ? '-' : 'w');
	put32(0x105000, 0x105);
	CHECK_EQ(*(uint32_t *)(wb->base + BASE + 5 * 4096), 0x105);

	/* The identity window (paging off) the same: at once while it is in
	 * use, else from when it is selected again. */
	struct vcpu_state off = a;
	off.cr0 = CR0_PE;
	struct window *id;
	CHECK_EQ(shadow_select(&sh, &off, true, &id), 0);
	CHECK_EQ(host_write(id->base + 0x108000), '-');   /* turned code while paging was on */
	CHECK_EQ(host_write(id->base + 0x10a000), 'w');
	shadow_protect_code(&sh, 0x120, true);
	CHECK_EQ(host_write(id->base + 0x120000), '-');
	CHECK_EQ(shadow_select(&sh, &a, true, &wa), 0);
	shadow_protect_code(&sh, 0x120, false);
	shadow_protect_code(&sh, 0x121, true);
	CHECK_EQ(host_write(id->base + 0x120000), '-');   /* held back */
	CHECK_EQ(host_write(id->base + 0x121000), 'w');
	CHECK_EQ(shadow_select(&sh, &off, true, &id), 0);
	CHECK_EQ(host_write(id->base + 0x120000), 'w');
	CHECK_EQ(host_write(id->base + 0x121000), '-');
	CHECK_EQ(host_write(id->base + 0x108000), '-');
	/* More changes held back than the identity window lists: every page
	 * is looked at when it is selected. */
	CHECK_EQ(shadow_select(&sh, &a, true, &wa), 0);
	for (unsigned k = 0; k < SHADOW_IDENTITY_HELD_MAX; k++)
		shadow_protect_code(&sh, 0x130, k % 2 == 0);
	shadow_protect_code(&sh, 0x121, false);
	shadow_protect_code(&sh, 0x131, true);
	CHECK(sh.identity_stale);
	CHECK_EQ(shadow_select(&sh, &off, true, &id), 0);
	CHECK(!sh.identity_stale && sh.nidentity_held == 0);
	CHECK_EQ(host_write(id->base + 0x130000), 'w');
	CHECK_EQ(host_write(id->base + 0x121000), 'w');
	CHECK_EQ(host_write(id->base + 0x131000), '-');
	CHECK_EQ(host_write(id->base + 0x108000), '-');
	shadow_destroy(&sh);
	guest_ram_destroy(&ram);
}

/* Sets page i's entry to e as a guest's store would, through the path
 * the monitor's traced writes take. */
static void write_entry(unsigned i, uint32_t e)
{
	uint32_t old;
	memcpy(&old, ram.host + PT + i * 4, 4);
	put32(PT + i * 4, e);
	shadow_after_write(&sh, PT + i * 4, &old, 1);
}

/* A temporary mapping slot (kmap_local): once an entry was cleared and
 * invalidated at once, the slot's later entries are never mapped: a fault
 * there is SHADOW_SLOT (the instruction goes through the callouts), and
 * shadow_fill_anyway maps it when asked, until its next INVLPG. A page
 * beside it, one whose INVLPG came after another's, the same page in
 * another window, or a user page is not a slot. */
static void test_mapping_slot(void)
{
	if (guest_ram_init(&ram, 16, 0) || shadow_init(&sh, &ram)) {
		fprintf(stderr, "setup failed\n");
		CHECK(false);
		return;
	}
	/* The directory entry lets CPL 3 in: each table entry decides. */
	put32(PD + (BASE >> 22) * 4, PT | PTE_P | PTE_W | PTE_U | PTE_A);
	map4k(0, 0x100);
	map4k(1, 0x101);
	struct vcpu_state s = paged_state();
	struct window *win;
	CHECK_EQ(shadow_select(&sh, &s, true, &win), 0);
	CHECK_EQ(fault(&s, BASE), SHADOW_FILLED);
	CHECK(mapped(BASE) && mapped(BASE + 4096));
	CHECK(!shadow_is_slot(&sh, BASE));

	/* Page 1: cleared, then an INVLPG of another page: no slot. */
	write_entry(1, 0);
	shadow_invlpg(&sh, BASE + 2 * 4096);
	shadow_invlpg(&sh, BASE + 4096);
	CHECK(!shadow_is_slot(&sh, BASE + 4096) && !shadow_is_slot(&sh, BASE + 2 * 4096));

	/* Page 0: cleared and invalidated at once, three times over. */
	for (unsigned round = 0; round < 3; round++) {
		write_entry(0, 0);
		CHECK(!mapped(BASE));
		shadow_invlpg(&sh, BASE);
		CHECK(shadow_is_slot(&sh, BASE));
		CHECK(shadow_is_slot(&sh, BASE + 4095) && !shadow_is_slot(&sh, BASE + 4096));
		uint32_t frame = 0x110 + round;
		put32(frame * 4096 + 8, 0xc0de0000u + round);
		write_entry(0, frame << 12 | PTE_P | PTE_W | PTE_A | PTE_D);
		CHECK(!mapped(BASE));   /* not mapped when written, as before */
		uint64_t gpa = 0;
		uint32_t err;
		uint64_t maps = sh.stats.map_calls;
		CHECK_EQ(shadow_fault(&sh, &s, BASE + 8, true, &gpa, &err), SHADOW_SLOT);
		CHECK_EQ(gpa, (uint64_t)frame * 4096 + 8);
		CHECK_EQ(sh.stats.map_calls, maps);
		CHECK(!mapped(BASE));
		if (round == 1) {
			/* An instruction the callouts cannot take: mapped. */
			CHECK_EQ(shadow_fill_anyway(&sh, &s, BASE + 8, false, &gpa, &err, &sh.stats.slot_fills),
				 SHADOW_FILLED);
			CHECK(mapped(BASE));
			if (mapped(BASE))
				CHECK_EQ(*(uint32_t *)(win->base + BASE + 8), 0xc0de0001u);
			CHECK_EQ(sh.stats.slot_fills, 1);
		}
	}
	/* A user page cleared and invalidated the same way (a munmap) is
	 * mapped as ever when its next entry comes: the kernel's accesses to
	 * it stay plain. */
	const uint32_t user_entry = PTE_P | PTE_W | PTE_U | PTE_A | PTE_D;
	write_entry(5, 0x120u << 12 | user_entry);
	CHECK_EQ(fault(&s, BASE + 5 * 4096), SHADOW_FILLED);
	write_entry(5, 0);
	shadow_invlpg(&sh, BASE + 5 * 4096);
	CHECK(shadow_is_slot(&sh, BASE + 5 * 4096));
	write_entry(5, 0x121u << 12 | user_entry);
	CHECK_EQ(fault(&s, BASE + 5 * 4096), SHADOW_FILLED);
	CHECK(mapped(BASE + 5 * 4096));
	/* Not a slot in another window (a user view of the same tables). */
	struct vcpu_state u = s;
	u.cpl = 3;
	put32(PT + 3 * 4, 0x103u << 12 | user_entry);
	CHECK_EQ(shadow_select(&sh, &u, true, &win), 0);
	CHECK(!shadow_is_slot(&sh, BASE));
	CHECK_EQ(fault(&u, BASE + 3 * 4096), SHADOW_FILLED);
	shadow_destroy(&sh);
	guest_ram_destroy(&ram);
}

/* Host unmaps of dropped entries wait for the guest's TLB flush and go in
 * one call where nothing mapped lies between them: an INVLPG of a page
 * they hold, the selection after a CR3 load, a mapping into their range,
 * a page they may hold writable turning a table or code carry them out;
 * an INVLPG elsewhere, the same window selected again without a CR3 load
 * (another vCPU held the lock), a CR3 load that leaves the window and a
 * copy-on-write break elsewhere do not. Past SHADOW_PENDING_UNMAPS
 * ranges one goes. */
static void test_held_back_unmaps(void)
{
	const uint32_t pd2 = 0x3000;
	if (!two_directories(pd2))
		return;
	/* Pages 0, 1, 5, 7 and 9 only, each in a frame of its own. */
	const unsigned pages[] = { 0, 1, 5, 7, 9 };
	struct vcpu_state s = paged_state(), other = s;
	other.cr3 = pd2;
	struct window *win;
	CHECK_EQ(shadow_select(&sh, &s, true, &win), 0);
	for (unsigned k = 0; k < 5; k++) {
		map4k(pages[k], 0x100 + 2 * pages[k]);
		CHECK_EQ(fault(&s, BASE + pages[k] * 4096), SHADOW_FILLED);
		CHECK_EQ(host_write(win->base + BASE + pages[k] * 4096), 'w');
	}
	uint8_t *at = win->base + BASE;

	/* 0 dropped: held. 5 dropped: 1 lies between, still mapped, so a
	 * range of its own. 1 dropped: it joins 0's, and then nothing mapped
	 * lies between that and 5's: one range. */
	uint64_t unmaps = sh.stats.unmap_calls;
	write_entry(0, 0);
	write_entry(5, 0);
	CHECK_EQ(host_write(at), 'w');
	CHECK_EQ(host_write(at + 5 * 4096), 'w');
	write_entry(1, 0);
	CHECK_EQ(host_write(at + 4096), 'w');
	CHECK_EQ(sh.stats.unmap_calls, unmaps);

	/* Neither an INVLPG of another page nor the window selected again. */
	shadow_invlpg(&sh, BASE + 9 * 4096);
	shadow_invlpg(&sh, BASE + 6 * 4096);
	sh.cur_view = -2;
	CHECK_EQ(shadow_select(&sh, &s, false, &win), 0);
	CHECK_EQ(shadow_select(&sh, &s, false, &win), 0);
	CHECK_EQ(host_write(at + 4096), 'w');
	CHECK_EQ(host_write(at + 5 * 4096), 'w');
	CHECK_EQ(sh.stats.unmap_calls, unmaps);
	/* An INVLPG of a page between them: the range at once, one call. */
	shadow_invlpg(&sh, BASE + 3 * 4096);
	CHECK_EQ(host_write(at), '-');
	CHECK_EQ(host_write(at + 4096), '-');
	CHECK_EQ(host_write(at + 5 * 4096), '-');
	CHECK_EQ(sh.stats.unmap_calls, unmaps + 1);
	CHECK_EQ(host_write(at + 7 * 4096), 'w');

	/* A CR3 load of the same directory. */
	write_entry(7, 0);
	CHECK_EQ(host_write(at + 7 * 4096), 'w');
	shadow_tlb_flushed(&sh);
	CHECK_EQ(host_write(at + 7 * 4096), 'w');
	CHECK_EQ(shadow_select(&sh, &s, true, &win), 0);
	CHECK_EQ(host_write(at + 7 * 4096), '-');
	CHECK_EQ(sh.stats.unmap_calls, unmaps + 2);

	/* A mapping into the range: the range first, then the page. */
	map4k(0, 0x100);
	map4k(5, 0x10a);
	CHECK_EQ(fault(&s, BASE), SHADOW_FILLED);
	CHECK_EQ(fault(&s, BASE + 5 * 4096), SHADOW_FILLED);
	unmaps = sh.stats.unmap_calls;
	write_entry(0, 0);
	write_entry(5, 0);
	CHECK_EQ(sh.stats.unmap_calls, unmaps);
	map4k(3, 0x106);
	CHECK_EQ(fault(&s, BASE + 3 * 4096), SHADOW_FILLED);
	CHECK_EQ(host_write(at), '-');
	CHECK_EQ(host_write(at + 5 * 4096), '-');
	CHECK_EQ(host_write(at + 3 * 4096), 'w');
	CHECK_EQ(sh.stats.unmap_calls, unmaps + 1);

	/* The frame of a page held writable turns code: the range goes
	 * before the page is read-only elsewhere. A frame never dropped
	 * writable turning code leaves the range held. */
	write_entry(9, 0);
	CHECK_EQ(host_write(at + 9 * 4096), 'w');
	shadow_protect_code(&sh, 0x140, true);
	CHECK_EQ(host_write(at + 9 * 4096), 'w');
	shadow_protect_code(&sh, 0x100 + 2 * 9, true);
	CHECK_EQ(host_write(at + 9 * 4096), '-');

	/* A CR3 load into another address space keeps them, and one back
	 * carries them out. An entry written again meanwhile (text_poke's
	 * next alias, set from the other space) is mapped at once, which
	 * replaces its unmap. */
	write_entry(3, 0);
	shadow_tlb_flushed(&sh);
	CHECK_EQ(shadow_select(&sh, &other, true, &win), 0);
	CHECK_EQ(host_write(at + 3 * 4096), 'w');
	CHECK_EQ(shadow_select(&sh, &s, true, &win), 0);
	CHECK_EQ(host_write(at + 3 * 4096), '-');
	CHECK_EQ(fault(&s, BASE + 4096), SHADOW_PAGE_FAULT);
	map4k(3, 0x10c);
	CHECK_EQ(fault(&s, BASE + 3 * 4096), SHADOW_FILLED);
	write_entry(3, 0);
	CHECK_EQ(shadow_select(&sh, &other, true, &win), 0);
	unmaps = sh.stats.unmap_calls;
	put32(0x10e000, 0x4a11a5);
	write_entry(3, 0x10eu << 12 | PTE_P | PTE_W | PTE_A | PTE_D);
	CHECK_EQ(sh.stats.unmap_calls, unmaps);
	CHECK_EQ(*(uint32_t *)(at + 3 * 4096), 0x4a11a5);
	CHECK_EQ(shadow_select(&sh, &s, true, &win), 0);
	CHECK_EQ(host_write(at + 3 * 4096), 'w');

	/* A frame changed under a mapped page (a copy-on-write break) while
	 * another page's unmap is held: the new frame's mapping replaces the
	 * old one, with no unmap call, and the held range stays. */
	map4k(8, 0x110);
	CHECK_EQ(fault(&s, BASE + 8 * 4096), SHADOW_FILLED);
	write_entry(8, 0);
	unmaps = sh.stats.unmap_calls;
	put32(0x10f000, 0xc0fe);
	write_entry(3, 0x10fu << 12 | PTE_P | PTE_W | PTE_A | PTE_D);
	CHECK_EQ(sh.stats.unmap_calls, unmaps);
	CHECK_EQ(*(uint32_t *)(at + 3 * 4096), 0xc0fe);
	CHECK_EQ(host_write(at + 8 * 4096), 'w');
	shadow_invlpg(&sh, BASE + 8 * 4096);
	CHECK_EQ(host_write(at + 8 * 4096), '-');
	CHECK_EQ(sh.stats.unmap_calls, unmaps + 1);

	/* More ranges than slots: one is unmapped to make room (each slot in
	 * turn, the first here). */
	for (unsigned i = 10; i < 30; i++) {
		map4k(i, 0x120 + i);
		CHECK_EQ(fault(&s, BASE + i * 4096), SHADOW_FILLED);
	}
	unmaps = sh.stats.unmap_calls;
	for (unsigned i = 0; i < SHADOW_PENDING_UNMAPS; i++)
		write_entry(10 + 2 * i, 0);
	CHECK_EQ(sh.stats.unmap_calls, unmaps);
	CHECK_EQ(host_write(at + 10 * 4096), 'w');
	write_entry(10 + 2 * SHADOW_PENDING_UNMAPS, 0);
	CHECK_EQ(sh.stats.unmap_calls, unmaps + 1);
	CHECK_EQ(host_write(at + 10 * 4096), '-');
	CHECK_EQ(host_write(at + 12 * 4096), 'w');
	CHECK_EQ(host_write(at + 11 * 4096), 'w');
	shadow_tlb_flushed(&sh);
	CHECK_EQ(shadow_select(&sh, &s, true, &win), 0);
	for (unsigned i = 10; i < 30; i++)
		CHECK_EQ(host_write(at + i * 4096), i % 2 == 0 && i <= 10 + 2 * SHADOW_PENDING_UNMAPS ? '-' : 'w');

	/* A directory entry cleared (an exit's tables freed) after a page of
	 * its region: one call for both, after the CR3 load. */
	map4k(1, 0x102);
	CHECK_EQ(fault(&s, BASE + 4096), SHADOW_FILLED);
	CHECK_EQ(host_write(at + 4096), 'w');
	unmaps = sh.stats.unmap_calls;
	write_entry(1, 0);
	uint32_t old_pde;
	memcpy(&old_pde, ram.host + PD + (BASE >> 22) * 4, 4);
	put32(PD + (BASE >> 22) * 4, 0);
	shadow_after_write(&sh, PD + (BASE >> 22) * 4, &old_pde, 1);
	CHECK_EQ(host_write(at + 4096), 'w');
	CHECK_EQ(sh.stats.unmap_calls, unmaps);
	shadow_tlb_flushed(&sh);
	CHECK_EQ(shadow_select(&sh, &s, true, &win), 0);
	CHECK_EQ(host_write(at + 4096), '-');
	CHECK_EQ(sh.stats.unmap_calls, unmaps + 1);
	shadow_destroy(&sh);
	guest_ram_destroy(&ram);
}

/* Churned user pages: a user view's mapping that a page-table write took
 * away (the entry maps nothing now) leaves its page churned, and the next
 * fault there is SHADOW_CHURN, present or not, in that view only. An
 * adaptive access's #PF starts its count of uses over, a few uses end the
 * churn. A table whose shadows went after a write flood leaves what its
 * user view mapped likely churned: a fault that finds the page present
 * fills it, one that finds it gone is SHADOW_CHURN. A user view left with
 * nothing mapped forgets its churn. */
static void test_churned_pages(void)
{
	const uint32_t pt2 = 0x3000, base2 = BASE + 0x400000;
	const uint32_t user_entry = PTE_P | PTE_W | PTE_U | PTE_A | PTE_D;
	if (guest_ram_init(&ram, 16, 0) || shadow_init(&sh, &ram)) {
		fprintf(stderr, "setup failed\n");
		CHECK(false);
		return;
	}
	put32(PD + (BASE >> 22) * 4, PT | PTE_P | PTE_W | PTE_U | PTE_A);
	put32(PD + (base2 >> 22) * 4, pt2 | PTE_P | PTE_W | PTE_U | PTE_A);
	for (unsigned i = 0; i < 4; i++)
		put32(PT + i * 4, (0x100 + i) << 12 | user_entry);
	put32(pt2, 0x180u << 12 | user_entry);
	struct vcpu_state s = paged_state(), u = s;
	u.cpl = 3;
	struct window *win;
	uint64_t gpa;
	uint32_t err;
	CHECK_EQ(shadow_select(&sh, &s, true, &win), 0);
	CHECK_EQ(fault(&s, BASE + 4096), SHADOW_FILLED);   /* the kernel's view */
	CHECK_EQ(shadow_select(&sh, &u, true, &win), 0);
	CHECK_EQ(fault(&u, BASE), SHADOW_FILLED);
	CHECK_EQ(fault(&u, base2), SHADOW_FILLED);
	CHECK(mapped(BASE) && mapped(BASE + 4096) && mapped(base2));

	/* Page 0 unmapped (munmap): churned, and so is a fault there. */
	write_entry(0, 0);
	CHECK_EQ(sh.stats.churned_pages, 1);
	CHECK(!mapped(BASE));
	CHECK_EQ(fault(&u, BASE + 8), SHADOW_CHURN);
	/* An adaptive access's #PF, then the handler's new entry: not
	 * mapped here (the kernel's view maps it again: its unmap was held
	 * back), and still churned; its fault maps nothing. */
	shadow_churn_faulted(&sh, BASE + 8, PFERR_U);
	write_entry(0, 0x110u << 12 | user_entry);
	CHECK(!mapped(BASE));
	uint64_t maps = sh.stats.map_calls;
	CHECK_EQ(fault(&u, BASE + 8), SHADOW_CHURN);
	CHECK_EQ(sh.stats.map_calls, maps);
	/* Its uses: needed for the first few, then it is in use, not churned. */
	unsigned needed = 0;
	while (needed < 100 && shadow_churn_needed(&sh, BASE + 8))
		needed++;
	CHECK_EQ(needed, 7);
	CHECK_EQ(fault(&u, BASE + 8), SHADOW_FILLED);
	CHECK(mapped(BASE));
	put32(0x110000 + 8, 0xc4a2);
	CHECK_EQ(*(uint32_t *)(win->base + BASE + 8), 0xc4a2);
	CHECK(!shadow_churn_needed(&sh, BASE + 8));   /* mapped */
	/* Another frame at once (copy-on-write): not churned. */
	write_entry(1, 0x111u << 12 | user_entry);
	CHECK_EQ(fault(&u, BASE + 4096), SHADOW_FILLED);
	CHECK_EQ(sh.stats.churned_pages, 1);
	/* The kernel's view churns nothing: page 1 cleared, its fault there
	 * is the #PF; the user view's is SHADOW_CHURN, and for an instruction
	 * the callouts are not to take, the #PF as well. */
	write_entry(1, 0);
	CHECK_EQ(sh.stats.churned_pages, 2);   /* the user view's mapping of it */
	CHECK_EQ(shadow_select(&sh, &s, true, &win), 0);
	CHECK_EQ(fault(&s, BASE + 4096), SHADOW_PAGE_FAULT);
	CHECK(!shadow_churn_needed(&sh, BASE + 4096));
	CHECK_EQ(shadow_select(&sh, &u, true, &win), 0);
	CHECK_EQ(fault(&u, BASE + 4096), SHADOW_CHURN);
	CHECK_EQ(shadow_fill_anyway(&sh, &u, BASE + 4096, false, &gpa, &err, &sh.stats.churn_fills),
		 SHADOW_PAGE_FAULT);
	CHECK_EQ(err & PFERR_P, 0u);
	CHECK_EQ(sh.stats.churn_fills, 1);

	/* A write flood: page 2 stays, page 3 goes after it. */
	CHECK_EQ(shadow_select(&sh, &u, true, &win), 0);
	CHECK_EQ(fault(&u, BASE + 2 * 4096), SHADOW_FILLED);
	CHECK(mapped(BASE + 2 * 4096) && mapped(BASE + 3 * 4096));
	uint64_t unshadowed = sh.stats.tables_unshadowed;
	for (unsigned i = 0; i < 40 && sh.stats.tables_unshadowed == unshadowed; i++)
		write_entry(10, (0x140u + i % 2) << 12 | PTE_P | PTE_W);   /* a supervisor page */
	CHECK_EQ(sh.stats.tables_unshadowed, unshadowed + 1);
	CHECK(!mapped(BASE + 2 * 4096) && !mapped(BASE + 3 * 4096));
	put32(PT + 3 * 4, 0);   /* untraced now */
	CHECK_EQ(fault(&u, BASE + 2 * 4096), SHADOW_FILLED);
	CHECK_EQ(fault(&u, BASE + 3 * 4096), SHADOW_CHURN);
	CHECK_EQ(fault(&u, BASE + 3 * 4096), SHADOW_CHURN);   /* churned for sure now */

	/* Everything the user view maps goes (an exit: the tables cleared,
	 * then the directory's entries): it forgets its churn. */
	for (unsigned i = 0; i < 40 && sh.stats.tables_unshadowed == unshadowed + 1; i++)
		write_entry(10, (0x140u + i % 2) << 12 | PTE_P | PTE_W);
	uint32_t old = 0x180u << 12 | user_entry;
	put32(pt2, 0);
	shadow_after_write(&sh, pt2, &old, 1);
	CHECK(!mapped(base2));
	old = pt2 | PTE_P | PTE_W | PTE_U | PTE_A;
	put32(PD + (base2 >> 22) * 4, 0);
	shadow_after_write(&sh, PD + (base2 >> 22) * 4, &old, 1);
	CHECK_EQ(fault(&u, BASE + 3 * 4096), SHADOW_PAGE_FAULT);
	CHECK_EQ(fault(&u, base2), SHADOW_PAGE_FAULT);
	shadow_destroy(&sh);
	guest_ram_destroy(&ram);
}

int main(void)
{
	if (guest_ram_init(&ram, 16, 0) || shadow_init(&sh, &ram)) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	put32(PD + (BASE >> 22) * 4, PT | PTE_P | PTE_W | PTE_A);
	put32(PD + (LARGE >> 22) * 4, 0x00400000u | PDE_PS | PTE_P | PTE_W | PTE_A | PTE_D);
	/* Pages 0-15: frames 0x100-0x10f. Page 16 is not accessed. Pages
	 * 20, 21, 22: frames 0x200, 0x300, 0x301. */
	for (unsigned i = 0; i < 16; i++)
		map4k(i, 0x100 + i);
	put32(PT + 16 * 4, 0x110u << 12 | PTE_P | PTE_W);
	map4k(20, 0x200);
	map4k(21, 0x300);
	map4k(22, 0x301);

	struct vcpu_state s = paged_state();
	struct window *win;
	CHECK_EQ(shadow_select(&sh, &s, true, &win), 0);

	/* A fault in the middle of the run: one mmap maps all 16 pages, the
	 * page without its accessed bit stays out, and what is mapped reads
	 * the right frame. */
	CHECK_EQ(fault(&s, BASE + 5 * 4096 + 8), SHADOW_FILLED);
	CHECK_EQ(sh.stats.hidden_faults, 1);
	for (unsigned i = 0; i < 16; i++)
		CHECK(mapped(BASE + i * 4096));
	CHECK(!mapped(BASE + 16 * 4096));
	put32(0x10a000 + 12, 0x5a5a1234);
	CHECK_EQ(*(uint32_t *)(win->base + BASE + 10 * 4096 + 12), 0x5a5a1234);
	/* Pages 20-22 were in the same prefetch chunk: two more runs. */
	CHECK_EQ(sh.stats.map_calls, 3);
	CHECK(mapped(BASE + 20 * 4096) && mapped(BASE + 21 * 4096) && mapped(BASE + 22 * 4096));

	/* Frames that do not follow each other are separate mappings: page
	 * 22's fault (after its entries went) maps 21-22 together, 20 apart. */
	shadow_flush(&sh);
	CHECK_EQ(shadow_select(&sh, &s, true, &win), 0);
	for (unsigned i = 0; i < 16; i++)
		put32(PT + i * 4, 0);
	uint64_t calls = sh.stats.map_calls;
	CHECK_EQ(fault(&s, BASE + 22 * 4096), SHADOW_FILLED);
	CHECK_EQ(sh.stats.map_calls - calls, 2);
	CHECK(mapped(BASE + 20 * 4096) && mapped(BASE + 21 * 4096) && mapped(BASE + 22 * 4096));
	CHECK(!mapped(BASE + 5 * 4096));
	put32(0x200000, 0x200);
	put32(0x300000, 0x300);
	put32(0x301000, 0x301);
	CHECK_EQ(*(uint32_t *)(win->base + BASE + 20 * 4096), 0x200);
	CHECK_EQ(*(uint32_t *)(win->base + BASE + 21 * 4096), 0x300);
	CHECK_EQ(*(uint32_t *)(win->base + BASE + 22 * 4096), 0x301);

	/* A 4 MiB page: one mmap for all of it, from a fault in its middle. */
	calls = sh.stats.map_calls;
	CHECK_EQ(fault(&s, LARGE + 0x123456), SHADOW_FILLED);
	CHECK_EQ(sh.stats.map_calls - calls, 1);
	CHECK(mapped(LARGE) && mapped(LARGE + 0x3ff000));
	put32(0x7ff000, 0x7ff);
	CHECK_EQ(*(uint32_t *)(win->base + LARGE + 0x3ff000), 0x7ff);

	/* A page that must stay read-only splits the 4 MiB page's fill: the
	 * page table is traced, so it and the fault's run are apart. */
	shadow_flush(&sh);
	put32(PD + (LARGE >> 22) * 4, 0x00000000u | PDE_PS | PTE_P | PTE_W | PTE_A | PTE_D);
	CHECK_EQ(shadow_select(&sh, &s, true, &win), 0);
	calls = sh.stats.map_calls;
	CHECK_EQ(fault(&s, LARGE + 0x3000), SHADOW_FILLED);   /* the directory at 0x1000 */
	CHECK_EQ(sh.stats.map_calls - calls, 3);
	CHECK(mapped(LARGE) && mapped(LARGE + 0x3ff000));
	CHECK(mapped(LARGE + PD) && shadow_current_ptr(&sh, LARGE + PD, 4, true) == NULL);
	CHECK(shadow_current_ptr(&sh, LARGE + 0x3000, 4, true) != NULL);

	/* A user page installed by the #PF handler is mapped at once in the
	 * view that took the #PF (user mode) only: the kernel's view of the
	 * same address space fills it if the kernel ever touches it. Both
	 * views have filled through the table, so both derive from it. */
	shadow_flush(&sh);
	for (unsigned i = 0; i < 16; i++)
		put32(PT + i * 4, (0x100 + i) << 12 | PTE_P | PTE_W | PTE_U | PTE_A | PTE_D);
	put32(PT + 30 * 4, 0);
	put32(PD + (BASE >> 22) * 4, PT | PTE_P | PTE_W | PTE_U | PTE_A);
	struct vcpu_state user = s;
	user.cpl = 3;
	CHECK_EQ(shadow_select(&sh, &s, true, &win), 0);
	CHECK_EQ(fault(&s, BASE), SHADOW_FILLED);
	CHECK_EQ(shadow_select(&sh, &user, true, &win), 0);
	CHECK_EQ(fault(&user, BASE), SHADOW_FILLED);
	CHECK_EQ(fault(&user, BASE + 30 * 4096), SHADOW_PAGE_FAULT);
	CHECK_EQ(shadow_select(&sh, &s, true, &win), 0);   /* the guest's handler */
	uint32_t old_pte = 0;
	put32(PT + 30 * 4, 0x130u << 12 | PTE_P | PTE_W | PTE_U | PTE_A | PTE_D);
	calls = sh.stats.map_calls;
	shadow_after_write(&sh, PT + 30 * 4, &old_pte, 1);
	CHECK_EQ(sh.stats.map_calls - calls, 1);
	CHECK(!mapped(BASE + 30 * 4096));
	CHECK_EQ(shadow_select(&sh, &user, true, &win), 0);   /* its IRET */
	CHECK(mapped(BASE + 30 * 4096));
	CHECK_EQ(shadow_select(&sh, &s, true, &win), 0);
	CHECK_EQ(fault(&s, BASE + 30 * 4096), SHADOW_FILLED);
	CHECK(mapped(BASE + 30 * 4096));

	/* Recycling: with every window in use, a new directory's supervisor
	 * view takes the least recently used supervisor window and keeps the
	 * regions whose directory entry the new directory holds unchanged
	 * (the kernel half), mapped without a fault; a region whose entry
	 * differs goes. The new directory is traced, the old one no more.
	 * A user view is never recycled. */
	shadow_flush(&sh);
	const uint32_t kva = 0xc0000000u, kpde = 0u | PDE_PS | PTE_P | PTE_W | PTE_A | PTE_D;
	for (uint32_t i = 0; i <= SHADOW_MAX_WINDOWS + 1; i++) {
		uint32_t pd = 0x800000u + i * 0x1000u;
		memset(ram.host + pd, 0, 4096);
		put32(pd + (kva >> 22) * 4, kpde);
		put32(pd + (BASE >> 22) * 4, (i == SHADOW_MAX_WINDOWS ? 0x3000u : PT) | PTE_P | PTE_W | PTE_A);
	}
	for (unsigned i = 0; i < 16; i++)
		map4k(i, 0x100 + i);
	struct vcpu_state k = s;
	for (uint32_t i = 0; i < SHADOW_MAX_WINDOWS; i++) {
		k.cr3 = 0x800000u + i * 0x1000u;
		CHECK_EQ(shadow_select(&sh, &k, true, &win), 0);
		if (i == 0) {
			CHECK_EQ(fault(&k, kva + 0x5000), SHADOW_FILLED);
			CHECK_EQ(fault(&k, BASE), SHADOW_FILLED);
			CHECK(mapped(kva + 0x5000) && mapped(BASE));
		}
	}
	CHECK_EQ(sh.stats.window_evictions, 0);
	uint64_t faults = sh.stats.hidden_faults;
	k.cr3 = 0x800000u + SHADOW_MAX_WINDOWS * 0x1000u;
	CHECK_EQ(shadow_select(&sh, &k, true, &win), 0);
	CHECK_EQ(sh.stats.window_evictions, 1);
	CHECK_EQ(sh.stats.window_recycles, 1);
	CHECK(mapped(kva + 0x5000));
	CHECK(!mapped(BASE));
	CHECK_EQ(sh.stats.hidden_faults, faults);
	CHECK(shadow_page_is_table(&sh, k.cr3 >> 12));
	CHECK(!shadow_page_is_table(&sh, 0x800));
	put32(0x10a000 + 12, 0x13572468);   /* the kept region reads physical memory */
	CHECK(mapped(kva + 0x10a000));
	if (mapped(kva + 0x10a000))
		CHECK_EQ(*(uint32_t *)(win->base + kva + 0x10a000 + 12), 0x13572468);
	uint32_t old_pde = kpde;
	put32(k.cr3 + (kva >> 22) * 4, 0);
	shadow_after_write(&sh, k.cr3 + (kva >> 22) * 4, &old_pde, 1);
	CHECK(!mapped(kva + 0x5000));
	struct vcpu_state u = k;
	u.cpl = 3;
	u.cr3 = 0x800000u + (SHADOW_MAX_WINDOWS + 1) * 0x1000u;
	CHECK_EQ(shadow_select(&sh, &u, true, &win), 0);
	CHECK_EQ(sh.stats.window_evictions, 2);
	CHECK_EQ(sh.stats.window_recycles, 1);

	shadow_destroy(&sh);
	guest_ram_destroy(&ram);

	/* Device memory inside a 4 MiB page, after a hole: a fault on its
	 * first page maps that page, never RAM at the hole's addresses (RAM's
	 * frames come before device memory's in the memfd, not before its
	 * guest address). */
	if (guest_ram_init(&ram, 16, 1u << 20)) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	ram.devmem_gpa = 0x02100000;
	if (shadow_init(&sh, &ram)) {
		fprintf(stderr, "setup failed\n");
		return 1;
	}
	put32(PD + (LARGE >> 22) * 4, 0x02000000u | PDE_PS | PTE_P | PTE_W | PTE_A | PTE_D);
	CHECK_EQ(shadow_select(&sh, &s, true, &win), 0);
	CHECK_EQ(fault(&s, LARGE + 0x100000), SHADOW_FILLED);
	CHECK(mapped(LARGE + 0x100000));
	CHECK(!mapped(LARGE + 0xff000) && !mapped(LARGE));
	CHECK(!mapped(LARGE + 0x200000));
	shadow_destroy(&sh);
	guest_ram_destroy(&ram);
	test_held_back_protection();
	test_mapping_slot();
	test_held_back_unmaps();
	test_churned_pages();
	return check_report("test_shadow_fill");
}
