#!/usr/bin/env bash
# Runs Python 3.10 with the given arguments: `python3.10` from PATH when it
# works, else the newest 3.10 that pyenv has installed.
set -euo pipefail
if python3.10 -c '' 2>/dev/null; then
  exec python3.10 "$@"
fi
root="${PYENV_ROOT:-$HOME/.pyenv}"
for candidate in $(ls -d "$root"/versions/3.10.*/bin/python3.10 2>/dev/null | sort -V -r); do
  exec "$candidate" "$@"
done
echo "error: Python 3.10 not found (looked for python3.10 on PATH and in $root/versions/3.10.*)" >&2
exit 1
