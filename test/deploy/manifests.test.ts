import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config/index.js';
import { makeTempDir } from '../support/temp-dir.js';

// The committed renderings of the chart; scripts/check-deploy.sh fails when they drift from it.
// Only the fields these tests read are typed.
type Labels = Record<string, string>;
interface EnvVar { name: string; value?: string; valueFrom?: { secretKeyRef?: unknown; fieldRef?: { fieldPath: string } } }
interface Container {
  name: string;
  env: EnvVar[];
  ports: Array<{ name: string; containerPort: number }>;
  volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
  securityContext: unknown;
  resources?: { requests?: unknown };
  livenessProbe: { httpGet: unknown };
  readinessProbe: { httpGet: unknown };
  startupProbe: { httpGet: unknown };
}
interface Volume { name: string; secret?: { secretName: string }; persistentVolumeClaim?: { claimName: string } }
interface PodSpec { securityContext: unknown; automountServiceAccountToken: boolean; containers: Container[]; volumes: Volume[] }
interface IngressRule { from?: unknown[]; ports: Array<{ port: number | string; protocol: string }> }
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Labels };
  data?: Record<string, string>;
  spec: {
    replicas: number;
    strategy: { type: string; rollingUpdate: { maxUnavailable: number } };
    selector: { matchLabels: Labels };
    template: { metadata: { labels: Labels }; spec: PodSpec };
    ports: unknown[];
    minAvailable: number;
    policyTypes: string[];
    ingress: IngressRule[];
    endpoints: unknown[];
  };
}
const rendered = (name: string): Manifest[] =>
  parseAllDocuments(readFileSync(new URL(`../../deploy/kubernetes/${name}.yaml`, import.meta.url), 'utf8'))
    .map((d) => d.toJS() as Manifest)
    .filter(Boolean);
const shapes = { gateway: rendered('gateway'), sidecar: rendered('sidecar') };
const one = (ms: Manifest[], kind: string, name?: string): Manifest => {
  const found = ms.filter((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  expect(found, `${kind} ${name ?? ''}`).toHaveLength(1);
  return found[0]!;
};
const podSpec = (ms: Manifest[]) => one(ms, 'Deployment').spec.template.spec;
const flaggate = (ms: Manifest[]) => podSpec(ms).containers.find((c) => c.name === 'flaggate')!;

const tmp = makeTempDir();
afterAll(() => tmp.cleanup());

describe.each(Object.entries(shapes))('the %s manifests', (shape, ms) => {
  it('run every container as non-root, read-only, without privilege escalation, under seccomp RuntimeDefault', () => {
    const spec = podSpec(ms);
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(spec.containers.length).toBe(shape === 'sidecar' ? 2 : 1);
    for (const c of spec.containers) {
      expect(c.securityContext, c.name).toMatchObject({
        allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true,
        capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(c.resources?.requests, c.name).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    }
  });

  it('probe liveness on /healthz and readiness on /readyz of the control port', () => {
    const c = flaggate(ms);
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'control' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'control' });
    expect(c.startupProbe.httpGet).toEqual({ path: '/healthz', port: 'control' });
  });

  it('give each port its own Service selecting the pods', () => {
    const labels = one(ms, 'Deployment').spec.template.metadata.labels;
    for (const port of ['proxy', 'control']) {
      const svc = one(ms, 'Service', `flaggate-${port}`);
      expect(svc.spec.ports).toEqual([expect.objectContaining({ name: port, targetPort: port })]);
      expect(labels).toMatchObject(svc.spec.selector);
    }
  });

  it('take keys from read-only Secret volumes and no key material from environment variables', () => {
    const spec = podSpec(ms);
    const c = flaggate(ms);
    const secretVolumes = new Map<string, string>(spec.volumes.flatMap((v) => (v.secret ? [[v.name, v.secret.secretName] as const] : [])));
    const mounts = new Map(c.volumeMounts.map((m) => [m.name, m]));
    expect(mounts.get('audit-keys')).toMatchObject({ mountPath: '/etc/flaggate/audit-keys', readOnly: true });
    expect(mounts.get('tsa')).toMatchObject({ mountPath: '/var/lib/flaggate/tsa', readOnly: true });
    expect(secretVolumes.get('audit-keys')).toBe('flaggate-audit-keys');
    expect(secretVolumes.get('tsa')).toBe('flaggate-tsa');
    // Production mode loads only signed bundles: the key that verifies them is a file from its Secret.
    expect(mounts.get('policy-key')).toMatchObject({ mountPath: '/etc/flaggate/policy-key', readOnly: true });
    expect(secretVolumes.get('policy-key')).toBe('flaggate-policy-key');
    expect(c.env).toContainEqual({ name: 'FLAGGATE_POLICY_VERIFICATION_KEY', value: '/etc/flaggate/policy-key/key' });
    // Credentials are files too: no variable takes its value from a Secret.
    expect(c.env.filter((e) => e.valueFrom?.secretKeyRef)).toEqual([]);
    const fileVars = c.env.filter((e) => e.name.endsWith('_FILE'));
    expect(fileVars.length).toBeGreaterThan(0);
    for (const v of fileVars) {
      const mount = c.volumeMounts.find((m) => v.value!.startsWith(`${m.mountPath}/`));
      expect(mount, v.name).toMatchObject({ readOnly: true });
      expect(secretVolumes.has(mount!.name), v.name).toBe(true);
    }
    // Names such as FLAGGATE_POLICY_VERIFICATION_KEY may say KEY; no value may hold key material.
    expect(JSON.stringify(c.env.map((e) => e.value ?? null))).not.toMatch(/PRIVATE KEY|"d":|KEY/);
  });

  it('hold a configuration flaggate loads, in production mode, with the keyring on its Secret', () => {
    const configMap = one(ms, 'ConfigMap');
    expect(flaggate(ms).env).toContainEqual({ name: 'FLAGGATE_CONFIG', value: '/etc/flaggate/config/config.yaml' });
    const file = `${tmp.dir}/${shape}.yaml`;
    writeFileSync(file, configMap.data!['config.yaml']!);
    const keyVar = flaggate(ms).env.find((e) => e.name === 'FLAGGATE_POLICY_VERIFICATION_KEY')!;
    const config = loadConfig({ env: { FLAGGATE_CONFIG: file, FLAGGATE_CHAIN_ID: 'flaggate-7d9f8-x2x9q', FLAGGATE_UPSTREAM_POSTGRES_URL: 'postgres://flaggate@pg/flaggate', [keyVar.name]: keyVar.value! }, cwd: tmp.dir });
    expect(config.policy.verificationKey).toEqual(['/etc/flaggate/policy-key/key']);
    expect(config).toMatchObject({ mode: 'production', host: '0.0.0.0', dataDir: '/var/lib/flaggate', audit: { keysDir: '/etc/flaggate/audit-keys' } });
    expect(config.identity.devIssuer).toBe(false);
    expect(config.replicate.sinks).toContainEqual(expect.objectContaining({ type: 'postgres', required: true }));
    const ports = flaggate(ms).ports.map((p) => p.containerPort);
    expect(ports).toEqual([config.proxyPort, config.controlPort]);
  });

  it('ship the rules of docs/prometheus as the PrometheusRule, and scrape the control Service', () => {
    const shipped = parse(readFileSync(new URL('../../docs/prometheus/flaggate-alerts.yml', import.meta.url), 'utf8'));
    expect(one(ms, 'PrometheusRule').spec).toEqual(shipped);
    const monitor = one(ms, 'ServiceMonitor');
    expect(monitor.spec.endpoints).toEqual([expect.objectContaining({ port: 'control', path: '/metrics' })]);
    const control = one(ms, 'Service', 'flaggate-control');
    expect(control.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
    expect(one(ms, 'Service', 'flaggate-proxy').metadata.labels).not.toMatchObject(monitor.spec.selector.matchLabels);
  });
});

describe('the gateway manifests', () => {
  const ms = shapes.gateway;

  it('run 2+ replicas, each its own chain, all replicating into PostgreSQL, under a disruption budget', () => {
    const deployment = one(ms, 'Deployment');
    expect(deployment.spec.replicas).toBeGreaterThanOrEqual(2);
    expect(deployment.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    const env = flaggate(ms).env;
    expect(env).toContainEqual({ name: 'FLAGGATE_CHAIN_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
    expect(env).toContainEqual({ name: 'FLAGGATE_UPSTREAM_POSTGRES_URL_FILE', value: '/etc/flaggate/postgres/url' });
    expect(flaggate(ms).volumeMounts).toContainEqual({ name: 'postgres-url', mountPath: '/etc/flaggate/postgres', readOnly: true });
    const pdb = one(ms, 'PodDisruptionBudget');
    expect(pdb.spec.minAvailable).toBeGreaterThanOrEqual(1);
    expect(pdb.spec.minAvailable).toBeLessThan(deployment.spec.replicas);
    expect(deployment.spec.template.metadata.labels).toMatchObject(pdb.spec.selector.matchLabels);
  });

  it("admit only flaggate's pods to the platform's admin port", () => {
    const policy = one(ms, 'NetworkPolicy', 'flaggate-platform-admin');
    expect(policy.metadata.namespace).toBe('unleash');
    expect(policy.spec.policyTypes).toEqual(['Ingress']);
    expect(policy.spec.ingress).toHaveLength(1);
    const rule = policy.spec.ingress[0]!;
    expect(rule.ports).toEqual([{ port: 4242, protocol: 'TCP' }]);
    expect(rule.from).toEqual([
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'flaggate' } },
        podSelector: { matchLabels: one(ms, 'Deployment').spec.selector.matchLabels },
      },
    ]);
  });
});

describe('the sidecar manifests', () => {
  const ms = shapes.sidecar;

  it('keep one writer on a persistent ledger volume', () => {
    const deployment = one(ms, 'Deployment');
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.spec.strategy).toEqual({ type: 'Recreate' });
    const data = podSpec(ms).volumes.find((v) => v.name === 'data');
    expect(data?.persistentVolumeClaim?.claimName).toBe(one(ms, 'PersistentVolumeClaim').metadata.name);
  });

  it("admit other pods to flaggate's ports and the platform's public ports only", () => {
    const policy = one(ms, 'NetworkPolicy', 'flaggate');
    const admitted = policy.spec.ingress.flatMap((r) => r.ports.map((p) => p.port));
    const platform = podSpec(ms).containers.find((c) => c.name !== 'flaggate')!;
    expect(admitted).toEqual(['proxy', 'control', ...platform.ports.map((p) => p.name)]);
  });
});
