/* Snapshot files' container format (snapfile.h): the header, section
 * framing with CRC-32s, zstd streaming in both directions; the file put in
 * place by host/outfile.h. */
#define _GNU_SOURCE
#include "host/snapfile.h"

#include "host/bytes.h"
#include "host/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

static const char magic[8] = { 'B', 'T', 'V', 'M', 'S', 'N', 'A', 'P' };
#define FILE_HEADER_LEN 16u
#define SECTION_HEADER_LEN 40u
#define FLAG_ZSTD 1u
#define END_TAG "END "
/* File output is buffered this much; the compressor is fed this much at
 * a time; a payload up to this size is read whole and its CRC checked
 * before any of it is looked at. */
#define IO_CHUNK (1u << 20)

/* ------------------------------------------------------------ writing */

static void wfail_v(struct snap_writer *w, int err, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static void wfail_v(struct snap_writer *w, int err, const char *fmt, va_list ap)
{
	if (w->err)
		return;
	w->err = err;
	int n = snprintf(w->msg, sizeof(w->msg), "%s: ", w->path ? w->path : "snapshot");
	if (n > 0 && (size_t)n < sizeof(w->msg))
		vsnprintf(w->msg + n, sizeof(w->msg) - (size_t)n, fmt, ap);
}

void snapw_fail(struct snap_writer *w, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	wfail_v(w, err, fmt, ap);
	va_end(ap);
}

static void flush_file(struct snap_writer *w)
{
	size_t done = 0;
	while (!w->err && done < w->olen) {
		ssize_t n = write(w->fd, w->obuf + done, w->olen - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			snapw_fail(w, -e, "cannot write: %s", strerror(e));
			break;
		}
		done += (size_t)n;
	}
	w->flushed += w->olen;
	w->olen = 0;
}

/* File bytes, outside any section's CRC. */
static void put_file(struct snap_writer *w, const void *data, size_t len)
{
	const uint8_t *p = data;
	while (len && !w->err) {
		if (w->olen == IO_CHUNK)
			flush_file(w);
		size_t k = IO_CHUNK - w->olen < len ? IO_CHUNK - w->olen : len;
		memcpy(w->obuf + w->olen, p, k);
		w->olen += k;
		p += k;
		len -= k;
	}
}

/* Payload bytes of the open section as they go to the file. */
static void put_payload(struct snap_writer *w, const void *data, size_t len)
{
	w->crc = bytes_crc32(w->crc, data, len);
	w->payload_len += len;
	put_file(w, data, len);
}

/* What both kinds of writer share: buffers, the compressor, the header. */
static int writer_start(struct snap_writer *w)
{
	w->obuf = malloc(IO_CHUNK);
	w->ibuf = malloc(IO_CHUNK);
	w->zcap = ZSTD_CStreamOutSize();
	w->zbuf = malloc(w->zcap);
	w->zc = ZSTD_createCCtx();
	if (!w->obuf || !w->ibuf || !w->zbuf || !w->zc) {
		snapw_fail(w, -ENOMEM, "out of memory");
		return w->err;
	}
	uint8_t h[FILE_HEADER_LEN];
	memcpy(h, magic, sizeof(magic));
	bytes_put_le(h + 8, SNAP_FORMAT_VERSION, 4);
	bytes_put_le(h + 12, bytes_crc32(0, h, 12), 4);
	put_file(w, h, sizeof(h));
	return w->err;
}

int snapw_open(struct snap_writer *w, const char *path, int level)
{
	memset(w, 0, sizeof(*w));
	w->fd = -1;
	w->level = level;
	w->path = strdup(path);
	if (!w->path) {
		snapw_fail(w, -ENOMEM, "out of memory");
		return w->err;
	}
	char why[SNAP_MSG_LEN];
	int ret = outfile_open(&w->out, path, why, sizeof(why));
	if (ret) {
		w->err = ret;
		snprintf(w->msg, sizeof(w->msg), "%s", why);
		return ret;
	}
	w->fd = fileno(w->out.f);
	return writer_start(w);
}

int snapw_open_fd(struct snap_writer *w, int fd, const char *name, int level)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->level = level;
	w->path = strdup(name);
	if (!w->path) {
		snapw_fail(w, -ENOMEM, "out of memory");
		return w->err;
	}
	return writer_start(w);
}

void snapw_begin(struct snap_writer *w, const char *tag, uint32_t version, bool compressed)
{
	if (w->err)
		return;
	if (w->open) {
		snapw_fail(w, -EINVAL, "section %s not ended before %s", w->tag, tag);
		return;
	}
	w->open = true;
	w->compressed = compressed;
	memcpy(w->tag, tag, 4);
	w->tag[4] = '\0';
	w->version = version;
	w->payload_len = w->raw_len = 0;
	w->crc = 0;
	w->ilen = 0;
	w->header_off = w->flushed + w->olen;
	uint8_t h[SECTION_HEADER_LEN] = { 0 };
	put_file(w, h, sizeof(h));   /* filled in by snapw_end */
	if (compressed) {
		ZSTD_CCtx_reset(w->zc, ZSTD_reset_session_and_parameters);
		ZSTD_CCtx_setParameter(w->zc, ZSTD_c_compressionLevel, w->level);
	}
}

/* Runs the compressor over ibuf (and, at the end, to the frame's end). */
static void compress_some(struct snap_writer *w, ZSTD_EndDirective mode)
{
	ZSTD_inBuffer in = { w->ibuf, w->ilen, 0 };
	for (;;) {
		ZSTD_outBuffer out = { w->zbuf, w->zcap, 0 };
		size_t left = ZSTD_compressStream2(w->zc, &out, &in, mode);
		if (ZSTD_isError(left)) {
			snapw_fail(w, -EIO, "compression failed: %s", ZSTD_getErrorName(left));
			return;
		}
		put_payload(w, w->zbuf, out.pos);
		if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size)
			break;
	}
	w->ilen = 0;
}

void snapw_bytes(struct snap_writer *w, const void *data, size_t len)
{
	if (w->err)
		return;
	if (!w->open) {
		snapw_fail(w, -EINVAL, "data outside a section");
		return;
	}
	w->raw_len += len;
	if (!w->compressed) {
		put_payload(w, data, len);
		return;
	}
	const uint8_t *p = data;
	while (len && !w->err) {
		size_t k = IO_CHUNK - w->ilen < len ? IO_CHUNK - w->ilen : len;
		memcpy(w->ibuf + w->ilen, p, k);
		w->ilen += k;
		p += k;
		len -= k;
		if (w->ilen == IO_CHUNK)
			compress_some(w, ZSTD_e_continue);
	}
}

void snapw_u8(struct snap_writer *w, uint8_t v)
{
	snapw_bytes(w, &v, 1);
}

void snapw_u16(struct snap_writer *w, uint16_t v)
{
	uint8_t b[2];
	bytes_put_le(b, v, 2);
	snapw_bytes(w, b, 2);
}

void snapw_u32(struct snap_writer *w, uint32_t v)
{
	uint8_t b[4];
	bytes_put_le(b, v, 4);
	snapw_bytes(w, b, 4);
}

void snapw_u64(struct snap_writer *w, uint64_t v)
{
	uint8_t b[8];
	bytes_put_le(b, v, 8);
	snapw_bytes(w, b, 8);
}

void snapw_bool(struct snap_writer *w, bool v)
{
	snapw_u8(w, v ? 1 : 0);
}

void snapw_str(struct snap_writer *w, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	snapw_u32(w, (uint32_t)n);
	snapw_bytes(w, s, n);
}

void snapw_end(struct snap_writer *w)
{
	if (w->err)
		return;
	if (!w->open) {
		snapw_fail(w, -EINVAL, "no section to end");
		return;
	}
	if (w->compressed)
		compress_some(w, ZSTD_e_end);
	if (w->err)
		return;
	uint8_t h[SECTION_HEADER_LEN] = { 0 };
	memcpy(h, w->tag, 4);
	bytes_put_le(h + 4, w->version, 4);
	bytes_put_le(h + 8, w->compressed ? FLAG_ZSTD : 0, 4);
	bytes_put_le(h + 12, w->crc, 4);
	bytes_put_le(h + 16, w->payload_len, 8);
	bytes_put_le(h + 24, w->raw_len, 8);
	bytes_put_le(h + 32, bytes_crc32(0, h, 32), 4);
	/* The placeholder may straddle the last flush: its start is in the
	 * file, its end still in obuf. Each part is replaced where it is: a
	 * whole header written to the file was overwritten by the next
	 * flush's zeros from obuf (firmware_kernel_snapshot's restore found
	 * a header 19 bytes before the 23 MiB mark corrupt, 1 run in 100). */
	size_t in_file = 0;
	if (w->header_off < w->flushed) {
		uint64_t n = w->flushed - w->header_off;
		in_file = n < sizeof(h) ? (size_t)n : sizeof(h);
		if (pwrite(w->fd, h, in_file, (off_t)w->header_off) != (ssize_t)in_file) {
			int e = errno ? errno : EIO;
			snapw_fail(w, -e, "cannot write: %s", strerror(e));
		}
	}
	if (in_file < sizeof(h))
		memcpy(w->obuf + (w->header_off + in_file - w->flushed), h + in_file,
		       sizeof(h) - in_file);
	w->open = false;
}

int snapw_close(struct snap_writer *w)
{
	if (!w->err && w->open)
		snapw_fail(w, -EINVAL, "section %s not ended", w->tag);
	if (!w->err) {
		snapw_begin(w, END_TAG, 1, false);
		snapw_end(w);
		flush_file(w);
	}
	if (w->out.f) {
		char why[SNAP_MSG_LEN];
		if (!w->err && outfile_commit(&w->out, true, why, sizeof(why))) {
			w->err = -EIO;
			snprintf(w->msg, sizeof(w->msg), "%s", why);
		}
		outfile_discard(&w->out);
	}
	w->fd = -1;
	ZSTD_freeCCtx(w->zc);
	free(w->zbuf);
	free(w->ibuf);
	free(w->obuf);
	free(w->path);
	w->zc = NULL;
	w->zbuf = w->ibuf = w->obuf = NULL;
	w->path = NULL;
	return w->err;
}

/* ------------------------------------------------------------ reading */

static int rfail_v(struct snap_reader *r, int err, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
static int rfail_v(struct snap_reader *r, int err, const char *fmt, va_list ap)
{
	if (r->err)
		return r->err;
	r->err = err;
	int n;
	if (r->open)
		n = snprintf(r->msg, sizeof(r->msg), "%s: section '%s': ", r->path, r->tag);
	else
		n = snprintf(r->msg, sizeof(r->msg), "%s: ", r->path ? r->path : "snapshot");
	if (n > 0 && (size_t)n < sizeof(r->msg))
		vsnprintf(r->msg + n, sizeof(r->msg) - (size_t)n, fmt, ap);
	return r->err;
}

int snapr_fail(struct snap_reader *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	rfail_v(r, -EINVAL, fmt, ap);
	va_end(ap);
	return r->err;
}

static int rfail(struct snap_reader *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int rfail(struct snap_reader *r, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	rfail_v(r, err, fmt, ap);
	va_end(ap);
	return r->err;
}

/* Exactly len bytes of the file, or an error ("truncated" at its end). */
static bool read_file(struct snap_reader *r, void *dst, size_t len)
{
	uint8_t *p = dst;
	while (len && !r->err) {
		ssize_t n = read(r->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			rfail(r, -e, "cannot read: %s", strerror(e));
			break;
		}
		if (n == 0) {
			rfail(r, -EINVAL, "truncated file (it ends at byte %llu)",
			      (unsigned long long)r->off);
			break;
		}
		p += n;
		len -= (size_t)n;
		r->off += (uint64_t)n;
	}
	return !r->err;
}

/* Opens the reader on fd (its own: closed by snapr_close), from offset 0. */
static int reader_start(struct snap_reader *r, int fd, const char *name)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->path = strdup(name);
	r->rbuf = malloc(IO_CHUNK);
	r->dcap = ZSTD_DStreamOutSize();
	r->dbuf = malloc(r->dcap);
	r->zd = ZSTD_createDCtx();
	if (!r->path || !r->rbuf || !r->dbuf || !r->zd)
		return rfail(r, -ENOMEM, "out of memory");
	struct stat st;
	if (r->fd < 0 || fstat(r->fd, &st)) {
		int e = errno;
		return rfail(r, -e, "cannot open snapshot: %s", strerror(e));
	}
	if (!S_ISREG(st.st_mode))
		return rfail(r, -EINVAL, "not a snapshot file (not a regular file)");
	if (lseek(r->fd, 0, SEEK_SET))
		return rfail(r, -errno, "cannot open snapshot: %s", strerror(errno));
	r->file_size = (uint64_t)st.st_size;
	uint8_t h[FILE_HEADER_LEN];
	if (r->file_size < sizeof(h) || !read_file(r, h, sizeof(h)) || memcmp(magic, h, 8)) {
		r->err = 0;
		return rfail(r, -EINVAL, "not a btvm snapshot (bad magic)");
	}
	uint32_t version = (uint32_t)bytes_get_le(h + 8, 4);
	if (bytes_get_le(h + 12, 4) != bytes_crc32(0, h, 12))
		return rfail(r, -EINVAL, "corrupt snapshot header (checksum mismatch)");
	if (version != SNAP_FORMAT_VERSION)
		return rfail(r, -EINVAL, "snapshot format version %u, this btvm reads version %u",
			     version, SNAP_FORMAT_VERSION);
	return 0;
}

int snapr_open(struct snap_reader *r, const char *path)
{
	/* O_NONBLOCK: a FIFO given as the snapshot does not hang the open
	 * (reader_start refuses it). */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	int e = errno;
	int ret = reader_start(r, fd, path);
	if (fd < 0) {
		r->err = 0;
		return rfail(r, -e, "cannot open snapshot: %s", strerror(e));
	}
	if (!ret && fcntl(fd, F_SETFL, 0))
		return rfail(r, -errno, "cannot open snapshot: %s", strerror(errno));
	return ret;
}

int snapr_open_fd(struct snap_reader *r, int fd, const char *name)
{
	int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	int e = errno;
	int ret = reader_start(r, own, name);
	if (own < 0) {
		r->err = 0;
		return rfail(r, -e, "cannot open snapshot: %s", strerror(e));
	}
	return ret;
}

/* More payload bytes into rbuf (and the CRC), as much as fits. */
static bool refill_raw(struct snap_reader *r)
{
	if (!r->payload_left)
		return false;
	size_t k = r->payload_left < IO_CHUNK ? (size_t)r->payload_left : IO_CHUNK;
	if (!read_file(r, r->rbuf, k))
		return false;
	r->run_crc = bytes_crc32(r->run_crc, r->rbuf, k);
	r->payload_left -= k;
	r->rpos = 0;
	r->rlen = k;
	if (!r->payload_left && r->run_crc != r->crc) {
		rfail(r, -EINVAL, "checksum mismatch (corrupt file)");
		return false;
	}
	return true;
}

/* Decompressed bytes into dbuf; false when the section has no more. */
static bool refill_decoded(struct snap_reader *r)
{
	while (!r->err) {
		if (r->rpos == r->rlen && !refill_raw(r))
			return false;
		ZSTD_inBuffer in = { r->rbuf, r->rlen, r->rpos };
		ZSTD_outBuffer out = { r->dbuf, r->dcap, 0 };
		size_t ret = ZSTD_decompressStream(r->zd, &out, &in);
		r->rpos = in.pos;
		if (ZSTD_isError(ret)) {
			rfail(r, -EINVAL, "corrupt compressed data (%s)", ZSTD_getErrorName(ret));
			return false;
		}
		if (ret == 0)
			r->frame_done = true;
		if (out.pos) {
			r->dpos = 0;
			r->dlen = out.pos;
			return true;
		}
		if (r->frame_done && r->rpos == r->rlen && !r->payload_left)
			return false;
	}
	return false;
}

void snapr_bytes(struct snap_reader *r, void *dst, size_t len)
{
	uint8_t *p = dst;
	if (!r->err && !r->open)
		rfail(r, -EINVAL, "data read outside a section");
	while (len && !r->err) {
		const uint8_t *src;
		size_t avail;
		if (r->compressed) {
			if (r->dpos == r->dlen && !refill_decoded(r))
				break;
			src = r->dbuf + r->dpos;
			avail = r->dlen - r->dpos;
		} else {
			if (r->rpos == r->rlen && !refill_raw(r))
				break;
			src = r->rbuf + r->rpos;
			avail = r->rlen - r->rpos;
		}
		size_t k = avail < len ? avail : len;
		memcpy(p, src, k);
		if (r->compressed)
			r->dpos += k;
		else
			r->rpos += k;
		r->produced += k;
		p += k;
		len -= k;
	}
	if (len) {
		rfail(r, -EINVAL, "truncated (it ends inside its data)");
		memset(p, 0, len);
	}
}

uint8_t snapr_u8(struct snap_reader *r)
{
	uint8_t b = 0;
	snapr_bytes(r, &b, 1);
	return b;
}

uint16_t snapr_u16(struct snap_reader *r)
{
	uint8_t b[2];
	snapr_bytes(r, b, 2);
	return (uint16_t)bytes_get_le(b, 2);
}

uint32_t snapr_u32(struct snap_reader *r)
{
	uint8_t b[4];
	snapr_bytes(r, b, 4);
	return (uint32_t)bytes_get_le(b, 4);
}

uint64_t snapr_u64(struct snap_reader *r)
{
	uint8_t b[8];
	snapr_bytes(r, b, 8);
	return bytes_get_le(b, 8);
}

bool snapr_bool(struct snap_reader *r)
{
	uint8_t v = snapr_u8(r);
	if (v > 1)
		snapr_fail(r, "a flag holds %u", v);
	return v == 1;
}

void snapr_str(struct snap_reader *r, char *dst, size_t cap)
{
	uint32_t n = snapr_u32(r);
	dst[0] = '\0';
	if (r->err)
		return;
	if (n >= cap) {
		snapr_fail(r, "a string of %u bytes (at most %zu)", n, cap - 1);
		return;
	}
	snapr_bytes(r, dst, n);
	dst[r->err ? 0 : n] = '\0';
	if (!r->err && memchr(dst, '\0', n))
		snapr_fail(r, "a string holds a NUL byte");
}

int snapr_end(struct snap_reader *r)
{
	if (r->err)
		return r->err;
	if (!r->open)
		return snapr_fail(r, "no section to end");
	/* Anything left, read or not yet, is more than the reader wanted. */
	bool more = r->compressed ? (r->dpos < r->dlen || refill_decoded(r))
				  : (r->rpos < r->rlen || r->payload_left);
	if (r->err)
		return r->err;
	if (more)
		return snapr_fail(r, "longer than its contents (version %u)", r->version);
	if (r->compressed && !r->frame_done)
		return snapr_fail(r, "compressed data cut short");
	if (r->produced != r->raw_len)
		return snapr_fail(r, "holds %llu bytes, its header says %llu",
				  (unsigned long long)r->produced, (unsigned long long)r->raw_len);
	r->open = false;
	return 0;
}

/* Reads and checks the rest of an unread section (its CRC still counts). */
static void skip_section(struct snap_reader *r)
{
	while (!r->err && r->payload_left)
		refill_raw(r);
	r->open = false;
}

int snapr_next(struct snap_reader *r)
{
	if (r->err)
		return r->err;
	if (r->at_end)
		return 0;
	if (r->open)
		skip_section(r);
	uint8_t h[SECTION_HEADER_LEN];
	if (!read_file(r, h, sizeof(h)))
		return r->err;
	if (bytes_get_le(h + 32, 4) != bytes_crc32(0, h, 32) || bytes_get_le(h + 36, 4))
		return rfail(r, -EINVAL, "corrupt section header at byte %llu (checksum mismatch)",
			     (unsigned long long)(r->off - sizeof(h)));
	memcpy(r->tag, h, 4);
	r->tag[4] = '\0';
	r->version = (uint32_t)bytes_get_le(h + 4, 4);
	uint32_t flags = (uint32_t)bytes_get_le(h + 8, 4);
	r->crc = (uint32_t)bytes_get_le(h + 12, 4);
	r->payload_len = bytes_get_le(h + 16, 8);
	r->raw_len = bytes_get_le(h + 24, 8);
	if (flags & ~FLAG_ZSTD)
		return rfail(r, -EINVAL, "section '%s': unknown flags 0x%x", r->tag, flags);
	if (r->payload_len > r->file_size - r->off)
		return rfail(r, -EINVAL, "section '%s' runs past the end of the file (truncated)",
			     r->tag);
	r->compressed = flags & FLAG_ZSTD;
	if (!r->compressed && r->raw_len != r->payload_len)
		return rfail(r, -EINVAL, "section '%s': inconsistent lengths", r->tag);
	r->run_crc = 0;
	r->payload_left = r->payload_len;
	r->rpos = r->rlen = r->dpos = r->dlen = 0;
	r->produced = 0;
	r->frame_done = false;
	r->open = true;
	if (r->compressed)
		ZSTD_DCtx_reset(r->zd, ZSTD_reset_session_only);
	/* A payload that fits is read and checked before anything parses it. */
	if (r->payload_len && r->payload_len <= IO_CHUNK && !refill_raw(r))
		return r->err;
	if (!memcmp(r->tag, END_TAG, 4)) {
		if (r->payload_len)
			return snapr_fail(r, "END is not empty");
		r->open = false;
		r->at_end = true;
		if (r->off != r->file_size)
			return rfail(r, -EINVAL, "data after the END section");
		return 0;
	}
	return 1;
}

void snapr_close(struct snap_reader *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	ZSTD_freeDCtx(r->zd);
	free(r->dbuf);
	free(r->rbuf);
	free(r->path);
	r->zd = NULL;
	r->dbuf = r->rbuf = NULL;
	r->path = NULL;
}
