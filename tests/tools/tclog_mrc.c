/* tclog-mrc: miss-ratio curves from a --tcache-log (docs/TCLOG.md), for
 * every cache size asked and every policy, in one pass over the log: each
 * reference (a lookup or a translation record) updates one simulator per
 * (policy, size), plus an LRU stack whose byte distance answers every
 * size at once.
 *
 *   tclog-mrc [--sizes K,K,...] [--units N,N,...] LOG
 *
 * Sizes in KiB (default 64, 128, ... 131072). Writes CSV to stdout:
 * policy,size_bytes,references,misses,miss_ratio,translated_bytes,evictions
 * and a first row "log" with what the logged run itself did (its
 * translations are its misses, its room events its evictions). Exit
 * status 1 with one line on stderr when the log is unreadable, corrupt
 * or cut short; 2 on bad usage. (Python was tried first: a full log of
 * a Linux boot's block entries is 382 million records.) */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define MAX_SIZES 32
#define MAX_UNITS 9
#define NONE64 UINT64_MAX

struct key_state {
	uint32_t bytes;       /* of its last translation, pad included */
	uint64_t lru_slot;    /* NONE64: not in the LRU stack */
	uint32_t lru_bytes;   /* what its slot holds in the tree */
};

/* One size's simulators; the per-key stamps live in arrays beside. */
struct size_sim {
	uint64_t cap;
	/* flush: a key is in while its stamp is the epoch */
	uint32_t epoch;
	uint64_t flush_used, flush_misses, flush_bytes, flush_evictions;
	/* fifo: the last cap bytes of the log of bytes translated */
	uint64_t fifo_total, fifo_misses, fifo_bytes;
	/* units:N, per N asked */
	uint32_t useq[MAX_UNITS];
	uint64_t unit_used[MAX_UNITS], unit_misses[MAX_UNITS], unit_bytes[MAX_UNITS], unit_evictions[MAX_UNITS];
	/* lru */
	uint64_t lru_misses, lru_bytes;
};

struct mrc {
	const char *path;
	struct size_sim sims[MAX_SIZES];
	unsigned nsizes;
	unsigned units[MAX_UNITS];
	unsigned nunits;
	/* header */
	uint64_t code_size;
	uint32_t policy, run_units, block_reserve, unit_min_room, fifo_unit;
	/* keys and their per-size stamps: [key * nsizes + size] */
	struct key_state *keys;
	uint32_t *flush_stamp;
	uint64_t *fifo_pos;
	uint32_t *unit_stamp;   /* [(key * nsizes + size) * nunits + u] */
	uint32_t nkeys, key_cap;
	/* the LRU stack: a Fenwick tree of bytes over time slots */
	uint64_t *fen;
	uint32_t *slot_key;     /* the key at each slot, or UINT32_MAX */
	uint64_t nslots, next_slot;
	/* the log's own counts */
	uint64_t refs, lookups, translations, invalidations, flushes, rooms, records, log_bytes;
	/* The key of the last reference, UINT32_MAX after an invalidation or
	 * a flush: a lookup of it again is a hit in every cache (as big as a
	 * block), which a full log of block entries is mostly made of. */
	uint32_t last_key;
};

static void die(const struct mrc *m, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void die(const struct mrc *m, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "tclog-mrc: %s: ", m->path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Units:N's N, or for btvm's fifo (units[u] 0) the size over its unit. */
static uint64_t unit_count(const struct mrc *m, const struct size_sim *s, unsigned u)
{
	return m->units[u] ? m->units[u] : s->cap / m->fifo_unit;
}

static void *xalloc(const struct mrc *m, void *p, size_t n, size_t size)
{
	p = realloc(p, n * size);
	if (!p && n)
		die(m, "out of memory");
	return p;
}

/* --- the decompressed stream --- */

struct input {
	FILE *f;
	ZSTD_DCtx *dc;
	uint8_t *in, *out;
	size_t in_size, in_pos, in_len, out_size;
	size_t pos, len;        /* unread bytes of out */
	bool eof, frame_done;
	uint64_t offset;        /* of pos in the decompressed stream */
};

/* At least want bytes unread at pos, unless the stream ends first. */
static void fill(struct mrc *m, struct input *s, size_t want)
{
	if (s->len - s->pos >= want)
		return;
	s->offset += s->pos;
	memmove(s->out, s->out + s->pos, s->len - s->pos);
	s->len -= s->pos;
	s->pos = 0;
	while (s->len < want) {
		if (s->in_pos == s->in_len && !s->eof) {
			s->in_len = fread(s->in, 1, s->in_size, s->f);
			s->in_pos = 0;
			if (s->in_len == 0) {
				if (ferror(s->f))
					die(m, "read error: %s", strerror(errno));
				s->eof = true;
			}
		}
		if (s->in_pos == s->in_len && s->eof)
			return;
		ZSTD_inBuffer zin = { s->in, s->in_len, s->in_pos };
		ZSTD_outBuffer zout = { s->out + s->len, s->out_size - s->len, 0 };
		size_t r = ZSTD_decompressStream(s->dc, &zout, &zin);
		if (ZSTD_isError(r))
			die(m, "corrupt, or not zstd: %s", ZSTD_getErrorName(r));
		s->frame_done = r == 0;
		s->in_pos = zin.pos;
		s->len += zout.pos;
	}
}

static uint64_t get_varint(struct mrc *m, struct input *s)
{
	uint64_t v = 0;
	for (unsigned shift = 0;; shift += 7) {
		if (s->pos == s->len)
			fill(m, s, 16);
		if (s->pos == s->len)
			die(m, "truncated: the log ends inside a record (after %" PRIu64 " records; no end record)",
			    m->records);
		if (shift > 63)
			die(m, "corrupt: a varint longer than 64 bits at byte %" PRIu64, s->offset + s->pos);
		uint8_t b = s->out[s->pos++];
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
}

static uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* --- the simulators --- */

static void new_key(struct mrc *m, uint32_t bytes)
{
	if (m->nkeys == m->key_cap) {
		m->key_cap = m->key_cap ? m->key_cap * 2 : 65536;
		m->keys = xalloc(m, m->keys, m->key_cap, sizeof(*m->keys));
		m->flush_stamp = xalloc(m, m->flush_stamp, (size_t)m->key_cap * m->nsizes, sizeof(uint32_t));
		m->fifo_pos = xalloc(m, m->fifo_pos, (size_t)m->key_cap * m->nsizes, sizeof(uint64_t));
		m->unit_stamp = xalloc(m, m->unit_stamp, (size_t)m->key_cap * m->nsizes * m->nunits, sizeof(uint32_t));
	}
	uint32_t k = m->nkeys++;
	m->keys[k] = (struct key_state){ bytes, NONE64, 0 };
	for (unsigned i = 0; i < m->nsizes; i++) {
		m->flush_stamp[(size_t)k * m->nsizes + i] = 0;
		m->fifo_pos[(size_t)k * m->nsizes + i] = NONE64;
		for (unsigned u = 0; u < m->nunits; u++)
			m->unit_stamp[((size_t)k * m->nsizes + i) * m->nunits + u] = 0;
	}
}

static void fen_add(struct mrc *m, uint64_t slot, int64_t delta)
{
	for (uint64_t i = slot + 1; i <= m->nslots; i += i & -i)
		m->fen[i - 1] += (uint64_t)delta;
}

/* Bytes at slots [0, slot). */
static uint64_t fen_sum(const struct mrc *m, uint64_t slot)
{
	uint64_t s = 0;
	for (uint64_t i = slot; i > 0; i -= i & -i)
		s += m->fen[i - 1];
	return s;
}

/* Slots run out: the live ones are renumbered in order from 0. */
static void lru_compact(struct mrc *m)
{
	uint64_t live = 0;
	for (uint64_t i = 0; i < m->next_slot; i++)
		if (m->slot_key[i] != UINT32_MAX)
			m->slot_key[live++] = m->slot_key[i];
	uint64_t n = live * 2 > (1u << 20) ? live * 2 : (1u << 20);
	m->slot_key = xalloc(m, m->slot_key, n, sizeof(*m->slot_key));
	m->fen = xalloc(m, m->fen, n, sizeof(*m->fen));
	memset(m->fen, 0, n * sizeof(*m->fen));
	m->nslots = n;
	for (uint64_t i = live; i < n; i++)
		m->slot_key[i] = UINT32_MAX;
	for (uint64_t i = 0; i < live; i++) {
		m->keys[m->slot_key[i]].lru_slot = i;
		fen_add(m, i, m->keys[m->slot_key[i]].lru_bytes);
	}
	m->next_slot = live;
}

static void lru_remove(struct mrc *m, uint32_t k)
{
	struct key_state *ks = &m->keys[k];
	if (ks->lru_slot == NONE64)
		return;
	fen_add(m, ks->lru_slot, -(int64_t)ks->lru_bytes);
	m->slot_key[ks->lru_slot] = UINT32_MAX;
	ks->lru_slot = NONE64;
}

static void reference(struct mrc *m, uint32_t k)
{
	struct key_state *ks = &m->keys[k];
	uint64_t b = ks->bytes;
	m->refs++;
	/* LRU by bytes: the distance is the bytes of the distinct blocks
	 * used since k's last use, and k's own. */
	uint64_t dist = NONE64;
	if (ks->lru_slot != NONE64) {
		dist = fen_sum(m, m->next_slot) - fen_sum(m, ks->lru_slot + 1) + b;
		lru_remove(m, k);
	}
	if (m->next_slot == m->nslots)
		lru_compact(m);
	ks->lru_slot = m->next_slot++;
	ks->lru_bytes = (uint32_t)b;
	m->slot_key[ks->lru_slot] = k;
	fen_add(m, ks->lru_slot, (int64_t)b);
	for (unsigned i = 0; i < m->nsizes; i++) {
		struct size_sim *s = &m->sims[i];
		size_t ki = (size_t)k * m->nsizes + i;
		if (dist == NONE64 || dist > s->cap) {
			s->lru_misses++;
			s->lru_bytes += b;
		}
		if (m->flush_stamp[ki] != s->epoch) {
			/* btvm's rule: a block starts only with the reserve free */
			if (s->cap - s->flush_used < m->block_reserve) {
				s->epoch++;
				s->flush_used = 0;
				s->flush_evictions++;
			}
			s->flush_used += b;
			m->flush_stamp[ki] = s->epoch;
			s->flush_misses++;
			s->flush_bytes += b;
		}
		uint64_t p = m->fifo_pos[ki];
		if (p == NONE64 || p + s->cap < s->fifo_total) {
			m->fifo_pos[ki] = s->fifo_total;
			s->fifo_total += b;
			s->fifo_misses++;
			s->fifo_bytes += b;
		}
		for (unsigned u = 0; u < m->nunits; u++) {
			uint32_t *st = &m->unit_stamp[ki * m->nunits + u];
			uint64_t n = unit_count(m, s, u);
			if (*st && *st + n > s->useq[u])
				continue;
			uint64_t unit = (s->cap / n) & ~(uint64_t)4095;
			uint64_t room = unit - s->unit_used[u];
			if (room < m->unit_min_room || b > room) {
				/* the next unit (the oldest) is emptied: room made,
				 * as btvm's log counts it, whether it held blocks or not */
				s->useq[u]++;
				s->unit_evictions[u]++;
				s->unit_used[u] = 0;
			}
			s->unit_used[u] += b;
			*st = s->useq[u];
			s->unit_misses[u]++;
			s->unit_bytes[u] += b;
		}
	}
}

static void invalidate(struct mrc *m, uint32_t k)
{
	lru_remove(m, k);
	for (unsigned i = 0; i < m->nsizes; i++) {
		size_t ki = (size_t)k * m->nsizes + i;
		m->flush_stamp[ki] = 0;   /* epochs start at 1 */
		m->fifo_pos[ki] = NONE64;
		for (unsigned u = 0; u < m->nunits; u++)
			m->unit_stamp[ki * m->nunits + u] = 0;
	}
}

static void flush_everything(struct mrc *m)
{
	for (uint32_t k = 0; k < m->nkeys; k++)
		lru_remove(m, k);
	for (unsigned i = 0; i < m->nsizes; i++) {
		struct size_sim *s = &m->sims[i];
		s->epoch++;
		s->flush_used = 0;
		s->fifo_total += s->cap + 1;
		for (unsigned u = 0; u < m->nunits; u++) {
			s->useq[u] += (uint32_t)unit_count(m, s, u);
			s->unit_used[u] = 0;
		}
	}
}

/* --- reading --- */

static void run(struct mrc *m)
{
	struct input s = { 0 };
	s.f = fopen(m->path, "rb");
	if (!s.f)
		die(m, "%s", strerror(errno));
	s.dc = ZSTD_createDCtx();
	s.in_size = ZSTD_DStreamInSize();
	s.out_size = 1u << 20;
	s.in = malloc(s.in_size);
	s.out = malloc(s.out_size);
	if (!s.dc || !s.in || !s.out)
		die(m, "out of memory");
	fill(m, &s, 16);
	if (s.len < 16 && s.eof && !s.frame_done)
		die(m, "truncated: the zstd stream ends before the log's header");
	if (s.len < 16 || memcmp(s.out, "BTVMTCLG", 8))
		die(m, "not a btvm translation-cache log (no BTVMTCLG header)");
	uint32_t version = (uint32_t)le(s.out + 8, 4), hlen = (uint32_t)le(s.out + 12, 4);
	if (version != 1)
		die(m, "log format version %u; this tool reads version 1", version);
	fill(m, &s, 16 + (size_t)hlen);
	if (hlen < 28 || s.len < 16 + (size_t)hlen)
		die(m, "truncated or corrupt header");
	m->code_size = le(s.out + 16, 8);
	m->policy = (uint32_t)le(s.out + 24, 4);
	m->run_units = (uint32_t)le(s.out + 28, 4);
	m->block_reserve = (uint32_t)le(s.out + 32, 4);
	m->unit_min_room = (uint32_t)le(s.out + 36, 4);
	m->fifo_unit = (uint32_t)le(s.out + 40, 4);
	if (m->fifo_unit < 4096)
		die(m, "corrupt header: fifo's unit of %u bytes", m->fifo_unit);
	s.pos = 16 + hlen;
	for (unsigned i = 0; i < m->nsizes; i++) {
		m->sims[i].epoch = 1;
		for (unsigned u = 0; u < m->nunits; u++)
			m->sims[i].useq[u] = 1;
		/* As btvm's tcache_set_policy: an empty unit holds the
		 * largest block. */
		for (unsigned u = 0; u < m->nunits; u++)
			if (((m->sims[i].cap / unit_count(m, &m->sims[i], u)) & ~4095ull) < m->block_reserve)
				die(m, "a %" PRIu64 " KiB cache is too small for units:%u", m->sims[i].cap >> 10,
				    m->units[u]);
	}
	lru_compact(m);
	for (;;) {
		fill(m, &s, 64);
		if (s.pos == s.len)
			die(m, "truncated: no end record after %" PRIu64 " records", m->records);
		uint64_t v = get_varint(m, &s);
		uint64_t arg = v >> 2;
		m->records++;
		switch (v & 3) {
		case 0:
			if (arg >= m->nkeys)
				die(m, "corrupt: record %" PRIu64 " looks up key %" PRIu64 " of %u defined", m->records, arg,
				    m->nkeys);
			m->lookups++;
			if (arg == m->last_key) {
				m->refs++;
				break;
			}
			reference(m, (uint32_t)arg);
			m->last_key = (uint32_t)arg;
			break;
		case 1: {
			uint64_t size = get_varint(m, &s), pad = get_varint(m, &s);
			if (arg > m->nkeys || size + pad > m->code_size || size + pad == 0)
				die(m, "corrupt: record %" PRIu64 " translates key %" PRIu64 " (%u defined) of %" PRIu64
				    " bytes", m->records, arg, m->nkeys, size + pad);
			if (arg == m->nkeys) {
				for (int f = 0; f < 4; f++)
					get_varint(m, &s);   /* eip, gpa, mode, cs_limit */
				new_key(m, (uint32_t)(size + pad));
			}
			m->translations++;
			m->log_bytes += size + pad;
			m->keys[arg].bytes = (uint32_t)(size + pad);
			reference(m, (uint32_t)arg);
			m->last_key = (uint32_t)arg;
			break;
		}
		case 2:
			if (arg >= m->nkeys)
				die(m, "corrupt: record %" PRIu64 " invalidates key %" PRIu64 " of %u defined", m->records,
				    arg, m->nkeys);
			m->invalidations++;
			invalidate(m, (uint32_t)arg);
			m->last_key = UINT32_MAX;
			break;
		default:
			if (arg == 0) {
				fill(m, &s, 1);
				if (s.pos != s.len)
					die(m, "corrupt: records after the end record");
				goto done;
			} else if (arg == 1) {
				m->flushes++;
				flush_everything(m);
				m->last_key = UINT32_MAX;
			} else if (arg == 2) {
				m->rooms++;
			} else if (arg == 3) {
				get_varint(m, &s);
			} else {
				die(m, "corrupt: unknown event %" PRIu64 " in record %" PRIu64, arg, m->records);
			}
		}
	}
done:
	if (!s.frame_done)
		die(m, "truncated: the zstd stream does not end");
	ZSTD_freeDCtx(s.dc);
	free(s.in);
	free(s.out);
	fclose(s.f);
}

static void row(const char *policy, uint64_t size, uint64_t refs, uint64_t misses, uint64_t bytes, uint64_t ev)
{
	printf("%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.6f,%" PRIu64 ",%" PRIu64 "\n", policy, size, refs, misses,
	       refs ? (double)misses / (double)refs : 0.0, bytes, ev);
}

static int parse_list(const char *s, uint64_t *out, unsigned max, unsigned *n)
{
	*n = 0;
	while (*s) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(s, &end, 10);
		if (errno || end == s || v == 0 || *n == max || (*end && *end != ','))
			return -1;
		out[(*n)++] = v;
		s = *end ? end + 1 : end;
	}
	return *n ? 0 : -1;
}

int main(int argc, char **argv)
{
	static struct mrc m;
	uint64_t sizes[MAX_SIZES], units[MAX_UNITS] = { 8 };
	unsigned nsizes = 0, nunits = 1;
	for (uint64_t kib = 64; kib <= 128 * 1024; kib *= 2)
		sizes[nsizes++] = kib;
	int i = 1;
	for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (!strcmp(argv[i], "--sizes") && !parse_list(argv[i + 1], sizes, MAX_SIZES, &nsizes))
			continue;
		if (!strcmp(argv[i], "--units") && !parse_list(argv[i + 1], units, MAX_UNITS - 1, &nunits))
			continue;
		break;
	}
	if (i != argc - 1 || argv[i][0] == '-') {
		fprintf(stderr, "usage: tclog-mrc [--sizes KIB,KIB,...] [--units N,N,...] LOG\n");
		return 2;
	}
	for (unsigned u = 0; u < nunits; u++) {
		if (units[u] < 2 || units[u] > 64) {
			fprintf(stderr, "tclog-mrc: --units: N from 2 to 64\n");
			return 2;
		}
		m.units[u] = (unsigned)units[u];
	}
	/* and btvm's own fifo: units of the header's fifo_unit (0 here) */
	m.units[nunits++] = 0;
	m.nunits = nunits;
	m.path = argv[i];
	m.last_key = UINT32_MAX;
	m.nsizes = nsizes;
	for (unsigned k = 0; k < nsizes; k++)
		m.sims[k].cap = sizes[k] << 10;
	run(&m);
	puts("policy,size_bytes,references,misses,miss_ratio,translated_bytes,evictions");
	static const char *const names[] = { "flush", "fifo", "units" };
	char own[32];
	if (m.policy == 2)
		snprintf(own, sizeof(own), "log:units:%u", m.run_units);
	else
		snprintf(own, sizeof(own), "log:%s", m.policy < 2 ? names[m.policy] : "?");
	row(own, m.code_size, m.refs, m.translations, m.log_bytes, m.rooms);
	for (unsigned k = 0; k < nsizes; k++) {
		const struct size_sim *s = &m.sims[k];
		row("flush", s->cap, m.refs, s->flush_misses, s->flush_bytes, s->flush_evictions);
		row("fifo", s->cap, m.refs, s->fifo_misses, s->fifo_bytes, 0);
		for (unsigned u = 0; u < nunits; u++) {
			char name[24];
			if (m.units[u])
				snprintf(name, sizeof(name), "units:%u", m.units[u]);
			else
				snprintf(name, sizeof(name), "btvm-fifo");
			row(name, s->cap, m.refs, s->unit_misses[u], s->unit_bytes[u], s->unit_evictions[u]);
		}
		row("lru", s->cap, m.refs, s->lru_misses, s->lru_bytes, 0);
	}
	fprintf(stderr, "tclog-mrc: %s: %" PRIu64 " records, %u keys, %" PRIu64 " lookups, %" PRIu64
		" translations, %" PRIu64 " invalidations, %" PRIu64 " flushes, %" PRIu64 " room events\n",
		m.path, m.records, m.nkeys, m.lookups, m.translations, m.invalidations, m.flushes, m.rooms);
	return 0;
}
