/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The status document (status_doc.h) in Prometheus' text exposition format:
 * what `volkey status --prometheus` prints and the node_exporter textfile
 * volkeyd keeps. Metric names and labels: docs/fleet.md#metrics. */
#pragma once

#include <stdio.h>
#include <json-c/json.h>

/* -errno when writing fails. */
int status_prom_write(struct json_object *doc, FILE *f);
/* Replaces path (a *.prom file) atomically: a new file in the same directory,
 * 0644, renamed over it. -ENOENT, writing nothing, when the directory does not
 * exist (node_exporter is not installed). */
int status_prom_write_file(struct json_object *doc, const char *path);
