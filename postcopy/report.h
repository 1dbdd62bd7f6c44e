/* postcopy/report.h - the numbers a migration reports.
 *
 * One struct filled by the source (its own timings plus what the
 * destination sends back), printed as a human summary or as one JSON
 * object whose keys are stable: users script against them.
 */
#ifndef POSTCOPY_REPORT_H
#define POSTCOPY_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define REPORT_ROUNDS 32

struct report {
	char mode[16];          /* "postcopy" */
	char engine[16];
	char workload[16];
	uint64_t ram_bytes;
	unsigned vcpus;
	double setup_ms;        /* connect to READY */
	double precopy_ms;
	unsigned precopy_rounds;
	bool precopy_converged; /* precopy: the rest fit --max-downtime */
	char precopy_stop[48];  /* why pre-copy ended */
	unsigned nrounds;       /* rounds itemized below (at most REPORT_ROUNDS) */
	struct { uint64_t pages, bytes; double ms; } round[REPORT_ROUNDS];
	uint64_t final_pages;   /* precopy: pages sent while paused */
	double downtime_us;     /* source pause to destination resume */
	double pause_us;        /* of which: stopping the vCPUs, */
	double final_us;        /* precopy: sending the last dirty pages, */
	double save_us;         /* saving their state, */
	double transfer_us;     /* half a round trip (the state's one-way trip), */
	double restore_us;      /* loading and starting them on the destination */
	double max_stall_us;    /* the workload's own longest gap */
	double total_ms;        /* start to source release */
	uint64_t bytes_control, bytes_urgent, bytes_bulk;
	uint64_t pages_pushed, pages_requested, pages_zero, pages_precopied, pages_resent;
	uint64_t pages_total;
	uint64_t remote_faults;
	double fault_p50_us, fault_p90_us, fault_p99_us, fault_max_us;
	double blocktime_us;
	uint64_t state_bytes;
	double bulk_mbps;       /* bulk channel payload rate while pushing */
	uint64_t dest_overhead_bytes; /* destination memory beyond guest RAM */
	char cipher[24];        /* the channels' AEAD, or "none" */
	unsigned link_pauses;   /* outages of the link recovered from */
	double link_paused_ms;  /* their total length */
	double link_longest_ms; /* the longest */
	bool verified;
	char verify_detail[160];
	/* The workload's operations per second (NAN: not known, e.g. a Linux
	 * guest, which counts none) over three windows, with their lengths:
	 * before: the engine's last second before the pause where it keeps
	 * one (thread), else the migration's start to the pause (in pre-copy
	 * and hybrid that is while the rounds ran); during: the destination's resume to
	 * every page in; after: every page in to the destination's self-check
	 * (the check pauses the guest, so the window ends there). */
	struct { double before, during, after, before_ms, during_ms, after_ms; } guest_rate;
};

/* guest_rate from the guest's operation count at the edges of its three
 * windows (ops: start, pause/resume, every page in, self-check) and the
 * windows' lengths in ns. */
void report_guest_rate(struct report *r, const uint64_t ops[4], const uint64_t ns[3]);
void report_print_human(FILE *f, const struct report *r);
void report_print_json(FILE *f, const struct report *r);
struct pm_progress;
/* One progress line: elapsed, pages in, rate, faults, fault p99. */
void report_progress_format(char *buf, size_t n, const struct pm_progress *p,
			    uint64_t npages, double elapsed_s);

#endif
