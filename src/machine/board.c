/* The machine's life: board_create builds the PC (guest RAM, the disks
 * and the network's backend, the devices as wiring.c wires them, the
 * firmware's tables, the guest loaded, the shadow MMU, the translation
 * cache, the translator and the vCPU, then the front ends), and
 * board_destroy takes it down again. */
#define _GNU_SOURCE
#include "machine/board_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "frontend/board_explain.h"
#include "frontend/gdbstub.h"
#include "frontend/migration.h"
#include "frontend/monitor.h"
#include "host/outfile.h"

int board_create(struct board *board, const struct board_config *cfg, char *err, size_t err_len)
{
	int ret;

	memset(board, 0, sizeof(*board));
	board->cfg = *cfg;
	board->wake_fd = -1;
	board->timer_deadline = UINT64_MAX;
	board__clock_init(&board->clk);
	bus_init(&board->bus);

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
	for (unsigned i = 0; i < cfg->ndisks; i++) {
		ret = virtio_blk_open(&board->disks[i], cfg->disks[i].path, cfg->disks[i].readonly,
				      cfg->snapshot, err, err_len);
		if (ret)
			goto close_disks;
	}
	if (cfg->net.enabled) {
		/* Before the devices: a host port in use is the user's error. */
		ret = slirp_net_open(&board->slirp, &cfg->net, board__net_receive, board, err, err_len);
		if (ret)
			goto close_disks;
	}
	ret = board__wire_devices(board);
	if (!ret && board->slirp)
		ret = slirp_net_start(board->slirp);
	if (ret) {
		snprintf(err, err_len, "cannot wire the PC's devices: %s", strerror(-ret));
		goto close_disks;
	}
	ret = board__write_acpi(board);
	if (ret) {
		snprintf(err, err_len, "cannot build the ACPI tables: %s", strerror(-ret));
		goto close_disks;
	}
	ret = board__firmware(board);
	if (ret) {
		snprintf(err, err_len, "cannot set up the PCI devices and the display: %s",
			 strerror(-ret));
		goto close_disks;
	}
	struct boot_config boot;
	struct boot_framebuffer fb;
	board__boot_config(board, &boot, &fb);
	/* A restored guest's kernel is in its saved RAM; the loader runs
	 * again only if it reboots. */
	if (!cfg->restore_path)
		ret = boot_load(&board->ram, &boot, &board->boot, &board->boot_kind, err, err_len);
	if (ret)
		goto close_disks;
	ret = shadow_init(&board->sh, &board->ram);
	board->shadow_ready = ret == 0;
	if (ret) {
		snprintf(err, err_len, "cannot reserve the guest's address-space window: %s", strerror(-ret));
		goto close_disks;
	}
	if (cfg->map_budget)
		shadow_set_map_budget(&board->sh, cfg->map_budget);
	ret = tcache_init(&board->tc, cfg->tcache_mib << 20, board->ram.size, &board->sh);
	if (!ret) {
		board->tc.selfcheck_all = cfg->selfcheck_blocks;
		board->sh.code_pages = board->tc.page_traced;
	}
	if (ret) {
		snprintf(err, err_len, "cannot allocate a %llu MiB translation cache: %s",
			 (unsigned long long)cfg->tcache_mib, strerror(-ret));
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
	ret = translator_init(&board->tr, cfg->one_insn_blocks, board->trace);
	if (!ret && cfg->max_block_insns)
		board->tr.max_insns = cfg->max_block_insns;
	board->tr.clone = !cfg->no_clone;
	board->tr.clone_check = cfg->clone_check;
	if (!ret)
		ret = cpu_init(&board->cpu, &board->boot, &board->sh, &board->tc, &board->bus);
	board->cpu.no_chain = cfg->no_chain;
	board->cpu.no_ibl = cfg->no_ibl;
	if (ret) {
		snprintf(err, err_len, "cannot set up the vCPU: %s", strerror(-ret));
		goto close_trace;
	}
	board->cpu_ready = true;
	ret = board_explain_init(board, err, err_len);
	if (!ret)
		ret = board_screen_open(board, board__console_notify, err, err_len);
	if (!ret)
		ret = monitor_open(&board->monitor, board, cfg->monitor_path, err, err_len);
	if (!ret && cfg->gdb)
		ret = gdbstub_open(&board->gdb, board, cfg->gdb_host, cfg->gdb_port, err, err_len);
	if (ret) {
		board_destroy(board);
		return ret;
	}
	return 0;

close_trace:
	if (board->trace)
		fclose(board->trace);
	cpu_destroy(&board->cpu);
	translator_destroy(&board->tr);
destroy_tcache:
	tcache_destroy(&board->tc);
destroy_window:
	shadow_destroy(&board->sh);

close_disks:
	slirp_net_close(board->slirp);
	board->slirp = NULL;
	virtio_net_close(&board->net);
	for (unsigned i = 0; i < cfg->ndisks; i++)
		virtio_blk_close(&board->disks[i]);
	guest_ram_destroy(&board->ram);
	return ret;
}

void board_destroy(struct board *board)
{
	board_stats_stop(board);
	gdbstub_close(board->gdb);
	board->gdb = NULL;
	migration_destroy(board);
	monitor_close(board->monitor);
	board->monitor = NULL;
	board_screen_destroy(board);
	if (board->cpu_ready) {
		board_explain_destroy(board);
		cpu_destroy(&board->cpu);
		translator_destroy(&board->tr);
		tcache_destroy(&board->tc);
		shadow_destroy(&board->sh);
		if (board->trace)
			fclose(board->trace);
	}
	/* The backend first: it calls into the device until it stops. */
	slirp_net_close(board->slirp);
	board->slirp = NULL;
	virtio_net_close(&board->net);
	for (unsigned i = 0; i < board->cfg.ndisks; i++)
		virtio_blk_close(&board->disks[i]);
	guest_ram_destroy(&board->ram);
}
