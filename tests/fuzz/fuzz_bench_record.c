// SPDX-License-Identifier: GPL-2.0-or-later
/* libFuzzer target: the benchmark's JSON read back. Each input is both the
 * module record `volkey bench` leaves for volkeyd's kernel_module = auto
 * (kmod_record_gain) and fio's JSON output that `volkey bench` parses into a
 * row (bench_fio_parse). A gain is a finite number, 0 when there is none; a
 * parsed row is complete, a refusal explains itself. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "host/kmod.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const kernels[] = { "6.1.0-56-amd64", "" };
	struct bench_row row = { 0 };
	struct errbuf e = { { 0 } };
	char *text;
	int r;

	if (size > 65536)
		return 0;
	text = malloc(size + 1);
	if (!text)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	for (size_t i = 0; i < sizeof(kernels) / sizeof(kernels[0]); i++) {
		double g = kmod_record_gain(text, kernels[i]);
		if (!isfinite(g) || g < 0)
			abort();
	}
	r = bench_fio_parse(text, &row, 1000.0, &e);
	if (r == 0 && (!row.done || row.ratio != -1))
		abort();
	if (r < 0 && (!e.msg[0] || row.done))
		abort();
	free(text);
	return 0;
}
