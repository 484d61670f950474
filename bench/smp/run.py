#!/usr/bin/python3
"""The SMP benchmark (issue 45): parallel workloads in a Linux guest at 1,
2 and N vCPUs, under btvm and under QEMU TCG's MTTCG (one host thread per
vCPU: -accel tcg,thread=multi) with the same -smp, in one run; and the
round trip of an IPI and of a TLB shootdown, btvm against QEMU.

    bench/smp/run.py [--vcpus 1,2,N] [--procs P] [--runs N] [--rounds N]
                     [--quick] [--no-qemu] [--no-debian] [--debian-vcpus K,...]
                     [--build DIR] [--no-build] [--timeout SEC]

The Linux guest is Debian's i386 kernel with the test initramfs of
scripts/fetch-guest.sh and a second archive appended: /bin/smpwork
(bench/smp/smpwork.c, static) and an /init that runs `smpwork P` (the
compute, forkexec and build workloads, P processes each; P is the largest
vCPU count) and powers off. Every vCPU count runs the same work, so
speed-up k = time with 1 vCPU / time with k. smpwork also runs natively,
its P processes on the first k of the host's CPUs for each k (the host's
own speed-up: the ceiling of any VMM's on this machine at this load), and
gives the checksums every guest run must match. Then the Debian system
of scripts/make-debian-image.sh (a private copy, its writes thrown away)
boots from its disk with k vCPUs and runs two parallel jobs at the shell
prompt, timed by the guest's clock: debbuild, of its own programs (xargs
-P P of gzip -9n and sha256sum over 32 generated files), and debcc, a
parallel build of a small C project (Lua 5.4 by Debian's gcc 12, make
-jP, with the compiler from a second disk: bench/smp/toolchain.sh), at
every vCPU count or at those --debian-vcpus names (a smoke run's single
boot); `--no-debian` leaves it out. The IPI kernel
(bench/smp/ipibench.asm) runs with 2 vCPUs; the host times its two loops
between their begin and end lines on the serial console and divides by
the rounds.

N is the host's CPU count (the CPUs this process may run on) unless
--vcpus says otherwise; --quick does a tenth of the work (a smoke run, as
the CTest test bench_smp_quick does with --no-qemu). Figures, not
thresholds: exit status 0 when every run finished with the checksums the
native run gave and the CPU count asked for, 1 otherwise (the reasons
follow the table), 2 on bad usage."""
import argparse
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
MEM_MIB = 256
APPEND = "console=ttyS0 quiet"
WORK = re.compile(rb"SMPWORK ([a-z]+) (\d+) ([0-9.]+) s (0x[0-9a-f]{8})")
NPROC = re.compile(rb"SMPWORK-NPROC (\d+)")
WORK_END = re.compile(rb"SMPWORK-END ([0-9.]+)")
EXIT = re.compile(rb"SMPWORK-EXIT (\d+)")
BEGIN = re.compile(rb"ipibench begin ([a-z]+) rounds (\d+)")
END = re.compile(rb"ipibench end ([a-z]+)")
IPI_LOOPS = ("ipi", "shootdown")
# A timed IPI loop shorter than this is run again with more rounds: the
# console lines' arrival would otherwise be much of what is measured.
MIN_LOOP_S = 0.3

# The Debian system's part: the image of scripts/make-debian-image.sh
# (a private copy, booted with its writes thrown away), driven by
# tests/system/console_expect, with two parallel jobs in one boot, each
# timed by the guest's clock:
# - debbuild, of the image's own programs: FILES files of numbers (seq, not
#   timed), then a `make -jP` shape through xargs -P: per file a shell that
#   compresses it (gzip -9n) and hashes the result (sha256sum), then the
#   hashes hashed together;
# - debcc, a parallel build of a small C project: Lua 5.4 (Debian's
#   source), `make -jP posix` with Debian's gcc 12, from the second disk of
#   bench/smp/toolchain.sh (the image has no compiler; the guest links the
#   disk's files into its tree), its checksum the objects' and programs'
#   bytes (gcc's output is the same wherever it runs right) and what the
#   built lua prints. --quick compiles a quarter of its files, at -O0
#   (a tenth of the time), and checks the objects.
DEB_MEM_MIB = 512
DEB_PROMPT = "root@debian-btvm:~#"
DEB_LINE = re.compile(rb"DEB(WORK|CC) (\d+) ([0-9.]+) ([0-9a-f]{16})")
DEB_JOBS = {b"WORK": "debbuild", b"CC": "debcc"}
DEB_CC = {  # (make's arguments, what the checksum hashes), by --quick
    False: ("posix", "cat src/*.o src/lua src/luac | sha256sum; ./src/lua -e 'local t = 0 "
            "for i = 1, 100000 do t = (t * 31 + i) % 1000003 end print(t, _VERSION)'"),
    True: ("-C src MYCFLAGS=-O0 SYSCFLAGS=-DLUA_USE_POSIX lapi.o lcode.o ldebug.o ldo.o lgc.o "
           "lparser.o lstrlib.o lvm.o", "cat src/*.o | sha256sum"),
}
DEB_SCRIPT = """fail_on Kernel panic
fail_on BUG:\\s
fail_on Oops:\\s
expect debian-btvm login: root (automatic login)
expect {prompt}
send for i in $(seq 120); do systemctl is-active -q multi-user.target && break; sleep 1; done; echo MU=$(systemctl is-active multi-user.target)-$((9*9))
expect MU=active-81
expect {prompt}
send (mkdir /tmp/w && cd /tmp/w && for i in $(seq {files}); do seq $i 7 400000 >f$i; done && t0=$(date +%s.%N) && ls f* | xargs -P {procs} -I@ sh -c 'gzip -9n <@ >@.gz && sha256sum @.gz >@.sum' && t1=$(date +%s.%N) && echo DEBWORK $(nproc) $(awk -v a=$t0 -v b=$t1 'BEGIN {{ printf "%.6f", b - a }}') $(cat f*.sum | sha256sum | cut -c1-16)); echo DEBWORK-DONE-$((6*7))
expect DEBWORK-DONE-42
expect {prompt}
send mkdir -p /mnt/cc && mount -o ro /dev/vdb /mnt/cc && cp -asn /mnt/cc/. / && echo LINKED-$((3*3))
expect LINKED-9
expect {prompt}
send (cp -r /mnt/cc/opt/cproj/lua /tmp/cc && cd /tmp/cc && t0=$(date +%s.%N) && make -j{procs} {cc_make} >/tmp/cc.log 2>&1 && t1=$(date +%s.%N) && echo DEBCC $(nproc) $(awk -v a=$t0 -v b=$t1 'BEGIN {{ printf "%.6f", b - a }}') $( ({cc_sum}) | sha256sum | cut -c1-16) || tail -5 /tmp/cc.log); echo DEBCC-DONE-$((6*7))
expect DEBCC-DONE-42
expect {prompt}
send poweroff
expect_exit 0
"""

INIT = """#!/bin/busybox sh
# /init of bench/smp/run.py's initramfs: the test /init's set-up, then
# smpwork instead of a shell, then power off.
/bin/busybox mkdir -p /proc /sys /dev /tmp
/bin/busybox --install -s
export PATH=/sbin:/usr/sbin:/bin:/usr/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev || mdev -s
mount -t tmpfs tmpfs /tmp
[ -t 1 ] || exec </dev/console >/dev/console 2>&1
echo SMPWORK-NPROC $(nproc)
/bin/smpwork %s
echo "SMPWORK-EXIT $?"
poweroff -f
"""


def run_timed(cmd, timeout, patterns):
    """Runs cmd; returns (exit status, output, {match: arrival time}) where
    each line matching one of the regexes in patterns is stamped with its
    host arrival (time.monotonic()). Raises RuntimeError on a timeout."""
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    start = time.monotonic()
    out, stamps = b"", []
    try:
        for line in p.stdout:
            now = time.monotonic()
            out += line
            for pat in patterns:
                m = pat.search(line)
                if m:
                    stamps.append((m, now))
            if now - start > timeout:
                raise RuntimeError("timed out after %d s" % timeout)
        p.wait(timeout=max(1, timeout - (time.monotonic() - start)))
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        p.kill()
        p.wait()
        raise RuntimeError(str(e) or "timed out after %d s" % timeout)
    return p.returncode, out, stamps


def tail(out, n=6):
    lines = [l for l in out.decode(errors="replace").replace("\r", "").split("\n") if l.strip()]
    return "\n".join("    out: " + l for l in lines[-n:])


def linux_cmd(vmm, exe, kernel, initrd, vcpus):
    if vmm == "btvm":
        return [exe, "run", "--kernel", kernel, "--initrd", initrd, "--append", APPEND,
                "-m", str(MEM_MIB), "--smp", str(vcpus), "--no-reboot", "--serial", "stdio",
                "--display", "none", "--net", "none"]
    return [exe, "-accel", "tcg,thread=multi", "-smp", str(vcpus), "-m", str(MEM_MIB),
            "-kernel", kernel, "-initrd", initrd, "-append", APPEND, "-nographic",
            "-no-reboot", "-nic", "none"]


def ipi_cmd(vmm, exe, elf, rounds):
    if vmm == "btvm":
        return [exe, "run", "--kernel", elf, "--append", "rounds=%d" % rounds, "--smp", "2",
                "-m", "64", "--serial", "stdio", "--display", "none", "--net", "none"]
    return [exe, "-accel", "tcg,thread=multi", "-smp", "2", "-m", "64", "-kernel", elf,
            "-append", "rounds=%d" % rounds, "-serial", "stdio", "-display", "none",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-no-reboot", "-nic", "none"]


def parse_work(out, stamps):
    return {m.group(1).decode(): (float(m.group(3)), m.group(4).decode(), int(m.group(2)))
            for m, _ in stamps if m.re is WORK}


def ipi_loops(out, stamps):
    """{loop: (seconds by the host, rounds)} from the begin/end lines."""
    begun, res = {}, {}
    for m, t in stamps:
        name = m.group(1).decode()
        if m.re is BEGIN:
            begun[name] = (t, int(m.group(2)))
        elif name in begun:
            res[name] = (t - begun[name][0], begun[name][1])
    return res


def fmt(v, digits=3):
    return "-" if v is None else ("%.*f" % (digits, v))


def ratio(a, b):
    return None if a is None or b is None or b <= 0 else a / b


def host_shootdown(prog, quick):
    """The host's own cost of a mapping change beside another thread of
    the process (bench/host/shootdown.c, at prog): what every host unmap
    and write-protection of btvm's vCPU threads pays at several vCPUs."""
    try:
        out = subprocess.run([prog] + (["--quick"] if quick else []), capture_output=True,
                             text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "host: %s did not run (build target shootdown): %s" % (prog, e)
    got = dict(re.findall(r"^SHOOTDOWN (\w+) (\d+) ns$", out.stdout, re.M))
    if out.returncode or len(got) != 3:
        return "host: %s failed: %s" % (prog, (out.stderr or out.stdout).strip())
    return ("host (bench/host/shootdown, no guest): an mprotect pair (read-only, then back) "
            "takes %.1f us alone, %.1f us with another thread of the process spinning on "
            "another CPU, %.1f us with it asleep" %
            tuple(int(got[k]) / 1000 for k in ("alone", "spinning", "sleeping")))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vcpus", help="vCPU counts, e.g. 1,2,4 (default 1,2,N: N the host's CPUs)")
    ap.add_argument("--procs", type=int, help="processes per workload (default: the largest count)")
    ap.add_argument("--runs", type=int, default=1, help="runs of each; the best counts (default 1)")
    ap.add_argument("--rounds", type=int, help="IPI rounds per loop (default 20000, --quick 2000)")
    ap.add_argument("--quick", action="store_true", help="a tenth of the work: a smoke run")
    ap.add_argument("--no-qemu", action="store_true", help="btvm only")
    ap.add_argument("--no-debian", action="store_true", help="skip the Debian system's part")
    ap.add_argument("--debian-vcpus", help="the vCPU counts of the Debian system's part "
                    "(default: those of --vcpus)")
    ap.add_argument("--build", default=os.path.join(REPO, "build"), help="the build directory")
    ap.add_argument("--no-build", action="store_true", help="use the build directory as it is")
    ap.add_argument("--timeout", type=int, default=600, help="limit of each VMM run (s)")
    args = ap.parse_args()
    host_cpus = len(os.sched_getaffinity(0))
    try:
        vcpus = sorted({int(v) for v in (args.vcpus or "1,2,%d" % host_cpus).split(",")})
    except ValueError:
        ap.error("--vcpus takes counts, e.g. 1,2,4")
    if vcpus[0] < 1 or vcpus[-1] > 8:
        ap.error("--vcpus: counts from 1 to 8")
    if 1 not in vcpus:
        ap.error("--vcpus must include 1 (the speed-up's reference)")
    try:
        deb_vcpus = (sorted({int(v) for v in args.debian_vcpus.split(",")}) if args.debian_vcpus
                     else vcpus)
    except ValueError:
        ap.error("--debian-vcpus takes counts, e.g. 2")
    if deb_vcpus[0] < 1 or deb_vcpus[-1] > 8:
        ap.error("--debian-vcpus: counts from 1 to 8")
    procs = args.procs or max(2, vcpus[-1])
    if not 1 <= procs <= 64 or args.runs < 1 or args.timeout < 1 or (args.rounds is not None
                                                                and args.rounds < 1):
        ap.error("--procs 1-64, --runs, --rounds and --timeout positive")
    rounds = args.rounds or (2000 if args.quick else 20000)
    build = os.path.realpath(args.build)

    if not args.no_build:
        if not os.path.exists(os.path.join(build, "CMakeCache.txt")):
            subprocess.run(["cmake", "-S", REPO, "-B", build, "-DCMAKE_BUILD_TYPE=RelWithDebInfo"],
                           check=True, stdout=subprocess.DEVNULL)
        r = subprocess.run(["cmake", "--build", build, "-j", str(host_cpus), "--target", "btvm",
                            "smpbench", "console_expect", "shootdown"], stdout=subprocess.DEVNULL)
        if r.returncode:
            sys.exit("run.py: build failed (cmake --build %s --target btvm smpbench)" % build)
    btvm = os.path.join(build, "btvm")
    smpwork = os.path.join(build, "bench", "smp", "smpwork")
    ipi_elf = os.path.join(build, "bench", "smp", "ipibench.elf")
    expect_bin = os.path.join(build, "tests", "system", "console_expect")
    for f in (btvm, smpwork, ipi_elf) + (() if args.no_debian else (expect_bin,)):
        if not os.path.exists(f):
            sys.exit("run.py: no %s (build: cmake --build %s --target btvm smpbench "
                     "console_expect)" % (f, build))
    if not shutil.which("cpio"):
        sys.exit("run.py: cpio is needed to build the initramfs")
    qemu = None if args.no_qemu else shutil.which("qemu-system-i386")
    if not args.no_qemu and not qemu:
        print("run.py: qemu-system-i386 not installed: btvm only")
    vmms = {"btvm": btvm}
    if qemu:
        vmms["qemu"] = qemu

    r = subprocess.run(["bash", os.path.join(REPO, "scripts", "fetch-guest.sh"), "--print"],
                       stdout=subprocess.PIPE, text=True)
    if r.returncode or len(r.stdout.split("\n")) < 2:
        sys.exit("run.py: scripts/fetch-guest.sh failed: no guest kernel and initramfs")
    kernel, base_initrd = r.stdout.split("\n")[:2]

    work_args = ("--quick " if args.quick else "") + str(procs)
    os.makedirs(os.path.join(build, "bench", "smp"), exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="run.", dir=os.path.join(build, "bench", "smp"))
    try:
        root = os.path.join(tmp, "root")
        os.makedirs(os.path.join(root, "bin"))
        shutil.copy(smpwork, os.path.join(root, "bin", "smpwork"))
        with open(os.path.join(root, "init"), "w") as f:
            f.write(INIT % work_args)
        os.chmod(os.path.join(root, "init"), 0o755)
        initrd = os.path.join(tmp, "initramfs.cpio.gz")
        shutil.copy(base_initrd, initrd)
        # The kernel unpacks concatenated archives in order: later files win.
        with open(initrd, "ab") as f:
            r = subprocess.run("find . -mindepth 1 | sort | cpio -o -H newc -R 0:0 --quiet | gzip -n",
                               shell=True, cwd=root, stdout=f)
        if r.returncode:
            sys.exit("run.py: cannot build the benchmark initramfs")
        deb = None
        if not args.no_debian:
            r = subprocess.run(["bash", os.path.join(REPO, "scripts", "make-debian-image.sh"),
                                "--print", "--copy", os.path.join(tmp, "debian.img")],
                               stdout=subprocess.PIPE, text=True)
            deb = r.stdout.split("\n")[:3]
            if r.returncode or len(deb) < 3 or not all(deb):
                sys.exit("run.py: scripts/make-debian-image.sh failed (status %d): no Debian "
                         "image (--no-debian skips that part)" % r.returncode)
            r = subprocess.run(["bash", os.path.join(HERE, "toolchain.sh"), deb[0]],
                               stdout=subprocess.PIPE, text=True)
            if r.returncode or not r.stdout.strip():
                sys.exit("run.py: bench/smp/toolchain.sh failed (status %d): no compiler disk "
                         "for the Debian system's build (--no-debian skips that part)" %
                         r.returncode)
            deb += [expect_bin, r.stdout.strip()]
        return bench(args, vmms, vcpus, deb_vcpus, procs, rounds, work_args, smpwork, kernel,
                     initrd, ipi_elf, host_cpus, deb, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def debian_once(vmm, exe, deb, vcpus, procs, quick, tmp, timeout):
    """One boot of the Debian system with VCPUS vCPUs: (exit status of
    console_expect, the console log, the command)."""
    disk, kernel, initrd, expect_bin, cc_disk = deb
    script = os.path.join(tmp, "debian.expect")
    with open(script, "w") as f:
        f.write(DEB_SCRIPT.format(prompt=DEB_PROMPT, files=8 if quick else 32, procs=procs,
                                  cc_make=DEB_CC[quick][0], cc_sum=DEB_CC[quick][1]))
    log = os.path.join(tmp, "debian-%s-%d.log" % (vmm, vcpus))
    if vmm == "btvm":
        cmd = [exe, "run", "--display", "none", "-m", str(DEB_MEM_MIB), "--smp", str(vcpus),
               "--net", "none", "--disk", disk, "--disk", cc_disk + ",readonly", "--snapshot"]
    else:
        cmd = [exe, "-accel", "tcg,thread=multi", "-smp", str(vcpus), "-m", str(DEB_MEM_MIB),
               "-kernel", kernel, "-initrd", initrd, "-append", "console=ttyS0 root=/dev/vda ro",
               "-drive", "file=%s,if=virtio,format=raw,snapshot=on" % disk,
               "-drive", "file=%s,if=virtio,format=raw,readonly=on" % cc_disk, "-nic", "none",
               "-nographic", "-no-reboot"]
    r = subprocess.run([expect_bin, "-t", str(timeout), "-l", log, script] + cmd,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        with open(log, "rb") as f:
            out = f.read()
    except OSError:
        out = b""
    return r.returncode, out + r.stderr, cmd


def bench(args, vmms, vcpus, deb_vcpus, procs, rounds, work_args, smpwork, kernel, initrd,
          ipi_elf, host_cpus, deb, tmp):
    failures = []
    best = {}     # (vmm, vcpus, workload) -> seconds
    sums = {}     # (vmm, vcpus, workload) -> checksum
    ipi = {}      # (vmm, loop) -> microseconds per round
    clock = {}    # (vmm, vcpus) -> (guest's seconds, host's seconds), the last run
    names = subprocess.run([smpwork, "--list"], stdout=subprocess.PIPE, text=True,
                           check=True).stdout.split()
    guest_names = names + ([] if deb is None else list(DEB_JOBS.values()))

    def keep(key, v):
        if key not in best or v < best[key]:
            best[key] = v

    load = open("/proc/loadavg").read().split()[:3]
    print("btvm SMP benchmark: best of %d run(s)%s; %d processes per workload" %
          (args.runs, ", --quick (a tenth of the work)" if args.quick else "", procs))
    print("guest: %s, -m %d, '%s'; host: %d CPUs, load average %s at start" %
          (os.path.basename(kernel), MEM_MIB, APPEND, host_cpus, " ".join(load)))
    print("qemu: %s" % ("-accel tcg,thread=multi (MTTCG), the same -smp" if "qemu" in vmms
                        else "skipped (not installed or --no-qemu)"))

    for run in range(1, args.runs + 1):
        # Natively on the first k of this process's CPUs: the host's own
        # speed-up, the ceiling of any VMM's on this machine and load.
        cpus = sorted(os.sched_getaffinity(0))
        for k in vcpus:
            if k > len(cpus):
                continue
            print("run %d/%d: native on %d CPU(s) ..." % (run, args.runs, k), file=sys.stderr)
            p = subprocess.run([smpwork] + work_args.split(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=args.timeout,
                               preexec_fn=lambda k=k: os.sched_setaffinity(0, cpus[:k]))
            stamps = [(m, 0) for m in WORK.finditer(p.stdout)]
            got = parse_work(p.stdout, stamps)
            if p.returncode or set(got) != set(names):
                failures.append("native smpwork on %d CPU(s): exit status %d\n%s" %
                                (k, p.returncode, tail(p.stdout)))
            for n, (t, s, _) in got.items():
                keep(("native", k, n), t)
                if sums.setdefault(("native", 0, n), s) != s:
                    failures.append("native smpwork on %d CPU(s): %s's checksum changed" % (k, n))
        for k in vcpus:
            for vmm, exe in vmms.items():
                print("run %d/%d: %s --smp %d ..." % (run, args.runs, vmm, k), file=sys.stderr)
                cmd = linux_cmd(vmm, exe, kernel, initrd, k)
                try:
                    status, out, stamps = run_timed(cmd, args.timeout,
                                                    [WORK, NPROC, WORK_END, EXIT])
                except RuntimeError as e:
                    failures.append("%s --smp %d: %s" % (vmm, k, e))
                    continue
                why = []
                if status != 0:
                    why.append("exit status %d" % status)
                nproc = [m.group(1) for m, _ in stamps if m.re is NPROC]
                if nproc != [str(k).encode()]:
                    why.append("nproc said %s, not %d" % (b",".join(nproc).decode() or "nothing", k))
                exits = [m.group(1) for m, _ in stamps if m.re is EXIT]
                t_nproc = [t for m, t in stamps if m.re is NPROC]
                end = [(float(m.group(1)), t) for m, t in stamps if m.re is WORK_END]
                if t_nproc and end and end[0][1] > t_nproc[0]:
                    clock[(vmm, k)] = (end[0][0], end[0][1] - t_nproc[0])
                if exits != [b"0"]:
                    why.append("smpwork did not exit with status 0 in the guest")
                got = parse_work(out, stamps)
                for n in names:
                    if n not in got:
                        why.append("no %s line" % n)
                        continue
                    t, s, _ = got[n]
                    prev = sums.setdefault((vmm, k, n), s)
                    if prev != s:
                        why.append("%s's checksum changed between runs" % n)
                    keep((vmm, k, n), t)
                if why:
                    failures.append("%s --smp %d: %s\n    command: %s\n%s" %
                                    (vmm, k, "; ".join(why), " ".join(cmd), tail(out)))
        for k in deb_vcpus if deb else []:
            for vmm, exe in vmms.items():
                print("run %d/%d: %s --smp %d, the Debian system ..." % (run, args.runs, vmm, k),
                      file=sys.stderr)
                status, out, cmd = debian_once(vmm, exe, deb, k, procs, args.quick, tmp,
                                               args.timeout)
                got = DEB_LINE.findall(out)
                why = []
                if status != 0:
                    why.append("console_expect's status %d" % status)
                for job, name in DEB_JOBS.items():
                    lines = [g[1:] for g in got if g[0] == job]
                    if len(lines) != 1:
                        why.append("no DEB%s line" % job.decode())
                        continue
                    ncpu, secs, s = lines[0]
                    if int(ncpu) != k:
                        why.append("nproc said %s, not %d" % (ncpu.decode(), k))
                        continue
                    s = s.decode()
                    if sums.setdefault(("debian", 0, name), s) != s:
                        why.append("%s CHECKSUM MISMATCH: %s, before %s" %
                                   (name, s, sums[("debian", 0, name)]))
                    else:
                        keep((vmm, k, name), float(secs))
                if why:
                    failures.append("%s --smp %d, the Debian system: %s\n    command: %s\n%s" %
                                    (vmm, k, "; ".join(why), " ".join(cmd), tail(out)))
        for vmm, exe in vmms.items():
            print("run %d/%d: %s ipibench ..." % (run, args.runs, vmm), file=sys.stderr)
            n_rounds = rounds
            while True:
                cmd = ipi_cmd(vmm, exe, ipi_elf, n_rounds)
                try:
                    status, out, stamps = run_timed(cmd, args.timeout, [BEGIN, END])
                except RuntimeError as e:
                    failures.append("%s ipibench: %s" % (vmm, e))
                    break
                loops = ipi_loops(out, stamps)
                if status != 33 or set(loops) != set(IPI_LOOPS):
                    failures.append("%s ipibench: exit status %d (33 is a pass)\n    command: %s\n%s"
                                    % (vmm, status, " ".join(cmd), tail(out)))
                    break
                shortest = min(t for t, _ in loops.values())
                if args.quick or args.rounds or shortest >= MIN_LOOP_S or n_rounds >= 1 << 24:
                    for name, (t, nr) in loops.items():
                        us = t / nr * 1e6
                        if (vmm, name) not in ipi or us < ipi[(vmm, name)]:
                            ipi[(vmm, name)] = us
                    break
                n_rounds = min(1 << 24, int(n_rounds * MIN_LOOP_S * 1.5 / max(shortest, 1e-3)) + 1)

    # Every checksum must be the native one.
    for (vmm, k, n), s in sums.items():
        ref = sums.get(("native", 0, n))
        if ref is not None and s != ref:
            failures.append("%s --smp %d: %s CHECKSUM MISMATCH: native %s, %s %s" %
                            (vmm, k, n, ref, vmm, s))
            best.pop((vmm, k, n), None)

    print()
    head = "%-9s %5s %8s %8s %8s %9s %7s %7s %7s" % (
        "workload", "vCPUs", "native", "btvm", "qemu", "btvm/qemu", "nat x1", "btvm x1", "qemu x1")
    print("seconds (best of %d); xN: speed-up against the same with 1 vCPU (native: 1 CPU)" %
          args.runs)
    print(head)
    print("-" * len(head))
    speedups = {}
    for n in guest_names:
        for k in sorted(set(vcpus) | set(deb_vcpus)) if n in DEB_JOBS.values() else vcpus:
            nt, b, q = (best.get((v, k, n)) for v in ("native", "btvm", "qemu"))
            sn = ratio(best.get(("native", 1, n)), nt)
            sb = ratio(best.get(("btvm", 1, n)), b)
            sq = ratio(best.get(("qemu", 1, n)), q)
            speedups[(n, k)] = (sb, sq, ratio(b, q))
            print("%-9s %5d %8s %8s %8s %9s %7s %7s %7s" % (
                n, k, fmt(nt), fmt(b), fmt(q), fmt(ratio(b, q), 2), fmt(sn, 2), fmt(sb, 2),
                fmt(sq, 2)))
    print("-" * len(head))
    print("(native: smpwork's %d processes on the host's first k CPUs, taskset-style: the"
          " host's own speed-up, the ceiling on this machine and load)" % procs)
    if deb:
        print("(debbuild: the Debian system from its disk, -m %d: %d files through xargs -P %d"
              " of gzip -9n and sha256sum, by the guest's clock)" %
              (DEB_MEM_MIB, 8 if args.quick else 32, procs))
        print("(debcc: in the same boot, Lua 5.4 built by Debian's gcc 12, make -j%d %s, by the"
              " guest's clock; no native figure: the host runs no i386 gcc)" %
              (procs, DEB_CC[args.quick][0]))
    # The times are the guest's: its clock must keep the host's pace at
    # every vCPU count (smpwork's whole run by its clock, against the host's
    # time from the line before it to its last line).
    for (vmm, k), (g, h) in sorted(clock.items()):
        print("guest clock check, %s --smp %d: smpwork took %.2f s by its clock, %.2f s by the "
              "host's (ratio %.3f)" % (vmm, k, g, h, g / h))
    print()
    print("round trip, 2 vCPUs (us, best of %d)      btvm      qemu btvm/qemu" % args.runs)
    for name, text in (("ipi", "IPI (fixed IPI there and back)"),
                       ("shootdown", "TLB shootdown (PTE, INVLPG, IPI, ack)")):
        b, q = ipi.get(("btvm", name)), ipi.get(("qemu", name))
        print("%-40s %9s %9s %9s" % (text, fmt(b, 2), fmt(q, 2), fmt(ratio(b, q), 2)))
    print()
    # build/bench/smp/smpwork -> build/bench/host/shootdown
    print(host_shootdown(os.path.join(os.path.dirname(os.path.dirname(smpwork)), "host",
                                      "shootdown"), args.quick))
    print()
    k2 = 2 if 2 in vcpus else vcpus[-1]
    sb, sq, bq = speedups.get(("compute", k2), (None, None, None))
    print("summary: compute at %d vCPUs: speed-up btvm %s (target >= 1.8 at 2), qemu %s; "
          "btvm/qemu %s (target <= 0.33)" % (k2, fmt(sb, 2), fmt(sq, 2), fmt(bq, 2)))
    if failures:
        print()
        print("FAILURES:")
        for f in failures:
            print("--- " + f)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
