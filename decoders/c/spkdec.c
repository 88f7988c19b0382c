/* spkdec.c: portable C99 decoder for codec packages, format v1-v7 (see spkdec.h).
 *
 * Source of truth for the format: docs/FORMAT.md; codec/format.py, codec/format_v2.py,
 * codec/format_v4.py, codec/huffman.py, codec/kernels/ (decode.py, symbols.py, tables.py,
 * directory_v2.py).
 *   package  = preamble(8) | blocks | directory | footer(24; v4: 12)
 *   preamble = "SPKG" version=1|2|3|4|5|6|7 flags=0 0 0
 *   v2 directory = tables | n_tensors | token dictionary + name bit string | compact entries
 *              (block offsets implicit) | chunk_log2 | one CRC32 per 2^chunk_log2 data bytes
 *   v3       = v2; an entry with flag bit 7 adds mirror_period, mirror_skip after meta_length
 *              and its block a 2-bit mode per mirror row after the metadata (codec/mirror.py)
 *   v4       = v3 with the compact entries replaced by len_k u8, voff_k u8, rate varint and one
 *              MSB-first bit string of Exp-Golomb coded entries (0-padded to a byte; §27-30):
 *              per entry dtype and shape (or "as the previous"), group code, value offset,
 *              meta_length, mirror, table base, and either the one group's exact bit length
 *              (a residual to (numel * rate) >> 6: the block has no group table) or the group
 *              table widths and the payload bytes (a residual to the same prediction);
 *              and the tables as one bit string too (§28.1, table_read4): per table
 *              [same_alphabet] [kref, nrun, nclass], mode, gap order, then the coded symbols
 *              with their lengths (mode 0) or v1's counts and per-length lists (mode 1)
 *   v5       = v4; an eligible entry (numel > 0, ndim >= 2, H * W >= 2, no mirror) has a
 *              has_pred bit after the mirror fields, then a 3-bit pred_mode if it is set: the
 *              decoded values are residuals of a prediction from the image's neighbouring
 *              values (§32; codec/predict.py), rebuilt after decoding (unpredict)
 *   v6       = v5; a predicted entry has pred_shift (EG(0)) after pred_mode: the images lie
 *              in dims h = ndim - 2 - pred_shift and h + 1, C = the product of the dims after
 *              them interleaved images (§34; pred_dims, unpredict)
 *   v7       = v6; a varint v7 after rate (n_alias = v7 >> 1, floors_on = v7 & 1); the entry
 *              bit string starts with n_alias alias records (EG(0) gap, EG(0) back - 1: tensor
 *              i has no record and no block, its entry is tensor i - back's: entry_read7,
 *              entry_walk); with floors_on a floor-eligible entry (numel > 0, signed, value
 *              offset 0, no mirror, no prediction) has has_floor after the prediction fields,
 *              then floor_k (5 bits) and R Exp-Golomb row floors, added back to the decoded
 *              values' magnitudes row by row (§36; unfloor)
 *   footer   = dir_off u64le, dir_len u64le, crc32(preamble + directory) u32le, "GKPS"
 *   v4 footer = dir_len u32le, crc32(preamble + directory) u32le, "GKPS" (the directory ends
 *              where the footer starts)
 *   block    = [meta][v3, v4: mirror modes][group table: per group tid_bits + len_bits,
 *              MSB-first, byte padded; v4: none for a tensor of one group]
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

#if defined(__OPTIMIZE_SIZE__)
#define SIZE_NOINLINE NOINLINE /* out of line in -Os builds only */
#elif defined(__GNUC__)
#define SIZE_NOINLINE inline __attribute__((always_inline)) /* -O2: in the table build */
#else
#define SIZE_NOINLINE
#endif

#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define NO_CRC 1 /* fuzzing: let damaged bytes reach the parser and the decoder */
#else
#define NO_CRC 0
#endif

/* Format versions read: all seven by default; -DSPK_ONLY_V1 ... -DSPK_ONLY_V7 leave the others
 * out (smaller code, for firmware that embeds a package of a known version).  V2(p): the v2
 * names, implicit block offsets and chunk CRCs (v2-v7); V3(p): the mirror transform (v3-v7);
 * V4(p): v4's layout (12-byte footer, entry bit string, one-group tensors without a group
 * table; v4-v7); V5(p): the prediction transform (v5-v7); V6(p): its pred_shift field (v6, v7,
 * §34); V7(p): row floors and tensor aliases (v7, §36). */
#if (defined(SPK_ONLY_V1) + defined(SPK_ONLY_V2) + defined(SPK_ONLY_V3) + \
     defined(SPK_ONLY_V4) + defined(SPK_ONLY_V5) + defined(SPK_ONLY_V6) + \
     defined(SPK_ONLY_V7)) > 1
#error "SPK_ONLY_V1 ... SPK_ONLY_V7 exclude each other"
#endif
#if defined(SPK_ONLY_V1)
#define V2(p) 0
#define V3(p) 0
#define V4(p) 0
#define V5(p) 0
#define V6(p) 0
#define V7(p) 0
#elif defined(SPK_ONLY_V2)
#define V2(p) 1
#define V3(p) 0
#define V4(p) 0
#define V5(p) 0
#define V6(p) 0
#define V7(p) 0
#elif defined(SPK_ONLY_V3)
#define V2(p) 1
#define V3(p) 1
#define V4(p) 0
#define V5(p) 0
#define V6(p) 0
#define V7(p) 0
#elif defined(SPK_ONLY_V4)
#define V2(p) 1
#define V3(p) 1
#define V4(p) 1
#define V5(p) 0
#define V6(p) 0
#define V7(p) 0
#elif defined(SPK_ONLY_V5)
#define V2(p) 1
#define V3(p) 1
#define V4(p) 1
#define V5(p) 1
#define V6(p) 0
#define V7(p) 0
#elif defined(SPK_ONLY_V6)
#define V2(p) 1
#define V3(p) 1
#define V4(p) 1
#define V5(p) 1
#define V6(p) 1
#define V7(p) 0
#elif defined(SPK_ONLY_V7)
#define V2(p) 1
#define V3(p) 1
#define V4(p) 1
#define V5(p) 1
#define V6(p) 1
#define V7(p) 1
#else
#define V2(p) ((p)->version >= 2)
#define V3(p) ((p)->version >= 3)
#define V4(p) ((p)->version >= 4)
#define V5(p) ((p)->version >= 5)
#define V6(p) ((p)->version >= 6)
#define V7(p) ((p)->version >= 7)
#endif
#define VERSION_OK(v) SPK_READS_VERSION(v)

#define MAXLEN SPK_LUT_BITS
#define MAX_KREF 6u
#define MAX_NRUN 4096u
#define MAX_SYMBOLS 65536u

/* ---- CRC32 (IEEE 802.3, reflected, as zlib): slice-by-8 with eight 256-entry tables (8 KiB),
 * or 16 entries (64 bytes) in -Os builds or with SPK_SMALL_CRC; SPK_FAST_CRC forces the
 * slice-by-8 tables, SPK_BYTE_CRC gives -Os builds one 256-entry table (1 KiB).  Words are
 * assembled from bytes (any endianness or alignment). ---- */

#if defined(SPK_SMALL_CRC)
#define CRC_SLICES 0
#elif defined(SPK_FAST_CRC) || !defined(__OPTIMIZE_SIZE__)
#define CRC_SLICES 8
#elif defined(SPK_BYTE_CRC)
#define CRC_SLICES 1
#else
#define CRC_SLICES 0
#endif
#if CRC_SLICES
static const uint32_t crc_tab[CRC_SLICES][256] = {
    {
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
        0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du
    }
#if CRC_SLICES == 8
    ,
    {
        0x00000000u, 0x191b3141u, 0x32366282u, 0x2b2d53c3u, 0x646cc504u, 0x7d77f445u,
        0x565aa786u, 0x4f4196c7u, 0xc8d98a08u, 0xd1c2bb49u, 0xfaefe88au, 0xe3f4d9cbu,
        0xacb54f0cu, 0xb5ae7e4du, 0x9e832d8eu, 0x87981ccfu, 0x4ac21251u, 0x53d92310u,
        0x78f470d3u, 0x61ef4192u, 0x2eaed755u, 0x37b5e614u, 0x1c98b5d7u, 0x05838496u,
        0x821b9859u, 0x9b00a918u, 0xb02dfadbu, 0xa936cb9au, 0xe6775d5du, 0xff6c6c1cu,
        0xd4413fdfu, 0xcd5a0e9eu, 0x958424a2u, 0x8c9f15e3u, 0xa7b24620u, 0xbea97761u,
        0xf1e8e1a6u, 0xe8f3d0e7u, 0xc3de8324u, 0xdac5b265u, 0x5d5daeaau, 0x44469febu,
        0x6f6bcc28u, 0x7670fd69u, 0x39316baeu, 0x202a5aefu, 0x0b07092cu, 0x121c386du,
        0xdf4636f3u, 0xc65d07b2u, 0xed705471u, 0xf46b6530u, 0xbb2af3f7u, 0xa231c2b6u,
        0x891c9175u, 0x9007a034u, 0x179fbcfbu, 0x0e848dbau, 0x25a9de79u, 0x3cb2ef38u,
        0x73f379ffu, 0x6ae848beu, 0x41c51b7du, 0x58de2a3cu, 0xf0794f05u, 0xe9627e44u,
        0xc24f2d87u, 0xdb541cc6u, 0x94158a01u, 0x8d0ebb40u, 0xa623e883u, 0xbf38d9c2u,
        0x38a0c50du, 0x21bbf44cu, 0x0a96a78fu, 0x138d96ceu, 0x5ccc0009u, 0x45d73148u,
        0x6efa628bu, 0x77e153cau, 0xbabb5d54u, 0xa3a06c15u, 0x888d3fd6u, 0x91960e97u,
        0xded79850u, 0xc7cca911u, 0xece1fad2u, 0xf5facb93u, 0x7262d75cu, 0x6b79e61du,
        0x4054b5deu, 0x594f849fu, 0x160e1258u, 0x0f152319u, 0x243870dau, 0x3d23419bu,
        0x65fd6ba7u, 0x7ce65ae6u, 0x57cb0925u, 0x4ed03864u, 0x0191aea3u, 0x188a9fe2u,
        0x33a7cc21u, 0x2abcfd60u, 0xad24e1afu, 0xb43fd0eeu, 0x9f12832du, 0x8609b26cu,
        0xc94824abu, 0xd05315eau, 0xfb7e4629u, 0xe2657768u, 0x2f3f79f6u, 0x362448b7u,
        0x1d091b74u, 0x04122a35u, 0x4b53bcf2u, 0x52488db3u, 0x7965de70u, 0x607eef31u,
        0xe7e6f3feu, 0xfefdc2bfu, 0xd5d0917cu, 0xcccba03du, 0x838a36fau, 0x9a9107bbu,
        0xb1bc5478u, 0xa8a76539u, 0x3b83984bu, 0x2298a90au, 0x09b5fac9u, 0x10aecb88u,
        0x5fef5d4fu, 0x46f46c0eu, 0x6dd93fcdu, 0x74c20e8cu, 0xf35a1243u, 0xea412302u,
        0xc16c70c1u, 0xd8774180u, 0x9736d747u, 0x8e2de606u, 0xa500b5c5u, 0xbc1b8484u,
        0x71418a1au, 0x685abb5bu, 0x4377e898u, 0x5a6cd9d9u, 0x152d4f1eu, 0x0c367e5fu,
        0x271b2d9cu, 0x3e001cddu, 0xb9980012u, 0xa0833153u, 0x8bae6290u, 0x92b553d1u,
        0xddf4c516u, 0xc4eff457u, 0xefc2a794u, 0xf6d996d5u, 0xae07bce9u, 0xb71c8da8u,
        0x9c31de6bu, 0x852aef2au, 0xca6b79edu, 0xd37048acu, 0xf85d1b6fu, 0xe1462a2eu,
        0x66de36e1u, 0x7fc507a0u, 0x54e85463u, 0x4df36522u, 0x02b2f3e5u, 0x1ba9c2a4u,
        0x30849167u, 0x299fa026u, 0xe4c5aeb8u, 0xfdde9ff9u, 0xd6f3cc3au, 0xcfe8fd7bu,
        0x80a96bbcu, 0x99b25afdu, 0xb29f093eu, 0xab84387fu, 0x2c1c24b0u, 0x350715f1u,
        0x1e2a4632u, 0x07317773u, 0x4870e1b4u, 0x516bd0f5u, 0x7a468336u, 0x635db277u,
        0xcbfad74eu, 0xd2e1e60fu, 0xf9ccb5ccu, 0xe0d7848du, 0xaf96124au, 0xb68d230bu,
        0x9da070c8u, 0x84bb4189u, 0x03235d46u, 0x1a386c07u, 0x31153fc4u, 0x280e0e85u,
        0x674f9842u, 0x7e54a903u, 0x5579fac0u, 0x4c62cb81u, 0x8138c51fu, 0x9823f45eu,
        0xb30ea79du, 0xaa1596dcu, 0xe554001bu, 0xfc4f315au, 0xd7626299u, 0xce7953d8u,
        0x49e14f17u, 0x50fa7e56u, 0x7bd72d95u, 0x62cc1cd4u, 0x2d8d8a13u, 0x3496bb52u,
        0x1fbbe891u, 0x06a0d9d0u, 0x5e7ef3ecu, 0x4765c2adu, 0x6c48916eu, 0x7553a02fu,
        0x3a1236e8u, 0x230907a9u, 0x0824546au, 0x113f652bu, 0x96a779e4u, 0x8fbc48a5u,
        0xa4911b66u, 0xbd8a2a27u, 0xf2cbbce0u, 0xebd08da1u, 0xc0fdde62u, 0xd9e6ef23u,
        0x14bce1bdu, 0x0da7d0fcu, 0x268a833fu, 0x3f91b27eu, 0x70d024b9u, 0x69cb15f8u,
        0x42e6463bu, 0x5bfd777au, 0xdc656bb5u, 0xc57e5af4u, 0xee530937u, 0xf7483876u,
        0xb809aeb1u, 0xa1129ff0u, 0x8a3fcc33u, 0x9324fd72u
    },
    {
        0x00000000u, 0x01c26a37u, 0x0384d46eu, 0x0246be59u, 0x0709a8dcu, 0x06cbc2ebu,
        0x048d7cb2u, 0x054f1685u, 0x0e1351b8u, 0x0fd13b8fu, 0x0d9785d6u, 0x0c55efe1u,
        0x091af964u, 0x08d89353u, 0x0a9e2d0au, 0x0b5c473du, 0x1c26a370u, 0x1de4c947u,
        0x1fa2771eu, 0x1e601d29u, 0x1b2f0bacu, 0x1aed619bu, 0x18abdfc2u, 0x1969b5f5u,
        0x1235f2c8u, 0x13f798ffu, 0x11b126a6u, 0x10734c91u, 0x153c5a14u, 0x14fe3023u,
        0x16b88e7au, 0x177ae44du, 0x384d46e0u, 0x398f2cd7u, 0x3bc9928eu, 0x3a0bf8b9u,
        0x3f44ee3cu, 0x3e86840bu, 0x3cc03a52u, 0x3d025065u, 0x365e1758u, 0x379c7d6fu,
        0x35dac336u, 0x3418a901u, 0x3157bf84u, 0x3095d5b3u, 0x32d36beau, 0x331101ddu,
        0x246be590u, 0x25a98fa7u, 0x27ef31feu, 0x262d5bc9u, 0x23624d4cu, 0x22a0277bu,
        0x20e69922u, 0x2124f315u, 0x2a78b428u, 0x2bbade1fu, 0x29fc6046u, 0x283e0a71u,
        0x2d711cf4u, 0x2cb376c3u, 0x2ef5c89au, 0x2f37a2adu, 0x709a8dc0u, 0x7158e7f7u,
        0x731e59aeu, 0x72dc3399u, 0x7793251cu, 0x76514f2bu, 0x7417f172u, 0x75d59b45u,
        0x7e89dc78u, 0x7f4bb64fu, 0x7d0d0816u, 0x7ccf6221u, 0x798074a4u, 0x78421e93u,
        0x7a04a0cau, 0x7bc6cafdu, 0x6cbc2eb0u, 0x6d7e4487u, 0x6f38fadeu, 0x6efa90e9u,
        0x6bb5866cu, 0x6a77ec5bu, 0x68315202u, 0x69f33835u, 0x62af7f08u, 0x636d153fu,
        0x612bab66u, 0x60e9c151u, 0x65a6d7d4u, 0x6464bde3u, 0x662203bau, 0x67e0698du,
        0x48d7cb20u, 0x4915a117u, 0x4b531f4eu, 0x4a917579u, 0x4fde63fcu, 0x4e1c09cbu,
        0x4c5ab792u, 0x4d98dda5u, 0x46c49a98u, 0x4706f0afu, 0x45404ef6u, 0x448224c1u,
        0x41cd3244u, 0x400f5873u, 0x4249e62au, 0x438b8c1du, 0x54f16850u, 0x55330267u,
        0x5775bc3eu, 0x56b7d609u, 0x53f8c08cu, 0x523aaabbu, 0x507c14e2u, 0x51be7ed5u,
        0x5ae239e8u, 0x5b2053dfu, 0x5966ed86u, 0x58a487b1u, 0x5deb9134u, 0x5c29fb03u,
        0x5e6f455au, 0x5fad2f6du, 0xe1351b80u, 0xe0f771b7u, 0xe2b1cfeeu, 0xe373a5d9u,
        0xe63cb35cu, 0xe7fed96bu, 0xe5b86732u, 0xe47a0d05u, 0xef264a38u, 0xeee4200fu,
        0xeca29e56u, 0xed60f461u, 0xe82fe2e4u, 0xe9ed88d3u, 0xebab368au, 0xea695cbdu,
        0xfd13b8f0u, 0xfcd1d2c7u, 0xfe976c9eu, 0xff5506a9u, 0xfa1a102cu, 0xfbd87a1bu,
        0xf99ec442u, 0xf85cae75u, 0xf300e948u, 0xf2c2837fu, 0xf0843d26u, 0xf1465711u,
        0xf4094194u, 0xf5cb2ba3u, 0xf78d95fau, 0xf64fffcdu, 0xd9785d60u, 0xd8ba3757u,
        0xdafc890eu, 0xdb3ee339u, 0xde71f5bcu, 0xdfb39f8bu, 0xddf521d2u, 0xdc374be5u,
        0xd76b0cd8u, 0xd6a966efu, 0xd4efd8b6u, 0xd52db281u, 0xd062a404u, 0xd1a0ce33u,
        0xd3e6706au, 0xd2241a5du, 0xc55efe10u, 0xc49c9427u, 0xc6da2a7eu, 0xc7184049u,
        0xc25756ccu, 0xc3953cfbu, 0xc1d382a2u, 0xc011e895u, 0xcb4dafa8u, 0xca8fc59fu,
        0xc8c97bc6u, 0xc90b11f1u, 0xcc440774u, 0xcd866d43u, 0xcfc0d31au, 0xce02b92du,
        0x91af9640u, 0x906dfc77u, 0x922b422eu, 0x93e92819u, 0x96a63e9cu, 0x976454abu,
        0x9522eaf2u, 0x94e080c5u, 0x9fbcc7f8u, 0x9e7eadcfu, 0x9c381396u, 0x9dfa79a1u,
        0x98b56f24u, 0x99770513u, 0x9b31bb4au, 0x9af3d17du, 0x8d893530u, 0x8c4b5f07u,
        0x8e0de15eu, 0x8fcf8b69u, 0x8a809decu, 0x8b42f7dbu, 0x89044982u, 0x88c623b5u,
        0x839a6488u, 0x82580ebfu, 0x801eb0e6u, 0x81dcdad1u, 0x8493cc54u, 0x8551a663u,
        0x8717183au, 0x86d5720du, 0xa9e2d0a0u, 0xa820ba97u, 0xaa6604ceu, 0xaba46ef9u,
        0xaeeb787cu, 0xaf29124bu, 0xad6fac12u, 0xacadc625u, 0xa7f18118u, 0xa633eb2fu,
        0xa4755576u, 0xa5b73f41u, 0xa0f829c4u, 0xa13a43f3u, 0xa37cfdaau, 0xa2be979du,
        0xb5c473d0u, 0xb40619e7u, 0xb640a7beu, 0xb782cd89u, 0xb2cddb0cu, 0xb30fb13bu,
        0xb1490f62u, 0xb08b6555u, 0xbbd72268u, 0xba15485fu, 0xb853f606u, 0xb9919c31u,
        0xbcde8ab4u, 0xbd1ce083u, 0xbf5a5edau, 0xbe9834edu
    },
    {
        0x00000000u, 0xb8bc6765u, 0xaa09c88bu, 0x12b5afeeu, 0x8f629757u, 0x37def032u,
        0x256b5fdcu, 0x9dd738b9u, 0xc5b428efu, 0x7d084f8au, 0x6fbde064u, 0xd7018701u,
        0x4ad6bfb8u, 0xf26ad8ddu, 0xe0df7733u, 0x58631056u, 0x5019579fu, 0xe8a530fau,
        0xfa109f14u, 0x42acf871u, 0xdf7bc0c8u, 0x67c7a7adu, 0x75720843u, 0xcdce6f26u,
        0x95ad7f70u, 0x2d111815u, 0x3fa4b7fbu, 0x8718d09eu, 0x1acfe827u, 0xa2738f42u,
        0xb0c620acu, 0x087a47c9u, 0xa032af3eu, 0x188ec85bu, 0x0a3b67b5u, 0xb28700d0u,
        0x2f503869u, 0x97ec5f0cu, 0x8559f0e2u, 0x3de59787u, 0x658687d1u, 0xdd3ae0b4u,
        0xcf8f4f5au, 0x7733283fu, 0xeae41086u, 0x525877e3u, 0x40edd80du, 0xf851bf68u,
        0xf02bf8a1u, 0x48979fc4u, 0x5a22302au, 0xe29e574fu, 0x7f496ff6u, 0xc7f50893u,
        0xd540a77du, 0x6dfcc018u, 0x359fd04eu, 0x8d23b72bu, 0x9f9618c5u, 0x272a7fa0u,
        0xbafd4719u, 0x0241207cu, 0x10f48f92u, 0xa848e8f7u, 0x9b14583du, 0x23a83f58u,
        0x311d90b6u, 0x89a1f7d3u, 0x1476cf6au, 0xaccaa80fu, 0xbe7f07e1u, 0x06c36084u,
        0x5ea070d2u, 0xe61c17b7u, 0xf4a9b859u, 0x4c15df3cu, 0xd1c2e785u, 0x697e80e0u,
        0x7bcb2f0eu, 0xc377486bu, 0xcb0d0fa2u, 0x73b168c7u, 0x6104c729u, 0xd9b8a04cu,
        0x446f98f5u, 0xfcd3ff90u, 0xee66507eu, 0x56da371bu, 0x0eb9274du, 0xb6054028u,
        0xa4b0efc6u, 0x1c0c88a3u, 0x81dbb01au, 0x3967d77fu, 0x2bd27891u, 0x936e1ff4u,
        0x3b26f703u, 0x839a9066u, 0x912f3f88u, 0x299358edu, 0xb4446054u, 0x0cf80731u,
        0x1e4da8dfu, 0xa6f1cfbau, 0xfe92dfecu, 0x462eb889u, 0x549b1767u, 0xec277002u,
        0x71f048bbu, 0xc94c2fdeu, 0xdbf98030u, 0x6345e755u, 0x6b3fa09cu, 0xd383c7f9u,
        0xc1366817u, 0x798a0f72u, 0xe45d37cbu, 0x5ce150aeu, 0x4e54ff40u, 0xf6e89825u,
        0xae8b8873u, 0x1637ef16u, 0x048240f8u, 0xbc3e279du, 0x21e91f24u, 0x99557841u,
        0x8be0d7afu, 0x335cb0cau, 0xed59b63bu, 0x55e5d15eu, 0x47507eb0u, 0xffec19d5u,
        0x623b216cu, 0xda874609u, 0xc832e9e7u, 0x708e8e82u, 0x28ed9ed4u, 0x9051f9b1u,
        0x82e4565fu, 0x3a58313au, 0xa78f0983u, 0x1f336ee6u, 0x0d86c108u, 0xb53aa66du,
        0xbd40e1a4u, 0x05fc86c1u, 0x1749292fu, 0xaff54e4au, 0x322276f3u, 0x8a9e1196u,
        0x982bbe78u, 0x2097d91du, 0x78f4c94bu, 0xc048ae2eu, 0xd2fd01c0u, 0x6a4166a5u,
        0xf7965e1cu, 0x4f2a3979u, 0x5d9f9697u, 0xe523f1f2u, 0x4d6b1905u, 0xf5d77e60u,
        0xe762d18eu, 0x5fdeb6ebu, 0xc2098e52u, 0x7ab5e937u, 0x680046d9u, 0xd0bc21bcu,
        0x88df31eau, 0x3063568fu, 0x22d6f961u, 0x9a6a9e04u, 0x07bda6bdu, 0xbf01c1d8u,
        0xadb46e36u, 0x15080953u, 0x1d724e9au, 0xa5ce29ffu, 0xb77b8611u, 0x0fc7e174u,
        0x9210d9cdu, 0x2aacbea8u, 0x38191146u, 0x80a57623u, 0xd8c66675u, 0x607a0110u,
        0x72cfaefeu, 0xca73c99bu, 0x57a4f122u, 0xef189647u, 0xfdad39a9u, 0x45115eccu,
        0x764dee06u, 0xcef18963u, 0xdc44268du, 0x64f841e8u, 0xf92f7951u, 0x41931e34u,
        0x5326b1dau, 0xeb9ad6bfu, 0xb3f9c6e9u, 0x0b45a18cu, 0x19f00e62u, 0xa14c6907u,
        0x3c9b51beu, 0x842736dbu, 0x96929935u, 0x2e2efe50u, 0x2654b999u, 0x9ee8defcu,
        0x8c5d7112u, 0x34e11677u, 0xa9362eceu, 0x118a49abu, 0x033fe645u, 0xbb838120u,
        0xe3e09176u, 0x5b5cf613u, 0x49e959fdu, 0xf1553e98u, 0x6c820621u, 0xd43e6144u,
        0xc68bceaau, 0x7e37a9cfu, 0xd67f4138u, 0x6ec3265du, 0x7c7689b3u, 0xc4caeed6u,
        0x591dd66fu, 0xe1a1b10au, 0xf3141ee4u, 0x4ba87981u, 0x13cb69d7u, 0xab770eb2u,
        0xb9c2a15cu, 0x017ec639u, 0x9ca9fe80u, 0x241599e5u, 0x36a0360bu, 0x8e1c516eu,
        0x866616a7u, 0x3eda71c2u, 0x2c6fde2cu, 0x94d3b949u, 0x090481f0u, 0xb1b8e695u,
        0xa30d497bu, 0x1bb12e1eu, 0x43d23e48u, 0xfb6e592du, 0xe9dbf6c3u, 0x516791a6u,
        0xccb0a91fu, 0x740cce7au, 0x66b96194u, 0xde0506f1u
    },
    {
        0x00000000u, 0x3d6029b0u, 0x7ac05360u, 0x47a07ad0u, 0xf580a6c0u, 0xc8e08f70u,
        0x8f40f5a0u, 0xb220dc10u, 0x30704bc1u, 0x0d106271u, 0x4ab018a1u, 0x77d03111u,
        0xc5f0ed01u, 0xf890c4b1u, 0xbf30be61u, 0x825097d1u, 0x60e09782u, 0x5d80be32u,
        0x1a20c4e2u, 0x2740ed52u, 0x95603142u, 0xa80018f2u, 0xefa06222u, 0xd2c04b92u,
        0x5090dc43u, 0x6df0f5f3u, 0x2a508f23u, 0x1730a693u, 0xa5107a83u, 0x98705333u,
        0xdfd029e3u, 0xe2b00053u, 0xc1c12f04u, 0xfca106b4u, 0xbb017c64u, 0x866155d4u,
        0x344189c4u, 0x0921a074u, 0x4e81daa4u, 0x73e1f314u, 0xf1b164c5u, 0xccd14d75u,
        0x8b7137a5u, 0xb6111e15u, 0x0431c205u, 0x3951ebb5u, 0x7ef19165u, 0x4391b8d5u,
        0xa121b886u, 0x9c419136u, 0xdbe1ebe6u, 0xe681c256u, 0x54a11e46u, 0x69c137f6u,
        0x2e614d26u, 0x13016496u, 0x9151f347u, 0xac31daf7u, 0xeb91a027u, 0xd6f18997u,
        0x64d15587u, 0x59b17c37u, 0x1e1106e7u, 0x23712f57u, 0x58f35849u, 0x659371f9u,
        0x22330b29u, 0x1f532299u, 0xad73fe89u, 0x9013d739u, 0xd7b3ade9u, 0xead38459u,
        0x68831388u, 0x55e33a38u, 0x124340e8u, 0x2f236958u, 0x9d03b548u, 0xa0639cf8u,
        0xe7c3e628u, 0xdaa3cf98u, 0x3813cfcbu, 0x0573e67bu, 0x42d39cabu, 0x7fb3b51bu,
        0xcd93690bu, 0xf0f340bbu, 0xb7533a6bu, 0x8a3313dbu, 0x0863840au, 0x3503adbau,
        0x72a3d76au, 0x4fc3fedau, 0xfde322cau, 0xc0830b7au, 0x872371aau, 0xba43581au,
        0x9932774du, 0xa4525efdu, 0xe3f2242du, 0xde920d9du, 0x6cb2d18du, 0x51d2f83du,
        0x167282edu, 0x2b12ab5du, 0xa9423c8cu, 0x9422153cu, 0xd3826fecu, 0xeee2465cu,
        0x5cc29a4cu, 0x61a2b3fcu, 0x2602c92cu, 0x1b62e09cu, 0xf9d2e0cfu, 0xc4b2c97fu,
        0x8312b3afu, 0xbe729a1fu, 0x0c52460fu, 0x31326fbfu, 0x7692156fu, 0x4bf23cdfu,
        0xc9a2ab0eu, 0xf4c282beu, 0xb362f86eu, 0x8e02d1deu, 0x3c220dceu, 0x0142247eu,
        0x46e25eaeu, 0x7b82771eu, 0xb1e6b092u, 0x8c869922u, 0xcb26e3f2u, 0xf646ca42u,
        0x44661652u, 0x79063fe2u, 0x3ea64532u, 0x03c66c82u, 0x8196fb53u, 0xbcf6d2e3u,
        0xfb56a833u, 0xc6368183u, 0x74165d93u, 0x49767423u, 0x0ed60ef3u, 0x33b62743u,
        0xd1062710u, 0xec660ea0u, 0xabc67470u, 0x96a65dc0u, 0x248681d0u, 0x19e6a860u,
        0x5e46d2b0u, 0x6326fb00u, 0xe1766cd1u, 0xdc164561u, 0x9bb63fb1u, 0xa6d61601u,
        0x14f6ca11u, 0x2996e3a1u, 0x6e369971u, 0x5356b0c1u, 0x70279f96u, 0x4d47b626u,
        0x0ae7ccf6u, 0x3787e546u, 0x85a73956u, 0xb8c710e6u, 0xff676a36u, 0xc2074386u,
        0x4057d457u, 0x7d37fde7u, 0x3a978737u, 0x07f7ae87u, 0xb5d77297u, 0x88b75b27u,
        0xcf1721f7u, 0xf2770847u, 0x10c70814u, 0x2da721a4u, 0x6a075b74u, 0x576772c4u,
        0xe547aed4u, 0xd8278764u, 0x9f87fdb4u, 0xa2e7d404u, 0x20b743d5u, 0x1dd76a65u,
        0x5a7710b5u, 0x67173905u, 0xd537e515u, 0xe857cca5u, 0xaff7b675u, 0x92979fc5u,
        0xe915e8dbu, 0xd475c16bu, 0x93d5bbbbu, 0xaeb5920bu, 0x1c954e1bu, 0x21f567abu,
        0x66551d7bu, 0x5b3534cbu, 0xd965a31au, 0xe4058aaau, 0xa3a5f07au, 0x9ec5d9cau,
        0x2ce505dau, 0x11852c6au, 0x562556bau, 0x6b457f0au, 0x89f57f59u, 0xb49556e9u,
        0xf3352c39u, 0xce550589u, 0x7c75d999u, 0x4115f029u, 0x06b58af9u, 0x3bd5a349u,
        0xb9853498u, 0x84e51d28u, 0xc34567f8u, 0xfe254e48u, 0x4c059258u, 0x7165bbe8u,
        0x36c5c138u, 0x0ba5e888u, 0x28d4c7dfu, 0x15b4ee6fu, 0x521494bfu, 0x6f74bd0fu,
        0xdd54611fu, 0xe03448afu, 0xa794327fu, 0x9af41bcfu, 0x18a48c1eu, 0x25c4a5aeu,
        0x6264df7eu, 0x5f04f6ceu, 0xed242adeu, 0xd044036eu, 0x97e479beu, 0xaa84500eu,
        0x4834505du, 0x755479edu, 0x32f4033du, 0x0f942a8du, 0xbdb4f69du, 0x80d4df2du,
        0xc774a5fdu, 0xfa148c4du, 0x78441b9cu, 0x4524322cu, 0x028448fcu, 0x3fe4614cu,
        0x8dc4bd5cu, 0xb0a494ecu, 0xf704ee3cu, 0xca64c78cu
    },
    {
        0x00000000u, 0xcb5cd3a5u, 0x4dc8a10bu, 0x869472aeu, 0x9b914216u, 0x50cd91b3u,
        0xd659e31du, 0x1d0530b8u, 0xec53826du, 0x270f51c8u, 0xa19b2366u, 0x6ac7f0c3u,
        0x77c2c07bu, 0xbc9e13deu, 0x3a0a6170u, 0xf156b2d5u, 0x03d6029bu, 0xc88ad13eu,
        0x4e1ea390u, 0x85427035u, 0x9847408du, 0x531b9328u, 0xd58fe186u, 0x1ed33223u,
        0xef8580f6u, 0x24d95353u, 0xa24d21fdu, 0x6911f258u, 0x7414c2e0u, 0xbf481145u,
        0x39dc63ebu, 0xf280b04eu, 0x07ac0536u, 0xccf0d693u, 0x4a64a43du, 0x81387798u,
        0x9c3d4720u, 0x57619485u, 0xd1f5e62bu, 0x1aa9358eu, 0xebff875bu, 0x20a354feu,
        0xa6372650u, 0x6d6bf5f5u, 0x706ec54du, 0xbb3216e8u, 0x3da66446u, 0xf6fab7e3u,
        0x047a07adu, 0xcf26d408u, 0x49b2a6a6u, 0x82ee7503u, 0x9feb45bbu, 0x54b7961eu,
        0xd223e4b0u, 0x197f3715u, 0xe82985c0u, 0x23755665u, 0xa5e124cbu, 0x6ebdf76eu,
        0x73b8c7d6u, 0xb8e41473u, 0x3e7066ddu, 0xf52cb578u, 0x0f580a6cu, 0xc404d9c9u,
        0x4290ab67u, 0x89cc78c2u, 0x94c9487au, 0x5f959bdfu, 0xd901e971u, 0x125d3ad4u,
        0xe30b8801u, 0x28575ba4u, 0xaec3290au, 0x659ffaafu, 0x789aca17u, 0xb3c619b2u,
        0x35526b1cu, 0xfe0eb8b9u, 0x0c8e08f7u, 0xc7d2db52u, 0x4146a9fcu, 0x8a1a7a59u,
        0x971f4ae1u, 0x5c439944u, 0xdad7ebeau, 0x118b384fu, 0xe0dd8a9au, 0x2b81593fu,
        0xad152b91u, 0x6649f834u, 0x7b4cc88cu, 0xb0101b29u, 0x36846987u, 0xfdd8ba22u,
        0x08f40f5au, 0xc3a8dcffu, 0x453cae51u, 0x8e607df4u, 0x93654d4cu, 0x58399ee9u,
        0xdeadec47u, 0x15f13fe2u, 0xe4a78d37u, 0x2ffb5e92u, 0xa96f2c3cu, 0x6233ff99u,
        0x7f36cf21u, 0xb46a1c84u, 0x32fe6e2au, 0xf9a2bd8fu, 0x0b220dc1u, 0xc07ede64u,
        0x46eaaccau, 0x8db67f6fu, 0x90b34fd7u, 0x5bef9c72u, 0xdd7beedcu, 0x16273d79u,
        0xe7718facu, 0x2c2d5c09u, 0xaab92ea7u, 0x61e5fd02u, 0x7ce0cdbau, 0xb7bc1e1fu,
        0x31286cb1u, 0xfa74bf14u, 0x1eb014d8u, 0xd5ecc77du, 0x5378b5d3u, 0x98246676u,
        0x852156ceu, 0x4e7d856bu, 0xc8e9f7c5u, 0x03b52460u, 0xf2e396b5u, 0x39bf4510u,
        0xbf2b37beu, 0x7477e41bu, 0x6972d4a3u, 0xa22e0706u, 0x24ba75a8u, 0xefe6a60du,
        0x1d661643u, 0xd63ac5e6u, 0x50aeb748u, 0x9bf264edu, 0x86f75455u, 0x4dab87f0u,
        0xcb3ff55eu, 0x006326fbu, 0xf135942eu, 0x3a69478bu, 0xbcfd3525u, 0x77a1e680u,
        0x6aa4d638u, 0xa1f8059du, 0x276c7733u, 0xec30a496u, 0x191c11eeu, 0xd240c24bu,
        0x54d4b0e5u, 0x9f886340u, 0x828d53f8u, 0x49d1805du, 0xcf45f2f3u, 0x04192156u,
        0xf54f9383u, 0x3e134026u, 0xb8873288u, 0x73dbe12du, 0x6eded195u, 0xa5820230u,
        0x2316709eu, 0xe84aa33bu, 0x1aca1375u, 0xd196c0d0u, 0x5702b27eu, 0x9c5e61dbu,
        0x815b5163u, 0x4a0782c6u, 0xcc93f068u, 0x07cf23cdu, 0xf6999118u, 0x3dc542bdu,
        0xbb513013u, 0x700de3b6u, 0x6d08d30eu, 0xa65400abu, 0x20c07205u, 0xeb9ca1a0u,
        0x11e81eb4u, 0xdab4cd11u, 0x5c20bfbfu, 0x977c6c1au, 0x8a795ca2u, 0x41258f07u,
        0xc7b1fda9u, 0x0ced2e0cu, 0xfdbb9cd9u, 0x36e74f7cu, 0xb0733dd2u, 0x7b2fee77u,
        0x662adecfu, 0xad760d6au, 0x2be27fc4u, 0xe0beac61u, 0x123e1c2fu, 0xd962cf8au,
        0x5ff6bd24u, 0x94aa6e81u, 0x89af5e39u, 0x42f38d9cu, 0xc467ff32u, 0x0f3b2c97u,
        0xfe6d9e42u, 0x35314de7u, 0xb3a53f49u, 0x78f9ececu, 0x65fcdc54u, 0xaea00ff1u,
        0x28347d5fu, 0xe368aefau, 0x16441b82u, 0xdd18c827u, 0x5b8cba89u, 0x90d0692cu,
        0x8dd55994u, 0x46898a31u, 0xc01df89fu, 0x0b412b3au, 0xfa1799efu, 0x314b4a4au,
        0xb7df38e4u, 0x7c83eb41u, 0x6186dbf9u, 0xaada085cu, 0x2c4e7af2u, 0xe712a957u,
        0x15921919u, 0xdececabcu, 0x585ab812u, 0x93066bb7u, 0x8e035b0fu, 0x455f88aau,
        0xc3cbfa04u, 0x089729a1u, 0xf9c19b74u, 0x329d48d1u, 0xb4093a7fu, 0x7f55e9dau,
        0x6250d962u, 0xa90c0ac7u, 0x2f987869u, 0xe4c4abccu
    },
    {
        0x00000000u, 0xa6770bb4u, 0x979f1129u, 0x31e81a9du, 0xf44f2413u, 0x52382fa7u,
        0x63d0353au, 0xc5a73e8eu, 0x33ef4e67u, 0x959845d3u, 0xa4705f4eu, 0x020754fau,
        0xc7a06a74u, 0x61d761c0u, 0x503f7b5du, 0xf64870e9u, 0x67de9cceu, 0xc1a9977au,
        0xf0418de7u, 0x56368653u, 0x9391b8ddu, 0x35e6b369u, 0x040ea9f4u, 0xa279a240u,
        0x5431d2a9u, 0xf246d91du, 0xc3aec380u, 0x65d9c834u, 0xa07ef6bau, 0x0609fd0eu,
        0x37e1e793u, 0x9196ec27u, 0xcfbd399cu, 0x69ca3228u, 0x582228b5u, 0xfe552301u,
        0x3bf21d8fu, 0x9d85163bu, 0xac6d0ca6u, 0x0a1a0712u, 0xfc5277fbu, 0x5a257c4fu,
        0x6bcd66d2u, 0xcdba6d66u, 0x081d53e8u, 0xae6a585cu, 0x9f8242c1u, 0x39f54975u,
        0xa863a552u, 0x0e14aee6u, 0x3ffcb47bu, 0x998bbfcfu, 0x5c2c8141u, 0xfa5b8af5u,
        0xcbb39068u, 0x6dc49bdcu, 0x9b8ceb35u, 0x3dfbe081u, 0x0c13fa1cu, 0xaa64f1a8u,
        0x6fc3cf26u, 0xc9b4c492u, 0xf85cde0fu, 0x5e2bd5bbu, 0x440b7579u, 0xe27c7ecdu,
        0xd3946450u, 0x75e36fe4u, 0xb044516au, 0x16335adeu, 0x27db4043u, 0x81ac4bf7u,
        0x77e43b1eu, 0xd19330aau, 0xe07b2a37u, 0x460c2183u, 0x83ab1f0du, 0x25dc14b9u,
        0x14340e24u, 0xb2430590u, 0x23d5e9b7u, 0x85a2e203u, 0xb44af89eu, 0x123df32au,
        0xd79acda4u, 0x71edc610u, 0x4005dc8du, 0xe672d739u, 0x103aa7d0u, 0xb64dac64u,
        0x87a5b6f9u, 0x21d2bd4du, 0xe47583c3u, 0x42028877u, 0x73ea92eau, 0xd59d995eu,
        0x8bb64ce5u, 0x2dc14751u, 0x1c295dccu, 0xba5e5678u, 0x7ff968f6u, 0xd98e6342u,
        0xe86679dfu, 0x4e11726bu, 0xb8590282u, 0x1e2e0936u, 0x2fc613abu, 0x89b1181fu,
        0x4c162691u, 0xea612d25u, 0xdb8937b8u, 0x7dfe3c0cu, 0xec68d02bu, 0x4a1fdb9fu,
        0x7bf7c102u, 0xdd80cab6u, 0x1827f438u, 0xbe50ff8cu, 0x8fb8e511u, 0x29cfeea5u,
        0xdf879e4cu, 0x79f095f8u, 0x48188f65u, 0xee6f84d1u, 0x2bc8ba5fu, 0x8dbfb1ebu,
        0xbc57ab76u, 0x1a20a0c2u, 0x8816eaf2u, 0x2e61e146u, 0x1f89fbdbu, 0xb9fef06fu,
        0x7c59cee1u, 0xda2ec555u, 0xebc6dfc8u, 0x4db1d47cu, 0xbbf9a495u, 0x1d8eaf21u,
        0x2c66b5bcu, 0x8a11be08u, 0x4fb68086u, 0xe9c18b32u, 0xd82991afu, 0x7e5e9a1bu,
        0xefc8763cu, 0x49bf7d88u, 0x78576715u, 0xde206ca1u, 0x1b87522fu, 0xbdf0599bu,
        0x8c184306u, 0x2a6f48b2u, 0xdc27385bu, 0x7a5033efu, 0x4bb82972u, 0xedcf22c6u,
        0x28681c48u, 0x8e1f17fcu, 0xbff70d61u, 0x198006d5u, 0x47abd36eu, 0xe1dcd8dau,
        0xd034c247u, 0x7643c9f3u, 0xb3e4f77du, 0x1593fcc9u, 0x247be654u, 0x820cede0u,
        0x74449d09u, 0xd23396bdu, 0xe3db8c20u, 0x45ac8794u, 0x800bb91au, 0x267cb2aeu,
        0x1794a833u, 0xb1e3a387u, 0x20754fa0u, 0x86024414u, 0xb7ea5e89u, 0x119d553du,
        0xd43a6bb3u, 0x724d6007u, 0x43a57a9au, 0xe5d2712eu, 0x139a01c7u, 0xb5ed0a73u,
        0x840510eeu, 0x22721b5au, 0xe7d525d4u, 0x41a22e60u, 0x704a34fdu, 0xd63d3f49u,
        0xcc1d9f8bu, 0x6a6a943fu, 0x5b828ea2u, 0xfdf58516u, 0x3852bb98u, 0x9e25b02cu,
        0xafcdaab1u, 0x09baa105u, 0xfff2d1ecu, 0x5985da58u, 0x686dc0c5u, 0xce1acb71u,
        0x0bbdf5ffu, 0xadcafe4bu, 0x9c22e4d6u, 0x3a55ef62u, 0xabc30345u, 0x0db408f1u,
        0x3c5c126cu, 0x9a2b19d8u, 0x5f8c2756u, 0xf9fb2ce2u, 0xc813367fu, 0x6e643dcbu,
        0x982c4d22u, 0x3e5b4696u, 0x0fb35c0bu, 0xa9c457bfu, 0x6c636931u, 0xca146285u,
        0xfbfc7818u, 0x5d8b73acu, 0x03a0a617u, 0xa5d7ada3u, 0x943fb73eu, 0x3248bc8au,
        0xf7ef8204u, 0x519889b0u, 0x6070932du, 0xc6079899u, 0x304fe870u, 0x9638e3c4u,
        0xa7d0f959u, 0x01a7f2edu, 0xc400cc63u, 0x6277c7d7u, 0x539fdd4au, 0xf5e8d6feu,
        0x647e3ad9u, 0xc209316du, 0xf3e12bf0u, 0x55962044u, 0x90311ecau, 0x3646157eu,
        0x07ae0fe3u, 0xa1d90457u, 0x579174beu, 0xf1e67f0au, 0xc00e6597u, 0x66796e23u,
        0xa3de50adu, 0x05a95b19u, 0x34414184u, 0x92364a30u
    },
    {
        0x00000000u, 0xccaa009eu, 0x4225077du, 0x8e8f07e3u, 0x844a0efau, 0x48e00e64u,
        0xc66f0987u, 0x0ac50919u, 0xd3e51bb5u, 0x1f4f1b2bu, 0x91c01cc8u, 0x5d6a1c56u,
        0x57af154fu, 0x9b0515d1u, 0x158a1232u, 0xd92012acu, 0x7cbb312bu, 0xb01131b5u,
        0x3e9e3656u, 0xf23436c8u, 0xf8f13fd1u, 0x345b3f4fu, 0xbad438acu, 0x767e3832u,
        0xaf5e2a9eu, 0x63f42a00u, 0xed7b2de3u, 0x21d12d7du, 0x2b142464u, 0xe7be24fau,
        0x69312319u, 0xa59b2387u, 0xf9766256u, 0x35dc62c8u, 0xbb53652bu, 0x77f965b5u,
        0x7d3c6cacu, 0xb1966c32u, 0x3f196bd1u, 0xf3b36b4fu, 0x2a9379e3u, 0xe639797du,
        0x68b67e9eu, 0xa41c7e00u, 0xaed97719u, 0x62737787u, 0xecfc7064u, 0x205670fau,
        0x85cd537du, 0x496753e3u, 0xc7e85400u, 0x0b42549eu, 0x01875d87u, 0xcd2d5d19u,
        0x43a25afau, 0x8f085a64u, 0x562848c8u, 0x9a824856u, 0x140d4fb5u, 0xd8a74f2bu,
        0xd2624632u, 0x1ec846acu, 0x9047414fu, 0x5ced41d1u, 0x299dc2edu, 0xe537c273u,
        0x6bb8c590u, 0xa712c50eu, 0xadd7cc17u, 0x617dcc89u, 0xeff2cb6au, 0x2358cbf4u,
        0xfa78d958u, 0x36d2d9c6u, 0xb85dde25u, 0x74f7debbu, 0x7e32d7a2u, 0xb298d73cu,
        0x3c17d0dfu, 0xf0bdd041u, 0x5526f3c6u, 0x998cf358u, 0x1703f4bbu, 0xdba9f425u,
        0xd16cfd3cu, 0x1dc6fda2u, 0x9349fa41u, 0x5fe3fadfu, 0x86c3e873u, 0x4a69e8edu,
        0xc4e6ef0eu, 0x084cef90u, 0x0289e689u, 0xce23e617u, 0x40ace1f4u, 0x8c06e16au,
        0xd0eba0bbu, 0x1c41a025u, 0x92cea7c6u, 0x5e64a758u, 0x54a1ae41u, 0x980baedfu,
        0x1684a93cu, 0xda2ea9a2u, 0x030ebb0eu, 0xcfa4bb90u, 0x412bbc73u, 0x8d81bcedu,
        0x8744b5f4u, 0x4beeb56au, 0xc561b289u, 0x09cbb217u, 0xac509190u, 0x60fa910eu,
        0xee7596edu, 0x22df9673u, 0x281a9f6au, 0xe4b09ff4u, 0x6a3f9817u, 0xa6959889u,
        0x7fb58a25u, 0xb31f8abbu, 0x3d908d58u, 0xf13a8dc6u, 0xfbff84dfu, 0x37558441u,
        0xb9da83a2u, 0x7570833cu, 0x533b85dau, 0x9f918544u, 0x111e82a7u, 0xddb48239u,
        0xd7718b20u, 0x1bdb8bbeu, 0x95548c5du, 0x59fe8cc3u, 0x80de9e6fu, 0x4c749ef1u,
        0xc2fb9912u, 0x0e51998cu, 0x04949095u, 0xc83e900bu, 0x46b197e8u, 0x8a1b9776u,
        0x2f80b4f1u, 0xe32ab46fu, 0x6da5b38cu, 0xa10fb312u, 0xabcaba0bu, 0x6760ba95u,
        0xe9efbd76u, 0x2545bde8u, 0xfc65af44u, 0x30cfafdau, 0xbe40a839u, 0x72eaa8a7u,
        0x782fa1beu, 0xb485a120u, 0x3a0aa6c3u, 0xf6a0a65du, 0xaa4de78cu, 0x66e7e712u,
        0xe868e0f1u, 0x24c2e06fu, 0x2e07e976u, 0xe2ade9e8u, 0x6c22ee0bu, 0xa088ee95u,
        0x79a8fc39u, 0xb502fca7u, 0x3b8dfb44u, 0xf727fbdau, 0xfde2f2c3u, 0x3148f25du,
        0xbfc7f5beu, 0x736df520u, 0xd6f6d6a7u, 0x1a5cd639u, 0x94d3d1dau, 0x5879d144u,
        0x52bcd85du, 0x9e16d8c3u, 0x1099df20u, 0xdc33dfbeu, 0x0513cd12u, 0xc9b9cd8cu,
        0x4736ca6fu, 0x8b9ccaf1u, 0x8159c3e8u, 0x4df3c376u, 0xc37cc495u, 0x0fd6c40bu,
        0x7aa64737u, 0xb60c47a9u, 0x3883404au, 0xf42940d4u, 0xfeec49cdu, 0x32464953u,
        0xbcc94eb0u, 0x70634e2eu, 0xa9435c82u, 0x65e95c1cu, 0xeb665bffu, 0x27cc5b61u,
        0x2d095278u, 0xe1a352e6u, 0x6f2c5505u, 0xa386559bu, 0x061d761cu, 0xcab77682u,
        0x44387161u, 0x889271ffu, 0x825778e6u, 0x4efd7878u, 0xc0727f9bu, 0x0cd87f05u,
        0xd5f86da9u, 0x19526d37u, 0x97dd6ad4u, 0x5b776a4au, 0x51b26353u, 0x9d1863cdu,
        0x1397642eu, 0xdf3d64b0u, 0x83d02561u, 0x4f7a25ffu, 0xc1f5221cu, 0x0d5f2282u,
        0x079a2b9bu, 0xcb302b05u, 0x45bf2ce6u, 0x89152c78u, 0x50353ed4u, 0x9c9f3e4au,
        0x121039a9u, 0xdeba3937u, 0xd47f302eu, 0x18d530b0u, 0x965a3753u, 0x5af037cdu,
        0xff6b144au, 0x33c114d4u, 0xbd4e1337u, 0x71e413a9u, 0x7b211ab0u, 0xb78b1a2eu,
        0x39041dcdu, 0xf5ae1d53u, 0x2c8e0fffu, 0xe0240f61u, 0x6eab0882u, 0xa201081cu,
        0xa8c40105u, 0x646e019bu, 0xeae10678u, 0x264b06e6u
    }
#endif
};
#else
static const uint32_t crc_nib[16] = {
    0x00000000u, 0x1db71064u, 0x3b6e20c8u, 0x26d930acu, 0x76dc4190u, 0x6b6b51f4u,
    0x4db26158u, 0x5005713cu, 0xedb88320u, 0xf00f9344u, 0xd6d6a3e8u, 0xcb61b38cu,
    0x9b64c2b0u, 0x86d3d2d4u, 0xa00ae278u, 0xbdbdf21cu};
#endif

uint32_t spk_crc32(uint32_t crc, const uint8_t *data, size_t n)
{
    crc = ~crc;
#if CRC_SLICES == 8
    for (; n >= 8; n -= 8, data += 8) {
        uint32_t a = crc ^ ((uint32_t)data[0] | (uint32_t)data[1] << 8 |
                            (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24);
        crc = crc_tab[7][a & 255u] ^ crc_tab[6][(a >> 8) & 255u] ^
              crc_tab[5][(a >> 16) & 255u] ^ crc_tab[4][a >> 24] ^ crc_tab[3][data[4]] ^
              crc_tab[2][data[5]] ^ crc_tab[1][data[6]] ^ crc_tab[0][data[7]];
    }
#endif
    while (n--) {
#if CRC_SLICES
        crc = (crc >> 8) ^ crc_tab[0][(crc ^ *data++) & 255u];
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

/* The w <= 57 bits at bit bp, MSB-first, read a byte at a time (only the bytes that hold
 * them: the caller checks that they lie within the buffer). */
static NOINLINE uint64_t bits_at(const uint8_t *b, uint64_t bp, unsigned w)
{
    const uint8_t *q = b + (size_t)(bp >> 3);
    unsigned nbits = (unsigned)(bp & 7u) + w, n = (nbits + 7u) >> 3, i;
    uint64_t v = 0;
    if (!w)
        return 0;
    for (i = 0; i < n; i++)
        v = (v << 8) | q[i];
    return (v >> (n * 8u - nbits)) & ((((uint64_t)1 << (w - 1u)) << 1) - 1u);
}

/* Number of leading zeros of x != 0 */
static unsigned clz64(uint64_t x)
{
#if defined(__GNUC__)
    return (unsigned)__builtin_clzll(x);
#else
    unsigned n = 0;
    while (!(x >> 63))
        x <<= 1, n++;
    return n;
#endif
}

/* Elias gamma codes (read_symbol_list: at most 20 leading zeros), read sequentially from a
 * table's symbol list: a 64-bit MSB-first accumulator holding
 * nb >= 57 valid bits after each refill (zeros past r->end), consumed bits = pos * 8 - nb. */
typedef struct {
    uint64_t acc;
    size_t pos;
    unsigned nb;
} gbr;

static SIZE_NOINLINE void gbr_refill(gbr *g, const rd *r)
{
#if !defined(__OPTIMIZE_SIZE__)
    if (g->pos + 8 <= r->end) {
        const uint8_t *q = r->b + g->pos;
        uint64_t x = ((uint64_t)q[0] << 56) | ((uint64_t)q[1] << 48) | ((uint64_t)q[2] << 40) |
                     ((uint64_t)q[3] << 32) | ((uint64_t)q[4] << 24) | ((uint64_t)q[5] << 16) |
                     ((uint64_t)q[6] << 8) | (uint64_t)q[7];
        g->acc |= x >> g->nb;
        g->pos += (63u - g->nb) >> 3;
        g->nb |= 56u;
        return;
    }
#endif
    while (g->nb <= 56) {
        g->acc |= (uint64_t)(g->pos < r->end ? r->b[g->pos] : 0u) << (56 - g->nb);
        g->pos++;
        g->nb += 8;
    }
}

static SIZE_NOINLINE uint32_t gbr_gamma(gbr *g, rd *r)
{
    unsigned nz, tot;
    uint32_t v;
    gbr_refill(g, r);
    nz = g->acc ? clz64(g->acc) : 64u;
    tot = 2u * nz + 1u;
    /* consumed + tot must stay within r->end (pos * 8 - nb <= end * 8 holds) */
    if (nz > 20 || (uint64_t)g->pos * 8u - g->nb + tot > (uint64_t)r->end * 8u) {
        fail(r, SPK_E_CORRUPT);
        return 0;
    }
    v = (uint32_t)(g->acc >> (64u - tot));
    g->acc <<= tot;
    g->nb -= tot;
    return v;
}

/* Elias gamma at bit *bp (the duplicate check's per-length cursors) */
static uint32_t gamma_(rd *r, uint64_t *bp)
{
    gbr g;
    uint32_t v;
    unsigned sh = (unsigned)(*bp & 7u);
    g.acc = 0;
    g.nb = 0;
    g.pos = (size_t)(*bp >> 3);
    gbr_refill(&g, r);
    g.acc <<= sh;
    g.nb -= sh;
    v = gbr_gamma(&g, r);
    *bp = (uint64_t)g.pos * 8u - g.nb;
    return v;
}

/* v4: a bit reader over the directory (sticky error in r, as rd's) */
typedef struct {
    rd r;
    uint64_t bp; /* bit position in the package */
} brd;

#if !defined(__OPTIMIZE_SIZE__)
/* Speed builds: the 64 bits at bit bp (bp / 8 + 8 <= end, checked by the caller) from one
 * 8-byte big-endian load (assembled from bytes: any endianness, no unaligned access), shifted
 * so that bit bp is the top bit: its top 64 - bp % 8 >= 57 bits are the stream's. */
#define FAST_BITS 1
static uint64_t win64(const uint8_t *b, uint64_t bp)
{
    const uint8_t *q = b + (size_t)(bp >> 3);
    uint64_t x = ((uint64_t)q[0] << 56) | ((uint64_t)q[1] << 48) | ((uint64_t)q[2] << 40) |
                 ((uint64_t)q[3] << 32) | ((uint64_t)q[4] << 24) | ((uint64_t)q[5] << 16) |
                 ((uint64_t)q[6] << 8) | (uint64_t)q[7];
    return x << (bp & 7u);
}
#else
#define FAST_BITS 0
#endif

/* v4: the next w <= 57 bits, MSB-first; past the directory's end 0 (SPK_E_TRUNCATED) */
static SIZE_NOINLINE uint64_t ubits(brd *b, unsigned w)
{
#if FAST_BITS
    if ((b->bp >> 3) + 8u <= b->r.end) { /* the w <= 57 bits lie in the 8 bytes at bp / 8 */
        uint64_t x = w ? win64(b->r.b, b->bp) >> (64u - w) : 0u;
        b->bp += w;
        return x;
    }
#endif
    if ((uint64_t)b->r.end * 8u - b->bp < w) {
        fail(&b->r, SPK_E_TRUNCATED);
        return 0;
    }
    b->bp += w;
    return bits_at(b->r.b, b->bp - w, w);
}

/* v4: the next order-k (k <= 40) Exp-Golomb field (§27): z zero bits up to a 1 bit
 * (z + k <= 56, else SPK_E_CORRUPT), z more bits (m = 2^z | them), k bits `low`: the value
 * ((m - 1) << k) | low < 2^57; 0 after any error in b. */
static SIZE_NOINLINE uint64_t egol(brd *b, unsigned k)
{
    uint64_t left, x;
    unsigned w = 57u - k, z;
#if FAST_BITS
    /* the whole field in the 8 bytes at bp / 8: the same value, position and errors as
     * below (the 57 - k bit prefix window lies in them; a zero one is SPK_E_CORRUPT) */
    if (!b->r.err && (b->bp >> 3) + 8u <= b->r.end) {
        x = win64(b->r.b, b->bp);
        if (!(x >> (64u - w))) {
            fail(&b->r, SPK_E_CORRUPT);
            return 0;
        }
        z = clz64(x);
        if (2u * z + 1u + k <= 64u - (unsigned)(b->bp & 7u)) {
            b->bp += 2u * z + 1u + k;
            return ((x << z) >> (63u - z - k)) - ((uint64_t)1 << k);
        }
    }
#endif
    left = (uint64_t)b->r.end * 8u - b->bp;
    if (left < w)
        w = (unsigned)left;
    x = bits_at(b->r.b, b->bp, w); /* the 1 bit ends the first w bits, or the field is bad */
    if (!x) {
        fail(&b->r, w == 57u - k ? SPK_E_CORRUPT : SPK_E_TRUNCATED);
        return 0;
    }
    z = clz64(x) - (64u - w);
    b->bp += z;
    x = ubits(b, z + 1u) - 1u;
    x = (x << k) | ubits(b, k);
    return b->r.err ? 0 : x;
}

/* v4: signed order-k Exp-Golomb: u even -> u / 2, odd -> -(u + 1) / 2 */
static SIZE_NOINLINE int64_t segol(brd *b, unsigned k)
{
    uint64_t u = egol(b, k);
    return u & 1u ? -(int64_t)(u >> 1) - 1 : (int64_t)(u >> 1);
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

#ifndef SPK_SMALL
/* d's decode-table entries of symbol s, whose code `code` is l + 1 bits long (the Kraft sum,
 * checked, keeps code << sh + n within the table) */
static SIZE_NOINLINE void lut_put(spk_dec *d, uint32_t code, uint32_t l, uint32_t s,
                                  uint32_t kref, uint32_t nrun)
{
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

/* Parse the table at r->pos (codec.format._read_tables + huffman.read_lengths): header,
 * counts, Kraft, the gamma-coded symbol list (range, end-of-group present); if syms != NULL
 * (spk_open), the alphabet-size total (Limits.max_table_symbols) and that no symbol is listed
 * twice (a merge of the 12 ascending per-length lists); if d != NULL, build d's decoding
 * tables (canonical order = list order). */
static int table_read(rd *r, spk_dec *d, uint32_t *syms)
{
    uint32_t kref, nrun, nsym, nclass, total = 0, kraft = 0, eob = 0, l, k, s, code = 0;
    uint32_t cnt[MAXLEN], left[MAXLEN], head[MAXLEN], last = ~0u;
    uint64_t cur[MAXLEN];
    gbr gb;
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
        memset(d->lut, 0, sizeof(uint32_t) << MAXLEN);
#endif
    gb.acc = 0;
    gb.nb = 0;
    gb.pos = r->pos;
    for (l = 0; l < MAXLEN; l++) {
        cur[l] = (uint64_t)gb.pos * 8u - gb.nb;
#ifdef SPK_SMALL
        if (d) {
            d->first[l] = (uint16_t)code;
            d->count[l] = (uint16_t)cnt[l];
            d->offs[l] = (uint16_t)k;
        }
#endif
        for (s = ~0u, left[l] = 0; left[l] < cnt[l]; left[l]++, code++) { /* prev = -1 */
            s += gbr_gamma(&gb, r);
            if (s >= nsym) {
                fail(r, SPK_E_CORRUPT);
                s = 0;
            }
            eob |= !s;
#ifdef SPK_SMALL
            if (d)
                d->sym[k++] = (uint16_t)s;
#else
            if (d)
                lut_put(d, code, l, s, kref, nrun);
#endif
        }
        code <<= 1;
    }
    if (r->err || !eob) /* no end-of-group code */
        return r->err ? r->err : SPK_E_CORRUPT;
    r->pos = (size_t)(((uint64_t)gb.pos * 8u - gb.nb + 7u) >> 3);
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

/* v4 (FORMAT.md §28.1): a table's alphabet packed as kref | (nrun - 1) << 3 |
 * (nclass - 1) << 15 (26 bits: the previous table's, which same_alphabet repeats) */
#define ALPHA(kref, nrun, nclass) ((kref) | ((nrun) - 1u) << 3 | ((nclass) - 1u) << 15)

/* v4: table i of the pool at b's bit position (FORMAT.md §28.1; codec.format_v4.read_tables):
 * *al holds the previous table's alphabet (ALPHA), then this one's.  Checks T2v4-T6v4 in
 * field order (a bit past the directory: SPK_E_TRUNCATED, an Exp-Golomb prefix z + k > 56:
 * SPK_E_CORRUPT).  syms as table_read's (spk_open: the running alphabet total, and that a
 * mode-1 list names no symbol twice: each symbol against the lists of the shorter lengths,
 * read again from their start, all ascending).  d: build d's decoding tables in a second pass
 * over the list (canonical codes: per length, the next code in ascending symbol order, which
 * is list order in both modes). */
static int table_read4(brd *b, uint32_t *al, uint32_t i, spk_dec *d, uint32_t *syms)
{
    uint32_t kref, nrun, nclass, nsym, mode, gk, dk = 0, n, c, m, k, s, left;
    uint32_t kraft = 0, eob = 0, pass = 0, cnt[MAXLEN], lf[MAXLEN], at[MAXLEN], cur[MAXLEN];
    uint32_t *nxt = lf; /* (pass 1; lf: pass 0) */
    uint64_t x, beg;
    int64_t l;
    int32_t hd[MAXLEN];
    brd cb;
    if (!i || !ubits(b, 1)) { /* same_alphabet = 0 (table 0: always) */
        kref = (uint32_t)ubits(b, 3);
        if (b->r.err)
            return b->r.err;
        if (kref > MAX_KREF)
            return SPK_E_CORRUPT;
        nrun = (uint32_t)(x = egol(b, 0) + 1u); /* (1 after an error) */
        if (x > MAX_NRUN)
            return SPK_E_CORRUPT;
        x = egol(b, 0) + 1u;
        if (b->r.err)
            return b->r.err;
        if (x > (2u << kref) - 1u + (31u - kref) * (1u << kref)) /* max_classes(kref) */
            return SPK_E_CORRUPT;
        *al = ALPHA(kref, nrun, (uint32_t)x);
    }
    if (b->r.err)
        return b->r.err;
    kref = *al & 7u;
    nrun = ((*al >> 3) & 4095u) + 1u;
    nclass = (*al >> 15) + 1u;
    nsym = 2u + nclass * nrun;
    if (nsym > MAX_SYMBOLS || (syms && (*syms += nsym) > SPK_MAX_TABLE_SYMBOLS))
        return SPK_E_LIMIT;
    mode = (uint32_t)ubits(b, 1);
    gk = (uint32_t)ubits(b, 2);
    memset(cnt, 0, sizeof cnt);
    if (!mode) { /* n_codes, dk */
        x = egol(b, 0) + 1u; /* (1 after an error) */
        if (x > nsym)
            return SPK_E_CORRUPT;
        dk = (uint32_t)ubits(b, 2);
    } else { /* count[1..12] */
        for (x = 0, m = 0; m < MAXLEN; m++) {
            uint64_t y = egol(b, 0);
            x += y;
            cnt[m] = (uint32_t)y; /* (used only if the sum is <= nsym) */
        }
    }
    if (b->r.err)
        return b->r.err;
    if (x > nsym)
        return SPK_E_CORRUPT;
    n = (uint32_t)x;
    beg = b->bp;
    for (;;) {
        for (s = ~0u, c = m = left = 0, l = 0; c < n; c++) { /* prev = -1 */
            if (mode) {
                while (!left) { /* the next length's list (at: bits from beg, < 2^32) */
                    at[m] = (uint32_t)(b->bp - beg);
                    left = cnt[m++];
                    l = m;
                    s = ~0u;
                    for (k = 0; k + 1u < m; k++) /* dup check: shorter lengths from the start */
                        cur[k] = at[k], hd[k] = -1, lf[k] = cnt[k];
                }
                left--;
            }
            x = egol(b, gk);
            if (b->r.err)
                return b->r.err;
            if (x >= nsym - 1u - s) /* s + 1 + gap >= nsym (s = ~0u: -1) */
                return SPK_E_CORRUPT;
            s += 1u + (uint32_t)x;
            if (!mode) {
                l = c ? l + segol(b, dk) : (int64_t)ubits(b, 4);
                if (b->r.err)
                    return b->r.err;
                if (l < 1 || l > MAXLEN)
                    return SPK_E_CORRUPT;
            }
            if (pass) {
                k = nxt[l - 1]++;
#ifdef SPK_SMALL
                d->sym[d->offs[l - 1] + k - d->first[l - 1]] = (uint16_t)s;
#else
                lut_put(d, k, (uint32_t)l - 1u, s, kref, nrun);
#endif
                continue;
            }
            for (k = 0; mode && syms && k + 1u < m; k++) {
                while (hd[k] < (int32_t)s && lf[k]) { /* bits read before: no error */
                    cb = *b;
                    cb.bp = beg + cur[k];
                    hd[k] += 1 + (int32_t)egol(&cb, gk); /* (a symbol < nsym) */
                    cur[k] = (uint32_t)(cb.bp - beg);
                    lf[k]--;
                }
                if (hd[k] == (int32_t)s)
                    return SPK_E_CORRUPT; /* symbol listed twice */
            }
            cnt[l - 1] += !mode;
            kraft += 1u << (MAXLEN - l);
            eob |= !s;
        }
        if (!eob || kraft > (1u << MAXLEN)) /* no end-of-group code; Kraft */
            return SPK_E_CORRUPT;
        if (pass || !d)
            break;
#ifdef SPK_SMALL
        if (n > SPK_SMALL_MAX_CODES)
            return SPK_E_LIMIT;
#else
        memset(d->lut, 0, sizeof(uint32_t) << MAXLEN);
#endif
        for (c = k = m = 0; m < MAXLEN; m++) { /* canonical first codes */
            nxt[m] = c;
#ifdef SPK_SMALL
            d->first[m] = (uint16_t)c;
            d->count[m] = (uint16_t)cnt[m];
            d->offs[m] = (uint16_t)k;
            k += cnt[m];
#endif
            c = (c + cnt[m]) << 1;
        }
        b->bp = beg;
        pass = 1;
    }
    if (d) {
        d->nrun = nrun;
#ifdef SPK_SMALL
        d->kref = (uint8_t)kref;
#endif
    }
    return 0;
}

/* Table i at b (v1-v3: at b->r.pos; v4: at bit b->bp, *al the previous table's alphabet) */
static int tab_read(const spk_pkg *p, brd *b, uint32_t *al, uint32_t i, spk_dec *d,
                    uint32_t *syms)
{
    (void)p;
    return V4(p) ? table_read4(b, al, i, d, syms) : table_read(&b->r, d, syms);
}

/* Load table `tid` into d (build its decode table) unless it is loaded already.  Tables have
 * no length field, so finding one means parsing those before it; d caches the directory
 * offsets of every `stride`-th table (stride = ceil(ntables / SPK_TABLE_CACHE), 1 when all
 * fit), filled as tables are first reached, so a load parses at most stride - 1 tables
 * besides its own once the cache is warm. */
static SIZE_NOINLINE void dec_reset(spk_dec *d, const spk_pkg *p);

/* d's cache key: the package it last served (reset what it remembers when that changes) */
#define dec_key(d, p)                                                                          \
    do {                                                                                       \
        if ((d)->kbuf != (p)->buf || (d)->kcrc != (p)->dir_crc)                                \
            dec_reset(d, p);                                                                   \
    } while (0)

#if defined(SPK_MULTI)
#define MULTI 1
/* Multi-set entries (docs/C_DECODER.md "Multi-set entries"; codec.kernels.directory
 * build_multi): lut[2p] = the plain entry of prefix p, lut[2p + 1] = x, the whole sets that
 * follow its first set within the same 12 bits: 0 if its first set is not a whole set or no
 * second set fits, else f2 | f3 << 14 | bits used by all sets << 28, where f = run + 1 |
 * (value + 128) << 6 (run <= 62, |value| <= 127; an escape is the set "nrun - 1 zeros, then
 * a zero"; an absent third set: 128 << 6, run -1 and value 0, so it lands where the second
 * set's value lands before that is stored).  A table is converted (in place: plain entries
 * spread to the even words, from the top) only when its sampled entries average >= 2 sets
 * and the tensor decodes >= MULTI_MIN_BITS with it. */
#define LUT_MASK ((1u << MAXLEN) - 1u)

/* Entry e as a second or third set: its field | its bits << 14, or 0 if it cannot be one (a
 * whole set with run <= 62 and |value| <= 127, or an escape: e = nrun << 4 | bits, whose
 * field | 0 << 14 is esc, 0 if nrun > 63).  Branch-free. */
static SIZE_NOINLINE uint32_t next_set(uint32_t e, uint32_t nrun, uint32_t esc)
{
    uint32_t ln = e & 15u, run = (e >> 4) & 0xfffu, v = ((e >> 16) & 0x7fffu) - WHOLE_BIAS + 128u;
    uint32_t ok = (e >> 31) & (run <= 62u) & (v - 1u <= 254u);
    uint32_t d = ok ? (run + 1u) | (v << 6) | (ln << 14) : 0u;
    return e >> 4 == nrun && ln && esc ? esc | (ln << 14) : d;
}

/* x of prefix p from its plain entry and the next_set values of the prefixes q where its
 * second and third set start (q has >= 2 more trailing zero bits than p: a whole set is >= 2
 * bits): w = 0: computed from the plain table lut[0, 4096); w = 1: lut[2q + 1] holds them
 * and lut[2p] the plain entry of p */
static SIZE_NOINLINE uint32_t multi_x(const uint32_t *lut, uint32_t p, int w, uint32_t nrun,
                                      uint32_t esc)
{
    uint32_t e = lut[w ? 2u * p : p], b = e & 15u, d2, d3, b2, b3;
#define DSC(q) (w ? lut[2u * (q) + 1u] : next_set(lut[q], nrun, esc))
    if (!(e & ENT_WHOLE) || ((e >> 16) & 0x7fffu) - WHOLE_BIAS + 127u > 254u)
        return 0; /* not a whole set, or |value| > 127 */
    d2 = DSC((p << b) & LUT_MASK);
    b2 = b + (d2 >> 14);
    d3 = DSC((p << b2) & LUT_MASK);
    b3 = b2 + (d3 >> 14);
#undef DSC
    if (!d3 || b3 > MAXLEN) { /* no third set: field 128 << 6 (run -1, value 0) */
        d3 = 128u << 6;
        b3 = b2;
    }
    return d2 && b2 <= MAXLEN ? (d2 & 0x3fffu) | ((d3 & 0x3fffu) << 14) | (b3 << 28) : 0u;
}

/* Convert d's loaded plain table to multi-set entries if its entries average >= 2 sets per
 * lookup, estimated on 64 of the 4096 prefixes (~0.5 us; every 16th prefix took 1.7 us, 60 %
 * of a plain table build, on each load of a table that then was not worth it).  Conversion,
 * in place: the plain entries spread to the even words (from the top: lut[2p] is read as
 * lut[p'] before it is written); next_set of every prefix 4k into its odd word; then x of
 * every prefix into its odd word, by levels of trailing zero bits: prefixes with 0-1
 * trailing zeros, then 2-3, ..., then 0, so the next_set values an x needs (of prefixes with
 * >= 2 more trailing zeros) are still there.  ~12-25 us a table on the development machine
 * (the plain build: 1.5-3 us), hence MULTI_MIN_BITS. */
static void multi_make(spk_dec *d)
{
    uint32_t p, x, k, sets = 0, *lut = d->lut;
    uint32_t nrun = d->nrun, esc = nrun <= 63u ? nrun | (128u << 6) : 0u;
    for (k = 0; k < 64u; k++) { /* 64 prefixes, one in each 64, at varying low bits */
        x = multi_x(lut, (k << 6) | ((k * 41u) & 63u), 0, nrun, esc);
        sets += 1u + (x != 0) + ((x >> 14 & 63u) != 0);
    }
    d->multi = 2;
    if (sets < 2u * 64u)
        return;
    for (p = 1u << MAXLEN; p-- > 0;)
        lut[2u * p] = lut[p];
    for (p = 0; p < (1u << MAXLEN); p += 4u)
        lut[2u * p + 1u] = next_set(lut[2u * p], nrun, esc);
    for (k = 1; k <= (1u << MAXLEN); k <<= 2) /* p: multiples of k, not of 4k (then 0) */
        for (p = k & LUT_MASK; p < (1u << MAXLEN); p += k) {
            if (p & (4u * k - 1u) || k == (1u << MAXLEN))
                lut[2u * p + 1u] = multi_x(lut, p, 1, nrun, esc);
            if (!p)
                break;
        }
    d->multi = 1;
}
#else
#define MULTI 0
#endif
#ifndef MULTI_MIN_BITS
#define MULTI_MIN_BITS 65536u
#endif

/* want: the caller decodes enough with this table to convert it to multi-set entries */
/* Remember where table d->ncached * d->stride starts (b; v4: and the alphabet before it) */
static void toff_put(spk_dec *d, const spk_pkg *p, const brd *b, uint32_t al)
{
    (void)p;
#if SPK_FORMAT_VERSION >= 4
    d->tstate[d->ncached] = V4(p) ? (uint32_t)(b->bp & 7u) | al << 3 : 0u;
#else
    (void)al;
#endif
    d->toff[d->ncached++] = V4(p) ? (size_t)(b->bp >> 3) : b->r.pos;
}

static int dec_load(spk_dec *d, const spk_pkg *p, uint32_t tid, int want)
{
    brd b;
    uint32_t i, j, st, al = 0;
    dec_key(d, p);
    if (d->table == (int32_t)tid) {
#if MULTI
        if (want && !d->multi)
            multi_make(d);
#endif
        return 0;
    }
    d->table = -1;
    st = d->stride;
    if (tid >= p->ntables || !d->ncached || d->ncached > SPK_TABLE_CACHE || !st)
        return SPK_E_CORRUPT;
    j = tid / st;
    if (j >= d->ncached)
        j = d->ncached - 1u;
    memset(&b, 0, sizeof b);
    b.r.b = p->buf;
    b.r.end = p->dir_end;
    b.r.pos = d->toff[j];
#if SPK_FORMAT_VERSION >= 4
    b.bp = (uint64_t)d->toff[j] * 8u + (d->tstate[j] & 7u);
    al = d->tstate[j] >> 3;
#endif
    for (i = j * st; i <= tid; i++) {
        if (i == d->ncached * st && d->ncached < SPK_TABLE_CACHE)
            toff_put(d, p, &b, al);
        E_(tab_read(p, &b, &al, i, i == tid ? d : NULL, NULL));
    }
    if (i == d->ncached * st && d->ncached < SPK_TABLE_CACHE && i < p->ntables)
        toff_put(d, p, &b, al);
    d->table = (int32_t)tid;
#if MULTI
    d->multi = 0;
    if (want)
        multi_make(d);
#else
    (void)want;
#endif
    return 0;
}

/* ---- directory entries ----------------------------------------------------------------- */

#define MAX_DIM ((uint64_t)1 << 48)

static void vrange(unsigned v, int64_t *lo, int64_t *hi)
{
    unsigned bits = 8u << ((v - 1u) >> 1);
    *lo = (v & 1u) ? -((int64_t)1 << (bits - 1)) : 0;
    *hi = ((int64_t)1 << (bits - (v & 1u))) - 1;
}

static rd rd_at(const spk_pkg *p, size_t pos)
{
    rd r;
    r.b = p->buf;
    r.pos = pos;
    r.end = p->dir_end;
    r.err = 0;
    return r;
}

/* dtype code v (checked: 1 .. 6) and t's shape (t->ndim <= SPK_MAX_NDIM dims <= 2^48): t's
 * dtype, itemsize; returns numel (saturated at 2^31 + 1); *tot: running output bytes. */
static uint64_t shape_size(rd *r, spk_tensor *t, uint32_t v, uint64_t *tot)
{
    uint64_t x, n1 = 1; /* product of the dims with zeros read as 1 */
    uint32_t k, sz, zero = 0;
    if (v - 1u > 5u)
        v = 1, fail(r, SPK_E_CORRUPT);
    t->dtype = (uint8_t)v;
    t->itemsize = (uint8_t)(sz = 1u << ((v - 1u) >> 1));
    for (k = 0; k < t->ndim; k++) {
        x = t->shape[k];
        zero |= !x;
        if (x > SPK_MAX_OUTPUT)
            x = (uint64_t)SPK_MAX_OUTPUT + 1u;
        n1 *= x ? x : 1u; /* <= (2^31 + 1)^2: no overflow */
        if (n1 > SPK_MAX_OUTPUT)
            n1 = (uint64_t)SPK_MAX_OUTPUT + 1u;
    }
    x = zero ? 0 : n1; /* numel */
    /* E7 (all tensors' output) and E7b (an empty shape, zero dims read as 1, fits it too) */
    if ((*tot += x * sz) > SPK_MAX_OUTPUT || n1 * sz > SPK_MAX_OUTPUT)
        fail(r, SPK_E_LIMIT);
    t->numel = (uint32_t)x;
    return x;
}

/* dtype code v, ndim and dims as varints (v1-v3): shape_size */
static uint64_t shape_read(rd *r, spk_tensor *t, uint32_t v, uint64_t *tot)
{
    uint32_t k;
    t->ndim = (uint8_t)var(r, SPK_MAX_NDIM);
    for (k = 0; k < t->ndim; k++)
        t->shape[k] = var(r, MAX_DIM);
    return shape_size(r, t, v, tot);
}

/* K (v2 group codes 1, 2): max(1, dims[1] * ... * dims[ndim-1]), max(1, numel) below 2-D;
 * saturated above 2^31 (shape_size's E7b check has failed then; it also covers E8's
 * K <= 2^48 for code 1) */
static uint64_t kern_of(const spk_tensor *t, uint64_t numel)
{
    uint64_t kern = 1, x;
    uint32_t k;
    for (k = 1; k < t->ndim; k++) {
        x = t->shape[k];
        kern *= x > SPK_MAX_OUTPUT ? (uint64_t)SPK_MAX_OUTPUT + 1u : x;
        if (kern > SPK_MAX_OUTPUT)
            kern = (uint64_t)SPK_MAX_OUTPUT + 1u;
    }
    if (t->ndim < 2)
        kern = numel;
    return kern ? kern : 1u;
}

/* svarint value offset within t's dtype range */
static void voff_read(rd *r, spk_tensor *t)
{
    int64_t lo, hi, vo;
    uint64_t x = var(r, ~(uint64_t)0);
    vrange(t->dtype, &lo, &hi);
    vo = (x >> 1) > 0xffffffffu ? hi + 1 : (int64_t)(x >> 1);
    if (x & 1u)
        vo = -vo - 1;
    if (vo < lo || vo > hi)
        fail(r, SPK_E_CORRUPT);
    t->value_offset = vo;
}

/* The rest of an entry, every version (t has block, metadata and v3 mirror-mode lengths,
 * group-table widths): group size x (>= 1), derived sizes and their checks (FORMAT.md §7; v3:
 * the payload after the mirror modes, §23). */
/* t's group_size and n_groups for group size x >= 1 (every version) */
static void groups_of(spk_tensor *t, uint64_t numel, uint64_t x)
{
    t->group_size = (uint32_t)(x < numel ? x : numel);
    /* n_groups = ceil(numel / x) with a 32-bit division (numel <= 2^31; no 64-bit divide) */
    t->n_groups = x >= numel ? numel != 0 : (t->group_size + (uint32_t)numel - 1u) / t->group_size;
}

static int entry_end(const spk_pkg *p, spk_tensor *t, const rd *r, uint64_t numel, uint64_t x)
{
    uint64_t ng, room;
    uint32_t v = t->tid_bits, w = t->len_bits;
    groups_of(t, numel, x);
    ng = t->n_groups;
    t->next = r->pos;
    if (r->err)
        return r->err;
    room = t->block_len - t->meta_len - t->mirror_len; /* group table + payload (X3: >= 0) */
    ng = (ng * (v + w) + 7u) >> 3;
    if (v > 12 || w > 56 || (t->n_groups && (!p->ntables || !w)) || ng > room ||
        t->n_groups > (room - ng) * 8u || (!t->n_groups && room != ng))
        return SPK_E_CORRUPT; /* the last: an empty tensor with payload bytes */
    t->pay_len = (size_t)(room - ng);
    t->pay_off = t->block_off + t->block_len - t->pay_len;
    return 0;
}

/* v1: parse the entry at t->next (t holds the previous entry, or name_len 0 for the first)
 * into t (codec.format._read_entries). */
static int entry_read1(const spk_pkg *p, spk_tensor *t, char *name, size_t cap, uint64_t *tot)
{
    rd r = rd_at(p, t->next);
    uint32_t shared, tail, v, k;
    uint64_t x, x2, numel, blen;
    shared = (uint32_t)var(&r, t->name_len);
    tail = (uint32_t)var(&r, SPK_MAX_NAME - shared);
    if (r.end - r.pos < tail)
        return SPK_E_TRUNCATED;
    for (k = 0; k < tail; k++, r.pos++)
        if (name && shared + k < cap)
            name[shared + k] = (char)r.b[r.pos];
    t->name_len = shared + tail;
    numel = shape_read(&r, t, u8(&r), tot);
    t->group_mode = (uint8_t)(v = u8(&r));
    if (v > 2)
        fail(&r, SPK_E_CORRUPT);
    x = var(&r, MAX_DIM);
    if (!x)
        x = 1, fail(&r, SPK_E_CORRUPT);
    voff_read(&r, t);
    x2 = var(&r, ~(uint64_t)0);
    blen = var(&r, ~(uint64_t)0);
    if (x2 < 8 || blen > p->dir_off || x2 > p->dir_off - blen)
        x2 = 8, blen = 0, fail(&r, SPK_E_CORRUPT);
    t->block_off = (size_t)x2;
    t->block_len = (size_t)blen;
    t->crc32 = 0;
    for (k = 0; k < 32; k += 8)
        t->crc32 |= u8(&r) << k;
    t->meta_len = (size_t)var(&r, blen);
    t->mirror_period = t->mirror_skip = 0;
    t->mirror_len = 0;
    t->pred_mode = -1;
    t->pred_shift = 0;
    t->tid_base = (uint32_t)var(&r, p->ntables ? p->ntables - 1u : 0);
    t->tid_bits = (uint8_t)u8(&r);
    t->len_bits = (uint8_t)u8(&r);
    return entry_end(p, t, &r, numel, x);
}

/* v2 token `id` (< p->ntokens, the dictionary checked by spk_open): its length (0 if the
 * dictionary is not where p says), *off its first byte.  Walks the dictionary from the
 * nearest token whose offset is known before it: p's cached ones (every 2^tok_shift-th), or
 * the last one t looked up (the writer numbers tokens in order of first use, so a name's new
 * tokens are the next ones). */
static SIZE_NOINLINE uint32_t tok_at(const spk_pkg *p, spk_tensor *t, uint32_t id, size_t *off)
{
    uint32_t i = id >> p->tok_shift, n;
    rd r = rd_at(p, p->tok_off + p->tokc[i]);
    i <<= p->tok_shift;
    size_t at;
    if (id >= t->tk_id && t->tk_id > i && t->tk_off)
        i = t->tk_id, r.pos = t->tk_off;
    for (;; i++) {
        at = r.pos;
        if (r.pos < r.end && r.b[r.pos] < 0x80u) /* (a length below 128: one byte) */
            n = r.b[r.pos++];
        else
            n = (uint32_t)var(&r, SPK_MAX_NAME);
        if (r.err || n > r.end - r.pos)
            return 0;
        if (i == id)
            break;
        r.pos += n;
    }
    t->tk_id = id;
    t->tk_off = at;
    *off = r.pos;
    return n;
}

/* v2: the w <= 32 bits at *bp (then advanced) in the directory; past its end, 2^40 (fails
 * every check of its caller) and *err = SPK_E_TRUNCATED. */
static SIZE_NOINLINE uint64_t nbits(const spk_pkg *p, uint64_t *bp, unsigned w, int *err)
{
    uint64_t v = (uint64_t)1 << 40;
    if ((uint64_t)p->dir_end * 8u - *bp < w)
        *err = SPK_E_TRUNCATED;
    else
        v = bits_at(p->buf, *bp, w), *bp += w;
    return v;
}

/* v2 name record at bit t->name_bit (FORMAT.md §17.1: N4, N5, E2), t holding the previous
 * name's token ends.  name: as entry_read1.  If q != NULL (spk_find), *m = the length of the
 * common prefix of this name and q[0:qn], given *m for the previous name. */
static int name2_read(const spk_pkg *p, spk_tensor *t, char *name, size_t cap, const char *q,
                      size_t qn, size_t *m)
{
    const uint8_t *b = p->buf;
    uint64_t bp = t->name_bit, sh, fr, k, id;
    uint32_t len, tl, j, c;
    size_t off;
    int err = SPK_E_CORRUPT, match = 0;
    sh = nbits(p, &bp, p->count_bits, &err);
    if (sh > t->ntok)
        return err; /* shares more tokens than the previous name has (or truncated) */
    fr = nbits(p, &bp, p->count_bits, &err);
    len = sh ? t->tok_end[sh - 1u] + 1u : 0u;
    if (q && len <= *m)
        match = 1, *m = len;
    for (k = 0; k < fr; k++) { /* ends by E2 (tokens are non-empty) even when id_bits = 0 */
        id = nbits(p, &bp, p->id_bits, &err);
        if (id >= p->ntokens || !(tl = tok_at(p, t, (uint32_t)id, &off)))
            return err;
        if (tl > SPK_MAX_NAME - len || sh + k >= SPK_MAX_NAME_TOKENS)
            return SPK_E_LIMIT; /* name too long; more tokens than this build keeps */
        for (j = 0; j < tl; j++, len++) {
            c = b[off + j];
            if (name && len < cap)
                name[len] = (char)c;
            if (match && (len >= qn || c != (uint8_t)q[len]))
                match = 0, *m = len;
        }
        if (match)
            *m = len;
        t->tok_end[sh + k] = (uint16_t)(len - 1u);
    }
    t->ntok = (uint16_t)(sh + fr);
    t->name_len = len;
    t->name_bit = bp;
    return 0;
}

/* v2 / v3 entry at t->next (FORMAT.md §18: E4-E16; v3 §24: X1-X3); its block follows the
 * previous one. */
static int entry_read2(const spk_pkg *p, spk_tensor *t, uint64_t *tot)
{
    rd r = rd_at(p, t->next);
    uint32_t f = u8(&r), gc = (f >> 3) & 3u, k;
    uint64_t numel, kern, x, blen, z = 0, maxt = p->ntables ? p->ntables - 1u : 0;
    size_t off = t->block_off + t->block_len;
    numel = shape_read(&r, t, f & 7u, tot);
    if ((f & 0x80u) && !V3(p))
        fail(&r, SPK_E_CORRUPT); /* v2: reserved flag bit (after the dtype check, as codec) */
    kern = kern_of(t, numel);
    x = numel ? numel : 1; /* group code 3: the whole tensor */
    if (gc == 1)
        x = kern;
    else if (gc != 3) {
        x = var(&r, MAX_DIM); /* 0: group size; 2: kernels per group */
        if (!x || (gc == 2 && x > MAX_DIM / kern))
            x = 1, fail(&r, SPK_E_CORRUPT);
        if (gc == 2)
            x *= kern;
    }
    t->group_mode = (uint8_t)(gc == 3 ? 0 : gc); /* 3 (one group) reads as count */
    t->value_offset = 0;
    if (f & 0x20u)
        voff_read(&r, t);
    blen = var(&r, ~(uint64_t)0);
    if (blen > p->dir_off - off)
        blen = 0, fail(&r, SPK_E_CORRUPT);
    t->block_off = off;
    t->block_len = (size_t)blen;
    t->meta_len = f & 0x40u ? (size_t)var(&r, blen) : 0;
    t->mirror_period = t->mirror_skip = 0;
    t->mirror_len = 0;
    t->pred_mode = -1;
    t->pred_shift = 0;
    if (V3(p) && (f & 0x80u)) {
        /* v3 mirror (§24): X1 numel > 0, 2 <= P <= 2^48, P divides numel (numel <= 2^31 + 1
         * here, so P fits 32 bits when it is <= numel: a 32-bit remainder); X2 a <= P - 2 (the
         * varint's bound); X3 meta_length + mirror_bytes <= block_length */
        uint64_t per = var(&r, MAX_DIM), mb;
        if (per < 2 || per > numel || (uint32_t)numel % (uint32_t)per)
            per = 2, fail(&r, SPK_E_CORRUPT);
        t->mirror_period = (uint32_t)per;
        t->mirror_skip = (uint32_t)var(&r, per - 2u);
        mb = ((uint32_t)numel / (uint32_t)per + 3u) >> 2; /* mirror_bytes: ceil(n_rows / 4) */
        if (mb > blen - t->meta_len)
            mb = 0, fail(&r, SPK_E_CORRUPT);
        t->mirror_len = (size_t)mb;
    }
    t->crc32 = 0;
    t->tid_bits = t->len_bits = 0;
    if (numel) {
        z = var(&r, ~(uint64_t)0); /* zigzag delta; below 0 wraps to above maxt */
        z = z & 1u ? (uint64_t)t->tid_prev - (z >> 1) - 1u : t->tid_prev + (z >> 1);
        if (z > maxt)
            fail(&r, SPK_E_CORRUPT);
        t->tid_prev = (uint32_t)z;
        k = (uint32_t)var(&r, 12u * 64u + 56u); /* widths */
        t->tid_bits = (uint8_t)(k >> 6);
        t->len_bits = (uint8_t)(k & 63u);
        if ((k & 63u) > 56)
            fail(&r, SPK_E_CORRUPT);
    }
    t->tid_base = (uint32_t)z;
    return entry_end(p, t, &r, numel, x);
}

/* v4: a shape's fields at b (2 * ndim + zero, dims) into t (E5, E6) */
static void shape4(brd *b, spk_tensor *t)
{
    uint64_t x = egol(b, 0);
    uint32_t k, zero, any0 = 0;
    if ((x >> 1) > SPK_MAX_NDIM)
        x = 0, fail(&b->r, SPK_E_CORRUPT);
    t->ndim = (uint8_t)(x >> 1);
    zero = (uint32_t)(x & 1u);
    for (k = 0; k < t->ndim; k++) {
        x = egol(b, 0) + 1u - zero;
        if (x > MAX_DIM)
            x = 1, fail(&b->r, SPK_E_CORRUPT);
        t->shape[k] = x;
        any0 |= !x;
    }
    if (zero && !any0)
        fail(&b->r, SPK_E_CORRUPT); /* flagged empty without a zero dim */
}

/* v4 - v7 entry record at bit t->next * 8 + t->next_bit (FORMAT.md §28, the checks of §30; v5:
 * §32's has_pred and pred_mode after the mirror fields; v6: §34's pred_shift after them; v7:
 * §36's has_floor, floor_k and the row floors after those, R1 and R2); t holds the previous
 * record's entry (iter_reset: int8, shape ()), whose dtype and shape an entry may repeat; its
 * block follows the previous one.  A tensor of one group has no group table (tid_bits =
 * len_bits = 0): its group is the payload's first pay_len * 8 - glen_pad bits. */
static int entry_read4(const spk_pkg *p, spk_tensor *t, uint64_t *tot)
{
    brd b;
    uint64_t numel, kern, x, gs, mlen, mb = 0, pay = 0;
    uint64_t pred, blen;
    int64_t s, lo, hi;
    uint32_t v = t->dtype, k;
    size_t off = t->block_off + t->block_len;
    b.r = rd_at(p, 0);
    b.bp = (uint64_t)t->next * 8u + t->next_bit;
    if (!ubits(&b, 1))
        v = (uint32_t)ubits(&b, 3); /* a new dtype (checked by shape_size) */
    if (!ubits(&b, 1)) {            /* a new shape */
#if SPK_FORMAT_VERSION >= 7
        t->shape_bit = b.bp; /* (v7: the record after an alias may repeat it) */
#endif
        shape4(&b, t);
    }
    numel = shape_size(&b.r, t, v, tot);
    kern = kern_of(t, numel);
    k = (uint32_t)ubits(&b, 2); /* group code (as v2) */
    t->group_mode = (uint8_t)(k == 3 ? 0 : k);
    gs = numel ? numel : 1;
    if (k == 1) {
        gs = kern;
    } else if (k != 3) {
        x = egol(&b, 0) + 1u; /* 0: group size; 2: kernels per group */
        if (x > MAX_DIM || (k == 2 && x > MAX_DIM / kern))
            x = 1, fail(&b.r, SPK_E_CORRUPT);
        gs = k == 2 ? x * kern : x;
    }
    t->value_offset = 0;
    if (ubits(&b, 1)) {
        s = segol(&b, p->voff_k);
        vrange(t->dtype, &lo, &hi);
        if (s < lo || s > hi)
            fail(&b.r, SPK_E_CORRUPT);
        else
            t->value_offset = s;
    }
    mlen = ubits(&b, 1) ? egol(&b, 0) + 1u : 0; /* < 2^57 + 1 */
    t->mirror_period = t->mirror_skip = 0;
    if (ubits(&b, 1)) {
        /* X1: numel > 0, P >= 2 divides numel (<= 2^31 + 1 here: 32-bit remainder); X2 */
        x = egol(&b, 0) + 2u;
        if (x > numel || (uint32_t)numel % (uint32_t)x)
            x = 2, fail(&b.r, SPK_E_CORRUPT);
        t->mirror_period = (uint32_t)x;
        x = egol(&b, 0);
        if (x > t->mirror_period - 2u)
            fail(&b.r, SPK_E_CORRUPT);
        t->mirror_skip = (uint32_t)(x & 0xffffffffu);
        mb = ((uint32_t)numel / t->mirror_period + 3u) >> 2; /* mirror_bytes */
    }
    t->pred_mode = -1;
    t->pred_shift = 0;
    /* v5 (§32): has_pred (and pred_mode) only if eligible: numel > 0, ndim >= 2, H * W >= 2
     * (no dim is 0 when numel > 0, so: H > 1 or W > 1; no product that could overflow) and no
     * mirror.  Every mode is valid. */
    if (V5(p) && numel && t->ndim >= 2 && !t->mirror_period &&
        (t->shape[t->ndim - 2u] > 1u || t->shape[t->ndim - 1u] > 1u) && ubits(&b, 1)) {
        t->pred_mode = (int8_t)ubits(&b, 3);
        /* v6 (§34): pred_shift, EG(0): the images in dims h = ndim - 2 - pred_shift and h + 1;
         * corrupt if > ndim - 2 (checked first: h indexes shape) or if shape[h] * shape[h + 1]
         * is 1 (no dim is 0 here: both are 1).  0 after an error in b. */
        if (V6(p)) {
            x = egol(&b, 0);
            if (x > t->ndim - 2u ||
                (t->shape[t->ndim - 2u - x] < 2u && t->shape[t->ndim - 1u - x] < 2u))
                x = 0, fail(&b.r, SPK_E_CORRUPT);
            t->pred_shift = (uint8_t)x;
        }
    }
#if SPK_FORMAT_VERSION >= 7
    /* v7 (§36): has_floor only if floors_on and floor-eligible: numel > 0, a signed dtype (odd
     * code), value offset 0, no mirror, no prediction; then floor_k <= 30 (R1) and R floors of
     * at most vmax - 1 each (R2), R = shape[0] (ndim >= 2; <= numel then) or 1.  The loop ends
     * at the first error (a failed E7 leaves a huge shape[0]). */
    t->floor_bit = 0;
    t->floor_k = 0;
    if (V7(p) && p->floors_on && numel && (t->dtype & 1u) && !t->value_offset &&
        !t->mirror_period && t->pred_mode < 0 && ubits(&b, 1)) {
        k = (uint32_t)ubits(&b, 5);
        if (k > 30)
            k = 0, fail(&b.r, SPK_E_CORRUPT);
        t->floor_k = (uint8_t)k;
        t->floor_bit = b.bp;
        vrange(t->dtype, &lo, &hi);
        for (x = t->ndim >= 2 ? t->shape[0] : 1u; x && !b.r.err; x--)
            if (egol(&b, k) > (uint64_t)(hi - 1))
                fail(&b.r, SPK_E_CORRUPT);
    }
#endif
    groups_of(t, numel, gs);
    t->tid_base = 0;
    t->tid_bits = t->len_bits = t->glen_pad = 0;
    blen = mlen + mb;
    if (numel) {
        if (!p->ntables)
            fail(&b.r, SPK_E_CORRUPT);
        x = ubits(&b, p->tid_w);
        if (x >= p->ntables)
            x = 0, fail(&b.r, SPK_E_CORRUPT);
        t->tid_base = (uint32_t)x;
        pred = (numel * p->rate) >> 6; /* < 2^44 */
        if (t->n_groups == 1) {        /* the group's bits; no group table */
            s = (int64_t)pred + segol(&b, p->len_k);
            if (s < 1)
                s = 1, fail(&b.r, SPK_E_CORRUPT);
            pay = ((uint64_t)s + 7u) >> 3;
            t->glen_pad = (uint8_t)(pay * 8u - (uint64_t)s);
        } else { /* group table widths, payload bytes */
            x = egol(&b, 0);
            t->len_bits = (uint8_t)(k = (uint32_t)ubits(&b, 6));
            if (x > 12 || k < 1 || k > 56)
                x = 0, fail(&b.r, SPK_E_CORRUPT);
            t->tid_bits = (uint8_t)x;
            s = (int64_t)((pred + 7u) >> 3) + segol(&b, p->len_k > 3 ? p->len_k - 3u : 0u);
            if (s < 0 || t->n_groups > (uint64_t)s * 8u)
                s = 0, fail(&b.r, SPK_E_CORRUPT);
            pay = (uint64_t)s;
            blen += ((uint64_t)t->n_groups * (t->tid_bits + t->len_bits) + 7u) >> 3;
        }
        blen += pay; /* < 2^59 */
    }
    t->next = (size_t)(b.bp >> 3);
    t->next_bit = (uint8_t)(b.bp & 7u);
    t->crc32 = 0;
    if (b.r.err)
        return b.r.err;
    if (blen > p->dir_off - off)
        return SPK_E_CORRUPT;
    t->block_off = off;
    t->block_len = (size_t)blen;
    t->meta_len = (size_t)mlen;
    t->mirror_len = (size_t)mb;
    t->pay_len = (size_t)pay;
    t->pay_off = off + t->block_len - t->pay_len;
    return 0;
}

#if SPK_FORMAT_VERSION >= 7
/* v7 (§36): the alias record at a->bit, after the alias a->at (~0 before the first): a->at
 * becomes its tensor i = a->at + 1 + gap (A2: < ntensors), a->to its target i - back (A3:
 * back <= i; that the target is no alias is spk_open's check); a->at = ~0 when no record is
 * left (a->bit at p->rec_bit, the first entry record).  Errors: the field's (SPK_E_TRUNCATED
 * past the directory), else SPK_E_CORRUPT. */
static int alias_rec(const spk_pkg *p, spk_alias_cur *a)
{
    brd b;
    uint64_t i, back;
    if (a->bit >= p->rec_bit) {
        a->at = ~0u;
        return 0;
    }
    b.r = rd_at(p, 0);
    b.bp = a->bit;
    i = (uint64_t)(uint32_t)(a->at + 1u) + egol(&b, 0); /* (~0 + 1: the first, i = gap) */
    if (!b.r.err && i >= p->ntensors)
        return SPK_E_CORRUPT; /* A2 */
    back = egol(&b, 0) + 1u;
    if (b.r.err)
        return b.r.err;
    if (back > i)
        return SPK_E_CORRUPT; /* A3 */
    a->bit = b.bp;
    a->at = (uint32_t)i;
    a->to = (uint32_t)(i - back);
    return 0;
}
#endif

#if SPK_FORMAT_VERSION >= 7
/* v7: a cursor before the first alias record (alias_rec: the first read) */
static NOINLINE void alias_start(const spk_pkg *p, spk_alias_cur *a)
{
    a->bit = (uint64_t)p->ent_off * 8u;
    a->at = ~0u;
    (void)alias_rec(p, a); /* (spk_open has read every record) */
}
#endif

/* t before the first entry record (v7: the alias records apart; out of line: entry_walk
 * calls it too) */
#if SPK_FORMAT_VERSION >= 7
static NOINLINE void rec_reset(const spk_pkg *p, spk_tensor *t)
#else
static void rec_reset(const spk_pkg *p, spk_tensor *t)
#endif
{
    t->next = p->ent_off;
    t->next_bit = 0;
    t->block_off = 8;
    t->block_len = 0;
    t->dtype = SPK_INT8; /* v4: the "previous" dtype and shape of the first entry */
    t->ndim = 0;
#if SPK_FORMAT_VERSION >= 7
    if (V7(p)) {
        t->next = (size_t)(p->rec_bit >> 3);
        t->next_bit = (uint8_t)(p->rec_bit & 7u);
        t->shape_bit = 0;
    }
#endif
}

/* Start iterating: t before the first entry. */
static NOINLINE void iter_reset(const spk_pkg *p, spk_tensor *t)
{
    t->index = ~0u;
    t->name_len = 0;
    t->name_bit = p->name_bit;
    t->ntok = 0;
    t->tid_prev = 0;
    t->tk_id = 0;
    t->tk_off = 0;
    t->alias = -1;
    t->floor_bit = 0;
    t->floor_k = 0;
    rec_reset(p, t);
#if SPK_FORMAT_VERSION >= 7
    if (V7(p))
        alias_start(p, &t->al);
#endif
}

#if SPK_FORMAT_VERSION >= 7
/* v7: t := the entry of tensor j (the record of a tensor that is no alias: spk_open checked),
 * read by walking the records from the first, the aliases before j skipped (a cursor of its
 * own); t's record cursor and last shape are kept (entry_read7 keeps the rest).  O(j): an
 * alias costs a walk over the entries up to its target. */
static NOINLINE int entry_walk(const spk_pkg *p, spk_tensor *t, uint32_t j)
{
    const size_t next = t->next;
    const uint8_t next_bit = t->next_bit;
    const uint64_t shape_bit = t->shape_bit;
    spk_alias_cur a;
    uint64_t tot = 0;
    uint32_t i;
    int rc = 0;
    rec_reset(p, t);
    alias_start(p, &a);
    for (i = 0; i <= j && rc >= 0; i++)
        rc = i != a.at ? entry_read4(p, t, &tot) : i == j ? SPK_E_CORRUPT : alias_rec(p, &a);
    t->next = next;
    t->next_bit = next_bit;
    t->shape_bit = shape_bit;
    return rc;
}

/* v7: the entry of tensor t->index + 1.  An alias (the one t->al has ahead): its target's
 * entry (entry_walk; with resolve = 0 only t->alias is set: spk_tensor_at's tensors before
 * the one it returns) and E7 (its values count towards the output like any tensor's).
 * Otherwise the next record, whose "previous" dtype, shape and block end are the last
 * record's (after an alias: saved in it_dtype, shape_bit, it_end), not an alias target's. */
static int entry_read7(const spk_pkg *p, spk_tensor *t, uint64_t *tot, int resolve)
{
    const uint32_t j = t->al.to;
    brd b;
    if (t->index + 1u == t->al.at) {
        if (t->alias < 0) { /* t holds the last record's entry */
            t->it_dtype = t->dtype;
            t->it_end = t->block_off + t->block_len;
        }
        E_(alias_rec(p, &t->al));
        if (resolve) {
            E_(entry_walk(p, t, j));
            if ((*tot += (uint64_t)t->numel * t->itemsize) > SPK_MAX_OUTPUT)
                return SPK_E_LIMIT;
        }
        t->alias = (int32_t)j;
        return 0;
    }
    if (t->alias >= 0) { /* after an alias */
        t->dtype = t->it_dtype;
        t->ndim = 0;
        if (t->shape_bit) {
            b.r = rd_at(p, 0);
            b.bp = t->shape_bit;
            shape4(&b, t);
        }
        t->block_off = t->it_end;
        t->block_len = 0;
        t->alias = -1;
    }
    return entry_read4(p, t, tot);
}
#endif

static int entry_read(const spk_pkg *p, spk_tensor *t, char *name, size_t cap, uint64_t *tot,
                      int resolve)
{
    (void)resolve;
    if (V2(p)) {
        E_(name2_read(p, t, name, cap, NULL, 0, NULL));
#if SPK_FORMAT_VERSION >= 7
        if (V7(p))
            return entry_read7(p, t, tot, resolve);
#endif
        return V4(p) ? entry_read4(p, t, tot) : entry_read2(p, t, tot);
    }
    return entry_read1(p, t, name, cap, tot);
}

int spk_tensor_next(const spk_pkg *p, spk_tensor *t, char *name, size_t cap)
{
    if (t->index + 1u >= p->ntensors)
        return 0;
    uint64_t tot = 0;
    E_(entry_read(p, t, name, cap, &tot, 1));
    t->index++;
    return 1;
}

int spk_tensor_at(const spk_pkg *p, uint32_t index, spk_tensor *t, char *name, size_t cap)
{
    uint64_t tot = 0;
    if (index >= p->ntensors)
        return SPK_E_ARG;
    iter_reset(p, t);
    do
        E_(entry_read(p, t, name, cap, &tot, t->index + 1u == index));
    while (++t->index < index);
    return 0;
}

int32_t spk_find(const spk_pkg *p, const char *name, size_t nlen)
{
    size_t m = 0; /* common prefix length of the previous entry's name and `name` */
    uint32_t i, shared, tail;
    uint64_t tot = 0;
    spk_tensor t;
    rd r;
    iter_reset(p, &t);
    for (i = 0; i < p->ntensors; i++) {
        if (V2(p)) { /* the name records alone (entries are elsewhere) */
            E_(name2_read(p, &t, NULL, 0, name, nlen, &m));
        } else {
            r = rd_at(p, t.next);
            shared = (uint32_t)var(&r, ~(uint64_t)0);
            tail = (uint32_t)var(&r, ~(uint64_t)0);
            E_(entry_read1(p, &t, NULL, 0, &tot)); /* validates shared, tail */
            if (shared <= m) { /* else the name differs from `name` at m, like the previous one */
                size_t k = 0;
                while (k < tail && shared + k < nlen && r.b[r.pos + k] == (uint8_t)name[shared + k])
                    k++;
                m = shared + k;
            }
        }
        if (m == nlen && t.name_len == nlen)
            return (int32_t)i;
    }
    return SPK_E_ARG;
}

/* ---- package --------------------------------------------------------------------------- */

/* v2: token dictionary and name records (N1-N5, E2, E2b), then p->ent_off */
static int names2_open(spk_pkg *p, rd *r, spk_tensor *t)
{
    uint32_t i, n;
    uint64_t total = 0;
    p->ntokens = (uint32_t)var(r, SPK_MAX_NAMES);
    p->tok_off = r->pos;
    while (((p->ntokens - 1u) >> p->tok_shift) >= SPK_TOKEN_CACHE)
        p->tok_shift++; /* the smallest power-of-two stride whose offsets fit the cache */
    for (i = 0; i < p->ntokens && !r->err; i++) {
        if (!(i & ((1u << p->tok_shift) - 1u))) {
            if (r->pos - p->tok_off > 0xffffffffu)
                return SPK_E_LIMIT; /* (a dictionary of 4 GiB) */
            p->tokc[i >> p->tok_shift] = (uint32_t)(r->pos - p->tok_off);
        }
        n = (uint32_t)var(r, SPK_MAX_NAME);
        if (!n)
            fail(r, SPK_E_CORRUPT); /* empty token */
        else if (r->end - r->pos < n)
            fail(r, SPK_E_TRUNCATED);
        else
            r->pos += n;
    }
    p->count_bits = (uint8_t)(n = u8(r));
    if (n > 32)
        fail(r, SPK_E_CORRUPT);
    if (r->err)
        return r->err;
    for (n = p->ntokens - 1u; p->ntokens > 1 && n; n >>= 1)
        p->id_bits++;
    p->name_bit = (uint64_t)r->pos * 8u;
    iter_reset(p, t);
    for (i = 0; i < p->ntensors; i++) {
        E_(name2_read(p, t, NULL, 0, NULL, 0, NULL));
        if ((total += t->name_len) > SPK_MAX_NAMES)
            return SPK_E_LIMIT;
    }
    p->ent_off = (size_t)((t->name_bit + 7u) >> 3);
    return 0;
}

int spk_open(spk_pkg *p, const uint8_t *buf, size_t len)
{
    rd r = {0};
    uint64_t off, dlen, tot = 0, names = 0, n;
    uint32_t i, syms = 0, al = 0;
    spk_tensor t;
    brd b;
    memset(p, 0, sizeof *p);
    if (!buf || len < 8)
        return SPK_E_TRUNCATED;
    if (le(buf, 4) != 0x474b5053u || !VERSION_OK(buf[4]) || buf[5]) /* "SPKG", 1-7, flags 0 */
        return SPK_E_UNSUPPORTED;
    if (buf[6] || buf[7])
        return SPK_E_CORRUPT;
    p->version = buf[4];
    n = V4(p) ? 12u : 24u; /* footer */
    if (len < 8u + n || le(buf + len - 4, 4) != 0x53504b47u) /* "GKPS" */
        return SPK_E_TRUNCATED;
    p->dir_end = len - (size_t)n;
    if (V4(p)) { /* dir_len u32, crc, magic: the directory ends at the footer */
        dlen = le(buf + p->dir_end, 4);
        off = (uint64_t)p->dir_end - dlen; /* (wraps if dlen > dir_end: rejected below) */
    } else {
        off = le(buf + p->dir_end, 8);
        dlen = le(buf + p->dir_end + 8, 8);
    }
    if (off < 8 || dlen > p->dir_end || off != p->dir_end - dlen)
        return SPK_E_CORRUPT;
    p->buf = buf;
    p->len = len;
    p->dir_off = (size_t)off;
    p->dir_crc = (uint32_t)le(buf + len - 8, 4);
    if (spk_crc32(spk_crc32(0, buf, 8), buf + off, (size_t)dlen) != p->dir_crc && !NO_CRC)
        return SPK_E_CHECKSUM;
    r = rd_at(p, p->dir_off);
    n = var(&r, ~(uint64_t)0);
    if (n > SPK_MAX_TABLES) /* T1, T1v4 */
        return SPK_E_LIMIT;
    p->ntables = (uint32_t)n;
    p->tab_off = r.pos;
    b.r = r;
    b.bp = (uint64_t)r.pos * 8u;
    for (i = 0; i < p->ntables && !b.r.err; i++)
        E_(tab_read(p, &b, &al, i, NULL, &syms));
    r = b.r;
    if (V4(p)) /* the pool's padding */
        r.pos = (size_t)((b.bp + 7u) >> 3);
    p->ntensors = (uint32_t)var(&r, SPK_MAX_TENSORS);
    if (r.err)
        return r.err;
    p->ent_off = r.pos;
    if (V2(p))
        E_(names2_open(p, &r, &t));
    if (V4(p)) { /* V1-V3 of §30: the coding parameters before the entry bit string */
        r.pos = p->ent_off;
        p->len_k = (uint8_t)(i = u8(&r));
        p->voff_k = (uint8_t)(n = u8(&r));
        p->rate = (uint16_t)var(&r, 4096u);
        if (r.err)
            return r.err;
        if (i > 40 || n > 32)
            return SPK_E_CORRUPT;
#if SPK_FORMAT_VERSION >= 7
        if (V7(p)) { /* §36: the v7 varint; A1 n_alias <= max(n_tensors - 1, 0) */
            n = var(&r, ~(uint64_t)0);
            if (r.err)
                return r.err;
            if ((n >> 1) > (p->ntensors ? p->ntensors - 1u : 0u))
                return SPK_E_CORRUPT;
            p->n_alias = (uint32_t)(n >> 1);
            p->floors_on = (uint8_t)(n & 1u);
        }
#endif
        p->ent_off = r.pos;
        for (i = p->ntables - 1u; p->ntables > 1 && i; i >>= 1)
            p->tid_w++;
    }
#if SPK_FORMAT_VERSION >= 7
    if (V7(p)) { /* the alias records (A2, A3), then the entry records: p->rec_bit */
        spk_alias_cur a, c;
        uint32_t k;
        a.bit = (uint64_t)p->ent_off * 8u;
        a.at = ~0u;
        p->rec_bit = ~(uint64_t)0; /* (alias_rec: records left) */
        for (i = 0; i < p->n_alias; i++) {
            E_(alias_rec(p, &a));
            /* A3: the target is not an alias: not one of the i records before (their
             * tensors ascend: up to the first past the target; O(n_alias^2) at most) */
            c.bit = (uint64_t)p->ent_off * 8u;
            c.at = ~0u;
            for (k = 0; k < i; k++) {
                (void)alias_rec(p, &c); /* (read above) */
                if (c.at >= a.to) {
                    if (c.at == a.to)
                        return SPK_E_CORRUPT;
                    break;
                }
            }
        }
        p->rec_bit = a.bit;
    }
#endif
    iter_reset(p, &t);
    for (i = 0; i < p->ntensors; i++, t.index++) {
        if (V2(p)) { /* the entries alone (names_open checked the names) */
#if SPK_FORMAT_VERSION >= 7
            if (V7(p)) {
                E_(entry_read7(p, &t, &tot, 1));
                continue;
            }
#endif
            E_(V4(p) ? entry_read4(p, &t, &tot) : entry_read2(p, &t, &tot));
            continue;
        }
        E_(entry_read1(p, &t, NULL, 0, &tot));
        if ((names += t.name_len) > SPK_MAX_NAMES)
            return SPK_E_LIMIT; /* E2b */
    }
    if (!V2(p))
        return t.next == p->dir_end ? 0 : SPK_E_CORRUPT; /* stray bytes after the entries */
#if SPK_FORMAT_VERSION >= 7 /* (v7: if the last tensor is an alias, the last record's end) */
    if ((t.alias < 0 ? t.block_off + t.block_len : t.it_end) != p->dir_off)
#else
    if (t.block_off + t.block_len != p->dir_off)
#endif
        return SPK_E_CORRUPT; /* D4: the blocks end where the directory starts */
    r.pos = t.next + (t.next_bit != 0); /* v4: after the bit string's padding */
    p->chunk_log2 = (uint8_t)(i = u8(&r));
    if (r.err)
        return r.err;
    if (i < 6 || i > 31)
        return SPK_E_CORRUPT;
    n = ((uint64_t)p->dir_off - 8u + ((uint64_t)1 << i) - 1u) >> i;
    if ((r.end - r.pos) / 4u < n)
        return SPK_E_TRUNCATED;
    if (r.end - r.pos != n * 4u || n > 0xffffffffu)
        return SPK_E_CORRUPT; /* stray bytes after the chunk CRCs */
    p->crc_off = r.pos;
    p->nchunks = (uint32_t)n;
    return 0;
}

static SIZE_NOINLINE void dec_reset(spk_dec *d, const spk_pkg *p)
{
    d->kbuf = p->buf;
    d->kcrc = p->dir_crc;
    d->table = -1;
    d->ncached = 1;
    d->toff[0] = p->tab_off;
#if SPK_FORMAT_VERSION >= 4
    d->tstate[0] = 0;
#endif
    d->stride = (p->ntables + SPK_TABLE_CACHE - 1u) / SPK_TABLE_CACHE;
    if (!d->stride)
        d->stride = 1;
    d->ck_lo = d->ck_hi = 0;
}

/* v1: the block CRC.  v2: the CRC of every chunk the block overlaps (FORMAT.md §19), except
 * those in d's verified range; d (if given) then remembers the verified range. */
static int verify(const spk_pkg *p, const spk_tensor *t, spk_dec *d)
{
    unsigned k = p->chunk_log2;
    uint32_t c, c0, c1;
    size_t lo, hi;
    if (t->block_off > p->dir_off || t->block_len > p->dir_off - t->block_off)
        return SPK_E_ARG;
    if (!V2(p))
        return spk_crc32(0, p->buf + t->block_off, t->block_len) == t->crc32 || NO_CRC
                   ? 0
                   : SPK_E_CHECKSUM;
    if (!t->block_len)
        return 0;
    if (t->block_off < 8)
        return SPK_E_ARG;
    c0 = (uint32_t)((t->block_off - 8u) >> k);
    c1 = (uint32_t)((t->block_off + t->block_len - 9u) >> k); /* < nchunks < 2^32 */
    if (d)
        dec_key(d, p);
    for (c = c0; c <= c1; c++) {
        if (d && c - d->ck_lo < d->ck_hi - d->ck_lo)
            continue; /* verified before */
        lo = 8u + ((size_t)c << k);
        hi = (p->dir_off - lo) >> k ? lo + ((size_t)1 << k) : p->dir_off;
        if (spk_crc32(0, p->buf + lo, hi - lo) != (uint32_t)le(p->buf + p->crc_off + 4u * c, 4) &&
            !NO_CRC)
            return SPK_E_CHECKSUM;
    }
    if (d) { /* one contiguous range: join it to the previous one where they touch */
        if (c0 > d->ck_hi || c1 + 1u < d->ck_lo)
            d->ck_lo = d->ck_hi = c0;
        if (c0 < d->ck_lo)
            d->ck_lo = c0;
        if (c1 + 1u > d->ck_hi)
            d->ck_hi = c1 + 1u;
    }
    return 0;
}

int spk_verify(const spk_pkg *p, const spk_tensor *t)
{
    return verify(p, t, NULL);
}

/* ---- bitstream ------------------------------------------------------------------------- */

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
    uint64_t acc;           /* MSB-first bit accumulator, nb valid bits: bit position
                               byte * 8 - nb of the payload is its top bit */
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

/* Start decoding bits from pos into out[0, n): every value starts as the offset (one
 * store, then doubling copies). */
static void lane_init(lane *L, uint64_t pos, uint8_t *out, uint32_t n)
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
    L->acc = 0;
    L->nb = 0;
    refill(L);
    L->acc <<= pos & 7u;
    L->nb -= (unsigned)(pos & 7u);
}

/* Decode one symbol: 0 = more to come, 1 = end-of-group symbol read (the caller checks that
 * it ends the group exactly at its end), < 0 = error.  No bit-position check per symbol:
 * every other symbol advances i (at most n) or fails, and reads past the block read zeros,
 * so the loop ends; the end is checked once, after it (lane_end). */
HOT int step_ent(lane *L, uint32_t ent, unsigned sz);
HOT int step(lane *L, unsigned sz)
{
    refill(L);
#ifdef SPK_SMALL
    {
        const spk_dec *d = L->d;
        uint32_t peek = (uint32_t)(L->acc >> (64 - MAXLEN)), l, c;
        for (l = 0; l < MAXLEN; l++) {
            c = (peek >> (MAXLEN - 1 - l)) - d->first[l];
            if (c < d->count[l])
                return step_ent(L, sym_entry(d->sym[d->offs[l] + c], d->kref, d->nrun) | (l + 1),
                                sz);
        }
        return SPK_E_DATA; /* invalid code */
    }
#else
    return step_ent(L, L->d->lut[L->acc >> (64 - MAXLEN)], sz);
#endif
}

#if !defined(SPK_SMALL) && !defined(__OPTIMIZE_SIZE__)
/* The symbol after a step, refilling only if fewer than 44 bits (a set's worst case) are
 * left: after a refill (>= 48 bits) and a whole set (<= 12 bits) that is rare on dense
 * weights, so the loop refills about once per two symbols (-O2 only; docs/C_DECODER.md). */
HOT int step2(lane *L, unsigned sz)
{
    if (L->nb < 44)
        refill(L);
    return step_ent(L, L->d->lut[L->acc >> (64 - MAXLEN)], sz);
}
#endif

#if MULTI
/* step, m = 1: with multi-set entries (d->multi == 1): all sets of the entry at once (set 3,
 * then 2, then 1: an absent set writes the zero value where set 1 then writes its own) when
 * every check passes, else the first set alone through step_ent, exactly as step would;
 * m = 0: step (one copy of step_ent for both in -Os builds). */
HOT int step_multi(lane *L, int m, int wide, unsigned sz)
{
    uint32_t ent, x = 0, k;
    refill(L);
    k = (uint32_t)(L->acc >> (64 - MAXLEN));
    if (m) {
        ent = L->d->lut[2u * k];
        x = L->d->lut[2u * k + 1u];
    } else {
        ent = L->d->lut[k];
    }
    if (x) {
        uint64_t span = (uint64_t)(L->hi - L->lo);
        uint32_t j1 = L->i + ((ent >> 4) & 0xfffu), j2 = j1 + (x & 63u);
        uint32_t j3 = j2 + ((x >> 14) & 63u), ln = x >> 28;
        int64_t v1 = L->voff + (int64_t)(ent >> 16) - (int64_t)(WHOLE_BIAS + 32768u);
        int64_t v2 = L->voff + (int64_t)((x >> 6) & 255u) - 128;
        int64_t v3 = L->voff + (int64_t)((x >> 20) & 255u) - 128;
        if (j3 < L->n && (wide || ((uint64_t)(v1 - L->lo) <= span &&
                                   (uint64_t)(v2 - L->lo) <= span &&
                                   (uint64_t)(v3 - L->lo) <= span))) {
            put(L->out, j3, sz, v3);
            put(L->out, j2, sz, v2);
            put(L->out, j1, sz, v1);
            L->i = j3 + 1u;
            L->acc <<= ln;
            L->nb -= ln;
            return 0;
        }
    }
    return step_ent(L, ent, sz);
}
#endif

/* the rest of step, for decode-table entry ent of the bits at the top of L->acc */
HOT int step_ent(lane *L, uint32_t ent, unsigned sz)
{
    uint32_t ln, run, mant, e;
    uint64_t acc = L->acc;
    int64_t v;
    ln = ent & 15u;
    if (WHOLE && (ent & ENT_WHOLE)) { /* code, remainder and sign: ln bits in all */
        run = (ent >> 4) & 0xfffu;
        v = L->voff + (int64_t)(ent >> 16) - (int64_t)(WHOLE_BIAS + 32768u);
    } else {
        if (!ln)
            return SPK_E_DATA; /* invalid code */
        acc <<= ln;
        L->nb -= ln;
        L->acc = acc;
        if (ent & ENT_EOB)
            return 1;
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
    put(L->out, L->i++, sz, v);
    L->acc = acc << ln;
    L->nb -= ln;
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

/* v3: the 2-bit mode of mirror row r (mode string checked to lie in the block: X3) */
#define MIRROR_MODE(p, t, r) \
    (((p)->buf[(t)->block_off + (t)->meta_len + ((r) >> 2)] >> (6u - 2u * ((r) & 3u))) & 3u)

/* v3: undo the mirror transform (FORMAT.md §23) on rows [r0, r1) of t, whose values start at o
 * (row r0's first value): in each row of mode 1 (2), x[b + M - 1 - k] += (-) (x[b + k] - z)
 * for k < h = M / 2, M = P - a, b = the row's start + a, modulo 2^(8 * itemsize).  Values are
 * read as unsigned (their two's complement bits), the sum is formed in uint64_t (modulo 2^64,
 * a multiple of 2^(8 * itemsize)) and narrowed explicitly.  The positions read (< b + h) are
 * never written (>= b + M - h >= b + h), so the order does not matter. */
static void unmirror(const spk_pkg *p, const spk_tensor *t, uint8_t *o, uint32_t r0, uint32_t r1)
{
    const unsigned sz = t->itemsize;
    const uint32_t m = t->mirror_period - t->mirror_skip, h = m >> 1;
    const size_t row = (size_t)t->mirror_period * sz;
    const uint64_t z = (uint64_t)t->value_offset; /* modulo 2^64 */
    uint32_t r, k, mode;
    for (r = r0; r < r1; r++, o += row) {
        uint8_t *lo = o + (size_t)t->mirror_skip * sz, *hi = lo + (size_t)(m - 1u) * sz;
        if (!(mode = MIRROR_MODE(p, t, r)))
            continue;
        for (k = 0; k < h; k++, lo += sz, hi -= sz) {
            uint64_t a, b;
            if (sz == 1) {
                a = lo[0], b = hi[0];
            } else if (sz == 2) {
                uint16_t u, v;
                memcpy(&u, lo, 2), memcpy(&v, hi, 2);
                a = u, b = v;
            } else {
                uint32_t u, v;
                memcpy(&u, lo, 4), memcpy(&v, hi, 4);
                a = u, b = v;
            }
            a -= z;                          /* x[b + k] - z */
            b = mode == 1u ? b + a : b - a;  /* mode 2: the negated mirror */
            if (sz == 1) {
                hi[0] = (uint8_t)(b & 0xffu);
            } else if (sz == 2) {
                uint16_t v = (uint16_t)(b & 0xffffu);
                memcpy(hi, &v, 2);
            } else {
                uint32_t v = (uint32_t)(b & 0xffffffffu);
                memcpy(hi, &v, 4);
            }
        }
    }
}

#if SPK_FORMAT_VERSION >= 5
/* v5, v6 (§32, §34): the image dims of a prediction tensor t: H = shape[h], W = shape[h + 1]
 * (h = ndim - 2 - pred_shift, >= 0: the entry reader checks pred_shift <= ndim - 2) and C =
 * the product of the dims after h + 1 (1 if none; v5: pred_shift 0, C 1); returns H * W * C,
 * an a-slice's values (>= 2).  Every dim is >= 1 (numel > 0, which the entry reader requires
 * of a prediction tensor), so each partial product is <= numel <= 2^31: no overflow. */
static uint32_t pred_dims(const spk_tensor *t, uint32_t *H, uint32_t *W, uint32_t *C)
{
    unsigned h = t->ndim - 2u - t->pred_shift, k;
    uint64_t c = 1;
    for (k = h + 2u; k < t->ndim; k++)
        c *= t->shape[k];
    *H = (uint32_t)t->shape[h];
    *W = (uint32_t)t->shape[h + 1u];
    *C = (uint32_t)c;
    return (uint32_t)(c * t->shape[h] * t->shape[h + 1u]);
}

/* the values of an a-slice (whole images for v5): streamed groups must hold whole ones */
static uint32_t pred_slice(const spk_tensor *t)
{
    uint32_t H, W, C;
    return pred_dims(t, &H, &W, &C);
}

/* v5: value i of o (item size sz) as unsigned bits */
HOT uint64_t getu(const uint8_t *o, size_t i, unsigned sz)
{
    if (sz == 1)
        return o[i];
    if (sz == 2) {
        uint16_t u;
        memcpy(&u, o + 2u * i, 2);
        return u;
    } else {
        uint32_t u;
        memcpy(&u, o + 4u * i, 4);
        return u;
    }
}

/* floor(v / 8): an arithmetic right shift, written without one (>> of a negative value is
 * implementation-defined in C99); compilers emit one shift */
static int64_t fdiv8(int64_t v)
{
    return v >= 0 ? v >> 3 : ~(~v >> 3);
}

/* v5: value p of q := wrap(its residual + pred): biased, xb = (rb + pred) mod 2^bits; returns
 * xb */
static SIZE_NOINLINE int64_t rebuild_at(uint8_t *q, uint32_t p, unsigned sz, uint64_t half,
                                        uint64_t mask, int64_t pred)
{
    uint64_t xb = ((getu(q, p, sz) ^ half) + (uint64_t)pred) & mask;
    put(q, p, sz, (int64_t)(xb ^ half));
    return (int64_t)xb;
}

/* v5 (FORMAT.md §32; codec/kernels/predict.py rebuild): the n values at o (whole images of
 * H * W values: n a multiple of H * W, which the callers ensure: numel, or a group of a
 * tensor whose group_size is a multiple) from residuals to values, in place, image by image,
 * in C order.  The arithmetic is on biased values xb = x + half (half = 2^(bits - 1) for a
 * signed dtype, 0 unsigned: xb in [0, 2^bits), the stored bits xor half), so that
 * x = wrap(r + pred) is xb = (rb + pred) mod 2^bits: one mask, no sign extension.  Every
 * prediction is (m * s + 4) >> 3 (floor): on the first row s = L, on the first column s = U,
 * with m = 2c, for both kinds ((2c * L + 4) >> 3 = (c * L + 2) >> 2, so kind 0's
 * (c * 2L + 4) >> 3 and kind 1's (c * L + 2) >> 2 agree there); inside, kind 0 s = L + U with
 * m = c, kind 1 s = L + U - UL with m = 2c (ku = kind).  In biased values m * s + 4 =
 * m * sb + k, sb the same sum of biased values and k = 4 - m * (bias of s) * half (ke on the
 * edges, ki inside).  |m * sb|, |k| < 2^37: no overflow.  Position (0, 0) has pred 0: its
 * value is its residual.  U and UL are read back from the row above (final), L is kept. */
HOT void unpredict_sz(uint8_t *o, uint32_t n, uint32_t H, uint32_t W, unsigned sz,
                      uint64_t half, int64_t mi, int64_t ku, int64_t me)
{
    const uint64_t mask = (((uint64_t)1 << (8u * sz - 1u)) << 1) - 1u;
    const int64_t ke = 4 - me * (int64_t)half, ki = 4 - mi * (2 - ku) * (int64_t)half;
    uint32_t b, i, j, r;
    int64_t L, U, UL;
#define REBUILD(p, m, sb, k) (L = rebuild_at(q, p, sz, half, mask, fdiv8((m) * (sb) + (k))))
    for (b = 0; b < n; b += H * W) {
        uint8_t *q = o + (size_t)b * sz;
        L = (int64_t)(getu(q, 0, sz) ^ half);
        for (j = 1; j < W; j++) /* row 0 */
            REBUILD(j, me, L, ke);
        for (i = 1, r = W; i < H; i++, r += W) { /* row i: values r ..., row i - 1: r - W ... */
            U = (int64_t)(getu(q, r - W, sz) ^ half);
            REBUILD(r, me, U, ke);
            for (j = 1; j < W; j++) {
                UL = U;
                U = (int64_t)(getu(q, r - W + j, sz) ^ half);
                REBUILD(r + j, mi, L + U - ku * UL, ki);
            }
        }
    }
#undef REBUILD
}

/* v6 (FORMAT.md §34): the n values at o (whole a-slices of S = H * W * C values: n a multiple
 * of S, which the callers ensure as for unpredict_sz), C images interleaved: position (i, j)
 * of image c of a slice is value (i * W + j) * C + c, so within a row of R = W * C values
 * L = p - C, U = p - R, UL = p - R - C.  Each precedes p in C order and is final when read,
 * so one forward pass rebuilds in place; the C values of one (i, j) are independent (the
 * inner runs are over them: contiguous, no chain through a register).  Same biased
 * arithmetic and constants as unpredict_sz (C = 1 is its layout: -Os builds reading v6 use
 * this loop for every C).  Indices: p < S <= n <= 2^31 and b + S <= n (b a multiple of S
 * below n): no uint32 overflow, and p - R - C >= 0 where it is read (p >= R + C). */
HOT void unpredict_csz(uint8_t *o, uint32_t n, uint32_t H, uint32_t W, uint32_t C, unsigned sz,
                       uint64_t half, int64_t mi, int64_t ku, int64_t me)
{
    const uint64_t mask = (((uint64_t)1 << (8u * sz - 1u)) << 1) - 1u;
    const int64_t ke = 4 - me * (int64_t)half, ki = 4 - mi * (2 - ku) * (int64_t)half;
    const uint32_t R = W * C, S = H * R;
    uint32_t b, e, p;
#define XB(k) ((int64_t)(getu(q, k, sz) ^ half))
    for (b = 0; b < n; b += S) {
        uint8_t *q = o + (size_t)b * sz;
        for (p = C; p < R; p++) /* row 0 (p < C: positions (0, 0), their residuals) */
            rebuild_at(q, p, sz, half, mask, fdiv8(me * XB(p - C) + ke));
        for (e = R; e < S; e += R) { /* row e / R: values e .. e + R, the row above e - R .. */
            for (p = e; p < e + C; p++) /* column 0 */
                rebuild_at(q, p, sz, half, mask, fdiv8(me * XB(p - R) + ke));
            for (; p < e + R; p++)
                rebuild_at(q, p, sz, half, mask,
                           fdiv8(mi * (XB(p - C) + XB(p - R) - ku * XB(p - R - C)) + ki));
        }
    }
#undef XB
}

static void unpredict(const spk_tensor *t, uint8_t *o, uint32_t n)
{
    uint32_t H, W, C;
    const unsigned sz = t->itemsize, kind = (unsigned)t->pred_mode >> 2;
    const int64_t c = (t->pred_mode & 3) + 1;
    const uint64_t half = t->dtype & 1u ? (uint64_t)1 << (8u * sz - 1u) : 0u; /* odd: signed */
    (void)pred_dims(t, &H, &W, &C);
#if !defined(__OPTIMIZE_SIZE__) /* speed: one loop per item size (sz constant in it) */
    if (C == 1) { /* v5's layout (pred_shift 0, or only 1s after h + 1): L kept in a register */
        if (sz == 1)
            unpredict_sz(o, n, H, W, 1, half, c << kind, kind, 2 * c);
        else if (sz == 2)
            unpredict_sz(o, n, H, W, 2, half, c << kind, kind, 2 * c);
        else
            unpredict_sz(o, n, H, W, sz, half, c << kind, kind, 2 * c);
    } else if (sz == 1)
        unpredict_csz(o, n, H, W, C, 1, half, c << kind, kind, 2 * c);
    else if (sz == 2)
        unpredict_csz(o, n, H, W, C, 2, half, c << kind, kind, 2 * c);
    else
        unpredict_csz(o, n, H, W, C, sz, half, c << kind, kind, 2 * c);
#elif SPK_FORMAT_VERSION >= 6 /* -Os: one loop for every C */
    unpredict_csz(o, n, H, W, C, sz, half, c << kind, kind, 2 * c);
#else /* -Os, v5 only: C is 1 */
    (void)C;
    unpredict_sz(o, n, H, W, sz, half, c << kind, kind, 2 * c);
#endif
}
#else
#define pred_slice(t) 1u
#define unpredict(t, o, n) ((void)0)
#endif

#if SPK_FORMAT_VERSION >= 7
/* v7: values [i, e) of o (item size sz, a signed dtype of bits = 8 * sz) from the stored s to
 * x = s + f (s > 0), s - f (s < 0), 0 (s = 0), f <= 2^(bits - 1) - 2 (spk_open's R2); returns
 * nonzero if some x leaves the dtype's range (R3; the values are then partly rebuilt: outputs
 * are unspecified after an error).  -O2: 8 bytes at a time (SWAR, 8 / sz lanes of a uint64, in
 * any byte order: no carry or borrow crosses a lane): a lane's f is added where s > 0
 * (1 <= s, s + f <= 2^bits - 3: no carry) and subtracted where s < 0 (as unsigned bits
 * 2^bits + s >= 2^(bits - 1) > f: no borrow); x leaves the range iff the sign bit of a
 * positive lane becomes set or that of a negative one clear.  Then, and at -Os, one value at a
 * time in biased values u = s + 2^(bits - 1) (the stored bits xor half): x = u + f or u - f
 * modulo 2^bits (rebuild_at), out of range iff that wraps. */
HOT uint32_t unfloor_sz(uint8_t *o, uint32_t i, uint32_t e, unsigned sz, uint32_t f)
{
    const uint64_t half = (uint64_t)1 << (8u * sz - 1u), mask = half - 1u + half;
    uint64_t u, bad = 0;
#if !defined(__OPTIMIZE_SIZE__)
    const uint64_t lm = (((uint64_t)1 << (8u * sz - 1u)) << 1) - 1u, ones = ~(uint64_t)0 / lm;
    const uint64_t H = ones << (8u * sz - 1u), F = ones * f;
    uint64_t w, n, p;
    for (; e - i >= 8u / sz; i += 8u / sz) {
        memcpy(&w, o + (size_t)i * sz, 8);
        n = w & H;                                 /* lanes s < 0: their sign bits */
        p = ((((w & ~H) + ~H) | w) & H) & ~n;      /* lanes s > 0 */
        w = w + (F & (p >> (8u * sz - 1u)) * lm) - (F & (n >> (8u * sz - 1u)) * lm);
        bad |= (w & p) | (~w & n);
        memcpy(o + (size_t)i * sz, &w, 8);
    }
#endif
    for (; i < e; i++) { /* x out of range iff u + f or u - f wraps */
        u = getu(o, i, sz) ^ half;
        if (u > half)
            bad |= (uint64_t)rebuild_at(o, i, sz, half, mask, (int64_t)f) < u;
        else if (u < half)
            bad |= (uint64_t)rebuild_at(o, i, sz, half, mask, -(int64_t)f) > u;
    }
    return bad != 0;
}

/* v7 (FORMAT.md §36; codec/kernels/floor.py unfloor): the n values at o, values [first,
 * first + n) of s->t, rebuilt with the floor f_r of each value's row r (values r * L ..
 * r * L + L - 1, L = numel / R >= 1; unfloor_sz), SPK_E_CORRUPT (R3) where a value leaves the
 * dtype's range.  The floors are read from the directory in row order as the rows begin:
 * s->fl_row of them so far (the last s->fl_f, the next at s->fl_bit; stream_begin: none), so
 * a stream's groups, which ascend, read each once.  Indices: first + n <= numel <= 2^31. */
static int unfloor(spk_stream *s, uint8_t *o, uint32_t first, uint32_t n)
{
    const spk_tensor *t = s->t;
    const unsigned sz = t->itemsize;
    const uint32_t L = t->numel / (t->ndim >= 2 ? (uint32_t)t->shape[0] : 1u);
    uint64_t end = (uint64_t)s->fl_row * L; /* the current row's end */
    uint32_t i = 0, e, bad, f = s->fl_f;
    brd b;
    b.r = rd_at(s->pkg, 0);
    b.bp = s->fl_bit;
    while (i < n) {
        while (end <= first + i) /* the rows up to value first + i's (spk_open checked them) */
            f = (uint32_t)egol(&b, t->floor_k), s->fl_row++, end += L;
        if (b.r.err)
            return b.r.err;
        e = end - first < n ? (uint32_t)(end - first) : n; /* the row's values, or the rest */
#if !defined(__OPTIMIZE_SIZE__) /* speed: one loop per item size (sz constant in it) */
        if (sz == 1)
            bad = unfloor_sz(o, i, e, 1, f);
        else if (sz == 2)
            bad = unfloor_sz(o, i, e, 2, f);
        else
            bad = unfloor_sz(o, i, e, 4, f);
#else
        bad = unfloor_sz(o, i, e, sz, f);
#endif
        if (bad)
            return SPK_E_CORRUPT;
        i = e;
    }
    s->fl_bit = b.bp;
    s->fl_f = f;
    return 0;
}
#else
#define unfloor(s, o, first, n) 0
#endif

/* The bit length of the group whose group-table record is at bit gt (v4, a tensor of one
 * group: no record, its length from the entry) */
static uint64_t glen_at(const spk_pkg *p, const spk_tensor *t, uint64_t gt)
{
    if (V4(p) && !t->len_bits)
        return (uint64_t)t->pay_len * 8u - t->glen_pad;
    return bits_at(p->buf, gt + t->tid_bits, t->len_bits);
}

/* CRCs, v3 mirror modes (X4) and the whole group table (G1-G3) */
static int stream_begin(spk_stream *s, const spk_pkg *p, const spk_tensor *t, spk_dec *d)
{
    uint64_t gt = ((uint64_t)t->block_off + t->meta_len + t->mirror_len) * 8u, total = 0, ln;
    uint32_t g, w = t->tid_bits;
    E_(verify(p, t, d));
    if (V3(p) && t->mirror_period) { /* X4: no mode 3 (a byte's fields: b & b >> 1 & 0x55) */
        const uint8_t *ms = p->buf + t->block_off + t->meta_len;
        uint32_t rows = t->numel / t->mirror_period, n = rows >> 2, i;
        for (i = 0; i < n; i++)
            if (ms[i] & (ms[i] >> 1) & 0x55u)
                return SPK_E_CORRUPT;
        if ((rows & 3u) && (ms[n] & (ms[n] >> 1) & (0x55u << (8u - 2u * (rows & 3u))) & 0xffu))
            return SPK_E_CORRUPT; /* (the padding bits after the last field are not checked) */
    }
    /* the whole group table first (codec.kernels.tables.plan_groups) */
    for (g = 0; g < t->n_groups; g++) {
        if (bits_at(p->buf, gt, w) + t->tid_base >= p->ntables)
            return SPK_E_CORRUPT;
        ln = glen_at(p, t, gt);
        gt += w + t->len_bits;
        if (!ln || ln > (uint64_t)t->pay_len * 8u - total)
            return SPK_E_CORRUPT;
        total += ln;
    }
    if ((total + 7u) >> 3 != t->pay_len)
        return SPK_E_CORRUPT;
    vrange(t->dtype, &s->lo, &s->hi);
#if SPK_FORMAT_VERSION >= 7
    s->fl_bit = t->floor_bit; /* v7: no row floor read yet */
    s->fl_row = s->fl_f = 0;
#endif
    s->gt_bit = ((uint64_t)t->block_off + t->meta_len + t->mirror_len) * 8u;
    s->pay_bit = (uint64_t)t->pay_off * 8u;
    s->pkg = p;
    s->t = t;
    s->dec = d;
    s->group = 0;
    return 0;
}

int spk_stream_begin(spk_stream *s, const spk_pkg *p, const spk_tensor *t, spk_dec *d)
{
    E_(stream_begin(s, p, t, d));
    /* v3: spk_stream_next undoes the mirror group by group, so a group must hold whole rows */
    if (V3(p) && t->mirror_period && t->group_size % t->mirror_period)
        return SPK_E_LIMIT;
    /* v5: and rebuilds predicted values group by group, so a group must hold whole images;
     * v6 (§34): whole a-slices of H * W * C values (H * W with pred_shift 0, as v5) */
    if (V5(p) && t->pred_mode >= 0 && t->group_size % pred_slice(t))
        return SPK_E_LIMIT;
    return 0;
}

/* Decode group g (bits [pay, pay + ln) of table `id`) into `dst` (that group's values);
 * want: multi-set entries are worth building for this table (dec_load). */
static int group_at(spk_stream *s, uint32_t g, uint64_t id, uint64_t pay, uint64_t ln,
                    uint8_t *dst, int want)
{
    const spk_tensor *t = s->t;
    uint64_t first = (uint64_t)g * t->group_size;
    uint32_t n = (uint32_t)((t->numel - first < t->group_size) ? t->numel - first : t->group_size);
    lane L;
    int rc;
    E_(dec_load(s->dec, s->pkg, (uint32_t)id, want));
    lane_setup(&L, s);
    lane_init(&L, pay, dst, n);
#define LOOP(x)                                                                                \
    while ((rc = (x)) == 0) {                                                                  \
    }
    /* the plain loop does not test for multi-set entries (-Os: one loop with a test per
     * symbol was 3-4 % slower on plain tables); -O2 also has a multi-set loop without the
     * value checks (a loop for each item size, sz constant in it, measured no faster) */
#if MULTI && !defined(__OPTIMIZE_SIZE__)
    if (s->dec->multi == 1 && L.voff - 127 >= L.lo && L.voff + 127 <= L.hi)
        LOOP(step_multi(&L, 1, 1, L.sz)) /* every set's value (|value| <= 127) in range */
    else
#endif
#if MULTI
    if (s->dec->multi == 1)
        LOOP(step_multi(&L, 1, 0, L.sz))
    else
#endif
#if !defined(SPK_SMALL) && !defined(__OPTIMIZE_SIZE__)
        while ((rc = step(&L, L.sz)) == 0 && (rc = step2(&L, L.sz)) == 0) {
        }
#else
        LOOP(step(&L, L.sz))
#endif
    if (rc < 0)
        return rc;
    /* the end-of-group symbol must end the group exactly at its end (after the loop, so the
     * end is not live in it) */
    return (uint64_t)L.byte * 8u - L.nb == pay + ln ? 0 : SPK_E_DATA;
}

/* the next group's stored values (v3: the mirror not undone) */
static int32_t stream_next(spk_stream *s, void *out, size_t out_bytes)
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
    ln = glen_at(p, t, s->gt_bit);
    E_(group_at(s, s->group, id, s->pay_bit, ln, (uint8_t *)out,
                (uint64_t)t->pay_len * 8u >= MULTI_MIN_BITS));
    s->gt_bit += (uint64_t)t->tid_bits + t->len_bits;
    s->pay_bit += ln;
    s->group++;
    return (int32_t)n;
}

int32_t spk_stream_next(spk_stream *s, void *out, size_t out_bytes)
{
    const spk_tensor *t = s->t;
    uint32_t first = s->group * t->group_size; /* (< numel <= 2^31 while groups remain) */
    int32_t n = stream_next(s, out, out_bytes);
    if (V3(s->pkg) && t->mirror_period && n > 0) /* whole rows (spk_stream_begin) */
        unmirror(s->pkg, t, (uint8_t *)out, first / t->mirror_period,
                 (first + (uint32_t)n) / t->mirror_period);
    if (V5(s->pkg) && t->pred_mode >= 0 && n > 0) /* whole a-slices (spk_stream_begin) */
        unpredict(t, (uint8_t *)out, (uint32_t)n);
    if (V7(s->pkg) && t->floor_bit && n > 0) /* v7: rows are independent of groups */
        E_(unfloor(s, (uint8_t *)out, first, (uint32_t)n));
    return n;
}

#ifndef SPK_MANY_MAX_WORK
#define SPK_MANY_MAX_WORK ((uint64_t)1 << 24) /* tables x groups (group records read per table) */
#endif

/* Group record at bit gt of t's group table (checked by stream_begin): *ln its payload bits
 * (glen_at); returns its table (tid_base + field).  -O2: both fields from one 8-byte window
 * when the 8 bytes lie in the package and the record has at most 57 bits. */
static uint64_t rec_at(const spk_pkg *p, const spk_tensor *t, uint64_t gt, uint64_t *ln)
{
#if FAST_BITS
    unsigned w = t->tid_bits, l = t->len_bits;
    if (l && w + l <= 57u && (gt >> 3) + 8u <= p->len) {
        uint64_t x = win64(p->buf, gt);
        *ln = (x << w) >> (64u - l);
        return (w ? x >> (64u - w) : 0u) + t->tid_base;
    }
#endif
    *ln = glen_at(p, t, gt);
    return bits_at(p->buf, gt, t->tid_bits) + t->tid_base;
}

/* The groups of every job (tensor) decoded table by table, so that each decode table is built
 * once, not once per switch (groups are independent): the table still loaded first (consecutive
 * tensors often share one), then the others in ascending order; for each, every job's group
 * table is read once: its groups of that table are decoded and the smallest table above the
 * last one visited is found.  spk_decode (one job: a tensor whose groups switch between up to
 * 256 tables, tid_bits <= 8; up to 64 until session 16, when yolov8n 8-bit 50 %'s 128-table
 * tensors built 2,768 decode tables group by group) and spk_decode_many (all of them). */
static int many_by_table(const spk_pkg *p, spk_dec *d, spk_job *jobs, uint32_t n)
{
    uint64_t cur = 0, lo = 0, start, next, id, ln, gt, pay, bits;
    uint32_t i, g;
    if (d->kbuf == p->buf && d->kcrc == p->dir_crc && d->table >= 0)
        cur = (uint32_t)d->table;
    start = cur;
    for (;;) {
        bits = 0; /* (MULTI) payload bits of table cur's groups: multi-set entries pay */
        for (i = 0; MULTI && i < n; i++) {
            const spk_tensor *t = jobs[i].t;
            for (g = 0, gt = jobs[i].s.gt_bit; g < t->n_groups; g++) {
                if (rec_at(p, t, gt, &ln) == cur)
                    bits += ln;
                gt += t->tid_bits + t->len_bits;
            }
        }
        next = ~(uint64_t)0;
        for (i = 0; i < n; i++) {
            const spk_tensor *t = jobs[i].t;
            uint32_t w = t->tid_bits;
            size_t gbytes = (size_t)t->group_size * t->itemsize;
            if (lo && t->tid_base + ((uint64_t)1 << w) <= cur)
                continue; /* (its tables all below cur: every one visited) */
            gt = jobs[i].s.gt_bit;
            pay = jobs[i].s.pay_bit;
            for (g = 0; g < t->n_groups; g++) {
                id = rec_at(p, t, gt, &ln);
                if (id == cur)
                    E_(group_at(&jobs[i].s, g, id, pay, ln, (uint8_t *)jobs[i].out + g * gbytes,
                                bits >= MULTI_MIN_BITS));
                else if (id >= lo && id < next && id != start)
                    next = id;
                gt += w + t->len_bits;
                pay += ln;
            }
        }
        if (next == ~(uint64_t)0)
            return 0;
        cur = next;
        lo = next + 1u;
    }
}

/* A job's checks: its arguments, then stream_begin (CRCs, v3 mirror modes, group table) */
static int job_begin(const spk_pkg *p, spk_dec *d, spk_job *j)
{
    const spk_tensor *t = j->t;
    if (!t || j->out_bytes / t->itemsize < t->numel || (!j->out && t->numel))
        return SPK_E_ARG;
    return stream_begin(&j->s, p, t, d);
}

/* spk_decode after job_begin: every group (group by group with one table or more than 256,
 * else table by table), then v3: the inverse mirror transform */
static int job_decode(const spk_pkg *p, spk_dec *d, spk_job *j)
{
    const spk_tensor *t = j->t;
    uint8_t *o = (uint8_t *)j->out;
    size_t left = j->out_bytes;
    int32_t n;
    if (t->tid_bits == 0 || t->tid_bits > 8) {
        while ((n = stream_next(&j->s, o, left)) > 0) {
            o += (size_t)n * t->itemsize;
            left -= (size_t)n * t->itemsize;
        }
        if (n < 0)
            return n;
    } else {
        E_(many_by_table(p, d, j, 1));
    }
    if (V3(p) && t->mirror_period) /* v3: every group decoded, undo the mirror */
        unmirror(p, t, (uint8_t *)j->out, 0, t->numel / t->mirror_period);
    if (V5(p) && t->pred_mode >= 0) /* v5, v6: every group decoded, rebuild the values */
        unpredict(t, (uint8_t *)j->out, t->numel);
    if (V7(p) && t->floor_bit) /* v7: add the row floors back */
        return unfloor(&j->s, (uint8_t *)j->out, 0, t->numel);
    return 0;
}

int spk_decode(const spk_pkg *p, const spk_tensor *t, spk_dec *d, void *out, size_t out_bytes)
{
    spk_job j;
    j.t = t;
    j.out = out;
    j.out_bytes = out_bytes;
    E_(job_begin(p, d, &j));
    return job_decode(p, d, &j);
}

int spk_decode_many(const spk_pkg *p, spk_dec *d, spk_job *jobs, uint32_t n)
{
    uint32_t i;
    uint64_t groups = 0;
    for (i = 0; i < n; i++) { /* every job's checks first */
        E_(job_begin(p, d, &jobs[i]));
        groups += jobs[i].t->n_groups;
    }
    if (groups > SPK_MANY_MAX_WORK || groups * p->ntables > SPK_MANY_MAX_WORK) { /* one by one */
        for (i = 0; i < n; i++)
            E_(job_decode(p, d, &jobs[i]));
        return 0;
    }
    E_(many_by_table(p, d, jobs, n));
    for (i = 0; i < n; i++) { /* every group decoded: v3: undo the mirrors; v5, v6: the
                                 prediction transforms; v7: the row floors */
        const spk_tensor *t = jobs[i].t;
        if (V3(p) && t->mirror_period)
            unmirror(p, t, (uint8_t *)jobs[i].out, 0, t->numel / t->mirror_period);
        if (V5(p) && t->pred_mode >= 0)
            unpredict(t, (uint8_t *)jobs[i].out, t->numel);
        if (V7(p) && t->floor_bit)
            E_(unfloor(&jobs[i].s, (uint8_t *)jobs[i].out, 0, t->numel));
    }
    return 0;
}
