#!/usr/bin/env bash
# A whole Debian 12 i386 installation, as a person would do it on a PC,
# timed under btvm and under QEMU TCG with the same inputs:
#   install  the installer CD (scripts/make-installer-iso.sh --preseed
#            bench/install/preseed.cfg: debian-installer-12-netboot-i386's
#            kernel and initrd with the preseed in the initrd) in the
#            CD-ROM drive and a blank sparse disk on virtio-blk; SeaBIOS
#            boots the CD, GRUB's menu times out into the automated entry
#            and the installer partitions the disk, fetches every package
#            from Debian's archive through the user-mode NAT (virtio-net),
#            installs GRUB on the disk and powers off (the VMM exits 0).
#            Timed from the VMM's start to its exit.
#   boot     the same disk alone: SeaBIOS, the installed GRUB, Debian's
#            kernel and systemd to the login prompt on the serial console
#            (timed from the VMM's start to "btvm-installed login:"); then
#            root logs in with the preseed's password, the preseed's user
#            is checked and the system powers off.
# Both VMs get the same memory and the same kinds of devices: btvm with
# --firmware bios --cdrom ISO --disk IMG (virtio) and its default
# virtio-net NAT; QEMU with -accel tcg -cdrom ISO -drive if=virtio -nic
# user,model=virtio-net-pci (its default SeaBIOS, which on Debian is the
# same bios-256k.bin). The VMs run one after the other, never together.
# The network traffic goes to Debian's archive only (deb.debian.org, the
# host's resolver through the NAT's DNS).
#
# The netboot installer downloads its own components (.udeb files: the
# partitioner, debootstrap, grub-installer...) from the mirror before any
# package, so the mirror must serve them: before booting anything the
# script asks the mirror, from the host, for one (apt-mirror-setup's,
# named by the mirror's udeb index) and stops with one line when it is not
# there. The archive this project's machines reach (deb.debian.org through
# the package registry's proxy) serves .deb files but answers 404 for
# every .udeb, so here the install cannot run (docs/DESIGN.md, Firmware);
# --mirror names another one (a full mirror or a local copy; from the
# guest the host is 10.0.2.2, which the host-side check reads as
# 127.0.0.1; with --mirror the security and updates suites are left out).
#
# Not a test and not in CI: one installation downloads about 150 MB and
# takes from minutes to an hour. A failure (a question the preseed did not
# answer, an error dialog, a kernel panic, a timeout, a wrong exit status)
# ends the script with status 1 and the console log's path.
#
# Usage: bench/install.sh [--vm btvm,qemu] [--phase install,boot]
#                         [--memory MIB] [--disk-size SIZE] [--work DIR]
#                         [--install-timeout SEC] [--boot-timeout SEC]
#                         [--mirror HOST[:PORT]/DIR]
#   --vm LIST        which VMs, in that order (default btvm,qemu)
#   --phase LIST     which phases (default install,boot); boot alone needs
#                    --work DIR holding a disk a previous install left
#   --memory MIB     guest RAM for both (default 1024)
#   --disk-size SIZE the blank disk (default 8G)
#   --work DIR       keep the disks (VM.img) and console logs (VM-*.log)
#                    there; default: a temporary directory removed at exit
#   --install-timeout SEC, --boot-timeout SEC  (default 7200 and 1200)
#   --mirror HOST[:PORT]/DIR  the archive over HTTP, as the guest names it
#                    (default deb.debian.org/debian)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

vms=btvm,qemu
phases=install,boot
memory=1024
disk_size=8G
work=
install_timeout=7200
boot_timeout=1200
mirror=
usage() {
	sed -n '/^# Usage:/,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
}
while [ $# -gt 0 ]; do
	[ $# -ge 2 ] || usage
	case $1 in
	--vm) vms=$2 ;;
	--phase) phases=$2 ;;
	--memory) memory=$2 ;;
	--disk-size) disk_size=$2 ;;
	--work) work=$2 ;;
	--install-timeout) install_timeout=$2 ;;
	--boot-timeout) boot_timeout=$2 ;;
	--mirror) mirror=$2 ;;
	*) usage ;;
	esac
	shift 2
done
die() { echo "bench/install: $*" >&2; exit 1; }
for vm in ${vms//,/ }; do
	case $vm in btvm|qemu) ;; *) die "unknown VM '$vm' (btvm or qemu)" ;; esac
done
for phase in ${phases//,/ }; do
	case $phase in install|boot) ;; *) die "unknown phase '$phase' (install or boot)" ;; esac
done
if [[ ,$vms, == *,qemu,* ]]; then
	command -v qemu-system-i386 >/dev/null || die "qemu-system-i386 is missing (qemu-system-x86; or --vm btvm)"
fi

[ -x build/btvm ] && [ -x build/tests/system/console_expect ] || {
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build -j"$(nproc)" --target btvm console_expect >/dev/null
}
expect_bin=$root/build/tests/system/console_expect

if [ -z "$work" ]; then
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
else
	mkdir -p "$work"
	work=$(cd "$work" && pwd)
fi

# The preseed, with another mirror when asked (the image is keyed by it).
cp bench/install/preseed.cfg "$work/preseed.cfg"
if [ -n "$mirror" ]; then
	[[ $mirror == */* ]] || die "--mirror takes HOST[:PORT]/DIR, not '$mirror'"
	sed -i -e "s|^d-i mirror/http/hostname string .*|d-i mirror/http/hostname string ${mirror%%/*}|" \
		-e "s|^d-i mirror/http/directory string .*|d-i mirror/http/directory string /${mirror#*/}|" \
		-e "s|^d-i apt-setup/services-select multiselect .*|d-i apt-setup/services-select multiselect|" \
		"$work/preseed.cfg"
else
	mirror=deb.debian.org/debian
fi

# Does the mirror serve the installer's components? (See the top.)
host_mirror=http://${mirror/#10.0.2.2/127.0.0.1}
python3 - "$host_mirror" <<'PY' || exit 1
import lzma, sys, urllib.error, urllib.request
base = sys.argv[1].rstrip("/")
index = base + "/dists/bookworm/main/debian-installer/binary-i386/Packages.xz"
def fail(msg):
    print("bench/install: " + msg, file=sys.stderr)
    sys.exit(1)
try:
    text = lzma.decompress(urllib.request.urlopen(index, timeout=60).read()).decode()
except (OSError, lzma.LZMAError) as e:
    fail(f"cannot read the mirror's installer index {index}: {e}")
name = None
for stanza in text.split("\n\n"):
    fields = dict(l.split(": ", 1) for l in stanza.splitlines() if ": " in l and not l.startswith(" "))
    if fields.get("Package") == "apt-mirror-setup":
        name = fields["Filename"]
        break
if not name:
    fail(f"no apt-mirror-setup in {index}")
try:
    urllib.request.urlopen(urllib.request.Request(base + "/" + name, method="HEAD"), timeout=60)
except urllib.error.HTTPError as e:
    fail(f"the mirror {base} does not serve the installer's components (.udeb): HTTP {e.code} for {name}; the netboot installer needs them (--mirror names another)")
except OSError as e:
    fail(f"cannot reach {base}/{name}: {e}")
PY

iso=$(bash scripts/make-installer-iso.sh --print --preseed "$work/preseed.cfg") ||
	die "no installer image (see the line above)"

# The console_expect scripts. The installer asks nothing when the preseed
# answers everything; a question or an error it shows would wait forever,
# so it fails the run at once. Its progress dialogs have only <Cancel>; a
# question or error has <Continue> or <Go Back>, drawn after its text, so
# the log's end shows what it said.
cat >"$work/install.expect" <<EOF
timeout $install_timeout
fail_on Kernel panic
fail_on <Continue>
fail_on <Go Back>
fail_on Downloading a file failed
expect_exit 0
EOF
# The login prompt's moment is taken on the host (run) as soon as it
# shows; logging in then checks the preseed's root password and user.
cat >"$work/boot.expect" <<EOF
timeout $boot_timeout
fail_on Kernel panic
expect_text btvm-installed login:
run date +%s.%N >"\$BENCH_LOGIN_STAMP"
timeout 300
send root
expect Password:
send btvm-root
expect root@btvm-installed
send echo USER-\$(id -un btvm)-\$(grep -c ttyS0 /proc/cmdline)-\$((6*7))
expect USER-btvm-1-42
send poweroff
expect_exit 0
EOF

# vm_cmd VM PHASE: the VMM's command line for that phase into the array cmd.
vm_cmd() {
	local disk=$work/$1.img
	if [ "$1" = btvm ]; then
		cmd=("$root/build/btvm" run --firmware bios --disk "$disk" -m "$memory" --display none --no-reboot)
		[ "$2" = install ] && cmd+=(--cdrom "$iso")
	else
		cmd=(qemu-system-i386 -accel tcg -m "$memory" -drive "file=$disk,format=raw,if=virtio"
			-nic user,model=virtio-net-pci -display none -serial stdio -monitor none -no-reboot)
		[ "$2" = install ] && cmd+=(-cdrom "$iso")
	fi
	return 0
}

declare -A result
for vm in ${vms//,/ }; do
	for phase in ${phases//,/ }; do
		disk=$work/$vm.img
		log=$work/$vm-$phase.log
		if [ "$phase" = install ]; then
			rm -f "$disk"
			truncate -s "$disk_size" "$disk"
		else
			[ -s "$disk" ] || die "no installed disk $disk for the boot phase (run the install phase, with --work DIR)"
		fi
		vm_cmd "$vm" "$phase"
		echo "bench/install: $vm: $phase ..." >&2
		export BENCH_LOGIN_STAMP=$work/$vm-login.stamp
		rm -f "$BENCH_LOGIN_STAMP"
		start=$(date +%s.%N)
		"$expect_bin" -l "$log" "$work/$phase.expect" "${cmd[@]}" </dev/null >"$work/$vm-$phase.out" 2>&1 ||
			{ tail -5 "$work/$vm-$phase.out" >&2; die "$vm: the $phase phase failed; console log: $log"; }
		end=$(date +%s.%N)
		[ "$phase" = boot ] && end=$(cat "$BENCH_LOGIN_STAMP")
		result[$vm,$phase]=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
		echo "bench/install: $vm: $phase ${result[$vm,$phase]} s" >&2
	done
done

printf '%-8s' phase
for vm in ${vms//,/ }; do printf ' %12s' "$vm (s)"; done
printf '\n'
for phase in ${phases//,/ }; do
	printf '%-8s' "$phase"
	for vm in ${vms//,/ }; do printf ' %12s' "${result[$vm,$phase]}"; done
	printf '\n'
done
