/* Host keys to the guest keyboard's codes: SDL's scancodes (positions on
 * the keyboard, whatever the host's layout, so the guest applies its own)
 * to the byte sequences a PS/2 keyboard sends in scancode set 2, which a
 * board hands to i8042_key_sequence (the keyboard and the controller turn
 * them into set 1 when the guest asked for that).
 *
 * Covered: every key of a PC 105-key keyboard (the 104 US keys and the
 * ISO 102nd key), F13-F24, keypad = and the Brazilian keypad comma, the
 * Japanese and Korean keys (Ro, Katakana/Hiragana, Yen, Henkan, Muhenkan,
 * Hangul, Hanja), SysRq, and the usual multimedia, browser and power keys.
 * A key's break code is its make code with 0xf0 before the last byte;
 * Print Screen sends e0 12 e0 7c and e0 f0 7c e0 f0 12, Pause
 * e1 14 77 e1 f0 14 f0 77 when pressed and nothing when released, and
 * Hangul and Hanja their one byte when pressed only.
 *
 * Not generated: the codes a real keyboard varies with the modifiers held
 * (the "fake shift" e0 12 / e0 f0 12 around the grey editing keys,
 * Alt+Print Screen's 0x84, Ctrl+Pause's e0 7e e0 f0 7e). Each is another
 * way of saying the same key, and guests treat the plain code alike:
 * Linux's atkbd ignores the fake shifts and maps e0 7c to SysRq. */
#ifndef BTVM_HOST_KEYMAP_H
#define BTVM_HOST_KEYMAP_H

#include <stdbool.h>
#include <stdint.h>

#include <SDL2/SDL_scancode.h>

/* The longest sequence: Pause. */
#define KEYMAP_MAX_SEQUENCE 8

/* The set 2 bytes the key sends when pressed or released, into out;
 * returns how many, 0 when it sends nothing (a key not in the table, or
 * the release of Pause, Hangul or Hanja). */
unsigned keymap_set2_sequence(SDL_Scancode sc, bool pressed, uint8_t out[KEYMAP_MAX_SEQUENCE]);

#endif
