/* Booting from a disk image as a PC's boot loader would: finds the ext2/3/4
 * root filesystem (the whole disk, or the first Linux partition of an MBR
 * or a GPT), reads the kernel and the initramfs out of it with libext2fs,
 * and says what root= the kernel needs to find that filesystem again. */
#ifndef BTVM_BOOT_DISK_BOOT_H
#define BTVM_BOOT_DISK_BOOT_H

#include <stddef.h>
#include <stdint.h>

/* Larger files are refused: no i386 bzImage comes near the first, and the
 * second is already more than a 32-bit kernel's direct map keeps free. */
#define DISK_BOOT_KERNEL_MAX (64u << 20)
#define DISK_BOOT_INITRD_MAX (512u << 20)

/* Longest path inside the filesystem, symlinks resolved, that is followed. */
#define DISK_BOOT_PATH_MAX 1024u
/* Names for messages ("image:/boot/vmlinuz-..."); longer ones are cut. */
#define DISK_BOOT_NAME_MAX 1536u

struct disk_boot {
	uint8_t *kernel;          /* malloc'd, kernel_size bytes */
	size_t kernel_size;
	uint8_t *initrd;          /* malloc'd; NULL when the filesystem has none */
	size_t initrd_size;
	unsigned partition;       /* 0: the filesystem is the whole disk; else the
				     partition's number as Linux counts it (MBR
				     slot 1-4, GPT entry index + 1) */
	uint64_t fs_offset;       /* where the filesystem starts in the image, bytes */
	uint64_t fs_size;         /* the partition's (or the image's) size, bytes */
	char kernel_path[DISK_BOOT_PATH_MAX];  /* in the filesystem, symlinks
						  resolved: "/boot/vmlinuz-6.1.0-18-686" */
	char initrd_path[DISK_BOOT_PATH_MAX];  /* "" without an initrd */
	char kernel_name[DISK_BOOT_NAME_MAX];  /* "debian.img:/boot/vmlinuz-..." for
						  messages and boot_config.kernel_path */
	char initrd_name[DISK_BOOT_NAME_MAX];  /* "" without an initrd */
	char uuid[37];            /* the superblock's UUID, "" when it is all zero */
	char label[17];           /* the volume label, non-printing bytes as '?' */
	char root[64];            /* "root=UUID=..." or "root=/dev/vda1": see disk_boot_find */
};

/* Opens the image read-only (open, read, close: the VM may use the image
 * afterwards) and looks for an ext2/3/4 filesystem: the whole disk when a
 * superblock is at byte 1024; else, behind a protective MBR (an entry of
 * type 0xEE), the first GPT entry of type Linux filesystem data (or the
 * Discoverable Partitions' x86 or x86-64 root); else the first primary
 * MBR partition of type 0x83 (extended partitions are not searched).
 * Sectors are 512 bytes; the backup GPT is not tried. In that
 * filesystem it takes /vmlinuz and /initrd.img (Debian's symlinks), else
 * the newest /boot/vmlinuz-VERSION with /boot/initrd.img-VERSION, newest
 * meaning the highest VERSION in strverscmp order (much as sort -V, which
 * grub-mkconfig orders kernels by; not the newest file): 6.1.0-18-686
 * comes after 6.1.0-9-686.
 * Symlinks are followed inside the filesystem, absolute ones from its
 * root, at most 16 of them a path. The initrd may be missing.
 *
 * root is root=UUID=<the filesystem's UUID> when there is an initrd (its
 * udev finds the filesystem whatever the disk's layout and controller;
 * Debian's GRUB and fstab name it so too), else the device name
 * /dev/vda or /dev/vdaN of the first virtio disk, since the kernel alone
 * does not know filesystem UUIDs.
 *
 * Returns 0 with *out filled (free it with disk_boot_free), or a negative
 * errno with one line in err and *out empty: the open's errno for a
 * missing or unreadable image, -ENODEV for no filesystem, -EUCLEAN for a
 * corrupt partition table or filesystem (libext2fs's own message in
 * err), -EOPNOTSUPP for filesystem features libext2fs does not know,
 * -ENOENT for nothing to boot, -ELOOP for a symlink loop, -E2BIG for a
 * file over its limit. The filesystem is read as it is on the disk: a
 * journal that still needs replaying is not replayed. */
int disk_boot_find(const char *image_path, struct disk_boot *out, char *err, size_t err_len);

/* Whether the image's first sector holds a boot loader a BIOS would run:
 * the 0x55 0xAA signature and code (a byte other than zero) before the
 * partition table, where a partitioning tool alone writes zeros, as it
 * does on a filesystem made over the whole disk. Returns 1 or 0 (a short
 * image has none), or -errno when the image cannot be opened. */
int disk_boot_has_loader(const char *image_path);

/* Frees the buffers and empties *db; safe on an empty or freed one. */
void disk_boot_free(struct disk_boot *db);

/* The command line for a kernel found on a disk: "console=ttyS0", the
 * root= above, "ro" (fsck checks the root filesystem before it is
 * remounted read-write, as Debian's GRUB entry has it), then append when
 * it is not NULL or empty. append comes last so that its root=, rw or
 * console= win: the kernel and initramfs-tools take the last root= and
 * ro/rw, and the last console= becomes /dev/console while ttyS0 still gets
 * the kernel's messages. Returns 0, or -E2BIG when it does not fit out. */
int disk_boot_cmdline(const struct disk_boot *db, const char *append, char *out, size_t out_len);

#endif
