/* The container format of snapshot files, knowing nothing of x86: a
 * header (magic, format version), then sections, each with a four-byte
 * tag, a version of its own, its length and CRC-32s of its header and
 * payload, the payload stored or compressed with zstd (streamed in chunks),
 * and an END section last. Numbers are little-endian.
 *
 * The writer goes to a private file beside PATH and renames it over PATH
 * only once every byte is on disk (host/outfile.h), so a failed save never
 * leaves a half file under the name; or it writes to a file the caller
 * opened (a live migration's memfd). Errors, the writer's and the reader's, are latched: the first one
 * is kept with a one-line message, later calls do nothing (reads give
 * zeros), so that a device's save or load writes or reads field after
 * field and its caller checks once. A reader never trusts a byte: reads
 * past a section's end, a payload whose CRC does not match, zstd errors
 * and sizes beyond the caller's limits are errors, never crashes. */
#ifndef BTVM_HOST_SNAPFILE_H
#define BTVM_HOST_SNAPFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host/outfile.h"

#define SNAP_FORMAT_VERSION 1u
#define SNAP_MSG_LEN 320

struct snap_writer {
	int fd;
	struct outfile out;       /* the file snapw_open made; out.f NULL with snapw_open_fd */
	char *path;               /* for messages */
	int err;                  /* first error, a negative errno; 0 */
	char msg[SNAP_MSG_LEN];
	uint8_t *obuf;            /* file bytes not written yet */
	size_t olen;
	uint64_t flushed;         /* file offset of obuf[0] */
	/* The open section. */
	bool open, compressed;
	uint64_t header_off;
	char tag[5];
	uint32_t version;
	uint64_t payload_len, raw_len;
	uint32_t crc;
	struct ZSTD_CCtx_s *zc;
	int level;
	uint8_t *ibuf;            /* section bytes waiting for the compressor */
	size_t ilen;
	uint8_t *zbuf;            /* the compressor's output */
	size_t zcap;
};

struct snap_reader {
	int fd;
	char *path;
	int err;
	char msg[SNAP_MSG_LEN];
	uint64_t file_size, off;  /* off: the next byte read from the file */
	/* The current section. */
	bool open, compressed, at_end;
	char tag[5];
	uint32_t version;
	uint64_t payload_len, raw_len;
	uint32_t crc, run_crc;
	uint64_t payload_left;    /* payload bytes not read from the file yet */
	uint64_t produced;        /* section bytes handed out or buffered */
	uint8_t *rbuf;            /* payload bytes read from the file */
	size_t rpos, rlen;
	struct ZSTD_DCtx_s *zd;
	uint8_t *dbuf;            /* decompressed bytes */
	size_t dpos, dlen, dcap;
	bool frame_done;
};

/* Creates the file that becomes PATH; level is zstd's (1: fast). */
int snapw_open(struct snap_writer *w, const char *path, int level);
/* Writes to fd, an empty regular file of the caller's (left open);
 * name is for messages. */
int snapw_open_fd(struct snap_writer *w, int fd, const char *name, int level);
/* Starts a section (tag: four characters) of the given version. */
void snapw_begin(struct snap_writer *w, const char *tag, uint32_t version, bool compressed);
void snapw_bytes(struct snap_writer *w, const void *data, size_t len);
void snapw_u8(struct snap_writer *w, uint8_t v);
void snapw_u16(struct snap_writer *w, uint16_t v);
void snapw_u32(struct snap_writer *w, uint32_t v);
void snapw_u64(struct snap_writer *w, uint64_t v);
void snapw_bool(struct snap_writer *w, bool v);
/* A string (NULL is written as the empty one) as a length and its bytes. */
void snapw_str(struct snap_writer *w, const char *s);
void snapw_end(struct snap_writer *w);
/* Writes END; with snapw_open, syncs and renames the file to PATH, on
 * any error (also one latched before) removing it instead. Frees the writer either way.
 * Returns 0 or the error, w->msg saying what went wrong. */
int snapw_close(struct snap_writer *w);
/* Sets the writer's error (a device that cannot be saved). */
void snapw_fail(struct snap_writer *w, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Opens PATH and checks the header. 0, or the error with r->msg. */
int snapr_open(struct snap_reader *r, const char *path);
/* The same from fd's start (the caller keeps fd); name is for messages. */
int snapr_open_fd(struct snap_reader *r, int fd, const char *name);
/* The next section: 1 with r->tag and r->version set, 0 at END, or the
 * error. A section not read to its end is skipped (its CRC still checked). */
int snapr_next(struct snap_reader *r);
void snapr_bytes(struct snap_reader *r, void *dst, size_t len);
uint8_t snapr_u8(struct snap_reader *r);
uint16_t snapr_u16(struct snap_reader *r);
uint32_t snapr_u32(struct snap_reader *r);
uint64_t snapr_u64(struct snap_reader *r);
bool snapr_bool(struct snap_reader *r);
/* A string of at most cap - 1 bytes, NUL-terminated; longer is an error. */
void snapr_str(struct snap_reader *r, char *dst, size_t cap);
/* The section must be read to its end: checks that nothing is left, the
 * CRC and the length. Returns r->err. */
int snapr_end(struct snap_reader *r);
/* Sets the reader's error: "PATH: section TAG: what". Returns r->err. */
int snapr_fail(struct snap_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void snapr_close(struct snap_reader *r);

#endif
