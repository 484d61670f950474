/* Private, atomic output files (outfile.h). */
#define _GNU_SOURCE
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char refusal[] = "btvm writes only to a new or a regular file, never through a link";

static const char *kind_of(mode_t mode)
{
	if (S_ISLNK(mode))
		return "a symbolic link";
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return "a device";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	return "not a regular file";
}

int outfile_check(const char *path, char *err, size_t err_len)
{
	struct stat st;
	if (!*path) {
		snprintf(err, err_len, "the file name is empty");
		return -EINVAL;
	}
	if (lstat(path, &st)) {
		if (errno == ENOENT)
			return 0;
		int e = errno;
		snprintf(err, err_len, "%s: %s", path, strerror(e));
		return -e;
	}
	if (S_ISREG(st.st_mode))
		return 0;
	snprintf(err, err_len, "%s: is %s; %s", path, kind_of(st.st_mode), refusal);
	return S_ISDIR(st.st_mode) ? -EISDIR : -EEXIST;
}

void outfile_discard(struct outfile *o)
{
	if (!o)
		return;
	if (o->f) {
		fclose(o->f);
		unlink(o->tmp_path);
	}
	o->f = NULL;
	free(o->path);
	free(o->tmp_path);
	o->path = o->tmp_path = NULL;
}

int outfile_open(struct outfile *o, const char *path, char *err, size_t err_len)
{
	memset(o, 0, sizeof(*o));
	int ret = outfile_check(path, err, err_len);
	if (ret)
		return ret;
	o->path = strdup(path);
	if (!o->path || asprintf(&o->tmp_path, "%s.XXXXXX", path) < 0) {
		o->tmp_path = NULL;
		outfile_discard(o);
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	/* mkostemp: O_CREAT | O_EXCL, mode 0600, a name nobody can predict. */
	int fd = mkostemp(o->tmp_path, O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(err, err_len, "%s: cannot create a file beside it: %s", path, strerror(e));
		outfile_discard(o);
		return -e;
	}
	o->f = fdopen(fd, "w");
	if (!o->f) {
		int e = errno;
		close(fd);
		unlink(o->tmp_path);
		outfile_discard(o);
		snprintf(err, err_len, "%s: %s", path, strerror(e));
		return -e;
	}
	return 0;
}

int outfile_commit(struct outfile *o, bool sync, char *err, size_t err_len)
{
	int ret = 0;
	if (!o->f) {
		snprintf(err, err_len, "%s: the file was not opened", o->path ? o->path : "?");
		outfile_discard(o);
		return -EBADF;
	}
	if (fflush(o->f) || ferror(o->f) || (sync && fsync(fileno(o->f)))) {
		ret = -(errno ? errno : EIO);
		snprintf(err, err_len, "%s: cannot write: %s", o->path, strerror(-ret));
	}
	FILE *f = o->f;
	o->f = NULL;
	if (fclose(f) && !ret) {
		ret = -errno;
		snprintf(err, err_len, "%s: cannot write: %s", o->path, strerror(-ret));
	}
	/* Again: something may have been put there while the file was
	 * written. rename() itself replaces a name and never follows one. */
	if (!ret)
		ret = outfile_check(o->path, err, err_len);
	if (!ret && rename(o->tmp_path, o->path)) {
		ret = -errno;
		snprintf(err, err_len, "%s: cannot put the file in place: %s", o->path,
			 strerror(-ret));
	}
	if (ret)
		unlink(o->tmp_path);
	outfile_discard(o);
	return ret;
}

FILE *outfile_open_stream(const char *path, char *err, size_t err_len)
{
	if (outfile_check(path, err, err_len))
		return NULL;
	/* O_NONBLOCK: a FIFO put there since the check does not hang the
	 * open; fstat below refuses it. */
	int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	struct stat st;
	int e = fd < 0 ? errno : 0;
	if (!e && fstat(fd, &st))
		e = errno;
	if (e) {
		if (e == ELOOP)
			snprintf(err, err_len, "%s: is a symbolic link; %s", path, refusal);
		else
			snprintf(err, err_len, "%s: %s", path, strerror(e));
	} else if (!S_ISREG(st.st_mode)) {
		e = EEXIST;
		snprintf(err, err_len, "%s: is %s; %s", path, kind_of(st.st_mode), refusal);
	} else if (st.st_uid != geteuid()) {
		/* In a shared directory, another user's file could be read
		 * by them afterwards. */
		e = EPERM;
		snprintf(err, err_len, "%s: belongs to another user; btvm does not write into it",
			 path);
	} else if (ftruncate(fd, 0) || fcntl(fd, F_SETFL, 0)) {
		e = errno;
		snprintf(err, err_len, "%s: %s", path, strerror(e));
	}
	FILE *f = e ? NULL : fdopen(fd, "w");
	if (!f) {
		if (!e)
			snprintf(err, err_len, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	return f;
}
