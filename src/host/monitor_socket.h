/* The monitor's Unix socket (--monitor unix:PATH): a listening socket, a
 * thread that accepts clients and splits what they send into lines, and
 * replies and events written back to them. It knows nothing of what the
 * lines mean. */
#ifndef BTVM_HOST_MONITOR_SOCKET_H
#define BTVM_HOST_MONITOR_SOCKET_H

#include <stddef.h>

#define MONITOR_SOCKET_MAX_CLIENTS 8u

struct monitor_socket;

struct monitor_socket_ops {
	/* Sent to each client as it connects (may be NULL). */
	const char *greeting;
	/* A line a client sent, without its end. Called on the socket's
	 * thread, which waits for nothing else meanwhile. */
	void (*line)(void *opaque, unsigned client, const char *line);
	void *opaque;
};

/* Listens on PATH. A stale socket file there (nothing answers) is
 * replaced; a live one or any other file is an error. Returns 0, or a
 * negative errno with a one-line reason in err. */
int monitor_socket_open(struct monitor_socket **out, const char *path,
			const struct monitor_socket_ops *ops, char *err, size_t err_len);
/* Any thread: text to one client (0: to every client). A client that does
 * not read its replies for a second is disconnected. */
void monitor_socket_send(struct monitor_socket *s, unsigned client, const char *text);
/* Stops the thread, disconnects everyone and removes the socket file.
 * NULL is fine. */
void monitor_socket_close(struct monitor_socket *s);

#endif
