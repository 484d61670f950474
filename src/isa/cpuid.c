/* btvm's CPUID model: a P6-family "GenuineIntel" CPU shaped after the
 * first Core i7 (Nehalem, family 6 model 0x1A stepping 5): SSE3 to SSE4.2,
 * POPCNT, CLFLUSH, RDTSCP, MTRR, PAT, MCE/MCA, architectural performance
 * monitoring (present and idle); no VMX, MONITOR, x2APIC or long mode;
 * one core, one thread (leaf 0xB); the same on every host.
 * Its one host-dependent answer is the guest TSC's rate (leaves 0x15 and
 * 0x16), which the guest would otherwise measure: a kernel told it skips
 * its calibration loops against the PIT and the APIC timer.
 * Unknown leaves answer as Intel CPUs do: a leaf above the highest basic
 * or extended one returns the highest basic leaf's data. */
#include "isa/cpuid.h"

#include "isa/vcpu.h"

#include <cpuid.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MAX_BASIC 0x16u
#define MAX_EXTENDED 0x80000008u

/* Family 6, model 0x1A (extended model 1, model 0xA), stepping 5. */
#define SIGNATURE 0x000106a5u
/* Leaf 1 EBX: CLFLUSH line size in 8-byte units (bits 15:8): 64 bytes. */
#define CLFLUSH_LINE_8 8u

/* Leaf 1 EDX bits the model does not advertise but whose CR4 bits the
 * writable mask follows, should it advertise them. */
#define LEAF1_EDX_DE (1u << 2)
#define LEAF1_EDX_PAE (1u << 6)
#define LEAF1_EDX_PSE36 (1u << 17)

static uint32_t chars4(const char *s)
{
	uint32_t v;
	memcpy(&v, s, 4);
	return v;
}

/* Padded with NULs to 48 bytes. */
static const char brand[48] = "btvm virtual CPU (Core i7 class)";

/* The TSC's rate over the crystal's as num / den. Linux computes the
 * crystal's kHz times num in 32 bits, so num stays below 2^32 / 100,000:
 * the closest such fraction: within 2.5 ppm for rates of 0.8-4.3 GHz
 * (0.0002 ppm for this project's 2.6 GHz host), less than a quartz
 * crystal's own tolerance. 0 / 0 when
 * there is none (no rate, or one the fraction cannot reach). */
static void tsc_ratio(uint64_t tsc_hz, uint32_t *num, uint32_t *den)
{
	const uint64_t num_max = UINT32_MAX / (CPUID_CRYSTAL_HZ / 1000);
	uint64_t best_q = 0, best_diff = 0;
	*num = *den = 0;
	for (uint64_t q = 1; q <= num_max; q++) {
		uint64_t p = (tsc_hz * q + CPUID_CRYSTAL_HZ / 2) / CPUID_CRYSTAL_HZ;
		if (p > num_max)
			break;
		if (!p)
			continue;
		/* The error of p / q is diff / (q * crystal): compare
		 * diff / q with the best one's without dividing. */
		uint64_t a = tsc_hz * q, b = p * CPUID_CRYSTAL_HZ;
		uint64_t diff = a > b ? a - b : b - a;
		if (!best_q || (unsigned __int128)diff * best_q < (unsigned __int128)best_diff * q) {
			best_q = q;
			best_diff = diff;
			*num = (uint32_t)p;
			*den = (uint32_t)q;
		}
	}
}

/* The L2 cache, as leaf 4's subleaf 2 and leaf 0x80000006 give it. */
#define L2_KIB 256u
#define L2_WAYS 8u
#define CACHE_LINE 64u
/* Leaf 0x80000006's associativity code for 8 ways (SDM vol. 2A, CPUID). */
#define L2_WAYS_CODE_8 6u

/* Leaf 0xB's level types (ECX bits 15:8). */
#define TOPOLOGY_SMT 1u
#define TOPOLOGY_CORE 2u

/* Leaf 4 (deterministic cache parameters), subleaf by subleaf: the same
 * three caches leaf 2's descriptors name, then a null one that ends the
 * list. A CPU whose highest basic leaf is 4 or more has this leaf, and
 * software that finds it reads the caches from it alone, not from leaf 2
 * (Memtest86+ showed "N/A" for every cache while this leaf was zeros).
 * EAX: type (1 data, 2 code, 3 unified) | level << 5 | self-initializing
 * (bit 8); one core and one thread share each (bits 14-31 zero).
 * EBX: ways - 1 << 22 | partitions - 1 << 12 | line size - 1; ECX: sets - 1. */
static struct cpuid_result cache_leaf(uint32_t subleaf)
{
	static const struct cpuid_result caches[] = {
		{ 0x121, (7u << 22) | 63, 32768 / (8 * 64) - 1, 0 },      /* L1 data: 32 KiB, 8-way */
		{ 0x122, (3u << 22) | 63, 32768 / (4 * 64) - 1, 0 },      /* L1 code: 32 KiB, 4-way */
		{ 0x143, ((L2_WAYS - 1) << 22) | (CACHE_LINE - 1),                /* L2: 256 KiB, 8-way */
		  L2_KIB * 1024 / (L2_WAYS * CACHE_LINE) - 1, 0 },
		/* L3: 8 MiB, 16-way, inclusive of the lower levels (EDX bit 1). */
		{ 0x163, (15u << 22) | 63, 8388608 / (16 * 64) - 1, 2 },
	};
	struct cpuid_result none = { 0, 0, 0, 0 };
	return subleaf < sizeof(caches) / sizeof(caches[0]) ? caches[subleaf] : none;
}

static struct cpuid_result basic_leaf(uint32_t leaf, uint32_t subleaf, bool apic_enabled,
				      uint64_t tsc_hz)
{
	struct cpuid_result r = { 0, 0, 0, 0 };
	switch (leaf) {
	case 0:
		r.eax = MAX_BASIC;
		r.ebx = chars4("Genu");
		r.edx = chars4("ineI");
		r.ecx = chars4("ntel");
		break;
	case 1:
		/* No PAE, PSE-36 or NX: 32-bit physical addresses only. No
		 * VME, DE, DS, ACPI (thermal), SS, HTT; no MONITOR, VMX,
		 * EST, x2APIC, CX16 (a 64-bit instruction). EBX: the
		 * CLFLUSH line; APIC ID 0 (with --smp, cpuid_topology
		 * gives each CPU its own, and HTT). */
		r.eax = SIGNATURE;
		r.ebx = CLFLUSH_LINE_8 << 8;
		r.ecx = CPUID_MODEL_1C;
		r.edx = CPUID_MODEL_1D & ~(apic_enabled ? 0u : CPUID_1D_APIC);
		break;
	case 2:
		/* A Core i7 920's descriptors: 5a 03 55 (TLBs) with the
		 * count 01 in EAX; e4 (8 MiB L3) b2 f0 (64-byte prefetch)
		 * in EBX; 2c (32 KiB L1 data) 21 (256 KiB L2) ca (shared
		 * TLB) 09 (32 KiB L1 code) in EDX. */
		r.eax = 0x55035a01;
		r.ebx = 0x00f0b2e4;
		r.edx = 0x09ca212c;
		break;
	case 4:
		r = cache_leaf(subleaf);
		break;
	case 0xb:
		/* Extended topology, as a Nehalem has it (without x2APIC):
		 * one thread at the SMT level (subleaf 0), one core at the
		 * core level (1), no bits of the APIC ID to shift past at
		 * either (EAX 0), then an invalid level (type 0) that ends
		 * the list; EDX the x2APIC ID (the APIC ID, 0), ECX the
		 * subleaf's number in bits 7:0 at every level. */
		r.ecx = subleaf & 0xff;
		if (subleaf < 2) {
			r.ebx = 1;
			r.ecx |= (subleaf ? TOPOLOGY_CORE : TOPOLOGY_SMT) << 8;
		}
		break;
	case 0xa:
		/* Architectural performance monitoring version 3, as a Core i7
		 * reports it: 4 general-purpose counters of 48 bits, a 7-bit
		 * EBX vector with every architectural event available (0), 3
		 * fixed-function counters of 48 bits. The counters never count
		 * (isa/msr.c). */
		r.eax = 3u | PMU_GP_COUNTERS << 8 | PMU_COUNTER_BITS << 16 | 7u << 24;
		r.edx = PMU_FIXED_COUNTERS | PMU_COUNTER_BITS << 5;
		break;
	case 0x15:
		/* The core crystal is the APIC timer's input clock, and the
		 * TSC runs at ECX * EBX / EAX Hz: Linux then takes both rates
		 * from here (native_calibrate_tsc) instead of measuring them
		 * for about 0.1 s. */
		tsc_ratio(tsc_hz, &r.ebx, &r.eax);
		if (r.eax)
			r.ecx = CPUID_CRYSTAL_HZ;
		break;
	case 0x16: {
		/* Base and maximum frequency, and the bus's, in MHz. The base
		 * is leaf 0x15's rate in whole MHz, computed as Linux does
		 * (native_calibrate_tsc: crystal kHz * EBX / EAX, truncated),
		 * so that its cpu_khz (cpu_khz_from_cpuid: this * 1000) and
		 * tsc_khz name the same MHz; the host's rate truncated would
		 * differ by one where the fraction lands just below a whole
		 * MHz. Without a fraction, that truncated rate. */
		uint32_t num, den;
		tsc_ratio(tsc_hz, &num, &den);
		if (den)
			r.eax = (uint32_t)((uint64_t)(CPUID_CRYSTAL_HZ / 1000) * num / den / 1000);
		else if (tsc_hz / 1000 && tsc_hz / 1000 <= UINT32_MAX)
			r.eax = (uint32_t)(tsc_hz / 1000000);
		if (r.eax) {
			r.ebx = r.eax;
			r.ecx = CPUID_CRYSTAL_HZ / 1000000;
		}
		break;
	}
	}
	return r;
}

struct cpuid_result cpuid_model(uint32_t leaf, uint32_t subleaf, bool apic_enabled,
				uint64_t tsc_hz)
{
	struct cpuid_result r = { 0, 0, 0, 0 };
	if (leaf <= MAX_BASIC)
		return basic_leaf(leaf, subleaf, apic_enabled, tsc_hz);
	if (leaf < 0x80000000u || leaf > MAX_EXTENDED)
		return basic_leaf(MAX_BASIC, subleaf, apic_enabled, tsc_hz);
	switch (leaf) {
	case 0x80000000u:
		r.eax = MAX_EXTENDED;
		break;
	case 0x80000001u:
		/* NX and RDTSCP; no LM, SYSCALL, LAHF-LM: a 32-bit CPU. */
		r.edx = CPUID_MODEL_81D;
		break;
	case 0x80000008u:
		/* MAXPHYADDR 36 (SDM 4.1.4: the width a PAE processor without
		 * this leaf has; a Pentium M's), so PAE reaches RAM above
		 * 4 GiB and bits 51:36 of an entry are reserved. 32 linear
		 * bits: EAX[15:8] is the linear width the processor
		 * implements (SDM's CPUID, AMD's APM LinAddrSize), and
		 * without long mode every linear address is 32 bits. */
		r.eax = CPUID_80000008A_ADDR_BITS;
		break;
	case 0x80000006u:
		/* Intel's L2 leaf: ECX holds the size in KiB (31:16), the
		 * associativity's code (15:12) and the line size (7:0), the
		 * same cache as leaf 4's subleaf 2 (a Core i7 920: 0x01006040). */
		r.ecx = L2_KIB << 16 | L2_WAYS_CODE_8 << 12 | CACHE_LINE;
		break;
	case 0x80000005u:
	case 0x80000007u:
		break;   /* reserved on Intel: zeros */
	default: {
		const char *p = brand + 16 * (leaf - 0x80000002u);
		r.eax = chars4(p);
		r.ebx = chars4(p + 4);
		r.ecx = chars4(p + 8);
		r.edx = chars4(p + 12);
		break;
	}
	}
	return r;
}

uint32_t cpuid_cr4_writable(void)
{
	uint32_t edx = basic_leaf(1, 0, true, 0).edx;
	uint32_t mask = CR4_TSD | CR4_PCE;
	if (edx & CPUID_1D_VME)
		mask |= CR4_VME | CR4_PVI;
	if (edx & LEAF1_EDX_DE)
		mask |= CR4_DE;
	if (edx & CPUID_1D_PSE)
		mask |= CR4_PSE;
	if (edx & LEAF1_EDX_PAE)
		mask |= CR4_PAE_BIT;
	if (edx & CPUID_1D_MCE)
		mask |= CR4_MCE;
	if (edx & CPUID_1D_PGE)
		mask |= CR4_PGE;
	if (edx & CPUID_1D_FXSR)
		mask |= CR4_OSFXSR;
	if (edx & CPUID_1D_SSE)
		mask |= CR4_OSXMMEXCPT;
	return mask;
}

unsigned cpuid_max_phys_bits(void)
{
	if (cpuid_model(0x80000000u, 0, true, 0).eax >= 0x80000008u)
		return cpuid_model(0x80000008u, 0, true, 0).eax & 0xff;
	return basic_leaf(1, 0, true, 0).edx & (LEAF1_EDX_PAE | LEAF1_EDX_PSE36) ? 36 : 32;
}

int cpuid_check_host(char *err, size_t err_len)
{
	static const struct {
		uint32_t bit;
		bool ecx;
		const char *name;
	} names[] = {
		{ CPUID_1D_FPU, false, "fpu" },     { CPUID_1D_CX8, false, "cx8" },
		{ CPUID_1D_CMOV, false, "cmov" },   { CPUID_1D_MMX, false, "mmx" },
		{ CPUID_1D_FXSR, false, "fxsr" },   { CPUID_1D_SSE, false, "sse" },
		{ CPUID_1D_SSE2, false, "sse2" },   { CPUID_1C_SSE3, true, "sse3" },
		{ CPUID_1C_SSSE3, true, "ssse3" },  { CPUID_1C_SSE41, true, "sse4_1" },
		{ CPUID_1C_SSE42, true, "sse4_2" }, { CPUID_1C_POPCNT, true, "popcnt" },
	};
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		c = d = 0;
	uint32_t missing_d = CPUID_MODEL_HOST_NEEDS & ~d;
	uint32_t missing_c = CPUID_MODEL_HOST_NEEDS_1C & ~c;
	if (!missing_d && !missing_c)
		return 0;
	size_t n = (size_t)snprintf(err, err_len, "the host CPU lacks what the virtual CPU needs:");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && n < err_len; i++)
		if ((names[i].ecx ? missing_c : missing_d) & names[i].bit)
			n += (size_t)snprintf(err + n, err_len - n, " %s", names[i].name);
	return -ENOTSUP;
}

void cpuid_topology(struct cpuid_result *r, uint32_t leaf, uint32_t subleaf, unsigned apic_id,
		    unsigned ncpus)
{
	/* The APIC ID bits the cores take: IDs span a power of two. */
	unsigned shift = 0;
	while ((1u << shift) < ncpus)
		shift++;
	uint32_t span = 1u << shift;
	if (leaf == 1) {
		r->ebx = (r->ebx & 0xffffu) | (span & 0xffu) << 16 | (apic_id & 0xffu) << 24;
		if (ncpus > 1)
			r->edx |= CPUID_1D_HTT;
	} else if (leaf == 4 && (r->eax & 0x1f)) {
		/* EAX[31:26]: cores per package - 1; the L3 (level 3) is the
		 * package's, the others each core's own (EAX[25:14]). */
		r->eax = (r->eax & 0x03ffffffu) | (span - 1) << 26;
		if (((r->eax >> 5) & 7) == 3)
			r->eax = (r->eax & ~(0xfffu << 14)) | (span - 1) << 14;
	} else if (leaf == 0xb) {
		if (subleaf == 1) {
			r->eax = shift;
			r->ebx = ncpus;
		}
		r->edx = apic_id;
	}
}
