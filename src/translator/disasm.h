/* Disassembly listings (Capstone) for --trace: each translated block with
 * its guest address, length and instructions. */
#ifndef BTVM_TRANSLATOR_DISASM_H
#define BTVM_TRANSLATOR_DISASM_H

#include <stdint.h>
#include <stdio.h>

struct tblock;

void disasm_trace_block(FILE *out, const struct tblock *tb, const uint8_t *guest_bytes);

#endif
