/* The PC board: which devices exist, at which ports and IRQ lines, how
 * guest RAM is sized and the guest loaded, and the run loop's exit rules. */
#ifndef BTVM_BOARD_H
#define BTVM_BOARD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "boot/boot.h"
#include "cache/tcache.h"
#include "cpu/cpu.h"
#include "devices/acpi_pm.h"
#include "devices/bochs_display.h"
#include "devices/bus.h"
#include "devices/i8042.h"
#include "devices/ioapic.h"
#include "devices/isa_debug_exit.h"
#include "devices/lapic.h"
#include "devices/mc146818.h"
#include "devices/pci_host.h"
#include "devices/pic8259.h"
#include "devices/pit8254.h"
#include "devices/port92.h"
#include "devices/testdev.h"
#include "devices/uart16550.h"
#include "devices/vga.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_net.h"
#include "frontend/board_screen.h"
#include "frontend/board_stats.h"
#include "host/slirp_net.h"
#include "isa/vcpu.h"
#include "mmu/guest_ram.h"
#include "mmu/shadow.h"
#include "translator/translate.h"

/* DISPLAY_DEFAULT: a window when a display server answers, else none. */
enum display_mode { DISPLAY_DEFAULT, DISPLAY_NONE, DISPLAY_SDL };
enum serial_mode { SERIAL_STDIO, SERIAL_NONE };
#define BOARD_MAX_SCREENSHOTS 4u
#define BOARD_MAX_DISKS 4u          /* virtio-blk in PCI slots 4-7 */
#define BOARD_FB_MAX_WIDTH 2560u
#define BOARD_FB_MAX_HEIGHT 1600u

/* The translator's own block size limit (translate_internal.h's). */
#define BOARD_MAX_BLOCK_INSNS 64u
/* --map-budget's range (the shadow's own floor is SHADOW_MAP_MIN). */
#define BOARD_MAP_BUDGET_MIN 4096u
#define BOARD_MAP_BUDGET_MAX (1u << 30)

struct board_config {
	const char *kernel_path;
	const char *initrd_path;
	const char *cmdline;
	uint64_t ram_mib;
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
	unsigned map_budget;    /* host mappings for the shadow; 0: vm.max_map_count's */
	unsigned profile_top;   /* --profile N: list the N hottest blocks; 0: off */
	bool selfcheck_blocks;  /* debug: every block self-checking, no page protection */
	bool clone_check;       /* debug: each copied block translated anew and compared */
	const char *trace_path; /* --trace: list every translated block here */
	uint64_t tcache_mib;
	/* --screenshot, each written at exit and on SIGUSR2 */
	const char *screenshot_paths[BOARD_MAX_SCREENSHOTS];
	unsigned screenshot_count;
	/* --vga WxH: a boot-time linear framebuffer; 0x0: VGA text mode */
	unsigned fb_width, fb_height;
	/* --disk FILE[,readonly]: virtio-blk disks, the first /dev/vda */
	struct { const char *path; bool readonly; } disks[BOARD_MAX_DISKS];
	unsigned ndisks;
	bool snapshot;            /* --snapshot: disk writes go to a temporary overlay */
	struct slirp_net_config net;   /* --net: user (libslirp) or none */
	const char *monitor_path;      /* --monitor unix:PATH, or NULL */
	bool gdb;                      /* --gdb tcp:[HOST]:PORT */
	char gdb_host[256];
	uint16_t gdb_port;
	bool start_paused;             /* -S: stopped until gdb (or the monitor) continues */
	/* --restore: the machine comes from this snapshot; no kernel is
	 * loaded (it is in the saved RAM) and devices get the saved state. */
	const char *restore_path;
	bool kernel_from_disk;    /* the kernel is the first disk's (saved in snapshots) */
	/* A kernel and initrd already in memory (found on a disk), used
	 * instead of reading kernel_path/initrd_path, which then name them. */
	const uint8_t *kernel_data, *initrd_data;
	size_t kernel_size, initrd_size;
	/* The window's code (display_sdl, host/display.c), which main.c
	 * gives: only it links SDL2. NULL: no window (DISPLAY_SDL fails). */
	const struct display_backend *window;
};

/* Guest time: one host counter behind every guest clock
 * (guest_time.c). */
struct guest_clock {
	bool tsc;                 /* counts are host TSC ticks, else host ns */
	uint64_t hz;              /* counts per second */
	uint64_t mult;            /* ns per count << 32 */
	uint64_t base_count;      /* a count, and the guest time there */
	uint64_t base_ns;
	uint64_t cal_count, cal_mono;   /* where the TSC's rate is measured from */
	uint64_t refined_mono;
};

struct board {
	struct board_config cfg;
	struct symbols *symbols;        /* the guest's, for --explain; NULL if none */
	struct guest_ram ram;
	struct bus bus;
	struct pic8259_pair pic;
	struct pit8254 pit;
	struct uart16550 com1;
	struct mc146818 rtc;
	struct acpi_pm pm;
	struct lapic lapic;
	struct ioapic ioapic;
	struct i8042 kbc;
	struct port92 port92;
	struct pci_host pci;
	struct vga vga;
	struct bochs_display bochs;   /* the PCI std VGA: framebuffer modes */
	struct virtio_blk disks[BOARD_MAX_DISKS];
	struct virtio_net net;        /* with cfg.net.enabled: 00:03.0 */
	struct slirp_net *slirp;      /* its backend; NULL without --net user */
	struct board_screen screen;   /* the window, input, screenshots */
	bool reset_requested;     /* keyboard controller or port 0x92 reset */
	uint32_t acpi_rsdp;       /* where the ACPI tables' RSDP is */
	uint8_t rng_seed[32];     /* the host's random bytes for the boot loader to pass */
	uint8_t port_b;           /* port 0x61 bits 0-1 as written */
	bool refresh_toggle;      /* port 0x61 bit 4 */
	struct isa_debug_exit debug_exit;
	struct testdev testdev;   /* MMIO page for the test guests */
	struct vcpu_state boot;   /* machine state the loader set up */
	enum boot_kind boot_kind;
	struct shadow sh;
	struct tcache tc;
	struct translator tr;
	struct cpu cpu;
	struct cpu_platform plat;
	FILE *trace;
	/* Time and wake-ups: guest time, the host timer that raises
	 * cpu.attention, and the eventfd HLT sleeps on. */
	struct guest_clock clk;
	timer_t timer;
	bool timer_ready;
	uint64_t timer_deadline;  /* guest time it is armed for; UINT64_MAX: disarmed */
	uint64_t timer_fires_mono;  /* CLOCK_MONOTONIC it fires at */
	int wake_fd;
	bool halt_poll_allowed;  /* HLT may spin for a disk request: the process has 2+ CPUs */
	bool rx_backlog;          /* console input waiting for UART room */
	uint64_t last_reprotect_ns;
	bool map_hint_shown;            /* the mapping budget's hint, printed once */
	bool cpu_ready;
	bool shadow_ready;
	bool exit_requested;
	int exit_status;
	/* The monitor (monitor.c) and the gdb stub (gdbstub.c), and the
	 * pause they control: guest time stands still from paused_count (a
	 * host count) until the resume. Each holds the guest stopped on its
	 * own (holds, BOARD_HOLD_*); it runs when neither does. */
	struct monitor *monitor;
	/* Guest time before which the monitor's waiting commands do not stop
	 * the guest: each run of them is followed by a slice of guest time. */
	uint64_t monitor_slice_end_ns;
	struct gdbstub *gdb;
	unsigned holds;
	struct migration *migration;   /* a live migration's source side, or NULL */
	bool migrate_final;       /* its pre-copy is done: the last round, guest stopped */
	bool paused;              /* holds != 0 */
	uint64_t paused_count;
	atomic_bool quit_key;     /* Ctrl-A x, from the console's thread */
	/* Statistics over time (board_stats.c). */
	struct stats_series series;
	uint64_t stats_start_mono;
	bool stats_sigterm;       /* SIGTERM ended the run */
};

/* Builds the machine and loads the guest. Returns 0, or a negative errno
 * with a one-line message in err. */
int board_create(struct board *board, const struct board_config *cfg, char *err,
		 size_t err_len);
/* Runs the guest until it asks to exit; returns the process exit status. */
int board_run(struct board *board);
/* Who holds the guest stopped: the monitor's stop, or gdb (from its
 * connection, and from each stop it is told of until it resumes; -S is
 * gdb's hold with --gdb, the monitor's without). */
enum { BOARD_HOLD_MONITOR = 1u, BOARD_HOLD_GDB = 2u };
/* vCPU thread, guest stopped: takes or releases one hold. The guest is
 * paused while any is held: guest time (every clock, the TSC) stands
 * still, the window says "paused", and the monitor's clients get STOP and
 * RESUME events when that changes. */
void board_pause(struct board *board, unsigned hold);
void board_resume(struct board *board, unsigned hold);
/* Any thread: gets the vCPU to the run loop soon (out of a HLT sleep too). */
void board_wake(struct board *board);
/* The same from a signal handler, uctx its context (it may have
 * interrupted the vCPU's translated code: cpu_request_attention_signal). */
void board_wake_from_signal(struct board *board, void *uctx);
/* Guest memory for the monitor and the debugger (board_memory.c), vCPU
 * thread, guest stopped. A linear address goes through the guest's page
 * tables as they are, raising nothing: false where nothing is mapped. */
bool board_linear_to_phys(struct board *board, uint32_t linear, uint32_t *gpa);
/* Guest RAM or device memory (VRAM) at gpa; NULL for anything else (MMIO
 * would have side effects, and holes have nothing). */
const uint8_t *board_phys_ptr(struct board *board, uint64_t gpa, uint64_t len);
/* Reads len bytes at addr (linear, or physical); false, with the failing
 * address in *bad, where one is not memory. */
bool board_read_memory(struct board *board, uint32_t addr, bool physical, uint8_t *dst,
		       uint32_t len, uint32_t *bad);
/* Writes len bytes at a linear address, RAM only (whatever the page's
 * protection, as a debugger does); false with *bad, writing nothing, when
 * any of it is not RAM. Translations of the bytes written are dropped. */
bool board_write_memory(struct board *board, uint32_t linear, const uint8_t *src, uint32_t len,
			uint32_t *bad);
/* The --stats report (board_stats.c), whole or by section. */
void board_print_stats(const struct board *board, FILE *out);
void board_print_device_stats(const struct board *board, FILE *out);
void board_print_tcache_stats(const struct board *board, FILE *out);
void board_print_mmu_stats(const struct board *board, FILE *out);
void board_print_cpu_stats(const struct board *board, FILE *out);
/* Guest time in ns since power-on (as every device counts it) and the
 * guest's TSC, read at one instant (standing still while paused). */
void board_guest_time(const struct board *board, uint64_t *guest_ns, uint64_t *tsc);
/* Both carry on from these values: after a restore, or a save that the
 * guest must not see take time. */
void board_set_guest_time(struct board *board, uint64_t guest_ns, uint64_t tsc);
void board_destroy(struct board *board);

#endif
