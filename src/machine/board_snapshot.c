/* Snapshots of the whole machine: which sections a snapshot holds and in
 * what order, the machine's configuration, the CPUID model's identity,
 * guest time, guest RAM with device memory, and the board's own bits;
 * each device saves and loads its own section (X_save/X_load in its
 * file). The order matters on restore: devices that drive interrupt
 * lines come before the controllers, whose saved state then stands. */
#define _GNU_SOURCE
#include "machine/board_snapshot.h"

#include "machine/board_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpu/cpu_snapshot.h"
#include "host/clock.h"
#include "host/snapfile.h"
#include "isa/cpuid.h"

/* 2: the IDE drives, the disk a kernel came from, the firmware's ROM
 * image and boot order (a btvm without them wrote 1; its snapshots have
 * no IDE section and are refused). 3: the vCPU count at the end; a
 * version-2 snapshot is of one vCPU. 4: whether the machine has the
 * virtio tablet, at the end; an older snapshot's machine has none. 5:
 * whether it has the AC'97 sound card, after that; an older one's has
 * none. */
#define CONF_VERSION 5u
#define CONF_VERSION_NO_SOUND 4u
#define CONF_VERSION_NO_TABLET 3u
#define CONF_VERSION_ONE_VCPU 2u
#define CPUM_VERSION 1u
/* 2: whether the machine was paused, and the host's wall-clock time the
 * saved guest time stands for (a version-1 snapshot restores running,
 * its RTC where it was saved). */
#define CLCK_VERSION 2u
#define CLCK_VERSION_NO_WALL 1u
#define MEM_VERSION 1u
#define BORD_VERSION 1u
#define SMP_VERSION 1u
/* zstd's fastest level: a save stops the guest, and RAM compresses well
 * enough at it (zero pages are not written at all). */
#define SNAP_ZSTD_LEVEL 1
/* RAM goes as chunks of this many pages, each with a bitmap of the pages
 * that are not all zeros, followed by those pages. */
#define MEM_CHUNK_PAGES 256u
#define PAGE 4096u
/* How far the restoring host's TSC rate may differ before a warning. */
#define TSC_RATE_TOLERANCE_PPM 10000u

/* The sections every snapshot has; disks and the network card as
 * configured. */
/* With --smp N > 1, application processor i (1 to N - 1) has sections
 * CPUi and LAPi, as the BSP's CPU and LAPC, and SMP holds what is the
 * slots' own (smp.c). */
enum section {
	S_CONF, S_CPUM, S_CLCK, S_CPU, S_MEM, S_BOCH, S_BLK0, S_VNET = S_BLK0 + BOARD_MAX_DISKS,
	S_IDE, S_PCI, S_VGA, S_UART, S_RTC, S_PIT, S_APM, S_KBC, S_MOUS, S_P92, S_TDEV, S_BORD, S_IOAP,
	S_LAPC, S_PIC, S_FWCF, S_HPET, S_SMP, S_VINP, S_AC97, S_CPU_AP, S_LAP_AP = S_CPU_AP + BOARD_MAX_VCPUS - 1,
	S_COUNT = S_LAP_AP + BOARD_MAX_VCPUS - 1
};

static const char *const tags[S_COUNT] = {
	[S_CONF] = "CONF", [S_CPUM] = "CPUM", [S_CLCK] = "CLCK", [S_CPU] = "CPU ",
	[S_MEM] = "MEM ", [S_BOCH] = "BOCH", [S_BLK0] = "BLK0", [S_BLK0 + 1] = "BLK1",
	[S_BLK0 + 2] = "BLK2", [S_BLK0 + 3] = "BLK3", [S_VNET] = "VNET", [S_IDE] = "IDE ", [S_PCI] = "PCI ",
	[S_VGA] = "VGA ", [S_UART] = "UART", [S_RTC] = "RTC ", [S_PIT] = "PIT ", [S_APM] = "APM ",
	[S_KBC] = "KBC ", [S_MOUS] = "MOUS", [S_P92] = "P92 ", [S_TDEV] = "TDEV",
	[S_BORD] = "BORD", [S_IOAP] = "IOAP", [S_LAPC] = "LAPC", [S_PIC] = "PIC ",
	[S_FWCF] = "FWCF", [S_HPET] = "HPET", [S_SMP] = "SMP ", [S_VINP] = "VINP", [S_AC97] = "AC97",
	[S_CPU_AP] = "CPU1", [S_CPU_AP + 1] = "CPU2", [S_CPU_AP + 2] = "CPU3", [S_CPU_AP + 3] = "CPU4",
	[S_CPU_AP + 4] = "CPU5", [S_CPU_AP + 5] = "CPU6", [S_CPU_AP + 6] = "CPU7",
	[S_LAP_AP] = "LAP1", [S_LAP_AP + 1] = "LAP2", [S_LAP_AP + 2] = "LAP3", [S_LAP_AP + 3] = "LAP4",
	[S_LAP_AP + 4] = "LAP5", [S_LAP_AP + 5] = "LAP6", [S_LAP_AP + 6] = "LAP7",
};
_Static_assert(BOARD_MAX_VCPUS == 8, "a CPUn and LAPn tag for each application processor");

/* ------------------------------------------------------------ identity */

/* The guest-visible CPU: every leaf of btvm's model. A snapshot restored
 * under another model would show the guest a CPU changing under it. The
 * TSC's rate (leaves 0x15 and 0x16) is the host's, checked on its own. */
struct cpu_identity {
	char vendor[13];
	uint32_t signature, features;
	uint32_t digest;
};

static void cpu_identity(struct cpu_identity *id)
{
	/* Leaf and subleaf: leaf 4's caches up to the null one that ends
	 * them, leaf 0xB's levels up to the invalid one; every leaf that is
	 * not all zeros. */
	static const uint32_t leaves[][2] = {
		{ 0, 0 }, { 1, 0 }, { 2, 0 }, { 4, 0 }, { 4, 1 }, { 4, 2 }, { 4, 3 },
		{ 0xA, 0 }, { 0xB, 0 }, { 0xB, 1 }, { 0xB, 2 },
		{ 0x15, 0 }, { 0x16, 0 }, { 0x80000000u, 0 }, { 0x80000001u, 0 },
		{ 0x80000002u, 0 }, { 0x80000003u, 0 }, { 0x80000004u, 0 },
		{ 0x80000006u, 0 }, { 0x80000008u, 0 },
	};
	uint32_t crc = 0;
	memset(id, 0, sizeof(*id));
	for (unsigned i = 0; i < sizeof(leaves) / sizeof(leaves[0]); i++) {
		struct cpuid_result c = cpuid_model(leaves[i][0], leaves[i][1], true, 0);
		uint32_t v[4] = { c.eax, c.ebx, c.ecx, c.edx };
		for (unsigned j = 0; j < 4; j++)
			for (unsigned b = 0; b < 4; b++)
				crc = (crc ^ (uint8_t)(v[j] >> (8 * b))) * 0x01000193u;  /* FNV-1a */
		if (leaves[i][0] == 0) {
			memcpy(id->vendor, &c.ebx, 4);
			memcpy(id->vendor + 4, &c.edx, 4);
			memcpy(id->vendor + 8, &c.ecx, 4);
		} else if (leaves[i][0] == 1) {
			id->signature = c.eax;
			id->features = c.edx;
		}
	}
	id->digest = crc;
}

static void save_cpu_identity(struct snap_writer *w)
{
	struct cpu_identity id;
	cpu_identity(&id);
	snapw_begin(w, tags[S_CPUM], CPUM_VERSION, false);
	snapw_str(w, id.vendor);
	snapw_u32(w, id.signature);
	snapw_u32(w, id.features);
	snapw_u32(w, id.digest);
	snapw_end(w);
}

static int check_cpu_identity(struct snap_reader *r)
{
	struct cpu_identity mine, theirs;
	cpu_identity(&mine);
	if (r->version != CPUM_VERSION)
		return snapr_fail(r, "version %u, this btvm reads %u", r->version, CPUM_VERSION);
	snapr_str(r, theirs.vendor, sizeof(theirs.vendor));
	theirs.signature = snapr_u32(r);
	theirs.features = snapr_u32(r);
	theirs.digest = snapr_u32(r);
	if (snapr_end(r))
		return r->err;
	if (theirs.digest != mine.digest)
		return snapr_fail(r, "taken with another CPU model (%s, signature 0x%x, features "
				  "0x%08x) than this btvm's (%s, 0x%x, 0x%08x): the guest would see "
				  "its CPU change",
				  theirs.vendor, theirs.signature, theirs.features, mine.vendor,
				  mine.signature, mine.features);
	return 0;
}

/* ------------------------------------------------------- configuration */

/* Paths as absolute ones where they resolve, so that a restore from
 * another directory finds the same files. */
static void save_path(struct snap_writer *w, const char *path)
{
	char abs[PATH_MAX];
	snapw_str(w, path && realpath(path, abs) ? abs : path);
}

static void save_config(const struct board *board, struct snap_writer *w)
{
	const struct board_config *c = &board->cfg;
	snapw_begin(w, tags[S_CONF], CONF_VERSION, false);
	snapw_u64(w, board->ram.size);
	snapw_u64(w, board->ram.devmem_size);
	/* Disk-booted kernels are named inside the disk's filesystem. */
	if (c->kernel_from_disk)
		snapw_str(w, c->kernel_path);
	else
		save_path(w, c->kernel_path);
	snapw_bool(w, c->initrd_path != NULL);
	if (c->kernel_from_disk)
		snapw_str(w, c->initrd_path);
	else
		save_path(w, c->initrd_path);
	snapw_bool(w, c->cmdline != NULL);
	snapw_str(w, c->cmdline);
	snapw_bool(w, c->kernel_from_disk);
	snapw_u32(w, c->fb_width);
	snapw_u32(w, c->fb_height);
	snapw_u32(w, c->ndisks);
	for (unsigned i = 0; i < c->ndisks; i++) {
		save_path(w, c->disks[i].path);
		snapw_bool(w, c->disks[i].readonly);
	}
	/* The IDE drives; a CD drive's medium as it is now (the monitor may
	 * have changed it), so that the restoring btvm opens that one. */
	for (unsigned slot = 0; slot < BOARD_IDE_SLOTS; slot++) {
		const struct ide_drive *d = &board->ide.ch[slot / IDE_UNITS].drive[slot % IDE_UNITS];
		snapw_u8(w, (uint8_t)c->ide[slot].kind);
		if (c->ide[slot].kind == BOARD_IDE_NONE)
			continue;
		snapw_bool(w, d->image != NULL);
		if (d->image)
			save_path(w, d->image->path);
		snapw_bool(w, c->ide[slot].readonly);
	}
	snapw_bool(w, c->kernel_disk != NULL);
	if (c->kernel_disk)
		save_path(w, c->kernel_disk);
	snapw_bool(w, c->snapshot);
	snapw_bool(w, c->net.enabled);
	snapw_u32(w, c->net.nfwd);
	for (unsigned i = 0; i < c->net.nfwd; i++) {
		const struct slirp_net_fwd *f = &c->net.fwd[i];
		snapw_bool(w, f->udp);
		snapw_u32(w, f->host_addr.s_addr);
		snapw_u16(w, f->host_port);
		snapw_u32(w, f->guest_addr.s_addr);
		snapw_u16(w, f->guest_port);
	}
	/* Booted through firmware: its ROM image, read again for a reset. */
	snapw_bool(w, c->bios_path != NULL);
	save_path(w, c->bios_path);
	snapw_str(w, c->boot_order);
	snapw_bool(w, c->first_disk_ide);
	snapw_u32(w, board->nvcpus);
	snapw_bool(w, c->tablet == TABLET_ON);
	snapw_bool(w, c->sound == SOUND_AC97);
	snapw_end(w);
}

static int load_config(struct snap_reader *r, struct board_snapshot_config *sc,
		       uint64_t *ram_size, uint64_t *devmem_size)
{
	struct board_config *c = &sc->cfg;
	if (r->version < CONF_VERSION_ONE_VCPU || r->version > CONF_VERSION)
		return snapr_fail(r, "version %u, this btvm reads %u to %u", r->version,
				  CONF_VERSION_ONE_VCPU, CONF_VERSION);
	*ram_size = snapr_u64(r);
	*devmem_size = snapr_u64(r);
	snapr_str(r, sc->kernel, sizeof(sc->kernel));
	sc->has_initrd = snapr_bool(r);
	snapr_str(r, sc->initrd, sizeof(sc->initrd));
	sc->has_cmdline = snapr_bool(r);
	snapr_str(r, sc->cmdline, sizeof(sc->cmdline));
	c->kernel_from_disk = snapr_bool(r);
	c->fb_width = snapr_u32(r);
	c->fb_height = snapr_u32(r);
	c->ndisks = snapr_u32(r);
	if (!r->err && c->ndisks > BOARD_MAX_DISKS)
		return snapr_fail(r, "%u disks (at most %u)", c->ndisks, BOARD_MAX_DISKS);
	for (unsigned i = 0; i < c->ndisks && !r->err; i++) {
		snapr_str(r, sc->disks[i], sizeof(sc->disks[i]));
		c->disks[i].path = sc->disks[i];
		c->disks[i].readonly = snapr_bool(r);
	}
	for (unsigned slot = 0; slot < BOARD_IDE_SLOTS && !r->err; slot++) {
		struct board_ide_drive *d = &c->ide[slot];
		uint8_t kind = snapr_u8(r);
		if (!r->err && kind > BOARD_IDE_CDROM)
			return snapr_fail(r, "IDE slot %u of kind %u", slot, kind);
		d->kind = (enum board_ide_kind)kind;
		if (d->kind == BOARD_IDE_NONE)
			continue;
		if (snapr_bool(r)) {
			snapr_str(r, sc->ide[slot], sizeof(sc->ide[slot]));
			d->path = sc->ide[slot];
		}
		d->readonly = snapr_bool(r);
		if (!r->err && d->kind == BOARD_IDE_DISK && !d->path)
			return snapr_fail(r, "IDE disk %u has no image", slot);
	}
	if (snapr_bool(r)) {
		snapr_str(r, sc->kernel_disk, sizeof(sc->kernel_disk));
		c->kernel_disk = sc->kernel_disk;
	}
	c->snapshot = snapr_bool(r);
	c->net.enabled = snapr_bool(r);
	c->net.nfwd = snapr_u32(r);
	if (!r->err && c->net.nfwd > SLIRP_NET_MAX_FWD)
		return snapr_fail(r, "%u port forwards (at most %u)", c->net.nfwd, SLIRP_NET_MAX_FWD);
	for (unsigned i = 0; i < c->net.nfwd && !r->err; i++) {
		struct slirp_net_fwd *f = &c->net.fwd[i];
		f->udp = snapr_bool(r);
		f->host_addr.s_addr = snapr_u32(r);
		f->host_port = snapr_u16(r);
		f->guest_addr.s_addr = snapr_u32(r);
		f->guest_port = snapr_u16(r);
	}
	bool firmware = snapr_bool(r);
	snapr_str(r, sc->bios, sizeof(sc->bios));
	snapr_str(r, c->boot_order, sizeof(c->boot_order));
	c->first_disk_ide = snapr_bool(r);
	c->smp = r->version >= CONF_VERSION_NO_TABLET ? snapr_u32(r) : 1;
	c->tablet = r->version >= CONF_VERSION_NO_SOUND && snapr_bool(r) ? TABLET_ON : TABLET_OFF;
	c->sound = r->version >= CONF_VERSION && snapr_bool(r) ? SOUND_AC97 : SOUND_NONE;
	if (snapr_end(r))
		return r->err;
	if (c->smp < 1 || c->smp > BOARD_MAX_SMP)
		return snapr_fail(r, "%u vCPUs (1 to %u)", c->smp, BOARD_MAX_SMP);
	if (*ram_size % (1u << 20) || *ram_size / (1u << 20) < GUEST_RAM_MIN_MIB ||
	    *ram_size / (1u << 20) > GUEST_RAM_MAX_MIB)
		return snapr_fail(r, "guest RAM of %llu bytes is not supported",
				  (unsigned long long)*ram_size);
	if (c->fb_width > BOARD_FB_MAX_WIDTH || c->fb_height > BOARD_FB_MAX_HEIGHT)
		return snapr_fail(r, "a %ux%u framebuffer is not supported", c->fb_width,
				  c->fb_height);
	if (strspn(c->boot_order, "cd") != strlen(c->boot_order))
		return snapr_fail(r, "a boot order of drives other than c and d");
	if (firmware && !sc->bios[0])
		return snapr_fail(r, "no firmware named");
	if (!firmware && (!sc->kernel[0] || (c->kernel_from_disk && !c->kernel_disk)))
		return snapr_fail(r, "no kernel named");
	c->ram_mib = *ram_size >> 20;
	c->bios_path = firmware ? sc->bios : NULL;
	/* Through the firmware the kernel is optional (--kernel booted by
	 * the firmware, or the disks' boot loader); restored, the board
	 * reads it again for fw_cfg, as the firmware's ROM. */
	c->kernel_path = firmware && !sc->kernel[0] ? NULL : sc->kernel;
	c->initrd_path = sc->has_initrd ? sc->initrd : NULL;
	c->cmdline = sc->has_cmdline ? sc->cmdline : NULL;
	return 0;
}

/* From path, or from fd when path is NULL. */
static int read_config(const char *path, int fd, struct board_snapshot_config *sc, char *err,
		       size_t err_len)
{
	struct snap_reader r;
	uint64_t ram_size, devmem_size;
	memset(sc, 0, sizeof(*sc));
	int ret = path ? snapr_open(&r, path) : snapr_open_fd(&r, fd, "the migration's configuration");
	if (!ret)
		ret = snapr_next(&r);
	if (ret == 1)
		ret = strcmp(r.tag, tags[S_CONF]) ? snapr_fail(&r, "comes first, not the configuration")
						  : load_config(&r, sc, &ram_size, &devmem_size);
	if (!ret)
		ret = snapr_next(&r);
	if (ret == 1)
		ret = strcmp(r.tag, tags[S_CPUM]) ? snapr_fail(&r, "where the CPU model belongs")
						  : check_cpu_identity(&r);
	else if (!ret)
		ret = snapr_fail(&r, "ends before the machine's state");
	if (ret)
		snprintf(err, err_len, "%s", r.msg);
	snapr_close(&r);
	return ret;
}

int board_snapshot_read_config(const char *path, struct board_snapshot_config *sc, char *err,
			       size_t err_len)
{
	return read_config(path, -1, sc, err, err_len);
}

int board_snapshot_read_config_fd(int fd, struct board_snapshot_config *sc, char *err,
				  size_t err_len)
{
	return read_config(NULL, fd, sc, err, err_len);
}

/* --------------------------------------------------------------- memory */

static void save_memory(const struct board *board, struct snap_writer *w)
{
	const struct guest_ram *ram = &board->ram;
	uint64_t total = ram->size + ram->devmem_size;
	struct guest_ram_extents cur = { .fd = ram->memfd };
	snapw_begin(w, tags[S_MEM], MEM_VERSION, true);
	snapw_u64(w, ram->size);
	snapw_u64(w, ram->devmem_size);
	for (uint64_t chunk = 0; chunk < total && !w->err; chunk += MEM_CHUNK_PAGES * PAGE) {
		uint8_t bitmap[MEM_CHUNK_PAGES / 8] = { 0 };
		unsigned n = 0;
		for (unsigned i = 0; i < MEM_CHUNK_PAGES && chunk + (uint64_t)i * PAGE < total; i++) {
			uint64_t off = chunk + (uint64_t)i * PAGE;
			if (guest_ram_has_data(&cur, off) && !guest_page_is_zero(ram->host + off)) {
				bitmap[i / 8] |= (uint8_t)(1u << (i % 8));
				n++;
			}
		}
		snapw_bytes(w, bitmap, sizeof(bitmap));
		for (unsigned i = 0; n && i < MEM_CHUNK_PAGES; i++)
			if (bitmap[i / 8] & (1u << (i % 8)))
				snapw_bytes(w, ram->host + chunk + (uint64_t)i * PAGE, PAGE);
	}
	snapw_end(w);
}

static int load_memory(struct board *board, struct snap_reader *r)
{
	struct guest_ram *ram = &board->ram;
	uint64_t total = ram->size + ram->devmem_size;
	if (r->version != MEM_VERSION)
		return snapr_fail(r, "version %u, this btvm reads %u", r->version, MEM_VERSION);
	uint64_t size = snapr_u64(r), devmem = snapr_u64(r);
	if (r->err)
		return r->err;
	if (size != ram->size || devmem != ram->devmem_size)
		return snapr_fail(r, "%llu MiB of RAM and %llu of device memory, this machine has "
				  "%llu and %llu", (unsigned long long)(size >> 20),
				  (unsigned long long)(devmem >> 20),
				  (unsigned long long)(ram->size >> 20),
				  (unsigned long long)(ram->devmem_size >> 20));
	/* All zeros first (and the memory given back): only pages that are
	 * not zero are in the file. */
	if (fallocate(ram->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)total))
		memset(ram->host, 0, total);
	for (uint64_t chunk = 0; chunk < total && !r->err; chunk += MEM_CHUNK_PAGES * PAGE) {
		uint8_t bitmap[MEM_CHUNK_PAGES / 8];
		snapr_bytes(r, bitmap, sizeof(bitmap));
		for (unsigned i = 0; i < MEM_CHUNK_PAGES && !r->err; i++) {
			if (!(bitmap[i / 8] & (1u << (i % 8))))
				continue;
			uint64_t off = chunk + (uint64_t)i * PAGE;
			if (off >= total)
				return snapr_fail(r, "a page beyond the end of memory");
			snapr_bytes(r, ram->host + off, PAGE);
		}
	}
	return snapr_end(r);
}

/* ------------------------------------------------------ the board's own */

static void save_board(const struct board *board, struct snap_writer *w)
{
	snapw_begin(w, tags[S_BORD], BORD_VERSION, false);
	snapw_bool(w, board->reset_requested);
	snapw_u32(w, board->acpi_rsdp);
	snapw_u8(w, board->port_b);
	snapw_bool(w, board->refresh_toggle);
	snapw_u8(w, (uint8_t)board->boot_kind);
	snapw_end(w);
}

static int load_board(struct board *board, struct snap_reader *r)
{
	if (r->version != BORD_VERSION)
		return snapr_fail(r, "version %u, this btvm reads %u", r->version, BORD_VERSION);
	board->reset_requested = snapr_bool(r);
	board->acpi_rsdp = snapr_u32(r);
	board->port_b = snapr_u8(r) & (PORT_B_WRITABLE | PORT_B_IOCHK_STATUS);
	if (board->port_b & PORT_B_IOCHK_DISABLE)
		board->port_b &= (uint8_t)~PORT_B_IOCHK_STATUS;
	board->refresh_toggle = snapr_bool(r);
	uint8_t kind = snapr_u8(r);
	if (!r->err && kind > BOOT_FIRMWARE)
		return snapr_fail(r, "boot kind %u", kind);
	board->boot_kind = (enum boot_kind)kind;
	return snapr_end(r);
}

/* The vCPU slots' own state (smp.c), with N > 1: per application
 * processor whether it waits for a start-up IPI, and its TSC's distance
 * from the BSP's (CLCK holds the BSP's TSC; the distance is 0 unless the
 * guest wrote IA32_TSC on one vCPU). HLT is in each CPU section. The
 * BSP takes the first turn after a restore, as after any switch. */
static void save_smp(const struct board *board, struct snap_writer *w)
{
	snapw_begin(w, tags[S_SMP], SMP_VERSION, false);
	snapw_u32(w, board->nvcpus);
	for (unsigned i = 1; i < board->nvcpus; i++) {
		const struct board_vcpu *v = &board->vcpus[i];
		snapw_bool(w, v->wait_sipi);
		snapw_u64(w, v->cpu.tsc_offset - board->vcpus[0].cpu.tsc_offset);
	}
	snapw_end(w);
}

static int load_smp(struct board *board, struct snap_reader *r)
{
	if (r->version != SMP_VERSION)
		return snapr_fail(r, "version %u, this btvm reads %u", r->version, SMP_VERSION);
	uint32_t n = snapr_u32(r);
	if (!r->err && n != board->nvcpus)
		return snapr_fail(r, "%u vCPUs, the configuration %u", n, board->nvcpus);
	for (unsigned i = 1; i < board->nvcpus && !r->err; i++) {
		struct board_vcpu *v = &board->vcpus[i];
		v->wait_sipi = snapr_bool(r);
		v->yield = false;
		/* Relative to the BSP's, which board_set_guest_time then sets
		 * (it keeps the distances). */
		v->cpu.tsc_offset = board->vcpus[0].cpu.tsc_offset + snapr_u64(r);
	}
	return snapr_end(r);
}

/* ------------------------------------------------------------------ save */

/* To path, or to fd when path is NULL. */
static int save_state(struct board *board, const char *path, int fd, bool memory, char *err,
		      size_t err_len)
{
	struct snap_writer w;
	sigset_t async, old;

	/* A shared folder's state (the guest's fids, its open files) lives
	 * in its 9P server, which cannot be saved. */
	if (board->cfg.nshares) {
		snprintf(err, err_len,
			 "cannot save a machine with a shared folder (--share %s%s): its state "
			 "lives in the 9P server",
			 board->cfg.shares[0].path,
			 virtio_9p_in_use(&board->shares[0]) ? ", mounted in the guest" : "");
		return -EBUSY;
	}

	/* The compressor's threads, if it makes any, take no signals meant
	 * for the vCPU thread, which takes them once the save is done. */
	sigfillset(&async);
	sigdelset(&async, SIGSEGV);
	sigdelset(&async, SIGBUS);
	sigdelset(&async, SIGFPE);
	sigdelset(&async, SIGILL);
	pthread_sigmask(SIG_BLOCK, &async, &old);

	/* Nothing in flight: every disk request finished and returned. */
	for (unsigned i = 0; i < board->cfg.ndisks; i++)
		virtio_blk_quiesce(&board->disks[i]);
	/* Guest time stops here for the length of the save. Paused, it has
	 * stood since the pause: the wall clock of that moment goes with it. */
	uint64_t guest_ns, tsc;
	board_guest_time(board, &guest_ns, &tsc);
	int64_t wall_ns = board->paused ? board->paused_wall_ns : host_realtime_ns();

	if (!(path ? snapw_open(&w, path, SNAP_ZSTD_LEVEL)
		   : snapw_open_fd(&w, fd, "the migration's state", SNAP_ZSTD_LEVEL))) {
		save_config(board, &w);
		save_cpu_identity(&w);
		snapw_begin(&w, tags[S_CLCK], CLCK_VERSION, false);
		snapw_u64(&w, guest_ns);
		snapw_u64(&w, tsc);
		snapw_bool(&w, board->clk.tsc);
		snapw_u64(&w, board->clk.hz);
		snapw_bool(&w, board->paused);
		snapw_u64(&w, (uint64_t)wall_ns);
		snapw_end(&w);
		cpu_save(&board__bsp(board)->cpu, &w);
		for (unsigned i = 1; i < board->nvcpus; i++)
			cpu_save_as(&board->vcpus[i].cpu, tags[S_CPU_AP + i - 1], &w);
		if (memory)
			save_memory(board, &w);
		/* Interrupt sources before the controllers (see the top). */
		bochs_display_save(&board->bochs, &w);
		for (unsigned i = 0; i < board->cfg.ndisks; i++)
			virtio_blk_save(&board->disks[i], tags[S_BLK0 + i], &w);
		if (board->slirp)
			virtio_net_save(&board->net, &w);
		if (board->cfg.tablet == TABLET_ON)
			virtio_input_save(&board->tablet, &w);
		if (board->cfg.sound == SOUND_AC97)
			ac97_save(&board->ac97, &w);
		ide_save(&board->ide, tags[S_IDE], &w);
		pci_host_save(&board->pci, &w);
		vga_save(&board->vga, &w);
		uart16550_save(&board->com1, &w);
		mc146818_save(&board->rtc, &w);
		pit8254_save(&board->pit, &w);
		acpi_pm_save(&board->pm, &w);
		hpet_save(&board->hpet, &w);
		i8042_save(&board->kbc, &w);
		ps2_mouse_save(&board->kbc.mouse, &w);
		port92_save(&board->port92, &w);
		testdev_save(&board->testdev, &w);
		save_board(board, &w);
		ioapic_save(&board->ioapic, &w);
		lapic_save(&board__bsp(board)->lapic, &w);
		for (unsigned i = 1; i < board->nvcpus; i++)
			lapic_save_as(&board->vcpus[i].lapic, tags[S_LAP_AP + i - 1], &w);
		if (board->nvcpus > 1)
			save_smp(board, &w);
		pic8259_save(&board->pic, &w);
		if (board->firmware)
			fw_cfg_save(&board->fw_cfg, &w);
	}
	int ret = snapw_close(&w);
	if (ret)
		snprintf(err, err_len, "cannot save the snapshot: %s", w.msg);
	/* The guest goes on from where the snapshot has it; its calendar
	 * clock catches up with the save's length as after a pause (a paused
	 * one at the resume). */
	board_set_guest_time(board, guest_ns, tsc);
	if (!board->paused)
		mc146818_move_time(&board->rtc, guest_ns, host_realtime_ns() - wall_ns);
	for (unsigned i = 0; i < board->nvcpus; i++)
		cpu_request_attention(&board->vcpus[i].cpu);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

int board_snapshot_save(struct board *board, const char *path, char *err, size_t err_len)
{
	return save_state(board, path, -1, true, err, err_len);
}

int board_snapshot_save_state_fd(struct board *board, int fd, bool memory, char *err,
				 size_t err_len)
{
	return save_state(board, NULL, fd, memory, err, err_len);
}

/* --------------------------------------------------------------- restore */

static int check_config(const struct board *board, struct snap_reader *r)
{
	struct board_snapshot_config *sc = malloc(sizeof(*sc));
	uint64_t ram_size, devmem_size;
	if (!sc)
		return snapr_fail(r, "out of memory");
	memset(sc, 0, sizeof(*sc));
	int ret = load_config(r, sc, &ram_size, &devmem_size);
	bool same_ide = true;
	for (unsigned slot = 0; slot < BOARD_IDE_SLOTS; slot++)
		same_ide &= sc->cfg.ide[slot].kind == board->cfg.ide[slot].kind;
	if (!ret && (ram_size != board->ram.size || devmem_size != board->ram.devmem_size ||
		     sc->cfg.ndisks != board->cfg.ndisks || !same_ide ||
		     sc->cfg.net.enabled != board->cfg.net.enabled ||
		     sc->cfg.tablet != board->cfg.tablet || sc->cfg.sound != board->cfg.sound ||
		     sc->cfg.snapshot != board->cfg.snapshot ||
		     !sc->cfg.bios_path != !board->cfg.bios_path ||
		     !sc->cfg.kernel_path != !board->cfg.kernel_path))
		ret = snapr_fail(r, "this machine is configured differently (RAM, disks, network, "
				    "tablet, sound)");
	if (!ret && sc->cfg.smp != board->nvcpus)
		ret = snapr_fail(r, "of %u vCPUs, this machine has %u", sc->cfg.smp, board->nvcpus);
	free(sc);
	return ret;
}

/* Section CLCK's contents. */
struct saved_clock {
	uint64_t guest_ns, tsc, hz;
	bool paused;
	bool has_wall;
	int64_t wall_ns;
};

static int load_clock(struct snap_reader *r, struct saved_clock *k)
{
	if (r->version != CLCK_VERSION && r->version != CLCK_VERSION_NO_WALL)
		return snapr_fail(r, "version %u, this btvm reads %u and %u", r->version,
				  CLCK_VERSION_NO_WALL, CLCK_VERSION);
	k->guest_ns = snapr_u64(r);
	k->tsc = snapr_u64(r);
	(void)snapr_bool(r);
	k->hz = snapr_u64(r);
	k->has_wall = r->version >= CLCK_VERSION;
	if (k->has_wall) {
		k->paused = snapr_bool(r);
		k->wall_ns = (int64_t)snapr_u64(r);
	}
	return snapr_end(r);
}

static int load_section(struct board *board, struct snap_reader *r, enum section s,
			struct saved_clock *clock)
{
	switch (s) {
	case S_CONF:
		return check_config(board, r);
	case S_CPUM:
		return check_cpu_identity(r);
	case S_CLCK:
		return load_clock(r, clock);
	case S_CPU:
		return cpu_load(&board__bsp(board)->cpu, r);
	case S_MEM:
		return load_memory(board, r);
	case S_BOCH:
		return bochs_display_load(&board->bochs, r);
	case S_VNET:
		return virtio_net_load(&board->net, r);
	case S_IDE:
		return ide_load(&board->ide, r);
	case S_PCI:
		return pci_host_load(&board->pci, r);
	case S_VGA:
		return vga_load(&board->vga, r);
	case S_UART:
		return uart16550_load(&board->com1, r);
	case S_RTC:
		return mc146818_load(&board->rtc, r);
	case S_PIT:
		return pit8254_load(&board->pit, r);
	case S_APM:
		return acpi_pm_load(&board->pm, r);
	case S_HPET:
		return hpet_load(&board->hpet, r);
	case S_KBC:
		return i8042_load(&board->kbc, r);
	case S_MOUS:
		return ps2_mouse_load(&board->kbc.mouse, r);
	case S_P92:
		return port92_load(&board->port92, r);
	case S_TDEV:
		return testdev_load(&board->testdev, r);
	case S_BORD:
		return load_board(board, r);
	case S_IOAP:
		return ioapic_load(&board->ioapic, r);
	case S_LAPC:
		return lapic_load(&board__bsp(board)->lapic, r);
	case S_PIC:
		return pic8259_load(&board->pic, r);
	case S_FWCF:
		return fw_cfg_load(&board->fw_cfg, r);
	case S_SMP:
		return load_smp(board, r);
	case S_VINP:
		return virtio_input_load(&board->tablet, r);
	case S_AC97:
		return ac97_load(&board->ac97, r);
	default:
		if (s >= S_LAP_AP)
			return lapic_load(&board->vcpus[s - S_LAP_AP + 1].lapic, r);
		if (s >= S_CPU_AP)
			return cpu_load(&board->vcpus[s - S_CPU_AP + 1].cpu, r);
		return virtio_blk_load(&board->disks[s - S_BLK0], r);
	}
}

/* Whether the machine has section s's device. */
static bool section_expected(const struct board *board, enum section s, bool memory)
{
	if (s == S_MEM)
		return memory;
	if (s >= S_BLK0 && s < S_BLK0 + BOARD_MAX_DISKS)
		return (unsigned)(s - S_BLK0) < board->cfg.ndisks;
	if (s == S_VNET)
		return board->slirp != NULL;
	if (s == S_FWCF)
		return board->firmware != NULL;
	if (s == S_SMP)
		return board->nvcpus > 1;
	if (s == S_VINP)
		return board->cfg.tablet == TABLET_ON;
	if (s == S_AC97)
		return board->cfg.sound == SOUND_AC97;
	if (s >= S_LAP_AP)
		return (unsigned)(s - S_LAP_AP + 1) < board->nvcpus;
	if (s >= S_CPU_AP)
		return (unsigned)(s - S_CPU_AP + 1) < board->nvcpus;
	return true;
}

/* From path, or from fd when path is NULL. */
static int restore_state(struct board *board, const char *path, int fd, bool memory, char *err,
			 size_t err_len)
{
	struct snap_reader r;
	bool seen[S_COUNT] = { false };
	struct saved_clock clock = { 0 };
	int ret = path ? snapr_open(&r, path) : snapr_open_fd(&r, fd, "the migration's state");

	/* No BAR stays where the power-on firmware put it while the saved
	 * ones are placed: none lands on one that has not moved yet. */
	pci_function_unmap(&board->bochs.pci);
	pci_function_unmap(&board->ide.pci);
	for (unsigned i = 0; i < board->cfg.ndisks; i++)
		pci_function_unmap(&board->disks[i].vp.pci);
	if (board->slirp)
		pci_function_unmap(&board->net.vp.pci);
	if (board->cfg.tablet == TABLET_ON)
		pci_function_unmap(&board->tablet.vp.pci);
	if (board->cfg.sound == SOUND_AC97)
		pci_function_unmap(&board->ac97.pci);

	while (!ret && (ret = snapr_next(&r)) == 1) {
		enum section s = S_COUNT;
		for (unsigned i = 0; i < S_COUNT; i++)
			if (!strcmp(r.tag, tags[i]))
				s = (enum section)i;
		if (s == S_COUNT) {
			ret = snapr_fail(&r, "unknown to this btvm");
		} else if (seen[s] || !section_expected(board, s, memory)) {
			ret = snapr_fail(&r, "%s", seen[s] ? "appears twice" : "for a device this machine "
								 "does not have");
		} else if (s != S_CONF && !seen[S_CONF]) {
			ret = snapr_fail(&r, "comes before the configuration");
		} else {
			seen[s] = true;
			ret = load_section(board, &r, s, &clock);
		}
	}
	for (unsigned i = 0; !ret && i < S_COUNT; i++)
		/* A btvm before the HPET saved none: it stays at reset. */
		if (!seen[i] && i != S_HPET && section_expected(board, (enum section)i, memory))
			ret = snapr_fail(&r, "has no section '%s' (incomplete snapshot)", tags[i]);
	if (ret) {
		snprintf(err, err_len, "%s", r.msg);
		snapr_close(&r);
		return ret;
	}
	snapr_close(&r);
	/* The A20 gate is the devices' registers, which the sections above
	 * hold (KBC, P92): the processor's pin follows them, at once, since
	 * the vCPU is not running (the monitor and gdb see it meanwhile). */
	board__a20_update(board);
	/* So are the PAM registers (section PCI): the BIOS area's write
	 * protection follows them. */
	board__pam_update(board);
	/* And LINT1's level is the chipset's NMI output (sections BORD, RTC):
	 * no edge, the NMI it raised (if any) is in the CPU's latch. */
	board__chipset_nmi_restore(board);
	struct cpu *bsp = &board__bsp(board)->cpu;
	if (bsp->a20_line != bsp->s.a20_cleared)
		cpu_apply_a20(bsp);
	board_set_guest_time(board, clock.guest_ns, clock.tsc);
	/* Guest time goes on from the save; the calendar clock shows the
	 * host's time at once (as far from it as at the save, should the
	 * guest have set it apart), having stood still since (a wall time
	 * no host clock is that far from means nothing: left as saved). A
	 * snapshot saved paused starts paused (--start may say otherwise). */
	int64_t since_save;
	if (clock.has_wall && !__builtin_sub_overflow(host_realtime_ns(), clock.wall_ns, &since_save))
		mc146818_move_time(&board->rtc, clock.guest_ns, since_save);
	board->start_paused = clock.paused;
	/* The guest calibrated its TSC on the saving host; a TSC of another
	 * rate here makes its clock run fast or slow. */
	if (board->clk.hz && clock.hz) {
		uint64_t a = board->clk.hz, b = clock.hz;
		uint64_t diff = a > b ? a - b : b - a;
		if (diff > b / 1000000u * TSC_RATE_TOLERANCE_PPM)
			fprintf(stderr, "btvm: warning: the guest's TSC ran at %llu kHz when saved, "
				"here it runs at %llu kHz: its clock will drift\n",
				(unsigned long long)(b / 1000), (unsigned long long)(a / 1000));
	}
	return 0;
}

int board_snapshot_restore(struct board *board, const char *path, char *err, size_t err_len)
{
	return restore_state(board, path, -1, true, err, err_len);
}

int board_snapshot_restore_state_fd(struct board *board, int fd, bool memory, char *err,
				    size_t err_len)
{
	return restore_state(board, NULL, fd, memory, err, err_len);
}
