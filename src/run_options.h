/* The `btvm run` command line: its options, their defaults and checks,
 * parsed into a struct board_config and what the user gave. */
#ifndef BTVM_RUN_OPTIONS_H
#define BTVM_RUN_OPTIONS_H

#include <stdbool.h>
#include <stdio.h>

#include "machine/board.h"

#define EXIT_USAGE 2

/* How the PC boots: --firmware bios (or --bios), --firmware direct, or
 * neither, when the devices decide (choose_boot). */
enum boot_choice { BOOT_CHOICE_AUTO, BOOT_CHOICE_BIOS, BOOT_CHOICE_DIRECT };
/* How a restored or migrated machine starts: as it was saved, or as
 * --start (or -S) says. */
enum start_choice { START_AS_SAVED, START_PAUSED, START_RUNNING };

/* The machine options the command line gave, for --restore: the
 * snapshot has its own. */
struct run_given {
	bool kernel, initrd, append, memory, vga, disk, snapshot, net, smp, tablet, sound;
	int audio;              /* --audio: 0 not given, 1 sdl, -1 none */
	enum boot_choice boot;
	enum start_choice start;
	bool start_option;      /* --start itself, not -S */
	const char *incoming;   /* --incoming tcp:[ADDR]:PORT */
	const char *first_disk; /* the first --disk, either interface: a kernel may be on it */
	/* --disk FILE,if=ide in the order given, and --cdrom: their IDE
	 * slots are chosen once all are known (assign_ide_slots). */
	struct board_ide_drive ide_disks[BOARD_IDE_SLOTS];
	unsigned nide_disks;
	const char *cdrom;
	const char *loadvm;     /* --loadvm NAME */
};

void print_usage(FILE *out);
/* Prints "btvm: MESSAGE" and a pointer to --help; returns EXIT_USAGE. */
__attribute__((format(printf, 1, 2))) int usage_error(const char *fmt, ...);
/* -1 when the options are good and the run goes on, else the exit status
 * (0 after --help, EXIT_USAGE on a bad option). */
int parse_run_options(int argc, char **argv, struct board_config *cfg, struct run_given *given);

#endif
