// What the server should answer for a body, decided by NumPy itself: np.load (allow_pickle=False)
// must accept the bytes, and then the array must be one the server serves (README "Accepted .npy"):
// a dtype np.save spells '<f4', '>f4', '<f8', '>f8', '<i2' or '>i2' ('=' for native order too), mono
// ((N,), (1, N) or (N, 1)), not empty, finite, and no bytes after the data (np.load ignores them).
import { execFileSync } from 'node:child_process';
import { PYTHON } from './numpy.js';

const ORACLE = `
import sys, io, json, ast, warnings
import numpy as np
from numpy.lib import format as F
warnings.simplefilter('ignore')
SERVED = {'<f4', '>f4', '<f8', '>f8', '<i2', '>i2', '=f4', '=f8', '=i2'}
def verdict(body):
    try:
        a = np.load(io.BytesIO(body), allow_pickle=False)
    except BaseException:
        return 'refused'
    if not isinstance(a, np.ndarray):
        return 'refused'
    major = body[6]
    n = 2 if major == 1 else 4
    start = 8 + n + int.from_bytes(body[8:8 + n], 'little')
    text = body[8 + n:start].decode('utf8' if major == 3 else 'latin1')
    descr = ast.literal_eval(F._filter_header(text) if major < 3 else text)['descr']
    served = (isinstance(descr, str) and descr in SERVED and (a.ndim == 1 or (a.ndim == 2 and 1 in a.shape))
              and a.size > 0 and bool(np.isfinite(a).all()) and len(body) == start + a.nbytes)
    return 'served' if served else 'loads-but-not-served'
json.dump([verdict(bytes.fromhex(b)) for b in json.load(sys.stdin)], sys.stdout)
`;

export type Verdict = 'served' | 'loads-but-not-served' | 'refused';

/** NumPy's verdict on each body, in one interpreter start. */
export function numpyVerdicts(bodies: readonly Buffer[]): Verdict[] {
  const input = JSON.stringify(bodies.map((b) => b.toString('hex')));
  return JSON.parse(execFileSync(PYTHON, ['-c', ORACLE], { input, maxBuffer: 1 << 28 }).toString()) as Verdict[];
}
