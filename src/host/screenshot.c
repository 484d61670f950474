/* PNG screenshots with libpng: rows converted from XRGB8888 to RGB one at
 * a time, into a private file renamed over PATH (host/outfile.h). */
#define _GNU_SOURCE
#include "host/screenshot.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host/outfile.h"

struct png_job {
	FILE *file;
	png_structp png;
	png_infop info;
	uint8_t *row;
};

/* libpng reports errors by longjmp; everything it touches lives in the
 * job, which outlives the jump. */
static int write_rows(struct png_job *job, const uint32_t *pixels, unsigned width,
		      unsigned height)
{
	if (setjmp(png_jmpbuf(job->png)))
		return -EIO;
	png_init_io(job->png, job->file);
	png_set_IHDR(job->png, job->info, width, height, 8, PNG_COLOR_TYPE_RGB,
		     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(job->png, job->info);
	for (unsigned y = 0; y < height; y++) {
		const uint32_t *src = pixels + (size_t)y * width;
		for (unsigned x = 0; x < width; x++) {
			job->row[3 * x] = (uint8_t)(src[x] >> 16);
			job->row[3 * x + 1] = (uint8_t)(src[x] >> 8);
			job->row[3 * x + 2] = (uint8_t)src[x];
		}
		png_write_row(job->png, job->row);
	}
	png_write_end(job->png, NULL);
	return 0;
}

int screenshot_write_png(const char *path, const uint32_t *pixels, unsigned width,
			 unsigned height, char *err, size_t err_len)
{
	struct png_job job = { 0 };
	struct outfile out;
	int ret;

	if (!width || !height || width > 16384 || height > 16384) {
		snprintf(err, err_len, "%s: no picture to write (%ux%u)", path, width, height);
		return -EINVAL;
	}
	job.row = malloc((size_t)width * 3);
	if (!job.row) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	ret = outfile_open(&out, path, err, err_len);
	if (ret)
		goto out;
	job.file = out.f;
	job.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	job.info = job.png ? png_create_info_struct(job.png) : NULL;
	ret = job.info ? write_rows(&job, pixels, width, height) : -ENOMEM;
	if (job.png)
		png_destroy_write_struct(&job.png, job.info ? &job.info : NULL);
	if (ret) {
		snprintf(err, err_len, "%s: cannot write the picture: %s", path, strerror(-ret));
		outfile_discard(&out);
	} else {
		ret = outfile_commit(&out, false, err, err_len);
	}
out:
	free(job.row);
	return ret;
}
