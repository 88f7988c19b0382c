/* cdecode: command-line harness for the spkdec C decoder.
 *
 *   cdecode IN OUTDIR          decode every tensor (spk_decode_many); write OUTDIR/<index>.bin (raw little-endian
 *                              values of the stored dtype).  Exit 0; 2 on a corrupt, truncated
 *                              or unsupported package (nothing is written then); 1 on usage or
 *                              I/O errors.
 *   cdecode --list IN          one line per tensor: index dtype numel ndim dims... [pred M
 *                              [shift S]] [alias J] [floor K] :name(hex) (v5: "pred M" for a
 *                              tensor with prediction mode M; v6: "shift S" when its
 *                              pred_shift S > 0; v7: "alias J" for an alias of tensor J,
 *                              "floor K" for a tensor with row floors of order K)
 *   cdecode --check-api IN     cross-check spk_decode (tensor by tensor), spk_find,
 *                              spk_tensor_at (v7: its alias target, floors and entry fields
 *                              too; an alias's entry is its target's) and streaming decode
 *                              (one group at a time; v7: row floors added back group by
 *                              group) against spk_decode_many; exit 3 on mismatch
 *                              (v3: a mirror tensor whose groups split its rows, v5: a
 *                              prediction tensor whose groups split its images, v6: its
 *                              a-slices of H * W * C values, must be SPK_E_LIMIT for
 *                              spk_stream_begin, and is not streamed); prints "ok <tensors>
 *                              streamed <n> limit <m>" (m: the SPK_E_LIMIT ones)
 *   cdecode --bench N IN       decode the package N times (open, directory, CRCs, all tensors
 *                              with spk_decode_many,
 *                              each time with a zeroed spk_dec); print "<params> <best seconds>"
 *   cdecode --each IN          decode every tensor with spk_decode alone (no spk_verify first:
 *                              v2 chunks remembered by spk_dec), in order, then in reverse
 *                              order with a fresh spk_dec: print "<index> <rc>" for each
 *   cdecode --multi IN         decode every tensor with spk_decode in order: print "<index> <rc>
 *                              <m>", m = the multi-set state of the table loaded last (spk_dec
 *                              .multi: 0 plain, 1 multi-set entries, 2 not worth them; -1 in
 *                              builds without -DSPK_MULTI, the default)
 *
 * The harness (not the library) also rejects what codec.unpack rejects at the name level:
 * names that are not valid UTF-8 and duplicate names.
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spkdec.h"

static spk_dec dec; /* 16 KiB (33 KiB with -DSPK_MULTI): static, zero-initialized */

/* A prediction tensor's a-slice (FORMAT.md §34): the product of its dims from
 * h = ndim - 2 - pred_shift on (H * W * C; H * W when pred_shift = 0, as v5), computed here
 * independently of the library's check in spk_stream_begin */
static uint64_t pred_slice(const spk_tensor *t)
{
    uint64_t n = 1;
    unsigned k;
    for (k = (unsigned)t->ndim - 2u - t->pred_shift; k < t->ndim; k++)
        n *= t->shape[k];
    return n;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *b = NULL;
    size_t cap = 0, n = 0;
    if (!f)
        return NULL;
    for (;;) {
        size_t r;
        if (n == cap) {
            uint8_t *nb;
            cap = cap ? cap * 2 : 1 << 16;
            nb = (uint8_t *)realloc(b, cap);
            if (!nb) {
                free(b);
                fclose(f);
                return NULL;
            }
            b = nb;
        }
        r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    *len = n;
    return b;
}

/* strict UTF-8 as Python's bytes.decode('utf-8') */
static int utf8_ok(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t c = s[i], need, cp, k;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i <= need)
            return 0;
        for (k = 1; k <= need; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (need == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
        i += need + 1;
    }
    return 1;
}

typedef struct {
    char *s;
    size_t n;
} nm;

static int nm_cmp(const void *a, const void *b)
{
    const nm *x = (const nm *)a, *y = (const nm *)b;
    size_t m = x->n < y->n ? x->n : y->n;
    int c = memcmp(x->s, y->s, m);
    if (c)
        return c;
    return (x->n > y->n) - (x->n < y->n);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int little_endian(void)
{
    uint16_t x = 1;
    uint8_t b;
    memcpy(&b, &x, 1);
    return b == 1;
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "cdecode: %s: error %d\n", what, rc);
    return 2;
}

/* spk_decode_many jobs for tensors ts[0..n), in order or (reverse) in reverse order, each
 * decoding into outs[k], allocated here (numel * itemsize + 1 bytes); NULL if out of memory */
static spk_job *make_jobs(spk_tensor *ts, uint8_t **outs, size_t n, int reverse)
{
    spk_job *jobs = (spk_job *)calloc(n + 1u, sizeof *jobs);
    size_t i;
    for (i = 0; jobs && i < n; i++) {
        size_t k = reverse ? n - 1u - i : i, nbytes = (size_t)ts[k].numel * ts[k].itemsize;
        if (!(outs[k] = (uint8_t *)malloc(nbytes + 1u))) {
            free(jobs);
            return NULL;
        }
        jobs[i].t = &ts[k];
        jobs[i].out = outs[k];
        jobs[i].out_bytes = nbytes;
    }
    return jobs;
}

int main(int argc, char **argv)
{
    const char *mode = "", *in, *outdir = NULL;
    uint8_t *buf, **outs;
    size_t len, i;
    spk_pkg p;
    spk_tensor *ts;
    nm *names;
    char *namebuf;
    int rc, reps = 1;

    if (argc == 3 && argv[1][0] != '-') {
        in = argv[1];
        outdir = argv[2];
    } else if (argc == 3) {
        mode = argv[1];
        in = argv[2];
    } else if (argc == 4 && !strcmp(argv[1], "--bench")) {
        mode = argv[1];
        reps = atoi(argv[2]);
        in = argv[3];
    } else {
        fprintf(stderr, "usage: cdecode IN OUTDIR | --list IN | --check-api IN | --bench N IN | "
                        "--each IN | --multi IN\n");
        return 1;
    }
    buf = read_file(in, &len);
    if (!buf) {
        fprintf(stderr, "cdecode: cannot read %s\n", in);
        return 1;
    }
    rc = spk_open(&p, buf, len);
    if (rc < 0)
        return fail("open", rc);
    ts = (spk_tensor *)calloc(p.ntensors + 1u, sizeof *ts);
    names = (nm *)calloc(p.ntensors + 1u, sizeof *names);
    outs = (uint8_t **)calloc(p.ntensors + 1u, sizeof *outs);
    namebuf = (char *)malloc(SPK_MAX_NAME);
    if (!ts || !names || !outs || !namebuf)
        return 1;
    /* directory: names (UTF-8, unique) */
    for (i = 0; i < p.ntensors; i++) {
        if (i == 0)
            rc = spk_tensor_at(&p, 0, &ts[0], namebuf, SPK_MAX_NAME);
        else {
            ts[i] = ts[i - 1];
            rc = spk_tensor_next(&p, &ts[i], namebuf, SPK_MAX_NAME) == 1 ? 0 : SPK_E_CORRUPT;
        }
        if (rc < 0)
            return fail("directory entry", rc);
        if (!utf8_ok((const uint8_t *)namebuf, ts[i].name_len))
            return fail("tensor name is not UTF-8", SPK_E_CORRUPT);
        names[i].n = ts[i].name_len;
        names[i].s = (char *)malloc(ts[i].name_len + 1u);
        if (!names[i].s)
            return 1;
        memcpy(names[i].s, namebuf, ts[i].name_len);
    }
    if (!strcmp(mode, "--list")) {
        for (i = 0; i < p.ntensors; i++) {
            size_t k;
            printf("%u %u %u %u", (unsigned)i, ts[i].dtype, (unsigned)ts[i].numel, ts[i].ndim);
            for (k = 0; k < ts[i].ndim; k++)
                printf(" %llu", (unsigned long long)ts[i].shape[k]);
            if (ts[i].pred_mode >= 0)
                printf(" pred %d", ts[i].pred_mode);
            if (ts[i].pred_mode >= 0 && ts[i].pred_shift)
                printf(" shift %u", (unsigned)ts[i].pred_shift);
            if (ts[i].alias >= 0)
                printf(" alias %d", (int)ts[i].alias);
            if (ts[i].floor_bit)
                printf(" floor %u", (unsigned)ts[i].floor_k);
            printf(" :");
            for (k = 0; k < names[i].n; k++)
                printf("%02x", (uint8_t)names[i].s[k]);
            printf("\n");
        }
        return 0;
    }
    if (!strcmp(mode, "--multi")) {
        for (i = 0; i < p.ntensors; i++) {
            size_t nbytes = (size_t)ts[i].numel * ts[i].itemsize;
            uint8_t *o = (uint8_t *)malloc(nbytes + 1u);
            if (!o)
                return 1;
            rc = spk_decode(&p, &ts[i], &dec, o, nbytes);
#ifdef SPK_MULTI
            printf("%u %d %d\n", (unsigned)i, rc, dec.multi);
#else
            printf("%u %d -1\n", (unsigned)i, rc);
#endif
            free(o);
        }
        return 0;
    }
    if (!strcmp(mode, "--each")) {
        static spk_dec d2;
        int pass;
        for (pass = 0; pass < 2; pass++)
            for (i = 0; i < p.ntensors; i++) {
                size_t k = pass ? p.ntensors - 1u - i : i;
                size_t nbytes = (size_t)ts[k].numel * ts[k].itemsize;
                uint8_t *o = (uint8_t *)malloc(nbytes + 1u);
                if (!o)
                    return 1;
                printf("%u %d\n", (unsigned)k, spk_decode(&p, &ts[k], pass ? &d2 : &dec, o, nbytes));
                free(o);
            }
        return 0;
    }
    if (p.ntensors > 1) {
        nm *sorted = (nm *)malloc(p.ntensors * sizeof *sorted);
        if (!sorted)
            return 1;
        memcpy(sorted, names, p.ntensors * sizeof *sorted);
        qsort(sorted, p.ntensors, sizeof *sorted, nm_cmp);
        for (i = 1; i < p.ntensors; i++)
            if (!nm_cmp(&sorted[i - 1], &sorted[i]))
                return fail("duplicate tensor name", SPK_E_CORRUPT);
        free(sorted);
    }
    /* all block CRCs first (as codec.unpack), then decode everything, then write */
    for (i = 0; i < p.ntensors; i++)
        if ((rc = spk_verify(&p, &ts[i])) < 0)
            return fail("block CRC32", rc);
    if (!strcmp(mode, "--bench")) {
        double t0, best = 1e30;
        unsigned long long params = 0;
        int r;
        for (i = 0; i < p.ntensors; i++) {
            params += ts[i].numel;
            outs[i] = (uint8_t *)malloc((size_t)ts[i].numel * ts[i].itemsize + 1u);
            if (!outs[i])
                return 1;
        }
        spk_tensor *bt = (spk_tensor *)calloc(p.ntensors + 1u, sizeof *bt);
        spk_job *jobs = (spk_job *)calloc(p.ntensors + 1u, sizeof *jobs);
        if (!bt || !jobs)
            return 1;
        for (r = 0; r < reps; r++) { /* everything: open, directory, CRCs, decode */
            spk_pkg q;
            double dt;
            memset(&dec, 0, sizeof dec); /* nothing remembered (v2: chunks verified) */
            t0 = now();
            rc = spk_open(&q, buf, len);
            for (i = 0; i < q.ntensors && rc >= 0; i++) {
                if (i)
                    bt[i] = bt[i - 1];
                rc = i ? (spk_tensor_next(&q, &bt[i], NULL, 0) == 1 ? 0 : SPK_E_CORRUPT)
                       : spk_tensor_at(&q, 0, &bt[0], NULL, 0);
                jobs[i].t = &bt[i];
                jobs[i].out = outs[i];
                jobs[i].out_bytes = (size_t)bt[i].numel * bt[i].itemsize;
            }
            if (rc >= 0)
                rc = spk_decode_many(&q, &dec, jobs, (uint32_t)q.ntensors);
            if (rc < 0)
                return fail("decode", rc);
            dt = now() - t0;
            if (dt < best)
                best = dt;
        }
        printf("%llu %.9f\n", params, best);
        return 0;
    }
    { /* every tensor with spk_decode_many (--check-api: spk_decode agrees) */
        spk_job *jobs = make_jobs(ts, outs, p.ntensors, 0);
        if (!jobs)
            return 1;
        rc = spk_decode_many(&p, &dec, jobs, (uint32_t)p.ntensors);
        if (rc < 0)
            return fail("decode", rc);
        free(jobs);
    }
    if (!strcmp(mode, "--check-api")) {
        static spk_dec d2;
        unsigned streamed = 0, limited = 0;
        /* spk_decode_many again with dec as the first call left it (its last decode table
         * loaded: decoded first; the chunks verified), in reverse order */
        uint8_t **again = (uint8_t **)calloc(p.ntensors + 1u, sizeof *again);
        spk_job *jobs = again ? make_jobs(ts, again, p.ntensors, 1) : NULL;
        if (!jobs)
            return 1;
        if ((rc = spk_decode_many(&p, &dec, jobs, (uint32_t)p.ntensors)) < 0)
            return fail("spk_decode_many again", rc);
        for (i = 0; i < p.ntensors; i++) {
            if (memcmp(again[i], outs[i], (size_t)ts[i].numel * ts[i].itemsize))
                return fprintf(stderr, "spk_decode_many again differs in tensor %u\n",
                               (unsigned)i), 3;
            free(again[i]);
        }
        free(again);
        free(jobs);
        for (i = 0; i < p.ntensors; i++) {
            spk_tensor t;
            spk_stream s;
            size_t nbytes = (size_t)ts[i].numel * ts[i].itemsize, at = 0;
            size_t gbytes = (size_t)ts[i].group_size * ts[i].itemsize;
            uint8_t *g = (uint8_t *)malloc(gbytes + 1u);
            int32_t n;
            if (!g)
                return 1;
            {
                uint8_t *o = (uint8_t *)malloc(nbytes + 1u);
                if (!o)
                    return 1;
                if ((rc = spk_decode(&p, &ts[i], &d2, o, nbytes)) < 0)
                    return fail("spk_decode", rc);
                if (memcmp(o, outs[i], nbytes))
                    return fprintf(stderr, "spk_decode differs in tensor %u\n", (unsigned)i), 3;
                free(o);
            }
            if (spk_find(&p, names[i].s, names[i].n) != (int32_t)i)
                return fprintf(stderr, "spk_find(%u) failed\n", (unsigned)i), 3;
            if (spk_tensor_at(&p, (uint32_t)i, &t, NULL, 0) < 0 || t.numel != ts[i].numel ||
                t.block_off != ts[i].block_off || t.name_len != ts[i].name_len)
                return fprintf(stderr, "spk_tensor_at(%u) differs\n", (unsigned)i), 3;
            rc = spk_stream_begin(&s, &p, &t, &d2);
            if (t.pred_mode != ts[i].pred_mode || t.pred_shift != ts[i].pred_shift)
                return fprintf(stderr, "spk_tensor_at(%u) pred_mode / pred_shift differs\n",
                               (unsigned)i), 3;
            if (t.alias != ts[i].alias || t.floor_bit != ts[i].floor_bit ||
                t.floor_k != ts[i].floor_k || t.dtype != ts[i].dtype || t.ndim != ts[i].ndim ||
                t.block_len != ts[i].block_len || t.n_groups != ts[i].n_groups ||
                memcmp(t.shape, ts[i].shape, t.ndim * sizeof t.shape[0]))
                return fprintf(stderr, "spk_tensor_at(%u) alias / floors / entry differs\n",
                               (unsigned)i), 3;
            if (t.alias >= 0) { /* v7: an alias is its (earlier, not alias) target's entry */
                const spk_tensor *u = &ts[t.alias];
                if ((uint32_t)t.alias >= i || u->alias >= 0 || u->block_off != t.block_off ||
                    u->block_len != t.block_len || u->dtype != t.dtype || u->numel != t.numel ||
                    u->floor_bit != t.floor_bit || u->pred_mode != t.pred_mode ||
                    u->mirror_period != t.mirror_period || u->meta_len != t.meta_len)
                    return fprintf(stderr, "alias %u differs from its target\n", (unsigned)i), 3;
            }
            if ((t.mirror_period && t.group_size % t.mirror_period) ||
                (t.pred_mode >= 0 && t.group_size % pred_slice(&t))) {
                if (rc != SPK_E_LIMIT)
                    return fprintf(stderr, "split mirror rows / images streamed in tensor %u: "
                                   "%d\n", (unsigned)i, rc), 3;
                free(g);
                limited++;
                continue;
            }
            if (rc < 0)
                return fail("stream begin", rc);
            while ((n = spk_stream_next(&s, g, gbytes)) > 0) {
                size_t nb = (size_t)n * t.itemsize;
                if (at + nb > nbytes || memcmp(outs[i] + at, g, nb))
                    return fprintf(stderr, "stream differs in tensor %u\n", (unsigned)i), 3;
                at += nb;
            }
            if (n < 0)
                return fail("stream", n);
            if (at != nbytes)
                return fprintf(stderr, "stream short in tensor %u\n", (unsigned)i), 3;
            streamed++;
            if (t.numel && gbytes > t.itemsize && spk_stream_begin(&s, &p, &t, &d2) == 0 &&
                spk_stream_next(&s, g, gbytes - t.itemsize) != SPK_E_ARG &&
                (uint64_t)t.group_size * t.itemsize - t.itemsize >= t.itemsize)
                return fprintf(stderr, "small buffer accepted in tensor %u\n", (unsigned)i), 3;
            free(g);
        }
        if (spk_find(&p, "\xff no such name", 15) != SPK_E_ARG)
            return fprintf(stderr, "spk_find found a missing name\n"), 3;
        printf("ok %u streamed %u limit %u\n", (unsigned)p.ntensors, streamed, limited);
        return 0;
    }
    for (i = 0; i < p.ntensors; i++) {
        char path[4096];
        FILE *f;
        size_t nbytes = (size_t)ts[i].numel * ts[i].itemsize, k;
        unsigned sz = ts[i].itemsize;
        if (sz > 1 && !little_endian())
            for (k = 0; k < nbytes; k += sz) {
                uint8_t tmp = outs[i][k];
                outs[i][k] = outs[i][k + sz - 1];
                outs[i][k + sz - 1] = tmp;
                if (sz == 4) {
                    tmp = outs[i][k + 1];
                    outs[i][k + 1] = outs[i][k + 2];
                    outs[i][k + 2] = tmp;
                }
            }
        snprintf(path, sizeof path, "%s/%u.bin", outdir, (unsigned)i);
        f = fopen(path, "wb");
        if (!f || fwrite(outs[i], 1, nbytes, f) != nbytes || fclose(f)) {
            fprintf(stderr, "cdecode: cannot write %s\n", path);
            return 1;
        }
    }
    return 0;
}
