/* libFuzzer target: any input must yield a negative error code or a successful decode, never
 * a crash, out-of-bounds access or undefined behaviour (build: make fuzz, needs clang). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spkdec.h"

static spk_dec dec;
static uint8_t out[1 << 20];
static char name[32];
static spk_tensor ts[8];
static spk_job jobs[8];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    spk_pkg p;
    spk_tensor t;
    uint32_t i, k = 0;
    size_t off = 0;
    if (spk_open(&p, data, size) < 0)
        return 0;
    for (i = 0; i < p.ntensors && i < 64; i++) {
        spk_stream s;
        int32_t n;
        if ((i == 0 ? spk_tensor_at(&p, 0, &t, name, sizeof name)
                    : (spk_tensor_next(&p, &t, name, sizeof name) == 1 ? 0 : -1)) < 0)
            return 0;
        (void)spk_find(&p, name, t.name_len < sizeof name ? t.name_len : sizeof name);
        if ((uint64_t)t.numel * t.itemsize <= sizeof out)
            (void)spk_decode(&p, &t, &dec, out, sizeof out);
        if (spk_stream_begin(&s, &p, &t, &dec) == 0)
            while ((n = spk_stream_next(&s, out, 4096)) > 0) {
            }
        if (k < 8 && (uint64_t)t.numel * t.itemsize <= sizeof out - off) { /* spk_decode_many */
            ts[k] = t;
            jobs[k].t = &ts[k];
            jobs[k].out = out + off;
            jobs[k].out_bytes = (size_t)t.numel * t.itemsize;
            off += jobs[k++].out_bytes;
        }
    }
    (void)spk_decode_many(&p, &dec, jobs, k);
    return 0;
}
