#!/usr/bin/env bash
# Assemble an aarch64 sysroot with CPython, numpy and pytest from Debian's arm64 .debs, without
# touching the host's dpkg: a private apt configuration (arch arm64, empty dpkg status) under
# $SB_ARM_DIR/apt downloads the packages with their dependencies, dpkg-deb -x unpacks them into
# $SB_ARM_DIR/sysroot, and the links dpkg's maintainer scripts would have made (blas/lapack
# alternatives) are made by hand. Cached: a stamp records what was built; delete it to rebuild.
#
#   SB_ARM_DIR=build/arm tools/arm/sysroot.sh      prints the sysroot's Python version at the end
set -euo pipefail

: "${SB_ARM_DIR:?set SB_ARM_DIR}"
APT_DIR="$SB_ARM_DIR/apt"
SYSROOT="$SB_ARM_DIR/sysroot"
TRIPLET=aarch64-linux-gnu

die() { echo "sysroot.sh: ERROR: $*" >&2; exit 1; }

[ -r /etc/debian_version ] || die "not a Debian machine (no /etc/debian_version)"
DEBIAN_VERSION=$(cat /etc/debian_version)

# Private apt: the host's Debian sources, but arch arm64 and its own state, lists and cache.
setup_apt() {
    mkdir -p "$APT_DIR"/etc/{sources.list.d,preferences.d,apt.conf.d} "$APT_DIR"/state/lists/partial \
             "$APT_DIR"/cache/archives/partial
    : > "$APT_DIR/state/status"
    : > "$APT_DIR/etc/sources.list"
    rm -f "$APT_DIR"/etc/sources.list.d/*
    # Only Debian's own archives (deb.debian.org or a mirror of it): third-party repositories
    # rarely carry arm64 and are not needed.
    local n=0 f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        if grep -q 'debian' "$f" && ! grep -qE 'nodesource|google|docker|microsoft' "$f"; then
            cp "$f" "$APT_DIR/etc/sources.list.d/$(basename "$f" | sed 's/^sources\.list$/host.list/')"
            n=$((n + 1))
        fi
    done
    [ "$n" -gt 0 ] || die "no Debian apt sources found under /etc/apt"
    cat > "$APT_DIR/apt.conf" <<EOF
APT::Architecture "arm64";
APT::Architectures { "arm64"; };
APT::Install-Recommends "false";
Dir::Etc "$APT_DIR/etc";
Dir::Etc::sourcelist "$APT_DIR/etc/sources.list";
Dir::Etc::sourceparts "$APT_DIR/etc/sources.list.d";
Dir::Etc::preferencesparts "$APT_DIR/etc/preferences.d";
Dir::Etc::parts "$APT_DIR/etc/apt.conf.d";
Dir::Etc::trusted "/etc/apt/trusted.gpg";
Dir::Etc::trustedparts "/etc/apt/trusted.gpg.d";
Dir::State "$APT_DIR/state";
Dir::State::status "$APT_DIR/state/status";
Dir::Cache "$APT_DIR/cache";
Acquire::Check-Valid-Until "false";
Acquire::IndexTargets::deb::DEP-11 { DefaultEnabled "false"; };
Acquire::IndexTargets::deb::DEP-11-icons { DefaultEnabled "false"; };
Acquire::IndexTargets::deb::DEP-11-icons-small { DefaultEnabled "false"; };
Acquire::IndexTargets::deb::DEP-11-icons-hidpi { DefaultEnabled "false"; };
Acquire::IndexTargets::deb::DEP-11-icons-large { DefaultEnabled "false"; };
Acquire::IndexTargets::deb::DEP-11-icons-large-hidpi { DefaultEnabled "false"; };
Debug::NoLocking "true";
EOF
}

xapt() { APT_CONFIG="$APT_DIR/apt.conf" "$@"; }

# The default python3 of this Debian release (bookworm: 3.11), read from its arm64 python3 deb.
python_version() {
    xapt apt-cache depends python3 | sed -n 's/^ *Depends: python3\.\([0-9]*\)$/3.\1/p' | head -n1
}

STAMP="$SYSROOT/.sparsebench-sysroot"
if [ -f "$STAMP" ] && [ -x "$SYSROOT/usr/bin/python3" ] && grep -qx "debian=$DEBIAN_VERSION" "$STAMP"; then
    echo "sysroot: cached ($SYSROOT, $(grep '^packages=' "$STAMP"))"
    exit 0
fi

setup_apt
echo "sysroot: apt-get update (arm64 indexes, private state under $APT_DIR)"
# --error-on=any: an unreachable mirror is an error, never a silently empty index.
xapt apt-get update -q --error-on=any || die "apt-get update for arm64 failed (is the Debian mirror reachable?)"
PYV=$(python_version)
[ -n "$PYV" ] || die "cannot determine the arm64 python3 version from the apt indexes"
PACKAGES="python$PYV libpython$PYV-dev python3-numpy python3-pytest libgomp1 libstdc++6"
echo "sysroot: Debian $DEBIAN_VERSION, python $PYV; downloading $PACKAGES and dependencies"
rm -f "$APT_DIR"/cache/archives/*.deb
xapt apt-get install -qq -y --download-only $PACKAGES || die "downloading arm64 packages failed"
ls "$APT_DIR"/cache/archives/*.deb >/dev/null 2>&1 || die "no .deb downloaded"

rm -rf "$SYSROOT"
mkdir -p "$SYSROOT"
for deb in "$APT_DIR"/cache/archives/*.deb; do
    dpkg-deb -x "$deb" "$SYSROOT"
done
# update-alternatives never ran: provide libblas.so.3 / liblapack.so.3 where the loader looks.
LIBDIR="$SYSROOT/usr/lib/$TRIPLET"
for lib in libblas.so.3 liblapack.so.3; do
    if [ ! -e "$LIBDIR/$lib" ]; then
        cand=$(cd "$LIBDIR" && ls -d */"$lib" 2>/dev/null | sort | head -n1)
        [ -n "$cand" ] || die "no $lib in any alternative directory under $LIBDIR"
        ln -sf "$cand" "$LIBDIR/$lib"
        echo "sysroot: $lib -> $cand"
    fi
done
[ -x "$SYSROOT/usr/bin/python$PYV" ] || die "python$PYV missing from the sysroot"
ln -sf "python$PYV" "$SYSROOT/usr/bin/python3"
{
    echo "debian=$DEBIAN_VERSION"
    echo "python=$PYV"
    echo "packages=$PACKAGES"
    echo "debs=$(ls "$APT_DIR"/cache/archives/*.deb | wc -l)"
} > "$STAMP"
echo "sysroot: ready ($SYSROOT: $(du -sh "$SYSROOT" | cut -f1), $(grep '^debs=' "$STAMP"))"
