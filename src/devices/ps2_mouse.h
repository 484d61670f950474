/* A PS/2 mouse with a wheel (an IntelliMouse), the device on the i8042's
 * AUX port. The controller passes it the bytes the guest sends with 0xd4
 * (ps2_mouse_write) and takes its answers and movement packets one byte
 * at a time (ps2_mouse_take) while the AUX interface is enabled; the host
 * side reports what the user does with ps2_mouse_event. The i8042 owns
 * one (struct i8042.mouse) and a board calls i8042_mouse_event, which
 * also moves the bytes on and raises IRQ 12; the functions here are the
 * device alone.
 *
 * Commands (each answered with 0xfa first unless said otherwise): 0xff
 * reset (0xfa 0xaa 0x00: the self-test result and ID 0), 0xf6 defaults,
 * 0xf5 disable and 0xf4 enable reporting, 0xf3 set the sample rate, 0xf2
 * get the ID (0x00, or 0x03 once the rates 200, 100, 80 were set in a row,
 * the IntelliMouse knock, until the next reset), 0xf0 remote mode, 0xeb
 * read data (a packet, in either mode), 0xea stream mode, 0xe9 status
 * (three bytes: mode, reporting, scaling and the buttons; the resolution;
 * the sample rate), 0xe8 set the resolution, 0xe7 and 0xe6 scaling 2:1 and
 * 1:1, 0xee wrap mode (every byte but 0xff and 0xec comes back as it is)
 * and 0xec back out of it (a plain ACK outside wrap mode), 0xfe resend
 * (the last packet or answer byte again, with no ACK). Anything else is
 * answered 0xfe. Where 0xf3 or 0xe8 waits for its argument, a byte that is
 * not a valid one (a rate other than 10, 20, 40, 60, 80, 100 or 200, a
 * resolution above 3) abandons it and is taken as a command: no valid
 * argument is also a command byte, and this is how the vendor probes that
 * Linux runs on every mouse (Sentelic's sends 0xf3 0x66 0x88) leave a
 * plain mouse in a known state. f4, f5, f6 and ff also drop what the mouse
 * had not yet handed over, so their answer is the next byte the host
 * reads; every command but 0xe6, 0xe7, 0xe9, 0xeb, 0xec and 0xfe sets the
 * movement counters to zero, as the PS/2 mouse's reference describes
 * (0xeb takes its packet out of them, like a stream packet).
 *
 * Which protocol Linux's psmouse ends up with: its vendor probes
 * (ThinkingMouse, Synaptics, Cypress, ALPS, OLPC, Elantech, Genius,
 * Logitech, TrackPoint, Sentelic) each look for a signature in the 0xe9
 * status or the ID that a plain mouse does not give (the status is
 * buttons and mode, resolution, rate: e.g. 0x00 0x02 0x64 after
 * defaults), its Explorer probe (rates 200, 200, 80) finds ID 3 rather
 * than 4, and the IntelliMouse probe wins: "ImPS/2 Generic Wheel Mouse".
 *
 * Packets: 3 bytes (buttons, sign and overflow bits, bit 3 always set;
 * X; Y, up positive), 4 with the IntelliMouse ID, the fourth being the
 * wheel as a signed value from -8 to 7 (positive is towards the user, as
 * psmouse reads it). The resolution and sample rate are kept and reported
 * but change nothing: one count is one host pixel, and a packet goes out
 * whenever the controller can take it. 2:1 scaling applies to stream
 * packets as the reference gives it (1 1 3 6 9, then twice the count).
 *
 * Motion accumulates in the movement counters until the controller can
 * take a packet, so none is lost while the guest is slow; a packet is
 * built only when its first byte is taken, which merges everything that
 * came before. Motion beyond one packet's range (-255 to 255; -256 is
 * never sent, since psmouse reads a zero X or Y byte as no motion whatever
 * the sign bit) is split over several packets rather than clamped: Linux
 * ignores the overflow bits and would simply lose the rest. The counters
 * themselves hold at most PS2_MOUSE_MAX_PENDING counts per axis; beyond
 * that, motion is dropped and the axis' overflow bit is set in the next
 * packet, which is what the bit means on a real mouse. With reporting
 * disabled in stream mode, and in wrap mode, motion is dropped as a real
 * mouse drops it; in remote mode it waits for 0xeb.
 *
 * Nothing here locks: the caller serializes, as for the i8042. */
#ifndef BTVM_DEVICES_PS2_MOUSE_H
#define BTVM_DEVICES_PS2_MOUSE_H

#include <stdbool.h>
#include <stdint.h>

/* Buttons as ps2_mouse_event takes them: a packet's own bits. (SDL's
 * button masks order them left, middle, right.) */
#define PS2_MOUSE_LEFT 0x01
#define PS2_MOUSE_RIGHT 0x02
#define PS2_MOUSE_MIDDLE 0x04
#define PS2_MOUSE_BUTTONS (PS2_MOUSE_LEFT | PS2_MOUSE_RIGHT | PS2_MOUSE_MIDDLE)

/* Answers waiting for the controller: the longest is 4 bytes (0xe9); more
 * only pile up for a guest that sends commands and never reads. */
#define PS2_MOUSE_QUEUE_SIZE 16
/* Counts per axis the movement counters hold: eight full packets. */
#define PS2_MOUSE_MAX_PENDING (8 * 255)

struct ps2_mouse {
	uint8_t queue[PS2_MOUSE_QUEUE_SIZE];	/* bytes not yet taken */
	unsigned head, count;
	uint8_t id;		/* 0, or 3 after the IntelliMouse knock */
	uint8_t rate;		/* samples per second (0xf3) */
	uint8_t resolution;	/* 0-3: 1, 2, 4 or 8 counts per mm (0xe8) */
	bool scaling_2to1;	/* 0xe7 / 0xe6 */
	bool reporting;		/* 0xf4 / 0xf5 */
	bool remote;		/* remote mode (0xf0), else stream mode (0xea) */
	bool wrap;		/* wrap mode (0xee until 0xec or 0xff) */
	uint8_t expecting;	/* 0xf3 or 0xe8 waiting for its argument, or 0 */
	uint8_t rates[3];	/* the last three sample rates set, newest last */
	uint8_t last[4];	/* the last packet or answer byte, for 0xfe */
	unsigned last_len;
	/* The movement counters: PS/2's directions (X right, Y up, the wheel
	 * towards the user), not yet in a packet. */
	int dx, dy, dz;
	uint8_t overflow;	/* overflow bits for the next packet */
	uint8_t buttons;	/* held now (PS2_MOUSE_*) */
	uint8_t reported;	/* as the last packet showed them */
	/* Host events, of them dropped (reporting off); packets sent; answer
	 * bytes dropped because the queue was full. */
	uint64_t events, events_dropped, packets, dropped;
};

/* Power-on: stream mode, reporting disabled, 100 samples/s, 4 counts/mm,
 * scaling 1:1, ID 0, no buttons held, nothing to send. */
void ps2_mouse_init(struct ps2_mouse *m);

/* A byte from the host (what the guest wrote after the controller's
 * 0xd4). */
void ps2_mouse_write(struct ps2_mouse *m, uint8_t byte);

/* Whether the mouse has a byte to hand over now: an answer, the rest of a
 * packet, or motion or a button change to report in stream mode. */
bool ps2_mouse_has_output(const struct ps2_mouse *m);
/* Hands over the next byte (building a packet first if one is due);
 * false if there is none. */
bool ps2_mouse_take(struct ps2_mouse *m, uint8_t *byte);

/* What the user did since the last call: dx to the right and dy downwards
 * in host pixels (the screen's convention, SDL's motion event; converted
 * to PS/2's Y-up inside), dz wheel notches away from the user (SDL's
 * wheel event's y; PS/2's sign is the opposite), buttons the PS2_MOUSE_*
 * bits held now. Returns whether the guest takes mouse input (reporting
 * enabled in stream mode, or remote mode): false means the motion was
 * dropped, as a real mouse drops it; the buttons are kept either way, so
 * the first packet after 0xf4 shows them. */
bool ps2_mouse_event(struct ps2_mouse *m, int dx, int dy, int dz, unsigned buttons);

struct snap_writer;
struct snap_reader;
/* Snapshots (host/snapfile.h): section "MOUS", the mode, the queue and
 * the movement not yet reported. */
void ps2_mouse_save(const struct ps2_mouse *m, struct snap_writer *w);
int ps2_mouse_load(struct ps2_mouse *m, struct snap_reader *r);

#endif
