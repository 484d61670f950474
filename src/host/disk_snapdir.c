/* The index of a disk image's named snapshots and the files beside it.
 * See disk_snapdir.h. */
#define _GNU_SOURCE
#include "host/disk_snapdir.h"
#include "host/outfile.h"
#include "host/overlay.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define INDEX_NAME	"index.json"
#define INDEX_FORMAT	1

bool snapdir_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (!n || n > SNAPDIR_NAME_MAX || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-",
			    name[i]))
			return false;
	return true;
}

/* An overlay's name as this directory makes them: ovl-DIGITS.btov. */
static bool overlay_name_ok(const char *f)
{
	size_t n = strlen(f);
	if (n < 10 || n >= SNAPDIR_FILE_MAX || strncmp(f, "ovl-", 4) || strcmp(f + n - 5, ".btov"))
		return false;
	for (size_t i = 4; i < n - 5; i++)
		if (f[i] < '0' || f[i] > '9')
			return false;
	return true;
}

/* A machine state's: vm-NAME.btvm. */
static bool vmstate_name_ok(const char *f)
{
	size_t n = strlen(f);
	char name[SNAPDIR_FILE_MAX];
	if (n < 9 || n >= SNAPDIR_FILE_MAX || strncmp(f, "vm-", 3) || strcmp(f + n - 5, ".btvm"))
		return false;
	snprintf(name, sizeof(name), "%.*s", (int)(n - 8), f + 3);
	return snapdir_name_ok(name);
}

void snapdir_path(const struct snapdir *sd, const char *file, char *out, size_t outlen)
{
	if (!*file)
		snprintf(out, outlen, "%s", sd->image);
	else
		snprintf(out, outlen, "%s/%s", sd->dir, file);
}

int snapdir_find(const struct snapdir *sd, const char *name)
{
	for (unsigned i = 0; i < sd->nsnaps; i++)
		if (!strcmp(sd->snaps[i].name, name))
			return (int)i;
	return -1;
}

static int bad_index(const struct snapdir *sd, char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s/%s: damaged snapshot index (%s)", sd->dir, INDEX_NAME, what);
	return -EINVAL;
}

static bool copy_str(char *dst, size_t size, const char *src)
{
	if (!src || strlen(src) >= size)
		return false;
	memcpy(dst, src, strlen(src) + 1);
	return true;
}

int snapdir_load(const char *image, struct snapdir *sd, char *err, size_t errlen)
{
	char path[PATH_MAX + 32];
	memset(sd, 0, sizeof(*sd));
	if (!realpath(image, sd->image)) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", image, strerror(e));
		return -e;
	}
	snprintf(sd->dir, sizeof(sd->dir), "%.*s.btvm-snapshots", PATH_MAX - 20, sd->image);
	snprintf(path, sizeof(path), "%s/%s", sd->dir, INDEX_NAME);
	json_error_t jerr;
	json_t *root = json_load_file(path, 0, &jerr);
	if (!root) {
		if (access(path, F_OK) && errno == ENOENT)
			return 0;
		return bad_index(sd, err, errlen, jerr.text);
	}
	sd->exists = true;
	json_int_t format = 0, next = 0;
	const char *active = NULL;
	json_t *snaps = NULL;
	int ret = 0;
	if (json_unpack(root, "{s:I,s:I,s:s,s:o}", "format", &format, "next", &next, "active",
			&active, "snapshots", &snaps) ||
	    !json_is_array(snaps))
		ret = bad_index(sd, err, errlen, "fields");
	else if (format != INDEX_FORMAT)
		ret = bad_index(sd, err, errlen, "unknown format");
	else if (next < 0 || next > 99999999 || !copy_str(sd->active, sizeof(sd->active), active) ||
		 (*sd->active && !overlay_name_ok(sd->active)))
		ret = bad_index(sd, err, errlen, "active file");
	else if (json_array_size(snaps) > SNAPDIR_MAX_SNAPS)
		ret = bad_index(sd, err, errlen, "too many snapshots");
	sd->next = (unsigned)next;
	for (size_t i = 0; !ret && i < json_array_size(snaps); i++) {
		struct snapdir_snap *s = &sd->snaps[i];
		const char *name, *frozen, *vm;
		json_int_t date, vmsize, disks;
		if (json_unpack(json_array_get(snaps, i), "{s:s,s:I,s:s,s:s,s:I,s:I}", "name",
				&name, "date", &date, "frozen", &frozen, "vmstate", &vm, "vmsize",
				&vmsize, "disks", &disks) ||
		    !snapdir_name_ok(name) || !copy_str(s->name, sizeof(s->name), name) ||
		    !copy_str(s->frozen, sizeof(s->frozen), frozen) ||
		    (*s->frozen && !overlay_name_ok(s->frozen)) ||
		    !copy_str(s->vmstate, sizeof(s->vmstate), vm) ||
		    (*s->vmstate && !vmstate_name_ok(s->vmstate)) || vmsize < 0 || disks < 0 ||
		    disks > 64 || snapdir_find(sd, name) >= 0) {
			ret = bad_index(sd, err, errlen, "a snapshot's entry");
			break;
		}
		s->date = date;
		s->vmsize = (uint64_t)vmsize;
		s->disks = (unsigned)disks;
		sd->nsnaps++;
	}
	json_decref(root);
	return ret;
}

int snapdir_save(const struct snapdir *sd, char *err, size_t errlen)
{
	char path[PATH_MAX + 32];
	if (mkdir(sd->dir, 0700) && errno != EEXIST) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", sd->dir, strerror(e));
		return -e;
	}
	json_t *snaps = json_array();
	for (unsigned i = 0; snaps && i < sd->nsnaps; i++) {
		const struct snapdir_snap *s = &sd->snaps[i];
		json_array_append_new(snaps, json_pack("{s:s,s:I,s:s,s:s,s:I,s:I}", "name", s->name,
						       "date", (json_int_t)s->date, "frozen",
						       s->frozen, "vmstate", s->vmstate, "vmsize",
						       (json_int_t)s->vmsize, "disks",
						       (json_int_t)s->disks));
	}
	json_t *root = snaps ? json_pack("{s:i,s:I,s:s,s:o}", "format", INDEX_FORMAT, "next",
					 (json_int_t)sd->next, "active", sd->active, "snapshots",
					 snaps)
			     : NULL;
	char *text = root ? json_dumps(root, JSON_INDENT(2)) : NULL;
	json_decref(root);
	if (!text) {
		snprintf(err, errlen, "%s: out of memory", sd->dir);
		return -ENOMEM;
	}
	snprintf(path, sizeof(path), "%s/%s", sd->dir, INDEX_NAME);
	struct outfile o;
	int ret = outfile_open(&o, path, err, errlen);
	if (!ret) {
		fputs(text, o.f);
		fputc('\n', o.f);
		ret = outfile_commit(&o, true, err, errlen);
	}
	free(text);
	return ret;
}

int snapdir_new_overlay(struct snapdir *sd, const char *backing, uint64_t size, char *name,
			char *err, size_t errlen)
{
	char path[PATH_MAX + SNAPDIR_FILE_MAX];
	if (mkdir(sd->dir, 0700) && errno != EEXIST) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", sd->dir, strerror(e));
		return -e;
	}
	/* A number not taken yet: an earlier run may have left a file the
	 * index never named (a crash between the two). */
	for (unsigned tries = 0; tries < 1000; tries++) {
		snprintf(name, SNAPDIR_FILE_MAX, "ovl-%04u.btov", sd->next++);
		snapdir_path(sd, name, path, sizeof(path));
		if (access(path, F_OK))
			return ovl_create(path, backing, size, err, errlen);
	}
	snprintf(err, errlen, "%s: no free overlay name", sd->dir);
	return -EEXIST;
}

/* Marks the files of the chain from file (a name in the directory) down;
 * false when a header cannot be read. */
static bool mark_chain(const struct snapdir *sd, const char *file, char (*keep)[SNAPDIR_FILE_MAX],
		       unsigned *nkeep, unsigned max)
{
	char path[PATH_MAX + SNAPDIR_FILE_MAX], next[PATH_MAX], err[256];
	for (unsigned depth = 0; *file && depth < OVL_MAX_CHAIN; depth++) {
		if (*nkeep == max)
			return false;
		snprintf(keep[(*nkeep)++], SNAPDIR_FILE_MAX, "%s", file);
		snapdir_path(sd, file, path, sizeof(path));
		if (ovl_backing_of(path, next, sizeof(next), err, sizeof(err)))
			return false;
		/* Only files of this directory are ours to keep or delete. */
		size_t dl = strlen(sd->dir);
		if (strncmp(next, sd->dir, dl) || next[dl] != '/')
			return true;
		file = next + dl + 1;
		if (!overlay_name_ok(file))
			return true;
	}
	return true;
}

void snapdir_collect(const struct snapdir *sd)
{
	enum { MAX_KEEP = 4096 };
	char (*keep)[SNAPDIR_FILE_MAX] = malloc(MAX_KEEP * SNAPDIR_FILE_MAX);
	unsigned nkeep = 0;
	bool sure = keep != NULL;
	if (sure)
		sure = mark_chain(sd, sd->active, keep, &nkeep, MAX_KEEP);
	for (unsigned i = 0; sure && i < sd->nsnaps; i++)
		sure = mark_chain(sd, sd->snaps[i].frozen, keep, &nkeep, MAX_KEEP);
	DIR *dir = sure ? opendir(sd->dir) : NULL;
	struct dirent *e;
	while (dir && (e = readdir(dir))) {
		bool ours = overlay_name_ok(e->d_name) || vmstate_name_ok(e->d_name);
		bool needed = false;
		for (unsigned i = 0; ours && !needed && i < nkeep; i++)
			needed = !strcmp(keep[i], e->d_name);
		for (unsigned i = 0; ours && !needed && i < sd->nsnaps; i++)
			needed = !strcmp(sd->snaps[i].vmstate, e->d_name);
		if (ours && !needed)
			unlinkat(dirfd(dir), e->d_name, 0);
	}
	if (dir)
		closedir(dir);
	free(keep);
}

int snapdir_remove(const struct snapdir *sd, char *err, size_t errlen)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/%s", sd->dir, INDEX_NAME);
	if (unlink(path) && errno != ENOENT) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	/* Files someone else put there keep the directory. */
	if (rmdir(sd->dir) && errno != ENOENT && errno != ENOTEMPTY && errno != EEXIST) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", sd->dir, strerror(e));
		return -e;
	}
	return 0;
}
