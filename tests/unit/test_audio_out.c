/* The host's sound output (host/audio_out.c) on SDL's disk driver: a
 * stream below its start threshold waits, so nothing is consumed, and
 * every frame is accounted for. A change of rate opens the device again
 * and what the old one still held is counted as dropped; the same rate
 * drops nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "host/audio_out.h"

int main(void)
{
	char file[] = "/tmp/btvm-test-audio-XXXXXX";
	int fd = mkstemp(file);
	if (fd < 0) {
		perror("test_audio_out: mkstemp");
		return 1;
	}
	close(fd);
	setenv("SDL_AUDIODRIVER", "disk", 1);
	setenv("SDL_DISKAUDIOFILE", file, 1);
	struct audio_out *a;
	char err[256];
	if (audio_sdl.open(&a, err, sizeof(err))) {
		fprintf(stderr, "test_audio_out: %s\n", err);
		unlink(file);
		return 1;
	}
	static int16_t frames[2 * 4800];
	/* 10 ms at 44.1 kHz, twice: under the 40 ms start, held. */
	audio_sdl.play(a, frames, 441, 44100);
	audio_sdl.play(a, frames, 441, 44100);
	struct audio_out_stats st = audio_sdl.stats(a);
	CHECK_EQ(st.frames, 882);
	CHECK_EQ(st.dropped, 0);
	/* 48 kHz: the device at 44.1 kHz goes with its 882 frames. */
	audio_sdl.play(a, frames, 480, 48000);
	st = audio_sdl.stats(a);
	CHECK_EQ(st.frames, 1362);
	CHECK_EQ(st.dropped, 882);
	audio_sdl.play(a, frames, 480, 48000);
	st = audio_sdl.stats(a);
	CHECK_EQ(st.frames, 1842);
	CHECK_EQ(st.dropped, 882);
	audio_sdl.close(a);
	unlink(file);
	return check_report("test_audio_out");
}
