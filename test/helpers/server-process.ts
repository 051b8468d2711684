// The real server process (ts/main.ts) on a loopback port, for tests that need signals, exits or a
// backend chosen by the environment: started with `env`, ready once its warm-up is done, its JSON
// log lines collected.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  lines: Array<Record<string, unknown>>;
  /** Settles once the process has exited and its output has all been read. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'ts/main.ts'], {
    env: { ...process.env, HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Array<Record<string, unknown>> = [];
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const ready = new Promise<string>((resolve, reject) => {
    let port = 0;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      lines.push(entry);
      if (typeof entry['port'] === 'number' && entry['msg'] === 'listening; warming up') port = entry['port'];
      if (String(entry['msg']).startsWith('warm-up done')) resolve(`http://127.0.0.1:${port}`);
    });
    exit.then(({ code, signal }) => reject(new Error(`server exited (${code ?? signal}) before it was ready`)));
  });
  return { child, url: await ready, lines, exit };
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
