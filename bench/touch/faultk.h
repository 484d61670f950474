/* The fault-heavy ring-3 guest kernel's fixed layout (faultk.c,
 * faultk_start.S). Everything the kernel touches with paging on below
 * 16 MiB is identity-mapped as user pages (the ring-3 loop runs from the
 * kernel image, as bench/nano's does); the faulting region FAULT_VA is
 * backed by FRAMES frames at FRAME_BASE, handed out in turn by the #PF
 * handler. */
#ifndef FAULTK_H
#define FAULTK_H

#include "guest.h"

#define VEC_PF 14
#define VEC_SYSCALL 0x80        /* EAX = SYS_*; the result in EAX */
#define IDT_ENTRIES (RT_VEC_LEAVE_USER + 1)

/* The system calls (INT 0x80, EAX): */
#define SYS_COUNT 1             /* EAX = the number of system calls so far */
#define SYS_UNMAP 2             /* clear the PTE of FAULT_VA page EBX, INVLPG; EAX = 0 */

#define PAGE 4096
#define PTE_PUW 7               /* present, writable, user */

/* Page tables (physical = linear). */
#define PD_PHYS 0x00800000
#define KPT_PHYS 0x00801000     /* 4 tables identity-mapping 0-16 MiB */
#define KPT_COUNT 4
#define FPT_PHYS 0x00805000     /* the table behind FAULT_VA */

#define FAULT_VA 0x40000000
#define FAULT_PAGES 1000        /* pages of FAULT_VA the loop touches */
#define FRAME_BASE 0x01000000
#define FRAMES 1021             /* a prime: a page meets another frame each round */

#define RAM_NEEDED 0x01400000   /* 20 MiB */

#endif
