/* SPDX-License-Identifier: Apache-2.0 */
/*
 * inference internals shared by its own files (model.c loads and lays out,
 * score.c scores, tables.c holds the fixed tables, onnx.c imports). Not a
 * public header: nothing outside inference/ includes it.
 */
#ifndef WITAN_INFERENCE_INTERNAL_H
#define WITAN_INFERENCE_INTERNAL_H

#include "inference/inference.h"
#include "spec/model.pb-c.h"

/* Dense weights are padded with zeros to a multiple of this many inputs so
 * that vector loops need no tail. */
#define INFER_PAD 16
#define INFER_I16_MAX 32767

/* Outputs are computed in blocks of this many (one AVX2 register of int32). */
#define INFER_OUT_BLOCK 8
#define INFER_ROW_MAX 4

struct infer_layer {
    uint32_t in, out, in_pad, out_pad;
    /* Weights by input pair: wp[((i / 2) * out_pad + j) * 2 + i % 2] =
     * W[j][i], zero padded, so that one pmaddwd takes a pair of inputs
     * against eight outputs. */
    int16_t *wp;
    /* Layers narrower than INFER_ROW_MAX also keep W row-major (out rows of
     * in_pad), for a dot-product kernel: eight outputs of padding would
     * otherwise cost more than the layer itself. NULL otherwise. */
    int16_t *rows;
    /* Input pairs whose partial sum provably fits in int32 for every row:
     * sum of |w| over any aligned chunk of 2 * chunk inputs <= 65537, so
     * 32767 times it is below 2^31 (spec/models.md). At least 1. */
    uint32_t chunk;
    int64_t *bias;
    /* Hidden layers whose rescale the batched kernel may do in int32
     * (spec/models.md section 6, int32 rescale): bias + 2^(shift-1) =
     * bias_q * 2^shift + bias_r with 0 <= bias_r < 2^shift, bias_q clamped
     * to what cannot change an output; out_pad each, in one allocation
     * (bias_r = bias_q + out_pad). NULL when the bounds do not hold. */
    int32_t *bias_q, *bias_r;
    uint32_t shift;   /* in_frac + weight_frac - out_frac, 0..62 */
    uint32_t in_frac, w_frac, out_frac;
    enum infer_activation act;
};

/* A tree node laid out so that the next node is next + (x > thr): children
 * are adjacent, and a leaf points to itself with thr = INT64_MAX, so every
 * tree walks exactly its depth steps without a branch on leaves. */
struct infer_node {
    int64_t thr;
    uint32_t feature;
    uint32_t next;
};

struct infer_model {
    Witan__Model__Model *pb; /* decoded message: names and show */
    enum infer_kind kind;
    enum infer_transform transform;
    uint32_t n_in, n_score, n_out, n_class;
    uint32_t input_frac, first_frac, output_frac;
    enum infer_input_encoding input_encoding;
    bool calibrated;
    uint32_t *in_frac;          /* n_in: each raw input's Q format */
    int64_t *cal_min, *cal_max; /* n_in each, when calibrated */
    int64_t *offset;
    int32_t *scale;
    uint32_t *norm_shift;
    /* The same per input as int64 lanes, padded with zeros to a multiple of
     * 4 (offset, scale, shift, 2^(shift-1), 2^(63-shift)) for the AVX2
     * normalisation. */
    int64_t *norm_lanes;
    uint32_t n_layers;
    struct infer_layer *layers;
    uint32_t n_trees, n_nodes, depth_max;
    uint32_t *tree_root;      /* global index of each tree's root */
    uint8_t *tree_depth;      /* steps to walk each tree */
    struct infer_node *nodes;
    int32_t *leaf_values;     /* n_score per node (leaves only meaningful) */
    uint8_t *leaf_steps;      /* nodes visited to reach this leaf */
    int64_t *base;            /* n_score */
    uint64_t gas_max;
    size_t param_count;
};

extern const int32_t infer_sigmoid_q16[257];
extern const int64_t infer_exp_frac_q30[257];
extern const int64_t infer_exp_int_q30[22];

/* round half up: floor((x + 2^(s-1)) / 2^s); s in 0..62. */
static inline int64_t infer_round_shift(int64_t x, uint32_t s)
{
    if (s == 0)
        return x;
    return (x + ((int64_t)1 << (s - 1))) >> s;
}

/* Writes a formatted reason to why (if any) and returns err. */
int infer_why(char *why, size_t why_size, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
