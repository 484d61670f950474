/* The 8042 keyboard controller and the PS/2 keyboard behind it: the
 * controller's commands, status and configuration byte, its output port
 * (A20 and reset), the output FIFO with scancode translation and the IRQ 1
 * and IRQ 12 outputs, and the keyboard's command set and scancode
 * generation. The mouse on the AUX port is a device of its own
 * (ps2_mouse.c); the controller routes bytes to and from it. See i8042.h
 * for the behaviour chosen where the hardware varies. */
#include "devices/i8042.h"
#include "host/snapfile.h"

#include <string.h>

#define STS_OBF		0x01
#define STS_SYS		0x04
#define STS_CMD		0x08	/* last write was to 0x64 */
#define STS_UNLOCKED	0x10
#define STS_AUX_DATA	0x20

#define CTR_KBD_INT	0x01
#define CTR_AUX_INT	0x02
#define CTR_SYS		0x04
#define CTR_KBD_DISABLE	0x10
#define CTR_AUX_DISABLE	0x20
#define CTR_TRANSLATE	0x40
#define CTR_POWER_ON	(CTR_TRANSLATE | CTR_AUX_DISABLE | CTR_SYS | CTR_KBD_INT)

#define OUT_RESET	0x01	/* active low */
#define OUT_A20		0x02
#define OUT_KBD_IRQ	0x10
#define OUT_AUX_IRQ	0x20
/* Reset and A20 high, the clock and data lines of both ports idle (high). */
#define OUT_POWER_ON	0xcf

/* Controller commands (port 0x64). */
enum {
	CMD_READ_RAM = 0x20,	/* 0x20-0x3f */
	CMD_WRITE_RAM = 0x60,	/* 0x60-0x7f */
	CMD_PASSWORD_TEST = 0xa4,
	CMD_AUX_DISABLE = 0xa7,
	CMD_AUX_ENABLE = 0xa8,
	CMD_AUX_TEST = 0xa9,
	CMD_SELF_TEST = 0xaa,
	CMD_KBD_TEST = 0xab,
	CMD_KBD_DISABLE = 0xad,
	CMD_KBD_ENABLE = 0xae,
	CMD_READ_OUTPUT = 0xd0,
	CMD_WRITE_OUTPUT = 0xd1,
	CMD_WRITE_KBD_BUFFER = 0xd2,
	CMD_WRITE_AUX_BUFFER = 0xd3,
	CMD_WRITE_AUX = 0xd4,
	CMD_A20_OFF = 0xdd,
	CMD_A20_ON = 0xdf,
	CMD_PULSE = 0xf0,	/* 0xf0-0xff */
};

#define NO_PASSWORD	0xf1
#define SELF_TEST_OK	0x55
#define INTERFACE_OK	0x00

/* Keyboard commands and responses. */
enum {
	KBD_SET_LEDS = 0xed,
	KBD_ECHO = 0xee,
	KBD_SCANCODE_SET = 0xf0,
	KBD_IDENTIFY = 0xf2,
	KBD_TYPEMATIC = 0xf3,
	KBD_ENABLE = 0xf4,
	KBD_DISABLE = 0xf5,
	KBD_DEFAULTS = 0xf6,
	KBD_RESEND = 0xfe,
	KBD_RESET = 0xff,
};

#define KBD_ACK		0xfa
#define KBD_BAT_OK	0xaa
#define KBD_ID_0	0xab
#define KBD_ID_1	0x83	/* MF2 keyboard */
#define KBD_RELEASE	0xf0	/* set 2 break prefix */
/* 10.9 characters per second after 500 ms, every keyboard's default. */
#define KBD_TYPEMATIC_DEFAULT 0x2b

/* The 8042's translation of set 2 bytes below 0x80 to set 1, which is also
 * what a keyboard switched to set 1 sends for each key. The 101/102 keys
 * are named; the other codes (F13-F24, Japanese and Brazilian keys, and
 * set 2's 0x00 error code, which becomes set 1's 0xff) complete the
 * table the chip has. Above 0x7f the chip passes bytes through except
 * for two: see translate(). */
static const uint8_t set2_to_set1[0x80] = {
	[0x00] = 0xff,
	[0x01] = 0x43,	/* F9 */
	[0x02] = 0x41,
	[0x03] = 0x3f,	/* F5 */
	[0x04] = 0x3d,	/* F3 */
	[0x05] = 0x3b,	/* F1 */
	[0x06] = 0x3c,	/* F2 */
	[0x07] = 0x58,	/* F12 */
	[0x08] = 0x64,	/* F13 */
	[0x09] = 0x44,	/* F10 */
	[0x0a] = 0x42,	/* F8 */
	[0x0b] = 0x40,	/* F6 */
	[0x0c] = 0x3e,	/* F4 */
	[0x0d] = 0x0f,	/* Tab */
	[0x0e] = 0x29,	/* ` */
	[0x0f] = 0x59,
	[0x10] = 0x65,	/* F14 */
	[0x11] = 0x38,	/* left Alt */
	[0x12] = 0x2a,	/* left Shift */
	[0x13] = 0x70,	/* Katakana/Hiragana */
	[0x14] = 0x1d,	/* left Ctrl */
	[0x15] = 0x10,	/* Q */
	[0x16] = 0x02,	/* 1 */
	[0x17] = 0x5a,
	[0x18] = 0x66,	/* F15 */
	[0x19] = 0x71,
	[0x1a] = 0x2c,	/* Z */
	[0x1b] = 0x1f,	/* S */
	[0x1c] = 0x1e,	/* A */
	[0x1d] = 0x11,	/* W */
	[0x1e] = 0x03,	/* 2 */
	[0x1f] = 0x5b,
	[0x20] = 0x67,	/* F16 */
	[0x21] = 0x2e,	/* C */
	[0x22] = 0x2d,	/* X */
	[0x23] = 0x20,	/* D */
	[0x24] = 0x12,	/* E */
	[0x25] = 0x05,	/* 4 */
	[0x26] = 0x04,	/* 3 */
	[0x27] = 0x5c,
	[0x28] = 0x68,	/* F17 */
	[0x29] = 0x39,	/* Space */
	[0x2a] = 0x2f,	/* V */
	[0x2b] = 0x21,	/* F */
	[0x2c] = 0x14,	/* T */
	[0x2d] = 0x13,	/* R */
	[0x2e] = 0x06,	/* 5 */
	[0x2f] = 0x5d,
	[0x30] = 0x69,	/* F18 */
	[0x31] = 0x31,	/* N */
	[0x32] = 0x30,	/* B */
	[0x33] = 0x23,	/* H */
	[0x34] = 0x22,	/* G */
	[0x35] = 0x15,	/* Y */
	[0x36] = 0x07,	/* 6 */
	[0x37] = 0x5e,
	[0x38] = 0x6a,	/* F19 */
	[0x39] = 0x72,
	[0x3a] = 0x32,	/* M */
	[0x3b] = 0x24,	/* J */
	[0x3c] = 0x16,	/* U */
	[0x3d] = 0x08,	/* 7 */
	[0x3e] = 0x09,	/* 8 */
	[0x3f] = 0x5f,
	[0x40] = 0x6b,	/* F20 */
	[0x41] = 0x33,	/* , */
	[0x42] = 0x25,	/* K */
	[0x43] = 0x17,	/* I */
	[0x44] = 0x18,	/* O */
	[0x45] = 0x0b,	/* 0 */
	[0x46] = 0x0a,	/* 9 */
	[0x47] = 0x60,
	[0x48] = 0x6c,	/* F21 */
	[0x49] = 0x34,	/* . */
	[0x4a] = 0x35,	/* / */
	[0x4b] = 0x26,	/* L */
	[0x4c] = 0x27,	/* ; */
	[0x4d] = 0x19,	/* P */
	[0x4e] = 0x0c,	/* - */
	[0x4f] = 0x61,
	[0x50] = 0x6d,	/* F22 */
	[0x51] = 0x73,	/* Ro (Brazilian /?) */
	[0x52] = 0x28,	/* ' */
	[0x53] = 0x74,
	[0x54] = 0x1a,	/* [ */
	[0x55] = 0x0d,	/* = */
	[0x56] = 0x62,
	[0x57] = 0x6e,	/* F23 */
	[0x58] = 0x3a,	/* Caps Lock */
	[0x59] = 0x36,	/* right Shift */
	[0x5a] = 0x1c,	/* Enter */
	[0x5b] = 0x1b,	/* ] */
	[0x5c] = 0x75,
	[0x5d] = 0x2b,	/* backslash */
	[0x5e] = 0x63,
	[0x5f] = 0x76,	/* F24 */
	[0x60] = 0x55,
	[0x61] = 0x56,	/* the 102nd key (ISO \|) */
	[0x62] = 0x77,
	[0x63] = 0x78,
	[0x64] = 0x79,	/* Henkan */
	[0x65] = 0x7a,
	[0x66] = 0x0e,	/* Backspace */
	[0x67] = 0x7b,	/* Muhenkan */
	[0x68] = 0x7c,
	[0x69] = 0x4f,	/* keypad 1 / End */
	[0x6a] = 0x7d,	/* Yen */
	[0x6b] = 0x4b,	/* keypad 4 / Left */
	[0x6c] = 0x47,	/* keypad 7 / Home */
	[0x6d] = 0x7e,	/* keypad , (Brazilian) */
	[0x6e] = 0x7f,
	[0x6f] = 0x6f,
	[0x70] = 0x52,	/* keypad 0 / Insert */
	[0x71] = 0x53,	/* keypad . / Delete */
	[0x72] = 0x50,	/* keypad 2 / Down */
	[0x73] = 0x4c,	/* keypad 5 */
	[0x74] = 0x4d,	/* keypad 6 / Right */
	[0x75] = 0x48,	/* keypad 8 / Up */
	[0x76] = 0x01,	/* Esc */
	[0x77] = 0x45,	/* Num Lock */
	[0x78] = 0x57,	/* F11 */
	[0x79] = 0x4e,	/* keypad + */
	[0x7a] = 0x51,	/* keypad 3 / Page Down */
	[0x7b] = 0x4a,	/* keypad - */
	[0x7c] = 0x37,	/* keypad * (and Print Screen after 0xe0) */
	[0x7d] = 0x49,	/* keypad 9 / Page Up */
	[0x7e] = 0x46,	/* Scroll Lock */
	[0x7f] = 0x54,
};

static uint8_t translate(uint8_t byte)
{
	if (byte < 0x80)
		return set2_to_set1[byte];
	/* F7 is the one key whose set 2 code has bit 7 set, and Alt+SysRq
	 * sends 0x84; everything else up there (prefixes, responses) passes. */
	if (byte == 0x83)
		return 0x41;
	if (byte == 0x84)
		return 0x54;
	return byte;
}

static uint8_t ctr(const struct i8042 *c)
{
	return c->ram[0];
}

/* ---- the keyboard ---- */

static void kbd_clear(struct ps2_keyboard *k)
{
	k->head = 0;
	k->count = 0;
}

static void kbd_push(struct i8042 *c, uint8_t byte)
{
	struct ps2_keyboard *k = &c->kbd;

	if (k->count == I8042_KBD_QUEUE_SIZE) {
		c->dropped++;
		return;
	}
	k->queue[(k->head + k->count) % I8042_KBD_QUEUE_SIZE] = byte;
	k->count++;
}

static uint8_t kbd_pop(struct ps2_keyboard *k)
{
	uint8_t byte = k->queue[k->head];
	k->head = (k->head + 1) % I8042_KBD_QUEUE_SIZE;
	k->count--;
	return byte;
}

/* A byte the keyboard answers with; remembered for 0xfe resend. */
static void kbd_send(struct i8042 *c, uint8_t byte)
{
	c->kbd.last_sent = byte;
	kbd_push(c, byte);
}

/* What 0xf5 and 0xf6 restore. The LEDs are the host's business and the
 * scancode set survives: only a reset returns to set 2. */
static void kbd_defaults(struct ps2_keyboard *k)
{
	k->typematic = KBD_TYPEMATIC_DEFAULT;
	k->expecting = 0;
}

static void kbd_power_on(struct ps2_keyboard *k)
{
	memset(k, 0, sizeof(*k));
	kbd_defaults(k);
	k->scancode_set = 2;
	k->scanning = true;
}

static void kbd_argument(struct i8042 *c, uint8_t command, uint8_t arg)
{
	struct ps2_keyboard *k = &c->kbd;

	switch (command) {
	case KBD_SET_LEDS:
		k->leds = arg & 7;
		kbd_send(c, KBD_ACK);
		break;
	case KBD_TYPEMATIC:
		k->typematic = arg;
		kbd_send(c, KBD_ACK);
		break;
	case KBD_SCANCODE_SET:
		if (arg > 3) {
			kbd_send(c, KBD_RESEND);
			break;
		}
		kbd_send(c, KBD_ACK);
		if (arg == 0)
			kbd_send(c, k->scancode_set);
		else if (arg != 3)
			k->scancode_set = arg;
		break;
	}
}

static void kbd_command(struct i8042 *c, uint8_t byte)
{
	struct ps2_keyboard *k = &c->kbd;
	uint8_t expecting = k->expecting;

	k->expecting = 0;
	/* Arguments never have bit 7 set, so such a byte where one is due is
	 * a command, and the one that was waiting is abandoned. */
	if (expecting && !(byte & 0x80)) {
		kbd_argument(c, expecting, byte);
		return;
	}
	switch (byte) {
	case KBD_SET_LEDS:
	case KBD_TYPEMATIC:
	case KBD_SCANCODE_SET:
		kbd_send(c, KBD_ACK);
		k->expecting = byte;
		break;
	case KBD_ECHO:
		kbd_send(c, KBD_ECHO);
		break;
	case KBD_IDENTIFY:
		kbd_send(c, KBD_ACK);
		kbd_send(c, KBD_ID_0);
		kbd_send(c, KBD_ID_1);
		break;
	case KBD_ENABLE:
		/* Enabling and disabling also clear the keyboard's buffer, so
		 * the answer is the next thing the host sees. */
		kbd_clear(k);
		k->scanning = true;
		kbd_send(c, KBD_ACK);
		break;
	case KBD_DISABLE:
	case KBD_DEFAULTS:
		kbd_clear(k);
		kbd_defaults(k);
		k->scanning = byte == KBD_DEFAULTS;
		kbd_send(c, KBD_ACK);
		break;
	case KBD_RESEND:
		kbd_push(c, k->last_sent);
		break;
	case KBD_RESET:
		kbd_power_on(k);
		kbd_send(c, KBD_ACK);
		kbd_send(c, KBD_BAT_OK);
		break;
	default:
		kbd_send(c, KBD_RESEND);
		break;
	}
}

/* ---- the controller ---- */

static void set_line(const struct irq_line *irq, bool *level, bool want)
{
	if (*level != want) {
		*level = want;
		irq_line_set(irq, want);
	}
}

/* A byte the controller itself puts in the output FIFO. */
static void push_reply(struct i8042 *c, uint8_t data, uint8_t status)
{
	if (c->out_count == I8042_BUFFER_SIZE) {
		c->dropped++;
		return;
	}
	unsigned at = c->out_count;
	/* The guest asked the controller and reads the answer next; a
	 * device's byte already waiting (only ever the last one) comes after
	 * it rather than being overwritten as on the real chip. */
	if (at && c->out[at - 1].from_device) {
		c->out[at] = c->out[at - 1];
		at--;
	}
	c->out[at] = (struct i8042_byte){ .data = data, .status = status };
	c->out_count++;
}

/* One byte from the keyboard into the empty FIFO, translated; a
 * swallowed 0xf0 leaves the FIFO empty. */
static void take_from_keyboard(struct i8042 *c)
{
	uint8_t byte = kbd_pop(&c->kbd);

	if (ctr(c) & CTR_TRANSLATE) {
		if (byte == KBD_RELEASE) {
			c->xlate_release = true;
			return;
		}
		byte = translate(byte) | (c->xlate_release ? 0x80 : 0);
		c->xlate_release = false;
	}
	c->out[0] = (struct i8042_byte){ .data = byte, .from_device = true };
	c->out_count = 1;
}

/* Lets the devices hand over bytes while they may: the output FIFO empty
 * and their interface enabled. When both have one they alternate, so
 * neither a typist nor a moving mouse holds the other back. */
static void take_from_devices(struct i8042 *c)
{
	while (c->out_count == 0) {
		bool kbd = c->kbd.count && !(ctr(c) & CTR_KBD_DISABLE);
		bool aux = !(ctr(c) & CTR_AUX_DISABLE) && ps2_mouse_has_output(&c->mouse);
		if (!kbd && !aux)
			return;
		if (kbd && (!aux || c->mouse_went_last)) {
			c->mouse_went_last = false;
			take_from_keyboard(c);
			continue;
		}
		uint8_t byte;
		if (!ps2_mouse_take(&c->mouse, &byte))
			return;
		c->mouse_went_last = true;
		c->out[0] = (struct i8042_byte){ .data = byte, .status = STS_AUX_DATA,
						 .from_device = true };
		c->out_count = 1;
	}
}

static void update(struct i8042 *c)
{
	bool kbd = false, aux = false;

	take_from_devices(c);
	if (c->out_count) {
		bool from_aux = c->out[0].status & STS_AUX_DATA;
		kbd = !from_aux && (ctr(c) & CTR_KBD_INT);
		aux = from_aux && (ctr(c) & CTR_AUX_INT);
	}
	set_line(&c->kbd_irq, &c->kbd_irq_level, kbd);
	set_line(&c->aux_irq, &c->aux_irq_level, aux);
}

/* Every access ends here: the lines follow the new state, then a reset
 * the access asked for is passed on, when the device is consistent. */
static void finish_access(struct i8042 *c)
{
	update(c);
	if (c->reset_pending) {
		c->reset_pending = false;
		c->resets++;
		if (c->reset_request)
			c->reset_request(c->opaque);
	}
}

static uint8_t read_output_port(const struct i8042 *c)
{
	uint8_t value = c->output_port & ~(OUT_KBD_IRQ | OUT_AUX_IRQ);
	if (c->kbd_irq_level)
		value |= OUT_KBD_IRQ;
	if (c->aux_irq_level)
		value |= OUT_AUX_IRQ;
	return value;
}

static void write_output_port(struct i8042 *c, uint8_t value)
{
	uint8_t old = c->output_port;

	c->output_port = value;
	if ((old ^ value) & OUT_A20) {
		if (c->a20_changed)
			c->a20_changed(c->opaque, (value & OUT_A20) != 0);
	}
	/* The reset line is active low: every write holding it low asks. */
	if (!(value & OUT_RESET))
		c->reset_pending = true;
}

static uint8_t read_status(const struct i8042 *c)
{
	uint8_t status = STS_UNLOCKED;

	if (c->out_count)
		status |= STS_OBF | c->out[0].status;
	if (ctr(c) & CTR_SYS)
		status |= STS_SYS;
	if (c->last_write_command)
		status |= STS_CMD;
	return status;
}

static uint8_t read_data(struct i8042 *c)
{
	if (!c->out_count)
		return c->last_data;
	c->last_data = c->out[0].data;
	c->out_count--;
	memmove(&c->out[0], &c->out[1], c->out_count * sizeof(c->out[0]));
	/* One edge per byte for an edge-triggered PIC: the line drops now
	 * and update() raises it again if another byte is waiting. */
	set_line(&c->kbd_irq, &c->kbd_irq_level, false);
	set_line(&c->aux_irq, &c->aux_irq_level, false);
	return c->last_data;
}

static void write_command(struct i8042 *c, uint8_t cmd)
{
	c->last_write_command = true;
	/* A command abandons one that was still waiting for its data byte. */
	c->pending = 0;

	if (cmd >= CMD_READ_RAM && cmd < CMD_READ_RAM + 0x20) {
		push_reply(c, c->ram[cmd & 0x1f], 0);
		return;
	}
	if (cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + 0x20) {
		c->pending = cmd;
		return;
	}
	if (cmd >= CMD_PULSE) {
		/* A clear bit in 3-0 pulses that output port line low; only
		 * line 0, the processor reset, is connected to anything. */
		if (!(cmd & OUT_RESET))
			c->reset_pending = true;
		return;
	}
	switch (cmd) {
	case CMD_PASSWORD_TEST:
		push_reply(c, NO_PASSWORD, 0);
		break;
	case CMD_AUX_DISABLE:
		c->ram[0] |= CTR_AUX_DISABLE;
		break;
	case CMD_AUX_ENABLE:
		c->ram[0] &= ~CTR_AUX_DISABLE;
		break;
	case CMD_AUX_TEST:
	case CMD_KBD_TEST:
		push_reply(c, INTERFACE_OK, 0);
		break;
	case CMD_SELF_TEST:
		c->ram[0] |= CTR_SYS;
		push_reply(c, SELF_TEST_OK, 0);
		break;
	case CMD_KBD_DISABLE:
		c->ram[0] |= CTR_KBD_DISABLE;
		break;
	case CMD_KBD_ENABLE:
		c->ram[0] &= ~CTR_KBD_DISABLE;
		break;
	case CMD_READ_OUTPUT:
		push_reply(c, read_output_port(c), 0);
		break;
	case CMD_WRITE_OUTPUT:
	case CMD_WRITE_KBD_BUFFER:
	case CMD_WRITE_AUX_BUFFER:
	case CMD_WRITE_AUX:
		c->pending = cmd;
		break;
	case CMD_A20_OFF:
		write_output_port(c, c->output_port & ~OUT_A20);
		break;
	case CMD_A20_ON:
		write_output_port(c, c->output_port | OUT_A20);
		break;
	default:
		break;
	}
}

static void write_data(struct i8042 *c, uint8_t value)
{
	uint8_t cmd = c->pending;

	c->last_write_command = false;
	c->pending = 0;
	if (cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + 0x20) {
		c->ram[cmd & 0x1f] = value;
		return;
	}
	switch (cmd) {
	case CMD_WRITE_OUTPUT:
		write_output_port(c, value);
		return;
	case CMD_WRITE_KBD_BUFFER:
		push_reply(c, value, 0);
		return;
	case CMD_WRITE_AUX_BUFFER:
		push_reply(c, value, STS_AUX_DATA);
		return;
	case CMD_WRITE_AUX:
		/* As for the keyboard below: the controller leaves the
		 * mouse's clock released after sending, so the answer comes
		 * back even to a guest that had disabled the port. */
		c->ram[0] &= ~CTR_AUX_DISABLE;
		ps2_mouse_write(&c->mouse, value);
		return;
	}
	/* Sending takes the keyboard's clock line, which the controller then
	 * leaves released: the interface is enabled from here on, so the
	 * answer reaches a guest that had disabled it. */
	c->ram[0] &= ~CTR_KBD_DISABLE;
	kbd_command(c, value);
}

static uint64_t data_port_read(void *opaque, uint64_t offset, unsigned width)
{
	struct i8042 *c = opaque;
	(void)offset;
	(void)width;

	uint8_t value = read_data(c);
	finish_access(c);
	return value;
}

static void data_port_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct i8042 *c = opaque;
	(void)offset;
	(void)width;

	write_data(c, (uint8_t)value);
	finish_access(c);
}

static uint64_t command_port_read(void *opaque, uint64_t offset, unsigned width)
{
	(void)offset;
	(void)width;
	return read_status(opaque);
}

static void command_port_write(void *opaque, uint64_t offset, unsigned width, uint64_t value)
{
	struct i8042 *c = opaque;
	(void)offset;
	(void)width;

	write_command(c, (uint8_t)value);
	finish_access(c);
}

static const struct bus_ops data_port_ops = {
	.read = data_port_read,
	.write = data_port_write,
	.max_width = 1,
};

static const struct bus_ops command_port_ops = {
	.read = command_port_read,
	.write = command_port_write,
	.max_width = 1,
};

void i8042_init(struct i8042 *kbc, const struct irq_line *kbd_irq,
		const struct irq_line *aux_irq,
		void (*a20_changed)(void *opaque, bool enabled),
		void (*reset_request)(void *opaque), void *opaque)
{
	memset(kbc, 0, sizeof(*kbc));
	if (kbd_irq)
		kbc->kbd_irq = *kbd_irq;
	if (aux_irq)
		kbc->aux_irq = *aux_irq;
	kbc->a20_changed = a20_changed;
	kbc->reset_request = reset_request;
	kbc->opaque = opaque;
	kbc->ram[0] = CTR_POWER_ON;
	kbc->output_port = OUT_POWER_ON;
	kbd_power_on(&kbc->kbd);
	ps2_mouse_init(&kbc->mouse);
}

int i8042_attach(struct i8042 *kbc, struct bus *bus)
{
	int err = bus_register(bus, BUS_SPACE_PIO, "i8042-data", I8042_DATA_PORT, 1,
			       &data_port_ops, kbc);
	if (err)
		return err;
	return bus_register(bus, BUS_SPACE_PIO, "i8042-command", I8042_COMMAND_PORT, 1,
			    &command_port_ops, kbc);
}

/* Bytes that may still join the ones waiting for the guest. */
static unsigned input_room(const struct i8042 *c)
{
	unsigned waiting = c->kbd.count + c->out_count;
	return waiting < I8042_BUFFER_SIZE ? I8042_BUFFER_SIZE - waiting : 0;
}

bool i8042_send_bytes(struct i8042 *kbc, const uint8_t *bytes, unsigned len)
{
	if (len > input_room(kbc))
		return false;
	for (unsigned i = 0; i < len; i++)
		kbd_push(kbc, bytes[i]);
	update(kbc);
	return true;
}

bool i8042_key_sequence(struct i8042 *kbc, const uint8_t *set2, unsigned len)
{
	struct ps2_keyboard *k = &kbc->kbd;
	uint8_t release = 0;

	if (!k->scanning)
		return true;
	if (len > input_room(kbc))
		return false;
	for (unsigned i = 0; i < len; i++) {
		uint8_t byte = set2[i];
		/* In set 1 the keyboard itself sends what the 8042 would have
		 * made of the set 2 bytes. */
		if (k->scancode_set == 1) {
			if (byte == KBD_RELEASE) {
				release = 0x80;
				continue;
			}
			byte = translate(byte) | release;
			release = 0;
		}
		kbd_push(kbc, byte);
	}
	update(kbc);
	return true;
}

bool i8042_key_event(struct i8042 *kbc, uint16_t set2_key, bool pressed)
{
	uint8_t seq[3];
	unsigned len = 0;

	if (set2_key >> 8)
		seq[len++] = (uint8_t)(set2_key >> 8);
	if (!pressed)
		seq[len++] = KBD_RELEASE;
	seq[len++] = (uint8_t)set2_key;
	return i8042_key_sequence(kbc, seq, len);
}

bool i8042_mouse_event(struct i8042 *kbc, int dx, int dy, int dz, unsigned buttons)
{
	bool taken = ps2_mouse_event(&kbc->mouse, dx, dy, dz, buttons);
	update(kbc);
	return taken;
}

bool i8042_a20_enabled(const struct i8042 *kbc)
{
	return kbc->output_port & OUT_A20;
}

uint8_t i8042_keyboard_leds(const struct i8042 *kbc)
{
	return kbc->kbd.leds;
}

/* ---- Snapshots ---------------------------------------------------------- */

#define I8042_SNAP_VERSION 1u

void i8042_save(const struct i8042 *c, struct snap_writer *w)
{
	snapw_begin(w, "KBC ", I8042_SNAP_VERSION, false);
	snapw_bytes(w, c->ram, sizeof(c->ram));
	snapw_u8(w, c->output_port);
	snapw_u8(w, c->pending);
	snapw_u8(w, c->last_data);
	snapw_bool(w, c->last_write_command);
	snapw_bool(w, c->xlate_release);
	snapw_bool(w, c->reset_pending);
	for (unsigned i = 0; i < I8042_BUFFER_SIZE; i++) {
		snapw_u8(w, c->out[i].data);
		snapw_u8(w, c->out[i].status);
		snapw_bool(w, c->out[i].from_device);
	}
	snapw_u32(w, c->out_count);
	const struct ps2_keyboard *k = &c->kbd;
	snapw_bytes(w, k->queue, sizeof(k->queue));
	snapw_u32(w, k->head);
	snapw_u32(w, k->count);
	snapw_u8(w, k->scancode_set);
	snapw_bool(w, k->scanning);
	snapw_u8(w, k->leds);
	snapw_u8(w, k->typematic);
	snapw_u8(w, k->expecting);
	snapw_u8(w, k->last_sent);
	snapw_bool(w, c->mouse_went_last);
	snapw_bool(w, c->kbd_irq_level);
	snapw_bool(w, c->aux_irq_level);
	snapw_end(w);
}

int i8042_load(struct i8042 *c, struct snap_reader *r)
{
	if (r->version != I8042_SNAP_VERSION)
		return snapr_fail(r, "version %u, this btvm reads %u", r->version, I8042_SNAP_VERSION);
	snapr_bytes(r, c->ram, sizeof(c->ram));
	c->output_port = snapr_u8(r);
	c->pending = snapr_u8(r);
	c->last_data = snapr_u8(r);
	c->last_write_command = snapr_bool(r);
	c->xlate_release = snapr_bool(r);
	c->reset_pending = snapr_bool(r);
	for (unsigned i = 0; i < I8042_BUFFER_SIZE; i++) {
		c->out[i].data = snapr_u8(r);
		c->out[i].status = snapr_u8(r);
		c->out[i].from_device = snapr_bool(r);
	}
	uint32_t out_count = snapr_u32(r);
	struct ps2_keyboard *k = &c->kbd;
	snapr_bytes(r, k->queue, sizeof(k->queue));
	uint32_t head = snapr_u32(r), count = snapr_u32(r);
	k->scancode_set = snapr_u8(r);
	k->scanning = snapr_bool(r);
	k->leds = snapr_u8(r);
	k->typematic = snapr_u8(r);
	k->expecting = snapr_u8(r);
	k->last_sent = snapr_u8(r);
	c->mouse_went_last = snapr_bool(r);
	c->kbd_irq_level = snapr_bool(r);
	c->aux_irq_level = snapr_bool(r);
	if (!r->err && (out_count > I8042_BUFFER_SIZE || head >= I8042_KBD_QUEUE_SIZE ||
			count > I8042_KBD_QUEUE_SIZE))
		return snapr_fail(r, "%u bytes buffered, keyboard queue at %u with %u", out_count,
				  head, count);
	c->out_count = out_count;
	k->head = head;
	k->count = count;
	return snapr_end(r);
}
