/* String instructions as host loops: MOVS, STOS, LODS, CMPS and SCAS, with
 * REP/REPE/REPNE, either direction (DF is part of the translation key),
 * 16- or 32-bit addressing and segment overrides; REP loops interruptible
 * between iterations. */
#include "translator/translate_internal.h"

#include "mmu/shadow.h"
#include "translator/cpu_layout.h"

static ZydisRegister acc(unsigned size)
{
	return size == 1 ? ZYDIS_REGISTER_AL : size == 2 ? ZYDIS_REGISTER_AX : ZYDIS_REGISTER_EAX;
}

static ZydisRegister scratch_s(unsigned size)
{
	return size == 1 ? ZYDIS_REGISTER_R11B : size == 2 ? ZYDIS_REGISTER_R11W : ZYDIS_REGISTER_R11D;
}

/* What one element of a string instruction needs: its operation, width,
 * direction and registers (16- or 32-bit addressing). */
struct string_elem {
	enum string_op op;
	unsigned size;
	int32_t step;
	bool rep, repne;
	ZydisRegister src_seg, si, di, cx;
};

/* One element: its accesses, then ESI/EDI stepped, then (under REP) ECX
 * counted down and, for CMPS/SCAS, the REPE/REPNE exit; that jcc's rel32
 * field goes to *out (NULL when there is none). */
static void emit_element(struct tctx *c, const struct string_elem *s, uint8_t **out)
{
	struct emitter *e = &c->e;
	unsigned size = s->size;
	*out = NULL;
	switch (s->op) {
	case STR_MOVS: {
		ZydisEncoderOperand a[2] = { op_reg(scratch_s(size)), guest_mem_at(c, s->si, 0, s->src_seg, size) };
		emit_mem_insn(c, ZYDIS_MNEMONIC_MOV, 2, a, 0);
		ZydisEncoderOperand b[2] = { guest_mem_at(c, s->di, 0, ZYDIS_REGISTER_ES, size), op_reg(scratch_s(size)) };
		emit_mem_insn(c, ZYDIS_MNEMONIC_MOV, 2, b, 0);
		break;
	}
	case STR_STOS: {
		ZydisEncoderOperand a[2] = { guest_mem_at(c, s->di, 0, ZYDIS_REGISTER_ES, size), op_reg(acc(size)) };
		emit_mem_insn(c, ZYDIS_MNEMONIC_MOV, 2, a, 0);
		break;
	}
	case STR_LODS: {
		ZydisEncoderOperand a[2] = { op_reg(acc(size)), guest_mem_at(c, s->si, 0, s->src_seg, size) };
		emit_mem_insn(c, ZYDIS_MNEMONIC_MOV, 2, a, 0);
		break;
	}
	case STR_CMPS: {
		ZydisEncoderOperand a[2] = { op_reg(scratch_s(size)), guest_mem_at(c, s->si, 0, s->src_seg, size) };
		emit_mem_insn(c, ZYDIS_MNEMONIC_MOV, 2, a, 0);
		ZydisEncoderOperand b[2] = { op_reg(scratch_s(size)), guest_mem_at(c, s->di, 0, ZYDIS_REGISTER_ES, size) };
		emit_mem_insn(c, ZYDIS_MNEMONIC_CMP, 2, b, 0);
		break;
	}
	case STR_SCAS: {
		ZydisEncoderOperand a[2] = { op_reg(acc(size)), guest_mem_at(c, s->di, 0, ZYDIS_REGISTER_ES, size) };
		emit_mem_insn(c, ZYDIS_MNEMONIC_CMP, 2, a, 0);
		break;
	}
	}
	if (s->op == STR_MOVS || s->op == STR_LODS || s->op == STR_CMPS)
		emit_lea32(c, s->si, ZYDIS_REGISTER_RSI, ZYDIS_REGISTER_NONE, 0, s->step);
	if (s->op != STR_LODS)
		emit_lea32(c, s->di, ZYDIS_REGISTER_RDI, ZYDIS_REGISTER_NONE, 0, s->step);
	if (!s->rep)
		return;
	emit_lea32(c, s->cx, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_NONE, 0, -1);
	if (s->op == STR_CMPS || s->op == STR_SCAS)
		*out = emit_jcc_rel32(e, s->repne ? 0x4 : 0x5, NULL);   /* REPNE stops on equal, REPE on not-equal */
}

/* A REP loop is interruptible between iterations, as on hardware: the
 * loop polls as block entries do (a load through r9, the copy of
 * cpu->poll_ptr, no flags), so a pending attention request faults there and the handler
 * leaves with EIP at this instruction and ECX/ESI/EDI counting the
 * elements done; the run loop takes the interrupt and the instruction
 * resumes. */
static void emit_iteration_poll(struct tctx *c)
{
	emit_attention_poll(c);
}

/* Elements per pass of a REP loop. A poll per element made 20 million
 * short REP MOVSD/MOVSB pairs 12% slower and long REP MOVSD 10%. Polling
 * once per pass of four (an instruction of four elements or fewer never
 * polls: the block entry just did) made the short pairs 18% faster than
 * the loop before (one JMP per pass instead of per element) and long
 * REP MOVSD 3% slower; an interrupt waits at most four elements longer. */
#define STRING_UNROLL 4u
/* How far a JECXZ reaches forward, and what follows a pass's last
 * element: a count test (3 bytes), the poll (10) and the JMP back (5). */
#define JECXZ_REACH 127
#define PASS_TAIL 20

/* Makes the rel8 branch whose field is rel8 reach anywhere: it lands on a
 * JMP rel32, which the code falling through skips. Returns the rel32
 * field to patch. */
static uint8_t *emit_far_landing(struct emitter *e, uint8_t *rel8)
{
	uint8_t *over = emit_jump8(e, JUMP8_JMP);
	if (rel8 && over)
		patch_rel8(rel8, e->pos);
	uint8_t *far = emit_jmp_rel32(e, NULL);
	if (over && !e->failed)
		patch_rel8(over, e->pos);
	return far;
}

/* Where an ECX == 0 test jumps from, to be patched to the loop's end. */
struct count_exit {
	uint8_t *field;
	bool rel32;
};

/* The ECX == 0 test before an element (CX with 16-bit addressing, which
 * parks RCX in r8 and puts it back on both paths). A short JECXZ when the
 * loop's end is in its reach, else JECXZ over a JMP to a JMP rel32. */
static struct count_exit emit_count_test(struct tctx *c, bool a16, bool near)
{
	struct emitter *e = &c->e;
	struct count_exit x = { NULL, false };
	uint8_t *f = a16 ? emit_cx_zero_test(c) : emit_jrcxz(e, true);
	if (near) {
		x.field = f;
	} else {
		x.field = emit_far_landing(e, f);
		x.rel32 = true;
	}
	if (a16)
		restore_rcx(c);
	return x;
}

/* The size of one element's code, emitted into a scratch buffer. */
static size_t element_size(struct tctx *c, const struct string_elem *s)
{
	uint8_t buf[512];
	struct emitter saved = c->e;
	uint8_t *out;
	emit_init(&c->e, buf, buf + sizeof(buf));
	emit_element(c, s, &out);
	size_t n = c->e.failed ? sizeof(buf) : (size_t)(c->e.pos - buf);
	c->e = saved;
	return n;
}

/* A REP STOS of fewer elements stays the element loop: the host's string
 * instruction takes some 30 cycles to start (a REP MOVS, whose passes
 * cost more, needs 256 bytes). */
#define FAST_MIN_ELEMS 32u
/* Elements per pass of the host's string instruction: a 16-bit count
 * plus one, so a pass ends at most 256 KiB past a window's 4 GiB (in its
 * guard) whatever the guest's registers, and a poll comes between. */
#define FAST_PASS_BITS 16u

static bool fast_stos_ok(struct tctx *c, const struct string_elem *s)
{
	return s->rep && s->op == STR_STOS && s->step > 0 && s->di == ZYDIS_REGISTER_EDI &&
	       !seg_needs_base(c, ZYDIS_REGISTER_ES);
}

static bool fast_movs_ok(struct tctx *c, const struct string_elem *s)
{
	return s->rep && s->op == STR_MOVS && s->step > 0 && s->di == ZYDIS_REGISTER_EDI &&
	       !seg_needs_base(c, ZYDIS_REGISTER_ES) && !seg_needs_base(c, s->src_seg);
}

/* The bounds tests/unit/isa_check.c requires right before a host string
 * instruction, then the instruction, then EDI (and ESI) back to 32 bits:
 * ECX holds the pass's count less one (at most 65,535 after the MOVZX). */
static void emit_host_string(struct tctx *c, const struct string_elem *s)
{
	struct emitter *e = &c->e;
	bool movs = s->op == STR_MOVS;
	emit2(e, ZYDIS_MNEMONIC_MOVZX, op_reg(ZYDIS_REGISTER_ECX), op_reg(ZYDIS_REGISTER_CX));
	emit_lea32(c, ZYDIS_REGISTER_ECX, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_NONE, 0, 1);
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_EDI), op_reg(ZYDIS_REGISTER_EDI));
	if (movs)
		emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_ESI), op_reg(ZYDIS_REGISTER_ESI));
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R10), cpu_field(8, CPU_OFF_WIN_BASE));
	emit2(e, ZYDIS_MNEMONIC_LEA, op_reg(ZYDIS_REGISTER_RDI),
	      op_mem(8, ZYDIS_REGISTER_RDI, ZYDIS_REGISTER_R10, 1, 0));
	if (movs)
		emit2(e, ZYDIS_MNEMONIC_LEA, op_reg(ZYDIS_REGISTER_RSI),
		      op_mem(8, ZYDIS_REGISTER_RSI, ZYDIS_REGISTER_R10, 1, 0));
	/* REP STOS/MOVS: byte, word (66 first) or doubleword. */
	uint8_t op = movs ? 0xa4 : 0xaa;
	uint8_t rep[3] = { 0x66, 0xf3, s->size == 1 ? op : (uint8_t)(op + 1) };
	if (s->size == 2)
		emit_bytes(e, rep, 3);
	else
		emit_bytes(e, rep + 1, 2);
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_EDI), op_reg(ZYDIS_REGISTER_EDI));
	if (movs)
		emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_ESI), op_reg(ZYDIS_REGISTER_ESI));
}

/* The small case: ECX * scale below 256 (the low byte of that cleared,
 * flag-free) jumps to the returned rel32 field, JECXZ over a JMP to a
 * JMP; with R11D and ECX swapped there, which the target swaps back. */
static uint8_t *emit_small_test(struct tctx *c, unsigned scale)
{
	struct emitter *e = &c->e;
	emit_lea32(c, ZYDIS_REGISTER_R11D, ZYDIS_REGISTER_NONE, ZYDIS_REGISTER_RCX, scale, 0);
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R11B), op_imm(0));
	emit2(e, ZYDIS_MNEMONIC_XCHG, op_reg(ZYDIS_REGISTER_R11D), op_reg(ZYDIS_REGISTER_ECX));
	uint8_t *small = emit_far_landing(e, emit_jrcxz(e, true));
	emit2(e, ZYDIS_MNEMONIC_XCHG, op_reg(ZYDIS_REGISTER_R11D), op_reg(ZYDIS_REGISTER_ECX));
	return small;
}

/* The small case's landing: R11D and ECX back, then into the element loop
 * that follows (and a jump from *to_loop, if given, lands past the swap). */
static void emit_small_landing(struct tctx *c, uint8_t *small, uint8_t *to_loop)
{
	struct emitter *e = &c->e;
	if (small && !e->failed)
		patch_rel32(small, e->pos);
	emit2(e, ZYDIS_MNEMONIC_XCHG, op_reg(ZYDIS_REGISTER_R11D), op_reg(ZYDIS_REGISTER_ECX));
	if (to_loop && !e->failed)
		patch_rel8(to_loop, e->pos);
}

/* Whether EDI plus the pass's count-1 elements in ECX runs past 4 GiB: the
 * guest's register wraps there, and a pass does not. A jump to *wrap is
 * emitted for that case (ECX still count - 1). */
static void emit_wrap_check(struct tctx *c, unsigned size, uint8_t **wrap)
{
	struct emitter *e = &c->e;
	/* The last byte's address in 64 bits; its upper half, byte-swapped
	 * into the lower, is zero unless the pass wraps. */
	emit2(e, ZYDIS_MNEMONIC_LEA, op_reg(ZYDIS_REGISTER_R10),
	      op_mem(8, ZYDIS_REGISTER_RDI, ZYDIS_REGISTER_RCX, size, (int32_t)size - 1));
	emit1(e, ZYDIS_MNEMONIC_BSWAP, op_reg(ZYDIS_REGISTER_R10));
	emit2(e, ZYDIS_MNEMONIC_XCHG, op_reg(ZYDIS_REGISTER_R10D), op_reg(ZYDIS_REGISTER_ECX));
	uint8_t *ok = emit_jrcxz(e, true);
	emit2(e, ZYDIS_MNEMONIC_XCHG, op_reg(ZYDIS_REGISTER_R10D), op_reg(ZYDIS_REGISTER_ECX));
	*wrap = emit_jmp_rel32(e, NULL);
	if (ok && !e->failed)
		patch_rel8(ok, e->pos);
	emit2(e, ZYDIS_MNEMONIC_XCHG, op_reg(ZYDIS_REGISTER_R10D), op_reg(ZYDIS_REGISTER_ECX));
}

/* REP STOS forward with 32-bit addressing and a flat ES: the host's own
 * REP STOS on RDI made a window address, in passes of up to 65,536
 * elements with a poll between. Flag-free throughout (the guest's flags
 * are live): MOV, MOVZX, LEA, XCHG, BSWAP and JECXZ. The pass's count is
 * in RCX and the rest of ECX in R11, so a fault inside the string
 * instruction leaves ECX = RCX + R11 (host_fault.c adds them); EDI is the
 * low half of the window address, windows being 4 GiB aligned
 * (emit_host_string has the bounds tests/unit/isa_check.c requires). Small
 * counts, and a pass that would wrap past 4 GiB, go on to the
 * element loop that follows; the end of the work jumps to *to_end
 * (rel32, for the caller to patch). */
static void emit_fast_stos(struct tctx *c, const struct string_elem *s, uint8_t **to_end)
{
	struct emitter *e = &c->e;
	_Static_assert(FAST_MIN_ELEMS * 8 == 256, "the small test clears ECX * 8's low byte");
	uint8_t *small = emit_small_test(c, 8);

	/* A pass: ECX - 1 split into its low 16 bits (the pass's count less
	 * one, in ECX) and the rest (R11). */
	_Static_assert(FAST_PASS_BITS == 16, "the split clears R11W");
	uint8_t *pass = e->pos;
	emit_lea32(c, ZYDIS_REGISTER_ECX, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_NONE, 0, -1);
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R11D), op_reg(ZYDIS_REGISTER_ECX));
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R11W), op_imm(0));
	emit2(e, ZYDIS_MNEMONIC_MOVZX, op_reg(ZYDIS_REGISTER_ECX), op_reg(ZYDIS_REGISTER_CX));
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_EDI), op_reg(ZYDIS_REGISTER_EDI));
	uint8_t *wrap = NULL;
	emit_wrap_check(c, s->size, &wrap);
	emit_host_string(c, s);
	emit_lea32(c, ZYDIS_REGISTER_ECX, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_R11, 1, 0);
	uint8_t *done = emit_jrcxz(e, true);
	emit_iteration_poll(c);
	emit_jmp_rel32(e, pass);
	if (done && !e->failed)
		patch_rel8(done, e->pos);
	*to_end = emit_jmp_rel32(e, NULL);

	/* A pass that would wrap: ECX whole again, then the element loop. */
	if (wrap && !e->failed)
		patch_rel32(wrap, e->pos);
	emit_lea32(c, ZYDIS_REGISTER_ECX, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_R11, 1, 1);
	emit_small_landing(c, small, emit_jump8(e, JUMP8_JMP));
}

/* Bytes from the 32-bit register's address to the end of its page, into
 * dst32 (1 to 4096). Writes the host flags. */
static void emit_to_page_end(struct tctx *c, ZydisRegister dst32, ZydisRegister reg32)
{
	struct emitter *e = &c->e;
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(dst32), op_reg(reg32));
	emit2(e, ZYDIS_MNEMONIC_AND, op_reg(dst32), op_imm(0xfff));
	emit1(e, ZYDIS_MNEMONIC_NEG, op_reg(dst32));
	emit2(e, ZYDIS_MNEMONIC_ADD, op_reg(dst32), op_imm(0x1000));
}

/* R11 the current window's entries for the 4 MiB region of the address in
 * addr32 and R14D the page's index in it; a NULL region (no entries yet)
 * jumps to the returned rel32 field instead. */
static uint8_t *emit_entry_address(struct tctx *c, ZydisRegister addr32)
{
	struct emitter *e = &c->e;
	const ZydisRegister r11 = ZYDIS_REGISTER_R11, r14 = ZYDIS_REGISTER_R14;
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(r11), cpu_field(8, CPU_OFF_WIN_ENTRIES));
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R14D), op_reg(addr32));
	emit2(e, ZYDIS_MNEMONIC_SHR, op_reg(ZYDIS_REGISTER_R14D), op_imm(22));
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(r11), op_mem(8, r11, r14, 8, 0));
	emit2(e, ZYDIS_MNEMONIC_TEST, op_reg(r11), op_reg(r11));
	uint8_t *none = emit_jcc_rel32(e, 0x4, NULL);
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R14D), op_reg(addr32));
	emit2(e, ZYDIS_MNEMONIC_SHR, op_reg(ZYDIS_REGISTER_R14D), op_imm(12));
	emit2(e, ZYDIS_MNEMONIC_AND, op_reg(ZYDIS_REGISTER_R14D), op_imm(0x3ff));
	return none;
}

/* The distance matters only when the pass's source and destination pages
 * are two linear pages of one frame: the same linear page overlaps only
 * linearly, which the host's REP MOVS copies exactly as the SDM says
 * (its fast mode checks linear addresses), and distinct frames never
 * overlap. With R11D the distance, ESI and EDI the pass's start: emits
 * jumps (apart[], rel32, for the caller to patch to past the distance's
 * bound) taken when the pages cannot share a frame: the same linear page,
 * the identity window, or the two entries of the current window
 * (cpu->win_entries) naming different frames. Falls through with R11D the
 * distance again when they may, or when an entry is missing. Clobbers R8,
 * R13, R14 and the host flags. */
static void emit_frames_apart(struct tctx *c, uint8_t *apart[3])
{
	struct emitter *e = &c->e;
	const ZydisRegister r11 = ZYDIS_REGISTER_R11, r14 = ZYDIS_REGISTER_R14;
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R8D), op_reg(ZYDIS_REGISTER_R11D));
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R14D), op_reg(ZYDIS_REGISTER_ESI));
	emit2(e, ZYDIS_MNEMONIC_SHR, op_reg(ZYDIS_REGISTER_R14D), op_imm(12));
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R13D), op_reg(ZYDIS_REGISTER_EDI));
	emit2(e, ZYDIS_MNEMONIC_SHR, op_reg(ZYDIS_REGISTER_R13D), op_imm(12));
	emit2(e, ZYDIS_MNEMONIC_CMP, op_reg(ZYDIS_REGISTER_R14D), op_reg(ZYDIS_REGISTER_R13D));
	apart[0] = emit_jcc_rel32(e, 0x4, NULL);   /* JE: one linear page */
	emit2(e, ZYDIS_MNEMONIC_CMP, cpu_field(8, CPU_OFF_WIN_ENTRIES), op_imm(0));
	apart[1] = emit_jcc_rel32(e, 0x4, NULL);   /* JE: the identity window */
	/* Each entry, or the bound kept: no entries there, or none for the
	 * page (a page unmapped, or one whose unmap is still held back and
	 * maps its old frame meanwhile, as a TLB would). */
	uint8_t *unknown[4];
	unknown[0] = emit_entry_address(c, ZYDIS_REGISTER_ESI);
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R13D), op_mem(4, r11, r14, 4, 0));
	emit2(e, ZYDIS_MNEMONIC_TEST, op_reg(ZYDIS_REGISTER_R13D), op_reg(ZYDIS_REGISTER_R13D));
	unknown[1] = emit_jcc_rel32(e, 0x4, NULL);
	unknown[2] = emit_entry_address(c, ZYDIS_REGISTER_EDI);
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R14D), op_mem(4, r11, r14, 4, 0));
	emit2(e, ZYDIS_MNEMONIC_TEST, op_reg(ZYDIS_REGISTER_R14D), op_reg(ZYDIS_REGISTER_R14D));
	unknown[3] = emit_jcc_rel32(e, 0x4, NULL);
	/* The two entries compared above their flag bits. */
	emit2(e, ZYDIS_MNEMONIC_XOR, op_reg(ZYDIS_REGISTER_R13D), op_reg(ZYDIS_REGISTER_R14D));
	emit2(e, ZYDIS_MNEMONIC_SHR, op_reg(ZYDIS_REGISTER_R13D), op_imm(SHADOW_E_FRAME_SHIFT));
	apart[2] = emit_jcc_rel32(e, 0x5, NULL);   /* JNZ: different frames */
	for (unsigned i = 0; i < 4; i++)
		if (unknown[i] && !e->failed)
			patch_rel32(unknown[i], e->pos);
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R11D), op_reg(ZYDIS_REGISTER_R8D));
}

/* REP MOVS forward with 32-bit addressing and flat segments: the host's
 * own REP MOVS on window addresses, a pass at a time, each pass inside one
 * page of the source and one of the destination and, when those may be
 * one frame (emit_frames_apart), no longer than the distance
 * (EDI - ESI) mod 4096 when that is not zero. Two linear pages
 * of one frame (the guest may alias them) then never let a pass read
 * what it writes: the same frame puts the destination that distance
 * ahead, and copying no more than the distance at a time is the SDM's
 * element-by-element copy exactly; distinct frames never overlap within
 * a page. The passes compute with the host's flags, so the guest's are
 * pushed on the host stack meanwhile: a fault inside the host REP MOVS
 * takes them from there (host_fault.c), with ECX = RCX + R11 as for
 * STOS. An element that would straddle a page, or a distance shorter
 * than an element, goes through the element code once, flags restored.
 * Fewer than 256 bytes go to the element loop. */
static void emit_fast_movs(struct tctx *c, const struct string_elem *s, uint8_t **to_end)
{
	struct emitter *e = &c->e;
	static const uint8_t pushfq = 0x9c, popfq = 0x9d;
	unsigned shift = s->size == 4 ? 2 : s->size == 2 ? 1 : 0;
	uint8_t *small = emit_small_test(c, s->size);
	emit_bytes(e, &pushfq, 1);

	uint8_t *pass = e->pos;
	emit_to_page_end(c, ZYDIS_REGISTER_R10D, ZYDIS_REGISTER_ESI);
	emit_to_page_end(c, ZYDIS_REGISTER_R11D, ZYDIS_REGISTER_EDI);
	emit2(e, ZYDIS_MNEMONIC_CMP, op_reg(ZYDIS_REGISTER_R11D), op_reg(ZYDIS_REGISTER_R10D));
	emit2(e, ZYDIS_MNEMONIC_CMOVB, op_reg(ZYDIS_REGISTER_R10D), op_reg(ZYDIS_REGISTER_R11D));
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R11D), op_reg(ZYDIS_REGISTER_EDI));
	emit2(e, ZYDIS_MNEMONIC_SUB, op_reg(ZYDIS_REGISTER_R11D), op_reg(ZYDIS_REGISTER_ESI));
	emit2(e, ZYDIS_MNEMONIC_AND, op_reg(ZYDIS_REGISTER_R11D), op_imm(0xfff));
	uint8_t *same = emit_jcc_rel32(e, 0x4, NULL);   /* JZ: no distance to keep */
	uint8_t *apart[3];
	emit_frames_apart(c, apart);
	emit2(e, ZYDIS_MNEMONIC_CMP, op_reg(ZYDIS_REGISTER_R11D), op_reg(ZYDIS_REGISTER_R10D));
	emit2(e, ZYDIS_MNEMONIC_CMOVB, op_reg(ZYDIS_REGISTER_R10D), op_reg(ZYDIS_REGISTER_R11D));
	if (same && !e->failed)
		patch_rel32(same, e->pos);
	for (unsigned i = 0; i < 3; i++)
		if (apart[i] && !e->failed)
			patch_rel32(apart[i], e->pos);
	if (shift)
		emit2(e, ZYDIS_MNEMONIC_SHR, op_reg(ZYDIS_REGISTER_R10D), op_imm(shift));
	emit2(e, ZYDIS_MNEMONIC_CMP, op_reg(ZYDIS_REGISTER_ECX), op_reg(ZYDIS_REGISTER_R10D));
	emit2(e, ZYDIS_MNEMONIC_CMOVB, op_reg(ZYDIS_REGISTER_R10D), op_reg(ZYDIS_REGISTER_ECX));
	emit2(e, ZYDIS_MNEMONIC_TEST, op_reg(ZYDIS_REGISTER_R10D), op_reg(ZYDIS_REGISTER_R10D));
	uint8_t *single = emit_jcc_rel32(e, 0x4, NULL);
	/* The pass: R11 the rest, ECX the count less one. */
	emit2(e, ZYDIS_MNEMONIC_MOV, op_reg(ZYDIS_REGISTER_R11D), op_reg(ZYDIS_REGISTER_ECX));
	emit2(e, ZYDIS_MNEMONIC_SUB, op_reg(ZYDIS_REGISTER_R11D), op_reg(ZYDIS_REGISTER_R10D));
	emit_lea32(c, ZYDIS_REGISTER_ECX, ZYDIS_REGISTER_R10, ZYDIS_REGISTER_NONE, 0, -1);
	emit_host_string(c, s);
	emit_lea32(c, ZYDIS_REGISTER_ECX, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_R11, 1, 0);
	emit_bytes(e, &popfq, 1);
	uint8_t *tail = e->pos;
	uint8_t *done = emit_jrcxz(e, true);
	emit_iteration_poll(c);
	emit_bytes(e, &pushfq, 1);
	emit_jmp_rel32(e, pass);
	if (done && !e->failed)
		patch_rel8(done, e->pos);
	*to_end = emit_jmp_rel32(e, NULL);

	/* One element through the element code, with the guest's flags. */
	if (single && !e->failed)
		patch_rel32(single, e->pos);
	emit_bytes(e, &popfq, 1);
	uint8_t *none;
	emit_element(c, s, &none);
	emit_jmp_rel32(e, tail);

	emit_small_landing(c, small, NULL);
}

/* Rewritten as a host loop over window-relative accesses: in 64-bit mode
 * ES:EDI takes neither the GS override nor a base, so the instruction can
 * never run as it is. ECX/ESI/EDI step after each element's accesses, so a
 * fault leaves REP state as the hardware would. */
bool translate_string(struct tctx *c, enum string_op op, unsigned size)
{
	struct emitter *e = &c->e;
	struct string_elem s = {
		.op = op,
		.size = size,
		.step = (c->mode & MODE_DF) ? -(int32_t)size : (int32_t)size,
		.rep = c->in.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE),
		.repne = c->in.attributes & ZYDIS_ATTRIB_HAS_REPNE,
		.src_seg = ZYDIS_REGISTER_DS,
	};
	if (c->in.attributes & ZYDIS_ATTRIB_HAS_SEGMENT) {
		for (unsigned i = 0; i < c->in.operand_count; i++)
			if (c->ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY && (c->ops[i].mem.base == ZYDIS_REGISTER_ESI || c->ops[i].mem.base == ZYDIS_REGISTER_SI))
				s.src_seg = c->ops[i].mem.segment;
	}
	bool a16 = c->in.address_width == 16;
	s.si = a16 ? ZYDIS_REGISTER_SI : ZYDIS_REGISTER_ESI;
	s.di = a16 ? ZYDIS_REGISTER_DI : ZYDIS_REGISTER_EDI;
	s.cx = a16 ? ZYDIS_REGISTER_CX : ZYDIS_REGISTER_ECX;

	uint8_t *out[STRING_UNROLL];
	if (!s.rep) {
		emit_element(c, &s, &out[0]);
		return true;
	}
	uint8_t *fast_end = NULL;
	if (fast_stos_ok(c, &s))
		emit_fast_stos(c, &s, &fast_end);
	else if (fast_movs_ok(c, &s))
		emit_fast_movs(c, &s, &fast_end);
	/* A pass: per element the count test (3 bytes) and the element, then
	 * one more count test, the poll and the JMP back to the first element:
	 * the poll only ever sees ECX > 0, as an interrupt between iterations
	 * does on hardware. With 16-bit addressing the test is longer and
	 * restores RCX: one element per pass. */
	size_t per = element_size(c, &s) + 3;
	unsigned n = a16 ? 1 : (unsigned)((JECXZ_REACH - PASS_TAIL) / per);
	n = n < 1 ? 1 : n > STRING_UNROLL ? STRING_UNROLL : n;
	bool near = n * per + PASS_TAIL + (a16 ? 16 : 0) <= JECXZ_REACH;
	struct count_exit skip[STRING_UNROLL + 1];
	uint8_t *body = NULL;
	for (unsigned k = 0; k < n; k++) {
		skip[k] = emit_count_test(c, a16, near);
		if (k == 0)
			body = e->pos;
		emit_element(c, &s, &out[k]);
	}
	skip[n] = emit_count_test(c, a16, near);
	emit_iteration_poll(c);
	emit_jmp_rel32(e, body);
	if (e->failed)
		return true;   /* the caller sees the failed emitter */
	for (unsigned k = 0; k <= n; k++) {
		if (skip[k].field && skip[k].rel32)
			patch_rel32(skip[k].field, e->pos);
		else if (skip[k].field)
			patch_rel8(skip[k].field, e->pos);
	}
	if (fast_end)
		patch_rel32(fast_end, e->pos);
	if (a16)
		restore_rcx(c);  /* reached only from the CX == 0 test */
	for (unsigned k = 0; k < n; k++)
		if (out[k])
			patch_rel32(out[k], e->pos);
	return true;
}

bool classify_string(ZydisMnemonic m, enum string_op *op, unsigned *size)
{
	static const struct { ZydisMnemonic m; enum string_op op; unsigned size; } t[] = {
		{ ZYDIS_MNEMONIC_MOVSB, STR_MOVS, 1 }, { ZYDIS_MNEMONIC_MOVSW, STR_MOVS, 2 },
		{ ZYDIS_MNEMONIC_MOVSD, STR_MOVS, 4 }, { ZYDIS_MNEMONIC_STOSB, STR_STOS, 1 },
		{ ZYDIS_MNEMONIC_STOSW, STR_STOS, 2 }, { ZYDIS_MNEMONIC_STOSD, STR_STOS, 4 },
		{ ZYDIS_MNEMONIC_LODSB, STR_LODS, 1 }, { ZYDIS_MNEMONIC_LODSW, STR_LODS, 2 },
		{ ZYDIS_MNEMONIC_LODSD, STR_LODS, 4 }, { ZYDIS_MNEMONIC_CMPSB, STR_CMPS, 1 },
		{ ZYDIS_MNEMONIC_CMPSW, STR_CMPS, 2 }, { ZYDIS_MNEMONIC_CMPSD, STR_CMPS, 4 },
		{ ZYDIS_MNEMONIC_SCASB, STR_SCAS, 1 }, { ZYDIS_MNEMONIC_SCASW, STR_SCAS, 2 },
		{ ZYDIS_MNEMONIC_SCASD, STR_SCAS, 4 },
	};
	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (t[i].m == m) {
			*op = t[i].op;
			*size = t[i].size;
			return true;
		}
	}
	return false;
}
