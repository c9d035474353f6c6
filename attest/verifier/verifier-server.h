/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* lanternd's HTTP front (libmicrohttpd, a pool of threads): routes, body limits, the admin token.
 *
 *   GET  /v1/nonce                    a fresh single-use nonce
 *   POST /v1/enroll                   EK certificate + AK public -> credential challenge
 *   POST /v1/activate                 the activated credential -> machine enrolled
 *   POST /v1/attest                   quote, signature, PCRs, event log -> verdict (+ secret on pass)
 *   GET  /v1/machines/<id>            enrollment state
 *   POST /v1/machines/<id>/golden     `lantern predict --json` output (admin)
 *   POST /v1/machines/<id>/secret     {"secret": base64} (admin)
 * Admin requests carry "Authorization: Bearer <token>". */

#include <netinet/in.h>
#include <stddef.h>

#include "verifier-service.h"

typedef struct verifier_server verifier_server;

int verifier_server_start(verifier_service *svc, const struct sockaddr_in *addr, unsigned threads,
                          const char *admin_token, verifier_server **ret, char *errbuf, size_t errlen);
/* The port actually bound (when 0 was asked). */
unsigned verifier_server_port(verifier_server *srv);
verifier_server *verifier_server_stop(verifier_server *srv);
