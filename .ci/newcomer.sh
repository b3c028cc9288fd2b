#!/usr/bin/env bash
# A newcomer's laptop, simulated on this machine (run as root): a plain user without root, without
# chromium (an empty, non-executable file bind-mounted over Debian's) and without internet; a fresh clone
# of this repository. Times `make check` (with and without the installs) and `make test`, whose summary
# must name the browser tests that did not run, why, and the fix.
set -u
REPO="$(cd "$(dirname "$0")/.." && pwd)"
SHARED="$(cd "$REPO/.." && pwd)/shared"
id newcomer >/dev/null 2>&1 || useradd -m newcomer
rm -rf /home/newcomer/repo /home/newcomer/.cache/ms-playwright
git clone -q "$REPO" /home/newcomer/repo
chown -R newcomer:newcomer /home/newcomer/repo
: > /tmp/no-chromium && chmod 644 /tmp/no-chromium
export SHARED
unshare -m bash -c '
mount --bind /tmp/no-chromium /usr/bin/chromium
exec setpriv --reuid=newcomer --regid=newcomer --init-groups env -i HOME=/home/newcomer PATH=/usr/local/bin:/usr/bin:/bin \
  PIP_FIND_LINKS="${PIP_FIND_LINKS:-}" MNIST_DIR="$SHARED/mnist" UNIPEN_DEV="$SHARED/unipen/dev-digits.jsonl.gz" bash -c "
cd ~/repo
echo \"whoami: \$(whoami); chromium: \$(test -x /usr/bin/chromium && echo present || echo absent)\"
start=\$(date +%s); make check 2>&1 | tail -3; echo \"make check (installs included): \$(( \$(date +%s) - start )) s\"
start=\$(date +%s); make check 2>&1 | tail -1; echo \"make check again (venv ready): \$(( \$(date +%s) - start )) s\"
start=\$(date +%s); make test 2>&1 | grep -v \"^SKIPPED\" | tail -8; echo \"make test: \$(( \$(date +%s) - start )) s\"
"'
