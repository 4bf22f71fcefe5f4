#!/usr/bin/env bash
# Regenerates docs/demo-page.png, the README's picture of `cssim demo --serve`:
# the page in headless Chromium at 1280×720 after the whole guided demo. Needs
# chromium and chromium-driver (Debian packages of those names).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --test integration web::screenshot_after_the_guided_demo -- --ignored --exact --nocapture
