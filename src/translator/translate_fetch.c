/* Where a block's guest bytes come from: the instruction fetch, within
 * the block's first page or on into the next linear page (once), and the
 * bytes of a block that reaches into it, in order. */
#include <assert.h>
#include <string.h>

#include "cache/tcache.h"
#include "mmu/guest_ram.h"
#include "mmu/shadow.h"
#include "translator/translate.h"

#include "translator/translate_internal.h"

/* The bytes of the instruction at c->eip (on the page at c->page_gpa) and
 * how many there are to decode: up to the end of the page, or across it
 * into the next page when that is mapped and the block may reach it (its
 * first instruction, or may_span), and never past room (the bytes CS's
 * limit leaves: a page past it is not looked at). *next_gpa gets the next
 * page's physical address, or ~0 if it cannot be fetched (a #PF is then
 * left pending only when the block has no instruction yet to end before
 * it). */
unsigned fetch_insn(struct tctx *c, uint64_t *next_gpa, unsigned room)
{
	const struct guest_ram *ram = c->env->sh->ram;
	uint32_t lin = code_linear(c, c->eip);
	uint32_t off = lin % GUEST_PAGE_SIZE;
	uint32_t in_page = GUEST_PAGE_SIZE - off;
	uint64_t here = c->page_gpa + off;
	*next_gpa = UINT64_MAX;
	if (in_page >= room) {
		c->bytes = ram->host + here;
		uint64_t avail = ram->size - here;
		return avail > room ? room : (unsigned)avail;
	}
	memcpy(c->insn_buf, ram->host + here, in_page);
	c->bytes = c->insn_buf;
	uint32_t next_linear = lin + in_page;
	uint64_t gpa;
	if (c->tb->ninsns > 0 && (!c->may_span || c->tb->pages[1] != c->tb->pages[0]))
		return in_page;   /* a crossing instruction starts a block of its own */
	bool ok = c->env->fetch_gpa(c->env->opaque, next_linear, &gpa);
	if (!ok || !guest_ram_code_range(ram, gpa, ZYDIS_MAX_INSTRUCTION_LENGTH - in_page)) {
		if (c->tb->ninsns > 0)
			c->env->drop_fault(c->env->opaque);   /* the block ends before it */
		return in_page;
	}
	c->env->drop_fault(c->env->opaque);
	memcpy(c->insn_buf + in_page, ram->host + gpa, ZYDIS_MAX_INSTRUCTION_LENGTH - in_page);
	*next_gpa = gpa;
	return room;
}

/* Whether the block goes on into the next linear page, whose code is at
 * next_gpa (~0: it cannot be fetched): once, while may_span, and into
 * another frame than its first page's that holds no self-checking block.
 * A loop across a page boundary then stays within one block, and its
 * branches chain (tcache_chain), where two blocks of one page each were
 * joined by lookups. Sets the block's second page. */
bool span_next_page(struct tctx *c, uint64_t next_gpa)
{
	struct tblock *tb = c->tb;
	if (!c->may_span || tb->pages[1] != tb->pages[0] || next_gpa == UINT64_MAX)
		return false;
	uint32_t page = (uint32_t)(next_gpa / GUEST_PAGE_SIZE);
	if (page == tb->pages[0] || tcache_page_selfcheck(c->env->tc, page))
		return false;
	tb->pages[1] = page;
	return true;
}

/* At the end of the page the last instruction started on: whether the
 * block goes on at c->eip, on its second page. */
bool go_on_next_page(struct tctx *c)
{
	struct tblock *tb = c->tb;
	uint32_t lin = code_linear(c, c->eip);
	if (!c->may_span || lin / GUEST_PAGE_SIZE != code_linear(c, tb->eip) / GUEST_PAGE_SIZE + 1)
		return false;
	if (tb->pages[1] == tb->pages[0]) {
		/* The last instruction ended at the page's end. */
		uint64_t gpa;
		bool ok = c->env->fetch_gpa(c->env->opaque, lin, &gpa);
		c->env->drop_fault(c->env->opaque);
		if (!ok || !guest_ram_code_range(c->env->sh->ram, gpa, 1) || !span_next_page(c, gpa))
			return false;
	}
	c->page_gpa = (uint64_t)tb->pages[1] * GUEST_PAGE_SIZE;
	return true;
}

const uint8_t *block_guest_bytes(const struct tctx *c, uint8_t *spanned)
{
	const struct tblock *tb = c->tb;
	const uint8_t *ram = c->env->sh->ram->host;
	if (tb->pages[1] == tb->pages[0])
		return ram + c->gpa;
	uint32_t len = c->eip - tb->eip, first = GUEST_PAGE_SIZE - code_linear(c, tb->eip) % GUEST_PAGE_SIZE;
	assert(len <= BLOCK_MAX_INSNS * ZYDIS_MAX_INSTRUCTION_LENGTH);
	if (first > len)
		first = len;
	memcpy(spanned, ram + c->gpa, first);
	memcpy(spanned + first, ram + (uint64_t)tb->pages[1] * GUEST_PAGE_SIZE, len - first);
	return spanned;
}
