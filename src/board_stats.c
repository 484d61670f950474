/* --stats and the monitor's info commands: the board's counters, in
 * sections (devices, translation cache, shadow paging, CPU events). */
#include <stdio.h>

#include "board.h"
#include "cpu/sensitive.h"

void board_print_device_stats(const struct board *board, FILE *out)
{
	fprintf(out, "btvm stats:\n");
	fprintf(out, "  guest RAM                 %llu MiB\n",
		(unsigned long long)(board->ram.size >> 20));
	fprintf(out, "  unclaimed port reads      %llu\n",
		(unsigned long long)board->bus.unclaimed_reads[BUS_SPACE_PIO]);
	fprintf(out, "  unclaimed port writes     %llu\n",
		(unsigned long long)board->bus.unclaimed_writes[BUS_SPACE_PIO]);
	fprintf(out, "  unclaimed MMIO reads      %llu\n",
		(unsigned long long)board->bus.unclaimed_reads[BUS_SPACE_MMIO]);
	fprintf(out, "  unclaimed MMIO writes     %llu\n",
		(unsigned long long)board->bus.unclaimed_writes[BUS_SPACE_MMIO]);
	fprintf(out, "  serial bytes out / in     %llu / %llu\n",
		(unsigned long long)board->com1.tx_bytes, (unsigned long long)board->com1.rx_bytes);
	fprintf(out, "  mouse events / packets    %llu / %llu\n",
		(unsigned long long)board->kbc.mouse.events, (unsigned long long)board->kbc.mouse.packets);
	for (unsigned i = 0; i < board->cfg.ndisks; i++) {
		struct virtio_blk_stats d = virtio_blk_get_stats((struct virtio_blk *)&board->disks[i]);
		fprintf(out, "  disk %u reads / writes    %llu / %llu (%llu / %llu bytes)\n", i,
			(unsigned long long)d.reads, (unsigned long long)d.writes,
			(unsigned long long)d.bytes_read, (unsigned long long)d.bytes_written);
		fprintf(out, "  disk %u flushes, discards %llu, %llu; errors: I/O %llu, bad %llu, device %llu\n",
			i, (unsigned long long)d.flushes, (unsigned long long)d.discards,
			(unsigned long long)d.io_errors, (unsigned long long)d.bad_requests,
			(unsigned long long)d.device_errors);
	}
	if (board->slirp) {
		struct virtio_net_stats n = virtio_net_get_stats((struct virtio_net *)&board->net);
		struct slirp_net_stats sl = slirp_net_get_stats(board->slirp);
		fprintf(out, "  net tx frames / bytes     %llu / %llu\n",
			(unsigned long long)n.tx_packets, (unsigned long long)n.tx_bytes);
		fprintf(out, "  net rx frames / bytes     %llu / %llu\n",
			(unsigned long long)n.rx_packets, (unsigned long long)n.rx_bytes);
		fprintf(out, "  net dropped: tx bad %llu, tx queue %llu, rx backlog %llu, rx size %llu, "
			"rx down %llu, bad buffers %llu, device %llu\n",
			(unsigned long long)n.tx_dropped, (unsigned long long)sl.tx_dropped,
			(unsigned long long)n.rx_backlog_full, (unsigned long long)n.rx_oversized,
			(unsigned long long)n.rx_not_running, (unsigned long long)n.rx_bad_buffers,
			(unsigned long long)n.device_errors);
	}
	fprintf(out, "  VGA modes not shown       %llu\n",
		(unsigned long long)board->vga.unsupported_renders);
	fprintf(out, "  screenshots written       %llu\n", (unsigned long long)board->screen.screenshots);
	fprintf(out, "  framebuffer compare spells %llu\n",
		(unsigned long long)board->screen.lfb_compare_entries);
}

void board_print_tcache_stats(const struct board *board, FILE *out)
{
	if (!board->cpu_ready)
		return;
	const struct tcache_stats *t = &board->tc.stats;
	const struct cpu_stats *c = &board->cpu.stats;
	fprintf(out, "translation cache:\n");
	fprintf(out, "  blocks translated         %llu\n", (unsigned long long)t->blocks);
	fprintf(out, "  guest instructions        %llu\n", (unsigned long long)t->guest_insns);
	fprintf(out, "  buffer bytes used         %llu of %llu\n", (unsigned long long)board->tc.code_used,
		(unsigned long long)board->tc.code_size);
	fprintf(out, "  lookups / hits            %llu / %llu\n", (unsigned long long)t->lookups,
		(unsigned long long)t->hits);
	fprintf(out, "  chains made / undone      %llu / %llu\n", (unsigned long long)t->chains,
		(unsigned long long)t->unchains);
	fprintf(out, "  indirect misses / fills   %llu / %llu (global pages: %llu)\n",
		(unsigned long long)(c->exits[EXIT_INDIRECT] + c->ibl_fast_fills),
		(unsigned long long)t->ibl_fills, (unsigned long long)t->ibl_global_fills);
	fprintf(out, "  of them without an exit   %llu\n", (unsigned long long)c->ibl_fast_fills);
	fprintf(out, "  invalidations (blocks)    %llu (%llu)\n", (unsigned long long)t->invalidations,
		(unsigned long long)t->invalidated_blocks);
	fprintf(out, "  flushes                   %llu\n", (unsigned long long)t->flushes);
	fprintf(out, "  self-checking pages       %llu (stale blocks found: %llu, reprotected: %llu)\n",
		(unsigned long long)t->selfcheck_pages, (unsigned long long)t->selfcheck_stale,
		(unsigned long long)t->selfcheck_reprotected);
	fprintf(out, "  cross-page lookup links   %llu\n", (unsigned long long)t->ibl_links);
}

void board_print_mmu_stats(const struct board *board, FILE *out)
{
	if (!board->cpu_ready)
		return;
	const struct shadow_stats *m = &board->sh.stats;
	fprintf(out, "shadow paging:\n");
	fprintf(out, "  hidden faults             %llu\n", (unsigned long long)m->hidden_faults);
	fprintf(out, "  pages mapped beside them  %llu\n", (unsigned long long)m->prefetched);
	fprintf(out, "  true faults (#PF)         %llu\n", (unsigned long long)m->true_faults);
	fprintf(out, "  trace faults (table writes) %llu\n", (unsigned long long)m->trace_faults);
	fprintf(out, "  shadow entries dropped    %llu\n", (unsigned long long)m->shadow_drops);
	fprintf(out, "  of them mapped again      %llu\n", (unsigned long long)m->shadow_updates);
	fprintf(out, "  adaptive retranslations   %llu\n", (unsigned long long)m->adaptive_insns);
	fprintf(out, "  adaptive accesses         %llu\n", (unsigned long long)m->adaptive_accesses);
	fprintf(out, "  adaptive set emptied      %llu\n", (unsigned long long)m->adaptive_forgotten);
	fprintf(out, "  MMIO accesses             %llu\n", (unsigned long long)m->mmio_accesses);
	fprintf(out, "  window switches           %llu\n", (unsigned long long)m->window_switches);
	fprintf(out, "  windows made / evicted    %llu / %llu\n", (unsigned long long)m->window_creates,
		(unsigned long long)m->window_evictions);
	fprintf(out, "  shadow flushes            %llu\n", (unsigned long long)m->flushes);
	fprintf(out, "  pages mapped now          %u\n", board->sh.total_mapped);
}

void board_print_cpu_stats(const struct board *board, FILE *out)
{
	if (!board->cpu_ready)
		return;
	const struct cpu_stats *c = &board->cpu.stats;
	fprintf(out, "exits to the monitor:\n");
	static const char *const names[EXIT_REASON_COUNT] = { "branch", "indirect", "callout",
							       "attention", "fault" };
	for (int i = 0; i < EXIT_REASON_COUNT; i++)
		fprintf(out, "  %-25s %llu\n", names[i], (unsigned long long)c->exits[i]);
	fprintf(out, "events:\n");
	const struct guest_clock *k = &board->clk;
	if (k->tsc)
		fprintf(out, "  guest clocks count        the host TSC, %llu.%06llu MHz\n",
			(unsigned long long)(k->hz / 1000000), (unsigned long long)(k->hz % 1000000));
	else
		fprintf(out, "  guest clocks count        CLOCK_MONOTONIC (a 1 GHz TSC)\n");
	fprintf(out, "  interrupts taken          %llu\n", (unsigned long long)c->interrupts);
	fprintf(out, "  PIT IRQ 0 pulses / lost   %llu / %llu\n", (unsigned long long)board->pit.irqs,
		(unsigned long long)board->pit.lost_irqs);
	fprintf(out, "  PIC spurious              %llu\n", (unsigned long long)board->pic.spurious);
	fprintf(out, "  RTC IRQ 8 / lost          %llu / %llu\n", (unsigned long long)board->rtc.irqs,
		(unsigned long long)board->rtc.lost_irqs);
	fprintf(out, "  APIC timer / lost         %llu / %llu\n",
		(unsigned long long)board->lapic.timer_irqs,
		(unsigned long long)board->lapic.timer_lost_irqs);
	fprintf(out, "  ACPI SCIs                 %llu\n", (unsigned long long)board->pm.scis);
	fprintf(out, "  HLT / sleeps              %llu / %llu\n", (unsigned long long)c->halts,
		(unsigned long long)c->halt_sleeps);
	fprintf(out, "  single-step traps         %llu\n", (unsigned long long)c->single_steps);
	fprintf(out, "  transfers kept in code    %llu\n", (unsigned long long)c->transfers_inline);
	fprintf(out, "  resets (triple faults)    %llu\n", (unsigned long long)c->resets);
	fprintf(out, "  fetches outside RAM (#UD) %llu\n", (unsigned long long)c->fetch_outside_ram);
	fprintf(out, "  accesses past 4 GiB (#GP) %llu\n", (unsigned long long)c->wrap_faults);
	fprintf(out, "callouts:                   %llu\n", (unsigned long long)c->callouts);
	for (unsigned i = 0; i <= SENS_MONITOR; i++)
		fprintf(out, "  %-25s %llu\n", sensitive_class_name((enum sensitive_class)i),
			(unsigned long long)board->cpu.callouts_by_class[i]);
}

void board_print_stats(const struct board *board, FILE *out)
{
	board_print_device_stats(board, out);
	board_print_tcache_stats(board, out);
	board_print_mmu_stats(board, out);
	board_print_cpu_stats(board, out);
}
