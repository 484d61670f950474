/* The translation cache's log (tclog.h, docs/TCLOG.md): records in a
 * buffer, compressed a buffer at a time into one zstd stream with the
 * streaming API, so that `zstd -dc FILE` gives the raw records. */
#include "cache/tclog.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "host/bytes.h"
#include "host/outfile.h"

struct tclog_key {
	uint64_t gpa;
	uint32_t eip, mode, cs_limit;
};

/* Level 1: the log is written while the guest runs; a Linux boot's log
 * compresses to a few bytes a lookup even so (docs/TCLOG.md). */
#define TCLOG_ZSTD_LEVEL 1

static uint32_t key_hash(uint32_t eip, uint64_t gpa, uint32_t mode, uint32_t cs_limit)
{
	uint64_t h = (gpa ^ (uint64_t)eip << 32) * 0x9e3779b97f4a7c15ull;
	h ^= ((uint64_t)mode << 32 | cs_limit) * 0xc2b2ae3d27d4eb4full;
	return (uint32_t)(h ^ (h >> 29));
}

/* Writes what the compressor gives for the buffer's records (mode
 * ZSTD_e_continue) or for the rest of the stream (ZSTD_e_end). */
static void compress_out(struct tclog *log, ZSTD_EndDirective mode)
{
	ZSTD_inBuffer in = { log->buf, log->used, 0 };
	log->raw_bytes += log->used;
	for (;;) {
		ZSTD_outBuffer out = { log->zbuf, log->zbuf_size, 0 };
		size_t left = ZSTD_compressStream2(log->zc, &out, &in, mode);
		if (ZSTD_isError(left)) {
			if (!log->error)
				log->error = -EIO;
			break;
		}
		if (out.pos && !log->error && fwrite(log->zbuf, 1, out.pos, log->file) != out.pos)
			log->error = errno ? -errno : -EIO;
		log->file_bytes += out.pos;
		if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size)
			break;
	}
	log->used = 0;
}

void tclog_drain(struct tclog *log)
{
	compress_out(log, ZSTD_e_continue);
}

int tclog_open(struct tclog **out, const char *path, const struct tclog_params *p, char *err,
	       size_t err_len)
{
	char why[512];
	*out = NULL;
	struct tclog *log = calloc(1, sizeof(*log));
	if (!log)
		goto nomem;
	log->buf = malloc(TCLOG_BUFFER);
	log->zbuf_size = ZSTD_CStreamOutSize();
	log->zbuf = malloc(log->zbuf_size);
	log->zc = ZSTD_createCCtx();
	log->nslots = 1u << 16;
	log->slots = calloc(log->nslots, sizeof(*log->slots));
	if (!log->buf || !log->zbuf || !log->zc || !log->slots)
		goto nomem;
	ZSTD_CCtx_setParameter(log->zc, ZSTD_c_compressionLevel, TCLOG_ZSTD_LEVEL);
	/* A reader tells a damaged log from a good one (as the zstd tool's
	 * own files do). */
	ZSTD_CCtx_setParameter(log->zc, ZSTD_c_checksumFlag, 1);
	log->file = outfile_open_stream(path, why, sizeof(why));
	if (!log->file) {
		snprintf(err, err_len, "--tcache-log %s", why);
		free(log->slots);
		ZSTD_freeCCtx(log->zc);
		free(log->zbuf);
		free(log->buf);
		free(log);
		return -EIO;
	}
	/* The header (docs/TCLOG.md): little-endian, its length after the
	 * first 16 bytes so that a later version may add fields. */
	uint8_t *h = log->buf;
	memcpy(h, TCLOG_MAGIC, 8);
	bytes_put_le(h + 8, TCLOG_VERSION, 4);
	bytes_put_le(h + 12, 28, 4);
	bytes_put_le(h + 16, p->code_size, 8);
	bytes_put_le(h + 24, p->policy, 4);
	bytes_put_le(h + 28, p->nunits, 4);
	bytes_put_le(h + 32, p->block_reserve, 4);
	bytes_put_le(h + 36, p->unit_min_room, 4);
	bytes_put_le(h + 40, p->fifo_unit, 4);
	log->used = 44;
	*out = log;
	return 0;
nomem:
	if (log) {
		free(log->slots);
		ZSTD_freeCCtx(log->zc);
		free(log->zbuf);
		free(log->buf);
		free(log);
	}
	snprintf(err, err_len, "--tcache-log %s: %s", path, strerror(ENOMEM));
	return -ENOMEM;
}

int tclog_close(struct tclog *log, char *err, size_t err_len)
{
	tclog_event(log, TCLOG_EVENT_END);
	compress_out(log, ZSTD_e_end);
	int ret = log->error;
	if (fclose(log->file) && !ret)
		ret = errno ? -errno : -EIO;
	if (ret)
		snprintf(err, err_len, "--tcache-log: cannot write the log: %s", strerror(-ret));
	free(log->slots);
	free(log->keys);
	ZSTD_freeCCtx(log->zc);
	free(log->zbuf);
	free(log->buf);
	free(log);
	return ret;
}

/* Twice the slots when the table is half full: the keys' indices stay. */
static bool grow_slots(struct tclog *log)
{
	uint32_t n = log->nslots * 2;
	uint32_t *slots = calloc(n, sizeof(*slots));
	if (!slots)
		return false;
	for (uint32_t i = 0; i < log->nkeys; i++) {
		const struct tclog_key *k = &log->keys[i];
		uint32_t s = key_hash(k->eip, k->gpa, k->mode, k->cs_limit) & (n - 1);
		while (slots[s])
			s = (s + 1) & (n - 1);
		slots[s] = i + 1;
	}
	free(log->slots);
	log->slots = slots;
	log->nslots = n;
	return true;
}

uint32_t tclog_translate(struct tclog *log, uint32_t eip, uint64_t gpa, uint32_t mode, uint32_t cs_limit,
			 uint32_t size, uint32_t pad)
{
	uint32_t s = key_hash(eip, gpa, mode, cs_limit) & (log->nslots - 1);
	for (; log->slots[s]; s = (s + 1) & (log->nslots - 1)) {
		const struct tclog_key *k = &log->keys[log->slots[s] - 1];
		if (k->eip == eip && k->gpa == gpa && k->mode == mode && k->cs_limit == cs_limit) {
			uint32_t key = log->slots[s] - 1;
			tclog_reserve(log);
			tclog_put_varint(log, (uint64_t)key << 2 | TCLOG_TRANSLATE);
			tclog_put_varint(log, size);
			tclog_put_varint(log, pad);
			return key;
		}
	}
	/* A new key: its index is the count so far, and its fields follow. */
	if (log->nkeys % 4096 == 0) {
		struct tclog_key *keys = realloc(log->keys, (log->nkeys + 4096) * sizeof(*keys));
		if (!keys)
			goto nomem;
		log->keys = keys;
	}
	uint32_t key = log->nkeys++;
	log->keys[key] = (struct tclog_key){ gpa, eip, mode, cs_limit };
	log->slots[s] = key + 1;
	if (log->nkeys * 2 > log->nslots && !grow_slots(log))
		goto nomem;
	tclog_reserve(log);
	tclog_put_varint(log, (uint64_t)key << 2 | TCLOG_TRANSLATE);
	tclog_put_varint(log, size);
	tclog_put_varint(log, pad);
	tclog_put_varint(log, eip);
	tclog_put_varint(log, gpa);
	tclog_put_varint(log, mode);
	tclog_put_varint(log, cs_limit);
	return key;
nomem:
	/* The run goes on; the log says why it is unusable at close. */
	if (!log->error)
		log->error = -ENOMEM;
	return 0;
}

void tclog_invalidate(struct tclog *log, uint32_t key)
{
	tclog_reserve(log);
	tclog_put_varint(log, (uint64_t)key << 2 | TCLOG_INVALIDATE);
}

void tclog_event(struct tclog *log, enum tclog_event ev)
{
	assert(ev != TCLOG_EVENT_VCPU);   /* tclog_vcpu's, with its operand */
	tclog_reserve(log);
	tclog_put_varint(log, (uint64_t)ev << 2 | TCLOG_EVENT);
}
