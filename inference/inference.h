/* SPDX-License-Identifier: Apache-2.0 */
/*
 * inference — deterministic fixed-point models (spec/models.md, spec/model.proto).
 *
 * A model is loaded once from its encoded bytes (decode, validate every
 * shape, index, tree and limit, then lay it out for fast scoring) and then
 * scored any number of times, from any number of threads, on int64 inputs.
 * Scoring uses integers only: the same model and input give the same output
 * bits on every machine, compiler and optimisation level. The core does no
 * I/O. The ONNX importer (infer_onnx_import) is a tool, not part of scoring:
 * it alone uses floating point, to quantise.
 *
 * Errors: functions return 0 or a negative WITAN_E* code. Where a `why`
 * buffer is taken, a failure also writes one line there naming what is wrong
 * ("layer 1: 100 weights, expected 64x32"); why may be NULL.
 */
#ifndef WITAN_INFERENCE_H
#define WITAN_INFERENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

/* Domain tag of a model's identity: wcrypto_hash_tagged over its bytes
 * (computed by callers; this module uses no crypto). */
#define INFER_TAG_MODEL "witan/model/v1"
#define INFER_FORMAT_VERSION 1

/* Gas (spec/models.md): a protocol constant set, one unit per operation. */
#define INFER_GAS_BASE 100  /* per score */
#define INFER_GAS_INPUT 2   /* per input read and normalised */
#define INFER_GAS_MAC 1     /* per multiply-accumulate */
#define INFER_GAS_ACT 4     /* per sigmoid, tanh or exp evaluation */
#define INFER_GAS_NODE 4    /* per tree node visited, leaf included */
#define INFER_GAS_OUTPUT 2  /* per output value */

/* Values equal spec/model.proto's ModelKind, Activation, OutputTransform. */
enum infer_kind {
    INFER_LINEAR_REGRESSION = 1,
    INFER_LOGISTIC_BINARY = 2,
    INFER_LOGISTIC_MULTINOMIAL = 3,
    INFER_MLP = 4,
    INFER_GB_REGRESSION = 5,
    INFER_GB_CLASSIFICATION = 6,
    INFER_RF_REGRESSION = 7,
    INFER_RF_CLASSIFICATION = 8,
};
enum infer_activation {
    INFER_ACT_IDENTITY = 0,
    INFER_ACT_RELU = 1,
    INFER_ACT_SIGMOID = 2,
    INFER_ACT_TANH = 3,
};
enum infer_input_encoding {
    INFER_IN_FIXED = 0,         /* Q.input_frac_bits, rounded half up */
    INFER_IN_FLOAT32_ORDER = 1, /* trees: order key of float32(input) */
};
enum infer_transform {
    INFER_OUT_NONE = 0,
    INFER_OUT_SIGMOID = 1,
    INFER_OUT_SOFTMAX = 2,
};

/* A validated model laid out for scoring; immutable after load. */
typedef struct infer_model infer_model;

/*
 * Decodes and validates an encoded witan.model.Model. On success *out owns a
 * new model (free with infer_model_free). Fails with WITAN_ELIMIT when bytes
 * exceed WITAN_MODEL_SIZE_MAX or any count exceeds its limit, WITAN_EDECODE
 * when the bytes are not a Model, WITAN_EMODEL for any other inconsistency,
 * WITAN_ENOMEM; `why` then names the field. Never aborts on input.
 */
int infer_model_load(const uint8_t *bytes, size_t size, infer_model **out,
                     char *why, size_t why_size);

/* Frees a model from infer_model_load; NULL is ignored. */
void infer_model_free(infer_model *model);

/* What `witan model show` prints. Strings point into the model. */
struct infer_info {
    enum infer_kind kind;
    const char *name;
    size_t input_count;
    size_t output_count;    /* values infer_score writes */
    size_t score_count;     /* before the output transform */
    size_t layer_count;
    size_t tree_count;
    size_t node_count;      /* all trees */
    size_t tree_depth_max;  /* edges, over all trees */
    size_t param_count;     /* weights, biases, thresholds, leaf values */
    size_t class_count;     /* 0 for regressions */
    uint32_t input_frac_bits;
    uint32_t output_frac_bits;
    enum infer_transform transform;
    enum infer_input_encoding input_encoding;
    bool calibrated;        /* inputs carry calibrated ranges */
    bool per_feature_frac;  /* each input has its own Q format */
    uint64_t gas_max;       /* the most one infer_score can charge */
};
void infer_model_info(const infer_model *model, struct infer_info *out);

/* Names and normalisation; index must be below the count (asserted). */
const char *infer_input_name(const infer_model *model, size_t index);
const char *infer_output_name(const infer_model *model, size_t index);
void infer_input_norm(const infer_model *model, size_t index, int64_t *offset,
                      int32_t *scale, uint32_t *scale_frac_bits);
/* The Q format of raw input index (input_frac_bits, or its own). */
uint32_t infer_input_frac_bits(const infer_model *model, size_t index);
/* The calibrated range of input index (both 0 when uncalibrated). */
void infer_input_range(const infer_model *model, size_t index, int64_t *min,
                       int64_t *max);
/* Layer i: shape, activation, frac bits. */
void infer_layer_info(const infer_model *model, size_t index, size_t *inputs,
                      size_t *outputs, enum infer_activation *act,
                      uint32_t *weight_frac_bits, uint32_t *out_frac_bits);
/* Class label of output class i (its index when the model names none). */
int64_t infer_class_label(const infer_model *model, size_t index);
const char *infer_kind_name(enum infer_kind kind);
const char *infer_activation_name(enum infer_activation act);

struct infer_result {
    size_t label;   /* classifiers: index of the largest output (lowest on
                       ties); 0 for regressions */
    uint64_t gas;   /* charged for this score (spec/models.md) */
    /* Inputs outside their calibrated range (0 for an uncalibrated model)
     * and the first of them, counted from 1 (0: none). */
    uint32_t outside, first_outside;
    /* Values that ended at the limit of their format: normalised inputs and
     * hidden activations at +-32767, scores at +-(2^31 - 1). */
    uint32_t saturated;
};

/*
 * Scores one input: input[input_count] raw values, Q.input_frac_bits;
 * writes output[output_count] in Q.output_frac_bits. Pure and thread-safe.
 * WITAN_EINVAL when a count differs from the model's, WITAN_ERANGE when an
 * input's magnitude exceeds WITAN_MODEL_INPUT_ABS_MAX; output is untouched
 * on error. The caller owns every buffer; nothing is allocated.
 */
int infer_score(const infer_model *model, const int64_t *input,
                size_t input_count, int32_t *output, size_t output_count,
                struct infer_result *result);

/*
 * Scores sample_count inputs laid out one after another (input_count each);
 * outputs likewise; labels (may be NULL) one per sample; *gas_total the sum.
 * Same bits as infer_score sample by sample. Errors as infer_score (every
 * input is checked before any sample is scored).
 */
int infer_score_batch(const infer_model *model, const int64_t *inputs,
                      size_t sample_count, int32_t *outputs, size_t *labels,
                      uint64_t *gas_total);

/*
 * Exact decimal to fixed point: mantissa * 10^-scale * 2^frac_bits, rounded
 * half up. WITAN_ERANGE when the result's magnitude exceeds
 * WITAN_MODEL_INPUT_ABS_MAX, WITAN_EINVAL when scale > 18 or frac_bits > 30.
 */
int infer_fixed_from_decimal(int64_t mantissa, uint32_t scale,
                             uint32_t frac_bits, int64_t *out);

/*
 * float32(mantissa * 10^-scale), rounded to nearest with ties to even as
 * IEEE 754 (and strtof) round, as its order key: the float's bits with the
 * sign taken out and applied to the rest, so keys compare exactly as the
 * floats do and -0 and +0 are both 0 (spec/models.md, "Inputs"). Integers
 * only. WITAN_EINVAL when scale > 18.
 */
int infer_float32_key_from_decimal(int64_t mantissa, uint32_t scale,
                                   int32_t *key);
/* The order key of a float32, and the float32 a key stands for (the
 * importer, displays and tests; scoring never needs them). */
int32_t infer_float32_key(float f);
float infer_float32_of_key(int64_t key);

/*
 * A decimal as `model` reads its input `index`: fixed point in that input's
 * format (infer_fixed_from_decimal), or the float32 order key for a model
 * whose input encoding is INFER_IN_FLOAT32_ORDER. Errors as those.
 */
int infer_input_from_decimal(const infer_model *model, size_t index,
                             int64_t mantissa, uint32_t scale, int64_t *out);

/*
 * Parses decimal text (optional sign, digits with one optional point, an
 * optional exponent: "-12.5", "1.25e-05") to mantissa and scale exactly.
 * WITAN_EDECODE when malformed, WITAN_ERANGE when it needs more than 18
 * significant digits or a scale over 18.
 */
int infer_decimal_parse(const char *text, size_t len, int64_t *mantissa,
                        uint32_t *scale);

/* The fixed functions of spec/models.md, public so tests can pin them. */
int32_t infer_sigmoid_fx(int64_t x, uint32_t frac_bits); /* Q.16, [0,65536] */
int32_t infer_tanh_fx(int64_t x, uint32_t frac_bits);    /* Q.16 */
int64_t infer_exp_neg_fx(int64_t y_q16);                 /* exp(-y), Q.30 */

/* ---------------------------------------------------------- ONNX import -- */

struct infer_import_options {
    const char *name;          /* model name; NULL: the ONNX graph's name */
    const double *samples;     /* sample_count x feature_count, may be NULL */
    size_t sample_count;
    size_t feature_count;      /* must equal the graph's input width */
    const char *const *feature_names; /* feature_count names, or NULL */
    double max_abs_error;      /* refuse above this; < 0: the default,
                                  INFER_IMPORT_ERROR_SHARE of the outputs'
                                  range on the samples; INFINITY: none */
    bool force;                /* keep the model despite the bound */
    double margin;             /* calibrated ranges: the samples' range
                                  widened by this share on each side; 0:
                                  INFER_IMPORT_MARGIN_DEFAULT */
};

/* The default widening of a calibrated range, each side. */
#define INFER_IMPORT_MARGIN_DEFAULT 0.10

/* The default bound on the import error: this share of the widest range an
 * output takes over the samples (spec/models.md, section 10). */
#define INFER_IMPORT_ERROR_SHARE 0.01

struct infer_import_report {
    size_t sample_count;
    double max_abs_error;      /* |integer score - float graph| over outputs */
    double max_rel_error;      /* the same / max(|float|, 1e-3) */
    size_t worst_sample;       /* where max_abs_error occurred */
    size_t worst_output;
    double output_range;       /* widest max - min of a float output */
    double bound;              /* the bound applied (INFINITY: none) */
    bool bound_is_default;     /* the bound is the default share */
    bool over_bound;           /* max_abs_error > bound */
    size_t node_count;         /* ONNX nodes converted */
    /* The part of a dense model with the coarsest format for what it
     * holds on the samples (the likeliest source of error), e.g. "input
     * 'rate' (Q.17): steps of 7.6e-06 over a spread of 5.8e-06"; empty
     * for trees or without samples. */
    char coarsest[160];
};

/*
 * Converts an ONNX ModelProto (bytes) to an encoded witan.model.Model,
 * quantised as spec/models.md describes; evaluates the float graph and the
 * integer model on the samples and fills *report. On success *model_out is
 * a malloc'd buffer the caller frees. Fails with WITAN_EONNX (an operator,
 * attribute or shape that cannot be imported; why names it and its node),
 * WITAN_EDECODE (not an ONNX model), WITAN_ELIMIT, WITAN_EINVAL (sample
 * width), WITAN_EQUANT (error over the bound and not forced: *model_out is
 * then NULL but *report is filled), WITAN_ENOMEM.
 */
int infer_onnx_import(const uint8_t *onnx, size_t onnx_size,
                      const struct infer_import_options *options,
                      uint8_t **model_out, size_t *model_size,
                      struct infer_import_report *report, char *why,
                      size_t why_size);

/*
 * Float evaluation of an importable ONNX graph on sample_count rows of
 * feature_count values; writes up to output_cap values per row in *outputs
 * (row-major, output_count per row) and sets *output_count. Import tool and
 * tests only. Errors as infer_onnx_import.
 */
int infer_onnx_eval_float(const uint8_t *onnx, size_t onnx_size,
                          const double *samples, size_t sample_count,
                          size_t feature_count, double *outputs,
                          size_t output_cap, size_t *output_count, char *why,
                          size_t why_size);

/*
 * Parses CSV text of numbers (an optional header row of names first) into
 * *values (rows x cols, malloc'd) and *names (cols malloc'd strings in a
 * malloc'd array, or NULL without a header; names may be NULL to skip).
 * WITAN_EDECODE on a cell that is not a finite number or a ragged row.
 */
int infer_csv_parse(const char *text, size_t len, double **values,
                    size_t *rows, size_t *cols, char ***names, char *why,
                    size_t why_size);

#endif
