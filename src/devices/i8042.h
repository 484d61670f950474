/* The PS/2 keyboard controller (8042) at 0x60 (data) and 0x64 (status and
 * command), with a PS/2 keyboard on its first port and a PS/2 wheel mouse
 * (devices/ps2_mouse.h, which describes it) on the second, the AUX port.
 * The controller's own AUX commands work (0xa7/0xa8 disable and enable
 * the port, 0xa9 tests it and answers 0x00, 0xd3 loops a byte back as AUX
 * data on IRQ 12); a byte written after 0xd4 goes to the mouse, and the
 * mouse's answers and packets come back as AUX data on IRQ 12. Linux 6.1
 * registers the AUX port (its loopback and IRQ 12 delivery tests pass),
 * finds no multiplexer (the loopback echoes the version probe), atkbd
 * finds no keyboard there (the mouse's ID is 0x00), and psmouse finds an
 * "ImPS/2 Generic Wheel Mouse". A board that does not wire IRQ 12 gets
 * another clean outcome: Linux's IRQ test times out after 250 ms and it
 * decides there is no AUX port.
 *
 * Status register (0x64): bit 0 output buffer full, bit 1 input buffer
 * full (always 0: every write is taken at once), bit 2 system flag (CTR
 * bit 2; set by a BIOS after POST, here from power-on, and by the self
 * test), bit 3 last write was to 0x64, bit 4 keyboard not inhibited
 * (always 1: there is no key lock, and Linux warns when it reads 0),
 * bit 5 the byte in the output buffer is AUX data, bit 6 timeout and
 * bit 7 parity error (never: both devices always answer).
 *
 * Controller configuration byte (CTR, command 0x20 reads, 0x60 writes):
 * bit 0 IRQ 1 for keyboard-side bytes, bit 1 IRQ 12 for AUX bytes, bit 2
 * system flag, bit 4 keyboard interface disabled, bit 5 AUX interface
 * disabled, bit 6 translation. It starts as 0x65, what a BIOS leaves on a
 * PC: translation, AUX disabled (a BIOS does not use the mouse; the OS
 * enables the port when it takes it over), system flag, IRQ 1.
 *
 * Output buffer: bytes wait in a FIFO; the one at its head is the output
 * buffer the guest reads at 0x60. Controller replies queue ahead of a
 * device's byte already waiting (the real chip would overwrite it; here
 * nothing is lost), and the keyboard hands over its next byte only when
 * the FIFO is empty and the keyboard interface is enabled, as the real
 * keyboard waits while its clock is held low. With translation on
 * (CTR bit 6) each byte from the keyboard goes through the 8042's
 * set 2 -> set 1 table as it is handed over: 0xf0 is swallowed and sets
 * bit 7 of the next translated byte. Replies, 0xd2 bytes and the mouse's
 * bytes are not translated. The mouse hands over its bytes the same way,
 * one at a time into an empty FIFO while the AUX interface is enabled
 * (CTR bit 5 clear): with it disabled they wait in the mouse, as a mouse
 * waits while its clock is held low, and its motion keeps accumulating
 * there. When both devices have a byte ready they take turns.
 *
 * Interrupts: IRQ 1 is high while the output buffer holds a non-AUX byte
 * (keyboard data or a controller reply) and CTR bit 0 is set; IRQ 12 the
 * same for AUX bytes and CTR bit 1. Reading 0x60 drops the line; if
 * another byte is waiting it rises again at once, so an edge-triggered PIC
 * input sees one edge per byte.
 *
 * Controller commands: 0x20-0x3f read and 0x60-0x7f write internal RAM
 * (byte 0 is the CTR), 0xa4 password test (0xf1: none), 0xa7/0xa8 AUX
 * disable/enable, 0xa9 AUX interface test (0x00), 0xaa self test (0x55,
 * sets the system flag), 0xab keyboard interface test (0x00), 0xad/0xae
 * keyboard disable/enable, 0xd0/0xd1 read/write the output port, 0xd2
 * write the keyboard output buffer, 0xd3 write the AUX output buffer,
 * 0xd4 write to the AUX device, 0xdd/0xdf A20 off/on, 0xf0-0xff pulse
 * output port bits 0-3 low where the command's bit is 0 (only bit 0, the
 * reset line, means anything: 0xfe is how Linux reboots). Other commands
 * are ignored. A data byte not claimed by a pending command goes to the
 * keyboard and re-enables the keyboard interface, since the controller
 * releases the keyboard's clock to send it; a byte after 0xd4 likewise
 * re-enables the AUX interface.
 *
 * Output port (0xd0/0xd1): bit 0 processor reset (active low: writing 0
 * requests a reset), bit 1 A20 gate, bits 4 and 5 read the IRQ 1 and IRQ 12
 * outputs, the other bits read back as written; it starts as 0xcf with A20
 * enabled, as QEMU's does. The gate is reported through a20_changed, after
 * the register changed; the board ORs it with port 0x92's and applies it
 * to the processor (machine/wiring.c, board__a20_update).
 *
 * The keyboard: 0xff reset (0xfa, then 0xaa), 0xf2 identify (0xfa 0xab
 * 0x83, which translation turns into 0xab 0x41 as Linux expects), 0xf0
 * get/set scancode set (argument 0 answers 0xfa and the set number; sets 1
 * and 2 are supported, a request for set 3 is acknowledged and leaves the
 * set alone, which OSes probing for it handle), 0xed set LEDs and 0xf3 set
 * typematic rate (each 0xfa for the command and for its argument; a byte
 * with bit 7 set where an argument is due is a new command instead),
 * 0xf4 enable and 0xf5 disable scanning, 0xf6 defaults, 0xee echo (0xee),
 * 0xfe resend the last byte, anything else 0xfe. Typematic repeat is not
 * generated: the host's own key repeat arrives as repeated make codes.
 *
 * Key input: the board gives key events as set 2 scancode sequences
 * (i8042_key_event for the common one- and two-byte codes,
 * i8042_key_sequence for anything, e.g. Pause); the keyboard turns them
 * into set 1 itself when the guest selected set 1. At most
 * I8042_BUFFER_SIZE bytes wait for the guest between the keyboard and the
 * output buffer: a key that does not fit is refused (false) and the board
 * offers it again later, so no input is lost; Linux's i8042_flush would
 * report no controller at all if more were waiting. Keys pressed while the
 * guest has disabled scanning (0xf5) are accepted and lost, as on a real
 * keyboard.
 *
 * Mouse input: i8042_mouse_event passes the user's motion, wheel and
 * buttons to the mouse (see ps2_mouse_event for the units and signs) and
 * lets the controller take the packet and raise IRQ 12 at once. It never
 * needs to be offered again: the mouse accumulates motion until the guest
 * has read what waits, so there is no FIFO to overflow.
 *
 * There is no locking: the caller serializes register accesses and the
 * input functions, and the callbacks run under that serialization. A
 * callback must not call back into the device; reset_request comes last
 * in its access, and a board that resets on it should note the request
 * and reset (i8042_init() again) once the access has returned. */
#ifndef BTVM_DEVICES_I8042_H
#define BTVM_DEVICES_I8042_H

#include <stdbool.h>
#include <stdint.h>

#include "devices/bus.h"
#include "devices/irq.h"
#include "devices/ps2_mouse.h"

#define I8042_DATA_PORT 0x60
#define I8042_COMMAND_PORT 0x64	/* reads give the status register */
#define I8042_KBD_IRQ 1
#define I8042_AUX_IRQ 12
/* Bytes that may wait for the guest (see "Key input" above). */
#define I8042_BUFFER_SIZE 16
/* Room in the keyboard for its command responses on top of that. */
#define I8042_KBD_QUEUE_SIZE (2 * I8042_BUFFER_SIZE)

/* One byte waiting in the controller's FIFO. */
struct i8042_byte {
	uint8_t data;
	uint8_t status;		/* status bits it shows: AUX data, timeout */
	bool from_device;	/* handed over by the keyboard or the mouse,
				 * else a reply of the controller's own */
};

/* The keyboard on port 1. */
struct ps2_keyboard {
	uint8_t queue[I8042_KBD_QUEUE_SIZE];	/* bytes not yet handed over */
	unsigned head, count;
	uint8_t scancode_set;	/* 1 or 2 */
	bool scanning;		/* 0xf4/0xf5 */
	uint8_t leds;		/* bit 0 Scroll, 1 Num, 2 Caps Lock */
	uint8_t typematic;	/* 0xf3 argument, kept for reading back only */
	uint8_t expecting;	/* command awaiting its argument, or 0 */
	uint8_t last_sent;	/* for 0xfe resend */
};

struct i8042 {
	uint8_t ram[32];	/* internal RAM; ram[0] is the CTR */
	uint8_t output_port;	/* as last written; bits 4-5 read live */
	uint8_t pending;	/* command waiting for its byte at 0x60, or 0 */
	uint8_t last_data;	/* what 0x60 reads again when the buffer is empty */
	bool last_write_command;	/* status bit 3 */
	bool xlate_release;	/* translation swallowed 0xf0 */
	bool reset_pending;	/* a reset to request when the access ends */
	struct i8042_byte out[I8042_BUFFER_SIZE];	/* out[0] is the output buffer */
	unsigned out_count;
	struct ps2_keyboard kbd;
	struct ps2_mouse mouse;
	bool mouse_went_last;	/* whose turn it is when both have a byte */
	struct irq_line kbd_irq, aux_irq;
	bool kbd_irq_level, aux_irq_level;	/* as last driven */
	void (*a20_changed)(void *opaque, bool enabled);
	void (*reset_request)(void *opaque);
	void *opaque;
	/* Reset requests made; bytes dropped because a FIFO was full (only a
	 * guest that never reads can cause it). */
	uint64_t resets, dropped;
};

/* Power-on state as a BIOS leaves it (see above). Either IRQ line and
 * either callback may be NULL. */
void i8042_init(struct i8042 *kbc, const struct irq_line *kbd_irq,
		const struct irq_line *aux_irq,
		void (*a20_changed)(void *opaque, bool enabled),
		void (*reset_request)(void *opaque), void *opaque);
/* Claims 0x60 and 0x64 (not 0x61-0x63, which belong to the board). */
int i8042_attach(struct i8042 *kbc, struct bus *bus);

/* A key going down or up, given by its set 2 make code: the low byte is
 * the code and a nonzero high byte a prefix sent before it (0xe075 is the
 * up arrow). The break code is derived (prefix, 0xf0, code). False if
 * there is no room now; offer it again later. */
bool i8042_key_event(struct i8042 *kbc, uint16_t set2_key, bool pressed);
/* One key event as its whole set 2 byte sequence, e.g. Pause's
 * e1 14 77 e1 f0 14 f0 77; false if it does not fit now (nothing of it is
 * queued then). */
bool i8042_key_sequence(struct i8042 *kbc, const uint8_t *set2, unsigned len);
/* Raw bytes on the keyboard's wire, as if the keyboard had sent them,
 * whatever its scanning state and scancode set; the controller still
 * translates them. For tests. False if they do not fit. */
bool i8042_send_bytes(struct i8042 *kbc, const uint8_t *bytes, unsigned len);

/* The mouse moved by dx, dy (host pixels, right and down positive), its
 * wheel by dz notches (away from the user positive), and buttons
 * (PS2_MOUSE_LEFT | RIGHT | MIDDLE) are held now. Returns false when the
 * guest has not enabled the mouse, which drops the motion (see
 * ps2_mouse_event); there is nothing to offer again either way. */
bool i8042_mouse_event(struct i8042 *kbc, int dx, int dy, int dz, unsigned buttons);

/* The A20 gate as the output port drives it. */
bool i8042_a20_enabled(const struct i8042 *kbc);
/* The keyboard LEDs as the guest last set them (bit 0 Scroll, 1 Num,
 * 2 Caps Lock). */
uint8_t i8042_keyboard_leds(const struct i8042 *kbc);

struct snap_writer;
struct snap_reader;
/* Snapshots (host/snapfile.h): section "KBC ", the controller and the
 * keyboard (the mouse has its own, ps2_mouse_save). */
void i8042_save(const struct i8042 *c, struct snap_writer *w);
int i8042_load(struct i8042 *c, struct snap_reader *r);

#endif
