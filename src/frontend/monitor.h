/* The monitor: commands from the terminal (Ctrl-A c) and from the socket
 * (--monitor unix:PATH; human commands, or one JSON object per line in the
 * spirit of QEMU's QMP), queued by the threads that read them and run on
 * the vCPU's thread between two guest instructions, where the machine's
 * state is whole. The machine's run loop (machine/run_loop.c) runs it. */
#ifndef BTVM_MONITOR_H
#define BTVM_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct board;
struct monitor;

/* The terminal's client number; the socket's are 1 and up, never reused. */
#define MONITOR_TERMINAL 0u
/* Commands a client may have waiting; a line past them gets an error
 * answer at once and is not run. */
#define MONITOR_QUEUE_MAX 64u
/* Lines refused in a row after which a socket client is disconnected. */
#define MONITOR_REFUSED_MAX 1024u

/* Sets up the monitor; socket_path NULL: the terminal's only. Returns 0,
 * or a negative errno with a one-line reason in err (the socket path is
 * in use, say). */
int monitor_open(struct monitor **out, struct board *board, const char *socket_path, char *err,
		 size_t err_len);
void monitor_close(struct monitor *m);

/* Any thread: queues a command line of len bytes from a client and wakes
 * the vCPU, or refuses it (the client has MONITOR_QUEUE_MAX waiting) with
 * an error answer. false: the client is to be disconnected. */
bool monitor_submit(struct monitor *m, uint64_t client, const char *line, size_t len);
/* Any thread: whether commands wait that can run now. NULL is fine. */
bool monitor_pending(struct monitor *m);
/* vCPU thread, guest stopped at an instruction boundary: runs a few of the
 * queued commands, taking the clients in turn, and answers each client.
 * Returns whether more wait (monitor_pending). Bounded so that no client
 * holds up the guest by talking: the board lets the guest run between. */
bool monitor_run_pending(struct monitor *m);
/* vCPU thread: tells the socket's clients that something happened
 * ("STOP", "RESUME", "RESET", "POWERDOWN", "SHUTDOWN"). NULL is fine. */
void monitor_event(struct monitor *m, const char *name);

#endif
