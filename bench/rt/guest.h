/* The guest runtime: what every C guest kernel here (the benchmark
 * workloads, bench/nano, tests/difftest's runner) starts from. It owns
 *   rt/start.S   the Multiboot v1 header, _start, the GDT and the stack;
 *                _start calls guest_main(magic, info) with interrupts off;
 *   rt/catch.S   catchers for vectors 0-31 that hand rt_exception a frame;
 *   rt/user.S    the way into ring 3 and back (rt_enter_user);
 *   rt/guest.c   COM1 output (rt_putchar), the exit port, x87/SSE set-up,
 *                IDT gates and the command line;
 *   rt/guest.ld  the layout: loaded at 1 MiB, Multiboot header first.
 * The output formatting and memory routines are rt/rt.h (rt/lib.c).
 *
 * Included by assembly too: only the #defines are seen there. */
#ifndef RT_GUEST_H
#define RT_GUEST_H

/* rt/start.S's GDT. The order is the one SYSENTER/SYSEXIT need: kernel
 * code, kernel data (+8), user code (+16), user data (+24). The TSS slot
 * is left empty for a guest that wants one (bench/nano). */
#define RT_SEL_KCODE 0x08
#define RT_SEL_KDATA 0x10
#define RT_SEL_UCODE 0x1b       /* 0x18 | RPL 3 */
#define RT_SEL_UDATA 0x23       /* 0x20 | RPL 3 */
#define RT_SEL_TSS 0x28
#define RT_GDT_ENTRIES 6

/* rt/user.S's way back from ring 3: a DPL-3 gate to rt_leave_user_entry. */
#define RT_VEC_LEAVE_USER 0x81

/* The vectors with an error code, and a list of the 32 exception vectors
 * for .irp. */
#define RT_HAS_ERROR_CODE(v) \
	((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)
#define RT_EXCEPTION_VECTORS \
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, \
	23, 24, 25, 26, 27, 28, 29, 30, 31

#ifndef __ASSEMBLER__

#include <stdint.h>

#include "rt.h"

#define RT_COM1 0x3f8
#define RT_DEBUG_EXIT_PORT 0xf4

/* Multiboot v1: the boot magic in EAX and the info structure's flags. */
#define MB_BOOT_MAGIC 0x2BADB002u
#define MBI_FLAG_MEM (1u << 0)
#define MBI_FLAG_CMDLINE (1u << 2)
#define MBI_FLAG_MODS (1u << 3)

/* Written to isa-debug-exit: btvm and QEMU then exit with (V << 1) | 1,
 * 33 for a pass and 35 for a failure (the test guests' convention). */
#define RT_EXIT_PASS 0x10u
#define RT_EXIT_FAIL 0x11u

/* Defined by each guest. rt/start.S calls guest_main with the Multiboot
 * magic and info pointer; it must not return. rt/catch.S calls
 * rt_exception with { vector, error code (0 if none), EIP, CS, EFLAGS }
 * on a stack of its own, for the vectors whose gates lead to
 * rt_catchers; it must not return either. */
void guest_main(uint32_t magic, const uint32_t *info);
void rt_exception(const uint32_t *frame);

/* rt/start.S, rt/catch.S. */
extern uint64_t rt_gdt[RT_GDT_ENTRIES];
extern const uint32_t rt_catchers[32];

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* "exception <vector> error 0x<code> at EIP 0x<eip>" for rt_exception's
 * frame, without a newline. */
void rt_put_exception(const uint32_t *frame);

/* Ends the guest through isa-debug-exit (RT_EXIT_PASS or RT_EXIT_FAIL). */
__attribute__((noreturn)) void rt_exit(uint32_t code);

/* x87 to its initial state (the control word 0x37f that Linux gives a
 * process) with native error reporting, and SSE enabled: CR0.EM and TS
 * clear, CR0.MP and NE set, CR4.OSFXSR and OSXMMEXCPT set. */
void rt_fpu_init(void);

/* The IDT: rt_idt_set fills a 32-bit interrupt gate (kernel code) with the
 * given DPL, rt_idt_load loads its first `entries` gates. */
#define RT_IDT_MAX 256
void rt_idt_set(unsigned vec, uint32_t handler, unsigned dpl);
void rt_idt_load(unsigned entries);

/* A 32-bit TSS whose ring-0 stack is RT_SEL_KDATA:esp0 (no I/O bitmap),
 * put at RT_SEL_TSS and loaded (LTR): what a guest that enters ring 3
 * needs. */
void rt_tss_load(uint32_t esp0);

/* Every exception vector to rt_catchers, DPL 0 (inline: only a guest
 * that links rt/catch.S calls it). */
static inline void rt_idt_catch_exceptions(void)
{
	for (unsigned v = 0; v < 32; v++)
		rt_idt_set(v, rt_catchers[v], 0);
}

/* rt/user.S: rt_enter_user runs fn in ring 3 (flat user segments, a
 * stack of its own, IF clear) and returns once fn has returned. */
extern char rt_ring0_stack_top[];
void rt_leave_user_entry(void);
void rt_enter_user(void (*fn)(void));

/* rt_enter_user's gate and the TSS with rt/user.S's ring-0 stack; the IDT
 * is loaded after (inline: only a guest that links rt/user.S calls it). */
static inline void rt_user_init(void)
{
	rt_idt_set(RT_VEC_LEAVE_USER, (uint32_t)rt_leave_user_entry, 3);
	rt_tss_load((uint32_t)rt_ring0_stack_top);
}

/* The value of "key" (e.g. "iters=") in the Multiboot command line when it
 * starts a word there, up to the next space; NULL when it is not there or
 * info has no command line. */
const char *rt_cmdline_value(const uint32_t *info, const char *key);

#endif /* !__ASSEMBLER__ */

#endif
