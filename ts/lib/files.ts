// File helpers shared by the Hub download (checksums) and the TensorRT engine manifests (model hash).
import type { Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** Feeds a file's bytes into `hash`, streamed: model files are hundreds of MB. */
export async function hashFile(file: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
}
