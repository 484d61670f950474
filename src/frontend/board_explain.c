/* The --explain table and the --trap-and-emulate report: the vCPU's
 * counts and notes (cpu/explain.h) named with the guest's symbols, as text
 * at exit (and on SIGTERM) and as the "sensitive" array of --stats-json.
 * Each vCPU keeps its own record; the reports show the machine's sums,
 * and with several vCPUs each one's figures too. */
#include "frontend/board_explain.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/symbols.h"
#include "cpu/explain.h"
#include "machine/control.h"

struct board_explain {
	struct board *board;
	const struct board_config *cfg;
	struct symbols *symbols;        /* the guest's; NULL if none */
};

int board_explain_open(struct board_explain **out, struct board *board, char *err,
		       size_t err_len)
{
	struct board_explain *ex = calloc(1, sizeof(*ex));
	*out = NULL;
	if (!ex) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	ex->board = board;
	ex->cfg = board_config(board);
	*out = ex;
	const struct board_config *cfg = ex->cfg;
	if (!cfg->explain && !cfg->trap_emulate)
		return 0;
	/* --symbols names them; a Multiboot kernel's own ELF symbols do
	 * otherwise (a bzImage has none: the table then shows addresses). */
	const char *path = cfg->symbols_path;
	if (!path && cfg->kernel_path && !cfg->restore_path) {
		char ignored[256];
		symbols_load(cfg->kernel_path, &ex->symbols, ignored, sizeof(ignored));
		return 0;
	}
	char why[300];
	int ret = 0;
	if (path && symbols_load(path, &ex->symbols, why, sizeof(why)) < 0) {
		snprintf(err, err_len, "--symbols %s", why);
		ret = -EINVAL;
	} else if (path && !ex->symbols) {
		snprintf(err, err_len, "--symbols %s: no symbols in it", path);
		ret = -ENOENT;
	}
	if (ret) {
		board_explain_close(ex);
		*out = NULL;
	}
	return ret;
}

void board_explain_close(struct board_explain *ex)
{
	if (!ex)
		return;
	symbols_free(ex->symbols);
	free(ex);
}

static const char *where(const struct board_explain *ex, uint32_t eip, char *buf, size_t len)
{
	if (!symbols_name(ex->symbols, eip, buf, len))
		snprintf(buf, len, "-");
	return buf;
}

/* What btvm does instead of trusting the hardware (the table's handling
 * and note). */
static void btvm_text(const struct sensitive_insn *s, char *buf, size_t len)
{
	snprintf(buf, len, "%s: %s", s->handling == HANDLE_INLINE ? "inline" : "callout", s->note);
}

/* One line of the table: a row seen executing; MOV's segment and
 * control/debug register forms apart. */
struct explain_line {
	const struct sensitive_insn *sens;
	bool privileged_form;
	const struct explain_count *count;
};

/* The lines in table order. */
static unsigned collect(const struct explain *e, struct explain_line *out, unsigned max)
{
	unsigned n = 0;
	for (unsigned i = 0; i < sensitive_table_size() && i < EXPLAIN_MAX_ROWS; i++) {
		const struct sensitive_insn *s = sensitive_table_entry(i);
		if (s->cls == SENS_MONITOR)
			continue;   /* not sensitive in Popek and Goldberg's sense */
		for (unsigned form = 0; form < 2 && n < max; form++) {
			const struct explain_count *c = &e->counts[i][form];
			if (c->seen)
				out[n++] = (struct explain_line){ s, form == 1, c };
		}
	}
	return n;
}

static const char *line_name(const struct explain_line *l)
{
	if (l->sens->operands == OPS_SPECIAL_REG)
		return l->privileged_form ? "MOV CRn/DRn" : "MOV seg";
	return l->sens->name;
}

static const char *line_native(const struct explain_line *l)
{
	if (l->sens->operands == OPS_SPECIAL_REG)
		return l->privileged_form ? "#GP: traps, the monitor emulates it"
					  : "MOV from CS/SS shows RPL 3; loads check CPL 3; no trap";
	return l->sens->native ? l->sens->native : "-";
}

/* The machine's record: every vCPU's added up (explain_add). NULL
 * without --explain and --trap-and-emulate, or out of memory. */
static struct explain *machine_total(const struct board_explain *ex)
{
	if (!board_vcpu_explain(ex->board, 0))
		return NULL;
	struct explain *sum = explain_new();
	for (unsigned i = 0; sum && i < board_vcpu_count(ex->board); i++)
		explain_add(sum, board_vcpu_explain(ex->board, i));
	return sum;
}

static const struct explain_count *vcpu_count(const struct board_explain *ex, unsigned vcpu,
					      const struct explain_line *l)
{
	const struct explain *e = board_vcpu_explain(ex->board, vcpu);
	return &e->counts[sensitive_table_index(l->sens)][l->privileged_form];
}

/* With several vCPUs, each line's executions on each (the table above
 * has their sums). */
static void print_per_vcpu(const struct board_explain *ex, const struct explain_line *lines,
			   unsigned n, FILE *out)
{
	unsigned nvcpus = board_vcpu_count(ex->board);
	if (nvcpus < 2)
		return;
	fprintf(out, "btvm explain: per vCPU, executions at CPL 0 / at CPL 3\n  %-12s", "instruction");
	for (unsigned v = 0; v < nvcpus; v++) {
		char head[16];
		snprintf(head, sizeof(head), "vCPU %u", v);
		fprintf(out, " %21s", head);
	}
	fputc('\n', out);
	for (unsigned i = 0; i < n; i++) {
		fprintf(out, "  %-12s", line_name(&lines[i]));
		for (unsigned v = 0; v < nvcpus; v++) {
			const struct explain_count *c = vcpu_count(ex, v, &lines[i]);
			char cell[48];
			snprintf(cell, sizeof(cell), "%llu / %llu", (unsigned long long)c->cpl0,
				 (unsigned long long)c->cpl3);
			fprintf(out, " %21s", cell);
		}
		fputc('\n', out);
	}
}

static void print_table(const struct board_explain *ex, const struct explain *e, FILE *out)
{
	char sym[160], btvm[200];
	struct explain_line lines[EXPLAIN_MAX_ROWS * 2];
	unsigned n = collect(e, lines, EXPLAIN_MAX_ROWS * 2);
	unsigned nvcpus = board_vcpu_count(ex->board);
	fprintf(out, "btvm explain: the sensitive instructions the guest executed (%u kinds)", n);
	if (nvcpus > 1)
		fprintf(out, ", on all %u vCPUs", nvcpus);
	fputc('\n', out);
	fprintf(out, "  %-12s %-22s %-17s %12s %12s  %-8s %s\n", "instruction", "class", "sensitivity",
		"at CPL 0", "at CPL 3", "first at", "symbol");
	for (unsigned i = 0; i < n; i++) {
		const struct explain_line *l = &lines[i];
		fprintf(out, "  %-12s %-22s %-17s %12llu %12llu  %08x %s\n", line_name(l),
			explain_class_name(l->sens, l->privileged_form),
			sensitive_kind_name(l->sens->kind), (unsigned long long)l->count->cpl0,
			(unsigned long long)l->count->cpl3, l->count->first_eip,
			where(ex, l->count->first_eip, sym, sizeof(sym)));
		btvm_text(l->sens, btvm, sizeof(btvm));
		fprintf(out, "      a kernel deprivileged to CPL 3: %s\n", line_native(l));
		fprintf(out, "      btvm instead: %s\n", btvm);
	}
	fprintf(out, "  (executions, counted in the monitor: under --explain every sensitive\n"
		     "  instruction is a callout; CPL 1 and 2 count under CPL 3)\n");
	print_per_vcpu(ex, lines, n, out);
}

static void print_notes(const struct board_explain *ex, const struct explain *e, FILE *out)
{
	char sym[160];
	fprintf(out, "btvm trap-and-emulate: %llu times at %u places the deprivileged guest kernel "
		     "saw what a real CPU at CPL 0 would not have shown it, and nothing trapped\n",
		(unsigned long long)e->notes_total, e->nnotes);
	unsigned nvcpus = board_vcpu_count(ex->board);
	for (unsigned v = 0; nvcpus > 1 && v < nvcpus; v++) {
		const struct explain *one = board_vcpu_explain(ex->board, v);
		fprintf(out, "  vCPU %u: %llu times at %u places\n", v,
			(unsigned long long)one->notes_total, one->nnotes);
	}
	for (unsigned i = 0; i < e->nnotes; i++) {
		const struct explain_note *nt = &e->notes[i];
		const struct explain_line l = { nt->sens, false, NULL };
		fprintf(out, "  %-10s at %08x %-32s %8llu times; first: %s\n", line_name(&l), nt->eip,
			where(ex, nt->eip, sym, sizeof(sym)), (unsigned long long)nt->count, nt->what);
	}
	if (e->notes_unlisted)
		fprintf(out, "  (%llu more at places past the first %u)\n",
			(unsigned long long)e->notes_unlisted, EXPLAIN_MAX_NOTES);
}

/* The machine's figures (with one vCPU, its own), and with several each
 * vCPU's beside them. */
void board_explain_print(struct board_explain *ex, FILE *out)
{
	board_print_profile(ex->board, out);
	if (!board_vcpu_explain(ex->board, 0))
		return;
	struct explain *e = machine_total(ex);
	if (!e) {
		fputs("btvm explain: out of memory\n", out);
		return;
	}
	if (ex->cfg->explain)
		print_table(ex, e, out);
	if (ex->cfg->trap_emulate)
		print_notes(ex, e, out);
	explain_free(e);
}

json_t *board_explain_json(const struct board_explain *ex)
{
	json_t *arr = json_array();
	if (!arr || !ex)
		return arr;
	if (!ex->cfg->explain)
		return arr;
	struct explain *e = machine_total(ex);
	if (!e)
		return arr;
	struct explain_line lines[EXPLAIN_MAX_ROWS * 2];
	unsigned n = collect(e, lines, EXPLAIN_MAX_ROWS * 2);
	char sym[160], btvm[200];
	for (unsigned i = 0; i < n; i++) {
		const struct explain_line *l = &lines[i];
		json_t *o = json_object();
		if (!o || json_array_append_new(arr, o))
			break;
		btvm_text(l->sens, btvm, sizeof(btvm));
		json_object_set_new(o, "mnemonic", json_string(line_name(l)));
		json_object_set_new(o, "class", json_string(explain_class_name(l->sens, l->privileged_form)));
		json_object_set_new(o, "sensitivity", json_string(sensitive_kind_name(l->sens->kind)));
		json_object_set_new(o, "cpl0", json_integer((json_int_t)l->count->cpl0));
		json_object_set_new(o, "cpl3", json_integer((json_int_t)l->count->cpl3));
		json_object_set_new(o, "first_eip", json_integer(l->count->first_eip));
		json_object_set_new(o, "symbol", symbols_name(ex->symbols, l->count->first_eip, sym,
							      sizeof(sym))
							     ? json_string(sym)
							     : json_null());
		json_object_set_new(o, "native", json_string(line_native(l)));
		json_object_set_new(o, "btvm", json_string(btvm));
		json_t *per = json_array();
		for (unsigned v = 0; per && v < board_vcpu_count(ex->board); v++) {
			const struct explain_count *c = vcpu_count(ex, v, l);
			json_array_append_new(per, json_pack("{s:I,s:I}", "cpl0", (json_int_t)c->cpl0,
							     "cpl3", (json_int_t)c->cpl3));
		}
		json_object_set_new(o, "vcpus", per ? per : json_null());
	}
	explain_free(e);
	return arr;
}
