/* The AC'97 controller (devices/ac97.c) on a bus with a PCI host and a
 * real guest_ram, its BARs placed as firmware does, on a clock the test
 * moves: the codec's reset values and volume rules, a list of two buffers
 * played (CIV, LVI, PICB, SR and the IOC interrupt as they progress, the
 * samples the host gets with the volume applied), recording's silence,
 * and hostile lists (a descriptor or a buffer outside RAM, empty buffers,
 * LVI never reached) that end in an error status or a bounded lap, never
 * a hang or a read past RAM; 200000 random accesses and descriptors
 * under ASan's eye; a snapshot round trip mid-buffer. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "devices/ac97.h"
#include "devices/pci_host.h"
#include "host/snapfile.h"

#define DEVFN		0x48u	/* 00:09.0, where the board puts it */
#define NAM		0xd000u
#define NABM		0xd100u
#define BDL		0x10000u
#define BUF		0x20000u
#define PO		(NABM + 0x10u)
#define PI		(NABM + 0x00u)
#define NS		1000000000ull

struct harness {
	struct guest_ram ram;
	struct bus bus;
	struct pci_host pci;
	struct ac97 ac97;
	uint64_t now;
	/* What the host was given. */
	int16_t played[2 * 48000];
	unsigned nplayed;
	unsigned last_rate;
	unsigned stops;
	unsigned deadline_calls;
	unsigned written;
};

static uint64_t h_clock(void *opaque)
{
	return ((struct harness *)opaque)->now;
}

static void h_play(void *opaque, const int16_t *frames, unsigned n, unsigned rate)
{
	struct harness *h = opaque;
	for (unsigned i = 0; i < n && h->nplayed < 48000; i++, h->nplayed++) {
		h->played[2 * h->nplayed] = frames[2 * i];
		h->played[2 * h->nplayed + 1] = frames[2 * i + 1];
	}
	h->last_rate = rate;
}

static void h_stop(void *opaque)
{
	((struct harness *)opaque)->stops++;
}

static void h_written(void *opaque, uint64_t gpa, uint64_t len)
{
	(void)gpa;
	((struct harness *)opaque)->written += (unsigned)len;
}

static void h_deadline(void *opaque)
{
	((struct harness *)opaque)->deadline_calls++;
}

static uint32_t in(struct harness *h, uint16_t port, unsigned width)
{
	return (uint32_t)bus_read(&h->bus, BUS_SPACE_PIO, port, width);
}

static void out(struct harness *h, uint16_t port, unsigned width, uint32_t v)
{
	bus_write(&h->bus, BUS_SPACE_PIO, port, width, v);
}

static void attach(struct harness *h)
{
	const struct ac97_host host = {
		.clock_ns = h_clock,
		.play = h_play,
		.stop = h_stop,
		.guest_written = h_written,
		.deadline_changed = h_deadline,
		.opaque = h,
	};
	memset(h->ram.host, 0, h->ram.size);
	bus_init(&h->bus);
	pci_host_init(&h->pci);
	h->now = 0;
	h->nplayed = 0;
	h->stops = 0;
	CHECK_EQ(ac97_attach(&h->ac97, DEVFN, &h->ram, &h->bus, &host), 0);
	CHECK_EQ(pci_host_add(&h->pci, &h->ac97.pci), 0);
	pci_host_config_write(&h->pci, 0, DEVFN, PCI_REG_BAR0, 4, NAM);
	pci_host_config_write(&h->pci, 0, DEVFN, PCI_REG_BAR0 + 4, 4, NABM);
	pci_host_config_write(&h->pci, 0, DEVFN, PCI_REG_COMMAND, 2,
			      PCI_COMMAND_IO | PCI_COMMAND_MASTER);
	/* The driver's link start: cold reset released. */
	out(h, NABM + AC97_GLOB_CNT, 4, AC97_GC_COLD);
}

static void advance(struct harness *h, uint64_t ns)
{
	h->now += ns;
	ac97_update(&h->ac97, h->now);
}

static void put_bd(struct harness *h, unsigned i, uint32_t addr, uint32_t ctl)
{
	memcpy(h->ram.host + BDL + 8 * i, &addr, 4);
	memcpy(h->ram.host + BDL + 8 * i + 4, &ctl, 4);
}

static void test_identity_and_codec(struct harness *h)
{
	attach(h);
	CHECK_EQ(pci_host_config_read(&h->pci, 0, DEVFN, PCI_REG_VENDOR, 4), 0x24158086u);
	CHECK_EQ(pci_host_config_read(&h->pci, 0, DEVFN, PCI_REG_REVISION, 4) >> 8, 0x040100u);
	CHECK_EQ(pci_host_config_read(&h->pci, 0, DEVFN, PCI_REG_INTERRUPT_PIN, 1), 1);
	/* BAR sizes: 256 and 64 ports. */
	pci_host_config_write(&h->pci, 0, DEVFN, PCI_REG_BAR0, 4, 0xffffffffu);
	CHECK_EQ(pci_host_config_read(&h->pci, 0, DEVFN, PCI_REG_BAR0, 4), 0xffffff01u);
	pci_host_config_write(&h->pci, 0, DEVFN, PCI_REG_BAR0, 4, NAM);
	pci_host_config_write(&h->pci, 0, DEVFN, PCI_REG_BAR0 + 4, 4, 0xffffffffu);
	CHECK_EQ(pci_host_config_read(&h->pci, 0, DEVFN, PCI_REG_BAR0 + 4, 4), 0xffffffc1u);
	pci_host_config_write(&h->pci, 0, DEVFN, PCI_REG_BAR0 + 4, 4, NABM);

	/* Codec reset values (AC'97 2.3 section 5.7). */
	CHECK_EQ(in(h, NAM + AC97_RESET, 2), 0x0000);
	CHECK_EQ(in(h, NAM + AC97_MASTER, 2), 0x8000);
	CHECK_EQ(in(h, NAM + AC97_PCM_OUT, 2), 0x8808);
	CHECK_EQ(in(h, NAM + AC97_MIC, 2), 0x8008);
	CHECK_EQ(in(h, NAM + AC97_POWERDOWN, 2) & 0xf, 0xf);
	CHECK_EQ(in(h, NAM + AC97_EXT_ID, 2), 0x0809);
	CHECK_EQ(in(h, NAM + AC97_FRONT_RATE, 2), 48000);
	CHECK_EQ(in(h, NAM + AC97_VENDOR_ID1, 2), 0x8384);
	CHECK_EQ(in(h, NAM + AC97_VENDOR_ID2, 2), 0x7600);
	/* A dword is two registers. */
	CHECK_EQ(in(h, NAM + AC97_VENDOR_ID1, 4), 0x76008384u);
	/* 5-bit attenuation: bit 5 reads back as 0x1f. */
	out(h, NAM + AC97_MASTER, 2, 0x2020);
	CHECK_EQ(in(h, NAM + AC97_MASTER, 2), 0x1f1f);
	out(h, NAM + AC97_MASTER, 2, 0x0000);
	/* The rate is fixed until VRA is on, then clamped to 8-48 kHz. */
	out(h, NAM + AC97_FRONT_RATE, 2, 44100);
	CHECK_EQ(in(h, NAM + AC97_FRONT_RATE, 2), 48000);
	out(h, NAM + AC97_EXT_STATUS, 2, AC97_EXT_VRA);
	out(h, NAM + AC97_FRONT_RATE, 2, 44100);
	CHECK_EQ(in(h, NAM + AC97_FRONT_RATE, 2), 44100);
	out(h, NAM + AC97_FRONT_RATE, 2, 60000);
	CHECK_EQ(in(h, NAM + AC97_FRONT_RATE, 2), 48000);
	out(h, NAM + AC97_FRONT_RATE, 2, 100);
	CHECK_EQ(in(h, NAM + AC97_FRONT_RATE, 2), 8000);
	out(h, NAM + AC97_EXT_STATUS, 2, 0);
	CHECK_EQ(in(h, NAM + AC97_FRONT_RATE, 2), 48000);
	/* Read-only IDs; a reset write restores the defaults. */
	out(h, NAM + AC97_VENDOR_ID1, 2, 0x1234);
	CHECK_EQ(in(h, NAM + AC97_VENDOR_ID1, 2), 0x8384);
	out(h, NAM + AC97_RESET, 2, 0);
	CHECK_EQ(in(h, NAM + AC97_MASTER, 2), 0x8000);

	/* The bus master at reset: every box halted; the codec ready once
	 * the link is out of cold reset, not before. */
	for (unsigned b = 0; b < AC97_BOXES; b++) {
		CHECK_EQ(in(h, NABM + 0x10 * b + AC97_SR, 2), AC97_SR_DCH | AC97_SR_CELV);
		CHECK_EQ(in(h, NABM + 0x10 * b + AC97_CIV, 1), 0);
		CHECK_EQ(in(h, NABM + 0x10 * b + AC97_CR, 1), 0);
	}
	CHECK(in(h, NABM + AC97_GLOB_STA, 4) & AC97_GS_PCR);
	out(h, NABM + AC97_GLOB_CNT, 4, 0);
	CHECK(!(in(h, NABM + AC97_GLOB_STA, 4) & AC97_GS_PCR));
	out(h, NABM + AC97_GLOB_CNT, 4, AC97_GC_COLD | AC97_GC_WARM);
	CHECK_EQ(in(h, NABM + AC97_GLOB_CNT, 4), AC97_GC_COLD);
	CHECK_EQ(in(h, NABM + AC97_CAS, 1), 0);
	/* BDBAR is 8-byte aligned. */
	out(h, PO + AC97_BDBAR, 4, BDL | 7);
	CHECK_EQ(in(h, PO + AC97_BDBAR, 4), BDL);
	ac97_close(&h->ac97);
}

/* Two buffers of 480 frames (10 ms at 48 kHz) each: a ramp, left
 * positive and right negative. */
static void test_play_two_buffers(struct harness *h)
{
	attach(h);
	for (unsigned i = 0; i < 960; i++) {
		int16_t l = (int16_t)(i * 30), r = (int16_t)-(int16_t)(i * 30);
		memcpy(h->ram.host + BUF + 4 * i, &l, 2);
		memcpy(h->ram.host + BUF + 4 * i + 2, &r, 2);
	}
	put_bd(h, 0, BUF, 960 | AC97_BD_IOC);
	put_bd(h, 1, BUF + 1920, 960 | AC97_BD_IOC);
	/* Unmuted at 0 dB on both. */
	out(h, NAM + AC97_MASTER, 2, 0x0000);
	out(h, NAM + AC97_PCM_OUT, 2, 0x0808);
	out(h, PO + AC97_BDBAR, 4, BDL);
	out(h, PO + AC97_LVI, 1, 1);
	out(h, PO + AC97_CR, 1, AC97_CR_RPBM | AC97_CR_IOCE | AC97_CR_LVBIE);
	CHECK_EQ(in(h, PO + AC97_SR, 2), 0);
	CHECK_EQ(in(h, PO + AC97_CIV, 1), 0);
	CHECK_EQ(in(h, PO + AC97_PIV, 1), 1);
	CHECK_EQ(in(h, PO + AC97_PICB, 2), 960);
	/* The host is fed every 10 ms or sooner. */
	CHECK_EQ(ac97_next_event_ns(&h->ac97, h->now), 10000000u);

	/* 5 ms: half the first buffer. */
	h->now += 5000000;
	CHECK_EQ(in(h, PO + AC97_PICB, 2), 480);
	CHECK_EQ(h->nplayed, 240);
	CHECK(!h->ac97.pci.irq_request);
	/* 10 ms: the first buffer ends, IOC: BCIS and the interrupt. */
	advance(h, 5000000);
	CHECK_EQ(in(h, PO + AC97_CIV, 1), 1);
	CHECK_EQ(in(h, PO + AC97_PICB, 2), 960);
	CHECK_EQ(in(h, PO + AC97_SR, 2), AC97_SR_BCIS | AC97_SR_CELV);
	CHECK(h->ac97.pci.irq_request);
	CHECK(in(h, NABM + AC97_GLOB_STA, 4) & AC97_GS_POINT);
	/* Acknowledged: the line drops. */
	out(h, PO + AC97_SR, 2, AC97_SR_BCIS);
	CHECK(!h->ac97.pci.irq_request);
	CHECK(!(in(h, NABM + AC97_GLOB_STA, 4) & AC97_GS_POINT));
	/* 20 ms: the last valid buffer ends: LVBCI, BCIS, halted. */
	advance(h, 10000000);
	CHECK_EQ(in(h, PO + AC97_SR, 2),
		 AC97_SR_BCIS | AC97_SR_LVBCI | AC97_SR_DCH | AC97_SR_CELV);
	CHECK(h->ac97.pci.irq_request);
	CHECK_EQ(h->stops, 1);
	CHECK_EQ(h->nplayed, 960);
	CHECK_EQ(h->last_rate, 48000);
	CHECK_EQ(h->ac97.stats.frames, 960);
	CHECK_EQ(h->ac97.stats.buffers, 2);
	CHECK_EQ(h->ac97.stats.interrupts, 2);
	bool same = true;
	for (unsigned i = 0; i < 960; i++)
		same &= h->played[2 * i] == (int16_t)(i * 30) &&
			h->played[2 * i + 1] == -(int16_t)(i * 30);
	CHECK(same);
	/* Halted, nothing more comes. */
	CHECK_EQ(ac97_next_event_ns(&h->ac97, h->now), UINT64_MAX);
	advance(h, NS);
	CHECK_EQ(h->nplayed, 960);
	out(h, PO + AC97_SR, 2, AC97_SR_BCIS | AC97_SR_LVBCI);
	CHECK(!h->ac97.pci.irq_request);

	/* The list grown while still told to run: it goes on at buffer 2
	 * (PIV), now with the volume at -6 dB on the left, then muted. */
	put_bd(h, 2, BUF, 960);
	out(h, NAM + AC97_MASTER, 2, 0x0400);
	CHECK_EQ(in(h, PO + AC97_PIV, 1), 2);
	out(h, PO + AC97_LVI, 1, 2);
	CHECK_EQ(in(h, PO + AC97_CIV, 1), 2);
	CHECK_EQ(in(h, PO + AC97_SR, 2) & AC97_SR_DCH, 0);
	advance(h, 1000000);
	CHECK_EQ(h->nplayed, 960 + 48);
	CHECK_EQ(h->played[2 * 970], (int16_t)((10 * 30 * 32846) >> 16));
	CHECK_EQ(h->played[2 * 970 + 1], -(int16_t)(10 * 30));
	out(h, NAM + AC97_PCM_OUT, 2, 0x8808);
	advance(h, 1000000);
	CHECK_EQ(h->nplayed, 960 + 96);
	CHECK_EQ(h->played[2 * 1018], 0);
	CHECK_EQ(h->played[2 * 1018 + 1], 0);
	/* Pausing (RPBM off) halts it where it is, and tells the host the
	 * stream stopped (what it queued plays out); RR resets the box. */
	unsigned stops = h->stops;
	out(h, PO + AC97_CR, 1, AC97_CR_IOCE);
	CHECK(in(h, PO + AC97_SR, 2) & AC97_SR_DCH);
	CHECK_EQ(h->stops, stops + 1);
	uint32_t picb = in(h, PO + AC97_PICB, 2);
	advance(h, NS);
	CHECK_EQ(in(h, PO + AC97_PICB, 2), picb);
	out(h, PO + AC97_CR, 1, AC97_CR_RR);
	CHECK_EQ(in(h, PO + AC97_CR, 1), AC97_CR_IOCE);
	CHECK_EQ(in(h, PO + AC97_BDBAR, 4), 0);
	CHECK_EQ(in(h, PO + AC97_PICB, 2), 0);
	ac97_close(&h->ac97);
}

/* Recording has no source: the input boxes fill their buffers with
 * silence at the ADC's rate. */
static void test_record_silence(struct harness *h)
{
	attach(h);
	memset(h->ram.host + BUF, 0x55, 4000);
	put_bd(h, 0, BUF, 800 | AC97_BD_IOC);
	out(h, PI + AC97_BDBAR, 4, BDL);
	out(h, PI + AC97_LVI, 1, 0);
	out(h, PI + AC97_CR, 1, AC97_CR_RPBM | AC97_CR_IOCE);
	advance(h, 10000000);
	CHECK_EQ(in(h, PI + AC97_SR, 2),
		 AC97_SR_BCIS | AC97_SR_LVBCI | AC97_SR_DCH | AC97_SR_CELV);
	CHECK_EQ(h->written, 1600);
	CHECK_EQ(h->ram.host[BUF], 0);
	CHECK_EQ(h->ram.host[BUF + 1599], 0);
	CHECK_EQ(h->ram.host[BUF + 1600], 0x55);
	CHECK_EQ(h->nplayed, 0);
	ac97_close(&h->ac97);
}

static void test_hostile(struct harness *h)
{
	attach(h);
	/* A list outside RAM: FIFOE, halted, an interrupt with FEIE. */
	out(h, PO + AC97_BDBAR, 4, 0xfff00000u);
	out(h, PO + AC97_LVI, 1, 5);
	out(h, PO + AC97_CR, 1, AC97_CR_RPBM | AC97_CR_FEIE);
	CHECK_EQ(in(h, PO + AC97_SR, 2) & (AC97_SR_FIFOE | AC97_SR_DCH),
		 AC97_SR_FIFOE | AC97_SR_DCH);
	CHECK(h->ac97.pci.irq_request);
	CHECK_EQ(h->ac97.stats.dma_errors, 1);
	/* Growing the list does not restart a box stopped by an error. */
	out(h, PO + AC97_LVI, 1, 7);
	CHECK(in(h, PO + AC97_SR, 2) & AC97_SR_DCH);
	out(h, PO + AC97_CR, 1, AC97_CR_RR);
	out(h, PO + AC97_SR, 2, 0x1f);
	CHECK(!h->ac97.pci.irq_request);

	/* The last entry of a list ending at the top of RAM. */
	out(h, PO + AC97_BDBAR, 4, (uint32_t)h->ram.size - 8);
	out(h, PO + AC97_LVI, 1, 5);
	out(h, PO + AC97_CR, 1, AC97_CR_RPBM);
	CHECK(!(in(h, PO + AC97_SR, 2) & AC97_SR_DCH));
	advance(h, NS / 1000);
	/* Entry 0 is in RAM (zero: an empty buffer), entry 1 is not. */
	CHECK(in(h, PO + AC97_SR, 2) & AC97_SR_FIFOE);
	out(h, PO + AC97_CR, 1, AC97_CR_RR);

	/* A buffer running past the end of RAM: it plays what is RAM, then
	 * FIFOE; nothing is read past. */
	put_bd(h, 0, (uint32_t)h->ram.size - 400, 0xfffe);
	out(h, PO + AC97_BDBAR, 4, BDL);
	out(h, PO + AC97_LVI, 1, 0);
	unsigned before = h->nplayed;
	out(h, PO + AC97_CR, 1, AC97_CR_RPBM);
	advance(h, NS / 10);
	CHECK(in(h, PO + AC97_SR, 2) & AC97_SR_FIFOE);
	CHECK(h->nplayed - before <= 100);
	out(h, PO + AC97_CR, 1, AC97_CR_RR);

	/* Every buffer empty (length 0 and 1) and LVI never reached by the
	 * guest's own account (LVI = CIV - 1, as a ring): each update ends at
	 * most one lap, and the next event is a frame away, not now. */
	for (unsigned i = 0; i < AC97_BDL_ENTRIES; i++)
		put_bd(h, i, BUF, i & 1);
	out(h, PO + AC97_BDBAR, 4, BDL);
	out(h, PO + AC97_LVI, 1, 31);
	out(h, PO + AC97_CR, 1, AC97_CR_RPBM | AC97_CR_IOCE);
	uint64_t buffers = h->ac97.stats.buffers;
	advance(h, 0);
	CHECK(h->ac97.stats.buffers - buffers <= AC97_BDL_ENTRIES + 1);
	CHECK(ac97_next_event_ns(&h->ac97, h->now) > h->now);
	for (unsigned k = 0; k < 100; k++)
		advance(h, 1000);
	CHECK(h->ac97.stats.buffers - buffers <= 101u * (AC97_BDL_ENTRIES + 1));
	/* A hostile length on a real buffer: 0xffff samples is 32767 frames
	 * and one odd sample, which ends the buffer. */
	out(h, PO + AC97_CR, 1, AC97_CR_RR);
	put_bd(h, 0, BUF, 0xffff);
	out(h, PO + AC97_BDBAR, 4, BDL);
	out(h, PO + AC97_LVI, 1, 0);
	out(h, PO + AC97_CR, 1, AC97_CR_RPBM);
	advance(h, NS);
	CHECK(in(h, PO + AC97_SR, 2) & AC97_SR_DCH);
	CHECK(!(in(h, PO + AC97_SR, 2) & AC97_SR_FIFOE));

	/* A late update (a host stall) catches up by at most a second. */
	out(h, PO + AC97_CR, 1, AC97_CR_RR);
	for (unsigned i = 0; i < AC97_BDL_ENTRIES; i++)
		put_bd(h, i, BUF, 0xfffe);
	out(h, PO + AC97_BDBAR, 4, BDL);
	out(h, PO + AC97_LVI, 1, 31);
	out(h, PO + AC97_CR, 1, AC97_CR_RPBM);
	uint64_t frames = h->ac97.stats.frames;
	advance(h, 100 * NS);
	CHECK_EQ(h->ac97.stats.frames - frames, 48000);
	/* Byte and word accesses across registers do what dword ones do. */
	CHECK_EQ(in(h, PO + AC97_CIV, 2) & 0xff, in(h, PO + AC97_CIV, 1));
	CHECK_EQ(in(h, PO + AC97_CIV, 2) >> 8, 31);
	ac97_close(&h->ac97);
}

/* A guest writing anything anywhere: random accesses of every width to
 * both BARs, lists of random descriptors (addresses near the top of RAM
 * and beyond, every length), time moving in random steps. Nothing may
 * read past RAM (ASan's build checks), the indices stay in the list, and
 * no more frames play than the time allows. A fixed seed: the same run
 * every time. */
static void test_random(struct harness *h)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	uint64_t played_before = 0, start;

	attach(h);
	start = h->now;
	for (unsigned i = 0; i < 200000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		unsigned op = x & 7, width = 1u << ((x >> 3) & 3);
		uint32_t v = (uint32_t)(x >> 32);
		if (width > 4)
			width = 4;
		switch (op) {
		case 0:
		case 1:
			out(h, (uint16_t)(NABM + ((x >> 8) & 0x3f)), width, v);
			break;
		case 2:
			(void)in(h, (uint16_t)(NABM + ((x >> 8) & 0x3f)), width);
			break;
		case 3:
			out(h, (uint16_t)(NAM + ((x >> 8) & 0xff)), width, v);
			break;
		case 4: {
			/* A descriptor: anywhere in RAM's last 64 KiB or past it,
			 * or in the buffer area. */
			uint32_t addr = (x >> 16) & 1 ? (uint32_t)h->ram.size - ((x >> 17) & 0xffff)
						      : BUF + ((x >> 17) & 0xfff);
			put_bd(h, (x >> 8) & 31, addr, v);
			break;
		}
		case 5:
			out(h, (uint16_t)(NABM + 0x10 * ((x >> 8) % 3) + AC97_BDBAR), 4,
			    (x >> 12) & 1 ? BDL : (uint32_t)h->ram.size - 8 * ((x >> 13) & 31));
			break;
		default:
			advance(h, (x >> 8) & 0xfffff);
			break;
		}
		for (unsigned b = 0; b < AC97_BOXES; b++) {
			const struct ac97_box *bx = &h->ac97.box[b];
			if (bx->civ >= AC97_BDL_ENTRIES || bx->lvi >= AC97_BDL_ENTRIES ||
			    bx->piv >= AC97_BDL_ENTRIES) {
				CHECK(false);
				break;
			}
		}
		if (ac97_next_event_ns(&h->ac97, h->now) < h->now)
			CHECK(false);
	}
	/* At most the rate's worth of frames for the time that passed (the
	 * fastest rate, a frame of rounding per update). */
	uint64_t elapsed = h->now - start;
	uint64_t bound = elapsed * AC97_RATE_MAX / NS + 200000;
	CHECK(h->ac97.stats.frames - played_before <= bound);
	CHECK(h->ac97.stats.dma_errors > 0);
	CHECK(h->ac97.stats.frames > 0);
	ac97_close(&h->ac97);
}

static void test_snapshot(struct harness *h)
{
	char path[] = "/tmp/btvm-ac97-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);
	attach(h);
	put_bd(h, 0, BUF, 960 | AC97_BD_IOC);
	put_bd(h, 1, BUF + 1920, 960 | AC97_BD_IOC);
	out(h, NAM + AC97_MASTER, 2, 0x0102);
	out(h, PO + AC97_BDBAR, 4, BDL);
	out(h, PO + AC97_LVI, 1, 1);
	out(h, PO + AC97_CR, 1, AC97_CR_RPBM | AC97_CR_IOCE);
	advance(h, 15000000);
	uint32_t picb = in(h, PO + AC97_PICB, 2), sr = in(h, PO + AC97_SR, 2);
	struct snap_writer w;
	CHECK_EQ(snapw_open(&w, path, 1), 0);
	ac97_save(&h->ac97, &w);
	CHECK_EQ(snapw_close(&w), 0);
	uint64_t at = h->now;
	ac97_close(&h->ac97);

	attach(h);
	h->now = at;
	struct snap_reader r;
	CHECK_EQ(snapr_open(&r, path), 0);
	CHECK_EQ(snapr_next(&r), 1);
	CHECK_EQ(ac97_load(&h->ac97, &r), 0);
	snapr_close(&r);
	CHECK_EQ(in(h, NAM + AC97_MASTER, 2), 0x0102);
	CHECK_EQ(in(h, PO + AC97_CIV, 1), 1);
	CHECK_EQ(in(h, PO + AC97_PICB, 2), picb);
	CHECK_EQ(in(h, PO + AC97_SR, 2), sr);
	CHECK(h->ac97.pci.irq_request);
	/* It plays on to the end of the list. */
	advance(h, 5000000);
	CHECK(in(h, PO + AC97_SR, 2) & AC97_SR_LVBCI);
	CHECK_EQ(h->nplayed, 240);
	ac97_close(&h->ac97);
	unlink(path);
}

int main(void)
{
	struct harness *h = calloc(1, sizeof(*h));
	if (!h || guest_ram_init(&h->ram, 4, 0)) {
		fprintf(stderr, "cannot make guest RAM\n");
		return 1;
	}
	test_identity_and_codec(h);
	test_play_two_buffers(h);
	test_record_silence(h);
	test_hostile(h);
	test_random(h);
	test_snapshot(h);
	guest_ram_destroy(&h->ram);
	free(h);
	return check_report("test_ac97");
}
