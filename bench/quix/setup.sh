#!/usr/bin/env bash
# Installs the Quix Streams contender's Python packages (requirements.txt: pinned, with
# hashes; PyPI wheels only) into a virtualenv under ~/.cache/auditor-tools/ and prints the
# path of its python. Used by bench/run.sh on first use of the `quix` contender.
# Idempotent; instant once installed. Reinstalls when requirements.txt changes.
#
# requirements.txt is generated from requirements.in with pip-tools:
#   pip-compile --generate-hashes --strip-extras --no-header -o requirements.txt requirements.in
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
version=$(sed -n 's/^quixstreams==\([^ ]*\).*/\1/p' "$here/requirements.txt")
[[ -n $version ]] || { echo "setup.sh: no quixstreams pin in $here/requirements.txt" >&2; exit 1; }
cache="${AUDITOR_TOOLS_CACHE:-$HOME/.cache/auditor-tools}"
venv="$cache/quix-venv-$version"
stamp=$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)
if [[ -f $venv/.complete && $(cat "$venv/.complete") == "$stamp" ]] && "$venv/bin/python" -c '' 2>/dev/null; then
  echo "$venv/bin/python"
  exit 0
fi
echo "setup.sh: installing Quix Streams $version into $venv (pip, pinned and hashed)" >&2
rm -rf "$venv"
mkdir -p "$cache"
# Debian's python3 needs python3-venv (scripts/install-deps.sh) for this.
python3 -m venv "$venv" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes --only-binary :all: \
  -r "$here/requirements.txt" >&2
"$venv/bin/python" -c 'import quixstreams, sys; print("setup.sh: quixstreams", quixstreams.__version__, "on Python", sys.version.split()[0], file=sys.stderr)'
echo "$stamp" >"$venv/.complete"
echo "$venv/bin/python"
