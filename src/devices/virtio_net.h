/* virtio-net (virtio 1.x section 5.1) on the modern PCI transport: one
 * network card, receive queue 0 and transmit queue 1 (256 entries each), no
 * control queue, no multiqueue.
 *
 * Features offered: MAC (config mac, fixed by the board), STATUS (config
 * status reads LINK_UP, never changes), MTU (1500) and MRG_RXBUF; plus the
 * transport's VERSION_1, RING_INDIRECT_DESC and RING_EVENT_IDX. No checksum
 * or segmentation offload: the guest computes its checksums and sends
 * frames of at most 1514 bytes (plus a VLAN tag), which is all the slirp
 * backend wants anyway. Every buffer starts with the 12-byte
 * virtio_net_hdr (VERSION_1 always has num_buffers); on transmit it is
 * stripped unread, on receive the device writes zeros but num_buffers.
 *
 * Receive: without MRG_RXBUF a frame and its header must fit in one chain
 * (Linux posts 1526-byte chains then); with it a frame spreads over as
 * many chains as it needs (at most 64), num_buffers saying how many.
 *
 * Nothing the guest does is fatal. A transmit chain shorter than the
 * header plus an Ethernet header, longer than VIRTIO_NET_MAX_FRAME after
 * the header, or with a writable part is returned unsent and counted. A
 * receive chain with a readable part or too short for the header is
 * returned empty (used length 0, which Linux drops) and counted. A frame
 * that fits no posted buffers (without MRG_RXBUF) or needs more than 64 is
 * dropped and counted; its buffers stay with the device. A broken queue
 * (virtio_queue.h) sets DEVICE_NEEDS_RESET.
 *
 * Threads. The transport, the rings and the interrupt line belong to the
 * vCPU thread, which calls every function below but virtio_net_receive.
 * Transmit runs there too: a driver's notify of queue 1 hands each frame
 * to backend->transmit on the spot (the backend copies it). Receive is the
 * backend's, from any thread: virtio_net_receive copies the frame into a
 * bounded backlog (VIRTIO_NET_RX_BACKLOG frames; beyond that it drops and
 * counts) and calls host->notify; the board, woken, calls virtio_net_poll
 * on the vCPU thread, which moves what fits into the buffers the driver
 * posted. Frames wait there until the driver posts buffers (its notify of
 * queue 0 delivers them too), and are dropped while the driver is not
 * running (before DRIVER_OK, after a reset). */
#ifndef BTVM_DEVICES_VIRTIO_NET_H
#define BTVM_DEVICES_VIRTIO_NET_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/virtio_pci.h"
#include "devices/virtio_queue.h"
#include "mmu/guest_ram.h"

#define VIRTIO_ID_NET		1
#define VIRTIO_NET_PCI_CLASS	0x020000	/* network, Ethernet */

#define VIRTIO_NET_F_MTU	3
#define VIRTIO_NET_F_MAC	5
#define VIRTIO_NET_F_MRG_RXBUF	15
#define VIRTIO_NET_F_STATUS	16

#define VIRTIO_NET_S_LINK_UP	1u

#define VIRTIO_NET_RXQ		0u
#define VIRTIO_NET_TXQ		1u
#define VIRTIO_NET_QUEUE_SIZE	256u
#define VIRTIO_NET_HDR_SIZE	12u	/* with VERSION_1: num_buffers included */
#define VIRTIO_NET_HDR_NUM_BUFFERS 10u	/* its offset in the header */
#define VIRTIO_NET_MTU		1500u
#define VIRTIO_NET_ETH_HLEN	14u
/* The largest frame either way: the MTU, the Ethernet header, a VLAN tag. */
#define VIRTIO_NET_MAX_FRAME	(VIRTIO_NET_MTU + VIRTIO_NET_ETH_HLEN + 4u)
#define VIRTIO_NET_RX_BACKLOG	256u	/* frames waiting for receive buffers */
#define VIRTIO_NET_MAX_MERGE	64u	/* receive chains one frame may take */
#define VIRTIO_NET_CHAIN_SEGS	64u	/* segments kept from one chain */

/* Device configuration (struct virtio_net_config) up to mtu. */
enum {
	VIRTIO_NET_CFG_MAC = 0,
	VIRTIO_NET_CFG_STATUS = 6,
	VIRTIO_NET_CFG_MAX_VQ_PAIRS = 8,
	VIRTIO_NET_CFG_MTU = 10,
	VIRTIO_NET_CONFIG_SIZE = 12,
};

struct virtio_net_stats {
	uint64_t tx_packets, tx_bytes;	/* handed to the backend */
	uint64_t tx_dropped;		/* malformed or oversized transmit chains */
	uint64_t rx_packets, rx_bytes;	/* delivered to the guest */
	uint64_t rx_backlog_full;	/* dropped: the backlog was full */
	uint64_t rx_oversized;		/* dropped: over VIRTIO_NET_MAX_FRAME, or no buffers fit */
	uint64_t rx_not_running;	/* dropped: the driver was not running */
	uint64_t rx_bad_buffers;	/* receive chains returned empty */
	uint64_t device_errors;		/* DEVICE_NEEDS_RESET set */
};

/* What the board gives the device. */
struct virtio_net_host {
	/* On the backend's thread: frames are waiting; call virtio_net_poll
	 * soon on the vCPU thread. Must not block or touch the device. */
	void (*notify)(void *opaque);
	/* On the vCPU thread, before the guest can see them: the device
	 * wrote [gpa, gpa + len) of guest RAM (frames, the used ring), for
	 * dropping translated code there. May be NULL. */
	void (*guest_written)(void *opaque, uint64_t gpa, uint64_t len);
	void *opaque;
};

/* Where transmitted frames go. */
struct virtio_net_backend {
	/* On the vCPU thread: a frame from the guest, without the virtio
	 * header (14 to VIRTIO_NET_MAX_FRAME bytes). The backend copies it
	 * before returning; it must not block. May be NULL (frames vanish). */
	void (*transmit)(void *opaque, const uint8_t *frame, size_t len);
	void *opaque;
};

struct virtio_net_frame;

struct virtio_net {
	struct virtio_pci vp;	/* vp.pci goes to pci_host_add */
	struct virtq vq[2];
	uint8_t config[VIRTIO_NET_CONFIG_SIZE];
	const struct guest_ram *ram;
	struct virtio_net_host host;
	struct virtio_net_backend backend;
	bool attached;

	/* vCPU thread only. */
	struct virtio_net_stats cpu_stats;
	struct virtq_seg segs[VIRTIO_NET_CHAIN_SEGS];	/* the chain at hand */
	struct virtq_seg first[VIRTIO_NET_CHAIN_SEGS];	/* a merged frame's first chain */
	uint8_t txbuf[VIRTIO_NET_HDR_SIZE + VIRTIO_NET_MAX_FRAME];

	/* Shared with the backend's thread, under lock. */
	pthread_mutex_t lock;
	struct virtio_net_frame *backlog, *backlog_tail;
	unsigned backlog_len;
	uint64_t rx_backlog_full, rx_oversized;	/* counted by virtio_net_receive */
	atomic_bool rx_ready;	/* backlog not empty: poll's lock-free check */
};

/* Makes n a PCI function at devfn with the given MAC (not yet plugged:
 * the caller passes &n->vp.pci to pci_host_add) whose BAR goes on bus.
 * ram must outlive virtio_net_close. Returns 0 or a negative errno; after
 * a failure virtio_net_close is harmless. */
int virtio_net_attach(struct virtio_net *n, uint8_t devfn, const uint8_t mac[6],
		      const struct guest_ram *ram, struct bus *bus,
		      const struct virtio_net_host *host, const struct virtio_net_backend *backend);
/* Any thread, once attached and until closed: a frame for the guest
 * (copied). Returns 0, -EMSGSIZE for a frame shorter than an Ethernet
 * header or over VIRTIO_NET_MAX_FRAME, -ENOBUFS when the backlog is full,
 * -ENOMEM; all but 0 drop the frame and count it. */
int virtio_net_receive(struct virtio_net *n, const void *frame, size_t len);
/* vCPU thread: delivers the backlog into the posted buffers and raises
 * INTx if the driver wants it. Cheap when there is nothing (one atomic
 * load). */
void virtio_net_poll(struct virtio_net *n);
/* Whether a frame may still reach the guest: the driver is running (a
 * halted vCPU may get a network interrupt at any time). */
bool virtio_net_busy(const struct virtio_net *n);
/* Machine reset: a device reset (the backlog is dropped). */
void virtio_net_reset(struct virtio_net *n);
struct virtio_net_stats virtio_net_get_stats(struct virtio_net *n);
/* Takes the BAR off the bus and frees the backlog. The backend must have
 * stopped calling virtio_net_receive. Safe unattached, and twice. */
void virtio_net_close(struct virtio_net *n);

struct snap_writer;
struct snap_reader;
/* Snapshots (host/snapfile.h): section "VNET", the transport and both
 * queues. Frames the backend queued for the guest are not kept: to the
 * guest they are frames lost on the wire (user-mode NAT connections do
 * not survive a restore anyway). */
void virtio_net_save(const struct virtio_net *n, struct snap_writer *w);
int virtio_net_load(struct virtio_net *n, struct snap_reader *r);

#endif
