/* The PIIX3 IDE controller: its PCI function, the legacy command and
 * control ports of both channels, the task-file registers and device
 * control (nIEN, SRST, HOB), the interrupt lines, PIO blocks through the
 * data port, and the bus master's PRD walk. What a command does is the
 * drive's (ata.c, atapi.c). See ide.h. */
#include "devices/ide_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PIIX_IDETIM		0x40	/* primary at 0x40, secondary at 0x42 */
#define PIIX_SIDETIM		0x44
#define PCI_STATUS_FAST_B2B	0x0080
#define PCI_STATUS_DEVSEL_MEDIUM 0x0200

#define PRD_PAGE		0x10000u	/* neither the table nor a region crosses one */
#define PRD_ENTRY		8u

static const uint16_t cmd_ports[IDE_CHANNELS] = { IDE_PRIMARY_CMD, IDE_SECONDARY_CMD };
static const uint16_t ctl_ports[IDE_CHANNELS] = { IDE_PRIMARY_CTL, IDE_SECONDARY_CTL };

static struct ide_drive *selected(struct ide_channel *ch)
{
	return &ch->drive[ch->sel];
}

static bool present(const struct ide_drive *d)
{
	return d->kind != IDE_KIND_NONE;
}

struct disk_io *ide_io(struct ide_drive *d)
{
	return &d->ch->ide->io;
}

struct ide_stats *ide_stats(struct ide_drive *d)
{
	return &d->ch->ide->stats;
}

/* ---- The interrupt --------------------------------------------------------- */

/* The line follows the selected drive's INTRQ unless nIEN; only the
 * selected device drives INTRQ on a real cable. The bus master latches
 * the rising edge in its interrupt bit. */
static void update_irq(struct ide_channel *ch)
{
	bool level = selected(ch)->intrq && !(ch->devctl & IDE_CTL_NIEN);

	if (level == ch->irq_level)
		return;
	ch->irq_level = level;
	if (level)
		ch->bm_status |= IDE_BM_ST_INTERRUPT;
	irq_line_set(&ch->irq, level);
}

void ide_raise(struct ide_drive *d)
{
	d->intrq = true;
	update_irq(d->ch);
}

static void lower(struct ide_drive *d)
{
	d->intrq = false;
	update_irq(d->ch);
}

/* ---- Command completion and data phases ----------------------------------- */

void ide_end_phase(struct ide_drive *d)
{
	d->phase = IDE_PHASE_IDLE;
	d->xfer = IDE_XFER_NONE;
	d->pos = d->end = d->fill = 0;
}

void ide_finish(struct ide_drive *d, uint8_t status)
{
	ide_end_phase(d);
	d->status = status;
	ide_raise(d);
}

void ide_fail(struct ide_drive *d, uint8_t error)
{
	uint8_t status = IDE_STATUS_DRDY | IDE_STATUS_ERR;

	if (d->kind == IDE_KIND_DISK)
		status |= IDE_STATUS_DSC;
	else if (d->command == ATA_CMD_PACKET)	/* the packet protocol's status phase */
		d->nsect = IDE_IREASON_IO | IDE_IREASON_COD;
	d->error = error;
	ide_stats(d)->errors++;
	ide_finish(d, status);
}

static uint8_t drq_status(const struct ide_drive *d)
{
	return IDE_STATUS_DRDY | IDE_STATUS_DRQ | (d->kind == IDE_KIND_DISK ? IDE_STATUS_DSC : 0);
}

void ide_pio_start(struct ide_drive *d, enum ide_phase phase, enum ide_xfer xfer, uint32_t start,
		   uint32_t len, bool irq)
{
	d->phase = phase;
	d->xfer = xfer;
	d->pos = start;
	d->end = start + len;
	d->status = drq_status(d);
	if (irq)
		ide_raise(d);
}

/* The host has moved the whole block: the drive says what comes next. */
static void pio_block_done(struct ide_drive *d)
{
	switch (d->xfer) {
	case IDE_XFER_ATA_READ:
	case IDE_XFER_ATA_WRITE:
		ata_pio_done(d);
		break;
	case IDE_XFER_PACKET:
	case IDE_XFER_ATAPI_DATA:
		atapi_pio_done(d);
		break;
	case IDE_XFER_IDENTIFY:
	case IDE_XFER_NONE:
		/* The last block of a PIO read ends without an interrupt. */
		ide_end_phase(d);
		d->status = drq_status(d) & ~IDE_STATUS_DRQ;
		break;
	}
}

static uint16_t data_read16(struct ide_channel *ch)
{
	struct ide_drive *d = selected(ch);
	uint16_t v;

	if (d->phase != IDE_PHASE_PIO_IN)
		return 0xffff;
	if (d->end - d->pos >= 2) {
		v = (uint16_t)(d->buf[d->pos] | d->buf[d->pos + 1] << 8);
		d->pos += 2;
	} else {	/* an odd ATAPI block's last byte, padded */
		v = d->buf[d->pos];
		d->pos++;
	}
	if (d->pos >= d->end)
		pio_block_done(d);
	return v;
}

static void data_write16(struct ide_channel *ch, uint16_t v)
{
	struct ide_drive *d = selected(ch);

	if (d->phase != IDE_PHASE_PIO_OUT)
		return;
	d->buf[d->pos++] = (uint8_t)v;
	if (d->pos < d->end)
		d->buf[d->pos++] = (uint8_t)(v >> 8);
	if (d->pos >= d->end)
		pio_block_done(d);
}

/* ---- Bus master DMA -------------------------------------------------------- */

static struct ide_drive *dma_waiting(struct ide_channel *ch)
{
	/* Only one drive should wait; if the guest made both, the selected
	 * one goes first. */
	if (selected(ch)->phase == IDE_PHASE_DMA)
		return selected(ch);
	if (ch->drive[ch->sel ^ 1].phase == IDE_PHASE_DMA)
		return &ch->drive[ch->sel ^ 1];
	return NULL;
}

static void dma_run(struct ide_channel *ch)
{
	struct ide_drive *d = dma_waiting(ch);

	if (!ch->bm_armed || !d)
		return;
	ch->bm_armed = false;
	ch->walk = (struct ide_prd_walk){
		.next = ch->bm_prdt,
		.page = ch->bm_prdt & ~(uint64_t)(PRD_PAGE - 1),
	};
	bool to_guest = d->xfer != IDE_XFER_ATA_WRITE;
	bool master = pci_function_get(&ch->ide->pci, PCI_REG_COMMAND, 2) & PCI_COMMAND_MASTER;
	if (!master || !(ch->bm_command & IDE_BM_CMD_TO_MEMORY) != !to_guest) {
		ide_dma_fail(d);
		return;
	}
	ch->ide->stats.dma_transfers++;
	if (d->kind == IDE_KIND_DISK)
		ata_dma_run(d);
	else
		atapi_dma_run(d);
}

void ide_dma_start(struct ide_drive *d, enum ide_xfer xfer)
{
	d->phase = IDE_PHASE_DMA;
	d->xfer = xfer;
	d->status = drq_status(d);
	dma_run(d->ch);
}

/* The next region of the table; false when there is none (the last was
 * used, or the table leaves its page without an EOT entry), the entry is
 * not in RAM, or the region crosses a 64 KiB boundary. */
static bool prd_fetch(struct ide_channel *ch)
{
	struct ide_prd_walk *w = &ch->walk;

	if (w->last || ((w->next + PRD_ENTRY - 1) & ~(uint64_t)(PRD_PAGE - 1)) != w->page)
		return false;
	const uint8_t *e = guest_ram_ptr(ch->ide->ram, w->next, PRD_ENTRY);
	if (!e)
		return false;
	uint32_t base = (uint32_t)(e[0] | e[1] << 8 | e[2] << 16 | (uint32_t)e[3] << 24);
	uint32_t count = (uint32_t)(e[4] | e[5] << 8 | e[6] << 16 | (uint32_t)e[7] << 24);
	w->next += PRD_ENTRY;
	w->addr = base & ~1u;		/* bit 0 is reserved: word aligned */
	w->left = count & 0xfffe;
	if (!w->left)
		w->left = PRD_PAGE;
	w->last = count & IDE_PRD_EOT;
	return (w->addr & (PRD_PAGE - 1)) + w->left <= PRD_PAGE;
}

bool ide_dma_move(struct ide_drive *d, uint8_t *buf, uint32_t len, bool to_guest)
{
	struct ide_channel *ch = d->ch;
	struct ide *ide = ch->ide;
	struct ide_prd_walk *w = &ch->walk;

	while (len) {
		if (!w->left && !prd_fetch(ch))
			return false;
		uint32_t piece = w->left < len ? w->left : len;
		uint8_t *ram = guest_ram_ptr(ide->ram, w->addr, piece);
		if (!ram)
			return false;
		if (to_guest) {
			/* Dropped where the PAM registers lock the BIOS area. */
			guest_ram_dma_write(ide->ram, w->addr, buf, piece);
			guest_ram_written(ide->ram, w->addr, piece);
			if (ide->host.guest_written)
				ide->host.guest_written(ide->host.opaque, w->addr, piece);
		} else {
			memcpy(buf, ram, piece);
		}
		buf += piece;
		len -= piece;
		w->addr += piece;
		w->left -= piece;
	}
	return true;
}

void ide_dma_stop(struct ide_drive *d)
{
	struct ide_channel *ch = d->ch;

	/* PRDs left over keep the active bit, as SFF-8038i says: the driver
	 * sees the interrupt with it set and stops the engine itself. */
	if (!ch->walk.left && ch->walk.last)
		ch->bm_status &= (uint8_t)~IDE_BM_ST_ACTIVE;
}

void ide_dma_fail(struct ide_drive *d)
{
	struct ide_channel *ch = d->ch;

	ch->bm_status = (uint8_t)((ch->bm_status & ~IDE_BM_ST_ACTIVE) | IDE_BM_ST_ERROR);
	ch->ide->stats.dma_errors++;
	if (d->kind == IDE_KIND_CDROM) {
		/* ABORTED COMMAND, DATA PHASE ERROR */
		d->atapi.sense = (struct atapi_sense){ 0x0b, 0x4b, 0x00 };
		ide_fail(d, 0x0b << 4);
	} else {
		ide_fail(d, IDE_ERROR_ABRT);
	}
}

static uint8_t bm_read(struct ide_channel *ch, unsigned reg)
{
	switch (reg) {
	case IDE_BM_COMMAND:
		return ch->bm_command;
	case IDE_BM_STATUS:
		return ch->bm_status;
	case IDE_BM_PRDT:
	case IDE_BM_PRDT + 1:
	case IDE_BM_PRDT + 2:
	case IDE_BM_PRDT + 3:
		return (uint8_t)(ch->bm_prdt >> (8 * (reg - IDE_BM_PRDT)));
	default:
		return 0;
	}
}

static void bm_write(struct ide_channel *ch, unsigned reg, uint8_t v)
{
	switch (reg) {
	case IDE_BM_COMMAND: {
		bool was = ch->bm_command & IDE_BM_CMD_START;
		ch->bm_command = v & (IDE_BM_CMD_START | IDE_BM_CMD_TO_MEMORY);
		if (!(v & IDE_BM_CMD_START)) {
			/* Stopping aborts whatever was left; a drive still
			 * waiting waits for the next start. */
			ch->bm_status &= (uint8_t)~IDE_BM_ST_ACTIVE;
			ch->bm_armed = false;
		} else if (!was) {
			ch->bm_status |= IDE_BM_ST_ACTIVE;
			ch->bm_armed = true;
			dma_run(ch);
		}
		break;
	}
	case IDE_BM_STATUS:
		/* Error and interrupt are write-one-to-clear; the drives' DMA
		 * capable bits are the firmware's to set. */
		ch->bm_status = (uint8_t)((ch->bm_status & IDE_BM_ST_ACTIVE) |
					  (ch->bm_status & ~v & (IDE_BM_ST_ERROR | IDE_BM_ST_INTERRUPT)) |
					  (v & IDE_BM_ST_DMA_CAPABLE));
		break;
	case IDE_BM_PRDT:
	case IDE_BM_PRDT + 1:
	case IDE_BM_PRDT + 2:
	case IDE_BM_PRDT + 3: {
		unsigned shift = 8 * (reg - IDE_BM_PRDT);
		ch->bm_prdt = (ch->bm_prdt & ~(0xffu << shift)) | (uint32_t)v << shift;
		ch->bm_prdt &= ~3u;	/* the table is dword aligned */
		break;
	}
	default:
		break;
	}
}

static uint64_t bm_port_read(void *opaque, uint64_t offset, unsigned width)
{
	struct ide *ide = opaque;
	uint64_t v = 0;

	for (unsigned i = 0; i < width; i++) {
		unsigned at = (unsigned)offset + i;
		v |= (uint64_t)bm_read(&ide->ch[at / 8 % IDE_CHANNELS], at % 8) << (8 * i);
	}
	return v;
}

static void bm_port_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct ide *ide = opaque;

	for (unsigned i = 0; i < width; i++) {
		unsigned at = (unsigned)offset + i;
		bm_write(&ide->ch[at / 8 % IDE_CHANNELS], at % 8, (uint8_t)(value >> (8 * i)));
	}
}

static const struct bus_ops bm_ops = {
	.read = bm_port_read,
	.write = bm_port_write,
	.max_width = 4,
};

/* ---- Registers ------------------------------------------------------------- */

/* A write to a task-file register goes to both drives; the old value
 * becomes the "previous" one LBA48 commands read. */
static void taskfile_write(struct ide_channel *ch, unsigned reg, uint8_t v)
{
	for (unsigned u = 0; u < IDE_UNITS; u++) {
		struct ide_drive *d = &ch->drive[u];
		switch (reg) {
		case IDE_REG_ERROR:
			d->hob_feature = d->feature;
			d->feature = v;
			break;
		case IDE_REG_NSECT:
			d->hob_nsect = d->nsect;
			d->nsect = v;
			break;
		case IDE_REG_LBAL:
			d->hob_lbal = d->lbal;
			d->lbal = v;
			break;
		case IDE_REG_LBAM:
			d->hob_lbam = d->lbam;
			d->lbam = v;
			break;
		case IDE_REG_LBAH:
			d->hob_lbah = d->lbah;
			d->lbah = v;
			break;
		case IDE_REG_DEVICE:
			d->device = v;
			break;
		}
	}
}

/* EXECUTE DEVICE DIAGNOSTIC runs on both drives whichever is selected. */
static void diagnostic(struct ide_channel *ch, struct ide_drive *d)
{
	for (unsigned u = 0; u < IDE_UNITS; u++) {
		struct ide_drive *e = &ch->drive[u];
		if (!present(e))
			continue;
		ide_end_phase(e);
		ata_set_signature(e);
		e->error = 0x01;	/* no error detected */
		e->status = e->kind == IDE_KIND_DISK ? IDE_STATUS_DRDY | IDE_STATUS_DSC : 0;
	}
	/* Device 0 reports for both, and the signature left it selected. */
	struct ide_drive *first = present(&ch->drive[0]) ? &ch->drive[0] : d;
	ch->sel = first->unit;
	ide_raise(first);
}

static void command_write(struct ide_channel *ch, uint8_t cmd)
{
	struct ide_drive *d = selected(ch);

	/* An absent drive ignores it, and so does one in reset or busy with
	 * a command (but a packet device takes DEVICE RESET at any time). */
	if (!present(d) || (ch->devctl & IDE_CTL_SRST))
		return;
	if ((d->status & (IDE_STATUS_BSY | IDE_STATUS_DRQ)) &&
	    !(d->kind == IDE_KIND_CDROM && cmd == ATA_CMD_DEVICE_RESET))
		return;
	lower(d);
	d->command = cmd;
	d->error = 0;
	ch->ide->stats.commands++;
	if (cmd == ATA_CMD_DIAGNOSTIC)
		diagnostic(ch, d);
	else if (d->kind == IDE_KIND_DISK)
		ata_command(d, cmd);
	else
		atapi_command(d, cmd);
}

static uint8_t reg_read(struct ide_channel *ch, unsigned reg)
{
	struct ide_drive *d = selected(ch);
	bool hob = ch->devctl & IDE_CTL_HOB;

	/* Nothing answers for an absent drive: 0, as QEMU's PIIX, which is
	 * how Linux and SeaBIOS find the slot empty. */
	if (!present(d))
		return 0;
	switch (reg) {
	case IDE_REG_ERROR:
		return d->error;
	case IDE_REG_NSECT:
		return hob ? d->hob_nsect : d->nsect;
	case IDE_REG_LBAL:
		return hob ? d->hob_lbal : d->lbal;
	case IDE_REG_LBAM:
		return hob ? d->hob_lbam : d->lbam;
	case IDE_REG_LBAH:
		return hob ? d->hob_lbah : d->lbah;
	case IDE_REG_DEVICE:
		return d->device;
	case IDE_REG_STATUS:
		lower(d);
		return d->status;
	default:
		return 0xff;
	}
}

static void reg_write(struct ide_channel *ch, unsigned reg, uint8_t v)
{
	/* Any command block write ends a read of the high bytes. */
	ch->devctl &= (uint8_t)~IDE_CTL_HOB;
	switch (reg) {
	case IDE_REG_DEVICE:
		taskfile_write(ch, reg, v);
		ch->sel = v & IDE_DEVICE_DEV ? 1 : 0;
		update_irq(ch);
		break;
	case IDE_REG_STATUS:
		command_write(ch, v);
		break;
	default:
		taskfile_write(ch, reg, v);
		break;
	}
}

static uint64_t cmd_port_read(void *opaque, uint64_t offset, unsigned width)
{
	struct ide_channel *ch = opaque;
	uint64_t v = 0;

	if (offset == IDE_REG_DATA) {
		if (width == 1)
			return 0xff;
		v = data_read16(ch);
		if (width == 4)
			v |= (uint64_t)data_read16(ch) << 16;
		return v;
	}
	for (unsigned i = 0; i < width; i++)
		v |= (uint64_t)reg_read(ch, (unsigned)offset + i) << (8 * i);
	return v;
}

static void cmd_port_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct ide_channel *ch = opaque;

	if (offset == IDE_REG_DATA) {
		if (width == 1)
			return;
		data_write16(ch, (uint16_t)value);
		if (width == 4)
			data_write16(ch, (uint16_t)(value >> 16));
		return;
	}
	for (unsigned i = 0; i < width; i++)
		reg_write(ch, (unsigned)offset + i, (uint8_t)(value >> (8 * i)));
}

/* SRST's rising edge puts both drives in reset (busy, the command
 * dropped); its falling edge ends the reset with the signature. */
static void devctl_write(struct ide_channel *ch, uint8_t v)
{
	uint8_t old = ch->devctl;

	ch->devctl = v & (IDE_CTL_NIEN | IDE_CTL_SRST | IDE_CTL_HOB);
	if ((v & IDE_CTL_SRST) && !(old & IDE_CTL_SRST)) {
		for (unsigned u = 0; u < IDE_UNITS; u++) {
			struct ide_drive *d = &ch->drive[u];
			ide_end_phase(d);
			d->intrq = false;
			d->status = present(d) ? IDE_STATUS_BSY : 0;
		}
	} else if (!(v & IDE_CTL_SRST) && (old & IDE_CTL_SRST)) {
		for (unsigned u = 0; u < IDE_UNITS; u++) {
			struct ide_drive *d = &ch->drive[u];
			if (!present(d))
				continue;
			ata_set_signature(d);
			d->error = 0x01;
			/* A packet device leaves DRDY clear after a reset. */
			d->status = d->kind == IDE_KIND_DISK ? IDE_STATUS_DRDY | IDE_STATUS_DSC : 0;
		}
		ch->sel = 0;
	}
	update_irq(ch);
}

static uint64_t ctl_port_read(void *opaque, uint64_t offset, unsigned width)
{
	struct ide_channel *ch = opaque;
	struct ide_drive *d = selected(ch);

	(void)offset;
	(void)width;
	/* Alternate status: the status without acknowledging the interrupt. */
	return present(d) ? d->status : 0;
}

static void ctl_port_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	(void)offset;
	(void)width;
	devctl_write(opaque, (uint8_t)value);
}

static const struct bus_ops cmd_ops = {
	.read = cmd_port_read,
	.write = cmd_port_write,
	.max_width = 4,
};

static const struct bus_ops ctl_ops = {
	.read = ctl_port_read,
	.write = ctl_port_write,
	.max_width = 1,
};

/* ---- The PCI function ------------------------------------------------------ */

static const struct pci_id piix3_ide_id = {
	.vendor = IDE_VENDOR,
	.device = IDE_DEVICE,
	.class_code = IDE_CLASS,
};

static void bar_mapped(void *opaque, unsigned bar, uint64_t addr)
{
	struct ide *ide = opaque;

	if (bar == IDE_BM_BAR)
		pci_region_place(&ide->bm_region, addr);
}

static void pci_setup(struct ide *ide)
{
	struct pci_function *f = &ide->pci;

	pci_function_init(f, IDE_DEVFN, &piix3_ide_id);
	pci_function_set(f, PCI_REG_STATUS, 2, PCI_STATUS_FAST_B2B | PCI_STATUS_DEVSEL_MEDIUM);
	pci_function_add_bar(f, IDE_BM_BAR, PCI_BAR_IO, IDE_BM_BAR_SIZE);
	/* The timing registers: kept for the guest to read back. */
	for (unsigned r = PIIX_IDETIM; r <= PIIX_SIDETIM; r++)
		f->wmask[r] = 0xff;
	f->bar_mapped = bar_mapped;
	f->opaque = ide;
}

/* ---- Power-on, images, attaching ------------------------------------------- */

static void drive_power_on(struct ide_drive *d)
{
	d->feature = d->nsect = d->lbal = d->lbam = d->lbah = 0;
	d->hob_feature = d->hob_nsect = d->hob_lbal = d->hob_lbam = d->hob_lbah = 0;
	d->device = d->error = 0;
	d->intrq = false;
	d->command = 0;
	ide_end_phase(d);
	d->lba = 0;
	d->left = d->block = 0;
	if (!present(d)) {
		d->status = 0;
		return;
	}
	ata_power_on(d);
	if (d->kind == IDE_KIND_CDROM)
		atapi_power_on(d);
	ata_set_signature(d);
	d->error = 0x01;
	d->status = d->kind == IDE_KIND_DISK ? IDE_STATUS_DRDY | IDE_STATUS_DSC : 0;
}

void ide_init(struct ide *ide)
{
	memset(ide, 0, sizeof(*ide));
	for (unsigned c = 0; c < IDE_CHANNELS; c++) {
		struct ide_channel *ch = &ide->ch[c];
		ch->ide = ide;
		ch->index = c;
		for (unsigned u = 0; u < IDE_UNITS; u++) {
			ch->drive[u].ch = ch;
			ch->drive[u].unit = u;
		}
	}
}

struct disk_image *ide_image_open(const char *path, bool readonly, bool snapshot,
				  bool defer_lock, char *err, size_t errlen, int *ret)
{
	struct disk_image *img = malloc(sizeof(*img));

	if (!img) {
		snprintf(err, errlen, "%s: %s", path, strerror(ENOMEM));
		*ret = -ENOMEM;
		return NULL;
	}
	*ret = disk_image_open(img, path, readonly, snapshot, defer_lock, err, errlen);
	if (*ret) {
		free(img);
		return NULL;
	}
	return img;
}

void ide_image_close(struct disk_image *img)
{
	if (!img)
		return;
	disk_image_close(img);
	free(img);
}

static struct ide_drive *free_slot(struct ide *ide, unsigned slot, char *err, size_t errlen)
{
	if (slot >= IDE_SLOTS || ide->attached) {
		snprintf(err, errlen, "IDE slot %u: %s", slot,
			 ide->attached ? "the controller is running" : "there are only 4");
		return NULL;
	}
	struct ide_drive *d = &ide->ch[slot / IDE_UNITS].drive[slot % IDE_UNITS];
	if (present(d)) {
		snprintf(err, errlen, "IDE slot %u is taken", slot);
		return NULL;
	}
	return d;
}

static void name_drive(struct ide_drive *d, const char *model)
{
	unsigned slot = d->ch->index * IDE_UNITS + d->unit;

	snprintf(d->serial, sizeof(d->serial), "BTVM%05u", slot + 1);
	snprintf(d->model, sizeof(d->model), "%s", model);
}

struct disk_image *ide_slot_image(struct ide *ide, unsigned slot)
{
	return slot < IDE_SLOTS ? ide->ch[slot / IDE_UNITS].drive[slot % IDE_UNITS].image : NULL;
}

int ide_open_disk(struct ide *ide, unsigned slot, const char *path, bool readonly,
		  bool snapshot, bool defer_lock, char *err, size_t errlen)
{
	struct ide_drive *d = free_slot(ide, slot, err, errlen);
	int ret;

	if (!d)
		return -EINVAL;
	d->image = ide_image_open(path, readonly, snapshot, defer_lock, err, errlen, &ret);
	if (!d->image)
		return ret;
	d->kind = IDE_KIND_DISK;
	name_drive(d, "BTVM HARDDISK");
	return 0;
}

int ide_open_cdrom(struct ide *ide, unsigned slot, const char *path, char *err, size_t errlen)
{
	struct ide_drive *d = free_slot(ide, slot, err, errlen);
	int ret = 0;

	if (!d)
		return -EINVAL;
	if (path) {
		d->image = atapi_open_image(path, err, errlen, &ret);
		if (!d->image)
			return ret;
	}
	d->kind = IDE_KIND_CDROM;
	name_drive(d, "BTVM DVD-ROM");
	return 0;
}

int ide_attach(struct ide *ide, const struct guest_ram *ram, struct bus *bus,
	       const struct irq_line irq[IDE_CHANNELS], const struct ide_host *host)
{
	static const char *const names[IDE_CHANNELS][2] = {
		{ "ide0", "ide0-control" },
		{ "ide1", "ide1-control" },
	};
	unsigned registered = 0;
	int err = 0;

	if (ide->attached)
		return -EINVAL;
	for (unsigned c = 0; c < IDE_CHANNELS; c++) {
		for (unsigned u = 0; u < IDE_UNITS; u++) {
			struct ide_drive *d = &ide->ch[c].drive[u];
			if (!present(d))
				continue;
			/* Page aligned, so an aligned transfer goes O_DIRECT. */
			d->buf = aligned_alloc(4096, IDE_BUF_BYTES);
			if (!d->buf)
				return -ENOMEM;
			memset(d->buf, 0, IDE_BUF_BYTES);
		}
	}
	for (unsigned c = 0; c < IDE_CHANNELS && !err; c++) {
		err = bus_register(bus, BUS_SPACE_PIO, names[c][0], cmd_ports[c], 8, &cmd_ops,
				   &ide->ch[c]);
		if (!err) {
			registered |= 1u << (2 * c);
			err = bus_register(bus, BUS_SPACE_PIO, names[c][1], ctl_ports[c], 1, &ctl_ops,
					   &ide->ch[c]);
		}
		if (!err)
			registered |= 2u << (2 * c);
	}
	if (err) {
		/* Only what was ours comes off again. */
		for (unsigned c = 0; c < IDE_CHANNELS; c++) {
			if (registered & 1u << (2 * c))
				bus_unregister(bus, BUS_SPACE_PIO, cmd_ports[c]);
			if (registered & 2u << (2 * c))
				bus_unregister(bus, BUS_SPACE_PIO, ctl_ports[c]);
		}
		return err;
	}
	ide->ram = ram;
	ide->bus = bus;
	ide->host = *host;
	disk_io_init(&ide->io, false);
	for (unsigned c = 0; c < IDE_CHANNELS; c++)
		ide->ch[c].irq = irq[c];
	pci_setup(ide);
	pci_region_init(&ide->bm_region, bus, BUS_SPACE_PIO, "ide-busmaster", IDE_BM_BAR_SIZE,
			&bm_ops, ide);
	ide->attached = true;
	ide_reset(ide);
	return 0;
}

void ide_reset(struct ide *ide)
{
	/* The timing registers start with decoding off, for firmware. */
	for (unsigned r = PIIX_IDETIM; r <= PIIX_SIDETIM; r++)
		pci_function_set(&ide->pci, r, 1, 0);
	for (unsigned c = 0; c < IDE_CHANNELS; c++) {
		struct ide_channel *ch = &ide->ch[c];
		for (unsigned u = 0; u < IDE_UNITS; u++)
			drive_power_on(&ch->drive[u]);
		ch->sel = 0;
		ch->devctl = 0;
		ch->bm_command = ch->bm_status = 0;
		ch->bm_prdt = 0;
		ch->bm_armed = false;
		update_irq(ch);
	}
}

static struct ide_drive *cdrom_slot(struct ide *ide, unsigned slot, char *err, size_t errlen)
{
	struct ide_drive *d = slot < IDE_SLOTS ? &ide->ch[slot / IDE_UNITS].drive[slot % IDE_UNITS]
					       : NULL;

	if (!d || d->kind != IDE_KIND_CDROM) {
		snprintf(err, errlen, "IDE slot %u has no CD drive", slot);
		return NULL;
	}
	return d;
}

int ide_cdrom_change(struct ide *ide, unsigned slot, const char *path, bool force, char *err,
		     size_t errlen)
{
	struct ide_drive *d = cdrom_slot(ide, slot, err, errlen);

	return d ? atapi_change(d, path, force, err, errlen) : -EINVAL;
}

int ide_cdrom_eject(struct ide *ide, unsigned slot, bool force, char *err, size_t errlen)
{
	struct ide_drive *d = cdrom_slot(ide, slot, err, errlen);

	return d ? atapi_eject(d, force, err, errlen) : -EINVAL;
}

struct ide_stats ide_get_stats(const struct ide *ide)
{
	return ide->stats;
}

void ide_close(struct ide *ide)
{
	if (ide->attached) {
		for (unsigned c = 0; c < IDE_CHANNELS; c++) {
			bus_unregister(ide->bus, BUS_SPACE_PIO, cmd_ports[c]);
			bus_unregister(ide->bus, BUS_SPACE_PIO, ctl_ports[c]);
		}
		pci_region_place(&ide->bm_region, PCI_BAR_UNMAPPED);
		disk_io_destroy(&ide->io);
		ide->attached = false;
	}
	for (unsigned c = 0; c < IDE_CHANNELS; c++) {
		for (unsigned u = 0; u < IDE_UNITS; u++) {
			struct ide_drive *d = &ide->ch[c].drive[u];
			ide_image_close(d->image);
			d->image = NULL;
			free(d->buf);
			d->buf = NULL;
			d->kind = IDE_KIND_NONE;
		}
	}
}
