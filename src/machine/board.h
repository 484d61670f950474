/* The PC board's public face: how it is configured (struct board_config)
 * and its life (board_create, board_run, board_destroy). struct board is
 * the machine's own (machine/board_internal.h): everything else reaches it
 * through functions, main.c through these, the front ends through
 * machine/control.h. */
#ifndef BTVM_BOARD_H
#define BTVM_BOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache/tcache.h"
#include "host/slirp_net.h"

struct board;
struct display_backend;
struct audio_backend;

/* DISPLAY_DEFAULT: a window when a display server answers, else none. */
enum display_mode { DISPLAY_DEFAULT, DISPLAY_NONE, DISPLAY_SDL };
/* --tablet: main.c turns TABLET_DEFAULT into on when the machine will have
 * a window (as DISPLAY_DEFAULT would open one); a board given
 * TABLET_DEFAULT has none. */
enum tablet_mode { TABLET_DEFAULT, TABLET_OFF, TABLET_ON };
enum serial_mode { SERIAL_STDIO, SERIAL_NONE };
/* --sound: the AC'97 card or none. main.c turns SOUND_DEFAULT into the
 * card; a board given SOUND_DEFAULT has none (as with the tablet). */
enum sound_mode { SOUND_DEFAULT, SOUND_NONE, SOUND_AC97 };
enum board_ide_kind { BOARD_IDE_NONE, BOARD_IDE_DISK, BOARD_IDE_CDROM };

/* A drive on the IDE controller: a disk (--disk FILE,if=ide), or a
 * CD/DVD-ROM (--cdrom FILE: an ISO image, read-only; path NULL for an
 * empty drive, which only a restored snapshot makes). */
struct board_ide_drive {
	enum board_ide_kind kind;
	const char *path;
	bool readonly;
};

#define BOARD_MAX_SCREENSHOTS 4u
#define BOARD_MAX_DISKS 4u          /* virtio-blk in PCI slots 4-7 */
#define BOARD_MAX_SHARES 4u         /* virtio-9p in PCI slots 12-15 */
/* The PIIX3 IDE controller's drives (00:01.1, always there): slot 0
 * primary master, 1 primary slave, 2 secondary master, 3 secondary
 * slave, QEMU's index order. */
#define BOARD_IDE_SLOTS 4u
#define BOARD_BOOT_ORDER_MAX 2u     /* c and d */
#define BOARD_FB_MAX_WIDTH 2560u
#define BOARD_FB_MAX_HEIGHT 1600u

/* The translator's own block size limit (translate_internal.h's). */
#define BOARD_MAX_BLOCK_INSNS 64u
/* --traces without N: arrivals at a trace head before its path is recorded
 * (Dynamo used 50). */
#define BOARD_TRACE_THRESHOLD 50u
/* --smp's range (board_internal.h's BOARD_MAX_VCPUS). */
#define BOARD_MAX_SMP 8u
/* --map-budget's range (the shadow's own floor is SHADOW_MAP_MIN). */
#define BOARD_MAP_BUDGET_MIN 4096u
#define BOARD_MAP_BUDGET_MAX (1u << 30)

struct board_config {
	const char *kernel_path;
	const char *initrd_path;
	/* --firmware bios: this ROM image (SeaBIOS) boots the PC from the
	 * reset vector instead of a kernel loaded directly; NULL: direct. */
	const char *bios_path;
	const char *debugcon_path;   /* --debugcon FILE: port 0x402's bytes, or NULL */
	bool boot_menu;              /* --boot menu=on: the firmware offers its boot menu */
	/* --boot order=: the firmware's boot order, QEMU's letters ('c' the
	 * disks, 'd' the CD-ROM); empty: "dc" */
	char boot_order[BOARD_BOOT_ORDER_MAX + 1];
	bool first_disk_ide;         /* the first --disk is an IDE one: it boots first of the disks */
	unsigned boot_menu_ms;       /* --boot splash-time=MS: how long it waits for ESC; 0: its default */
	const char *cmdline;
	uint64_t ram_mib;
	unsigned smp;                   /* --smp: vCPUs, 1 to BOARD_MAX_SMP */
	enum display_mode display;
	enum serial_mode serial;
	bool stats;
	bool explain;                   /* --explain: the sensitive instructions executed */
	bool trap_emulate;              /* --trap-and-emulate: a deprivileged guest kernel */
	const char *symbols_path;       /* --symbols FILE, or NULL */
	const char *stats_json_path;    /* --stats-json FILE, or NULL */
	unsigned stats_interval_ms;     /* --stats-interval MS; 0: no series */
	bool no_reboot;
	bool one_insn_blocks;   /* debug: every block is one guest instruction */
	/* Cache studies (bench/cache): no chaining, no indirect-branch
	 * table, a smaller block size limit (0: the translator's). */
	bool no_chain, no_ibl;
	bool no_clone;          /* every block translated, none copied */
	unsigned max_block_insns;
	/* --traces[=N]: a trace head's threshold (cpu.trace_threshold); 0: off. */
	unsigned traces;
	unsigned map_budget;    /* host mappings for the shadow; 0: vm.max_map_count's */
	unsigned profile_top;   /* --profile N: list the N hottest blocks; 0: off */
	bool selfcheck_blocks;  /* debug: every block self-checking, no page protection */
	bool clone_check;       /* debug: each copied block translated anew and compared */
	const char *trace_path; /* --trace: list every translated block here */
	uint64_t tcache_mib;
	uint64_t tcache_kib;    /* --tcache NK: this size instead, if not 0 */
	enum tcache_policy tcache_policy;
	unsigned tcache_units;  /* units:N's N */
	/* adaptive:MIN-MAX's bounds in bytes; 0: the defaults */
	uint64_t tcache_min, tcache_max;
	/* --screenshot, each written at exit and on SIGUSR2 */
	const char *screenshot_paths[BOARD_MAX_SCREENSHOTS];
	unsigned screenshot_count;
	/* --vga WxH: a boot-time linear framebuffer; 0x0: VGA text mode */
	unsigned fb_width, fb_height;
	/* --disk FILE[,readonly]: virtio-blk disks, the first /dev/vda */
	struct { const char *path; bool readonly; } disks[BOARD_MAX_DISKS];
	unsigned ndisks;
	/* --disk FILE,if=ide and --cdrom FILE, by IDE slot */
	struct board_ide_drive ide[BOARD_IDE_SLOTS];
	bool snapshot;            /* --snapshot: disk writes go to a temporary overlay (IDE disks too) */
	/* --incoming: the read-write images are opened without their write
	 * locks, which the source holds until the switch-over
	 * (board_disks_lock takes them then). */
	bool defer_disk_locks;
	struct slirp_net_config net;   /* --net: user (libslirp) or none */
	enum tablet_mode tablet;       /* --tablet: a virtio-input absolute pointer */
	enum sound_mode sound;         /* --sound: the AC'97 card at 00:09.0, or none */
	/* --share DIR[,tag=NAME][,readonly]: virtio-9p shared folders */
	struct { const char *path; char tag[65]; bool readonly; } shares[BOARD_MAX_SHARES];
	unsigned nshares;
	const char *monitor_path;      /* --monitor unix:PATH, or NULL */
	bool gdb;                      /* --gdb tcp:[HOST]:PORT */
	char gdb_host[256];
	uint16_t gdb_port;
	bool start_paused;             /* -S: stopped until gdb (or the monitor) continues */
	/* --restore: the machine comes from this snapshot; no kernel is
	 * loaded (it is in the saved RAM) and devices get the saved state. */
	const char *restore_path;
	bool kernel_from_disk;    /* the kernel is kernel_disk's (saved in snapshots) */
	/* The image whose filesystem the kernel comes from: the first --disk
	 * given, virtio or IDE; NULL unless kernel_from_disk. */
	const char *kernel_disk;
	/* A kernel and initrd already in memory (found on a disk), used
	 * instead of reading kernel_path/initrd_path, which then name them. */
	const uint8_t *kernel_data, *initrd_data;
	size_t kernel_size, initrd_size;
	/* The window's code (display_sdl, host/display.c), which main.c
	 * gives: only it links SDL2. NULL: no window (DISPLAY_SDL fails). */
	const struct display_backend *window;
	/* --audio sdl: the host's sound output (audio_sdl, host/audio_out.c,
	 * which main.c gives as it gives the window). NULL: the card plays
	 * into nothing, at its rate. */
	const struct audio_backend *audio;
};

/* Builds the machine and loads the guest into a board of its own
 * (*out). Returns 0, or a negative errno with a one-line message in err. */
int board_create(struct board **out, const struct board_config *cfg, char *err, size_t err_len);
/* Runs the guest until it asks to exit; returns the process exit status.
 * The front ends (machine/control.h) registered by then run with it. */
int board_run(struct board *board);
/* Takes the machine down and frees it; its front ends are closed first. */
void board_destroy(struct board *board);

#endif
