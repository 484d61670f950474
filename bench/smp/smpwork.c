/* smpwork: the parallel workloads of bench/smp/run.py (issue 45). One
 * static i386 program that run.py puts into the test initramfs and runs
 * inside Debian's i386 kernel with 1, 2 and N vCPUs, under btvm and under
 * QEMU's MTTCG; the same work at every vCPU count, so the times compare
 * (speed-up = the time with one vCPU over the time with k).
 *
 *   compute   P processes, each hashing a 64 KiB buffer of its own over
 *             and over (integer ALU, loads and stores in L1): no system
 *             calls while it runs, the ideal case for scaling.
 *   forkexec  P processes, each COUNT times: fork, execve this program
 *             again (`smpwork noop`), waitpid: the kernel's work (page
 *             tables made and torn down, the ELF loaded, the scheduler,
 *             TLB shootdowns between the CPUs).
 *   build     a build's shape, `make -jP` over JOBS files: JOBS source
 *             files are written to a fresh directory first (not timed),
 *             then a job server keeps P `smpwork cc SRC OBJ` processes
 *             running (each execs, reads its source, "compiles" it: a
 *             tokenizer and a few hashing passes over the tokens, and
 *             writes an object), then the parent "links": reads every
 *             object and hashes them in order. The Debian image has no
 *             compiler (scripts/make-debian-image.sh installs none), so
 *             this stands in for a parallel build of a small C project.
 *
 * Each prints one line,
 *
 *	SMPWORK <name> <procs> <seconds> s 0x<checksum>
 *
 * with the time by CLOCK_MONOTONIC and a checksum that depends only on
 * what was computed (never on pids, times or the order children finish),
 * so it is the same under every VMM and vCPU count; then
 * `SMPWORK-END <seconds>` (all of them, for the runner's clock check).
 *
 *	smpwork [--quick] PROCS [NAME...]   run all or the named workloads
 *	smpwork --list                      print the names
 *
 * --quick divides the work by 10. Exit status: 0 when every workload ran
 * and checked out, 1 otherwise, 2 on bad usage. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_PROCS 64
#define COMPUTE_WORDS (64 * 1024 / 4)
#define COMPUTE_PASSES 4800        /* per process; about 0.4 s natively */
#define FORKEXEC_COUNT 400         /* per process */
#define BUILD_JOBS 48
#define SOURCE_BYTES (48 * 1024)
#define OBJECT_WORDS 2048
#define CC_PASSES 160

static const char *self_path;
static unsigned divisor = 1;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint32_t mix(uint32_t h, uint32_t v)
{
	h ^= v;
	h *= 0x01000193u;
	return h ^ (h >> 15);
}

/* ---------------------------------------------------------------- compute */

static uint32_t compute_one(unsigned index, unsigned passes)
{
	static uint32_t buf[COMPUTE_WORDS];
	uint32_t x = 0x9e3779b9u * (index + 1), h = 0x811c9dc5u;
	for (unsigned i = 0; i < COMPUTE_WORDS; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = x;
	}
	for (unsigned p = 0; p < passes; p++) {
		for (unsigned i = 0; i < COMPUTE_WORDS; i++) {
			uint32_t v = buf[i] + h;
			h = mix(h, v);
			buf[i] = v ^ (h >> 7);
		}
	}
	return h;
}

/* Runs body(i) in P children; each sends its 32-bit result through a pipe.
 * Returns the sum of the results (order independent), or sets *ok false. */
static uint32_t in_children(unsigned procs, uint32_t (*body)(unsigned), bool *ok)
{
	int fds[2];
	pid_t pids[MAX_PROCS];
	uint32_t sum = 0;
	if (pipe(fds) != 0) {
		perror("smpwork: pipe");
		*ok = false;
		return 0;
	}
	for (unsigned i = 0; i < procs; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("smpwork: fork");
			*ok = false;
			procs = i;
			break;
		}
		if (pids[i] == 0) {
			uint32_t r = body(i);
			close(fds[0]);
			_exit(write(fds[1], &r, sizeof r) == (ssize_t)sizeof r ? 0 : 1);
		}
	}
	close(fds[1]);
	for (unsigned i = 0; i < procs; i++) {
		uint32_t r;
		if (read(fds[0], &r, sizeof r) != (ssize_t)sizeof r) {
			fprintf(stderr, "smpwork: a child sent no result\n");
			*ok = false;
			break;
		}
		sum += r;
	}
	close(fds[0]);
	for (unsigned i = 0; i < procs; i++) {
		int status;
		if (waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0) {
			fprintf(stderr, "smpwork: child %u failed\n", i);
			*ok = false;
		}
	}
	return sum;
}

static uint32_t compute_body(unsigned i)
{
	return compute_one(i, COMPUTE_PASSES / divisor);
}

/* --------------------------------------------------------------- forkexec */

/* Runs `smpwork ARGS...` and returns its exit status (-1 when it could not
 * be run or did not exit). */
static int run_self(char *const args[])
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		execv(self_path, args);
		_exit(127);
	}
	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static uint32_t forkexec_body(unsigned i)
{
	char *args[] = { "smpwork", "noop", NULL };
	uint32_t done = 0;
	(void)i;
	for (unsigned n = 0; n < FORKEXEC_COUNT / divisor; n++)
		done += run_self(args) == 0;
	return done;
}

/* ------------------------------------------------------------------ build */

/* The "compiler": tokens of SRC hashed CC_PASSES times, OBJECT_WORDS words
 * of object written to OBJ. Returns 0, or 1 on an I/O error. */
static int cc_main(const char *src, const char *obj)
{
	static char text[SOURCE_BYTES + 1];
	static uint32_t tokens[SOURCE_BYTES / 2], object[OBJECT_WORDS];
	int fd = open(src, O_RDONLY);
	if (fd < 0)
		return 1;
	ssize_t len = read(fd, text, SOURCE_BYTES);
	close(fd);
	if (len <= 0)
		return 1;
	text[len] = 0;
	size_t n = 0;
	for (ssize_t i = 0; i < len;) {
		while (i < len && (text[i] == ' ' || text[i] == '\n'))
			i++;
		uint32_t h = 0x811c9dc5u;
		bool any = false;
		while (i < len && text[i] != ' ' && text[i] != '\n') {
			h = mix(h, (uint8_t)text[i++]);
			any = true;
		}
		if (any)
			tokens[n++] = h;
	}
	memset(object, 0, sizeof object);
	uint32_t h = 0;
	for (unsigned p = 0; p < CC_PASSES; p++)
		for (size_t t = 0; t < n; t++) {
			h = mix(h, tokens[t] + p);
			object[(h ^ t) % OBJECT_WORDS] += h;
		}
	fd = open(obj, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return 1;
	bool written = write(fd, object, sizeof object) == (ssize_t)sizeof object;
	return close(fd) == 0 && written ? 0 : 1;
}

/* A source file's text: C-like lines of words that depend on its index. */
static bool write_source(const char *path, unsigned index)
{
	static char text[SOURCE_BYTES];
	static const char *const words[] = { "int", "static", "return", "if", "for", "(", ")",
		"{", "}", ";", "=", "+", "x", "y", "count", "buf", "struct", "node", "->", "0" };
	uint32_t x = 0x2545f491u * (index + 1);
	size_t len = 0;
	while (len + 16 < SOURCE_BYTES) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		const char *w = words[x % (sizeof words / sizeof words[0])];
		size_t wl = strlen(w);
		memcpy(text + len, w, wl);
		len += wl;
		text[len++] = (x >> 8) % 11 == 0 ? '\n' : ' ';
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return false;
	bool written = write(fd, text, len) == (ssize_t)len;
	return close(fd) == 0 && written;
}

static uint32_t build(unsigned procs, bool *ok)
{
	char dir[] = "/tmp/smpwork.XXXXXX", src[64], obj[64];
	unsigned jobs = BUILD_JOBS / (divisor > 4 ? 4 : divisor), started = 0, running = 0;
	uint32_t h = 0x811c9dc5u;
	if (!mkdtemp(dir)) {
		perror("smpwork: mkdtemp");
		*ok = false;
		return 0;
	}
	for (unsigned j = 0; j < jobs; j++) {
		snprintf(src, sizeof src, "%s/f%02u.c", dir, j);
		if (!write_source(src, j)) {
			perror("smpwork: writing a source file");
			*ok = false;
			return 0;
		}
	}
	double t0 = now();
	while (started < jobs || running > 0) {
		if (started < jobs && running < procs) {
			snprintf(src, sizeof src, "%s/f%02u.c", dir, started);
			snprintf(obj, sizeof obj, "%s/f%02u.o", dir, started);
			pid_t pid = fork();
			if (pid < 0) {
				perror("smpwork: fork");
				*ok = false;
				break;
			}
			if (pid == 0) {
				char *args[] = { "smpwork", "cc", src, obj, NULL };
				execv(self_path, args);
				_exit(127);
			}
			started++;
			running++;
			continue;
		}
		int status;
		if (wait(&status) < 0) {
			perror("smpwork: wait");
			*ok = false;
			break;
		}
		running--;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "smpwork: a cc job failed\n");
			*ok = false;
		}
	}
	/* The link: every object in order. */
	for (unsigned j = 0; j < jobs && *ok; j++) {
		static uint32_t object[OBJECT_WORDS];
		snprintf(obj, sizeof obj, "%s/f%02u.o", dir, j);
		int fd = open(obj, O_RDONLY);
		if (fd < 0 || read(fd, object, sizeof object) != (ssize_t)sizeof object) {
			fprintf(stderr, "smpwork: cannot read %s\n", obj);
			*ok = false;
		}
		if (fd >= 0)
			close(fd);
		for (unsigned w = 0; w < OBJECT_WORDS; w++)
			h = mix(h, object[w]);
	}
	double t = now() - t0;
	for (unsigned j = 0; j < jobs; j++) {
		snprintf(src, sizeof src, "%s/f%02u.c", dir, j);
		unlink(src);
		snprintf(obj, sizeof obj, "%s/f%02u.o", dir, j);
		unlink(obj);
	}
	rmdir(dir);
	if (*ok)
		printf("SMPWORK build %u %.6f s 0x%08x\n", procs, t, h);
	return h;
}

/* -------------------------------------------------------------------- main */

static const char *const names[] = { "compute", "forkexec", "build" };
#define NAMES (sizeof names / sizeof names[0])

static bool run(const char *name, unsigned procs)
{
	bool ok = true;
	if (strcmp(name, "build") == 0) {
		build(procs, &ok);
		fflush(stdout);
		return ok;
	}
	uint32_t (*body)(unsigned) = strcmp(name, "compute") == 0 ? compute_body : forkexec_body;
	double t0 = now();
	uint32_t sum = in_children(procs, body, &ok);
	double t = now() - t0;
	if (body == forkexec_body && sum != procs * (FORKEXEC_COUNT / divisor)) {
		fprintf(stderr, "smpwork: forkexec: %u of %u runs succeeded\n", (unsigned)sum,
			procs * (FORKEXEC_COUNT / divisor));
		ok = false;
	}
	if (ok)
		printf("SMPWORK %s %u %.6f s 0x%08x\n", name, procs, t, sum);
	fflush(stdout);
	return ok;
}

static int usage(void)
{
	fprintf(stderr, "usage: smpwork [--quick] PROCS [compute|forkexec|build...]\n"
			"       smpwork --list\n");
	return 2;
}

int main(int argc, char **argv)
{
	self_path = argv[0] && strchr(argv[0], '/') ? argv[0] : "/proc/self/exe";
	if (argc >= 2 && strcmp(argv[1], "noop") == 0)
		return 0;
	if (argc == 4 && strcmp(argv[1], "cc") == 0)
		return cc_main(argv[2], argv[3]);
	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (unsigned i = 0; i < NAMES; i++)
			puts(names[i]);
		return 0;
	}
	int a = 1;
	if (a < argc && strcmp(argv[a], "--quick") == 0) {
		divisor = 10;
		a++;
	}
	if (a >= argc)
		return usage();
	char *end;
	errno = 0;
	unsigned long procs = strtoul(argv[a], &end, 10);
	if (errno || *end || procs < 1 || procs > MAX_PROCS)
		return usage();
	a++;
	for (int i = a; i < argc; i++) {
		bool known = false;
		for (unsigned n = 0; n < NAMES; n++)
			known |= strcmp(argv[i], names[n]) == 0;
		if (!known)
			return usage();
	}
	bool ok = true;
	double t0 = now();
	if (a == argc) {
		for (unsigned n = 0; n < NAMES; n++)
			ok &= run(names[n], (unsigned)procs);
	} else {
		for (int i = a; i < argc; i++)
			ok &= run(argv[i], (unsigned)procs);
	}
	printf("SMPWORK-END %.6f\n", now() - t0);
	return ok ? 0 : 1;
}
