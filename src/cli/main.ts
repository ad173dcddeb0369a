#!/usr/bin/env node
// Entry of the `berth` command (package.json `bin`): a client of Berth's HTTP API only, run with the process's
// standard streams; it exits with the code the command ended with.
import { run } from './program.js';

const code = await run(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
process.exit(code);
