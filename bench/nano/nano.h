/* The nanobenchmark guest's fixed layout: selectors, vectors and the
 * physical and linear addresses of its page tables and data frames, shared
 * by nano_start.S and nano.c. Everything physical lies below 32 MiB, which
 * the kernel identity-maps, so it can write page tables with paging on. */
#ifndef NANO_H
#define NANO_H

#include "guest.h"

#define VEC_PF 14
#define VEC_SYSCALL 0x80        /* the timed system call: EAX + 1, IRET */
#define IDT_ENTRIES (RT_VEC_LEAVE_USER + 1)

#define PAGE 4096
#define PTE_PUW 7               /* present, writable, user */
#define PTE_PU 5                /* present, user, read-only */
#define PTE_G 0x100             /* global (with CR4.PGE): the kernel map's, as Linux's */

#define CR0_WP 0x00010000u
#define CR4_PGE 0x00000080u

/* Page tables (physical = linear: identity-mapped). */
#define PD_MAIN 0x00800000
#define PD_ALT 0x00801000       /* as PD_MAIN but PROBE_VA -> FRAME_B */
#define KPT_BASE 0x00802000     /* 8 tables identity-mapping 0-32 MiB */
#define KPT_COUNT 8
#define PT_FAULT 0x0080a000     /* maps FAULT_VA; filled by the #PF handler */
#define PT_WARM 0x0080b000      /* maps HIDDEN_VA in PD_MAIN */
#define PT_PROBE_A 0x0080c000   /* PROBE_VA -> FRAME_A, PTE_VA -> FRAME_C/D, RO_VA -> FRAME_E */
#define PT_PROBE_B 0x0080d000   /* PROBE_VA -> FRAME_B */
#define HIDDEN_POOL 0x00900000  /* per round: a fresh directory, then a fresh table */
#define HIDDEN_ROUNDS 16

/* Linear regions and the frames behind them. */
#define FAULT_VA 0x40000000
#define FAULT_PAGES 512
#define FAULT_PHYS 0x01000000
#define HIDDEN_VA 0x80000000
#define HIDDEN_PAGES 1024
#define HIDDEN_PHYS 0x01400000
#define PROBE_VA 0xc0000000
#define PTE_VA 0xc0001000
#define RO_VA 0xc0002000        /* read-only: written with CR0.WP clear */
#define FRAME_A 0x01900000
#define FRAME_B 0x01901000
#define FRAME_C 0x01902000
#define FRAME_D 0x01903000
#define FRAME_E 0x01904000

/* The pages the control-register operations touch after each flush, as a
 * kernel goes on using its memory: one per 512 KiB of HIDDEN_VA, so each
 * lies in another neighbourhood a VMM might fill in one go. */
#define TOUCH_PAGES 8
#define TOUCH_STRIDE 128        /* pages */

#define RAM_NEEDED 0x02000000   /* 32 MiB */

#endif
