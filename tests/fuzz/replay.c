/* The replay driver: a plain program (no libFuzzer, any compiler) that runs
 * one harness, linked in from the same source the fuzzer builds, over every
 * file named on the command line and every file in every directory named
 * there (in name order, hidden files skipped). CTest runs it over
 * tests/fuzz/regress/<target>/ and the seed corpus, so each crash the
 * fuzzer ever found stays a test in builds without clang. A crash is the
 * harness's abort() or a sanitizer report; success prints the count. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Inputs above this are not fuzzer inputs (libFuzzer's -max_len is far
 * below); refusing them keeps a wrong path from reading a disk image. */
#define MAX_INPUT (64u << 20)

/* Reads all of path into an exact-size heap block (a read past the
 * input's end is caught) and runs the harness on it. */
static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fileno(f), &st) < 0 || st.st_size < 0 || (uint64_t)st.st_size > MAX_INPUT) {
		fprintf(stderr, "replay: %s: not an input (unreadable, or over %u bytes)\n", path,
			MAX_INPUT);
		fclose(f);
		return -1;
	}
	size_t size = (size_t)st.st_size;
	uint8_t *data = malloc(size ? size : 1);
	if (!data) {
		fprintf(stderr, "replay: out of memory\n");
		exit(2);
	}
	size_t got = fread(data, 1, size, f);
	fclose(f);
	if (got != size) {
		fprintf(stderr, "replay: %s: short read\n", path);
		free(data);
		return -1;
	}
	LLVMFuzzerTestOneInput(data, size);
	free(data);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int visible(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Runs every regular file in dir; returns how many, or -1. */
static long run_dir(const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, visible, by_name);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	long count = 0;
	for (int i = 0; i < n; i++) {
		size_t len = strlen(dir) + strlen(names[i]->d_name) + 2;
		char *path = malloc(len);
		if (!path) {
			fprintf(stderr, "replay: out of memory\n");
			exit(2);
		}
		snprintf(path, len, "%s/%s", dir, names[i]->d_name);
		struct stat st;
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (run_file(path) < 0)
				count = -1;
			else if (count >= 0)
				count++;
		}
		free(path);
		free(names[i]);
	}
	free(names);
	return count;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE-OR-DIRECTORY...\n", argv[0]);
		return 2;
	}
	long total = 0;
	int failed = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		long n;
		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			failed = 1;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			n = run_dir(argv[i]);
		} else {
			n = run_file(argv[i]) < 0 ? -1 : 1;
		}
		if (n < 0)
			failed = 1;
		else
			total += n;
	}
	printf("replay: %ld inputs ran without a crash\n", total);
	return failed;
}
