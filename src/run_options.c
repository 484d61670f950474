/* `btvm run`'s options (run_options.h): --help's text, getopt's table,
 * each option's parser and the checks across options. */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/firmware.h"
#include "frontend/migration.h"
#include "host/display.h"
#include "host/host_memory.h"
#include "host/tcp_address.h"
#include "machine/board.h"
#include "mmu/guest_ram.h"
#include "run_options.h"

void print_usage(FILE *out)
{
	fputs("Usage: btvm run --kernel FILE [options]\n"
	      "       btvm run --disk FILE [options]   (boots the disk's /vmlinuz)\n"
	      "       btvm run --restore FILE [options] (resumes a saved machine)\n"
	      "       btvm run --disk FILE --loadvm NAME [options] (a named snapshot)\n"
	      "       btvm img info|commit IMAGE  (a disk's overlays: docs/OVERLAY.md)\n"
	      "       btvm --help | --version | --list-sensitive\n"
	      "\n"
	      "Runs a 32-bit x86 guest as translated code, without hardware virtualization.\n"
	      "\n"
	      "Options of 'run':\n"
	      "  --kernel FILE         guest kernel: a Linux bzImage or a Multiboot v1 ELF\n"
	      "                        image, told apart by its header; with --firmware\n"
	      "                        bios a bzImage that the firmware boots through\n"
	      "                        its real-mode setup code, as QEMU's -kernel\n"
	      "  --disk FILE[,readonly][,if=virtio|ide]\n"
	      "                        a raw disk image (repeatable): if=virtio (the\n"
	      "                        default) a virtio-blk disk, up to 4, the first\n"
	      "                        /dev/vda; if=ide a disk on the PIIX3 IDE\n"
	      "                        controller (00:01.1), taking the IDE slots in\n"
	      "                        order: primary master, primary slave, secondary\n"
	      "                        master, secondary slave. Without --kernel the\n"
	      "                        first --disk is booted as a PC would: through the\n"
	      "                        firmware when it has a boot loader (or a --cdrom is\n"
	      "                        given); else its ext2/3/4 filesystem (whole disk,\n"
	      "                        or the first Linux MBR/GPT partition) gives\n"
	      "                        /vmlinuz and /initrd.img (else the newest\n"
	      "                        /boot/vmlinuz-*), loaded directly with the command\n"
	      "                        line 'console=ttyS0 root=... ro' and --append after\n"
	      "                        it. An image is locked while in use\n"
	      "  --cdrom FILE          an ISO 9660 image in an IDE CD/DVD-ROM drive, read-\n"
	      "                        only: the secondary master (as QEMU's -cdrom), or\n"
	      "                        the first free IDE slot when if=ide disks took it.\n"
	      "                        At most 4 IDE drives, the CD-ROM counted. The\n"
	      "                        monitor's 'change cdrom FILE' and 'eject cdrom'\n"
	      "                        swap the disc\n"
	      "  --firmware bios|direct bios: boot through SeaBIOS from the reset vector,\n"
	      "                        as a PC does (a boot loader from the CD or disks;\n"
	      "                        or --kernel, --initrd, --append through fw_cfg\n"
	      "                        and QEMU's linuxboot_dma.bin option ROM);\n"
	      "                        direct: load --kernel, or the first disk's kernel,\n"
	      "                        and enter it in protected mode. Default: direct\n"
	      "                        with --kernel, else as --disk says\n"
	      "  --bios FILE           the firmware's ROM image (64 to 256 KiB; default\n"
	      "                        " FIRMWARE_DEFAULT_PATH ");\n"
	      "                        implies --firmware bios\n"
	      "  --boot [order=DRIVES][,menu=on|off][,splash-time=MS]\n"
	      "                        through the firmware: try DRIVES in this order, d\n"
	      "                        the CD-ROM, c the disks (the first --disk first);\n"
	      "                        default dc. menu=on offers the firmware's boot\n"
	      "                        menu (ESC or F12, in the window or on the serial\n"
	      "                        console), waiting MS ms for the key\n"
	      "  --debugcon FILE       write what the guest sends to the debug console\n"
	      "                        (port 0x402, QEMU's: SeaBIOS's log) to FILE\n"
	      "  --snapshot            disk writes go to a temporary overlay, dropped at\n"
	      "                        exit: the images stay as they were\n"
	      "  --net user[,hostfwd=tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...\n"
	      "                        a virtio-net card (00:03.0, MAC 52:54:00:12:34:56)\n"
	      "                        on user-mode networking (libslirp, as QEMU's\n"
	      "                        -netdev user): DHCP gives 10.0.2.15, the host is\n"
	      "                        10.0.2.2, DNS 10.0.2.3; each hostfwd connects a\n"
	      "                        host port (HOSTADDR default: all) to the guest\n"
	      "                        (GUESTADDR default 10.0.2.15). The default is\n"
	      "                        user, with no hostfwd; --net none: no card\n"
	      "  --initrd FILE         initial RAM disk (Linux initramfs, or Multiboot\n"
	      "                        module 0)\n"
	      "  --append STRING       kernel command line\n"
	      "  -m, --memory MIB      guest RAM in MiB (default 256; 4 to 3072; a G suffix\n"
	      "                        means GiB)\n"
	      "  --smp N               N virtual CPUs (1 to 8, default 1), taking turns\n"
	      "                        on one host thread; the others wait for the\n"
	      "                        guest's INIT and start-up IPIs\n"
	      "  --display sdl|none    sdl: the guest's screen in a window, with its\n"
	      "                        keyboard and mouse (the tablet follows the\n"
	      "                        pointer; without its driver, click to grab the\n"
	      "                        mouse, Ctrl+Alt to release it; closing the window\n"
	      "                        presses the power button, closing it again\n"
	      "                        ends btvm); none: no window. Default: sdl when\n"
	      "                        DISPLAY or WAYLAND_DISPLAY names a display\n"
	      "                        server that answers, else none\n"
	      "  --tablet on|off       a virtio tablet (virtio-input, an absolute\n"
	      "                        pointer: Linux's virtio_input driver) that the\n"
	      "                        window's pointer drives with no grab while it is\n"
	      "                        over the picture. Default: on with a window,\n"
	      "                        off with --display none\n"
	      "  --share DIR[,tag=NAME][,readonly]\n"
	      "                        share the host folder DIR with the guest (up to\n"
	      "                        4): a virtio-9p device served by Debian's diod,\n"
	      "                        confined to DIR; the guest mounts it with\n"
	      "                        mount -t 9p -o trans=virtio,version=9p2000.L NAME\n"
	      "                        /mnt. NAME defaults to DIR's last component\n"
	      "  --sound ac97|none     ac97 (the default): an Intel ICH AC'97 sound card\n"
	      "                        (Linux's snd-intel8x0, Windows XP's own driver)\n"
	      "  --audio sdl|none      where its sound goes: sdl, the host's sound\n"
	      "                        through SDL2 (SDL_AUDIODRIVER picks the driver;\n"
	      "                        'disk' writes SDL_DISKAUDIOFILE); none: dropped\n"
	      "                        as it plays. Default: sdl with a window, none\n"
	      "                        with --display none\n"
	      "  --vga text|WxH        the screen at boot: text (80x25 VGA text mode, the\n"
	      "                        default) or a linear framebuffer of WxH pixels,\n"
	      "                        32 bits each (e.g. 1024x768; up to 2560x1600),\n"
	      "                        set up as a VBE BIOS would, which Linux's vesafb\n"
	      "                        and fbcon take with no driver. Either way the\n"
	      "                        display is a PCI std VGA (1234:1111) that\n"
	      "                        Linux's bochs DRM driver can set modes on\n"
	      "  --screenshot FILE     write the guest's screen to FILE at exit and at\n"
	      "                        each SIGUSR2: PNG, or the screen's text when FILE\n"
	      "                        ends in .txt (text mode only); up to 4 files\n"
	      "  --serial stdio|none   where COM1 goes (default stdio: the terminal, raw).\n"
	      "                        Keys on it: Ctrl-A x quits, Ctrl-A c switches\n"
	      "                        between the guest and the monitor, Ctrl-A h lists\n"
	      "                        the keys, Ctrl-A Ctrl-A sends one Ctrl-A\n"
	      "  --monitor unix:PATH   the monitor on a Unix socket too: its commands\n"
	      "                        ('help'), or one JSON object per line in the\n"
	      "                        manner of QEMU's QMP (docs/MONITOR.md)\n"
	      "  --gdb tcp:[HOST]:PORT a gdb remote stub on a TCP port (HOST default\n"
	      "                        127.0.0.1; e.g. --gdb tcp::1234, then gdb's\n"
	      "                        'target remote :1234'): registers, memory by\n"
	      "                        linear address, breakpoints, stepi, continue,\n"
	      "                        Ctrl-C. A port in use is an error\n"
	      "  -S                    start with the guest stopped, until gdb (or the\n"
	      "                        monitor's cont) continues it\n"
	      "  --start paused|running\n"
	      "                        with --restore or --incoming: start the machine\n"
	      "                        paused (until the monitor's cont) or running;\n"
	      "                        default: as it was when saved\n"
	      "  --stats               print statistics to stderr at exit: translation\n"
	      "                        cache, exits to the monitor, callouts, devices\n"
	      "                        (docs/STATS.md); with --stats or --stats-json,\n"
	      "                        SIGUSR1 dumps them while the guest runs on and\n"
	      "                        SIGTERM dumps them, then ends btvm (status 143)\n"
	      "  --stats-json FILE     write every counter to FILE as JSON at exit (and\n"
	      "                        at SIGUSR1), through FILE.tmp and a rename\n"
	      "  --stats-interval MS   with --stats-json: a sample of every counter every\n"
	      "                        MS ms (1 to 3600000), the file's \"series\"\n"
	      "  --explain             at exit, a table of the sensitive instructions the\n"
	      "                        guest executed, at CPL 0 and 3, where first, what\n"
	      "                        a deprivileged kernel would see and what btvm does\n"
	      "                        (docs/TEACHING.md; --stats-json's \"sensitive\")\n"
	      "  --trap-and-emulate    run the guest kernel as a classic trap-and-emulate\n"
	      "                        monitor would on pre-VT x86: its sensitive but\n"
	      "                        unprivileged instructions act as at CPL 3; at exit,\n"
	      "                        every place where its view differed\n"
	      "  --symbols FILE        the guest's symbols for those reports: a System.map,\n"
	      "                        a copy of /proc/kallsyms or an ELF file (default:\n"
	      "                        a Multiboot kernel's own)\n"
	      "  --incoming tcp:[ADDR]:PORT,key=FILE | unix:PATH[,key=FILE]\n"
	      "                        wait there (ADDR default 127.0.0.1) for a live\n"
	      "                        migration from another btvm (its monitor's\n"
	      "                        migrate with the same key); the machine is the\n"
	      "                        source's, as with --restore, its disk images the\n"
	      "                        source's (or, for migrate -b, the --disk images\n"
	      "                        given, of the same sizes). FILE: a secret of\n"
	      "                        16 to 4096 bytes only its owner may read\n"
	      "  --restore FILE        resume the machine saved in FILE (the monitor's\n"
	      "                        savevm), paused if it was saved paused: its RAM,\n"
	      "                        disks, network card and screen come from the\n"
	      "                        snapshot, so --kernel, --cdrom and the like are\n"
	      "                        not given (-m, --vga, --snapshot, --net and --disk\n"
	      "                        may be, if they agree: every disk, the same\n"
	      "                        images, interfaces and readonly, in order;\n"
	      "                        --net's hostfwd rules replace the saved ones)\n"
	      "  --loadvm NAME         resume the named snapshot NAME (the monitor's\n"
	      "                        savevm NAME) of the first read-write --disk,\n"
	      "                        memory and disks together, as --restore does\n"
	      "  --no-reboot           a guest reboot ends btvm (status 0), a triple fault\n"
	      "                        too (status 1), instead of restarting the guest\n"
	      "  --tcache MIB          translation cache size (default 128; 1 to 1024),\n"
	      "                        or NK in KiB (16K and up, a multiple of 4K)\n"
	      "  --tcache-policy P     when the cache is full: flush (everything goes,\n"
	      "                        the default), fifo (the oldest blocks go, 8 KiB\n"
	      "                        at a time), units:N (N equal units filled in\n"
	      "                        turn, the oldest emptied whole; N 2 to 64) or\n"
	      "                        adaptive (units as many as re-translations call\n"
	      "                        for, from an eighth of --tcache to all of it;\n"
	      "                        adaptive:MIN-MAX sets the bounds, as 512K-8M)\n"
	      "  --profile N           at exit, the N hottest translated blocks (a\n"
	      "                        sampling profile of the vCPU's CPU time): guest\n"
	      "                        code and translation, expansion, exits\n"
	      "  --traces[=N]          hot traces: a loop's head reached N times (50)\n"
	      "                        has its next path translated as one block,\n"
	      "                        straight through its jumps and taken branches\n"
	      "  --no-chain            cache studies: never link a block's exit to the\n"
	      "                        next block; every block ends in the monitor\n"
	      "  --no-ibl              cache studies: no indirect-branch table; every\n"
	      "                        indirect branch goes through the monitor\n"
	      "  --no-clone            cache studies: translate the same code at every\n"
	      "                        linear address anew, never copying a block\n"
	      "  --max-block-insns N   cache studies: at most N guest instructions a\n"
	      "                        block (1 to 64, the default)\n"
	      "  --map-budget N        cache studies: at most N host mappings for the\n"
	      "                        shadow page tables (from 4096; the default and\n"
	      "                        the most: vm.max_map_count less 4096)\n"
	      "  --trace FILE          write every translated block, disassembled, to FILE\n"
	      "  --one-insn-blocks     debug: translate one guest instruction per block,\n"
	      "                        to bisect a translation bug to one instruction\n"
	      "  --selfcheck-blocks    debug: no write protection of code pages; every\n"
	      "                        block compares its guest bytes at entry instead\n"
	      "  --clone-check         debug: translate every copied block anew as well\n"
	      "                        and stop with an error if the two differ\n"
	      "\n"
	      "Exit status: 0 when the guest powers off (ACPI S5, Linux's poweroff);\n"
	      "what it wrote to isa-debug-exit (port 0xf4) as (value << 1) | 1; 1 for a\n"
	      "monitor error or a guest that cannot go on; 2 for bad usage.\n",
	      out);
}

int usage_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("btvm: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'btvm --help' for more information.\n", stderr);
	return EXIT_USAGE;
}

/* Accepts "256", "256M", "1G"; rejects anything else, including overflow. */
/* A decimal number from lo to hi, the whole of s. */
static bool parse_count(const char *s, unsigned long lo, unsigned long hi, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || n < lo || n > hi)
		return false;
	*out = (unsigned)n;
	return true;
}

static int parse_mib(const char *s, uint64_t *mib);

/* --tcache: MiB as -m takes them, or a size in KiB ("64K") for the
 * small caches the eviction policies' tests need. */
static int parse_tcache_size(const char *s, struct board_config *cfg)
{
	size_t len = strlen(s);
	if (len > 1 && (s[len - 1] == 'K' || s[len - 1] == 'k')) {
		char *end;
		errno = 0;
		unsigned long long kib = strtoull(s, &end, 10);
		if (*s < '0' || *s > '9' || errno || end != s + len - 1 || kib < 16 || kib > (1024u << 10) ||
		    kib % 4)
			return -EINVAL;
		cfg->tcache_kib = kib;
		return 0;
	}
	cfg->tcache_kib = 0;
	if (parse_mib(s, &cfg->tcache_mib) || cfg->tcache_mib < 1 || cfg->tcache_mib > 1024)
		return -EINVAL;
	return 0;
}

static int parse_mib(const char *s, uint64_t *mib)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end == 'G' || *end == 'g') {
		if (v > (1ULL << 40))
			return -EINVAL;
		v <<= 10;
		end++;
	} else if (*end == 'M' || *end == 'm') {
		end++;
	}
	if (*end)
		return -EINVAL;
	*mib = v;
	return 0;
}

/* "text", or "WxH" within the display's limits. */
static int parse_vga(const char *s, struct board_config *cfg)
{
	char *end;
	if (!strcmp(s, "text")) {
		cfg->fb_width = cfg->fb_height = 0;
		return 0;
	}
	if (*s < '0' || *s > '9')
		return -EINVAL;
	unsigned long w = strtoul(s, &end, 10);
	if (*end != 'x' || end[1] < '0' || end[1] > '9')
		return -EINVAL;
	unsigned long h = strtoul(end + 1, &end, 10);
	if (*end || w < 320 || h < 200 || w > BOARD_FB_MAX_WIDTH || h > BOARD_FB_MAX_HEIGHT || w % 8)
		return -EINVAL;
	cfg->fb_width = (unsigned)w;
	cfg->fb_height = (unsigned)h;
	return 0;
}

/* --gdb tcp:[HOST]:PORT: an empty HOST is 127.0.0.1, never every interface
 * unless asked. */
static int parse_gdb(const char *s, struct board_config *cfg)
{
	if (tcp_address_parse(s, "127.0.0.1", cfg->gdb_host, sizeof(cfg->gdb_host), &cfg->gdb_port))
		return -EINVAL;
	cfg->gdb = true;
	return 0;
}

enum {
	OPT_KERNEL = 256,
	OPT_INITRD,
	OPT_APPEND,
	OPT_DISPLAY,
	OPT_SERIAL,
	OPT_STATS,
	OPT_STATS_JSON,
	OPT_STATS_INTERVAL,
	OPT_NO_REBOOT,
	OPT_HELP,
	OPT_VERSION,
	OPT_TRACE,
	OPT_ONE_INSN,
	OPT_SELFCHECK,
	OPT_TCACHE,
	OPT_TCACHE_POLICY,
	OPT_SCREENSHOT,
	OPT_VGA,
	OPT_DISK,
	OPT_CDROM,
	OPT_SNAPSHOT,
	OPT_NET,
	OPT_MONITOR,
	OPT_GDB,
	OPT_RESTORE,
	OPT_INCOMING,
	OPT_EXPLAIN,
	OPT_TRAP_EMULATE,
	OPT_SYMBOLS,
	OPT_NO_CHAIN,
	OPT_TRACES,
	OPT_NO_IBL,
	OPT_PROFILE,
	OPT_MAX_BLOCK_INSNS,
	OPT_MAP_BUDGET,
	OPT_SMP,
	OPT_NO_CLONE,
	OPT_CLONE_CHECK,
	OPT_FIRMWARE,
	OPT_BIOS,
	OPT_DEBUGCON,
	OPT_BOOT,
	OPT_START,
	OPT_TABLET,
	OPT_SOUND,
	OPT_AUDIO,
	OPT_SHARE,
	OPT_LOADVM,
};

static const struct option run_options[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "append", required_argument, NULL, OPT_APPEND },
	{ "memory", required_argument, NULL, 'm' },
	{ "display", required_argument, NULL, OPT_DISPLAY },
	{ "serial", required_argument, NULL, OPT_SERIAL },
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "stats-json", required_argument, NULL, OPT_STATS_JSON },
	{ "stats-interval", required_argument, NULL, OPT_STATS_INTERVAL },
	{ "no-reboot", no_argument, NULL, OPT_NO_REBOOT },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "trace", required_argument, NULL, OPT_TRACE },
	{ "one-insn-blocks", no_argument, NULL, OPT_ONE_INSN },
	{ "selfcheck-blocks", no_argument, NULL, OPT_SELFCHECK },
	{ "tcache", required_argument, NULL, OPT_TCACHE },
	{ "tcache-policy", required_argument, NULL, OPT_TCACHE_POLICY },
	{ "screenshot", required_argument, NULL, OPT_SCREENSHOT },
	{ "vga", required_argument, NULL, OPT_VGA },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "cdrom", required_argument, NULL, OPT_CDROM },
	{ "snapshot", no_argument, NULL, OPT_SNAPSHOT },
	{ "net", required_argument, NULL, OPT_NET },
	{ "monitor", required_argument, NULL, OPT_MONITOR },
	{ "gdb", required_argument, NULL, OPT_GDB },
	{ "restore", required_argument, NULL, OPT_RESTORE },
	{ "loadvm", required_argument, NULL, OPT_LOADVM },
	{ "incoming", required_argument, NULL, OPT_INCOMING },
	{ "explain", no_argument, NULL, OPT_EXPLAIN },
	{ "trap-and-emulate", no_argument, NULL, OPT_TRAP_EMULATE },
	{ "symbols", required_argument, NULL, OPT_SYMBOLS },
	{ "no-chain", no_argument, NULL, OPT_NO_CHAIN },
	{ "traces", optional_argument, NULL, OPT_TRACES },
	{ "profile", required_argument, NULL, OPT_PROFILE },
	{ "no-ibl", no_argument, NULL, OPT_NO_IBL },
	{ "max-block-insns", required_argument, NULL, OPT_MAX_BLOCK_INSNS },
	{ "map-budget", required_argument, NULL, OPT_MAP_BUDGET },
	{ "smp", required_argument, NULL, OPT_SMP },
	{ "no-clone", no_argument, NULL, OPT_NO_CLONE },
	{ "clone-check", no_argument, NULL, OPT_CLONE_CHECK },
	{ "firmware", required_argument, NULL, OPT_FIRMWARE },
	{ "bios", required_argument, NULL, OPT_BIOS },
	{ "debugcon", required_argument, NULL, OPT_DEBUGCON },
	{ "boot", required_argument, NULL, OPT_BOOT },
	{ "start", required_argument, NULL, OPT_START },
	{ "tablet", required_argument, NULL, OPT_TABLET },
	{ "sound", required_argument, NULL, OPT_SOUND },
	{ "audio", required_argument, NULL, OPT_AUDIO },
	{ "share", required_argument, NULL, OPT_SHARE },
	{ NULL, 0, NULL, 0 },
};

/* --boot [order=DRIVES][,menu=on|off][,splash-time=MS]: the firmware's
 * boot order (QEMU's letters: c the disks, d the CD-ROM) and boot menu.
 * Returns -1 when it parsed, else the exit status. */
static int parse_boot(const char *arg, struct board_config *cfg)
{
	char buf[128];
	if (strlen(arg) >= sizeof(buf))
		return usage_error("--boot: '%s' is too long", arg);
	strcpy(buf, arg);
	char *save = NULL;
	for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		if (!strcmp(item, "menu=on"))
			cfg->boot_menu = true;
		else if (!strcmp(item, "menu=off"))
			cfg->boot_menu = false;
		else if (!strncmp(item, "splash-time=", 12)) {
			if (!parse_count(item + 12, 1, 65535, &cfg->boot_menu_ms))
				return usage_error("--boot: splash-time takes 1 to 65535 ms, not '%s'",
						   item + 12);
		} else if (!strncmp(item, "order=", 6)) {
			const char *order = item + 6;
			size_t n = strlen(order);
			if (!n || n > BOARD_BOOT_ORDER_MAX || strspn(order, "cd") != n ||
			    (n == 2 && order[0] == order[1]))
				return usage_error("--boot: order takes the drives c (disks) and d "
						   "(CD-ROM), each once, not '%s'", order);
			memcpy(cfg->boot_order, order, n + 1);
		} else
			return usage_error("--boot: unknown '%s' (order=DRIVES, menu=on|off, "
					   "splash-time=MS)", item);
	}
	return -1;
}

/* --disk FILE[,readonly][,if=virtio|ide]: the options are taken off the
 * end, in any order, as long as the last comma starts one; anything else
 * is part of the file name (a name may hold commas). */
static int parse_disk(struct board_config *cfg, struct run_given *given, char *arg)
{
	bool readonly = false, ide = false;
	char *comma;
	while ((comma = strrchr(arg, ','))) {
		const char *o = comma + 1;
		if (!strcmp(o, "readonly") || !strcmp(o, "ro"))
			readonly = true;
		else if (!strcmp(o, "if=ide"))
			ide = true;
		else if (!strcmp(o, "if=virtio"))
			ide = false;
		else if (!strncmp(o, "if=", 3))
			return usage_error("--disk: unknown interface '%s' (expected if=virtio or "
					   "if=ide)", o + 3);
		else
			break;
		*comma = '\0';
	}
	if (!*arg)
		return usage_error("--disk needs a file name");
	if (ide) {
		if (given->nide_disks + (given->cdrom != NULL) == BOARD_IDE_SLOTS)
			return usage_error("at most %u IDE drives (--disk FILE,if=ide and --cdrom "
					   "together)", BOARD_IDE_SLOTS);
		given->ide_disks[given->nide_disks++] =
			(struct board_ide_drive){ .kind = BOARD_IDE_DISK, .path = arg, .readonly = readonly };
	} else {
		if (cfg->ndisks == BOARD_MAX_DISKS)
			return usage_error("at most %u --disk images with if=virtio", BOARD_MAX_DISKS);
		cfg->disks[cfg->ndisks].path = arg;
		cfg->disks[cfg->ndisks].readonly = readonly;
		cfg->ndisks++;
	}
	if (!given->first_disk) {
		given->first_disk = arg;
		cfg->first_disk_ide = ide;
	}
	given->disk = true;
	return -1;
}

/* --share DIR[,tag=NAME][,readonly]: -1 taken, else the exit status.
 * The tag defaults to DIR's last component (what fits a tag), else
 * shareN. */
static int parse_share(struct board_config *cfg, char *arg)
{
	const char *tag = NULL;
	bool readonly = false;
	char *comma;

	if (cfg->nshares == BOARD_MAX_SHARES)
		return usage_error("at most %u --share folders", BOARD_MAX_SHARES);
	while ((comma = strrchr(arg, ',')) != NULL) {
		const char *o = comma + 1;
		if (!strcmp(o, "readonly"))
			readonly = true;
		else if (!strncmp(o, "tag=", 4))
			tag = o + 4;
		else
			return usage_error("--share: unknown option '%s' (expected tag=NAME or readonly)", o);
		*comma = '\0';
	}
	if (!*arg)
		return usage_error("--share needs a folder");
	char *t = cfg->shares[cfg->nshares].tag;
	size_t cap = sizeof(cfg->shares[0].tag);
	if (tag) {
		if (!*tag || strlen(tag) >= cap)
			return usage_error("--share: a tag of 1 to %zu bytes", cap - 1);
		snprintf(t, cap, "%s", tag);
	} else {
		size_t end = strlen(arg);
		while (end > 1 && arg[end - 1] == '/')
			end--;
		size_t start = end;
		while (start > 0 && arg[start - 1] != '/')
			start--;
		if (end > start && end - start < cap && strncmp(arg + start, "..", end - start) &&
		    strncmp(arg + start, ".", end - start))
			snprintf(t, cap, "%.*s", (int)(end - start), arg + start);
		else
			snprintf(t, cap, "share%u", cfg->nshares);
	}
	for (unsigned i = 0; i < cfg->nshares; i++)
		if (!strcmp(cfg->shares[i].tag, t))
			return usage_error("--share: two folders with the tag '%s' (give tag=NAME)", t);
	cfg->shares[cfg->nshares].path = arg;
	cfg->shares[cfg->nshares].readonly = readonly;
	cfg->nshares++;
	return -1;
}

/* The IDE disks take the slots in the order given, as QEMU's if=ide
 * drives without an index do; the CD-ROM then takes the secondary master
 * (slot 2), QEMU's -cdrom, unless a disk has it, else the first free
 * slot. */
static void assign_ide_slots(struct board_config *cfg, const struct run_given *given)
{
	for (unsigned i = 0; i < given->nide_disks; i++)
		cfg->ide[i] = given->ide_disks[i];
	if (!given->cdrom)
		return;
	unsigned slot = 2;
	for (unsigned tries = 0; cfg->ide[slot].kind != BOARD_IDE_NONE; tries++) {
		assert(tries < BOARD_IDE_SLOTS);   /* parsing left a slot free for it */
		slot = (slot + 1) % BOARD_IDE_SLOTS;
	}
	cfg->ide[slot] = (struct board_ide_drive){
		.kind = BOARD_IDE_CDROM, .path = given->cdrom, .readonly = true
	};
}

/* Returns -1 when parsing succeeded, else the exit status to leave with. */
int parse_run_options(int argc, char **argv, struct board_config *cfg,
		      struct run_given *given)
{
	int opt, status;

	*given = (struct run_given){ 0 };
	*cfg = (struct board_config){
		.ram_mib = 256,
		.smp = 1,
		.tcache_mib = 128,
		.display = DISPLAY_DEFAULT,
		.window = &display_sdl,
		.serial = SERIAL_STDIO,
		/* A card on user-mode NAT unless --net none, as QEMU and
		 * VirtualBox give one: it needs no privileges and no host port. */
		.net = { .enabled = true },
	};
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, ":m:S", run_options, NULL)) != -1) {
		switch (opt) {
		case OPT_KERNEL:
			given->kernel = true;
			cfg->kernel_path = optarg;
			break;
		case OPT_INITRD:
			given->initrd = true;
			cfg->initrd_path = optarg;
			break;
		case OPT_APPEND:
			given->append = true;
			cfg->cmdline = optarg;
			break;
		case 'm':
			given->memory = true;
			if (parse_mib(optarg, &cfg->ram_mib))
				return usage_error("invalid memory size '%s' (expected MiB, e.g. -m 256)",
						   optarg);
			if (cfg->ram_mib < GUEST_RAM_MIN_MIB || cfg->ram_mib > GUEST_RAM_MAX_MIB)
				return usage_error("memory size '%s' is out of range (%u to %u MiB: "
						   "3 GiB below 4 GiB and the rest up to the CPU's "
						   "36-bit physical addresses)",
						   optarg, GUEST_RAM_MIN_MIB, GUEST_RAM_MAX_MIB);
			uint64_t host_mib = host_memory_mib();
			if (host_mib && cfg->ram_mib > host_mib)
				return usage_error("memory size '%s' is more than this host can back "
						   "(%" PRIu64 " MiB: MemTotal + SwapTotal)",
						   optarg, host_mib);
			break;
		case OPT_DISPLAY:
			if (!strcmp(optarg, "none"))
				cfg->display = DISPLAY_NONE;
			else if (!strcmp(optarg, "sdl"))
				cfg->display = DISPLAY_SDL;
			else
				return usage_error("invalid display '%s' (expected sdl or none)", optarg);
			break;
		case OPT_SERIAL:
			if (!strcmp(optarg, "stdio"))
				cfg->serial = SERIAL_STDIO;
			else if (!strcmp(optarg, "none"))
				cfg->serial = SERIAL_NONE;
			else
				return usage_error("invalid serial '%s' (expected stdio or none)", optarg);
			break;
		case OPT_STATS:
			cfg->stats = true;
			break;
		case OPT_EXPLAIN:
			cfg->explain = true;
			break;
		case OPT_TRAP_EMULATE:
			cfg->trap_emulate = true;
			break;
		case OPT_SYMBOLS:
			if (!*optarg)
				return usage_error("--symbols needs a file name");
			cfg->symbols_path = optarg;
			break;
		case OPT_STATS_JSON:
			if (!*optarg)
				return usage_error("--stats-json needs a file name");
			cfg->stats_json_path = optarg;
			break;
		case OPT_STATS_INTERVAL:
			if (!parse_count(optarg, 1, 3600000, &cfg->stats_interval_ms))
				return usage_error("invalid --stats-interval '%s' (1 to 3600000 ms)",
						   optarg);
			break;
		case OPT_NO_REBOOT:
			cfg->no_reboot = true;
			break;
		case OPT_TABLET:
			if (!strcmp(optarg, "on"))
				cfg->tablet = TABLET_ON;
			else if (!strcmp(optarg, "off"))
				cfg->tablet = TABLET_OFF;
			else
				return usage_error("invalid --tablet '%s' (expected on or off)", optarg);
			given->tablet = true;
			break;
		case OPT_SOUND:
			if (!strcmp(optarg, "ac97"))
				cfg->sound = SOUND_AC97;
			else if (!strcmp(optarg, "none"))
				cfg->sound = SOUND_NONE;
			else
				return usage_error("invalid --sound '%s' (expected ac97 or none)", optarg);
			given->sound = true;
			break;
		case OPT_AUDIO:
			if (!strcmp(optarg, "sdl"))
				given->audio = 1;
			else if (!strcmp(optarg, "none"))
				given->audio = -1;
			else
				return usage_error("invalid --audio '%s' (expected sdl or none)", optarg);
			break;
		case OPT_HELP:
			print_usage(stdout);
			return 0;
		case OPT_TRACE:
			cfg->trace_path = optarg;
			break;
		case OPT_ONE_INSN:
			cfg->one_insn_blocks = true;
			break;
		case OPT_SELFCHECK:
			cfg->selfcheck_blocks = true;
			break;
		case OPT_TCACHE:
			if (parse_tcache_size(optarg, cfg))
				return usage_error("invalid translation cache size '%s' (1 to 1024 MiB, or "
						   "16K and up in multiples of 4K)", optarg);
			break;
		case OPT_TCACHE_POLICY:
			if (tcache_parse_policy(optarg, &cfg->tcache_policy, &cfg->tcache_units) ||
			    (cfg->tcache_policy == TCACHE_POLICY_ADAPTIVE &&
			     tcache_parse_adaptive(optarg, &cfg->tcache_min, &cfg->tcache_max)))
				return usage_error("invalid --tcache-policy '%s' (flush, fifo, units:N with N 2 to 64, "
						   "adaptive or adaptive:MIN-MAX)",
						   optarg);
			break;
		case OPT_PROFILE:
			if (!parse_count(optarg, 1, 1000, &cfg->profile_top))
				return usage_error("invalid --profile '%s' (1 to 1000 blocks)", optarg);
			break;
		case OPT_NO_CHAIN:
			cfg->no_chain = true;
			break;
		case OPT_NO_IBL:
			cfg->no_ibl = true;
			break;
		case OPT_NO_CLONE:
			cfg->no_clone = true;
			break;
		case OPT_CLONE_CHECK:
			cfg->clone_check = true;
			break;
		case OPT_FIRMWARE:
			if (!strcmp(optarg, "bios")) {
				if (!cfg->bios_path)
					cfg->bios_path = FIRMWARE_DEFAULT_PATH;
				given->boot = BOOT_CHOICE_BIOS;
			} else if (!strcmp(optarg, "direct")) {
				cfg->bios_path = NULL;
				given->boot = BOOT_CHOICE_DIRECT;
			} else {
				return usage_error("--firmware takes bios or direct, not '%s'", optarg);
			}
			break;
		case OPT_BIOS:
			cfg->bios_path = optarg;
			given->boot = BOOT_CHOICE_BIOS;
			break;
		case OPT_DEBUGCON:
			cfg->debugcon_path = optarg;
			break;
		case OPT_BOOT:
			status = parse_boot(optarg, cfg);
			if (status >= 0)
				return status;
			break;
		case OPT_TRACES:
			cfg->traces = BOARD_TRACE_THRESHOLD;
			if (optarg && !parse_count(optarg, 1, 65534, &cfg->traces))
				return usage_error("invalid --traces '%s' (1 to 65534)", optarg);
			break;
		case OPT_MAX_BLOCK_INSNS:
			if (!parse_count(optarg, 1, BOARD_MAX_BLOCK_INSNS, &cfg->max_block_insns))
				return usage_error("invalid --max-block-insns '%s' (1 to %u)", optarg,
						   BOARD_MAX_BLOCK_INSNS);
			break;
		case OPT_SMP:
			if (!parse_count(optarg, 1, BOARD_MAX_SMP, &cfg->smp))
				return usage_error("invalid --smp '%s' (1 to %u)", optarg, BOARD_MAX_SMP);
			given->smp = true;
			break;
		case OPT_MAP_BUDGET:
			if (!parse_count(optarg, BOARD_MAP_BUDGET_MIN, BOARD_MAP_BUDGET_MAX, &cfg->map_budget))
				return usage_error("invalid --map-budget '%s' (%u to %u)", optarg,
						   BOARD_MAP_BUDGET_MIN, BOARD_MAP_BUDGET_MAX);
			break;
		case OPT_SCREENSHOT:
			if (!*optarg)
				return usage_error("--screenshot needs a file name");
			if (cfg->screenshot_count == BOARD_MAX_SCREENSHOTS)
				return usage_error("at most %u --screenshot files", BOARD_MAX_SCREENSHOTS);
			cfg->screenshot_paths[cfg->screenshot_count++] = optarg;
			break;
		case OPT_SHARE: {
			int ret = parse_share(cfg, optarg);
			if (ret >= 0)
				return ret;
			break;
		}
		case OPT_DISK: {
			int ret = parse_disk(cfg, given, optarg);
			if (ret >= 0)
				return ret;
			break;
		}
		case OPT_CDROM:
			if (!*optarg)
				return usage_error("--cdrom needs a file name");
			if (given->cdrom)
				return usage_error("one --cdrom only (the monitor's 'change cdrom FILE' "
						   "swaps the disc)");
			if (given->nide_disks == BOARD_IDE_SLOTS)
				return usage_error("at most %u IDE drives (--disk FILE,if=ide and --cdrom "
						   "together)", BOARD_IDE_SLOTS);
			given->cdrom = optarg;
			break;
		case OPT_SNAPSHOT:
			given->snapshot = true;
			cfg->snapshot = true;
			break;
		case OPT_NET: {
			char err[256];
			given->net = true;
			if (slirp_net_parse(optarg, &cfg->net, err, sizeof(err)))
				return usage_error("%s", err);
			break;
		}
		case OPT_MONITOR:
			if (strncmp(optarg, "unix:", 5) || !optarg[5])
				return usage_error("invalid --monitor '%s' (expected unix:PATH)", optarg);
			cfg->monitor_path = optarg + 5;
			break;
		case OPT_GDB:
			if (parse_gdb(optarg, cfg))
				return usage_error("invalid --gdb '%s' (expected tcp:[HOST]:PORT, e.g. "
						   "tcp::1234; PORT 1 to 65535)", optarg);
			break;
		case 'S':
			if (given->start == START_RUNNING)
				return usage_error("-S conflicts with --start running");
			given->start = START_PAUSED;
			cfg->start_paused = true;
			break;
		case OPT_START: {
			enum start_choice start = !strcmp(optarg, "paused")    ? START_PAUSED
						  : !strcmp(optarg, "running") ? START_RUNNING
									       : START_AS_SAVED;
			if (start == START_AS_SAVED)
				return usage_error("invalid --start '%s' (expected paused or running)",
						   optarg);
			if (given->start != START_AS_SAVED && given->start != start)
				return usage_error("--start %s conflicts with %s", optarg,
						   given->start_option ? "the --start before it" : "-S");
			given->start = start;
			given->start_option = true;
			cfg->start_paused = start == START_PAUSED;
			break;
		}
		case OPT_INCOMING: {
			struct migration_uri u;
			int ret = migration_uri_parse(optarg, &u);
			if (ret == -ENOKEY)
				return usage_error("--incoming '%s': a TCP port needs key=FILE (a "
						   "secret the source's migrate names too), or use "
						   "unix:PATH", optarg);
			if (ret)
				return usage_error("invalid --incoming '%s' (expected "
						   "tcp:[ADDR]:PORT,key=FILE or unix:PATH[,key=FILE])",
						   optarg);
			given->incoming = optarg;
			break;
		}
		case OPT_LOADVM:
			given->loadvm = optarg;
			break;
		case OPT_RESTORE:
			if (!*optarg)
				return usage_error("--restore needs a file name");
			cfg->restore_path = optarg;
			break;
		case OPT_VGA:
			given->vga = true;
			if (parse_vga(optarg, cfg))
				return usage_error("invalid --vga '%s' (expected text, or WIDTHxHEIGHT "
						   "from 320x200 to %ux%u, the width a multiple of 8)",
						   optarg, BOARD_FB_MAX_WIDTH, BOARD_FB_MAX_HEIGHT);
			break;
		case ':':
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (given->incoming && cfg->restore_path)
		return usage_error("--incoming and --restore both give the machine: one of them");
	if (given->loadvm && (given->incoming || cfg->restore_path))
		return usage_error("--loadvm gives the machine: not with --restore or --incoming");
	if (given->start_option && !given->incoming && !cfg->restore_path && !given->loadvm)
		return usage_error("--start goes with --restore or --incoming (-S starts a new "
				   "machine paused)");
	/* Through the firmware a kernel boots as from a boot loader; without
	 * one the firmware boots the disks, which have their own. */
	if (cfg->bios_path && !cfg->kernel_path && (given->initrd || given->append))
		return usage_error("--initrd and --append go with --kernel (with --firmware bios "
				   "the disks' boot loader has its own)");
	if (cfg->bios_path && (cfg->restore_path || given->incoming || given->loadvm))
		return usage_error("--restore and --incoming take the snapshot's firmware (no --bios)");
	/* No snapshot has a shared folder (board_snapshot.c refuses to save
	 * one): a device the restored guest never probed is of no use. */
	if (cfg->nshares && (cfg->restore_path || given->incoming))
		return usage_error("--share cannot go with --restore or --incoming (a machine "
				   "with a shared folder is never saved)");
	if (!cfg->kernel_path && !given->first_disk && !given->cdrom && !cfg->restore_path &&
	    !given->incoming && !cfg->bios_path)
		return usage_error("run: no guest given (--kernel FILE, --disk FILE or --cdrom FILE "
				   "is required)");
	if (given->boot == BOOT_CHOICE_DIRECT && !cfg->kernel_path && !given->first_disk &&
	    !cfg->restore_path && !given->incoming)
		return usage_error("--firmware direct needs --kernel FILE or a --disk with a kernel");
	assign_ide_slots(cfg, given);
	if (cfg->stats_interval_ms && !cfg->stats_json_path)
		return usage_error("--stats-interval needs --stats-json FILE (the samples go there)");
	return -1;
}
