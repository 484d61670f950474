/* What the fuzzing harnesses share: the libFuzzer entry point each one
 * defines (the replay driver calls the same function), a cursor that reads
 * little-endian fields out of the input (zeros past its end), the device
 * harnesses' time step, and how a harness reports a broken promise: one
 * line on stderr and abort(), which libFuzzer and the replay driver both
 * count as a crash. */
#ifndef BTVM_TESTS_FUZZ_FUZZ_H
#define BTVM_TESTS_FUZZ_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void fuzz_require(bool ok, const char *what)
{
	if (ok)
		return;
	fprintf(stderr, "fuzz: broken promise: %s\n", what);
	abort();
}

/* A loader's refusal: a negative errno and one printable line that starts
 * with the kernel's path. */
static inline void fuzz_require_clean_error(int rc, const char *err, const char *path)
{
	fuzz_require(rc < 0, "a loader returned a positive status");
	fuzz_require(err[0] != 0, "a refusal without a message");
	fuzz_require(strncmp(err, path, strlen(path)) == 0 && strncmp(err + strlen(path), ": ", 2) == 0,
		     "a refusal whose message does not start with the path");
	for (const char *p = err; *p; p++)
		fuzz_require((unsigned char)*p >= 0x20 && *p != 0x7f,
			     "a refusal whose message is not one printable line");
}

struct fuzz_input {
	const uint8_t *data;
	size_t size, pos;
};

static inline bool fuzz_input_left(const struct fuzz_input *in)
{
	return in->pos < in->size;
}

/* The next n (at most 8) bytes as a little-endian number. */
static inline uint64_t fuzz_take(struct fuzz_input *in, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++) {
		uint64_t byte = in->pos < in->size ? in->data[in->pos] : 0;
		if (in->pos < in->size)
			in->pos++;
		v |= byte << (8 * i);
	}
	return v;
}

/* The latest time a device harness's program can reach: far beyond any
 * run, and far below where nanoseconds would overflow in a device's
 * arithmetic. */
#define FUZZ_TIME_LIMIT_NS (1ull << 60)
/* Longest single step: about 13 days, a host suspended for a while. */
#define FUZZ_STEP_SHIFT_MAX 26u
#define FUZZ_STEP_MANTISSA_BITS 24u

/* The time after a step a record's value asks for (a 24-bit mantissa
 * shifted by up to 26), held at FUZZ_TIME_LIMIT_NS. */
static inline uint64_t fuzz_time_step(uint64_t now, uint64_t value)
{
	unsigned shift = (unsigned)((value >> FUZZ_STEP_MANTISSA_BITS) % (FUZZ_STEP_SHIFT_MAX + 1));
	uint64_t step = (value & ((1ull << FUZZ_STEP_MANTISSA_BITS) - 1)) << shift;
	return step < FUZZ_TIME_LIMIT_NS - now ? now + step : FUZZ_TIME_LIMIT_NS;
}

#endif
