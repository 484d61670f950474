/* --tcache-log: a log of the translation cache's lookups, translations,
 * invalidations and flushes, compressed with zstd as it goes, from which
 * bench/cache/mrc.py computes miss-ratio curves (docs/TCLOG.md is the
 * format). The cache calls it only where it is not NULL: off, it costs a
 * test of one pointer.
 *
 * Every call is made where the cache itself is used, under the same
 * serialisation (the machine lock with several vCPUs: the run loop and
 * the indirect-branch fills hold it), so one buffer in call order is the
 * order the shared cache saw; a record says when the vCPU changes. */
#ifndef BTVM_CACHE_TCLOG_H
#define BTVM_CACHE_TCLOG_H

#include <stddef.h>
#include <stdint.h>

/* The format's version (docs/TCLOG.md). */
#define TCLOG_VERSION 1u
#define TCLOG_MAGIC "BTVMTCLG"

/* A record's kind: the low two bits of its first varint. */
enum tclog_kind {
	TCLOG_LOOKUP = 0,     /* a lookup that found key (v >> 2) */
	TCLOG_TRANSLATE = 1,  /* key translated (a lookup that missed, then the block) */
	TCLOG_INVALIDATE = 2, /* key's block dropped: its code changed or went */
	TCLOG_EVENT = 3,      /* (v >> 2) is an enum tclog_event */
};

enum tclog_event {
	TCLOG_EVENT_END = 0,    /* the last record: a log without it was cut short */
	TCLOG_EVENT_FLUSH = 1,  /* everything dropped, not for room (reset, restore) */
	TCLOG_EVENT_ROOM = 2,   /* the policy made room: a flush, or a unit evicted */
	TCLOG_EVENT_VCPU = 3,   /* the vCPU of the records that follow: a varint */
};

/* What the header tells of the cache the run had (tcache.h's policy). */
struct tclog_params {
	uint64_t code_size;
	uint32_t policy, nunits;
	uint32_t block_reserve, unit_min_room, fifo_unit;
};

/* The raw buffer (before compression): records are appended here and
 * compressed a buffer at a time. */
#define TCLOG_BUFFER (1u << 20)
/* Longest record: a translation of a new key, six varints. */
#define TCLOG_RECORD_MAX 64u

struct tclog {
	uint8_t *buf;
	size_t used;
	unsigned vcpu;        /* of the last records */
	/* The key table: (eip, gpa, mode, cs_limit) -> index, open
	 * addressing; an index is given at a key's first translation. */
	struct tclog_key *keys;
	uint32_t *slots;      /* index + 1, 0 empty */
	uint32_t nkeys, nslots;
	void *zc;             /* ZSTD_CCtx */
	uint8_t *zbuf;
	size_t zbuf_size;
	void *file;           /* FILE */
	int error;            /* the first write's error, negative errno */
	uint64_t records, raw_bytes, file_bytes;
};

/* Opens PATH (created, or truncated: host/outfile.h's stream) and writes
 * the header. 0, or a negative errno with a one-line reason in err. */
int tclog_open(struct tclog **out, const char *path, const struct tclog_params *p, char *err,
	       size_t err_len);
/* Writes what is buffered and the end record, closes. 0, or a negative
 * errno (of this or any earlier write) with a one-line reason in err. */
int tclog_close(struct tclog *log, char *err, size_t err_len);

/* Compresses and writes the buffer (tclog_put's when it is nearly full). */
void tclog_drain(struct tclog *log);

static inline void tclog_put_varint(struct tclog *log, uint64_t v)
{
	while (v >= 0x80) {
		log->buf[log->used++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	log->buf[log->used++] = (uint8_t)v;
}

/* Room for one more record. */
static inline void tclog_reserve(struct tclog *log)
{
	if (log->used > TCLOG_BUFFER - TCLOG_RECORD_MAX)
		tclog_drain(log);
	log->records++;
}

static inline void tclog_vcpu(struct tclog *log, unsigned vcpu)
{
	if (vcpu == log->vcpu)
		return;
	log->vcpu = vcpu;
	tclog_reserve(log);
	tclog_put_varint(log, (uint64_t)TCLOG_EVENT_VCPU << 2 | TCLOG_EVENT);
	tclog_put_varint(log, vcpu);
}

/* A lookup of vcpu's found the block of key (its tblock's log_key). */
static inline void tclog_lookup(struct tclog *log, unsigned vcpu, uint32_t key)
{
	tclog_vcpu(log, vcpu);
	tclog_reserve(log);
	tclog_put_varint(log, (uint64_t)key << 2 | TCLOG_LOOKUP);
}

/* A block was committed: its key's index (new at its first
 * translation), logged with the bytes it took in the buffer, size (its
 * code rounded as the buffer rounds it) after pad (alignment skipped
 * before it). */
uint32_t tclog_translate(struct tclog *log, uint32_t eip, uint64_t gpa, uint32_t mode, uint32_t cs_limit,
			 uint32_t size, uint32_t pad);
void tclog_invalidate(struct tclog *log, uint32_t key);
void tclog_event(struct tclog *log, enum tclog_event ev);

#endif
