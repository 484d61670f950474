/* The virtio 1.x PCI transport, modern only (virtio 1.x section 4.1), for
 * the devices built on it (virtio_blk.h):
 *
 *   identification  vendor 0x1af4, device 0x1040 + device type, revision 1
 *                   (no transitional ID, no legacy I/O BAR), subsystem
 *                   vendor 0x1af4, subsystem = device type; interrupt pin
 *                   INTA;
 *   BAR 4           32-bit memory, 16 KiB, holding four areas, each
 *                   announced by a vendor-specific capability (ID 0x09):
 *     0x0000 common configuration (cfg_type 1, 0x38 bytes)
 *     0x1000 ISR status (cfg_type 3, 1 byte)
 *     0x2000 device-specific configuration (cfg_type 4)
 *     0x3000 notifications (cfg_type 2), queue q at 0x3000 + 4 q
 *            (queue_notify_off = q, notify_off_multiplier = 4).
 *
 *   and the PCI configuration access capability (cfg_type 5, 20 bytes):
 *   its bar, offset and length are writable, and a read or write of its
 *   pci_cfg_data dword reads or writes BAR 4 at offset through that
 *   window (length 1, 2 or 4, offset aligned to it, inside the BAR; any
 *   other window, or another BAR, does nothing and the data bytes keep
 *   what they held). iPXE's virtio-net driver will not take a modern
 *   device without this capability, though it reaches the BAR directly.
 *
 * Not provided: MSI-X (the vector registers read VIRTIO_MSI_NO_VECTOR and
 * ignore writes: interrupts are INTx only), 64-bit BARs,
 * VIRTIO_F_NOTIFICATION_DATA, VIRTIO_F_RING_RESET (queue_enable cannot be
 * cleared) and packed rings. Bus mastering is not checked: the device
 * reaches guest RAM whatever the command register's master bit says.
 *
 * Feature negotiation: the device's features plus VIRTIO_F_VERSION_1,
 * VIRTIO_F_RING_INDIRECT_DESC and VIRTIO_F_RING_EVENT_IDX, 32 bits at a
 * time through device_feature_select; the driver's likewise. Setting
 * FEATURES_OK succeeds (reads back set) only when the driver took
 * VERSION_1 and nothing the device did not offer; from then on the
 * driver's features are fixed until a reset. Writing 0 to device_status
 * resets the device: the device model stops using its queues (ops->reset),
 * then every queue, the features, the status and the ISR go back to their
 * initial state and INTx is withdrawn. The device does not touch a queue
 * before the driver sets DRIVER_OK, nor after it set DEVICE_NEEDS_RESET.
 *
 * Queues: queue_select picks one (queue_size reads 0 for a queue that does
 * not exist); queue_size, the three ring addresses and queue_enable are
 * writable while the queue is disabled. A queue size that is not a power
 * of two from 1 to the device's maximum is a driver error the device
 * cannot work with: it sets DEVICE_NEEDS_RESET (the spec lets a device do
 * that on an error) and keeps the old size. So does enabling a queue whose
 * rings are not in RAM.
 *
 * Interrupts: ISR bit 0 (a queue) and bit 1 (configuration change); INTx
 * is requested while either is set, and reading the ISR returns and clears
 * both and withdraws the request. A device error (DEVICE_NEEDS_RESET) is
 * announced with a configuration change interrupt once the driver is
 * running.
 *
 * There is no locking: the caller serializes every entry point (MMIO
 * accesses and the device's calls), all on one thread; the ops callbacks
 * run under that serialization. */
#ifndef BTVM_DEVICES_VIRTIO_PCI_H
#define BTVM_DEVICES_VIRTIO_PCI_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/pci.h"
#include "devices/virtio_queue.h"
#include "mmu/guest_ram.h"

#define VIRTIO_PCI_VENDOR	0x1af4
#define VIRTIO_PCI_DEVICE_BASE	0x1040	/* + device type: modern-only IDs */
#define VIRTIO_PCI_REVISION	1
#define VIRTIO_PCI_BAR		4
#define VIRTIO_PCI_BAR_SIZE	0x4000u
#define VIRTIO_PCI_COMMON_OFFSET 0x0000u
#define VIRTIO_PCI_COMMON_LEN	0x38u
#define VIRTIO_PCI_ISR_OFFSET	0x1000u
#define VIRTIO_PCI_DEVICE_OFFSET 0x2000u
#define VIRTIO_PCI_NOTIFY_OFFSET 0x3000u
#define VIRTIO_PCI_AREA_SIZE	0x1000u
#define VIRTIO_PCI_NOTIFY_MULTIPLIER 4u
#define VIRTIO_MSI_NO_VECTOR	0xffffu

/* Vendor capability cfg_type values. */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG	3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG	5

/* device_status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE	0x01
#define VIRTIO_STATUS_DRIVER		0x02
#define VIRTIO_STATUS_DRIVER_OK		0x04
#define VIRTIO_STATUS_FEATURES_OK	0x08
#define VIRTIO_STATUS_NEEDS_RESET	0x40
#define VIRTIO_STATUS_FAILED		0x80

#define VIRTIO_ISR_QUEUE	0x01
#define VIRTIO_ISR_CONFIG	0x02

/* Transport feature bits (virtio 1.x section 6). */
#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX	29
#define VIRTIO_F_VERSION_1	32

/* Common configuration registers (offsets in the common area). */
enum {
	VIRTIO_PCI_DEVICE_FEATURE_SELECT = 0x00,
	VIRTIO_PCI_DEVICE_FEATURE = 0x04,
	VIRTIO_PCI_DRIVER_FEATURE_SELECT = 0x08,
	VIRTIO_PCI_DRIVER_FEATURE = 0x0c,
	VIRTIO_PCI_CONFIG_MSIX_VECTOR = 0x10,
	VIRTIO_PCI_NUM_QUEUES = 0x12,
	VIRTIO_PCI_DEVICE_STATUS = 0x14,
	VIRTIO_PCI_CONFIG_GENERATION = 0x15,
	VIRTIO_PCI_QUEUE_SELECT = 0x16,
	VIRTIO_PCI_QUEUE_SIZE = 0x18,
	VIRTIO_PCI_QUEUE_MSIX_VECTOR = 0x1a,
	VIRTIO_PCI_QUEUE_ENABLE = 0x1c,
	VIRTIO_PCI_QUEUE_NOTIFY_OFF = 0x1e,
	VIRTIO_PCI_QUEUE_DESC = 0x20,
	VIRTIO_PCI_QUEUE_DRIVER = 0x28,
	VIRTIO_PCI_QUEUE_DEVICE = 0x30,
};

/* What the transport asks of the device model; called on the transport's
 * thread. */
struct virtio_pci_ops {
	/* The driver notified queue (enabled, DRIVER_OK, no NEEDS_RESET), or
	 * set DRIVER_OK with the queue already enabled. */
	void (*queue_notify)(void *opaque, unsigned queue);
	/* A device reset: when this returns the device must no longer use
	 * its queues or their buffers (requests in flight finished or
	 * dropped); the transport then resets the queues. */
	void (*reset)(void *opaque);
	/* May be NULL: the device configuration is read-only. Otherwise the
	 * driver wrote width bytes of it at offset (inside config_len): the
	 * device updates its config buffer, which later reads return (virtio
	 * input's select and subsel choose what the rest of it holds). */
	void (*config_write)(void *opaque, unsigned offset, unsigned width, uint32_t value);
};

/* A device model's description of itself. */
struct virtio_pci_params {
	uint8_t devfn;
	uint16_t device_type;	/* 2 for a block device */
	uint32_t class_code;
	uint64_t features;	/* device-specific bits; the transport adds its own */
	struct virtq *queues;	/* num_queues of them, virtq_init'ed with their maximum size */
	unsigned num_queues;
	/* Device-specific configuration, read by the driver as it stands;
	 * writes go to ops->config_write, or are ignored without one. */
	const uint8_t *config;
	unsigned config_len;	/* at most VIRTIO_PCI_AREA_SIZE */
	const struct virtio_pci_ops *ops;
	void *opaque;
};

struct virtio_pci_stats {
	uint64_t device_errors;		/* times DEVICE_NEEDS_RESET was set */
	uint64_t feature_refusals;	/* FEATURES_OK refused */
	uint64_t bad_queue_sizes;	/* queue_size writes refused */
	uint64_t resets;		/* device resets by the driver or the board */
};

struct virtio_pci {
	struct pci_function pci;	/* plug with pci_host_add */
	struct pci_region region;	/* BAR 4 on the bus */
	const struct guest_ram *ram;
	struct virtio_pci_params p;
	uint64_t device_features, driver_features;
	uint32_t device_feature_select, driver_feature_select;
	uint16_t queue_select;
	uint8_t status, config_generation, isr;
	uint8_t cfg_cap;		/* the PCI configuration access capability's offset */
	struct virtio_pci_stats stats;
};

/* A function at p->devfn, identified and with its BAR and capabilities as
 * above, status 0; the BAR's region goes on bus when the guest maps it.
 * Returns 0, or -EINVAL for parameters that do not fit (too many queues,
 * config too long). */
int virtio_pci_init(struct virtio_pci *vp, const struct virtio_pci_params *p,
		    const struct guest_ram *ram, struct bus *bus);
/* A device reset as if the driver wrote 0 to device_status (ops->reset
 * included), for the board's machine reset. The PCI header is
 * pci_host_reset's. */
void virtio_pci_reset(struct virtio_pci *vp);
/* The driver set DRIVER_OK and the device has not failed. */
bool virtio_pci_running(const struct virtio_pci *vp);
/* Whether feature bit was negotiated (valid from FEATURES_OK on). */
bool virtio_pci_negotiated(const struct virtio_pci *vp, unsigned bit);
/* ISR bit 0 and INTx: the device used buffers the driver wants to hear of. */
void virtio_pci_queue_interrupt(struct virtio_pci *vp);
/* ISR bit 1 and INTx, config_generation moving on if the configuration
 * changed. */
void virtio_pci_config_interrupt(struct virtio_pci *vp, bool config_changed);
/* The device cannot go on (a broken queue): DEVICE_NEEDS_RESET, and a
 * configuration change interrupt if the driver is running. */
void virtio_pci_device_error(struct virtio_pci *vp);

struct snap_writer;
struct snap_reader;
/* Snapshots (host/snapfile.h), inside the device's section: the PCI
 * function, the negotiation, the status and every queue. Load refuses a
 * device offering other features than the one saved. */
void virtio_pci_save(const struct virtio_pci *vp, struct snap_writer *w);
void virtio_pci_load(struct virtio_pci *vp, struct snap_reader *r);

#endif
