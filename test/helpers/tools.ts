// Running the operations tools and scripts as a user would (child processes), and the odd servers
// their failure paths need: one where nothing listens, one that accepts and never answers.
import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

// Settings a developer's shell may carry that would steer the tools away from the test's server.
const STEERING = ['AUTH_KEY', 'METRICS_AUTH_KEY', 'SMART_TURN_URL', 'PORT', 'RUNPOD_TCP_HOST', 'RUNPOD_TCP_PORT', 'MODEL_PATH', 'SMART_TURN_RUN_DIR'];

export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of STEERING) delete env[name];
  return { ...env, ...extra };
}

/** Runs `command args` asynchronously (the test's own server must keep answering), bounded by `timeoutMs`. */
export function run(command: string, args: string[], options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd ?? ROOT, env: cleanEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `tools/<name>.ts` through the repo's tsx, as the npm scripts and scripts/*.sh run it. */
export function runTool(name: string, args: string[], options: { env?: Record<string, string>; cwd?: string } = {}): Promise<Ran> {
  return run(TSX, [path.join(ROOT, 'tools', `${name}.ts`), ...args], options);
}

/** A loopback port nothing listens on (bound, then released). */
export async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Accepts connections, reads what is sent, never answers: for timeout paths. */
export async function silentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
