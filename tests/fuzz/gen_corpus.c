/* tests/fuzz/gen_corpus.c - seed inputs for the fuzz targets, made the way
 * the real sender makes them.
 *
 *   gen_corpus DIR   writes DIR/proto/NAME.bin, DIR/state/NAME.bin and
 *                    DIR/snap/NAME.bin
 *
 * proto: one well-formed frame of each message type that carries a
 * payload (HELLO from a real machine's layout, PAGES, ZERO, REQ, ...), in
 * fuzz_proto's input format, checksums right. state: blobs saved by small
 * machines that ran their workload for a moment: thread engine always, KVM
 * where /dev/kvm works. Sizes match what fuzz_state's machines take.
 * snap: small snapshot files written by snap/'s writer over 4 pages of
 * made-up RAM (two zero, so holes): a full one, an incremental layer on
 * it, and a full one with a Linux guest's configuration.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "net/wire.h"
#include "lib/hist.h"
#include "postcopy/proto.h"
#include "snap/write.h"
#include "vm/machine.h"

#define GEN_RAM    (16ull << 20)           /* fuzz_state's machines */
#define GEN_NPAGES (GEN_RAM / PM_PAGE)

static const char *outdir;
static int failed;

static void put_file(const char *sub, const char *name, const void *a, size_t alen,
		     const void *b, size_t blen)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s/%s.bin", outdir, sub, name);
	f = fopen(path, "wb");
	if (!f || fwrite(a, 1, alen, f) != alen || (blen && fwrite(b, 1, blen, f) != blen) ||
	    fclose(f)) {
		fprintf(stderr, "gen_corpus: writing %s: %s\n", path, strerror(errno));
		failed = 1;
		return;
	}
	printf("%s\n", path);
}

/* fuzz_proto's input: alignment byte, npages, frame header, payload. */
static void put_frame(const char *name, uint16_t type, const void *p, uint32_t len)
{
	uint8_t pre[9 + WIRE_HDR_SIZE];
	uint64_t np = htole64(GEN_NPAGES);
	struct wire_hdr h;

	wire_hdr_init(&h, type, len, 1, wire_csum(p, len));
	pre[0] = 0;
	memcpy(pre + 1, &np, sizeof(np));
	memcpy(pre + 9, &h, sizeof(h));
	put_file("proto", name, pre, sizeof(pre), p, len);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* A HELLO as the source fills it (postcopy/source.c) for machine m. */
static void put_hello(const char *name, struct machine *m)
{
	const struct machine_config *c = machine_config_of(m);
	const struct machine_region *r;
	struct pm_hello h;
	unsigned n = machine_regions(m, &r);

	memset(&h, 0, sizeof(h));
	h.proto_version = PM_PROTO_VERSION;
	h.session = 0x1234567890abcdefull;
	h.engine = c->engine;
	pm_strset(h.name, sizeof(h.name), "fuzz-seed");
	machine_features(m, h.cpu_features);
	h.mode = PM_MODE_POSTCOPY;
	h.ram_bytes = c->ram_bytes;
	h.page_size = PM_PAGE;
	h.vcpus = c->vcpus;
	h.guest_abi = GUEST_ABI_VERSION;
	h.nregions = n;
	for (unsigned i = 0; i < n; i++) {
		h.regions[i].gpa = r[i].gpa;
		h.regions[i].size = r[i].size;
	}
	h.params = c->params;
	h.guest = c->guest;
	{
		uint8_t wire[PM_HELLO_WIRE_MAX];

		put_frame(name, PM_HELLO, wire, pm_encode_hello(&h, wire));
	}
}

/* Run a small machine for a moment, pause it and save its blob. */
static void put_blob(enum machine_engine_kind engine, unsigned vcpus, uint32_t wl, const char *name,
		     int hello)
{
	struct machine_config c;
	struct machine *m;
	uint8_t *blob;
	ssize_t n;
	int r;

	memset(&c, 0, sizeof(c));
	c.engine = engine;
	c.ram_bytes = GEN_RAM;
	c.vcpus = vcpus;
	c.params.workload = wl;
	r = machine_create(&c, &m);
	if (r) {
		fprintf(stderr, "gen_corpus: %s machine: %s\n", machine_engine_name(engine),
			strerror(-r));
		failed = 1;
		return;
	}
	if (hello)
		put_hello(hello == 1 ? "hello-thread" : "hello-kvm", m);
	if ((r = machine_start(m)) == 0) {
		sleep_ms(50);
		r = machine_pause(m);
	}
	blob = malloc(machine_state_size(m));
	n = r || !blob ? (r ? r : -ENOMEM) : machine_save(m, blob, machine_state_size(m));
	if (n < 0) {
		fprintf(stderr, "gen_corpus: saving %s: %s\n", name, strerror((int)-n));
		failed = 1;
	} else {
		put_file("state", name, blob, (size_t)n, NULL, 0);
	}
	free(blob);
	machine_destroy(m);
}

static void put_messages(void)
{
	static uint8_t pages[sizeof(struct pm_pages_hdr) + PM_PAGE];
	static struct pm_done done;
	static uint8_t done_wire[PM_DONE_WIRE_LEN];
	struct pm_pages_hdr ph = { .first = 5, .count = 1 };
	struct pm_range zero[3] = { { 0, 1 }, { 16, 64 }, { GEN_NPAGES - 8, 8 } };
	struct pm_range discard[2] = { { 512, 3 }, { 1000, 1 } };
	uint64_t req[4] = { 7, 600, 601, GEN_NPAGES - 1 };
	struct pm_error err = { .err = -EIO };
	struct pm_refuse refuse = { .err = -ENOEXEC };
	struct pm_ping ping = { .t_ns = 123456789, .echo = 1 };
	struct pm_channel_msg chan = { .session = 0x1234567890abcdefull, .channel = PM_CH_BULK };
	struct pm_resumed resumed = { .dst_ns = 4200000 };
	struct pm_digest digest = { .digest = 0xfeedfacecafebeefull, .off = 0, .len = GEN_RAM };
	struct pm_progress progress = { .pages_in = 100, .remote_faults = 3,
					.fault_p99_ns = 250000, .bytes_in = 409600 };

	memcpy(pages, &ph, sizeof(ph));
	for (size_t i = 0; i < PM_PAGE; i++)
		pages[sizeof(ph) + i] = (uint8_t)(i * 31 + 7);
	put_frame("pages", PM_PAGES, pages, sizeof(pages));
	put_frame("zero", PM_ZERO, zero, sizeof(zero));
	put_frame("discard", PM_DISCARD, discard, sizeof(discard));
	put_frame("req", PM_REQ, req, sizeof(req));
	pm_strset(err.why, sizeof(err.why), "guest RAM: cannot register userfaultfd");
	put_frame("error", PM_ERROR, &err, sizeof(err));
	pm_strset(refuse.why, sizeof(refuse.why), "this host's CPU lacks features the guest was given: avx512f");
	put_frame("refuse", PM_REFUSE, &refuse, sizeof(refuse));
	put_frame("ping", PM_PING, &ping, sizeof(ping));
	put_frame("channel", PM_CHANNEL, &chan, sizeof(chan));
	put_frame("resumed", PM_RESUMED, &resumed, sizeof(resumed));
	put_frame("digest", PM_DIGEST, &digest, sizeof(digest));
	put_frame("progress", PM_PROGRESS, &progress, sizeof(progress));
	put_frame("ready", PM_READY, NULL, 0);
	done.pages_pushed = 4000;
	done.pages_requested = 40;
	done.pages_zero = 56;
	done.remote_faults = 40;
	done.verified = 1;
	pm_strset(done.verify_detail, sizeof(done.verify_detail), "kv: 2 shards consistent");
	pcm_hist_init(&done.fault_lat);
	for (uint64_t v = 1000; v < 5000000; v = v * 3 / 2)
		pcm_hist_add(&done.fault_lat, v);
	pm_encode_done(&done, done_wire);
	put_frame("done", PM_DONE, done_wire, sizeof(done_wire));
}

/* One snapshot of 4 pages (1 and 2 data, 0 and 3 zero) into snap/NAME.bin;
 * parent: an incremental layer of pages 1 and 3 on it. */
static void put_snap(const char *name, const struct snap_meta *m,
		     const struct snap_parent *parent, struct snap_parent *as)
{
	static uint8_t ram[4 * SNAP_PAGE], state[256];
	struct snap_writer *w;
	char path[4096];
	int r;

	for (size_t i = 0; i < SNAP_PAGE; i++) {
		ram[SNAP_PAGE + i] = (uint8_t)(i * 13 + 1);
		ram[2 * SNAP_PAGE + i] = (uint8_t)(i >> 4);
	}
	for (size_t i = 0; i < sizeof(state); i++)
		state[i] = (uint8_t)(i ^ 0x5a);
	snprintf(path, sizeof(path), "%s/snap/%s.bin", outdir, name);
	r = snap_writer_open(path, m, parent, SNAP_W_REPLACE, &w);
	if (!r && parent && !(r = snap_writer_page(w, 1, ram + SNAP_PAGE)))
		r = snap_writer_page(w, 3, ram + 3 * SNAP_PAGE);
	else if (!r && !parent)
		r = snap_writer_pages(w, 0, 4, ram);
	if (!r)
		r = snap_writer_state(w, state, sizeof(state));
	if (!r)
		r = snap_writer_commit(w, as);
	else
		snap_writer_abort(w);
	if (r) {
		fprintf(stderr, "gen_corpus: writing %s: %s\n", path, strerror(-r));
		failed = 1;
		return;
	}
	printf("%s\n", path);
}

static void put_snaps(void)
{
	static struct snap_meta m;
	struct snap_parent full;

	memset(&m, 0, sizeof(m));
	strcpy(m.name, "fuzz-seed");
	m.engine = MACHINE_ENGINE_THREAD;
	m.guest_abi = GUEST_ABI_VERSION;
	m.vcpus = 2;
	m.ram_bytes = 4 * SNAP_PAGE;
	m.nregions = 1;
	m.regions[0].size = m.ram_bytes;
	m.params.workload = WL_KV;
	put_snap("full", &m, NULL, &full);
	if (!failed)
		put_snap("layer", &m, &full, NULL);
	m.engine = MACHINE_ENGINE_KVM;
	m.guest = MACHINE_GUEST_LINUX;
	m.params.workload = 0;
	strcpy(m.kernel, "/boot/vmlinuz");
	strcpy(m.cmdline, "console=ttyS0 quiet");
	m.ndisks = 1;
	strcpy(m.disks[0].path, "/var/lib/disk.img");
	m.devids_len = 3;
	memcpy(m.devids, "blk", 3);
	put_snap("linux", &m, NULL, NULL);
}

static void mkdirs(const char *sub)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", outdir, sub);
	if (mkdir(outdir, 0755) && errno != EEXIST)
		failed = 1;
	if (mkdir(path, 0755) && errno != EEXIST) {
		fprintf(stderr, "gen_corpus: mkdir %s: %s\n", path, strerror(errno));
		failed = 1;
	}
}

int main(int argc, char **argv)
{
	struct machine_config kc = { .engine = MACHINE_ENGINE_KVM, .ram_bytes = GEN_RAM, .vcpus = 1 };
	char why[160];

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	outdir = argv[1];
	mkdirs("proto");
	mkdirs("state");
	mkdirs("snap");
	if (failed)
		return 1;
	put_messages();
	put_snaps();
	put_blob(MACHINE_ENGINE_THREAD, 2, WL_IDLE, "thread-idle", 1);
	put_blob(MACHINE_ENGINE_THREAD, 2, WL_SWEEP, "thread-sweep", 0);
	put_blob(MACHINE_ENGINE_THREAD, 2, WL_KV, "thread-kv", 0);
	if (machine_probe(&kc, why, sizeof(why)) == 0) {
		put_blob(MACHINE_ENGINE_KVM, 1, WL_IDLE, "kvm-idle", 2);
		put_blob(MACHINE_ENGINE_KVM, 1, WL_KV, "kvm-kv", 0);
	} else {
		fprintf(stderr, "gen_corpus: no KVM blobs: %s\n", why);
	}
	return failed;
}
