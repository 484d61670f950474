/* Fuzzing harness for the translator (src/translator/): the input is a
 * guest code block and where it lies, translated (never run) under every
 * translation mode the run loop can ask for, with paging off, on, and on
 * at a second linear address (where the blocks are copies of the first
 * address's, each compared with a fresh translation as --clone-check
 * does), and the host code of each translation checked as
 * tests/unit/test_isa_audit.c checks it (tests/unit/isa_check.c): memory
 * only through GS with 32-bit addressing or through r15/r14/r11/rsp, no
 * system call, only the model's ISA sets. The input is
 *
 *   byte 0     where the block starts: bits 0-4 n, bit 5 set: n bytes
 *              into the last 32 of a page (the first instruction may cross
 *              into the next page), clear: at n * 64; bit 6: the next page
 *              has no RAM; bit 7: with paging, the next page not present
 *   byte 1     bit 0 self-checking blocks, bit 1 every instruction adaptive
 *              (as after MMIO), bit 2 the lookup's BMI2 hash, bit 3 inline
 *              RDTSC, bit 4 --one-insn-blocks, bit 5 --trace (to
 *              /dev/null), bit 6 with paging the next page supervisor-only,
 *              bit 7 the code itself outside RAM
 *   byte 2     bits 0-5: the most instructions a block may take: 0 the
 *              default, n 1 + n % the default; bit 6: the cache
 *              concurrent (several vCPUs running: each chainable exit's
 *              field padded into one 64-byte line, polls through the
 *              vCPU's pointer); bit 7: CR4.OSFXSR clear (SSE
 *              instructions become #UD callouts)
 *   the rest   the guest code; HLT after it up to the end of the next page
 *
 * The modes are every combination of the translation key's first five bits
 * (DF, FLAT, SINGLE, CPL3, FPU_OFF), then the legacy ones (16-bit code and
 * stack, a based CS, real mode: LEGACY_MODES) with DF, SINGLE or FPU_OFF;
 * 16-bit operand and address sizes come from the 16-bit decoder there
 * and from prefixes in the input. Promises checked: the host code
 * passes the check; -ENOTSUP (a form the encoder refused) never happens;
 * -ENOSPC only with a full cache; -EFAULT only for code outside RAM or a
 * first instruction running into a page that cannot be fetched; a block
 * has 1 to max instructions (1 in a one-instruction mode), only its only
 * instruction may cross a page, its host-to-guest map rises inside the
 * block, and in a concurrent cache no chainable exit's field crosses a
 * line. The machine (guest RAM, the window, the cache, the vCPU) is
 * made once, as libFuzzer harnesses keep what is expensive to build. */
#define _GNU_SOURCE
#include "fuzz.h"

#include <errno.h>
#include <signal.h>

#include "cache/tcache.h"
#include "cpu/cpu.h"
#include "devices/bus.h"
#include "isa/msr.h"
#include "isa_check.h"
#include "mmu/guest_ram.h"
#include "mmu/paging.h"
#include "mmu/shadow.h"
#include "mmu/window.h"
#include "translator/disasm.h"
#include "translator/translate.h"

#define HEADER_BYTES 3u
#define RAM_MIB 4u
#define TCACHE_BYTES (4u << 20)
/* Paging: one page directory and one table mapping the code's two linear
 * pages, the second on a physical page apart from the first. */
#define PAGE_DIR 0x1000u
#define PAGE_TABLE 0x2000u
#define CODE_PHYS 0x100000u
#define NEXT_PHYS 0x180000u
#define CODE_LINEAR 0x40000000u
/* The same two physical pages at a second linear address (a shared library
 * in another process): translated there, blocks are copies of the first
 * address's (translate_clone.c), checked against a fresh translation. */
#define CODE_ALIAS 0x40010000u
/* Past a page's end the first instruction may run: the longest is 15. */
#define MAX_INSN 15u
#define MODE_COUNT 32u
/* The legacy modes tried, each also with DF, SINGLE and FPU_OFF. */
static const uint32_t LEGACY_MODES[] = {
	MODE_REAL | MODE_CODE16 | MODE_STACK16 | MODE_SEGCS, MODE_REAL | MODE_STACK16,
	MODE_CODE16 | MODE_STACK16 | MODE_SEGCS, MODE_CODE16 | MODE_STACK16, MODE_STACK16 | MODE_SEGCS,
	MODE_REAL | MODE_CPL3 | MODE_CODE16 | MODE_STACK16 | MODE_SEGCS,   /* virtual-8086 mode */
};
static const uint32_t LEGACY_WITH[] = { 0, MODE_DF, MODE_SINGLE, MODE_FPU_OFF };
#define HLT 0xf4u

enum {
	AT_OFFSET = 0x1f,
	AT_PAGE_END = 0x20,
	AT_NEXT_NO_RAM = 0x40,
	AT_NEXT_ABSENT = 0x80,
};

enum {
	PAGING_OFF,
	PAGING_ON,
	PAGING_ALIAS,
};

enum {
	ENV_SELFCHECK = 0x01,
	ENV_ADAPTIVE = 0x02,
	ENV_IBL_MIX = 0x04,
	ENV_TSC_NATIVE = 0x08,
	ENV_ONE_INSN = 0x10,
	ENV_TRACE = 0x20,
	ENV_NEXT_SUPERVISOR = 0x40,
	ENV_CODE_NO_RAM = 0x80,
};

/* What the translator works on, made on the first input. */
struct rig {
	struct guest_ram ram;
	struct shadow sh;
	struct tcache tc;
	struct translator tr;
	struct cpu cpu;
	struct bus bus;
	FILE *null;
	unsigned max_insns;   /* the translator's default */
};

/* Where one configuration put the code, and what the promises allow. */
struct placement {
	uint32_t eip, gpa;
	uint32_t offset;          /* of eip in its page */
	bool in_ram;              /* the first byte is in RAM */
	bool next_fetchable[2];   /* the next page, at CPL 0 and 3 */
	uint32_t next_page;       /* its physical page number */
	uint8_t pages[2 * GUEST_PAGE_SIZE];   /* the two pages' bytes */
};

/* One translation, for the reports. */
struct attempt {
	const struct placement *at;
	const uint8_t *code;
	size_t code_len;
	uint32_t mode;
	bool paging;
};

static void describe(const struct attempt *a)
{
	fprintf(stderr, "fuzz_translator: eip %08x gpa %08x mode %x paging %s, guest bytes",
		a->at->eip, a->at->gpa, a->mode, a->paging ? "on" : "off");
	for (size_t i = 0; i < a->code_len && i < 64; i++)
		fprintf(stderr, " %02x", a->code[i]);
	fprintf(stderr, "%s\n", a->code_len > 64 ? " ..." : "");
}

static void fail(const struct attempt *a, const char *what)
{
	describe(a);
	fuzz_require(false, what);
}

static void report_host(void *opaque, const char *what, const ZydisDecodedInstruction *hi, size_t off)
{
	const struct attempt *a = opaque;
	describe(a);
	fprintf(stderr, "fuzz_translator: %s (host %s at +%04zx)\n", what,
		hi ? ZydisMnemonicGetString(hi->mnemonic) : "-", off);
}

/* cpu_init installs the monitor's fault handlers, which send a fault
 * outside translated code to the default action: a crash would then end
 * the process before libFuzzer or the sanitizers could report it. Nothing
 * runs translated code here, so theirs go back. */
static struct rig *rig_get(void)
{
	static struct rig r;
	static bool ready;
	if (ready)
		return &r;
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL };
	struct sigaction saved[sizeof(sigs) / sizeof(sigs[0])];
	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], NULL, &saved[i]);
	static struct vcpu_state boot;
	msr_power_on(&boot.msrs);
	bus_init(&r.bus);
	fuzz_require(guest_ram_init(&r.ram, RAM_MIB, 0) == 0, "no guest RAM");
	fuzz_require(shadow_init(&r.sh, &r.ram) == 0, "no window");
	fuzz_require(tcache_init(&r.tc, TCACHE_BYTES, r.ram.size, &r.sh) == 0, "no cache");
	r.sh.code_pages = r.tc.page_traced;
	r.null = fopen("/dev/null", "w");
	fuzz_require(r.null != NULL, "no /dev/null");
	fuzz_require(translator_init(&r.tr, false, NULL) == 0, "no translator");
	r.max_insns = r.tr.max_insns;
	fuzz_require(cpu_init(&r.cpu, &boot, &r.sh, &r.tc, &r.bus) == 0, "no vCPU");
	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &saved[i], NULL);
	ready = true;
	return &r;
}

static void put32(struct rig *r, uint32_t gpa, uint32_t v)
{
	memcpy(r->ram.host + gpa, &v, 4);
}

/* Copies the code to [gpa, gpa + len) where that is RAM. */
static void put_code(struct rig *r, uint32_t gpa, const uint8_t *code, size_t len)
{
	if (gpa >= r->ram.size)
		return;
	if (len > r->ram.size - gpa)
		len = r->ram.size - gpa;
	memcpy(r->ram.host + gpa, code, len);
}

/* Writes the block's two pages (the code, then HLT) and, with paging, the
 * tables that map them; *p says where the block starts. */
static void place(struct rig *r, struct placement *p, uint8_t at, uint8_t env, unsigned paging,
		  const uint8_t *code, size_t len)
{
	memset(p, 0, sizeof(*p));
	p->offset = at & AT_PAGE_END ? GUEST_PAGE_SIZE - 32 + (at & AT_OFFSET) : (at & AT_OFFSET) * 64u;
	memset(p->pages, HLT, sizeof(p->pages));
	memcpy(p->pages + p->offset, code,
	       len < sizeof(p->pages) - p->offset ? len : sizeof(p->pages) - p->offset);

	uint32_t ram_end = (uint32_t)r->ram.size;
	uint32_t first, next;
	if (!paging) {
		first = at & AT_NEXT_NO_RAM ? ram_end - GUEST_PAGE_SIZE : CODE_PHYS;
		if (env & ENV_CODE_NO_RAM)
			first = ram_end + GUEST_PAGE_SIZE;
		next = first + GUEST_PAGE_SIZE;
		p->eip = first + p->offset;
		p->next_fetchable[0] = p->next_fetchable[1] = guest_ram_contains(&r->ram, next, MAX_INSN);
	} else {
		first = env & ENV_CODE_NO_RAM ? ram_end + GUEST_PAGE_SIZE : CODE_PHYS;
		next = at & AT_NEXT_NO_RAM ? ram_end : NEXT_PHYS;
		uint32_t linear = paging == PAGING_ALIAS ? CODE_ALIAS : CODE_LINEAR;
		p->eip = linear + p->offset;
		uint32_t pte_next = next | PTE_P | PTE_W | (env & ENV_NEXT_SUPERVISOR ? 0 : PTE_U);
		if (at & AT_NEXT_ABSENT)
			pte_next = 0;
		memset(r->ram.host + PAGE_DIR, 0, GUEST_PAGE_SIZE);
		memset(r->ram.host + PAGE_TABLE, 0, GUEST_PAGE_SIZE);
		put32(r, PAGE_DIR + 4 * (CODE_LINEAR >> 22), PAGE_TABLE | PTE_P | PTE_W | PTE_U);
		put32(r, PAGE_TABLE + 4 * ((linear >> 12) & 1023), first | PTE_P | PTE_W | PTE_U);
		put32(r, PAGE_TABLE + 4 * (((linear >> 12) + 1) & 1023), pte_next);
		bool present = pte_next != 0 && guest_ram_contains(&r->ram, next, MAX_INSN);
		p->next_fetchable[0] = present;
		p->next_fetchable[1] = present && !(env & ENV_NEXT_SUPERVISOR);
	}
	p->gpa = first + p->offset;
	p->in_ram = guest_ram_contains(&r->ram, p->gpa, 1);
	p->next_page = next / GUEST_PAGE_SIZE;
	put_code(r, first, p->pages, GUEST_PAGE_SIZE);
	put_code(r, next, p->pages + GUEST_PAGE_SIZE, GUEST_PAGE_SIZE);
}

/* What a translated block must look like. */
static void check_block(const struct attempt *a, const struct tblock *tb, unsigned max)
{
	const struct placement *p = a->at;
	if (isa_check_host_code(tb->host, tb->code_len, report_host, (void *)a)) {
		disasm_trace_block(stderr, tb, p->pages + p->offset);
		fuzz_require(false, "the host code breaks the confinement check");
	}
	if (tb->eip != p->eip || tb->gpa != p->gpa || tb->mode != a->mode)
		fail(a, "the block is not keyed as asked");
	if (tb->ninsns < 1 || tb->ninsns > max)
		fail(a, "a block with no instruction or more than it may take");
	if (tb->guest_len < tb->ninsns || tb->guest_len > tb->ninsns * MAX_INSN)
		fail(a, "a block's guest length does not fit its instructions");
	if (tb->code_len > tb->host_len)
		fail(a, "a block's code runs past its end");
	if (p->offset + tb->guest_len > GUEST_PAGE_SIZE) {
		/* Only flat code of several instructions a block goes on into
		 * the next page (translate.c, span_next_page); elsewhere an
		 * instruction across the end is a block of its own. */
		if (tb->spans && ((a->mode & (MODE_SEGCS | MODE_SINGLE)) || max == 1))
			fail(a, "a block goes on into the next page where it may not");
		if (tb->ninsns != 1 && !tb->spans)
			fail(a, "an instruction crossing a page is not a block of its own");
		if (tb->pages[1] != p->next_page)
			fail(a, "a block crossing a page does not name the next one");
		if (p->offset + tb->guest_len > 2 * GUEST_PAGE_SIZE)
			fail(a, "a block runs on past its second page");
	} else if (tb->pages[1] != tb->pages[0]) {
		fail(a, "a block within a page names two");
	}
	for (unsigned i = 0; i < tb->ninsns; i++) {
		if (tb->map_guest[i] >= tb->guest_len || tb->map_host[i] >= tb->code_len ||
		    (i > 0 && (tb->map_guest[i] <= tb->map_guest[i - 1] ||
			       tb->map_host[i] < tb->map_host[i - 1])))
			fail(a, "the host-to-guest map does not rise inside the block");
	}
}

static void translate_one(struct rig *r, const struct attempt *a, unsigned max)
{
	const struct placement *p = a->at;
	struct cpu *cpu = &r->cpu;
	cpu->s.cpl = a->mode & MODE_CPL3 ? 3 : 0;
	bool real = (a->mode & MODE_REAL) && !(a->mode & MODE_CPL3);   /* not v86 mode */
	cpu->s.cr0 = (real ? 0 : CR0_PE) | CR0_ET | (a->paging ? CR0_PG : 0) |
		     (a->mode & MODE_FPU_OFF ? CR0_TS : 0);
	struct tblock *tb = NULL;
	int err = cpu_translate_block(cpu, &r->tr, p->eip, p->gpa, a->mode, &tb);
	if (err == -ENOSPC) {
		tcache_flush(&r->tc, &cpu->ibl_table);
		err = cpu_translate_block(cpu, &r->tr, p->eip, p->gpa, a->mode, &tb);
		if (err == -ENOSPC)
			fail(a, "a block does not fit in an empty cache");
	}
	cpu->pf.pending = false;
	bool may_cross = p->offset > GUEST_PAGE_SIZE - MAX_INSN;
	if (!p->in_ram && err != -EFAULT)
		fail(a, "code outside RAM was not refused");
	if (err == -EFAULT && p->in_ram && (!may_cross || p->next_fetchable[cpu->s.cpl == 3]))
		fail(a, "-EFAULT for code that can be fetched");
	if (err == -ENOTSUP) {
		fprintf(stderr, "fuzz_translator: %s\n", r->tr.error);
		fail(a, "the translator refused a form (-ENOTSUP)");
	}
	if (err && err != -EFAULT)
		fail(a, "translate_block failed otherwise");
	if (!err)
		check_block(a, tb, max);
	if (!err && r->tc.concurrent && tcache_exits_straddle(tb, (uintptr_t)tb->host))
		fail(a, "a chainable exit's field crosses a line in a concurrent cache");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < HEADER_BYTES)
		return 0;
	struct rig *r = rig_get();
	uint8_t at = data[0], env = data[1], insns = data[2] & 0x3f;
	bool concurrent = (data[2] & 0x40) != 0, no_osfxsr = (data[2] & 0x80) != 0;
	const uint8_t *code = data + HEADER_BYTES;
	size_t code_len = size - HEADER_BYTES;

	r->tc.selfcheck_all = (env & ENV_SELFCHECK) != 0;
	r->tc.concurrent = concurrent;
	r->cpu.ibl_table.mix = (env & ENV_IBL_MIX) != 0;
	r->cpu.tsc_native = (env & ENV_TSC_NATIVE) != 0;
	r->tr.single_insn = (env & ENV_ONE_INSN) != 0;
	r->tr.trace = env & ENV_TRACE ? r->null : NULL;
	r->tr.max_insns = insns ? 1 + insns % r->max_insns : r->max_insns;
	r->cpu.s.cr3 = PAGE_DIR;
	r->cpu.s.cr4 = no_osfxsr ? 0 : CR4_OSFXSR;
	/* The code is written behind the cache's back: the blocks of the
	 * last input, which a copy could start from, go. */
	tcache_flush(&r->tc, &r->cpu.ibl_table);

	/* Paging off, on, then on at the alias, where the blocks of the same
	 * physical code and mode are copies of the pass before (checked). */
	for (unsigned paging = PAGING_OFF; paging <= PAGING_ALIAS; paging++) {
		struct placement p;
		place(r, &p, at, env, paging, code, code_len);
		/* The tables too are written behind the vCPU's back, where an OS
		 * would INVLPG: the monitor's TLB forgets the last placement. */
		cpu_tlb_flush(&r->cpu);
		shadow_forget_adaptive(&r->sh);
		if ((env & ENV_ADAPTIVE) && p.in_ram) {
			/* Every byte, so every instruction whatever its start;
			 * the set holds about 2,000. */
			uint32_t end = p.offset + (code_len < 1024 ? (uint32_t)code_len : 1024u);
			for (uint32_t off = p.offset; off < end && off < GUEST_PAGE_SIZE; off++)
				shadow_mark_adaptive(&r->sh, p.gpa - p.offset + off);
		}
		uint32_t nlegacy = sizeof(LEGACY_MODES) / sizeof(LEGACY_MODES[0]);
		uint32_t nwith = sizeof(LEGACY_WITH) / sizeof(LEGACY_WITH[0]);
		for (uint32_t i = 0; i < MODE_COUNT + nlegacy * nwith; i++) {
			uint32_t mode = i < MODE_COUNT ? i
					: LEGACY_MODES[(i - MODE_COUNT) / nwith] | LEGACY_WITH[(i - MODE_COUNT) % nwith];
			/* Real mode has no paging (v86 mode has). */
			if ((mode & MODE_REAL) && !(mode & MODE_CPL3) && paging != PAGING_OFF)
				continue;
			/* The key bits the rig's CR0.PG and CR4.OSFXSR call for. */
			mode |= (paging == PAGING_OFF ? MODE_UNPAGED : 0) | (no_osfxsr ? MODE_NO_OSFXSR : 0);
			struct attempt a = { &p, code, code_len, mode, paging != 0 };
			bool single = (mode & MODE_SINGLE) || r->tr.single_insn;
			translate_one(r, &a, single ? 1 : r->tr.max_insns);
		}
	}
	return 0;
}
