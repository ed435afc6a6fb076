/* SPDX-License-Identifier: Apache-2.0 */
/*
 * witan keys new|show: create a key file, or print a key file's public key
 * and address. The seed is never printed.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "crypto/crypto.h"

static const char usage[] =
    "usage: witan keys new --out FILE [--type ed25519|secp256k1] [--json]\n"
    "       witan keys show FILE [--json]\n"
    "\n"
    "new   writes a fresh key pair to FILE with mode 0600 (never overwrites).\n"
    "      The default type is ed25519; validators must use ed25519.\n"
    "show  prints the key's type, public key and account address. A key\n"
    "      file that group or others can read is refused.\n";

static const struct cli_opt new_opts[] = {
    {"--out", true, false},
    {"--type", true, false},
    {"--json", false, false},
    {NULL, false, false},
};
static const struct cli_opt show_opts[] = {
    {"--json", false, false},
    {NULL, false, false},
};

static void print_key(const wcrypto_keypair *kp, const char *path, int json)
{
    char pub_hex[2 * WCRYPTO_PUBKEY_SIZE_MAX + 1];
    char addr_hex[2 * WCRYPTO_ADDRESS_SIZE + 1];
    uint8_t addr[WCRYPTO_ADDRESS_SIZE];
    wcrypto_address(&kp->pub, addr);
    witan_hex_encode(kp->pub.bytes, kp->pub.size, pub_hex);
    witan_hex_encode(addr, sizeof addr, addr_hex);
    if (json) { /* a path may hold quotes: written as a JSON string */
        printf("{\"file\":");
        witan_json_write_string(stdout, path);
        printf(",\"type\":\"%s\",\"pubkey\":\"%s\",\"address\":\"%s\"}\n",
               wcrypto_key_type_name(kp->pub.type), pub_hex, addr_hex);
    } else
        printf("file:    %s\ntype:    %s\npubkey:  %s\naddress: %s\n", path,
               wcrypto_key_type_name(kp->pub.type), pub_hex, addr_hex);
}

int cli_keys(int argc, char **argv)
{
    if (argc < 2 || cli_wants_help(argc, argv)) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *verb = argv[1], *path = NULL, *type_name;
    bool is_new = strcmp(verb, "new") == 0;
    if (!is_new && strcmp(verb, "show") != 0) {
        fprintf(stderr, "witan keys: unknown verb '%s'\n%s", verb, usage);
        return 2;
    }
    const struct cli_opt *opts = is_new ? new_opts : show_opts;
    if (cli_args_check(argc, argv, 2, opts, is_new ? 0 : 1,
                       is_new ? "keys new" : "keys show"))
        return 2;
    if (is_new)
        path = cli_flag(argc, argv, "--out");
    else
        cli_positional(argc, argv, 2, opts, 0, &path);
    if (!path) {
        fprintf(stderr, "witan keys %s: a key file (%s) is required\n%s",
                verb, is_new ? "--out FILE" : "FILE", usage);
        return 2;
    }
    type_name = cli_flag(argc, argv, "--type");
    if (!type_name)
        type_name = "ed25519";
    int json = cli_has_flag(argc, argv, "--json");

    wcrypto_keypair kp;
    int err;
    if (is_new) {
        enum wcrypto_key_type type;
        if (wcrypto_key_type_parse(type_name, &type) != 0) {
            fprintf(stderr,
                    "witan keys new: --type '%s' is invalid (ed25519 or "
                    "secp256k1)\n",
                    type_name);
            return 2;
        }
        err = wcrypto_keypair_generate(type, &kp);
        if (err)
            return cli_fail("generating a key", err);
        err = wcrypto_keyfile_write(path, &kp);
        if (err) {
            wcrypto_keypair_wipe(&kp);
            fprintf(stderr, "witan keys new: %s: %s\n", path,
                    err == WITAN_EEXIST ? "file exists; keys are never "
                                          "overwritten"
                                        : witan_err_message(err));
            return 1;
        }
    } else {
        err = wcrypto_keyfile_read(path, &kp);
        if (err == WITAN_EKEYPERM) {
            fprintf(stderr,
                    "witan keys show: %s: group or others can access this key "
                    "file; run chmod 600 %s\n",
                    path, path);
            return 1;
        }
        if (err) {
            fprintf(stderr, "witan keys show: %s: %s\n", path,
                    witan_err_message(err));
            return 1;
        }
    }
    print_key(&kp, path, json);
    wcrypto_keypair_wipe(&kp);
    return 0;
}
