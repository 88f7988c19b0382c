/* Firmware-style example: a package compiled into flash as a const array, decoded at load
 * time with fixed, statically allocated RAM (a 16 KiB decode table, 32 KiB with -DSPK_MULTI,
 * and one group buffer).
 *
 * model_pkg.h comes from `codec export-c model.spkg -o model_pkg.h --symbol model` or from
 * `python make_header.py model.spkg model_pkg.h --name model`.  Prints one line per tensor:
 *     tensor <name> <numel> <crc32 of the values as little-endian bytes>
 * On a device, replace the printing with copying each group to where the weights live.
 */
#include <stdio.h>

#include "spkdec.h"
#include "model_pkg.h"

#if defined(MODEL_SIZE) /* codec export-c */
#define PKG_LEN MODEL_SIZE
#define PKG_VERSION MODEL_FORMAT_VERSION
#else /* make_header.py */
#define PKG_LEN model_len
#define PKG_VERSION model_FORMAT_VERSION
#endif
#if !SPK_READS_VERSION(PKG_VERSION) /* spkdec reads versions 1 .. 7 */
#error "the embedded package has a format version this decoder does not read"
#endif

#define GROUP_BUF 16384 /* bytes: the largest group (group_size * itemsize) we accept */

static spk_dec dec;                 /* decode table, zero-initialized */
static uint8_t group_buf[GROUP_BUF]; /* one group of decoded values */
static char name[64];

static uint32_t crc_le(uint32_t crc, const uint8_t *v, uint32_t n, unsigned sz)
{
    uint32_t i;
    for (i = 0; i < n; i++) { /* values are native-endian: hash them little-endian */
        uint8_t le[4];
        uint32_t x = 0;
        unsigned k;
        for (k = 0; k < sz; k++) /* little-endian hosts: byte k of the value */
            x |= (uint32_t)v[i * sz + k] << (8 * k);
        {
            const uint16_t probe = 1;
            if (*(const uint8_t *)&probe == 0) { /* big-endian host: bytes are reversed */
                uint32_t y = 0;
                for (k = 0; k < sz; k++)
                    y = (y << 8) | v[i * sz + k];
                x = y;
            }
        }
        for (k = 0; k < sz; k++)
            le[k] = (uint8_t)(x >> (8 * k));
        crc = spk_crc32(crc, le, sz);
    }
    return crc;
}

int main(void)
{
    spk_pkg pkg;
    spk_tensor t;
    int rc = spk_open(&pkg, model, PKG_LEN);
    uint32_t i;
    if (rc < 0) {
        printf("package rejected: error %d\n", rc);
        return 2;
    }
    printf("package: %u tensors, %u tables\n", (unsigned)pkg.ntensors, (unsigned)pkg.ntables);
    for (i = 0; i < pkg.ntensors; i++) {
        spk_stream s;
        int32_t n;
        uint32_t crc = 0;
        rc = (i == 0) ? spk_tensor_at(&pkg, 0, &t, name, sizeof name - 1)
                      : (spk_tensor_next(&pkg, &t, name, sizeof name - 1) == 1 ? 0 : -1);
        if (rc < 0)
            return 2;
        name[t.name_len < sizeof name - 1 ? t.name_len : sizeof name - 1] = 0;
        if ((uint64_t)t.group_size * t.itemsize > GROUP_BUF) {
            printf("tensor %s: groups of %u values do not fit the buffer\n", name,
                   (unsigned)t.group_size);
            return 1;
        }
        rc = spk_stream_begin(&s, &pkg, &t, &dec); /* checks the block's CRCs first */
        if (rc < 0) {
            printf("tensor %s: error %d\n", name, rc);
            return 2;
        }
        while ((n = spk_stream_next(&s, group_buf, sizeof group_buf)) > 0)
            crc = crc_le(crc, group_buf, (uint32_t)n, t.itemsize);
        if (n < 0) {
            printf("tensor %s: error %d\n", name, (int)n);
            return 2;
        }
        printf("tensor %s %u %08x\n", name, (unsigned)t.numel, (unsigned)crc);
    }
    return 0;
}
