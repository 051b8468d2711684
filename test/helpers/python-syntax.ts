// Text near a .npy header dict, mutated at random with pieces of Python syntax and whitespace that change
// how it tokenizes and evaluates: the corpus the header readers are checked against Python with.
const PIECES = [' ', '\t', '\f', '\n', '\r', '#', '\\', '\\\n', 'L', ' L', "'", '"', "'''", '(', ')', ',', ':', '{', '}', '[', ']', '0', '1', '16', '_', 'x', 'j', '.', '-', '+', 'b', 'r', 'u', 'f', 'True', 'None', '\v', '\xa0', 'é', "'descr': '<f4', ", "'shape': (16,), ", '(16)', '((16,))', '0x10', '1_6', '016', '\\x3c', "'<' 'f4'", '#c\n', '\n ', '\n\t', ' \\\n', 'set()', '...', '1+2j', '-1', '=f4', '>f4', '<f8', '<i2'];

export const DICT = "{'descr': '<f4', 'fortran_order': False, 'shape': (16,), }";

/** `count` texts: DICT, a few spaces and a newline, then one to three random edits; the same for a seed. */
export function mutatedHeaders(count: number, seed: number): string[] {
  const random = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    let header = `${DICT}${' '.repeat(Math.floor(random() * 8))}\n`;
    for (let edit = 1 + Math.floor(random() * 3); edit > 0; edit--) {
      const at = Math.floor(random() * (header.length + 1));
      const piece = PIECES[Math.floor(random() * PIECES.length)]!;
      const op = random();
      if (op < 0.35) header = header.slice(0, at) + piece + header.slice(at + piece.length);
      else if (op < 0.8) header = header.slice(0, at) + piece + header.slice(at);
      else header = header.slice(0, at) + header.slice(at + 1 + Math.floor(random() * 3));
    }
    out.push(header);
  }
  return out;
}

/** Every run of up to three characters of `alphabet`, before, after and inside a small dict. */
export function runsAroundDict(alphabet: readonly string[]): string[] {
  const runs: string[] = [''];
  for (let length = 1; length <= 3; length++) {
    for (const run of runs.filter((r) => r.length === length - 1)) for (const c of alphabet) runs.push(run + c);
  }
  return runs.flatMap((run) => [`${run}{'a': (1,)}`, `{'a': (1,)}${run}`, `{'a':${run}(1${run},)}`]);
}
