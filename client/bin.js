#!/usr/bin/env node
// The `qnabot-stream` command: the CLI bundled to plain JavaScript by `npm run build`
// (scripts/build-cli.js), so it needs neither TypeScript nor any installed package.
require("../dist/client/cli.js").run();
