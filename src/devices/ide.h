/* The PC's IDE: a PIIX3 IDE controller (PCI function 00:01.1, 8086:7010,
 * class 0101, programming interface 80h: both channels in compatibility
 * mode, bus-master capable) with up to four drives, each an ATA disk or an
 * ATAPI CD/DVD-ROM.
 *
 * Controller (ide.c):
 *   - the legacy ports, decoded whatever the PCI command register says
 *     (as QEMU's PIIX does; firmware and Linux never turn them off):
 *     primary 0x1f0-0x1f7 and 0x3f6 on IRQ 14, secondary 0x170-0x177
 *     and 0x376 on IRQ 15 (0x3f7/0x377 are the floppy's);
 *   - the data port takes 16- and 32-bit accesses (a dword is two word
 *     cycles, as the PIIX makes it); byte accesses to it read 0xff and
 *     write nothing; a wider access to another register is its bytes;
 *   - the task-file registers are written to both drives of a channel
 *     and read from the selected one, with the LBA48 "previous" copies
 *     read back while the device control's HOB bit is set; a selected
 *     drive that is absent reads 0 everywhere (as QEMU's: Linux and
 *     SeaBIOS then find nothing there) and ignores commands;
 *   - device control: nIEN masks the channel's interrupt, SRST resets
 *     both drives (the signature appears when it is cleared again);
 *   - the interrupt: a drive's INTRQ is pending from the end of a command
 *     or a data block until the status register is read or a command
 *     written; the channel's IRQ line follows the selected drive's INTRQ
 *     unless nIEN, and its rising edge sets the bus master's interrupt
 *     bit;
 *   - bus-master DMA at BAR 4 (16 I/O ports: command, status and PRD
 *     table pointer per channel, SFF-8038i). A transfer runs when both
 *     the drive waits for it and the guest has set the start bit (either
 *     order), entirely inside the port write that completes the pair:
 *     PRDs are read from guest RAM and each region checked against it.
 *     An entry or a region outside RAM, a region crossing a 64 KiB
 *     boundary, a table running past its 64 KiB page without an EOT
 *     entry, PRDs shorter than the transfer, a direction bit that
 *     contradicts the command, or bus mastering disabled in the PCI
 *     command register: all end the command with the bus master's error
 *     bit, ABRT in the drive's error register and an interrupt, never a
 *     hang. A byte count of 0 is 64 KiB, as the specification says. PRDs
 *     longer than the transfer leave the active bit set, as on hardware;
 *   - configuration space: the PIIX3's IDE timing registers (0x40-0x44)
 *     are stored, not acted on; they start at 0 (decode disabled) and
 *     firmware writes 0x8000 to 0x40 and 0x42 as SeaBIOS does, which
 *     Linux's ata_piix wants to see before it uses a channel. No INTx
 *     (compatibility mode uses IRQ 14 and 15).
 *
 * ATA disks (ata.c): IDENTIFY DEVICE (LBA28 and LBA48, PIO 0-4, MWDMA
 * 0-2 and UDMA 0-5 as a disk reports them whatever the controller can
 * do), READ/WRITE SECTORS, MULTIPLE and DMA with their EXT forms, READ
 * VERIFY, SET MULTIPLE MODE (1-16, powers of two), FLUSH CACHE (+EXT:
 * fdatasync), SET FEATURES (transfer mode, write cache, look-ahead,
 * revert defaults), INITIALIZE DEVICE PARAMETERS and CHS addressing,
 * EXECUTE DEVICE DIAGNOSTIC, RECALIBRATE and SEEK, and the power
 * commands as no-ops (CHECK POWER MODE says active). The write cache
 * is modelled: enabled (the default) writes are made durable by FLUSH,
 * disabled every write command is synced before it completes. Errors are
 * the status and error registers' (ERR with ABRT for an unknown or
 * malformed command, a write to a read-only image, READ/WRITE MULTIPLE
 * without multiple mode; IDNF for sectors past the end; UNC for a host
 * read error), never fatal.
 *
 * ATAPI (atapi.c): IDENTIFY PACKET DEVICE and PACKET with the MMC
 * commands Linux's sr and cdrom_id, SeaBIOS's El Torito boot and
 * installers use; 2048-byte sectors of an ISO 9660 image, read-only;
 * media change and eject with UNIT ATTENTION, media events and the tray
 * lock (atapi.c's top comment lists the commands and what they report).
 *
 * Host I/O: synchronous, on the calling (vCPU) thread through the shared
 * disk image (host/disk_image.h): a PIO block or a whole DMA transfer
 * reads or writes the image inside the port access that asks for it, so
 * the vCPU waits for the host's disk meanwhile. IDE is the compatibility
 * path (virtio-blk, with its I/O threads, stays the default disk), and
 * this keeps every state change on one thread. The drives' buffers are
 * page aligned, so aligned transfers still go O_DIRECT without a bounce.
 *
 * Threads: none of its own; the caller serializes every function below
 * on the vCPU thread (the monitor's media commands included). */
#ifndef BTVM_DEVICES_IDE_H
#define BTVM_DEVICES_IDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/irq.h"
#include "devices/pci.h"
#include "host/disk_image.h"
#include "mmu/guest_ram.h"

#define IDE_DEVFN		0x09	/* 00:01.1, beside the PIIX3's ISA bridge */
#define IDE_VENDOR		0x8086
#define IDE_DEVICE		0x7010	/* 82371SB PIIX3 IDE */
#define IDE_CLASS		0x010180	/* IDE, compatibility mode, bus master */
#define IDE_BM_BAR		4
#define IDE_BM_BAR_SIZE		16

#define IDE_CHANNELS		2
#define IDE_UNITS		2	/* master and slave */
#define IDE_SLOTS		(IDE_CHANNELS * IDE_UNITS)	/* slot = channel * 2 + unit */

#define IDE_PRIMARY_CMD		0x1f0
#define IDE_PRIMARY_CTL		0x3f6
#define IDE_SECONDARY_CMD	0x170
#define IDE_SECONDARY_CTL	0x376
#define IDE_PRIMARY_IRQ		14
#define IDE_SECONDARY_IRQ	15

/* Command block registers, as offsets from the channel's base port. */
enum {
	IDE_REG_DATA = 0,
	IDE_REG_ERROR = 1,	/* read; FEATURES written */
	IDE_REG_NSECT = 2,	/* ATAPI: interrupt reason on read */
	IDE_REG_LBAL = 3,
	IDE_REG_LBAM = 4,	/* ATAPI: byte count low */
	IDE_REG_LBAH = 5,	/* ATAPI: byte count high */
	IDE_REG_DEVICE = 6,
	IDE_REG_STATUS = 7,	/* read; COMMAND written */
};

#define IDE_STATUS_ERR		0x01
#define IDE_STATUS_DRQ		0x08
#define IDE_STATUS_DSC		0x10	/* seek complete: obsolete, still set by disks */
#define IDE_STATUS_DF		0x20
#define IDE_STATUS_DRDY		0x40
#define IDE_STATUS_BSY		0x80

#define IDE_ERROR_AMNF		0x01
#define IDE_ERROR_ABRT		0x04
#define IDE_ERROR_IDNF		0x10
#define IDE_ERROR_UNC		0x40

#define IDE_DEVICE_DEV		0x10	/* selects the slave */
#define IDE_DEVICE_LBA		0x40

#define IDE_CTL_NIEN		0x02
#define IDE_CTL_SRST		0x04
#define IDE_CTL_HOB		0x80

/* ATAPI interrupt reason (the sector count register). */
#define IDE_IREASON_COD		0x01	/* command packet, or status */
#define IDE_IREASON_IO		0x02	/* to the host */

/* Bus master registers, offsets inside a channel's 8 ports of BAR 4. */
enum {
	IDE_BM_COMMAND = 0,
	IDE_BM_STATUS = 2,
	IDE_BM_PRDT = 4,
};

#define IDE_BM_CMD_START	0x01
#define IDE_BM_CMD_TO_MEMORY	0x08	/* bus master writes memory: a device read */
#define IDE_BM_ST_ACTIVE	0x01
#define IDE_BM_ST_ERROR		0x02
#define IDE_BM_ST_INTERRUPT	0x04
#define IDE_BM_ST_DMA_CAPABLE	0x60	/* drive 0 and 1 DMA capable, firmware's bits */
#define IDE_PRD_EOT		0x80000000u

/* Commands (ATA8-ACS names). */
enum {
	ATA_CMD_NOP = 0x00,
	ATA_CMD_DEVICE_RESET = 0x08,
	ATA_CMD_RECALIBRATE = 0x10,	/* 0x10-0x1f */
	ATA_CMD_READ = 0x20,
	ATA_CMD_READ_NORETRY = 0x21,
	ATA_CMD_READ_EXT = 0x24,
	ATA_CMD_READ_DMA_EXT = 0x25,
	ATA_CMD_READ_MULTIPLE_EXT = 0x29,
	ATA_CMD_WRITE = 0x30,
	ATA_CMD_WRITE_NORETRY = 0x31,
	ATA_CMD_WRITE_EXT = 0x34,
	ATA_CMD_WRITE_DMA_EXT = 0x35,
	ATA_CMD_WRITE_MULTIPLE_EXT = 0x39,
	ATA_CMD_VERIFY = 0x40,
	ATA_CMD_VERIFY_NORETRY = 0x41,
	ATA_CMD_VERIFY_EXT = 0x42,
	ATA_CMD_SEEK = 0x70,	/* 0x70-0x7f */
	ATA_CMD_DIAGNOSTIC = 0x90,
	ATA_CMD_INIT_PARAMS = 0x91,
	ATA_CMD_STANDBY_IMMEDIATE_OLD = 0x94,
	ATA_CMD_IDLE_IMMEDIATE_OLD = 0x95,
	ATA_CMD_STANDBY_OLD = 0x96,
	ATA_CMD_IDLE_OLD = 0x97,
	ATA_CMD_CHECK_POWER_OLD = 0x98,
	ATA_CMD_SLEEP_OLD = 0x99,
	ATA_CMD_PACKET = 0xa0,
	ATA_CMD_IDENTIFY_PACKET = 0xa1,
	ATA_CMD_READ_MULTIPLE = 0xc4,
	ATA_CMD_WRITE_MULTIPLE = 0xc5,
	ATA_CMD_SET_MULTIPLE = 0xc6,
	ATA_CMD_READ_DMA = 0xc8,
	ATA_CMD_READ_DMA_NORETRY = 0xc9,
	ATA_CMD_WRITE_DMA = 0xca,
	ATA_CMD_WRITE_DMA_NORETRY = 0xcb,
	ATA_CMD_STANDBY_IMMEDIATE = 0xe0,
	ATA_CMD_IDLE_IMMEDIATE = 0xe1,
	ATA_CMD_STANDBY = 0xe2,
	ATA_CMD_IDLE = 0xe3,
	ATA_CMD_CHECK_POWER = 0xe5,
	ATA_CMD_SLEEP = 0xe6,
	ATA_CMD_FLUSH = 0xe7,
	ATA_CMD_FLUSH_EXT = 0xea,
	ATA_CMD_IDENTIFY = 0xec,
	ATA_CMD_SET_FEATURES = 0xef,
};

/* SET FEATURES subcommands (the features register). */
enum {
	ATA_SF_WCACHE_ON = 0x02,
	ATA_SF_XFER_MODE = 0x03,
	ATA_SF_LOOKAHEAD_OFF = 0x55,
	ATA_SF_REVERT_OFF = 0x66,
	ATA_SF_WCACHE_OFF = 0x82,
	ATA_SF_LOOKAHEAD_ON = 0xaa,
	ATA_SF_REVERT_ON = 0xcc,
};

/* READ/WRITE MULTIPLE's largest block, in sectors (IDENTIFY word 47). */
#define ATA_MAX_MULTIPLE	16u
/* A drive's buffer: a PIO block, or a piece of a DMA transfer. 256 disk
 * sectors, 64 CD sectors; large enough that a DMA transfer costs a few
 * host calls, small enough to save in a snapshot. */
#define IDE_BUF_BYTES		(128u << 10)
#define ATAPI_SECTOR_SIZE	2048u
#define ATAPI_PACKET_SIZE	12u
/* Above this many 2048-byte sectors a disc is a DVD (a CD's 80 minutes). */
#define ATAPI_CD_MAX_SECTORS	(80u * 60u * 75u)

enum ide_kind {
	IDE_KIND_NONE,
	IDE_KIND_DISK,
	IDE_KIND_CDROM,
};

/* What the drive does on the bus right now. */
enum ide_phase {
	IDE_PHASE_IDLE,
	IDE_PHASE_PIO_IN,	/* DRQ: the host reads buf[pos, end) */
	IDE_PHASE_PIO_OUT,	/* DRQ: the host writes buf[pos, end) */
	IDE_PHASE_DMA,		/* DRQ: waiting for the bus master */
};

/* What the data phase belongs to, so its end knows how to go on. */
enum ide_xfer {
	IDE_XFER_NONE,
	IDE_XFER_ATA_READ,
	IDE_XFER_ATA_WRITE,
	IDE_XFER_IDENTIFY,	/* one block, then done */
	IDE_XFER_PACKET,	/* the 12 command bytes of a PACKET */
	IDE_XFER_ATAPI_DATA,	/* an ATAPI command's data to the host */
};

/* Sense data (SPC), the last error an ATAPI command answered. */
struct atapi_sense {
	uint8_t key, asc, ascq;
};

/* The ATAPI side of a drive. */
struct atapi_state {
	uint8_t packet[ATAPI_PACKET_SIZE];
	bool dma;		/* the PACKET command's data goes by DMA */
	uint16_t byte_limit;	/* the host's byte count limit for a PIO block */
	/* The data phase: bytes not yet put in a PIO block or moved by DMA
	 * and, for a read (reading), the next sector to load once the
	 * buffer's bytes are all handed out. */
	uint64_t left;
	bool reading;
	uint64_t lba;
	struct atapi_sense sense;
	/* A medium inserted: 2 to report it gone on the next command, then
	 * 1 to report UNIT ATTENTION on the one after, as QEMU does so that
	 * guests that do not ask for media events see the change. */
	uint8_t change;
	uint8_t event;		/* pending media event (GET EVENT STATUS) */
	bool tray_open, locked;
};

struct ide_channel;

struct ide_drive {
	struct ide_channel *ch;
	unsigned unit;
	enum ide_kind kind;
	char serial[21], model[41];
	/* The disk's image, or the CD in the drive; NULL: none (an empty CD
	 * drive). Allocated, so that a new CD is opened before the old one
	 * goes. */
	struct disk_image *image;
	uint8_t *buf;		/* IDE_BUF_BYTES, page aligned, from attach */

	/* The task file as this drive holds it, and the previous values the
	 * LBA48 commands read as the high bytes. */
	uint8_t feature, nsect, lbal, lbam, lbah;
	uint8_t hob_feature, hob_nsect, hob_lbal, hob_lbam, hob_lbah;
	uint8_t device, status, error;
	bool intrq;		/* interrupt pending */

	/* The command in progress. */
	uint8_t command;
	enum ide_phase phase;
	enum ide_xfer xfer;
	uint32_t pos, end;	/* the PIO block: buf[pos, end) */
	uint32_t fill;		/* bytes in buf that are valid (saved in snapshots) */
	uint64_t lba;		/* ATA: next sector of the transfer */
	uint32_t left;		/* ATA: sectors still to transfer, this block's included */
	uint32_t block;		/* ATA: sectors in this PIO block */

	/* Settings the guest made. */
	uint8_t multiple;	/* sectors per block of READ/WRITE MULTIPLE; 0: off */
	uint16_t cylinders, heads, spt;	/* the CHS translation */
	bool wcache, lookahead;
	uint8_t xfer_mode;	/* SET FEATURES' transfer mode value: 0x08|n PIO, 0x20|n MWDMA, 0x40|n UDMA */

	struct atapi_state atapi;
};

struct ide;

/* Where a bus master transfer is in its PRD table; only during one. */
struct ide_prd_walk {
	uint64_t next;		/* the next entry's address */
	uint64_t page;		/* the 64 KiB page the table must stay in */
	uint64_t addr;		/* the current region's next byte */
	uint32_t left;		/* bytes left in the current region */
	bool last;		/* the current region is the table's last */
};

struct ide_channel {
	struct ide *ide;
	unsigned index;
	struct ide_drive drive[IDE_UNITS];
	unsigned sel;		/* the selected unit */
	uint8_t devctl;		/* device control as last written */
	struct irq_line irq;
	bool irq_level;		/* as last driven */
	/* Bus master. armed: the start bit was set and no transfer has used
	 * the PRD table since (the active bit may outlive it, see above). */
	uint8_t bm_command, bm_status;
	uint32_t bm_prdt;
	bool bm_armed;
	struct ide_prd_walk walk;
};

struct ide_stats {
	uint64_t commands;	/* ATA commands accepted */
	uint64_t packets;	/* ATAPI packet commands */
	uint64_t sectors_read, sectors_written;	/* 512-byte sectors, PIO and DMA */
	uint64_t dma_transfers;
	uint64_t flushes;
	uint64_t errors;	/* commands answered with ERR (ABRT, IDNF, UNC, sense) */
	uint64_t dma_errors;	/* of those, bad PRD tables and refused bus mastering */
	uint64_t host_errors;	/* of those, the host's read, write or sync failed */
	uint64_t media_changes;
};

/* What the board gives the controller. */
struct ide_host {
	/* The device wrote [gpa, gpa + len) of guest RAM by DMA, before the
	 * guest can see it: for dropping translated code. May be NULL. The
	 * write log (guest_ram_written) is the device's own business. */
	void (*guest_written)(void *opaque, uint64_t gpa, uint64_t len);
	void *opaque;
};

struct ide {
	struct pci_function pci;	/* goes to pci_host_add */
	struct pci_region bm_region;
	struct ide_channel ch[IDE_CHANNELS];
	const struct guest_ram *ram;
	struct bus *bus;
	struct ide_host host;
	struct disk_io io;
	struct ide_stats stats;
	bool attached;
};

/* An empty controller: no drives, not attached. */
void ide_init(struct ide *ide);
/* Opens and locks a disk image (host/disk_image.h) as the ATA disk in
 * slot (0-3: primary master, primary slave, secondary master, secondary
 * slave). Before attach. Returns 0, -EINVAL for a bad or taken slot, or
 * the image's error with one line in err. defer_lock: see
 * disk_image_open. */
int ide_open_disk(struct ide *ide, unsigned slot, const char *path, bool readonly,
		  bool snapshot, bool defer_lock, char *err, size_t errlen);
/* Makes slot a CD/DVD-ROM drive with the image at path read-only in it
 * (a read lock), or empty for a NULL path. Before attach. Same returns. */
int ide_open_cdrom(struct ide *ide, unsigned slot, const char *path, char *err, size_t errlen);
/* The image in slot (a disk's, or the CD in a drive), or NULL. */
struct disk_image *ide_slot_image(struct ide *ide, unsigned slot);
/* The controller's PCI function at IDE_DEVFN (not yet plugged: the caller
 * passes &ide->pci to pci_host_add), its legacy ports on bus, IRQ 14 and
 * 15 through irq[0] and irq[1], the drives' buffers. ram must outlive
 * ide_close. Returns 0 or a negative errno. */
int ide_attach(struct ide *ide, const struct guest_ram *ram, struct bus *bus,
	       const struct irq_line irq[IDE_CHANNELS], const struct ide_host *host);
/* Machine reset: every drive at its power-on state (settings back to
 * their defaults, the signature in place, nothing pending, the tray
 * closed and unlocked with its medium still in), the bus masters
 * stopped, both lines low. The PCI header is pci_host_reset's. */
void ide_reset(struct ide *ide);
/* The monitor's "change": the image at path in slot's CD drive (tray
 * closed): the guest sees the old medium go and a new one come (media
 * events, UNIT ATTENTION). A drive whose tray the guest locked refuses
 * unless force (-EBUSY, and the guest gets an eject request, as QEMU
 * does). On any error the drive keeps what it had. -EINVAL for a slot
 * without a CD drive; else 0 or the image's error, one line in err. */
int ide_cdrom_change(struct ide *ide, unsigned slot, const char *path, bool force, char *err,
		     size_t errlen);
/* The monitor's "eject": the medium out, the tray open. Same locking. */
int ide_cdrom_eject(struct ide *ide, unsigned slot, bool force, char *err, size_t errlen);
struct ide_stats ide_get_stats(const struct ide *ide);
/* Takes the ports and BAR off the bus, closes every image, frees the
 * buffers. Safe on an initialized controller in any state, and twice. */
void ide_close(struct ide *ide);

struct snap_writer;
struct snap_reader;
/* Snapshots (host/snapfile.h): section tag (the board's), the PCI
 * function, the channels and bus masters, every drive's registers,
 * settings and data phase (its buffer included), the CD drives' media
 * (a medium changed since start-up is opened again by its path), and the
 * disks' --snapshot overlays. Load wants the same drives (kind, size,
 * read-only and --snapshot), and a fresh overlay. */
void ide_save(struct ide *ide, const char *tag, struct snap_writer *w);
int ide_load(struct ide *ide, struct snap_reader *r);

#endif
