/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the ledger-backed fuzz harnesses share: a real, temporary LMDB
 * ledger of a one-validator chain "fuzz" whose one member (data provider and
 * admin) has the key of the committed test vectors.
 */
#ifndef WITAN_FUZZ_FIXTURE_H
#define WITAN_FUZZ_FIXTURE_H

#include "ledger/ledger.h"

/* Opens the ledger in a fresh directory named after `what` (removed when
 * the process ends) and silences logging; aborts on any failure. */
ledger *fuzz_ledger_open(const char *what);

#endif
