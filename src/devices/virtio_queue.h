/* Split virtqueues (virtio 1.x, section 2.7), the device side: the three
 * rings in guest RAM, descriptor chains with NEXT, WRITE and INDIRECT,
 * VIRTIO_F_EVENT_IDX, and a walk that hands the device a chain as a list of
 * (host pointer, length, writable) segments.
 *
 * The guest is not trusted. Every address and length it gives goes through
 * guest_ram_ptr before it is used; the rings are checked once when the queue
 * is enabled (they cannot move while it is), each buffer when its chain is
 * walked. A chain is bounded by the table it lives in (the queue size, or an
 * indirect table's entries): one more descriptor than that is a loop. What
 * the spec calls a device error (a loop, an index past the table, a buffer
 * outside RAM, a malformed or nested indirect table, a readable descriptor
 * after a writable one, the avail index moving by more than the queue size)
 * breaks the queue: virtq_pop fails from then on, vq->error says why, and
 * the transport sets DEVICE_NEEDS_RESET. Nothing the guest writes can make
 * the device read or write outside guest RAM.
 *
 * Threads: the rings are touched only by the thread that runs the
 * transport (the vCPU thread); a device may hand segments to another
 * thread, which then owns those bytes of guest RAM until the chain is
 * pushed back. The ring indexes are read with acquire and published with
 * release ordering, so the guest sees the buffers' contents before the used
 * index that returns them. */
#ifndef BTVM_DEVICES_VIRTIO_QUEUE_H
#define BTVM_DEVICES_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "mmu/guest_ram.h"

/* Largest queue btvm accepts (the spec allows 32768). */
#define VIRTQ_MAX_SIZE 1024u

#define VIRTQ_DESC_F_NEXT	1u
#define VIRTQ_DESC_F_WRITE	2u
#define VIRTQ_DESC_F_INDIRECT	4u
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1u
#define VIRTQ_DESC_SIZE		16u

enum virtq_error {
	VIRTQ_ERR_NONE,
	VIRTQ_ERR_RING,		/* enabled with a ring outside RAM or misaligned */
	VIRTQ_ERR_AVAIL_IDX,	/* avail idx moved by more than the queue size */
	VIRTQ_ERR_HEAD,		/* an avail entry names no descriptor */
	VIRTQ_ERR_NEXT,		/* a next index past the end of its table */
	VIRTQ_ERR_LOOP,		/* more descriptors than the table holds */
	VIRTQ_ERR_BUFFER,	/* a buffer not all in RAM */
	VIRTQ_ERR_INDIRECT,	/* not negotiated, nested, with NEXT, bad size, outside RAM */
	VIRTQ_ERR_ORDER,	/* a readable descriptor after a writable one */
};

/* One piece of a chain, in chain order: readable ones first. */
struct virtq_seg {
	uint8_t *ptr;
	uint32_t len;
	bool writable;
};

struct virtq_chain {
	uint16_t head;		/* what goes back in the used ring */
	unsigned nseg;		/* segments stored (zero-length descriptors are skipped) */
	/* The chain had more segments than the caller's array: the middle
	 * ones were dropped and the last slot holds the chain's last segment,
	 * so that a device can still find a trailing status byte. */
	bool truncated;
	uint64_t readable, writable;	/* bytes over the whole chain */
};

struct virtq {
	/* What the driver programs through the transport while disabled. */
	uint16_t size, max_size;
	bool enabled;
	uint64_t desc_addr, avail_addr, used_addr;
	/* Set by virtq_start from the negotiated features. */
	bool event_idx, indirect;
	uint8_t *desc, *avail, *used;	/* host pointers to the rings */
	const struct guest_ram *ram;	/* where they are, for its write log */
	uint16_t last_avail;	/* next avail entry to take */
	uint16_t used_idx;	/* next used entry to fill */
	uint16_t published;	/* used idx the guest has seen */
	uint16_t signalled;	/* used idx at the last interrupt decision */
	bool signalled_valid;
	enum virtq_error error;	/* first error; the queue is broken until reset */
};

/* A queue of at most max_size entries (a power of two, VIRTQ_MAX_SIZE at
 * most), reset. */
void virtq_init(struct virtq *vq, uint16_t max_size);
/* Back to the state after a device reset: size max_size, disabled, the
 * addresses 0, no error. */
void virtq_reset(struct virtq *vq);
/* Whether the driver may set this queue size: a power of two from 1 to
 * max_size. */
bool virtq_size_valid(const struct virtq *vq, uint32_t size);
/* The driver enabled the queue: checks the rings (all in RAM, descriptor
 * table 16-byte aligned, avail ring 2, used ring 4) and caches where they
 * are. Returns 0, or -EFAULT with the queue broken (VIRTQ_ERR_RING). */
int virtq_start(struct virtq *vq, const struct guest_ram *ram, bool event_idx, bool indirect);
/* Takes the next available chain into chain and seg (cap >= 1 entries).
 * Returns 1, 0 when the driver has made nothing more available, or -EIO
 * when the queue is broken (now or before; vq->error says why). With
 * VIRTIO_F_EVENT_IDX the avail_event field follows what was taken, so the
 * driver notifies again once it adds past it. */
int virtq_pop(struct virtq *vq, const struct guest_ram *ram, struct virtq_chain *chain,
	      struct virtq_seg *seg, unsigned cap);
/* Returns a chain with len bytes written into it; the guest sees it at the
 * next virtq_flush. */
void virtq_push(struct virtq *vq, uint16_t head, uint32_t len);
/* Publishes what was pushed. Returns whether the driver wants an interrupt
 * for it (VIRTQ_AVAIL_F_NO_INTERRUPT, or used_event with
 * VIRTIO_F_EVENT_IDX); false when nothing new was pushed. */
bool virtq_flush(struct virtq *vq);
/* Bytes of the used ring in guest RAM, for reporting device writes. */
uint64_t virtq_used_ring_bytes(const struct virtq *vq);
const char *virtq_error_name(enum virtq_error error);

struct snap_writer;
struct snap_reader;
/* Snapshots (host/snapfile.h), inside the device's section: what the
 * driver programmed and the device's indices; load finds the rings in
 * RAM again (virtq_start) for an enabled queue. */
void virtq_save(const struct virtq *vq, struct snap_writer *w);
void virtq_load(struct virtq *vq, const struct guest_ram *ram, struct snap_reader *r);

#endif
