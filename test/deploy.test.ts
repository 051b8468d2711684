// The deployment files are not run here (no Docker engine, no cluster); this keeps them consistent
// with the server they deploy: port, probes, drain time, GPU request, the engines the init container
// builds being the ones the server looks for, and the autoscaling metric being one a running server
// exports.
import { readdirSync, readFileSync } from 'node:fs';
import { expect } from 'chai';
import yaml from 'js-yaml';
import { GPU_BUCKETS } from '../ts/backends/tensorrt.js';
import { engineDir } from '../ts/startup/engines.js';
import { engineLocation } from '../ts/startup/select.js';
import { loadConfig } from '../ts/config.js';
import { parseArgs } from '../tools/build-engines.js';
import { startTestService } from './helpers/service.js';

type Doc = Record<string, any>;
const load = (file: string): Doc[] => yaml.loadAll(readFileSync(`deploy/k8s/${file}`, 'utf8')) as Doc[];
const env = (container: Doc): Record<string, string> =>
  Object.fromEntries(((container['env'] ?? []) as Doc[]).filter((e) => 'value' in e).map((e) => [e['name'], e['value']]));

const DEFAULTS = loadConfig({});
/** The variables loadConfig reads (it asks the environment for each, so a recording proxy lists them). */
const CONFIG_VARIABLES = (() => {
  const read = new Set<string>();
  loadConfig(new Proxy({}, { get: (_, name) => (typeof name === 'string' && read.add(name), undefined) }));
  return read;
})();

/** NAME=value settings of a Dockerfile's ENV instructions. */
function dockerEnv(text: string): Array<[string, string]> {
  const instructions = text.replace(/\\\n/g, ' ').split('\n').filter((line) => line.startsWith('ENV '));
  return instructions.flatMap((line) => [...line.slice(4).matchAll(/([A-Z_][A-Z0-9_]*)=("[^"]*"|\S+)/g)].map((m): [string, string] => [m[1]!, m[2]!.replace(/^"|"$/g, '')]));
}

/**
 * Whether Docker leaves `file` out of the build context under these .dockerignore lines: the last
 * matching pattern decides, `!` re-includes, `*` stays within a path segment, `**` spans segments,
 * and a pattern that matches a folder leaves out everything under it.
 */
function dockerIgnored(text: string): (file: string) => boolean {
  const patterns = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const negate = line.startsWith('!');
      const glob = (negate ? line.slice(1) : line).replace(/^\/+|\/+$/g, '');
      const source = glob
        .split(/(\*\*\/|\*\*|\*|\?)/)
        .map((part) => ({ '**/': '(.*/)?', '**': '.*', '*': '[^/]*', '?': '[^/]' })[part] ?? part.replace(/[.+^${}()|[\]\\]/g, '\\$&'))
        .join('');
      return { negate, re: new RegExp(`^${source}(/.*)?$`) };
    });
  return (file) => patterns.reduce((ignored, p) => (p.re.test(file) ? !p.negate : ignored), false);
}

describe('deploy', () => {
  const [deployment] = load('deployment-gpu.yaml');
  const pod = deployment!['spec']['template']['spec'];
  const server = (pod['containers'] as Doc[]).find((c) => c['name'] === 'server')!;

  it('the server container’s environment is a valid configuration', () => {
    const config = loadConfig(env(server));
    expect(config.backend).to.equal('tensorrt');
    expect(config.port).to.equal(DEFAULTS.port);
    expect(config.batchBuckets).to.equal(undefined); // TensorRT's own, GPU_BUCKETS, which build:engines builds too
  });

  it('probes readiness on /ready and liveness on /health, on the served port', () => {
    expect(server['ports'][0]).to.deep.include({ name: 'http', containerPort: DEFAULTS.port });
    expect(deployment!['spec']['template']['metadata']['annotations']['prometheus.io/port']).to.equal(String(DEFAULTS.port));
    expect(server['readinessProbe']['httpGet']).to.deep.equal({ path: '/ready', port: 'http' });
    expect(server['livenessProbe']['httpGet']).to.deep.equal({ path: '/health', port: 'http' });
  });

  it('gives the drain its SHUTDOWN_TIMEOUT_MS before Kubernetes kills the pod', () => {
    const drainSeconds = loadConfig(env(server)).shutdownTimeoutMs / 1000;
    const preStop = server['lifecycle']['preStop']['sleep']['seconds'] as number;
    expect(pod['terminationGracePeriodSeconds']).to.be.greaterThan(drainSeconds + preStop);
  });

  it('asks for one GPU and builds engines for it with the buckets it serves', () => {
    expect(server['resources']['limits']['nvidia.com/gpu']).to.equal(1);
    const init = pod['initContainers'][0] as Doc;
    // `command` would replace the image's entrypoint (NVIDIA's CUDA set-up); `args` replaces only its CMD.
    expect(init['command']).to.equal(undefined);
    const args = init['args'] as string[];
    expect(args.slice(0, 4)).to.deep.equal(['npm', 'run', 'build:engines', '--']);
    // Read as build-engines and the server read them: the plans land where the server looks for them.
    const built = parseArgs(args.slice(4), env(init));
    const served = engineLocation(loadConfig(env(server)));
    expect(built.onnx).to.equal(served.onnxPath);
    expect(engineDir(built.enginesDir, built.model, built.dtype)).to.equal(engineDir(served.enginesDir, served.model, served.dtype));
    expect(built.buckets).to.deep.equal([...(served.buckets ?? GPU_BUCKETS)]);
  });

  it('routes the Service to the named port and scales on a metric a running server exports', async () => {
    const [service] = load('service.yaml');
    expect(service!['spec']['ports'][0]).to.deep.include({ port: 8000, targetPort: 'http' });
    const [hpa] = load('hpa.yaml');
    expect(hpa!['spec']['scaleTargetRef']['name']).to.equal(deployment!['metadata']['name']);
    const metric = hpa!['spec']['metrics'][0]['pods']['metric']['name'] as string;
    expect(load('prometheus-adapter-rules.yaml')[0]!['data']['config.yaml']).to.include(metric);
    const svc = await startTestService();
    try {
      const text = await (await fetch(`${svc.url}/metrics`)).text();
      expect(text).to.match(new RegExp(`^# TYPE ${metric} gauge$`, 'm'));
      expect(text).to.match(new RegExp(`^${metric} 0$`, 'm'));
    } finally {
      await svc.stop();
    }
  });

  describe('one home for each default: deploy/ and scripts/start.sh set only what differs from ts/config.ts', () => {
    const settings: Array<{ where: string; name: string; value: string }> = [];
    for (const file of ['Dockerfile.cpu', 'Dockerfile.gpu']) {
      for (const [name, value] of dockerEnv(readFileSync(`deploy/${file}`, 'utf8'))) settings.push({ where: `deploy/${file}`, name, value });
    }
    for (const file of ['deployment-gpu.yaml']) {
      const pod = load(file)[0]!['spec']['template']['spec'];
      for (const container of [...(pod['initContainers'] ?? []), ...pod['containers']] as Doc[]) {
        for (const [name, value] of Object.entries(env(container))) settings.push({ where: `deploy/k8s/${file} ${container['name']}`, name, value });
      }
    }
    // start.sh's usage example included: a default shown as an example reads as a setting one must make.
    for (const m of readFileSync('scripts/start.sh', 'utf8').matchAll(/\b([A-Z][A-Z0-9_]*)=([^\s"$]+)/g)) settings.push({ where: 'scripts/start.sh', name: m[1]!, value: m[2]! });

    it('finds the settings it checks', () => {
      expect(CONFIG_VARIABLES).to.include.members(['PORT', 'MICRO_BATCH_WINDOW_MS', 'REQUEST_TIMEOUT_MS', 'BATCH_BUCKETS']);
      expect(settings.map((s) => s.name)).to.include.members(['BACKEND', 'SHUTDOWN_TIMEOUT_MS', 'ONNXRUNTIME_NODE_INSTALL', 'THRESHOLD']);
    });

    it('no setting repeats a default (a changed default would silently not apply there)', () => {
      const repeated = settings.filter(({ name, value }) => {
        if (!CONFIG_VARIABLES.has(name)) return false;
        const config = loadConfig({ [name]: value }); // throws for an invalid value, naming it
        if (name === 'BATCH_BUCKETS') return settings.some((s) => s.name === 'BACKEND' && s.value === 'tensorrt') && String(config.batchBuckets) === String(GPU_BUCKETS);
        return JSON.stringify(config) === JSON.stringify(DEFAULTS);
      });
      expect(repeated.map((s) => `${s.where}: ${s.name}=${s.value}`)).to.deep.equal([]);
    });

    it('a default the scripts must know (${NAME:-value}) is the one ts/config.ts has', () => {
      const uses = readdirSync('scripts')
        .filter((file) => file.endsWith('.sh'))
        .flatMap((file) => [...readFileSync(`scripts/${file}`, 'utf8').matchAll(/\$\{([A-Z_][A-Z0-9_]*):-([^}]*)\}/g)].map((m) => ({ file, name: m[1]!, value: m[2]! })))
        // A default computed from other variables (`${HF_HUB_CACHE:-${HF_HOME:-...}}`) is not a literal to compare.
        .filter((use) => CONFIG_VARIABLES.has(use.name) && !use.value.includes('$'));
      expect(uses.map((u) => u.name)).to.include('PORT');
      for (const use of uses) expect(loadConfig({ [use.name]: use.value }), `scripts/${use.file}: \${${use.name}:-${use.value}}`).to.deep.equal(DEFAULTS);
    });
  });

  it('the GPU image builds its own addon and fails unless it has the TensorRT path; .dockerignore keeps the host\'s out', () => {
    const text = readFileSync('deploy/Dockerfile.gpu', 'utf8');
    const lines = text.split('\n');
    const install = lines.findIndex((l) => /^RUN .*\bnpm ci\b/.test(l));
    expect(lines[install], 'the install that builds the addon').to.match(/^RUN SMART_TURN_REQUIRE_TENSORRT=1 npm ci /);
    expect(lines.findIndex((l) => l === 'COPY . .'), 'the whole context comes after the install').to.be.greaterThan(install);
    const ignored = dockerIgnored(readFileSync('.dockerignore', 'utf8'));
    for (const file of ['build/Release/smart_turn_native.node', 'node_modules/koa/package.json', '.cache/trt-standin/lib/libnvinfer.so.10',
      'engines/smart-turn-v2/bfloat16/b16.plan', '.git/HEAD', 'native/build/x.log']) {
      expect(ignored(file), file).to.equal(true);
    }
    for (const file of ['package.json', 'native/build.mjs', 'native/src/core/runner.cc', 'ts/main.ts', 'tools/build-engines.ts', 'engines/README.md']) {
      expect(ignored(file), file).to.equal(false);
    }
  });

  it('the images expose the port and start the server', () => {
    for (const file of ['Dockerfile.gpu', 'Dockerfile.cpu']) {
      const text = readFileSync(`deploy/${file}`, 'utf8');
      expect(text, file).to.match(new RegExp(`^EXPOSE ${DEFAULTS.port}$`, 'm'));
      expect(text, file).to.match(/^CMD \["npm", "start"\]$/m);
      expect(text, file).to.include('ONNXRUNTIME_NODE_INSTALL=skip');
    }
  });
});
