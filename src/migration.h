/* Live migration over TCP (migration.c): the source's pre-copy of RAM in
 * rounds while the guest runs (the pages written meanwhile found through
 * the shadow's write log), then a short stop to send the last pages and the
 * machine's state as a snapshot without memory; the destination's side,
 * which builds the machine from the stream and resumes it. Part of the
 * board: the monitor starts it, board.c drives it. */
#ifndef BTVM_MIGRATION_H
#define BTVM_MIGRATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct board;
struct migration;

/* What `info migrate` and query-migrate show. */
struct migration_status {
	const char *state;        /* "none", "active", "completed", "failed" */
	unsigned rounds;
	uint64_t pages_sent, bytes_sent;
	uint64_t total_ms, downtime_ms;
	char error[256];
};

/* vCPU thread: connects to tcp:HOST:PORT and starts the pre-copy, the
 * guest running on. Returns 0, or a negative errno with a one-line reason
 * in err (bad address, refused, a migration already under way, disks
 * attached). */
int migration_start(struct board *board, const char *uri, char *err, size_t err_len);
/* vCPU thread, at every poll: true when the pre-copy is done and the
 * guest must stop for the last round (board.c then calls
 * migration_finish with the guest stopped). */
bool migration_poll(struct board *board);
/* vCPU thread, guest stopped: the last pages and the state. On success
 * btvm's run ends (status 0); on failure the guest goes on here. */
void migration_finish(struct board *board);
void migration_get_status(const struct board *board, struct migration_status *st);
/* At exit: stops a pre-copy under way. */
void migration_destroy(struct board *board);

/* Destination. migration_listen waits for a source on tcp:[ADDR]:PORT
 * (ADDR default 127.0.0.1) and reads the machine's configuration into
 * config_path (a snapshot file for board_snapshot_read_config); returns
 * the connection, or a negative errno with a one-line reason. */
int migration_listen(const char *uri, const char *config_path, char *err, size_t err_len);
/* Reads the memory and the state into a board built from that
 * configuration, and acknowledges. state_path: a scratch file. */
int migration_receive(struct board *board, int fd, const char *state_path, char *err,
		      size_t err_len);

#endif
