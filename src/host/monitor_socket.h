/* The monitor's Unix socket (--monitor unix:PATH): a listening socket, a
 * thread that accepts clients and splits what they send into lines, and
 * replies and events written back to them without ever blocking the
 * sender. It knows nothing of what the lines mean. */
#ifndef BTVM_HOST_MONITOR_SOCKET_H
#define BTVM_HOST_MONITOR_SOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MONITOR_SOCKET_MAX_CLIENTS 8u
/* Replies a client's socket has not taken yet, at most; past it the client
 * is disconnected. Above the longest reply (x /65536xb, some 370 KB) and
 * the refusals a client can earn, since the monitor runs no command for a
 * client with a backlog. */
#define MONITOR_SOCKET_BACKLOG_MAX (1u << 20)

struct monitor_socket;

/* Clients are numbered from 1 in the order they connect; a number is never
 * given again, so what is sent to a client that has gone goes nowhere. */
struct monitor_socket_ops {
	/* Sent to each client as it connects (may be NULL). */
	const char *greeting;
	/* A line a client sent, without its end: len bytes, which may hold
	 * NUL bytes, and a NUL after them. Called on the socket's thread,
	 * which waits for nothing else meanwhile. false: disconnect the
	 * client. */
	bool (*line)(void *opaque, uint64_t client, const char *line, size_t len);
	/* The client has gone (socket thread); nothing is called for it again. */
	void (*gone)(void *opaque, uint64_t client);
	/* The client's socket took all of its backlog (socket thread). */
	void (*drained)(void *opaque, uint64_t client);
	void *opaque;
};

/* Listens on PATH. A stale socket file there (nothing answers) is
 * replaced; a live one or any other file is an error. Returns 0, or a
 * negative errno with a one-line reason in err. */
int monitor_socket_open(struct monitor_socket **out, const char *path,
			const struct monitor_socket_ops *ops, char *err, size_t err_len);
/* Any thread, never blocks: len bytes of text to one client, after what it
 * was sent before. What its socket does not take waits in its backlog,
 * written as the client reads. A client gone: nothing. */
void monitor_socket_send(struct monitor_socket *s, uint64_t client, const char *text,
			 size_t len);
/* The same to every client. */
void monitor_socket_broadcast(struct monitor_socket *s, const char *text, size_t len);
/* Any thread: whether the client has a backlog (false once it has gone). */
bool monitor_socket_backlogged(struct monitor_socket *s, uint64_t client);
/* Stops the thread, disconnects everyone and removes the socket file.
 * NULL is fine. */
void monitor_socket_close(struct monitor_socket *s);

#endif
