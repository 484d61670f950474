/* rread: random 4 KiB reads for bench/disk/run.sh. One static i386
 * program that the runner runs on the host (as a 32-bit process, against
 * the scratch image file) and inside the Debian guest (against the same
 * image as /dev/vdb), so both sides do exactly the same reads.
 *
 *	rread [--buffered] FILE OFFSET SIZE COUNT
 *
 * reads COUNT distinct 4 KiB blocks, in a random order fixed by a constant
 * seed, from the SIZE bytes of FILE at OFFSET (both multiples of 4096),
 * one read at a time (queue depth 1), with O_DIRECT unless --buffered, into
 * a page-aligned buffer. Distinct blocks: no read is served by a cache
 * that an earlier read of this run filled. Prints one line, timed with
 * clock_gettime(CLOCK_MONOTONIC):
 *
 *	RREAD <count> reads <seconds> s <reads per second> iops 0x<checksum>
 *
 * where the checksum (the first word of every block read, summed) depends
 * only on the data. The runner times the whole process itself (the host's
 * clock, as for dd); this line is a cross-check.
 * Exit status: 0 done, 1 an I/O error or a short read, 2 bad usage. */
#define _GNU_SOURCE
#define _FILE_OFFSET_BITS 64   /* a 32-bit process, and scratch files past 2 GiB */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096u

static uint32_t rng_state = 0x2545f491u;

/* xorshift32: the same sequence everywhere. */
static uint32_t rng(void)
{
	uint32_t x = rng_state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return rng_state = x;
}

static int parse(const char *s, unsigned long long *out)
{
	char *end;
	errno = 0;
	*out = strtoull(s, &end, 0);
	return errno || end == s || *end;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	int flags = O_RDONLY | O_DIRECT;
	unsigned long long offset, size, count;

	if (argc > 1 && !strcmp(argv[1], "--buffered")) {
		flags = O_RDONLY;
		argv++;
		argc--;
	}
	if (argc != 5 || parse(argv[2], &offset) || parse(argv[3], &size) ||
	    parse(argv[4], &count) || offset % BLOCK || size % BLOCK || !count ||
	    count > size / BLOCK || size / BLOCK > UINT32_MAX) {
		fprintf(stderr, "usage: rread [--buffered] FILE OFFSET SIZE COUNT\n"
				"  (OFFSET and SIZE multiples of 4096, 0 < COUNT <= SIZE/4096)\n");
		return 2;
	}
	uint32_t blocks = (uint32_t)(size / BLOCK);
	uint32_t *order = malloc((size_t)blocks * sizeof *order);
	void *buf;
	if (!order || posix_memalign(&buf, BLOCK, BLOCK)) {
		fprintf(stderr, "rread: out of memory\n");
		return 1;
	}
	/* The first COUNT entries of a Fisher-Yates shuffle. */
	for (uint32_t i = 0; i < blocks; i++)
		order[i] = i;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t j = i + rng() % (blocks - i);
		uint32_t t = order[i];
		order[i] = order[j];
		order[j] = t;
	}

	int fd = open(argv[1], flags);
	if (fd < 0) {
		fprintf(stderr, "rread: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	uint32_t sum = 0;
	double t0 = now();
	for (uint32_t i = 0; i < count; i++) {
		off_t at = (off_t)(offset + (unsigned long long)order[i] * BLOCK);
		ssize_t r = pread(fd, buf, BLOCK, at);
		if (r != (ssize_t)BLOCK) {
			fprintf(stderr, "rread: %s: read at %lld: %s\n", argv[1], (long long)at,
				r < 0 ? strerror(errno) : "short read");
			return 1;
		}
		uint32_t word;
		memcpy(&word, buf, sizeof word);
		sum += word;
	}
	double t = now() - t0;
	close(fd);
	printf("RREAD %llu reads %.3f s %.0f iops 0x%08x\n", count, t, (double)count / t, sum);
	return 0;
}
