; Spin-waits on several CPUs (run with --smp 2; tests/system/run_stats_smp.py):
; every CPU, released together, runs ROUNDS PAUSEs in a loop, as a guest
; spinning on a lock does; then the BSP waits for the APs and ends. With
; vCPUs on host threads of their own, btvm gives a vCPU's host CPU up
; once every CPU_PAUSE_BUDGET (4096) PAUSEs (cpu_pause_yield, --stats'
; cpu.pause_yields): ROUNDS makes it at least 3 times on each vCPU,
; whatever the host and its load.
%define GUEST_NAME "smp_pause"
%include "lib.inc"
%include "smp.inc"
%include "smp_lib.inc"

ROUNDS		equ 3 * 4096 + 16	; PAUSEs each CPU runs

guest_start
	call lib_pic_init
	call lib_install_idt
	smp_start_group
	mov dword [go], 1
	call work
	mov eax, [cpus]
	dec eax
	smp_wait_eq [finished], eax
	check dword [finished], eax
guest_finish

; ------------------------------------------------------------ the APs
ap_work:
	smp_wait_eq [go], 1
	call work
	lock inc dword [finished]
.idle:
	hlt
	jmp .idle

; work: ROUNDS PAUSEs. Clobbers ECX.
work:
	mov ecx, ROUNDS
.spin:
	pause
	dec ecx
	jnz .spin
	ret

section .data
align 4
cpus:		dd 0
go:		dd 0
finished:	dd 0
