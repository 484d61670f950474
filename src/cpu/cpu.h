/* The vCPU at run time: the block of state translated code reaches through
 * R15 (fixed layout, see translator/cpu_layout.h), the architectural state,
 * and the run loop that enters translated code and handles each exit. */
#ifndef BTVM_CPU_CPU_H
#define BTVM_CPU_CPU_H

#include <stdbool.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>

#include "cache/ibl.h"
#include "isa/seg_reg.h"
#include "isa/vcpu.h"
#include "translator/cpu_layout.h"

#include <Zydis/Zydis.h>

struct board;
struct tcache;

/* What the vCPU needs from the machine around it, all called on the vCPU's
 * thread: bring devices up to date after cpu->attention was raised, the
 * interrupt controller's INTR line and INTA cycle, and a sleep for HLT. */
#define CPU_LOCK_MAX_VCPUS 8u

struct cpu;
struct cpu_platform {
	void (*poll)(void *opaque);
	bool (*intr)(void *opaque);
	int (*inta)(void *opaque);
	/* HLT with IF set and nothing pending: sleeps until an interrupt may
	 * be due. false if no device can ever raise one (the guest is stuck).
	 * Meanwhile another thread's attention request sends no signal (it
	 * could only cut the sleep short): whatever the platform sleeps on,
	 * its requesters must end that sleep themselves. */
	bool (*wait)(void *opaque);
	/* Whether an NMI may still come while IF is clear (a source routed
	 * to the NMI): HLT then waits for it. May be NULL (none can). */
	bool (*nmi_possible)(void *opaque);
	/* Model-specific registers that belong to the board's devices (the
	 * APIC base): 0 handled, -1 #GP, 1 not the board's. May be NULL. */
	int (*msr)(void *opaque, uint32_t index, bool write, uint64_t *value);
	/* CPUID.1:EDX.APIC, which follows IA32_APIC_BASE's enable bit. */
	bool (*apic_enabled)(void *opaque);
	/* The guest TSC's rate in Hz, for CPUID leaves 0x15 and 0x16. May be
	 * NULL (those leaves answer zeros). */
	uint64_t (*tsc_hz)(void *opaque);
	/* PAUSE, with other CPUs that take turns with this one (translated
	 * as a callout then): may end its turn (stop). NULL: PAUSE is copied. */
	void (*pause)(void *opaque);
	/* Where this CPU is among the machine's, for CPUID (leaves 1, 4 and
	 * 0xB): its APIC ID and how many CPUs there are (0 taken as 1). */
	unsigned apic_id, ncpus;
	/* With the machine lock (cpu_lock.c): this vCPU took the lock after
	 * another vCPU had it, so the devices' "this CPU" (the LAPIC page)
	 * is now this one. May be NULL. */
	void (*acquired)(void *opaque);
	void *opaque;
};

/* Several vCPUs, each on a host thread of its own (cpu_lock.c): one lock
 * for everything outside translated code (the devices, the shadow MMU,
 * the translation cache), held by a vCPU thread except while it runs
 * translated code or sleeps in HLT. Callouts, lookup misses and hidden
 * faults take it from translated code and give it back on the way in.
 * An exclusive section (a cache flush, the control point) waits until
 * no other vCPU is inside translated code: those outside wait at their
 * run loop's top (cpu_safe_point) until it ends. */
struct cpu_lock {
	pthread_mutex_t mutex;
	pthread_cond_t changed;     /* a vCPU left translated code, or an exclusive section ended */
	struct cpu *owner;          /* the last vCPU to hold it: the shadow's current window is its */
	struct cpu *exclusive;      /* the vCPU in an exclusive section, or NULL */
	unsigned exclusive_depth;   /* its sections inside one another */
	struct cpu *cpus[CPU_LOCK_MAX_VCPUS];
	unsigned ncpus;
	bool spin;                  /* a waiter tries a while before it sleeps (cpu_lock_init) */
};
struct window;
struct shadow;
struct exit_desc;

/* A guest linear range as its pieces in physical memory (one or two). */
struct guest_span {
	uint64_t gpa[2];
	unsigned len[2];
	unsigned n;
};

/* Why translated code stopped running; counted per reason for --stats. */
enum exit_reason {
	EXIT_BRANCH,     /* a direct branch not chained yet */
	EXIT_INDIRECT,   /* an indirect branch the lookup table missed */
	EXIT_CALLOUT,    /* a callout asked to stop (HLT, mode change, fault) */
	EXIT_ATTENTION,  /* an interrupt or a request from outside */
	EXIT_FAULT,      /* a host fault turned into a guest event */
	EXIT_REASON_COUNT
};

/* The debugger's (gdb stub's) hold on the run loop. Breakpoints are guest
 * linear addresses acted on in the translation, never written into guest
 * memory: a block ends before an instruction at one, and a block starting
 * at one is an exit back here (EXIT_KIND_BREAK), so chained and looked-up
 * branches stop there too. With none set, translations are exactly what
 * they are without a debugger. */
#define CPU_MAX_BREAKPOINTS 64u
enum debug_event {
	DEBUG_EVENT_NONE,
	DEBUG_EVENT_BREAK,   /* EIP reached a breakpoint; its instruction has not run */
	DEBUG_EVENT_STEP,    /* the single step asked for is done */
};
struct cpu_debug {
	uint32_t bp[CPU_MAX_BREAKPOINTS];
	unsigned nbp;
	bool step;              /* run one instruction (or the event it raises), then stop */
	/* Resuming at a breakpoint runs the instruction there once, as a
	 * one-instruction block that ignores breakpoints, before any
	 * interrupt (hardware's RF does the same for instruction breakpoints). */
	bool skip;
	uint32_t skip_eip;
	enum debug_event event; /* why cpu_run stopped for the debugger */
};

/* Why the last exit through the host fault handler happened
 * (host_fault.c), for the run loop to act on. */
enum host_fault_kind {
	FAULT_NONE, FAULT_TRACED, FAULT_PAGE, FAULT_MMIO, FAULT_NO_ROOM, FAULT_DIVIDE, FAULT_X87,
	FAULT_SIMD, FAULT_INVALID, FAULT_PROTECTION, FAULT_OUTSIDE, FAULT_ATTENTION, FAULT_NULL_SEGMENT,
	/* An access through a window another vCPU's flush took from this
	 * one meanwhile: nothing ran, the run loop starts it again. */
	FAULT_WINDOW_MOVED,
	/* An access to a temporary mapping slot (shadow.h's SHADOW_SLOT). */
	FAULT_SLOT,
	/* An access at CPL 3 to a churned user page (SHADOW_CHURN). */
	FAULT_CHURN,
	/* Not the host's: a LOCKed access across a cache line found other
	 * vCPUs running (callout_mem.c). Nothing of it ran. */
	FAULT_SPLIT_LOCK
};
struct host_fault {
	enum host_fault_kind kind;
	uint64_t gpa;      /* TRACED, MMIO */
	uint32_t va;       /* linear address of a window fault (CR2 for PAGE) */
	uint32_t error;    /* #PF error code */
	bool write;        /* SLOT, CHURN: the access writes */
	uintptr_t host_rip;
};

/* Faults of one kind per instruction (by its physical address, hashed):
 * page-table writes, or ring-3 faults on churned or not-present user
 * pages, until it is retranslated through the memory callouts
 * (trace_mmio.c). */
#define CPU_FAULT_COUNTS 256u
/* The monitor's TLB (cpu->tlb): direct-mapped by linear page and access. */
#define CPU_TLB_SLOTS 32u
#define CPU_TLB_VALID 0x100u
#define CPU_TLB_USER 1u
#define CPU_TLB_LARGE 2u   /* from a 4 MiB (or PAE 2 MiB) page */
struct insn_fault_count {
	uint64_t key;      /* the instruction's code address (run.c) + 1; 0 free */
	uint32_t n;
};

struct cpu_stats {
	uint64_t exits[EXIT_REASON_COUNT];
	uint64_t blocks_run;
	uint64_t callouts;
	uint64_t ibl_misses;
	uint64_t interrupts;
	uint64_t single_steps;
	uint64_t nmis;              /* NMIs delivered */
	uint64_t resets;
	uint64_t fetch_outside_ram;  /* code fetched where no RAM is: #UD */
	uint64_t wrap_faults;        /* accesses run past 4 GiB: #GP, #SS */
	uint64_t halts;
	uint64_t halt_sleeps;
	uint64_t halt_polls;        /* HLTs that spun a while first (a disk request in flight) */
	uint64_t halt_poll_wakes;   /* of them, ended by a request while spinning */
	uint64_t transfers_inline;  /* SYSENTER/SYSEXIT/INT/IRET that stayed in translated code */
	uint64_t ibl_fast_fills;    /* lookup misses filled without leaving translated code */
	uint64_t ibl_reuses;        /* of them, with the host code the slot held under another tag */
	/* The machine lock (several vCPUs only): taken, found held by
	 * another vCPU (a wait), taken after another vCPU had it, and the
	 * exclusive sections this vCPU began. */
	uint64_t lock_acquires;
	uint64_t lock_waits;
	uint64_t lock_handoffs;
	uint64_t exclusive_sections;   /* every other vCPU kept out of translated code */
	uint64_t pause_yields;         /* spin-waits that gave the host CPU up (cpu_pause_yield) */
	uint64_t split_locks;          /* LOCKed accesses across a cache line, run on the buffer */
	uint64_t tlb_hits;             /* the monitor's accesses its TLB translated (guest_access.c) */
	uint64_t tlb_walks;            /* and those that walked the guest's tables */
};

/* What cpu->exit says when translated code came back through a door
 * (not a host fault): one of these codes, or else the address of the
 * struct exit_desc whose stub was taken (btvm_exit). btvm_ibl_miss in
 * entry.S stores CPU_EXIT_INDIRECT itself. */
enum cpu_exit_code {
	/* The lookup table missed an indirect branch (target in scratch[0]). */
	CPU_EXIT_INDIRECT = 0,
	CPU_EXIT_CALLOUT = 1,   /* a callout stopped, leaving EIP in cpu->s */
};
/* The exit stub cpu->exit names, or NULL for one of the codes. */
static inline const struct exit_desc *cpu_exit_desc(uint64_t exit)
{
	return exit == CPU_EXIT_INDIRECT || exit == CPU_EXIT_CALLOUT
		       ? NULL : (const struct exit_desc *)(uintptr_t)exit;
}

/* What translated code compares a segment load or VERW with. */
struct seg_cache_entry {
	uint32_t selector;
	uint32_t addr;
	uint64_t desc;
};
struct seg_load {
	struct seg_cache_entry key;
	struct segment seg;
};

/* A hot trace's path being recorded (cpu/trace_build.c): from head (at
 * code address gpa, in mode) the EIPs execution went on at, block after
 * block. expect is where the next block must start for the path to go on,
 * cur the block entered last (NULL once its branch exit was recorded). */
#define TRACE_MAX_PATH 16u
struct trace_rec {
	bool on;
	uint32_t head, mode, expect;
	/* The cache's generation at the start: a flush, an eviction or a
	 * restore since may have reused cur's slot (the recording is given
	 * up then). */
	uint64_t generation;
	uint64_t gpa;
	const struct tblock *cur;
	unsigned n;
	uint32_t path[TRACE_MAX_PATH];
};

struct cpu {
	/* --- translated code's view, fixed offsets (translator/cpu_layout.h) --- */
	uint32_t regs[REG_COUNT];
	uint64_t rflags;
	uint64_t host_rsp;
	uint64_t exit;            /* enum cpu_exit_code, or a struct exit_desc * */
	uint64_t exit_fn;
	uint64_t callout_fn;
	volatile uint32_t attention;   /* the run loop must poll: see cpu_request_attention() */
	uint8_t vif;
	/* The run loop found an interrupt pending but IF clear: an inline
	 * STI must call out (the interrupt comes after the next instruction).
	 * Set at each look; one raised since is asked for with attention. */
	uint8_t irq_held;
	uint8_t pad0[2];
	uint64_t scratch[4];
	uint32_t seg_base[SEG_COUNT];
	uint64_t ibl;
	uint64_t ibl_miss_fn;
	/* Every block entry loads through this pointer, kept in r9 by
	 * translated code (each door reloads it): it points at poll_ok
	 * normally and at the unmapped poll_guard page once attention is
	 * asked for, so the load faults and the fault handler leaves
	 * translated code at that block boundary. One load instead of a test
	 * and branch that would have to keep off the guest's live flags. */
	volatile uint64_t poll_ptr;
	/* Blocks on global pages (G with CR4.PGE) are entered in the table
	 * under this tag, shared by every address space, as a TLB keeps
	 * global translations across CR3 loads. */
	uint64_t ibl_global;
	/* The guest's TSC is the host's minus this: with a host TSC of
	 * constant rate that never stops (tsc_native), the host's counter;
	 * otherwise host nanoseconds (a 1 GHz TSC) and RDTSC a callout. */
	uint64_t tsc_offset;
	/* The last VERW at CPL 0 of a GDT selector that found it writable:
	 * the selector (CPU_SEG_CACHE_NONE: none), the descriptor's linear
	 * address and its bytes. Translated VERW of the same selector, the
	 * GDT still holding the same bytes, sets ZF (the kernel clears the
	 * CPU's buffers with it before every return to user mode). */
	struct seg_cache_entry verw_cache;
	/* Where a marked MOV store (CALLOUT_MEM_STORE) last found ordinary
	 * RAM: the linear page, in the slot its callout descriptor names
	 * (hint), or CPU_STORE_HINT_NONE. A store to the same page again
	 * goes straight through the window, as an unmarked one does: the
	 * window's protections still catch a traced table, code or MMIO
	 * there, so a stale hint costs a host fault, never a missed write;
	 * hints outlive a switch of address space for that reason (the
	 * kernel's pages are the same in every one).
	 * The kernel clears an exiting process's page tables with one such
	 * store, a callout per entry before: 1,600 a fork in lbench. */
	uint32_t store_hints[CPU_STORE_HINTS];
	/* Guest x87/MMX/SSE state while the monitor runs: its C code (and
	 * libc) may use these registers between exits. */
	uint8_t fxsave[512] __attribute__((aligned(16)));
	/* Indirect-branch table tag base per mode: the window's tag << 40 |
	 * mode << 32 (translated code adds the guest address). */
	uint64_t ibl_tags[IBL_MODES];
	/* The doors out of translated code save only XMM0-7 and MXCSR here,
	 * not the whole x87/SSE state: the monitor's C code leaves the x87
	 * registers alone and libc only clobbers vector registers. Whatever
	 * needs the whole state calls cpu_fpu_materialize(), which sets
	 * fpu_full, and the way back in then restores fxsave instead (entry.S). */
	uint8_t xmm_light[128] __attribute__((aligned(16)));
	uint32_t mxcsr_light;
	uint8_t fpu_full;
	uint8_t pad3[CPU_OFF_WIN_BASE - CPU_OFF_FPU_FULL - 1];
	/* The current window's base, what GS.base holds: a fast REP MOVS or
	 * STOS (translate_string.c) runs the host's own string instruction
	 * on RSI/RDI made window addresses, which no segment prefix reaches.
	 * Set with win by cpu_select_window. */
	uint64_t win_base;
	/* Its shadow entries (shadow_current_entries), also set with win:
	 * a fast REP MOVS keeps a pass short of the distance between source
	 * and destination only when their pages share a frame. */
	uint32_t *const *win_entries;
	/* What translated code reads FS's and GS's base through before each
	 * access through them (translate.c, guest_mem): &seg_base[SEG_FS]
	 * or [SEG_GS] while the register is usable, the unmapped null_guard
	 * page while a null selector left it unusable, so the load faults
	 * and the access becomes #GP(0) at its instruction, nothing of it
	 * done (host_fault.c). A load instead of a test and branch, which
	 * would have to keep off the guest's live flags; flat code that
	 * uses neither register pays nothing. sync_seg_bases keeps them
	 * with seg_base, and translated FS and GS loads set them too. */
	uint64_t seg_guard[2];
	/* That page (PROT_NONE, beside poll_guard), which translated FS and
	 * GS loads of a null selector put in seg_guard. */
	void *null_guard;
	/* With vCPUs on threads of their own: PAUSEs left until the vCPU
	 * gives its host CPU up a moment (cpu_pause_yield), as a VMM's
	 * PAUSE-loop exiting does; translated PAUSE counts it down. */
	uint32_t pause_budget;
	uint8_t pad4[CPU_OFF_IBL_GLOBAL_TAGS - CPU_OFF_PAUSE_BUDGET - 4];
	/* The global-page tag as a base per mode (ibl_global | mode << 32),
	 * for the lookup's probe under it. */
	uint64_t ibl_global_tags[IBL_MODES];
	/* Descriptor loads of ES, DS, FS and GS at CPL 0, two per register
	 * (the kernel switches FS between its per-CPU segment and the user's
	 * null or TLS selector at every entry and exit): what the load of
	 * that selector gave while the GDT held those bytes at that address
	 * (address 0: the null selector, which reads no descriptor). A
	 * translated MOV Sreg or POP Sreg of a cached selector whose GDT
	 * bytes are unchanged puts the cached segment in the register without
	 * a callout. The outcome depends on nothing else at CPL 0 in
	 * protected mode with the same GDTR (real-mode blocks are never
	 * flat, and real-mode loads read no descriptor): LGDT, a reset, a
	 * restore and an
	 * entry to CPL 1 or 2 (whose blocks are translated as CPL 0's) clear
	 * them. DS and ES hold only flat segments, so a hit never changes the
	 * block's mode (MODE_FLAT). */
	struct seg_load seg_loads[4][CPU_SEG_LOAD_WAYS];
	/* --- monitor's view --- */
	struct vcpu_state s;
	struct board *board;
	struct tcache *tc;
	struct window *win;       /* the current window (shadow_select) */
	struct shadow *sh;
	struct ibl_table ibl_table;  /* its address is also in ibl, for the lookup */
	uint32_t ibl_epoch;          /* the shadow's ibl_epoch the table was last cleared at */
	struct bus *bus;
	const struct cpu_platform *plat;  /* NULL: no interrupt sources */
	/* For callouts, by decoder_index of the block's mode (16- or 32-bit
	 * code and stack, translator/translate.h). */
	ZydisDecoder decoders[4];
	struct callout_decoded *decoded;   /* 2 * CALLOUT_DECODE_SETS of them */
	uint8_t *decoded_older;            /* per set: the way to replace next */
	bool halted;
	/* One bit per segment register (1 << SEG_x) that
	 * cpu_segment_restricted holds for: cpu_set_segment and every other
	 * writer of s.seg keep it (cpu_limits_note, cpu_limits_resync), so
	 * cpu_mode's MODE_LIMITS is a test, not a scan at every dispatch. */
	uint8_t limited_segs;
	/* The A20M# pin as the board drives it (cpu_set_a20): the address
	 * bits to clear, which the run loop applies to s.a20_cleared at the
	 * next block boundary. */
	uint32_t a20_line;
	bool shadow;              /* STI / MOV SS interrupt shadow pending */
	/* That shadow is a MOV SS's or POP SS's: debug exceptions are held
	 * off across the next instruction too (SDM 6.8.3): its instruction
	 * breakpoint is not reported, and the trap of the load itself (TF, a
	 * data breakpoint) waits in db_held (DR6 bits) to be reported with
	 * the next instruction's. */
	bool shadow_ss;
	uint32_t db_held;
	/* The NMI latch (SDM 6.7.1): one NMI waiting (a second that comes
	 * meanwhile merges into it), and NMIs blocked from the delivery of one
	 * until the next IRET, which unblocks them even when it faults. */
	bool nmi_pending;
	bool nmi_blocked;
	bool stop;                /* leave cpu_run: the board asked to */
	struct cpu_debug debug;
	const char *fatal;        /* why the guest cannot go on (triple fault...) */
	bool triple_fault;        /* fatal is a triple fault: the board may reset */
	uint32_t soft_int_eip;    /* INT n/INT3/INTO being delivered: where a fault of it lands */
	unsigned exc_depth;       /* nested exception delivery, for #DF */
	/* A CR3 load (CR0/CR4 write, task switch) since the last window
	 * selection: shadow_select's tlb_flushed. */
	bool tlb_flush_due;
	/* The last task switch (task_switch.c) passed its commit point: a
	 * fault it returns belongs to the new task, at the new EIP. */
	bool task_switched;
	/* That switch completed into a task whose TSS has the T bit: a #DB
	 * trap is due before the new task's first instruction (its caller
	 * delivers it: cpu_deliver_task_trap). */
	bool task_trap;
	uint64_t deliveries;      /* events delivered, to tell a completed step */
	/* DR6's B0-B3 for the data breakpoints the instruction running now
	 * has hit so far (cpu_data_access): the run loop raises the #DB once
	 * it completes, and drops them when it ended in an event instead. */
	uint8_t data_hits;
	/* The #PF a failed monitor access to guest memory raises. */
	struct {
		bool pending;
		uint32_t cr2, error;
	} pf;
	/* The monitor's TLB (guest_access.c): the translations its own
	 * accesses made (descriptor tables, the TSS, exception frames,
	 * callouts' operands), as a processor's TLB keeps them, until an
	 * INVLPG, a CR3 load or a change of the paging registers, or any
	 * page-table write the shadow sees (its tables_changed count). */
	struct {
		uint32_t cr0, cr3, cr4, a20_cleared;
		uint64_t efer, tables_changed;
		/* Per slot: the linear page | the access | CPU_TLB_VALID, and
		 * the frame's address | CPU_TLB_USER (a user page) |
		 * CPU_TLB_LARGE. */
		uint32_t tag[CPU_TLB_SLOTS];
		uint64_t frame[CPU_TLB_SLOTS];
	} tlb;
	/* The access an adaptive memory callout is carrying out: the
	 * instruction works on buf, the monitor moves it from and to guest
	 * memory (RAM or MMIO) around it. */
	struct {
		struct guest_span span;
		bool write;
		bool lock_held;   /* the machine lock, from the prepare to the finish */
		/* With other vCPUs, a LOCKed instruction on plain RAM works on
		 * the RAM itself (callout_mem.c), not on buf. */
		uint8_t *direct;
		/* As wide as FXSAVE's area, aligned as FXRSTOR wants it. */
		uint8_t buf[512] __attribute__((aligned(16)));
		uint8_t old[512];
	} memop;
	struct cpu_stats stats;
	uint64_t callouts_by_class[8];
	bool tsc_native;
	uint32_t poll_ok;         /* what poll_ptr points at when all is quiet */
	void *poll_guard;         /* a PROT_NONE page, null_guard after it */
	/* The thread running this vCPU (0 before its first cpu_run): where
	 * another thread's attention request sends its signal. */
	volatile int tid;
	/* Signals other threads' requests sent that thread (disk and network
	 * completions, console input, gdb, the monitor socket); written by
	 * them atomically, read with cpu_kicks. */
	uint64_t kicks;
	/* Set while the vCPU thread is in the platform's wait (HLT): other
	 * threads' requests then send no signal. Sequentially consistent
	 * with attention, as cpu_request_attention explains. */
	_Atomic bool waiting;
	/* With the machine lock: where another thread's request wakes the
	 * vCPU from its HLT sleep (an eventfd), -1 without. */
	int wake_fd;
	/* The machine lock, NULL with one vCPU (no lock is ever taken). */
	struct cpu_lock *lock;
	bool in_guest;            /* inside translated code (under lock->mutex) */
	/* How many times this vCPU's thread holds the lock: a step the run
	 * loop runs with it held (a traced write) makes callouts and faults
	 * that take it again. */
	unsigned lock_depth;
	unsigned shadow_slot;     /* its index among the shadow's vCPUs */
	/* cpu_get_block ran out of cache room with other vCPUs running: the
	 * run loop flushes at its safe point and starts the iteration anew. */
	bool translate_retry;
	/* The last host fault in translated code, set by the signal handler
	 * on this vCPU's thread. */
	struct host_fault fault;
	ZydisDecoder host_decoder;   /* 64-bit: looks back at a faulting block */
	struct insn_fault_count table_writes[CPU_FAULT_COUNTS];
	struct insn_fault_count churn_faults[CPU_FAULT_COUNTS];
	/* The page tables a traced write changes, as they were before it
	 * (shadow_table_changed compares); a write spans two pages at most. */
	uint32_t trace_snapshot[2][1024];
	/* --explain and --trap-and-emulate (cpu/explain.h): NULL when both
	 * are off. Under --trap-and-emulate the sensitive-unprivileged
	 * instructions of CPL 0 code act as they would for a kernel
	 * deprivileged to CPL 3 on real hardware (cpu/deprivilege.c);
	 * deprivileged is set around one such callout, sens is its row. */
	struct explain *explain;
	struct profile *profile;   /* --profile, --stats (cpu/profile.h), or NULL */
	volatile uint8_t phase;    /* enum cpu_phase, read by the profile's sampler */
	bool trap_emulate;
	/* Cache studies: blocks never chained; the indirect-branch table
	 * never filled, so every lookup misses into the monitor. */
	bool no_chain, no_ibl;
	/* --traces: the times a trace head is reached before its path is
	 * recorded (0: no traces), and the recording under way. */
	unsigned trace_threshold;
	struct trace_rec trace_rec;
	bool deprivileged;
	/* Set by a monitor access that reached a device, wrote a traced page
	 * table or went through a temporary mapping slot: what an adaptive
	 * instruction's callout needed the monitor for (adaptive_account). */
	bool adaptive_needed;
	/* The linear page (+ 1) of the not-present #PF an adaptive access
	 * raised at CPL 3, or 0: the access that retries it is needed (it
	 * saved the host fault and mapping the plain instruction takes). */
	uint32_t fault_retry_page;
	const struct sensitive_insn *deprivileged_sens;
};

_Static_assert(offsetof(struct cpu, regs) == CPU_OFF_REGS, "layout");
_Static_assert(offsetof(struct cpu, rflags) == CPU_OFF_RFLAGS, "layout");
_Static_assert(offsetof(struct cpu, host_rsp) == CPU_OFF_HOST_RSP, "layout");
_Static_assert(offsetof(struct cpu, exit) == CPU_OFF_EXIT, "layout");
_Static_assert(offsetof(struct cpu, exit_fn) == CPU_OFF_EXIT_FN, "layout");
_Static_assert(offsetof(struct cpu, callout_fn) == CPU_OFF_CALLOUT_FN, "layout");
_Static_assert(offsetof(struct cpu, vif) == CPU_OFF_VIF, "layout");
_Static_assert(offsetof(struct cpu, irq_held) == CPU_OFF_IRQ_HELD, "layout");
_Static_assert(offsetof(struct cpu, verw_cache) == CPU_OFF_VERW_CACHE, "layout");
_Static_assert(offsetof(struct cpu, store_hints) == CPU_OFF_STORE_HINTS, "layout");
_Static_assert(CPU_OFF_STORE_HINTS + 4 * CPU_STORE_HINTS == CPU_OFF_FXSAVE, "layout");
_Static_assert(offsetof(struct cpu, seg_loads) == CPU_OFF_SEG_LOADS, "layout");
_Static_assert(sizeof(struct seg_load) == CPU_SEG_LOAD_SIZE, "layout");
_Static_assert(offsetof(struct seg_load, seg) == CPU_SEG_LOAD_SEGMENT, "layout");
_Static_assert(sizeof(struct segment) == 16 && offsetof(struct segment, base) == 4, "layout");
_Static_assert(offsetof(struct cpu, scratch) == CPU_OFF_SCRATCH, "layout");
_Static_assert(offsetof(struct cpu, seg_base) == CPU_OFF_SEG_BASE, "layout");
_Static_assert(offsetof(struct cpu, ibl) == CPU_OFF_IBL, "layout");
_Static_assert(offsetof(struct cpu, ibl_miss_fn) == CPU_OFF_IBL_MISS_FN, "layout");
_Static_assert(offsetof(struct cpu, ibl_global) == CPU_OFF_IBL_GLOBAL, "layout");
_Static_assert(offsetof(struct cpu, poll_ptr) == CPU_OFF_POLL_PTR, "layout");
_Static_assert(offsetof(struct cpu, tsc_offset) == CPU_OFF_TSC_OFFSET, "layout");
_Static_assert(offsetof(struct cpu, xmm_light) == CPU_OFF_XMM_LIGHT, "layout");
_Static_assert(offsetof(struct cpu, mxcsr_light) == CPU_OFF_MXCSR_LIGHT, "layout");
_Static_assert(offsetof(struct cpu, fpu_full) == CPU_OFF_FPU_FULL, "layout");
_Static_assert(offsetof(struct cpu, win_base) == CPU_OFF_WIN_BASE, "layout");
_Static_assert(offsetof(struct cpu, win_entries) == CPU_OFF_WIN_ENTRIES, "layout");
_Static_assert(offsetof(struct cpu, seg_guard) == CPU_OFF_SEG_GUARD, "layout");
_Static_assert(offsetof(struct cpu, null_guard) == CPU_OFF_NULL_GUARD, "layout");
_Static_assert(offsetof(struct cpu, pause_budget) == CPU_OFF_PAUSE_BUDGET, "layout");
_Static_assert(offsetof(struct cpu, ibl_global_tags) == CPU_OFF_IBL_GLOBAL_TAGS, "layout");
_Static_assert(offsetof(struct cpu, ibl_tags) == CPU_OFF_IBL_TAGS, "layout");
_Static_assert(offsetof(struct cpu, fxsave) == CPU_OFF_FXSAVE, "layout");
_Static_assert(offsetof(struct cpu, s) == CPU_OFF_STATE, "layout");

struct tblock;
struct translator;
struct bus;
struct callout_desc;

/* A callout descriptor's instruction, decoded once (callout.c). */
#define CALLOUT_DECODE_SETS 256u   /* two ways each */
struct callout_decoded {
	const struct callout_desc *d;
	/* The descriptor as it was decoded, all of it: compared whole (four
	 * 8-byte compares inline, no call). Its place and bytes tell a reused
	 * code buffer's new descriptor apart; any other field that differs
	 * only costs a decode. */
	unsigned char desc[32];
	bool ok;
	bool writes_via_cs;                 /* insn_writes_via_cs() */
	const struct sensitive_insn *sens;  /* sensitive_classify(), once */
	ZydisDecodedInstruction in;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
};

int cpu_init(struct cpu *cpu, const struct vcpu_state *boot, struct shadow *sh,
	     struct tcache *tc, struct bus *bus);
/* shadow_select for this vCPU: win and win_base become the window of its
 * CR3, CR0 and CPL. Returns what shadow_select does. */
int cpu_select_window(struct cpu *cpu);
/* CR0, CR3 or CR4 was written (old values given): drops shadows and
 * translations that the change made wrong. The caller stops the block. */
void cpu_paging_changed(struct cpu *cpu, uint32_t old_cr0, uint32_t old_cr4);
/* A MOV to control register crn (0, 3 or 4) would leave cr0, cr3, cr4:
 * loads the PDPTEs where the SDM says it does (4.4.1). False when a
 * present one has reserved bits: #GP(0), and the MOV changes nothing. */
bool cpu_load_pdptes(struct cpu *cpu, unsigned crn, uint32_t cr0, uint32_t cr3, uint32_t cr4);
/* WRMSR to IA32_EFER: only NXE is writable; false (#GP(0)) otherwise. */
bool cpu_set_efer(struct cpu *cpu, uint64_t efer);
/* The board's A20 gate: closed (enabled false), every physical address the
 * vCPU makes (fetch, data, page walks, descriptor tables) has bit 20
 * cleared. Takes effect from the instruction after the one that wrote the
 * gate (an OUT: its callout ends the block there, may_resume), as QEMU
 * applies its new mask to the next access: the run loop then drops every
 * translation and shadow mapping (cpu_apply_a20) and goes on. Any thread;
 * from another one it takes effect at the vCPU's next block boundary. */
void cpu_set_a20(struct cpu *cpu, bool enabled);
/* The run loop's side: s.a20_cleared takes the pin's value, and what was
 * made for the other address map goes. */
void cpu_apply_a20(struct cpu *cpu);
void cpu_destroy(struct cpu *cpu);
/* The processor's RESET: state from boot, caches of translated code
 * dropped; statistics kept across resets. */
void cpu_reset(struct cpu *cpu, const struct vcpu_state *boot);
/* An INIT or start-up IPI's new state, as a reset's but keeping the
 * caches, the TSC and the statistics (the machine runs on). */
void cpu_load_state(struct cpu *cpu, const struct vcpu_state *s);
/* translate_block for this vCPU: its cache, shadow, paging mode, TSC and
 * breakpoints, and its page walk for the fetch (a #PF left pending in
 * cpu->pf). Returns what translate_block does. */
int cpu_translate_block(struct cpu *cpu, struct translator *t, uint32_t eip, uint64_t gpa,
			uint32_t mode, struct tblock **out);
/* Runs translated guest code until cpu->stop is set or the guest cannot go
 * on (cpu->fatal says why). */
void cpu_run(struct cpu *cpu, struct translator *t);
/* Whether a breakpoint is set at linear address eip. */
static inline bool cpu_breakpoint_at(const struct cpu *cpu, uint32_t eip)
{
	for (unsigned i = 0; i < cpu->debug.nbp; i++)
		if (cpu->debug.bp[i] == eip)
			return true;
	return false;
}
/* The guest's own instruction breakpoints (SDM 18.2.4): DR0-DR3 with
 * R/W 00 (LEN ignored, as QEMU does: the SDM leaves other LENs undefined)
 * enabled by L or G in DR7. Returns the DR6 B0-B3 bits of those at linear
 * address eip, 0 when DR7 enables none. */
uint32_t cpu_instruction_breakpoints_at(const struct cpu *cpu, uint32_t eip);
/* data_breakpoints.c: the B0-B3 bits of the data breakpoints DR7
 * enables (R/W 01 or 11 with L or G), 0 when none is (cpu_mode then
 * leaves every access to translated code); and an access of len bytes at
 * linear address linear (a write or a read) the monitor makes for the
 * guest's instruction, recorded in data_hits where it overlaps one. */
uint8_t cpu_data_breakpoints(const struct cpu *cpu);
void cpu_data_access(struct cpu *cpu, uint32_t linear, unsigned len, bool write);
/* After DR0-DR3 or DR7 changed from old_dr/old_dr7: drops the
 * translations at every instruction breakpoint that came or went, as
 * cpu_breakpoint_set does for the debugger's. Returns whether any did. */
bool cpu_debug_registers_changed(struct cpu *cpu, const uint32_t old_dr[4], uint32_t old_dr7);
/* Sets or clears a breakpoint at a linear address and drops every
 * translation covering it, in any address space. Setting one twice, or
 * clearing one that is not set, changes nothing. 0, or -ENOSPC when
 * CPU_MAX_BREAKPOINTS are set. */
int cpu_breakpoint_set(struct cpu *cpu, uint32_t eip);
void cpu_breakpoint_clear(struct cpu *cpu, uint32_t eip);
/* The debugger lets the guest go on: one instruction (step) or until a
 * breakpoint or cpu->stop; the instruction at EIP runs even when it is a
 * breakpoint's. */
void cpu_debug_resume(struct cpu *cpu, bool step);
uint32_t cpu_get_eflags(const struct cpu *cpu);
void cpu_set_eflags(struct cpu *cpu, uint32_t eflags, uint32_t writable);
uint32_t cpu_mode(const struct cpu *cpu);

/* exception.c: delivery through the guest IDT. */
enum { EXC_DE = 0, EXC_DB = 1, EXC_NMI = 2, EXC_BP = 3, EXC_OF = 4, EXC_BR = 5, EXC_UD = 6,
       EXC_NM = 7, EXC_DF = 8, EXC_TS = 10, EXC_NP = 11, EXC_SS = 12, EXC_GP = 13, EXC_PF = 14,
       EXC_MF = 16, EXC_AC = 17, EXC_XM = 19 };
/* Delivers vector with cpu->s.eip as the return address; on failure turns
 * into #DF and then a triple fault (cpu->fatal). */
void cpu_deliver(struct cpu *cpu, unsigned vector, bool has_error, uint32_t error, bool software);
/* The #DB trap (DR6.BT) a task switch into a task with the TSS's T bit
 * leaves due (cpu->task_trap), at the new task's EIP; nothing if none is
 * due. cpu_deliver does it itself after a switch through a task gate. */
void cpu_deliver_task_trap(struct cpu *cpu);
/* An external interrupt (INTR's vector) or the NMI (vector 2), which are
 * neither faults nor software interrupts: cpu_deliver as the hardware event
 * (EXT set in error codes, the gate's DPL ignored, RF as it is). */
void cpu_deliver_external(struct cpu *cpu, unsigned vector);
/* The NMI input saw an edge (the local APIC's NMI message, or its LINT
 * pin with the APIC off): latched until the run loop can take it. On the
 * vCPU's thread, as every device entry point is. */
void cpu_raise_nmi(struct cpu *cpu);

/* What a selector is loaded for: the SDM's protection checks differ. */
enum seg_use {
	SEG_USE_DATA,    /* DS, ES, FS, GS (MOV, POP, LDS...): null allowed */
	SEG_USE_STACK,   /* SS: writable data with RPL = DPL = the privilege level */
	SEG_USE_JUMP,    /* CS by far JMP/CALL: the privilege level stays */
	SEG_USE_RETURN,  /* CS by far RET/IRET: the level becomes the RPL (never inward) */
	SEG_USE_GATE,    /* CS from an interrupt gate: DPL <= the level, inward only */
};
/* Reads the descriptor sel names and checks it for the use at privilege
 * level cpl, loading nothing. Returns 0 with *out filled in (for CS, its
 * selector's RPL is the CPL the load leaves), or the vector to raise
 * (#GP, #NP, #SS) with sel & 0xfffc as error code; #GP(0) for a null CS
 * or SS. A failed read of the table may have left a #PF pending. */
int cpu_check_segment(struct cpu *cpu, uint16_t sel, enum seg_use use, unsigned cpl,
		      struct segment *out);
/* The stack a handler or callee at the more privileged level cpl starts
 * on: SSn:ESPn from the current TSS, checked for that level. Returns 0,
 * or #TS (#SS for an SS not present) with *error; ext is the error
 * codes' EXT bit. */
unsigned cpu_inner_stack(struct cpu *cpu, unsigned cpl, uint32_t ext, struct segment *ss,
			 uint32_t *esp, uint32_t *error);
/* Puts a checked segment into a register; CS sets the CPL from its RPL. */
void cpu_set_segment(struct cpu *cpu, unsigned seg, const struct segment *s);
/* Forgets every descriptor load translated loads and VERW compare
 * against (seg_loads, verw_cache): a new GDT, a new state. */
void cpu_seg_cache_clear(struct cpu *cpu);
/* Forgets every page adaptive stores found plain (store_hints). */
void cpu_store_hints_clear(struct cpu *cpu);
/* cpu_check_segment at the current CPL (JUMP rules for CS, STACK for SS,
 * DATA otherwise), then cpu_set_segment. Returns 0 or the vector. */
int cpu_load_segment(struct cpu *cpu, unsigned seg, uint16_t selector);
/* After a return to an outer level: ES, DS, FS and GS holding data or
 * non-conforming code more privileged than the new CPL become null. */
void cpu_null_inner_segments(struct cpu *cpu);
/* The exception an x87/MMX/SSE instruction raises because of CR0.EM/TS/MP
 * or CR4.OSFXSR (#NM, or #UD for MMX/SSE under EM and for SSE without
 * OSFXSR), or -1 if it runs. */
int cpu_fpu_unavailable(const struct cpu *cpu, const ZydisDecodedInstruction *in,
			const ZydisDecodedOperand *ops);
/* The 8-byte descriptor a selector names in the GDT or LDT; false if it
 * lies beyond the table's limit or outside guest RAM. */
bool cpu_read_descriptor(struct cpu *cpu, uint16_t selector, uint32_t *lo, uint32_t *hi);
/* cpu/guest_access.c: guest linear memory for the monitor. The _guest forms
 * access with the CPL's privilege (user at CPL 3), the _sys forms as the
 * processor's implicit supervisor accesses (descriptor tables, IDT, TSS).
 * false: the access faulted; a #PF leaves cpu->pf pending, which
 * raise_fault and cpu_deliver's own pushes turn into the #PF, else the
 * caller raises its segment fault. */
bool cpu_read_guest(struct cpu *cpu, uint32_t linear, void *dst, unsigned len);
bool cpu_write_guest(struct cpu *cpu, uint32_t linear, const void *src, unsigned len);
bool cpu_read_sys(struct cpu *cpu, uint32_t linear, void *dst, unsigned len);
bool cpu_write_sys(struct cpu *cpu, uint32_t linear, const void *src, unsigned len);
/* Physical RAM or MMIO, for the adaptive memory callouts. A write drops
 * the bytes bound for pages the chipset's PAM registers lock, as the
 * processor's own write would be dropped; the _debug form (the debugger's
 * and the monitor's writes) writes them, as QEMU's debug accesses write
 * ROM. */
void cpu_read_phys(struct cpu *cpu, uint64_t gpa, void *dst, unsigned len);
void cpu_write_phys(struct cpu *cpu, uint64_t gpa, const void *src, unsigned len);
void cpu_write_phys_debug(struct cpu *cpu, uint64_t gpa, const void *src, unsigned len);
/* Guest physical address of a linear one for an access of this kind
 * (ACCESS_* of mmu/paging.h, user added at CPL 3), or false with cpu->pf. */
bool cpu_translate(struct cpu *cpu, uint32_t linear, unsigned access, uint64_t *gpa);
/* Empties the monitor's TLB (a CR3 load, a state loaded). */
void cpu_tlb_flush(struct cpu *cpu);
/* Drops what the monitor's TLB holds for linear's page (INVLPG): its
 * slot, and every slot from the large page around it. */
void cpu_tlb_invalidate(struct cpu *cpu, uint32_t linear);
/* The same for [linear, linear+len), len <= 4096, split where it crosses a
 * page; every piece is translated before the caller moves a byte. */
bool cpu_translate_span(struct cpu *cpu, uint32_t linear, unsigned len, unsigned access,
			struct guest_span *span);
/* Takes a pending #PF: sets CR2, gives its error code. false if none. */
bool cpu_take_page_fault(struct cpu *cpu, uint32_t *error);
/* The stack of segment ss (SS, or an inner one being switched to) as its
 * B bit says: a 32-bit stack moves ESP; a 16-bit one moves SP alone,
 * which wraps at 64 KiB, and a multi-byte access across that wrap takes
 * its bytes from the top and the bottom of the segment, as pushes and
 * pops one at a time would. sp is the whole ESP. */
uint32_t cpu_stack_move(const struct segment *ss, uint32_t sp, int32_t delta);
/* Writes len bytes below *sp as pushes leave them (lowest address first)
 * and moves *sp down; sys: as the processor's implicit supervisor access
 * (an inner stack). false after a failed access, *sp unchanged. */
bool cpu_stack_push(struct cpu *cpu, const struct segment *ss, uint32_t *sp, const void *data,
		    unsigned len, bool sys);
/* len bytes at sp moved by off, read or written with the CPL's privilege. */
bool cpu_stack_read(struct cpu *cpu, const struct segment *ss, uint32_t sp, uint32_t off,
		    void *data, unsigned len);
bool cpu_stack_write(struct cpu *cpu, const struct segment *ss, uint32_t sp, uint32_t off,
		     const void *data, unsigned len);

/* seg_limits.c: whether segment s in register seg is one a data or
 * stack access must be checked against (a limit below 4 GiB, expand-down,
 * or DS/ES unusable after a null load); the registers that are, as a
 * scan finds them (cpu_limits_scan) and as cpu->limited_segs keeps them
 * (cpu_limits_note after one register changed, cpu_limits_resync after
 * several; the translation mode's MODE_LIMITS, in every mode);
 * whether len bytes at offset stay inside s (false: #GP(0), or #SS(0)
 * for SS; false through any unusable register, FS and GS too). */
bool cpu_segment_restricted(const struct segment *s, unsigned seg);
/* Whether s may be used at all: false after a null selector's load in
 * protected mode (no attributes: P clear). */
bool cpu_segment_usable(const struct segment *s);
/* A real-mode segment load: P set, so a register a null selector left
 * unusable is usable again (its limit kept). */
void cpu_segment_make_usable(struct segment *s);
uint8_t cpu_limits_scan(const struct cpu *cpu);
void cpu_limits_note(struct cpu *cpu, unsigned seg);
void cpu_limits_resync(struct cpu *cpu);
bool cpu_offset_in_limit(const struct segment *s, unsigned seg, uint32_t offset, unsigned len);
/* The highest EIP code may be fetched at: CS's limit (64 KiB in v86
 * mode, whose CS loads give every CS that limit). MODE_CSLIMIT when it is
 * below 4 GiB. */
static inline uint32_t cpu_code_limit(const struct cpu *cpu)
{
	return cpu->s.seg[SEG_CS].limit;
}

/* realmode.c: real-address mode (CR0.PE clear). */
static inline bool cpu_real_mode(const struct cpu *cpu)
{
	return !(cpu->s.cr0 & CR0_PE);
}
/* A segment register load in real mode: base = selector << 4, the hidden
 * limit and attributes kept. */
void cpu_real_load(struct cpu *cpu, unsigned seg, uint16_t sel);
/* One attempt at delivering vector through the interrupt vector table
 * (IDTR), with cpu->s.eip as the return address: 0, or the exception the
 * attempt raised (#GP past the table's limit, #SS for the frame). */
unsigned cpu_deliver_real(struct cpu *cpu, unsigned vector);
/* v86.c: virtual-8086 mode (EFLAGS.VM under CR0.PE). */
static inline bool cpu_v86_mode(const struct cpu *cpu)
{
	return (cpu->s.cr0 & CR0_PE) && (cpu->s.eflags & EFLAGS_VM);
}
/* Whether segment registers load as selector * 16: real or v86 mode. */
static inline bool cpu_segments_real(const struct cpu *cpu)
{
	return cpu_real_mode(cpu) || cpu_v86_mode(cpu);
}
/* A segment register load in v86 mode: base = selector << 4, limit
 * 0xffff, writable data at DPL 3 (CS too). */
void cpu_v86_load(struct cpu *cpu, unsigned seg, uint16_t sel);
/* The linear address of EIP eip: CS.base + eip. */
static inline uint32_t cpu_code_linear(const struct cpu *cpu, uint32_t eip)
{
	return cpu->s.seg[SEG_CS].base + eip;
}

/* What a callout tells the door it was called through (btvm_callout in
 * entry.S, which tests it against zero). */
enum callout_result {
	CALLOUT_GO_ON = 0,  /* translated code goes on after the instruction */
	CALLOUT_STOP = 1,   /* leave translated code: the run loop takes over at cpu->s.eip */
};
/* callout.c: called from entry.S. */
enum callout_result cpu_callout(struct cpu *cpu, const struct callout_desc *d);
/* Makes cpu->fxsave hold the guest's whole x87/SSE state (the door out
 * saved only part of it), for monitor code that reads or changes it.
 * Valid until translated code runs again. */
void cpu_fpu_materialize(struct cpu *cpu);
/* Asks the vCPU to come back to the run loop at the next block boundary.
 * Translated code polls through its copy of poll_ptr in r9, which a
 * request cannot reach from where it is made, so: on the vCPU's own
 * thread in monitor code (a callout, a device, the run loop) the doors
 * reload r9 before translated code runs again; from another thread the
 * request then sends HOST_ATTENTION_SIGNAL (host/thread.h) to the vCPU
 * thread, whose handler rewrites r9 in the context it interrupted. A
 * signal handler must use cpu_request_attention_signal instead: on the
 * vCPU thread it may have interrupted translated code. */
void cpu_request_attention(struct cpu *cpu);
/* Whether the attention handler may re-point a loop's branch at its poll
 * (tcache_loop_poll): not under ThreadSanitizer. */
bool cpu_loops_may_skip_poll(void);
void cpu_request_attention_signal(struct cpu *cpu, void *uctx);

/* The machine lock (struct cpu_lock; nothing at all while cpu->lock is
 * NULL). cpu_lock_init sets it up for the vCPUs given; each must have
 * been through cpu_init. 0 or a negative errno. */
int cpu_lock_init(struct cpu_lock *lock, struct cpu *const *cpus, unsigned n);
void cpu_lock_destroy(struct cpu_lock *lock);
/* Takes the lock for cpu's thread; when another vCPU held it last, makes
 * this one's window the shadow's current one (and tells the platform). */
void cpu_lock_acquire(struct cpu *cpu);
void cpu_lock_release(struct cpu *cpu);
static inline void cpu_lock(struct cpu *cpu)
{
	if (cpu->lock)   /* inline: a callout's and a lookup miss's only cost with one vCPU */
		cpu_lock_acquire(cpu);
}
static inline void cpu_unlock(struct cpu *cpu)
{
	if (cpu->lock)
		cpu_lock_release(cpu);
}
/* With the lock held: this vCPU's window and platform are the current
 * ones again, whoever held the lock last. */
void cpu_lock_reclaim(struct cpu *cpu);
/* With the lock held: sleeps until another thread calls
 * cpu_lock_broadcast, or a vCPU leaves translated code or an exclusive
 * section ends; the lock is held again on return. */
void cpu_lock_wait(struct cpu *cpu);
void cpu_lock_broadcast(struct cpu *cpu);
/* Around translated code: the vCPU counts as inside it (an exclusive
 * section waits for it) from cpu_enter_guest, which gives the lock up,
 * to cpu_leave_guest, which takes it again. */
void cpu_enter_guest_unlocking(struct cpu *cpu);
void cpu_leave_guest_locking(struct cpu *cpu);
static inline void cpu_enter_guest(struct cpu *cpu)
{
	if (cpu->lock)
		cpu_enter_guest_unlocking(cpu);
}
static inline void cpu_leave_guest(struct cpu *cpu)
{
	if (cpu->lock)
		cpu_leave_guest_locking(cpu);
}
/* After translated code was left: a memory callout's instruction that
 * ended without its finish (a fault) gives up the hold its prepare kept. */
void cpu_drop_memop_hold(struct cpu *cpu);
/* A LOCKed instruction that ran on the RAM itself (memop.direct) is
 * over: its bytes marked written for the RAM's write log. */
void cpu_memop_direct_done(struct cpu *cpu);
/* The run loop's top, lock held: waits while another vCPU is in an
 * exclusive section, then carries out a cache flush asked for meanwhile
 * (cpu_flush_translations). */
void cpu_safe_point(struct cpu *cpu);
/* With the lock held, at a safe point of cpu's own: waits until every
 * other vCPU is outside translated code (asking each for attention) and
 * keeps them out until cpu_exclusive_end. */
void cpu_exclusive_begin(struct cpu *cpu);
/* PAUSEs a vCPU on a thread of its own runs before it yields: about 0.3
 * ms of spinning at Skylake's 140 cycles a PAUSE, less where PAUSE is
 * shorter (AMD's Zen). */
#define CPU_PAUSE_BUDGET 4096u
/* The run loop's top, lock held, once the budget ran out: the lock and
 * the host CPU are given up a moment (sched_yield), so that a vCPU the
 * spinner waits for, on the same host CPU or waiting for the lock, may
 * run; the budget starts again. */
void cpu_pause_yield(struct cpu *cpu);
void cpu_exclusive_end(struct cpu *cpu);
/* Drops every translation: at once with one vCPU; with the lock, at this
 * vCPU's next safe point (its attention is asked for), when no other
 * vCPU runs translated code any more. Translated code this vCPU is in
 * now stays intact until it leaves. */
void cpu_flush_translations(struct cpu *cpu);
/* How many signals other threads' attention requests have sent. */
uint64_t cpu_kicks(const struct cpu *cpu);

/* The run loop's side: true if attention was asked for, the request then
 * taken (the caller polls). A request's two stores may interleave with
 * these two, from a signal handler on this thread or from another
 * thread, and can leave the pointer at the guard with attention clear:
 * that counts as a request too, or every block entry would fault and
 * come back here for ever (the guest stalled until some other request
 * came). Every other interleaving leaves a request made before the poll,
 * which sees what it asked for. */
static inline bool cpu_take_attention(struct cpu *cpu)
{
	/* Relaxed atomics (plain moves on x86): the request's stores may come
	 * from another thread at any time. */
	uint64_t ok = (uint64_t)(uintptr_t)&cpu->poll_ok;
	if (!__atomic_load_n(&cpu->attention, __ATOMIC_RELAXED) &&
	    __atomic_load_n(&cpu->poll_ptr, __ATOMIC_RELAXED) == ok)
		return false;
	__atomic_store_n(&cpu->poll_ptr, ok, __ATOMIC_RELAXED);
	__atomic_store_n(&cpu->attention, 0, __ATOMIC_RELAXED);
	return true;
}

/* Copies the segment bases into the fields translated code reads, and
 * points FS's and GS's guards (seg_guard) at them or, for a register a
 * null selector left unusable, at null_guard. */
void sync_seg_bases(struct cpu *cpu);
/* Whether seg_guard says of FS and GS what their hidden parts do: what
 * translated code leaves on the way out (debug builds assert it). */
bool cpu_seg_guards_agree(const struct cpu *cpu);

/* Entry points in entry.S. */
void btvm_enter(struct cpu *cpu, const void *host_code);
void btvm_exit(void);
void btvm_callout(void);
/* Whether the host's TSC runs at a constant rate through every power
 * state, so the guest's can be the host's plus an offset (RDTSC inline). */
bool host_tsc_is_constant(void);
void btvm_ibl_miss(void);
/* Called by btvm_ibl_miss with the target in scratch[0]: when the block is
 * translated already and its page mapped (no accessed bit to set), enters
 * it in the lookup table and returns its host address; 0 sends the miss
 * to the run loop. */
uint64_t cpu_ibl_fast(struct cpu *cpu);
/* Where a signal handler sends a context to leave translated code. */
void btvm_fault_leave(void);
void btvm_leave(void);

#endif
