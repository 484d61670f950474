/* The comparator's core: rebuilds the final state images from the runners'
 * difference lines, compares them field by field under the masks the
 * analysis computed, and prints what differs. Masked (never compared):
 * EFLAGS outside CF/PF/AF/ZF/SF/OF/DF and the flags still undefined where
 * the run stopped; x87 C0-C3 still undefined; FXSAVE's implementation-
 * specific fields (FOP, FIP, FCS, FDP, FDS unless --fpu-ptr, MXCSR_MASK,
 * the reserved bytes of each register slot). */
#include "compare.h"

#include <stdlib.h>
#include <string.h>

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int dt_apply_result(uint8_t *img, const char *p)
{
	while (*p == ' ')
		p++;
	while (*p && *p != '\n') {
		char *end;
		unsigned long off = strtoul(p, &end, 16);
		if (end == p || *end != ':')
			return -1;
		p = end + 1;
		while (hexval(p[0]) >= 0 && hexval(p[1]) >= 0) {
			if (off >= DT_IMG_SIZE)
				return -1;
			img[off++] = (uint8_t)(hexval(p[0]) << 4 | hexval(p[1]));
			p += 2;
		}
		if (*p != ' ' && *p != '\n' && *p)
			return -1;
		while (*p == ' ')
			p++;
	}
	return 0;
}

unsigned dt_stop_index(const struct dt_analysis *a, const uint8_t *img)
{
	if (dt_get32(img + DT_IMG_VEC) == DT_NO_VECTOR)
		return a->n;
	uint32_t eip = dt_get32(img + DT_IMG_EIP);
	for (unsigned i = 0; i < a->n; i++)
		if (a->insn[i].off == eip)
			return i;
	return a->n;
}

static uint8_t fsw_hi_mask(uint32_t fundef)
{
	return (uint8_t)(((fundef & 1) ? 0x01 : 0) | ((fundef & 2) ? 0x02 : 0) | ((fundef & 4) ? 0x04 : 0) |
			 ((fundef & 8) ? 0x40 : 0));
}

static bool differ(const uint8_t *x, const uint8_t *y, unsigned n)
{
	return memcmp(x, y, n) != 0;
}

uint64_t dt_compare(const struct dt_seq *s, const struct dt_analysis *a, const uint8_t *nat,
		    const uint8_t *gst, const struct dt_opts *o)
{
	(void)s;
	uint64_t d = 0;
	unsigned stop = dt_stop_index(a, nat);
	uint32_t undef = stop < a->n ? a->insn[stop].undef_before : a->undef_end;
	uint32_t fundef = stop < a->n ? a->insn[stop].fundef_before : a->fundef_end;
	for (int i = 0; i < 8; i++)
		if (differ(nat + DT_IMG_GPR + 4 * i, gst + DT_IMG_GPR + 4 * i, 4))
			d |= DT_D_BIT(DT_D_GPR + i);
	uint32_t fm = DT_EFLAGS_CMP & ~undef;
	if ((dt_get32(nat + DT_IMG_EFLAGS) ^ dt_get32(gst + DT_IMG_EFLAGS)) & fm)
		d |= DT_D_BIT(DT_D_EFLAGS);
	if (differ(nat + DT_IMG_VEC, gst + DT_IMG_VEC, 12))
		d |= DT_D_BIT(DT_D_EXC);
	const uint8_t *fn = nat + DT_IMG_FX, *fg = gst + DT_IMG_FX;
	if (differ(fn + DT_FX_FCW, fg + DT_FX_FCW, 2))
		d |= DT_D_BIT(DT_D_FCW);
	uint8_t cm = fsw_hi_mask(fundef);
	if (fn[DT_FX_FSW] != fg[DT_FX_FSW] || ((fn[DT_FX_FSW + 1] ^ fg[DT_FX_FSW + 1]) & ~cm))
		d |= DT_D_BIT(DT_D_FSW);
	if (fn[DT_FX_FTW] != fg[DT_FX_FTW])
		d |= DT_D_BIT(DT_D_FTW);
	if (o->fpu_ptr && differ(fn + DT_FX_FOP, fg + DT_FX_FOP, 18))
		d |= DT_D_BIT(DT_D_FPTR);
	if (differ(fn + DT_FX_MXCSR, fg + DT_FX_MXCSR, 4))
		d |= DT_D_BIT(DT_D_MXCSR);
	for (int i = 0; i < 8; i++) {
		if (differ(fn + DT_FX_ST + 16 * i, fg + DT_FX_ST + 16 * i, 10))
			d |= DT_D_BIT(DT_D_ST + i);
		if (differ(fn + DT_FX_XMM + 16 * i, fg + DT_FX_XMM + 16 * i, 16))
			d |= DT_D_BIT(DT_D_XMM + i);
	}
	if (differ(nat + DT_IMG_DATA, gst + DT_IMG_DATA, DT_DATA_SIZE))
		d |= DT_D_BIT(DT_D_DATA);
	if (differ(nat + DT_IMG_LOW, gst + DT_IMG_LOW, DT_LOW_SIZE))
		d |= DT_D_BIT(DT_D_LOW);
	return d;
}

static const char *const gpr_names[8] = { "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi" };

const char *dt_field_names(uint64_t d, char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = 0;
#define ADD(str) do { int k = snprintf(buf + n, len - n, "%s%s", n ? "," : "", (str)); \
		      if (k > 0 && (size_t)k < len - n) n += (size_t)k; } while (0)
	for (int i = 0; i < 8; i++)
		if (d & DT_D_BIT(DT_D_GPR + i))
			ADD(gpr_names[i]);
	if (d & DT_D_BIT(DT_D_EFLAGS)) ADD("eflags");
	if (d & DT_D_BIT(DT_D_EXC)) ADD("exception");
	if (d & DT_D_BIT(DT_D_FCW)) ADD("fcw");
	if (d & DT_D_BIT(DT_D_FSW)) ADD("fsw");
	if (d & DT_D_BIT(DT_D_FTW)) ADD("ftw");
	if (d & DT_D_BIT(DT_D_FPTR)) ADD("fpu-pointers");
	if (d & DT_D_BIT(DT_D_MXCSR)) ADD("mxcsr");
	for (int i = 0; i < 8; i++)
		if (d & DT_D_BIT(DT_D_ST + i)) {
			char t[16];
			snprintf(t, sizeof(t), "r%d", i);
			ADD(t);
		}
	for (int i = 0; i < 8; i++)
		if (d & DT_D_BIT(DT_D_XMM + i)) {
			char t[16];
			snprintf(t, sizeof(t), "xmm%d", i);
			ADD(t);
		}
	if (d & DT_D_BIT(DT_D_DATA)) ADD("memory");
	if (d & DT_D_BIT(DT_D_LOW)) ADD("low-memory");
	if (d & DT_D_BIT(DT_D_DIED)) ADD("guest-died");
#undef ADD
	return buf;
}

void dt_print_seq(FILE *f, const struct dt_seq *s, const char *indent)
{
	for (unsigned u = 0; u < s->nunits; u++) {
		unsigned off = s->unit_off[u], end = s->unit_off[u + 1];
		while (off < end) {
			ZydisDecodedInstruction in;
			ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
			char text[128], hex[48];
			if (!dt_decode(s->code + off, end - off, &in, ops)) {
				fprintf(f, "%s+%-3u (undecodable)\n", indent, off);
				break;
			}
			dt_format(&in, ops, text, sizeof(text));
			unsigned k = 0;
			for (unsigned i = 0; i < in.length && k + 3 < sizeof(hex); i++)
				k += (unsigned)snprintf(hex + k, sizeof(hex) - k, "%02x", s->code[off + i]);
			bool setup = off + in.length < end;
			fprintf(f, "%s+%-3u %-30s %s%s\n", indent, off, hex, text, setup ? "   ; setup" : "");
			off += in.length;
		}
	}
}

static const char *vector_name(uint32_t v)
{
	static const char *const n[32] = {
		"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "?9", "#TS", "#NP", "#SS",
		"#GP", "#PF", "?15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "?22", "?23", "?24", "?25",
		"?26", "?27", "?28", "?29", "?30", "?31",
	};
	return v < 32 ? n[v] : "none";
}

static void put_flags(FILE *f, uint32_t v)
{
	static const struct { uint32_t bit; const char *name; } fl[] = {
		{ 0x800, "OF" }, { 0x400, "DF" }, { 0x80, "SF" }, { 0x40, "ZF" }, { 0x10, "AF" },
		{ 0x4, "PF" }, { 0x1, "CF" },
	};
	fprintf(f, "%08x [", v);
	bool first = true;
	for (unsigned i = 0; i < sizeof(fl) / sizeof(fl[0]); i++)
		if (v & fl[i].bit) {
			fprintf(f, "%s%s", first ? "" : " ", fl[i].name);
			first = false;
		}
	fprintf(f, "]");
}

static void put_exc(FILE *f, const struct dt_analysis *a, const uint8_t *img)
{
	uint32_t v = dt_get32(img + DT_IMG_VEC);
	if (v == DT_NO_VECTOR) {
		fprintf(f, "no exception");
		return;
	}
	unsigned k = dt_stop_index(a, img);
	fprintf(f, "%s (vector %u) error %#x at +%u", vector_name(v), v, dt_get32(img + DT_IMG_ERR),
		dt_get32(img + DT_IMG_EIP));
	if (k < a->n)
		fprintf(f, " (%s)", ZydisMnemonicGetString(a->insn[k].mnemonic));
	else
		fprintf(f, " (not an instruction boundary)");
}

static void put_bytes(FILE *f, const uint8_t *p, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "%02x", p[i]);
}

/* Memory differences as runs: address, expected bytes, got bytes. */
static void describe_memory(FILE *f, const uint8_t *nat, const uint8_t *gst, unsigned off, unsigned size,
			    uint32_t base, const char *indent)
{
	unsigned shown = 0;
	for (unsigned i = 0; i < size;) {
		if (nat[off + i] == gst[off + i]) {
			i++;
			continue;
		}
		unsigned j = i;
		while (j < size && j - i < 16 && nat[off + j] != gst[off + j])
			j++;
		if (shown++ == 12) {
			fprintf(f, "%s  memory: ... more differences\n", indent);
			return;
		}
		fprintf(f, "%s  memory %08x: expected ", indent, base + i);
		put_bytes(f, nat + off + i, j - i);
		fprintf(f, " got ");
		put_bytes(f, gst + off + i, j - i);
		fprintf(f, "\n");
		i = j;
	}
}

void dt_describe(FILE *f, const struct dt_seq *s, const struct dt_analysis *a, const uint8_t *init,
		 const uint8_t *nat, const uint8_t *gst, uint64_t d, const char *gname, const char *indent)
{
	fprintf(f, "%sinitial:", indent);
	for (int i = 0; i < 8; i++)
		fprintf(f, " %s=%08x", gpr_names[i], s->gpr[i]);
	fprintf(f, "\n%s         eflags=", indent);
	put_flags(f, s->eflags);
	fprintf(f, " fcw=%04x fsw=%04x ftw=%02x mxcsr=%08x data seed=%08x\n", s->fcw, s->fsw, s->ftw,
		s->mxcsr, s->seed);
	if (d & DT_D_BIT(DT_D_DIED)) {
		fprintf(f, "%s  %s did not report this sequence (it died or hung on it)\n", indent, gname);
		return;
	}
	fprintf(f, "%s  expected = host CPU, got = %s\n", indent, gname);
	for (int i = 0; i < 8; i++)
		if (d & DT_D_BIT(DT_D_GPR + i))
			fprintf(f, "%s  %s: expected %08x got %08x\n", indent, gpr_names[i],
				dt_get32(nat + DT_IMG_GPR + 4 * i), dt_get32(gst + DT_IMG_GPR + 4 * i));
	if (d & DT_D_BIT(DT_D_EFLAGS)) {
		unsigned stop = dt_stop_index(a, nat);
		uint32_t undef = stop < a->n ? a->insn[stop].undef_before : a->undef_end;
		uint32_t m = DT_EFLAGS_CMP & ~undef;
		fprintf(f, "%s  eflags: expected ", indent);
		put_flags(f, dt_get32(nat + DT_IMG_EFLAGS) & m);
		fprintf(f, " got ");
		put_flags(f, dt_get32(gst + DT_IMG_EFLAGS) & m);
		fprintf(f, " (compared: ");
		put_flags(f, m);
		fprintf(f, ")\n");
	}
	if (d & DT_D_BIT(DT_D_EXC)) {
		fprintf(f, "%s  exception: expected ", indent);
		put_exc(f, a, nat);
		fprintf(f, "\n%s             got      ", indent);
		put_exc(f, a, gst);
		fprintf(f, "\n");
	}
	const uint8_t *fn = nat + DT_IMG_FX, *fg = gst + DT_IMG_FX;
	static const struct { int bit; unsigned off, len; const char *name; } fpf[] = {
		{ DT_D_FCW, DT_FX_FCW, 2, "fcw" }, { DT_D_FSW, DT_FX_FSW, 2, "fsw" },
		{ DT_D_FTW, DT_FX_FTW, 1, "ftw" }, { DT_D_FPTR, DT_FX_FOP, 18, "fop..fds" },
		{ DT_D_MXCSR, DT_FX_MXCSR, 4, "mxcsr" },
	};
	for (unsigned i = 0; i < sizeof(fpf) / sizeof(fpf[0]); i++)
		if (d & DT_D_BIT(fpf[i].bit)) {
			fprintf(f, "%s  %s: expected ", indent, fpf[i].name);
			put_bytes(f, fn + fpf[i].off, fpf[i].len);
			fprintf(f, " got ");
			put_bytes(f, fg + fpf[i].off, fpf[i].len);
			fprintf(f, " (bytes, little-endian)\n");
		}
	for (int i = 0; i < 8; i++) {
		if (d & DT_D_BIT(DT_D_ST + i)) {
			fprintf(f, "%s  x87 register slot %d (FXSAVE order): expected ", indent, i);
			put_bytes(f, fn + DT_FX_ST + 16 * i, 10);
			fprintf(f, " got ");
			put_bytes(f, fg + DT_FX_ST + 16 * i, 10);
			fprintf(f, "\n");
		}
		if (d & DT_D_BIT(DT_D_XMM + i)) {
			fprintf(f, "%s  xmm%d: expected ", indent, i);
			put_bytes(f, fn + DT_FX_XMM + 16 * i, 16);
			fprintf(f, " got ");
			put_bytes(f, fg + DT_FX_XMM + 16 * i, 16);
			fprintf(f, "\n");
		}
	}
	if (d & DT_D_BIT(DT_D_DATA))
		describe_memory(f, nat, gst, DT_IMG_DATA, DT_DATA_SIZE, DT_DATA_BASE, indent);
	if (d & DT_D_BIT(DT_D_LOW))
		describe_memory(f, nat, gst, DT_IMG_LOW, DT_LOW_SIZE, DT_LOW_BASE, indent);
	(void)init;
}
