/* The host end of the serial console: raw mode on a terminal stdin and its
 * restoration on every way out, the reader thread and its input queue, and
 * writes to stdout. */
#define _GNU_SOURCE
#include "host/console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <termios.h>
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
static void (*notify_fn)(void *opaque);
static void *notify_opaque;

static struct termios saved_termios;
static volatile sig_atomic_t termios_saved;

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

static void *reader_main(void *arg)
{
	uint8_t chunk[256];
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
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
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
			break;
		}
		/* End of input is not an error: the guest just gets no more. */
		if (n == 0)
			break;

		pthread_mutex_lock(&queue.lock);
		for (ssize_t i = 0; i < n; i++)
			queue.buf[(queue.head + queue.count++) % QUEUE_SIZE] = chunk[i];
		pthread_mutex_unlock(&queue.lock);
		if (notify_fn)
			notify_fn(notify_opaque);
	}
	pthread_mutex_lock(&queue.lock);
	bool ended = !queue.stopping;
	queue.ended = ended;
	pthread_mutex_unlock(&queue.lock);
	if (ended && notify_fn)
		notify_fn(notify_opaque);
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
	sigset_t mask, old_mask;
	int err;

	/* A closed or write-only stdin has nothing to read; the console
	 * still works for output. */
	if (flags < 0 || (flags & O_ACCMODE) == O_WRONLY) {
		queue.ended = true;
		return 0;
	}
	if (pipe2(wake_pipe, O_CLOEXEC))
		return -errno;

	/* Signals meant for the process (timers, kicks to the vCPU thread)
	 * must not land on the reader; faults still must. */
	sigfillset(&mask);
	sigdelset(&mask, SIGSEGV);
	sigdelset(&mask, SIGBUS);
	sigdelset(&mask, SIGFPE);
	sigdelset(&mask, SIGILL);
	sigdelset(&mask, SIGABRT);
	pthread_sigmask(SIG_SETMASK, &mask, &old_mask);
	err = pthread_create(&reader, NULL, reader_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
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

int console_open(void (*notify)(void *opaque), void *opaque)
{
	int err;

	if (is_open)
		return -EBUSY;
	if (!atexit_registered) {
		if (atexit(console_close))
			return -ENOMEM;
		atexit_registered = true;
	}
	notify_fn = notify;
	notify_opaque = opaque;
	queue.head = 0;
	queue.count = 0;
	queue.stopping = false;
	queue.ended = false;

	/* Handlers go in before the terminal changes, so there is no moment
	 * when a fatal signal would leave it raw. */
	install_signal_handlers();
	err = enter_raw_mode();
	if (!err)
		err = start_reader();
	if (err) {
		restore_terminal();
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
