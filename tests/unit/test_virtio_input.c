/* virtio-input (the tablet) driven the way Linux's virtio_input drives it:
 * identification, the configuration's select/subsel answers (name,
 * serial, IDs, event bits, axis ranges), events written into posted
 * buffers with the right bytes, motion coalesced and the oldest reports
 * dropped when the guest posts none, the status queue drained, bad
 * buffers returned empty, a broken queue put in DEVICE_NEEDS_RESET, a
 * reset, and a snapshot round trip. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "devices/bus.h"
#include "devices/pci_host.h"
#include "devices/virtio_input.h"
#include "host/snapfile.h"

#define SLOT	8u
#define DEVFN	(SLOT << 3)
#define IRQ	10u
#define BAR_ADDR 0xfe000000u

#define EVBUF	0x100000u	/* event buffers, 16 bytes a slot */

#define EVQ VIRTIO_INPUT_EVENTQ
#define STQ VIRTIO_INPUT_STATUSQ
#define QSIZE 64u

struct harness {
	struct guest_ram ram;
	struct bus bus;
	struct pci_host pci;
	struct virtio_input t;
	int irq_level;
	unsigned written_calls;
	/* Found by walking the capabilities (virtio_pci_harness.h). */
	uint32_t common, isr, device, notify, mult, device_len;
	unsigned window;
	uint16_t qsize;
	uint16_t avail_idx[2], next_desc[2];
	uint16_t used_seen;
};

#include "virtio_pci_harness.h"

static void on_written(void *opaque, uint64_t gpa, uint64_t len)
{
	struct harness *h = opaque;
	CHECK(gpa + len <= h->ram.size);
	h->written_calls++;
}

/* A fresh device; RAM cleared unless keep_ram (a restore's). */
static void setup_ram(struct harness *h, bool keep_ram)
{
	h->irq_level = 0;
	h->written_calls = 0;
	if (!keep_ram) {
		h->used_seen = 0;
		memset(h->ram.host, 0, h->ram.size);
	}
	pci_begin(h);
	struct virtio_input_host host = { .guest_written = on_written, .opaque = h };
	CHECK_EQ(virtio_input_attach(&h->t, DEVFN, &h->ram, &h->bus, &host), 0);
	pci_plug(h, &h->t.vp.pci);
	CHECK_EQ(h->device_len, VIRTIO_INPUT_CONFIG_SIZE);
}

static void setup(struct harness *h)
{
	setup_ram(h, false);
}

static void driver_start(struct harness *h)
{
	const uint8_t base = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	set_status(h, 0);
	set_status(h, VIRTIO_STATUS_ACKNOWLEDGE);
	set_status(h, base);
	common_wr(h, VIRTIO_PCI_DRIVER_FEATURE_SELECT, 4, 1);
	common_wr(h, VIRTIO_PCI_DRIVER_FEATURE, 4, 1);	/* VERSION_1 */
	set_status(h, base | VIRTIO_STATUS_FEATURES_OK);
	CHECK(status(h) & VIRTIO_STATUS_FEATURES_OK);
	memset(h->ram.host + QBASE(0), 0, 0x8000);
	queue_setup(h, EVQ, QSIZE);
	queue_setup(h, STQ, QSIZE);
	set_status(h, base | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	h->used_seen = 0;
}

/* n event buffers of 8 bytes (filled with 0xee), offered and kicked. */
static void post_events(struct harness *h, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint16_t d = h->next_desc[EVQ];
		h->next_desc[EVQ] = (uint16_t)((d + 1) % QSIZE);
		memset(h->ram.host + EVBUF + 16u * d, 0xee, 16);
		desc(h, EVQ, d, EVBUF + 16u * d, 8, VIRTQ_DESC_F_WRITE, 0);
		offer(h, EVQ, d);
	}
	kick(h, EVQ);
}

/* The next used event buffer's event; false when there is none. */
static bool next_event(struct harness *h, uint16_t *type, uint16_t *code, uint32_t *value)
{
	if (used_idx(h, EVQ) == h->used_seen)
		return false;
	unsigned slot = h->used_seen % QSIZE;
	uint32_t id = get32(h, USED(EVQ) + 4 + 8 * slot);
	uint32_t len = get32(h, USED(EVQ) + 8 + 8 * slot);
	h->used_seen++;
	CHECK_EQ(len, 8);
	const uint8_t *b = h->ram.host + EVBUF + 16u * id;
	*type = (uint16_t)(b[0] | b[1] << 8);
	*code = (uint16_t)(b[2] | b[3] << 8);
	*value = (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 | (uint32_t)b[7] << 24;
	/* The device writes 8 bytes, not the rest of the slot. */
	CHECK_EQ(b[8], 0xee);
	return true;
}

static void expect_event(struct harness *h, uint16_t type, uint16_t code, uint32_t value)
{
	uint16_t t = 0xffff, c = 0xffff;
	uint32_t v = 0xdeadbeef;
	CHECK(next_event(h, &t, &c, &v));
	CHECK_EQ(t, type);
	CHECK_EQ(c, code);
	CHECK_EQ(v, value);
}

static unsigned select_cfg(struct harness *h, uint8_t select, uint8_t subsel)
{
	dev_wr(h, VIRTIO_INPUT_CFG_SELECT, 1, select);
	dev_wr(h, VIRTIO_INPUT_CFG_SUBSEL, 1, subsel);
	CHECK_EQ(dev_rd(h, VIRTIO_INPUT_CFG_SELECT, 1), select);
	CHECK_EQ(dev_rd(h, VIRTIO_INPUT_CFG_SUBSEL, 1), subsel);
	return (unsigned)dev_rd(h, VIRTIO_INPUT_CFG_SIZE, 1);
}

static void test_identity_and_config(struct harness *h)
{
	setup(h);
	CHECK_EQ(cfg_rd(h, PCI_REG_VENDOR, 2), 0x1af4);
	CHECK_EQ(cfg_rd(h, PCI_REG_DEVICE, 2), 0x1052);
	CHECK_EQ(cfg_rd(h, PCI_REG_REVISION, 4) >> 8, VIRTIO_INPUT_PCI_CLASS);
	CHECK_EQ(common_rd(h, VIRTIO_PCI_NUM_QUEUES, 2), 2);

	char name[129] = { 0 };
	unsigned size = select_cfg(h, VIRTIO_INPUT_CFG_ID_NAME, 0);
	CHECK_EQ(size, strlen("btvm Virtio Tablet"));
	for (unsigned i = 0; i < size; i++)
		name[i] = (char)dev_rd(h, VIRTIO_INPUT_CFG_UNION + i, 1);
	CHECK(!strcmp(name, "btvm Virtio Tablet"));
	CHECK(select_cfg(h, VIRTIO_INPUT_CFG_ID_SERIAL, 0) > 0);
	CHECK_EQ(select_cfg(h, VIRTIO_INPUT_CFG_ID_DEVIDS, 0), 8);
	CHECK_EQ(dev_rd(h, VIRTIO_INPUT_CFG_UNION, 4), VIRTIO_INPUT_BUS_VIRTUAL | 0x0627u << 16);
	CHECK_EQ(dev_rd(h, VIRTIO_INPUT_CFG_UNION + 4, 4), 0x0003u | 0x0002u << 16);
	CHECK_EQ(select_cfg(h, VIRTIO_INPUT_CFG_PROP_BITS, 0), 0);

	/* EV_KEY: BTN_LEFT, RIGHT, MIDDLE are bits 0x110-0x112: byte 34. */
	CHECK_EQ(select_cfg(h, VIRTIO_INPUT_CFG_EV_BITS, VIRTIO_INPUT_EV_KEY), 35);
	for (unsigned i = 0; i < 34; i++)
		CHECK_EQ(dev_rd(h, VIRTIO_INPUT_CFG_UNION + i, 1), 0);
	CHECK_EQ(dev_rd(h, VIRTIO_INPUT_CFG_UNION + 34, 1), 0x07);
	CHECK_EQ(select_cfg(h, VIRTIO_INPUT_CFG_EV_BITS, VIRTIO_INPUT_EV_REL), 2);
	CHECK_EQ(dev_rd(h, VIRTIO_INPUT_CFG_UNION, 2), 1u << VIRTIO_INPUT_REL_WHEEL);
	CHECK_EQ(select_cfg(h, VIRTIO_INPUT_CFG_EV_BITS, VIRTIO_INPUT_EV_ABS), 1);
	CHECK_EQ(dev_rd(h, VIRTIO_INPUT_CFG_UNION, 1), 0x03);
	CHECK_EQ(select_cfg(h, VIRTIO_INPUT_CFG_EV_BITS, VIRTIO_INPUT_EV_SYN), 1);
	CHECK_EQ(dev_rd(h, VIRTIO_INPUT_CFG_UNION, 1), 0x01);
	/* Types it does not have: EV_MSC, EV_LED, EV_REP. */
	CHECK_EQ(select_cfg(h, VIRTIO_INPUT_CFG_EV_BITS, 0x04), 0);
	CHECK_EQ(select_cfg(h, VIRTIO_INPUT_CFG_EV_BITS, 0x11), 0);
	CHECK_EQ(select_cfg(h, VIRTIO_INPUT_CFG_EV_BITS, 0x14), 0);

	for (unsigned axis = 0; axis < 2; axis++) {
		CHECK_EQ(select_cfg(h, VIRTIO_INPUT_CFG_ABS_INFO, (uint8_t)axis), 20);
		CHECK_EQ(dev_rd(h, VIRTIO_INPUT_CFG_UNION, 4), 0);
		CHECK_EQ(dev_rd(h, VIRTIO_INPUT_CFG_UNION + 4, 4), VIRTIO_INPUT_ABS_MAX);
		CHECK_EQ(dev_rd(h, VIRTIO_INPUT_CFG_UNION + 8, 4), 0);
	}
	CHECK_EQ(select_cfg(h, VIRTIO_INPUT_CFG_ABS_INFO, 2), 0);
	CHECK_EQ(dev_rd(h, VIRTIO_INPUT_CFG_UNION + 4, 4), 0);
	CHECK_EQ(select_cfg(h, 0x7f, 0), 0);
	/* Select and subsel in one 16-bit write; the union is not the
	 * driver's to write. */
	dev_wr(h, VIRTIO_INPUT_CFG_SELECT, 2, VIRTIO_INPUT_CFG_ABS_INFO | 1u << 8);
	CHECK_EQ(dev_rd(h, VIRTIO_INPUT_CFG_SIZE, 1), 20);
	dev_wr(h, VIRTIO_INPUT_CFG_UNION + 4, 4, 5);
	CHECK_EQ(dev_rd(h, VIRTIO_INPUT_CFG_UNION + 4, 4), VIRTIO_INPUT_ABS_MAX);
	virtio_input_close(&h->t);
}

static void test_events(struct harness *h)
{
	uint16_t type, code;
	uint32_t value;

	setup(h);
	/* Before DRIVER_OK nothing is active and reports go nowhere. */
	CHECK(!virtio_input_active(&h->t));
	virtio_input_pointer(&h->t, 100, 200, 0, 0);
	CHECK_EQ(h->t.stats.not_running, 1);
	driver_start(h);
	CHECK(virtio_input_active(&h->t));
	post_events(h, 16);
	CHECK(!next_event(h, &type, &code, &value));

	virtio_input_pointer(&h->t, 16384, 8191, 0, 0);
	CHECK_EQ(h->irq_level, 1);
	expect_event(h, VIRTIO_INPUT_EV_ABS, VIRTIO_INPUT_ABS_X, 16384);
	expect_event(h, VIRTIO_INPUT_EV_ABS, VIRTIO_INPUT_ABS_Y, 8191);
	expect_event(h, VIRTIO_INPUT_EV_SYN, VIRTIO_INPUT_SYN_REPORT, 0);
	CHECK(!next_event(h, &type, &code, &value));
	CHECK(h->written_calls > 0);
	CHECK_EQ(bus_read(&h->bus, BUS_SPACE_MMIO, BAR_ADDR + h->isr, 1), VIRTIO_ISR_QUEUE);
	CHECK_EQ(h->irq_level, 0);

	/* A click: the left button's press, the position, the report; then
	 * the wheel one notch towards the user while held; out of range
	 * positions are clamped. */
	virtio_input_pointer(&h->t, 40000, 5, 0, VIRTIO_INPUT_LEFT);
	expect_event(h, VIRTIO_INPUT_EV_KEY, VIRTIO_INPUT_BTN_LEFT, 1);
	expect_event(h, VIRTIO_INPUT_EV_ABS, VIRTIO_INPUT_ABS_X, VIRTIO_INPUT_ABS_MAX);
	expect_event(h, VIRTIO_INPUT_EV_ABS, VIRTIO_INPUT_ABS_Y, 5);
	expect_event(h, VIRTIO_INPUT_EV_SYN, VIRTIO_INPUT_SYN_REPORT, 0);
	virtio_input_pointer(&h->t, 1, 2, -1, VIRTIO_INPUT_LEFT | VIRTIO_INPUT_MIDDLE);
	expect_event(h, VIRTIO_INPUT_EV_KEY, VIRTIO_INPUT_BTN_MIDDLE, 1);
	expect_event(h, VIRTIO_INPUT_EV_ABS, VIRTIO_INPUT_ABS_X, 1);
	expect_event(h, VIRTIO_INPUT_EV_ABS, VIRTIO_INPUT_ABS_Y, 2);
	expect_event(h, VIRTIO_INPUT_EV_REL, VIRTIO_INPUT_REL_WHEEL, 0xffffffffu);
	expect_event(h, VIRTIO_INPUT_EV_SYN, VIRTIO_INPUT_SYN_REPORT, 0);
	/* 12 of 16 buffers used: the release report (5 events) goes in
	 * part, the rest when buffers come. */
	virtio_input_pointer(&h->t, 1, 2, 0, 0);
	expect_event(h, VIRTIO_INPUT_EV_KEY, VIRTIO_INPUT_BTN_LEFT, 0);
	expect_event(h, VIRTIO_INPUT_EV_KEY, VIRTIO_INPUT_BTN_MIDDLE, 0);
	expect_event(h, VIRTIO_INPUT_EV_ABS, VIRTIO_INPUT_ABS_X, 1);
	expect_event(h, VIRTIO_INPUT_EV_ABS, VIRTIO_INPUT_ABS_Y, 2);
	CHECK(!next_event(h, &type, &code, &value));
	CHECK_EQ(h->t.count, 1);
	post_events(h, 1);
	expect_event(h, VIRTIO_INPUT_EV_SYN, VIRTIO_INPUT_SYN_REPORT, 0);

	/* No buffers: motion coalesces into one waiting report. */
	for (unsigned i = 0; i < 1000; i++)
		virtio_input_pointer(&h->t, i, 2 * i, 0, 0);
	CHECK_EQ(h->t.count, 3);
	post_events(h, 8);
	expect_event(h, VIRTIO_INPUT_EV_ABS, VIRTIO_INPUT_ABS_X, 999);
	expect_event(h, VIRTIO_INPUT_EV_ABS, VIRTIO_INPUT_ABS_Y, 1998);
	expect_event(h, VIRTIO_INPUT_EV_SYN, VIRTIO_INPUT_SYN_REPORT, 0);
	CHECK(!next_event(h, &type, &code, &value));

	/* Clicks do not coalesce: the ring stays bounded, the oldest reports
	 * go, and what is delivered starts at a report's beginning. 5 buffers
	 * are still posted. */
	uint64_t dropped = h->t.stats.dropped;
	for (unsigned i = 0; i < 1000; i++)
		virtio_input_pointer(&h->t, 7, 7, 0, i & 1 ? 0 : VIRTIO_INPUT_RIGHT);
	CHECK(h->t.count <= VIRTIO_INPUT_PENDING);
	CHECK(h->t.stats.dropped > dropped);
	while (next_event(h, &type, &code, &value))
		;
	/* Drain: the first event after the drop is a button or ABS_X. */
	post_events(h, 1);
	CHECK(next_event(h, &type, &code, &value));
	CHECK(type == VIRTIO_INPUT_EV_KEY || (type == VIRTIO_INPUT_EV_ABS && code == 0));
	for (unsigned i = 0; i < 40 && h->t.count; i++) {
		post_events(h, 4);
		while (next_event(h, &type, &code, &value))
			;
	}
	CHECK_EQ(h->t.count, 0);

	/* The status queue: an LED update goes back unread. */
	desc(h, STQ, 0, EVBUF + 0x8000, 8, 0, 0);
	offer(h, STQ, 0);
	kick(h, STQ);
	CHECK_EQ(used_idx(h, STQ), 1);
	CHECK_EQ(get32(h, USED(STQ) + 8), 0);
	CHECK_EQ(h->t.stats.status_buffers, 1);

	/* A reset stops everything. */
	set_status(h, 0);
	CHECK(!virtio_input_active(&h->t));
	CHECK_EQ(h->t.count, 0);
	virtio_input_close(&h->t);
}

static void test_bad_buffers(struct harness *h)
{
	uint16_t type, code;
	uint32_t value;

	setup(h);
	driver_start(h);
	memset(h->ram.host + EVBUF, 0xee, 64);
	/* Too short, and readable: both returned empty, and the event goes
	 * into the good buffer after them. */
	desc(h, EVQ, 0, EVBUF, 4, VIRTQ_DESC_F_WRITE, 0);
	desc(h, EVQ, 1, EVBUF + 16, 8, 0, 0);
	desc(h, EVQ, 2, EVBUF + 32, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(h, EVQ, 0);
	offer(h, EVQ, 1);
	offer(h, EVQ, 2);
	kick(h, EVQ);
	virtio_input_pointer(&h->t, 3, 4, 0, 0);
	CHECK_EQ(h->t.stats.bad_buffers, 2);
	CHECK_EQ(used_idx(h, EVQ), 3);
	CHECK_EQ(get32(h, USED(EVQ) + 8), 0);
	CHECK_EQ(get32(h, USED(EVQ) + 16), 0);
	h->used_seen = 2;
	CHECK(next_event(h, &type, &code, &value));
	CHECK_EQ(type, VIRTIO_INPUT_EV_ABS);
	CHECK_EQ(value, 3);

	/* A buffer outside RAM: the queue breaks, the device asks for a
	 * reset, nothing is written and nothing crashes. */
	desc(h, EVQ, 3, h->ram.size - 4, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(h, EVQ, 3);
	kick(h, EVQ);
	CHECK(status(h) & VIRTIO_STATUS_NEEDS_RESET);
	CHECK(!virtio_input_active(&h->t));
	CHECK_EQ(h->t.stats.device_errors, 1);
	virtio_input_pointer(&h->t, 5, 5, 0, 0);
	/* A loop in the status queue after a restart: the same. */
	driver_start(h);
	CHECK(virtio_input_active(&h->t));
	desc(h, STQ, 0, EVBUF, 8, VIRTQ_DESC_F_NEXT, 1);
	desc(h, STQ, 1, EVBUF, 8, VIRTQ_DESC_F_NEXT, 0);
	offer(h, STQ, 0);
	kick(h, STQ);
	CHECK(status(h) & VIRTIO_STATUS_NEEDS_RESET);
	CHECK_EQ(h->t.stats.device_errors, 2);
	virtio_input_close(&h->t);
}

static void test_snapshot(struct harness *h)
{
	char path[] = "/tmp/btvm-test-vinp-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	close(fd);

	setup(h);
	driver_start(h);
	post_events(h, 8);
	virtio_input_pointer(&h->t, 300, 400, 0, VIRTIO_INPUT_LEFT);
	for (unsigned i = 0; i < 4; i++)
		CHECK(h->used_seen++ < 8);
	select_cfg(h, VIRTIO_INPUT_CFG_ABS_INFO, 1);
	struct snap_writer w;
	CHECK_EQ(snapw_open(&w, path, 0), 0);
	virtio_input_save(&h->t, &w);
	CHECK_EQ(snapw_close(&w), 0);

	/* A fresh device, as a restore makes, takes the state back. */
	virtio_input_close(&h->t);
	setup_ram(h, true);
	struct snap_reader r;
	CHECK_EQ(snapr_open(&r, path), 0);
	CHECK_EQ(snapr_next(&r), 1);
	CHECK(!memcmp(r.tag, "VINP", 4));
	CHECK_EQ(virtio_input_load(&h->t, &r), 0);
	snapr_close(&r);
	unlink(path);
	CHECK(virtio_input_active(&h->t));
	CHECK_EQ(dev_rd(h, VIRTIO_INPUT_CFG_SIZE, 1), 20);
	CHECK_EQ(h->t.buttons, VIRTIO_INPUT_LEFT);
	/* The queue goes on where it was: the 4 buffers left take the
	 * release, which is a change from the saved state. */
	virtio_input_pointer(&h->t, 300, 400, 0, 0);
	expect_event(h, VIRTIO_INPUT_EV_KEY, VIRTIO_INPUT_BTN_LEFT, 0);
	expect_event(h, VIRTIO_INPUT_EV_ABS, VIRTIO_INPUT_ABS_X, 300);
	expect_event(h, VIRTIO_INPUT_EV_ABS, VIRTIO_INPUT_ABS_Y, 400);
	expect_event(h, VIRTIO_INPUT_EV_SYN, VIRTIO_INPUT_SYN_REPORT, 0);
	virtio_input_close(&h->t);
}

int main(void)
{
	static struct harness h;

	if (guest_ram_init(&h.ram, 4, 0)) {
		fprintf(stderr, "cannot make guest RAM\n");
		return 1;
	}
	test_identity_and_config(&h);
	test_events(&h);
	test_bad_buffers(&h);
	test_snapshot(&h);
	guest_ram_destroy(&h.ram);
	return check_report("test_virtio_input");
}
