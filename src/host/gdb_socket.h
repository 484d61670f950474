/* gdb's remote serial protocol on TCP (--gdb tcp:HOST:PORT): the listening
 * socket, one client at a time, and the protocol's framing: $payload#sum
 * with its checksum and '+'/'-' acknowledgments (until no-ack mode), the
 * '}' escapes, and the interrupt byte (0x03, Ctrl-C). It knows nothing of
 * what the packets mean. */
#ifndef BTVM_HOST_GDB_SOCKET_H
#define BTVM_HOST_GDB_SOCKET_H

#include <stddef.h>
#include <stdint.h>

/* The longest payload taken or sent (qSupported's PacketSize). */
#define GDB_PACKET_MAX 16384u

struct gdb_socket;

/* Called on the socket's thread, which waits for nothing else meanwhile. */
struct gdb_socket_ops {
	/* A client connected; the previous one, if any, has gone. */
	void (*connected)(void *opaque);
	/* A packet whose checksum matched, escapes undone (data[len] is 0;
	 * binary payloads may hold 0 bytes too). */
	void (*packet)(void *opaque, const char *data, size_t len);
	/* The interrupt byte outside a packet: gdb's Ctrl-C. */
	void (*interrupt)(void *opaque);
	/* The client closed the connection (or stopped reading its replies). */
	void (*disconnected)(void *opaque);
	void *opaque;
};

/* Listens on host:port (host NULL or "": 127.0.0.1). Returns 0, or a
 * negative errno with a one-line reason in err (the port is in use, the
 * host has no address). */
int gdb_socket_open(struct gdb_socket **out, const char *host, uint16_t port,
		    const struct gdb_socket_ops *ops, char *err, size_t err_len);
/* Any thread: one packet to the client, framed and escaped; dropped when
 * no client is connected. A client that does not read it within 5 s is
 * disconnected. */
void gdb_socket_send(struct gdb_socket *s, const char *payload, size_t len);
/* QStartNoAckMode: after this, packets are neither acknowledged nor
 * expected to be. Reset for each new client. */
void gdb_socket_no_ack(struct gdb_socket *s);
/* Stops the thread and closes everything. NULL is fine. */
void gdb_socket_close(struct gdb_socket *s);
/* The value of one hex digit of the protocol (either case), or -1. */
int gdb_hex_value(char c);

#endif
