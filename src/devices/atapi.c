/* The ATAPI CD/DVD-ROM drive: IDENTIFY PACKET DEVICE, the PACKET
 * protocol (the command bytes, data blocks bounded by the host's byte
 * count, the status phase) and the MMC commands, read-only media of
 * 2048-byte sectors, the tray, its lock and media change.
 *
 * Commands, what Linux's sr and cdrom_id, SeaBIOS's El Torito boot and
 * installers send:
 *   TEST UNIT READY, REQUEST SENSE (fixed format), INQUIRY (standard
 *   data; no VPD pages), START STOP UNIT (eject and load move the tray,
 *   refused while locked), PREVENT ALLOW MEDIUM REMOVAL, READ CAPACITY,
 *   READ(10), READ(12), READ CD (user data only), SEEK(10), MODE SENSE(6)
 *   and (10) (pages 01h error recovery and 2Ah capabilities, 3Fh for
 *   both; current, changeable and default values; saved ones are not
 *   kept), GET CONFIGURATION (profile list, core, removable medium,
 *   random readable, CD read, DVD read), READ TOC/PMA/ATIP (formats 0
 *   and 1, LBA and MSF, the format also where SFF-8020 put it),
 *   GET EVENT STATUS NOTIFICATION (polled, the media class), READ DISC
 *   INFORMATION, MECHANISM STATUS, SET CD SPEED (accepted, ignored).
 *   Anything else is CHECK CONDITION with ILLEGAL REQUEST, INVALID
 *   COMMAND OPERATION CODE; a bad field ILLEGAL REQUEST, INVALID FIELD IN
 *   CDB; a read past the end LOGICAL BLOCK ADDRESS OUT OF RANGE; a
 *   command that needs the disc without one NOT READY, MEDIUM NOT PRESENT
 *   (tray open or closed); a host read error MEDIUM ERROR.
 *
 * The disc is one data track (track 1 from LBA 0, a lead-out at its
 * end) in one finished session. Its profile is CD-ROM up to 80 minutes of
 * sectors, DVD-ROM above, as QEMU tells them apart.
 *
 * Media change: a new medium (the monitor's change, or the guest closing
 * the tray on one) makes the next command that does not tolerate it fail
 * first with NOT READY, MEDIUM NOT PRESENT and then with UNIT ATTENTION,
 * NOT READY TO READY CHANGE (the first only for a change from outside),
 * as QEMU reports it so that guests that poll with TEST UNIT READY see a
 * change; GET EVENT STATUS NOTIFICATION reports new media, media removal
 * and the monitor's eject request on a locked tray. INQUIRY, REQUEST
 * SENSE, GET CONFIGURATION and GET EVENT STATUS NOTIFICATION run
 * regardless, as MMC allows. */
#include "devices/ide_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define SECTOR		ATAPI_SECTOR_SIZE
#define PER_SECTOR	(ATAPI_SECTOR_SIZE / DISK_IMAGE_SECTOR_SIZE)
#define BUF_SECTORS	(IDE_BUF_BYTES / ATAPI_SECTOR_SIZE)

/* Sense keys and additional sense codes (SPC, MMC). */
enum {
	SENSE_NONE = 0x00,
	SENSE_NOT_READY = 0x02,
	SENSE_MEDIUM_ERROR = 0x03,
	SENSE_ILLEGAL_REQUEST = 0x05,
	SENSE_UNIT_ATTENTION = 0x06,
};
enum {
	ASC_UNRECOVERED_READ = 0x11,
	ASC_INVALID_OPCODE = 0x20,
	ASC_LBA_OUT_OF_RANGE = 0x21,
	ASC_INVALID_FIELD = 0x24,
	ASC_MEDIUM_MAY_HAVE_CHANGED = 0x28,
	ASC_SAVING_NOT_SUPPORTED = 0x39,
	ASC_MEDIUM_NOT_PRESENT = 0x3a,
	ASC_REMOVAL_PREVENTED = 0x53,
};

/* Media event codes (GET EVENT STATUS NOTIFICATION, media class). */
enum {
	EVENT_NONE = 0,
	EVENT_EJECT_REQUEST = 1,
	EVENT_NEW_MEDIA = 2,
	EVENT_MEDIA_REMOVAL = 3,
};
#define EVENT_CLASS_MEDIA	4
#define PROFILE_CD_ROM		0x0008
#define PROFILE_DVD_ROM		0x0010

/* MMC operation codes. */
enum {
	GPCMD_TEST_UNIT_READY = 0x00,
	GPCMD_REQUEST_SENSE = 0x03,
	GPCMD_INQUIRY = 0x12,
	GPCMD_MODE_SENSE_6 = 0x1a,
	GPCMD_START_STOP_UNIT = 0x1b,
	GPCMD_PREVENT_ALLOW = 0x1e,
	GPCMD_READ_CAPACITY = 0x25,
	GPCMD_READ_10 = 0x28,
	GPCMD_SEEK_10 = 0x2b,
	GPCMD_READ_TOC = 0x43,
	GPCMD_GET_CONFIGURATION = 0x46,
	GPCMD_GET_EVENT_STATUS = 0x4a,
	GPCMD_READ_DISC_INFO = 0x51,
	GPCMD_MODE_SENSE_10 = 0x5a,
	GPCMD_READ_12 = 0xa8,
	GPCMD_MECHANISM_STATUS = 0xbd,
	GPCMD_SET_SPEED = 0xbb,
	GPCMD_READ_CD = 0xbe,
};

static uint32_t be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, v >> 16);
	put_be16(p + 2, v);
}

uint64_t atapi_capacity(const struct ide_drive *d)
{
	return d->image ? d->image->sectors / PER_SECTOR : 0;
}

static bool medium_ready(const struct ide_drive *d)
{
	return d->image && !d->atapi.tray_open;
}

/* ---- Completion ----------------------------------------------------------- */

/* GOOD status: the status phase, and the sense of this command is none. */
static void good(struct ide_drive *d)
{
	d->atapi.sense = (struct atapi_sense){ 0 };
	d->nsect = IDE_IREASON_IO | IDE_IREASON_COD;
	ide_finish(d, IDE_STATUS_DRDY);
}

/* CHECK CONDITION: the sense kept for REQUEST SENSE, its key in the
 * error register. */
static void check(struct ide_drive *d, uint8_t key, uint8_t asc, uint8_t ascq)
{
	d->atapi.sense = (struct atapi_sense){ key, asc, ascq };
	ide_fail(d, (uint8_t)(key << 4));
}

static void not_present(struct ide_drive *d)
{
	check(d, SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT, d->atapi.tray_open ? 0x02 : 0x01);
}

/* ---- Data phases ------------------------------------------------------------ */

/* Loads the next sectors of a read into the buffer; false (the command
 * failed) when the disc is gone or shorter now, or the host failed. */
static bool load(struct ide_drive *d)
{
	struct atapi_state *a = &d->atapi;
	uint64_t n = a->left / SECTOR, cap = atapi_capacity(d);

	if (n > BUF_SECTORS)
		n = BUF_SECTORS;
	/* The disc may have changed under a read in progress. */
	if (!medium_ready(d) || !n || a->lba > cap || n > cap - a->lba) {
		not_present(d);
		return false;
	}
	struct iovec iov = { d->buf, (size_t)n * SECTOR };
	if (disk_image_read(d->image, ide_io(d), &iov, 1, a->lba * PER_SECTOR, NULL)) {
		ide_stats(d)->host_errors++;
		check(d, SENSE_MEDIUM_ERROR, ASC_UNRECOVERED_READ, 0);
		return false;
	}
	ide_stats(d)->sectors_read += n * PER_SECTOR;
	a->lba += n;
	d->fill = (uint32_t)(n * SECTOR);
	d->pos = d->end = 0;
	return true;
}

/* The next PIO block: at most the host's byte count, even unless it is
 * the transfer's last; the byte count registers say how much. */
static void next_block(struct ide_drive *d)
{
	struct atapi_state *a = &d->atapi;

	if (d->end >= d->fill && !load(d))
		return;
	uint32_t n = d->fill - d->end, limit = a->byte_limit & ~1u;
	if (limit < 2)		/* never set: a snapshot's power-on value */
		limit = 2;
	if (n > a->left)
		n = (uint32_t)a->left;
	if (n > limit)
		n = limit;
	a->left -= n;
	d->nsect = IDE_IREASON_IO;
	d->lbam = (uint8_t)n;
	d->lbah = (uint8_t)(n >> 8);
	ide_pio_start(d, IDE_PHASE_PIO_IN, IDE_XFER_ATAPI_DATA, d->end, n, true);
}

static void data_start(struct ide_drive *d)
{
	if (d->atapi.dma)
		ide_dma_start(d, IDE_XFER_ATAPI_DATA);
	else
		next_block(d);
}

/* A response of len bytes in the buffer, of which the host takes at most
 * alloc (its allocation length). */
static void reply(struct ide_drive *d, uint32_t len, uint32_t alloc)
{
	uint32_t n = len < alloc ? len : alloc;

	if (!n) {
		good(d);
		return;
	}
	d->atapi.reading = false;
	d->atapi.left = n;
	d->fill = n;
	d->pos = d->end = 0;
	data_start(d);
}

static void read_start(struct ide_drive *d, uint64_t lba, uint64_t count)
{
	struct atapi_state *a = &d->atapi;
	uint64_t cap = atapi_capacity(d);

	if (lba > cap || count > cap - lba) {
		check(d, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
		return;
	}
	if (!count) {
		good(d);
		return;
	}
	a->reading = true;
	a->lba = lba;
	a->left = count * SECTOR;
	d->fill = d->pos = d->end = 0;
	data_start(d);
}

void atapi_dma_run(struct ide_drive *d)
{
	struct atapi_state *a = &d->atapi;

	while (a->left) {
		if (d->end >= d->fill && !(a->reading && load(d))) {
			/* load reported why; a response never runs out. */
			ide_dma_stop(d);
			if (!a->reading)
				check(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
			return;
		}
		uint32_t n = d->fill - d->end;
		if (n > a->left)
			n = (uint32_t)a->left;
		if (!ide_dma_move(d, d->buf + d->end, n, true)) {
			ide_dma_fail(d);
			return;
		}
		d->end += n;
		a->left -= n;
	}
	ide_dma_stop(d);
	good(d);
}

/* ---- The commands ------------------------------------------------------------ */

static void cmd_test_unit_ready(struct ide_drive *d, const uint8_t *p)
{
	(void)p;
	good(d);
}

static void cmd_request_sense(struct ide_drive *d, const uint8_t *p)
{
	uint8_t *b = d->buf;

	memset(b, 0, 18);
	b[0] = 0x70;		/* current error, fixed format */
	b[2] = d->atapi.sense.key;
	b[7] = 10;		/* additional length */
	b[12] = d->atapi.sense.asc;
	b[13] = d->atapi.sense.ascq;
	d->atapi.sense = (struct atapi_sense){ 0 };
	reply(d, 18, p[4]);
}

static void cmd_inquiry(struct ide_drive *d, const uint8_t *p)
{
	uint8_t *b = d->buf;

	if ((p[1] & 1) || p[2]) {	/* VPD pages are not kept */
		check(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
		return;
	}
	memset(b, 0, 36);
	b[0] = 0x05;		/* CD/DVD device */
	b[1] = 0x80;		/* removable */
	b[3] = 0x21;		/* ATAPI version 2, response data format 1 */
	b[4] = 36 - 5;
	memcpy(b + 8, "BTVM    ", 8);
	memcpy(b + 16, "DVD-ROM         ", 16);
	memcpy(b + 32, "1.0 ", 4);
	reply(d, 36, be16(p + 3));
}

static void cmd_start_stop(struct ide_drive *d, const uint8_t *p)
{
	struct atapi_state *a = &d->atapi;
	bool start = p[4] & 1, load_eject = p[4] & 2;

	if (load_eject && !start) {
		if (a->locked) {
			check(d, SENSE_ILLEGAL_REQUEST, ASC_REMOVAL_PREVENTED, 0x02);
			return;
		}
		if (!a->tray_open && d->image)
			a->event = EVENT_MEDIA_REMOVAL;
		a->tray_open = true;
	} else if (load_eject && a->tray_open) {
		a->tray_open = false;
		if (d->image) {
			a->event = EVENT_NEW_MEDIA;
			a->change = 1;
		}
	}
	good(d);
}

static void cmd_prevent_allow(struct ide_drive *d, const uint8_t *p)
{
	d->atapi.locked = p[4] & 1;
	good(d);
}

static void cmd_read_capacity(struct ide_drive *d, const uint8_t *p)
{
	uint64_t last = atapi_capacity(d) - 1;

	(void)p;
	put_be32(d->buf, last > 0xffffffffu ? 0xffffffffu : (uint32_t)last);
	put_be32(d->buf + 4, SECTOR);
	reply(d, 8, 8);
}

static void cmd_read(struct ide_drive *d, const uint8_t *p)
{
	uint64_t count = p[0] == GPCMD_READ_10 ? be16(p + 7) : be32(p + 6);

	read_start(d, be32(p + 2), count);
}

static void cmd_read_cd(struct ide_drive *d, const uint8_t *p)
{
	unsigned type = (p[1] >> 2) & 7;
	uint64_t count = (uint64_t)p[6] << 16 | be16(p + 7);

	/* Any or Mode 1 sectors, no sub-channel; user data or nothing. */
	if ((type != 0 && type != 2) || (p[10] & 7) || (p[9] != 0x10 && p[9] != 0)) {
		check(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
		return;
	}
	read_start(d, be32(p + 2), p[9] ? count : 0);
}

static void cmd_seek(struct ide_drive *d, const uint8_t *p)
{
	if (be32(p + 2) >= atapi_capacity(d)) {
		check(d, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
		return;
	}
	good(d);
}

/* A mode page at b, its values as page control pc asks (1: the
 * changeable bits, none here); its length. */
static uint32_t mode_page(const struct ide_drive *d, unsigned page, unsigned pc, uint8_t *b)
{
	if (page == 0x01) {		/* read error recovery */
		b[0] = 0x01;
		b[1] = 6;
		if (pc != 1)
			b[3] = 5;	/* read retry count */
		return 8;
	}
	b[0] = 0x2a;			/* capabilities and mechanical status */
	b[1] = 18;
	if (pc == 1)
		return 20;
	b[2] = 0x3b;		/* reads CD-R, CD-RW, DVD-ROM, DVD-R, DVD-RAM */
	b[4] = 0x71;		/* audio play (Linux checks it to automount), mode 2, multisession */
	/* Tray loading mechanism, eject, lock and its state. */
	b[6] = (uint8_t)(1 << 5 | 1 << 3 | (d->atapi.locked ? 1 << 1 : 0) | 1);
	put_be16(b + 8, 706);	/* 4x, in kB/s */
	put_be16(b + 10, 2);	/* volume levels */
	put_be16(b + 12, 512);	/* buffer, KiB */
	put_be16(b + 14, 706);
	return 20;
}

static void cmd_mode_sense(struct ide_drive *d, const uint8_t *p)
{
	bool ten = p[0] == GPCMD_MODE_SENSE_10;
	unsigned page = p[2] & 0x3f, pc = p[2] >> 6;
	uint32_t len = ten ? 8 : 4, alloc = ten ? be16(p + 7) : p[4];
	uint8_t *b = d->buf;

	if (pc == 3) {
		check(d, SENSE_ILLEGAL_REQUEST, ASC_SAVING_NOT_SUPPORTED, 0);
		return;
	}
	if ((page != 0x01 && page != 0x2a && page != 0x3f) || p[3]) {
		check(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
		return;
	}
	memset(b, 0, 64);
	if (page == 0x01 || page == 0x3f)
		len += mode_page(d, 0x01, pc, b + len);
	if (page == 0x2a || page == 0x3f)
		len += mode_page(d, 0x2a, pc, b + len);
	/* The mode data length counts what follows it; no block
	 * descriptors. */
	if (ten)
		put_be16(b, len - 2);
	else
		b[0] = (uint8_t)(len - 1);
	reply(d, len, alloc);
}

static uint16_t current_profile(const struct ide_drive *d)
{
	if (!medium_ready(d))
		return 0;
	return atapi_capacity(d) > ATAPI_CD_MAX_SECTORS ? PROFILE_DVD_ROM : PROFILE_CD_ROM;
}

/* One feature descriptor at b (GET CONFIGURATION); its length. */
static uint32_t put_feature(const struct ide_drive *d, uint16_t code, bool current, uint8_t *b)
{
	uint16_t profile = current_profile(d);

	put_be16(b, code);
	b[2] = current;
	switch (code) {
	case 0x0000:		/* profile list */
		b[2] |= 2;	/* persistent */
		b[3] = 8;
		put_be16(b + 4, PROFILE_DVD_ROM);
		b[6] = profile == PROFILE_DVD_ROM;
		put_be16(b + 8, PROFILE_CD_ROM);
		b[10] = profile == PROFILE_CD_ROM;
		return 12;
	case 0x0001:		/* core */
		b[2] |= 1 << 2 | 2;
		b[3] = 8;
		put_be32(b + 4, 2);	/* ATAPI */
		b[8] = 1;		/* device busy events */
		return 12;
	case 0x0003:		/* removable medium */
		b[2] |= 2;
		b[3] = 4;
		b[4] = 1 << 5 | 1 << 3 | 1;	/* tray, eject, lock */
		return 8;
	case 0x0010:		/* random readable */
		b[3] = 8;
		put_be32(b + 4, SECTOR);
		put_be16(b + 8, profile == PROFILE_DVD_ROM ? 16 : 1);
		return 12;
	case 0x001e:		/* CD read */
		b[2] |= 2 << 2;
		b[3] = 4;
		return 8;
	default:		/* 0x001f, DVD read */
		b[3] = 0;
		return 4;
	}
}

static void cmd_get_configuration(struct ide_drive *d, const uint8_t *p)
{
	static const uint16_t features[] = { 0x0000, 0x0001, 0x0003, 0x0010, 0x001e, 0x001f };
	unsigned rt = p[1] & 3, start = be16(p + 2);
	uint16_t profile = current_profile(d);
	uint32_t len = 8;
	uint8_t *b = d->buf;

	if (rt == 3) {
		check(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
		return;
	}
	memset(b, 0, 128);
	for (unsigned i = 0; i < sizeof(features) / sizeof(features[0]); i++) {
		uint16_t code = features[i];
		bool current = code <= 0x0003 || (code == 0x0010 && profile) ||
			       (code == 0x001e && profile == PROFILE_CD_ROM) ||
			       (code == 0x001f && profile == PROFILE_DVD_ROM);
		/* RT 0: every feature from start on, 1: the current ones, 2:
		 * start's alone. */
		if (rt == 2 ? code != start : code < start)
			continue;
		if (rt == 1 && !current)
			continue;
		len += put_feature(d, code, current, b + len);
	}
	put_be32(b, len - 4);
	put_be16(b + 6, profile);
	reply(d, len, be16(p + 7));
}

/* A disc address: big-endian LBA, or 0 M S F counted from the 2-second
 * pregap (the largest MSF where it does not fit). */
static void put_address(uint8_t *b, uint64_t lba, bool msf)
{
	if (!msf) {
		put_be32(b, lba > 0xffffffffu ? 0xffffffffu : (uint32_t)lba);
		return;
	}
	uint64_t f = lba + 150;
	b[0] = 0;
	if (f / (60 * 75) > 0xff) {
		b[1] = 0xff;
		b[2] = 59;
		b[3] = 74;
		return;
	}
	b[1] = (uint8_t)(f / (60 * 75));
	b[2] = (uint8_t)(f / 75 % 60);
	b[3] = (uint8_t)(f % 75);
}

static void cmd_read_toc(struct ide_drive *d, const uint8_t *p)
{
	bool msf = p[1] & 2;
	unsigned format = p[2] & 0x0f, track = p[6];
	uint32_t len = 4;
	uint8_t *b = d->buf;

	/* SFF-8020 drives took the format in the control byte's top bits;
	 * Linux's sr still asks for the session info there. */
	if (!format)
		format = p[9] >> 6;
	memset(b, 0, 32);
	b[2] = 1;		/* first track, or session */
	b[3] = 1;		/* last */
	if (format == 0) {
		if (track > 1 && track != 0xaa) {
			check(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
			return;
		}
		if (track <= 1) {
			b[len + 1] = 0x14;	/* ADR 1, data track */
			b[len + 2] = 1;
			put_address(b + len + 4, 0, msf);
			len += 8;
		}
		b[len + 1] = 0x14;
		b[len + 2] = 0xaa;		/* the lead-out */
		put_address(b + len + 4, atapi_capacity(d), msf);
		len += 8;
	} else if (format == 1) {
		/* Multi-session info: one session, its first track at 0. */
		b[len + 1] = 0x14;
		b[len + 2] = 1;
		put_address(b + len + 4, 0, msf);
		len += 8;
	} else {
		check(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
		return;
	}
	put_be16(b, len - 2);
	reply(d, len, be16(p + 7));
}

static void cmd_get_event_status(struct ide_drive *d, const uint8_t *p)
{
	struct atapi_state *a = &d->atapi;
	uint8_t *b = d->buf;
	uint32_t len;

	/* Asynchronous notification is not offered. */
	if (!(p[1] & 1)) {
		check(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
		return;
	}
	memset(b, 0, 8);
	b[3] = 1 << EVENT_CLASS_MEDIA;	/* the classes supported */
	if (p[4] & (1 << EVENT_CLASS_MEDIA)) {
		put_be16(b, 6);
		b[2] = EVENT_CLASS_MEDIA;
		b[4] = a->event;
		b[5] = (uint8_t)((a->tray_open ? 1 : 0) | (medium_ready(d) ? 2 : 0));
		a->event = EVENT_NONE;	/* reported */
		len = 8;
	} else {
		put_be16(b, 2);
		b[2] = 0x80;		/* no event available */
		len = 4;
	}
	reply(d, len, be16(p + 7));
}

static void cmd_read_disc_info(struct ide_drive *d, const uint8_t *p)
{
	uint8_t *b = d->buf;

	if (p[1] & 7) {		/* only standard disc information */
		check(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
		return;
	}
	memset(b, 0, 34);
	put_be16(b, 32);
	b[2] = 0x0e;		/* last session complete, disc finalized */
	b[3] = 1;		/* first track */
	b[4] = 1;		/* sessions */
	b[5] = 1;		/* first and last track of the last session */
	b[6] = 1;
	b[7] = 0x20;		/* unrestricted use */
	reply(d, 34, be16(p + 7));
}

static void cmd_mechanism_status(struct ide_drive *d, const uint8_t *p)
{
	uint8_t *b = d->buf;

	memset(b, 0, 8);
	b[1] = d->atapi.tray_open ? 0x10 : 0;	/* door open */
	reply(d, 8, be16(p + 8));
}

#define ALLOW_UA	0x01	/* runs while a media change is unreported */
#define NEEDS_MEDIUM	0x02

static const struct packet_command {
	uint8_t op, flags;
	void (*run)(struct ide_drive *d, const uint8_t *p);
} commands[] = {
	{ GPCMD_TEST_UNIT_READY, NEEDS_MEDIUM, cmd_test_unit_ready },
	{ GPCMD_REQUEST_SENSE, ALLOW_UA, cmd_request_sense },
	{ GPCMD_INQUIRY, ALLOW_UA, cmd_inquiry },
	{ GPCMD_MODE_SENSE_6, 0, cmd_mode_sense },
	{ GPCMD_START_STOP_UNIT, 0, cmd_start_stop },
	{ GPCMD_PREVENT_ALLOW, 0, cmd_prevent_allow },
	{ GPCMD_READ_CAPACITY, NEEDS_MEDIUM, cmd_read_capacity },
	{ GPCMD_READ_10, NEEDS_MEDIUM, cmd_read },
	{ GPCMD_SEEK_10, NEEDS_MEDIUM, cmd_seek },
	{ GPCMD_READ_TOC, NEEDS_MEDIUM, cmd_read_toc },
	{ GPCMD_GET_CONFIGURATION, ALLOW_UA, cmd_get_configuration },
	{ GPCMD_GET_EVENT_STATUS, ALLOW_UA, cmd_get_event_status },
	{ GPCMD_READ_DISC_INFO, NEEDS_MEDIUM, cmd_read_disc_info },
	{ GPCMD_MODE_SENSE_10, 0, cmd_mode_sense },
	{ GPCMD_READ_12, NEEDS_MEDIUM, cmd_read },
	{ GPCMD_SET_SPEED, 0, cmd_test_unit_ready },
	{ GPCMD_MECHANISM_STATUS, 0, cmd_mechanism_status },
	{ GPCMD_READ_CD, NEEDS_MEDIUM, cmd_read_cd },
};

static void run_packet(struct ide_drive *d)
{
	struct atapi_state *a = &d->atapi;
	const uint8_t *p = a->packet;
	const struct packet_command *c = NULL;

	ide_stats(d)->packets++;
	for (unsigned i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].op == p[0])
			c = &commands[i];
	ide_end_phase(d);
	a->left = 0;
	a->reading = false;
	if (!c) {
		check(d, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
		return;
	}
	if (!(c->flags & ALLOW_UA) && a->change && medium_ready(d)) {
		if (a->change == 2) {
			a->change = 1;
			check(d, SENSE_NOT_READY, ASC_MEDIUM_NOT_PRESENT, 0x01);
		} else {
			a->change = 0;
			check(d, SENSE_UNIT_ATTENTION, ASC_MEDIUM_MAY_HAVE_CHANGED, 0);
		}
		return;
	}
	if ((c->flags & NEEDS_MEDIUM) && !medium_ready(d)) {
		not_present(d);
		return;
	}
	c->run(d, p);
}

void atapi_pio_done(struct ide_drive *d)
{
	if (d->xfer == IDE_XFER_PACKET) {
		memcpy(d->atapi.packet, d->buf, ATAPI_PACKET_SIZE);
		run_packet(d);
	} else if (d->atapi.left) {
		next_block(d);
	} else {
		good(d);
	}
}

/* ---- The ATA side ------------------------------------------------------------ */

static void identify_packet(struct ide_drive *d)
{
	uint8_t *b = d->buf;
	uint16_t mwdma = 0x07, udma = 0x3f;

	if ((d->xfer_mode & 0xf8) == 0x20)
		mwdma |= (uint16_t)(0x100 << (d->xfer_mode & 7));
	if ((d->xfer_mode & 0xf8) == 0x40)
		udma |= (uint16_t)(0x100 << (d->xfer_mode & 7));
	memset(b, 0, DISK_IMAGE_SECTOR_SIZE);
	/* ATAPI, CD-ROM, removable, DRQ within 50 us of PACKET (the host
	 * polls for it: no interrupt), 12-byte packets. */
	ata_put_word(b, 0, 2 << 14 | 5 << 8 | 1 << 7 | 2 << 5);
	ata_put_string(b + 2 * 10, d->serial, 20);
	ata_put_string(b + 2 * 23, "1.0", 8);
	ata_put_string(b + 2 * 27, d->model, 40);
	ata_put_word(b, 49, 1 << 11 | 1 << 9 | 1 << 8);	/* IORDY, LBA, DMA */
	ata_put_word(b, 53, 0x0006);			/* words 64-70 and 88 valid */
	ata_put_word(b, 63, mwdma);
	ata_put_word(b, 64, 0x03);
	for (unsigned w = 65; w <= 68; w++)
		ata_put_word(b, w, 120);
	ata_put_word(b, 71, 30);
	ata_put_word(b, 72, 30);
	ata_put_word(b, 80, 0x0070);			/* ATA/ATAPI-4 to -6 */
	/* NOP, DEVICE RESET, PACKET: supported and enabled. */
	ata_put_word(b, 82, 1 << 14 | 1 << 9 | 1 << 4);
	ata_put_word(b, 83, 1 << 14);
	ata_put_word(b, 84, 1 << 14);
	ata_put_word(b, 85, 1 << 14 | 1 << 9 | 1 << 4);
	ata_put_word(b, 87, 1 << 14);
	ata_put_word(b, 88, udma);
	ata_put_word(b, 93, (uint16_t)(1 << 14 | 1 << 13 | (d->unit ? 0x0100 : 0x0001)));
	ata_checksum(b);
}

void atapi_command(struct ide_drive *d, uint8_t cmd)
{
	struct atapi_state *a = &d->atapi;

	switch (cmd) {
	case ATA_CMD_PACKET: {
		/* Overlapped commands are not offered. */
		if (d->feature & 0x02) {
			ide_fail(d, IDE_ERROR_ABRT);
			return;
		}
		uint16_t limit = (uint16_t)(d->lbah << 8 | d->lbam);
		a->dma = d->feature & 0x01;
		/* 0 and FFFFh mean as much as the host takes; at least a word. */
		a->byte_limit = !limit || limit == 0xffff ? 0xfffe : limit < 2 ? 2 : limit;
		d->nsect = IDE_IREASON_COD;
		d->fill = ATAPI_PACKET_SIZE;
		/* The packet's DRQ comes without an interrupt (IDENTIFY PACKET
		 * word 0 says the host polls for it). */
		ide_pio_start(d, IDE_PHASE_PIO_OUT, IDE_XFER_PACKET, 0, ATAPI_PACKET_SIZE, false);
		return;
	}
	case ATA_CMD_IDENTIFY_PACKET:
		identify_packet(d);
		d->fill = DISK_IMAGE_SECTOR_SIZE;
		ide_pio_start(d, IDE_PHASE_PIO_IN, IDE_XFER_IDENTIFY, 0, DISK_IMAGE_SECTOR_SIZE, true);
		return;
	case ATA_CMD_DEVICE_RESET:
		/* What SRST does, for this drive alone, and no interrupt. */
		ide_end_phase(d);
		ata_set_signature(d);
		d->error = 0x01;
		d->status = 0;
		a->left = 0;
		return;
	case ATA_CMD_IDENTIFY:
	case ATA_CMD_READ:
	case ATA_CMD_READ_NORETRY:
		/* How a packet device answers the disk commands drivers probe
		 * with: aborted, and the signature says what it is. */
		ata_set_signature(d);
		ide_fail(d, IDE_ERROR_ABRT);
		return;
	default:
		if (!ata_common_command(d, cmd))
			ide_fail(d, IDE_ERROR_ABRT);
		return;
	}
}

void atapi_power_on(struct ide_drive *d)
{
	memset(&d->atapi, 0, sizeof(d->atapi));
}

/* ---- Media ------------------------------------------------------------------- */

struct disk_image *atapi_open_image(const char *path, char *err, size_t errlen, int *ret)
{
	struct disk_image *img = ide_image_open(path, true, false, false, err, errlen, ret);

	if (img && img->sectors < PER_SECTOR) {
		snprintf(err, errlen, "%s: smaller than one 2048-byte sector: not a CD image", path);
		ide_image_close(img);
		*ret = -EINVAL;
		return NULL;
	}
	return img;
}

static int refuse_locked(struct ide_drive *d, char *err, size_t errlen)
{
	/* As QEMU does: the guest is asked to let go (an eject request
	 * event), and the user may try again or force. */
	d->atapi.event = EVENT_EJECT_REQUEST;
	snprintf(err, errlen, "the guest has locked the CD drive's tray; it was asked to eject");
	return -EBUSY;
}

int atapi_change(struct ide_drive *d, const char *path, bool force, char *err, size_t errlen)
{
	struct atapi_state *a = &d->atapi;
	int ret;

	if (a->locked && !force)
		return refuse_locked(d, err, errlen);
	struct disk_image *img = atapi_open_image(path, err, errlen, &ret);
	if (!img)
		return ret;
	ide_image_close(d->image);
	d->image = img;
	a->tray_open = false;
	a->locked = false;
	a->change = 2;
	a->event = EVENT_NEW_MEDIA;
	ide_stats(d)->media_changes++;
	return 0;
}

int atapi_eject(struct ide_drive *d, bool force, char *err, size_t errlen)
{
	struct atapi_state *a = &d->atapi;

	if (a->locked && !force)
		return refuse_locked(d, err, errlen);
	if (d->image) {
		a->event = EVENT_MEDIA_REMOVAL;
		ide_stats(d)->media_changes++;
	}
	ide_image_close(d->image);
	d->image = NULL;
	a->tray_open = true;
	a->locked = false;
	a->change = 0;
	return 0;
}
