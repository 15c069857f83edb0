#!/usr/bin/env bash
# Runs test_service.py (TAP) against the private cluster; scripts/test calls it. The afp package
# is taken from python/ in this repository unless it is installed.
. "$(dirname "$0")/../../../scripts/common.sh"
afp_need_packages python3-fastapi python3-uvicorn python3-httpx python3-multipart || exit 1
/usr/bin/python3 -c 'import afp' 2>/dev/null || export PYTHONPATH="$AFP_ROOT/python${PYTHONPATH:+:$PYTHONPATH}"
exec /usr/bin/python3 "$(dirname "$0")/test_service.py"
