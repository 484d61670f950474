/* The indirect-branch lookup table: what translated code probes, inline,
 * for the host code of a guest branch target before it leaves to the run
 * loop. This pair owns the entries' layout, the slot a target takes, and
 * filling, forgetting and clearing them, and the tags' layout; the vCPU
 * keeps the table's address where the emitted lookup finds it (CPU_OFF_IBL)
 * and its current tags, set from the address-space numbers mmu/shadow.c
 * reports (its space_changed callback). */
#ifndef BTVM_CACHE_IBL_H
#define BTVM_CACHE_IBL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IBL_ENTRIES 65536u

/* Translation modes (MODE_* bits) a tag distinguishes. */
#define IBL_MODES 32u

/* The table is two arrays of IBL_ENTRIES words, side by side: the tags,
 * then the host addresses, so that the emitted lookup reaches both with
 * one register holding the slot scaled by 8 (IBL_HOST_OFFSET apart). A
 * tag is (address-space tag | mode << 32 | guest eip), stored
 * complemented: the lookup adds the stored word and one to the tag it
 * wants, which is zero exactly on a match, an instruction fewer than
 * complementing in the lookup. An empty slot holds 0: the complement of
 * ~0, a tag no lookup computes. */
struct ibl_table {
	uint64_t *slots;             /* 2 * IBL_ENTRIES words */
	/* Beside each entry, for the monitor only: the guest physical
	 * address its block starts at (its code address, cpu/run.c), when the block is on one page, else
	 * IBL_GPA_NONE. A miss whose slot holds the same address and mode
	 * under another tag (a forked child running its parent's code) and
	 * whose walk finds that same physical address reuses the entry's
	 * host code instead of looking the block up in the cache. */
	uint64_t *gpas;
	bool mix;                    /* ibl_index() mixes the high bits in (BMI2) */
};

#define IBL_GPA_NONE UINT64_MAX

#define IBL_HOST_OFFSET (IBL_ENTRIES * 8)

/* The lookup table's slot for a guest address: its low 16 bits plus its
 * high 16 (the lookup computes the same with RORX and LEA, which leave the
 * guest's flags alone), so kernel and user code that share low bits, and
 * kernel functions 64 KiB apart, do not take each other's slots. Without
 * BMI2 on the host, the low 16 bits alone. */
static inline uint32_t ibl_index(uint32_t eip, bool mix)
{
	return (mix ? eip + (eip >> 16 | eip << 16) : eip) & (IBL_ENTRIES - 1);
}

/* The tag in slot i (~0 if empty) and the host address beside it. */
static inline uint64_t ibl_tag_at(const struct ibl_table *t, uint32_t i)
{
	return ~t->slots[i];
}

static inline uint64_t ibl_host_at(const struct ibl_table *t, uint32_t i)
{
	return t->slots[IBL_ENTRIES + i];
}

/* The tag base of an address space (the shadow's asid) for code
 * translated in mode: the emitted lookup ORs the guest address in. */
static inline uint64_t ibl_space_tag(uint32_t asid, uint32_t mode)
{
	return (uint64_t)asid << 40 | (uint64_t)mode << 32;
}

/* Fills a vCPU's tag bases, one per mode (IBL_MODES), for an asid. */
static inline void ibl_set_space_tags(uint64_t *tags, uint32_t asid)
{
	for (uint32_t m = 0; m < IBL_MODES; m++)
		tags[m] = ibl_space_tag(asid, m);
}

/* Enters the translation at host for guest eip under a tag base (one of
 * the vCPU's, for its mode: its address space's or the global pages'),
 * with its block's physical address if the block is on one page (else
 * IBL_GPA_NONE). */
static inline void ibl_enter(struct ibl_table *t, uint64_t tag_base, uint32_t eip, const void *host,
			     uint64_t one_page_gpa)
{
	uint32_t i = ibl_index(eip, t->mix);
	t->slots[i] = ~(tag_base | eip);
	t->slots[IBL_ENTRIES + i] = (uint64_t)(uintptr_t)host;
	t->gpas[i] = one_page_gpa;
}

/* The host code of a live entry for guest eip in mode, under any tag,
 * whose block starts at physical gpa on one page; NULL if the slot holds
 * no such entry. A live entry's block is live (dropping a block forgets
 * its entry), so the code is the translation of (eip, gpa, mode). */
static inline const void *ibl_same_block(const struct ibl_table *t, uint32_t eip, uint32_t mode,
					 uint64_t gpa)
{
	uint32_t i = ibl_index(eip, t->mix);
	uint64_t tag = ibl_tag_at(t, i);
	if (tag == ~0ull || (uint32_t)tag != eip || (uint32_t)(tag >> 32 & 0xff) != mode ||
	    t->gpas[i] != gpa || gpa == IBL_GPA_NONE)
		return NULL;
	return (const void *)(uintptr_t)ibl_host_at(t, i);
}

/* 0, or -ENOMEM. The table starts empty. */
int ibl_init(struct ibl_table *t);
void ibl_destroy(struct ibl_table *t);
/* Empties every entry (a flush, a reset, address-space tags wrapped). */
void ibl_clear(struct ibl_table *t);
/* The translation at host for guest eip is gone: its entry, if it still
 * points there, is emptied. Inline, as it was in the cache's invalidation
 * loop before the table had a file of its own. */
static inline void ibl_forget(struct ibl_table *t, uint32_t eip, const void *host)
{
	uint32_t i = ibl_index(eip, t->mix);
	if (ibl_host_at(t, i) == (uint64_t)(uintptr_t)host)
		t->slots[i] = 0;
}

#endif
