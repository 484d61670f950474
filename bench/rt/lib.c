/* rt.h's shared code, for guest and native programs alike: output
 * formatting, number parsing and the memory routines. Compiled with each
 * user's flags plus -fno-tree-loop-distribute-patterns (below). */
#include "rt.h"

void rt_write(const char *s, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		rt_putchar(s[i]);
}

void rt_puts(const char *s)
{
	while (*s)
		rt_putchar(*s++);
}

void rt_puthex(uint32_t v)
{
	for (int shift = 28; shift >= 0; shift -= 4)
		rt_putchar("0123456789abcdef"[(v >> shift) & 0xf]);
}

void rt_putdec(uint64_t v)
{
	char buf[20];
	int n = 0;
	do {
		buf[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		rt_putchar(buf[--n]);
}

uint32_t rt_parse_u32(const char *s)
{
	uint32_t v = 0;
	if (*s < '0' || *s > '9')
		return 0;
	while (*s >= '0' && *s <= '9') {
		uint32_t d = (uint32_t)(*s++ - '0');
		if (v > (0xffffffffu - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	return *s == '\0' || *s == ' ' ? v : 0;
}

/* Byte loops for the short ends of a copy or fill. lib.c is compiled with
 * -fno-tree-loop-distribute-patterns so gcc does not turn these loops back
 * into calls to memcpy and memset. */
static inline void copy_bytes(unsigned char *d, const unsigned char *s, size_t n)
{
	while (n--)
		*d++ = *s++;
}

static inline void fill_bytes(unsigned char *d, unsigned char c, size_t n)
{
	while (n--)
		*d++ = c;
}

/* Short copies byte by byte; longer ones align the destination to 4 bytes,
 * move whole words with REP MOVSD and finish the tail byte by byte (the
 * REP start-up cost and a misaligned REP destination are what make the
 * simpler "rep movsd; rep movsb" slow). memset likewise with REP STOSD. */
void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	if (n >= 16) {
		size_t head = -(uintptr_t)d & 3;
		copy_bytes(d, s, head);
		d += head;
		s += head;
		n -= head;
		size_t words = n >> 2;
		__asm__ volatile("rep movsl"
				 : "+D"(d), "+S"(s), "+c"(words)
				 :
				 : "memory");
		n &= 3;
	}
	copy_bytes(d, s, n);
	return dst;
}

void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;
	if (n >= 16) {
		size_t head = -(uintptr_t)d & 3;
		fill_bytes(d, (unsigned char)c, head);
		d += head;
		n -= head;
		size_t words = n >> 2;
		__asm__ volatile("rep stosl"
				 : "+D"(d), "+c"(words)
				 : "a"((uint8_t)c * 0x01010101u)
				 : "memory");
		n &= 3;
	}
	fill_bytes(d, (unsigned char)c, n);
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;
	if (d <= s || d >= s + n)
		return memcpy(dst, src, n);
	/* Overlapping with dst above src: copy backwards. */
	while (n) {
		n--;
		d[n] = s[n];
	}
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}
