/* Guest symbols: loading (ELF or a text map) and address lookup. */
#include "boot/symbols.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct symbol {
	uint32_t addr;
	char *name;
};

struct symbols {
	struct symbol *v;
	size_t n, cap;
};

/* A symbol farther than this from the address names nothing useful (a
 * map may hold only some of the functions). */
#define SYMBOL_MAX_OFFSET 0x10000u

static int add(struct symbols *s, uint32_t addr, const char *name)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		struct symbol *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	char *copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	s->v[s->n++] = (struct symbol){ addr, copy };
	return 0;
}

static int by_addr(const void *a, const void *b)
{
	const struct symbol *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int load_elf(int fd, struct symbols *s, char *err, size_t err_len, const char *path)
{
	if (elf_version(EV_CURRENT) == EV_NONE) {
		snprintf(err, err_len, "%s: libelf: %s", path, elf_errmsg(-1));
		return -EINVAL;
	}
	Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf) {
		snprintf(err, err_len, "%s: not a readable ELF file: %s", path, elf_errmsg(-1));
		return -EINVAL;
	}
	int ret = 0;
	for (Elf_Scn *scn = elf_nextscn(elf, NULL); scn && !ret; scn = elf_nextscn(elf, scn)) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize)
			continue;
		Elf_Data *data = elf_getdata(scn, NULL);
		size_t count = data ? data->d_size / sh.sh_entsize : 0;
		for (size_t i = 0; i < count && !ret; i++) {
			GElf_Sym sym;
			if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF)
				continue;
			int type = GELF_ST_TYPE(sym.st_info);
			if (type != STT_FUNC && type != STT_OBJECT && type != STT_NOTYPE)
				continue;
			const char *name = elf_strptr(elf, sh.sh_link, sym.st_name);
			/* nasm names its macros' local labels ..@N.x: no help to a reader. */
			if (name && *name && strncmp(name, "..@", 3) && sym.st_value <= UINT32_MAX)
				ret = add(s, (uint32_t)sym.st_value, name);
		}
	}
	elf_end(elf);
	if (ret)
		snprintf(err, err_len, "%s: %s", path, strerror(-ret));
	return ret;
}

/* System.map and /proc/kallsyms: "c1000000 T _text" (kallsyms may add a
 * module in brackets). All-zero addresses are what an unprivileged read
 * of kallsyms shows: they name nothing. */
static int load_text(FILE *f, struct symbols *s, char *err, size_t err_len, const char *path)
{
	char line[512];
	unsigned lineno = 0;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		unsigned long long addr;
		char type, name[256];
		if (sscanf(line, "%llx %c %255s", &addr, &type, name) != 3) {
			snprintf(err, err_len, "%s:%u: not a symbol map line (ADDRESS TYPE NAME)",
				 path, lineno);
			return -EINVAL;
		}
		if (addr == 0 || addr > UINT32_MAX)
			continue;
		int ret = add(s, (uint32_t)addr, name);
		if (ret) {
			snprintf(err, err_len, "%s: %s", path, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

int symbols_load(const char *path, struct symbols **out, char *err, size_t err_len)
{
	*out = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(err, err_len, "%s: %s", path, strerror(e));
		return -e;
	}
	unsigned char magic[4] = { 0 };
	ssize_t got = pread(fd, magic, sizeof(magic), 0);
	struct symbols *s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		snprintf(err, err_len, "%s: out of memory", path);
		return -ENOMEM;
	}
	int ret;
	if (got == 4 && !memcmp(magic, "\177ELF", 4)) {
		ret = load_elf(fd, s, err, err_len, path);
		close(fd);
	} else {
		FILE *f = fdopen(fd, "r");
		if (!f) {
			close(fd);
			symbols_free(s);
			snprintf(err, err_len, "%s: %s", path, strerror(errno));
			return -EIO;
		}
		ret = load_text(f, s, err, err_len, path);
		fclose(f);
	}
	if (ret || !s->n) {
		symbols_free(s);
		return ret;
	}
	qsort(s->v, s->n, sizeof(*s->v), by_addr);
	*out = s;
	return 0;
}

void symbols_free(struct symbols *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].name);
	free(s->v);
	free(s);
}

bool symbols_name(const struct symbols *s, uint32_t addr, char *buf, size_t len)
{
	if (!s || !s->n || addr < s->v[0].addr)
		return false;
	size_t lo = 0, hi = s->n;   /* the last symbol at or below addr */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->v[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	uint32_t off = addr - s->v[lo].addr;
	if (off > SYMBOL_MAX_OFFSET)
		return false;
	if (off)
		snprintf(buf, len, "%s+0x%x", s->v[lo].name, off);
	else
		snprintf(buf, len, "%s", s->v[lo].name);
	return true;
}
