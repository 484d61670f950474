/* The overlay format and chains (host/overlay.c, host/disk_snapdir.c,
 * disk_image's freeze and switch): random reads and writes across
 * cluster boundaries and unaligned sectors against a model (a plain
 * array) through two freezes and a reopen; a crash between a cluster's
 * data and its map entry (the old data read back); every kind of damaged
 * or mismatched file refused with one line, and random damage (a fuzz
 * loop) refused or harmless; the snapshot directory's
 * index and its collection of files no snapshot needs. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "host/disk_image.h"
#include "host/disk_snapdir.h"
#include "host/overlay.h"

#define SECTOR 512u
/* 20 clusters and 3 sectors: the last cluster is partial. */
#define DISK_BYTES (20u * OVL_CLUSTER_SIZE + 3u * SECTOR)
#define DISK_SECTORS (DISK_BYTES / SECTOR)

static char dir[] = "/tmp/btvm-test-overlay-XXXXXX";
static char image[256];
static uint8_t *model;
static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

static void make_base(void)
{
	snprintf(image, sizeof(image), "%s/disk.img", dir);
	model = malloc(DISK_BYTES);
	fill(model, DISK_BYTES);
	int fd = open(image, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && pwrite(fd, model, DISK_BYTES, 0) == (ssize_t)DISK_BYTES);
	close(fd);
}

/* Random transfers against the model: lengths of 1 to 300 sectors at any
 * sector, in up to three pieces. */
static void exercise(struct disk_image *d, unsigned rounds)
{
	struct disk_io io;
	uint8_t *buf = malloc(300 * SECTOR), *got = malloc(300 * SECTOR);
	disk_io_init(&io, false);
	for (unsigned r = 0; r < rounds; r++) {
		uint64_t count = 1 + rnd() % 300, sector = rnd() % DISK_SECTORS;
		if (sector + count > DISK_SECTORS)
			count = DISK_SECTORS - sector;
		size_t len = (size_t)count * SECTOR, cut1 = rnd() % (len + 1), cut2 = rnd() % (len + 1);
		if (cut1 > cut2) {
			size_t t = cut1;
			cut1 = cut2;
			cut2 = t;
		}
		bool write = rnd() % 2;
		uint8_t *p = write ? buf : got;
		struct iovec iov[3] = { { p, cut1 }, { p + cut1, cut2 - cut1 }, { p + cut2, len - cut2 } };
		if (write) {
			fill(buf, len);
			CHECK_EQ(disk_image_write(d, &io, iov, 3, sector, NULL), 0);
			memcpy(model + sector * SECTOR, buf, len);
		} else {
			CHECK_EQ(disk_image_read(d, &io, iov, 3, sector, NULL), 0);
			CHECK(!memcmp(got, model + sector * SECTOR, len));
		}
		if (rnd() % 16 == 0)
			CHECK_EQ(disk_image_sync(d), 0);
	}
	disk_io_destroy(&io);
	free(buf);
	free(got);
}

/* The whole disk against the model. */
static void compare_all(struct disk_image *d)
{
	struct disk_io io;
	uint8_t *got = malloc(DISK_BYTES);
	struct iovec one = { got, DISK_BYTES };
	disk_io_init(&io, false);
	CHECK_EQ(disk_image_read(d, &io, &one, 1, 0, NULL), 0);
	CHECK(!memcmp(got, model, DISK_BYTES));
	disk_io_destroy(&io);
	free(got);
}

static int open_disk(struct disk_image *d, char *err, size_t errlen)
{
	return disk_image_open(d, image, false, false, false, err, errlen);
}

/* Freezes d as a named savevm does, recording a snapshot name. */
static void freeze(struct disk_image *d, const char *name)
{
	struct snapdir sd;
	char err[512], frozen[SNAPDIR_FILE_MAX];
	CHECK_EQ(snapdir_load(image, &sd, err, sizeof(err)), 0);
	CHECK_EQ(disk_image_freeze(d, &sd, frozen, err, sizeof(err)), 0);
	struct snapdir_snap *s = &sd.snaps[sd.nsnaps++];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->frozen, sizeof(s->frozen), "%s", frozen);
	s->disks = 1;
	CHECK_EQ(snapdir_save(&sd, err, sizeof(err)), 0);
}

static void path_in_dir(char *out, size_t len, const char *file)
{
	snprintf(out, len, "%s/disk.img.btvm-snapshots/%s", dir, file);
}

static void active_path(char *out, size_t len)
{
	struct snapdir sd;
	char err[256];
	CHECK_EQ(snapdir_load(image, &sd, err, sizeof(err)), 0);
	path_in_dir(out, len, sd.active);
}

static void test_chain_model(void)
{
	struct disk_image d;
	char err[512];
	CHECK_EQ(open_disk(&d, err, sizeof(err)), 0);
	exercise(&d, 200);
	freeze(&d, "one");
	CHECK(d.chain != NULL);
	uint8_t *at_one = malloc(DISK_BYTES);
	memcpy(at_one, model, DISK_BYTES);
	exercise(&d, 400);
	freeze(&d, "two");
	exercise(&d, 400);
	compare_all(&d);
	disk_image_close(&d);
	/* Opened again: the chain from the index, all of it there. */
	CHECK_EQ(open_disk(&d, err, sizeof(err)), 0);
	CHECK(d.chain && d.chain->backing && !d.chain->backing->backing);
	compare_all(&d);
	/* The raw image itself is read-only and untouched below the chain. */
	CHECK(d.readonly == false && d.chain->writable);
	/* Back to "one": the disk as it was then, the later writes gone. */
	struct snapdir sd;
	CHECK_EQ(snapdir_load(image, &sd, err, sizeof(err)), 0);
	int i = snapdir_find(&sd, "one");
	CHECK(i == 0);
	CHECK_EQ(disk_image_switch(&d, &sd, sd.snaps[i].frozen, err, sizeof(err)), 0);
	CHECK_EQ(snapdir_save(&sd, err, sizeof(err)), 0);
	snapdir_collect(&sd);
	memcpy(model, at_one, DISK_BYTES);
	compare_all(&d);
	exercise(&d, 100);
	disk_image_close(&d);
	free(at_one);
	/* A second process sees the top locked. */
	struct disk_image a, b;
	CHECK_EQ(open_disk(&a, err, sizeof(err)), 0);
	CHECK_EQ(open_disk(&b, err, sizeof(err)), -EBUSY);
	CHECK_STR_CONTAINS(err, "in use by another process");
	/* A read-only open beside a writer is refused too (the writer's lock). */
	disk_image_close(&a);
	CHECK_EQ(disk_image_open(&b, image, true, false, false, err, sizeof(err)), 0);
	compare_all(&b);
	disk_image_close(&b);
}

/* A cluster written but its map entry not flushed when the process dies:
 * the old data comes back, never the new cluster's garbage or zeros; a
 * flushed one stays. */
static void test_crash(void)
{
	struct disk_image d;
	struct disk_io io;
	char err[512];
	uint8_t *buf = malloc(2 * OVL_CLUSTER_SIZE);
	disk_io_init(&io, false);
	CHECK_EQ(open_disk(&d, err, sizeof(err)), 0);
	compare_all(&d);
	freeze(&d, "crash");
	/* Flushed: cluster 3, unaligned, across into cluster 4. */
	fill(buf, 8 * SECTOR);
	struct iovec one = { buf, 8 * SECTOR };
	uint64_t s1 = 4 * OVL_CLUSTER_SIZE / SECTOR - 3;
	CHECK_EQ(disk_image_write(&d, &io, &one, 1, s1, NULL), 0);
	memcpy(model + s1 * SECTOR, buf, 8 * SECTOR);
	CHECK_EQ(disk_image_sync(&d), 0);
	/* Not flushed: cluster 7. */
	fill(buf, 4 * SECTOR);
	one.iov_len = 4 * SECTOR;
	CHECK_EQ(disk_image_write(&d, &io, &one, 1, 7 * OVL_CLUSTER_SIZE / SECTOR + 5, NULL), 0);
	/* The crash: the process goes without a flush. */
	d.chain->writable = false;
	disk_image_close(&d);
	CHECK_EQ(open_disk(&d, err, sizeof(err)), 0);
	compare_all(&d);
	/* The cluster the lost write took is past the end; the next write
	 * goes after it and reads back. */
	fill(buf, SECTOR);
	one.iov_len = SECTOR;
	CHECK_EQ(disk_image_write(&d, &io, &one, 1, 7 * OVL_CLUSTER_SIZE / SECTOR, NULL), 0);
	memcpy(model + 7 * OVL_CLUSTER_SIZE, buf, SECTOR);
	compare_all(&d);
	disk_image_close(&d);
	CHECK_EQ(open_disk(&d, err, sizeof(err)), 0);
	compare_all(&d);
	disk_image_close(&d);
	disk_io_destroy(&io);
	free(buf);
}

static void copy_file(const char *from, const char *to)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "cp --sparse=always '%s' '%s'", from, to);
	CHECK_EQ(system(cmd), 0);
}

static void poke(const char *path, uint64_t off, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY);
	CHECK(fd >= 0 && pwrite(fd, p, n, (off_t)off) == (ssize_t)n);
	close(fd);
}

static void peek(const char *path, uint64_t off, void *p, size_t n)
{
	int fd = open(path, O_RDONLY);
	CHECK(fd >= 0 && pread(fd, p, n, (off_t)off) == (ssize_t)n);
	close(fd);
}

/* Opening refused with a message holding want; then the top restored. */
static void refused(const char *top, const char *saved, const char *want)
{
	struct disk_image d;
	char err[512] = "";
	CHECK(open_disk(&d, err, sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, want);
	CHECK(!strchr(err, '\n'));
	if (!strstr(err, want))
		fprintf(stderr, "  wanted \"%s\"\n", want);
	copy_file(saved, top);
}

/* The first map entry in use (its offset in the file), and its value. */
static uint64_t first_entry(const char *path, uint64_t *value)
{
	uint8_t e[8];
	for (uint64_t i = 0; i < 21; i++) {
		peek(path, OVL_CLUSTER_SIZE + i * 8, e, 8);
		uint64_t v = 0;
		for (int k = 0; k < 8; k++)
			v |= (uint64_t)e[k] << (8 * k);
		if (v) {
			*value = v;
			return OVL_CLUSTER_SIZE + i * 8;
		}
	}
	return 0;
}

static void test_damage(void)
{
	char top[512], saved[600], err[512];
	active_path(top, sizeof(top));
	snprintf(saved, sizeof(saved), "%s.saved", top);
	copy_file(top, saved);

	/* Truncated in its header, and in its map. */
	CHECK_EQ(truncate(top, 60), 0);
	refused(top, saved, "truncated");
	CHECK_EQ(truncate(top, OVL_CLUSTER_SIZE + 8), 0);
	refused(top, saved, "truncated");
	/* Bad magic; a flipped header byte. */
	poke(top, 0, "XTVM", 4);
	refused(top, saved, "bad magic");
	poke(top, 20, "\x7f", 1);
	refused(top, saved, "header damaged (checksum)");
	/* A flipped byte in a map entry. */
	uint64_t v = 0, at = first_entry(top, &v);
	CHECK(at != 0);
	uint8_t flip = (uint8_t)(v ^ 1);
	poke(top, at, &flip, 1);
	refused(top, saved, "damaged (checksum)");
	/* A well-formed entry (its checksum right) naming a cluster past the
	 * end of the file, and one naming the map. */
	uint8_t id[OVL_ID_BYTES];
	peek(top, 24, id, sizeof(id));
	uint64_t entry = (at - OVL_CLUSTER_SIZE) / 8;
	uint32_t bad[2] = { 100000, 1 };
	for (int k = 0; k < 2; k++) {
		uint8_t b[12], e[8];
		for (int j = 0; j < 8; j++)
			b[j] = (uint8_t)(entry >> (8 * j));
		for (int j = 0; j < 4; j++)
			b[8 + j] = (uint8_t)(bad[k] >> (8 * j));
		uint32_t crc = (uint32_t)crc32(crc32(0, id, OVL_ID_BYTES), b, 12);
		uint64_t ev = ((uint64_t)crc << 32) | bad[k];
		for (int j = 0; j < 8; j++)
			e[j] = (uint8_t)(ev >> (8 * j));
		poke(top, at, e, 8);
		refused(top, saved, k == 0 ? "beyond the end of the file" : "into the header");
	}

	/* The raw image changed under its overlays (one byte of its first
	 * cluster, the size and time kept as far as the test can). */
	char base_saved[600];
	snprintf(base_saved, sizeof(base_saved), "%s.saved", image);
	copy_file(image, base_saved);
	struct stat st;
	CHECK_EQ(stat(image, &st), 0);
	poke(image, 100, "\xff\xee", 2);
	refused(top, saved, "changed since the overlay was made");
	copy_file(base_saved, image);
	struct timespec times[2] = { st.st_atim, st.st_mtim };
	CHECK_EQ(utimensat(AT_FDCWD, image, times, 0), 0);
	struct disk_image d;
	CHECK_EQ(open_disk(&d, err, sizeof(err)), 0);
	compare_all(&d);
	char below[512];
	snprintf(below, sizeof(below), "%s", d.chain->backing->path);
	disk_image_close(&d);

	/* A file in the middle of the chain replaced by another overlay
	 * (same backing, another id). */
	char below_saved[600], other[600];
	snprintf(below_saved, sizeof(below_saved), "%s.saved", below);
	snprintf(other, sizeof(other), "%s/other.btov", dir);
	copy_file(below, below_saved);
	char next[512];
	CHECK_EQ(ovl_backing_of(below, next, sizeof(next), err, sizeof(err)), 0);
	CHECK_EQ(ovl_create(other, next, DISK_BYTES, err, sizeof(err)), 0);
	copy_file(other, below);
	refused(below, below_saved, "is not the one it was made over");

	/* A loop: the lower overlay's header made to name the top. */
	uint8_t h[OVL_HEADER_BYTES];
	peek(below, 0, h, sizeof(h));
	const char *name = strrchr(top, '/') + 1;
	uint32_t plen = (uint32_t)strlen(name);
	for (int j = 0; j < 4; j++)
		h[76 + j] = (uint8_t)(plen >> (8 * j));
	memcpy(h + 96, name, plen);
	uint32_t crc = (uint32_t)crc32(0, h, 96 + plen);
	for (int j = 0; j < 4; j++)
		h[96 + plen + j] = (uint8_t)(crc >> (8 * j));
	/* Its backing id must be the top's for the walk to get that far:
	 * the loop is seen before any id is compared. */
	poke(below, 0, h, sizeof(h));
	refused(below, below_saved, "loop in the overlay chain");

	/* A damaged index. */
	char idx_path[600];
	snprintf(idx_path, sizeof(idx_path), "%s/disk.img.btvm-snapshots/index.json", dir);
	copy_file(idx_path, saved);
	FILE *f = fopen(idx_path, "w");
	fputs("{\"format\":1,\"next\":2,\"active\":\"../../etc/passwd\",\"snapshots\":[]}", f);
	fclose(f);
	refused(idx_path, saved, "damaged snapshot index");
	CHECK_EQ(open_disk(&d, err, sizeof(err)), 0);
	compare_all(&d);
	disk_image_close(&d);
}

/* Random damage to the top's header and map, or a random truncation:
 * each open either refuses with one line or, where the byte changed
 * nothing the format reads (the header's padding), gives the disk as the
 * model has it; never anything else (run under ASan too). */
static void test_fuzz(void)
{
	char top[512], saved[600], err[512];
	active_path(top, sizeof(top));
	snprintf(saved, sizeof(saved), "%s.fuzz", top);
	copy_file(top, saved);
	struct stat st;
	CHECK_EQ(stat(top, &st), 0);
	unsigned refusals = 0, opens = 0;
	for (unsigned i = 0; i < 300; i++) {
		if (i % 10 == 9) {
			CHECK_EQ(truncate(top, (off_t)(rnd() % (uint64_t)st.st_size)), 0);
		} else {
			/* The header's used bytes, the map's first entries, or anywhere
			 * in the two first clusters. */
			uint64_t where = i % 3 == 0 ? rnd() % 200
				       : i % 3 == 1 ? OVL_CLUSTER_SIZE + rnd() % 256
						    : rnd() % (2 * OVL_CLUSTER_SIZE);
			uint8_t b;
			peek(top, where, &b, 1);
			b ^= (uint8_t)(1u << (rnd() % 8));
			poke(top, where, &b, 1);
		}
		struct disk_image d;
		err[0] = '\0';
		if (open_disk(&d, err, sizeof(err)) == 0) {
			opens++;
			compare_all(&d);
			disk_image_close(&d);
		} else {
			refusals++;
			CHECK(err[0] != '\0' && !strchr(err, '\n'));
		}
		copy_file(saved, top);
	}
	CHECK(refusals >= 100);
	printf("fuzz: %u refused, %u opened unchanged\n", refusals, opens);
	unlink(saved);
}

/* What collect keeps: the active chain and every snapshot's. */
static void test_collect(void)
{
	struct snapdir sd;
	struct disk_image d;
	char err[512], path[600];
	CHECK_EQ(open_disk(&d, err, sizeof(err)), 0);
	freeze(&d, "three");
	CHECK_EQ(snapdir_load(image, &sd, err, sizeof(err)), 0);
	CHECK_EQ(sd.nsnaps, 4);
	/* Drop "two" (whose frozen file "one"'s chain does not need, but
	 * "three"'s does: it is below the active chain). */
	int i = snapdir_find(&sd, "two");
	CHECK(i >= 0);
	char two_file[SNAPDIR_FILE_MAX];
	snprintf(two_file, sizeof(two_file), "%s", sd.snaps[i].frozen);
	sd.snaps[i] = sd.snaps[--sd.nsnaps];
	CHECK_EQ(snapdir_save(&sd, err, sizeof(err)), 0);
	snapdir_collect(&sd);
	path_in_dir(path, sizeof(path), two_file);
	/* "two"'s file was the top before loadvm one: no chain reaches it. */
	CHECK(access(path, F_OK) != 0);
	for (unsigned k = 0; k < sd.nsnaps; k++) {
		if (!*sd.snaps[k].frozen)
			continue;
		path_in_dir(path, sizeof(path), sd.snaps[k].frozen);
		CHECK_EQ(access(path, F_OK), 0);
	}
	compare_all(&d);
	disk_image_close(&d);
	CHECK_EQ(open_disk(&d, err, sizeof(err)), 0);
	compare_all(&d);
	disk_image_close(&d);
}

int main(void)
{
	char cmd[256];
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	make_base();
	test_chain_model();
	test_crash();
	test_damage();
	test_fuzz();
	test_collect();
	free(model);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", dir);
	return check_report("test_overlay");
}
