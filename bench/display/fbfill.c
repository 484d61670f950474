/* fbfill: the framebuffer fill-rate program of bench/display/run.sh, a
 * static i386 program run inside the Linux guest. It copies whole frames
 * (the size of /dev/fb0's visible screen: line_length * yres bytes) to a
 * file, over and over for a given time, and prints the rate by its own
 * clock (CLOCK_MONOTONIC):
 *
 *	fbfill write|mmap FILE [SECONDS]
 *
 *   write  pwrite() of one frame at offset 0 per round: for /dev/fb0 the
 *          kernel's fb_write (copy from user, then memcpy_toio into the
 *          VRAM mapping);
 *   mmap   memcpy() of one frame into a shared mapping of FILE per round:
 *          what a program drawing into an mmapped /dev/fb0 does.
 *
 * FILE is /dev/fb0, or a regular file (in /tmp: RAM) for comparison, which
 * is made one frame long and written once before the clock starts (so no
 * round allocates pages); /dev/fb0 is written once untimed too. Rounds
 * alternate between two source frames of different contents. At least 3
 * rounds run, and rounds go on until SECONDS (default 1.5) have passed.
 * One line of output:
 *
 *	FBFILL <mode> <file> frame <bytes> rounds <n> seconds <s> MBps <rate>
 *
 * (MB = 10^6 bytes). Exit status 0, or 1 with a message on stderr. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int die(const char *what, const char *path)
{
	fprintf(stderr, "fbfill: %s %s: %s\n", what, path, strerror(errno));
	return 1;
}

/* One frame at offset 0, all of it (a short write goes on). */
static int put_frame(int fd, const uint8_t *src, size_t size)
{
	size_t done = 0;
	while (done < size) {
		ssize_t n = pwrite(fd, src + done, size - done, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 4 || (strcmp(argv[1], "write") && strcmp(argv[1], "mmap"))) {
		fprintf(stderr, "usage: fbfill write|mmap FILE [SECONDS]\n");
		return 2;
	}
	const char *mode = argv[1], *path = argv[2];
	double seconds = argc == 4 ? atof(argv[3]) : 1.5;
	int use_mmap = !strcmp(mode, "mmap");

	/* The frame: the framebuffer's visible screen. */
	int fb = open("/dev/fb0", O_RDONLY);
	if (fb < 0)
		return die("cannot open", "/dev/fb0");
	struct fb_fix_screeninfo fix;
	struct fb_var_screeninfo var;
	if (ioctl(fb, FBIOGET_FSCREENINFO, &fix) || ioctl(fb, FBIOGET_VSCREENINFO, &var))
		return die("cannot get the geometry of", "/dev/fb0");
	close(fb);
	size_t size = (size_t)fix.line_length * var.yres;
	if (!size) {
		fprintf(stderr, "fbfill: /dev/fb0 has no frame (%ux%u)\n", fix.line_length, var.yres);
		return 1;
	}

	uint8_t *src[2];
	for (int i = 0; i < 2; i++) {
		src[i] = malloc(size);
		if (!src[i]) {
			fprintf(stderr, "fbfill: out of memory\n");
			return 1;
		}
		for (size_t j = 0; j < size; j++)
			src[i][j] = (uint8_t)((j * 7 + (j >> 12)) ^ (i ? 0x5a : 0xa5));
	}

	int fd = open(path, O_RDWR | O_CREAT, 0644);
	if (fd < 0)
		return die("cannot open", path);
	struct stat st;
	if (fstat(fd, &st))
		return die("cannot stat", path);
	if (S_ISREG(st.st_mode) && ftruncate(fd, (off_t)size))
		return die("cannot size", path);
	uint8_t *map = NULL;
	if (use_mmap) {
		map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (map == MAP_FAILED)
			return die("cannot mmap", path);
	}

	/* One untimed round: every page allocated and mapped. */
	if (use_mmap)
		memcpy(map, src[1], size);
	else if (put_frame(fd, src[1], size))
		return die("cannot write", path);

	unsigned rounds = 0;
	double t0 = now(), t;
	do {
		const uint8_t *from = src[rounds & 1];
		if (use_mmap)
			memcpy(map, from, size);
		else if (put_frame(fd, from, size))
			return die("cannot write", path);
		rounds++;
		t = now() - t0;
	} while (rounds < 3 || t < seconds);

	printf("FBFILL %s %s frame %zu rounds %u seconds %.4f MBps %.1f\n", mode, path, size, rounds,
	       t, (double)size * rounds / t / 1e6);
	if (map)
		munmap(map, size);
	close(fd);
	return 0;
}
