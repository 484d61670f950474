/* The 8042 and its keyboard and mouse driven through the bus the way
 * Linux 6.1's i8042, atkbd and psmouse drivers drive them: flush, self
 * test, CTR handling, the AUX probe (loopback, toggling, IRQ 12, the
 * multiplexer check), keyboard identify/reset/LEDs, IRQ 1 edges, set 2 ->
 * set 1 translation, the mouse behind 0xd4 (IRQ 12 edges, CTR bits 1 and
 * 5, motion held and accumulated while the guest does not read), psmouse's
 * whole probe with every vendor's signature check, and the reset and A20
 * paths through the output port. The mouse's own command set and packets
 * are tested in test_ps2_mouse.c. */
#include "check.h"
#include "devices/bus.h"
#include "devices/i8042.h"

enum { DATA = 0x60, CMD = 0x64 };

#define STS_OBF 0x01
#define STS_SYS 0x04
#define STS_CMD 0x08
#define STS_UNLOCKED 0x10
#define STS_AUX 0x20
#define STS_TIMEOUT 0x40

struct harness {
	struct bus bus;
	struct i8042 kbc;
	int level[16];
	unsigned rises[16], falls[16];
	unsigned resets, a20_calls;
	bool a20;
};

static void record_irq(void *opaque, unsigned line, int level)
{
	struct harness *h = opaque;

	CHECK(line == 1 || line == 12);
	CHECK(h->level[line] != level);
	h->level[line] = level;
	if (level)
		h->rises[line]++;
	else
		h->falls[line]++;
}

static void record_reset(void *opaque)
{
	struct harness *h = opaque;
	h->resets++;
}

static void record_a20(void *opaque, bool enabled)
{
	struct harness *h = opaque;
	h->a20_calls++;
	h->a20 = enabled;
}

static void setup(struct harness *h)
{
	memset(h, 0, sizeof(*h));
	struct irq_line kbd = { .set_level = record_irq, .opaque = h, .line = I8042_KBD_IRQ };
	struct irq_line aux = { .set_level = record_irq, .opaque = h, .line = I8042_AUX_IRQ };
	bus_init(&h->bus);
	i8042_init(&h->kbc, &kbd, &aux, record_a20, record_reset, h);
	CHECK_EQ(i8042_attach(&h->kbc, &h->bus), 0);
}

static uint8_t status(struct harness *h)
{
	return (uint8_t)bus_read(&h->bus, BUS_SPACE_PIO, CMD, 1);
}

static uint8_t rd(struct harness *h)
{
	return (uint8_t)bus_read(&h->bus, BUS_SPACE_PIO, DATA, 1);
}

static void command(struct harness *h, uint8_t cmd)
{
	bus_write(&h->bus, BUS_SPACE_PIO, CMD, 1, cmd);
}

static void wr(struct harness *h, uint8_t value)
{
	bus_write(&h->bus, BUS_SPACE_PIO, DATA, 1, value);
}

/* i8042_wait_read + i8042_read_data: -1 when nothing came. */
static int next_byte(struct harness *h)
{
	if (!(status(h) & STS_OBF))
		return -1;
	return rd(h);
}

/* i8042_flush: how many bytes it read. */
static unsigned flush(struct harness *h)
{
	unsigned n = 0;
	while ((status(h) & STS_OBF) && n < 100) {
		rd(h);
		n++;
	}
	return n;
}

static uint8_t read_ctr(struct harness *h)
{
	command(h, 0x20);
	return (uint8_t)next_byte(h);
}

static void write_ctr(struct harness *h, uint8_t ctr)
{
	command(h, 0x60);
	wr(h, ctr);
}

/* i8042_controller_check, _selftest, _init, check_aux, check_mux and
 * enable_kbd_port, in Linux's order. */
static void test_linux_probe(void)
{
	struct harness h;
	setup(&h);

	/* Nothing waiting; no key lock, system flag from the BIOS. */
	CHECK_EQ(status(&h), STS_UNLOCKED | STS_SYS);
	CHECK_EQ(flush(&h), 0);

	command(&h, 0xaa);
	CHECK_EQ(status(&h), STS_UNLOCKED | STS_CMD | STS_SYS | STS_OBF);
	CHECK_EQ(next_byte(&h), 0x55);
	CHECK_EQ(status(&h) & STS_OBF, 0);
	/* The reply rose IRQ 1 (CTR bit 0 is on) and the read dropped it. */
	CHECK_EQ(h.rises[1], 1);
	CHECK_EQ(h.level[1], 0);

	/* Two equal CTR reads, then keyboard off and translation kept. */
	uint8_t ctr = read_ctr(&h);
	CHECK_EQ(ctr, 0x65);
	CHECK_EQ(read_ctr(&h), ctr);
	ctr = (uint8_t)((ctr | 0x10) & ~0x01);
	write_ctr(&h, ctr);
	CHECK_EQ(status(&h) & STS_CMD, 0);
	CHECK_EQ(read_ctr(&h), 0x74);
	CHECK_EQ(flush(&h), 0);
	unsigned kbd_rises = h.rises[1];

	/* AUX loopback: the byte comes back as AUX data. */
	command(&h, 0xd3);
	wr(&h, 0x5a);
	CHECK_EQ(status(&h) & (STS_OBF | STS_AUX), STS_OBF | STS_AUX);
	CHECK_EQ(rd(&h), 0x5a);
	CHECK_EQ(h.rises[12], 0);	/* CTR bit 1 is off */
	/* i8042_toggle_aux(false), then (true). */
	command(&h, 0xa7);
	CHECK_EQ(read_ctr(&h) & 0x20, 0x20);
	command(&h, 0xa8);
	CHECK_EQ(read_ctr(&h) & 0x20, 0x00);
	/* IRQ 12 delivery test: the loopback byte raises it. */
	ctr = (uint8_t)((ctr & ~0x20) | 0x02);
	write_ctr(&h, ctr);
	command(&h, 0xd3);
	wr(&h, 0xa5);
	CHECK_EQ(h.level[12], 1);
	CHECK_EQ(h.level[1], 0);
	CHECK_EQ(status(&h) & STS_AUX, STS_AUX);
	CHECK_EQ(rd(&h), 0xa5);
	CHECK_EQ(h.level[12], 0);
	ctr = (uint8_t)((ctr | 0x20) & ~0x02);
	write_ctr(&h, ctr);
	/* The AUX interface test passes too (0x00), for the other path. */
	command(&h, 0xa9);
	CHECK_EQ(next_byte(&h), 0x00);

	/* i8042_set_mux_mode: a plain echo means no multiplexer. */
	const uint8_t mux_probe[3] = { 0xf0, 0x56, 0xa4 };
	for (unsigned i = 0; i < 3; i++) {
		command(&h, 0xd3);
		wr(&h, mux_probe[i]);
		CHECK_EQ(status(&h) & STS_AUX, STS_AUX);
		CHECK_EQ(next_byte(&h), mux_probe[i]);
	}

	/* The keyboard interface test, which other OSes run. */
	command(&h, 0xab);
	CHECK_EQ(next_byte(&h), 0x00);
	CHECK_EQ(h.rises[1], kbd_rises);	/* IRQ 1 was off throughout */

	/* i8042_enable_kbd_port. */
	ctr = (uint8_t)((ctr & ~0x10) | 0x01);
	write_ctr(&h, ctr);
	CHECK_EQ(read_ctr(&h), 0x65);
	CHECK_EQ(h.resets, 0);
	CHECK_EQ(h.a20_calls, 0);
	CHECK_EQ(h.bus.unclaimed_reads[BUS_SPACE_PIO], 0);
}

/* Reads one keyboard byte the way i8042_interrupt does, checking that
 * IRQ 1 was up for it and drops when it is read. */
static int irq_byte(struct harness *h)
{
	if (!h->level[1])
		return -1;
	uint8_t st = status(h);
	CHECK_EQ(st & (STS_OBF | STS_AUX), STS_OBF);
	return rd(h);
}

static void test_keyboard_commands(void)
{
	struct harness h;
	setup(&h);

	/* atkbd_probe: identify; translation turns 0x83 into 0x41. */
	wr(&h, 0xf2);
	CHECK_EQ(irq_byte(&h), 0xfa);
	CHECK_EQ(irq_byte(&h), 0xab);
	CHECK_EQ(irq_byte(&h), 0x41);
	CHECK_EQ(h.level[1], 0);
	/* Each byte was an edge of its own. */
	CHECK_EQ(h.rises[1], 3);
	CHECK_EQ(h.falls[1], 3);
	CHECK_EQ(next_byte(&h), -1);

	/* atkbd_deactivate, atkbd_reset_state (LEDs, typematic), activate. */
	wr(&h, 0xf5);
	CHECK_EQ(irq_byte(&h), 0xfa);
	wr(&h, 0xed);
	CHECK_EQ(irq_byte(&h), 0xfa);
	wr(&h, 0x00);
	CHECK_EQ(irq_byte(&h), 0xfa);
	wr(&h, 0xf3);
	CHECK_EQ(irq_byte(&h), 0xfa);
	wr(&h, 0x00);
	CHECK_EQ(irq_byte(&h), 0xfa);
	CHECK_EQ(h.kbc.kbd.typematic, 0x00);
	wr(&h, 0xf4);
	CHECK_EQ(irq_byte(&h), 0xfa);

	/* LEDs: Caps and Num. */
	wr(&h, 0xed);
	wr(&h, 0x06);
	CHECK_EQ(irq_byte(&h), 0xfa);
	CHECK_EQ(irq_byte(&h), 0xfa);
	CHECK_EQ(i8042_keyboard_leds(&h.kbc), 0x06);

	/* Reset: ACK, then the self-test result; LEDs off, set 2. */
	wr(&h, 0xff);
	CHECK_EQ(irq_byte(&h), 0xfa);
	CHECK_EQ(irq_byte(&h), 0xaa);
	CHECK_EQ(i8042_keyboard_leds(&h.kbc), 0);

	/* Echo, resend, unknown. */
	wr(&h, 0xee);
	CHECK_EQ(irq_byte(&h), 0xee);
	wr(&h, 0xfe);
	CHECK_EQ(irq_byte(&h), 0xee);
	wr(&h, 0xe8);
	CHECK_EQ(irq_byte(&h), 0xfe);

	/* A command where an argument is due is a command. */
	wr(&h, 0xed);
	CHECK_EQ(irq_byte(&h), 0xfa);
	wr(&h, 0xf2);
	CHECK_EQ(irq_byte(&h), 0xfa);
	CHECK_EQ(irq_byte(&h), 0xab);
	CHECK_EQ(irq_byte(&h), 0x41);

	/* Scancode set: get answers the set, translated like any byte. */
	wr(&h, 0xf0);
	wr(&h, 0x00);
	CHECK_EQ(irq_byte(&h), 0xfa);
	CHECK_EQ(irq_byte(&h), 0xfa);
	CHECK_EQ(irq_byte(&h), 0x41);	/* 0x02 through the table */
	/* Set 3 is acknowledged and not taken; bad arguments are refused. */
	wr(&h, 0xf0);
	wr(&h, 0x03);
	CHECK_EQ(irq_byte(&h), 0xfa);
	CHECK_EQ(irq_byte(&h), 0xfa);
	CHECK_EQ(h.kbc.kbd.scancode_set, 2);
	wr(&h, 0xf0);
	wr(&h, 0x07);
	CHECK_EQ(irq_byte(&h), 0xfa);
	CHECK_EQ(irq_byte(&h), 0xfe);
	CHECK_EQ(h.level[1], 0);
	CHECK_EQ(h.rises[1], h.falls[1]);
}

static void expect_bytes(struct harness *h, const uint8_t *want, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		CHECK_EQ(irq_byte(h), want[i]);
	CHECK_EQ(next_byte(h), -1);
}

static void test_translation(void)
{
	struct harness h;
	setup(&h);

	/* A down and up: set 2 1c, f0 1c -> set 1 1e, 9e. */
	CHECK(i8042_key_event(&h.kbc, 0x1c, true));
	CHECK(i8042_key_event(&h.kbc, 0x1c, false));
	expect_bytes(&h, (const uint8_t[]){ 0x1e, 0x9e }, 2);

	/* Up arrow, an extended key: e0 75 / e0 f0 75 -> e0 48 / e0 c8. */
	CHECK(i8042_key_event(&h.kbc, 0xe075, true));
	CHECK(i8042_key_event(&h.kbc, 0xe075, false));
	expect_bytes(&h, (const uint8_t[]){ 0xe0, 0x48, 0xe0, 0xc8 }, 4);

	/* Esc, F7 (the code above 0x7f), right Ctrl, Enter, keypad Enter. */
	const uint8_t raw[] = { 0x76, 0xf0, 0x76, 0x83, 0xf0, 0x83, 0xe0, 0x14, 0x5a,
				0xe0, 0xf0, 0x5a };
	CHECK(i8042_send_bytes(&h.kbc, raw, sizeof(raw)));
	expect_bytes(&h, (const uint8_t[]){ 0x01, 0x81, 0x41, 0xc1, 0xe0, 0x1d, 0x1c, 0xe0,
					    0x9c }, 9);

	/* Pause has no break code and goes through whole. */
	const uint8_t pause[] = { 0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77 };
	CHECK(i8042_key_sequence(&h.kbc, pause, sizeof(pause)));
	expect_bytes(&h, (const uint8_t[]){ 0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5 }, 6);

	/* Translation off (i8042.direct): set 2 bytes as they are. */
	write_ctr(&h, 0x25);
	CHECK(i8042_key_event(&h.kbc, 0xe075, false));
	expect_bytes(&h, (const uint8_t[]){ 0xe0, 0xf0, 0x75 }, 3);
	wr(&h, 0xf2);
	expect_bytes(&h, (const uint8_t[]){ 0xfa, 0xab, 0x83 }, 3);

	/* The keyboard in set 1 sends set 1 itself. */
	wr(&h, 0xf0);
	wr(&h, 0x01);
	expect_bytes(&h, (const uint8_t[]){ 0xfa, 0xfa }, 2);
	wr(&h, 0xf0);
	wr(&h, 0x00);
	expect_bytes(&h, (const uint8_t[]){ 0xfa, 0xfa, 0x01 }, 3);
	CHECK(i8042_key_event(&h.kbc, 0x1c, true));
	CHECK(i8042_key_event(&h.kbc, 0xe075, false));
	expect_bytes(&h, (const uint8_t[]){ 0x1e, 0xe0, 0xc8 }, 3);
	/* A reset brings back set 2. */
	wr(&h, 0xff);
	expect_bytes(&h, (const uint8_t[]){ 0xfa, 0xaa }, 2);
	CHECK(i8042_key_event(&h.kbc, 0x1c, false));
	expect_bytes(&h, (const uint8_t[]){ 0xf0, 0x1c }, 2);
}

static void test_buffering(void)
{
	struct harness h;
	setup(&h);

	/* With IRQ 1 off the bytes wait and no edge is made. */
	write_ctr(&h, 0x64);
	CHECK(i8042_key_event(&h.kbc, 0x1c, true));
	CHECK_EQ(h.rises[1], 0);
	CHECK_EQ(status(&h) & STS_OBF, STS_OBF);
	/* Enabling the interrupt with a byte waiting raises the line. */
	write_ctr(&h, 0x65);
	CHECK_EQ(h.level[1], 1);
	CHECK_EQ(rd(&h), 0x1e);
	CHECK_EQ(h.level[1], 0);

	/* At most 16 bytes wait: Linux's flush gives up beyond that. */
	unsigned accepted = 0;
	while (i8042_key_event(&h.kbc, 0x1c, true) && accepted < 40)
		accepted++;
	CHECK_EQ(accepted, 16);
	CHECK(!i8042_key_event(&h.kbc, 0x1c, false));
	CHECK_EQ(flush(&h), 16);
	CHECK(i8042_key_event(&h.kbc, 0x1c, false));
	CHECK_EQ(flush(&h), 1);

	/* A disabled keyboard interface holds the keyboard's bytes back... */
	command(&h, 0xad);
	CHECK(i8042_key_event(&h.kbc, 0xe075, true));
	CHECK_EQ(status(&h) & STS_OBF, 0);
	/* ...while the controller still answers... */
	command(&h, 0x20);
	CHECK_EQ(next_byte(&h), 0x75);
	CHECK_EQ(next_byte(&h), -1);
	command(&h, 0xae);
	expect_bytes(&h, (const uint8_t[]){ 0xe0, 0x48 }, 2);

	/* ...and a reply goes ahead of a keyboard byte already waiting. */
	CHECK(i8042_key_event(&h.kbc, 0x1c, true));
	CHECK_EQ(h.level[1], 1);
	command(&h, 0x20);
	CHECK_EQ(rd(&h), 0x65);
	CHECK_EQ(h.level[1], 1);
	CHECK_EQ(rd(&h), 0x1e);
	CHECK_EQ(h.level[1], 0);

	/* Writing to the keyboard re-enables its interface. */
	command(&h, 0xad);
	wr(&h, 0xee);
	CHECK_EQ(read_ctr(&h) & 0x10, 0);
	CHECK_EQ(next_byte(&h), 0xee);

	/* Keys while scanning is off are lost, not refused. */
	wr(&h, 0xf5);
	CHECK_EQ(next_byte(&h), 0xfa);
	CHECK(i8042_key_event(&h.kbc, 0x1c, true));
	CHECK_EQ(next_byte(&h), -1);
	wr(&h, 0xf4);
	CHECK_EQ(next_byte(&h), 0xfa);
	CHECK(i8042_key_event(&h.kbc, 0x1c, true));
	CHECK_EQ(next_byte(&h), 0x1e);

	/* 0xd2: a byte as if from the keyboard, not translated. */
	command(&h, 0xd2);
	wr(&h, 0x1c);
	CHECK_EQ(status(&h) & (STS_OBF | STS_AUX), STS_OBF);
	CHECK_EQ(h.level[1], 1);
	CHECK_EQ(rd(&h), 0x1c);

	/* An empty buffer reads the last byte again, with no edge. */
	unsigned rises = h.rises[1];
	CHECK_EQ(rd(&h), 0x1c);
	CHECK_EQ(h.rises[1], rises);
}

/* ---- the mouse behind 0xd4 ---- */

static void aux_send(struct harness *h, uint8_t byte)
{
	command(h, 0xd4);
	wr(h, byte);
}

/* One mouse byte the way i8042_interrupt reads it: IRQ 12 up, the AUX
 * bit set, no timeout or parity error; the line drops when it is read. */
static int aux_irq_byte(struct harness *h)
{
	if (!h->level[12])
		return -1;
	CHECK_EQ(h->level[1], 0);
	CHECK_EQ(status(h) & (STS_OBF | STS_AUX | STS_TIMEOUT | 0x80), STS_OBF | STS_AUX);
	int byte = rd(h);
	return byte;
}

static void expect_aux(struct harness *h, const uint8_t *want, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		CHECK_EQ(aux_irq_byte(h), want[i]);
	CHECK_EQ(next_byte(h), -1);
}

/* What Linux's i8042 leaves once the AUX port is open: both interfaces
 * enabled with their interrupts, translation on. */
static void setup_aux_open(struct harness *h)
{
	setup(h);
	write_ctr(h, 0x47);
}

static void test_mouse_through_controller(void)
{
	struct harness h;
	setup_aux_open(&h);

	/* Reset: three AUX bytes, an IRQ 12 edge each, no timeout. */
	aux_send(&h, 0xff);
	expect_aux(&h, (const uint8_t[]){ 0xfa, 0xaa, 0x00 }, 3);
	CHECK_EQ(h.rises[12], 3);
	CHECK_EQ(h.falls[12], 3);
	CHECK_EQ(h.rises[1], 0);
	/* atkbd's probe on this port: the ID is not a keyboard's. */
	aux_send(&h, 0xf2);
	expect_aux(&h, (const uint8_t[]){ 0xfa, 0x00 }, 2);
	/* The bytes went to the mouse, not the keyboard: its LEDs did not
	 * change and it did not answer. */
	aux_send(&h, 0xed);
	aux_send(&h, 0x07);
	expect_aux(&h, (const uint8_t[]){ 0xfe, 0xfe }, 2);
	CHECK_EQ(i8042_keyboard_leds(&h.kbc), 0);

	/* No translation of AUX bytes: 0xf0 and codes below 0x80 pass. */
	aux_send(&h, 0xf4);
	expect_aux(&h, (const uint8_t[]){ 0xfa }, 1);
	CHECK(i8042_mouse_event(&h.kbc, 0x1c, 0x10, 0, PS2_MOUSE_LEFT));
	expect_aux(&h, (const uint8_t[]){ 0x29, 0x1c, 0xf0 }, 3);

	/* IRQ 12 only with CTR bit 1: the byte waits, no edge, and the
	 * output port's bit 5 shows the line low. */
	write_ctr(&h, 0x45);
	unsigned rises = h.rises[12];
	CHECK(i8042_mouse_event(&h.kbc, 1, 0, 0, PS2_MOUSE_LEFT));
	CHECK_EQ(status(&h) & (STS_OBF | STS_AUX), STS_OBF | STS_AUX);
	CHECK_EQ(h.rises[12], rises);
	command(&h, 0xd0);
	/* The controller's answer goes ahead of the waiting mouse byte. */
	CHECK_EQ(status(&h) & STS_AUX, 0);
	CHECK_EQ(rd(&h) & 0x30, 0x00);
	CHECK_EQ(rd(&h), 0x09);
	/* Turning the interrupt on with a byte waiting raises the line. */
	write_ctr(&h, 0x47);
	CHECK_EQ(h.level[12], 1);
	command(&h, 0xd0);
	CHECK_EQ(rd(&h) & 0x30, 0x20);
	expect_aux(&h, (const uint8_t[]){ 0x01, 0x00 }, 2);

	/* 0xa7 holds the mouse's bytes back; the keyboard's still pass and
	 * the mouse keeps counting. */
	command(&h, 0xa7);
	CHECK_EQ(read_ctr(&h) & 0x20, 0x20);
	CHECK(i8042_mouse_event(&h.kbc, 5, 0, 0, PS2_MOUSE_LEFT));
	CHECK(i8042_mouse_event(&h.kbc, 5, 0, 0, PS2_MOUSE_LEFT));
	CHECK_EQ(status(&h) & STS_OBF, 0);
	CHECK(i8042_key_event(&h.kbc, 0x1c, true));
	CHECK_EQ(irq_byte(&h), 0x1e);
	CHECK_EQ(next_byte(&h), -1);
	command(&h, 0xa8);
	expect_aux(&h, (const uint8_t[]){ 0x09, 0x0a, 0x00 }, 3);

	/* A byte for the mouse enables the AUX interface again, as one for
	 * the keyboard does its own. */
	command(&h, 0xa7);
	aux_send(&h, 0xe9);
	CHECK_EQ(read_ctr(&h) & 0x20, 0);
	expect_aux(&h, (const uint8_t[]){ 0xfa, 0x24, 0x02, 100 }, 4);

	/* 0xd3 still loops back as AUX data, ahead of the mouse. */
	CHECK(i8042_mouse_event(&h.kbc, 2, 0, 0, 0));
	command(&h, 0xd3);
	wr(&h, 0x5a);
	/* The packet's first byte was in the FIFO already. */
	CHECK_EQ(aux_irq_byte(&h), 0x5a);
	expect_aux(&h, (const uint8_t[]){ 0x08, 0x02, 0x00 }, 3);
	CHECK_EQ(h.kbc.dropped, 0);
	CHECK_EQ(h.rises[12], h.falls[12]);
}

/* A guest that does not read for a while: the FIFO never holds more than
 * one device byte, nothing is dropped, and the motion all arrives. */
static void test_mouse_accumulates(void)
{
	struct harness h;
	setup_aux_open(&h);
	aux_send(&h, 0xf4);
	expect_aux(&h, (const uint8_t[]){ 0xfa }, 1);

	for (int i = 0; i < 100; i++) {
		CHECK(i8042_mouse_event(&h.kbc, 10, -3, 0, 0));
		CHECK(h.kbc.out_count <= 1);
	}
	CHECK(i8042_key_event(&h.kbc, 0x1c, true));
	CHECK(i8042_key_event(&h.kbc, 0x1c, false));
	long x = 0, y = 0;
	unsigned packets = 0, keys = 0;
	/* Bytes of both devices, each with its own status; the keyboard's
	 * are not held back behind the mouse's. */
	for (int guard = 0; guard < 100 && (status(&h) & STS_OBF); guard++) {
		uint8_t st = status(&h);
		if (!(st & STS_AUX)) {
			CHECK_EQ(h.level[1], 1);
			uint8_t key = rd(&h);
			CHECK(key == 0x1e || key == 0x9e);
			keys++;
			continue;
		}
		uint8_t p[3];
		p[0] = rd(&h);
		for (int i = 1; i < 3; i++) {
			/* A key byte may come between a packet's bytes. */
			while ((status(&h) & (STS_OBF | STS_AUX)) == STS_OBF) {
				CHECK(rd(&h) & 0x1e);
				keys++;
			}
			CHECK_EQ(status(&h) & STS_AUX, STS_AUX);
			p[i] = rd(&h);
		}
		CHECK(p[0] & 0x08);
		x += p[1] - ((p[0] & 0x10) ? 256 : 0);
		y += p[2] - ((p[0] & 0x20) ? 256 : 0);
		packets++;
	}
	CHECK_EQ(x, 1000);
	CHECK_EQ(y, 300);
	CHECK_EQ(keys, 2);
	/* The first event's packet, then 990 in 255s. */
	CHECK_EQ(packets, 5);
	CHECK_EQ(h.kbc.dropped, 0);
	CHECK_EQ(h.kbc.mouse.dropped, 0);
	CHECK_EQ(next_byte(&h), -1);
}

/* libps2's ps2_command through the controller: the command and each
 * argument acknowledged (a NAKed byte is sent once more, as libps2
 * does), then nresp bytes read; false on a NAK. */
static bool ps2_command(struct harness *h, uint8_t cmd, const uint8_t *args, unsigned nargs,
			uint8_t *resp, unsigned nresp)
{
	for (unsigned i = 0; i <= nargs; i++) {
		uint8_t byte = i ? args[i - 1] : cmd;
		aux_send(h, byte);
		int ack = aux_irq_byte(h);
		if (ack == 0xfe) {
			aux_send(h, byte);
			ack = aux_irq_byte(h);
		}
		if (ack != 0xfa) {
			CHECK_EQ(ack, 0xfe);
			CHECK_EQ(next_byte(h), -1);
			return false;
		}
	}
	for (unsigned i = 0; i < nresp; i++) {
		int byte = aux_irq_byte(h);
		CHECK(byte >= 0);
		resp[i] = (uint8_t)byte;
	}
	CHECK_EQ(next_byte(h), -1);
	return true;
}

static void set_rate(struct harness *h, uint8_t rate)
{
	CHECK(ps2_command(h, 0xf3, &rate, 1, NULL, 0));
}

static void set_res(struct harness *h, uint8_t res)
{
	CHECK(ps2_command(h, 0xe8, &res, 1, NULL, 0));
}

static void simple(struct harness *h, uint8_t cmd)
{
	CHECK(ps2_command(h, cmd, NULL, 0, NULL, 0));
}

static void getinfo(struct harness *h, uint8_t info[3])
{
	CHECK(ps2_command(h, 0xe9, NULL, 0, info, 3));
}

static uint8_t getid(struct harness *h)
{
	uint8_t id = 0xa5;
	CHECK(ps2_command(h, 0xf2, NULL, 0, &id, 1));
	return id;
}

/* ps2_sendbyte alone, as Sentelic's probe uses it: the answer, whatever. */
static int send_byte(struct harness *h, uint8_t byte)
{
	aux_send(h, byte);
	return aux_irq_byte(h);
}

/* Linux 6.1's psmouse_connect on a plain wheel mouse: psmouse_probe, each
 * vendor probe of psmouse_extensions in its order with the signature it
 * looks for (Focaltech, LifeBook and VMmouse ask PNP, DMI and a VMware
 * port, not the mouse), then the Explorer and IntelliMouse probes,
 * psmouse_initialize and psmouse_activate. */
static void test_linux_psmouse_probe(void)
{
	struct harness h;
	setup_aux_open(&h);
	uint8_t p[3];

	/* psmouse_probe: an ID a mouse has, then reset-and-disable. */
	CHECK_EQ(getid(&h), 0x00);
	simple(&h, 0xf6);

	/* thinking_detect: rate 10, resolution 0, nine rates, ID 2? */
	set_rate(&h, 10);
	set_res(&h, 0);
	const uint8_t thinking[] = { 20, 60, 40, 20, 20, 60, 40, 20, 20 };
	for (unsigned i = 0; i < sizeof(thinking); i++)
		set_rate(&h, thinking[i]);
	CHECK(getid(&h) != 2);

	/* synaptics_detect: four resolution 0s, then 0x47 in the middle? */
	for (int i = 0; i < 4; i++)
		set_res(&h, 0);
	getinfo(&h, p);
	CHECK(p[1] != 0x47);

	/* cypress_detect: the 0x00 extended command, 0x33 0xcc? (3 tries) */
	for (int tries = 0; tries < 3; tries++) {
		for (int i = 0; i < 4; i++)
			set_res(&h, 0);
		getinfo(&h, p);
		CHECK(!(p[0] == 0x33 && p[1] == 0xcc));
	}

	/* ALPS: reset-and-disable, then the E6 report... */
	simple(&h, 0xf6);
	set_res(&h, 0);
	for (int i = 0; i < 3; i++)
		simple(&h, 0xe6);
	getinfo(&h, p);
	/* ...which a plain mouse passes (0 0 100), so the E7 and EC reports
	 * decide: nothing of ALPS's tables. */
	if ((p[0] & 0xf8) == 0 && p[1] == 0 && (p[2] == 10 || p[2] == 100)) {
		uint8_t e7[3], ec[3];
		set_res(&h, 0);
		for (int i = 0; i < 3; i++)
			simple(&h, 0xe7);
		getinfo(&h, e7);
		set_res(&h, 0);
		for (int i = 0; i < 3; i++)
			simple(&h, 0xec);
		getinfo(&h, ec);
		simple(&h, 0xea);
		/* Every ALPS E7 signature has a nonzero high nibble with bits
		 * 1 and 0 set (0x33, 0x53, 0x63, 0x73, 0x22, 0x62, ...) or is
		 * 0x60; EC starts 0x88 for the newer ones. */
		CHECK_EQ(e7[0], 0x10);
		CHECK(ec[0] != 0x88);
	}

	/* hgpk_detect: E7 x3, then 0x67 0x00? */
	for (int i = 0; i < 3; i++)
		simple(&h, 0xe7);
	getinfo(&h, p);
	CHECK(!(p[0] == 0x67 && p[1] == 0x00));

	/* elantech_detect: reset-and-disable, disable, E6 x3, 0x3c 0x03? */
	simple(&h, 0xf6);
	simple(&h, 0xf5);
	for (int i = 0; i < 3; i++)
		simple(&h, 0xe6);
	getinfo(&h, p);
	CHECK(!(p[0] == 0x3c && p[1] == 0x03));

	/* genius_detect: resolution 3, E6 x3, then 0x00 0x33 0x55? */
	set_res(&h, 3);
	for (int i = 0; i < 3; i++)
		simple(&h, 0xe6);
	getinfo(&h, p);
	CHECK(!(p[0] == 0x00 && p[1] == 0x33 && p[2] == 0x55));

	/* ps2pp_detect (Logitech): resolution 0, E6 x3; a model and a button
	 * count both nonzero? */
	set_res(&h, 0);
	for (int i = 0; i < 3; i++)
		simple(&h, 0xe6);
	getinfo(&h, p);
	uint8_t model = (uint8_t)(((p[0] >> 4) & 0x07) | ((p[0] << 3) & 0x78));
	CHECK(!model || !p[1]);

	/* trackpoint_detect: TP_READ_ID (0xe1) is no command of a mouse. */
	CHECK(!ps2_command(&h, 0xe1, NULL, 0, p, 2));

	/* fsp_detect: disable, f3 66 88 f3 66 00 (a NAK for each of those
	 * but f3), E9 with the ID in its third byte (1?), enable. */
	simple(&h, 0xf5);
	CHECK_EQ(send_byte(&h, 0xf3), 0xfa);
	CHECK_EQ(send_byte(&h, 0x66), 0xfe);
	CHECK_EQ(send_byte(&h, 0x88), 0xfe);
	CHECK_EQ(send_byte(&h, 0xf3), 0xfa);
	CHECK_EQ(send_byte(&h, 0x66), 0xfe);
	CHECK_EQ(send_byte(&h, 0x00), 0xfe);
	getinfo(&h, p);
	CHECK(p[2] != 0x01);
	simple(&h, 0xf4);

	/* Back to a plain mouse: reset-and-disable, then a reset with its
	 * self-test result. */
	simple(&h, 0xf6);
	CHECK(ps2_command(&h, 0xff, NULL, 0, p, 2));
	CHECK_EQ(p[0], 0xaa);
	CHECK_EQ(p[1], 0x00);

	/* im_explorer_detect: the IntelliMouse knock, then Explorer's: ID 4? */
	set_rate(&h, 200);
	set_rate(&h, 100);
	set_rate(&h, 80);
	CHECK_EQ(getid(&h), 3);
	set_rate(&h, 200);
	set_rate(&h, 200);
	set_rate(&h, 80);
	CHECK(getid(&h) != 4);
	/* intellimouse_detect: ID 3, an "ImPS/2 Generic Wheel Mouse". */
	set_rate(&h, 200);
	set_rate(&h, 100);
	set_rate(&h, 80);
	CHECK_EQ(getid(&h), 3);

	/* psmouse_initialize (100/s, 200 dpi, 1:1) and psmouse_activate. */
	set_rate(&h, 100);
	set_res(&h, 3);
	simple(&h, 0xe6);
	simple(&h, 0xf4);
	getinfo(&h, p);
	CHECK_EQ(p[0], 0x20);
	CHECK_EQ(p[1], 3);
	CHECK_EQ(p[2], 100);
	/* No stray bytes came at any point, and none was dropped. */
	CHECK_EQ(next_byte(&h), -1);
	CHECK_EQ(h.kbc.dropped + h.kbc.mouse.dropped, 0);

	/* And then it moves: 4-byte packets on IRQ 12, the wheel negated as
	 * psmouse reports it (-(signed char)packet[3] is up). */
	CHECK(i8042_mouse_event(&h.kbc, -4, -7, 1, PS2_MOUSE_RIGHT));
	expect_aux(&h, (const uint8_t[]){ 0x1a, 0xfc, 0x07, 0xff }, 4);
	CHECK_EQ(h.rises[1], 0);
}

static void test_reset_and_a20(void)
{
	struct harness h;
	setup(&h);

	/* Linux's reboot: 0xfe. */
	command(&h, 0xfe);
	CHECK_EQ(h.resets, 1);
	CHECK_EQ(h.kbc.resets, 1);
	/* Other pulses: only those with bit 0 clear hit the reset line. */
	command(&h, 0xff);
	command(&h, 0xfd);
	command(&h, 0xf1);
	CHECK_EQ(h.resets, 1);
	command(&h, 0xf0);
	CHECK_EQ(h.resets, 2);

	/* The output port: reset and A20 high. */
	i8042_init(&h.kbc, &(struct irq_line){ .set_level = record_irq, .opaque = &h, .line = 1 },
		   &(struct irq_line){ .set_level = record_irq, .opaque = &h, .line = 12 },
		   record_a20, record_reset, &h);
	command(&h, 0xd0);
	CHECK_EQ(next_byte(&h), 0xcf);
	CHECK(i8042_a20_enabled(&h.kbc));
	/* Bit 4 reads the IRQ 1 output: up for a waiting key byte, unless
	 * the CTR keeps the interrupt off. */
	CHECK(i8042_key_event(&h.kbc, 0x1c, true));
	command(&h, 0xd0);
	CHECK_EQ(next_byte(&h), 0xdf);
	write_ctr(&h, 0x64);
	command(&h, 0xd0);
	CHECK_EQ(next_byte(&h), 0xcf);
	CHECK_EQ(next_byte(&h), 0x1e);
	write_ctr(&h, 0x65);

	/* A20 off and on through 0xd1, the way boot loaders gate it. */
	command(&h, 0xd1);
	wr(&h, 0xcd);
	CHECK_EQ(h.a20_calls, 1);
	CHECK(!h.a20);
	CHECK(!i8042_a20_enabled(&h.kbc));
	command(&h, 0xd0);
	CHECK_EQ(next_byte(&h), 0xcd);
	command(&h, 0xd1);
	wr(&h, 0xdf);
	CHECK_EQ(h.a20_calls, 2);
	CHECK(h.a20);
	/* Unchanged gate, no call. */
	command(&h, 0xd1);
	wr(&h, 0xcf);
	CHECK_EQ(h.a20_calls, 2);
	/* 0xdd / 0xdf. */
	command(&h, 0xdd);
	CHECK(!h.a20);
	command(&h, 0xdf);
	CHECK(h.a20);
	CHECK_EQ(h.a20_calls, 4);
	CHECK_EQ(h.resets, 2);

	/* Reset line low through the output port. */
	command(&h, 0xd1);
	wr(&h, 0xce);
	CHECK_EQ(h.resets, 3);
	CHECK_EQ(h.a20_calls, 4);

	/* A command cancels one waiting for its data byte, which then goes
	 * to the keyboard. */
	command(&h, 0xd1);
	command(&h, 0xd0);
	CHECK_EQ(next_byte(&h), 0xce);
	wr(&h, 0xee);
	CHECK_EQ(next_byte(&h), 0xee);
	CHECK_EQ(h.resets, 3);

	/* Internal RAM beyond the CTR. */
	command(&h, 0x65);
	wr(&h, 0x5a);
	command(&h, 0x25);
	CHECK_EQ(next_byte(&h), 0x5a);
	command(&h, 0xa4);
	CHECK_EQ(next_byte(&h), 0xf1);
}

int main(void)
{
	test_linux_probe();
	test_keyboard_commands();
	test_translation();
	test_buffering();
	test_mouse_through_controller();
	test_mouse_accumulates();
	test_linux_psmouse_probe();
	test_reset_and_a20();
	return check_report("test_i8042");
}
