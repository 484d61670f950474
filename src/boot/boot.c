/* Chooses the guest loader from the kernel image itself, so --kernel takes
 * either format without a flag. */
#include "boot/boot.h"

#include <errno.h>
#include <stdlib.h>

#include "boot/linux.h"
#include "boot/multiboot.h"

int boot_load(struct guest_ram *ram, const struct boot_config *cfg, struct vcpu_state *cpu,
	      enum boot_kind *kind, char *err, size_t err_len)
{
	uint8_t *image;
	size_t size;
	if (!cfg || !cfg->kernel_path || !ram || !ram->host)
		return boot_fail(err, err_len, "(no kernel)", -EINVAL,
				 "no kernel or no guest RAM to load it into");
	int rc = boot_read_file(cfg->kernel_path, "kernel", ram->size, &image, &size, err, err_len);
	if (rc)
		return rc;
	if (linux_is_bzimage(image, size)) {
		*kind = BOOT_LINUX;
		rc = linux_load(ram, cfg, image, size, cpu, err, err_len);
	} else {
		*kind = BOOT_MULTIBOOT;
		rc = multiboot_load_image(ram, cfg, image, size, cpu, err, err_len);
	}
	free(image);
	return rc;
}
