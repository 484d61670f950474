/* virtio-input as an absolute pointer: the configuration's select/subsel
 * answers, reports queued in a bounded ring and written one event a
 * buffer into the event queue. See virtio_input.h. */
#include "devices/virtio_input.h"
#include "host/snapfile.h"

#include <errno.h>
#include <string.h>

static const char tablet_name[] = "btvm Virtio Tablet";
static const char tablet_serial[] = "btvm-tablet";

/* ---- Configuration ------------------------------------------------------ */

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (unsigned i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void set_bit(uint8_t *bitmap, unsigned bit, unsigned *size)
{
	bitmap[bit / 8] |= (uint8_t)(1u << (bit % 8));
	if (bit / 8 + 1 > *size)
		*size = bit / 8 + 1;
}

/* Fills size and the union for the select and subsel the driver wrote. */
static void select_config(struct virtio_input *t)
{
	uint8_t select = t->config[VIRTIO_INPUT_CFG_SELECT];
	uint8_t subsel = t->config[VIRTIO_INPUT_CFG_SUBSEL];
	uint8_t *u = t->config + VIRTIO_INPUT_CFG_UNION;
	unsigned size = 0;

	memset(t->config + VIRTIO_INPUT_CFG_SIZE, 0,
	       VIRTIO_INPUT_CONFIG_SIZE - VIRTIO_INPUT_CFG_SIZE);
	switch (select) {
	case VIRTIO_INPUT_CFG_ID_NAME:
		if (subsel == 0) {
			size = sizeof(tablet_name) - 1;
			memcpy(u, tablet_name, size);
		}
		break;
	case VIRTIO_INPUT_CFG_ID_SERIAL:
		if (subsel == 0) {
			size = sizeof(tablet_serial) - 1;
			memcpy(u, tablet_serial, size);
		}
		break;
	case VIRTIO_INPUT_CFG_ID_DEVIDS:
		if (subsel == 0) {
			put_le16(u, VIRTIO_INPUT_BUS_VIRTUAL);
			put_le16(u + 2, 0x0627);
			put_le16(u + 4, 0x0003);
			put_le16(u + 6, 0x0002);
			size = 8;
		}
		break;
	case VIRTIO_INPUT_CFG_EV_BITS:
		switch (subsel) {
		case VIRTIO_INPUT_EV_SYN:
			set_bit(u, VIRTIO_INPUT_SYN_REPORT, &size);
			break;
		case VIRTIO_INPUT_EV_KEY:
			set_bit(u, VIRTIO_INPUT_BTN_LEFT, &size);
			set_bit(u, VIRTIO_INPUT_BTN_RIGHT, &size);
			set_bit(u, VIRTIO_INPUT_BTN_MIDDLE, &size);
			break;
		case VIRTIO_INPUT_EV_REL:
			set_bit(u, VIRTIO_INPUT_REL_WHEEL, &size);
			break;
		case VIRTIO_INPUT_EV_ABS:
			set_bit(u, VIRTIO_INPUT_ABS_X, &size);
			set_bit(u, VIRTIO_INPUT_ABS_Y, &size);
			break;
		default:
			break;
		}
		break;
	case VIRTIO_INPUT_CFG_ABS_INFO:
		if (subsel == VIRTIO_INPUT_ABS_X || subsel == VIRTIO_INPUT_ABS_Y) {
			/* min 0 (zeroed), max, fuzz, flat and res 0. */
			put_le32(u + 4, VIRTIO_INPUT_ABS_MAX);
			size = 20;
		}
		break;
	default:
		/* PROP_BITS and anything unknown: nothing. */
		break;
	}
	t->config[VIRTIO_INPUT_CFG_SIZE] = (uint8_t)size;
}

static void input_config_write(void *opaque, unsigned offset, unsigned width, uint32_t value)
{
	struct virtio_input *t = opaque;
	bool changed = false;

	/* Only select and subsel are the driver's; a wider write covering
	 * them sets them too, the rest of it is dropped. */
	for (unsigned b = 0; b < width; b++) {
		unsigned at = offset + b;
		if (at == VIRTIO_INPUT_CFG_SELECT || at == VIRTIO_INPUT_CFG_SUBSEL) {
			t->config[at] = (uint8_t)(value >> (8 * b));
			changed = true;
		}
	}
	if (changed)
		select_config(t);
}

/* ---- Events ------------------------------------------------------------- */

static void report_written(struct virtio_input *t, const void *ptr, uint64_t len)
{
	uint64_t gpa = (uint64_t)((const uint8_t *)ptr - t->ram->host);

	if (t->host.guest_written && len)
		t->host.guest_written(t->host.opaque, gpa, len);
}

static void publish(struct virtio_input *t, struct virtq *vq)
{
	report_written(t, vq->used, virtq_used_ring_bytes(vq));
	if (virtq_flush(vq))
		virtio_pci_queue_interrupt(&t->vp);
}

static void broken(struct virtio_input *t)
{
	t->stats.device_errors++;
	virtio_pci_device_error(&t->vp);
}

/* One event into one buffer; copies it through the segments (a driver
 * may split the 8 bytes). */
static void write_event(struct virtio_input *t, const struct virtq_chain *c,
			const struct virtio_input_event *ev)
{
	uint8_t bytes[VIRTIO_INPUT_EVENT_SIZE];
	unsigned done = 0;

	put_le16(bytes, ev->type);
	put_le16(bytes + 2, ev->code);
	put_le32(bytes + 4, ev->value);
	for (unsigned i = 0; i < c->nseg && done < sizeof(bytes); i++) {
		unsigned n = t->segs[i].len < sizeof(bytes) - done ? t->segs[i].len
								   : (unsigned)sizeof(bytes) - done;
		memcpy(t->segs[i].ptr, bytes + done, n);
		report_written(t, t->segs[i].ptr, n);
		done += n;
	}
}

/* The next buffer the driver posted on vq: false when there is none, or
 * when the ring is broken (the device then needs a reset). */
static bool pop_chain(struct virtio_input *t, struct virtq *vq, struct virtq_chain *c)
{
	int r = virtq_pop(vq, t->ram, c, t->segs, sizeof(t->segs) / sizeof(t->segs[0]));
	if (r < 0)
		broken(t);
	return r > 0;
}

/* Moves waiting events into the buffers the driver posted, in order. */
static void deliver(struct virtio_input *t)
{
	struct virtq *vq = &t->vq[VIRTIO_INPUT_EVENTQ];
	bool pushed = false;

	while (t->count && virtio_pci_running(&t->vp) && vq->enabled) {
		struct virtq_chain c;
		if (!pop_chain(t, vq, &c))
			break;
		/* Four segments hold any sane split of 8 bytes; a chain cut
		 * short (truncated) would lose its middle ones. */
		if (c.readable || c.truncated || c.writable < VIRTIO_INPUT_EVENT_SIZE) {
			t->stats.bad_buffers++;
			virtq_push(vq, c.head, 0);
			pushed = true;
			continue;
		}
		write_event(t, &c, &t->pending[t->head]);
		t->head = (t->head + 1) % VIRTIO_INPUT_PENDING;
		t->count--;
		t->stats.events++;
		virtq_push(vq, c.head, VIRTIO_INPUT_EVENT_SIZE);
		pushed = true;
	}
	/* Part of the tail report went: it can no longer be rewritten. */
	if (t->count < 3)
		t->tail_motion = false;
	if (pushed)
		publish(t, vq);
}

/* The status queue carries LED and sound states a tablet has none of:
 * its buffers go back unread. */
static void drain_status(struct virtio_input *t)
{
	struct virtq *vq = &t->vq[VIRTIO_INPUT_STATUSQ];
	bool pushed = false;

	while (virtio_pci_running(&t->vp)) {
		struct virtq_chain c;
		if (!pop_chain(t, vq, &c))
			break;
		t->stats.status_buffers++;
		virtq_push(vq, c.head, 0);
		pushed = true;
	}
	if (pushed)
		publish(t, vq);
}

static void drop_pending(struct virtio_input *t)
{
	t->head = t->count = 0;
	t->tail_motion = false;
}

/* Drops the oldest whole report (through its SYN_REPORT). */
static void drop_oldest(struct virtio_input *t)
{
	while (t->count) {
		const struct virtio_input_event *ev = &t->pending[t->head];
		bool syn = ev->type == VIRTIO_INPUT_EV_SYN;
		t->head = (t->head + 1) % VIRTIO_INPUT_PENDING;
		t->count--;
		if (syn)
			break;
	}
	t->stats.dropped++;
	if (t->count < 3)
		t->tail_motion = false;
}

static void append(struct virtio_input *t, uint16_t type, uint16_t code, uint32_t value)
{
	t->pending[(t->head + t->count) % VIRTIO_INPUT_PENDING] =
		(struct virtio_input_event){ .type = type, .code = code, .value = value };
	t->count++;
}

void virtio_input_pointer(struct virtio_input *t, uint32_t x, uint32_t y, int dz,
			  unsigned buttons)
{
	static const struct {
		unsigned bit;
		uint16_t code;
	} button_codes[] = {
		{ VIRTIO_INPUT_LEFT, VIRTIO_INPUT_BTN_LEFT },
		{ VIRTIO_INPUT_RIGHT, VIRTIO_INPUT_BTN_RIGHT },
		{ VIRTIO_INPUT_MIDDLE, VIRTIO_INPUT_BTN_MIDDLE },
	};
	/* Buttons, both axes, the wheel, SYN_REPORT. */
	enum { MAX_REPORT = 3 + 2 + 1 + 1 };

	if (!t->attached)
		return;
	if (!virtio_input_active(t)) {
		t->stats.not_running++;
		return;
	}
	x = x > VIRTIO_INPUT_ABS_MAX ? VIRTIO_INPUT_ABS_MAX : x;
	y = y > VIRTIO_INPUT_ABS_MAX ? VIRTIO_INPUT_ABS_MAX : y;
	buttons &= VIRTIO_INPUT_LEFT | VIRTIO_INPUT_RIGHT | VIRTIO_INPUT_MIDDLE;
	t->stats.reports++;
	bool motion_only = buttons == t->buttons && dz == 0;
	if (motion_only && t->tail_motion) {
		/* The guest has read none of the last position: it gets the
		 * newest instead. */
		unsigned at = (t->head + t->count - 3) % VIRTIO_INPUT_PENDING;
		t->pending[at].value = x;
		t->pending[(at + 1) % VIRTIO_INPUT_PENDING].value = y;
		t->x = x;
		t->y = y;
		t->stats.coalesced++;
		deliver(t);
		return;
	}
	while (VIRTIO_INPUT_PENDING - t->count < MAX_REPORT)
		drop_oldest(t);
	for (unsigned i = 0; i < sizeof(button_codes) / sizeof(button_codes[0]); i++)
		if ((buttons ^ t->buttons) & button_codes[i].bit)
			append(t, VIRTIO_INPUT_EV_KEY, button_codes[i].code,
			       (buttons & button_codes[i].bit) ? 1 : 0);
	append(t, VIRTIO_INPUT_EV_ABS, VIRTIO_INPUT_ABS_X, x);
	append(t, VIRTIO_INPUT_EV_ABS, VIRTIO_INPUT_ABS_Y, y);
	if (dz)
		append(t, VIRTIO_INPUT_EV_REL, VIRTIO_INPUT_REL_WHEEL, (uint32_t)dz);
	append(t, VIRTIO_INPUT_EV_SYN, VIRTIO_INPUT_SYN_REPORT, 0);
	t->tail_motion = motion_only;
	t->x = x;
	t->y = y;
	t->buttons = buttons;
	deliver(t);
}

/* ---- The transport's callbacks ------------------------------------------ */

static void input_queue_notify(void *opaque, unsigned queue)
{
	struct virtio_input *t = opaque;

	if (queue == VIRTIO_INPUT_STATUSQ)
		drain_status(t);
	else
		deliver(t);
}

static void input_reset(void *opaque)
{
	struct virtio_input *t = opaque;

	/* The next driver starts from nothing held. */
	drop_pending(t);
	t->x = t->y = 0;
	t->buttons = 0;
}

static const struct virtio_pci_ops input_ops = {
	.queue_notify = input_queue_notify,
	.reset = input_reset,
	.config_write = input_config_write,
};

/* ---- Entry points ------------------------------------------------------- */

bool virtio_input_active(const struct virtio_input *t)
{
	return t->attached && virtio_pci_running(&t->vp) && t->vq[VIRTIO_INPUT_EVENTQ].enabled;
}

void virtio_input_reset(struct virtio_input *t)
{
	if (t->attached)
		virtio_pci_reset(&t->vp);
}

int virtio_input_attach(struct virtio_input *t, uint8_t devfn, const struct guest_ram *ram,
			struct bus *bus, const struct virtio_input_host *host)
{
	if (t->attached)
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	t->ram = ram;
	t->host = *host;
	virtq_init(&t->vq[VIRTIO_INPUT_EVENTQ], VIRTIO_INPUT_QUEUE_SIZE);
	virtq_init(&t->vq[VIRTIO_INPUT_STATUSQ], VIRTIO_INPUT_QUEUE_SIZE);
	select_config(t);
	struct virtio_pci_params p = {
		.devfn = devfn,
		.device_type = VIRTIO_ID_INPUT,
		.class_code = VIRTIO_INPUT_PCI_CLASS,
		.features = 0,
		.queues = t->vq,
		.num_queues = 2,
		.config = t->config,
		.config_len = VIRTIO_INPUT_CONFIG_SIZE,
		.ops = &input_ops,
		.opaque = t,
	};
	int err = virtio_pci_init(&t->vp, &p, ram, bus);
	if (err)
		return err;
	t->attached = true;
	return 0;
}

void virtio_input_close(struct virtio_input *t)
{
	if (!t->attached)
		return;
	pci_region_place(&t->vp.region, PCI_BAR_UNMAPPED);
	t->attached = false;
}

/* ---- Snapshots ---------------------------------------------------------- */

#define VIRTIO_INPUT_SNAP_VERSION 1u

void virtio_input_save(const struct virtio_input *t, struct snap_writer *w)
{
	snapw_begin(w, "VINP", VIRTIO_INPUT_SNAP_VERSION, false);
	snapw_u8(w, t->config[VIRTIO_INPUT_CFG_SELECT]);
	snapw_u8(w, t->config[VIRTIO_INPUT_CFG_SUBSEL]);
	snapw_u32(w, t->x);
	snapw_u32(w, t->y);
	snapw_u32(w, t->buttons);
	virtio_pci_save(&t->vp, w);
	snapw_end(w);
}

int virtio_input_load(struct virtio_input *t, struct snap_reader *r)
{
	if (r->version != VIRTIO_INPUT_SNAP_VERSION)
		return snapr_fail(r, "version %u, this btvm reads %u", r->version,
				  VIRTIO_INPUT_SNAP_VERSION);
	t->config[VIRTIO_INPUT_CFG_SELECT] = snapr_u8(r);
	t->config[VIRTIO_INPUT_CFG_SUBSEL] = snapr_u8(r);
	select_config(t);
	uint32_t x = snapr_u32(r), y = snapr_u32(r), buttons = snapr_u32(r);
	if (!r->err && (x > VIRTIO_INPUT_ABS_MAX || y > VIRTIO_INPUT_ABS_MAX ||
			buttons & ~(VIRTIO_INPUT_LEFT | VIRTIO_INPUT_RIGHT | VIRTIO_INPUT_MIDDLE)))
		return snapr_fail(r, "a tablet position or buttons out of range");
	t->x = x;
	t->y = y;
	t->buttons = buttons;
	drop_pending(t);
	virtio_pci_load(&t->vp, r);
	return snapr_end(r);
}
