/* Byte offsets into struct cpu that emitted code and hand-written assembly
 * (cpu/entry.S) rely on. The translator owns them because the code it
 * emits is what depends on them; struct cpu, a layer up, follows them and
 * cpu.h checks each one with a static assertion, so the two can never
 * drift apart. Plain #defines: this file is included from assembly too. */
#ifndef BTVM_TRANSLATOR_CPU_LAYOUT_H
#define BTVM_TRANSLATOR_CPU_LAYOUT_H

#define CPU_OFF_REGS 0x00          /* uint32_t[8]: eax..edi while outside translated code */
#define CPU_OFF_RFLAGS 0x20        /* uint64_t: host RFLAGS image holding guest arith flags */
#define CPU_OFF_HOST_RSP 0x28      /* uint64_t: host stack pointer inside btvm_enter */
#define CPU_OFF_EXIT 0x30          /* uint64_t: descriptor of the exit taken */
#define CPU_OFF_EXIT_FN 0x38       /* uint64_t: address of btvm_exit */
#define CPU_OFF_CALLOUT_FN 0x40    /* uint64_t: address of btvm_callout */
#define CPU_OFF_VIF 0x4c           /* uint8_t: the guest's virtual IF */
#define CPU_OFF_IRQ_HELD 0x4d      /* uint8_t: an interrupt waited on IF at the run loop's last look */
#define CPU_OFF_SCRATCH 0x50       /* uint64_t[4] */
#define CPU_OFF_SEG_BASE 0x70      /* uint32_t[6]: segment bases, ES CS SS DS FS GS order */
#define CPU_OFF_IBL 0x88           /* uint64_t: address of the indirect-branch table */
#define CPU_OFF_IBL_MISS_FN 0x90   /* uint64_t: address of btvm_ibl_miss */
#define CPU_OFF_POLL_PTR 0x98      /* uint64_t: what block entries read (through r9); unmapped = attention */
#define CPU_OFF_IBL_GLOBAL 0xa0    /* uint64_t: tag of global-page entries (asid << 40) */
#define CPU_OFF_TSC_OFFSET 0xa8    /* uint64_t: host TSC - guest TSC (native TSC only) */
#define CPU_OFF_VERW_CACHE 0xb0    /* {u32 selector, u32 GDT address, u64 descriptor} */
#define CPU_SEG_CACHE_NONE 0xffffffffu  /* no selector: the entry matches nothing */
#define CPU_OFF_STORE_HINTS 0xc0   /* uint32_t[16]: linear pages adaptive stores found plain */
#define CPU_STORE_HINTS 16
#define CPU_STORE_HINT_NONE 1u     /* no page: never equal to a page's address */
#define CPU_OFF_FXSAVE 0x100       /* 512 bytes, 16-aligned: guest x87/SSE state */
#define CPU_OFF_IBL_TAGS 0x300     /* uint64_t[32]: table tag base per mode */
#define CPU_OFF_XMM_LIGHT 0x400    /* 128 bytes: guest XMM0-7 saved by a door out */
#define CPU_OFF_MXCSR_LIGHT 0x480  /* uint32_t: guest MXCSR saved by a door out */
#define CPU_OFF_FPU_FULL 0x484     /* uint8_t: fxsave holds (and is) the whole guest state */
#define CPU_OFF_WIN_BASE 0x488     /* uint64_t: host address of the current window (GS.base) */
#define CPU_OFF_WIN_ENTRIES 0x490  /* uint32_t **: its shadow entries per 4 MiB region, or NULL */
#define CPU_OFF_SEG_GUARD 0x498    /* uint64_t[2]: FS's and GS's base pointer; unmapped = unusable */
#define CPU_OFF_NULL_GUARD 0x4a8   /* void *: the unmapped page an unusable register's guard names */
#define CPU_OFF_PAUSE_BUDGET 0x4b0  /* uint32_t: PAUSEs before a spinning vCPU yields its host CPU */
#define CPU_OFF_IBL_GLOBAL_TAGS 0x500  /* uint64_t[32]: global-page tag base per mode */
#define CPU_OFF_SEG_LOADS 0x600    /* 4 registers (ES DS FS GS) x 2 ways x CPU_SEG_LOAD_SIZE */
#define CPU_SEG_LOAD_WAYS 2
#define CPU_SEG_LOAD_SIZE 32       /* u32 selector, u32 GDT address (0: null), u64 descriptor,
				      struct segment (16 bytes) at 16 */
#define CPU_SEG_LOAD_SEGMENT 16
#define CPU_OFF_STATE 0x700        /* struct vcpu_state: the segment selectors PUSH/MOV Sreg read */

#endif
