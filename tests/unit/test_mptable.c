/* The MP tables read back the way Linux's mpparse reads them: the floating
 * pointer found by scanning the last KiB below 640 KiB on 16-byte steps
 * (signature, length 1, revision 1.4, checksum), the configuration table
 * it points at (signature, length, checksum, local APIC address), and
 * every entry in order: the processors (boot CPU first, enabled, CPUID
 * signature and features), the ISA bus, the I/O APIC, the ISA lines as
 * the MADT routes them (IRQ 0 on pin 2, no cascade, the SCI level and
 * active high) and ExtINT and NMI to LINT0 and LINT1; then several CPUs
 * and bad arguments. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "boot/mptable.h"
#include "check.h"
#include "devices/ioapic.h"
#include "devices/lapic.h"
#include "le_bytes.h"

#define EBDA_BASE 0x9fc00u
#define EBDA_LEN 0x400u
#define SIGNATURE 0x00000683u   /* family 6, model 8, stepping 3 */
#define FEATURES 0x0383fbffu

static uint8_t ebda[EBDA_LEN];

/* The floating pointer as smp_scan_config finds it, or NULL. */
static const uint8_t *scan(void)
{
	for (uint32_t off = 0; off + 16 <= EBDA_LEN; off += 16) {
		const uint8_t *p = ebda + off;
		if (!memcmp(p, "_MP_", 4) && p[8] == 1 && sums_to_zero(p, 16) &&
		    (p[9] == 1 || p[9] == 4))
			return p;
	}
	return NULL;
}

/* Builds for cpus processors and checks the whole block. */
static void check_tables(unsigned cpus)
{
	struct acpi_config cfg;
	acpi_config_default(&cfg);
	cfg.cpus = cpus;
	memset(ebda, 0xa5, sizeof(ebda));
	int n = mptable_build(ebda, sizeof(ebda), EBDA_BASE, &cfg, SIGNATURE, FEATURES);
	CHECK(n > 16 && n <= (int)MPTABLE_MAX_LEN);
	if (n <= 16)
		return;
	const uint8_t *f = scan();
	CHECK(f == ebda);   /* at the start of the EBDA: the scan's first step */
	if (!f)
		return;
	CHECK_EQ(f[11], 0);   /* a configuration table, not a default configuration */
	uint32_t table = get32(f + 4);
	CHECK(table >= EBDA_BASE && table < EBDA_BASE + EBDA_LEN);
	if (table < EBDA_BASE || table >= EBDA_BASE + EBDA_LEN)
		return;
	const uint8_t *t = ebda + (table - EBDA_BASE);
	CHECK(!memcmp(t, "PCMP", 4));
	uint16_t len = get16(t + 4);
	CHECK_EQ(table - EBDA_BASE + len, (uint32_t)n);
	CHECK_EQ(t[6], 4);
	CHECK(sums_to_zero(t, len));
	CHECK_EQ(get32(t + 36), cfg.lapic_addr);
	uint16_t count = get16(t + 34);
	CHECK_EQ(count, cpus + 2 + 15 + 2);

	const uint8_t *e = t + 44, *end = t + len;
	unsigned seen_cpus = 0, bus = 0, ioapic = 0, ioint = 0, localint = 0;
	bool pins[24] = { false };
	for (unsigned i = 0; i < count && e < end; i++) {
		switch (e[0]) {
		case 0:
			CHECK_EQ(bus + ioapic + ioint + localint, 0);   /* processors first */
			CHECK_EQ(e[1], seen_cpus);
			CHECK_EQ(e[2], (uint8_t)LAPIC_VERSION);
			CHECK_EQ(e[3], seen_cpus == 0 ? 3 : 1);
			CHECK_EQ(get32(e + 4), SIGNATURE);
			CHECK_EQ(get32(e + 8), FEATURES);
			seen_cpus++;
			e += 20;
			continue;
		case 1:
			CHECK_EQ(e[1], 0);
			CHECK(!memcmp(e + 2, "ISA   ", 6));
			bus++;
			break;
		case 2:
			CHECK_EQ(e[1], cfg.ioapic_id);
			CHECK_EQ(e[2], (uint8_t)IOAPIC_VERSION);
			CHECK_EQ(e[3], 1);
			CHECK_EQ(get32(e + 4), cfg.ioapic_addr);
			ioapic++;
			break;
		case 3: {
			unsigned irq = e[5], pin = e[7];
			CHECK_EQ(e[1], 0);    /* vectored */
			CHECK_EQ(e[4], 0);    /* from the ISA bus */
			CHECK_EQ(e[6], cfg.ioapic_id);
			CHECK(irq != 2);      /* the cascade */
			CHECK_EQ(pin, irq == 0 ? 2u : irq);
			CHECK_EQ(get16(e + 2), irq == cfg.sci_irq ? 0x000du : 0u);
			if (pin < 24) {
				CHECK(!pins[pin]);
				pins[pin] = true;
			}
			ioint++;
			break;
		}
		case 4:
			CHECK_EQ(e[1], localint == 0 ? 3 : 1);   /* ExtINT, then NMI */
			CHECK_EQ(e[6], 0xff);
			CHECK_EQ(e[7], localint);                /* LINT0, LINT1 */
			localint++;
			break;
		default:
			CHECK(!"unknown entry type");
			return;
		}
		e += 8;
	}
	CHECK(e == end);
	CHECK_EQ(seen_cpus, cpus);
	CHECK_EQ(bus, 1);
	CHECK_EQ(ioapic, 1);
	CHECK_EQ(ioint, 15);
	/* The IDE channels' IRQ 14 and 15 among them, edge and active high
	 * (conforming, checked above), as Linux takes them without ACPI. */
	CHECK(pins[14] && pins[15]);
	CHECK_EQ(localint, 2);
	/* Nothing past the block was touched. */
	for (size_t i = (size_t)n; i < sizeof(ebda); i++)
		CHECK_EQ(ebda[i], 0xa5);
}

static void test_bad_arguments(void)
{
	struct acpi_config cfg;
	acpi_config_default(&cfg);
	CHECK_EQ(mptable_build(ebda, sizeof(ebda), EBDA_BASE + 8, &cfg, 0, 0), -EINVAL);
	CHECK_EQ(mptable_build(ebda, 100, EBDA_BASE, &cfg, 0, 0), -ENOSPC);
	cfg.cpus = 0;
	CHECK_EQ(mptable_build(ebda, sizeof(ebda), EBDA_BASE, &cfg, 0, 0), -EINVAL);
	cfg.cpus = MPTABLE_MAX_CPUS + 1;
	CHECK_EQ(mptable_build(ebda, sizeof(ebda), EBDA_BASE, &cfg, 0, 0), -EINVAL);
	acpi_config_default(&cfg);
	cfg.sci_irq = 2;
	CHECK_EQ(mptable_build(ebda, sizeof(ebda), EBDA_BASE, &cfg, 0, 0), -EINVAL);
}

int main(void)
{
	check_tables(1);
	check_tables(4);
	check_tables(MPTABLE_MAX_CPUS);
	test_bad_arguments();
	return check_report("test_mptable");
}
