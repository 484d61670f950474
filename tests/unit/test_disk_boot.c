/* Booting from a disk image: images made here with e2fsprogs' mke2fs -d
 * (a directory tree with symlinks becomes an ext4 filesystem) and
 * util-linux's sfdisk (MBR and GPT layouts), holding fake kernels and
 * initrds (any bytes do: nothing here runs them). The whole disk, MBR and
 * GPT; /vmlinuz symlinks relative, absolute and through directories; the
 * newest /boot/vmlinuz-*; then every refusal (no file, no filesystem,
 * nothing to boot, loops, truncated and corrupt tables) and random damage
 * to an image's first 64 KiB, which must fail cleanly or boot. */
#define _GNU_SOURCE   /* mkdtemp, setenv */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "boot/disk_boot.h"
#include "check.h"

#define MIB (1024u * 1024u)
#define UUID "0d1e2f30-4152-4637-8899-aabbccddeeff"
#define LABEL "btvmroot"
#define FUZZ_ROUNDS 200u
#define FUZZ_SPAN (64u * 1024u)
/* sfdisk scripts: a GPT's Linux filesystem data, EFI system partition
 * and x86-64 root types; an MBR with a FAT partition, then a Linux one
 * at 2 MiB (the shell's printf turns each \n into a line). */
#define T_LINUX "type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\\n"
#define T_ESP "type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\\n"
#define T_ROOT_X86_64 "type=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709\\n"
#define MBR_FAT_LINUX \
	"label: dos\\nstart=2048, size=2048, type=c\\nstart=4096, size=12288, type=83\\n"

static char tmpdir[256];
static char tree[300];   /* the directory mke2fs -d copies */

__attribute__((format(printf, 1, 2))) static const char *tmp(const char *fmt, ...)
{
	static char paths[8][600];
	static unsigned next;
	char name[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(name, sizeof(name), fmt, ap);
	va_end(ap);
	char *p = paths[next++ % 8];
	snprintf(p, sizeof(paths[0]), "%s/%s", tmpdir, name);
	return p;
}

/* Runs a shell command; the test cannot go on without what it makes. */
__attribute__((format(printf, 1, 2))) static void run(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0) {
		fprintf(stderr, "test_disk_boot: failed: %s\n", cmd);
		exit(2);
	}
}

/* A fake file's bytes, different for every seed. */
static uint8_t *pattern(size_t size, unsigned seed)
{
	uint8_t *p = malloc(size);
	if (!p)
		exit(2);
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < size; i++) {
		x = x * 1103515245u + 12345u;
		p[i] = (uint8_t)(x >> 16);
	}
	return p;
}

static void tree_reset(void)
{
	run("rm -rf '%s' && mkdir -p '%s/boot' '%s/etc'", tree, tree, tree);
	run("echo btvm > '%s/etc/hostname'", tree);
}

static void tree_file(const char *rel, size_t size, unsigned seed)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/%s", tree, rel);
	uint8_t *data = pattern(size, seed);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
		perror(path);
		exit(2);
	}
	free(data);
}

static void tree_link(const char *target, const char *rel)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/%s", tree, rel);
	if (symlink(target, path) != 0) {
		perror(path);
		exit(2);
	}
}

/* Kernel and initrd sizes of one fake version; seeds tell them apart. */
#define KSIZE(seed) (20000u + (seed) * 1000u)
#define ISIZE(seed) (9000u + (seed) * 500u)

static void tree_version(const char *version, unsigned seed, bool initrd)
{
	char rel[200];
	snprintf(rel, sizeof(rel), "boot/vmlinuz-%s", version);
	tree_file(rel, KSIZE(seed), seed);
	if (initrd) {
		snprintf(rel, sizeof(rel), "boot/initrd.img-%s", version);
		tree_file(rel, ISIZE(seed), seed + 1000);
	}
}

/* A filesystem of mib MiB in 1 KiB blocks, as small images have; ext4
 * unless options say "-t ext2" or "-t ext3". */
static void make_fs(const char *path, unsigned mib, const char *options)
{
	run("rm -f '%s' && mke2fs -q -F %s -b 1024 -U " UUID " -L " LABEL
	    " %s -d '%s' '%s' %uM >/dev/null",
	    path, strstr(options, "-t ") ? "" : "-t ext4", options, tree, path, mib);
}

static void put_file(const char *path, uint64_t offset, const char *from)
{
	FILE *in = fopen(from, "rb");
	int fd = open(path, O_WRONLY);
	if (!in || fd < 0) {
		perror(path);
		exit(2);
	}
	static uint8_t buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
		if (pwrite(fd, buf, n, (off_t)offset) != (ssize_t)n)
			exit(2);
		offset += n;
	}
	fclose(in);
	close(fd);
}

static void make_blank(const char *path, uint64_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)size) != 0) {
		perror(path);
		exit(2);
	}
	close(fd);
}

static void partition(const char *path, uint64_t size, const char *script)
{
	make_blank(path, size);
	run("printf '%s' | sfdisk -q --no-reread --no-tell-kernel '%s' >/dev/null", script, path);
}

/* A disk of disk_mib MiB partitioned by the sfdisk script, with the tree's
 * filesystem (fs_mib MiB) copied to fs_sector. */
static void make_disk(const char *path, unsigned disk_mib, const char *script, uint64_t fs_sector,
		      unsigned fs_mib)
{
	const char *fs = tmp("fs-part.img");
	make_fs(fs, fs_mib, fs_mib < 4 ? "-O ^has_journal" : "");   /* too small for one */
	partition(path, (uint64_t)disk_mib * MIB, script);
	put_file(path, fs_sector * 512, fs);
}

static void patch(const char *path, uint64_t offset, const void *bytes, size_t len)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0 || pwrite(fd, bytes, len, (off_t)offset) != (ssize_t)len) {
		perror(path);
		exit(2);
	}
	close(fd);
}

/* Inverts one byte, so that the damage is certain whatever was there
 * (a random GUID's byte may already hold any fixed value). */
static void flip(const char *path, uint64_t offset)
{
	uint8_t byte;
	int fd = open(path, O_RDWR);
	if (fd < 0 || pread(fd, &byte, 1, (off_t)offset) != 1) {
		perror(path);
		exit(2);
	}
	byte = (uint8_t)~byte;
	if (pwrite(fd, &byte, 1, (off_t)offset) != 1) {
		perror(path);
		exit(2);
	}
	close(fd);
}

static void truncate_to(const char *path, uint64_t size)
{
	if (truncate(path, (off_t)size) != 0) {
		perror(path);
		exit(2);
	}
}

static bool same(const uint8_t *data, size_t size, size_t want_size, unsigned seed)
{
	if (!data || size != want_size)
		return false;
	uint8_t *want = pattern(want_size, seed);
	bool ok = memcmp(data, want, size) == 0;
	free(want);
	return ok;
}

/* Boots the image and checks the kernel (and initrd, when iseed is not
 * 0) against the fake files of those seeds. */
static void expect_boot(const char *image, unsigned kseed, unsigned iseed, const char *kpath,
			unsigned partition, const char *root, struct disk_boot *db)
{
	char err[512] = "";
	int rc = disk_boot_find(image, db, err, sizeof(err));
	CHECK_EQ(rc, 0);
	if (rc) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	CHECK_EQ(err[0], 0);
	CHECK(same(db->kernel, db->kernel_size, KSIZE(kseed), kseed));
	CHECK(strcmp(db->kernel_path, kpath) == 0);
	if (strcmp(db->kernel_path, kpath) != 0)
		fprintf(stderr, "  kernel %s, wanted %s\n", db->kernel_path, kpath);
	if (iseed) {
		CHECK(same(db->initrd, db->initrd_size, ISIZE(iseed), iseed + 1000));
	} else {
		CHECK(db->initrd == NULL);
		CHECK_EQ(db->initrd_size, 0);
		CHECK_EQ(db->initrd_path[0], 0);
		CHECK_EQ(db->initrd_name[0], 0);
	}
	CHECK_EQ(db->partition, partition);
	CHECK(strcmp(db->root, root) == 0);
	if (strcmp(db->root, root) != 0)
		fprintf(stderr, "  root %s, wanted %s\n", db->root, root);
	CHECK(strcmp(db->uuid, UUID) == 0);
	CHECK(strcmp(db->label, LABEL) == 0);
	char name[1200];
	snprintf(name, sizeof(name), "%s:%s", image, kpath);
	CHECK(strcmp(db->kernel_name, name) == 0);
}

/* A refusal: the errno, and one line that starts with the image's name
 * and says what is wrong. */
static void expect_failure(const char *image, int want_rc, const char *words)
{
	struct disk_boot db;
	memset(&db, 0xa5, sizeof(db));
	char err[512] = "";
	int rc = disk_boot_find(image, &db, err, sizeof(err));
	CHECK_EQ(rc, want_rc);
	CHECK(strncmp(err, image, strlen(image)) == 0);
	CHECK_STR_CONTAINS(err, words);
	CHECK(strchr(err, '\n') == NULL);
	CHECK(strstr(err, "Unknown code") == NULL);   /* com_err knew the ext2 table */
	CHECK(db.kernel == NULL && db.initrd == NULL);
	if (rc != want_rc)
		fprintf(stderr, "  rc %d (wanted %d): %s\n", rc, want_rc, err);
	disk_boot_free(&db);
}

/* Debian's layout: /vmlinuz and /initrd.img relative symlinks into /boot,
 * a newer kernel beside them that the symlinks win over. */
static void test_whole_disk(void)
{
	tree_reset();
	tree_version("6.1.0-18-686", 1, true);
	tree_version("6.1.0-20-686", 2, true);
	tree_link("boot/vmlinuz-6.1.0-18-686", "vmlinuz");
	tree_link("boot/initrd.img-6.1.0-18-686", "initrd.img");
	const char *img = tmp("whole.img");
	make_fs(img, 6, "");
	struct disk_boot db;
	expect_boot(img, 1, 1, "/boot/vmlinuz-6.1.0-18-686", 0, "root=UUID=" UUID, &db);
	CHECK(strcmp(db.initrd_path, "/boot/initrd.img-6.1.0-18-686") == 0);
	CHECK_EQ(db.fs_offset, 0);
	CHECK_EQ(db.fs_size, 6 * MIB);

	char cmdline[256];
	CHECK_EQ(disk_boot_cmdline(&db, "quiet console=tty0", cmdline, sizeof(cmdline)), 0);
	CHECK(strcmp(cmdline, "console=ttyS0 root=UUID=" UUID " ro quiet console=tty0") == 0);
	CHECK_EQ(disk_boot_cmdline(&db, NULL, cmdline, sizeof(cmdline)), 0);
	CHECK(strcmp(cmdline, "console=ttyS0 root=UUID=" UUID " ro") == 0);
	CHECK_EQ(disk_boot_cmdline(&db, "", cmdline, sizeof(cmdline)), 0);
	CHECK(strcmp(cmdline, "console=ttyS0 root=UUID=" UUID " ro") == 0);
	CHECK_EQ(disk_boot_cmdline(&db, "quiet", cmdline, 20), -E2BIG);
	CHECK_EQ(cmdline[0], 0);
	disk_boot_free(&db);
	CHECK(db.kernel == NULL);
	disk_boot_free(&db);   /* twice is harmless */
	disk_boot_free(NULL);
}

/* MBR: a FAT partition first, the Linux one second, at 2 MiB; /vmlinuz an
 * absolute symlink, /initrd.img one through "." and "..". */
static void test_mbr(void)
{
	tree_reset();
	tree_version("6.1.0-18-686", 3, true);
	tree_link("/boot/vmlinuz-6.1.0-18-686", "vmlinuz");
	tree_link("/boot/../boot/./initrd.img-6.1.0-18-686", "initrd.img");
	const char *img = tmp("mbr.img");
	make_disk(img, 10, MBR_FAT_LINUX, 4096, 6);
	struct disk_boot db;
	expect_boot(img, 3, 3, "/boot/vmlinuz-6.1.0-18-686", 2, "root=UUID=" UUID, &db);
	CHECK_EQ(db.fs_offset, 2 * MIB);
	CHECK_EQ(db.fs_size, 6 * MIB);
	disk_boot_free(&db);

	/* Without an initrd the kernel alone must find its root: a device. */
	tree_reset();
	tree_version("6.1.0-18-686", 3, false);
	tree_link("boot/vmlinuz-6.1.0-18-686", "vmlinuz");
	make_disk(img, 10, MBR_FAT_LINUX, 4096, 6);
	expect_boot(img, 3, 0, "/boot/vmlinuz-6.1.0-18-686", 2, "root=/dev/vda2", &db);
	char cmdline[256];
	CHECK_EQ(disk_boot_cmdline(&db, "init=/bin/sh", cmdline, sizeof(cmdline)), 0);
	CHECK(strcmp(cmdline, "console=ttyS0 root=/dev/vda2 ro init=/bin/sh") == 0);
	disk_boot_free(&db);
}

/* GPT: the Linux filesystem partition at 1 MiB; no /vmlinuz, so the newest
 * of /boot's kernels by version: 6.1.0-18 over 6.1.0-9 (strcmp would pick
 * -9) and over 5.10; a directory named like a kernel does not count. */
static void test_gpt_newest(void)
{
	tree_reset();
	tree_version("5.10.0-28-686", 4, true);
	tree_version("6.1.0-9-686", 5, true);
	tree_version("6.1.0-18-686", 6, true);
	tree_file("boot/config-6.1.0-18-686", 100, 7);
	tree_file("boot/System.map-6.1.0-18-686", 100, 8);
	run("mkdir '%s/boot/vmlinuz-9.9.9'", tree);
	const char *img = tmp("gpt.img");
	make_disk(img, 8, "label: gpt\\nstart=2048, size=12288, " T_LINUX, 2048, 6);
	struct disk_boot db;
	expect_boot(img, 6, 6, "/boot/vmlinuz-6.1.0-18-686", 1, "root=UUID=" UUID, &db);
	CHECK_EQ(db.fs_offset, 1 * MIB);
	CHECK(strcmp(db.initrd_path, "/boot/initrd.img-6.1.0-18-686") == 0);
	disk_boot_free(&db);

	/* An EFI system partition first: the Linux one is number 2. */
	img = tmp("gpt2.img");
	make_disk(img, 10, "label: gpt\\nstart=2048, size=2048, " T_ESP "start=4096, size=12288, " T_LINUX,
		  4096, 6);
	expect_boot(img, 6, 6, "/boot/vmlinuz-6.1.0-18-686", 2, "root=UUID=" UUID, &db);
	disk_boot_free(&db);

	/* An x86-64 root partition type, as Debian's cloud images have. */
	img = tmp("gpt3.img");
	make_disk(img, 8, "label: gpt\\nstart=2048, size=12288, " T_ROOT_X86_64, 2048, 6);
	expect_boot(img, 6, 6, "/boot/vmlinuz-6.1.0-18-686", 1, "root=UUID=" UUID, &db);
	disk_boot_free(&db);

	/* A GPT without a Linux partition. */
	img = tmp("gpt-esp.img");
	make_disk(img, 8, "label: gpt\\nstart=2048, size=2048, " T_ESP, 2048, 1);
	expect_failure(img, -ENODEV, "no ext2/3/4 filesystem on the disk or in its first Linux partition");
}

/* ext2 and ext3: block maps instead of extents, no 64-bit or checksum
 * features; ext4 with inline data. */
static void test_fs_variants(void)
{
	tree_reset();
	tree_version("6.1.0-18-686", 15, true);
	tree_link("boot/vmlinuz-6.1.0-18-686", "vmlinuz");
	tree_link("boot/initrd.img-6.1.0-18-686", "initrd.img");
	const char *img = tmp("ext2.img");
	struct disk_boot db;
	make_fs(img, 6, "-t ext2");
	expect_boot(img, 15, 15, "/boot/vmlinuz-6.1.0-18-686", 0, "root=UUID=" UUID, &db);
	disk_boot_free(&db);
	make_fs(img, 6, "-t ext3");
	expect_boot(img, 15, 15, "/boot/vmlinuz-6.1.0-18-686", 0, "root=UUID=" UUID, &db);
	disk_boot_free(&db);

	/* ext4 with inline data: small directories and files live in their
	 * inodes; /boot is scanned, a small initrd read from its inode. */
	tree_reset();
	tree_version("6.1.0-18-686", 15, false);
	tree_file("boot/initrd.img-6.1.0-18-686", 40, 1015);
	make_fs(img, 6, "-O inline_data");
	char err[256];
	CHECK_EQ(disk_boot_find(img, &db, err, sizeof(err)), 0);
	CHECK(same(db.kernel, db.kernel_size, KSIZE(15), 15));
	CHECK(same(db.initrd, db.initrd_size, 40, 1015));
	disk_boot_free(&db);
}

/* The newest kernel has no initrd: it boots without one, even though an
 * older kernel has one. */
static void test_newest_without_initrd(void)
{
	tree_reset();
	tree_version("6.1.0-9-686", 9, true);
	tree_version("6.1.0-18-686", 10, false);
	const char *img = tmp("noinitrd.img");
	make_fs(img, 6, "");
	struct disk_boot db;
	expect_boot(img, 10, 0, "/boot/vmlinuz-6.1.0-18-686", 0, "root=/dev/vda", &db);
	disk_boot_free(&db);
}

/* Symlinks: through a directory symlink, with ".." past the root (which
 * stays at the root, as in the kernel); a dangling /vmlinuz falls back to
 * /boot; /vmlinuz without /initrd.img takes the initrd beside its target. */
static void test_symlinks(void)
{
	tree_reset();
	tree_version("6.1.0-18-686", 11, true);
	run("mkdir -p '%s/kernels'", tree);
	tree_link("../boot", "kernels/current");
	tree_link("../../../../kernels/current/vmlinuz-6.1.0-18-686", "vmlinuz");
	tree_link("/../../boot/initrd.img-6.1.0-18-686", "initrd.img");
	const char *img = tmp("links.img");
	make_fs(img, 6, "");
	struct disk_boot db;
	expect_boot(img, 11, 11, "/boot/vmlinuz-6.1.0-18-686", 0, "root=UUID=" UUID, &db);
	disk_boot_free(&db);

	/* A long target (a slow symlink, in a block of its own) and a
	 * dangling /initrd.img: the initrd beside the kernel instead. */
	tree_reset();
	tree_version("6.1.0-18-686", 12, true);
	char target[512] = "/";
	for (int i = 0; i < 40; i++)
		strcat(target, "boot/../");
	strcat(target, "boot/vmlinuz-6.1.0-18-686");
	tree_link(target, "vmlinuz");
	tree_link("boot/initrd.img-removed", "initrd.img");
	make_fs(img, 6, "");
	expect_boot(img, 12, 12, "/boot/vmlinuz-6.1.0-18-686", 0, "root=UUID=" UUID, &db);
	disk_boot_free(&db);

	/* /vmlinuz points at a removed kernel: /boot's newest. */
	tree_reset();
	tree_version("6.1.0-20-686", 13, true);
	tree_link("boot/vmlinuz-6.1.0-18-686", "vmlinuz");
	make_fs(img, 6, "");
	expect_boot(img, 13, 13, "/boot/vmlinuz-6.1.0-20-686", 0, "root=UUID=" UUID, &db);
	disk_boot_free(&db);

	/* Loops: three links in a circle, and one through a directory. */
	tree_reset();
	tree_version("6.1.0-18-686", 14, true);
	tree_link("a", "vmlinuz");
	tree_link("b", "a");
	tree_link("/vmlinuz", "b");
	make_fs(img, 6, "");
	expect_failure(img, -ELOOP, "the whole disk: /vmlinuz: too many levels of symbolic links");

	tree_reset();
	tree_version("6.1.0-18-686", 14, true);
	tree_link("boot/x", "vmlinuz");
	tree_link("../vmlinuz", "boot/x");
	make_fs(img, 6, "");
	expect_failure(img, -ELOOP, "too many levels of symbolic links");

	/* /vmlinuz is a directory; a path through a file. */
	tree_reset();
	run("mkdir '%s/vmlinuz'", tree);
	make_fs(img, 6, "");
	expect_failure(img, -EINVAL, "not a regular file");

	tree_reset();
	tree_link("etc/hostname/vmlinuz", "vmlinuz");
	make_fs(img, 6, "");
	expect_failure(img, -ENOTDIR, "is not a directory");
}

static void test_nothing_to_boot(void)
{
	tree_reset();
	tree_file("boot/config-6.1.0-18-686", 100, 1);
	const char *img = tmp("empty-fs.img");
	make_fs(img, 6, "");
	expect_failure(img, -ENOENT,
		       ": nothing to boot: no /vmlinuz or /boot/vmlinuz-* in the filesystem on the "
		       "whole disk");
	img = tmp("empty-mbr.img");
	make_disk(img, 8, "label: dos\\nstart=2048, size=12288, type=83\\n", 2048, 6);
	expect_failure(img, -ENOENT,
		       ": nothing to boot: no /vmlinuz or /boot/vmlinuz-* in the filesystem on "
		       "partition 1");
	/* No /boot at all. */
	run("rm -rf '%s/boot'", tree);
	img = tmp("no-boot.img");
	make_fs(img, 6, "");
	expect_failure(img, -ENOENT, "nothing to boot");
}

static void test_bad_images(void)
{
	expect_failure(tmp("no-such.img"), -ENOENT, "cannot open the disk image: No such file");
	expect_failure(tmpdir, -EINVAL, "not a regular file or a block device");
	char err[256];
	struct disk_boot db;
	CHECK_EQ(disk_boot_find(NULL, &db, err, sizeof(err)), -EINVAL);
	CHECK_STR_CONTAINS(err, "no disk image");
	CHECK_EQ(disk_boot_find("x", NULL, err, sizeof(err)), -EINVAL);

	const char *img = tmp("bad.img");
	make_blank(img, 0);
	expect_failure(img, -ENODEV, "(the image is only 0 bytes)");

	/* Random bytes, without and with a boot signature. */
	uint8_t *junk = pattern(MIB, 77);
	junk[1080] = 0;
	junk[510] = 0;
	FILE *f = fopen(img, "wb");
	fwrite(junk, 1, MIB, f);
	fclose(f);
	expect_failure(img, -ENODEV, "no ext2/3/4 filesystem on the disk or in its first Linux partition");
	patch(img, 510, "\x55\xaa", 2);
	expect_failure(img, -ENODEV, "holds no partition table");
	free(junk);

	/* An MBR whose Linux partition holds no filesystem; one without a
	 * Linux partition. */
	partition(img, 8 * MIB, "label: dos\\nstart=2048, type=83\\n");
	expect_failure(img, -ENODEV, "(partition 1 has no superblock)");
	partition(img, 8 * MIB, "label: dos\\nstart=2048, type=7\\n");
	expect_failure(img, -ENODEV, "no primary partition of type 0x83");

	/* A partition table pointing past the end; a truncated image. */
	tree_reset();
	tree_version("1", 1, true);
	tree_link("boot/vmlinuz-1", "vmlinuz");
	make_disk(img, 8, "label: dos\\nstart=2048, size=12288, type=83\\n", 2048, 6);
	patch(img, 446 + 12, "\x00\x00\x10\x00", 4);   /* 1 Mi sectors */
	expect_failure(img, -EUCLEAN, "partition 1 ends past the end of the image");
	make_disk(img, 8, "label: dos\\nstart=2048, size=12288, type=83\\n", 2048, 6);
	truncate_to(img, 3 * MIB);
	expect_failure(img, -EUCLEAN, "partition 1 ends past the end of the image");
	make_disk(img, 8, "label: dos\\nstart=2048, size=12288, type=83\\n", 2048, 6);
	patch(img, 446 + 8, "\x00\x00\x00\x00", 4);
	expect_failure(img, -EUCLEAN, "starts at sector 0");

	/* A whole-disk filesystem cut short, and one larger than its
	 * partition (the neighbour's sectors are not its own). */
	make_fs(img, 6, "");
	truncate_to(img, 1 * MIB);
	expect_failure(img, -EUCLEAN, "is larger than the image");
	make_disk(img, 8, "label: dos\\nstart=2048, size=8192, type=83\\n", 2048, 6);
	expect_failure(img, -EUCLEAN, "is larger than its partition");

	/* Sparse files: a kernel over the 64 MiB limit, and one larger than
	 * the filesystem holding it (a corrupt size looks like that). */
	tree_reset();
	run("truncate -s 65M '%s/boot/vmlinuz-big' && ln -s boot/vmlinuz-big '%s/vmlinuz'", tree, tree);
	make_fs(img, 6, "");
	expect_failure(img, -E2BIG, "/vmlinuz: the kernel (/boot/vmlinuz-big) is too large");
	tree_reset();
	run("truncate -s 7M '%s/boot/vmlinuz-big' && ln -s boot/vmlinuz-big '%s/vmlinuz'", tree, tree);
	make_fs(img, 6, "");
	expect_failure(img, -EUCLEAN, "bytes, more than its filesystem");

	/* A superblock libext2fs refuses: a block size of 2^30 KiB. */
	make_fs(img, 6, "-O ^metadata_csum");
	patch(img, 1024 + 24, "\x14\x00\x00\x00", 4);
	expect_failure(img, -EUCLEAN, "the whole disk: cannot open the ext2/3/4 filesystem: ");
}

static void test_bad_gpt(void)
{
	tree_reset();
	tree_version("1", 1, true);
	tree_link("boot/vmlinuz-1", "vmlinuz");
	const char *script = "label: gpt\\nstart=2048, size=12288, " T_LINUX;
	const char *img = tmp("badgpt.img");

	make_disk(img, 8, script, 2048, 6);
	flip(img, 512 + 56);   /* the disk GUID: the header's CRC no longer matches */
	expect_failure(img, -EUCLEAN, "GPT header: bad CRC32");

	make_disk(img, 8, script, 2048, 6);
	patch(img, 1024 + 56, "X", 1);     /* partition 1's name: the entries' CRC */
	expect_failure(img, -EUCLEAN, "GPT partition entries: bad CRC32");

	make_disk(img, 8, script, 2048, 6);
	patch(img, 512, "EFI DART", 8);
	expect_failure(img, -EUCLEAN, "no GPT header at sector 1");

	make_disk(img, 8, script, 2048, 6);
	truncate_to(img, 6 * MIB);
	expect_failure(img, -EUCLEAN, "are not inside the image");
}

/* Random damage to the first 64 KiB (boot sector, superblock, group
 * descriptors, bitmaps, the first inodes) of a small filesystem: each try
 * boots or fails with one line, never crashes or leaks (ASan, LSan). Once
 * without metadata checksums, so that damage reaches the inode and
 * directory code instead of stopping at a checksum; once with them. */
static void fuzz(const char *img, unsigned rounds, unsigned seed, unsigned *booted)
{
	uint8_t *orig = malloc(FUZZ_SPAN);
	int fd = open(img, O_RDWR);
	if (!orig || fd < 0 || pread(fd, orig, FUZZ_SPAN, 0) != (ssize_t)FUZZ_SPAN)
		exit(2);
	uint8_t buf[FUZZ_SPAN];
	uint32_t x = seed;
	for (unsigned round = 0; round < rounds; round++) {
		memcpy(buf, orig, FUZZ_SPAN);
		x = x * 1103515245u + 12345u;
		unsigned changes = 1 + (x >> 16) % 16;
		for (unsigned i = 0; i < changes; i++) {
			x = x * 1103515245u + 12345u;
			uint32_t r = x >> 8;
			x = x * 1103515245u + 12345u;
			/* Half the damage in the superblock and descriptors. */
			uint32_t off = (x >> 31) ? 1024 + (r % 3072) : r % FUZZ_SPAN;
			switch ((x >> 12) % 4) {
			case 0: buf[off] ^= (uint8_t)(1u << ((x >> 4) % 8)); break;
			case 1: buf[off] = (uint8_t)(x >> 20); break;
			case 2: buf[off] = 0xff; break;
			default: buf[off] = 0; break;
			}
		}
		if (pwrite(fd, buf, FUZZ_SPAN, 0) != (ssize_t)FUZZ_SPAN)
			exit(2);
		struct disk_boot db;
		char err[512] = "";
		int rc = disk_boot_find(img, &db, err, sizeof(err));
		if (rc == 0) {
			CHECK(db.kernel != NULL && db.kernel_size > 0);
			(*booted)++;
		} else {
			CHECK(err[0] != 0 && strchr(err, '\n') == NULL);
			CHECK(db.kernel == NULL && db.initrd == NULL);
		}
		disk_boot_free(&db);
	}
	close(fd);
	free(orig);
}

static void test_fuzz(void)
{
	tree_reset();
	tree_version("6.1.0-18-686", 1, true);
	tree_version("6.1.0-9-686", 2, true);
	tree_link("boot/vmlinuz-6.1.0-18-686", "vmlinuz");
	tree_link("boot/initrd.img-6.1.0-18-686", "initrd.img");
	const char *img = tmp("fuzz.img");
	unsigned booted = 0;
	make_fs(img, 2, "-O ^metadata_csum,^has_journal");
	fuzz(img, FUZZ_ROUNDS, 1, &booted);
	make_fs(img, 2, "-O ^has_journal");
	fuzz(img, FUZZ_ROUNDS / 2, 2, &booted);
	/* And the partition tables in front of a filesystem. */
	make_disk(img, 8, "label: gpt\\nstart=2048, size=4096, " T_LINUX, 2048, 2);
	fuzz(img, FUZZ_ROUNDS / 2, 3, &booted);
	printf("test_disk_boot: %u of %u damaged images still booted\n", booted, FUZZ_ROUNDS * 2);
}

int main(void)
{
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* mke2fs and sfdisk live in sbin, which a user's PATH may lack. */
	const char *path = getenv("PATH");
	char newpath[4096];
	snprintf(newpath, sizeof(newpath), "/usr/sbin:/sbin:%s", path ? path : "/usr/bin:/bin");
	setenv("PATH", newpath, 1);
	if (system("command -v mke2fs >/dev/null && command -v sfdisk >/dev/null") != 0) {
		fprintf(stderr, "test_disk_boot: needs mke2fs (e2fsprogs) and sfdisk (fdisk): "
				"scripts/setup.sh installs them\n");
		return 1;
	}
	/* mke2fs syncs every image it makes: in memory that is free, on a
	 * busy disk it is most of the test's time (0.6 s against 4 s here). */
	const char *base = getenv("TMPDIR");
	if (!base || !*base)
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(tmpdir, sizeof(tmpdir), "%s/btvm-disk-boot-XXXXXX", base);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(tree, sizeof(tree), "%s/tree", tmpdir);

	test_whole_disk();
	test_mbr();
	test_gpt_newest();
	test_newest_without_initrd();
	test_fs_variants();
	test_symlinks();
	test_nothing_to_boot();
	test_bad_images();
	test_bad_gpt();
	test_fuzz();

	run("rm -rf '%s'", tmpdir);
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("test_disk_boot: %.2f s\n",
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	return check_report("test_disk_boot");
}
