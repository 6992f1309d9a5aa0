#!/bin/sh
# Distributor's in-place update: the same as install.sh (apt upgrades in
# place; volkeyd restarts and its mappings and mounts stay).
exec sh "$(dirname "$0")/install.sh"
