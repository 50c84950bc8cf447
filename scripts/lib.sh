# Shared helpers for the scripts: sourced, not run. Each ensure_* installs what is missing, so a
# fresh machine needs nothing but Rust (rustup) and the package registries.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

need() { command -v "$1" >/dev/null 2>&1 || die "$1 is required: $2"; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

APT_UPDATED=""
apt_install() {
  need apt-get "install $* by hand on this system"
  if [ -z "$APT_UPDATED" ]; then as_root apt-get update -qq >/dev/null; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# The wasm target and the wasm-bindgen CLI at exactly the version Cargo.lock pins.
ensure_wasm_tools() {
  need cargo "install Rust with rustup"
  if ! rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$'; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
  fi
  local want
  want=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/"/,"",$3); print $3; exit}' "$ROOT/Cargo.lock")
  [ -n "$want" ] || die "wasm-bindgen is not in Cargo.lock"
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
    say "installing wasm-bindgen-cli $want, the task pane's build tool (once; about 6 minutes on 2 cores)"
    # Not --locked: the CLI's lock file pins versions some registry mirrors do not carry, so
    # that attempt fails on them with an alarming "failed to select a version"; resolving
    # afresh works everywhere.
    cargo install wasm-bindgen-cli --version "$want" --quiet
  fi
}

# xmllint for the manifest schema check.
ensure_xmllint() {
  command -v xmllint >/dev/null 2>&1 || { say "installing libxml2-utils"; apt_install libxml2-utils; }
}

# Debian's Chromium for the browser tests.
ensure_chromium() {
  [ -x /usr/bin/chromium ] || { say "installing chromium"; apt_install chromium; }
}

# Node packages of the browser tests (playwright-core drives the system Chromium).
ensure_node_modules() {
  need npm "install Node.js 20+ and npm"
  if [ ! -d "$ROOT/tests/browser/node_modules/playwright-core" ]; then
    say "installing the browser tests' npm packages"
    (cd "$ROOT/tests/browser" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# Whether a PostgreSQL server answers at $1.
postgres_answers() {
  local url="$1" hostport host port
  hostport=$(printf '%s' "$url" | sed -E 's#^[a-z]+://([^@/]*@)?([^/?]*).*#\2#')
  host=${hostport%%:*}; port=${hostport##*:}; [ "$port" = "$hostport" ] && port=5432
  (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}

# The one release build of the server and the tools (demo, bench, simulators): the same packages
# every time, so Cargo unifies dependency features the same way and reuses what it built.
build_release() {
  cargo build --release --quiet -p server -p tests --bins
}

# Where build_release puts the binaries.
release_dir() {
  printf '%s/release' "${CARGO_TARGET_DIR:-$ROOT/target}"
}
