/* diod in a user and mount namespace of its own, its root a tmpfs with the
 * shared folder at /share: see share_server.h. */
#define _GNU_SOURCE
#include "host/share_server.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The uid and gid diod has in its namespace (nobody and nogroup): never
 * root there, and the one user it serves (SHARE_SERVER_UID). */
#define INNER_ID SHARE_SERVER_UID
/* The socket's number in diod (--rfdno, --wfdno). */
#define SERVER_FD 3
/* How long diod may take to start before the share fails. */
#define START_TIMEOUT_MS 10000
/* The host's top-level names diod's start needs (the binary, the loader,
 * its libraries and ld.so.cache), copied into its root as
 * symlinks or bind mounts, whichever they are on the host, and removed
 * before it serves anything. */
static const char *const start_names[] = { "usr", "etc", "bin", "sbin", "lib", "lib32", "lib64",
					   "libx32" };

/* ---- The keeper, after fork: raw system calls, no allocation ------------ */

/* A failure for btvm to print: the step, and errno's reason. Ends the
 * keeper. */
_Noreturn static void keeper_fail(int status_fd, const char *what, int err)
{
	char msg[256];
	int n = snprintf(msg, sizeof(msg), "%s: %s", what, strerror(err));
	if (n > 0 && write(status_fd, msg, (size_t)n) < 0) {
		/* btvm is gone: nobody to tell. */
	}
	_exit(1);
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, text, strlen(text));
	int saved = errno;
	close(fd);
	errno = saved;
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* The flags a bind remount must keep: the kernel refuses to clear the
 * ones the original mount has (they are locked in a user namespace). */
static unsigned long locked_flags(const char *path)
{
	struct statvfs sv;
	unsigned long f = 0;
	if (statvfs(path, &sv) < 0)
		return 0;
	if (sv.f_flag & ST_RDONLY)
		f |= MS_RDONLY;
	if (sv.f_flag & ST_NOEXEC)
		f |= MS_NOEXEC;
	if (sv.f_flag & ST_NOATIME)
		f |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME)
		f |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME)
		f |= MS_RELATIME;
	return f;
}

/* Whether diod has started its worker threads: past its start-up. */
static bool diod_running(int proc_fd, pid_t pid)
{
	char path[64], buf[2048];
	snprintf(path, sizeof(path), "%d/status", (int)pid);
	int fd = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	const char *t = strstr(buf, "\nThreads:");
	return t && atoi(t + 9) > 1;
}

_Noreturn static void keeper(const char *path, int host_fd, int sock, int status_fd, bool readonly,
			     uid_t uid, gid_t gid, const char *diod)
{
	char text[64];

	/* Die with btvm: a keeper must not outlive the machine. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1)
		_exit(1);
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		keeper_fail(status_fd,
			    "cannot confine its 9P server: user namespaces are unavailable "
			    "(unshare CLONE_NEWUSER)",
			    errno);
	if (write_file("/proc/self/setgroups", "deny") < 0)
		keeper_fail(status_fd, "cannot write /proc/self/setgroups", errno);
	snprintf(text, sizeof(text), "%u %u 1", INNER_ID, (unsigned)uid);
	if (write_file("/proc/self/uid_map", text) < 0)
		keeper_fail(status_fd, "cannot write /proc/self/uid_map", errno);
	snprintf(text, sizeof(text), "%u %u 1", INNER_ID, (unsigned)gid);
	if (write_file("/proc/self/gid_map", text) < 0)
		keeper_fail(status_fd, "cannot write /proc/self/gid_map", errno);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		keeper_fail(status_fd, "cannot make the mounts private", errno);
	/* The folder again, in this namespace's copy of the tree: a mount
	 * of the old namespace's cannot be bound here. The same directory
	 * btvm opened, or the share fails. */
	struct stat before, now;
	int ns_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (ns_fd < 0 || fstat(host_fd, &before) < 0 || fstat(ns_fd, &now) < 0)
		keeper_fail(status_fd, "cannot open the shared folder", errno);
	if (before.st_dev != now.st_dev || before.st_ino != now.st_ino)
		keeper_fail(status_fd, "the shared folder moved while it was set up", EBUSY);
	close(host_fd);
	host_fd = ns_fd;
	int proc_fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (proc_fd < 0)
		keeper_fail(status_fd, "cannot open /proc", errno);

	/* The new root: a tmpfs on /tmp of this namespace (hiding /tmp here
	 * hides nothing from anyone else; the folder is reached through
	 * its descriptor). */
	const char *root = "/tmp";
	if (mount("btvm-share", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k") < 0)
		keeper_fail(status_fd, "cannot mount the server's tmpfs root", errno);
	if (chdir(root) < 0)
		keeper_fail(status_fd, "cannot enter the server's root", errno);
	if (mkdir("share", 0755) < 0)
		keeper_fail(status_fd, "cannot make /share", errno);
	char src[64];
	snprintf(src, sizeof(src), "/proc/self/fd/%d", host_fd);
	if (mount(src, "share", NULL, MS_BIND, NULL) < 0)
		keeper_fail(status_fd, "cannot bind-mount the shared folder", errno);
	unsigned long flags = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | locked_flags("share");
	if (readonly)
		flags |= MS_RDONLY;
	if (mount(NULL, "share", NULL, flags, NULL) < 0)
		keeper_fail(status_fd, "cannot remount the shared folder nosuid,nodev", errno);
	int conf = open("diod.conf", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (conf < 0)
		keeper_fail(status_fd, "cannot make diod's empty configuration", errno);
	close(conf);
	for (size_t i = 0; i < sizeof(start_names) / sizeof(start_names[0]); i++) {
		char host_path[32], target[256];
		struct stat st;
		snprintf(host_path, sizeof(host_path), "/%s", start_names[i]);
		if (lstat(host_path, &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			ssize_t n = readlink(host_path, target, sizeof(target) - 1);
			if (n < 0)
				continue;
			target[n] = '\0';
			if (symlink(target, start_names[i]) < 0)
				keeper_fail(status_fd, "cannot link the host's libraries", errno);
		} else if (S_ISDIR(st.st_mode)) {
			if (mkdir(start_names[i], 0755) < 0 ||
			    mount(host_path, start_names[i], NULL, MS_BIND | MS_REC, NULL) < 0)
				keeper_fail(status_fd, "cannot bind the host's libraries", errno);
		}
	}
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		keeper_fail(status_fd, "cannot pivot_root into the server's root", errno);
	if (umount2(".", MNT_DETACH) < 0)
		keeper_fail(status_fd, "cannot detach the host's root", errno);
	if (chdir("/") < 0)
		keeper_fail(status_fd, "cannot enter the server's root", errno);

	pid_t pid = fork();
	if (pid < 0)
		keeper_fail(status_fd, "cannot fork diod", errno);
	if (pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
			_exit(127);
		/* The socket as fd 3, and nothing else of btvm's but stdout and
		 * stderr (diod's log): not its terminal for input. */
		if (dup2(sock, SERVER_FD) < 0 || syscall(SYS_close_range, SERVER_FD + 1, ~0u, 0) < 0)
			_exit(127);
		close(STDIN_FILENO);
		char *const argv[] = { (char *)diod, "--foreground", "--no-auth", "--no-userdb",
				       "--config-file", "/diod.conf", "--logdest", "stderr",
				       "--export", SHARE_SERVER_EXPORT, "--rfdno", "3", "--wfdno", "3", NULL };
		execv(diod, argv);
		_exit(127);
	}
	close(sock);
	/* Until diod is past its start-up, then the host's names go. */
	for (unsigned waited = 0;; waited++) {
		int wstatus;
		if (waitpid(pid, &wstatus, WNOHANG) == pid) {
			char what[128];
			snprintf(what, sizeof(what), "its 9P server %s exited with status %d at start",
				 diod, WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus));
			keeper_fail(status_fd, what, WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 127
						     ? ENOENT : EIO);
		}
		if (diod_running(proc_fd, pid))
			break;
		if (waited >= START_TIMEOUT_MS) {
			kill(pid, SIGKILL);
			keeper_fail(status_fd, "its 9P server did not start", ETIMEDOUT);
		}
		struct timespec ms = { 0, 1000000 };
		nanosleep(&ms, NULL);
	}
	close(proc_fd);
	for (size_t i = 0; i < sizeof(start_names) / sizeof(start_names[0]); i++) {
		struct stat st;
		char name[32];
		snprintf(name, sizeof(name), "/%s", start_names[i]);
		if (lstat(name, &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			if (unlink(name) < 0)
				keeper_fail(status_fd, "cannot remove a start-up link", errno);
		} else if (umount2(name, MNT_DETACH) < 0 || rmdir(name) < 0) {
			keeper_fail(status_fd, "cannot detach the host's libraries", errno);
		}
	}
	unlink("/diod.conf");
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		keeper_fail(status_fd, "cannot make the server's root read-only", errno);
	if (write(status_fd, "", 1) != 1)
		_exit(1);
	close(status_fd);
	int wstatus;
	while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
	}
	_exit(0);
}

/* ---- btvm's side --------------------------------------------------------- */

int share_server_start(struct share_server *s, const char *dir, bool readonly, int *fd, char *err,
		       size_t err_len)
{
	const char *diod = getenv("BTVM_DIOD");
	int sv[2] = { -1, -1 }, status[2] = { -1, -1 };
	int ret;

	s->keeper = 0;
	*fd = -1;
	if (!diod || !*diod)
		diod = SHARE_SERVER_DIOD;
	if (access(diod, X_OK) < 0) {
		snprintf(err, err_len, "cannot run the 9P server %s: %s (install Debian's diod)", diod,
			 strerror(errno));
		return -ENOENT;
	}
	char path[PATH_MAX];
	int host_fd = realpath(dir, path) ? open(path, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
	if (host_fd < 0) {
		ret = -errno;
		snprintf(err, err_len, "%s: %s", dir, strerror(-ret));
		return ret;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    pipe2(status, O_CLOEXEC) < 0) {
		ret = -errno;
		snprintf(err, err_len, "cannot connect to its 9P server: %s", strerror(-ret));
		goto fail;
	}
	uid_t uid = geteuid();
	gid_t gid = getegid();
	pid_t pid = fork();
	if (pid < 0) {
		ret = -errno;
		snprintf(err, err_len, "cannot start its 9P server: %s", strerror(-ret));
		goto fail;
	}
	if (pid == 0) {
		close(sv[0]);
		close(status[0]);
		/* Only the socket goes on to diod. */
		int sock = fcntl(sv[1], F_DUPFD, SERVER_FD + 1);
		if (sock < 0)
			keeper_fail(status[1], "cannot pass the socket", errno);
		keeper(path, host_fd, sock, status[1], readonly, uid, gid, diod);
	}
	s->keeper = pid;
	close(sv[1]);
	close(status[1]);
	close(host_fd);
	sv[1] = status[1] = host_fd = -1;
	/* One zero byte: ready; text: what failed; nothing: the keeper died. */
	char msg[256];
	size_t got = 0;
	for (;;) {
		struct pollfd p = { .fd = status[0], .events = POLLIN };
		int r = poll(&p, 1, START_TIMEOUT_MS + 2000);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			snprintf(err, err_len, "its 9P server did not start");
			ret = -ETIMEDOUT;
			goto fail;
		}
		ssize_t n = read(status[0], msg + got, sizeof(msg) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (msg[0] == '\0' || got == sizeof(msg) - 1)
			break;
	}
	if (got == 0 || msg[0] != '\0') {
		msg[got] = '\0';
		snprintf(err, err_len, "%s", got ? msg : "its 9P server's keeper died at start");
		ret = -EIO;
		goto fail;
	}
	close(status[0]);
	*fd = sv[0];
	return 0;

fail:
	share_server_stop(s);
	for (int i = 0; i < 2; i++) {
		if (sv[i] >= 0)
			close(sv[i]);
		if (status[i] >= 0)
			close(status[i]);
	}
	if (host_fd >= 0)
		close(host_fd);
	return ret;
}

void share_server_stop(struct share_server *s)
{
	if (s->keeper <= 0)
		return;
	/* diod dies with its keeper (PR_SET_PDEATHSIG). */
	kill(s->keeper, SIGKILL);
	while (waitpid(s->keeper, NULL, 0) < 0 && errno == EINTR) {
	}
	s->keeper = 0;
}
