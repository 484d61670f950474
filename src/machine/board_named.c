/* Named snapshots: the machine's state and its disks' frozen files
 * together. See board_named.h and docs/OVERLAY.md. */
#include "machine/board_named.h"
#include "machine/board_internal.h"
#include "machine/board_snapshot.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "host/disk_image.h"
#include "host/disk_snapdir.h"

#define MAX_IMAGES (BOARD_MAX_DISKS + BOARD_IDE_SLOTS)

/* The machine's freezable disks (board_rw_disk's order: virtio, then
 * IDE) and each one's index. */
struct frozen_set {
	unsigned n;
	struct disk_image *d[MAX_IMAGES];
	struct snapdir sd[MAX_IMAGES];
};

static int load_set(struct board *board, struct frozen_set *fs, char *err, size_t errlen)
{
	fs->n = 0;
	for (struct disk_image *d; fs->n < MAX_IMAGES && (d = board_rw_disk(board, fs->n));) {
		int ret = snapdir_load(d->path, &fs->sd[fs->n], err, errlen);
		if (ret)
			return ret;
		fs->d[fs->n++] = d;
	}
	if (!fs->n) {
		snprintf(err, errlen, "named snapshots live beside a read-write disk image, and this "
				      "machine has none (savevm FILE saves the machine alone)");
		return -ENOENT;
	}
	return 0;
}

static int bad_name(const char *name, char *err, size_t errlen)
{
	snprintf(err, errlen, "'%s': a snapshot's name is 1 to %u letters, digits, '.', '_' or "
			      "'-', not starting with '.'", name, SNAPDIR_NAME_MAX);
	return -EINVAL;
}

int board_named_save(struct board *board, const char *name, char *err, size_t errlen)
{
	char path[PATH_MAX + SNAPDIR_FILE_MAX], vm[SNAPDIR_FILE_MAX];
	char frozen[MAX_IMAGES][SNAPDIR_FILE_MAX];
	struct frozen_set *fs = malloc(sizeof(*fs));
	int ret = fs ? 0 : -ENOMEM;

	if (!fs)
		snprintf(err, errlen, "out of memory");
	if (!ret && !snapdir_name_ok(name))
		ret = bad_name(name, err, errlen);
	if (!ret)
		ret = load_set(board, fs, err, errlen);
	for (unsigned i = 0; !ret && i < fs->n; i++)
		if (snapdir_find(&fs->sd[i], name) >= 0 || fs->sd[i].nsnaps == SNAPDIR_MAX_SNAPS) {
			snprintf(err, errlen, "%s: %s", fs->d[i]->path,
				 fs->sd[i].nsnaps == SNAPDIR_MAX_SNAPS
					 ? "has as many snapshots as it may (delvm some)"
					 : "has a snapshot of that name already (delvm it first)");
			ret = -EEXIST;
		}
	if (ret) {
		free(fs);
		return ret;
	}
	/* Nothing in flight: the disks as the memory saved below knows them. */
	board_disks_quiesce(board);
	/* Each disk's index names its new top at once, so that a crash
	 * later in the save still opens the disk where the guest writes. */
	for (unsigned i = 0; !ret && i < fs->n; i++) {
		ret = disk_image_freeze(fs->d[i], &fs->sd[i], frozen[i], err, errlen);
		if (!ret)
			ret = snapdir_save(&fs->sd[i], err, errlen);
	}
	snprintf(vm, sizeof(vm), "vm-%s.btvm", name);
	snapdir_path(&fs->sd[0], vm, path, sizeof(path));
	if (!ret)
		ret = board_snapshot_save(board, path, err, errlen);
	struct stat st;
	uint64_t vmsize = !ret && !stat(path, &st) ? (uint64_t)st.st_size : 0;
	int64_t now = (int64_t)time(NULL);
	for (unsigned i = 0; !ret && i < fs->n; i++) {
		struct snapdir_snap *s = &fs->sd[i].snaps[fs->sd[i].nsnaps++];
		memset(s, 0, sizeof(*s));
		snprintf(s->name, sizeof(s->name), "%s", name);
		snprintf(s->frozen, sizeof(s->frozen), "%s", frozen[i]);
		if (i == 0)
			snprintf(s->vmstate, sizeof(s->vmstate), "%s", vm);
		s->date = now;
		s->vmsize = vmsize;
		s->disks = fs->n;
		ret = snapdir_save(&fs->sd[i], err, errlen);
	}
	free(fs);
	return ret;
}

int board_named_list(struct board *board, struct board_named_info *out, unsigned max,
		     unsigned *n, char *err, size_t errlen)
{
	struct frozen_set *fs = malloc(sizeof(*fs));
	int ret = fs ? load_set(board, fs, err, errlen) : -ENOMEM;
	*n = 0;
	for (unsigned i = 0; !ret && i < fs->sd[0].nsnaps && *n < max; i++) {
		const struct snapdir_snap *s = &fs->sd[0].snaps[i];
		struct board_named_info *o = &out[(*n)++];
		snprintf(o->name, sizeof(o->name), "%s", s->name);
		o->date = s->date;
		o->vmsize = s->vmsize;
		o->disks = s->disks;
	}
	free(fs);
	return ret;
}

int board_named_delete(struct board *board, const char *name, char *err, size_t errlen)
{
	struct frozen_set *fs = malloc(sizeof(*fs));
	int ret = fs ? load_set(board, fs, err, errlen) : -ENOMEM;
	bool found = false;
	for (unsigned i = 0; !ret && i < fs->n; i++) {
		int k = snapdir_find(&fs->sd[i], name);
		if (k < 0)
			continue;
		found = true;
		struct snapdir *sd = &fs->sd[i];
		memmove(&sd->snaps[k], &sd->snaps[k + 1],
			(sd->nsnaps - (unsigned)k - 1) * sizeof(sd->snaps[0]));
		sd->nsnaps--;
		/* The index first: a file is deleted only once nothing names it. */
		ret = snapdir_save(sd, err, errlen);
		if (!ret)
			snapdir_collect(sd);
	}
	if (!ret && !found) {
		snprintf(err, errlen, "no snapshot '%s'", name);
		ret = -ENOENT;
	}
	free(fs);
	return ret;
}

/* Every disk's record of name, checked before any disk changes. */
static int find_all(struct frozen_set *fs, const char *name, int *k, char *vmpath,
		    size_t vmlen, char *err, size_t errlen)
{
	*vmpath = '\0';
	for (unsigned i = 0; i < fs->n; i++) {
		k[i] = snapdir_find(&fs->sd[i], name);
		if (k[i] < 0) {
			snprintf(err, errlen, "%s has no snapshot '%s'", fs->d[i]->path, name);
			return -ENOENT;
		}
		if (*fs->sd[i].snaps[k[i]].vmstate && !*vmpath)
			snapdir_path(&fs->sd[i], fs->sd[i].snaps[k[i]].vmstate, vmpath, vmlen);
	}
	if (!*vmpath) {
		snprintf(err, errlen, "snapshot '%s' has no machine state", name);
		return -ENOENT;
	}
	return 0;
}

static int switch_all(struct frozen_set *fs, const int *k, char *err, size_t errlen)
{
	for (unsigned i = 0; i < fs->n; i++) {
		struct snapdir *sd = &fs->sd[i];
		int ret = disk_image_switch(fs->d[i], sd, sd->snaps[k[i]].frozen, err, errlen);
		if (!ret)
			ret = snapdir_save(sd, err, errlen);
		if (ret)
			return ret;
		/* The writes since (the old top) no snapshot needs. */
		snapdir_collect(sd);
	}
	return 0;
}

int board_named_switch_disks(struct board *board, const char *name, char *err, size_t errlen)
{
	char vmpath[PATH_MAX + SNAPDIR_FILE_MAX];
	int k[MAX_IMAGES];
	struct frozen_set *fs = malloc(sizeof(*fs));
	int ret = fs ? load_set(board, fs, err, errlen) : -ENOMEM;
	if (!ret)
		ret = find_all(fs, name, k, vmpath, sizeof(vmpath), err, errlen);
	if (!ret)
		ret = switch_all(fs, k, err, errlen);
	free(fs);
	return ret;
}

int board_named_find(const struct board_config *cfg, const char *name, char *path,
		     size_t pathlen, char *err, size_t errlen)
{
	const char *image = NULL;
	for (unsigned i = 0; !image && !cfg->snapshot && i < cfg->ndisks; i++)
		if (!cfg->disks[i].readonly)
			image = cfg->disks[i].path;
	for (unsigned s = 0; !image && !cfg->snapshot && s < BOARD_IDE_SLOTS; s++)
		if (cfg->ide[s].kind == BOARD_IDE_DISK && !cfg->ide[s].readonly)
			image = cfg->ide[s].path;
	if (!snapdir_name_ok(name))
		return bad_name(name, err, errlen);
	if (!image) {
		snprintf(err, errlen, "--loadvm: named snapshots live beside a read-write --disk "
				      "(none given, or --snapshot)");
		return -ENOENT;
	}
	struct snapdir *sd = malloc(sizeof(*sd));
	int ret = sd ? snapdir_load(image, sd, err, errlen) : -ENOMEM;
	int k = ret ? -1 : snapdir_find(sd, name);
	if (!ret && (k < 0 || !*sd->snaps[k].vmstate)) {
		snprintf(err, errlen, "%s has no snapshot '%s'", image, name);
		ret = -ENOENT;
	}
	if (!ret)
		snapdir_path(sd, sd->snaps[k].vmstate, path, pathlen);
	free(sd);
	return ret;
}

int board_named_load(struct board *board, const char *name, char *err, size_t errlen)
{
	char vmpath[PATH_MAX + SNAPDIR_FILE_MAX];
	int k[MAX_IMAGES];
	struct frozen_set *fs = malloc(sizeof(*fs));
	struct board_snapshot_config *sc = malloc(sizeof(*sc));
	int ret = fs && sc ? load_set(board, fs, err, errlen) : -ENOMEM;
	if (!ret)
		ret = find_all(fs, name, k, vmpath, sizeof(vmpath), err, errlen);
	/* The state's file read and its configuration checked before
	 * anything changes: a bad file leaves the machine as it was. */
	if (!ret)
		ret = board_snapshot_read_config(vmpath, sc, err, errlen);
	free(sc);
	if (ret) {
		free(fs);
		return ret;
	}
	board_disks_quiesce(board);
	ret = switch_all(fs, k, err, errlen);
	free(fs);
	if (!ret)
		ret = board_snapshot_restore(board, vmpath, err, errlen);
	if (ret) {
		fprintf(stderr, "btvm: loadvm %s: %s; the machine stops\n", name, err);
		board->exit_requested = true;
		board->exit_status = 1;
		return ret;
	}
	/* What a reset drops: translations and shadow tables made from the
	 * memory the state replaced. */
	for (unsigned i = 0; i < board->nvcpus; i++) {
		struct cpu *cpu = &board->vcpus[i].cpu;
		cpu_flush_translations(cpu);
		shadow_flush(cpu->sh);
		shadow_forget_adaptive(cpu->sh);
		cpu_request_attention(cpu);
	}
	board->timer_deadline = UINT64_MAX;
	board__platform_poll(board__bsp(board));
	return 0;
}
