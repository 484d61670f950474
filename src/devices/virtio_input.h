/* virtio-input (virtio 1.x section 5.8) on the modern PCI transport (device
 * type 18, PCI device 0x1052): an absolute pointer, a "tablet" as QEMU's
 * virtio-tablet is, so that the host's pointer moves in and out of the
 * window with no grab. Event queue 0 (device to driver) and status queue 1
 * (driver to device: LED and the like, which a tablet has none of: its
 * buffers are returned unread), 64 entries each, no feature bits.
 *
 * Configuration (struct virtio_input_config): the driver writes select
 * and subsel, then reads size and the union. What it answers:
 *   ID_NAME      "btvm Virtio Tablet"
 *   ID_SERIAL    "btvm-tablet"
 *   ID_DEVIDS    BUS_VIRTUAL, vendor 0x0627, product 0x0003, version 2
 *                (QEMU's virtio tablet with its wheel, so any guest
 *                quirk keyed to it applies)
 *   PROP_BITS    none, as QEMU's tablet: INPUT_PROP_POINTER is the mark
 *                of indirect devices such as touchpads; an absolute
 *                device with mouse buttons and no pen is what udev's
 *                input_id calls a mouse with absolute axes, which X's
 *                libinput drives as an absolute pointer
 *   EV_BITS      EV_SYN (SYN_REPORT), EV_KEY (BTN_LEFT, BTN_RIGHT,
 *                BTN_MIDDLE), EV_REL (REL_WHEEL), EV_ABS (ABS_X, ABS_Y)
 *   ABS_INFO     ABS_X and ABS_Y: min 0, max VIRTIO_INPUT_ABS_MAX, no
 *                fuzz, flat or resolution
 * and size 0 for anything else. select and subsel read back as written.
 *
 * Events: virtio_input_pointer turns the host pointer's state into one
 * report: EV_KEY for each button that changed, ABS_X and ABS_Y, REL_WHEEL
 * when the wheel turned, SYN_REPORT; each event is a struct
 * virtio_input_event (le16 type, le16 code, le32 value) written into one
 * posted buffer (at least 8 writable bytes, nothing readable: other
 * buffers are returned empty and counted). Reports wait in a bounded ring
 * (VIRTIO_INPUT_PENDING events) for buffers: a report of motion alone
 * replaces a motion-only report still wholly waiting at the tail (the
 * guest sees the newest position, not the path), and when the ring is
 * full the oldest whole reports are dropped and counted. Reports are
 * dropped while the driver is not running.
 *
 * A broken queue (virtio_queue.h) sets DEVICE_NEEDS_RESET; nothing the
 * guest does is fatal.
 *
 * Threads: everything on the vCPU thread (the window's events reach the
 * board there), so there is no lock. */
#ifndef BTVM_DEVICES_VIRTIO_INPUT_H
#define BTVM_DEVICES_VIRTIO_INPUT_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/virtio_pci.h"
#include "devices/virtio_queue.h"
#include "mmu/guest_ram.h"

#define VIRTIO_ID_INPUT		18
#define VIRTIO_INPUT_PCI_CLASS	0x098000	/* input device, other */

#define VIRTIO_INPUT_EVENTQ	0u
#define VIRTIO_INPUT_STATUSQ	1u
#define VIRTIO_INPUT_QUEUE_SIZE	64u
#define VIRTIO_INPUT_PENDING	128u	/* events waiting for buffers */
#define VIRTIO_INPUT_EVENT_SIZE	8u
#define VIRTIO_INPUT_ABS_MAX	32767u

/* Configuration selectors. */
#define VIRTIO_INPUT_CFG_UNSET		0x00
#define VIRTIO_INPUT_CFG_ID_NAME	0x01
#define VIRTIO_INPUT_CFG_ID_SERIAL	0x02
#define VIRTIO_INPUT_CFG_ID_DEVIDS	0x03
#define VIRTIO_INPUT_CFG_PROP_BITS	0x10
#define VIRTIO_INPUT_CFG_EV_BITS	0x11
#define VIRTIO_INPUT_CFG_ABS_INFO	0x12

/* struct virtio_input_config: select, subsel, size, 5 reserved, 128 of
 * union. */
enum {
	VIRTIO_INPUT_CFG_SELECT = 0,
	VIRTIO_INPUT_CFG_SUBSEL = 1,
	VIRTIO_INPUT_CFG_SIZE = 2,
	VIRTIO_INPUT_CFG_UNION = 8,
	VIRTIO_INPUT_CONFIG_SIZE = 136,
};

/* Linux's input event codes (include/uapi/linux/input-event-codes.h). */
#define VIRTIO_INPUT_EV_SYN	0x00
#define VIRTIO_INPUT_EV_KEY	0x01
#define VIRTIO_INPUT_EV_REL	0x02
#define VIRTIO_INPUT_EV_ABS	0x03
#define VIRTIO_INPUT_SYN_REPORT	0x00
#define VIRTIO_INPUT_BTN_LEFT	0x110
#define VIRTIO_INPUT_BTN_RIGHT	0x111
#define VIRTIO_INPUT_BTN_MIDDLE	0x112
#define VIRTIO_INPUT_REL_WHEEL	0x08
#define VIRTIO_INPUT_ABS_X	0x00
#define VIRTIO_INPUT_ABS_Y	0x01
#define VIRTIO_INPUT_BUS_VIRTUAL 0x06

/* Buttons as bits of virtio_input_pointer's buttons (the display's). */
#define VIRTIO_INPUT_LEFT	1u
#define VIRTIO_INPUT_RIGHT	2u
#define VIRTIO_INPUT_MIDDLE	4u

struct virtio_input_stats {
	uint64_t reports;		/* reports queued */
	uint64_t coalesced;		/* motion merged into a waiting report */
	uint64_t dropped;		/* reports dropped: the ring was full */
	uint64_t not_running;		/* reports dropped: the driver was not running */
	uint64_t events;		/* events written into the guest's buffers */
	uint64_t bad_buffers;		/* event buffers returned empty */
	uint64_t status_buffers;	/* status queue buffers returned */
	uint64_t device_errors;		/* DEVICE_NEEDS_RESET set */
};

struct virtio_input_host {
	/* Before the guest can see them: the device wrote [gpa, gpa + len)
	 * of guest RAM (events, the used ring), for dropping translated code
	 * there. May be NULL. */
	void (*guest_written)(void *opaque, uint64_t gpa, uint64_t len);
	void *opaque;
};

struct virtio_input_event {
	uint16_t type, code;
	uint32_t value;
};

struct virtio_input {
	struct virtio_pci vp;	/* vp.pci goes to pci_host_add */
	struct virtq vq[2];
	uint8_t config[VIRTIO_INPUT_CONFIG_SIZE];
	const struct guest_ram *ram;
	struct virtio_input_host host;
	bool attached;
	struct virtio_input_stats stats;
	struct virtq_seg segs[4];

	/* The pointer as the guest last had it reported. */
	uint32_t x, y;
	unsigned buttons;
	/* Events waiting for buffers: a ring, head the oldest. */
	struct virtio_input_event pending[VIRTIO_INPUT_PENDING];
	unsigned head, count;
	/* The newest report is motion only (ABS_X, ABS_Y, SYN_REPORT) and
	 * all of it still waits: the next motion may overwrite it. */
	bool tail_motion;
};

/* Makes t a PCI function at devfn (not yet plugged: the caller passes
 * &t->vp.pci to pci_host_add) whose BAR goes on bus. Returns 0 or a
 * negative errno. */
int virtio_input_attach(struct virtio_input *t, uint8_t devfn, const struct guest_ram *ram,
			struct bus *bus, const struct virtio_input_host *host);
/* Whether the guest's driver is running (DRIVER_OK, no error): the window
 * sends the pointer here rather than to the PS/2 mouse. False unattached. */
bool virtio_input_active(const struct virtio_input *t);
/* The host pointer at (x, y) in 0..VIRTIO_INPUT_ABS_MAX, the wheel turned
 * by dz notches (away from the user positive), buttons held: one report,
 * delivered now if the driver posted buffers, else queued (see above). */
void virtio_input_pointer(struct virtio_input *t, uint32_t x, uint32_t y, int dz,
			  unsigned buttons);
/* Machine reset: a device reset (waiting reports dropped). */
void virtio_input_reset(struct virtio_input *t);
/* Takes the BAR off the bus. Safe unattached, and twice. */
void virtio_input_close(struct virtio_input *t);

struct snap_writer;
struct snap_reader;
/* Snapshots (host/snapfile.h): section "VINP", the configuration's
 * selection, the pointer state the guest was last told, the transport and
 * both queues. Reports still waiting are dropped: to the guest, motion it
 * did not read in time. */
void virtio_input_save(const struct virtio_input *t, struct snap_writer *w);
int virtio_input_load(struct virtio_input *t, struct snap_reader *r);

#endif
