#!/usr/bin/python3
"""End-to-end check of --stats-json, --stats-interval, the SIGUSR1 and
SIGTERM dumps and scripts/btvm-plot, on Debian's i386 kernel and the
busybox initramfs (scripts/fetch-guest.sh) on a pseudo-terminal:

 1. Boot to the shell with --stats --stats-json --stats-interval 100, leave
    it idle, send SIGUSR1: the text report comes on the terminal, the file
    (reason SIGUSR1) validates against docs/stats.schema.json, every
    counter it has is in docs/STATS.md, and its series shows the boot's
    phases: blocks translated rise fast while Linux boots, then flatten at
    the idle shell. The guest answers afterwards.
 2. SIGTERM: the text report, the file (reason SIGTERM, valid, a later
    sample than the live dump's), and btvm dies of SIGTERM.
 3. btvm-plot makes a non-empty PNG and SVG of the timeline and an HTML
    report that headless Chromium renders: a screenshot that is not blank,
    and a DOM with the report's title and counters.
 4. A 1 ms interval over five seconds keeps at most 2048 samples.

Usage: run_stats.py BTVM
Exit status: 0 passed, 1 failed, 77 the guest could not be downloaded.
(Debian's python3: python3-jsonschema and python3-matplotlib are its.)
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import jsonschema

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from vmtools import Fail, Pty, check, quick_boot_args  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def wait_for(pred, what, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        value = pred()
        if value:
            return value
        time.sleep(0.1)
    raise Fail("timed out waiting for " + what)


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def documented_names(gauges=False):
    """The names docs/STATS.md's tables define (or only its gauges, which
    may go down)."""
    text = open(os.path.join(ROOT, "docs/STATS.md")).read()
    rows = re.findall(r"^\| `([a-z0-9_.<N>]+)` \|(.*)$", text, re.M)
    return {name for name, rest in rows if not gauges or "*gauge*" in rest}


def run_guest_json(cmd, label, path, timeout):
    """Runs cmd, a test guest with --stats-json path that must pass
    (status 33), and validates the file against the schema; (the
    document, the finished process)."""
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                         stdin=subprocess.DEVNULL)
    check(res.returncode == 33, "%s: %s passed (status %d; %s)"
          % (label, os.path.basename(cmd[cmd.index("--kernel") + 1]), res.returncode,
             res.stdout[-300:]))
    with open(path) as f:
        doc = json.load(f)
    schema = json.load(open(os.path.join(ROOT, "docs/stats.schema.json")))
    jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
    check(True, "%s: the file validates against the schema" % label)
    return doc, res


def validate(doc, schema, reason):
    jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
    check(doc["reason"] == reason, "the %s file validates against the schema" % reason)
    names = documented_names()
    missing = [k for k in doc["counters"] if re.sub(r"^disk\d+\.", "disk<N>.", k) not in names]
    check(not missing, "every counter of the %s file is in docs/STATS.md %s" % (reason, missing))
    # The sample taken at the end may fall in the same host millisecond as
    # the last periodic one (SIGTERM right after it, seen beside
    # stress-ng; scripts/btvm-plot skips a rate over no time).
    t = [s["t_ms"] for s in doc["series"]]
    check(all(a < b for a, b in zip(t[:-1], t[1:-1])) and t[-2:] == sorted(t[-2:]),
          "the samples' times increase")
    gauges = documented_names(gauges=True)
    check(len(gauges) >= 4, "docs/STATS.md marks its gauges")
    for key in doc["counters"]:
        if key in gauges:
            continue
        vals = [s["counters"][key] for s in doc["series"]]
        if any(a > b for a, b in zip(vals, vals[1:])):
            raise Fail("counter %s goes down in the series" % key)


def phases(doc, idle_from_ms):
    """Blocks translated rise while Linux boots, then flatten at the idle
    shell: the fastest second of the boot translates far more than the
    idle seconds do."""
    s = doc["series"]
    blocks = [(x["t_ms"], x["counters"]["tcache.blocks"]) for x in s]
    boot = [(t, b) for t, b in blocks if t <= idle_from_ms]
    idle = [(t, b) for t, b in blocks if t >= idle_from_ms]
    check(len(boot) >= 10 and len(idle) >= 10,
          "samples every ~100 ms: %d during the boot, %d at the idle shell" % (len(boot), len(idle)))
    peak = max((b2 - b1) * 1000.0 / (t2 - t1)
               for (t1, b1), (t2, b2) in zip(boot, boot[10:]))
    idle_rate = (idle[-1][1] - idle[0][1]) * 1000.0 / (idle[-1][0] - idle[0][0])
    check(boot[-1][1] > 20 * max(boot[0][1], 1) and boot[-1][1] > 5000,
          "blocks translated rise during the boot (%d -> %d)" % (boot[0][1], boot[-1][1]))
    check(idle_rate * 20 < peak,
          "then flatten: %.0f blocks/s at the idle shell, %.0f at the boot's peak"
          % (idle_rate, peak))


def png_not_blank(path):
    import matplotlib.image
    img = matplotlib.image.imread(path)
    check(img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100,
          "the screenshot is a picture (%s)" % (img.shape,))
    flat = img[:, :, :3].reshape(-1, 3)
    colours = len({tuple(p) for p in (flat[::37] * 255).astype(int).tolist()})
    dark = float((flat.mean(axis=1) < 0.5).mean())
    check(colours > 20 and 0.001 < dark < 0.6,
          "the screenshot is not blank: %d colours, %.1f%% dark pixels" % (colours, dark * 100))


def main():
    btvm = sys.argv[1]
    try:
        paths = subprocess.run(["bash", os.path.join(ROOT, "scripts/fetch-guest.sh"), "--print"],
                               check=True, capture_output=True, text=True).stdout.split("\n")
    except subprocess.CalledProcessError:
        return 77
    kernel, initrd = paths[0], paths[1]
    schema = json.load(open(os.path.join(ROOT, "docs/stats.schema.json")))
    jsonschema.Draft202012Validator.check_schema(schema)
    work = tempfile.mkdtemp(prefix="btvm-stats-")
    out = os.path.join(work, "stats.json")
    log = open(os.path.join(work, "console.log"), "wb")
    term = Pty(log, [btvm, "run", "--kernel", kernel, "--initrd", initrd,
                     "--append", "console=ttyS0 quiet " + quick_boot_args(), "--display", "none", "--net", "none",
                     "--no-reboot", "--stats", "--stats-json", out, "--stats-interval", "100"])
    ok = False
    try:
        # 1. The boot, the idle shell, the live dump.
        term.expect(r"# ", timeout=300)
        started = time.time()
        time.sleep(3)
        check(not os.path.exists(out), "no file before a dump or the end")
        os.kill(term.pid, signal.SIGUSR1)
        term.expect(r"SIGUSR1: the statistics so far")
        term.expect(r"lookup hit rate \(hits/lookups\) +\d+\.\d%")
        term.expect(r"callouts by class:")
        live = wait_for(lambda: read_json(out), "the SIGUSR1 file")
        validate(live, schema, "SIGUSR1")
        idle_ms = live["elapsed_ms"] - int((time.time() - started) * 1000) + 500
        phases(live, idle_ms)
        term.send('echo "st""ill-running"\r')
        term.expect(r"still-running\r")
        term.expect(r"# ")
        check(True, "the guest runs on after the live dump")

        # 2. SIGTERM.
        os.kill(term.pid, signal.SIGTERM)
        term.expect(r"SIGTERM: the statistics, then the end")
        term.expect(r"callouts by class:")
        _, status = os.waitpid(term.pid, 0)
        check(os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM,
              "btvm dies of SIGTERM (status 143) once the stats are out")
        final = read_json(out)
        if final is None:
            raise Fail("no file after SIGTERM")
        validate(final, schema, "SIGTERM")
        check(final["series"][-1]["t_ms"] > live["series"][-1]["t_ms"] and
              not os.path.exists(out + ".tmp"),
              "the SIGTERM file is newer than the live one, no .tmp left")

        # 3. The plots and the report in a real browser.
        plot = os.path.join(ROOT, "scripts/btvm-plot")
        prefix = os.path.join(work, "timeline")
        report = os.path.join(work, "report.html")
        subprocess.run([plot, out, "-o", prefix, "--html", report], check=True)
        with open(prefix + ".png", "rb") as f:
            check(f.read(8) == b"\x89PNG\r\n\x1a\n" and os.path.getsize(prefix + ".png") > 20000,
                  "btvm-plot wrote a PNG (%d bytes)" % os.path.getsize(prefix + ".png"))
        svg = open(prefix + ".svg").read()
        check("<svg" in svg and "Blocks translated" in svg and "Page faults" in svg,
              "btvm-plot wrote an SVG with its panels (%d bytes)" % len(svg))
        page = open(report).read()
        check("<svg" in page and "src=" not in page and "href=\"http" not in page,
              "the report holds its plots and needs no other file")
        chromium = shutil.which("chromium")
        if not chromium:
            raise Fail("chromium is not installed (scripts/setup.sh installs it)")
        shot = os.path.join(work, "report.png")
        browser = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
                   "--hide-scrollbars", "--window-size=1200,1600",
                   "--user-data-dir=" + os.path.join(work, "chromium")]
        subprocess.run(browser + ["--screenshot=" + shot, "file://" + report], check=True,
                       capture_output=True, timeout=120)
        png_not_blank(shot)
        dom = subprocess.run(browser + ["--dump-dom", "file://" + report], check=True,
                             capture_output=True, text=True, timeout=120).stdout
        check("<title>btvm statistics: vmlinuz</title>" in dom and "tcache.blocks" in dom and
              "Lookup hit rate" in dom, "Chromium's DOM has the report's title and counters")

        # 4. Memory stays bounded: 1 ms samples over a boot of more than
        # 2048 ms keep at most 2048 of them, at a doubled interval.
        dense = os.path.join(work, "dense.json")
        vm = subprocess.Popen([btvm, "run", "--kernel", kernel, "--initrd", initrd,
                               "--append", "console=ttyS0 quiet " + quick_boot_args(), "--display", "none",
                               "--net", "none", "--serial", "none", "--no-reboot",
                               "--stats-json", dense, "--stats-interval", "1"],
                              stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        # Until a live dump shows the series thinned once (2048 samples
        # taken), not for a fixed time: a loaded host may take seconds to
        # start the sanitized btvm, and its samples come late (a late one
        # does not bunch the next up), 1393 in 4.8 s beside stress-ng. The
        # first SIGUSR1 once btvm catches it (before, it would end btvm).
        def catches_usr1():
            with open("/proc/%d/status" % vm.pid) as f:
                caught = re.search(r"^SigCgt:\s*([0-9a-f]+)$", f.read(), re.M)
            return caught and int(caught.group(1), 16) >> (signal.SIGUSR1 - 1) & 1
        wait_for(catches_usr1, "btvm to catch SIGUSR1", timeout=300)

        # Dumps 3, 6, 12 ... s apart: each writes the whole series on the
        # vCPU's thread, which delays the samples meanwhile.
        delay, waited = 3, 0
        while True:
            time.sleep(delay)
            waited += delay
            vm.send_signal(signal.SIGUSR1)
            time.sleep(1)
            d = read_json(dense)
            if d and d["interval_ms"] >= 2:
                break
            if waited > 300:
                raise Fail("no 1 ms series thinned to every 2 ms in %d s" % waited)
            delay *= 2
        vm.send_signal(signal.SIGTERM)
        check(vm.wait(timeout=60) == -signal.SIGTERM, "a 1 ms series ends on SIGTERM too")
        doc = read_json(dense)
        if doc is None:
            raise Fail("no file from the 1 ms run")
        jsonschema.validate(doc, schema, cls=jsonschema.Draft202012Validator)
        n = len(doc["series"])
        check(1024 <= n <= 2048 and doc["interval_ms"] >= 2 and "series_note" in doc and
              doc["series"][-1]["t_ms"] >= 2048,
              "a 1 ms series over %d ms keeps %d samples, every %d ms now (%s)"
              % (doc["elapsed_ms"], n, doc["interval_ms"], doc.get("series_note")))
        ok = True
    except (Fail, jsonschema.ValidationError, subprocess.SubprocessError) as e:
        print("run_stats: FAIL:", e, file=sys.stderr)
        print("run_stats: console log and files in", work, file=sys.stderr)
        return 1
    finally:
        try:
            os.kill(term.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if ok:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
