/* The ICH AC'97 audio controller and its codec: see ac97.h. */
#include "devices/ac97.h"

#include <errno.h>
#include <string.h>

#include "host/snapfile.h"

#define NS_PER_S 1000000000ull
/* A box brought forward by more than this at once (an update that came
 * very late) moves only this much: the host would drop the rest anyway. */
#define MAX_CATCH_UP_NS NS_PER_S

/* Gain in 1/65536ths for k 1.5 dB steps below 0 dB, k from -8 (+12 dB,
 * PCM out's most) to 63: round(65536 * 10^(-1.5 k / 20)). */
static const uint32_t gain_q16[72] = {
	260904, 219523, 184706, 155410, 130762, 110022, 92572, 77890,
	65536, 55142, 46396, 39037, 32846, 27636, 23253, 19565,
	16462, 13851, 11654, 9806, 8250, 6942, 5841, 4915,
	4135, 3479, 2927, 2463, 2072, 1744, 1467, 1234,
	1039, 874, 735, 619, 521, 438, 369, 310,
	261, 220, 185, 155, 131, 110, 93, 78,
	66, 55, 46, 39, 33, 28, 23, 20,
	16, 14, 12, 10, 8, 7, 6, 5,
	4, 3, 3, 2, 2, 2, 1, 1,
};

/* ---- The codec ------------------------------------------------------------ */

static uint16_t *mixer_reg(struct ac97 *a, unsigned reg)
{
	return &a->mixer[(reg & (AC97_NAM_SIZE - 1)) / 2];
}

static void codec_reset(struct ac97 *a)
{
	static const struct {
		uint8_t reg;
		uint16_t value;
	} defaults[] = {
		{ AC97_MASTER, 0x8000 },     { AC97_AUX_OUT, 0x8000 },   { AC97_MONO, 0x8000 },
		{ AC97_PHONE, 0x8008 },      { AC97_MIC, 0x8008 },       { AC97_LINE, 0x8808 },
		{ AC97_CD, 0x8808 },         { AC97_VIDEO, 0x8808 },     { AC97_AUX, 0x8808 },
		{ AC97_PCM_OUT, 0x8808 },    { AC97_REC_GAIN, 0x8000 },  { AC97_POWERDOWN, 0x000f },
		{ AC97_EXT_ID, 0x0809 },     { AC97_FRONT_RATE, 48000 }, { AC97_ADC_RATE, 48000 },
		{ AC97_MIC_RATE, 48000 },    { AC97_VENDOR_ID1, 0x8384 }, { AC97_VENDOR_ID2, 0x7600 },
	};
	memset(a->mixer, 0, sizeof(a->mixer));
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		*mixer_reg(a, defaults[i].reg) = defaults[i].value;
}

/* A 5-bit attenuation field that was written with its sixth bit set
 * reads all ones (AC'97 2.3 section 5.7.2, for parts without it). */
static uint16_t five_bit_fields(uint16_t v)
{
	if (v & 0x2000)
		v |= 0x1f00;
	if (v & 0x0020)
		v |= 0x001f;
	return v;
}

/* A variable rate the codec takes: the nearest in 8-48 kHz. */
static uint16_t clamp_rate(uint16_t v)
{
	return v < AC97_RATE_MIN ? AC97_RATE_MIN : v > AC97_RATE_MAX ? AC97_RATE_MAX : v;
}

static void codec_write(struct ac97 *a, unsigned reg, uint16_t v)
{
	uint16_t *r = mixer_reg(a, reg);
	uint16_t ext = *mixer_reg(a, AC97_EXT_STATUS);

	switch (reg) {
	case AC97_RESET:
		codec_reset(a);
		return;
	case AC97_MASTER:
	case AC97_AUX_OUT:
		*r = five_bit_fields(v) & 0x9f1f;
		return;
	case AC97_MONO:
		*r = five_bit_fields(v) & 0x801f;
		return;
	case AC97_BEEP:
		*r = v & 0x801e;
		return;
	case AC97_PHONE:
		*r = v & 0x801f;
		return;
	case AC97_MIC:
		*r = v & 0x805f;
		return;
	case AC97_LINE:
	case AC97_CD:
	case AC97_VIDEO:
	case AC97_AUX:
	case AC97_PCM_OUT:
		*r = v & 0x9f1f;
		return;
	case AC97_REC_SELECT:
		*r = v & 0x0707;
		return;
	case AC97_REC_GAIN:
		*r = v & 0x8f0f;
		return;
	case AC97_GENERAL:
		*r = v & 0xb380;
		return;
	case AC97_POWERDOWN:
		/* The power-down requests are kept; every part stays ready. */
		*r = (uint16_t)((v & 0xff00) | 0x000f);
		return;
	case AC97_EXT_STATUS:
		*r = v & (AC97_EXT_VRA | AC97_EXT_VRM);
		/* Variable rates turned off: back to the fixed 48 kHz. */
		if (!(v & AC97_EXT_VRA)) {
			*mixer_reg(a, AC97_FRONT_RATE) = AC97_RATE_MAX;
			*mixer_reg(a, AC97_ADC_RATE) = AC97_RATE_MAX;
		}
		if (!(v & AC97_EXT_VRM))
			*mixer_reg(a, AC97_MIC_RATE) = AC97_RATE_MAX;
		return;
	case AC97_FRONT_RATE:
	case AC97_ADC_RATE:
		if (ext & AC97_EXT_VRA)
			*r = clamp_rate(v);
		return;
	case AC97_MIC_RATE:
		if (ext & AC97_EXT_VRM)
			*r = clamp_rate(v);
		return;
	default:
		/* Read-only (IDs) or absent (reads 0). */
		return;
	}
}

uint32_t ac97_gain_q16(const struct ac97 *a, unsigned channel)
{
	uint16_t master = a->mixer[AC97_MASTER / 2], pcm = a->mixer[AC97_PCM_OUT / 2];
	unsigned shift = channel ? 0 : 8;

	if ((master | pcm) & AC97_MUTE)
		return 0;
	/* Master: 0 dB down to -46.5 dB; PCM out: +12 dB (0) to -34.5 dB,
	 * 0 dB at 8. The table starts at +12 dB. */
	unsigned k = ((master >> shift) & 0x1f) + ((pcm >> shift) & 0x1f);
	return gain_q16[k];
}

/* ---- Interrupts ----------------------------------------------------------- */

static bool box_irq(const struct ac97_box *x)
{
	return ((x->sr & AC97_SR_LVBCI) && (x->cr & AC97_CR_LVBIE)) ||
	       ((x->sr & AC97_SR_BCIS) && (x->cr & AC97_CR_IOCE)) ||
	       ((x->sr & AC97_SR_FIFOE) && (x->cr & AC97_CR_FEIE));
}

static void update_irq(struct ac97 *a)
{
	bool level = false;
	for (unsigned b = 0; b < AC97_BOXES; b++)
		level |= box_irq(&a->box[b]);
	if (level && !a->irq_level)
		a->stats.interrupts++;
	a->irq_level = level;
	pci_function_set_irq(&a->pci, level);
}

static uint32_t glob_sta(const struct ac97 *a)
{
	static const uint32_t box_bit[AC97_BOXES] = { AC97_GS_PIINT, AC97_GS_POINT, AC97_GS_MINT };
	uint32_t v = a->glob_sta;

	/* The codec is ready whenever the link is out of cold reset. */
	if (a->glob_cnt & AC97_GC_COLD)
		v |= AC97_GS_PCR;
	for (unsigned b = 0; b < AC97_BOXES; b++)
		if (box_irq(&a->box[b]))
			v |= box_bit[b];
	return v;
}

/* ---- The bus master ------------------------------------------------------- */

static unsigned box_rate(const struct ac97 *a, unsigned b)
{
	static const uint8_t rate_reg[AC97_BOXES] = { AC97_ADC_RATE, AC97_FRONT_RATE, AC97_MIC_RATE };
	unsigned rate = a->mixer[rate_reg[b] / 2];
	return rate < AC97_RATE_MIN || rate > AC97_RATE_MAX ? AC97_RATE_MAX : rate;
}

static bool box_running(const struct ac97_box *x)
{
	return (x->cr & AC97_CR_RPBM) && !(x->sr & AC97_SR_DCH);
}

static void box_halt(struct ac97 *a, unsigned b, uint16_t why)
{
	struct ac97_box *x = &a->box[b];
	x->sr |= why | AC97_SR_DCH;
	if (b == AC97_PO && a->host.stop)
		a->host.stop(a->host.opaque);
}

/* Loads the descriptor at CIV. One outside guest RAM stops the box with
 * FIFOE: returns false. */
static bool fetch_bd(struct ac97 *a, unsigned b)
{
	struct ac97_box *x = &a->box[b];
	const uint8_t *e = guest_ram_ptr(a->ram, (uint64_t)x->bdbar + 8u * x->civ, 8);

	if (!e) {
		a->stats.dma_errors++;
		x->picb = 0;
		box_halt(a, b, AC97_SR_FIFOE);
		return false;
	}
	uint32_t addr, ctl;
	memcpy(&addr, e, 4);
	memcpy(&ctl, e + 4, 4);
	x->addr = addr & ~1u;
	x->ctl = ctl;
	x->picb = (uint16_t)ctl;
	return true;
}

/* Starts the box on the buffer PIV names (a start, or a list grown past
 * where it had stopped). */
static void box_start(struct ac97 *a, unsigned b, uint64_t now)
{
	struct ac97_box *x = &a->box[b];
	x->sr &= (uint16_t)~AC97_SR_DCH;
	x->civ = x->piv;
	x->piv = (x->piv + 1) % AC97_BDL_ENTRIES;
	x->last_ns = now;
	x->frac = 0;
	fetch_bd(a, b);
}

/* The current buffer has ended: its interrupt, then the next buffer or
 * the stop at the last valid one. */
static void buffer_end(struct ac97 *a, unsigned b)
{
	struct ac97_box *x = &a->box[b];

	if (b == AC97_PO)
		a->stats.buffers++;
	if (x->ctl & AC97_BD_IOC)
		x->sr |= AC97_SR_BCIS;
	if (x->civ == x->lvi) {
		x->picb = 0;
		box_halt(a, b, AC97_SR_LVBCI);
		return;
	}
	x->civ = x->piv;
	x->piv = (x->piv + 1) % AC97_BDL_ENTRIES;
	fetch_bd(a, b);
}

/* n frames of the current buffer to the host (PCM out) or silence into
 * it (the inputs). Returns false when the buffer is not all RAM. */
static bool move_frames(struct ac97 *a, unsigned b, unsigned n)
{
	struct ac97_box *x = &a->box[b];
	uint64_t len = (uint64_t)n * 4;

	if (b != AC97_PO) {
		static const uint8_t zeros[AC97_CHUNK_FRAMES_MAX * 4];
		if (!guest_ram_contains(a->ram, x->addr, len))
			return false;
		guest_ram_dma_write(a->ram, x->addr, zeros, len);
		guest_ram_written(a->ram, x->addr, len);
		if (a->host.guest_written)
			a->host.guest_written(a->host.opaque, x->addr, len);
		return true;
	}
	const uint8_t *src = guest_ram_ptr(a->ram, x->addr, len);
	if (!src)
		return false;
	int16_t out[AC97_CHUNK_FRAMES_MAX * 2];
	uint32_t gain[2] = { ac97_gain_q16(a, 0), ac97_gain_q16(a, 1) };
	for (unsigned i = 0; i < n * 2; i++) {
		int16_t s;
		memcpy(&s, src + 2 * i, 2);
		int64_t v = ((int64_t)s * gain[i & 1]) >> 16;
		out[i] = (int16_t)(v > INT16_MAX ? INT16_MAX : v < INT16_MIN ? INT16_MIN : v);
	}
	a->stats.frames += n;
	if (a->host.play)
		a->host.play(a->host.opaque, out, n, box_rate(a, b));
	return true;
}

static void box_update(struct ac97 *a, unsigned b, uint64_t now)
{
	struct ac97_box *x = &a->box[b];

	if (!box_running(x)) {
		x->last_ns = now;
		x->frac = 0;
		return;
	}
	if (now <= x->last_ns)
		return;
	uint64_t elapsed = now - x->last_ns;
	if (elapsed > MAX_CATCH_UP_NS)
		elapsed = MAX_CATCH_UP_NS;
	uint64_t acc = x->frac + elapsed * box_rate(a, b);
	uint64_t frames = acc / NS_PER_S;
	x->frac = acc % NS_PER_S;
	x->last_ns = now;
	/* At most one lap of the list ends per update: a list of empty
	 * buffers takes a lap a frame, never a loop. */
	unsigned ends = 0;
	while (box_running(x)) {
		if (x->picb < 2) {
			if (ends++ == AC97_BDL_ENTRIES)
				break;
			buffer_end(a, b);
			continue;
		}
		if (!frames)
			break;
		unsigned n = x->picb / 2;
		if (n > frames)
			n = (unsigned)frames;
		if (n > AC97_CHUNK_FRAMES_MAX)
			n = AC97_CHUNK_FRAMES_MAX;
		if (!move_frames(a, b, n)) {
			a->stats.dma_errors++;
			box_halt(a, b, AC97_SR_FIFOE);
			break;
		}
		x->picb = (uint16_t)(x->picb - 2 * n);
		x->addr += 4 * n;
		frames -= n;
	}
}

void ac97_update(struct ac97 *a, uint64_t now_ns)
{
	for (unsigned b = 0; b < AC97_BOXES; b++)
		box_update(a, b, now_ns);
	update_irq(a);
}

uint64_t ac97_next_event_ns(const struct ac97 *a, uint64_t now_ns)
{
	uint64_t next = UINT64_MAX;

	for (unsigned b = 0; b < AC97_BOXES; b++) {
		const struct ac97_box *x = &a->box[b];
		if (!box_running(x))
			continue;
		unsigned rate = box_rate(a, b);
		/* An empty buffer ends a frame's time on (see box_update). */
		uint64_t frames = x->picb < 2 ? 1 : x->picb / 2;
		if (b == AC97_PO && frames > rate / 100)
			frames = rate / 100;
		uint64_t need = frames * NS_PER_S;
		need = need > x->frac ? need - x->frac : 0;
		uint64_t at = x->last_ns + (need + rate - 1) / rate;
		if (at < next)
			next = at;
	}
	return next < now_ns ? now_ns : next;
}

static void box_reset(struct ac97 *a, unsigned b)
{
	struct ac97_box *x = &a->box[b];
	bool was_running = b == AC97_PO && box_running(x);

	memset(x, 0, sizeof(*x));
	x->sr = AC97_SR_DCH;
	if (was_running && a->host.stop)
		a->host.stop(a->host.opaque);
}

/* ---- Registers ------------------------------------------------------------ */

/* A bus master register: its offset and size in bytes. */
struct reg {
	unsigned off, size;
};

static bool find_reg(unsigned off, struct reg *r)
{
	static const struct reg box_regs[] = {
		{ AC97_BDBAR, 4 }, { AC97_CIV, 1 }, { AC97_LVI, 1 }, { AC97_SR, 2 },
		{ AC97_PICB, 2 },  { AC97_PIV, 1 }, { AC97_CR, 1 },
	};
	static const struct reg glob_regs[] = {
		{ AC97_GLOB_CNT, 4 }, { AC97_GLOB_STA, 4 }, { AC97_CAS, 1 },
	};
	if (off < AC97_GLOB_CNT) {
		for (size_t i = 0; i < sizeof(box_regs) / sizeof(box_regs[0]); i++) {
			unsigned s = (off & ~0xfu) + box_regs[i].off;
			if (off >= s && off < s + box_regs[i].size) {
				*r = (struct reg){ s, box_regs[i].size };
				return true;
			}
		}
		return false;
	}
	for (size_t i = 0; i < sizeof(glob_regs) / sizeof(glob_regs[0]); i++) {
		if (off >= glob_regs[i].off && off < glob_regs[i].off + glob_regs[i].size) {
			*r = glob_regs[i];
			return true;
		}
	}
	return false;
}

static uint32_t nabm_reg_read(const struct ac97 *a, unsigned off)
{
	if (off >= AC97_GLOB_CNT) {
		switch (off) {
		case AC97_GLOB_CNT:
			return a->glob_cnt;
		case AC97_GLOB_STA:
			return glob_sta(a);
		default:
			return 0;	/* CAS: no codec access is ever in progress */
		}
	}
	const struct ac97_box *x = &a->box[off / 0x10];
	switch (off & 0xf) {
	case AC97_BDBAR:
		return x->bdbar;
	case AC97_CIV:
		return x->civ;
	case AC97_LVI:
		return x->lvi;
	case AC97_SR:
		return x->sr | (x->civ == x->lvi ? AC97_SR_CELV : 0);
	case AC97_PICB:
		return x->picb;
	case AC97_PIV:
		return x->piv;
	default:
		return x->cr;
	}
}

static void cr_write(struct ac97 *a, unsigned b, uint8_t v, uint64_t now)
{
	struct ac97_box *x = &a->box[b];

	if (v & AC97_CR_RR) {
		/* The box's registers back to their reset values. */
		uint8_t cr = x->cr & (uint8_t)~AC97_CR_RPBM;
		box_reset(a, b);
		x->cr = cr & (AC97_CR_LVBIE | AC97_CR_FEIE | AC97_CR_IOCE);
		return;
	}
	bool was = x->cr & AC97_CR_RPBM, played = box_running(x);
	x->cr = v & AC97_CR_MASK;
	if (!was && (x->cr & AC97_CR_RPBM)) {
		box_start(a, b, now);
	} else if (was && !(x->cr & AC97_CR_RPBM)) {
		/* Paused: the box halts where it is and goes on from there. */
		x->sr |= AC97_SR_DCH;
		if (played && b == AC97_PO && a->host.stop)
			a->host.stop(a->host.opaque);
	}
}

static void nabm_reg_write(struct ac97 *a, unsigned off, uint32_t v, uint64_t now)
{
	if (off >= AC97_GLOB_CNT) {
		if (off == AC97_GLOB_CNT) {
			bool was_cold = !(a->glob_cnt & AC97_GC_COLD);
			/* The warm reset completes at once: the bit reads 0. */
			a->glob_cnt = v & AC97_GC_MASK & ~AC97_GC_WARM;
			if (was_cold && (v & AC97_GC_COLD))
				codec_reset(a);
		} else if (off == AC97_GLOB_STA) {
			a->glob_sta &= ~(v & AC97_GS_W1C);
		}
		return;
	}
	unsigned b = off / 0x10;
	struct ac97_box *x = &a->box[b];
	switch (off & 0xf) {
	case AC97_BDBAR:
		x->bdbar = v & ~7u;
		break;
	case AC97_LVI:
		x->lvi = v % AC97_BDL_ENTRIES;
		/* A box that stopped at the last valid buffer goes on when the
		 * list grows while it is still told to run. */
		if ((x->cr & AC97_CR_RPBM) && (x->sr & AC97_SR_DCH) && !(x->sr & AC97_SR_FIFOE))
			box_start(a, b, now);
		break;
	case AC97_SR:
		x->sr &= (uint16_t)~(v & AC97_SR_W1C);
		break;
	case AC97_CR:
		cr_write(a, b, (uint8_t)v, now);
		break;
	default:
		break;	/* CIV, PICB, PIV are read-only */
	}
}

static uint64_t nabm_read(void *opaque, uint64_t offset, unsigned width)
{
	struct ac97 *a = opaque;
	uint64_t v = 0;

	ac97_update(a, a->host.clock_ns(a->host.opaque));
	for (unsigned i = 0; i < width; i++) {
		struct reg r;
		unsigned off = (unsigned)offset + i;
		if (find_reg(off, &r))
			v |= (uint64_t)((nabm_reg_read(a, r.off) >> (8 * (off - r.off))) & 0xff) << (8 * i);
	}
	return v;
}

static void nabm_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct ac97 *a = opaque;
	uint64_t now = a->host.clock_ns(a->host.opaque);

	ac97_update(a, now);
	for (unsigned i = 0; i < width;) {
		struct reg r;
		unsigned off = (unsigned)offset + i;
		if (!find_reg(off, &r)) {
			i++;
			continue;
		}
		/* The bytes of the register this access covers, merged into its
		 * value (write-1-to-clear bits not written stay as they are:
		 * 0 there clears nothing). */
		bool w1c = r.off == AC97_GLOB_STA || (r.off < AC97_GLOB_CNT && (r.off & 0xf) == AC97_SR);
		uint32_t cur = w1c ? 0 : nabm_reg_read(a, r.off);
		unsigned first = off - r.off;
		unsigned n = r.size - first;
		if (n > width - i)
			n = width - i;
		for (unsigned k = 0; k < n; k++) {
			uint32_t byte = (uint32_t)(value >> (8 * (i + k))) & 0xff;
			cur = (cur & ~(0xffu << (8 * (first + k)))) | byte << (8 * (first + k));
		}
		nabm_reg_write(a, r.off, cur, now);
		i += n;
	}
	update_irq(a);
	if (a->host.deadline_changed)
		a->host.deadline_changed(a->host.opaque);
}

static uint64_t nam_read(void *opaque, uint64_t offset, unsigned width)
{
	struct ac97 *a = opaque;
	uint64_t v = 0;

	for (unsigned i = 0; i < width; i++) {
		unsigned off = (unsigned)offset + i;
		v |= (uint64_t)((*mixer_reg(a, off) >> (8 * (off & 1))) & 0xff) << (8 * i);
	}
	return v;
}

static void nam_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct ac97 *a = opaque;

	/* What was played so far at the old volume and rate. */
	ac97_update(a, a->host.clock_ns(a->host.opaque));
	for (unsigned i = 0; i < width;) {
		unsigned off = (unsigned)offset + i;
		unsigned reg = off & ~1u;
		uint16_t cur = *mixer_reg(a, reg);
		if (off & 1 || width - i == 1) {
			unsigned sh = 8 * (off & 1);
			cur = (uint16_t)((cur & ~(0xffu << sh)) | ((value >> (8 * i)) & 0xff) << sh);
			i++;
		} else {
			cur = (uint16_t)(value >> (8 * i));
			i += 2;
		}
		codec_write(a, reg, cur);
	}
	if (a->host.deadline_changed)
		a->host.deadline_changed(a->host.opaque);
}

static const struct bus_ops nam_ops = { .read = nam_read, .write = nam_write, .max_width = 4 };
static const struct bus_ops nabm_ops = { .read = nabm_read, .write = nabm_write, .max_width = 4 };

/* ---- The PCI function ----------------------------------------------------- */

static const struct pci_id ac97_id = {
	.vendor = AC97_VENDOR,
	.device = AC97_DEVICE,
	.revision = 0x01,
	.class_code = AC97_CLASS,
	/* QEMU's subsystem: Linux's intel8x0 knows it (no clock quirk). */
	.subsystem_vendor = 0x8086,
	.subsystem = 0x0000,
};

static void bar_mapped(void *opaque, unsigned bar, uint64_t addr)
{
	struct ac97 *a = opaque;

	if (bar == AC97_NAM_BAR)
		pci_region_place(&a->nam_region, addr);
	else if (bar == AC97_NABM_BAR)
		pci_region_place(&a->nabm_region, addr);
}

int ac97_attach(struct ac97 *a, uint8_t devfn, const struct guest_ram *ram, struct bus *bus,
		const struct ac97_host *host)
{
	if (!host->clock_ns)
		return -EINVAL;
	memset(a, 0, sizeof(*a));
	a->ram = ram;
	a->host = *host;
	pci_function_init(&a->pci, devfn, &ac97_id);
	int err = pci_function_add_bar(&a->pci, AC97_NAM_BAR, PCI_BAR_IO, AC97_NAM_SIZE);
	if (!err)
		err = pci_function_add_bar(&a->pci, AC97_NABM_BAR, PCI_BAR_IO, AC97_NABM_SIZE);
	if (err)
		return err;
	pci_function_set_pin(&a->pci, PCI_PIN_INTA);
	a->pci.bar_mapped = bar_mapped;
	a->pci.opaque = a;
	pci_region_init(&a->nam_region, bus, BUS_SPACE_PIO, "ac97-mixer", AC97_NAM_SIZE, &nam_ops,
			a);
	pci_region_init(&a->nabm_region, bus, BUS_SPACE_PIO, "ac97-busmaster", AC97_NABM_SIZE,
			&nabm_ops, a);
	a->attached = true;
	ac97_reset(a);
	return 0;
}

void ac97_reset(struct ac97 *a)
{
	if (!a->attached)
		return;
	for (unsigned b = 0; b < AC97_BOXES; b++)
		box_reset(a, b);
	a->glob_cnt = 0;
	a->glob_sta = 0;
	codec_reset(a);
	update_irq(a);
}

void ac97_close(struct ac97 *a)
{
	if (!a->attached)
		return;
	pci_region_place(&a->nam_region, PCI_BAR_UNMAPPED);
	pci_region_place(&a->nabm_region, PCI_BAR_UNMAPPED);
	a->attached = false;
}

/* ---- Snapshots ------------------------------------------------------------ */

#define AC97_SNAP_VERSION 1u

void ac97_save(const struct ac97 *a, struct snap_writer *w)
{
	snapw_begin(w, "AC97", AC97_SNAP_VERSION, false);
	pci_function_save(&a->pci, w);
	for (unsigned i = 0; i < AC97_NAM_SIZE / 2; i++)
		snapw_u16(w, a->mixer[i]);
	for (unsigned b = 0; b < AC97_BOXES; b++) {
		const struct ac97_box *x = &a->box[b];
		snapw_u32(w, x->bdbar);
		snapw_u8(w, x->civ);
		snapw_u8(w, x->lvi);
		snapw_u8(w, x->piv);
		snapw_u16(w, x->sr);
		snapw_u16(w, x->picb);
		snapw_u8(w, x->cr);
		snapw_u32(w, x->addr);
		snapw_u32(w, x->ctl);
		snapw_u64(w, x->last_ns);
		snapw_u64(w, x->frac);
	}
	snapw_u32(w, a->glob_cnt);
	snapw_u32(w, a->glob_sta);
	snapw_end(w);
}

int ac97_load(struct ac97 *a, struct snap_reader *r)
{
	if (r->version != AC97_SNAP_VERSION)
		return snapr_fail(r, "version %u, this btvm reads %u", r->version, AC97_SNAP_VERSION);
	pci_function_load(&a->pci, r);
	for (unsigned i = 0; i < AC97_NAM_SIZE / 2; i++)
		a->mixer[i] = snapr_u16(r);
	for (unsigned b = 0; b < AC97_BOXES; b++) {
		struct ac97_box *x = &a->box[b];
		x->bdbar = snapr_u32(r) & ~7u;
		x->civ = snapr_u8(r) % AC97_BDL_ENTRIES;
		x->lvi = snapr_u8(r) % AC97_BDL_ENTRIES;
		x->piv = snapr_u8(r) % AC97_BDL_ENTRIES;
		x->sr = snapr_u16(r) & (AC97_SR_W1C | AC97_SR_DCH);
		x->picb = snapr_u16(r);
		x->cr = snapr_u8(r) & AC97_CR_MASK;
		x->addr = snapr_u32(r);
		x->ctl = snapr_u32(r);
		x->last_ns = snapr_u64(r);
		x->frac = snapr_u64(r) % NS_PER_S;
	}
	a->glob_cnt = snapr_u32(r) & AC97_GC_MASK;
	a->glob_sta = snapr_u32(r) & AC97_GS_W1C;
	update_irq(a);
	return snapr_end(r);
}
