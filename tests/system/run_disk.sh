#!/usr/bin/env bash
# End-to-end check of virtio-blk with Debian's i386 kernel and the busybox
# initramfs (virtio_blk and ext4 loaded by its /init), against raw ext4
# images made here with mke2fs -d:
#   1. the guest mounts /dev/vda, reads a payload the host put there
#      (sha256 compared), writes a file and its checksum, syncs, unmounts
#      and powers off; then e2fsck -fn is clean and debugfs reads the file
#      with the checksum the guest computed; --stats-json shows HLT
#      polls (a request in flight) that its completion ended, and
#      indirect-branch fills that reused their slot's block, and reads and
#      writes through the I/O threads' bounce buffers (where the host's
#      filesystem takes O_DIRECT);
#   2. --snapshot: the guest writes and reads back, the image stays byte
#      for byte what it was;
#   3. a second btvm cannot open an image in use (one line, status 1),
#      for writing or read-only (a read lock conflicts with the first's
#      write lock too);
#   4. boot from the disk: an image with /vmlinuz and /initrd.img (the same
#      kernel and initramfs) boots with no --kernel;
#   5. data safety: the guest writes files one after the other, each with
#      an fsync (dd conv=fsync) before it says so; btvm is killed with
#      SIGKILL in the middle; e2fsck replays the journal, then finds the
#      filesystem clean, and every file the guest said was synced is there
#      whole.
#
# Usage: run_disk.sh BTVM CONSOLE_EXPECT [--log DIR]
# Exit status: 0 passed, 1 failed, 77 the guest could not be downloaded.
set -euo pipefail
# shellcheck source=tests/system/lib.sh
. "$(dirname "$0")/lib.sh"
btvm=$1 expect_bin=$2
test_begin run_disk "${@:3}"
bg_pid=
end_run() { # at exit: a btvm still in the background, then cleanup
	[ -z "$bg_pid" ] || kill -9 "$bg_pid" 2>/dev/null || true
	cleanup
}
trap end_run EXIT

linux_guest

# The disk: ext4 with a payload of random bytes.
mkdir -p "$work/tree"
head -c 300000 /dev/urandom >"$work/tree/payload.bin"
payload_sum=$(sha256sum <"$work/tree/payload.bin" | cut -d' ' -f1)
mke2fs -q -F -t ext4 -L btvmtest -d "$work/tree" "$work/disk.img" 64M ||
	fail "mke2fs cannot make the test image"

# 1. Read, write, sync, power off; the host checks the filesystem.
cat >"$work/rw.expect" <<EOF
fail_on Kernel panic
fail_on BUG:\\s
fail_on Oops:\\s
fail_on I/O error, dev
fail_on EXT4-fs error
expect guest:~ #
send mkdir -p /mnt; mount -t ext4 /dev/vda /mnt && echo MOUNTED-\$((2*3))
expect MOUNTED-6
expect guest:~ #
send sha256sum /mnt/payload.bin
expect $payload_sum
expect guest:~ #
send dd if=/dev/urandom of=/mnt/new.bin bs=64k count=32 2>/dev/null; sha256sum /mnt/new.bin; sync; echo SYNCED-\$((3*3))
expect SYNCED-9
expect guest:~ #
send umount /mnt && echo UNMOUNTED-\$((4*4))
expect UNMOUNTED-16
expect guest:~ #
send poweroff -f
expect_exit 0
EOF
"$expect_bin" -t 300 -l "$work/rw.log" "$work/rw.expect" "$btvm" run --display none \
	--kernel "$kernel" --initrd "$initrd" --append "console=ttyS0 $quick" -m 256 --no-reboot \
	--disk "$work/disk.img" --stats --stats-json "$work/rw.json" >/dev/null 2>&1 ||
	fail "the guest's read/write run failed (log: rw.log)"
new_sum=$(grep -a -o '^[0-9a-f]\{64\}  /mnt/new.bin' "$work/rw.log" | head -1 | cut -d' ' -f1)
[ -n "$new_sum" ] || fail "no checksum of new.bin in the guest's log"
e2fsck -fn "$work/disk.img" >"$work/e2fsck.log" 2>&1 || fail "e2fsck -fn found problems: $(tail -3 "$work/e2fsck.log")"
host_sum=$(debugfs -R 'cat /new.bin' "$work/disk.img" 2>/dev/null | sha256sum | cut -d' ' -f1)
[ "$host_sum" = "$new_sum" ] || fail "new.bin on the image ($host_sum) is not what the guest wrote ($new_sum)"
echo "run_disk: the guest read the payload, wrote 2 MiB; e2fsck clean, debugfs reads it back"
# counters NAME...: those counters of the run's --stats-json file, on one line.
counters() {
	python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["counters"]; print(*(c[n] for n in sys.argv[2:]))' \
		"$work/rw.json" "$@" || fail "no $* in the --stats-json file"
}
# HLT with a request in flight spins a while before it sleeps: some of
# those spins must have seen the completion come.
# On one CPU (nproc follows the affinity mask, as btvm does) nothing
# spins: the spin would keep the I/O thread from finishing.
read -r npolls nwakes <<<"$(counters cpu.halt_polls cpu.halt_poll_wakes)"
if [ "$(nproc)" -gt 1 ]; then
	[ "$nwakes" -gt 0 ] && [ "$nwakes" -le "$npolls" ] ||
		fail "HLT polls $npolls, woken $nwakes: no wait for the disk ended while polling"
	echo "run_disk: $nwakes of $npolls HLT polls with a disk request in flight saw it complete"
else
	[ "$npolls" = 0 ] || fail "HLT polled $npolls times on one CPU"
	echo "run_disk: one CPU: no HLT polling"
fi
# Every command the shell forks runs its parent's code under a new
# address-space tag: some indirect-branch misses must have been filled
# with the block their slot already held (tcache.ibl_reuses), and that
# is a part of the misses filled without an exit.
read -r nreuses nfast <<<"$(counters tcache.ibl_reuses tcache.ibl_fast_fills)"
[ "$nreuses" -gt 0 ] && [ "$nreuses" -le "$nfast" ] ||
	fail "indirect-branch fills reusing their slot's block: $nreuses of $nfast"
echo "run_disk: $nreuses of $nfast indirect-branch fills reused the block their slot held"
# An I/O thread spins a while after each request (how many the spin
# catches depends on the host's load: test_virtio_blk checks it).
read -r npolled nwrites nreads <<<"$(counters disk0.polled disk0.writes disk0.reads)"
[ "$npolled" -le $((nwrites + nreads)) ] ||
	fail "more disk requests found spinning ($npolled) than requests ($((nwrites + nreads)))"
echo "run_disk: $npolled of $((nwrites + nreads)) disk requests found by a spinning I/O thread"
# Reads and writes go through an I/O thread's bounce buffer where the
# image's filesystem takes O_DIRECT, and only there.
nbounced=$(counters disk0.bounced)
if dd if=/dev/zero of="$work/direct.probe" bs=4096 count=1 oflag=direct status=none 2>/dev/null; then
	[ "$nbounced" -gt 0 ] && [ "$nbounced" -le $((nwrites + nreads)) ] ||
		fail "disk transfers bounced: $nbounced of $((nwrites + nreads))"
else
	[ "$nbounced" -eq 0 ] || fail "disk transfers bounced without O_DIRECT: $nbounced"
fi
rm -f "$work/direct.probe"
echo "run_disk: $nbounced of $((nwrites + nreads)) disk requests bounced"

# 2. --snapshot leaves the image as it was.
before=$(sha256sum <"$work/disk.img")
cat >"$work/snap.expect" <<EOF
fail_on Kernel panic
expect guest:~ #
send mkdir -p /mnt; mount -t ext4 /dev/vda /mnt && rm /mnt/payload.bin && dd if=/dev/zero of=/mnt/zero.bin bs=64k count=16 2>/dev/null && sync && ls /mnt && echo SNAP-\$((5*5))
expect zero.bin
expect SNAP-25
expect guest:~ #
send umount /mnt; mount -t ext4 /dev/vda /mnt && ls /mnt && echo AGAIN-\$((6*6))
expect zero.bin
expect AGAIN-36
send poweroff -f
expect_exit 0
EOF
"$expect_bin" -t 300 -l "$work/snap.log" "$work/snap.expect" "$btvm" run --display none \
	--kernel "$kernel" --initrd "$initrd" --append "console=ttyS0 $quick" -m 256 --no-reboot \
	--disk "$work/disk.img" --snapshot >/dev/null 2>&1 || fail "the --snapshot run failed (log: snap.log)"
[ "$(sha256sum <"$work/disk.img")" = "$before" ] || fail "--snapshot changed the image"
echo "run_disk: --snapshot: the guest saw its writes, the image is unchanged"

# 3. The lock: a second btvm cannot have an image in use.
"$btvm" run --display none --serial none --kernel "$kernel" --initrd "$initrd" \
	--append "console=ttyS0 $quick" -m 64 --disk "$work/disk.img" </dev/null >/dev/null 2>&1 &
bg_pid=$!
# Until it holds the image's lock (an OFD lock on its inode in /proc/locks),
# not for a second: a loaded host may take longer to start it.
ino=$(stat -c %i "$work/disk.img")
for _ in $(seq 3000); do
	grep -q "OFDLCK.*:$ino " /proc/locks && break
	kill -0 "$bg_pid" 2>/dev/null || fail "the first btvm did not stay up"
	sleep 0.1
done
grep -q "OFDLCK.*:$ino " /proc/locks || fail "the first btvm never locked the image"
for mode in "" ",readonly"; do
	set +e
	"$btvm" run --display none --kernel "$kernel" --disk "$work/disk.img$mode" \
		</dev/null >/dev/null 2>"$work/lock.log"
	status=$?
	set -e
	[ "$status" = 1 ] || fail "a second btvm on the image$mode exited with $status, want 1"
	grep -q "in use" "$work/lock.log" || fail "the second btvm did not say the image is in use: $(cat "$work/lock.log")"
	[ "$(wc -l <"$work/lock.log")" = 1 ] || fail "the lock error is not one line"
done
kill -9 "$bg_pid"
wait "$bg_pid" 2>/dev/null || true
bg_pid=
echo "run_disk: a second btvm is refused the image in use: $(cat "$work/lock.log")"

# 4. Boot from the disk: /vmlinuz and /initrd.img in its filesystem, loaded
# directly (the disk has no boot loader), as btvm's console line says.
mkdir -p "$work/boot/boot"
cp "$kernel" "$work/boot/boot/vmlinuz-6.1-test"
cp "$initrd" "$work/boot/boot/initrd.img-6.1-test"
ln -s boot/vmlinuz-6.1-test "$work/boot/vmlinuz"
ln -s boot/initrd.img-6.1-test "$work/boot/initrd.img"
mke2fs -q -F -t ext4 -d "$work/boot" "$work/boot.img" 64M || fail "mke2fs cannot make the boot image"
cat >"$work/boot.expect" <<EOF
fail_on Kernel panic
expect btvm: booting $work/boot.img:/boot/vmlinuz-6.1-test directly (the disk has no boot loader
expect === btvm test guest: Linux 6.1.
expect guest:~ #
send cat /proc/cmdline; echo CMD-\$((7*7))
expect console=ttyS0 root=
expect CMD-49
expect guest:~ #
send poweroff -f
expect_exit 0
EOF
"$expect_bin" -t 300 -l "$work/boot.log" "$work/boot.expect" "$btvm" run --display none \
	-m 256 --no-reboot --disk "$work/boot.img" >/dev/null 2>&1 || fail "booting from the disk failed (log: boot.log)"
echo "run_disk: booted from the disk's /vmlinuz: $(grep -a -o 'console=ttyS0 root=[^ ]* [^ ]*' "$work/boot.log" | head -1)"
# 5. SIGKILL in the middle of an fsync loop.
mke2fs -q -F -t ext4 "$work/kill.img" 64M || fail "mke2fs cannot make the kill image"
cat >"$work/kill.expect" <<EOF
fail_on Kernel panic
expect guest:~ #
send mkdir -p /mnt; mount -t ext4 /dev/vda /mnt && echo MOUNTED-\$((2*3))
expect MOUNTED-6
send i=0; while [ \$i -lt 1000 ]; do i=\$((i+1)); yes file-\$i | head -c 65536 | dd of=/mnt/f\$i conv=fsync 2>/dev/null && echo FSYNCED-\$i; done
expect FSYNCED-1000
EOF
"$expect_bin" -t 300 -l "$work/kill.log" "$work/kill.expect" "$btvm" run --display none \
	--kernel "$kernel" --initrd "$initrd" --append "console=ttyS0 $quick" -m 256 --no-reboot \
	--disk "$work/kill.img" >/dev/null 2>&1 &
bg_pid=$!
# As long as console_expect waits (its own 300 s for each line): a boot
# under TSan beside a CPU hog took over a minute, which a fixed wait of
# 60 s took for a guest that never synced.
while kill -0 "$bg_pid" 2>/dev/null; do
	grep -aq "FSYNCED-30" "$work/kill.log" 2>/dev/null && break
	sleep 0.1
done
grep -aq "FSYNCED-30" "$work/kill.log" || fail "the guest never synced 30 files (log: kill.log)"
vm=$(pgrep -P "$bg_pid" | head -1)
[ -n "$vm" ] || fail "cannot find btvm under console_expect"
kill -9 "$vm"
wait "$bg_pid" 2>/dev/null || true
bg_pid=
synced=$(grep -a -o 'FSYNCED-[0-9]*' "$work/kill.log" | tail -1 | cut -d- -f2)
set +e
e2fsck -fy "$work/kill.img" >"$work/e2fsck-replay.log" 2>&1
replay=$?
e2fsck -fn "$work/kill.img" >"$work/e2fsck-after.log" 2>&1
after=$?
set -e
[ "$replay" -le 1 ] || fail "e2fsck -fy after SIGKILL: status $replay: $(tail -3 "$work/e2fsck-replay.log")"
[ "$after" = 0 ] || fail "the filesystem is not clean after the replay: $(tail -3 "$work/e2fsck-after.log")"
for i in $(seq "$synced"); do
	want=$( (yes "file-$i" || true) | head -c 65536 | sha256sum)
	got=$(debugfs -R "cat /f$i" "$work/kill.img" 2>/dev/null | sha256sum)
	[ "$got" = "$want" ] || fail "f$i, synced before the kill, is not whole on the image"
done
echo "run_disk: SIGKILL after $synced fsynced files: journal replayed, e2fsck clean, all $synced intact"
echo "run_disk: PASS"
