/* How the window scales the guest's picture (host/display.c), the parts
 * that need no SDL: the choice between whole-number and filtered scaling,
 * and the box filter that reduces a picture before a bilinear filter
 * shrinks it below half, where that filter alone would skip rows. */
#ifndef BTVM_HOST_PICTURE_SCALE_H
#define BTVM_HOST_PICTURE_SCALE_H

#include <stdbool.h>
#include <stdint.h>

/* Whether a width x height picture is shown in an out_w x out_h window by
 * whole-number scaling (each pixel a square of whole pixels, nearest
 * neighbour, the rest black): where the window holds it at least twice,
 * or exactly once or more along one side. Otherwise it is scaled to fit
 * with bilinear filtering. Sizes of 0 answer false. */
bool picture_integer_scale(unsigned width, unsigned height, unsigned out_w, unsigned out_h);

/* The factor n by which picture_box_reduce reduces the picture first: 1
 * while the window is at least half the picture's size each way, else
 * the whole n that leaves the filter a scale between one half and one.
 * Sizes of 0 answer 1. */
unsigned picture_shrink_factor(unsigned width, unsigned height, unsigned out_w, unsigned out_h);

/* Averages in (width x height XRGB8888 pixels) over blocks of n x n into
 * out, ceil(width / n) x ceil(height / n) pixels (blocks at the right and
 * bottom edges may be smaller), rounding each channel to nearest; X is 0. */
void picture_box_reduce(uint32_t *out, const uint32_t *in, unsigned width, unsigned height,
			unsigned n);

#endif
