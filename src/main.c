/* The btvm command line: parses options in the manner of qemu and kvmtool,
 * builds the board, runs it, and maps every outcome to an exit status
 * (guest's own via isa-debug-exit, 1 for a host error, 2 for bad usage). */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/disk_boot.h"
#include "boot/firmware.h"
#include "frontend/board_explain.h"
#include "frontend/board_screen.h"
#include "frontend/board_stats.h"
#include "frontend/disk_tool.h"
#include "frontend/gdbstub.h"
#include "frontend/migration.h"
#include "frontend/monitor.h"
#include "host/audio_out.h"
#include "host/display.h"
#include "host/outfile.h"
#include "isa/cpuid.h"
#include "isa/sensitive.h"
#include "machine/board.h"
#include "machine/board_named.h"
#include "machine/board_snapshot.h"
#include "machine/control.h"
#include "run_options.h"

/* Whether the --disk image at path is the snapshot's saved (realpath at
 * the save, or the name as given when it did not resolve then). */
static bool same_image(const char *path, const char *saved)
{
	char abs[PATH_MAX];
	return !strcmp(realpath(path, abs) ? abs : path, saved);
}

/* A disk image as --disk gives it, or as the snapshot has it. */
struct disk_arg {
	const char *path;
	bool readonly;
};

/* --restore with --disk: the images of one interface, in the order given,
 * against the snapshot's of that interface, each the same file, read-only
 * or not alike; a block migration's read-write images are this end's own
 * (any file). -1 when they agree, else the exit status, after a line
 * naming the first difference. */
static int check_disk_list(const char *opt, bool block, const char *what,
			   const struct disk_arg *disks, unsigned n, const struct disk_arg *saved,
			   unsigned nsaved)
{
	for (unsigned i = 0; i < n || i < nsaved; i++) {
		if (i >= n)
			return usage_error("%s: the snapshot's %s disk %u, %s, is not given "
					   "(give every --disk the snapshot has, or none)", opt,
					   what, i + 1, saved[i].path);
		const char *ro = disks[i].readonly ? ",readonly" : "";
		if (i >= nsaved)
			return usage_error("%s: --disk %s%s is one %s disk more than the "
					   "snapshot's %u", opt, disks[i].path, ro, what, nsaved);
		if (!(block && !saved[i].readonly) && !same_image(disks[i].path, saved[i].path))
			return usage_error("%s: --disk %s is not the snapshot's %s disk %u, %s", opt,
					   disks[i].path, what, i + 1, saved[i].path);
		if (disks[i].readonly != saved[i].readonly)
			return usage_error("%s: --disk %s%s conflicts with the snapshot's %s "
					   "disk %u, which is %s", opt, disks[i].path, ro, what, i + 1,
					   saved[i].readonly ? "read-only" : "read-write");
	}
	return -1;
}

/* The --disk options against the snapshot's disks: the virtio ones and
 * the IDE ones each in order, and the same first disk (a reboot's kernel
 * may be on it). A --disk on another interface than the snapshot's is
 * named as such. */
static int check_snapshot_disks(const char *opt, bool block, const struct board_config *cfg,
				const struct run_given *given, const struct board_config *s)
{
	struct disk_arg virtio[BOARD_MAX_DISKS], saved_virtio[BOARD_MAX_DISKS];
	struct disk_arg ide[BOARD_IDE_SLOTS], saved_ide[BOARD_IDE_SLOTS];
	unsigned nsaved_ide = 0;
	for (unsigned i = 0; i < cfg->ndisks; i++)
		virtio[i] = (struct disk_arg){ cfg->disks[i].path, cfg->disks[i].readonly };
	for (unsigned i = 0; i < s->ndisks; i++)
		saved_virtio[i] = (struct disk_arg){ s->disks[i].path, s->disks[i].readonly };
	for (unsigned i = 0; i < given->nide_disks; i++)
		ide[i] = (struct disk_arg){ given->ide_disks[i].path, given->ide_disks[i].readonly };
	for (unsigned slot = 0; slot < BOARD_IDE_SLOTS; slot++)
		if (s->ide[slot].kind == BOARD_IDE_DISK)
			saved_ide[nsaved_ide++] = (struct disk_arg){ s->ide[slot].path,
								     s->ide[slot].readonly };
	for (unsigned i = 0; i < cfg->ndisks; i++)
		for (unsigned j = 0; j < nsaved_ide; j++)
			if (same_image(virtio[i].path, saved_ide[j].path))
				return usage_error("%s: --disk %s is if=virtio, the snapshot "
						   "has it on IDE (if=ide)", opt, virtio[i].path);
	for (unsigned i = 0; i < given->nide_disks; i++)
		for (unsigned j = 0; j < s->ndisks; j++)
			if (same_image(ide[i].path, saved_virtio[j].path))
				return usage_error("%s: --disk %s,if=ide: the snapshot has it "
						   "on virtio (if=virtio)", opt, ide[i].path);
	int status = check_disk_list(opt, block, "virtio", virtio, cfg->ndisks, saved_virtio,
				     s->ndisks);
	if (status < 0)
		status = check_disk_list(opt, block, "IDE", ide, given->nide_disks, saved_ide,
					 nsaved_ide);
	if (status < 0 && cfg->ndisks && given->nide_disks &&
	    cfg->first_disk_ide != s->first_disk_ide)
		return usage_error("%s: the first --disk is %s, the snapshot's first disk is "
				   "%s", opt, cfg->first_disk_ide ? "on IDE" : "on virtio",
				   s->first_disk_ide ? "on IDE" : "on virtio");
	return status;
}

/* --restore: the machine is the snapshot's. Options that describe the
 * machine may be given only where they agree with it; returns -1 when
 * cfg now holds the snapshot's machine, else the exit status. block: an
 * incoming block migration, whose read-write disks are the --disk
 * options' images (any paths), the source's when none is given. */
static int take_snapshot_config(struct board_config *cfg, const struct run_given *given,
				const struct board_snapshot_config *sc, bool block)
{
	/* The errors name the option that gave the machine. */
	const char *opt = given->incoming ? "--incoming" : "--restore";
	const struct board_config *s = &sc->cfg;
	if (given->kernel || given->initrd || given->append)
		return usage_error("%s: the kernel, initrd and command line are the snapshot's "
				   "(no --kernel, --initrd or --append)", opt);
	/* The disks may be given, as the machine was started, when they are
	 * the snapshot's; the CD-ROM's disc is the snapshot's (the monitor's
	 * change swaps it). */
	if (given->cdrom)
		return usage_error("%s: the snapshot names its CD-ROM's disc (no --cdrom)", opt);
	if (given->disk) {
		int status = check_snapshot_disks(opt, block, cfg, given, s);
		if (status >= 0)
			return status;
	}
	if (given->memory && cfg->ram_mib != s->ram_mib)
		return usage_error("%s: -m %llu conflicts with the snapshot's %llu MiB", opt,
				   (unsigned long long)cfg->ram_mib, (unsigned long long)s->ram_mib);
	if (given->vga && (cfg->fb_width != s->fb_width || cfg->fb_height != s->fb_height))
		return usage_error("%s: --vga conflicts with the snapshot's screen", opt);
	/* The machine restored is of the snapshot's vCPU count. */
	if (given->smp && cfg->smp != s->smp)
		return usage_error("%s: --smp %u conflicts with the snapshot's %u vCPUs", opt,
				   cfg->smp, s->smp);
	if (given->snapshot && !s->snapshot)
		return usage_error("%s: --snapshot conflicts with the snapshot, taken with "
				   "writes going to the disk images", opt);
	if (given->tablet && cfg->tablet != s->tablet)
		return usage_error("%s: --tablet %s conflicts with the snapshot's machine, "
				   "which %s a tablet", opt, cfg->tablet == TABLET_ON ? "on" : "off",
				   s->tablet == TABLET_ON ? "has" : "has no");
	if (given->sound && cfg->sound != s->sound)
		return usage_error("%s: --sound %s conflicts with the snapshot's machine, "
				   "which %s a sound card", opt, cfg->sound == SOUND_AC97 ? "ac97" : "none",
				   s->sound == SOUND_AC97 ? "has" : "has no");
	if (given->net && cfg->net.enabled != s->net.enabled)
		return usage_error("%s: --net %s conflicts with the snapshot's machine, which "
				   "%s a network card", opt, cfg->net.enabled ? "user" : "none",
				   s->net.enabled ? "has" : "has no");
	cfg->kernel_path = s->kernel_path;
	cfg->bios_path = s->bios_path;
	memcpy(cfg->boot_order, s->boot_order, sizeof(cfg->boot_order));
	cfg->first_disk_ide = s->first_disk_ide;
	cfg->initrd_path = s->initrd_path;
	cfg->cmdline = s->cmdline;
	cfg->kernel_from_disk = s->kernel_from_disk;
	cfg->ram_mib = s->ram_mib;
	cfg->smp = s->smp;
	cfg->fb_width = s->fb_width;
	cfg->fb_height = s->fb_height;
	/* Checked above to be the snapshot's disks in order, by path unless
	 * a block migration brings their content. */
	bool own_paths = block && given->disk;
	for (unsigned i = 0; i < s->ndisks; i++)
		if (!own_paths || s->disks[i].readonly)
			cfg->disks[i] = s->disks[i];
	cfg->ndisks = s->ndisks;
	for (unsigned slot = 0, j = 0; slot < BOARD_IDE_SLOTS; slot++) {
		cfg->ide[slot] = s->ide[slot];
		if (s->ide[slot].kind == BOARD_IDE_DISK && own_paths && !s->ide[slot].readonly)
			cfg->ide[slot].path = given->ide_disks[j].path;
		j += s->ide[slot].kind == BOARD_IDE_DISK;
	}
	cfg->kernel_disk = s->kernel_disk;
	/* A disk's kernel comes from this end's copy of that disk. */
	for (unsigned i = 0; own_paths && s->kernel_disk && i < s->ndisks; i++)
		if (!strcmp(s->disks[i].path, s->kernel_disk))
			cfg->kernel_disk = cfg->disks[i].path;
	for (unsigned slot = 0; own_paths && s->kernel_disk && slot < BOARD_IDE_SLOTS; slot++)
		if (s->ide[slot].kind == BOARD_IDE_DISK && !strcmp(s->ide[slot].path, s->kernel_disk))
			cfg->kernel_disk = cfg->ide[slot].path;
	cfg->snapshot = s->snapshot;
	cfg->tablet = s->tablet;
	cfg->sound = s->sound;
	if (!given->net)
		cfg->net = s->net;
	return -1;
}

/* The front ends (machine/control.h): opened after the board is built,
 * closed before it is taken down. */
struct frontends {
	struct board_explain *explain;
	struct board_screen *screen;
	struct board_stats *stats;
	struct monitor *monitor;
	struct gdbstub *gdb;
};

/* The statistics first: they give back SIGUSR1 and SIGTERM. The monitor
 * stops a migration it started. */
static void close_frontends(struct frontends *fe)
{
	board_stats_close(fe->stats);
	gdbstub_close(fe->gdb);
	monitor_close(fe->monitor);
	board_screen_close(fe->screen);
	board_explain_close(fe->explain);
	*fe = (struct frontends){ 0 };
}

/* Each registers with the board as it opens, and the board calls them in
 * that order. 0, or a negative errno with a one-line message in err. */
static int open_frontends(struct frontends *fe, struct board *board,
			  const struct board_config *cfg, char *err, size_t err_len)
{
	*fe = (struct frontends){ 0 };
	int ret = board_explain_open(&fe->explain, board, err, err_len);
	if (!ret)
		ret = board_screen_open(&fe->screen, board, err, err_len);
	if (!ret)
		ret = board_stats_open(&fe->stats, board, fe->screen, fe->explain, err, err_len);
	if (!ret)
		ret = monitor_open(&fe->monitor, board, cfg->monitor_path, fe->screen, fe->stats, err,
				   err_len);
	if (!ret && cfg->gdb)
		ret = gdbstub_open(&fe->gdb, board, cfg->gdb_host, cfg->gdb_port, err, err_len);
	if (ret) {
		close_frontends(fe);
		return ret;
	}
	monitor_set_gdb(fe->monitor, fe->gdb);
	return 0;
}

/* The way to boot when no --kernel is given, as a PC's user expects it:
 * a CD in the drive boots first, through the firmware; a disk with a boot
 * loader boots through the firmware; a disk without one whose filesystem
 * holds a kernel has it loaded directly (faster, and what btvm did before
 * it had firmware; its kernel then sits in *db); anything else goes to the
 * firmware, which says it found nothing to boot. --firmware bios|direct
 * decides instead. Says on stderr which way it went, and why, when the
 * choice was btvm's. */
static enum boot_choice choose_boot(struct board_config *cfg, const struct run_given *given,
				    struct disk_boot *db)
{
	const char *why;
	char err[512], line[600];
	if (given->boot != BOOT_CHOICE_AUTO)
		return given->boot;
	int loader = given->cdrom ? 0 : disk_boot_has_loader(given->first_disk);
	if (given->cdrom)
		why = "a CD-ROM in the drive boots first";
	else if (loader < 0)
		return BOOT_CHOICE_DIRECT; /* which says why it cannot open the disk */
	else if (loader)
		why = "the disk has a boot loader";
	else if (!disk_boot_find(given->first_disk, db, err, sizeof(err)))
		return BOOT_CHOICE_DIRECT;
	else {
		snprintf(line, sizeof(line), "no boot loader on the disk, and no kernel to load "
			 "directly (%s)", err);
		why = line;
	}
	cfg->bios_path = FIRMWARE_DEFAULT_PATH;
	fprintf(stderr, "btvm: booting through the firmware (SeaBIOS): %s\n", why);
	return BOOT_CHOICE_BIOS;
}

static int cmd_run(int argc, char **argv)
{
	struct run_given given;
	struct board_snapshot_config *sc = NULL;
	struct board_config cfg;
	struct board *board;
	struct frontends fe;
	struct disk_boot db = { 0 };
	char err[512];
	char cmdline[4096];
	int status = parse_run_options(argc, argv, &cfg, &given);
	if (status >= 0)
		return status;
	/* Now rather than after the run it would describe. */
	if (cfg.stats_json_path && board_stats_check_path(cfg.stats_json_path, err, sizeof(err))) {
		fprintf(stderr, "btvm: %s\n", err);
		return EXIT_FAILURE;
	}
	for (unsigned i = 0; i < cfg.screenshot_count; i++) {
		char why[512];
		if (outfile_check(cfg.screenshot_paths[i], why, sizeof(why))) {
			fprintf(stderr, "btvm: --screenshot %s\n", why);
			return EXIT_FAILURE;
		}
	}
	/* A live migration's destination: the stream starts with the
	 * machine's configuration, a snapshot without memory. */
	struct migration_incoming *incoming = NULL;
	if (given.incoming) {
		if (migration_listen(given.incoming, &incoming, err, sizeof(err))) {
			fprintf(stderr, "btvm: %s\n", err);
			return EXIT_FAILURE;
		}
		/* Restored as a snapshot is; the name only says from where. */
		cfg.restore_path = "the migration's configuration";
	}
	/* --loadvm: the snapshot's machine state, restored as --restore's. */
	char loadvm_path[PATH_MAX + 128];
	if (given.loadvm) {
		if (board_named_find(&cfg, given.loadvm, loadvm_path, sizeof(loadvm_path), err,
				     sizeof(err))) {
			fprintf(stderr, "btvm: %s\n", err);
			return EXIT_FAILURE;
		}
		cfg.restore_path = loadvm_path;
	}
	if (cfg.restore_path) {
		sc = malloc(sizeof(*sc));
		int ret = sc ? 0 : -ENOMEM;
		snprintf(err, sizeof(err), "out of memory");
		if (!ret)
			ret = incoming ? board_snapshot_read_config_fd(migration_incoming_config(incoming),
								       sc, err, sizeof(err))
				       : board_snapshot_read_config(cfg.restore_path, sc, err,
								    sizeof(err));
		if (ret) {
			fprintf(stderr, "btvm: %s\n", err);
			migration_incoming_free(incoming);
			free(sc);
			return EXIT_FAILURE;
		}
		bool block = incoming && migration_incoming_block(incoming);
		status = take_snapshot_config(&cfg, &given, sc, block);
		if (status >= 0) {
			migration_incoming_free(incoming);
			free(sc);
			return status;
		}
		/* The source writes its images until the switch-over, and
		 * holds their write locks until then (unless it copies them
		 * into this end's own). */
		cfg.defer_disk_locks = incoming && !block;
	}

	/* A disk's kernel: found again on restore, for a reboot (the one
	 * running is in the saved RAM); a migration's at that reboot
	 * (board__reset), the disk being the source's until the switch-over
	 * and the read too long for the guest's stop there. */
	/* --loadvm's disks are the snapshot's only once the board has
	 * switched them: the kernel is found at that reboot too. */
	if (cfg.restore_path && cfg.kernel_from_disk && !incoming && !given.loadvm) {
		if (disk_boot_find(cfg.kernel_disk, &db, err, sizeof(err))) {
			fprintf(stderr, "btvm: %s\n", err);
			migration_incoming_free(incoming);
			free(sc);
			return EXIT_FAILURE;
		}
		cfg.kernel_data = db.kernel;
		cfg.kernel_size = db.kernel_size;
		if (cfg.initrd_path && db.initrd) {
			cfg.initrd_data = db.initrd;
			cfg.initrd_size = db.initrd_size;
		}
	}
	/* No kernel given: the firmware boots the PC, or btvm boots the
	 * first disk's kernel directly, whichever controller it is on
	 * (root= names the filesystem's UUID, which the guest's initramfs
	 * finds on either). */
	enum boot_choice boot = BOOT_CHOICE_AUTO;
	if (!cfg.kernel_path && !cfg.restore_path && !given.incoming)
		boot = choose_boot(&cfg, &given, &db);
	if (boot == BOOT_CHOICE_BIOS && (given.initrd || given.append)) {
		disk_boot_free(&db);
		return usage_error("--initrd and --append go with a kernel btvm loads, and this PC "
				   "boots through the firmware");
	}
	if (boot == BOOT_CHOICE_DIRECT) {
		cfg.kernel_from_disk = true;
		cfg.kernel_disk = given.first_disk;
		if (!db.kernel && disk_boot_find(cfg.kernel_disk, &db, err, sizeof(err))) {
			fprintf(stderr, "btvm: %s\n", err);
			return EXIT_FAILURE;
		}
		fprintf(stderr, "btvm: booting %s directly%s\n", db.kernel_name,
			given.boot == BOOT_CHOICE_AUTO
				? " (the disk has no boot loader; --firmware bios boots it through SeaBIOS)"
				: "");
		if (disk_boot_cmdline(&db, cfg.cmdline, cmdline, sizeof(cmdline))) {
			disk_boot_free(&db);
			return usage_error("--append: the command line is too long");
		}
		cfg.cmdline = cmdline;
		cfg.kernel_path = db.kernel_name;
		cfg.kernel_data = db.kernel;
		cfg.kernel_size = db.kernel_size;
		if (!cfg.initrd_path && db.initrd) {
			cfg.initrd_path = db.initrd_name;
			cfg.initrd_data = db.initrd;
			cfg.initrd_size = db.initrd_size;
		}
	}

	/* Translated code runs the model's x87/MMX/SSE/SSE2 instructions on
	 * the host CPU: without them there is nothing to run the guest on. */
	if (cpuid_check_host(err, sizeof(err))) {
		fprintf(stderr, "btvm: %s\n", err);
		migration_incoming_free(incoming);
		disk_boot_free(&db);
		free(sc);
		return EXIT_FAILURE;
	}
	/* The tablet by default where there will be a window to drive it
	 * (a restored machine has the snapshot's answer). */
	bool windowed = cfg.display == DISPLAY_SDL ||
			(cfg.display == DISPLAY_DEFAULT && cfg.window && cfg.window->server_named());
	if (cfg.tablet == TABLET_DEFAULT)
		cfg.tablet = windowed ? TABLET_ON : TABLET_OFF;
	/* The host's sound where there is a window (a desktop session),
	 * none for a headless machine unless asked. */
	if (cfg.sound == SOUND_DEFAULT)
		cfg.sound = SOUND_AC97;
	if (given.audio > 0 || (!given.audio && windowed))
		cfg.audio = &audio_sdl;
	if (board_create(&board, &cfg, err, sizeof(err))) {
		fprintf(stderr, "btvm: %s\n", err);
		migration_incoming_free(incoming);
		disk_boot_free(&db);
		free(sc);
		return EXIT_FAILURE;
	}
	if (open_frontends(&fe, board, &cfg, err, sizeof(err))) {
		fprintf(stderr, "btvm: %s\n", err);
		board_destroy(board);
		migration_incoming_free(incoming);
		disk_boot_free(&db);
		free(sc);
		return EXIT_FAILURE;
	}
	if (incoming) {
		int ret = migration_receive(board, incoming, err, sizeof(err));
		migration_answer(board, incoming, ret == 0);
		incoming = NULL;
		if (ret) {
			fprintf(stderr, "btvm: %s\n", err);
			close_frontends(&fe);
			board_destroy(board);
			disk_boot_free(&db);
			free(sc);
			return EXIT_FAILURE;
		}
	} else if (cfg.restore_path &&
		   ((given.loadvm &&
		     board_named_switch_disks(board, given.loadvm, err, sizeof(err))) ||
		    board_snapshot_restore(board, cfg.restore_path, err, sizeof(err)))) {
		fprintf(stderr, "btvm: %s\n", err);
		close_frontends(&fe);
		board_destroy(board);
		disk_boot_free(&db);
		free(sc);
		return EXIT_FAILURE;
	}
	/* Restored, the machine starts paused if it was saved so, unless
	 * --start (or -S) says otherwise. */
	if (given.start != START_AS_SAVED)
		board_set_start_paused(board, given.start == START_PAUSED);
	status = board_run(board);
	if (board_close_tcache_log(board, err, sizeof(err))) {
		fprintf(stderr, "btvm: %s\n", err);
		if (status == 0)
			status = EXIT_FAILURE;
	}
	if (board_stats_finish(fe.stats) && status == 0)
		status = EXIT_FAILURE;
	bool terminated = board_stats_terminated(fe.stats);
	close_frontends(&fe);
	board_destroy(board);
	disk_boot_free(&db);
	free(sc);
	if (terminated) {
		/* Die of it, as without the dump, once the terminal and the
		 * disks' overlays are put right. */
		signal(SIGTERM, SIG_DFL);
		raise(SIGTERM);
	}
	return status;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage_error("no command given");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		print_usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("btvm %s\n", BTVM_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--list-sensitive")) {
		sensitive_print_table(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "img"))
		return disk_tool_main(argc - 1, argv + 1);
	if (argv[1][0] == '-')
		return usage_error("unknown option '%s'", argv[1]);
	return usage_error("unknown command '%s'", argv[1]);
}
