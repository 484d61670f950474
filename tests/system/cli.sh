#!/usr/bin/env bash
# Command-line behaviour of the btvm binary: --help/--version, every usage
# error (exit 2, one line naming the problem plus a hint) and every bad
# kernel a user can hand it (exit 1, one line naming the file).
set -u
btvm=$1
guests=$2
work=$3
rm -rf "$work"
mkdir -p "$work"
passed=0
failed=0

# expect STATUS REGEX ARGS...: run btvm, check exit status and that stderr
# (or stdout for status 0) matches REGEX; stderr must be one line for errors
# other than usage errors, which add the hint line.
expect() {
	local want=$1 regex=$2
	shift 2
	local out err status
	out=$(timeout 300 "$btvm" "$@" </dev/null 2>"$work/stderr")
	status=$?
	err=$(cat "$work/stderr")
	local text=$err
	[ "$want" = 0 ] && text=$out
	if [ "$status" != "$want" ] || ! grep -Eq -- "$regex" <<<"$text"; then
		echo "FAIL: btvm $* -> status $status (want $want)"
		echo "  stdout: $out"
		echo "  stderr: $err"
		echo "  wanted: /$regex/"
		failed=$((failed + 1))
		return
	fi
	if [ "$want" = 2 ] && ! grep -q "Try 'btvm --help'" <<<"$err"; then
		echo "FAIL: btvm $*: usage error without the --help hint"
		failed=$((failed + 1))
		return
	fi
	if [ "$want" = 1 ] && [ "$(wc -l <<<"$err")" != 1 ]; then
		echo "FAIL: btvm $*: error is not one line: $err"
		failed=$((failed + 1))
		return
	fi
	passed=$((passed + 1))
}

hello=$guests/hello.elf

# Help and version; --help must mention every option.
expect 0 'Usage: btvm run' --help
for opt in --kernel --initrd --append -m --memory --display --serial --stats --stats-json --stats-interval --no-reboot --trace --one-insn-blocks --tcache --screenshot --vga --disk --cdrom if=ide --snapshot --net --monitor --restore --incoming --gdb --firmware --bios --boot --debugcon --tablet --share; do
	expect 0 "$opt" --help
done
expect 0 '^btvm [0-9]+\.[0-9]+' --version
expect 0 'Usage' run --help
# The sensitive-instruction table: every row with its class and block end.
expect 0 '--list-sensitive' --help
expect 0 '^SYSENTER +monitor +callout +transfer' --list-sensitive
expect 0 '^STI +IOPL-sensitive +inline +if-needed' --list-sensitive
expect 0 '^HLT +privileged +callout +yes' --list-sensitive

# Usage errors: exit 2.
expect 2 'no command given'
expect 2 "unknown command 'frobnicate'" frobnicate
expect 2 "unknown option '--bogus'" --bogus
expect 2 "unknown option '--bogus'" run --kernel "$hello" --bogus
expect 2 'no guest given \(--kernel FILE, --disk FILE or --cdrom FILE is required\)' run
expect 2 "option '--kernel' needs a value" run --kernel
expect 2 "invalid memory size 'lots'" run --kernel "$hello" -m lots
expect 2 "invalid memory size '12x'" run --kernel "$hello" -m 12x
expect 2 "invalid memory size '-5'" run --kernel "$hello" -m -5
expect 2 "memory size '2' is out of range" run --kernel "$hello" -m 2
expect 2 "memory size '64G' is out of range" run --kernel "$hello" -m 64G
expect 2 "memory size '64513' is out of range \\(4 to 64512 MiB: 3 GiB below 4 GiB and the rest up to the CPU's 36-bit physical addresses\\)" run --kernel "$hello" -m 64513
# Past the 36-bit limit's RAM but within it: what the host can back
# (MemTotal + SwapTotal) decides, in one line naming that figure; below
# it a machine with RAM above 4 GiB runs.
host_mib=$(awk '/^(MemTotal|SwapTotal):/ { kb += $2 } END { print int(kb / 1024) }' /proc/meminfo)
if [ "$host_mib" -lt 64512 ]; then
	expect 2 "memory size '64512' is more than this host can back \\($host_mib MiB: MemTotal \\+ SwapTotal\\)" \
		run --kernel "$hello" -m 64512
else
	expect 33 "" run --kernel "$hello" -m 64512
fi
expect 33 "" run --kernel "$hello" -m 5120
expect 2 "memory size '99999999999999999999' " run --kernel "$hello" -m 99999999999999999999
expect 2 "invalid display 'vnc'" run --kernel "$hello" --display vnc
expect 2 "invalid --tablet 'maybe'" run --kernel "$hello" --tablet maybe
expect 2 "--share: unknown option 'rw'" run --kernel "$hello" --share /tmp,rw
expect 2 "--share needs a folder" run --kernel "$hello" --share ,readonly
expect 2 "--share: two folders with the tag 'tmp'" run --kernel "$hello" --share /tmp --share /var/tmp
expect 2 "at most 4 --share folders" run --kernel "$hello" --share /tmp,tag=a --share /tmp,tag=b --share /tmp,tag=c --share /tmp,tag=d --share /tmp,tag=e
expect 2 "--share cannot go with --restore" run --restore /nonexistent --share /tmp
expect 1 "--share /nonexistent-share: /nonexistent-share: No such file or directory" run --kernel "$hello" --display none --share /nonexistent-share
expect 2 "invalid serial 'tcp'" run --kernel "$hello" --serial tcp
for v in 1024xx768 1024x768x x768 1023x768 2568x1600 100x100 -1x5 text1; do
	expect 2 "invalid --vga '$v'" run --kernel "$hello" --vga "$v"
done
expect 2 "screenshot needs a file name" run --kernel "$hello" --screenshot ''
# Firmware: bad choices are usage errors, a bad ROM image one line (1).
expect 2 "--firmware takes bios or direct, not 'uefi'" run --firmware uefi
expect 2 "--initrd and --append go with --kernel" run --firmware bios --initrd "$hello"
expect 2 "--initrd and --append go with --kernel" run --firmware bios --append quiet
# Without --firmware, a disk or CD that boots through the firmware takes
# no --append either (its boot loader has its own command line).
cp /usr/lib/grub-rescue/grub-rescue-floppy.img "$work/loader.img"
expect 2 "--initrd and --append go with a kernel btvm loads" run --disk "$work/loader.img" --append quiet
for order in x cc cdd dcd ''; do
	expect 2 "--boot: order takes the drives c \(disks\) and d \(CD-ROM\), each once, not '$order'" \
		run --firmware bios --boot "order=$order"
done
expect 2 "--boot: unknown 'boot=c'" run --firmware bios --boot boot=c
expect 2 "--boot: splash-time takes 1 to 65535 ms, not '0'" run --firmware bios --boot menu=on,splash-time=0
expect 1 "$work/nothing.bin: cannot open firmware: No such file" run --bios "$work/nothing.bin"
head -c 1000 /dev/zero >"$work/short.bin"
expect 1 "short.bin: firmware is 1000 bytes: a ROM image is 64, 128, 192 or 256 KiB" run --bios "$work/short.bin"
head -c 524288 /dev/zero >"$work/big.bin"
expect 1 "big.bin: firmware is too large" run --bios "$work/big.bin"
expect 1 "$work: firmware is not a regular file" run --bios "$work"
expect 1 "--debugcon $work/missing/d.log: No such file or directory" \
	run --firmware bios --debugcon "$work/missing/d.log"
expect 2 "at most 4 --screenshot files" run --kernel "$hello" --screenshot a --screenshot b \
	--screenshot c --screenshot d --screenshot e
# Disks: bad options (2), images that cannot be used (1, one line).
# Output files: never written through a link, never over anything but a
# regular file; a link planted at the name a temporary file once had is
# left alone; what is written is the user's alone (0600).
echo untouched >"$work/victim"
ln -sf "$work/victim" "$work/link"
expect 1 "--stats-json /dev/null: is a device" run --kernel "$hello" --stats-json /dev/null
expect 1 "--stats-json $work/link: is a symbolic link" run --kernel "$hello" --stats-json "$work/link"
expect 1 "--stats-json $work: is a directory" run --kernel "$hello" --stats-json "$work"
expect 1 "--screenshot $work/link: is a symbolic link" run --kernel "$hello" --screenshot "$work/link"
expect 1 "--screenshot /dev/null: is a device" run --kernel "$hello" --screenshot /dev/null
expect 1 "--trace $work/link: is a symbolic link" run --kernel "$hello" --trace "$work/link"
expect 1 "--trace /dev/null: is a device" run --kernel "$hello" --trace /dev/null
rm -f "$work/out.json" "$work/out.png" "$work/out.txt"
for name in out.json.tmp out.png.tmp out.txt.tmp; do ln -sf "$work/victim" "$work/$name"; done
expect 33 "" run --kernel "$hello" --display none --stats-json "$work/out.json" \
	--screenshot "$work/out.png" --screenshot "$work/out.txt"
for f in out.json out.png out.txt; do
	if [ -L "$work/$f" ] || [ ! -f "$work/$f" ] || [ "$(stat -c %a "$work/$f")" != 600 ]; then
		echo "FAIL: $work/$f is not a new regular file of mode 600"
		failed=$((failed + 1))
	fi
done
if [ "$(cat "$work/victim")" != untouched ] || [ -n "$(find "$work" -maxdepth 1 -name 'out.*.??????')" ]; then
	echo "FAIL: an output file was written through a planted link, or a temporary file was left"
	failed=$((failed + 1))
fi
expect 2 "disk needs a file name" run --kernel "$hello" --disk ''
expect 2 "at most 4 --disk images" run --kernel "$hello" --disk a --disk b --disk c --disk d --disk e
expect 1 "$work/nodisk.img" run --kernel "$hello" --disk "$work/nodisk.img"
expect 2 "invalid --profile '0'" run --kernel "$hello" --profile 0
# The cache-study knobs: --max-block-insns takes 1 to 64.
expect 2 "invalid --max-block-insns '0'" run --kernel "$hello" --max-block-insns 0
expect 2 "invalid --max-block-insns '65'" run --kernel "$hello" --max-block-insns 65
expect 2 "invalid --max-block-insns 'x'" run --kernel "$hello" --max-block-insns x
# --traces takes an optional threshold, 1 to 65534 (attached: --traces=N).
expect 2 "invalid --traces '0'" run --kernel "$hello" --traces=0
expect 2 "invalid --traces '65535'" run --kernel "$hello" --traces=65535
expect 2 "invalid --traces 'x'" run --kernel "$hello" --traces=x
# --symbols: a missing file or one that is no symbol map is one line, status 1.
expect 1 "--symbols $work/nosyms: No such file" run --kernel "$hello" --explain --symbols "$work/nosyms"
printf 'not a map\n' >"$work/badsyms"
expect 1 "--symbols $work/badsyms:1: not a symbol map line" run --kernel "$hello" --explain --symbols "$work/badsyms"
expect 2 "--symbols needs a file name" run --kernel "$hello" --explain --symbols ""
expect 1 "$work/nodisk.img" run --disk "$work/nodisk.img"
expect 1 "$work: " run --kernel "$hello" --disk "$work"
head -c 1048576 /dev/zero >"$work/blank.img"
expect 1 "$work/blank.img: no ext2/3/4 filesystem" run --firmware direct --disk "$work/blank.img"
# IDE: --disk FILE,if=ide and --cdrom. At most 4 drives, the CD-ROM
# counted, whichever comes first; an unknown interface, an empty name and
# a second --cdrom are usage errors; a missing or unusable image is one
# line, status 1; the images are locked as virtio's are; a machine with
# four drives runs the guest; the first --disk gives the kernel whatever
# its interface; --restore names its own drives.
head -c 4096 /dev/zero >"$work/cd.iso"
head -c 1000 /dev/zero >"$work/short.iso"
for i in 1 2 3 4 5; do head -c 65536 /dev/zero >"$work/ide$i.img"; done
expect 2 "at most 4 IDE drives" run --kernel "$hello" --disk "$work/ide1.img,if=ide" \
	--disk "$work/ide2.img,if=ide" --disk "$work/ide3.img,if=ide" --disk "$work/ide4.img,if=ide" \
	--disk "$work/ide5.img,if=ide"
expect 2 "at most 4 IDE drives" run --kernel "$hello" --disk "$work/ide1.img,if=ide" \
	--disk "$work/ide2.img,if=ide" --disk "$work/ide3.img,if=ide" --disk "$work/ide4.img,if=ide" \
	--cdrom "$work/cd.iso"
expect 2 "at most 4 IDE drives" run --kernel "$hello" --cdrom "$work/cd.iso" \
	--disk "$work/ide1.img,if=ide" --disk "$work/ide2.img,if=ide" --disk "$work/ide3.img,if=ide" \
	--disk "$work/ide4.img,ro,if=ide"
expect 2 "--disk: unknown interface 'scsi' \(expected if=virtio or if=ide\)" run --kernel "$hello" \
	--disk "$work/ide1.img,if=scsi"
expect 2 "--disk: unknown interface ''" run --kernel "$hello" --disk "$work/ide1.img,readonly,if="
expect 2 "disk needs a file name" run --kernel "$hello" --disk ",if=ide"
expect 2 "cdrom needs a file name" run --kernel "$hello" --cdrom ''
expect 2 "one --cdrom only" run --kernel "$hello" --cdrom "$work/cd.iso" --cdrom "$work/cd.iso"
expect 2 "--firmware direct needs --kernel FILE or a --disk with a kernel" run --firmware direct \
	--cdrom "$work/cd.iso"
expect 1 "$work/nodisk.img" run --kernel "$hello" --disk "$work/nodisk.img,if=ide"
expect 1 "$work/nocd.iso" run --kernel "$hello" --cdrom "$work/nocd.iso"
expect 1 "$work/short.iso: smaller than one 2048-byte sector" run --kernel "$hello" --cdrom "$work/short.iso"
expect 1 "$work: " run --kernel "$hello" --cdrom "$work"
expect 1 "in use" run --kernel "$hello" --disk "$work/ide1.img" --disk "$work/ide1.img,if=ide"
expect 1 "in use" run --kernel "$hello" --disk "$work/ide1.img,if=ide" --cdrom "$work/ide1.img"
expect 1 "$work/blank.img: no ext2/3/4 filesystem" run --firmware direct --disk "$work/blank.img,if=ide" \
	--disk "$work/ide1.img"
# hello.elf's exit (status 33) with every IDE slot taken, readonly and
# --snapshot among them: the machine was built and ran.
expect 33 "" run --kernel "$hello" --display none --serial none --snapshot --cdrom "$work/cd.iso" \
	--disk "$work/ide1.img,if=ide" --disk "$work/ide2.img,ro,if=ide" --disk "$work/ide3.img,if=ide"
expect 33 "" run --kernel "$hello" --display none --serial none --disk "$work/ide1.img,if=virtio" \
	--disk "$work/ide2.img,if=ide,readonly"
# The network: a malformed --net is a usage error.
expect 2 "--net" run --kernel "$hello" --net bogus
expect 2 "--net" run --kernel "$hello" --net user,hostfwd=tcp:1.2.3.4:99999-:22
expect 2 "--net" run --kernel "$hello" --net user,hostfwd=sctp::80-:80
# Live migration's destination: a malformed --incoming is a usage error, so
# is giving the machine twice; a port in use is one line, status 1.
expect 2 "invalid --incoming 'udp:1:2'" run --incoming udp:1:2
expect 2 "invalid --incoming 'tcp::99999'" run --incoming tcp::99999
expect 2 "invalid --incoming 'tcp:localhost:'" run --incoming tcp:localhost:
expect 2 "--incoming and --restore both" run --incoming "unix:$work/in.sock" --restore "$work/x.snap"
# A TCP endpoint takes anyone's connection: it needs a key; a key others
# may read is refused, and so is a Unix socket name already taken.
expect 2 "--incoming 'tcp::1234': a TCP port needs key=FILE" run --incoming tcp::1234
head -c 32 /dev/urandom >"$work/mig.key"
chmod 644 "$work/mig.key"
expect 1 "key $work/mig.key: other users may read or change it" run --incoming "tcp::1234,key=$work/mig.key"
chmod 600 "$work/mig.key"
head -c 8 /dev/urandom >"$work/short.key"
chmod 600 "$work/short.key"
expect 1 "key $work/short.key: 8 bytes; a key has 16 to 4096" run --incoming "tcp::1234,key=$work/short.key"
expect 1 "--incoming: $work/blank.img is there already" run --incoming "unix:$work/blank.img"
python3 -c 'import socket, time; s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1); print(s.getsockname()[1], flush=True); time.sleep(30)' >"$work/inport" &
inholder=$!
for _ in $(seq 1200); do [ -s "$work/inport" ] && break; sleep 0.1; done
expect 1 "--incoming: cannot listen on 127.0.0.1:$(cat "$work/inport"): Address already in use" run --incoming "tcp:127.0.0.1:$(cat "$work/inport"),key=$work/mig.key"
kill "$inholder"
wait "$inholder" 2>/dev/null
# The monitor socket: a malformed --monitor is a usage error; a path that
# cannot be a socket, or one a program listens on, is one line, status 1.
expect 2 "invalid --monitor 'tcp:1234'" run --kernel "$hello" --monitor tcp:1234
expect 2 "invalid --monitor 'unix:'" run --kernel "$hello" --monitor unix:
: >"$work/not-a-socket"
expect 1 "monitor socket $work/not-a-socket: a file that is not a socket" run --kernel "$hello" --monitor "unix:$work/not-a-socket"
expect 1 "cannot listen on the monitor socket $work/no/such/dir/m.sock: No such file" run --kernel "$hello" --monitor "unix:$work/no/such/dir/m.sock"
# A stale socket file (nothing listens) is replaced, and removed at exit.
python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$work/stale.sock"
expect 33 "" run --kernel "$hello" --display none --monitor "unix:$work/stale.sock"
if [ -e "$work/stale.sock" ]; then
	echo "FAIL: the monitor socket file is left behind at exit"
	failed=$((failed + 1))
fi
expect 2 "--net" run --kernel "$hello" --net user,dns=1.2.3.4
# A host port that another socket holds: one line naming it, status 1
# (TCP listening and UDP bound, as a second btvm's hostfwd would).
for proto in tcp udp; do
	python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if sys.argv[1] == "udp" else socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
if sys.argv[1] == "tcp":
    s.listen(1)
print(s.getsockname()[1], flush=True)
time.sleep(60)' "$proto" >"$work/port-$proto" &
	holder=$!
	# (A file of its own: the shell truncates the file in the child, so a
	# loaded host could show this loop the last holder's port in a shared
	# one, then an empty file to cat.)
	for _ in $(seq 1200); do [ -s "$work/port-$proto" ] && break; sleep 0.1; done   # a loaded host starts python3 slowly
	port=$(cat "$work/port-$proto")
	if [ -z "$port" ]; then
		echo "FAIL: the $proto port holder (python3) did not start"
		failed=$((failed + 1))
	else
		expect 1 "hostfwd=$proto:127.0.0.1:$port-10.0.2.15:22: cannot use the host port" \
			run --kernel "$hello" --net "user,hostfwd=$proto:127.0.0.1:$port-:22"
	fi
	kill "$holder"
	wait "$holder" 2>/dev/null
done
# The network card is the default (its counters are in --stats); --net
# none takes it away.
expect 33 "net tx frames +[0-9]" run --kernel "$hello" --stats
expect 33 "net tx frames +[0-9]" run --kernel "$hello" --stats --net user
"$btvm" run --kernel "$hello" --stats --net none </dev/null >/dev/null 2>"$work/stats"
status=$?
if [ "$status" = 33 ] && grep -q 'blocks translated' "$work/stats" && ! grep -q 'net tx' "$work/stats"; then
	passed=$((passed + 1))
else
	echo "FAIL: hello guest with --net none: status $status, or a network card in its stats"
	cat "$work/stats"
	failed=$((failed + 1))
fi
# A window asked for with no display server to show it: one line, status 1.
DISPLAY= WAYLAND_DISPLAY= expect 1 "cannot open the display window" run --kernel "$hello" --display sdl
DISPLAY=:97531 expect 1 "cannot open the display window" run --kernel "$hello" --display sdl
# A screenshot to a place that cannot take it: said, and the run's own
# status (hello's exit through isa-debug-exit, 33) is kept.
expect 33 "cannot write the screenshot: $work/no/such/dir/s.png: cannot create a file beside it" run --kernel "$hello" --display none --screenshot "$work/no/such/dir/s.png"
expect 2 "unexpected argument 'extra'" run --kernel "$hello" extra
# Snapshots that are not there or not snapshots: one line, status 1 (the
# corrupt ones are tests/system/snapshot_corrupt.sh's).
expect 2 "option '--restore' needs a value" run --restore
expect 1 "$work/missing.snap: cannot open snapshot: No such file" run --restore "$work/missing.snap"
expect 1 "$hello: not a btvm snapshot \\(bad magic\\)" run --restore "$hello"

# Bad kernels: exit 1 with the file named.
: >"$work/empty.elf"
printf 'this is not a kernel\n' >"$work/text.elf"
head -c 30 "$hello" >"$work/trunc.elf"
expect 1 "$work/missing.elf: .*(No such file|not found|cannot open)" run --kernel "$work/missing.elf"
expect 1 "$work/empty.elf: .*empty" run --kernel "$work/empty.elf"
expect 1 "$work/text.elf: .*not an ELF" run --kernel "$work/text.elf"
expect 1 "$work/trunc.elf: .*truncated" run --kernel "$work/trunc.elf"
expect 1 "$work: " run --kernel "$work"
# bzImages the Linux loader refuses: the boot sector signature and "HdrS"
# with protocol 2.00 (too old), then 2.15 with the 64-bit kernel flag.
bzimage() {   # version-byte-hi version-byte-lo xloadflags file
	head -c 4096 /dev/zero >"$4"
	printf '\x04' | dd of="$4" bs=1 seek=$((0x1f1)) conv=notrunc status=none
	printf '\x55\xaa\xeb\x6aHdrS' | dd of="$4" bs=1 seek=$((0x1fe)) conv=notrunc status=none
	printf "\\x$2\\x$1" | dd of="$4" bs=1 seek=$((0x206)) conv=notrunc status=none
	printf '\x01' | dd of="$4" bs=1 seek=$((0x211)) conv=notrunc status=none
	printf "\\x$3" | dd of="$4" bs=1 seek=$((0x236)) conv=notrunc status=none
}
bzimage 02 00 00 "$work/old.bz"
bzimage 02 0f 01 "$work/x64.bz"
expect 1 "$work/old.bz: .*too old" run --kernel "$work/old.bz"
expect 1 "$work/x64.bz: .*64-bit kernel" run --kernel "$work/x64.bz"
# A header cut right after "HdrS": the version at 0x206 is past the end
# (it was read anyway; the ASan build reported the over-read).
head -c $((0x206)) "$work/old.bz" >"$work/cut.bz"
expect 1 "$work/cut.bz: .*truncated" run --kernel "$work/cut.bz"
expect 1 "/bin/true: .*(32-bit|class)" run --kernel /bin/true
expect 1 "$work/missing.img: " run --kernel "$hello" --initrd "$work/missing.img"
# The same through the firmware (--firmware bios --kernel): what its
# loader refuses before the machine starts, one line naming the file.
expect 1 "hello.elf: not a Linux kernel image .*--firmware direct" run --firmware bios --kernel "$hello"
bzimage 01 05 00 "$work/ancient.bz"
expect 1 "$work/ancient.bz: Linux boot protocol 1.05 is too old" run --firmware bios --kernel "$work/ancient.bz"
expect 1 "$work/cut.bz: truncated setup header" run --firmware bios --kernel "$work/cut.bz"
printf '\x01' | dd of="$work/old.bz" bs=1 seek=$((0x201)) conv=notrunc status=none   # header ends at 0x203
expect 1 "$work/old.bz: truncated or corrupt setup header" run --firmware bios --kernel "$work/old.bz"
bzimage 02 01 00 "$work/legacy.bz"
expect 1 "$work/legacy.bz: the command line is 300 bytes; this kernel takes at most 255" \
	run --firmware bios --kernel "$work/legacy.bz" --append "$(printf 'x%.0s' $(seq 300))"
bzimage 02 0f 00 "$work/big.bz"
printf '\x00\x00\x00\x40' | dd of="$work/big.bz" bs=1 seek=$((0x260)) conv=notrunc status=none
expect 1 "$work/big.bz: the kernel needs 1025 MiB of RAM" run --firmware bios --kernel "$work/big.bz" -m 64
expect 1 "$work/missing.img: " run --firmware bios --kernel "$work/legacy.bz" --initrd "$work/missing.img"

# The smallest guest runs as translated code and exits through port 0xf4.
out=$("$btvm" run --kernel "$hello" --stats </dev/null 2>"$work/stats")
status=$?
if [ "$status" = 33 ] && grep -q 'hello from a btvm guest' <<<"$out" &&
	grep -Eq 'blocks translated +[1-9]' "$work/stats" && grep -Eq 'chains made +[1-9]' "$work/stats" &&
	grep -Eq 'lookup hit rate \(hits/lookups\) +[0-9.]+%' "$work/stats" && grep -q 'legend: ' "$work/stats"; then
	passed=$((passed + 1))
else
	echo "FAIL: hello guest: status $status, output '$out'"
	cat "$work/stats"
	failed=$((failed + 1))
fi
# Shadow paging under pressure: the stats must show what the issue asks
# for (hidden faults, trace faults, adaptive retranslations and their
# accesses, window switches and evictions), all non-zero for this guest.
stress="$guests/paging_stress.elf"
out=$("$btvm" run --kernel "$stress" -m 64 --stats </dev/null 2>"$work/stats")
status=$?
ok=1
for field in 'hidden faults' 'trace faults \(table writes\)' 'adaptive retranslations' \
	'adaptive accesses' 'window switches' 'windows made' 'windows evicted'; do
	grep -Eq "$field +[1-9]" "$work/stats" || ok=0
done
if [ "$status" = 33 ] && [ "$ok" = 1 ]; then
	passed=$((passed + 1))
else
	echo "FAIL: paging_stress stats: status $status"
	cat "$work/stats"
	failed=$((failed + 1))
fi
# The same with one instruction per block, and with a trace file.
out=$("$btvm" run --kernel "$hello" --one-insn-blocks --trace "$work/trace" </dev/null 2>&1)
status=$?
if [ "$status" = 33 ] && grep -q 'hello from a btvm guest' <<<"$out" &&
	grep -q 'block 00100010' "$work/trace" && grep -q 'cmp eax, 0x2badb002' "$work/trace" &&
	! grep -q '2 insns' "$work/trace"; then
	passed=$((passed + 1))
else
	echo "FAIL: hello guest with --one-insn-blocks --trace: status $status, output '$out'"
	failed=$((failed + 1))
fi
expect 1 "--trace $work/no/such/dir/trace: No such file" run --kernel "$hello" --trace "$work/no/such/dir/trace"
expect 2 "invalid translation cache size '0'" run --kernel "$hello" --tcache 0

# A triple fault resets the guest (it boots three times and passes), or
# ends btvm under --no-reboot.
expect 1 "triple.elf: triple fault" run --kernel "$guests/triple.elf" --no-reboot
out=$(timeout 300 "$btvm" run --kernel "$guests/triple.elf" </dev/null 2>&1)
status=$?
if [ "$status" = 33 ] && [ "$(grep -c '^boot [123]' <<<"$out")" = 3 ]; then
	passed=$((passed + 1))
else
	echo "FAIL: triple fault reset: status $status, output '$out'"
	failed=$((failed + 1))
fi

# A guest that halts where nothing can wake it ends the run, not a hang.
expect 1 "halt_cli.elf: guest halted with interrupts disabled" run --kernel "$guests/halt_cli.elf"
expect 1 "halt_masked.elf: guest halted waiting for an interrupt that no device will raise" \
	run --kernel "$guests/halt_masked.elf"

# --stats-json and --stats-interval: bad values are usage errors, a file
# that cannot be written is said before the guest runs (one line, 1).
expect 2 "invalid --stats-interval '0'" run --kernel "$hello" --stats-json "$work/s.json" --stats-interval 0
expect 2 "invalid --stats-interval 'fast'" run --kernel "$hello" --stats-json "$work/s.json" --stats-interval fast
expect 2 "invalid --stats-interval '-5'" run --kernel "$hello" --stats-json "$work/s.json" --stats-interval -5
expect 2 "--stats-interval needs --stats-json" run --kernel "$hello" --stats-interval 100
expect 2 "--stats-json needs a file name" run --kernel "$hello" --stats-json ""
expect 1 "--stats-json $work/missing/s.json: cannot create a file beside it" \
	run --kernel "$hello" --stats-json "$work/missing/s.json"
# The guest's own status, a file with its counters, no FILE.tmp left; a
# guest that can never wake still ends, samples or not.
rm -f "$work/s.json"
expect 33 "^$" run --kernel "$hello" --stats-json "$work/s.json" --stats-interval 5
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(not (d["reason"] == "exit" and d["counters"]["tcache.blocks"] > 0 and len(d["series"]) >= 1))' "$work/s.json" &&
	[ ! -e "$work/s.json.tmp" ]; then
	passed=$((passed + 1))
else
	echo "FAIL: hello guest's --stats-json file"
	failed=$((failed + 1))
fi
expect 1 "halt_masked.elf: guest halted waiting for an interrupt" \
	run --kernel "$guests/halt_masked.elf" --stats-json "$work/s.json" --stats-interval 10

echo "cli: $passed passed, $failed failed"
[ "$failed" = 0 ]
