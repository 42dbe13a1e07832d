#!/usr/bin/env node
// The `qnabot-stream` command: runs the TypeScript CLI through tsx, so no build step is needed.
require("tsx/cjs");
require("./cli.ts").run();
