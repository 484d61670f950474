/* difftest: differential testing of btvm against the host CPU.
 *
 *   difftest run --seed N --count N --native DT-NATIVE --guest-elf GUEST.ELF
 *                (--btvm BTVM | --qemu QEMU) [options]
 *   difftest gen --seed N --count N -o BATCH [options]
 *   difftest show BATCH [ID]
 *   difftest features
 *
 * "run" generates the sequences (gen.c), writes them as a batch, runs the
 * batch natively (dt-native) and in the guest kernel under btvm or QEMU
 * (split into chunks run in parallel; when the VM dies on a sequence the
 * chunk is resumed after it), compares the results (compare.c), shrinks a
 * selection of the mismatches by dropping units one at a time while the
 * mismatch persists (re-running natively and in the VM each round), and
 * prints every class of mismatch with its smallest sequence. Exit status:
 * 0 when everything matched, 1 on mismatches, 2 on a harness error. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "analyze.h"
#include "compare.h"
#include "gen.h"

struct ctx {
	struct dt_opts o;
	uint64_t seed;
	uint32_t count;
	const char *native;
	const char *guest_elf;
	const char *vm;          /* btvm or qemu binary */
	bool qemu;
	const char *vm_args[16];
	unsigned nvm_args;
	unsigned jobs;
	unsigned chunk;
	unsigned shrink;
	double stall_s;   /* --stall: a run's hang detector, or 0 for each kind's own */
	unsigned max_report;
	char dir[512];
	bool keep;
	bool verbose;
	unsigned runs;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (!p) {
		perror("difftest");
		exit(2);
	}
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p) {
		perror("difftest");
		exit(2);
	}
	return p;
}

/* ------------------------------------------------------------- batches */

static uint32_t batch_flags(const struct dt_opts *o)
{
	return (o->low ? DT_BATCH_LOW : 0) | (o->code16 ? DT_BATCH_CODE16 : 0);
}

static int write_batch(const char *path, const struct dt_opts *o, struct dt_seq *const *seqs, unsigned n)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	struct dt_batch_hdr h = { DT_MAGIC, DT_VERSION, n, batch_flags(o), o->mxcsr_mask, { 0 } };
	fwrite(&h, sizeof(h), 1, f);
	for (unsigned i = 0; i < n; i++) {
		const struct dt_seq *s = seqs[i];
		struct dt_rec r;
		memset(&r, 0, sizeof(r));
		r.size = dt_rec_size(s->nunits, s->nmask, s->code_len);
		r.id = s->id;
		r.seed = s->seed;
		memcpy(r.gpr, s->gpr, sizeof(r.gpr));
		r.eflags = s->eflags;
		r.mxcsr = s->mxcsr;
		r.fcw = s->fcw;
		r.fsw = s->fsw;
		r.ftw = s->ftw;
		r.nunits = s->nunits;
		r.code_len = s->code_len;
		r.nmask = s->nmask;
		fwrite(&r, sizeof(r), 1, f);
		uint8_t pad[4] = { 0 };
		fwrite(s->unit_off, 2, s->nunits, f);
		fwrite(pad, 1, dt_align4(2u * s->nunits) - 2u * s->nunits, f);
		fwrite(s->mask, sizeof(struct dt_mask), s->nmask, f);
		fwrite(s->code, 1, s->code_len, f);
		fwrite(pad, 1, dt_align4(s->code_len) - s->code_len, f);
	}
	return fclose(f) == 0 ? 0 : -1;
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	uint8_t *buf = xcalloc(cap + 1, 1);
	size_t k;
	while ((k = fread(buf + n, 1, cap - n, f)) > 0) {
		n += k;
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			if (!buf) {
				perror("difftest");
				exit(2);
			}
		}
	}
	fclose(f);
	buf[n] = 0;
	*len = n;
	return buf;
}

static int read_batch(const char *path, struct dt_opts *o, struct dt_seq **out, unsigned *nout)
{
	size_t len;
	uint8_t *b = read_file(path, &len);
	if (!b)
		return -1;
	const struct dt_batch_hdr *h = (const struct dt_batch_hdr *)b;
	if (len < sizeof(*h) || h->magic != DT_MAGIC || h->version != DT_VERSION) {
		free(b);
		return -1;
	}
	o->low = h->flags & DT_BATCH_LOW;
	o->code16 = h->flags & DT_BATCH_CODE16;
	dt_set_code16(o->code16);
	o->mxcsr_mask = h->mxcsr_mask;
	struct dt_seq *seqs = xcalloc(h->count, sizeof(*seqs));
	size_t off = sizeof(*h);
	for (unsigned i = 0; i < h->count; i++) {
		const struct dt_rec *r = (const struct dt_rec *)(b + off);
		if (off + sizeof(*r) > len || r->size > len - off || r->nunits > DT_MAX_UNITS ||
		    r->code_len > DT_MAX_CODE || r->nmask > DT_MAX_MASKS) {
			free(seqs);
			free(b);
			return -1;
		}
		struct dt_seq *s = &seqs[i];
		s->id = r->id;
		s->seed = r->seed;
		memcpy(s->gpr, r->gpr, sizeof(s->gpr));
		s->eflags = r->eflags;
		s->mxcsr = r->mxcsr;
		s->fcw = r->fcw;
		s->fsw = r->fsw;
		s->ftw = r->ftw;
		s->nunits = r->nunits;
		s->code_len = r->code_len;
		memcpy(s->unit_off, dt_rec_units(r), 2u * r->nunits);
		s->unit_off[s->nunits] = s->code_len;
		s->nmask = r->nmask;
		memcpy(s->mask, dt_rec_masks(r), sizeof(struct dt_mask) * r->nmask);
		memcpy(s->code, dt_rec_code(r), r->code_len);
		off += r->size;
	}
	*out = seqs;
	*nout = h->count;
	free(b);
	return 0;
}

/* ----------------------------------------------------------- processes */

struct job {
	pid_t pid;
	int chunk;
	/* A hang detector, not a time limit: killed once it has run stall_s
	 * of CPU time since its last new output, or sat that long four times
	 * over while running under 1% of it (blocked). A host loaded beside
	 * (a build, ASan) slows the child's clock with its progress, so
	 * neither trips on a child that merely waits for a CPU. */
	double stall_s;
	double cpu_mark, wall_mark;	/* the child's CPU time and ours at its last new output */
	off_t out_size;		/* out's size when last looked at */
	bool killed;
	int status;
	char out[600];
	char err[600];
};

/* The child's CPU time in seconds (all its threads), or -1. */
static double child_cpu(pid_t pid)
{
	clockid_t clk;
	struct timespec ts;
	if (clock_getcpuclockid(pid, &clk) != 0 || clock_gettime(clk, &ts) != 0)
		return -1;
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void job_progress(struct job *j, double stall_s)
{
	j->stall_s = stall_s;
	j->wall_mark = now();
	j->cpu_mark = child_cpu(j->pid);
}

static bool job_hung(const struct job *j)
{
	double waited = now() - j->wall_mark;
	if (waited <= j->stall_s)
		return false;   /* one thread cannot have run longer yet; several are caught a little late */
	double cpu = child_cpu(j->pid);
	if (cpu < 0 || j->cpu_mark < 0)
		return waited > 4 * j->stall_s;
	double ran = cpu - j->cpu_mark;
	return ran > j->stall_s || (waited > 4 * j->stall_s && ran < 0.01 * waited);
}

static pid_t spawn(const char *const argv[], const char *out, const char *err)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (in < 0 || fo < 0 || fe < 0)
			_exit(127);
		dup2(in, 0);
		dup2(fo, 1);
		dup2(fe, 2);
		execv(argv[0], (char *const *)argv);
		fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Last non-empty line of a file, for death messages. */
static char *last_line(const char *path)
{
	size_t len;
	char *b = (char *)read_file(path, &len);
	if (!b)
		return xstrdup("");
	while (len && (b[len - 1] == '\n' || b[len - 1] == '\r'))
		b[--len] = 0;
	char *nl = strrchr(b, '\n');
	char *r = xstrdup(nl ? nl + 1 : b);
	free(b);
	return r;
}

/* --------------------------------------------------------------- runs */

/* A set of sequences to run natively and in the VM; seqs[i]->id == i. */
struct runset {
	struct dt_seq **seqs;
	unsigned n;
	char **native;   /* result entries per id */
	char **guest;
	char **death;    /* why the VM has no result for an id */
};

struct chunk {
	unsigned first, count;   /* ids */
	unsigned start;          /* next record index to run */
	unsigned deaths;
	bool done, running;
	char path[600];
};

/* Parses a runner's output into res[] for ids in [lo, hi). Returns the
 * number of results, or -1 when the runner reported a harness error. */
static int parse_output(const char *path, unsigned lo, unsigned hi, char **res, char **err_line)
{
	size_t len;
	char *b = (char *)read_file(path, &len);
	int n = 0;
	if (!b)
		return 0;
	for (char *line = b, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		if (line[0] == 'R' && line[1] == ' ') {
			char *end;
			unsigned long id = strtoul(line + 2, &end, 16);
			if (end == line + 2 || id < lo || id >= hi || (*end != ' ' && *end != 0))
				continue;
			free(res[id]);
			res[id] = xstrdup(end);
			n++;
		} else if (!strncmp(line, "DT-ERROR", 8) || !strncmp(line, "DT-PANIC", 8)) {
			if (err_line && !*err_line)
				*err_line = xstrdup(line);
			if (!strncmp(line, "DT-ERROR", 8)) {
				free(b);
				return -1;
			}
		}
	}
	free(b);
	return n;
}

static void vm_argv(const struct ctx *c, const char *batch, unsigned start, const char **argv, char *startarg)
{
	unsigned k = 0;
	snprintf(startarg, 32, "start=%u", start);
	argv[k++] = c->vm;
	if (c->qemu) {
		static const char *const q[] = { "-display", "none", "-serial", "stdio", "-monitor", "none",
						 "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-m", "64",
						 "-cpu", "max", "-no-reboot", "-kernel" };
		for (unsigned i = 0; i < sizeof(q) / sizeof(q[0]); i++)
			argv[k++] = q[i];
		argv[k++] = c->guest_elf;
		argv[k++] = "-initrd";
		argv[k++] = batch;
		argv[k++] = "-append";
		argv[k++] = startarg;
	} else {
		argv[k++] = "run";
		argv[k++] = "--kernel";
		argv[k++] = c->guest_elf;
		argv[k++] = "--initrd";
		argv[k++] = batch;
		argv[k++] = "--append";
		argv[k++] = startarg;
		argv[k++] = "-m";
		argv[k++] = "64";
		argv[k++] = "--serial";
		argv[k++] = "stdio";
	}
	for (unsigned i = 0; i < c->nvm_args; i++)
		argv[k++] = c->vm_args[i];
	argv[k] = NULL;
}

/* When a death message names the guest EIP ("(eip 0x...)"), appends the
 * instruction of the sequence it is in: the runner lays the code out from
 * record 'start' on in slots of a known size (runner.c). */
static void locate_death(const struct runset *rs, uint32_t flags, unsigned first, unsigned start, unsigned idx,
			 char *msg, size_t len)
{
	const char *p = strstr(msg, "(eip 0x");
	if (!p)
		return;
	uint32_t eip = (uint32_t)strtoul(p + 7, NULL, 16), cp = DT_CODE_BASE;
	for (unsigned i = start; i <= idx; i++) {
		uint32_t slot = dt_code_slot(rs->seqs[first + i]->code_len, flags);
		cp = dt_code_place(cp, slot, flags);
		if (i < idx)
			cp += slot;
	}
	const struct dt_seq *s = rs->seqs[first + idx];
	uint32_t begin = cp + dt_prologue_len(flags);
	if ((flags & DT_BATCH_CODE16) && eip < 0x10000)
		eip += cp & ~0xffffu;   /* an offset in the 16-bit code segment */
	size_t n = strlen(msg);
	if (eip < begin || eip >= begin + s->code_len) {
		snprintf(msg + n, len - n, " [outside the sequence]");
		return;
	}
	unsigned off = 0;
	while (off < s->code_len) {
		ZydisDecodedInstruction in;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
		if (!dt_decode(s->code + off, s->code_len - off, &in, ops))
			break;
		if (eip - begin < off + in.length) {
			snprintf(msg + n, len - n, " [at +%u: %s]", off, ZydisMnemonicGetString(in.mnemonic));
			return;
		}
		off += in.length;
	}
}

static const char *vm_name(const struct ctx *c)
{
	return c->qemu ? "QEMU" : "btvm";
}

static int run_set(struct ctx *c, struct runset *rs, const char *tag)
{
	char path[600];
	unsigned run = c->runs++;
	rs->native = xcalloc(rs->n, sizeof(char *));
	rs->guest = xcalloc(rs->n, sizeof(char *));
	rs->death = xcalloc(rs->n, sizeof(char *));
	for (unsigned i = 0; i < rs->n; i++) {
		struct dt_analysis a;
		if (dt_analyze(rs->seqs[i], &c->o, &a)) {
			fprintf(stderr, "difftest: internal error: sequence %u fails analysis: %s\n", i, a.why);
			return -1;
		}
		rs->seqs[i]->nmask = a.nmask;
		memcpy(rs->seqs[i]->mask, a.mask, sizeof(a.mask[0]) * a.nmask);
	}
	snprintf(path, sizeof(path), "%s/%s%u.bin", c->dir, tag, run);
	if (write_batch(path, &c->o, rs->seqs, rs->n)) {
		fprintf(stderr, "difftest: %s: %s\n", path, strerror(errno));
		return -1;
	}

	unsigned nchunks = (rs->n + c->chunk - 1) / c->chunk;
	struct chunk *ch = xcalloc(nchunks, sizeof(*ch));
	for (unsigned k = 0; k < nchunks; k++) {
		ch[k].first = k * c->chunk;
		ch[k].count = rs->n - ch[k].first < c->chunk ? rs->n - ch[k].first : c->chunk;
		snprintf(ch[k].path, sizeof(ch[k].path), "%s/%s%u-c%u.bin", c->dir, tag, run, k);
		if (write_batch(ch[k].path, &c->o, rs->seqs + ch[k].first, ch[k].count)) {
			fprintf(stderr, "difftest: %s: %s\n", ch[k].path, strerror(errno));
			return -1;
		}
	}

	struct job *jobs = xcalloc(c->jobs + 1, sizeof(*jobs));
	unsigned running = 0;
	int rc = 0;
	/* the native run (job slot c->jobs, chunk -1) */
	{
		struct job *j = &jobs[c->jobs];
		snprintf(j->out, sizeof(j->out), "%s/%s%u-native.out", c->dir, tag, run);
		snprintf(j->err, sizeof(j->err), "%s/%s%u-native.err", c->dir, tag, run);
		const char *argv[] = { c->native, path, NULL };
		j->pid = spawn(argv, j->out, j->err);
		j->chunk = -1;
		if (j->pid < 0)
			return -1;
		job_progress(j, c->stall_s ? c->stall_s : 60 + rs->n * 0.001);
		running++;
	}
	for (;;) {
		/* start VM jobs on free slots */
		for (unsigned s = 0; s < c->jobs; s++) {
			if (jobs[s].pid > 0)
				continue;
			unsigned k;
			for (k = 0; k < nchunks; k++)
				if (!ch[k].done && !ch[k].running)
					break;
			if (k == nchunks)
				break;
			struct job *j = &jobs[s];
			snprintf(j->out, sizeof(j->out), "%s/%s%u-c%u-%u.out", c->dir, tag, run, k, ch[k].start);
			snprintf(j->err, sizeof(j->err), "%s/%s%u-c%u-%u.err", c->dir, tag, run, k, ch[k].start);
			const char *argv[64];
			char startarg[32];
			vm_argv(c, ch[k].path, ch[k].start, argv, startarg);
			j->pid = spawn(argv, j->out, j->err);
			if (j->pid < 0)
				return -1;
			j->chunk = (int)k;
			j->killed = false;
			/* The VM prints a result per sequence. */
			j->out_size = 0;
			job_progress(j, c->stall_s ? c->stall_s
						   : (c->qemu ? 120 : 30) +
							     (ch[k].count - ch[k].start) * (c->qemu ? 0.02 : 0.005));
			ch[k].running = true;
			running++;
		}
		if (!running)
			break;
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid == 0) {
			for (unsigned s = 0; s <= c->jobs; s++) {
				struct job *j = &jobs[s];
				if (j->pid <= 0 || j->killed)
					continue;
				struct stat st;
				if (stat(j->out, &st) == 0 && st.st_size > j->out_size) {
					j->out_size = st.st_size;
					job_progress(j, j->stall_s);
				} else if (job_hung(j)) {
					kill(j->pid, SIGKILL);
					j->killed = true;
				}
			}
			usleep(2000);
			continue;
		}
		if (pid < 0)
			break;
		unsigned s;
		for (s = 0; s <= c->jobs; s++)
			if (jobs[s].pid == pid)
				break;
		if (s > c->jobs)
			continue;
		struct job *j = &jobs[s];
		j->pid = 0;
		running--;
		if (j->chunk < 0) {
			char *err = NULL;
			int n = parse_output(j->out, 0, rs->n, rs->native, &err);
			if (n != (int)rs->n) {
				char *ll = last_line(j->err);
				fprintf(stderr, "difftest: the native runner reported %d of %u results (%s%s%s)\n", n,
					rs->n, err ? err : "", err ? "; " : "", j->killed ? "hung: killed" : ll);
				free(ll);
				rc = -1;
			}
			free(err);
			continue;
		}
		struct chunk *k = &ch[j->chunk];
		k->running = false;
		char *err = NULL;
		if (parse_output(j->out, k->first, k->first + k->count, rs->guest, &err) < 0) {
			fprintf(stderr, "difftest: the guest runner failed: %s\n", err ? err : "?");
			free(err);
			rc = -1;
			k->done = true;
			continue;
		}
		unsigned idx = k->start;
		while (idx < k->count && rs->guest[k->first + idx])
			idx++;
		if (idx == k->count) {
			k->done = true;
			free(err);
			continue;
		}
		/* the VM stopped without reporting record idx: it died there */
		char *ll = last_line(j->err);
		char msg[1024];
		if (j->killed)
			snprintf(msg, sizeof(msg), "%s hung (no result in %.0f s of its CPU time)", vm_name(c), j->stall_s);
		else if (err)
			snprintf(msg, sizeof(msg), "%s", err);
		else if (WIFSIGNALED(status))
			snprintf(msg, sizeof(msg), "%s was killed by signal %d (%s)%s%s", vm_name(c), WTERMSIG(status),
				 strsignal(WTERMSIG(status)), *ll ? ": " : "", ll);
		else
			snprintf(msg, sizeof(msg), "%s exited with status %d: %s", vm_name(c),
				 WIFEXITED(status) ? WEXITSTATUS(status) : -1, ll);
		free(ll);
		free(err);
		locate_death(rs, batch_flags(&c->o), k->first, k->start, idx, msg, sizeof(msg));
		rs->death[k->first + idx] = xstrdup(msg);
		if (c->verbose)
			fprintf(stderr, "difftest: sequence %u: %s\n", k->first + idx, msg);
		k->start = idx + 1;
		if (++k->deaths > 1000 || k->start >= k->count) {
			for (unsigned i = k->start; i < k->count; i++)
				if (!rs->guest[k->first + i] && !rs->death[k->first + i])
					rs->death[k->first + i] = xstrdup("not run: too many deaths in its chunk");
			k->done = true;
		}
	}
	free(jobs);
	free(ch);
	return rc;
}

static void free_runset(struct runset *rs)
{
	for (unsigned i = 0; i < rs->n; i++) {
		if (rs->native)
			free(rs->native[i]);
		if (rs->guest)
			free(rs->guest[i]);
		if (rs->death)
			free(rs->death[i]);
	}
	free(rs->native);
	free(rs->guest);
	free(rs->death);
	rs->native = rs->guest = rs->death = NULL;
}

/* Builds both final images and compares them; *a gets the analysis. */
static uint64_t compare_one(const struct ctx *c, const struct dt_seq *s, const char *nat, const char *gst,
			    const char *death, struct dt_analysis *a, uint8_t *init, uint8_t *in, uint8_t *ig)
{
	struct dt_batch_hdr h = { DT_MAGIC, DT_VERSION, 1, batch_flags(&c->o), c->o.mxcsr_mask, { 0 } };
	struct dt_rec r;
	memset(&r, 0, sizeof(r));
	r.seed = s->seed;
	memcpy(r.gpr, s->gpr, sizeof(r.gpr));
	r.eflags = s->eflags;
	r.mxcsr = s->mxcsr;
	r.fcw = s->fcw;
	r.fsw = s->fsw;
	r.ftw = s->ftw;
	dt_init_image(init, &h, &r);
	memcpy(in, init, DT_IMG_SIZE);
	memcpy(ig, init, DT_IMG_SIZE);
	dt_analyze(s, &c->o, a);
	if (!nat || dt_apply_result(in, nat))
		return ~0ull;
	if (!gst || dt_apply_result(ig, gst)) {
		(void)death;
		return DT_D_BIT(DT_D_DIED);
	}
	return dt_compare(s, a, in, ig, &c->o);
}

/* ------------------------------------------------------------ shrinking */

struct shrinker {
	struct dt_seq cur;
	uint64_t fields;
	char *nat, *gst, *death;
	unsigned orig_units;
	uint32_t orig_id;
	bool done;
	bool fine;         /* past dropping units: dropping setups and prefixes */
};

/* The sequence without code bytes [at, at + n), which lie in one unit and
 * leave it non-empty. */
static void cut(const struct dt_seq *s, unsigned at, unsigned n, struct dt_seq *out)
{
	*out = *s;
	memmove(out->code + at, out->code + at + n, s->code_len - at - n);
	out->code_len = (uint16_t)(s->code_len - n);
	for (unsigned u = 1; u <= s->nunits; u++)
		if (s->unit_off[u] > at)
			out->unit_off[u] = (uint16_t)(s->unit_off[u] - n);
}

/* Candidates one step smaller than s: without one unit, or (fine) without
 * one setup move or one prefix byte. Returns how many were written. */
static unsigned candidates(const struct dt_seq *s, bool fine, struct dt_seq **out, unsigned max)
{
	unsigned n = 0;
	if (!fine) {
		for (unsigned u = 0; u < s->nunits && s->nunits > 1 && n < max; u++) {
			out[n] = xcalloc(1, sizeof(struct dt_seq));
			*out[n] = *s;
			out[n]->nunits = 0;
			out[n]->code_len = 0;
			for (unsigned i = 0; i < s->nunits; i++) {
				if (i == u)
					continue;
				unsigned len = s->unit_off[i + 1] - s->unit_off[i];
				out[n]->unit_off[out[n]->nunits++] = out[n]->code_len;
				memcpy(out[n]->code + out[n]->code_len, s->code + s->unit_off[i], len);
				out[n]->code_len = (uint16_t)(out[n]->code_len + len);
			}
			out[n]->unit_off[out[n]->nunits] = out[n]->code_len;
			n++;
		}
		return n;
	}
	for (unsigned u = 0; u < s->nunits; u++) {
		unsigned off = s->unit_off[u], end = s->unit_off[u + 1];
		while (off < end && n < max) {
			ZydisDecodedInstruction in;
			ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
			if (!dt_decode(s->code + off, end - off, &in, ops))
				break;
			if (off + in.length < end) {
				out[n] = xcalloc(1, sizeof(struct dt_seq));
				cut(s, off, in.length, out[n++]);
			}
			for (unsigned p = 0; p < in.raw.prefix_count && n < max; p++) {
				out[n] = xcalloc(1, sizeof(struct dt_seq));
				cut(s, off + p, 1, out[n++]);
			}
			off += in.length;
		}
	}
	return n;
}

#define MAX_CANDS 32

static int shrink(struct ctx *c, struct shrinker *sh, unsigned nsh)
{
	static uint8_t init[DT_IMG_SIZE], in[DT_IMG_SIZE], ig[DT_IMG_SIZE];
	for (unsigned round = 0; round < 24; round++) {
		struct runset rs = { 0 };
		unsigned *owner = xcalloc(nsh * MAX_CANDS, sizeof(unsigned));
		rs.seqs = xcalloc(nsh * MAX_CANDS, sizeof(struct dt_seq *));
		for (unsigned i = 0; i < nsh; i++) {
			struct shrinker *x = &sh[i];
			if (x->done)
				continue;
			if (x->cur.nunits <= 1)
				x->fine = true;
			struct dt_seq *cands[MAX_CANDS];
			unsigned nc = candidates(&x->cur, x->fine, cands, MAX_CANDS), added = 0;
			for (unsigned k = 0; k < nc; k++) {
				struct dt_analysis a;
				if (dt_analyze(cands[k], &c->o, &a)) {
					free(cands[k]);
					continue;
				}
				cands[k]->id = rs.n;
				owner[rs.n] = i;
				rs.seqs[rs.n++] = cands[k];
				added++;
			}
			if (!added) {
				if (x->fine)
					x->done = true;
				else
					x->fine = true;   /* next round: the fine steps */
			}
		}
		if (!rs.n) {
			bool any = false;
			for (unsigned i = 0; i < nsh; i++)
				any |= !sh[i].done;
			free(owner);
			free(rs.seqs);
			if (any)
				continue;
			break;
		}
		if (c->verbose)
			fprintf(stderr, "difftest: shrink round %u: %u candidates\n", round + 1, rs.n);
		if (run_set(c, &rs, "shrink")) {
			for (unsigned i = 0; i < rs.n; i++)
				free(rs.seqs[i]);
			free_runset(&rs);
			free(rs.seqs);
			free(owner);
			return -1;
		}
		bool *taken = xcalloc(nsh, sizeof(bool));
		bool *tried = xcalloc(nsh, sizeof(bool));
		for (unsigned k = 0; k < rs.n; k++) {
			struct shrinker *x = &sh[owner[k]];
			tried[owner[k]] = true;
			if (taken[owner[k]] || x->done)
				continue;
			struct dt_analysis a;
			uint64_t d = compare_one(c, rs.seqs[k], rs.native[k], rs.guest[k], rs.death[k], &a, init, in, ig);
			if (d == ~0ull || !(d & x->fields))
				continue;
			taken[owner[k]] = true;
			uint32_t id = x->cur.id;
			x->cur = *rs.seqs[k];
			x->cur.id = id;
			x->fields = d;
			free(x->nat);
			free(x->gst);
			free(x->death);
			x->nat = rs.native[k] ? xstrdup(rs.native[k]) : NULL;
			x->gst = rs.guest[k] ? xstrdup(rs.guest[k]) : NULL;
			x->death = rs.death[k] ? xstrdup(rs.death[k]) : NULL;
		}
		for (unsigned i = 0; i < nsh; i++) {
			if (!tried[i] || taken[i])
				continue;
			if (sh[i].fine)
				sh[i].done = true;
			else
				sh[i].fine = true;
		}
		free(taken);
		free(tried);
		for (unsigned i = 0; i < rs.n; i++)
			free(rs.seqs[i]);
		free_runset(&rs);
		free(rs.seqs);
		free(owner);
	}
	return 0;
}

/* -------------------------------------------------------------- report */

/* The instruction each unit exists for (its last), as the class name, with
 * the address-size, segment and LOCK prefixes it carries. */
static void main_mnemonics(const struct dt_seq *s, char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = 0;
	for (unsigned u = 0; u < s->nunits; u++) {
		unsigned off = s->unit_off[u], end = s->unit_off[u + 1];
		ZydisDecodedInstruction in, last;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
		bool have = false;
		while (off < end && dt_decode(s->code + off, end - off, &in, ops)) {
			last = in;
			have = true;
			off += in.length;
		}
		char pre[64] = "";
		size_t pn = 0;
		for (unsigned i = 0; have && i < last.raw.prefix_count; i++) {
			const char *name = NULL;
			switch (last.raw.prefixes[i].value) {
			case 0x67: name = "a16"; break;
			case 0xf0: name = "lock"; break;
			case 0x26: name = "es"; break;
			case 0x2e: name = "cs"; break;
			case 0x36: name = "ss"; break;
			case 0x3e: name = "ds"; break;
			case 0x64: name = "fs"; break;
			case 0x65: name = "gs"; break;
			default: break;
			}
			if (name && pn < sizeof(pre)) {
				int k = snprintf(pre + pn, sizeof(pre) - pn, "%s%s", pn ? " " : "", name);
				if (k > 0)
					pn += (size_t)k;
			}
		}
		int k = snprintf(buf + n, len - n, "%s%s%s%s%s", n ? " ; " : "",
				 have ? ZydisMnemonicGetString(last.mnemonic) : "?", pn ? " [" : "", pre, pn ? "]" : "");
		if (k < 0 || (size_t)k >= len - n)
			break;
		n += (size_t)k;
	}
}

struct klass {
	char key[400];
	char symptom[160];
	char mn[200];
	unsigned count;
	unsigned example;     /* shrinker index */
	uint32_t ids[8];
	unsigned nids;
};

static int cmp_class(const void *a, const void *b)
{
	const struct klass *x = a, *y = b;
	return (int)y->count - (int)x->count;
}

/* The text of a death message between "...: " and " (eip ...". */
static void death_what(const char *death, char *buf, size_t len)
{
	buf[0] = 0;
	if (!death)
		return;
	const char *e = strstr(death, " (eip");
	if (!e)
		e = strstr(death, " [at +");
	if (!e)
		e = death + strlen(death);
	const char *b = e;
	while (b > death && !(b[-1] == ' ' && b - 2 >= death && b[-2] == ':'))
		b--;
	if (b == death)
		b = death;
	snprintf(buf, len, "%.*s", (int)(e - b), b);
}

/* "mnemonic [a16 fs lock]" for the instruction at code offset off. */
static void insn_name(const struct dt_seq *s, unsigned off, char *buf, size_t len)
{
	ZydisDecodedInstruction in;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	if (off >= s->code_len || !dt_decode(s->code + off, s->code_len - off, &in, ops)) {
		snprintf(buf, len, "?");
		return;
	}
	size_t n = (size_t)snprintf(buf, len, "%s", ZydisMnemonicGetString(in.mnemonic));
	bool open = false;
	for (unsigned i = 0; i < in.raw.prefix_count && n < len; i++) {
		static const struct { uint8_t b; const char *name; } pn[] = {
			{ 0x67, "a16" }, { 0xf0, "lock" }, { 0x26, "es" }, { 0x2e, "cs" }, { 0x36, "ss" },
			{ 0x3e, "ds" }, { 0x64, "fs" }, { 0x65, "gs" },
		};
		for (unsigned k = 0; k < sizeof(pn) / sizeof(pn[0]); k++)
			if (in.raw.prefixes[i].value == pn[k].b) {
				int w = snprintf(buf + n, len - n, "%s%s", open ? " " : " [", pn[k].name);
				if (w > 0)
					n += (size_t)w;
				open = true;
			}
	}
	if (open && n < len)
		snprintf(buf + n, len - n, "]");
}

/* What a mismatch looks like, without the instruction: for grouping. */
static void symptom_of(const uint8_t *nat, const uint8_t *gst, uint64_t d, const char *death, char *buf,
		       size_t len)
{
	static const char *const vec[32] = {
		"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "vector 9", "#TS", "#NP",
		"#SS", "#GP", "#PF", "vector 15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "vector 22",
		"vector 23", "vector 24", "vector 25", "vector 26", "vector 27", "vector 28", "vector 29",
		"vector 30", "vector 31",
	};
	if (d & DT_D_BIT(DT_D_DIED)) {
		char what[128];
		death_what(death, what, sizeof(what));
		snprintf(buf, len, "guest died: %s", what);
		return;
	}
	if (d & DT_D_BIT(DT_D_EXC)) {
		uint32_t vn = dt_get32(nat + DT_IMG_VEC), vg = dt_get32(gst + DT_IMG_VEC);
		if (vn == vg)
			snprintf(buf, len, "same exception %s, different error code or place",
				 vn < 32 ? vec[vn] : "?");
		else
			snprintf(buf, len, "host: %s, guest: %s", vn < 32 ? vec[vn] : "no exception",
				 vg < 32 ? vec[vg] : "no exception");
		return;
	}
	char f[256];
	snprintf(buf, len, "different %s", dt_field_names(d, f, sizeof(f)));
}

/* The instruction where the runs part: the one that died or the first
 * that faulted; empty when the difference is only in the final state. */
static void culprit_of(const struct dt_seq *s, const struct dt_analysis *a, const uint8_t *nat,
		       const uint8_t *gst, uint64_t d, const char *death, char *buf, size_t len)
{
	buf[0] = 0;
	const char *at = death ? strstr(death, "[at +") : NULL;
	if ((d & DT_D_BIT(DT_D_DIED)) && at) {
		insn_name(s, (unsigned)strtoul(at + 5, NULL, 10), buf, len);
	} else if (d & DT_D_BIT(DT_D_EXC)) {
		unsigned kn = dt_stop_index(a, nat), kg = dt_stop_index(a, gst);
		unsigned k = kn < kg ? kn : kg;
		if (k < a->n)
			insn_name(s, a->insn[k].off, buf, len);
	}
}

/* Mismatches grouped by symptom and culprit, for the first look and for
 * picking which to shrink. */
struct prekey {
	char symptom[160];
	char culprit[96];
	unsigned count, total;   /* total: of the symptom */
	uint32_t *ids;
	unsigned nids, cap, next;
};

static int cmp_prekey(const void *a, const void *b)
{
	const struct prekey *x = a, *y = b;
	if (x->total != y->total)
		return x->total < y->total ? 1 : -1;
	int c = strcmp(x->symptom, y->symptom);
	if (c)
		return c;
	return (int)y->count - (int)x->count;
}

static int do_run(struct ctx *c)
{
	double t0 = now();
	int nm = dt_gen_init(&c->o);
	if (nm <= 0) {
		fprintf(stderr, "difftest: no instructions to generate\n");
		return 2;
	}
	struct runset rs = { 0 };
	rs.n = c->count;
	rs.seqs = xcalloc(rs.n, sizeof(struct dt_seq *));
	struct dt_seq *all = xcalloc(rs.n, sizeof(struct dt_seq));
	for (unsigned i = 0; i < rs.n; i++) {
		dt_gen_seq(&c->o, c->seed, i, &all[i]);
		rs.seqs[i] = &all[i];
	}
	double t1 = now();
	if (c->verbose)
		dt_gen_stats();
	if (run_set(c, &rs, "main")) {
		free_runset(&rs);
		free(rs.seqs);
		free(all);
		return 2;
	}
	double t2 = now();

	static uint8_t init[DT_IMG_SIZE], in[DT_IMG_SIZE], ig[DT_IMG_SIZE];
	uint64_t *diffs = xcalloc(rs.n, sizeof(uint64_t));
	unsigned mismatches = 0, died = 0, faults = 0;
	struct prekey *pk = NULL;
	unsigned npk = 0;
	for (unsigned i = 0; i < rs.n; i++) {
		struct dt_analysis a;
		uint64_t d = compare_one(c, rs.seqs[i], rs.native[i], rs.guest[i], rs.death[i], &a, init, in, ig);
		if (d == ~0ull) {
			fprintf(stderr, "difftest: no native result for sequence %u\n", i);
			return 2;
		}
		if (dt_get32(in + DT_IMG_VEC) != DT_NO_VECTOR)
			faults++;
		diffs[i] = d;
		if (!d)
			continue;
		mismatches++;
		if (d & DT_D_BIT(DT_D_DIED))
			died++;
		char sym[160], cul[96];
		symptom_of(in, ig, d, rs.death[i], sym, sizeof(sym));
		culprit_of(rs.seqs[i], &a, in, ig, d, rs.death[i], cul, sizeof(cul));
		unsigned k;
		for (k = 0; k < npk; k++)
			if (!strcmp(pk[k].symptom, sym) && !strcmp(pk[k].culprit, cul))
				break;
		if (k == npk) {
			pk = realloc(pk, (npk + 1) * sizeof(*pk));
			if (!pk) {
				perror("difftest");
				return 2;
			}
			memset(&pk[npk], 0, sizeof(*pk));
			snprintf(pk[npk].symptom, sizeof(pk[npk].symptom), "%s", sym);
			snprintf(pk[npk].culprit, sizeof(pk[npk].culprit), "%s", cul);
			npk++;
		}
		if (pk[k].nids == pk[k].cap) {
			pk[k].cap = pk[k].cap ? 2 * pk[k].cap : 16;
			pk[k].ids = realloc(pk[k].ids, pk[k].cap * sizeof(uint32_t));
			if (!pk[k].ids) {
				perror("difftest");
				return 2;
			}
		}
		pk[k].count++;
		pk[k].ids[pk[k].nids++] = i;
	}
	for (unsigned k = 0; k < npk; k++)
		for (unsigned j = 0; j < npk; j++)
			if (!strcmp(pk[k].symptom, pk[j].symptom))
				pk[k].total += pk[j].count;
	if (npk)
		qsort(pk, npk, sizeof(*pk), cmp_prekey);

	printf("difftest: seed %llu, %u sequences of %s code over %d mnemonics (%s), guest under %s\n",
	       (unsigned long long)c->seed, rs.n, c->o.code16 ? "16-bit" : "32-bit", nm,
	       c->o.low ? "with the low area" : "no low area", vm_name(c));
	printf("difftest: %u matched, %u mismatched (%u where the guest died), %u raised an exception natively\n",
	       rs.n - mismatches, mismatches, died, faults);
	printf("difftest: generate %.1fs, run %.1fs\n", t1 - t0, t2 - t1);
	if (!mismatches) {
		free_runset(&rs);
		free(rs.seqs);
		free(all);
		free(diffs);
		return 0;
	}
	printf("\nmismatches by symptom, then by the instruction where host and guest part:\n");
	for (unsigned k = 0, shown = 0; k < npk; k++) {
		bool first = k == 0 || strcmp(pk[k - 1].symptom, pk[k].symptom);
		if (first) {
			printf("  %6u  %s\n", pk[k].total, pk[k].symptom);
			shown = 0;
		}
		if (shown++ < 12)
			printf("          %6u  %s\n", pk[k].count,
			       pk[k].culprit[0] ? pk[k].culprit : (pk[k].symptom[0] == 'g' ? "(place unknown)" : "(final state only)"));
		else if (k + 1 == npk || strcmp(pk[k + 1].symptom, pk[k].symptom))
			printf("                  ... and %u more instructions\n", shown - 12);
	}

	/* pick sequences to shrink: round robin over symptoms, and within a
	 * symptom over the instructions */
	unsigned nsh = 0, want = c->shrink < mismatches ? c->shrink : mismatches;
	struct shrinker *sh = xcalloc(want ? want : 1, sizeof(*sh));
	unsigned *cursor = xcalloc(npk ? npk : 1, sizeof(unsigned));
	while (nsh < want) {
		bool any = false;
		for (unsigned k = 0; k < npk && nsh < want; k++) {
			if (k > 0 && !strcmp(pk[k - 1].symptom, pk[k].symptom))
				continue;   /* k is the first of its symptom */
			unsigned end = k;
			while (end < npk && !strcmp(pk[end].symptom, pk[k].symptom))
				end++;
			for (unsigned tries = 0; tries < end - k; tries++) {
				unsigned j = k + (cursor[k]++ % (end - k));
				if (pk[j].next >= pk[j].nids)
					continue;
				unsigned id = pk[j].ids[pk[j].next++];
				any = true;
				struct shrinker *x = &sh[nsh++];
				x->cur = *rs.seqs[id];
				x->fields = diffs[id];
				x->nat = rs.native[id] ? xstrdup(rs.native[id]) : NULL;
				x->gst = rs.guest[id] ? xstrdup(rs.guest[id]) : NULL;
				x->death = rs.death[id] ? xstrdup(rs.death[id]) : NULL;
				x->orig_units = x->cur.nunits;
				x->orig_id = id;
				break;
			}
		}
		if (!any)
			break;
	}
	free(cursor);
	printf("\nshrinking %u of them...\n", nsh);
	fflush(stdout);
	if (shrink(c, sh, nsh))
		return 2;
	double t3 = now();

	struct klass *cl = xcalloc(nsh, sizeof(*cl));
	unsigned ncl = 0;
	for (unsigned i = 0; i < nsh; i++) {
		char mn[200], key[400], sym[160];
		struct dt_analysis a;
		uint64_t d = compare_one(c, &sh[i].cur, sh[i].nat, sh[i].gst, sh[i].death, &a, init, in, ig);
		main_mnemonics(&sh[i].cur, mn, sizeof(mn));
		symptom_of(in, ig, d, sh[i].death, sym, sizeof(sym));
		/* the fields are in the symptom, or vary with the data: not in the key */
		snprintf(key, sizeof(key), "%s | %s", mn, sym);
		unsigned k;
		for (k = 0; k < ncl; k++)
			if (!strcmp(cl[k].key, key))
				break;
		if (k == ncl) {
			snprintf(cl[ncl].key, sizeof(cl[ncl].key), "%s", key);
			snprintf(cl[ncl].symptom, sizeof(cl[ncl].symptom), "%s", sym);
			snprintf(cl[ncl].mn, sizeof(cl[ncl].mn), "%s", mn);
			cl[ncl].example = i;
			ncl++;
		} else if (sh[i].cur.code_len < sh[cl[k].example].cur.code_len) {
			cl[k].example = i;
		}
		cl[k].count++;
		if (cl[k].nids < 8)
			cl[k].ids[cl[k].nids++] = sh[i].orig_id;
	}
	qsort(cl, ncl, sizeof(*cl), cmp_class);
	printf("shrunk in %.1fs into %u classes (instructions of the minimal sequence [prefixes]),\n"
	       "grouped by symptom:\n", t3 - t2, ncl);
	bool *shown = xcalloc(ncl, sizeof(bool));
	unsigned *order = xcalloc(ncl, sizeof(unsigned)), nord = 0;
	for (unsigned k = 0; k < ncl; k++) {
		if (shown[k])
			continue;
		printf("\n  %s:\n", cl[k].symptom);
		for (unsigned j = k; j < ncl; j++) {
			if (shown[j] || strcmp(cl[j].symptom, cl[k].symptom))
				continue;
			shown[j] = true;
			order[nord++] = j;
			printf("    %4u  %s\n", cl[j].count, cl[j].mn);
		}
	}
	/* details: the first class of every symptom, then the rest */
	unsigned printed = 0;
	for (unsigned pass = 0; pass < 2; pass++) {
		for (unsigned q = 0; q < nord && printed < c->max_report; q++) {
			unsigned k = order[q];
			bool first = q == 0 || strcmp(cl[order[q - 1]].symptom, cl[k].symptom);
			if (first != (pass == 0))
				continue;
			struct shrinker *x = &sh[cl[k].example];
			struct dt_analysis a;
			uint64_t d = compare_one(c, &x->cur, x->nat, x->gst, x->death, &a, init, in, ig);
			char fields[256];
			printf("\n[%u] %s: %s; differs in %s\n", ++printed, cl[k].mn, cl[k].symptom,
			       dt_field_names(d, fields, sizeof(fields)));
			printf("    seed %llu sequence %u (shrunk from %u to %u units); also:",
			       (unsigned long long)c->seed, x->orig_id, x->orig_units, x->cur.nunits);
			for (unsigned i = 0; i < cl[k].nids; i++)
				if (cl[k].ids[i] != x->orig_id)
					printf(" %u", cl[k].ids[i]);
			printf("\n");
			dt_print_seq(stdout, &x->cur, "      ");
			if (x->death)
				printf("    %s: %s\n", vm_name(c), x->death);
			dt_describe(stdout, &x->cur, &a, init, in, ig, d, vm_name(c), "    ");
		}
	}
	free(shown);
	free(order);
	free(cl);
	for (unsigned i = 0; i < nsh; i++) {
		free(sh[i].nat);
		free(sh[i].gst);
		free(sh[i].death);
	}
	free(sh);
	for (unsigned k = 0; k < npk; k++)
		free(pk[k].ids);
	free(pk);
	printf("\ndifftest: FAIL: %u of %u sequences differ (seed %llu)\n", mismatches, rs.n,
	       (unsigned long long)c->seed);
	free_runset(&rs);
	free(rs.seqs);
	free(all);
	free(diffs);
	return 1;
}

/* ---------------------------------------------------------------- main */

static void usage(void)
{
	fprintf(stderr,
		"usage: difftest run --native PATH --guest-elf PATH (--btvm PATH | --qemu PATH)\n"
		"                    [--seed N] [--count N] [--jobs N] [--chunk N] [--shrink N]\n"
		"                    [--report N] [--isa LIST] [--no-low] [--code16] [--fpu-ptr]\n"
		"                    [--vm-arg ARG]... [--stall CPU_SECONDS] [--keep DIR] [--verbose]\n"
		"       difftest gen [--seed N] [--count N] [--isa LIST] [--no-low] [--code16] -o BATCH\n"
		"       difftest show BATCH [ID]\n"
		"       difftest features | mnemonics [--isa LIST]\n"
		"--isa takes feature names (see 'features'), 'all', or '-name' to drop one.\n"
		"--stall: a run is hung once it has used that much CPU time with no new result\n"
		"(or sat four times as long using under 1%%); by default 30 s (btvm), 120 (QEMU),\n"
		"60 plus 1 ms a sequence (the native runner).\n");
}

static uint32_t host_mxcsr_mask(void)
{
	static uint8_t fx[512] __attribute__((aligned(16)));
	__asm__ volatile("fxsave %0" : "=m"(fx));
	uint32_t m = dt_get32(fx + DT_FX_MXCSR_MASK);
	return m ? m : 0xffbf;
}

static bool low_possible(void)
{
	FILE *f = fopen("/proc/sys/vm/mmap_min_addr", "r");
	unsigned long v = 65536;
	if (f) {
		if (fscanf(f, "%lu", &v) != 1)
			v = 65536;
		fclose(f);
	}
	return v <= DT_LOW_BASE;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage();
		return 2;
	}
	const char *cmd = argv[1];
	struct ctx c;
	memset(&c, 0, sizeof(c));
	c.seed = 1;
	c.count = 20000;
	c.jobs = 2;
	c.chunk = 2500;
	c.shrink = 60;
	c.max_report = 40;
	uint32_t host = dt_host_features();
	c.o.features = host;
	c.o.low = low_possible();
	c.o.mxcsr_mask = host_mxcsr_mask();
	const char *out = NULL, *keep = NULL;
	static const struct option lo[] = {
		{ "seed", required_argument, 0, 's' }, { "count", required_argument, 0, 'n' },
		{ "native", required_argument, 0, 'N' }, { "guest-elf", required_argument, 0, 'G' },
		{ "btvm", required_argument, 0, 'B' }, { "qemu", required_argument, 0, 'Q' },
		{ "jobs", required_argument, 0, 'j' }, { "chunk", required_argument, 0, 'c' },
		{ "shrink", required_argument, 0, 'S' }, { "report", required_argument, 0, 'r' },
		{ "isa", required_argument, 0, 'i' }, { "no-low", no_argument, 0, 'L' },
		{ "fpu-ptr", no_argument, 0, 'F' }, { "vm-arg", required_argument, 0, 'a' },
		{ "keep", required_argument, 0, 'k' }, { "verbose", no_argument, 0, 'v' },
		{ "output", required_argument, 0, 'o' }, { "code16", no_argument, 0, '6' },
		{ "stall", required_argument, 0, 'T' }, { 0, 0, 0, 0 },
	};
	optind = 2;
	int opt;
	while ((opt = getopt_long(argc, argv, "o:v", lo, NULL)) != -1) {
		switch (opt) {
		case 's': c.seed = strtoull(optarg, NULL, 0); break;
		case 'n': c.count = (uint32_t)strtoul(optarg, NULL, 0); break;
		case 'N': c.native = optarg; break;
		case 'G': c.guest_elf = optarg; break;
		case 'B': c.vm = optarg; c.qemu = false; break;
		case 'Q': c.vm = optarg; c.qemu = true; break;
		case 'j': c.jobs = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'c': c.chunk = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'S': c.shrink = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'T': {
			char *end;
			c.stall_s = strtod(optarg, &end);
			if (*end || !(c.stall_s > 0 && c.stall_s < 1e6)) {
				fprintf(stderr, "difftest: bad --stall '%s' (CPU seconds, above 0)\n", optarg);
				return 2;
			}
			break;
		}
		case 'r': c.max_report = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'i':
			if (dt_parse_features(optarg, host, &c.o.features)) {
				fprintf(stderr, "difftest: bad --isa list '%s'\n", optarg);
				return 2;
			}
			break;
		case 'L': c.o.low = false; break;
		case '6': c.o.code16 = true; break;
		case 'F': c.o.fpu_ptr = true; break;
		case 'a':
			if (c.nvm_args < sizeof(c.vm_args) / sizeof(c.vm_args[0]))
				c.vm_args[c.nvm_args++] = optarg;
			break;
		case 'k': keep = optarg; break;
		case 'v': c.verbose = true; break;
		case 'o': out = optarg; break;
		default: usage(); return 2;
		}
	}
	dt_set_code16(c.o.code16);
	if (c.jobs == 0)
		c.jobs = 1;
	if (c.chunk == 0)
		c.chunk = 2500;

	if (!strcmp(cmd, "features")) {
		for (unsigned f = 0; f < DT_F_COUNT; f++)
			printf("%-11s %s\n", dt_feature_name(f), (host >> f) & 1 ? "yes" : "no");
		printf("low area   %s\n", c.o.low ? "yes" : "no (vm.mmap_min_addr > 4096)");
		return 0;
	}
	if (!strcmp(cmd, "mnemonics")) {
		if (dt_gen_init(&c.o) <= 0)
			return 2;
		dt_gen_list(stdout);
		return 0;
	}
	if (!strcmp(cmd, "gen")) {
		if (!out) {
			usage();
			return 2;
		}
		if (dt_gen_init(&c.o) <= 0)
			return 2;
		struct dt_seq *all = xcalloc(c.count, sizeof(*all));
		struct dt_seq **p = xcalloc(c.count, sizeof(*p));
		for (unsigned i = 0; i < c.count; i++) {
			struct dt_analysis a;
			dt_gen_seq(&c.o, c.seed, i, &all[i]);
			if (dt_analyze(&all[i], &c.o, &a)) {
				fprintf(stderr, "difftest: sequence %u fails analysis: %s\n", i, a.why);
				return 2;
			}
			all[i].nmask = a.nmask;
			memcpy(all[i].mask, a.mask, sizeof(a.mask[0]) * a.nmask);
			p[i] = &all[i];
		}
		if (c.verbose)
			dt_gen_stats();
		if (write_batch(out, &c.o, p, c.count)) {
			fprintf(stderr, "difftest: %s: %s\n", out, strerror(errno));
			return 2;
		}
		return 0;
	}
	if (!strcmp(cmd, "show")) {
		if (optind >= argc) {
			usage();
			return 2;
		}
		struct dt_seq *seqs;
		unsigned n;
		if (read_batch(argv[optind], &c.o, &seqs, &n)) {
			fprintf(stderr, "difftest: %s: not a batch\n", argv[optind]);
			return 2;
		}
		long want = optind + 1 < argc ? strtol(argv[optind + 1], NULL, 0) : -1;
		for (unsigned i = 0; i < n; i++) {
			if (want >= 0 && seqs[i].id != (uint32_t)want)
				continue;
			printf("sequence %u (%u units, %u masks):\n", seqs[i].id, seqs[i].nunits, seqs[i].nmask);
			dt_print_seq(stdout, &seqs[i], "  ");
		}
		return 0;
	}
	if (strcmp(cmd, "run")) {
		usage();
		return 2;
	}
	if (!c.native || !c.guest_elf || !c.vm) {
		usage();
		return 2;
	}
	if (keep) {
		snprintf(c.dir, sizeof(c.dir), "%s", keep);
		mkdir(c.dir, 0755);
		c.keep = true;
	} else {
		const char *tmp = getenv("TMPDIR");
		snprintf(c.dir, sizeof(c.dir), "%s/difftest.XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(c.dir)) {
			perror("difftest: mkdtemp");
			return 2;
		}
	}
	int rc = do_run(&c);
	fflush(stdout);
	if (!c.keep) {
		char cmdline[700];
		snprintf(cmdline, sizeof(cmdline), "rm -rf '%s'", c.dir);
		if (system(cmdline) != 0)
			fprintf(stderr, "difftest: could not remove %s\n", c.dir);
	}
	return rc;
}
