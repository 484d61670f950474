/* The host's sound output on SDL2's audio queue: see audio_out.h. */
#include "host/audio_out.h"

#include <SDL.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define FRAME_BYTES 4u	/* 2 channels of 16 bits */

struct audio_out {
	SDL_AudioDeviceID dev;	/* 0 until the first play opens it */
	unsigned rate;		/* the rate dev was opened at */
	bool playing;		/* the stream started (the start threshold reached) */
	bool draining;		/* the guest stopped: the queue plays out */
	bool paused;		/* the machine is paused */
	bool warned;		/* a device that would not open was reported */
	struct audio_out_stats stats;
};

static int audio_open(struct audio_out **out, char *err, size_t err_len)
{
	struct audio_out *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	if (SDL_InitSubSystem(SDL_INIT_AUDIO) < 0) {
		snprintf(err, err_len, "no host audio (%s)", SDL_GetError());
		free(a);
		return -ENODEV;
	}
	*out = a;
	return 0;
}

static void close_device(struct audio_out *a)
{
	if (a->dev)
		SDL_CloseAudioDevice(a->dev);
	a->dev = 0;
	a->playing = a->draining = false;
}

static void audio_close(struct audio_out *a)
{
	if (!a)
		return;
	close_device(a);
	SDL_QuitSubSystem(SDL_INIT_AUDIO);
	free(a);
}

/* The device at rate, opened when the rate changes (what was queued at
 * the old rate is dropped with the old device, and counted). */
static bool device_at(struct audio_out *a, unsigned rate)
{
	if (a->dev && a->rate == rate)
		return true;
	if (a->dev)
		a->stats.dropped += SDL_GetQueuedAudioSize(a->dev) / FRAME_BYTES;
	close_device(a);
	SDL_AudioSpec want = { 0 }, have;
	want.freq = (int)rate;
	want.format = AUDIO_S16SYS;
	want.channels = 2;
	/* 10 ms pieces: the host's own buffer stays small beside the queue. */
	want.samples = (Uint16)(rate / 100);
	a->dev = SDL_OpenAudioDevice(NULL, 0, &want, &have, 0);
	a->rate = rate;
	/* Once: the card goes on, its sound dropped (and counted). */
	if (!a->dev && !a->warned) {
		fprintf(stderr, "btvm: cannot open the host's audio device (%s): the sound card "
			"plays into nothing\n", SDL_GetError());
		a->warned = true;
	}
	return a->dev != 0;
}

/* The host device runs while a stream plays or plays out, and the
 * machine runs. */
static void apply_pause(struct audio_out *a)
{
	if (a->dev)
		SDL_PauseAudioDevice(a->dev, a->paused || !(a->playing || a->draining));
}

static void audio_play(struct audio_out *a, const int16_t *frames, unsigned nframes, unsigned rate)
{
	if (!nframes)
		return;
	if (!device_at(a, rate)) {
		a->stats.dropped += nframes;
		return;
	}
	uint64_t queued = SDL_GetQueuedAudioSize(a->dev) / FRAME_BYTES;
	if (!queued) {
		if (a->playing)
			a->stats.underruns++;
		/* A new stream waits for its start threshold. */
		a->playing = a->draining = false;
	}
	if (queued + nframes > (uint64_t)rate * AUDIO_OUT_MAX_MS / 1000) {
		a->stats.dropped += nframes;
		return;
	}
	if (SDL_QueueAudio(a->dev, frames, nframes * FRAME_BYTES) < 0) {
		a->stats.dropped += nframes;
		return;
	}
	a->stats.frames += nframes;
	if (!a->playing && queued + nframes >= (uint64_t)rate * AUDIO_OUT_START_MS / 1000)
		a->playing = true;
	apply_pause(a);
}

static void audio_stop(struct audio_out *a)
{
	/* What is queued plays out (a stream shorter than the start
	 * threshold too); the next play starts a new stream. */
	a->draining = a->playing || (a->dev && SDL_GetQueuedAudioSize(a->dev));
	a->playing = false;
	apply_pause(a);
}

static void audio_pause(struct audio_out *a, bool paused)
{
	a->paused = paused;
	apply_pause(a);
}

static struct audio_out_stats audio_stats(const struct audio_out *a)
{
	return a->stats;
}

const struct audio_backend audio_sdl = {
	.open = audio_open,
	.close = audio_close,
	.play = audio_play,
	.stop = audio_stop,
	.pause = audio_pause,
	.stats = audio_stats,
};
