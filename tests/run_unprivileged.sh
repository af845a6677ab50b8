#!/usr/bin/env bash
# Runs a program as user nobody (65534) with no supplementary groups; as a non-root user it just
# runs it, which is unprivileged already.
set -euo pipefail
if [ "$(id -u)" -eq 0 ]; then
  exec setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"
fi
exec "$@"
