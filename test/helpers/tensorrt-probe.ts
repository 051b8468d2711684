// A child process for test/trt-standin.test.ts: loads the addon as the server does, TensorRT from
// TENSORRT_LIB_DIR (read by ts/config.ts) if set, and prints one JSON line: its status(), and, given a
// folder argument, what asking for TensorRT from that folder as well then answers.
//   node --import tsx test/helpers/tensorrt-probe.ts [other folder]
import { loadConfig } from '../../ts/config.js';
import { tryLoadNative } from '../../ts/lib/native.js';

const native = tryLoadNative(loadConfig().tensorrtLibDir);
const other = process.argv[2];
if (!native.addon) {
  console.log(JSON.stringify({ reason: native.reason }));
} else {
  const status = native.addon.status();
  const again = other === undefined ? undefined : tryLoadNative(other);
  console.log(JSON.stringify({ status, again: again === undefined ? undefined : again.addon ? 'accepted' : again.reason }));
}
