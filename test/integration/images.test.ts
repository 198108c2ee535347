// The images a Node runs, built here without Docker (scripts/build-images.sh, through findImages):
// mcgw's image from the repository's Dockerfile on a local Debian base, and the sandbox image from
// pause.c of the pinned Kubernetes module. Both archives are imported into a real (throwaway)
// containerd and run there with runc: the mcgw image prints the same help as the work tree's CLI,
// the pause image runs as PID 1 and stops on SIGTERM. Nothing of the containerd is left afterwards.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { repoRoot } from '../../src/lab/binaries.ts';
import { type BuiltImages, ImageError, findImages, importImage, importImages } from '../../src/lab/images.ts';
import { readOciArchive } from '../../src/lab/ociarchive.ts';
import { ScratchContainerd } from './scratch-containerd.ts';
import { waitFor } from './util.ts';

const root = process.getuid?.() === 0;

function sh(script: string, args: string[] = []): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolvePromise) => {
    execFile('sh', ['-c', script, 'sh', ...args], { maxBuffer: 256 * 1024 * 1024 }, (err, out, errOut) =>
      resolvePromise({ code: err ? Number(err.code ?? 1) : 0, out, err: errOut }),
    );
  });
}

/** Every path in the image's layers (without a leading ./ or /), the whiteouts left out. */
async function layerPaths(archive: string): Promise<Set<string>> {
  const image = await readOciArchive(archive);
  const paths = new Set<string>();
  for (const layer of image.layers) {
    const blob = `blobs/${layer.digest.replace(':', '/')}`;
    const gz = layer.mediaType.endsWith('+gzip') ? 'z' : '';
    const r = await sh(`tar -xOf "$1" "$2" | tar -t${gz}f -`, [archive, blob]);
    assert.equal(r.code, 0, `listing layer ${layer.digest}: ${r.err}`);
    for (const line of r.out.split('\n')) {
      const p = line.replace(/^\.?\//, '').replace(/\/$/, '');
      if (p && !p.split('/').pop()!.startsWith('.wh.')) paths.add(p);
    }
  }
  return paths;
}

describe('images built without Docker', { skip: !root && 'needs root (buildah, containerd)' }, () => {
  let images: BuiltImages;
  let ctrd: ScratchContainerd | undefined;

  before(async () => {
    images = await findImages();
    ctrd = await ScratchContainerd.start();
  });

  after(async () => {
    await ctrd?.stop();
  });

  test('images.json describes the archives it names', () => {
    const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string })
      .version;
    assert.equal(images.mcgw.ref, `localhost/mcgw/mcgw:${version}`);
    for (const image of [images.mcgw, images.pause]) {
      assert.ok(existsSync(image.archive), `${image.archive} exists`);
      assert.equal(image.archiveBytes, statSync(image.archive).size, `${image.name}: archiveBytes`);
      // Layers are gzip-compressed in the archive; unpacked they take more.
      assert.ok(
        image.imageBytes > image.archiveBytes,
        `${image.name}: ${image.imageBytes} > ${image.archiveBytes}`,
      );
    }
    assert.match(images.base.nodejs, /^(\d+:)?(\d+)\./);
    assert.ok(
      Number(/^(?:\d+:)?(\d+)\./.exec(images.base.nodejs)![1]) >= 20,
      `nodejs ${images.base.nodejs} >= 20`,
    );
  });

  test("the mcgw image: the Dockerfile's entry point, user and environment, and only the build output", async () => {
    const image = await readOciArchive(images.mcgw.archive);
    assert.equal(image.ref, images.mcgw.ref, 'the archive names the image by its full reference');
    assert.equal(image.configDigest, images.mcgw.id);
    assert.deepEqual(image.config.entrypoint, ['node', 'bin/mcgw.js']);
    assert.deepEqual(image.config.cmd, ['--help']);
    assert.equal(image.config.user, '1000:1000');
    assert.equal(image.config.workingDir, '/app');
    assert.ok(image.config.env.includes('MCGW_RUNTIME=dist'), image.config.env.join(' '));
    assert.ok(image.config.env.includes('NODE_ENV=production'), image.config.env.join(' '));
    // The build stages' npm and this machine's CAs stay in the build base.
    assert.ok(
      !image.config.env.some((e) => e.startsWith('NODE_EXTRA_CA_CERTS=')),
      image.config.env.join(' '),
    );
    assert.equal(
      `${image.config.os}/${image.config.architecture}`,
      `linux/${process.arch === 'x64' ? 'amd64' : process.arch}`,
    );

    const paths = await layerPaths(images.mcgw.archive);
    for (const want of [
      'app/bin/mcgw.js',
      'app/dist/cli/main.js',
      'app/package.json',
      'app/node_modules/yaml',
      'usr/sbin/nft',
    ])
      assert.ok(paths.has(want), `the image has ${want}`);
    assert.ok(paths.has('usr/bin/ip') || paths.has('usr/sbin/ip') || paths.has('bin/ip'), 'the image has ip');
    for (const absent of [
      'app/src',
      'app/test',
      'app/node_modules/tsx',
      'app/node_modules/typescript',
      'app/.git',
      'usr/bin/npm',
      'usr/local/share/mcgw',
    ])
      assert.ok(!paths.has(absent), `the image has no ${absent}`);
    assert.ok(
      ![...paths].some((p) => p.startsWith('usr/share/man/') || p === 'var/cache/apt/pkgcache.bin'),
      'no manuals or apt caches',
    );
  });

  test("the mcgw image runs in containerd and prints the help of the work tree's CLI", async () => {
    assert.ok(ctrd);
    await importImages([images.mcgw], { node: 'scratch', address: ctrd.address });
    const listed = await ctrd.ctr(['images', 'ls', '-q']);
    assert.deepEqual(
      listed.stdout.split('\n').filter(Boolean),
      [images.mcgw.ref],
      'only the reference, no stray names',
    );

    const run = await ctrd.run(images.mcgw.ref, 'mcgw-help');
    assert.equal(run.code, 0, `ctr run: ${run.stderr}`);
    const local = await sh('cd "$1" && node bin/mcgw.js --help', [repoRoot]);
    assert.equal(local.code, 0, local.err);
    assert.equal(run.stdout, local.out, 'the image prints what the work tree prints');
    for (const cmd of ['agent', 'controller', 'leader', 'clusterset', 'crds'])
      assert.match(run.stdout, new RegExp(`^  ${cmd} `, 'm'), `--help names ${cmd}`);

    const agent = await ctrd.run(images.mcgw.ref, 'mcgw-agent-help', [
      'node',
      'bin/mcgw.js',
      'agent',
      '--help',
    ]);
    assert.equal(agent.code, 0, `agent --help: ${agent.stderr}`);
    assert.match(agent.stdout, /--node\b/);
  });

  test('the pause image: built from the pinned module, /pause as 65535, PID 1 until SIGTERM', async () => {
    assert.ok(ctrd);
    // The tag is the one kubeadm of the same release names for its sandbox image.
    const gomod = await sh('PATH="$PATH:/usr/local/go/bin" go env GOMODCACHE');
    assert.equal(gomod.code, 0, gomod.err);
    const constants = readFileSync(
      join(
        gomod.out.trim(),
        `k8s.io/kubernetes@${images.kubernetes}`,
        'cmd/kubeadm/app/constants/constants.go',
      ),
      'utf8',
    );
    const pauseVersion = /PauseVersion = "([^"]+)"/.exec(constants)?.[1];
    assert.equal(images.pause.ref, `localhost/mcgw/pause:${pauseVersion}`);

    const image = await readOciArchive(images.pause.archive);
    assert.deepEqual(image.config.entrypoint, ['/pause']);
    assert.equal(image.config.user, '65535:65535');
    assert.deepEqual([...(await layerPaths(images.pause.archive))], ['pause']);

    await importImage(images.pause, { node: 'scratch', address: ctrd.address });
    const version = await ctrd.run(images.pause.ref, 'pause-v', ['/pause', '-v']);
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout.trim(), `pause.c v${pauseVersion}-${images.kubernetes}`);

    const running = ctrd.run(images.pause.ref, 'pause-run');
    await waitFor(
      'the pause task to run',
      async () =>
        / RUNNING\s*$/m.test(
          (await ctrd!.ctr(['tasks', 'ls'])).stdout.split('\n').find((l) => l.startsWith('pause-run ')) ?? '',
        ),
      20_000,
      100,
    );
    const kill = await ctrd.ctr(['tasks', 'kill', '-s', 'SIGTERM', 'pause-run']);
    assert.equal(kill.code, 0, kill.stderr);
    const done = await running;
    assert.equal(done.code, 0, `pause exits 0 on SIGTERM: ${done.stderr}`);
    const said = done.stdout + done.stderr;
    assert.match(said, /Shutting down, got signal: Terminated/);
    assert.doesNotMatch(said, /should be the first process/, 'pause is PID 1 of its container');
  });

  test('a failed import names the image and the Node', async () => {
    const target = { node: 'gw-1', address: '/nonexistent/containerd.sock' };
    await assert.rejects(importImage(images.pause, target), (err: unknown) => {
      assert.ok(err instanceof ImageError);
      assert.match(
        err.message,
        /^importing localhost\/mcgw\/pause:\S+ \(.*pause\.tar\) into the containerd of Node gw-1 \(\/nonexistent\/containerd\.sock\) failed: /,
      );
      return true;
    });
  });

  test('stopping the containerd leaves no process, mount, cgroup or file', async () => {
    assert.ok(ctrd);
    const dir = ctrd.dir;
    const left = await ctrd.stop();
    assert.deepEqual(left, []);
    assert.ok(!existsSync(dir), `${dir} removed`);
    assert.ok(!readFileSync('/proc/self/mounts', 'utf8').includes(dir));
  });
});
