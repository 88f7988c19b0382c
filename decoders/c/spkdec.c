/* spkdec.c: portable C99 decoder for codec packages, format v1 (see spkdec.h).
 *
 * Source of truth for the format: codec/format.py, codec/huffman.py, codec/kernels/ (decode.py, symbols.py, tables.py).
 *   package  = preamble(8) | blocks | directory | footer(24)
 *   preamble = "SPKG" version=1 flags=0 0 0
 *   footer   = dir_off u64le, dir_len u64le, crc32(preamble + directory) u32le, "GKPS"
 *   block    = [meta][group table: per group tid_bits + len_bits, MSB-first, byte padded]
 *              [payload: groups back to back, MSB-first bits]
 *   group    = symbols of a canonical Huffman code (max 12 bits):
 *              0 end of group, 1 escape (nrun zeros), 2 + class*nrun + run: `run` zeros then a
 *              value of magnitude class `class` (extra bits MSB-first, then a sign bit).
 */
#include "spkdec.h"

#include <string.h>

#define E_(x) do { int e_ = (x); if (e_ < 0) return e_; } while (0)

#if defined(__GNUC__)
#define NOINLINE __attribute__((noinline)) /* small helpers out of line: code size */
#define HOT static inline __attribute__((always_inline)) /* the symbol loop (lane in registers) */
#else
#define NOINLINE
#define HOT static
#endif

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define NO_CRC 1 /* fuzzing: let damaged bytes reach the parser and the decoder */
#else
#define NO_CRC 0
#endif

#define MAXLEN SPK_LUT_BITS
#define MAX_KREF 6u
#define MAX_NRUN 4096u
#define MAX_SYMBOLS 65536u

/* ---- CRC32 (IEEE 802.3, reflected, as zlib): a 256-entry table (1 KiB), or 16 entries (64
 * bytes) in -Os builds or with SPK_SMALL_CRC; SPK_FAST_CRC forces the 256-entry table. ---- */

#if !defined(SPK_SMALL_CRC) && (defined(SPK_FAST_CRC) || !defined(__OPTIMIZE_SIZE__))
#define CRC_BYTEWISE
#endif
#ifdef CRC_BYTEWISE
static const uint32_t crc_tab[256] = {
    0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau, 0x076dc419u, 0x706af48fu,
    0xe963a535u, 0x9e6495a3u, 0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u,
    0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u, 0x90bf1d91u, 0x1db71064u, 0x6ab020f2u,
    0xf3b97148u, 0x84be41deu, 0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u,
    0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu, 0x14015c4fu, 0x63066cd9u,
    0xfa0f3d63u, 0x8d080df5u, 0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u, 0xa2677172u,
    0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu, 0x35b5a8fau, 0x42b2986cu,
    0xdbbbc9d6u, 0xacbcf940u, 0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u,
    0x26d930acu, 0x51de003au, 0xc8d75180u, 0xbfd06116u, 0x21b4f4b5u, 0x56b3c423u,
    0xcfba9599u, 0xb8bda50fu, 0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u,
    0x2f6f7c87u, 0x58684c11u, 0xc1611dabu, 0xb6662d3du, 0x76dc4190u, 0x01db7106u,
    0x98d220bcu, 0xefd5102au, 0x71b18589u, 0x06b6b51fu, 0x9fbfe4a5u, 0xe8b8d433u,
    0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u, 0x7f6a0dbbu, 0x086d3d2du,
    0x91646c97u, 0xe6635c01u, 0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
    0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u, 0x65b0d9c6u, 0x12b7e950u,
    0x8bbeb8eau, 0xfcb9887cu, 0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u,
    0x4db26158u, 0x3ab551ceu, 0xa3bc0074u, 0xd4bb30e2u, 0x4adfa541u, 0x3dd895d7u,
    0xa4d1c46du, 0xd3d6f4fbu, 0x4369e96au, 0x346ed9fcu, 0xad678846u, 0xda60b8d0u,
    0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u, 0x5005713cu, 0x270241aau,
    0xbe0b1010u, 0xc90c2086u, 0x5768b525u, 0x206f85b3u, 0xb966d409u, 0xce61e49fu,
    0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u, 0x59b33d17u, 0x2eb40d81u,
    0xb7bd5c3bu, 0xc0ba6cadu, 0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au,
    0xead54739u, 0x9dd277afu, 0x04db2615u, 0x73dc1683u, 0xe3630b12u, 0x94643b84u,
    0x0d6d6a3eu, 0x7a6a5aa8u, 0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u,
    0xf00f9344u, 0x8708a3d2u, 0x1e01f268u, 0x6906c2feu, 0xf762575du, 0x806567cbu,
    0x196c3671u, 0x6e6b06e7u, 0xfed41b76u, 0x89d32be0u, 0x10da7a5au, 0x67dd4accu,
    0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u, 0xd6d6a3e8u, 0xa1d1937eu,
    0x38d8c2c4u, 0x4fdff252u, 0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
    0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u, 0xdf60efc3u, 0xa867df55u,
    0x316e8eefu, 0x4669be79u, 0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u,
    0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu, 0xc5ba3bbeu, 0xb2bd0b28u,
    0x2bb45a92u, 0x5cb36a04u, 0xc2d7ffa7u, 0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du,
    0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au, 0x9c0906a9u, 0xeb0e363fu,
    0x72076785u, 0x05005713u, 0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u,
    0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u, 0x86d3d2d4u, 0xf1d4e242u,
    0x68ddb3f8u, 0x1fda836eu, 0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u,
    0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu, 0x8f659effu, 0xf862ae69u,
    0x616bffd3u, 0x166ccf45u, 0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u,
    0xa7672661u, 0xd06016f7u, 0x4969474du, 0x3e6e77dbu, 0xaed16a4au, 0xd9d65adcu,
    0x40df0b66u, 0x37d83bf0u, 0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u,
    0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u, 0xbad03605u, 0xcdd70693u,
    0x54de5729u, 0x23d967bfu, 0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
    0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du};
#else
static const uint32_t crc_nib[16] = {
    0x00000000u, 0x1db71064u, 0x3b6e20c8u, 0x26d930acu, 0x76dc4190u, 0x6b6b51f4u,
    0x4db26158u, 0x5005713cu, 0xedb88320u, 0xf00f9344u, 0xd6d6a3e8u, 0xcb61b38cu,
    0x9b64c2b0u, 0x86d3d2d4u, 0xa00ae278u, 0xbdbdf21cu};
#endif

uint32_t spk_crc32(uint32_t crc, const uint8_t *data, size_t n)
{
    crc = ~crc;
    while (n--) {
#ifdef CRC_BYTEWISE
        crc = (crc >> 8) ^ crc_tab[(crc ^ *data++) & 255u];
#else
        crc ^= *data++;
        crc = (crc >> 4) ^ crc_nib[crc & 15u];
        crc = (crc >> 4) ^ crc_nib[crc & 15u];
#endif
    }
    return ~crc;
}

/* ---- byte reader over the directory (sticky error: a failed read returns 0) ----------- */

typedef struct {
    const uint8_t *b;
    size_t pos, end;
    int err;
} rd;

static NOINLINE void fail(rd *r, int e)
{
    if (!r->err)
        r->err = e;
}

static NOINLINE uint64_t le(const uint8_t *b, unsigned n)
{
    uint64_t v = 0;
    while (n--)
        v = (v << 8) | b[n];
    return v;
}

static NOINLINE uint32_t u8(rd *r)
{
    if (r->pos >= r->end) {
        fail(r, SPK_E_TRUNCATED);
        return 0;
    }
    return r->b[r->pos++];
}

/* unsigned LEB128, at most 10 bytes, value <= lim (codec._bytes.Reader.varint) */
static uint64_t var(rd *r, uint64_t lim)
{
    uint64_t x = 0;
    uint32_t c;
    unsigned i;
    for (i = 0;; i += 7) {
        c = u8(r);
        x |= (uint64_t)(c & 0x7fu) << i;
        if (i == 63 && c > 1)
            x = ~(uint64_t)0, lim = 0; /* >= 2^64 or longer than 10 bytes */
        if (i == 63 || !(c & 0x80u))
            break;
    }
    if (x > lim) {
        fail(r, SPK_E_CORRUPT);
        return 0;
    }
    return x;
}

static NOINLINE uint32_t getbit(const uint8_t *b, uint64_t bp)
{
    return (b[bp >> 3] >> (7u - (unsigned)(bp & 7u))) & 1u;
}

/* Elias gamma at bit *bp, MSB-first, at most 20 leading zeros (read_symbol_list) */
static uint32_t gamma_(rd *r, uint64_t *bp)
{
    unsigned nz = 0;
    uint32_t v = 1;
    uint64_t endbit = (uint64_t)r->end * 8u;
    for (;;) {
        if (*bp >= endbit || nz > 20) {
            fail(r, SPK_E_CORRUPT);
            return 0;
        }
        if (getbit(r->b, (*bp)++))
            break;
        nz++;
    }
    while (nz--) {
        if (*bp >= endbit) {
            fail(r, SPK_E_CORRUPT);
            return 0;
        }
        v = (v << 1) | getbit(r->b, (*bp)++);
    }
    return v;
}

/* ---- Huffman tables -------------------------------------------------------------------- */

/* Decode-table entry of symbol s: bits 0-3 code length (set by the caller), 4-16 zero run,
 * 17-21 extra-bit count e, 22-28 magnitude mantissa (magnitude base = mant << e; 0 for the
 * escape), bit 29 end of group.
 * Whole-set entries (not with SPK_SMALL or SPK_NO_WHOLE): where a value's code, its e
 * remainder bits and its sign bit all lie within the 12 looked-up bits and its magnitude is
 * below 2^14, the entry holds the decoded set: bit 31 set, bits 0-3 bits used (code + e + 1
 * <= 12), 4-15 zero run (< nrun <= 4096), 16-30 value + 2^14. */
#define ENT_EOB (1u << 29)
#define ENT_WHOLE (1u << 31)
#define WHOLE_BIAS 16384u
#if !defined(SPK_SMALL) && !defined(SPK_NO_WHOLE)
#define WHOLE 1
#else
#define WHOLE 0
#endif
static uint32_t sym_entry(uint32_t s, uint32_t kref, uint32_t nrun)
{
    uint32_t c, run, small = (2u << kref) - 1u, e = 0, mant;
    if (s == 0)
        return ENT_EOB;
    if (s == 1)
        return nrun << 4;
    s -= 2;
    c = s / nrun;
    run = s - c * nrun;
    mant = c + 1u;
    if (c >= small) {
        uint32_t j = c - small;
        e = 1u + (j >> kref);
        mant = (1u << kref) + (j & ((1u << kref) - 1u));
    }
    return (run << 4) | (e << 17) | (mant << 22);
}

/* Parse the table at r->pos (codec.format._read_tables + huffman.read_lengths): header,
 * counts, Kraft, the gamma-coded symbol list (range, end-of-group present); if syms != NULL
 * (spk_open), the alphabet-size total (Limits.max_table_symbols) and that no symbol is listed
 * twice (a merge of the 12 ascending per-length lists); if d != NULL, build d's decoding
 * tables (canonical order = list order). */
static int table_read(rd *r, spk_dec *d, uint32_t *syms)
{
    uint32_t kref, nrun, nsym, nclass, total = 0, kraft = 0, eob = 0, l, k, s, code = 0;
    uint32_t cnt[MAXLEN], left[MAXLEN], head[MAXLEN], last = ~0u;
    uint64_t bp, cur[MAXLEN];
    kref = u8(r);
    if (kref > MAX_KREF)
        return SPK_E_CORRUPT;
    nrun = (uint32_t)var(r, MAX_NRUN);
    nclass = (uint32_t)var(r, (2u << kref) - 1u + (31u - kref) * (1u << kref));
    if (r->err || !nrun || !nclass)
        return r->err ? r->err : SPK_E_CORRUPT;
    nsym = 2u + nclass * nrun;
    if (nsym > MAX_SYMBOLS || (syms && (*syms += nsym) > SPK_MAX_TABLE_SYMBOLS))
        return SPK_E_LIMIT;
    for (l = 0; l < MAXLEN; l++) {
        cnt[l] = (uint32_t)var(r, nsym);
        total += cnt[l];
        kraft += cnt[l] << (MAXLEN - 1 - l);
    }
    if (r->err)
        return r->err;
    if (!total || total > nsym || kraft > (1u << MAXLEN))
        return SPK_E_CORRUPT;
#ifdef SPK_SMALL
    if (d && total > SPK_SMALL_MAX_CODES)
        return SPK_E_LIMIT;
    k = 0;
#else
    if (d)
        memset(d->lut, 0, sizeof d->lut);
#endif
    bp = (uint64_t)r->pos * 8u;
    for (l = 0; l < MAXLEN; l++) {
        cur[l] = bp;
#ifdef SPK_SMALL
        if (d) {
            d->first[l] = (uint16_t)code;
            d->count[l] = (uint16_t)cnt[l];
            d->offs[l] = (uint16_t)k;
        }
#endif
        for (s = ~0u, left[l] = 0; left[l] < cnt[l]; left[l]++, code++) { /* prev = -1 */
            s += gamma_(r, &bp);
            if (s >= nsym) {
                fail(r, SPK_E_CORRUPT);
                s = 0;
            }
            eob |= !s;
#ifdef SPK_SMALL
            if (d)
                d->sym[k++] = (uint16_t)s;
#else
            if (d) { /* Kraft (checked) keeps code << sh + n within the table */
                uint32_t sh = MAXLEN - 1 - l, e = sym_entry(s, kref, nrun) | (l + 1);
                uint32_t *o = d->lut + (code << sh), rep = 1u << sh, n = 1u, i, j, q = e, t;
                uint32_t x = (e >> 17) & 31u, m = ((e >> 22) & 127u) << x, tot = l + 2u + x;
                uint32_t st = 0;
                if (WHOLE && m && tot <= MAXLEN && m + (1u << x) <= WHOLE_BIAS) {
                    /* 2^x remainders, each: rep entries of +value, then rep of -value */
                    n = 2u << x;
                    rep >>= x + 1u;
                    e = ENT_WHOLE | tot | (e & 0xfff0u) | ((WHOLE_BIAS + m) << 16);
                    q = e - (m << 17);
                    st = 1u << 16;
                }
                for (i = 0; i < n; i++) { /* blocks e, q, e + st, q - st, ... */
                    for (j = 0; j < rep; j++)
                        *o++ = e;
                    t = e, e = q, q = t + st, st = 0u - st;
                }
            }
#endif
        }
        code <<= 1;
    }
    if (r->err || !eob) /* no end-of-group code */
        return r->err ? r->err : SPK_E_CORRUPT;
    r->pos = (size_t)((bp + 7u) >> 3);
    if (d) {
        d->nrun = nrun;
#ifdef SPK_SMALL
        d->kref = (uint8_t)kref;
#endif
    }
    if (syms) {
        for (l = 0; l < MAXLEN; l++)
            head[l] = left[l] ? gamma_(r, &cur[l]) - 1u : ~0u;
        for (k = 0; k < total; k++) {
            uint32_t m = 0;
            for (l = 1; l < MAXLEN; l++)
                if (head[l] < head[m])
                    m = l;
            if (head[m] == last)
                return SPK_E_CORRUPT; /* symbol listed twice */
            last = head[m];
            head[m] = --left[m] ? last + gamma_(r, &cur[m]) : ~0u;
        }
    }
    return 0;
}

/* Load table `tid` into d (build its decode table) unless it is loaded already.  Tables have
 * no length field, so finding one means parsing those before it; d caches the directory
 * offsets of the first SPK_TABLE_CACHE tables. */
static int dec_load(spk_dec *d, const spk_pkg *p, uint32_t tid)
{
    rd r = {0};
    uint32_t i;
    if (d->kbuf != p->buf || d->kcrc != p->dir_crc) {
        d->kbuf = p->buf;
        d->kcrc = p->dir_crc;
        d->table = -1;
        d->ncached = 1;
        d->toff[0] = p->tab_off;
    }
    if (d->table == (int32_t)tid)
        return 0;
    d->table = -1;
    if (tid >= p->ntables || !d->ncached || d->ncached > SPK_TABLE_CACHE)
        return SPK_E_CORRUPT;
    i = tid < d->ncached ? tid : d->ncached - 1u;
    r.b = p->buf;
    r.end = p->dir_end;
    r.pos = d->toff[i];
    for (; i <= tid; i++) {
        if (i == d->ncached && i < SPK_TABLE_CACHE)
            d->toff[d->ncached++] = r.pos;
        E_(table_read(&r, i == tid ? d : NULL, NULL));
    }
    d->table = (int32_t)tid;
    return 0;
}

/* ---- directory entries ----------------------------------------------------------------- */

static void vrange(unsigned v, int64_t *lo, int64_t *hi)
{
    unsigned bits = 8u << ((v - 1u) >> 1);
    *lo = (v & 1u) ? -((int64_t)1 << (bits - 1)) : 0;
    *hi = ((int64_t)1 << (bits - (v & 1u))) - 1;
}

/* Parse the entry at t->next (t holds the previous entry, or name_len 0 for the first) into t
 * (codec.format._read_entries).  tot: running output bytes (spk_open) or NULL. */
static int entry_read(const spk_pkg *p, spk_tensor *t, char *name, size_t cap, uint64_t *tot)
{
    rd r = {0};
    uint32_t shared, tail, v, k, sz, w;
    uint64_t x, numel = 1, blen, ng, room;
    int64_t lo, hi, vo;
    r.b = p->buf;
    r.pos = t->next;
    r.end = p->dir_end;
    shared = (uint32_t)var(&r, t->name_len);
    tail = (uint32_t)var(&r, SPK_MAX_NAME - shared);
    if (r.end - r.pos < tail)
        return SPK_E_TRUNCATED;
    for (k = 0; k < tail; k++, r.pos++)
        if (name && shared + k < cap)
            name[shared + k] = (char)r.b[r.pos];
    t->name_len = shared + tail;
    v = u8(&r);
    if (v - 1u > 5u)
        v = 1, fail(&r, SPK_E_CORRUPT);
    t->dtype = (uint8_t)v;
    t->itemsize = (uint8_t)(sz = 1u << ((v - 1u) >> 1));
    vrange(v, &lo, &hi);
    t->ndim = (uint8_t)(v = (uint32_t)var(&r, SPK_MAX_NDIM));
    for (k = 0; k < v; k++) {
        x = t->shape[k] = var(&r, (uint64_t)1 << 48);
        if (x > SPK_MAX_OUTPUT)
            x = (uint64_t)SPK_MAX_OUTPUT + 1u;
        numel *= x; /* <= (2^31 + 1)^2: no overflow */
        if (numel > SPK_MAX_OUTPUT)
            numel = (uint64_t)SPK_MAX_OUTPUT + 1u;
    }
    for (k = 0; k < v; k++)
        if (!t->shape[k])
            numel = 0;
    if ((*tot += numel * sz) > SPK_MAX_OUTPUT)
        fail(&r, SPK_E_LIMIT);
    t->numel = (uint32_t)numel;
    t->group_mode = (uint8_t)(v = u8(&r));
    if (v > 2)
        fail(&r, SPK_E_CORRUPT);
    x = var(&r, (uint64_t)1 << 48);
    if (!x)
        x = 1, fail(&r, SPK_E_CORRUPT);
    t->group_size = (uint32_t)(x < numel ? x : numel);
    /* n_groups = ceil(numel / x) with a 32-bit division (numel <= 2^31; no 64-bit divide) */
    ng = x >= numel ? numel != 0 : (t->group_size + (uint32_t)numel - 1u) / t->group_size;
    t->n_groups = (uint32_t)ng;
    x = var(&r, ~(uint64_t)0); /* zigzag value offset */
    vo = (x >> 1) > 0xffffffffu ? hi + 1 : (int64_t)(x >> 1);
    if (x & 1u)
        vo = -vo - 1;
    if (vo < lo || vo > hi)
        fail(&r, SPK_E_CORRUPT);
    t->value_offset = vo;
    x = var(&r, ~(uint64_t)0);
    blen = var(&r, ~(uint64_t)0);
    if (x < 8 || blen > p->dir_off || x > p->dir_off - blen)
        fail(&r, SPK_E_CORRUPT);
    t->block_off = (size_t)x;
    t->block_len = (size_t)blen;
    t->crc32 = 0;
    for (k = 0; k < 32; k += 8)
        t->crc32 |= u8(&r) << k;
    t->meta_len = (size_t)(x = var(&r, blen));
    t->tid_base = (uint32_t)var(&r, p->ntables ? p->ntables - 1u : 0);
    t->tid_bits = (uint8_t)(v = u8(&r));
    t->len_bits = (uint8_t)(w = u8(&r));
    room = blen - x; /* group table + payload bytes */
    ng = (ng * (v + w) + 7u) >> 3;
    if (r.err)
        return r.err;
    if (v > 12 || w > 56 || (t->n_groups && (!p->ntables || !w)) || ng > room ||
        t->n_groups > (room - ng) * 8u || (!t->n_groups && room != ng))
        return SPK_E_CORRUPT; /* the last: an empty tensor with payload bytes */
    t->pay_len = (size_t)(room - ng);
    t->pay_off = t->block_off + t->block_len - t->pay_len;
    t->next = r.pos;
    return 0;
}

int spk_tensor_next(const spk_pkg *p, spk_tensor *t, char *name, size_t cap)
{
    if (t->index + 1u >= p->ntensors)
        return 0;
    uint64_t tot = 0;
    E_(entry_read(p, t, name, cap, &tot));
    t->index++;
    return 1;
}

int spk_tensor_at(const spk_pkg *p, uint32_t index, spk_tensor *t, char *name, size_t cap)
{
    uint64_t tot = 0;
    if (index >= p->ntensors)
        return SPK_E_ARG;
    t->name_len = 0;
    t->next = p->ent_off;
    t->index = ~0u;
    do
        E_(entry_read(p, t, name, cap, &tot));
    while (++t->index < index);
    return 0;
}

int32_t spk_find(const spk_pkg *p, const char *name, size_t nlen)
{
    size_t m = 0; /* common prefix length of the previous entry's name and `name` */
    uint32_t i, shared, tail;
    uint64_t tot = 0;
    spk_tensor t;
    rd r = {0};
    t.name_len = 0;
    t.next = p->ent_off;
    for (i = 0; i < p->ntensors; i++) {
        r.b = p->buf;
        r.pos = t.next;
        r.end = p->dir_end;
        shared = (uint32_t)var(&r, ~(uint64_t)0);
        tail = (uint32_t)var(&r, ~(uint64_t)0);
        E_(entry_read(p, &t, NULL, 0, &tot)); /* validates shared, tail */
        if (shared <= m) { /* else the name differs from `name` at m, like the previous one */
            size_t k = 0;
            while (k < tail && shared + k < nlen && r.b[r.pos + k] == (uint8_t)name[shared + k])
                k++;
            m = shared + k;
        }
        if (m == nlen && t.name_len == nlen)
            return (int32_t)i;
    }
    return SPK_E_ARG;
}

/* ---- package --------------------------------------------------------------------------- */

int spk_open(spk_pkg *p, const uint8_t *buf, size_t len)
{
    rd r = {0};
    uint64_t off, dlen, tot = 0;
    uint32_t i, syms = 0;
    spk_tensor t;
    memset(p, 0, sizeof *p);
    if (!buf || len < 8)
        return SPK_E_TRUNCATED;
    if (le(buf, 6) != 0x0001474b5053u) /* "SPKG", version 1, flags 0 */
        return SPK_E_UNSUPPORTED;
    if (buf[6] || buf[7])
        return SPK_E_CORRUPT;
    if (len < 32 || le(buf + len - 4, 4) != 0x53504b47u) /* "GKPS" */
        return SPK_E_TRUNCATED;
    p->dir_end = len - 24;
    off = le(buf + p->dir_end, 8);
    dlen = le(buf + p->dir_end + 8, 8);
    if (off < 8 || dlen > p->dir_end || off != p->dir_end - dlen)
        return SPK_E_CORRUPT;
    p->buf = buf;
    p->len = len;
    p->dir_off = (size_t)off;
    p->dir_crc = (uint32_t)le(buf + len - 8, 4);
    if (spk_crc32(spk_crc32(0, buf, 8), buf + off, (size_t)dlen) != p->dir_crc && !NO_CRC)
        return SPK_E_CHECKSUM;
    r.b = buf;
    r.pos = p->dir_off;
    r.end = p->dir_end;
    p->ntables = (uint32_t)var(&r, SPK_MAX_TABLES);
    p->tab_off = r.pos;
    for (i = 0; i < p->ntables && !r.err; i++)
        E_(table_read(&r, NULL, &syms));
    p->ntensors = (uint32_t)var(&r, SPK_MAX_TENSORS);
    if (r.err)
        return r.err;
    t.name_len = 0;
    t.next = p->ent_off = r.pos;
    for (i = 0; i < p->ntensors; i++)
        E_(entry_read(p, &t, NULL, 0, &tot));
    return t.next == p->dir_end ? 0 : SPK_E_CORRUPT; /* stray bytes after the entries */
}

int spk_verify(const spk_pkg *p, const spk_tensor *t)
{
    if (t->block_off > p->dir_off || t->block_len > p->dir_off - t->block_off)
        return SPK_E_ARG;
    return spk_crc32(0, p->buf + t->block_off, t->block_len) == t->crc32 || NO_CRC ? 0 : SPK_E_CHECKSUM;
}

/* ---- bitstream ------------------------------------------------------------------------- */

static NOINLINE uint64_t bits_at(const uint8_t *b, uint64_t bp, unsigned w)
{
    uint64_t v = 0;
    while (w--)
        v = (v << 1) | getbit(b, bp++);
    return v;
}

HOT void put(uint8_t *o, uint32_t i, unsigned sz, int64_t v)
{
    if (sz == 1) {
        o[i] = (uint8_t)v;
    } else if (sz == 2) {
        uint16_t x = (uint16_t)v;
        memcpy(o + 2u * i, &x, 2);
    } else {
        uint32_t x = (uint32_t)v;
        memcpy(o + 4u * i, &x, 4);
    }
}

/* One group being decoded. */
typedef struct {
    const spk_dec *d;
    const uint8_t *b;
    uint8_t *out;
    size_t byte, bend;      /* next byte to load; reads stop at bend (zeros past it) */
    uint64_t acc;           /* MSB-first bit accumulator, nb valid bits */
    int64_t left;           /* bits left in the group */
    int64_t voff, lo, hi;
    uint32_t i, n;          /* next value, values in the group */
    unsigned nb, sz;
} lane;

HOT void refill(lane *L)
{
#if !defined(SPK_SMALL) && !defined(__OPTIMIZE_SIZE__) /* speed only: 8 bytes at once */
    if (L->byte + 8 <= L->bend) { /* big-endian 64-bit load, written so compilers see one */
        const uint8_t *q = L->b + L->byte;
        uint64_t x = ((uint64_t)q[0] << 56) | ((uint64_t)q[1] << 48) | ((uint64_t)q[2] << 40) |
                     ((uint64_t)q[3] << 32) | ((uint64_t)q[4] << 24) | ((uint64_t)q[5] << 16) |
                     ((uint64_t)q[6] << 8) | (uint64_t)q[7];
        L->acc |= x >> L->nb;
        L->byte += (63u - L->nb) >> 3;
        L->nb |= 56u;
    }
#endif
    while (L->nb < 48) { /* a symbol needs at most 12 + 31 + 1 bits */
        L->acc |= (uint64_t)(L->byte < L->bend ? L->b[L->byte] : 0) << (56 - L->nb);
        L->byte++;
        L->nb += 8;
    }
}

/* Start decoding bits [pos, end) into out[0, n): every value starts as the offset (one
 * store, then doubling copies). */
static void lane_init(lane *L, uint64_t pos, uint64_t end, uint8_t *out, uint32_t n)
{
    size_t done = L->sz, all = (size_t)n * L->sz;
    if (n)
        put(out, 0, L->sz, L->voff);
    while (done < all) {
        size_t c = done < all - done ? done : all - done;
        memcpy(out + done, out, c);
        done += c;
    }
    L->out = out;
    L->n = n;
    L->i = 0;
    L->byte = (size_t)(pos >> 3);
    L->left = (int64_t)(end - pos);
    L->acc = 0;
    L->nb = 0;
    refill(L);
    L->acc <<= pos & 7u;
    L->nb -= (unsigned)(pos & 7u);
}

/* Decode one symbol: 0 = more to come, 1 = end of group reached exactly, < 0 = error. */
HOT int step(lane *L)
{
    uint32_t ent, ln, run, mant, e;
    uint64_t acc;
    int64_t v;
    if (L->left <= 0)
        return SPK_E_DATA; /* runs past the group's recorded length */
    refill(L);
    acc = L->acc;
#ifdef SPK_SMALL
    {
        const spk_dec *d = L->d;
        uint32_t peek = (uint32_t)(acc >> (64 - MAXLEN)), l, c;
        ent = 0;
        for (l = 0; l < MAXLEN; l++) {
            c = (peek >> (MAXLEN - 1 - l)) - d->first[l];
            if (c < d->count[l]) {
                ent = sym_entry(d->sym[d->offs[l] + c], d->kref, d->nrun) | (l + 1);
                break;
            }
        }
    }
#else
    ent = L->d->lut[acc >> (64 - MAXLEN)];
#endif
    ln = ent & 15u;
    if (WHOLE && (ent & ENT_WHOLE)) { /* code, remainder and sign: ln bits in all */
        run = (ent >> 4) & 0xfffu;
        v = L->voff + (int64_t)(ent >> 16) - (int64_t)(WHOLE_BIAS + 32768u);
    } else {
        if (!ln)
            return SPK_E_DATA; /* invalid code */
        acc <<= ln;
        L->left -= ln;
        L->nb -= ln;
        L->acc = acc;
        if (ent & ENT_EOB)
            return L->left == 0 ? 1 : SPK_E_DATA;
        run = (ent >> 4) & 0x1fffu;
        mant = ent >> 22;
        if (!mant) { /* escape: nrun zeros */
            if (run > L->n - L->i)
                return SPK_E_DATA;
            L->i += run;
            return 0;
        }
        e = (ent >> 17) & 31u;
        { /* magnitude: mant << e + e remainder bits (branchless: e may be 0); then sign */
            int64_t m = (int64_t)(((uint64_t)mant << e) + ((acc >> 1) >> (63u - e)));
            int64_t neg = -(int64_t)((acc << e) >> 63);
            v = L->voff + ((m ^ neg) - neg);
        }
        ln = e + 1u;
    }
    if (run >= L->n - L->i || (uint64_t)(v - L->lo) > (uint64_t)(L->hi - L->lo))
        return SPK_E_DATA; /* zeros past the group's end, value outside the dtype */
    L->i += run;
    put(L->out, L->i++, L->sz, v);
    L->acc = acc << ln;
    L->nb -= ln;
    L->left -= ln;
    return 0;
}

static void lane_setup(lane *L, const spk_stream *s)
{
    L->d = s->dec;
    L->b = s->pkg->buf;
    L->bend = s->t->block_off + s->t->block_len;
    L->sz = s->t->itemsize;
    L->voff = s->t->value_offset;
    L->lo = s->lo;
    L->hi = s->hi;
}

int spk_stream_begin(spk_stream *s, const spk_pkg *p, const spk_tensor *t, spk_dec *d)
{
    uint64_t gt = ((uint64_t)t->block_off + t->meta_len) * 8u, total = 0, ln;
    uint32_t g, w = t->tid_bits;
    E_(spk_verify(p, t));
    /* the whole group table first (codec.kernels.tables.plan_groups) */
    for (g = 0; g < t->n_groups; g++) {
        if (bits_at(p->buf, gt, w) + t->tid_base >= p->ntables)
            return SPK_E_CORRUPT;
        ln = bits_at(p->buf, gt + w, t->len_bits);
        gt += w + t->len_bits;
        if (!ln || ln > (uint64_t)t->pay_len * 8u - total)
            return SPK_E_CORRUPT;
        total += ln;
    }
    if ((total + 7u) >> 3 != t->pay_len)
        return SPK_E_CORRUPT;
    vrange(t->dtype, &s->lo, &s->hi);
    s->gt_bit = ((uint64_t)t->block_off + t->meta_len) * 8u;
    s->pay_bit = (uint64_t)t->pay_off * 8u;
    s->pkg = p;
    s->t = t;
    s->dec = d;
    s->group = 0;
    return 0;
}

/* Decode group g (bits [pay, pay + ln) of table `id`) into `dst` (that group's values). */
static int group_at(spk_stream *s, uint32_t g, uint64_t id, uint64_t pay, uint64_t ln,
                    uint8_t *dst)
{
    const spk_tensor *t = s->t;
    uint64_t first = (uint64_t)g * t->group_size;
    uint32_t n = (uint32_t)((t->numel - first < t->group_size) ? t->numel - first : t->group_size);
    lane L;
    int rc;
    E_(dec_load(s->dec, s->pkg, (uint32_t)id));
    lane_setup(&L, s);
    lane_init(&L, pay, pay + ln, dst, n);
    while ((rc = step(&L)) == 0) {
    }
    return rc < 0 ? rc : 0;
}

int32_t spk_stream_next(spk_stream *s, void *out, size_t out_bytes)
{
    const spk_tensor *t = s->t;
    const spk_pkg *p = s->pkg;
    uint64_t id, ln, first;
    uint32_t n;
    if (s->group >= t->n_groups)
        return SPK_END;
    first = (uint64_t)s->group * t->group_size;
    n = (uint32_t)((t->numel - first < t->group_size) ? t->numel - first : t->group_size);
    if (!out || out_bytes / t->itemsize < n)
        return SPK_E_ARG;
    id = bits_at(p->buf, s->gt_bit, t->tid_bits) + t->tid_base;
    ln = bits_at(p->buf, s->gt_bit + t->tid_bits, t->len_bits);
    E_(group_at(s, s->group, id, s->pay_bit, ln, (uint8_t *)out));
    s->gt_bit += (uint64_t)t->tid_bits + t->len_bits;
    s->pay_bit += ln;
    s->group++;
    return (int32_t)n;
}

int spk_decode(const spk_pkg *p, const spk_tensor *t, spk_dec *d, void *out, size_t out_bytes)
{
    spk_stream s;
    int32_t n;
    uint8_t *o = (uint8_t *)out;
    if (out_bytes / t->itemsize < t->numel || (!out && t->numel))
        return SPK_E_ARG;
    E_(spk_stream_begin(&s, p, t, d));
    if (t->tid_bits == 0 || t->tid_bits > 6) {
        while ((n = spk_stream_next(&s, o, out_bytes)) > 0) {
            o += (size_t)n * t->itemsize;
            out_bytes -= (size_t)n * t->itemsize;
        }
        return n;
    }
    /* Groups may switch between up to 64 tables: decode them table by table (groups are
     * independent), so each table's decode table is built once, not once per switch. */
    {
        uint64_t cur = 0, next, id, ln, gt, pay;
        uint32_t g, w = t->tid_bits;
        for (;;) {
            next = ~(uint64_t)0;
            gt = s.gt_bit;
            pay = s.pay_bit;
            for (g = 0; g < t->n_groups; g++) {
                id = bits_at(p->buf, gt, w);
                ln = bits_at(p->buf, gt + w, t->len_bits);
                if (id == cur)
                    E_(group_at(&s, g, id + t->tid_base, pay, ln,
                                o + (size_t)g * t->group_size * t->itemsize));
                else if (id > cur && id < next)
                    next = id;
                gt += w + t->len_bits;
                pay += ln;
            }
            if (next == ~(uint64_t)0)
                return SPK_END;
            cur = next;
        }
    }
}
