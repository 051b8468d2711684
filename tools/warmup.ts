// npm run warmup -- [--sample FILE.wav] [--seconds N] [--url URL]
// One request to the local server (SMART_TURN_URL, else 127.0.0.1:$PORT), printing its JSON answer.
import { explain, postRaw } from './lib/http.js';
import { AUDIO_HELP, AUDIO_OPTIONS, loadClip, number, parse, runMain } from './lib/cli.js';
import { localUrl, target } from './lib/target.js';

const HELP = `usage: npm run warmup -- [options]   (or bash scripts/warmup.sh [options])
Sends one clip to POST /raw and prints the server's JSON answer.
${AUDIO_HELP}
  --url URL       server or /raw URL. Default: $SMART_TURN_URL, else http://127.0.0.1:$PORT (8000)
  --timeout S     seconds to wait for the answer. Default 30 (the first request may be slow)
Env: AUTH_KEY (sent as "Authorization: Key <AUTH_KEY>").`;

runMain(async () => {
  const { values } = parse({ ...AUDIO_OPTIONS, url: { type: 'string' } });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const to = target(values.url ?? localUrl(), process.env['AUTH_KEY']);
  const clip = loadClip(values);
  console.error(`warmup: POST ${to.raw} with ${clip.description}`);
  const outcome = await postRaw(to, clip.body, number('timeout', values.timeout, 30, 0.001) * 1000, clip.headers);
  if (!outcome.ok) {
    console.error(`warmup failed: ${explain(outcome, to)}`);
    return 1;
  }
  console.log(JSON.stringify(outcome.answer));
  console.error(`warmup: ${outcome.ms.toFixed(1)} ms round trip`);
  return 0;
});
