// A terminal a test types into, as a person would: a private tmux server (Debian `tmux`) running bash in a window of
// a fixed size; commands are typed with send-keys and the screen is read with capture-pane.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { eventually } from './eventually.js';
import { assertNoSecretIn } from './secret-values.js';

const execFileAsync = promisify(execFile);

export interface Terminal {
  /** Types `command` after clearing the screen, waits for it to end; its exit code and the screen then. */
  run(command: string, limitMs?: number): Promise<{ exitCode: number; screen: string }>;
  /** Types `command` and Enter, and returns at once (for a command to watch or interrupt). */
  type(command: string): Promise<number>;
  /**
   * Waits for the command `type` started (by its number) to end; its exit code and the screen then. The screen may
   * hold no secret the leak watch knows (secret-values.ts).
   */
  ended(which: number, limitMs?: number): Promise<{ exitCode: number; screen: string }>;
  /** Presses keys, in tmux's names (`C-c`, `Enter`). */
  press(...keys: string[]): Promise<void>;
  /** The screen as it is now (wrapped lines joined). */
  screen(): Promise<string>;
  /** Reads the screen until `pattern` shows; returns the match. */
  waitFor(pattern: RegExp, what: string, limitMs?: number): Promise<RegExpMatchArray>;
  close(): Promise<void>;
}

export interface TerminalOptions {
  /** The environment of the shell (PATH, HOME, ...); nothing else of the test's environment reaches it. */
  env: Record<string, string>;
  cwd: string;
  columns?: number;
  rows?: number;
}

export async function startTerminal(options: TerminalOptions): Promise<Terminal> {
  const socket = `berth-test-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const tmux = async (...args: string[]) => (await execFileAsync('tmux', ['-L', socket, '-f', '/dev/null', ...args], { env: { ...options.env, TERM: 'xterm-256color' } })).stdout;
  // The first command starts the server with this environment; the shell inherits it, with no start-up files.
  await tmux(
    'new-session', '-d', '-s', 'cli', '-x', String(options.columns ?? 200), '-y', String(options.rows ?? 50), '-c', options.cwd,
    'bash --norc --noprofile -i',
  );
  await tmux('set-option', '-g', 'history-limit', '5000');
  let typed = 0;
  const terminal: Terminal = {
    async type(command) {
      const which = ++typed;
      // `clear` first, so the screen holds this command's output only; the exit code follows a marker at the end.
      await tmux('send-keys', '-t', 'cli', '-l', `clear; ${command}; echo "__ended_${which}__$?"`);
      await tmux('send-keys', '-t', 'cli', 'Enter');
      return which;
    },
    async ended(which, limitMs = 120_000) {
      const match = await terminal.waitFor(new RegExp(`__ended_${which}__(\\d+)`), `the end of command ${which}`, limitMs);
      const screen = await terminal.screen();
      assertNoSecretIn(screen, `the terminal after command ${which}`);
      return { exitCode: Number(match[1]), screen: screen.slice(0, screen.indexOf(`__ended_${which}__`)) };
    },
    async run(command, limitMs) {
      return terminal.ended(await terminal.type(command), limitMs);
    },
    async press(...keys) {
      await tmux('send-keys', '-t', 'cli', ...keys);
    },
    screen: () => tmux('capture-pane', '-p', '-J', '-t', 'cli'),
    async waitFor(pattern, what, limitMs = 120_000) {
      return eventually(what, async () => pattern.exec(await terminal.screen()) ?? undefined, limitMs);
    },
    async close() {
      await tmux('kill-server').catch(() => undefined);
    },
  };
  return terminal;
}
