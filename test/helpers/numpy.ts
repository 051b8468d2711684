// Real NumPy, through Debian's interpreter (`/usr/bin/python3` has python3-numpy; the python3 first on
// PATH may not). Used where the bytes must be exactly what np.save writes.
import { execFileSync } from 'node:child_process';

export const PYTHON = process.env['NUMPY_PYTHON'] ?? '/usr/bin/python3';

/**
 * Runs `code` with `np` and `io` imported; the code must leave the bytes to return in a variable
 * named `out` (bytes). Example: npy('out = save(np.zeros(4, np.float32))').
 */
export function python(code: string, input?: Buffer): Buffer {
  const program = [
    'import io, sys',
    'import numpy as np',
    'def save(a, version=None):',
    '    b = io.BytesIO()',
    '    np.save(b, a) if version is None else np.lib.format.write_array(b, a, version=version)',
    '    return b.getvalue()',
    code,
    'sys.stdout.buffer.write(out)',
  ].join('\n');
  return execFileSync(PYTHON, ['-c', program], { maxBuffer: 512 * 1024 * 1024, input });
}

/** np.save bytes of float32 `values` (sent to NumPy on stdin). */
export function saveFloat32(values: ArrayLike<number>): Buffer {
  const floats = Float32Array.from(values);
  return python('out = save(np.frombuffer(sys.stdin.buffer.read(), dtype="<f4"))', Buffer.from(floats.buffer));
}
