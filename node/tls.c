/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS configurations for the node's listeners and dialers, from the
 * certificate, key and CA the config names (paths relative to the home).
 * One function serves validator links (both sides authenticate, chaining to
 * tls_ca) and the client API and HTTP gateway (the node proves itself with
 * the same certificate; clients authenticate by the signatures on what they
 * submit, so they show no certificate).
 */
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include "node/internal.h"

int node_tls_config(const struct node *n, enum node_tls_side side,
                    const char *peer_name, nng_tls_config **out)
{
    const struct node_config *c = n->cfg;
    char path[3][4096], *pem[3] = {NULL, NULL, NULL};
    const char *names[3] = {c->tls_cert, c->tls_key, c->tls_ca};
    /* The client API's server side asks for no client certificate, so it
     * needs no CA. */
    int files = side == NODE_TLS_API_SERVER ? 2 : 3;
    int err = WITAN_OK;
    *out = NULL;
    for (int i = 0; i < files && !err; i++) {
        size_t size;
        if (names[i][0] == '/')
            snprintf(path[i], sizeof path[i], "%s", names[i]);
        else
            snprintf(path[i], sizeof path[i], "%s/%s", n->home, names[i]);
        err = witan_read_file(path[i], 64 * 1024, &pem[i], &size);
        if (err)
            WITAN_ERROR("node", "cannot read TLS file %s: %s", path[i],
                        witan_err_message(err));
    }
    int rc = 0;
    if (!err) {
        rc = nng_tls_config_alloc(out, side == NODE_TLS_PEER_CLIENT
                                           ? NNG_TLS_MODE_CLIENT
                                           : NNG_TLS_MODE_SERVER);
        if (!rc)
            rc = nng_tls_config_own_cert(*out, pem[0], pem[1], NULL);
        if (!rc && side != NODE_TLS_API_SERVER)
            rc = nng_tls_config_ca_chain(*out, pem[2], NULL);
        if (!rc)
            rc = nng_tls_config_auth_mode(*out, side == NODE_TLS_API_SERVER
                                                    ? NNG_TLS_AUTH_MODE_NONE
                                                    : NNG_TLS_AUTH_MODE_REQUIRED);
        if (!rc && peer_name)
            rc = nng_tls_config_server_name(*out, peer_name);
        if (rc) {
            WITAN_ERROR("node", "TLS configuration refused: %s",
                        nng_strerror(rc));
            if (*out)
                nng_tls_config_free(*out);
            *out = NULL;
            err = WITAN_ECONFIG;
        }
    }
    for (int i = 0; i < 3; i++)
        free(pem[i]);
    return err;
}
