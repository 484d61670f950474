/* The PS/2 mouse alone, byte by byte: every command's answer, arguments
 * that are not arguments, the IntelliMouse knock, packet encoding (bit 3,
 * signs, buttons, the wheel), motion split over packets, the saturating
 * counters and their overflow bits, 2:1 scaling, remote mode, wrap mode,
 * resend, and what happens to input while reporting is off. The i8042
 * around it is tested in test_i8042.c. */
#include <limits.h>

#include "check.h"
#include "devices/ps2_mouse.h"

/* Everything the mouse has to say now, at most max bytes. */
static unsigned drain(struct ps2_mouse *m, uint8_t *out, unsigned max)
{
	unsigned n = 0;
	uint8_t byte;

	while (n < max && ps2_mouse_take(m, &byte))
		out[n++] = byte;
	return n;
}

/* Checks that the mouse says exactly want[0..n) and then nothing. */
static void expect(struct ps2_mouse *m, const uint8_t *want, unsigned n)
{
	uint8_t got[64];
	unsigned len = drain(m, got, sizeof(got));

	CHECK_EQ(len, n);
	for (unsigned i = 0; i < n && i < len; i++) {
		if (got[i] != want[i])
			fprintf(stderr, "  byte %u: 0x%02x, expected 0x%02x\n", i, got[i], want[i]);
		CHECK_EQ(got[i], want[i]);
	}
	CHECK(!ps2_mouse_has_output(m));
}

static void send(struct ps2_mouse *m, uint8_t byte)
{
	ps2_mouse_write(m, byte);
}

/* A command and its argument, both acknowledged. */
static void send_arg(struct ps2_mouse *m, uint8_t cmd, uint8_t arg)
{
	send(m, cmd);
	send(m, arg);
	expect(m, (const uint8_t[]){ 0xfa, 0xfa }, 2);
}

static void expect_status(struct ps2_mouse *m, uint8_t flags, uint8_t res, uint8_t rate)
{
	send(m, 0xe9);
	expect(m, (const uint8_t[]){ 0xfa, flags, res, rate }, 4);
}

static void expect_id(struct ps2_mouse *m, uint8_t id)
{
	send(m, 0xf2);
	expect(m, (const uint8_t[]){ 0xfa, id }, 2);
}

/* Sum of the X, Y (PS/2 directions) and wheel values of the packets the
 * mouse sends now, checking each packet's first byte as it goes. */
struct totals {
	long x, y, z;
	unsigned packets;
	uint8_t first0, buttons_seen, overflow_seen;
};

static struct totals collect(struct ps2_mouse *m, unsigned size)
{
	struct totals t = { 0 };
	uint8_t p[4];

	while (drain(m, p, size) == size) {
		CHECK(p[0] & 0x08);
		int x = p[1] - ((p[0] & 0x10) ? 256 : 0);
		int y = p[2] - ((p[0] & 0x20) ? 256 : 0);
		/* psmouse reads a zero byte as no motion whatever the sign. */
		CHECK(p[1] || !(p[0] & 0x10));
		CHECK(p[2] || !(p[0] & 0x20));
		t.x += x;
		t.y += y;
		if (size == 4) {
			int z = (int8_t)p[3];
			CHECK(z >= -8 && z <= 7);
			t.z += z;
		}
		if (!t.packets)
			t.first0 = p[0];
		t.buttons_seen |= p[0] & 7;
		t.overflow_seen |= p[0] & 0xc0;
		t.packets++;
	}
	CHECK(!ps2_mouse_has_output(m));
	return t;
}

static void test_power_on_and_commands(void)
{
	struct ps2_mouse m;
	ps2_mouse_init(&m);

	/* Nothing to say until asked. */
	CHECK(!ps2_mouse_has_output(&m));
	expect_id(&m, 0x00);
	/* Stream mode, disabled, 1:1, 4 counts/mm, 100/s. */
	expect_status(&m, 0x00, 0x02, 100);

	send(&m, 0xff);
	expect(&m, (const uint8_t[]){ 0xfa, 0xaa, 0x00 }, 3);

	/* Rate and resolution. */
	send_arg(&m, 0xf3, 40);
	send_arg(&m, 0xe8, 0x03);
	expect_status(&m, 0x00, 0x03, 40);
	/* Scaling. */
	send(&m, 0xe7);
	expect(&m, (const uint8_t[]){ 0xfa }, 1);
	expect_status(&m, 0x10, 0x03, 40);
	send(&m, 0xe6);
	expect(&m, (const uint8_t[]){ 0xfa }, 1);
	expect_status(&m, 0x00, 0x03, 40);
	/* Enable, disable. */
	send(&m, 0xf4);
	expect(&m, (const uint8_t[]){ 0xfa }, 1);
	expect_status(&m, 0x20, 0x03, 40);
	send(&m, 0xf5);
	expect(&m, (const uint8_t[]){ 0xfa }, 1);
	expect_status(&m, 0x00, 0x03, 40);
	/* Remote and stream mode. */
	send(&m, 0xf0);
	expect(&m, (const uint8_t[]){ 0xfa }, 1);
	expect_status(&m, 0x40, 0x03, 40);
	send(&m, 0xea);
	expect(&m, (const uint8_t[]){ 0xfa }, 1);
	expect_status(&m, 0x00, 0x03, 40);
	/* Defaults bring back 100/s and 4 counts/mm, and disable. */
	send(&m, 0xf4);
	send(&m, 0xe7);
	expect(&m, (const uint8_t[]){ 0xfa, 0xfa }, 2);
	send(&m, 0xf6);
	expect(&m, (const uint8_t[]){ 0xfa }, 1);
	expect_status(&m, 0x00, 0x02, 100);

	/* The status byte's buttons are in another order: L 4, M 2, R 1. */
	CHECK(!ps2_mouse_event(&m, 0, 0, 0, PS2_MOUSE_LEFT | PS2_MOUSE_RIGHT));
	expect_status(&m, 0x05, 0x02, 100);
	CHECK(!ps2_mouse_event(&m, 0, 0, 0, PS2_MOUSE_MIDDLE));
	expect_status(&m, 0x02, 0x02, 100);
	CHECK(!ps2_mouse_event(&m, 0, 0, 0, 0));

	/* Unknown commands, 0xec outside wrap mode. */
	send(&m, 0xe1);
	expect(&m, (const uint8_t[]){ 0xfe }, 1);
	send(&m, 0x00);
	expect(&m, (const uint8_t[]){ 0xfe }, 1);
	send(&m, 0xec);
	expect(&m, (const uint8_t[]){ 0xfa }, 1);

	/* Resend: the last answer byte, without an ACK. */
	expect_id(&m, 0x00);
	send(&m, 0xfe);
	expect(&m, (const uint8_t[]){ 0x00 }, 1);

	/* Every valid rate is taken. */
	const uint8_t rates[] = { 10, 20, 40, 60, 80, 100, 200 };
	for (unsigned i = 0; i < sizeof(rates); i++) {
		send_arg(&m, 0xf3, rates[i]);
		expect_status(&m, 0x00, 0x02, rates[i]);
	}
	for (uint8_t r = 0; r <= 3; r++) {
		send_arg(&m, 0xe8, r);
		expect_status(&m, 0x00, r, 200);
	}
}

/* An argument that is not one is a command: how Sentelic's probe (f3 66
 * 88 f3 66 00 e9) leaves a plain mouse answering. */
static void test_bad_arguments(void)
{
	struct ps2_mouse m;
	ps2_mouse_init(&m);

	send(&m, 0xf3);
	send(&m, 0x66);
	send(&m, 0x88);
	send(&m, 0xf3);
	send(&m, 0x66);
	send(&m, 0x00);
	expect(&m, (const uint8_t[]){ 0xfa, 0xfe, 0xfe, 0xfa, 0xfe, 0xfe }, 6);
	/* The rate is still 100, not 1 (Sentelic's ID). */
	expect_status(&m, 0x00, 0x02, 100);

	/* A resolution above 3 is refused the same way. */
	send(&m, 0xe8);
	send(&m, 0x04);
	expect(&m, (const uint8_t[]){ 0xfa, 0xfe }, 2);
	expect_status(&m, 0x00, 0x02, 100);

	/* A real command where an argument is due is carried out. */
	send(&m, 0xf3);
	send(&m, 0xf2);
	expect(&m, (const uint8_t[]){ 0xfa, 0xfa, 0x00 }, 3);
	send(&m, 0xe8);
	expect(&m, (const uint8_t[]){ 0xfa }, 1);
	send(&m, 0xff);
	expect(&m, (const uint8_t[]){ 0xfa, 0xaa, 0x00 }, 3);
	/* After a reset nothing is waiting for an argument. */
	send(&m, 0x03);
	expect(&m, (const uint8_t[]){ 0xfe }, 1);
}

static void knock(struct ps2_mouse *m, uint8_t a, uint8_t b, uint8_t c)
{
	send_arg(m, 0xf3, a);
	send_arg(m, 0xf3, b);
	send_arg(m, 0xf3, c);
}

static void test_intellimouse_knock(void)
{
	struct ps2_mouse m;
	ps2_mouse_init(&m);

	/* The Explorer knock alone does nothing: this is not an Explorer. */
	knock(&m, 200, 200, 80);
	expect_id(&m, 0x00);
	/* The IntelliMouse knock gives ID 3... */
	knock(&m, 200, 100, 80);
	expect_id(&m, 0x03);
	/* ...and the Explorer knock after it still 3, not 4. */
	knock(&m, 200, 200, 80);
	expect_id(&m, 0x03);
	/* Defaults and other rates keep the wheel; a reset ends it. */
	send(&m, 0xf6);
	expect(&m, (const uint8_t[]){ 0xfa }, 1);
	send_arg(&m, 0xf3, 100);
	expect_id(&m, 0x03);
	send(&m, 0xff);
	expect(&m, (const uint8_t[]){ 0xfa, 0xaa, 0x00 }, 3);
	expect_id(&m, 0x00);

	/* The three rates must be the last three: 200 100 60 80 is not it,
	 * other commands between them do not matter. */
	knock(&m, 200, 100, 60);
	send_arg(&m, 0xf3, 80);
	expect_id(&m, 0x00);
	send_arg(&m, 0xf3, 200);
	expect_status(&m, 0x00, 0x02, 200);
	send_arg(&m, 0xf3, 100);
	send_arg(&m, 0xe8, 0x01);
	send_arg(&m, 0xf3, 80);
	expect_id(&m, 0x03);
}

static void enable(struct ps2_mouse *m)
{
	send(m, 0xf4);
	expect(m, (const uint8_t[]){ 0xfa }, 1);
}

static void test_packets(void)
{
	struct ps2_mouse m;
	ps2_mouse_init(&m);
	enable(&m);

	/* Right 10 and up 5 (dy -5 on the screen), left button. */
	CHECK(ps2_mouse_event(&m, 10, -5, 0, PS2_MOUSE_LEFT));
	expect(&m, (const uint8_t[]){ 0x09, 0x0a, 0x05 }, 3);
	/* Left 3 and down 4: both sign bits. */
	CHECK(ps2_mouse_event(&m, -3, 4, 0, PS2_MOUSE_LEFT));
	expect(&m, (const uint8_t[]){ 0x39, 0xfd, 0xfc }, 3);
	/* A button change alone is a packet; so is a release. */
	CHECK(ps2_mouse_event(&m, 0, 0, 0, PS2_MOUSE_RIGHT | PS2_MOUSE_MIDDLE));
	expect(&m, (const uint8_t[]){ 0x0e, 0x00, 0x00 }, 3);
	CHECK(ps2_mouse_event(&m, 0, 0, 0, 0));
	expect(&m, (const uint8_t[]){ 0x08, 0x00, 0x00 }, 3);
	/* Nothing changed: no packet. Buttons beyond three are ignored. */
	CHECK(ps2_mouse_event(&m, 0, 0, 0, 0x18));
	expect(&m, NULL, 0);
	/* A plain mouse has no wheel: the turn is dropped, no packet. */
	CHECK(ps2_mouse_event(&m, 0, 0, 3, 0));
	expect(&m, NULL, 0);

	/* Events before the packet is taken merge into one. */
	CHECK(ps2_mouse_event(&m, 5, 0, 0, 0));
	CHECK(ps2_mouse_event(&m, 7, 2, 0, 0));
	expect(&m, (const uint8_t[]){ 0x28, 0x0c, 0xfe }, 3);
	CHECK_EQ(m.packets, 5);
	CHECK_EQ(m.events, 8);

	/* Resend repeats the whole last packet. */
	send(&m, 0xfe);
	expect(&m, (const uint8_t[]){ 0x28, 0x0c, 0xfe }, 3);

	/* The wheel mouse: 4 bytes, Z towards the user positive. */
	knock(&m, 200, 100, 80);
	CHECK(ps2_mouse_event(&m, 1, 0, 1, 0));
	expect(&m, (const uint8_t[]){ 0x08, 0x01, 0x00, 0xff }, 4);
	CHECK(ps2_mouse_event(&m, 0, 0, -2, PS2_MOUSE_MIDDLE));
	expect(&m, (const uint8_t[]){ 0x0c, 0x00, 0x00, 0x02 }, 4);
	/* A turn alone is a packet now. */
	CHECK(ps2_mouse_event(&m, 0, 0, 1, PS2_MOUSE_MIDDLE));
	expect(&m, (const uint8_t[]){ 0x0c, 0x00, 0x00, 0xff }, 4);
	send(&m, 0xfe);
	expect(&m, (const uint8_t[]){ 0x0c, 0x00, 0x00, 0xff }, 4);
}

static void test_splitting(void)
{
	struct ps2_mouse m;
	ps2_mouse_init(&m);
	enable(&m);

	/* 600 right: 255, 255, 90; never -256 or a clamp. */
	CHECK(ps2_mouse_event(&m, 600, 0, 0, 0));
	expect(&m, (const uint8_t[]){ 0x08, 0xff, 0x00, 0x08, 0xff, 0x00, 0x08, 0x5a, 0x00 }, 9);
	/* 600 left, 300 down (PS/2: -300 in Y). */
	CHECK(ps2_mouse_event(&m, -600, 300, 0, 0));
	expect(&m, (const uint8_t[]){ 0x38, 0x01, 0x01, 0x38, 0x01, 0xd3, 0x18, 0xa6, 0x00 },
	       9);
	/* Exactly 256: 255 then 1. */
	CHECK(ps2_mouse_event(&m, -256, 0, 0, 0));
	expect(&m, (const uint8_t[]){ 0x18, 0x01, 0x00, 0x18, 0xff, 0x00 }, 6);

	/* Up to the counters' capacity nothing is lost and no overflow bit. */
	CHECK(ps2_mouse_event(&m, PS2_MOUSE_MAX_PENDING, -PS2_MOUSE_MAX_PENDING, 0,
			      PS2_MOUSE_LEFT));
	struct totals t = collect(&m, 3);
	CHECK_EQ(t.x, PS2_MOUSE_MAX_PENDING);
	CHECK_EQ(t.y, PS2_MOUSE_MAX_PENDING);
	CHECK_EQ(t.packets, PS2_MOUSE_MAX_PENDING / 255);
	CHECK_EQ(t.overflow_seen, 0);
	CHECK_EQ(t.buttons_seen, PS2_MOUSE_LEFT);

	/* Beyond it the counters saturate and the next packet says so. */
	for (int i = 0; i < 100; i++)
		CHECK(ps2_mouse_event(&m, 1000, 0, 0, PS2_MOUSE_LEFT));
	CHECK(ps2_mouse_event(&m, 0, 5000, 0, PS2_MOUSE_LEFT));
	t = collect(&m, 3);
	CHECK_EQ(t.x, PS2_MOUSE_MAX_PENDING);
	CHECK_EQ(t.y, -PS2_MOUSE_MAX_PENDING);
	CHECK_EQ(t.first0 & 0xc0, 0xc0);
	/* Only the first: the overflow was reported. */
	CHECK(ps2_mouse_event(&m, 1, 0, 0, PS2_MOUSE_LEFT));
	expect(&m, (const uint8_t[]){ 0x09, 0x01, 0x00 }, 3);

	/* The extremes of an int are no trouble. */
	CHECK(ps2_mouse_event(&m, INT_MIN, INT_MIN, INT_MIN, 0));
	CHECK(ps2_mouse_event(&m, INT_MAX, INT_MAX, INT_MAX, 0));
	t = collect(&m, 3);
	CHECK_EQ(t.x, PS2_MOUSE_MAX_PENDING);
	CHECK_EQ(t.y, -PS2_MOUSE_MAX_PENDING);
	CHECK_EQ(t.overflow_seen, 0xc0);

	/* The wheel splits into -8..7 steps. */
	knock(&m, 200, 100, 80);
	CHECK(ps2_mouse_event(&m, 0, 0, -20, 0));
	t = collect(&m, 4);
	CHECK_EQ(t.z, 20);
	CHECK_EQ(t.packets, 3);
	CHECK(ps2_mouse_event(&m, 0, 0, 20, 0));
	t = collect(&m, 4);
	CHECK_EQ(t.z, -20);
	CHECK_EQ(t.packets, 3);
	/* A long spin saturates rather than running on. */
	for (int i = 0; i < 100; i++)
		CHECK(ps2_mouse_event(&m, 0, 0, 10, 0));
	t = collect(&m, 4);
	CHECK_EQ(t.z, -56);
	CHECK_EQ(m.dropped, 0);
}

static void test_scaling(void)
{
	struct ps2_mouse m;
	ps2_mouse_init(&m);
	enable(&m);
	send(&m, 0xe7);
	expect(&m, (const uint8_t[]){ 0xfa }, 1);

	/* 1 1 3 6 9, then twice. */
	const int in[] = { 1, 2, 3, 4, 5, 6, 100 };
	const int out[] = { 1, 1, 3, 6, 9, 12, 200 };
	for (unsigned i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		CHECK(ps2_mouse_event(&m, in[i], -in[i], 0, 0));
		expect(&m, (const uint8_t[]){ 0x08, (uint8_t)out[i], (uint8_t)out[i] }, 3);
		CHECK(ps2_mouse_event(&m, -in[i], in[i], 0, 0));
		expect(&m, (const uint8_t[]){ 0x38, (uint8_t)-out[i], (uint8_t)-out[i] }, 3);
	}
	/* Above 127 a packet would not hold the doubled count: split first. */
	CHECK(ps2_mouse_event(&m, 300, 0, 0, 0));
	struct totals t = collect(&m, 3);
	CHECK_EQ(t.packets, 3);
	CHECK_EQ(t.x, 2 * 300);
}

static void test_remote_mode(void)
{
	struct ps2_mouse m;
	ps2_mouse_init(&m);

	send(&m, 0xf0);
	expect(&m, (const uint8_t[]){ 0xfa }, 1);
	/* Taken, but only 0xeb sends it. */
	CHECK(ps2_mouse_event(&m, 5, -1, 0, PS2_MOUSE_RIGHT));
	CHECK(!ps2_mouse_has_output(&m));
	send(&m, 0xeb);
	expect(&m, (const uint8_t[]){ 0xfa, 0x0a, 0x05, 0x01 }, 4);
	/* A read with nothing new still answers a packet. */
	send(&m, 0xeb);
	expect(&m, (const uint8_t[]){ 0xfa, 0x0a, 0x00, 0x00 }, 4);
	/* Scaling does not apply to reads; large motion waits for the
	 * next read. */
	send(&m, 0xe7);
	expect(&m, (const uint8_t[]){ 0xfa }, 1);
	CHECK(ps2_mouse_event(&m, 300, 0, 0, 0));
	send(&m, 0xeb);
	expect(&m, (const uint8_t[]){ 0xfa, 0x08, 0xff, 0x00 }, 4);
	send(&m, 0xeb);
	expect(&m, (const uint8_t[]){ 0xfa, 0x08, 0x2d, 0x00 }, 4);
	/* Leaving remote mode clears the counters. */
	CHECK(ps2_mouse_event(&m, 9, 0, 0, 0));
	send(&m, 0xea);
	expect(&m, (const uint8_t[]){ 0xfa }, 1);
	send(&m, 0xeb);
	expect(&m, (const uint8_t[]){ 0xfa, 0x08, 0x00, 0x00 }, 4);
}

static void test_wrap_mode(void)
{
	struct ps2_mouse m;
	ps2_mouse_init(&m);

	send(&m, 0xee);
	expect(&m, (const uint8_t[]){ 0xfa }, 1);
	/* Everything comes back, commands too... */
	const uint8_t bytes[] = { 0x12, 0xf2, 0xe9, 0xfe, 0xf4 };
	for (unsigned i = 0; i < sizeof(bytes); i++)
		send(&m, bytes[i]);
	expect(&m, bytes, sizeof(bytes));
	/* ...and input is not taken... */
	CHECK(!ps2_mouse_event(&m, 3, 3, 0, 0));
	/* ...until 0xec, back to the mode before. */
	send(&m, 0xec);
	expect(&m, (const uint8_t[]){ 0xfa }, 1);
	expect_status(&m, 0x00, 0x02, 100);
	/* 0xff resets out of wrap mode too. */
	send(&m, 0xee);
	send(&m, 0xff);
	/* (A reset drops what was not read: the first ACK.) */
	expect(&m, (const uint8_t[]){ 0xfa, 0xaa, 0x00 }, 3);
	expect_id(&m, 0x00);
}

static void test_input_while_disabled(void)
{
	struct ps2_mouse m;
	ps2_mouse_init(&m);

	/* Reporting off: motion is dropped, the buttons kept. */
	CHECK(!ps2_mouse_event(&m, 50, 50, 0, PS2_MOUSE_LEFT));
	CHECK(!ps2_mouse_has_output(&m));
	CHECK_EQ(m.events_dropped, 1);
	/* Enabling shows the held button in a packet of its own. */
	send(&m, 0xf4);
	expect(&m, (const uint8_t[]){ 0xfa, 0x09, 0x00, 0x00 }, 4);

	/* Disabling drops a packet not yet taken in full and the counters:
	 * the ACK is the next byte. */
	CHECK(ps2_mouse_event(&m, 10, 0, 0, PS2_MOUSE_LEFT));
	uint8_t first;
	CHECK(ps2_mouse_take(&m, &first));
	CHECK_EQ(first, 0x09);
	CHECK(ps2_mouse_event(&m, 10, 0, 0, PS2_MOUSE_LEFT));
	send(&m, 0xf5);
	expect(&m, (const uint8_t[]){ 0xfa }, 1);
	enable(&m);
	expect(&m, NULL, 0);

	/* Other commands keep a packet already started and answer after it. */
	CHECK(ps2_mouse_event(&m, 10, 0, 0, PS2_MOUSE_LEFT));
	CHECK(ps2_mouse_take(&m, &first));
	send(&m, 0xe9);
	expect(&m, (const uint8_t[]){ 0x0a, 0x00, 0xfa, 0x24, 0x02, 100 }, 6);

	/* A guest that never reads loses answers, counted, not memory. */
	for (int i = 0; i < 10; i++)
		send(&m, 0xe9);
	CHECK_EQ(m.count, PS2_MOUSE_QUEUE_SIZE);
	CHECK(m.dropped > 0);
	send(&m, 0xff);
	expect(&m, (const uint8_t[]){ 0xfa, 0xaa, 0x00 }, 3);
}

int main(void)
{
	test_power_on_and_commands();
	test_bad_arguments();
	test_intellimouse_knock();
	test_packets();
	test_splitting();
	test_scaling();
	test_remote_mode();
	test_wrap_mode();
	test_input_while_disabled();
	return check_report("test_ps2_mouse");
}
