/* postcopy/proto.h - the migration's messages.
 *
 * Payload layouts of every message on the three channels and their
 * decoders. Decoders check lengths and ranges before anything is used:
 * a page number outside guest RAM, a run past the end of a message or an
 * impossible layout is -EBADMSG with the reason in *why, never a write
 * outside guest RAM. Payloads are little-endian fixed-size structs (the
 * tool runs on x86-64 only).
 */
#ifndef POSTCOPY_PROTO_H
#define POSTCOPY_PROTO_H

#include <stdint.h>
#include "guest/layout.h"
#include "lib/hist.h"
#include "vm/machine.h"

#define PM_PROTO_VERSION   10  /* 10: DONE carries the guest's operation counts */
#define PM_PAGE            4096u
#define PM_RUN_MAX         64u         /* pages per PAGES message */
#define PM_ZERO_MAX        256u        /* ranges per ZERO message */
#define PM_REQ_MAX         256u        /* pages per REQ message */

enum pm_type {
	PM_HELLO = 1,     /* src->dst control: who is coming */
	PM_READY,         /* dst->src control: room made, send state */
	PM_REFUSE,        /* dst->src control: cannot host, with reason */
	PM_PING,          /* either way control: echoed, measures RTT */
	PM_CHANNEL,       /* src->dst urgent/bulk: first message, session id */
	PM_STATE,         /* src->dst control: vCPU and device state */
	PM_RESUMED,       /* dst->src control: VM runs on destination */
	PM_REQ,           /* dst->src urgent: pages a vCPU waits for */
	PM_PAGES,         /* src->dst urgent/bulk: a run of pages */
	PM_ZERO,          /* src->dst urgent/bulk: ranges of zero pages */
	PM_BULK_END,      /* src->dst bulk: the pusher has sent every page */
	PM_DIGEST,        /* src->dst control: RAM digest at pause */
	PM_PROGRESS,      /* dst->src control: pages in, faults */
	PM_DONE,          /* dst->src control: every page in, stats */
	PM_RELEASED,      /* src->dst control: source freed the VM */
	PM_ERROR,         /* either way control: giving up, with reason */
	PM_PRECOPY_END,   /* src->dst bulk: the last pre-copy page is before this */
	PM_DISCARD,       /* src->dst bulk: ranges of pre-copied pages dirtied since */
	PM_AUTH_CHALLENGE,/* src->dst control, before HELLO: the source's nonce */
	PM_AUTH_RESPONSE, /* dst->src control: its nonce and MAC */
	PM_AUTH_PROOF,    /* src->dst control: the source's MAC */
	PM_RECOVER,       /* src->dst control, new connection: resume this session */
	PM_RECOVER_ACK,   /* dst->src control: the pages it has, as a bitmap */
	PM_QUERY,         /* src->dst control, new connection: do you run this session? */
	PM_ANSWER,        /* dst->src control: what runs here of it */
	PM_TYPE_MAX = PM_ANSWER,
};

enum pm_channel { PM_CH_CONTROL, PM_CH_URGENT, PM_CH_BULK, PM_CH_COUNT };

#define PM_NAME_LEN 64
#define PM_WHY_LEN  200

struct pm_region { uint64_t gpa, size; };

/* How a migration moves RAM. The values are HELLO's codes on the wire
 * (docs/protocol.md): fixed, never renumbered; the names are for the
 * command line, JSON and reports only. */
enum pm_mode { PM_MODE_POSTCOPY = 1, PM_MODE_PRECOPY = 2, PM_MODE_HYBRID = 3 };
const char *pm_mode_name(enum pm_mode m);            /* "?" for no mode */
int pm_mode_parse(const char *name, enum pm_mode *m);  /* -EINVAL: unknown */

/* HELLO in memory; on the wire it is encoded field by field
 * (pm_encode_hello: docs/protocol.md), the engine and mode as codes. */
struct pm_hello {
	uint32_t proto_version;
	uint32_t guest;                               /* enum machine_guest */
	uint32_t ndisks;                              /* linux: --disk images */
	uint64_t session;
	enum machine_engine_kind engine;              /* THREAD or KVM */
	char name[PM_NAME_LEN];
	uint32_t cpu_features[MACHINE_FEATURE_WORDS];   /* what the guest was given */
	enum pm_mode mode;
	uint64_t ram_bytes;
	uint32_t page_size;
	uint32_t vcpus;
	uint32_t guest_abi;
	uint32_t nregions;
	struct pm_region regions[MACHINE_MAX_REGIONS];
	struct wl_params params;
	uint32_t identity_len;                        /* machine_identity's bytes */
	uint8_t identity[MACHINE_IDENTITY_MAX];
};

/* Payload sizes are multiples of 8 so every payload in a receive buffer
 * stays 8-byte aligned behind the 32-byte header. */
struct pm_refuse {
	int32_t err;                  /* negative errno */
	uint32_t pad;
	char why[PM_WHY_LEN];
};

struct pm_ping { uint64_t t_ns; uint32_t echo; uint32_t pad; };

/* mac: with a key, HMAC binding the channel to the session's nonces; 0s
 * without. */
struct pm_channel_msg { uint64_t session; uint32_t channel; uint32_t pad; uint8_t mac[32]; };

/* The handshake also settles encryption (--encrypt): the source asks for
 * it and names the AEAD it prefers (enum net_aead); the destination's
 * answer says what both will use, and both MACs cover that choice, so
 * nobody in between can strip it. Every channel is sealed from the
 * message after the proof (control) or after CHANNEL (urgent, bulk). */
#define PM_AUTH_ENCRYPT 1u
struct pm_cipher { uint32_t flags; uint32_t aead; };
struct pm_auth_challenge { uint8_t nonce[32]; struct pm_cipher want; };
struct pm_auth_response { uint8_t nonce[32]; uint8_t mac[32]; struct pm_cipher use; };
struct pm_auth_proof { uint8_t mac[32]; };

struct pm_state_hdr {
	uint64_t state_len;           /* blob bytes that follow */
	uint64_t pad;
};

struct pm_resumed { uint64_t dst_ns; };   /* state received to vCPUs running */

struct pm_pages_hdr { uint64_t first; uint32_t count; uint32_t pad; };

struct pm_range { uint64_t first, count; };

struct pm_digest { uint64_t digest; uint64_t off; uint64_t len; };

struct pm_progress {
	uint64_t pages_in;
	uint64_t remote_faults;
	uint64_t fault_p99_ns;
	uint64_t bytes_in;
};

struct pm_done {
	uint64_t pages_pushed, pages_requested, pages_zero;
	uint64_t pages_precopied;      /* data pages that arrived before activation and stayed */
	uint64_t pages_resent;         /* arrivals of pages the destination had already had */
	uint64_t remote_faults;
	uint64_t blocktime_ns;
	uint64_t max_stall_ns;
	uint64_t overhead_bytes;
	uint64_t bulk_ns;              /* first to last bulk page installed */
	uint32_t verified;
	uint32_t pad;
	char verify_detail[160];
	struct pcm_hist fault_lat;         /* ns, fault read to page mapped */
	/* The guest's operation counter (machine_stats ops, which crossed in
	 * RAM) when every page was in, and again just before the self-check,
	 * with the destination's time from resume to the first and from the
	 * first to the second: the source, which knows the count at its
	 * pause, turns them into the guest's rates (report guest_rate). */
	uint64_t guest_ops_in, guest_in_ns;
	uint64_t guest_ops_end, guest_end_ns;
};

struct pm_error { int32_t err; uint32_t pad; char why[PM_WHY_LEN]; };

/* After a broken link: the source names the session it resumes (on a
 * control connection authenticated afresh), the destination answers with
 * one bit per guest page it holds, (npages + 63) / 64 words after this
 * header, so the source sends exactly the rest. */
struct pm_recover { uint64_t session; };
struct pm_recover_ack { uint64_t npages; uint64_t pages_in; };

/* A destination that has every page answers RECOVER with DONE instead
 * (the migration is over but for RELEASED), for as long as it hosts the
 * VM. QUERY (same session field) is `resume` asking before it runs a
 * paused copy: ANSWER says the destination runs the VM, with or without
 * every page (enum oc_answer, postcopy/outcome.h); a REFUSE says it does
 * not hold the session. After ANSWER with every page in, the source may
 * say RELEASED on the same connection. */
struct pm_answer { uint32_t state; uint32_t pad; };

/* Fixed-size payloads: exact length or -EBADMSG. */
int pm_decode_fixed(const void *payload, uint32_t len, void *out, size_t size,
		    const char **why);
/* HELLO's wire form: the protocol version first, so that a peer of
 * another version is told so whatever else changed. PM_HELLO_WIRE_LEN
 * fixed bytes, then the identity padded with zeros to a multiple of 8. */
#define PM_HELLO_WIRE_LEN 288
#define PM_HELLO_WIRE_MAX (PM_HELLO_WIRE_LEN + MACHINE_IDENTITY_MAX)
size_t pm_encode_hello(const struct pm_hello *h, uint8_t buf[PM_HELLO_WIRE_MAX]);
/* DONE field by field, little-endian, in struct pm_done's order, the
 * fault-latency histogram as count, sum, min, max and its buckets
 * (docs/protocol.md); exactly PM_DONE_WIRE_LEN bytes. The decoder ends
 * verify_detail with a NUL whatever came. */
#define PM_DONE_WIRE_LEN (10 * 8 + 2 * 4 + 160 + (4 + PCM_HIST_BUCKETS) * 8 + 4 * 8)
void pm_encode_done(const struct pm_done *d, uint8_t buf[PM_DONE_WIRE_LEN]);
int pm_decode_done(const void *payload, uint32_t len, struct pm_done *d, const char **why);
/* HELLO: -EPROTONOSUPPORT (h->proto_version set, nothing else) for
 * another protocol version; -EBADMSG for a wrong length, an unknown
 * engine, mode or guest kind, an impossible layout, an identity too long
 * or padded with other than zeros. */
int pm_decode_hello(const void *payload, uint32_t len, struct pm_hello *h,
		    const char **why);
/* PAGES: header plus count pages; the run must lie inside npages. */
int pm_decode_pages(const void *payload, uint32_t len, uint64_t npages,
		    struct pm_pages_hdr *h, const uint8_t **data, const char **why);
/* ZERO/DISCARD and REQ: arrays whose every element lies inside npages,
 * copied into r / pages (room for PM_ZERO_MAX / PM_REQ_MAX). */
int pm_decode_ranges(const void *payload, uint32_t len, uint64_t npages,
		     struct pm_range r[PM_ZERO_MAX], unsigned *n, const char **why);
int pm_decode_req(const void *payload, uint32_t len, uint64_t npages,
		  uint64_t pages[PM_REQ_MAX], unsigned *n, const char **why);

/* RECOVER_ACK: the bitmap must cover exactly npages; *words points into
 * the payload (unaligned: memcpy out). */
int pm_decode_recover_ack(const void *payload, uint32_t len, uint64_t npages,
			  struct pm_recover_ack *h, const uint8_t **words, const char **why);

/* ERROR from the peer: its errno (or -EPROTO) and a terminated reason,
 * "(malformed ERROR)" when the payload is not one. */
int pm_decode_error(const void *payload, uint32_t len, struct pm_error *e);

/* Copy a C string into a fixed field, always NUL-terminated. */
void pm_strset(char *dst, size_t size, const char *src);
const char *pm_type_name(uint16_t type);

#endif
