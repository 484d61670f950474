/* The gdb stub (--gdb tcp:HOST:PORT): gdb's remote protocol for an i386
 * target, its packets queued by the socket's thread (host/gdb_socket.c)
 * and run on the vCPU's thread with the guest stopped at an instruction
 * boundary, like the monitor's commands: a front end of the machine
 * (machine/control.h). While gdb holds the guest stopped, the board is
 * paused (guest time stands still). */
#ifndef BTVM_GDBSTUB_H
#define BTVM_GDBSTUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct board;
struct gdbstub;

/* Listens on host:port (host NULL: 127.0.0.1) and registers with the
 * board (machine/control.h). Returns 0, or a negative errno with a
 * one-line reason in err (the port is in use, say). */
int gdbstub_open(struct gdbstub **out, struct board *board, const char *host, uint16_t port,
		 char *err, size_t err_len);
/* Unregisters and closes (NULL is fine). */
void gdbstub_close(struct gdbstub *g);
/* vCPU thread: whether a gdb is connected (the monitor's cont leaves its
 * stop alone). NULL is fine. */
bool gdbstub_attached(const struct gdbstub *g);

#endif
