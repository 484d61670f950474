/* The gdb stub (--gdb tcp:HOST:PORT): gdb's remote protocol for an i386
 * target, its packets queued by the socket's thread (host/gdb_socket.c)
 * and run on the vCPU's thread with the guest stopped at an instruction
 * boundary, like the monitor's commands. The machine's run loop
 * (machine/run_loop.c) runs it. While gdb holds the guest stopped, the board is paused (guest time
 * stands still). */
#ifndef BTVM_GDBSTUB_H
#define BTVM_GDBSTUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct board;
struct gdbstub;

/* Listens on host:port (host NULL: 127.0.0.1). Returns 0, or a negative
 * errno with a one-line reason in err (the port is in use, say). */
int gdbstub_open(struct gdbstub **out, struct board *board, const char *host, uint16_t port,
		 char *err, size_t err_len);
void gdbstub_close(struct gdbstub *g);
/* Any thread: whether packets (or a connection, a Ctrl-C) wait to be
 * handled. NULL is fine. */
bool gdbstub_pending(struct gdbstub *g);
/* vCPU thread, guest stopped: reports a breakpoint or a finished step
 * the run loop stopped for, then handles what is queued. NULL is fine. */
void gdbstub_run_pending(struct gdbstub *g);
/* vCPU thread: whether a gdb is connected (it can wake a halted guest,
 * and the monitor's cont leaves its stop alone). NULL is fine. */
bool gdbstub_attached(const struct gdbstub *g);
/* vCPU thread: the run is over with this exit status; a connected gdb
 * hears that the program exited. NULL is fine. */
void gdbstub_exited(struct gdbstub *g, int status);

#endif
