/* spkdec: portable C99 decoder for codec packages, format versions 1, 2, 3, 4, 5, 6 and 7.
 *
 * No dynamic allocation, no libc beyond memcpy/memset, no global state.  All buffers are
 * provided by the caller; every function returns a negative SPK_E_* code on malformed input
 * and never reads or writes outside the buffers it was given.  Integers are assembled from
 * bytes, so the decoder is independent of host endianness and alignment.
 *
 * RAM (x86-64 sizes; see docs/C_DECODER.md):
 *   spk_pkg      184 bytes         parsed package header (pointers into the package; v2: token
 *                                  dictionary with SPK_TOKEN_CACHE (16) token offsets; v7:
 *                                  aliases, floors, first record; 168 before v7)
 *   spk_tensor   584 bytes         one directory entry (shape has SPK_MAX_NDIM = 32 dims) and,
 *                                  for v2 names, the byte ends of the name's tokens
 *                                  (SPK_MAX_NAME_TOKENS = 64 uint16); v7: alias, floors and
 *                                  the alias / record cursors (536 before v7)
 *   spk_dec      17192 bytes       4096-entry decode table (uint32) + SPK_TABLE_CACHE (64) offsets
 *                                  (v4: + 64 uint32 bit-in-byte / alphabet states; 16936 without
 *                                  v4, -DSPK_ONLY_V1..3)
 *                33576 bytes       with -DSPK_MULTI (opt-in): 8192 uint32, a 4096-entry decode
 *                                  table or one with multi-set entries (two words an entry)
 *                2552 bytes        with -DSPK_SMALL: 2 * SPK_SMALL_MAX_CODES (1024) + 32 offsets
 *                                  (+ the range of v2 CRC chunks already verified)
 *   spk_stream   80 bytes          plus the caller's group buffer (group_size values; 64 before
 *                                  v7: + the row-floor cursor)
 *   spk_job      104 bytes         spk_decode_many: one per tensor (with the caller's spk_tensor)
 *   stack        ~ 1.3 KiB         deepest: spk_open -> table_read4 (~1300 bytes at -Os; 1190
 *                                  before v7)
 *
 * Typical use:
 *   spk_pkg p; spk_tensor t; static spk_dec d;
 *   if (spk_open(&p, buf, len) < 0) ...;
 *   if (spk_tensor_at(&p, 0, &t, NULL, 0) < 0) ...;
 *   if (spk_decode(&p, &t, &d, out, sizeof out) < 0) ...;   // checks the block's CRCs first
 *
 * Format v2 (docs/FORMAT.md §16-22) differs only in the directory: names are token sequences
 * (walked in the directory, never copied), block offsets are implicit, and one CRC32 covers
 * each 2^chunk_log2-byte chunk of the data area instead of each block.  Format v3 (§23-26) is
 * v2 plus an optional per-tensor mirror transform (entry flag bit 7: t->mirror_period rows of
 * P values, a 2-bit mode per row between the metadata and the group table), undone after the
 * tensor's groups are decoded.  Format v4 (§27-30) is v3 with a 12-byte footer (dir_length u32,
 * dir_crc u32, magic), the entries as one Exp-Golomb bit string (three coding parameters
 * first), no group table in the block of a one-group tensor (its exact bit length is in the
 * entry: t->len_bits 0, t->glen_pad), and the Huffman table pool as one Exp-Golomb bit string
 * (§28.1: an alphabet may repeat the previous table's; two ways to list the code lengths).
 * Format v5 (§32) is v4 plus an optional per-tensor prediction transform: an eligible entry
 * (numel > 0, ndim >= 2, H * W >= 2 for H, W its last two dims, no mirror) has a has_pred bit
 * and, if set, a 3-bit mode (t->pred_mode, -1 without one); the decoded values are residuals,
 * turned into the values image by image (H * W values each) after the tensor's groups are
 * decoded (spk_decode, spk_decode_many) or, streaming, on each group, which then must hold
 * whole images.  Format v6 (§34) is v5 whose predicted entries also say which two adjacent
 * dims hold the images: a pred_shift field (Exp-Golomb order 0, t->pred_shift; 0 in v1-v5)
 * right after pred_mode, the images in dims h = ndim - 2 - pred_shift and h + 1 (H, W), the C
 * values of one (i, j) of C = (product of the dims after h + 1) interleaved images contiguous:
 * the rebuild runs over whole "a-slices" of H * W * C values, and a streamed group must hold
 * whole a-slices.  Format v7 (§36) is v6 with row floors and tensor aliases: a v7 varint after
 * rate (n_alias = v7 >> 1, floors_on = v7 & 1); the entry bit string starts with n_alias
 * alias records (gap, back - 1: tensor i is tensor j = i - back under its own name: no entry
 * record, no block; spk_tensor_at / spk_tensor_next give it j's entry, t->alias = j, -1
 * otherwise, and it decodes to j's values: its block decoded again); a floor-eligible entry
 * (numel > 0, int8 / int16 / int32, value offset 0, no mirror, no prediction) of a package
 * with floors_on has a has_floor bit after the prediction fields, then floor_k (5 bits) and
 * R = shape[0] (ndim >= 2, else 1) Exp-Golomb row floors f_r, which stay in the directory
 * (t->floor_bit, t->floor_k) and are read again as the values are rebuilt: s > 0 -> s + f_r,
 * s < 0 -> s - f_r in row r (values r * L .. r * L + L - 1, L = numel / R), SPK_E_CORRUPT if
 * that leaves the dtype's range; rows are independent of groups, so streaming works on any
 * grouping.  The API is the same for every version (p->version says which one a package is).
 */
#ifndef SPKDEC_H
#define SPKDEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Format versions read: SPK_MIN_FORMAT_VERSION .. SPK_FORMAT_VERSION (1 .. 7; one of them with
 * -DSPK_ONLY_V1 / -DSPK_ONLY_V2 / -DSPK_ONLY_V3 / -DSPK_ONLY_V4 / -DSPK_ONLY_V5 /
 * -DSPK_ONLY_V6 / -DSPK_ONLY_V7, which the code including this header should see too).
 * SPK_FORMAT_VERSION was 1 when only v1 was read, 2 before v3, 3 before v4, 4 before v5, 5
 * before v6 and 6 before v7: test a package's version with SPK_READS_VERSION(v), not with
 * == SPK_FORMAT_VERSION. */
#if defined(SPK_ONLY_V1)
#define SPK_FORMAT_VERSION 1
#elif defined(SPK_ONLY_V2)
#define SPK_FORMAT_VERSION 2
#elif defined(SPK_ONLY_V3)
#define SPK_FORMAT_VERSION 3
#elif defined(SPK_ONLY_V4)
#define SPK_FORMAT_VERSION 4
#elif defined(SPK_ONLY_V5)
#define SPK_FORMAT_VERSION 5
#elif defined(SPK_ONLY_V6)
#define SPK_FORMAT_VERSION 6
#else
#define SPK_FORMAT_VERSION 7
#endif
#if defined(SPK_ONLY_V2)
#define SPK_MIN_FORMAT_VERSION 2
#elif defined(SPK_ONLY_V3)
#define SPK_MIN_FORMAT_VERSION 3
#elif defined(SPK_ONLY_V4)
#define SPK_MIN_FORMAT_VERSION 4
#elif defined(SPK_ONLY_V5)
#define SPK_MIN_FORMAT_VERSION 5
#elif defined(SPK_ONLY_V6)
#define SPK_MIN_FORMAT_VERSION 6
#elif defined(SPK_ONLY_V7)
#define SPK_MIN_FORMAT_VERSION 7
#else
#define SPK_MIN_FORMAT_VERSION 1
#endif
#define SPK_READS_VERSION(v) ((v) >= SPK_MIN_FORMAT_VERSION && (v) <= SPK_FORMAT_VERSION)
#define SPK_MAX_NDIM 32            /* format limit (codec.format.Limits.max_ndim) */
#define SPK_MAX_TENSORS (1u << 20) /* Limits.max_tensors */
#define SPK_MAX_TABLES 1024u       /* Limits.max_tables */
#define SPK_MAX_TABLE_SYMBOLS (1u << 20) /* Limits.max_table_symbols: sum of alphabet sizes */
#define SPK_MAX_OUTPUT (1u << 31)  /* Limits.max_output_bytes: sum of all decoded tensors */
#define SPK_MAX_NAME 65536u        /* Limits.max_name_bytes */
#define SPK_MAX_NAMES (1u << 26)   /* Limits.max_names_bytes: all names together */
/* v2: most tokens one name may have (a C decoder limit, not the format's: SPK_E_LIMIT above;
 * the writer's names have one token per '/', '.', '_', ':', ';'-terminated part).  Costs
 * 2 bytes of spk_tensor each. */
#ifndef SPK_MAX_NAME_TOKENS
#define SPK_MAX_NAME_TOKENS 64
#endif
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
/* v2 token offsets spk_pkg remembers (>= 1): those of every 2^k-th token of the name
 * dictionary, the smallest 2^k that fits (< 2 * ntokens / SPK_TOKEN_CACHE), so a token lookup
 * walks fewer tokens than that. */
#ifndef SPK_TOKEN_CACHE
#define SPK_TOKEN_CACHE 16
#endif
/* Multi-set decode-table entries: opt-in with -DSPK_MULTI (full-size build only; SPK_SMALL,
 * SPK_NO_WHOLE or SPK_NO_MULTI leave them out): spk_dec's decode table is 8192 uint32 instead
 * of 4096 (+16 KiB RAM, +1.6 KB code), so a table whose entries hold >= 2 whole sets per lookup
 * on average (dense 4-bit weights) can carry up to three sets per entry: +15-39 % decode speed
 * on dense 4-bit packages with big tensors, 1-5 % slower on the others (docs/C_DECODER.md
 * "Multi-set entries").  -DSPK_NO_MULTI (their off switch while they were the default) is
 * still accepted. */
#if defined(SPK_MULTI) && (defined(SPK_SMALL) || defined(SPK_NO_WHOLE) || defined(SPK_NO_MULTI))
#undef SPK_MULTI
#endif
#ifndef SPK_SMALL_MAX_CODES
#define SPK_SMALL_MAX_CODES 1024   /* -DSPK_SMALL: most codes one table may have */
#endif

enum {
    SPK_OK = 0,
    SPK_E_TRUNCATED = -1,   /* input ends inside a structure / too short to be a package */
    SPK_E_UNSUPPORTED = -2, /* bad magic, unknown version or flags */
    SPK_E_CORRUPT = -3,     /* malformed directory, table or group table (v7: also a value a
                               row floor takes out of its dtype's range) */
    SPK_E_CHECKSUM = -4,    /* directory or block CRC32 mismatch */
    SPK_E_LIMIT = -5,       /* exceeds a limit (output size, counts, SPK_SMALL codes; v3:
                               streaming a mirror tensor whose groups split its rows; v5:
                               streaming a prediction tensor whose groups split its images;
                               v6: its a-slices of H * W * C values) */
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
    size_t ent_off;            /* first tensor entry (v7: first alias record) */
    uint32_t ntables, ntensors;
    uint32_t dir_crc;
    uint8_t version;           /* 1 .. 7 */
    /* v2, v3 and v4 only (0 in v1) */
    uint8_t id_bits, count_bits; /* name records: token id width, shared / fresh width */
    uint8_t chunk_log2;        /* CRC chunk size 2^chunk_log2 */
    uint32_t ntokens;          /* token dictionary */
    uint16_t rate;             /* v4 coding parameters (§28; 0 before v4): predicted payload */
    uint8_t len_k, voff_k;     /* bits a value in 1/64 bit, Exp-Golomb orders of the length
                                  residuals and of the value offsets */
    size_t tok_off;            /* first token (varint length, bytes) */
    uint64_t name_bit;         /* first name record (bit offset in buf) */
    size_t crc_off;            /* chunk_crc[0] (u32 LE each) */
    uint32_t nchunks;
    uint8_t tok_shift;         /* tokc[k]: offset of token k << tok_shift from tok_off */
    uint8_t tid_w;             /* v4: entries' table base width (bit length of ntables - 1) */
    uint8_t floors_on;         /* v7 (§36): v7 & 1, entries may have row floors */
    uint32_t n_alias;          /* v7: v7 >> 1, alias records (from bit ent_off * 8 on) */
    uint64_t rec_bit;          /* v7: the first entry record (after the alias records) */
    uint32_t tokc[SPK_TOKEN_CACHE];
} spk_pkg;

/* v7 (§36): a cursor over the alias records (iteration state of spk_tensor): the alias ahead
 * is tensor `at` (~0 if none), an alias of tensor `to`; the next record at bit `bit` of the
 * package (none left at p->rec_bit). */
typedef struct {
    uint64_t bit;
    uint32_t at, to;
} spk_alias_cur;

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
    size_t block_off, block_len, meta_len;  /* block = [meta][mirror modes][group table]
                                               [payload] */
    size_t pay_off, pay_len;   /* payload bytes */
    uint32_t crc32;            /* v1: the block's CRC32; v2: 0 (chunk CRCs, spk_verify) */
    uint32_t tid_base;
    uint8_t tid_bits, len_bits; /* group table record widths (v4 one group: both 0, no table) */
    uint8_t glen_pad;          /* v4 one group: the group is pay_len * 8 - glen_pad bits */
    uint8_t next_bit;          /* v4: the following entry starts at bit next_bit of byte next */
    /* v3 mirror transform (FORMAT.md §23; all 0 without one): rows of mirror_period values
     * (P >= 2, divides numel), the first mirror_skip (a <= P - 2) of each outside the mirror;
     * the rows' 2-bit modes are the mirror_len bytes after the metadata */
    uint32_t mirror_period, mirror_skip;
    size_t mirror_len;
    size_t next;               /* directory offset of the following entry (iteration) */
    /* v2 iteration state (names and entries are separate; offsets and table bases are
     * relative to the previous entry) */
    uint64_t name_bit;         /* the following name record */
    uint32_t tid_prev;         /* table base of the last entry with values */
    uint32_t tk_id;            /* a token id and its directory offset: token lookups walk */
    size_t tk_off;             /* the dictionary forward from here when they can */
    uint16_t ntok;             /* tokens of this name; tok_end[k] + 1 = bytes of tokens 0..k */
    uint16_t tok_end[SPK_MAX_NAME_TOKENS];
    /* v7 (FORMAT.md §36; -1 / 0 before v7).  alias: an alias's target index (every field but
     * index and the name is the target's: its values are the target's), -1 for a tensor with
     * an entry of its own.  floor_bit: a floored tensor's first row floor (bit offset in the
     * package; 0: no floors), R = shape[0] (ndim >= 2, else 1) Exp-Golomb order floor_k
     * fields read again when the values are rebuilt (row r: values r * L .. r * L + L - 1,
     * L = numel / R; stored s -> s + f_r if s > 0, s - f_r if s < 0). */
    int32_t alias;
    uint64_t floor_bit;
    /* v7 iteration state: the alias records ahead, and the last entry record's shape (the bit
     * of its nd field; 0: the initial ()), dtype and block end (an alias's entry is its
     * target's, but the record after it refers to the record before) */
    spk_alias_cur al;
    uint64_t shape_bit;
    size_t it_end;
    /* v5 prediction transform (FORMAT.md §32): its mode 0-7 (kind = pred_mode >> 2: 0
     * average, 1 plane; c = (pred_mode & 3) + 1), -1 without one (always before v5).  v6
     * (§34): pred_shift (0 before v6 and without a transform; <= ndim - 2): the images lie in
     * dims h = ndim - 2 - pred_shift and h + 1 (H = shape[h], W = shape[h + 1]; C = the
     * product of the dims after h + 1, 1 if none): value ((a * H + i) * W + j) * C + c is
     * position (i, j) of image (a, c).  pred_shift 0 (v5): the images are the runs of
     * shape[ndim - 2] * shape[ndim - 1] values.  (Last: they fill the struct's padding.) */
    int8_t pred_mode;
    uint8_t pred_shift;
    uint8_t floor_k;           /* v7: the floors' Exp-Golomb order (<= 30) */
    uint8_t it_dtype;          /* v7 iteration state: the last entry record's dtype */
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
#if SPK_FORMAT_VERSION >= 4
    uint32_t tstate[SPK_TABLE_CACHE]; /* v4: table toff[k]'s first bit within that byte |
                                         the previous table's alphabet << 3 */
#endif
    uint32_t nrun;
#ifdef SPK_SMALL
    uint16_t first[SPK_LUT_BITS + 1], count[SPK_LUT_BITS + 1], offs[SPK_LUT_BITS + 1];
    uint8_t kref;
    uint16_t sym[SPK_SMALL_MAX_CODES];
#elif defined(SPK_MULTI)
    uint8_t multi;             /* 0 plain lut[0, 4096); 1 multi-set: lut[2p] plain entry of
                                  prefix p, lut[2p + 1] its extra sets; 2 plain, not worth it */
    uint32_t lut[2u << SPK_LUT_BITS];
#else
    uint32_t lut[1u << SPK_LUT_BITS];
#endif
    uint32_t ck_lo, ck_hi;     /* v2: CRC chunks [ck_lo, ck_hi) verified (same key) */
} spk_dec;

typedef struct {
    const spk_pkg *pkg;
    const spk_tensor *t;
    spk_dec *dec;
    uint32_t group;            /* next group */
    uint64_t gt_bit;           /* group table bit cursor */
    uint64_t pay_bit;          /* payload bit cursor */
    int64_t lo, hi;            /* the dtype's range */
    uint64_t fl_bit;           /* v7 row floors: the next one (row fl_row) at bit fl_bit, */
    uint32_t fl_row, fl_f;     /* the floor of row fl_row - 1 fl_f */
} spk_stream;

/* Parse and check preamble, footer, directory CRC32 and the whole directory (every table,
 * name and entry; v2: token dictionary, name records, chunk CRC array).  Keeps pointers into
 * buf, which must outlive p. */
int spk_open(spk_pkg *p, const uint8_t *buf, size_t len);

/* Directory entry `index` (O(index): names are prefix-compressed, v2 offsets implicit).  If
 * name != NULL, the first min(name_len, cap) bytes of the name are written there.  v7: an
 * alias's entry is its target's (t->alias: the target's index), found by walking the entries
 * again up to the target (O(target index) more; spk_tensor_next likewise). */
int spk_tensor_at(const spk_pkg *p, uint32_t index, spk_tensor *t, char *name, size_t cap);
/* The entry after t (t from spk_tensor_at / spk_tensor_next); name must still hold the
 * previous entry's name (as written by the previous call, same cap).  1 = got one, 0 = end. */
int spk_tensor_next(const spk_pkg *p, spk_tensor *t, char *name, size_t cap);
/* Index of the tensor named name[0:nlen], or SPK_E_ARG if absent.  Needs no name buffer. */
int32_t spk_find(const spk_pkg *p, const char *name, size_t nlen);

/* v1: CRC32 (IEEE, zlib-compatible) of the tensor's block against the directory; v2: CRC32 of
 * every data chunk the block overlaps (each time: spk_verify remembers nothing). */
int spk_verify(const spk_pkg *p, const spk_tensor *t);

/* Decode tensor t into out (numel values of the stored dtype, native byte order; out needs no
 * particular alignment).  Checks the block's CRCs (v1: block CRC; v2, v3: the chunks it
 * overlaps, except those d has verified before in this package: d remembers one contiguous
 * range of verified chunks, so decoding tensors in order reads each chunk once; zero d if the
 * package bytes change in place), v3: the mirror modes, and the group table first; v3: undoes
 * the mirror transform after the last group; v5, v6: rebuilds the values from the prediction
 * residuals after the last group (t->pred_mode >= 0); v7: adds the row floors back after it
 * (t->floor_bit != 0; SPK_E_CORRUPT if a value leaves the dtype's range), and decodes an
 * alias (t->alias >= 0) from its target's block. */
int spk_decode(const spk_pkg *p, const spk_tensor *t, spk_dec *d, void *out, size_t out_bytes);

/* Several tensors of one package decoded together (each job: its tensor t from spk_tensor_at /
 * spk_tensor_next, kept alive by the caller, and its output buffer; s is scratch).  The values,
 * and the checks before any group is decoded, are spk_decode's for each tensor (block CRCs, v3:
 * mirror modes, group tables: every job's first); then the groups of all the jobs are decoded
 * table by table, so each decode table is built once for all of them instead of once for every
 * tensor that uses it (yolov8n 8-bit 50 %: 77 tables, 2,010 builds tensor by tensor: docs/
 * C_DECODER.md "Decoding many tensors"); v3: the mirror transforms are undone last; v5, v6: the
 * prediction transforms too; v7: the row floors added back (an alias and its target are decoded
 * twice, into their own outputs).  Returns 0 or
 * the first error (outputs then unspecified).  Packages whose tables times groups exceed
 * SPK_MANY_MAX_WORK (each table used is one pass over every job's group table) are decoded
 * tensor by tensor, as spk_decode. */
typedef struct {
    const spk_tensor *t;
    void *out;
    size_t out_bytes;
    spk_stream s;              /* (scratch) */
} spk_job;
int spk_decode_many(const spk_pkg *p, spk_dec *d, spk_job *jobs, uint32_t n);

/* Streaming: one group at a time.  begin checks the block's CRCs (as spk_decode), v3: the
 * mirror modes, and the whole group table; next decodes the next group into out (at least
 * group_size values) and returns the number of values written (> 0), SPK_END (0) after the
 * last group, or a negative error.  v3: a group of a mirror tensor holds whole rows when
 * group_size is a multiple of mirror_period (what codec.pack's groupings give), and next
 * undoes the mirror on its rows; otherwise begin returns SPK_E_LIMIT (use spk_decode).
 * v5: likewise a group of a prediction tensor (t->pred_mode >= 0) must hold whole images
 * (group_size a multiple of H * W = shape[ndim - 2] * shape[ndim - 1], or one group), and
 * next rebuilds its images' values; otherwise begin returns SPK_E_LIMIT (use spk_decode):
 * the rebuild of an image's first row in a group needs the image's previous row, which the
 * stream does not keep.  v6 (§34): whole a-slices, group_size a multiple of H * W * C (the
 * product of shape[ndim - 2 - t->pred_shift ..]; H * W when pred_shift = 0, as v5).  v7: next
 * adds the row floors back to each group's values (rows are independent: any grouping; the
 * floors are read from the directory once, in order, as the rows begin). */
int spk_stream_begin(spk_stream *s, const spk_pkg *p, const spk_tensor *t, spk_dec *d);
int32_t spk_stream_next(spk_stream *s, void *out, size_t out_bytes);

uint32_t spk_crc32(uint32_t crc, const uint8_t *data, size_t n);

#ifdef __cplusplus
}
#endif
#endif
