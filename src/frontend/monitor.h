/* The monitor: commands from the terminal (Ctrl-A c) and from the socket
 * (--monitor unix:PATH; human commands, or one JSON object per line in the
 * spirit of QEMU's QMP), queued by the threads that read them and run on
 * the vCPU's thread between two guest instructions, where the machine's
 * state is whole: a front end of the machine (machine/control.h). */
#ifndef BTVM_MONITOR_H
#define BTVM_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct board;
struct board_screen;
struct board_stats;
struct gdbstub;
struct monitor;

/* The terminal's client number; the socket's are 1 and up, never reused. */
#define MONITOR_TERMINAL 0u
/* Commands a client may have waiting; a line past them gets an error
 * answer at once and is not run. */
#define MONITOR_QUEUE_MAX 64u
/* Lines refused in a row after which a socket client is disconnected. */
#define MONITOR_REFUSED_MAX 1024u

/* Sets up the monitor and registers it with the board
 * (machine/control.h); socket_path NULL: the terminal's only. screendump
 * writes through screen, the info commands print through stats (either
 * NULL: those commands fail). Returns 0, or a negative errno with a
 * one-line reason in err (the socket path is in use, say). */
int monitor_open(struct monitor **out, struct board *board, const char *socket_path,
		 struct board_screen *screen, const struct board_stats *stats, char *err,
		 size_t err_len);
/* The gdb stub whose stop cont leaves to gdb (NULL: none). */
void monitor_set_gdb(struct monitor *m, const struct gdbstub *gdb);
/* Stops a migration it started, unregisters and closes (NULL is fine). */
void monitor_close(struct monitor *m);

#endif
