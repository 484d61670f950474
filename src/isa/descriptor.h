/* Segment descriptor layout (SDM vol. 3, 3.4.5): the bits of a GDT/LDT
 * entry's high dword, the system descriptor types, and the base and limit
 * packed into the two dwords. Shared by the segment loads (exception.c)
 * and the segmentation callouts. struct segment's flags hold bits 8..23 of
 * the high dword, so DESC_* >> 8 tests them there. */
#ifndef BTVM_ISA_DESCRIPTOR_H
#define BTVM_ISA_DESCRIPTOR_H

#include <stdint.h>

#define DESC_TYPE(hi) (((hi) >> 8) & 0xfu)
#define DESC_ACCESSED (1u << 8)     /* code or data */
#define DESC_WRITABLE (1u << 9)     /* data */
#define DESC_READABLE (1u << 9)     /* code */
#define DESC_TSS_BUSY (1u << 9)     /* system, TSS types */
#define DESC_CONFORMING (1u << 10)  /* code */
#define DESC_CODE (1u << 11)
#define DESC_S (1u << 12)           /* code or data (else system) */
#define DESC_DPL(hi) (((hi) >> 13) & 3u)
#define DESC_P (1u << 15)
#define DESC_DB (1u << 22)
#define DESC_G (1u << 23)

enum { SYS_TSS16 = 1, SYS_LDT = 2, SYS_TSS16_BUSY = 3, SYS_CALL_GATE16 = 4, SYS_TASK_GATE = 5,
       SYS_TSS32 = 9, SYS_TSS32_BUSY = 11, SYS_CALL_GATE32 = 12 };

static inline uint32_t desc_base(uint32_t lo, uint32_t hi)
{
	return (lo >> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000);
}

/* The limit in bytes: page granular limits (G) expanded. */
static inline uint32_t desc_limit(uint32_t lo, uint32_t hi)
{
	uint32_t limit = (lo & 0xffff) | (hi & 0x000f0000);
	return hi & DESC_G ? (limit << 12) | 0xfff : limit;
}

/* struct segment's flags: descriptor bits 40..55. */
static inline uint16_t desc_flags(uint32_t hi)
{
	return (uint16_t)((hi >> 8) & 0xf0ff);
}

#endif
