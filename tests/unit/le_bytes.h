/* Little-endian fields and byte checksums of firmware tables, read back
 * by the table tests (test_acpi.c, test_mptable.c) as an OS reads them. */
#ifndef BTVM_TESTS_LE_BYTES_H
#define BTVM_TESTS_LE_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

static inline uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static inline uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* Whether the len bytes at p sum to zero, as every table's checksum makes them. */
static inline bool sums_to_zero(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;
	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + p[i]);
	return sum == 0;
}

#endif
