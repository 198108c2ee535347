// The files a kubelet Node is made of, and the pod routes between Nodes: pure renderers.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parse } from 'yaml';
import {
  cniTemplate,
  containerdConfig,
  initScript,
  type KubeNodeFiles,
  kubeletConfig,
  kubeletKubeconfig,
  NODE_PRIVATE_PATHS,
} from '../../src/lab/kubenode/config.ts';
import { podRoutes } from '../../src/lab/kubenode/routes.ts';

const files: KubeNodeFiles = {
  dir: '/lab/nodes/a-gw1',
  name: 'a-gw1',
  ip: '198.18.1.10',
  server: 'https://198.18.1.2:6443',
  caCert: '/lab/cp-a/ca.crt',
  clientCert: '/lab/cp-a/node-a-gw1.crt',
  clientKey: '/lab/cp-a/node-a-gw1.key',
  cgroupRoot: '/mcgwl-agw1',
  sandboxImage: 'localhost/mcgw/pause:3.10',
  labels: { 'topology.kubernetes.io/zone': 'z1', 'mcgw.io/candidate': 'true' },
  kubelet: '/cache/kubelet',
  cniBinDir: '/usr/lib/cni',
};

describe('kubelet Node files', () => {
  it('containerd: private paths, the local sandbox image, restricted oom_score_adj, the CNI template', () => {
    const toml = containerdConfig(files);
    assert.match(toml, /^root = "\/var\/lib\/containerd"$/m);
    assert.match(toml, /^\s+address = "\/run\/containerd\/containerd.sock"$/m);
    assert.match(toml, /sandbox_image = "localhost\/mcgw\/pause:3.10"/);
    assert.match(toml, /restrict_oom_score_adj = true/);
    assert.match(toml, /SystemdCgroup = false/);
    assert.match(toml, /conf_template = "\/lab\/nodes\/a-gw1\/cni.template"/);
  });

  it('CNI: bridge without masquerade, host-local from the podCIDR kubelet passes', () => {
    const conf = JSON.parse(cniTemplate()) as { plugins: Record<string, unknown>[] };
    const bridge = conf.plugins[0] as {
      type: string;
      ipMasq: boolean;
      ipam: { type: string; ranges: unknown };
    };
    assert.equal(bridge.type, 'bridge');
    assert.equal(bridge.ipMasq, false);
    assert.equal(bridge.ipam.type, 'host-local');
    assert.deepEqual(bridge.ipam.ranges, [[{ subnet: '{{.PodCIDR}}' }]]);
  });

  it('kubelet: its address, cgroup root, runtime socket, webhook authn/z', () => {
    const c = parse(kubeletConfig(files)) as Record<string, unknown>;
    assert.equal(c.kind, 'KubeletConfiguration');
    assert.equal(c.address, '198.18.1.10');
    assert.equal(c.cgroupRoot, '/mcgwl-agw1');
    assert.equal(c.cgroupDriver, 'cgroupfs');
    assert.equal(c.containerRuntimeEndpoint, 'unix:///run/containerd/containerd.sock');
    assert.deepEqual(c.authorization, { mode: 'Webhook' });
    const kc = parse(kubeletKubeconfig(files)) as { clusters: { cluster: { server: string } }[] };
    assert.equal(kc.clusters[0]!.cluster.server, 'https://198.18.1.2:6443');
  });

  it('init: binds every private path, hides pod netns, runs containerd and kubelet with the Node identity', () => {
    const sh = initScript(files);
    for (const p of NODE_PRIVATE_PATHS)
      assert.ok(sh.includes(`mount --bind '/lab/nodes/a-gw1/fs${p}' '${p}'`), p);
    assert.match(sh, /mount -t tmpfs .* \/run\/netns/);
    assert.match(sh, /--hostname-override='a-gw1'/);
    assert.match(sh, /--node-ip='198.18.1.10'/);
    assert.match(sh, /--node-labels='topology.kubernetes.io\/zone=z1,mcgw.io\/candidate=true'/);
  });

  it('init: quotes paths that hold shell characters', () => {
    const sh = initScript({ ...files, dir: "/tmp/it's here" });
    assert.ok(sh.includes(`'/tmp/it'\\''s here/containerd.toml'`));
  });
});

describe('podRoutes', () => {
  const nodes = [
    { name: 'a', ip: '198.18.1.10', podCIDR: '198.18.64.0/24' },
    { name: 'b', ip: '198.18.1.11', podCIDR: '198.18.65.0/24' },
    { name: 'c', ip: '198.18.1.12' },
    { name: 'd', ip: '198.18.1.13', podCIDR: 'not a cidr' },
  ];

  it('routes every other Node podCIDR via its InternalIP; skips itself and unallocated ones', () => {
    assert.deepEqual(podRoutes(nodes, '198.18.1.10'), [{ dst: '198.18.65.0/24', via: '198.18.1.11' }]);
    assert.deepEqual(podRoutes(nodes, '198.18.1.2'), [
      { dst: '198.18.64.0/24', via: '198.18.1.10' },
      { dst: '198.18.65.0/24', via: '198.18.1.11' },
    ]);
  });

  it('property: never a route to itself, one route per allocated other Node, sorted', () => {
    const node = fc.record({
      ip: fc.integer({ min: 1, max: 250 }).map((i) => `198.18.1.${i}`),
      net: fc.option(fc.integer({ min: 0, max: 255 })),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(node, { selector: (n) => n.ip, maxLength: 12 }),
        fc.integer({ min: 1, max: 250 }),
        (ns, s) => {
          const self = `198.18.1.${s}`;
          const input = ns.map((n, i) => ({
            name: `n${i}`,
            ip: n.ip,
            ...(n.net === null ? {} : { podCIDR: `198.18.${n.net}.0/24` }),
          }));
          const routes = podRoutes(input, self);
          assert.ok(routes.every((r) => r.via !== self));
          assert.equal(routes.length, input.filter((n) => n.ip !== self && n.podCIDR).length);
          assert.deepEqual(
            [...routes].sort((a, b) => (a.dst < b.dst ? -1 : a.dst > b.dst ? 1 : 0)),
            routes,
          );
        },
      ),
    );
  });
});
