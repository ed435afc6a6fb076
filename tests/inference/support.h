/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Support for the inference tests and benchmarks: fixture files, CSV, and
 * small hand-built models (protobuf structs on the stack, packed to bytes).
 */
#ifndef WITAN_TESTS_INFERENCE_SUPPORT_H
#define WITAN_TESTS_INFERENCE_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include "inference/inference.h"
#include "spec/model.pb-c.h"

#define TSUP_DIR "tests/fixtures/models/"

struct tsup_fixture {
    char name[64];
    double tolerance;
};

/* Whole file, NUL-terminated, malloc'd; NULL on failure. */
uint8_t *tsup_read(const char *path, size_t *size);
/* The fixtures of manifest.txt; returns the count. */
size_t tsup_manifest(struct tsup_fixture *out, size_t cap);
/* CSV of numbers (header allowed), malloc'd rows x cols; NULL on failure. */
double *tsup_csv(const char *path, size_t *rows, size_t *cols);
/* x * 2^frac rounded half up (test inputs only). */
int64_t tsup_fixed(double x, uint32_t frac);
/* x as model m reads input i: tsup_fixed in that input's format, or the
 * order key of float32(x) for a float32-order (tree) model. */
struct infer_model;
int64_t tsup_input(const struct infer_model *m, size_t i, double x);

/* A small valid dense model: 2 inputs -> 3 (relu) -> 1, and a valid tree
 * model: 2 inputs, one tree of 5 nodes. Fields may be changed before
 * packing. Storage is static: one of each at a time. */
Witan__Model__Model *tsup_dense_model(void);
Witan__Model__Model *tsup_tree_model(void);
/* Packs into a malloc'd buffer. */
uint8_t *tsup_pack(const Witan__Model__Model *m, size_t *size);
/* Loads packed m; returns the error code and fills why. */
int tsup_load(const Witan__Model__Model *m, infer_model **out, char *why,
              size_t why_size);

#endif
