#!/bin/sh
# The browser the web's real-browser tests drive: Debian's Chromium and its WebDriver. Installs them when missing
# (root, or sudo without a password); does nothing when they are there.
set -e
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo -n"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver
