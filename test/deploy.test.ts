// The deployment files are not run here (no Docker engine, no cluster); this keeps them consistent
// with the server they deploy: port, probes, drain time, GPU request, autoscaling metric.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import yaml from 'js-yaml';
import { loadConfig } from '../ts/config.js';

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
    expect(init['command'].join(' ')).to.include('build:engines');
    expect(init['command'].join(' ')).to.include('--engines-dir /engines');
    expect(env(init)['BATCH_BUCKETS']).to.equal(env(server)['BATCH_BUCKETS']);
    expect(env(init)['DTYPE']).to.equal(env(server)['DTYPE']);
  });

  it('routes the Service to the named port and scales on a metric the server exports', () => {
    const [service] = load('service.yaml');
    expect(service!['spec']['ports'][0]).to.deep.include({ port: 8000, targetPort: 'http' });
    const [hpa] = load('hpa.yaml');
    expect(hpa!['spec']['scaleTargetRef']['name']).to.equal(deployment!['metadata']['name']);
    const metric = hpa!['spec']['metrics'][0]['pods']['metric']['name'];
    expect(metric).to.equal('smart_turn_queue_depth');
    expect(readFileSync('ts/metrics.ts', 'utf8')).to.include(`name: '${metric}'`);
    expect(load('prometheus-adapter-rules.yaml')[0]!['data']['config.yaml']).to.include(metric);
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
