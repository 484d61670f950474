/* The ATAPI CD/DVD-ROM behind the PIIX3 IDE controller, driven through
 * the bus as Linux's libata, sr and cdrom_id and SeaBIOS drive it: the
 * signature and IDENTIFY PACKET DEVICE, the PACKET protocol by PIO (byte
 * count limits, interrupt reasons, 16- and 32-bit data, polling with
 * nIEN) and by DMA, each MMC command the drive takes with its data
 * checked against an ISO 9660 image the test builds (with an El Torito
 * boot catalog), the errors and their sense data, the tray and its lock,
 * media change and eject from the monitor, the snapshot round trip, and
 * random packets. */
#include "ide_harness.h"

#define CD_SLOT		2	/* secondary master */
#define CH		1
#define ISO_SECTORS	300u
#define ISO2_SECTORS	500u

static char iso_path[256], iso2_path[256], disk_path[256];
static uint8_t *iso, *iso2;

/* ---- The image ---------------------------------------------------------------- */

static void put_both32(uint8_t *p, uint32_t v)	/* ISO 9660 both-endian */
{
	for (unsigned i = 0; i < 4; i++) {
		p[i] = (uint8_t)(v >> (8 * i));
		p[7 - i] = (uint8_t)(v >> (8 * i));
	}
}

static void put_both16(uint8_t *p, uint16_t v)
{
	p[0] = p[3] = (uint8_t)v;
	p[1] = p[2] = (uint8_t)(v >> 8);
}

static void dir_record(uint8_t *p, uint32_t extent, uint32_t len, bool dir, const char *name,
		       unsigned namelen)
{
	p[0] = (uint8_t)(33 + namelen + !(namelen & 1));
	put_both32(p + 2, extent);
	put_both32(p + 10, len);
	p[25] = dir ? 2 : 0;
	put_both16(p + 28, 1);
	p[32] = (uint8_t)namelen;
	memcpy(p + 33, name, namelen);
}

/* An ISO 9660 image: a primary volume descriptor, an El Torito boot
 * record, the terminator, a boot catalog with a no-emulation entry, a
 * root directory with HELLO.TXT, then sectors that say which they are. */
static uint8_t *make_iso(const char *path, unsigned sectors)
{
	uint8_t *b = calloc(sectors, 2048);

	for (unsigned s = 23; s < sectors; s++)
		for (unsigned i = 0; i < 2048; i++)
			b[s * 2048 + i] = (uint8_t)(s * 5 + i * 3 + (i >> 8));
	uint8_t *pvd = b + 16 * 2048;
	pvd[0] = 1;
	memcpy(pvd + 1, "CD001", 5);
	pvd[6] = 1;
	memset(pvd + 8, ' ', 64);
	memcpy(pvd + 40, "BTVM_TEST", 9);
	put_both32(pvd + 80, sectors);
	put_both16(pvd + 120, 1);
	put_both16(pvd + 124, 1);
	put_both16(pvd + 128, 2048);
	dir_record(pvd + 156, 20, 2048, true, "\0", 1);
	pvd[881] = 1;
	uint8_t *boot = b + 17 * 2048;
	memcpy(boot + 1, "CD001", 5);
	boot[6] = 1;
	memcpy(boot + 7, "EL TORITO SPECIFICATION", 23);
	boot[0x47] = 19;		/* the boot catalog's sector */
	uint8_t *term = b + 18 * 2048;
	term[0] = 0xff;
	memcpy(term + 1, "CD001", 5);
	term[6] = 1;
	uint8_t *cat = b + 19 * 2048;
	cat[0] = 1;
	cat[0x1e] = 0x55;
	cat[0x1f] = 0xaa;
	uint16_t sum = 0;
	for (unsigned i = 0; i < 32; i += 2)
		sum = (uint16_t)(sum + (cat[i] | cat[i + 1] << 8));
	cat[0x1c] = (uint8_t)-sum;
	cat[0x1d] = (uint8_t)(-sum >> 8);
	cat[32] = 0x88;			/* bootable, no emulation */
	cat[38] = 4;			/* 4 virtual sectors */
	cat[40] = 21;			/* from sector 21 */
	uint8_t *root = b + 20 * 2048;
	dir_record(root, 20, 2048, true, "\0", 1);
	dir_record(root + 34, 20, 2048, true, "\1", 1);
	dir_record(root + 68, 22, 13, false, "HELLO.TXT;1", 11);
	for (unsigned i = 0; i < 2048; i++)
		b[21 * 2048 + i] = (uint8_t)(0xb0 + i);
	memcpy(b + 22 * 2048, "hello, world\n", 13);
	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
	CHECK(fd >= 0);
	CHECK_EQ(pwrite(fd, b, (size_t)sectors * 2048, 0), (ssize_t)sectors * 2048);
	close(fd);
	return b;
}

/* ---- The packet protocol ------------------------------------------------------ */

static void select_cd(struct harness *h)
{
	reg_out(h, CH, IDE_REG_DEVICE, 0xa0);
}

struct result {
	uint8_t status, error, ireason;
	uint32_t got;		/* bytes received */
	unsigned blocks, rises;
	uint32_t largest;	/* the largest block */
	bool odd_inside;	/* an odd block that was not the last */
};

/* One packet command by PIO (or by DMA with the bus master set up and
 * started after the packet, as libata does): the 12 bytes through the
 * data port, then every data block the drive offers into buf (at most
 * cap bytes kept), then the status phase. */
static struct result packet_io(struct harness *h, const uint8_t cdb[12], uint16_t limit,
			       uint8_t *buf, uint32_t cap, bool dma, unsigned width)
{
	struct result r = { 0 };
	unsigned rises = h->irq_rises[CH];
	uint32_t prev = 0;
	uint8_t scratch[2];

	select_cd(h);
	reg_out(h, CH, IDE_REG_ERROR, dma ? 1 : 0);
	reg_out(h, CH, IDE_REG_LBAM, (uint8_t)limit);
	reg_out(h, CH, IDE_REG_LBAH, (uint8_t)(limit >> 8));
	reg_out(h, CH, IDE_REG_STATUS, ATA_CMD_PACKET);
	/* DRQ for the packet at once, no interrupt (polled DRQ). */
	CHECK_EQ(altstatus_in(h, CH), 0x48);
	CHECK_EQ(reg_in(h, CH, IDE_REG_NSECT), IDE_IREASON_COD);
	CHECK_EQ(h->irq_rises[CH], rises);
	for (unsigned i = 0; i < 12; i += 2)
		h_out(h, cmd_port(CH, IDE_REG_DATA), 2, (uint32_t)(cdb[i] | cdb[i + 1] << 8));
	if (dma)
		bm_start(h, CH, true);
	for (unsigned guard = 0; guard < 100000; guard++) {
		uint8_t st = status_in(h, CH);
		if (!(st & IDE_STATUS_DRQ))
			break;
		uint8_t ireason = reg_in(h, CH, IDE_REG_NSECT);
		CHECK_EQ(ireason, IDE_IREASON_IO);
		uint32_t n = reg_in(h, CH, IDE_REG_LBAM) | (uint32_t)reg_in(h, CH, IDE_REG_LBAH) << 8;
		CHECK(n >= 1);
		if (r.blocks && (prev & 1))
			r.odd_inside = true;
		prev = n;
		if (n > r.largest)
			r.largest = n;
		for (uint32_t i = 0; i < n;) {
			uint32_t step = n - i >= width ? width : 2;
			uint32_t v = h_in(h, cmd_port(CH, IDE_REG_DATA), step);
			for (unsigned k = 0; k < step && i + k < n; k++) {
				uint8_t byte = (uint8_t)(v >> (8 * k));
				if (r.got + k < cap)
					buf[r.got + k] = byte;
				else
					scratch[0] = byte;
			}
			uint32_t took = n - i < step ? n - i : step;
			r.got += took;
			i += took;
		}
		r.blocks++;
	}
	(void)scratch;
	r.status = altstatus_in(h, CH);
	r.error = reg_in(h, CH, IDE_REG_ERROR);
	r.ireason = reg_in(h, CH, IDE_REG_NSECT);
	r.rises = h->irq_rises[CH] - rises;
	CHECK_EQ(r.ireason, IDE_IREASON_IO | IDE_IREASON_COD);
	CHECK_EQ(h->irq_level[CH], 0);
	return r;
}

static struct result packet(struct harness *h, const uint8_t cdb[12], uint8_t *buf, uint32_t cap)
{
	return packet_io(h, cdb, 0xfffe, buf, cap, false, 2);
}

/* The command must succeed with an interrupt per block and one at the
 * end. */
static uint32_t good(struct harness *h, const uint8_t cdb[12], uint8_t *buf, uint32_t cap)
{
	struct result r = packet(h, cdb, buf, cap);
	if (r.status != IDE_STATUS_DRDY)
		fprintf(stderr, "packet %02x: status %#x error %#x\n", cdb[0], r.status, r.error);
	CHECK_EQ(r.status, IDE_STATUS_DRDY);
	CHECK_EQ(r.rises, r.blocks + 1);
	return r.got;
}

static void request_sense(struct harness *h, uint8_t *key, uint8_t *asc, uint8_t *ascq)
{
	const uint8_t cdb[12] = { 0x03, 0, 0, 0, 18 };
	uint8_t s[18] = { 0 };

	CHECK_EQ(good(h, cdb, s, sizeof(s)), 18);
	CHECK_EQ(s[0], 0x70);
	CHECK_EQ(s[7], 10);
	*key = s[2];
	*asc = s[12];
	*ascq = s[13];
}

/* The command must end in CHECK CONDITION with this sense. */
static void check_condition(struct harness *h, const uint8_t cdb[12], uint8_t key, uint8_t asc,
			    uint8_t ascq)
{
	uint8_t buf[64], k, a, q;
	struct result r = packet(h, cdb, buf, sizeof(buf));

	CHECK_EQ(r.status, IDE_STATUS_DRDY | IDE_STATUS_ERR);
	CHECK_EQ(r.error >> 4, key);
	CHECK_EQ(r.got, 0);
	CHECK_EQ(r.rises, 1);
	request_sense(h, &k, &a, &q);
	if (k != key || a != asc || q != ascq)
		fprintf(stderr, "packet %02x: sense %x/%02x/%02x, wanted %x/%02x/%02x\n", cdb[0],
			k, a, q, key, asc, ascq);
	CHECK_EQ(k, key);
	CHECK_EQ(a, asc);
	CHECK_EQ(q, ascq);
	/* Reported: the next REQUEST SENSE says nothing. */
	request_sense(h, &k, &a, &q);
	CHECK_EQ(k, 0);
}

static void read10(uint8_t *cdb, uint32_t lba, uint16_t count)
{
	memset(cdb, 0, 12);
	cdb[0] = 0x28;
	cdb[2] = (uint8_t)(lba >> 24);
	cdb[3] = (uint8_t)(lba >> 16);
	cdb[4] = (uint8_t)(lba >> 8);
	cdb[5] = (uint8_t)lba;
	cdb[7] = (uint8_t)(count >> 8);
	cdb[8] = (uint8_t)count;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint16_t word(const uint8_t *id, unsigned w)
{
	return (uint16_t)(id[2 * w] | id[2 * w + 1] << 8);
}

/* A CD drive at the secondary master with image (NULL: empty), a disk
 * beside it. */
static void setup(struct harness *h, const char *image)
{
	char err[256];

	h_begin(h);
	CHECK_EQ(ide_open_cdrom(&h->ide, CD_SLOT, image, err, sizeof(err)), 0);
	CHECK_EQ(ide_open_disk(&h->ide, CD_SLOT + 1, disk_path, false, false, false, err, sizeof(err)), 0);
	h_attach(h);
}

/* ---- The ATA side ------------------------------------------------------------ */

static void test_signature_identify(struct harness *h)
{
	uint8_t id[512];

	setup(h, iso_path);
	select_cd(h);
	CHECK_EQ(reg_in(h, CH, IDE_REG_NSECT), 1);
	CHECK_EQ(reg_in(h, CH, IDE_REG_LBAL), 1);
	CHECK_EQ(reg_in(h, CH, IDE_REG_LBAM), 0x14);
	CHECK_EQ(reg_in(h, CH, IDE_REG_LBAH), 0xeb);
	CHECK_EQ(status_in(h, CH), 0);		/* no DRDY after a reset */
	reg_out(h, CH, IDE_REG_DEVICE, 0xb0);
	CHECK_EQ(reg_in(h, CH, IDE_REG_LBAM), 0);	/* the disk beside it */
	CHECK_EQ(status_in(h, CH), 0x50);
	/* IDENTIFY DEVICE: aborted, and the signature says why. */
	select_cd(h);
	reg_out(h, CH, IDE_REG_LBAM, 0);
	reg_out(h, CH, IDE_REG_STATUS, ATA_CMD_IDENTIFY);
	CHECK_EQ(status_in(h, CH), 0x41);
	CHECK_EQ(reg_in(h, CH, IDE_REG_ERROR), IDE_ERROR_ABRT);
	CHECK_EQ(reg_in(h, CH, IDE_REG_LBAM), 0x14);
	CHECK_EQ(reg_in(h, CH, IDE_REG_LBAH), 0xeb);
	CHECK_EQ(reg_in(h, CH, IDE_REG_NSECT), 1);
	reg_out(h, CH, IDE_REG_STATUS, ATA_CMD_READ);
	CHECK_EQ(status_in(h, CH), 0x41);
	/* IDENTIFY PACKET DEVICE. */
	unsigned rises = h->irq_rises[CH];
	reg_out(h, CH, IDE_REG_STATUS, ATA_CMD_IDENTIFY_PACKET);
	CHECK_EQ(h->irq_rises[CH], rises + 1);
	CHECK_EQ(status_in(h, CH), 0x48);
	for (unsigned i = 0; i < 512; i += 4) {
		uint32_t v = h_in(h, cmd_port(CH, IDE_REG_DATA), 4);
		memcpy(id + i, &v, 4);
	}
	CHECK_EQ(status_in(h, CH), 0x40);
	CHECK_EQ(word(id, 0), 0x85c0);
	char model[41];
	for (unsigned i = 0; i < 40; i++)
		model[i] = (char)id[54 + (i ^ 1)];
	model[12] = 0;
	CHECK(strcmp(model, "BTVM DVD-ROM") == 0);
	CHECK_EQ(word(id, 49), 0x0b00);
	CHECK_EQ(word(id, 63), 0x0407);
	CHECK_EQ(word(id, 82), 0x4210);
	CHECK_EQ(word(id, 85), 0x4210);
	CHECK_EQ(word(id, 93), 0x6001);
	uint8_t sum = 0;
	for (unsigned i = 0; i < 512; i++)
		sum = (uint8_t)(sum + id[i]);
	CHECK_EQ(sum, 0);
	/* SET FEATURES' transfer mode, and the power commands. */
	reg_out(h, CH, IDE_REG_ERROR, ATA_SF_XFER_MODE);
	reg_out(h, CH, IDE_REG_NSECT, 0x42);
	reg_out(h, CH, IDE_REG_STATUS, ATA_CMD_SET_FEATURES);
	CHECK_EQ(status_in(h, CH), 0x40);
	reg_out(h, CH, IDE_REG_ERROR, ATA_SF_WCACHE_OFF);	/* a disk's */
	reg_out(h, CH, IDE_REG_STATUS, ATA_CMD_SET_FEATURES);
	CHECK_EQ(status_in(h, CH), 0x41);
	reg_out(h, CH, IDE_REG_STATUS, ATA_CMD_CHECK_POWER);
	CHECK_EQ(status_in(h, CH), 0x40);
	CHECK_EQ(reg_in(h, CH, IDE_REG_NSECT), 0xff);
	reg_out(h, CH, IDE_REG_STATUS, ATA_CMD_IDLE_IMMEDIATE);
	CHECK_EQ(status_in(h, CH), 0x40);
	reg_out(h, CH, IDE_REG_STATUS, ATA_CMD_FLUSH);
	CHECK_EQ(status_in(h, CH), 0x40);
	reg_out(h, CH, IDE_REG_STATUS, ATA_CMD_WRITE);
	CHECK_EQ(status_in(h, CH), 0x41);
	reg_out(h, CH, IDE_REG_STATUS, ATA_CMD_IDENTIFY_PACKET);
	for (unsigned i = 0; i < 512; i += 2)
		memcpy(id + i, &(uint16_t){ (uint16_t)h_in(h, cmd_port(CH, 0), 2) }, 2);
	CHECK_EQ(word(id, 88), 0x043f);
	/* DEVICE RESET in the middle of a packet: the signature, no
	 * interrupt, DRDY clear. */
	reg_out(h, CH, IDE_REG_ERROR, 0);
	reg_out(h, CH, IDE_REG_STATUS, ATA_CMD_PACKET);
	CHECK_EQ(altstatus_in(h, CH), 0x48);
	rises = h->irq_rises[CH];
	reg_out(h, CH, IDE_REG_STATUS, ATA_CMD_DEVICE_RESET);
	CHECK_EQ(status_in(h, CH), 0);
	CHECK_EQ(h->irq_rises[CH], rises);
	CHECK_EQ(reg_in(h, CH, IDE_REG_LBAH), 0xeb);
	CHECK_EQ(reg_in(h, CH, IDE_REG_ERROR), 1);
	/* Overlapped packets are not offered. */
	reg_out(h, CH, IDE_REG_ERROR, 2);
	reg_out(h, CH, IDE_REG_STATUS, ATA_CMD_PACKET);
	CHECK_EQ(status_in(h, CH), 0x41);
	/* SRST: the CD without DRDY, the disk with. */
	devctl_out(h, CH, IDE_CTL_SRST);
	devctl_out(h, CH, 0);
	CHECK_EQ(status_in(h, CH), 0);
	CHECK_EQ(reg_in(h, CH, IDE_REG_LBAM), 0x14);
	reg_out(h, CH, IDE_REG_DEVICE, 0xb0);
	CHECK_EQ(status_in(h, CH), 0x50);
	h_end(h);
}

/* ---- Commands ----------------------------------------------------------------- */

static void test_basics(struct harness *h)
{
	uint8_t buf[64];

	setup(h, iso_path);
	const uint8_t tur[12] = { 0 };
	CHECK_EQ(good(h, tur, buf, sizeof(buf)), 0);
	const uint8_t inquiry[12] = { 0x12, 0, 0, 0, 96 };
	CHECK_EQ(good(h, inquiry, buf, sizeof(buf)), 36);
	CHECK_EQ(buf[0], 0x05);
	CHECK_EQ(buf[1], 0x80);
	CHECK_EQ(buf[3], 0x21);
	CHECK_EQ(buf[4], 31);
	CHECK(memcmp(buf + 8, "BTVM    DVD-ROM         1.0 ", 28) == 0);
	const uint8_t inquiry5[12] = { 0x12, 0, 0, 0, 5 };
	CHECK_EQ(good(h, inquiry5, buf, sizeof(buf)), 5);
	const uint8_t vpd[12] = { 0x12, 1, 0x80, 0, 96 };
	check_condition(h, vpd, 5, 0x24, 0);
	const uint8_t capacity[12] = { 0x25 };
	CHECK_EQ(good(h, capacity, buf, sizeof(buf)), 8);
	CHECK_EQ(be32(buf), ISO_SECTORS - 1);
	CHECK_EQ(be32(buf + 4), 2048);
	const uint8_t speed[12] = { 0xbb, 0, 0xff, 0xff, 0xff, 0xff };
	CHECK_EQ(good(h, speed, buf, sizeof(buf)), 0);
	const uint8_t unknown[12] = { 0xff };
	check_condition(h, unknown, 5, 0x20, 0);
	const uint8_t mode_select[12] = { 0x55, 0x10, 0, 0, 0, 0, 0, 0, 8 };
	check_condition(h, mode_select, 5, 0x20, 0);
	const uint8_t seek[12] = { 0x2b, 0, 0, 0, 0x01, 0x2b };
	CHECK_EQ(good(h, seek, buf, sizeof(buf)), 0);
	const uint8_t seek_far[12] = { 0x2b, 0, 0, 0, 0x01, 0x2c };
	check_condition(h, seek_far, 5, 0x21, 0);
	/* READ DISC INFORMATION and MECHANISM STATUS. */
	const uint8_t disc_info[12] = { 0x51, 0, 0, 0, 0, 0, 0, 0, 34 };
	CHECK_EQ(good(h, disc_info, buf, sizeof(buf)), 34);
	CHECK_EQ(be16(buf), 32);
	CHECK_EQ(buf[2], 0x0e);
	CHECK_EQ(buf[3], 1);
	CHECK_EQ(buf[4], 1);
	const uint8_t track_info[12] = { 0x51, 1, 0, 0, 0, 0, 0, 0, 34 };
	check_condition(h, track_info, 5, 0x24, 0);
	const uint8_t mech[12] = { 0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 8 };
	CHECK_EQ(good(h, mech, buf, sizeof(buf)), 8);
	CHECK_EQ(buf[1], 0);
	h_end(h);
}

static void test_read(struct harness *h)
{
	static uint8_t buf[200 * 2048];
	uint8_t cdb[12];

	setup(h, iso_path);
	/* The volume descriptors, the boot catalog, the root and the file. */
	read10(cdb, 16, 7);
	CHECK_EQ(good(h, cdb, buf, sizeof(buf)), 7 * 2048);
	CHECK(memcmp(buf, iso + 16 * 2048, 7 * 2048) == 0);
	CHECK(memcmp(buf + 1, "CD001", 5) == 0);
	CHECK(memcmp(buf + 2048 + 7, "EL TORITO SPECIFICATION", 23) == 0);
	CHECK(memcmp(buf + 6 * 2048, "hello, world\n", 13) == 0);
	/* 200 sectors, more than the drive's buffer, in blocks of at most
	 * the limit, even but for the last. */
	read10(cdb, 50, 200);
	struct result r = packet(h, cdb, buf, sizeof(buf));
	CHECK_EQ(r.status, IDE_STATUS_DRDY);
	CHECK_EQ(r.got, 200 * 2048);
	CHECK(r.largest <= 0xfffe && !r.odd_inside);
	CHECK_EQ(r.rises, r.blocks + 1);
	CHECK(memcmp(buf, iso + 50 * 2048, 200 * 2048) == 0);
	/* An odd limit gives even blocks; 32-bit accesses. */
	read10(cdb, 100, 3);
	r = packet_io(h, cdb, 1001, buf, sizeof(buf), false, 4);
	CHECK_EQ(r.got, 3 * 2048);
	CHECK_EQ(r.largest, 1000);
	CHECK(!r.odd_inside);
	CHECK(memcmp(buf, iso + 100 * 2048, 3 * 2048) == 0);
	/* A limit of 0 is as much as it takes. */
	read10(cdb, 10, 20);
	r = packet_io(h, cdb, 0, buf, sizeof(buf), false, 2);
	CHECK_EQ(r.blocks, 1);
	CHECK(memcmp(buf, iso + 10 * 2048, 20 * 2048) == 0);
	/* SeaBIOS: interrupts off, a block a sector, polling. */
	devctl_out(h, CH, IDE_CTL_NIEN);
	read10(cdb, 17, 4);
	r = packet_io(h, cdb, 2048, buf, sizeof(buf), false, 2);
	CHECK_EQ(r.blocks, 4);
	CHECK_EQ(r.largest, 2048);
	CHECK_EQ(r.rises, 0);
	CHECK_EQ(r.status, IDE_STATUS_DRDY);
	CHECK(memcmp(buf, iso + 17 * 2048, 4 * 2048) == 0);
	devctl_out(h, CH, 0);
	/* READ(12), READ CD, the edges. */
	const uint8_t read12[12] = { 0xa8, 0, 0, 0, 0x01, 0x29, 0, 0, 0, 3 };
	CHECK_EQ(good(h, read12, buf, sizeof(buf)), 3 * 2048);
	CHECK(memcmp(buf, iso + 297 * 2048, 3 * 2048) == 0);
	const uint8_t read12_far[12] = { 0xa8, 0, 0, 0, 0x01, 0x2b, 0, 0, 0, 2 };
	check_condition(h, read12_far, 5, 0x21, 0);
	const uint8_t read12_huge[12] = { 0xa8, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff };
	check_condition(h, read12_huge, 5, 0x21, 0);
	read10(cdb, ISO_SECTORS, 0);
	CHECK_EQ(good(h, cdb, buf, sizeof(buf)), 0);
	read10(cdb, ISO_SECTORS, 1);
	check_condition(h, cdb, 5, 0x21, 0);
	read10(cdb, 0xffffffffu, 0xffff);
	check_condition(h, cdb, 5, 0x21, 0);
	const uint8_t read_cd[12] = { 0xbe, 0, 0, 0, 0, 21, 0, 0, 2, 0x10 };
	CHECK_EQ(good(h, read_cd, buf, sizeof(buf)), 2 * 2048);
	CHECK(memcmp(buf, iso + 21 * 2048, 2 * 2048) == 0);
	const uint8_t read_cd_raw[12] = { 0xbe, 0, 0, 0, 0, 21, 0, 0, 2, 0xf8 };
	check_condition(h, read_cd_raw, 5, 0x24, 0);
	const uint8_t read_cd_audio[12] = { 0xbe, 1 << 2, 0, 0, 0, 21, 0, 0, 2, 0x10 };
	check_condition(h, read_cd_audio, 5, 0x24, 0);
	CHECK(ide_get_stats(&h->ide).packets > 10);
	h_end(h);
}

static void test_mode_sense(struct harness *h)
{
	uint8_t buf[256];

	setup(h, iso_path);
	const uint8_t caps[12] = { 0x5a, 0, 0x2a, 0, 0, 0, 0, 1, 0 };
	CHECK_EQ(good(h, caps, buf, sizeof(buf)), 28);
	CHECK_EQ(be16(buf), 26);
	CHECK_EQ(be16(buf + 6), 0);		/* no block descriptors */
	CHECK_EQ(buf[8], 0x2a);
	CHECK_EQ(buf[9], 18);
	CHECK_EQ(buf[10] & 0x08, 0x08);		/* reads DVD-ROM */
	CHECK_EQ(buf[11], 0);			/* writes nothing */
	CHECK_EQ(buf[12] & 1, 1);		/* audio play, for Linux */
	CHECK_EQ(buf[14], 0x29);		/* tray, eject, lock, unlocked */
	const uint8_t prevent[12] = { 0x1e, 0, 0, 0, 1 };
	CHECK_EQ(good(h, prevent, buf, sizeof(buf)), 0);
	CHECK_EQ(good(h, caps, buf, sizeof(buf)), 28);
	CHECK_EQ(buf[14], 0x2b);
	/* MODE SENSE(6), page 1; all pages; the changeable values. */
	const uint8_t recovery[12] = { 0x1a, 0, 0x01, 0, 255 };
	CHECK_EQ(good(h, recovery, buf, sizeof(buf)), 12);
	CHECK_EQ(buf[0], 11);
	CHECK_EQ(buf[3], 0);
	CHECK_EQ(buf[4], 0x01);
	CHECK_EQ(buf[5], 6);
	CHECK_EQ(buf[7], 5);
	const uint8_t all[12] = { 0x5a, 0, 0x3f, 0, 0, 0, 0, 0, 255 };
	CHECK_EQ(good(h, all, buf, sizeof(buf)), 36);
	CHECK_EQ(buf[8], 0x01);
	CHECK_EQ(buf[16], 0x2a);
	const uint8_t changeable[12] = { 0x5a, 0, 0x40 | 0x2a, 0, 0, 0, 0, 0, 255 };
	CHECK_EQ(good(h, changeable, buf, sizeof(buf)), 28);
	CHECK_EQ(buf[8], 0x2a);
	CHECK_EQ(buf[14], 0);
	const uint8_t short_alloc[12] = { 0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 10 };
	CHECK_EQ(good(h, short_alloc, buf, sizeof(buf)), 10);
	const uint8_t saved[12] = { 0x5a, 0, 0xc0 | 0x2a, 0, 0, 0, 0, 0, 255 };
	check_condition(h, saved, 5, 0x39, 0);
	const uint8_t audio[12] = { 0x5a, 0, 0x0e, 0, 0, 0, 0, 0, 255 };
	check_condition(h, audio, 5, 0x24, 0);
	const uint8_t subpage[12] = { 0x5a, 0, 0x2a, 1, 0, 0, 0, 0, 255 };
	check_condition(h, subpage, 5, 0x24, 0);
	h_end(h);
}

/* The features GET CONFIGURATION lists, as (code, current) pairs. */
static unsigned features(const uint8_t *buf, uint32_t len, uint16_t *codes, bool *current)
{
	unsigned n = 0;

	for (uint32_t at = 8; at + 4 <= len && n < 16; n++) {
		codes[n] = be16(buf + at);
		current[n] = buf[at + 2] & 1;
		at += 4 + buf[at + 3];
	}
	return n;
}

static void test_configuration(struct harness *h)
{
	uint8_t buf[256];
	uint16_t codes[16];
	bool current[16];
	char dvd[256], err[256];

	setup(h, iso_path);
	const uint8_t all[12] = { 0x46, 0, 0, 0, 0, 0, 0, 0, 255 };
	uint32_t len = good(h, all, buf, sizeof(buf));
	CHECK_EQ(be32(buf), len - 4);
	CHECK_EQ(be16(buf + 6), 0x0008);	/* CD-ROM */
	unsigned n = features(buf, len, codes, current);
	static const uint16_t want[] = { 0x0000, 0x0001, 0x0003, 0x0010, 0x001e, 0x001f };
	CHECK_EQ(n, 6);
	for (unsigned i = 0; i < n && i < 6; i++)
		CHECK_EQ(codes[i], want[i]);
	CHECK(current[0] && current[1] && current[2] && current[3] && current[4] && !current[5]);
	/* The profile list: DVD-ROM not current, CD-ROM current. */
	CHECK_EQ(be16(buf + 12), 0x0010);
	CHECK_EQ(buf[14], 0);
	CHECK_EQ(be16(buf + 16), 0x0008);
	CHECK_EQ(buf[18], 1);
	CHECK_EQ(be32(buf + 24), 2);		/* core: ATAPI */
	/* RT 1: the current ones from 0x10 on; RT 2: one. */
	const uint8_t cur[12] = { 0x46, 1, 0, 0x10, 0, 0, 0, 0, 255 };
	len = good(h, cur, buf, sizeof(buf));
	n = features(buf, len, codes, current);
	CHECK(n == 2 && codes[0] == 0x0010 && codes[1] == 0x001e);
	const uint8_t one[12] = { 0x46, 2, 0, 0x03, 0, 0, 0, 0, 255 };
	len = good(h, one, buf, sizeof(buf));
	n = features(buf, len, codes, current);
	CHECK(n == 1 && codes[0] == 0x0003);
	CHECK_EQ(buf[12], 0x29);
	const uint8_t header[12] = { 0x46, 0, 0, 0, 0, 0, 0, 0, 8 };
	CHECK_EQ(good(h, header, buf, sizeof(buf)), 8);
	const uint8_t rt3[12] = { 0x46, 3, 0, 0, 0, 0, 0, 0, 255 };
	check_condition(h, rt3, 5, 0x24, 0);
	h_end(h);

	/* A disc larger than a CD is a DVD (a sparse 800 MB image). */
	h_path(h, "dvd.iso", dvd, sizeof(dvd));
	int fd = open(dvd, O_CREAT | O_TRUNC | O_RDWR, 0600);
	CHECK(fd >= 0 && ftruncate(fd, 400000 * 2048ll) == 0);
	close(fd);
	setup(h, dvd);
	len = good(h, all, buf, sizeof(buf));
	CHECK_EQ(be16(buf + 6), 0x0010);
	n = features(buf, len, codes, current);
	CHECK(n == 6 && !current[4] && current[5]);
	const uint8_t capacity[12] = { 0x25 };
	CHECK_EQ(good(h, capacity, buf, sizeof(buf)), 8);
	CHECK_EQ(be32(buf), 400000 - 1);
	/* Without a disc there is no current profile. */
	CHECK_EQ(ide_cdrom_eject(&h->ide, CD_SLOT, false, err, sizeof(err)), 0);
	len = good(h, all, buf, sizeof(buf));
	CHECK_EQ(be16(buf + 6), 0);
	n = features(buf, len, codes, current);
	CHECK(n == 6 && !current[3] && !current[4] && !current[5]);
	h_end(h);
	unlink(dvd);
}

static void test_toc(struct harness *h)
{
	uint8_t buf[64];

	setup(h, iso_path);
	const uint8_t toc[12] = { 0x43, 0, 0, 0, 0, 0, 0, 0, 64 };
	CHECK_EQ(good(h, toc, buf, sizeof(buf)), 20);
	CHECK_EQ(be16(buf), 18);
	CHECK(buf[2] == 1 && buf[3] == 1);
	CHECK(buf[5] == 0x14 && buf[6] == 1 && be32(buf + 8) == 0);
	CHECK(buf[13] == 0x14 && buf[14] == 0xaa && be32(buf + 16) == ISO_SECTORS);
	/* MSF: track 1 at 00:02:00, the lead-out 150 frames later than its
	 * LBA: 450 frames, 00:06:00. */
	const uint8_t toc_msf[12] = { 0x43, 2, 0, 0, 0, 0, 0, 0, 64 };
	CHECK_EQ(good(h, toc_msf, buf, sizeof(buf)), 20);
	CHECK(buf[8] == 0 && buf[9] == 0 && buf[10] == 2 && buf[11] == 0);
	CHECK(buf[16] == 0 && buf[17] == 0 && buf[18] == 6 && buf[19] == 0);
	/* From the lead-out on: it alone. Track 2 does not exist. */
	const uint8_t leadout[12] = { 0x43, 0, 0, 0, 0, 0, 0xaa, 0, 64 };
	CHECK_EQ(good(h, leadout, buf, sizeof(buf)), 12);
	CHECK_EQ(buf[6], 0xaa);
	const uint8_t track2[12] = { 0x43, 0, 0, 0, 0, 0, 2, 0, 64 };
	check_condition(h, track2, 5, 0x24, 0);
	/* The session info, asked for in byte 2 and where SFF-8020 and
	 * Linux's sr_cd_check put it (byte 9). */
	const uint8_t session[12] = { 0x43, 0, 1, 0, 0, 0, 0, 0, 12 };
	CHECK_EQ(good(h, session, buf, sizeof(buf)), 12);
	CHECK_EQ(be16(buf), 10);
	CHECK(buf[2] == 1 && buf[3] == 1 && buf[5] == 0x14 && buf[6] == 1 && be32(buf + 8) == 0);
	const uint8_t session_old[12] = { 0x43, 0, 0, 0, 0, 0, 0, 0, 12, 0x40 };
	uint8_t again[12];
	CHECK_EQ(good(h, session_old, again, sizeof(again)), 12);
	CHECK(memcmp(again, buf, 12) == 0);
	const uint8_t session_msf[12] = { 0x43, 2, 1, 0, 0, 0, 0, 0, 12 };
	CHECK_EQ(good(h, session_msf, buf, sizeof(buf)), 12);
	CHECK_EQ(buf[10], 2);
	const uint8_t raw[12] = { 0x43, 0, 2, 0, 0, 0, 0, 0, 64 };
	check_condition(h, raw, 5, 0x24, 0);
	const uint8_t short_toc[12] = { 0x43, 0, 0, 0, 0, 0, 0, 0, 4 };
	CHECK_EQ(good(h, short_toc, buf, sizeof(buf)), 4);
	h_end(h);
}

/* GET EVENT STATUS NOTIFICATION's media event and status. */
static void media_event(struct harness *h, uint8_t *event, uint8_t *media)
{
	const uint8_t gesn[12] = { 0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8 };
	uint8_t buf[8];

	CHECK_EQ(good(h, gesn, buf, sizeof(buf)), 8);
	CHECK_EQ(be16(buf), 6);
	CHECK_EQ(buf[2], 4);
	CHECK_EQ(buf[3], 0x10);
	*event = buf[4];
	*media = buf[5];
}

static void test_tray(struct harness *h)
{
	uint8_t buf[64], event, media;
	const uint8_t tur[12] = { 0 };
	const uint8_t eject[12] = { 0x1b, 0, 0, 0, 0x02 };
	const uint8_t load[12] = { 0x1b, 0, 0, 0, 0x03 };
	const uint8_t prevent[12] = { 0x1e, 0, 0, 0, 1 };
	const uint8_t allow[12] = { 0x1e };
	uint8_t cdb[12];

	setup(h, iso_path);
	const uint8_t async[12] = { 0x4a, 0, 0, 0, 0x10, 0, 0, 0, 8 };
	check_condition(h, async, 5, 0x24, 0);
	media_event(h, &event, &media);
	CHECK(event == 0 && media == 2);
	const uint8_t other_class[12] = { 0x4a, 1, 0, 0, 0x02, 0, 0, 0, 8 };
	CHECK_EQ(good(h, other_class, buf, sizeof(buf)), 4);
	CHECK(be16(buf) == 2 && buf[2] == 0x80 && buf[3] == 0x10);
	/* Locked: no eject. */
	CHECK_EQ(good(h, prevent, buf, sizeof(buf)), 0);
	check_condition(h, eject, 5, 0x53, 0x02);
	CHECK_EQ(good(h, allow, buf, sizeof(buf)), 0);
	CHECK_EQ(good(h, eject, buf, sizeof(buf)), 0);
	/* The tray open: not ready, the removal reported, the door open. */
	check_condition(h, tur, 2, 0x3a, 0x02);
	read10(cdb, 0, 1);
	check_condition(h, cdb, 2, 0x3a, 0x02);
	media_event(h, &event, &media);
	CHECK(event == 3 && media == 1);
	media_event(h, &event, &media);
	CHECK_EQ(event, 0);
	const uint8_t mech[12] = { 0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 8 };
	CHECK_EQ(good(h, mech, buf, sizeof(buf)), 8);
	CHECK_EQ(buf[1], 0x10);
	/* Closed again on the same disc: UNIT ATTENTION once, then ready. */
	CHECK_EQ(good(h, load, buf, sizeof(buf)), 0);
	media_event(h, &event, &media);
	CHECK(event == 2 && media == 2);
	check_condition(h, tur, 6, 0x28, 0);
	CHECK_EQ(good(h, tur, buf, sizeof(buf)), 0);
	/* Start and stop without LoEj: nothing moves. */
	const uint8_t stop[12] = { 0x1b, 0, 0, 0, 0 };
	CHECK_EQ(good(h, stop, buf, sizeof(buf)), 0);
	CHECK_EQ(good(h, tur, buf, sizeof(buf)), 0);
	h_end(h);
}

static void test_media_change(struct harness *h)
{
	char err[256], missing[300], tiny[256];
	uint8_t buf[64], event, media;
	const uint8_t tur[12] = { 0 };
	const uint8_t capacity[12] = { 0x25 };
	const uint8_t inquiry[12] = { 0x12, 0, 0, 0, 36 };
	const uint8_t prevent[12] = { 0x1e, 0, 0, 0, 1 };
	uint8_t cdb[12];

	setup(h, iso_path);
	CHECK_EQ(ide_cdrom_change(&h->ide, CD_SLOT, iso2_path, false, err, sizeof(err)), 0);
	/* Commands MMC lets through; then the change, in two steps. */
	CHECK_EQ(good(h, inquiry, buf, sizeof(buf)), 36);
	media_event(h, &event, &media);
	CHECK(event == 2 && media == 2);
	check_condition(h, tur, 2, 0x3a, 0x01);
	check_condition(h, tur, 6, 0x28, 0x00);
	CHECK_EQ(good(h, tur, buf, sizeof(buf)), 0);
	CHECK_EQ(good(h, capacity, buf, sizeof(buf)), 8);
	CHECK_EQ(be32(buf), ISO2_SECTORS - 1);
	read10(cdb, 400, 2);
	CHECK_EQ(good(h, cdb, buf, 0), 4096);
	/* A locked tray refuses both, asking the guest to eject; force
	 * goes ahead. */
	CHECK_EQ(good(h, prevent, buf, sizeof(buf)), 0);
	CHECK_EQ(ide_cdrom_change(&h->ide, CD_SLOT, iso_path, false, err, sizeof(err)), -EBUSY);
	CHECK_STR_CONTAINS(err, "locked");
	CHECK_EQ(ide_cdrom_eject(&h->ide, CD_SLOT, false, err, sizeof(err)), -EBUSY);
	media_event(h, &event, &media);
	CHECK(event == 1 && media == 2);
	CHECK_EQ(good(h, capacity, buf, sizeof(buf)), 8);
	CHECK_EQ(be32(buf), ISO2_SECTORS - 1);
	CHECK_EQ(ide_cdrom_change(&h->ide, CD_SLOT, iso_path, true, err, sizeof(err)), 0);
	check_condition(h, capacity, 2, 0x3a, 0x01);
	check_condition(h, capacity, 6, 0x28, 0x00);
	CHECK_EQ(good(h, capacity, buf, sizeof(buf)), 8);
	CHECK_EQ(be32(buf), ISO_SECTORS - 1);
	/* Files that cannot be a disc leave the disc in place. */
	snprintf(missing, sizeof(missing), "%s.missing", iso_path);
	CHECK_EQ(ide_cdrom_change(&h->ide, CD_SLOT, missing, false, err, sizeof(err)), -ENOENT);
	CHECK_STR_CONTAINS(err, missing);
	h_path(h, "tiny.iso", tiny, sizeof(tiny));
	make_disk(tiny, 1024);
	CHECK_EQ(ide_cdrom_change(&h->ide, CD_SLOT, tiny, false, err, sizeof(err)), -EINVAL);
	CHECK_STR_CONTAINS(err, "not a CD image");
	CHECK_EQ(good(h, tur, buf, sizeof(buf)), 0);
	CHECK_EQ(ide_cdrom_change(&h->ide, CD_SLOT + 1, iso_path, false, err, sizeof(err)), -EINVAL);
	CHECK_EQ(ide_cdrom_eject(&h->ide, 0, false, err, sizeof(err)), -EINVAL);
	/* Eject: the disc gone, the tray open; change closes it again. */
	CHECK_EQ(ide_cdrom_eject(&h->ide, CD_SLOT, false, err, sizeof(err)), 0);
	check_condition(h, tur, 2, 0x3a, 0x02);
	media_event(h, &event, &media);
	CHECK(event == 3 && media == 1);
	const uint8_t load[12] = { 0x1b, 0, 0, 0, 0x03 };
	CHECK_EQ(good(h, load, buf, sizeof(buf)), 0);	/* closed, still empty */
	check_condition(h, tur, 2, 0x3a, 0x01);
	CHECK_EQ(ide_cdrom_change(&h->ide, CD_SLOT, iso2_path, false, err, sizeof(err)), 0);
	check_condition(h, tur, 2, 0x3a, 0x01);
	check_condition(h, tur, 6, 0x28, 0x00);
	CHECK_EQ(good(h, tur, buf, sizeof(buf)), 0);
	CHECK_EQ(ide_get_stats(&h->ide).media_changes, 4);
	h_end(h);
	unlink(tiny);

	/* A drive that starts empty. */
	setup(h, NULL);
	check_condition(h, tur, 2, 0x3a, 0x01);
	check_condition(h, capacity, 2, 0x3a, 0x01);
	CHECK_EQ(good(h, inquiry, buf, sizeof(buf)), 36);
	CHECK_EQ(ide_cdrom_change(&h->ide, CD_SLOT, iso_path, false, err, sizeof(err)), 0);
	check_condition(h, tur, 2, 0x3a, 0x01);
	check_condition(h, tur, 6, 0x28, 0x00);
	CHECK_EQ(good(h, capacity, buf, sizeof(buf)), 8);
	h_end(h);
}

static void test_dma(struct harness *h)
{
	uint8_t cdb[12], buf[64];

	setup(h, iso_path);
	/* READ(10) of 10 sectors into three regions that fit exactly. */
	prd(h, PRDT, 0, DMA_BUF, 0x1000, false);
	prd(h, PRDT, 1, DMA_BUF + 0x4000, 0x800, false);
	prd(h, PRDT, 2, DMA_BUF + 0x8000, 10 * 2048 - 0x1800, true);
	bm_setup(h, CH, PRDT, true);
	read10(cdb, 30, 10);
	struct result r = packet_io(h, cdb, 0xfffe, buf, 0, true, 2);
	CHECK_EQ(r.status, IDE_STATUS_DRDY);
	CHECK_EQ(r.got, 0);
	CHECK_EQ(r.rises, 1);
	CHECK_EQ(bm_status(h, CH), IDE_BM_ST_INTERRUPT);
	bm_stop(h, CH);
	CHECK(memcmp(h->ram.host + DMA_BUF, iso + 30 * 2048, 0x1000) == 0);
	CHECK(memcmp(h->ram.host + DMA_BUF + 0x4000, iso + 30 * 2048 + 0x1000, 0x800) == 0);
	CHECK(memcmp(h->ram.host + DMA_BUF + 0x8000, iso + 30 * 2048 + 0x1800,
		     10 * 2048 - 0x1800) == 0);
	/* 200 sectors, more than the buffer, through 64 KiB regions. */
	for (unsigned i = 0; i < 7; i++)
		prd(h, PRDT, i, DMA_BUF + 0x10000 * i, 0, i == 6);
	bm_setup(h, CH, PRDT, true);
	read10(cdb, 60, 200);
	r = packet_io(h, cdb, 0xfffe, buf, 0, true, 2);
	CHECK_EQ(r.status, IDE_STATUS_DRDY);
	CHECK_EQ(bm_status(h, CH), IDE_BM_ST_ACTIVE | IDE_BM_ST_INTERRUPT);
	bm_stop(h, CH);
	CHECK(memcmp(h->ram.host + DMA_BUF, iso + 60 * 2048, 200 * 2048) == 0);
	/* A response by DMA, shorter than its region. */
	memset(h->ram.host + DMA_BUF, 0, 512);
	prd(h, PRDT, 0, DMA_BUF, 512, true);
	bm_setup(h, CH, PRDT, true);
	const uint8_t inquiry[12] = { 0x12, 0, 0, 0, 96 };
	r = packet_io(h, inquiry, 0xfffe, buf, 0, true, 2);
	CHECK_EQ(r.status, IDE_STATUS_DRDY);
	CHECK_EQ(bm_status(h, CH), IDE_BM_ST_ACTIVE | IDE_BM_ST_INTERRUPT);
	bm_stop(h, CH);
	CHECK_EQ(h->ram.host[DMA_BUF], 0x05);
	CHECK(memcmp(h->ram.host + DMA_BUF + 16, "DVD-ROM", 7) == 0);
	CHECK_EQ(h->ram.host[DMA_BUF + 36], 0);
	/* No data: the bus master is not used. */
	bm_setup(h, CH, PRDT, true);
	const uint8_t tur[12] = { 0 };
	r = packet_io(h, tur, 0xfffe, buf, 0, true, 2);
	CHECK_EQ(r.status, IDE_STATUS_DRDY);
	CHECK_EQ(bm_status(h, CH), IDE_BM_ST_ACTIVE | IDE_BM_ST_INTERRUPT);
	bm_stop(h, CH);
	/* Regions too short: the bus master's error, ABORTED COMMAND. */
	prd(h, PRDT, 0, DMA_BUF, 2048, true);
	bm_setup(h, CH, PRDT, true);
	read10(cdb, 30, 2);
	r = packet_io(h, cdb, 0xfffe, buf, 0, true, 2);
	CHECK_EQ(r.status, IDE_STATUS_DRDY | IDE_STATUS_ERR);
	CHECK_EQ(r.error >> 4, 0x0b);
	CHECK_EQ(bm_status(h, CH), IDE_BM_ST_ERROR | IDE_BM_ST_INTERRUPT);
	bm_stop(h, CH);
	uint8_t key, asc, ascq;
	request_sense(h, &key, &asc, &ascq);
	CHECK(key == 0x0b && asc == 0x4b);
	/* A region outside RAM. */
	prd(h, PRDT, 0, 0x40000000, 4096, true);
	bm_setup(h, CH, PRDT, true);
	r = packet_io(h, cdb, 0xfffe, buf, 0, true, 2);
	CHECK_EQ(r.status, IDE_STATUS_DRDY | IDE_STATUS_ERR);
	CHECK_EQ(bm_status(h, CH), IDE_BM_ST_ERROR | IDE_BM_ST_INTERRUPT);
	bm_stop(h, CH);
	CHECK_EQ(ide_get_stats(&h->ide).dma_errors, 2);
	h_end(h);
}

/* Saved in the middle of a PIO block, after a media change the guest
 * has not heard of yet; restored into a drive that holds the first disc
 * again, it goes on with the second. */
static void test_snapshot(struct harness *h)
{
	char err[SNAP_MSG_LEN];
	uint8_t cdb[12], buf[4 * 2048];
	const uint8_t tur[12] = { 0 };

	setup(h, iso_path);
	read10(cdb, 40, 4);
	select_cd(h);
	reg_out(h, CH, IDE_REG_ERROR, 0);
	reg_out(h, CH, IDE_REG_LBAM, 0x00);
	reg_out(h, CH, IDE_REG_LBAH, 0x10);	/* blocks of 4096 */
	reg_out(h, CH, IDE_REG_STATUS, ATA_CMD_PACKET);
	for (unsigned i = 0; i < 12; i += 2)
		h_out(h, cmd_port(CH, IDE_REG_DATA), 2, (uint32_t)(cdb[i] | cdb[i + 1] << 8));
	CHECK_EQ(status_in(h, CH), 0x48);
	for (unsigned i = 0; i < 1000; i += 2) {
		uint16_t v = (uint16_t)h_in(h, cmd_port(CH, IDE_REG_DATA), 2);
		memcpy(buf + i, &v, 2);
	}
	int fd1 = snap_save(h);
	CHECK_EQ(ide_cdrom_change(&h->ide, CD_SLOT, iso2_path, false, err, sizeof(err)), 0);
	int fd2 = snap_save(h);
	h_end(h);

	setup(h, iso_path);
	CHECK_EQ(snap_load(h, fd1, err, sizeof(err)), 0);
	CHECK_EQ(altstatus_in(h, CH), 0x48);
	for (unsigned i = 1000; i < 4096; i += 2) {
		uint16_t v = (uint16_t)h_in(h, cmd_port(CH, IDE_REG_DATA), 2);
		memcpy(buf + i, &v, 2);
	}
	CHECK_EQ(status_in(h, CH), 0x48);
	CHECK_EQ(reg_in(h, CH, IDE_REG_LBAH), 0x10);
	for (unsigned i = 4096; i < 8192; i += 2) {
		uint16_t v = (uint16_t)h_in(h, cmd_port(CH, IDE_REG_DATA), 2);
		memcpy(buf + i, &v, 2);
	}
	CHECK_EQ(status_in(h, CH), 0x40);
	CHECK_EQ(reg_in(h, CH, IDE_REG_NSECT), 3);
	CHECK(memcmp(buf, iso + 40 * 2048, 4 * 2048) == 0);
	h_end(h);

	setup(h, iso_path);
	CHECK_EQ(snap_load(h, fd2, err, sizeof(err)), 0);
	devctl_out(h, CH, IDE_CTL_SRST);
	devctl_out(h, CH, 0);
	check_condition(h, tur, 2, 0x3a, 0x01);
	check_condition(h, tur, 6, 0x28, 0x00);
	const uint8_t capacity[12] = { 0x25 };
	CHECK_EQ(good(h, capacity, buf, sizeof(buf)), 8);
	CHECK_EQ(be32(buf), ISO2_SECTORS - 1);
	h_end(h);

	/* The saved disc gone: refused with its name. */
	char moved[300];
	snprintf(moved, sizeof(moved), "%s.moved", iso2_path);
	CHECK_EQ(rename(iso2_path, moved), 0);
	setup(h, iso_path);
	CHECK(snap_load(h, fd2, err, sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, iso2_path);
	h_end(h);
	CHECK_EQ(rename(moved, iso2_path), 0);
	/* A machine without the CD drive. */
	h_begin(h);
	CHECK_EQ(ide_open_disk(&h->ide, CD_SLOT + 1, disk_path, false, false, false, err, sizeof(err)), 0);
	h_attach(h);
	CHECK(snap_load(h, fd1, err, sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, "IDE slot 2 is empty here, a CD drive in the snapshot");
	h_end(h);
	close(fd1);
	close(fd2);
}

/* Random packets: random CDBs (mostly with a real operation code),
 * byte count limits and DMA flags, PRDs anywhere; data read until the
 * drive is done or a while has passed, then a reset. The drive must
 * survive, answer, and never become busy for good. */
static void test_random_packets(struct harness *h)
{
	static const uint8_t ops[] = {
		0x00, 0x03, 0x12, 0x1a, 0x1b, 0x1e, 0x25, 0x28, 0x2b, 0x43, 0x46, 0x4a, 0x51, 0x5a,
		0xa8, 0xbb, 0xbd, 0xbe,
	};
	uint64_t seed = 0xcd0cd0;
	char err[256];

	setup(h, iso_path);
	for (unsigned i = 0; i < 20000; i++) {
		uint8_t cdb[12];
		for (unsigned k = 0; k < 12; k++) {
			seed = seed * 6364136223846793005ull + 1442695040888963407ull;
			cdb[k] = (uint8_t)(seed >> 40);
		}
		if (cdb[11] & 7)
			cdb[0] = ops[cdb[0] % sizeof(ops)];
		if (cdb[11] & 0x30) {	/* addresses on the disc, small counts */
			cdb[2] = cdb[3] = cdb[4] = cdb[6] = cdb[7] = 0;
			cdb[8] &= 0x3f;
		}
		bool dma = cdb[11] & 0x80;
		prd(h, PRDT, 0, (uint32_t)(seed >> 8) % (uint32_t)h->ram.size, (uint32_t)seed, seed & 1);
		prd(h, PRDT, 1, DMA_BUF, 0, true);
		bm_setup(h, CH, PRDT, true);
		select_cd(h);
		reg_out(h, CH, IDE_REG_ERROR, dma);
		reg_out(h, CH, IDE_REG_LBAM, (uint8_t)(seed >> 16));
		reg_out(h, CH, IDE_REG_LBAH, (uint8_t)(seed >> 24));
		reg_out(h, CH, IDE_REG_STATUS, ATA_CMD_PACKET);
		for (unsigned k = 0; k < 12; k += 2)
			h_out(h, cmd_port(CH, IDE_REG_DATA), 2, (uint32_t)(cdb[k] | cdb[k + 1] << 8));
		if (dma)
			bm_start(h, CH, true);
		for (unsigned words = 0; words < 100000 && (status_in(h, CH) & IDE_STATUS_DRQ);
		     words++)
			(void)h_in(h, cmd_port(CH, IDE_REG_DATA), 4);
		uint8_t st = altstatus_in(h, CH);
		CHECK(!(st & IDE_STATUS_BSY));
		bm_stop(h, CH);
		if (st & IDE_STATUS_DRQ) {
			devctl_out(h, CH, IDE_CTL_SRST);
			devctl_out(h, CH, 0);
		}
		if (i % 5000 == 4999)
			CHECK_EQ(ide_cdrom_change(&h->ide, CD_SLOT, i % 2 ? iso_path : iso2_path, true,
						  err, sizeof(err)),
				 0);
	}
	const uint8_t inquiry[12] = { 0x12, 0, 0, 0, 36 };
	uint8_t buf[36];
	CHECK_EQ(good(h, inquiry, buf, sizeof(buf)), 36);
	CHECK(ide_get_stats(&h->ide).sectors_read > 10000);
	h_end(h);
}

int main(void)
{
	static struct harness h;

	h_init(&h);
	h_path(&h, "cd.iso", iso_path, sizeof(iso_path));
	h_path(&h, "cd2.iso", iso2_path, sizeof(iso2_path));
	h_path(&h, "disk.img", disk_path, sizeof(disk_path));
	iso = make_iso(iso_path, ISO_SECTORS);
	iso2 = make_iso(iso2_path, ISO2_SECTORS);
	make_disk(disk_path, 1 << 20);
	test_signature_identify(&h);
	test_basics(&h);
	test_read(&h);
	test_mode_sense(&h);
	test_configuration(&h);
	test_toc(&h);
	test_tray(&h);
	test_media_change(&h);
	test_dma(&h);
	test_snapshot(&h);
	test_random_packets(&h);
	unlink(iso_path);
	unlink(iso2_path);
	unlink(disk_path);
	free(iso);
	free(iso2);
	h_fini(&h);
	return check_report("test_atapi");
}
