/* Snapshots: the container format (host/snapfile.c) on its own, and whole
 * machines. A test guest runs to its end, is saved, restored into a new
 * board and saved again: every section but guest time (and the RTC's
 * time, which catches up with the host's) must come out the same, so
 * each device's load is its save's inverse. A paused machine saves so,
 * and its RTC moves by the host's time at a resume and a restore. A snapshot made
 * under another CPUID model is refused, and so are truncated, corrupt
 * and incompatible files. A machine with RAM above 4 GiB keeps it.
 *
 * Usage: test_snapshot GUEST.elf [OUT.snap]: with OUT, the first snapshot
 * is kept there for tests/system/snapshot_corrupt.sh.
 * test_snapshot --a20 A20.elf: the A20 gate across a save and a restore
 * (tests/guests/a20.asm ends with it closed).
 * test_snapshot --v86 V86.elf: a machine saved in virtual-8086 mode.
 * The CPU section keeps a MOV SS's hold-off of debug exceptions (version
 * 5) and still loads from version 4, without it.
 *
 * test_snapshot --smp SMP_SNAP.elf: four vCPUs saved in the middle of
 * tests/guests/smp_snap.asm (one counting, one halted, one waiting for a
 * start-up IPI), restored, and run on to the guest's pass; --smp-traces
 * the same with hot traces (--traces=2). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "host/snapfile.h"
#include "isa/msr.h"
#include "isa/vcpu.h"
#include "machine/board.h"
#include "machine/board_internal.h"
#include "machine/board_snapshot.h"
#include "machine/control.h"

static char work[] = "/tmp/btvm-test-snapshot-XXXXXX";

static char *work_path(const char *name)
{
	static char paths[8][512];
	static unsigned next;
	char *p = paths[next++ % 8];
	snprintf(p, 512, "%s/%s", work, name);
	return p;
}

/* --------------------------------------------------------- the format */

static void test_format_round_trip(void)
{
	struct snap_writer w;
	const char *path = work_path("fmt.snap");
	static uint8_t big[3 << 20];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 / 4096);
	CHECK_EQ(snapw_open(&w, path, 1), 0);
	snapw_begin(&w, "ONE ", 3, false);
	snapw_u8(&w, 0xab);
	snapw_u16(&w, 0x1234);
	snapw_u32(&w, 0xdeadbeef);
	snapw_u64(&w, 0x0123456789abcdefull);
	snapw_bool(&w, true);
	snapw_str(&w, "hello");
	snapw_end(&w);
	snapw_begin(&w, "BIG ", 1, true);
	snapw_bytes(&w, big, sizeof(big));
	snapw_end(&w);
	CHECK_EQ(snapw_close(&w), 0);
	CHECK(access(work_path("fmt.snap.tmp"), F_OK) != 0);

	struct snap_reader r;
	char s[16];
	CHECK_EQ(snapr_open(&r, path), 0);
	CHECK_EQ(snapr_next(&r), 1);
	CHECK(!strcmp(r.tag, "ONE ") && r.version == 3);
	CHECK_EQ(snapr_u8(&r), 0xab);
	CHECK_EQ(snapr_u16(&r), 0x1234);
	CHECK_EQ(snapr_u32(&r), 0xdeadbeef);
	CHECK_EQ(snapr_u64(&r), 0x0123456789abcdefull);
	CHECK(snapr_bool(&r));
	snapr_str(&r, s, sizeof(s));
	CHECK(!strcmp(s, "hello"));
	CHECK_EQ(snapr_end(&r), 0);
	CHECK_EQ(snapr_next(&r), 1);
	CHECK(!strcmp(r.tag, "BIG ") && r.compressed);
	uint8_t *back = malloc(sizeof(big));
	snapr_bytes(&r, back, sizeof(big));
	CHECK(!memcmp(back, big, sizeof(big)));
	free(back);
	CHECK_EQ(snapr_end(&r), 0);
	CHECK_EQ(snapr_next(&r), 0);
	snapr_close(&r);

	/* Reading past a section's end, or leaving part of it, is an error. */
	CHECK_EQ(snapr_open(&r, path), 0);
	CHECK_EQ(snapr_next(&r), 1);
	snapr_bytes(&r, s, 10);
	CHECK(snapr_end(&r) < 0);
	CHECK_STR_CONTAINS(r.msg, "longer than its contents");
	snapr_close(&r);
	CHECK_EQ(snapr_open(&r, path), 0);
	CHECK_EQ(snapr_next(&r), 1);
	uint8_t many[64];
	snapr_bytes(&r, many, sizeof(many));
	CHECK(r.err < 0);
	CHECK_STR_CONTAINS(r.msg, "truncated");
	snapr_close(&r);
}

/* A section header that straddles the writer's flush of its buffer
 * (snapfile.c's IO_CHUNK, 1 MiB): the end still buffered, the start in
 * the file. Every split of the 40 bytes, and both ends, read back. */
#define SNAP_IO_CHUNK (1u << 20)
#define SNAP_FILE_HEADER 16u
#define SNAP_SECTION_HEADER 40u
static void test_format_header_at_flush(void)
{
	const char *path = work_path("split.snap");
	static uint8_t pad[SNAP_IO_CHUNK];
	for (size_t i = 0; i < sizeof(pad); i++)
		pad[i] = (uint8_t)(i * 13);
	for (unsigned before = 0; before <= SNAP_SECTION_HEADER; before++) {
		/* The second header starts `before` bytes short of the flush. */
		size_t n = SNAP_IO_CHUNK - before - SNAP_FILE_HEADER - SNAP_SECTION_HEADER;
		struct snap_writer w;
		CHECK_EQ(snapw_open(&w, path, 1), 0);
		snapw_begin(&w, "PAD ", 1, false);
		snapw_bytes(&w, pad, n);
		snapw_end(&w);
		snapw_begin(&w, "TAIL", 2, false);
		snapw_u64(&w, 0x0123456789abcdefull + before);
		snapw_end(&w);
		CHECK_EQ(snapw_close(&w), 0);

		struct snap_reader r;
		CHECK_EQ(snapr_open(&r, path), 0);
		CHECK_EQ(snapr_next(&r), 1);
		CHECK(!strcmp(r.tag, "PAD "));
		CHECK_EQ(snapr_next(&r), 1);
		if (r.err)
			fprintf(stderr, "test_snapshot: header %u bytes before the flush: %s\n", before,
				r.msg);
		CHECK(!strcmp(r.tag, "TAIL") && r.version == 2);
		CHECK_EQ(snapr_u64(&r), 0x0123456789abcdefull + before);
		CHECK_EQ(snapr_end(&r), 0);
		CHECK_EQ(snapr_next(&r), 0);
		snapr_close(&r);
	}
}

static void test_format_refusals(void)
{
	struct snap_reader r;
	const char *path = work_path("junk.snap");
	FILE *f = fopen(path, "w");
	fputs("not a snapshot at all, only text", f);
	fclose(f);
	CHECK(snapr_open(&r, path) < 0);
	CHECK_STR_CONTAINS(r.msg, "bad magic");
	snapr_close(&r);
	CHECK(snapr_open(&r, work_path("missing.snap")) < 0);
	CHECK_STR_CONTAINS(r.msg, "No such file");
	snapr_close(&r);

	/* A writer that fails leaves neither the file nor its .tmp. */
	struct snap_writer w;
	CHECK_EQ(snapw_open(&w, work_path("failed.snap"), 1), 0);
	snapw_begin(&w, "ONE ", 1, true);
	snapw_u32(&w, 1);
	snapw_fail(&w, -EIO, "a device could not be saved");
	CHECK(snapw_close(&w) < 0);
	CHECK_STR_CONTAINS(w.msg, "could not be saved");
	CHECK(access(work_path("failed.snap"), F_OK) != 0);
	CHECK(access(work_path("failed.snap.tmp"), F_OK) != 0);
	/* Nor does one whose directory does not exist. */
	CHECK(snapw_open(&w, work_path("no/such/dir.snap"), 1) < 0);
	CHECK(snapw_close(&w) < 0);
}

/* ------------------------------------------------------- whole machines */

struct section_copy {
	char tag[5];
	uint32_t version;
	bool compressed;
	uint8_t *data;
	size_t len;
};

/* Every section of a snapshot, decompressed; returns how many, 0 on error. */
static unsigned read_sections(const char *path, struct section_copy *out, unsigned max)
{
	struct snap_reader r;
	unsigned n = 0;
	if (snapr_open(&r, path))
		return 0;
	while (n < max && snapr_next(&r) == 1) {
		struct section_copy *s = &out[n++];
		memcpy(s->tag, r.tag, 5);
		s->version = r.version;
		s->compressed = r.compressed;
		s->len = (size_t)r.raw_len;
		s->data = malloc(s->len ? s->len : 1);
		snapr_bytes(&r, s->data, s->len);
		if (snapr_end(&r))
			n = 0;
	}
	if (r.err)
		n = 0;
	snapr_close(&r);
	return n;
}

static void free_sections(struct section_copy *s, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(s[i].data);
}

static struct section_copy *find_section(struct section_copy *s, unsigned n, const char *tag)
{
	for (unsigned i = 0; i < n; i++)
		if (!strcmp(s[i].tag, tag))
			return &s[i];
	return NULL;
}

static int write_sections(const char *path, const struct section_copy *s, unsigned n)
{
	struct snap_writer w;
	if (!snapw_open(&w, path, 1)) {
		for (unsigned i = 0; i < n; i++) {
			snapw_begin(&w, s[i].tag, s[i].version, s[i].compressed);
			snapw_bytes(&w, s[i].data, s[i].len);
			snapw_end(&w);
		}
	}
	return snapw_close(&w);
}

/* traces: --traces's threshold (0: off). */
static struct board *new_board_smp(const char *kernel, const char *restore, const char *cmdline,
				   unsigned smp, unsigned traces)
{
	struct board *b;
	struct board_config cfg = { .kernel_path = kernel, .ram_mib = 64, .serial = SERIAL_NONE,
				    .display = DISPLAY_NONE, .tcache_mib = 16, .no_reboot = true,
				    .restore_path = restore, .cmdline = cmdline, .smp = smp,
				    .traces = traces };
	char err[512];
	if (board_create(&b, &cfg, err, sizeof(err))) {
		fprintf(stderr, "test_snapshot: %s\n", err);
		return NULL;
	}
	return b;
}

static struct board *new_board_with(const char *kernel, const char *restore, const char *cmdline)
{
	return new_board_smp(kernel, restore, cmdline, 1, 0);
}

static struct board *new_board(const char *kernel, const char *restore)
{
	return new_board_with(kernel, restore, NULL);
}

static void free_board(struct board *b)
{
	board_destroy(b);
}

/* Restores path into a fresh board: 0, or the error with its message. */
static int try_restore(const char *kernel, const char *path, char *err, size_t err_len)
{
	struct board *b = new_board(kernel, path);
	if (!b)
		return -EINVAL;
	int ret = board_snapshot_restore(b, path, err, err_len);
	free_board(b);
	return ret;
}

#define MAX_SECTIONS 40u

/* The MC146818's time-of-day bytes: seconds, minutes, hours, day of the
 * week, day, month, year, century. */
static bool is_clock_byte(unsigned index)
{
	return index == 0 || index == 2 || index == 4 || (index >= 6 && index <= 9) || index == 0x32;
}

static unsigned rtc_field(uint8_t b, uint8_t byte)
{
	return (b & 0x04) ? byte : (byte >> 4) * 10u + (byte & 0x0fu);
}

/* Whether a section saved again after a restore is the one restored. The
 * RTC caught up with the host's clock at the restore (test_rtc_catch_up):
 * every CMOS byte but the clock's stays, and so do the index and the NMI
 * mask after them; its divider's phase and flags may have moved. */
static bool same_section(const struct section_copy *a, const struct section_copy *c)
{
	if (a->len != c->len)
		return false;
	if (strcmp(a->tag, "RTC ") || a->len < RTC_CMOS_SIZE + 2)
		return !memcmp(a->data, c->data, a->len);
	for (unsigned k = 0; k < RTC_CMOS_SIZE + 2; k++)
		if (!is_clock_byte(k) && a->data[k] != c->data[k])
			return false;
	return true;
}

/* The time an RTC section's CMOS bytes show, in seconds since 1970 (UTC),
 * in the format register B says; -1 without an RTC section. */
static int64_t rtc_seconds(struct section_copy *s, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (strcmp(s[i].tag, "RTC ") || s[i].len < RTC_CMOS_SIZE)
			continue;
		const uint8_t *c = s[i].data;
		uint8_t b = c[0x0b];
		unsigned hour = rtc_field(b, c[4] & 0x7f);
		if (!(b & 0x02))
			hour = hour % 12 + ((c[4] & 0x80) ? 12 : 0);
		struct tm tm = {
			.tm_sec = (int)rtc_field(b, c[0]), .tm_min = (int)rtc_field(b, c[2]),
			.tm_hour = (int)hour, .tm_mday = (int)rtc_field(b, c[7]),
			.tm_mon = (int)rtc_field(b, c[8]) - 1,
			.tm_year = (int)(rtc_field(b, c[0x32]) * 100 + rtc_field(b, c[9])) - 1900,
		};
		return (int64_t)timegm(&tm);
	}
	return -1;
}

static void test_machine(const char *kernel, const char *keep)
{
	char err[512];
	const char *first = keep ? keep : work_path("first.snap");
	const char *second = work_path("second.snap");

	/* A guest that programs the PIC, the PIT and the APICs, run to its end. */
	struct board *b = new_board(kernel, NULL);
	CHECK(b != NULL);
	if (!b)
		return;
	CHECK_EQ(board_run(b), 33);
	struct board_regs regs;
	board_vcpu_get_regs(b, 0, &regs);
	uint32_t eip = regs.s.eip, esp = regs.regs[REG_ESP];
	int ret = board_snapshot_save(b, first, err, sizeof(err));
	CHECK_EQ(ret, 0);
	if (ret)
		fprintf(stderr, "test_snapshot: %s\n", err);
	free_board(b);

	/* Restored into a new machine and saved again: the same machine. */
	b = new_board(kernel, first);
	CHECK(b != NULL);
	if (!b)
		return;
	ret = board_snapshot_restore(b, first, err, sizeof(err));
	CHECK_EQ(ret, 0);
	if (ret)
		fprintf(stderr, "test_snapshot: %s\n", err);
	board_vcpu_get_regs(b, 0, &regs);
	CHECK_EQ(regs.s.eip, eip);
	CHECK_EQ(regs.regs[REG_ESP], esp);
	CHECK_EQ(board_snapshot_save(b, second, err, sizeof(err)), 0);
	free_board(b);

	struct section_copy a[MAX_SECTIONS], c[MAX_SECTIONS];
	unsigned na = read_sections(first, a, MAX_SECTIONS);
	unsigned nc = read_sections(second, c, MAX_SECTIONS);
	CHECK(na >= 20);
	CHECK_EQ(na, nc);
	for (unsigned i = 0; i < na && i < nc; i++) {
		CHECK(!strcmp(a[i].tag, c[i].tag));
		/* Guest time went on between the save and the second one. */
		if (!strcmp(a[i].tag, "CLCK"))
			continue;
		bool same = same_section(&a[i], &c[i]);
		if (!same)
			fprintf(stderr, "test_snapshot: section '%s' differs after a restore\n",
				a[i].tag);
		CHECK(same);
	}

	/* Another CPUID model (as a btvm with another model would write it):
	 * refused, naming the reason. */
	for (unsigned i = 0; i < na; i++) {
		if (!strcmp(a[i].tag, "CPUM") && a[i].len >= 4)
			a[i].data[a[i].len - 1] ^= 0x40;
	}
	const char *other = work_path("other-model.snap");
	CHECK_EQ(write_sections(other, a, na), 0);
	err[0] = '\0';
	CHECK(try_restore(kernel, other, err, sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, "another CPU model");
	struct board_snapshot_config *sc = malloc(sizeof(*sc));
	CHECK(board_snapshot_read_config(other, sc, err, sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, "another CPU model");
	CHECK_EQ(board_snapshot_read_config(first, sc, err, sizeof(err)), 0);
	CHECK_EQ(sc->cfg.ram_mib, 64);
	CHECK(!strcmp(strrchr(sc->cfg.kernel_path, '/'), strrchr(kernel, '/')));
	free(sc);

	/* A section missing, one for a device the machine lacks, one twice,
	 * one of a newer version: shallow copies of the second file's. */
	struct section_copy d[MAX_SECTIONS + 1];
	memcpy(d, c, sizeof(c[0]) * nc);
	CHECK_EQ(write_sections(other, d, nc - 1), 0);
	CHECK(try_restore(kernel, other, err, sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, "incomplete snapshot");
	memcpy(d[nc - 1].tag, "BLK2", 5);
	CHECK_EQ(write_sections(other, d, nc), 0);
	CHECK(try_restore(kernel, other, err, sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, "does not have");
	memcpy(d, c, sizeof(c[0]) * nc);
	d[nc] = c[nc - 1];
	CHECK_EQ(write_sections(other, d, nc + 1), 0);
	CHECK(try_restore(kernel, other, err, sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, "appears twice");
	/* The local APIC's section as version 1 wrote it, before LINT0's
	 * level followed the output: still loads. */
	memcpy(d, c, sizeof(c[0]) * nc);
	for (unsigned i = 0; i < nc; i++)
		if (!strcmp(d[i].tag, "LAPC")) {
			d[i].version = 1;
			d[i].len--;
		}
	CHECK_EQ(write_sections(other, d, nc), 0);
	err[0] = '\0';
	CHECK_EQ(try_restore(kernel, other, err, sizeof(err)), 0);
	if (err[0])
		fprintf(stderr, "test_snapshot: %s\n", err);
	/* The configuration as version 4 wrote it, before the sound card: a
	 * machine without one (as this one is), and it loads. */
	memcpy(d, c, sizeof(c[0]) * nc);
	for (unsigned i = 0; i < nc; i++)
		if (!strcmp(d[i].tag, "CONF")) {
			CHECK_EQ(d[i].version, 5);
			CHECK_EQ(d[i].data[d[i].len - 1], 0);   /* no sound card */
			d[i].version = 4;
			d[i].len -= 1;
		}
	CHECK_EQ(write_sections(other, d, nc), 0);
	err[0] = '\0';
	CHECK_EQ(try_restore(kernel, other, err, sizeof(err)), 0);
	if (err[0])
		fprintf(stderr, "test_snapshot: %s\n", err);
	/* Version 5 saying there is a sound card: this machine has none. */
	memcpy(d, c, sizeof(c[0]) * nc);
	for (unsigned i = 0; i < nc; i++)
		if (!strcmp(d[i].tag, "CONF"))
			d[i].data[d[i].len - 1] = 1;
	CHECK_EQ(write_sections(other, d, nc), 0);
	CHECK(try_restore(kernel, other, err, sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, "configured differently");
	for (unsigned i = 0; i < nc; i++)
		if (!strcmp(d[i].tag, "CONF"))
			d[i].data[d[i].len - 1] = 0;
	/* The configuration as version 3 wrote it, before the tablet: a
	 * machine without one (as this one is), and it loads. */
	memcpy(d, c, sizeof(c[0]) * nc);
	for (unsigned i = 0; i < nc; i++)
		if (!strcmp(d[i].tag, "CONF")) {
			CHECK_EQ(d[i].data[d[i].len - 2], 0);   /* no tablet */
			d[i].version = 3;
			d[i].len -= 2;
		}
	CHECK_EQ(write_sections(other, d, nc), 0);
	err[0] = '\0';
	CHECK_EQ(try_restore(kernel, other, err, sizeof(err)), 0);
	if (err[0])
		fprintf(stderr, "test_snapshot: %s\n", err);
	/* Version 5 saying there is a tablet: this machine has none. */
	memcpy(d, c, sizeof(c[0]) * nc);
	for (unsigned i = 0; i < nc; i++)
		if (!strcmp(d[i].tag, "CONF"))
			d[i].data[d[i].len - 2] = 1;
	CHECK_EQ(write_sections(other, d, nc), 0);
	CHECK(try_restore(kernel, other, err, sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, "configured differently");
	/* The sections share their bytes with c's: put the flag back. */
	for (unsigned i = 0; i < nc; i++)
		if (!strcmp(d[i].tag, "CONF"))
			d[i].data[d[i].len - 2] = 0;
	/* The configuration as version 2 wrote it, before the vCPU count:
	 * one vCPU, and it loads. */
	memcpy(d, c, sizeof(c[0]) * nc);
	for (unsigned i = 0; i < nc; i++)
		if (!strcmp(d[i].tag, "CONF")) {
			CHECK_EQ(d[i].data[d[i].len - 6], 1);   /* the count, little-endian */
			d[i].version = 2;
			d[i].len -= 6;
		}
	CHECK_EQ(write_sections(other, d, nc), 0);
	err[0] = '\0';
	CHECK_EQ(try_restore(kernel, other, err, sizeof(err)), 0);
	if (err[0])
		fprintf(stderr, "test_snapshot: %s\n", err);
	memcpy(d, c, sizeof(c[0]) * nc);
	for (unsigned i = 0; i < nc; i++)
		if (!strcmp(d[i].tag, "PIT "))
			d[i].version = 9;
	CHECK_EQ(write_sections(other, d, nc), 0);
	CHECK(try_restore(kernel, other, err, sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, "version 9");
	free_sections(a, na);
	free_sections(c, nc);
}

/* The saved RTC's seconds from path, -1 on error. */
static int64_t saved_rtc(const char *path)
{
	struct section_copy s[MAX_SECTIONS];
	unsigned n = read_sections(path, s, MAX_SECTIONS);
	int64_t t = rtc_seconds(s, n);
	free_sections(s, n);
	return t;
}

/* Restores path into a new board and saves it again at again: whether it
 * would start paused, or -1 when the restore failed. */
static int restore_and_save(const char *kernel, const char *path, const char *again)
{
	char err[512];
	struct board *b = new_board(kernel, path);
	if (!b)
		return -1;
	int ret = board_snapshot_restore(b, path, err, sizeof(err));
	if (ret)
		fprintf(stderr, "test_snapshot: %s\n", err);
	int paused = ret ? -1 : board_start_paused(b);
	CHECK_EQ(board_snapshot_save(b, again, err, sizeof(err)), 0);
	free_board(b);
	return paused;
}

/* Section CLCK (version 2) ends with whether the machine was paused and
 * the host's wall-clock ns the saved guest time stands for; the RTC reads
 * the host's time after a restore (moved by the wall time since), after a
 * resume (moved by the pause's length), and a machine saved paused would
 * start paused. A version-1 CLCK, from before, restores running with the
 * RTC as it was saved. */
#define CLCK_WALL_BYTES (1u + 8u)
static void test_rtc_catch_up(const char *kernel)
{
	char err[512];
	const char *first = work_path("rtc-first.snap"), *moved = work_path("rtc-moved.snap");
	const char *edited = work_path("rtc-edited.snap"), *again = work_path("rtc-again.snap");
	struct board *b = new_board(kernel, NULL);
	CHECK(b != NULL);
	if (!b)
		return;
	CHECK_EQ(board_run(b), 33);
	/* Paused, and the pause began 1000 s ago by the host's wall clock. */
	board_pause(b, BOARD_HOLD_MONITOR);
	b->paused_wall_ns -= 1000 * 1000000000ll;
	int64_t t0 = time(NULL);
	CHECK_EQ(board_snapshot_save(b, first, err, sizeof(err)), 0);
	int64_t rtc0 = saved_rtc(first);
	/* The resume moves the RTC by the pause, 1000 s and the save's. */
	board_resume(b, BOARD_HOLD_MONITOR);
	CHECK_EQ(board_snapshot_save(b, moved, err, sizeof(err)), 0);
	int64_t rtc1 = saved_rtc(moved), t1 = time(NULL);
	CHECK(rtc0 > 0 && rtc1 - rtc0 >= 999 && rtc1 - rtc0 <= 1000 + (t1 - t0) + 1);
	free_board(b);

	struct section_copy s[MAX_SECTIONS];
	unsigned n = read_sections(first, s, MAX_SECTIONS);
	struct section_copy *clck = find_section(s, n, "CLCK");
	CHECK(clck && clck->version == 2 && clck->len > CLCK_WALL_BYTES);
	if (!clck || clck->len <= CLCK_WALL_BYTES) {
		free_sections(s, n);
		return;
	}
	CHECK_EQ(clck->data[clck->len - CLCK_WALL_BYTES], 1);   /* saved paused */
	/* Restored: paused, and the RTC where the host's clock is, 1000 s
	 * and the time since the save on. */
	CHECK_EQ(restore_and_save(kernel, first, again), 1);
	int64_t rtc2 = saved_rtc(again), t2 = time(NULL);
	CHECK(rtc2 - rtc0 >= 999 && rtc2 - rtc0 <= 1000 + (t2 - t0) + 1);
	/* Saved running: restores running. */
	clck->data[clck->len - CLCK_WALL_BYTES] = 0;
	CHECK_EQ(write_sections(edited, s, n), 0);
	CHECK_EQ(restore_and_save(kernel, edited, again), 0);
	/* Version 1: running, the RTC as saved. */
	clck->version = 1;
	clck->len -= CLCK_WALL_BYTES;
	CHECK_EQ(write_sections(edited, s, n), 0);
	CHECK_EQ(restore_and_save(kernel, edited, again), 0);
	int64_t rtc3 = saved_rtc(again);
	CHECK(rtc3 - rtc0 >= 0 && rtc3 - rtc0 <= 1);
	free_sections(s, n);
}

/* The CPU section's tail from the interrupt shadow on, as version 5
 * writes it (cpu_snapshot.c): the shadow, the FXSAVE image, EFER, the
 * four PDPTEs, the NMI latch and blocking, the PMU registers, DEBUGCTL,
 * then what version 5 added: the MOV SS hold-off and the traps it holds. */
#define CPU_HOLD_BYTES (1u + 4u)
#define CPU_TAIL_FROM_SHADOW (1u + 512u + 8u + 32u + 2u + PMU_REGISTERS * 8u + 8u + CPU_HOLD_BYTES)

/* The hold-off as a snapshot taken right after MOV SS (with TF set) has
 * it: restored and saved again it is still there; without the shadow it
 * belongs to, or holding a bit no trap sets, it is refused; a version-4
 * section, from before it was saved, loads with none. */
static void test_cpu_hold(const char *kernel)
{
	char err[512];
	const char *path = work_path("hold.snap"), *edited = work_path("hold-edited.snap");
	const char *again = work_path("hold-again.snap");
	struct board *b = new_board(kernel, NULL);
	CHECK(b != NULL);
	if (!b)
		return;
	CHECK_EQ(board_run(b), 33);
	CHECK_EQ(board_snapshot_save(b, path, err, sizeof(err)), 0);
	free_board(b);

	struct section_copy a[MAX_SECTIONS], c[MAX_SECTIONS];
	unsigned na = read_sections(path, a, MAX_SECTIONS);
	struct section_copy *cpu = find_section(a, na, "CPU ");
	CHECK(cpu != NULL);
	if (!cpu)
		return;
	CHECK_EQ(cpu->version, 5);
	CHECK(cpu->len > CPU_TAIL_FROM_SHADOW);
	uint8_t *shadow = cpu->data + cpu->len - CPU_TAIL_FROM_SHADOW;
	uint8_t *hold = cpu->data + cpu->len - CPU_HOLD_BYTES;
	/* The guest ended at its isa-debug-exit OUT: no shadow, no hold. */
	CHECK_EQ(*shadow, 0);
	static const uint8_t none[CPU_HOLD_BYTES];
	CHECK(!memcmp(hold, none, CPU_HOLD_BYTES));

	/* Shadow, hold-off, a single-step trap held (DR6.BS, LE). */
	*shadow = 1;
	hold[0] = 1;
	hold[1] = 0x00;
	hold[2] = 0x40;
	CHECK_EQ(write_sections(edited, a, na), 0);
	err[0] = '\0';
	CHECK_EQ(try_restore(kernel, edited, err, sizeof(err)), 0);
	if (err[0])
		fprintf(stderr, "test_snapshot: %s\n", err);
	b = new_board(kernel, edited);
	CHECK(b != NULL);
	if (!b)
		return;
	CHECK_EQ(board_snapshot_restore(b, edited, err, sizeof(err)), 0);
	CHECK_EQ(board_snapshot_save(b, again, err, sizeof(err)), 0);
	free_board(b);
	unsigned nc = read_sections(again, c, MAX_SECTIONS);
	struct section_copy *back = find_section(c, nc, "CPU ");
	CHECK(back != NULL && back->version == 5 && back->len == cpu->len &&
	      !memcmp(back->data, cpu->data, cpu->len));
	free_sections(c, nc);

	/* The hold-off without its shadow, and a bit no trap sets: refused. */
	*shadow = 0;
	CHECK_EQ(write_sections(edited, a, na), 0);
	err[0] = '\0';
	CHECK(try_restore(kernel, edited, err, sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, "MOV SS hold-off");
	*shadow = 1;
	hold[3] = 0x01;   /* bit 24 */
	CHECK_EQ(write_sections(edited, a, na), 0);
	err[0] = '\0';
	CHECK(try_restore(kernel, edited, err, sizeof(err)) < 0);
	CHECK_STR_CONTAINS(err, "MOV SS hold-off");

	/* Version 4: no hold-off in it; the shadow alone (an STI's) loads,
	 * and a save after it writes version 5 with the hold-off clear. */
	cpu->version = 4;
	cpu->len -= CPU_HOLD_BYTES;
	CHECK_EQ(write_sections(edited, a, na), 0);
	b = new_board(kernel, edited);
	CHECK(b != NULL);
	if (!b)
		return;
	err[0] = '\0';
	CHECK_EQ(board_snapshot_restore(b, edited, err, sizeof(err)), 0);
	if (err[0])
		fprintf(stderr, "test_snapshot: %s\n", err);
	CHECK_EQ(board_snapshot_save(b, again, err, sizeof(err)), 0);
	free_board(b);
	nc = read_sections(again, c, MAX_SECTIONS);
	back = find_section(c, nc, "CPU ");
	CHECK(back != NULL && back->version == 5 && back->len == cpu->len + CPU_HOLD_BYTES);
	if (back && back->len == cpu->len + CPU_HOLD_BYTES) {
		CHECK(!memcmp(back->data, cpu->data, cpu->len));
		CHECK(!memcmp(back->data + cpu->len, none, CPU_HOLD_BYTES));
	}
	free_sections(c, nc);
	free_sections(a, na);
}

/* A machine with RAM past 4 GiB of memfd (-m 5120: 2 GiB from 4 GiB up,
 * the memfd's 4 GiB at physical 5 GiB): its high RAM is saved (by memfd
 * offset, after the low range) and restored where it was, at 4 GiB, at
 * the page at memfd offset 4 GiB and at the last page, the low RAM at the
 * same low 32 bits untouched. */
static void test_high_ram(const char *kernel)
{
	char err[512];
	const char *path = work_path("high.snap");
	const uint64_t high = 1ull << 32, past = high + (1ull << 30), last = high + (2ull << 30) - 4096;
	struct board_config cfg = { .kernel_path = kernel, .ram_mib = 5120, .serial = SERIAL_NONE,
				    .display = DISPLAY_NONE, .tcache_mib = 16, .no_reboot = true };
	struct board *b;
	CHECK_EQ(board_create(&b, &cfg, err, sizeof(err)), 0);
	uint8_t *at4g = (uint8_t *)board_phys_ptr(b, high, 4096);
	uint8_t *at5g = (uint8_t *)board_phys_ptr(b, past, 4096);
	uint8_t *top = (uint8_t *)board_phys_ptr(b, last, 4096);
	CHECK(at4g && at5g && top && !board_phys_ptr(b, last + 4096, 1));
	if (!at4g || !at5g || !top)
		return;
	memcpy(at4g + 16, "above 4 GiB", 12);
	memcpy(at5g + 8, "memfd at 4 GiB", 15);
	memcpy(top + 4000, "the last page", 14);
	const uint8_t *low = board_phys_ptr(b, 16, 12);
	CHECK(low && memcmp(low, "above 4 GiB", 12));
	int ret = board_snapshot_save(b, path, err, sizeof(err));
	CHECK_EQ(ret, 0);
	if (ret)
		fprintf(stderr, "test_snapshot: %s\n", err);
	board_destroy(b);

	cfg.restore_path = path;
	CHECK_EQ(board_create(&b, &cfg, err, sizeof(err)), 0);
	ret = board_snapshot_restore(b, path, err, sizeof(err));
	CHECK_EQ(ret, 0);
	if (ret)
		fprintf(stderr, "test_snapshot: %s\n", err);
	at4g = (uint8_t *)board_phys_ptr(b, high, 4096);
	at5g = (uint8_t *)board_phys_ptr(b, past, 4096);
	top = (uint8_t *)board_phys_ptr(b, last, 4096);
	CHECK(at4g && !memcmp(at4g + 16, "above 4 GiB", 12));
	CHECK(at5g && !memcmp(at5g + 8, "memfd at 4 GiB", 15));
	CHECK(top && !memcmp(top + 4000, "the last page", 14));
	low = board_phys_ptr(b, 16, 12);
	CHECK(low && memcmp(low, "above 4 GiB", 12));
	low = board_phys_ptr(b, (uint32_t)last + 4000, 14);
	CHECK(low && memcmp(low, "the last page", 14));
	board_destroy(b);
}

/* The A20 gate is in the snapshot (as the KBC's and port 0x92's
 * registers): a machine saved with it closed is restored closed, its
 * processor's pin applied before it runs again, and saved again the same. */
static void test_a20(const char *kernel)
{
	char err[512];
	const char *first = work_path("a20-first.snap");
	const char *second = work_path("a20-second.snap");
	struct board_regs regs;
	uint64_t gpa = 0;

	struct board *b = new_board(kernel, NULL);
	CHECK(b != NULL);
	if (!b)
		return;
	CHECK(board_linear_to_phys(b, 0, 0x130000, &gpa));
	CHECK_EQ(gpa, 0x130000);   /* open at power-on */
	CHECK_EQ(board_run(b), 33);
	board_vcpu_get_regs(b, 0, &regs);
	CHECK_EQ(regs.s.a20_cleared, A20_ADDRESS_BIT);
	CHECK(board_linear_to_phys(b, 0, 0x130000, &gpa));
	CHECK_EQ(gpa, 0x30000);
	int ret = board_snapshot_save(b, first, err, sizeof(err));
	CHECK_EQ(ret, 0);
	if (ret)
		fprintf(stderr, "test_snapshot: %s\n", err);
	free_board(b);

	b = new_board(kernel, first);
	CHECK(b != NULL);
	if (!b)
		return;
	ret = board_snapshot_restore(b, first, err, sizeof(err));
	CHECK_EQ(ret, 0);
	if (ret)
		fprintf(stderr, "test_snapshot: %s\n", err);
	board_vcpu_get_regs(b, 0, &regs);
	CHECK_EQ(regs.s.a20_cleared, A20_ADDRESS_BIT);
	CHECK(board_linear_to_phys(b, 0, 0x130000, &gpa));
	CHECK_EQ(gpa, 0x30000);
	CHECK_EQ(board_snapshot_save(b, second, err, sizeof(err)), 0);
	free_board(b);

	struct section_copy a[MAX_SECTIONS], c[MAX_SECTIONS];
	unsigned na = read_sections(first, a, MAX_SECTIONS);
	unsigned nc = read_sections(second, c, MAX_SECTIONS);
	CHECK_EQ(na, nc);
	for (unsigned i = 0; i < na && i < nc; i++) {
		if (!strcmp(a[i].tag, "CLCK"))
			continue;
		CHECK(same_section(&a[i], &c[i]));
	}
	free_sections(a, na);
	free_sections(c, nc);
}

/* Virtual-8086 mode is in the snapshot (VM in EFLAGS, CPL 3, the segment
 * caches): tests/guests/v86.asm, told "v86-snap", stops through
 * isa-debug-exit in the middle of v86 code; restored into a new machine
 * it is still there, and runs on to its pass. */
static void test_v86(const char *kernel)
{
	char err[512];
	const char *path = work_path("v86.snap");
	struct board_regs regs;

	struct board *b = new_board_with(kernel, NULL, "v86-snap");
	CHECK(b != NULL);
	if (!b)
		return;
	CHECK_EQ(board_run(b), (0x22 << 1) | 1);
	board_vcpu_get_regs(b, 0, &regs);
	uint32_t eip = regs.s.eip;
	CHECK(regs.eflags & EFLAGS_VM);
	CHECK_EQ(regs.s.cpl, 3);
	int ret = board_snapshot_save(b, path, err, sizeof(err));
	CHECK_EQ(ret, 0);
	if (ret)
		fprintf(stderr, "test_snapshot: %s\n", err);
	free_board(b);

	b = new_board_with(kernel, path, "v86-snap");
	CHECK(b != NULL);
	if (!b)
		return;
	ret = board_snapshot_restore(b, path, err, sizeof(err));
	CHECK_EQ(ret, 0);
	if (ret)
		fprintf(stderr, "test_snapshot: %s\n", err);
	board_vcpu_get_regs(b, 0, &regs);
	CHECK(regs.eflags & EFLAGS_VM);
	CHECK_EQ(regs.s.cpl, 3);
	CHECK_EQ(regs.s.eip, eip);
	CHECK_EQ(regs.s.seg[SEG_CS].base, 0x20000);
	CHECK_EQ(regs.s.seg[SEG_ES].selector, 0x3100);
	CHECK_EQ(regs.s.seg[SEG_ES].base, 0x31000);
	CHECK_EQ(regs.s.seg[SEG_SS].limit, 0xffff);
	CHECK_EQ(board_run(b), 33);
	free_board(b);
}

/* A snapshot of an --smp 4 machine, saved where tests/guests/smp_snap.asm
 * stops ("mid-stop"): AP 1 counting, AP 2 halted, AP 3 waiting for a
 * start-up IPI. Restored into a new machine of four, every vCPU is where
 * it was (registers, HLT, the wait), every TSC the BSP's and none behind
 * the saved one, a second save is the same but for guest time, and the
 * guest runs on to its pass (its counts go on, AP 2 wakes, AP 3 starts,
 * the TSCs agree). A TSC the guest set apart on one vCPU stays apart by as
 * much. A machine of another count, and damaged per-CPU sections, are
 * refused with one line. */
#define SMP_VCPUS 4u
#define SMP_STOP_STATUS ((0x22 << 1) | 1)

static bool one_line(const char *err)
{
	return err[0] && !strchr(err, '\n');
}

static void test_smp(const char *kernel, unsigned traces)
{
	char err[512];
	const char *first = work_path("smp-first.snap");
	const char *second = work_path("smp-second.snap");
	const char *other = work_path("smp-other.snap");
	struct board_regs before[SMP_VCPUS], after;

	struct board *b = new_board_smp(kernel, NULL, "mid-stop", SMP_VCPUS, traces);
	CHECK(b != NULL);
	if (!b)
		return;
	CHECK_EQ(board_run(b), SMP_STOP_STATUS);
	for (unsigned i = 0; i < SMP_VCPUS; i++)
		board_vcpu_get_regs(b, i, &before[i]);
	CHECK(!before[1].halted && !b->vcpus[1].wait_sipi);
	CHECK(before[2].halted && !b->vcpus[2].wait_sipi);
	CHECK(b->vcpus[3].wait_sipi);
	CHECK(before[1].regs[REG_EBX] >= 1000);   /* AP 1's count */
	CHECK_EQ(before[2].regs[REG_EBX], 500);   /* AP 2's, halted at it */
	int ret = board_snapshot_save(b, first, err, sizeof(err));
	CHECK_EQ(ret, 0);
	if (ret)
		fprintf(stderr, "test_snapshot: %s\n", err);
	/* The guest set AP 2's TSC apart (a WRMSR to IA32_TSC on it). */
	b->vcpus[2].cpu.tsc_offset += 12345;
	const char *apart = work_path("smp-apart.snap");
	CHECK_EQ(board_snapshot_save(b, apart, err, sizeof(err)), 0);
	free_board(b);

	struct board_snapshot_config *sc = malloc(sizeof(*sc));
	CHECK(sc != NULL);
	if (sc) {
		CHECK_EQ(board_snapshot_read_config(first, sc, err, sizeof(err)), 0);
		CHECK_EQ(sc->cfg.smp, SMP_VCPUS);
		free(sc);
	}

	struct section_copy a[MAX_SECTIONS + 8], c[MAX_SECTIONS + 8];
	unsigned na = read_sections(first, a, MAX_SECTIONS + 8);
	uint64_t saved_tsc = 0;
	for (unsigned i = 0; i < na; i++)
		if (!strcmp(a[i].tag, "CLCK") && a[i].len >= 16)
			memcpy(&saved_tsc, a[i].data + 8, 8);   /* guest ns, then the TSC */
	CHECK(saved_tsc != 0);

	/* Restored: every vCPU where it was, every TSC the BSP's. */
	b = new_board_smp(kernel, first, "mid-stop", SMP_VCPUS, traces);
	CHECK(b != NULL);
	if (!b)
		return;
	ret = board_snapshot_restore(b, first, err, sizeof(err));
	CHECK_EQ(ret, 0);
	if (ret)
		fprintf(stderr, "test_snapshot: %s\n", err);
	for (unsigned i = 0; i < SMP_VCPUS; i++) {
		board_vcpu_get_regs(b, i, &after);
		CHECK_EQ(after.s.eip, before[i].s.eip);
		CHECK_EQ(after.regs[REG_EBX], before[i].regs[REG_EBX]);
		CHECK_EQ(after.regs[REG_ESP], before[i].regs[REG_ESP]);
		CHECK_EQ(after.halted, before[i].halted);
		CHECK_EQ(b->vcpus[i].cpu.tsc_offset, b->vcpus[0].cpu.tsc_offset);
	}
	CHECK(!b->vcpus[1].wait_sipi && !b->vcpus[2].wait_sipi && b->vcpus[3].wait_sipi);
	uint64_t guest_ns, tsc;
	board_guest_time(b, &guest_ns, &tsc);
	CHECK(tsc >= saved_tsc);
	CHECK_EQ(board_snapshot_save(b, second, err, sizeof(err)), 0);
	unsigned nc = read_sections(second, c, MAX_SECTIONS + 8);
	CHECK_EQ(na, nc);
	unsigned per_cpu = 0;
	for (unsigned i = 0; i < na && i < nc; i++) {
		CHECK(!strcmp(a[i].tag, c[i].tag));
		per_cpu += (!strncmp(a[i].tag, "CPU", 3) && strcmp(a[i].tag, "CPUM")) ||
			   !strncmp(a[i].tag, "LAP", 3) || !strcmp(a[i].tag, "SMP ");
		if (!strcmp(a[i].tag, "CLCK"))
			continue;
		bool same = same_section(&a[i], &c[i]);
		if (!same)
			fprintf(stderr, "test_snapshot: section '%s' differs after a restore\n",
				a[i].tag);
		CHECK(same);
	}
	CHECK_EQ(per_cpu, 2 * SMP_VCPUS + 1);   /* CPU, CPU1-3, LAPC, LAP1-3, SMP */
	/* And on: the guest checks its counts, the wake-up, the start-up
	 * and the TSCs. */
	CHECK_EQ(board_run(b), 33);
	free_board(b);

	/* The TSC set apart stays apart by as much. */
	b = new_board_smp(kernel, apart, NULL, SMP_VCPUS, traces);
	CHECK(b != NULL);
	if (b) {
		CHECK_EQ(board_snapshot_restore(b, apart, err, sizeof(err)), 0);
		CHECK_EQ(b->vcpus[1].cpu.tsc_offset, b->vcpus[0].cpu.tsc_offset);
		CHECK_EQ(b->vcpus[2].cpu.tsc_offset - b->vcpus[0].cpu.tsc_offset, 12345);
		CHECK_EQ(b->vcpus[3].cpu.tsc_offset, b->vcpus[0].cpu.tsc_offset);
		free_board(b);
	}

	/* Into a machine of two: refused, naming both counts. */
	b = new_board_smp(kernel, first, NULL, 2, traces);
	CHECK(b != NULL);
	if (b) {
		err[0] = '\0';
		CHECK(board_snapshot_restore(b, first, err, sizeof(err)) < 0);
		CHECK_STR_CONTAINS(err, "of 4 vCPUs, this machine has 2");
		free_board(b);
	}

	/* Damaged per-CPU sections: each refused with one line. */
	struct section_copy d[MAX_SECTIONS + 8];
	struct {
		const char *tag;
		int how;          /* 0 cut short, 1 dropped, 2 a count of 3, 3 renamed CPU5 */
		const char *says;
	} damage[] = {
		{ "CPU2", 0, "CPU2" }, { "LAP3", 0, "LAP3" }, { "SMP ", 0, "SMP" },
		{ "CPU3", 1, "incomplete snapshot" }, { "SMP ", 1, "incomplete snapshot" },
		{ "SMP ", 2, "3 vCPUs" }, { "LAP1", 3, "does not have" },
	};
	for (unsigned k = 0; k < sizeof(damage) / sizeof(damage[0]); k++) {
		unsigned n = 0;
		for (unsigned i = 0; i < nc; i++) {
			d[n] = c[i];
			if (strcmp(c[i].tag, damage[k].tag)) {
				n++;
				continue;
			}
			if (damage[k].how == 1)
				continue;
			if (damage[k].how == 0)
				d[n].len = d[n].len > 3 ? d[n].len - 3 : 0;
			if (damage[k].how == 2) {
				d[n].data = malloc(d[n].len);
				memcpy(d[n].data, c[i].data, d[n].len);
				d[n].data[0] = 3;   /* the count, little-endian */
			}
			if (damage[k].how == 3)
				memcpy(d[n].tag, "CPU5", 5);
			n++;
		}
		CHECK_EQ(write_sections(other, d, n), 0);
		for (unsigned i = 0; i < n; i++)
			if (damage[k].how == 2 && !strcmp(d[i].tag, "SMP "))
				free(d[i].data);
		b = new_board_smp(kernel, other, NULL, SMP_VCPUS, traces);
		CHECK(b != NULL);
		if (!b)
			continue;
		err[0] = '\0';
		CHECK(board_snapshot_restore(b, other, err, sizeof(err)) < 0);
		CHECK(one_line(err));
		CHECK_STR_CONTAINS(err, damage[k].says);
		free_board(b);
	}
	free_sections(a, na);
	free_sections(c, nc);
}

static void remove_work(void)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
	if (system(cmd) != 0)
		fprintf(stderr, "test_snapshot: cannot remove %s\n", work);
}

int main(int argc, char **argv)
{
	if (argc < 2 || ((!strcmp(argv[1], "--a20") || !strcmp(argv[1], "--v86") ||
			  !strcmp(argv[1], "--smp") || !strcmp(argv[1], "--smp-traces")) && argc != 3)) {
		fprintf(stderr, "usage: test_snapshot GUEST.elf [OUT.snap] | --a20 A20.elf | --v86 V86.elf"
			" | --smp SMP_SNAP.elf | --smp-traces SMP_SNAP.elf\n");
		return 2;
	}
	if (!mkdtemp(work)) {
		perror("test_snapshot: mkdtemp");
		return 1;
	}
	if (!strcmp(argv[1], "--a20")) {
		test_a20(argv[2]);
		remove_work();
		return check_report("test_snapshot");
	}
	if (!strcmp(argv[1], "--smp") || !strcmp(argv[1], "--smp-traces")) {
		/* --smp-traces: the same with hot traces forming at the second
		 * arrival at a loop's head, before the save and after the
		 * restore (which flushes the cache amid a recording). */
		test_smp(argv[2], !strcmp(argv[1], "--smp-traces") ? 2 : 0);
		remove_work();
		return check_report("test_snapshot");
	}
	if (!strcmp(argv[1], "--v86")) {
		test_v86(argv[2]);
		remove_work();
		return check_report("test_snapshot");
	}
	test_format_round_trip();
	test_format_header_at_flush();
	test_format_refusals();
	test_machine(argv[1], argc > 2 ? argv[2] : NULL);
	test_rtc_catch_up(argv[1]);
	test_cpu_hold(argv[1]);
	test_high_ram(argv[1]);
	remove_work();
	return check_report("test_snapshot");
}
