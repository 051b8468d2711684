// Worker threads from TypeScript sources (tsx) or compiled JavaScript alike. Node 20 does not carry
// tsx's loader into worker threads, so under tsx the worker is imported through tsx's own API.
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** Starts the worker module `name` (without extension) that sits beside the module `from`. */
export function startWorker(name: string, from: string, options: WorkerOptions = {}): Worker {
  if (from.endsWith('.ts')) {
    const entry = new URL(`./${name}.ts`, from).href;
    const boot = `import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(entry)}, ${JSON.stringify(from)}))`;
    return new Worker(boot, { ...options, eval: true });
  }
  return new Worker(new URL(`./${name}.js`, from), options);
}
