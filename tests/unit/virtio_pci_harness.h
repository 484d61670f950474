/* The driver's side of a virtio PCI device with several queues, as the
 * unit tests of virtio-net (test_virtio_net.c) and virtio-input
 * (test_virtio_input.c) drive it: the device behind a PCI host on a bus
 * with a real guest_ram, its configuration cycles, the walk of its
 * capabilities, the common and device configuration, and each queue's
 * rings at QBASE(q) in guest RAM. (virtio_blk_harness.h has its own: one
 * queue, indirect tables, a backend thread and a stricter walk of the
 * capabilities; both access the device through virtio_pci_access.h.)
 *
 * The includer defines SLOT, DEVFN, IRQ and BAR_ADDR (where the device
 * sits, its interrupt line and its BAR), and struct harness with at least
 * struct guest_ram ram, struct bus bus, struct pci_host pci, int
 * irq_level, uint32_t common, isr, device, notify, mult, device_len,
 * unsigned window, uint16_t qsize and uint16_t avail_idx[], next_desc[]
 * (one a queue). */
#ifndef BTVM_TESTS_VIRTIO_PCI_HARNESS_H
#define BTVM_TESTS_VIRTIO_PCI_HARNESS_H

#include "check.h"
#include "devices/bus.h"
#include "devices/pci_host.h"
#include "devices/virtio_pci.h"
#include "virtio_pci_access.h"
#include "virtq_ram.h"

/* Queue q's rings: 16 KiB each from 64 KiB on, room for 256 entries. */
#define QBASE(q)	(0x10000u + 0x4000u * (q))
#define DESC(q)		(QBASE(q))
#define AVAIL(q)	(QBASE(q) + 0x1000u)
#define USED(q)		(QBASE(q) + 0x2000u)

static inline void on_isa_irq(void *opaque, unsigned irq, int level)
{
	struct harness *h = opaque;
	CHECK_EQ(irq, IRQ);
	h->irq_level = level;
}

/* Walks the vendor capabilities as a driver does: records where the
 * common, ISR, notify and device configurations are in the BAR (and the
 * device configuration's length, which the test checks), and where the
 * PCI configuration access capability is; all five must be there. The
 * walk is bounded, as a loop of capabilities must not hang it. */
static inline void find_caps(struct harness *h)
{
	unsigned seen = 0;
	for (unsigned at = cfg_rd(h, PCI_REG_CAPABILITIES, 1) & ~3u, n = 0; at && n < 48;
	     at = cfg_rd(h, at + 1, 1) & ~3u, n++) {
		if (cfg_rd(h, at, 1) != PCI_CAP_ID_VENDOR)
			continue;
		unsigned type = cfg_rd(h, at + 3, 1);
		uint32_t off = cfg_rd(h, at + 8, 4), len = cfg_rd(h, at + 12, 4);
		seen |= 1u << type;
		switch (type) {
		case VIRTIO_PCI_CAP_COMMON_CFG:
			h->common = off;
			break;
		case VIRTIO_PCI_CAP_NOTIFY_CFG:
			h->notify = off;
			h->mult = cfg_rd(h, at + 16, 4);
			break;
		case VIRTIO_PCI_CAP_ISR_CFG:
			h->isr = off;
			break;
		case VIRTIO_PCI_CAP_DEVICE_CFG:
			h->device = off;
			h->device_len = len;
			break;
		case VIRTIO_PCI_CAP_PCI_CFG:
			h->window = at;
			break;
		}
	}
	CHECK_EQ(seen, 0x3e);
}

/* A fresh bus and PCI host whose interrupt goes to on_isa_irq, for the
 * device's attach. */
static inline void pci_begin(struct harness *h)
{
	bus_init(&h->bus);
	pci_host_init(&h->pci);
	h->pci.set_isa_irq = on_isa_irq;
	h->pci.irq_opaque = h;
}

/* The attached device's PCI function fn plugged in as the firmware leaves
 * it: INTA routed to IRQ, the BAR at BAR_ADDR, memory and bus mastering
 * on; then its capabilities found. */
static inline void pci_plug(struct harness *h, struct pci_function *fn)
{
	CHECK_EQ(pci_host_add(&h->pci, fn), 0);
	unsigned pirq = pci_host_pirq(SLOT, PCI_PIN_INTA);
	pci_host_config_write(&h->pci, 0, PCI_ISA_BRIDGE_DEVFN, PCI_PIIX_PIRQ_ROUTE + pirq, 1, IRQ);
	cfg_wr(h, PCI_REG_BAR0 + 4 * VIRTIO_PCI_BAR, 4, BAR_ADDR);
	cfg_wr(h, PCI_REG_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	find_caps(h);
}

/* Queue q of qsize entries at its rings, enabled; the driver's indexes
 * start again. */
static inline void queue_setup(struct harness *h, unsigned q, uint16_t qsize)
{
	common_wr(h, VIRTIO_PCI_QUEUE_SELECT, 2, q);
	common_wr(h, VIRTIO_PCI_QUEUE_SIZE, 2, qsize);
	common_wr(h, VIRTIO_PCI_QUEUE_DESC, 4, DESC(q));
	common_wr(h, VIRTIO_PCI_QUEUE_DESC + 4, 4, 0);
	common_wr(h, VIRTIO_PCI_QUEUE_DRIVER, 4, AVAIL(q));
	common_wr(h, VIRTIO_PCI_QUEUE_DRIVER + 4, 4, 0);
	common_wr(h, VIRTIO_PCI_QUEUE_DEVICE, 4, USED(q));
	common_wr(h, VIRTIO_PCI_QUEUE_DEVICE + 4, 4, 0);
	common_wr(h, VIRTIO_PCI_QUEUE_ENABLE, 2, 1);
	h->qsize = qsize;
	h->avail_idx[q] = 0;
	h->next_desc[q] = 0;
}

static inline void desc(struct harness *h, unsigned q, unsigned i, uint64_t addr, uint32_t len,
			uint16_t flags, uint16_t next)
{
	desc_at(h, DESC(q), i, addr, len, flags, next);
}

/* The chain at head made available; the index is stored with release
 * order, as a driver on another CPU must, after the ring entry. */
static inline void offer(struct harness *h, unsigned q, uint16_t head)
{
	put16(h, AVAIL(q) + 4 + 2 * (h->avail_idx[q] % h->qsize), head);
	h->avail_idx[q]++;
	__atomic_store_n((uint16_t *)(void *)(h->ram.host + AVAIL(q) + 2), h->avail_idx[q],
			 __ATOMIC_RELEASE);
}

static inline void kick(struct harness *h, unsigned q)
{
	bus_write(&h->bus, BUS_SPACE_MMIO, BAR_ADDR + h->notify + q * h->mult, 2, q);
}

static inline uint16_t used_idx(struct harness *h, unsigned q)
{
	return get16(h, USED(q) + 2);
}

#endif
