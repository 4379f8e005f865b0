#!/usr/bin/env sh
# Copies the pinned npm packages into Django's static files; nothing is loaded from a CDN.
set -eu
cd "$(dirname "$0")/.."
dest=src/zhidu/web/static/vendor
mkdir -p "$dest/bootstrap" "$dest/bootstrap-icons/fonts" "$dest/htmx" "$dest/echarts"
cp node_modules/bootstrap/dist/css/bootstrap.min.css "$dest/bootstrap/"
cp node_modules/bootstrap/dist/js/bootstrap.bundle.min.js "$dest/bootstrap/"
cp node_modules/bootstrap-icons/font/bootstrap-icons.min.css "$dest/bootstrap-icons/"
cp node_modules/bootstrap-icons/font/fonts/* "$dest/bootstrap-icons/fonts/"
cp node_modules/htmx.org/dist/htmx.min.js "$dest/htmx/"
cp node_modules/echarts/dist/echarts.min.js "$dest/echarts/"
