/* Wires the PC together: guest RAM, the bus and every device on it, the
 * guest loader, and the run loop. Only this file knows the PC's port map. */
#include "board.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "boot/multiboot.h"
#include "host/console.h"

#define COM1_PORT 0x3f8
#define COM1_IRQ 4
#define POST_PORT 0x80

static void board_request_exit(void *opaque, int status)
{
	struct board *board = opaque;
	board->exit_requested = true;
	board->exit_status = status;
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
	ret = multiboot_load(&board->ram, &boot, &board->cpu, err, err_len);
	if (ret)
		goto destroy_ram;
	return 0;

destroy_ram:
	guest_ram_destroy(&board->ram);
	return ret;
}

int board_run(struct board *board)
{
	fprintf(stderr, "btvm: %s loaded (entry 0x%08x), but this build has no CPU core "
		"to run it yet\n", board->cfg.kernel_path, board->cpu.eip);
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
}

void board_destroy(struct board *board)
{
	guest_ram_destroy(&board->ram);
}
