/* The SDL scancode -> PS/2 set 2 table: every key of the 105-key layout
 * has a make sequence of its own, break codes are the make codes with
 * 0xf0 before the last byte, Print Screen, Pause and the make-only keys
 * follow their own rules, and what the i8042 makes of it all with
 * translation on (and the keyboard itself in set 1) is the set 1 code
 * each key is known by. */
#include "check.h"
#include "devices/bus.h"
#include "devices/i8042.h"
#include "host/keymap.h"

/* A PC 105-key keyboard: the 104 keys of the US layout and the ISO 102nd
 * key (the ISO key left of Enter is the US backslash). */
static const SDL_Scancode layout_105[] = {
	SDL_SCANCODE_ESCAPE, SDL_SCANCODE_F1, SDL_SCANCODE_F2, SDL_SCANCODE_F3,
	SDL_SCANCODE_F4, SDL_SCANCODE_F5, SDL_SCANCODE_F6, SDL_SCANCODE_F7,
	SDL_SCANCODE_F8, SDL_SCANCODE_F9, SDL_SCANCODE_F10, SDL_SCANCODE_F11,
	SDL_SCANCODE_F12, SDL_SCANCODE_PRINTSCREEN, SDL_SCANCODE_SCROLLLOCK, SDL_SCANCODE_PAUSE,
	SDL_SCANCODE_GRAVE, SDL_SCANCODE_1, SDL_SCANCODE_2, SDL_SCANCODE_3,
	SDL_SCANCODE_4, SDL_SCANCODE_5, SDL_SCANCODE_6, SDL_SCANCODE_7,
	SDL_SCANCODE_8, SDL_SCANCODE_9, SDL_SCANCODE_0, SDL_SCANCODE_MINUS,
	SDL_SCANCODE_EQUALS, SDL_SCANCODE_BACKSPACE, SDL_SCANCODE_INSERT, SDL_SCANCODE_HOME,
	SDL_SCANCODE_PAGEUP, SDL_SCANCODE_NUMLOCKCLEAR, SDL_SCANCODE_KP_DIVIDE,
	SDL_SCANCODE_KP_MULTIPLY, SDL_SCANCODE_KP_MINUS, SDL_SCANCODE_TAB, SDL_SCANCODE_Q,
	SDL_SCANCODE_W, SDL_SCANCODE_E, SDL_SCANCODE_R, SDL_SCANCODE_T,
	SDL_SCANCODE_Y, SDL_SCANCODE_U, SDL_SCANCODE_I, SDL_SCANCODE_O,
	SDL_SCANCODE_P, SDL_SCANCODE_LEFTBRACKET, SDL_SCANCODE_RIGHTBRACKET,
	SDL_SCANCODE_BACKSLASH, SDL_SCANCODE_DELETE, SDL_SCANCODE_END, SDL_SCANCODE_PAGEDOWN,
	SDL_SCANCODE_KP_7, SDL_SCANCODE_KP_8, SDL_SCANCODE_KP_9, SDL_SCANCODE_KP_PLUS,
	SDL_SCANCODE_CAPSLOCK, SDL_SCANCODE_A, SDL_SCANCODE_S, SDL_SCANCODE_D,
	SDL_SCANCODE_F, SDL_SCANCODE_G, SDL_SCANCODE_H, SDL_SCANCODE_J,
	SDL_SCANCODE_K, SDL_SCANCODE_L, SDL_SCANCODE_SEMICOLON, SDL_SCANCODE_APOSTROPHE,
	SDL_SCANCODE_RETURN, SDL_SCANCODE_KP_4, SDL_SCANCODE_KP_5, SDL_SCANCODE_KP_6,
	SDL_SCANCODE_LSHIFT, SDL_SCANCODE_NONUSBACKSLASH, SDL_SCANCODE_Z, SDL_SCANCODE_X,
	SDL_SCANCODE_C, SDL_SCANCODE_V, SDL_SCANCODE_B, SDL_SCANCODE_N,
	SDL_SCANCODE_M, SDL_SCANCODE_COMMA, SDL_SCANCODE_PERIOD, SDL_SCANCODE_SLASH,
	SDL_SCANCODE_RSHIFT, SDL_SCANCODE_UP, SDL_SCANCODE_KP_1, SDL_SCANCODE_KP_2,
	SDL_SCANCODE_KP_3, SDL_SCANCODE_KP_ENTER, SDL_SCANCODE_LCTRL, SDL_SCANCODE_LGUI,
	SDL_SCANCODE_LALT, SDL_SCANCODE_SPACE, SDL_SCANCODE_RALT, SDL_SCANCODE_RGUI,
	SDL_SCANCODE_APPLICATION, SDL_SCANCODE_RCTRL, SDL_SCANCODE_LEFT, SDL_SCANCODE_DOWN,
	SDL_SCANCODE_RIGHT, SDL_SCANCODE_KP_0, SDL_SCANCODE_KP_PERIOD,
};

struct seq {
	uint8_t b[KEYMAP_MAX_SEQUENCE];
	unsigned n;
};

static struct seq make_of(SDL_Scancode sc)
{
	struct seq s;
	s.n = keymap_set2_sequence(sc, true, s.b);
	return s;
}

static struct seq break_of(SDL_Scancode sc)
{
	struct seq s;
	s.n = keymap_set2_sequence(sc, false, s.b);
	return s;
}

static bool seq_equal(const struct seq *a, const uint8_t *b, unsigned n)
{
	/* (memcmp may not be given NULL, even for no bytes) */
	return a->n == n && (n == 0 || !memcmp(a->b, b, n));
}

static bool special(SDL_Scancode sc)
{
	return sc == SDL_SCANCODE_PRINTSCREEN || sc == SDL_SCANCODE_PAUSE ||
	       sc == SDL_SCANCODE_LANG1 || sc == SDL_SCANCODE_LANG2;
}

/* Two names SDL has for one key, which must send the same. */
static bool alias(SDL_Scancode sc)
{
	return sc == SDL_SCANCODE_NONUSHASH || sc == SDL_SCANCODE_AUDIOMUTE;
}

static void test_layout(void)
{
	const unsigned count = sizeof(layout_105) / sizeof(layout_105[0]);
	CHECK_EQ(count, 105);

	for (unsigned i = 0; i < count; i++) {
		SDL_Scancode sc = layout_105[i];
		struct seq mk = make_of(sc);
		CHECK(mk.n > 0);
		if (!mk.n)
			fprintf(stderr, "  no code for scancode %d\n", (int)sc);
		for (unsigned j = 0; j < i; j++) {
			struct seq other = make_of(layout_105[j]);
			CHECK(!seq_equal(&mk, other.b, other.n));
		}
	}
}

/* Every key in the table, not just the 105: sane bytes, a derived break
 * code, no two keys alike. */
static void test_whole_table(void)
{
	unsigned keys = 0;

	for (int sc = 0; sc < SDL_NUM_SCANCODES; sc++) {
		struct seq mk = make_of((SDL_Scancode)sc);
		struct seq br = break_of((SDL_Scancode)sc);
		CHECK(mk.n <= KEYMAP_MAX_SEQUENCE);
		if (!mk.n) {
			CHECK_EQ(br.n, 0);
			continue;
		}
		keys++;
		if (!special((SDL_Scancode)sc)) {
			/* An optional e0 and a code: below 0x80 but for F7 and
			 * SysRq. */
			CHECK(mk.n == 1 || (mk.n == 2 && mk.b[0] == 0xe0));
			uint8_t code = mk.b[mk.n - 1];
			CHECK(code < 0x80 || code == 0x83 || code == 0x84);
			uint8_t want[3];
			unsigned n = 0;
			if (mk.n == 2)
				want[n++] = 0xe0;
			want[n++] = 0xf0;
			want[n++] = code;
			CHECK(seq_equal(&br, want, n));
		}
		if (alias((SDL_Scancode)sc))
			continue;
		for (int other = 0; other < sc; other++) {
			if (alias((SDL_Scancode)other))
				continue;
			struct seq o = make_of((SDL_Scancode)other);
			if (o.n && seq_equal(&mk, o.b, o.n))
				fprintf(stderr, "  scancodes %d and %d alike\n", sc, other);
			CHECK(!o.n || !seq_equal(&mk, o.b, o.n));
		}
	}
	CHECK(keys >= 105 + 30);

	/* The aliases. */
	struct seq a = make_of(SDL_SCANCODE_NONUSHASH), b = make_of(SDL_SCANCODE_BACKSLASH);
	CHECK(seq_equal(&a, b.b, b.n));
	a = make_of(SDL_SCANCODE_AUDIOMUTE);
	b = make_of(SDL_SCANCODE_MUTE);
	CHECK(seq_equal(&a, b.b, b.n));
	/* Not keys. */
	CHECK_EQ(make_of(SDL_SCANCODE_UNKNOWN).n, 0);
	CHECK_EQ(make_of(SDL_SCANCODE_KP_HEXADECIMAL).n, 0);
}

static void test_sequences(void)
{
	struct seq s = make_of(SDL_SCANCODE_A);
	CHECK(seq_equal(&s, (const uint8_t[]){ 0x1c }, 1));
	s = break_of(SDL_SCANCODE_A);
	CHECK(seq_equal(&s, (const uint8_t[]){ 0xf0, 0x1c }, 2));
	s = make_of(SDL_SCANCODE_KP_ENTER);
	CHECK(seq_equal(&s, (const uint8_t[]){ 0xe0, 0x5a }, 2));
	s = break_of(SDL_SCANCODE_KP_ENTER);
	CHECK(seq_equal(&s, (const uint8_t[]){ 0xe0, 0xf0, 0x5a }, 3));
	s = make_of(SDL_SCANCODE_KP_DIVIDE);
	CHECK(seq_equal(&s, (const uint8_t[]){ 0xe0, 0x4a }, 2));
	s = make_of(SDL_SCANCODE_NONUSBACKSLASH);
	CHECK(seq_equal(&s, (const uint8_t[]){ 0x61 }, 1));
	s = make_of(SDL_SCANCODE_PRINTSCREEN);
	CHECK(seq_equal(&s, (const uint8_t[]){ 0xe0, 0x12, 0xe0, 0x7c }, 4));
	s = break_of(SDL_SCANCODE_PRINTSCREEN);
	CHECK(seq_equal(&s, (const uint8_t[]){ 0xe0, 0xf0, 0x7c, 0xe0, 0xf0, 0x12 }, 6));
	s = make_of(SDL_SCANCODE_PAUSE);
	CHECK(seq_equal(&s, (const uint8_t[]){ 0xe1, 0x14, 0x77, 0xe1, 0xf0, 0x14, 0xf0, 0x77 },
			8));
	CHECK_EQ(break_of(SDL_SCANCODE_PAUSE).n, 0);
	s = make_of(SDL_SCANCODE_LANG1);
	CHECK(seq_equal(&s, (const uint8_t[]){ 0xf2 }, 1));
	CHECK_EQ(break_of(SDL_SCANCODE_LANG1).n, 0);
	s = make_of(SDL_SCANCODE_LANG2);
	CHECK(seq_equal(&s, (const uint8_t[]){ 0xf1 }, 1));
	CHECK_EQ(break_of(SDL_SCANCODE_LANG2).n, 0);
}

struct machine {
	struct bus bus;
	struct i8042 kbc;
};

static void machine_init(struct machine *m)
{
	memset(m, 0, sizeof(*m));
	bus_init(&m->bus);
	i8042_init(&m->kbc, NULL, NULL, NULL, NULL, NULL);
	CHECK_EQ(i8042_attach(&m->kbc, &m->bus), 0);
}

/* The key through the keyboard and the controller, read at 0x60. */
static struct seq guest_sees(struct machine *m, SDL_Scancode sc, bool pressed)
{
	uint8_t set2[KEYMAP_MAX_SEQUENCE];
	unsigned n = keymap_set2_sequence(sc, pressed, set2);
	struct seq out = { .n = 0 };

	CHECK(i8042_key_sequence(&m->kbc, set2, n));
	while (bus_read(&m->bus, BUS_SPACE_PIO, 0x64, 1) & 0x01) {
		uint8_t byte = (uint8_t)bus_read(&m->bus, BUS_SPACE_PIO, 0x60, 1);
		if (out.n < KEYMAP_MAX_SEQUENCE)
			out.b[out.n] = byte;
		out.n++;
	}
	return out;
}

static void expect_set1(struct machine *m, SDL_Scancode sc, const uint8_t *make, unsigned make_n,
			const uint8_t *brk, unsigned brk_n)
{
	struct seq s = guest_sees(m, sc, true);
	CHECK(seq_equal(&s, make, make_n));
	if (!seq_equal(&s, make, make_n))
		fprintf(stderr, "  scancode %d make\n", (int)sc);
	s = guest_sees(m, sc, false);
	CHECK(seq_equal(&s, brk, brk_n));
	if (!seq_equal(&s, brk, brk_n))
		fprintf(stderr, "  scancode %d break\n", (int)sc);
}

static void test_round_trip(void)
{
	struct machine m;
	machine_init(&m);

	/* Power-on: translation on, as Linux and every PC OS use it. */
	expect_set1(&m, SDL_SCANCODE_A, (const uint8_t[]){ 0x1e }, 1, (const uint8_t[]){ 0x9e }, 1);
	expect_set1(&m, SDL_SCANCODE_RCTRL, (const uint8_t[]){ 0xe0, 0x1d }, 2,
		    (const uint8_t[]){ 0xe0, 0x9d }, 2);
	expect_set1(&m, SDL_SCANCODE_UP, (const uint8_t[]){ 0xe0, 0x48 }, 2,
		    (const uint8_t[]){ 0xe0, 0xc8 }, 2);
	expect_set1(&m, SDL_SCANCODE_KP_ENTER, (const uint8_t[]){ 0xe0, 0x1c }, 2,
		    (const uint8_t[]){ 0xe0, 0x9c }, 2);
	expect_set1(&m, SDL_SCANCODE_KP_DIVIDE, (const uint8_t[]){ 0xe0, 0x35 }, 2,
		    (const uint8_t[]){ 0xe0, 0xb5 }, 2);
	expect_set1(&m, SDL_SCANCODE_F7, (const uint8_t[]){ 0x41 }, 1, (const uint8_t[]){ 0xc1 }, 1);
	expect_set1(&m, SDL_SCANCODE_NONUSBACKSLASH, (const uint8_t[]){ 0x56 }, 1,
		    (const uint8_t[]){ 0xd6 }, 1);
	expect_set1(&m, SDL_SCANCODE_LGUI, (const uint8_t[]){ 0xe0, 0x5b }, 2,
		    (const uint8_t[]){ 0xe0, 0xdb }, 2);
	expect_set1(&m, SDL_SCANCODE_APPLICATION, (const uint8_t[]){ 0xe0, 0x5d }, 2,
		    (const uint8_t[]){ 0xe0, 0xdd }, 2);
	expect_set1(&m, SDL_SCANCODE_PRINTSCREEN, (const uint8_t[]){ 0xe0, 0x2a, 0xe0, 0x37 }, 4,
		    (const uint8_t[]){ 0xe0, 0xb7, 0xe0, 0xaa }, 4);
	expect_set1(&m, SDL_SCANCODE_PAUSE,
		    (const uint8_t[]){ 0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5 }, 6, NULL, 0);
	expect_set1(&m, SDL_SCANCODE_KP_5, (const uint8_t[]){ 0x4c }, 1, (const uint8_t[]){ 0xcc }, 1);
	expect_set1(&m, SDL_SCANCODE_INTERNATIONAL1, (const uint8_t[]){ 0x73 }, 1,
		    (const uint8_t[]){ 0xf3 }, 1);
	expect_set1(&m, SDL_SCANCODE_INTERNATIONAL2, (const uint8_t[]){ 0x70 }, 1,
		    (const uint8_t[]){ 0xf0 }, 1);
	expect_set1(&m, SDL_SCANCODE_INTERNATIONAL3, (const uint8_t[]){ 0x7d }, 1,
		    (const uint8_t[]){ 0xfd }, 1);
	expect_set1(&m, SDL_SCANCODE_INTERNATIONAL4, (const uint8_t[]){ 0x79 }, 1,
		    (const uint8_t[]){ 0xf9 }, 1);
	expect_set1(&m, SDL_SCANCODE_INTERNATIONAL5, (const uint8_t[]){ 0x7b }, 1,
		    (const uint8_t[]){ 0xfb }, 1);
	expect_set1(&m, SDL_SCANCODE_LANG1, (const uint8_t[]){ 0xf2 }, 1, NULL, 0);
	expect_set1(&m, SDL_SCANCODE_SYSREQ, (const uint8_t[]){ 0x54 }, 1,
		    (const uint8_t[]){ 0xd4 }, 1);
	expect_set1(&m, SDL_SCANCODE_MUTE, (const uint8_t[]){ 0xe0, 0x20 }, 2,
		    (const uint8_t[]){ 0xe0, 0xa0 }, 2);
	expect_set1(&m, SDL_SCANCODE_POWER, (const uint8_t[]){ 0xe0, 0x5e }, 2,
		    (const uint8_t[]){ 0xe0, 0xde }, 2);

	/* Every key of the layout: set 1 makes are distinct, and a break
	 * is the make with bit 7 set on its last byte. */
	struct seq set1[105];
	for (unsigned i = 0; i < 105; i++) {
		SDL_Scancode sc = layout_105[i];
		set1[i] = guest_sees(&m, sc, true);
		struct seq br = guest_sees(&m, sc, false);
		CHECK(set1[i].n > 0);
		for (unsigned j = 0; j < i; j++)
			CHECK(!seq_equal(&set1[i], set1[j].b, set1[j].n));
		if (special(sc))
			continue;
		CHECK_EQ(br.n, set1[i].n);
		CHECK_EQ(br.b[br.n - 1], set1[i].b[set1[i].n - 1] | 0x80);
		CHECK(!(set1[i].b[set1[i].n - 1] & 0x80));
	}

	/* The keyboard switched to set 1 (translation off) sends the same. */
	bus_write(&m.bus, BUS_SPACE_PIO, 0x64, 1, 0x60);
	bus_write(&m.bus, BUS_SPACE_PIO, 0x60, 1, 0x25);
	bus_write(&m.bus, BUS_SPACE_PIO, 0x60, 1, 0xf0);
	bus_write(&m.bus, BUS_SPACE_PIO, 0x60, 1, 0x01);
	CHECK_EQ(bus_read(&m.bus, BUS_SPACE_PIO, 0x60, 1), 0xfa);
	CHECK_EQ(bus_read(&m.bus, BUS_SPACE_PIO, 0x60, 1), 0xfa);
	for (unsigned i = 0; i < 105; i++) {
		struct seq s = guest_sees(&m, layout_105[i], true);
		CHECK(seq_equal(&s, set1[i].b, set1[i].n));
		guest_sees(&m, layout_105[i], false);
	}
	CHECK_EQ(m.kbc.dropped, 0);
}

int main(void)
{
	test_layout();
	test_whole_table();
	test_sequences();
	test_round_trip();
	return check_report("test_keymap");
}
