/* An Intel 82801AA (ICH) AC'97 audio controller, PCI 8086:2415, class
 * 0401 (multimedia audio), with one AC'97 2.3 codec behind it: what
 * Linux's snd-intel8x0 (with snd-ac97-codec), Windows 2000/XP's own
 * driver and the BSDs' ich/ICH drivers take without extra software.
 *
 * BAR0, 256 ports of I/O: the native audio mixer (NAM), the codec's
 * registers (16-bit; a dword access is two registers, bytes of one are
 * read from and merged into it). Values at reset (AC'97 2.3 section 5.7):
 *   0x00 reset           0x0000 (no tone, bass, 3D, headphone; a write
 *                        of anything resets the codec's registers)
 *   0x02 master volume   0x8000 (muted, 0 dB); 5-bit attenuation per
 *                        side, a 1 in bit 5 (13) reading back as 0x1f
 *                        as the specification has it for 5-bit parts
 *   0x04 aux out, 0x06 mono out, 0x1c record gain: 0x8000
 *   0x0c phone, 0x0e mic 0x8008; 0x10-0x18 line, CD, video, aux, PCM
 *                        out 0x8808 (muted, 0 dB gain: 5 bits of +12 to
 *                        -34.5 dB in 1.5 dB steps)
 *   0x26 powerdown       0x000f: ADC, DAC, analog and reference ready
 *   0x28 ext. audio ID   0x0809: VRA and VRM, AC'97 2.3
 *   0x2a ext. status     VRA (bit 0) and VRM (bit 3) writable, DAC and
 *                        ADC ready bits read 1
 *   0x2c PCM front DAC rate, 0x32 PCM ADC rate, 0x34 mic ADC rate:
 *                        48000; 8000-48000 Hz taken while VRA (VRM for
 *                        the mic) is on, else they read 48000
 *   0x7c/0x7e vendor     SigmaTel STAC9700 (0x8384, 0x7600), as QEMU's
 * Other registers read 0 and drop writes (the optional ones absent).
 *
 * BAR1, 64 ports of I/O: the native audio bus master (NABM): three
 * boxes, PCM in at 0x00, PCM out at 0x10, mic at 0x20, each with BDBAR
 * (+0, 32-bit, 8-byte aligned), CIV (+4, read-only), LVI (+5), SR (+6:
 * DCH, CELV read-only; LVBCI, BCIS, FIFOE write 1 to clear), PICB (+8,
 * samples left in the current buffer, read-only), PIV (+0xa, read-only),
 * CR (+0xb: RPBM run, RR reset, LVBIE, FEIE, IOCE); GLOB_CNT (0x2c),
 * GLOB_STA (0x30: primary codec ready, the boxes' interrupt bits, 2
 * channels only, 16-bit samples only), CAS (0x34: reads 0, every codec
 * access completes at once).
 *
 * A running box works through the buffer descriptor list at BDBAR: 32
 * entries of a dword address (bit 0 ignored) and a dword of length in
 * samples (bits 15-0), BUP (bit 30) and IOC (bit 31). It consumes (PCM
 * out) or fills (PCM in and mic, with silence: nothing is recorded)
 * samples on guest time at the codec's rate, 2 channels of 16 bits: a
 * buffer's end sets BCIS when IOC was set, and the end of the buffer at
 * LVI stops the box with LVBCI, CELV and DCH. An entry or a buffer
 * outside guest RAM stops the box with FIFOE (and counts a DMA error):
 * nothing the guest programs reaches past its RAM. A length of 0 or 1
 * sample is a buffer that ends at once; at most one lap of the list (32
 * buffers) ends per update, so a list of empty buffers costs one lap
 * per frame's time, never a loop. An interrupt (any box's LVBCI with
 * LVBIE, BCIS with IOCE, FIFOE with FEIE) is a level on INTA while its
 * status bit stands; GLOB_STA shows which box asks.
 *
 * Time: the board's clock (guest time, which stands while the machine is
 * paused); ac97_update() at or after ac97_next_event_ns() and before
 * every register access brings the boxes to the present. Played frames go
 * to the host's play callback in pieces of at most AC97_CHUNK_NS of
 * sound, the master and PCM-out volumes and mutes applied.
 *
 * No locking: the caller serializes every entry point. */
#ifndef BTVM_DEVICES_AC97_H
#define BTVM_DEVICES_AC97_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/pci.h"
#include "mmu/guest_ram.h"

#define AC97_VENDOR		0x8086
#define AC97_DEVICE		0x2415	/* 82801AA AC'97 audio */
#define AC97_CLASS		0x040100	/* multimedia audio */
#define AC97_NAM_BAR		0
#define AC97_NABM_BAR		1
#define AC97_NAM_SIZE		256u
#define AC97_NABM_SIZE		64u

/* Mixer registers (byte offsets in the NAM). */
enum {
	AC97_RESET = 0x00,
	AC97_MASTER = 0x02,
	AC97_AUX_OUT = 0x04,
	AC97_MONO = 0x06,
	AC97_BEEP = 0x0a,
	AC97_PHONE = 0x0c,
	AC97_MIC = 0x0e,
	AC97_LINE = 0x10,
	AC97_CD = 0x12,
	AC97_VIDEO = 0x14,
	AC97_AUX = 0x16,
	AC97_PCM_OUT = 0x18,
	AC97_REC_SELECT = 0x1a,
	AC97_REC_GAIN = 0x1c,
	AC97_GENERAL = 0x20,
	AC97_3D = 0x22,
	AC97_POWERDOWN = 0x26,
	AC97_EXT_ID = 0x28,
	AC97_EXT_STATUS = 0x2a,
	AC97_FRONT_RATE = 0x2c,
	AC97_ADC_RATE = 0x32,
	AC97_MIC_RATE = 0x34,
	AC97_VENDOR_ID1 = 0x7c,
	AC97_VENDOR_ID2 = 0x7e,
};

#define AC97_MUTE		0x8000u
#define AC97_EXT_VRA		0x0001u
#define AC97_EXT_VRM		0x0008u
#define AC97_RATE_MIN		8000u
#define AC97_RATE_MAX		48000u

/* Bus master boxes and their registers. */
enum { AC97_PI, AC97_PO, AC97_MC, AC97_BOXES };
enum {
	AC97_BDBAR = 0x0,
	AC97_CIV = 0x4,
	AC97_LVI = 0x5,
	AC97_SR = 0x6,
	AC97_PICB = 0x8,
	AC97_PIV = 0xa,
	AC97_CR = 0xb,
	AC97_GLOB_CNT = 0x2c,
	AC97_GLOB_STA = 0x30,
	AC97_CAS = 0x34,
};

#define AC97_SR_DCH		0x01u	/* DMA controller halted */
#define AC97_SR_CELV		0x02u	/* current equals last valid */
#define AC97_SR_LVBCI		0x04u	/* last valid buffer completed */
#define AC97_SR_BCIS		0x08u	/* buffer completed (IOC) */
#define AC97_SR_FIFOE		0x10u	/* FIFO error: here, a DMA outside RAM */
#define AC97_SR_W1C		(AC97_SR_LVBCI | AC97_SR_BCIS | AC97_SR_FIFOE)

#define AC97_CR_RPBM		0x01u	/* run */
#define AC97_CR_RR		0x02u	/* reset the box's registers */
#define AC97_CR_LVBIE		0x04u
#define AC97_CR_FEIE		0x08u
#define AC97_CR_IOCE		0x10u
#define AC97_CR_MASK		0x1du

#define AC97_GC_GIE		0x01u
#define AC97_GC_COLD		0x02u	/* 0: cold reset asserted */
#define AC97_GC_WARM		0x04u
#define AC97_GC_MASK		0x3f0000bfu	/* the bits kept (2.3's channel and sample bits included) */

#define AC97_GS_MINT		0x00000080u
#define AC97_GS_POINT		0x00000040u
#define AC97_GS_PIINT		0x00000020u
#define AC97_GS_PCR		0x00000100u	/* primary codec ready */
#define AC97_GS_W1C		0x00008c07u	/* RCS, resume, GSCI, MIINT, MOINT */

#define AC97_BD_IOC		0x80000000u
#define AC97_BD_BUP		0x40000000u
#define AC97_BDL_ENTRIES	32u

/* The longest piece of sound handed to the host at once, and so the
 * longest a running box goes between updates. */
#define AC97_CHUNK_NS		10000000ull
#define AC97_CHUNK_FRAMES_MAX	(AC97_RATE_MAX / 100u)

struct ac97_box {
	uint32_t bdbar;
	uint8_t civ, lvi, piv;
	uint16_t sr;		/* CELV is not kept: it reads CIV == LVI */
	uint16_t picb;
	uint8_t cr;
	/* The current buffer: its address's next sample and whether it ends
	 * with an interrupt (from its descriptor when it was loaded). */
	uint32_t addr;
	uint32_t ctl;
	/* Guest time the box has been brought to, and the part of a frame
	 * (in ns x rate) that time has not yet made a whole frame of. */
	uint64_t last_ns;
	uint64_t frac;
};

struct ac97_stats {
	uint64_t frames;	/* PCM-out frames played */
	uint64_t buffers;	/* PCM-out buffers completed */
	uint64_t dma_errors;	/* descriptors or buffers outside RAM */
	uint64_t interrupts;	/* rising edges of INTA */
};

struct ac97_host {
	/* Every callback gets opaque. clock_ns: the board's guest time,
	 * required. play: nframes frames of 2 channels, S16 native, at rate
	 * Hz; NULL drops them. stop: the PCM-out box stopped (nothing comes
	 * until the next play); may be NULL. guest_written: the device wrote
	 * [gpa, gpa + len) of guest RAM (recording's silence); may be NULL.
	 * deadline_changed: a register write moved ac97_next_event_ns(). */
	uint64_t (*clock_ns)(void *opaque);
	void (*play)(void *opaque, const int16_t *frames, unsigned nframes, unsigned rate);
	void (*stop)(void *opaque);
	void (*guest_written)(void *opaque, uint64_t gpa, uint64_t len);
	void (*deadline_changed)(void *opaque);
	void *opaque;
};

struct ac97 {
	struct pci_function pci;	/* goes to pci_host_add */
	struct pci_region nam_region, nabm_region;
	uint16_t mixer[AC97_NAM_SIZE / 2];
	struct ac97_box box[AC97_BOXES];
	uint32_t glob_cnt, glob_sta;
	bool irq_level;
	const struct guest_ram *ram;
	struct ac97_host host;
	struct ac97_stats stats;
	bool attached;
};

/* Sets the controller up as PCI function devfn (not yet plugged: the
 * caller passes &ac97->pci to pci_host_add) with its BARs on bus, and
 * resets it. ram must outlive ac97_close. Returns 0 or a negative errno. */
int ac97_attach(struct ac97 *ac97, uint8_t devfn, const struct guest_ram *ram, struct bus *bus,
		const struct ac97_host *host);
/* Machine reset (a cold reset of the link and the codec): the PCI
 * header is pci_host_reset's. */
void ac97_reset(struct ac97 *ac97);
/* Brings the running boxes to now_ns: samples moved, buffers ended,
 * interrupts raised. */
void ac97_update(struct ac97 *ac97, uint64_t now_ns);
/* When ac97_update() next has work (a buffer's end or a chunk for the
 * host): UINT64_MAX while no box runs. */
uint64_t ac97_next_event_ns(const struct ac97 *ac97, uint64_t now_ns);
/* The gain applied to PCM out's channel (0 left, 1 right), in 1/65536ths
 * (0 when muted): the master volume's and PCM out's together. */
uint32_t ac97_gain_q16(const struct ac97 *ac97, unsigned channel);
void ac97_close(struct ac97 *ac97);

struct snap_writer;
struct snap_reader;
/* Snapshots (host/snapfile.h): section "AC97", the PCI function, the
 * mixer, the boxes and the global registers. A box running at the save
 * runs on from its place after a restore. */
void ac97_save(const struct ac97 *ac97, struct snap_writer *w);
int ac97_load(struct ac97 *ac97, struct snap_reader *r);

#endif
