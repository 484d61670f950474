/* virtio-blk (virtio 1.x section 5.2) on the modern PCI transport: one
 * device per raw image file, one request queue of up to 256 entries.
 *
 * Features offered: SIZE_MAX (1 MiB a segment), SEG_MAX (126 data
 * segments a request), BLK_SIZE (512), FLUSH, DISCARD and WRITE_ZEROES
 * (with write_zeroes_may_unmap) on a writable image, RO on a read-only
 * one; plus the transport's VERSION_1, RING_INDIRECT_DESC and
 * RING_EVENT_IDX. Requests: IN, OUT, FLUSH (fdatasync before completing),
 * GET_ID (the serial, 20 bytes at most), DISCARD (punches holes, a hint:
 * done or not, it succeeds) and WRITE_ZEROES (punches holes with the unmap
 * flag, else zeroes the range in place; either way the image stays
 * sparse). Any other type, or DISCARD / WRITE_ZEROES not negotiated, is
 * answered VIRTIO_BLK_S_UNSUPP. A driver that did not take FLUSH gets a
 * write-through disk: every write is synced before it completes.
 *
 * Bad requests are answered, never fatal: a header shorter than 16 bytes,
 * a data length not a multiple of 512, sectors past the end, more than
 * SEG_MAX data segments or one longer than SIZE_MAX, a malformed discard
 * payload, a write to a read-only disk, a host I/O error: all complete
 * with VIRTIO_BLK_S_IOERR and are counted (a chain with no writable byte at
 * its end has nowhere for the status: it comes back with used length 0).
 * A broken queue (virtio_queue.h: loops, buffers outside RAM...) sets
 * DEVICE_NEEDS_RESET instead and the device stops until the driver resets
 * it.
 *
 * Threads. The transport, the rings and the interrupt line belong to the
 * vCPU thread, which calls every function below but the notify callback.
 * A driver's notify (an MMIO write) takes the new chains off the ring,
 * checks them and queues those needing host I/O for the device's own I/O
 * thread, which reads and writes the image straight into guest RAM, writes
 * the status byte, puts the request on a done list and calls
 * host->notify. The board, woken by that, calls virtio_blk_poll on the
 * vCPU thread: it reports the guest RAM the device wrote
 * (host->guest_written), returns the chains to the used ring and raises
 * INTx if the driver wants it. A device reset (by the driver or
 * virtio_blk_reset) waits for the request the I/O thread is serving and
 * drops the others, so nothing writes guest RAM after it.
 *
 * The image is a struct disk_image (host/disk_image.h), which every disk
 * device shares: opened and locked as QEMU locks its images, transfers
 * direct where the filesystem takes O_DIRECT (through the I/O thread's
 * bounce buffer, VIRTIO_BLK_BOUNCE_BYTES, where the transfer is aligned),
 * and under --snapshot an overlay that takes every write, the image
 * itself never written. */
#ifndef BTVM_DEVICES_VIRTIO_BLK_H
#define BTVM_DEVICES_VIRTIO_BLK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "devices/bus.h"
#include "devices/virtio_pci.h"
#include "devices/virtio_queue.h"
#include "host/disk_image.h"
#include "mmu/guest_ram.h"

#define VIRTIO_ID_BLOCK		2
#define VIRTIO_BLK_PCI_CLASS	0x010000	/* mass storage, SCSI: what QEMU shows */

#define VIRTIO_BLK_F_SIZE_MAX	1
#define VIRTIO_BLK_F_SEG_MAX	2
#define VIRTIO_BLK_F_RO		5
#define VIRTIO_BLK_F_BLK_SIZE	6
#define VIRTIO_BLK_F_FLUSH	9
#define VIRTIO_BLK_F_DISCARD	13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_T_IN		0
#define VIRTIO_BLK_T_OUT	1
#define VIRTIO_BLK_T_FLUSH	4
#define VIRTIO_BLK_T_GET_ID	8
#define VIRTIO_BLK_T_DISCARD	11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK		0
#define VIRTIO_BLK_S_IOERR	1
#define VIRTIO_BLK_S_UNSUPP	2

#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 1u

#define VIRTIO_BLK_SECTOR_SIZE	512u
#define VIRTIO_BLK_ID_BYTES	20u
#define VIRTIO_BLK_QUEUE_SIZE	256u
#define VIRTIO_BLK_SEG_MAX	126u
#define VIRTIO_BLK_SIZE_MAX	(1u << 20)
#define VIRTIO_BLK_MAX_DISCARD_SECTORS (1u << 22)	/* 2 GiB a range */
#define VIRTIO_BLK_MAX_DISCARD_SEG 32u
/* Chain segments kept while parsing: header, the data, status, with room
 * for drivers that split the header or the status off differently. */
#define VIRTIO_BLK_CHAIN_SEGS	(VIRTIO_BLK_SEG_MAX + 8u)
/* Requests served at once, each by an I/O thread of its own. Linux splits
 * a sequential reader's 1 MiB into several requests it sends together,
 * which the host's disk serves faster side by side (bench/disk: 1.5 of the
 * host's own direct read with four, 0.8-1.3 with one). With four, a Debian
 * guest's random reads once crawled now and then: a page still traced as a
 * page table of an exited process, reused as a kernel stack, faulted on
 * every stack write; the shadow now drops a table written that often
 * unseen (mmu/shadow.c, unshadow_table). */
#define VIRTIO_BLK_IO_THREADS	4u
/* Each I/O thread's bounce buffer (host/disk_image.h says why). */
#define VIRTIO_BLK_BOUNCE_BYTES	DISK_IMAGE_BOUNCE_BYTES
_Static_assert(VIRTIO_BLK_SEG_MAX <= DISK_IMAGE_MAX_IOV, "a request's data fits one transfer");
_Static_assert(VIRTIO_BLK_SECTOR_SIZE == DISK_IMAGE_SECTOR_SIZE, "one sector size");
/* How long at most an I/O thread that has just served a request spins for
 * the next one before it sleeps. A sleeping thread took 125-230 us to
 * start on a request (a futex wake of a thread whose CPU, on a host that
 * is itself a virtual machine, is halted in its hypervisor), and a guest's
 * dd of 1 MiB direct writes sends its next request 100-300 us after the
 * last one is done. With a 200 us spin, 10-23% of its requests still
 * waited for a wake; with 500 us, 1-8% (with HLT's spin at 1 ms, 0-5%).
 * One thread at a time spins (the one that finished last); the others
 * sleep. None spins when the process may run on one CPU only (the spin
 * would keep the vCPU from making the request). */
#define VIRTIO_BLK_POLL_NS	500000u
/* The spin adapts to the guest: when a request comes while no thread
 * spins, the window goes back to the whole of poll_ns if it came within
 * that much of the last completion, else halves (to none below this), so
 * a guest whose requests come far apart costs no spinning. */
#define VIRTIO_BLK_POLL_MIN_NS	10000u

/* Device configuration (struct virtio_blk_config) up to
 * write_zeroes_may_unmap and its padding. */
enum {
	VIRTIO_BLK_CFG_CAPACITY = 0,
	VIRTIO_BLK_CFG_SIZE_MAX = 8,
	VIRTIO_BLK_CFG_SEG_MAX = 12,
	VIRTIO_BLK_CFG_BLK_SIZE = 20,
	VIRTIO_BLK_CFG_MAX_DISCARD_SECTORS = 36,
	VIRTIO_BLK_CFG_MAX_DISCARD_SEG = 40,
	VIRTIO_BLK_CFG_DISCARD_ALIGNMENT = 44,
	VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SECTORS = 48,
	VIRTIO_BLK_CFG_MAX_WRITE_ZEROES_SEG = 52,
	VIRTIO_BLK_CFG_WRITE_ZEROES_MAY_UNMAP = 56,
	VIRTIO_BLK_CONFIG_SIZE = 60,
};

struct virtio_blk_stats {
	uint64_t reads, writes, flushes, discards, write_zeroes, get_ids;
	uint64_t bytes_read, bytes_written;
	uint64_t unsupported;	/* answered VIRTIO_BLK_S_UNSUPP */
	uint64_t io_errors;	/* answered VIRTIO_BLK_S_IOERR, for any reason */
	uint64_t bad_requests;	/* of those, malformed or out of range */
	uint64_t host_errors;	/* of those, the host's read/write/sync failed */
	uint64_t no_status;	/* chains without room for a status byte */
	/* DEVICE_NEEDS_RESET set: a broken queue, a bad queue size */
	uint64_t device_errors;
	/* Requests an I/O thread found while it spun after its last one,
	 * instead of being woken for them. */
	uint64_t polled;
	/* Times requests were queued with no thread spinning, so a sleeping
	 * one was woken for them (one for a batch of several). */
	uint64_t wakeups;
	/* Reads and writes that went through an I/O thread's bounce buffer. */
	uint64_t bounced;
};

/* What the board gives the device. */
struct virtio_blk_host {
	/* On the I/O thread: requests are done; call virtio_blk_poll soon on
	 * the vCPU thread. Must not block or touch the device. */
	void (*notify)(void *opaque);
	/* On the vCPU thread, from virtio_blk_poll, before the guest can see
	 * the completion: the device wrote [gpa, gpa + len) of guest RAM
	 * (read data, status bytes, the used ring). Also for requests that
	 * are not returned (their queue broke, or a reset dropped them once
	 * done): their bytes are in RAM all the same. For dropping
	 * translated code there. May be NULL. */
	void (*guest_written)(void *opaque, uint64_t gpa, uint64_t len);
	void *opaque;
};

struct virtio_blk_req;
struct virtio_blk;

/* One I/O thread and what it owns. */
struct virtio_blk_worker {
	struct virtio_blk *blk;
	pthread_t thread;
	/* The thread's own transfer context and bounce buffer (NULL if
	 * allocation failed: direct transfers then go straight to guest
	 * RAM). */
	struct disk_io io;
};

struct virtio_blk {
	struct virtio_pci vp;	/* vp.pci goes to pci_host_add */
	struct virtq vq;
	uint8_t config[VIRTIO_BLK_CONFIG_SIZE];
	const struct guest_ram *ram;
	struct virtio_blk_host host;

	struct disk_image disk;
	char serial[VIRTIO_BLK_ID_BYTES + 1];

	bool opened;

	/* vCPU thread only. */
	struct virtio_blk_stats cpu_stats;	/* counted while parsing */
	struct virtio_blk_req *reqs;	/* VIRTIO_BLK_QUEUE_SIZE of them */
	struct virtio_blk_req *free_reqs;
	bool starved;		/* stopped taking chains for want of a request */
	struct virtq_seg segs[VIRTIO_BLK_CHAIN_SEGS];

	/* Shared with the I/O thread, under lock. */
	pthread_mutex_t lock;
	pthread_cond_t work, idle;
	struct virtio_blk_req *queued, *queued_tail;	/* for the I/O thread, in order */
	struct virtio_blk_req *done, *done_tail;	/* served, waiting for virtio_blk_poll */
	unsigned serving;	/* taken by the I/O thread, not yet done */
	bool polling;		/* an I/O thread spins for queued: no need to wake one */
	uint64_t spins_ended;	/* spins over, for a test to know one is */
	unsigned parked;	/* I/O threads waiting on work, for a test to know none is about */
	uint64_t poll_ns;	/* how long it spins at most: VIRTIO_BLK_POLL_NS, or a test's */
	uint64_t poll_window;	/* how long it spins now: 0 or up to poll_ns */
	uint64_t last_done_ns;	/* when a thread last finished a request (host clock) */
	bool stop;
	struct virtio_blk_stats io_stats;	/* counted by the I/O thread */
	atomic_bool done_ready;	/* done is not empty: poll's lock-free check */
	atomic_bool queued_ready;	/* queued is not empty (or stop): the spin's check */

	/* The I/O threads; running (all of them) between attach and close. */
	struct virtio_blk_worker workers[VIRTIO_BLK_IO_THREADS];
	unsigned nworkers;
	bool thread_running;
};

/* Opens and locks the image (see above) into a fresh b, not yet a device.
 * Returns 0, or a negative errno with one line in err (the image missing
 * or unreadable, not a file or block device, in use by another process:
 * -EBUSY, no overlay possible); a failed open leaves nothing open, and
 * virtio_blk_close on it is harmless. defer_lock: see disk_image_open. */
int virtio_blk_open(struct virtio_blk *b, const char *path, bool readonly, bool snapshot,
		    bool defer_lock, char *err, size_t errlen);
/* The GET_ID answer, up to 20 bytes (longer is cut); by default the
 * image's file name. */
void virtio_blk_set_serial(struct virtio_blk *b, const char *serial);
/* How long at most an I/O thread spins for the next request after serving
 * one (default VIRTIO_BLK_POLL_NS; 0: never); the window starts there. For
 * tests and measurements. */
void virtio_blk_set_poll_ns(struct virtio_blk *b, uint64_t ns);
/* Makes the opened image a PCI function at devfn (not yet plugged: the
 * caller passes &b->vp.pci to pci_host_add) whose BAR goes on bus, and
 * starts the I/O thread. ram must outlive virtio_blk_close. Returns 0 or a
 * negative errno. */
int virtio_blk_attach(struct virtio_blk *b, uint8_t devfn, const struct guest_ram *ram,
		      struct bus *bus, const struct virtio_blk_host *host);
/* vCPU thread: publishes what the I/O thread finished and raises INTx if
 * the driver wants it. Cheap when there is nothing (one atomic load). */
void virtio_blk_poll(struct virtio_blk *b);
/* Whether requests are with the I/O thread or waiting for poll: a halted
 * vCPU still has an interrupt to expect. */
bool virtio_blk_busy(struct virtio_blk *b);
/* Machine reset: a device reset (the driver starts over). The PCI header
 * is pci_host_reset's. */
void virtio_blk_reset(struct virtio_blk *b);
struct virtio_blk_stats virtio_blk_get_stats(struct virtio_blk *b);
/* Stops the I/O thread, takes the BAR off the bus, closes the image (the
 * overlay goes) and frees everything. Safe after a failed open, and twice.
 * Call it before the bus and guest RAM go, with b unplugged or the PCI
 * host no longer used. */
void virtio_blk_close(struct virtio_blk *b);

struct snap_writer;
struct snap_reader;
/* Snapshots (host/snapfile.h). quiesce, on the vCPU thread before a
 * save: waits for the I/O thread to finish every request and returns
 * them to the guest, so nothing is in flight. save writes section tag
 * (the board's "BLKn"): the image's size and mode, the transport and
 * queue, and under --snapshot the overlay's sectors; load checks the
 * image against it and fills the (fresh) overlay. */
void virtio_blk_quiesce(struct virtio_blk *b);
void virtio_blk_save(struct virtio_blk *b, const char *tag, struct snap_writer *w);
int virtio_blk_load(struct virtio_blk *b, struct snap_reader *r);

#endif
