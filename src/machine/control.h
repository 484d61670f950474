/* The control interface between the machine and its front ends (the
 * monitor, the gdb stub, live migration, the statistics and --explain
 * reports, the window): everything a front end may ask of a machine or do
 * to it, as functions of the opaque struct board, and the registration
 * through which the machine calls its front ends back (pollers, the
 * control point where they run with the guest stopped, event sinks).
 * Front ends never see struct board's fields (machine/board_internal.h is
 * the machine's own), and the machine includes no front end's header.
 *
 * Threads: a function is for the vCPU thread unless it says otherwise;
 * "guest stopped" means at the control point (a front end's run_stopped),
 * where the machine's state is whole. A vCPU is named by its index, 0 to
 * board_vcpu_count() - 1. */
#ifndef BTVM_MACHINE_CONTROL_H
#define BTVM_MACHINE_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cache/tcache.h"
#include "cpu/cpu.h"
#include "cpu/profile.h"
#include "devices/bochs_display.h"
#include "devices/bus.h"
#include "devices/ide.h"
#include "devices/pci_host.h"
#include "devices/vga.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_net.h"
#include "isa/sensitive.h"
#include "isa/vcpu.h"
#include "machine/board.h"
#include "mmu/shadow.h"

struct explain;

/* ------------------------------------------------------- pause and exit */

/* Who holds the guest stopped: the monitor's stop, or gdb (from its
 * connection, and from each stop it is told of until it resumes; -S is
 * gdb's hold with --gdb, the monitor's without). */
enum { BOARD_HOLD_MONITOR = 1u, BOARD_HOLD_GDB = 2u };
/* Guest stopped: takes or releases one hold. The guest is paused while
 * any is held: guest time (every clock, the TSC) stands still, and the
 * front ends hear BOARD_EVENT_STOP and BOARD_EVENT_RESUME when that
 * changes. */
void board_pause(struct board *board, unsigned hold);
void board_resume(struct board *board, unsigned hold);
bool board_paused(const struct board *board);
/* Before board_run: whether the run begins paused, held by the monitor
 * (by gdb with --gdb) until a cont. From the configuration's -S; a
 * restore sets it to whether the snapshot was saved paused, and --start
 * then overrides that. */
void board_set_start_paused(struct board *board, bool paused);
bool board_start_paused(const struct board *board);
unsigned board_holds(const struct board *board);
/* The run ends with this exit status once the running instruction is
 * done (board_run returns it). */
void board_request_exit(struct board *board, int status);
/* The whole PC resets once the running instruction is done. */
void board_request_reset(struct board *board);
/* The ACPI power button, pressed and released. */
void board_power_button(struct board *board);
/* The front-panel NMI button, pressed: IOCHK# through the chipset (port
 * 0x61 bit 6, unless bit 3 disables it; port 0x70 bit 7 holds the NMI
 * back while set) to the PC's NMI wire, LINT1. */
void board_nmi_button(struct board *board);
/* Any thread: gets the vCPUs to the run loop soon (out of a HLT sleep too). */
void board_wake(struct board *board);
/* The same from a signal handler, uctx its context (it may have
 * interrupted the vCPU's translated code: cpu_request_attention_signal). */
void board_wake_from_signal(struct board *board, void *uctx);
/* Any thread: the configuration the board was built with. */
const struct board_config *board_config(const struct board *board);
/* Guest time in ns since power-on (as every device counts it) and the
 * guest's TSC, read at one instant (standing still while paused). */
void board_guest_time(const struct board *board, uint64_t *guest_ns, uint64_t *tsc);
/* Both carry on from these values: after a restore, or a save that the
 * guest must not see take time (front ends hear BOARD_EVENT_CLOCK_SET). */
void board_set_guest_time(struct board *board, uint64_t guest_ns, uint64_t tsc);

/* --------------------------------------------------------- guest memory
 * (board_memory.c) For the monitor and the debugger, guest stopped. A
 * linear address goes through vCPU vcpu's page tables as they are,
 * raising nothing: false where nothing is mapped. */
bool board_linear_to_phys(struct board *board, unsigned vcpu, uint32_t linear, uint64_t *gpa);
/* Guest RAM or device memory (VRAM) at gpa; NULL for anything else (MMIO
 * would have side effects, and holes have nothing). */
const uint8_t *board_phys_ptr(struct board *board, uint64_t gpa, uint64_t len);
/* Reads len bytes at addr (linear: its low 32 bits; or physical, RAM up
 * to the 36-bit limit); false, with the failing address in *bad, where
 * one is not memory. */
#define BOARD_PHYS_ADDR_MAX ((1ull << 36) - 1)   /* MAXPHYADDR 36 (isa/cpuid.h) */
bool board_read_memory(struct board *board, unsigned vcpu, uint64_t addr, bool physical,
		       uint8_t *dst, uint32_t len, uint64_t *bad);
/* Writes len bytes at start (linear: its low 32 bits; or physical), RAM
 * only (whatever the page's protection, as a debugger does); false with
 * *bad, writing nothing, when any of it is not RAM. Translations of the
 * bytes written are dropped. */
bool board_write_memory(struct board *board, unsigned vcpu, uint64_t start, bool physical,
			const uint8_t *src, uint32_t len, uint64_t *bad);
/* All of guest memory as the host maps it, for copying it whole (a live
 * migration): RAM from host, then device memory; page n of the memfd is
 * host + n * 4096. Fixed for the board's life. */
struct board_memory {
	uint8_t *host;
	int memfd;          /* behind host: its holes read zeros (guest_ram_has_data) */
	uint64_t ram_size, devmem_size;
};
void board_memory(struct board *board, struct board_memory *mem);
/* The log of RAM pages the guest writes (shadow_ram_log): on, off, and
 * the pages written since the last harvest ORed into bitmap (bit n: RAM
 * page n), returning how many. */
int board_ram_log(struct board *board, bool on);
unsigned board_ram_harvest(struct board *board, uint8_t *bitmap);

/* The disks at a live migration's switch-over, shared storage: whether
 * the machine has any disk or CD drive; every virtio-blk request
 * finished and returned (IDE has none in flight when stopped); each
 * read-write image fdatasynced and its write lock let go (0, or a
 * negative errno with the image named in err); the write locks taken
 * (again): 0, or -EBUSY naming the image another process holds. Guest
 * stopped, on the thread that runs the machine. */
bool board_has_drives(const struct board *board);
/* The read-write disk images, n from 0: the virtio disks, then the IDE
 * slots, in that order on both ends of a migration (one configuration);
 * NULL past the last. */
struct disk_image *board_rw_disk(struct board *board, unsigned n);
void board_disks_quiesce(struct board *board);
int board_disks_release(struct board *board, char *err, size_t err_len);
int board_disks_lock(struct board *board, char *err, size_t err_len);

/* --------------------------------------------------------------- counters */

/* A vCPU's own counts: its exits, events, callouts, kicks, time and its
 * LAPIC's timer. */
struct board_vcpu_counters {
	struct cpu_stats cpu;
	uint64_t callouts_by_class[SENS_MONITOR + 1];
	uint64_t kicks;
	uint64_t phase_ms[PHASE_COUNT + 1];   /* profile_phase_ms's, [PHASE_COUNT] idle */
	uint64_t lapic_timer_irqs, lapic_timer_lost_irqs;
};

/* Every counter the --stats report, --stats-json and the monitor's info
 * commands show, copied out at one moment. The per-vCPU counts here
 * (those of struct board_vcpu_counters) are the sums over the vCPUs,
 * each vCPU's in vcpus. */
struct board_counters {
	bool cpu_ready;                 /* the vCPUs were built (else only devices count) */
	uint64_t ram_bytes;
	uint64_t unclaimed_reads[BUS_SPACE_COUNT], unclaimed_writes[BUS_SPACE_COUNT];
	uint64_t serial_tx_bytes, serial_rx_bytes;
	uint64_t mouse_events, mouse_packets;
	unsigned ndisks;
	struct virtio_blk_stats disks[BOARD_MAX_DISKS];
	unsigned ide_drives;            /* drives on the IDE controller (CD drives included) */
	struct ide_stats ide;           /* the IDE controller's, all its drives together */
	bool sound;                     /* the AC'97 card is there */
	/* The card's (frames played, buffers, DMA errors, interrupts) and
	 * its host output's (frames queued, dropped, underruns). */
	uint64_t audio_frames, audio_buffers, audio_dma_errors, audio_interrupts;
	uint64_t audio_host_frames, audio_dropped, audio_underruns;
	bool net;                       /* a network card with its backend (--net user) */
	struct virtio_net_stats net_stats;
	uint64_t net_tx_queue_full;     /* the backend's drops */
	uint64_t vga_modes_not_shown;
	struct tcache_stats tcache;
	uint64_t code_used, code_size, code_live;
	struct shadow_stats shadow;
	uint64_t pages_mapped, host_mappings, host_mapping_budget;
	struct cpu_stats cpu;
	uint64_t callouts_by_class[SENS_MONITOR + 1];
	uint64_t kicks;
	uint64_t phase_ms[PHASE_COUNT + 1];   /* profile_phase_ms's, [PHASE_COUNT] idle */
	uint64_t clock_hz;              /* the TSC's rate; 0: the 1 GHz monotonic clock */
	uint64_t pit_irqs, pit_lost_irqs, pic_spurious, rtc_irqs, rtc_lost_irqs;
	uint64_t lapic_timer_irqs, lapic_timer_lost_irqs, acpi_scis;
	unsigned nvcpus;
	struct board_vcpu_counters vcpus[BOARD_MAX_SMP];
};
void board_read_counters(const struct board *board, struct board_counters *c);

/* ------------------------------------------------------------- the vCPUs
 * (vcpu_control.c) Guest stopped. */

unsigned board_vcpu_count(const struct board *board);
/* What a vCPU is doing, as the monitor's info cpus and gdb's threads show
 * it: running (or able to: the vCPUs take turns), halted (HLT, until an
 * interrupt), or an application processor waiting for a start-up IPI
 * (after RESET or INIT). */
enum board_vcpu_state { BOARD_VCPU_RUNNING, BOARD_VCPU_HALTED, BOARD_VCPU_WAIT_SIPI };
struct board_vcpu_status {
	unsigned apic_id;     /* the LAPIC's ID register's, as the guest's IPIs name it */
	enum board_vcpu_state state;
};
void board_vcpu_status(const struct board *board, unsigned vcpu, struct board_vcpu_status *st);
/* The vCPU the guest stopped on: the one whose turn it was (a breakpoint's
 * or a step's vCPU, or the one running when a front end stopped the whole
 * machine). Every other vCPU is stopped too: they take turns. */
unsigned board_vcpu_current(const struct board *board);
/* The registers as a debugger shows them. s is the architectural state
 * (segments, descriptor tables, control and debug registers); its
 * general registers are the boot state's, regs are the live ones. */
struct board_regs {
	struct vcpu_state s;
	uint32_t regs[REG_COUNT];
	uint32_t eflags;
	bool halted;
};
void board_vcpu_get_regs(const struct board *board, unsigned vcpu, struct board_regs *r);
void board_vcpu_set_gpr(struct board *board, unsigned vcpu, unsigned reg, uint32_t value);
/* Also ends a HLT: the vCPU has somewhere else to go on from. */
void board_vcpu_set_eip(struct board *board, unsigned vcpu, uint32_t eip);
/* Only the bits in writable change (cpu_set_eflags). */
void board_vcpu_set_eflags(struct board *board, unsigned vcpu, uint32_t value, uint32_t writable);
/* The x87/SSE state in FXSAVE's layout (512 bytes), and back. */
void board_vcpu_get_fpu(struct board *board, unsigned vcpu, uint8_t *fxsave);
void board_vcpu_set_fpu(struct board *board, unsigned vcpu, const uint8_t *fxsave);
/* Breakpoints, done in the translation (cpu.h's cpu_debug): 0, or
 * -ENOSPC when CPU_MAX_BREAKPOINTS are set. */
int board_vcpu_set_breakpoint(struct board *board, unsigned vcpu, uint32_t eip);
void board_vcpu_clear_breakpoint(struct board *board, unsigned vcpu, uint32_t eip);
/* The debugger lets the vCPU go on, one instruction with step: a vCPU
 * stepped has the next turn, so its instruction is the next one run (an
 * AP waiting for a start-up IPI has nothing to run: it steps once started). */
void board_vcpu_debug_resume(struct board *board, unsigned vcpu, bool step);
/* The debugger has gone: no breakpoint, step or event of its stays. */
void board_vcpu_debug_detach(struct board *board, unsigned vcpu);
/* The breakpoint or finished step the vCPU stopped for, forgotten once
 * taken; DEBUG_EVENT_NONE if none. */
enum debug_event board_vcpu_take_debug_event(struct board *board, unsigned vcpu);
/* The translated block for eip (at physical gpa) in the vCPU's current
 * mode, which *mode is set to; NULL if none was made. */
const struct tblock *board_vcpu_translation(struct board *board, unsigned vcpu, uint32_t eip,
					    uint64_t gpa, uint32_t *mode);
/* --explain's and --trap-and-emulate's counts and notes (NULL without
 * either), and --profile's report. */
const struct explain *board_vcpu_explain(const struct board *board, unsigned vcpu);
void board_print_profile(struct board *board, FILE *out);

/* ------------------------------------------- the machine, as it is built
 * Read-only views for the monitor's info commands. */
const struct bus *board_bus(const struct board *board);
const struct pci_host *board_pci(const struct board *board);
const struct shadow *board_shadow(const struct board *board);

/* ----------------------------------------------------- the IDE drives
 * (control.c) Guest stopped. slot: 0-3, primary master and slave, then
 * secondary master and slave (BOARD_IDE_SLOTS). */

/* A drive as it is now: kind (BOARD_IDE_NONE: no drive there), the image
 * (NULL for an empty CD drive) and whether it is read-only, and for a CD
 * drive its tray. path stays valid until the medium changes. */
struct board_ide_info {
	enum board_ide_kind kind;
	const char *path;
	bool readonly;
	bool tray_open, locked;   /* the CD drive's tray: open, locked by the guest */
};
void board_ide_info(const struct board *board, unsigned slot, struct board_ide_info *info);
/* The monitor's "change": the image at path (read-only, a read lock) into
 * slot's CD drive, the tray closed; the guest sees the old medium go and
 * the new one come. "eject": the medium out, the tray open. A tray the
 * guest locked refuses unless force (-EBUSY; the guest is asked to eject
 * it, as QEMU does). 0, -ENODEV when slot has no CD drive, or the image's
 * error; a one-line message in err; on an error the drive keeps what it
 * had. */
int board_cdrom_change(struct board *board, unsigned slot, const char *path, bool force,
		       char *err, size_t err_len);
int board_cdrom_eject(struct board *board, unsigned slot, bool force, char *err, size_t err_len);

/* ---------------------------------------------------- display and input
 * (board_display.c) For the window and screenshots. */

/* The display devices as the guest left them, read-only: the VGA with
 * its legacy window (VGA_LEGACY_SIZE bytes of guest RAM), and the PCI
 * std VGA whose framebuffer modes take over when active. Fixed for the
 * board's life. */
struct board_display {
	const struct vga *vga;
	const uint8_t *vga_window;
	const struct bochs_display *bochs;
};
void board_display(const struct board *board, struct board_display *d);
/* The framebuffer's written pages: found by the shadow's write
 * protection (on) or not at all (off: the window compares instead); the
 * pages written by translated code since the last harvest ORed into
 * dirty (BOCHS_DIRTY_BYTES), returning how many; those written through
 * the device's own registers and aperture likewise. */
void board_vram_log(struct board *board, bool on);
/* The size the std VGA offers as its EDID's preferred mode, asked of fn
 * (false: no EDID) whenever the guest reads the block; NULL for none.
 * Set before the guest runs. */
void board_display_edid_source(struct board *board,
			       bool (*fn)(void *opaque, unsigned *width, unsigned *height),
			       void *opaque);
unsigned board_vram_harvest(struct board *board, uint8_t *dirty);
void board_vram_take_device_dirty(struct board *board, uint8_t *dirty);
/* The screen as the guest shows it now, drawn whole into pixels (room
 * for BOARD_SCREEN_MAX_PIXELS), and its text (empty for a framebuffer):
 * what --screenshot writes. */
#define BOARD_SCREEN_MAX_PIXELS \
	(VGA_MAX_PIXELS > BOCHS_MAX_PIXELS ? VGA_MAX_PIXELS : BOCHS_MAX_PIXELS)
void board_draw_screen(struct board *board, uint32_t *pixels, unsigned *width, unsigned *height);
size_t board_screen_text(const struct board *board, char *buf, size_t len);
/* Keys (scan code set 2 bytes) and mouse motion into the i8042: false
 * when it has no room for the keys yet (offer them again later). */
bool board_key_input(struct board *board, const uint8_t *set2, unsigned len);
void board_mouse_input(struct board *board, int dx, int dy, int dz, unsigned buttons);
/* Whether the machine's tablet has a running driver: the window then
 * sends the pointer's position there (board_tablet_input) and needs no
 * grab. False without a tablet. */
bool board_tablet_active(const struct board *board);
/* The pointer at (x, y), each 0 (left, top) to 32767 (right, bottom) of
 * the picture, the wheel turned by dz notches (away from the user
 * positive), the buttons held (DISPLAY_BUTTON_*): one report to the
 * tablet. Dropped when it is not active. */
void board_tablet_input(struct board *board, unsigned x, unsigned y, int dz, unsigned buttons);

/* ----------------------------------------------------------- front ends
 * (control.c) A front end registers callbacks, each optional (NULL), all
 * called on the vCPU thread unless said otherwise, in the order the front
 * ends registered. */

/* What a front end has waiting for the control point. */
enum board_want {
	BOARD_WANT_NOTHING,
	BOARD_WANT_STOP,             /* the guest stops at the next poll */
	/* The guest stops once it has had its slice of guest time since the
	 * last stop (BOARD_CONTROL_SLICE_NS), or at once if it is halted:
	 * a front end that keeps asking slows the guest by half at most. */
	BOARD_WANT_STOP_AFTER_SLICE,
};
/* The least guest time the guest runs between two stops that
 * BOARD_WANT_STOP_AFTER_SLICE asked for. */
#define BOARD_CONTROL_SLICE_NS 2000000ull

/* What a halted vCPU's sleep must allow for, as the front ends fill it
 * in: what they may send that ends the guest's wait, when they offer
 * held-back input again, and when they need the vCPU for themselves
 * (that wakes the sleep, but does not end the guest's wait). */
enum {
	BOARD_WAKE_KEYBOARD = 1u,       /* keys into the i8042 (IRQ 1) */
	BOARD_WAKE_MOUSE = 2u,          /* mouse motion (IRQ 12) */
	BOARD_WAKE_POWER_BUTTON = 4u,   /* the ACPI SCI */
	BOARD_WAKE_STOP = 8u,           /* it may stop the guest to look (a debugger) */
};
struct board_halt {
	unsigned wakes;                 /* BOARD_WAKE_* */
	uint64_t input_ns;              /* guest ns; UINT64_MAX: none */
	uint64_t own_ns;
};

enum board_event {
	BOARD_EVENT_START,       /* board_run begins, before the console opens */
	BOARD_EVENT_STOP,        /* paused */
	BOARD_EVENT_RESUME,      /* running again */
	BOARD_EVENT_RESET,       /* the PC was reset */
	BOARD_EVENT_CLOCK_SET,   /* guest time was set: deadlines in it are to be looked at again */
	BOARD_EVENT_SHUTDOWN,    /* the run is over */
};

struct board_frontend_ops {
	/* What waits for the control point (pure: no side effects). */
	enum board_want (*wants)(void *opaque);
	/* From every poll of the devices, with guest time now; true: the
	 * guest is to stop at the control point. */
	bool (*poll)(void *opaque, uint64_t guest_ns);
	/* The guest time of the next poll the front end needs; UINT64_MAX:
	 * none (the host timer is armed for the earliest). */
	uint64_t (*deadline)(void *opaque);
	/* Before a halted vCPU sleeps, with guest time now. */
	void (*halt)(void *opaque, uint64_t guest_ns, struct board_halt *h);
	/* At the control point, guest stopped: runs what waits; true if more
	 * waits that could run at once. Called again and again while paused. */
	bool (*run_stopped)(void *opaque);
	/* While paused, between two looks for work (every 20 ms at least),
	 * with the guest time the pause stands at. */
	void (*paused)(void *opaque, uint64_t guest_ns);
	/* The console's thread: a line typed at the monitor's prompt. */
	void (*terminal_line)(void *opaque, const char *line);
	void (*event)(void *opaque, enum board_event event);
	/* The run is over with this exit status (after BOARD_EVENT_SHUTDOWN). */
	void (*exited)(void *opaque, int status);
};

#define BOARD_MAX_FRONTENDS 8u
/* Registers a front end, guest stopped or before the run: 0, or -ENOSPC. */
int board_add_frontend(struct board *board, const struct board_frontend_ops *ops, void *opaque);
/* Unregisters the front end registered with opaque, outside the run or
 * guest stopped, never from one of its callbacks. */
void board_remove_frontend(struct board *board, void *opaque);

#endif
