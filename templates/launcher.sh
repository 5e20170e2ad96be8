#!/bin/sh
# rig {{RIG_VERSION}}: the committed launcher, written by "rig self install".
# Commit it together with .rig-tool/; then anyone runs "./rig …" with nothing installed.
# It runs, in order: a compiled rig for this OS from .rig-tool/bin/ (checksum checked),
# the bundle .rig-tool/rig.js with deno on PATH (version checked), with
# "npx deno@{{DENO_VERSION}}", with "uvx deno@{{DENO_VERSION}}". Update it with: ./rig self update
RIG_VERSION={{RIG_VERSION}}
DENO_VERSION={{DENO_VERSION}}
DENO_MIN={{DENO_MIN}}
case $0 in */*) here=${0%/*} ;; *) here=. ;; esac
tool=$here/.rig-tool
state=$here/.rig/launcher

if [ "$#" = 1 ] && [ "$1" = --version ]; then
  echo "rig $RIG_VERSION"
  exit 0
fi
# rig --help as the committed bundle prints it (written with it by rig self install);
# coloured when rig would colour it: stderr a terminal, NO_COLOR unset, TERM not dumb.
if [ "$#" = 1 ] && { [ "$1" = --help ] || [ "$1" = -h ]; }; then
  help=$tool/help.txt
  if [ -t 2 ] && [ -z "${NO_COLOR+set}" ] && [ "${TERM:-}" != dumb ]; then help=$tool/help-color.txt; fi
  if [ -f "$help" ]; then
    cat "$help"
    exit 0
  fi
fi

# The checksum of .rig-tool/$1 as listed in .rig-tool/SHA256SUMS.
listed_sum() {
  while read -r sum name; do
    if [ "${name#\*}" = "$1" ]; then echo "$sum"; return 0; fi
  done < "$tool/SHA256SUMS"
}

file_sum() {
  if command -v sha256sum >/dev/null 2>&1; then set -- "$(sha256sum "$1")"
  else set -- "$(shasum -a 256 "$1")"; fi
  echo "${1%% *}"
}

# Refuses (exit 3) to run .rig-tool/$1 unless it matches SHA256SUMS. A stamp newer
# than the file and the sums skips the hashing until either changes.
verify() {
  stamp=$state/verified-${1##*/}
  if [ "$stamp" -nt "$tool/$1" ] && [ "$stamp" -nt "$tool/SHA256SUMS" ]; then return 0; fi
  want=$(listed_sum "$1")
  got=$(file_sum "$tool/$1")
  if [ -z "$want" ] || [ "$want" != "$got" ]; then
    echo "error: \".rig-tool/$1\" does not match its checksum in .rig-tool/SHA256SUMS: refusing to run it" >&2
    echo "hint: Restore the committed copy (git checkout -- .rig-tool) or reinstall it: rig self update" >&2
    exit 3
  fi
  remember "$stamp" ok
}

remember() {
  if [ ! -d "$state" ]; then
    mkdir -p "$state" 2>/dev/null || return 0
    [ -f "$here/.rig/.gitignore" ] ||
      printf '# Written by rig: its caches and records are local.\n*\n' > "$here/.rig/.gitignore"
  fi
  echo "$2" > "$1" 2>/dev/null || :
}

export RIG_LAUNCHER_VERSION=$RIG_VERSION DENO_NO_UPDATE_CHECK=1 DENO_NO_PACKAGE_JSON=1

if [ -d "$tool/bin" ]; then
  case $(uname -sm) in
    "Linux x86_64") target=x86_64-unknown-linux-gnu ;;
    "Linux aarch64" | "Linux arm64") target=aarch64-unknown-linux-gnu ;;
    "Darwin x86_64") target=x86_64-apple-darwin ;;
    "Darwin arm64") target=aarch64-apple-darwin ;;
    *) target= ;;
  esac
  if [ -n "$target" ] && [ -f "$tool/bin/rig-$target" ]; then
    verify "bin/rig-$target"
    exec "$tool/bin/rig-$target" "$@"
  fi
fi

verify rig.js

# Deno on PATH, when it is at least DENO_MIN (the answer is remembered per deno binary).
old_deno=
if deno=$(command -v deno 2>/dev/null); then
  stamp=$state/deno
  seen=
  [ "$stamp" -nt "$deno" ] && read -r seen < "$stamp"
  if [ "$seen" != "$deno" ]; then
    version=$("$deno" --version 2>/dev/null) || version=
    version=${version#deno }
    version=${version%% *}
    major=${version%%.*}
    rest=${version#*.}
    minor=${rest%%.*}
    min_major=${DENO_MIN%%.*}
    min_rest=${DENO_MIN#*.}
    min_minor=${min_rest%%.*}
    case $major$minor in *[!0-9]* | "") major=0 minor=0 ;; esac
    if [ "$major" -gt "$min_major" ] || { [ "$major" = "$min_major" ] && [ "$minor" -ge "$min_minor" ]; }; then
      remember "$stamp" "$deno"
      seen=$deno
    else
      old_deno="deno $version on PATH is older than $DENO_MIN. "
    fi
  fi
  if [ "$seen" = "$deno" ]; then
    exec "$deno" run -A --no-config --quiet "$tool/rig.js" "$@"
  fi
fi
if command -v npx >/dev/null 2>&1; then
  exec npx --yes "deno@$DENO_VERSION" run -A --no-config --quiet "$tool/rig.js" "$@"
fi
if command -v uvx >/dev/null 2>&1; then
  exec uvx "deno@$DENO_VERSION" run -A --no-config --quiet "$tool/rig.js" "$@"
fi
echo "error: ${old_deno}rig needs Deno $DENO_MIN or newer to run, and found no way to get it" >&2
echo "hint: Install one of: Deno (https://deno.com, or: npm install -g deno), Node.js (rig then runs \"npx deno@$DENO_VERSION\") or uv (rig then runs \"uvx deno@$DENO_VERSION\")" >&2
exit 3
