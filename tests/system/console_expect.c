/* console_expect: drives a program's console from a small script, the way a
 * person at a terminal would, for end-to-end tests (booting Linux to a shell
 * under btvm or QEMU). The program runs on a pseudo-terminal (its stdin,
 * stdout and stderr; so a VMM puts it in raw mode as it does for a user) or,
 * with --pipe, on pipes. Steps run in order; every wait has a timeout and
 * nothing sleeps for a fixed time. On a failure it says which step failed,
 * prints the end of the console log, kills the program and exits 1.
 *
 * Usage: console_expect [options] SCRIPT COMMAND [ARG...]
 *   -t, --timeout SECONDS  per-step timeout (default 300)
 *   -l, --log FILE         save the whole console log to FILE
 *   -v, --verbose          copy the console to stdout as it arrives
 *   -p, --pipe             pipes instead of a pseudo-terminal
 *
 * Script lines ('#' starts a comment line; blank lines are skipped):
 *   expect TEXT        wait until TEXT appears in the output after the
 *                      previous match (raw bytes; CR, LF and escape
 *                      sequences are not interpreted)
 *   expect_text TEXT   the same, in the output with its terminal escape
 *                      sequences and carriage returns taken out (a
 *                      firmware's serial console moves the cursor inside
 *                      words)
 *   send TEXT          type TEXT and Enter (CR on a terminal, LF on a pipe)
 *   sendraw TEXT       type TEXT alone (e.g. "sendraw \x01x" for QEMU's C-a x)
 *   type TEXT          type TEXT a character at a time, each once the one
 *                      before it has been echoed, then Enter: for programs
 *                      that drop keys typed faster than they read them
 *                      (a BIOS's keyboard buffer fed from a serial port)
 *   expect_exit STATUS wait for the program to end with exit status STATUS
 *                      (a program killed by signal N counts as 128+N)
 *   timeout SECONDS    per-step timeout for the steps that follow
 *   fail_on TEXT       from here on, fail at once when TEXT appears (e.g.
 *                      "Kernel panic") rather than waiting for a timeout
 *   run COMMAND        run COMMAND on the host (/bin/sh -c, its output
 *                      where console_expect's goes unless it redirects it)
 *                      and fail unless it exits 0; the program's output is
 *                      read again after it (a benchmark measures the host
 *                      between two steps of the guest, in the same minute).
 *                      COMMAND finds the program's process ID in
 *                      CONSOLE_EXPECT_PID: the program is not reaped while
 *                      COMMAND runs, so a program that has ended stays
 *                      there, a zombie whose exit status /proc shows (a
 *                      monitor client gives up at once when it has ended)
 * TEXT may use the escapes \\ \n \r \t \e \s (space) and \xHH.
 *
 * Exit status: 0 when every step passed, 1 when one failed, 2 on bad usage
 * or a bad script. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

enum step_kind { STEP_EXPECT, STEP_EXPECT_TEXT, STEP_SEND, STEP_SENDRAW, STEP_TYPE, STEP_EXPECT_EXIT, STEP_TIMEOUT, STEP_FAIL_ON, STEP_RUN };

struct step {
	enum step_kind kind;
	char *text;   /* decoded TEXT (STEP_EXPECT, STEP_SEND*, STEP_FAIL_ON); COMMAND (STEP_RUN) */
	size_t len;
	long number;  /* STEP_EXPECT_EXIT, STEP_TIMEOUT */
	int line;     /* in the script */
	char *source; /* the line as written, for messages */
};

struct fail_pattern {
	char *text;
	size_t len;
	size_t from; /* where in the log the search goes on */
	int line;
};

/* The console log, whole, in memory. */
static char *log_buf;
static size_t log_len, log_cap;
/* The log without escape sequences (ESC [ parameters final-byte, and
 * ESC with one more byte) and carriage returns, each byte with its offset
 * in log_buf. */
static char *text_buf;
static size_t *text_at;
static size_t text_len, text_cap;
static int text_state;   /* 0: plain, 1: after ESC, 2: inside ESC [ */
static FILE *log_file;
static bool verbose;

static int console_fd = -1; /* read the program's output (pty master or pipe) */
static int input_fd = -1;   /* write the program's input (the same pty master) */
static pid_t child = -1;
static bool child_exited;
static int child_status;    /* as from waitpid */
static bool output_ended;

static struct fail_pattern *fail_patterns;
static size_t fail_count;
static const struct fail_pattern *fail_hit;

static struct step *steps;
static size_t nsteps;

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

__attribute__((format(printf, 1, 2))) static void msg(const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fputs("console_expect: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		msg("out of memory");
		exit(1);
	}
	return p;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes the escapes of TEXT into a new buffer; false on a bad escape. */
static bool decode(const char *src, char **out, size_t *out_len)
{
	size_t n = strlen(src);
	char *dst = xrealloc(NULL, n + 1);
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		if (src[i] != '\\') {
			dst[j++] = src[i];
			continue;
		}
		if (++i >= n) {
			free(dst);
			return false;
		}
		switch (src[i]) {
		case '\\': dst[j++] = '\\'; break;
		case 'n': dst[j++] = '\n'; break;
		case 'r': dst[j++] = '\r'; break;
		case 't': dst[j++] = '\t'; break;
		case 'e': dst[j++] = '\033'; break;
		case 's': dst[j++] = ' '; break;
		case 'x': {
			int hi = i + 1 < n ? hexval(src[i + 1]) : -1;
			int lo = i + 2 < n ? hexval(src[i + 2]) : -1;
			if (hi < 0 || lo < 0) {
				free(dst);
				return false;
			}
			dst[j++] = (char)(hi * 16 + lo);
			i += 2;
			break;
		}
		default:
			free(dst);
			return false;
		}
	}
	dst[j] = 0;
	*out = dst;
	*out_len = j;
	return true;
}

static bool parse_number(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static struct step *parse_script(const char *path, size_t *count)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		msg("cannot open script %s: %s", path, strerror(errno));
		exit(2);
	}
	struct step *list = NULL;
	size_t n = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	int lineno = 0;
	static const struct {
		const char *word;
		enum step_kind kind;
	} words[] = {
		{ "expect", STEP_EXPECT },           { "send", STEP_SEND },
		{ "sendraw", STEP_SENDRAW },         { "expect_exit", STEP_EXPECT_EXIT },
		{ "timeout", STEP_TIMEOUT },         { "fail_on", STEP_FAIL_ON },
		{ "run", STEP_RUN },                 { "type", STEP_TYPE },
		{ "expect_text", STEP_EXPECT_TEXT },
	};
	while ((got = getline(&line, &cap, f)) >= 0) {
		lineno++;
		while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
			line[--got] = 0;
		const char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#')
			continue;
		size_t wlen = strcspn(p, " \t");
		const char *arg = p + wlen;
		if (*arg)
			arg++; /* exactly one separator: TEXT keeps the rest as written */
		struct step s = { .line = lineno };
		size_t w;
		for (w = 0; w < sizeof words / sizeof words[0]; w++)
			if (strlen(words[w].word) == wlen && !strncmp(p, words[w].word, wlen))
				break;
		if (w == sizeof words / sizeof words[0]) {
			msg("%s:%d: unknown step '%.*s'", path, lineno, (int)wlen, p);
			exit(2);
		}
		s.kind = words[w].kind;
		bool ok = true;
		switch (s.kind) {
		case STEP_EXPECT:
		case STEP_EXPECT_TEXT:
		case STEP_FAIL_ON:
			ok = decode(arg, &s.text, &s.len) && s.len > 0;
			break;
		case STEP_SEND:
		case STEP_SENDRAW:
		case STEP_TYPE:
			ok = decode(arg, &s.text, &s.len);
			break;
		case STEP_EXPECT_EXIT:
			ok = parse_number(arg, 0, 255, &s.number);
			break;
		case STEP_TIMEOUT:
			ok = parse_number(arg, 1, 86400, &s.number);
			break;
		case STEP_RUN:
			s.text = strdup(arg);   /* for the shell as written: no escapes */
			s.len = strlen(arg);
			ok = s.len > 0;
			break;
		}
		if (!ok) {
			msg("%s:%d: bad argument in '%s'", path, lineno, p);
			exit(2);
		}
		s.source = strdup(p);
		list = xrealloc(list, (n + 1) * sizeof *list);
		list[n++] = s;
	}
	free(line);
	fclose(f);
	*count = n;
	return list;
}

static void log_append(const char *data, size_t n)
{
	if (log_len + n > log_cap) {
		log_cap = (log_len + n) * 2 + 65536;
		log_buf = xrealloc(log_buf, log_cap);
	}
	memcpy(log_buf + log_len, data, n);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)data[i];
		if (text_state == 1) {
			text_state = c == '[' ? 2 : 0;
			continue;
		}
		if (text_state == 2) {
			if (c >= 0x40 && c <= 0x7e)
				text_state = 0;
			continue;
		}
		if (c == 0x1b) {
			text_state = 1;
			continue;
		}
		if (c == '\r')
			continue;   /* a cursor movement too */
		if (text_len == text_cap) {
			text_cap = text_cap * 2 + 65536;
			text_buf = xrealloc(text_buf, text_cap);
			text_at = xrealloc(text_at, text_cap * sizeof(*text_at));
		}
		text_buf[text_len] = (char)c;
		text_at[text_len++] = log_len + i;
	}
	log_len += n;
	if (log_file) {
		fwrite(data, 1, n, log_file);
		fflush(log_file);
	}
	if (verbose) {
		fwrite(data, 1, n, stdout);
		fflush(stdout);
	}
}

/* Finds TEXT in the log at or after *from; on a miss moves *from to where
 * the next search can start without missing a match across new data. */
static bool log_find(const char *text, size_t len, size_t *from, size_t *match_end)
{
	if (*from < log_len) {
		const char *hit = memmem(log_buf + *from, log_len - *from, text, len);
		if (hit) {
			*match_end = (size_t)(hit - log_buf) + len;
			return true;
		}
	}
	if (log_len >= len && log_len - len + 1 > *from)
		*from = log_len - len + 1;
	return false;
}

/* log_find on the text without escape sequences: TEXT at or after log
 * offset from; *match_end gets the log offset after its last byte. */
static bool text_find(const char *text, size_t len, size_t from, size_t *match_end)
{
	size_t lo = 0, hi = text_len;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (text_at[mid] < from)
			lo = mid + 1;
		else
			hi = mid;
	}
	const char *hit = lo < text_len ? memmem(text_buf + lo, text_len - lo, text, len) : NULL;
	if (!hit)
		return false;
	*match_end = text_at[(size_t)(hit - text_buf) + len - 1] + 1;
	return true;
}

static void check_fail_patterns(void)
{
	for (size_t i = 0; i < fail_count && !fail_hit; i++) {
		size_t end;
		if (log_find(fail_patterns[i].text, fail_patterns[i].len, &fail_patterns[i].from, &end))
			fail_hit = &fail_patterns[i];
	}
}

static void reap(bool block)
{
	if (child_exited || child < 0)
		return;
	int status;
	pid_t r;
	do
		r = waitpid(child, &status, block ? 0 : WNOHANG);
	while (r < 0 && errno == EINTR && block);
	if (r == child) {
		child_exited = true;
		child_status = status;
	}
}

static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

enum pump_result { PUMP_PROGRESS, PUMP_TIMEOUT, PUMP_SIGNAL };

/* Waits until the deadline for output (appending it to the log) and, while
 * OUT has bytes, writes them to the program's input. Returns after some
 * progress, at the deadline or on a signal to this process. */
static enum pump_result pump(int64_t deadline, const char **out, size_t *out_len)
{
	for (;;) {
		if (stop_signal)
			return PUMP_SIGNAL;
		struct pollfd fds[2];
		nfds_t nfds = 0;
		int console_slot = -1, input_slot = -1;
		if (!output_ended) {
			fds[nfds] = (struct pollfd){ .fd = console_fd, .events = POLLIN };
			console_slot = (int)nfds++;
		}
		if (out && *out_len) {
			fds[nfds] = (struct pollfd){ .fd = input_fd, .events = POLLOUT };
			input_slot = (int)nfds++;
		}
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return PUMP_TIMEOUT;
		/* The program's exit shows in no descriptor: look for it at
		 * least every second, and in short steps once its output has
		 * ended and there is nothing else to wait on. */
		int wait_ms = left > 1000 ? 1000 : (int)left;
		if (!nfds && wait_ms > 20)
			wait_ms = 20;
		int r = poll(fds, nfds, wait_ms);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			msg("poll: %s", strerror(errno));
			exit(1);
		}
		bool progress = false;
		if (console_slot >= 0 && fds[console_slot].revents) {
			char buf[65536];
			ssize_t n = read(console_fd, buf, sizeof buf);
			if (n > 0) {
				log_append(buf, (size_t)n);
				check_fail_patterns();
				progress = true;
			} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
				/* EOF on a pipe; EIO on a pty master once every
				 * holder of the terminal has closed it. */
				output_ended = true;
				progress = true;
			}
		}
		if (input_slot >= 0 && fds[input_slot].revents) {
			ssize_t n = write(input_fd, *out, *out_len);
			if (n > 0) {
				*out += n;
				*out_len -= (size_t)n;
				progress = true;
			} else if (n < 0 && errno != EINTR && errno != EAGAIN) {
				msg("cannot write to the program's input: %s", strerror(errno));
				*out_len = 0;
				progress = true;
			}
		}
		bool was_exited = child_exited;
		reap(false);
		if (child_exited != was_exited)
			progress = true;
		if (progress)
			return PUMP_PROGRESS;
	}
}

static void kill_child(void)
{
	if (child < 0 || child_exited)
		return;
	/* The program leads its own session and process group (pty mode) or
	 * process group (pipe mode): end all of it. */
	kill(-child, SIGTERM);
	kill(child, SIGTERM);
	int64_t deadline = now_ms() + 3000;
	while (!child_exited && now_ms() < deadline) {
		reap(false);
		if (!child_exited) {
			struct timespec ts = { 0, 20 * 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	if (!child_exited) {
		kill(-child, SIGKILL);
		kill(child, SIGKILL);
		reap(true);
	}
}

/* Prints the last LINES lines of the log to stdout. */
static void dump_log_tail(size_t lines)
{
	size_t start = log_len;
	size_t seen = 0;
	while (start > 0) {
		if (log_buf[start - 1] == '\n' && ++seen > lines)
			break;
		start--;
	}
	fflush(stdout);
	printf("---- console log%s (%zu bytes) ----\n", start ? ", last lines" : "", log_len);
	if (log_len > start)
		fwrite(log_buf + start, 1, log_len - start, stdout);
	if (log_len && log_buf[log_len - 1] != '\n')
		putchar('\n');
	printf("---- end of console log ----\n");
	fflush(stdout);
}

static const char *log_path;

static void describe_exit(char *buf, size_t n)
{
	if (!child_exited)
		snprintf(buf, n, "was still running");
	else if (WIFEXITED(child_status))
		snprintf(buf, n, "exited with status %d", WEXITSTATUS(child_status));
	else if (WIFSIGNALED(child_status))
		snprintf(buf, n, "was killed by signal %d (%s)", WTERMSIG(child_status),
			 strsignal(WTERMSIG(child_status)));
	else
		snprintf(buf, n, "ended (status 0x%x)", child_status);
}

/* Takes in what the program wrote that has not been read yet, and whether
 * it has ended. Nothing reads its output while a `run` step's command
 * runs: a program that said why it stopped and exited meanwhile showed an
 * empty log, as if it had hung without a word. */
static void drain_output(void)
{
	int64_t end = now_ms() + 500;
	while (!output_ended && pump(end, NULL, NULL) == PUMP_PROGRESS)
		;
	reap(false);
}

static void fail(const struct step *s, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void fail(const struct step *s, const char *fmt, ...)
{
	char why[512], how[128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	drain_output();
	describe_exit(how, sizeof how);
	kill_child();
	if (!verbose)
		dump_log_tail(200);
	if (s)
		msg("FAILED at script line %d (%s): %s", s->line, s->source, why);
	else
		msg("FAILED: %s", why);
	msg("the program %s when the step failed", how);
	if (log_path)
		msg("the whole console log is in %s", log_path);
	exit(1);
}

/* After the output ended: gives the program a moment to exit, so that
 * the failure message can tell how it ended. */
static void wait_exit_briefly(void)
{
	int64_t deadline = now_ms() + 1000;
	while (!child_exited && now_ms() < deadline) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		reap(false);
	}
}

/* Common checks while a step waits: a fail_on pattern, a signal, a timeout. */
static void check_wait(const struct step *s, enum pump_result r, long timeout_s)
{
	if (fail_hit)
		fail(s, "the console showed '%s' (fail_on at script line %d)", fail_hit->text, fail_hit->line);
	if (r == PUMP_SIGNAL)
		fail(s, "stopped by signal %d", (int)stop_signal);
	if (r == PUMP_TIMEOUT)
		fail(s, "timed out after %ld s", timeout_s);
}

static void start_child(char **argv, bool use_pipe)
{
	int in_pipe[2] = { -1, -1 }, out_pipe[2] = { -1, -1 };
	const char *slave_name = NULL;
	int master = -1;
	if (use_pipe) {
		if (pipe2(in_pipe, O_CLOEXEC) || pipe2(out_pipe, O_CLOEXEC)) {
			msg("pipe: %s", strerror(errno));
			exit(1);
		}
		console_fd = out_pipe[0];
		input_fd = in_pipe[1];
	} else {
		master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (master < 0 || grantpt(master) || unlockpt(master) || !(slave_name = ptsname(master))) {
			msg("cannot make a pseudo-terminal: %s", strerror(errno));
			exit(1);
		}
		console_fd = input_fd = master;
	}
	/* The child's end closes at its exec (or it sends errno when exec
	 * fails): until then a pty master would read as hung up. */
	int exec_pipe[2];
	if (pipe2(exec_pipe, O_CLOEXEC)) {
		msg("pipe: %s", strerror(errno));
		exit(1);
	}
	fflush(NULL);
	child = fork();
	if (child < 0) {
		msg("fork: %s", strerror(errno));
		exit(1);
	}
	if (child == 0) {
		signal(SIGPIPE, SIG_DFL);
		if (use_pipe) {
			setpgid(0, 0);
			if (dup2(in_pipe[0], 0) < 0 || dup2(out_pipe[1], 1) < 0 || dup2(out_pipe[1], 2) < 0)
				_exit(127);
		} else {
			/* A session of its own, with the terminal as its
			 * controlling terminal, as a shell would start it. */
			setsid();
			int slave = open(slave_name, O_RDWR);
			if (slave < 0)
				_exit(127);
			ioctl(slave, TIOCSCTTY, 0);
			struct winsize ws = { .ws_row = 50, .ws_col = 160 };
			ioctl(slave, TIOCSWINSZ, &ws);
			if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0 || dup2(slave, 2) < 0)
				_exit(127);
			if (slave > 2)
				close(slave);
		}
		execvp(argv[0], argv);
		int err = errno;
		if (write(exec_pipe[1], &err, sizeof err) < 0)
			_exit(127);
		_exit(127);
	}
	close(exec_pipe[1]);
	int err;
	ssize_t got;
	do
		got = read(exec_pipe[0], &err, sizeof err);
	while (got < 0 && errno == EINTR);
	close(exec_pipe[0]);
	if (got == (ssize_t)sizeof err) {
		reap(true);
		msg("cannot run %s: %s", argv[0], strerror(err));
		exit(1);
	}
	if (use_pipe) {
		close(in_pipe[0]);
		close(out_pipe[1]);
		setpgid(child, child);
	}
	fcntl(console_fd, F_SETFL, fcntl(console_fd, F_GETFL) | O_NONBLOCK);
	fcntl(input_fd, F_SETFL, fcntl(input_fd, F_GETFL) | O_NONBLOCK);
}

static void free_all(void)
{
	for (size_t i = 0; i < nsteps; i++) {
		free(steps[i].text);
		free(steps[i].source);
	}
	free(steps);
	free(fail_patterns);
	free(log_buf);
	free(text_buf);
	free(text_at);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: console_expect [-t SECONDS] [-l LOGFILE] [-v] [-p] SCRIPT COMMAND [ARG...]\n"
		"  -t, --timeout SECONDS  per-step timeout (default 300)\n"
		"  -l, --log FILE         save the whole console log to FILE\n"
		"  -v, --verbose          copy the console to stdout as it arrives\n"
		"  -p, --pipe             run COMMAND on pipes instead of a pseudo-terminal\n"
		"script steps: expect TEXT | send TEXT | sendraw TEXT | expect_exit STATUS |\n"
		"              timeout SECONDS | fail_on TEXT | run COMMAND   (see the source's top comment)\n");
}

int main(int argc, char **argv)
{
	long timeout_s = 300;
	bool use_pipe = false;
	static const struct option longopts[] = {
		{ "timeout", required_argument, NULL, 't' }, { "log", required_argument, NULL, 'l' },
		{ "verbose", no_argument, NULL, 'v' },       { "pipe", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },          { NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "+t:l:vph", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (!parse_number(optarg, 1, 86400, &timeout_s)) {
				msg("bad timeout '%s' (seconds, 1 to 86400)", optarg);
				return 2;
			}
			break;
		case 'l': log_path = optarg; break;
		case 'v': verbose = true; break;
		case 'p': use_pipe = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind < 2) {
		usage(stderr);
		return 2;
	}
	steps = parse_script(argv[optind], &nsteps);
	atexit(free_all);
	if (log_path && !(log_file = fopen(log_path, "w"))) {
		msg("cannot write the log %s: %s", log_path, strerror(errno));
		return 2;
	}

	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	start_child(argv + optind + 1, use_pipe);
	char pid_text[24];
	snprintf(pid_text, sizeof pid_text, "%ld", (long)child);
	setenv("CONSOLE_EXPECT_PID", pid_text, 1);

	size_t match_pos = 0; /* the log before this has been matched */
	for (size_t i = 0; i < nsteps; i++) {
		const struct step *s = &steps[i];
		int64_t deadline = now_ms() + (int64_t)timeout_s * 1000;
		switch (s->kind) {
		case STEP_TIMEOUT:
			timeout_s = s->number;
			break;
		case STEP_FAIL_ON:
			fail_patterns = xrealloc(fail_patterns, (fail_count + 1) * sizeof *fail_patterns);
			fail_patterns[fail_count++] =
				(struct fail_pattern){ .text = s->text, .len = s->len, .from = match_pos, .line = s->line };
			check_fail_patterns();
			check_wait(s, PUMP_PROGRESS, timeout_s);
			break;
		case STEP_EXPECT:
		case STEP_EXPECT_TEXT: {
			size_t from = match_pos, end;
			for (;;) {
				if (fail_hit)
					check_wait(s, PUMP_PROGRESS, timeout_s);
				if (s->kind == STEP_EXPECT ? log_find(s->text, s->len, &from, &end)
							   : text_find(s->text, s->len, match_pos, &end)) {
					match_pos = end;
					break;
				}
				if (output_ended) {
					wait_exit_briefly();
					char how[128];
					describe_exit(how, sizeof how);
					fail(s, "the program's output ended (it %s) before the text appeared", how);
				}
				check_wait(s, pump(deadline, NULL, NULL), timeout_s);
			}
			break;
		}
		case STEP_SEND:
		case STEP_SENDRAW: {
			if (child_exited || output_ended) {
				char how[128];
				describe_exit(how, sizeof how);
				fail(s, "cannot type: the program %s", how);
			}
			size_t len = s->len;
			char *buf = xrealloc(NULL, len + 1);
			memcpy(buf, s->text, len);
			if (s->kind == STEP_SEND)
				buf[len++] = use_pipe ? '\n' : '\r';
			const char *p = buf;
			while (len) {
				check_wait(s, pump(deadline, &p, &len), timeout_s);
				if (child_exited && len) {
					free(buf);
					fail(s, "the program ended while being typed to");
				}
			}
			free(buf);
			break;
		}
		case STEP_TYPE: {
			for (size_t k = 0; k <= s->len; k++) {
				char key = k < s->len ? s->text[k] : use_pipe ? '\n' : '\r';
				const char *p = &key;
				size_t len = 1;
				while (len) {
					if (child_exited || output_ended)
						fail(s, "the program ended while being typed to");
					check_wait(s, pump(deadline, &p, &len), timeout_s);
				}
				if (k == s->len)
					break;
				size_t from = match_pos, end;
				while (!log_find(&key, 1, &from, &end)) {
					if (output_ended)
						fail(s, "the program's output ended before it echoed '%c'", key);
					check_wait(s, pump(deadline, NULL, NULL), timeout_s);
				}
				match_pos = end;
			}
			break;
		}
		case STEP_RUN: {
			fflush(stdout);
			int status = system(s->text);
			if (status == -1)
				fail(s, "cannot run the host command: %s", strerror(errno));
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				fail(s, "the host command %s %d", WIFEXITED(status) ? "exited with status" : "was killed by signal",
				     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
			break;
		}
		case STEP_EXPECT_EXIT: {
			while (!child_exited)
				check_wait(s, pump(deadline, NULL, NULL), timeout_s);
			/* Take in what the program wrote last. Its terminal ends
			 * (EIO) once nothing holds it; a grandchild that still
			 * does gets a short grace only. */
			int64_t drain_end = now_ms() + 2000;
			while (!output_ended && pump(drain_end, NULL, NULL) == PUMP_PROGRESS)
				;
			if (fail_hit)
				check_wait(s, PUMP_PROGRESS, timeout_s);
			int code = exit_code(child_status);
			if (code != s->number) {
				char how[128];
				describe_exit(how, sizeof how);
				fail(s, "the program %s, want status %ld", how, s->number);
			}
			break;
		}
		}
	}
	/* Every step passed. A program still running is not wanted any more. */
	kill_child();
	msg("all %zu steps passed", nsteps);
	if (log_file)
		fclose(log_file);
	return 0;
}
