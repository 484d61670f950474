/* What the translator's files share: the per-block translation context,
 * the host register roles, and the emit helpers the instruction families
 * (translate.c, translate_stack.c, translate_string.c) have in common. */
#ifndef BTVM_TRANSLATOR_TRANSLATE_INTERNAL_H
#define BTVM_TRANSLATOR_TRANSLATE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <Zydis/Zydis.h>

#include "cache/tcache.h"
#include "isa/sensitive.h"
#include "mmu/window.h"
#include "translator/emit.h"
#include "translator/translate.h"

#define BLOCK_MAX_INSNS 64u
/* Room that must stay free in the block's code area before one more
 * instruction is translated, so that its stubs and descriptors still fit. */
#define INSN_HEADROOM 1024

struct tctx {
	struct translator *t;
	const struct translate_env *env;
	struct tblock *tb;
	struct emitter e;
	uint32_t mode;
	uint32_t eip;
	uint32_t next_eip;
	const uint8_t *bytes;
	ZydisDecodedInstruction in;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	unsigned nexits;
	unsigned ncallouts;
	bool ended;
	bool adaptive;         /* the instruction's mark (insn_is_adaptive) */
	bool paging;           /* CR0.PG at translation: cross-page exits look up */
	uint64_t gpa;          /* code address (cpu/run.c) of the block's first byte */
	/* The code address of the page c->eip is on: the first page's, or
	 * the next one's once the block has gone on into it (may_span). */
	uint64_t page_gpa;
	/* Whether the block may go on into the next linear page (one only):
	 * not a self-checking block or a hot trace, a single-instruction
	 * block, or one whose CS has a base (tcache_chain's rule compares
	 * EIP pages as linear ones). */
	bool may_span;
	/* What to add to an EIP for its linear address: CS.base in a
	 * MODE_SEGCS block, else 0. */
	uint32_t cs_base;
	/* CS's limit in a MODE_CSLIMIT block, else 0xFFFFFFFF (nothing is
	 * past it): the last EIP whose byte may be fetched. */
	uint32_t cs_limit;
	uint8_t insn_buf[ZYDIS_MAX_INSTRUCTION_LENGTH];  /* an instruction across pages */
	/* A reserved NOP as 0F 1F, or TZCNT/LZCNT as BSF/BSR, to decode. */
	uint8_t nop_buf[ZYDIS_MAX_INSTRUCTION_LENGTH];
	/* Self-checking block (its page is left writable): the entry jumps to
	 * a compare of the guest bytes emitted after the block. */
	bool selfcheck;
	uint8_t *check_jmp;
	uint8_t *body;
	/* The fields of the code that hold addresses (relocs below), for
	 * copies of the block at another linear address; no_clone when one
	 * could not be found where it was expected. */
	unsigned nrelocs;
	bool no_clone;
	/* PUSH and POP of a register leave r12 behind the guest's ESP by
	 * esp_delta until an instruction that needs it exact (esp_settle):
	 * a run of them moves r12 once. esp_at[i] is the delta at guest
	 * instruction i's start, where a fault finds ESP (tblock.map_esp). */
	int32_t esp_delta;
	bool esp_lags;         /* esp_may_lag of the instruction being translated */
	bool esp_any;
	int16_t esp_at[BLOCK_MAX_INSNS];
	/* A trace (env->trace_path): the path's entries reached so far. */
	unsigned trace_k;
	/* Last, and not cleared per block (large): callout descriptors to
	 * place after the code, with the field each one patches. */
	struct {
		uint8_t *imm_field;
		struct callout_desc desc;
	} callouts[2 * BLOCK_MAX_INSNS];   /* adaptive instructions take two */
	uint16_t relocs[TCACHE_MAX_RELOCS];   /* tcache.h: offset | kind */
};

/* Host registers: guest eax..edi are themselves, guest esp is r12 (plus
 * tctx.esp_delta while a run of PUSH and POP is being translated). */
#define R_ESP ZYDIS_REGISTER_R12D
#define R_CPU ZYDIS_REGISTER_R15
#define R_T ZYDIS_REGISTER_R13    /* value scratch, door argument */
#define R_A ZYDIS_REGISTER_R14    /* address scratch */
#define R_B ZYDIS_REGISTER_R10    /* second address scratch */
#define R_S ZYDIS_REGISTER_R11    /* string-move scratch */


enum string_op { STR_MOVS, STR_STOS, STR_LODS, STR_CMPS, STR_SCAS };

/* translate.c */
/* Records the address field that ends the code emitted so far: an imm32
 * holding a guest linear address (TCACHE_RELOC_EIP32) or an imm64 holding
 * a host address (TCACHE_RELOC_PTR64), whose value is value. */
void note_reloc(struct tctx *c, uint16_t kind, uint64_t value);
ZydisRegister map_reg(ZydisRegister r);
ZydisRegister reg64(ZydisRegister r);
ZydisRegister reg_sized(ZydisRegister r64, unsigned bytes);
ZydisEncoderOperand cpu_field(unsigned size, unsigned offset);
/* The attention poll: one load, no flags, through r9 (the doors' copy
 * of cpu->poll_ptr), which faults when attention was asked for. With
 * several vCPUs r9 is loaded from cpu->poll_ptr first, so another
 * thread's request is seen at the next poll without a signal (a signal
 * to a thread on another core took 17 us on a 2-core Xeon, two of them
 * most of an IPI's round trip). */
void emit_attention_poll(struct tctx *c);
/* Whether an access through segment register seg must add its base (not
 * a flat mode's CS/DS/ES/SS). */
bool seg_needs_base(const struct tctx *c, ZydisRegister seg);
void emit_lea32(struct tctx *c, ZydisRegister dst32, ZydisRegister base64, ZydisRegister index64,
		unsigned scale, int64_t disp);
ZydisEncoderOperand guest_mem(struct tctx *c, const ZydisDecodedOperand *op, int64_t extra,
			      unsigned size);
ZydisEncoderOperand guest_mem_at(struct tctx *c, ZydisRegister guest_reg, int32_t disp,
				 ZydisRegister seg, unsigned size);
void emit_mem_insn(struct tctx *c, ZydisMnemonic m, unsigned n, ZydisEncoderOperand *ops,
		   ZydisInstructionAttributes prefixes);
void emit_branch_exit(struct tctx *c, uint32_t target, enum exit_kind kind);
void emit_jcc_exit(struct tctx *c, unsigned cc, uint32_t target);
void emit_callout(struct tctx *c);
/* The indirect branch to the EIP in r13d: the lookup table's probe, or
 * the miss door where the mode has no table entries (mode_uses_ibl) or
 * the block is one instruction. Ends the block. */
void emit_indirect(struct tctx *c);
/* The linear address of EIP eip in this block's code segment. */
static inline uint32_t code_linear(const struct tctx *c, uint32_t eip)
{
	return c->cs_base + eip;
}
/* The EIP where the linear page holding eip ends (1 << 32 for the last): blocks
 * stay on one page of linear addresses, whatever CS.base is. */
static inline uint64_t page_end_of(const struct tctx *c, uint32_t eip)
{
	/* 64 bits: the last page below offset 4 GiB ends at 1 << 32. */
	return (uint64_t)eip + (GUEST_PAGE_SIZE - code_linear(c, eip) % GUEST_PAGE_SIZE);
}
bool insn_is_adaptive(const struct tctx *c);
/* Host bytes a block needs after its code: stubs and descriptors. */
size_t tail_room(const struct tctx *c, uint32_t guest_len);
/* translate_sensitive.c */
/* The inline form of a sensitive instruction; false when it declines. */
bool translate_inline_form(struct tctx *c, enum sensitive_inline form);
/* translate_fetch.c */
/* The bytes of the instruction at c->eip in c->bytes and how many may be
 * decoded (at most room); *next_gpa the next page's code address if they
 * run into it, else ~0. */
unsigned fetch_insn(struct tctx *c, uint64_t *next_gpa, unsigned room);
/* Whether the block goes on into the next page, at next_gpa (its second
 * page set), for an instruction across the page's end. */
bool span_next_page(struct tctx *c, uint64_t next_gpa);
/* At the end of the page the last instruction started on: whether the
 * block goes on at c->eip, on its second page (c->page_gpa set). */
bool go_on_next_page(struct tctx *c);
/* The guest bytes of the block translated so far (c->tb from its EIP to
 * c->eip): in RAM when on one page, else copied in order to spanned (room
 * for BLOCK_MAX_INSNS instructions). */
const uint8_t *block_guest_bytes(const struct tctx *c, uint8_t *spanned);
/* translate_clone.c */
/* The translation settings a copy of a block must share with it. */
uint8_t clone_env(const struct translate_env *env);
/* A block to copy for linear eip at gpa in mode, or NULL to translate. */
const struct tblock *clone_source(const struct translator *t, const struct translate_env *env,
				  uint32_t eip, uint64_t gpa, uint32_t mode);
/* The copy of twin for linear eip, published; 0 or -ENOSPC. */
int clone_block(struct tcache *tc, const struct tblock *twin, uint32_t eip, struct tblock **out);
/* NULL when copy and fresh are the same block (code, exits, maps, with
 * their host addresses each relative to its own block), else what differs. */
const char *clone_differs(const struct tblock *copy, const struct tblock *fresh);
/* A flag-free test of CX for zero, and putting RCX back after it. */
uint8_t *emit_cx_zero_test(struct tctx *c);
void restore_rcx(struct tctx *c);

/* Whether a trace goes on at a direct branch's target rather than after
 * it: the path's next EIP, forward of the branch on its page. */
static inline bool trace_follows(const struct tctx *c, uint32_t target)
{
	return c->env->trace_path && c->trace_k < c->env->trace_len &&
	       target == c->env->trace_path[c->trace_k] && target > c->eip &&
	       target < page_end_of(c, c->eip);
}
/* translate_flow.c: near JMP, CALL, RET, Jcc, LOOPcc, JCXZ/JECXZ */
bool translate_branch(struct tctx *c);
/* How many bytes of an instruction at eip lie inside CS's limit, at most
 * an instruction's longest (0: eip itself is past it); in a block without
 * MODE_CSLIMIT, those below offset 4 GiB. */
static inline unsigned code_room(const struct tctx *c, uint32_t eip)
{
	/* A flat CS's limit 0xFFFFFFFF too: an instruction running past
	 * offset 4 GiB is #GP(0), not fetched across the wrap. */
	if (eip > c->cs_limit)
		return 0;
	uint64_t room = (uint64_t)c->cs_limit - eip + 1;
	return room < ZYDIS_MAX_INSTRUCTION_LENGTH ? (unsigned)room : ZYDIS_MAX_INSTRUCTION_LENGTH;
}
/* #GP(0) at the instruction being translated (CALLOUT_LIMIT), with the
 * guest's state as it was before it; the callout never comes back. */
void emit_limit_fault(struct tctx *c);

/* translate_stack.c: PUSH, POP, PUSHA, POPA, LEAVE, ENTER 0 */
/* The stack pointer as the guest names it: SP on a 16-bit stack
 * (MODE_STACK16: SS.B clear), where every access wraps at 64 KiB and
 * ESP's upper half stays as it is, else ESP. */
ZydisRegister stack_ptr(const struct tctx *c);
/* The stack pointer moved by delta: LEA into r12d, or r12w alone. */
void emit_sp_add(struct tctx *c, int32_t delta);
void emit_push_value(struct tctx *c, ZydisEncoderOperand value, unsigned size);
/* A CALL's return address: the push of its EIP, a word of it with a
 * 16-bit operand size. */
void emit_push_eip(struct tctx *c, uint32_t eip);
/* For an instruction the monitor marked adaptive (it reached MMIO), turns
 * the guest memory operand *m into the memory callouts' buffer (a
 * CALLOUT_MEM_PREPARE first, which clobbers the scratch registers but
 * keep; the access is then made without GS) and returns true; false, and
 * nothing emitted, for any other instruction. A write to the buffer is
 * followed by emit_adaptive_finish. */
bool emit_adaptive_operand(struct tctx *c, ZydisEncoderOperand *m, ZydisRegister keep);
void emit_adaptive_finish(struct tctx *c);
/* translate_mem.c: LOCKed operands across a cache line (split locks).
 * Whether the instruction is LOCKed (XCHG with memory is) and its operand
 * of size bytes could cross a line. */
bool may_split_lock(const struct tctx *c, unsigned size);
/* Around the copy of such an instruction that runs on the callouts'
 * buffer: begin tests the operand (its address in r14d), and when it
 * crosses makes *m the buffer, whose finish end emits; end returns the
 * rel8 field of the jump past the straight copy, which the caller emits
 * next and then patches the field to (NULL: the encoder failed). */
uint8_t *emit_split_lock_begin(struct tctx *c, ZydisEncoderOperand *m, ZydisRegister keep);
uint8_t *emit_split_lock_end(struct tctx *c, uint8_t *straight);
bool translate_xlat(struct tctx *c);
bool translate_bit_mem_reg(struct tctx *c);
/* translate.c: a callout of kind (CALLOUT_*), and a host memory operand
 * rewritten as [r14d], its address computed there first (flag-free). */
void emit_callout_kind(struct tctx *c, uint8_t kind);
void address_in_r14(struct tctx *c, ZydisEncoderOperand *m);
bool translate_push(struct tctx *c);
bool translate_pop(struct tctx *c);
/* Whether the instruction decoded in c may run with r12 behind ESP (a
 * 32-bit PUSH of a register other than ESP or of an immediate, a POP
 * into such a register), and the catching up of r12 before any other. */
bool esp_may_lag(const struct tctx *c);
void esp_settle(struct tctx *c);
/* MOV r32, ESP while r12 lags: an LEA of ESP's true value. */
bool translate_mov_from_esp(struct tctx *c);
bool translate_pusha(struct tctx *c);
bool translate_popa(struct tctx *c);
bool translate_leave(struct tctx *c);
bool translate_enter0(struct tctx *c);

/* translate_string.c: MOVS, STOS, LODS, CMPS, SCAS with or without REP */
bool classify_string(ZydisMnemonic m, enum string_op *op, unsigned *size);
bool translate_string(struct tctx *c, enum string_op op, unsigned size);

#endif
