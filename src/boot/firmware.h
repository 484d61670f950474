/* Booting through firmware (SeaBIOS): the ROM image read and checked, put
 * where a PC's chipset shows it after reset, and the processor in its
 * reset state, about to fetch at 0xFFFFFFF0. */
#ifndef BTVM_BOOT_FIRMWARE_H
#define BTVM_BOOT_FIRMWARE_H

#include <stddef.h>
#include <stdint.h>

#include "isa/vcpu.h"
#include "mmu/guest_ram.h"

/* The ROM sizes a PC board maps: 64 KiB steps up to the 256 KiB between
 * 0xC0000 and 1 MiB (SeaBIOS's bios.bin is 128 KiB, bios-256k.bin 256). */
#define FIRMWARE_MIN_SIZE 0x10000u
#define FIRMWARE_MAX_SIZE 0x40000u
#define FIRMWARE_DEFAULT_PATH "/usr/share/seabios/bios-256k.bin"
/* The VGA BIOS for the std VGA (1234:1111), which SeaBIOS finds as the
 * fw_cfg file "pci1234,1111.rom" and runs as the display's option ROM. */
#define FIRMWARE_VGA_ROM_PATH "/usr/share/seabios/vgabios-stdvga.bin"
#define FIRMWARE_OPTION_ROM_MAX 0x20000u

/* Reads a ROM image into a malloc'd buffer. Returns 0, or a negative
 * errno with a one-line message naming the file. */
int firmware_read(const char *path, uint8_t **image, size_t *size, char *err, size_t err_len);

/* Power-on or reset with the ROM image: RAM below 1 MiB gets the image's
 * bytes at its end (the chipset shows the ROM there until the firmware
 * shadows it), the top of the 32-bit space becomes its read-only alias
 * (ram->rom_size), and *cpu the state of an IA-32 processor after RESET:
 * real mode, CS F000 with base 0xFFFF0000, IP 0xFFF0, EDX the CPUID
 * signature (leaf 1's EAX, given). */
void firmware_load(struct guest_ram *ram, const uint8_t *image, size_t size,
		   uint32_t cpu_signature, struct vcpu_state *cpu);
/* The state of an IA-32 processor after RESET alone (firmware_load's). */
void firmware_reset_state(uint32_t cpu_signature, struct vcpu_state *cpu);
/* An application processor's state after INIT and a start-up IPI with
 * this vector (SDM vol. 3, 9.4.4 "MP Initialization Example"): the RESET
 * state in real mode but for CS = vector << 8 (base vector << 12) and
 * IP 0. */
void firmware_startup_state(uint32_t cpu_signature, uint8_t vector, struct vcpu_state *cpu);

#endif
