// Shared by the benchmarks (bench/) and the tests that check what they measure.
import { execFileSync } from 'node:child_process';

/**
 * An .npy (format 1.0, '<f4', shape (N,)) of exactly `bytes` bytes: the 128-byte header np.save writes
 * for a 1-D array, then N = (bytes - 128) / 4 samples of a quiet tone with a little noise.
 */
export function npyBody(bytes: number): Buffer {
  if (bytes < 132 || bytes % 4 !== 0) throw new RangeError(`an .npy body of ${bytes} bytes cannot hold whole float32 samples`);
  const samples = (bytes - 128) / 4;
  const header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${samples},), }`.padEnd(128 - 10 - 1) + '\n';
  const body = Buffer.alloc(bytes);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(body);
  body.writeUInt16LE(header.length, 8);
  body.write(header, 10, 'latin1');
  const data = new Float32Array(body.buffer, body.byteOffset + 128, samples);
  let seed = 1;
  for (let i = 0; i < samples; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    data[i] = 0.1 * Math.sin(i / 20) + 0.01 * (seed / 0x7fffffff - 0.5);
  }
  return body;
}

/** A comma-separated list of numbers from the command line: "1,4,16". */
export function numbers(list: string): number[] {
  return list.split(',').map(Number);
}

/** Whether `taskset` is there to pin servers and load generators to their own cores. */
function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Pins this process (the load generator, all its threads) to CPU 1, leaving CPU 0 to the server, when
 * `wanted` and taskset is there; says so when it is not. Returns whether it pinned.
 */
export function pinLoadGenerator(wanted: boolean): boolean {
  if (!wanted) return false;
  if (!hasTaskset()) {
    console.error('taskset not found: running unpinned');
    return false;
  }
  execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  return true;
}
