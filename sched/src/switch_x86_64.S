/*
 * switch_x86_64.S — the goroutine context switch (System V AMD64 ABI).
 *
 * A switch is a call: the caller-saved registers are already dead, so only
 * the callee-saved ones (rbx, rbp, r12-r15) and rsp need saving. They are
 * pushed on the stack being left, which is what makes a conservative scan of
 * a parked goroutine's stack from its saved rsp upwards see every pointer it
 * holds. MXCSR and the x87 control word are not saved: goroutines must not
 * change them (DESIGN.md §6).
 */
#if !defined(__x86_64__)
#error "sched: context switch port missing for this architecture (only x86-64 is written)"
#endif

	.text

/* void sched_ctx_switch(void **save_sp, void *new_sp) */
	.globl	sched_ctx_switch
	.type	sched_ctx_switch, @function
sched_ctx_switch:
	.cfi_startproc
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.cfi_endproc
	.size	sched_ctx_switch, .-sched_ctx_switch

/* The first "return address" of a new goroutine. The initial frame built by
 * stack.c leaves the g pointer in r12; rbp is 0 so frame walks stop here. */
	.globl	sched_ctx_entry
	.type	sched_ctx_entry, @function
sched_ctx_entry:
	.cfi_startproc
	.cfi_undefined rip
	movq	%r12, %rdi
	andq	$-16, %rsp
	call	sched_g_main
	ud2
	.cfi_endproc
	.size	sched_ctx_entry, .-sched_ctx_entry

/* void sched_ctx_spill(void (*fn)(void *sp, void *arg), void *arg)
 * Pushes the callee-saved registers, then calls fn(rsp, arg). */
	.globl	sched_ctx_spill
	.type	sched_ctx_spill, @function
sched_ctx_spill:
	.cfi_startproc
	pushq	%rbp
	.cfi_adjust_cfa_offset 8
	.cfi_rel_offset rbp, 0
	movq	%rsp, %rbp
	.cfi_def_cfa_register rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$8, %rsp
	movq	%rdi, %rax
	leaq	8(%rsp), %rdi
	call	*%rax
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	.cfi_def_cfa rsp, 8
	ret
	.cfi_endproc
	.size	sched_ctx_spill, .-sched_ctx_spill

	.section .note.GNU-stack,"",@progbits
