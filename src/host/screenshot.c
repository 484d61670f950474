/* PNG screenshots with libpng: rows converted from XRGB8888 to RGB one at
 * a time, written to PATH.tmp and renamed over PATH. */
#define _GNU_SOURCE
#include "host/screenshot.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
			 unsigned height)
{
	struct png_job job = { 0 };
	char tmp[4096];
	int err;

	if (!width || !height || width > 16384 || height > 16384)
		return -EINVAL;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	job.row = malloc((size_t)width * 3);
	if (!job.row)
		return -ENOMEM;
	job.file = fopen(tmp, "wb");
	if (!job.file) {
		err = -errno;
		goto out;
	}
	job.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	job.info = job.png ? png_create_info_struct(job.png) : NULL;
	err = job.info ? write_rows(&job, pixels, width, height) : -ENOMEM;
	if (job.png)
		png_destroy_write_struct(&job.png, job.info ? &job.info : NULL);
	if (fclose(job.file) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
out:
	free(job.row);
	return err;
}
