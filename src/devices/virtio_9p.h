/* virtio-9p (virtio 1.x section 5.11, "9P transport") on the modern PCI
 * transport: device type 9, PCI device 0x1049, one request queue of
 * VIRTIO_9P_QUEUE_SIZE entries, feature MOUNT_TAG with the configuration
 * le16 tag_len, then the tag's bytes (what `mount -t 9p TAG` names).
 *
 * The device carries 9P messages and nothing else: the file system is a
 * real 9P2000.L server's (host/share_server.h spawns diod, confined to the
 * shared folder) at the other end of a stream socket the device is given.
 * Each chain the driver posts is one request: its readable part holds the
 * message (size[4] first, the whole message's length; the rest of the
 * readable bytes are ignored), its writable part takes the reply. The
 * request is copied out of guest RAM and written to the socket; replies
 * come back in any order and are matched to chains by their 9P tag (the
 * oldest request with that tag), copied into the chain's writable
 * segments in order, and the chain goes to the used ring with the reply's
 * length.
 *
 * The transport's own checks, so that nothing the guest or the server
 * sends can hurt the monitor:
 *   - a request whose size field is below 7 or above the readable bytes,
 *     or above VIRTIO_9P_MSIZE_MAX, or a chain with fewer than 7 writable
 *     bytes or one cut short (more than VIRTIO_9P_CHAIN_SEGS segments), is
 *     not sent: it is answered Rlerror(EINVAL) when the chain has room for
 *     it (11 bytes), else returned with used length 0, and counted;
 *   - Tversion's msize is lowered to VIRTIO_9P_MSIZE_MAX on its way to the
 *     server, so that the server never sends more (the reply's msize is
 *     the server's answer to the capped request);
 *   - Tattach's aname is taken relative to the export: the device puts
 *     the export's path (given at attach, "/share" for diod) in front of
 *     an aname starting with '/' and replaces any other (the empty one
 *     Linux sends by default, diod's "ctl") by the export's path alone.
 *     diod refuses an empty aname, and its "ctl" tree is not the
 *     folder's. Its n_uname becomes the server's one user (given at
 *     attach: the server runs as that user and serves no other, so the
 *     guest's users are all squashed to it, and it needs no user
 *     database);
 *   - a reply larger than its chain's writable bytes is replaced by
 *     Rlerror(EIO); a reply whose size field is below 7 or over
 *     VIRTIO_9P_MSIZE_MAX means the stream is lost: the server counts as
 *     dead;
 *   - a dead server (the socket closed or failed, whatever the reason):
 *     every request outstanding and every later one is answered
 *     Rlerror(EIO) at once; the guest can still unmount. Nothing is
 *     restarted;
 *   - Rflush(oldtag): the flushed request's chain, if no reply came for
 *     it, is returned with used length 0 (9P: no reply follows an
 *     Rflush);
 *   - Rversion: 9P's version message aborts everything outstanding: the
 *     chains of requests sent before it are returned with length 0;
 *   - a reply whose tag matches no outstanding request is dropped and
 *     counted.
 * A broken queue (virtio_queue.h) sets DEVICE_NEEDS_RESET. A device reset
 * returns nothing (the chains belong to the old driver) but remembers the
 * requests the server still owes replies for, so that a reply arriving
 * after the reset is dropped rather than given to the new driver's
 * request with the same tag; they are forgotten at the next Rversion.
 *
 * Sessions. The device follows which fids the server holds for the guest
 * (Rattach, Rwalk's newfid on a full walk, Rxattrwalk, Rauth add one;
 * Tclunk and Tremove drop theirs whatever the reply; Rversion drops all),
 * so that the board can tell whether a share is in use (virtio_9p_in_use):
 * its state then lives in the server. The board refuses to save a machine
 * with a share at all (a restored guest's driver would need the same
 * device, and the server's state cannot be kept); the refusal says
 * whether the share is mounted.
 *
 * Threads. The transport, the rings and the interrupt line belong to the
 * vCPU thread, which calls every function below. The vCPU thread writes
 * a request to the socket itself when nothing is queued before it, as far
 * as the socket takes it without blocking; the rest, and the requests
 * behind it, are queued for the device's own I/O thread, which writes
 * them and reads replies (nothing waits for the server on the vCPU
 * thread, whatever the server does), queues the replies and calls
 * host->notify; the board then calls virtio_9p_poll on the vCPU thread,
 * which delivers them. */
#ifndef BTVM_DEVICES_VIRTIO_9P_H
#define BTVM_DEVICES_VIRTIO_9P_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/virtio_pci.h"
#include "devices/virtio_queue.h"
#include "mmu/guest_ram.h"

#define VIRTIO_ID_9P		9
#define VIRTIO_9P_PCI_CLASS	0x018000	/* mass storage, other */
#define VIRTIO_9P_F_MOUNT_TAG	0

#define VIRTIO_9P_QUEUE_SIZE	128u
#define VIRTIO_9P_TAG_MAX	64u	/* bytes of a mount tag */
#define VIRTIO_9P_CONFIG_MAX	(2u + VIRTIO_9P_TAG_MAX)
/* The largest message either way: Linux's virtio transport cannot use
 * more than 128 pages a request anyway. */
#define VIRTIO_9P_MSIZE_MAX	(512u * 1024u)
/* Segments kept from one chain: Linux's zero-copy reads and writes send a
 * header and up to 128 pages. */
#define VIRTIO_9P_CHAIN_SEGS	264u
/* Fids followed per device; more than this and the device counts as in
 * use until the next Rversion. */
#define VIRTIO_9P_MAX_FIDS	4096u

/* 9P2000.L message types the transport looks at. */
#define P9_RLERROR	7
#define P9_TVERSION	100
#define P9_RVERSION	101
#define P9_TAUTH	102
#define P9_RAUTH	103
#define P9_TATTACH	104
#define P9_RATTACH	105
#define P9_TFLUSH	108
#define P9_RFLUSH	109
#define P9_TWALK	110
#define P9_RWALK	111
#define P9_TCLUNK	120
#define P9_TREMOVE	122
#define P9_TXATTRWALK	30
#define P9_RXATTRWALK	31
#define P9_HEADER_SIZE	7u	/* size[4] type[1] tag[2] */
#define P9_RLERROR_SIZE	11u	/* and ecode[4] */

struct virtio_9p_stats {
	uint64_t requests;		/* sent to the server */
	uint64_t replies;		/* delivered to the guest */
	uint64_t bad_requests;		/* answered by the transport: malformed */
	uint64_t oversized_replies;	/* replaced by Rlerror(EIO) */
	uint64_t unmatched_replies;	/* no request with their tag */
	uint64_t dead_replies;		/* answered Rlerror(EIO): the server is gone */
	uint64_t aborted;		/* returned empty: flushed, or a Tversion */
	uint64_t device_errors;		/* DEVICE_NEEDS_RESET set */
};

struct virtio_9p_host {
	/* On the I/O thread: replies are waiting (or the server died); call
	 * virtio_9p_poll soon on the vCPU thread. Must not block. */
	void (*notify)(void *opaque);
	/* On the vCPU thread, before the guest can see them: the device wrote
	 * [gpa, gpa + len) of guest RAM. May be NULL. */
	void (*guest_written)(void *opaque, uint64_t gpa, uint64_t len);
	void *opaque;
};

struct virtio_9p_msg;
struct virtio_9p_req;

struct virtio_9p {
	struct virtio_pci vp;	/* vp.pci goes to pci_host_add */
	struct virtq vq[1];
	uint8_t config[VIRTIO_9P_CONFIG_MAX];
	unsigned config_len;
	const struct guest_ram *ram;
	struct virtio_9p_host host;
	char export_root[64];	/* Tattach's aname prefix */
	uint32_t attach_uid;	/* Tattach's n_uname */
	bool attached;

	/* vCPU thread only. */
	struct virtio_9p_stats stats;
	struct virtq_seg segs[VIRTIO_9P_CHAIN_SEGS];
	struct virtio_9p_req *reqs;	/* outstanding, oldest first */
	unsigned nreqs;
	uint64_t seq;			/* requests sent so far */
	uint32_t *fids;			/* the fids the server holds, unsorted */
	unsigned nfids;
	bool fids_overflow;

	/* The I/O thread and what it shares, under lock. */
	int fd;			/* the server's socket, owned by the device */
	int wake_fd;		/* eventfd: the I/O thread has work or must stop */
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	struct virtio_9p_msg *out, *out_tail;	/* requests to write */
	struct virtio_9p_msg *in, *in_tail;	/* replies read */
	bool stop;
	atomic_bool ready;	/* replies waiting, or the server just died */
	atomic_bool dead;	/* the socket is closed or failed */
};

/* Makes d a PCI function at devfn with mount tag `tag` (1 to
 * VIRTIO_9P_TAG_MAX bytes; not yet plugged: the caller passes &d->vp.pci
 * to pci_host_add) whose BAR goes on bus, talking 9P to the server at the
 * other end of fd (Tattach's aname under export_root, its n_uname
 * attach_uid), a connected stream socket the device takes over
 * (closed by virtio_9p_close, or here on failure). Starts the I/O thread.
 * Returns 0 or a negative errno. */
int virtio_9p_attach(struct virtio_9p *d, uint8_t devfn, const char *tag, const char *export_root,
		     uint32_t attach_uid, int fd, const struct guest_ram *ram, struct bus *bus,
		     const struct virtio_9p_host *host);
/* vCPU thread: delivers the replies that came (and the errors of a dead
 * server), raising INTx if the driver wants it. One atomic load when there
 * is nothing. */
void virtio_9p_poll(struct virtio_9p *d);
/* Whether a reply may still come: requests are outstanding. */
bool virtio_9p_busy(const struct virtio_9p *d);
/* Whether the share's state lives in the server: requests outstanding or
 * fids held (the guest has it mounted). A snapshot cannot hold that. */
bool virtio_9p_in_use(const struct virtio_9p *d);
/* Whether the server's socket is closed or failed. */
bool virtio_9p_server_dead(const struct virtio_9p *d);
/* Machine reset: a device reset. */
void virtio_9p_reset(struct virtio_9p *d);
/* Stops the I/O thread, closes the socket, frees what is queued and takes
 * the BAR off the bus. Safe unattached, and twice. */
void virtio_9p_close(struct virtio_9p *d);

#endif
