/* cli/vmopts.h - getopt codes and help text of the machine options
 * that `run` and `demo` share (parsed by vm_opts_parse in cli.h). */
#ifndef CLI_VMOPTS_H
#define CLI_VMOPTS_H

#include <getopt.h>

enum {
	VMOPT_MEM = 1000, VMOPT_VCPUS, VMOPT_WORKLOAD, VMOPT_ENGINE, VMOPT_WSET,
	VMOPT_WRITE, VMOPT_PUT, VMOPT_RATE, VMOPT_KEYS, VMOPT_SEED, VMOPT_CONSOLE,
	VMOPT_KERNEL, VMOPT_INITRD, VMOPT_CMDLINE, VMOPT_DISK, VMOPT_NET,
};

/* The Linux guest's options (`run` only, until a Linux guest migrates). */
#define VMOPTS_LINUX_LONG \
	{ "kernel", required_argument, 0, VMOPT_KERNEL }, \
	{ "initrd", required_argument, 0, VMOPT_INITRD }, \
	{ "cmdline", required_argument, 0, VMOPT_CMDLINE }, \
	{ "disk", required_argument, 0, VMOPT_DISK }, \
	{ "net", required_argument, 0, VMOPT_NET }

#define VMOPTS_LINUX_CMDLINE "console=ttyS0 pci=off"

#define VMOPTS_LINUX_HELP \
"  --kernel BZIMAGE       kvm: boot this Linux kernel (x86 boot protocol 2.12+,\n" \
"                         64-bit) instead of a workload; at least 256M of --mem\n" \
"  --initrd FILE          kvm: the kernel's initial RAM disk\n" \
"  --cmdline STR          kvm: the kernel's command line (default\n" \
"                         '" VMOPTS_LINUX_CMDLINE "'; keep pci=off: there is no PCI)\n" \
"  --disk FILE[,ro]       kvm: a raw image as a virtio disk (/dev/vda, vdb, ... in\n" \
"                         order; at most 4; ro: read-only); a migration needs the\n" \
"                         same image at the destination (receive --disk)\n" \
"  --net tap=NAME[,mac=MAC]  kvm: a virtio network card on tap NAME (opened if\n" \
"                         it exists, else created; at most 2); MAC default: a\n" \
"                         random 52:54:00:xx:xx:xx\n"

#define VMOPTS_LONG \
	{ "mem", required_argument, 0, VMOPT_MEM }, \
	{ "vcpus", required_argument, 0, VMOPT_VCPUS }, \
	{ "workload", required_argument, 0, VMOPT_WORKLOAD }, \
	{ "engine", required_argument, 0, VMOPT_ENGINE }, \
	{ "working-set", required_argument, 0, VMOPT_WSET }, \
	{ "write-fraction", required_argument, 0, VMOPT_WRITE }, \
	{ "kv-put-fraction", required_argument, 0, VMOPT_PUT }, \
	{ "dirty-rate", required_argument, 0, VMOPT_RATE }, \
	{ "kv-keys", required_argument, 0, VMOPT_KEYS }, \
	{ "seed", required_argument, 0, VMOPT_SEED }, \
	{ "console", required_argument, 0, VMOPT_CONSOLE }

#define VMOPTS_HELP \
"  --engine auto|kvm|thread  what runs the guest (default auto: kvm where\n" \
"                         /dev/kvm works, else thread)\n" \
"  --console FILE         kvm: the guest's serial console to FILE ('-' is\n" \
"                         stdout; default: none)\n" \
"  --mem SIZE             guest RAM, e.g. 256M, 1G (multiple of 2 MiB)\n" \
"  --vcpus N              vCPUs (1..64)\n" \
"  --workload NAME        idle | sweep | kv\n" \
"  --working-set SIZE     sweep/kv: bytes of RAM the workload uses (default: all)\n" \
"  --write-fraction F     sweep: share of touched pages written (default 0.5)\n" \
"  --dirty-rate MBPS      sweep: limit the dirty rate to MBPS MB/s (default: none)\n" \
"  --kv-keys N            kv: keys per vCPU (default: half the shard)\n" \
"  --kv-put-fraction F    kv: share of operations that are puts (default 0.2)\n" \
"  --seed N               workload random seed\n"

#endif
