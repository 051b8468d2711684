// np.save's format (version 1.0) for a vector: float32, what Pipecat's HttpSmartTurnAnalyzer posts, or
// int16 PCM (half the bytes; the server scales it by 1/32768).
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]; // \x93NUMPY v1.0

export type NpyDtype = '<f4' | '<i2';

export function encodeNpy(samples: Float32Array, dtype: NpyDtype = '<f4'): Buffer {
  const dict = `{'descr': '${dtype}', 'fortran_order': False, 'shape': (${samples.length},), }`;
  // NumPy pads the header with spaces to a multiple of 64 bytes, ending in a newline.
  const header = dict + ' '.repeat((64 - ((10 + dict.length + 1) % 64)) % 64) + '\n';
  const preamble = Buffer.alloc(10);
  Buffer.from(MAGIC).copy(preamble);
  preamble.writeUInt16LE(header.length, 8);
  let data: Buffer;
  if (dtype === '<i2') data = int16Pcm(samples);
  else {
    data = Buffer.alloc(samples.length * 4);
    for (let i = 0; i < samples.length; i++) data.writeFloatLE(samples[i]!, i * 4); // little-endian on any host
  }
  return Buffer.concat([preamble, Buffer.from(header, 'latin1'), data]);
}

/** Little-endian int16 PCM of [-1, 1] samples, rounded and clipped as PCM is (Pipecat reads it back as x / 32768). */
export function int16Pcm(samples: Float32Array): Buffer {
  const bytes = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) bytes.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(samples[i]! * 32768))), i * 2);
  return bytes;
}
