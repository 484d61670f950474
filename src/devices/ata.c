/* The ATA disk's command set: IDENTIFY DEVICE, the reads and writes (PIO
 * single and multiple, DMA, LBA28 and LBA48, CHS), FLUSH, SET FEATURES
 * and the other housekeeping commands, and the settings they leave.
 * Also the commands every drive takes (ata_common_command). Data moves
 * through the controller (ide.c); see ide.h for what is modelled. */
#include "devices/ide_internal.h"

#include <string.h>

#define SECTOR		DISK_IMAGE_SECTOR_SIZE
#define BUF_SECTORS	(IDE_BUF_BYTES / SECTOR)
#define LBA28_LIMIT	0x0fffffffu	/* the largest LBA28 capacity IDENTIFY states */
#define XFER_PIO	0x08
#define XFER_MWDMA	0x20
#define XFER_UDMA	0x40
#define FIRMWARE	"1.0"

static uint8_t ready(const struct ide_drive *d)
{
	return IDE_STATUS_DRDY | (d->kind == IDE_KIND_DISK ? IDE_STATUS_DSC : 0);
}

/* ---- IDENTIFY data helpers ------------------------------------------------- */

void ata_put_word(uint8_t *buf, unsigned word, uint16_t value)
{
	buf[2 * word] = (uint8_t)value;
	buf[2 * word + 1] = (uint8_t)(value >> 8);
}

void ata_put_string(uint8_t *words, const char *s, unsigned len)
{
	for (unsigned i = 0; i < len; i++) {
		char c = *s ? *s++ : ' ';
		words[i ^ 1] = (uint8_t)c;
	}
}

void ata_checksum(uint8_t *buf)
{
	uint8_t sum = 0;

	buf[510] = 0xa5;
	for (unsigned i = 0; i < 511; i++)
		sum = (uint8_t)(sum + buf[i]);
	buf[511] = (uint8_t)-sum;
}

/* ---- Geometry and addresses ------------------------------------------------ */

static uint64_t capacity(const struct ide_drive *d)
{
	return d->image ? d->image->sectors : 0;
}

/* The default translation: 16 heads of 63 sectors, as BIOSes and QEMU
 * give an LBA disk, cylinders as many as fit (1 to 16383). */
static uint16_t default_cylinders(const struct ide_drive *d)
{
	uint64_t c = capacity(d) / (16 * 63);

	return (uint16_t)(c > 16383 ? 16383 : c ? c : 1);
}

void ata_power_on(struct ide_drive *d)
{
	d->multiple = ATA_MAX_MULTIPLE;
	d->heads = 16;
	d->spt = 63;
	d->cylinders = default_cylinders(d);
	d->wcache = true;
	d->lookahead = true;
	d->xfer_mode = XFER_MWDMA | 2;
}

void ata_set_signature(struct ide_drive *d)
{
	d->nsect = 1;
	d->lbal = 1;
	if (d->kind == IDE_KIND_CDROM) {
		d->lbam = 0x14;
		d->lbah = 0xeb;
	} else {
		d->lbam = 0;
		d->lbah = 0;
	}
	d->device = 0;
}

static bool is_ext(uint8_t cmd)
{
	switch (cmd) {
	case ATA_CMD_READ_EXT:
	case ATA_CMD_READ_DMA_EXT:
	case ATA_CMD_READ_MULTIPLE_EXT:
	case ATA_CMD_WRITE_EXT:
	case ATA_CMD_WRITE_DMA_EXT:
	case ATA_CMD_WRITE_MULTIPLE_EXT:
	case ATA_CMD_VERIFY_EXT:
		return true;
	default:
		return false;
	}
}

/* The command's first sector: LBA48 for the EXT commands, else LBA28 or
 * CHS as the device register says. False for a CHS address outside the
 * current translation. */
static bool get_address(const struct ide_drive *d, uint64_t *lba)
{
	if (is_ext(d->command)) {
		*lba = (uint64_t)d->hob_lbah << 40 | (uint64_t)d->hob_lbam << 32 |
		       (uint64_t)d->hob_lbal << 24 | (uint64_t)d->lbah << 16 |
		       (uint64_t)d->lbam << 8 | d->lbal;
		return true;
	}
	if (d->device & IDE_DEVICE_LBA) {
		*lba = (uint64_t)(d->device & 0x0f) << 24 | (uint64_t)d->lbah << 16 |
		       (uint64_t)d->lbam << 8 | d->lbal;
		return true;
	}
	unsigned cyl = (unsigned)d->lbah << 8 | d->lbam, head = d->device & 0x0f;
	unsigned sector = d->lbal;
	if (!sector || sector > d->spt || head >= d->heads || cyl >= d->cylinders)
		return false;
	*lba = ((uint64_t)cyl * d->heads + head) * d->spt + sector - 1;
	return true;
}

/* Puts lba back in the registers in the command's addressing: where a
 * command ended or failed. */
static void set_address(struct ide_drive *d, uint64_t lba)
{
	if (is_ext(d->command)) {
		d->lbal = (uint8_t)lba;
		d->lbam = (uint8_t)(lba >> 8);
		d->lbah = (uint8_t)(lba >> 16);
		d->hob_lbal = (uint8_t)(lba >> 24);
		d->hob_lbam = (uint8_t)(lba >> 32);
		d->hob_lbah = (uint8_t)(lba >> 40);
	} else if (d->device & IDE_DEVICE_LBA) {
		d->lbal = (uint8_t)lba;
		d->lbam = (uint8_t)(lba >> 8);
		d->lbah = (uint8_t)(lba >> 16);
		d->device = (uint8_t)((d->device & 0xf0) | ((lba >> 24) & 0x0f));
	} else {
		uint64_t per_cyl = (uint64_t)d->heads * d->spt;
		uint64_t cyl = lba / per_cyl, rest = lba % per_cyl;
		d->lbah = (uint8_t)(cyl >> 8);
		d->lbam = (uint8_t)cyl;
		d->device = (uint8_t)((d->device & 0xf0) | (rest / d->spt));
		d->lbal = (uint8_t)(rest % d->spt + 1);
	}
}

static uint32_t sector_count(const struct ide_drive *d)
{
	if (is_ext(d->command)) {
		uint32_t n = (uint32_t)d->hob_nsect << 8 | d->nsect;
		return n ? n : 65536;
	}
	return d->nsect ? d->nsect : 256;
}

/* ---- IDENTIFY DEVICE ------------------------------------------------------- */

static void identify(struct ide_drive *d)
{
	uint8_t *b = d->buf;
	uint64_t n = capacity(d);
	uint32_t chs = (uint32_t)d->cylinders * d->heads * d->spt;
	uint16_t mwdma = 0x07, udma = 0x3f;

	if ((d->xfer_mode & 0xf8) == XFER_MWDMA)
		mwdma |= (uint16_t)(0x100 << (d->xfer_mode & 7));
	if ((d->xfer_mode & 0xf8) == XFER_UDMA)
		udma |= (uint16_t)(0x100 << (d->xfer_mode & 7));
	memset(b, 0, SECTOR);
	ata_put_word(b, 0, 0x0040);		/* fixed, not removable */
	ata_put_word(b, 1, default_cylinders(d));
	ata_put_word(b, 3, 16);
	ata_put_word(b, 6, 63);
	ata_put_string(b + 2 * 10, d->serial, 20);
	ata_put_string(b + 2 * 23, FIRMWARE, 8);
	ata_put_string(b + 2 * 27, d->model, 40);
	ata_put_word(b, 47, 0x8000 | ATA_MAX_MULTIPLE);
	/* IORDY, LBA, DMA */
	ata_put_word(b, 49, 1 << 11 | 1 << 9 | 1 << 8);
	ata_put_word(b, 50, 0x4000);
	ata_put_word(b, 51, 0x200);		/* PIO timing mode 2, obsolete */
	ata_put_word(b, 53, 0x0007);		/* words 54-58, 64-70 and 88 valid */
	ata_put_word(b, 54, d->cylinders);
	ata_put_word(b, 55, d->heads);
	ata_put_word(b, 56, d->spt);
	ata_put_word(b, 57, (uint16_t)chs);
	ata_put_word(b, 58, (uint16_t)(chs >> 16));
	if (d->multiple)
		ata_put_word(b, 59, 0x100 | d->multiple);
	uint32_t lba28 = n > LBA28_LIMIT ? LBA28_LIMIT : (uint32_t)n;
	ata_put_word(b, 60, (uint16_t)lba28);
	ata_put_word(b, 61, (uint16_t)(lba28 >> 16));
	ata_put_word(b, 63, mwdma);
	ata_put_word(b, 64, 0x03);		/* PIO 3 and 4 */
	for (unsigned w = 65; w <= 68; w++)
		ata_put_word(b, w, 120);	/* ns: the fastest cycles */
	ata_put_word(b, 80, 0x00f0);		/* ATA-4 to ATA-7 */
	ata_put_word(b, 81, 0x0016);
	/* Supported: NOP, look-ahead, write cache; FLUSH CACHE (EXT), LBA48. */
	ata_put_word(b, 82, 1 << 14 | 1 << 6 | 1 << 5);
	ata_put_word(b, 83, 1 << 14 | 1 << 13 | 1 << 12 | 1 << 10);
	ata_put_word(b, 84, 1 << 14);
	ata_put_word(b, 85, (uint16_t)(1 << 14 | d->lookahead << 6 | d->wcache << 5));
	ata_put_word(b, 86, 1 << 13 | 1 << 12 | 1 << 10);
	ata_put_word(b, 87, 1 << 14);
	ata_put_word(b, 88, udma);
	/* Hardware reset result: this device's bits, an 80-wire cable. */
	ata_put_word(b, 93, (uint16_t)(1 << 14 | 1 << 13 | (d->unit ? 0x0100 : 0x0001)));
	for (unsigned w = 0; w < 4; w++)
		ata_put_word(b, 100 + w, (uint16_t)(n >> (16 * w)));
	ata_checksum(b);
}

/* ---- Reads and writes ------------------------------------------------------- */

enum rw_mode { RW_SINGLE, RW_MULTIPLE, RW_DMA };

static void host_error(struct ide_drive *d, bool write)
{
	ide_stats(d)->host_errors++;
	set_address(d, d->lba);
	ide_fail(d, write ? IDE_ERROR_ABRT : IDE_ERROR_UNC);
}

/* Reads the next block of a PIO read and hands it to the host. */
static void read_block(struct ide_drive *d)
{
	uint32_t n = d->left < d->block ? d->left : d->block;
	struct iovec iov = { d->buf, (size_t)n * SECTOR };

	if (disk_image_read(d->image, ide_io(d), &iov, 1, d->lba, NULL)) {
		host_error(d, false);
		return;
	}
	ide_stats(d)->sectors_read += n;
	d->fill = n * SECTOR;
	ide_pio_start(d, IDE_PHASE_PIO_IN, IDE_XFER_ATA_READ, 0, n * SECTOR, true);
}

/* The write is in the image: with the write cache off it must be on the
 * disk too before the command completes. */
static void write_done(struct ide_drive *d)
{
	if (!d->wcache && disk_image_sync(d->image)) {
		host_error(d, true);
		return;
	}
	set_address(d, d->lba - 1);
	ide_finish(d, ready(d));
}

static void start_rw(struct ide_drive *d, bool write, enum rw_mode mode)
{
	uint32_t count = sector_count(d);
	uint64_t lba;

	if ((mode == RW_MULTIPLE && !d->multiple) || (write && d->image->readonly)) {
		ide_fail(d, IDE_ERROR_ABRT);
		return;
	}
	if (!get_address(d, &lba) || lba > capacity(d) || count > capacity(d) - lba) {
		ide_fail(d, IDE_ERROR_IDNF);
		return;
	}
	d->lba = lba;
	d->left = count;
	if (mode == RW_DMA) {
		ide_dma_start(d, write ? IDE_XFER_ATA_WRITE : IDE_XFER_ATA_READ);
		return;
	}
	d->block = mode == RW_MULTIPLE ? d->multiple : 1;
	if (write) {
		uint32_t n = count < d->block ? count : d->block;
		d->fill = n * SECTOR;
		/* The first block's DRQ comes without an interrupt. */
		ide_pio_start(d, IDE_PHASE_PIO_OUT, IDE_XFER_ATA_WRITE, 0, n * SECTOR, false);
	} else {
		read_block(d);
	}
}

void ata_pio_done(struct ide_drive *d)
{
	uint32_t n = d->end / SECTOR;

	if (d->xfer == IDE_XFER_ATA_READ) {
		d->lba += n;
		d->left -= n;
		if (d->left) {
			read_block(d);
			return;
		}
		/* The last block read: done, without an interrupt. */
		set_address(d, d->lba - 1);
		ide_end_phase(d);
		d->status = ready(d);
		return;
	}
	struct iovec iov = { d->buf, (size_t)n * SECTOR };
	if (disk_image_write(d->image, ide_io(d), &iov, 1, d->lba, NULL)) {
		host_error(d, true);
		return;
	}
	ide_stats(d)->sectors_written += n;
	d->lba += n;
	d->left -= n;
	if (!d->left) {
		write_done(d);
		return;
	}
	n = d->left < d->block ? d->left : d->block;
	d->fill = n * SECTOR;
	ide_pio_start(d, IDE_PHASE_PIO_OUT, IDE_XFER_ATA_WRITE, 0, n * SECTOR, true);
}

void ata_dma_run(struct ide_drive *d)
{
	bool write = d->xfer == IDE_XFER_ATA_WRITE;

	while (d->left) {
		uint32_t n = d->left < BUF_SECTORS ? d->left : BUF_SECTORS;
		struct iovec iov = { d->buf, (size_t)n * SECTOR };
		if (write) {
			if (!ide_dma_move(d, d->buf, n * SECTOR, false)) {
				ide_dma_fail(d);
				return;
			}
			if (disk_image_write(d->image, ide_io(d), &iov, 1, d->lba, NULL)) {
				ide_dma_stop(d);
				host_error(d, true);
				return;
			}
			ide_stats(d)->sectors_written += n;
		} else {
			if (disk_image_read(d->image, ide_io(d), &iov, 1, d->lba, NULL)) {
				ide_dma_stop(d);
				host_error(d, false);
				return;
			}
			if (!ide_dma_move(d, d->buf, n * SECTOR, true)) {
				ide_dma_fail(d);
				return;
			}
			ide_stats(d)->sectors_read += n;
		}
		d->lba += n;
		d->left -= n;
	}
	ide_dma_stop(d);
	if (write) {
		write_done(d);
	} else {
		set_address(d, d->lba - 1);
		ide_finish(d, ready(d));
	}
}

/* ---- The other commands ------------------------------------------------------ */

static void set_multiple(struct ide_drive *d)
{
	unsigned n = d->nsect;

	/* 0 turns multiple mode off; else a power of two up to the most
	 * IDENTIFY word 47 offers. */
	if (n > ATA_MAX_MULTIPLE || (n & (n - 1))) {
		ide_fail(d, IDE_ERROR_ABRT);
		return;
	}
	d->multiple = (uint8_t)n;
	ide_finish(d, ready(d));
}

static void init_params(struct ide_drive *d)
{
	unsigned spt = d->nsect, heads = (d->device & 0x0f) + 1u;

	if (!spt) {
		ide_fail(d, IDE_ERROR_ABRT);
		return;
	}
	uint64_t c = capacity(d) / (heads * spt);
	d->heads = (uint16_t)heads;
	d->spt = (uint16_t)spt;
	d->cylinders = (uint16_t)(c > 65535 ? 65535 : c);
	ide_finish(d, ready(d));
}

/* READ VERIFY and SEEK: the address checked, nothing moved. */
static void check_only(struct ide_drive *d, bool with_count)
{
	uint32_t count = with_count ? sector_count(d) : 1;
	uint64_t lba;

	if (!get_address(d, &lba) || lba > capacity(d) || count > capacity(d) - lba) {
		ide_fail(d, IDE_ERROR_IDNF);
		return;
	}
	ide_finish(d, ready(d));
}

static void flush(struct ide_drive *d)
{
	ide_stats(d)->flushes++;
	if (d->image && disk_image_sync(d->image)) {
		ide_stats(d)->host_errors++;
		ide_fail(d, IDE_ERROR_ABRT);
		return;
	}
	ide_finish(d, ready(d));
}

static bool valid_xfer_mode(uint8_t mode)
{
	switch (mode & 0xf8) {
	case 0x00:
		return mode <= 1;	/* PIO default, with or without IORDY */
	case XFER_PIO:
		return (mode & 7) <= 4;
	case XFER_MWDMA:
		return (mode & 7) <= 2;
	case XFER_UDMA:
		return (mode & 7) <= 5;
	default:
		return false;
	}
}

static void set_features(struct ide_drive *d)
{
	bool disk = d->kind == IDE_KIND_DISK;

	switch (d->feature) {
	case ATA_SF_XFER_MODE:
		if (!valid_xfer_mode(d->nsect))
			break;
		/* One DMA mode is selected at a time; a PIO mode leaves it. */
		if (d->nsect & (XFER_MWDMA | XFER_UDMA))
			d->xfer_mode = d->nsect;
		ide_finish(d, ready(d));
		return;
	case ATA_SF_WCACHE_ON:
	case ATA_SF_WCACHE_OFF:
		if (!disk)
			break;
		/* Turning the cache off writes it out first. */
		if (d->feature == ATA_SF_WCACHE_OFF && d->wcache && disk_image_sync(d->image)) {
			ide_stats(d)->host_errors++;
			break;
		}
		d->wcache = d->feature == ATA_SF_WCACHE_ON;
		ide_finish(d, ready(d));
		return;
	case ATA_SF_LOOKAHEAD_ON:
	case ATA_SF_LOOKAHEAD_OFF:
		d->lookahead = d->feature == ATA_SF_LOOKAHEAD_ON;
		ide_finish(d, ready(d));
		return;
	case ATA_SF_REVERT_ON:
	case ATA_SF_REVERT_OFF:
		ide_finish(d, ready(d));
		return;
	default:
		break;
	}
	ide_fail(d, IDE_ERROR_ABRT);
}

bool ata_common_command(struct ide_drive *d, uint8_t cmd)
{
	switch (cmd) {
	case ATA_CMD_SET_FEATURES:
		set_features(d);
		return true;
	case ATA_CMD_FLUSH:
	case ATA_CMD_FLUSH_EXT:
		flush(d);
		return true;
	case ATA_CMD_CHECK_POWER:
	case ATA_CMD_CHECK_POWER_OLD:
		d->nsect = 0xff;	/* active or idle */
		ide_finish(d, ready(d));
		return true;
	case ATA_CMD_STANDBY_IMMEDIATE:
	case ATA_CMD_IDLE_IMMEDIATE:
	case ATA_CMD_STANDBY:
	case ATA_CMD_IDLE:
	case ATA_CMD_SLEEP:
	case ATA_CMD_STANDBY_IMMEDIATE_OLD:
	case ATA_CMD_IDLE_IMMEDIATE_OLD:
	case ATA_CMD_STANDBY_OLD:
	case ATA_CMD_IDLE_OLD:
	case ATA_CMD_SLEEP_OLD:
		/* No spindle to stop: the drive stays ready. */
		ide_finish(d, ready(d));
		return true;
	case ATA_CMD_NOP:
		/* NOP always aborts, which is what it is for. */
		ide_fail(d, IDE_ERROR_ABRT);
		return true;
	default:
		return false;
	}
}

void ata_command(struct ide_drive *d, uint8_t cmd)
{
	switch (cmd) {
	case ATA_CMD_IDENTIFY:
		identify(d);
		d->fill = SECTOR;
		ide_pio_start(d, IDE_PHASE_PIO_IN, IDE_XFER_IDENTIFY, 0, SECTOR, true);
		return;
	case ATA_CMD_READ:
	case ATA_CMD_READ_NORETRY:
	case ATA_CMD_READ_EXT:
		start_rw(d, false, RW_SINGLE);
		return;
	case ATA_CMD_WRITE:
	case ATA_CMD_WRITE_NORETRY:
	case ATA_CMD_WRITE_EXT:
		start_rw(d, true, RW_SINGLE);
		return;
	case ATA_CMD_READ_MULTIPLE:
	case ATA_CMD_READ_MULTIPLE_EXT:
		start_rw(d, false, RW_MULTIPLE);
		return;
	case ATA_CMD_WRITE_MULTIPLE:
	case ATA_CMD_WRITE_MULTIPLE_EXT:
		start_rw(d, true, RW_MULTIPLE);
		return;
	case ATA_CMD_READ_DMA:
	case ATA_CMD_READ_DMA_NORETRY:
	case ATA_CMD_READ_DMA_EXT:
		start_rw(d, false, RW_DMA);
		return;
	case ATA_CMD_WRITE_DMA:
	case ATA_CMD_WRITE_DMA_NORETRY:
	case ATA_CMD_WRITE_DMA_EXT:
		start_rw(d, true, RW_DMA);
		return;
	case ATA_CMD_VERIFY:
	case ATA_CMD_VERIFY_NORETRY:
	case ATA_CMD_VERIFY_EXT:
		check_only(d, true);
		return;
	case ATA_CMD_SET_MULTIPLE:
		set_multiple(d);
		return;
	case ATA_CMD_INIT_PARAMS:
		init_params(d);
		return;
	default:
		break;
	}
	if ((cmd & 0xf0) == ATA_CMD_RECALIBRATE) {
		ide_finish(d, ready(d));
		return;
	}
	if ((cmd & 0xf0) == ATA_CMD_SEEK) {
		check_only(d, false);
		return;
	}
	if (!ata_common_command(d, cmd))
		ide_fail(d, IDE_ERROR_ABRT);
}
