/* The PS/2 mouse on the i8042's AUX port: its command set, the
 * IntelliMouse knock, the movement counters and packet encoding. See
 * ps2_mouse.h for the behaviour chosen where mice differ. */
#include "devices/ps2_mouse.h"
#include "host/snapfile.h"

#include <string.h>

/* Commands from the host. */
enum {
	MOUSE_SCALING_1TO1 = 0xe6,
	MOUSE_SCALING_2TO1 = 0xe7,
	MOUSE_SET_RESOLUTION = 0xe8,
	MOUSE_STATUS = 0xe9,
	MOUSE_STREAM_MODE = 0xea,
	MOUSE_READ_DATA = 0xeb,
	MOUSE_RESET_WRAP = 0xec,
	MOUSE_WRAP_MODE = 0xee,
	MOUSE_REMOTE_MODE = 0xf0,
	MOUSE_GET_ID = 0xf2,
	MOUSE_SET_RATE = 0xf3,
	MOUSE_ENABLE = 0xf4,
	MOUSE_DISABLE = 0xf5,
	MOUSE_DEFAULTS = 0xf6,
	MOUSE_RESEND = 0xfe,
	MOUSE_RESET = 0xff,
};

#define MOUSE_ACK	0xfa
#define MOUSE_NAK	0xfe	/* "resend": the byte was not understood */
#define MOUSE_BAT_OK	0xaa
#define MOUSE_ID_PS2	0x00
#define MOUSE_ID_WHEEL	0x03

#define RATE_DEFAULT		100
#define RESOLUTION_DEFAULT	2	/* 4 counts per mm */
#define RESOLUTION_MAX		3

/* First packet byte. */
#define PKT_ALWAYS_1	0x08
#define PKT_X_SIGN	0x10
#define PKT_Y_SIGN	0x20
#define PKT_X_OVERFLOW	0x40
#define PKT_Y_OVERFLOW	0x80

/* First status byte (0xe9): the buttons in another order than a packet's. */
#define STATUS_RIGHT	0x01
#define STATUS_MIDDLE	0x02
#define STATUS_LEFT	0x04
#define STATUS_SCALING	0x10
#define STATUS_ENABLED	0x20
#define STATUS_REMOTE	0x40

/* One packet's range: 9-bit two's complement without -256 (see the
 * header), halved before 2:1 scaling doubles it; the wheel's 4 bits. */
#define PKT_RANGE	255
#define PKT_RANGE_2TO1	127
#define WHEEL_MIN	(-8)
#define WHEEL_MAX	7
/* Wheel notches the counter holds: as many packets as the axes'. */
#define WHEEL_MAX_PENDING (8 * WHEEL_MAX)

static const uint8_t valid_rates[] = { 10, 20, 40, 60, 80, 100, 200 };
static const uint8_t intellimouse_knock[3] = { 200, 100, 80 };

static int clamp(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static void push(struct ps2_mouse *m, uint8_t byte)
{
	if (m->count == PS2_MOUSE_QUEUE_SIZE) {
		m->dropped++;
		return;
	}
	m->queue[(m->head + m->count) % PS2_MOUSE_QUEUE_SIZE] = byte;
	m->count++;
}

/* An answer byte; it is what 0xfe sends again. */
static void answer(struct ps2_mouse *m, uint8_t byte)
{
	m->last[0] = byte;
	m->last_len = 1;
	push(m, byte);
}

static void clear_output(struct ps2_mouse *m)
{
	m->head = 0;
	m->count = 0;
}

static void clear_counters(struct ps2_mouse *m)
{
	m->dx = 0;
	m->dy = 0;
	m->dz = 0;
	m->overflow = 0;
}

/* 0xf6's settings; the ID and the knock survive (only a reset ends the
 * wheel mode, as on an IntelliMouse). */
static void set_defaults(struct ps2_mouse *m)
{
	m->rate = RATE_DEFAULT;
	m->resolution = RESOLUTION_DEFAULT;
	m->scaling_2to1 = false;
	m->reporting = false;
	m->remote = false;
	m->wrap = false;
	m->expecting = 0;
	clear_counters(m);
}

void ps2_mouse_init(struct ps2_mouse *m)
{
	memset(m, 0, sizeof(*m));
	set_defaults(m);
	m->id = MOUSE_ID_PS2;
}

static bool valid_rate(uint8_t rate)
{
	for (unsigned i = 0; i < sizeof(valid_rates); i++) {
		if (valid_rates[i] == rate)
			return true;
	}
	return false;
}

static void set_rate(struct ps2_mouse *m, uint8_t rate)
{
	m->rate = rate;
	m->rates[0] = m->rates[1];
	m->rates[1] = m->rates[2];
	m->rates[2] = rate;
	if (!memcmp(m->rates, intellimouse_knock, sizeof(m->rates)))
		m->id = MOUSE_ID_WHEEL;
}

/* 2:1 scaling of one packet's count, as the reference tabulates it. */
static int scale_2to1(int v)
{
	static const int small[6] = { 0, 1, 1, 3, 6, 9 };
	int mag = v < 0 ? -v : v;
	int out = mag < 6 ? small[mag] : 2 * mag;
	return v < 0 ? -out : out;
}

/* Takes one packet's worth out of the movement counters and queues it. */
static void queue_packet(struct ps2_mouse *m, bool scaled)
{
	int range = scaled ? PKT_RANGE_2TO1 : PKT_RANGE;
	int x = clamp(m->dx, -range, range);
	int y = clamp(m->dy, -range, range);
	int z = 0;

	m->dx -= x;
	m->dy -= y;
	if (m->id == MOUSE_ID_WHEEL) {
		z = clamp(m->dz, WHEEL_MIN, WHEEL_MAX);
		m->dz -= z;
	}
	if (scaled) {
		x = scale_2to1(x);
		y = scale_2to1(y);
	}
	uint8_t b0 = PKT_ALWAYS_1 | m->buttons | m->overflow;
	if (x < 0)
		b0 |= PKT_X_SIGN;
	if (y < 0)
		b0 |= PKT_Y_SIGN;
	m->overflow = 0;
	m->reported = m->buttons;

	m->last[0] = b0;
	m->last[1] = (uint8_t)x;
	m->last[2] = (uint8_t)y;
	m->last[3] = (uint8_t)z;
	m->last_len = m->id == MOUSE_ID_WHEEL ? 4 : 3;
	for (unsigned i = 0; i < m->last_len; i++)
		push(m, m->last[i]);
	m->packets++;
}

static uint8_t status_byte(const struct ps2_mouse *m)
{
	uint8_t s = 0;

	if (m->remote)
		s |= STATUS_REMOTE;
	if (m->reporting)
		s |= STATUS_ENABLED;
	if (m->scaling_2to1)
		s |= STATUS_SCALING;
	if (m->buttons & PS2_MOUSE_LEFT)
		s |= STATUS_LEFT;
	if (m->buttons & PS2_MOUSE_MIDDLE)
		s |= STATUS_MIDDLE;
	if (m->buttons & PS2_MOUSE_RIGHT)
		s |= STATUS_RIGHT;
	return s;
}

/* The byte that 0xf3 or 0xe8 was waiting for; false if it is not a valid
 * argument, and so a command. */
static bool take_argument(struct ps2_mouse *m, uint8_t command, uint8_t arg)
{
	switch (command) {
	case MOUSE_SET_RATE:
		if (!valid_rate(arg))
			return false;
		set_rate(m, arg);
		break;
	case MOUSE_SET_RESOLUTION:
		if (arg > RESOLUTION_MAX)
			return false;
		m->resolution = arg;
		break;
	default:
		return false;
	}
	clear_counters(m);
	answer(m, MOUSE_ACK);
	return true;
}

static void command(struct ps2_mouse *m, uint8_t byte)
{
	switch (byte) {
	case MOUSE_SCALING_1TO1:
	case MOUSE_SCALING_2TO1:
		m->scaling_2to1 = byte == MOUSE_SCALING_2TO1;
		answer(m, MOUSE_ACK);
		break;
	case MOUSE_SET_RESOLUTION:
	case MOUSE_SET_RATE:
		m->expecting = byte;
		answer(m, MOUSE_ACK);
		break;
	case MOUSE_STATUS:
		answer(m, MOUSE_ACK);
		answer(m, status_byte(m));
		answer(m, m->resolution);
		answer(m, m->rate);
		break;
	case MOUSE_STREAM_MODE:
	case MOUSE_REMOTE_MODE:
		m->remote = byte == MOUSE_REMOTE_MODE;
		clear_counters(m);
		answer(m, MOUSE_ACK);
		break;
	case MOUSE_READ_DATA:
		answer(m, MOUSE_ACK);
		queue_packet(m, false);
		break;
	case MOUSE_RESET_WRAP:
		/* Only reached outside wrap mode: nothing to leave. */
		answer(m, MOUSE_ACK);
		break;
	case MOUSE_WRAP_MODE:
		m->wrap = true;
		clear_counters(m);
		answer(m, MOUSE_ACK);
		break;
	case MOUSE_GET_ID:
		clear_counters(m);
		answer(m, MOUSE_ACK);
		answer(m, m->id);
		break;
	case MOUSE_ENABLE:
	case MOUSE_DISABLE:
		clear_output(m);
		clear_counters(m);
		m->reporting = byte == MOUSE_ENABLE;
		answer(m, MOUSE_ACK);
		break;
	case MOUSE_DEFAULTS:
		clear_output(m);
		set_defaults(m);
		answer(m, MOUSE_ACK);
		break;
	case MOUSE_RESEND:
		for (unsigned i = 0; i < m->last_len; i++)
			push(m, m->last[i]);
		break;
	case MOUSE_RESET: {
		/* As at power-on, output dropped, but the statistics and the
		 * buttons the user is holding survive. */
		uint64_t events = m->events, events_dropped = m->events_dropped;
		uint64_t packets = m->packets, dropped = m->dropped;
		uint8_t buttons = m->buttons;
		ps2_mouse_init(m);
		m->events = events;
		m->events_dropped = events_dropped;
		m->packets = packets;
		m->dropped = dropped;
		m->buttons = buttons;
		m->reported = buttons;
		answer(m, MOUSE_ACK);
		answer(m, MOUSE_BAT_OK);
		answer(m, MOUSE_ID_PS2);
		break;
	}
	default:
		answer(m, MOUSE_NAK);
		break;
	}
}

void ps2_mouse_write(struct ps2_mouse *m, uint8_t byte)
{
	if (m->wrap && byte != MOUSE_RESET && byte != MOUSE_RESET_WRAP) {
		push(m, byte);
		return;
	}
	if (m->wrap && byte == MOUSE_RESET_WRAP) {
		m->wrap = false;
		clear_counters(m);
		answer(m, MOUSE_ACK);
		return;
	}
	uint8_t expecting = m->expecting;
	m->expecting = 0;
	if (expecting && take_argument(m, expecting, byte))
		return;
	command(m, byte);
}

/* Whether stream mode has a packet to send: motion, a wheel turn the
 * packets can carry, a button change or an overflow to report. */
static bool packet_due(const struct ps2_mouse *m)
{
	if (!m->reporting || m->remote || m->wrap)
		return false;
	return m->dx || m->dy || (m->dz && m->id == MOUSE_ID_WHEEL) ||
	       m->buttons != m->reported || m->overflow;
}

bool ps2_mouse_has_output(const struct ps2_mouse *m)
{
	return m->count || packet_due(m);
}

bool ps2_mouse_take(struct ps2_mouse *m, uint8_t *byte)
{
	if (!m->count) {
		if (!packet_due(m))
			return false;
		queue_packet(m, m->scaling_2to1);
	}
	*byte = m->queue[m->head];
	m->head = (m->head + 1) % PS2_MOUSE_QUEUE_SIZE;
	m->count--;
	return true;
}

/* Adds to a movement counter, which saturates and flags the overflow.
 * The delta is 64-bit so that negating an int's minimum fits. */
static int accumulate(int counter, long long delta, int limit, uint8_t *overflow, uint8_t bit)
{
	long long sum = counter + delta;

	if (sum > limit || sum < -limit) {
		*overflow |= bit;
		return sum > 0 ? limit : -limit;
	}
	return (int)sum;
}

bool ps2_mouse_event(struct ps2_mouse *m, int dx, int dy, int dz, unsigned buttons)
{
	uint8_t wheel_overflow = 0;	/* the wheel has no bit for it */

	m->events++;
	m->buttons = (uint8_t)(buttons & PS2_MOUSE_BUTTONS);
	if (m->wrap || (!m->reporting && !m->remote)) {
		m->events_dropped++;
		return false;
	}
	/* The host's Y grows downwards and its wheel away from the user;
	 * PS/2's Y grows upwards and its wheel towards the user. */
	m->dx = accumulate(m->dx, dx, PS2_MOUSE_MAX_PENDING, &m->overflow, PKT_X_OVERFLOW);
	m->dy = accumulate(m->dy, -(long long)dy, PS2_MOUSE_MAX_PENDING, &m->overflow,
			   PKT_Y_OVERFLOW);
	/* A mouse without the wheel protocol has nowhere to put the wheel. */
	if (m->id == MOUSE_ID_WHEEL)
		m->dz = accumulate(m->dz, -(long long)dz, WHEEL_MAX_PENDING, &wheel_overflow, 1);
	return true;
}

/* ---- Snapshots ---------------------------------------------------------- */

#define PS2_MOUSE_SNAP_VERSION 1u

void ps2_mouse_save(const struct ps2_mouse *m, struct snap_writer *w)
{
	snapw_begin(w, "MOUS", PS2_MOUSE_SNAP_VERSION, false);
	snapw_bytes(w, m->queue, sizeof(m->queue));
	snapw_u32(w, m->head);
	snapw_u32(w, m->count);
	snapw_u8(w, m->id);
	snapw_u8(w, m->rate);
	snapw_u8(w, m->resolution);
	snapw_bool(w, m->scaling_2to1);
	snapw_bool(w, m->reporting);
	snapw_bool(w, m->remote);
	snapw_bool(w, m->wrap);
	snapw_u8(w, m->expecting);
	snapw_bytes(w, m->rates, sizeof(m->rates));
	snapw_bytes(w, m->last, sizeof(m->last));
	snapw_u32(w, m->last_len);
	snapw_u32(w, (uint32_t)m->dx);
	snapw_u32(w, (uint32_t)m->dy);
	snapw_u32(w, (uint32_t)m->dz);
	snapw_u8(w, m->overflow);
	snapw_u8(w, m->buttons);
	snapw_u8(w, m->reported);
	snapw_end(w);
}

int ps2_mouse_load(struct ps2_mouse *m, struct snap_reader *r)
{
	if (r->version != PS2_MOUSE_SNAP_VERSION)
		return snapr_fail(r, "version %u, this btvm reads %u", r->version,
				  PS2_MOUSE_SNAP_VERSION);
	snapr_bytes(r, m->queue, sizeof(m->queue));
	uint32_t head = snapr_u32(r), count = snapr_u32(r);
	m->id = snapr_u8(r);
	m->rate = snapr_u8(r);
	m->resolution = snapr_u8(r);
	m->scaling_2to1 = snapr_bool(r);
	m->reporting = snapr_bool(r);
	m->remote = snapr_bool(r);
	m->wrap = snapr_bool(r);
	m->expecting = snapr_u8(r);
	snapr_bytes(r, m->rates, sizeof(m->rates));
	snapr_bytes(r, m->last, sizeof(m->last));
	uint32_t last_len = snapr_u32(r);
	m->dx = (int)snapr_u32(r);
	m->dy = (int)snapr_u32(r);
	m->dz = (int)snapr_u32(r);
	m->overflow = snapr_u8(r);
	m->buttons = snapr_u8(r);
	m->reported = snapr_u8(r);
	if (!r->err && (head >= PS2_MOUSE_QUEUE_SIZE || count > PS2_MOUSE_QUEUE_SIZE ||
			last_len > sizeof(m->last)))
		return snapr_fail(r, "queue at %u with %u bytes, last %u", head, count, last_len);
	m->head = head;
	m->count = count;
	m->last_len = last_len;
	return snapr_end(r);
}
