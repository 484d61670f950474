/* The machine's life: board_create builds the PC (guest RAM, the disks
 * and the network's backend, the devices as wiring.c wires them, the
 * firmware's tables, the guest loaded, the shadow MMU, the translation
 * cache, then each vCPU's slot: its translator and its CPU, with what
 * --explain, --trap-and-emulate and --profile ask of it), and
 * board_destroy takes it down again. The front ends open after it and
 * close before it (main.c). */
#define _GNU_SOURCE
#include "machine/board_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "boot/bootfile.h"
#include "boot/firmware.h"
#include "cpu/explain.h"
#include "cpu/profile.h"
#include "host/outfile.h"

/* A vCPU's translator and CPU, and what the reports ask of it: the
 * sampler (which also splits the vCPU's time for --stats) and the
 * sensitive instructions' counts. 0, or a negative errno with a one-line
 * message; the slot is taken down by vcpu_destroy either way. */
static int vcpu_create(struct board *board, struct board_vcpu *v, char *err, size_t err_len)
{
	const struct board_config *cfg = &board->cfg;
	int ret = translator_init(&v->tr, cfg->one_insn_blocks, board->trace);
	if (!ret && cfg->max_block_insns)
		v->tr.max_insns = cfg->max_block_insns;
	v->tr.clone = !cfg->no_clone;
	v->tr.clone_check = cfg->clone_check;
	if (!ret)
		ret = cpu_init(&v->cpu, &board->boot, &board->sh, &board->tc, &board->bus);
	v->cpu.no_chain = cfg->no_chain;
	v->cpu.no_ibl = cfg->no_ibl;
	/* A block of one instruction, or one checking itself, has no trace. */
	if (!cfg->one_insn_blocks && !cfg->selfcheck_blocks)
		v->cpu.trace_threshold = cfg->traces;
	if (ret) {
		snprintf(err, err_len, "cannot set up the vCPU: %s", strerror(-ret));
		return ret;
	}
	/* Each vCPU its record; the timer is the thread's, and the BSP's
	 * is the thread that creates the board and runs it (and the others
	 * while they take turns on it). A vCPU on a thread of its own
	 * starts its own there (profile_start_thread). */
	if (cfg->profile_top || cfg->stats || cfg->stats_json_path) {
		ret = profile_start(&v->cpu, cfg->profile_top);
		if (!ret && v->index == 0)
			ret = profile_start_thread(&v->cpu);
		if (ret < 0) {
			snprintf(err, err_len, "--profile: cannot start the sampling timer: %s",
				 strerror(-ret));
			return ret;
		}
	}
	if (cfg->explain || cfg->trap_emulate) {
		v->cpu.explain = explain_new();
		if (!v->cpu.explain) {
			snprintf(err, err_len, "--explain: out of memory");
			return -ENOMEM;
		}
		v->cpu.trap_emulate = cfg->trap_emulate;
	}
	return 0;
}

/* The shared folders' devices (their I/O threads and sockets), and their
 * servers. */
void board__close_shares(struct board *board)
{
	for (unsigned i = 0; i < BOARD_MAX_SHARES; i++) {
		virtio_9p_close(&board->shares[i]);
		if (board->share_fds[i] >= 0)
			close(board->share_fds[i]);
		board->share_fds[i] = -1;
		share_server_stop(&board->share_servers[i]);
	}
}

static void vcpu_destroy(struct board_vcpu *v)
{
	profile_stop(&v->cpu);
	explain_free(v->cpu.explain);
	v->cpu.explain = NULL;
	cpu_destroy(&v->cpu);
	translator_destroy(&v->tr);
}

/* The IDE drives the configuration names, each image opened and locked
 * (a CD's with a read lock) before the controller is wired: 0, or the
 * image's error with its one line. */
static int open_ide_drives(struct board *board, char *err, size_t err_len)
{
	const struct board_config *cfg = &board->cfg;
	for (unsigned slot = 0; slot < BOARD_IDE_SLOTS; slot++) {
		const struct board_ide_drive *d = &cfg->ide[slot];
		int ret = 0;
		if (d->kind == BOARD_IDE_DISK)
			ret = ide_open_disk(&board->ide, slot, d->path, d->readonly, cfg->snapshot,
					    cfg->defer_disk_locks, err, err_len);
		else if (d->kind == BOARD_IDE_CDROM)
			ret = ide_open_cdrom(&board->ide, slot, d->path, err, err_len);
		if (ret)
			return ret;
	}
	return 0;
}

/* --kernel with --firmware bios: the kernel (a bzImage, checked and its
 * header patched), the initrd and QEMU's option ROM that boots them, for
 * firmware_config to give fw_cfg. 0, or a negative errno with one line. */
static int read_fw_kernel(struct board *board, char *err, size_t err_len)
{
	const struct board_config *cfg = &board->cfg;
	struct board_fw_kernel *k = &board->fw_kernel;
	int ret = boot_read_file(cfg->kernel_path, "kernel", board->ram.size, &k->image,
				 &k->image_size, err, err_len);
	if (!ret && cfg->initrd_path)
		ret = boot_read_file(cfg->initrd_path, "initrd", board->ram.size, &k->initrd,
				     &k->initrd_size, err, err_len);
	if (!ret)
		ret = linux_fwcfg_prepare(k->image, k->image_size, cfg->kernel_path, k->initrd_size,
					  cfg->cmdline, board->ram.size, &k->parts, err, err_len);
	if (!ret)
		ret = boot_read_file(LINUX_FWCFG_ROM_PATH, "option ROM", LINUX_FWCFG_ROM_MAX, &k->rom,
				     &k->rom_size, err, err_len);
	return ret;
}

static void free_fw_kernel(struct board *board)
{
	struct board_fw_kernel *k = &board->fw_kernel;
	linux_fwcfg_free(&k->parts);
	free(k->image);
	free(k->initrd);
	free(k->rom);
	*k = (struct board_fw_kernel){ 0 };
}

int board_create(struct board **out, const struct board_config *cfg, char *err, size_t err_len)
{
	int ret;

	/* 64-byte aligned: where the vCPUs' fields fall on cache lines does
	 * not depend on the allocator. */
	struct board *board = NULL;
	*out = NULL;
	if (posix_memalign((void **)&board, 64, sizeof(*board))) {
		snprintf(err, err_len, "out of memory for the machine");
		return -ENOMEM;
	}
	memset(board, 0, sizeof(*board));
	board->cfg = *cfg;
	/* The front end (main.c) decides what the default means; a board
	 * told nothing has no tablet. */
	if (board->cfg.tablet == TABLET_DEFAULT)
		board->cfg.tablet = TABLET_OFF;
	if (board->cfg.sound == SOUND_DEFAULT)
		board->cfg.sound = SOUND_NONE;
	board->start_paused = cfg->start_paused;
	board->wake_fd = -1;
	board->timer_deadline = UINT64_MAX;
	board__clock_init(&board->clk);
	bus_init(&board->bus);
	ide_init(&board->ide);

	ret = guest_ram_init(&board->ram, cfg->ram_mib, BOCHS_VRAM_SIZE);
	if (ret == -EINVAL) {
		snprintf(err, err_len, "guest RAM of %llu MiB is not supported (%u to %u MiB)",
			 (unsigned long long)cfg->ram_mib, GUEST_RAM_MIN_MIB, GUEST_RAM_MAX_MIB);
		return ret;
	}
	if (ret) {
		snprintf(err, err_len, "cannot allocate %llu MiB of guest RAM: %s",
			 (unsigned long long)cfg->ram_mib, strerror(-ret));
		return ret;
	}
	/* Made here and closed by board_destroy, not around board_run: the
	 * front ends' and I/O threads' wake-ups (wake_sleeper) may come from
	 * before it starts until they are closed, after it returns. */
	board->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (board->wake_fd < 0) {
		ret = -errno;
		snprintf(err, err_len, "cannot make the machine's wake-up eventfd: %s", strerror(-ret));
		goto close_disks;
	}
	if (cfg->debugcon_path) {
		char why[512];
		board->debugcon_file = outfile_open_stream(cfg->debugcon_path, why, sizeof(why));
		if (!board->debugcon_file) {
			ret = -EIO;
			snprintf(err, err_len, "--debugcon %s", why);
			goto close_disks;
		}
		/* A line at a time: the log is read while the guest runs. */
		setvbuf(board->debugcon_file, NULL, _IOLBF, 0);
	}
	if (cfg->bios_path) {
		ret = firmware_read(cfg->bios_path, &board->firmware, &board->firmware_size, err,
				    err_len);
		if (!ret)
			ret = boot_read_file(FIRMWARE_VGA_ROM_PATH, "VGA BIOS", FIRMWARE_OPTION_ROM_MAX,
					     &board->vga_rom, &board->vga_rom_size, err, err_len);
		if (!ret && cfg->kernel_path)
			ret = read_fw_kernel(board, err, err_len);
		if (ret)
			goto close_disks;
	}
	for (unsigned i = 0; i < cfg->ndisks; i++) {
		ret = virtio_blk_open(&board->disks[i], cfg->disks[i].path, cfg->disks[i].readonly,
				      cfg->snapshot, cfg->defer_disk_locks, err, err_len);
		if (ret)
			goto close_disks;
	}
	ret = open_ide_drives(board, err, err_len);
	if (ret)
		goto close_disks;
	board->nvcpus = cfg->smp ? cfg->smp : 1;
	/* Under a debugger the vCPUs take turns: one steps while the others
	 * stand still, as gdb's all-stop mode with scheduler locking. */
	board->threaded = board->nvcpus > 1 && !cfg->gdb;
	for (unsigned i = 0; i < board->nvcpus; i++) {
		board->vcpus[i].board = board;
		board->vcpus[i].index = i;
	}
	for (unsigned i = 0; i < BOARD_MAX_SHARES; i++)
		board->share_fds[i] = -1;
	for (unsigned i = 0; i < cfg->nshares; i++) {
		char why[256];
		ret = share_server_start(&board->share_servers[i], cfg->shares[i].path,
					 cfg->shares[i].readonly, &board->share_fds[i], why, sizeof(why));
		if (ret) {
			snprintf(err, err_len, "--share %s: %s", cfg->shares[i].path, why);
			goto close_disks;
		}
	}
	if (cfg->net.enabled) {
		/* Before the devices: a host port in use is the user's error. */
		ret = slirp_net_open(&board->slirp, &cfg->net, board__net_receive, board, err, err_len);
		if (ret)
			goto close_disks;
	}
	ret = board__wire_devices(board);
	free_fw_kernel(board);   /* fw_cfg has its copies */
	if (!ret && board->slirp)
		ret = slirp_net_start(board->slirp);
	if (ret) {
		snprintf(err, err_len, "cannot wire the PC's devices: %s", strerror(-ret));
		goto close_disks;
	}
	ret = board->firmware ? 0 : board__write_acpi(board);
	if (ret) {
		snprintf(err, err_len, "cannot build the ACPI tables: %s", strerror(-ret));
		goto close_disks;
	}
	ret = board->firmware ? 0 : board__firmware(board);
	if (ret) {
		snprintf(err, err_len, "cannot set up the PCI devices and the display: %s",
			 strerror(-ret));
		goto close_disks;
	}
	struct boot_config boot;
	struct boot_framebuffer fb;
	board__boot_config(board, &boot, &fb);
	/* A restored guest's kernel is in its saved RAM; the loader runs
	 * again only if it reboots. Its firmware's ROM alias is the board's. */
	if (!cfg->restore_path)
		ret = boot_load(&board->ram, &boot, &board->boot, &board->boot_kind, err, err_len);
	else if (board->firmware)
		board->ram.rom_size = (uint32_t)board->firmware_size;
	if (ret)
		goto close_disks;
	ret = shadow_init(&board->sh, &board->ram);
	board->shadow_ready = ret == 0;
	if (ret) {
		snprintf(err, err_len, "cannot reserve the guest's address-space window: %s", strerror(-ret));
		goto close_disks;
	}
	board__pam_reprotect(board, board->ram.pam_locked);   /* the firmware's reset state */
	if (cfg->map_budget)
		shadow_set_map_budget(&board->sh, cfg->map_budget);
	uint64_t tcache_bytes = cfg->tcache_kib ? cfg->tcache_kib << 10 : cfg->tcache_mib << 20;
	ret = tcache_init(&board->tc, tcache_bytes, board->ram.size, &board->sh);
	if (!ret && (cfg->tcache_policy == TCACHE_POLICY_ADAPTIVE
			     ? tcache_set_adaptive(&board->tc, cfg->tcache_min, cfg->tcache_max)
			     : tcache_set_policy(&board->tc, cfg->tcache_policy, cfg->tcache_units))) {
		tcache_destroy(&board->tc);
		snprintf(err, err_len,
			 "--tcache-policy: units of a %llu KiB cache smaller than a block may need, or adaptive's "
			 "bounds outside it",
			 (unsigned long long)(tcache_bytes >> 10));
		ret = -EINVAL;
		goto destroy_window;
	}
	if (!ret) {
		board->tc.selfcheck_all = cfg->selfcheck_blocks;
		board->sh.code_pages = board->tc.page_traced;
	}
	if (ret) {
		snprintf(err, err_len, "cannot allocate a %llu KiB translation cache: %s",
			 (unsigned long long)(tcache_bytes >> 10), strerror(-ret));
		goto destroy_window;
	}
	if (cfg->trace_path) {
		char why[512];
		board->trace = outfile_open_stream(cfg->trace_path, why, sizeof(why));
		if (!board->trace) {
			ret = -EIO;
			snprintf(err, err_len, "--trace %s", why);
			goto destroy_tcache;
		}
	}
	unsigned made = 0;
	for (ret = 0; !ret && made < board->nvcpus; made++)
		ret = vcpu_create(board, &board->vcpus[made], err, err_len);
	if (ret)
		goto destroy_vcpus;
	board__vcpu_tsc_sync(board);
	board->cpu_ready = true;
	*out = board;
	return 0;

destroy_vcpus:
	while (made)
		vcpu_destroy(&board->vcpus[--made]);
	if (board->trace)
		fclose(board->trace);
destroy_tcache:
	tcache_destroy(&board->tc);
destroy_window:
	shadow_destroy(&board->sh);

close_disks:
	slirp_net_close(board->slirp);
	board->slirp = NULL;
	virtio_net_close(&board->net);
	virtio_input_close(&board->tablet);
	board__audio_close(board);
	board__close_shares(board);
	for (unsigned i = 0; i < cfg->ndisks; i++)
		virtio_blk_close(&board->disks[i]);
	ide_close(&board->ide);
	fw_cfg_destroy(&board->fw_cfg);
	free_fw_kernel(board);
	free(board->firmware);
	free(board->vga_rom);
	if (board->debugcon_file)
		fclose(board->debugcon_file);
	if (board->wake_fd >= 0)
		close(board->wake_fd);
	guest_ram_destroy(&board->ram);
	free(board);
	return ret;
}

void board_destroy(struct board *board)
{
	if (!board)
		return;
	if (board->cpu_ready) {
		for (unsigned i = board->nvcpus; i-- > 0;)
			vcpu_destroy(&board->vcpus[i]);
		tcache_destroy(&board->tc);
		shadow_destroy(&board->sh);
		if (board->trace)
			fclose(board->trace);
	}
	/* The backend first: it calls into the device until it stops. */
	slirp_net_close(board->slirp);
	board->slirp = NULL;
	virtio_net_close(&board->net);
	virtio_input_close(&board->tablet);
	board__audio_close(board);
	board__close_shares(board);
	for (unsigned i = 0; i < board->cfg.ndisks; i++)
		virtio_blk_close(&board->disks[i]);
	ide_close(&board->ide);
	fw_cfg_destroy(&board->fw_cfg);
	free(board->firmware);
	free(board->vga_rom);
	if (board->debugcon_file)
		fclose(board->debugcon_file);
	close(board->wake_fd);
	guest_ram_destroy(&board->ram);
	disk_boot_free(&board->reboot_kernel);
	free(board);
}
