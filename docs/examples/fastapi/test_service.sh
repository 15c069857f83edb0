#!/usr/bin/env bash
# Runs test_service.py (TAP) against the private cluster; scripts/test calls it.
. "$(dirname "$0")/../../../scripts/common.sh"
exec /usr/bin/python3 "$(dirname "$0")/test_service.py"
