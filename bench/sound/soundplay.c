/* The sound test's guest program (static i386, put into the test
 * initramfs by run.py): plays tones through OSS's /dev/dsp (Linux's
 * snd-pcm-oss over snd-intel8x0, the AC'97 card) and sets volumes through
 * /dev/mixer, with no alsa-lib. Steps, one an argument, run in order on
 * one open /dev/dsp (48000 Hz, 2 channels, S16_LE):
 *   tone:HZ:FRAMES:AMP   a sine of HZ at amplitude AMP, FRAMES frames
 *   sync                 waits until everything written has been played
 *   vol:MASTER:PCM       the mixer's master and PCM volumes (0-100 both
 *                        sides; 0 mutes)
 *   spin:MS              a busy loop of MS milliseconds (CPU time)
 *   bg                   goes on in a child, the shell gets its prompt
 * Prints "soundplay: STEP done" after each, "soundplay: ok" at the end;
 * a failure prints "soundplay: error ..." and exits 1. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/soundcard.h>
#include <time.h>
#include <unistd.h>

#define RATE 48000

static int fail(const char *what)
{
	printf("soundplay: error %s: %s\n", what, strerror(errno));
	return 1;
}

static int open_dsp(void)
{
	int fd = open("/dev/dsp", O_WRONLY);
	int fmt = AFMT_S16_LE, ch = 2, rate = RATE;

	if (fd < 0)
		return -1;
	if (ioctl(fd, SNDCTL_DSP_SETFMT, &fmt) < 0 || fmt != AFMT_S16_LE ||
	    ioctl(fd, SNDCTL_DSP_CHANNELS, &ch) < 0 || ch != 2 ||
	    ioctl(fd, SNDCTL_DSP_SPEED, &rate) < 0 || rate != RATE) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

static int tone(int fd, double hz, long frames, double amp, long *phase)
{
	int16_t buf[2 * 1024];

	while (frames > 0) {
		long n = frames < 1024 ? frames : 1024;
		for (long i = 0; i < n; i++) {
			double v = amp * sin(2 * M_PI * hz * (double)(*phase + i) / RATE);
			buf[2 * i] = buf[2 * i + 1] = (int16_t)lrint(v);
		}
		size_t len = (size_t)n * 4;
		const char *p = (const char *)buf;
		while (len) {
			ssize_t w = write(fd, p, len);
			if (w < 0 && errno != EINTR)
				return -1;
			if (w > 0) {
				p += w;
				len -= (size_t)w;
			}
		}
		*phase += n;
		frames -= n;
	}
	return 0;
}

static int volume(int master, int pcm)
{
	int fd = open("/dev/mixer", O_RDWR);
	int m = master | master << 8, p = pcm | pcm << 8;

	if (fd < 0)
		return -1;
	int r = ioctl(fd, SOUND_MIXER_WRITE_VOLUME, &m) < 0 || ioctl(fd, SOUND_MIXER_WRITE_PCM, &p) < 0
			? -1
			: 0;
	close(fd);
	return r;
}

static void spin(long ms)
{
	struct timespec t0, t;
	volatile unsigned long x = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		for (int i = 0; i < 100000; i++)
			x += (unsigned long)i * 2654435761u;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
	(void)x;
}

int main(int argc, char **argv)
{
	int fd = -1;
	long phase = 0;

	setvbuf(stdout, NULL, _IONBF, 0);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		double hz, amp;
		long frames, ms;
		int master, pcm;
		/* /dev/dsp opened by the first step that plays, so that a
		 * busy loop in the background leaves it to another soundplay. */
		if ((!strncmp(a, "tone:", 5) || !strcmp(a, "sync")) && fd < 0 && (fd = open_dsp()) < 0)
			return fail("opening /dev/dsp");
		if (sscanf(a, "tone:%lf:%ld:%lf", &hz, &frames, &amp) == 3) {
			if (tone(fd, hz, frames, amp, &phase))
				return fail("writing /dev/dsp");
		} else if (!strcmp(a, "sync")) {
			if (ioctl(fd, SNDCTL_DSP_SYNC, 0) < 0)
				return fail("SNDCTL_DSP_SYNC");
		} else if (sscanf(a, "vol:%d:%d", &master, &pcm) == 2) {
			if (volume(master, pcm))
				return fail("setting the mixer");
		} else if (sscanf(a, "spin:%ld", &ms) == 1) {
			spin(ms);
		} else if (!strcmp(a, "bg")) {
			if (fork() > 0)
				return 0;
		} else {
			errno = EINVAL;
			return fail(a);
		}
		printf("soundplay: %s done\n", a);
	}
	if (fd >= 0)
		close(fd);
	printf("soundplay: ok\n");
	return 0;
}
