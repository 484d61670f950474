/* The 8042 and its keyboard driven through the bus the way Linux 6.1's
 * i8042 and atkbd drivers drive them: flush, self test, CTR handling, the
 * AUX probe (loopback, toggling, IRQ 12, the multiplexer check, an absent
 * mouse), keyboard identify/reset/LEDs, IRQ 1 edges, set 2 -> set 1
 * translation, and the reset and A20 paths through the output port. */
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

static void test_absent_mouse(void)
{
	struct harness h;
	setup(&h);

	/* psmouse's first command: the controller answers for the mouse. */
	write_ctr(&h, 0x47);
	command(&h, 0xd4);
	wr(&h, 0xf2);
	CHECK_EQ(status(&h) & (STS_OBF | STS_AUX | STS_TIMEOUT), STS_OBF | STS_AUX | STS_TIMEOUT);
	CHECK_EQ(h.level[12], 1);
	CHECK_EQ(h.level[1], 0);
	CHECK_EQ(rd(&h), 0xfe);
	CHECK_EQ(h.level[12], 0);
	CHECK_EQ(status(&h) & (STS_AUX | STS_TIMEOUT), 0);
	/* It did not reach the keyboard. */
	CHECK_EQ(next_byte(&h), -1);
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
	test_absent_mouse();
	test_reset_and_a20();
	return check_report("test_i8042");
}
