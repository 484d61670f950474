/* The PIIX3 IDE controller and its ATA disks, driven as a driver drives
 * them: PCI configuration cycles (and what the direct-boot firmware
 * writes there), the legacy ports and the bus master
 * through the bus, PRD tables and data in a real guest_ram, disk images
 * in a temporary directory checked with pread. IDENTIFY, PIO reads and
 * writes (single, multiple, 16- and 32-bit, LBA28, LBA48, CHS), DMA,
 * FLUSH and the write cache, SRST, nIEN and HOB, then every error: out of
 * range, read-only images, absent drives, bad commands, every way a PRD
 * table can be wrong; --snapshot, the snapshot round trip, the image
 * lock, and a hostile guest's random accesses. (ATAPI: test_atapi.c.) */
#include "ide_harness.h"

#include "boot/pci_firmware.h"

#define SECTORS_A	8192u	/* 4 MiB, read-write, primary master */
#define SECTORS_B	2048u	/* 1 MiB, read-only, primary slave */

static char path_a[256], path_b[256];

/* Primary master A, primary slave B read-only, secondary empty. */
static void setup(struct harness *h)
{
	char err[256];

	h_begin(h);
	CHECK_EQ(ide_open_disk(&h->ide, 0, path_a, false, false, false, err, sizeof(err)), 0);
	CHECK_EQ(ide_open_disk(&h->ide, 1, path_b, true, false, false, err, sizeof(err)), 0);
	h_attach(h);
}

static void select_unit(struct harness *h, unsigned ch, unsigned unit)
{
	reg_out(h, ch, IDE_REG_DEVICE, (uint8_t)(0xa0 | IDE_DEVICE_LBA | unit << 4));
}

static void lba28(struct harness *h, unsigned ch, unsigned unit, uint32_t lba, uint32_t count)
{
	reg_out(h, ch, IDE_REG_NSECT, (uint8_t)count);
	reg_out(h, ch, IDE_REG_LBAL, (uint8_t)lba);
	reg_out(h, ch, IDE_REG_LBAM, (uint8_t)(lba >> 8));
	reg_out(h, ch, IDE_REG_LBAH, (uint8_t)(lba >> 16));
	reg_out(h, ch, IDE_REG_DEVICE,
		(uint8_t)(0xa0 | IDE_DEVICE_LBA | unit << 4 | ((lba >> 24) & 0x0f)));
}

static void lba48(struct harness *h, unsigned ch, unsigned unit, uint64_t lba, uint32_t count)
{
	reg_out(h, ch, IDE_REG_NSECT, (uint8_t)(count >> 8));
	reg_out(h, ch, IDE_REG_LBAL, (uint8_t)(lba >> 24));
	reg_out(h, ch, IDE_REG_LBAM, (uint8_t)(lba >> 32));
	reg_out(h, ch, IDE_REG_LBAH, (uint8_t)(lba >> 40));
	reg_out(h, ch, IDE_REG_NSECT, (uint8_t)count);
	reg_out(h, ch, IDE_REG_LBAL, (uint8_t)lba);
	reg_out(h, ch, IDE_REG_LBAM, (uint8_t)(lba >> 8));
	reg_out(h, ch, IDE_REG_LBAH, (uint8_t)(lba >> 16));
	reg_out(h, ch, IDE_REG_DEVICE, (uint8_t)(IDE_DEVICE_LBA | unit << 4));
}

static void command(struct harness *h, unsigned ch, uint8_t cmd)
{
	reg_out(h, ch, IDE_REG_STATUS, cmd);
}

/* Reads len bytes through the data port, 16 or 32 bits at a time. */
static void pio_in(struct harness *h, unsigned ch, uint8_t *dst, unsigned len, unsigned width)
{
	for (unsigned i = 0; i < len; i += width) {
		uint32_t v = h_in(h, cmd_port(ch, IDE_REG_DATA), width);
		memcpy(dst + i, &v, width);
	}
}

static void pio_out(struct harness *h, unsigned ch, const uint8_t *src, unsigned len, unsigned width)
{
	for (unsigned i = 0; i < len; i += width) {
		uint32_t v = 0;
		memcpy(&v, src + i, width);
		h_out(h, cmd_port(ch, IDE_REG_DATA), width, v);
	}
}

static bool matches_disk(const uint8_t *buf, uint64_t lba, unsigned sectors)
{
	for (unsigned i = 0; i < sectors * 512; i++)
		if (buf[i] != disk_byte(lba * 512 + i))
			return false;
	return true;
}

static uint16_t word(const uint8_t *id, unsigned w)
{
	return (uint16_t)(id[2 * w] | id[2 * w + 1] << 8);
}

/* An ATA string from IDENTIFY words, spaces at the end dropped. */
static void id_string(const uint8_t *id, unsigned w, unsigned len, char *out)
{
	for (unsigned i = 0; i < len; i++)
		out[i] = (char)id[2 * w + (i ^ 1)];
	out[len] = 0;
	for (int i = (int)len - 1; i >= 0 && out[i] == ' '; i--)
		out[i] = 0;
}

static void identify(struct harness *h, unsigned ch, unsigned unit, uint8_t *id, unsigned width)
{
	select_unit(h, ch, unit);
	command(h, ch, ATA_CMD_IDENTIFY);
	CHECK_EQ(status_in(h, ch), 0x58);
	pio_in(h, ch, id, 512, width);
	CHECK_EQ(status_in(h, ch), 0x50);
}

/* ---- The controller ----------------------------------------------------- */

static void test_pci(struct harness *h)
{
	setup(h);
	CHECK_EQ(cfg_rd(h, PCI_REG_VENDOR, 2), 0x8086);
	CHECK_EQ(cfg_rd(h, PCI_REG_DEVICE, 2), 0x7010);
	CHECK_EQ(cfg_rd(h, PCI_REG_REVISION, 4) >> 8, 0x010180);
	CHECK_EQ(cfg_rd(h, PCI_REG_HEADER_TYPE, 1), 0);
	CHECK_EQ(cfg_rd(h, PCI_REG_INTERRUPT_PIN, 1), 0);
	CHECK_EQ(cfg_rd(h, PCI_REG_STATUS, 2), 0x0280);
	for (unsigned bar = 0; bar < 6; bar++)
		if (bar != IDE_BM_BAR)
			CHECK_EQ(cfg_rd(h, PCI_REG_BAR0 + 4 * bar, 4), 0);
	/* BAR 4: 16 I/O ports. */
	cfg_wr(h, PCI_REG_BAR0 + 16, 4, 0xffffffff);
	CHECK_EQ(cfg_rd(h, PCI_REG_BAR0 + 16, 4), 0xfffffff1);
	cfg_wr(h, PCI_REG_BAR0 + 16, 4, BM_BASE);
	CHECK_EQ(cfg_rd(h, PCI_REG_BAR0 + 16, 4), BM_BASE | 1);
	CHECK_EQ(cfg_rd(h, 0x40, 4), 0x80008000);
	cfg_wr(h, 0x44, 1, 0x35);
	CHECK_EQ(cfg_rd(h, 0x44, 1), 0x35);
	CHECK_EQ(cfg_rd(h, 0x45, 1), 0);
	/* The PRD pointer is dword aligned; the bus master's ports go with
	 * I/O decoding, the legacy ports do not. */
	h_out(h, bm_port(1, IDE_BM_PRDT), 4, 0x12345677);
	CHECK_EQ(h_in(h, bm_port(1, IDE_BM_PRDT), 4), 0x12345674);
	CHECK_EQ(h_in(h, bm_port(1, IDE_BM_PRDT + 2), 2), 0x1234);
	cfg_wr(h, PCI_REG_COMMAND, 2, PCI_COMMAND_MASTER);
	CHECK_EQ(h_in(h, bm_port(1, IDE_BM_PRDT), 4), 0xffffffff);
	CHECK_EQ(status_in(h, 0), 0x50);
	cfg_wr(h, PCI_REG_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MASTER);
	CHECK_EQ(h_in(h, bm_port(1, IDE_BM_PRDT), 4), 0x12345674);
	/* The DMA capable bits are the firmware's; error and interrupt
	 * clear on a 1. */
	h_out(h, bm_port(0, IDE_BM_STATUS), 1, 0xff);
	CHECK_EQ(bm_status(h, 0), 0x60);
	h_end(h);
}

static void test_signature_and_reset(struct harness *h)
{
	setup(h);
	for (unsigned unit = 0; unit < 2; unit++) {
		select_unit(h, 0, unit);
		CHECK_EQ(reg_in(h, 0, IDE_REG_NSECT), 1);
		CHECK_EQ(reg_in(h, 0, IDE_REG_LBAL), 1);
		CHECK_EQ(reg_in(h, 0, IDE_REG_LBAM), 0);
		CHECK_EQ(reg_in(h, 0, IDE_REG_LBAH), 0);
		CHECK_EQ(reg_in(h, 0, IDE_REG_ERROR), 1);
		CHECK_EQ(status_in(h, 0), 0x50);
	}
	/* Linux's ata_devchk on both registers, then an empty channel. */
	reg_out(h, 0, IDE_REG_NSECT, 0x55);
	reg_out(h, 0, IDE_REG_LBAL, 0xaa);
	CHECK_EQ(reg_in(h, 0, IDE_REG_NSECT), 0x55);
	CHECK_EQ(reg_in(h, 0, IDE_REG_LBAL), 0xaa);
	for (unsigned unit = 0; unit < 2; unit++) {
		select_unit(h, 1, unit);
		reg_out(h, 1, IDE_REG_NSECT, 0x55);
		reg_out(h, 1, IDE_REG_LBAL, 0xaa);
		CHECK_EQ(reg_in(h, 1, IDE_REG_NSECT), 0);
		CHECK_EQ(reg_in(h, 1, IDE_REG_LBAL), 0);
		CHECK_EQ(status_in(h, 1), 0);
		CHECK_EQ(altstatus_in(h, 1), 0);
	}
	/* SRST: busy while held, the signature when released, device 0
	 * selected again, no interrupt. */
	select_unit(h, 0, 1);
	reg_out(h, 0, IDE_REG_LBAM, 0x77);
	unsigned rises = h->irq_rises[0];
	devctl_out(h, 0, IDE_CTL_SRST);
	CHECK_EQ(altstatus_in(h, 0), IDE_STATUS_BSY);
	command(h, 0, ATA_CMD_IDENTIFY);	/* ignored while in reset */
	devctl_out(h, 0, 0);
	CHECK_EQ(status_in(h, 0), 0x50);
	CHECK_EQ(reg_in(h, 0, IDE_REG_DEVICE), 0);
	CHECK_EQ(reg_in(h, 0, IDE_REG_LBAM), 0);
	CHECK_EQ(reg_in(h, 0, IDE_REG_ERROR), 1);
	CHECK_EQ(h->irq_rises[0], rises);
	/* EXECUTE DEVICE DIAGNOSTIC: both drives, with an interrupt. */
	select_unit(h, 0, 1);
	reg_out(h, 0, IDE_REG_LBAH, 0x33);
	command(h, 0, ATA_CMD_DIAGNOSTIC);
	CHECK_EQ(h->irq_rises[0], rises + 1);
	CHECK_EQ(reg_in(h, 0, IDE_REG_ERROR), 1);
	CHECK_EQ(reg_in(h, 0, IDE_REG_LBAH), 0);
	CHECK_EQ(status_in(h, 0), 0x50);
	CHECK_EQ(h->irq_level[0], 0);
	h_end(h);
}

static void test_identify(struct harness *h)
{
	uint8_t id[512], id32[512];
	char s[41];

	setup(h);
	unsigned rises = h->irq_rises[0];
	select_unit(h, 0, 0);
	command(h, 0, ATA_CMD_IDENTIFY);
	CHECK_EQ(h->irq_rises[0], rises + 1);
	CHECK_EQ(h->irq_level[0], 1);
	CHECK_EQ(altstatus_in(h, 0), 0x58);
	CHECK_EQ(h->irq_level[0], 1);	/* the alternate status leaves it */
	CHECK_EQ(status_in(h, 0), 0x58);
	CHECK_EQ(h->irq_level[0], 0);
	pio_in(h, 0, id, 512, 2);
	CHECK_EQ(status_in(h, 0), 0x50);
	CHECK_EQ(h->irq_rises[0], rises + 1);	/* none after the last block */
	CHECK_EQ(h_in(h, cmd_port(0, IDE_REG_DATA), 2), 0xffff);

	CHECK_EQ(word(id, 0), 0x0040);
	CHECK_EQ(word(id, 1), SECTORS_A / (16 * 63));
	CHECK_EQ(word(id, 3), 16);
	CHECK_EQ(word(id, 6), 63);
	id_string(id, 10, 20, s);
	CHECK(strcmp(s, "BTVM00001") == 0);
	id_string(id, 27, 40, s);
	CHECK(strcmp(s, "BTVM HARDDISK") == 0);
	id_string(id, 23, 8, s);
	CHECK(strcmp(s, "1.0") == 0);
	CHECK_EQ(word(id, 47), 0x8010);
	CHECK_EQ(word(id, 49), 0x0b00);
	CHECK_EQ(word(id, 53), 7);
	CHECK_EQ(word(id, 54), 8);
	CHECK_EQ(word(id, 55), 16);
	CHECK_EQ(word(id, 56), 63);
	CHECK_EQ(word(id, 57) | (uint32_t)word(id, 58) << 16, 8 * 16 * 63);
	CHECK_EQ(word(id, 59), 0x0110);
	CHECK_EQ(word(id, 60) | (uint32_t)word(id, 61) << 16, SECTORS_A);
	CHECK_EQ(word(id, 63), 0x0407);	/* MWDMA 0-2, 2 selected */
	CHECK_EQ(word(id, 64), 3);
	CHECK_EQ(word(id, 80), 0x00f0);
	CHECK_EQ(word(id, 82), 0x4060);
	CHECK_EQ(word(id, 83), 0x7400);
	CHECK_EQ(word(id, 85), 0x4060);
	CHECK_EQ(word(id, 86), 0x3400);
	CHECK_EQ(word(id, 88), 0x003f);
	CHECK_EQ(word(id, 93), 0x6001);
	CHECK_EQ(word(id, 100), SECTORS_A);
	CHECK_EQ(word(id, 101) | word(id, 102) | word(id, 103), 0);
	uint8_t sum = 0;
	for (unsigned i = 0; i < 512; i++)
		sum = (uint8_t)(sum + id[i]);
	CHECK_EQ(id[510], 0xa5);
	CHECK_EQ(sum, 0);
	/* The same through 32-bit accesses. */
	identify(h, 0, 0, id32, 4);
	CHECK(memcmp(id, id32, 512) == 0);
	/* The slave: its own reset result bits. */
	identify(h, 0, 1, id, 2);
	CHECK_EQ(word(id, 93), 0x6100);
	CHECK_EQ(word(id, 60), SECTORS_B);
	id_string(id, 10, 20, s);
	CHECK(strcmp(s, "BTVM00002") == 0);
	h_end(h);
}

/* ---- PIO ----------------------------------------------------------------- */

static void test_pio(struct harness *h)
{
	uint8_t buf[256 * 512], file[4096];

	setup(h);
	/* READ SECTORS: an interrupt and DRQ for every sector. */
	unsigned rises = h->irq_rises[0];
	lba28(h, 0, 0, 100, 3);
	command(h, 0, ATA_CMD_READ);
	for (unsigned i = 0; i < 3; i++) {
		CHECK_EQ(h->irq_rises[0], rises + i + 1);
		CHECK_EQ(status_in(h, 0), 0x58);
		pio_in(h, 0, buf + i * 512, 512, i == 1 ? 4 : 2);
	}
	CHECK(matches_disk(buf, 100, 3));
	CHECK_EQ(status_in(h, 0), 0x50);
	CHECK_EQ(h->irq_rises[0], rises + 3);
	CHECK_EQ(reg_in(h, 0, IDE_REG_LBAL), 102);	/* the last sector read */
	/* A count of 0 is 256 sectors. */
	lba28(h, 0, 0, 1000, 0);
	command(h, 0, ATA_CMD_READ_NORETRY);
	for (unsigned i = 0; i < 256; i++)
		pio_in(h, 0, buf + i * 512, 512, 2);
	CHECK(matches_disk(buf, 1000, 256));
	CHECK_EQ(status_in(h, 0), 0x50);

	/* WRITE SECTORS: the first DRQ without an interrupt, one after each
	 * sector; the file holds them, its neighbours untouched. */
	for (unsigned i = 0; i < 1024; i++)
		buf[i] = (uint8_t)(i * 13 + 5);
	rises = h->irq_rises[0];
	lba28(h, 0, 0, 200, 2);
	command(h, 0, ATA_CMD_WRITE);
	CHECK_EQ(h->irq_rises[0], rises);
	CHECK_EQ(status_in(h, 0), 0x58);
	pio_out(h, 0, buf, 512, 2);
	CHECK_EQ(h->irq_rises[0], rises + 1);
	CHECK_EQ(status_in(h, 0), 0x58);
	pio_out(h, 0, buf + 512, 512, 4);
	CHECK_EQ(h->irq_rises[0], rises + 2);
	CHECK_EQ(status_in(h, 0), 0x50);
	file_read(path_a, 199 * 512, file, 2048);
	CHECK(matches_disk(file, 199, 1));
	CHECK(memcmp(file + 512, buf, 1024) == 0);
	CHECK(matches_disk(file + 1536, 202, 1));
	/* Read back through the device. */
	lba28(h, 0, 0, 200, 2);
	command(h, 0, ATA_CMD_READ);
	pio_in(h, 0, file, 1024, 4);
	CHECK(memcmp(file, buf, 1024) == 0);
	CHECK_EQ(ide_get_stats(&h->ide).sectors_written, 2);

	/* CHS: INITIALIZE DEVICE PARAMETERS to 4 heads of 32 sectors, then
	 * cylinder 2, head 1, sector 5 is LBA (2 * 4 + 1) * 32 + 4. */
	select_unit(h, 0, 0);
	reg_out(h, 0, IDE_REG_NSECT, 32);
	reg_out(h, 0, IDE_REG_DEVICE, 0xa0 | 3);
	command(h, 0, ATA_CMD_INIT_PARAMS);
	CHECK_EQ(status_in(h, 0), 0x50);
	identify(h, 0, 0, file, 2);
	CHECK_EQ(word(file, 54), SECTORS_A / (4 * 32));
	CHECK_EQ(word(file, 55), 4);
	CHECK_EQ(word(file, 56), 32);
	CHECK_EQ(word(file, 1), 8);	/* the default geometry stays */
	reg_out(h, 0, IDE_REG_NSECT, 2);
	reg_out(h, 0, IDE_REG_LBAL, 5);
	reg_out(h, 0, IDE_REG_LBAM, 2);
	reg_out(h, 0, IDE_REG_LBAH, 0);
	reg_out(h, 0, IDE_REG_DEVICE, 0xa0 | 1);
	command(h, 0, ATA_CMD_READ);
	pio_in(h, 0, buf, 1024, 2);
	CHECK(matches_disk(buf, 292, 2));
	CHECK_EQ(reg_in(h, 0, IDE_REG_LBAL), 6);	/* CHS of the last sector */
	CHECK_EQ(reg_in(h, 0, IDE_REG_DEVICE) & 0x0f, 1);
	/* Sector 0 and a head past the translation do not exist. */
	reg_out(h, 0, IDE_REG_LBAL, 0);
	command(h, 0, ATA_CMD_READ);
	CHECK_EQ(status_in(h, 0), 0x51);
	CHECK_EQ(reg_in(h, 0, IDE_REG_ERROR), IDE_ERROR_IDNF);
	reg_out(h, 0, IDE_REG_LBAL, 1);
	reg_out(h, 0, IDE_REG_DEVICE, 0xa0 | 4);
	command(h, 0, ATA_CMD_READ);
	CHECK_EQ(status_in(h, 0), 0x51);
	/* INITIALIZE DEVICE PARAMETERS with no sectors a track. */
	reg_out(h, 0, IDE_REG_NSECT, 0);
	command(h, 0, ATA_CMD_INIT_PARAMS);
	CHECK_EQ(status_in(h, 0), 0x51);
	CHECK_EQ(reg_in(h, 0, IDE_REG_ERROR), IDE_ERROR_ABRT);

	/* READ VERIFY: the range checked, no data. */
	lba28(h, 0, 0, SECTORS_A - 1, 1);
	command(h, 0, ATA_CMD_VERIFY);
	CHECK_EQ(status_in(h, 0), 0x50);
	lba28(h, 0, 0, SECTORS_A - 1, 2);
	command(h, 0, ATA_CMD_VERIFY_NORETRY);
	CHECK_EQ(status_in(h, 0), 0x51);
	h_end(h);
}

static void test_multiple(struct harness *h)
{
	uint8_t buf[16 * 512], id[512];

	setup(h);
	select_unit(h, 0, 0);
	reg_out(h, 0, IDE_REG_NSECT, 4);
	command(h, 0, ATA_CMD_SET_MULTIPLE);
	CHECK_EQ(status_in(h, 0), 0x50);
	identify(h, 0, 0, id, 2);
	CHECK_EQ(word(id, 59), 0x0104);
	/* READ MULTIPLE of 10: blocks of 4, 4 and 2, an interrupt each. */
	unsigned rises = h->irq_rises[0];
	lba28(h, 0, 0, 10, 10);
	command(h, 0, ATA_CMD_READ_MULTIPLE);
	for (unsigned b = 0; b < 3; b++) {
		unsigned n = b < 2 ? 4 : 2;
		CHECK_EQ(h->irq_rises[0], rises + b + 1);
		CHECK_EQ(status_in(h, 0), 0x58);
		pio_in(h, 0, buf + b * 2048, n * 512, 4);
	}
	CHECK(matches_disk(buf, 10, 10));
	CHECK_EQ(status_in(h, 0), 0x50);
	/* WRITE MULTIPLE of 6: 4, then 2 after an interrupt. */
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 3 + 1);
	rises = h->irq_rises[0];
	lba28(h, 0, 0, 500, 6);
	command(h, 0, ATA_CMD_WRITE_MULTIPLE);
	CHECK_EQ(h->irq_rises[0], rises);
	pio_out(h, 0, buf, 2048, 2);
	CHECK_EQ(h->irq_rises[0], rises + 1);
	CHECK_EQ(status_in(h, 0), 0x58);
	pio_out(h, 0, buf + 2048, 1024, 2);
	CHECK_EQ(status_in(h, 0), 0x50);
	uint8_t file[3072];
	file_read(path_a, 500 * 512, file, sizeof(file));
	CHECK(memcmp(file, buf, sizeof(file)) == 0);
	/* The EXT forms. */
	lba48(h, 0, 0, 500, 6);
	command(h, 0, ATA_CMD_READ_MULTIPLE_EXT);
	pio_in(h, 0, file, 3072, 2);
	CHECK(memcmp(file, buf, sizeof(file)) == 0);
	lba48(h, 0, 0, 600, 1);
	command(h, 0, ATA_CMD_WRITE_MULTIPLE_EXT);
	pio_out(h, 0, buf, 512, 2);
	CHECK_EQ(status_in(h, 0), 0x50);
	/* Not a power of two, too many: refused; 0 turns it off. */
	reg_out(h, 0, IDE_REG_NSECT, 3);
	command(h, 0, ATA_CMD_SET_MULTIPLE);
	CHECK_EQ(status_in(h, 0), 0x51);
	reg_out(h, 0, IDE_REG_NSECT, 32);
	command(h, 0, ATA_CMD_SET_MULTIPLE);
	CHECK_EQ(status_in(h, 0), 0x51);
	reg_out(h, 0, IDE_REG_NSECT, 0);
	command(h, 0, ATA_CMD_SET_MULTIPLE);
	CHECK_EQ(status_in(h, 0), 0x50);
	identify(h, 0, 0, id, 2);
	CHECK_EQ(word(id, 59), 0);
	lba28(h, 0, 0, 10, 1);
	command(h, 0, ATA_CMD_READ_MULTIPLE);
	CHECK_EQ(status_in(h, 0), 0x51);
	CHECK_EQ(reg_in(h, 0, IDE_REG_ERROR), IDE_ERROR_ABRT);
	command(h, 0, ATA_CMD_WRITE_MULTIPLE);
	CHECK_EQ(status_in(h, 0), 0x51);
	h_end(h);
}

/* A disk past what LBA28 reaches: a sparse file of 2^28 + 4096 sectors. */
static void test_lba48(struct harness *h)
{
	const uint64_t sectors = (1ull << 28) + 4096, lba = (1ull << 28) + 100;
	char path[256], err[256];
	uint8_t id[512], buf[1024], file[1024];

	h_path(h, "big.img", path, sizeof(path));
	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
	CHECK(fd >= 0 && ftruncate(fd, (off_t)(sectors * 512)) == 0);
	close(fd);
	h_begin(h);
	CHECK_EQ(ide_open_disk(&h->ide, 2, path, false, false, false, err, sizeof(err)), 0);
	h_attach(h);
	identify(h, 1, 0, id, 2);
	CHECK_EQ(word(id, 60) | (uint32_t)word(id, 61) << 16, 0x0fffffff);
	uint64_t total = 0;
	for (unsigned w = 0; w < 4; w++)
		total |= (uint64_t)word(id, 100 + w) << (16 * w);
	CHECK_EQ(total, sectors);
	CHECK_EQ(word(id, 1), 16383);

	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i ^ 0x5a);
	lba48(h, 1, 0, lba, 2);
	command(h, 1, ATA_CMD_WRITE_EXT);
	pio_out(h, 1, buf, 1024, 2);
	CHECK_EQ(status_in(h, 1), 0x50);
	file_read(path, lba * 512, file, sizeof(file));
	CHECK(memcmp(file, buf, sizeof(file)) == 0);
	/* The registers hold the last sector, high bytes under HOB. */
	CHECK_EQ(reg_in(h, 1, IDE_REG_LBAL), (uint8_t)(lba + 1));
	devctl_out(h, 1, IDE_CTL_HOB);
	CHECK_EQ(reg_in(h, 1, IDE_REG_LBAL), (uint8_t)((lba + 1) >> 24));
	CHECK_EQ(reg_in(h, 1, IDE_REG_LBAM), 0);
	devctl_out(h, 1, 0);
	memset(file, 0, sizeof(file));
	lba48(h, 1, 0, lba, 2);
	command(h, 1, ATA_CMD_READ_EXT);
	pio_in(h, 1, file, 1024, 2);
	CHECK(memcmp(file, buf, sizeof(file)) == 0);
	/* By DMA. */
	prd(h, PRDT, 0, DMA_BUF, 1024, true);
	bm_setup(h, 1, PRDT, true);
	lba48(h, 1, 0, lba, 2);
	command(h, 1, ATA_CMD_READ_DMA_EXT);
	bm_start(h, 1, true);
	CHECK_EQ(status_in(h, 1), 0x50);
	CHECK(memcmp(h->ram.host + DMA_BUF, buf, sizeof(buf)) == 0);
	bm_stop(h, 1);
	/* LBA28 reaches the last sector it can name; LBA48 stops at the end. */
	lba28(h, 1, 0, 0x0fffffff, 1);
	command(h, 1, ATA_CMD_READ);
	CHECK_EQ(status_in(h, 1), 0x58);
	pio_in(h, 1, file, 512, 2);
	lba48(h, 1, 0, sectors - 1, 2);
	command(h, 1, ATA_CMD_READ_EXT);
	CHECK_EQ(status_in(h, 1), 0x51);
	CHECK_EQ(reg_in(h, 1, IDE_REG_ERROR), IDE_ERROR_IDNF);
	lba48(h, 1, 0, sectors - 1, 1);
	command(h, 1, ATA_CMD_VERIFY_EXT);
	CHECK_EQ(status_in(h, 1), 0x50);
	CHECK_EQ(file_size(path), sectors * 512);
	h_end(h);
	unlink(path);
}

/* ---- DMA --------------------------------------------------------------------- */

static void test_dma(struct harness *h)
{
	uint8_t file[4096];

	setup(h);
	/* READ DMA of 8 sectors into three uneven regions, the command
	 * first, then the start bit (as Linux orders them). */
	prd(h, PRDT, 0, DMA_BUF, 1000, false);
	prd(h, PRDT, 1, DMA_BUF + 0x2000, 2, false);
	prd(h, PRDT, 2, DMA_BUF + 0x3001, 3094, true);	/* bit 0 is ignored */
	bm_setup(h, 0, PRDT, true);
	lba28(h, 0, 0, 50, 8);
	unsigned rises = h->irq_rises[0];
	command(h, 0, ATA_CMD_READ_DMA);
	CHECK_EQ(altstatus_in(h, 0), 0x58);
	CHECK_EQ(h->irq_rises[0], rises);
	bm_start(h, 0, true);
	CHECK_EQ(h->irq_rises[0], rises + 1);
	/* The table used up exactly: interrupt, no longer active. */
	CHECK_EQ(bm_status(h, 0), IDE_BM_ST_INTERRUPT);
	CHECK_EQ(status_in(h, 0), 0x50);
	bm_stop(h, 0);
	uint8_t got[4096];
	memcpy(got, h->ram.host + DMA_BUF, 1000);
	memcpy(got + 1000, h->ram.host + DMA_BUF + 0x2000, 2);
	memcpy(got + 1002, h->ram.host + DMA_BUF + 0x3000, 3094);
	CHECK(matches_disk(got, 50, 8));
	CHECK_EQ(h->ram.host[DMA_BUF + 1000], 0);	/* nothing past the regions */
	CHECK_EQ(h->ram.host[DMA_BUF + 0x2002], 0);
	CHECK(h->written_lo == DMA_BUF && h->written_hi == DMA_BUF + 0x3000 + 3094);

	/* The start bit first, then the command; a region larger than the
	 * transfer leaves the engine active. */
	memset(h->ram.host + DMA_BUF, 0, 0x10000);
	prd(h, PRDT, 0, DMA_BUF, 8192, true);
	bm_setup(h, 0, PRDT, true);
	bm_start(h, 0, true);
	CHECK_EQ(bm_status(h, 0), IDE_BM_ST_ACTIVE);
	lba28(h, 0, 0, 7, 1);
	command(h, 0, ATA_CMD_READ_DMA_NORETRY);
	CHECK_EQ(bm_status(h, 0), IDE_BM_ST_ACTIVE | IDE_BM_ST_INTERRUPT);
	CHECK(matches_disk(h->ram.host + DMA_BUF, 7, 1));
	CHECK_EQ(h->ram.host[DMA_BUF + 512], 0);
	CHECK_EQ(status_in(h, 0), 0x50);
	bm_stop(h, 0);
	CHECK_EQ(bm_status(h, 0), IDE_BM_ST_INTERRUPT);
	/* A second command needs a new start: the table was used. */
	bm_start(h, 0, true);
	bm_stop(h, 0);
	lba28(h, 0, 0, 8, 1);
	command(h, 0, ATA_CMD_READ_DMA);
	CHECK_EQ(altstatus_in(h, 0), 0x58);
	bm_start(h, 0, true);
	CHECK_EQ(status_in(h, 0), 0x50);
	CHECK(matches_disk(h->ram.host + DMA_BUF, 8, 1));
	bm_stop(h, 0);

	/* WRITE DMA from two regions. */
	for (unsigned i = 0; i < 2048; i++)
		h->ram.host[DMA_BUF + 0x8000 + i] = (uint8_t)(i * 7 + 3);
	prd(h, PRDT, 0, DMA_BUF + 0x8000, 1536, false);
	prd(h, PRDT, 1, DMA_BUF + 0x8000 + 1536, 512, true);
	bm_setup(h, 0, PRDT, false);
	lba28(h, 0, 0, 300, 4);
	command(h, 0, ATA_CMD_WRITE_DMA);
	bm_start(h, 0, false);
	CHECK_EQ(status_in(h, 0), 0x50);
	CHECK_EQ(bm_status(h, 0), IDE_BM_ST_INTERRUPT);
	bm_stop(h, 0);
	file_read(path_a, 300 * 512, file, 2048);
	CHECK(memcmp(file, h->ram.host + DMA_BUF + 0x8000, 2048) == 0);
	lba48(h, 0, 0, 310, 1);
	command(h, 0, ATA_CMD_WRITE_DMA_EXT);
	bm_start(h, 0, false);
	CHECK_EQ(status_in(h, 0), 0x50);
	bm_stop(h, 0);
	file_read(path_a, 310 * 512, file, 512);
	CHECK(memcmp(file, h->ram.host + DMA_BUF + 0x8000, 512) == 0);

	/* READ DMA EXT of 300 sectors (more than the drive's buffer) into
	 * three 64 KiB regions (a count of 0 is 64 KiB). */
	memset(h->ram.host + DMA_BUF, 0, 0x30000);
	for (unsigned i = 0; i < 3; i++)
		prd(h, PRDT, i, DMA_BUF + 0x10000 * i, 0, i == 2);
	bm_setup(h, 0, PRDT, true);
	lba48(h, 0, 0, 1000, 300);
	command(h, 0, ATA_CMD_READ_DMA_EXT);
	bm_start(h, 0, true);
	CHECK_EQ(status_in(h, 0), 0x50);
	CHECK_EQ(bm_status(h, 0), IDE_BM_ST_ACTIVE | IDE_BM_ST_INTERRUPT);
	CHECK(matches_disk(h->ram.host + DMA_BUF, 1000, 300));
	bm_stop(h, 0);
	struct ide_stats s = ide_get_stats(&h->ide);
	CHECK_EQ(s.dma_transfers, 6);
	CHECK_EQ(s.dma_errors, 0);
	h_end(h);
}

/* One READ DMA (or WRITE) of count sectors at lba 20 that must fail in
 * the bus master: its error bit, not active, the command aborted with
 * an interrupt; then the channel still works. */
static void dma_must_fail(struct harness *h, const char *what, bool write, uint32_t count,
			  bool to_memory)
{
	uint8_t buf[512];
	unsigned rises = h->irq_rises[0];
	uint64_t errors = ide_get_stats(&h->ide).dma_errors;

	bm_setup(h, 0, h_in(h, bm_port(0, IDE_BM_PRDT), 4), to_memory);
	lba28(h, 0, 0, 20, count);
	command(h, 0, write ? ATA_CMD_WRITE_DMA : ATA_CMD_READ_DMA);
	bm_start(h, 0, to_memory);
	if (bm_status(h, 0) != (IDE_BM_ST_ERROR | IDE_BM_ST_INTERRUPT))
		fprintf(stderr, "dma case %s: bus master status %#x\n", what, bm_status(h, 0));
	CHECK_EQ(bm_status(h, 0), IDE_BM_ST_ERROR | IDE_BM_ST_INTERRUPT);
	CHECK_EQ(h->irq_rises[0], rises + 1);
	CHECK_EQ(status_in(h, 0), 0x51);
	CHECK_EQ(reg_in(h, 0, IDE_REG_ERROR), IDE_ERROR_ABRT);
	CHECK_EQ(ide_get_stats(&h->ide).dma_errors, errors + 1);
	bm_stop(h, 0);
	lba28(h, 0, 0, 21, 1);
	command(h, 0, ATA_CMD_READ);
	pio_in(h, 0, buf, 512, 2);
	CHECK(matches_disk(buf, 21, 1));
	CHECK_EQ(status_in(h, 0), 0x50);
}

static void test_dma_errors(struct harness *h)
{
	static uint8_t before[64 * 512], after[64 * 512];

	setup(h);
	file_read(path_a, 0, before, sizeof(before));
	/* The table outside RAM. */
	h_out(h, bm_port(0, IDE_BM_PRDT), 4, 0x00f00000);
	dma_must_fail(h, "table outside RAM", false, 1, true);
	/* A region outside RAM, and one running off its end. */
	h_out(h, bm_port(0, IDE_BM_PRDT), 4, PRDT);
	prd(h, PRDT, 0, 0x00ff0000, 512, true);
	dma_must_fail(h, "region outside RAM", false, 1, true);
	prd(h, PRDT, 0, (uint32_t)h->ram.size - 256, 512, true);
	dma_must_fail(h, "region past the end of RAM", false, 1, true);
	CHECK_EQ(h->ram.host[h->ram.size - 1], 0);
	/* A region crossing 64 KiB, with a count and with 0 (64 KiB). */
	prd(h, PRDT, 0, DMA_BUF + 0xff00, 512, true);
	dma_must_fail(h, "region crossing 64 KiB", false, 1, true);
	CHECK_EQ(h->ram.host[DMA_BUF + 0xff00], 0);
	prd(h, PRDT, 0, DMA_BUF + 0x100, 0, true);
	dma_must_fail(h, "64 KiB region crossing 64 KiB", false, 1, true);
	/* Regions shorter than the transfer, EOT on the last. */
	prd(h, PRDT, 0, DMA_BUF, 512, false);
	prd(h, PRDT, 1, DMA_BUF + 0x1000, 510, true);
	dma_must_fail(h, "PRDs too short", false, 2, true);
	/* No EOT: a whole page of 2-byte regions runs out. */
	for (unsigned i = 0; i < 0x10000 / 8; i++)
		prd(h, PRDT, i, DMA_BUF + 2 * i, 2, false);
	dma_must_fail(h, "no EOT", false, 64, true);
	/* A table that crosses into the next 64 KiB page. */
	prd(h, PRDT, 0x10000 / 8 - 1, DMA_BUF, 256, false);
	prd(h, PRDT, 0x10000 / 8, DMA_BUF + 256, 256, true);
	h_out(h, bm_port(0, IDE_BM_PRDT), 4, PRDT + 0x10000 - 8);
	dma_must_fail(h, "table crossing 64 KiB", false, 1, true);
	h_out(h, bm_port(0, IDE_BM_PRDT), 4, PRDT + 0x10000 - 4);
	dma_must_fail(h, "entry straddling 64 KiB", false, 1, true);
	/* The direction bit against the command, both ways. */
	h_out(h, bm_port(0, IDE_BM_PRDT), 4, PRDT);
	prd(h, PRDT, 0, DMA_BUF, 512, true);
	dma_must_fail(h, "read, bus master reading memory", false, 1, false);
	dma_must_fail(h, "write, bus master writing memory", true, 1, true);
	/* Bus mastering off in the command register. */
	cfg_wr(h, PCI_REG_COMMAND, 2, PCI_COMMAND_IO);
	dma_must_fail(h, "mastering disabled", false, 1, true);
	cfg_wr(h, PCI_REG_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MASTER);
	/* A write whose regions fail writes nothing. */
	prd(h, PRDT, 0, 0x00ff0000, 512, true);
	dma_must_fail(h, "write from outside RAM", true, 1, false);
	file_read(path_a, 0, after, sizeof(after));
	CHECK(memcmp(before, after, sizeof(before)) == 0);
	CHECK_EQ(file_size(path_a), SECTORS_A * 512ull);
	/* A DMA command whose start never comes waits, then SRST ends it. */
	lba28(h, 0, 0, 20, 1);
	command(h, 0, ATA_CMD_READ_DMA);
	CHECK_EQ(altstatus_in(h, 0), 0x58);
	command(h, 0, ATA_CMD_IDENTIFY);	/* ignored: busy */
	CHECK_EQ(altstatus_in(h, 0), 0x58);
	devctl_out(h, 0, IDE_CTL_SRST);
	devctl_out(h, 0, 0);
	CHECK_EQ(status_in(h, 0), 0x50);
	bm_setup(h, 0, PRDT, true);
	bm_start(h, 0, true);
	CHECK_EQ(bm_status(h, 0), IDE_BM_ST_ACTIVE);
	bm_stop(h, 0);
	h_end(h);
}

/* ---- Errors and the rest ------------------------------------------------- */

static void must_fail(struct harness *h, unsigned ch, uint8_t cmd, uint8_t error)
{
	unsigned rises = h->irq_rises[ch];

	command(h, ch, cmd);
	CHECK_EQ(h->irq_rises[ch], rises + 1);
	CHECK_EQ(status_in(h, ch), 0x51);
	CHECK_EQ(reg_in(h, ch, IDE_REG_ERROR), error);
}

static void test_errors(struct harness *h)
{
	uint8_t id[512], buf[512];
	uint8_t *before = malloc(SECTORS_B * 512), *after = malloc(SECTORS_B * 512);

	setup(h);
	/* Past the end, every way. */
	lba28(h, 0, 0, SECTORS_A - 2, 3);
	must_fail(h, 0, ATA_CMD_READ, IDE_ERROR_IDNF);
	must_fail(h, 0, ATA_CMD_WRITE, IDE_ERROR_IDNF);
	must_fail(h, 0, ATA_CMD_READ_MULTIPLE, IDE_ERROR_IDNF);
	must_fail(h, 0, ATA_CMD_READ_DMA, IDE_ERROR_IDNF);
	must_fail(h, 0, ATA_CMD_WRITE_DMA, IDE_ERROR_IDNF);
	must_fail(h, 0, ATA_CMD_VERIFY, IDE_ERROR_IDNF);
	lba28(h, 0, 0, SECTORS_A, 1);
	must_fail(h, 0, ATA_CMD_SEEK, IDE_ERROR_IDNF);
	lba48(h, 0, 0, 1ull << 40, 1);
	must_fail(h, 0, ATA_CMD_READ_EXT, IDE_ERROR_IDNF);
	must_fail(h, 0, ATA_CMD_WRITE_DMA_EXT, IDE_ERROR_IDNF);
	lba48(h, 0, 0, SECTORS_A - 1, 0);	/* 65536 sectors */
	must_fail(h, 0, ATA_CMD_READ_EXT, IDE_ERROR_IDNF);
	/* Unknown and malformed commands. */
	must_fail(h, 0, 0xff, IDE_ERROR_ABRT);
	must_fail(h, 0, ATA_CMD_NOP, IDE_ERROR_ABRT);
	must_fail(h, 0, ATA_CMD_IDENTIFY_PACKET, IDE_ERROR_ABRT);
	must_fail(h, 0, ATA_CMD_PACKET, IDE_ERROR_ABRT);
	must_fail(h, 0, ATA_CMD_DEVICE_RESET, IDE_ERROR_ABRT);
	reg_out(h, 0, IDE_REG_ERROR, 0x99);
	must_fail(h, 0, ATA_CMD_SET_FEATURES, IDE_ERROR_ABRT);
	reg_out(h, 0, IDE_REG_ERROR, ATA_SF_XFER_MODE);
	reg_out(h, 0, IDE_REG_NSECT, 0x46);	/* UDMA 6 */
	must_fail(h, 0, ATA_CMD_SET_FEATURES, IDE_ERROR_ABRT);
	reg_out(h, 0, IDE_REG_NSECT, 0x23);	/* MWDMA 3 */
	must_fail(h, 0, ATA_CMD_SET_FEATURES, IDE_ERROR_ABRT);
	reg_out(h, 0, IDE_REG_NSECT, 0x10);	/* single-word DMA: not offered */
	must_fail(h, 0, ATA_CMD_SET_FEATURES, IDE_ERROR_ABRT);
	/* A valid mode is taken and reported. */
	reg_out(h, 0, IDE_REG_ERROR, ATA_SF_XFER_MODE);
	reg_out(h, 0, IDE_REG_NSECT, 0x45);
	command(h, 0, ATA_CMD_SET_FEATURES);
	CHECK_EQ(status_in(h, 0), 0x50);
	reg_out(h, 0, IDE_REG_NSECT, 0x0c);	/* PIO 4 keeps the DMA mode */
	command(h, 0, ATA_CMD_SET_FEATURES);
	CHECK_EQ(status_in(h, 0), 0x50);
	identify(h, 0, 0, id, 2);
	CHECK_EQ(word(id, 88), 0x203f);
	CHECK_EQ(word(id, 63), 0x0007);

	/* The read-only disk: writes of every kind refused, FLUSH fine, the
	 * file untouched. */
	file_read(path_b, 0, before, SECTORS_B * 512);
	for (unsigned i = 0; i < 512; i++)
		h->ram.host[DMA_BUF + i] = 0xee;
	prd(h, PRDT, 0, DMA_BUF, 512, true);
	bm_setup(h, 0, PRDT, false);
	bm_start(h, 0, false);
	lba28(h, 0, 1, 5, 1);
	must_fail(h, 0, ATA_CMD_WRITE, IDE_ERROR_ABRT);
	must_fail(h, 0, ATA_CMD_WRITE_MULTIPLE, IDE_ERROR_ABRT);
	must_fail(h, 0, ATA_CMD_WRITE_DMA, IDE_ERROR_ABRT);
	lba48(h, 0, 1, 5, 1);
	must_fail(h, 0, ATA_CMD_WRITE_EXT, IDE_ERROR_ABRT);
	must_fail(h, 0, ATA_CMD_WRITE_DMA_EXT, IDE_ERROR_ABRT);
	bm_stop(h, 0);
	command(h, 0, ATA_CMD_FLUSH);
	CHECK_EQ(status_in(h, 0), 0x50);
	lba28(h, 0, 1, 5, 1);
	command(h, 0, ATA_CMD_READ);
	pio_in(h, 0, buf, 512, 2);
	CHECK(matches_disk(buf, 5, 1));
	file_read(path_b, 0, after, SECTORS_B * 512);
	CHECK(memcmp(before, after, SECTORS_B * 512) == 0);
	CHECK_EQ(ide_get_stats(&h->ide).host_errors, 0);	/* refused by the drive itself */

	/* Commands to an absent drive: ignored, no interrupt, it reads 0. */
	unsigned rises = h->irq_rises[1];
	for (unsigned unit = 0; unit < 2; unit++) {
		lba28(h, 1, unit, 0, 1);
		command(h, 1, ATA_CMD_READ);
		command(h, 1, ATA_CMD_IDENTIFY);
		command(h, 1, ATA_CMD_DIAGNOSTIC);
		CHECK_EQ(status_in(h, 1), 0);
		CHECK_EQ(reg_in(h, 1, IDE_REG_ERROR), 0);
		CHECK_EQ(h_in(h, cmd_port(1, IDE_REG_DATA), 2), 0xffff);
	}
	CHECK_EQ(h->irq_rises[1], rises);
	/* A command while the last one still has data: ignored. */
	lba28(h, 0, 0, 40, 1);
	command(h, 0, ATA_CMD_READ);
	command(h, 0, ATA_CMD_IDENTIFY);
	pio_in(h, 0, buf, 512, 2);
	CHECK(matches_disk(buf, 40, 1));
	CHECK_EQ(status_in(h, 0), 0x50);
	/* Byte accesses to the data port move nothing. */
	lba28(h, 0, 0, 41, 1);
	command(h, 0, ATA_CMD_READ);
	CHECK_EQ(h_in(h, cmd_port(0, IDE_REG_DATA), 1), 0xff);
	h_out(h, cmd_port(0, IDE_REG_DATA), 1, 0x12);
	pio_in(h, 0, buf, 512, 2);
	CHECK(matches_disk(buf, 41, 1));
	/* A 16-bit access to two registers is its two bytes. */
	reg_out(h, 0, IDE_REG_LBAL, 0x34);
	reg_out(h, 0, IDE_REG_LBAM, 0x12);
	CHECK_EQ(h_in(h, cmd_port(0, IDE_REG_LBAL), 2), 0x1234);
	h_out(h, cmd_port(0, IDE_REG_NSECT), 2, 0x7856);
	CHECK_EQ(reg_in(h, 0, IDE_REG_NSECT), 0x56);
	CHECK_EQ(reg_in(h, 0, IDE_REG_LBAL), 0x78);
	CHECK(ide_get_stats(&h->ide).errors >= 20);
	h_end(h);
	free(before);
	free(after);
}

static void test_housekeeping(struct harness *h)
{
	uint8_t id[512], buf[512];

	setup(h);
	select_unit(h, 0, 0);
	/* FLUSH CACHE and its EXT form; the write cache off and on. */
	command(h, 0, ATA_CMD_FLUSH);
	CHECK_EQ(status_in(h, 0), 0x50);
	command(h, 0, ATA_CMD_FLUSH_EXT);
	CHECK_EQ(status_in(h, 0), 0x50);
	CHECK_EQ(ide_get_stats(&h->ide).flushes, 2);
	reg_out(h, 0, IDE_REG_ERROR, ATA_SF_WCACHE_OFF);
	command(h, 0, ATA_CMD_SET_FEATURES);
	CHECK_EQ(status_in(h, 0), 0x50);
	identify(h, 0, 0, id, 2);
	CHECK_EQ(word(id, 85) & 0x20, 0);
	memset(buf, 0x42, sizeof(buf));
	lba28(h, 0, 0, 77, 1);
	command(h, 0, ATA_CMD_WRITE);
	pio_out(h, 0, buf, 512, 2);
	CHECK_EQ(status_in(h, 0), 0x50);
	reg_out(h, 0, IDE_REG_ERROR, ATA_SF_WCACHE_ON);
	command(h, 0, ATA_CMD_SET_FEATURES);
	identify(h, 0, 0, id, 2);
	CHECK_EQ(word(id, 85) & 0x20, 0x20);
	reg_out(h, 0, IDE_REG_ERROR, ATA_SF_LOOKAHEAD_OFF);
	command(h, 0, ATA_CMD_SET_FEATURES);
	identify(h, 0, 0, id, 2);
	CHECK_EQ(word(id, 85) & 0x40, 0);
	/* Power commands: no-ops, the drive stays active. */
	static const uint8_t power[] = {
		ATA_CMD_IDLE_IMMEDIATE, ATA_CMD_STANDBY_IMMEDIATE, ATA_CMD_IDLE, ATA_CMD_STANDBY,
		ATA_CMD_SLEEP, ATA_CMD_IDLE_OLD, ATA_CMD_STANDBY_OLD, ATA_CMD_RECALIBRATE + 3,
	};
	for (unsigned i = 0; i < sizeof(power); i++) {
		unsigned rises = h->irq_rises[0];
		command(h, 0, power[i]);
		CHECK_EQ(h->irq_rises[0], rises + 1);
		CHECK_EQ(status_in(h, 0), 0x50);
	}
	reg_out(h, 0, IDE_REG_NSECT, 0);
	command(h, 0, ATA_CMD_CHECK_POWER);
	CHECK_EQ(status_in(h, 0), 0x50);
	CHECK_EQ(reg_in(h, 0, IDE_REG_NSECT), 0xff);
	lba28(h, 0, 0, 123, 1);
	command(h, 0, ATA_CMD_SEEK + 1);
	CHECK_EQ(status_in(h, 0), 0x50);

	/* nIEN: the interrupt stays pending, out of the line, until
	 * allowed again. */
	devctl_out(h, 0, IDE_CTL_NIEN);
	unsigned rises = h->irq_rises[0];
	lba28(h, 0, 0, 3, 1);
	command(h, 0, ATA_CMD_READ);
	CHECK_EQ(h->irq_rises[0], rises);
	CHECK_EQ(altstatus_in(h, 0), 0x58);
	devctl_out(h, 0, 0);
	CHECK_EQ(h->irq_rises[0], rises + 1);
	/* Only the selected drive drives the line. */
	select_unit(h, 0, 1);
	CHECK_EQ(h->irq_level[0], 0);
	select_unit(h, 0, 0);
	CHECK_EQ(h->irq_level[0], 1);
	CHECK_EQ(status_in(h, 0), 0x58);
	CHECK_EQ(h->irq_level[0], 0);
	/* SRST in the middle of a transfer ends it. */
	pio_in(h, 0, buf, 20, 2);
	devctl_out(h, 0, IDE_CTL_SRST);
	devctl_out(h, 0, 0);
	CHECK_EQ(status_in(h, 0), 0x50);
	CHECK_EQ(h_in(h, cmd_port(0, IDE_REG_DATA), 2), 0xffff);
	/* HOB: the previous value of each register; any write ends it. */
	reg_out(h, 0, IDE_REG_LBAM, 0x11);
	reg_out(h, 0, IDE_REG_LBAM, 0x22);
	devctl_out(h, 0, IDE_CTL_HOB);
	CHECK_EQ(reg_in(h, 0, IDE_REG_LBAM), 0x11);
	reg_out(h, 0, IDE_REG_ERROR, 0);
	CHECK_EQ(reg_in(h, 0, IDE_REG_LBAM), 0x22);
	/* A machine reset: every setting back, the bus masters stopped,
	 * the timing registers for firmware to set again. */
	reg_out(h, 0, IDE_REG_NSECT, 2);
	command(h, 0, ATA_CMD_SET_MULTIPLE);
	h_out(h, bm_port(0, IDE_BM_PRDT), 4, 0x8000);
	lba28(h, 0, 0, 3, 1);
	command(h, 0, ATA_CMD_READ);
	CHECK_EQ(h->irq_level[0], 1);
	ide_reset(&h->ide);
	CHECK_EQ(h->irq_level[0], 0);
	CHECK_EQ(cfg_rd(h, 0x40, 4), 0);
	CHECK_EQ(h_in(h, bm_port(0, IDE_BM_PRDT), 4), 0);
	CHECK_EQ(status_in(h, 0), 0x50);
	CHECK_EQ(reg_in(h, 0, IDE_REG_LBAL), 1);
	identify(h, 0, 0, id, 2);
	CHECK_EQ(word(id, 59), 0x0110);
	CHECK_EQ(word(id, 85), 0x4060);
	h_end(h);
}

/* ---- Images: --snapshot, snapshots, locks -------------------------------------- */

static void test_snapshot_mode(struct harness *h)
{
	char err[256];
	uint8_t buf[4096], file0[8192], file1[8192];

	file_read(path_a, 0, file0, sizeof(file0));
	h_begin(h);
	CHECK_EQ(ide_open_disk(&h->ide, 0, path_a, false, true, false, err, sizeof(err)), 0);
	h_attach(h);
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 11);
	lba28(h, 0, 0, 4, 2);
	command(h, 0, ATA_CMD_WRITE);
	pio_out(h, 0, buf, 1024, 2);
	CHECK_EQ(status_in(h, 0), 0x50);
	memcpy(h->ram.host + DMA_BUF, buf + 1024, 2048);
	prd(h, PRDT, 0, DMA_BUF, 2048, true);
	bm_setup(h, 0, PRDT, false);
	lba28(h, 0, 0, 8, 4);
	command(h, 0, ATA_CMD_WRITE_DMA);
	bm_start(h, 0, false);
	CHECK_EQ(status_in(h, 0), 0x50);
	bm_stop(h, 0);
	command(h, 0, ATA_CMD_FLUSH);
	CHECK_EQ(status_in(h, 0), 0x50);
	/* Sectors 3-12: the image's, the writes, a gap, the writes. */
	uint8_t got[10 * 512];
	lba28(h, 0, 0, 3, 10);
	command(h, 0, ATA_CMD_READ);
	pio_in(h, 0, got, sizeof(got), 2);
	CHECK(matches_disk(got, 3, 1));
	CHECK(memcmp(got + 512, buf, 1024) == 0);
	CHECK(matches_disk(got + 1536, 6, 2));
	CHECK(memcmp(got + 2560, buf + 1024, 2048) == 0);
	CHECK(matches_disk(got + 4608, 12, 1));
	file_read(path_a, 0, file1, sizeof(file1));
	CHECK(memcmp(file0, file1, sizeof(file0)) == 0);
	/* The overlay goes into a snapshot and comes back in a fresh one. */
	int fd = snap_save(h);
	h_end(h);
	h_begin(h);
	CHECK_EQ(ide_open_disk(&h->ide, 0, path_a, false, true, false, err, sizeof(err)), 0);
	h_attach(h);
	CHECK_EQ(snap_load(h, fd, err, sizeof(err)), 0);
	close(fd);
	memset(got, 0, sizeof(got));
	lba28(h, 0, 0, 3, 10);
	command(h, 0, ATA_CMD_READ);
	pio_in(h, 0, got, sizeof(got), 2);
	CHECK(matches_disk(got, 3, 1));
	CHECK(memcmp(got + 512, buf, 1024) == 0);
	CHECK(memcmp(got + 2560, buf + 1024, 2048) == 0);
	h_end(h);
	file_read(path_a, 0, file1, sizeof(file1));
	CHECK(memcmp(file0, file1, sizeof(file0)) == 0);
}

/* A machine saved in the middle of a PIO read, with settings changed,
 * goes on where it was in another controller; mismatches are refused. */
static void test_snapshot_round_trip(struct harness *h)
{
	char err[SNAP_MSG_LEN];
	uint8_t buf[3 * 512];

	setup(h);
	select_unit(h, 0, 0);
	reg_out(h, 0, IDE_REG_NSECT, 2);
	command(h, 0, ATA_CMD_SET_MULTIPLE);
	reg_out(h, 0, IDE_REG_ERROR, ATA_SF_WCACHE_OFF);
	command(h, 0, ATA_CMD_SET_FEATURES);
	(void)status_in(h, 0);
	h_out(h, bm_port(1, IDE_BM_PRDT), 4, 0x4000);
	lba28(h, 0, 0, 40, 3);
	command(h, 0, ATA_CMD_READ_MULTIPLE);
	pio_in(h, 0, buf, 700, 2);	/* into the first block */
	CHECK_EQ(h->irq_level[0], 1);
	int fd = snap_save(h);
	h_end(h);

	setup(h);
	CHECK_EQ(snap_load(h, fd, err, sizeof(err)), 0);
	CHECK_EQ(h_in(h, bm_port(1, IDE_BM_PRDT), 4), 0x4000);
	CHECK_EQ(altstatus_in(h, 0), 0x58);
	pio_in(h, 0, buf + 700, 1024 - 700, 2);
	CHECK_EQ(status_in(h, 0), 0x58);	/* the second block */
	pio_in(h, 0, buf + 1024, 512, 2);
	CHECK(matches_disk(buf, 40, 3));
	CHECK_EQ(status_in(h, 0), 0x50);
	uint8_t id[512];
	identify(h, 0, 0, id, 2);
	CHECK_EQ(word(id, 59), 0x0102);
	CHECK_EQ(word(id, 85) & 0x20, 0);
	h_end(h);

	/* Another machine: the disks swapped, one missing. */
	h_begin(h);
	CHECK_EQ(ide_open_disk(&h->ide, 0, path_b, true, false, false, err, sizeof(err)), 0);
	CHECK_EQ(ide_open_disk(&h->ide, 1, path_a, false, false, false, err, sizeof(err)), 0);
	h_attach(h);
	CHECK(snap_load(h, fd, err, sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, "sectors");
	h_end(h);
	h_begin(h);
	CHECK_EQ(ide_open_disk(&h->ide, 0, path_a, false, false, false, err, sizeof(err)), 0);
	h_attach(h);
	CHECK(snap_load(h, fd, err, sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, "IDE slot 1 is empty here, a disk in the snapshot");
	h_end(h);
	close(fd);

	/* A section with a drive state no btvm makes: a PIO block past its
	 * buffer's bytes. */
	setup(h);
	fd = memfd_create("bad.snap", 0);
	struct snap_writer w;
	CHECK_EQ(snapw_open_fd(&w, fd, "bad.snap", 1), 0);
	snapw_begin(&w, "IDE ", 1, true);
	pci_function_save(&h->ide.pci, &w);
	for (unsigned c = 0; c < 2; c++) {
		snapw_bytes(&w, (const uint8_t[]){ 0, 0, 0, 0, 0 }, 5);	/* sel .. bm_status */
		snapw_u32(&w, 0);
		snapw_bool(&w, false);
		for (unsigned u = 0; u < 2; u++) {
			bool disk = c == 0;
			snapw_u8(&w, disk ? IDE_KIND_DISK : IDE_KIND_NONE);
			if (!disk)
				continue;
			snapw_bool(&w, true);
			snapw_str(&w, u ? path_b : path_a);
			snapw_u64(&w, u ? SECTORS_B : SECTORS_A);
			snapw_bool(&w, u == 1);
			snapw_bool(&w, false);
			uint8_t regs[14] = { 0 };
			snapw_bytes(&w, regs, sizeof(regs));
			snapw_bool(&w, false);
			snapw_u8(&w, IDE_PHASE_PIO_IN);
			snapw_u8(&w, IDE_XFER_ATA_READ);
			snapw_u32(&w, 0);		/* pos */
			snapw_u32(&w, 1024);		/* end */
			snapw_u32(&w, 512);		/* fill: less than end */
			snapw_bytes(&w, buf, 512);
			snapw_u64(&w, 0);
			snapw_u32(&w, 2);
			snapw_u32(&w, 2);
			snapw_u8(&w, 16);
			snapw_u16(&w, 8);
			snapw_u16(&w, 16);
			snapw_u16(&w, 63);
			snapw_bool(&w, true);
			snapw_bool(&w, true);
			snapw_u8(&w, 0x22);
		}
	}
	snapw_end(&w);
	CHECK_EQ(snapw_close(&w), 0);
	CHECK(snap_load(h, fd, err, sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, "a drive state this btvm never makes");
	close(fd);
	h_end(h);
}

static void test_open_and_lock(struct harness *h)
{
	char err[256], missing[300];
	struct disk_image other;

	/* One writer only, in this process too; readers share. */
	CHECK_EQ(disk_image_open(&other, path_a, false, false, false, err, sizeof(err)), 0);
	h_begin(h);
	CHECK_EQ(ide_open_disk(&h->ide, 0, path_a, false, false, false, err, sizeof(err)), -EBUSY);
	CHECK_STR_CONTAINS(err, "in use by another process");
	CHECK_EQ(ide_open_disk(&h->ide, 0, path_a, true, false, false, err, sizeof(err)), -EBUSY);
	CHECK_EQ(ide_open_cdrom(&h->ide, 2, path_a, err, sizeof(err)), -EBUSY);
	disk_image_close(&other);
	CHECK_EQ(ide_open_disk(&h->ide, 0, path_b, true, false, false, err, sizeof(err)), 0);
	CHECK_EQ(ide_open_disk(&h->ide, 1, path_b, true, false, false, err, sizeof(err)), 0);
	CHECK_EQ(ide_open_disk(&h->ide, 2, path_b, false, false, false, err, sizeof(err)), -EBUSY);
	/* Slots: four, each once. */
	CHECK_EQ(ide_open_disk(&h->ide, 4, path_a, false, false, false, err, sizeof(err)), -EINVAL);
	CHECK_EQ(ide_open_disk(&h->ide, 1, path_a, false, false, false, err, sizeof(err)), -EINVAL);
	CHECK_STR_CONTAINS(err, "taken");
	snprintf(missing, sizeof(missing), "%s.missing", path_a);
	CHECK_EQ(ide_open_disk(&h->ide, 3, missing, false, false, false, err, sizeof(err)), -ENOENT);
	CHECK_STR_CONTAINS(err, missing);
	ide_close(&h->ide);
	ide_close(&h->ide);	/* twice is harmless */
}

/* A hostile guest: random accesses of every width to every port, random
 * commands with random registers, PRD tables anywhere. The device must
 * survive (ASan and UBSan watch), touch no RAM outside guest_ram and
 * never grow an image. */
static void test_hostile(struct harness *h)
{
	static const uint8_t cmds[] = {
		0x00, 0x08, 0x10, 0x20, 0x24, 0x25, 0x29, 0x30, 0x34, 0x35, 0x39, 0x40, 0x42, 0x70,
		0x90, 0x91, 0xa0, 0xa1, 0xc4, 0xc5, 0xc6, 0xc8, 0xca, 0xe0, 0xe5, 0xe7, 0xea, 0xec,
		0xef, 0xff,
	};
	char err[256], cd[256];
	uint64_t seed = 0x1de5eed;

	h_path(h, "hostile-cd.img", cd, sizeof(cd));
	make_disk(cd, 300 * 2048);
	h_begin(h);
	CHECK_EQ(ide_open_disk(&h->ide, 0, path_a, false, false, false, err, sizeof(err)), 0);
	CHECK_EQ(ide_open_disk(&h->ide, 1, path_b, false, true, false, err, sizeof(err)), 0);
	CHECK_EQ(ide_open_cdrom(&h->ide, 2, cd, err, sizeof(err)), 0);
	h_attach(h);
	for (unsigned i = 0; i < 400000; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		uint32_t r = (uint32_t)(seed >> 33), v = (uint32_t)(seed >> 7);
		unsigned ch = r & 1, width = 1u << ((r >> 1) % 3);
		switch ((r >> 4) % 10) {
		case 0:	/* a command, often a real one */
			reg_out(h, ch, IDE_REG_STATUS, (r >> 8) & 1 ? cmds[v % sizeof(cmds)] : (uint8_t)v);
			break;
		case 1:
		case 2:
			h_out(h, cmd_port(ch, (r >> 8) % 8), width, v);
			break;
		case 3:
			(void)h_in(h, cmd_port(ch, (r >> 8) % 8), width);
			break;
		case 4:	/* data, in bursts */
			for (unsigned k = 0; k < 64; k++)
				(void)h_in(h, cmd_port(ch, IDE_REG_DATA), 2);
			break;
		case 5:
			h_out(h, bm_port(0, (r >> 8) % 16), width,
			      (r >> 12) & 1 ? (v & 0x3fffc) : v);
			break;
		case 6:
			(void)h_in(h, bm_port(0, (r >> 8) % 16), width);
			devctl_out(h, ch, (uint8_t)(v & ~IDE_CTL_SRST));
			break;
		case 7:	/* a plausible command: a small address and count */
			lba28(h, ch, (r >> 8) & 1, v % 64, (v >> 8) % 8);
			reg_out(h, ch, IDE_REG_STATUS, cmds[(v >> 12) % sizeof(cmds)]);
			break;
		case 8:	/* the bus master started, on the table page */
			h_out(h, bm_port(ch, IDE_BM_PRDT), 4, PRDT + (v & 0x1f8));
			h_out(h, bm_port(ch, IDE_BM_COMMAND), 1, (r >> 8) & 9);
			break;
		default:	/* PRDs, somewhere in the table page */
			prd(h, PRDT, (r >> 8) % 64,
			    (r >> 22) & 1 ? v % (uint32_t)h->ram.size : DMA_BUF + (v & 0xfff0),
			    (r >> 23) & 1 ? v >> 8 : 0x1000, (r >> 20) & 1);
			if (!((r >> 21) & 63))
				devctl_out(h, ch, IDE_CTL_SRST);
			break;
		}
	}
	/* It reached the data paths, not only the errors. */
	struct ide_stats s = ide_get_stats(&h->ide);
	CHECK(s.sectors_read > 500 && s.sectors_written > 50 && s.dma_transfers > 50);
	h_end(h);
	CHECK_EQ(file_size(path_a), SECTORS_A * 512ull);
	CHECK_EQ(file_size(path_b), SECTORS_B * 512ull);
	CHECK_EQ(file_size(cd), 300 * 2048ull);
	unlink(cd);
}

/* What btvm's direct-boot firmware (boot/pci_firmware.c) does to the
 * controller after a machine reset, as SeaBIOS's pciinit does: BAR 4 in
 * the I/O window, decoding on, both channels' IDETIM decode bits. */
static void test_firmware(struct harness *h)
{
	struct pci_firmware_config cfg;

	setup(h);
	pci_host_reset(&h->pci);
	ide_reset(&h->ide);
	CHECK_EQ(cfg_rd(h, 0x40, 4), 0);
	CHECK_EQ(cfg_rd(h, PCI_REG_BAR0 + 4 * IDE_BM_BAR, 4), 1);
	pci_firmware_config_default(&cfg);
	CHECK_EQ(pci_firmware_setup(&h->pci, &cfg), 0);
	CHECK_EQ(cfg_rd(h, 0x40, 4), 0x80008000);
	CHECK_EQ(cfg_rd(h, 0x44, 1), 0);
	CHECK_EQ(cfg_rd(h, PCI_REG_BAR0 + 4 * IDE_BM_BAR, 4), PCI_FIRMWARE_IO_START | 1);
	CHECK(cfg_rd(h, PCI_REG_COMMAND, 2) & PCI_COMMAND_IO);
	CHECK_EQ(cfg_rd(h, PCI_REG_INTERRUPT_PIN, 1), 0);	/* no INTx: IRQ 14 and 15 */
	/* The bus master answers where the firmware put it. */
	h_out(h, PCI_FIRMWARE_IO_START + 8 + IDE_BM_PRDT, 4, 0x2000);
	CHECK_EQ(h_in(h, PCI_FIRMWARE_IO_START + 8 + IDE_BM_PRDT, 4), 0x2000);
	h_end(h);
}

int main(void)
{
	static struct harness h;

	h_init(&h);
	h_path(&h, "a.img", path_a, sizeof(path_a));
	h_path(&h, "b.img", path_b, sizeof(path_b));
	make_disk(path_a, SECTORS_A * 512ull);
	make_disk(path_b, SECTORS_B * 512ull);
	test_pci(&h);
	test_firmware(&h);
	test_signature_and_reset(&h);
	test_identify(&h);
	test_pio(&h);
	test_multiple(&h);
	test_lba48(&h);
	test_dma(&h);
	test_dma_errors(&h);
	test_errors(&h);
	test_housekeeping(&h);
	make_disk(path_a, SECTORS_A * 512ull);
	test_snapshot_mode(&h);
	test_snapshot_round_trip(&h);
	test_open_and_lock(&h);
	test_hostile(&h);
	unlink(path_a);
	unlink(path_b);
	h_fini(&h);
	return check_report("test_ide");
}
