#!/usr/bin/env bash
# Replays the Dockerfile's install steps without a Docker engine, in a temporary directory:
#   deps stage:  package.json + package-lock.json, `npm ci --omit=dev --ignore-scripts`
#   runtime:     every `COPY <src> <dest>` of the Dockerfile (read from it, so the two cannot drift)
# then runs the installed CLI as the image would: `--version`, `version`, and `check-config` on the
# bundled config, and checks that the production install is complete (native codecs load) and lean
# (no devDependencies). Needs only the npm registry. Exits non-zero on any failure.
#
#   bash scripts/check-image-install.sh            # KEEP=1 keeps the temporary directory
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
dockerfile="$repo/Dockerfile"
fail() { echo "check-image-install: FAIL: $*" >&2; exit 1; }

command -v node >/dev/null || fail "node is not on PATH (run: export PATH=\$PWD/node_modules/.bin:\$PATH after npm ci)"
command -v npm >/dev/null || fail "npm is not on PATH"
node -e 'process.exit(process.features.typescript ? 0 : 1)' \
  || fail "node $(node --version) cannot strip types: use Node 24 (the image's base is node:24-slim)"

root="$(mktemp -d "${TMPDIR:-/tmp}/logferry-image.XXXXXX")"
cleanup() { if [ "${KEEP:-}" = 1 ]; then echo "kept $root"; else rm -rf "$root"; fi; }
trap cleanup EXIT

# The runtime stage's WORKDIR (the last WORKDIR in the file); absolute destinations map under $root.
workdir="$(grep -E '^WORKDIR ' "$dockerfile" | tail -1 | awk '{print $2}')"
[ -n "$workdir" ] || fail "no WORKDIR in the Dockerfile"
app="$root$workdir"
mkdir -p "$app"

echo "== deps stage: npm ci --omit=dev in $app"
cp "$repo/package.json" "$repo/package-lock.json" "$app/"
(cd "$app" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error) \
  || fail "npm ci --omit=dev failed"

echo "== runtime stage: the Dockerfile's COPY instructions"
copies=0
while read -r -a words; do
  args=()
  for w in "${words[@]:1}"; do
    case "$w" in --from=*) continue 2 ;; --*) ;; *) args+=("$w") ;; esac
  done
  [ ${#args[@]} -ge 2 ] || fail "cannot read: ${words[*]}"
  dest="${args[-1]}"
  case "$dest" in /*) target="$root$dest" ;; *) target="$app/$dest" ;; esac
  for src in "${args[@]:0:${#args[@]}-1}"; do
    [ -e "$repo/$src" ] || fail "COPY source $src does not exist"
    if [ -d "$repo/$src" ]; then
      mkdir -p "$target" && cp -R "$repo/$src/." "$target/"
    else
      case "$dest" in */) mkdir -p "$target" ;; *) mkdir -p "$(dirname "$target")" ;; esac
      cp "$repo/$src" "$target"
    fi
    echo "   $src -> $dest"
    copies=$((copies + 1))
  done
done < <(grep -E '^COPY ' "$dockerfile")
[ "$copies" -gt 0 ] || fail "no COPY instructions found"
# .dockerignore keeps these out of the build context
find "$app" -name '*.test.ts' -delete
find "$app/src" "$app/bin" -name node_modules -prune -exec rm -rf {} + 2>/dev/null || true

echo "== the install is production-only and complete"
for dev in typescript @biomejs/biome kubernetes-models; do
  [ ! -e "$app/node_modules/$dev" ] || fail "devDependency $dev was installed by npm ci --omit=dev"
done
(cd "$app" && node -e '
  const need = ["kafkajs", "yargs", "yaml", "pino", "@sinclair/typebox", "lz4-napi", "snappy"];
  Promise.all(need.map((m) => import(m))).then(
    () => console.log("   loaded: " + need.join(", ")),
    (e) => { console.error(e.message); process.exit(1); });
') || fail "a production dependency does not load (a native codec without a prebuilt binary?)"

config="$(grep -E '^CMD ' "$dockerfile" | tail -1 | grep -oE '/etc/[^"]+\.ya?ml')"
[ -n "$config" ] || fail "the CMD names no bundled config under /etc"
entry="$(grep -E '^ENTRYPOINT ' "$dockerfile" | tail -1 | grep -oE '/app/bin/[^"]+')"
[ -n "$entry" ] || fail "the ENTRYPOINT names no /app/bin script"
cli="$root$entry"

echo "== the CLI, run from the install (cwd /, as in the image)"
out="$(cd / && node "$cli" --version)" || fail "logferry --version exited non-zero"
echo "   --version: $out"
expected="$(node -p "require('$repo/package.json').version")"
[ "$out" = "$expected" ] || fail "--version printed '$out', expected '$expected'"
(cd / && node "$cli" version) || fail "logferry version exited non-zero"
(cd / && env -u KAFKA_BROKERS -u KAFKA_TOPIC -u LOGFERRY_SERVICE node "$cli" check-config "$root$config") \
  || fail "check-config rejected the bundled config $config"
echo "check-image-install: ok"
