/* Live migration over TCP or a Unix socket (migration.c): the source's pre-copy of RAM in
 * rounds while the guest runs (the pages written meanwhile found through
 * the shadow's write log), then a short stop to send the last pages and the
 * machine's state as a snapshot without memory; the destination's side,
 * which builds the machine from the stream and resumes it. The monitor
 * starts it and owns it; as a front end of the machine
 * (machine/control.h) the run loop's polls and control point drive it. */
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

/* vCPU thread, guest stopped: connects to a destination (migration_uri)
 * and starts the pre-copy, the guest running on; *m is the migration,
 * made (and registered with the board) by the first start and used again
 * by the next. When the pre-copy is done the guest stops for the last
 * round; on success btvm's run ends (status 0), on failure the guest goes
 * on here. Disks stay on storage both ends see (the destination opens
 * the same paths; the write locks change hands at the switch-over), or
 * with blk are copied along (block migration: the read-write images into
 * the destination's own, of the same sizes, writes made meanwhile sent
 * again). Returns 0, or a negative errno with a one-line reason in err
 * (bad address, refused, a migration already under way, a --snapshot
 * machine with disks, blk without a read-write disk). */
int migration_start(struct migration **m, struct board *board, const char *uri, bool blk,
		    char *err, size_t err_len);
/* NULL: "none". */
void migration_get_status(const struct migration *m, struct migration_status *st);
/* At exit: stops a pre-copy under way, unregisters and frees (NULL is
 * fine). */
void migration_destroy(struct migration *m);

/* A migration endpoint: tcp:[HOST]:PORT,key=FILE or unix:PATH[,key=FILE]. */
struct migration_uri {
	bool is_unix;
	char host[256];
	uint16_t port;
	char path[108];           /* sun_path's size */
	char key_path[4096];      /* empty: no key */
};
/* 0; -ENOKEY for a TCP endpoint without a key; -EINVAL for anything
 * else that is not an endpoint. */
int migration_uri_parse(const char *text, struct migration_uri *u);

/* Destination. migration_listen listens on uri (tcp: on ADDR, default
 * 127.0.0.1; unix: a new socket file only this user may open) and waits
 * for the first source whose greeting and configuration come with the
 * key; anyone else is refused with a line on stderr and the wait goes on.
 * 0 with *out, or a negative errno with a one-line reason in err. */
struct migration_incoming;
int migration_listen(const char *uri, struct migration_incoming **out, char *err, size_t err_len);
/* The configuration received: a memfd for board_snapshot_read_config_fd. */
int migration_incoming_config(const struct migration_incoming *in);
/* Whether the source copies its read-write disks along (migrate -b): this
 * end then opens and locks images of its own, of the same sizes. */
bool migration_incoming_block(const struct migration_incoming *in);
/* Reads the memory and the state (and a block migration's disks) into a
 * board built from that configuration: 0, or a negative errno with a
 * one-line reason in err. migration_answer then tells the source whether
 * this end takes the machine ('K') or not ('E', having let the source's
 * images go) and frees in. */
int migration_receive(struct board *board, struct migration_incoming *in, char *err,
		      size_t err_len);
void migration_answer(struct board *board, struct migration_incoming *in, bool taken);
/* Frees in without receiving (NULL is fine). */
void migration_incoming_free(struct migration_incoming *in);

#endif
