#!/bin/bash
# rig-args: --timeout 5
# rig-expect: exit 124
# Runner self-test: a script that outlives its time limit is stopped and reported as 124.
echo "sleeping past the limit on purpose"
sleep 120
