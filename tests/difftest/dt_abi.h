/* Difftest ABI: everything the host tool (x86-64) and the two 32-bit
 * runners (a Linux process and a Multiboot guest) must agree on, byte for
 * byte: the fixed addresses of the test areas, the batch file format, the
 * state image a runner reports, and the deterministic generator that fills
 * the initial memory and FP registers from a per-sequence seed. Pure
 * integer code with no library calls, so it builds freestanding. */
#ifndef DT_ABI_H
#define DT_ABI_H

#ifndef __ASSEMBLER__
#include <stdint.h>
#endif

/* Fixed linear addresses, the same in the Linux process and in the guest
 * (paging off, so also guest-physical). They sit in a 64 MiB guest above
 * the kernel (1 MiB) and its module, and are free in a 32-bit process
 * (executable at 0x08048000, libraries near 0xf7000000). LOW is used only
 * when 16-bit addressing is tested: 16-bit effective addresses with a zero
 * segment base land below 64 KiB. */
#define DT_LOW_BASE 0x00001000u
#define DT_LOW_SIZE 0x1000u
#define DT_CTRL_BASE 0x01ff0000   /* no suffix: also used by runseq.S */
#define DT_CTRL_SIZE 0x1000
#define DT_DATA_BASE 0x02000000u
#define DT_DATA_SIZE 0x2000u
#define DT_CODE_BASE 0x02100000u
#define DT_CODE_SIZE 0x01000000u
/* Where the native runner maps CTRL..CODE end as one region. */
#define DT_MAP_BASE DT_CTRL_BASE
#define DT_MAP_SIZE (DT_CODE_BASE + DT_CODE_SIZE - DT_CTRL_BASE)

/* FS and GS are data segments with these bases and 4 GiB limits (an LDT
 * entry natively, a GDT entry in the guest). fs:[ea16] reaches DATA for
 * ea16 in 0x8000..0x9fff; gs:[ea16] wraps around 4 GiB into LOW. */
#define DT_FS_BASE (DT_DATA_BASE - 0x8000u)
#define DT_GS_BASE 0xffff9000u

/* ESP always stays in this window of DATA (the generator and the analysis
 * see to it); the initial ESP is near DT_ESP_INIT. */
#define DT_STACK_LO (DT_DATA_BASE + 0x1000u)
#define DT_STACK_HI (DT_DATA_BASE + 0x1f00u)
#define DT_ESP_INIT (DT_DATA_BASE + 0x1800u)

/* The CTRL page: results of one run, the indirect jump slots the code
 * uses to enter and leave a sequence, and a small stack. */
#define DT_CTRL_GPR 0      /* 8 dwords, eax..edi */
#define DT_CTRL_EFLAGS 32
#define DT_CTRL_VEC 36
#define DT_CTRL_ERR 40
#define DT_CTRL_EIP 44
#define DT_CTRL_ENTRY 64   /* run_seq jumps through this */
#define DT_CTRL_DONE 68    /* the epilogue jumps through this */
#define DT_CTRL_EFLAGS_IN 72  /* initial EFLAGS, popped by the prologue */
#define DT_CTRL_ESP_IN 76     /* initial ESP, loaded after it */
#define DT_CTRL_ENTRY_FAR 80  /* 16-bit code: far pointer (offset, selector) in */
#define DT_CTRL_DONE_FAR 88   /* and back to the runner's 32-bit code */
#define DT_CTRL_STACK_TOP (DT_CTRL_BASE + DT_CTRL_SIZE - 64)

/* Before each sequence the runner places a prologue that loads EFLAGS and
 * ESP from CTRL (mov esp, CTRL+EFLAGS_IN; popfd; mov esp, [CTRL+ESP_IN]).
 * EFLAGS is loaded there, after the indirect jump into the sequence, and
 * not before it: btvm's indirect-branch miss path clobbers the guest's
 * arithmetic flags (btvm_ibl_miss zeroes r13d with XOR before it saves
 * RFLAGS), and the jump to a new sequence always misses. Sequences have no
 * branches, so this keeps that bug out of every result; it is reported
 * separately. After each sequence comes an epilogue: store the eight
 * GPRs to CTRL, switch to the CTRL stack, PUSHFD, jump to DONE. */
#define DT_PROLOGUE_LEN 12
#define DT_EPILOGUE_LEN 60

/* 16-bit code (DT_BATCH_CODE16): the sequences run in a 16-bit code
 * segment (CS.D clear, limit 64 KiB) whose base is the 64 KiB-aligned
 * address below the sequence's slot (no slot crosses a 64 KiB boundary),
 * entered and left by far jumps through CTRL. SS stays the flat 32-bit
 * stack segment, so PUSH/POP and the prologue's and epilogue's CTRL
 * accesses (SS overrides, 32-bit addresses) work on ESP as in 32-bit code;
 * DS and ES get the FS base, so 16-bit addresses 0x8000..0x9fff reach
 * DATA. The prologue: mov esp, imm32; popfd; mov esp, ss:[CTRL+ESP_IN];
 * the epilogue: the GPR stores, mov esp, imm32; pushfd; jmp far
 * ss:[CTRL+DONE_FAR], all with 66/67 prefixes. */
#define DT_PROLOGUE16_LEN 17
#define DT_EPILOGUE16_LEN 89

#ifndef __ASSEMBLER__

/* ------------------------------------------------------------ state image */

/* What a runner reports for one sequence is the difference between two
 * images of this layout: before and after (or at the fault). */
#define DT_IMG_GPR 0
#define DT_IMG_EFLAGS 32
#define DT_IMG_VEC 36      /* DT_NO_VECTOR when the sequence ran to its end */
#define DT_IMG_ERR 40
#define DT_IMG_EIP 44      /* fault EIP minus the sequence's first byte */
#define DT_IMG_FX 64       /* FXSAVE image; bytes 288..511 never reported */
#define DT_FX_SIZE 512
#define DT_FX_USED 288
#define DT_IMG_DATA (DT_IMG_FX + DT_FX_SIZE)
#define DT_IMG_LOW (DT_IMG_DATA + DT_DATA_SIZE)
#define DT_IMG_SIZE (DT_IMG_LOW + DT_LOW_SIZE)
#define DT_NO_VECTOR 0xffffffffu

/* FXSAVE field offsets. */
#define DT_FX_FCW 0
#define DT_FX_FSW 2
#define DT_FX_FTW 4
#define DT_FX_FOP 6
#define DT_FX_FIP 8
#define DT_FX_FCS 12
#define DT_FX_FDP 16
#define DT_FX_FDS 20
#define DT_FX_MXCSR 24
#define DT_FX_MXCSR_MASK 28
#define DT_FX_ST 32        /* 8 x 16 bytes, 10 used */
#define DT_FX_XMM 160      /* 8 x 16 bytes */

/* ------------------------------------------------------------ batch file */

#define DT_MAGIC 0x31425444u   /* "DTB1" */
#define DT_VERSION 1u
#define DT_BATCH_LOW 1u        /* flags: the LOW area is mapped and tested */
#define DT_BATCH_CODE16 2u     /* the sequences are 16-bit code (see above) */

struct dt_batch_hdr {
	uint32_t magic;
	uint32_t version;
	uint32_t count;
	uint32_t flags;
	uint32_t mxcsr_mask;       /* the host's, written into initial images */
	uint32_t reserved[3];
};

/* One sequence. Followed by: uint16_t unit_off[nunits] (the offset of each
 * unit in code; padded to 4 bytes), struct dt_mask[nmask], code[code_len]
 * (padded to 4). size covers all of it. */
struct dt_rec {
	uint32_t size;
	uint32_t id;
	uint32_t seed;
	uint32_t gpr[8];
	uint32_t eflags;
	uint32_t mxcsr;
	uint16_t fcw;
	uint16_t fsw;
	uint8_t ftw;               /* abridged: one bit per register, 1 = valid */
	uint8_t nunits;
	uint16_t code_len;
	uint16_t nmask;
	uint16_t pad;
};

/* Image bytes the runners copy from the initial image into the final one
 * before diffing: bits set in 'bits' of each byte in [off, off + len). Used
 * for values the architecture leaves implementation-specific (the x87
 * instruction and data pointers in a stored environment, undefined
 * condition codes in a stored status word). */
struct dt_mask {
	uint16_t off;
	uint8_t len;
	uint8_t bits;
};

#define DT_MAX_UNITS 8
#define DT_MAX_CODE 400
#define DT_MAX_MASKS 128

static inline uint32_t dt_align4(uint32_t n)
{
	return (n + 3u) & ~3u;
}

static inline const uint16_t *dt_rec_units(const struct dt_rec *r)
{
	return (const uint16_t *)(r + 1);
}

static inline const struct dt_mask *dt_rec_masks(const struct dt_rec *r)
{
	return (const struct dt_mask *)((const uint8_t *)(r + 1) + dt_align4(2u * r->nunits));
}

static inline const uint8_t *dt_rec_code(const struct dt_rec *r)
{
	return (const uint8_t *)(dt_rec_masks(r) + r->nmask);
}

static inline uint32_t dt_prologue_len(uint32_t flags)
{
	return (flags & DT_BATCH_CODE16) ? DT_PROLOGUE16_LEN : DT_PROLOGUE_LEN;
}

/* The bytes a sequence's slot in CODE takes (prologue, code, epilogue). */
static inline uint32_t dt_code_slot(uint32_t code_len, uint32_t flags)
{
	uint32_t frame = (flags & DT_BATCH_CODE16) ? DT_PROLOGUE16_LEN + DT_EPILOGUE16_LEN
						   : DT_PROLOGUE_LEN + DT_EPILOGUE_LEN;
	return (frame + code_len + 15u) & ~15u;
}

/* Where the next slot goes when the previous one ended at cp: right there,
 * or for 16-bit code at the next 64 KiB boundary if it would cross one. */
static inline uint32_t dt_code_place(uint32_t cp, uint32_t slot, uint32_t flags)
{
	if ((flags & DT_BATCH_CODE16) && (cp & 0xffffu) + slot > 0x10000u)
		return (cp + 0xffffu) & ~0xffffu;
	return cp;
}

static inline uint32_t dt_rec_size(unsigned nunits, unsigned nmask, unsigned code_len)
{
	return (uint32_t)sizeof(struct dt_rec) + dt_align4(2u * nunits) +
	       4u * nmask + dt_align4(code_len);
}

/* ---------------------------------------------------------------- PRNG */

/* splitmix64; the runners only need 64-bit adds, shifts and multiplies,
 * which a 32-bit compiler emits inline. */
static inline uint32_t dt_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (uint32_t)((z ^ (z >> 31)) >> 32);
}

static inline void dt_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t dt_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void dt_put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* An x87 register value: mostly normal numbers near 1, plus every special
 * class (zeros, denormals, pseudo-denormals, unnormals, infinities, quiet
 * and signalling NaNs, small integers). */
static inline void dt_fill_fp80(uint64_t *s, uint8_t *p)
{
	uint32_t k = dt_rand(s) % 16u, sign = dt_rand(s) & 0x8000u;
	uint32_t lo = dt_rand(s), hi = dt_rand(s), exp;
	switch (k) {
	case 0: lo = 0; hi = 0; exp = 0; break;                       /* zero */
	case 1: hi &= 0x7fffffffu; exp = 0; break;                    /* denormal */
	case 2: hi |= 0x80000000u; exp = 0; break;                    /* pseudo-denormal */
	case 3: lo = 0; hi = 0x80000000u; exp = 0x7fff; break;        /* infinity */
	case 4: hi |= 0xc0000000u; exp = 0x7fff; break;               /* QNaN */
	case 5:                                                      /* SNaN */
		hi = (hi & 0x3fffffffu) | 0x80000000u;
		if (hi == 0x80000000u && !lo)
			lo = 1;
		exp = 0x7fff;
		break;
	case 6: hi &= 0x7fffffffu; exp = 1 + dt_rand(s) % 0x7ffe; break; /* unnormal */
	case 7: {                                                     /* small integer */
		uint32_t v = 1 + dt_rand(s) % 1000u, msb = 31;
		while (!(v >> msb))
			msb--;
		hi = v << (31 - msb);
		lo = 0;
		exp = 16383 + msb;
		break;
	}
	case 8: lo = 0; hi = 0x80000000u; exp = 16382 + dt_rand(s) % 3; break; /* 0.5, 1, 2 */
	case 9: hi |= 0x80000000u; exp = (dt_rand(s) & 1) ? 1 + dt_rand(s) % 64 : 0x7ffe - dt_rand(s) % 64; break;
	default: hi |= 0x80000000u; exp = 16383 - 40 + dt_rand(s) % 80; break;
	}
	dt_put32(p, lo);
	dt_put32(p + 4, hi);
	dt_put16(p + 8, exp | sign);
}

/* A 32-bit pattern for memory and XMM lanes. */
static inline uint32_t dt_interesting32(uint64_t *s)
{
	static const uint32_t v[] = {
		0, 1, 0xffffffffu, 0x80000000u, 0x7fffffffu, 0x3f800000u /* 1.0f */,
		0xbf800000u, 0x7f800000u /* +inf */, 0xff800000u, 0x7fc00000u /* qnan */,
		0x7fa00000u /* snan */, 0x00000001u, 0x007fffffu /* denormal */, 0x80000001u,
		0x4b000000u, 0x00ff00ffu, 0x40490fdbu /* pi */, 0xcf000000u /* -2^31 */,
	};
	uint32_t k = dt_rand(s);
	switch (k % 4u) {
	case 0: return v[(k >> 8) % (sizeof(v) / sizeof(v[0]))];
	case 1: return (uint32_t)((int32_t)(k >> 8) % 17 - 8);         /* small */
	case 2: return dt_rand(s) & 0xffu;
	default: return dt_rand(s);
	}
}

static inline void dt_fill_bytes(uint64_t *s, uint8_t *p, uint32_t n)
{
	for (uint32_t i = 0; i + 4 <= n; i += 4)
		dt_put32(p + i, (dt_rand(s) & 3u) ? dt_rand(s) : dt_interesting32(s));
}

static inline void dt_fill_xmm(uint64_t *s, uint8_t *p)
{
	switch (dt_rand(s) % 4u) {
	case 0:
		dt_fill_bytes(s, p, 16);
		break;
	case 1:
		for (int i = 0; i < 4; i++)
			dt_put32(p + 4 * i, dt_interesting32(s));
		break;
	default: {
		/* two doubles: random, or an interesting float widened */
		for (int i = 0; i < 2; i++) {
			uint32_t hi = dt_rand(s), lo = dt_rand(s);
			if (dt_rand(s) & 1) {
				uint32_t f = dt_interesting32(s);
				uint32_t e = (f >> 23) & 0xff, sg = f & 0x80000000u;
				uint32_t ne = e == 0 ? 0 : e == 0xff ? 0x7ff : e - 127 + 1023;
				hi = sg | ne << 20 | ((f & 0x7fffffu) >> 3);
				lo = f << 29;
			}
			dt_put32(p + 8 * i, lo);
			dt_put32(p + 8 * i + 4, hi);
		}
		break;
	}
	}
}

/* The initial image of a sequence: registers and control words from the
 * record, memory and FP/XMM registers from its seed. */
static inline void dt_init_image(uint8_t *img, const struct dt_batch_hdr *b, const struct dt_rec *r)
{
	uint64_t s = (uint64_t)r->seed * 0x100000001ull ^ 0x5eed5eed5eedull;
	for (uint32_t i = 0; i < DT_IMG_SIZE; i++)
		img[i] = 0;
	for (int i = 0; i < 8; i++)
		dt_put32(img + DT_IMG_GPR + 4 * i, r->gpr[i]);
	dt_put32(img + DT_IMG_EFLAGS, r->eflags);
	dt_put32(img + DT_IMG_VEC, DT_NO_VECTOR);
	uint8_t *fx = img + DT_IMG_FX;
	dt_put16(fx + DT_FX_FCW, r->fcw);
	dt_put16(fx + DT_FX_FSW, r->fsw);
	fx[DT_FX_FTW] = r->ftw;
	dt_put32(fx + DT_FX_MXCSR, r->mxcsr);
	dt_put32(fx + DT_FX_MXCSR_MASK, b->mxcsr_mask);
	for (int i = 0; i < 8; i++)
		dt_fill_fp80(&s, fx + DT_FX_ST + 16 * i);
	for (int i = 0; i < 8; i++)
		dt_fill_xmm(&s, fx + DT_FX_XMM + 16 * i);
	dt_fill_bytes(&s, img + DT_IMG_DATA, DT_DATA_SIZE);
	if (b->flags & DT_BATCH_LOW)
		dt_fill_bytes(&s, img + DT_IMG_LOW, DT_LOW_SIZE);
}

/* Image offset of a linear address in DATA or LOW, or -1. */
static inline int32_t dt_img_offset(uint32_t lin, uint32_t len, uint32_t flags)
{
	if (lin - DT_DATA_BASE < DT_DATA_SIZE && len <= DT_DATA_SIZE - (lin - DT_DATA_BASE))
		return (int32_t)(DT_IMG_DATA + (lin - DT_DATA_BASE));
	if ((flags & DT_BATCH_LOW) && lin - DT_LOW_BASE < DT_LOW_SIZE &&
	    len <= DT_LOW_SIZE - (lin - DT_LOW_BASE))
		return (int32_t)(DT_IMG_LOW + (lin - DT_LOW_BASE));
	return -1;
}

#endif /* !__ASSEMBLER__ */

#endif
