/* The files btvm writes where the user says (snapshots, screenshots,
 * --stats-json, --trace): private to the user, and put in place without
 * following or replacing anything that is not an ordinary file.
 *
 * A whole file (outfile_open ... outfile_commit) is written to a new,
 * randomly named file beside PATH, created exclusively with mode 0600,
 * and renamed over PATH once complete: a reader never sees half a file,
 * a failed write leaves PATH as it was, and a symbolic link planted at
 * PATH or at a predictable temporary name is never written through. PATH
 * must be absent or a regular file (never a symbolic link, a device, a
 * FIFO or a directory), checked when the file is opened and again just
 * before the rename. */
#ifndef BTVM_HOST_OUTFILE_H
#define BTVM_HOST_OUTFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct outfile {
	FILE *f;          /* the temporary file; NULL once committed or discarded */
	char *path;
	char *tmp_path;   /* PATH.XXXXXX */
};

/* 0 when PATH may be written: nothing is there, or a regular file. Else a
 * negative errno with a one-line reason ("PATH: ...") in err. */
int outfile_check(const char *path, char *err, size_t err_len);
/* Creates the temporary file for PATH. 0, or a negative errno with a
 * one-line reason in err (nothing is left behind). */
int outfile_open(struct outfile *o, const char *path, char *err, size_t err_len);
/* Flushes (and with sync, fsyncs) the file and renames it over PATH; on
 * any error removes it instead. Either way o is done with. 0, or a
 * negative errno with a one-line reason in err. */
int outfile_commit(struct outfile *o, bool sync, char *err, size_t err_len);
/* Removes the temporary file; nothing else changes. NULL-safe and safe
 * after a commit. */
void outfile_discard(struct outfile *o);

/* A file written as it goes (a trace read while btvm runs, or after a
 * crash): PATH opened for writing, created 0600 when absent, without
 * following a symbolic link; an existing PATH must be a regular file of
 * this user's and is truncated. The stream, or NULL with a one-line
 * reason in err. */
FILE *outfile_open_stream(const char *path, char *err, size_t err_len);

#endif
