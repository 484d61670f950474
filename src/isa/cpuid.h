/* btvm's CPUID model: the one virtual CPU every guest sees, whatever the
 * host is. The translator's allowlist (translator/allowlist.c) follows the
 * same feature bits, so what the model does not advertise is #UD. */
#ifndef BTVM_ISA_CPUID_H
#define BTVM_ISA_CPUID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Leaf 1 EDX feature bits the model advertises (SDM vol. 2A, CPUID). */
enum {
	CPUID_1D_FPU = 1u << 0,
	CPUID_1D_VME = 1u << 1,   /* CR4.VME and CR4.PVI */
	CPUID_1D_PSE = 1u << 3,
	CPUID_1D_TSC = 1u << 4,
	CPUID_1D_MSR = 1u << 5,
	CPUID_1D_PAE = 1u << 6,
	CPUID_1D_MCE = 1u << 7,
	CPUID_1D_CX8 = 1u << 8,
	CPUID_1D_APIC = 1u << 9,
	CPUID_1D_SEP = 1u << 11,
	CPUID_1D_MTRR = 1u << 12,
	CPUID_1D_PGE = 1u << 13,
	CPUID_1D_MCA = 1u << 14,
	CPUID_1D_CMOV = 1u << 15,
	CPUID_1D_PAT = 1u << 16,
	CPUID_1D_CLFSH = 1u << 19,
	CPUID_1D_MMX = 1u << 23,
	CPUID_1D_FXSR = 1u << 24,
	CPUID_1D_SSE = 1u << 25,
	CPUID_1D_SSE2 = 1u << 26,
	CPUID_1D_HTT = 1u << 28,   /* with --smp N>1 only: cpuid_topology */
};

/* Leaf 1 ECX feature bits the model advertises. */
enum {
	CPUID_1C_SSE3 = 1u << 0,
	CPUID_1C_SSSE3 = 1u << 9,
	CPUID_1C_SSE41 = 1u << 19,
	CPUID_1C_SSE42 = 1u << 20,
	CPUID_1C_POPCNT = 1u << 23,
};

/* Leaf 0x80000001 EDX feature bits the model advertises. */
enum {
	CPUID_81D_NX = 1u << 20,   /* XD: EFER.NXE and bit 63 of PAE entries */
	CPUID_81D_RDTSCP = 1u << 27,
};

/* Leaf 0x80000008 EAX: 36 physical address bits (MAXPHYADDR, bits 7:0)
 * and 32 linear ones (bits 15:8). */
#define CPUID_PHYS_ADDR_BITS 36u
#define CPUID_80000008A_ADDR_BITS (0x2000u | CPUID_PHYS_ADDR_BITS)

/* Everything the model offers; APIC only while the local APIC is enabled. */
#define CPUID_MODEL_1D                                                                          \
	(CPUID_1D_FPU | CPUID_1D_VME | CPUID_1D_PSE | CPUID_1D_TSC | CPUID_1D_MSR |             \
	 CPUID_1D_PAE | CPUID_1D_MCE | CPUID_1D_CX8 | CPUID_1D_APIC | CPUID_1D_SEP |            \
	 CPUID_1D_MTRR |                                                                        \
	 CPUID_1D_PGE | CPUID_1D_MCA | CPUID_1D_CMOV | CPUID_1D_PAT | CPUID_1D_CLFSH |          \
	 CPUID_1D_MMX | CPUID_1D_FXSR | CPUID_1D_SSE | CPUID_1D_SSE2)
#define CPUID_MODEL_1C                                                                          \
	(CPUID_1C_SSE3 | CPUID_1C_SSSE3 | CPUID_1C_SSE41 | CPUID_1C_SSE42 | CPUID_1C_POPCNT)
#define CPUID_MODEL_81D (CPUID_81D_NX | CPUID_81D_RDTSCP)

/* The features whose instructions translated code runs on the host CPU
 * as they are: the host must have every one (leaf 1 EDX, then ECX). */
#define CPUID_MODEL_HOST_NEEDS                                                                  \
	(CPUID_1D_FPU | CPUID_1D_CX8 | CPUID_1D_CMOV | CPUID_1D_MMX | CPUID_1D_FXSR |           \
	 CPUID_1D_SSE | CPUID_1D_SSE2)
#define CPUID_MODEL_HOST_NEEDS_1C CPUID_MODEL_1C

/* The core crystal clock of leaf 0x15: the local APIC timer's input
 * (devices/lapic.h's LAPIC_BUS_HZ must be the same). */
#define CPUID_CRYSTAL_HZ 100000000u

/* Feature bits of leaf 1 (EDX, ECX) and leaf 0x80000001 (EDX). */
struct cpuid_features {
	uint32_t edx1, ecx1, edx81;
};

struct cpuid_result {
	uint32_t eax, ebx, ecx, edx;
};

/* The model's answer to CPUID with EAX = leaf and ECX = subleaf (only
 * leaf 4, the caches, has subleaves; the others ignore ECX).
 * apic_enabled: the APIC base MSR's enable bit, which CPUID.1:EDX.APIC
 * follows. tsc_hz: the guest TSC's rate for leaves 0x15 and 0x16 (0:
 * unknown, and they answer zeros). */
struct cpuid_result cpuid_model(uint32_t leaf, uint32_t subleaf, bool apic_enabled,
				uint64_t tsc_hz);

/* The CR4 bits a MOV to CR4 may set: those of the features leaf 1
 * advertises (VME/PVI, DE, PSE, PAE, MCE, PGE, OSFXSR, OSXMMEXCPT), TSD
 * and PCE, which every P6 has; the rest are reserved (#GP(0)). */
uint32_t cpuid_cr4_writable(void);
/* The answer r (cpuid_model's for leaf and subleaf) as CPU apic_id of
 * ncpus sees it: one package of ncpus cores, one thread each, APIC IDs
 * 0..ncpus-1. Leaf 1: EBX[31:24] the APIC ID, EBX[23:16] the IDs the
 * package spans, HTT; leaf 4: the cores per package and the L3's sharers;
 * leaf 0xB: the core level's count and shift, EDX the APIC ID. */
void cpuid_topology(struct cpuid_result *r, uint32_t leaf, uint32_t subleaf, unsigned apic_id,
		    unsigned ncpus);

/* MAXPHYADDR: leaf 0x80000008's EAX[7:0] where the model has that leaf,
 * else 36 with PAE or PSE-36 and 32 without (SDM vol. 3A, 4.1.4). */
unsigned cpuid_max_phys_bits(void);

/* 0 if the host CPU has what the model needs; otherwise -ENOTSUP with a
 * one-line message naming the missing features. */
int cpuid_check_host(char *err, size_t err_len);

#endif
