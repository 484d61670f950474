/* Named snapshots in the monitor. See monitor_snap.h. */
#include "frontend/monitor_snap.h"

#include <string.h>
#include <time.h>

#include "machine/board_named.h"

#define LIST_MAX 64u

/* savevm's argument is a snapshot's name unless it is a path: old
 * scripts give savevm FILE with a directory in it. */
static bool is_name(const char *arg)
{
	return !strchr(arg, '/');
}

static void list(struct board *board, FILE *out, int *status)
{
	struct board_named_info info[LIST_MAX];
	unsigned n;
	char err[512];
	if (board_named_list(board, info, LIST_MAX, &n, err, sizeof(err))) {
		fprintf(out, "error: %s\n", err);
		*status = -1;
		return;
	}
	fprintf(out, "%-20s %-20s %12s %5s\n", "NAME", "DATE", "VM SIZE", "DISKS");
	for (unsigned i = 0; i < n; i++) {
		char date[32];
		time_t t = (time_t)info[i].date;
		struct tm tm;
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", gmtime_r(&t, &tm));
		fprintf(out, "%-20s %-20s %12llu %5u\n", info[i].name, date,
			(unsigned long long)info[i].vmsize, info[i].disks);
	}
}

bool monitor_snap_human(struct board *board, int argc, char **argv, FILE *out, int *status)
{
	const char *cmd = argv[0];
	char err[512];
	int ret;
	*status = 0;
	if (argc == 2 && !strcmp(cmd, "info") && !strcmp(argv[1], "snapshots")) {
		list(board, out, status);
		return true;
	}
	if (argc == 2 && !strcmp(cmd, "savevm") && is_name(argv[1]))
		ret = board_named_save(board, argv[1], err, sizeof(err));
	else if (!strcmp(cmd, "loadvm") || !strcmp(cmd, "delvm"))
		ret = argc != 2 ? (snprintf(err, sizeof(err), "usage: %s NAME", cmd), -1)
		      : cmd[0] == 'l' ? board_named_load(board, argv[1], err, sizeof(err))
				      : board_named_delete(board, argv[1], err, sizeof(err));
	else
		return false;
	if (ret) {
		fprintf(out, "error: %s\n", err);
		*status = -1;
	}
	return true;
}

static json_t *answer(int ret, const char *err)
{
	if (ret)
		return json_pack("{s:{s:s,s:s}}", "error", "class", "GenericError", "desc", err);
	return json_pack("{s:{}}", "return");
}

json_t *monitor_snap_json(struct board *board, const char *cmd, json_t *args)
{
	const char *name = NULL;
	char err[512];
	bool has_name = args && !json_unpack(args, "{s:s}", "name", &name);
	if (!strcmp(cmd, "savevm") && has_name)
		return answer(board_named_save(board, name, err, sizeof(err)), err);
	if (!strcmp(cmd, "loadvm") || !strcmp(cmd, "delvm")) {
		if (!has_name)
			return answer(-1, "needs \"name\"");
		int ret = cmd[0] == 'l' ? board_named_load(board, name, err, sizeof(err))
					: board_named_delete(board, name, err, sizeof(err));
		return answer(ret, err);
	}
	if (strcmp(cmd, "query-snapshots"))
		return NULL;
	struct board_named_info info[LIST_MAX];
	unsigned n;
	if (board_named_list(board, info, LIST_MAX, &n, err, sizeof(err)))
		return answer(-1, err);
	json_t *arr = json_array();
	for (unsigned i = 0; arr && i < n; i++)
		json_array_append_new(arr, json_pack("{s:s,s:I,s:I,s:i}", "name", info[i].name,
						     "date-sec", (json_int_t)info[i].date,
						     "vm-state-size", (json_int_t)info[i].vmsize,
						     "disks", (int)info[i].disks));
	return arr ? json_pack("{s:o}", "return", arr) : answer(-1, "out of memory");
}

void monitor_snap_help(FILE *out)
{
	fputs("savevm NAME               a named snapshot: the machine and its read-write\n"
	      "                          disks, frozen (later writes go to an overlay)\n"
	      "loadvm NAME               back to it, memory and disks together\n"
	      "delvm NAME                forget it (files no other snapshot needs go)\n"
	      "info snapshots            the named snapshots: name, date, size, disks\n",
	      out);
}
