#!/bin/sh
# SPDX-License-Identifier: MIT
# Regenerate the build system (needs autoconf, automake, libtool, pkgconf, autoconf-archive).
set -e
cd "$(dirname "$0")"
exec autoreconf -fi
