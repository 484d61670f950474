/* The host side of the serial console: stdin in raw mode when it is a
 * terminal (restored on every exit path, put back after a stop and
 * continue), a reader thread that queues input bytes, the escape keys
 * (QEMU's: Ctrl-A x quits, Ctrl-A c switches between the guest and the
 * monitor, Ctrl-A h lists them, Ctrl-A Ctrl-A sends a Ctrl-A), the
 * monitor's line editor, and unbuffered output to stdout. */
#ifndef BTVM_HOST_CONSOLE_H
#define BTVM_HOST_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the reader thread tells its user. Each is called on the reader
 * thread and must not wait for anything console_close's caller may hold;
 * any may be NULL. */
struct console_ops {
	/* Guest input was queued (or input ended), so a sleeping vCPU can
	 * be woken. */
	void (*input)(void *opaque);
	/* Ctrl-A x. If btvm has not closed the console 3 s later the reader
	 * restores the terminal and ends the process (status 1): the key is
	 * the way out of a monitor that no longer answers. */
	void (*quit)(void *opaque);
	/* A line typed at the monitor's prompt (Ctrl-A c), without its end;
	 * the monitor answers with console_write and then console_prompt. */
	void (*monitor_line)(void *opaque, const char *line);
	void *opaque;
};

/* Starts reading stdin (raw mode if it is a tty). A closed stdin or end of
 * input is not an error: input just never comes. Returns 0 or a negative
 * errno (-EBUSY if already open). */
int console_open(const struct console_ops *ops);
/* Restores the terminal and stops the reader; safe to call more than once,
 * and registered with atexit. Not for signal handlers: fatal signals left at
 * their default action restore the terminal by themselves. */
void console_close(void);
/* Takes the next queued input byte; false if none is queued. */
bool console_read_byte(uint8_t *byte);
/* Puts a byte back at the head of the queue (the device had no room); room
 * is kept for up to 16 bytes handed back between reads. */
void console_unread_byte(uint8_t byte);
void console_write(const void *buf, size_t len);
/* The monitor's prompt, if the terminal is at the monitor (Ctrl-A c). */
void console_prompt(void);
/* True once no more input can arrive (end of stdin, or the console is not
 * open); bytes already queued can still be read. */
bool console_input_ended(void);

#endif
