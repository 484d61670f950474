/* Writes fuzz_storage.c's seeds into OUTDIR/storage/: programs in its
 * record format that do what a guest driver does with each device (IDE
 * PIO and bus-master DMA reads and writes, ATAPI INQUIRY, READ(10) and
 * the rest of the MMC commands through PACKET, AC'97 playback from a
 * buffer descriptor list, fw_cfg DMA reads of its files, HPET timers that
 * fire, VGA register programming, a font load and text in the window),
 * the hostile cases a fuzzer should start from (a PRD table running past
 * RAM's end, PRD byte counts of 0, an ATAPI transfer into PRDs outside RAM
 * or too short, AC'97 descriptors outside RAM, DMA into the BIOS area the
 * PAM registers lock), and the short ones all in one. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "seeds.h"

/* fuzz_storage.c's MAX_RECORDS records. */
#define MAX_PROGRAM 12288u
#define RECORD_BYTES 12u

/* fuzz_storage.c's targets and operations, in its order. */
enum {
	T_IDE, T_IDE_BM, T_AC97_NAM, T_AC97_NABM, T_PCI_CONFIG, T_FW_CFG, T_HPET, T_VGA,
	OP_RAM_WRITE, OP_VGA_WINDOW, OP_ADVANCE, OP_HPET_INPUT, OP_IDE_POLL, OP_VGA_RENDER,
	OP_CD_MEDIA, OP_RESET, OP_IDE_STRING,
};
enum { W8, W16, W32, W64 };	/* log2 of an access's width */

/* Where the seeds put things in the harness's 4 MiB of RAM. */
#define RAM_END 0x400000u
#define PRDT 0x10000u
#define DMA_BUF 0x100000u
#define BDL 0x30000u
#define SOUND_BUF 0x40000u
#define FW_DESC 0x50000u
#define FW_BUF 0x60000u

/* ATA and ATAPI, as devices/ide.h names them. */
enum { REG_DATA, REG_FEATURE, REG_NSECT, REG_LBAL, REG_LBAM, REG_LBAH, REG_DEVICE, REG_COMMAND };
#define AT_CTL 0x10u
#define DISK_CH 0u
#define CD_CH 1u
#define BM_COMMAND 0u
#define BM_STATUS 2u
#define BM_PRDT 4u
#define BM_START 0x01u
#define BM_TO_MEMORY 0x08u
#define PRD_EOT 0x80000000u

struct program {
	uint8_t data[MAX_PROGRAM];
	size_t size;
};

static void record(struct program *p, unsigned target, unsigned flags, unsigned offset,
		   uint64_t value)
{
	if (p->size + RECORD_BYTES > MAX_PROGRAM) {
		fprintf(stderr, "fuzz_seeds: a storage seed is too long\n");
		exit(1);
	}
	uint8_t *r = p->data + p->size;
	r[0] = (uint8_t)target;
	r[1] = (uint8_t)flags;
	r[2] = (uint8_t)offset;
	r[3] = (uint8_t)(offset >> 8);
	for (unsigned i = 0; i < 8; i++)
		r[4 + i] = (uint8_t)(value >> (8 * i));
	p->size += RECORD_BYTES;
}

static void out(struct program *p, unsigned target, unsigned offset, unsigned log2_width,
		uint64_t value)
{
	record(p, target, log2_width << 1 | 1, offset, value);
}

static void in(struct program *p, unsigned target, unsigned offset, unsigned log2_width)
{
	record(p, target, log2_width << 1, offset, 0);
}

static void ram(struct program *p, uint32_t gpa, unsigned log2_len, uint64_t value)
{
	record(p, OP_RAM_WRITE, (gpa & 63) << 2 | log2_len, gpa >> 6, value);
}

static uint32_t be32(uint32_t v)
{
	return v >> 24 | (v >> 8 & 0xff00u) | (v << 8 & 0xff0000u) | v << 24;
}

static void wait_ns(struct program *p, uint64_t ns)
{
	record(p, OP_ADVANCE, 0, 0, ns);	/* ns below 2^24: no shift */
}

/* ---- IDE ----------------------------------------------------------------- */

static void ide_out(struct program *p, unsigned ch, unsigned reg, uint8_t v)
{
	out(p, T_IDE, ch << 3 | reg, W8, v);
}

static void ide_in(struct program *p, unsigned ch, unsigned reg)
{
	in(p, T_IDE, ch << 3 | reg, W8);
}

static void bm_out(struct program *p, unsigned ch, unsigned reg, unsigned log2_width, uint32_t v)
{
	out(p, T_IDE_BM, 8 * ch + reg, log2_width, v);
}

/* The disk's task file for an LBA28 command of count sectors at lba. */
static void ata_command(struct program *p, uint8_t cmd, uint32_t lba, uint8_t count)
{
	ide_out(p, DISK_CH, REG_DEVICE, (uint8_t)(0xe0 | (lba >> 24 & 0xf)));
	ide_out(p, DISK_CH, REG_NSECT, count);
	ide_out(p, DISK_CH, REG_LBAL, (uint8_t)lba);
	ide_out(p, DISK_CH, REG_LBAM, (uint8_t)(lba >> 8));
	ide_out(p, DISK_CH, REG_LBAH, (uint8_t)(lba >> 16));
	ide_out(p, DISK_CH, REG_COMMAND, cmd);
}

static void prd(struct program *p, uint32_t table, unsigned i, uint32_t addr, uint32_t count,
		bool eot)
{
	ram(p, table + 8 * i, W64, (uint64_t)((count & 0xffff) | (eot ? PRD_EOT : 0)) << 32 | addr);
}

/* What Linux's ata_bmdma_setup and ata_bmdma_start do around a command. */
static void bm_setup(struct program *p, unsigned ch, uint32_t table, bool to_memory)
{
	bm_out(p, ch, BM_PRDT, W32, table);
	bm_out(p, ch, BM_COMMAND, W8, to_memory ? BM_TO_MEMORY : 0);
	bm_out(p, ch, BM_STATUS, W8, 0x06);	/* clear error and interrupt */
}

static void bm_start_and_finish(struct program *p, unsigned ch, bool to_memory)
{
	bm_out(p, ch, BM_COMMAND, W8, BM_START | (to_memory ? BM_TO_MEMORY : 0));
	record(p, OP_IDE_POLL, 0, 0, 0);
	in(p, T_IDE_BM, 8 * ch + BM_STATUS, W8);
	bm_out(p, ch, BM_COMMAND, W8, to_memory ? BM_TO_MEMORY : 0);
	ide_in(p, ch, REG_COMMAND);
	bm_out(p, ch, BM_STATUS, W8, 0x06);
}

static void ide_pio_read(struct program *p)
{
	ata_command(p, 0xec, 0, 0);		/* IDENTIFY */
	for (unsigned i = 0; i < 128; i++)
		in(p, T_IDE, DISK_CH << 3 | REG_DATA, W32);
	ata_command(p, 0x20, 5, 2);		/* READ SECTORS: 5 and 6 */
	for (unsigned s = 0; s < 2; s++) {
		ide_in(p, DISK_CH, REG_COMMAND);
		for (unsigned i = 0; i < 256; i++)
			in(p, T_IDE, DISK_CH << 3 | REG_DATA, W16);
	}
	ide_in(p, DISK_CH, REG_COMMAND);
}

static void ide_pio_write(struct program *p)
{
	ata_command(p, 0xc6, 0, 4);		/* SET MULTIPLE MODE: 4 */
	ata_command(p, 0xc5, 10, 4);		/* WRITE MULTIPLE */
	for (unsigned i = 0; i < 64; i++)
		out(p, T_IDE, DISK_CH << 3 | REG_DATA, W32, 0x01020304u * i);
	record(p, OP_IDE_STRING, W32 << 1 | 1, DISK_CH << 3, 0xa5a50000u | (512 - 64));
	ide_in(p, DISK_CH, REG_COMMAND);
	/* WRITE MULTIPLE EXT of 300 sectors at 0x40 in blocks of 16 with REP
	 * OUTSW: longer than the drive's buffer. */
	ata_command(p, 0xc6, 0, 16);
	ide_out(p, DISK_CH, REG_NSECT, 0x01);	/* the high bytes first */
	ide_out(p, DISK_CH, REG_NSECT, 0x2c);
	ide_out(p, DISK_CH, REG_LBAL, 0);
	ide_out(p, DISK_CH, REG_LBAL, 0x40);
	ide_out(p, DISK_CH, REG_LBAM, 0);
	ide_out(p, DISK_CH, REG_LBAM, 0);
	ide_out(p, DISK_CH, REG_LBAH, 0);
	ide_out(p, DISK_CH, REG_LBAH, 0);
	ide_out(p, DISK_CH, REG_DEVICE, 0x40);
	ide_out(p, DISK_CH, REG_COMMAND, 0x39);
	for (unsigned b = 0; b < 19; b++) {
		ide_in(p, DISK_CH, REG_COMMAND);
		record(p, OP_IDE_STRING, W16 << 1 | 1, DISK_CH << 3, 0x5a5a0000u | 16 * 256);
	}
	ide_in(p, DISK_CH, REG_COMMAND);
	ata_command(p, 0xe7, 0, 0);		/* FLUSH CACHE */
	ide_in(p, DISK_CH, REG_COMMAND);
}

static void ide_dma_read(struct program *p)
{
	prd(p, PRDT, 0, DMA_BUF, 1024, false);
	prd(p, PRDT, 1, DMA_BUF + 0x2000, 1024, true);
	bm_setup(p, DISK_CH, PRDT, true);
	ata_command(p, 0xc8, 3, 4);		/* READ DMA */
	bm_start_and_finish(p, DISK_CH, true);
}

static void ide_dma_write(struct program *p)
{
	ram(p, DMA_BUF, W64, 0x1122334455667788ull);
	prd(p, PRDT, 0, DMA_BUF, 0x800, true);
	bm_setup(p, DISK_CH, PRDT, false);
	ata_command(p, 0xca, 100, 4);		/* WRITE DMA */
	bm_start_and_finish(p, DISK_CH, false);
	/* LBA48: WRITE DMA EXT of one sector at the disk's last one. */
	prd(p, PRDT, 0, DMA_BUF, 512, true);
	bm_setup(p, DISK_CH, PRDT, false);
	ide_out(p, DISK_CH, REG_NSECT, 0);
	ide_out(p, DISK_CH, REG_NSECT, 1);
	ide_out(p, DISK_CH, REG_LBAL, 0);
	ide_out(p, DISK_CH, REG_LBAL, 0xff);
	ide_out(p, DISK_CH, REG_LBAM, 0);
	ide_out(p, DISK_CH, REG_LBAM, 1);
	ide_out(p, DISK_CH, REG_LBAH, 0);
	ide_out(p, DISK_CH, REG_LBAH, 0);
	ide_out(p, DISK_CH, REG_DEVICE, 0x40);
	ide_out(p, DISK_CH, REG_COMMAND, 0x35);
	bm_start_and_finish(p, DISK_CH, false);
}

/* A PACKET command to the CD: dma or PIO with a byte count limit. */
static void atapi_packet(struct program *p, const uint8_t cdb[12], bool dma, uint16_t limit)
{
	ide_out(p, CD_CH, REG_DEVICE, 0xa0);
	ide_out(p, CD_CH, REG_FEATURE, dma ? 1 : 0);
	ide_out(p, CD_CH, REG_LBAM, (uint8_t)limit);
	ide_out(p, CD_CH, REG_LBAH, (uint8_t)(limit >> 8));
	ide_out(p, CD_CH, REG_COMMAND, 0xa0);
	ide_in(p, CD_CH, REG_NSECT);		/* interrupt reason: the packet */
	for (unsigned i = 0; i < 12; i += 2)
		out(p, T_IDE, CD_CH << 3 | REG_DATA, W16, (uint16_t)(cdb[i] | cdb[i + 1] << 8));
}

static void atapi_read_data(struct program *p, unsigned dwords)
{
	ide_in(p, CD_CH, REG_COMMAND);
	ide_in(p, CD_CH, REG_LBAM);
	ide_in(p, CD_CH, REG_LBAH);
	for (unsigned i = 0; i < dwords; i++)
		in(p, T_IDE, CD_CH << 3 | REG_DATA, W32);
	ide_in(p, CD_CH, REG_COMMAND);
}

static void atapi_inquiry(struct program *p)
{
	static const uint8_t identify_packet = 0xa1;
	ide_out(p, CD_CH, REG_DEVICE, 0xa0);
	ide_out(p, CD_CH, REG_COMMAND, identify_packet);
	for (unsigned i = 0; i < 128; i++)
		in(p, T_IDE, CD_CH << 3 | REG_DATA, W32);
	static const uint8_t inquiry[12] = { 0x12, 0, 0, 0, 36 };
	atapi_packet(p, inquiry, false, 0xfffe);
	atapi_read_data(p, 9);
	static const uint8_t test_unit_ready[12] = { 0 };
	atapi_packet(p, test_unit_ready, false, 0);
	ide_in(p, CD_CH, REG_COMMAND);
	static const uint8_t request_sense[12] = { 0x03, 0, 0, 0, 18 };
	atapi_packet(p, request_sense, false, 0xfffe);
	atapi_read_data(p, 5);
}

static void atapi_read10(struct program *p)
{
	/* By PIO, sector 16 in 1 KiB blocks (the byte count limit). */
	static const uint8_t read_pio[12] = { 0x28, 0, 0, 0, 0, 16, 0, 0, 1 };
	atapi_packet(p, read_pio, false, 1024);
	atapi_read_data(p, 256);
	atapi_read_data(p, 256);
	/* By DMA: two sectors from 20 through two PRDs. */
	static const uint8_t read_dma[12] = { 0x28, 0, 0, 0, 0, 20, 0, 0, 2 };
	prd(p, PRDT + 0x100, 0, DMA_BUF + 0x10000, 2048, false);
	prd(p, PRDT + 0x100, 1, DMA_BUF + 0x20000, 2048, true);
	bm_setup(p, CD_CH, PRDT + 0x100, true);
	atapi_packet(p, read_dma, true, 0);
	bm_start_and_finish(p, CD_CH, true);
	/* READ CAPACITY and READ TOC, the monitor's eject and change. */
	static const uint8_t capacity[12] = { 0x25 };
	atapi_packet(p, capacity, false, 8);
	atapi_read_data(p, 2);
	static const uint8_t toc[12] = { 0x43, 0, 0, 0, 0, 0, 0, 0, 12 };
	atapi_packet(p, toc, false, 12);
	atapi_read_data(p, 3);
	/* 80 sectors by PIO in 64 KiB blocks with REP INSD, more than the
	 * drive's buffer; the disc ejected before the buffer runs out, so
	 * that loading the rest finds no medium. */
	static const uint8_t read_long[12] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 80 };
	atapi_packet(p, read_long, false, 0xfffe);
	for (unsigned i = 0; i < 2; i++) {
		if (i)
			record(p, OP_CD_MEDIA, 1, 0, 0);	/* eject, forced */
		ide_in(p, CD_CH, REG_COMMAND);
		record(p, OP_IDE_STRING, W32 << 1, CD_CH << 3, 0x3fff);
		record(p, OP_IDE_STRING, W32 << 1, CD_CH << 3, 1);
	}
	ide_in(p, CD_CH, REG_COMMAND);
	ide_in(p, CD_CH, REG_FEATURE);
	record(p, OP_CD_MEDIA, 0, 1, 0);	/* change back */
	static const uint8_t test_unit_ready[12] = { 0 };
	atapi_packet(p, test_unit_ready, false, 0);
	ide_in(p, CD_CH, REG_COMMAND);
	ide_in(p, CD_CH, REG_FEATURE);
}

/* The rest of the MMC commands the drive takes, each by PIO with its
 * allocation length, and some it refuses. */
static void atapi_commands(struct program *p)
{
	static const uint8_t cdbs[][12] = {
		{ 0x5a, 0, 0x3f, 0, 0, 0, 0, 0, 64 },		/* MODE SENSE(10), all pages */
		{ 0x1a, 0, 0x2a, 0, 32 },			/* MODE SENSE(6), capabilities */
		{ 0x1a, 0, 0x41, 0, 16 },			/* changeable error recovery */
		{ 0x46, 0x02, 0, 0, 0, 0, 0, 0, 255 },		/* GET CONFIGURATION */
		{ 0x46, 0, 0, 0x1e, 0, 0, 0, 0, 16 },		/* one feature */
		{ 0x43, 0x02, 0, 0, 0, 0, 0, 0, 32 },		/* READ TOC, MSF */
		{ 0x43, 0, 0, 0, 0, 0, 0, 0, 12, 0x40 },	/* session info, SFF-8020 */
		{ 0x4a, 0x01, 0, 0, 0x10, 0, 0, 0, 8 },		/* GET EVENT STATUS */
		{ 0x51, 0, 0, 0, 0, 0, 0, 0, 34 },		/* READ DISC INFORMATION */
		{ 0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 8 },		/* MECHANISM STATUS */
		{ 0xbe, 0, 0, 0, 0, 30, 0, 0, 1, 0x10 },	/* READ CD, user data */
		{ 0xa8, 0, 0, 0, 0, 40, 0, 0, 0, 1 },		/* READ(12) */
		{ 0x2b, 0, 0, 0, 0, 50 },			/* SEEK(10) */
		{ 0xbb, 0, 0xff, 0xff },			/* SET CD SPEED */
		{ 0x1e, 0, 0, 0, 1 },				/* PREVENT MEDIUM REMOVAL */
		{ 0x1b, 0, 0, 0, 2 },				/* START STOP: eject, refused */
		{ 0x1e, 0, 0, 0, 0 },				/* ALLOW */
		{ 0x1b, 0, 0, 0, 2 },				/* eject */
		{ 0x4a, 0x01, 0, 0, 0x10, 0, 0, 0, 8 },
		{ 0x28, 0, 0, 0, 0, 16, 0, 0, 1 },		/* READ(10): no disc */
		{ 0x1b, 0, 0, 0, 3 },				/* load */
		{ 0x00 },					/* TEST UNIT READY */
		{ 0x03, 0, 0, 0, 18 },				/* REQUEST SENSE */
		{ 0x28, 0, 0, 0, 0x10, 0, 0, 0, 1 },		/* READ(10) past the end */
		{ 0xff },					/* unknown */
	};
	for (size_t i = 0; i < sizeof(cdbs) / sizeof(cdbs[0]); i++) {
		atapi_packet(p, cdbs[i], false, 0x100);
		atapi_read_data(p, 8);
	}
}

/* READ(10) by DMA into a PRD table outside RAM, then with PRDs shorter
 * than the transfer, and INQUIRY's reply by DMA. */
static void atapi_dma_hostile(struct program *p)
{
	static const uint8_t read_dma[12] = { 0x28, 0, 0, 0, 0, 20, 0, 0, 2 };
	bm_setup(p, CD_CH, 0xfffffff8u, true);
	atapi_packet(p, read_dma, true, 0);
	bm_start_and_finish(p, CD_CH, true);
	static const uint8_t sense[12] = { 0x03, 0, 0, 0, 18 };
	atapi_packet(p, sense, false, 0xfffe);
	atapi_read_data(p, 5);
	prd(p, PRDT + 0x200, 0, RAM_END - 0x800, 0x800, true);
	bm_setup(p, CD_CH, PRDT + 0x200, true);
	atapi_packet(p, read_dma, true, 0);
	bm_start_and_finish(p, CD_CH, true);
	static const uint8_t inquiry[12] = { 0x12, 0, 0, 0, 36 };
	prd(p, PRDT + 0x200, 0, DMA_BUF, 0x200, true);
	bm_setup(p, CD_CH, PRDT + 0x200, true);
	atapi_packet(p, inquiry, true, 0);
	bm_start_and_finish(p, CD_CH, true);
}

/* ---- AC'97 ------------------------------------------------------------- */

enum { NAM_MASTER = 0x02, NAM_PCM_OUT = 0x18, NAM_EXT_STATUS = 0x2a, NAM_FRONT_RATE = 0x2c };
enum { PO_BDBAR = 0x10, PO_CIV = 0x14, PO_LVI = 0x15, PO_SR = 0x16, PO_PICB = 0x18, PO_CR = 0x1b };
enum { GLOB_CNT = 0x2c, GLOB_STA = 0x30 };

static void ac97_link_up(struct program *p)
{
	out(p, T_AC97_NABM, GLOB_CNT, W32, 0x02);	/* cold reset released */
	in(p, T_AC97_NABM, GLOB_STA, W32);
	out(p, T_AC97_NAM, 0x00, W16, 0);		/* codec reset */
	out(p, T_AC97_NAM, NAM_MASTER, W16, 0x0404);
	out(p, T_AC97_NAM, NAM_PCM_OUT, W16, 0x0808);
	out(p, T_AC97_NAM, NAM_EXT_STATUS, W16, 0x0001);	/* VRA */
	out(p, T_AC97_NAM, NAM_FRONT_RATE, W16, 44100);
	in(p, T_AC97_NAM, NAM_FRONT_RATE, W16);
}

static void ac97_run_po(struct program *p, uint32_t bdl, uint8_t lvi)
{
	out(p, T_AC97_NABM, PO_CR, W8, 0x02);		/* box reset */
	out(p, T_AC97_NABM, PO_BDBAR, W32, bdl);
	out(p, T_AC97_NABM, PO_LVI, W8, lvi);
	out(p, T_AC97_NABM, PO_CR, W8, 0x1d);		/* run, LVBIE, FEIE, IOCE */
	for (unsigned i = 0; i < 6; i++) {
		wait_ns(p, 5000000);
		in(p, T_AC97_NABM, PO_CIV, W8);
		in(p, T_AC97_NABM, PO_PICB, W16);
		in(p, T_AC97_NABM, PO_SR, W16);
		out(p, T_AC97_NABM, PO_SR, W16, 0x1c);	/* acknowledge */
		in(p, T_AC97_NABM, GLOB_STA, W32);
	}
}

static void ac97_playback(struct program *p)
{
	ac97_link_up(p);
	for (unsigned i = 0; i < 16; i++)
		ram(p, SOUND_BUF + 8 * i, W64, 0x7fff8000100020ffull * (i + 1));
	ram(p, BDL, W64, (uint64_t)(0x80000000u | 1024) << 32 | SOUND_BUF);
	ram(p, BDL + 8, W64, (uint64_t)(0x80000000u | 2048) << 32 | (SOUND_BUF + 0x1000));
	ram(p, BDL + 16, W64, (uint64_t)(0xc0000000u | 512) << 32 | (SOUND_BUF + 0x2000));
	ac97_run_po(p, BDL, 2);
	/* Recording's silence into the same buffers: PCM in at 0x00. */
	out(p, T_AC97_NABM, 0x00, W32, BDL);
	out(p, T_AC97_NABM, 0x05, W8, 1);
	out(p, T_AC97_NABM, 0x0b, W8, 0x11);
	wait_ns(p, 15000000);
	in(p, T_AC97_NABM, 0x06, W16);
}

/* ---- fw_cfg ------------------------------------------------------------- */

enum { FW_SELECTOR = 0, FW_DATA = 1, FW_DMA_HIGH = 4, FW_DMA_LOW = 8 };
#define FW_DMA_READ 0x02u
#define FW_DMA_SKIP 0x04u
#define FW_DMA_SELECT 0x08u
#define FW_FILE_DIR 0x19u

static void fw_dma(struct program *p, uint32_t desc, uint32_t control, uint32_t len, uint32_t buf)
{
	ram(p, desc, W32, be32(control));
	ram(p, desc + 4, W32, be32(len));
	ram(p, desc + 8, W32, 0);
	ram(p, desc + 12, W32, be32(buf));
	out(p, T_FW_CFG, FW_DMA_HIGH, W32, 0);
	out(p, T_FW_CFG, FW_DMA_LOW, W32, be32(desc));
}

static void fw_cfg_dma_read(struct program *p)
{
	in(p, T_FW_CFG, FW_DMA_HIGH, W64);		/* the signature */
	out(p, T_FW_CFG, FW_SELECTOR, W16, 0x0000);	/* "QEMU" */
	for (unsigned i = 0; i < 4; i++)
		in(p, T_FW_CFG, FW_DATA, W8);
	/* The directory: its count, then the whole of it by DMA. */
	out(p, T_FW_CFG, FW_SELECTOR, W16, FW_FILE_DIR);
	for (unsigned i = 0; i < 4; i++)
		in(p, T_FW_CFG, FW_DATA, W8);
	fw_dma(p, FW_DESC, FW_FILE_DIR << 16 | FW_DMA_SELECT | FW_DMA_READ, 4 + 3 * 64, FW_BUF);
	/* Each file: skip a little, read the rest. */
	for (uint32_t key = 0x20; key < 0x23; key++) {
		fw_dma(p, FW_DESC, key << 16 | FW_DMA_SELECT | FW_DMA_SKIP, 16, 0);
		fw_dma(p, FW_DESC, FW_DMA_READ, 0x2000, FW_BUF + 0x1000);
	}
}

/* ---- HPET ---------------------------------------------------------------- */

enum { HPET_CONFIG = 0x10, HPET_STATUS = 0x20, HPET_COUNTER = 0xf0 };
#define HPET_T(n) (0x100u + 0x20u * (n))
#define TN_LEVEL 0x2u
#define TN_ENB 0x4u
#define TN_PERIODIC 0x8u
#define TN_VAL_SET 0x40u
#define TN_32BIT 0x100u

static void hpet_timers(struct program *p)
{
	in(p, T_HPET, 0, W64);				/* capabilities */
	out(p, T_HPET, HPET_CONFIG, W32, 0);
	out(p, T_HPET, HPET_COUNTER, W64, 0);
	/* Timer 0 periodic every 10 us (1000 ticks), legacy-routed. */
	out(p, T_HPET, HPET_T(0), W32, TN_ENB | TN_PERIODIC | TN_VAL_SET);
	out(p, T_HPET, HPET_T(0) + 8, W64, 1000);
	out(p, T_HPET, HPET_T(0) + 8, W64, 1000);
	/* Timer 1 one-shot in 32-bit mode; timer 2 level-triggered on pin 20. */
	out(p, T_HPET, HPET_T(1), W32, TN_ENB | TN_32BIT);
	out(p, T_HPET, HPET_T(1) + 8, W32, 3000);
	out(p, T_HPET, HPET_T(2), W32, TN_ENB | TN_LEVEL | 20u << 9);
	out(p, T_HPET, HPET_T(2) + 8, W64, 5000);
	out(p, T_HPET, HPET_CONFIG, W32, 0x3);		/* enabled, legacy route */
	record(p, OP_HPET_INPUT, 1, 0, 0);		/* the PIT's line, cut off */
	for (unsigned i = 0; i < 4; i++) {
		wait_ns(p, 20000);
		in(p, T_HPET, HPET_STATUS, W32);
		out(p, T_HPET, HPET_STATUS, W32, 0x7);
		in(p, T_HPET, HPET_COUNTER, W32);
		in(p, T_HPET, HPET_COUNTER + 4, W32);
	}
	record(p, OP_ADVANCE, 0, 0, (uint64_t)26 << 24 | 0xffffff);	/* about 13 days */
	out(p, T_HPET, HPET_CONFIG, W32, 0x1);
	record(p, OP_HPET_INPUT, 0, 1, 0);
	in(p, T_HPET, HPET_T(0) + 8, W64);
}

/* ---- VGA ------------------------------------------------------------------- */

static void vga_out(struct program *p, unsigned port, uint8_t v)
{
	out(p, T_VGA, port - 0x3b0, W8, v);
}

static void vga_idx(struct program *p, unsigned port, uint8_t index, uint8_t v)
{
	vga_out(p, port, index);
	vga_out(p, port + 1, v);
}

static void vga_window(struct program *p, uint32_t offset, uint64_t bytes)
{
	record(p, OP_VGA_WINDOW, offset & 1, (offset >> 1) & 0xffff, bytes);
}

static void vga_program(struct program *p)
{
	vga_out(p, 0x3c2, 0x67);			/* misc: colour */
	vga_idx(p, 0x3d4, 0x11, 0x0e);			/* unprotect CRTC 0-7 */
	vga_idx(p, 0x3d4, 0x01, 79);
	vga_idx(p, 0x3d4, 0x09, 0x0f);			/* 16-line characters */
	vga_idx(p, 0x3d4, 0x0a, 0x0d);			/* cursor lines 13-14 */
	vga_idx(p, 0x3d4, 0x0b, 0x0e);
	vga_idx(p, 0x3d4, 0x0e, 0x00);
	vga_idx(p, 0x3d4, 0x0f, 0x02);
	vga_idx(p, 0x3d4, 0x0c, 0x00);			/* start address */
	vga_idx(p, 0x3c4, 0x01, 0x00);			/* 9-dot characters */
	in(p, T_VGA, 0x3da - 0x3b0, W8);		/* attribute flip-flop to index */
	vga_out(p, 0x3c0, 0x10);
	vga_out(p, 0x3c0, 0x0c);
	vga_out(p, 0x3c0, 0x20);			/* PAS */
	vga_out(p, 0x3c8, 0x07);			/* DAC entry 7 */
	vga_out(p, 0x3c9, 0x3f);
	vga_out(p, 0x3c9, 0x20);
	vga_out(p, 0x3c9, 0x10);
	/* "Hello" in the text window at 0xb8000, then a render. */
	vga_window(p, 0x18000, 0x1f6c1f6c1f651f48ull);
	vga_window(p, 0x18008, 0x9f219f201f6f);
	record(p, OP_VGA_RENDER, 0, 0, 0);
	/* A font load the vgacon way, glyph bytes at 0xa0000, restored. */
	vga_idx(p, 0x3c4, 0x02, 0x04);
	vga_idx(p, 0x3c4, 0x04, 0x07);
	vga_idx(p, 0x3ce, 0x04, 0x02);
	vga_idx(p, 0x3ce, 0x05, 0x00);
	vga_idx(p, 0x3ce, 0x06, 0x04);
	vga_window(p, 0x48 * 32, 0xffff818181818181ull);
	vga_window(p, 0x48 * 32 + 8, 0x818181ffull);
	vga_idx(p, 0x3c4, 0x02, 0x03);
	vga_idx(p, 0x3c4, 0x04, 0x03);
	vga_idx(p, 0x3ce, 0x04, 0x00);
	vga_idx(p, 0x3ce, 0x05, 0x10);
	vga_idx(p, 0x3ce, 0x06, 0x0e);
	record(p, OP_VGA_RENDER, 0, 0, 0);
	vga_idx(p, 0x3d4, 0x12, 0xff);			/* a bigger screen: more lines */
	vga_idx(p, 0x3d4, 0x07, 0x42);
}

/* ---- Hostile -------------------------------------------------------------- */

/* A table whose first entry is RAM's last 8 bytes, without EOT: the next
 * entry lies past RAM's end. Then an entry that is half outside, and a
 * region that runs past the end. */
static void prd_past_ram_end(struct program *p)
{
	prd(p, RAM_END - 8, 0, DMA_BUF, 512, false);
	bm_setup(p, DISK_CH, RAM_END - 8, true);
	ata_command(p, 0xc8, 0, 2);
	bm_start_and_finish(p, DISK_CH, true);
	ram(p, RAM_END - 4, W32, DMA_BUF);
	bm_setup(p, DISK_CH, RAM_END - 4, true);
	ata_command(p, 0xc8, 0, 1);
	bm_start_and_finish(p, DISK_CH, true);
	prd(p, PRDT, 0, RAM_END - 0x100, 0x200, true);
	bm_setup(p, DISK_CH, PRDT, true);
	ata_command(p, 0xc8, 0, 1);
	bm_start_and_finish(p, DISK_CH, true);
}

/* A byte count of 0 is 64 KiB: one that ends exactly at RAM's end, one
 * that would run past it, and one for a write. */
static void prd_count_zero(struct program *p)
{
	prd(p, PRDT, 0, RAM_END - 0x10000, 0, true);
	bm_setup(p, DISK_CH, PRDT, true);
	ata_command(p, 0xc8, 0, 128);
	bm_start_and_finish(p, DISK_CH, true);
	prd(p, PRDT, 0, RAM_END - 0x8000, 0, true);
	bm_setup(p, DISK_CH, PRDT, true);
	ata_command(p, 0xc8, 0, 128);
	bm_start_and_finish(p, DISK_CH, true);
	prd(p, PRDT, 0, DMA_BUF, 0, true);
	bm_setup(p, DISK_CH, PRDT, false);
	ata_command(p, 0xca, 0, 0);			/* 256 sectors: more than the PRDs */
	bm_start_and_finish(p, DISK_CH, false);
}

static void ac97_bdl_outside_ram(struct program *p)
{
	ac97_link_up(p);
	/* A list whose buffer runs past RAM's end. */
	ram(p, BDL, W64, (uint64_t)(0x80000000u | 0xfffe) << 32 | (RAM_END - 0x100));
	ac97_run_po(p, BDL, 0);
	/* A list at RAM's last 8 bytes: entry 1 lies outside. */
	ram(p, RAM_END - 8, W64, (uint64_t)(0x80000000u | 2) << 32 | SOUND_BUF);
	ac97_run_po(p, RAM_END - 8, 3);
	/* A list outside RAM altogether. */
	ac97_run_po(p, 0xfff00000u, 31);
	/* Recording into a buffer past RAM's end. */
	out(p, T_AC97_NABM, 0x00, W32, BDL);
	out(p, T_AC97_NABM, 0x05, W8, 0);
	out(p, T_AC97_NABM, 0x0b, W8, 0x19);
	wait_ns(p, 15000000);
	in(p, T_AC97_NABM, 0x06, W16);
}

/* DMA into the BIOS area the PAM registers write-protect: the firmware
 * locked 0xf0000-0xfffff; PAM1 locks 0xc0000-0xc7fff too. */
static void dma_into_locked_bios_area(struct program *p)
{
	out(p, T_PCI_CONFIG, 2u << 14 | 0x5a, W8, 0x11);
	prd(p, PRDT, 0, 0xf0000, 0x400, false);
	prd(p, PRDT, 1, 0xc7e00, 0x400, true);
	bm_setup(p, DISK_CH, PRDT, true);
	ata_command(p, 0xc8, 0, 4);
	bm_start_and_finish(p, DISK_CH, true);
	fw_dma(p, FW_DESC, FW_FILE_DIR << 16 | FW_DMA_SELECT | FW_DMA_READ, 0x9000, 0xbf000);
	out(p, T_AC97_NABM, GLOB_CNT, W32, 0x02);
	ram(p, BDL, W64, (uint64_t)(0x80000000u | 0x800) << 32 | 0xfff00);
	out(p, T_AC97_NABM, 0x00, W32, BDL);
	out(p, T_AC97_NABM, 0x05, W8, 0);
	out(p, T_AC97_NABM, 0x0b, W8, 0x19);
	wait_ns(p, 15000000);
	in(p, T_AC97_NABM, 0x06, W16);
}

/* ---- Writing -------------------------------------------------------------- */

static void write_program(const char *outdir, const char *name, const struct program *p)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/storage", outdir);
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "fuzz_seeds: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/storage/%s", outdir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p->data, 1, p->size, f) != p->size || fclose(f) != 0) {
		fprintf(stderr, "fuzz_seeds: cannot write %s\n", path);
		exit(1);
	}
}

void storage_seeds(const char *outdir)
{
	static void (*const programs[])(struct program *) = {
		ide_pio_read, ide_pio_write, ide_dma_read, ide_dma_write,
		atapi_inquiry, atapi_read10, atapi_commands, atapi_dma_hostile,
		ac97_playback, fw_cfg_dma_read, hpet_timers, vga_program,
		prd_past_ram_end, prd_count_zero, ac97_bdl_outside_ram, dma_into_locked_bios_area,
	};
	static const char *const names[] = {
		"ide-pio-read", "ide-pio-write", "ide-dma-read", "ide-dma-write",
		"atapi-inquiry", "atapi-read10", "atapi-commands", "atapi-dma-hostile",
		"ac97-playback", "fw-cfg-dma-read", "hpet-timers", "vga",
		"prd-past-ram-end", "prd-count-zero", "ac97-bdl-outside-ram", "dma-into-locked-bios-area",
	};
	static struct program all, one;
	all.size = 0;
	for (size_t i = 0; i < sizeof(programs) / sizeof(programs[0]); i++) {
		one.size = 0;
		programs[i](&one);
		write_program(outdir, names[i], &one);
		/* The long PIO transfers stay out of the combined one. */
		if (all.size + one.size <= MAX_PROGRAM && one.size < 2048) {
			memcpy(all.data + all.size, one.data, one.size);
			all.size += one.size;
		}
	}
	write_program(outdir, "all", &all);
}
