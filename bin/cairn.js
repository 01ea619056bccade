#!/usr/bin/env node
// Thin launcher: the CLI is written in TypeScript and compiled to dist/ by `npm run build`
// (which `npm ci` runs through the `prepare` script).
import '../dist/node/cli/main.js';
