/* Shared batch runner (see runner.h). Built twice with gcc -m32: into the
 * native Linux runner and into the freestanding guest kernel, so it uses
 * no library functions. */
#include "runner.h"

#include <stdbool.h>
#include <stddef.h>

static uint8_t img_init[DT_IMG_SIZE];
static uint8_t img_final[DT_IMG_SIZE];
static uint8_t fxin[512] __attribute__((aligned(16)));
static char line[2 * DT_IMG_SIZE + DT_IMG_SIZE / 2 + 64];

static void copy(uint8_t *d, const uint8_t *s, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		d[i] = s[i];
}

static uint32_t put_hex(char *p, uint32_t v)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[8];
	uint32_t n = 0;
	do {
		tmp[n++] = digits[v & 15];
		v >>= 4;
	} while (v);
	for (uint32_t i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

static void put_str(const struct dt_env *env, const char *s)
{
	uint32_t n = 0;
	while (s[n])
		n++;
	env->write(s, n);
}

static void put_line_num(const struct dt_env *env, const char *word, uint32_t v)
{
	char buf[48];
	uint32_t n = 0;
	while (*word)
		buf[n++] = *word++;
	n += put_hex(buf + n, v);
	buf[n++] = '\n';
	env->write(buf, n);
}

/* mov esp, CTRL+EFLAGS_IN; popfd; mov esp, [CTRL+ESP_IN] */
static void put_prologue(uint8_t *p)
{
	p[0] = 0xbc;
	dt_put32(p + 1, DT_CTRL_BASE + DT_CTRL_EFLAGS_IN);
	p[5] = 0x9d;
	p[6] = 0x8b;
	p[7] = 0x25;
	dt_put32(p + 8, DT_CTRL_BASE + DT_CTRL_ESP_IN);
}

/* mov [abs], r32 for the eight GPRs; mov esp, imm32; pushfd; jmp [abs]. */
static uint32_t put_epilogue(uint8_t *p)
{
	uint32_t n = 0;
	for (uint32_t r = 0; r < 8; r++) {
		p[n++] = 0x89;
		p[n++] = (uint8_t)(0x05 | r << 3);
		dt_put32(p + n, DT_CTRL_BASE + DT_CTRL_GPR + 4 * r);
		n += 4;
	}
	p[n++] = 0xbc;
	dt_put32(p + n, DT_CTRL_STACK_TOP);
	n += 4;
	p[n++] = 0x9c;
	p[n++] = 0xff;
	p[n++] = 0x25;
	dt_put32(p + n, DT_CTRL_BASE + DT_CTRL_DONE);
	n += 4;
	return n;
}

/* The same for 16-bit code (dt_abi.h): 66 = 32-bit operand, 67 = 32-bit
 * address, 36 = SS, the flat segment. mov esp, imm32; popfd;
 * mov esp, ss:[abs32] */
static void put_prologue16(uint8_t *p)
{
	static const uint8_t head[] = { 0x66, 0xbc };
	static const uint8_t load[] = { 0x66, 0x9d, 0x36, 0x67, 0x66, 0x8b, 0x25 };
	copy(p, head, sizeof(head));
	dt_put32(p + 2, DT_CTRL_BASE + DT_CTRL_EFLAGS_IN);
	copy(p + 6, load, sizeof(load));
	dt_put32(p + 13, DT_CTRL_BASE + DT_CTRL_ESP_IN);
}

/* mov ss:[abs32], r32 for the eight GPRs; mov esp, imm32; pushfd;
 * jmp far ss:[abs32] (m16:32). */
static uint32_t put_epilogue16(uint8_t *p)
{
	uint32_t n = 0;
	for (uint32_t r = 0; r < 8; r++) {
		p[n++] = 0x36;
		p[n++] = 0x67;
		p[n++] = 0x66;
		p[n++] = 0x89;
		p[n++] = (uint8_t)(0x05 | r << 3);
		dt_put32(p + n, DT_CTRL_BASE + DT_CTRL_GPR + 4 * r);
		n += 4;
	}
	p[n++] = 0x66;
	p[n++] = 0xbc;
	dt_put32(p + n, DT_CTRL_STACK_TOP);
	n += 4;
	p[n++] = 0x66;
	p[n++] = 0x9c;
	p[n++] = 0x36;
	p[n++] = 0x67;
	p[n++] = 0x66;
	p[n++] = 0xff;
	p[n++] = 0x2d;
	dt_put32(p + n, DT_CTRL_BASE + DT_CTRL_DONE_FAR);
	n += 4;
	return n;
}

/* Validates the record at offset off; returns it or NULL. */
static const struct dt_rec *record_at(const uint8_t *batch, uint32_t len, uint32_t off)
{
	if (off > len || len - off < sizeof(struct dt_rec))
		return NULL;
	const struct dt_rec *r = (const struct dt_rec *)(batch + off);
	if (r->size < sizeof(*r) || r->size > len - off || (r->size & 3) ||
	    r->nunits > DT_MAX_UNITS || r->code_len > DT_MAX_CODE || r->nmask > DT_MAX_MASKS ||
	    dt_rec_size(r->nunits, r->nmask, r->code_len) != r->size)
		return NULL;
	return r;
}

static void restore_range(uint32_t lin, uint32_t n, uint32_t flags)
{
	for (uint32_t i = 0; i < n; i++) {
		int32_t off = dt_img_offset(lin + i, 1, flags);
		if (off >= 0)
			img_final[off] = img_init[off];
	}
}

static void print_result(const struct dt_env *env, uint32_t id)
{
	uint32_t n = 0;
	line[n++] = 'R';
	line[n++] = ' ';
	n += put_hex(line + n, id);
	uint32_t i = 0;
	while (i < DT_IMG_SIZE) {
		if (img_init[i] == img_final[i]) {
			i++;
			continue;
		}
		/* a run of differing bytes, bridging gaps of up to 3 equal bytes */
		uint32_t end = i + 1, last = i;
		while (end < DT_IMG_SIZE && end - last <= 4) {
			if (img_init[end] != img_final[end])
				last = end;
			end++;
		}
		line[n++] = ' ';
		n += put_hex(line + n, i);
		line[n++] = ':';
		for (uint32_t k = i; k <= last; k++) {
			static const char digits[] = "0123456789abcdef";
			line[n++] = digits[img_final[k] >> 4];
			line[n++] = digits[img_final[k] & 15];
		}
		i = last + 1;
	}
	line[n++] = '\n';
	env->write(line, n);
}

int dt_run_batch(const struct dt_env *env, const uint8_t *batch, uint32_t len, uint32_t start)
{
	const struct dt_batch_hdr *h = (const struct dt_batch_hdr *)batch;
	if (len < sizeof(*h) || h->magic != DT_MAGIC || h->version != DT_VERSION) {
		put_str(env, "DT-ERROR bad batch header\n");
		return -1;
	}
	uint32_t flags = h->flags;

	/* Pass 1: every sequence's code goes in before any runs, so nothing
	 * writes to code that has run (no self-modifying code). */
	uint32_t off = sizeof(*h), cp = DT_CODE_BASE;
	for (uint32_t i = 0; i < h->count; i++) {
		const struct dt_rec *r = record_at(batch, len, off);
		if (!r) {
			put_line_num(env, "DT-ERROR bad record ", i);
			return -1;
		}
		off += r->size;
		if (i < start)
			continue;
		uint32_t slot = dt_code_slot(r->code_len, flags), pro = dt_prologue_len(flags);
		cp = dt_code_place(cp, slot, flags);
		if (cp + slot > DT_CODE_BASE + DT_CODE_SIZE) {
			put_line_num(env, "DT-ERROR code area full at record ", i);
			return -1;
		}
		uint8_t *code = (uint8_t *)(uintptr_t)cp;
		if (flags & DT_BATCH_CODE16)
			put_prologue16(code);
		else
			put_prologue(code);
		copy(code + pro, dt_rec_code(r), r->code_len);
		if (flags & DT_BATCH_CODE16)
			put_epilogue16(code + pro + r->code_len);
		else
			put_epilogue(code + pro + r->code_len);
		cp += slot;
	}

	put_line_num(env, "DT-BEGIN ", h->count - (start < h->count ? start : h->count));
	off = sizeof(*h);
	cp = DT_CODE_BASE;
	uint32_t cs16_base = 0;
	bool cs16_set = false;
	volatile uint8_t *ctrl = (volatile uint8_t *)(uintptr_t)DT_CTRL_BASE;
	for (uint32_t i = 0; i < h->count; i++) {
		const struct dt_rec *r = (const struct dt_rec *)(batch + off);
		off += r->size;
		if (i < start)
			continue;
		uint32_t slot = dt_code_slot(r->code_len, flags), pro = dt_prologue_len(flags);
		cp = dt_code_place(cp, slot, flags);
		uint32_t base = (flags & DT_BATCH_CODE16) ? cp & ~0xffffu : 0;
		if ((flags & DT_BATCH_CODE16) && (!cs16_set || base != cs16_base)) {
			if (!env->set_code16_base || env->set_code16_base(base)) {
				put_str(env, "DT-ERROR cannot set the 16-bit code segment's base\n");
				return -1;
			}
			cs16_base = base;
			cs16_set = true;
		}

		dt_init_image(img_init, h, r);
		copy((uint8_t *)(uintptr_t)DT_DATA_BASE, img_init + DT_IMG_DATA, DT_DATA_SIZE);
		if (flags & DT_BATCH_LOW)
			copy((uint8_t *)(uintptr_t)DT_LOW_BASE, img_init + DT_IMG_LOW, DT_LOW_SIZE);
		copy(fxin, img_init + DT_IMG_FX, sizeof(fxin));

		struct dt_run run;
		for (int k = 0; k < 8; k++)
			run.gpr[k] = r->gpr[k];
		run.eflags = r->eflags;
		run.fx = (uint32_t)(uintptr_t)fxin;
		run.fs = env->fs_sel;
		run.gs = env->gs_sel;
		run.pad = 0;
		run.entry = cp - base;
		run.ds = (flags & DT_BATCH_CODE16) ? env->fs_sel : 0;
		run.cs16 = (flags & DT_BATCH_CODE16) ? env->code16_sel : 0;
		for (int k = 0; k < 48; k++)
			ctrl[k] = 0;
		int faulted = dt_run_seq(&run);

		copy(img_final, img_init, DT_IMG_SIZE);
		for (int k = 0; k < 8; k++)
			dt_put32(img_final + DT_IMG_GPR + 4 * k, *(volatile uint32_t *)(ctrl + 4 * k));
		dt_put32(img_final + DT_IMG_EFLAGS, *(volatile uint32_t *)(ctrl + DT_CTRL_EFLAGS));
		if (faulted) {
			dt_put32(img_final + DT_IMG_VEC, *(volatile uint32_t *)(ctrl + DT_CTRL_VEC));
			dt_put32(img_final + DT_IMG_ERR, *(volatile uint32_t *)(ctrl + DT_CTRL_ERR));
			dt_put32(img_final + DT_IMG_EIP,
				 *(volatile uint32_t *)(ctrl + DT_CTRL_EIP) + base - (cp + pro));
		}
		copy(img_final + DT_IMG_FX, dt_fxout, DT_FX_USED);
		copy(img_final + DT_IMG_DATA, (const uint8_t *)(uintptr_t)DT_DATA_BASE, DT_DATA_SIZE);
		if (flags & DT_BATCH_LOW)
			copy(img_final + DT_IMG_LOW, (const uint8_t *)(uintptr_t)DT_LOW_BASE, DT_LOW_SIZE);
		/* A guest exception frame lands just below ESP (a native signal
		 * frame goes to the alternate stack): not part of the result. */
		if (faulted)
			restore_range(*(volatile uint32_t *)(ctrl + 16) - 16, 16, flags);
		const struct dt_mask *m = dt_rec_masks(r);
		for (uint32_t k = 0; k < r->nmask; k++) {
			for (uint32_t b = m[k].off; b < (uint32_t)m[k].off + m[k].len && b < DT_IMG_SIZE; b++)
				img_final[b] = (uint8_t)((img_final[b] & ~m[k].bits) | (img_init[b] & m[k].bits));
		}
		print_result(env, r->id);
		cp += slot;
	}
	put_str(env, "DT-END\n");
	return 0;
}
