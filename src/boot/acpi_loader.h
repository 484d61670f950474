/* btvm's ACPI tables (boot/acpi.h) for a guest booted through firmware:
 * packed as QEMU's fw_cfg table loader hands them to SeaBIOS, which puts
 * them in memory it chooses and patches them there. Three files:
 *   etc/acpi/tables   the tables of acpi_build's block built at address
 *                     0 (its RSDP cleared), so every pointer in them is an
 *                     offset into this file
 *   etc/acpi/rsdp     the RSDP, its pointers offsets into the tables
 *   etc/table-loader  128-byte commands (QEMU's BiosLinkerLoaderEntry):
 *                     ALLOCATE the tables (64-byte aligned, for the FACS,
 *                     in high memory) and the RSDP (16-byte aligned, in
 *                     the F segment, where an OS scans for it), ADD_POINTER
 *                     for each pointer (the tables' address added to it),
 *                     ADD_CHECKSUM for each table and the RSDP's two sums.
 * The pointers are found by building the block at two addresses and
 * comparing: a dword that moves by exactly the difference is one (the
 * checksum bytes, which move too, are left out of the comparison). So
 * acpi.c keeps one description of its tables. */
#ifndef BTVM_BOOT_ACPI_LOADER_H
#define BTVM_BOOT_ACPI_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "boot/acpi.h"

#define ACPI_LOADER_RSDP_LEN 36u
/* At most one pointer command per dword of the tables, and a checksum
 * per table: far less in practice (about 10 and 5). */
#define ACPI_LOADER_MAX_COMMANDS 64u
#define ACPI_LOADER_ENTRY_LEN 128u

struct acpi_loader_files {
	uint8_t tables[ACPI_TABLES_MAX_LEN];
	size_t tables_len;
	uint8_t rsdp[ACPI_LOADER_RSDP_LEN];
	uint8_t loader[ACPI_LOADER_MAX_COMMANDS * ACPI_LOADER_ENTRY_LEN];
	size_t loader_len;
};

/* Returns 0, or a negative errno (acpi_build's, or -ENOSPC). */
int acpi_loader_build(const struct acpi_config *cfg, struct acpi_loader_files *out);

#endif
