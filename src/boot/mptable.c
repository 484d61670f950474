/* MP Specification 1.4 floating pointer and configuration table builder
 * (see mptable.h). Entry layouts are those of the specification's
 * chapter 4; every multi-byte field is little-endian. */
#include "boot/mptable.h"

#include <errno.h>
#include <string.h>

#include "boot/table_bytes.h"
#include "devices/ioapic.h"
#include "devices/lapic.h"

#define MPF_LEN 16u
#define MPF_SPEC_REV 4u         /* 1.4 */

#define MPC_HEADER_LEN 44u
#define MPC_PROCESSOR 0u
#define MPC_PROCESSOR_LEN 20u
#define MPC_BUS 1u
#define MPC_IOAPIC 2u
#define MPC_IOINT 3u
#define MPC_LOCALINT 4u
#define MPC_SHORT_LEN 8u        /* every entry but a processor's */

#define CPU_ENABLED 0x01u
#define CPU_BOOTSTRAP 0x02u
#define IOAPIC_ENABLED 0x01u

#define INT_VECTORED 0u
#define INT_NMI 1u
#define INT_EXTINT 3u
/* Polarity in bits 0-1, trigger mode in bits 2-3, as in the MADT. */
#define INT_CONFORMING 0x0000u
#define INT_ACTIVE_HIGH_LEVEL 0x000du

#define ISA_BUS_ID 0u
#define ISA_IRQS 16u
#define ISA_TIMER_IRQ 0u
#define ISA_TIMER_PIN 2u        /* IRQ 0's I/O APIC input, as the MADT overrides it */
#define ISA_CASCADE_IRQ 2u      /* the 8259 cascade: no line of its own */
#define ALL_LAPICS 0xffu

/* An interrupt assignment entry (I/O or local: the same eight bytes). */
static uint32_t put_int(uint8_t *t, uint32_t off, uint8_t entry, uint8_t type, uint16_t flags,
			uint8_t src_irq, uint8_t dst_id, uint8_t dst_pin)
{
	t[off] = entry;
	t[off + 1] = type;
	put16(t, off + 2, flags);
	t[off + 4] = ISA_BUS_ID;
	t[off + 5] = src_irq;
	t[off + 6] = dst_id;
	t[off + 7] = dst_pin;
	return off + MPC_SHORT_LEN;
}

static uint32_t table_len(const struct acpi_config *cfg)
{
	/* Processors, the bus, the I/O APIC, the 15 ISA lines (not the
	 * cascade), ExtINT and NMI to the local APICs. */
	return MPC_HEADER_LEN + cfg->cpus * MPC_PROCESSOR_LEN + 2 * MPC_SHORT_LEN +
	       (ISA_IRQS - 1) * MPC_SHORT_LEN + 2 * MPC_SHORT_LEN;
}

int mptable_build(uint8_t *buf, size_t cap, uint32_t phys_base, const struct acpi_config *cfg,
		  uint32_t cpu_signature, uint32_t cpu_features)
{
	if (phys_base % 16 || cfg->cpus < 1 || cfg->cpus > MPTABLE_MAX_CPUS ||
	    cfg->sci_irq >= ISA_IRQS || cfg->sci_irq == ISA_TIMER_IRQ ||
	    cfg->sci_irq == ISA_CASCADE_IRQ)
		return -EINVAL;
	uint32_t len = MPF_LEN + table_len(cfg);
	if (cap < len || len > MPTABLE_MAX_LEN)
		return -ENOSPC;
	memset(buf, 0, len);

	uint8_t *f = buf;
	memcpy(f, "_MP_", 4);
	put32(f, 4, phys_base + MPF_LEN);
	f[8] = MPF_LEN / 16;
	f[9] = MPF_SPEC_REV;
	/* Feature bytes 0: the configuration table is there, and the
	 * 8259 reaches the local APIC's LINT0 (virtual wire), no IMCR. */
	f[10] = checksum(f, MPF_LEN);

	uint8_t *t = buf + MPF_LEN;
	uint32_t tlen = table_len(cfg), off = MPC_HEADER_LEN;
	memcpy(t, "PCMP", 4);
	put16(t, 4, (uint16_t)tlen);
	t[6] = MPF_SPEC_REV;
	memcpy(t + 8, "BTVM    ", 8);
	memcpy(t + 16, "btvm PC     ", 12);
	put32(t, 36, cfg->lapic_addr);
	uint16_t entries = 0;

	for (unsigned i = 0; i < cfg->cpus; i++, entries++) {
		t[off] = MPC_PROCESSOR;
		t[off + 1] = (uint8_t)i;	/* local APIC id, as in the MADT */
		t[off + 2] = (uint8_t)LAPIC_VERSION;
		t[off + 3] = (uint8_t)(CPU_ENABLED | (i == 0 ? CPU_BOOTSTRAP : 0));
		put32(t, off + 4, cpu_signature);
		put32(t, off + 8, cpu_features);
		off += MPC_PROCESSOR_LEN;
	}
	t[off] = MPC_BUS;
	t[off + 1] = ISA_BUS_ID;
	memcpy(t + off + 2, "ISA   ", 6);
	off += MPC_SHORT_LEN;
	entries++;
	t[off] = MPC_IOAPIC;
	t[off + 1] = cfg->ioapic_id;
	t[off + 2] = (uint8_t)IOAPIC_VERSION;
	t[off + 3] = IOAPIC_ENABLED;
	put32(t, off + 4, cfg->ioapic_addr);
	off += MPC_SHORT_LEN;
	entries++;
	/* Each ISA line on the I/O APIC input of its number, IRQ 0 on pin 2
	 * and the SCI level-triggered, active high: the MADT's overrides. */
	for (uint8_t irq = 0; irq < ISA_IRQS; irq++) {
		if (irq == ISA_CASCADE_IRQ)
			continue;
		uint8_t pin = irq == ISA_TIMER_IRQ ? ISA_TIMER_PIN : irq;
		uint16_t flags = irq == cfg->sci_irq ? INT_ACTIVE_HIGH_LEVEL : INT_CONFORMING;
		off = put_int(t, off, MPC_IOINT, INT_VECTORED, flags, irq, cfg->ioapic_id, pin);
		entries++;
	}
	off = put_int(t, off, MPC_LOCALINT, INT_EXTINT, INT_CONFORMING, 0, ALL_LAPICS, 0);
	off = put_int(t, off, MPC_LOCALINT, INT_NMI, INT_CONFORMING, 0, ALL_LAPICS, 1);
	entries += 2;
	put16(t, 34, entries);
	t[7] = checksum(t, tlen);
	return off == tlen ? (int)len : -EINVAL;
}
