/* evlat: the guest's side of bench/pointer/run.py, a static i386 program
 * run inside the Linux guest. It finds the tablet's evdev device (the
 * input device whose name has "Tablet": btvm's and QEMU's virtio tablets
 * alike), then prints one line a report, as soon as its SYN_REPORT is
 * read, with the position it leaves:
 *
 *	EVLAT-READY /dev/input/eventN
 *	EVLAT X Y          (one a report, ABS_X and ABS_Y, 0..32767)
 *
 * to standard output, unbuffered (the serial console: the host stamps
 * each line as it arrives). It runs until killed or until COUNT reports:
 *
 *	evlat [COUNT]
 */
#include <dirent.h>
#include <fcntl.h>
#include <linux/input.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The tablet's event device, in path (size bytes); 0, or -1 if none. */
static int find_tablet(char *path, size_t size)
{
	DIR *d = opendir("/sys/class/input");
	if (!d)
		return -1;
	struct dirent *e;
	int found = -1;
	while (found < 0 && (e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, "event", 5) != 0)
			continue;
		char name_path[300], name[256] = "";
		snprintf(name_path, sizeof(name_path), "/sys/class/input/%s/device/name", e->d_name);
		FILE *f = fopen(name_path, "r");
		if (!f)
			continue;
		if (fgets(name, sizeof(name), f) && strstr(name, "Tablet")) {
			snprintf(path, size, "/dev/input/%s", e->d_name);
			found = 0;
		}
		fclose(f);
	}
	closedir(d);
	return found;
}

/* All of len bytes to fd 1. */
static int put(const char *s, size_t len)
{
	while (len) {
		ssize_t n = write(1, s, len);
		if (n <= 0)
			return -1;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	long count = argc > 1 ? strtol(argv[1], NULL, 10) : -1;
	char path[300];
	if (find_tablet(path, sizeof(path)) < 0) {
		fprintf(stderr, "evlat: no tablet among /sys/class/input/event*\n");
		return 1;
	}
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	char line[64];
	int n = snprintf(line, sizeof(line), "EVLAT-READY %s\n", path);
	if (put(line, (size_t)n) < 0)
		return 1;
	int x = -1, y = -1;
	struct input_event ev[64];
	while (count != 0) {
		ssize_t got = read(fd, ev, sizeof(ev));
		if (got < (ssize_t)sizeof(ev[0])) {
			perror("evlat: read");
			return 1;
		}
		for (size_t i = 0; i < (size_t)got / sizeof(ev[0]) && count != 0; i++) {
			if (ev[i].type == EV_ABS && ev[i].code == ABS_X)
				x = ev[i].value;
			else if (ev[i].type == EV_ABS && ev[i].code == ABS_Y)
				y = ev[i].value;
			else if (ev[i].type == EV_SYN && ev[i].code == SYN_REPORT) {
				n = snprintf(line, sizeof(line), "EVLAT %d %d\n", x, y);
				if (put(line, (size_t)n) < 0)
					return 1;
				if (count > 0)
					count--;
			}
		}
	}
	return 0;
}
