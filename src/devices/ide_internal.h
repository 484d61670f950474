/* What the IDE controller (ide.c), the ATA disk (ata.c) and the ATAPI
 * drive (atapi.c) call of each other; not for the board. The controller
 * owns the bus side: registers, the interrupt, PIO blocks through the
 * data port and the bus master's PRD walk. The drives own their command
 * sets and decide what each data phase carries. */
#ifndef BTVM_DEVICES_IDE_INTERNAL_H
#define BTVM_DEVICES_IDE_INTERNAL_H

#include "devices/ide.h"

/* ---- ide.c, for the drives ---------------------------------------------- */

/* No data phase any more (the buffer's bytes forgotten). */
void ide_end_phase(struct ide_drive *d);
/* The drive's INTRQ goes up; the channel's line follows. */
void ide_raise(struct ide_drive *d);
/* Ends the command: no data phase, the status given, an interrupt. */
void ide_finish(struct ide_drive *d, uint8_t status);
/* Ends the command with ERR and error in the error register, and an
 * interrupt. Counted. */
void ide_fail(struct ide_drive *d, uint8_t error);
/* A PIO block: the len bytes of d->buf from start (filled for the host
 * to read, or to be filled by it), DRQ, and an interrupt when irq. */
void ide_pio_start(struct ide_drive *d, enum ide_phase phase, enum ide_xfer xfer, uint32_t start,
		   uint32_t len, bool irq);
/* The drive wants the bus master for xfer (its buffer state is the
 * drive's to set up first); the transfer runs now if the guest has
 * started it, else when it does. */
void ide_dma_start(struct ide_drive *d, enum ide_xfer xfer);
/* During a drive's DMA run: moves len bytes between buf and the guest
 * RAM the PRD table names next, to the guest when to_guest. False when
 * the table fails; the drive then ends with ide_dma_fail. */
bool ide_dma_move(struct ide_drive *d, uint8_t *buf, uint32_t len, bool to_guest);
/* The transfer is over, or stopped by the drive's own error: the bus
 * master's active bit clears unless PRDs are left over. The drive ends
 * its command itself (ide_finish, ide_fail). */
void ide_dma_stop(struct ide_drive *d);
/* The PRD table failed, or mastering is not allowed: the bus master's
 * error bit, and the command ends with ABRT. Counted. */
void ide_dma_fail(struct ide_drive *d);
struct disk_io *ide_io(struct ide_drive *d);
struct ide_stats *ide_stats(struct ide_drive *d);

/* ---- ata.c ---------------------------------------------------------------- */

/* A command written to a disk that is ready for one. */
void ata_command(struct ide_drive *d, uint8_t cmd);
/* The host has read or written the whole PIO block. */
void ata_pio_done(struct ide_drive *d);
/* The bus master runs the transfer ata_command asked for. */
void ata_dma_run(struct ide_drive *d);
/* The commands both kinds of drive take (SET FEATURES, the power
 * commands, NOP); false for any other. */
bool ata_common_command(struct ide_drive *d, uint8_t cmd);
/* The signature a reset leaves in the task file (disk or packet device). */
void ata_set_signature(struct ide_drive *d);
/* Settings back to their power-on values (multiple mode, CHS, caches,
 * transfer mode). */
void ata_power_on(struct ide_drive *d);
/* ATA strings: space-padded, two characters a word, first one high. */
void ata_put_string(uint8_t *words, const char *s, unsigned len);
void ata_put_word(uint8_t *buf, unsigned word, uint16_t value);
/* Word 255: signature A5h and the checksum byte of the 512. */
void ata_checksum(uint8_t *buf);

/* ---- atapi.c --------------------------------------------------------------- */

void atapi_command(struct ide_drive *d, uint8_t cmd);
void atapi_pio_done(struct ide_drive *d);
void atapi_dma_run(struct ide_drive *d);
void atapi_power_on(struct ide_drive *d);
/* The monitor's media commands (ide_cdrom_change, ide_cdrom_eject). */
int atapi_change(struct ide_drive *d, const char *path, bool force, char *err, size_t errlen);
int atapi_eject(struct ide_drive *d, bool force, char *err, size_t errlen);
/* A CD image opened for the drive: read-only, a read lock, at least one
 * 2048-byte sector. NULL with one line in err and *ret the error. */
struct disk_image *atapi_open_image(const char *path, char *err, size_t errlen, int *ret);
/* Disc capacity in 2048-byte sectors; 0 without a medium. */
uint64_t atapi_capacity(const struct ide_drive *d);

/* ---- ide.c, images -------------------------------------------------------- */

/* Opens a disk image into an allocated struct: NULL with *ret and err. */
struct disk_image *ide_image_open(const char *path, bool readonly, bool snapshot,
				  bool defer_lock, char *err, size_t errlen, int *ret);
void ide_image_close(struct disk_image *img);
#endif
