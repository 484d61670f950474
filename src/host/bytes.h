/* Little-endian fields and zlib's CRC-32 over any length: what the
 * host's file formats (snapshots, overlays) read and write. */
#ifndef BTVM_HOST_BYTES_H
#define BTVM_HOST_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

/* The n low bytes of v at p, least significant first. */
static inline void bytes_put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t bytes_get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* crc32 continued over n bytes at p. */
static inline uint32_t bytes_crc32(uint32_t crc, const void *p, size_t n)
{
	/* zlib's length is a uInt: feed it in pieces it can take. */
	const uint8_t *b = p;
	while (n) {
		size_t k = n > (1u << 30) ? (1u << 30) : n;
		crc = (uint32_t)crc32(crc, b, (uInt)k);
		b += k;
		n -= k;
	}
	return crc;
}

#endif
