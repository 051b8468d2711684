// np.save's format (version 1.0) for a float32 vector (what Pipecat's HttpSmartTurnAnalyzer posts) or
// an int16 one (half the bytes, which the server scales by 1/32768).
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]; // \x93NUMPY v1.0

export function encodeNpy(samples: Float32Array | Int16Array): Buffer {
  const int16 = samples instanceof Int16Array;
  const dict = `{'descr': '${int16 ? '<i2' : '<f4'}', 'fortran_order': False, 'shape': (${samples.length},), }`;
  // NumPy pads the header with spaces to a multiple of 64 bytes, ending in a newline.
  const header = dict + ' '.repeat((64 - ((10 + dict.length + 1) % 64)) % 64) + '\n';
  const preamble = Buffer.alloc(10);
  Buffer.from(MAGIC).copy(preamble);
  preamble.writeUInt16LE(header.length, 8);
  const data = Buffer.alloc(samples.length * samples.BYTES_PER_ELEMENT);
  // Little-endian on any host.
  if (int16) samples.forEach((v, i) => data.writeInt16LE(v, i * 2));
  else samples.forEach((v, i) => data.writeFloatLE(v, i * 4));
  return Buffer.concat([preamble, Buffer.from(header, 'latin1'), data]);
}
