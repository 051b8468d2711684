// The deployment files are not run here (no Docker engine, no cluster); this keeps them consistent
// with the server they deploy: port, probes, drain time, GPU request, the engines the init container
// builds being the ones the server looks for, and the autoscaling metric being one a running server
// exports.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import yaml from 'js-yaml';
import { engineLocation } from '../ts/backends/select.js';
import { engineDir } from '../ts/backends/tensorrt.js';
import { loadConfig } from '../ts/config.js';
import { parseArgs } from '../tools/build-engines.js';
import { startTestService } from './helpers/service.js';

type Doc = Record<string, any>;
const load = (file: string): Doc[] => yaml.loadAll(readFileSync(`deploy/k8s/${file}`, 'utf8')) as Doc[];
const env = (container: Doc): Record<string, string> =>
  Object.fromEntries((container['env'] as Doc[]).filter((e) => 'value' in e).map((e) => [e['name'], e['value']]));

describe('deploy', () => {
  const [deployment] = load('deployment-gpu.yaml');
  const pod = deployment!['spec']['template']['spec'];
  const server = (pod['containers'] as Doc[]).find((c) => c['name'] === 'server')!;

  it('the server container’s environment is a valid configuration', () => {
    const config = loadConfig(env(server));
    expect(config.backend).to.equal('tensorrt');
    expect(config.port).to.equal(8000);
    expect(config.batchBuckets).to.deep.equal([16, 32, 64]);
  });

  it('probes readiness on /ready and liveness on /health, on the served port', () => {
    expect(server['ports'][0]).to.deep.include({ name: 'http', containerPort: 8000 });
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
    const command = init['command'] as string[];
    expect(command.slice(0, 4)).to.deep.equal(['npm', 'run', 'build:engines', '--']);
    // Read as build-engines and the server read them: the plans land where the server looks for them.
    const built = parseArgs(command.slice(4), env(init));
    const served = engineLocation(loadConfig(env(server)));
    expect(built.onnx).to.equal(served.onnxPath);
    expect(engineDir(built.enginesDir, built.model, built.dtype)).to.equal(engineDir(served.enginesDir, served.model, served.dtype));
    expect(built.buckets).to.deep.equal(served.buckets);
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

  it('the images expose the port and start the server', () => {
    for (const file of ['Dockerfile.gpu', 'Dockerfile.cpu']) {
      const text = readFileSync(`deploy/${file}`, 'utf8');
      expect(text, file).to.match(/^EXPOSE 8000$/m);
      expect(text, file).to.match(/^CMD \["npm", "start"\]$/m);
      expect(text, file).to.include('ONNXRUNTIME_NODE_INSTALL=skip');
    }
  });
});
