/* The host side of the serial console: stdin in raw mode when it is a
 * terminal (restored on every exit path), a reader thread that queues input
 * bytes, and unbuffered output to stdout. */
#ifndef BTVM_HOST_CONSOLE_H
#define BTVM_HOST_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Starts reading stdin (raw mode if it is a tty). notify, if not NULL, is
 * called from the reader thread each time input arrives, so a sleeping vCPU
 * can be woken; it must not wait for anything console_close's caller may
 * hold. A closed stdin or end of input is not an error: input just never
 * comes. Returns 0 or a negative errno (-EBUSY if already open). */
int console_open(void (*notify)(void *opaque), void *opaque);
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
/* True once no more input can arrive (end of stdin, or the console is not
 * open); bytes already queued can still be read. */
bool console_input_ended(void);

#endif
