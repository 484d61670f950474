/* The IDE controller's snapshot section: the PCI function, both
 * channels and their bus masters, every drive's task file, settings and
 * data phase with its buffer, the CD drives' media, and the disks'
 * --snapshot overlays. A loaded section is checked field by field, so
 * that no file can put the device in a state its code does not expect
 * (a block past its buffer, a transfer past its image). See ide.h. */
#include "devices/ide_internal.h"
#include "host/snapfile.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#define IDE_SNAP_VERSION 1u

static void save_drive(struct ide_drive *d, struct snap_writer *w)
{
	const struct atapi_state *a = &d->atapi;

	snapw_u8(w, (uint8_t)d->kind);
	if (d->kind == IDE_KIND_NONE)
		return;
	snapw_bool(w, d->image != NULL);
	if (d->image) {
		snapw_str(w, d->image->path);
		snapw_u64(w, d->image->sectors);
		snapw_bool(w, d->image->readonly);
		snapw_bool(w, d->image->snapshot);
	}
	const uint8_t regs[] = {
		d->feature, d->nsect, d->lbal, d->lbam, d->lbah,
		d->hob_feature, d->hob_nsect, d->hob_lbal, d->hob_lbam, d->hob_lbah,
		d->device, d->status, d->error, d->command,
	};
	snapw_bytes(w, regs, sizeof(regs));
	snapw_bool(w, d->intrq);
	snapw_u8(w, (uint8_t)d->phase);
	snapw_u8(w, (uint8_t)d->xfer);
	snapw_u32(w, d->pos);
	snapw_u32(w, d->end);
	snapw_u32(w, d->fill);
	snapw_bytes(w, d->buf, d->fill);
	snapw_u64(w, d->lba);
	snapw_u32(w, d->left);
	snapw_u32(w, d->block);
	snapw_u8(w, d->multiple);
	snapw_u16(w, d->cylinders);
	snapw_u16(w, d->heads);
	snapw_u16(w, d->spt);
	snapw_bool(w, d->wcache);
	snapw_bool(w, d->lookahead);
	snapw_u8(w, d->xfer_mode);
	if (d->kind == IDE_KIND_CDROM) {
		snapw_bytes(w, a->packet, sizeof(a->packet));
		snapw_bool(w, a->dma);
		snapw_u16(w, a->byte_limit);
		snapw_u64(w, a->left);
		snapw_bool(w, a->reading);
		snapw_u64(w, a->lba);
		snapw_u8(w, a->sense.key);
		snapw_u8(w, a->sense.asc);
		snapw_u8(w, a->sense.ascq);
		snapw_u8(w, a->change);
		snapw_u8(w, a->event);
		snapw_bool(w, a->tray_open);
		snapw_bool(w, a->locked);
	} else {
		disk_image_save_overlay(d->image, w);
	}
}

void ide_save(struct ide *ide, const char *tag, struct snap_writer *w)
{
	snapw_begin(w, tag, IDE_SNAP_VERSION, true);
	pci_function_save(&ide->pci, w);
	for (unsigned c = 0; c < IDE_CHANNELS; c++) {
		struct ide_channel *ch = &ide->ch[c];
		snapw_u8(w, (uint8_t)ch->sel);
		snapw_u8(w, ch->devctl);
		snapw_bool(w, ch->irq_level);
		snapw_u8(w, ch->bm_command);
		snapw_u8(w, ch->bm_status);
		snapw_u32(w, ch->bm_prdt);
		snapw_bool(w, ch->bm_armed);
		for (unsigned u = 0; u < IDE_UNITS; u++)
			save_drive(&ch->drive[u], w);
	}
	snapw_end(w);
}

/* ---- Loading ------------------------------------------------------------- */

static const char *kind_name(unsigned kind)
{
	return kind == IDE_KIND_DISK ? "a disk" : kind == IDE_KIND_CDROM ? "a CD drive" : "empty";
}

/* The image the snapshot names: a disk must be the one this machine has,
 * as opened; a CD drive takes the medium it had, opened again when it
 * is another. */
static int load_image(struct ide_drive *d, unsigned slot, struct snap_reader *r)
{
	char path[PATH_MAX];
	bool has = snapr_bool(r);
	uint64_t sectors = 0;
	bool readonly = false, snapshot = false;

	if (has) {
		snapr_str(r, path, sizeof(path));
		sectors = snapr_u64(r);
		readonly = snapr_bool(r);
		snapshot = snapr_bool(r);
	}
	if (r->err)
		return r->err;
	if (d->kind == IDE_KIND_DISK) {
		if (!has || sectors != d->image->sectors)
			return snapr_fail(r, "IDE disk %s has %llu sectors now, %llu when the snapshot "
					  "was taken", d->image->path,
					  (unsigned long long)d->image->sectors,
					  (unsigned long long)sectors);
		if (readonly != d->image->readonly || snapshot != d->image->snapshot)
			return snapr_fail(r, "IDE disk %s is opened differently (readonly, --snapshot)",
					  d->image->path);
		return 0;
	}
	if (!has) {
		ide_image_close(d->image);
		d->image = NULL;
		return 0;
	}
	if (!d->image || strcmp(d->image->path, path) || d->image->sectors != sectors) {
		char err[SNAP_MSG_LEN];
		int ret;
		struct disk_image *img = atapi_open_image(path, err, sizeof(err), &ret);
		if (!img)
			return snapr_fail(r, "the CD in IDE slot %u: %s", slot, err);
		ide_image_close(d->image);
		d->image = img;
	}
	if (d->image->sectors != sectors)
		return snapr_fail(r, "the CD %s has %llu sectors now, %llu when the snapshot was "
				  "taken", path, (unsigned long long)d->image->sectors,
				  (unsigned long long)sectors);
	return 0;
}

static bool valid_xfer_mode(uint8_t m)
{
	return m <= 1 || (m >= 0x08 && m <= 0x0c) || (m >= 0x20 && m <= 0x22) ||
	       (m >= 0x40 && m <= 0x45);
}

/* Whether the phase, its transfer and the buffer fit together, so that
 * the data port and the bus master find what they expect. */
static bool valid_phase(const struct ide_drive *d)
{
	bool disk = d->kind == IDE_KIND_DISK;
	uint64_t sectors = d->image ? d->image->sectors : 0;

	if (d->fill > IDE_BUF_BYTES || d->end > d->fill || d->pos > d->end)
		return false;
	switch (d->phase) {
	case IDE_PHASE_IDLE:
		return d->xfer == IDE_XFER_NONE;
	case IDE_PHASE_PIO_IN:
	case IDE_PHASE_PIO_OUT:
		if (d->pos >= d->end)	/* a block in progress has bytes left */
			return false;
		break;
	case IDE_PHASE_DMA:
		break;
	default:
		return false;
	}
	bool in = d->phase == IDE_PHASE_PIO_IN, out = d->phase == IDE_PHASE_PIO_OUT;
	switch (d->xfer) {
	case IDE_XFER_ATA_READ:
	case IDE_XFER_ATA_WRITE: {
		bool read = d->xfer == IDE_XFER_ATA_READ;
		if (!disk || (read && out) || (!read && in) || !d->left ||
		    d->lba > sectors || d->left > sectors - d->lba)
			return false;
		if (d->phase == IDE_PHASE_DMA)
			return true;
		return d->end % DISK_IMAGE_SECTOR_SIZE == 0 &&
		       d->block >= 1 && d->block <= ATA_MAX_MULTIPLE &&
		       d->end / DISK_IMAGE_SECTOR_SIZE <= d->left &&
		       d->end / DISK_IMAGE_SECTOR_SIZE <= d->block;
	}
	case IDE_XFER_IDENTIFY:
		return in;
	case IDE_XFER_PACKET:
		return !disk && out && d->end == ATAPI_PACKET_SIZE;
	case IDE_XFER_ATAPI_DATA: {
		const struct atapi_state *a = &d->atapi;
		uint64_t buffered = d->fill - d->end;
		if (disk || out)
			return false;
		if (!a->reading)
			return a->left <= buffered;
		return a->left >= buffered && (a->left - buffered) % ATAPI_SECTOR_SIZE == 0;
	}
	default:
		return false;
	}
}

static int load_drive(struct ide_drive *d, unsigned slot, struct snap_reader *r)
{
	struct atapi_state *a = &d->atapi;
	unsigned kind = snapr_u8(r);

	if (r->err)
		return r->err;
	if (kind != d->kind)
		return snapr_fail(r, "IDE slot %u is %s here, %s in the snapshot", slot,
				  kind_name(d->kind), kind_name(kind));
	if (d->kind == IDE_KIND_NONE)
		return 0;
	if (load_image(d, slot, r))
		return r->err;
	uint8_t regs[14];
	snapr_bytes(r, regs, sizeof(regs));
	d->feature = regs[0];
	d->nsect = regs[1];
	d->lbal = regs[2];
	d->lbam = regs[3];
	d->lbah = regs[4];
	d->hob_feature = regs[5];
	d->hob_nsect = regs[6];
	d->hob_lbal = regs[7];
	d->hob_lbam = regs[8];
	d->hob_lbah = regs[9];
	d->device = regs[10];
	d->status = regs[11];
	d->error = regs[12];
	d->command = regs[13];
	d->intrq = snapr_bool(r);
	d->phase = (enum ide_phase)snapr_u8(r);
	d->xfer = (enum ide_xfer)snapr_u8(r);
	d->pos = snapr_u32(r);
	d->end = snapr_u32(r);
	d->fill = snapr_u32(r);
	if (r->err)
		return r->err;
	if (d->fill > IDE_BUF_BYTES)
		return snapr_fail(r, "IDE slot %u: a buffer of %u bytes", slot, d->fill);
	snapr_bytes(r, d->buf, d->fill);
	d->lba = snapr_u64(r);
	d->left = snapr_u32(r);
	d->block = snapr_u32(r);
	d->multiple = snapr_u8(r);
	d->cylinders = snapr_u16(r);
	d->heads = snapr_u16(r);
	d->spt = snapr_u16(r);
	d->wcache = snapr_bool(r);
	d->lookahead = snapr_bool(r);
	d->xfer_mode = snapr_u8(r);
	if (d->kind == IDE_KIND_CDROM) {
		snapr_bytes(r, a->packet, sizeof(a->packet));
		a->dma = snapr_bool(r);
		a->byte_limit = snapr_u16(r);
		a->left = snapr_u64(r);
		a->reading = snapr_bool(r);
		a->lba = snapr_u64(r);
		a->sense.key = snapr_u8(r);
		a->sense.asc = snapr_u8(r);
		a->sense.ascq = snapr_u8(r);
		a->change = snapr_u8(r);
		a->event = snapr_u8(r);
		a->tray_open = snapr_bool(r);
		a->locked = snapr_bool(r);
	}
	if (r->err)
		return r->err;
	bool settings_ok = (d->multiple & (d->multiple - 1)) == 0 &&
			   d->multiple <= ATA_MAX_MULTIPLE && d->heads >= 1 && d->heads <= 16 &&
			   d->spt >= 1 && d->spt <= 255 && valid_xfer_mode(d->xfer_mode);
	bool atapi_ok = d->kind != IDE_KIND_CDROM ||
			(a->change <= 2 && a->event <= 3 && (a->byte_limit >= 2 || !a->byte_limit));
	if (!settings_ok || !atapi_ok || !valid_phase(d))
		return snapr_fail(r, "IDE slot %u: a drive state this btvm never makes", slot);
	if (d->kind == IDE_KIND_DISK)
		return disk_image_load_overlay(d->image, r);
	return 0;
}

int ide_load(struct ide *ide, struct snap_reader *r)
{
	if (r->version != IDE_SNAP_VERSION)
		return snapr_fail(r, "version %u, this btvm reads %u", r->version, IDE_SNAP_VERSION);
	pci_function_load(&ide->pci, r);
	for (unsigned c = 0; c < IDE_CHANNELS && !r->err; c++) {
		struct ide_channel *ch = &ide->ch[c];
		ch->sel = snapr_u8(r) & 1;
		ch->devctl = snapr_u8(r) & (IDE_CTL_NIEN | IDE_CTL_SRST | IDE_CTL_HOB);
		/* As the interrupt controllers saw it: no edge now. */
		ch->irq_level = snapr_bool(r);
		ch->bm_command = snapr_u8(r) & (IDE_BM_CMD_START | IDE_BM_CMD_TO_MEMORY);
		ch->bm_status = snapr_u8(r) & (IDE_BM_ST_ACTIVE | IDE_BM_ST_ERROR |
					       IDE_BM_ST_INTERRUPT | IDE_BM_ST_DMA_CAPABLE);
		ch->bm_prdt = snapr_u32(r) & ~3u;
		ch->bm_armed = snapr_bool(r);
		for (unsigned u = 0; u < IDE_UNITS && !r->err; u++)
			load_drive(&ch->drive[u], c * IDE_UNITS + u, r);
	}
	return snapr_end(r);
}
