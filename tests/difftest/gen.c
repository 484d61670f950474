/* The random sequence generator.
 *
 * Instructions come from templates: every prefix set (none, 66, F2, F3,
 * 66+F2, 66+F3) x opcode map (one-byte, 0F, 0F38, 0F3A, and VEX for
 * BMI1/BMI2) x opcode x ModRM byte is decoded once with Zydis and kept if
 * the filter in isa.c allows it: register forms with their exact ModRM,
 * memory forms once per ModRM.reg, forms without ModRM once. That reaches
 * every instruction Zydis knows in 32-bit mode that the filter lets
 * through. A sequence unit picks a class (integer, x87, SIMD), a mnemonic
 * in it uniformly, then one of the mnemonic's templates, and instantiates
 * it: optional segment, address-size and LOCK prefixes, random immediates,
 * and for memory forms a random addressing form (absolute, base, base +
 * disp8/32, SIB with any base, index and scale, or 16-bit forms with 67).
 *
 * Addresses stay safe by construction and are then proved safe by the
 * analysis (analyze.c). The generator picks a target inside DATA (or LOW
 * for 16-bit addressing) and solves for the registers and displacement so
 * that segment base + base + index*scale + disp lands on it, modulo 2^32 (or
 * 2^16): registers whose value the analysis knows (ESP, or one no earlier
 * instruction wrote) are used as they are, the others get "setup" moves
 * (MOV r32, imm32) placed in front of the instruction in the same unit. The
 * same goes for implicit pointers (string ESI/EDI and a small REP count
 * in ECX, XLAT's EBX, MASKMOV's EDI, LEAVE's and nested ENTER's EBP) and
 * BT* m,r bit offsets. A unit is kept only when dt_astep accepts all its
 * instructions. ESP starts in a window of DATA and is never given a value
 * the analysis cannot follow. No register is pinned: values set up for one
 * unit are free for anything afterwards.
 *
 * A sequence is 1-8 units (one random instruction each, plus its setup
 * moves). Its initial state is random too: GPRs (random, small, special
 * and pointer-like values), arithmetic flags, x87 control/status/tag words
 * (any rounding and precision; exceptions masked, or 5% of the time some
 * unmasked so #MF is tested), MXCSR (rounding, FTZ, DAZ, sticky flags; 5%
 * with unmasked exceptions for #XM); the data areas and the x87/XMM
 * registers come from the sequence's seed (dt_abi.h). The sequence with a
 * given (seed, index) is the same whatever the count.
 *
 * 16-bit code (o->code16): the templates come from Zydis's 16-bit decoder
 * (so the 66-prefixed ones are the 32-bit forms), 67 selects 32-bit
 * addressing, setups are 66 B8+r imm32, DS and ES have the FS base (so
 * [bx+si]-style addresses reach DATA) and no CS override is generated (CS
 * is based where the runner puts the code). 32-bit code draws the same
 * random numbers as before 16-bit code existed: a seed's batch is
 * unchanged. */
#include "gen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"

#define T_MODRM 1u
#define T_MEM 2u        /* ModRM memory form: addressing generated */
#define T_MOFFS 4u      /* memory through a moffs displacement (A0-A3) */
#define T_VEX 8u
#define T_IMPLICIT 16u  /* hidden memory operand (strings, XLAT, MASKMOV) */
#define T_LOCK 32u      /* accepts LOCK */
#define T_NOISY 64u     /* carries a prefix the instruction ignores */

struct tmpl {
	uint8_t head[8];
	uint8_t head_len;
	uint8_t modrm;
	uint8_t flags;
	uint8_t imm_len;
	uint16_t mem_size;
	uint16_t mnemonic;
	uint8_t cls;
};

struct mgroup {
	uint16_t mnemonic;
	uint32_t first, count;   /* templates, the ones without ignored prefixes first */
	uint32_t clean;
};

static struct tmpl *tmpls;
static uint32_t ntmpl, captmpl;
static struct mgroup *groups[DT_CLASS_COUNT];
static uint32_t ngroups[DT_CLASS_COUNT];
static bool built;
static uint32_t built_features;
static uint64_t stat_units, stat_attempts, stat_setups;

/* ------------------------------------------------------------------ rng */

static uint32_t rnd(uint64_t *s)
{
	return dt_rand(s);
}

static uint32_t rndn(uint64_t *s, uint32_t n)
{
	return n ? rnd(s) % n : 0;
}

static bool chance(uint64_t *s, uint32_t pct)
{
	return rndn(s, 100) < pct;
}

/* ------------------------------------------------------------ templates */

static void add_tmpl(const struct tmpl *t)
{
	if (ntmpl == captmpl) {
		captmpl = captmpl ? 2 * captmpl : 4096;
		tmpls = realloc(tmpls, captmpl * sizeof(*tmpls));
		if (!tmpls) {
			perror("difftest");
			exit(2);
		}
	}
	tmpls[ntmpl++] = *t;
}

static unsigned imm_bytes(const ZydisDecodedInstruction *in)
{
	return in->raw.imm[0].size / 8u + in->raw.imm[1].size / 8u;
}

static void consider(const uint8_t *bytes, unsigned m_index, bool vex,
		     const struct dt_opts *o)
{
	ZydisDecodedInstruction in;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	if (!dt_decode(bytes, 15, &in, ops) || !dt_insn_allowed(&in, ops, o->features, NULL))
		return;
	struct tmpl t;
	memset(&t, 0, sizeof(t));
	t.mnemonic = (uint16_t)in.mnemonic;
	t.cls = (uint8_t)dt_insn_class(&in);
	t.imm_len = (uint8_t)imm_bytes(&in);
	if (vex)
		t.flags |= T_VEX;
	if (in.attributes & ZYDIS_ATTRIB_ACCEPTS_LOCK)
		t.flags |= T_LOCK;
	for (unsigned i = 0; i < in.raw.prefix_count; i++)
		if (in.raw.prefixes[i].type == ZYDIS_PREFIX_TYPE_IGNORED)
			t.flags |= T_NOISY;
	for (unsigned i = 0; i < in.operand_count; i++) {
		if (ops[i].type != ZYDIS_OPERAND_TYPE_MEMORY || ops[i].mem.type != ZYDIS_MEMOP_TYPE_MEM)
			continue;
		if (ops[i].visibility == ZYDIS_OPERAND_VISIBILITY_EXPLICIT)
			t.mem_size = (uint16_t)(ops[i].size / 8);
		else if (ops[i].mem.base != ZYDIS_REGISTER_ESP)
			t.flags |= T_IMPLICIT;
	}
	if (in.attributes & ZYDIS_ATTRIB_HAS_MODRM) {
		uint8_t m = bytes[m_index];
		if (in.raw.modrm.offset != m_index)
			return;
		t.flags |= T_MODRM;
		if ((m >> 6) != 3) {
			if ((m & 0xc7) != 0)
				return;    /* one memory template per ModRM.reg */
			t.flags |= T_MEM;
		}
		t.modrm = m;
		t.head_len = (uint8_t)m_index;
	} else {
		if (m_index < 15 && bytes[m_index] != 0)
			return;        /* the byte was an immediate: once is enough */
		if (in.raw.disp.size) {
			t.flags |= T_MOFFS;
			t.head_len = in.raw.disp.offset;
		} else {
			t.head_len = (uint8_t)(in.length - t.imm_len);
		}
	}
	if (t.head_len > sizeof(t.head))
		return;
	memcpy(t.head, bytes, t.head_len);
	add_tmpl(&t);
}

static int cmp_tmpl(const void *a, const void *b)
{
	const struct tmpl *x = a, *y = b;
	if (x->cls != y->cls)
		return x->cls - y->cls;
	if (x->mnemonic != y->mnemonic)
		return x->mnemonic - y->mnemonic;
	return (x->flags & T_NOISY) - (y->flags & T_NOISY);
}

static bool is_legacy_prefix(unsigned b)
{
	switch (b) {
	case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65: case 0x66: case 0x67:
	case 0xf0: case 0xf2: case 0xf3: case 0x0f:
		return true;
	default:
		return false;
	}
}

int dt_gen_init(const struct dt_opts *o)
{
	if (built && built_features == o->features)
		goto count;
	free(tmpls);
	tmpls = NULL;
	ntmpl = captmpl = 0;
	static const uint8_t prefix_sets[][2] = { {0, 0}, {0x66, 0}, {0xf2, 0}, {0xf3, 0}, {0x66, 0xf2}, {0x66, 0xf3} };
	static const uint8_t plen[] = { 0, 1, 1, 1, 2, 2 };
	static const uint8_t maps[][2] = { {0, 0}, {0x0f, 0}, {0x0f, 0x38}, {0x0f, 0x3a} };
	static const uint8_t mlen[] = { 0, 1, 2, 2 };
	uint8_t b[32];
	for (unsigned p = 0; p < 6; p++) {
		for (unsigned mp = 0; mp < 4; mp++) {
			for (unsigned op = 0; op < 256; op++) {
				if (mp == 0 && (is_legacy_prefix(op) || op == 0xc4 || op == 0xc5))
					continue;
				unsigned n = 0;
				for (unsigned i = 0; i < plen[p]; i++)
					b[n++] = prefix_sets[p][i];
				for (unsigned i = 0; i < mlen[mp]; i++)
					b[n++] = maps[mp][i];
				b[n++] = (uint8_t)op;
				for (unsigned m = 0; m < 256; m++) {
					memset(b + n, 0, sizeof(b) - n);
					b[n] = (uint8_t)m;
					consider(b, n, false, o);
				}
			}
		}
	}
	/* three-byte VEX: the BMI1/BMI2 integer instructions */
	for (unsigned map = 1; map <= 3; map++)
		for (unsigned w = 0; w < 2; w++)
			for (unsigned l = 0; l < 2; l++)
				for (unsigned pp = 0; pp < 4; pp++)
					for (unsigned op = 0; op < 256; op++)
						for (unsigned k = 0; k < 16; k++) {
							memset(b, 0, sizeof(b));
							b[0] = 0xc4;
							b[1] = (uint8_t)(0xe0 | map);
							b[2] = (uint8_t)(w << 7 | 0x78 | l << 2 | pp);
							b[3] = (uint8_t)op;
							b[4] = (uint8_t)((k < 8 ? 0xc0 : 0) | (k & 7) << 3);
							consider(b, 4, true, o);
						}
	qsort(tmpls, ntmpl, sizeof(*tmpls), cmp_tmpl);
	for (unsigned c = 0; c < DT_CLASS_COUNT; c++) {
		free(groups[c]);
		groups[c] = NULL;
		ngroups[c] = 0;
	}
	for (uint32_t i = 0; i < ntmpl;) {
		uint32_t j = i;
		while (j < ntmpl && tmpls[j].cls == tmpls[i].cls && tmpls[j].mnemonic == tmpls[i].mnemonic)
			j++;
		unsigned c = tmpls[i].cls;
		groups[c] = realloc(groups[c], (ngroups[c] + 1) * sizeof(*groups[c]));
		if (!groups[c]) {
			perror("difftest");
			exit(2);
		}
		uint32_t clean = 0;
		while (i + clean < j && !(tmpls[i + clean].flags & T_NOISY))
			clean++;
		groups[c][ngroups[c]++] = (struct mgroup){ tmpls[i].mnemonic, i, j - i, clean };
		i = j;
	}
	built = true;
	built_features = o->features;
count:
	return (int)(ngroups[0] + ngroups[1] + ngroups[2]);
}

void dt_gen_list(FILE *f)
{
	static const char *names[] = { "integer", "x87", "SIMD" };
	for (unsigned c = 0; c < DT_CLASS_COUNT; c++) {
		fprintf(f, "%s (%u):", names[c], ngroups[c]);
		for (uint32_t i = 0; i < ngroups[c]; i++)
			fprintf(f, " %s", ZydisMnemonicGetString(groups[c][i].mnemonic));
		fprintf(f, "\n");
	}
}

void dt_gen_stats(void)
{
	static const char *names[] = { "integer", "x87", "SIMD" };
	fprintf(stderr, "difftest: %u templates;", ntmpl);
	for (unsigned c = 0; c < DT_CLASS_COUNT; c++)
		fprintf(stderr, " %s %u mnemonics", names[c], ngroups[c]);
	fprintf(stderr, "\ndifftest: %llu units, %llu attempts, %llu setup moves\n",
		(unsigned long long)stat_units, (unsigned long long)stat_attempts,
		(unsigned long long)stat_setups);
}

/* ------------------------------------------------------------ addresses */

struct reqs {
	unsigned n;
	int id[6];
	uint32_t val[6];
};

static bool req_get(const struct reqs *r, int id, uint32_t *v)
{
	for (unsigned i = 0; i < r->n; i++)
		if (r->id[i] == id) {
			*v = r->val[i];
			return true;
		}
	return false;
}

static bool req_add(struct reqs *r, int id, uint32_t v)
{
	uint32_t old;
	if (id == 4)
		return false;
	if (req_get(r, id, &old))
		return old == v;
	if (r->n == 6)
		return false;
	r->id[r->n] = id;
	r->val[r->n++] = v;
	return true;
}

/* A 32-bit register's value the analysis would know now (ESP or initial
 * values of unwritten registers, or a setup earlier in the unit). */
static bool known32(const struct dt_astate *st, int id, uint32_t *v)
{
	static const ZydisRegister r32[8] = {
		ZYDIS_REGISTER_EAX, ZYDIS_REGISTER_ECX, ZYDIS_REGISTER_EDX, ZYDIS_REGISTER_EBX,
		ZYDIS_REGISTER_ESP, ZYDIS_REGISTER_EBP, ZYDIS_REGISTER_ESI, ZYDIS_REGISTER_EDI,
	};
	return dt_reg_known(st, r32[id], v);
}

/* A target linear address for an access of len bytes: in DATA, or in LOW
 * when lowok (and the LOW area is in use), aligned to align with some
 * probability, margin bytes from either end. */
static uint32_t pick_target(uint64_t *s, const struct dt_opts *o, bool want_low, uint32_t len,
			    uint32_t margin)
{
	uint32_t base = DT_DATA_BASE, size = DT_DATA_SIZE;
	if (want_low && o->low) {
		base = DT_LOW_BASE;
		size = DT_LOW_SIZE;
	}
	if (len + 2 * margin >= size)
		return base;
	uint32_t off = margin + rndn(s, size - len - 2 * margin + 1);
	uint32_t align = len >= 16 ? 16 : len >= 8 ? 8 : len >= 4 ? 4 : len >= 2 ? 2 : 1;
	if (chance(s, 75))
		off &= ~(align - 1);
	if (off < margin)
		off = margin;
	return base + off;
}

static uint32_t random_disp32(uint64_t *s)
{
	return chance(s, 50) ? rnd(s) : (uint32_t)(int32_t)(int16_t)rnd(s);
}

static uint32_t random_value(uint64_t *s)
{
	switch (rndn(s, 4)) {
	case 0: return rnd(s);
	case 1: return rndn(s, 0x10000);
	case 2: return (uint32_t)-(int32_t)rndn(s, 0x10000);
	default: return DT_DATA_BASE + rndn(s, DT_DATA_SIZE);
	}
}

/* Modular inverse of an odd c mod 2^32. */
static uint32_t inverse(uint32_t c)
{
	uint32_t x = c;
	for (int i = 0; i < 5; i++)
		x *= 2 - c * x;
	return x;
}

struct addr {
	uint8_t bytes[8];   /* ModRM [SIB] [disp] */
	unsigned len;
	ZydisRegister seg;
};

/* A 32-bit memory operand (ModRM.reg = reg) that reaches a target. */
static bool gen_addr32(uint64_t *s, const struct dt_opts *o, const struct dt_astate *st, unsigned reg,
		       ZydisRegister seg_override, uint32_t size, uint32_t esp_extra, bool agen,
		       struct reqs *rq, struct addr *a)
{
	int base = -1, index = -1;
	unsigned scale = 1, mod, rm, dsize;
	uint32_t r = rndn(s, 100);
	if (r < 10) {                       /* [disp32] */
		mod = 0; rm = 5; dsize = 4;
	} else if (r < 35) {                /* [base + disp] */
		mod = rndn(s, 3);
		base = (int)rndn(s, 8);
		if (base == 4)
			base = 3;
		if (mod == 0 && base == 5)
			mod = 1;
		rm = (unsigned)base;
		dsize = mod == 0 ? 0 : mod == 1 ? 1 : 4;
	} else {                            /* SIB */
		mod = rndn(s, 3);
		rm = 4;
		unsigned sb = rndn(s, 8), si = rndn(s, 8);
		scale = 1u << rndn(s, 4);
		if (!(mod == 0 && sb == 5))
			base = (int)sb;
		if (si != 4)
			index = (int)si;
		else
			scale = 1;
		dsize = mod == 1 ? 1 : (mod == 2 || (mod == 0 && sb == 5)) ? 4 : 0;
		a->bytes[1] = (uint8_t)((scale == 8 ? 3 : scale == 4 ? 2 : scale == 2 ? 1 : 0) << 6 | si << 3 | sb);
	}
	a->bytes[0] = (uint8_t)(mod << 6 | reg << 3 | rm);
	unsigned n = rm == 4 ? 2 : 1;
	ZydisRegister seg = seg_override;
	if (seg == ZYDIS_REGISTER_NONE)
		seg = (base == 4 || base == 5) ? ZYDIS_REGISTER_SS : ZYDIS_REGISTER_DS;
	a->seg = seg;

	uint32_t disp = 0;
	if (agen) {
		disp = dsize == 1 ? (uint32_t)(int32_t)(int8_t)rnd(s) : dsize == 4 ? random_disp32(s) : 0;
	} else {
		uint32_t segbase = dt_seg_base(o, seg);
		uint32_t T = pick_target(s, o, chance(s, 10), size, 8);
		/* coefficients of the (up to two) registers */
		int regs[2] = { -1, -1 };
		uint32_t coef[2] = { 0, 0 };
		unsigned nr = 0;
		if (base >= 0) {
			regs[nr] = base;
			coef[nr++] = 1;
		}
		if (index >= 0) {
			if (nr && regs[0] == index) {
				coef[0] += scale;
			} else {
				regs[nr] = index;
				coef[nr++] = scale;
			}
		}
		uint32_t fixed = 0;
		int freeidx = -1;
		for (unsigned i = 0; i < nr; i++) {
			uint32_t v;
			if (regs[i] == 4) {
				fixed += coef[i] * (st->esp + esp_extra);
			} else if (req_get(rq, regs[i], &v) || (known32(st, regs[i], &v) && chance(s, 50))) {
				fixed += coef[i] * v;
			} else if (freeidx < 0 || ((coef[freeidx] & 1) == 0 && (coef[i] & 1))) {
				if (freeidx >= 0) {
					/* the other free register just gets a random value */
					uint32_t x = random_value(s);
					if (!req_add(rq, regs[freeidx], x))
						return false;
					fixed += coef[freeidx] * x;
				}
				freeidx = (int)i;
			} else {
				uint32_t x = random_value(s);
				if (!req_add(rq, regs[i], x))
					return false;
				fixed += coef[i] * x;
			}
		}
		if (freeidx < 0) {
			uint32_t need = T - segbase - fixed;
			if (dsize == 4) {
				disp = need;
			} else {
				disp = dsize == 1 ? (uint32_t)(int32_t)(int8_t)rnd(s) : 0;
				uint32_t t2 = segbase + fixed + disp;
				if (dt_img_offset(t2, size, o->low ? DT_BATCH_LOW : 0) < 0)
					return false;
			}
		} else {
			uint32_t c = coef[freeidx];
			disp = dsize == 1 ? (uint32_t)(int32_t)(int8_t)rnd(s) : dsize == 4 ? random_disp32(s) : 0;
			uint32_t x = T - segbase - fixed - disp, v;
			if (c & 1) {
				v = x * inverse(c);
			} else {
				uint32_t rem = x & (c - 1);
				x -= rem;   /* move the target down a little (margin 8) */
				v = x / c + rndn(s, c) * (uint32_t)(0x100000000ull / c);
			}
			if (!req_add(rq, regs[freeidx], v))
				return false;
		}
	}
	if (dsize == 1)
		a->bytes[n++] = (uint8_t)disp;
	else if (dsize == 4) {
		dt_put32(a->bytes + n, disp);
		n += 4;
	}
	a->len = n;
	return true;
}

/* A 16-bit memory operand (67 prefix). */
static bool gen_addr16(uint64_t *s, const struct dt_opts *o, const struct dt_astate *st, unsigned reg,
		       ZydisRegister seg_override, uint32_t size, bool agen, struct reqs *rq,
		       struct addr *a)
{
	static const int rb[8] = { 3, 3, 5, 5, -1, -1, 5, 3 };    /* bx bx bp bp - - bp bx */
	static const int ri[8] = { 6, 7, 6, 7, 6, 7, -1, -1 };    /* si di si di si di - - */
	unsigned mod = rndn(s, 3), rm = rndn(s, 8), dsize;
	int regs[2] = { rb[rm], ri[rm] };
	if (mod == 0 && rm == 6) {
		regs[0] = -1;
		dsize = 2;
	} else {
		dsize = mod == 0 ? 0 : mod == 1 ? 1 : 2;
	}
	a->bytes[0] = (uint8_t)(mod << 6 | reg << 3 | rm);
	ZydisRegister seg = seg_override;
	if (seg == ZYDIS_REGISTER_NONE)
		seg = regs[0] == 5 ? ZYDIS_REGISTER_SS : ZYDIS_REGISTER_DS;
	a->seg = seg;
	uint32_t disp = 0;
	if (agen) {
		disp = dsize == 1 ? (uint32_t)(int32_t)(int8_t)rnd(s) : rnd(s) & 0xffff;
	} else {
		uint32_t segbase = dt_seg_base(o, seg);
		uint32_t T = pick_target(s, o, segbase != DT_FS_BASE, size, 8);
		uint32_t ea = T - segbase;
		if (ea > 0xffff || ea + size > 0x10000)
			return false;
		uint32_t fixed = 0;
		int freereg = -1;
		for (int i = 0; i < 2; i++) {
			uint32_t v;
			if (regs[i] < 0)
				continue;
			if (req_get(rq, regs[i], &v) || (known32(st, regs[i], &v) && chance(s, 50)))
				fixed += v;
			else if (freereg < 0)
				freereg = regs[i];
			else {
				uint32_t x = rnd(s);
				if (!req_add(rq, regs[i], x))
					return false;
				fixed += x;
			}
		}
		disp = dsize == 1 ? (uint32_t)(int32_t)(int8_t)rnd(s) : dsize == 2 ? rnd(s) & 0xffff : 0;
		if (freereg < 0) {
			if (dsize == 2)
				disp = (ea - fixed) & 0xffff;
			else if (((fixed + disp) & 0xffff) != ea) {
				uint32_t t2 = segbase + ((fixed + disp) & 0xffff);
				if (dt_img_offset(t2, size, o->low ? DT_BATCH_LOW : 0) < 0 ||
				    ((fixed + disp) & 0xffff) + size > 0x10000)
					return false;
			}
		} else {
			uint32_t v = (rnd(s) & 0xffff0000u) | ((ea - fixed - disp) & 0xffff);
			if (!req_add(rq, freereg, v))
				return false;
		}
	}
	unsigned n = 1;
	if (dsize == 1)
		a->bytes[n++] = (uint8_t)disp;
	else if (dsize == 2) {
		a->bytes[n++] = (uint8_t)disp;
		a->bytes[n++] = (uint8_t)(disp >> 8);
	}
	a->len = n;
	return true;
}

/* ------------------------------------------------------------ instances */

static ZydisRegister seg_of_prefix(uint8_t p)
{
	switch (p) {
	case 0x26: return ZYDIS_REGISTER_ES;
	case 0x2e: return ZYDIS_REGISTER_CS;
	case 0x36: return ZYDIS_REGISTER_SS;
	case 0x3e: return ZYDIS_REGISTER_DS;
	case 0x64: return ZYDIS_REGISTER_FS;
	case 0x65: return ZYDIS_REGISTER_GS;
	default: return ZYDIS_REGISTER_NONE;
	}
}

static uint8_t random_seg_prefix(uint64_t *s)
{
	static const uint8_t p[] = { 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x64, 0x65 };
	return p[rndn(s, sizeof(p))];
}

/* Value for a pointer register that makes [reg] in segment seg reach a
 * target with margin bytes of room on both sides. */
static uint32_t pointer_for(uint64_t *s, const struct dt_opts *o, ZydisRegister seg, bool addr16,
			    uint32_t len, uint32_t margin)
{
	bool low = addr16 && dt_seg_base(o, seg) != DT_FS_BASE;
	uint32_t T = pick_target(s, o, low, len, margin);
	uint32_t v = T - dt_seg_base(o, seg);
	if (addr16)
		v = (rnd(s) & 0xffff0000u) | (v & 0xffff);
	return v;
}

/* Registers an instruction's implicit accesses need (strings, XLAT,
 * MASKMOV, LEAVE, ENTER, BT* m,r, 16-bit SHLD/SHRD by CL). */
static bool implicit_reqs(uint64_t *s, const struct dt_opts *o, const struct dt_astate *st,
			  const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops, struct reqs *rq)
{
	ZydisMnemonic m = in->mnemonic;
	bool a16 = in->address_width == 16;
	if (in->meta.category == ZYDIS_CATEGORY_STRINGOP) {
		if (in->attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE | ZYDIS_ATTRIB_HAS_REPNE)) {
			uint32_t count = chance(s, 5) ? 0 : 1 + rndn(s, 16);
			if (a16)
				count |= rnd(s) & 0xffff0000u;
			if (!req_add(rq, 1, count))
				return false;
		}
		for (unsigned i = 0; i < in->operand_count; i++) {
			const ZydisDecodedOperand *op = &ops[i];
			if (op->type != ZYDIS_OPERAND_TYPE_MEMORY)
				continue;
			if (!req_add(rq, dt_gpr_id(op->mem.base), pointer_for(s, o, op->mem.segment, a16, op->size / 8, 80)))
				return false;
		}
		return true;
	}
	switch (m) {
	case ZYDIS_MNEMONIC_XLAT:
		return req_add(rq, 3, pointer_for(s, o, ops[0].mem.segment, a16, 256, 8));
	case ZYDIS_MNEMONIC_MASKMOVQ:
	case ZYDIS_MNEMONIC_MASKMOVDQU:
		for (unsigned i = 0; i < in->operand_count; i++)
			if (ops[i].type == ZYDIS_OPERAND_TYPE_MEMORY)
				return req_add(rq, 7, pointer_for(s, o, ops[i].mem.segment, a16, 16, 8));
		return false;
	case ZYDIS_MNEMONIC_LEAVE: {
		uint32_t v = st->esp - 64 + rndn(s, 256);
		if (v < DT_STACK_LO)
			v = DT_STACK_LO;
		if (v > DT_STACK_HI - 8)
			v = DT_STACK_HI - 8;
		return req_add(rq, 5, v);
	}
	case ZYDIS_MNEMONIC_ENTER:
		if ((ops[1].imm.value.u & 31) > 1)
			return req_add(rq, 5, st->esp - 32 + rndn(s, 128));
		return true;
	case ZYDIS_MNEMONIC_BT:
	case ZYDIS_MNEMONIC_BTS:
	case ZYDIS_MNEMONIC_BTR:
	case ZYDIS_MNEMONIC_BTC:
		if (ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY && ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER) {
			uint32_t off = (uint32_t)((int32_t)rndn(s, 512) - 256);
			if (ops[1].size == 16)
				off = (rnd(s) & 0xffff0000u) | (off & 0xffff);
			return req_add(rq, dt_gpr_id(ops[1].reg.value), off);
		}
		return true;
	case ZYDIS_MNEMONIC_SHLD:
	case ZYDIS_MNEMONIC_SHRD:
		if (ops[0].size == 16 && ops[2].type == ZYDIS_OPERAND_TYPE_REGISTER) {
			uint32_t v;
			if (known32(st, 1, &v) && (v & 31) <= 16)
				return true;
			return req_add(rq, 1, (rnd(s) & ~31u) | rndn(s, 17));
		}
		return true;
	default:
		return true;
	}
}

static const struct tmpl *pick_template(uint64_t *s)
{
	static const uint32_t weight[DT_CLASS_COUNT] = { 50, 20, 30 };
	for (;;) {
		uint32_t r = rndn(s, 100), c = 0, acc = 0;
		for (c = 0; c < DT_CLASS_COUNT; c++) {
			acc += weight[c];
			if (r < acc)
				break;
		}
		if (c >= DT_CLASS_COUNT || !ngroups[c])
			continue;
		const struct mgroup *g = &groups[c][rndn(s, ngroups[c])];
		/* mostly without prefixes the instruction ignores */
		uint32_t n = g->clean && chance(s, 90) ? g->clean : g->count;
		const struct tmpl *t = &tmpls[g->first + rndn(s, n)];
		/* register forms outnumber memory forms 8 to 1 in the table;
		 * give memory forms about an even chance */
		if ((t->flags & (T_MODRM | T_MEM)) == T_MODRM && chance(s, 45)) {
			for (int k = 0; k < 16; k++) {
				const struct tmpl *m = &tmpls[g->first + rndn(s, n)];
				if (m->flags & T_MEM)
					return m;
			}
		}
		return t;
	}
}

/* One attempt at a unit: bytes in out (setups then the instruction). */
static int try_unit(uint64_t *s, const struct dt_opts *o, const struct dt_astate *st0, uint8_t *out,
		    unsigned room, struct dt_astate *st_out, unsigned *nsetup)
{
	const struct tmpl *t = pick_template(s);
	bool mem = t->flags & (T_MEM | T_MOFFS);
	uint8_t pre[4];
	unsigned npre = 0;
	uint8_t segp = 0;
	bool a16 = false;
	if ((mem || (t->flags & T_IMPLICIT)) && chance(s, mem ? 30 : 15))
		segp = random_seg_prefix(s);
	/* Known btvm gap (docs/DESIGN.md): a store through CS raises #GP
	 * before the instruction runs, but x87/MMX/SSE stores and ARPL only
	 * store (and fault) under conditions, and change FPU state first. */
	if (segp == 0x2e && (t->cls != DT_CLASS_GP || t->mnemonic == ZYDIS_MNEMONIC_ARPL))
		segp = 0x3e;
	/* 16-bit code runs in a segment based at the runner's choice */
	if (segp == 0x2e && o->code16)
		segp = 0x3e;
	/* a67: the 67 prefix; a16: 16-bit addressing, which it selects in
	 * 32-bit code and deselects in 16-bit code */
	bool a67 = false;
	if ((o->low || o->code16) && (mem || (t->flags & T_IMPLICIT)) && chance(s, 15))
		a67 = true;
	else if (!mem && !(t->flags & T_IMPLICIT) && chance(s, 3))
		a67 = true;                     /* a meaningless 67 */
	if (t->mnemonic == ZYDIS_MNEMONIC_LEA && chance(s, 15))
		a67 = true;
	a16 = a67 != o->code16;
	if (segp)
		pre[npre++] = segp;
	if (a67)
		pre[npre++] = 0x67;
	if ((t->flags & T_LOCK) && (t->flags & T_MEM) && !(t->flags & T_VEX) && chance(s, 30))
		pre[npre++] = 0xf0;

	uint8_t head[8];
	memcpy(head, t->head, t->head_len);
	uint8_t modrm = t->modrm;
	if (t->flags & T_VEX) {
		head[2] = (uint8_t)((head[2] & 0x87) | (0x8 | (~rnd(s) & 7)) << 3);
		if (!(t->flags & T_MEM))
			modrm = (uint8_t)((modrm & 0xf8) | rndn(s, 8));
	}
	uint8_t imm[8];
	for (unsigned i = 0; i < t->imm_len; i++)
		imm[i] = (uint8_t)rnd(s);

	/* a first decode with a register-free placeholder address */
	uint8_t b[32];
	unsigned n = 0, addr_at;
	memcpy(b + n, pre, npre);
	n += npre;
	memcpy(b + n, head, t->head_len);
	n += t->head_len;
	addr_at = n;
	if (t->flags & T_MEM) {
		b[n++] = (uint8_t)((modrm & 0x38) | (a16 ? 6 : 5));
		memset(b + n, 0, a16 ? 2 : 4);
		n += a16 ? 2 : 4;
	} else if (t->flags & T_MOFFS) {
		memset(b + n, 0, a16 ? 2 : 4);
		n += a16 ? 2 : 4;
	} else if (t->flags & T_MODRM) {
		b[n++] = modrm;
	}
	unsigned imm_at = n;
	memcpy(b + n, imm, t->imm_len);
	n += t->imm_len;
	ZydisDecodedInstruction in;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	if (!dt_decode(b, n, &in, ops) || in.length != n)
		return -1;
	if (in.mnemonic == ZYDIS_MNEMONIC_ENTER) {
		/* a frame of at most 64 bytes keeps ESP in its window */
		uint32_t size = chance(s, 50) ? 0 : rndn(s, 65);
		b[imm_at] = (uint8_t)size;
		b[imm_at + 1] = (uint8_t)(size >> 8);
		imm[0] = b[imm_at];
		imm[1] = b[imm_at + 1];
		if (chance(s, 50)) {
			b[imm_at + 2] = 0;
			imm[2] = 0;
		}
		if (!dt_decode(b, n, &in, ops))
			return -1;
	}
	struct reqs rq = { 0 };
	if (!implicit_reqs(s, o, st0, &in, ops, &rq))
		return -1;

	/* the real address */
	if (t->flags & (T_MEM | T_MOFFS)) {
		uint32_t size = t->mem_size ? t->mem_size : 1;
		bool agen = in.mnemonic == ZYDIS_MNEMONIC_LEA || in.meta.category == ZYDIS_CATEGORY_NOP ||
			    in.meta.category == ZYDIS_CATEGORY_WIDENOP || in.meta.category == ZYDIS_CATEGORY_PREFETCH;
		uint32_t extra = in.mnemonic == ZYDIS_MNEMONIC_POP ? in.operand_width / 8 : 0;
		struct addr a;
		if (in.mnemonic == ZYDIS_MNEMONIC_BT || in.mnemonic == ZYDIS_MNEMONIC_BTS ||
		    in.mnemonic == ZYDIS_MNEMONIC_BTR || in.mnemonic == ZYDIS_MNEMONIC_BTC)
			size += 80;   /* room for the bit offset */
		if (t->flags & T_MOFFS) {
			ZydisRegister seg = segp ? seg_of_prefix(segp) : ZYDIS_REGISTER_DS;
			uint32_t ea = pointer_for(s, o, seg, a16, size, 8);
			a.len = a16 ? 2 : 4;
			dt_put32(a.bytes, ea);
		} else if (a16) {
			if (!gen_addr16(s, o, st0, (modrm >> 3) & 7, seg_of_prefix(segp), size, agen, &rq, &a))
				return -1;
		} else {
			if (!gen_addr32(s, o, st0, (modrm >> 3) & 7, seg_of_prefix(segp), size, extra, agen, &rq, &a))
				return -1;
		}
		n = addr_at;
		memcpy(b + n, a.bytes, a.len);
		n += a.len;
		memcpy(b + n, imm, t->imm_len);
		n += t->imm_len;
		ZydisMnemonic want = in.mnemonic;
		if (!dt_decode(b, n, &in, ops) || in.length != n || in.mnemonic != want)
			return -1;
	}

	/* setups, then the instruction, all checked by the analysis */
	unsigned len = 0;
	*nsetup = 0;
	for (unsigned i = 0; i < rq.n; i++) {
		uint32_t v;
		if (known32(st0, rq.id[i], &v) && v == rq.val[i])
			continue;
		if (len + (o->code16 ? 6u : 5u) > room)
			return -1;
		if (o->code16)
			out[len++] = 0x66;      /* the 32-bit MOV */
		out[len++] = (uint8_t)(0xb8 + rq.id[i]);
		dt_put32(out + len, rq.val[i]);
		len += 4;
		(*nsetup)++;
	}
	if (len + n > room)
		return -1;
	memcpy(out + len, b, n);
	len += n;

	struct dt_astate st = *st0;
	struct dt_mask masks[DT_MAX_MASKS];
	uint16_t nmask = 0;
	char why[160];
	for (unsigned off = 0; off < len;) {
		if (!dt_decode(out + off, len - off, &in, ops))
			return -1;
		if (dt_astep(&st, &in, ops, masks, &nmask, why, sizeof(why)))
			return -1;
		off += in.length;
	}
	*st_out = st;
	return (int)len;
}

static uint32_t initial_gpr(uint64_t *s)
{
	switch (rndn(s, 8)) {
	case 0: case 1: case 2: return rnd(s);
	case 3: return rndn(s, 256);
	case 4: return (uint32_t)((int32_t)rndn(s, 33) - 16);
	case 5: {
		static const uint32_t v[] = { 0, 1, 0xffffffffu, 0x80000000u, 0x7fffffffu, 0xffff, 0x8000, 0x80 };
		return v[rndn(s, 8)];
	}
	default: return DT_DATA_BASE + rndn(s, DT_DATA_SIZE);
	}
}

void dt_gen_seq(const struct dt_opts *o, uint64_t seed, uint32_t index, struct dt_seq *sq)
{
	uint64_t s = seed * 0x9e3779b97f4a7c15ull ^ ((uint64_t)index << 20) ^ 0x6a09e667f3bcc908ull;
	for (int i = 0; i < 4; i++)
		rnd(&s);
	memset(sq, 0, sizeof(*sq));
	sq->id = index;
	sq->seed = rnd(&s);
	for (int i = 0; i < 8; i++)
		sq->gpr[i] = initial_gpr(&s);
	sq->gpr[4] = DT_ESP_INIT - 128 + rndn(&s, 257);
	if (chance(&s, 90))
		sq->gpr[4] &= ~3u;
	sq->eflags = 0x2 | (rnd(&s) & DT_EFLAGS_ARITH);

	/* x87: any rounding and precision; exceptions masked but sometimes
	 * not (then #MF is part of the test). Status flags only for masked
	 * exceptions, so nothing is pending at the start. */
	uint16_t emask = chance(&s, 95) ? 0x3f : (uint16_t)(rnd(&s) & 0x3f);
	sq->fcw = (uint16_t)(0x0040 | emask | (rnd(&s) & 0x0f00));
	sq->fsw = (uint16_t)((rnd(&s) & 0x4700) | (rnd(&s) & 0x3800) | (rnd(&s) & emask & 0x3f));
	if (sq->fsw & 0x1)
		sq->fsw |= (uint16_t)(rnd(&s) & 0x40);   /* SF goes with IE */
	sq->ftw = (uint8_t)rnd(&s);
	uint32_t mmask = chance(&s, 95) ? 0x1f80 : (rnd(&s) & 0x1f80);
	sq->mxcsr = mmask | (rnd(&s) & 0x6000) | (rnd(&s) & 0x3f);
	if (chance(&s, 30))
		sq->mxcsr |= 0x8000;    /* FTZ */
	if (chance(&s, 30) && (o->mxcsr_mask & 0x40))
		sq->mxcsr |= 0x40;      /* DAZ */

	struct dt_astate st;
	dt_astate_init(&st, o, sq);
	unsigned units = 1 + rndn(&s, DT_MAX_UNITS);
	for (unsigned u = 0; u < units; u++) {
		dt_astate_new_unit(&st);
		struct dt_astate next;
		int len = -1;
		unsigned nsetup = 0;
		for (int attempt = 0; attempt < 400 && len < 0; attempt++) {
			stat_attempts++;
			len = try_unit(&s, o, &st, sq->code + sq->code_len, DT_MAX_CODE - sq->code_len,
				       &next, &nsetup);
		}
		if (len < 0)
			break;
		stat_units++;
		stat_setups += nsetup;
		sq->unit_off[sq->nunits++] = sq->code_len;
		sq->code_len = (uint16_t)(sq->code_len + len);
		st = next;
	}
	sq->unit_off[sq->nunits] = sq->code_len;
	/* the units were checked one by one; the whole must pass too */
	struct dt_analysis a;
	while (sq->nunits > 1 && dt_analyze(sq, o, &a)) {
		sq->nunits--;
		sq->code_len = sq->unit_off[sq->nunits];
	}
}
