// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target: every KMS answer parser (each operation, and the error
 * shape) on arbitrary bytes. Run bounded by `make fuzz` (part of make check). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/secret.h"
#include "keys/kms_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char type[128], msg[512];
	char *buf;

	if (size > KMS_ANSWER_MAX + 16)
		return 0;
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	for (int op = KMS_ENCRYPT; op <= KMS_DESCRIBE_KEY; op++) {
		struct kms_answer a = { 0 };
		memcpy(buf, data, size);
		buf[size] = '\0';
		if (kms_parse_answer((enum kms_op)op, buf, size, &a) == 0) {
			/* what a success promises */
			if ((op == KMS_DECRYPT || op == KMS_GENERATE_DATA_KEY) && (!a.plaintext || !a.plaintext_len))
				abort();
			if ((op == KMS_ENCRYPT || op == KMS_REENCRYPT) && (!a.blob || !a.blob_len))
				abort();
			if (!a.key_id[0])
				abort();
		}
		kms_answer_clear(&a);
	}
	memcpy(buf, data, size);
	buf[size] = '\0';
	(void)kms_parse_error(buf, size, type, sizeof(type), msg, sizeof(msg));
	free(buf);
	return 0;
}
