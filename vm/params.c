/* vm/params.c - a payload workload's parameters (struct wl_params) on the
 * wire and in files: one encoding, field by field, for HELLO
 * (postcopy/proto.c) and the snapshot file's configuration (snap/). */
#include "lib/codec.h"
#include "vm/machine.h"

void machine_params_put(struct pcm_enc *e, const struct wl_params *p)
{
	pcm_put_u32(e, p->workload);
	pcm_put_u32(e, p->write_permille);
	pcm_put_u64(e, p->working_set);
	pcm_put_u64(e, p->rate_bps);
	pcm_put_u64(e, p->kv_keys);
	pcm_put_u32(e, p->kv_value_size);
	pcm_put_u32(e, p->kv_put_permille);
	pcm_put_u64(e, p->seed);
}

void machine_params_get(struct pcm_dec *d, struct wl_params *p)
{
	p->workload = pcm_get_u32(d);
	p->write_permille = pcm_get_u32(d);
	p->working_set = pcm_get_u64(d);
	p->rate_bps = pcm_get_u64(d);
	p->kv_keys = pcm_get_u64(d);
	p->kv_value_size = pcm_get_u32(d);
	p->kv_put_permille = pcm_get_u32(d);
	p->seed = pcm_get_u64(d);
}
