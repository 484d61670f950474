/* The driver's accesses to a virtio PCI device in a unit test, as
 * virtio_pci_harness.h (virtio-net, virtio-input) and virtio_blk_harness.h
 * make them: configuration cycles through the PCI host, and reads and
 * writes of the common, ISR and device configuration in the BAR.
 *
 * The includer defines DEVFN and BAR_ADDR (where the device sits and
 * where its BAR was put) and struct harness with at least struct bus bus,
 * struct pci_host pci and uint32_t common, isr, device (the offsets in
 * the BAR its capabilities gave). */
#ifndef BTVM_TESTS_VIRTIO_PCI_ACCESS_H
#define BTVM_TESTS_VIRTIO_PCI_ACCESS_H

#include "devices/bus.h"
#include "devices/pci_host.h"
#include "devices/virtio_pci.h"

static inline uint32_t cfg_rd(struct harness *h, unsigned reg, unsigned width)
{
	return pci_host_config_read(&h->pci, 0, DEVFN, reg, width);
}

static inline void cfg_wr(struct harness *h, unsigned reg, unsigned width, uint32_t value)
{
	pci_host_config_write(&h->pci, 0, DEVFN, reg, width, value);
}

static inline uint64_t common_rd(struct harness *h, unsigned reg, unsigned width)
{
	return bus_read(&h->bus, BUS_SPACE_MMIO, BAR_ADDR + h->common + reg, width);
}

static inline void common_wr(struct harness *h, unsigned reg, unsigned width, uint64_t value)
{
	bus_write(&h->bus, BUS_SPACE_MMIO, BAR_ADDR + h->common + reg, width, value);
}

static inline uint8_t status(struct harness *h)
{
	return (uint8_t)common_rd(h, VIRTIO_PCI_DEVICE_STATUS, 1);
}

static inline void set_status(struct harness *h, uint8_t bits)
{
	common_wr(h, VIRTIO_PCI_DEVICE_STATUS, 1, bits);
}

static inline uint8_t read_isr(struct harness *h)
{
	return (uint8_t)bus_read(&h->bus, BUS_SPACE_MMIO, BAR_ADDR + h->isr, 1);
}

static inline uint64_t dev_rd(struct harness *h, unsigned off, unsigned width)
{
	return bus_read(&h->bus, BUS_SPACE_MMIO, BAR_ADDR + h->device + off, width);
}

static inline void dev_wr(struct harness *h, unsigned off, unsigned width, uint64_t value)
{
	bus_write(&h->bus, BUS_SPACE_MMIO, BAR_ADDR + h->device + off, width, value);
}

#endif
