/* What test_ide.c and test_atapi.c share: a PIIX3 IDE controller on a
 * bus with a PCI host and a real guest_ram, set up as firmware leaves it
 * (BAR 4 placed, I/O and bus mastering on, both channels' decode enabled),
 * its IRQ lines and DMA reports recorded, port accessors, images in a
 * temporary directory, and the bus master's PRD tables. */
#ifndef BTVM_TESTS_IDE_HARNESS_H
#define BTVM_TESTS_IDE_HARNESS_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "devices/bus.h"
#include "devices/ide.h"
#include "devices/pci_host.h"
#include "host/snapfile.h"

#define BM_BASE		0xc000u
#define PRDT		0x10000u	/* PRD tables go here */
#define DMA_BUF		0x100000u	/* and the data from here on */

struct harness {
	struct guest_ram ram;
	struct bus bus;
	struct pci_host pci;
	struct ide ide;
	int irq_level[IDE_CHANNELS];
	unsigned irq_rises[IDE_CHANNELS];
	unsigned written_calls;
	uint64_t written_lo, written_hi;
	char dir[200];
};

static inline void h_on_irq(void *opaque, unsigned line, int level)
{
	struct harness *h = opaque;
	if (level && !h->irq_level[line])
		h->irq_rises[line]++;
	h->irq_level[line] = level;
}

static inline void h_on_written(void *opaque, uint64_t gpa, uint64_t len)
{
	struct harness *h = opaque;
	h->written_calls++;
	if (gpa < h->written_lo)
		h->written_lo = gpa;
	if (gpa + len > h->written_hi)
		h->written_hi = gpa + len;
}

static inline uint16_t cmd_port(unsigned ch, unsigned reg)
{
	return (uint16_t)((ch ? IDE_SECONDARY_CMD : IDE_PRIMARY_CMD) + reg);
}

static inline uint16_t ctl_port(unsigned ch)
{
	return ch ? IDE_SECONDARY_CTL : IDE_PRIMARY_CTL;
}

static inline uint16_t bm_port(unsigned ch, unsigned reg)
{
	return (uint16_t)(BM_BASE + 8 * ch + reg);
}

static inline uint32_t h_in(struct harness *h, uint16_t port, unsigned width)
{
	return (uint32_t)bus_read(&h->bus, BUS_SPACE_PIO, port, width);
}

static inline void h_out(struct harness *h, uint16_t port, unsigned width, uint32_t v)
{
	bus_write(&h->bus, BUS_SPACE_PIO, port, width, v);
}

static inline uint8_t reg_in(struct harness *h, unsigned ch, unsigned reg)
{
	return (uint8_t)h_in(h, cmd_port(ch, reg), 1);
}

static inline void reg_out(struct harness *h, unsigned ch, unsigned reg, uint8_t v)
{
	h_out(h, cmd_port(ch, reg), 1, v);
}

/* The status register: reading it acknowledges the interrupt. */
static inline uint8_t status_in(struct harness *h, unsigned ch)
{
	return reg_in(h, ch, IDE_REG_STATUS);
}

static inline uint8_t altstatus_in(struct harness *h, unsigned ch)
{
	return (uint8_t)h_in(h, ctl_port(ch), 1);
}

static inline void devctl_out(struct harness *h, unsigned ch, uint8_t v)
{
	h_out(h, ctl_port(ch), 1, v);
}

static inline uint32_t cfg_rd(struct harness *h, unsigned reg, unsigned width)
{
	return pci_host_config_read(&h->pci, 0, IDE_DEVFN, reg, width);
}

static inline void cfg_wr(struct harness *h, unsigned reg, unsigned width, uint32_t v)
{
	pci_host_config_write(&h->pci, 0, IDE_DEVFN, reg, width, v);
}

static inline void h_init(struct harness *h)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(h->dir, sizeof(h->dir), "%s/btvm-ide-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	CHECK(mkdtemp(h->dir) != NULL);
	if (guest_ram_init(&h->ram, 4, 0)) {
		fprintf(stderr, "cannot make guest RAM\n");
		exit(1);
	}
}

static inline void h_path(const struct harness *h, const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", h->dir, name);
}

/* A controller with no drives yet: ide_open_* come next, then h_attach. */
static inline void h_begin(struct harness *h)
{
	ide_init(&h->ide);
}

/* Attaches what was opened and does what firmware does. */
static inline void h_attach(struct harness *h)
{
	const struct irq_line irq[IDE_CHANNELS] = {
		{ .set_level = h_on_irq, .opaque = h, .line = 0 },
		{ .set_level = h_on_irq, .opaque = h, .line = 1 },
	};
	const struct ide_host host = { .guest_written = h_on_written, .opaque = h };

	memset(h->ram.host, 0, h->ram.size);
	for (unsigned c = 0; c < IDE_CHANNELS; c++) {
		h->irq_level[c] = 0;
		h->irq_rises[c] = 0;
	}
	h->written_calls = 0;
	h->written_lo = UINT64_MAX;
	h->written_hi = 0;
	bus_init(&h->bus);
	pci_host_init(&h->pci);
	CHECK_EQ(ide_attach(&h->ide, &h->ram, &h->bus, irq, &host), 0);
	CHECK_EQ(pci_host_add(&h->pci, &h->ide.pci), 0);
	cfg_wr(h, PCI_REG_BAR0 + 4 * IDE_BM_BAR, 4, BM_BASE);
	cfg_wr(h, PCI_REG_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MASTER);
	cfg_wr(h, 0x40, 2, 0x8000);	/* as SeaBIOS: both channels decode */
	cfg_wr(h, 0x42, 2, 0x8000);
}

static inline void h_end(struct harness *h)
{
	ide_close(&h->ide);
}

static inline void h_fini(struct harness *h)
{
	guest_ram_destroy(&h->ram);
	rmdir(h->dir);
}

/* ---- Images ------------------------------------------------------------- */

/* Byte off of a made disk: each sector says which it is. */
static inline uint8_t disk_byte(uint64_t off)
{
	return (uint8_t)(off / 512 * 7 + off % 512);
}

static inline void make_disk(const char *path, uint64_t bytes)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0600);
	uint8_t buf[65536];
	CHECK(fd >= 0);
	for (uint64_t off = 0; off < bytes; off += sizeof(buf)) {
		uint64_t n = bytes - off < sizeof(buf) ? bytes - off : sizeof(buf);
		for (uint64_t i = 0; i < n; i++)
			buf[i] = disk_byte(off + i);
		CHECK_EQ(pwrite(fd, buf, n, (off_t)off), (ssize_t)n);
	}
	close(fd);
}

static inline void file_read(const char *path, uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	CHECK_EQ(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static inline uint64_t file_size(const char *path)
{
	struct stat st;
	CHECK_EQ(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

/* ---- Bus master ------------------------------------------------------------ */

static inline void put32(struct harness *h, uint64_t gpa, uint32_t v)
{
	memcpy(h->ram.host + gpa, &v, 4);
}

/* Entry i of the table at table: count 0 means 64 KiB. */
static inline void prd(struct harness *h, uint64_t table, unsigned i, uint32_t addr, uint32_t count,
		       bool eot)
{
	put32(h, table + 8 * i, addr);
	put32(h, table + 8 * i + 4, (count & 0xffff) | (eot ? IDE_PRD_EOT : 0));
}

/* What Linux's ata_bmdma_setup does: table, direction, stop, clear. */
static inline void bm_setup(struct harness *h, unsigned ch, uint32_t table, bool to_memory)
{
	h_out(h, bm_port(ch, IDE_BM_PRDT), 4, table);
	h_out(h, bm_port(ch, IDE_BM_COMMAND), 1, to_memory ? IDE_BM_CMD_TO_MEMORY : 0);
	h_out(h, bm_port(ch, IDE_BM_STATUS), 1, IDE_BM_ST_ERROR | IDE_BM_ST_INTERRUPT);
}

static inline void bm_start(struct harness *h, unsigned ch, bool to_memory)
{
	h_out(h, bm_port(ch, IDE_BM_COMMAND), 1,
	      IDE_BM_CMD_START | (to_memory ? IDE_BM_CMD_TO_MEMORY : 0));
}

static inline void bm_stop(struct harness *h, unsigned ch)
{
	h_out(h, bm_port(ch, IDE_BM_COMMAND), 1, 0);
}

static inline uint8_t bm_status(struct harness *h, unsigned ch)
{
	return (uint8_t)h_in(h, bm_port(ch, IDE_BM_STATUS), 1);
}

/* ---- Snapshots --------------------------------------------------------------- */

/* Saves the controller into a memfd; returns it. */
static inline int snap_save(struct harness *h)
{
	int fd = memfd_create("ide.snap", 0);
	struct snap_writer w;
	CHECK(fd >= 0);
	CHECK_EQ(snapw_open_fd(&w, fd, "ide.snap", 1), 0);
	ide_save(&h->ide, "IDE ", &w);
	CHECK_EQ(snapw_close(&w), 0);
	return fd;
}

/* Loads it into h's controller; the load's return, and its message. */
static inline int snap_load(struct harness *h, int fd, char *msg, size_t len)
{
	struct snap_reader r;
	CHECK_EQ(snapr_open_fd(&r, fd, "ide.snap"), 0);
	CHECK_EQ(snapr_next(&r), 1);
	CHECK(strcmp(r.tag, "IDE ") == 0);
	int ret = ide_load(&h->ide, &r);
	snprintf(msg, len, "%s", r.msg);
	snapr_close(&r);
	return ret;
}

#endif
