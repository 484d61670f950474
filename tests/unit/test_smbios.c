/* The SMBIOS tables read back the way Linux's dmi_scan reads them: the
 * 32-bit entry point found by scanning 0xF0000-0xFFFFF on 16-byte steps
 * ("_SM_", its length and checksum, version 2.8, "_DMI_" and the
 * intermediate checksum), then the structure table it points at walked
 * structure by structure (each header's length, its strings ended by a
 * double NUL within the table, handles unique, the count and the largest
 * size the entry point gives, type 127 last), and the values: the CPU as
 * CPUID leaf 1 says, the RAM's size and ranges below and above 4 GiB;
 * then bad arguments and a buffer too small. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "boot/smbios.h"
#include "check.h"
#include "le_bytes.h"

#define SEG_BASE 0xf0000u
#define SEG_LEN 0x10000u
#define SIGNATURE 0x000106a5u
#define FEATURES 0x0789fbffu
#define MAX_STRUCTS 16u

static uint8_t seg[SEG_LEN];

struct found {
	const uint8_t *s[MAX_STRUCTS];   /* each structure's header */
	unsigned n;
};

/* The entry point as dmi_present accepts it, or NULL. */
static const uint8_t *scan(void)
{
	for (uint32_t off = 0; off + 32 <= SEG_LEN; off += 16) {
		const uint8_t *p = seg + off;
		if (!memcmp(p, "_SM_", 4) && p[5] < 32 && sums_to_zero(p, p[5]) &&
		    !memcmp(p + 16, "_DMI_", 5) && sums_to_zero(p + 16, 15))
			return p;
	}
	return NULL;
}

/* String number n of the structure at s (1-based), or NULL. */
static const char *string_of(const uint8_t *s, uint8_t n)
{
	const char *p = (const char *)s + s[1];
	if (!n)
		return NULL;
	while (--n) {
		if (!*p)
			return NULL;
		p += strlen(p) + 1;
	}
	return *p ? p : NULL;
}

static const uint8_t *find_type(const struct found *f, uint8_t type, unsigned nth)
{
	for (unsigned i = 0; i < f->n; i++)
		if (f->s[i][0] == type && !nth--)
			return f->s[i];
	return NULL;
}

/* Walks the table: every structure within it, strings terminated. */
static struct found walk(const uint8_t *ep)
{
	struct found f = { .n = 0 };
	uint32_t base = get32(ep + 0x18), len = get16(ep + 0x16);
	uint16_t count = get16(ep + 0x1c), max_size = get16(ep + 8);
	uint16_t largest = 0;
	CHECK(base >= SEG_BASE && base + len <= SEG_BASE + SEG_LEN);
	if (base < SEG_BASE || base + len > SEG_BASE + SEG_LEN)
		return f;
	const uint8_t *t = seg + (base - SEG_BASE), *end = t + len, *p = t;
	uint16_t handles[MAX_STRUCTS];
	while (p + 4 <= end && f.n < MAX_STRUCTS) {
		CHECK(p[1] >= 4);
		const uint8_t *q = p + p[1];
		/* The strings: up to a double NUL (one after none). */
		while (q + 1 < end && (q[0] || q[1]))
			q++;
		CHECK(q + 1 < end);
		if (q + 1 >= end)
			break;
		q += 2;
		if ((uint16_t)(q - p) > largest)
			largest = (uint16_t)(q - p);
		for (unsigned i = 0; i < f.n; i++)
			CHECK(handles[i] != get16(p + 2));
		handles[f.n] = get16(p + 2);
		f.s[f.n++] = p;
		if (p[0] == 127)
			break;
		p = q;
	}
	CHECK_EQ(f.n, count);
	CHECK_EQ(largest, max_size);
	CHECK(f.n && f.s[f.n - 1][0] == 127);
	return f;
}

static void check_tables(uint64_t low, uint64_t high)
{
	struct smbios_config cfg = {
		.cpu_signature = SIGNATURE,
		.cpu_features = FEATURES,
		.cpu_vendor = "GenuineIntel",
		.cpu_brand = "btvm virtual CPU (Core i7 class)",
		.cpu_mhz = 2600,
		.ram_low = low,
		.ram_high = high,
	};
	memset(seg, 0xa5, sizeof(seg));
	int len = smbios_build(seg, SMBIOS_MAX_LEN, SEG_BASE, &cfg);
	CHECK(len > (int)SMBIOS_TABLE_OFFSET);
	if (len <= 0)
		return;
	const uint8_t *ep = scan();
	CHECK(ep == seg);
	if (!ep)
		return;
	CHECK_EQ(ep[5], 0x1f);
	CHECK_EQ(ep[6], 2);
	CHECK_EQ(ep[7], 8);
	CHECK_EQ(ep[0x1e], 0x28);
	CHECK_EQ(get32(ep + 0x18) + get16(ep + 0x16), SEG_BASE + (uint32_t)len);
	struct found f = walk(ep);

	static const uint8_t types[] = { 0, 1, 3, 4, 16, 17, 19, 32, 127 };
	for (unsigned i = 0; i < sizeof(types); i++)
		CHECK(find_type(&f, types[i], 0) != NULL);
	CHECK_EQ(f.n, high ? 10u : 9u);

	/* What Linux's "DMI:" line and /sys/class/dmi/id show. */
	const uint8_t *s = find_type(&f, 0, 0);
	if (s) {
		CHECK_EQ(s[1], 0x18);
		CHECK(!strcmp(string_of(s, s[4]), "btvm"));
		CHECK(string_of(s, s[5]) != NULL);
		CHECK(string_of(s, s[8]) != NULL && strlen(string_of(s, s[8])) == 10);
	}
	s = find_type(&f, 1, 0);
	if (s) {
		CHECK_EQ(s[1], 0x1b);
		CHECK(!strcmp(string_of(s, s[4]), "btvm"));
		CHECK(string_of(s, s[5]) != NULL);
	}
	s = find_type(&f, 4, 0);
	if (s) {
		CHECK_EQ(s[1], 0x2a);
		CHECK_EQ(get32(s + 8), SIGNATURE);
		CHECK_EQ(get32(s + 12), FEATURES);
		CHECK(!strcmp(string_of(s, s[0x10]), cfg.cpu_brand));
		CHECK(!strcmp(string_of(s, s[7]), "GenuineIntel"));
		CHECK_EQ(get16(s + 0x16), 2600);
		CHECK_EQ(s[0x23], 1);
		CHECK_EQ(s[0x25], 1);
		CHECK_EQ(s[0x18], 0x41);
	}
	s = find_type(&f, 16, 0);
	if (s)
		CHECK_EQ(get32(s + 7), (uint32_t)((low + high) >> 10));
	s = find_type(&f, 17, 0);
	if (s) {
		CHECK_EQ(s[1], 0x28);
		CHECK_EQ(get16(s + 4), get16(find_type(&f, 16, 0) + 2));
		CHECK_EQ(get16(s + 0xc), (uint16_t)((low + high) >> 20));
	}
	s = find_type(&f, 19, 0);
	if (s) {
		CHECK_EQ(get32(s + 4), 0);
		CHECK_EQ(get32(s + 8), (uint32_t)((low - 1) >> 10));
	}
	s = find_type(&f, 19, 1);
	CHECK((s != NULL) == (high != 0));
	if (s) {
		CHECK_EQ(get32(s + 4), 0x400000u);   /* 4 GiB in KiB */
		CHECK_EQ(get32(s + 8), (uint32_t)((0x100000000ull + high - 1) >> 10));
	}
}

static void check_refusals(void)
{
	struct smbios_config cfg = { .cpu_signature = SIGNATURE, .ram_low = 64u << 20 };
	CHECK_EQ(smbios_build(seg, SMBIOS_MAX_LEN, SEG_BASE + 8, &cfg), -EINVAL);
	CHECK_EQ(smbios_build(seg, 16, SEG_BASE, &cfg), -ENOSPC);
	CHECK_EQ(smbios_build(seg, 100, SEG_BASE, &cfg), -ENOSPC);
	cfg.ram_low = 0;
	CHECK_EQ(smbios_build(seg, SMBIOS_MAX_LEN, SEG_BASE, &cfg), -EINVAL);
	/* No strings for the CPU: the structures still parse. */
	cfg.ram_low = 64u << 20;
	CHECK(smbios_build(seg, SMBIOS_MAX_LEN, SEG_BASE, &cfg) > 0);
	const uint8_t *ep = scan();
	CHECK(ep != NULL);
	if (ep)
		walk(ep);
}

int main(void)
{
	check_tables(64ull << 20, 0);
	check_tables(0xc0000000ull, 2ull << 30);
	check_refusals();
	return check_report("test_smbios");
}
