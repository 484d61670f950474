/* The 9P2000.L server behind a shared folder (--share): Debian's diod,
 * spawned per share and confined to the folder, serving one connection on
 * a socket whose other end virtio_9p carries to the guest.
 *
 * Confinement. diod serves paths: it joins the names the client walks to
 * the export's path and lets the kernel resolve them, so a symlink in the
 * folder, or `..`, would lead anywhere the process can name. So the
 * process must be unable to name anything but the folder. btvm forks a
 * keeper process that enters new user and mount namespaces
 * (unshare(CLONE_NEWUSER | CLONE_NEWNS), no privilege needed; the
 * invoking uid and gid mapped to 65534, nobody and nogroup inside, so
 * diod never runs as root even in its namespace), builds a root of its
 * own on a tmpfs holding the folder bind-mounted at /share (nosuid and
 * nodev always, read-only with ,readonly) and, for diod's start only, the
 * host's /usr and /etc (its binary, the loader, its libraries), and
 * pivot_roots into it. It starts diod there (--foreground --no-auth
 * --no-userdb, --rfdno/--wfdno on the socket, --export /share, an empty
 * configuration file). Run as a user other than root, diod serves that
 * user alone; with no user database it needs no passwd file: virtio_9p
 * makes every Tattach name that user (SHARE_SERVER_UID), which squashes
 * the guest's users to it. Once diod is running (its worker threads
 * exist: it has loaded all it loads) the keeper detaches /usr and /etc,
 * makes the root read-only and only then tells btvm the server is ready.
 * From then on the process's whole file system is the tmpfs root (empty
 * but for the directory /share) and the folder: a symlink to /etc/passwd
 * finds nothing, `..` from the export's root stops at that empty root
 * (the process's root: `/..` is `/`), and a device node in the folder
 * cannot be opened (nodev) nor made (mknod needs a capability in the
 * host's namespace). Files the guest creates belong to the user who runs
 * btvm; the guest sees every file as owned by 65534 (or the overflow id
 * for files of other host users). Without user namespaces the share
 * fails with one line; it never runs unconfined.
 *
 * The keeper stays diod's parent; diod dies with it (PR_SET_PDEATHSIG),
 * and it with btvm. */
#ifndef BTVM_HOST_SHARE_SERVER_H
#define BTVM_HOST_SHARE_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The folder's path in the server's root, which Tattach names. */
#define SHARE_SERVER_EXPORT "/share"
/* The one user diod runs as in its namespace and serves (nobody): every
 * Tattach names it (virtio_9p puts it there). */
#define SHARE_SERVER_UID 65534u
/* Where diod is, unless BTVM_DIOD names another. */
#define SHARE_SERVER_DIOD "/usr/sbin/diod"

struct share_server {
	pid_t keeper;	/* 0: none */
};

/* Starts a confined diod serving dir (read-only if readonly). On success
 * *fd is btvm's end of the connection (a SOCK_STREAM socket, close-on-exec)
 * and 0 is returned; else a negative errno with a one-line message in err. */
int share_server_start(struct share_server *s, const char *dir, bool readonly, int *fd, char *err,
		       size_t err_len);
/* Kills the server and reaps it. Safe on one never started, and twice. */
void share_server_stop(struct share_server *s);

#endif
