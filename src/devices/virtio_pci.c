/* The virtio 1.x modern PCI transport: identification, the vendor
 * capabilities, BAR 4's four areas, feature negotiation, device status and
 * reset, queue registers and INTx through the ISR. See virtio_pci.h. */
#include "devices/virtio_pci.h"
#include "host/snapfile.h"

#include <errno.h>
#include <string.h>

/* struct virtio_pci_cap: ID, next, cap_len, cfg_type, bar, id, padding,
 * offset, length; the notify capability adds notify_off_multiplier. */
#define CAP_LEN		16u
#define NOTIFY_CAP_LEN	20u
#define CAP_CFG_TYPE	3u
#define CAP_BAR		4u
#define CAP_OFFSET	8u
#define CAP_LENGTH	12u
#define CAP_MULTIPLIER	16u
#define CFG_CAP_LEN	20u	/* struct virtio_pci_cfg_cap: the cap, then pci_cfg_data */
#define CFG_CAP_DATA	16u

/* The common configuration's fields; the 64-bit queue addresses are two
 * 32-bit halves, as the spec has drivers access them. */
enum field {
	F_DFSELECT, F_DF, F_GFSELECT, F_GF, F_MSIX_CONFIG, F_NUM_QUEUES, F_STATUS,
	F_GENERATION, F_QSELECT, F_QSIZE, F_QMSIX, F_QENABLE, F_QNOTIFY_OFF,
	F_QDESC_LO, F_QDESC_HI, F_QDRIVER_LO, F_QDRIVER_HI, F_QDEVICE_LO, F_QDEVICE_HI,
	F_COUNT,
};

static const struct {
	uint8_t off, width;
} fields[F_COUNT] = {
	[F_DFSELECT] = { VIRTIO_PCI_DEVICE_FEATURE_SELECT, 4 },
	[F_DF] = { VIRTIO_PCI_DEVICE_FEATURE, 4 },
	[F_GFSELECT] = { VIRTIO_PCI_DRIVER_FEATURE_SELECT, 4 },
	[F_GF] = { VIRTIO_PCI_DRIVER_FEATURE, 4 },
	[F_MSIX_CONFIG] = { VIRTIO_PCI_CONFIG_MSIX_VECTOR, 2 },
	[F_NUM_QUEUES] = { VIRTIO_PCI_NUM_QUEUES, 2 },
	[F_STATUS] = { VIRTIO_PCI_DEVICE_STATUS, 1 },
	[F_GENERATION] = { VIRTIO_PCI_CONFIG_GENERATION, 1 },
	[F_QSELECT] = { VIRTIO_PCI_QUEUE_SELECT, 2 },
	[F_QSIZE] = { VIRTIO_PCI_QUEUE_SIZE, 2 },
	[F_QMSIX] = { VIRTIO_PCI_QUEUE_MSIX_VECTOR, 2 },
	[F_QENABLE] = { VIRTIO_PCI_QUEUE_ENABLE, 2 },
	[F_QNOTIFY_OFF] = { VIRTIO_PCI_QUEUE_NOTIFY_OFF, 2 },
	[F_QDESC_LO] = { VIRTIO_PCI_QUEUE_DESC, 4 },
	[F_QDESC_HI] = { VIRTIO_PCI_QUEUE_DESC + 4, 4 },
	[F_QDRIVER_LO] = { VIRTIO_PCI_QUEUE_DRIVER, 4 },
	[F_QDRIVER_HI] = { VIRTIO_PCI_QUEUE_DRIVER + 4, 4 },
	[F_QDEVICE_LO] = { VIRTIO_PCI_QUEUE_DEVICE, 4 },
	[F_QDEVICE_HI] = { VIRTIO_PCI_QUEUE_DEVICE + 4, 4 },
};

static uint64_t bit(unsigned n)
{
	return 1ull << n;
}

static struct virtq *selected_queue(const struct virtio_pci *vp)
{
	return vp->queue_select < vp->p.num_queues ? &vp->p.queues[vp->queue_select] : NULL;
}

bool virtio_pci_running(const struct virtio_pci *vp)
{
	return (vp->status & VIRTIO_STATUS_DRIVER_OK) &&
	       !(vp->status & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED));
}

bool virtio_pci_negotiated(const struct virtio_pci *vp, unsigned n)
{
	return n < 64 && (vp->driver_features & bit(n));
}

static void update_irq(struct virtio_pci *vp)
{
	pci_function_set_irq(&vp->pci, vp->isr != 0);
}

void virtio_pci_queue_interrupt(struct virtio_pci *vp)
{
	vp->isr |= VIRTIO_ISR_QUEUE;
	update_irq(vp);
}

void virtio_pci_config_interrupt(struct virtio_pci *vp, bool config_changed)
{
	if (config_changed)
		vp->config_generation++;
	vp->isr |= VIRTIO_ISR_CONFIG;
	update_irq(vp);
}

void virtio_pci_device_error(struct virtio_pci *vp)
{
	if (vp->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	vp->stats.device_errors++;
	bool was_running = virtio_pci_running(vp);
	vp->status |= VIRTIO_STATUS_NEEDS_RESET;
	/* Configuration change notifications are for a running driver only;
	 * one still setting up finds the bit when it reads the status. */
	if (was_running)
		virtio_pci_config_interrupt(vp, false);
}

void virtio_pci_reset(struct virtio_pci *vp)
{
	if (vp->p.ops && vp->p.ops->reset)
		vp->p.ops->reset(vp->p.opaque);
	for (unsigned q = 0; q < vp->p.num_queues; q++)
		virtq_reset(&vp->p.queues[q]);
	vp->driver_features = 0;
	vp->device_feature_select = 0;
	vp->driver_feature_select = 0;
	vp->queue_select = 0;
	vp->status = 0;
	vp->isr = 0;
	update_irq(vp);
	vp->stats.resets++;
}

static bool features_acceptable(const struct virtio_pci *vp)
{
	return !(vp->driver_features & ~vp->device_features) &&
	       (vp->driver_features & bit(VIRTIO_F_VERSION_1));
}

static void notify_queue(struct virtio_pci *vp, unsigned q)
{
	if (q < vp->p.num_queues && vp->p.queues[q].enabled && virtio_pci_running(vp) &&
	    vp->p.ops && vp->p.ops->queue_notify)
		vp->p.ops->queue_notify(vp->p.opaque, q);
}

/* The driver may only add bits until it resets; the device owns
 * NEEDS_RESET, and FEATURES_OK sticks only on acceptable features. */
static void write_status(struct virtio_pci *vp, uint8_t value)
{
	if (value == 0) {
		virtio_pci_reset(vp);
		return;
	}
	uint8_t old = vp->status;
	uint8_t next = (uint8_t)((value & ~VIRTIO_STATUS_NEEDS_RESET) |
				 (old & VIRTIO_STATUS_NEEDS_RESET));

	if ((next & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK) &&
	    !features_acceptable(vp)) {
		next &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
		vp->stats.feature_refusals++;
	}
	vp->status = next;
	/* Buffers made available before DRIVER_OK wait for it. */
	if ((next & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK))
		for (unsigned q = 0; q < vp->p.num_queues; q++)
			notify_queue(vp, q);
}

static uint32_t field_value(const struct virtio_pci *vp, enum field f)
{
	const struct virtq *q = selected_queue(vp);

	switch (f) {
	case F_DFSELECT:
		return vp->device_feature_select;
	case F_DF:
		return vp->device_feature_select < 2
			       ? (uint32_t)(vp->device_features >> (32 * vp->device_feature_select))
			       : 0;
	case F_GFSELECT:
		return vp->driver_feature_select;
	case F_GF:
		return vp->driver_feature_select < 2
			       ? (uint32_t)(vp->driver_features >> (32 * vp->driver_feature_select))
			       : 0;
	case F_MSIX_CONFIG:
	case F_QMSIX:
		return VIRTIO_MSI_NO_VECTOR;
	case F_NUM_QUEUES:
		return vp->p.num_queues;
	case F_STATUS:
		return vp->status;
	case F_GENERATION:
		return vp->config_generation;
	case F_QSELECT:
		return vp->queue_select;
	case F_QSIZE:
		return q ? q->size : 0;
	case F_QENABLE:
		return q ? q->enabled : 0;
	case F_QNOTIFY_OFF:
		return q ? vp->queue_select : 0;
	case F_QDESC_LO:
		return q ? (uint32_t)q->desc_addr : 0;
	case F_QDESC_HI:
		return q ? (uint32_t)(q->desc_addr >> 32) : 0;
	case F_QDRIVER_LO:
		return q ? (uint32_t)q->avail_addr : 0;
	case F_QDRIVER_HI:
		return q ? (uint32_t)(q->avail_addr >> 32) : 0;
	case F_QDEVICE_LO:
		return q ? (uint32_t)q->used_addr : 0;
	case F_QDEVICE_HI:
		return q ? (uint32_t)(q->used_addr >> 32) : 0;
	case F_COUNT:
		break;
	}
	return 0;
}

static void set_half(uint64_t *addr, bool high, uint32_t value)
{
	if (high)
		*addr = (*addr & 0xffffffffull) | (uint64_t)value << 32;
	else
		*addr = (*addr & ~0xffffffffull) | value;
}

static void write_queue_field(struct virtio_pci *vp, struct virtq *q, enum field f,
			      uint32_t value)
{
	/* A live queue's layout cannot change under the device. */
	if (q->enabled)
		return;
	switch (f) {
	case F_QSIZE:
		if (virtq_size_valid(q, value)) {
			q->size = (uint16_t)value;
		} else {
			vp->stats.bad_queue_sizes++;
			virtio_pci_device_error(vp);
		}
		break;
	case F_QENABLE:
		/* Without VIRTIO_F_RING_RESET a queue is disabled only by a
		 * device reset: writing 0 does nothing. */
		if ((value & 1) &&
		    virtq_start(q, vp->ram, virtio_pci_negotiated(vp, VIRTIO_F_RING_EVENT_IDX),
				virtio_pci_negotiated(vp, VIRTIO_F_RING_INDIRECT_DESC)) < 0)
			virtio_pci_device_error(vp);
		break;
	case F_QDESC_LO:
	case F_QDESC_HI:
		set_half(&q->desc_addr, f == F_QDESC_HI, value);
		break;
	case F_QDRIVER_LO:
	case F_QDRIVER_HI:
		set_half(&q->avail_addr, f == F_QDRIVER_HI, value);
		break;
	case F_QDEVICE_LO:
	case F_QDEVICE_HI:
		set_half(&q->used_addr, f == F_QDEVICE_HI, value);
		break;
	default:
		break;
	}
}

static void write_field(struct virtio_pci *vp, enum field f, uint32_t value)
{
	struct virtq *q = selected_queue(vp);

	switch (f) {
	case F_DFSELECT:
		vp->device_feature_select = value;
		break;
	case F_GFSELECT:
		vp->driver_feature_select = value;
		break;
	case F_GF:
		if (vp->status & VIRTIO_STATUS_FEATURES_OK || vp->driver_feature_select >= 2)
			break;
		if (vp->driver_feature_select)
			vp->driver_features = (vp->driver_features & 0xffffffffull) |
					      (uint64_t)value << 32;
		else
			vp->driver_features = (vp->driver_features & ~0xffffffffull) | value;
		break;
	case F_STATUS:
		write_status(vp, (uint8_t)value);
		break;
	case F_QSELECT:
		vp->queue_select = (uint16_t)value;
		break;
	case F_QSIZE:
	case F_QENABLE:
	case F_QDESC_LO:
	case F_QDESC_HI:
	case F_QDRIVER_LO:
	case F_QDRIVER_HI:
	case F_QDEVICE_LO:
	case F_QDEVICE_HI:
		if (q)
			write_queue_field(vp, q, f, value);
		break;
	default:
		/* Read-only: device features, the queue count, the generation,
		 * notify offsets, and the MSI-X vectors (no MSI-X). */
		break;
	}
}

static uint32_t common_read(const struct virtio_pci *vp, unsigned off, unsigned width)
{
	uint32_t value = 0;

	for (unsigned f = 0; f < F_COUNT; f++) {
		uint32_t v = field_value(vp, (enum field)f);
		for (unsigned b = 0; b < fields[f].width; b++) {
			unsigned at = fields[f].off + b;
			if (at >= off && at < off + width)
				value |= ((v >> (8 * b)) & 0xff) << (8 * (at - off));
		}
	}
	return value;
}

/* Each field the access touches gets its current value with the written
 * bytes merged in, in register order: a narrow write changes only its
 * bytes, a wide one is several field writes. */
static void common_write(struct virtio_pci *vp, unsigned off, unsigned width, uint32_t value)
{
	for (unsigned f = 0; f < F_COUNT; f++) {
		unsigned start = fields[f].off, end = start + fields[f].width;
		if (end <= off || start >= off + width)
			continue;
		uint32_t v = field_value(vp, (enum field)f);
		for (unsigned at = start; at < end; at++) {
			if (at < off || at >= off + width)
				continue;
			unsigned shift = 8 * (at - start);
			uint32_t byte = (value >> (8 * (at - off))) & 0xff;
			v = (v & ~(0xffu << shift)) | byte << shift;
		}
		write_field(vp, (enum field)f, v);
	}
}

static uint64_t bar_read(void *opaque, uint64_t offset, unsigned width)
{
	struct virtio_pci *vp = opaque;
	unsigned in = (unsigned)(offset % VIRTIO_PCI_AREA_SIZE);
	uint64_t value = 0;

	switch (offset / VIRTIO_PCI_AREA_SIZE) {
	case VIRTIO_PCI_COMMON_OFFSET / VIRTIO_PCI_AREA_SIZE:
		return common_read(vp, in, width);
	case VIRTIO_PCI_ISR_OFFSET / VIRTIO_PCI_AREA_SIZE:
		if (in != 0)
			return 0;
		/* Reading acknowledges: the bits clear and INTx goes. */
		value = vp->isr;
		vp->isr = 0;
		update_irq(vp);
		return value;
	case VIRTIO_PCI_DEVICE_OFFSET / VIRTIO_PCI_AREA_SIZE:
		for (unsigned b = 0; b < width; b++)
			if (in + b < vp->p.config_len)
				value |= (uint64_t)vp->p.config[in + b] << (8 * b);
		return value;
	default:
		return 0;
	}
}

static void bar_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct virtio_pci *vp = opaque;
	unsigned in = (unsigned)(offset % VIRTIO_PCI_AREA_SIZE);

	switch (offset / VIRTIO_PCI_AREA_SIZE) {
	case VIRTIO_PCI_COMMON_OFFSET / VIRTIO_PCI_AREA_SIZE:
		common_write(vp, in, width, (uint32_t)value);
		break;
	case VIRTIO_PCI_NOTIFY_OFFSET / VIRTIO_PCI_AREA_SIZE:
		/* The address says which queue; the value (the queue index
		 * without VIRTIO_F_NOTIFICATION_DATA) adds nothing. */
		notify_queue(vp, in / VIRTIO_PCI_NOTIFY_MULTIPLIER);
		break;
	case VIRTIO_PCI_DEVICE_OFFSET / VIRTIO_PCI_AREA_SIZE:
		if (vp->p.ops && vp->p.ops->config_write && in < vp->p.config_len &&
		    width <= vp->p.config_len - in)
			vp->p.ops->config_write(vp->p.opaque, in, width, (uint32_t)value);
		break;
	default:
		/* The ISR is read-only. */
		break;
	}
}

static const struct bus_ops bar_ops = {
	.read = bar_read,
	.write = bar_write,
	.max_width = 4,
};

static void bar_mapped(void *opaque, unsigned bar, uint64_t addr)
{
	struct virtio_pci *vp = opaque;

	/* An overlap leaves the BAR off the bus, as a real device that lost
	 * the decode: nothing more to do. */
	if (bar == VIRTIO_PCI_BAR)
		pci_region_place(&vp->region, addr);
}

/* The PCI configuration access window (cfg_type 5): the BAR access its
 * bar, offset and length describe, when they describe one this BAR takes;
 * false for any other. */
static bool cfg_window(const struct virtio_pci *vp, unsigned *offset, unsigned *width)
{
	unsigned reg = vp->cfg_cap;
	uint32_t off = pci_function_get(&vp->pci, reg + CAP_OFFSET, 4);
	uint32_t len = pci_function_get(&vp->pci, reg + CAP_LENGTH, 4);
	if (pci_function_get(&vp->pci, reg + CAP_BAR, 1) != VIRTIO_PCI_BAR ||
	    (len != 1 && len != 2 && len != 4) || off % len || off >= VIRTIO_PCI_BAR_SIZE ||
	    VIRTIO_PCI_BAR_SIZE - off < len)
		return false;
	*offset = off;
	*width = len;
	return true;
}

/* Whether [reg, reg + width) touches the window's pci_cfg_data. */
static bool cfg_data_access(const struct virtio_pci *vp, unsigned reg, unsigned width)
{
	unsigned data = vp->cfg_cap + CFG_CAP_DATA;
	return vp->cfg_cap && reg < data + 4 && reg + width > data;
}

static uint64_t bar_read(void *opaque, uint64_t offset, unsigned width);
static void bar_write(void *opaque, uint64_t offset, unsigned width, uint64_t value);

/* A read of pci_cfg_data reads the BAR through the window first. */
static void config_read(void *opaque, unsigned reg, unsigned width)
{
	struct virtio_pci *vp = opaque;
	unsigned off, len;
	if (cfg_data_access(vp, reg, width) && cfg_window(vp, &off, &len))
		pci_function_set(&vp->pci, vp->cfg_cap + CFG_CAP_DATA, 4,
				 (uint32_t)bar_read(vp, off, len));
}

/* A write of pci_cfg_data writes its first length bytes to the BAR. */
static void config_written(void *opaque, unsigned reg, unsigned width)
{
	struct virtio_pci *vp = opaque;
	unsigned off, len;
	if (cfg_data_access(vp, reg, width) && cfg_window(vp, &off, &len)) {
		uint32_t data = pci_function_get(&vp->pci, vp->cfg_cap + CFG_CAP_DATA, 4);
		bar_write(vp, off, len, len == 4 ? data : data & ((1u << (8 * len)) - 1));
	}
}

static int add_cap(struct virtio_pci *vp, uint8_t cfg_type, uint32_t offset, uint32_t length)
{
	unsigned len = cfg_type == VIRTIO_PCI_CAP_NOTIFY_CFG ? NOTIFY_CAP_LEN
		       : cfg_type == VIRTIO_PCI_CAP_PCI_CFG ? CFG_CAP_LEN
							     : CAP_LEN;
	int at = pci_function_add_capability(&vp->pci, PCI_CAP_ID_VENDOR, len);

	if (at < 0)
		return at;
	unsigned reg = (unsigned)at;
	pci_function_set(&vp->pci, reg + 2, 1, len);
	pci_function_set(&vp->pci, reg + CAP_CFG_TYPE, 1, cfg_type);
	/* The access window points nowhere until the driver aims it. */
	pci_function_set(&vp->pci, reg + CAP_BAR, 1,
			 cfg_type == VIRTIO_PCI_CAP_PCI_CFG ? 0 : VIRTIO_PCI_BAR);
	pci_function_set(&vp->pci, reg + CAP_OFFSET, 4, offset);
	pci_function_set(&vp->pci, reg + CAP_LENGTH, 4, length);
	if (cfg_type == VIRTIO_PCI_CAP_NOTIFY_CFG)
		pci_function_set(&vp->pci, reg + CAP_MULTIPLIER, 4, VIRTIO_PCI_NOTIFY_MULTIPLIER);
	if (cfg_type == VIRTIO_PCI_CAP_PCI_CFG) {
		/* The window: the driver points it (bar, offset, length)
		 * and moves data through pci_cfg_data. */
		vp->cfg_cap = (uint8_t)reg;
		memset(vp->pci.wmask + reg + CAP_BAR, 0xff, 1);
		memset(vp->pci.wmask + reg + CAP_OFFSET, 0xff, 4 + 4 + 4);
	}
	return 0;
}

int virtio_pci_init(struct virtio_pci *vp, const struct virtio_pci_params *p,
		    const struct guest_ram *ram, struct bus *bus)
{
	int err;

	if (p->num_queues == 0 ||
	    p->num_queues > VIRTIO_PCI_AREA_SIZE / VIRTIO_PCI_NOTIFY_MULTIPLIER ||
	    p->config_len > VIRTIO_PCI_AREA_SIZE)
		return -EINVAL;
	memset(vp, 0, sizeof(*vp));
	vp->p = *p;
	vp->ram = ram;
	vp->device_features = p->features | bit(VIRTIO_F_VERSION_1) |
			      bit(VIRTIO_F_RING_INDIRECT_DESC) | bit(VIRTIO_F_RING_EVENT_IDX);

	struct pci_id id = {
		.vendor = VIRTIO_PCI_VENDOR,
		.device = (uint16_t)(VIRTIO_PCI_DEVICE_BASE + p->device_type),
		.revision = VIRTIO_PCI_REVISION,
		.class_code = p->class_code,
		.subsystem_vendor = VIRTIO_PCI_VENDOR,
		.subsystem = p->device_type,
	};
	pci_function_init(&vp->pci, p->devfn, &id);
	pci_function_set_pin(&vp->pci, PCI_PIN_INTA);
	err = pci_function_add_bar(&vp->pci, VIRTIO_PCI_BAR, PCI_BAR_MEM32, VIRTIO_PCI_BAR_SIZE);
	if (!err)
		err = add_cap(vp, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFFSET,
			      VIRTIO_PCI_COMMON_LEN);
	if (!err)
		err = add_cap(vp, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFFSET, 1);
	if (!err)
		err = add_cap(vp, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_DEVICE_OFFSET,
			      p->config_len);
	if (!err)
		err = add_cap(vp, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_OFFSET,
			      p->num_queues * VIRTIO_PCI_NOTIFY_MULTIPLIER);
	if (!err)
		err = add_cap(vp, VIRTIO_PCI_CAP_PCI_CFG, 0, 0);
	if (err)
		return err;
	vp->pci.config_read = config_read;
	vp->pci.config_written = config_written;
	vp->pci.bar_mapped = bar_mapped;
	vp->pci.opaque = vp;
	pci_region_init(&vp->region, bus, BUS_SPACE_MMIO, "virtio-pci", VIRTIO_PCI_BAR_SIZE,
			&bar_ops, vp);
	for (unsigned q = 0; q < p->num_queues; q++)
		virtq_reset(&p->queues[q]);
	return 0;
}

/* ---- Snapshots ---------------------------------------------------------- */

void virtio_pci_save(const struct virtio_pci *vp, struct snap_writer *w)
{
	pci_function_save(&vp->pci, w);
	snapw_u64(w, vp->device_features);
	snapw_u64(w, vp->driver_features);
	snapw_u32(w, vp->device_feature_select);
	snapw_u32(w, vp->driver_feature_select);
	snapw_u16(w, vp->queue_select);
	snapw_u8(w, vp->status);
	snapw_u8(w, vp->config_generation);
	snapw_u8(w, vp->isr);
	snapw_u32(w, vp->p.num_queues);
	for (unsigned q = 0; q < vp->p.num_queues; q++)
		virtq_save(&vp->p.queues[q], w);
}

void virtio_pci_load(struct virtio_pci *vp, struct snap_reader *r)
{
	pci_function_load(&vp->pci, r);
	uint64_t device_features = snapr_u64(r);
	vp->driver_features = snapr_u64(r);
	vp->device_feature_select = snapr_u32(r);
	vp->driver_feature_select = snapr_u32(r);
	vp->queue_select = snapr_u16(r);
	vp->status = snapr_u8(r);
	vp->config_generation = snapr_u8(r);
	vp->isr = snapr_u8(r);
	uint32_t nq = snapr_u32(r);
	if (r->err)
		return;
	if (device_features != vp->device_features || nq != vp->p.num_queues) {
		snapr_fail(r, "the device had features 0x%llx and %u queues, this one 0x%llx and %u",
			   (unsigned long long)device_features, nq,
			   (unsigned long long)vp->device_features, vp->p.num_queues);
		return;
	}
	for (unsigned q = 0; q < vp->p.num_queues; q++)
		virtq_load(&vp->p.queues[q], vp->ram, r);
}
