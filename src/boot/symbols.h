/* The guest kernel's symbols, for naming the addresses btvm reports
 * (--explain, --trap-and-emulate): a Multiboot kernel's own ELF symbol
 * table, or a System.map or a copy of /proc/kallsyms (--symbols FILE). */
#ifndef BTVM_BOOT_SYMBOLS_H
#define BTVM_BOOT_SYMBOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct symbols;

/* From an ELF file's .symtab (functions and objects) or, when the file is
 * not ELF, from "ADDRESS TYPE NAME" lines. 0 and *out (NULL when the file
 * has no symbols at all, which is no error for a kernel), or a negative
 * errno with a one-line reason in err. */
int symbols_load(const char *path, struct symbols **out, char *err, size_t err_len);
void symbols_free(struct symbols *s);
/* "name+0xoff" of the nearest symbol at or below addr, into buf; false
 * when none is (or s is NULL). */
bool symbols_name(const struct symbols *s, uint32_t addr, char *buf, size_t len);

#endif
