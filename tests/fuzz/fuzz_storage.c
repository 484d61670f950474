/* Fuzzing harness for the legacy PC devices that read and write guest RAM
 * on their own, and the other legacy ones fuzz_devices.c leaves out: the
 * PIIX3 IDE controller (devices/ide.h) with an ATA disk at the primary
 * master and an ATAPI CD-ROM at the secondary master, its bus masters and
 * PRD tables; the AC'97 controller (devices/ac97.h) and its buffer
 * descriptor lists; fw_cfg (devices/fw_cfg.h) with its DMA interface and a
 * few files; the HPET (devices/hpet.h); the legacy VGA (devices/vga.h)
 * with its window at 0xa0000. All on one bus with a PCI host, the BARs
 * placed and the IDE decode enabled as firmware leaves them, driven by a
 * program in the input. Each 12-byte record is
 *
 *   byte 0     target: a device's registers, or an operation
 *   byte 1     bit 0 write (or level, or force), bits 1-2 log2 of the width
 *   bytes 2-3  offset
 *   bytes 4-11 value
 *
 * Register targets: the IDE task files and device controls (offset bit 3
 * the channel, bit 4 the device control, bits 0-2 the register), the bus
 * masters at BAR 4, the AC'97 mixer (BAR 0) and bus master (BAR 1), the
 * configuration space of either or of the chipset's two functions (offset
 * bits 14-15: IDE, AC'97, the host bridge, the ISA bridge; a guest may
 * move or disable a BAR or bus mastering, route the AC'97's interrupt, or
 * write-protect the BIOS area through the PAM registers, whose locks the
 * devices' DMA must respect as the board applies them), fw_cfg's ports
 * 0x510-0x51b, the HPET's 1 KiB of MMIO and the VGA's ports 0x3b0-0x3df,
 * each through bus_read/bus_write at the BAR's current address. A BAR the
 * guest unmapped puts the access nowhere, as for the guest.
 *
 * Operations: RAM_WRITE puts the value's first 1 << (flags & 3) bytes at
 * guest physical (offset << 6 | flags >> 2), anywhere in the 4 MiB of RAM
 * (clipped at its end), so that the program builds PRD tables, buffer
 * descriptor lists, fw_cfg DMA descriptors and their buffers;
 * VGA_WINDOW the same 8 bytes at 0xa0000 + (offset << 1 | flag); ADVANCE
 * lets guest time go by (flag clear: then the board's poll of the HPET and
 * the AC'97); HPET_INPUT is the PIT's or the RTC's line into the HPET's
 * multiplexer; IDE_POLL reads both channels' alternate status and the bus
 * masters' status as a polling driver does; VGA_RENDER draws the screen
 * and dumps its text when the VGA says the picture changed, as the board
 * does (at most MAX_RENDERS an input); CD_MEDIA is the monitor's eject or
 * change of the CD (at most MAX_MEDIA an input); RESET is a device's
 * machine reset (offset % 6: IDE, AC'97, fw_cfg, HPET, VGA, or the whole
 * machine with the PCI host); IDE_STRING is a REP INS or OUTS of up to
 * 16383 words or dwords on a channel's data port (MAX_STRING_BYTES an
 * input), the way drivers move PIO blocks, long enough for a transfer
 * past a drive's buffer.
 *
 * At most MAX_RECORDS records an input are run.
 *
 * Guest RAM is an exact-size heap block, so a device reaching past its
 * end is a sanitizer report. The disk and the CD are files in a directory
 * of the harness's own under $TMPDIR. Every input starts from the same
 * machine: the RAM pages written (by the program, or reported by a
 * device) and the disk's bytes back to their first contents, every device
 * reset, the clock at 0.
 *
 * Promises: no crash, hang, sanitizer report or assertion; every write a
 * device reports lies inside RAM; a drive is busy only while its channel
 * holds SRST; a PIO block stays inside the drive's buffer and an AC'97
 * box's indices inside its list; the CD image is never written and
 * neither image changes size; after a poll neither timer is due again at
 * the same instant (the board would spin); no sound chunk longer than
 * AC97_CHUNK_FRAMES_MAX or at a rate outside 8-48 kHz; no picture larger
 * than the VGA's maximum, and none wanted again right after a render. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/qemu_fw_cfg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

#include "devices/ac97.h"
#include "devices/bus.h"
#include "devices/fw_cfg.h"
#include "devices/hpet.h"
#include "devices/ide.h"
#include "devices/pci_host.h"
#include "devices/vga.h"
#include "mmu/guest_ram.h"

#define RAM_BYTES (4u << 20)
#define RAM_PAGES (RAM_BYTES / 4096u)
#define DISK_SLOT 0u		/* primary master */
#define CD_SLOT 2u		/* secondary master */
#define DISK_SECTORS 512u	/* 256 KiB: every transfer stays small */
#define DISK_BYTES (DISK_SECTORS * 512u)
/* 192 KiB: more than a drive's buffer, so that a long read loads it
 * again (and a medium may go in between). */
#define CD_SECTORS 96u
#define CD_BYTES (CD_SECTORS * ATAPI_SECTOR_SIZE)
#define IDE_BM_BASE 0xc000u
#define AC97_DEVFN 0x48u	/* 00:09.0, as the board */
#define AC97_NAM_BASE 0xd000u
#define AC97_NABM_BASE 0xd100u
#define HOST_BRIDGE_DEVFN 0x00u
#define ISA_BRIDGE_DEVFN 0x08u
#define FW_CFG_PORTS 12u	/* 0x510-0x51b: selector, data, DMA address */
/* The board's pace for periodic timer interrupts (machine/wiring.c). */
#define TIMER_IRQ_MIN_INTERVAL_NS 100000ull
/* A full VGA render draws 720x400 pixels and more, most of an input's time. */
#define MAX_RENDERS 1u
/* A media change opens the image again. */
#define MAX_MEDIA 4u
/* libFuzzer's inputs stay far below; a replayed file may not. */
#define MAX_RECORDS 1024u
/* Bytes the string operations move through the data ports an input: a
 * PIO transfer longer than a drive's buffer, and a bound on the time
 * (every access goes through the bus). */
#define MAX_STRING_BYTES (IDE_BUF_BYTES + (32u << 10))
/* Accesses one string operation makes at most: 64 KiB of dwords. */
#define MAX_STRING_COUNT 0x3fffu

enum target {
	T_IDE,
	T_IDE_BM,
	T_AC97_NAM,
	T_AC97_NABM,
	T_PCI_CONFIG,
	T_FW_CFG,
	T_HPET,
	T_VGA,
	OP_RAM_WRITE,
	OP_VGA_WINDOW,
	OP_ADVANCE,
	OP_HPET_INPUT,	/* offset bit 0: the RTC's line (else the PIT's); flag: level */
	OP_IDE_POLL,
	OP_VGA_RENDER,
	OP_CD_MEDIA,	/* offset bit 0: change (else eject); flag: force */
	OP_RESET,
	OP_IDE_STRING,	/* offset bit 3: the channel; value: the count, then the data */
	OP_COUNT,
};

enum reset_what {
	RESET_IDE, RESET_AC97, RESET_FW_CFG, RESET_HPET, RESET_VGA, RESET_ALL, RESET_KINDS,
};

struct machine {
	uint64_t now;
	struct guest_ram ram;
	struct bus bus;
	struct pci_host pci;
	struct ide ide;
	struct ac97 ac97;
	struct fw_cfg fw;
	struct hpet hpet;
	struct vga vga;
	int disk_fd, cd_fd;
	char cd_path[256];
	struct stat cd_stat;
	unsigned renders, media_ops;
	uint32_t string_bytes;
	uint8_t ram_dirty[RAM_PAGES];
	uint64_t sink;		/* what reads returned, so none is optimised away */
};

/* The first contents of RAM (zeros, and the VGA's font and screen) and of
 * the disk, to put back between inputs. */
static uint8_t pristine_ram[RAM_BYTES];
static uint8_t pristine_disk[DISK_BYTES];
static uint32_t vga_pixels[VGA_MAX_PIXELS];
static char vga_text[VGA_TEXT_DUMP_MAX];

static void mark_dirty(struct machine *m, uint64_t gpa, uint64_t len)
{
	if (!len || gpa >= RAM_BYTES)
		return;
	uint64_t last = gpa + len - 1 < RAM_BYTES ? gpa + len - 1 : RAM_BYTES - 1;
	for (uint64_t p = gpa / 4096; p <= last / 4096; p++)
		m->ram_dirty[p] = 1;
}

/* A device's DMA write: it must lie in RAM, and it is undone after the
 * input. */
static void device_wrote(void *opaque, uint64_t gpa, uint64_t len)
{
	struct machine *m = opaque;
	fuzz_require(len <= RAM_BYTES && gpa <= RAM_BYTES - len,
		     "a device reported a write outside guest RAM");
	mark_dirty(m, gpa, len);
}

static uint64_t machine_clock(void *opaque)
{
	const struct machine *m = opaque;
	return m->now;
}

static void ide_irq(void *opaque, unsigned line, int level)
{
	struct machine *m = opaque;
	m->sink += line + (uint64_t)level;
}

static void hpet_isa_irq(void *opaque, unsigned irq, int level)
{
	struct machine *m = opaque;
	m->sink += irq + (uint64_t)level;
}

static void hpet_pin(void *opaque, unsigned pin, int level)
{
	struct machine *m = opaque;
	m->sink += pin + (uint64_t)level;
}

static void pci_isa_irq(void *opaque, unsigned irq, int level)
{
	struct machine *m = opaque;
	m->sink += irq + (uint64_t)level;
}

static void deadline_changed(void *opaque)
{
	struct machine *m = opaque;
	m->sink += hpet_next_event_ns(&m->hpet, m->now) ^ ac97_next_event_ns(&m->ac97, m->now);
}

/* As the board: the PAM registers' write locks apply to every DMA. */
static void pam_changed(void *opaque)
{
	struct machine *m = opaque;
	m->ram.pam_locked = pci_host_pam_write_locked(&m->pci);
}

static void ac97_play(void *opaque, const int16_t *frames, unsigned nframes, unsigned rate)
{
	struct machine *m = opaque;
	fuzz_require(nframes <= AC97_CHUNK_FRAMES_MAX, "the AC'97 played a chunk too long");
	fuzz_require(rate >= AC97_RATE_MIN && rate <= AC97_RATE_MAX,
		     "the AC'97 played at a rate it does not have");
	for (unsigned i = 0; i < 2 * nframes; i++)
		m->sink += (uint16_t)frames[i];
}

static void ac97_stop(void *opaque)
{
	struct machine *m = opaque;
	m->sink++;
}

/* The images live in a directory of their own under $TMPDIR (the image
 * code wants a real path: it looks for snapshots beside it). The disk's
 * name goes once it is open; the CD's stays for the monitor's media
 * change, and goes with the directory at exit. */
static char image_dir[200], cd_path_to_remove[256];

static void remove_images(void)
{
	unlink(cd_path_to_remove);
	rmdir(image_dir);
}

/* A file of len bytes in the image directory, its path in path and a
 * descriptor returned, for the harness's own checks and repairs. */
static int image_file(const char *name, const uint8_t *bytes, size_t len, char *path,
		      size_t pathlen)
{
	if (!image_dir[0]) {
		const char *tmp = getenv("TMPDIR");
		snprintf(image_dir, sizeof(image_dir), "%s/btvm-fuzz-storage-XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");
		fuzz_require(mkdtemp(image_dir) != NULL, "no directory for the images");
		atexit(remove_images);
	}
	snprintf(path, pathlen, "%s/%s", image_dir, name);
	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0600);
	fuzz_require(fd >= 0, "cannot make an image");
	fuzz_require(pwrite(fd, bytes, len, 0) == (ssize_t)len, "cannot write an image");
	return fd;
}

/* A small ISO 9660 image: a primary volume descriptor at sector 16 and
 * the terminator at 17, then sectors that say which they are. */
static void make_cd(uint8_t *b)
{
	memset(b, 0, CD_BYTES);
	for (unsigned s = 18; s < CD_SECTORS; s++)
		for (unsigned i = 0; i < ATAPI_SECTOR_SIZE; i++)
			b[s * ATAPI_SECTOR_SIZE + i] = (uint8_t)(s * 5 + i * 3);
	uint8_t *pvd = b + 16 * ATAPI_SECTOR_SIZE;
	pvd[0] = 1;
	memcpy(pvd + 1, "CD001", 5);
	pvd[6] = 1;
	for (unsigned i = 0; i < 4; i++) {	/* the volume space size, both-endian */
		pvd[80 + i] = (uint8_t)(CD_SECTORS >> (8 * i));
		pvd[87 - i] = (uint8_t)(CD_SECTORS >> (8 * i));
	}
	uint8_t *term = b + 17 * ATAPI_SECTOR_SIZE;
	term[0] = 0xff;
	memcpy(term + 1, "CD001", 5);
	term[6] = 1;
}

/* What firmware does after a reset: the BARs placed, I/O and bus
 * mastering on, both IDE channels decoding, the BIOS area writable but
 * for its last 64 KiB (as SeaBIOS leaves them). */
static void place_bars(struct machine *m)
{
	pci_host_config_write(&m->pci, 0, HOST_BRIDGE_DEVFN, PCI_I440FX_PAM0, 1, 0x10);
	for (unsigned i = 1; i < PCI_I440FX_PAMS; i++)
		pci_host_config_write(&m->pci, 0, HOST_BRIDGE_DEVFN, PCI_I440FX_PAM0 + i, 1, 0x33);
	pci_host_config_write(&m->pci, 0, IDE_DEVFN, PCI_REG_BAR0 + 4 * IDE_BM_BAR, 4, IDE_BM_BASE);
	pci_host_config_write(&m->pci, 0, IDE_DEVFN, PCI_REG_COMMAND, 2,
			      PCI_COMMAND_IO | PCI_COMMAND_MASTER);
	pci_host_config_write(&m->pci, 0, IDE_DEVFN, 0x40, 2, 0x8000);
	pci_host_config_write(&m->pci, 0, IDE_DEVFN, 0x42, 2, 0x8000);
	pci_host_config_write(&m->pci, 0, AC97_DEVFN, PCI_REG_BAR0 + 4 * AC97_NAM_BAR, 4,
			      AC97_NAM_BASE);
	pci_host_config_write(&m->pci, 0, AC97_DEVFN, PCI_REG_BAR0 + 4 * AC97_NABM_BAR, 4,
			      AC97_NABM_BASE);
	pci_host_config_write(&m->pci, 0, AC97_DEVFN, PCI_REG_COMMAND, 2,
			      PCI_COMMAND_IO | PCI_COMMAND_MASTER);
}

static void machine_init(struct machine *m)
{
	char err[256], disk_path[256];

	memset(m, 0, sizeof(*m));
	m->ram.memfd = -1;
	m->ram.size = m->ram.low_size = RAM_BYTES;
	m->ram.devmem_gpa = GUEST_DEVMEM_UNMAPPED;
	m->ram.host = malloc(RAM_BYTES);
	fuzz_require(m->ram.host != NULL, "no memory for guest RAM");
	vga_init_memory(pristine_ram + VGA_LEGACY_BASE);
	memcpy(m->ram.host, pristine_ram, RAM_BYTES);

	for (unsigned i = 0; i < DISK_BYTES; i++)
		pristine_disk[i] = (uint8_t)(i / 512 * 7 + i % 512);
	m->disk_fd = image_file("disk.img", pristine_disk, DISK_BYTES, disk_path,
				sizeof(disk_path));
	static uint8_t cd[CD_BYTES];
	make_cd(cd);
	m->cd_fd = image_file("cd.iso", cd, CD_BYTES, m->cd_path, sizeof(m->cd_path));
	snprintf(cd_path_to_remove, sizeof(cd_path_to_remove), "%s", m->cd_path);
	fuzz_require(fstat(m->cd_fd, &m->cd_stat) == 0, "cannot stat the CD image");

	bus_init(&m->bus);
	pci_host_init(&m->pci);
	m->pci.set_isa_irq = pci_isa_irq;
	m->pci.irq_opaque = m;
	m->pci.pam_changed = pam_changed;
	fuzz_require(pci_host_attach(&m->pci, &m->bus) == 0, "the PCI host would not attach");

	ide_init(&m->ide);
	err[0] = 0;
	if (ide_open_disk(&m->ide, DISK_SLOT, disk_path, false, false, false, err, sizeof(err)) ||
	    ide_open_cdrom(&m->ide, CD_SLOT, m->cd_path, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		fuzz_require(false, "the images would not open");
	}
	unlink(disk_path);
	const struct irq_line irq[IDE_CHANNELS] = {
		{ .set_level = ide_irq, .opaque = m, .line = IDE_PRIMARY_IRQ },
		{ .set_level = ide_irq, .opaque = m, .line = IDE_SECONDARY_IRQ },
	};
	const struct ide_host ide_host = { .guest_written = device_wrote, .opaque = m };
	fuzz_require(ide_attach(&m->ide, &m->ram, &m->bus, irq, &ide_host) == 0,
		     "the IDE controller would not attach");
	fuzz_require(pci_host_add(&m->pci, &m->ide.pci) == 0, "the IDE controller would not plug in");

	const struct ac97_host ac97_host = {
		.clock_ns = machine_clock,
		.play = ac97_play,
		.stop = ac97_stop,
		.guest_written = device_wrote,
		.deadline_changed = deadline_changed,
		.opaque = m,
	};
	fuzz_require(ac97_attach(&m->ac97, AC97_DEVFN, &m->ram, &m->bus, &ac97_host) == 0,
		     "the AC'97 would not attach");
	fuzz_require(pci_host_add(&m->pci, &m->ac97.pci) == 0, "the AC'97 would not plug in");

	fw_cfg_init(&m->fw, &m->ram, device_wrote, m);
	static uint8_t blob[5000];
	for (unsigned i = 0; i < sizeof(blob); i++)
		blob[i] = (uint8_t)(i * 11 + 3);
	fuzz_require(fw_cfg_set_u64(&m->fw, FW_CFG_RAM_SIZE, RAM_BYTES) == 0 &&
		     fw_cfg_set_u16(&m->fw, FW_CFG_NB_CPUS, 1) == 0 &&
		     fw_cfg_add_file(&m->fw, "bootorder", "/pci@i0cf8/ide@1,1/drive@0\n", 27,
				     NULL) == 0 &&
		     fw_cfg_add_file(&m->fw, "etc/fuzz-blob", blob, sizeof(blob), NULL) == 0 &&
		     fw_cfg_add_file(&m->fw, "etc/one-byte", blob, 1, NULL) == 0,
		     "fw_cfg would not take its items");
	fuzz_require(fw_cfg_attach(&m->fw, &m->bus) == 0, "fw_cfg would not attach");

	hpet_init(&m->hpet, machine_clock, hpet_isa_irq, hpet_pin, m);
	m->hpet.min_interval_ns = TIMER_IRQ_MIN_INTERVAL_NS;
	m->hpet.deadline_changed = deadline_changed;
	hpet_reset(&m->hpet);
	fuzz_require(hpet_attach(&m->hpet, &m->bus, HPET_BASE) == 0, "the HPET would not attach");

	vga_init(&m->vga);
	fuzz_require(vga_attach(&m->vga, &m->bus) == 0, "the VGA would not attach");
}

static void reset_device(struct machine *m, enum reset_what what)
{
	switch (what) {
	case RESET_IDE:
		ide_reset(&m->ide);
		break;
	case RESET_AC97:
		ac97_reset(&m->ac97);
		break;
	case RESET_FW_CFG:
		fw_cfg_reset(&m->fw);
		break;
	case RESET_HPET:
		hpet_reset(&m->hpet);
		break;
	case RESET_VGA:
		vga_init(&m->vga);
		break;
	case RESET_ALL:
	case RESET_KINDS:
		pci_host_reset(&m->pci);
		ide_reset(&m->ide);
		ac97_reset(&m->ac97);
		fw_cfg_reset(&m->fw);
		hpet_reset(&m->hpet);
		vga_init(&m->vga);
		place_bars(m);
		break;
	}
}

/* Back to the machine every input starts from: the CD and the disk's
 * bytes as made, the RAM pages anything wrote as they were, every device
 * reset at time 0. */
static void machine_restart(struct machine *m, uint64_t sectors_written_before)
{
	char err[256];
	struct disk_image *cd = ide_slot_image(&m->ide, CD_SLOT);
	if (m->media_ops && (!cd || strcmp(cd->path, m->cd_path) != 0))
		fuzz_require(ide_cdrom_change(&m->ide, CD_SLOT, m->cd_path, true, err,
					      sizeof(err)) == 0, "the CD would not go back in");
	if (ide_get_stats(&m->ide).sectors_written != sectors_written_before)
		fuzz_require(pwrite(m->disk_fd, pristine_disk, DISK_BYTES, 0) == DISK_BYTES,
			     "cannot put the disk back");
	for (unsigned p = 0; p < RAM_PAGES; p++) {
		if (!m->ram_dirty[p])
			continue;
		memcpy(m->ram.host + p * 4096, pristine_ram + p * 4096, 4096);
		m->ram_dirty[p] = 0;
	}
	m->now = 0;
	m->renders = m->media_ops = 0;
	m->string_bytes = 0;
	reset_device(m, RESET_ALL);
}

/* The bus address of a BAR's offset: where the BAR decodes now (an
 * unmapped BAR's PCI_BAR_UNMAPPED plus offset lands where nothing is). */
static uint64_t bar_port(const struct pci_function *fn, unsigned bar, uint64_t offset)
{
	return fn->bar[bar].mapped + offset;
}

static void bus_access(struct machine *m, enum bus_space space, uint64_t addr, bool write,
		   unsigned width, uint64_t value)
{
	if (write)
		bus_write(&m->bus, space, addr, width, value);
	else
		m->sink += bus_read(&m->bus, space, addr, width);
}

/* A guest's configuration cycle: through 0xcfc + (reg & 3), so at most a
 * dword, aligned to its width. */
static void config_access(struct machine *m, bool write, unsigned width, uint64_t offset,
			  uint64_t value)
{
	static const unsigned devfns[] = { IDE_DEVFN, AC97_DEVFN, HOST_BRIDGE_DEVFN,
					   ISA_BRIDGE_DEVFN };
	unsigned devfn = devfns[offset >> 14 & 3];
	if (width > 4)
		width = 4;
	unsigned reg = (unsigned)(offset & 0xff) & ~(width - 1);
	if (write)
		pci_host_config_write(&m->pci, 0, devfn, reg, width, (uint32_t)value);
	else
		m->sink += pci_host_config_read(&m->pci, 0, devfn, reg, width);
}

static void ram_write(struct machine *m, uint64_t gpa, uint64_t value, unsigned len)
{
	for (unsigned i = 0; i < len && gpa + i < RAM_BYTES; i++)
		m->ram.host[gpa + i] = (uint8_t)(value >> (8 * i));
	mark_dirty(m, gpa, len);
}

/* The board's poll after time went by: each timer brought up to now must
 * then point at a moment still to come. */
static void poll_timers(struct machine *m)
{
	hpet_update(&m->hpet, m->now);
	ac97_update(&m->ac97, m->now);
	fuzz_require(hpet_next_event_ns(&m->hpet, m->now) > m->now, "the HPET is due again at once");
	fuzz_require(ac97_next_event_ns(&m->ac97, m->now) > m->now,
		     "the AC'97 is due again at once");
}

static void advance(struct machine *m, uint64_t value, bool poll)
{
	m->now = fuzz_time_step(m->now, value);
	if (poll)
		poll_timers(m);
}

static void ide_poll(struct machine *m)
{
	for (unsigned c = 0; c < IDE_CHANNELS; c++) {
		m->sink += bus_read(&m->bus, BUS_SPACE_PIO, c ? IDE_SECONDARY_CTL : IDE_PRIMARY_CTL, 1);
		m->sink += bus_read(&m->bus, BUS_SPACE_PIO,
				    bar_port(&m->ide.pci, IDE_BM_BAR, 8 * c + IDE_BM_STATUS), 1);
	}
}

static void vga_render_and_dump(struct machine *m)
{
	unsigned width, height;
	const uint8_t *window = m->ram.host + VGA_LEGACY_BASE;
	/* As the board: a picture only when it can differ from the last. */
	if (m->renders >= MAX_RENDERS || !vga_needs_render(&m->vga, window, m->now))
		return;
	m->renders++;
	vga_render(&m->vga, window, m->now, vga_pixels, &width, &height);
	fuzz_require(width <= VGA_MAX_WIDTH && height <= VGA_MAX_HEIGHT,
		     "the VGA drew a picture larger than its maximum");
	m->sink += vga_pixels[0] + vga_pixels[(size_t)width * height / 2];
	size_t len = vga_text_dump(&m->vga, window, vga_text, sizeof(vga_text));
	fuzz_require(len < sizeof(vga_text) && strlen(vga_text) == len,
		     "the VGA's text dump is not the length it says");
	fuzz_require(!vga_needs_render(&m->vga, window, m->now),
		     "the VGA wants a render right after one");
}

/* A REP INS or OUTS on a channel's data port, as drivers move PIO blocks:
 * the value's low 14 bits the count of accesses (a byte access is made a
 * word), what OUTS writes from its bits 16-47 on. */
static void ide_string(struct machine *m, unsigned ch, bool write, unsigned width,
		       uint64_t value)
{
	uint64_t port = ch ? IDE_SECONDARY_CMD : IDE_PRIMARY_CMD;
	uint32_t count = (uint32_t)(value & MAX_STRING_COUNT);
	uint32_t word = (uint32_t)(value >> 16);
	if (width < 2)
		width = 2;
	else if (width > 4)
		width = 4;
	if (count > (MAX_STRING_BYTES - m->string_bytes) / width)
		count = (MAX_STRING_BYTES - m->string_bytes) / width;
	m->string_bytes += count * width;
	for (uint32_t i = 0; i < count; i++) {
		if (write)
			bus_write(&m->bus, BUS_SPACE_PIO, port, width, word + i * 0x01010101u);
		else
			m->sink += bus_read(&m->bus, BUS_SPACE_PIO, port, width);
	}
}

static void cd_media(struct machine *m, bool change, bool force)
{
	char err[256];
	if (m->media_ops >= MAX_MEDIA)
		return;
	m->media_ops++;
	if (change)
		m->sink += (uint64_t)ide_cdrom_change(&m->ide, CD_SLOT, m->cd_path, force, err,
						      sizeof(err));
	else
		m->sink += (uint64_t)ide_cdrom_eject(&m->ide, CD_SLOT, force, err, sizeof(err));
}

static void run_record(struct machine *m, enum target target, unsigned flags, uint64_t offset,
		 uint64_t value)
{
	bool flag = flags & 1;
	unsigned width = 1u << ((flags >> 1) & 3);

	switch (target) {
	case T_IDE: {
		unsigned ch = (offset >> 3) & 1;
		uint64_t port = offset & 0x10 ? (ch ? IDE_SECONDARY_CTL : IDE_PRIMARY_CTL)
					      : (ch ? IDE_SECONDARY_CMD : IDE_PRIMARY_CMD) + (offset & 7);
		bus_access(m, BUS_SPACE_PIO, port, flag, width, value);
		break;
	}
	case T_IDE_BM:
		bus_access(m, BUS_SPACE_PIO, bar_port(&m->ide.pci, IDE_BM_BAR, offset % IDE_BM_BAR_SIZE),
		       flag, width, value);
		break;
	case T_AC97_NAM:
		bus_access(m, BUS_SPACE_PIO, bar_port(&m->ac97.pci, AC97_NAM_BAR, offset % AC97_NAM_SIZE),
		       flag, width, value);
		break;
	case T_AC97_NABM:
		bus_access(m, BUS_SPACE_PIO,
		       bar_port(&m->ac97.pci, AC97_NABM_BAR, offset % AC97_NABM_SIZE), flag, width,
		       value);
		break;
	case T_PCI_CONFIG:
		config_access(m, flag, width, offset, value);
		break;
	case T_FW_CFG:
		bus_access(m, BUS_SPACE_PIO, FW_CFG_PORT_SELECTOR + offset % FW_CFG_PORTS, flag, width,
		       value);
		break;
	case T_HPET:
		bus_access(m, BUS_SPACE_MMIO, HPET_BASE + offset % HPET_MMIO_LEN, flag, width, value);
		break;
	case T_VGA:
		bus_access(m, BUS_SPACE_PIO, VGA_PORT_BASE + offset % VGA_PORT_COUNT, flag, width, value);
		break;
	case OP_RAM_WRITE:
		ram_write(m, offset << 6 | flags >> 2, value, 1u << (flags & 3));
		break;
	case OP_VGA_WINDOW:
		ram_write(m, VGA_LEGACY_BASE + ((offset << 1 | flag) % VGA_LEGACY_SIZE), value, 8);
		break;
	case OP_ADVANCE:
		advance(m, value, !flag);
		break;
	case OP_HPET_INPUT:
		hpet_isa_input(&m->hpet, offset & 1 ? 8 : 0, flag);
		break;
	case OP_IDE_POLL:
		ide_poll(m);
		break;
	case OP_VGA_RENDER:
		vga_render_and_dump(m);
		break;
	case OP_CD_MEDIA:
		cd_media(m, offset & 1, flag);
		break;
	case OP_RESET:
		reset_device(m, (enum reset_what)(offset % RESET_KINDS));
		break;
	case OP_IDE_STRING:
		ide_string(m, (offset >> 3) & 1, flag, width, value);
		break;
	case OP_COUNT:
		break;
	}
}

/* After every record: a drive busy outside a reset never answers (a
 * polling guest would hang); a PIO block stays inside the drive's buffer;
 * an AC'97 box's indices stay inside its descriptor list. */
static void check_state(const struct machine *m)
{
	for (unsigned c = 0; c < IDE_CHANNELS; c++) {
		const struct ide_channel *ch = &m->ide.ch[c];
		for (unsigned u = 0; u < IDE_UNITS; u++) {
			const struct ide_drive *d = &ch->drive[u];
			fuzz_require(!(d->status & IDE_STATUS_BSY) || (ch->devctl & IDE_CTL_SRST),
				     "an IDE drive is busy outside a reset");
			fuzz_require(d->pos <= d->end && d->end <= IDE_BUF_BYTES &&
				     d->fill <= IDE_BUF_BYTES,
				     "an IDE drive's PIO block runs past its buffer");
		}
	}
	for (unsigned b = 0; b < AC97_BOXES; b++) {
		const struct ac97_box *x = &m->ac97.box[b];
		fuzz_require(x->civ < AC97_BDL_ENTRIES && x->lvi < AC97_BDL_ENTRIES &&
			     x->piv < AC97_BDL_ENTRIES,
			     "an AC'97 index left the buffer descriptor list");
	}
}

static void check_images(const struct machine *m)
{
	struct stat st;
	fuzz_require(fstat(m->cd_fd, &st) == 0, "cannot stat the CD image");
	fuzz_require(st.st_size == m->cd_stat.st_size &&
		     st.st_mtim.tv_sec == m->cd_stat.st_mtim.tv_sec &&
		     st.st_mtim.tv_nsec == m->cd_stat.st_mtim.tv_nsec,
		     "the read-only CD image was written");
	fuzz_require(fstat(m->disk_fd, &st) == 0 && st.st_size == DISK_BYTES,
		     "the disk image changed size");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct machine m;
	static bool made;
	if (!made) {
		machine_init(&m);
		reset_device(&m, RESET_ALL);
		made = true;
	}
	uint64_t sectors_written = ide_get_stats(&m.ide).sectors_written;
	struct fuzz_input in = { .data = data, .size = size };
	for (unsigned n = 0; n < MAX_RECORDS && fuzz_input_left(&in); n++) {
		unsigned target = (unsigned)(fuzz_take(&in, 1) % OP_COUNT);
		unsigned flags = (unsigned)fuzz_take(&in, 1);
		uint64_t offset = fuzz_take(&in, 2);
		uint64_t value = fuzz_take(&in, 8);
		run_record(&m, (enum target)target, flags, offset, value);
		check_state(&m);
	}
	check_images(&m);
	machine_restart(&m, sectors_written);
	return 0;
}
