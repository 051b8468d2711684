// np.save's format (version 1.0) for a float32 vector: what Pipecat's HttpSmartTurnAnalyzer posts.
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]; // \x93NUMPY v1.0

export function encodeNpy(samples: Float32Array): Buffer {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${samples.length},), }`;
  // NumPy pads the header with spaces to a multiple of 64 bytes, ending in a newline.
  const header = dict + ' '.repeat((64 - ((10 + dict.length + 1) % 64)) % 64) + '\n';
  const preamble = Buffer.alloc(10);
  Buffer.from(MAGIC).copy(preamble);
  preamble.writeUInt16LE(header.length, 8);
  const data = Buffer.alloc(samples.length * 4);
  for (let i = 0; i < samples.length; i++) data.writeFloatLE(samples[i]!, i * 4); // little-endian on any host
  return Buffer.concat([preamble, Buffer.from(header, 'latin1'), data]);
}
