// Worker-thread side of FeaturePool: one WhisperLogMel per thread, features sent back by transfer.
import { parentPort } from 'node:worker_threads';
import { FEATURES_PER_CLIP, WhisperLogMel } from './mel.js';

export interface FeatureRequest {
  id: number;
  samples: Float32Array;
}

export type FeatureReply = { id: number; features: Float32Array } | { id: number; error: string };

const mel = new WhisperLogMel();
parentPort?.on('message', ({ id, samples }: FeatureRequest) => {
  let reply: FeatureReply;
  try {
    const features = new Float32Array(FEATURES_PER_CLIP);
    mel.compute(samples, features);
    reply = { id, features };
  } catch (error) {
    reply = { id, error: error instanceof Error ? error.message : String(error) };
  }
  parentPort!.postMessage(reply, 'features' in reply ? [reply.features.buffer as ArrayBuffer] : []);
});
