/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS certificates for validator links, made with mbedTLS (the library
 * Debian's nng already uses for tls+tcp). mbedTLS 2.28 has no Ed25519
 * certificates, so these are ECDSA P-256, and they are separate from the
 * validators' Ed25519 signing keys: losing a TLS key exposes a link, never a
 * vote. One testnet CA signs one certificate per node (CN validator-<i>);
 * every node trusts only that CA and requires its peers' certificates.
 * Clients of a node's tls+tcp:// API verify it against the same CA.
 */
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/x509_crt.h>

#include "cli/cli.h"

#define PEM_SIZE_MAX 4096
#define TLS_VALID_FROM "20250101000000"
#define TLS_VALID_TO "20451231235959"

struct tls_rng {
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
};

static int rng_init(struct tls_rng *r)
{
    mbedtls_entropy_init(&r->entropy);
    mbedtls_ctr_drbg_init(&r->drbg);
    static const char pers[] = "witan-testnet-tls";
    return mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func, &r->entropy,
                                 (const unsigned char *)pers,
                                 sizeof pers - 1) == 0
               ? WITAN_OK
               : WITAN_ELIBRARY;
}

static void rng_free(struct tls_rng *r)
{
    mbedtls_ctr_drbg_free(&r->drbg);
    mbedtls_entropy_free(&r->entropy);
}

static int gen_key(struct tls_rng *r, mbedtls_pk_context *key)
{
    mbedtls_pk_init(key);
    if (mbedtls_pk_setup(key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) ||
        mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*key),
                            mbedtls_ctr_drbg_random, &r->drbg))
        return WITAN_ELIBRARY;
    return WITAN_OK;
}

static int write_pem(const char *path, const unsigned char *pem, mode_t mode)
{
    FILE *f = fopen(path, "wx");
    if (!f)
        return WITAN_EIO;
    int err = fputs((const char *)pem, f) < 0 ? WITAN_EIO : WITAN_OK;
    if (fchmod(fileno(f), mode) != 0)
        err = WITAN_EIO;
    if (fclose(f) != 0)
        err = WITAN_EIO;
    return err;
}

/* A certificate for `subject_key` named `cn`, signed by `issuer_key` named
 * `issuer_cn` (itself when they are the same). */
static int make_cert(struct tls_rng *r, mbedtls_pk_context *subject_key,
                     const char *cn, mbedtls_pk_context *issuer_key,
                     const char *issuer_cn, bool ca, uint32_t serial,
                     unsigned char *pem)
{
    mbedtls_x509write_cert crt;
    mbedtls_mpi sn;
    char subject[128], issuer[128];
    snprintf(subject, sizeof subject, "CN=%s,O=Witan", cn);
    snprintf(issuer, sizeof issuer, "CN=%s,O=Witan", issuer_cn);
    mbedtls_x509write_crt_init(&crt);
    mbedtls_mpi_init(&sn);
    int rc = mbedtls_mpi_lset(&sn, (mbedtls_mpi_sint)serial);
    mbedtls_x509write_crt_set_version(&crt, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&crt, subject_key);
    mbedtls_x509write_crt_set_issuer_key(&crt, issuer_key);
    if (!rc)
        rc = mbedtls_x509write_crt_set_serial(&crt, &sn);
    if (!rc)
        rc = mbedtls_x509write_crt_set_subject_name(&crt, subject);
    if (!rc)
        rc = mbedtls_x509write_crt_set_issuer_name(&crt, issuer);
    if (!rc)
        rc = mbedtls_x509write_crt_set_validity(&crt, TLS_VALID_FROM,
                                                TLS_VALID_TO);
    if (!rc)
        rc = mbedtls_x509write_crt_set_basic_constraints(&crt, ca, ca ? 0 : -1);
    if (!rc)
        rc = mbedtls_x509write_crt_set_key_usage(
            &crt, ca ? MBEDTLS_X509_KU_KEY_CERT_SIGN
                     : MBEDTLS_X509_KU_DIGITAL_SIGNATURE);
    if (!rc)
        rc = mbedtls_x509write_crt_pem(&crt, pem, PEM_SIZE_MAX,
                                       mbedtls_ctr_drbg_random, &r->drbg);
    mbedtls_mpi_free(&sn);
    mbedtls_x509write_crt_free(&crt);
    return rc ? WITAN_ELIBRARY : WITAN_OK;
}

int cli_tls_testnet(const char *dir, int nodes)
{
    struct tls_rng r;
    mbedtls_pk_context ca_key;
    unsigned char pem[PEM_SIZE_MAX];
    char path[4096];
    int err = rng_init(&r);
    if (!err)
        err = gen_key(&r, &ca_key);
    if (!err)
        err = make_cert(&r, &ca_key, "witan-testnet-ca", &ca_key,
                        "witan-testnet-ca", true, 1, pem);
    if (!err) {
        snprintf(path, sizeof path, "%s/tls-ca.pem", dir);
        err = write_pem(path, pem, 0644);
    }
    for (int i = 0; !err && i < nodes; i++) {
        mbedtls_pk_context key;
        char cn[32];
        snprintf(cn, sizeof cn, "validator-%d", i);
        err = gen_key(&r, &key);
        if (!err)
            err = make_cert(&r, &key, cn, &ca_key, "witan-testnet-ca", false,
                            (uint32_t)i + 2, pem);
        if (!err) {
            snprintf(path, sizeof path, "%s/node%d/tls-cert.pem", dir, i);
            err = write_pem(path, pem, 0644);
        }
        if (!err && mbedtls_pk_write_key_pem(&key, pem, sizeof pem) != 0)
            err = WITAN_ELIBRARY;
        if (!err) {
            snprintf(path, sizeof path, "%s/node%d/tls-key.pem", dir, i);
            err = write_pem(path, pem, 0600);
        }
        if (!err) {
            /* Each node reads the CA from its own home. */
            snprintf(path, sizeof path, "%s/tls-ca.pem", dir);
            char *ca;
            size_t size;
            err = witan_read_file(path, PEM_SIZE_MAX, &ca, &size);
            if (!err) {
                snprintf(path, sizeof path, "%s/node%d/tls-ca.pem", dir, i);
                err = write_pem(path, (unsigned char *)ca, 0644);
                free(ca);
            }
        }
        mbedtls_platform_zeroize(pem, sizeof pem);
        mbedtls_pk_free(&key);
    }
    mbedtls_pk_free(&ca_key);
    rng_free(&r);
    return err;
}

int cli_tls_cert_name(const char *path, char *out, size_t out_size)
{
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    int err = mbedtls_x509_crt_parse_file(&crt, path) == 0 ? WITAN_OK
                                                            : WITAN_EIO;
    if (!err) {
        err = WITAN_ENOTFOUND;
        for (const mbedtls_x509_name *n = &crt.subject; n; n = n->next)
            if (n->oid.p && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0) {
                snprintf(out, out_size, "%.*s", (int)n->val.len,
                         (const char *)n->val.p);
                err = WITAN_OK;
                break;
            }
    }
    mbedtls_x509_crt_free(&crt);
    return err;
}
