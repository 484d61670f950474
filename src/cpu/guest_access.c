/* The monitor's own accesses to guest linear memory on the guest's behalf
 * (callouts, exception frames, descriptor tables): through the guest page
 * tables when paging is on, with the privilege the access has, so that a
 * page the guest could not touch faults exactly as it would have. RAM is
 * reached through the monitor's mapping; physical addresses without RAM
 * go to the MMIO bus. A failed access leaves the #PF it raises in
 * cpu->pf for the caller's fault path (raise_fault, cpu_deliver). */
#include <assert.h>
#include <string.h>

#include "cache/tcache.h"
#include "cpu/cpu.h"
#include "devices/bus.h"
#include "isa/descriptor.h"
#include "mmu/paging.h"
#include "mmu/shadow.h"
#include "mmu/window.h"

void cpu_tlb_flush(struct cpu *cpu)
{
	memset(cpu->tlb.tag, 0, sizeof(cpu->tlb.tag));
}

void cpu_tlb_invalidate(struct cpu *cpu, uint32_t linear)
{
	/* A 2 MiB page lies inside one 4 MiB region too: dropping the
	 * 4 MiB's large slots drops a little more than INVLPG must. */
	const uint32_t large_mask = ~((4u << 20) - 1);
	for (unsigned i = 0; i < CPU_TLB_SLOTS; i++) {
		uint32_t page = cpu->tlb.tag[i] & ~(GUEST_PAGE_SIZE - 1);
		bool large = cpu->tlb.frame[i] & CPU_TLB_LARGE;
		if (page == (linear & ~(GUEST_PAGE_SIZE - 1)) ||
		    (large && (page & large_mask) == (linear & large_mask)))
			cpu->tlb.tag[i] = 0;
	}
}

/* The TLB holds what was walked under these paging registers and before
 * the shadow's last page-table write (its count, shared by every vCPU:
 * one vCPU's table write reaches the others' monitor accesses at once,
 * as their walks did before there was a TLB, a stricter order than a
 * processor's, whose OS shoots the others' TLBs down with IPIs). */
static void tlb_check(struct cpu *cpu)
{
	/* Of CR0 the walk reads PG and WP: a TS set and cleared (an OS's
	 * lazy FPU switch) keeps the TLB. */
	uint32_t cr0 = cpu->s.cr0 & (CR0_PG | CR0_WP);
	uint64_t writes = __atomic_load_n(&cpu->sh->tables_changed, __ATOMIC_ACQUIRE);
	if (cpu->tlb.cr3 == cpu->s.cr3 && cpu->tlb.cr0 == cr0 && cpu->tlb.cr4 == cpu->s.cr4 &&
	    cpu->tlb.a20_cleared == cpu->s.a20_cleared && cpu->tlb.efer == cpu->s.efer &&
	    cpu->tlb.tables_changed == writes)
		return;
	cpu_tlb_flush(cpu);
	cpu->tlb.cr3 = cpu->s.cr3;
	cpu->tlb.cr0 = cr0;
	cpu->tlb.cr4 = cpu->s.cr4;
	cpu->tlb.a20_cleared = cpu->s.a20_cleared;
	cpu->tlb.efer = cpu->s.efer;
	cpu->tlb.tables_changed = writes;
}

/* Physical address of one byte range inside a page, or false with
 * cpu->pf set. A translation the TLB holds for the same access is used
 * without a walk: the walk that filled it set the accessed bits (and the
 * dirty bit, for a write), and one of another kind (a write where a read
 * was walked, CPL 3 where the kernel walked) walks again. Only walks that
 * succeeded are kept, so a fault always comes from the tables as they
 * are, and an entry the guest made present is seen without a flush. */
static bool translate(struct cpu *cpu, uint32_t linear, unsigned access, uint64_t *gpa)
{
	if (!(cpu->s.cr0 & CR0_PG)) {
		*gpa = linear & ~cpu->s.a20_cleared;
		return true;
	}
	/* A look (ACCESS_PEEK) neither uses nor fills it. */
	bool keep = !(access & ACCESS_PEEK);
	if (keep)
		tlb_check(cpu);
	/* Spread by the access too: an INT's frame written and its IRET's
	 * read of the same page are two entries, not one slot's turns. */
	unsigned slot = ((linear >> 12) ^ (access * 5)) % CPU_TLB_SLOTS;
	uint32_t tag = (linear & ~(GUEST_PAGE_SIZE - 1)) | access | CPU_TLB_VALID;
	uint64_t frame;
	if (keep && cpu->tlb.tag[slot] == tag) {
		frame = cpu->tlb.frame[slot];
		cpu->stats.tlb_hits++;
	} else {
		cpu->stats.tlb_walks++;
		struct paging_regs pr = paging_regs_of(&cpu->s);
		struct walk w;
		uint32_t error;
		if (!paging_walk(cpu->sh->ram, &pr, linear, access, &w, &error)) {
			cpu->pf.pending = true;
			cpu->pf.cr2 = linear;
			cpu->pf.error = error;
			return false;
		}
		frame = (w.gpa & ~(uint64_t)(GUEST_PAGE_SIZE - 1)) | (w.user ? CPU_TLB_USER : 0) |
			(w.large ? CPU_TLB_LARGE : 0);
		if (keep) {
			cpu->tlb.tag[slot] = tag;
			cpu->tlb.frame[slot] = frame;
		}
	}
	*gpa = (frame & ~(uint64_t)(GUEST_PAGE_SIZE - 1)) | (linear & (GUEST_PAGE_SIZE - 1));
	/* Through a temporary mapping slot, which the shadow leaves unmapped:
	 * the access saved a host mapping, and an adaptive string instruction
	 * making it (the kernel's clear_page) stays adaptive. */
	if (!(frame & CPU_TLB_USER) && shadow_is_slot(cpu->sh, linear))
		cpu->adaptive_needed = true;
	return true;
}

static unsigned cpl_access(const struct cpu *cpu)
{
	return cpu->s.cpl == 3 ? ACCESS_USER : 0;
}

bool cpu_translate(struct cpu *cpu, uint32_t linear, unsigned access, uint64_t *gpa)
{
	return translate(cpu, linear, access | cpl_access(cpu), gpa);
}

/* access as given: the callers below choose the privilege themselves. */
static bool translate_span(struct cpu *cpu, uint32_t linear, unsigned len, unsigned access,
			   struct guest_span *span)
{
	assert(len && len <= GUEST_PAGE_SIZE);
	unsigned in_page = GUEST_PAGE_SIZE - (linear & (GUEST_PAGE_SIZE - 1));
	span->len[0] = len < in_page ? len : in_page;
	span->len[1] = len - span->len[0];
	span->n = span->len[1] ? 2 : 1;
	for (unsigned i = 0; i < span->n; i++)
		if (!translate(cpu, linear + (i ? span->len[0] : 0), access, &span->gpa[i]))
			return false;
	return true;
}

bool cpu_translate_span(struct cpu *cpu, uint32_t linear, unsigned len, unsigned access,
			struct guest_span *span)
{
	return translate_span(cpu, linear, len, access | cpl_access(cpu), span);
}

/* A device sees the access at its own width: 1, 2, 4 or 8 bytes at once
 * (16 as two 8s); odd sizes, from an access split at a page, byte-wise. */
static unsigned mmio_piece(unsigned left)
{
	return left >= 8 ? 8 : left == 4 ? 4 : left == 2 ? 2 : 1;
}

void cpu_read_phys(struct cpu *cpu, uint64_t gpa, void *dst, unsigned len)
{
	const void *p = guest_ram_ptr(cpu->sh->ram, gpa, len);
	if (p) {
		memcpy(dst, p, len);
		return;
	}
	cpu->adaptive_needed = true;
	uint8_t *d = dst;
	for (unsigned at = 0, w; at < len; at += w) {
		w = mmio_piece(len - at);
		uint64_t v = bus_read(cpu->bus, BUS_SPACE_MMIO, gpa + at, w);
		memcpy(d + at, &v, w);
	}
}

/* Translations of the pages about to be written go first: the write
 * through the monitor's mapping trips no trace. Such writes count as a
 * translated store's trace faults do (tcache_code_written): a page
 * written so again and again (SeaBIOS's stack beside its code, which
 * every INT and far CALL a callout makes in real mode writes) turns
 * self-checking, and then, as for a store, its blocks check themselves
 * and the write drops nothing. The cache's pages are memfd pages, as
 * the shadow's ([gpa, gpa+len) is RAM of one range). */
static void drop_translations(struct cpu *cpu, uint64_t gpa, unsigned len)
{
	uint32_t first = guest_ram_page(cpu->sh->ram, gpa);
	uint32_t last = first + (uint32_t)((gpa % GUEST_PAGE_SIZE + len - 1) / GUEST_PAGE_SIZE);
	for (uint32_t p = first; p <= last; p++) {
		if (!tcache_page_traced(cpu->tc, p) || tcache_page_selfcheck(cpu->tc, p))
			continue;
		tcache_code_written(cpu->tc, &cpu->ibl_table, p);
	}
}

/* Writes [gpa, gpa+len) of RAM through the monitor's own mapping, which no
 * trace protects: the shadow hears of the page-table entries that changed. */
static void write_ram(struct cpu *cpu, uint64_t gpa, const uint8_t *src, unsigned len)
{
	const struct guest_ram *ram = cpu->sh->ram;
	while (len) {
		unsigned n = GUEST_PAGE_SIZE - gpa % GUEST_PAGE_SIZE;
		if (n > len)
			n = len;
		uint8_t *dst = guest_ram_ptr(ram, gpa, n);
		if (!shadow_page_is_table(cpu->sh, guest_ram_page(ram, gpa))) {
			memcpy(dst, src, n);
		} else {
			/* The words the piece touches (a page ends on a word). */
			uint64_t lo = gpa & ~3ull, hi = (gpa + n + 3) & ~3ull;
			uint32_t old[GUEST_PAGE_SIZE / 4];
			memcpy(old, dst - (gpa - lo), hi - lo);
			memcpy(dst, src, n);
			cpu->adaptive_needed = true;
			shadow_after_write(cpu->sh, lo, old, (hi - lo) / 4);
		}
		gpa += n;
		src += n;
		len -= n;
	}
}

static void write_phys(struct cpu *cpu, uint64_t gpa, const void *src, unsigned len, bool pam)
{
	const struct guest_ram *ram = cpu->sh->ram;
	if (guest_ram_contains(ram, gpa, len)) {
		if (pam && guest_ram_range_locked(ram, gpa, len)) {
			/* The chipset drops the bytes bound for locked pages
			 * (PAM): the rest go on, page by page. */
			const uint8_t *s = src;
			for (unsigned n; len; gpa += n, s += n, len -= n) {
				n = GUEST_PAGE_SIZE - gpa % GUEST_PAGE_SIZE;
				n = n < len ? n : len;
				if (!guest_ram_page_locked(ram, gpa / GUEST_PAGE_SIZE))
					write_phys(cpu, gpa, s, n, false);
			}
			return;
		}
		/* Tell the cache by hand too. */
		drop_translations(cpu, gpa, len);
		write_ram(cpu, gpa, src, len);
		guest_ram_written(ram, gpa, len);
		return;
	}
	cpu->adaptive_needed = true;
	const uint8_t *s = src;
	for (unsigned at = 0, w; at < len; at += w) {
		w = mmio_piece(len - at);
		uint64_t v = 0;
		memcpy(&v, s + at, w);
		bus_write(cpu->bus, BUS_SPACE_MMIO, gpa + at, w, v);
	}
}

void cpu_write_phys(struct cpu *cpu, uint64_t gpa, const void *src, unsigned len)
{
	write_phys(cpu, gpa, src, len, true);
}

void cpu_write_phys_debug(struct cpu *cpu, uint64_t gpa, const void *src, unsigned len)
{
	write_phys(cpu, gpa, src, len, false);
}

static bool access_read(struct cpu *cpu, uint32_t linear, void *dst, unsigned len, unsigned access)
{
	struct guest_span span;
	if (!translate_span(cpu, linear, len, access, &span))
		return false;
	uint8_t *d = dst;
	for (unsigned i = 0; i < span.n; i++) {
		cpu_read_phys(cpu, span.gpa[i], d, span.len[i]);
		d += span.len[i];
	}
	return true;
}

static bool access_write(struct cpu *cpu, uint32_t linear, const void *src, unsigned len,
			 unsigned access)
{
	struct guest_span span;
	if (!translate_span(cpu, linear, len, access | ACCESS_WRITE, &span))
		return false;
	const uint8_t *s = src;
	for (unsigned i = 0; i < span.n; i++) {
		cpu_write_phys(cpu, span.gpa[i], s, span.len[i]);
		s += span.len[i];
	}
	return true;
}

/* The current window's host address for a guest access, when the window
 * is still the one for the vCPU's CR3 and CPL (a callout may have changed
 * either before it reaches memory): a page it maps is then one this
 * access may make, its accessed and dirty bits already set. */
static void *window_ptr(struct cpu *cpu, uint32_t linear, unsigned len, bool write)
{
	const struct shadow *sh = cpu->sh;
	if (!(cpu->s.cr0 & CR0_PG) || sh->cur_view != shadow_view(&cpu->s) ||
	    sh->cur_key_cr3 != (cpu->s.cr3 & 0xfffff000u))
		return NULL;
	return shadow_current_ptr(cpu->sh, linear, len, write);
}

/* The guest's accesses (not the implicit supervisor ones below, to
 * descriptor tables and the TSS) are what data breakpoints watch. */
bool cpu_read_guest(struct cpu *cpu, uint32_t linear, void *dst, unsigned len)
{
	if (cpu->s.dr[7] & DR7_ENABLES)
		cpu_data_access(cpu, linear, len, false);
	const void *p = window_ptr(cpu, linear, len, false);
	if (p) {
		memcpy(dst, p, len);
		return true;
	}
	return access_read(cpu, linear, dst, len, cpl_access(cpu));
}

bool cpu_write_guest(struct cpu *cpu, uint32_t linear, const void *src, unsigned len)
{
	if (cpu->s.dr[7] & DR7_ENABLES)
		cpu_data_access(cpu, linear, len, true);
	void *p = window_ptr(cpu, linear, len, true);
	if (p) {
		memcpy(p, src, len);
		return true;
	}
	return access_write(cpu, linear, src, len, cpl_access(cpu));
}

bool cpu_read_sys(struct cpu *cpu, uint32_t linear, void *dst, unsigned len)
{
	return access_read(cpu, linear, dst, len, ACCESS_READ);
}

bool cpu_write_sys(struct cpu *cpu, uint32_t linear, const void *src, unsigned len)
{
	return access_write(cpu, linear, src, len, ACCESS_READ);
}

/* --- the stack, as SS.B says ------------------------------------------ */

static bool stack_is_32(const struct segment *ss)
{
	return (ss->flags & (DESC_DB >> 8)) != 0;
}

/* len bytes at offset off of the stack segment ss: one access at
 * ss->base + off on a 32-bit stack; on a 16-bit one off is SP's and the
 * bytes past 0xFFFF are at offset 0 onwards, as pushes and pops that
 * wrap leave them. sys: an implicit supervisor access (an inner stack). */
static bool stack_access(struct cpu *cpu, const struct segment *ss, uint32_t off, void *data,
			 unsigned len, bool write, bool sys)
{
	uint8_t *p = data;
	unsigned first = len;
	if (!stack_is_32(ss)) {
		off &= 0xffffu;
		if (off + len > 0x10000u)
			first = 0x10000u - off;
	}
	for (unsigned done = 0, n = first; done < len; done += n, n = len - done) {
		/* Past SS's limit: the caller raises #SS. */
		if (!cpu_offset_in_limit(ss, SEG_SS, done ? 0 : off, n))
			return false;
		uint32_t linear = ss->base + (done ? 0 : off);
		bool ok = write ? (sys ? cpu_write_sys(cpu, linear, p + done, n)
				       : cpu_write_guest(cpu, linear, p + done, n))
				: (sys ? cpu_read_sys(cpu, linear, p + done, n)
				       : cpu_read_guest(cpu, linear, p + done, n));
		if (!ok)
			return false;
	}
	return true;
}

uint32_t cpu_stack_move(const struct segment *ss, uint32_t sp, int32_t delta)
{
	if (stack_is_32(ss))
		return sp + (uint32_t)delta;
	return (sp & 0xffff0000u) | ((sp + (uint32_t)delta) & 0xffffu);
}

bool cpu_stack_push(struct cpu *cpu, const struct segment *ss, uint32_t *sp, const void *data,
		    unsigned len, bool sys)
{
	uint32_t to = cpu_stack_move(ss, *sp, -(int32_t)len);
	if (!stack_access(cpu, ss, to, (void *)(uintptr_t)data, len, true, sys))
		return false;
	*sp = to;
	return true;
}

bool cpu_stack_read(struct cpu *cpu, const struct segment *ss, uint32_t sp, uint32_t off,
		    void *data, unsigned len)
{
	return stack_access(cpu, ss, cpu_stack_move(ss, sp, (int32_t)off), data, len, false, false);
}

bool cpu_stack_write(struct cpu *cpu, const struct segment *ss, uint32_t sp, uint32_t off,
		     const void *data, unsigned len)
{
	return stack_access(cpu, ss, cpu_stack_move(ss, sp, (int32_t)off), (void *)(uintptr_t)data,
			    len, true, false);
}
