#!/usr/bin/env python3
"""The AC'97 sound card end to end, and its underrun benchmark.

btvm boots the test guest (scripts/fetch-guest.sh's kernel and
initramfs, with soundplay appended; btvm.sound loads snd-intel8x0 and
OSS's /dev/dsp) with --audio sdl and SDL's disk driver (SDL_AUDIODRIVER
=disk), which writes the raw stream, S16LE stereo at 48 kHz, to a file
at the host's pace: the guest's sound where it came in time, silence
where the queue was empty (an underrun) or the device paused.

The test (default):
  1. soundplay plays a 1 kHz sine (48000 frames, amplitude 16000) with
     the master at 100 and PCM at 75 (0 dB), waits for it to be played,
     mutes the master through /dev/mixer; a second soundplay plays a
     second of the same tone (the card's counters read before and
     after); a third unmutes and plays 24000 frames of 500 Hz;
  2. it plays 144000 frames of 700 Hz in the background; once the card
     has played half a second of it the monitor's stop pauses the
     machine for 1.5 s: the card's frame counters (audio.frames,
     audio.host_frames) stand still meanwhile, and what the host's driver
     wrote meanwhile is silence; cont, and it plays on;
  3. (a snapshot is saved while it plays) btvm ends; the stream, with its silences taken out (runs of four
     or more zero frames: the sines have single zero samples at most),
     is the 48000 + 24000 + 144000 frames the guest played unmuted
     (within 0.2%), each tone's frequency by its zero crossings within
     1%, its amplitude within 2%, left equal to right; a run of zeros at
     least as long as what the card gave the host of the muted second
     (all it played of it but what was dropped) lies between the first
     tone and the 500 Hz one, and one at least as long as the pause's
     inside the 700 Hz tone. --stats-json: no DMA errors, every frame the
     card played went to the host or was counted dropped (a host slower
     than real time, or a stall past the queue's bound; the frame count
     allows for them);
  4. the snapshot restored in a new btvm: the guest's soundplay goes on,
     and the rest of the 700 Hz tone comes out of the new stream.
Nothing depends on the host's speed: the card consumes the guest's
samples on guest time, and the host's clock only inserts silences, or
drops (counted) pieces its queue cannot take.

--bench: the guest plays --seconds (5) of 440 Hz idle, then while a busy
loop runs in it, then while a shell starts programs without a pause (the
process churn of a build), then the same with two busy loops on the host
beside btvm; prints
the underruns and drops (audio.underruns, audio.dropped) of each, with
SDL's disk driver at its own pace (a 10 ms sleep a 10 ms piece, a little
slower than real time: drops) or --delay-ms's (9: faster, underruns). Exit status: 0 passed, 1 failed, 77
the guest could not be had.

--firmware: the machine boots through SeaBIOS (the card wired as firmware
places it); the test's parts 1 and 3 only (linux_sound_bios)."""
import argparse
import array
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "system"))
import vmtools  # noqa: E402
from vmtools import Fail, check  # noqa: E402

RATE = 48000
ZERO_RUN = 4   # frames of zeros that are a silence, not a sine's zero sample


def make_initrd(work, soundplay):
    kernel, base = vmtools.fetch_guest()
    root = os.path.join(work, "root")
    os.makedirs(os.path.join(root, "bin"))
    shutil.copy(soundplay, os.path.join(root, "bin", "soundplay"))
    initrd = os.path.join(work, "initramfs.cpio.gz")
    shutil.copy(base, initrd)
    # The kernel unpacks concatenated archives in order.
    with open(initrd, "ab") as f:
        r = subprocess.run("find . -mindepth 1 | sort | cpio -o -H newc -R 0:0 --quiet | gzip -n",
                           shell=True, cwd=root, stdout=f)
    if r.returncode:
        raise Fail("cannot build the initramfs")
    return kernel, initrd


def start(btvm, work, kernel, initrd, delay_ms, restore=None, firmware=False):
    name = "restored" if restore else "out"
    env = {"SDL_AUDIODRIVER": "disk", "SDL_DISKAUDIOFILE": os.path.join(work, name + ".raw")}
    if delay_ms is not None:
        env["SDL_DISKAUDIODELAY"] = str(delay_ms)
    os.environ.update(env)
    sock = os.path.join(work, name + ".sock")
    argv = [btvm, "run", "--display", "none", "--audio", "sdl", "--monitor", "unix:" + sock,
            "--stats-json", os.path.join(work, name + ".json")]
    if firmware:
        argv += ["--firmware", "bios"]
    if restore:
        argv += ["--restore", restore]
        return vmtools.GuestVm(open(os.path.join(work, name + ".log"), "wb"), argv, sock)
    argv += ["--net", "none", "-m", "256", "--kernel", kernel, "--initrd", initrd,
             "--append", "console=ttyS0 btvm.sound"]
    vm = vmtools.GuestVm(open(os.path.join(work, name + ".log"), "wb"), argv, sock)
    vm.expect(r"guest:~ # ", 600)
    out = vm.run("ls /dev/dsp /dev/mixer; dmesg | grep -c 'intel8x0.*probe.*failed'")
    check("/dev/dsp" in out and "/dev/mixer" in out and "No such" not in out,
          "the guest's snd-intel8x0 drives the card (/dev/dsp, /dev/mixer)")
    return vm


def counters(vm):
    """audio.frames and audio.host_frames from the monitor's info stats."""
    text = vm.human("info stats")
    vals = {}
    for line in text.splitlines():
        for label, key in (("sound frames played", "frames"),
                           ("sound frames to the host", "host_frames"),
                           ("sound underruns", "underruns"),
                           ("sound frames dropped (host slow)", "dropped")):
            if line.strip().startswith(label + " ") or line.strip().startswith(label + "\t"):
                vals[key] = int(line.split()[-1])
    if "frames" not in vals:
        raise Fail("info stats has no sound counters:\n" + text)
    return vals


def finish(vm, work, name="out"):
    """Lets the host's queue (at most 100 ms) play out, then quits."""
    time.sleep(1)
    vm.cmd("quit")
    vmtools.wait_exit(vm.pid, 120)
    with open(os.path.join(work, name + ".json")) as f:
        return json.load(f)


def stream(path):
    a = array.array("h")
    with open(path, "rb") as f:
        a.frombytes(f.read())
    if sys.byteorder != "little":
        a.byteswap()
    return a[0::2], a[1::2]


def split(left):
    """The samples with the silences (ZERO_RUN or more zero frames) taken
    out, and the silences as (index in the kept samples, length)."""
    kept = array.array("h")
    gaps = []
    i, n = 0, len(left)
    while i < n:
        if left[i]:
            kept.append(left[i])
            i += 1
            continue
        j = i
        while j < n and not left[j]:
            j += 1
        if j - i >= ZERO_RUN:
            gaps.append((len(kept), j - i))
        else:
            kept.extend(left[i:j])
        i = j
    return kept, gaps


def frequency(samples):
    """RATE over the mean period between upward zero crossings, of the
    periods within 2 frames of their median. A dropped piece (cut
    wherever the card was updated) or a stale period after a drain joins
    two stretches of a tone at any phase: one period of another length,
    which crossings timed from the first to the last took in (500 Hz
    read as 505 with a tenth of it dropped)."""
    ups = [k for k in range(1, len(samples)) if samples[k - 1] <= 0 < samples[k]]
    if len(ups) < 2:
        return len(ups) * RATE / len(samples)
    periods = sorted(b - a for a, b in zip(ups, ups[1:]))
    median = periods[len(periods) // 2]
    near = [p for p in periods if abs(p - median) <= 2]
    return len(near) * RATE / sum(near)


def test(args, work, kernel, initrd):
    # The disk driver a fifth faster than real time: underruns (silences,
    # taken out below) rather than a queue that grows to its bound.
    vm = start(args.btvm, work, kernel, initrd, 8, firmware=args.firmware)
    try:
        # 1. Volume, a tone, mute, a muted second, unmute, another tone.
        # The muted second alone in one soundplay: what the card gave the
        # host of it (a slow host drops some), the silence to find.
        out = vm.run("soundplay vol:100:75 tone:1000:48000:16000 sync vol:0:75", 120)
        c0 = counters(vm)
        out += vm.run("soundplay tone:1000:48000:16000 sync", 120)
        c1 = counters(vm)
        out += vm.run("soundplay vol:100:75 tone:500:24000:16000 sync", 120)
        check(out.count("soundplay: ok") == 3,
              "the guest played through /dev/dsp and set /dev/mixer")
        muted = {k: c1[k] - c0[k] for k in ("frames", "host_frames", "dropped")}
        check(muted["frames"] >= RATE, "the card played the muted second (%d frames, %d "
              "dropped)" % (muted["frames"], muted["dropped"]))
        if args.firmware:
            stats = finish(vm, work)
            check_stream(work, stats, TONES[:2], muted, False)
            return
        # 2. The pause.
        before = counters(vm)["frames"]
        vm.run("soundplay bg tone:700:144000:12000 sync")
        end = time.time() + 120
        while counters(vm)["frames"] < before + RATE // 2:
            if time.time() > end:
                raise Fail("the 700 Hz tone never played")
            time.sleep(0.05)
        check(vm.cmd("stop") == {"return": {}}, "stop")
        # The answer comes once the vCPU stood and the host's device
        # paused. What the host's driver still held then (a piece in
        # hand, its stdio buffer of 8 KiB) is out once it has written
        # 16 KiB more.
        raw = os.path.join(work, "out.raw")
        at_stop = os.path.getsize(raw)
        end = time.time() + 120
        while os.path.getsize(raw) < at_stop + 16384:
            if time.time() > end:
                raise Fail("the host's audio driver wrote nothing while paused")
            time.sleep(0.02)
        c1, size1 = counters(vm), os.path.getsize(raw)
        time.sleep(1.5)
        c2, size2 = counters(vm), os.path.getsize(raw)
        check(c1["frames"] == c2["frames"] and c1["host_frames"] == c2["host_frames"],
              "paused: no frame played or queued in 1.5 s (%d, %d)" % (c1["frames"],
                                                                       c1["host_frames"]))
        check(c1["frames"] < before + 144000, "paused inside the 700 Hz tone")
        check(vm.cmd("cont") == {"return": {}}, "cont")
        # A snapshot while it plays, for 4. below.
        while counters(vm)["frames"] < c2["frames"] + RATE // 4:
            time.sleep(0.02)
        snap = os.path.join(work, "playing.snap")
        check(vm.cmd("savevm", file=snap) == {"return": {}}, "savevm while the tone plays")
        vm.expect(r"soundplay: ok", 120)
        check(True, "the 700 Hz tone played on after the pause")
        stats = finish(vm, work)
    finally:
        vm.kill()

    # 4. The snapshot restored: the tone plays on from where it was.
    vm = start(args.btvm, work, kernel, initrd, 8, restore=snap)
    try:
        vm.expect(r"soundplay: ok", 120)
        restored = finish(vm, work, "restored")["counters"]
    finally:
        vm.kill()
    rkept, _ = split(stream(os.path.join(work, "restored.raw"))[0])
    f = frequency(rkept[RATE // 50:-RATE // 50]) if len(rkept) > RATE // 10 else 0
    check(restored["audio.frames"] >= RATE // 2 and len(rkept) >= RATE // 2 and
          abs(f - 700) <= 7, "restored, the card played the rest of the tone: %d frames, "
          "%.1f Hz" % (len(rkept), f))

    check_stream(work, stats, TONES, muted, size2 - size1)
    # What the host's driver wrote while the machine stood (the file only
    # grows; what stdio still held at the stop was written before it):
    # silence, however much the host's pace made of the 1.5 s.
    with open(os.path.join(work, "out.raw"), "rb") as f:
        f.seek(size1)
        during = f.read(size2 - size1)
    check(not any(during), "the %d frames the host wrote while paused are silence"
          % (len(during) // 4))


# The tones test() plays: frequency, frames, amplitude.
TONES = ((1000, 48000, 16000), (500, 24000, 16000), (700, 144000, 12000))


def check_stream(work, stats, tones, muted, paused):
    """3. The host's stream: tones (with the muted second after the
    first: muted is its counters' deltas), and with paused (the bytes the
    host wrote while the machine stood) a silence at least that long
    inside the last."""
    left, right = stream(os.path.join(work, "out.raw"))
    check(left == right, "left equals right (%d frames)" % len(left))
    kept, gaps = split(left)
    total = sum(t[1] for t in tones)
    a = stats["counters"]
    check(a["audio.dma_errors"] == 0, "no DMA errors")
    # A host slower than real time, or a stall longer than the queue's
    # bound (a loaded host, a sanitizer's build), drops pieces (up to
    # 10 ms, cut wherever the card was updated): counted.
    dropped = a["audio.dropped"]
    check(a["audio.host_frames"] + dropped == a["audio.frames"] >= total,
          "every frame played went to the host or was counted dropped (%d, %d dropped)"
          % (a["audio.frames"], dropped))
    # After each tone's drain the card plays on into the ring's stale
    # periods until the guest's interrupt handler stops it: a period or
    # so, more when a host stall (a loaded host, a sanitizer's build)
    # holds the guest while its time runs. At most 100 ms a tone here.
    check(total - dropped - total // 500 <= len(kept) <= total + len(tones) * RATE // 10,
          "%d frames of sound, the %d played unmuted (%d dropped)" % (len(kept), total, dropped))
    # Each 20 ms of the sound is one of the tones, by its zero crossings,
    # and they come in the order played.
    # A piece where one tone ends and the next begins is no tone's: one
    # within 5% of none, or alone between pieces of two other tones (a
    # mix can count as a third). So is one that mixes a tone with the
    # stale periods the card plays after a drain (up to 100 ms a tone,
    # above: five pieces), which a loaded host scatters over more pieces.
    win = RATE // 50
    kinds = []
    for w in range(0, len(kept) - win + 1, win):
        f = frequency(kept[w:w + win])
        near = [t for t in range(len(tones)) if abs(tones[t][0] - f) <= tones[t][0] / 20]
        kinds.append(near[0] if near else None)
    kinds = [None if 0 < i < len(kinds) - 1 and kinds[i - 1] not in (k, kinds[i + 1]) and
             kinds[i + 1] != k else k for i, k in enumerate(kinds)]
    known = [k for k in kinds if k is not None]
    check(known == sorted(known) and set(known) == set(range(len(tones))) and
          len(known) >= len(kinds) - 7 * len(tones),
          "the tones in the order played (%d pieces of 20 ms, %d between two)"
          % (len(kinds), len(kinds) - len(known)))
    first = [kinds.index(t) for t in range(len(tones))]
    for t, (hz, frames, amp) in enumerate(tones):
        # Its pieces but the first and the last, which may hold the next.
        lo = (first[t] + 1) * win
        hi = ((first[t + 1] if t + 1 < len(tones) else len(kinds)) - 1) * win
        part = kept[lo:hi]
        f = frequency(part)
        peak = max(abs(v) for v in part)
        check(abs(f - hz) <= hz / 100, "%d Hz tone measured at %.1f Hz over %d frames"
              % (hz, f, len(part)))
        check(abs(peak - amp) <= amp / 50, "its amplitude %d (written %d)" % (peak, amp))
    # Every frame of the muted second the host took is a zero, and
    # nothing else came between the tones' frames.
    silent = [g for at, g in gaps if abs(at - first[1] * win) <= 2 * win]
    check(silent and max(silent) >= muted["host_frames"],
          "a silence of the muted second between the tones (%s frames, the host took %d of "
          "its %d)" % (silent, muted["host_frames"], muted["frames"]))
    if paused:
        pause = [g for at, g in gaps if at > first[2] * win]
        check(pause and max(pause) >= paused // 4,
              "a silence of the pause inside the 700 Hz tone (%d frames, the host wrote %d "
              "while paused)" % (max(pause or [0]), paused // 4))
    print("linux_sound: %d underruns (the disk driver runs a fifth fast here), %d frames dropped"
          % (a["audio.underruns"], dropped))


# The guest's load while it plays: none, a busy loop, or a shell starting
# programs without a pause (fork, exec, page faults and exits: the shape of
# a build's process churn, which the initramfs has no compiler for).
GUEST_LOADS = {
    "idle": None,
    "busy loop": "soundplay bg spin:{spin_ms}",
    "fork/exec loop": "(while :; do busybox true; done) & echo started",
}


def bench_one(args, work, kernel, initrd, load, host_hogs):
    vm = start(args.btvm, work, kernel, initrd, args.delay_ms)
    hogs = []
    try:
        if GUEST_LOADS[load]:
            vm.run(GUEST_LOADS[load].format(spin_ms=1000 * (args.seconds + 4)))
        for _ in range(host_hogs):
            hogs.append(subprocess.Popen(["sh", "-c", "while :; do :; done"]))
        c0 = counters(vm)
        frames = RATE * args.seconds
        out = vm.run("soundplay vol:100:75 tone:440:%d:8000 sync" % frames, 60 + 4 * args.seconds)
        check("soundplay: ok" in out, "played %d s" % args.seconds)
        c1 = counters(vm)
    finally:
        for h in hogs:
            h.kill()
            h.wait()
        vm.kill()
    return {k: c1[k] - c0[k] for k in c1}


def bench(args, work, kernel, initrd):
    pace = ("SDL's own pace" if args.delay_ms is None
            else "%d ms a 10 ms piece" % args.delay_ms)
    for load, hogs in (("idle", 0), ("busy loop", 0), ("fork/exec loop", 0), ("fork/exec loop", 2)):
        d = bench_one(args, work, kernel, initrd, load, hogs)
        print("bench_sound: %d s at 48 kHz (disk driver at %s), %s in the guest, %d host busy "
              "loops: %d frames, %d underruns, %d dropped"
              % (args.seconds, pace, load, hogs, d["frames"], d["underruns"], d["dropped"]))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("btvm")
    p.add_argument("soundplay")
    p.add_argument("--bench", action="store_true")
    p.add_argument("--seconds", type=int, default=5, help="--bench: seconds of each playback")
    p.add_argument("--firmware", action="store_true",
                   help="boot through SeaBIOS; the test's first part only")
    p.add_argument("--delay-ms", type=int, help="--bench: SDL_DISKAUDIODELAY (the disk "
                   "driver's sleep a 10 ms piece; default SDL's own, 10 ms)")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    args = p.parse_args()
    if not shutil.which("cpio"):
        sys.exit("run.py: cpio is needed to build the initramfs")
    work = tempfile.mkdtemp(prefix="btvm-sound-")
    try:
        kernel, initrd = make_initrd(work, args.soundplay)
        (bench if args.bench else test)(args, work, kernel, initrd)
    except Fail as e:
        print("FAIL:", e, "(work directory %s)" % work)
        return 1
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
