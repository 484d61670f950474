/* The adaptive capacity policy's judgement and its option (the units it
 * moves between are tcache.c's). After Bruening and Amarasinghe (CGO
 * 2005): DynamoRIO starts its cache small and grows it when the code it
 * translates again after evicting it is a large share of what it
 * translates, and keeps it when that share is small. Here the cache also
 * gives a unit back when evicting costs next to nothing for a whole turn
 * of the cache, so a phase that needed much code (a boot) does not keep
 * its size for good. */
#include "cache/tcache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Re-translations per block translated in a fill that grow the cache:
 * DynamoRIO's default is 10 regenerated per 50 replaced. */
#define ADAPT_GROW_PERCENT 20u
/* Under this share a fill was quiet: what it evicted was not wanted
 * again (the filter of evicted keys miscounts a few: tcache.c). */
#define ADAPT_QUIET_PERCENT 2u
/* Quiet fills in a row before a shrink: a whole turn of the cache, and
 * at least this many, so one shrink waits for evidence the last took. */
#define ADAPT_QUIET_MIN 4u

int tcache_adapt_judge(struct tcache_adapt *a, uint64_t blocks, uint64_t retranslations)
{
	if (retranslations * 100 >= blocks * ADAPT_GROW_PERCENT) {
		a->quiet_fills = 0;
		if (a->cap_units >= a->max_units)
			return 0;
		a->cap_units = a->cap_units * 2 < a->max_units ? a->cap_units * 2 : a->max_units;
		return 1;
	}
	if (retranslations * 100 >= blocks * ADAPT_QUIET_PERCENT) {
		a->quiet_fills = 0;
		return 0;
	}
	a->quiet_fills++;
	unsigned turn = a->cap_units > ADAPT_QUIET_MIN ? a->cap_units : ADAPT_QUIET_MIN;
	if (a->quiet_fills < turn || a->cap_units <= a->min_units)
		return 0;
	a->quiet_fills = 0;
	a->cap_units--;
	return -1;
}

/* One bound: N MiB, NM or NK; 0 or -EINVAL. */
static int parse_size(const char *s, size_t len, uint64_t *bytes)
{
	char buf[24];
	if (!len || len >= sizeof(buf) || *s < '0' || *s > '9')
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	char *end;
	errno = 0;
	unsigned long long n = strtoull(buf, &end, 10);
	unsigned shift = 20;
	if (*end == 'K' || *end == 'k')
		shift = 10, end++;
	else if (*end == 'M' || *end == 'm')
		end++;
	if (errno || *end || !n || n > (1ull << (40 - shift)))
		return -EINVAL;
	*bytes = (uint64_t)n << shift;
	return 0;
}

int tcache_parse_adaptive(const char *s, uint64_t *min_bytes, uint64_t *max_bytes)
{
	*min_bytes = *max_bytes = 0;
	if (!strcmp(s, "adaptive"))
		return 0;
	if (strncmp(s, "adaptive:", 9))
		return -EINVAL;
	const char *lo = s + 9, *dash = strchr(lo, '-');
	if (!dash || parse_size(lo, (size_t)(dash - lo), min_bytes) ||
	    parse_size(dash + 1, strlen(dash + 1), max_bytes) || *min_bytes > *max_bytes) {
		*min_bytes = *max_bytes = 0;
		return -EINVAL;
	}
	return 0;
}
