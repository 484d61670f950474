/* The board's statistics (board_stats.c), a front end of the machine: the
 * one table of counters that --stats prints, --stats-json writes and
 * --stats-interval samples, the monitor's info commands, and the SIGUSR1
 * (live dump) and SIGTERM (dump, then die) requests for them. */
#ifndef BTVM_BOARD_STATS_H
#define BTVM_BOARD_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct board;
struct board_explain;
struct board_screen;
struct board_stats;

/* Whether a --stats-json FILE can be written (FILE.tmp created and removed
 * in its directory): checked at start-up so a bad path costs no run. */
int board_stats_check_path(const char *path, char *err, size_t err_len);
/* Registers with the board (machine/control.h): when the run starts, the
 * clock samples count from, and SIGUSR1/SIGTERM taken over when --stats
 * or --stats-json asks for them; at every poll (and at the control point,
 * with the guest time the pause stands at) SIGUSR1/SIGTERM acted on and a
 * sample taken when one is due. The screen's counters and the --explain
 * reports (either NULL) go into the reports too. Returns 0, or a negative
 * errno with a one-line message. */
int board_stats_open(struct board_stats **out, struct board *board,
		     const struct board_screen *screen, struct board_explain *explain, char *err,
		     size_t err_len);
/* The --stats report, whole or by section (vCPU thread, guest stopped). */
void board_stats_print(const struct board_stats *st, FILE *out);
void board_stats_print_devices(const struct board_stats *st, FILE *out);
void board_stats_print_tcache(const struct board_stats *st, FILE *out);
void board_stats_print_mmu(const struct board_stats *st, FILE *out);
void board_stats_print_cpu(const struct board_stats *st, FILE *out);
/* At exit (the guest ended or SIGTERM): a last sample, the text report
 * with --stats, the --explain and --profile reports, and the JSON file
 * with --stats-json. Returns 0, or 1 when the file could not be written
 * (said on stderr). */
int board_stats_finish(struct board_stats *st);
/* Whether SIGTERM ended the run: main then dies of it once cleaned up. */
bool board_stats_terminated(const struct board_stats *st);
/* Unregisters, gives SIGUSR1/SIGTERM back and frees the samples (NULL is
 * fine). */
void board_stats_close(struct board_stats *st);

#endif
