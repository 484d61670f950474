/* The monitor (monitor.h): the queue of command lines from the terminal and
 * the socket, the human commands and the JSON ones, and where each answer
 * goes. Commands run on the vCPU thread with the guest stopped between two
 * instructions, so they see and change the machine as a whole: a front
 * end of the machine (machine/control.h), whose waiting commands stop the
 * guest once it has had its slice. It owns the live migration it starts.
 * The registers and linear addresses it shows are those of the vCPU that
 * `cpu N` selected (vCPU 0 until then), as QEMU's monitor does. */
#define _GNU_SOURCE
#include "frontend/monitor.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <capstone/capstone.h>

#include "frontend/board_screen.h"
#include "frontend/board_stats.h"
#include "frontend/gdbstub.h"
#include "frontend/migration.h"
#include "frontend/monitor_block.h"
#include "frontend/monitor_snap.h"
#include "host/clock.h"
#include "host/console.h"
#include "host/monitor_socket.h"
#include "isa/descriptor.h"
#include "machine/board_snapshot.h"
#include "machine/control.h"
#include "translator/disasm.h"

#define MAX_ARGS 8
/* x/xp and read-memory: how much one command shows. */
#define MAX_DUMP_BYTES 65536u
/* The longest instruction, for x /i. */
#define INSN_MAX_BYTES 15u

/* One run of the queue: at most this many commands, and no more once this
 * much host time went on them, before the guest runs again. */
#define BATCH_COMMANDS 16u
#define BATCH_NS 2000000ull
/* The terminal and each socket client. */
#define MAX_CLIENTS (1u + MONITOR_SOCKET_MAX_CLIENTS)

struct request {
	struct request *next;
	uint64_t client;
	size_t len;       /* of line, which may hold NUL bytes */
	char line[];
};

/* A client's commands, in the order it sent them. */
struct client_queue {
	bool used;
	uint64_t client;
	struct request *head, *tail;
	unsigned queued;
	unsigned refused;   /* lines refused since the last one queued */
};

struct monitor {
	struct board *board;
	struct board_screen *screen;     /* screendump; NULL: none */
	const struct board_stats *stats; /* info stats, tcache, mmu; NULL: none */
	const struct gdbstub *gdb;       /* whose stop cont leaves alone; NULL: none */
	struct migration *migration;     /* the live migration started, or NULL */
	unsigned cpu;                    /* `cpu N`: whose registers and addresses */
	bool registered;                 /* with the board */
	struct monitor_socket *sock;
	/* Guards the queues; taken before the socket's own lock. */
	pthread_mutex_t lock;
	struct client_queue queues[MAX_CLIENTS];   /* [0]: the terminal's */
	unsigned next_turn;   /* the queue the next run looks at first */
	/* Some queue has a command that can run now (its client reads its
	 * answers): the board stops the guest for it. */
	atomic_bool pending;
};

static void reply_len(struct monitor *m, uint64_t client, const char *text, size_t len)
{
	if (client == MONITOR_TERMINAL)
		console_write(text, len);
	else
		monitor_socket_send(m->sock, client, text, len);
}

static void reply(struct monitor *m, uint64_t client, const char *text)
{
	reply_len(m, client, text, strlen(text));
}

/* --- human commands --- */

/* A number up to max (C syntax: 0x.., 0..). */
static bool parse_u64(const char *s, uint64_t max, uint64_t *v)
{
	char *end;
	if (!s || !*s || *s == '-')
		return false;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 0);
	if (errno || *end || x > max)
		return false;
	*v = x;
	return true;
}


static void print_segment(FILE *out, const char *name, const struct segment *g)
{
	fprintf(out, "%-3s=%04x %08x %08x %04x\n", name, g->selector, g->base, g->limit, g->flags);
}

static void info_registers(struct board *board, unsigned vcpu, FILE *out)
{
	struct board_regs regs;
	board_vcpu_get_regs(board, vcpu, &regs);
	const struct vcpu_state *s = &regs.s;
	static const char *const seg_names[SEG_COUNT] = { "ES", "CS", "SS", "DS", "FS", "GS" };
	uint32_t fl = regs.eflags;
	const uint32_t *r = regs.regs;
	fprintf(out, "EAX=%08x EBX=%08x ECX=%08x EDX=%08x\n", r[REG_EAX], r[REG_EBX], r[REG_ECX],
		r[REG_EDX]);
	fprintf(out, "ESI=%08x EDI=%08x EBP=%08x ESP=%08x\n", r[REG_ESI], r[REG_EDI], r[REG_EBP],
		r[REG_ESP]);
	fprintf(out, "EIP=%08x EFL=%08x [%c%c%c%c%c%c%c] CPL=%u IF=%u HLT=%d\n", s->eip, fl,
		fl & EFLAGS_OF ? 'O' : '-', fl & EFLAGS_DF ? 'D' : '-', fl & EFLAGS_SF ? 'S' : '-',
		fl & EFLAGS_ZF ? 'Z' : '-', fl & EFLAGS_AF ? 'A' : '-', fl & EFLAGS_PF ? 'P' : '-',
		fl & EFLAGS_CF ? 'C' : '-', s->cpl, (fl & EFLAGS_IF) ? 1u : 0u, regs.halted);
	for (unsigned i = 0; i < SEG_COUNT; i++)
		print_segment(out, seg_names[i], &s->seg[i]);
	print_segment(out, "LDT", &s->ldtr);
	print_segment(out, "TR", &s->tr);
	fprintf(out, "GDT=     %08x %08x\n", s->gdtr.base, s->gdtr.limit);
	fprintf(out, "IDT=     %08x %08x\n", s->idtr.base, s->idtr.limit);
	fprintf(out, "CR0=%08x CR2=%08x CR3=%08x CR4=%08x\n", s->cr0, s->cr2, s->cr3, s->cr4);
	fprintf(out, "DR0=%08x DR1=%08x DR2=%08x DR3=%08x\n", s->dr[0], s->dr[1], s->dr[2], s->dr[3]);
	fprintf(out, "DR6=%08x DR7=%08x\n", s->dr[6], s->dr[7]);
	fprintf(out, "SYSENTER_CS=%08x SYSENTER_ESP=%08x SYSENTER_EIP=%08x\n", s->sysenter_cs,
		s->sysenter_esp, s->sysenter_eip);
}

/* The mode a vCPU runs its code in, from its registers. */
static const char *cpu_mode_name(const struct board_regs *r)
{
	const struct vcpu_state *s = &r->s;
	if (!(s->cr0 & CR0_PE))
		return "real";
	if (r->eflags & EFLAGS_VM)
		return "v86";
	/* The code segment's D bit (flags are descriptor bits 40-55). */
	bool big = s->seg[SEG_CS].flags & (DESC_DB >> 8);
	if (s->cr0 & CR0_PG)
		return big ? "protected32,paging" : "protected16,paging";
	return big ? "protected32" : "protected16";
}

static const char *const vcpu_states[] = {
	[BOARD_VCPU_RUNNING] = "running",
	[BOARD_VCPU_HALTED] = "halted",
	[BOARD_VCPU_WAIT_SIPI] = "waiting for SIPI",
};

/* One line per vCPU, the selected one starred (QEMU's info cpus). */
static void info_cpus(const struct monitor *m, FILE *out)
{
	for (unsigned i = 0, n = board_vcpu_count(m->board); i < n; i++) {
		struct board_regs r;
		struct board_vcpu_status st;
		board_vcpu_get_regs(m->board, i, &r);
		board_vcpu_status(m->board, i, &st);
		fprintf(out, "%c CPU #%u: apic_id=%u state=%s eip=%08x cpl=%u mode=%s\n",
			i == m->cpu ? '*' : ' ', i, st.apic_id, vcpu_states[st.state], r.s.eip, r.s.cpl,
			cpu_mode_name(&r));
	}
}

static void info_mmu(struct monitor *m, FILE *out)
{
	struct board_regs regs;
	board_vcpu_get_regs(m->board, m->cpu, &regs);
	const struct vcpu_state *s = &regs.s;
	const struct shadow *sh = board_shadow(m->board);
	fprintf(out, "paging %s, CR3=%08x, PSE %s, PGE %s, WP %s, A20 %s\n",
		(s->cr0 & CR0_PG) ? "on" : "off", s->cr3, (s->cr4 & CR4_PSE) ? "on" : "off",
		(s->cr4 & CR4_PGE) ? "on" : "off", (s->cr0 & CR0_WP) ? "on" : "off",
		s->a20_cleared ? "masked" : "on");
	unsigned traced = 0, code = 0;
	for (uint32_t p = 0; p < sh->ram_pages; p++) {
		traced += sh->pt_refs[p] > 0;
		code += sh->code_protect[p] != 0;
	}
	fprintf(out, "traced page-table pages %u, write-protected code pages %u, pages mapped %u "
		     "in %ld host mappings (budget %ld)\n",
		traced, code, sh->total_mapped, sh->host_maps, sh->map_budget);
	fprintf(out, "windows (shadow address spaces):\n");
	for (unsigned i = 0; i < SHADOW_MAX_WINDOWS; i++) {
		const struct shadow_window *w = &sh->windows[i];
		if (!w->used)
			continue;
		fprintf(out, "  %c cr3 %08x %-17s tag %u, %u pages mapped\n",
			sh->current == &w->win ? '*' : ' ', w->cr3,
			w->unpaged ? "paging off, A20" : w->user ? "user" : w->no_wp ? "supervisor, WP=0"
									     : "supervisor",
			w->asid, w->mapped);
	}
	if (sh->current == &sh->identity)
		fprintf(out, "  * identity window (paging off)\n");
	if (m->stats)
		board_stats_print_mmu(m->stats, out);
}

static void info_devices(struct board *board, FILE *out)
{
	static const char *const spaces[BUS_SPACE_COUNT] = { "port I/O", "MMIO" };
	const struct bus *bus = board_bus(board);
	const struct pci_host *pci = board_pci(board);
	for (unsigned sp = 0; sp < BUS_SPACE_COUNT; sp++) {
		fprintf(out, "%s:\n", spaces[sp]);
		for (unsigned i = 0; i < bus->count[sp]; i++) {
			const struct bus_region *r = &bus->regions[sp][i];
			fprintf(out, "  %08" PRIx64 "-%08" PRIx64 "  %s\n", r->base,
				r->base + r->length - 1, r->name);
		}
	}
	fprintf(out, "PCI bus 0:\n");
	for (unsigned devfn = 0; devfn < PCI_DEVFNS; devfn++) {
		const struct pci_function *f = pci->slot[devfn];
		if (!f)
			continue;
		const uint8_t *c = f->config;
		fprintf(out, "  00:%02x.%u  %02x%02x:%02x%02x class %02x%02x irq pin %u\n", devfn >> 3,
			devfn & 7, c[1], c[0], c[3], c[2], c[0xb], c[0xa], c[0x3d]);
	}
}

static void info_migrate(const struct monitor *m, FILE *out)
{
	struct migration_status st;
	migration_get_status(m->migration, &st);
	fprintf(out, "migration: %s", st.state);
	if (strcmp(st.state, "none"))
		fprintf(out, ", %u rounds, %llu pages (%llu bytes), %llu ms, stopped %llu ms%s%s",
			st.rounds, (unsigned long long)st.pages_sent,
			(unsigned long long)st.bytes_sent, (unsigned long long)st.total_ms,
			(unsigned long long)st.downtime_ms, *st.error ? ": " : "", st.error);
	fputc('\n', out);
}

static void print_help(FILE *out)
{
	fputs("help                      this list\n"
	      "info registers            the selected vCPU's registers\n"
	      "info cpus                 each vCPU: APIC ID, state, EIP, CPL, mode\n"
	      "cpu N                     select vCPU N for info registers, x, translation\n"
	      "info stats                every counter (as --stats prints at exit)\n"
	      "info tcache               the translation cache's counters\n"
	      "info mmu                  paging, shadow windows, traced pages\n"
	      "info devices              port and MMIO regions, PCI functions\n"
	      "info status               running or paused\n"
	      "stop                      pause the guest (its time stops too)\n"
	      "cont, c                   resume it\n"
	      "system_powerdown          press the ACPI power button\n"
	      "system_reset              reset the machine\n"
	      "nmi                       press the front-panel NMI button (IOCHK)\n"
	      "quit, q                   end btvm\n"
	      "screendump FILE           the screen as PNG (or text, FILE ending in .txt)\n"
	      "savevm FILE               the machine alone to FILE, a path with a '/' in it\n"
	      "                          (btvm run --restore FILE)\n"
	      "x /FMT ADDR               memory at a linear address; FMT is [count][format]\n"
	      "                          [size], format x d u c i (instructions), size\n"
	      "                          b h w (e.g. x /16xb 0xc0100000, x /5i $eip)\n"
	      "xp /FMT ADDR              the same at a physical address\n"
	      "translation ADDR          the translated block at a linear address\n"
	      "migrate [-b] tcp:HOST:PORT,key=FILE | unix:PATH\n"
	      "                          live migration to a btvm run --incoming there\n"
	      "                          (-b: the disks copied along, into its own images)\n"
	      "info migrate              how it goes\n",
	      out);
	monitor_block_help(out);
	monitor_snap_help(out);
	fputs("Over the socket, a line that starts with '{' is a JSON command:\n"
	      "  {\"execute\": NAME, \"arguments\": {...}}; see docs/MONITOR.md.\n",
	      out);
}

/* "/Nfu": count, format and unit size; QEMU's defaults (1, x, w). */
static bool parse_format(const char *s, unsigned *count, char *fmt, unsigned *size)
{
	*count = 1;
	*fmt = 'x';
	*size = 4;
	if (*s++ != '/')
		return false;
	if (isdigit((unsigned char)*s)) {
		char *end;
		unsigned long n = strtoul(s, &end, 10);
		if (!n || n > MAX_DUMP_BYTES)
			return false;
		*count = (unsigned)n;
		s = end;
	}
	for (; *s; s++) {
		if (strchr("xduci", *s))
			*fmt = *s;
		else if (*s == 'b')
			*size = 1;
		else if (*s == 'h')
			*size = 2;
		else if (*s == 'w')
			*size = 4;
		else
			return false;
	}
	if (*fmt == 'c')
		*size = 1;
	return true;
}

/* An address: a number, or $eip / $esp and the other general registers. */
/* A linear address (32-bit) or, with physical, a physical one up to the
 * CPU's 36 bits (RAM reaches 64 GiB); or $eip or $REG. */
static bool parse_address(struct board *board, unsigned vcpu, const char *s, bool physical,
			  uint64_t *addr)
{
	static const char *const regs[REG_COUNT] = { "eax", "ecx", "edx", "ebx",
						     "esp", "ebp", "esi", "edi" };
	if (s && s[0] == '$') {
		struct board_regs r;
		board_vcpu_get_regs(board, vcpu, &r);
		if (!strcmp(s + 1, "eip")) {
			*addr = r.s.eip;
			return true;
		}
		for (unsigned i = 0; i < REG_COUNT; i++)
			if (!strcmp(s + 1, regs[i])) {
				*addr = r.regs[i];
				return true;
			}
		return false;
	}
	return parse_u64(s, physical ? BOARD_PHYS_ADDR_MAX : UINT32_MAX, addr);
}

static void print_insns(FILE *out, const uint8_t *code, size_t len, uint64_t addr, unsigned count)
{
	csh cs;
	cs_insn *insn;
	if (cs_open(CS_ARCH_X86, CS_MODE_32, &cs) != CS_ERR_OK) {
		fputs("error: no disassembler\n", out);
		return;
	}
	size_t n = cs_disasm(cs, code, len, addr, count, &insn);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%08" PRIx64 ":  %-8s %s\n", insn[i].address, insn[i].mnemonic,
			insn[i].op_str);
	if (n < count)
		fprintf(out, "%08" PRIx64 ":  (not an instruction)\n",
			n ? insn[n - 1].address + insn[n - 1].size : addr);
	if (n)
		cs_free(insn, n);
	cs_close(&cs);
}

static int cmd_dump(struct board *board, unsigned vcpu, bool physical, int argc, char **argv,
		    FILE *out)
{
	unsigned count, size;
	char fmt;
	uint64_t addr, bad;
	const char *fmt_arg = argc == 3 ? argv[1] : "/1xw";
	const char *addr_arg = argv[argc - 1];
	if (argc < 2 || argc > 3 || !parse_format(fmt_arg, &count, &fmt, &size) ||
	    !parse_address(board, vcpu, addr_arg, physical, &addr)) {
		fprintf(out, "error: usage: %s /FMT ADDR (e.g. %s /8xw 0x1000)\n", argv[0], argv[0]);
		return -1;
	}
	uint32_t len = fmt == 'i' ? count * INSN_MAX_BYTES : count * size;
	if (len > MAX_DUMP_BYTES) {
		fprintf(out, "error: at most %u bytes at a time\n", MAX_DUMP_BYTES);
		return -1;
	}
	uint8_t *buf = malloc(len);
	if (!buf) {
		fputs("error: out of memory\n", out);
		return -1;
	}
	if (fmt == 'i') {
		/* Instructions near the end of mapped memory: as many bytes as
		 * there are. */
		while (len && !board_read_memory(board, vcpu, addr, physical, buf, len, &bad))
			len = bad > addr ? bad - addr : 0;
		if (!len) {
			fprintf(out, "error: %s address %08" PRIx64 " is not in memory\n",
				physical ? "physical" : "linear", addr);
			free(buf);
			return -1;
		}
		print_insns(out, buf, len, addr, count);
		free(buf);
		return 0;
	}
	if (!board_read_memory(board, vcpu, addr, physical, buf, len, &bad)) {
		fprintf(out, "error: %s address %08" PRIx64 " is not in memory\n",
			physical ? "physical" : "linear", bad);
		free(buf);
		return -1;
	}
	unsigned per_line = fmt == 'c' ? 16 : 16 / size;
	for (unsigned i = 0; i < count; i++) {
		if (i % per_line == 0)
			fprintf(out, "%s%08" PRIx64 ":", i ? "\n" : "",
				physical ? addr + i * size : (uint32_t)(addr + i * size));
		uint32_t v = 0;
		memcpy(&v, buf + i * size, size);
		if (fmt == 'c')
			fprintf(out, " %c", isprint((int)v) ? (int)v : '.');
		else if (fmt == 'd')
			fprintf(out, " %" PRId32,
				size == 1 ? (int8_t)v : size == 2 ? (int16_t)v : (int32_t)v);
		else if (fmt == 'u')
			fprintf(out, " %" PRIu32, v);
		else
			fprintf(out, " 0x%0*" PRIx32, (int)size * 2, v);
	}
	fputc('\n', out);
	free(buf);
	return 0;
}

static int cmd_translation(struct board *board, unsigned vcpu, int argc, char **argv, FILE *out)
{
	uint64_t addr, gpa, bad;
	if (argc != 2 || !parse_address(board, vcpu, argv[1], false, &addr)) {
		fputs("error: usage: translation ADDR (a linear address, or $eip)\n", out);
		return -1;
	}
	uint32_t eip = (uint32_t)addr;
	if (!board_linear_to_phys(board, vcpu, eip, &gpa) || !board_phys_ptr(board, gpa, 1)) {
		fprintf(out, "error: linear address %08x is not in memory\n", eip);
		return -1;
	}
	uint32_t mode;
	const struct tblock *tb = board_vcpu_translation(board, vcpu, eip, gpa, &mode);
	if (!tb) {
		fprintf(out, "no translation of %08x (physical %08" PRIx64 ") in mode %x yet\n", eip, gpa,
			mode);
		return 0;
	}
	uint8_t *code = malloc(tb->guest_len);
	if (!code || !board_read_memory(board, vcpu, tb->eip, false, code, tb->guest_len,
					&bad)) {
		fputs("error: the block's guest code cannot be read\n", out);
		free(code);
		return -1;
	}
	disasm_trace_block(out, tb, code);
	free(code);
	return 0;
}

static void do_stop(struct monitor *m)
{
	board_pause(m->board, BOARD_HOLD_MONITOR);
}

/* The monitor's cont releases its own stop, and -S's with no gdb there
 * to own it; a connected gdb's stop is gdb's to end (gdb would not know
 * its program runs). NULL, or why not. */
static const char *do_cont(struct monitor *m)
{
	struct board *board = m->board;
	bool gdb = gdbstub_attached(m->gdb);
	if (gdb && (board_holds(board) & BOARD_HOLD_GDB)) {
		board_resume(board, BOARD_HOLD_MONITOR);
		return "the guest is stopped by gdb: continue it there, or detach gdb";
	}
	board_resume(board, BOARD_HOLD_MONITOR | (gdb ? 0u : BOARD_HOLD_GDB));
	return NULL;
}

static void monitor_event(struct monitor *m, const char *name);

static void do_powerdown(struct monitor *m)
{
	board_power_button(m->board);
	monitor_event(m, "POWERDOWN");
}

static void do_quit(struct monitor *m)
{
	board_request_exit(m->board, 0);
}

static void do_reset(struct monitor *m)
{
	board_request_reset(m->board);
}

/* The screen into path; 0, or a negative errno with the reason in err. */
static int do_screendump(struct monitor *m, const char *path, char *err, size_t err_len)
{
	if (!m->screen) {
		snprintf(err, err_len, "this machine has no screen to dump");
		return -ENODEV;
	}
	return board_screen_write(m->screen, path, err, err_len);
}

/* One human command; its answer (or "error: ...") goes to out. */
static int run_human(struct monitor *m, char *line, FILE *out)
{
	struct board *board = m->board;
	char *argv[MAX_ARGS + 1];
	int argc = 0;
	for (char *tok = strtok(line, " \t"); tok; tok = strtok(NULL, " \t")) {
		if (argc == MAX_ARGS) {
			fputs("error: too many arguments\n", out);
			return -1;
		}
		argv[argc++] = tok;
	}
	if (!argc)
		return 0;
	int status;
	if (monitor_block_human(board, argc, argv, out, &status) ||
	    monitor_snap_human(board, argc, argv, out, &status))
		return status;
	const char *cmd = argv[0];
	bool no_args = argc == 1;
	if (!strcmp(cmd, "help") || !strcmp(cmd, "?")) {
		print_help(out);
	} else if (!strcmp(cmd, "info")) {
		const char *what = argc == 2 ? argv[1] : "";
		if (!strcmp(what, "registers"))
			info_registers(board, m->cpu, out);
		else if (!strcmp(what, "cpus"))
			info_cpus(m, out);
		else if (!strcmp(what, "stats") && m->stats)
			board_stats_print(m->stats, out);
		else if (!strcmp(what, "tcache") && m->stats)
			board_stats_print_tcache(m->stats, out);
		else if (!strcmp(what, "mmu"))
			info_mmu(m, out);
		else if (!strcmp(what, "devices"))
			info_devices(board, out);
		else if (!strcmp(what, "status"))
			fprintf(out, "VM status: %s%s\n", board_paused(board) ? "paused" : "running",
				(board_holds(board) & BOARD_HOLD_GDB) ? " (by gdb)" : "");
		else if (!strcmp(what, "migrate"))
			info_migrate(m, out);
		else {
			fputs("error: info registers|cpus|stats|tcache|mmu|devices|block|status|migrate\n",
			      out);
			return -1;
		}
	} else if (!strcmp(cmd, "stop") && no_args) {
		do_stop(m);
	} else if ((!strcmp(cmd, "cont") || !strcmp(cmd, "c")) && no_args) {
		const char *why = do_cont(m);
		if (why) {
			fprintf(out, "error: %s\n", why);
			return -1;
		}
	} else if (!strcmp(cmd, "system_powerdown") && no_args) {
		do_powerdown(m);
	} else if (!strcmp(cmd, "system_reset") && no_args) {
		do_reset(m);
	} else if (!strcmp(cmd, "nmi") && no_args) {
		board_nmi_button(board);
	} else if ((!strcmp(cmd, "quit") || !strcmp(cmd, "q")) && no_args) {
		do_quit(m);
	} else if (!strcmp(cmd, "screendump")) {
		if (argc != 2) {
			fputs("error: usage: screendump FILE\n", out);
			return -1;
		}
		char why[512];
		if (do_screendump(m, argv[1], why, sizeof(why))) {
			fprintf(out, "error: cannot write the screen: %s\n", why);
			return -1;
		}
	} else if (!strcmp(cmd, "savevm")) {
		char err[512];
		if (argc != 2) {
			fputs("error: usage: savevm FILE (a path) or savevm NAME\n", out);
			return -1;
		}
		if (board_snapshot_save(board, argv[1], err, sizeof(err))) {
			fprintf(out, "error: %s\n", err);
			return -1;
		}
	} else if (!strcmp(cmd, "x") || !strcmp(cmd, "xp")) {
		return cmd_dump(board, m->cpu, cmd[1] == 'p', argc, argv, out);
	} else if (!strcmp(cmd, "translation")) {
		return cmd_translation(board, m->cpu, argc, argv, out);
	} else if (!strcmp(cmd, "cpu")) {
		uint64_t n;
		if (argc != 2 || !parse_u64(argv[1], UINT32_MAX, &n) || n >= board_vcpu_count(board)) {
			fprintf(out, "error: usage: cpu N (0 to %u)\n", board_vcpu_count(board) - 1);
			return -1;
		}
		m->cpu = (unsigned)n;
	} else if (!strcmp(cmd, "migrate")) {
		char err[300];
		bool blk = argc == 3 && !strcmp(argv[1], "-b");
		if (argc != 2 + blk) {
			fputs("error: usage: migrate [-b] tcp:HOST:PORT,key=FILE | unix:PATH\n", out);
			return -1;
		}
		if (migration_start(&m->migration, board, argv[1 + blk], blk, err, sizeof(err))) {
			fprintf(out, "error: %s\n", err);
			return -1;
		}
		fputs("migration started ('info migrate' follows it)\n", out);
	} else {
		fprintf(out, "error: unknown command or wrong arguments: '%s' (try 'help')\n", cmd);
		return -1;
	}
	return 0;
}

/* Runs a human command into a string (NULL: out of memory). */
static char *human_to_string(struct monitor *m, const char *line, bool *failed)
{
	char *text = NULL;
	size_t len = 0;
	char *copy = strdup(line);
	FILE *out = open_memstream(&text, &len);
	if (!copy || !out) {
		free(copy);
		if (out)
			fclose(out);
		free(text);
		return NULL;
	}
	*failed = run_human(m, copy, out) != 0;
	fclose(out);
	free(copy);
	return text;
}

/* --- JSON commands --- */

static json_t *json_error(const char *desc)
{
	return json_pack("{s:{s:s,s:s}}", "error", "class", "GenericError", "desc", desc);
}

static json_t *query_registers(struct board *board, unsigned vcpu)
{
	struct board_regs regs;
	board_vcpu_get_regs(board, vcpu, &regs);
	const struct vcpu_state *s = &regs.s;
	static const char *const names[REG_COUNT] = { "eax", "ecx", "edx", "ebx",
						      "esp", "ebp", "esi", "edi" };
	static const char *const segs[SEG_COUNT] = { "es", "cs", "ss", "ds", "fs", "gs" };
	json_t *r = json_object();
	for (unsigned i = 0; i < REG_COUNT; i++)
		json_object_set_new(r, names[i], json_integer(regs.regs[i]));
	for (unsigned i = 0; i < SEG_COUNT; i++)
		json_object_set_new(r, segs[i], json_integer(s->seg[i].selector));
	json_object_set_new(r, "eip", json_integer(s->eip));
	json_object_set_new(r, "eflags", json_integer(regs.eflags));
	json_object_set_new(r, "cr0", json_integer(s->cr0));
	json_object_set_new(r, "cr2", json_integer(s->cr2));
	json_object_set_new(r, "cr3", json_integer(s->cr3));
	json_object_set_new(r, "cr4", json_integer(s->cr4));
	json_object_set_new(r, "cpl", json_integer(s->cpl));
	json_object_set_new(r, "halted", json_boolean(regs.halted));
	return r;
}

/* query-cpus-fast: info cpus as JSON objects, one per vCPU. */
static json_t *query_cpus(const struct monitor *m)
{
	json_t *arr = json_array();
	for (unsigned i = 0, n = board_vcpu_count(m->board); arr && i < n; i++) {
		struct board_regs r;
		struct board_vcpu_status st;
		board_vcpu_get_regs(m->board, i, &r);
		board_vcpu_status(m->board, i, &st);
		json_t *cpu = json_pack("{s:I,s:I,s:s,s:I,s:I,s:s,s:b}", "cpu-index", (json_int_t)i,
					"apic-id", (json_int_t)st.apic_id, "state",
					vcpu_states[st.state], "eip", (json_int_t)r.s.eip, "cpl",
					(json_int_t)r.s.cpl, "mode", cpu_mode_name(&r), "selected",
					i == m->cpu);
		if (!cpu || json_array_append_new(arr, cpu)) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static json_t *read_memory_json(struct board *board, unsigned vcpu, json_t *args)
{
	json_int_t addr = -1, size = -1;
	int physical = 0;
	uint64_t bad;
	if (json_unpack(args, "{s:I,s:I,s?b}", "address", &addr, "size", &size, "physical",
			&physical) ||
	    addr < 0 || (uint64_t)addr > (physical ? BOARD_PHYS_ADDR_MAX : UINT32_MAX) || size < 1 ||
	    size > MAX_DUMP_BYTES)
		return json_error("read-memory needs \"address\" (0 to 4G-1, or to 64G-1 when "
				  "\"physical\") and \"size\" (1 to 65536), and takes "
				  "\"physical\" (a boolean)");
	uint8_t *buf = malloc((size_t)size);
	char *hex = malloc((size_t)size * 2 + 1);
	json_t *res;
	if (!buf || !hex) {
		res = json_error("out of memory");
	} else if (!board_read_memory(board, vcpu, (uint64_t)addr, physical, buf,
				      (uint32_t)size, &bad)) {
		char desc[96];
		snprintf(desc, sizeof(desc), "%s address %08" PRIx64 " is not in memory",
			 physical ? "physical" : "linear", bad);
		res = json_error(desc);
	} else {
		for (json_int_t i = 0; i < size; i++)
			snprintf(hex + 2 * i, 3, "%02x", buf[i]);
		res = json_pack("{s:{s:s}}", "return", "data", hex);
	}
	free(buf);
	free(hex);
	return res;
}

static json_t *run_json(struct monitor *m, const char *line)
{
	json_error_t jerr;
	json_t *req = json_loads(line, 0, &jerr);
	json_t *res = NULL, *id = NULL;
	const char *cmd = NULL;
	json_t *args = NULL;
	if (!req || json_unpack(req, "{s:s,s?o,s?o}", "execute", &cmd, "arguments", &args, "id",
				&id)) {
		res = json_error(req ? "expected {\"execute\": NAME, \"arguments\": {...}}"
				     : "not a JSON object");
		goto done;
	}
	if (args && !json_is_object(args)) {
		res = json_error("\"arguments\" must be an object");
		goto done;
	}
	struct board *board = m->board;
	json_t *empty = json_object();
	if (!strcmp(cmd, "qmp_capabilities")) {
		res = json_pack("{s:o}", "return", empty);
		empty = NULL;
	} else if (!strcmp(cmd, "query-status")) {
		bool paused = board_paused(board);
		res = json_pack("{s:{s:b,s:s}}", "return", "running", !paused, "status",
				paused ? "paused" : "running");
	} else if (!strcmp(cmd, "stop") || !strcmp(cmd, "cont") || !strcmp(cmd, "quit") ||
		   !strcmp(cmd, "system_powerdown") || !strcmp(cmd, "system_reset") ||
		   !strcmp(cmd, "inject-nmi")) {
		const char *why = NULL;
		if (!strcmp(cmd, "stop"))
			do_stop(m);
		else if (!strcmp(cmd, "cont"))
			why = do_cont(m);
		else if (!strcmp(cmd, "quit"))
			do_quit(m);
		else if (!strcmp(cmd, "system_powerdown"))
			do_powerdown(m);
		else if (!strcmp(cmd, "inject-nmi"))
			board_nmi_button(board);
		else
			do_reset(m);
		if (why) {
			res = json_error(why);
		} else {
			res = json_pack("{s:o}", "return", empty);
			empty = NULL;
		}
	} else if (!strcmp(cmd, "query-cpus-fast")) {
		json_t *cpus = query_cpus(m);
		res = cpus ? json_pack("{s:o}", "return", cpus) : json_error("out of memory");
	} else if (!strcmp(cmd, "query-registers")) {
		res = json_pack("{s:o}", "return", query_registers(board, m->cpu));
	} else if (!strcmp(cmd, "read-memory")) {
		res = read_memory_json(board, m->cpu, args ? args : empty);
	} else if (!strcmp(cmd, "screendump")) {
		const char *file = NULL;
		if (!args || json_unpack(args, "{s:s}", "filename", &file)) {
			res = json_error("screendump needs \"filename\"");
		} else {
			char why[512];
			int ret = do_screendump(m, file, why, sizeof(why));
			res = ret ? json_error(why) : json_pack("{s:o}", "return", empty);
			if (!ret)
				empty = NULL;
		}
	} else if ((res = monitor_snap_json(board, cmd, args))) {
		/* savevm with "name", loadvm, delvm, query-snapshots: answered. */
	} else if (!strcmp(cmd, "savevm")) {
		const char *file = NULL;
		char err[512];
		if (!args || json_unpack(args, "{s:s}", "file", &file)) {
			res = json_error("savevm needs \"file\" (or \"name\": a named snapshot)");
		} else if (board_snapshot_save(board, file, err, sizeof(err))) {
			res = json_error(err);
		} else {
			res = json_pack("{s:o}", "return", empty);
			empty = NULL;
		}
	} else if (!strcmp(cmd, "migrate")) {
		const char *uri = NULL;
		int blk = 0;
		char err[300];
		if (!args || json_unpack(args, "{s:s,s?b}", "uri", &uri, "blk", &blk))
			res = json_error("migrate needs \"uri\" (tcp:HOST:PORT) and takes \"blk\" "
					 "(true: copy the disks along)");
		else if (migration_start(&m->migration, board, uri, blk, err, sizeof(err)))
			res = json_error(err);
		else {
			res = json_pack("{s:o}", "return", empty);
			empty = NULL;
		}
	} else if (!strcmp(cmd, "query-migrate")) {
		struct migration_status st;
		migration_get_status(m->migration, &st);
		res = json_pack("{s:{s:s,s:I,s:I,s:I,s:I,s:I,s:s}}", "return", "status", st.state,
				"rounds", (json_int_t)st.rounds, "pages", (json_int_t)st.pages_sent,
				"bytes", (json_int_t)st.bytes_sent, "total-ms", (json_int_t)st.total_ms,
				"downtime-ms", (json_int_t)st.downtime_ms, "error", st.error);
	} else if (!strcmp(cmd, "human-monitor-command")) {
		const char *cmdline = NULL;
		bool failed = false;
		char *text;
		if (!args || json_unpack(args, "{s:s}", "command-line", &cmdline)) {
			res = json_error("human-monitor-command needs \"command-line\"");
		} else if (!(text = human_to_string(m, cmdline, &failed))) {
			res = json_error("out of memory");
		} else {
			/* As QMP does: the command's own errors are its text. */
			res = json_pack("{s:s}", "return", text);
			free(text);
		}
	} else if (!(res = monitor_block_json(board, cmd, args))) {
		char desc[160];
		snprintf(desc, sizeof(desc), "unknown command '%.100s'", cmd);
		res = json_error(desc);
	}
	json_decref(empty);
done:
	if (res && id)
		json_object_set(res, "id", id);
	json_decref(req);
	return res;
}

/* A JSON answer as one line, in one write: nothing sent to the client
 * from another thread (an event, a refusal) lands inside it. Takes res. */
static void reply_json(struct monitor *m, uint64_t client, json_t *res)
{
	char *text = res ? json_dumps(res, JSON_COMPACT) : NULL;
	json_decref(res);
	if (!text)
		return;
	size_t len = strlen(text);
	text[len] = '\n';   /* over its NUL: the length says where it ends */
	reply_len(m, client, text, len + 1);
	free(text);
}

/* Where a line's command starts, and whether it is a JSON one. */
static const char *line_start(const char *line, bool *json)
{
	while (*line == ' ' || *line == '\t')
		line++;
	*json = *line == '{';
	return line;
}

/* An error answer in the line's own language, with the JSON command's id
 * if it has one. */
static void reply_error(struct monitor *m, uint64_t client, const char *line, size_t len,
			const char *desc)
{
	bool json;
	line_start(line, &json);
	if (!json) {
		char text[256];
		snprintf(text, sizeof(text), "error: %s\n", desc);
		reply(m, client, text);
		return;
	}
	json_t *req = memchr(line, 0, len) ? NULL : json_loadb(line, len, 0, NULL);
	json_t *res = json_error(desc);
	json_t *id = json_is_object(req) ? json_object_get(req, "id") : NULL;
	if (res && id)
		json_object_set(res, "id", id);
	json_decref(req);
	reply_json(m, client, res);
}

static void run_request(struct monitor *m, const struct request *r)
{
	bool json;
	const char *p = line_start(r->line, &json);
	if (memchr(r->line, 0, r->len)) {
		/* Whatever came after it would be lost to the C strings below:
		 * the line is refused whole, and says why. */
		reply_error(m, r->client, r->line, r->len, "the line has a NUL byte");
		if (r->client == MONITOR_TERMINAL)
			console_prompt();
		return;
	}
	if (json) {
		reply_json(m, r->client, run_json(m, p));
		return;
	}
	bool failed;
	char *text = human_to_string(m, p, &failed);
	if (text)
		reply(m, r->client, text);
	else
		reply(m, r->client, "error: out of memory\n");
	free(text);
	if (r->client == MONITOR_TERMINAL)
		console_prompt();
}

/* Tells the socket's clients that something happened ("STOP", "RESUME",
 * "RESET", "POWERDOWN", "SHUTDOWN"). */
static void monitor_event(struct monitor *m, const char *name)
{
	struct timeval tv;
	if (!m || !m->sock)
		return;
	gettimeofday(&tv, NULL);
	json_t *ev = json_pack("{s:s,s:{s:I,s:I}}", "event", name, "timestamp", "seconds",
			       (json_int_t)tv.tv_sec, "microseconds", (json_int_t)tv.tv_usec);
	char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
	json_decref(ev);
	if (text) {
		size_t len = strlen(text);
		text[len] = '\n';   /* over the NUL: one write, not split by another */
		monitor_socket_broadcast(m->sock, text, len + 1);
	}
	free(text);
}

/* --- the queue --- */

/* Lock held: the client's queue, or a free one for it (NULL: none free,
 * which the socket's own bound on clients rules out). */
static struct client_queue *queue_of(struct monitor *m, uint64_t client, bool make)
{
	struct client_queue *free_q = NULL;
	for (unsigned i = 0; i < MAX_CLIENTS; i++) {
		struct client_queue *q = &m->queues[i];
		if (q->used && q->client == client)
			return q;
		if (!q->used && !free_q)
			free_q = q;
	}
	if (!make || !free_q)
		return NULL;
	*free_q = (struct client_queue){ .used = true, .client = client };
	return free_q;
}

/* Lock held: whether q's next command can run now. A client that has not
 * read its last answers waits: what it would be sent could only pile up. */
static bool queue_ready(struct monitor *m, const struct client_queue *q)
{
	return q->used && q->head &&
	       (q->client == MONITOR_TERMINAL || !monitor_socket_backlogged(m->sock, q->client));
}

/* Lock held: whether any queue can run now. */
static bool any_ready(struct monitor *m)
{
	for (unsigned i = 0; i < MAX_CLIENTS; i++)
		if (queue_ready(m, &m->queues[i]))
			return true;
	return false;
}

/* Lock held: the next command to run, the queues taken in turn so that
 * one client's flood does not hold up another's. */
static struct request *take_next(struct monitor *m)
{
	for (unsigned n = 0; n < MAX_CLIENTS; n++) {
		unsigned i = (m->next_turn + n) % MAX_CLIENTS;
		struct client_queue *q = &m->queues[i];
		if (!queue_ready(m, q))
			continue;
		struct request *r = q->head;
		q->head = r->next;
		if (!q->head)
			q->tail = NULL;
		q->queued--;
		m->next_turn = (i + 1) % MAX_CLIENTS;
		return r;
	}
	return NULL;
}

/* Lock held: the vCPU learns of work that can run. Returns whether it
 * must be woken (it thought there was none). */
static bool set_pending(struct monitor *m)
{
	return !atomic_exchange(&m->pending, true);
}

/* Any thread: queues a command line of len bytes from a client and wakes
 * the vCPU, or refuses it (the client has MONITOR_QUEUE_MAX waiting) with
 * an error answer. false: the client is to be disconnected. */
static bool monitor_submit(struct monitor *m, uint64_t client, const char *line, size_t len)
{
	struct request *r = malloc(sizeof(*r) + len + 1);
	bool wake = false, keep = true;
	pthread_mutex_lock(&m->lock);
	struct client_queue *q = queue_of(m, client, true);
	if (!q || q->queued >= MONITOR_QUEUE_MAX || !r) {
		if (q && q->refused < UINT32_MAX)
			q->refused++;
		keep = client == MONITOR_TERMINAL || !q || q->refused < MONITOR_REFUSED_MAX;
		pthread_mutex_unlock(&m->lock);
		free(r);
		char desc[128];
		if (!r)
			snprintf(desc, sizeof(desc), "out of memory: the line is dropped");
		else
			snprintf(desc, sizeof(desc),
				 "%u commands wait already: the line is dropped (send fewer at once)",
				 MONITOR_QUEUE_MAX);
		reply_error(m, client, line, len, desc);
		return keep;
	}
	r->next = NULL;
	r->client = client;
	r->len = len;
	memcpy(r->line, line, len);
	r->line[len] = '\0';
	if (q->tail)
		q->tail->next = r;
	else
		q->head = r;
	q->tail = r;
	q->queued++;
	q->refused = 0;
	if (queue_ready(m, q))
		wake = set_pending(m);
	pthread_mutex_unlock(&m->lock);
	if (wake)
		board_wake(m->board);
	return true;
}

/* Commands wait that can run now: the guest stops for them once it has
 * had its slice (a client that floods the monitor slows the guest down
 * by half at most: a run of the queue is BATCH_NS at most, the slice as
 * long), or at once if it is halted. */
static enum board_want monitor_wants(void *opaque)
{
	struct monitor *m = opaque;
	return atomic_load(&m->pending) ? BOARD_WANT_STOP_AFTER_SLICE : BOARD_WANT_NOTHING;
}

/* Guest stopped at an instruction boundary: runs a few of the queued
 * commands, taking the clients in turn, and answers each client. Returns
 * whether more wait. Bounded so that no client holds up the guest by
 * talking: the board lets the guest run between. */
static bool monitor_run_stopped(void *opaque)
{
	struct monitor *m = opaque;
	uint64_t start = host_monotonic_ns();
	for (unsigned n = 0; n < BATCH_COMMANDS; n++) {
		pthread_mutex_lock(&m->lock);
		struct request *r = take_next(m);
		pthread_mutex_unlock(&m->lock);
		if (!r)
			break;
		run_request(m, r);
		free(r);
		if (host_monotonic_ns() - start >= BATCH_NS)
			break;
	}
	/* Under the lock, so that a client's backlog drained meanwhile sets
	 * it again after this (monitor_socket's drained callback). */
	pthread_mutex_lock(&m->lock);
	bool more = any_ready(m);
	atomic_store(&m->pending, more);
	pthread_mutex_unlock(&m->lock);
	return more;
}

/* Socket thread: the client has gone; what it queued is not run. */
static void socket_gone(void *opaque, uint64_t client)
{
	struct monitor *m = opaque;
	pthread_mutex_lock(&m->lock);
	struct client_queue *q = queue_of(m, client, false);
	struct request *r = q ? q->head : NULL;
	if (q)
		*q = (struct client_queue){ .used = false };
	pthread_mutex_unlock(&m->lock);
	while (r) {
		struct request *next = r->next;
		free(r);
		r = next;
	}
}

/* Socket thread: the client read its answers; its commands may run. */
static void socket_drained(void *opaque, uint64_t client)
{
	struct monitor *m = opaque;
	bool wake = false;
	pthread_mutex_lock(&m->lock);
	struct client_queue *q = queue_of(m, client, false);
	if (q && queue_ready(m, q))
		wake = set_pending(m);
	pthread_mutex_unlock(&m->lock);
	if (wake)
		board_wake(m->board);
}

static bool socket_line(void *opaque, uint64_t client, const char *line, size_t len)
{
	return monitor_submit(opaque, client, line, len);
}

/* Console thread: a line typed at the monitor's prompt (Ctrl-A c). */
static void monitor_terminal_line(void *opaque, const char *line)
{
	monitor_submit(opaque, MONITOR_TERMINAL, line, strlen(line));
}

static void monitor_board_event(void *opaque, enum board_event event)
{
	static const char *const names[] = {
		[BOARD_EVENT_STOP] = "STOP",
		[BOARD_EVENT_RESUME] = "RESUME",
		[BOARD_EVENT_RESET] = "RESET",
		[BOARD_EVENT_SHUTDOWN] = "SHUTDOWN",
	};
	if ((size_t)event < sizeof(names) / sizeof(names[0]) && names[event])
		monitor_event(opaque, names[event]);
}

static const struct board_frontend_ops monitor_ops = {
	.wants = monitor_wants,
	.run_stopped = monitor_run_stopped,
	.terminal_line = monitor_terminal_line,
	.event = monitor_board_event,
};

int monitor_open(struct monitor **out, struct board *board, const char *socket_path,
		 struct board_screen *screen, const struct board_stats *stats, char *err,
		 size_t err_len)
{
	struct monitor *m = calloc(1, sizeof(*m));
	*out = NULL;
	if (!m) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	m->board = board;
	m->screen = screen;
	m->stats = stats;
	pthread_mutex_init(&m->lock, NULL);
	atomic_init(&m->pending, false);
	m->queues[0] = (struct client_queue){ .used = true, .client = MONITOR_TERMINAL };
	if (socket_path) {
		const struct monitor_socket_ops ops = {
			.greeting = "{\"QMP\":{\"version\":{\"btvm\":\"" BTVM_VERSION "\"},"
				    "\"capabilities\":[]}}\n",
			.line = socket_line,
			.gone = socket_gone,
			.drained = socket_drained,
			.opaque = m,
		};
		int ret = monitor_socket_open(&m->sock, socket_path, &ops, err, err_len);
		if (ret) {
			pthread_mutex_destroy(&m->lock);
			free(m);
			return ret;
		}
	}
	int ret = board_add_frontend(board, &monitor_ops, m);
	if (ret) {
		snprintf(err, err_len, "too many front ends for the machine");
		monitor_close(m);
		return ret;
	}
	m->registered = true;
	*out = m;
	return 0;
}

void monitor_set_gdb(struct monitor *m, const struct gdbstub *gdb)
{
	m->gdb = gdb;
}

void monitor_close(struct monitor *m)
{
	if (!m)
		return;
	/* A pre-copy under way stops first: its thread reads guest memory. */
	migration_destroy(m->migration);
	if (m->registered)
		board_remove_frontend(m->board, m);
	monitor_socket_close(m->sock);
	for (unsigned i = 0; i < MAX_CLIENTS; i++) {
		while (m->queues[i].head) {
			struct request *r = m->queues[i].head;
			m->queues[i].head = r->next;
			free(r);
		}
	}
	pthread_mutex_destroy(&m->lock);
	free(m);
}
