#!/usr/bin/env node
// The `qnabot-stream` command. An installed package runs the CLI bundled to plain JavaScript
// (`npm run build`, scripts/build-cli.js), needing neither TypeScript nor any other package; a
// clone of the repository, which has no build yet, runs the TypeScript source through tsx.
let cli;
try {
  cli = require("../dist/client/cli.js");
} catch (error) {
  if (error.code !== "MODULE_NOT_FOUND" || !String(error.message).includes("dist/client/cli.js")) throw error;
  require("tsx/cjs");
  cli = require("./cli.ts");
}
cli.run();
