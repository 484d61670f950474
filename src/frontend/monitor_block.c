/* The monitor's block-device commands: "info block" and query-block list
 * the IDE drives, "change" and blockdev-change-medium put an ISO image
 * in the CD-ROM drive, "eject" takes it out. A drive is named as QEMU
 * names it (ide1-cd0: channel 1, unit 0; ide0-hd0 a disk), or "cdrom"
 * for the CD-ROM drive whatever its slot. See monitor_block.h. */
#include "frontend/monitor_block.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "machine/control.h"

/* QEMU's drive name for slot: ide<channel>-<hd|cd><unit>. */
static void drive_name(char *buf, size_t len, unsigned slot, enum board_ide_kind kind)
{
	snprintf(buf, len, "ide%u-%s%u", slot / 2, kind == BOARD_IDE_CDROM ? "cd" : "hd", slot % 2);
}

/* The slot a name gives: "cdrom" is the first CD-ROM drive; QEMU's name
 * must match the drive's kind. -1 with a one-line reason in err. */
static int find_drive(struct board *board, const char *name, char *err, size_t err_len)
{
	struct board_ide_info info;
	for (unsigned slot = 0; slot < BOARD_IDE_SLOTS; slot++) {
		char mine[16];
		board_ide_info(board, slot, &info);
		if (info.kind == BOARD_IDE_NONE)
			continue;
		drive_name(mine, sizeof(mine), slot, info.kind);
		if (!strcmp(name, mine) || (!strcmp(name, "cdrom") && info.kind == BOARD_IDE_CDROM))
			return (int)slot;
	}
	if (!strcmp(name, "cdrom"))
		snprintf(err, err_len, "this machine has no CD-ROM drive (btvm run --cdrom FILE "
				       "gives one)");
	else
		snprintf(err, err_len, "no drive '%.40s' (info block lists them)", name);
	return -1;
}

/* change and eject: 0, or -1 with the reason in err. path NULL: eject. */
static int media(struct board *board, const char *device, const char *path, bool force,
		 char *err, size_t err_len)
{
	int slot = find_drive(board, device, err, err_len);
	if (slot < 0)
		return -1;
	int ret = path ? board_cdrom_change(board, (unsigned)slot, path, force, err, err_len)
		       : board_cdrom_eject(board, (unsigned)slot, force, err, err_len);
	if (ret == -ENODEV)
		snprintf(err, err_len, "'%.40s' is a disk, not a CD-ROM drive", device);
	return ret ? -1 : 0;
}

static void info_block(struct board *board, FILE *out)
{
	struct board_ide_info info;
	unsigned n = 0;
	for (unsigned slot = 0; slot < BOARD_IDE_SLOTS; slot++) {
		char name[16];
		board_ide_info(board, slot, &info);
		if (info.kind == BOARD_IDE_NONE)
			continue;
		n++;
		drive_name(name, sizeof(name), slot, info.kind);
		fprintf(out, "%s (%s, IDE slot %u): ", name,
			info.kind == BOARD_IDE_CDROM ? "CD-ROM" : "disk", slot);
		if (info.path)
			fprintf(out, "%s%s", info.path, info.readonly ? " (read-only)" : "");
		else
			fputs("no medium", out);
		if (info.kind == BOARD_IDE_CDROM)
			fprintf(out, ", tray %s%s", info.tray_open ? "open" : "closed",
				info.locked ? ", locked by the guest" : "");
		fputc('\n', out);
	}
	if (!n)
		fputs("no IDE drives (virtio disks are in info stats)\n", out);
}

bool monitor_block_human(struct board *board, int argc, char **argv, FILE *out, int *status)
{
	char err[512];
	*status = 0;
	if (!strcmp(argv[0], "info") && argc == 2 && !strcmp(argv[1], "block")) {
		info_block(board, out);
		return true;
	}
	bool change = !strcmp(argv[0], "change");
	if (!change && strcmp(argv[0], "eject"))
		return false;
	/* QEMU's eject takes -f; change does here too (the tray lock). */
	bool force = argc > 1 && !strcmp(argv[1], "-f");
	int rest = argc - 1 - force;
	if (rest != (change ? 2 : 1)) {
		fputs(change ? "error: usage: change [-f] cdrom FILE\n" : "error: usage: eject [-f] cdrom\n",
		      out);
		*status = -1;
		return true;
	}
	const char *device = argv[1 + force];
	if (media(board, device, change ? argv[2 + force] : NULL, force, err, sizeof(err))) {
		fprintf(out, "error: %s\n", err);
		*status = -1;
	}
	return true;
}

static json_t *json_fail(const char *desc)
{
	return json_pack("{s:{s:s,s:s}}", "error", "class", "GenericError", "desc", desc);
}

static json_t *query_block(struct board *board)
{
	json_t *list = json_array();
	struct board_ide_info info;
	for (unsigned slot = 0; list && slot < BOARD_IDE_SLOTS; slot++) {
		char name[16];
		board_ide_info(board, slot, &info);
		if (info.kind == BOARD_IDE_NONE)
			continue;
		drive_name(name, sizeof(name), slot, info.kind);
		bool cd = info.kind == BOARD_IDE_CDROM;
		json_t *d = json_pack("{s:s,s:s,s:I,s:b,s:b}", "device", name, "type",
				      cd ? "cdrom" : "disk", "slot", (json_int_t)slot, "removable", cd,
				      "locked", info.locked);
		if (d && cd)
			json_object_set_new(d, "tray_open", json_boolean(info.tray_open));
		if (d && info.path)
			json_object_set_new(d, "inserted", json_pack("{s:s,s:b}", "file", info.path,
								     "ro", info.readonly));
		json_array_append_new(list, d);
	}
	return json_pack("{s:o}", "return", list);
}

json_t *monitor_block_json(struct board *board, const char *cmd, json_t *args)
{
	const char *device = NULL, *id = NULL, *file = NULL, *format = NULL;
	int force = 0;
	char err[512];
	bool change = !strcmp(cmd, "blockdev-change-medium");

	if (!strcmp(cmd, "query-block"))
		return query_block(board);
	if (!change && strcmp(cmd, "eject"))
		return NULL;
	json_t *empty = json_object();
	if (json_unpack(args ? args : empty, "{s?s,s?s,s?s,s?b,s?s}", "device", &device, "id", &id,
			"filename", &file, "force", &force, "format", &format) ||
	    (!device && !id) || (change && !file)) {
		json_decref(empty);
		return json_fail(change ? "blockdev-change-medium needs \"device\" (or \"id\") and "
					  "\"filename\", and takes \"force\""
					: "eject needs \"device\" (or \"id\"), and takes \"force\"");
	}
	json_decref(empty);
	if (format && strcmp(format, "raw"))
		return json_fail("only raw images (\"format\": \"raw\"): an ISO image is one");
	if (media(board, device ? device : id, change ? file : NULL, force, err, sizeof(err)))
		return json_fail(err);
	return json_pack("{s:{}}", "return");
}

void monitor_block_help(FILE *out)
{
	fputs("info block                the IDE drives, their images, the CD-ROM's tray\n"
	      "change [-f] cdrom FILE    an ISO image into the CD-ROM drive (-f: even if the\n"
	      "                          guest locked the tray)\n"
	      "eject [-f] cdrom          the CD-ROM's disc out, the tray open\n",
	      out);
}
