/* User-mode networking for the guest's network card through libslirp: the
 * network QEMU's "-netdev user" gives, 10.0.2.0/24 with the host (and the
 * gateway) at 10.0.2.2, DHCP handing out 10.0.2.15 on, and a DNS proxy at
 * 10.0.2.3 forwarding to the host's resolver. Guest connections out become
 * the host's own sockets; hostfwd rules open host ports that connect into
 * the guest.
 *
 * Threads. libslirp is not thread-safe, so one thread of the backend's own
 * owns the Slirp instance: it runs poll(2) over slirp's sockets and a wake
 * eventfd, slirp's timers, and slirp_input for the guest's frames. Before
 * that thread starts (slirp_net_open) and after it stopped
 * (slirp_net_close) the caller's thread makes the calls instead, never
 * both at once. The guest's frames come in through slirp_net_transmit
 * from the vCPU thread: copied into a bounded queue (SLIRP_NET_TX_QUEUE
 * frames; beyond that dropped and counted) and the thread woken. Frames for
 * the guest go out through the receive callback, on the backend's thread. */
#ifndef BTVM_HOST_SLIRP_NET_H
#define BTVM_HOST_SLIRP_NET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SLIRP_NET_MAX_FWD	16u
#define SLIRP_NET_TX_QUEUE	256u
#define SLIRP_NET_MAX_FRAME	65536u

struct slirp_net_fwd {
	bool udp;
	struct in_addr host_addr;	/* INADDR_ANY when the rule gave none */
	uint16_t host_port;
	struct in_addr guest_addr;	/* the first DHCP address when none given */
	uint16_t guest_port;
};

/* What --net asked for. */
struct slirp_net_config {
	bool enabled;		/* user; false for none */
	unsigned nfwd;
	struct slirp_net_fwd fwd[SLIRP_NET_MAX_FWD];
};

struct slirp_net_stats {
	uint64_t tx_frames, tx_dropped;	/* guest -> slirp; dropped: queue full */
	uint64_t rx_frames;		/* slirp -> guest */
	uint64_t guest_errors;		/* slirp's guest_error reports */
};

/* The frames slirp sends to the guest, on the backend's thread. */
typedef void (*slirp_net_receive_fn)(void *opaque, const uint8_t *frame, size_t len);

struct slirp_net;

/* Parses the argument of --net: "none", or "user" followed by any number
 * of ",hostfwd=PROTO:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT" with PROTO
 * tcp or udp, the addresses dotted IPv4 (either may be empty), the ports 1
 * to 65535. Fills cfg and returns 0, or returns -EINVAL with one line in
 * err. */
int slirp_net_parse(const char *arg, struct slirp_net_config *cfg, char *err, size_t errlen);
/* Makes the Slirp instance and its host forwards; the thread is not yet
 * running (slirp_net_start). Returns 0 with *out set, or a negative errno
 * with one line in err: -EADDRINUSE (or the like) when a host port cannot
 * be bound. receive may be called from slirp_net_start on. */
int slirp_net_open(struct slirp_net **out, const struct slirp_net_config *cfg,
		   slirp_net_receive_fn receive, void *opaque, char *err, size_t errlen);
/* Starts the backend's thread. Returns 0 or a negative errno. */
int slirp_net_start(struct slirp_net *s);
/* Any thread: a frame from the guest (copied). Never blocks; drops and
 * counts when the queue is full or the frame is over SLIRP_NET_MAX_FRAME. */
void slirp_net_transmit(struct slirp_net *s, const uint8_t *frame, size_t len);
struct slirp_net_stats slirp_net_get_stats(struct slirp_net *s);
/* Stops the thread, closes slirp's sockets and frees s. NULL is fine. */
void slirp_net_close(struct slirp_net *s);

#endif
