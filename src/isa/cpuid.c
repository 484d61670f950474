/* btvm's CPUID model: a P6-class "GenuineIntel" CPU, family 6 model 8
 * stepping 3 (a Pentium III), with SSE2 added, the same on every host.
 * Its one host-dependent answer is the guest TSC's rate (leaves 0x15 and
 * 0x16), which the guest would otherwise measure: a kernel told it skips
 * its calibration loops against the PIT and the APIC timer.
 * Unknown leaves answer as Intel CPUs do: a leaf above the highest basic
 * or extended one returns the highest basic leaf's data. */
#include "isa/cpuid.h"

#include <cpuid.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MAX_BASIC 0x16u
#define MAX_EXTENDED 0x80000008u

static uint32_t chars4(const char *s)
{
	uint32_t v;
	memcpy(&v, s, 4);
	return v;
}

/* "btvm virtual CPU (P6 family)", padded with NULs to 48 bytes. */
static const char brand[48] = "btvm virtual CPU (P6 family)";

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
		{ 0x121, (3u << 22) | 31, 16384 / (4 * 32) - 1, 0 },   /* L1 data: 16 KiB, 4-way */
		{ 0x122, (3u << 22) | 31, 16384 / (4 * 32) - 1, 0 },   /* L1 code: 16 KiB, 4-way */
		{ 0x143, (7u << 22) | 31, 262144 / (8 * 32) - 1, 0 },  /* L2: 256 KiB, 8-way */
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
		 * CLFSH, MTRR, MCE/MCA, PAT, DS, ACPI (thermal), SS, HTT. */
		r.eax = 0x00000683;
		r.edx = CPUID_MODEL_1D & ~(apic_enabled ? 0u : CPUID_1D_APIC);
		break;
	case 2:
		/* A Pentium III's descriptors: 01 02 03 (TLBs) in EAX with
		 * the count 01; 0c 04 08 82 in EDX: 16 KiB L1 data, 4 MiB
		 * DTLB, 16 KiB L1 code, 256 KiB 8-way L2 with 32-byte lines. */
		r.eax = 0x03020101;
		r.edx = 0x0c040882;
		break;
	case 4:
		r = cache_leaf(subleaf);
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
	case 0x16:
		/* Base and maximum frequency, and the bus's, in MHz. */
		if (tsc_hz / 1000 && tsc_hz / 1000 <= UINT32_MAX) {
			r.eax = (uint32_t)(tsc_hz / 1000000);
			r.ebx = r.eax;
			r.ecx = CPUID_CRYSTAL_HZ / 1000000;
		}
		break;
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
		r.edx = CPUID_80000001D_NX;   /* no LM, SYSCALL, LAHF-LM: a 32-bit CPU */
		break;
	case 0x80000008u:
		/* A 32-bit physical address under PAE too, as QEMU gives a 32-bit
		 * CPU without PSE-36 (and as a Pentium M): no address above
		 * 4 GiB exists on the board. */
		r.eax = CPUID_80000008A_ADDR_BITS;
		break;
	case 0x80000005u:
	case 0x80000006u:
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

int cpuid_check_host(char *err, size_t err_len)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} names[] = {
		{ CPUID_1D_FPU, "fpu" }, { CPUID_1D_CX8, "cx8" },   { CPUID_1D_CMOV, "cmov" },
		{ CPUID_1D_MMX, "mmx" }, { CPUID_1D_FXSR, "fxsr" }, { CPUID_1D_SSE, "sse" },
		{ CPUID_1D_SSE2, "sse2" },
	};
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		d = 0;
	uint32_t missing = CPUID_MODEL_HOST_NEEDS & ~d;
	if (!missing)
		return 0;
	size_t n = (size_t)snprintf(err, err_len, "the host CPU lacks what the virtual CPU needs:");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && n < err_len; i++)
		if (missing & names[i].bit)
			n += (size_t)snprintf(err + n, err_len - n, " %s", names[i].name);
	return -ENOTSUP;
}
