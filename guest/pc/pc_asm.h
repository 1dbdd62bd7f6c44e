/* guest/pc/pc_asm.h - the numbers of guest/pc/pc.h that assembly needs
 * (pc.h itself holds C structs); pc.h checks they agree. */
#ifndef GUEST_PC_PC_ASM_H
#define GUEST_PC_PC_ASM_H

#define PC_MAX_VCPUS   64
#define PC_PORT_PANIC  0x511
#define PC_USER_SS     0x1b             /* PC_SEL_UDATA | 3 */
#define PC_USER_CS     0x23             /* PC_SEL_UCODE | 3 */
#define PC_TICKS_ADDR  (0x10000 + 64)   /* &((struct pc_info *)PC_INFO_OFF)->ticks */

#endif
