/* The kernel and initramfs from a disk image's root filesystem: the
 * partition table is parsed here (every field checked against the image's
 * size before it is used), the filesystem read with libext2fs, which
 * checks its own metadata (and its checksums, where the filesystem has
 * them). Nothing is written: the image is opened read-only. */
#define _GNU_SOURCE   /* strverscmp */
#include "boot/disk_boot.h"
#include "host/disk_view.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <zlib.h>

#include <et/com_err.h>
#include <ext2fs/ext2fs.h>

#include "boot/bootfile.h"

#define SECTOR 512u
#define EXT_MAGIC_OFFSET (1024u + 56u)
#define EXT_MAGIC 0xEF53u
#define HEAD_SIZE 2048u          /* the MBR, the GPT header and an ext superblock */

#define MBR_TABLE 446u
#define MBR_DISK_SIGNATURE 440u  /* the boot code ends here */
#define MBR_ENTRY_SIZE 16u
#define MBR_ENTRIES 4u
#define MBR_TYPE_LINUX 0x83u
#define MBR_TYPE_GPT_PROTECTIVE 0xEEu

#define GPT_HEADER_MIN 92u       /* UEFI 2.10 table 5.9: the fields it defines */
#define GPT_REVISION_MAJOR 1u
#define GPT_ENTRY_MIN 128u
#define GPT_ENTRY_MAX 4096u
/* The specification's minimum is 16 KiB (128 entries of 128 bytes); no
 * partitioning tool writes an array near this. */
#define GPT_ARRAY_MAX (1u << 20)

/* Linux's own limit is 40; 16 is more than any distribution's chain. */
#define LINK_FOLLOW_MAX 16u
#define SYMLINK_TARGET_MAX 4095u
#define PENDING_MAX 8192u
/* ext2fs_file_read takes an unsigned int length. */
#define READ_CHUNK (1u << 20)

#define VMLINUZ_PREFIX "vmlinuz-"
#define INITRD_PREFIX "initrd.img-"

/* GUIDs as stored: the first three fields little-endian. */
static const uint8_t guid_linux_fs[16] = {   /* 0FC63DAF-8483-4772-8E79-3D69D8477DE4 */
	0xAF, 0x3D, 0xC6, 0x0F, 0x83, 0x84, 0x72, 0x47,
	0x8E, 0x79, 0x3D, 0x69, 0xD8, 0x47, 0x7D, 0xE4,
};
static const uint8_t guid_root_x86[16] = {   /* 44479540-F297-41B2-9AF7-D131D5F0458A */
	0x40, 0x95, 0x47, 0x44, 0x97, 0xF2, 0xB2, 0x41,
	0x9A, 0xF7, 0xD1, 0x31, 0xD5, 0xF0, 0x45, 0x8A,
};
/* Debian's cloud images mark their root so: its 64-bit kernel is then
 * refused by the loader by name, not reported as no filesystem. */
static const uint8_t guid_root_x86_64[16] = {   /* 4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709 */
	0xE3, 0xBC, 0x68, 0x4F, 0xCD, 0xE8, 0xB1, 0x4D,
	0x96, 0xE7, 0xFB, 0xCA, 0xF9, 0x84, 0xB7, 0x09,
};

static bool linux_guid(const uint8_t *type)
{
	return memcmp(type, guid_linux_fs, 16) == 0 || memcmp(type, guid_root_x86, 16) == 0 ||
	       memcmp(type, guid_root_x86_64, 16) == 0;
}

/* Where the filesystem is in the image. */
struct fs_place {
	uint64_t offset;
	uint64_t size;
	unsigned partition;   /* 0: the whole disk */
};

/* One open filesystem and where its messages go. */
struct fs_ctx {
	ext2_filsys fs;
	const char *image;
	char where[32];       /* "partition 2", "the whole disk" */
	uint64_t fs_bytes;    /* blocks count times block size */
	char *err;
	size_t err_len;
};

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)boot_get32(p) | (uint64_t)boot_get32(p + 4) << 32;
}

/* Through the disk's view (host/disk_view.h): the raw image, or its
 * snapshots' chain, as the guest sees the disk. */
static int read_at(struct disk_view *v, uint8_t *buf, size_t len, uint64_t off)
{
	return disk_view_read(v, buf, len, off);
}

__attribute__((format(printf, 4, 5)))
static int no_fs(char *err, size_t err_len, const char *image, const char *fmt, ...)
{
	char detail[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return boot_fail(err, err_len, image, -ENODEV,
			 "no ext2/3/4 filesystem on the disk or in its first Linux partition (%s)",
			 detail);
}

/* The partition must lie inside the image; in 512-byte sectors. */
static int check_extent(const char *image, uint64_t image_size, unsigned number, uint64_t first,
			uint64_t count, char *err, size_t err_len)
{
	if (count == 0 || first == 0)
		return boot_fail(err, err_len, image, -EUCLEAN,
				 "partition %u is empty or starts at sector 0 (first %" PRIu64
				 ", %" PRIu64 " sectors)",
				 number, first, count);
	uint64_t sectors = image_size / SECTOR;
	if (first >= sectors || count > sectors - first)
		return boot_fail(err, err_len, image, -EUCLEAN,
				 "partition %u ends past the end of the image (sectors %" PRIu64
				 " to %" PRIu64 ", the image has %" PRIu64 ")",
				 number, first, first + count - 1, sectors);
	return 0;
}

static int find_mbr(const char *image, const uint8_t *head, uint64_t image_size,
		    struct fs_place *place, char *err, size_t err_len)
{
	/* A FAT or NTFS boot sector ends in 55 AA too; its bytes at 446 do
	 * not have 0 or 0x80 in every boot indicator (Linux's msdos check). */
	for (unsigned i = 0; i < MBR_ENTRIES; i++) {
		uint8_t boot = head[MBR_TABLE + i * MBR_ENTRY_SIZE];
		if (boot != 0 && boot != 0x80)
			return no_fs(err, err_len, image,
				     "sector 0 ends in 55 AA but holds no partition table");
	}
	for (unsigned i = 0; i < MBR_ENTRIES; i++) {
		const uint8_t *e = head + MBR_TABLE + i * MBR_ENTRY_SIZE;
		if (e[4] != MBR_TYPE_LINUX)
			continue;
		uint64_t first = boot_get32(e + 8), count = boot_get32(e + 12);
		int rc = check_extent(image, image_size, i + 1, first, count, err, err_len);
		if (rc)
			return rc;
		*place = (struct fs_place){ .offset = first * SECTOR, .size = count * SECTOR,
					    .partition = i + 1 };
		return 0;
	}
	return no_fs(err, err_len, image,
		     "no primary partition of type 0x83 in the MBR; extended ones are not searched");
}

static int find_gpt(struct disk_view *fd, const char *image, uint64_t image_size, const uint8_t *head,
		    struct fs_place *place, char *err, size_t err_len)
{
	uint8_t hdr[SECTOR];
	memcpy(hdr, head + SECTOR, SECTOR);
	if (memcmp(hdr, "EFI PART", 8) != 0)
		return boot_fail(err, err_len, image, -EUCLEAN,
				 "a protective MBR (type 0xEE) but no GPT header at sector 1");
	uint32_t revision = boot_get32(hdr + 8), hdr_size = boot_get32(hdr + 12);
	if (revision >> 16 != GPT_REVISION_MAJOR)
		return boot_fail(err, err_len, image, -EUCLEAN, "GPT header: unknown revision 0x%08x",
				 revision);
	if (hdr_size < GPT_HEADER_MIN || hdr_size > SECTOR)
		return boot_fail(err, err_len, image, -EUCLEAN,
				 "GPT header: size %u (expected %u to %u)", hdr_size, GPT_HEADER_MIN,
				 SECTOR);
	uint32_t stored = boot_get32(hdr + 16);
	boot_put32(hdr + 16, 0);
	uint32_t crc = (uint32_t)crc32(0, hdr, hdr_size);
	if (crc != stored)
		return boot_fail(err, err_len, image, -EUCLEAN,
				 "GPT header: bad CRC32 (0x%08x stored, 0x%08x computed); the backup "
				 "header is not tried",
				 stored, crc);
	uint64_t sectors = image_size / SECTOR;
	uint64_t my_lba = get64(hdr + 24), first_usable = get64(hdr + 40);
	uint64_t last_usable = get64(hdr + 48), array_lba = get64(hdr + 72);
	uint32_t count = boot_get32(hdr + 80), entry_size = boot_get32(hdr + 84);
	uint32_t array_crc = boot_get32(hdr + 88);
	if (my_lba != 1)
		return boot_fail(err, err_len, image, -EUCLEAN,
				 "GPT header: it says it is at sector %" PRIu64 ", not 1", my_lba);
	if (first_usable > last_usable || last_usable >= sectors)
		return boot_fail(err, err_len, image, -EUCLEAN,
				 "GPT header: usable sectors %" PRIu64 " to %" PRIu64
				 " are not inside the image (%" PRIu64 " sectors)",
				 first_usable, last_usable, sectors);
	if (entry_size < GPT_ENTRY_MIN || entry_size > GPT_ENTRY_MAX ||
	    entry_size % GPT_ENTRY_MIN != 0)
		return boot_fail(err, err_len, image, -EUCLEAN,
				 "GPT header: partition entries of %u bytes", entry_size);
	if (count == 0 || count > GPT_ARRAY_MAX / entry_size)
		return boot_fail(err, err_len, image, -EUCLEAN,
				 "GPT header: %u partition entries of %u bytes", count, entry_size);
	size_t array_size = (size_t)count * entry_size;
	uint64_t array_sectors = (array_size + SECTOR - 1) / SECTOR;
	if (array_lba < 2 || array_lba >= sectors || array_sectors > sectors - array_lba)
		return boot_fail(err, err_len, image, -EUCLEAN,
				 "GPT header: the partition entries (%zu bytes at sector %" PRIu64
				 ") are not inside the image",
				 array_size, array_lba);
	uint8_t *array = malloc(array_size);
	if (!array)
		return boot_fail(err, err_len, image, -ENOMEM, "out of memory reading the GPT");
	int rc = read_at(fd, array, array_size, array_lba * SECTOR);
	if (rc) {
		boot_fail(err, err_len, image, rc, "read error in the GPT: %s", strerror(-rc));
		goto out;
	}
	crc = (uint32_t)crc32(0, array, (uInt)array_size);
	if (crc != array_crc) {
		rc = boot_fail(err, err_len, image, -EUCLEAN,
			       "GPT partition entries: bad CRC32 (0x%08x stored, 0x%08x computed)",
			       array_crc, crc);
		goto out;
	}
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *e = array + (size_t)i * entry_size;
		if (!linux_guid(e))
			continue;
		uint64_t first = get64(e + 32), last = get64(e + 40);
		if (first < first_usable || last < first || last > last_usable) {
			rc = boot_fail(err, err_len, image, -EUCLEAN,
				       "GPT partition %" PRIu32 ": sectors %" PRIu64 " to %" PRIu64
				       " are outside the usable %" PRIu64 " to %" PRIu64,
				       i + 1, first, last, first_usable, last_usable);
			goto out;
		}
		rc = check_extent(image, image_size, i + 1, first, last - first + 1, err, err_len);
		if (rc == 0)
			*place = (struct fs_place){ .offset = first * SECTOR,
						    .size = (last - first + 1) * SECTOR,
						    .partition = i + 1 };
		goto out;
	}
	rc = no_fs(err, err_len, image, "the GPT has no Linux filesystem partition");
out:
	free(array);
	return rc;
}

int disk_boot_has_loader(const char *image_path)
{
	struct disk_view v;
	char err[256];
	int ret = disk_view_open(&v, image_path, err, sizeof(err));
	if (ret)
		return ret;
	uint8_t sector[512] = { 0 };
	bool signed_sector = !read_at(&v, sector, sizeof(sector), 0) && sector[510] == 0x55 &&
			     sector[511] == 0xaa;
	disk_view_close(&v);
	bool code = false;
	for (unsigned i = 0; i < MBR_DISK_SIGNATURE && !code; i++)
		code = sector[i] != 0;
	return signed_sector && code;
}

/* Finds the filesystem's place. */
static int locate(struct disk_view *fd, const char *image, struct fs_place *place, char *err,
		  size_t err_len)
{
	int rc = 0;
	uint64_t size = fd->size;
	if (size < HEAD_SIZE) {
		rc = no_fs(err, err_len, image, "the image is only %" PRIu64 " bytes", size);
		goto out;
	}
	uint8_t head[HEAD_SIZE];
	rc = read_at(fd, head, sizeof(head), 0);
	if (rc) {
		boot_fail(err, err_len, image, rc, "cannot read the disk image: %s", strerror(-rc));
		goto out;
	}
	if (boot_get16(head + EXT_MAGIC_OFFSET) == EXT_MAGIC) {
		*place = (struct fs_place){ .offset = 0, .size = size, .partition = 0 };
		goto out;
	}
	if (head[510] != 0x55 || head[511] != 0xAA) {
		rc = no_fs(err, err_len, image, "no superblock at byte 1024 and no partition table");
		goto out;
	}
	bool gpt = false;
	for (unsigned i = 0; i < MBR_ENTRIES; i++)
		gpt |= head[MBR_TABLE + i * MBR_ENTRY_SIZE + 4] == MBR_TYPE_GPT_PROTECTIVE;
	rc = gpt ? find_gpt(fd, image, size, head, place, err, err_len)
		 : find_mbr(image, head, size, place, err, err_len);
	if (rc)
		goto out;
	uint8_t magic[2];
	if (place->size < HEAD_SIZE) {
		rc = no_fs(err, err_len, image, "partition %u is only %" PRIu64 " bytes",
			   place->partition, place->size);
		goto out;
	}
	rc = read_at(fd, magic, sizeof(magic), place->offset + EXT_MAGIC_OFFSET);
	if (rc) {
		boot_fail(err, err_len, image, rc, "cannot read the disk image: %s", strerror(-rc));
		goto out;
	}
	if (boot_get16(magic) != EXT_MAGIC)
		rc = no_fs(err, err_len, image, "partition %u has no superblock", place->partition);
out:
	return rc;
}

/* libext2fs passes the system's errno values through as they are and has
 * its own codes (com_err's, far above them) for everything else. */
static int errcode_errno(errcode_t ec)
{
	if (ec > 0 && ec < 4096)
		return -(int)ec;
	if (ec == EXT2_ET_NO_MEMORY)
		return -ENOMEM;
	if (ec == EXT2_ET_SYMLINK_LOOP)
		return -ELOOP;
	if (ec == EXT2_ET_UNSUPP_FEATURE || ec == EXT2_ET_RO_UNSUPP_FEATURE)
		return -EOPNOTSUPP;   /* newer than this libext2fs, not corrupt */
	return -EUCLEAN;
}

__attribute__((format(printf, 3, 4)))
static int fs_fail(const struct fs_ctx *c, int code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return boot_fail(c->err, c->err_len, c->image, code, "%s: %s", c->where, msg);
}

static int fs_error(const struct fs_ctx *c, errcode_t ec, const char *path, const char *doing)
{
	return fs_fail(c, errcode_errno(ec), "%s: %s: %s", path, doing, error_message(ec));
}

static int read_inode(const struct fs_ctx *c, ext2_ino_t ino, struct ext2_inode *inode,
		      const char *path)
{
	errcode_t ec = ext2fs_read_inode(c->fs, ino, inode);
	return ec ? fs_error(c, ec, path, "cannot read an inode") : 0;
}

/* Reads exactly size bytes of the inode's data. */
static int read_data(const struct fs_ctx *c, ext2_ino_t ino, struct ext2_inode *inode,
		     uint8_t *buf, uint64_t size, const char *path)
{
	ext2_file_t file;
	errcode_t ec = ext2fs_file_open2(c->fs, ino, inode, 0, &file);
	if (ec)
		return fs_error(c, ec, path, "cannot open");
	int rc = 0;
	uint64_t done = 0;
	while (done < size) {
		unsigned int want = size - done > READ_CHUNK ? READ_CHUNK : (unsigned int)(size - done);
		unsigned int got = 0;
		ec = ext2fs_file_read(file, buf + done, want, &got);
		if (ec) {
			rc = fs_error(c, ec, path, "read error");
			break;
		}
		if (got == 0 || got > want) {
			rc = fs_fail(c, -EUCLEAN, "%s: the data ends at byte %" PRIu64 " of %" PRIu64,
				     path, done, size);
			break;
		}
		done += got;
	}
	ext2fs_file_close(file);
	return rc;
}

static int read_link(const struct fs_ctx *c, ext2_ino_t ino, struct ext2_inode *inode,
		     char *target, const char *path)
{
	uint64_t size = EXT2_I_SIZE(inode);
	if (size == 0 || size > SYMLINK_TARGET_MAX)
		return fs_fail(c, -EUCLEAN, "%s: a symbolic link of %" PRIu64 " bytes", path, size);
	if (ext2fs_is_fast_symlink(inode)) {
		/* The target is in the inode itself, where block numbers go. */
		if (size >= sizeof(inode->i_block))
			return fs_fail(c, -EUCLEAN, "%s: a fast symbolic link of %" PRIu64 " bytes",
				       path, size);
		memcpy(target, inode->i_block, (size_t)size);
	} else {
		int rc = read_data(c, ino, inode, (uint8_t *)target, size, path);
		if (rc)
			return rc;
	}
	target[size] = 0;
	if (strlen(target) != size)
		return fs_fail(c, -EUCLEAN, "%s: a symbolic link with a NUL byte in it", path);
	return 0;
}

/* Walks path from the filesystem's root as the kernel would, following
 * every symlink (an absolute one from the root; ".." at the root stays
 * there, so nothing leads out of the filesystem). resolved gets the path
 * without symlinks. Returns 0, -ENOENT (the message says what is missing)
 * or another negative errno. */
static int resolve(const struct fs_ctx *c, const char *path, ext2_ino_t *ino_out,
		   struct ext2_inode *inode, char *resolved, size_t resolved_len)
{
	char pending[PENDING_MAX];
	char target[SYMLINK_TARGET_MAX + 1];
	size_t len = strlen(path);
	if (len >= sizeof(pending) || resolved_len < 2)
		return fs_fail(c, -ENAMETOOLONG, "%s: path too long", path);
	memcpy(pending, path, len + 1);
	size_t pos = 0, rlen = 0;
	unsigned follows = 0;
	ext2_ino_t cur = EXT2_ROOT_INO;
	resolved[0] = 0;
	int rc = read_inode(c, cur, inode, "/");
	while (rc == 0) {
		while (pending[pos] == '/')
			pos++;
		if (!pending[pos])
			break;
		const char *name = pending + pos;
		size_t nlen = strcspn(name, "/");
		pos += nlen;
		if (!LINUX_S_ISDIR(inode->i_mode))
			return fs_fail(c, -ENOTDIR, "%s: %s is not a directory", path,
				       rlen ? resolved : "/");
		if (nlen == 1 && name[0] == '.')
			continue;
		if (nlen > EXT2_NAME_LEN)
			return fs_fail(c, -ENAMETOOLONG, "%s: a name longer than %u bytes", path,
				       EXT2_NAME_LEN);
		ext2_ino_t child;
		errcode_t ec = ext2fs_lookup(c->fs, cur, name, (int)nlen, NULL, &child);
		if (ec == EXT2_ET_FILE_NOT_FOUND)
			return fs_fail(c, -ENOENT, "%s: %s/%.*s does not exist", path, resolved,
				       (int)nlen, name);
		if (ec)
			return fs_error(c, ec, path, "cannot look it up");
		if (nlen == 2 && name[0] == '.' && name[1] == '.') {
			char *slash = strrchr(resolved, '/');
			rlen = slash ? (size_t)(slash - resolved) : 0;
			resolved[rlen] = 0;
			cur = child;
			rc = read_inode(c, cur, inode, path);
			continue;
		}
		struct ext2_inode child_inode;
		rc = read_inode(c, child, &child_inode, path);
		if (rc)
			break;
		if (LINUX_S_ISLNK(child_inode.i_mode)) {
			if (++follows > LINK_FOLLOW_MAX)
				return fs_fail(c, -ELOOP, "%s: too many levels of symbolic links", path);
			rc = read_link(c, child, &child_inode, target, path);
			if (rc)
				break;
			/* What is left of the path goes on from the link's target. */
			size_t tlen = strlen(target), rest = strlen(pending + pos);
			if (tlen + rest >= sizeof(pending))
				return fs_fail(c, -ENAMETOOLONG, "%s: path too long through its links",
					       path);
			memmove(pending + tlen, pending + pos, rest + 1);
			memcpy(pending, target, tlen);
			pos = 0;
			if (target[0] == '/') {
				cur = EXT2_ROOT_INO;
				rlen = 0;
				resolved[0] = 0;
				rc = read_inode(c, cur, inode, path);
			}
			continue;
		}
		if (rlen + 1 + nlen >= resolved_len)
			return fs_fail(c, -ENAMETOOLONG, "%s: path too long", path);
		resolved[rlen++] = '/';
		memcpy(resolved + rlen, name, nlen);
		rlen += nlen;
		resolved[rlen] = 0;
		cur = child;
		*inode = child_inode;
	}
	if (rc)
		return rc;
	if (rlen == 0)
		snprintf(resolved, resolved_len, "/");
	*ino_out = cur;
	return 0;
}

/* Resolves path and reads the regular file it names into a malloc'd
 * buffer of at most max bytes. */
static int load_file(const struct fs_ctx *c, const char *path, const char *what, uint64_t max,
		     uint8_t **data, size_t *size, char *resolved, size_t resolved_len)
{
	ext2_ino_t ino;
	struct ext2_inode inode;
	int rc = resolve(c, path, &ino, &inode, resolved, resolved_len);
	if (rc)
		return rc;
	if (!LINUX_S_ISREG(inode.i_mode))
		return fs_fail(c, -EINVAL, "%s: the %s (%s) is not a regular file", path, what,
			       resolved);
	uint64_t len = EXT2_I_SIZE(&inode);
	if (len == 0)
		return fs_fail(c, -ENOEXEC, "%s: the %s (%s) is an empty file", path, what, resolved);
	if (len > max)
		return fs_fail(c, -E2BIG,
			       "%s: the %s (%s) is too large (%" PRIu64 " bytes, at most %" PRIu64 ")",
			       path, what, resolved, len, max);
	/* Sparse files may be larger than their filesystem; a kernel or an
	 * initramfs never is, and a corrupt inode must not cost 512 MiB. */
	if (len > c->fs_bytes)
		return fs_fail(c, -EUCLEAN,
			       "%s: the %s (%s) says it has %" PRIu64
			       " bytes, more than its filesystem",
			       path, what, resolved, len);
	uint8_t *buf = malloc((size_t)len);
	if (!buf)
		return fs_fail(c, -ENOMEM, "%s: out of memory reading the %s", path, what);
	rc = read_data(c, ino, &inode, buf, len, resolved);
	if (rc) {
		free(buf);
		return rc;
	}
	*data = buf;
	*size = (size_t)len;
	return 0;
}

struct boot_scan {
	char best[EXT2_NAME_LEN + 1];   /* the version after "vmlinuz-" */
	bool found;
};

static int scan_entry(ext2_ino_t dir, int entry, struct ext2_dir_entry *dirent, int offset,
		      int blocksize, char *buf, void *priv)
{
	(void)dir, (void)entry, (void)offset, (void)blocksize, (void)buf;
	struct boot_scan *scan = priv;
	size_t len = (size_t)ext2fs_dirent_name_len(dirent);
	size_t prefix = strlen(VMLINUZ_PREFIX);
	if (dirent->inode == 0 || ext2fs_dirent_file_type(dirent) == EXT2_FT_DIR ||
	    len <= prefix || memcmp(dirent->name, VMLINUZ_PREFIX, prefix) != 0)
		return 0;
	char version[EXT2_NAME_LEN + 1];
	memcpy(version, dirent->name + prefix, len - prefix);
	version[len - prefix] = 0;
	/* A corrupt entry's name may hold bytes no path can. */
	if (strlen(version) != len - prefix || strchr(version, '/'))
		return 0;
	if (!scan->found || strverscmp(version, scan->best) > 0) {
		memcpy(scan->best, version, len - prefix + 1);
		scan->found = true;
	}
	return 0;
}

/* The highest version among /boot/vmlinuz-*; -ENOENT when there is none
 * (or no /boot directory). */
static int newest_in_boot(const struct fs_ctx *c, char *version, size_t version_len)
{
	ext2_ino_t dir;
	struct ext2_inode inode;
	char resolved[DISK_BOOT_PATH_MAX];
	int rc = resolve(c, "/boot", &dir, &inode, resolved, sizeof(resolved));
	if (rc == -ENOENT || (rc == 0 && !LINUX_S_ISDIR(inode.i_mode)))
		return -ENOENT;
	if (rc)
		return rc;
	struct boot_scan scan = { .found = false };
	/* libext2fs calls a block-mapped directory corrupt when asked for
	 * inline data, so the flag only goes with the inode's. */
	int flags = inode.i_flags & EXT4_INLINE_DATA_FL ? DIRENT_FLAG_INCLUDE_INLINE_DATA : 0;
	errcode_t ec = ext2fs_dir_iterate2(c->fs, dir, flags, NULL, scan_entry, &scan);
	if (ec)
		return fs_error(c, ec, "/boot", "cannot read the directory");
	if (!scan.found)
		return -ENOENT;
	snprintf(version, version_len, "%s", scan.best);
	return 0;
}

static int nothing_to_boot(const struct fs_ctx *c)
{
	return boot_fail(c->err, c->err_len, c->image, -ENOENT,
			 "nothing to boot: no /vmlinuz or /boot/vmlinuz-* in the filesystem on %s",
			 c->where);
}

/* The initrd beside a kernel named .../vmlinuz-VERSION, if there is one. */
static int matching_initrd(const struct fs_ctx *c, struct disk_boot *out)
{
	const char *slash = strrchr(out->kernel_path, '/');
	const char *base = slash ? slash + 1 : out->kernel_path;
	size_t prefix = strlen(VMLINUZ_PREFIX);
	if (strncmp(base, VMLINUZ_PREFIX, prefix) != 0 || !base[prefix])
		return -ENOENT;
	char path[DISK_BOOT_PATH_MAX + sizeof(INITRD_PREFIX)];
	snprintf(path, sizeof(path), "%.*s/" INITRD_PREFIX "%s", (int)(base - 1 - out->kernel_path),
		 out->kernel_path, base + prefix);
	return load_file(c, path, "initrd", DISK_BOOT_INITRD_MAX, &out->initrd, &out->initrd_size,
			 out->initrd_path, sizeof(out->initrd_path));
}

static int find_files(const struct fs_ctx *c, struct disk_boot *out)
{
	int rc = load_file(c, "/vmlinuz", "kernel", DISK_BOOT_KERNEL_MAX, &out->kernel,
			   &out->kernel_size, out->kernel_path, sizeof(out->kernel_path));
	if (rc == 0) {
		rc = load_file(c, "/initrd.img", "initrd", DISK_BOOT_INITRD_MAX, &out->initrd,
			       &out->initrd_size, out->initrd_path, sizeof(out->initrd_path));
		if (rc == -ENOENT)
			rc = matching_initrd(c, out);
	} else if (rc == -ENOENT) {
		/* No /vmlinuz, or one pointing at a removed kernel: GRUB's way. */
		char version[EXT2_NAME_LEN + 1];
		rc = newest_in_boot(c, version, sizeof(version));
		if (rc == -ENOENT)
			return nothing_to_boot(c);
		if (rc)
			return rc;
		char path[DISK_BOOT_PATH_MAX];
		snprintf(path, sizeof(path), "/boot/" VMLINUZ_PREFIX "%s", version);
		rc = load_file(c, path, "kernel", DISK_BOOT_KERNEL_MAX, &out->kernel,
			       &out->kernel_size, out->kernel_path, sizeof(out->kernel_path));
		if (rc)
			return rc;
		snprintf(path, sizeof(path), "/boot/" INITRD_PREFIX "%s", version);
		rc = load_file(c, path, "initrd", DISK_BOOT_INITRD_MAX, &out->initrd,
			       &out->initrd_size, out->initrd_path, sizeof(out->initrd_path));
	} else {
		return rc;
	}
	if (rc == -ENOENT) {
		out->initrd_path[0] = 0;
		rc = 0;
	}
	return rc;
}

static void describe_fs(const struct fs_ctx *c, struct disk_boot *out)
{
	const struct ext2_super_block *sb = c->fs->super;
	static const uint8_t zero[16];
	if (memcmp(sb->s_uuid, zero, sizeof(zero)) != 0) {
		const uint8_t *u = sb->s_uuid;
		snprintf(out->uuid, sizeof(out->uuid),
			 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
			 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
			 u[12], u[13], u[14], u[15]);
	}
	size_t n = 0;
	for (; n < sizeof(sb->s_volume_name) && n + 1 < sizeof(out->label) && sb->s_volume_name[n];
	     n++) {
		uint8_t ch = sb->s_volume_name[n];
		out->label[n] = ch < 0x20 || ch >= 0x7f ? '?' : (char)ch;
	}
	out->label[n] = 0;
	if (out->initrd && out->uuid[0])
		snprintf(out->root, sizeof(out->root), "root=UUID=%s", out->uuid);
	else if (out->partition)
		snprintf(out->root, sizeof(out->root), "root=/dev/vda%u", out->partition);
	else
		snprintf(out->root, sizeof(out->root), "root=/dev/vda");
}

/* libext2fs reading a disk's view: an io_manager of its own. libext2fs
 * hands the manager nothing but a name, so the name carries the view's
 * address ("btvm-view:%p", made and parsed here only, for the length of
 * one read_fs); the raw image alone goes by its path through
 * unix_io_manager as before. Read-only: every write is refused. */
struct view_channel {
	struct disk_view *v;
	uint64_t offset;	/* the filesystem's, ext2fs_open2's "offset=" */
};

static struct struct_io_manager view_io_manager;

static errcode_t view_open(const char *name, int flags, io_channel *channel)
{
	void *p = NULL;
	if (flags & IO_FLAG_RW)
		return EROFS;
	if (!name || sscanf(name, "btvm-view:%p", &p) != 1 || !p)
		return EXT2_ET_BAD_DEVICE_NAME;
	io_channel io = calloc(1, sizeof(*io));
	struct view_channel *vc = calloc(1, sizeof(*vc));
	char *copy = strdup(name);
	if (!io || !vc || !copy) {
		free(io);
		free(vc);
		free(copy);
		return EXT2_ET_NO_MEMORY;
	}
	vc->v = p;
	io->magic = EXT2_ET_MAGIC_IO_CHANNEL;
	io->manager = &view_io_manager;
	io->name = copy;
	io->block_size = 1024;
	io->refcount = 1;
	io->private_data = vc;
	*channel = io;
	return 0;
}

static errcode_t view_close(io_channel io)
{
	if (--io->refcount > 0)
		return 0;
	free(io->private_data);
	free(io->name);
	free(io);
	return 0;
}

static errcode_t view_set_blksize(io_channel io, int blksize)
{
	io->block_size = blksize;
	return 0;
}

static errcode_t view_read_blk64(io_channel io, unsigned long long block, int count, void *data)
{
	struct view_channel *vc = io->private_data;
	/* A negative count is a byte count (libext2fs's convention). */
	uint64_t len = count < 0 ? (uint64_t)-(int64_t)count
				 : (uint64_t)count * (uint64_t)io->block_size;
	uint64_t off = vc->offset + block * (uint64_t)io->block_size;
	int rc = disk_view_read(vc->v, data, (size_t)len, off);
	return rc == -EIO ? EXT2_ET_SHORT_READ : (errcode_t)-rc;
}

static errcode_t view_read_blk(io_channel io, unsigned long block, int count, void *data)
{
	return view_read_blk64(io, block, count, data);
}

static errcode_t view_write_blk(io_channel io, unsigned long block, int count, const void *data)
{
	(void)io, (void)block, (void)count, (void)data;
	return EROFS;
}

static errcode_t view_write_blk64(io_channel io, unsigned long long block, int count,
				  const void *data)
{
	(void)io, (void)block, (void)count, (void)data;
	return EROFS;
}

static errcode_t view_flush(io_channel io)
{
	(void)io;
	return 0;
}

static errcode_t view_set_option(io_channel io, const char *option, const char *arg)
{
	struct view_channel *vc = io->private_data;
	char *end;
	if (strcmp(option, "offset") || !arg)
		return EXT2_ET_INVALID_ARGUMENT;
	errno = 0;
	unsigned long long off = strtoull(arg, &end, 0);
	if (errno || *end)
		return EXT2_ET_INVALID_ARGUMENT;
	vc->offset = off;
	return 0;
}

static struct struct_io_manager view_io_manager = {
	.magic = EXT2_ET_MAGIC_IO_MANAGER,
	.name = "btvm disk view",
	.open = view_open,
	.close = view_close,
	.set_blksize = view_set_blksize,
	.read_blk = view_read_blk,
	.write_blk = view_write_blk,
	.flush = view_flush,
	.set_option = view_set_option,
	.read_blk64 = view_read_blk64,
	.write_blk64 = view_write_blk64,
};

static int read_fs(struct disk_view *v, const char *image, const struct fs_place *place,
		   struct disk_boot *out, char *err, size_t err_len)
{
	struct fs_ctx c = { .image = image, .err = err, .err_len = err_len };
	if (place->partition)
		snprintf(c.where, sizeof(c.where), "partition %u", place->partition);
	else
		snprintf(c.where, sizeof(c.where), "the whole disk");
	/* com_err only knows libext2fs's messages once their table is added
	 * (adding it again is a no-op). */
	initialize_ext2_error_table();
	char options[48];
	snprintf(options, sizeof(options), "offset=%" PRIu64, place->offset);
	/* Read-only (no EXT2_FLAG_RW); 64-bit block numbers as ext4 has them. */
	char view_name[48];
	snprintf(view_name, sizeof(view_name), "btvm-view:%p", (void *)v);
	errcode_t ec = v->chain ? ext2fs_open2(view_name, options, EXT2_FLAG_64BITS, 0, 0,
					       &view_io_manager, &c.fs)
				: ext2fs_open2(image, options, EXT2_FLAG_64BITS, 0, 0,
					       unix_io_manager, &c.fs);
	if (ec) {
		c.fs = NULL;
		return fs_fail(&c, errcode_errno(ec), "cannot open the ext2/3/4 filesystem: %s",
			       error_message(ec));
	}
	int rc = 0;
	uint64_t blocks = ext2fs_blocks_count(c.fs->super);
	if (blocks > place->size / c.fs->blocksize) {
		rc = fs_fail(&c, -EUCLEAN,
			     "the filesystem (%" PRIu64 " blocks of %u bytes) is larger than %s (%" PRIu64
			     " bytes)",
			     blocks, c.fs->blocksize, place->partition ? "its partition" : "the image",
			     place->size);
		goto out;
	}
	c.fs_bytes = blocks * c.fs->blocksize;
	rc = find_files(&c, out);
	if (rc == 0) {
		snprintf(out->kernel_name, sizeof(out->kernel_name), "%s:%s", image, out->kernel_path);
		if (out->initrd)
			snprintf(out->initrd_name, sizeof(out->initrd_name), "%s:%s", image,
				 out->initrd_path);
		describe_fs(&c, out);
	}
out:
	ext2fs_close_free(&c.fs);
	return rc;
}

int disk_boot_find(const char *image_path, struct disk_boot *out, char *err, size_t err_len)
{
	if (err && err_len)
		err[0] = 0;
	if (!out)
		return boot_fail(err, err_len, image_path ? image_path : "(no disk)", -EINVAL,
				 "nowhere to put what the disk holds");
	memset(out, 0, sizeof(*out));
	if (!image_path || !*image_path)
		return boot_fail(err, err_len, "(no disk)", -EINVAL, "no disk image given");
	struct fs_place place = { 0 };
	struct disk_view v;
	char why[512];
	int rc = disk_view_open(&v, image_path, why, sizeof(why));
	if (rc) {
		if (err && err_len)
			snprintf(err, err_len, "%s", why);
		return rc;
	}
	rc = locate(&v, image_path, &place, err, err_len);
	if (rc) {
		disk_view_close(&v);
		return rc;
	}
	out->partition = place.partition;
	out->fs_offset = place.offset;
	out->fs_size = place.size;
	rc = read_fs(&v, image_path, &place, out, err, err_len);
	disk_view_close(&v);
	if (rc)
		disk_boot_free(out);
	else if (err && err_len)
		err[0] = 0;   /* what a fallback left there was not the outcome */
	return rc;
}

void disk_boot_free(struct disk_boot *db)
{
	if (!db)
		return;
	free(db->kernel);
	free(db->initrd);
	memset(db, 0, sizeof(*db));
}

int disk_boot_cmdline(const struct disk_boot *db, const char *append, char *out, size_t out_len)
{
	if (!db || !out || out_len == 0)
		return -EINVAL;
	bool more = append && *append;
	int n = snprintf(out, out_len, "console=ttyS0 %s ro%s%s", db->root, more ? " " : "",
			 more ? append : "");
	if (n < 0 || (size_t)n >= out_len) {
		out[0] = 0;
		return -E2BIG;
	}
	return 0;
}
