/* The host end of the serial console: raw mode on a terminal stdin, its
 * restoration on every way out and its return after a stop (SIGTSTP, or
 * SIGSTOP and a shell's fg), the reader thread with its input queue, the
 * escape keys and the monitor's line editor, and writes to stdout. */
#define _GNU_SOURCE
#include "host/console.h"
#include "host/thread.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define QUEUE_SIZE 4096
/* The reader stops this short of full so that bytes a consumer took and
 * hands back with console_unread_byte always fit, whatever the reader did
 * in between. */
#define UNREAD_SLACK 16
#define QUEUE_LIMIT (QUEUE_SIZE - UNREAD_SLACK)

static struct {
	pthread_mutex_t lock;
	pthread_cond_t room;
	uint8_t buf[QUEUE_SIZE];
	unsigned head, count;
	bool stopping;
	bool ended;   /* stdin reached its end (or cannot be read): no more input */
} queue = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.room = PTHREAD_COND_INITIALIZER,
};

static bool is_open;
static bool atexit_registered;
static pthread_t reader;
static bool reader_running;
/* Writing to wake_pipe[1] gets the reader out of poll() when closing. */
static int wake_pipe[2] = { -1, -1 };
static struct console_ops ops;

static struct termios saved_termios, raw_termios;
static volatile sig_atomic_t termios_saved;

/* The escape key, QEMU's: Ctrl-A. */
#define ESCAPE_KEY 0x01
#define MONITOR_LINE_MAX 512
#define QUIT_GRACE_NS 3000000000ll
/* How often a reader in the background looks whether it is in front again,
 * and how often the reader checks that the terminal is still raw. */
#define BACKGROUND_POLL_MS 100
#define FOREGROUND_CHECK_MS 250
/* Reader thread only, but for at_monitor, which console_prompt reads. */
static bool escape_pending;
static atomic_bool at_monitor;
static char monitor_line[MONITOR_LINE_MAX];
static size_t monitor_len;
static bool last_was_cr;
static struct sigaction old_tstp, old_cont;
static bool job_handlers_installed;

/* Signals whose default action kills the process; each would otherwise
 * leave the user's terminal raw. */
static const int fatal_signals[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGABRT, SIGBUS, SIGFPE,
	SIGSEGV, SIGPIPE, SIGTERM, SIGXCPU, SIGXFSZ, SIGSYS,
};
#define NUM_FATAL_SIGNALS (sizeof(fatal_signals) / sizeof(fatal_signals[0]))
static struct sigaction old_actions[NUM_FATAL_SIGNALS];
static bool handler_installed[NUM_FATAL_SIGNALS];

/* Async-signal-safe: the fatal-signal handler calls it. */
static void restore_terminal(void)
{
	if (termios_saved) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
		termios_saved = 0;
	}
}

static void fatal_signal(int sig)
{
	int saved_errno = errno;

	restore_terminal();
	/* SA_RESETHAND put the default action back: once this returns (or
	 * at once if the signal is not deferred) the process dies of the
	 * same signal, so the exit status and core dump are what they would
	 * have been without us. */
	raise(sig);
	errno = saved_errno;
}

static void install_signal_handlers(void)
{
	struct sigaction sa = { .sa_handler = fatal_signal, .sa_flags = SA_RESETHAND };

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < NUM_FATAL_SIGNALS; i++) {
		handler_installed[i] = false;
		if (sigaction(fatal_signals[i], NULL, &old_actions[i]))
			continue;
		/* A signal the program ignores or handles itself is left alone:
		 * a SIGSEGV handler, say, may be how memory tracking works, and
		 * restoring the terminal there would be wrong. */
		if ((old_actions[i].sa_flags & SA_SIGINFO) ||
		    old_actions[i].sa_handler != SIG_DFL)
			continue;
		if (!sigaction(fatal_signals[i], &sa, NULL))
			handler_installed[i] = true;
	}
}

static void restore_signal_handlers(void)
{
	for (size_t i = 0; i < NUM_FATAL_SIGNALS; i++) {
		struct sigaction cur;

		if (!handler_installed[i])
			continue;
		handler_installed[i] = false;
		/* Someone may have taken the signal over since; keep theirs. */
		if (sigaction(fatal_signals[i], NULL, &cur) ||
		    (cur.sa_flags & SA_SIGINFO) || cur.sa_handler != fatal_signal)
			continue;
		sigaction(fatal_signals[i], &old_actions[i], NULL);
	}
}

/* Async-signal-safe: raw mode again, if the terminal is ours to set (the
 * process group in front); a shell that stopped us put its own modes back. */
static void reapply_raw_mode(void)
{
	if (termios_saved && tcgetpgrp(STDIN_FILENO) == getpgrp())
		tcsetattr(STDIN_FILENO, TCSANOW, &raw_termios);
}

static void on_continue(int sig)
{
	int saved_errno = errno;
	(void)sig;
	reapply_raw_mode();
	errno = saved_errno;
}

/* kill -TSTP (Ctrl-Z itself goes to the guest): the terminal as it was,
 * then stop for real; raw again once continued. */
static void on_terminal_stop(int sig)
{
	int saved_errno = errno;
	struct sigaction dfl = { .sa_handler = SIG_DFL }, mine;
	if (termios_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
	sigemptyset(&dfl.sa_mask);
	sigaction(sig, &dfl, &mine);
	raise(sig);
	sigaction(sig, &mine, NULL);
	reapply_raw_mode();
	errno = saved_errno;
}

static void install_job_handlers(void)
{
	struct sigaction cont = { .sa_handler = on_continue, .sa_flags = SA_RESTART };
	/* SA_NODEFER: the raise() inside must stop us, not wait for the end. */
	struct sigaction tstp = { .sa_handler = on_terminal_stop, .sa_flags = SA_RESTART | SA_NODEFER };
	host_handler_mask(&cont.sa_mask);
	host_handler_mask(&tstp.sa_mask);
	if (!isatty(STDIN_FILENO))
		return;
	sigaction(SIGCONT, &cont, &old_cont);
	sigaction(SIGTSTP, &tstp, &old_tstp);
	job_handlers_installed = true;
}

static void restore_job_handlers(void)
{
	if (!job_handlers_installed)
		return;
	sigaction(SIGCONT, &old_cont, NULL);
	sigaction(SIGTSTP, &old_tstp, NULL);
	job_handlers_installed = false;
}

static int enter_raw_mode(void)
{
	struct termios raw;

	if (!isatty(STDIN_FILENO))
		return 0;
	if (tcgetattr(STDIN_FILENO, &saved_termios))
		return -errno;
	raw = saved_termios;
	/* Every byte goes to the guest as typed: no CR translation, no flow
	 * control, no echo, no line editing, and no signals from ^C or ^Z,
	 * which belong to the guest's shell. */
	raw.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL |
				   IXON);
	raw.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	raw.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
	raw.c_cflag |= CS8;
	raw.c_cc[VMIN] = 1;
	raw.c_cc[VTIME] = 0;
	raw_termios = raw;
	/* c_oflag keeps OPOST: the guest writes "\n" and expects the
	 * terminal to return the carriage, as a real serial terminal set to
	 * auto-CR would. */
	termios_saved = 1;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw)) {
		int err = -errno;
		termios_saved = 0;
		return err;
	}
	return 0;
}

static void queue_guest_byte(uint8_t byte)
{
	pthread_mutex_lock(&queue.lock);
	queue.buf[(queue.head + queue.count++) % QUEUE_SIZE] = byte;
	pthread_mutex_unlock(&queue.lock);
}

static void echo(const char *s)
{
	console_write(s, strlen(s));
}

static void print_escape_help(void)
{
	echo("\r\nC-a h    print this help\r\n"
	     "C-a x    exit btvm\r\n"
	     "C-a c    switch between the guest's console and the monitor\r\n"
	     "C-a C-a  send C-a to the guest\r\n");
}

/* Ctrl-A x: btvm should close the console soon; if it does not, the
 * process ends here, the terminal restored first. */
static void quit_requested(void)
{
	struct timespec deadline;
	echo("\r\nbtvm: Ctrl-A x: stopping\r\n");
	if (ops.quit)
		ops.quit(ops.opaque);
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += QUIT_GRACE_NS / 1000000000ll;
	pthread_mutex_lock(&queue.lock);
	while (!queue.stopping)
		if (pthread_cond_timedwait(&queue.room, &queue.lock, &deadline) == ETIMEDOUT)
			break;
	bool stopping = queue.stopping;
	pthread_mutex_unlock(&queue.lock);
	if (stopping)
		return;
	restore_terminal();
	static const char msg[] = "btvm: the monitor does not answer; exiting\n";
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* Nowhere to say it. */
	}
	_exit(1);
}

/* A byte typed while the terminal is at the monitor: a small line editor. */
static void monitor_byte(uint8_t byte)
{
	bool cr = byte == '\r';
	if (byte == '\n' && last_was_cr) {
		last_was_cr = false;
		return;
	}
	last_was_cr = cr;
	if (cr || byte == '\n') {
		echo("\r\n");
		monitor_line[monitor_len] = '\0';
		monitor_len = 0;
		if (ops.monitor_line)
			ops.monitor_line(ops.opaque, monitor_line);
		else
			console_prompt();
	} else if (byte == 0x7f || byte == '\b') {
		if (monitor_len) {
			monitor_len--;
			echo("\b \b");
		}
	} else if (byte == 0x03 || byte == 0x15) {   /* Ctrl-C, Ctrl-U: drop the line */
		monitor_len = 0;
		echo("^C\r\n");
		console_prompt();
	} else if (byte >= 0x20 && byte < 0x7f && monitor_len < MONITOR_LINE_MAX - 1) {
		monitor_line[monitor_len++] = (char)byte;
		console_write(&byte, 1);
	}
}

/* One input byte through the escape keys; returns whether guest input was
 * queued. */
static bool input_byte(uint8_t byte)
{
	if (escape_pending) {
		escape_pending = false;
		switch (byte) {
		case 'x':
		case 'X':
			quit_requested();
			return false;
		case 'c':
		case 'C':
			if (atomic_load(&at_monitor)) {
				atomic_store(&at_monitor, false);
				echo("\r\n");
			} else {
				atomic_store(&at_monitor, true);
				monitor_len = 0;
				echo("\r\nbtvm monitor: 'help' lists the commands, Ctrl-A c returns to the guest\r\n");
				console_prompt();
			}
			return false;
		case 'h':
		case 'H':
		case '?':
			print_escape_help();
			console_prompt();
			return false;
		case ESCAPE_KEY:
			break;   /* sent on as one Ctrl-A */
		default:
			return false;   /* not a key: dropped, as QEMU does */
		}
	} else if (byte == ESCAPE_KEY) {
		escape_pending = true;
		return false;
	}
	if (atomic_load(&at_monitor)) {
		monitor_byte(byte);
		return false;
	}
	queue_guest_byte(byte);
	return true;
}

/* A shell that had the terminal (we were stopped, or continued in the
 * background) set its own modes, and its fg of a job running in the
 * background sends no SIGCONT: whenever the terminal is ours again and not
 * as we set it, raw mode goes back. */
static void keep_raw_mode(void)
{
	struct termios cur;
	pthread_mutex_lock(&queue.lock);
	if (!queue.stopping && termios_saved && tcgetpgrp(STDIN_FILENO) == getpgrp() &&
	    !tcgetattr(STDIN_FILENO, &cur) &&
	    (cur.c_lflag != raw_termios.c_lflag || cur.c_iflag != raw_termios.c_iflag))
		tcsetattr(STDIN_FILENO, TCSANOW, &raw_termios);
	pthread_mutex_unlock(&queue.lock);
}

static void *reader_main(void *arg)
{
	uint8_t chunk[256];
	bool tty = isatty(STDIN_FILENO);
	(void)arg;

	for (;;) {
		size_t room;
		bool stop;

		pthread_mutex_lock(&queue.lock);
		while (!queue.stopping && queue.count >= QUEUE_LIMIT)
			pthread_cond_wait(&queue.room, &queue.lock);
		stop = queue.stopping;
		room = QUEUE_LIMIT - queue.count;
		pthread_mutex_unlock(&queue.lock);
		if (stop)
			break;

		struct pollfd fds[2] = {
			{ .fd = STDIN_FILENO, .events = POLLIN },
			{ .fd = wake_pipe[0], .events = POLLIN },
		};
		int ready = poll(fds, 2, tty ? FOREGROUND_CHECK_MS : -1);
		if (ready < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (tty)
			keep_raw_mode();
		if (!ready)
			continue;
		if (fds[1].revents)
			break;
		if (fds[0].revents & POLLNVAL)
			break;
		if (!fds[0].revents)
			continue;

		/* Never more than fits, so nothing read is ever dropped. */
		if (room > sizeof(chunk))
			room = sizeof(chunk);
		ssize_t n = read(STDIN_FILENO, chunk, room);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
				continue;
			/* A terminal read from the background (continued
			 * after a stop while the shell has the terminal; this
			 * thread blocks SIGTTIN): wait until we are in front. */
			if (errno == EIO && isatty(STDIN_FILENO)) {
				poll(&fds[1], 1, BACKGROUND_POLL_MS);
				continue;
			}
			break;
		}
		/* End of input is not an error: the guest just gets no more. */
		if (n == 0)
			break;

		bool queued = false;
		for (ssize_t i = 0; i < n; i++)
			queued |= input_byte(chunk[i]);
		if (queued && ops.input)
			ops.input(ops.opaque);
	}
	pthread_mutex_lock(&queue.lock);
	bool ended = !queue.stopping;
	queue.ended = ended;
	pthread_mutex_unlock(&queue.lock);
	if (ended && ops.input)
		ops.input(ops.opaque);
	return NULL;
}

static void close_wake_pipe(void)
{
	for (int i = 0; i < 2; i++) {
		if (wake_pipe[i] >= 0)
			close(wake_pipe[i]);
		wake_pipe[i] = -1;
	}
}

static int start_reader(void)
{
	int flags = fcntl(STDIN_FILENO, F_GETFL);
	int err;

	/* A closed or write-only stdin has nothing to read; the console
	 * still works for output. */
	if (flags < 0 || (flags & O_ACCMODE) == O_WRONLY) {
		queue.ended = true;
		return 0;
	}
	if (pipe2(wake_pipe, O_CLOEXEC))
		return -errno;

	err = -host_thread_create(&reader, reader_main, NULL);
	if (err) {
		close_wake_pipe();
		return -err;
	}
	reader_running = true;
	return 0;
}

static void stop_reader(void)
{
	if (!reader_running)
		return;
	pthread_mutex_lock(&queue.lock);
	queue.stopping = true;
	pthread_cond_broadcast(&queue.room);
	pthread_mutex_unlock(&queue.lock);
	while (write(wake_pipe[1], "", 1) < 0 && errno == EINTR)
		;
	pthread_join(reader, NULL);
	reader_running = false;
}

int console_open(const struct console_ops *console_ops)
{
	int err;

	if (is_open)
		return -EBUSY;
	if (!atexit_registered) {
		if (atexit(console_close))
			return -ENOMEM;
		atexit_registered = true;
	}
	ops = console_ops ? *console_ops : (struct console_ops){ 0 };
	escape_pending = false;
	atomic_store(&at_monitor, false);
	monitor_len = 0;
	queue.head = 0;
	queue.count = 0;
	queue.stopping = false;
	queue.ended = false;

	/* Handlers go in before the terminal changes, so there is no moment
	 * when a fatal signal would leave it raw. */
	install_signal_handlers();
	err = enter_raw_mode();
	if (!err) {
		install_job_handlers();
		err = start_reader();
	}
	if (err) {
		restore_terminal();
		restore_job_handlers();
		restore_signal_handlers();
		return err;
	}
	is_open = true;
	return 0;
}

void console_close(void)
{
	/* The terminal first: it matters most to the user, and the steps
	 * after it are the ones that could conceivably hang. */
	/* The reader must not make the terminal raw again once restored. */
	pthread_mutex_lock(&queue.lock);
	queue.stopping = true;
	pthread_mutex_unlock(&queue.lock);
	restore_job_handlers();
	restore_terminal();
	stop_reader();
	close_wake_pipe();
	restore_signal_handlers();
	is_open = false;
}

bool console_read_byte(uint8_t *byte)
{
	bool got = false;

	pthread_mutex_lock(&queue.lock);
	if (queue.count) {
		*byte = queue.buf[queue.head];
		queue.head = (queue.head + 1) % QUEUE_SIZE;
		queue.count--;
		got = true;
		if (queue.count < QUEUE_LIMIT)
			pthread_cond_signal(&queue.room);
	}
	pthread_mutex_unlock(&queue.lock);
	return got;
}

void console_unread_byte(uint8_t byte)
{
	pthread_mutex_lock(&queue.lock);
	/* UNREAD_SLACK makes this always true for a caller that hands back
	 * at most that many of the bytes it took. */
	if (queue.count < QUEUE_SIZE) {
		queue.head = (queue.head + QUEUE_SIZE - 1) % QUEUE_SIZE;
		queue.buf[queue.head] = byte;
		queue.count++;
	}
	pthread_mutex_unlock(&queue.lock);
}

void console_write(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(STDOUT_FILENO, p, len);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = { .fd = STDOUT_FILENO, .events = POLLOUT };

			if (poll(&pfd, 1, -1) >= 0 || errno == EINTR)
				continue;
		}
		/* stdout is gone (or refuses bytes): the output has nowhere to go. */
		return;
	}
}

bool console_input_ended(void)
{
	pthread_mutex_lock(&queue.lock);
	bool ended = !is_open || queue.ended;
	pthread_mutex_unlock(&queue.lock);
	return ended;
}

void console_prompt(void)
{
	if (atomic_load(&at_monitor))
		echo("(btvm) ");
}
