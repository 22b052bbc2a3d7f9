#!/usr/bin/env bash
# Page tests need a real headless browser: Debian's chromium (or its headless shell).
# Installs the headless shell when neither is present and apt can be used; otherwise
# says so, and the browser tests skip with that reason.
if command -v chromium >/dev/null || command -v chromium-headless-shell >/dev/null; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian's chromium-headless-shell for the page tests" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium-headless-shell >/dev/null) \
    || echo "could not install chromium-headless-shell; the browser tests will skip" >&2
else
  echo "no chromium and no root apt-get; the browser tests will skip" >&2
fi
exit 0
