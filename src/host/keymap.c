/* SDL scancodes to PS/2 scancode set 2 sequences: one table of the keys
 * with ordinary make and break codes, and the few keys whose sequences
 * follow other rules (Print Screen, Pause, Hangul, Hanja). See keymap.h. */
#include "host/keymap.h"

#include <stddef.h>

#define PREFIX_E0	0xe0
#define PREFIX_E1	0xe1
#define BREAK		0xf0

/* Scancode set 2, the codes a keyboard sends after power-on, as IBM gave
 * them for the PS/2 keyboards (101/102 keys) and Microsoft's Keyboard Scan
 * Code Specification lists them together with the later keys (Windows,
 * Application, the Japanese and Brazilian keys, F13-F24, the multimedia,
 * browser and ACPI power keys) in its USB HID to PS/2 table. The low byte
 * is the code, a nonzero high byte a prefix sent before it (0xe0 for the
 * keys the 101-key layout added beside older ones); this is also the form
 * i8042_key_event takes. */
static const struct {
	SDL_Scancode sc;
	uint16_t set2;
} keys[] = {
	/* Main block, row by row. */
	{ SDL_SCANCODE_ESCAPE, 0x76 },
	{ SDL_SCANCODE_F1, 0x05 },
	{ SDL_SCANCODE_F2, 0x06 },
	{ SDL_SCANCODE_F3, 0x04 },
	{ SDL_SCANCODE_F4, 0x0c },
	{ SDL_SCANCODE_F5, 0x03 },
	{ SDL_SCANCODE_F6, 0x0b },
	{ SDL_SCANCODE_F7, 0x83 },
	{ SDL_SCANCODE_F8, 0x0a },
	{ SDL_SCANCODE_F9, 0x01 },
	{ SDL_SCANCODE_F10, 0x09 },
	{ SDL_SCANCODE_F11, 0x78 },
	{ SDL_SCANCODE_F12, 0x07 },
	{ SDL_SCANCODE_GRAVE, 0x0e },
	{ SDL_SCANCODE_1, 0x16 },
	{ SDL_SCANCODE_2, 0x1e },
	{ SDL_SCANCODE_3, 0x26 },
	{ SDL_SCANCODE_4, 0x25 },
	{ SDL_SCANCODE_5, 0x2e },
	{ SDL_SCANCODE_6, 0x36 },
	{ SDL_SCANCODE_7, 0x3d },
	{ SDL_SCANCODE_8, 0x3e },
	{ SDL_SCANCODE_9, 0x46 },
	{ SDL_SCANCODE_0, 0x45 },
	{ SDL_SCANCODE_MINUS, 0x4e },
	{ SDL_SCANCODE_EQUALS, 0x55 },
	{ SDL_SCANCODE_BACKSPACE, 0x66 },
	{ SDL_SCANCODE_TAB, 0x0d },
	{ SDL_SCANCODE_Q, 0x15 },
	{ SDL_SCANCODE_W, 0x1d },
	{ SDL_SCANCODE_E, 0x24 },
	{ SDL_SCANCODE_R, 0x2d },
	{ SDL_SCANCODE_T, 0x2c },
	{ SDL_SCANCODE_Y, 0x35 },
	{ SDL_SCANCODE_U, 0x3c },
	{ SDL_SCANCODE_I, 0x43 },
	{ SDL_SCANCODE_O, 0x44 },
	{ SDL_SCANCODE_P, 0x4d },
	{ SDL_SCANCODE_LEFTBRACKET, 0x54 },
	{ SDL_SCANCODE_RIGHTBRACKET, 0x5b },
	/* US backslash and the ISO key left of Enter are the same key. */
	{ SDL_SCANCODE_BACKSLASH, 0x5d },
	{ SDL_SCANCODE_NONUSHASH, 0x5d },
	{ SDL_SCANCODE_CAPSLOCK, 0x58 },
	{ SDL_SCANCODE_A, 0x1c },
	{ SDL_SCANCODE_S, 0x1b },
	{ SDL_SCANCODE_D, 0x23 },
	{ SDL_SCANCODE_F, 0x2b },
	{ SDL_SCANCODE_G, 0x34 },
	{ SDL_SCANCODE_H, 0x33 },
	{ SDL_SCANCODE_J, 0x3b },
	{ SDL_SCANCODE_K, 0x42 },
	{ SDL_SCANCODE_L, 0x4b },
	{ SDL_SCANCODE_SEMICOLON, 0x4c },
	{ SDL_SCANCODE_APOSTROPHE, 0x52 },
	{ SDL_SCANCODE_RETURN, 0x5a },
	{ SDL_SCANCODE_LSHIFT, 0x12 },
	{ SDL_SCANCODE_NONUSBACKSLASH, 0x61 },	/* the 102nd key */
	{ SDL_SCANCODE_Z, 0x1a },
	{ SDL_SCANCODE_X, 0x22 },
	{ SDL_SCANCODE_C, 0x21 },
	{ SDL_SCANCODE_V, 0x2a },
	{ SDL_SCANCODE_B, 0x32 },
	{ SDL_SCANCODE_N, 0x31 },
	{ SDL_SCANCODE_M, 0x3a },
	{ SDL_SCANCODE_COMMA, 0x41 },
	{ SDL_SCANCODE_PERIOD, 0x49 },
	{ SDL_SCANCODE_SLASH, 0x4a },
	{ SDL_SCANCODE_RSHIFT, 0x59 },
	{ SDL_SCANCODE_LCTRL, 0x14 },
	{ SDL_SCANCODE_LGUI, 0xe01f },
	{ SDL_SCANCODE_LALT, 0x11 },
	{ SDL_SCANCODE_SPACE, 0x29 },
	{ SDL_SCANCODE_RALT, 0xe011 },
	{ SDL_SCANCODE_RGUI, 0xe027 },
	{ SDL_SCANCODE_APPLICATION, 0xe02f },
	{ SDL_SCANCODE_RCTRL, 0xe014 },

	/* Scroll Lock (Print Screen and Pause are below), the editing block
	 * and the arrows. */
	{ SDL_SCANCODE_SCROLLLOCK, 0x7e },
	{ SDL_SCANCODE_INSERT, 0xe070 },
	{ SDL_SCANCODE_HOME, 0xe06c },
	{ SDL_SCANCODE_PAGEUP, 0xe07d },
	{ SDL_SCANCODE_DELETE, 0xe071 },
	{ SDL_SCANCODE_END, 0xe069 },
	{ SDL_SCANCODE_PAGEDOWN, 0xe07a },
	{ SDL_SCANCODE_UP, 0xe075 },
	{ SDL_SCANCODE_LEFT, 0xe06b },
	{ SDL_SCANCODE_DOWN, 0xe072 },
	{ SDL_SCANCODE_RIGHT, 0xe074 },

	/* The keypad. */
	{ SDL_SCANCODE_NUMLOCKCLEAR, 0x77 },
	{ SDL_SCANCODE_KP_DIVIDE, 0xe04a },
	{ SDL_SCANCODE_KP_MULTIPLY, 0x7c },
	{ SDL_SCANCODE_KP_MINUS, 0x7b },
	{ SDL_SCANCODE_KP_7, 0x6c },
	{ SDL_SCANCODE_KP_8, 0x75 },
	{ SDL_SCANCODE_KP_9, 0x7d },
	{ SDL_SCANCODE_KP_PLUS, 0x79 },
	{ SDL_SCANCODE_KP_4, 0x6b },
	{ SDL_SCANCODE_KP_5, 0x73 },
	{ SDL_SCANCODE_KP_6, 0x74 },
	{ SDL_SCANCODE_KP_1, 0x69 },
	{ SDL_SCANCODE_KP_2, 0x72 },
	{ SDL_SCANCODE_KP_3, 0x7a },
	{ SDL_SCANCODE_KP_ENTER, 0xe05a },
	{ SDL_SCANCODE_KP_0, 0x70 },
	{ SDL_SCANCODE_KP_PERIOD, 0x71 },
	{ SDL_SCANCODE_KP_EQUALS, 0x0f },
	{ SDL_SCANCODE_KP_COMMA, 0x6d },	/* Brazilian keypad . */

	/* F13-F24. */
	{ SDL_SCANCODE_F13, 0x08 },
	{ SDL_SCANCODE_F14, 0x10 },
	{ SDL_SCANCODE_F15, 0x18 },
	{ SDL_SCANCODE_F16, 0x20 },
	{ SDL_SCANCODE_F17, 0x28 },
	{ SDL_SCANCODE_F18, 0x30 },
	{ SDL_SCANCODE_F19, 0x38 },
	{ SDL_SCANCODE_F20, 0x40 },
	{ SDL_SCANCODE_F21, 0x48 },
	{ SDL_SCANCODE_F22, 0x50 },
	{ SDL_SCANCODE_F23, 0x57 },
	{ SDL_SCANCODE_F24, 0x5f },

	/* Japanese (and Brazilian) keys; SysRq, which keyboards send for
	 * Alt+Print Screen. */
	{ SDL_SCANCODE_INTERNATIONAL1, 0x51 },	/* Ro, Brazilian /? */
	{ SDL_SCANCODE_INTERNATIONAL2, 0x13 },	/* Katakana/Hiragana */
	{ SDL_SCANCODE_INTERNATIONAL3, 0x6a },	/* Yen */
	{ SDL_SCANCODE_INTERNATIONAL4, 0x64 },	/* Henkan */
	{ SDL_SCANCODE_INTERNATIONAL5, 0x67 },	/* Muhenkan */
	{ SDL_SCANCODE_SYSREQ, 0x84 },

	/* Multimedia, browser and power keys. SDL has two names for Mute. */
	{ SDL_SCANCODE_MUTE, 0xe023 },
	{ SDL_SCANCODE_AUDIOMUTE, 0xe023 },
	{ SDL_SCANCODE_VOLUMEDOWN, 0xe021 },
	{ SDL_SCANCODE_VOLUMEUP, 0xe032 },
	{ SDL_SCANCODE_AUDIOPLAY, 0xe034 },
	{ SDL_SCANCODE_AUDIOSTOP, 0xe03b },
	{ SDL_SCANCODE_AUDIOPREV, 0xe015 },
	{ SDL_SCANCODE_AUDIONEXT, 0xe04d },
	{ SDL_SCANCODE_MEDIASELECT, 0xe050 },
	{ SDL_SCANCODE_MAIL, 0xe048 },
	{ SDL_SCANCODE_CALCULATOR, 0xe02b },
	{ SDL_SCANCODE_COMPUTER, 0xe040 },
	{ SDL_SCANCODE_AC_SEARCH, 0xe010 },
	{ SDL_SCANCODE_AC_HOME, 0xe03a },
	{ SDL_SCANCODE_AC_BACK, 0xe038 },
	{ SDL_SCANCODE_AC_FORWARD, 0xe030 },
	{ SDL_SCANCODE_AC_STOP, 0xe028 },
	{ SDL_SCANCODE_AC_REFRESH, 0xe020 },
	{ SDL_SCANCODE_AC_BOOKMARKS, 0xe018 },
	{ SDL_SCANCODE_POWER, 0xe037 },
	{ SDL_SCANCODE_SLEEP, 0xe03f },
};

/* The Korean keys send one byte when pressed and nothing when released
 * (the same byte in both sets: translation passes it through). */
static const struct {
	SDL_Scancode sc;
	uint8_t set2;
} make_only_keys[] = {
	{ SDL_SCANCODE_LANG1, 0xf2 },	/* Hangul/English */
	{ SDL_SCANCODE_LANG2, 0xf1 },	/* Hanja */
};

/* Print Screen is e0 7c with a "fake" left Shift around it (e0 12), the
 * way the 101-key keyboard tells it apart from keypad *. */
static const uint8_t print_screen_make[] = { PREFIX_E0, 0x12, PREFIX_E0, 0x7c };
static const uint8_t print_screen_break[] = { PREFIX_E0, BREAK, 0x7c, PREFIX_E0, BREAK, 0x12 };
/* Pause is Ctrl+Num Lock's codes behind e1, down and up at once when the
 * key goes down; its release sends nothing. */
static const uint8_t pause_make[] = { PREFIX_E1, 0x14, 0x77, PREFIX_E1, BREAK, 0x14, BREAK, 0x77 };

static unsigned copy(uint8_t out[KEYMAP_MAX_SEQUENCE], const uint8_t *bytes, unsigned len)
{
	for (unsigned i = 0; i < len; i++)
		out[i] = bytes[i];
	return len;
}

unsigned keymap_set2_sequence(SDL_Scancode sc, bool pressed, uint8_t out[KEYMAP_MAX_SEQUENCE])
{
	if (sc == SDL_SCANCODE_PRINTSCREEN) {
		if (pressed)
			return copy(out, print_screen_make, sizeof(print_screen_make));
		return copy(out, print_screen_break, sizeof(print_screen_break));
	}
	if (sc == SDL_SCANCODE_PAUSE)
		return pressed ? copy(out, pause_make, sizeof(pause_make)) : 0;
	for (size_t i = 0; i < sizeof(make_only_keys) / sizeof(make_only_keys[0]); i++) {
		if (make_only_keys[i].sc == sc)
			return pressed ? copy(out, &make_only_keys[i].set2, 1) : 0;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (keys[i].sc != sc)
			continue;
		unsigned len = 0;
		if (keys[i].set2 >> 8)
			out[len++] = (uint8_t)(keys[i].set2 >> 8);
		if (!pressed)
			out[len++] = BREAK;
		out[len++] = (uint8_t)keys[i].set2;
		return len;
	}
	return 0;
}
