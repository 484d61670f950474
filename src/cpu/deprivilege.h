/* --trap-and-emulate: what the sensitive-unprivileged instructions show a
 * guest kernel that a classic trap-and-emulate monitor runs deprivileged
 * at CPL 3 on real (pre-VT) hardware. The privileged instructions trap
 * there and are emulated right, so btvm's own handlers already give their
 * result; these give the others' wrong one, note the difference
 * (cpu/explain.h) and let the guest go on. Each takes the value a real CPU
 * at CPL 0 gives and returns the one the deprivileged kernel sees; only
 * called while cpu->deprivileged is set. */
#ifndef BTVM_CPU_DEPRIVILEGE_H
#define BTVM_CPU_DEPRIVILEGE_H

#include <stdint.h>

#include "cpu/cpu.h"

/* The monitor's own machine, which the unprivileged stores reveal: its
 * tables at the top of the address space, where classic monitors lived. */
#define DEPRIV_GDT_BASE 0xffc00000u
#define DEPRIV_GDT_LIMIT 0x00ffu
#define DEPRIV_IDT_BASE 0xffc01000u
#define DEPRIV_IDT_LIMIT 0x07ffu
#define DEPRIV_LDT_SELECTOR 0x0000u
#define DEPRIV_TR_SELECTOR 0x0040u
#define DEPRIV_CR0 0x80050033u   /* PG, AM, WP, NE, ET, MP, PE */

/* PUSHF: the real IF (1: the monitor never runs the guest with host
 * interrupts off) and IOPL (0), whatever the kernel set. */
uint32_t deprivilege_pushf(struct cpu *cpu, uint32_t eip, uint32_t flags);
/* POPF: which flags it may change (IF and IOPL not at CPL 3 with IOPL 0). */
uint32_t deprivilege_popf(struct cpu *cpu, uint32_t eip, uint32_t popped, uint32_t writable);
/* SGDT, SIDT. */
struct table_reg deprivilege_table(struct cpu *cpu, uint32_t eip, bool gdt, struct table_reg t);
/* SLDT, STR, SMSW (m: the mnemonic). */
uint32_t deprivilege_sysreg(struct cpu *cpu, uint32_t eip, ZydisMnemonic m, uint32_t v);
/* MOV from and PUSH of a segment register: CS and SS carry the real
 * CPL, 3, in their RPL. */
uint16_t deprivilege_selector(struct cpu *cpu, uint32_t eip, unsigned seg, uint16_t sel);
/* LAR: the access rights of the monitor's shadow descriptor, whose DPL
 * is 3 so that the deprivileged kernel may use it. */
uint32_t deprivilege_lar(struct cpu *cpu, uint32_t eip, uint32_t rights);

#endif
