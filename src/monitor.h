/* The monitor: commands from the terminal (Ctrl-A c) and from the socket
 * (--monitor unix:PATH; human commands, or one JSON object per line in the
 * spirit of QEMU's QMP), queued by the threads that read them and run on
 * the vCPU's thread between two guest instructions, where the machine's
 * state is whole. Part of the board: board.c runs it. */
#ifndef BTVM_MONITOR_H
#define BTVM_MONITOR_H

#include <stdbool.h>
#include <stddef.h>

struct board;
struct monitor;

/* The terminal's client number; the socket's are 1 and up. */
#define MONITOR_TERMINAL 0u

/* Sets up the monitor; socket_path NULL: the terminal's only. Returns 0,
 * or a negative errno with a one-line reason in err (the socket path is
 * in use, say). */
int monitor_open(struct monitor **out, struct board *board, const char *socket_path, char *err,
		 size_t err_len);
void monitor_close(struct monitor *m);

/* Any thread: queues a command line from a client and wakes the vCPU. */
void monitor_submit(struct monitor *m, unsigned client, const char *line);
/* Any thread: whether commands wait to be run. NULL is fine. */
bool monitor_pending(struct monitor *m);
/* vCPU thread, guest stopped at an instruction boundary: runs what is
 * queued and answers each client. */
void monitor_run_pending(struct monitor *m);
/* vCPU thread: tells the socket's clients that something happened
 * ("STOP", "RESUME", "RESET", "POWERDOWN", "SHUTDOWN"). NULL is fine. */
void monitor_event(struct monitor *m, const char *name);

#endif
