/* A disk image's named snapshots: the directory IMAGE.btvm-snapshots
 * beside the (resolved) image, holding the overlays of its chain
 * (ovl-N.btov, docs/OVERLAY.md), the machine states of the snapshots
 * (vm-NAME.btvm, in the first frozen disk's directory) and index.json,
 * which names the chain's top (the file the disk is written through
 * now, "active") and, per snapshot, the file frozen at it. See
 * docs/OVERLAY.md, "Snapshots beside an image".
 *
 * Every file named in the index is checked to be a plain name of the
 * directory's own kind, so that a damaged or planted index cannot make
 * btvm read, write or delete anything elsewhere. */
#ifndef BTVM_HOST_DISK_SNAPDIR_H
#define BTVM_HOST_DISK_SNAPDIR_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNAPDIR_MAX_SNAPS	64u
#define SNAPDIR_NAME_MAX	64u
#define SNAPDIR_FILE_MAX	96u

struct snapdir_snap {
	char name[SNAPDIR_NAME_MAX + 1];
	int64_t date;				/* seconds since the epoch */
	char frozen[SNAPDIR_FILE_MAX];		/* "" is the raw image itself */
	char vmstate[SNAPDIR_FILE_MAX];		/* "" in the other disks' indexes */
	uint64_t vmsize;
	unsigned disks;				/* how many disks it froze */
};

struct snapdir {
	char image[PATH_MAX];	/* the raw image, resolved */
	char dir[PATH_MAX];
	bool exists;		/* index.json was there */
	unsigned next;		/* the next overlay's number */
	char active[SNAPDIR_FILE_MAX];	/* the chain's top; "" is the raw image */
	unsigned nsnaps;
	struct snapdir_snap snaps[SNAPDIR_MAX_SNAPS];
};

/* Whether name may name a snapshot: 1-64 of [A-Za-z0-9._-], not
 * starting with a dot. */
bool snapdir_name_ok(const char *name);
/* Reads image's index (none: an empty one, exists false). 0, or a
 * negative errno with one line in err (a damaged index). */
int snapdir_load(const char *image, struct snapdir *sd, char *err, size_t errlen);
/* Writes the index (a private file renamed over it, synced), making the
 * directory first. */
int snapdir_save(const struct snapdir *sd, char *err, size_t errlen);
/* The path of file in the directory; "" is the image itself. */
void snapdir_path(const struct snapdir *sd, const char *file, char *out, size_t outlen);
/* The snapshot's index, or -1. */
int snapdir_find(const struct snapdir *sd, const char *name);
/* Creates a new overlay over backing (a path) of size bytes: its file
 * name in name (SNAPDIR_FILE_MAX). 0 or a negative errno with err. */
int snapdir_new_overlay(struct snapdir *sd, const char *backing, uint64_t size, char *name,
			char *err, size_t errlen);
/* Removes the overlays and machine states no snapshot and no active
 * chain need: a file is kept while anything reaches it. Keeps everything
 * when a header cannot be read (nothing is deleted on a doubt). */
void snapdir_collect(const struct snapdir *sd);
/* Removes the index and the directory (after a commit). */
int snapdir_remove(const struct snapdir *sd, char *err, size_t errlen);

#endif
