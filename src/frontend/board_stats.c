/* --stats, --stats-json and --stats-interval, and the monitor's info
 * commands: one table of the board's counters (stable name, label, where
 * the value is) drives the text report, the JSON file and the samples.
 * docs/STATS.md documents each name; docs/stats.schema.json the file. */
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
#include "host/clock.h"
#include "host/outfile.h"
#include "host/thread.h"
#include "isa/sensitive.h"
#include "machine/board.h"

enum stats_section { SEC_DEVICES, SEC_TCACHE, SEC_MMU, SEC_EXITS, SEC_EVENTS, SEC_CALLOUTS };

/* Where a value is. The three structs read by offset hold only uint64_t
 * counters; anything else has a getter. */
enum stats_from { FROM_FN, FROM_TCACHE, FROM_SHADOW, FROM_CPU, FROM_DISK, FROM_NET };

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
	size_t off;
	uint64_t (*get)(const struct board *board, unsigned i);
};

static const char *const exit_keys[EXIT_REASON_COUNT] = { "branch", "indirect", "callout",
							  "attention", "fault" };
#define NCLASSES (SENS_MONITOR + 1u)
static const char *const class_keys[NCLASSES] = { "privileged", "iopl", "unprivileged",
						  "monitor" };
_Static_assert(SENS_PRIVILEGED == 0 && SENS_IOPL == 1 && SENS_UNPRIVILEGED == 2 &&
		       SENS_MONITOR == 3, "class_keys follows enum sensitive_class");

static uint64_t get_ram_mib(const struct board *b, unsigned i)
{
	(void)i;
	return b->ram.size >> 20;
}
static uint64_t get_pio_reads(const struct board *b, unsigned i)
{
	(void)i;
	return b->bus.unclaimed_reads[BUS_SPACE_PIO];
}
static uint64_t get_pio_writes(const struct board *b, unsigned i)
{
	(void)i;
	return b->bus.unclaimed_writes[BUS_SPACE_PIO];
}
static uint64_t get_mmio_reads(const struct board *b, unsigned i)
{
	(void)i;
	return b->bus.unclaimed_reads[BUS_SPACE_MMIO];
}
static uint64_t get_mmio_writes(const struct board *b, unsigned i)
{
	(void)i;
	return b->bus.unclaimed_writes[BUS_SPACE_MMIO];
}
#define FIELD_GETTER(fn, expr)                                     \
	static uint64_t fn(const struct board *b, unsigned i)      \
	{                                                          \
		(void)i;                                           \
		return (expr);                                     \
	}
FIELD_GETTER(get_serial_tx, b->com1.tx_bytes)
FIELD_GETTER(get_serial_rx, b->com1.rx_bytes)
FIELD_GETTER(get_mouse_events, b->kbc.mouse.events)
FIELD_GETTER(get_mouse_packets, b->kbc.mouse.packets)
FIELD_GETTER(get_slirp_tx_dropped, b->slirp ? slirp_net_get_stats(b->slirp).tx_dropped : 0)
FIELD_GETTER(get_vga_unshown, b->vga.unsupported_renders)
FIELD_GETTER(get_screenshots, b->screen.screenshots)
FIELD_GETTER(get_lfb_compares, b->screen.lfb_compare_entries)
FIELD_GETTER(get_code_used, b->tc.code_used)
FIELD_GETTER(get_code_size, b->tc.code_size)
FIELD_GETTER(get_ibl_misses, b->cpu.stats.exits[EXIT_INDIRECT] + b->cpu.stats.ibl_fast_fills)
FIELD_GETTER(get_pages_mapped, b->sh.total_mapped)
FIELD_GETTER(get_host_mappings, (uint64_t)b->sh.host_maps)
FIELD_GETTER(get_host_mapping_budget, (uint64_t)b->sh.map_budget)
FIELD_GETTER(get_clock_hz, b->clk.tsc ? b->clk.hz : 0)
FIELD_GETTER(get_pit_irqs, b->pit.irqs)
FIELD_GETTER(get_kicks, cpu_kicks(&b->cpu))
FIELD_GETTER(get_pit_lost, b->pit.lost_irqs)
FIELD_GETTER(get_pic_spurious, b->pic.spurious)
FIELD_GETTER(get_rtc_irqs, b->rtc.irqs)
FIELD_GETTER(get_rtc_lost, b->rtc.lost_irqs)
/* The host-time split, sampled (cpu/profile.h). */
FIELD_GETTER(get_time_translated, profile_phase_ms(&b->cpu, PHASE_TRANSLATED))
FIELD_GETTER(get_time_translating, profile_phase_ms(&b->cpu, PHASE_TRANSLATE))
FIELD_GETTER(get_time_callouts, profile_phase_ms(&b->cpu, PHASE_CALLOUT))
FIELD_GETTER(get_time_faults, profile_phase_ms(&b->cpu, PHASE_FAULT))
FIELD_GETTER(get_time_monitor, profile_phase_ms(&b->cpu, PHASE_MONITOR))
FIELD_GETTER(get_time_idle, profile_phase_ms(&b->cpu, PHASE_COUNT))
FIELD_GETTER(get_apic_irqs, b->lapic.timer_irqs)
FIELD_GETTER(get_apic_lost, b->lapic.timer_lost_irqs)
FIELD_GETTER(get_scis, b->pm.scis)
static uint64_t get_class_callouts(const struct board *b, unsigned i)
{
	return b->cpu.callouts_by_class[i];
}

#define FN(f) .from = FROM_FN, .get = (f)
#define TC(f) .from = FROM_TCACHE, .off = offsetof(struct tcache_stats, f)
#define SH(f) .from = FROM_SHADOW, .off = offsetof(struct shadow_stats, f)
#define CPU(f) .from = FROM_CPU, .off = offsetof(struct cpu_stats, f)
#define DISK(f) .from = FROM_DISK, .each = EACH_DISK, .off = offsetof(struct virtio_blk_stats, f)
#define NET(f) .from = FROM_NET, .net_only = true, .off = offsetof(struct virtio_net_stats, f)

/* Table order is the text report's order, the JSON's and the samples'
 * column order. Renaming a name breaks users' scripts: add, do not rename. */
static const struct stats_counter counters[] = {
	{ "ram.mib", "guest RAM (MiB)", SEC_DEVICES, FN(get_ram_mib) },
	{ "bus.pio_unclaimed_reads", "unclaimed port reads", SEC_DEVICES, FN(get_pio_reads) },
	{ "bus.pio_unclaimed_writes", "unclaimed port writes", SEC_DEVICES, FN(get_pio_writes) },
	{ "bus.mmio_unclaimed_reads", "unclaimed MMIO reads", SEC_DEVICES, FN(get_mmio_reads) },
	{ "bus.mmio_unclaimed_writes", "unclaimed MMIO writes", SEC_DEVICES, FN(get_mmio_writes) },
	{ "serial.tx_bytes", "serial bytes out", SEC_DEVICES, FN(get_serial_tx) },
	{ "serial.rx_bytes", "serial bytes in", SEC_DEVICES, FN(get_serial_rx) },
	{ "mouse.events", "mouse events", SEC_DEVICES, FN(get_mouse_events) },
	{ "mouse.packets", "mouse packets", SEC_DEVICES, FN(get_mouse_packets) },
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
	{ "disk%u.bounced", "disk %u transfers bounced", SEC_DEVICES, DISK(bounced) },
	{ "net.tx_frames", "net tx frames", SEC_DEVICES, NET(tx_packets) },
	{ "net.tx_bytes", "net tx bytes", SEC_DEVICES, NET(tx_bytes) },
	{ "net.rx_frames", "net rx frames", SEC_DEVICES, NET(rx_packets) },
	{ "net.rx_bytes", "net rx bytes", SEC_DEVICES, NET(rx_bytes) },
	{ "net.tx_bad", "net dropped: tx bad", SEC_DEVICES, NET(tx_dropped) },
	{ "net.tx_queue_full", "net dropped: tx queue full", SEC_DEVICES,
	  .from = FROM_FN, .get = get_slirp_tx_dropped, .net_only = true },
	{ "net.rx_backlog_full", "net dropped: rx backlog", SEC_DEVICES, NET(rx_backlog_full) },
	{ "net.rx_oversized", "net dropped: rx size", SEC_DEVICES, NET(rx_oversized) },
	{ "net.rx_not_running", "net dropped: rx down", SEC_DEVICES, NET(rx_not_running) },
	{ "net.rx_bad_buffers", "net bad buffers", SEC_DEVICES, NET(rx_bad_buffers) },
	{ "net.device_errors", "net device errors", SEC_DEVICES, NET(device_errors) },
	{ "vga.modes_not_shown", "VGA modes not shown", SEC_DEVICES, FN(get_vga_unshown) },
	{ "screen.screenshots", "screenshots written", SEC_DEVICES, FN(get_screenshots) },
	{ "screen.fb_compares", "framebuffer compare spells", SEC_DEVICES, FN(get_lfb_compares) },

	{ "time.translated_ms", "vCPU ms in translated code", SEC_EVENTS, FN(get_time_translated) },
	{ "time.translating_ms", "vCPU ms translating", SEC_EVENTS, FN(get_time_translating) },
	{ "time.callouts_ms", "vCPU ms in callouts", SEC_EVENTS, FN(get_time_callouts) },
	{ "time.host_faults_ms", "vCPU ms in host faults", SEC_EVENTS, FN(get_time_faults) },
	{ "time.monitor_ms", "vCPU ms elsewhere in the monitor", SEC_EVENTS, FN(get_time_monitor) },
	{ "time.idle_ms", "vCPU ms idle (not running)", SEC_EVENTS, FN(get_time_idle) },

	{ "tcache.blocks", "blocks translated", SEC_TCACHE, TC(blocks) },
	{ "tcache.guest_insns", "guest instructions translated", SEC_TCACHE, TC(guest_insns) },
	{ "tcache.clones", "of the blocks, copies of the same code elsewhere", SEC_TCACHE, TC(clones) },
	{ "tcache.code_bytes", "buffer bytes used", SEC_TCACHE, FN(get_code_used) },
	{ "tcache.code_capacity", "buffer bytes in all", SEC_TCACHE, FN(get_code_size) },
	{ "tcache.lookups", "lookups", SEC_TCACHE, TC(lookups) },
	{ "tcache.hits", "lookup hits", SEC_TCACHE, TC(hits) },
	{ "tcache.chains", "chains made", SEC_TCACHE, TC(chains) },
	{ "tcache.unchains", "chains undone", SEC_TCACHE, TC(unchains) },
	{ "tcache.ibl_misses", "indirect misses", SEC_TCACHE, FN(get_ibl_misses) },
	{ "tcache.ibl_fills", "indirect table fills", SEC_TCACHE, TC(ibl_fills) },
	{ "tcache.ibl_global_fills", "of them global pages", SEC_TCACHE, TC(ibl_global_fills) },
	{ "tcache.ibl_fast_fills", "misses without an exit", SEC_TCACHE, CPU(ibl_fast_fills) },
	{ "tcache.ibl_reuses", "of them, the slot's block under a new tag", SEC_TCACHE, CPU(ibl_reuses) },
	{ "tcache.invalidations", "invalidations", SEC_TCACHE, TC(invalidations) },
	{ "tcache.invalidated_blocks", "blocks invalidated", SEC_TCACHE, TC(invalidated_blocks) },
	{ "tcache.flushes", "flushes", SEC_TCACHE, TC(flushes) },
	{ "tcache.selfcheck_pages", "self-checking pages", SEC_TCACHE, TC(selfcheck_pages) },
	{ "tcache.selfcheck_stale", "stale blocks found", SEC_TCACHE, TC(selfcheck_stale) },
	{ "tcache.selfcheck_reprotected", "pages reprotected", SEC_TCACHE,
	  TC(selfcheck_reprotected) },
	{ "tcache.ibl_links", "cross-page lookup links", SEC_TCACHE, TC(ibl_links) },

	{ "shadow.hidden_faults", "hidden faults", SEC_MMU, SH(hidden_faults) },
	{ "shadow.prefetched", "pages mapped beside them", SEC_MMU, SH(prefetched) },
	{ "shadow.map_calls", "host mmap calls", SEC_MMU, SH(map_calls) },
	{ "shadow.code_holds", "code pages held for lookups", SEC_MMU, SH(code_holds) },
	{ "shadow.true_faults", "true faults (#PF)", SEC_MMU, SH(true_faults) },
	{ "shadow.trace_faults", "trace faults (table writes)", SEC_MMU, SH(trace_faults) },
	{ "shadow.drops", "shadow entries dropped", SEC_MMU, SH(shadow_drops) },
	{ "shadow.updates", "of them mapped again", SEC_MMU, SH(shadow_updates) },
	{ "shadow.adaptive_insns", "adaptive retranslations", SEC_MMU, SH(adaptive_insns) },
	{ "shadow.adaptive_accesses", "adaptive accesses", SEC_MMU, SH(adaptive_accesses) },
	{ "shadow.adaptive_forgotten", "adaptive set emptied", SEC_MMU, SH(adaptive_forgotten) },
	{ "shadow.adaptive_released", "adaptive released", SEC_MMU, SH(adaptive_released) },
	{ "shadow.mmio_accesses", "MMIO accesses", SEC_MMU, SH(mmio_accesses) },
	{ "shadow.window_switches", "window switches", SEC_MMU, SH(window_switches) },
	{ "shadow.window_creates", "windows made", SEC_MMU, SH(window_creates) },
	{ "shadow.window_evictions", "windows evicted", SEC_MMU, SH(window_evictions) },
	{ "shadow.window_recycles", "windows recycled", SEC_MMU, SH(window_recycles) },
	{ "shadow.flushes", "shadow flushes", SEC_MMU, SH(flushes) },
	{ "shadow.pages_mapped", "pages mapped now", SEC_MMU, FN(get_pages_mapped) },
	{ "shadow.host_mappings", "host mappings now", SEC_MMU, FN(get_host_mappings) },
	{ "shadow.host_mapping_budget", "host mapping budget", SEC_MMU, FN(get_host_mapping_budget) },
	{ "shadow.tables_unshadowed", "tables unshadowed", SEC_MMU, SH(tables_unshadowed) },
	{ "shadow.replacements", "budget reached", SEC_MMU, SH(replacements) },
	{ "shadow.replaced_regions", "regions replaced", SEC_MMU, SH(replaced_regions) },
	{ "shadow.global_kept", "global flushes, entries kept", SEC_MMU, SH(global_kept) },
	{ "shadow.global_retired", "global flushes, entries retired", SEC_MMU, SH(global_retired) },

	{ "exits.%s", "%s", SEC_EXITS, .from = FROM_CPU, .each = EACH_EXIT,
	  .off = offsetof(struct cpu_stats, exits) },

	{ "clock.tsc_hz", "guest TSC Hz (0: 1 GHz, monotonic)", SEC_EVENTS, FN(get_clock_hz) },
	{ "cpu.interrupts", "interrupts taken", SEC_EVENTS, CPU(interrupts) },
	{ "pit.irqs", "PIT IRQ 0 pulses", SEC_EVENTS, FN(get_pit_irqs) },
	{ "pit.lost_irqs", "PIT IRQ 0 lost", SEC_EVENTS, FN(get_pit_lost) },
	{ "pic.spurious", "PIC spurious", SEC_EVENTS, FN(get_pic_spurious) },
	{ "rtc.irqs", "RTC IRQ 8", SEC_EVENTS, FN(get_rtc_irqs) },
	{ "rtc.lost_irqs", "RTC IRQ 8 lost", SEC_EVENTS, FN(get_rtc_lost) },
	{ "lapic.timer_irqs", "APIC timer", SEC_EVENTS, FN(get_apic_irqs) },
	{ "lapic.timer_lost_irqs", "APIC timer lost", SEC_EVENTS, FN(get_apic_lost) },
	{ "acpi.scis", "ACPI SCIs", SEC_EVENTS, FN(get_scis) },
	{ "cpu.halts", "HLT", SEC_EVENTS, CPU(halts) },
	{ "cpu.halt_sleeps", "HLT sleeps", SEC_EVENTS, CPU(halt_sleeps) },
	{ "cpu.halt_polls", "HLT polls", SEC_EVENTS, CPU(halt_polls) },
	{ "cpu.halt_poll_wakes", "HLT polls woken", SEC_EVENTS, CPU(halt_poll_wakes) },
	{ "cpu.single_steps", "single-step traps", SEC_EVENTS, CPU(single_steps) },
	{ "cpu.transfers_inline", "transfers kept in code", SEC_EVENTS, CPU(transfers_inline) },
	{ "cpu.kicks", "signals from other threads", SEC_EVENTS, FN(get_kicks) },
	{ "cpu.resets", "resets (triple faults)", SEC_EVENTS, CPU(resets) },
	{ "cpu.fetch_outside_ram", "fetches outside RAM (#UD)", SEC_EVENTS,
	  CPU(fetch_outside_ram) },
	{ "cpu.wrap_faults", "accesses past 4 GiB (#GP)", SEC_EVENTS, CPU(wrap_faults) },

	{ "callouts.total", "callouts", SEC_CALLOUTS, CPU(callouts) },
	{ "callouts.%s", "%s", SEC_CALLOUTS, .from = FROM_FN, .each = EACH_CLASS,
	  .get = get_class_callouts },
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

static unsigned instances(const struct board *board, const struct stats_counter *c)
{
	switch (c->each) {
	case EACH_DISK:
		return board->cfg.ndisks;
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

static uint64_t counter_value(const struct board *board, const struct stats_counter *c,
			      unsigned i)
{
	switch (c->from) {
	case FROM_FN:
		return c->get(board, i);
	case FROM_TCACHE:
		return read_u64(&board->tc.stats, c->off);
	case FROM_SHADOW:
		return read_u64(&board->sh.stats, c->off);
	case FROM_CPU:
		return read_u64(&board->cpu.stats, c->off + (size_t)i * sizeof(uint64_t));
	case FROM_DISK: {
		struct virtio_blk_stats d =
			virtio_blk_get_stats((struct virtio_blk *)&board->disks[i]);
		return read_u64(&d, c->off);
	}
	case FROM_NET: {
		struct virtio_net_stats n = virtio_net_get_stats((struct virtio_net *)&board->net);
		return read_u64(&n, c->off);
	}
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

static void print_section(const struct board *board, enum stats_section sec, FILE *out)
{
	if (sec != SEC_DEVICES && !board->cpu_ready)
		return;
	fprintf(out, "%s\n", section_titles[sec]);
	if (sec == SEC_DEVICES)
		fprintf(out, "  legend: counts since power-on; instructions and blocks are counted "
			     "when translated, not each time they run; docs/STATS.md defines each "
			     "line\n");
	for (size_t k = 0; k < NCOUNTERS; k++) {
		const struct stats_counter *c = &counters[k];
		if (c->section != sec || (c->net_only && !board->slirp))
			continue;
		for (unsigned i = 0, n = instances(board, c); i < n; i++) {
			char label[64];
			format_instance(label, sizeof(label), c->label, c, i, true);
			fprintf(out, "  %-34s %llu\n", label,
				(unsigned long long)counter_value(board, c, i));
		}
	}
	if (sec == SEC_TCACHE) {
		const struct tcache_stats *t = &board->tc.stats;
		uint64_t branch_exits = board->cpu.stats.exits[EXIT_BRANCH];
		fprintf(out, "  %-34s %.1f%%\n", "lookup hit rate (hits/lookups)",
			percent(t->hits, t->lookups));
		fprintf(out, "  %-34s %.1f%%\n", "chain rate (chains/branch exits)",
			percent(t->chains, branch_exits));
	}
}

void board_print_device_stats(const struct board *board, FILE *out)
{
	print_section(board, SEC_DEVICES, out);
}

void board_print_tcache_stats(const struct board *board, FILE *out)
{
	print_section(board, SEC_TCACHE, out);
}

void board_print_mmu_stats(const struct board *board, FILE *out)
{
	print_section(board, SEC_MMU, out);
}

void board_print_cpu_stats(const struct board *board, FILE *out)
{
	print_section(board, SEC_EXITS, out);
	print_section(board, SEC_EVENTS, out);
	print_section(board, SEC_CALLOUTS, out);
}

void board_print_stats(const struct board *board, FILE *out)
{
	board_print_device_stats(board, out);
	board_print_tcache_stats(board, out);
	board_print_mmu_stats(board, out);
	board_print_cpu_stats(board, out);
}

/* ------------------------------------------------------------ the series */

static unsigned count_columns(const struct board *board)
{
	unsigned n = 0;
	for (size_t k = 0; k < NCOUNTERS; k++)
		n += instances(board, &counters[k]);
	return n;
}

static void fill_row(const struct board *board, uint64_t *row, uint64_t now)
{
	row[0] = (now - board->stats_start_mono) / 1000000u;
	unsigned col = 1;
	for (size_t k = 0; k < NCOUNTERS; k++)
		for (unsigned i = 0, n = instances(board, &counters[k]); i < n; i++)
			row[col++] = counter_value(board, &counters[k], i);
}

static void take_sample(struct board *board, uint64_t now)
{
	struct stats_series *s = &board->series;
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
	fill_row(board, &s->rows[s->nrows * s->ncols], now);
	s->nrows++;
}

/* ------------------------------------------------------------ the JSON file */

static json_t *counters_object(const struct board *board, const uint64_t *row)
{
	json_t *obj = json_object();
	unsigned col = 0;
	for (size_t k = 0; obj && k < NCOUNTERS; k++) {
		const struct stats_counter *c = &counters[k];
		for (unsigned i = 0, n = instances(board, c); i < n; i++) {
			char name[64];
			format_instance(name, sizeof(name), c->name, c, i, false);
			uint64_t v = row ? row[col++] : counter_value(board, c, i);
			if (json_object_set_new(obj, name, json_integer((json_int_t)v))) {
				json_decref(obj);
				return NULL;
			}
		}
	}
	return obj;
}

static json_t *stats_document(const struct board *board, const char *reason)
{
	const struct stats_series *s = &board->series;
	json_t *doc = json_object();
	if (!doc)
		return NULL;
	int bad = json_object_set_new(doc, "format", json_string("btvm-stats"));
	bad |= json_object_set_new(doc, "version", json_integer(1));
	bad |= json_object_set_new(doc, "kernel", json_string(board->cfg.kernel_path ?
								    board->cfg.kernel_path : ""));
	bad |= json_object_set_new(doc, "reason", json_string(reason));
	/* 0 when the run never started (its timer could not be set up). */
	uint64_t elapsed = board->stats_start_mono ? host_monotonic_ns() - board->stats_start_mono : 0;
	bad |= json_object_set_new(doc, "elapsed_ms", json_integer((json_int_t)(elapsed / 1000000u)));
	bad |= json_object_set_new(doc, "counters", counters_object(board, NULL));
	if (board->cfg.explain)
		bad |= json_object_set_new(doc, "sensitive", board_explain_json(board));
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
			bad |= json_object_set_new(sample, "counters",
						   counters_object(board, row + 1));
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

static int write_json(const struct board *board, const char *reason)
{
	const char *path = board->cfg.stats_json_path;
	json_t *doc = stats_document(board, reason);
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

/* The board SIGUSR1 and SIGTERM ask about. Signal handlers take no
 * argument, and a process runs one board. */
static struct board *volatile signal_board;
static volatile sig_atomic_t dump_requested, term_requested;
static struct sigaction old_usr1, old_term;

static void on_stats_signal(int sig, siginfo_t *si, void *uctx)
{
	(void)si;
	if (sig == SIGTERM)
		term_requested = 1;
	else
		dump_requested = 1;
	struct board *board = signal_board;
	if (board)
		board_wake_from_signal(board, uctx);
}

void board_stats_start(struct board *board)
{
	board->stats_start_mono = host_monotonic_ns();
	struct stats_series *s = &board->series;
	s->interval_ns = board->cfg.stats_interval_ms * 1000000ull;
	s->ncols = 1 + count_columns(board);
	s->next_guest_ns = 0;
	if (!board->cfg.stats && !board->cfg.stats_json_path && !board->cpu.explain &&
	    !board->cpu.profile)
		return;
	struct sigaction sa = { .sa_sigaction = on_stats_signal, .sa_flags = SA_RESTART | SA_SIGINFO };
	host_handler_mask(&sa.sa_mask);
	dump_requested = term_requested = 0;
	signal_board = board;
	sigaction(SIGUSR1, &sa, &old_usr1);
	sigaction(SIGTERM, &sa, &old_term);
}

uint64_t board_stats_deadline(const struct board *board)
{
	return board->series.interval_ns ? board->series.next_guest_ns : UINT64_MAX;
}

void board_stats_poll(struct board *board, uint64_t guest_now)
{
	if (dump_requested) {
		dump_requested = 0;
		if (board->cfg.stats) {
			fprintf(stderr, "btvm: SIGUSR1: the statistics so far (the guest runs on)\n");
			board_print_stats(board, stderr);
		}
		if (board->cfg.stats_json_path)
			write_json(board, "SIGUSR1");
	}
	if (term_requested && !board->stats_sigterm) {
		board->stats_sigterm = true;
		board->exit_requested = true;
		board->exit_status = 128 + SIGTERM;
		board->cpu.stop = true;
	}
	struct stats_series *s = &board->series;
	if (!s->interval_ns || guest_now < s->next_guest_ns)
		return;
	take_sample(board, host_monotonic_ns());
	/* A late poll does not bunch samples up: the next is an interval on. */
	s->next_guest_ns = guest_now - s->next_guest_ns >= s->interval_ns
				   ? guest_now + s->interval_ns
				   : s->next_guest_ns + s->interval_ns;
}

int board_stats_finish(struct board *board)
{
	if (board->series.interval_ns)
		take_sample(board, host_monotonic_ns());
	if (board->cfg.stats) {
		if (board->stats_sigterm)
			fprintf(stderr, "btvm: SIGTERM: the statistics, then the end\n");
		board_print_stats(board, stderr);
	}
	board_explain_print(board, stderr);
	if (board->cfg.stats_json_path)
		return write_json(board, board->stats_sigterm ? "SIGTERM" : "exit");
	return 0;
}

bool board_stats_terminated(const struct board *board)
{
	return board->stats_sigterm;
}

void board_stats_stop(struct board *board)
{
	if (signal_board == board) {
		sigaction(SIGUSR1, &old_usr1, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		signal_board = NULL;
	}
	free(board->series.rows);
	board->series = (struct stats_series){ 0 };
}
