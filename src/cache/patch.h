/* Re-pointing a rel32 jump or call field in host code that is already
 * emitted: the cache chains and unchains blocks with it, and the emitter
 * fills in its own forward jumps. Inline because the emitter calls it for
 * every jump it emits. */
#ifndef BTVM_CACHE_PATCH_H
#define BTVM_CACHE_PATCH_H

#include <assert.h>
#include <stdint.h>
#include <string.h>

/* field is the 4-byte displacement; the instruction ends right after it. */
static inline void patch_rel32(uint8_t *field, const void *target)
{
	int64_t rel = (const uint8_t *)target - (field + 4);
	assert(rel == (int32_t)rel);
	int32_t r = (int32_t)rel;
	memcpy(field, &r, 4);
}

#endif
