/* Zydis's names of the segment registers as the vCPU's SEG_* indices, for
 * the translator (which addresses the segment fields of struct cpu) and
 * the monitor alike. */
#ifndef BTVM_ISA_SEG_REG_H
#define BTVM_ISA_SEG_REG_H

#include "isa/vcpu.h"

#include <Zydis/Zydis.h>

/* Zydis segment register -> SEG_* index (DS for anything else). */
static inline unsigned seg_reg_index(ZydisRegister seg)
{
	switch (seg) {
	case ZYDIS_REGISTER_ES: return SEG_ES;
	case ZYDIS_REGISTER_CS: return SEG_CS;
	case ZYDIS_REGISTER_SS: return SEG_SS;
	case ZYDIS_REGISTER_FS: return SEG_FS;
	case ZYDIS_REGISTER_GS: return SEG_GS;
	default: return SEG_DS;
	}
}

#endif
