/* The host's sound output: SDL2's audio (SDL_QueueAudio on a device of
 * SDL's choosing: SDL_AUDIODRIVER picks the driver, "disk" writes the raw
 * samples to SDL_DISKAUDIOFILE), 2 channels of signed 16-bit samples at
 * the rate the guest plays (the device is opened again when it changes;
 * SDL converts to what the host's hardware takes).
 *
 * The queue is bounded: pieces pushed while more than AUDIO_OUT_MAX_MS is
 * queued are dropped (counted: the host plays slower than the guest
 * makes sound), and a stream starts playing once AUDIO_OUT_START_MS is
 * queued, so that a guest running at full speed, which hands over sound
 * in bursts as its timer comes, does not stutter. An underrun is a push
 * that finds the queue empty while the stream plays (the guest fell
 * behind the host's clock); pausing (the machine paused) stops the host
 * device where it is, so that a pause is silence and not an underrun.
 *
 * One thread (the vCPU thread) calls everything; SDL's own thread takes
 * the queue. Only btvm's window library links it (as host/display.c):
 * main.c hands audio_sdl to the board. */
#ifndef BTVM_HOST_AUDIO_OUT_H
#define BTVM_HOST_AUDIO_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUDIO_OUT_START_MS 40u
#define AUDIO_OUT_MAX_MS 100u

struct audio_out;

struct audio_out_stats {
	uint64_t frames;	/* frames queued to the host */
	uint64_t dropped;	/* frames dropped: the queue was full, no device, or a rate change cut the queue */
	uint64_t underruns;	/* pushes that found a playing queue empty */
};

struct audio_backend {
	/* Opens the host's default output. Returns 0, or a negative errno
	 * with one line in err (no audio driver, no device). */
	int (*open)(struct audio_out **out, char *err, size_t err_len);
	void (*close)(struct audio_out *a);
	/* nframes frames (2 channels, S16 native) at rate Hz. */
	void (*play)(struct audio_out *a, const int16_t *frames, unsigned nframes, unsigned rate);
	/* The guest stopped playing: what is queued plays out, and the next
	 * play starts a new stream (no underrun counted in between). */
	void (*stop)(struct audio_out *a);
	/* The machine paused (true) or runs again. */
	void (*pause)(struct audio_out *a, bool paused);
	struct audio_out_stats (*stats)(const struct audio_out *a);
};
extern const struct audio_backend audio_sdl;

#endif
