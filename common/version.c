/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The release and commit of this build (common.h), from the header the
 * Makefile generates: a separate file so that a new commit recompiles this
 * one object only.
 */
#include "common/common.h"
#include "witan_version.h"

const char *witan_release(void) { return WITAN_RELEASE_TEXT; }
const char *witan_commit(void) { return WITAN_COMMIT_TEXT; }
