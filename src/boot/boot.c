/* Chooses the guest loader from the kernel image itself, so --kernel takes
 * either format without a flag. */
#include "boot/boot.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "boot/firmware.h"
#include "boot/linux.h"
#include "boot/multiboot.h"
#include "isa/msr.h"

int boot_load(struct guest_ram *ram, const struct boot_config *cfg, struct vcpu_state *cpu,
	      enum boot_kind *kind, char *err, size_t err_len)
{
	const uint8_t *image;
	uint8_t *owned = NULL;
	size_t size;
	int rc;
	if (cfg && cfg->firmware_data && ram && ram->host) {
		*kind = BOOT_FIRMWARE;
		firmware_load(ram, cfg->firmware_data, cfg->firmware_size, cfg->cpu_signature, cpu);
		msr_power_on(&cpu->msrs);   /* the firmware sets up the MTRRs */
		return 0;
	}
	if (!cfg || !cfg->kernel_path || !ram || !ram->host)
		return boot_fail(err, err_len, "(no kernel)", -EINVAL,
				 "no kernel or no guest RAM to load it into");
	if (cfg->kernel_data) {
		/* Already read (from a disk image): the same limits as a file's. */
		if (cfg->kernel_size == 0)
			return boot_fail(err, err_len, cfg->kernel_path, -ENOEXEC,
					 "kernel is an empty file");
		if ((uint64_t)cfg->kernel_size > ram->size)
			return boot_fail(err, err_len, cfg->kernel_path, -E2BIG,
					 "kernel is too large (%zu bytes, at most %" PRIu64 ")",
					 cfg->kernel_size, ram->size);
		image = cfg->kernel_data;
		size = cfg->kernel_size;
	} else {
		rc = boot_read_file(cfg->kernel_path, "kernel", ram->size, &owned, &size, err,
				    err_len);
		if (rc)
			return rc;
		image = owned;
	}
	if (linux_is_bzimage(image, size)) {
		*kind = BOOT_LINUX;
		rc = linux_load(ram, cfg, image, size, cpu, err, err_len);
	} else {
		*kind = BOOT_MULTIBOOT;
		rc = multiboot_load_image(ram, cfg, image, size, cpu, err, err_len);
	}
	free(owned);
	/* The kernel starts where firmware would have left the CPU. */
	msr_power_on(&cpu->msrs);
	msr_firmware_mtrrs(&cpu->msrs);
	return rc;
}
