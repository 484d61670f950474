/* Host faults in translated code: SIGSEGV inside a window (a hidden
 * shadow fault, filled on the spot; a write to a traced page; an access
 * outside RAM), the poll guard's fault (attention), the null guard's
 * (an access through an unusable FS or GS), SIGFPE (#DE, #MF,
 * #XM), SIGILL (#UD) and the host's #GP. The handler takes the guest's
 * registers from the signal frame at the guest instruction's boundary,
 * notes what happened in cpu->fault and leaves through btvm_fault_leave;
 * the run loop then turns that into the guest event
 * (cpu_deliver_host_fault). And attention requests, which must reach the
 * copy of the poll pointer translated code keeps in r9: from the vCPU
 * thread's signal handlers in the context they interrupted, from other
 * threads through HOST_ATTENTION_SIGNAL. */
#define _GNU_SOURCE
#include "cpu/cpu.h"
#include "cpu/profile.h"
#include "cpu/run_internal.h"

#include <errno.h>
#include <stdatomic.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "cache/tcache.h"
#include "host/thread.h"
#include "mmu/shadow.h"
#include "mmu/window.h"

/* The vCPU whose translated code runs on this thread, for the handler:
 * signal handlers take no argument. Per thread, so each vCPU thread has
 * its own; process-wide is only the handler itself. */
static _Thread_local struct cpu *current_cpu;

/* This thread's id, looked up once (gettid is a system call, and devices
 * on the vCPU thread ask for attention often). */
static _Thread_local int this_tid;

HOST_NO_TSAN static int thread_id(void)
{
	if (!this_tid)
		this_tid = (int)gettid();
	return this_tid;
}

/* A board timer signal that found no vCPU bound (vCPUs taking turns:
 * between two runs), for the next one bound: it may be the turn's end,
 * and the vCPU the signal names may not run again for a while. */
static _Thread_local volatile sig_atomic_t timer_unbound;

static void note_request(struct cpu *cpu);

void cpu_bind_thread(struct cpu *cpu)
{
	current_cpu = cpu;
	if (!cpu)
		return;
	__atomic_store_n(&cpu->tid, thread_id(), __ATOMIC_RELAXED);
	/* After current_cpu: a signal from here on finds cpu itself. */
	atomic_signal_fence(memory_order_seq_cst);
	if (timer_unbound) {
		timer_unbound = 0;
		note_request(cpu);
	}
}

struct cpu *cpu_thread_bound(void)
{
	return current_cpu;
}

/* The doors (entry.S): from btvm_doors_begin to btvm_doors_end. */
extern const uint8_t btvm_doors_begin[], btvm_doors_end[];

/* Whether a context of the vCPU thread at rip keeps cpu->poll_ptr's copy
 * in r9: translated code, or a door (which reloads it on the way in and
 * uses it for nothing else). Monitor C code uses r9 as it likes. */
HOST_NO_TSAN static bool rip_polls_r9(const struct cpu *cpu, uintptr_t rip)
{
	return rip - (uintptr_t)cpu->tc->code < cpu->tc->code_size ||
	       rip - (uintptr_t)btvm_doors_begin < (uintptr_t)(btvm_doors_end - btvm_doors_begin);
}

/* From another thread: the vCPU thread's handler must see the request in
 * the context it interrupts. rt_tgsigqueueinfo carries the cpu, as the
 * board's timer does (async-signal-safe: one system call). */
HOST_NO_TSAN static void kick_vcpu_thread(struct cpu *cpu)
{
	int tid = __atomic_load_n(&cpu->tid, __ATOMIC_RELAXED);
	if (!tid)
		return;   /* not running yet: cpu_run polls before the first block */
	/* An initializer, not memset: TSan intercepts memset, and this runs
	 * in a handler that may have interrupted the TSan runtime. */
	siginfo_t si = { .si_signo = HOST_ATTENTION_SIGNAL, .si_code = SI_QUEUE };
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_ptr = cpu;
	if (syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, HOST_ATTENTION_SIGNAL, &si) == 0)
		__atomic_fetch_add(&cpu->kicks, 1, __ATOMIC_RELAXED);
}

uint64_t cpu_kicks(const struct cpu *cpu)
{
	return __atomic_load_n(&cpu->kicks, __ATOMIC_RELAXED);
}

/* Relaxed atomics: plain moves on x86, which the vCPU's thread may
 * read while another thread makes a request (cpu_take_attention's
 * comment says why any interleaving will do). */
HOST_NO_TSAN static void note_request(struct cpu *cpu)
{
	__atomic_store_n(&cpu->attention, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&cpu->poll_ptr, (uint64_t)(uintptr_t)cpu->poll_guard, __ATOMIC_RELAXED);
}

/* Whether this is cpu's thread: the one that last ran it, inside cpu_run
 * or not (the board's control loop, a snapshot between two runs), where a
 * request needs no signal. */
HOST_NO_TSAN static bool on_vcpu_thread(const struct cpu *cpu)
{
	return thread_id() == __atomic_load_n(&cpu->tid, __ATOMIC_RELAXED);
}

/* From another thread, no signal while the vCPU thread waits in HLT (the
 * platform's wait, which such a request ends another way): the one
 * interrupted ppoll cost a signal delivery and a restart on every disk
 * completion. The request's stores come before the load of waiting, and
 * halt_wait's clearing of waiting before its next look at attention
 * (both sequentially consistent): either this sees waiting clear and
 * signals, or the vCPU thread sees the request. */
void cpu_request_attention(struct cpu *cpu)
{
	note_request(cpu);
	if (on_vcpu_thread(cpu))
		return;
	atomic_thread_fence(memory_order_seq_cst);
	if (!atomic_load(&cpu->waiting)) {
		/* With vCPUs on threads of their own, translated code loads
		 * poll_ptr at every poll (emit_attention_poll: every block is
		 * translated after the cache turned concurrent, as the threads
		 * start) and the monitor looks at attention before it enters
		 * it again: no signal. */
		if (!cpu->tc || !__atomic_load_n(&cpu->tc->concurrent, __ATOMIC_ACQUIRE))
			kick_vcpu_thread(cpu);
	} else if (cpu->wake_fd >= 0) {
		/* Its HLT sleep, on an eventfd of its own (several vCPUs). */
		uint64_t one = 1;
		if (write(cpu->wake_fd, &one, sizeof(one)) < 0) {
			/* Saturated: a wake-up is pending anyway. */
		}
	}
}

/* The thread is at g's RIP with attention asked for: a loop inside one
 * block that skips its poll (tcache_chain) must poll again. With several
 * vCPUs no loop skips it (other vCPUs' requests come without a signal). */
bool cpu_loops_may_skip_poll(void)
{
	return !HOST_TSAN;
}

HOST_NO_TSAN static void loop_poll(struct cpu *cpu, const greg_t *g)
{
	struct tcache *tc = cpu->tc;
	if (HOST_TSAN)
		return;
	uintptr_t rip = (uintptr_t)g[REG_RIP];
	if (tc && !__atomic_load_n(&tc->concurrent, __ATOMIC_RELAXED) && rip - (uintptr_t)tc->code < tc->code_size)
		tcache_loop_poll(tc, (const void *)rip);
}

HOST_NO_TSAN void cpu_request_attention_signal(struct cpu *cpu, void *uctx)
{
	note_request(cpu);
	if (!on_vcpu_thread(cpu)) {
		kick_vcpu_thread(cpu);
		return;
	}
	/* Translated code runs only inside cpu_run, which binds the cpu. */
	greg_t *g = ((ucontext_t *)uctx)->uc_mcontext.gregs;
	if (current_cpu == cpu && rip_polls_r9(cpu, (uintptr_t)g[REG_RIP])) {
		g[REG_R9] = (greg_t)cpu->poll_ptr;
		loop_poll(cpu, g);
	}
}

/* HOST_ATTENTION_SIGNAL: the board's timer (SI_TIMER) or another thread's
 * request (SI_QUEUE from this process), each naming the vCPU in its
 * value. The same signal from elsewhere (kill, alarm()) names none and is
 * ignored. */
HOST_NO_TSAN static void on_attention(int sig, siginfo_t *si, void *uctx)
{
	(void)sig;
	bool ours = si->si_code == SI_TIMER || (si->si_code == SI_QUEUE && si->si_pid == getpid());
	if (!ours || !si->si_value.sival_ptr)
		return;
	/* The board's timer names the vCPU that polls the devices; while
	 * vCPUs take turns on this thread, that is the one running here. */
	struct cpu *cpu = si->si_value.sival_ptr;
	if (si->si_code == SI_TIMER && !current_cpu)
		timer_unbound = 1;
	if (si->si_code == SI_TIMER && current_cpu && current_cpu != cpu) {
		note_request(cpu);
		cpu = current_cpu;
	}
	cpu_request_attention_signal(cpu, uctx);
}

/* A fault inside the window: a hidden fault is filled right here and the
 * instruction runs again; anything else leaves translated code. */
static enum host_fault_kind window_fault(struct cpu *cpu, const siginfo_t *si, const greg_t *g)
{
	uintptr_t a = (uintptr_t)si->si_addr, base = (uintptr_t)cpu->win->base;
	if (!window_contains(cpu->win, si->si_addr) && shadow_owns_address(cpu->sh, si->si_addr))
		return FAULT_WINDOW_MOVED;
	if (a - base >= WINDOW_SIZE)
		return FAULT_OUTSIDE;   /* the guard above 4 GiB: an access that wrapped */
	cpu->fault.va = (uint32_t)(a - base);
	struct host_fault *f = &cpu->fault;
	f->write = (g[REG_ERR] & 2) != 0;
	return cpu_fault_kind(shadow_fault(cpu->sh, &cpu->s, f->va, f->write, &f->gpa, &f->error));
}

enum host_fault_kind cpu_fault_kind(enum shadow_fault_kind k)
{
	switch (k) {
	case SHADOW_FILLED:
		return FAULT_NONE;
	case SHADOW_PAGE_FAULT:
		return FAULT_PAGE;
	case SHADOW_TRACED:
		return FAULT_TRACED;
	case SHADOW_MMIO:
		return FAULT_MMIO;
	case SHADOW_SLOT:
		return FAULT_SLOT;
	case SHADOW_CHURN:
		return FAULT_CHURN;
	default:
		return FAULT_NO_ROOM;
	}
}

/* A guest instruction on AH..DH beside a register that needs REX runs
 * between two XCHGs of the high byte with a low one; a fault between
 * them must not leave the bytes swapped in the guest's registers. */
static void unswap_high_bytes(struct cpu *cpu, const uint8_t *from, const uint8_t *rip)
{
	while (from < rip) {
		ZydisDecodedInstruction in;
		ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
		ZyanUSize len = (ZyanUSize)(rip - from);
		if (ZYAN_FAILED(ZydisDecoderDecodeFull(&cpu->host_decoder, from, len, &in, ops)))
			return;
		if (in.mnemonic == ZYDIS_MNEMONIC_XCHG && ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    ZydisRegisterGetClass(ops[0].reg.value) == ZYDIS_REGCLASS_GPR8 &&
		    ZydisRegisterGetClass(ops[1].reg.value) == ZYDIS_REGCLASS_GPR8) {
			/* Ids 0-3 are AL..BL, 4-7 AH..BH without REX. */
			unsigned a = (unsigned)ZydisRegisterGetId(ops[0].reg.value);
			unsigned b = (unsigned)ZydisRegisterGetId(ops[1].reg.value);
			uint32_t *ra = &cpu->regs[a & 3], *rb = &cpu->regs[b & 3];
			unsigned sa = a >= 4 ? 8 : 0, sb = b >= 4 ? 8 : 0;
			uint32_t va = (*ra >> sa) & 0xff, vb = (*rb >> sb) & 0xff;
			*ra = (*ra & ~(0xffu << sa)) | (vb << sa);
			*rb = (*rb & ~(0xffu << sb)) | (va << sb);
		}
		from += in.length;
	}
}

/* A fast REP STOS or MOVS of translate_string.c at rip (REP, then the
 * opcode, byte or doubleword, or word with the operand-size prefix
 * first): 1 for STOS, 2 for MOVS, else 0. Translated code has no other
 * host string instruction (the guest's are all translated, never copied;
 * tests/unit/isa_check.c holds it to that). */
static int fast_string_at(const uint8_t *rip)
{
	const uint8_t *p = rip[0] == 0x66 ? rip + 1 : rip;
	if (p[0] != 0xf3)
		return 0;
	return p[1] == 0xaa || p[1] == 0xab ? 1 : p[1] == 0xa4 || p[1] == 0xa5 ? 2 : 0;
}

static void on_fault(int sig, siginfo_t *si, void *uctx)
{
	ucontext_t *uc = uctx;
	greg_t *g = uc->uc_mcontext.gregs;
	struct cpu *cpu = current_cpu;
	uintptr_t rip = (uintptr_t)g[REG_RIP];
	if (!cpu || rip - (uintptr_t)cpu->tc->code >= cpu->tc->code_size) {
		/* Not translated code: a monitor bug. Die with the default action. */
		signal(sig, SIG_DFL);
		return;
	}
	/* Translated code holds no lock: the cache and the shadow are the
	 * other vCPUs' too (none with one vCPU). */
	cpu_lock(cpu);
	struct tblock *tb = tcache_find_host(cpu->tc, (void *)rip);
	if (!tb) {
		cpu_unlock(cpu);
		signal(sig, SIG_DFL);
		return;
	}
	/* For the host-time split (profile.h): the sampler may land here. */
	uint8_t phase = cpu->phase;
	cpu->phase = PHASE_FAULT;
	enum host_fault_kind kind;
	if (sig == SIGILL) {
		/* The host has no such instruction: neither has the guest's CPU. */
		kind = FAULT_INVALID;
	} else if (sig == SIGFPE) {
		/* The host's own vector tells #DE, #MF and #XM apart. */
		greg_t trapno = g[REG_TRAPNO];
		kind = trapno == 16 ? FAULT_X87 : trapno == 19 ? FAULT_SIMD : FAULT_DIVIDE;
	} else if (g[REG_TRAPNO] == 13) {
		/* The host's #GP (a misaligned SSE access, reserved MXCSR bits):
		 * the guest's processor raises #GP(0) for the same instruction. */
		kind = FAULT_PROTECTION;
	} else if ((uintptr_t)si->si_addr - (uintptr_t)cpu->poll_guard < 4096) {
		/* A block entry's poll, or a REP iteration's (translate_string.c):
		 * attention was asked for. The registers are the guest's as of
		 * that boundary, EIP the instruction's. */
		kind = FAULT_ATTENTION;
	} else if ((uintptr_t)si->si_addr - (uintptr_t)cpu->null_guard < 4096) {
		/* The guard before an access through FS or GS (seg_guard): the
		 * register is unusable, and nothing of the instruction ran. */
		kind = FAULT_NULL_SEGMENT;
	} else {
		kind = window_fault(cpu, si, g);
		if (kind == FAULT_NONE) {
			/* Back into the block: a request made meanwhile (no
			 * signal reached this context) must still be seen. */
			if (__atomic_load_n(&cpu->attention, __ATOMIC_RELAXED))
				loop_poll(cpu, g);
			cpu->phase = phase;
			cpu_unlock(cpu);
			return;   /* hidden fault filled: run the instruction again */
		}
	}
	uint32_t off = (uint32_t)((uint8_t *)g[REG_RIP] - tb->host);
	unsigned i = 0;
	while (i + 1 < tb->ninsns && tb->map_host[i + 1] <= off)
		i++;
	/* In the entry check of a self-checking block (its code page was
	 * dropped meanwhile, or the window moved): at the block's start. */
	bool in_check = tb->selfcheck_off && off >= tb->selfcheck_off;
	if (in_check)
		i = 0;
	cpu->regs[REG_EAX] = (uint32_t)g[REG_RAX];
	cpu->regs[REG_ECX] = (uint32_t)g[in_check ? REG_R8 : REG_RCX];
	int fast = fast_string_at((const uint8_t *)g[REG_RIP]);
	if (fast)
		cpu->regs[REG_ECX] += (uint32_t)g[REG_R11];   /* the passes still to come */
	cpu->regs[REG_EDX] = (uint32_t)g[REG_RDX];
	cpu->regs[REG_EBX] = (uint32_t)g[REG_RBX];
	cpu->regs[REG_ESP] = (uint32_t)g[REG_R12] + (uint32_t)(tb->map_esp ? tb->map_esp[i] : 0);
	cpu->regs[REG_EBP] = (uint32_t)g[REG_RBP];
	cpu->regs[REG_ESI] = (uint32_t)g[REG_RSI];
	cpu->regs[REG_EDI] = (uint32_t)g[REG_RDI];
	/* A fast MOVS keeps the guest's flags on the host stack meanwhile. */
	cpu->rflags = fast == 2 ? *(const uint64_t *)g[REG_RSP] : (uint64_t)g[REG_EFL];
	cpu->s.eip = tb->eip + tb->map_guest[i];
	/* The look back decodes the instruction's host code up to the fault
	 * (30-60 instructions for a fast REP STOS or MOVS): only blocks that
	 * swap byte registers at all need it. */
	if (tb->byte_swaps)
		unswap_high_bytes(cpu, tb->host + tb->map_host[i], (const uint8_t *)g[REG_RIP]);
	/* A REP loop's poll (past the block entry's) stops it between
	 * iterations: an interrupt taken there shows RF (SDM 17.3.1.1). */
	if (kind == FAULT_ATTENTION && off >= tb->poll_len)
		cpu->s.eflags |= EFLAGS_RF;
	cpu->fault.kind = kind;
	cpu->fault.host_rip = (uintptr_t)g[REG_RIP];
	cpu->exit = CPU_EXIT_INDIRECT;   /* not read: cpu->fault says why */
	cpu->stats.exits[EXIT_FAULT]++;
	g[REG_RIP] = (greg_t)(uintptr_t)btvm_fault_leave;
	g[REG_R15] = (greg_t)(uintptr_t)cpu;
	cpu->phase = phase;
	cpu_unlock(cpu);   /* the run loop takes it again (cpu_leave_guest) */
}

/* glibc's sigaction under its other exported name, which the TSan
 * runtime does not intercept. Through the intercepted one, TSan's own
 * handler runs first and defers an asynchronous signal until the thread
 * next enters instrumented code, passing a copy of the context: chained
 * translated code that makes no callout (a guest spinning on a timer
 * tick) then never sees the attention it was asked for, and r9 is
 * patched in the copy. Installed past TSan, the handler runs at once
 * on the real context, as in every other build; it and what it calls
 * are HOST_NO_TSAN. */
extern int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);

int cpu_install_fault_handlers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	/* An attention request waits until the handler has returned into
	 * translated code (or left it), whose r9 it must find. */
	host_handler_mask(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, NULL) < 0 || sigaction(SIGBUS, &sa, NULL) < 0 ||
	    sigaction(SIGFPE, &sa, NULL) < 0 || sigaction(SIGILL, &sa, NULL) < 0)
		return -errno;
	sa.sa_sigaction = on_attention;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	/* A profile sample (--stats' time split, --profile) waits until the
	 * request has returned to what it interrupted: both pending at once
	 * (a loaded host gives the thread its CPU back with the board's
	 * timer signal and a CPU-clock sample due), the lower-numbered
	 * attention signal is delivered first, and the sample on top of it
	 * then saw this handler's PC and counted the monitor's time instead
	 * of the translated code's (a compute guest beside the test suite:
	 * 2-7% of its time in the monitor, none since). */
	sigaddset(&sa.sa_mask, SIGPROF);
	if ((HOST_TSAN ? __sigaction : sigaction)(HOST_ATTENTION_SIGNAL, &sa, NULL) < 0)
		return -errno;
	return 0;
}

/* The top page of the linear space: a #PF there may be an access on its
 * way past 4 GiB, whose limit fault the processor raises first. */
#define WRAP_PAGE 0xfffff000u

/* An access of the instruction at EIP runs past 4 GiB, beyond its flat
 * segment's limit (cpu_wrap_fault): raises #SS(0) or #GP(0) and says
 * so. With from non-zero (a #PF's address), only when that access is
 * the one that faulted there. */
static bool wrap_fault(struct cpu *cpu, uint32_t from)
{
	unsigned vector;
	uint32_t start;
	if (!cpu_wrap_fault(cpu, &vector, &start) || (from && from < start))
		return false;
	cpu->stats.wrap_faults++;
	cpu_deliver(cpu, vector, true, 0, false);
	return true;
}

/* Turns a host fault into its guest event; true only when it was a write
 * to a code page that then completed (single-stepping must trap after it). */
bool cpu_deliver_host_fault(struct cpu *cpu, struct translator *t, enum host_fault_kind k)
{
	switch (k) {
	case FAULT_TRACED:
		return cpu_handle_trace(cpu, t);
	case FAULT_PAGE:
		if (cpu->fault.va >= WRAP_PAGE && wrap_fault(cpu, cpu->fault.va))
			break;
		cpu->s.cr2 = cpu->fault.va;
		cpu_deliver(cpu, EXC_PF, true, cpu->fault.error, false);
		break;
	case FAULT_MMIO:
		cpu_handle_mmio(cpu);
		break;
	case FAULT_SLOT:
		return cpu_handle_slot(cpu, t);
	case FAULT_CHURN:
		return cpu_handle_churn(cpu, t);
	case FAULT_SPLIT_LOCK:
		return cpu_handle_split_lock(cpu, t);
	case FAULT_NO_ROOM:
		if (!shadow_make_room(cpu->sh))
			cpu->fatal = "the host refuses to map guest memory (mmap failed with nothing left "
				     "to unmap)";
		break;
	case FAULT_ATTENTION:
		cpu->stats.exits[EXIT_ATTENTION]++;
		break;
	case FAULT_WINDOW_MOVED:
		break;
	case FAULT_DIVIDE:
		cpu_deliver(cpu, EXC_DE, false, 0, false);
		break;
	case FAULT_X87:
		cpu_deliver(cpu, EXC_MF, false, 0, false);
		break;
	case FAULT_INVALID:
		cpu_deliver(cpu, EXC_UD, false, 0, false);
		break;
	case FAULT_PROTECTION:
	case FAULT_NULL_SEGMENT:
		cpu_deliver(cpu, EXC_GP, true, 0, false);
		break;
	case FAULT_SIMD:
		/* Without CR4.OSXMMEXCPT the guest said it cannot take #XM. */
		cpu_deliver(cpu, (cpu->s.cr4 & CR4_OSXMMEXCPT) ? EXC_XM : EXC_UD, false, 0, false);
		break;
	default:
		/* An access running past 4 GiB (into the window's guard). */
		if (!wrap_fault(cpu, 0)) {
			/* No access of the instruction, decoded with its
			 * registers, runs past: nothing names SS, #GP(0). */
			cpu->stats.wrap_faults++;
			cpu_deliver(cpu, EXC_GP, true, 0, false);
		}
		break;
	}
	return false;
}
