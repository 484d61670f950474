/* The sound card and the host's sound output: the AC'97 controller at
 * 00:09.0 (cfg.sound SOUND_AC97) playing through cfg.audio (SDL's
 * queue, host/audio_out.h) when there is one and it opens, into nothing
 * otherwise (the card still consumes the guest's buffers at its rate, on
 * guest time). */
#include "machine/board_internal.h"

#include <stdio.h>

#include "host/audio_out.h"
#include "machine/control.h"

/* After the tablet (00:08.0), before the shared folders (00:0c.0 on). */
#define PCI_SOUND_SLOT 9

static void audio_play(void *opaque, const int16_t *frames, unsigned nframes, unsigned rate)
{
	struct board *board = opaque;
	if (board->audio_out)
		board->cfg.audio->play(board->audio_out, frames, nframes, rate);
}

static void audio_stop(void *opaque)
{
	struct board *board = opaque;
	if (board->audio_out)
		board->cfg.audio->stop(board->audio_out);
}

/* The card wrote recording's silence into guest RAM (logged by the
 * device): translations made from those pages go. */
static void audio_guest_written(void *opaque, uint64_t gpa, uint64_t len)
{
	board__device_wrote(opaque, gpa, len);
}

int board__audio_wire(struct board *board)
{
	if (board->cfg.sound != SOUND_AC97)
		return 0;
	const struct ac97_host host = {
		.clock_ns = board__clock_ns,
		.play = audio_play,
		.stop = audio_stop,
		.guest_written = audio_guest_written,
		.deadline_changed = board__deadline_changed,
		.opaque = board,
	};
	int err = ac97_attach(&board->ac97, (uint8_t)pci_host_devfn(PCI_SOUND_SLOT, 0), &board->ram,
			      &board->bus, &host);
	if (!err)
		err = pci_host_add(&board->pci, &board->ac97.pci);
	if (err || !board->cfg.audio)
		return err;
	char msg[256];
	if (board->cfg.audio->open(&board->audio_out, msg, sizeof(msg)))
		fprintf(stderr, "btvm: %s: the sound card plays into nothing\n", msg);
	return 0;
}

void board__audio_close(struct board *board)
{
	ac97_close(&board->ac97);
	if (board->audio_out)
		board->cfg.audio->close(board->audio_out);
	board->audio_out = NULL;
}

void board__audio_pause(struct board *board, bool paused)
{
	if (board->audio_out)
		board->cfg.audio->pause(board->audio_out, paused);
}

void board__audio_counters(const struct board *board, struct board_counters *c)
{
	c->sound = board->cfg.sound == SOUND_AC97;
	c->audio_frames = board->ac97.stats.frames;
	c->audio_buffers = board->ac97.stats.buffers;
	c->audio_dma_errors = board->ac97.stats.dma_errors;
	c->audio_interrupts = board->ac97.stats.interrupts;
	if (board->audio_out) {
		struct audio_out_stats s = board->cfg.audio->stats(board->audio_out);
		c->audio_host_frames = s.frames;
		c->audio_dropped = s.dropped;
		c->audio_underruns = s.underruns;
	}
}
