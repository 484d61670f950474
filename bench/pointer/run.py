#!/usr/bin/env python3
"""The pointer-latency benchmark: from a host pointer event to the guest's
evdev report, with btvm's virtio tablet and with QEMU TCG's
(virtio-tablet-pci), side by side in one run.

Each VMM boots Debian's i386 kernel and the busybox initramfs
(scripts/fetch-guest.sh) with a window (SDL) on an X server of the run's
own (Xvfb) and the guest program bench/pointer/evlat in a second initramfs
archive; evlat prints each tablet report on the serial console as it reads
it. The host then moves the X pointer over the window between two points
of the picture (XTest, through libXtst: no process start between the stamp
and the event) and stamps, with CLOCK_MONOTONIC, the event's sending and
the arrival on the VMM's serial output of the first report at the new
position. A move's latency is the difference: the window's input path,
the VMM's event queue, the guest's interrupt and driver, evdev, the
program's read and write, and the serial console back (the same 16-byte
line for both VMMs). The first moves warm up and are left out.

	bench/pointer/run.py [--moves N] [--no-qemu] [--quick] [--build DIR]
	                     [--no-build] [--timeout SEC]

Prints per VMM the moves seen, median, 90th percentile and the largest
latency in milliseconds, and btvm/QEMU on the medians. Exit status 0 when
every move reached the guest under every VMM run, 1 otherwise, 2 on bad
usage. Figures, not pass/fail: no time is compared with a target.
"""
import argparse
import ctypes
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
APPEND = "console=tty0 console=ttyS0 quiet"
WARMUP = 5


def fail(msg):
    print(f"run.py: {msg}", file=sys.stderr)
    sys.exit(1)


class Serial:
    """A VMM's serial output, read by a thread that stamps each line."""

    def __init__(self, proc):
        self.lines = queue.Queue()
        self.log = []
        threading.Thread(target=self._read, args=(proc.stdout,), daemon=True).start()

    def _read(self, out):
        buf = b""
        while True:
            chunk = os.read(out.fileno(), 4096)
            if not chunk:
                self.lines.put((time.monotonic(), None))
                return
            now = time.monotonic()
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self._put(now, line)
            if b"# " in buf:   # the shell's prompt (and its query) waits on its line
                self._put(now, buf)
                buf = b""

    def _put(self, now, line):
        text = line.decode(errors="replace").strip("\r\x00")
        self.log.append(text)
        self.lines.put((now, text))

    def wait_for(self, want, limit):
        """The stamp and line of the first line containing want."""
        end = time.monotonic() + limit
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no '{want}' on the serial console in {limit} s")
            try:
                stamp, text = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if text is None:
                raise EOFError("the VMM's serial output ended")
            if want in text:
                return stamp, text


class Pointer:
    """The X server's pointer, moved through XTest."""

    def __init__(self, display):
        self.x11 = ctypes.CDLL("libX11.so.6")
        self.xtst = ctypes.CDLL("libXtst.so.6")
        self.x11.XOpenDisplay.restype = ctypes.c_void_p
        self.x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        self.x11.XFlush.argtypes = [ctypes.c_void_p]
        self.x11.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
        self.xtst.XTestFakeMotionEvent.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                                                   ctypes.c_int, ctypes.c_ulong]
        # Xvfb names its display before it takes connections.
        end = time.monotonic() + 10
        self.dpy = self.x11.XOpenDisplay(display.encode())
        while not self.dpy and time.monotonic() < end:
            time.sleep(0.1)
            self.dpy = self.x11.XOpenDisplay(display.encode())
        if not self.dpy:
            fail(f"cannot open X display {display}")

    def move(self, x, y):
        self.xtst.XTestFakeMotionEvent(self.dpy, -1, x, y, 0)
        self.x11.XSync(self.dpy, 0)


def xdotool(*args):
    return subprocess.run(["xdotool", *args], capture_output=True, text=True, check=False).stdout


def window_of(title, limit):
    """The id and root geometry (x, y, w, h) of the window whose title
    matches the regular expression title."""
    end = time.monotonic() + limit
    while time.monotonic() < end:
        for wid in xdotool("search", "--name", title).split():
            geo = {}
            for line in xdotool("getwindowgeometry", "--shell", wid).splitlines():
                k, _, v = line.partition("=")
                geo[k] = int(v) if v.lstrip("-").isdigit() else v
            if geo.get("WIDTH", 0) >= 320 and geo.get("HEIGHT", 0) >= 200:
                return wid, (geo["X"], geo["Y"], geo["WIDTH"], geo["HEIGHT"])
        time.sleep(0.2)
    raise TimeoutError(f"no window titled '{title}' in {limit} s")


def measure(name, cmd, title, env, pointer, moves, limit, logdir):
    """Latencies in ms of the moves after the warm-up, or raises."""
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=open(os.path.join(logdir, f"{name}.err"), "wb"), env=env)
    serial = Serial(proc)
    try:
        serial.wait_for("guest:~ #", limit)
        _, (wx, wy, ww, wh) = window_of(title, 30)
        proc.stdin.write(f"/bin/evlat {moves + 2 * WARMUP + 100}\n".encode())
        proc.stdin.flush()
        serial.wait_for("EVLAT-READY", 30)
        # Two points well inside the picture (whatever its scaling), on
        # neither's row nor column; the pointer starts outside both.
        points = [(wx + ww // 4, wy + wh // 3), (wx + 3 * ww // 4, wy + 2 * wh // 3)]
        pointer.move(wx + ww // 5, wy + wh // 5)   # not the screen's middle, where it is
        serial.wait_for("EVLAT ", 10)
        lat = []
        for i in range(moves + WARMUP):
            while not serial.lines.empty():   # reports of the last move's tail
                serial.lines.get_nowait()
            x, y = points[i % 2]
            t0 = time.monotonic()
            pointer.move(x, y)
            # The report at the new point: the side of the picture's middle
            # it is on (the guest's scale is 0..32767 across the picture).
            while True:
                stamp, text = serial.wait_for("EVLAT ", 10)
                f = text.split()
                if len(f) == 3 and (int(f[1]) < 16384) == (i % 2 == 0):
                    break
            if i >= WARMUP:
                lat.append((stamp - t0) * 1000)
            time.sleep(0.03 + 0.011 * (i % 5))   # not in step with any tick
        return lat
    finally:
        proc.kill()
        proc.wait()
        with open(os.path.join(logdir, f"{name}.serial"), "w") as f:
            f.write("\n".join(serial.log))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--moves", type=int, default=60)
    ap.add_argument("--no-qemu", action="store_true")
    ap.add_argument("--quick", action="store_true", help="10 moves")
    ap.add_argument("--build", default=os.path.join(REPO, "build"))
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--timeout", type=int, default=300, help="seconds a boot may take")
    args = ap.parse_args()
    if args.moves < 1 or args.timeout < 1:
        ap.error("--moves and --timeout take positive numbers")
    moves = 10 if args.quick else args.moves
    build = os.path.realpath(args.build)
    if not args.no_build:
        r = subprocess.run(["cmake", "--build", build, "-j", str(os.cpu_count()), "--target", "btvm",
                            "evlat"], stdout=subprocess.DEVNULL, check=False)
        if r.returncode:
            fail(f"build failed (run: cmake --build {build} --target btvm evlat)")
    btvm = os.path.join(build, "btvm")
    evlat = os.path.join(build, "bench", "pointer", "evlat")
    for f in (btvm, evlat):
        if not os.access(f, os.X_OK):
            fail(f"{f} not found (build first, or drop --no-build)")
    for tool in ("Xvfb", "xdotool", "cpio", "gzip"):
        if not shutil.which(tool):
            fail(f"{tool} is needed")
    paths = subprocess.run(["bash", os.path.join(REPO, "scripts", "fetch-guest.sh"), "--print"],
                           capture_output=True, text=True, check=False)
    if paths.returncode:
        fail("scripts/fetch-guest.sh failed: no guest kernel and initramfs")
    kernel, base_initrd = paths.stdout.split()[:2]

    with tempfile.TemporaryDirectory(prefix="pointer.", dir=build) as tmp:
        root = os.path.join(tmp, "root", "bin")
        os.makedirs(root)
        shutil.copy(evlat, root)
        initrd = os.path.join(tmp, "initramfs.cpio.gz")
        shutil.copy(base_initrd, initrd)
        with open(initrd, "ab") as out:
            files = subprocess.run("cd root && find . -mindepth 1 | sort", shell=True, cwd=tmp,
                                   capture_output=True, check=True).stdout
            cpio = subprocess.run(["cpio", "-o", "-H", "newc", "-R", "0:0", "--quiet"],
                                  cwd=os.path.join(tmp, "root"), input=files, capture_output=True,
                                  check=True).stdout
            out.write(subprocess.run(["gzip", "-n"], input=cpio, capture_output=True,
                                     check=True).stdout)

        rfd, wfd = os.pipe()
        xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(wfd), "-screen", "0", "1280x1024x24",
                                 "-nolisten", "tcp", "-noreset"], pass_fds=(wfd,),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(wfd)
        # (The pipe stays open while Xvfb runs: it dies of a write to a
        # closed one.)
        number = os.read(rfd, 32).decode().strip()
        if not number:
            fail("Xvfb did not start")
        os.environ["DISPLAY"] = f":{number}"   # the VMMs' and xdotool's
        env = dict(os.environ)
        env.pop("SDL_VIDEODRIVER", None)
        try:
            pointer = Pointer(env["DISPLAY"])
            runs = [("btvm", "^btvm - ", [btvm, "run", "--display", "sdl", "--kernel", kernel, "--initrd", initrd,
                              "-m", "256", "--net", "none", "--append", APPEND])]
            qemu = shutil.which("qemu-system-i386")
            if not args.no_qemu:
                sdl = subprocess.run([qemu or "false", "-display", "help"], capture_output=True,
                                     text=True, check=False).stdout.split() if qemu else []
                if "sdl" not in sdl:
                    print("run.py: QEMU left out: qemu-system-i386 with SDL (packages "
                          "qemu-system-x86 and qemu-system-gui) is not installed")
                else:
                    runs.append(("qemu", "^QEMU", [qemu, "-accel", "tcg", "-m", "256", "-kernel", kernel,
                                          "-initrd", initrd, "-append", APPEND, "-serial", "stdio",
                                          "-monitor", "none", "-display", "sdl", "-net", "none",
                                          "-device", "virtio-tablet-pci", "-no-reboot"]))
            results = {}
            ok = True
            for name, title, cmd in runs:
                try:
                    results[name] = measure(name, cmd, title, env, pointer, moves, args.timeout,
                                            tmp)
                except (TimeoutError, EOFError) as e:
                    print(f"run.py: {name}: {e}", file=sys.stderr)
                    for f in (f"{name}.serial", f"{name}.err"):
                        with open(os.path.join(tmp, f), errors="replace") as log:
                            tail = log.read().splitlines()[-15:]
                        print(f"--- {f} (last lines)\n" + "\n".join(tail), file=sys.stderr)
                    ok = False
        finally:
            xvfb.kill()
            xvfb.wait()
            os.close(rfd)

    print(f"btvm pointer latency: host XTest motion to the guest's evdev report on the serial "
          f"console, {moves} moves after {WARMUP} to warm up, Xvfb 1280x1024")
    print(f"{'VMM':<6} {'moves':>6} {'median ms':>10} {'p90 ms':>8} {'max ms':>8}")
    for name, lat in results.items():
        s = sorted(lat)
        p90 = s[min(len(s) - 1, int(0.9 * len(s)))]
        print(f"{name:<6} {len(s):>6} {statistics.median(s):>10.2f} {p90:>8.2f} {s[-1]:>8.2f}")
    if "btvm" in results and "qemu" in results:
        ratio = statistics.median(results["btvm"]) / statistics.median(results["qemu"])
        print(f"btvm/qemu (medians): {ratio:.2f}")
    return 0 if ok and all(len(v) == moves for v in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
