/* Windows on scatter-gather lists, for the disk backends' transfers. */
#ifndef BTVM_HOST_IOV_H
#define BTVM_HOST_IOV_H

#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

/* The bytes [off, off + len) of iov (n entries) as entries of out (at
 * most n of them); how many. */
static inline unsigned iov_window(const struct iovec *iov, unsigned n, uint64_t off, uint64_t len,
				  struct iovec *out)
{
	unsigned count = 0;
	for (unsigned i = 0; i < n && len; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		uint64_t take = iov[i].iov_len - off;
		if (take > len)
			take = len;
		out[count++] = (struct iovec){ (uint8_t *)iov[i].iov_base + off, take };
		len -= take;
		off = 0;
	}
	return count;
}

static inline uint64_t iov_length(const struct iovec *iov, unsigned n)
{
	uint64_t len = 0;
	for (unsigned i = 0; i < n; i++)
		len += iov[i].iov_len;
	return len;
}

/* Moves *iov (*n entries) past done bytes a short transfer moved. */
static inline void iov_advance(struct iovec **iov, unsigned *n, size_t done)
{
	while (*n && done >= (*iov)->iov_len) {
		done -= (*iov)->iov_len;
		(*iov)++;
		(*n)--;
	}
	if (*n) {
		(*iov)->iov_base = (uint8_t *)(*iov)->iov_base + done;
		(*iov)->iov_len -= done;
	}
}

/* Zeros every byte of iov (n entries): a read past a file's end. */
static inline void iov_zero(const struct iovec *iov, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		memset(iov[i].iov_base, 0, iov[i].iov_len);
}

#endif
