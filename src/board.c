/* Wires the PC together: guest RAM, the bus and every device on it, the
 * guest loader, and the run loop. Only this file knows the PC's port map. */
#include "board.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "boot/multiboot.h"
#include "cpu/sensitive.h"
#include "host/console.h"

#define COM1_PORT 0x3f8
#define COM1_IRQ 4
#define POST_PORT 0x80

static void board_request_exit(void *opaque, int status)
{
	struct board *board = opaque;
	board->exit_requested = true;
	board->exit_status = status;
	board->cpu.stop = true;
}

static void com1_transmit(void *opaque, uint8_t byte)
{
	struct board *board = opaque;
	if (board->cfg.serial == SERIAL_STDIO)
		console_write(&byte, 1);
}

/* The POST diagnostic port: firmware and Linux (as an I/O delay) write it;
 * nothing is there to answer. */
static uint64_t post_read(void *opaque, uint64_t offset, unsigned width)
{
	(void)opaque;
	(void)offset;
	(void)width;
	return ~0ULL;
}

static void post_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	(void)opaque;
	(void)offset;
	(void)width;
	(void)value;
}

static const struct bus_ops post_ops = {
	.read = post_read,
	.write = post_write,
	.max_width = 4,
};

static int board_wire_devices(struct board *board)
{
	int err;
	/* Until the PIC lands, interrupt lines go nowhere. */
	struct irq_line com1_irq = { .set_level = NULL, .opaque = board, .line = COM1_IRQ };

	uart16550_init(&board->com1, &com1_irq, com1_transmit, board);
	err = uart16550_attach(&board->com1, &board->bus, COM1_PORT);
	if (err)
		return err;
	board->debug_exit.request_exit = board_request_exit;
	board->debug_exit.opaque = board;
	err = isa_debug_exit_attach(&board->debug_exit, &board->bus, ISA_DEBUG_EXIT_PORT);
	if (err)
		return err;
	return bus_register(&board->bus, BUS_SPACE_PIO, "post", POST_PORT, 1, &post_ops, NULL);
}

int board_create(struct board *board, const struct board_config *cfg, char *err, size_t err_len)
{
	int ret;

	memset(board, 0, sizeof(*board));
	board->cfg = *cfg;
	bus_init(&board->bus);

	ret = guest_ram_init(&board->ram, cfg->ram_mib);
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
	ret = board_wire_devices(board);
	if (ret) {
		snprintf(err, err_len, "cannot wire the PC's devices: %s", strerror(-ret));
		goto destroy_ram;
	}
	struct boot_config boot = {
		.kernel_path = cfg->kernel_path,
		.initrd_path = cfg->initrd_path,
		.cmdline = cfg->cmdline,
	};
	ret = multiboot_load(&board->ram, &boot, &board->boot, err, err_len);
	if (ret)
		goto destroy_ram;
	ret = window_create(&board->win, &board->ram);
	if (ret) {
		snprintf(err, err_len, "cannot reserve the guest's address-space window: %s", strerror(-ret));
		goto destroy_ram;
	}
	ret = tcache_init(&board->tc, cfg->tcache_mib << 20, board->ram.size, &board->win);
	if (ret) {
		snprintf(err, err_len, "cannot allocate a %llu MiB translation cache: %s",
			 (unsigned long long)cfg->tcache_mib, strerror(-ret));
		goto destroy_window;
	}
	if (cfg->trace_path) {
		board->trace = fopen(cfg->trace_path, "w");
		if (!board->trace) {
			ret = -errno;
			snprintf(err, err_len, "%s: cannot open trace file: %s", cfg->trace_path, strerror(errno));
			goto destroy_tcache;
		}
	}
	ret = translator_init(&board->tr, cfg->one_insn_blocks, board->trace);
	if (!ret)
		ret = cpu_init(&board->cpu, &board->boot, &board->win, &board->tc, &board->bus);
	if (ret) {
		snprintf(err, err_len, "cannot set up the vCPU: %s", strerror(-ret));
		goto close_trace;
	}
	board->cpu_ready = true;
	return 0;

close_trace:
	if (board->trace)
		fclose(board->trace);
	cpu_destroy(&board->cpu);
destroy_tcache:
	tcache_destroy(&board->tc);
destroy_window:
	window_destroy(&board->win);

destroy_ram:
	guest_ram_destroy(&board->ram);
	return ret;
}

int board_run(struct board *board)
{
	if (board->cfg.serial == SERIAL_STDIO && console_open(NULL, NULL) < 0)
		fprintf(stderr, "btvm: warning: cannot read the console; guest input is off\n");
	cpu_run(&board->cpu, &board->tr);
	console_close();
	if (board->exit_requested)
		return board->exit_status;
	fprintf(stderr, "btvm: %s: %s (eip 0x%08x)\n", board->cfg.kernel_path,
		board->cpu.fatal ? board->cpu.fatal : "stopped", board->cpu.s.eip);
	return 1;
}

void board_print_stats(const struct board *board, FILE *out)
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
	fprintf(out, "  indirect misses / fills   %llu / %llu\n",
		(unsigned long long)c->exits[EXIT_INDIRECT], (unsigned long long)t->ibl_fills);
	fprintf(out, "  invalidations (blocks)    %llu (%llu)\n", (unsigned long long)t->invalidations,
		(unsigned long long)t->invalidated_blocks);
	fprintf(out, "  flushes                   %llu\n", (unsigned long long)t->flushes);
	fprintf(out, "exits to the monitor:\n");
	static const char *const names[EXIT_REASON_COUNT] = { "branch", "indirect", "callout",
							       "attention", "fault" };
	for (int i = 0; i < EXIT_REASON_COUNT; i++)
		fprintf(out, "  %-25s %llu\n", names[i], (unsigned long long)c->exits[i]);
	fprintf(out, "callouts:                   %llu\n", (unsigned long long)c->callouts);
	for (unsigned i = 0; i <= SENS_MONITOR; i++)
		fprintf(out, "  %-25s %llu\n", sensitive_class_name((enum sensitive_class)i),
			(unsigned long long)board->cpu.callouts_by_class[i]);
}

void board_destroy(struct board *board)
{
	if (board->cpu_ready) {
		cpu_destroy(&board->cpu);
		translator_destroy(&board->tr);
		tcache_destroy(&board->tc);
		window_destroy(&board->win);
		if (board->trace)
			fclose(board->trace);
	}
	guest_ram_destroy(&board->ram);
}
