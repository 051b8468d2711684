// The real server process (ts/main.ts) on a loopback port, for tests that need signals, exits or a
// backend chosen by the environment: started with `env`, its JSON log lines collected, and waited
// for by what it logs rather than by how long it takes.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export type LogLine = Record<string, unknown>;

export interface SpawnedServer {
  child: ChildProcess;
  lines: LogLine[];
  /** Settles once the process has exited and its output has all been read. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first log line whose msg starts with `prefix`; rejects if the process exits first. */
  logged(prefix: string): Promise<LogLine>;
}

export interface ServerProcess extends SpawnedServer {
  url: string;
}

/** Starts the process; nothing is awaited (for tests of start-up itself). */
export function spawnServerProcess(env: Record<string, string>): SpawnedServer {
  const child = spawn(process.execPath, ['--import', 'tsx', 'ts/main.ts'], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: LogLine[] = [];
  const waiting: Array<{ prefix: string; resolve: (line: LogLine) => void }> = [];
  const closed = new Promise<void>((resolve) => child.stdout!.on('close', resolve));
  createInterface({ input: child.stdout! }).on('line', (text) => {
    const line = JSON.parse(text) as LogLine;
    lines.push(line);
    for (const w of waiting.filter((w) => String(line['msg']).startsWith(w.prefix))) w.resolve(line);
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => closed.then(() => resolve({ code, signal }))),
  );
  const logged = (prefix: string): Promise<LogLine> => {
    const seen = lines.find((l) => String(l['msg']).startsWith(prefix));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      waiting.push({ prefix, resolve });
      exit.then(({ code, signal }) => reject(new Error(`server exited (${code ?? signal}) before logging "${prefix}"`)));
    });
  };
  return { child, lines, exit, logged };
}

/** A server that has finished warming up, and its URL. */
export async function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const server = spawnServerProcess(env);
  const listening = await server.logged('listening; warming up');
  await server.logged('warm-up done');
  return { ...server, url: `http://127.0.0.1:${listening['port'] as number}` };
}

/** Stops a server (SIGTERM) and waits for it to exit. */
export async function stopServerProcess(server: ServerProcess): Promise<void> {
  server.child.kill('SIGTERM');
  await server.exit;
}

export async function queueDepth(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^smart_turn_queue_depth (\d+)/m.exec(text)?.[1] ?? -1);
}
