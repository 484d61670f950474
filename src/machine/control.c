/* The control interface's machine side (machine/control.h): the front
 * ends' registration and the calls into them, the pause and its holds,
 * the requests that end or reset the run, the counters copied out, the
 * IDE drives' media, and read-only views of the machine for the monitor. */
#include "machine/board_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "host/clock.h"

/* ------------------------------------------------------------ front ends */

int board_add_frontend(struct board *board, const struct board_frontend_ops *ops, void *opaque)
{
	unsigned n = board__nfrontends(board);
	if (n == BOARD_MAX_FRONTENDS)
		return -ENOSPC;
	board->frontends[n] = (struct board_frontend){ .ops = ops, .opaque = opaque };
	/* The console's thread may look at the list now: the entry first. */
	atomic_store_explicit(&board->nfrontends, n + 1, memory_order_release);
	return 0;
}

void board_remove_frontend(struct board *board, void *opaque)
{
	unsigned n = board__nfrontends(board);
	for (unsigned i = 0; i < n; i++) {
		if (board->frontends[i].opaque != opaque)
			continue;
		/* The others keep their order: it is the order of the calls. */
		memmove(&board->frontends[i], &board->frontends[i + 1],
			(n - i - 1) * sizeof(board->frontends[0]));
		atomic_store_explicit(&board->nfrontends, n - 1, memory_order_release);
		return;
	}
}

void board__event(struct board *board, enum board_event event)
{
	for (unsigned i = 0, n = board__nfrontends(board); i < n; i++) {
		const struct board_frontend *f = &board->frontends[i];
		if (f->ops->event)
			f->ops->event(f->opaque, event);
	}
}

bool board__frontends_want_stop(struct board *board, bool halted)
{
	for (unsigned i = 0, n = board__nfrontends(board); i < n; i++) {
		const struct board_frontend *f = &board->frontends[i];
		enum board_want w = f->ops->wants ? f->ops->wants(f->opaque) : BOARD_WANT_NOTHING;
		if (w == BOARD_WANT_STOP)
			return true;
		if (w == BOARD_WANT_STOP_AFTER_SLICE &&
		    (halted || board__clock_ns(board) >= board->control_slice_end_ns))
			return true;
	}
	return false;
}

bool board__frontends_want_slice(struct board *board)
{
	for (unsigned i = 0, n = board__nfrontends(board); i < n; i++) {
		const struct board_frontend *f = &board->frontends[i];
		if (f->ops->wants && f->ops->wants(f->opaque) == BOARD_WANT_STOP_AFTER_SLICE)
			return true;
	}
	return false;
}

bool board__frontends_poll(struct board *board, uint64_t guest_ns)
{
	bool stop = false;
	for (unsigned i = 0, n = board__nfrontends(board); i < n; i++) {
		const struct board_frontend *f = &board->frontends[i];
		if (f->ops->poll && f->ops->poll(f->opaque, guest_ns))
			stop = true;
	}
	return stop;
}

uint64_t board__frontends_deadline(struct board *board)
{
	uint64_t deadline = UINT64_MAX;
	for (unsigned i = 0, n = board__nfrontends(board); i < n; i++) {
		const struct board_frontend *f = &board->frontends[i];
		uint64_t d = f->ops->deadline ? f->ops->deadline(f->opaque) : UINT64_MAX;
		if (d < deadline)
			deadline = d;
	}
	return deadline;
}

void board__frontends_halt(struct board *board, uint64_t guest_ns, struct board_halt *h)
{
	for (unsigned i = 0, n = board__nfrontends(board); i < n; i++) {
		const struct board_frontend *f = &board->frontends[i];
		if (f->ops->halt)
			f->ops->halt(f->opaque, guest_ns, h);
	}
}

bool board__frontends_run_stopped(struct board *board)
{
	bool more = false;
	/* One pass over those registered now: one a command registers (a
	 * migration) has nothing to run yet. */
	for (unsigned i = 0, n = board__nfrontends(board); i < n; i++) {
		const struct board_frontend *f = &board->frontends[i];
		if (f->ops->run_stopped && f->ops->run_stopped(f->opaque))
			more = true;
	}
	return more;
}

void board__frontends_paused(struct board *board, uint64_t guest_ns)
{
	for (unsigned i = 0, n = board__nfrontends(board); i < n; i++) {
		const struct board_frontend *f = &board->frontends[i];
		if (f->ops->paused)
			f->ops->paused(f->opaque, guest_ns);
	}
}

void board__frontends_terminal_line(struct board *board, const char *line)
{
	for (unsigned i = 0, n = board__nfrontends(board); i < n; i++) {
		const struct board_frontend *f = &board->frontends[i];
		if (f->ops->terminal_line)
			f->ops->terminal_line(f->opaque, line);
	}
}

void board__frontends_exited(struct board *board, int status)
{
	for (unsigned i = 0, n = board__nfrontends(board); i < n; i++) {
		const struct board_frontend *f = &board->frontends[i];
		if (f->ops->exited)
			f->ops->exited(f->opaque, status);
	}
}

/* ------------------------------------------------------- pause and exit */

void board_pause(struct board *board, unsigned hold)
{
	board->holds |= hold;
	if (board->paused)
		return;
	board->paused = true;
	board->paused_count = board__host_count(&board->clk);
	board->paused_wall_ns = host_realtime_ns();
	board__audio_pause(board, true);
	board__event(board, BOARD_EVENT_STOP);
}

/* Guest time carries on from where it stood: the clock's base and the
 * TSC's offset move by the host time the pause took. The calendar clock
 * (the RTC) does not: it moves on by the wall-clock time the pause took,
 * so that it reads the host's time again, which a guest resyncs its
 * system clock from (hwclock --hctosys). */
void board_resume(struct board *board, unsigned hold)
{
	board->holds &= ~hold;
	if (!board->paused || board->holds)
		return;
	struct guest_clock *k = &board->clk;
	uint64_t now = board__host_count(k);
	k->base_ns = board__guest_ns_at(k, board->paused_count);
	k->base_count = now;
	/* The TSC counts in the clock's host counts (TSC ticks, or ns). */
	for (unsigned i = 0; i < board->nvcpus; i++)
		board->vcpus[i].cpu.tsc_offset += now - board->paused_count;
	board->paused = false;
	mc146818_move_time(&board->rtc, board__clock_ns(board),
			   host_realtime_ns() - board->paused_wall_ns);
	board__audio_pause(board, false);
	board__event(board, BOARD_EVENT_RESUME);
	board__arm_timer(board);
}

void board_set_start_paused(struct board *board, bool paused)
{
	board->start_paused = paused;
}

bool board_start_paused(const struct board *board)
{
	return board->start_paused;
}

bool board_paused(const struct board *board)
{
	return board->paused;
}

unsigned board_holds(const struct board *board)
{
	return board->holds;
}

void board_request_exit(struct board *board, int status)
{
	board->exit_requested = true;
	board->exit_status = status;
	for (unsigned i = 0; i < board->nvcpus; i++)
		board->vcpus[i].cpu.stop = true;
}

void board_request_reset(struct board *board)
{
	board->reset_requested = true;
	for (unsigned i = 0; i < board->nvcpus; i++)
		board->vcpus[i].cpu.stop = true;
}

void board_power_button(struct board *board)
{
	acpi_pm_power_button(&board->pm);
}

void board_nmi_button(struct board *board)
{
	board__iochk_assert(board);
}

const struct board_config *board_config(const struct board *board)
{
	return &board->cfg;
}

/* --------------------------------------------------------------- counters */

/* sum += add, counter by counter: struct cpu_stats holds uint64_t
 * counters only (board_stats.c reads it by offset too). */
_Static_assert(sizeof(struct cpu_stats) % sizeof(uint64_t) == 0,
	       "struct cpu_stats holds uint64_t counters only");
static void add_cpu_stats(struct cpu_stats *sum, const struct cpu_stats *add)
{
	uint64_t a[sizeof(*sum) / sizeof(uint64_t)], b[sizeof(*sum) / sizeof(uint64_t)];
	memcpy(a, sum, sizeof(a));
	memcpy(b, add, sizeof(b));
	for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++)
		a[i] += b[i];
	memcpy(sum, a, sizeof(a));
}

void board_read_counters(const struct board *board, struct board_counters *c)
{
	memset(c, 0, sizeof(*c));
	c->cpu_ready = board->cpu_ready;
	c->ram_bytes = board->ram.size;
	for (unsigned sp = 0; sp < BUS_SPACE_COUNT; sp++) {
		c->unclaimed_reads[sp] = board->bus.unclaimed_reads[sp];
		c->unclaimed_writes[sp] = board->bus.unclaimed_writes[sp];
	}
	c->serial_tx_bytes = board->com1.tx_bytes;
	c->serial_rx_bytes = board->com1.rx_bytes;
	c->mouse_events = board->kbc.mouse.events;
	c->mouse_packets = board->kbc.mouse.packets;
	c->ndisks = board->cfg.ndisks;
	/* The getters take the devices' locks, which change nothing. */
	for (unsigned i = 0; i < board->cfg.ndisks; i++)
		c->disks[i] = virtio_blk_get_stats((struct virtio_blk *)&board->disks[i]);
	for (unsigned slot = 0; slot < BOARD_IDE_SLOTS; slot++)
		c->ide_drives += board->cfg.ide[slot].kind != BOARD_IDE_NONE;
	c->ide = ide_get_stats(&board->ide);
	board__audio_counters(board, c);
	c->net = board->slirp != NULL;
	c->net_stats = virtio_net_get_stats((struct virtio_net *)&board->net);
	c->net_tx_queue_full = board->slirp ? slirp_net_get_stats(board->slirp).tx_dropped : 0;
	c->vga_modes_not_shown = board->vga.unsupported_renders;
	c->tcache = board->tc.stats;
	c->code_used = tcache_code_bytes(&board->tc);
	c->code_size = tcache_capacity(&board->tc);
	c->code_live = board->tc.live_bytes;
	c->shadow = board->sh.stats;
	c->pages_mapped = board->sh.total_mapped;
	c->host_mappings = (uint64_t)board->sh.host_maps;
	c->host_mapping_budget = (uint64_t)board->sh.map_budget;
	/* Each vCPU's, read once: the totals are their sums, so the two agree
	 * even while a vCPU thread counts on. */
	c->nvcpus = board->nvcpus;
	for (unsigned i = 0; i < board->nvcpus; i++) {
		const struct board_vcpu *v = &board->vcpus[i];
		struct board_vcpu_counters *vc = &c->vcpus[i];
		vc->cpu = v->cpu.stats;
		memcpy(vc->callouts_by_class, v->cpu.callouts_by_class, sizeof(vc->callouts_by_class));
		vc->kicks = cpu_kicks(&v->cpu);
		for (unsigned p = 0; p <= PHASE_COUNT; p++)
			vc->phase_ms[p] = profile_phase_ms(&v->cpu, (enum cpu_phase)p);
		vc->lapic_timer_irqs = v->lapic.timer_irqs;
		vc->lapic_timer_lost_irqs = v->lapic.timer_lost_irqs;
		add_cpu_stats(&c->cpu, &vc->cpu);
		for (unsigned k = 0; k <= SENS_MONITOR; k++)
			c->callouts_by_class[k] += vc->callouts_by_class[k];
		c->kicks += vc->kicks;
		for (unsigned p = 0; p <= PHASE_COUNT; p++)
			c->phase_ms[p] += vc->phase_ms[p];
		c->lapic_timer_irqs += vc->lapic_timer_irqs;
		c->lapic_timer_lost_irqs += vc->lapic_timer_lost_irqs;
	}
	c->clock_hz = board->clk.tsc ? board->clk.hz : 0;
	c->pit_irqs = board->pit.irqs;
	c->pit_lost_irqs = board->pit.lost_irqs;
	c->pic_spurious = board->pic.spurious;
	c->rtc_irqs = board->rtc.irqs;
	c->rtc_lost_irqs = board->rtc.lost_irqs;
	c->acpi_scis = board->pm.scis;
}

/* ------------------------------------------------------- the IDE drives */

static const struct ide_drive *ide_drive(const struct board *board, unsigned slot)
{
	assert(slot < BOARD_IDE_SLOTS);
	return &board->ide.ch[slot / IDE_UNITS].drive[slot % IDE_UNITS];
}

void board_ide_info(const struct board *board, unsigned slot, struct board_ide_info *info)
{
	const struct ide_drive *d = ide_drive(board, slot);
	*info = (struct board_ide_info){
		.kind = d->kind == IDE_KIND_DISK    ? BOARD_IDE_DISK
			: d->kind == IDE_KIND_CDROM ? BOARD_IDE_CDROM
						    : BOARD_IDE_NONE,
		.path = d->image ? d->image->path : NULL,
		.readonly = d->image && d->image->readonly,
		.tray_open = d->kind == IDE_KIND_CDROM && d->atapi.tray_open,
		.locked = d->kind == IDE_KIND_CDROM && d->atapi.locked,
	};
}

static int cdrom_check(const struct board *board, unsigned slot, char *err, size_t err_len)
{
	if (slot >= BOARD_IDE_SLOTS || ide_drive(board, slot)->kind != IDE_KIND_CDROM) {
		snprintf(err, err_len, "no CD-ROM drive there (btvm run --cdrom FILE gives one)");
		return -ENODEV;
	}
	return 0;
}

int board_cdrom_change(struct board *board, unsigned slot, const char *path, bool force,
		       char *err, size_t err_len)
{
	int ret = cdrom_check(board, slot, err, err_len);
	return ret ? ret : ide_cdrom_change(&board->ide, slot, path, force, err, err_len);
}

int board_cdrom_eject(struct board *board, unsigned slot, bool force, char *err, size_t err_len)
{
	int ret = cdrom_check(board, slot, err, err_len);
	return ret ? ret : ide_cdrom_eject(&board->ide, slot, force, err, err_len);
}

/* ------------------------------------------- the machine, as it is built */

const struct bus *board_bus(const struct board *board)
{
	return &board->bus;
}

const struct pci_host *board_pci(const struct board *board)
{
	return &board->pci;
}

const struct shadow *board_shadow(const struct board *board)
{
	return &board->sh;
}
