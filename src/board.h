/* The PC board: which devices exist, at which ports and IRQ lines, how
 * guest RAM is sized and the guest loaded, and the run loop's exit rules. */
#ifndef BTVM_BOARD_H
#define BTVM_BOARD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "cache/tcache.h"
#include "cpu/cpu.h"
#include "cpu/vcpu.h"
#include "devices/bus.h"
#include "devices/isa_debug_exit.h"
#include "devices/uart16550.h"
#include "mmu/guest_ram.h"
#include "mmu/window.h"
#include "translator/translate.h"

enum display_mode { DISPLAY_NONE, DISPLAY_SDL };
enum serial_mode { SERIAL_STDIO, SERIAL_NONE };

struct board_config {
	const char *kernel_path;
	const char *initrd_path;
	const char *cmdline;
	uint64_t ram_mib;
	enum display_mode display;
	enum serial_mode serial;
	bool stats;
	bool no_reboot;
	bool one_insn_blocks;   /* debug: every block is one guest instruction */
	const char *trace_path; /* --trace: list every translated block here */
	uint64_t tcache_mib;
};

struct board {
	struct board_config cfg;
	struct guest_ram ram;
	struct bus bus;
	struct uart16550 com1;
	struct isa_debug_exit debug_exit;
	struct vcpu_state boot;   /* machine state the loader set up */
	struct window win;
	struct tcache tc;
	struct translator tr;
	struct cpu cpu;
	FILE *trace;
	bool cpu_ready;
	bool exit_requested;
	int exit_status;
};

/* Builds the machine and loads the guest. Returns 0, or a negative errno
 * with a one-line message in err. */
int board_create(struct board *board, const struct board_config *cfg, char *err,
		 size_t err_len);
/* Runs the guest until it asks to exit; returns the process exit status. */
int board_run(struct board *board);
void board_print_stats(const struct board *board, FILE *out);
void board_destroy(struct board *board);

#endif
