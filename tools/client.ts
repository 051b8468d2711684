// npm run client -- [--sample FILE.wav] [--seconds N] [--env-file PATH] [--stream]
// The remote check, as the original `python -m test.client`: target and key from `.env`
// (SMART_TURN_URL, else RUNPOD_TCP_HOST + RUNPOD_TCP_PORT; AUTH_KEY), one request, its answer; with
// --stream, the clip streamed to GET /stream and one predict.
import { explain, postRaw } from './lib/http.js';
import { AUDIO_HELP, AUDIO_OPTIONS, loadClip, number, parse, runMain } from './lib/cli.js';
import { loadSettings } from './lib/dotenv.js';
import { streamTurn, streamUrl } from './lib/stream.js';
import { target, UsageError } from './lib/target.js';

const HELP = `usage: npm run client -- [options]   (or bash scripts/client.sh [options])
Sends one clip to a Smart Turn server named in .env and prints the JSON answer.
${AUDIO_HELP}
  --env-file PATH  settings file. Default: .env in the current folder
  --timeout S      seconds to wait for the answer. Default 10
  --stream         stream the clip to GET /stream (20 ms int16 frames), then ask once
.env keys (the environment overrides the file):
  SMART_TURN_URL   full URL of the server or its /raw route; else
  RUNPOD_TCP_HOST, RUNPOD_TCP_PORT (default 8000)
  AUTH_KEY         sent as "Authorization: Key <AUTH_KEY>"`;

runMain(async () => {
  const { values } = parse({ ...AUDIO_OPTIONS, 'env-file': { type: 'string', default: '.env' }, stream: { type: 'boolean', default: false } });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const envFile = values['env-file'];
  const settings = loadSettings(envFile);
  const url = settings.get('SMART_TURN_URL');
  const host = settings.get('RUNPOD_TCP_HOST');
  const port = settings.get('RUNPOD_TCP_PORT');
  if (!url && !host) {
    throw new UsageError(
      `${settings.found ? `${envFile} has` : `no ${envFile} found, and the environment has`} neither SMART_TURN_URL nor RUNPOD_TCP_HOST. ` +
        `Write e.g.\n  RUNPOD_TCP_HOST=localhost\n  RUNPOD_TCP_PORT=8000\n  AUTH_KEY=dev\ninto ${envFile}, or pass --env-file.`,
    );
  }
  const key = settings.get('AUTH_KEY');
  const to = target(url ? url.value : `http://${host!.value}:${port?.value ?? '8000'}`, key?.value);
  const clip = loadClip(values);
  const origin = url ? `SMART_TURN_URL from ${url.source}` : `RUNPOD_TCP_HOST/PORT from ${host!.source}`;
  const where = values.stream ? `GET ${streamUrl(to, clip.rate)}` : `POST ${to.raw}`;
  console.error(`client: ${where} (${origin}; ${key ? `AUTH_KEY from ${key.source}` : 'no AUTH_KEY'}) with ${clip.description}`);
  const timeoutMs = number('timeout', values.timeout, 10, 0.001) * 1000;
  const streamed = values.stream ? await streamTurn(to, clip.samples, clip.rate, timeoutMs) : undefined;
  const outcome = streamed?.outcome ?? (await postRaw(to, clip.body, timeoutMs, clip.headers));
  if (!outcome.ok) {
    const keySource = key ? `AUTH_KEY in ${key.source}` : `AUTH_KEY in ${envFile}`;
    console.error(`client failed: ${explain(outcome, streamed ? { ...to, raw: streamUrl(to, clip.rate) } : to, keySource)}`);
    return 1;
  }
  console.log(JSON.stringify(outcome.answer));
  const { prediction, probability, metrics } = outcome.answer;
  console.error(
    `client: ${prediction === 1 ? 'turn complete' : 'turn incomplete'} (p=${probability.toFixed(3)}); ` +
      `inference ${(metrics.inference_time * 1000).toFixed(1)} ms, server ${(metrics.total_time * 1000).toFixed(1)} ms, round trip ${outcome.ms.toFixed(1)} ms` +
      (streamed ? ` from the predict (the ${streamed.frames} frames took ${streamed.sendMs.toFixed(0)} ms to send)` : ''),
  );
  return 0;
});
