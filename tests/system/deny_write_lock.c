/* A test-only LD_PRELOAD shim (run_migrate_disk.py), never linked into
 * btvm: in the process it is loaded into, F_OFD_SETLK asking for a write
 * lock fails with EAGAIN, as when another process holds the image:
 *   BTVM_TEST_DENY_WRITE_LOCK=always        every time (a migration's
 *       destination refuses the disks at the switch-over, so the test sees
 *       the source take them back);
 *   BTVM_TEST_DENY_WRITE_LOCK=after-unlock  once the process has let a
 *       lock go (the source cannot take its disks back, so the test sees
 *       it stop rather than run on unlocked).
 * Deterministic where a real competing process would race the source.
 * Every other fcntl goes to libc's. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef int (*fcntl_fn)(int, int, ...);

static int forward(const char *name, int fd, int cmd, void *arg)
{
	fcntl_fn real = (fcntl_fn)(uintptr_t)dlsym(RTLD_NEXT, name);
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	return real(fd, cmd, arg);
}

/* Whether this process has let a lock go: the shim's own state, for
 * after-unlock. */
static bool unlocked_once;

static int shim(const char *name, int fd, int cmd, void *arg)
{
	const char *mode = getenv("BTVM_TEST_DENY_WRITE_LOCK");
	if (cmd == F_OFD_SETLK && mode) {
		short type = ((const struct flock *)arg)->l_type;
		if (type == F_UNLCK)
			unlocked_once = true;
		if (type == F_WRLCK &&
		    (!strcmp(mode, "always") || (!strcmp(mode, "after-unlock") && unlocked_once))) {
			errno = EAGAIN;
			return -1;
		}
	}
	return forward(name, fd, cmd, arg);
}

/* fcntl's third argument is an int or a pointer: passed on as the
 * pointer-sized word the ABI gives either in. */
int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return shim("fcntl", fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return shim("fcntl64", fd, cmd, arg);
}
