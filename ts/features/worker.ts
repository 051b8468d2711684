// Worker-thread side of FeaturePool: features as whisperLogMel computes them, sent back by transfer.
import { parentPort } from 'node:worker_threads';
import { whisperLogMel } from './mel.js';

export interface FeatureRequest {
  id: number;
  samples: Float32Array;
}

export type FeatureReply = { id: number; features: Float32Array } | { id: number; error: string };

parentPort?.on('message', ({ id, samples }: FeatureRequest) => {
  let reply: FeatureReply;
  try {
    reply = { id, features: whisperLogMel(samples) };
  } catch (error) {
    reply = { id, error: error instanceof Error ? error.message : String(error) };
  }
  parentPort!.postMessage(reply, 'features' in reply ? [reply.features.buffer as ArrayBuffer] : []);
});
