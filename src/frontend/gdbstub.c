/* The gdb stub (gdbstub.h): the queue between the socket's thread and the
 * vCPU's, and gdb's remote protocol for i386 threads (a thread per vCPU,
 * below): stop replies,
 * registers in the numbering of gdb's org.gnu.gdb.i386.core (which this
 * stub describes in its target.xml), memory by linear address through the
 * guest's page tables, breakpoints done in the translation (cpu.h's
 * cpu_debug), continue, single-step and Ctrl-C.
 *
 * Who stops the guest: gdb holds it stopped (BOARD_HOLD_GDB) from its
 * connection and from every stop it is told of until it resumes; the
 * monitor's stop is a hold of its own, and the guest runs only when
 * neither holds it (machine/control.h). A front end of the machine: its
 * queue stops the guest at the next poll, and a connected gdb keeps a
 * halted guest waiting rather than stuck.
 *
 * Threads: gdb's thread n is vCPU n - 1 (gdb numbers threads from 1).
 * Hg picks the vCPU whose registers and linear addresses g, G, p, P, m, M
 * and X use; Hc (and vCont's thread) the one a step steps. A stop stops
 * the whole machine (the vCPUs take turns: when one is at the control
 * point none runs), and its reply names the vCPU it stopped on, which
 * both then select, as gdb expects. Breakpoints are every vCPU's, as gdb
 * sets them for its whole process. */
#define _GNU_SOURCE
#include "frontend/gdbstub.h"

#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/gdb_socket.h"
#include "machine/control.h"

/* Signals in stop replies, as gdb numbers them. */
#define GDB_SIGINT 2
#define GDB_SIGTRAP 5
/* gdb's i386 core registers: eax..edi, eip, eflags, cs ss ds es fs gs,
 * st0-st7 (80 bits each), fctrl fstat ftag fiseg fioff foseg fooff fop. */
#define GDB_NREGS 32u
#define GDB_REG_EIP 8u
#define GDB_REG_EFLAGS 9u
#define GDB_REG_SEG 10u
#define GDB_REG_ST0 16u
#define GDB_REG_FCTRL 24u
#define GDB_REGS_BYTES (16u * 4 + 8 * 10 + 8 * 4)
/* What one m packet reads: its hex reply fits GDB_PACKET_MAX. */
#define GDB_READ_MAX (GDB_PACKET_MAX / 2 - 16)
/* EFLAGS bits a debugger may set: the status flags, TF, IF, DF, IOPL, NT,
 * AC and ID (not VM or RF, which this CPU has no use for). */
#define GDB_EFLAGS_WRITABLE (EFLAGS_ARITH | EFLAGS_TF | EFLAGS_IF | EFLAGS_DF | EFLAGS_IOPL | \
			     EFLAGS_NT | EFLAGS_AC | EFLAGS_ID)

enum item_kind { ITEM_CONNECTED, ITEM_PACKET, ITEM_INTERRUPT, ITEM_DISCONNECTED };

struct item {
	struct item *next;
	enum item_kind kind;
	size_t len;
	char data[];
};

struct gdbstub {
	struct board *board;
	struct gdb_socket *sock;
	pthread_mutex_t lock;
	struct item *head, *tail;
	atomic_bool pending;
	/* vCPU thread only: */
	bool attached;     /* a gdb is connected */
	bool running;      /* gdb resumed the guest and waits for a stop reply */
	int last_signal;   /* of the last stop, for '?' */
	/* QEMU's Qqemu.PhyMemMode: m, M and X take physical addresses (to
	 * the CPU's 36 bits: RAM above 4 GiB) instead of linear ones. */
	bool phys_mode;
	bool registered;   /* with the board */
	/* Hg's vCPU (registers, memory), Hc's (steps), and the one the last
	 * stop was on (for '?'). */
	unsigned g_vcpu, c_vcpu, stop_vcpu;
};

static const char target_xml[] =
	"<?xml version=\"1.0\"?>\n"
	"<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n"
	"<target version=\"1.0\">\n"
	"<architecture>i386</architecture>\n"
	"<feature name=\"org.gnu.gdb.i386.core\">\n"
	"<flags id=\"i386_eflags\" size=\"4\">\n"
	"<field name=\"CF\" start=\"0\" end=\"0\"/><field name=\"\" start=\"1\" end=\"1\"/>\n"
	"<field name=\"PF\" start=\"2\" end=\"2\"/><field name=\"AF\" start=\"4\" end=\"4\"/>\n"
	"<field name=\"ZF\" start=\"6\" end=\"6\"/><field name=\"SF\" start=\"7\" end=\"7\"/>\n"
	"<field name=\"TF\" start=\"8\" end=\"8\"/><field name=\"IF\" start=\"9\" end=\"9\"/>\n"
	"<field name=\"DF\" start=\"10\" end=\"10\"/><field name=\"OF\" start=\"11\" end=\"11\"/>\n"
	"<field name=\"NT\" start=\"14\" end=\"14\"/><field name=\"RF\" start=\"16\" end=\"16\"/>\n"
	"<field name=\"VM\" start=\"17\" end=\"17\"/><field name=\"AC\" start=\"18\" end=\"18\"/>\n"
	"<field name=\"VIF\" start=\"19\" end=\"19\"/><field name=\"VIP\" start=\"20\" end=\"20\"/>\n"
	"<field name=\"ID\" start=\"21\" end=\"21\"/>\n"
	"</flags>\n"
	"<reg name=\"eax\" bitsize=\"32\" type=\"int32\" regnum=\"0\"/>\n"
	"<reg name=\"ecx\" bitsize=\"32\" type=\"int32\"/>\n"
	"<reg name=\"edx\" bitsize=\"32\" type=\"int32\"/>\n"
	"<reg name=\"ebx\" bitsize=\"32\" type=\"int32\"/>\n"
	"<reg name=\"esp\" bitsize=\"32\" type=\"data_ptr\"/>\n"
	"<reg name=\"ebp\" bitsize=\"32\" type=\"data_ptr\"/>\n"
	"<reg name=\"esi\" bitsize=\"32\" type=\"int32\"/>\n"
	"<reg name=\"edi\" bitsize=\"32\" type=\"int32\"/>\n"
	"<reg name=\"eip\" bitsize=\"32\" type=\"code_ptr\"/>\n"
	"<reg name=\"eflags\" bitsize=\"32\" type=\"i386_eflags\"/>\n"
	"<reg name=\"cs\" bitsize=\"32\" type=\"int32\"/>\n"
	"<reg name=\"ss\" bitsize=\"32\" type=\"int32\"/>\n"
	"<reg name=\"ds\" bitsize=\"32\" type=\"int32\"/>\n"
	"<reg name=\"es\" bitsize=\"32\" type=\"int32\"/>\n"
	"<reg name=\"fs\" bitsize=\"32\" type=\"int32\"/>\n"
	"<reg name=\"gs\" bitsize=\"32\" type=\"int32\"/>\n"
	"<reg name=\"st0\" bitsize=\"80\" type=\"i387_ext\"/>\n"
	"<reg name=\"st1\" bitsize=\"80\" type=\"i387_ext\"/>\n"
	"<reg name=\"st2\" bitsize=\"80\" type=\"i387_ext\"/>\n"
	"<reg name=\"st3\" bitsize=\"80\" type=\"i387_ext\"/>\n"
	"<reg name=\"st4\" bitsize=\"80\" type=\"i387_ext\"/>\n"
	"<reg name=\"st5\" bitsize=\"80\" type=\"i387_ext\"/>\n"
	"<reg name=\"st6\" bitsize=\"80\" type=\"i387_ext\"/>\n"
	"<reg name=\"st7\" bitsize=\"80\" type=\"i387_ext\"/>\n"
	"<reg name=\"fctrl\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
	"<reg name=\"fstat\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
	"<reg name=\"ftag\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
	"<reg name=\"fiseg\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
	"<reg name=\"fioff\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
	"<reg name=\"foseg\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
	"<reg name=\"fooff\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
	"<reg name=\"fop\" bitsize=\"32\" type=\"int\" group=\"float\"/>\n"
	"</feature>\n"
	"</target>\n";

static void reply(struct gdbstub *g, const char *text)
{
	gdb_socket_send(g->sock, text, strlen(text));
}

static void reply_error(struct gdbstub *g, int err)
{
	char buf[8];
	snprintf(buf, sizeof(buf), "E%02x", err & 0xff);
	reply(g, buf);
}

/* A hex number of at most 8 digits at *p, which moves past it. */
/* Up to digits hex digits. */
static bool parse_hex_n(const char **p, unsigned digits, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;
	unsigned n = 0;
	for (int d; (d = gdb_hex_value(*s)) >= 0; s++, n++) {
		if (n == digits)
			return false;
		x = x << 4 | (uint64_t)d;
	}
	if (!n)
		return false;
	*v = x;
	*p = s;
	return true;
}

static bool parse_hex(const char **p, uint32_t *v)
{
	uint64_t x;
	if (!parse_hex_n(p, 8, &x))
		return false;
	*v = (uint32_t)x;
	return true;
}

/* len bytes from 2*len hex digits; false on anything else. */
static bool unhex(const char *hex, size_t hex_len, uint8_t *out, size_t len)
{
	if (hex_len != 2 * len)
		return false;
	for (size_t i = 0; i < len; i++) {
		int hi = gdb_hex_value(hex[2 * i]), lo = gdb_hex_value(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static void to_hex(char *out, const uint8_t *bytes, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 15];
	}
	out[2 * len] = '\0';
}

/* --- registers --- */

/* gdb's order of the segment registers, as SEG_* indices. */
static const unsigned gdb_segs[SEG_COUNT] = { SEG_CS, SEG_SS, SEG_DS, SEG_ES, SEG_FS, SEG_GS };

static unsigned reg_size(unsigned n)
{
	return n >= GDB_REG_ST0 && n < GDB_REG_FCTRL ? 10 : 4;
}

/* The x87 tag word as FSTENV gives it, from FXSAVE's abridged one: empty,
 * or the class of what the register holds (valid, zero, special). */
static uint16_t full_tag_word(const uint8_t *fx)
{
	unsigned top = (unsigned)(fx[3] >> 3) & 7;
	uint16_t tags = 0;
	for (unsigned phys = 0; phys < 8; phys++) {
		unsigned tag = 3;
		if (fx[4] & (1u << phys)) {
			const uint8_t *st = fx + 32 + 16 * ((phys - top) & 7);
			uint64_t mant;
			memcpy(&mant, st, 8);
			unsigned exp = ((unsigned)st[9] << 8 | st[8]) & 0x7fff;
			if (exp == 0x7fff)
				tag = 2;
			else if (exp == 0)
				tag = mant ? 2 : 1;
			else
				tag = (mant >> 63) ? 0 : 2;
		}
		tags = (uint16_t)(tags | tag << (2 * phys));
	}
	return tags;
}

/* Register n from the registers r and, for the x87 ones, the vCPU's
 * FXSAVE image fx (fetched only for those: fetching it moves the guest's
 * x87 state out of the host's registers). */
static void read_reg(const struct board_regs *r, const uint8_t *fx, unsigned n, uint8_t *out)
{
	uint32_t v = 0;
	if (n < REG_COUNT) {
		v = r->regs[n];
	} else if (n == GDB_REG_EIP) {
		v = r->s.eip;
	} else if (n == GDB_REG_EFLAGS) {
		v = r->eflags;
	} else if (n < GDB_REG_ST0) {
		v = r->s.seg[gdb_segs[n - GDB_REG_SEG]].selector;
	} else {
		if (n < GDB_REG_FCTRL) {
			memcpy(out, fx + 32 + 16 * (n - GDB_REG_ST0), 10);
			return;
		}
		switch (n - GDB_REG_FCTRL) {
		case 0: v = (uint32_t)fx[0] | (uint32_t)fx[1] << 8; break;
		case 1: v = (uint32_t)fx[2] | (uint32_t)fx[3] << 8; break;
		case 2: v = full_tag_word(fx); break;
		case 7: v = ((uint32_t)fx[6] | (uint32_t)fx[7] << 8) & 0x7ff; break;
		/* The last instruction and operand pointers: zero, as the
		 * guest itself reads them (docs/DESIGN.md, x87 FIP/FDP). */
		default: v = 0; break;
		}
	}
	memcpy(out, &v, 4);
}

/* false: the value cannot be written (a segment selector other than the
 * one loaded: loading one takes a descriptor, which gdb does not give). */
static bool write_reg(struct board *board, unsigned vcpu, unsigned n, const uint8_t *in)
{
	uint32_t v;
	memcpy(&v, in, 4);
	if (n < REG_COUNT) {
		board_vcpu_set_gpr(board, vcpu, n, v);
	} else if (n == GDB_REG_EIP) {
		board_vcpu_set_eip(board, vcpu, v);   /* somewhere else to go on from */
	} else if (n == GDB_REG_EFLAGS) {
		board_vcpu_set_eflags(board, vcpu, v, GDB_EFLAGS_WRITABLE);
	} else if (n < GDB_REG_ST0) {
		struct board_regs r;
		board_vcpu_get_regs(board, vcpu, &r);
		return v == r.s.seg[gdb_segs[n - GDB_REG_SEG]].selector;
	} else {
		uint8_t fx[512];
		board_vcpu_get_fpu(board, vcpu, fx);
		if (n < GDB_REG_FCTRL) {
			memcpy(fx + 32 + 16 * (n - GDB_REG_ST0), in, 10);
			board_vcpu_set_fpu(board, vcpu, fx);
			return true;
		}
		switch (n - GDB_REG_FCTRL) {
		case 0: fx[0] = (uint8_t)v; fx[1] = (uint8_t)(v >> 8); break;
		case 1: fx[2] = (uint8_t)v; fx[3] = (uint8_t)(v >> 8); break;
		case 2:
			fx[4] = 0;
			for (unsigned phys = 0; phys < 8; phys++)
				if (((v >> (2 * phys)) & 3) != 3)
					fx[4] = (uint8_t)(fx[4] | 1u << phys);
			break;
		default: break;   /* pointers and opcode: not kept (read_reg) */
		}
		board_vcpu_set_fpu(board, vcpu, fx);
	}
	return true;
}

static void cmd_read_registers(struct gdbstub *g)
{
	uint8_t bytes[GDB_REGS_BYTES];
	char hex[2 * GDB_REGS_BYTES + 1];
	struct board_regs r;
	uint8_t fx[512];
	size_t at = 0;
	board_vcpu_get_regs(g->board, g->g_vcpu, &r);
	board_vcpu_get_fpu(g->board, g->g_vcpu, fx);
	for (unsigned n = 0; n < GDB_NREGS; n++) {
		read_reg(&r, fx, n, bytes + at);
		at += reg_size(n);
	}
	to_hex(hex, bytes, at);
	reply(g, hex);
}

static void cmd_write_registers(struct gdbstub *g, const char *args, size_t len)
{
	uint8_t bytes[GDB_REGS_BYTES];
	/* gdb may send fewer than all of them: the first ones only. */
	if (len % 2 || len > 2 * GDB_REGS_BYTES || !unhex(args, len, bytes, len / 2)) {
		reply_error(g, EINVAL);
		return;
	}
	bool ok = true;
	for (unsigned n = 0, at = 0; n < GDB_NREGS && at + reg_size(n) <= len / 2; n++) {
		ok &= write_reg(g->board, g->g_vcpu, n, bytes + at);
		at += reg_size(n);
	}
	reply(g, ok ? "OK" : "E16");
}

static void cmd_read_register(struct gdbstub *g, const char *args)
{
	uint32_t n;
	uint8_t bytes[10];
	char hex[21];
	if (!parse_hex(&args, &n) || *args) {
		reply_error(g, EINVAL);
		return;
	}
	if (n >= GDB_NREGS) {
		reply(g, "");   /* "not available": gdb shows it as such */
		return;
	}
	struct board_regs r;
	uint8_t fx[512];
	board_vcpu_get_regs(g->board, g->g_vcpu, &r);
	if (n >= GDB_REG_ST0)
		board_vcpu_get_fpu(g->board, g->g_vcpu, fx);
	read_reg(&r, fx, n, bytes);
	to_hex(hex, bytes, reg_size(n));
	reply(g, hex);
}

static void cmd_write_register(struct gdbstub *g, const char *args)
{
	uint32_t n;
	uint8_t bytes[10];
	if (!parse_hex(&args, &n) || *args++ != '=' || n >= GDB_NREGS ||
	    !unhex(args, strlen(args), bytes, reg_size(n))) {
		reply_error(g, EINVAL);
		return;
	}
	reply(g, write_reg(g->board, g->g_vcpu, n, bytes) ? "OK" : "E16");
}

/* --- memory --- */

/* "ADDR,LEN" and what follows it. */
static bool parse_addr_len(const char **p, uint32_t *addr, uint32_t *len)
{
	return parse_hex(p, addr) && *(*p)++ == ',' && parse_hex(p, len);
}

/* The same for m, M and X: a physical ADDR (phys_mode) up to 36 bits. */
static bool parse_mem_addr_len(const struct gdbstub *g, const char **p, uint64_t *addr,
			       uint32_t *len)
{
	return parse_hex_n(p, g->phys_mode ? 9 : 8, addr) && *addr <= BOARD_PHYS_ADDR_MAX &&
	       *(*p)++ == ',' && parse_hex(p, len);
}

static void cmd_read_memory(struct gdbstub *g, const char *args)
{
	uint64_t addr, bad;
	uint32_t len;
	if (!parse_mem_addr_len(g, &args, &addr, &len) || *args || len > GDB_READ_MAX) {
		reply_error(g, EINVAL);
		return;
	}
	uint8_t *buf = malloc(len + 1);
	char *hex = malloc(2 * (size_t)len + 1);
	if (!buf || !hex)
		reply_error(g, ENOMEM);
	else if (!board_read_memory(g->board, g->g_vcpu, addr, g->phys_mode, buf, len, &bad))
		reply_error(g, EFAULT);   /* nothing mapped there: no fault for the guest */
	else {
		to_hex(hex, buf, len);
		reply(g, hex);
	}
	free(buf);
	free(hex);
}

/* M (hex) and X (binary) writes. */
static void cmd_write_memory(struct gdbstub *g, const char *args, size_t len, bool binary)
{
	const char *end = args + len;
	uint64_t addr, bad;
	uint32_t n;
	if (!parse_mem_addr_len(g, &args, &addr, &n) || *args++ != ':' || n > GDB_PACKET_MAX) {
		reply_error(g, EINVAL);
		return;
	}
	size_t have = (size_t)(end - args);
	uint8_t *buf = malloc((size_t)n + 1);
	if (!buf) {
		reply_error(g, ENOMEM);
		return;
	}
	bool ok = binary ? have == n : unhex(args, have, buf, n);
	if (binary && ok)
		memcpy(buf, args, n);
	if (!ok)
		reply_error(g, EINVAL);
	else if (n && !board_write_memory(g->board, g->g_vcpu, addr, g->phys_mode, buf, n, &bad))
		reply_error(g, EFAULT);
	else
		reply(g, "OK");
	free(buf);
}

/* --- running and stopping --- */

static void stop_reply(struct gdbstub *g, int signal, bool breakpoint)
{
	char buf[48];
	g->last_signal = signal;
	snprintf(buf, sizeof(buf), "T%02xthread:%02x;%s", signal, g->stop_vcpu + 1,
		 breakpoint ? "swbreak:;" : "");
	reply(g, buf);
}

/* The guest stopped for gdb on vCPU vcpu: it stays stopped until gdb
 * resumes it; gdb goes on with that vCPU selected. */
static void stopped(struct gdbstub *g, unsigned vcpu, int signal, bool breakpoint)
{
	board_pause(g->board, BOARD_HOLD_GDB);
	if (g->running) {
		g->running = false;
		g->stop_vcpu = g->g_vcpu = g->c_vcpu = vcpu;
		stop_reply(g, signal, breakpoint);
	}
}

/* Every vCPU goes on (each past a breakpoint it sits at), vCPU step by
 * one instruction if it is one (UINT_MAX: none steps). */
static void resume(struct gdbstub *g, unsigned step)
{
	for (unsigned i = 0, n = board_vcpu_count(g->board); i < n; i++)
		board_vcpu_debug_resume(g->board, i, i == step);
	g->running = true;
	board_resume(g->board, BOARD_HOLD_GDB);
}

/* A thread id (hex) into a vCPU index: false for none of them. */
static bool thread_vcpu(const struct gdbstub *g, uint32_t thread, unsigned *vcpu)
{
	if (thread < 1 || thread > board_vcpu_count(g->board))
		return false;
	*vcpu = thread - 1;
	return true;
}

/* c, s, C and S: [SIG;][ADDR] (the signal is not passed on: a
 * bare-metal guest has none). */
static void cmd_resume(struct gdbstub *g, const char *args, bool step, bool with_signal)
{
	uint32_t addr, sig;
	if (with_signal) {
		if (!parse_hex(&args, &sig)) {
			reply_error(g, EINVAL);
			return;
		}
		if (*args == ';')
			args++;
		else if (*args) {
			reply_error(g, EINVAL);
			return;
		}
	}
	if (*args) {
		if (!parse_hex(&args, &addr) || *args) {
			reply_error(g, EINVAL);
			return;
		}
		board_vcpu_set_eip(g->board, g->c_vcpu, addr);   /* Hc's thread goes on from there */
	}
	resume(g, step ? g->c_vcpu : UINT_MAX);
}

/* vCont;ACTION[:THREAD][;ACTION[:THREAD]]...: a step (for one thread, or
 * without one for Hc's) steps that vCPU and lets the others go on with
 * it; otherwise a continue (for any thread, or all) lets all go on. The
 * guest's vCPUs take turns on one thread, so none can stay stopped while
 * another runs: gdb's all-stop mode, where the actions for other threads
 * than the stepped one are continues. */
static void cmd_vcont(struct gdbstub *g, const char *args)
{
	bool cont = false;
	while (*args == ';') {
		args++;
		char action = *args++;
		if (action == 'C' || action == 'S') {
			uint32_t sig;
			if (!parse_hex(&args, &sig))
				break;
		}
		uint32_t thread = 0;   /* 0 and -1: any, all */
		if (*args == ':') {
			args++;
			if (!strncmp(args, "-1", 2)) {
				args += 2;
			} else if (!parse_hex(&args, &thread)) {
				break;
			}
		}
		if (*args && *args != ';')
			break;
		unsigned vcpu = g->c_vcpu;
		if (thread && !thread_vcpu(g, thread, &vcpu))
			continue;   /* no such thread: nothing for it */
		if (action == 's' || action == 'S') {
			g->c_vcpu = vcpu;
			resume(g, vcpu);
			return;
		}
		if (action != 'c' && action != 'C')
			break;
		cont = true;
	}
	if (cont && !*args) {
		resume(g, UINT_MAX);
		return;
	}
	reply_error(g, EINVAL);
}

/* Z0/z0 (software) and Z1/z1 (hardware) breakpoints: both are done in the
 * translation, so both are as cheap and as many. Watchpoints (Z2-Z4) are
 * not offered: gdb then watches by single-stepping. */
static void cmd_breakpoint(struct gdbstub *g, const char *args, bool insert)
{
	uint32_t addr, kind;
	char type = *args++;
	if (type != '0' && type != '1') {
		reply(g, "");
		return;
	}
	if (*args++ != ',' || !parse_hex(&args, &addr) || *args++ != ',' || !parse_hex(&args, &kind) ||
	    (*args && *args != ';')) {
		reply_error(g, EINVAL);
		return;
	}
	unsigned n = board_vcpu_count(g->board);
	if (!insert) {
		for (unsigned i = 0; i < n; i++)
			board_vcpu_clear_breakpoint(g->board, i, addr);
		reply(g, "OK");
		return;
	}
	/* Every vCPU's, or none's: each vCPU has the same list, so they are
	 * full together. */
	for (unsigned i = 0; i < n; i++)
		if (board_vcpu_set_breakpoint(g->board, i, addr)) {
			while (i--)
				board_vcpu_clear_breakpoint(g->board, i, addr);
			reply(g, "E1c");
			return;
		}
	reply(g, "OK");
}

/* gdb has gone (D, or the connection closed): no breakpoint or step of
 * its stays, and the guest runs unless the monitor holds it. */
static void detach(struct gdbstub *g)
{
	for (unsigned i = 0, n = board_vcpu_count(g->board); i < n; i++)
		board_vcpu_debug_detach(g->board, i);
	g->running = false;
	board_resume(g->board, BOARD_HOLD_GDB);
}

/* qXfer:features:read:ANNEX:OFFSET,LENGTH */
static void cmd_xfer_features(struct gdbstub *g, const char *args)
{
	static const char annex[] = "target.xml:";
	uint32_t off, len;
	if (strncmp(args, annex, sizeof(annex) - 1)) {
		reply(g, "E00");   /* no such annex */
		return;
	}
	args += sizeof(annex) - 1;
	if (!parse_addr_len(&args, &off, &len) || *args) {
		reply_error(g, EINVAL);
		return;
	}
	size_t total = sizeof(target_xml) - 1;
	if (off >= total) {
		reply(g, "l");
		return;
	}
	if (len > GDB_PACKET_MAX - 16)
		len = GDB_PACKET_MAX - 16;
	size_t n = total - off < len ? total - off : len;
	char *buf = malloc(n + 2);
	if (!buf) {
		reply_error(g, ENOMEM);
		return;
	}
	buf[0] = off + n < total ? 'm' : 'l';
	memcpy(buf + 1, target_xml + off, n);
	gdb_socket_send(g->sock, buf, n + 1);
	free(buf);
}

/* qfThreadInfo: every vCPU's thread at once (qsThreadInfo ends it). */
static void thread_list(struct gdbstub *g)
{
	char buf[4 * BOARD_MAX_SMP + 2];
	size_t at = 0;
	unsigned n = board_vcpu_count(g->board);
	for (unsigned i = 0; i < n && at + 4 < sizeof(buf); i++)
		at += (size_t)snprintf(buf + at, sizeof(buf) - at, "%c%02x", i ? ',' : 'm', i + 1);
	reply(g, buf);
}

/* qThreadExtraInfo,ID: what gdb's info threads shows beside the thread,
 * hex-encoded: the vCPU, its APIC ID and whether it runs. */
static void thread_extra_info(struct gdbstub *g, const char *args)
{
	static const char *const states[] = {
		[BOARD_VCPU_RUNNING] = "running",
		[BOARD_VCPU_HALTED] = "halted",
		[BOARD_VCPU_WAIT_SIPI] = "waiting for SIPI",
	};
	uint32_t thread;
	unsigned vcpu;
	if (!parse_hex(&args, &thread) || *args || !thread_vcpu(g, thread, &vcpu)) {
		reply_error(g, EINVAL);
		return;
	}
	struct board_vcpu_status st;
	board_vcpu_status(g->board, vcpu, &st);
	char text[64], hex[2 * sizeof(text) + 1];
	int len = snprintf(text, sizeof(text), "vCPU %u, APIC ID %u, %s", vcpu, st.apic_id,
			   states[st.state]);
	to_hex(hex, (const uint8_t *)text, (size_t)len);
	reply(g, hex);
}

/* Hg and Hc: the vCPU the next register and memory packets use, or the
 * one the next step steps. 0 (any) keeps the one selected; -1 (all)
 * picks none for Hc (continues are for all anyway). */
static void cmd_set_thread(struct gdbstub *g, const char *args)
{
	char op = *args++;
	uint32_t thread;
	unsigned vcpu;
	if (op != 'g' && op != 'c') {
		reply_error(g, EINVAL);
		return;
	}
	if (!strcmp(args, "-1") || !strcmp(args, "0")) {
		reply(g, "OK");
		return;
	}
	if (!parse_hex(&args, &thread) || *args || !thread_vcpu(g, thread, &vcpu)) {
		reply_error(g, EINVAL);
		return;
	}
	if (op == 'g')
		g->g_vcpu = vcpu;
	else
		g->c_vcpu = vcpu;
	reply(g, "OK");
}

static void cmd_query(struct gdbstub *g, const char *p)
{
	if (!strncmp(p, "qSupported", 10))
		reply(g, "PacketSize=4000;qXfer:features:read+;QStartNoAckMode+;swbreak+;hwbreak+");
	else if (!strncmp(p, "qXfer:features:read:", 20))
		cmd_xfer_features(g, p + 20);
	else if (!strcmp(p, "qAttached") || !strncmp(p, "qAttached:", 10))
		reply(g, "1");   /* detach, not kill, when gdb quits */
	else if (!strcmp(p, "qqemu.PhyMemMode"))
		reply(g, g->phys_mode ? "1" : "0");
	else if (!strcmp(p, "Qqemu.PhyMemMode:1") || !strcmp(p, "Qqemu.PhyMemMode:0")) {
		g->phys_mode = p[17] == '1';
		reply(g, "OK");
	} else if (!strcmp(p, "qC")) {
		char buf[16];
		snprintf(buf, sizeof(buf), "QC%02x", g->g_vcpu + 1);
		reply(g, buf);
	} else if (!strcmp(p, "qfThreadInfo"))
		thread_list(g);
	else if (!strcmp(p, "qsThreadInfo"))
		reply(g, "l");
	else if (!strncmp(p, "qThreadExtraInfo,", 17))
		thread_extra_info(g, p + 17);
	else if (!strcmp(p, "QStartNoAckMode")) {
		/* The OK still goes out acknowledged; nothing after it. */
		gdb_socket_no_ack(g->sock);
		reply(g, "OK");
	} else
		reply(g, "");
}

static void run_packet(struct gdbstub *g, const char *p, size_t len)
{
	struct board *board = g->board;
	switch (p[0]) {
	case '?':
		stop_reply(g, g->last_signal, false);
		break;
	case 'g':
		cmd_read_registers(g);
		break;
	case 'G':
		cmd_write_registers(g, p + 1, len - 1);
		break;
	case 'p':
		cmd_read_register(g, p + 1);
		break;
	case 'P':
		cmd_write_register(g, p + 1);
		break;
	case 'm':
		cmd_read_memory(g, p + 1);
		break;
	case 'M':
		cmd_write_memory(g, p + 1, len - 1, false);
		break;
	case 'X':
		cmd_write_memory(g, p + 1, len - 1, true);
		break;
	case 'c':
	case 's':
		cmd_resume(g, p + 1, p[0] == 's', false);
		break;
	case 'C':
	case 'S':
		cmd_resume(g, p + 1, p[0] == 'S', true);
		break;
	case 'Z':
	case 'z':
		cmd_breakpoint(g, p + 1, p[0] == 'Z');
		break;
	case 'H':
		cmd_set_thread(g, p + 1);
		break;
	case 'T': {
		/* A thread is alive while its vCPU exists: all of them, always. */
		const char *args = p + 1;
		uint32_t thread;
		unsigned vcpu;
		reply(g, parse_hex(&args, &thread) && !*args && thread_vcpu(g, thread, &vcpu) ? "OK"
											: "E01");
		break;
	}
	case 'D':
		reply(g, "OK");
		detach(g);
		break;
	case 'k':
		/* As QEMU's stub: kill ends the VMM. No reply is expected. */
		board_request_exit(board, 0);
		break;
	case 'q':
	case 'Q':
		cmd_query(g, p);
		break;
	case 'v':
		if (!strcmp(p, "vCont?"))
			reply(g, "vCont;c;C;s;S");
		else if (!strncmp(p, "vCont;", 6))
			cmd_vcont(g, p + 5);
		else
			reply(g, "");   /* vMustReplyEmpty and the rest */
		break;
	default:
		reply(g, "");
		break;
	}
}

/* --- the queue --- */

static void queue(struct gdbstub *g, enum item_kind kind, const char *data, size_t len)
{
	struct item *it = malloc(sizeof(*it) + len + 1);
	if (!it)
		return;
	it->next = NULL;
	it->kind = kind;
	it->len = len;
	if (len)
		memcpy(it->data, data, len);
	it->data[len] = '\0';
	pthread_mutex_lock(&g->lock);
	if (g->tail)
		g->tail->next = it;
	else
		g->head = it;
	g->tail = it;
	atomic_store(&g->pending, true);
	pthread_mutex_unlock(&g->lock);
	board_wake(g->board);
}

static void on_connected(void *opaque)
{
	queue(opaque, ITEM_CONNECTED, NULL, 0);
}

static void on_packet(void *opaque, const char *data, size_t len)
{
	queue(opaque, ITEM_PACKET, data, len);
}

static void on_interrupt(void *opaque)
{
	queue(opaque, ITEM_INTERRUPT, NULL, 0);
}

static void on_disconnected(void *opaque)
{
	queue(opaque, ITEM_DISCONNECTED, NULL, 0);
}

/* Any thread: packets (or a connection, a Ctrl-C) wait to be handled:
 * the guest stops at the next poll. */
static enum board_want gdbstub_wants(void *opaque)
{
	struct gdbstub *g = opaque;
	return atomic_load(&g->pending) ? BOARD_WANT_STOP : BOARD_WANT_NOTHING;
}

bool gdbstub_attached(const struct gdbstub *g)
{
	return g && g->attached;
}

/* Guest stopped: reports a breakpoint or a finished step the run loop
 * stopped for, then handles what is queued. */
static bool gdbstub_run_stopped(void *opaque)
{
	struct gdbstub *g = opaque;
	/* The vCPU that stopped for a breakpoint or a step is the one whose
	 * turn it was (the run loop ends no turn over a debug event). */
	unsigned at = board_vcpu_current(g->board);
	enum debug_event event = board_vcpu_take_debug_event(g->board, at);
	if (event != DEBUG_EVENT_NONE)
		stopped(g, at, GDB_SIGTRAP, event == DEBUG_EVENT_BREAK);
	for (;;) {
		pthread_mutex_lock(&g->lock);
		struct item *it = g->head;
		if (it) {
			g->head = it->next;
			if (!g->head)
				g->tail = NULL;
		} else {
			atomic_store(&g->pending, false);
		}
		pthread_mutex_unlock(&g->lock);
		if (!it)
			return false;
		switch (it->kind) {
		case ITEM_CONNECTED:
			/* gdb expects a stopped target to attach to. */
			g->attached = true;
			g->running = false;
			g->phys_mode = false;   /* a new gdb starts linear */
			g->stop_vcpu = g->g_vcpu = g->c_vcpu = board_vcpu_current(g->board);
			g->last_signal = GDB_SIGTRAP;
			board_pause(g->board, BOARD_HOLD_GDB);
			break;
		case ITEM_PACKET:
			if (it->len)
				run_packet(g, it->data, it->len);
			else
				reply(g, "");
			break;
		case ITEM_INTERRUPT:
			if (g->running)
				stopped(g, board_vcpu_current(g->board), GDB_SIGINT, false);
			break;
		case ITEM_DISCONNECTED:
			if (g->attached)
				detach(g);
			g->attached = false;
			break;
		}
		free(it);
	}
}

/* A halted guest waits for a connected gdb, which may stop it (Ctrl-C)
 * to look, rather than being stuck. */
static void gdbstub_halt(void *opaque, uint64_t guest_ns, struct board_halt *h)
{
	(void)guest_ns;
	if (gdbstub_attached(opaque))
		h->wakes |= BOARD_WAKE_STOP;
}

/* The run is over: a connected gdb hears that the program exited. */
static void gdbstub_exited(void *opaque, int status)
{
	struct gdbstub *g = opaque;
	char buf[8];
	if (!g->attached)
		return;
	snprintf(buf, sizeof(buf), "W%02x", (unsigned)status & 0xff);
	reply(g, buf);
}

static const struct board_frontend_ops gdbstub_ops = {
	.wants = gdbstub_wants,
	.halt = gdbstub_halt,
	.run_stopped = gdbstub_run_stopped,
	.exited = gdbstub_exited,
};

int gdbstub_open(struct gdbstub **out, struct board *board, const char *host, uint16_t port,
		 char *err, size_t err_len)
{
	struct gdbstub *g = calloc(1, sizeof(*g));
	*out = NULL;
	if (!g) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	g->board = board;
	g->last_signal = GDB_SIGTRAP;
	pthread_mutex_init(&g->lock, NULL);
	const struct gdb_socket_ops ops = {
		.connected = on_connected,
		.packet = on_packet,
		.interrupt = on_interrupt,
		.disconnected = on_disconnected,
		.opaque = g,
	};
	int ret = gdb_socket_open(&g->sock, host, port, &ops, err, err_len);
	if (ret) {
		pthread_mutex_destroy(&g->lock);
		free(g);
		return ret;
	}
	ret = board_add_frontend(board, &gdbstub_ops, g);
	if (ret) {
		snprintf(err, err_len, "too many front ends for the machine");
		gdbstub_close(g);
		return ret;
	}
	g->registered = true;
	*out = g;
	return 0;
}

void gdbstub_close(struct gdbstub *g)
{
	if (!g)
		return;
	if (g->registered)
		board_remove_frontend(g->board, g);
	gdb_socket_close(g->sock);
	while (g->head) {
		struct item *it = g->head;
		g->head = it->next;
		free(it);
	}
	pthread_mutex_destroy(&g->lock);
	free(g);
}
