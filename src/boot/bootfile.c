/* Helpers the Multiboot and Linux loaders share: reading image files and
 * wording their errors. */
#define _POSIX_C_SOURCE 200809L
#include "boot/bootfile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int boot_fail(char *err, size_t err_len, const char *path, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	boot_vfail(err, err_len, path, code, fmt, ap);
	va_end(ap);
	return code;
}

int boot_vfail(char *err, size_t err_len, const char *path, int code, const char *fmt,
	       va_list ap)
{
	if (!err || err_len == 0)
		return code;
	int n = snprintf(err, err_len, "%s: ", path);
	if (n >= 0 && (size_t)n < err_len)
		vsnprintf(err + n, err_len - (size_t)n, fmt, ap);
	/* The caller prints this as one line, whatever the path contains. */
	for (char *p = err; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return code;
}

int boot_read_fully(int fd, uint8_t *buf, size_t len, size_t *got)
{
	size_t done = 0;
	while (done < len) {
		ssize_t n = read(fd, buf + done, len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	*got = done;
	return 0;
}

int boot_read_file(const char *path, const char *what, uint64_t max_size, uint8_t **data,
		   size_t *size, char *err, size_t err_len)
{
	*data = NULL;
	*size = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		return boot_fail(err, err_len, path, -e, "cannot open %s: %s", what, strerror(e));
	}
	int rc;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		rc = boot_fail(err, err_len, path, -e, "cannot stat %s: %s", what, strerror(e));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = boot_fail(err, err_len, path, -EINVAL, "%s is not a regular file", what);
		goto out;
	}
	if (st.st_size == 0) {
		rc = boot_fail(err, err_len, path, -ENOEXEC, "%s is an empty file", what);
		goto out;
	}
	if ((uint64_t)st.st_size > max_size) {
		rc = boot_fail(err, err_len, path, -E2BIG,
			       "%s is too large (%" PRIu64 " bytes, at most %" PRIu64 ")", what,
			       (uint64_t)st.st_size, max_size);
		goto out;
	}
	uint8_t *buf = malloc((size_t)st.st_size);
	if (!buf) {
		rc = boot_fail(err, err_len, path, -ENOMEM, "out of memory reading the %s", what);
		goto out;
	}
	size_t got = 0;
	rc = boot_read_fully(fd, buf, (size_t)st.st_size, &got);
	if (rc < 0) {
		free(buf);
		rc = boot_fail(err, err_len, path, rc, "read error: %s", strerror(-rc));
		goto out;
	}
	if (got != (size_t)st.st_size) {
		free(buf);
		rc = boot_fail(err, err_len, path, -EIO, "%s shrank while it was being read", what);
		goto out;
	}
	*data = buf;
	*size = got;
	rc = 0;
out:
	close(fd);
	return rc;
}
