/* kvm/payload.S - the guest payload image (guest/pc/, built freestanding by
 * the Makefile into PAYLOAD_BIN), linked into the VMM. */
	.section .rodata
	.balign 4096
	.globl kvm_payload_start, kvm_payload_end
kvm_payload_start:
	.incbin PAYLOAD_BIN
kvm_payload_end:
	.section .note.GNU-stack, "", @progbits
