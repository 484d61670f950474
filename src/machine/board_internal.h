/* What the machine's files share and nothing else sees: struct board
 * itself (one machine: its shared parts, and a slot for each vCPU),
 * guest time's inline reads, and the steps of building, running and
 * resetting the PC. Front ends reach the machine through
 * machine/control.h only, main.c through machine/board.h; tests/layers.txt
 * declares this header private to machine/. Guest time's reads are static
 * inline here, not calls into guest_time.c: the devices' clock callback
 * runs at each of their register accesses and the run loop reads the
 * clock at every poll, and a call across files would add to each. */
#ifndef BTVM_MACHINE_BOARD_INTERNAL_H
#define BTVM_MACHINE_BOARD_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "boot/boot.h"
#include "boot/disk_boot.h"
#include "boot/linux_fwcfg.h"
#include "cache/tcache.h"
#include "cpu/cpu.h"
#include "devices/acpi_pm.h"
#include "devices/hpet.h"
#include "devices/bochs_display.h"
#include "devices/bus.h"
#include "devices/debugcon.h"
#include "devices/fw_cfg.h"
#include "devices/i8042.h"
#include "devices/ide.h"
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
#include "devices/virtio_9p.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_input.h"
#include "devices/ac97.h"
#include "devices/virtio_net.h"
#include "host/clock.h"
#include "host/share_server.h"
#include "host/slirp_net.h"
#include "isa/vcpu.h"
#include "machine/board.h"
#include "machine/control.h"
#include "mmu/guest_ram.h"
#include "mmu/shadow.h"
#include "translator/translate.h"

/* ------------------------------------------------------------ the board */

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

/* The vCPUs a board can hold (--smp). They take turns on the thread that
 * calls board_run (smp.c picks the next); docs/DESIGN.md, "One machine,
 * several vCPUs", says what each shares and how. */
#define BOARD_MAX_VCPUS BOARD_MAX_SMP
_Static_assert(BOARD_MAX_VCPUS <= TCACHE_MAX_VCPUS && BOARD_MAX_VCPUS <= SHADOW_MAX_VCPUS,
	       "the cache and the shadow serve every vCPU");

/* A vCPU's slot: everything that is per CPU. The platform's callbacks
 * (plat, the LAPIC's) get the slot as their opaque and reach the shared
 * parts through board. */
struct board_vcpu {
	struct board *board;
	unsigned index;               /* the APIC ID too */
	struct cpu cpu;               /* with its profile, explain counts and statistics */
	struct lapic lapic;
	struct translator tr;
	struct cpu_platform plat;
	/* An application processor after RESET or INIT: it runs nothing
	 * until a start-up IPI (smp.c). */
	bool wait_sipi;
	/* The bootstrap processor got an INIT: its own thread carries it
	 * out at its next poll (board__take_init). */
	bool init_pending;
	/* Its turn is over (the poll's slice, or HLT with another vCPU to
	 * run): cpu_run stopped for the run loop to switch, nothing else. */
	bool yield;
	/* On a thread of its own (board->threaded, an AP): the thread, and
	 * the eventfd its HLT sleeps on (the BSP's is board->wake_fd). */
	pthread_t thread;
	bool thread_started;
	int wake_fd;
	/* How long its HLT spins for another vCPU's request before it
	 * sleeps (board__halt_poll_ipi, with vCPUs on threads of their
	 * own), grown and shrunk as KVM's halt_poll_ns is
	 * (board__halt_poll_adapt). */
	uint32_t ipi_poll_ns;
	uint64_t ipi_poll_busy_until;  /* CLOCK_MONOTONIC: the host was busy, no spin till then */
	uint32_t ipi_poll_busy_ns;     /* that pause, doubled while the host stays busy */
};

/* A registered front end (machine/control.h). */
struct board_frontend {
	const struct board_frontend_ops *ops;
	void *opaque;
};

struct board {
	struct board_config cfg;
	/* A migrated machine's disk kernel, found at its first reboot
	 * (board__reset) and owned here; else empty. */
	struct disk_boot reboot_kernel;
	/* Shared by the vCPUs: memory, the bus and the devices on it. */
	struct guest_ram ram;
	struct bus bus;
	struct pic8259_pair pic;
	struct pit8254 pit;
	struct uart16550 com1;
	struct mc146818 rtc;
	struct acpi_pm pm;
	struct hpet hpet;          /* in front of ISA IRQ 0 and 8: the PIT and RTC drive it */
	struct ioapic ioapic;
	struct i8042 kbc;
	struct port92 port92;
	struct pci_host pci;
	struct vga vga;
	struct bochs_display bochs;   /* the PCI std VGA: framebuffer modes */
	struct virtio_blk disks[BOARD_MAX_DISKS];
	struct ide ide;               /* the PIIX3's IDE function, 00:01.1, with or without drives */
	struct virtio_net net;        /* with cfg.net.enabled: 00:03.0 */
	struct slirp_net *slirp;      /* its backend; NULL without --net user */
	struct virtio_input tablet;   /* with cfg.tablet TABLET_ON: 00:08.0 */
	struct ac97 ac97;             /* with cfg.sound SOUND_AC97: 00:09.0 (board_audio.c) */
	struct audio_out *audio_out;  /* cfg.audio's output, NULL without one */
	/* --share: a virtio-9p device each (00:0c.0 on), its diod, and
	 * btvm's end of their connection until the device takes it. */
	struct virtio_9p shares[BOARD_MAX_SHARES];
	struct share_server share_servers[BOARD_MAX_SHARES];
	int share_fds[BOARD_MAX_SHARES];
	bool reset_requested;     /* keyboard controller or port 0x92 reset */
	uint32_t acpi_rsdp;       /* where the ACPI tables' RSDP is */
	uint8_t rng_seed[32];     /* the host's random bytes for the boot loader to pass */
	uint8_t port_b;           /* port 0x61 bits 0-3 as written, 6 (IOCHK latch) */
	bool refresh_toggle;      /* port 0x61 bit 4 */
	struct isa_debug_exit debug_exit;
	struct testdev testdev;   /* MMIO page for the test guests */
	/* Booting through firmware (cfg.bios_path): its ROM image, copied
	 * into place at every reset, and the configuration it reads. */
	uint8_t *firmware;
	size_t firmware_size;
	uint8_t *vga_rom;         /* the display's option ROM, for fw_cfg */
	size_t vga_rom_size;
	/* --kernel with --firmware bios: the kernel's parts for fw_cfg and
	 * the option ROM that boots them (boot/linux_fwcfg.h). Only while
	 * the board is built: fw_cfg keeps copies, read again by every boot. */
	struct board_fw_kernel {
		uint8_t *image, *initrd, *rom;
		size_t image_size, initrd_size, rom_size;
		struct linux_fwcfg parts;
	} fw_kernel;
	struct fw_cfg fw_cfg;
	struct debugcon debugcon;   /* port 0x402: the firmware's log */
	FILE *debugcon_file;        /* --debugcon FILE, or NULL */
	struct vcpu_state boot;   /* machine state the loader set up */
	enum boot_kind boot_kind;
	/* Shared by the vCPUs: the shadow MMU and the translation cache. */
	struct shadow sh;
	struct tcache tc;
	FILE *trace;              /* --trace: every vCPU's translator writes it */
	struct board_vcpu vcpus[BOARD_MAX_VCPUS];
	unsigned nvcpus;
	/* Each vCPU on a host thread of its own (N > 1 without a debugger,
	 * vcpu_thread.c) under the machine lock, rather than taking turns. */
	bool threaded;
	struct cpu_lock lock;
	bool threads_quit;              /* the APs' threads end */
	struct board_vcpu *ap_failed;   /* an AP in a fatal state, for the BSP to report */
	/* With several vCPUs: the one whose turn it is (the devices' poll
	 * and the LAPIC page are its), and the guest time its turn ends. */
	struct board_vcpu *running;
	uint64_t slice_end_ns;
	/* The vCPU a debugger stepped: it takes the next turn (the run loop,
	 * after the control point), so the step does not wait for the
	 * others' slices. NULL: none. */
	struct board_vcpu *step_turn;
	/* Time and wake-ups: guest time, the host timer that raises the
	 * polling vCPU's attention, and the eventfd HLT sleeps on. */
	struct guest_clock clk;
	timer_t timer;
	bool timer_ready;
	uint64_t timer_deadline;  /* guest time it is armed for; UINT64_MAX: disarmed */
	uint64_t timer_fires_mono;  /* CLOCK_MONOTONIC it fires at */
	int wake_fd;               /* the sleeping run loop's eventfd: board_create to board_destroy */
	bool halt_poll_allowed;  /* HLT may spin for a disk request: the process has 2+ CPUs */
	bool rx_backlog;          /* console input waiting for UART room */
	uint64_t last_reprotect_ns;
	bool map_hint_shown;            /* the mapping budget's hint, printed once */
	bool cpu_ready;
	bool shadow_ready;
	bool exit_requested;
	int exit_status;
	/* The pause the front ends control: guest time stands still from
	 * paused_count (a host count) until the resume. Each front end holds
	 * the guest stopped on its own (holds, BOARD_HOLD_*); it runs when
	 * none does. */
	unsigned holds;
	bool paused;              /* holds != 0 */
	uint64_t paused_count;
	/* The host's wall clock (ns since 1970) at paused_count: the RTC
	 * catches up from it at the resume. */
	int64_t paused_wall_ns;
	/* board_run begins paused: -S, or a snapshot saved paused (the
	 * restore sets it, --start overrides). */
	bool start_paused;
	/* Guest time before which BOARD_WANT_STOP_AFTER_SLICE does not stop
	 * the guest: each stop at the control point is followed by a slice. */
	uint64_t control_slice_end_ns;
	atomic_bool quit_key;     /* Ctrl-A x, from the console's thread */
	/* The console's thread reads them (terminal_line) while the vCPU
	 * thread may add one: the count is published after the entry. */
	struct board_frontend frontends[BOARD_MAX_FRONTENDS];
	atomic_uint nfrontends;
};

/* The vCPU that polls the devices and takes the PC's interrupts (the
 * 8259's INTR, the I/O APIC's messages, the host timer's signal): the
 * bootstrap processor. */
static inline struct board_vcpu *board__bsp(struct board *board)
{
	return &board->vcpus[0];
}

/* The board of the bootstrap processor's slot, without a load: the slot
 * is vcpus[0]. Its interrupt path asks the 8259 at every instruction
 * boundary an interrupt could be taken at, and v->board would add a
 * dependent load there. */
static inline struct board *board__of_bsp(struct board_vcpu *v)
{
	return (struct board *)((char *)v - offsetof(struct board, vcpus));
}

/* The ISA lines both the wiring and the run loop name. */
#define COM1_IRQ 4
#define PIT_IRQ 0

_Static_assert(BOARD_IDE_SLOTS == IDE_SLOTS, "board_config's IDE slots are the controller's");

/* ------------------------------------------------------------ guest time
 * (guest_time.c) */

#define NS_PER_SEC 1000000000ull

static inline struct timespec board__ns_to_timespec(uint64_t ns)
{
	return (struct timespec){ .tv_sec = (time_t)(ns / NS_PER_SEC), .tv_nsec = (long)(ns % NS_PER_SEC) };
}

/* Takes an eventfd's wake-ups (HLT's and the control point's sleeps). */
static inline void board__drain_eventfd(int fd)
{
	uint64_t count;
	if (read(fd, &count, sizeof(count)) < 0) {
		/* Nothing to drain: another read got it first. */
	}
}
/* The TSC rate: a first estimate against CLOCK_MONOTONIC at start-up,
 * refined over the whole run every second, so that guest time keeps up
 * with the host's (NTP slewing included). A refinement moves the rate by
 * parts per million, far below what a guest's clock cross-checks see. */
#define CLOCK_CALIBRATE_NS 5000000ull
#define CLOCK_REFINE_NS 1000000000ull

static inline uint64_t board__host_count(const struct guest_clock *k)
{
	return k->tsc ? __rdtsc() : host_monotonic_ns();
}

/* CLOCK_MONOTONIC and the counter at one instant (guest_time.c). */
bool board__read_pair(const struct guest_clock *k, uint64_t *mono, uint64_t *count);

static inline void board__set_rate(struct guest_clock *k, uint64_t hz)
{
	k->hz = hz;
	k->mult = (uint64_t)(((unsigned __int128)NS_PER_SEC << 32) / hz);
}

/* Guest time at host count `count`. */
static inline uint64_t board__guest_ns_at(const struct guest_clock *k, uint64_t count)
{
	uint64_t c = count - k->base_count;
	if ((int64_t)c < 0)
		return k->base_ns;
	return k->base_ns + (uint64_t)(((unsigned __int128)c * k->mult) >> 32);
}

/* The clock the devices run on (their clock_ns callback): guest time in ns
 * since power-on. */
static inline uint64_t board__clock_ns(void *opaque)
{
	const struct board *board = opaque;
	return board__guest_ns_at(&board->clk, board__host_count(&board->clk));
}

/* The same for a vCPU's own devices (its LAPIC), opaque its slot. */
static inline uint64_t board__vcpu_clock_ns(void *opaque)
{
	const struct board_vcpu *v = opaque;
	return board__clock_ns(v->board);
}

void board__clock_init(struct guest_clock *k);

/* Every CLOCK_REFINE_NS: the TSC's rate over the whole run, with guest
 * time carrying on from where it is. */
static inline void board__clock_refine(struct guest_clock *k)
{
	uint64_t m, c;
	if (!k->tsc || host_monotonic_ns() - k->refined_mono < CLOCK_REFINE_NS ||
	    !board__read_pair(k, &m, &c))
		return;
	k->refined_mono = m;
	k->base_ns = board__guest_ns_at(k, c);
	k->base_count = c;
	board__set_rate(k, (uint64_t)((unsigned __int128)(c - k->cal_count) * NS_PER_SEC /
				      (m - k->cal_mono)));
}

/* The host timer, from the start of the run to its end; arm_timer
 * (run_loop.c) points it. */
int board__start_timer(struct board *board);
void board__stop_timer(struct board *board);

/* ------------------------------------------------------------ wiring
 * (wiring.c) */

/* The I/O APIC pin of ISA IRQ irq: identity but for the PIT, as the MADT's
 * interrupt source override says. */
static inline unsigned board__isa_irq_pin(unsigned irq)
{
	return irq == PIT_IRQ ? 2 : irq;
}

/* board_create's steps, in this order: the devices on the bus and their
 * lines, the firmware's tables, what the firmware sets up, the loader's
 * view of the machine. */
int board__wire_devices(struct board *board);
/* A device wrote [gpa, gpa + len) of guest RAM on the vCPU thread (and
 * logged it): the translations made from those pages go. */
void board__device_wrote(void *opaque, uint64_t gpa, uint64_t len);
/* The sound card and its host output (board_audio.c): wired (the host's
 * output opened, or a one-line warning and none), closed, paused with
 * the machine; its counters. */
int board__audio_wire(struct board *board);
void board__audio_close(struct board *board);
void board__audio_pause(struct board *board, bool paused);
struct board_counters;
void board__audio_counters(const struct board *board, struct board_counters *c);
int board__write_acpi(struct board *board);
int board__firmware(struct board *board);
/* The A20 gate as the devices drive it now, to the bootstrap processor's
 * A20M# pin (wiring.c). */
void board__a20_update(struct board *board);
/* Port 0x61 (system control port B): the bits written (0-3) and the
 * IOCHK latch (6). */
#define PORT_B_WRITABLE 0x0fu
#define PORT_B_IOCHK_DISABLE 0x08u
#define PORT_B_IOCHK_STATUS 0x40u
/* The chipset's NMI output (port 0x61's latches, port 0x70 bit 7) drives
 * LINT1 again after a register changed; _restore sets LINT1's level
 * without an edge, after a snapshot load. */
void board__chipset_nmi_update(struct board *board);
void board__chipset_nmi_restore(struct board *board);
/* IOCHK# asserted (the front-panel NMI button): latched in port 0x61 bit
 * 6 unless bit 3 disables it, then an NMI through the chipset. */
void board__iochk_assert(struct board *board);
/* The host bridge's PAM registers as they are now: guest_ram's
 * pam_locked follows them and the shadow write-protects the pages that
 * changed (wiring.c). Any time on the vCPU thread, a callout included. */
void board__pam_update(struct board *board);
/* The shadow write-protects pages (a pam_locked mask) as pam_locked
 * says: for the pages locked before the shadow existed. */
void board__pam_reprotect(struct board *board, uint64_t pages);
void board__boot_config(struct board *board, struct boot_config *boot,
			struct boot_framebuffer *fb);
/* A reset of the whole PC (the run loop's, after a triple fault or the
 * guest's reset request): devices, firmware, the kernel loaded again. */
int board__reset(struct board *board);
/* The shared folders' devices and servers taken down (board.c). */
void board__close_shares(struct board *board);
/* The network backend's frames for the guest, on its thread. */
void board__net_receive(void *opaque, const uint8_t *frame, size_t len);

/* ------------------------------------------------------------ run loop
 * (run_loop.c) */

/* The platform's poll (cpu_platform.poll): every device brought to the
 * present, the host timer armed for the next deadline. */
void board__platform_poll(void *opaque);
/* A device's next deadline moved (its deadline_changed callback); the
 * same for a vCPU's own devices, opaque its slot. */
void board__deadline_changed(void *opaque);
void board__vcpu_deadline_changed(void *opaque);
/* Any thread: the vCPUs to the run loop soon, out of a HLT sleep too (the
 * console's, the disks' and the network's notify callback). */
void board__console_notify(void *opaque);
/* The platform a vCPU runs on (its cpu_platform), opaque its slot. */
void board__vcpu_platform(struct board_vcpu *v);
/* The host timer armed for the earliest deadline (run_loop.c). */
void board__arm_timer(struct board *board);

/* ------------------------------------------------------------ several
 * vCPUs (smp.c) */

/* How long a vCPU runs before another runnable one gets its turn: a
 * spinning vCPU (a lock, a wait for an AP) gives the others time. */
#define SMP_SLICE_NS 1000000ull

/* After the LAPICs' reset: their APIC IDs, the IPIs' and the I/O APIC's
 * routing to every vCPU, the APs waiting for a start-up IPI. Nothing
 * with one vCPU. */
void board__smp_reset(struct board *board);
/* The bootstrap processor's INIT, if one is pending: on its own thread,
 * at its poll (between two blocks). Its state as INIT leaves it, and
 * cpu_run stopped (a yield) so that the next run selects its window
 * afresh. */
void board__take_init(struct board_vcpu *v);
/* The LAPIC page at LAPIC_DEFAULT_BASE: the running vCPU's LAPIC. */
int board__smp_attach_lapics(struct board *board);
/* Every vCPU's TSC the BSP's: each one's reset set its own from the
 * moment it ran, microseconds apart. */
static inline void board__vcpu_tsc_sync(struct board *board)
{
	for (unsigned i = 1; i < board->nvcpus; i++)
		board->vcpus[i].cpu.tsc_offset = board->vcpus[0].cpu.tsc_offset;
}
/* Whether v has something to run: started, and not halted or with an
 * event that ends its HLT. */
bool board__vcpu_runnable(const struct board_vcpu *v);
/* Whether any vCPU but v is runnable. */
bool board__other_runnable(const struct board *board, const struct board_vcpu *v);
/* The next vCPU after v (round robin) that is runnable, else v: its turn
 * starts (board->running, slice_end_ns). */
struct board_vcpu *board__next_vcpu(struct board *board, struct board_vcpu *v);
/* v's turn now, for a slice (the debugger's step_turn too). */
struct board_vcpu *board__give_turn(struct board *board, struct board_vcpu *v);

/* ------------------------------------------------------------ vCPUs on
 * threads of their own (vcpu_thread.c) */

/* The machine lock for every vCPU, the BSP's thread holding it, and a
 * thread for each AP. 0 or a negative errno (nothing left started). */
int board__threads_start(struct board *board);
/* The APs' threads end and are joined; the lock goes. */
void board__threads_stop(struct board *board);
/* An AP's platform wait (HLT) and poll. */
bool board__ap_wait(struct board_vcpu *v);
void board__ap_poll(void *opaque);
/* The longest a HLT spins for another vCPU's request, and the first
 * spin (at the threads' start, and once a sleep turned out short): KVM's
 * defaults (halt_poll_ns, halt_poll_ns_grow_start). A vCPU woken from its
 * sleep comes back only after the host wakes its thread: an IPI's round
 * trip took 25-28 us with the receiver asleep on the 2-core Xeon
 * (bench/smp's ipibench), most of it that wake-up, which a virtualized
 * host pays for twice, and 7-12 us with the spin. */
#define BOARD_IPI_POLL_MAX_NS 200000u
#define BOARD_IPI_POLL_START_NS 10000u
/* HLT with other vCPUs on threads of their own, before its sleep, the
 * machine lock held (given up while it spins): spins for a request (an
 * IPI, a device's) for up to v->ipi_poll_ns and span ns. True if one came:
 * no sleep. board__halt_poll_adapt is told how long the whole HLT took. */
bool board__halt_poll_ipi(struct board_vcpu *v, uint64_t span);
void board__halt_poll_adapt(struct board_vcpu *v, uint64_t blocked_ns);

/* ------------------------------------------------------------ front ends
 * (control.c) Each calls the registered front ends' callback of that
 * name, in registration order. */

static inline unsigned board__nfrontends(const struct board *board)
{
	return atomic_load_explicit(&board->nfrontends, memory_order_acquire);
}
void board__event(struct board *board, enum board_event event);
/* The poll's question: whether a front end wants the guest stopped now
 * (at once, or its slice over or the vCPU halted). */
bool board__frontends_want_stop(struct board *board, bool halted);
/* Whether one waits for the guest's slice to end (that deadline counts). */
bool board__frontends_want_slice(struct board *board);
/* poll: whether one wants the guest stopped; deadline: the earliest. */
bool board__frontends_poll(struct board *board, uint64_t guest_ns);
uint64_t board__frontends_deadline(struct board *board);
void board__frontends_halt(struct board *board, uint64_t guest_ns, struct board_halt *h);
/* Whether more waits that could run at once. */
bool board__frontends_run_stopped(struct board *board);
void board__frontends_paused(struct board *board, uint64_t guest_ns);
void board__frontends_terminal_line(struct board *board, const char *line);
void board__frontends_exited(struct board *board, int status);

#endif
