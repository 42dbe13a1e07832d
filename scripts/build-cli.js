#!/usr/bin/env node
/**
 * Builds the `qnabot-stream` CLI (client/cli.ts) into one CommonJS file, dist/client/cli.js,
 * with its packages (ws, the AWS signer and credential chain) inside: the published package
 * then runs the CLI on plain Node, and a component consumer installs none of them.
 * esbuild stays external: the page builder the CLI never calls imports it, and it is a
 * dependency anyway (the components bundle Lambda code with it).
 */
"use strict";
const path = require("node:path");
const esbuild = require("esbuild");

const root = path.resolve(__dirname, "..");

esbuild
  .build({
    entryPoints: [path.join(root, "client", "cli.ts")],
    outfile: path.join(root, "dist", "client", "cli.js"),
    absWorkingDir: root,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    external: ["esbuild"],
    // ws loads these optional native speed-ups only when present.
    define: { "process.env.WS_NO_BUFFER_UTIL": '"1"', "process.env.WS_NO_UTF_8_VALIDATE": '"1"' },
    legalComments: "none",
    logLevel: "warning",
  })
  .catch(() => process.exit(1));
