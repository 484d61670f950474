/* The firmware configuration device of QEMU's PC (fw_cfg), through which
 * SeaBIOS learns the machine it runs on: RAM size, e820 map, boot order,
 * ACPI tables and the rest, as items selected by a 16-bit key, the files
 * among them listed by name in a directory item. The guest-side interface
 * is QEMU's (docs/specs/fw_cfg.rst there; the constants and the two
 * structures are Linux's <linux/qemu_fw_cfg.h>):
 *
 *   0x510  selector, 16-bit write: picks an item, its read offset back to 0
 *   0x511  data, 8-bit read: the item's next byte (0 past its end, and for
 *          a key with no item); writes are ignored (no item is writable)
 *   0x514  DMA address, big-endian: the high half written at 0x514, the low
 *          half at 0x518, which starts the transfer; reads give the
 *          signature "QEMU CFG"
 *
 * As on QEMU's port pair, a byte access at 0x510 is a data access too.
 *
 * DMA: the guest points the device at a struct fw_cfg_dma_access in its
 * RAM (big-endian control, length, address); the device selects (SELECT,
 * key in control's top 16 bits), then reads into guest RAM (READ: the
 * item's bytes from the offset on, zeros past its end), skips (SKIP) or
 * refuses (WRITE: no item is writable), and writes control back as 0, or
 * with the ERROR bit when anything failed: a descriptor or a buffer not
 * wholly in guest RAM, a write. The transfer runs to its end inside the
 * port write that starts it (the guest's next instruction sees control
 * cleared, as QEMU's guests expect). A descriptor outside RAM gets
 * nothing written back at all.
 *
 * Items are copied in when the board builds the machine; none changes
 * while the guest runs. Threads: none of its own; the caller serializes
 * every call. */
#ifndef BTVM_DEVICES_FW_CFG_H
#define BTVM_DEVICES_FW_CFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"
#include "mmu/guest_ram.h"

#define FW_CFG_PORT_SELECTOR 0x510
#define FW_CFG_PORT_DATA 0x511
#define FW_CFG_PORT_DMA 0x514

/* Files the directory can list (QEMU's default is 32 more than that). */
#define FW_CFG_MAX_FILES 64u
/* Legacy keys below the first file key, and arch-local keys from 0x8000. */
#define FW_CFG_LEGACY_KEYS 0x20u
#define FW_CFG_ARCH_KEYS 8u

struct fw_cfg_blob {
	uint8_t *data;   /* owned; NULL when empty */
	uint32_t len;
};

struct fw_cfg_stats {
	uint64_t selects, data_reads, dma_transfers, dma_errors, bytes_dma;
};

struct fw_cfg {
	struct fw_cfg_blob legacy[FW_CFG_LEGACY_KEYS];   /* keys 0x00-0x1f */
	struct fw_cfg_blob arch[FW_CFG_ARCH_KEYS];       /* keys 0x8000-0x8007 */
	struct fw_cfg_blob files[FW_CFG_MAX_FILES];      /* keys 0x20 on */
	char file_names[FW_CFG_MAX_FILES][56];
	unsigned nfiles;

	/* DMA into guest RAM; guest_written (may be NULL) hears of every
	 * range written, before the guest can see it, to drop translations. */
	const struct guest_ram *ram;
	void (*guest_written)(void *opaque, uint64_t gpa, uint64_t len);
	void *opaque;

	/* Guest-visible state (saved in snapshots). */
	uint16_t selector;
	uint32_t offset;
	uint32_t dma_high;

	struct fw_cfg_stats stats;
};

/* An empty device with the signature and the feature bits (traditional
 * interface and DMA) in place, and an empty file directory. */
void fw_cfg_init(struct fw_cfg *fw, const struct guest_ram *ram,
		 void (*guest_written)(void *opaque, uint64_t gpa, uint64_t len), void *opaque);
/* Sets the item of a legacy (below 0x20) or arch-local (0x8000 on) key to
 * a copy of len bytes. Returns 0, -EINVAL for a key of neither kind (or
 * the signature's and the ID's, the device's own), -ENOMEM. */
int fw_cfg_set_item(struct fw_cfg *fw, uint16_t key, const void *data, size_t len);
/* The same for numbers, little-endian as QEMU stores them. */
int fw_cfg_set_u16(struct fw_cfg *fw, uint16_t key, uint16_t value);
int fw_cfg_set_u32(struct fw_cfg *fw, uint16_t key, uint32_t value);
int fw_cfg_set_u64(struct fw_cfg *fw, uint16_t key, uint64_t value);
/* Adds a named file (a copy of len bytes) and lists it in the directory,
 * which stays sorted by name as QEMU keeps it; *key (may be NULL) gets its
 * key. Returns 0, -EINVAL for an empty name or one of 56 bytes or more,
 * -EEXIST for a name already there, -ENOSPC when FW_CFG_MAX_FILES are,
 * -EFBIG for more than 4 GiB, -ENOMEM. */
int fw_cfg_add_file(struct fw_cfg *fw, const char *name, const void *data, size_t len,
		    uint16_t *key);
int fw_cfg_attach(struct fw_cfg *fw, struct bus *bus);
/* Back to the state after power-on: nothing selected, no DMA address. */
void fw_cfg_reset(struct fw_cfg *fw);
void fw_cfg_destroy(struct fw_cfg *fw);

struct snap_writer;
struct snap_reader;
/* Snapshots (host/snapfile.h): section "FWCF" holds the guest-visible
 * registers only; the items are the board's, built again on restore. */
void fw_cfg_save(const struct fw_cfg *fw, struct snap_writer *w);
int fw_cfg_load(struct fw_cfg *fw, struct snap_reader *r);

#endif
