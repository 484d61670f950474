/* --stats, --stats-json and --stats-interval, and the monitor's info
 * commands: one table of the board's counters (stable name, label, where
 * the value is) drives the text report, the JSON file and the samples.
 * docs/STATS.md documents each name; docs/stats.schema.json the file. A
 * front end of the machine: it owns the samples, SIGUSR1 and SIGTERM;
 * the values come from board_read_counters and the screen. */
#include "frontend/board_stats.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpu/profile.h"
#include "frontend/board_explain.h"
#include "frontend/board_screen.h"
#include "host/clock.h"
#include "host/outfile.h"
#include "host/thread.h"
#include "isa/sensitive.h"
#include "machine/control.h"

/* --stats-interval's samples: rows of (ms since the run began, then every
 * counter in table order), appended on the vCPU thread. Bounded: when
 * STATS_MAX_SAMPLES rows are held every other one goes and the interval
 * doubles, so a long run keeps its whole timeline at a coarser grain. */
#define STATS_MAX_SAMPLES 2048u
struct stats_series {
	uint64_t interval_ns;     /* 0: no series */
	/* Guest time of the next sample: the host timer is armed for it as
	 * for a device's deadline, and it stands still while the guest is
	 * paused, so a paused guest is not sampled. */
	uint64_t next_guest_ns;
	uint64_t *rows;
	size_t nrows, cap_rows;
	unsigned ncols;           /* 1 + the number of counters */
	unsigned halvings;        /* times the interval doubled */
	bool out_of_memory;       /* sampling stopped there */
};

struct board_stats {
	struct board *board;
	const struct board_config *cfg;
	const struct board_screen *screen;   /* NULL: no screen counters */
	struct board_explain *explain;       /* NULL: no --explain reports */
	struct stats_series series;
	uint64_t start_mono;      /* when the run began; 0: it did not */
	bool sigterm;             /* SIGTERM ended the run */
	bool registered;
};

/* Every value the table reads, copied out at one moment. */
struct values {
	struct board_counters m;             /* the machine's */
	struct board_screen_counters screen;
};

static void read_values(const struct board_stats *st, struct values *v)
{
	board_read_counters(st->board, &v->m);
	v->screen = (struct board_screen_counters){ 0 };
	if (st->screen)
		board_screen_counters(st->screen, &v->screen);
}

enum stats_section { SEC_DEVICES, SEC_TCACHE, SEC_MMU, SEC_EXITS, SEC_EVENTS, SEC_CALLOUTS };

/* Where a value is: a uint64_t of struct values (FROM_VALUE), or of one
 * of the stats structs in it, which hold only uint64_t counters, read by
 * offset; anything computed has a getter. */
enum stats_from {
	FROM_FN, FROM_VALUE, FROM_TCACHE, FROM_SHADOW, FROM_CPU, FROM_DISK, FROM_NET, FROM_IDE
};

/* Counters that come once per disk, per exit reason or per callout class:
 * the name and label have a %u (disk) or %s (reason, class) for it. */
enum stats_each { EACH_ONE, EACH_DISK, EACH_EXIT, EACH_CLASS };

struct stats_counter {
	const char *name;
	const char *label;
	enum stats_section section;
	enum stats_from from;
	enum stats_each each;
	bool net_only;            /* shown in the text only with --net user */
	bool ide_only;            /* shown in the text only with IDE drives */
	bool sound_only;          /* shown in the text only with the sound card */
	/* Each vCPU has its own (besides every FROM_CPU counter): the JSON's
	 * vcpus array and the text's per-vCPU section show them per vCPU. */
	bool vcpu;
	size_t off;
	uint64_t (*get)(const struct values *v, unsigned i);
};

static const char *const exit_keys[EXIT_REASON_COUNT] = { "branch", "indirect", "callout",
							  "attention", "fault" };
#define NCLASSES (SENS_MONITOR + 1u)
static const char *const class_keys[NCLASSES] = { "privileged", "iopl", "unprivileged",
						  "monitor" };
_Static_assert(SENS_PRIVILEGED == 0 && SENS_IOPL == 1 && SENS_UNPRIVILEGED == 2 &&
		       SENS_MONITOR == 3, "class_keys follows enum sensitive_class");

static uint64_t get_ram_mib(const struct values *v, unsigned i)
{
	(void)i;
	return v->m.ram_bytes >> 20;
}

/* Every lookup the table missed: those that left translated code and
 * those filled without leaving it. */
static uint64_t get_ibl_misses(const struct values *v, unsigned i)
{
	(void)i;
	return v->m.cpu.exits[EXIT_INDIRECT] + v->m.cpu.ibl_fast_fills;
}

static uint64_t get_class_callouts(const struct values *v, unsigned i)
{
	return v->m.callouts_by_class[i];
}

#define FN(f) .from = FROM_FN, .get = (f)
#define VAL(f) .from = FROM_VALUE, .off = offsetof(struct values, f)
#define VCPU_VAL(f) VAL(f), .vcpu = true
#define VCPU_FN(f) FN(f), .vcpu = true
#define TC(f) .from = FROM_TCACHE, .off = offsetof(struct tcache_stats, f)
#define SH(f) .from = FROM_SHADOW, .off = offsetof(struct shadow_stats, f)
#define CPU(f) .from = FROM_CPU, .off = offsetof(struct cpu_stats, f)
#define DISK(f) .from = FROM_DISK, .each = EACH_DISK, .off = offsetof(struct virtio_blk_stats, f)
#define NET(f) .from = FROM_NET, .net_only = true, .off = offsetof(struct virtio_net_stats, f)
#define IDE(f) .from = FROM_IDE, .ide_only = true, .off = offsetof(struct ide_stats, f)
#define AUDIO(f) VAL(m.f), .sound_only = true

/* Table order is the text report's order, the JSON's and the samples'
 * column order. Renaming a name breaks users' scripts: add, do not rename. */
static const struct stats_counter counters[] = {
	{ "ram.mib", "guest RAM (MiB)", SEC_DEVICES, FN(get_ram_mib) },
	{ "bus.pio_unclaimed_reads", "unclaimed port reads", SEC_DEVICES, VAL(m.unclaimed_reads[BUS_SPACE_PIO]) },
	{ "bus.pio_unclaimed_writes", "unclaimed port writes", SEC_DEVICES, VAL(m.unclaimed_writes[BUS_SPACE_PIO]) },
	{ "bus.mmio_unclaimed_reads", "unclaimed MMIO reads", SEC_DEVICES, VAL(m.unclaimed_reads[BUS_SPACE_MMIO]) },
	{ "bus.mmio_unclaimed_writes", "unclaimed MMIO writes", SEC_DEVICES, VAL(m.unclaimed_writes[BUS_SPACE_MMIO]) },
	{ "serial.tx_bytes", "serial bytes out", SEC_DEVICES, VAL(m.serial_tx_bytes) },
	{ "serial.rx_bytes", "serial bytes in", SEC_DEVICES, VAL(m.serial_rx_bytes) },
	{ "mouse.events", "mouse events", SEC_DEVICES, VAL(m.mouse_events) },
	{ "mouse.packets", "mouse packets", SEC_DEVICES, VAL(m.mouse_packets) },
	{ "disk%u.reads", "disk %u reads", SEC_DEVICES, DISK(reads) },
	{ "disk%u.writes", "disk %u writes", SEC_DEVICES, DISK(writes) },
	{ "disk%u.bytes_read", "disk %u bytes read", SEC_DEVICES, DISK(bytes_read) },
	{ "disk%u.bytes_written", "disk %u bytes written", SEC_DEVICES, DISK(bytes_written) },
	{ "disk%u.flushes", "disk %u flushes", SEC_DEVICES, DISK(flushes) },
	{ "disk%u.discards", "disk %u discards", SEC_DEVICES, DISK(discards) },
	{ "disk%u.io_errors", "disk %u I/O errors", SEC_DEVICES, DISK(io_errors) },
	{ "disk%u.bad_requests", "disk %u bad requests", SEC_DEVICES, DISK(bad_requests) },
	{ "disk%u.device_errors", "disk %u device errors", SEC_DEVICES, DISK(device_errors) },
	{ "disk%u.polled", "disk %u requests found spinning", SEC_DEVICES, DISK(polled) },
	{ "disk%u.wakeups", "disk %u I/O thread wake-ups", SEC_DEVICES, DISK(wakeups) },
	{ "disk%u.bounced", "disk %u transfers bounced", SEC_DEVICES, DISK(bounced) },
	{ "ide.commands", "IDE ATA commands", SEC_DEVICES, IDE(commands) },
	{ "ide.packets", "IDE ATAPI packet commands", SEC_DEVICES, IDE(packets) },
	{ "ide.sectors_read", "IDE sectors read", SEC_DEVICES, IDE(sectors_read) },
	{ "ide.sectors_written", "IDE sectors written", SEC_DEVICES, IDE(sectors_written) },
	{ "ide.dma_transfers", "IDE DMA transfers", SEC_DEVICES, IDE(dma_transfers) },
	{ "ide.flushes", "IDE flushes", SEC_DEVICES, IDE(flushes) },
	{ "ide.errors", "IDE commands failed", SEC_DEVICES, IDE(errors) },
	{ "ide.dma_errors", "IDE bad PRD tables", SEC_DEVICES, IDE(dma_errors) },
	{ "ide.host_errors", "IDE host I/O errors", SEC_DEVICES, IDE(host_errors) },
	{ "ide.media_changes", "IDE media changes", SEC_DEVICES, IDE(media_changes) },
	{ "audio.frames", "sound frames played", SEC_DEVICES, AUDIO(audio_frames) },
	{ "audio.buffers", "sound buffers played", SEC_DEVICES, AUDIO(audio_buffers) },
	{ "audio.dma_errors", "sound DMA errors", SEC_DEVICES, AUDIO(audio_dma_errors) },
	{ "audio.interrupts", "sound interrupts", SEC_DEVICES, AUDIO(audio_interrupts) },
	{ "audio.host_frames", "sound frames to the host", SEC_DEVICES, AUDIO(audio_host_frames) },
	{ "audio.dropped", "sound frames dropped (host slow)", SEC_DEVICES, AUDIO(audio_dropped) },
	{ "audio.underruns", "sound underruns", SEC_DEVICES, AUDIO(audio_underruns) },
	{ "net.tx_frames", "net tx frames", SEC_DEVICES, NET(tx_packets) },
	{ "net.tx_bytes", "net tx bytes", SEC_DEVICES, NET(tx_bytes) },
	{ "net.rx_frames", "net rx frames", SEC_DEVICES, NET(rx_packets) },
	{ "net.rx_bytes", "net rx bytes", SEC_DEVICES, NET(rx_bytes) },
	{ "net.tx_bad", "net dropped: tx bad", SEC_DEVICES, NET(tx_dropped) },
	{ "net.tx_queue_full", "net dropped: tx queue full", SEC_DEVICES,
	  VAL(m.net_tx_queue_full), .net_only = true },
	{ "net.rx_backlog_full", "net dropped: rx backlog", SEC_DEVICES, NET(rx_backlog_full) },
	{ "net.rx_oversized", "net dropped: rx size", SEC_DEVICES, NET(rx_oversized) },
	{ "net.rx_not_running", "net dropped: rx down", SEC_DEVICES, NET(rx_not_running) },
	{ "net.rx_bad_buffers", "net bad buffers", SEC_DEVICES, NET(rx_bad_buffers) },
	{ "net.device_errors", "net device errors", SEC_DEVICES, NET(device_errors) },
	{ "vga.modes_not_shown", "VGA modes not shown", SEC_DEVICES, VAL(m.vga_modes_not_shown) },
	{ "screen.screenshots", "screenshots written", SEC_DEVICES, VAL(screen.screenshots) },
	{ "screen.fb_compares", "framebuffer compare spells", SEC_DEVICES, VAL(screen.fb_compares) },

	{ "time.translated_ms", "vCPU ms in translated code", SEC_EVENTS, VCPU_VAL(m.phase_ms[PHASE_TRANSLATED]) },
	{ "time.translating_ms", "vCPU ms translating", SEC_EVENTS, VCPU_VAL(m.phase_ms[PHASE_TRANSLATE]) },
	{ "time.callouts_ms", "vCPU ms in callouts", SEC_EVENTS, VCPU_VAL(m.phase_ms[PHASE_CALLOUT]) },
	{ "time.host_faults_ms", "vCPU ms in host faults", SEC_EVENTS, VCPU_VAL(m.phase_ms[PHASE_FAULT]) },
	{ "time.monitor_ms", "vCPU ms elsewhere in the monitor", SEC_EVENTS, VCPU_VAL(m.phase_ms[PHASE_MONITOR]) },
	{ "time.idle_ms", "vCPU ms idle (not running)", SEC_EVENTS, VCPU_VAL(m.phase_ms[PHASE_COUNT]) },

	{ "tcache.blocks", "blocks translated", SEC_TCACHE, TC(blocks) },
	{ "tcache.guest_insns", "guest instructions translated", SEC_TCACHE, TC(guest_insns) },
	{ "tcache.clones", "of the blocks, copies of the same code elsewhere", SEC_TCACHE, TC(clones) },
	{ "tcache.code_bytes", "buffer bytes used", SEC_TCACHE, VAL(m.code_used) },
	{ "tcache.code_capacity", "buffer bytes it may fill", SEC_TCACHE, VAL(m.code_size) },
	{ "tcache.live_bytes", "bytes of live blocks", SEC_TCACHE, VAL(m.code_live) },
	{ "tcache.lookups", "lookups", SEC_TCACHE, TC(lookups) },
	{ "tcache.hits", "lookup hits", SEC_TCACHE, TC(hits) },
	{ "tcache.chains", "chains made", SEC_TCACHE, TC(chains) },
	{ "tcache.unchains", "chains undone", SEC_TCACHE, TC(unchains) },
	{ "tcache.ibl_misses", "indirect misses", SEC_TCACHE, VCPU_FN(get_ibl_misses) },
	{ "tcache.ibl_fills", "indirect table fills", SEC_TCACHE, TC(ibl_fills) },
	{ "tcache.ibl_global_fills", "of them global pages", SEC_TCACHE, TC(ibl_global_fills) },
	{ "tcache.ibl_fast_fills", "misses without an exit", SEC_TCACHE, CPU(ibl_fast_fills) },
	{ "tcache.ibl_reuses", "of them, the slot's block under a new tag", SEC_TCACHE, CPU(ibl_reuses) },
	{ "tcache.invalidations", "invalidations", SEC_TCACHE, TC(invalidations) },
	{ "tcache.invalidated_blocks", "blocks invalidated", SEC_TCACHE, TC(invalidated_blocks) },
	{ "tcache.flushes", "flushes", SEC_TCACHE, TC(flushes) },
	{ "tcache.evictions", "evictions for room", SEC_TCACHE, TC(evictions) },
	{ "tcache.evicted_blocks", "blocks evicted", SEC_TCACHE, TC(evicted_blocks) },
	{ "tcache.evict_unchains", "chains undone by eviction", SEC_TCACHE, TC(evict_unchains) },
	{ "tcache.translated_bytes", "host code bytes translated", SEC_TCACHE, TC(translated_bytes) },
	{ "tcache.retranslations", "evicted blocks translated again", SEC_TCACHE, TC(retranslations) },
	{ "tcache.traces", "hot traces built", SEC_TCACHE, TC(traces) },
	{ "tcache.trace_blocks", "blocks joined into traces", SEC_TCACHE, TC(trace_blocks) },
	{ "tcache.trace_bytes", "host code bytes of traces", SEC_TCACHE, TC(trace_bytes) },
	{ "tcache.traces_abandoned", "trace recordings given up", SEC_TCACHE, TC(traces_abandoned) },
	{ "tcache.grows", "capacity grown (adaptive)", SEC_TCACHE, TC(grows) },
	{ "tcache.shrinks", "capacity shrunk (adaptive)", SEC_TCACHE, TC(shrinks) },
	{ "tcache.selfcheck_pages", "self-checking pages", SEC_TCACHE, TC(selfcheck_pages) },
	{ "tcache.selfcheck_stale", "stale blocks found", SEC_TCACHE, TC(selfcheck_stale) },
	{ "tcache.selfcheck_reprotected", "pages reprotected", SEC_TCACHE,
	  TC(selfcheck_reprotected) },
	{ "tcache.ibl_links", "cross-page lookup links", SEC_TCACHE, TC(ibl_links) },
	{ "tcache.global_chains", "cross-page chains to global code", SEC_TCACHE, TC(global_chains) },
	{ "tcache.global_unchains", "of them undone (global pages changed)", SEC_TCACHE,
	  TC(global_unchains) },

	{ "shadow.hidden_faults", "hidden faults", SEC_MMU, SH(hidden_faults) },
	{ "shadow.prefetched", "pages mapped beside them", SEC_MMU, SH(prefetched) },
	{ "shadow.map_calls", "host mmap calls", SEC_MMU, SH(map_calls) },
	{ "shadow.unmap_calls", "host unmap calls", SEC_MMU, SH(unmap_calls) },
	{ "shadow.code_holds", "code pages held for lookups", SEC_MMU, SH(code_holds) },
	{ "shadow.true_faults", "true faults (#PF)", SEC_MMU, SH(true_faults) },
	{ "shadow.trace_faults", "trace faults (table writes)", SEC_MMU, SH(trace_faults) },
	{ "shadow.drops", "shadow entries dropped", SEC_MMU, SH(shadow_drops) },
	{ "shadow.updates", "of them mapped again", SEC_MMU, SH(shadow_updates) },
	{ "shadow.wp_held", "write-protections held for the TLB flush", SEC_MMU, SH(wp_held) },
	{ "shadow.adaptive_insns", "adaptive retranslations", SEC_MMU, SH(adaptive_insns) },
	{ "shadow.adaptive_accesses", "adaptive accesses", SEC_MMU, SH(adaptive_accesses) },
	{ "shadow.adaptive_forgotten", "adaptive set emptied", SEC_MMU, SH(adaptive_forgotten) },
	{ "shadow.adaptive_released", "adaptive released", SEC_MMU, SH(adaptive_released) },
	{ "shadow.slot_adaptive", "adaptive for a mapping slot", SEC_MMU, SH(slot_adaptive) },
	{ "shadow.slot_fills", "mapping slots mapped", SEC_MMU, SH(slot_fills) },
	{ "shadow.churned_pages", "churned user pages", SEC_MMU, SH(churned_pages) },
	{ "shadow.churn_adaptive", "adaptive for a churned page", SEC_MMU, SH(churn_adaptive) },
	{ "shadow.churn_fills", "churned pages mapped", SEC_MMU, SH(churn_fills) },
	{ "shadow.fresh_adaptive", "adaptive for fresh pages", SEC_MMU, SH(fresh_adaptive) },
	{ "shadow.mmio_accesses", "MMIO accesses", SEC_MMU, SH(mmio_accesses) },
	{ "shadow.window_switches", "window switches", SEC_MMU, SH(window_switches) },
	{ "shadow.window_creates", "windows made", SEC_MMU, SH(window_creates) },
	{ "shadow.window_evictions", "windows evicted", SEC_MMU, SH(window_evictions) },
	{ "shadow.window_recycles", "windows recycled", SEC_MMU, SH(window_recycles) },
	{ "shadow.flushes", "shadow flushes", SEC_MMU, SH(flushes) },
	{ "shadow.pages_mapped", "pages mapped now", SEC_MMU, VAL(m.pages_mapped) },
	{ "shadow.host_mappings", "host mappings now", SEC_MMU, VAL(m.host_mappings) },
	{ "shadow.host_mapping_budget", "host mapping budget", SEC_MMU, VAL(m.host_mapping_budget) },
	{ "shadow.tables_unshadowed", "tables unshadowed", SEC_MMU, SH(tables_unshadowed) },
	{ "shadow.replacements", "budget reached", SEC_MMU, SH(replacements) },
	{ "shadow.replaced_regions", "regions replaced", SEC_MMU, SH(replaced_regions) },
	{ "shadow.global_kept", "global flushes, entries kept", SEC_MMU, SH(global_kept) },
	{ "shadow.global_retired", "global flushes, entries retired", SEC_MMU, SH(global_retired) },

	{ "exits.%s", "%s", SEC_EXITS, .from = FROM_CPU, .each = EACH_EXIT,
	  .off = offsetof(struct cpu_stats, exits) },

	{ "clock.tsc_hz", "guest TSC Hz (0: 1 GHz, monotonic)", SEC_EVENTS, VAL(m.clock_hz) },
	{ "cpu.interrupts", "interrupts taken", SEC_EVENTS, CPU(interrupts) },
	{ "cpu.nmis", "NMIs taken", SEC_EVENTS, CPU(nmis) },
	{ "pit.irqs", "PIT IRQ 0 pulses", SEC_EVENTS, VAL(m.pit_irqs) },
	{ "pit.lost_irqs", "PIT IRQ 0 lost", SEC_EVENTS, VAL(m.pit_lost_irqs) },
	{ "pic.spurious", "PIC spurious", SEC_EVENTS, VAL(m.pic_spurious) },
	{ "rtc.irqs", "RTC IRQ 8", SEC_EVENTS, VAL(m.rtc_irqs) },
	{ "rtc.lost_irqs", "RTC IRQ 8 lost", SEC_EVENTS, VAL(m.rtc_lost_irqs) },
	{ "lapic.timer_irqs", "APIC timer", SEC_EVENTS, VCPU_VAL(m.lapic_timer_irqs) },
	{ "lapic.timer_lost_irqs", "APIC timer lost", SEC_EVENTS, VCPU_VAL(m.lapic_timer_lost_irqs) },
	{ "acpi.scis", "ACPI SCIs", SEC_EVENTS, VAL(m.acpi_scis) },
	{ "cpu.halts", "HLT", SEC_EVENTS, CPU(halts) },
	{ "cpu.halt_sleeps", "HLT sleeps", SEC_EVENTS, CPU(halt_sleeps) },
	{ "cpu.halt_polls", "HLT polls", SEC_EVENTS, CPU(halt_polls) },
	{ "cpu.halt_poll_wakes", "HLT polls woken", SEC_EVENTS, CPU(halt_poll_wakes) },
	{ "cpu.single_steps", "single-step traps", SEC_EVENTS, CPU(single_steps) },
	{ "cpu.transfers_inline", "transfers kept in code", SEC_EVENTS, CPU(transfers_inline) },
	{ "cpu.kicks", "signals from other threads", SEC_EVENTS, VCPU_VAL(m.kicks) },
	{ "cpu.lock_acquires", "machine lock taken", SEC_EVENTS, CPU(lock_acquires) },
	{ "cpu.lock_waits", "machine lock waited for", SEC_EVENTS, CPU(lock_waits) },
	{ "cpu.lock_handoffs", "machine lock from another vCPU", SEC_EVENTS, CPU(lock_handoffs) },
	{ "cpu.exclusive_sections", "other vCPUs stopped (exclusive)", SEC_EVENTS,
	  CPU(exclusive_sections) },
	{ "cpu.pause_yields", "spin-waits that yielded the host CPU", SEC_EVENTS, CPU(pause_yields) },
	{ "cpu.split_locks", "LOCKed accesses across a cache line", SEC_EVENTS, CPU(split_locks) },
	{ "cpu.tlb_hits", "monitor accesses the TLB translated", SEC_EVENTS, CPU(tlb_hits) },
	{ "cpu.tlb_walks", "monitor accesses that walked", SEC_EVENTS, CPU(tlb_walks) },
	{ "cpu.resets", "resets (triple faults)", SEC_EVENTS, CPU(resets) },
	{ "cpu.fetch_outside_ram", "fetches outside RAM (#UD)", SEC_EVENTS,
	  CPU(fetch_outside_ram) },
	{ "cpu.wrap_faults", "accesses past 4 GiB (#GP, #SS)", SEC_EVENTS, CPU(wrap_faults) },

	{ "callouts.total", "callouts", SEC_CALLOUTS, CPU(callouts) },
	{ "callouts.%s", "%s", SEC_CALLOUTS, .from = FROM_FN, .each = EACH_CLASS,
	  .get = get_class_callouts, .vcpu = true },
};
#define NCOUNTERS (sizeof(counters) / sizeof(counters[0]))

static const char *const section_titles[] = {
	[SEC_DEVICES] = "btvm stats:",
	[SEC_TCACHE] = "translation cache:",
	[SEC_MMU] = "shadow paging:",
	[SEC_EXITS] = "exits to the monitor:",
	[SEC_EVENTS] = "events:",
	[SEC_CALLOUTS] = "callouts by class:",
};

static unsigned instances(const struct values *v, const struct stats_counter *c)
{
	switch (c->each) {
	case EACH_DISK:
		return v->m.ndisks;
	case EACH_EXIT:
		return EXIT_REASON_COUNT;
	case EACH_CLASS:
		return NCLASSES;
	case EACH_ONE:
		break;
	}
	return 1;
}

static uint64_t read_u64(const void *base, size_t off)
{
	uint64_t v;
	memcpy(&v, (const char *)base + off, sizeof(v));
	return v;
}

static uint64_t counter_value(const struct values *v, const struct stats_counter *c, unsigned i)
{
	switch (c->from) {
	case FROM_FN:
		return c->get(v, i);
	case FROM_VALUE:
		return read_u64(v, c->off);
	case FROM_TCACHE:
		return read_u64(&v->m.tcache, c->off);
	case FROM_SHADOW:
		return read_u64(&v->m.shadow, c->off);
	case FROM_CPU:
		return read_u64(&v->m.cpu, c->off + (size_t)i * sizeof(uint64_t));
	case FROM_DISK:
		return read_u64(&v->m.disks[i], c->off);
	case FROM_NET:
		return read_u64(&v->m.net_stats, c->off);
	case FROM_IDE:
		return read_u64(&v->m.ide, c->off);
	}
	return 0;
}

/* A name or label with its instance (a disk's number, a reason's or a
 * class's name) in place of its %u or %s. */
static void format_instance(char *buf, size_t len, const char *tmpl,
			    const struct stats_counter *c, unsigned i, bool label)
{
	char num[12];
	const char *inst = "";
	if (c->each == EACH_EXIT)
		inst = exit_keys[i];
	else if (c->each == EACH_CLASS)
		inst = label ? sensitive_class_name((enum sensitive_class)i) : class_keys[i];
	else if (c->each == EACH_DISK) {
		snprintf(num, sizeof(num), "%u", i);
		inst = num;
	}
	size_t o = 0;
	for (const char *p = tmpl; *p && o + 1 < len; p++) {
		if (p[0] == '%' && (p[1] == 'u' || p[1] == 's')) {
			for (const char *q = inst; *q && o + 1 < len; q++)
				buf[o++] = *q;
			p++;
		} else {
			buf[o++] = *p;
		}
	}
	buf[o] = '\0';
}

static double percent(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static bool per_vcpu(const struct stats_counter *c)
{
	return c->from == FROM_CPU || c->vcpu;
}

/* The values as vCPU i alone has them: its own counts in place of the
 * sums (the per-vCPU counters read only those). */
static void vcpu_values(const struct values *v, unsigned i, struct values *one)
{
	const struct board_vcpu_counters *vc = &v->m.vcpus[i];
	*one = *v;
	one->m.cpu = vc->cpu;
	memcpy(one->m.callouts_by_class, vc->callouts_by_class, sizeof(vc->callouts_by_class));
	one->m.kicks = vc->kicks;
	memcpy(one->m.phase_ms, vc->phase_ms, sizeof(vc->phase_ms));
	one->m.lapic_timer_irqs = vc->lapic_timer_irqs;
	one->m.lapic_timer_lost_irqs = vc->lapic_timer_lost_irqs;
}

/* With several vCPUs, each one's counters side by side (the sections
 * above have their totals). */
static void print_per_vcpu(const struct values *v, FILE *out)
{
	if (!v->m.cpu_ready || v->m.nvcpus < 2)
		return;
	struct values *one = malloc(v->m.nvcpus * sizeof(*one));
	if (!one) {
		fputs("per vCPU: out of memory\n", out);
		return;
	}
	fprintf(out, "per vCPU:\n  %-34s", "");
	for (unsigned i = 0; i < v->m.nvcpus; i++) {
		char head[16];
		snprintf(head, sizeof(head), "vCPU %u", i);
		fprintf(out, " %14s", head);
		vcpu_values(v, i, &one[i]);
	}
	fputc('\n', out);
	for (size_t k = 0; k < NCOUNTERS; k++) {
		const struct stats_counter *c = &counters[k];
		if (!per_vcpu(c))
			continue;
		for (unsigned i = 0, n = instances(v, c); i < n; i++) {
			char label[64];
			format_instance(label, sizeof(label), c->name, c, i, false);
			fprintf(out, "  %-34s", label);
			for (unsigned cpu = 0; cpu < v->m.nvcpus; cpu++)
				fprintf(out, " %14llu", (unsigned long long)counter_value(&one[cpu], c, i));
			fputc('\n', out);
		}
	}
	free(one);
}

static void print_section(const struct values *v, enum stats_section sec, FILE *out)
{
	if (sec != SEC_DEVICES && !v->m.cpu_ready)
		return;
	fprintf(out, "%s\n", section_titles[sec]);
	if (sec == SEC_DEVICES)
		fprintf(out, "  legend: counts since power-on; instructions and blocks are counted "
			     "when translated, not each time they run; docs/STATS.md defines each "
			     "line\n");
	for (size_t k = 0; k < NCOUNTERS; k++) {
		const struct stats_counter *c = &counters[k];
		if (c->section != sec || (c->net_only && !v->m.net) ||
		    (c->ide_only && !v->m.ide_drives) || (c->sound_only && !v->m.sound))
			continue;
		for (unsigned i = 0, n = instances(v, c); i < n; i++) {
			char label[64];
			format_instance(label, sizeof(label), c->label, c, i, true);
			fprintf(out, "  %-34s %llu\n", label,
				(unsigned long long)counter_value(v, c, i));
		}
	}
	if (sec == SEC_TCACHE) {
		const struct tcache_stats *t = &v->m.tcache;
		uint64_t branch_exits = v->m.cpu.exits[EXIT_BRANCH];
		fprintf(out, "  %-34s %.1f%%\n", "lookup hit rate (hits/lookups)",
			percent(t->hits, t->lookups));
		fprintf(out, "  %-34s %.1f%%\n", "chain rate (chains/branch exits)",
			percent(t->chains, branch_exits));
	}
}

/* The sections in their order, each of the values read at one moment. */
static void print_sections(const struct board_stats *st, const enum stats_section *secs,
			   unsigned n, FILE *out)
{
	struct values v;
	read_values(st, &v);
	for (unsigned i = 0; i < n; i++)
		print_section(&v, secs[i], out);
}

void board_stats_print_devices(const struct board_stats *st, FILE *out)
{
	static const enum stats_section secs[] = { SEC_DEVICES };
	print_sections(st, secs, 1, out);
}

void board_stats_print_tcache(const struct board_stats *st, FILE *out)
{
	static const enum stats_section secs[] = { SEC_TCACHE };
	print_sections(st, secs, 1, out);
}

void board_stats_print_mmu(const struct board_stats *st, FILE *out)
{
	static const enum stats_section secs[] = { SEC_MMU };
	print_sections(st, secs, 1, out);
}

void board_stats_print_cpu(const struct board_stats *st, FILE *out)
{
	static const enum stats_section secs[] = { SEC_EXITS, SEC_EVENTS, SEC_CALLOUTS };
	print_sections(st, secs, 3, out);
}

void board_stats_print(const struct board_stats *st, FILE *out)
{
	static const enum stats_section secs[] = { SEC_DEVICES, SEC_TCACHE, SEC_MMU,
						   SEC_EXITS,   SEC_EVENTS, SEC_CALLOUTS };
	struct values *v = malloc(sizeof(*v));
	if (!v) {
		fputs("btvm stats: out of memory\n", out);
		return;
	}
	read_values(st, v);
	for (unsigned i = 0; i < 6; i++)
		print_section(v, secs[i], out);
	print_per_vcpu(v, out);
	free(v);
}

/* ------------------------------------------------------------ the series */

static unsigned count_columns(const struct values *v)
{
	unsigned n = 0;
	for (size_t k = 0; k < NCOUNTERS; k++)
		n += instances(v, &counters[k]);
	return n;
}

static void fill_row(const struct board_stats *st, uint64_t *row, uint64_t now)
{
	struct values v;
	read_values(st, &v);
	row[0] = (now - st->start_mono) / 1000000u;
	unsigned col = 1;
	for (size_t k = 0; k < NCOUNTERS; k++)
		for (unsigned i = 0, n = instances(&v, &counters[k]); i < n; i++)
			row[col++] = counter_value(&v, &counters[k], i);
}

static void take_sample(struct board_stats *st, uint64_t now)
{
	struct stats_series *s = &st->series;
	if (s->out_of_memory)
		return;
	if (s->nrows == STATS_MAX_SAMPLES) {
		/* Keep rows 0, 2, 4...: the same timeline at half the grain. */
		for (size_t r = 1; r < s->nrows / 2; r++)
			memcpy(&s->rows[r * s->ncols], &s->rows[2 * r * s->ncols],
			       s->ncols * sizeof(uint64_t));
		s->nrows /= 2;
		s->interval_ns *= 2;
		s->halvings++;
	}
	if (s->nrows == s->cap_rows) {
		size_t cap = s->cap_rows ? s->cap_rows * 2 : 64;
		uint64_t *rows = realloc(s->rows, cap * s->ncols * sizeof(uint64_t));
		if (!rows) {
			fprintf(stderr, "btvm: out of memory for --stats-interval: sampling stops\n");
			s->out_of_memory = true;
			return;
		}
		s->rows = rows;
		s->cap_rows = cap;
	}
	fill_row(st, &s->rows[s->nrows * s->ncols], now);
	s->nrows++;
}

/* ------------------------------------------------------------ the JSON file */

/* Row's values, or the values now (row NULL); only the per-vCPU ones
 * with vcpu_only. */
static json_t *counters_object(const struct values *v, const uint64_t *row, bool vcpu_only)
{
	json_t *obj = json_object();
	unsigned col = 0;
	for (size_t k = 0; obj && k < NCOUNTERS; k++) {
		const struct stats_counter *c = &counters[k];
		if (vcpu_only && !per_vcpu(c))
			continue;
		for (unsigned i = 0, n = instances(v, c); i < n; i++) {
			char name[64];
			format_instance(name, sizeof(name), c->name, c, i, false);
			uint64_t x = row ? row[col++] : counter_value(v, c, i);
			if (json_object_set_new(obj, name, json_integer((json_int_t)x))) {
				json_decref(obj);
				return NULL;
			}
		}
	}
	return obj;
}

/* Each vCPU's own counters, in the order of their index (the totals in
 * "counters" are their sums). */
static json_t *vcpus_array(const struct values *v)
{
	json_t *arr = json_array();
	struct values *one = malloc(sizeof(*one));
	if (!arr || !one) {
		json_decref(arr);
		free(one);
		return NULL;
	}
	for (unsigned i = 0; i < v->m.nvcpus; i++) {
		vcpu_values(v, i, one);
		json_t *own = counters_object(one, NULL, true);
		json_t *entry = own ? json_pack("{s:I,s:o}", "vcpu", (json_int_t)i, "counters", own)
				    : NULL;
		if (!entry || json_array_append_new(arr, entry)) {
			json_decref(arr);
			free(one);
			return NULL;
		}
	}
	free(one);
	return arr;
}

static json_t *stats_document(const struct board_stats *st, const char *reason)
{
	const struct stats_series *s = &st->series;
	const struct board_config *cfg = st->cfg;
	struct values v;
	json_t *doc = json_object();
	if (!doc)
		return NULL;
	read_values(st, &v);
	int bad = json_object_set_new(doc, "format", json_string("btvm-stats"));
	bad |= json_object_set_new(doc, "version", json_integer(1));
	bad |= json_object_set_new(doc, "kernel", json_string(cfg->kernel_path ?
								    cfg->kernel_path : ""));
	bad |= json_object_set_new(doc, "reason", json_string(reason));
	/* 0 when the run never started (its timer could not be set up). */
	uint64_t elapsed = st->start_mono ? host_monotonic_ns() - st->start_mono : 0;
	bad |= json_object_set_new(doc, "elapsed_ms", json_integer((json_int_t)(elapsed / 1000000u)));
	bad |= json_object_set_new(doc, "counters", counters_object(&v, NULL, false));
	bad |= json_object_set_new(doc, "vcpus", vcpus_array(&v));
	if (cfg->explain)
		bad |= json_object_set_new(doc, "sensitive", board_explain_json(st->explain));
	if (s->interval_ns) {
		bad |= json_object_set_new(doc, "interval_ms",
					   json_integer((json_int_t)(s->interval_ns / 1000000u)));
		json_t *series = json_array();
		bad |= json_object_set_new(doc, "series", series);
		for (size_t r = 0; !bad && r < s->nrows; r++) {
			const uint64_t *row = &s->rows[r * s->ncols];
			json_t *sample = json_object();
			bad |= json_array_append_new(series, sample);
			bad |= json_object_set_new(sample, "t_ms", json_integer((json_int_t)row[0]));
			bad |= json_object_set_new(sample, "counters", counters_object(&v, row + 1, false));
		}
		if (s->halvings) {
			char note[160];
			snprintf(note, sizeof(note),
				 "%u samples kept at most: every other one dropped %u time(s), "
				 "the interval doubled as often",
				 STATS_MAX_SAMPLES, s->halvings);
			bad |= json_object_set_new(doc, "series_note", json_string(note));
		} else if (s->out_of_memory) {
			bad |= json_object_set_new(doc, "series_note",
						   json_string("out of memory: sampling stopped"));
		}
	}
	if (bad) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

static int write_json(const struct board_stats *st, const char *reason)
{
	const char *path = st->cfg->stats_json_path;
	json_t *doc = stats_document(st, reason);
	if (!doc) {
		fprintf(stderr, "btvm: --stats-json %s: out of memory\n", path);
		return 1;
	}
	struct outfile out;
	char why[512];
	int ret = outfile_open(&out, path, why, sizeof(why));
	if (!ret && json_dumpf(doc, out.f, JSON_INDENT(1) | JSON_PRESERVE_ORDER)) {
		outfile_discard(&out);
		snprintf(why, sizeof(why), "%s: cannot write it", path);
		ret = -EIO;
	} else if (!ret) {
		ret = outfile_commit(&out, false, why, sizeof(why));
	}
	json_decref(doc);
	if (ret) {
		fprintf(stderr, "btvm: --stats-json %s\n", why);
		return 1;
	}
	return 0;
}

int board_stats_check_path(const char *path, char *err, size_t err_len)
{
	/* A file made and dropped: the directory takes one. */
	struct outfile out;
	char why[512];
	int ret = outfile_open(&out, path, why, sizeof(why));
	if (ret) {
		snprintf(err, err_len, "--stats-json %s", why);
		return ret;
	}
	outfile_discard(&out);
	return 0;
}

/* ------------------------------------------------------------ signals */

/* The statistics SIGUSR1 and SIGTERM ask about. Signal handlers take no
 * argument, and a process runs one board. */
static struct board_stats *volatile signal_stats;
static volatile sig_atomic_t dump_requested, term_requested;
static struct sigaction old_usr1, old_term;

static void on_stats_signal(int sig, siginfo_t *si, void *uctx)
{
	(void)si;
	if (sig == SIGTERM)
		term_requested = 1;
	else
		dump_requested = 1;
	struct board_stats *st = signal_stats;
	if (st)
		board_wake_from_signal(st->board, uctx);
}

/* The run begins: the clock samples count from, and SIGUSR1/SIGTERM taken
 * over when a report is asked for. Before the console opens, which leaves
 * a SIGTERM taken over alone. */
static void stats_start(struct board_stats *st)
{
	const struct board_config *cfg = st->cfg;
	struct values v;
	st->start_mono = host_monotonic_ns();
	struct stats_series *s = &st->series;
	s->interval_ns = cfg->stats_interval_ms * 1000000ull;
	read_values(st, &v);
	s->ncols = 1 + count_columns(&v);
	s->next_guest_ns = 0;
	/* The reports a dump writes: --stats, --stats-json, and the
	 * --explain, --trap-and-emulate and --profile ones at the end. */
	if (!cfg->stats && !cfg->stats_json_path && !cfg->explain && !cfg->trap_emulate &&
	    !cfg->profile_top)
		return;
	struct sigaction sa = { .sa_sigaction = on_stats_signal, .sa_flags = SA_RESTART | SA_SIGINFO };
	host_handler_mask(&sa.sa_mask);
	dump_requested = term_requested = 0;
	signal_stats = st;
	sigaction(SIGUSR1, &sa, &old_usr1);
	sigaction(SIGTERM, &sa, &old_term);
}

/* Guest time of the next sample, UINT64_MAX without a series. */
static uint64_t stats_deadline(void *opaque)
{
	const struct board_stats *st = opaque;
	return st->series.interval_ns ? st->series.next_guest_ns : UINT64_MAX;
}

/* Acts on SIGUSR1/SIGTERM and takes a sample when one is due (guest_now:
 * guest time now). Costs a compare when neither. */
static bool stats_poll(void *opaque, uint64_t guest_now)
{
	struct board_stats *st = opaque;
	if (dump_requested) {
		dump_requested = 0;
		if (st->cfg->stats) {
			fprintf(stderr, "btvm: SIGUSR1: the statistics so far (the guest runs on)\n");
			board_stats_print(st, stderr);
		}
		if (st->cfg->stats_json_path)
			write_json(st, "SIGUSR1");
	}
	if (term_requested && !st->sigterm) {
		st->sigterm = true;
		board_request_exit(st->board, 128 + SIGTERM);
	}
	struct stats_series *s = &st->series;
	if (!s->interval_ns || guest_now < s->next_guest_ns)
		return false;
	take_sample(st, host_monotonic_ns());
	/* A late poll does not bunch samples up: the next is an interval on. */
	s->next_guest_ns = guest_now - s->next_guest_ns >= s->interval_ns
				   ? guest_now + s->interval_ns
				   : s->next_guest_ns + s->interval_ns;
	return false;
}

/* At the control point: SIGUSR1 and SIGTERM while paused, with the guest
 * time the pause stands at (no samples: guest time stands still). */
static bool stats_run_stopped(void *opaque)
{
	struct board_stats *st = opaque;
	uint64_t guest_ns, tsc;
	board_guest_time(st->board, &guest_ns, &tsc);
	stats_poll(st, guest_ns);
	return false;
}

/* A sample wakes a halted vCPU too, but cannot end the guest's wait. */
static void stats_halt(void *opaque, uint64_t guest_ns, struct board_halt *h)
{
	(void)guest_ns;
	uint64_t due = stats_deadline(opaque);
	if (due < h->own_ns)
		h->own_ns = due;
}

static void stats_event(void *opaque, enum board_event event)
{
	if (event == BOARD_EVENT_START)
		stats_start(opaque);
}

static const struct board_frontend_ops stats_ops = {
	.poll = stats_poll,
	.deadline = stats_deadline,
	.halt = stats_halt,
	.run_stopped = stats_run_stopped,
	.event = stats_event,
};

int board_stats_open(struct board_stats **out, struct board *board,
		     const struct board_screen *screen, struct board_explain *explain, char *err,
		     size_t err_len)
{
	struct board_stats *st = calloc(1, sizeof(*st));
	*out = NULL;
	if (!st) {
		snprintf(err, err_len, "out of memory for the statistics");
		return -ENOMEM;
	}
	st->board = board;
	st->cfg = board_config(board);
	st->screen = screen;
	st->explain = explain;
	int ret = board_add_frontend(board, &stats_ops, st);
	if (ret) {
		snprintf(err, err_len, "too many front ends for the machine");
		free(st);
		return ret;
	}
	st->registered = true;
	*out = st;
	return 0;
}

int board_stats_finish(struct board_stats *st)
{
	if (st->series.interval_ns)
		take_sample(st, host_monotonic_ns());
	if (st->cfg->stats) {
		if (st->sigterm)
			fprintf(stderr, "btvm: SIGTERM: the statistics, then the end\n");
		board_stats_print(st, stderr);
	}
	if (st->explain)
		board_explain_print(st->explain, stderr);
	if (st->cfg->stats_json_path)
		return write_json(st, st->sigterm ? "SIGTERM" : "exit");
	return 0;
}

bool board_stats_terminated(const struct board_stats *st)
{
	return st->sigterm;
}

void board_stats_close(struct board_stats *st)
{
	if (!st)
		return;
	if (st->registered)
		board_remove_frontend(st->board, st);
	if (signal_stats == st) {
		sigaction(SIGUSR1, &old_usr1, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		signal_stats = NULL;
	}
	free(st->series.rows);
	free(st);
}
