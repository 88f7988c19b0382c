/* spkdec: portable C99 decoder for codec packages, format v1.
 *
 * No dynamic allocation, no libc beyond memcpy/memset, no global state.  All buffers are
 * provided by the caller; every function returns a negative SPK_E_* code on malformed input
 * and never reads or writes outside the buffers it was given.  Integers are assembled from
 * bytes, so the decoder is independent of host endianness and alignment.
 *
 * RAM (x86-64 sizes; see docs/C_DECODER.md):
 *   spk_pkg      64 bytes          parsed package header (pointers into the package)
 *   spk_tensor   360 bytes         one directory entry (shape has SPK_MAX_NDIM = 32 dims)
 *   spk_dec      16928 bytes       4096-entry decode table (uint32) + SPK_TABLE_CACHE (64) offsets
 *                2416 bytes        with -DSPK_SMALL: 2 * SPK_SMALL_MAX_CODES (1024) + 32 offsets
 *   spk_stream   64 bytes          plus the caller's group buffer (group_size values)
 *   stack        < 1 KiB           deepest: spk_open -> table_read (~900 bytes at -Os)
 *
 * Typical use:
 *   spk_pkg p; spk_tensor t; static spk_dec d;
 *   if (spk_open(&p, buf, len) < 0) ...;
 *   if (spk_tensor_at(&p, 0, &t, NULL, 0) < 0) ...;
 *   if (spk_decode(&p, &t, &d, out, sizeof out) < 0) ...;   // checks the block CRC first
 */
#ifndef SPKDEC_H
#define SPKDEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SPK_FORMAT_VERSION 1
#define SPK_MAX_NDIM 32            /* format limit (codec.format.Limits.max_ndim) */
#define SPK_MAX_TENSORS (1u << 20) /* Limits.max_tensors */
#define SPK_MAX_TABLES 1024u       /* Limits.max_tables */
#define SPK_MAX_TABLE_SYMBOLS (1u << 20) /* Limits.max_table_symbols: sum of alphabet sizes */
#define SPK_MAX_OUTPUT (1u << 31)  /* Limits.max_output_bytes: sum of all decoded tensors */
#define SPK_MAX_NAME 65536u        /* Limits.max_name_bytes */
#define SPK_LUT_BITS 12            /* MAX_CODE_LEN */
/* Table offsets spk_dec remembers (>= 1): those of every ceil(ntables / SPK_TABLE_CACHE)-th
 * table, so all of them when the package has at most SPK_TABLE_CACHE tables. */
#ifndef SPK_TABLE_CACHE
#ifdef SPK_SMALL
#define SPK_TABLE_CACHE 32
#else
#define SPK_TABLE_CACHE 64
#endif
#endif
#ifndef SPK_SMALL_MAX_CODES
#define SPK_SMALL_MAX_CODES 1024   /* -DSPK_SMALL: most codes one table may have */
#endif

enum {
    SPK_OK = 0,
    SPK_E_TRUNCATED = -1,   /* input ends inside a structure / too short to be a package */
    SPK_E_UNSUPPORTED = -2, /* bad magic, unknown version or flags */
    SPK_E_CORRUPT = -3,     /* malformed directory, table or group table */
    SPK_E_CHECKSUM = -4,    /* directory or block CRC32 mismatch */
    SPK_E_LIMIT = -5,       /* exceeds a limit (output size, counts, SPK_SMALL codes) */
    SPK_E_DATA = -6,        /* malformed bitstream in a group */
    SPK_E_ARG = -7,         /* caller error: bad index, output buffer too small, NULL */
    SPK_END = 0             /* spk_stream_next: no more groups */
};

/* dtype codes (as stored) */
enum { SPK_INT8 = 1, SPK_UINT8 = 2, SPK_INT16 = 3, SPK_UINT16 = 4, SPK_INT32 = 5, SPK_UINT32 = 6 };

typedef struct {
    const uint8_t *buf;
    size_t len;
    size_t dir_off, dir_end;   /* directory bytes [dir_off, dir_end) */
    size_t tab_off;            /* first table */
    size_t ent_off;            /* first tensor entry */
    uint32_t ntables, ntensors;
    uint32_t dir_crc;
} spk_pkg;

typedef struct {
    uint32_t index;            /* position in the package */
    uint32_t name_len;         /* full name length in bytes (UTF-8, not NUL-terminated) */
    uint8_t dtype;             /* SPK_INT8 .. SPK_UINT32 */
    uint8_t itemsize;          /* 1, 2 or 4 */
    uint8_t group_mode;        /* 0 count, 1 kernel, 2 kernels (informational) */
    uint8_t ndim;
    uint64_t shape[SPK_MAX_NDIM];
    uint32_t numel;            /* elements (<= 2^31) */
    uint32_t group_size;       /* elements per group, clamped to numel */
    uint32_t n_groups;
    int64_t value_offset;      /* the value zeros of the bitstream stand for */
    size_t block_off, block_len, meta_len;  /* block = [meta][group table][payload] */
    size_t pay_off, pay_len;   /* payload bytes */
    uint32_t crc32;
    uint32_t tid_base;
    uint8_t tid_bits, len_bits;
    size_t next;               /* directory offset of the following entry (iteration) */
} spk_tensor;

/* Decoder work area: the decode table of the Huffman table last used (reused across calls).
 * Zero-initialize it before first use (static storage is); it remembers which package
 * (buffer, length, directory CRC) it last served and reloads when that changes. */
typedef struct {
    const uint8_t *kbuf;       /* cache key */
    uint32_t kcrc;
    int32_t table;             /* index of the table loaded (valid if key matches) */
    uint32_t ncached;          /* toff[0 .. ncached) are known */
    uint32_t stride;           /* toff[k]: directory offset of table k * stride */
    size_t toff[SPK_TABLE_CACHE];
    uint32_t nrun;
#ifdef SPK_SMALL
    uint16_t first[SPK_LUT_BITS + 1], count[SPK_LUT_BITS + 1], offs[SPK_LUT_BITS + 1];
    uint8_t kref;
    uint16_t sym[SPK_SMALL_MAX_CODES];
#else
    uint32_t lut[1u << SPK_LUT_BITS];
#endif
} spk_dec;

typedef struct {
    const spk_pkg *pkg;
    const spk_tensor *t;
    spk_dec *dec;
    uint32_t group;            /* next group */
    uint64_t gt_bit;           /* group table bit cursor */
    uint64_t pay_bit;          /* payload bit cursor */
    int64_t lo, hi;            /* the dtype's range */
} spk_stream;

/* Parse and check preamble, footer, directory CRC32 and the whole directory (every table and
 * entry).  Keeps pointers into buf, which must outlive p. */
int spk_open(spk_pkg *p, const uint8_t *buf, size_t len);

/* Directory entry `index` (O(index): entries are prefix-compressed).  If name != NULL, the
 * first min(name_len, cap) bytes of the name are written there. */
int spk_tensor_at(const spk_pkg *p, uint32_t index, spk_tensor *t, char *name, size_t cap);
/* The entry after t (t from spk_tensor_at / spk_tensor_next); name must still hold the
 * previous entry's name (as written by the previous call, same cap).  1 = got one, 0 = end. */
int spk_tensor_next(const spk_pkg *p, spk_tensor *t, char *name, size_t cap);
/* Index of the tensor named name[0:nlen], or SPK_E_ARG if absent.  Needs no name buffer. */
int32_t spk_find(const spk_pkg *p, const char *name, size_t nlen);

/* CRC32 (IEEE, zlib-compatible) of the tensor's block against the directory. */
int spk_verify(const spk_pkg *p, const spk_tensor *t);

/* Decode tensor t into out (numel values of the stored dtype, native byte order; out needs no
 * particular alignment).  Checks the block CRC and the group table first. */
int spk_decode(const spk_pkg *p, const spk_tensor *t, spk_dec *d, void *out, size_t out_bytes);

/* Streaming: one group at a time.  begin checks the block CRC and the whole group table;
 * next decodes the next group into out (at least group_size values) and returns the number of
 * values written (> 0), SPK_END (0) after the last group, or a negative error. */
int spk_stream_begin(spk_stream *s, const spk_pkg *p, const spk_tensor *t, spk_dec *d);
int32_t spk_stream_next(spk_stream *s, void *out, size_t out_bytes);

uint32_t spk_crc32(uint32_t crc, const uint8_t *data, size_t n);

#ifdef __cplusplus
}
#endif
#endif
