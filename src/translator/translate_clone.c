/* Copies of a translated block for the same guest code at another linear
 * address. A shared library under ASLR is the same physical code at a new
 * address in every process, and half the blocks a Debian boot translated
 * were such code again. A translation depends on its linear address only
 * through the fields the translator records as relocations (the return
 * address a CALL pushes, the target a cross-page exit looks up) and its
 * descriptors (exits, callouts), so a copy with those moved is the block
 * the translator would make: --clone-check translates every copy anew as
 * well and compares the two. */
#include "translator/translate_internal.h"

#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "cache/ibl.h"
#include "cache/patch.h"
#include "cache/tcache.h"
#include "mmu/window.h"
#include "translator/translate.h"

uint8_t clone_env(const struct translate_env *env)
{
	return (uint8_t)((env->tsc_native ? 2u : 0u) | (env->sensitive_callouts ? 4u : 0u) |
			 (env->ibl->mix ? 8u : 0u));
}

const struct tblock *clone_source(const struct translator *t, const struct translate_env *env,
				  uint32_t eip, uint64_t gpa, uint32_t mode)
{
	/* A first instruction near the page end may run onto the next page,
	 * which maps differently here (translate_block looks at it). */
	if (!t->clone || t->trace || env->breakpoint_at || !mode_uses_ibl(mode) ||
	    eip % GUEST_PAGE_SIZE > GUEST_PAGE_SIZE - ZYDIS_MAX_INSTRUCTION_LENGTH ||
	    tcache_page_selfcheck(env->tc, (uint32_t)(gpa / GUEST_PAGE_SIZE)))
		return NULL;
	const struct tblock *twin = tcache_twin(env->tc, gpa, mode);
	if (!twin || twin->eip == eip || !twin->clonable || twin->clone_env != clone_env(env))
		return NULL;
	/* One that ended at its page's end (or before an instruction across
	 * it) ended there because its next page could not be joined: here
	 * the block may go on into it (translate.c, span_next_page). */
	if (twin->gpa % GUEST_PAGE_SIZE + twin->guest_len > GUEST_PAGE_SIZE - ZYDIS_MAX_INSTRUCTION_LENGTH)
		return NULL;
	return twin;
}

/* The descriptors after the code: where the translator put them. */
static uint8_t *first_desc(const struct tblock *tb)
{
	return tb->host + ((tb->code_len + 15) & ~15u);
}

int clone_block(struct tcache *tc, const struct tblock *twin, uint32_t eip, struct tblock **out)
{
	uint8_t *code, *limit;
	struct tblock *tb = tcache_new_block(tc, &code, &limit);
	if (tb && (tcache_loop_straddles(twin, (uintptr_t)code) ||
		   (tc->concurrent && tcache_exits_straddle(twin, (uintptr_t)code)))) {
		/* Where the twin is in its line: its loop on as few lines, and
		 * its exits' fields each in one, as its translation put them. */
		tcache_restart_like(tc, tb, (uintptr_t)twin->host);
		tb = tcache_new_block(tc, &code, &limit);
	}
	/* A unit's last room may be short of the reserve (tcache_new_block):
	 * the copy then waits for the next unit. */
	if (!tb || twin->host_len > (size_t)(limit - code))
		return -ENOSPC;
	uint32_t delta = eip - twin->eip;
	ptrdiff_t moved = code - twin->host;

	memcpy(code, twin->host, twin->host_len);
	tb->eip = eip;
	tb->gpa = twin->gpa;
	tb->mode = twin->mode;
	tb->guest_len = twin->guest_len;
	tb->host = code;
	tb->layout_line = twin->layout_line;
	tb->poll_len = twin->poll_len;
	tb->quiet = twin->quiet;
	tb->host_len = twin->host_len;
	tb->code_len = twin->code_len;
	tb->ninsns = twin->ninsns;
	tb->byte_swaps = twin->byte_swaps;
	tb->pages[0] = twin->pages[0];
	tb->pages[1] = twin->pages[1];
	tb->clonable = true;
	tb->clone_env = twin->clone_env;
	tb->nrelocs = twin->nrelocs;
	tb->relocs = twin->relocs;
	tb->map_esp = twin->map_esp;   /* commit copies it, as the relocs */
	tcache_alloc_maps(tc, tb, twin->ninsns);
	memcpy(tb->map_host, twin->map_host, twin->ninsns * sizeof(*tb->map_host));
	memcpy(tb->map_guest, twin->map_guest, twin->ninsns * sizeof(*tb->map_guest));

	/* Exits as the translator leaves them: unchained, each branch field
	 * pointing at its own stub (the twin's may be chained by now). */
	for (unsigned i = 0; i < TBLOCK_MAX_EXITS + 1; i++) {
		const struct exit_desc *from = &twin->exits[i];
		struct exit_desc *ex = &tb->exits[i];
		if (!from->stub)
			continue;
		ex->target_eip = from->target_eip + delta;
		ex->kind = from->kind;
		ex->stub = from->stub + moved;
		ex->ibl_stub = from->ibl_stub ? from->ibl_stub + moved : NULL;
		ex->branch = from->branch ? from->branch + moved : NULL;
		ex->from = tb;
		if (ex->branch)
			patch_rel32(ex->branch, ex->stub);
		ex->patch = ex->kind == EXIT_KIND_BRANCH ? ex->branch : NULL;
	}
	for (unsigned i = 0; i < twin->nrelocs; i++) {
		uint8_t *field = code + (twin->relocs[i] & TCACHE_RELOC_OFFSET);
		if ((twin->relocs[i] & ~TCACHE_RELOC_OFFSET) == TCACHE_RELOC_EIP32) {
			uint32_t v;
			memcpy(&v, field, 4);
			v += delta;
			memcpy(field, &v, 4);
			continue;
		}
		uint64_t v;
		memcpy(&v, field, 8);
		if (v - (uint64_t)(uintptr_t)twin->host < twin->host_len) {
			v += (uint64_t)moved;   /* a callout descriptor */
		} else {
			ptrdiff_t exit = (const struct exit_desc *)(uintptr_t)v - twin->exits;
			assert(exit >= 0 && exit <= TBLOCK_MAX_EXITS);
			v = (uint64_t)(uintptr_t)&tb->exits[exit];
		}
		memcpy(field, &v, 8);
	}
	for (uint8_t *p = first_desc(tb); p + sizeof(struct callout_desc) <= code + tb->host_len;
	     p += sizeof(struct callout_desc)) {
		struct callout_desc d;
		memcpy(&d, p, sizeof(d));
		d.eip += delta;
		d.next_eip += delta;
		memcpy(p, &d, sizeof(d));
	}
	tcache_commit(tc, tb);
	tc->stats.clones++;
	*out = tb;
	return 0;
}

/* A PTR64 field's value relative to its own block: an offset into the
 * block's code, or which of its exits. */
static uint64_t ptr_in_block(const struct tblock *tb, uint64_t v)
{
	if (v - (uint64_t)(uintptr_t)tb->host < tb->host_len)
		return v - (uint64_t)(uintptr_t)tb->host;
	return UINT64_MAX - (uint64_t)((const struct exit_desc *)(uintptr_t)v - tb->exits);
}

static bool same_offset(const struct tblock *a, const uint8_t *pa, const struct tblock *b,
			const uint8_t *pb)
{
	if (!pa || !pb)
		return !pa && !pb;
	return pa - a->host == pb - b->host;
}

const char *clone_differs(const struct tblock *copy, const struct tblock *fresh)
{
	if (copy->host_len != fresh->host_len || copy->code_len != fresh->code_len)
		return "code length";
	if (copy->guest_len != fresh->guest_len || copy->ninsns != fresh->ninsns ||
	    copy->pages[0] != fresh->pages[0] || copy->pages[1] != fresh->pages[1])
		return "guest extent";
	if (copy->byte_swaps != fresh->byte_swaps)
		return "byte swaps";
	if (memcmp(copy->map_host, fresh->map_host, copy->ninsns * sizeof(*copy->map_host)) ||
	    memcmp(copy->map_guest, fresh->map_guest, copy->ninsns * sizeof(*copy->map_guest)) ||
	    !copy->map_esp != !fresh->map_esp ||
	    (copy->map_esp && memcmp(copy->map_esp, fresh->map_esp, copy->ninsns * sizeof(*copy->map_esp))))
		return "instruction maps";
	if (!fresh->clonable || copy->nrelocs != fresh->nrelocs ||
	    (copy->nrelocs && memcmp(copy->relocs, fresh->relocs, copy->nrelocs * sizeof(*copy->relocs))))
		return "relocations";
	for (unsigned i = 0; i < TBLOCK_MAX_EXITS + 1; i++) {
		const struct exit_desc *a = &copy->exits[i], *b = &fresh->exits[i];
		if (a->target_eip != b->target_eip || a->kind != b->kind ||
		    !same_offset(copy, a->stub, fresh, b->stub) ||
		    !same_offset(copy, a->ibl_stub, fresh, b->ibl_stub) ||
		    !same_offset(copy, a->branch, fresh, b->branch) ||
		    !same_offset(copy, a->patch, fresh, b->patch))
			return "exits";
	}
	/* The bytes, host addresses aside (each block's own). */
	size_t from = 0;
	for (unsigned i = 0; i <= copy->nrelocs; i++) {
		size_t to = copy->host_len;
		if (i < copy->nrelocs) {
			if ((copy->relocs[i] & ~TCACHE_RELOC_OFFSET) != TCACHE_RELOC_PTR64)
				continue;
			to = copy->relocs[i] & TCACHE_RELOC_OFFSET;
			uint64_t a, b;
			memcpy(&a, copy->host + to, 8);
			memcpy(&b, fresh->host + to, 8);
			if (ptr_in_block(copy, a) != ptr_in_block(fresh, b))
				return "a host address";
		}
		if (to < from || memcmp(copy->host + from, fresh->host + from, to - from))
			return "code bytes";
		from = to + 8;
	}
	return NULL;
}
