// The one way from a request's audio to an answer, for every transport (POST /raw, GET /stream):
// a place in the queue first, then the family's preparation, then the batch. A transport decodes its
// input and turns the outcome into its own message; what happens in between is the same for all.
import type { Batcher, BatchResult } from './batcher.js';
import type { Config } from './config.js';
import type { Metrics, Transport } from './metrics.js';
import type { Clip, Preparer } from './model/family.js';

export interface PredictDeps {
  config: Config;
  preparer: Preparer;
  batcher: Batcher;
  metrics: Metrics;
}

/** The answer's fields, exactly as Pipecat's HttpSmartTurnAnalyzer reads them from /raw. */
export interface Prediction {
  prediction: 0 | 1;
  probability: number;
  metrics: { inference_time: number; total_time: number };
}

export interface Predicted {
  answer: Prediction;
  result: BatchResult;
}

/**
 * Answers one prediction. `audio` gives the 16 kHz samples and is called once, right after the queue
 * place is taken and before anything is awaited: a refused request costs no resampling, and a stream
 * sees exactly the audio that arrived before its predict. `arrived` (performance.now()) starts
 * `total_time`; `signal` aborts a request whose client has gone. Rejects with the batcher's and the
 * preparer's ServeErrors (QUEUE_FULL, SHUTTING_DOWN, DEADLINE_EXCEEDED, CLIENT_GONE, BACKEND_FAILED).
 */
export async function predict(
  deps: PredictDeps,
  audio: () => Float32Array,
  arrived: number,
  signal: AbortSignal,
  transport: Transport,
): Promise<Predicted> {
  const { config, preparer, batcher, metrics } = deps;
  const place = batcher.reserve();
  let clip: Clip;
  try {
    clip = await preparer.prepare(audio());
  } catch (error) {
    place.cancel();
    throw error;
  }
  const result = await place.submit(clip, signal);
  metrics.prediction(transport);
  return {
    result,
    answer: {
      prediction: result.probability > config.threshold ? 1 : 0,
      probability: result.probability,
      metrics: { inference_time: result.inferenceTime, total_time: (performance.now() - arrived) / 1000 },
    },
  };
}
