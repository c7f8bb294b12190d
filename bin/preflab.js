#!/usr/bin/env node
// The `preflab` command line: a thin launcher for the bundled CLI (npm run build makes dist/cli.cjs).
"use strict";
require("../dist/cli.cjs").main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`preflab: ${err && err.message ? err.message : String(err)}\n`); process.exitCode = 1; },
);
