/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parsing KMS answers (JSON 1.1 protocol) with json-c, strictly: the fields an
 * operation needs must be there with the right types, unknown fields are
 * ignored, blobs must be canonical base64. A "Plaintext" member is decoded
 * straight from the (secret) response buffer into secret memory and blanked in
 * place before json-c sees the document, so no heap copy of it is ever made. */
#pragma once

#include <stddef.h>
#include <stdbool.h>

enum kms_op {
	KMS_ENCRYPT,
	KMS_DECRYPT,
	KMS_GENERATE_DATA_KEY,
	KMS_REENCRYPT,
	KMS_DESCRIBE_KEY,
};
const char *kms_op_name(enum kms_op op);

#define KMS_ANSWER_MAX (64 * 1024)
#define KMS_BLOB_MAX 6144

struct kms_answer {
	unsigned char *blob;       /* CiphertextBlob, malloc'ed */
	size_t blob_len;
	unsigned char *plaintext;  /* Plaintext, secret memory */
	size_t plaintext_len;
	char key_id[512];          /* KeyId (key ARN) */
	char source_key_id[512];   /* ReEncrypt's SourceKeyId */
	/* DescribeKey */
	char key_state[48];
	char key_spec[48];
	char key_usage[48];
	bool multi_region;
};
void kms_answer_clear(struct kms_answer *a);

/* body is the response buffer (len bytes, NUL-terminated), modified in place.
 * -EBADMSG for malformed, truncated or incomplete answers. */
int kms_parse_answer(enum kms_op op, char *body, size_t len, struct kms_answer *ret);
/* An error answer: type is what follows the last '#' of "__type"; the message
 * comes from "message" or "Message". -EBADMSG when the body is not that shape. */
int kms_parse_error(const char *body, size_t len, char *type, size_t type_n, char *msg, size_t msg_n);
