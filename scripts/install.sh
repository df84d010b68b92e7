#!/bin/sh
# Installs the `segw` command for operators: a wrapper at PREFIX/bin/segw (default /usr/local)
# that runs this checkout's bin/segw.mjs with the node that runs this script. Nothing is
# downloaded (run it after `npm ci`); the checkout must stay where it is.
#
#   bash scripts/install.sh                   # /usr/local/bin/segw (root)
#   bash scripts/install.sh --prefix ~/.local # ~/.local/bin/segw
#   bash scripts/install.sh --uninstall       # removes the wrapper this script installed
set -eu

usage() {
  echo "usage: scripts/install.sh [--prefix DIR] [--uninstall]" >&2
  exit 2
}

prefix=/usr/local
uninstall=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || usage; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    --uninstall) uninstall=1; shift ;;
    -h|--help) echo "usage: scripts/install.sh [--prefix DIR] [--uninstall]"; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; usage ;;
  esac
done

repo=$(cd "$(dirname "$0")/.." && pwd)
target=$prefix/bin/segw
marker='# installed by segw scripts/install.sh'

if [ -e "$target" ] && ! grep -qF "$marker" "$target" 2>/dev/null; then
  echo "install.sh: $target exists and was not installed by this script; remove it first" >&2
  exit 1
fi

if [ "$uninstall" = 1 ]; then
  rm -f "$target"
  echo "removed $target"
  exit 0
fi

node=$(command -v node || true)
[ -n "$node" ] || { echo "install.sh: node is not on PATH (Node >= 20.5 is needed)" >&2; exit 1; }
[ -f "$repo/bin/segw.mjs" ] || { echo "install.sh: $repo/bin/segw.mjs is missing" >&2; exit 1; }
[ -d "$repo/node_modules" ] || { echo "install.sh: run npm ci in $repo first" >&2; exit 1; }

mkdir -p "$prefix/bin"
tmp=$(mktemp "$prefix/bin/.segw.XXXXXX")
cat > "$tmp" <<WRAPPER
#!/bin/sh
$marker from $repo
exec "$node" "$repo/bin/segw.mjs" "\$@"
WRAPPER
chmod 0755 "$tmp"
mv -f "$tmp" "$target"
echo "installed $target -> $repo/bin/segw.mjs"
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) echo "note: $prefix/bin is not on PATH" ;;
esac
