/* The board's statistics (board_stats.c): the one table of counters that
 * --stats prints, --stats-json writes and --stats-interval samples, and
 * the SIGUSR1 (live dump) and SIGTERM (dump, then die) requests for them. */
#ifndef BTVM_BOARD_STATS_H
#define BTVM_BOARD_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --stats-interval's samples: rows of (ms since the run began, then every
 * counter in table order), appended on the vCPU thread. Bounded: when
 * STATS_MAX_SAMPLES rows are held every other one goes and the interval
 * doubles, so a long run keeps its whole timeline at a coarser grain. */
#define STATS_MAX_SAMPLES 2048u
struct stats_series {
	uint64_t interval_ns;     /* 0: no series */
	/* Guest time (machine/guest_time.c) of the next sample: the host timer is armed
	 * for it as for a device's deadline, and it stands still while the
	 * guest is paused, so a paused guest is not sampled. */
	uint64_t next_guest_ns;
	uint64_t *rows;
	size_t nrows, cap_rows;
	unsigned ncols;           /* 1 + the number of counters */
	unsigned halvings;        /* times the interval doubled */
	bool out_of_memory;       /* sampling stopped there */
};

struct board;

/* Whether a --stats-json FILE can be written (FILE.tmp created and removed
 * in its directory): checked at start-up so a bad path costs no run. */
int board_stats_check_path(const char *path, char *err, size_t err_len);
/* vCPU thread, before the guest runs: the clock samples count from, and
 * SIGUSR1/SIGTERM taken over when --stats or --stats-json asks for them. */
void board_stats_start(struct board *board);
/* vCPU thread, from the board's poll (guest_now: guest time now): acts on
 * SIGUSR1/SIGTERM and takes a sample when one is due. Costs a compare when
 * neither. */
void board_stats_poll(struct board *board, uint64_t guest_now);
/* Guest time of the next sample, UINT64_MAX without a series. */
uint64_t board_stats_deadline(const struct board *board);
/* At exit (the guest ended or SIGTERM): a last sample, the text report
 * with --stats and the JSON file with --stats-json. Returns 0, or 1 when
 * the file could not be written (said on stderr). */
int board_stats_finish(struct board *board);
/* Whether SIGTERM ended the run: main then dies of it once cleaned up. */
bool board_stats_terminated(const struct board *board);
/* Gives SIGUSR1/SIGTERM back and frees the samples. */
void board_stats_stop(struct board *board);

#endif
